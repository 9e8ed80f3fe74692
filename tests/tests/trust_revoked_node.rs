//! Node certificates: a further node of an organisation (set up with `init --no-org-key`) writes
//! for its organisation once the org-key holder certifies it with `org add-node`; after
//! `org revoke-node` (a lost laptop) its new changes are refused, by itself and by everyone else.

use allmenning_tests::*;

#[test]
fn trust_revoked_node() {
    let ks = Node::start("ks", KS);
    let bergen = Node::start("bergen", BERGEN);
    let trondheim = Node::start("trondheim", TRONDHEIM);
    let mut laptop = Node::init_with("bergen-laptop", BERGEN, InitOptions { no_org_key: true });
    assert!(laptop.org_key_fingerprint().is_none());
    laptop.spawn();
    let file = form_network(&ks, &[&bergen, &trondheim]);
    laptop.join_network(&file);
    laptop.wait_connected(&ks);
    let laptop_key = laptop.node_key();
    let short = &laptop_key[..16];

    // Not certified yet: the laptop is not admitted and cannot publish.
    let status = laptop.status();
    assert_eq!(status["has_org_key"], false, "{status}");
    assert_eq!(status["admitted"], false, "{status}");
    let src = bergen.scratch().join("src");
    write_tree(&src, &[("driftsplan.md", b"Driftsplan\n\nVersjon 1.\n")]);
    let early = laptop.cli(&[
        "publish",
        src.to_str().unwrap(),
        "--kind",
        KIND,
        "--title",
        "Fra laptopen",
    ]);
    assert!(
        !early.status.success() && output_text(&early).contains("not certified"),
        "an uncertified node cannot publish\n{}",
        describe(&early)
    );

    // Bergen's org-key holder certifies the laptop with the laptop's proof of possession (what
    // `org node-proof` prints there); without it the certificate is refused, saying how to get
    // one. Every node learns the certificate.
    let refused = bergen.cli(&["org", "add-node", &laptop_key]);
    assert!(
        !refused.status.success() && output_text(&refused).contains("org node-proof"),
        "add-node without a proof says how to get one\n{}",
        describe(&refused)
    );
    let proof = laptop.json(&["org", "node-proof"]);
    assert_eq!(proof["node_key"], laptop_key.as_str(), "{proof}");
    let proof = proof["proof"]
        .as_str()
        .expect("node-proof --json has a proof");
    let cert = bergen.json(&[
        "org",
        "add-node",
        &laptop_key,
        "--proof",
        proof,
        "--label",
        "laptop, drift",
    ]);
    assert_eq!(cert["kind"], "node-cert", "{cert}");
    for n in [&ks, &bergen, &trondheim, &laptop] {
        wait_until(
            secs(20),
            &format!("{} sees the laptop certified for Bergen", n.name()),
            || n.sees_node(BERGEN.number, &laptop_key, false),
        );
    }
    let listed = ks.org_detail(BERGEN.number).unwrap();
    assert!(
        listed["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n["key"] == laptop_key.as_str() && n["label"] == "laptop, drift"),
        "org show lists the laptop with its label: {listed}"
    );
    wait_until(secs(20), "the laptop reports itself admitted", || {
        laptop.status()["admitted"] == true
    });

    // Certified: the laptop's commit on Bergen's artefact reaches everyone.
    let id = bergen.publish(&src, "Driftsplan");
    let genesis = bergen.heads(&id).unwrap();
    laptop.wait_complete_with(&id, &genesis, secs(30));
    let work = laptop.checkout(&id, "laptop");
    let v2 = "Driftsplan\n\nVersjon 2, fra laptopen.\n";
    std::fs::write(work.join("driftsplan.md"), v2).unwrap();
    let c1 = laptop.commit(&work, "Versjon 2");
    let heads = wait_same_heads(&[&ks, &bergen, &trondheim, &laptop], &id, secs(30));
    assert_eq!(heads, vec![c1.clone()]);
    let entry = trondheim
        .log_entries(&id)
        .into_iter()
        .find(|e| e["hash"] == c1.as_str())
        .expect("Trondheim has the laptop's change in its log");
    assert_eq!(entry["author"], laptop_key.as_str(), "signed by the laptop");

    // The laptop is lost: Bergen revokes it, and every node learns it.
    let revoked = bergen.json(&["org", "revoke-node", &laptop_key]);
    assert_eq!(revoked["kind"], "node-revoke", "{revoked}");
    for n in [&ks, &bergen, &trondheim, &laptop] {
        wait_until(
            secs(20),
            &format!("{} sees the laptop revoked", n.name()),
            || n.sees_node(BERGEN.number, &laptop_key, true),
        );
    }

    // Its own check now refuses a commit, and the edit stays in the checkout.
    let v3 = "Driftsplan\n\nVersjon 3, fra en stjålet laptop.\n";
    std::fs::write(work.join("driftsplan.md"), v3).unwrap();
    let refused = laptop.cli_in(&work, &["commit", "-m", "Versjon 3"]);
    assert!(
        !refused.status.success(),
        "a revoked node's commit must fail\n{}",
        describe(&refused)
    );
    assert!(
        output_text(&refused).contains("revoked")
            && output_text(&refused).contains("stay in your checkout"),
        "the error says the node was revoked and the edits stay in the checkout\n{}",
        describe(&refused)
    );
    assert_eq!(
        std::fs::read_to_string(work.join("driftsplan.md")).unwrap(),
        v3
    );
    assert_eq!(laptop.heads(&id).unwrap(), vec![c1.clone()]);

    // With its check switched off (test hook) it commits anyway; the others refuse the change.
    laptop.set_env("ALLMENNING_TEST_HOOKS", "1");
    laptop.set_env("ALLMENNING_TEST_UNCHECKED_COMMITS", "1");
    laptop.restart();
    laptop.connect(&ks);
    laptop.connect(&bergen);
    laptop.connect(&trondheim);
    let x = laptop.commit(&work, "Versjon 3");
    assert_eq!(laptop.heads(&id).unwrap(), vec![x.clone()]);
    for n in [&ks, &bergen, &trondheim] {
        n.wait_refusal(short, secs(30));
    }
    // Bergen's own node still writes, and that reaches everyone (the links are alive).
    let bw = bergen.checkout(&id, "bergen");
    let v4 = "Driftsplan\n\nVersjon 4, fra Bergen.\n";
    std::fs::write(bw.join("driftsplan.md"), v4).unwrap();
    let c2 = bergen.commit(&bw, "Versjon 4");
    for n in [&ks, &trondheim] {
        wait_until(
            secs(30),
            &format!("{} has Bergen's new change", n.name()),
            || n.has_change(&id, &c2),
        );
    }
    for n in [&ks, &bergen, &trondheim] {
        let heads = n.heads(&id).unwrap();
        assert!(
            !heads.contains(&x) && !n.has_change(&id, &x),
            "{} took the revoked laptop's change: heads {heads:?}",
            n.name()
        );
        n.wait_complete_with(&id, std::slice::from_ref(&c2), secs(30));
        assert_eq!(
            n.export_tree(&id, "after-revoke")["driftsplan.md"],
            v4.as_bytes(),
            "{} serves Bergen's version 4",
            n.name()
        );
    }
}
