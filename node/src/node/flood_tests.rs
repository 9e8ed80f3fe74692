//! A real node (its event loop, swarm and store, in this process) under a request flood from
//! one peer while another peer asks at an ordinary pace.

use super::test_node::{peer_swarm, TestNode};
use crate::net::{self, BehaviourEvent, Frame};
use allmenning_protocol::wire::{Request, Response};
use futures::StreamExt;
use libp2p::swarm::SwarmEvent;
use libp2p::{request_response, PeerId, Swarm};
use std::time::{Duration, Instant};

#[derive(Default, Debug)]
struct Tally {
    answered: usize,
    busy: usize,
    failed: usize,
}

impl Tally {
    fn total(&self) -> usize {
        self.answered + self.busy + self.failed
    }

    fn count(&mut self, event: SwarmEvent<BehaviourEvent>) {
        match event {
            SwarmEvent::Behaviour(BehaviourEvent::Sync(request_response::Event::Message {
                message: request_response::Message::Response { response, .. },
                ..
            })) => match Response::decode(response.bytes()) {
                Ok(Response::Busy { .. }) => self.busy += 1,
                Ok(Response::Inventory { .. }) => self.answered += 1,
                other => panic!("unexpected answer to an inventory request: {other:?}"),
            },
            SwarmEvent::Behaviour(BehaviourEvent::Sync(
                request_response::Event::OutboundFailure { error, .. },
            )) => {
                if self.failed == 0 {
                    eprintln!("first failure: {error:?}");
                }
                self.failed += 1
            }
            _ => {}
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flooding_peer_is_answered_busy_and_an_honest_peer_is_still_served() {
    let node = TestNode::start([7u8; 32], |config| {
        config.network.max_requests_per_sec_per_peer = 20;
        config.network.max_request_burst_per_peer = 40;
    });
    let (addr, node_id) = (node.addr.clone(), node.peer_id);

    let mut flooder = peer_swarm(None);
    let mut honest = peer_swarm(None);
    let inventory = Request::Inventory.encode();
    const FLOOD: usize = 3000;
    const HONEST: usize = 40;
    // The node may still be starting: the first request of each is retried until answered.
    let ask = |swarm: &mut Swarm<net::Behaviour>, peer: PeerId| {
        swarm.behaviour_mut().sync.send_request_with_addresses(
            &peer,
            Frame::outbound(inventory.clone()),
            vec![addr.clone()],
        );
    };
    let started = Instant::now();
    let mut flood = Tally::default();
    let mut fair = Tally::default();
    let mut flood_sent = false;
    // The flooder keeps this many requests open, as many as a connection's streams allow
    // next to the node's own requests to it: the fastest a peer can ask.
    const WINDOW: usize = 24;
    let mut flood_asked = 0;
    let mut honest_sent = 0;
    let mut honest_latencies: Vec<Duration> = Vec::new();
    let mut honest_asked_at = Instant::now();
    ask(&mut flooder, node_id);
    let mut next_honest = tokio::time::interval(Duration::from_millis(50));
    let deadline = tokio::time::sleep(Duration::from_secs(60));
    tokio::pin!(deadline);
    loop {
        tokio::select! {
            ev = flooder.select_next_some() => {
                let before = flood.total();
                flood.count(ev);
                if flood.total() > before {
                    if !flood_sent {
                        if flood.answered == 0 {
                            // Not up yet: ask again.
                            flood = Tally::default();
                            tokio::time::sleep(Duration::from_millis(50)).await;
                            ask(&mut flooder, node_id);
                            continue;
                        }
                        flood_sent = true;
                    }
                    while flood_asked < FLOOD && flood_asked + 1 - flood.total() < WINDOW {
                        flood_asked += 1;
                        ask(&mut flooder, node_id);
                    }
                }
            }
            ev = honest.select_next_some() => {
                let before = fair.total();
                fair.count(ev);
                if fair.total() > before {
                    honest_latencies.push(honest_asked_at.elapsed());
                }
            }
            _ = next_honest.tick(), if flood_sent && honest_sent < HONEST && fair.total() == honest_sent => {
                honest_sent += 1;
                honest_asked_at = Instant::now();
                ask(&mut honest, node_id);
            }
            _ = &mut deadline => panic!("flood test timed out: flood {flood:?}, honest {fair:?}"),
        }
        if flood_sent && flood.total() == FLOOD + 1 && fair.total() == HONEST {
            break;
        }
    }
    let elapsed = started.elapsed();
    node.stop().await;

    honest_latencies.sort();
    println!(
        "flood of {} requests: {} answered, {} busy, {} failed in {:.2} s; honest peer: {} of {} \
         answered, latency p50 {:?}, max {:?}",
        FLOOD + 1,
        flood.answered,
        flood.busy,
        flood.failed,
        elapsed.as_secs_f64(),
        fair.answered,
        HONEST,
        honest_latencies[honest_latencies.len() / 2],
        honest_latencies.last().copied().unwrap_or_default()
    );
    assert_eq!(flood.failed, 0, "busy answers are answers, not failures");
    // The burst plus what the rate earned while the flood lasted (and slack for the start).
    let earned = 40.0 + 20.0 * elapsed.as_secs_f64() + 5.0;
    assert!(
        (flood.answered as f64) <= earned,
        "the flooder got {} real answers, its budget was {earned:.0}",
        flood.answered
    );
    assert!(
        flood.busy > FLOOD / 2,
        "most of the flood was turned away: {flood:?}"
    );
    assert_eq!(
        fair.answered, HONEST,
        "every request of the honest peer got a real answer: {fair:?}"
    );
}
