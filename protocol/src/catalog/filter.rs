//! Narrowing the catalogue the way a catalogue page does: by kind, organisation, curation status
//! and tag. Every criterion given must hold (they combine with AND); none given matches all.

use super::{CatalogEntry, CatalogError};
use crate::artefact::Kind;
use crate::identity::OrgNumber;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Where the curators stand on an artefact, as a catalogue filter. Derived from the verdicts in
/// force of every curator, at whatever version each was given (an endorsement of an older
/// version still counts; the entry says whether it is current). The values overlap: an approved
/// artefact is also endorsed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// A curator approved some version.
    Approved,
    /// A curator reviewed, recommended or approved some version.
    Endorsed,
    /// No curator vouches for any version (none endorsed it, or only deprecated or withdrew it).
    Unendorsed,
    /// A curator deprecated or withdrew it.
    Deprecated,
}

impl Status {
    pub const ALL: [Status; 4] = [
        Status::Approved,
        Status::Endorsed,
        Status::Unendorsed,
        Status::Deprecated,
    ];

    pub fn as_str(&self) -> &'static str {
        match self {
            Status::Approved => "approved",
            Status::Endorsed => "endorsed",
            Status::Unendorsed => "unendorsed",
            Status::Deprecated => "deprecated",
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Status {
    type Err = CatalogError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let wanted = s.trim().to_ascii_lowercase();
        Status::ALL
            .into_iter()
            .find(|status| status.as_str() == wanted)
            .ok_or_else(|| CatalogError::UnknownStatus(s.to_string()))
    }
}

/// Criteria a catalogue entry must meet; `None` means "any".
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CatalogFilter {
    pub kind: Option<Kind>,
    /// Matches artefacts this organisation owns or maintains.
    pub org: Option<OrgNumber>,
    pub status: Option<Status>,
    /// Matches an artefact carrying this tag, ignoring case and surrounding spaces.
    pub tag: Option<String>,
}

impl CatalogFilter {
    /// True if `entry` meets every criterion given.
    pub fn matches(&self, entry: &CatalogEntry) -> bool {
        let kind_matches = self
            .kind
            .is_none_or(|kind| entry.kind.trim().eq_ignore_ascii_case(kind.as_str()));
        let org_matches = self.org.is_none_or(|org| entry.involves(org));
        let status_matches = self.status.is_none_or(|status| entry.has_status(status));
        let tag_matches = self.tag.as_deref().is_none_or(|wanted| {
            let wanted = wanted.trim().to_lowercase();
            entry
                .tags
                .iter()
                .any(|tag| tag.trim().to_lowercase() == wanted)
        });
        kind_matches && org_matches && status_matches && tag_matches
    }
}
