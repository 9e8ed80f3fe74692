//! Nobody is stuck with local edits: `restore` goes back to the checkout's base, `pull`
//! takes a file whose local content equals the node's, and `pull --discard` replaces local
//! edits with the node's version (asking first; `--yes` off a terminal).

use allmenning_tests::*;

/// A non-maintainer's proposal is accepted: `pull` succeeds, since its local edits equal what
/// the node now has. Later local edits that clash with the owner's can be dropped with
/// `pull --discard --yes` (and without `--yes`, off a terminal, nothing is dropped).
#[test]
fn pull_after_an_accepted_proposal_and_pull_discard() {
    let ks = Node::start("ks", KS);
    let bergen = Node::start("bergen", BERGEN);
    let trondheim = Node::start("trondheim", TRONDHEIM);
    form_network(&ks, &[&bergen, &trondheim]);
    let original = "Rutine for varsling\n\n1. Ring vakttelefonen.\n";
    let (id, _) = bergen.publish_to(
        &[("rutine.txt", original.as_bytes())],
        "Varslingsrutine",
        &[&ks, &trondheim],
    );

    // Trondheim's edit becomes a proposal, which Bergen accepts.
    let work = trondheim.checkout(&id, "trondheim");
    let proposed = format!("{original}2. Send SMS.\n");
    std::fs::write(work.join("rutine.txt"), &proposed).unwrap();
    let out = trondheim.ok_in(&work, &["commit", "-m", "SMS"]);
    assert!(output_text(&out).contains("proposal"), "{}", describe(&out));
    let proposal = wait_for(secs(20), "bergen sees the proposal", || {
        let v = bergen.try_json(&["proposals", &id])?;
        v.as_array()?.first()?["id"].as_str().map(String::from)
    });
    bergen.json(&["accept", &proposal]);
    wait_until(secs(30), "trondheim has the accepted version", || {
        trondheim
            .try_json(&["show", &id])
            .is_some_and(|v| v["changes"].as_u64().is_some_and(|n| n >= 2))
    });

    // The local edits are what the node has now: pull succeeds and nothing is left.
    let pulled = trondheim.json_in(&work, &["pull", "--json"]);
    assert_eq!(pulled["discarded"], serde_json::json!([]), "{pulled}");
    let status = trondheim.json_in(&work, &["status", "--json"]);
    assert!(array_of(&status, "modified").is_empty(), "{status}");

    // Bergen edits the file; Trondheim edits it differently: pull refuses (exit 5).
    let bwork = bergen.checkout(&id, "bergen");
    let bergens = format!("{proposed}3. Bergen: ring leder.\n");
    std::fs::write(bwork.join("rutine.txt"), &bergens).unwrap();
    let b1 = bergen.commit(&bwork, "Bergens tillegg");
    wait_change(&trondheim, &id, &b1, secs(30));
    std::fs::write(work.join("rutine.txt"), "Trondheims andre forsøk\n").unwrap();
    let refused = trondheim.cli_in(&work, &["pull"]);
    assert_eq!(exit_code(&refused), Some(5), "{}", describe(&refused));
    assert!(
        output_text(&refused).contains("--discard"),
        "{}",
        describe(&refused)
    );

    // --discard off a terminal without --yes discards nothing and says how.
    let asked = trondheim.cli_in(&work, &["pull", "--discard"]);
    assert_eq!(exit_code(&asked), Some(1), "{}", describe(&asked));
    assert!(
        output_text(&asked).contains("--yes"),
        "{}",
        describe(&asked)
    );
    assert_eq!(
        std::fs::read_to_string(work.join("rutine.txt")).unwrap(),
        "Trondheims andre forsøk\n"
    );

    // --discard --yes takes the node's version.
    let discarded = trondheim.json_in(&work, &["pull", "--discard", "--yes", "--json"]);
    assert_eq!(
        discarded["discarded"],
        serde_json::json!(["rutine.txt"]),
        "{discarded}"
    );
    assert_eq!(
        std::fs::read_to_string(work.join("rutine.txt")).unwrap(),
        bergens
    );
    let status = trondheim.json_in(&work, &["status", "--json"]);
    assert!(array_of(&status, "modified").is_empty(), "{status}");
}

/// `restore` brings back a modified and a deleted file (a binary one, whose base comes from
/// the node) and removes an added one; with a PATH, only that.
#[test]
fn restore_puts_the_checkout_back_to_its_base() {
    let bergen = Node::start("bergen", BERGEN);
    let src = bergen.scratch().join("src");
    let binary: &[u8] = &[0, 1, 2, 0xff, 0xfe, 0];
    write_tree(
        &src,
        &[
            ("README.md", b"# Veileder\n"),
            ("data/tabell.bin", binary),
            ("docs/mal.txt", b"Mal\n"),
        ],
    );
    let id = bergen.publish(&src, "Veileder");
    let work = bergen.checkout(&id, "work");
    let before = read_tree(&work, true);

    std::fs::write(work.join("README.md"), "# Endret\n").unwrap();
    std::fs::remove_file(work.join("data/tabell.bin")).unwrap();
    std::fs::write(work.join("ny.txt"), "Ny fil\n").unwrap();
    std::fs::write(work.join("docs/mal.txt"), "Endret mal\n").unwrap();

    // Only one path first, given relative to a folder inside the checkout.
    let one = bergen.json_in(&work.join("docs"), &["restore", "mal.txt", "--json"]);
    assert_eq!(
        one["restored"],
        serde_json::json!(["docs/mal.txt"]),
        "{one}"
    );
    assert_eq!(one["removed"], serde_json::json!([]), "{one}");
    assert_eq!(std::fs::read(work.join("docs/mal.txt")).unwrap(), b"Mal\n");
    assert_eq!(
        std::fs::read(work.join("README.md")).unwrap(),
        b"# Endret\n"
    );

    // A path that is not in the checkout is refused (exit 4).
    let unknown = bergen.cli_in(&work, &["restore", "finnes-ikke.txt"]);
    assert_eq!(exit_code(&unknown), Some(4), "{}", describe(&unknown));

    // Everything else.
    let all = bergen.json_in(&work, &["restore", "--json"]);
    assert_eq!(
        all["restored"],
        serde_json::json!(["README.md", "data/tabell.bin"]),
        "{all}"
    );
    assert_eq!(all["removed"], serde_json::json!(["ny.txt"]), "{all}");
    assert_eq!(read_tree(&work, true), before);
    let status = bergen.json_in(&work, &["status", "--json"]);
    for key in ["modified", "added", "deleted"] {
        assert!(array_of(&status, key).is_empty(), "{status}");
    }
    let again = output_text(&bergen.ok_in(&work, &["restore"]));
    assert!(again.contains("nothing to restore"), "{again}");
}
