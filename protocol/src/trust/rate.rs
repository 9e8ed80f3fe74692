//! How fast one peer may hand this node statements: a token bucket per peer.
//!
//! Each statement a peer delivers that passes the cheap checks (new, from a member or within an
//! applicant's allowance) takes a token before its signature is checked and it is stored; a
//! statement that finds the bucket empty is dropped and counted, and the peer is asked again for
//! what it has once its bucket has refilled. Time is passed in (whole seconds, the engine's
//! clock), as in the rest of the protocol crate and like `node/src/net/work.rs` does for
//! requests, so the limits are tested without sleeping.

use std::collections::HashMap;

/// A bucket's size and refill rate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateLimits {
    /// Tokens added per second, sustained.
    pub per_sec: u64,
    /// Tokens a bucket holds when full (what a peer may deliver at once after a quiet spell).
    pub burst: u64,
}

/// The statement budget every peer gets: 100 a second sustained, bursts of 5,000. A burst
/// takes a full response to a statement request (at most `MAX_STATEMENTS_PER_MESSAGE`, 4,096),
/// so a node joining a network gets the first 4,096 statements at once and the rest at 100 a
/// second; a peer that floods gets its statements signature-checked at no more than that pace.
pub const STATEMENT_RATE: RateLimits = RateLimits {
    per_sec: 100,
    burst: 5_000,
};

#[derive(Clone, Copy, Debug)]
struct Bucket {
    tokens: u64,
    updated: i64,
}

/// One bucket per peer, by the peer's name.
#[derive(Debug)]
pub struct PeerRates {
    limits: RateLimits,
    buckets: HashMap<String, Bucket>,
}

impl PeerRates {
    pub fn new(limits: RateLimits) -> Self {
        PeerRates {
            limits,
            buckets: HashMap::new(),
        }
    }

    fn refill(&mut self, peer: &str, now: i64) -> &mut Bucket {
        let limits = self.limits;
        let bucket = self.buckets.entry(peer.to_string()).or_insert(Bucket {
            tokens: limits.burst,
            updated: now,
        });
        // A clock that went back adds nothing (and takes nothing away).
        let elapsed = u64::try_from(now.saturating_sub(bucket.updated)).unwrap_or(0);
        bucket.tokens = bucket
            .tokens
            .saturating_add(elapsed.saturating_mul(limits.per_sec))
            .min(limits.burst);
        bucket.updated = bucket.updated.max(now);
        bucket
    }

    /// Takes a token of `peer` if it has one left at `now`.
    pub fn take(&mut self, peer: &str, now: i64) -> bool {
        let bucket = self.refill(peer, now);
        if bucket.tokens == 0 {
            return false;
        }
        bucket.tokens -= 1;
        true
    }

    /// The tokens `peer` would have at `now`, without touching its bucket.
    pub fn peek(&self, peer: &str, now: i64) -> u64 {
        let Some(bucket) = self.buckets.get(peer) else {
            return self.limits.burst;
        };
        let elapsed = u64::try_from(now.saturating_sub(bucket.updated)).unwrap_or(0);
        bucket
            .tokens
            .saturating_add(elapsed.saturating_mul(self.limits.per_sec))
            .min(self.limits.burst)
    }

    /// The tokens `peer` has at `now`.
    pub fn tokens(&mut self, peer: &str, now: i64) -> u64 {
        self.refill(peer, now).tokens
    }

    pub fn limits(&self) -> RateLimits {
        self.limits
    }

    /// Forgets peers whose buckets are full again (a new bucket starts full anyway), so memory
    /// stays bounded by the peers active lately.
    pub fn forget_idle(&mut self, now: i64) {
        let limits = self.limits;
        self.buckets.retain(|_, b| {
            let elapsed = u64::try_from(now.saturating_sub(b.updated)).unwrap_or(0);
            b.tokens
                .saturating_add(elapsed.saturating_mul(limits.per_sec))
                < limits.burst
        });
    }

    #[cfg(test)]
    pub(crate) fn tracked(&self) -> usize {
        self.buckets.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: RateLimits = RateLimits {
        per_sec: 10,
        burst: 30,
    };

    #[test]
    fn a_peer_gets_its_burst_then_its_rate_and_others_are_not_affected() {
        let mut rates = PeerRates::new(LIMITS);
        let t = 1_700_000_000;
        assert!((0..30).all(|_| rates.take("a", t)));
        assert!(!rates.take("a", t), "the burst is spent");
        assert!(rates.take("b", t), "another peer has its own bucket");
        // Two seconds later: twenty more, not thirty.
        assert_eq!(rates.tokens("a", t + 2), 20);
        assert!((0..20).all(|_| rates.take("a", t + 2)));
        assert!(!rates.take("a", t + 2));
        // A long quiet spell refills to the burst, no more.
        assert_eq!(rates.tokens("a", t + 3600), 30);
    }

    #[test]
    fn a_clock_going_back_adds_nothing_and_idle_peers_are_forgotten() {
        let mut rates = PeerRates::new(LIMITS);
        let t = 1_700_000_000;
        assert!((0..30).all(|_| rates.take("a", t)));
        assert_eq!(rates.tokens("a", t - 100), 0);
        assert_eq!(rates.tokens("a", t + 1), 10);
        assert!((0..15).all(|_| rates.take("b", t)));
        rates.forget_idle(t + 1);
        assert_eq!(rates.tracked(), 2, "both still owe tokens");
        rates.forget_idle(t + 10);
        assert_eq!(rates.tracked(), 0);
    }
}
