//! The engine's side of the refused-change record (see `crate::refused`): what it notes when
//! a batch is admitted, and what it tells the node for `show`, `list` and `network join`.
//!
//! Kept apart from ingest so that the admission logic stays about admission: ingest hands over
//! which changes were refused and why, and which were admitted; this module turns that into
//! the bounded, persisted record.

use super::{store_err, Engine, EngineError, PeerKey};
use crate::artefact::ArtefactId;
use crate::identity::{OrgNumber, PublicKey};
use crate::refused::{RefusalReason, RefusedChange, RefusedLog};
use crate::store::Store;
use crate::trust::WriterStanding as Standing;
use automerge::ChangeHash;
use std::collections::HashMap;

/// A change a batch refused, as ingest knows it: its author, and the reason when it is not
/// the author's standing (`None`: authorization refused it, and where the author stands in the
/// network says why).
pub(super) type Refusal = (ChangeHash, PublicKey, Option<RefusalReason>);

impl<S: Store, P: PeerKey> Engine<S, P> {
    /// Who wrote each refused change and why, with the author's organisation. Where an author
    /// stands is looked up once per author, not once per change: a peer may send thousands of
    /// refused changes by one key, and an uncertified key's lookup goes through every
    /// certificate.
    fn describe_refusals(&self, refused: &[Refusal]) -> Vec<(ChangeHash, RefusedChange)> {
        let mut standings: HashMap<PublicKey, (Option<OrgNumber>, Option<Standing>)> =
            HashMap::new();
        refused
            .iter()
            .map(|(hash, author, reason)| {
                let (org, standing) =
                    *standings
                        .entry(*author)
                        .or_insert_with(|| match &self.trust {
                            Some(trust) => {
                                let (org, standing) = trust.writer_standing(author);
                                (org, Some(standing))
                            }
                            None => (None, None),
                        });
                let reason = reason.unwrap_or(match standing {
                    Some(Standing::Member) => RefusalReason::NotMaintainer,
                    Some(Standing::NotAdmitted) => RefusalReason::NotAdmitted,
                    Some(Standing::Revoked) => RefusalReason::NodeRevoked,
                    Some(Standing::Unknown) => RefusalReason::UnknownNode,
                    // Outside a network only a bad proof or a broken rule refuses a change.
                    None => RefusalReason::Invalid,
                });
                (
                    *hash,
                    RefusedChange {
                        author: *author,
                        org,
                        reason,
                    },
                )
            })
            .collect()
    }

    /// The refused changes recorded for artefact `id` (empty when none). A record that does not
    /// decode (damaged on disk) counts as empty; the next refusal rewrites it.
    pub fn refused_changes(&self, id: &ArtefactId) -> Result<RefusedLog, EngineError> {
        Ok(self
            .store
            .refused(id)
            .map_err(store_err)?
            .and_then(|bytes| RefusedLog::decode(&bytes).ok())
            .unwrap_or_default())
    }

    /// Notes what a batch did to artefact `id`: `refused` changes are recorded (only while
    /// the node holds the artefact, which bounds the number of records), `admitted` ones leave
    /// the record. One read and at most one write of the record per batch, however many
    /// changes it holds. Returns whether the stored record changed.
    pub(super) fn note_refusals(
        &mut self,
        id: &ArtefactId,
        refused: &[Refusal],
        admitted: &[ChangeHash],
        held: bool,
    ) -> Result<bool, EngineError> {
        let refused = if held { refused } else { &[] };
        if refused.is_empty() && admitted.is_empty() {
            return Ok(false);
        }
        let mut log = self.refused_changes(id)?;
        let mut changed = false;
        for hash in admitted {
            changed |= log.admitted(hash);
        }
        changed |= log.record_batch(&self.describe_refusals(refused));
        if changed {
            let bytes = (!log.is_empty()).then(|| log.encode());
            self.store
                .put_refused(id, bytes.as_deref())
                .map_err(store_err)?;
        }
        Ok(changed)
    }
}
