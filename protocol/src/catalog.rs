//! The catalogue: one row per artefact saying what it is, who stands behind it and whether a
//! curator vouches for it.
//!
//! The strategy behind Allmenning asks for "a catalogue giving an overview of which services
//! exist and who does what", with structure and search, so that nobody builds the same thing
//! twice. A [`CatalogEntry`] is that overview for one artefact: its metadata, its owner and
//! maintainers (named when the trust statements name them), the curators' endorsements and
//! whether they cover the version this node holds, and who may read it. [`CatalogFilter`] narrows
//! a list of entries the way a catalogue page does (by kind, organisation, status and tag).
//!
//! Everything here is a pure function of an artefact's document and the trust statements, so
//! every node that holds the same data shows the same catalogue. The node keeps the entries
//! current and feeds them to its full-text index; this module does no I/O.

mod filter;
#[cfg(test)]
mod tests;

pub use filter::{CatalogFilter, Status};

use crate::artefact::{owner_at, Artefact, ArtefactId};
use crate::engine::{EndorsementState, Engine, EngineError, PeerKey};
use crate::identity::OrgNumber;
use crate::store::Store;
use crate::trust::{AccessView, AdoptionView, EndorsementStatus, Trust};
use automerge::{ObjType, ReadDoc, ScalarValue, Value, ROOT};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Metadata key of the LOS theme (the national vocabulary of public-service themes), when an
/// artefact carries one.
pub const META_LOS_THEME: &str = "los_theme";
/// Metadata key naming the artefact this one was derived from (hex id), when it says so.
pub const META_BASED_ON: &str = "based_on";

/// Why a catalogue value given by a user could not be understood.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CatalogError {
    #[error(
        "unknown catalogue status {0:?} (expected one of: approved, endorsed, unendorsed, deprecated)"
    )]
    UnknownStatus(String),
}

/// An organisation as the catalogue shows it: its number, and its name when the trust
/// statements this node holds name it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrgRef {
    pub org: OrgNumber,
    pub name: Option<String>,
}

/// One curator's verdict in force on the artefact, and how it relates to the version this node
/// holds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CatalogEndorsement {
    pub curator: OrgNumber,
    pub curator_name: String,
    pub status: EndorsementStatus,
    /// The exact version endorsed (change hashes, hex).
    pub heads: Vec<String>,
    /// The endorsed version is the version this node holds.
    pub current: bool,
    /// Signed changes this node holds that are not in the endorsed version.
    pub changes_since: usize,
    pub note: String,
    /// Seconds since the epoch, by the curator's clock.
    pub time: i64,
}

impl CatalogEndorsement {
    /// True for verdicts that vouch for the version (reviewed, recommended, approved).
    pub fn vouches(&self) -> bool {
        matches!(
            self.status,
            EndorsementStatus::Reviewed
                | EndorsementStatus::Recommended
                | EndorsementStatus::Approved
        )
    }
}

/// Who may read an artefact. Externally tagged (`"public"` or `{"restricted": {"readers": ..}}`
/// in JSON) so that non-self-describing formats such as postcard can store it too.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Visibility {
    /// Every organisation in the network.
    Public,
    /// Only the owner, the maintainers and these organisations.
    Restricted { readers: Vec<OrgRef> },
}

/// One artefact as the catalogue shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CatalogEntry {
    #[serde(with = "artefact_id_hex")]
    pub id: ArtefactId,
    pub title: String,
    /// The kind as written (unknown kinds from newer peers are kept).
    pub kind: String,
    pub description: String,
    pub tags: Vec<String>,
    /// The owner recorded when the artefact was published (`None` if unreadable).
    pub owner: Option<OrgNumber>,
    /// The owner's admitted name, else the name written at publication.
    pub owner_name: Option<String>,
    pub maintainers: Vec<OrgRef>,
    /// Curators' verdicts in force, newest first.
    pub endorsements: Vec<CatalogEndorsement>,
    /// Organisations that adopted the artefact (signed `Adopt` statements), oldest first.
    pub adopters: Vec<OrgRef>,
    /// The artefact this one is an adaptation of (or, failing a signed adoption, the one its
    /// metadata says it was derived from).
    #[serde(with = "optional_artefact_id_hex")]
    pub based_on: Option<ArtefactId>,
    /// The exact upstream version an adaptation was adopted at (change hashes, hex).
    #[serde(default)]
    pub based_on_version: Vec<String>,
    /// LOS theme, when its metadata carries one.
    pub los_theme: Option<String>,
    pub visibility: Visibility,
    /// Publication time (seconds since the epoch, by the publisher's clock).
    pub created: i64,
    /// Time of the newest change (seconds since the epoch, by its author's clock).
    pub updated: i64,
    /// Number of heads: more than one while concurrent edits are unmerged by a later change.
    pub head_count: usize,
    pub file_count: usize,
    /// Bytes of file content.
    pub size: u64,
    /// Files in conflict at the current heads (see `artefact::conflict`).
    #[serde(default)]
    pub conflicts: usize,
}

impl CatalogEntry {
    /// Builds the entry for `artefact` from its document and, inside a network, the trust
    /// statements (`None` outside a network: public, nothing endorsed, no maintainers).
    ///
    /// Reads the owner from the genesis change, which scans the change list; a node that
    /// holds an `Engine` should prefer [`Engine::catalog_entry`], which uses its cached owner.
    pub fn build(artefact: &Artefact, trust: Option<&Trust>) -> CatalogEntry {
        let owner = match trust.and_then(|t| t.adoption(&artefact.id)) {
            Some(adoption) => Some(adoption.org),
            None => genesis_owner(artefact),
        };
        let access = match (trust, owner) {
            (Some(t), Some(owner)) => {
                let mut view = t.access(&artefact.id, owner);
                // Born restricted and no valid access list: its owner's alone, never public.
                if view.statement.is_none() && genesis_restricted(artefact) {
                    view.readers = Some(Vec::new());
                }
                Some(view)
            }
            _ => None,
        };
        let endorsements = trust
            .map(|t| {
                t.endorsements(&artefact.id)
                    .into_iter()
                    .map(|view| endorsement_state(artefact, view))
                    .collect()
            })
            .unwrap_or_default();
        let names = trust
            .map(|t| org_names(t, owner, access.as_ref()))
            .unwrap_or_default();
        assemble(
            artefact,
            Sources {
                owner,
                access,
                in_network: trust.is_some(),
                endorsements,
                names,
                adoption: trust.and_then(|t| t.adoption(&artefact.id)),
                adopters: trust.map(|t| t.adopters(&artefact.id)).unwrap_or_default(),
                conflicts: None,
            },
        )
    }

    /// True if a curator's verdict in force puts the artefact in `status`.
    pub fn has_status(&self, status: Status) -> bool {
        let any = |pred: fn(&CatalogEndorsement) -> bool| self.endorsements.iter().any(pred);
        match status {
            Status::Approved => any(|e| e.status == EndorsementStatus::Approved),
            Status::Endorsed => any(CatalogEndorsement::vouches),
            Status::Unendorsed => !any(CatalogEndorsement::vouches),
            Status::Deprecated => any(|e| {
                matches!(
                    e.status,
                    EndorsementStatus::Deprecated | EndorsementStatus::Withdrawn
                )
            }),
        }
    }

    /// True if `org` owns or maintains the artefact.
    pub fn involves(&self, org: OrgNumber) -> bool {
        self.owner == Some(org) || self.maintainers.iter().any(|m| m.org == org)
    }
}

impl<S: Store, P: PeerKey> Engine<S, P> {
    /// The catalogue entry of an artefact this node holds, from its document and the trust
    /// statements this node holds.
    pub fn catalog_entry(&mut self, id: &ArtefactId) -> Result<CatalogEntry, EngineError> {
        // Owned answers first: the artefact borrows the engine for as long as it is used.
        let endorsements = self.endorsements(id)?;
        // Fails only when no owner is readable from the genesis; the entry is built regardless.
        let access = self.access(id).ok();
        let owner = access.as_ref().map(|a| a.owner);
        let in_network = self.trust().is_some();
        let names = self
            .trust()
            .map(|t| org_names(t, owner, access.as_ref()))
            .unwrap_or_default();
        let adoption = self.adoption(id);
        let adopters = self.trust().map(|t| t.adopters(id)).unwrap_or_default();
        let conflicts = Some(self.analysis(id, None)?.conflicts().count());
        let artefact = self.artefact(id)?;
        Ok(assemble(
            artefact,
            Sources {
                owner,
                access,
                in_network,
                endorsements,
                names,
                adoption,
                adopters,
                conflicts,
            },
        ))
    }
}

/// What an entry is built from besides the document, however it was obtained.
struct Sources {
    owner: Option<OrgNumber>,
    access: Option<AccessView>,
    in_network: bool,
    endorsements: Vec<EndorsementState>,
    /// Names of the organisations the entry mentions, from the trust statements.
    names: BTreeMap<OrgNumber, String>,
    /// The adoption that made the artefact, if it is an adaptation.
    adoption: Option<AdoptionView>,
    /// The adoptions of the artefact.
    adopters: Vec<AdoptionView>,
    /// Conflicted files, when already known (else decided from the document).
    conflicts: Option<usize>,
}

fn assemble(artefact: &Artefact, sources: Sources) -> CatalogEntry {
    let Sources {
        owner,
        access,
        in_network,
        endorsements,
        names,
        adoption,
        adopters,
        conflicts,
    } = sources;
    let mut meta = artefact.metadata();
    if let Some(adoption) = &adoption {
        adoption.apply_to(&mut meta);
    }
    let org_ref = |org: &OrgNumber| OrgRef {
        org: *org,
        name: names.get(org).cloned(),
    };
    let visibility = match &access {
        Some(AccessView {
            readers: Some(readers),
            ..
        }) => Visibility::Restricted {
            readers: readers.iter().map(org_ref).collect(),
        },
        Some(_) => Visibility::Public,
        // Inside a network an artefact whose owner cannot be read is treated as restricted by
        // the engine, so the catalogue does not call it public either.
        None if in_network => Visibility::Restricted {
            readers: Vec::new(),
        },
        None => Visibility::Public,
    };
    let owner_name = owner
        .and_then(|o| names.get(&o).cloned())
        .or_else(|| Some(meta.owner_name.clone()).filter(|n| !n.trim().is_empty()));
    let heads = artefact.heads();
    let updated = heads
        .iter()
        .filter_map(|h| artefact.doc.get_change_by_hash(h).map(|c| c.timestamp()))
        .max()
        .unwrap_or(meta.created);
    let files = artefact.files(None);
    let size = files.iter().map(|f| artefact.file_size(f, None)).sum();
    CatalogEntry {
        id: artefact.id,
        title: meta.title,
        kind: meta.kind,
        description: meta.description,
        tags: meta.tags,
        owner,
        owner_name,
        maintainers: access
            .as_ref()
            .map(|a| a.maintainers.iter().map(org_ref).collect())
            .unwrap_or_default(),
        endorsements: endorsements.into_iter().map(catalog_endorsement).collect(),
        adopters: {
            let mut orgs: Vec<OrgRef> = Vec::new();
            for a in &adopters {
                if !orgs.iter().any(|o| o.org == a.org) {
                    orgs.push(OrgRef {
                        org: a.org,
                        name: Some(a.org_name.clone()),
                    });
                }
            }
            orgs
        },
        based_on: match &adoption {
            Some(a) => Some(a.upstream),
            None => meta_str(artefact, META_BASED_ON).and_then(|s| s.trim().parse().ok()),
        },
        based_on_version: adoption
            .as_ref()
            .map(|a| a.heads.iter().map(|h| hex::encode(h.0)).collect())
            .unwrap_or_default(),
        los_theme: meta_str(artefact, META_LOS_THEME)
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty()),
        visibility,
        created: meta.created,
        updated,
        head_count: heads.len(),
        file_count: files.len(),
        size,
        conflicts: conflicts.unwrap_or_else(|| {
            crate::artefact::conflict::Analysis::of(artefact, &heads)
                .map(|a| a.conflicts().count())
                .unwrap_or(0)
        }),
    }
}

fn catalog_endorsement(state: EndorsementState) -> CatalogEndorsement {
    let view = state.endorsement;
    CatalogEndorsement {
        curator: view.curator,
        curator_name: view.curator_name,
        status: view.status,
        heads: view.heads.iter().map(|h| hex::encode(h.0)).collect(),
        current: state.current,
        changes_since: state.changes_since,
        note: view.note,
        time: view.time,
    }
}

fn endorsement_state(artefact: &Artefact, view: crate::trust::EndorsementView) -> EndorsementState {
    crate::engine::curation::endorsement_state(artefact, view)
}

/// The owner written by the genesis change (later edits to the metadata cannot move it).
fn genesis_owner(artefact: &Artefact) -> Option<OrgNumber> {
    let genesis = artefact
        .doc
        .get_changes(&[])
        .into_iter()
        .find(|c| artefact.id.is_genesis(&c.hash()) && c.deps().is_empty())?;
    owner_at(&artefact.doc, &[genesis.hash()])?.parse().ok()
}

fn genesis_restricted(artefact: &Artefact) -> bool {
    artefact
        .doc
        .get_changes_meta(&[])
        .into_iter()
        .find(|c| artefact.id.is_genesis(&c.hash) && c.deps.is_empty())
        .is_some_and(|g| crate::artefact::restricted_at(&artefact.doc, &[g.hash]))
}

/// Names, from the trust statements, of the owner and of every organisation the access list
/// names.
fn org_names(
    trust: &Trust,
    owner: Option<OrgNumber>,
    access: Option<&AccessView>,
) -> BTreeMap<OrgNumber, String> {
    let mentioned = owner.into_iter().chain(access.into_iter().flat_map(|a| {
        a.maintainers
            .iter()
            .chain(a.readers.iter().flatten())
            .copied()
    }));
    mentioned
        .filter_map(|org| trust.org(org).map(|view| (org, view.name)))
        .collect()
}

/// A string the metadata map holds under `key`, if any (for keys newer than [`Metadata`]).
///
/// [`Metadata`]: crate::artefact::Metadata
fn meta_str(artefact: &Artefact, key: &str) -> Option<String> {
    let meta = match artefact.doc.get(ROOT, "meta") {
        Ok(Some((Value::Object(ObjType::Map), meta))) => meta,
        _ => return None,
    };
    match artefact.doc.get(&meta, key) {
        Ok(Some((Value::Scalar(s), _))) => match s.as_ref() {
            ScalarValue::Str(s) => Some(s.to_string()),
            _ => None,
        },
        _ => None,
    }
}

/// Artefact ids as 32 hex digits in JSON, as everywhere else the CLI prints them.
mod artefact_id_hex {
    use crate::artefact::ArtefactId;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(id: &ArtefactId, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&id.to_hex())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<ArtefactId, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

mod optional_artefact_id_hex {
    use crate::artefact::ArtefactId;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(id: &Option<ArtefactId>, s: S) -> Result<S::Ok, S::Error> {
        match id {
            Some(id) => s.serialize_some(&id.to_hex()),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<ArtefactId>, D::Error> {
        match Option::<String>::deserialize(d)? {
            Some(text) => text.parse().map(Some).map_err(serde::de::Error::custom),
            None => Ok(None),
        }
    }
}
