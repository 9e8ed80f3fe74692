//! Proposals: changes offered to an artefact by an organisation that may not write to it.
//!
//! Work done by a non-maintainer should reach the maintainers rather than be lost. The edit is
//! made exactly as a commit would make it (signed by the proposing node, at the version it was
//! made on), but on a copy of the document: the changes travel inside a signed `Propose`
//! statement instead of joining the artefact. A maintainer looks at what they would do
//! ([`Engine::proposal_files`]), and accepts (a signed `ProposalVerdict` naming the change
//! hashes, after which every node's authorization admits exactly those changes, with their
//! original author and signature) or declines.

use super::{Engine, EngineError, FileData, PeerKey};
use crate::artefact::{ArtefactId, FileEdit};
use crate::signed::{self, Proof};
use crate::store::Store;
use crate::trust::{ProposalView, ProposedChange, Statement, StatementId, MAX_STATEMENT_BYTES};
use crate::wire::{heads_to_wire, Head, WireChange};
use automerge::{ChangeHash, ReadDoc};

impl<S: Store, P: PeerKey> Engine<S, P> {
    /// Makes `edits` at `base` on a copy of the artefact and offers the resulting signed changes
    /// to its maintainers as a proposal. Returns the proposal's id.
    #[allow(clippy::too_many_arguments)]
    pub fn propose(
        &mut self,
        id: &ArtefactId,
        base: &[ChangeHash],
        edits: &[FileEdit],
        message: &str,
        now: i64,
        nonce: [u8; 8],
    ) -> Result<StatementId, EngineError> {
        self.store_written_blobs(edits)?;
        self.load(id)?;
        let mut copy = self
            .docs
            .get(id)
            .ok_or_else(|| EngineError::NotFound(id.to_string()))?
            .artefact
            .clone();
        let actor = signed::signed_actor(&self.key.public(), nonce);
        let resolve = self.resolved_by_edits(id, base, edits)?;
        let outcome = copy.edit_resolving(
            base,
            edits,
            &resolve,
            actor,
            now,
            message,
            super::blob_text(&self.store),
        )?;
        let Some(change) = outcome.change else {
            return Err(EngineError::Refused(
                "nothing to propose: the edits change nothing".into(),
            ));
        };
        let mut changes = Vec::new();
        for (origin, path, blob) in &outcome.origins {
            changes.push(ProposedChange {
                bytes: origin.raw_bytes().to_vec(),
                proof: Proof::Origin {
                    path: path.clone(),
                    blob: *blob,
                },
            });
        }
        changes.push(ProposedChange {
            bytes: change.raw_bytes().to_vec(),
            proof: signed::sign_change(&self.key, &change.hash()),
        });
        let mut hashes: Vec<Head> = outcome
            .origins
            .iter()
            .map(|(o, _, _)| Head(o.hash().0))
            .collect();
        hashes.push(Head(change.hash().0));
        self.check_proposal_size(&changes)?;
        self.issue(
            Statement::Propose {
                artefact: *id,
                base: heads_to_wire(base),
                hashes,
                changes,
                message: message.to_string(),
            },
            now,
        )
    }

    /// Refuses a proposal too large to travel as one statement.
    pub(super) fn check_proposal_size(
        &self,
        changes: &[ProposedChange],
    ) -> Result<(), EngineError> {
        let size: usize = changes.iter().map(|c| c.bytes.len()).sum();
        if size > MAX_STATEMENT_BYTES - 4096 {
            return Err(EngineError::Refused(format!(
                "a proposal carries at most about {} KiB of changes; this one has {} KiB: propose smaller steps",
                (MAX_STATEMENT_BYTES - 4096) / 1024,
                size / 1024
            )));
        }
        Ok(())
    }

    /// The proposals made for an artefact, oldest first.
    pub fn proposals(&mut self, id: &ArtefactId) -> Result<Vec<ProposalView>, EngineError> {
        let access = self.access(id)?;
        Ok(self
            .trust
            .as_ref()
            .map(|t| t.proposals(id, access.owner))
            .unwrap_or_default())
    }

    /// Finds proposal `proposal` (its id or a unique prefix) among all artefacts' proposals.
    pub fn find_proposal(
        &mut self,
        proposal: &str,
    ) -> Result<(ArtefactId, ProposalView), EngineError> {
        let wanted = proposal.trim().to_ascii_lowercase();
        let artefacts: Vec<ArtefactId> = match self.trust.as_ref() {
            Some(t) => t
                .statements()
                .filter(|s| matches!(s.body, Statement::Propose { .. }))
                .filter(|s| !wanted.is_empty() && s.id().to_hex().starts_with(&wanted))
                .filter_map(|s| s.body.artefact().copied())
                .collect(),
            None => Vec::new(),
        };
        let mut found = Vec::new();
        for artefact in artefacts {
            for view in self.proposals(&artefact)? {
                if view.id.to_hex().starts_with(&wanted) {
                    found.push((artefact, view));
                }
            }
        }
        found.sort_by_key(|(_, v)| v.id);
        found.dedup_by_key(|(_, v)| v.id);
        match found.len() {
            1 => Ok(found.remove(0)),
            0 => Err(EngineError::NotFound(format!("proposal {proposal}"))),
            n => Err(EngineError::Refused(format!(
                "{n} proposals start with {proposal:?}: give more of the id"
            ))),
        }
    }

    /// The proposal's changes, checked: decodable, hashes as announced, proofs valid.
    fn proposal_changes(&self, proposal: &StatementId) -> Result<Vec<WireChange>, EngineError> {
        let statement = self
            .trust
            .as_ref()
            .and_then(|t| t.get(proposal))
            .ok_or_else(|| EngineError::NotFound(format!("proposal {proposal}")))?;
        let Statement::Propose {
            hashes, changes, ..
        } = &statement.body
        else {
            return Err(EngineError::NotFound(format!("proposal {proposal}")));
        };
        if hashes.len() != changes.len() {
            return Err(EngineError::Refused(
                "the proposal names other changes than it carries".into(),
            ));
        }
        let mut out = Vec::new();
        let mut budget = signed::DecodeBudget::per_message();
        for (hash, c) in hashes.iter().zip(changes) {
            let change = signed::decode_change(c.bytes.clone(), &mut budget)
                .map_err(|e| EngineError::Refused(format!("proposal: {e}")))?;
            if change.hash().0 != hash.0 {
                return Err(EngineError::Refused(
                    "a change of the proposal does not have the hash it names".into(),
                ));
            }
            self.verify(&change, &c.proof)?;
            out.push(WireChange {
                bytes: c.bytes.clone(),
                proof: c.proof.clone(),
            });
        }
        Ok(out)
    }

    /// The artefact's files now, and as they would be with the proposal merged in (for review).
    /// Conflicts the merge would have are returned with it: accepting makes them conflicts
    /// the maintainers resolve, never an interleaving.
    #[allow(clippy::type_complexity)]
    pub fn proposal_files(
        &mut self,
        proposal: &str,
    ) -> Result<
        (
            ProposalView,
            Vec<FileData>,
            Vec<FileData>,
            Vec<super::ConflictView>,
        ),
        EngineError,
    > {
        let (id, view) = self.find_proposal(proposal)?;
        let wire = self.proposal_changes(&view.id)?;
        let (_, before) = self.files(&id, None)?;
        let mut merged = self
            .docs
            .get(&id)
            .ok_or_else(|| EngineError::NotFound(id.to_string()))?
            .artefact
            .clone();
        let mut budget = signed::DecodeBudget::per_message();
        let changes = wire
            .into_iter()
            .map(|w| signed::decode_change(w.bytes, &mut budget))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| EngineError::Refused(format!("proposal: {e}")))?;
        merged
            .doc
            .apply_changes(changes)
            .map_err(|e| EngineError::Refused(format!("the proposal does not apply: {e}")))?;
        let heads = merged.heads();
        let analysis = crate::artefact::conflict::Analysis::of(&merged, &heads)?;
        let after = self.present(&merged, &analysis)?;
        Ok((view, before, after.files, after.conflicts))
    }

    /// Accepts (`accept`) or declines a proposal, as a maintainer or the owner. Accepting signs
    /// the verdict first, so that the changes pass authorization here and everywhere, then
    /// merges them. Returns the artefact's id.
    pub fn decide_proposal(
        &mut self,
        proposal: &str,
        accept: bool,
        now: i64,
    ) -> Result<ArtefactId, EngineError> {
        let (id, view) = self.find_proposal(proposal)?;
        self.check_may_write(&id)?;
        if let Some(verdict) = &view.verdict {
            if verdict.accepted || !accept {
                return Err(EngineError::Refused(format!(
                    "proposal {} was {} already",
                    view.id,
                    if verdict.accepted {
                        "accepted"
                    } else {
                        "declined"
                    }
                )));
            }
        }
        let wire = if accept {
            self.proposal_changes(&view.id)?
        } else {
            Vec::new()
        };
        self.issue(
            Statement::ProposalVerdict {
                artefact: id,
                proposal: view.id,
                accepted: accept,
                hashes: view.hashes.clone(),
            },
            now,
        )?;
        if accept {
            self.ingest_changes(None, id, wire)?;
            let doc = &self
                .docs
                .get(&id)
                .ok_or_else(|| EngineError::NotFound(id.to_string()))?
                .artefact
                .doc;
            if view
                .hashes
                .iter()
                .any(|h| doc.get_change_by_hash(&ChangeHash(h.0)).is_none())
            {
                return Err(EngineError::Refused(
                    "the proposal was accepted but its changes could not be merged".into(),
                ));
            }
        }
        Ok(id)
    }
}
