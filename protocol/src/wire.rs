//! Messages between nodes, and their codec.
//!
//! Everything a peer sends is untrusted: it is size-checked before it is parsed, carries a
//! version byte so that the format can evolve without old nodes misreading new messages, and
//! decoding returns an error, never panics. Two transports carry these messages: gossip for
//! `Announce` (new heads of an artefact, small and fanned out), and request-response for
//! everything that moves data (inventories, changes, snapshots, blobs).

use crate::artefact::ArtefactId;
use crate::blob::BlobHash;
use crate::signed::Proof;
use automerge::ChangeHash;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// The wire format version this build speaks.
pub const WIRE_VERSION: u8 = 1;
/// Largest announce accepted from gossip.
pub const MAX_ANNOUNCE_BYTES: usize = 16 * 1024;
/// Largest request accepted from a peer.
pub const MAX_REQUEST_BYTES: usize = 4 * 1024 * 1024;
/// Largest response accepted from a peer.
pub const MAX_RESPONSE_BYTES: usize = 64 * 1024 * 1024;
/// Blob bytes a node puts into one `Blobs` response before it stops and lets the peer ask again.
pub const BLOB_BATCH_BYTES: usize = 8 * 1024 * 1024;
/// Most blob hashes in one `Blobs` request.
pub const MAX_BLOBS_PER_REQUEST: usize = 4096;

/// An Automerge change hash as it travels (automerge's own type has no serde).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Head(pub [u8; 32]);

impl std::fmt::Debug for Head {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Head({})", &hex::encode(self.0)[..12])
    }
}

impl From<ChangeHash> for Head {
    fn from(h: ChangeHash) -> Self {
        Head(h.0)
    }
}

impl From<Head> for ChangeHash {
    fn from(h: Head) -> Self {
        ChangeHash(h.0)
    }
}

pub fn heads_to_wire(heads: &[ChangeHash]) -> Vec<Head> {
    heads.iter().map(|h| Head(h.0)).collect()
}

pub fn heads_from_wire(heads: &[Head]) -> Vec<ChangeHash> {
    heads.iter().map(|h| ChangeHash(h.0)).collect()
}

/// Gossiped when an artefact gets new heads.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Announce {
    pub id: ArtefactId,
    pub heads: Vec<Head>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InventoryEntry {
    pub id: ArtefactId,
    pub heads: Vec<Head>,
}

/// A change as it travels: raw Automerge bytes (the uncompressed change chunk,
/// `Change::raw_bytes`; compressed chunks are refused) and the proof that it may be applied.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WireChange {
    #[serde(with = "serde_bytes")]
    pub bytes: Vec<u8>,
    pub proof: Proof,
}

/// Blob bytes carried in a message.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WireBlob(#[serde(with = "serde_bytes")] pub Vec<u8>);

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Request {
    /// "Which artefacts do you have, at which heads?"
    Inventory,
    /// "Send me what I lack of this artefact." `heads` are the asker's heads (empty: it has
    /// nothing, and wants a snapshot). `have` holds 8-byte prefixes of the asker's changes since
    /// the last common point, sent after a `Diverged` answer. `need` names changes explicitly.
    Pull {
        id: ArtefactId,
        heads: Vec<Head>,
        have: Vec<[u8; 8]>,
        need: Vec<Head>,
    },
    /// "Send me these blobs of artefact `id`." Blobs are served only to peers that may read
    /// the artefact, and only if it refers to them.
    Blobs {
        id: ArtefactId,
        hashes: Vec<BlobHash>,
    },
    /// "Which trust statements do you have that I lack?" `have`: 8-byte prefixes of the ids of
    /// the statements the asker holds.
    Statements { have: Vec<[u8; 8]> },
    /// Statements pushed to a peer directly (those not gossiped: access lists of restricted
    /// artefacts go only to nodes that may read them). Encoded `SignedStatement`s.
    Offer { statements: Vec<WireBlob> },
    /// New heads of an artefact, sent directly instead of gossiped (restricted artefacts).
    Notify(Announce),
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Response {
    Inventory {
        entries: Vec<InventoryEntry>,
    },
    /// The whole artefact as a compact Automerge document, with a proof for every change in it.
    Snapshot {
        id: ArtefactId,
        #[serde(with = "serde_bytes")]
        document: Vec<u8>,
        proofs: Vec<(Head, Proof)>,
        /// The blobs that origin proofs name, so the receiver can check them at once.
        origin_blobs: Vec<WireBlob>,
    },
    /// Changes the asker lacks.
    Changes {
        id: ArtefactId,
        heads: Vec<Head>,
        changes: Vec<WireChange>,
        origin_blobs: Vec<WireBlob>,
    },
    /// The responder does not know some of the asker's heads: the histories diverged. The asker
    /// answers with a `Pull` carrying `have`.
    Diverged {
        id: ArtefactId,
        heads: Vec<Head>,
    },
    Blobs {
        blobs: Vec<WireBlob>,
        /// Asked-for blobs the responder does not have (or did not fit in this batch).
        missing: Vec<BlobHash>,
    },
    NotFound {
        id: ArtefactId,
    },
    Refused {
        reason: String,
    },
    /// Encoded `SignedStatement`s the asker lacks.
    Statements {
        statements: Vec<WireBlob>,
    },
    Ack,
    /// The responder is over its per-peer work budget: ask again after `retry_after_ms`. Not
    /// a fault of either side, so it neither counts against the asker nor the responder.
    Busy {
        retry_after_ms: u32,
    },
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum WireError {
    #[error("message of {len} bytes exceeds the limit of {limit}")]
    TooLarge { len: usize, limit: usize },
    #[error("empty message")]
    Empty,
    #[error("unsupported wire version {0} (this node speaks {WIRE_VERSION})")]
    Version(u8),
    #[error("malformed message: {0}")]
    Malformed(String),
}

fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    let mut out = vec![WIRE_VERSION];
    // Serialising our own plain data types into a Vec cannot fail.
    out.extend(postcard::to_stdvec(value).unwrap_or_default());
    out
}

fn decode<T: DeserializeOwned>(bytes: &[u8], limit: usize) -> Result<T, WireError> {
    if bytes.len() > limit {
        return Err(WireError::TooLarge {
            len: bytes.len(),
            limit,
        });
    }
    let (&version, body) = bytes.split_first().ok_or(WireError::Empty)?;
    if version != WIRE_VERSION {
        return Err(WireError::Version(version));
    }
    postcard::from_bytes(body).map_err(|e| WireError::Malformed(e.to_string()))
}

impl Announce {
    pub fn encode(&self) -> Vec<u8> {
        encode(self)
    }
    pub fn decode(bytes: &[u8]) -> Result<Self, WireError> {
        decode(bytes, MAX_ANNOUNCE_BYTES)
    }
}

impl Request {
    pub fn encode(&self) -> Vec<u8> {
        encode(self)
    }
    pub fn decode(bytes: &[u8]) -> Result<Self, WireError> {
        decode(bytes, MAX_REQUEST_BYTES)
    }
}

impl Response {
    pub fn encode(&self) -> Vec<u8> {
        encode(self)
    }
    pub fn decode(bytes: &[u8]) -> Result<Self, WireError> {
        decode(bytes, MAX_RESPONSE_BYTES)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id() -> ArtefactId {
        ArtefactId([7; 16])
    }

    #[test]
    fn messages_round_trip() {
        let req = Request::Pull {
            id: id(),
            heads: vec![Head([1; 32])],
            have: vec![[2; 8]],
            need: vec![],
        };
        assert_eq!(Request::decode(&req.encode()).unwrap(), req);
        let resp = Response::Blobs {
            blobs: vec![WireBlob(b"abc".to_vec())],
            missing: vec![BlobHash::of(b"x")],
        };
        assert_eq!(Response::decode(&resp.encode()).unwrap(), resp);
        let ann = Announce {
            id: id(),
            heads: vec![Head([3; 32])],
        };
        assert_eq!(Announce::decode(&ann.encode()).unwrap(), ann);
    }

    #[test]
    fn rejects_wrong_version_empty_truncated_and_oversized_input() {
        let mut bytes = Request::Inventory.encode();
        bytes[0] = 99;
        assert_eq!(Request::decode(&bytes), Err(WireError::Version(99)));
        assert_eq!(Request::decode(&[]), Err(WireError::Empty));
        let pull = Request::Pull {
            id: id(),
            heads: vec![Head([1; 32])],
            have: vec![],
            need: vec![],
        }
        .encode();
        assert!(matches!(
            Request::decode(&pull[..pull.len() - 5]),
            Err(WireError::Malformed(_))
        ));
        let big = vec![WIRE_VERSION; MAX_ANNOUNCE_BYTES + 1];
        assert!(matches!(
            Announce::decode(&big),
            Err(WireError::TooLarge { .. })
        ));
    }

    #[test]
    fn garbage_never_panics() {
        // A cheap deterministic spray of byte strings; the fuzz targets go much further.
        let mut state = 0x2545F4914F6CDD1Du64;
        for len in 0..512 {
            let bytes: Vec<u8> = (0..len)
                .map(|_| {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    state as u8
                })
                .collect();
            let _ = Request::decode(&bytes);
            let _ = Response::decode(&bytes);
            let _ = Announce::decode(&bytes);
        }
    }
}
