//! Statements: the signed facts the trust model is built from, and their codec.
//!
//! A statement is signed over its body, its signer and its time under [`STATEMENT_CONTEXT`], so a
//! statement signature can never be mistaken for a change or network signature. Its id is the
//! BLAKE3 hash of exactly those signed bytes: it names *what* was said, by whom and when, and
//! does not depend on the signature's encoding, so a `Revoke` always names the statement it meant.

use super::initiative::{InitiativeId, InitiativeStatus};
use super::{
    TrustError, MAX_STATEMENT_BYTES, NODE_POSSESSION_CONTEXT, STATEMENT_CONTEXT, STATEMENT_VERSION,
};
use crate::artefact::ArtefactId;
use crate::identity::{NodeKey, OrgKind, OrgNumber, PublicKey};
use crate::wire::Head;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// A statement's id: BLAKE3 of its signed encoding (version, body, signer, time).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct StatementId(pub [u8; 32]);

impl StatementId {
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
}

impl fmt::Display for StatementId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for StatementId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "StatementId({})", &self.to_hex()[..12])
    }
}

impl FromStr for StatementId {
    type Err = TrustError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut out = [0u8; 32];
        hex::decode_to_slice(s, &mut out).map_err(|_| {
            TrustError::Malformed(format!(
                "not a statement id (64 hex digits expected): {s:?}"
            ))
        })?;
        Ok(StatementId(out))
    }
}

/// A curator's verdict on an exact version of an artefact.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EndorsementStatus {
    Reviewed,
    Recommended,
    Approved,
    Deprecated,
    Withdrawn,
}

impl EndorsementStatus {
    pub const ALL: [EndorsementStatus; 5] = [
        EndorsementStatus::Reviewed,
        EndorsementStatus::Recommended,
        EndorsementStatus::Approved,
        EndorsementStatus::Deprecated,
        EndorsementStatus::Withdrawn,
    ];

    pub fn as_str(&self) -> &'static str {
        match self {
            EndorsementStatus::Reviewed => "reviewed",
            EndorsementStatus::Recommended => "recommended",
            EndorsementStatus::Approved => "approved",
            EndorsementStatus::Deprecated => "deprecated",
            EndorsementStatus::Withdrawn => "withdrawn",
        }
    }
}

impl fmt::Display for EndorsementStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for EndorsementStatus {
    type Err = TrustError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let lower = s.to_ascii_lowercase();
        EndorsementStatus::ALL
            .into_iter()
            .find(|k| k.as_str() == lower)
            .ok_or_else(|| {
                TrustError::Malformed(format!(
                    "unknown endorsement status {s:?} (expected one of: reviewed, recommended, approved, deprecated, withdrawn)"
                ))
            })
    }
}

/// Curator rights a root can delegate.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// May admit organisations.
    Admit,
    /// May endorse artefact versions.
    Endorse,
}

impl Scope {
    pub const ALL: [Scope; 2] = [Scope::Admit, Scope::Endorse];

    pub fn as_str(&self) -> &'static str {
        match self {
            Scope::Admit => "admit",
            Scope::Endorse => "endorse",
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Scope {
    type Err = TrustError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let lower = s.to_ascii_lowercase();
        Scope::ALL
            .into_iter()
            .find(|k| k.as_str() == lower)
            .ok_or_else(|| {
                TrustError::Malformed(format!(
                    "unknown curator scope {s:?} (expected admit or endorse)"
                ))
            })
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Statement {
    /// An organisation announces itself (signed by its own org key), asking to be admitted.
    OrgProfile {
        org: OrgNumber,
        name: String,
        kind: OrgKind,
        org_key: PublicKey,
    },
    /// A root (or a curator with `Scope::Admit`) admits an organisation, binding number, name,
    /// kind and org key.
    Admit {
        org: OrgNumber,
        name: String,
        kind: OrgKind,
        org_key: PublicKey,
    },
    /// An org key certifies one of its org's node keys. `possession` is the node key's own
    /// signature over the organisation number and itself (see [`prove_possession`]): without
    /// it, any admitted organisation could certify another's node key, making that node count
    /// for two organisations and so for none.
    NodeCert {
        org: OrgNumber,
        node_key: PublicKey,
        label: String,
        #[serde(with = "serde_bytes")]
        possession: Vec<u8>,
    },
    /// An org key revokes one of its node keys (a lost laptop): later changes by it are refused.
    NodeRevoke { org: OrgNumber, node_key: PublicKey },
    /// A root delegates curator rights to an org. The root's signature binds the org and key.
    Delegate {
        org: OrgNumber,
        org_key: PublicKey,
        scopes: Vec<Scope>,
        expires: Option<i64>,
    },
    /// Withdraws an earlier Admit, Delegate or Endorse. Valid if signed by the signer of the
    /// target, or by a root.
    Revoke { target: StatementId },
    /// A curator's verdict on an exact version (heads) of an artefact. `seq` only goes up per
    /// (curator, artefact).
    Endorse {
        artefact: ArtefactId,
        heads: Vec<Head>,
        status: EndorsementStatus,
        note: String,
        seq: u64,
    },
    /// The owner org sets who may write and who may read an artefact. `readers: None` = public.
    /// `heads`: the artefact's heads when this was signed: a maintainer removed here keeps only
    /// its changes in the causal past of these heads. `seq` only goes up per artefact. Signed by
    /// the owner org's key or a node key certified for the owner org.
    Access {
        artefact: ArtefactId,
        owner: OrgNumber,
        maintainers: Vec<OrgNumber>,
        readers: Option<Vec<OrgNumber>>,
        heads: Vec<Head>,
        seq: u64,
    },
    /// An organisation announces a service it is building and leads (its captain), or, with a
    /// higher `seq`, updates it. Signed by the captain org's key or a node key it certified.
    Initiative {
        id: InitiativeId,
        captain: OrgNumber,
        title: String,
        description: String,
        status: InitiativeStatus,
        artefacts: Vec<ArtefactId>,
        seq: u64,
    },
    /// An organisation joins an initiative as a participant.
    JoinInitiative {
        initiative: InitiativeId,
        org: OrgNumber,
    },
    /// A node offers changes to an artefact whose maintainers its organisation is not among:
    /// the signed changes themselves (with their proofs, as they would travel), the version
    /// they were made on, and why.
    Propose {
        artefact: ArtefactId,
        base: Vec<Head>,
        /// The changes' hashes, in the order they apply.
        hashes: Vec<Head>,
        changes: Vec<ProposedChange>,
        message: String,
        /// The contents of the files the changes add or replace as blobs, which the
        /// maintainers cannot have yet (checked against their hashes where they are used).
        blobs: Vec<ProposedBlob>,
    },
    /// A maintainer's (or the owner's) verdict on a proposal. An accepted proposal's changes
    /// (`hashes`) may then join the artefact although their author may not write to it.
    ProposalVerdict {
        artefact: ArtefactId,
        proposal: StatementId,
        accepted: bool,
        hashes: Vec<Head>,
    },
    /// An organisation adopts an exact version (`heads`) of `upstream` as the start of its own
    /// adaptation, `adaptation` (derived from the other fields, see `adoption::adaptation_id`).
    /// Signed by the adopting org's key or a node key it certified.
    Adopt {
        upstream: ArtefactId,
        heads: Vec<Head>,
        org: OrgNumber,
        nonce: [u8; 8],
        adaptation: ArtefactId,
        /// The adaptation's own title ("" to show the upstream's).
        title: String,
    },
}

/// What a node key signs to consent to being certified for `org`: the organisation number and
/// the node key, under [`NODE_POSSESSION_CONTEXT`].
fn possession_message(org: OrgNumber, node_key: &PublicKey) -> Vec<u8> {
    let mut out = org.to_string().into_bytes();
    out.push(0);
    out.extend_from_slice(&node_key.0);
    out
}

/// The node key's proof of possession for a certificate by `org`: what
/// `allmenning org node-proof` prints on the node, and `org add-node --proof` takes on the
/// org-key holder.
pub fn prove_possession(node: &NodeKey, org: OrgNumber) -> [u8; 64] {
    node.sign(
        NODE_POSSESSION_CONTEXT,
        &possession_message(org, &node.public()),
    )
}

/// Checks a node key's proof of possession for a certificate by `org`.
pub fn verify_possession(
    org: OrgNumber,
    node_key: &PublicKey,
    proof: &[u8],
) -> Result<(), TrustError> {
    let refused = |reason: String| TrustError::NoProofOfPossession {
        node: *node_key,
        org,
        reason,
    };
    let proof: &[u8; 64] = proof.try_into().map_err(|_| {
        refused(format!(
            "a proof has 64 bytes, this one has {}",
            proof.len()
        ))
    })?;
    node_key
        .verify(
            NODE_POSSESSION_CONTEXT,
            &possession_message(org, node_key),
            proof,
        )
        .map_err(|e| refused(e.to_string()))
}

/// One change of a proposal: its bytes and the proof it may be applied.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProposedChange {
    #[serde(with = "serde_bytes")]
    pub bytes: Vec<u8>,
    pub proof: crate::signed::Proof,
}

/// The content of a file a proposal adds or replaces, carried with it (named by its hash).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProposedBlob {
    #[serde(with = "serde_bytes")]
    pub bytes: Vec<u8>,
}

impl Statement {
    /// A short lowercase name of the statement's kind, for logs and listings.
    pub fn kind_name(&self) -> &'static str {
        match self {
            Statement::OrgProfile { .. } => "org-profile",
            Statement::Admit { .. } => "admit",
            Statement::NodeCert { .. } => "node-cert",
            Statement::NodeRevoke { .. } => "node-revoke",
            Statement::Delegate { .. } => "delegate",
            Statement::Revoke { .. } => "revoke",
            Statement::Endorse { .. } => "endorse",
            Statement::Access { .. } => "access",
            Statement::Initiative { .. } => "initiative",
            Statement::JoinInitiative { .. } => "join-initiative",
            Statement::Propose { .. } => "propose",
            Statement::ProposalVerdict { .. } => "proposal-verdict",
            Statement::Adopt { .. } => "adopt",
        }
    }

    /// The adaptation an `Adopt` creates.
    pub fn adaptation(&self) -> Option<&ArtefactId> {
        match self {
            Statement::Adopt { adaptation, .. } => Some(adaptation),
            _ => None,
        }
    }

    /// The initiative the statement is about, for `Initiative` and `JoinInitiative`.
    pub fn initiative(&self) -> Option<&InitiativeId> {
        match self {
            Statement::Initiative { id, .. } => Some(id),
            Statement::JoinInitiative { initiative, .. } => Some(initiative),
            _ => None,
        }
    }

    /// The artefact the statement is about (for an `Adopt`, the upstream; see also
    /// [`Statement::adaptation`]).
    pub fn artefact(&self) -> Option<&ArtefactId> {
        match self {
            Statement::Adopt { upstream, .. } => Some(upstream),
            Statement::Endorse { artefact, .. }
            | Statement::Access { artefact, .. }
            | Statement::Propose { artefact, .. }
            | Statement::ProposalVerdict { artefact, .. } => Some(artefact),
            _ => None,
        }
    }
}

/// A statement with its signer, the signer's time and an ed25519 signature.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedStatement {
    pub body: Statement,
    pub signer: PublicKey,
    /// Seconds since the Unix epoch, by the signer's clock.
    pub time: i64,
    #[serde(with = "serde_bytes")]
    pub signature: Vec<u8>,
}

/// The bytes a statement signature covers (and its id hashes).
fn signed_message(body: &Statement, signer: &PublicKey, time: i64) -> Vec<u8> {
    let mut out = vec![STATEMENT_VERSION];
    // Serialising our own plain data types into a Vec cannot fail.
    out.extend(postcard::to_stdvec(&(body, signer, time)).unwrap_or_default());
    out
}

impl SignedStatement {
    pub fn sign(body: Statement, key: &NodeKey, time: i64) -> Self {
        let signer = key.public();
        let signature = key
            .sign(STATEMENT_CONTEXT, &signed_message(&body, &signer, time))
            .to_vec();
        SignedStatement {
            body,
            signer,
            time,
            signature,
        }
    }

    pub fn id(&self) -> StatementId {
        StatementId(*blake3::hash(&signed_message(&self.body, &self.signer, self.time)).as_bytes())
    }

    pub fn verify_signature(&self) -> Result<(), TrustError> {
        let signature: [u8; 64] =
            self.signature
                .as_slice()
                .try_into()
                .map_err(|_| TrustError::BadSignature {
                    signer: self.signer,
                    reason: format!(
                        "a signature has 64 bytes, this one has {}",
                        self.signature.len()
                    ),
                })?;
        self.signer
            .verify(
                STATEMENT_CONTEXT,
                &signed_message(&self.body, &self.signer, self.time),
                &signature,
            )
            .map_err(|e| TrustError::BadSignature {
                signer: self.signer,
                reason: e.to_string(),
            })
    }

    /// Version byte followed by the postcard encoding, like the wire messages.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = vec![STATEMENT_VERSION];
        out.extend(postcard::to_stdvec(self).unwrap_or_default());
        out
    }

    /// Decodes untrusted bytes: size first, then version, then the body; trailing bytes are
    /// refused. Does not check the signature (`Trust::insert` does). Never panics.
    pub fn decode(bytes: &[u8]) -> Result<Self, TrustError> {
        if bytes.len() > MAX_STATEMENT_BYTES {
            return Err(TrustError::TooLarge {
                len: bytes.len(),
                limit: MAX_STATEMENT_BYTES,
            });
        }
        let (&version, body) = bytes
            .split_first()
            .ok_or_else(|| TrustError::Malformed("empty statement".into()))?;
        if version != STATEMENT_VERSION {
            return Err(TrustError::Version(version));
        }
        let (statement, rest) = postcard::take_from_bytes::<SignedStatement>(body)
            .map_err(|e| TrustError::Malformed(e.to_string()))?;
        if !rest.is_empty() {
            return Err(TrustError::Malformed(format!(
                "{} trailing bytes after the statement",
                rest.len()
            )));
        }
        Ok(statement)
    }
}
