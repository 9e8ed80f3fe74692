//! A change whose signature does not verify is refused by the nodes it is served to.
//!
//! Uses the hidden test hook `allmenning debug corrupt-change ID HASH`, which works only on a node
//! started with ALLMENNING_TEST_HOOKS=1: it flips a byte of the stored signature of one change, so
//! that the node serves a tampered change to its peers from then on.

use allmenning_tests::*;

#[test]
fn tampered_change_refused() {
    let mut a = Node::init("a", BERGEN);
    a.set_env("ALLMENNING_TEST_HOOKS", "1");
    a.spawn();
    let mut b = Node::start_with("b", TRONDHEIM, &[a.addr()]);
    let mut c = Node::start_with("c", OSLO, &[a.addr()]);
    b.wait_connected(&a);
    c.wait_connected(&a);

    let src = a.scratch().join("src");
    write_tree(
        &src,
        &[("vedtak.txt", b"Vedtak\n\nKommunen vedtar planen.\n")],
    );
    let id = a.publish(&src, "Vedtak om plan");
    let genesis = a.heads(&id).unwrap();
    b.wait_complete_with(&id, &genesis, secs(30));
    c.wait_complete_with(&id, &genesis, secs(30));

    // The hook is refused on a node without ALLMENNING_TEST_HOOKS=1.
    let out = b.cli(&["debug", "corrupt-change", &id, &genesis[0]]);
    assert!(
        !out.status.success(),
        "test hooks must be off by default\n{}",
        describe(&out)
    );

    // While B and C are offline, A makes a change X and then tampers with X's signature.
    b.stop();
    c.stop();
    let w = a.checkout(&id, "a");
    std::fs::write(
        w.join("vedtak.txt"),
        "Vedtak\n\nKommunen vedtar IKKE planen.\n",
    )
    .unwrap();
    let committed = parse_json(
        &a.ok_in(&w, &["commit", "-m", "Forfalsket vedtak", "--json"])
            .stdout,
    )
    .expect("commit --json");
    let x = committed["change"]
        .as_str()
        .expect("commit --json names the new change")
        .to_string();
    a.ok(&["debug", "corrupt-change", &id, &x]);
    // Something valid to sync alongside, so that we know B and C did talk to A.
    let src2 = a.scratch().join("src2");
    write_tree(&src2, &[("merknad.txt", b"Gyldig artefakt\n")]);
    let id2 = a.publish(&src2, "Gyldig merknad");
    let h2 = a.heads(&id2).unwrap();

    b.spawn();
    c.spawn();
    for n in [&b, &c] {
        n.wait_complete_with(&id2, &h2, secs(30));
        wait_until(
            secs(30),
            &format!("{} logs that it refused data from A", n.name()),
            || {
                n.log_text()
                    .lines()
                    .any(|l| l.contains("WARN") && l.to_lowercase().contains("refused"))
            },
        );
    }

    // Neither took the tampered change: their heads and history are as before.
    for n in [&b, &c] {
        let show = n.show(&id);
        // (An unsigned origin change, recomputable by anyone, may have come along: it is valid.)
        let heads = heads_of(&show);
        assert!(
            !heads.contains(&x),
            "{} took the tampered change X as a head: {heads:?}",
            n.name()
        );
        assert!(
            genesis.iter().all(|g| heads.contains(g)),
            "{} still has the genesis as a head: {heads:?}",
            n.name()
        );
        let log = n.log_entries(&id);
        assert!(
            log.iter().all(|e| e["hash"] != x.as_str()),
            "{} has the tampered change in its log: {log:?}",
            n.name()
        );
        assert_eq!(log.len(), 1, "{}: {log:?}", n.name());
        let exported = n.export_tree(&id, n.name());
        assert_eq!(
            exported["vedtak.txt"],
            b"Vedtak\n\nKommunen vedtar planen.\n".to_vec(),
            "{} serves the untampered text",
            n.name()
        );
        assert!(
            n.status()["peer_id"].is_string(),
            "{} is still healthy",
            n.name()
        );
    }
}
