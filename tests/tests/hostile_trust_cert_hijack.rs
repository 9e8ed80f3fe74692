//! Issue 10, finding 7: one admitted organisation takes another's node out of the network.
//!
//! A node certificate (`NodeCert`) is signed by an organisation's key and names a node key.
//! Today nothing asks the node key whether it agrees, so Oslo's org key can certify Bergen's
//! node as one of Oslo's. That node then acts for two organisations, every node concludes it
//! speaks for neither, and Bergen's own node counts as not admitted: it cannot publish, and
//! nobody sees it as Bergen's. A certificate must need the node key's own consent (a proof of
//! possession), so a certificate Oslo makes for Bergen's key counts nowhere.
//!
//! Oslo (its real org key, from its home) signs the certificate; a peer offers it to Bergen and
//! Trondheim directly (a node judges what it is offered before it answers) and gossips it.
//! Asserted: Bergen's `node status --json` still says admitted; Trondheim's `org show --json`
//! still lists the node under Bergen and not under Oslo; Bergen still publishes, and Trondheim
//! receives what it publishes. The certificate is made by `craft::node_cert`, the one place
//! that changes when certificates gain a proof of possession (a bogus one goes there).
//!
//! Measured on today's code: fails; right after the offer Bergen's node reports itself not
//! admitted, Trondheim lists Bergen's node key among Oslo's nodes, and `publish` on Bergen is
//! refused ("not admitted ... or this node is not certified").

use allmenning_protocol::wire::Response;
use allmenning_tests::adversary::{craft, key_in_home, Adversary};
use allmenning_tests::*;

/// Whether `org show ORG --json` on `node` lists `key` among the organisation's nodes, not
/// revoked.
fn lists_node(node: &Node, org: &str, key: &str) -> bool {
    node.sees_node(org, key, false)
}

#[test]
fn another_organisation_cannot_certify_bergens_node() {
    let _serial = one_at_a_time();
    let ks = Node::start("ks", KS);
    let bergen = Node::start("bergen", BERGEN);
    let trondheim = Node::start("trondheim", TRONDHEIM);
    let oslo = Node::start("oslo", OSLO);
    form_network(&ks, &[&bergen, &trondheim, &oslo]);
    let bergen_node = bergen.node_key();
    assert!(lists_node(&trondheim, BERGEN.number, &bergen_node));

    // Oslo's org key certifies Bergen's node key as one of Oslo's; a peer offers the
    // certificate to Bergen and to Trondheim, and gossips it.
    let oslo_key = key_in_home(oslo.home(), "org.key");
    let hijack = craft::node_cert(
        &oslo_key,
        OSLO.number,
        craft::public_key(&bergen_node),
        "Oslos node, visstnok",
    );
    let adv = Adversary::stranger();
    for victim in [&bergen, &trondheim] {
        adv.dial(&victim.addr()).expect("the peer connects");
        let answer = adv.offer(victim.peer_id(), std::slice::from_ref(&hijack));
        assert_eq!(
            answer,
            Ok(Response::Ack),
            "{} took the offer in",
            victim.name()
        );
    }
    adv.publish_statement(&hijack).expect("gossip");

    // Bergen's node is still Bergen's, admitted, and only Bergen's.
    let mut broken = Vec::new();
    let status = bergen.status();
    if status["admitted"] != true {
        broken.push(format!(
            "Bergen's node reports itself not admitted: {status}"
        ));
    }
    if !lists_node(&trondheim, BERGEN.number, &bergen_node) {
        broken.push(format!(
            "Trondheim no longer lists Bergen's node under Bergen: {}",
            trondheim.org_detail(BERGEN.number).unwrap()
        ));
    }
    if lists_node(&trondheim, OSLO.number, &bergen_node) {
        broken.push(format!(
            "Trondheim lists Bergen's node under Oslo: {}",
            trondheim.org_detail(OSLO.number).unwrap()
        ));
    }

    // And it still publishes, and its artefact reaches Trondheim.
    let src = bergen.scratch().join("src");
    write_tree(&src, &[("plan.md", b"# Beredskapsplan\n")]);
    let published = bergen.cli(&[
        "publish",
        src.to_str().unwrap(),
        "--kind",
        KIND,
        "--title",
        "Beredskapsplan",
        "--json",
    ]);
    if published.status.success() {
        let id = parse_json(&published.stdout).expect("publish --json")["id"]
            .as_str()
            .unwrap()
            .to_string();
        let heads = bergen.heads(&id).unwrap();
        trondheim.wait_complete_with(&id, &heads, secs(30));
    } else {
        broken.push(format!(
            "Bergen's node can no longer publish:\n{}",
            describe(&published)
        ));
    }
    assert!(
        broken.is_empty(),
        "a certificate Oslo signed for Bergen's node key took the node from Bergen:\n  {}",
        broken.join("\n  ")
    );
}
