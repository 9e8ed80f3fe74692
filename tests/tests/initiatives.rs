//! Initiatives and captains across real nodes: Bergen announces what it builds and leads it;
//! Trondheim, about to announce the same, is stopped and shown Bergen's initiative, joins it
//! instead; every node agrees on captain and participants, and `orgs` says who captains what.

use allmenning_tests::*;
use serde_json::Value;

const TITLE: &str = "Digital søknad om redusert foreldrebetaling";

fn list_of(node: &Node) -> Vec<Value> {
    array_of(
        &serde_json::json!({ "l": node.json(&["initiative", "list"]) }),
        "l",
    )
}

#[test]
fn initiatives() {
    let ks = Node::start("ks", KS);
    let bergen = Node::start("bergen", BERGEN);
    let trondheim = Node::start("trondheim", TRONDHEIM);
    form_network(&ks, &[&bergen, &trondheim]);

    let created = bergen.json(&[
        "initiative",
        "new",
        TITLE,
        "--description",
        "Felles skjema, inntektsoppslag og vedtak for alle kommuner",
    ]);
    let id = created["id"]
        .as_str()
        .expect("initiative new --json has id")
        .to_string();
    assert_eq!(created["captain"], BERGEN.number, "{created}");
    assert_eq!(created["status"], "active", "{created}");

    // Trondheim sees it, and a similar new one is refused without --yes (not a terminal).
    wait_until(secs(20), "trondheim knows bergen's initiative", || {
        list_of(&trondheim).iter().any(|i| i["id"] == id.as_str())
    });
    let dup = trondheim.cli(&[
        "initiative",
        "new",
        "Redusert foreldrebetaling: digital søknaden",
    ]);
    assert_eq!(exit_code(&dup), Some(1), "{}", describe(&dup));
    let text = output_text(&dup);
    assert!(text.contains(&id[..8]) && text.contains("--yes"), "{text}");
    assert_eq!(list_of(&trondheim).len(), 1, "nothing was created");

    // Trondheim joins instead; everyone agrees.
    let joined = trondheim.json(&["initiative", "join", &id[..10]]);
    assert_eq!(
        joined["participants"][0]["org"], TRONDHEIM.number,
        "{joined}"
    );
    for n in [&ks, &bergen, &trondheim] {
        wait_until(
            secs(20),
            &format!("{} sees trondheim taking part", n.name()),
            || {
                n.try_json(&["initiative", "show", &id])
                    .is_some_and(|v| v["participants"].as_array().is_some_and(|p| p.len() == 1))
            },
        );
        let v = n.json(&["initiative", "show", &id]);
        assert_eq!(v["captain_name"], BERGEN.name, "{v}");
        assert_eq!(v["title"], TITLE, "{v}");
    }
    // Joining twice is refused.
    let again = trondheim.cli(&["initiative", "join", &id]);
    assert!(!again.status.success(), "{}", describe(&again));

    // `--yes` creates a genuinely separate one anyway; an unrelated title needs no --yes.
    trondheim.ok(&[
        "initiative",
        "new",
        "Redusert foreldrebetaling for SFO",
        "--yes",
    ]);
    trondheim.ok(&["initiative", "new", "Chatbot for byggesak"]);
    wait_until(secs(20), "ks knows all three", || list_of(&ks).len() == 3);

    // Who captains what.
    let orgs = ks.json(&["orgs"]);
    let org = |n: &str| -> Value {
        orgs.as_array()
            .unwrap()
            .iter()
            .find(|o| o["org"] == n)
            .cloned()
            .unwrap_or_else(|| panic!("{n} in {orgs}"))
    };
    assert_eq!(
        org(BERGEN.number)["captains"].as_array().map(Vec::len),
        Some(1),
        "{orgs}"
    );
    assert_eq!(
        org(TRONDHEIM.number)["captains"].as_array().map(Vec::len),
        Some(2),
        "{orgs}"
    );
    assert_eq!(
        org(TRONDHEIM.number)["participates"][0]["id"],
        id.as_str(),
        "{orgs}"
    );
    // The captain marks it done and links an artefact; a participant cannot change it.
    let src = bergen.scratch().join("skjema");
    write_tree(&src, &[("skjema.json", b"{\"felt\": [\"inntekt\"]}")]);
    let artefact = bergen.publish(&src, "Skjema for redusert foreldrebetaling");
    let denied = trondheim.cli(&["initiative", "update", &id, "--status", "stopped"]);
    assert!(!denied.status.success(), "{}", describe(&denied));
    let updated = bergen.json(&[
        "initiative",
        "update",
        &id,
        "--status",
        "done",
        "--artefact",
        &artefact,
    ]);
    assert_eq!(updated["status"], "done", "{updated}");
    wait_until(secs(20), "ks sees the update", || {
        ks.try_json(&["initiative", "show", &id]).is_some_and(|v| {
            v["status"] == "done"
                && v["artefacts"][0]["id"] == artefact.as_str()
                && v["participants"].as_array().is_some_and(|p| p.len() == 1)
        })
    });

    // Unknown ids are "not found".
    let missing = ks.cli(&["initiative", "show", "ffffffff"]);
    assert_eq!(exit_code(&missing), Some(4), "{}", describe(&missing));
}
