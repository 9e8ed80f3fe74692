//! A publishes a directory; B and C (chained A-B-C) receive it complete, byte for byte.

use allmenning_tests::*;
use std::os::unix::fs::PermissionsExt;

#[test]
fn publish_and_replicate() {
    let a = Node::start("a", BERGEN);
    let b = Node::start_with("b", TRONDHEIM, &[a.addr()]);
    let c = Node::start_with("c", OSLO, &[b.addr()]);
    b.wait_connected(&a);
    c.wait_connected(&b);

    // A directory with text, an empty file, nested paths, a non-UTF-8 binary and a script.
    let src = a.scratch().join("src");
    let mut binary: Vec<u8> = (0..=255u8).cycle().take(70_000).collect();
    binary.extend_from_slice(&[0xff, 0xfe, 0x00, 0xc3, 0x28, 0x80]);
    let readme = "# Felles saksbehandling\n\nDelt mellom kommunene. Æ ø å.\n".repeat(20);
    write_tree(
        &src,
        &[
            ("README.md", readme.as_bytes()),
            ("src/lib.rs", b"pub fn svar() -> u32 {\n    42\n}\n"),
            (
                "docs/rutiner/2024/arkiv.md",
                b"Arkivplan\n=========\n\n1. Journalf\xc3\xb8r.\n",
            ),
            ("data/logo.bin", &binary),
            ("empty.txt", b""),
            ("scripts/run.sh", b"#!/bin/sh\necho hei\n"),
        ],
    );
    let script = src.join("scripts/run.sh");
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let source = read_tree(&src, false);

    let published = a.json(&[
        "publish",
        src.to_str().unwrap(),
        "--kind",
        KIND,
        "--title",
        "Felles saksbehandling",
        "--description",
        "Rutiner for saksbehandling",
        "--tag",
        "arkiv",
        "--tag",
        "noark",
    ]);
    let id = published["id"]
        .as_str()
        .expect("publish --json prints the id")
        .to_string();
    assert_eq!(id.len(), 32, "artefact ids are 32 hex digits: {id}");

    let heads = a.heads(&id).expect("A shows its own artefact");
    assert!(!heads.is_empty(), "a published artefact has heads");
    let row_a = a.row(&id).expect("A lists its own artefact");
    assert_eq!(row_a["complete"], true, "{row_a}");
    assert_eq!(row_a["title"], "Felles saksbehandling");
    assert_eq!(row_a["kind"], KIND);

    b.wait_complete_with(&id, &heads, secs(30));
    c.wait_complete_with(&id, &heads, secs(30));
    assert_eq!(b.heads(&id).unwrap(), heads);
    assert_eq!(c.heads(&id).unwrap(), heads);

    // show --json on C: metadata, files and their sizes as published.
    let show = c.show(&id);
    assert_eq!(show["id"], id.as_str());
    assert_eq!(show["title"], "Felles saksbehandling");
    assert_eq!(show["kind"], KIND);
    assert_eq!(show["description"], "Rutiner for saksbehandling");
    let mut tags: Vec<&str> = show["tags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect();
    tags.sort();
    assert_eq!(tags, ["arkiv", "noark"]);
    assert_eq!(show["complete"], true);
    assert_eq!(heads_of(&show), heads);
    let mut files: Vec<(String, u64)> = show["files"]
        .as_array()
        .expect("show has files")
        .iter()
        .map(|f| {
            (
                f["path"].as_str().unwrap().to_string(),
                f["size"].as_u64().unwrap(),
            )
        })
        .collect();
    files.sort();
    let expected: Vec<(String, u64)> = source
        .iter()
        .map(|(p, b)| (p.clone(), b.len() as u64))
        .collect();
    assert_eq!(files, expected, "show --json files and sizes");

    // export on C (two hops away) is byte-identical to the source, executable bit included.
    let exported = c.export_tree(&id, "c");
    assert_same_tree(&source, &exported, "export on C vs the published directory");
    let mode = std::fs::metadata(c.scratch().join("export-c/scripts/run.sh"))
        .unwrap()
        .permissions()
        .mode();
    assert!(
        mode & 0o111 != 0,
        "the executable bit survives replication (mode {mode:o})"
    );
    assert!(
        std::fs::metadata(c.scratch().join("export-c/README.md"))
            .unwrap()
            .permissions()
            .mode()
            & 0o111
            == 0
    );

    // log --json: one entry, signed by A, the same on every node.
    let log_a = a.log_entries(&id);
    assert_eq!(
        log_a.len(),
        1,
        "a fresh artefact has one log entry: {log_a:?}"
    );
    let entry = &log_a[0];
    let author = entry["author"].as_str().expect("log entry has an author");
    assert_eq!(
        author,
        a.public_key(),
        "the publish is signed by A's node key"
    );
    assert!(!entry["message"]
        .as_str()
        .expect("log entry has a message")
        .is_empty());
    assert!(entry["hash"].as_str().is_some_and(|h| !h.is_empty()));
    assert!(
        entry["time"].as_i64().is_some_and(|t| t > 1_600_000_000),
        "time is seconds since the epoch"
    );
    assert_eq!(c.log_entries(&id), log_a, "C's log equals A's");

    // A's own record of the artefact names it as the owner, the same everywhere.
    let row_c = c.row(&id).unwrap();
    assert_eq!(row_c["owner"], row_a["owner"]);
    assert_eq!(row_c["owner_name"], row_a["owner_name"]);
}
