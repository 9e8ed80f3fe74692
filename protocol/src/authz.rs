//! Authorization at ingest: may this change become part of this artefact?
//!
//! Today the rule is: the change is proven (signed by the node its actor id names, or a
//! recomputable origin), and the artefact id matches its genesis. Write permissions, organisation
//! certificates and revoked node keys plug in here, so that every path by which a change enters a
//! node (local commit, sync, snapshot) passes the same check.

use crate::artefact::ArtefactId;
use crate::identity::PublicKey;
use automerge::Change;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AuthzError {
    #[error("change {change} by {author} is not permitted on artefact {artefact}")]
    NotPermitted {
        change: String,
        author: String,
        artefact: ArtefactId,
    },
}

/// The ingest policy. `author` is `None` for verified origin changes.
pub trait Policy {
    fn may_apply(
        &self,
        artefact: &ArtefactId,
        change: &Change,
        author: Option<&PublicKey>,
    ) -> Result<(), AuthzError>;
}

/// Accepts every proven change.
#[derive(Clone, Copy, Debug, Default)]
pub struct SignedOnly;

impl Policy for SignedOnly {
    fn may_apply(
        &self,
        _: &ArtefactId,
        _: &Change,
        _: Option<&PublicKey>,
    ) -> Result<(), AuthzError> {
        Ok(())
    }
}
