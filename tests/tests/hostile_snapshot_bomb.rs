//! Issue 10, finding 2: one peer exhausts a node's memory with a snapshot of about 1 MiB.
//!
//! A stranger lists an artefact nobody has. The victim, holding nothing of it, pulls with no
//! heads and gets a `Snapshot`: a document chunk whose one deflated column inflates to 1 GiB
//! of zeros, which Automerge inflates while parsing the chunk, before it checks a thing. A node
//! must refuse it within a bounded inflation budget: peak memory under 300 MB, `node status`
//! within 1 s, nothing of it stored, and honest edits still arriving.

use allmenning_protocol::wire::Request;
use allmenning_tests::adversary::{self, craft, Adversary};
use allmenning_tests::*;

/// What the bomb inflates to. Deflate cannot do better than about 1000:1, so this is 1 MiB on
/// the wire; larger bombs only cost more of a shared test machine to show the same thing.
const INFLATES_TO: u64 = 1 << 30;

const RUTINE: &str = "Rutine for varsling\n\n1. Ring vakttelefonen.\n";

#[test]
fn a_decompression_bomb_snapshot_is_refused() {
    let _serial = one_at_a_time();
    let bergen = Node::start("bergen", BERGEN);
    let victim = Node::start_with("trondheim", TRONDHEIM, &[bergen.addr()]);
    victim.wait_connected(&bergen);
    let (id, _) = bergen.publish_to(&[("rutine.txt", RUTINE.as_bytes())], "Varsling", &[&victim]);

    // A stranger lists an artefact nobody has; its snapshot is the bomb, with a marker as its
    // one actor id so that storing it would show.
    let marker = craft::marker("snapshot");
    let bomb = craft::snapshot_bomb(INFLATES_TO, marker.as_bytes());
    eprintln!("the bomb: {} bytes inflating to {INFLATES_TO}", bomb.len());
    let (unknown, head) = adversary::unknown_artefact();
    let adv = Adversary::stranger();
    adv.respond_with(adversary::offering_snapshot(unknown, vec![head], bomb));
    let vitals = Vitals::watch(&victim);
    adv.dial(&victim.addr()).expect("the stranger connects");

    // Trondheim has nothing of it, so it pulls with no heads: the bomb arrives as a snapshot.
    let pull = adv.wait_answered(secs(20), "Trondheim pulled the unknown artefact", |r| {
        adversary::is_pull_of(r, unknown)
    });
    assert!(
        matches!(&pull.request, Ok(Request::Pull { heads, .. }) if heads.is_empty()),
        "a node with nothing of an artefact asks for a snapshot: {:?}",
        pull.request
    );
    let report = vitals.observe(secs(3), 5);
    eprintln!("after the bomb: {}", report.summary());
    report.assert_healthy("after being sent a snapshot that inflates to 1 GiB");

    // Bergen's honest edit still reaches Trondheim.
    let work = bergen.checkout(&id, "bergen");
    std::fs::write(work.join("rutine.txt"), format!("{RUTINE}2. Send SMS.\n")).unwrap();
    bergen.commit(&work, "SMS");
    let heads = bergen.heads(&id).unwrap();
    victim.wait_complete_with(&id, &heads, secs(30));
    let report = vitals.finish();
    eprintln!("whole attack: {}", report.summary());
    report.assert_healthy("while a stranger sent it a decompression bomb");

    // Nothing of the bomb was kept: no such artefact, no marker anywhere in the home.
    assert!(
        victim.row(&unknown.to_string()).is_none(),
        "Trondheim lists the bomb's artefact"
    );
    victim.assert_stored_nowhere(&marker);
}
