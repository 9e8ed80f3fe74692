//! Content-addressed file contents.
//!
//! Most files in an artefact are never co-edited, so they travel and rest as immutable blobs named
//! by their BLAKE3 hash; only files people actually edit pay for a CRDT (see `artefact`). A blob
//! received from a peer is accepted only if its bytes hash to the name it was asked for.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// The BLAKE3 hash of a blob's bytes.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct BlobHash(pub [u8; 32]);

impl BlobHash {
    /// Hashes `bytes`.
    pub fn of(bytes: &[u8]) -> Self {
        BlobHash(*blake3::hash(bytes).as_bytes())
    }

    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// True when `bytes` are exactly the blob this hash names.
    pub fn matches(&self, bytes: &[u8]) -> bool {
        Self::of(bytes) == *self
    }
}

impl fmt::Display for BlobHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for BlobHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BlobHash({})", &self.to_hex()[..12])
    }
}

#[derive(Debug, thiserror::Error)]
#[error("not a blob hash (64 hex digits expected): {0:?}")]
pub struct ParseBlobHashError(pub String);

impl FromStr for BlobHash {
    type Err = ParseBlobHashError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut out = [0u8; 32];
        hex::decode_to_slice(s, &mut out).map_err(|_| ParseBlobHashError(s.to_string()))?;
        Ok(BlobHash(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_round_trips_through_hex_and_detects_tampering() {
        let h = BlobHash::of(b"hello");
        assert_eq!(h.to_hex().parse::<BlobHash>().unwrap(), h);
        assert!(h.matches(b"hello"));
        assert!(!h.matches(b"hellO"));
        assert!("zz".parse::<BlobHash>().is_err());
    }
}
