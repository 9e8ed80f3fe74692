//! Write permission: only the owner organisation and its maintainers may change an artefact.
//!
//! Trondheim's commit on Bergen's artefact is not committed: it becomes a proposal to Bergen
//! (see tests/proposals.rs) and the edits stay in the checkout. A
//! Trondheim node that skips its own check (test hooks ALLMENNING_TEST_HOOKS=1 and
//! ALLMENNING_TEST_UNCHECKED_COMMITS=1) commits anyway, and KS, Bergen and Oslo refuse the
//! change. Once Bergen grants Trondheim maintainer rights, Trondheim's commits reach everyone.

use allmenning_tests::*;

#[test]
fn trust_refused_change() {
    let ks = Node::start("ks", KS);
    let bergen = Node::start("bergen", BERGEN);
    let mut trondheim = Node::start("trondheim", TRONDHEIM);
    let oslo = Node::start("oslo", OSLO);
    form_network(&ks, &[&bergen, &trondheim, &oslo]);

    let original = "Rutine for varsling\n\n1. Ring vakttelefonen.\n";
    let (id, genesis) = bergen.publish_to(
        &[("rutine.txt", original.as_bytes())],
        "Varslingsrutine",
        &[&ks, &trondheim, &oslo],
    );
    let access = trondheim.access_list(&id);
    assert_eq!(access["owner"], BERGEN.number, "{access}");
    assert_eq!(access["visibility"], "public", "{access}");
    assert_eq!(access["maintainers"], serde_json::json!([]), "{access}");

    // Trondheim is neither owner nor maintainer: nothing is committed, the edits go to the
    // maintainers as a proposal instead, and they stay in the checkout.
    let work = trondheim.checkout(&id, "trondheim");
    let edited = format!("{original}2. Trondheim: send SMS til beredskapsleder.\n");
    std::fs::write(work.join("rutine.txt"), &edited).unwrap();
    let out = trondheim.cli_in(&work, &["commit", "-m", "Trondheims tillegg", "--json"]);
    assert!(out.status.success(), "{}", describe(&out));
    let report = parse_json(&out.stdout).expect("commit --json prints JSON");
    assert!(
        report["change"].is_null(),
        "nothing was committed: {report}"
    );
    assert!(
        report["proposal"].is_string(),
        "it became a proposal: {report}"
    );
    let reason = report["not_permitted"].as_str().unwrap_or_default();
    assert!(
        reason.contains("stay in your checkout") && reason.contains(BERGEN.number),
        "the reason names the owner: {report}"
    );
    assert_eq!(
        std::fs::read_to_string(work.join("rutine.txt")).unwrap(),
        edited,
        "the edit is still in the checkout"
    );
    let status = trondheim.ok_in(&work, &["status"]);
    assert!(
        String::from_utf8_lossy(&status.stdout).contains("rutine.txt"),
        "status still lists the edited file\n{}",
        describe(&status)
    );
    assert_eq!(trondheim.heads(&id).unwrap(), genesis);
    assert_eq!(trondheim.log_entries(&id).len(), 1);

    // The same node, restarted so that it skips its own check, commits anyway...
    trondheim.set_env("ALLMENNING_TEST_HOOKS", "1");
    trondheim.set_env("ALLMENNING_TEST_UNCHECKED_COMMITS", "1");
    trondheim.restart();
    trondheim.wait_connected(&ks);
    // ...connected directly to Bergen and Oslo too, since KS will not relay what it refuses.
    trondheim.connect(&bergen);
    trondheim.connect(&oslo);
    trondheim.wait_connected(&bergen);
    trondheim.wait_connected(&oslo);
    let x = trondheim.commit(&work, "Trondheims tillegg, uten lov");
    assert_eq!(trondheim.heads(&id).unwrap(), vec![x.clone()]);

    // ...and KS, Bergen and Oslo refuse it: a WARN naming Trondheim, and the change nowhere.
    for n in [&ks, &bergen, &oslo] {
        n.wait_refusal(TRONDHEIM.number, secs(30));
        let lines = n.refusals_naming(TRONDHEIM.number);
        assert!(
            lines.iter().any(|l| l.contains(&id)),
            "{}'s refusal names the artefact {id}: {lines:?}",
            n.name()
        );
    }
    // Something valid from Trondheim's peers still flows, so the refusal is not a dead link:
    // Bergen publishes a second artefact and everybody gets it.
    let src2 = bergen.scratch().join("src2");
    write_tree(&src2, &[("notat.txt", b"Et gyldig notat\n")]);
    let id2 = bergen.publish(&src2, "Notat");
    let h2 = bergen.heads(&id2).unwrap();
    for n in [&ks, &trondheim, &oslo] {
        n.wait_complete_with(&id2, &h2, secs(30));
    }
    for n in [&ks, &bergen, &oslo] {
        // (The unsigned origin change of the co-edited text, which any node can recompute from
        // the blob, may have come along: it is valid, and carries none of Trondheim's edits.)
        let heads = n.heads(&id).unwrap();
        assert!(
            !heads.contains(&x) && genesis.iter().all(|g| heads.contains(g)),
            "{} kept the heads from before Trondheim's unauthorised change: {heads:?}",
            n.name()
        );
        assert!(
            !n.has_change(&id, &x),
            "{} has Trondheim's unauthorised change in its log",
            n.name()
        );
        assert_eq!(
            n.export_tree(&id, "after-refusal")["rutine.txt"],
            original.as_bytes(),
            "{} serves the original text",
            n.name()
        );
    }

    // Bergen grants Trondheim maintainer rights; every node learns it.
    let granted = bergen.json(&[
        "access",
        "grant",
        &id,
        TRONDHEIM.number,
        "--role",
        "maintainer",
    ]);
    assert_eq!(
        granted["maintainers"],
        serde_json::json!([TRONDHEIM.number]),
        "{granted}"
    );
    for n in [&ks, &bergen, &trondheim, &oslo] {
        wait_until(
            secs(20),
            &format!("{} sees Trondheim as maintainer", n.name()),
            || n.sees_maintainer(&id, TRONDHEIM.number),
        );
    }

    // Trondheim, with its own check back on, commits again: accepted everywhere.
    trondheim.set_env("ALLMENNING_TEST_UNCHECKED_COMMITS", "0");
    trondheim.restart();
    trondheim.wait_connected(&ks);
    let final_text = format!("{edited}3. Trondheim er nå vedlikeholder.\n");
    std::fs::write(work.join("rutine.txt"), &final_text).unwrap();
    let y = trondheim.commit(&work, "Trondheim som vedlikeholder");
    let heads = wait_same_heads(&[&ks, &bergen, &trondheim, &oslo], &id, secs(30));
    assert_eq!(
        heads,
        vec![y.clone()],
        "everyone has Trondheim's new change as head"
    );
    for n in [&ks, &bergen, &oslo] {
        n.wait_complete_with(&id, &heads, secs(30));
        assert!(n.has_change(&id, &y), "{} has Trondheim's change", n.name());
        assert_eq!(
            n.export_tree(&id, "after-grant")["rutine.txt"],
            final_text.as_bytes(),
            "{} serves Trondheim's text",
            n.name()
        );
    }
}

/// A refused change must not be pulled again and again while the peer that has it stays
/// connected (it once was, about 200 times a second on every node that refused it).
#[test]
fn refused_change_is_not_pulled_in_a_loop() {
    let ks = Node::start("ks", KS);
    let bergen = Node::start("bergen", BERGEN);
    let mut trondheim = Node::init("trondheim", TRONDHEIM);
    trondheim.set_env("ALLMENNING_TEST_HOOKS", "1");
    trondheim.set_env("ALLMENNING_TEST_UNCHECKED_COMMITS", "1");
    trondheim.spawn();
    form_network(&ks, &[&bergen, &trondheim]);
    let src = bergen.scratch().join("src");
    write_tree(&src, &[("a.txt", b"Bergen\n")]);
    let id = bergen.publish(&src, "Bergens fil");
    let genesis = bergen.heads(&id).unwrap();
    trondheim.wait_complete_with(&id, &genesis, secs(30));
    trondheim.connect(&bergen);
    trondheim.wait_connected(&bergen);
    let work = trondheim.checkout(&id, "t");
    std::fs::write(work.join("a.txt"), "Trondheim uten lov\n").unwrap();
    trondheim.commit(&work, "uten lov");
    bergen.wait_refusal(TRONDHEIM.number, secs(30));
    ks.wait_refusal(TRONDHEIM.number, secs(30));
    std::thread::sleep(std::time::Duration::from_secs(3));
    for n in [&ks, &bergen] {
        let count = n.refusals_naming(TRONDHEIM.number).len();
        assert!(
            count <= 20,
            "{} refused the same change {count} times within about 3 s",
            n.name()
        );
    }
}
