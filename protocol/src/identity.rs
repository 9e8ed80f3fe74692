//! Who is who: organisations and the keys their nodes sign with.
//!
//! Every node holds one ed25519 key. Its libp2p peer id derives from the same key, and every
//! Automerge change the node writes carries an actor id that starts with the key's public half,
//! so a change can be traced to, and checked against, the node that wrote it without any
//! registry. Organisations are named by their Norwegian organisation number, which is validated
//! with its mod-11 check digit so that a typo is caught at `init`, not after publishing.

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// A validated 9-digit Norwegian organisasjonsnummer.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct OrgNumber(u32);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum OrgNumberError {
    #[error("an organisation number has exactly 9 digits, got {0:?}")]
    Format(String),
    #[error("{0} is not a valid organisation number: the mod-11 check digit does not match")]
    CheckDigit(String),
}

impl OrgNumber {
    const WEIGHTS: [u32; 8] = [3, 2, 7, 6, 5, 4, 3, 2];

    /// Parses and validates an organisation number (spaces are allowed, as in "964 338 531").
    pub fn parse(input: &str) -> Result<Self, OrgNumberError> {
        let digits: String = input.chars().filter(|c| !c.is_whitespace()).collect();
        if digits.len() != 9 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(OrgNumberError::Format(input.to_string()));
        }
        let d: Vec<u32> = digits.bytes().map(|b| u32::from(b - b'0')).collect();
        let sum: u32 = Self::WEIGHTS.iter().zip(&d).map(|(w, x)| w * x).sum();
        let check = match sum % 11 {
            0 => 0,
            1 => return Err(OrgNumberError::CheckDigit(digits)),
            r => 11 - r,
        };
        if check != d[8] {
            return Err(OrgNumberError::CheckDigit(digits));
        }
        digits
            .parse()
            .map(OrgNumber)
            .map_err(|_| OrgNumberError::Format(input.to_string()))
    }
}

impl fmt::Display for OrgNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:09}", self.0)
    }
}

impl fmt::Debug for OrgNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "OrgNumber({self})")
    }
}

impl FromStr for OrgNumber {
    type Err = OrgNumberError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl TryFrom<String> for OrgNumber {
    type Error = OrgNumberError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<OrgNumber> for String {
    fn from(n: OrgNumber) -> String {
        n.to_string()
    }
}

/// What kind of organisation runs a node.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OrgKind {
    Kommune,
    Fylkeskommune,
    Iks,
    Ks,
    Stat,
    Leverandor,
    Annen,
}

impl OrgKind {
    pub const ALL: [OrgKind; 7] = [
        OrgKind::Kommune,
        OrgKind::Fylkeskommune,
        OrgKind::Iks,
        OrgKind::Ks,
        OrgKind::Stat,
        OrgKind::Leverandor,
        OrgKind::Annen,
    ];

    pub fn as_str(&self) -> &'static str {
        match self {
            OrgKind::Kommune => "kommune",
            OrgKind::Fylkeskommune => "fylkeskommune",
            OrgKind::Iks => "iks",
            OrgKind::Ks => "ks",
            OrgKind::Stat => "stat",
            OrgKind::Leverandor => "leverandor",
            OrgKind::Annen => "annen",
        }
    }
}

impl fmt::Display for OrgKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, thiserror::Error)]
#[error("unknown organisation kind {0:?} (expected one of: kommune, fylkeskommune, iks, ks, stat, leverandor, annen)")]
pub struct OrgKindError(pub String);

impl FromStr for OrgKind {
    type Err = OrgKindError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let lower = s.to_ascii_lowercase();
        OrgKind::ALL
            .into_iter()
            .find(|k| k.as_str() == lower)
            .ok_or_else(|| OrgKindError(s.to_string()))
    }
}

/// An ed25519 public key: a node's identity.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct PublicKey(pub [u8; 32]);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SignatureError {
    #[error("{0} is not a valid ed25519 public key")]
    BadKey(PublicKey),
    #[error("signature does not verify for key {0}")]
    Mismatch(PublicKey),
}

impl PublicKey {
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// Verifies `signature` over `message` under the given domain-separation `context`.
    ///
    /// Strictly (`verify_strict`): keys of small order and non-canonical signature points are
    /// refused. With plain ed25519 verification such a key "signs" anything (the all-identity
    /// signature verifies for every message), and one message can carry several valid
    /// signatures, which would let a peer forge or vary statements that others count.
    pub fn verify(
        &self,
        context: &[u8],
        message: &[u8],
        signature: &[u8; 64],
    ) -> Result<(), SignatureError> {
        let key = VerifyingKey::from_bytes(&self.0).map_err(|_| SignatureError::BadKey(*self))?;
        let sig = Signature::from_bytes(signature);
        key.verify_strict(&signed_bytes(context, message), &sig)
            .map_err(|_| SignatureError::Mismatch(*self))
    }
}

impl fmt::Display for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex()[..16])
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({self})")
    }
}

/// Domain separation: a signature made for one purpose can never be replayed for another.
fn signed_bytes(context: &[u8], message: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(context.len() + 1 + message.len());
    out.extend_from_slice(context);
    out.push(0);
    out.extend_from_slice(message);
    out
}

/// A node's signing key. The secret never leaves the node; the node stores it 0600.
#[derive(Clone)]
pub struct NodeKey(SigningKey);

impl NodeKey {
    /// Builds a key from 32 secret bytes (the caller draws them from its RNG, or reads them from disk).
    pub fn from_secret(secret: [u8; 32]) -> Self {
        NodeKey(SigningKey::from_bytes(&secret))
    }

    pub fn secret_bytes(&self) -> [u8; 32] {
        self.0.to_bytes()
    }

    pub fn public(&self) -> PublicKey {
        PublicKey(self.0.verifying_key().to_bytes())
    }

    /// Signs `message` under a domain-separation `context`.
    pub fn sign(&self, context: &[u8], message: &[u8]) -> [u8; 64] {
        self.0.sign(&signed_bytes(context, message)).to_bytes()
    }
}

impl fmt::Debug for NodeKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "NodeKey({})", self.public())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_the_valid_organisation_numbers_from_the_brief() {
        for n in [
            "974760673",
            "964338531",
            "942110464",
            "971032146",
            "964 338 531",
        ] {
            assert!(OrgNumber::parse(n).is_ok(), "{n} should be valid");
        }
        assert_eq!(
            OrgNumber::parse("964338531").unwrap().to_string(),
            "964338531"
        );
    }

    #[test]
    fn rejects_bad_check_digits_and_formats() {
        assert!(matches!(
            OrgNumber::parse("964338532"),
            Err(OrgNumberError::CheckDigit(_))
        ));
        assert!(matches!(
            OrgNumber::parse("12345678"),
            Err(OrgNumberError::Format(_))
        ));
        assert!(matches!(
            OrgNumber::parse("96433853a"),
            Err(OrgNumberError::Format(_))
        ));
        assert!(matches!(
            OrgNumber::parse(""),
            Err(OrgNumberError::Format(_))
        ));
    }

    #[test]
    fn org_number_serde_validates() {
        let ok: OrgNumber = serde_json_like("964338531").unwrap();
        assert_eq!(ok.to_string(), "964338531");
        assert!(serde_json_like("964338532").is_err());
    }

    fn serde_json_like(s: &str) -> Result<OrgNumber, OrgNumberError> {
        OrgNumber::try_from(s.to_string())
    }

    #[test]
    fn signatures_verify_and_are_bound_to_context_and_key() {
        let a = NodeKey::from_secret([1; 32]);
        let b = NodeKey::from_secret([2; 32]);
        let sig = a.sign(b"ctx", b"message");
        assert!(a.public().verify(b"ctx", b"message", &sig).is_ok());
        assert!(a.public().verify(b"other", b"message", &sig).is_err());
        assert!(a.public().verify(b"ctx", b"messagE", &sig).is_err());
        assert!(b.public().verify(b"ctx", b"message", &sig).is_err());
    }

    #[test]
    fn a_small_order_key_that_verifies_loosely_is_refused() {
        use ed25519_dalek::Verifier;
        // The identity point as public key, and R = identity, s = 0 as signature: the
        // cofactored-less equation [s]B = R + [k]A holds for every message, so plain `verify`
        // accepts it. That is a forgery for anyone, and `verify_strict` refuses the weak key.
        let mut identity = [0u8; 32];
        identity[0] = 1;
        let mut signature = [0u8; 64];
        signature[0] = 1;
        let message = signed_bytes(b"ctx", b"any message at all");
        let key = VerifyingKey::from_bytes(&identity).unwrap();
        assert!(
            key.verify(&message, &Signature::from_bytes(&signature))
                .is_ok(),
            "the loose check accepts the forgery (else this test proves nothing)"
        );
        assert_eq!(
            PublicKey(identity).verify(b"ctx", b"any message at all", &signature),
            Err(SignatureError::Mismatch(PublicKey(identity)))
        );
    }

    #[test]
    fn org_kind_parses_case_insensitively() {
        assert_eq!("Kommune".parse::<OrgKind>().unwrap(), OrgKind::Kommune);
        assert!("county".parse::<OrgKind>().is_err());
    }
}
