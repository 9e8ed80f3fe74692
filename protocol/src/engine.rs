//! The sync engine: one node's replication logic, with no I/O.
//!
//! The node feeds the engine what happened (a peer connected, a gossip message arrived, a request
//! or response came in, the user committed) together with the current time, and drains the
//! effects the engine wants (`Output`: send this request, gossip this announce, report this
//! event). Storage goes through the `Store` trait. Because nothing here waits on a socket, the
//! same engine runs in the node, in unit tests with several peers in one process, and in the
//! simulator.
//!
//! Sync in brief: a node gossips an artefact's heads whenever they change and asks every peer it
//! connects to for its inventory. A node that sees heads it lacks pulls: with no document yet it
//! gets a compact snapshot; otherwise the missing changes, negotiated by heads and, when histories
//! diverged, by short hash prefixes of what it has. Every change is verified (signature and actor
//! binding, or origin recomputation) and authorised before it is applied, stored or served.
//! File contents follow as blobs, fetched in batches and checked against their hashes.

use crate::artefact::{
    Artefact, ArtefactError, ArtefactId, ArtefactSummary, FileContent, FileEdit, FileEntry,
    Metadata, NewFile,
};
use crate::authz;
use crate::blob::BlobHash;
use crate::identity::{NodeKey, PublicKey};
use crate::identity::{OrgKind, OrgNumber};
use crate::signed::{self, Proof, VerifyError};
use crate::store::{Store, StoredChange};
use crate::trust::{SignedStatement, Trust};
use crate::wire::{
    self, heads_from_wire, heads_to_wire, Announce, Head, InventoryEntry, Request, Response,
    WireBlob, WireChange,
};
use automerge::{Automerge, Change, ChangeHash, ReadDoc};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};
use std::fmt::{Debug, Display};
use std::hash::Hash;

/// After this many logged changes an artefact is compacted into a fresh snapshot.
const COMPACT_AFTER: usize = 256;
/// Blob requests kept in flight per peer, so transfer is pipelined.
const BLOB_REQUESTS_PER_PEER: usize = 4;
/// Most operations in a snapshot this node sends. Loading a snapshot costs the receiver about
/// a microsecond per operation twice over (automerge rebuilds every change to hash it), so
/// larger artefacts travel as batches of changes instead, which cost less to check.
const SNAPSHOT_MAX_OPS: u64 = 1 << 20;
/// Bytes of changes put in one `Changes` response before the rest is left for the next pull.
const CHANGES_BATCH_BYTES: usize = 32 * 1024 * 1024;

/// A peer's identity as the engine sees it (the node uses libp2p's `PeerId`).
pub trait PeerKey: Clone + Eq + Hash + Debug + Display {}
impl<T: Clone + Eq + Hash + Debug + Display> PeerKey for T {}

/// An effect the engine asks the node to carry out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Output<P> {
    /// Send `request` to `peer`; hand the answer back with `handle_response`.
    Request { peer: P, request: Request },
    /// Gossip these heads to everyone.
    Announce(Announce),
    /// Gossip this trust statement to everyone.
    Statement(SignedStatement),
    /// Something the node should log or tell its user.
    Event(Event),
}

/// Things that happened, for logs, the CLI and tests.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// An artefact's document changed because of data from `from` (or a local commit).
    Updated {
        id: ArtefactId,
        heads: Vec<Head>,
        from: Option<String>,
    },
    /// All blobs of an artefact are present.
    Complete { id: ArtefactId },
    /// Progress fetching blobs: `have` of `want` bytes present.
    BlobProgress {
        id: ArtefactId,
        have: u64,
        want: u64,
    },
    /// Data from `peer` was refused and dropped.
    Rejected {
        peer: String,
        id: Option<ArtefactId>,
        reason: String,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("storage: {0}")]
    Store(Box<dyn std::error::Error + Send + Sync>),
    #[error(transparent)]
    Artefact(#[from] ArtefactError),
    #[error("no artefact {0}")]
    NotFound(String),
    #[error("{prefix:?} matches several artefacts: {matches}")]
    Ambiguous { prefix: String, matches: String },
    #[error("stored document for {id} is corrupt: {reason}")]
    Corrupt { id: ArtefactId, reason: String },
    #[error(
        "the content of {path} is not yet on this node (blob {blob}); wait for sync to finish"
    )]
    MissingBlob { path: String, blob: BlobHash },
    #[error("the content of {path} at that version is being fetched from peers (blob {blob}): it was replaced before this node received the artefact; try again in a moment")]
    FetchingOld { path: String, blob: BlobHash },
    #[error("change refused: {0}")]
    Refused(String),
    #[error("{0}")]
    NotPermitted(String),
    /// Something other than an artefact (an organisation, a statement, an endorsed version).
    #[error("not found: {0}")]
    Missing(String),
    #[error("this node has not joined a network: run `allmenning network join FILE` (or `network create` on a KS node)")]
    NoNetwork,
    #[error(transparent)]
    Trust(#[from] crate::trust::TrustError),
    /// A version name (`--at`) that names no version of the artefact, or several.
    #[error(transparent)]
    Version(#[from] VersionError),
}

fn store_err<E: std::error::Error + Send + Sync + 'static>(e: E) -> EngineError {
    EngineError::Store(Box::new(e))
}

/// A file with its content, as handed to publish and returned for checkout.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileData {
    pub path: String,
    pub content: Vec<u8>,
    pub executable: bool,
}

/// An entry of an artefact's history.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HistoryEntry {
    pub hash: ChangeHash,
    pub author: PublicKey,
    pub time: i64,
    pub message: String,
    pub deps: Vec<ChangeHash>,
}

struct Loaded {
    artefact: Artefact,
    proofs: HashMap<ChangeHash, Proof>,
    /// Changes appended to the store's log since the last snapshot.
    logged: usize,
    /// Blobs the artefact's files have referred to while loaded: the only blobs served for it.
    blob_refs: HashSet<BlobHash>,
}

#[derive(Default)]
struct BlobWant {
    size: u64,
    artefacts: BTreeSet<ArtefactId>,
}

/// One node's replication state machine.
pub struct Engine<S: Store, P: PeerKey> {
    key: NodeKey,
    store: S,
    /// The network's trust state; `None` outside a network (any proven change is accepted).
    trust: Option<Trust>,
    /// This node's organisation key, when it holds it (signs statements).
    org_key: Option<NodeKey>,
    /// This node's organisation.
    profile: Option<(OrgNumber, String, OrgKind)>,
    /// Owner organisation of each artefact, read once from its genesis.
    owners: HashMap<ArtefactId, Option<OrgNumber>>,
    /// Whether each artefact's genesis marks it restricted, read once.
    born_restricted: HashMap<ArtefactId, bool>,
    /// Changes this node refused (bad proof, not permitted, or depending on such a change). A
    /// peer that still has them is not asked for them again until who-may-do-what changes.
    refused: HashSet<ChangeHash>,
    /// Test hook: commit without the local write check (see `skip_local_write_check_for_testing`).
    skip_local_write_check: bool,
    docs: HashMap<ArtefactId, Loaded>,
    outbox: VecDeque<Output<P>>,
    connected: HashSet<P>,
    /// Node keys of connected peers, as authenticated by the transport.
    peer_keys: HashMap<P, PublicKey>,
    /// Artefacts with a pull in flight, and to whom.
    pulling: HashMap<ArtefactId, P>,
    /// Heads seen announced while a pull was in flight: check again when it ends.
    recheck: HashMap<ArtefactId, (P, Vec<ChangeHash>)>,
    /// Blobs some artefact needs and this node lacks.
    wanted: BTreeMap<BlobHash, BlobWant>,
    /// Peers that have (or will have) the blobs of an artefact.
    sources: HashMap<ArtefactId, Vec<P>>,
    /// Blob requests in flight: which hashes each peer was asked for.
    blob_requests: HashMap<P, Vec<Vec<BlobHash>>>,
    /// Blobs a peer said it does not have; not asked again until it announces new heads.
    lacks: HashSet<(P, BlobHash)>,
    /// Whether each artefact touched since start had all its blobs at its last summary.
    complete: HashMap<ArtefactId, bool>,
    /// Peers that answered `Busy` since the last tick: asked nothing more until then.
    busy: HashSet<P>,
    /// Requests a busy peer turned away, sent again at the next tick.
    deferred: Vec<(P, Request)>,
    /// The heads at which each artefact's past contents were last added to its `blob_refs`
    /// (so that asking for unknown blobs costs one history read per version, not per request).
    past_blobs_at: HashMap<ArtefactId, Vec<ChangeHash>>,
    /// Each artefact's conflict analyses at the versions last asked for, most recently used
    /// last (see `conflicts`).
    analyses: HashMap<
        ArtefactId,
        Vec<(
            Vec<ChangeHash>,
            std::sync::Arc<crate::artefact::conflict::Analysis>,
        )>,
    >,
}

impl<S: Store, P: PeerKey> Engine<S, P> {
    pub fn new(key: NodeKey, store: S) -> Self {
        Engine {
            key,
            store,
            trust: None,
            org_key: None,
            profile: None,
            owners: HashMap::new(),
            born_restricted: HashMap::new(),
            skip_local_write_check: false,
            refused: HashSet::new(),
            docs: HashMap::new(),
            outbox: VecDeque::new(),
            connected: HashSet::new(),
            peer_keys: HashMap::new(),
            pulling: HashMap::new(),
            recheck: HashMap::new(),
            wanted: BTreeMap::new(),
            sources: HashMap::new(),
            blob_requests: HashMap::new(),
            lacks: HashSet::new(),
            complete: HashMap::new(),
            busy: HashSet::new(),
            deferred: Vec::new(),
            analyses: HashMap::new(),
            past_blobs_at: HashMap::new(),
        }
    }

    pub fn public_key(&self) -> PublicKey {
        self.key.public()
    }

    pub fn store(&self) -> &S {
        &self.store
    }

    pub fn store_mut(&mut self) -> &mut S {
        &mut self.store
    }

    /// Takes the next effect to carry out.
    pub fn poll_output(&mut self) -> Option<Output<P>> {
        self.outbox.pop_front()
    }

    /// Takes every pending effect.
    pub fn drain_outputs(&mut self) -> Vec<Output<P>> {
        self.outbox.drain(..).collect()
    }

    // ----- local operations -------------------------------------------------------------

    /// Publishes a new artefact. Returns once it is durable.
    /// `readers`: the organisations a restricted artefact is shared with (`None`: public).
    pub fn publish(
        &mut self,
        meta: &Metadata,
        files: &[FileData],
        readers: Option<Vec<OrgNumber>>,
        now: i64,
        nonce: [u8; 8],
    ) -> Result<ArtefactId, EngineError> {
        self.check_admitted()?;
        if readers.is_some() && self.trust.is_none() {
            return Err(EngineError::NoNetwork);
        }
        let mut new_files = Vec::with_capacity(files.len());
        for file in files {
            crate::artefact::validate_path(&file.path)?;
            let hash = BlobHash::of(&file.content);
            if !self.store.has_blob(&hash).map_err(store_err)? {
                self.store
                    .put_blob(&hash, &file.content)
                    .map_err(store_err)?;
            }
            new_files.push(NewFile {
                path: file.path.clone(),
                blob: hash,
                size: file.content.len() as u64,
                executable: file.executable,
            });
        }
        let actor = signed::signed_actor(&self.key.public(), nonce);
        let (artefact, change) =
            Artefact::genesis(meta, &new_files, actor, now, "publish", readers.is_some())?;
        let id = artefact.id;
        let proof = signed::sign_change(&self.key, &change.hash());
        self.store
            .append_changes(
                &id,
                &[StoredChange {
                    hash: change.hash(),
                    bytes: change.raw_bytes().to_vec(),
                    proof: proof.clone(),
                }],
            )
            .map_err(store_err)?;
        let mut proofs = HashMap::new();
        proofs.insert(change.hash(), proof);
        self.docs.insert(
            id,
            Loaded {
                artefact,
                proofs,
                logged: 1,
                blob_refs: HashSet::new(),
            },
        );
        self.owners.insert(id, meta.owner.parse().ok());
        if let Some(readers) = readers {
            // The access list exists before anyone hears of the artefact.
            self.set_access(&id, Vec::new(), Some(readers), now)?;
        }
        self.after_update(id, None)?;
        self.store.flush().map_err(store_err)?;
        Ok(id)
    }

    /// Applies edits made against `base` as one signed change. Returns the new change (or
    /// `None` if the edits changed nothing) once it is durable.
    /// Stores the contents `edits` write as blobs: a file that stays a blob must be servable
    /// once announced (or, for a proposal, once accepted).
    fn store_written_blobs(&mut self, edits: &[FileEdit]) -> Result<(), EngineError> {
        for edit in edits {
            if let FileEdit::Write { content, .. } = edit {
                let hash = BlobHash::of(content);
                if !self.store.has_blob(&hash).map_err(store_err)? {
                    self.store.put_blob(&hash, content).map_err(store_err)?;
                }
            }
        }
        Ok(())
    }

    pub fn commit(
        &mut self,
        id: &ArtefactId,
        base: &[ChangeHash],
        edits: &[FileEdit],
        message: &str,
        now: i64,
        nonce: [u8; 8],
    ) -> Result<Option<ChangeHash>, EngineError> {
        self.store_written_blobs(edits)?;
        self.load(id)?;
        self.check_may_write(id)?;
        let resolve = self.resolved_by_edits(id, base, edits)?;
        let actor = signed::signed_actor(&self.key.public(), nonce);
        let key = self.key.clone();
        let store = &self.store;
        let loaded = self
            .docs
            .get_mut(id)
            .ok_or_else(|| EngineError::NotFound(id.to_string()))?;
        let outcome = loaded.artefact.edit_resolving(
            base,
            edits,
            &resolve,
            actor,
            now,
            message,
            blob_text(store),
        )?;
        let Some(change) = outcome.change else {
            return Ok(None);
        };
        let mut stored = Vec::new();
        for (origin, path, blob) in &outcome.origins {
            if loaded.proofs.contains_key(&origin.hash()) {
                continue;
            }
            let proof = Proof::Origin {
                path: path.clone(),
                blob: *blob,
            };
            loaded.proofs.insert(origin.hash(), proof.clone());
            stored.push(StoredChange {
                hash: origin.hash(),
                bytes: origin.raw_bytes().to_vec(),
                proof,
            });
        }
        let proof = signed::sign_change(&key, &change.hash());
        loaded.proofs.insert(change.hash(), proof.clone());
        stored.push(StoredChange {
            hash: change.hash(),
            bytes: change.raw_bytes().to_vec(),
            proof,
        });
        loaded.logged += stored.len();
        self.store.append_changes(id, &stored).map_err(store_err)?;
        self.after_update(*id, None)?;
        self.store.flush().map_err(store_err)?;
        Ok(Some(change.hash()))
    }

    /// Every artefact this node holds, as listing rows.
    pub fn list(&self) -> Result<Vec<ArtefactSummary>, EngineError> {
        self.store.summaries().map_err(store_err)
    }

    /// Resolves a full id or a unique prefix of one.
    pub fn resolve(&self, prefix: &str) -> Result<ArtefactId, EngineError> {
        let prefix = prefix.trim().to_ascii_lowercase();
        if let Ok(id) = prefix.parse::<ArtefactId>() {
            if self.docs.contains_key(&id)
                || self.store.load_document(&id).map_err(store_err)?.is_some()
            {
                return Ok(id);
            }
        }
        let ids = self.store.artefact_ids().map_err(store_err)?;
        let matches: Vec<ArtefactId> = ids
            .into_iter()
            .filter(|id| !prefix.is_empty() && id.to_hex().starts_with(&prefix))
            .collect();
        match matches.as_slice() {
            [one] => Ok(*one),
            [] => Err(EngineError::NotFound(prefix)),
            many => Err(EngineError::Ambiguous {
                prefix,
                matches: many
                    .iter()
                    .map(|m| m.to_hex()[..12].to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
            }),
        }
    }

    /// The artefact's document (loaded from the store on first use).
    pub fn artefact(&mut self, id: &ArtefactId) -> Result<&Artefact, EngineError> {
        self.load(id)?;
        self.docs
            .get(id)
            .map(|l| &l.artefact)
            .ok_or_else(|| EngineError::NotFound(id.to_string()))
    }

    /// Whether the artefact's genesis marks it restricted (cached; false when not held).
    pub(super) fn born_restricted(&mut self, id: &ArtefactId) -> bool {
        if let Some(born) = self.born_restricted.get(id) {
            return *born;
        }
        if self.load(id).is_err() {
            return false;
        }
        let root = root_of(&self.lineage(id), *id);
        let Some(doc) = self.docs.get(id).map(|l| &l.artefact.doc) else {
            return false;
        };
        let genesis = doc
            .get_changes_meta(&[])
            .into_iter()
            .find(|c| root.is_genesis(&c.hash) && c.deps.is_empty())
            .map(|c| c.hash);
        let born = genesis.is_some_and(|g| crate::artefact::restricted_at(doc, &[g]));
        self.born_restricted.insert(*id, born);
        born
    }

    /// The artefact's metadata: as its document has it or, for an adaptation, with the
    /// adaptation's own title and owner (its document holds the upstream's).
    pub fn metadata(&mut self, id: &ArtefactId) -> Result<Metadata, EngineError> {
        let adoption = self.adoption(id);
        let mut meta = self.artefact(id)?.metadata();
        if let Some(adoption) = adoption {
            adoption.apply_to(&mut meta);
        }
        Ok(meta)
    }

    /// History, newest first.
    pub fn history(&mut self, id: &ArtefactId) -> Result<Vec<HistoryEntry>, EngineError> {
        let artefact = self.artefact(id)?;
        Ok(artefact
            .history()
            .into_iter()
            .map(|(c, author)| HistoryEntry {
                hash: c.hash(),
                author,
                time: c.timestamp(),
                message: c.message().unwrap_or_default().to_string(),
                deps: c.deps().to_vec(),
            })
            .collect())
    }

    /// Every file with its content at `heads` (current heads when `None`).
    /// Every file's content at `heads` (the current heads when `None`), as people get it:
    /// merged where concurrent changes merge, with conflict markers and side files where they
    /// conflict (see [`Engine::presented`], which also says what conflicts).
    pub fn files(
        &mut self,
        id: &ArtefactId,
        heads: Option<&[ChangeHash]>,
    ) -> Result<(Vec<ChangeHash>, Vec<FileData>), EngineError> {
        let presented = self.presented(id, heads)?;
        Ok((presented.heads, presented.files))
    }

    fn content_of(
        &self,
        artefact: &Artefact,
        file: &FileEntry,
        heads: &[ChangeHash],
    ) -> Result<Vec<u8>, EngineError> {
        match &file.content {
            FileContent::Text { obj, .. } => Ok(artefact.text(obj, Some(heads))?.into_bytes()),
            FileContent::Blob { hash, .. } => {
                self.store
                    .get_blob(hash)
                    .map_err(store_err)?
                    .ok_or(EngineError::MissingBlob {
                        path: file.path.clone(),
                        blob: *hash,
                    })
            }
        }
    }

    /// Replaces the proof of a change this node holds with a corrupted one, as a faulty or
    /// malicious node would serve it. Exists for end-to-end tests of rejection; the node only
    /// exposes it when started with test hooks enabled.
    pub fn corrupt_proof_for_testing(
        &mut self,
        id: &ArtefactId,
        hash: &ChangeHash,
    ) -> Result<(), EngineError> {
        self.load(id)?;
        let loaded = self
            .docs
            .get_mut(id)
            .ok_or_else(|| EngineError::NotFound(id.to_string()))?;
        let proof = loaded
            .proofs
            .get_mut(hash)
            .ok_or_else(|| EngineError::NotFound(hash.to_string()))?;
        if let Proof::Signed { signature } = proof {
            if let Some(byte) = signature.first_mut() {
                *byte ^= 0xff;
            }
        }
        let bytes = loaded
            .artefact
            .doc
            .get_change_by_hash(hash)
            .map(|c| c.raw_bytes().to_vec())
            .ok_or_else(|| EngineError::NotFound(hash.to_string()))?;
        let stored = StoredChange {
            hash: *hash,
            bytes,
            proof: proof.clone(),
        };
        self.store
            .append_changes(id, &[stored])
            .map_err(store_err)?;
        self.store.flush().map_err(store_err)
    }

    // ----- peers ------------------------------------------------------------------------

    /// A connection to `peer` is up: ask what it has.
    /// `key` is the peer's node key when the transport authenticated it (libp2p peer ids of
    /// ed25519 keys carry it); it decides what a restricted artefact may be shown to.
    pub fn handle_connected(&mut self, peer: P, key: Option<PublicKey>) {
        if let Some(key) = key {
            self.peer_keys.insert(peer.clone(), key);
        }
        if self.connected.insert(peer.clone()) {
            if self.trust.is_some() {
                // Statements first: they decide which of the peer's changes are acceptable.
                let have = self.statement_prefixes();
                self.outbox.push_back(Output::Request {
                    peer: peer.clone(),
                    request: Request::Statements { have },
                });
            }
            self.outbox.push_back(Output::Request {
                peer,
                request: Request::Inventory,
            });
        }
    }

    /// The last connection to `peer` closed: forget in-flight work with it.
    pub fn handle_disconnected(&mut self, peer: &P) {
        self.connected.remove(peer);
        self.busy.remove(peer);
        self.deferred.retain(|(p, _)| p != peer);
        self.peer_keys.remove(peer);
        self.pulling.retain(|_, p| p != peer);
        self.blob_requests.remove(peer);
        for sources in self.sources.values_mut() {
            sources.retain(|p| p != peer);
        }
        // Blobs that were in flight with the peer stay wanted; ask someone else.
        let others: Vec<P> = self.connected.iter().cloned().collect();
        for other in others {
            self.request_blobs_from(&other);
        }
    }

    /// Called now and then (every few seconds): peers that lacked some file contents may have
    /// them by now, so ask again.
    pub fn handle_tick(&mut self) {
        let was_busy = std::mem::take(&mut self.busy);
        for (peer, request) in std::mem::take(&mut self.deferred) {
            if !self.connected.contains(&peer) {
                continue;
            }
            if let Request::Pull { id, .. } = &request {
                if self.pulling.contains_key(id) {
                    continue;
                }
                self.pulling.insert(*id, peer.clone());
            }
            self.outbox.push_back(Output::Request { peer, request });
        }
        if self.lacks.is_empty() && was_busy.is_empty() {
            return;
        }
        self.lacks.clear();
        let peers: Vec<P> = self.connected.iter().cloned().collect();
        for peer in peers {
            self.request_blobs_from(&peer);
        }
    }

    /// A gossip message arrived, forwarded by `peer`.
    pub fn handle_announce(&mut self, peer: P, bytes: &[u8]) {
        match Announce::decode(bytes) {
            Ok(announce) => {
                self.consider_heads(peer, announce.id, heads_from_wire(&announce.heads))
            }
            Err(e) => self.reject(&peer, None, format!("malformed announce: {e}")),
        }
    }

    /// A request from `peer`: returns the encoded response.
    pub fn handle_request(&mut self, peer: P, bytes: &[u8]) -> Vec<u8> {
        let response = match Request::decode(bytes) {
            Ok(request) => self.serve(&peer, request),
            Err(e) => {
                self.reject(&peer, None, format!("malformed request: {e}"));
                Response::Refused {
                    reason: format!("malformed request: {e}"),
                }
            }
        };
        response.encode()
    }

    /// `request` to `peer` failed (timeout, connection closed, protocol error).
    pub fn handle_request_failed(&mut self, peer: P, request: &Request) {
        self.request_done(&peer, request);
        // Heads announced while this pull was in flight still need fetching, from anyone.
        if let Request::Pull { id, .. } = request {
            if let Some((from, heads)) = self.recheck.remove(id) {
                self.consider_heads(from, *id, heads);
            }
        }
    }

    fn request_done(&mut self, peer: &P, request: &Request) {
        match request {
            Request::Pull { id, .. } => {
                if self.pulling.get(id) == Some(peer) {
                    self.pulling.remove(id);
                }
            }
            Request::Blobs { hashes, .. } => {
                if let Some(inflight) = self.blob_requests.get_mut(peer) {
                    if let Some(pos) = inflight.iter().position(|h| h == hashes) {
                        inflight.remove(pos);
                    }
                }
            }
            Request::Inventory
            | Request::Statements { .. }
            | Request::Offer { .. }
            | Request::Notify(_) => {}
        }
    }

    /// After a response: re-check announced heads and keep blob transfers going.
    fn follow_up(&mut self, peer: &P, request: &Request) {
        if let Request::Pull { id, .. } = request {
            if let Some((from, heads)) = self.recheck.remove(id) {
                self.consider_heads(from, *id, heads);
            }
        }
        self.request_blobs_from(peer);
    }

    fn reject(&mut self, peer: &P, id: Option<ArtefactId>, reason: String) {
        self.outbox.push_back(Output::Event(Event::Rejected {
            peer: peer.to_string(),
            id,
            reason,
        }));
    }

    /// `peer` has `heads` of artefact `id`: pull if any are unknown here.
    fn consider_heads(&mut self, peer: P, id: ArtefactId, heads: Vec<ChangeHash>) {
        if heads.is_empty() {
            return;
        }
        // A restricted artefact is neither fetched from nor shown to a peer that may not read
        // it: a pull would reveal our heads, so a crafted announce or notify from someone who
        // merely knows the id learns nothing. (An artefact not held here is pulled with no
        // heads, which reveals nothing.)
        let held = self.load(&id).is_ok() && self.docs.contains_key(&id);
        if held && !self.peer_may_read(&peer, &id) {
            return;
        }
        let known = match self.load(&id) {
            Ok(()) => match self.docs.get(&id) {
                Some(l) => heads.iter().all(|h| {
                    l.artefact.doc.get_change_by_hash(h).is_some() || self.refused.contains(h)
                }),
                None => false,
            },
            Err(EngineError::NotFound(_)) => false,
            Err(_) => false,
        };
        self.add_source(id, &peer);
        self.lacks.retain(|(p, _)| p != &peer);
        if known {
            // Same version, but the peer may have gained contents we still lack.
            if self.wanted.values().any(|w| w.artefacts.contains(&id)) {
                self.request_blobs_from(&peer);
            }
            return;
        }
        if self.pulling.contains_key(&id) {
            self.recheck.insert(id, (peer, heads));
            return;
        }
        let ours = self
            .docs
            .get(&id)
            .map(|l| l.artefact.heads())
            .unwrap_or_default();
        self.pull(peer, id, ours, Vec::new(), Vec::new());
    }

    fn pull(
        &mut self,
        peer: P,
        id: ArtefactId,
        heads: Vec<ChangeHash>,
        have: Vec<[u8; 8]>,
        need: Vec<ChangeHash>,
    ) {
        self.pulling.insert(id, peer.clone());
        self.outbox.push_back(Output::Request {
            peer,
            request: Request::Pull {
                id,
                heads: heads_to_wire(&heads),
                have,
                need: heads_to_wire(&need),
            },
        });
    }

    fn add_source(&mut self, id: ArtefactId, peer: &P) {
        let sources = self.sources.entry(id).or_default();
        if !sources.contains(peer) {
            sources.push(peer.clone());
        }
    }

    // ----- serving ----------------------------------------------------------------------

    fn serve(&mut self, peer: &P, request: Request) -> Response {
        match request {
            Request::Inventory => match self.store.summaries() {
                Ok(rows) => Response::Inventory {
                    entries: rows
                        .into_iter()
                        .filter(|s| self.peer_may_read(peer, &s.id))
                        .map(|s| InventoryEntry {
                            id: s.id,
                            heads: s.heads,
                        })
                        .collect(),
                },
                Err(e) => Response::Refused {
                    reason: format!("storage error: {e}"),
                },
            },
            Request::Pull {
                id,
                heads,
                have,
                need,
            } => {
                if !self.peer_may_read(peer, &id) {
                    // Indistinguishable from not having it: a restricted artefact's existence
                    // is not revealed to those it is not shared with.
                    return Response::NotFound { id };
                }
                match self.serve_pull(
                    peer,
                    id,
                    heads_from_wire(&heads),
                    have,
                    heads_from_wire(&need),
                ) {
                    Ok(r) => r,
                    Err(EngineError::NotFound(_)) => Response::NotFound { id },
                    Err(e) => Response::Refused {
                        reason: e.to_string(),
                    },
                }
            }
            Request::Blobs { id, hashes } => self.serve_blobs(peer, id, hashes),
            Request::Statements { have } => self.serve_statements(peer, &have),
            Request::Offer { statements } => {
                self.ingest_statements(Some(peer), statements);
                Response::Ack
            }
            Request::Notify(announce) => {
                self.consider_heads(peer.clone(), announce.id, heads_from_wire(&announce.heads));
                Response::Ack
            }
        }
    }

    fn serve_pull(
        &mut self,
        peer: &P,
        id: ArtefactId,
        their_heads: Vec<ChangeHash>,
        have: Vec<[u8; 8]>,
        need: Vec<ChangeHash>,
    ) -> Result<Response, EngineError> {
        self.load(&id)?;
        let loaded = self
            .docs
            .get(&id)
            .ok_or_else(|| EngineError::NotFound(id.to_string()))?;
        let doc = &loaded.artefact.doc;
        let ours = doc.get_heads();
        if their_heads.is_empty() && need.is_empty() && snapshot_fits(doc) {
            let document = doc.save();
            let mut proofs: Vec<(Head, Proof)> = loaded
                .proofs
                .iter()
                .map(|(h, p)| (Head::from(*h), p.clone()))
                .collect();
            proofs.sort_by_key(|p| p.0);
            let origin_blobs = self.origin_blobs(proofs.iter().map(|(_, p)| p))?;
            return Ok(Response::Snapshot {
                id,
                document,
                proofs,
                origin_blobs,
            });
        }
        let (known, unknown): (Vec<ChangeHash>, Vec<ChangeHash>) = their_heads
            .iter()
            .partition(|h| doc.get_change_by_hash(h).is_some());
        if !unknown.is_empty() {
            // They have changes we lack: fetch them too.
            let peer = peer.clone();
            if !self.pulling.contains_key(&id) {
                self.pull(peer.clone(), id, ours.clone(), Vec::new(), Vec::new());
            }
            if have.is_empty() && need.is_empty() {
                return Ok(Response::Diverged {
                    id,
                    heads: heads_to_wire(&ours),
                });
            }
        }
        let loaded = self
            .docs
            .get(&id)
            .ok_or_else(|| EngineError::NotFound(id.to_string()))?;
        let doc = &loaded.artefact.doc;
        let have: HashSet<[u8; 8]> = have.into_iter().collect();
        let mut changes: Vec<Change> = doc
            .get_changes(&known)
            .into_iter()
            .filter(|c| !have.contains(&prefix8(&c.hash())))
            .collect();
        let mut seen: HashSet<ChangeHash> = changes.iter().map(|c| c.hash()).collect();
        for hash in &need {
            if let Some(c) = doc.get_change_by_hash(hash) {
                if seen.insert(c.hash()) {
                    changes.push(c);
                }
            }
        }
        let out = batch_for_peer(changes, &loaded.proofs, BatchLimits::PER_MESSAGE, |blob| {
            self.store
                .get_blob(blob)
                .ok()
                .flatten()
                .map_or(0, |b| b.len())
        });
        let origin_blobs = self.origin_blobs(out.iter().map(|c| &c.proof))?;
        Ok(Response::Changes {
            id,
            heads: heads_to_wire(&ours),
            changes: out,
            origin_blobs,
        })
    }

    fn origin_blobs<'a>(
        &self,
        proofs: impl Iterator<Item = &'a Proof>,
    ) -> Result<Vec<WireBlob>, EngineError> {
        let mut wanted = BTreeSet::new();
        for proof in proofs {
            if let Proof::Origin { blob, .. } = proof {
                wanted.insert(*blob);
            }
        }
        let mut out = Vec::new();
        for hash in wanted {
            if let Some(bytes) = self.store.get_blob(&hash).map_err(store_err)? {
                out.push(WireBlob(bytes));
            }
        }
        Ok(out)
    }

    /// When a peer asks for contents the current files do not name (an older version's, for
    /// `checkout --at`), adds every content the artefact's history names to what may be served:
    /// once per version of the artefact, however often it is asked.
    fn include_past_blobs(&mut self, id: &ArtefactId, hashes: &[BlobHash]) {
        let Some(loaded) = self.docs.get_mut(id) else {
            return;
        };
        if hashes.iter().all(|h| loaded.blob_refs.contains(h)) {
            return;
        }
        let heads = loaded.artefact.heads();
        if self.past_blobs_at.get(id) == Some(&heads) {
            return;
        }
        let past = crate::artefact::conflict::history::History::of(&loaded.artefact.doc).blobs;
        loaded.blob_refs.extend(past);
        self.past_blobs_at.insert(*id, heads);
    }

    fn serve_blobs(&mut self, peer: &P, id: ArtefactId, hashes: Vec<BlobHash>) -> Response {
        if hashes.len() > wire::MAX_BLOBS_PER_REQUEST {
            return Response::Refused {
                reason: format!(
                    "more than {} blobs asked at once",
                    wire::MAX_BLOBS_PER_REQUEST
                ),
            };
        }
        // Only blobs of an artefact the peer may read, and only those the artefact refers to.
        let may_read = self.peer_may_read(peer, &id) && self.load(&id).is_ok();
        if may_read {
            self.include_past_blobs(&id, &hashes);
        }
        // Looked up in place: with the history's contents included the set can be large, and
        // a request asks for at most a few of them.
        let allowed = |hash: &BlobHash| {
            may_read
                && self
                    .docs
                    .get(&id)
                    .is_some_and(|l| l.blob_refs.contains(hash))
        };
        let mut blobs = Vec::new();
        let mut missing = Vec::new();
        let mut bytes = 0usize;
        for hash in hashes {
            if bytes >= wire::BLOB_BATCH_BYTES || !allowed(&hash) {
                missing.push(hash);
                continue;
            }
            match self.store.get_blob(&hash) {
                Ok(Some(b)) => {
                    bytes += b.len();
                    blobs.push(WireBlob(b));
                }
                _ => missing.push(hash),
            }
        }
        Response::Blobs { blobs, missing }
    }

    // ----- ingesting --------------------------------------------------------------------

    fn ingest_response(
        &mut self,
        peer: &P,
        request: &Request,
        response: Response,
    ) -> Result<(), EngineError> {
        match response {
            Response::Inventory { entries } => {
                for entry in entries {
                    self.consider_heads(peer.clone(), entry.id, heads_from_wire(&entry.heads));
                }
                Ok(())
            }
            // Replies carrying Automerge data are checked first (`prepare_response`) and taken
            // in by `ingest_prepared`.
            Response::Snapshot { .. } | Response::Changes { .. } => {
                Err(EngineError::Refused("unchecked snapshot or changes".into()))
            }
            Response::Diverged { id, heads } => {
                self.expect_pull_for(request, &id)?;
                let theirs = heads_from_wire(&heads);
                let Some(loaded) = self.docs.get(&id) else {
                    return Ok(());
                };
                let doc = &loaded.artefact.doc;
                let common: Vec<ChangeHash> = theirs
                    .iter()
                    .filter(|h| doc.get_change_by_hash(h).is_some())
                    .copied()
                    .collect();
                let mut have: Vec<[u8; 8]> = doc
                    .get_changes(&common)
                    .iter()
                    .map(|c| prefix8(&c.hash()))
                    .collect();
                have.truncate(wire::MAX_REQUEST_BYTES / 16);
                let ours = doc.get_heads();
                // Release the in-flight marker first so the follow-up pull is allowed.
                self.pulling.remove(&id);
                self.pull(peer.clone(), id, ours, have, Vec::new());
                Ok(())
            }
            Response::Blobs { blobs, missing } => {
                let Request::Blobs { hashes, .. } = request else {
                    return Err(EngineError::Refused(
                        "blobs sent that were not asked for".into(),
                    ));
                };
                let asked: HashSet<BlobHash> = hashes.iter().copied().collect();
                let mut touched = BTreeSet::new();
                for WireBlob(bytes) in blobs {
                    let hash = BlobHash::of(&bytes);
                    if !asked.contains(&hash) {
                        return Err(EngineError::Refused(format!(
                            "blob {hash} was not asked for (or its bytes do not match)"
                        )));
                    }
                    if let Some(want) = self.wanted.remove(&hash) {
                        self.store.put_blob(&hash, &bytes).map_err(store_err)?;
                        touched.extend(want.artefacts);
                    }
                }
                for hash in missing {
                    if asked.contains(&hash) {
                        self.lacks.insert((peer.clone(), hash));
                    }
                }
                for id in touched {
                    self.refresh_summary(&id)?;
                }
                self.store.flush().map_err(store_err)?;
                Ok(())
            }
            Response::NotFound { .. } | Response::Ack => Ok(()),
            Response::Statements { statements } => {
                self.ingest_statements(Some(peer), statements);
                Ok(())
            }
            Response::Refused { reason } => {
                Err(EngineError::Refused(format!("peer refused: {reason}")))
            }
            Response::Busy { .. } => {
                // Blobs stay wanted and are asked for again anyway; anything else is resent.
                self.busy.insert(peer.clone());
                if !matches!(request, Request::Blobs { .. }) {
                    self.deferred.push((peer.clone(), request.clone()));
                }
                Ok(())
            }
        }
    }

    fn expect_pull_for(&self, request: &Request, id: &ArtefactId) -> Result<(), EngineError> {
        match request {
            Request::Pull { id: asked, .. } if asked == id => Ok(()),
            _ => Err(EngineError::Refused(format!(
                "unsolicited data for artefact {id}"
            ))),
        }
    }

    /// Checks a change's proof; returns its author (`None` for a verified origin change).
    fn verify(&self, change: &Change, proof: &Proof) -> Result<Option<PublicKey>, EngineError> {
        signed::verify_change(change, proof, |h| self.store.get_blob(h).ok().flatten())
            .map_err(|e: VerifyError| EngineError::Refused(e.to_string()))
    }

    /// May a change (`author`: its signer; `None`: a verified origin) join the artefact whose
    /// lineage is `lineage` (see [`Engine::lineage`]): under the rules of the artefact itself or,
    /// for an adaptation, of the upstream it was adopted from. `in_past_of` tells whether the
    /// change is in the causal past of given heads (of a revocation).
    pub(super) fn authorize_with(
        &self,
        lineage: &[(ArtefactId, Option<OrgNumber>)],
        hash: &ChangeHash,
        author: Option<&PublicKey>,
        in_past_of: impl Fn(&[Head]) -> bool,
    ) -> Result<(), EngineError> {
        let head = Head(hash.0);
        let mut first_refusal = None;
        for (id, owner) in lineage {
            match authz::authorize(
                self.trust.as_ref(),
                id,
                *owner,
                author,
                Some(&head),
                &in_past_of,
            ) {
                Ok(()) => return Ok(()),
                Err(e) => {
                    first_refusal.get_or_insert(e);
                }
            }
        }
        Err(EngineError::Refused(
            first_refusal
                .map(|e| e.to_string())
                .unwrap_or_else(|| "no owner known".into()),
        ))
    }

    // ----- bookkeeping ------------------------------------------------------------------

    /// After the document changed: compact if due, refresh the listing (which notes the blobs
    /// to fetch), announce the heads.
    fn after_update(&mut self, id: ArtefactId, from: Option<&P>) -> Result<(), EngineError> {
        let loaded = self
            .docs
            .get_mut(&id)
            .ok_or_else(|| EngineError::NotFound(id.to_string()))?;
        if loaded.logged >= COMPACT_AFTER {
            let snapshot = loaded.artefact.doc.save();
            self.store.compact(&id, &snapshot).map_err(store_err)?;
            loaded.logged = 0;
        }
        let heads = heads_to_wire(&loaded.artefact.heads());
        self.refresh_summary(&id)?;
        if self.is_restricted(&id) {
            self.announce_restricted(&id, heads.clone());
        } else {
            self.outbox.push_back(Output::Announce(Announce {
                id,
                heads: heads.clone(),
            }));
        }
        self.outbox.push_back(Output::Event(Event::Updated {
            id,
            heads,
            from: from.map(|p| p.to_string()),
        }));
        if let Some(peer) = from {
            self.add_source(id, peer);
            let peer = peer.clone();
            self.request_blobs_from(&peer);
        }
        Ok(())
    }

    fn refresh_summary(&mut self, id: &ArtefactId) -> Result<(), EngineError> {
        let owner = self.owner_of(id);
        // Every side of a conflict is content a checkout shows (next to the file), so its blob
        // is fetched and served like the file's own.
        let analysis = self.analysis(id, None)?;
        let conflicts = analysis.conflicts().count();
        let loaded = self
            .docs
            .get_mut(id)
            .ok_or_else(|| EngineError::NotFound(id.to_string()))?;
        let files = loaded.artefact.files(None);
        let in_tree: HashSet<BlobHash> = files
            .iter()
            .filter_map(|f| match f.content {
                FileContent::Blob { hash, .. } => Some(hash),
                _ => None,
            })
            .collect();
        let sides: BTreeMap<BlobHash, u64> = conflicts::outcome_blobs(&analysis)
            .filter(|(hash, _)| !in_tree.contains(hash))
            .collect();
        loaded.blob_refs.extend(in_tree.iter().copied());
        loaded.blob_refs.extend(sides.keys().copied());
        let loaded = self
            .docs
            .get(id)
            .ok_or_else(|| EngineError::NotFound(id.to_string()))?;
        let artefact = &loaded.artefact;
        let mut meta = artefact.metadata();
        if let Some(adoption) = self.adoption(id) {
            adoption.apply_to(&mut meta);
        }
        let mut size = 0;
        let mut have = 0;
        let mut want = 0;
        let mut complete = true;
        // Text lives in the document; blobs (the tree's and the conflicts' other sides) must
        // be fetched.
        let mut blobs: Vec<(BlobHash, u64)> = Vec::with_capacity(files.len() + sides.len());
        for file in &files {
            let bytes = artefact.file_size(file, None);
            size += bytes;
            if let FileContent::Blob { hash, .. } = &file.content {
                blobs.push((*hash, bytes));
            }
        }
        size += sides.values().sum::<u64>();
        blobs.extend(sides);
        for (hash, bytes) in blobs {
            want += bytes;
            if self.store.has_blob(&hash).map_err(store_err)? {
                have += bytes;
            } else {
                complete = false;
                let want = self.wanted.entry(hash).or_default();
                want.size = bytes;
                want.artefacts.insert(*id);
            }
        }
        let updated = artefact
            .heads()
            .iter()
            .filter_map(|h| artefact.doc.get_change_by_hash(h).map(|c| c.timestamp()))
            .max()
            .unwrap_or(meta.created);
        let summary = ArtefactSummary {
            id: *id,
            title: meta.title,
            kind: meta.kind,
            // The owner recorded at genesis: later edits to the metadata cannot move it.
            owner: owner.map(|o| o.to_string()).unwrap_or(meta.owner),
            owner_name: meta.owner_name,
            heads: heads_to_wire(&artefact.heads()),
            files: files.len(),
            size,
            updated,
            complete,
            present: size.saturating_sub(want - have),
            conflicts,
        };
        let was_complete = self.complete.insert(*id, complete);
        self.store.put_summary(&summary).map_err(store_err)?;
        if complete && was_complete == Some(false) {
            // Peers that asked us for these contents before we had them retry on this.
            let heads = summary.heads.clone();
            if self.is_restricted(id) {
                self.announce_restricted(id, heads);
            } else {
                self.outbox
                    .push_back(Output::Announce(Announce { id: *id, heads }));
            }
        }
        if complete && was_complete != Some(true) {
            self.outbox
                .push_back(Output::Event(Event::Complete { id: *id }));
        } else if !complete {
            self.outbox.push_back(Output::Event(Event::BlobProgress {
                id: *id,
                have,
                want,
            }));
        }
        Ok(())
    }

    /// Asks `peer` for wanted blobs of artefacts it is a source of, keeping a few requests in flight.
    fn request_blobs_from(&mut self, peer: &P) {
        if !self.connected.contains(peer) || self.busy.contains(peer) {
            return;
        }
        let mut in_flight: HashSet<BlobHash> = self
            .blob_requests
            .values()
            .flatten()
            .flatten()
            .copied()
            .collect();
        while self.blob_requests.get(peer).map_or(0, Vec::len) < BLOB_REQUESTS_PER_PEER {
            let Some((id, batch)) = self.next_blob_batch(peer, &in_flight) else {
                return;
            };
            in_flight.extend(batch.iter().copied());
            self.blob_requests
                .entry(peer.clone())
                .or_default()
                .push(batch.clone());
            self.outbox.push_back(Output::Request {
                peer: peer.clone(),
                request: Request::Blobs { id, hashes: batch },
            });
        }
    }

    /// The next batch of wanted blobs of one artefact that `peer` can be asked for, up to the
    /// batch byte limit (blobs are asked for by artefact, so the peer can check access).
    fn next_blob_batch(
        &self,
        peer: &P,
        in_flight: &HashSet<BlobHash>,
    ) -> Option<(ArtefactId, Vec<BlobHash>)> {
        let mut artefact: Option<ArtefactId> = None;
        let mut batch = Vec::new();
        let mut bytes = 0u64;
        for (hash, want) in &self.wanted {
            if in_flight.contains(hash) || self.lacks.contains(&(peer.clone(), *hash)) {
                continue;
            }
            let source = want
                .artefacts
                .iter()
                .find(|id| self.sources.get(id).is_some_and(|s| s.contains(peer)));
            let Some(source) = source else {
                continue;
            };
            match artefact {
                None => artefact = Some(*source),
                Some(a) if want.artefacts.contains(&a) => {}
                Some(_) => continue,
            }
            if !batch.is_empty() && bytes + want.size > wire::BLOB_BATCH_BYTES as u64 {
                break;
            }
            bytes += want.size;
            batch.push(*hash);
            if batch.len() >= wire::MAX_BLOBS_PER_REQUEST {
                break;
            }
        }
        artefact.map(|a| (a, batch))
    }

    /// Loads an artefact from the store into memory if it is not loaded yet.
    fn load(&mut self, id: &ArtefactId) -> Result<(), EngineError> {
        if self.docs.contains_key(id) {
            return Ok(());
        }
        let stored = self
            .store
            .load_document(id)
            .map_err(store_err)?
            .ok_or_else(|| EngineError::NotFound(id.to_string()))?;
        let corrupt = |reason: String| EngineError::Corrupt { id: *id, reason };
        let mut doc = match &stored.snapshot {
            Some(bytes) => Automerge::load(bytes).map_err(|e| corrupt(e.to_string()))?,
            None => Automerge::new(),
        };
        let mut changes = Vec::with_capacity(stored.changes.len());
        for bytes in &stored.changes {
            changes.push(Change::from_bytes(bytes.clone()).map_err(|e| corrupt(e.to_string()))?);
        }
        doc.apply_changes(changes)
            .map_err(|e| corrupt(e.to_string()))?;
        let proofs = self
            .store
            .proofs(id)
            .map_err(store_err)?
            .into_iter()
            .collect();
        let logged = stored.changes.len();
        let artefact = Artefact { id: *id, doc };
        let blob_refs = artefact
            .files(None)
            .into_iter()
            .filter_map(|f| match f.content {
                FileContent::Blob { hash, .. } => Some(hash),
                FileContent::Text { .. } => None,
            })
            .collect();
        self.docs.insert(
            *id,
            Loaded {
                artefact,
                proofs,
                logged,
                blob_refs,
            },
        );
        Ok(())
    }
}

/// Whether a snapshot of `doc` stays within what a receiver decodes from one message
/// ([`signed::DecodeBudget::per_message`]); a larger artefact travels as batches of changes.
fn snapshot_fits(doc: &Automerge) -> bool {
    let stats = doc.stats();
    if stats.num_ops > SNAPSHOT_MAX_OPS
        || stats.num_changes > signed::MAX_CHANGES_PER_MESSAGE as u64
    {
        return false;
    }
    // Compressed columns inflate on the receiver: bound what they inflate to, and measure it
    // only when the document is big enough for that to matter.
    let limit = signed::MAX_INFLATED_BYTES_PER_MESSAGE / 2;
    stats.num_ops < 100_000 || (doc.save_nocompress().len() as u64) <= limit
}

/// How much one `Changes` response may carry.
#[derive(Clone, Copy, Debug)]
struct BatchLimits {
    bytes: usize,
    ops: u64,
    changes: usize,
}

impl BatchLimits {
    /// What a receiver decodes from one message (`signed::DecodeBudget::per_message`).
    const PER_MESSAGE: BatchLimits = BatchLimits {
        bytes: CHANGES_BATCH_BYTES,
        ops: signed::MAX_OPS_PER_MESSAGE,
        changes: signed::MAX_CHANGES_PER_MESSAGE,
    };
}

/// The changes to send a peer, in the order given, cut so that the receiver's budget for one
/// message holds them (`limits`; an origin also costs its text's length to recompute). An origin
/// travels right before the first signed change that uses it, never in another batch (the
/// receiver admits an origin only together with the signed change that names it). Changes
/// without a recorded proof are never served. `blob_len` gives an origin's text size.
fn batch_for_peer(
    changes: Vec<Change>,
    proofs: &HashMap<ChangeHash, Proof>,
    limits: BatchLimits,
    blob_len: impl Fn(&BlobHash) -> usize,
) -> Vec<WireChange> {
    let mut origins: HashMap<ChangeHash, (Change, Proof)> = HashMap::new();
    let mut units: Vec<Vec<(Change, Proof)>> = Vec::new();
    for change in changes {
        let Some(proof) = proofs.get(&change.hash()) else {
            continue;
        };
        if matches!(proof, Proof::Origin { .. }) {
            origins.insert(change.hash(), (change, proof.clone()));
            continue;
        }
        let mut unit: Vec<(Change, Proof)> = change
            .deps()
            .iter()
            .filter_map(|d| origins.remove(d))
            .collect();
        unit.push((change, proof.clone()));
        units.push(unit);
    }
    // Origins nobody here uses (the peer has their users already) go last, one unit each.
    let mut rest: Vec<(Change, Proof)> = origins.into_values().collect();
    rest.sort_by_key(|(c, _)| c.hash());
    units.extend(rest.into_iter().map(|o| vec![o]));

    let mut out = Vec::new();
    let (mut bytes, mut ops) = (0usize, 0u64);
    for unit in units {
        let unit_bytes: usize = unit.iter().map(|(c, _)| c.raw_bytes().len()).sum();
        let unit_ops: u64 = unit
            .iter()
            .map(|(c, p)| {
                let text = match p {
                    Proof::Origin { blob, .. } => blob_len(blob) as u64,
                    Proof::Signed { .. } => 0,
                };
                c.len() as u64 + text
            })
            .sum();
        let over = bytes + unit_bytes > limits.bytes
            || ops + unit_ops > limits.ops
            || out.len() + unit.len() > limits.changes;
        if over && !out.is_empty() {
            break;
        }
        bytes += unit_bytes;
        ops += unit_ops;
        out.extend(unit.into_iter().map(|(c, proof)| WireChange {
            bytes: c.raw_bytes().to_vec(),
            proof,
        }));
    }
    out
}

/// The artefact whose genesis an artefact's document starts from: the last of its lineage.
fn root_of(lineage: &[(ArtefactId, Option<OrgNumber>)], id: ArtefactId) -> ArtefactId {
    lineage.last().map_or(id, |(root, _)| *root)
}

/// The owner organisation recorded by an artefact's genesis change.
fn owner_from_doc(id: &ArtefactId, doc: &Automerge) -> Option<OrgNumber> {
    let genesis = doc
        .get_changes(&[])
        .into_iter()
        .find(|c| id.is_genesis(&c.hash()) && c.deps().is_empty())?;
    crate::artefact::owner_at(doc, &[genesis.hash()])?
        .parse()
        .ok()
}

/// Reads a stored blob as UTF-8 text, for files edited as text the first time.
fn blob_text<S: Store>(store: &S) -> impl Fn(&BlobHash) -> Option<String> + '_ {
    |hash| {
        store
            .get_blob(hash)
            .ok()
            .flatten()
            .and_then(|b| String::from_utf8(b).ok())
    }
}

fn prefix8(hash: &ChangeHash) -> [u8; 8] {
    let mut out = [0u8; 8];
    out.copy_from_slice(&hash.0[..8]);
    out
}

fn request_id(request: &Request) -> Option<ArtefactId> {
    match request {
        Request::Pull { id, .. } => Some(*id),
        _ => None,
    }
}

mod adoption;
mod conflicts;
pub use conflicts::{org_slug, short_hash, ConflictView, Presented, SideView};
pub(crate) mod curation;
#[cfg(test)]
mod hostile_tests;
mod ingest;
mod proposals;
mod refusals;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod trust_tests;
mod versions;

pub use adoption::{AdaptationState, UpstreamMerge, UpstreamProposal};
pub use curation::{EndorsementState, RevokeTarget, Role};
pub use ingest::PreparedResponse;
pub use versions::{FileHistoryEntry, VersionError, ENDORSED};
