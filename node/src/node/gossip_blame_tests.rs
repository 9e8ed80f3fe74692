//! Bad gossip is blamed on its author, not on the peer that forwarded it.
//!
//! A hub (KS, an IKS) forwards gossip it cannot judge; if the node blamed whoever handed it a
//! bad message, one malicious author could get every honest hub banned. A real node here hears
//! a stream of garbage statements and announces written by C but forwarded by R: it must ban C
//! and keep R.

use super::test_node::{peer_swarm, TestNode};
use crate::net::{self, announce_topic, statements_topic};
use futures::StreamExt;
use libp2p::swarm::dial_opts::DialOpts;
use libp2p::swarm::SwarmEvent;
use libp2p::Swarm;
use std::time::Duration;

/// Drives both swarms for `d`.
/// Drives both bare peers for `d`. R passes on every gossip message, as a node that
/// accepted it would (gossip is validated before it is forwarded).
async fn pump(r: &mut Swarm<net::Behaviour>, c: &mut Swarm<net::Behaviour>, d: Duration) {
    let until = tokio::time::sleep(d);
    tokio::pin!(until);
    loop {
        tokio::select! {
            _ = &mut until => return,
            ev = r.select_next_some() => relay(r, ev),
            _ = c.select_next_some() => {}
        }
    }
}

fn relay(r: &mut Swarm<net::Behaviour>, ev: SwarmEvent<net::BehaviourEvent>) {
    if let SwarmEvent::Behaviour(net::BehaviourEvent::Gossipsub(
        libp2p::gossipsub::Event::Message {
            message_id,
            propagation_source,
            ..
        },
    )) = ev
    {
        let _ = r
            .behaviour_mut()
            .gossipsub
            .report_message_validation_result(
                &message_id,
                &propagation_source,
                libp2p::gossipsub::MessageAcceptance::Accept,
            );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_gossip_bans_its_author_and_not_the_peer_that_forwarded_it() {
    let node = TestNode::start([9u8; 32], |_| {});
    let (node_addr, node_id) = (node.addr.clone(), node.peer_id);

    // R is connected to the node and to C; C is not connected to the node.
    let mut r = peer_swarm(Some("/ip4/127.0.0.1/tcp/0"));
    let mut c = peer_swarm(Some("/ip4/127.0.0.1/tcp/0"));
    let r_addr = loop {
        if let SwarmEvent::NewListenAddr { address, .. } = r.select_next_some().await {
            break address;
        }
    };
    let r_id = *r.local_peer_id();
    c.dial(DialOpts::peer_id(r_id).addresses(vec![r_addr]).build())
        .expect("c dials r");
    for _ in 0..100 {
        if r.is_connected(&node_id) {
            break;
        }
        let _ = r.dial(
            DialOpts::peer_id(node_id)
                .addresses(vec![node_addr.clone()])
                .build(),
        );
        pump(&mut r, &mut c, Duration::from_millis(100)).await;
    }
    assert!(r.is_connected(&node_id), "r reaches the node");
    // Let gossipsub form its meshes (heartbeat 1 s).
    pump(&mut r, &mut c, Duration::from_secs(3)).await;
    assert!(
        !c.is_connected(&node_id),
        "c only reaches the node through r"
    );

    // C writes 30 garbage statements and 30 garbage announces; R forwards them.
    for i in 0..30u8 {
        for topic in [statements_topic(), announce_topic()] {
            let garbage = vec![0xff, i, 0x00, 0x13, 0x37];
            if let Err(e) = c.behaviour_mut().gossipsub.publish(topic, garbage) {
                panic!("c cannot publish: {e}");
            }
        }
        pump(&mut r, &mut c, Duration::from_millis(30)).await;
    }
    pump(&mut r, &mut c, Duration::from_secs(3)).await;

    // R, which only forwarded, is still connected; C is banned: its own dial is refused.
    assert!(
        r.is_connected(&node_id),
        "the node must not drop the peer that only forwarded the garbage"
    );
    let _ = c.dial(
        DialOpts::peer_id(node_id)
            .addresses(vec![node_addr.clone()])
            .build(),
    );
    let mut c_admitted = false;
    let until = tokio::time::sleep(Duration::from_secs(3));
    tokio::pin!(until);
    loop {
        tokio::select! {
            _ = &mut until => break,
            ev = r.select_next_some() => relay(&mut r, ev),
            ev = c.select_next_some() => {
                if let SwarmEvent::ConnectionEstablished { peer_id, .. } = ev {
                    c_admitted |= peer_id == node_id;
                }
            }
        }
    }
    // A connection the node's allow/block list refuses may be established by the dialler's
    // handshake and closed at once; what matters is that it does not stay.
    assert!(
        !c.is_connected(&node_id),
        "the banned author cannot keep a connection (established at first: {c_admitted})"
    );
    node.stop().await;
}
