//! Adoption: an organisation takes an exact version of another's artefact as the start of its
//! own adaptation, and says so in a signed statement.
//!
//! Reuse is what the commons is for, but "used by" only means something if it can be checked.
//! An `Adopt` statement names the upstream artefact, the exact version (heads) adopted, the
//! adopting organisation and the adaptation's id; every node evaluates it the same way: it
//! counts when its signer speaks for the adopting organisation (org key or certified node key)
//! and that organisation is admitted. The adaptation's id is derived from the statement's own
//! fields, so nobody can claim an existing artefact (and its write rights) as their adaptation.
//! Like every statement, an adoption is judged as of when this node accepted it: an adoption
//! accepted before its organisation's admission was revoked keeps counting.
//!
//! The adaptation's document starts as the upstream's history up to the adopted heads; the
//! engine then lets the adopting organisation write to it, and keeps admitting the upstream's
//! own changes so that `pull-upstream` is a plain CRDT merge (see `engine::adoption`).

use super::registry::Registry;
use super::{SignedStatement, Statement, StatementId, TrustError};
use crate::artefact::{ArtefactId, Metadata};
use crate::identity::OrgNumber;
use crate::wire::Head;
use serde::{Deserialize, Serialize};

/// Longest title an adaptation may carry.
pub const MAX_ADAPTATION_TITLE: usize = 200;

/// A valid adoption, as every node holding the statement sees it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdoptionView {
    pub statement: StatementId,
    pub adaptation: ArtefactId,
    pub upstream: ArtefactId,
    /// The exact upstream version adopted.
    pub heads: Vec<Head>,
    pub org: OrgNumber,
    /// The adopting organisation's admitted name.
    pub org_name: String,
    /// The adaptation's title ("" to show the upstream's).
    pub title: String,
    /// Seconds since the epoch, by the signer's clock.
    pub time: i64,
}

impl AdoptionView {
    /// Makes the metadata read from an adaptation's document (which is the upstream's) the
    /// adaptation's own: its title when it has one, its owner, and when it was adopted.
    pub fn apply_to(&self, meta: &mut Metadata) {
        if !self.title.is_empty() {
            meta.title = self.title.clone();
        }
        meta.owner = self.org.to_string();
        meta.owner_name = self.org_name.clone();
        meta.created = self.time;
    }
}

/// The id of the adaptation that adopting `heads` of `upstream` for `org` with `nonce` creates.
pub fn adaptation_id(
    upstream: &ArtefactId,
    heads: &[Head],
    org: OrgNumber,
    nonce: &[u8; 8],
) -> ArtefactId {
    let mut hasher = blake3::Hasher::new();
    hasher.update(b"allmenning/adaptation/v1\0");
    hasher.update(&upstream.0);
    hasher.update(&(heads.len() as u64).to_le_bytes());
    for head in heads {
        hasher.update(&head.0);
    }
    hasher.update(org.to_string().as_bytes());
    hasher.update(b"\0");
    hasher.update(nonce);
    let mut id = [0u8; 16];
    id.copy_from_slice(&hasher.finalize().as_bytes()[..16]);
    ArtefactId(id)
}

/// Checks that need nothing but the statement itself.
pub(super) fn validate(statement: &SignedStatement) -> Result<(), TrustError> {
    let Statement::Adopt {
        upstream,
        heads,
        org,
        nonce,
        adaptation,
        title,
    } = &statement.body
    else {
        return Ok(());
    };
    if heads.is_empty() {
        return Err(TrustError::Malformed(
            "an adoption names the exact version (heads) it adopts".into(),
        ));
    }
    if title.chars().count() > MAX_ADAPTATION_TITLE {
        return Err(TrustError::Malformed(format!(
            "an adaptation's title is at most {MAX_ADAPTATION_TITLE} characters"
        )));
    }
    if *adaptation != adaptation_id(upstream, heads, *org, nonce) || adaptation == upstream {
        return Err(TrustError::Malformed(
            "the adaptation id is not the one its upstream, heads, organisation and nonce give"
                .into(),
        ));
    }
    Ok(())
}

/// The adoption a statement this node accepted at `accepted_at` makes, if it is a valid `Adopt`.
pub(super) fn view(
    registry: &Registry,
    statement: &SignedStatement,
    accepted_at: i64,
) -> Option<AdoptionView> {
    let Statement::Adopt {
        upstream,
        heads,
        org,
        adaptation,
        title,
        ..
    } = &statement.body
    else {
        return None;
    };
    let org_name = registry.admitted_name_at(*org, accepted_at)?;
    if !registry
        .orgs_at(&statement.signer, accepted_at)
        .contains(org)
    {
        return None;
    }
    Some(AdoptionView {
        statement: statement.id(),
        adaptation: *adaptation,
        upstream: *upstream,
        heads: heads.clone(),
        org: *org,
        org_name,
        title: title.clone(),
        time: statement.time,
    })
}
