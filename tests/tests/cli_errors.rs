//! The CLI's error paths: no running node, bad organisation numbers and kinds, unknown ids.

use allmenning_tests::*;

fn code(out: &std::process::Output) -> Option<i32> {
    out.status.code()
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).to_lowercase()
}

#[test]
fn no_node_running() {
    let n = Node::init("idle", BERGEN);
    let dir = n.scratch().join("src");
    write_tree(&dir, &[("a.txt", b"a\n")]);
    let dir = dir.to_str().unwrap().to_string();
    let export_dir = n.scratch().join("export").to_str().unwrap().to_string();
    let id = "0123456789abcdef0123456789abcdef";
    let commands: Vec<Vec<&str>> = vec![
        vec!["node", "status"],
        vec!["node", "status", "--json"],
        vec!["node", "stop"],
        vec!["peers"],
        vec!["list"],
        vec!["list", "--json"],
        vec!["show", id],
        vec!["log", id],
        vec!["connect", "/ip4/127.0.0.1/tcp/9"],
        vec!["publish", &dir, "--kind", KIND, "--title", "T"],
        vec!["export", id, &export_dir],
    ];
    for args in commands {
        let out = n.cli(&args);
        assert_eq!(
            code(&out),
            Some(3),
            "`allmenning {}` with no node running exits 3\n{}",
            args.join(" "),
            describe(&out)
        );
        let msg = stderr(&out);
        assert!(
            msg.contains("node") && (msg.contains("running") || msg.contains("start")),
            "`allmenning {}` explains that no node is running\n{}",
            args.join(" "),
            describe(&out)
        );
        assert!(!msg.contains("panicked"), "{}", describe(&out));
    }
}

#[test]
fn init_rejects_bad_org_number_and_kind() {
    let tmp = tempfile::tempdir().unwrap();
    let home = tmp.path().join("home");
    let init = |number: &str, kind: &str| {
        let mut cmd = std::process::Command::new(bin());
        cmd.arg("--home").arg(&home).args([
            "init",
            "--org-name",
            "Bergen kommune",
            "--org-number",
            number,
            "--kind",
            kind,
        ]);
        run_with_timeout(cmd, std::time::Duration::from_secs(30))
    };

    let out = init("964338532", "kommune");
    assert!(
        !out.status.success(),
        "a wrong check digit is refused\n{}",
        describe(&out)
    );
    assert!(
        stderr(&out).contains("check digit"),
        "the message names the check digit\n{}",
        describe(&out)
    );

    let out = init("96433853", "kommune");
    assert!(
        !out.status.success(),
        "eight digits are refused\n{}",
        describe(&out)
    );

    let out = init("964338531", "county");
    assert!(
        !out.status.success(),
        "an unknown organisation kind is refused\n{}",
        describe(&out)
    );
    assert!(
        stderr(&out).contains("kind") || stderr(&out).contains("kommune"),
        "{}",
        describe(&out)
    );

    // After the refusals, a correct init still works on the same home.
    let out = init("964338531", "kommune");
    assert!(
        out.status.success(),
        "a valid init succeeds\n{}",
        describe(&out)
    );
}

#[test]
fn bad_requests_to_a_running_node() {
    let n = Node::start("solo", TRONDHEIM);
    let dir = n.scratch().join("src");
    write_tree(&dir, &[("a.txt", b"a\n")]);
    let d = dir.to_str().unwrap();

    let out = n.cli(&["publish", d, "--kind", "spreadsheet", "--title", "T"]);
    assert!(
        !out.status.success(),
        "an unknown artefact kind is rejected\n{}",
        describe(&out)
    );
    assert!(
        stderr(&out).contains("kind"),
        "the message names the kind\n{}",
        describe(&out)
    );
    assert!(n.list().is_empty(), "nothing was published");

    let out = n.cli(&["publish", d, "--title", "T"]);
    assert_eq!(
        code(&out),
        Some(2),
        "a missing --kind is a usage error\n{}",
        describe(&out)
    );

    let out = n.cli(&["show", "0123456789abcdef0123456789abcdef"]);
    assert_eq!(
        code(&out),
        Some(4),
        "an unknown id is not found\n{}",
        describe(&out)
    );

    let out = n.cli(&["frobnicate"]);
    assert_eq!(
        code(&out),
        Some(2),
        "an unknown command is a usage error\n{}",
        describe(&out)
    );

    // Still healthy after all that.
    let id = n.publish(&dir, "T");
    assert_eq!(n.list().len(), 1);
    assert_eq!(n.show(&id)["files"][0]["path"], "a.txt");
}
