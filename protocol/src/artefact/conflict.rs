//! First-class conflicts: what each file of an artefact holds at some heads when concurrent
//! changes touched it, decided from the change history alone.
//!
//! The CRDT keeps every node converging on the same operations; this module decides what those
//! operations *mean* for a file. For each path, the *file heads* are the newest changes that
//! touched it (none has another in its past). One file head: the file is what the document
//! says. Several: each side's version is read at its own change, the common ancestor's version
//! at the newest changes all sides have, and
//! - text versions are merged line by line ([`lines::Merge`]): edits separated by an unchanged
//!   line merge, edits to the same or adjacent lines make a *text* conflict, never an
//!   interleaving of characters;
//! - versions that are not all text make a *binary* conflict (an *add/add* one when the path is
//!   new on every side);
//! - a side that deleted the file against one that changed it makes a *delete/edit* conflict
//!   (*rename/edit* when the deletion was a rename), and two different renames a
//!   *rename/rename* one.
//!
//! A conflict is part of the converged state, as in jj: it is stored (as the operations that
//! make it), replicated, shown and resolved later. A commit that writes the file with every side
//! in its past resolves it (it becomes the only file head); it marks the path in the `resolved`
//! map so that even a resolution that changes no byte (or deletes a file the document no
//! longer has) is a touch. A commit that does not touch the file leaves the conflict as it is.
//! Since only history and heads go in, every node shows the same conflicts for the same heads,
//! whatever order the changes arrived in.

pub mod history;
pub mod lines;

use crate::artefact::{origin, Artefact, ArtefactError, FileContent};
use crate::blob::BlobHash;
use crate::identity::PublicKey;
use crate::signed::actor_key;
use automerge::{ChangeHash, ObjType, ReadDoc, Value, ROOT};
use history::History;
use lines::Merge;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;

pub use history::RESOLVED;

/// What kind of disagreement a conflict is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum ConflictKind {
    /// Concurrent edits to the same or adjacent lines of a text file.
    #[serde(rename = "text")]
    Text,
    /// Concurrent different replacements of a file that is not text on every side.
    #[serde(rename = "binary")]
    Binary,
    /// The same new path added at several ends with different contents.
    #[serde(rename = "add/add")]
    AddAdd,
    /// Deleted at one end, changed at another.
    #[serde(rename = "delete/edit")]
    DeleteEdit,
    /// Renamed to different paths at different ends.
    #[serde(rename = "rename/rename")]
    RenameRename,
    /// Renamed at one end, changed under its old path at another.
    #[serde(rename = "rename/edit")]
    RenameEdit,
}

impl ConflictKind {
    pub fn as_str(&self) -> &'static str {
        match self {
            ConflictKind::Text => "text",
            ConflictKind::Binary => "binary",
            ConflictKind::AddAdd => "add/add",
            ConflictKind::DeleteEdit => "delete/edit",
            ConflictKind::RenameRename => "rename/rename",
            ConflictKind::RenameEdit => "rename/edit",
        }
    }
}

impl fmt::Display for ConflictKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A path's content in one version.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Version {
    Absent,
    /// Gone from this path because this side moved it (same content) to `to`.
    Renamed {
        to: String,
    },
    Blob {
        hash: BlobHash,
        size: u64,
        executable: bool,
    },
    Text {
        text: String,
        executable: bool,
    },
}

impl Version {
    pub fn is_present(&self) -> bool {
        matches!(self, Version::Blob { .. } | Version::Text { .. })
    }

    pub fn executable(&self) -> bool {
        match self {
            Version::Blob { executable, .. } | Version::Text { executable, .. } => *executable,
            _ => false,
        }
    }

    /// Size in bytes of the content (0 when absent).
    pub fn size(&self) -> u64 {
        match self {
            Version::Blob { size, .. } => *size,
            Version::Text { text, .. } => text.len() as u64,
            _ => 0,
        }
    }

    /// What the version is, in a word: "deleted", "renamed", "blob" or "text".
    pub fn state(&self) -> &'static str {
        match self {
            Version::Absent => "deleted",
            Version::Renamed { .. } => "renamed",
            Version::Blob { .. } => "blob",
            Version::Text { .. } => "text",
        }
    }
}

/// One side of a conflict: the newest change on that side that touched the path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Side {
    pub change: ChangeHash,
    /// The node key that signed it.
    pub author: Option<PublicKey>,
    /// Its time, by its author's clock.
    pub time: i64,
    pub version: Version,
}

/// A conflicted path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Conflict {
    pub path: String,
    pub kind: ConflictKind,
    /// The newest changes every side has, and the path's version there.
    pub base_heads: Vec<ChangeHash>,
    pub base: Version,
    /// Every side that changed the path, oldest first (ties by change hash).
    pub sides: Vec<Side>,
    /// For a text conflict: the line merge, whose conflicting regions get markers.
    pub merge: Option<Merge>,
    /// What the path holds besides that: for binary and add/add the version the document
    /// picked (the others go next to the file), for delete/edit and rename/edit the edited
    /// version (nothing is lost), for rename/rename nothing (the renamed copies exist).
    pub shown: Version,
    /// Older sides beyond [`MAX_SIDES`], not compared (their changes are in the history).
    pub omitted: Vec<ChangeHash>,
}

/// The most sides of one file that are read and compared; more make a conflict regardless.
pub const MAX_SIDES: usize = 32;

impl Conflict {
    /// Every path a resolution may touch: the path and where its sides renamed it to.
    pub fn paths(&self) -> Vec<&str> {
        let mut out = vec![self.path.as_str()];
        for side in &self.sides {
            if let Version::Renamed { to } = &side.version {
                out.push(to);
            }
        }
        out
    }
}

/// What a path with several file heads holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The sides merged (or only one changed the path): this version.
    Merged(Version),
    Conflict(Conflict),
}

/// The paths of an artefact at some heads whose content is decided here rather than read from
/// the document: paths touched by concurrent changes. Paths not listed hold what the document
/// says.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Analysis {
    pub heads: Vec<ChangeHash>,
    pub outcomes: BTreeMap<String, Outcome>,
}

impl Analysis {
    /// Decides every path of `artefact` at `heads`.
    pub fn of(artefact: &Artefact, heads: &[ChangeHash]) -> Result<Analysis, ArtefactError> {
        artefact.check_heads(heads)?;
        let mut sorted = heads.to_vec();
        sorted.sort();
        sorted.dedup();
        if sorted.len() <= 1 && linear(&artefact.doc) {
            // No two changes were ever made concurrently: nothing to decide.
            return Ok(Analysis {
                heads: sorted,
                outcomes: BTreeMap::new(),
            });
        }
        let history = History::of(&artefact.doc);
        let head_idx: Vec<usize> = sorted
            .iter()
            .filter_map(|h| history.index.get(h).copied())
            .collect();
        let past = history.past(&head_idx);
        let mut outcomes = BTreeMap::new();
        for (path, touched) in &history.touches {
            if crate::artefact::validate_path(path).is_err() {
                continue;
            }
            let in_past: Vec<usize> = touched.iter().copied().filter(|&c| past[c]).collect();
            if in_past.len() < 2 {
                continue;
            }
            let file_heads = history.maximal(&in_past);
            if file_heads.len() < 2 {
                continue;
            }
            let outcome = decide(artefact, &history, path, &file_heads, &sorted)?;
            outcomes.insert(path.clone(), outcome);
        }
        Ok(Analysis {
            heads: sorted,
            outcomes,
        })
    }

    /// The conflicts, by path.
    pub fn conflicts(&self) -> impl Iterator<Item = &Conflict> {
        self.outcomes.values().filter_map(|o| match o {
            Outcome::Conflict(c) => Some(c),
            Outcome::Merged(_) => None,
        })
    }

    pub fn conflict(&self, path: &str) -> Option<&Conflict> {
        match self.outcomes.get(path) {
            Some(Outcome::Conflict(c)) => Some(c),
            _ => None,
        }
    }

    /// The conflicts a commit touching `paths` resolves: those any of whose paths it touches.
    pub fn resolved_by<'a>(&'a self, paths: &[&str]) -> Vec<&'a Conflict> {
        self.conflicts()
            .filter(|c| c.paths().iter().any(|p| paths.contains(p)))
            .collect()
    }
}

fn decide(
    artefact: &Artefact,
    history: &History,
    path: &str,
    file_heads: &[usize],
    heads: &[ChangeHash],
) -> Result<Outcome, ArtefactError> {
    let base_heads: Vec<ChangeHash> = history
        .common_heads(file_heads)
        .into_iter()
        .map(|i| history.hashes[i])
        .collect();
    let base = if base_heads.is_empty() {
        Version::Absent
    } else {
        version_at(artefact, path, &base_heads)?
    };
    let mut order: Vec<usize> = file_heads.to_vec();
    order.sort_by_key(|&i| (history.times[i], history.hashes[i]));
    // Each side costs a read of the file at its change and a diff: a bounded number are
    // compared. More concurrent versions than that is a conflict whatever they hold (fail
    // closed), with the ones left out counted, not dropped silently.
    let omitted: Vec<ChangeHash> = if order.len() > MAX_SIDES {
        order
            .drain(..order.len() - MAX_SIDES)
            .map(|i| history.hashes[i])
            .collect()
    } else {
        Vec::new()
    };
    let mut sides: Vec<Side> = Vec::new();
    for i in order {
        let hash = history.hashes[i];
        let mut version = version_at(artefact, path, &[hash])?;
        if version == Version::Absent {
            if let Some(to) = renamed_to(artefact, history, path, i)? {
                version = Version::Renamed { to };
            }
        }
        let author = artefact
            .doc
            .get_change_meta_by_hash(&hash)
            .and_then(|m| actor_key(&m.actor));
        sides.push(Side {
            change: hash,
            author,
            time: history.times[i],
            version,
        });
    }
    // Sides that left the path as it was take no part.
    sides.retain(|s| s.version != base);
    let mut distinct: Vec<&Version> = Vec::new();
    for s in &sides {
        if !distinct.contains(&&s.version) {
            distinct.push(&s.version);
        }
    }
    match distinct.len() {
        0 if omitted.is_empty() => return Ok(Outcome::Merged(base)),
        1 if omitted.is_empty() => return Ok(Outcome::Merged(distinct[0].clone())),
        // Several versions, or sides left out (then a conflict whatever the others hold).
        _ => {}
    }
    let present: Vec<&Side> = sides.iter().filter(|s| s.version.is_present()).collect();
    let renamed: Vec<&str> = sides
        .iter()
        .filter_map(|s| match &s.version {
            Version::Renamed { to } => Some(to.as_str()),
            _ => None,
        })
        .collect();
    let conflict = |kind, merge, shown| {
        Ok(Outcome::Conflict(Conflict {
            path: path.to_string(),
            kind,
            base_heads: base_heads.clone(),
            base: base.clone(),
            sides: sides.clone(),
            merge,
            shown,
            omitted: omitted.clone(),
        }))
    };
    if sides.is_empty() {
        // Only possible with sides left out: the newest ones all left the file as it was.
        return conflict(ConflictKind::Binary, None, base.clone());
    }
    if present.len() == sides.len() {
        // Every side has content.
        let texts: Option<Vec<&str>> = sides
            .iter()
            .map(|s| match &s.version {
                Version::Text { text, .. } => Some(text.as_str()),
                _ => None,
            })
            .collect();
        let winner = || -> Result<Version, ArtefactError> {
            let now = version_at(artefact, path, heads)?;
            Ok(if now.is_present() {
                now
            } else {
                sides[0].version.clone()
            })
        };
        if base == Version::Absent {
            return conflict(ConflictKind::AddAdd, None, winner()?);
        }
        let base_text = base_text(artefact, path, &base)?;
        return match (texts, base_text) {
            (Some(texts), Some(base_text)) => {
                let merge = Merge::of(&base_text, &texts);
                let executable = merged_exec(&base, &sides);
                match merge.clean_text() {
                    Some(text) if omitted.is_empty() => {
                        Ok(Outcome::Merged(Version::Text { text, executable }))
                    }
                    _ => conflict(ConflictKind::Text, Some(merge), Version::Absent),
                }
            }
            _ => conflict(ConflictKind::Binary, None, winner()?),
        };
    }
    if present.is_empty() {
        // Every side removed the path: a conflict only when they moved it to different places.
        let mut targets: Vec<&str> = renamed.clone();
        targets.sort_unstable();
        targets.dedup();
        return if targets.len() >= 2 {
            conflict(ConflictKind::RenameRename, None, Version::Absent)
        } else {
            Ok(Outcome::Merged(Version::Absent))
        };
    }
    let kind = if renamed.is_empty() {
        ConflictKind::DeleteEdit
    } else {
        ConflictKind::RenameEdit
    };
    let shown = present[0].version.clone();
    conflict(kind, None, shown)
}

/// Whether the signed changes form a line (no change has two signed dependencies), judged from
/// change metadata alone. Origin changes do not count: every edit that first turns a file into
/// text depends on one besides its base.
fn linear(doc: &automerge::Automerge) -> bool {
    let metas = doc.get_changes_meta(&[]);
    let signed: std::collections::HashSet<ChangeHash> = metas
        .iter()
        .filter(|m| actor_key(&m.actor).is_some())
        .map(|m| m.hash)
        .collect();
    let mut any_signed = false;
    let mut has_signed_child: std::collections::HashSet<ChangeHash> = Default::default();
    for m in &metas {
        let signed_deps: Vec<&ChangeHash> = m.deps.iter().filter(|d| signed.contains(d)).collect();
        if signed_deps.len() > 1 {
            return false;
        }
        if signed.contains(&m.hash) {
            for d in signed_deps {
                if !has_signed_child.insert(*d) {
                    // Two signed changes on the same one: a fork.
                    return false;
                }
            }
            any_signed = true;
        }
    }
    any_signed
}

/// The executable bit of a merge: a side's change of it wins over the base.
fn merged_exec(base: &Version, sides: &[Side]) -> bool {
    let before = base.executable();
    sides
        .iter()
        .map(|s| s.version.executable())
        .find(|&x| x != before)
        .unwrap_or(before)
}

/// The text of the base version: a text's content, or a blob's when some side turned it into
/// text (its origin holds the blob's content as text).
fn base_text(
    artefact: &Artefact,
    path: &str,
    base: &Version,
) -> Result<Option<String>, ArtefactError> {
    match base {
        Version::Text { text, .. } => Ok(Some(text.clone())),
        Version::Blob { hash, .. } => {
            let key = origin::text_key(path, hash);
            let Ok(Some((Value::Object(ObjType::Text), obj))) =
                artefact.doc.get(ROOT, key.as_str())
            else {
                return Ok(None);
            };
            let Some(origin) = artefact.doc.hash_for_opid(&obj) else {
                return Ok(None);
            };
            Ok(Some(artefact.doc.text_at(&obj, &[origin])?))
        }
        _ => Ok(None),
    }
}

/// The path's version at `heads`.
pub fn version_at(
    artefact: &Artefact,
    path: &str,
    heads: &[ChangeHash],
) -> Result<Version, ArtefactError> {
    let Some(entry) = artefact.entry(path, Some(heads)) else {
        return Ok(Version::Absent);
    };
    Ok(match entry.content {
        FileContent::Blob { hash, size } => Version::Blob {
            hash,
            size,
            executable: entry.executable,
        },
        FileContent::Text { obj, .. } => Version::Text {
            text: artefact.text(&obj, Some(heads))?,
            executable: entry.executable,
        },
    })
}

/// Where change `change` moved `path` to, if it deleted it by a rename: a path it created
/// whose entry holds the same content (the same text or the same blob) as `path` had at the
/// change's dependencies.
fn renamed_to(
    artefact: &Artefact,
    history: &History,
    path: &str,
    change: usize,
) -> Result<Option<String>, ArtefactError> {
    let Some(made) = history.made.get(&change) else {
        return Ok(None);
    };
    let deps: Vec<ChangeHash> = history.deps[change]
        .iter()
        .map(|&d| history.hashes[d])
        .collect();
    if deps.is_empty() {
        return Ok(None);
    }
    let Some(before) = artefact.entry(path, Some(&deps)) else {
        return Ok(None);
    };
    let at = [history.hashes[change]];
    for candidate in made {
        if candidate == path {
            continue;
        }
        let Some(after) = artefact.entry(candidate, Some(&at)) else {
            continue;
        };
        let same_content = match (&before.content, &after.content) {
            (FileContent::Blob { hash: a, .. }, FileContent::Blob { hash: b, .. }) => a == b,
            (FileContent::Text { key: a, .. }, FileContent::Text { key: b, .. }) => a == b,
            _ => false,
        };
        if same_content {
            return Ok(Some(candidate.clone()));
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests;
