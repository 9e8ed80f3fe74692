//! Per-peer work budgets: how much serving one peer may ask of this node.
//!
//! Connection and stream limits bound how many requests can be open at once, but not how fast a
//! peer may send them: a single peer asking for the same 60 MB snapshot over and over would keep
//! the event loop busy and the send buffers full, and every other peer would wait. Each peer
//! therefore has two token buckets, one counting requests and gossip messages handled for it
//! and one counting the bytes of the responses it was sent. A peer over either budget gets a
//! `Busy` answer (cheap to make, and the asker's engine simply asks again a little later)
//! until its budget refills. Budgets are per peer, so an honest peer is never slowed down by a
//! greedy one.
//!
//! Time is passed in, as in the protocol crate, so the budgets are tested without sleeping.

use std::collections::HashMap;
use std::hash::Hash;
use std::time::{Duration, Instant};

/// The budgets every peer gets.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct WorkLimits {
    /// Requests (and gossip messages) per second, sustained.
    pub requests_per_sec: f64,
    /// Requests that may come at once after a quiet spell.
    pub request_burst: f64,
    /// Response bytes per second, sustained.
    pub bytes_per_sec: f64,
    /// Response bytes that may go out at once after a quiet spell; at least one maximum-size
    /// response, so that a peer can always fetch the largest snapshot.
    pub byte_burst: f64,
}

impl Default for WorkLimits {
    fn default() -> Self {
        WorkLimits {
            requests_per_sec: 200.0,
            request_burst: 1000.0,
            bytes_per_sec: 32.0 * 1024.0 * 1024.0,
            byte_burst: 256.0 * 1024.0 * 1024.0,
        }
    }
}

#[derive(Clone, Copy, Debug)]
struct Bucket {
    requests: f64,
    bytes: f64,
    updated: Instant,
}

/// The per-peer buckets.
#[derive(Debug)]
pub(crate) struct PeerWork<P> {
    limits: WorkLimits,
    buckets: HashMap<P, Bucket>,
    /// Requests turned away since start, over all peers.
    turned_away: u64,
}

impl<P: Eq + Hash + Clone> PeerWork<P> {
    pub(crate) fn new(limits: WorkLimits) -> Self {
        PeerWork {
            limits,
            buckets: HashMap::new(),
            turned_away: 0,
        }
    }

    fn refill(&mut self, peer: &P, now: Instant) -> &mut Bucket {
        let limits = self.limits;
        let bucket = self.buckets.entry(peer.clone()).or_insert(Bucket {
            requests: limits.request_burst,
            bytes: limits.byte_burst,
            updated: now,
        });
        let elapsed = now.saturating_duration_since(bucket.updated).as_secs_f64();
        bucket.requests =
            (bucket.requests + elapsed * limits.requests_per_sec).min(limits.request_burst);
        bucket.bytes = (bucket.bytes + elapsed * limits.bytes_per_sec).min(limits.byte_burst);
        bucket.updated = now;
        bucket
    }

    /// Whether one more request (or gossip message) of `peer` may be served now; takes a token
    /// when it may. A request is refused while the peer's byte budget is spent, too.
    pub(crate) fn admit(&mut self, peer: &P, now: Instant) -> bool {
        let bucket = self.refill(peer, now);
        if bucket.requests >= 1.0 && bucket.bytes > 0.0 {
            bucket.requests -= 1.0;
            true
        } else {
            self.turned_away += 1;
            false
        }
    }

    /// Charges `bytes` of response to `peer`. The budget may go below zero (a response is sent
    /// whole); the peer then waits until it has paid that back.
    pub(crate) fn charge(&mut self, peer: &P, bytes: usize, now: Instant) {
        let bucket = self.refill(peer, now);
        bucket.bytes -= bytes as f64;
    }

    /// How long until `peer` may be served again (for the `Busy` answer's hint).
    pub(crate) fn retry_after(&mut self, peer: &P, now: Instant) -> Duration {
        let limits = self.limits;
        let bucket = self.refill(peer, now);
        let for_request = if bucket.requests >= 1.0 {
            0.0
        } else {
            (1.0 - bucket.requests) / limits.requests_per_sec
        };
        let for_bytes = if bucket.bytes > 0.0 {
            0.0
        } else {
            (1.0 - bucket.bytes) / limits.bytes_per_sec
        };
        Duration::from_secs_f64(for_request.max(for_bytes).clamp(0.001, 60.0))
    }

    /// Forgets peers whose buckets are full again: they owe nothing, and a new bucket starts
    /// full anyway. Keeps memory bounded by the peers active in the last refill period.
    pub(crate) fn forget_idle(&mut self, now: Instant) {
        let limits = self.limits;
        self.buckets.retain(|_, b| {
            let elapsed = now.saturating_duration_since(b.updated).as_secs_f64();
            b.requests + elapsed * limits.requests_per_sec < limits.request_burst
                || b.bytes + elapsed * limits.bytes_per_sec < limits.byte_burst
        });
    }

    pub(crate) fn turned_away(&self) -> u64 {
        self.turned_away
    }

    #[cfg(test)]
    fn tracked(&self) -> usize {
        self.buckets.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small() -> WorkLimits {
        WorkLimits {
            requests_per_sec: 10.0,
            request_burst: 20.0,
            bytes_per_sec: 1000.0,
            byte_burst: 5000.0,
        }
    }

    #[test]
    fn a_burst_is_served_then_the_sustained_rate() {
        let mut work = PeerWork::new(small());
        let t0 = Instant::now();
        let served = (0..100).filter(|_| work.admit(&"flood", t0)).count();
        assert_eq!(served, 20, "the burst, then nothing at the same instant");
        assert!(work.retry_after(&"flood", t0) >= Duration::from_millis(99));
        // One second later the peer has earned ten more.
        let t1 = t0 + Duration::from_secs(1);
        let served = (0..100).filter(|_| work.admit(&"flood", t1)).count();
        assert_eq!(served, 10);
        assert_eq!(work.turned_away(), 80 + 90);
    }

    #[test]
    fn one_greedy_peer_does_not_slow_another() {
        let mut work = PeerWork::new(small());
        let t0 = Instant::now();
        for _ in 0..1000 {
            work.admit(&"flood", t0);
        }
        assert!(!work.admit(&"flood", t0));
        assert!(
            (0..20).all(|_| work.admit(&"honest", t0)),
            "the honest peer has its own full budget"
        );
    }

    #[test]
    fn large_responses_spend_the_byte_budget() {
        let mut work = PeerWork::new(small());
        let t0 = Instant::now();
        assert!(work.admit(&"big", t0));
        work.charge(&"big", 9000, t0);
        assert!(!work.admit(&"big", t0), "4000 bytes over budget");
        assert!(!work.admit(&"big", t0 + Duration::from_secs(3)));
        let wait = work.retry_after(&"big", t0 + Duration::from_secs(3));
        assert!(
            wait > Duration::from_millis(900) && wait < Duration::from_millis(1100),
            "{wait:?}"
        );
        assert!(work.admit(&"big", t0 + Duration::from_millis(4100)));
    }

    #[test]
    fn idle_peers_are_forgotten() {
        let mut work = PeerWork::new(small());
        let t0 = Instant::now();
        work.admit(&"a", t0);
        for _ in 0..20 {
            work.admit(&"b", t0);
        }
        work.forget_idle(t0 + Duration::from_millis(50));
        assert_eq!(work.tracked(), 2, "neither has refilled yet");
        work.forget_idle(t0 + Duration::from_secs(5));
        assert_eq!(work.tracked(), 0);
    }
}
