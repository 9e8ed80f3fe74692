//! Issue 10, finding 1: one peer freezes a node with a change of about 100 bytes.
//!
//! The change is properly signed and its header is honest, but its op columns are single runs
//! that claim 2^40 operations. Decoding it row by row would keep the node's event loop busy for
//! days. A node must refuse it from what it claims before decoding it, stay responsive
//! (`node status` within 1 s), and go on replicating honest edits: whether the change comes
//! from a stranger outside a network, from an admitted organisation inside one, or inside a
//! proposal that a maintainer reviews.

use allmenning_protocol::wire::{Announce, Request};
use allmenning_protocol::ChangeHash;
use allmenning_tests::adversary::{self, craft, Adversary};
use allmenning_tests::*;

/// What the bomb claims: 2^40 operations, in about 100 bytes.
const CLAIMED_OPS: u64 = 1 << 40;

const RUTINE: &str = "Rutine for varsling\n\n1. Ring vakttelefonen.\n";

/// Makes an honest edit of `rutine.txt` on `editor` and waits until `victim` has exactly the
/// editor's new heads.
fn honest_edit_reaches(editor: &Node, victim: &Node, id: &str, line: &str) -> Vec<String> {
    let work = editor.checkout(id, &format!("honest-{}", editor.name()));
    std::fs::write(work.join("rutine.txt"), format!("{RUTINE}{line}\n")).unwrap();
    editor.commit(&work, line);
    let heads = editor.heads(id).unwrap();
    victim.wait_complete_with(id, &heads, secs(30));
    heads
}

/// Asserts `node` holds none of `bombs` in its heads or history.
fn holds_none_of(node: &Node, id: &str, bombs: &[ChangeHash]) {
    let heads = node.heads(id).unwrap();
    let log = node.log_entries(id);
    for bomb in bombs {
        let hex = bomb.to_string();
        assert!(
            !heads.contains(&hex),
            "{} took the bomb as a head",
            node.name()
        );
        assert!(
            log.iter().all(|e| e["hash"] != hex.as_str()),
            "{} has the bomb in its history",
            node.name()
        );
    }
}

#[test]
fn a_cpu_bomb_from_a_stranger_is_refused_outside_a_network() {
    let _serial = one_at_a_time();
    let bergen = Node::start("bergen", BERGEN);
    let victim = Node::start_with("trondheim", TRONDHEIM, &[bergen.addr()]);
    victim.wait_connected(&bergen);
    let (id, heads) =
        bergen.publish_to(&[("rutine.txt", RUTINE.as_bytes())], "Varsling", &[&victim]);
    let artefact = adversary::artefact(&id);
    let base = adversary::change_hashes(&heads);

    // A stranger connects to Trondheim and lists a newer version of Bergen's artefact: one
    // change on top of what everyone has, which claims 2^40 operations.
    let adv = Adversary::stranger();
    let (bomb, bomb_hash) = craft::cpu_bomb_change(adv.node_key(), &base, CLAIMED_OPS);
    eprintln!(
        "the bomb: {} bytes claiming {CLAIMED_OPS} operations",
        bomb.bytes.len()
    );
    adv.respond_with(adversary::offering_changes(
        artefact,
        vec![bomb_hash],
        vec![bomb],
        vec![],
    ));
    let vitals = Vitals::watch(&victim);
    adv.dial(&victim.addr()).expect("the stranger connects");

    // Trondheim asks for its inventory, sees heads it lacks and pulls: the bomb arrives.
    adv.wait_answered(secs(20), "Trondheim pulled from the stranger", |r| {
        adversary::is_pull_of(r, artefact)
    });
    let report = vitals.observe(secs(2), 5);
    eprintln!("after the listed bomb: {}", report.summary());
    report.assert_healthy("after pulling a change that claims 2^40 operations");

    // Another bomb, announced on the gossip topic this time.
    let (bomb2, bomb2_hash) = craft::cpu_bomb_change(adv.node_key(), &base, CLAIMED_OPS);
    adv.respond_with(adversary::offering_changes(
        artefact,
        vec![bomb2_hash],
        vec![bomb2],
        vec![],
    ));
    let announced = adv.announce(&Announce {
        id: artefact,
        heads: vec![bomb2_hash.into()],
    });
    if !(announced.is_ok() && adv.wait_pulls(artefact, 2, secs(10))) {
        // Refusing to hear more from a peer that sent a bomb is a fine outcome too.
        eprintln!("Trondheim did not pull the announced bomb: {announced:?}");
    }
    let report = vitals.observe(secs(2), 5);
    eprintln!("after the gossiped bomb: {}", report.summary());
    report.assert_healthy("after pulling an announced change that claims 2^40 operations");

    // Bergen's honest edit still reaches Trondheim, and Trondheim holds neither bomb.
    let now = honest_edit_reaches(&bergen, &victim, &id, "2. Bergen: send SMS.");
    let report = vitals.finish();
    eprintln!("whole attack: {}", report.summary());
    report.assert_healthy("while a stranger sent it CPU bombs");
    assert_eq!(victim.heads(&id).unwrap(), now);
    holds_none_of(&victim, &id, &[bomb_hash, bomb2_hash]);
}

/// KS, Bergen (the victim, owner of a public artefact), Trondheim (its maintainer) and Oslo,
/// all admitted. Returns the nodes, the artefact's id and its heads.
fn network() -> (Node, Node, Node, Node, String, Vec<String>) {
    let ks = Node::start("ks", KS);
    let bergen = Node::start("bergen", BERGEN);
    let trondheim = Node::start("trondheim", TRONDHEIM);
    let oslo = Node::start("oslo", OSLO);
    form_network(&ks, &[&bergen, &trondheim, &oslo]);
    let (id, heads) = bergen.publish_to(
        &[("rutine.txt", RUTINE.as_bytes())],
        "Varslingsrutine",
        &[&ks, &trondheim, &oslo],
    );
    bergen.ok(&["access", "grant", &id, TRONDHEIM.number]);
    wait_until(secs(20), "Trondheim sees itself a maintainer", || {
        trondheim.sees_maintainer(&id, TRONDHEIM.number)
    });
    (ks, bergen, trondheim, oslo, id, heads)
}

#[test]
fn a_cpu_bomb_from_an_admitted_organisation_is_refused_inside_a_network() {
    let _serial = one_at_a_time();
    let (_ks, bergen, trondheim, mut oslo, id, heads) = network();
    let artefact = adversary::artefact(&id);
    let base = adversary::change_hashes(&heads);

    // Oslo's node goes bad: the adversary takes over its keys (an admitted organisation's
    // certified node key), connects to Bergen and lists a newer version of Bergen's artefact.
    oslo.stop();
    let adv = Adversary::impersonating(oslo.home());
    let (bomb, bomb_hash) = craft::cpu_bomb_change(adv.node_key(), &base, CLAIMED_OPS);
    adv.respond_with(adversary::offering_changes(
        artefact,
        vec![bomb_hash],
        vec![bomb],
        vec![],
    ));
    let vitals = Vitals::watch(&bergen);
    adv.dial(&bergen.addr()).expect("'Oslo' connects");
    adv.wait_answered(secs(20), "Bergen pulled from 'Oslo'", |r| {
        adversary::is_pull_of(r, artefact)
    });
    let report = vitals.observe(secs(2), 5);
    eprintln!("after the listed bomb: {}", report.summary());
    report.assert_healthy("after pulling a change that claims 2^40 operations");

    // Again, notified directly (as restricted artefacts are) instead of listed.
    let (bomb2, bomb2_hash) = craft::cpu_bomb_change(adv.node_key(), &base, CLAIMED_OPS);
    adv.respond_with(adversary::offering_changes(
        artefact,
        vec![bomb2_hash],
        vec![bomb2],
        vec![],
    ));
    let notified = adv.request(
        bergen.peer_id(),
        &Request::Notify(Announce {
            id: artefact,
            heads: vec![bomb2_hash.into()],
        }),
    );
    if !(notified.is_ok() && adv.wait_pulls(artefact, 2, secs(10))) {
        // Refusing to hear more from a peer that sent a bomb is a fine outcome too.
        eprintln!("Bergen did not pull the notified bomb: {notified:?}");
    }
    let report = vitals.observe(secs(2), 5);
    eprintln!("after the notified bomb: {}", report.summary());
    report.assert_healthy("after pulling a notified change that claims 2^40 operations");

    // Trondheim, a maintainer, edits: Bergen gets it, and holds neither bomb.
    let now = honest_edit_reaches(&trondheim, &bergen, &id, "2. Trondheim: send SMS.");
    let report = vitals.finish();
    eprintln!("whole attack: {}", report.summary());
    report.assert_healthy("while an admitted organisation sent it CPU bombs");
    assert_eq!(bergen.heads(&id).unwrap(), now);
    holds_none_of(&bergen, &id, &[bomb_hash, bomb2_hash]);
}

#[test]
fn a_cpu_bomb_inside_a_proposal_is_refused_when_reviewed() {
    let _serial = one_at_a_time();
    let (_ks, bergen, trondheim, mut oslo, id, heads) = network();
    let artefact = adversary::artefact(&id);
    let base = adversary::change_hashes(&heads);

    // 'Oslo' (an admitted member, not a maintainer) offers Bergen a proposal whose one change
    // is the bomb. Proposals are members' right, so Bergen keeps it and lists it.
    oslo.stop();
    let adv = Adversary::impersonating(oslo.home());
    let bomb = craft::cpu_bomb_change(adv.node_key(), &base, CLAIMED_OPS);
    let bomb_hash = bomb.1;
    let proposal = craft::proposal(adv.node_key(), artefact, &base, &[bomb], "Forbedring");
    let vitals = Vitals::watch(&bergen);
    adv.dial(&bergen.addr()).expect("'Oslo' connects");
    let answer = adv.ask(
        bergen.peer_id(),
        &craft::offer(std::slice::from_ref(&proposal)),
    );
    eprintln!("Bergen's answer to the offer: {answer:?}");
    let listed = proposal.id().to_hex();
    let report = vitals.observe(secs(1), 3);
    report.assert_healthy("after being offered a proposal holding a CPU bomb");
    let offered = bergen
        .try_json(&["proposals", &id])
        .and_then(|v| v.as_array().cloned())
        .unwrap_or_default()
        .iter()
        .any(|p| p["id"] == listed.as_str());

    // A maintainer at Bergen reviews it, then tries to accept it. Both must come back (with a
    // refusal or not) while the node keeps answering.
    if offered {
        for verb in ["review", "accept"] {
            let mut cmd = bergen.command();
            cmd.args([verb, &listed]);
            let finished = std::thread::spawn(move || {
                let started = std::time::Instant::now();
                try_run_with_timeout(cmd, std::time::Duration::from_secs(30))
                    .map(|out| (started.elapsed(), out))
            });
            let report = vitals.observe(secs(2), 5);
            eprintln!("while running `{verb}`: {}", report.summary());
            report.assert_healthy(&format!("while a maintainer ran `{verb}` on the proposal"));
            let (took, out) = finished
                .join()
                .unwrap()
                .unwrap_or_else(|| panic!("`{verb}` of the proposal did not finish in 30 s"));
            eprintln!(
                "`{verb}` took {:.2} s and exited {:?}",
                took.as_secs_f64(),
                exit_code(&out)
            );
        }
    } else {
        eprintln!("Bergen did not list the proposal: refused on arrival");
    }

    // Trondheim's honest edit reaches Bergen; the bomb is nowhere.
    let now = honest_edit_reaches(&trondheim, &bergen, &id, "2. Trondheim: send SMS.");
    let report = vitals.finish();
    eprintln!("whole attack: {}", report.summary());
    report.assert_healthy("while a member proposed a CPU bomb");
    assert_eq!(bergen.heads(&id).unwrap(), now);
    holds_none_of(&bergen, &id, &[bomb_hash]);
}
