//! A node that was offline catches up when it comes back; a brand-new node gets everything.

use allmenning_tests::*;

#[test]
fn offline_catch_up() {
    let a = Node::start("a", BERGEN);
    let b = Node::start_with("b", TRONDHEIM, &[a.addr()]);
    let mut c = Node::start_with("c", OSLO, &[a.addr()]);
    b.wait_connected(&a);
    c.wait_connected(&a);

    // Two artefacts, from two different publishers.
    let src1 = a.scratch().join("src1");
    write_tree(
        &src1,
        &[
            ("plan.md", b"# Plan\n\nPunkt 1\nPunkt 2\nPunkt 3\n"),
            ("vedlegg/a.bin", &[0u8, 0xff, 0x80, 7, 0xfe][..]),
        ],
    );
    let id1 = a.publish(&src1, "Beredskapsplan");
    let src2 = b.scratch().join("src2");
    write_tree(
        &src2,
        &[
            ("modell.json", br#"{"felt": ["navn", "adresse"]}"#),
            ("LES.md", b"Datamodell\n"),
        ],
    );
    let id2 = b.publish(&src2, "Datamodell for adresser");

    let h1 = a.heads(&id1).unwrap();
    let h2 = b.heads(&id2).unwrap();
    c.wait_complete_with(&id1, &h1, secs(30));
    c.wait_complete_with(&id2, &h2, secs(30));

    // C goes offline; A commits twice meanwhile.
    c.stop();
    let w = a.checkout(&id1, "a");
    std::fs::write(
        w.join("plan.md"),
        "# Plan\n\nPunkt 1 (revidert)\nPunkt 2\nPunkt 3\n",
    )
    .unwrap();
    a.ok_in(&w, &["commit", "-m", "Revider punkt 1"]);
    std::fs::write(
        w.join("plan.md"),
        "# Plan\n\nPunkt 1 (revidert)\nPunkt 2\nPunkt 3\nPunkt 4\n",
    )
    .unwrap();
    std::fs::write(w.join("vedlegg/ny.txt"), "Nytt vedlegg\n").unwrap();
    a.ok_in(&w, &["commit", "-m", "Legg til punkt 4 og vedlegg"]);
    let h1_new = a.heads(&id1).unwrap();
    assert_ne!(h1_new, h1);
    assert_eq!(a.log_entries(&id1).len(), 3);
    b.wait_complete_with(&id1, &h1_new, secs(30));

    // C comes back (same home, A as bootstrap) and catches up.
    c.set_bootstrap(&[a.addr()]);
    c.spawn();
    let row = c
        .row(&id1)
        .expect("C still knows the artefact after its restart");
    assert!(
        heads_of(&row) == h1 || heads_of(&row) == h1_new,
        "C has the heads it had or A's: {row}"
    );
    c.wait_complete_with(&id1, &h1_new, secs(30));
    let want = a.export_tree(&id1, "a");
    assert_eq!(
        want.get("vedlegg/ny.txt").map(|v| v.as_slice()),
        Some(&b"Nytt vedlegg\n"[..])
    );
    assert_same_tree(
        &want,
        &c.export_tree(&id1, "c"),
        "export of the edited artefact on C vs A",
    );
    assert_eq!(c.log_entries(&id1).len(), 3, "C has the whole history");

    // A brand-new node D, knowing only B, receives every artefact.
    let d = Node::start_with("d", KS, &[b.addr()]);
    d.wait_complete_with(&id1, &h1_new, secs(30));
    d.wait_complete_with(&id2, &h2, secs(30));
    let listed: Vec<String> = d
        .list()
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_string())
        .collect();
    let mut listed_sorted = listed.clone();
    listed_sorted.sort();
    let mut want_ids = vec![id1.clone(), id2.clone()];
    want_ids.sort();
    assert_eq!(listed_sorted, want_ids, "D lists exactly the two artefacts");
    assert_same_tree(
        &want,
        &d.export_tree(&id1, "d1"),
        "export of artefact 1 on D",
    );
    assert_same_tree(
        &read_tree(&src2, false),
        &d.export_tree(&id2, "d2"),
        "export of artefact 2 on D",
    );
}
