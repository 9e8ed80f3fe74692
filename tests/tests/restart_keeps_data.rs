//! Restarted nodes keep their artefacts and their peers, after `node stop` and after SIGKILL.

use allmenning_tests::*;

#[test]
fn restart_keeps_data() {
    let mut a = Node::start("a", BERGEN);
    let mut b = Node::start_with("b", TRONDHEIM, &[a.addr()]);
    let mut c = Node::start_with("c", OSLO, &[a.addr()]);
    b.wait_connected(&a);
    c.wait_connected(&a);
    b.connect(&c);
    b.wait_connected(&c);

    let src = a.scratch().join("src");
    write_tree(
        &src,
        &[
            ("tjeneste.md", b"Tjenestebeskrivelse\n\nLinje 2\n"),
            ("bilde.bin", &[0x89u8, b'P', b'N', b'G', 0, 0xff][..]),
        ],
    );
    let id = a.publish(&src, "Tjenestebeskrivelse");
    let h0 = a.heads(&id).unwrap();
    b.wait_complete_with(&id, &h0, secs(30));
    c.wait_complete_with(&id, &h0, secs(30));

    // Graceful restart of B, with no bootstrap address this time.
    b.stop();
    b.set_bootstrap(&[]);
    b.spawn();
    let row = b
        .row(&id)
        .expect("B lists its artefact right after its restart");
    assert_eq!(heads_of(&row), h0);
    assert_eq!(b.status()["artefacts"], 1);
    // It still knows its peers, and reconnects to them on its own.
    wait_until(
        secs(30),
        "B's peers list A and C again and B is connected to one of them",
        || {
            let peers = b.peers();
            let known = |id: &str| peers.iter().any(|p| p["peer_id"] == id);
            let connected = peers.iter().any(|p| p["connected"] == true);
            known(a.peer_id()) && known(c.peer_id()) && connected
        },
    );
    // ... and works: an edit on A reaches B without anyone telling B where A is.
    let w = a.checkout(&id, "a");
    std::fs::write(
        w.join("tjeneste.md"),
        "Tjenestebeskrivelse\n\nLinje 2 endret\n",
    )
    .unwrap();
    a.ok_in(&w, &["commit", "-m", "Endre linje 2"]);
    let h1 = a.heads(&id).unwrap();
    b.wait_complete_with(&id, &h1, secs(30));
    c.wait_complete_with(&id, &h1, secs(30));

    // SIGKILL C, stop everyone else, and bring C back alone: all it shows comes from its disk.
    c.kill();
    a.stop();
    b.stop();
    c.set_bootstrap(&[]);
    c.spawn();
    let row = c
        .row(&id)
        .expect("C lists the artefact after SIGKILL and restart");
    assert_eq!(
        heads_of(&row),
        h1,
        "C kept the last heads it had before SIGKILL"
    );
    assert_eq!(row["complete"], true, "C kept every blob: {row}");
    let mut want = read_tree(&src, false);
    want.insert(
        "tjeneste.md".into(),
        b"Tjenestebeskrivelse\n\nLinje 2 endret\n".to_vec(),
    );
    assert_same_tree(&want, &c.export_tree(&id, "c"), "export on C after SIGKILL");
    assert_eq!(c.log_entries(&id).len(), 2);
    let peers = c.peers();
    assert!(
        peers.iter().any(|p| p["peer_id"] == a.peer_id()),
        "C still knows A after SIGKILL: {peers:?}"
    );

    // A, restarted too, still has everything.
    a.spawn();
    assert_eq!(heads_of(&a.row(&id).expect("A keeps its artefact")), h1);
}
