//! Initiatives: a signed record that an organisation is building a service, and leads it.
//!
//! "Design nationally, develop together" needs to know who is already building what, so that a
//! second municipality joins instead of starting a duplicate. An initiative is announced by its
//! captain organisation (`Statement::Initiative`), updated by the captain only (higher `seq`:
//! status, description, linked artefacts), and joined by other organisations
//! (`Statement::JoinInitiative`). Like every trust fact it is evaluated the same on every node
//! whatever the arrival order: a statement counts only if its signer spoke for the organisation
//! it names (org key or certified node key), and that organisation was admitted, when this node
//! accepted it.

use super::registry::Registry;
use super::{SignedStatement, Statement, TrustError};
use crate::artefact::ArtefactId;
use crate::identity::OrgNumber;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::str::FromStr;

/// Longest title and description an initiative may carry.
pub const MAX_INITIATIVE_TITLE: usize = 200;
pub const MAX_INITIATIVE_DESCRIPTION: usize = 4000;

/// An initiative's id: 16 random bytes chosen by its captain.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct InitiativeId(pub [u8; 16]);

impl InitiativeId {
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
}

impl fmt::Display for InitiativeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for InitiativeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "InitiativeId({})", self.to_hex())
    }
}

impl FromStr for InitiativeId {
    type Err = TrustError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut out = [0u8; 16];
        hex::decode_to_slice(s.trim(), &mut out).map_err(|_| {
            TrustError::Malformed(format!(
                "not an initiative id (32 hex digits expected): {s:?}"
            ))
        })?;
        Ok(InitiativeId(out))
    }
}

/// Where an initiative stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum InitiativeStatus {
    /// Announced, work not started.
    Planned,
    /// Being built.
    Active,
    /// In use; the work is done.
    Done,
    /// Given up.
    Stopped,
}

impl InitiativeStatus {
    pub const ALL: [InitiativeStatus; 4] = [
        InitiativeStatus::Planned,
        InitiativeStatus::Active,
        InitiativeStatus::Done,
        InitiativeStatus::Stopped,
    ];

    pub fn as_str(&self) -> &'static str {
        match self {
            InitiativeStatus::Planned => "planned",
            InitiativeStatus::Active => "active",
            InitiativeStatus::Done => "done",
            InitiativeStatus::Stopped => "stopped",
        }
    }
}

impl fmt::Display for InitiativeStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for InitiativeStatus {
    type Err = TrustError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let lower = s.trim().to_ascii_lowercase();
        InitiativeStatus::ALL
            .into_iter()
            .find(|k| k.as_str() == lower)
            .ok_or_else(|| {
                TrustError::Malformed(format!(
                    "unknown initiative status {s:?}: use planned, active, done or stopped"
                ))
            })
    }
}

/// An initiative as the statements held say it is now.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InitiativeView {
    pub id: InitiativeId,
    pub captain: OrgNumber,
    pub captain_name: String,
    pub title: String,
    pub description: String,
    pub status: InitiativeStatus,
    pub artefacts: Vec<ArtefactId>,
    /// Organisations that joined, with their names, by organisation number.
    pub participants: Vec<(OrgNumber, String)>,
    /// When it was announced and last updated (the captain's clock).
    pub created: i64,
    pub updated: i64,
}

/// Structural checks at insert time (who may sign is checked at evaluation).
pub(super) fn validate(statement: &SignedStatement) -> Result<(), TrustError> {
    if let Statement::Initiative {
        title, description, ..
    } = &statement.body
    {
        if title.trim().is_empty() {
            return Err(TrustError::Malformed("an initiative needs a title".into()));
        }
        if title.chars().count() > MAX_INITIATIVE_TITLE
            || description.chars().count() > MAX_INITIATIVE_DESCRIPTION
        {
            return Err(TrustError::Malformed(format!(
                "an initiative's title is at most {MAX_INITIATIVE_TITLE} characters and its description {MAX_INITIATIVE_DESCRIPTION}"
            )));
        }
    }
    Ok(())
}

/// Whether `statement`'s signer spoke for `org`, and `org` was admitted, as of `accepted_at`.
fn speaks_for(
    registry: &Registry,
    statement: &SignedStatement,
    accepted_at: i64,
    org: OrgNumber,
) -> bool {
    registry
        .orgs_at(&statement.signer, accepted_at)
        .contains(&org)
        && registry.is_admitted_at(org, accepted_at)
}

fn name_of(registry: &Registry, org: OrgNumber) -> String {
    registry.org_name(org).unwrap_or_else(|| org.to_string())
}

/// Every initiative the statements (each with the time this node accepted it) establish,
/// newest first.
pub(super) fn evaluate<'a>(
    registry: &Registry,
    statements: impl Iterator<Item = (&'a SignedStatement, i64)>,
) -> Vec<InitiativeView> {
    let statements: Vec<(&SignedStatement, i64)> = statements.collect();
    // The captain is whoever announced the initiative first (seq, then time, then id).
    let mut versions: BTreeMap<InitiativeId, Vec<(u64, i64, &SignedStatement)>> = BTreeMap::new();
    for (s, accepted_at) in &statements {
        if let Statement::Initiative {
            id, captain, seq, ..
        } = &s.body
        {
            if speaks_for(registry, s, *accepted_at, *captain) {
                versions.entry(*id).or_default().push((*seq, s.time, s));
            }
        }
    }
    let mut out = Vec::new();
    for (id, mut list) in versions {
        list.sort_by_key(|a| (a.0, a.1, a.2.id()));
        let Some(first) = list.first() else { continue };
        let Statement::Initiative {
            captain: first_captain,
            ..
        } = &first.2.body
        else {
            continue;
        };
        let created = first.1;
        // Only the first captain's organisation may update it.
        let Some(latest) = list
            .iter()
            .rev()
            .find(|(_, _, s)| matches!(&s.body, Statement::Initiative { captain, .. } if captain == first_captain))
        else {
            continue;
        };
        let Statement::Initiative {
            captain,
            title,
            description,
            status,
            artefacts,
            ..
        } = &latest.2.body
        else {
            continue;
        };
        let mut participants: BTreeSet<OrgNumber> = BTreeSet::new();
        for (s, accepted_at) in &statements {
            if let Statement::JoinInitiative { initiative, org } = &s.body {
                if *initiative == id
                    && *org != *captain
                    && speaks_for(registry, s, *accepted_at, *org)
                {
                    participants.insert(*org);
                }
            }
        }
        out.push(InitiativeView {
            id,
            captain: *captain,
            captain_name: name_of(registry, *captain),
            title: title.clone(),
            description: description.clone(),
            status: *status,
            artefacts: artefacts.clone(),
            participants: participants
                .into_iter()
                .map(|o| (o, name_of(registry, o)))
                .collect(),
            created,
            updated: latest.1,
        });
    }
    out.sort_by(|a, b| b.created.cmp(&a.created).then(a.id.cmp(&b.id)));
    out
}
