//! A checkout remembers the home of the node it was made with (`.allmenning/`): a command run
//! in it with another node's `--home` would otherwise commit the edits as that other node, on
//! top of heads it may not hold. `commit` there is refused with a message naming both homes and
//! what to do, with a non-zero exit code, and nothing is committed on either node.

use allmenning_tests::*;

#[test]
fn checkout_other_home() {
    let bergen = Node::start("bergen", BERGEN);
    let trondheim = Node::start("trondheim", TRONDHEIM);
    trondheim.connect(&bergen);
    trondheim.wait_connected(&bergen);
    // Outside a network Trondheim may write to it too, so only the binding stops the commit.
    let (id, heads) = bergen.publish_to(
        &[("rutine.txt", b"Rutine\n".as_slice())],
        "Rutine",
        &[&trondheim],
    );

    let work = bergen.checkout(&id, "bergen");
    std::fs::write(work.join("rutine.txt"), "Rutine, endret\n").unwrap();
    let out = trondheim.cli_in(&work, &["commit", "-m", "Feil node"]);
    let text = output_text(&out);
    assert!(!out.status.success(), "{}", describe(&out));
    assert_eq!(exit_code(&out), Some(1), "{}", describe(&out));
    let bergen_home = std::fs::canonicalize(bergen.home()).unwrap();
    assert!(
        text.contains("belongs to the node with home")
            && text.contains(&bergen_home.display().to_string())
            && text.contains("--home"),
        "{text}"
    );
    // Nothing was committed anywhere, and the edit is still in the checkout.
    assert_eq!(bergen.heads(&id).unwrap(), heads);
    assert_eq!(trondheim.heads(&id).unwrap(), heads);
    assert_eq!(
        std::fs::read_to_string(work.join("rutine.txt")).unwrap(),
        "Rutine, endret\n"
    );
    // With its own home the commit goes through.
    bergen.ok_in(&work, &["commit", "-m", "Riktig node"]);
    assert_ne!(bergen.heads(&id).unwrap(), heads);
}
