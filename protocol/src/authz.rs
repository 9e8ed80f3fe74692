//! Authorization at ingest: may this change become part of this artefact?
//!
//! Every path by which a change enters a node (a local commit, sync, a snapshot) passes this
//! one check. Outside a network (no trust configured) a proven change is enough: its signature
//! and actor binding, or a recomputable origin. Inside a network the author's node must belong
//! to an admitted organisation that owns or maintains the artefact (see `trust::Trust::may_write`).
//!
//! Changes concurrent with a revocation: a maintainer removed by an `Access` statement keeps
//! exactly its changes in the causal past of the heads that statement names (the owner had seen
//! them when removing it); every other change by that organisation is refused by every node,
//! whenever it arrives. A node that accepted such a change before it learned of the removal
//! keeps it in its own copy (Automerge history is never rewritten), and from then on refuses to
//! accept further changes by that organisation.

use crate::artefact::ArtefactId;
use crate::identity::{OrgNumber, PublicKey};
use crate::trust::Trust;
use crate::wire::Head;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AuthzError {
    #[error("artefact {0} names no valid owner organisation")]
    NoOwner(ArtefactId),
    #[error("{0}")]
    NotPermitted(String),
}

/// May a change by `author` (`None`: a verified origin change) be applied to artefact `id`?
/// `in_past_of` answers whether the change is in the causal past of the given heads.
pub fn authorize(
    trust: Option<&Trust>,
    id: &ArtefactId,
    owner: Option<OrgNumber>,
    author: Option<&PublicKey>,
    change: Option<&Head>,
    in_past_of: impl Fn(&[Head]) -> bool,
) -> Result<(), AuthzError> {
    let (Some(trust), Some(author)) = (trust, author) else {
        return Ok(());
    };
    let owner = owner.ok_or(AuthzError::NoOwner(*id))?;
    match trust.may_write(id, owner, author, in_past_of) {
        Ok(()) => Ok(()),
        // A change a maintainer accepted as part of a proposal joins whoever wrote it.
        Err(_) if change.is_some_and(|h| trust.is_accepted_change(id, owner, h)) => Ok(()),
        Err(e) => Err(AuthzError::NotPermitted(e.to_string())),
    }
}
