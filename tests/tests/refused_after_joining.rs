//! Nothing silently lost: a node that refuses changes says so.
//!
//! Bergen and Trondheim co-edit an artefact before they are in a network (every signed change
//! is accepted then). When they join KS's network, `network join` warns that the artefact holds
//! changes by an organisation that is not its maintainer. KS, which receives the artefact only
//! now, refuses Trondheim's change: its `show` names Trondheim, the reason and the command that
//! admits it, `list --json` counts it, and the count survives a restart. Once Bergen grants
//! Trondheim access, KS takes the change on the next sync and the record is empty again.

use allmenning_tests::*;

#[test]
fn refused_after_joining() {
    let ks = Node::start("ks", KS);
    let bergen = Node::start("bergen", BERGEN);
    let trondheim = Node::start("trondheim", TRONDHEIM);
    trondheim.connect(&bergen);
    trondheim.wait_connected(&bergen);

    // Co-editing outside a network: Trondheim's change is accepted by Bergen.
    let original = "Rutine for varsling\n\n1. Ring vakttelefonen.\n";
    let (id, _genesis) = bergen.publish_to(
        &[("rutine.txt", original.as_bytes())],
        "Varslingsrutine",
        &[&trondheim],
    );
    let work = trondheim.checkout(&id, "trondheim");
    let edited = format!("{original}2. Trondheim: send SMS til beredskapsleder.\n");
    std::fs::write(work.join("rutine.txt"), &edited).unwrap();
    let t1 = trondheim.commit(&work, "Trondheims tillegg");
    wait_change(&bergen, &id, &t1, secs(30));

    // Both join KS's network; Bergen's join names the co-edited artefact.
    let file = ks.create_network("kommunenett");
    let joined = bergen.join_network(&file);
    let co_edited = array_of(&joined, "co_edited");
    let entry = co_edited
        .iter()
        .find(|a| a["id"] == id.as_str())
        .unwrap_or_else(|| panic!("network join names the co-edited artefact: {joined}"));
    assert_eq!(entry["changes"], 1, "{entry}");
    assert_eq!(entry["owner"], BERGEN.number, "{entry}");
    assert!(
        entry["hint"]
            .as_str()
            .unwrap_or_default()
            .contains("access grant"),
        "{entry}"
    );
    trondheim.join_network(&file);
    bergen.wait_connected(&ks);
    trondheim.wait_connected(&ks);
    admit(&ks, &bergen);
    admit(&ks, &trondheim);
    wait_orgs_admitted(
        &[&ks, &bergen, &trondheim],
        &[KS.number, BERGEN.number, TRONDHEIM.number],
        secs(30),
    );

    // KS gets the artefact now and refuses Trondheim's change (first perhaps as "organisation
    // not admitted", if it pulled before the admissions arrived; after them, as not a
    // maintainer), and says so.
    let refused = wait_for(secs(30), "KS records Trondheim's refused change", || {
        let v = ks.try_json(&["show", &id])?;
        let refused = v["refused"].as_array()?.clone();
        refused
            .iter()
            .any(|r| r["reason"] == "not_maintainer")
            .then_some((v, refused))
    });
    let (detail, refused) = refused;
    assert!(
        !ks.has_change(&id, &t1),
        "KS does not hold Trondheim's change"
    );
    assert_eq!(refused.len(), 1, "{detail}");
    let r = &refused[0];
    assert_eq!(r["org"], TRONDHEIM.number, "{r}");
    assert_eq!(r["org_name"], TRONDHEIM.name, "{r}");
    assert_eq!(r["reason"], "not_maintainer", "{r}");
    assert_eq!(r["count"], 1, "{r}");
    let hint = r["hint"].as_str().unwrap_or_default();
    assert!(
        hint.contains(&format!("allmenning access grant {}", &id[..12]))
            && hint.contains(TRONDHEIM.number),
        "{r}"
    );
    let text = output_text(&ks.ok(&["show", &id]));
    assert!(
        text.contains(&format!(
            "1 change by {} ({}) refused: not a maintainer",
            TRONDHEIM.name, TRONDHEIM.number
        )),
        "{text}"
    );
    let row = ks.row(&id).expect("KS lists the artefact");
    assert_eq!(row["refused"], 1, "{row}");
    let listed = output_text(&ks.ok(&["list"]));
    assert!(listed.contains("1 refused"), "{listed}");

    // The record survives a restart.
    let mut ks = ks;
    ks.restart();
    assert_eq!(ks.row(&id).expect("listed after restart")["refused"], 1);

    // Bergen grants Trondheim access: KS takes the change on the next sync.
    bergen.ok(&["access", "grant", &id, TRONDHEIM.number]);
    bergen.wait_connected(&ks);
    wait_change(&ks, &id, &t1, secs(30));
    wait_until(secs(20), "KS's refused record is empty", || {
        ks.row(&id).is_some_and(|r| r["refused"] == 0)
    });
    assert_eq!(ks.show(&id)["refused"], serde_json::json!([]));
}
