//! A deterministic in-memory network of engines, for tests and simulations.
//!
//! Requests are answered synchronously, gossip reaches direct neighbours, and links can be cut
//! and healed. The order in which nodes take turns is drawn from a seeded generator, so a failing
//! run can be replayed exactly from its seed.

use crate::engine::{Engine, Event, Output};
use crate::identity::NodeKey;
use crate::store::MemStore;
use std::collections::BTreeSet;

/// A tiny seeded generator (xorshift64*): enough to shuffle turn order reproducibly.
#[derive(Clone, Debug)]
pub struct SimRng(u64);

impl SimRng {
    pub fn new(seed: u64) -> Self {
        SimRng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n.max(1) as u64) as usize
    }

    pub fn bytes<const N: usize>(&mut self) -> [u8; N] {
        let mut out = [0u8; N];
        for chunk in out.chunks_mut(8) {
            let v = self.next_u64().to_le_bytes();
            chunk.copy_from_slice(&v[..chunk.len()]);
        }
        out
    }
}

/// Counters of what crossed the simulated network.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Traffic {
    pub requests: usize,
    pub request_bytes: usize,
    pub response_bytes: usize,
    pub announces: usize,
    pub snapshots: usize,
}

pub struct SimNet {
    pub nodes: Vec<Engine<MemStore, usize>>,
    links: BTreeSet<(usize, usize)>,
    pub rng: SimRng,
    /// Virtual time in seconds, advanced by the caller.
    pub now: i64,
    pub events: Vec<(usize, Event)>,
    pub traffic: Traffic,
}

impl SimNet {
    pub fn new(count: usize, seed: u64) -> Self {
        let mut rng = SimRng::new(seed);
        let nodes = (0..count)
            .map(|_| Engine::new(NodeKey::from_secret(rng.bytes()), MemStore::new()))
            .collect();
        SimNet {
            nodes,
            links: BTreeSet::new(),
            rng,
            now: 1_700_000_000,
            events: Vec::new(),
            traffic: Traffic::default(),
        }
    }

    fn key(a: usize, b: usize) -> (usize, usize) {
        (a.min(b), a.max(b))
    }

    pub fn linked(&self, a: usize, b: usize) -> bool {
        self.links.contains(&Self::key(a, b))
    }

    pub fn connect(&mut self, a: usize, b: usize) {
        if self.links.insert(Self::key(a, b)) {
            let (ka, kb) = (self.nodes[a].public_key(), self.nodes[b].public_key());
            self.nodes[a].handle_connected(b, Some(kb));
            self.nodes[b].handle_connected(a, Some(ka));
        }
    }

    pub fn disconnect(&mut self, a: usize, b: usize) {
        if self.links.remove(&Self::key(a, b)) {
            self.nodes[a].handle_disconnected(&b);
            self.nodes[b].handle_disconnected(&a);
        }
    }

    pub fn nonce(&mut self) -> [u8; 8] {
        self.rng.bytes()
    }

    /// Delivers messages until no node has anything left to send (or `max_steps` outputs).
    /// When the network goes quiet, every node gets a trust tick at the current time, as a real
    /// node's timer would give it (work put off to the next tick happens then), and delivery
    /// goes on if that made anyone speak. Returns the number of outputs processed.
    pub fn run(&mut self, max_steps: usize) -> usize {
        let mut steps = 0;
        loop {
            steps += self.run_until_quiet(max_steps - steps);
            if steps >= max_steps {
                return steps;
            }
            let now = self.now;
            for node in &mut self.nodes {
                node.handle_trust_tick(now);
            }
            if !self.nodes.iter().any(|n| n.has_pending_output()) {
                return steps;
            }
        }
    }

    fn run_until_quiet(&mut self, max_steps: usize) -> usize {
        let mut steps = 0;
        loop {
            let busy: Vec<usize> = (0..self.nodes.len()).collect();
            let mut progressed = false;
            let start = self.rng.below(busy.len());
            for offset in 0..busy.len() {
                let me = busy[(start + offset) % busy.len()];
                let Some(output) = self.nodes[me].poll_output() else {
                    continue;
                };
                progressed = true;
                steps += 1;
                self.deliver(me, output);
                if steps >= max_steps {
                    return steps;
                }
            }
            if !progressed {
                return steps;
            }
        }
    }

    fn deliver(&mut self, me: usize, output: Output<usize>) {
        match output {
            Output::Request { peer, request } => {
                if !self.linked(me, peer) {
                    self.nodes[me].handle_request_failed(peer, &request);
                    return;
                }
                let bytes = request.encode();
                self.traffic.requests += 1;
                self.traffic.request_bytes += bytes.len();
                let response = self.nodes[peer].handle_request(me, &bytes);
                self.traffic.response_bytes += response.len();
                if matches!(
                    crate::wire::Response::decode(&response),
                    Ok(crate::wire::Response::Snapshot { .. })
                ) {
                    self.traffic.snapshots += 1;
                }
                self.nodes[me].handle_response(peer, &request, &response);
            }
            Output::Announce(announce) => {
                let bytes = announce.encode();
                let neighbours: Vec<usize> = (0..self.nodes.len())
                    .filter(|&n| n != me && self.linked(me, n))
                    .collect();
                for n in neighbours {
                    self.traffic.announces += 1;
                    self.nodes[n].handle_announce(me, &bytes);
                }
            }
            Output::Statement(statement) => {
                // Gossipsub floods a message through the mesh: every node reachable over links.
                let bytes = statement.encode();
                let mut reached = vec![me];
                let mut i = 0;
                while i < reached.len() {
                    let from = reached[i];
                    for n in 0..self.nodes.len() {
                        if !reached.contains(&n) && self.linked(from, n) {
                            reached.push(n);
                        }
                    }
                    i += 1;
                }
                for n in reached.into_iter().skip(1) {
                    self.traffic.announces += 1;
                    self.nodes[n].handle_statement(me, &bytes, self.now);
                }
            }
            Output::Event(event) => self.events.push((me, event)),
        }
    }
}

/// The organisations tests and simulations play, by their real organisation numbers.
pub mod orgs {
    use crate::identity::OrgNumber;

    fn number(digits: &str) -> OrgNumber {
        // Valid by construction (mod-11 check digits); a test sees a panic if one is mistyped.
        OrgNumber::parse(digits).expect("a valid organisation number")
    }

    pub fn ks() -> OrgNumber {
        number("971032146")
    }
    pub fn bergen() -> OrgNumber {
        number("964338531")
    }
    pub fn trondheim() -> OrgNumber {
        number("942110464")
    }
    pub fn oslo() -> OrgNumber {
        number("974760673")
    }
}
