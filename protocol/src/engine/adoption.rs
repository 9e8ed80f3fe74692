//! Adaptations: an organisation's own artefact, started from an exact version of another's.
//!
//! A municipality that reuses a neighbour's artefact needs its own copy to change (local rules,
//! local names) without losing the neighbour's later improvements, and without its changes
//! landing in the neighbour's artefact unasked. An adaptation is a separate artefact whose
//! document *starts as the upstream's history* up to the adopted heads, so that:
//!
//! - the adopting organisation writes to it as owner (a signed `Adopt` statement says so, see
//!   `trust::adoption`);
//! - the upstream's own later changes stay admissible in it (they pass the upstream's rules), so
//!   `pull-upstream` is nothing but applying them: the CRDT merge keeps the local edits, and
//!   concurrent edits of one text file merge character by character;
//! - the adaptation's own changes build on upstream history the upstream already holds, so they
//!   can be offered back as an ordinary proposal, with their authors' signatures.
//!
//! Every node runs the same rules: a change joins an adaptation if the adaptation's rules or,
//! failing those, its upstream's rules admit it (the *lineage*). The adaptation's title and
//! owner live in the `Adopt` statement, not in the document, so proposing its changes back
//! cannot rename the upstream.

use super::{owner_from_doc, store_err, Engine, EngineError, Loaded, PeerKey};
use crate::artefact::{Artefact, ArtefactId};
use crate::identity::OrgNumber;
use crate::signed::Proof;
use crate::store::{Store, StoredChange};
use crate::trust::{adaptation_id, AdoptionView, ProposedChange, Statement, StatementId};
use crate::wire::{heads_to_wire, WireChange};
use automerge::{Automerge, Change, ChangeHash, ReadDoc};
use std::collections::{HashMap, HashSet};

/// Adaptations of adaptations are followed this deep, no deeper.
const MAX_LINEAGE: usize = 8;

/// What `pull_upstream` did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UpstreamMerge {
    pub upstream: ArtefactId,
    /// Upstream changes that joined the adaptation.
    pub merged: usize,
    pub heads: Vec<ChangeHash>,
}

/// A proposal offering an adaptation's changes to its upstream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UpstreamProposal {
    pub upstream: ArtefactId,
    pub proposal: StatementId,
    /// The changes offered, in the order they apply.
    pub changes: Vec<ChangeHash>,
}

/// How an adaptation relates to its upstream on this node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AdaptationState {
    pub adoption: AdoptionView,
    /// Whether this node holds the upstream.
    pub upstream_held: bool,
    /// Upstream changes this node holds that the adaptation lacks (`pull-upstream` merges them).
    pub behind: usize,
    /// Signed changes of the adaptation the upstream lacks (`propose` offers them back).
    pub ahead: usize,
}

impl<S: Store, P: PeerKey> Engine<S, P> {
    /// The artefact and the upstreams it was adopted from, nearest first, each with its owner:
    /// the adopting organisation for an adaptation, `None` (to be read from the genesis, see
    /// `fill_root_owner`) for the last, which is the artefact whose genesis starts the document.
    pub(super) fn lineage(&self, id: &ArtefactId) -> Vec<(ArtefactId, Option<OrgNumber>)> {
        let mut out = Vec::new();
        let mut current = *id;
        for _ in 0..MAX_LINEAGE {
            match self.trust.as_ref().and_then(|t| t.adoption(&current)) {
                Some(adoption) => {
                    out.push((current, Some(adoption.org)));
                    current = adoption.upstream;
                }
                None => {
                    out.push((current, None));
                    return out;
                }
            }
        }
        out
    }

    /// Sets the owner of the lineage's root from its genesis in `doc` (or the cache).
    pub(super) fn fill_root_owner(
        &self,
        lineage: &mut [(ArtefactId, Option<OrgNumber>)],
        doc: &Automerge,
    ) {
        if let Some((root, owner @ None)) = lineage.last_mut() {
            *owner = match self.owners.get(root) {
                Some(cached) => *cached,
                None => owner_from_doc(root, doc),
            };
        }
    }

    /// Caches the owner read from the genesis of an adaptation's root, so that later changes
    /// to the adaptation do not scan its change list for it again.
    pub(super) fn remember_root_owner(&mut self, lineage: &[(ArtefactId, Option<OrgNumber>)]) {
        if let [_, .., (root, owner)] = lineage {
            self.owners.entry(*root).or_insert(*owner);
        }
    }

    /// The owner of `id` as its document `doc` and the trust statements say: the adopting
    /// organisation of an adaptation, else the owner its genesis records.
    pub(super) fn owner_in(&self, id: &ArtefactId, doc: &Automerge) -> Option<OrgNumber> {
        match self.trust.as_ref().and_then(|t| t.adoption(id)) {
            Some(adoption) => Some(adoption.org),
            None => owner_from_doc(id, doc),
        }
    }

    /// The adoption that made `id`, if it is an adaptation.
    pub fn adoption(&self, id: &ArtefactId) -> Option<AdoptionView> {
        self.trust.as_ref().and_then(|t| t.adoption(id))
    }

    /// Makes this node's organisation an adaptation of `upstream` at `heads` (its current heads
    /// when `None`) and signs the adoption. Returns the adaptation's id once it is durable.
    pub fn adopt(
        &mut self,
        upstream: &ArtefactId,
        heads: Option<&[ChangeHash]>,
        title: &str,
        now: i64,
        nonce: [u8; 8],
    ) -> Result<ArtefactId, EngineError> {
        self.trust_or_err()?;
        self.check_admitted()?;
        let org = self.own_org()?;
        self.load(upstream)?;
        if self.is_restricted(upstream) {
            return Err(EngineError::NotPermitted(format!(
                "artefact {upstream} is restricted: an adaptation would be shared with everyone, so restricted artefacts cannot be adopted; ask its owner for a public version"
            )));
        }
        if self.owner_of(upstream) == Some(org) {
            return Err(EngineError::Refused(format!(
                "your organisation owns {upstream} already: edit it directly"
            )));
        }
        let loaded = self
            .docs
            .get(upstream)
            .ok_or_else(|| EngineError::NotFound(upstream.to_string()))?;
        let heads = match heads {
            Some(h) => {
                loaded.artefact.check_heads(h)?;
                h.to_vec()
            }
            None => loaded.artefact.heads(),
        };
        let doc = loaded
            .artefact
            .doc
            .fork_at(&heads)
            .map_err(crate::artefact::ArtefactError::from)?;
        let stored: Vec<StoredChange> = proved(upstream, loaded, doc.get_changes(&[]))?
            .into_iter()
            .map(|(change, proof)| StoredChange {
                hash: change.hash(),
                bytes: change.raw_bytes().to_vec(),
                proof,
            })
            .collect();
        let wire_heads = heads_to_wire(&heads);
        let id = adaptation_id(upstream, &wire_heads, org, &nonce);
        self.issue(
            Statement::Adopt {
                upstream: *upstream,
                heads: wire_heads,
                org,
                nonce,
                adaptation: id,
                title: title.trim().to_string(),
            },
            now,
        )?;
        self.store.append_changes(&id, &stored).map_err(store_err)?;
        self.store.compact(&id, &doc.save()).map_err(store_err)?;
        let proofs: HashMap<ChangeHash, Proof> =
            stored.into_iter().map(|s| (s.hash, s.proof)).collect();
        self.docs.insert(
            id,
            Loaded {
                artefact: Artefact { id, doc },
                proofs,
                logged: 0,
                blob_refs: HashSet::new(),
            },
        );
        self.owners.insert(id, Some(org));
        self.after_update(id, None)?;
        self.store.flush().map_err(store_err)?;
        Ok(id)
    }

    /// The adoption of `id`, or a clear error if it is not an adaptation.
    fn adoption_or_err(&self, id: &ArtefactId) -> Result<AdoptionView, EngineError> {
        self.adoption(id).ok_or_else(|| {
            EngineError::Refused(format!(
                "{id} is not an adaptation (it was not made with `allmenning adopt`)"
            ))
        })
    }

    /// Loads the upstream of an adaptation, with a clear error if this node lacks it.
    fn load_upstream(&mut self, adoption: &AdoptionView) -> Result<(), EngineError> {
        match self.load(&adoption.upstream) {
            Err(EngineError::NotFound(_)) => Err(EngineError::Missing(format!(
                "upstream artefact {} is not on this node yet; wait for sync (or `allmenning connect` a node that has it)",
                adoption.upstream
            ))),
            other => other,
        }
    }

    /// Changes of `from` that `into` lacks, in an order they apply (`get_changes` lists them
    /// in causal order), with their proofs.
    fn changes_missing(
        &self,
        from: &ArtefactId,
        into: &ArtefactId,
    ) -> Result<Vec<(Change, Proof)>, EngineError> {
        let not_loaded = |id: &ArtefactId| EngineError::NotFound(id.to_string());
        let source = self.docs.get(from).ok_or_else(|| not_loaded(from))?;
        let target = &self
            .docs
            .get(into)
            .ok_or_else(|| not_loaded(into))?
            .artefact
            .doc;
        let missing = source
            .artefact
            .doc
            .get_changes(&[])
            .into_iter()
            .filter(|c| target.get_change_by_hash(&c.hash()).is_none());
        proved(from, source, missing)
    }

    /// Merges the upstream's changes this node holds into adaptation `id` (as the adaptation's
    /// owner or a maintainer). Local edits stay: this is the CRDT merge, nothing is overwritten
    /// wholesale, and concurrent edits of one text file merge character by character.
    pub fn pull_upstream(&mut self, id: &ArtefactId) -> Result<UpstreamMerge, EngineError> {
        let adoption = self.adoption_or_err(id)?;
        self.load(id)?;
        self.check_may_write(id)?;
        self.load_upstream(&adoption)?;
        let missing = self.changes_missing(&adoption.upstream, id)?;
        let wanted: Vec<ChangeHash> = missing.iter().map(|(c, _)| c.hash()).collect();
        if !missing.is_empty() {
            self.ingest_changes(None, *id, wire(missing))?;
        }
        let doc = &self
            .docs
            .get(id)
            .ok_or_else(|| EngineError::NotFound(id.to_string()))?
            .artefact
            .doc;
        let merged = wanted
            .iter()
            .filter(|h| doc.get_change_by_hash(h).is_some())
            .count();
        if merged < wanted.len() {
            return Err(EngineError::Refused(format!(
                "{} of {} upstream changes could not be merged (refused by the rules of both artefacts)",
                wanted.len() - merged,
                wanted.len()
            )));
        }
        Ok(UpstreamMerge {
            upstream: adoption.upstream,
            merged,
            heads: doc.get_heads(),
        })
    }

    /// How adaptation `id` stands against its upstream on this node.
    pub fn adaptation_state(&mut self, id: &ArtefactId) -> Result<AdaptationState, EngineError> {
        let adoption = self.adoption_or_err(id)?;
        self.load(id)?;
        let upstream_held = self.load_upstream(&adoption).is_ok();
        let (behind, ahead) = if upstream_held {
            (
                self.changes_missing(&adoption.upstream, id)?.len(),
                // Origin changes travel with the signed changes that need them but are no
                // one's work: only signed changes count.
                self.changes_missing(id, &adoption.upstream)?
                    .iter()
                    .filter(|(_, proof)| matches!(proof, Proof::Signed { .. }))
                    .count(),
            )
        } else {
            (0, 0)
        };
        Ok(AdaptationState {
            adoption,
            upstream_held,
            behind,
            ahead,
        })
    }

    /// Offers the adaptation's own changes to its upstream's maintainers as a proposal (with
    /// the signatures of the people who made them).
    pub fn propose_upstream(
        &mut self,
        id: &ArtefactId,
        message: &str,
        now: i64,
    ) -> Result<UpstreamProposal, EngineError> {
        let adoption = self.adoption_or_err(id)?;
        self.load(id)?;
        self.load_upstream(&adoption)?;
        let changes = self.changes_missing(id, &adoption.upstream)?;
        if !changes
            .iter()
            .any(|(_, proof)| matches!(proof, Proof::Signed { .. }))
        {
            return Err(EngineError::Refused(format!(
                "nothing to propose: the upstream {} has every change of the adaptation already",
                adoption.upstream
            )));
        }
        let hashes: Vec<ChangeHash> = changes.iter().map(|(c, _)| c.hash()).collect();
        let proposed: Vec<ProposedChange> = changes
            .into_iter()
            .map(|(change, proof)| ProposedChange {
                bytes: change.raw_bytes().to_vec(),
                proof,
            })
            .collect();
        let base = self
            .docs
            .get(&adoption.upstream)
            .ok_or_else(|| EngineError::NotFound(adoption.upstream.to_string()))?
            .artefact
            .heads();
        // The contents of files the adaptation added or replaced travel with the changes.
        let blobs = {
            let upstream = &self
                .docs
                .get(&adoption.upstream)
                .ok_or_else(|| EngineError::NotFound(adoption.upstream.to_string()))?
                .artefact;
            let adaptation = &self
                .docs
                .get(id)
                .ok_or_else(|| EngineError::NotFound(id.to_string()))?
                .artefact;
            let before = super::proposals::blobs_at(upstream, &[None]);
            let mut at: Vec<Option<&[ChangeHash]>> = hashes
                .iter()
                .map(|h| Some(std::slice::from_ref(h)))
                .collect();
            at.push(None);
            let after = super::proposals::blobs_at(adaptation, &at);
            self.carried_blobs(&before, &after)?
        };
        self.check_proposal_size(&proposed, &blobs)?;
        let proposal = self.issue(
            Statement::Propose {
                artefact: adoption.upstream,
                base: heads_to_wire(&base),
                hashes: heads_to_wire(&hashes),
                changes: proposed,
                message: message.to_string(),
                blobs,
            },
            now,
        )?;
        Ok(UpstreamProposal {
            upstream: adoption.upstream,
            proposal,
            changes: hashes,
        })
    }
}

/// `changes` of artefact `id` with the proofs `loaded` holds for them; a change without one
/// means the stored artefact is corrupt.
fn proved(
    id: &ArtefactId,
    loaded: &Loaded,
    changes: impl IntoIterator<Item = Change>,
) -> Result<Vec<(Change, Proof)>, EngineError> {
    changes
        .into_iter()
        .map(|change| match loaded.proofs.get(&change.hash()) {
            Some(proof) => Ok((change, proof.clone())),
            None => Err(EngineError::Corrupt {
                id: *id,
                reason: format!("change {} has no stored proof", change.hash()),
            }),
        })
        .collect()
}

/// Changes with their proofs, as they travel.
fn wire(changes: Vec<(Change, Proof)>) -> Vec<WireChange> {
    changes
        .into_iter()
        .map(|(change, proof)| WireChange {
            bytes: change.raw_bytes().to_vec(),
            proof,
        })
        .collect()
}
