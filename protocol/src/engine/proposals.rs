//! Proposals: changes offered to an artefact by an organisation that may not write to it.
//!
//! Work done by a non-maintainer should reach the maintainers rather than be lost. The edit is
//! made exactly as a commit would make it (signed by the proposing node, at the version it was
//! made on), but on a copy of the document: the changes travel inside a signed `Propose`
//! statement instead of joining the artefact. A maintainer looks at what they would do
//! ([`Engine::proposal_files`]), and accepts (a signed `ProposalVerdict` naming the change
//! hashes, after which every node's authorization admits exactly those changes, with their
//! original author and signature) or declines.
//!
//! A proposal also carries the contents of the files it adds or replaces as blobs: the
//! maintainers cannot have them yet (nobody may serve a blob that no accepted change names),
//! and a maintainer must see what they accept. Changes and contents together stay within one
//! statement (about 60 KiB); a larger proposal is refused when it is made, and a proposal
//! whose contents are not all on the maintainer's node can be neither reviewed nor accepted.

use super::{store_err, Engine, EngineError, FileData, PeerKey};
use crate::artefact::{Artefact, ArtefactId, FileContent, FileEdit};
use crate::blob::BlobHash;
use crate::signed::{self, Proof};
use crate::store::Store;
use crate::trust::{
    ProposalView, ProposedBlob, ProposedChange, Statement, StatementId, MAX_STATEMENT_BYTES,
};
use crate::wire::{heads_to_wire, Head, WireChange};
use automerge::{ChangeHash, ReadDoc};
use std::collections::BTreeMap;

/// The blobs the files of `artefact` refer to at each of `heads` (current heads for `None`),
/// each with a path that refers to it.
pub(super) fn blobs_at(
    artefact: &Artefact,
    heads: &[Option<&[ChangeHash]>],
) -> BTreeMap<BlobHash, String> {
    let mut out = BTreeMap::new();
    for at in heads {
        for file in artefact.files(*at) {
            if let FileContent::Blob { hash, .. } = file.content {
                out.entry(hash).or_insert(file.path);
            }
        }
    }
    out
}

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
        let held = &self
            .docs
            .get(id)
            .ok_or_else(|| EngineError::NotFound(id.to_string()))?
            .artefact;
        let before = blobs_at(held, &[None]);
        let after = blobs_at(&copy, &[Some(&[change.hash()]), None]);
        let blobs = self.carried_blobs(&before, &after)?;
        self.check_proposal_size(&changes, &blobs)?;
        self.issue(
            Statement::Propose {
                artefact: *id,
                base: heads_to_wire(base),
                hashes,
                changes,
                message: message.to_string(),
                blobs,
            },
            now,
        )
    }

    /// The contents a proposal carries: the blobs `after` refers to that `before` does not
    /// (what the maintainers' nodes cannot have yet), read from this node's store.
    pub(super) fn carried_blobs(
        &self,
        before: &BTreeMap<BlobHash, String>,
        after: &BTreeMap<BlobHash, String>,
    ) -> Result<Vec<ProposedBlob>, EngineError> {
        let mut out = Vec::new();
        for (hash, path) in after {
            if before.contains_key(hash) {
                continue;
            }
            let bytes = self
                .store
                .get_blob(hash)
                .map_err(store_err)?
                .ok_or_else(|| EngineError::MissingBlob {
                    path: path.clone(),
                    blob: *hash,
                })?;
            out.push(ProposedBlob { bytes });
        }
        Ok(out)
    }

    /// Refuses a proposal too large to travel as one statement: its changes and the contents
    /// of the files it adds or replaces together.
    pub(super) fn check_proposal_size(
        &self,
        changes: &[ProposedChange],
        blobs: &[ProposedBlob],
    ) -> Result<(), EngineError> {
        let changed: usize = changes.iter().map(|c| c.bytes.len()).sum();
        let contents: usize = blobs.iter().map(|b| b.bytes.len()).sum();
        let size = changed + contents;
        if size > MAX_STATEMENT_BYTES - 4096 {
            return Err(EngineError::Refused(format!(
                "a proposal carries at most about {} KiB of changes and new file contents; this one \
                 has {} KiB ({} KiB of changes, {} KiB in {} added or replaced file(s)): propose \
                 smaller steps, or ask a maintainer to add large files",
                (MAX_STATEMENT_BYTES - 4096) / 1024,
                size.div_ceil(1024),
                changed.div_ceil(1024),
                contents.div_ceil(1024),
                blobs.len()
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

    /// The proposal's changes, checked: decodable, hashes as announced, proofs valid; and the
    /// contents it carries, by their hashes (computed here).
    #[allow(clippy::type_complexity)]
    fn proposal_changes(
        &self,
        proposal: &StatementId,
    ) -> Result<(Vec<WireChange>, BTreeMap<BlobHash, Vec<u8>>), EngineError> {
        let statement = self
            .trust
            .as_ref()
            .and_then(|t| t.get(proposal))
            .ok_or_else(|| EngineError::NotFound(format!("proposal {proposal}")))?;
        let Statement::Propose {
            hashes,
            changes,
            blobs,
            ..
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
        let blobs = blobs
            .iter()
            .map(|b| (BlobHash::of(&b.bytes), b.bytes.clone()))
            .collect();
        Ok((out, blobs))
    }

    /// The artefact as it would be with the proposal's changes merged in, with the contents
    /// those changes refer to on this node: the contents the proposal carries are stored (only
    /// those its changes refer to), and a content neither carried nor already here refuses
    /// the proposal, so nothing is reviewed or accepted without its files.
    fn merged_with_proposal(
        &mut self,
        id: &ArtefactId,
        proposal: &StatementId,
    ) -> Result<(Artefact, Vec<WireChange>), EngineError> {
        let (wire, carried) = self.proposal_changes(proposal)?;
        self.load(id)?;
        let held = &self
            .docs
            .get(id)
            .ok_or_else(|| EngineError::NotFound(id.to_string()))?
            .artefact;
        let mut merged = held.clone();
        let before = blobs_at(held, &[None]);
        let mut budget = signed::DecodeBudget::per_message();
        let changes = wire
            .iter()
            .map(|w| signed::decode_change(w.bytes.clone(), &mut budget))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| EngineError::Refused(format!("proposal: {e}")))?;
        let hashes: Vec<ChangeHash> = changes.iter().map(|c| c.hash()).collect();
        merged
            .doc
            .apply_changes(changes)
            .map_err(|e| EngineError::Refused(format!("the proposal does not apply: {e}")))?;
        let mut at: Vec<Option<&[ChangeHash]>> = hashes
            .iter()
            .map(|h| Some(std::slice::from_ref(h)))
            .collect();
        at.push(None);
        let needed = blobs_at(&merged, &at);
        let mut stored = false;
        for (hash, path) in &needed {
            if self.store.has_blob(hash).map_err(store_err)? {
                continue;
            }
            if let Some(bytes) = carried.get(hash) {
                self.store.put_blob(hash, bytes).map_err(store_err)?;
                stored = true;
            } else if before.contains_key(hash) {
                // The artefact's own content, still on its way here.
                return Err(EngineError::MissingBlob {
                    path: path.clone(),
                    blob: *hash,
                });
            } else {
                return Err(EngineError::Refused(format!(
                    "the proposal does not carry the content of {path} (blob {hash}) and this \
                     node does not have it: it can be neither reviewed nor accepted; ask the \
                     proposer to propose it again"
                )));
            }
        }
        if stored {
            self.store.flush().map_err(store_err)?;
        }
        Ok((merged, wire))
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
        let (_, before) = self.files(&id, None)?;
        let (merged, _) = self.merged_with_proposal(&id, &view.id)?;
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
            // Its contents must be here first: an accepted change whose files nobody can
            // serve would leave the artefact incomplete on every node.
            self.merged_with_proposal(&id, &view.id)?.1
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
