//! Per-peer penalties for sending bad data, and temporary bans.
//!
//! Every time the engine refuses data from a peer (`Event::Rejected`: a malformed message, a bad
//! signature, an unauthorised change) the event loop calls [`Penalties::record`]. Each rejection
//! adds 1 to the peer's score, and the score halves every [`HALF_LIFE`], so an honest peer that
//! now and then relays something stale never gets near the threshold, while a peer that keeps
//! sending garbage does. When the score reaches the threshold the peer is banned for
//! [`BAN_FOR`]: the event loop disconnects it and refuses its connections until
//! [`Penalties::expired`] reports the ban over.
//!
//! Like [`super::backoff`], the struct is driven by the `Instant` the caller passes in, never by
//! the clock itself, so it is deterministic and tested without sleeping.

use std::collections::HashMap;
use std::hash::Hash;
use std::time::{Duration, Instant};

/// Score at which a peer is banned (rejections, decayed).
pub(crate) const THRESHOLD: f64 = 20.0;
/// The score halves every this long.
pub(crate) const HALF_LIFE: Duration = Duration::from_secs(60);
/// How long a ban lasts.
pub(crate) const BAN_FOR: Duration = Duration::from_secs(10 * 60);
/// A score below this is forgotten (keeps the map from growing with every peer ever seen).
const FORGET_BELOW: f64 = 0.01;

#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct PenaltyConfig {
    pub threshold: f64,
    pub half_life: Duration,
    pub ban_for: Duration,
}

impl Default for PenaltyConfig {
    fn default() -> Self {
        PenaltyConfig {
            threshold: THRESHOLD,
            half_life: HALF_LIFE,
            ban_for: BAN_FOR,
        }
    }
}

/// What [`Penalties::record`] decided.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Verdict {
    /// Counted; the peer stays (its current score).
    Counted { score: f64 },
    /// The score reached the threshold: ban the peer until `until`.
    Ban { score: f64, until: Instant },
    /// The peer is already banned (data still in flight when the ban began); nothing to do.
    AlreadyBanned,
}

#[derive(Clone, Copy, Debug)]
struct Score {
    value: f64,
    at: Instant,
}

/// Decaying rejection scores and bans, one per peer `K`.
#[derive(Debug)]
pub(crate) struct Penalties<K> {
    config: PenaltyConfig,
    scores: HashMap<K, Score>,
    banned: HashMap<K, Instant>,
}

impl<K: Hash + Eq + Clone> Default for Penalties<K> {
    fn default() -> Self {
        Penalties::new(PenaltyConfig::default())
    }
}

impl<K: Hash + Eq + Clone> Penalties<K> {
    pub(crate) fn new(config: PenaltyConfig) -> Self {
        Penalties {
            config,
            scores: HashMap::new(),
            banned: HashMap::new(),
        }
    }

    fn decayed(&self, score: Score, now: Instant) -> f64 {
        let elapsed = now.saturating_duration_since(score.at).as_secs_f64();
        let half_life = self.config.half_life.as_secs_f64();
        if half_life <= 0.0 {
            return 0.0;
        }
        score.value * 0.5f64.powf(elapsed / half_life)
    }

    /// The peer's current score (0 if unknown).
    pub(crate) fn score(&self, peer: &K, now: Instant) -> f64 {
        self.scores.get(peer).map_or(0.0, |s| self.decayed(*s, now))
    }

    /// True while `peer` is banned.
    pub(crate) fn is_banned(&self, peer: &K, now: Instant) -> bool {
        self.banned.get(peer).is_some_and(|until| now < *until)
    }

    /// Counts one rejection of data from `peer` at `now`.
    pub(crate) fn record(&mut self, peer: K, now: Instant) -> Verdict {
        if self.is_banned(&peer, now) {
            return Verdict::AlreadyBanned;
        }
        let score = self.score(&peer, now) + 1.0;
        if score >= self.config.threshold {
            // The ban starts afresh: after it the peer begins with a clean slate.
            self.scores.remove(&peer);
            let until = now + self.config.ban_for;
            self.banned.insert(peer, until);
            Verdict::Ban { score, until }
        } else {
            self.scores.insert(
                peer,
                Score {
                    value: score,
                    at: now,
                },
            );
            Verdict::Counted { score }
        }
    }

    /// Removes and returns every peer whose ban is over at `now`; also forgets scores that have
    /// decayed to nothing.
    pub(crate) fn expired(&mut self, now: Instant) -> Vec<K> {
        let over: Vec<K> = self
            .banned
            .iter()
            .filter(|(_, until)| now >= **until)
            .map(|(k, _)| k.clone())
            .collect();
        for k in &over {
            self.banned.remove(k);
        }
        let config = self.config;
        let half_life = config.half_life.as_secs_f64();
        self.scores.retain(|_, s| {
            let elapsed = now.saturating_duration_since(s.at).as_secs_f64();
            half_life > 0.0 && s.value * 0.5f64.powf(elapsed / half_life) >= FORGET_BELOW
        });
        over
    }

    /// How many peers are banned at the moment.
    #[allow(dead_code)] // used by tests; handy for a future status field
    pub(crate) fn banned_count(&self) -> usize {
        self.banned.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: Duration = Duration::from_secs(60);

    #[test]
    fn a_peer_is_banned_when_its_score_reaches_the_threshold() {
        let mut p = Penalties::default();
        let t0 = Instant::now();
        for i in 1..20 {
            assert_eq!(
                p.record("mallory", t0),
                Verdict::Counted { score: i as f64 },
                "rejection {i}"
            );
        }
        assert!(!p.is_banned(&"mallory", t0));
        match p.record("mallory", t0) {
            Verdict::Ban { score, until } => {
                assert_eq!(score, 20.0);
                assert_eq!(until, t0 + BAN_FOR);
            }
            other => panic!("expected a ban, got {other:?}"),
        }
        assert!(p.is_banned(&"mallory", t0));
        assert!(p.is_banned(&"mallory", t0 + BAN_FOR - Duration::from_secs(1)));
        // Rejections of data still in flight do not start a new ban.
        assert_eq!(p.record("mallory", t0), Verdict::AlreadyBanned);
        // Other peers are not affected.
        assert!(!p.is_banned(&"alice", t0));
        assert_eq!(p.record("alice", t0), Verdict::Counted { score: 1.0 });
    }

    #[test]
    fn the_score_halves_every_half_life() {
        let mut p = Penalties::default();
        let t0 = Instant::now();
        for _ in 0..16 {
            p.record("bob", t0);
        }
        assert!((p.score(&"bob", t0) - 16.0).abs() < 1e-9);
        assert!((p.score(&"bob", t0 + MIN) - 8.0).abs() < 1e-9);
        assert!((p.score(&"bob", t0 + 2 * MIN) - 4.0).abs() < 1e-9);
        assert!((p.score(&"bob", t0 + MIN / 2) - 16.0 / 2f64.sqrt()).abs() < 1e-9);
        // After a minute, one more rejection gives 9, not 17.
        assert_eq!(p.record("bob", t0 + MIN), Verdict::Counted { score: 9.0 });
    }

    #[test]
    fn a_slow_trickle_of_rejections_never_bans() {
        // One rejection every 10 s settles at about 1 / (1 - 2^(-1/6)) = 9.2, below 20.
        let mut p = Penalties::default();
        let t0 = Instant::now();
        for i in 0..1000u32 {
            let v = p.record("relay", t0 + Duration::from_secs(10) * i);
            assert!(
                matches!(v, Verdict::Counted { score } if score < 10.0),
                "{i}: {v:?}"
            );
        }
    }

    #[test]
    fn a_fast_burst_bans_even_with_decay() {
        // Ten rejections a second: the threshold is reached within a few seconds.
        let mut p = Penalties::default();
        let t0 = Instant::now();
        let banned_at = (0..100u32)
            .find(|i| {
                matches!(
                    p.record("spammer", t0 + Duration::from_millis(100) * *i),
                    Verdict::Ban { .. }
                )
            })
            .expect("banned");
        assert!(banned_at < 25, "banned after {banned_at} rejections");
    }

    #[test]
    fn bans_expire_and_the_peer_starts_afresh() {
        let config = PenaltyConfig {
            threshold: 3.0,
            half_life: MIN,
            ban_for: 10 * MIN,
        };
        let mut p = Penalties::new(config);
        let t0 = Instant::now();
        p.record(1u8, t0);
        p.record(1u8, t0);
        assert!(matches!(p.record(1u8, t0), Verdict::Ban { .. }));
        assert!(p.expired(t0 + 9 * MIN).is_empty());
        assert!(p.is_banned(&1, t0 + 9 * MIN));
        assert_eq!(p.expired(t0 + 10 * MIN), vec![1u8]);
        assert!(!p.is_banned(&1, t0 + 10 * MIN));
        assert_eq!(p.banned_count(), 0);
        // Expired only once.
        assert!(p.expired(t0 + 11 * MIN).is_empty());
        // A clean slate: one rejection after the ban is just 1.
        assert_eq!(
            p.record(1u8, t0 + 10 * MIN),
            Verdict::Counted { score: 1.0 }
        );
    }

    #[test]
    fn decayed_scores_are_forgotten() {
        let mut p = Penalties::default();
        let t0 = Instant::now();
        p.record("once", t0);
        p.expired(t0 + MIN);
        assert!(p.scores.contains_key("once"));
        p.expired(t0 + 10 * MIN);
        assert!(!p.scores.contains_key("once"));
    }

    #[test]
    fn a_threshold_of_one_bans_on_the_first_rejection() {
        let mut p = Penalties::new(PenaltyConfig {
            threshold: 1.0,
            ..PenaltyConfig::default()
        });
        assert!(matches!(p.record("x", Instant::now()), Verdict::Ban { .. }));
    }
}
