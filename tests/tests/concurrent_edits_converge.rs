//! Concurrent commits on A and B to different lines of one file merge, on every node.

use allmenning_tests::*;

fn lines(n: usize) -> Vec<String> {
    (1..=n)
        .map(|i| format!("Linje {i}: kommunen skal behandle saken innen {i} dager."))
        .collect()
}

fn text(lines: &[String]) -> String {
    let mut s = lines.join("\n");
    s.push('\n');
    s
}

#[test]
fn concurrent_edits_converge() {
    let a = Node::start("a", BERGEN);
    let b = Node::start_with("b", TRONDHEIM, &[a.addr()]);
    let c = Node::start_with("c", OSLO, &[a.addr()]);
    b.wait_connected(&a);
    c.wait_connected(&a);

    let original = lines(12);
    let src = a.scratch().join("src");
    write_tree(
        &src,
        &[
            ("rutine.txt", text(&original).as_bytes()),
            ("vedlegg/skjema.txt", b"Navn:\nAdresse:\n"),
        ],
    );
    let id = a.publish(&src, "Rutine for byggesak");
    let heads0 = a.heads(&id).unwrap();
    b.wait_complete_with(&id, &heads0, secs(30));
    c.wait_complete_with(&id, &heads0, secs(30));

    let wa = a.checkout(&id, "a");
    let wb = b.checkout(&id, "b");
    assert_same_tree(
        &read_tree(&src, false),
        &read_tree(&wa, true),
        "fresh checkout on A",
    );
    assert_same_tree(
        &read_tree(&src, false),
        &read_tree(&wb, true),
        "fresh checkout on B",
    );

    // Different lines of the same file.
    let mut on_a = original.clone();
    on_a[1] = "Linje 2: ENDRET I BERGEN.".to_string();
    let mut on_b = original.clone();
    on_b[9] = "Linje 10: ENDRET I TRONDHEIM.".to_string();
    std::fs::write(wa.join("rutine.txt"), text(&on_a)).unwrap();
    std::fs::write(wb.join("rutine.txt"), text(&on_b)).unwrap();

    // status and diff see the local edit.
    let st = a.ok_in(&wa, &["status", "--json"]);
    let st = parse_json(&st.stdout).expect("status --json");
    assert_eq!(
        st["modified"],
        serde_json::json!(["rutine.txt"]),
        "status sees the edited file: {st}"
    );
    let diff = a.ok_in(&wa, &["diff"]);
    assert!(
        String::from_utf8_lossy(&diff.stdout).contains("ENDRET I BERGEN"),
        "diff shows the edit\n{}",
        describe(&diff)
    );

    // Commit on both at once, before either has seen the other's change.
    let (ca, cb) = std::thread::scope(|s| {
        let ta = s.spawn(|| a.cli_in(&wa, &["commit", "-m", "Bergen: frist linje 2"]));
        let tb = s.spawn(|| b.cli_in(&wb, &["commit", "-m", "Trondheim: frist linje 10"]));
        (ta.join().unwrap(), tb.join().unwrap())
    });
    assert!(
        ca.status.success(),
        "commit on A\n{}\n{}",
        describe(&ca),
        a.log_tail(40)
    );
    assert!(
        cb.status.success(),
        "commit on B\n{}\n{}",
        describe(&cb),
        b.log_tail(40)
    );

    let heads = wait_same_heads(&[&a, &b, &c], &id, secs(30));
    assert_ne!(heads, heads0);
    // Each commit is made at its checkout's base, so the two changes are concurrent: two heads.
    assert_eq!(
        heads.len(),
        2,
        "two concurrent changes leave two heads: {heads:?}"
    );
    for n in [&a, &b, &c] {
        n.wait_complete_with(&id, &heads, secs(10));
    }

    // Pull both checkouts: each gets the other's edit.
    let mut merged = original.clone();
    merged[1] = on_a[1].clone();
    merged[9] = on_b[9].clone();
    let merged = text(&merged);
    for (node, dir) in [(&a, &wa), (&b, &wb)] {
        node.ok_in(dir, &["pull"]);
        let got = std::fs::read_to_string(dir.join("rutine.txt")).unwrap();
        assert_eq!(
            got,
            merged,
            "checkout on {} after pull has both edits",
            node.name()
        );
        let st = parse_json(&node.ok_in(dir, &["status", "--json"]).stdout).expect("status --json");
        for key in ["modified", "added", "deleted", "renamed"] {
            assert_eq!(
                st[key],
                serde_json::json!([]),
                "after pull the checkout on {} is clean: {st}",
                node.name()
            );
        }
    }

    // Byte-identical content on all three nodes.
    let mut expected = read_tree(&src, false);
    expected.insert("rutine.txt".into(), merged.into_bytes());
    for n in [&a, &b, &c] {
        assert_same_tree(
            &expected,
            &n.export_tree(&id, n.name()),
            &format!("export on {}", n.name()),
        );
    }

    // History: publish + two commits, signed by the right nodes, identical everywhere.
    let log = a.log_entries(&id);
    assert_eq!(log.len(), 3, "publish and two commits: {log:#?}");
    let by_msg = |m: &str| {
        log.iter()
            .find(|e| e["message"] == m)
            .unwrap_or_else(|| panic!("no log entry {m:?} in {log:#?}"))
            .clone()
    };
    let ea = by_msg("Bergen: frist linje 2");
    let eb = by_msg("Trondheim: frist linje 10");
    let genesis = &log[2];
    assert_eq!(
        genesis["author"],
        a.public_key(),
        "A's publish is signed by A"
    );
    assert_eq!(ea["author"], a.public_key(), "A's commit is signed by A");
    assert_eq!(eb["author"], b.public_key(), "B's commit is signed by B");
    for n in [&b, &c] {
        let mut theirs = n.log_entries(&id);
        let mut ours = log.clone();
        let key = |e: &serde_json::Value| e["hash"].as_str().unwrap().to_string();
        theirs.sort_by_key(key);
        ours.sort_by_key(key);
        assert_eq!(theirs, ours, "log on {}", n.name());
    }
}
