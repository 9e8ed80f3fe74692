//! The adversary speaks the node's protocol: the check that keeps the hostile_* tests honest.
//!
//! Those tests accept a victim that refuses to pull from an attacker at all, so an adversary
//! that had silently stopped interoperating (a changed gossip configuration, protocol name or
//! framing) would make them pass for nothing. This test passes on today's code and must keep
//! passing: a real node connects to the adversary, asks its inventory, pulls what it lists,
//! announces and notifications make it pull, and its gossiped statements arrive.

use allmenning_protocol::wire::{Announce, Request, Response};
use allmenning_protocol::OrgKind;
use allmenning_tests::adversary::{self, craft, Adversary};
use allmenning_tests::*;

#[test]
fn the_adversary_interoperates_with_a_real_node() {
    let _serial = one_at_a_time();
    let ks = Node::start("ks", KS);
    ks.create_network("kommunenett");

    // The node dials the adversary; on connecting it asks for statements and the inventory.
    let adv = Adversary::stranger();
    let (unknown, head) = adversary::unknown_artefact();
    adv.respond_with(adversary::offering_changes(
        unknown,
        vec![head],
        vec![],
        vec![],
    ));
    ks.ok(&["connect", &adv.addr()]);
    assert!(adv.is_connected(ks.peer_id()));
    adv.wait_answered(secs(20), "KS asked for statements", |r| {
        matches!(r, Request::Statements { .. })
    });
    adv.wait_answered(secs(20), "KS asked for the inventory", |r| {
        matches!(r, Request::Inventory)
    });
    let first = adv.requests_from(ks.peer_id());
    assert!(!first.is_empty());

    // It pulls what the inventory lists, by gossip announce and by notification too.
    assert!(
        adv.wait_pulls(unknown, 1, secs(20)),
        "KS pulled the listed artefact"
    );
    adv.announce(&Announce {
        id: unknown,
        heads: vec![adversary::unknown_artefact().1.into()],
    })
    .expect("the announce goes out");
    assert!(
        adv.wait_pulls(unknown, 2, secs(20)),
        "KS pulled the announced head"
    );
    let ack = adv.ask(
        ks.peer_id(),
        &Request::Notify(Announce {
            id: unknown,
            heads: vec![adversary::unknown_artefact().1.into()],
        }),
    );
    assert_eq!(ack, Ok(Response::Ack));
    assert!(
        adv.wait_pulls(unknown, 3, secs(20)),
        "KS pulled the notified head"
    );

    // Its requests get answers, and its gossiped statements arrive: the self-signed profile of
    // an organisation applying for admission (kept within the applicants' allowance; the
    // statement-flood test shows what happens to larger and more numerous ones).
    assert!(matches!(
        adv.ask(ks.peer_id(), &Request::Inventory),
        Ok(Response::Inventory { .. })
    ));
    let org_key = allmenning_protocol::NodeKey::from_secret(random_secret());
    let profile = craft::org_profile(&org_key, "987654325", "Fjordby kommune", OrgKind::Kommune);
    adv.publish_statement(&profile)
        .expect("the statement goes out");
    wait_until(secs(20), "KS has the gossiped profile", || {
        ks.org_detail("987654325").is_some()
    });
}
