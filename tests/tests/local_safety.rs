//! Local safety (issue 10): what a careless user or another local account must not be able to
//! do to a node and its checkouts, with real node processes.
//!
//! - the control socket is 0600 from the moment it exists, and a node refuses a home that other
//!   users may write to;
//! - finding the checkout from the working directory stops at shared directories (a planted
//!   `.allmenning/` in a world-writable directory is never used) and a checkout is only used
//!   with the node it was made for;
//! - `pull` never writes through a symbolic link planted in a checkout;
//! - a node refuses to start on a port another process (or another node) listens on;
//! - an artefact whose merged tree holds `README.md` and `readme.md` (added concurrently by two
//!   organisations) still checks out, pulls and exports the same way everywhere.
//!
//! The world-writable directory is made inside the test's own scratch space (mode 1777, like
//! `/tmp`) rather than in `/tmp` itself, so that a planted manifest never leaks into other
//! tests running on the same machine.

use allmenning_tests::*;
use serde_json::Value;
use std::fs;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::Path;

fn mode(path: &Path) -> u32 {
    fs::symlink_metadata(path).unwrap().permissions().mode() & 0o7777
}

fn chmod(path: &Path, mode: u32) {
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
}

fn stderr_of(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn control_socket_is_private_and_a_shared_home_is_refused() {
    let mut node = Node::init("a", BERGEN);
    let home = node.home().to_path_buf();
    for loose in [0o770, 0o707, 0o777] {
        chmod(&home, loose);
        let out = node.start_expecting_exit(
            &["--listen", "/ip4/127.0.0.1/tcp/0"],
            secs(20),
            &format!("its home is mode {loose:o}"),
        );
        assert!(!out.status.success(), "{}", describe(&out));
        let err = stderr_of(&out);
        assert!(
            err.contains("chmod 700") && err.contains(&home.display().to_string()),
            "the refusal names the home and the fix\n{}",
            describe(&out)
        );
        assert!(
            !home.join("control.sock").exists(),
            "no socket is left behind"
        );
    }
    chmod(&home, 0o700);
    node.spawn();
    let socket = home.join("control.sock");
    assert_eq!(mode(&socket), 0o600, "the control socket is private");
    assert_eq!(mode(&home), 0o700);
    assert!(node.status()["peer_id"].is_string());
}

#[test]
fn checkout_discovery_stops_at_shared_directories_and_other_homes() {
    let a = Node::start("a", BERGEN);
    let (id, heads) = a.publish_to(&[("README.md", b"# Hei\n")], "Discovery", &[]);
    let co = a.checkout(&id, "own");

    // A world-writable directory (like /tmp) in which someone planted a checkout's metadata,
    // and the user's own directory inside it.
    let shared = a.scratch().join("shared");
    fs::create_dir(&shared).unwrap();
    chmod(&shared, 0o1777);
    fs::create_dir(shared.join(".allmenning")).unwrap();
    fs::copy(
        co.join(".allmenning/checkout.json"),
        shared.join(".allmenning/checkout.json"),
    )
    .unwrap();
    let mine = shared.join("mine");
    fs::create_dir(&mine).unwrap();
    chmod(&mine, 0o700);
    fs::write(mine.join("notes.txt"), "private notes\n").unwrap();

    for dir in [&mine, &shared] {
        for args in [&["commit", "-m", "oops"][..], &["status"], &["pull"]] {
            let out = a.cli_in(dir, args);
            assert_eq!(
                exit_code(&out),
                Some(4),
                "`{}` in {} must not use the planted checkout\n{}",
                args.join(" "),
                dir.display(),
                describe(&out)
            );
        }
    }
    assert_eq!(a.heads(&id).unwrap(), heads, "nothing was committed");

    // The checkout belongs to A's home: another node's CLI refuses it.
    let b = Node::init("b", TRONDHEIM);
    for args in [&["status"][..], &["commit", "-m", "x"], &["pull"]] {
        let out = b.cli_in(&co, args);
        assert!(!out.status.success(), "{}", describe(&out));
        let err = stderr_of(&out);
        assert!(
            err.contains("belongs to") && err.contains(&a.home().display().to_string()),
            "`{}` names the home the checkout belongs to\n{}",
            args.join(" "),
            describe(&out)
        );
    }
    a.ok_in(&co, &["status"]);
}

#[test]
fn pull_never_writes_through_a_symlink() {
    let a = Node::start("a", BERGEN);
    let (id, _) = a.publish_to(
        &[("sub/x.txt", b"1\n"), ("top.txt", b"t\n")],
        "Symlinks",
        &[],
    );
    let victim_dir = a.scratch().join("outside");
    fs::create_dir(&victim_dir).unwrap();
    fs::write(victim_dir.join("x.txt"), "1\n").unwrap();
    fs::write(victim_dir.join("victim.txt"), "victim\n").unwrap();

    let co = a.checkout(&id, "target");
    let other = a.checkout(&id, "other");
    write_tree(
        &other,
        &[("sub/new.txt", b"new\n"), ("planted.txt", b"remote\n")],
    );
    a.commit(&other, "new files");

    // `sub` becomes a link to a directory outside the checkout.
    fs::remove_dir_all(co.join("sub")).unwrap();
    symlink(&victim_dir, co.join("sub")).unwrap();
    let out = a.cli_in(&co, &["pull"]);
    assert!(
        !out.status.success(),
        "pull through a symlinked folder must be refused\n{}",
        describe(&out)
    );
    assert!(
        stderr_of(&out).contains("symbolic link"),
        "the refusal says why\n{}",
        describe(&out)
    );
    assert!(
        !victim_dir.join("new.txt").exists(),
        "nothing was written outside the checkout"
    );

    // With `sub` a real folder again, a link planted where a new file lands is replaced by
    // the file, not followed.
    fs::remove_file(co.join("sub")).unwrap();
    write_tree(&co, &[("sub/x.txt", b"1\n")]);
    symlink(victim_dir.join("victim.txt"), co.join("planted.txt")).unwrap();
    a.ok_in(&co, &["pull"]);
    assert_eq!(
        fs::read_to_string(victim_dir.join("victim.txt")).unwrap(),
        "victim\n"
    );
    assert!(fs::symlink_metadata(co.join("planted.txt"))
        .unwrap()
        .file_type()
        .is_file());
    assert_eq!(
        fs::read_to_string(co.join("planted.txt")).unwrap(),
        "remote\n"
    );
    assert_eq!(fs::read_to_string(co.join("sub/new.txt")).unwrap(), "new\n");
    assert!(!victim_dir.join("new.txt").exists());
}

#[test]
fn a_port_in_use_stops_the_node() {
    // Held by a plain program.
    let holder = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = holder.local_addr().unwrap().port();
    let node = Node::init("a", BERGEN);
    let addr = format!("/ip4/127.0.0.1/tcp/{port}");
    let out = node.start_expecting_exit(&["--listen", &addr], secs(20), "the port is taken");
    assert!(!out.status.success(), "{}", describe(&out));
    assert!(
        stderr_of(&out).contains(&addr),
        "the error names the address\n{}",
        describe(&out)
    );
    drop(holder);

    // Held by another node, over TCP and over QUIC.
    let tcp = format!("/ip4/127.0.0.1/tcp/{}", free_port());
    let quic = format!("/ip4/127.0.0.1/udp/{}/quic-v1", free_udp_port());
    let mut first = Node::init("first", TRONDHEIM);
    first.spawn_listening(&[tcp.clone(), quic.clone()]);
    let second = Node::init("second", OSLO);
    for addr in [&tcp, &quic] {
        let out = second.start_expecting_exit(
            &["--listen", addr],
            secs(20),
            &format!("node first listens on {addr}"),
        );
        assert!(!out.status.success(), "{}", describe(&out));
        assert!(
            stderr_of(&out).contains(addr.as_str()),
            "the error names the address\n{}",
            describe(&out)
        );
    }
    assert!(first.is_running());
}

fn status_json(node: &Node, dir: &Path) -> Value {
    node.json_in(dir, &["status"])
}

fn assert_clean(node: &Node, dir: &Path, what: &str) {
    let st = status_json(node, dir);
    for key in ["modified", "added", "deleted", "renamed"] {
        assert_eq!(
            st[key],
            serde_json::json!([]),
            "{what}: status must be clean: {st}"
        );
    }
}

#[test]
fn a_merged_case_clash_checks_out_and_exports_everywhere() {
    let mut a = Node::start("a", BERGEN);
    let mut b = Node::start_with("b", TRONDHEIM, &[a.addr()]);
    b.wait_connected(&a);
    let (id, _) = a.publish_to(&[("x.md", b"x\n")], "Clash", &[&b]);
    let before = a.checkout(&id, "before");
    let wa = a.checkout(&id, "a");
    let wb = b.checkout(&id, "b");

    // Bergen adds README.md while Trondheim, unconnected, adds readme.md.
    b.stop();
    fs::write(wa.join("README.md"), "Bergen\n").unwrap();
    a.commit(&wa, "Bergen: README.md");
    a.stop();
    b.spawn();
    fs::write(wb.join("readme.md"), "Trondheim\n").unwrap();
    b.commit(&wb, "Trondheim: readme.md");
    a.spawn();
    a.connect(&b);
    let heads = wait_same_heads(&[&a, &b], &id, secs(30));
    assert_eq!(heads.len(), 2, "two concurrent changes: {heads:?}");
    a.wait_complete_with(&id, &heads, secs(30));
    b.wait_complete_with(&id, &heads, secs(30));

    let expected: std::collections::BTreeMap<String, Vec<u8>> = [
        ("README.md", "Bergen\n"),
        ("readme.md.clash-1", "Trondheim\n"),
        ("x.md", "x\n"),
    ]
    .into_iter()
    .map(|(p, c)| (p.to_string(), c.as_bytes().to_vec()))
    .collect();

    // A fresh checkout places readme.md next to README.md and says so.
    let dir = a.scratch().join("checkout-merged");
    let out = a.ok(&["checkout", &id, dir.to_str().unwrap()]);
    let err = stderr_of(&out);
    assert!(
        err.contains("readme.md.clash-1") && err.contains("README.md") && err.contains("rename"),
        "checkout warns about the displaced file\n{}",
        describe(&out)
    );
    assert_same_tree(&expected, &read_tree(&dir, true), "merged checkout on A");
    assert_clean(&a, &dir, "fresh checkout");

    // Export does the same, on either node.
    assert_same_tree(&expected, &b.export_tree(&id, "b"), "export on B");
    assert_same_tree(&expected, &a.export_tree(&id, "a"), "export on A");

    // Pulls bring every older checkout to the same layout, Trondheim's own one included
    // (its readme.md moves aside for README.md).
    for (node, co, what) in [(&a, &before, "before"), (&a, &wa, "A's"), (&b, &wb, "B's")] {
        let out = node.ok_in(co, &["pull"]);
        assert!(
            stderr_of(&out).contains("readme.md.clash-1"),
            "pull of {what} checkout warns\n{}",
            describe(&out)
        );
        assert_same_tree(&expected, &read_tree(co, true), what);
        assert_clean(node, co, what);
    }

    // Editing the displaced copy edits readme.md; renaming it resolves the clash.
    fs::write(dir.join("readme.md.clash-1"), "Trondheim, endret\n").unwrap();
    let st = status_json(&a, &dir);
    assert_eq!(st["modified"], serde_json::json!(["readme.md"]), "{st}");
    assert_eq!(st["added"], serde_json::json!([]), "{st}");
    fs::rename(
        dir.join("readme.md.clash-1"),
        dir.join("readme-trondheim.md"),
    )
    .unwrap();
    a.commit(&dir, "Resolve the README clash");
    assert_clean(&a, &dir, "after resolving");
    let resolved = a.export_tree(&id, "resolved");
    assert_eq!(
        resolved.keys().cloned().collect::<Vec<_>>(),
        ["README.md", "readme-trondheim.md", "x.md"],
    );
    assert_eq!(resolved["readme-trondheim.md"], b"Trondheim, endret\n");
}
