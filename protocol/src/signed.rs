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
//! Change and snapshot bytes from peers are decoded with [`decode_change`] and [`load_snapshot`]
//! (never `Change::from_bytes` or `Automerge::load`), which first run a structural check (module
//! `precheck`): it refuses the malformed chunks that make Automerge panic instead of failing, and
//! measures, in time proportional to the bytes received, what a chunk claims to cost (operations,
//! inflated bytes). What it claims is drawn from a [`DecodeBudget`] before Automerge does any of
//! that work, because Automerge does work in proportion to the claims: a 70-byte change can claim
//! 2^62 operations, and a kilobyte of deflated column can inflate to a gigabyte. [`change_header`]
//! reads what is needed to check a change's signature ([`verify_signed_header`]) without
//! Automerge at all.

pub mod hostile;
mod precheck;
#[cfg(test)]
mod tests;

use crate::artefact::origin;
use crate::blob::BlobHash;
use crate::identity::{NodeKey, PublicKey, SignatureError};
use automerge::{ActorId, Automerge, Change, ChangeHash};
use serde::{Deserialize, Serialize};

/// Domain-separation context for change signatures.
pub const CHANGE_SIGNATURE_CONTEXT: &[u8] = b"allmenning/change/v1";

/// Length of a signed actor id: a 32-byte public key followed by an 8-byte nonce.
pub const SIGNED_ACTOR_LEN: usize = 40;

pub use precheck::MalformedInput;

/// Most operations one change may hold (its longest op column, in rows). Every change a node
/// writes fits with room to spare: the largest are the origin change of a text at
/// `artefact::MAX_TEXT_BYTES` (one op per character, about 2^20), an edit replacing all of such a
/// text (every character deleted and inserted, about 2^21), and a genesis of a few thousand files
/// (a few ops each); `commit` refuses edits that would not fit.
pub const MAX_OPS_PER_CHANGE: u64 = 1 << 22;
/// Most operations decoded from one peer message (a `Changes` or `Snapshot` response, one
/// proposal). Honest nodes batch what they send under it. Measured (automerge optimised, as in
/// every build profile here): `Change::from_bytes` takes 0.15-0.5 µs per operation, so a
/// `Changes` message at this budget costs at most a few seconds; `Automerge::load` takes 1-4 µs
/// per operation of a document (it rebuilds every change), so a snapshot at this budget can take
/// half a minute, which is why the node decodes off its event loop, with a timeout.
pub const MAX_OPS_PER_MESSAGE: u64 = 1 << 23;
/// Most bytes that one peer message may expand to: what its deflated (compressed) columns inflate
/// to, and what its run-length encoded strings (map keys, mark names, change messages) take with
/// their runs expanded. Automerge copies both into memory (inflating when it parses a document,
/// expanding strings as it builds ops and changes): this bounds what a message can make it
/// allocate and copy beyond its own size (`wire::MAX_RESPONSE_BYTES`). Snapshots nodes write
/// stay far below it (a document of 2 million ops, from a 1 MiB text rewritten, inflates to
/// about 3 MiB).
pub const MAX_INFLATED_BYTES_PER_MESSAGE: u64 = 32 << 20;
/// Most changes in one `Changes` response (each costs a signature check).
pub const MAX_CHANGES_PER_MESSAGE: usize = 16_384;

/// What decoding untrusted Automerge bytes may still cost: operations, and bytes inflated or
/// expanded (see [`MAX_INFLATED_BYTES_PER_MESSAGE`]). One budget covers one peer message; every
/// change or snapshot decoded from it draws on it, and decoding refuses input that claims more
/// than is left before doing that work.
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

    /// Takes `ops` operations and `inflated_bytes` inflated bytes from the budget: both, or
    /// neither.
    pub fn charge(&mut self, ops: u64, inflated_bytes: u64) -> Result<(), OverBudget> {
        if ops > self.ops {
            return Err(OverBudget::Ops {
                claimed: ops,
                left: self.ops,
            });
        }
        self.charge_inflated(inflated_bytes)?;
        self.ops -= ops;
        Ok(())
    }
}

/// Untrusted input that would cost more than its budget allows.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OverBudget {
    #[error("claims {claimed} operations, more than the {left} this message may still decode")]
    Ops { claimed: u64, left: u64 },
    /// One change claims more than any change may hold ([`MAX_OPS_PER_CHANGE`]): no honest node
    /// writes it, whatever the budget.
    #[error("claims {claimed} operations, more than the {limit} one change may hold")]
    OpsPerChange { claimed: u64, limit: u64 },
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
    /// How many operations the op columns claim (their longest column, in rows, counting the
    /// predecessor columns by the sum of the predecessor counts). For a well-formed change this
    /// is `Change::len()`; for others, at least what `Change::from_bytes` would walk.
    pub claimed_ops: u64,
    /// How many bytes its strings (map keys, mark names) take with their runs expanded: what
    /// Automerge copies as it applies the change. Charged as inflated bytes.
    pub claimed_bytes: u64,
}

/// Reads the header of change bytes from a peer without decoding its operations (and without
/// Automerge): magic bytes, checksum, chunk type (an uncompressed change chunk only), the header
/// fields, the column layout, and what the op columns claim, in time proportional to
/// `bytes.len()`. Refuses what automerge 0.12 would refuse while parsing the header, the chunks
/// on which it panics (module `precheck`), a checksum that does not match the hash, and claims
/// beyond [`MAX_OPS_PER_CHANGE`]. Its `hash`, `actor`, `deps`, `seq` and `time` are those
/// `Change::from_bytes` would give, so a signature can be checked ([`verify_signed_header`])
/// before anything is decoded.
pub fn change_header(bytes: &[u8]) -> Result<ChangeHeader, DecodeChangeError> {
    let chunk = precheck::check_change(bytes)?;
    if chunk.claimed_ops > MAX_OPS_PER_CHANGE {
        return Err(OverBudget::OpsPerChange {
            claimed: chunk.claimed_ops,
            limit: MAX_OPS_PER_CHANGE,
        }
        .into());
    }
    Ok(ChangeHeader {
        hash: ChangeHash(chunk.hash),
        actor: ActorId::from(chunk.actor),
        deps: chunk.deps.into_iter().map(ChangeHash).collect(),
        seq: chunk.seq,
        time: chunk.time,
        claimed_ops: chunk.claimed_ops,
        claimed_bytes: chunk.claimed_bytes,
    })
}

/// Decodes change bytes received from a peer (an uncompressed change chunk, as
/// `Change::raw_bytes` gives it), drawing its operations and expanded string bytes from
/// `budget`. Use this rather than `Change::from_bytes` on untrusted input: it reads the header
/// first ([`change_header`]), and refuses, before Automerge decodes anything, chunks that claim
/// more operations than `MAX_OPS_PER_CHANGE` or more than the budget has left, and the malformed
/// chunks on which automerge 0.12 panics (module `precheck`). The budget is charged with the
/// claims before decoding (they bound what applying the change costs too), and stays charged if
/// Automerge then refuses the change. Callers should still guard Automerge calls on peer input
/// with `catch_unwind`.
pub fn decode_change(
    bytes: Vec<u8>,
    budget: &mut DecodeBudget,
) -> Result<Change, DecodeChangeError> {
    let header = change_header(&bytes)?;
    budget.charge(header.claimed_ops, header.claimed_bytes)?;
    Ok(Change::from_bytes(bytes)?)
}

/// Loads a snapshot received from a peer (what `Automerge::save` writes: a document chunk,
/// possibly followed by change chunks), drawing operations and inflated bytes from `budget`. Use
/// this rather than `Automerge::load` on untrusted input: before Automerge sees the bytes it
/// refuses the layouts on which automerge 0.12 panics (module `precheck`), inflates the deflated
/// columns itself (never past what the budget has left, through a fixed buffer), and refuses
/// snapshots whose columns claim more rows than the budget's operations, whose deflated columns
/// and expanded strings come to more than its inflated bytes, or whose change chunks claim more
/// than [`MAX_OPS_PER_CHANGE`] each. The budget is charged with the claims (the document's rows,
/// each change's operations, the inflated and expanded bytes) before loading, and stays charged
/// if Automerge then refuses the snapshot. Callers should still guard Automerge calls on peer
/// input with `catch_unwind`.
pub fn load_snapshot(
    bytes: &[u8],
    budget: &mut DecodeBudget,
) -> Result<Automerge, LoadSnapshotError> {
    let claims = precheck::check_snapshot(bytes, budget.inflated_bytes_left())?;
    if let Some(&claimed) = claims
        .change_ops
        .iter()
        .find(|&&ops| ops > MAX_OPS_PER_CHANGE)
    {
        return Err(OverBudget::OpsPerChange {
            claimed,
            limit: MAX_OPS_PER_CHANGE,
        }
        .into());
    }
    let ops = claims
        .change_ops
        .iter()
        .fold(claims.document_ops, |sum, &ops| sum.saturating_add(ops));
    budget.charge(
        ops,
        claims.inflated_bytes.saturating_add(claims.string_bytes),
    )?;
    Ok(Automerge::load(bytes)?)
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

impl From<precheck::Refusal> for LoadSnapshotError {
    fn from(refusal: precheck::Refusal) -> Self {
        match refusal {
            precheck::Refusal::Malformed(e) => LoadSnapshotError::Malformed(e),
            precheck::Refusal::OverBudget(e) => LoadSnapshotError::OverBudget(e),
        }
    }
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
