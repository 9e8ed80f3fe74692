//! Changes a node refused, per artefact: remembered so that nothing is silently lost.
//!
//! Inside a network a node refuses changes whose author may not write (see `authz`), and
//! everything built on them. Without a record, two nodes can then hold different histories of
//! the same artefact while both say it is complete: a silent fork. So the engine keeps, per
//! artefact, which changes it refused, by which author and organisation, and why; the node shows
//! it next to `complete` and says what would admit them.
//!
//! A peer controls what it sends, so the record is bounded: at most [`MAX_REFUSED_PER_ARTEFACT`]
//! distinct change hashes per artefact, and beyond that only a count (`overflow`, "at least").
//! Only artefacts the node holds get a record, so the number of records is bounded by what it
//! holds. A change that is admitted later (after an `access grant`, an admission, an accepted
//! proposal) leaves the record. Records are plain bytes in the `Store` (postcard), so they
//! survive a restart.

use crate::identity::{OrgNumber, PublicKey};
use automerge::ChangeHash;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Distinct refused changes remembered per artefact; more are only counted.
pub const MAX_REFUSED_PER_ARTEFACT: usize = 256;

/// Format version in front of an encoded record.
const RECORD_VERSION: u8 = 1;

/// Why a change was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum RefusalReason {
    /// Its author's organisation is admitted but neither owns nor maintains the artefact (or
    /// was removed as a maintainer before the change).
    NotMaintainer,
    /// Its author's node is certified for an organisation that is not admitted.
    NotAdmitted,
    /// Its author's node key was revoked by its organisation.
    NodeRevoked,
    /// Its author's node is certified for no organisation this node knows.
    UnknownNode,
    /// It builds on a change that was refused.
    BuildsOnRefused,
    /// It breaks a rule every node applies (the path rule), or does not apply.
    Invalid,
}

impl RefusalReason {
    /// The stable name used in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            RefusalReason::NotMaintainer => "not_maintainer",
            RefusalReason::NotAdmitted => "not_admitted",
            RefusalReason::NodeRevoked => "node_revoked",
            RefusalReason::UnknownNode => "unknown_node",
            RefusalReason::BuildsOnRefused => "builds_on_refused",
            RefusalReason::Invalid => "invalid",
        }
    }

    /// The reason a stable name ([`RefusalReason::as_str`]) stands for.
    pub fn from_name(name: &str) -> Option<Self> {
        [
            RefusalReason::NotMaintainer,
            RefusalReason::NotAdmitted,
            RefusalReason::NodeRevoked,
            RefusalReason::UnknownNode,
            RefusalReason::BuildsOnRefused,
            RefusalReason::Invalid,
        ]
        .into_iter()
        .find(|r| r.as_str() == name)
    }

    /// The reason in words, for people.
    pub fn text(self) -> &'static str {
        match self {
            RefusalReason::NotMaintainer => "not a maintainer",
            RefusalReason::NotAdmitted => "organisation not admitted",
            RefusalReason::NodeRevoked => "node key revoked",
            RefusalReason::UnknownNode => "node not certified by an admitted organisation",
            RefusalReason::BuildsOnRefused => "built on refused changes",
            RefusalReason::Invalid => "breaks the rules every node applies",
        }
    }
}

/// One refused change: who wrote it and why it was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefusedChange {
    pub author: PublicKey,
    /// The organisation the author's node is certified for, when known.
    pub org: Option<OrgNumber>,
    pub reason: RefusalReason,
}

/// Refused changes grouped by organisation (or, without one, by author) and reason.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RefusedGroup {
    pub org: Option<OrgNumber>,
    /// Set when the organisation is unknown: the author's node key.
    pub author: Option<PublicKey>,
    pub reason: RefusalReason,
    pub count: u64,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RefusedError {
    #[error("refused-change record of unknown format {0}")]
    Version(u8),
    #[error("malformed refused-change record: {0}")]
    Malformed(String),
}

/// The refused changes of one artefact.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefusedLog {
    entries: BTreeMap<[u8; 32], RefusedChange>,
    /// Refusals beyond [`MAX_REFUSED_PER_ARTEFACT`], counted but not remembered one by one.
    overflow: u64,
}

impl RefusedLog {
    /// Records a refusal; returns whether the record changed. A change refused again takes the
    /// latest reason (an organisation admitted since is now refused as not a maintainer) and
    /// still counts once. Beyond the bound every call counts; for what a peer sent, use
    /// [`RefusedLog::record_batch`], which a repeated offer does not inflate.
    pub fn record(&mut self, hash: &ChangeHash, change: RefusedChange) -> bool {
        if let Some(entry) = self.entries.get_mut(&hash.0) {
            let changed = *entry != change;
            *entry = change;
            return changed;
        }
        if self.entries.len() >= MAX_REFUSED_PER_ARTEFACT {
            self.overflow = self.overflow.saturating_add(1);
        } else {
            self.entries.insert(hash.0, change);
        }
        true
    }

    /// Records the refusals of one batch (what one reply or one accepted proposal brought);
    /// returns whether the record changed. Beyond the bound, the overflow becomes the largest
    /// number of one batch's refusals that could not be remembered: a lower bound that a peer
    /// cannot inflate by offering the same changes again (which it does after every trust
    /// change, when this node asks for what it refused before), where counting each offer
    /// would grow without end.
    pub fn record_batch(&mut self, refused: &[(ChangeHash, RefusedChange)]) -> bool {
        let mut changed = false;
        let mut unremembered: u64 = 0;
        for (hash, change) in refused {
            if let Some(entry) = self.entries.get_mut(&hash.0) {
                changed |= *entry != *change;
                *entry = *change;
            } else if self.entries.len() >= MAX_REFUSED_PER_ARTEFACT {
                unremembered = unremembered.saturating_add(1);
            } else {
                self.entries.insert(hash.0, *change);
                changed = true;
            }
        }
        if unremembered > self.overflow {
            self.overflow = unremembered;
            changed = true;
        }
        changed
    }

    /// A change joined after all: forget its refusal. Returns whether the record changed. Once
    /// every remembered refusal is gone, the overflow count goes too: the same sync that
    /// admitted them offers the others again, and what is still refused is recorded anew.
    pub fn admitted(&mut self, hash: &ChangeHash) -> bool {
        let removed = self.entries.remove(&hash.0).is_some();
        if removed && self.entries.is_empty() {
            self.overflow = 0;
        }
        removed
    }

    /// Whether `hash` is recorded as refused.
    pub fn contains(&self, hash: &ChangeHash) -> bool {
        self.entries.contains_key(&hash.0)
    }

    /// How many changes were refused (at least: beyond the bound only a count is kept).
    pub fn count(&self) -> u64 {
        (self.entries.len() as u64).saturating_add(self.overflow)
    }

    /// Refusals counted but not remembered.
    pub fn overflow(&self) -> u64 {
        self.overflow
    }

    pub fn is_empty(&self) -> bool {
        self.count() == 0
    }

    /// The remembered refusals by organisation (or author) and reason, largest first.
    pub fn groups(&self) -> Vec<RefusedGroup> {
        let mut counts: BTreeMap<(Option<OrgNumber>, Option<PublicKey>, RefusalReason), u64> =
            BTreeMap::new();
        for c in self.entries.values() {
            let author = if c.org.is_none() {
                Some(c.author)
            } else {
                None
            };
            *counts.entry((c.org, author, c.reason)).or_default() += 1;
        }
        let mut groups: Vec<RefusedGroup> = counts
            .into_iter()
            .map(|((org, author, reason), count)| RefusedGroup {
                org,
                author,
                reason,
                count,
            })
            .collect();
        groups.sort_by_key(|g| std::cmp::Reverse(g.count));
        groups
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut out = vec![RECORD_VERSION];
        // Encoding plain maps, keys and enums into a Vec cannot fail.
        out.extend(postcard::to_allocvec(self).unwrap_or_default());
        out
    }

    pub fn decode(bytes: &[u8]) -> Result<Self, RefusedError> {
        match bytes.split_first() {
            Some((&RECORD_VERSION, rest)) => {
                postcard::from_bytes(rest).map_err(|e| RefusedError::Malformed(e.to_string()))
            }
            Some((&v, _)) => Err(RefusedError::Version(v)),
            None => Err(RefusedError::Malformed("empty".into())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hash(i: u32) -> ChangeHash {
        let mut h = [0u8; 32];
        h[..4].copy_from_slice(&i.to_be_bytes());
        ChangeHash(h)
    }

    fn by(org: Option<&str>, reason: RefusalReason) -> RefusedChange {
        RefusedChange {
            author: PublicKey([7; 32]),
            org: org.map(|o| o.parse().expect("valid org number")),
            reason,
        }
    }

    #[test]
    fn counts_distinct_changes_and_groups_them() {
        let mut log = RefusedLog::default();
        assert!(log.record(
            &hash(1),
            by(Some("942110464"), RefusalReason::NotMaintainer)
        ));
        assert!(log.record(
            &hash(2),
            by(Some("942110464"), RefusalReason::NotMaintainer)
        ));
        // Refused again for another reason: the latest reason, still one change.
        assert!(log.record(&hash(1), by(Some("942110464"), RefusalReason::NotAdmitted)));
        assert!(log.record(
            &hash(1),
            by(Some("942110464"), RefusalReason::NotMaintainer)
        ));
        // The same change again (a peer offering it twice) counts once.
        assert!(!log.record(
            &hash(2),
            by(Some("942110464"), RefusalReason::NotMaintainer)
        ));
        assert!(log.record(&hash(3), by(None, RefusalReason::UnknownNode)));
        assert_eq!(log.count(), 3);
        let groups = log.groups();
        assert_eq!(groups.len(), 2, "{groups:?}");
        assert_eq!(groups[0].count, 2);
        assert_eq!(groups[0].reason, RefusalReason::NotMaintainer);
        assert_eq!(
            groups[0].org.map(|o| o.to_string()).as_deref(),
            Some("942110464")
        );
        assert_eq!(groups[0].author, None);
        assert_eq!(groups[1].author, Some(PublicKey([7; 32])));
    }

    #[test]
    fn is_bounded_whatever_a_peer_sends() {
        let mut log = RefusedLog::default();
        for i in 0..10_000 {
            log.record(&hash(i), by(None, RefusalReason::UnknownNode));
        }
        assert_eq!(log.entries.len(), MAX_REFUSED_PER_ARTEFACT);
        assert_eq!(log.count(), 10_000);
        let bytes = log.encode();
        assert!(
            bytes.len() < 100 * MAX_REFUSED_PER_ARTEFACT,
            "{} bytes",
            bytes.len()
        );
    }

    #[test]
    fn a_batch_offered_again_does_not_grow_the_overflow() {
        let batch: Vec<(ChangeHash, RefusedChange)> = (0..1000)
            .map(|i| (hash(i), by(None, RefusalReason::UnknownNode)))
            .collect();
        let mut log = RefusedLog::default();
        assert!(log.record_batch(&batch));
        assert_eq!(log.entries.len(), MAX_REFUSED_PER_ARTEFACT);
        assert_eq!(log.count(), 1000);
        // The peer offers the same changes again after a trust change: nothing changes.
        assert!(!log.record_batch(&batch));
        assert!(!log.record_batch(&batch[900..]));
        assert_eq!(log.count(), 1000);
        // A larger batch raises the lower bound.
        let more: Vec<(ChangeHash, RefusedChange)> = (0..2000)
            .map(|i| (hash(i), by(None, RefusalReason::UnknownNode)))
            .collect();
        assert!(log.record_batch(&more));
        assert_eq!(log.count(), 2000);
        // A new reason for a remembered change is a change of the record.
        assert!(log.record_batch(&[(hash(0), by(None, RefusalReason::NodeRevoked))]));
    }

    #[test]
    fn admission_clears_the_refusal() {
        let mut log = RefusedLog::default();
        log.record(
            &hash(1),
            by(Some("942110464"), RefusalReason::NotMaintainer),
        );
        log.record(
            &hash(2),
            by(Some("942110464"), RefusalReason::BuildsOnRefused),
        );
        assert!(log.admitted(&hash(1)));
        assert!(!log.admitted(&hash(1)));
        assert!(!log.contains(&hash(1)) && log.contains(&hash(2)));
        assert_eq!(log.count(), 1);
        assert!(log.admitted(&hash(2)));
        assert!(log.is_empty());
    }

    #[test]
    fn reasons_are_found_by_their_names() {
        for r in [
            RefusalReason::NotMaintainer,
            RefusalReason::NotAdmitted,
            RefusalReason::NodeRevoked,
            RefusalReason::UnknownNode,
            RefusalReason::BuildsOnRefused,
            RefusalReason::Invalid,
        ] {
            assert_eq!(RefusalReason::from_name(r.as_str()), Some(r));
        }
        assert_eq!(RefusalReason::from_name("not_recorded"), None);
    }

    #[test]
    fn round_trips_and_refuses_garbage() {
        let mut log = RefusedLog::default();
        log.record(&hash(1), by(Some("942110464"), RefusalReason::NotAdmitted));
        assert_eq!(RefusedLog::decode(&log.encode()), Ok(log));
        assert_eq!(
            RefusedLog::decode(&[9, 1, 2]),
            Err(RefusedError::Version(9))
        );
        assert!(RefusedLog::decode(&[]).is_err());
        assert!(RefusedLog::decode(&[RECORD_VERSION, 0xff, 0xff, 0xff]).is_err());
    }
}
