//! Signed changes: why a node may apply a change it did not write.
//!
//! Every Automerge change a node writes uses an actor id made of the node's public key and a
//! fresh nonce, and is accompanied by a `Proof::Signed` over its hash. Receivers check both the
//! signature and that the actor id starts with the signing key, so a change cannot be replayed
//! under another node's name. The one exception is an *origin* change: the deterministic change
//! that turns a stored blob into co-editable Automerge text (see `artefact::origin`). Any node can
//! recompute it from the blob and the path, so its proof is the recipe, and checking it means
//! recomputing it and comparing hashes.
//!
//! Change and snapshot bytes from peers are decoded with [`decode_change`] and [`load_snapshot`],
//! which first run a structural check (module `precheck`) for malformed chunks that make
//! Automerge panic instead of failing.

pub mod hostile;
mod precheck;

use crate::artefact::origin;
use crate::blob::BlobHash;
use crate::identity::{NodeKey, PublicKey, SignatureError};
use automerge::{ActorId, Automerge, Change, ChangeHash, ReadDoc};
use serde::{Deserialize, Serialize};

/// Domain-separation context for change signatures.
pub const CHANGE_SIGNATURE_CONTEXT: &[u8] = b"allmenning/change/v1";

/// Length of a signed actor id: a 32-byte public key followed by an 8-byte nonce.
pub const SIGNED_ACTOR_LEN: usize = 40;

pub use precheck::MalformedInput;

/// Most operations one change may hold. A change a node writes stays below it (the largest
/// is a rewrite of a text at `artefact::MAX_TEXT_BYTES`: every character deleted and inserted),
/// and `commit` refuses edits that would not.
pub const MAX_OPS_PER_CHANGE: u64 = 1 << 22;
/// Most operations decoded from one peer message (a `Changes` or `Snapshot` response, one
/// proposal). Honest nodes batch what they send under it.
pub const MAX_OPS_PER_MESSAGE: u64 = 1 << 23;
/// Most bytes that compressed columns of one peer message may inflate to.
pub const MAX_INFLATED_BYTES_PER_MESSAGE: u64 = 64 << 20;
/// Most changes in one `Changes` response (each costs a signature check).
pub const MAX_CHANGES_PER_MESSAGE: usize = 16_384;

/// What decoding untrusted Automerge bytes may still cost: operations and inflated bytes.
/// One budget covers one peer message; every change or snapshot decoded from it draws on it,
/// and decoding refuses input that claims more than is left before doing that work.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DecodeBudget {
    ops: u64,
    inflated_bytes: u64,
}

impl DecodeBudget {
    pub fn new(ops: u64, inflated_bytes: u64) -> Self {
        DecodeBudget {
            ops,
            inflated_bytes,
        }
    }

    /// The budget for one peer message.
    pub fn per_message() -> Self {
        Self::new(MAX_OPS_PER_MESSAGE, MAX_INFLATED_BYTES_PER_MESSAGE)
    }

    pub fn ops_left(&self) -> u64 {
        self.ops
    }

    pub fn inflated_bytes_left(&self) -> u64 {
        self.inflated_bytes
    }

    /// Takes `ops` operations from the budget, or refuses without taking any.
    pub fn charge_ops(&mut self, ops: u64) -> Result<(), OverBudget> {
        if ops > self.ops {
            return Err(OverBudget::Ops {
                claimed: ops,
                left: self.ops,
            });
        }
        self.ops -= ops;
        Ok(())
    }

    /// Takes `bytes` inflated bytes from the budget, or refuses without taking any.
    pub fn charge_inflated(&mut self, bytes: u64) -> Result<(), OverBudget> {
        if bytes > self.inflated_bytes {
            return Err(OverBudget::Inflated {
                claimed: bytes,
                left: self.inflated_bytes,
            });
        }
        self.inflated_bytes -= bytes;
        Ok(())
    }
}

/// Untrusted input that would cost more than its budget allows.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OverBudget {
    #[error("claims {claimed} operations, more than the {left} this message may still decode")]
    Ops { claimed: u64, left: u64 },
    #[error(
        "inflates to at least {claimed} bytes, more than the {left} this message may still use"
    )]
    Inflated { claimed: u64, left: u64 },
}

/// Why change bytes from a peer could not be decoded.
#[derive(Debug, thiserror::Error)]
pub enum DecodeChangeError {
    /// Refused by the structural check, before Automerge saw the bytes.
    #[error("malformed change: {0}")]
    Malformed(#[from] MalformedInput),
    /// Refused before decoding: it would cost more than the budget allows.
    #[error("change refused: {0}")]
    OverBudget(#[from] OverBudget),
    /// Refused by Automerge.
    #[error("undecodable change: {0}")]
    Undecodable(#[from] automerge::LoadChangeError),
}

/// What the header of a change chunk says, read without decoding its operations: enough to
/// check its signature and who wrote it before paying for the rest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChangeHeader {
    /// The change hash (SHA-256 over chunk type, body length and body, as Automerge computes it).
    pub hash: ChangeHash,
    pub actor: ActorId,
    pub deps: Vec<ChangeHash>,
    pub seq: u64,
    pub time: i64,
    /// How many operations the op columns claim (their longest column, in rows).
    pub claimed_ops: u64,
}

/// Reads the header of change bytes from a peer without decoding its operations.
pub fn change_header(bytes: &[u8]) -> Result<ChangeHeader, DecodeChangeError> {
    precheck::check(bytes)?;
    // Interim: decodes the change; to be replaced by a header-only parse.
    let change = Change::from_bytes(bytes.to_vec())?;
    Ok(ChangeHeader {
        hash: change.hash(),
        actor: change.actor_id().clone(),
        deps: change.deps().to_vec(),
        seq: change.seq(),
        time: change.timestamp(),
        claimed_ops: change.len() as u64,
    })
}

/// Decodes change bytes received from a peer (an uncompressed change chunk, as
/// `Change::raw_bytes` gives it), drawing its operations from `budget`. Use this rather than
/// `Change::from_bytes` on untrusted input: it refuses, before Automerge decodes anything,
/// chunks that claim more operations than `MAX_OPS_PER_CHANGE` or than the budget has left,
/// and the malformed chunks on which automerge 0.12 panics (module `precheck`). Callers should
/// still guard Automerge calls on peer input with `catch_unwind`.
pub fn decode_change(
    bytes: Vec<u8>,
    budget: &mut DecodeBudget,
) -> Result<Change, DecodeChangeError> {
    precheck::check(&bytes)?;
    let change = Change::from_bytes(bytes)?;
    budget.charge_ops(change.len() as u64)?;
    Ok(change)
}

/// Loads a snapshot received from a peer (what `Automerge::save` writes), drawing operations
/// and inflated bytes from `budget`. Use this rather than `Automerge::load` on untrusted input:
/// it refuses first what would cost more than the budget, and the chunk layouts on which
/// automerge 0.12 is known to panic (see module `precheck`). Callers should still guard
/// Automerge calls on peer input with `catch_unwind`.
pub fn load_snapshot(
    bytes: &[u8],
    budget: &mut DecodeBudget,
) -> Result<Automerge, LoadSnapshotError> {
    precheck::check_snapshot(bytes)?;
    let doc = Automerge::load(bytes)?;
    budget.charge_ops(doc.stats().num_ops)?;
    Ok(doc)
}

/// Why a snapshot from a peer could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadSnapshotError {
    /// Refused by the structural check, before Automerge saw the bytes.
    #[error("malformed snapshot: {0}")]
    Malformed(#[from] MalformedInput),
    /// Refused before decoding: it would cost more than the budget allows.
    #[error("snapshot refused: {0}")]
    OverBudget(#[from] OverBudget),
    /// Refused by Automerge.
    #[error("{0}")]
    Automerge(#[from] automerge::AutomergeError),
}

/// Why a change may be applied.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Proof {
    /// An ed25519 signature (64 bytes) by the key embedded in the change's actor id.
    Signed { signature: Vec<u8> },
    /// The change is the deterministic origin of the text at `path`, built from blob `blob`.
    Origin { path: String, blob: BlobHash },
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum VerifyError {
    #[error("change {0} has an actor id that is not bound to a node key")]
    UnboundActor(ChangeHash),
    #[error("change {hash} carries a malformed signature")]
    MalformedSignature { hash: ChangeHash },
    #[error("change {hash}: {source}")]
    BadSignature {
        hash: ChangeHash,
        source: SignatureError,
    },
    #[error(
        "change {hash} claims to be the origin of {path:?} but recomputing it gives {recomputed}"
    )]
    OriginMismatch {
        hash: ChangeHash,
        path: String,
        recomputed: ChangeHash,
    },
    #[error("change {hash} is an origin change whose blob {blob} is not valid UTF-8 text")]
    OriginNotText { hash: ChangeHash, blob: BlobHash },
    #[error("change {hash} claims to be an origin change but its blob {blob} was not supplied")]
    OriginBlobMissing { hash: ChangeHash, blob: BlobHash },
}

/// Builds the actor id a node uses for one change: its public key plus a caller-supplied nonce.
pub fn signed_actor(key: &PublicKey, nonce: [u8; 8]) -> ActorId {
    let mut bytes = Vec::with_capacity(SIGNED_ACTOR_LEN);
    bytes.extend_from_slice(&key.0);
    bytes.extend_from_slice(&nonce);
    ActorId::from(bytes)
}

/// The node key an actor id is bound to, if it is a signed actor id.
pub fn actor_key(actor: &ActorId) -> Option<PublicKey> {
    let bytes = actor.to_bytes();
    if bytes.len() != SIGNED_ACTOR_LEN {
        return None;
    }
    let mut key = [0u8; 32];
    key.copy_from_slice(&bytes[..32]);
    Some(PublicKey(key))
}

/// Signs a change the node just wrote.
pub fn sign_change(key: &NodeKey, hash: &ChangeHash) -> Proof {
    Proof::Signed {
        signature: key.sign(CHANGE_SIGNATURE_CONTEXT, &hash.0).to_vec(),
    }
}

/// Checks a signed change's proof against its header alone (before its operations are
/// decoded): the signature over the hash, by the key its actor id is bound to. Returns that key.
/// Origin proofs are not checked here (they need the blob; see [`verify_change`]).
pub fn verify_signed_header(
    header: &ChangeHeader,
    signature: &[u8],
) -> Result<PublicKey, VerifyError> {
    let hash = header.hash;
    let author = actor_key(&header.actor).ok_or(VerifyError::UnboundActor(hash))?;
    let signature: [u8; 64] = signature
        .try_into()
        .map_err(|_| VerifyError::MalformedSignature { hash })?;
    author
        .verify(CHANGE_SIGNATURE_CONTEXT, &hash.0, &signature)
        .map_err(|source| VerifyError::BadSignature { hash, source })?;
    Ok(author)
}

/// Checks that `change` may be applied on the strength of `proof`. Returns the author's key for
/// signed changes, `None` for verified origin changes. `blob` looks up blob bytes for origins.
pub fn verify_change(
    change: &Change,
    proof: &Proof,
    blob: impl Fn(&BlobHash) -> Option<Vec<u8>>,
) -> Result<Option<PublicKey>, VerifyError> {
    let hash = change.hash();
    match proof {
        Proof::Signed { signature } => {
            let author = actor_key(change.actor_id()).ok_or(VerifyError::UnboundActor(hash))?;
            let signature: [u8; 64] = signature
                .as_slice()
                .try_into()
                .map_err(|_| VerifyError::MalformedSignature { hash })?;
            author
                .verify(CHANGE_SIGNATURE_CONTEXT, &hash.0, &signature)
                .map_err(|source| VerifyError::BadSignature { hash, source })?;
            Ok(Some(author))
        }
        Proof::Origin {
            path,
            blob: blob_hash,
        } => {
            let bytes = blob(blob_hash).ok_or(VerifyError::OriginBlobMissing {
                hash,
                blob: *blob_hash,
            })?;
            let text = std::str::from_utf8(&bytes).map_err(|_| VerifyError::OriginNotText {
                hash,
                blob: *blob_hash,
            })?;
            let recomputed = origin::origin_change(path, blob_hash, text)
                .map_err(|_| VerifyError::OriginNotText {
                    hash,
                    blob: *blob_hash,
                })?
                .hash();
            if recomputed != hash {
                return Err(VerifyError::OriginMismatch {
                    hash,
                    path: path.clone(),
                    recomputed,
                });
            }
            Ok(None)
        }
    }
}
