//! The network file: which keys are the root curators of this network.
//!
//! Every node of a network holds the same small signed file. It is the one thing trusted without
//! a statement: its roots admit organisations and delegate curator rights, and everything else
//! follows from statements signed by keys those roots vouched for.

use super::{TrustError, MAX_NETWORK_BYTES, NETWORK_CONTEXT};
use crate::identity::{NodeKey, OrgNumber, PublicKey};
use serde::{Deserialize, Serialize};

/// The network file format version.
pub const NETWORK_VERSION: u8 = 1;

/// A root curator: an organisation and the org key it curates with.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Root {
    pub org: OrgNumber,
    pub name: String,
    pub key: PublicKey,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Network {
    pub version: u8,
    pub name: String,
    pub roots: Vec<Root>,
    /// Multiaddresses of nodes to dial first.
    pub bootstrap: Vec<String>,
    pub created: i64,
    /// By `roots[0].key`, over the canonical encoding of every other field.
    pub signature: Vec<u8>,
}

impl Network {
    /// A new network whose single root is the creating org; signed by its org key.
    pub fn create(
        name: &str,
        org: OrgNumber,
        org_name: &str,
        org_key: &NodeKey,
        bootstrap: Vec<String>,
        now: i64,
    ) -> Network {
        let mut network = Network {
            version: NETWORK_VERSION,
            name: name.to_string(),
            roots: vec![Root {
                org,
                name: org_name.to_string(),
                key: org_key.public(),
            }],
            bootstrap,
            created: now,
            signature: Vec::new(),
        };
        network.signature = org_key
            .sign(NETWORK_CONTEXT, &network.signed_bytes())
            .to_vec();
        network
    }

    /// Adds a root and signs the file again. `key` must be the key of the first root.
    pub fn add_root(&mut self, root: Root, key: &NodeKey) -> Result<(), TrustError> {
        self.roots.push(root);
        self.resign(key)
    }

    /// Signs the file again after its fields were changed (bootstrap addresses, roots).
    /// `key` must be the key of the first root.
    pub fn resign(&mut self, key: &NodeKey) -> Result<(), TrustError> {
        match self.roots.first() {
            Some(first) if first.key == key.public() => {
                self.signature = key.sign(NETWORK_CONTEXT, &self.signed_bytes()).to_vec();
                Ok(())
            }
            Some(first) => Err(TrustError::NotEntitled {
                who: format!("key {}", key.public()),
                action: format!("sign network {:?}", self.name),
                reason: format!("only its first root's key {} signs it", first.key),
            }),
            None => Err(TrustError::Malformed(format!(
                "network {:?} names no root",
                self.name
            ))),
        }
    }

    /// The canonical encoding of every field but the signature.
    fn signed_bytes(&self) -> Vec<u8> {
        postcard::to_stdvec(&(
            self.version,
            &self.name,
            &self.roots,
            &self.bootstrap,
            self.created,
        ))
        .unwrap_or_default()
    }

    pub fn verify(&self) -> Result<(), TrustError> {
        if self.version != NETWORK_VERSION {
            return Err(TrustError::Version(self.version));
        }
        let first = self.roots.first().ok_or_else(|| {
            TrustError::Malformed(format!("network {:?} names no root", self.name))
        })?;
        let signature: [u8; 64] =
            self.signature
                .as_slice()
                .try_into()
                .map_err(|_| TrustError::BadSignature {
                    signer: first.key,
                    reason: format!(
                        "network {:?}: a signature has 64 bytes, this one has {}",
                        self.name,
                        self.signature.len()
                    ),
                })?;
        first
            .key
            .verify(NETWORK_CONTEXT, &self.signed_bytes(), &signature)
            .map_err(|e| TrustError::BadSignature {
                signer: first.key,
                reason: format!("network {:?}: {e}", self.name),
            })
    }

    pub fn is_root(&self, key: &PublicKey) -> bool {
        self.roots.iter().any(|r| r.key == *key)
    }

    /// First 16 hex digits of BLAKE3 over the whole file: what operators compare out of band.
    pub fn fingerprint(&self) -> String {
        hex::encode(blake3::hash(&self.encode()).as_bytes())[..16].to_string()
    }

    /// Version byte followed by the postcard encoding.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = vec![NETWORK_VERSION];
        out.extend(postcard::to_stdvec(self).unwrap_or_default());
        out
    }

    /// Decodes untrusted bytes (size-checked first, never panics). Call `verify` afterwards.
    pub fn decode(bytes: &[u8]) -> Result<Self, TrustError> {
        if bytes.len() > MAX_NETWORK_BYTES {
            return Err(TrustError::TooLarge {
                len: bytes.len(),
                limit: MAX_NETWORK_BYTES,
            });
        }
        let (&version, body) = bytes
            .split_first()
            .ok_or_else(|| TrustError::Malformed("empty network file".into()))?;
        if version != NETWORK_VERSION {
            return Err(TrustError::Version(version));
        }
        let (network, rest) = postcard::take_from_bytes::<Network>(body)
            .map_err(|e| TrustError::Malformed(e.to_string()))?;
        if !rest.is_empty() {
            return Err(TrustError::Malformed(format!(
                "{} trailing bytes after the network file",
                rest.len()
            )));
        }
        Ok(network)
    }
}
