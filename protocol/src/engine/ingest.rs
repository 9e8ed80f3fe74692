//! Taking in what peers send: changes, snapshots and the origins of co-edited text.
//!
//! Everything a peer sends is untrusted until proven, and a single crafted message must not be
//! able to stall or fill a node. Work is therefore split in two and ordered so that the cheapest
//! check that can refuse comes first, and everything that costs has a budget:
//!
//! 1. **Checking** ([`Engine::prepare_response`], a pure function that needs no engine state, so
//!    the node runs it on a worker thread with a time limit, off its event loop): the wire
//!    decode; a bound on the number of changes; per change the header (hash, actor, deps) read
//!    without decoding operations, the signature checked against the header, only then the
//!    operations decoded within the message's [`DecodeBudget`]; an origin change is recomputed
//!    from the blob the message carries, its text counted against the same budget. A snapshot is
//!    loaded within the budget (operations and inflated bytes) and every change in it proven.
//! 2. **Admitting** (engine state, cheap; on the event loop): authorization of every signed
//!    change in causal order, judged on the hash graph (never on a document built from changes
//!    not yet admitted); the origin rule; the path rule; then the admitted changes are applied
//!    one by one and stored.
//!
//! The origin rule: an origin change needs no signature (any node can recompute it), so it is
//! admitted only together with an authorised signed change of the same batch that depends on it
//! and names its text (puts its text key into a file entry), and only for a text within
//! [`MAX_TEXT_BYTES`]. One that arrives without such a change is held back, not refused: a batch
//! may have been cut between the two, and the next pull brings them together. Blobs attached to a
//! reply are stored only for origins that were admitted.
//!
//! A change whose *proof* fails is dropped and reported, but its hash is not remembered as
//! refused: the bytes may be an honest change that a hostile peer paired with a bad proof, and an
//! honest peer must still be able to deliver it. A change whose *author* may not write is
//! remembered as refused (authorization is a property of the change), and so is everything that
//! builds on it.

use super::refusals::Refusal;
use super::{store_err, Engine, EngineError, PeerKey};
use crate::artefact::origin::{self, origin_actor};
use crate::artefact::{self, Artefact, ArtefactId, MAX_TEXT_BYTES};
use crate::blob::BlobHash;
use crate::identity::{OrgNumber, PublicKey};
use crate::refused::RefusalReason;
use crate::signed::{self, DecodeBudget, Proof};
use crate::store::{Store, StoredChange};
use crate::wire::{Head, Request, Response, WireBlob, WireChange, WireError};
use automerge::legacy::OpType;
use automerge::{Automerge, Change, ChangeHash, ReadDoc, ScalarValue};
use std::collections::{HashMap, HashSet, VecDeque};
use std::panic::{catch_unwind, AssertUnwindSafe};

/// A peer's reply, checked without engine state (see the module documentation). Made by
/// [`Engine::prepare_response`], consumed by [`Engine::handle_prepared_response`].
pub struct PreparedResponse(Prepared);

enum Prepared {
    Malformed(WireError),
    /// Replies that carry no Automerge data.
    Plain(Response),
    Changes {
        id: ArtefactId,
        heads: Vec<Head>,
        batch: CheckedBatch,
    },
    Snapshot {
        id: ArtefactId,
        /// Boxed: a loaded document is large next to the other variants.
        snapshot: Box<Result<CheckedSnapshot, String>>,
    },
}

impl PreparedResponse {
    /// Why the reply is refused as a whole, if it is.
    pub fn refusal(&self) -> Option<String> {
        match &self.0 {
            Prepared::Malformed(e) => Some(format!("malformed response: {e}")),
            Prepared::Snapshot { snapshot, .. } => snapshot.as_ref().as_ref().err().cloned(),
            _ => None,
        }
    }
}

/// Changes whose proofs were checked, with what was refused on the way.
#[derive(Default)]
pub(crate) struct CheckedBatch {
    changes: Vec<Checked>,
    refusals: Vec<String>,
    /// Blobs the message carried for origin changes, by hash (bytes checked against it).
    origin_blobs: HashMap<BlobHash, Vec<u8>>,
}

pub(crate) struct CheckedSnapshot {
    doc: Automerge,
    batch: CheckedBatch,
}

/// A change whose proof holds.
pub(crate) struct Checked {
    change: Change,
    proof: Proof,
    source: Source,
}

#[derive(Clone, Debug)]
enum Source {
    /// Signed by this node key (bound to the actor id).
    Signed(PublicKey),
    /// The recomputed origin of the text under this root key.
    Origin { key: String },
}

/// A budget without limits, for changes this node already holds and verified once.
fn unlimited() -> DecodeBudget {
    DecodeBudget::new(u64::MAX, u64::MAX)
}

/// Runs `f` on untrusted input, turning an Automerge panic into an error.
fn guarded<T>(what: &str, f: impl FnOnce() -> Result<T, String>) -> Result<T, String> {
    catch_unwind(AssertUnwindSafe(f))
        .unwrap_or_else(|_| Err(format!("{what} made the CRDT library fail")))
}

/// Checks one change's proof, cheapest first: header, signature, then (within `budget`) its
/// operations and, for an origin, the recomputation from its blob.
fn check_change(
    bytes: Vec<u8>,
    proof: Proof,
    blob: &dyn Fn(&BlobHash) -> Option<Vec<u8>>,
    budget: &mut DecodeBudget,
) -> Result<Checked, String> {
    let header = signed::change_header(&bytes).map_err(|e| e.to_string())?;
    let hash = header.hash;
    let source = match &proof {
        Proof::Signed { signature } => Source::Signed(
            signed::verify_signed_header(&header, signature).map_err(|e| e.to_string())?,
        ),
        Proof::Origin { path, blob } => {
            artefact::validate_path(path)
                .map_err(|e| format!("origin change {hash} names a bad path: {e}"))?;
            if !header.deps.is_empty() || header.actor != origin_actor(path, blob) {
                return Err(format!(
                    "change {hash} claims to be the origin of {path:?} but is not made like one"
                ));
            }
            Source::Origin {
                key: origin::text_key(path, blob),
            }
        }
    };
    let change = guarded("a change", || {
        signed::decode_change(bytes, budget).map_err(|e| e.to_string())
    })?;
    if change.hash() != hash {
        return Err(format!("change {hash} decodes to another hash"));
    }
    if let Proof::Origin {
        blob: blob_hash, ..
    } = &proof
    {
        let text = blob(blob_hash).ok_or_else(|| {
            format!("origin change {hash}: the blob {blob_hash} it is made from was not supplied")
        })?;
        if text.len() > MAX_TEXT_BYTES {
            return Err(format!(
                "origin change {hash}: its text of {} bytes is over the limit of {MAX_TEXT_BYTES}",
                text.len()
            ));
        }
        // Recomputing costs about one operation per byte of text.
        budget
            .charge_ops(text.len() as u64)
            .map_err(|e| format!("origin change {hash} refused: {e}"))?;
        guarded("an origin change", || {
            signed::verify_change(&change, &proof, |_| Some(text.clone()))
                .map(|_| ())
                .map_err(|e| e.to_string())
        })?;
    }
    Ok(Checked {
        change,
        proof,
        source,
    })
}

/// Blobs carried for origins, keyed by their hash; oversized ones are dropped (no origin may
/// use them).
fn origin_blob_map(blobs: Vec<WireBlob>) -> HashMap<BlobHash, Vec<u8>> {
    blobs
        .into_iter()
        .filter(|WireBlob(b)| b.len() <= MAX_TEXT_BYTES)
        .map(|WireBlob(b)| (BlobHash::of(&b), b))
        .collect()
}

/// Checks the proofs of `changes` within `budget`; origins look their blobs up in the carried
/// blobs first, then with `stored`.
fn check_batch(
    changes: Vec<WireChange>,
    origin_blobs: HashMap<BlobHash, Vec<u8>>,
    stored: &dyn Fn(&BlobHash) -> Option<Vec<u8>>,
    budget: &mut DecodeBudget,
) -> CheckedBatch {
    let mut batch = CheckedBatch {
        origin_blobs,
        ..CheckedBatch::default()
    };
    if changes.len() > signed::MAX_CHANGES_PER_MESSAGE {
        batch.refusals.push(format!(
            "{} changes in one message, more than the limit of {}",
            changes.len(),
            signed::MAX_CHANGES_PER_MESSAGE
        ));
        return batch;
    }
    let carried = &batch.origin_blobs;
    let lookup = |h: &BlobHash| carried.get(h).cloned().or_else(|| stored(h));
    let mut checked = Vec::with_capacity(changes.len());
    let mut refusals = Vec::new();
    for wc in changes {
        match check_change(wc.bytes, wc.proof, &lookup, budget) {
            Ok(c) => checked.push(c),
            Err(e) => refusals.push(e),
        }
    }
    batch.changes = checked;
    batch.refusals = refusals;
    batch
}

/// Loads a snapshot within `budget` and proves every change in it.
fn check_snapshot(
    document: &[u8],
    proofs: Vec<(Head, Proof)>,
    origin_blobs: Vec<WireBlob>,
    budget: &mut DecodeBudget,
) -> Result<CheckedSnapshot, String> {
    let doc = guarded("the snapshot", || {
        signed::load_snapshot(document, budget).map_err(|e| format!("snapshot does not load: {e}"))
    })?;
    let mut proofs: HashMap<ChangeHash, Proof> =
        proofs.into_iter().map(|(h, p)| (h.into(), p)).collect();
    let changes = guarded("the snapshot", || Ok(doc.get_changes(&[])))?;
    let wire = changes
        .iter()
        .map(|c| {
            let proof = proofs
                .remove(&c.hash())
                .ok_or_else(|| format!("snapshot change {} has no proof", c.hash()))?;
            Ok(WireChange {
                bytes: c.raw_bytes().to_vec(),
                proof,
            })
        })
        .collect::<Result<Vec<_>, String>>()?;
    drop(changes);
    // The snapshot's operations were paid for by loading it; its changes' operations are the
    // same ones, decoded again for their proofs.
    let mut again = DecodeBudget::new(
        doc.stats().num_ops.saturating_add(budget.ops_left()),
        budget.inflated_bytes_left(),
    );
    let batch = check_batch(wire, origin_blob_map(origin_blobs), &|_| None, &mut again);
    if let Some(first) = batch.refusals.first() {
        return Err(format!(
            "snapshot holds a change whose proof fails: {first}"
        ));
    }
    Ok(CheckedSnapshot { doc, batch })
}

/// The texts a change puts into file entries (the root keys of origin texts it uses).
fn named_texts(change: &Change) -> HashSet<String> {
    guarded("a change", || {
        Ok(change
            .decode()
            .operations
            .into_iter()
            .filter_map(|op| match op.action {
                OpType::Put(ScalarValue::Str(s)) if s.starts_with("text:") => Some(s.to_string()),
                _ => None,
            })
            .collect())
    })
    .unwrap_or_default()
}

/// Whether `doc` (or the batch being admitted) holds a change.
fn known(doc: &Automerge, batch: &HashMap<ChangeHash, Vec<ChangeHash>>, h: &ChangeHash) -> bool {
    batch.contains_key(h) || doc.get_change_meta_by_hash(h).is_some()
}

/// Is `change` in the causal past of `heads`, judged on the dependency graph of `doc` and the
/// batch? False when any of them is unknown.
fn in_causal_past(
    doc: &Automerge,
    batch: &HashMap<ChangeHash, Vec<ChangeHash>>,
    change: &ChangeHash,
    heads: &[Head],
) -> bool {
    let heads: Vec<ChangeHash> = heads.iter().map(|h| ChangeHash(h.0)).collect();
    if !known(doc, batch, change) || heads.iter().any(|h| !known(doc, batch, h)) {
        return false;
    }
    let mut seen: HashSet<ChangeHash> = HashSet::new();
    let mut queue: VecDeque<ChangeHash> = heads.into_iter().collect();
    while let Some(h) = queue.pop_front() {
        if h == *change {
            return true;
        }
        if !seen.insert(h) {
            continue;
        }
        match batch.get(&h) {
            Some(deps) => queue.extend(deps.iter().copied()),
            None => {
                if let Some(meta) = doc.get_change_meta_by_hash(&h) {
                    queue.extend(meta.deps.iter().copied());
                }
            }
        }
    }
    false
}

/// The changes whose dependencies are all present (in `doc` or earlier in the result), in an
/// order in which they can be applied; changes already in `doc` or with missing dependencies
/// are left out, so nothing sits half-applied in automerge's queue without a stored proof.
fn causal_order(doc: &Automerge, changes: Vec<Checked>) -> Vec<Checked> {
    let mut pending = changes;
    let mut ordered = Vec::new();
    let mut placed: HashSet<ChangeHash> = HashSet::new();
    let has = |h: &ChangeHash| doc.get_change_meta_by_hash(h).is_some();
    loop {
        let before = pending.len();
        let mut rest = Vec::new();
        for item in pending {
            let hash = item.change.hash();
            if has(&hash) || placed.contains(&hash) {
                continue;
            }
            if item
                .change
                .deps()
                .iter()
                .all(|d| placed.contains(d) || has(d))
            {
                placed.insert(hash);
                ordered.push(item);
            } else {
                rest.push(item);
            }
        }
        pending = rest;
        if pending.is_empty() || pending.len() == before {
            return ordered;
        }
    }
}

/// What became of a change in a batch.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Verdict {
    Admitted,
    /// Not permitted, or built on something not permitted: remembered as refused.
    Refused,
    /// Waiting for what would admit it (an origin without its signed change in this batch).
    Held,
}

/// The document changes are judged against and applied to while a batch is admitted: a
/// snapshot that already holds them all, or the node's own copy, which grows change by change.
enum Working<'a> {
    Snapshot(&'a Automerge),
    Loaded(&'a mut Automerge),
}

impl Working<'_> {
    fn doc(&self) -> &Automerge {
        match self {
            Working::Snapshot(doc) => doc,
            Working::Loaded(doc) => doc,
        }
    }

    /// Whether `hash` was in the document before this batch (a snapshot holds the whole
    /// batch, so there only the batch's own bookkeeping counts).
    fn holds_before(&self, hash: &ChangeHash) -> bool {
        match self {
            Working::Snapshot(_) => false,
            Working::Loaded(doc) => doc.get_change_meta_by_hash(hash).is_some(),
        }
    }

    fn apply(&mut self, change: &Change) -> Result<(), String> {
        match self {
            // Already in the snapshot.
            Working::Snapshot(_) => Ok(()),
            Working::Loaded(doc) => guarded("a change", || {
                doc.apply_changes(vec![change.clone()])
                    .map_err(|e| e.to_string())
            }),
        }
    }
}

impl<S: Store, P: PeerKey> Engine<S, P> {
    /// Decodes and checks a peer's reply to `request` without touching engine state: all the
    /// work whose cost the peer controls, bounded by [`DecodeBudget::per_message`]. Safe to run
    /// on another thread; pass the result to [`Engine::handle_prepared_response`].
    pub fn prepare_response(bytes: &[u8]) -> PreparedResponse {
        let response = match Response::decode(bytes) {
            Ok(r) => r,
            Err(e) => return PreparedResponse(Prepared::Malformed(e)),
        };
        let mut budget = DecodeBudget::per_message();
        PreparedResponse(match response {
            Response::Changes {
                id,
                heads,
                changes,
                origin_blobs,
            } => Prepared::Changes {
                id,
                heads,
                batch: check_batch(
                    changes,
                    origin_blob_map(origin_blobs),
                    &|_| None,
                    &mut budget,
                ),
            },
            Response::Snapshot {
                id,
                document,
                proofs,
                origin_blobs,
            } => Prepared::Snapshot {
                id,
                snapshot: Box::new(check_snapshot(&document, proofs, origin_blobs, &mut budget)),
            },
            other => Prepared::Plain(other),
        })
    }

    /// The answer to `request`, which this engine asked `peer` to serve, as bytes.
    pub fn handle_response(&mut self, peer: P, request: &Request, bytes: &[u8]) {
        let prepared = Self::prepare_response(bytes);
        self.handle_prepared_response(peer, request, prepared);
    }

    /// The answer to `request`, checked by [`Engine::prepare_response`].
    pub fn handle_prepared_response(
        &mut self,
        peer: P,
        request: &Request,
        prepared: PreparedResponse,
    ) {
        let result = catch_unwind(AssertUnwindSafe(|| {
            self.ingest_prepared(&peer, request, prepared.0)
        }));
        self.request_done(&peer, request);
        match result {
            Ok(Ok(())) => {}
            Ok(Err(e)) => self.reject(&peer, super::request_id(request), e.to_string()),
            Err(_) => self.reject(
                &peer,
                super::request_id(request),
                "response made the CRDT library fail".into(),
            ),
        }
        self.follow_up(&peer, request);
    }

    fn ingest_prepared(
        &mut self,
        peer: &P,
        request: &Request,
        prepared: Prepared,
    ) -> Result<(), EngineError> {
        match prepared {
            Prepared::Malformed(e) => Err(EngineError::Refused(format!("malformed response: {e}"))),
            Prepared::Plain(response) => self.ingest_response(peer, request, response),
            Prepared::Snapshot { id, snapshot } => {
                self.expect_pull_for(request, &id)?;
                let snapshot = (*snapshot).map_err(EngineError::Refused)?;
                self.admit_batch(Some(peer), id, snapshot.batch, Some(snapshot.doc))
            }
            Prepared::Changes { id, heads, batch } => {
                self.expect_pull_for(request, &id)?;
                self.admit_batch(Some(peer), id, batch, None)?;
                // Anything still unknown (a batch limit, or missing dependencies): pull again.
                let theirs: Vec<ChangeHash> = heads.iter().map(|h| ChangeHash(h.0)).collect();
                let missing = match self.docs.get(&id) {
                    Some(l) => theirs.iter().any(|h| {
                        l.artefact.doc.get_change_meta_by_hash(h).is_none()
                            && !self.refused.contains(h)
                    }),
                    None => !theirs.iter().all(|h| self.refused.contains(h)),
                };
                if missing && !self.recheck.contains_key(&id) {
                    self.recheck.insert(id, (peer.clone(), theirs));
                }
                Ok(())
            }
        }
    }

    /// Takes in changes that did not come in a peer's reply (an accepted proposal, an upstream
    /// merge): checked like a reply's, with origin blobs looked up in the store.
    pub(super) fn ingest_changes(
        &mut self,
        peer: Option<&P>,
        id: ArtefactId,
        changes: Vec<WireChange>,
    ) -> Result<(), EngineError> {
        let store = &self.store;
        let batch = check_batch(
            changes,
            HashMap::new(),
            &|h| store.get_blob(h).ok().flatten(),
            &mut unlimited(),
        );
        self.admit_batch(peer, id, batch, None)
    }

    /// Admits what may join artefact `id` from a checked batch (see the module documentation),
    /// applies it and stores it. `snapshot`: the document the batch came from, used as it is
    /// when everything in it is admitted and this node had nothing of the artefact.
    fn admit_batch(
        &mut self,
        peer: Option<&P>,
        id: ArtefactId,
        batch: CheckedBatch,
        snapshot: Option<Automerge>,
    ) -> Result<(), EngineError> {
        let CheckedBatch {
            changes,
            refusals,
            origin_blobs,
        } = batch;
        if let Some(peer) = peer {
            for reason in refusals {
                self.reject(peer, Some(id), reason);
            }
        }
        let exists = match self.load(&id) {
            Ok(()) => self.docs.contains_key(&id),
            Err(EngineError::NotFound(_)) => false,
            Err(e) => return Err(e),
        };
        let mut lineage = self.lineage(&id);
        let root = super::root_of(&lineage, id);
        let is_genesis = |c: &Change| root.is_genesis(&c.hash()) && c.deps().is_empty();
        if !exists && !changes.iter().any(|c| is_genesis(&c.change)) {
            if changes.is_empty() {
                return Ok(());
            }
            return Err(EngineError::Refused(format!(
                "changes for unknown artefact {id} lack its genesis"
            )));
        }
        let empty = Automerge::new();
        let base_doc = self.docs.get(&id).map_or(&empty, |l| &l.artefact.doc);
        let total = changes.len();
        let ordered = causal_order(base_doc, changes);
        let complete_batch = ordered.len() == total;
        if exists {
            self.fill_root_owner(&mut lineage, base_doc);
        } else {
            let mut probe = Automerge::new();
            let genesis: Vec<Change> = ordered
                .iter()
                .filter(|c| is_genesis(&c.change))
                .map(|c| c.change.clone())
                .collect();
            let _ = probe.apply_changes(genesis);
            self.fill_root_owner(&mut lineage, &probe);
        }
        let owner = lineage.first().and_then(|(_, owner)| *owner);
        let graph: HashMap<ChangeHash, Vec<ChangeHash>> = ordered
            .iter()
            .map(|c| (c.change.hash(), c.change.deps().to_vec()))
            .collect();

        // Pass 1: who may write. Signed changes in causal order; a change built on a refused
        // one is refused with it. Origins wait for the signed changes that use them.
        let mut verdicts: HashMap<ChangeHash, Verdict> = HashMap::new();
        let mut reasons = Vec::new();
        // Signed changes refused here because they build on a refused one (the others by
        // authorization), for the refused-change record.
        let mut built_on_refused: HashSet<ChangeHash> = HashSet::new();
        for item in &ordered {
            let hash = item.change.hash();
            let refused_dep =
                item.change.deps().iter().any(|d| {
                    self.refused.contains(d) || verdicts.get(d) == Some(&Verdict::Refused)
                });
            let verdict = match &item.source {
                Source::Origin { .. } => Verdict::Held,
                Source::Signed(_) if refused_dep => {
                    built_on_refused.insert(hash);
                    Verdict::Refused
                }
                Source::Signed(author) => {
                    match self.authorize_on_graph(&lineage, &item.change, author, base_doc, &graph)
                    {
                        Ok(()) => Verdict::Admitted,
                        Err(e) => {
                            reasons.push(e.to_string());
                            Verdict::Refused
                        }
                    }
                }
            };
            verdicts.insert(hash, verdict);
        }
        // The origin rule: admitted with an admitted signed change that depends on it and
        // names its text.
        let origins: Vec<(ChangeHash, String)> = ordered
            .iter()
            .filter_map(|c| match &c.source {
                Source::Origin { key } => Some((c.change.hash(), key.clone())),
                Source::Signed(_) => None,
            })
            .collect();
        if !origins.is_empty() {
            let origin_hashes: HashSet<ChangeHash> = origins.iter().map(|(h, _)| *h).collect();
            let mut named: HashMap<ChangeHash, HashSet<String>> = HashMap::new();
            for item in &ordered {
                let users_origin = item.change.deps().iter().any(|d| origin_hashes.contains(d));
                if users_origin && verdicts.get(&item.change.hash()) == Some(&Verdict::Admitted) {
                    named.insert(item.change.hash(), named_texts(&item.change));
                }
            }
            for (origin, key) in &origins {
                let used = named.iter().any(|(user, texts)| {
                    graph.get(user).is_some_and(|deps| deps.contains(origin)) && texts.contains(key)
                });
                if used {
                    verdicts.insert(*origin, Verdict::Admitted);
                }
            }
        }

        // Pass 2, in causal order: a change whose dependencies did not all join waits or falls
        // with them; a signed change must keep to the path rule on the tree at its own
        // dependencies. A snapshot whose every change passes is kept as it came; otherwise
        // the admitted changes are applied one by one, each judged before it is applied.
        let all_admitted = complete_batch
            && ordered
                .iter()
                .all(|c| verdicts.get(&c.change.hash()) == Some(&Verdict::Admitted));
        let snapshot = match snapshot {
            Some(doc) if !exists && all_admitted => {
                let clean = ordered.iter().all(|c| {
                    !matches!(c.source, Source::Signed(_))
                        || artefact::path::check_change_paths(&doc, &c.change).is_ok()
                });
                clean.then_some(doc)
            }
            _ => None,
        };
        if snapshot.is_none() && !self.docs.contains_key(&id) {
            self.docs.insert(
                id,
                super::Loaded {
                    artefact: Artefact {
                        id,
                        doc: Automerge::new(),
                    },
                    proofs: HashMap::new(),
                    logged: 0,
                    blob_refs: HashSet::new(),
                },
            );
        }
        let mut accepted: Vec<StoredChange> = Vec::new();
        let mut joined_origins: Vec<BlobHash> = Vec::new();
        let mut newly_refused: Vec<ChangeHash> = Vec::new();
        let mut refused_now: Vec<Refusal> = Vec::new();
        {
            let mut working = match &snapshot {
                Some(doc) => Working::Snapshot(doc),
                None => match self.docs.get_mut(&id) {
                    Some(loaded) => Working::Loaded(&mut loaded.artefact.doc),
                    None => return Err(EngineError::NotFound(id.to_string())),
                },
            };
            let mut joined: HashSet<ChangeHash> = HashSet::new();
            for item in ordered {
                let hash = item.change.hash();
                let mut verdict = verdicts.get(&hash).copied().unwrap_or(Verdict::Held);
                // Why pass 2 refuses it, when it does (pass 1's refusals say it themselves).
                let mut reason = built_on_refused
                    .contains(&hash)
                    .then_some(RefusalReason::BuildsOnRefused);
                if verdict == Verdict::Admitted {
                    for d in item.change.deps() {
                        if !joined.contains(d) && !working.holds_before(d) {
                            verdict = match verdicts.get(d) {
                                Some(Verdict::Refused) => {
                                    reason = Some(RefusalReason::BuildsOnRefused);
                                    Verdict::Refused
                                }
                                _ => Verdict::Held,
                            };
                        }
                    }
                }
                if verdict == Verdict::Admitted && matches!(item.source, Source::Signed(_)) {
                    if let Err(e) = artefact::path::check_change_paths(working.doc(), &item.change)
                    {
                        reasons.push(format!("change {hash} refused: {e}"));
                        verdict = Verdict::Refused;
                        reason = Some(RefusalReason::Invalid);
                    }
                }
                if verdict == Verdict::Admitted {
                    if let Err(e) = working.apply(&item.change) {
                        reasons.push(format!("change {hash} does not apply: {e}"));
                        verdict = Verdict::Refused;
                        reason = Some(RefusalReason::Invalid);
                    }
                }
                verdicts.insert(hash, verdict);
                match verdict {
                    Verdict::Admitted => {
                        joined.insert(hash);
                        if let Proof::Origin { blob, .. } = &item.proof {
                            joined_origins.push(*blob);
                        }
                        accepted.push(StoredChange {
                            hash,
                            bytes: item.change.raw_bytes().to_vec(),
                            proof: item.proof,
                        });
                    }
                    Verdict::Refused => {
                        if let Source::Signed(author) = &item.source {
                            refused_now.push((hash, *author, reason));
                        }
                        newly_refused.push(hash);
                    }
                    Verdict::Held => {}
                }
            }
        }
        self.refused.extend(newly_refused);
        let admitted_now: Vec<ChangeHash> = accepted.iter().map(|c| c.hash).collect();
        let held = exists || !accepted.is_empty();
        let record_changed = self.note_refusals(&id, &refused_now, &admitted_now, held)?;
        if let Some(peer) = peer {
            for reason in reasons {
                self.reject(peer, Some(id), reason);
            }
        }
        if accepted.is_empty() {
            if snapshot.is_none() && !exists {
                // Nothing joined an artefact this node did not have: keep no empty document.
                self.docs.remove(&id);
            }
            if record_changed {
                self.store.flush().map_err(store_err)?;
            }
            return Ok(());
        }
        // Blobs carried for origins are kept only for the origins that joined.
        for blob in joined_origins {
            if let Some(bytes) = origin_blobs.get(&blob) {
                if !self.store.has_blob(&blob).map_err(store_err)? {
                    self.store.put_blob(&blob, bytes).map_err(store_err)?;
                }
            }
        }
        self.owners.insert(id, owner);
        self.remember_root_owner(&lineage);
        self.store
            .append_changes(&id, &accepted)
            .map_err(store_err)?;
        match snapshot {
            Some(snapshot_doc) => {
                // Everything in the snapshot joined: keep it as it came.
                self.store
                    .compact(&id, &snapshot_doc.save())
                    .map_err(store_err)?;
                self.docs.insert(
                    id,
                    super::Loaded {
                        artefact: Artefact {
                            id,
                            doc: snapshot_doc,
                        },
                        proofs: accepted.into_iter().map(|s| (s.hash, s.proof)).collect(),
                        logged: 0,
                        blob_refs: HashSet::new(),
                    },
                );
            }
            None => {
                let loaded = self
                    .docs
                    .get_mut(&id)
                    .ok_or_else(|| EngineError::NotFound(id.to_string()))?;
                loaded.logged += accepted.len();
                for s in accepted {
                    loaded.proofs.insert(s.hash, s.proof);
                }
            }
        }
        self.after_update(id, peer)?;
        self.store.flush().map_err(store_err)?;
        Ok(())
    }

    /// May a signed change by `author` join the artefact whose lineage is `lineage`? Whether it
    /// is in the causal past of a revocation is judged on the dependency graph of what this node
    /// holds plus the batch.
    fn authorize_on_graph(
        &self,
        lineage: &[(ArtefactId, Option<OrgNumber>)],
        change: &Change,
        author: &PublicKey,
        doc: &Automerge,
        batch: &HashMap<ChangeHash, Vec<ChangeHash>>,
    ) -> Result<(), EngineError> {
        let hash = change.hash();
        self.authorize_with(lineage, &hash, Some(author), |heads| {
            in_causal_past(doc, batch, &hash, heads)
        })
    }
}
