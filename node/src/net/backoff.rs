//! Per-peer exponential backoff for redialling known peers.
//!
//! A peer we have never failed to reach may be dialled at once. After each failed dial the next
//! attempt waits twice as long as the previous wait (1 s, 2 s, 4 s, ... by default), capped at
//! a maximum (5 minutes by default); a successful connection forgets the peer's failures. The
//! struct is driven by the `Instant` the caller passes in, never by the clock itself, so it is
//! deterministic and tested without sleeping.

use std::collections::HashMap;
use std::hash::Hash;
use std::time::{Duration, Instant};

/// The wait after the first failed dial.
pub(crate) const INITIAL_DELAY: Duration = Duration::from_secs(1);
/// The longest wait between two dials of one peer.
pub(crate) const MAX_DELAY: Duration = Duration::from_secs(5 * 60);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Entry {
    /// Consecutive failed dials since the last success (at least 1 while an entry exists).
    failures: u32,
    /// The earliest time the peer may be dialled again.
    next_attempt: Instant,
}

/// Exponential redial backoff, one schedule per peer `K`.
#[derive(Debug)]
pub(crate) struct Backoff<K> {
    initial: Duration,
    max: Duration,
    peers: HashMap<K, Entry>,
}

impl<K: Hash + Eq> Default for Backoff<K> {
    fn default() -> Self {
        Backoff::new(INITIAL_DELAY, MAX_DELAY)
    }
}

impl<K: Hash + Eq> Backoff<K> {
    /// A backoff that waits `initial` after the first failure, doubling up to `max`.
    pub(crate) fn new(initial: Duration, max: Duration) -> Self {
        Backoff {
            initial,
            max: max.max(initial),
            peers: HashMap::new(),
        }
    }

    /// The wait after `failures` consecutive failures: `initial * 2^(failures - 1)`, capped.
    fn delay_after(&self, failures: u32) -> Duration {
        let shift = failures.saturating_sub(1).min(31);
        self.initial
            .checked_mul(1u32 << shift)
            .map_or(self.max, |d| d.min(self.max))
    }

    /// True when `peer` may be dialled at `now`: it never failed, or its wait is over.
    pub(crate) fn is_due(&self, peer: &K, now: Instant) -> bool {
        self.peers.get(peer).is_none_or(|e| now >= e.next_attempt)
    }

    /// Records a failed dial of `peer` at `now` and returns how long it must now wait.
    pub(crate) fn on_failure(&mut self, peer: K, now: Instant) -> Duration {
        let failures = self
            .peers
            .get(&peer)
            .map_or(1, |e| e.failures.saturating_add(1));
        let delay = self.delay_after(failures);
        self.peers.insert(
            peer,
            Entry {
                failures,
                next_attempt: now + delay,
            },
        );
        delay
    }

    /// Records a successful connection: the peer's failures are forgotten.
    pub(crate) fn on_success(&mut self, peer: &K) {
        self.peers.remove(peer);
    }

    /// When `peer` may next be dialled, or `None` if it may be dialled now (no failures).
    #[cfg_attr(not(test), allow(dead_code))]
    pub(crate) fn next_attempt(&self, peer: &K) -> Option<Instant> {
        self.peers.get(peer).map(|e| e.next_attempt)
    }

    /// Consecutive failures recorded for `peer`.
    pub(crate) fn failures(&self, peer: &K) -> u32 {
        self.peers.get(peer).map_or(0, |e| e.failures)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: fn(u64) -> Duration = Duration::from_secs;

    #[test]
    fn an_unknown_peer_is_due_at_once() {
        let b: Backoff<&str> = Backoff::default();
        assert!(b.is_due(&"a", Instant::now()));
        assert_eq!(b.next_attempt(&"a"), None);
        assert_eq!(b.failures(&"a"), 0);
    }

    #[test]
    fn waits_double_after_each_failure_up_to_five_minutes() {
        let mut b = Backoff::default();
        let t0 = Instant::now();
        let mut now = t0;
        let mut waits = Vec::new();
        for _ in 0..12 {
            let wait = b.on_failure("a", now);
            assert!(!b.is_due(&"a", now), "not due right after a failure");
            assert!(!b.is_due(&"a", now + wait - Duration::from_millis(1)));
            assert!(b.is_due(&"a", now + wait), "due once the wait is over");
            assert_eq!(b.next_attempt(&"a"), Some(now + wait));
            waits.push(wait.as_secs());
            now += wait;
        }
        assert_eq!(waits, [1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300, 300]);
        assert_eq!(b.failures(&"a"), 12);
    }

    #[test]
    fn success_resets_and_peers_are_independent() {
        let mut b = Backoff::default();
        let now = Instant::now();
        for _ in 0..4 {
            b.on_failure(1u8, now);
        }
        b.on_failure(2u8, now);
        assert_eq!(b.next_attempt(&1), Some(now + S(8)));
        assert_eq!(b.next_attempt(&2), Some(now + S(1)));
        assert!(b.is_due(&3, now), "a third peer is unaffected");

        b.on_success(&1);
        assert!(b.is_due(&1, now));
        assert_eq!(b.failures(&1), 0);
        assert_eq!(
            b.on_failure(1, now),
            S(1),
            "after a success the wait starts over"
        );
        assert_eq!(b.failures(&2), 1, "the other peer keeps its schedule");
    }

    #[test]
    fn the_cap_holds_for_any_number_of_failures() {
        let mut b = Backoff::new(Duration::from_millis(500), S(10));
        let now = Instant::now();
        let mut last = Duration::ZERO;
        for _ in 0..100 {
            last = b.on_failure("x", now);
            assert!(last <= S(10));
        }
        assert_eq!(last, S(10));
        assert_eq!(b.failures(&"x"), 100);
        // A maximum below the initial wait is raised to it rather than inverting the schedule.
        let mut odd = Backoff::new(S(3), S(1));
        assert_eq!(odd.on_failure("y", now), S(3));
        assert_eq!(odd.on_failure("y", now), S(3));
    }
}
