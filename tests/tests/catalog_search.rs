//! The catalogue and search across real nodes: what one municipality publishes is found on
//! another by an inflected word, filters combine, curation shows, `orgs` says who does what, and
//! the index follows edits.

use allmenning_tests::*;
use serde_json::Value;

fn publish(node: &Node, dir: &str, kind: &str, title: &str, tags: &[&str], body: &str) -> String {
    let src = node.scratch().join(dir);
    write_tree(&src, &[("README.md", body.as_bytes())]);
    let mut args = vec![
        "publish",
        src.to_str().unwrap(),
        "--kind",
        kind,
        "--title",
        title,
    ];
    for t in tags {
        args.extend(["--tag", t]);
    }
    let v = node.json(&args);
    v["id"].as_str().expect("publish --json has id").to_string()
}

fn ids(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap_or_else(|| panic!("expected a JSON array: {v}"))
        .iter()
        .filter_map(|e| e["id"].as_str().map(String::from))
        .collect()
}

#[test]
fn catalog_search() {
    let ks = Node::start("ks", KS);
    let bergen = Node::start("bergen", BERGEN);
    let trondheim = Node::start("trondheim", TRONDHEIM);
    form_network(&ks, &[&bergen, &trondheim]);
    trondheim.connect(&bergen);

    let integration = publish(
        &bergen,
        "fb",
        "integration",
        "Foreldrebetaling i barnehage",
        &["barnehage", "økonomi"],
        "# Foreldrebetaling\n\nBeregner redusert foreldrebetaling fra skattegrunnlaget.\n",
    );
    let dpia = publish(
        &bergen,
        "dpia",
        "dpia",
        "DPIA for sak- og arkivsystem",
        &["arkiv"],
        "# DPIA\n\nPersonopplysninger i sak og arkiv.\n",
    );
    let ros = publish(
        &trondheim,
        "ros",
        "ros",
        "ROS-analyse for barnehageopptak",
        &["barnehage"],
        "# ROS\n\nRisiko ved digitalt barnehageopptak. Nevner ikke betaling.\n",
    );
    for (id, owner) in [
        (&integration, &bergen),
        (&dpia, &bergen),
        (&ros, &trondheim),
    ] {
        let heads = owner.heads(id).unwrap();
        for n in [&ks, &bergen, &trondheim] {
            n.wait_complete_with(id, &heads, secs(30));
        }
    }
    ks.ok(&["curate", "endorse", &integration, "--status", "approved"]);

    // Search on Trondheim finds Bergen's artefact by an inflected form, title match first.
    wait_until(
        secs(20),
        "trondheim finds the integration by 'foreldrebetalingen'",
        || {
            trondheim
                .try_json(&["search", "foreldrebetalingen"])
                .is_some_and(|v| ids(&v).first() == Some(&integration))
        },
    );
    let hits = trondheim.json(&["search", "barnehage"]);
    let found = ids(&hits);
    assert!(
        found.contains(&integration) && found.contains(&ros) && !found.contains(&dpia),
        "barnehage: {hits}"
    );
    let first = &hits[0];
    assert!(first["score"].as_f64().is_some(), "{first}");
    assert!(first["owner_name"].is_string(), "{first}");

    // Nothing found: exit code 4, JSON still an array.
    let none = trondheim.cli(&["search", "kvantefysikk", "--json"]);
    assert_eq!(exit_code(&none), Some(4), "{}", describe(&none));
    assert_eq!(parse_json(&none.stdout), Some(serde_json::json!([])));

    // Filters combine.
    wait_until(
        secs(20),
        "trondheim sees the approval in the catalogue",
        || {
            trondheim
                .try_json(&["catalog", "--status", "approved"])
                .is_some_and(|v| ids(&v) == vec![integration.clone()])
        },
    );
    let v = trondheim.json(&["catalog", "--kind", "integration", "--status", "approved"]);
    assert_eq!(ids(&v), vec![integration.clone()], "{v}");
    let v = trondheim.json(&["catalog", "--tag", "barnehage"]);
    let mut tagged = ids(&v);
    tagged.sort();
    let mut expected = vec![integration.clone(), ros.clone()];
    expected.sort();
    assert_eq!(tagged, expected, "{v}");
    let v = trondheim.json(&["catalog", "--org", TRONDHEIM.number]);
    assert_eq!(ids(&v), vec![ros.clone()], "{v}");
    let v = trondheim.json(&["catalog", "--org", BERGEN.number, "--kind", "dpia"]);
    assert_eq!(ids(&v), vec![dpia.clone()], "{v}");
    let all = trondheim.json(&["catalog"]);
    assert_eq!(ids(&all).len(), 3, "{all}");
    let entry = all
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["id"] == integration.as_str())
        .unwrap();
    assert_eq!(entry["owner"], BERGEN.number, "{entry}");
    assert_eq!(entry["endorsements"][0]["curator"], KS.number, "{entry}");
    assert_eq!(entry["endorsements"][0]["current"], true, "{entry}");
    let bad = trondheim.cli(&["catalog", "--status", "maybe"]);
    assert!(!bad.status.success(), "{}", describe(&bad));

    // Who does what.
    let orgs = trondheim.json(&["orgs"]);
    let org = |number: &str| -> Value {
        orgs.as_array()
            .unwrap()
            .iter()
            .find(|o| o["org"] == number)
            .cloned()
            .unwrap_or_else(|| panic!("orgs lists {number}: {orgs}"))
    };
    let mut shared = ids(&org(BERGEN.number)["shares"]);
    shared.sort();
    let mut bergens = vec![integration.clone(), dpia.clone()];
    bergens.sort();
    assert_eq!(shared, bergens, "{orgs}");
    assert_eq!(
        ids(&org(TRONDHEIM.number)["shares"]),
        vec![ros.clone()],
        "{orgs}"
    );
    assert_eq!(
        ids(&org(KS.number)["endorses"]),
        vec![integration.clone()],
        "{orgs}"
    );
    // `org show` says the same for one organisation.
    let one = trondheim.json(&["org", "show", BERGEN.number]);
    let mut shared = ids(&one["shares"]);
    shared.sort();
    assert_eq!(shared, bergens, "{one}");
    assert_eq!(one["number"], BERGEN.number, "{one}");

    // The index follows edits made elsewhere.
    let w = bergen.checkout(&integration, "bergen");
    std::fs::write(
        w.join("README.md"),
        "# Foreldrebetaling\n\nBeregner redusert foreldrebetaling. Sender kvitteringsbrev.\n",
    )
    .unwrap();
    bergen.commit(&w, "Kvitteringsbrev");
    wait_until(secs(30), "trondheim finds the new word", || {
        trondheim
            .try_json(&["search", "kvitteringsbrev"])
            .is_some_and(|v| ids(&v) == vec![integration.clone()])
    });
}
