//! The engine's side of the refused-change record (see `crate::refused`): what it notes when
//! a batch is admitted, and what it tells the node for `show`, `list` and `network join`.
//!
//! Kept apart from ingest so that the admission logic stays about admission: ingest hands over
//! which changes were refused and why, and which were admitted; this module turns that into
//! the bounded, persisted record.

use super::{store_err, Engine, EngineError, PeerKey};
use crate::artefact::ArtefactId;
use crate::identity::PublicKey;
use crate::refused::{RefusalReason, RefusedChange, RefusedLog};
use crate::store::Store;
use crate::trust::WriterStanding as Standing;
use automerge::ChangeHash;

impl<S: Store, P: PeerKey> Engine<S, P> {
    /// Why a change by `author` that authorization refused was refused.
    pub(super) fn refusal_of(&self, author: &PublicKey) -> RefusedChange {
        let (org, reason) = match &self.trust {
            None => (None, RefusalReason::Invalid),
            Some(trust) => {
                let (org, standing) = trust.writer_standing(author);
                let reason = match standing {
                    Standing::Member => RefusalReason::NotMaintainer,
                    Standing::NotAdmitted => RefusalReason::NotAdmitted,
                    Standing::Revoked => RefusalReason::NodeRevoked,
                    Standing::Unknown => RefusalReason::UnknownNode,
                };
                (org, reason)
            }
        };
        RefusedChange {
            author: *author,
            org,
            reason,
        }
    }

    /// The same author's refusal with another reason (built on a refused change, or invalid).
    pub(super) fn refusal_because(
        &self,
        author: &PublicKey,
        reason: RefusalReason,
    ) -> RefusedChange {
        let org = self
            .trust
            .as_ref()
            .and_then(|t| t.writer_standing(author).0);
        RefusedChange {
            author: *author,
            org,
            reason,
        }
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
    /// the record. Returns whether the stored record changed.
    pub(super) fn note_refusals(
        &mut self,
        id: &ArtefactId,
        refused: &[(ChangeHash, RefusedChange)],
        admitted: &[ChangeHash],
        held: bool,
    ) -> Result<bool, EngineError> {
        if refused.is_empty() && admitted.is_empty() {
            return Ok(false);
        }
        let mut log = self.refused_changes(id)?;
        let mut changed = false;
        for hash in admitted {
            changed |= log.admitted(hash);
        }
        if held {
            for (hash, change) in refused {
                changed |= log.record(hash, *change);
            }
        }
        if changed {
            let bytes = (!log.is_empty()).then(|| log.encode());
            self.store
                .put_refused(id, bytes.as_deref())
                .map_err(store_err)?;
        }
        Ok(changed)
    }
}
