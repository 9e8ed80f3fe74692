//! Contribution: a non-maintainer's work reaches the maintainers as a proposal; they review the
//! diff and accept it (the change joins everywhere with its original author) or decline it.
//! A proposal that adds a file and replaces a binary carries their contents: the maintainer
//! reviews and accepts it, and every node ends up with them.

use allmenning_tests::*;
use serde_json::Value;

fn proposals_of(node: &Node, id: &str) -> Vec<Value> {
    array_of(
        &serde_json::json!({ "p": node.json(&["proposals", id]) }),
        "p",
    )
}

#[test]
fn proposals() {
    let ks = Node::start("ks", KS);
    let bergen = Node::start("bergen", BERGEN);
    let trondheim = Node::start("trondheim", TRONDHEIM);
    let oslo = Node::start("oslo", OSLO);
    form_network(&ks, &[&bergen, &trondheim, &oslo]);

    let original = "Rutine for varsling\n\n1. Ring vakttelefonen.\n";
    let logo: Vec<u8> = (0..2048u32).map(|i| (i % 251) as u8).collect();
    let (id, genesis) = bergen.publish_to(
        &[("rutine.txt", original.as_bytes()), ("logo.bin", &logo)],
        "Varslingsrutine",
        &[&ks, &trondheim, &oslo],
    );

    // Trondheim commits although it may not write: a proposal.
    let work = trondheim.checkout(&id, "trondheim");
    let line = "2. Trondheim: send SMS til beredskapsleder.";
    std::fs::write(work.join("rutine.txt"), format!("{original}{line}\n")).unwrap();
    let out = trondheim.ok_in(&work, &["commit", "-m", "SMS-varsling"]);
    assert!(output_text(&out).contains("proposal"), "{}", describe(&out));

    // Bergen sees it, with the diff it would make; nothing changed yet.
    wait_until(secs(20), "bergen sees trondheim's proposal", || {
        bergen
            .try_json(&["proposals", &id])
            .is_some_and(|v| v.as_array().is_some_and(|a| a.len() == 1))
    });
    let listed = proposals_of(&bergen, &id);
    let proposal = listed[0]["id"].as_str().unwrap().to_string();
    assert_eq!(listed[0]["status"], "open", "{listed:?}");
    assert_eq!(listed[0]["proposer_org"], TRONDHEIM.number, "{listed:?}");
    assert_eq!(listed[0]["message"], "SMS-varsling", "{listed:?}");
    let review = bergen.ok(&["review", &proposal[..10]]);
    let diff = String::from_utf8_lossy(&review.stdout).to_string();
    assert!(diff.contains(&format!("+{line}")), "{diff}");
    assert_eq!(bergen.heads(&id).unwrap(), genesis);

    // Oslo may not decide; Bergen accepts.
    let denied = oslo.cli(&["accept", &proposal]);
    assert!(!denied.status.success(), "{}", describe(&denied));
    let accepted = bergen.json(&["accept", &proposal]);
    assert_eq!(accepted["proposal"]["status"], "accepted", "{accepted}");

    // The change is everywhere, Trondheim's, and Trondheim's checkout pulls it in cleanly.
    for n in [&ks, &bergen, &trondheim, &oslo] {
        wait_until(
            secs(30),
            &format!("{} has the accepted change", n.name()),
            || {
                n.try_json(&["log", &id]).is_some_and(|v| {
                    array_of(&v, "entries").iter().any(|e| {
                        e["message"] == "SMS-varsling" && e["author_org"] == TRONDHEIM.number
                    })
                })
            },
        );
        let tree = n.export_tree(&id, "after-accept");
        assert_eq!(
            String::from_utf8_lossy(&tree["rutine.txt"]),
            format!("{original}{line}\n"),
            "{}",
            n.name()
        );
    }
    trondheim.ok_in(&work, &["pull"]);
    let status = trondheim.ok_in(&work, &["status", "--json"]);
    let status = parse_json(&status.stdout).unwrap();
    assert!(
        array_of(&status, "modified").is_empty(),
        "after the pull the checkout has nothing of its own left: {status}"
    );

    // Oslo proposes explicitly; Bergen declines; nothing changes.
    let owork = oslo.checkout(&id, "oslo");
    std::fs::write(owork.join("rutine.txt"), "Slett alt\n").unwrap();
    let proposed = oslo.json_in(&owork, &["propose", &id[..8], "-m", "Forenkle"]);
    let other = proposed["proposal"]
        .as_str()
        .expect("propose --json has proposal")
        .to_string();
    wait_until(secs(20), "bergen sees oslo's proposal", || {
        bergen
            .try_json(&["proposals", &id])
            .is_some_and(|v| v.as_array().is_some_and(|a| a.len() == 2))
    });
    let declined = bergen.json(&["decline", &other]);
    assert_eq!(declined["proposal"]["status"], "declined", "{declined}");
    let heads = bergen.heads(&id).unwrap();
    wait_until(secs(20), "ks sees the decline", || {
        proposals_of(&ks, &id)
            .iter()
            .any(|p| p["id"] == other.as_str() && p["status"] == "declined")
    });
    assert_eq!(ks.heads(&id).unwrap(), heads);
    assert!(String::from_utf8_lossy(&ks.export_tree(&id, "ks")["rutine.txt"]).contains(line));
    let missing = bergen.cli(&["review", "ffffffffffff"]);
    assert_eq!(exit_code(&missing), Some(4), "{}", describe(&missing));

    // Trondheim adds a file and replaces the binary: the proposal carries both contents, which
    // no node could serve before the acceptance.
    let note = "Notat fra Trondheim: vakttelefonen er 55 55 55 55.\n";
    let new_logo: Vec<u8> = (0..3000u32).map(|i| (i * 7 % 253) as u8).collect();
    std::fs::write(work.join("notat.txt"), note).unwrap();
    std::fs::write(work.join("logo.bin"), &new_logo).unwrap();
    let out = trondheim.ok_in(&work, &["commit", "-m", "Notat og ny logo"]);
    assert!(output_text(&out).contains("proposal"), "{}", describe(&out));
    let third = wait_for(secs(20), "bergen sees the third proposal", || {
        proposals_of(&bergen, &id)
            .into_iter()
            .find(|p| p["message"] == "Notat og ny logo")
            .and_then(|p| p["id"].as_str().map(String::from))
    });
    let review = bergen.ok(&["review", &third]);
    let diff = output_text(&review);
    assert!(diff.contains(&format!("+{}", note.trim_end())), "{diff}");
    assert!(diff.contains("binary file logo.bin differs"), "{diff}");
    let accepted = bergen.json(&["accept", &third]);
    assert_eq!(accepted["proposal"]["status"], "accepted", "{accepted}");
    let heads = bergen.heads(&id).unwrap();
    for n in [&ks, &bergen, &trondheim, &oslo] {
        n.wait_complete_with(&id, &heads, secs(30));
        let tree = n.export_tree(&id, "after-files");
        assert_eq!(
            tree.get("notat.txt").map(Vec::as_slice),
            Some(note.as_bytes()),
            "{}",
            n.name()
        );
        assert_eq!(tree.get("logo.bin"), Some(&new_logo), "{}", n.name());
    }
}
