//! Conflicts as a node shows them: each side named by its organisation and change, and the
//! files a checkout, an export or the portal gets for a version with conflicts.
//!
//! Which paths conflict is decided in [`crate::artefact::conflict`] from history alone; here the
//! sides get their organisations (from the network's certificates, as this node knows them),
//! text conflicts get their markers, and the other sides of a binary, add/add or delete/edit
//! conflict become files next to the conflicted one (`logo.png.trondheim-2d6fda9`), so that
//! nothing a side wrote is out of reach. The decision is cached per artefact for its current
//! heads, since listing and showing ask for it often and it only changes with new changes.

use super::{store_err, Engine, EngineError, FileData, PeerKey};
use crate::artefact::conflict::{Analysis, Conflict, ConflictKind, Outcome, Version};
use crate::artefact::{Artefact, ArtefactId, FileContent, FileEdit};
use crate::blob::BlobHash;
use crate::identity::{OrgNumber, PublicKey};
use crate::store::Store;
use automerge::ChangeHash;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

/// One side of a conflict, for people.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SideView {
    pub change: ChangeHash,
    pub node: Option<PublicKey>,
    pub org: Option<OrgNumber>,
    pub org_name: Option<String>,
    /// "text", "blob", "deleted" or "renamed".
    pub state: &'static str,
    pub renamed_to: Option<String>,
    pub size: u64,
    /// How markers name it: organisation and short change hash.
    pub label: String,
    /// Where a checkout finds this side's content when it is not the conflicted file itself.
    pub file: Option<String>,
}

/// A conflicted path, for people.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConflictView {
    pub path: String,
    pub kind: ConflictKind,
    pub base: Vec<ChangeHash>,
    pub sides: Vec<SideView>,
    /// Number of conflicting regions marked in a text conflict.
    pub regions: usize,
    /// Older sides not compared (more than `MAX_SIDES` concurrent versions).
    pub omitted: Vec<ChangeHash>,
}

/// An artefact's files at some heads as people get them: conflicts decided and marked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Presented {
    pub heads: Vec<ChangeHash>,
    pub files: Vec<FileData>,
    pub conflicts: Vec<ConflictView>,
}

/// Analyses kept per artefact (most recently used).
const ANALYSES_PER_ARTEFACT: usize = 4;

/// Short form of a change hash, as markers and file names show it.
pub fn short_hash(hash: &ChangeHash) -> String {
    hash.to_string()[..7].to_string()
}

/// A file-name-safe word for an organisation: `Trondheim kommune` → `trondheim`.
pub fn org_slug(name: &str) -> String {
    let folded: String = name
        .to_lowercase()
        .chars()
        .flat_map(|c| match c {
            'æ' => vec!['a', 'e'],
            'ø' => vec!['o'],
            'å' => vec!['a'],
            c if c.is_ascii_alphanumeric() => vec![c],
            _ => vec![' '],
        })
        .collect();
    let words: Vec<&str> = folded
        .split_whitespace()
        .filter(|w| *w != "kommune")
        .collect();
    words.join("-")
}

/// The blobs a version names, with their sizes: its files' (where no concurrent changes
/// touched them) and, where they did, the merge shown or every side of the conflict.
pub(super) fn version_blobs<'a>(
    artefact: &'a Artefact,
    analysis: &'a Analysis,
) -> impl Iterator<Item = (BlobHash, u64)> + 'a {
    let files = artefact
        .files(Some(&analysis.heads))
        .into_iter()
        .filter(|f| !analysis.outcomes.contains_key(&f.path))
        .filter_map(|f| match f.content {
            FileContent::Blob { hash, size } => Some((hash, size)),
            FileContent::Text { .. } => None,
        });
    files.chain(outcome_blobs(analysis))
}

/// The blobs of the versions an analysis decided on: each merge, and each conflict's shown
/// version and sides.
pub(super) fn outcome_blobs(analysis: &Analysis) -> impl Iterator<Item = (BlobHash, u64)> + '_ {
    analysis
        .outcomes
        .values()
        .flat_map(|outcome| -> Vec<&Version> {
            match outcome {
                Outcome::Merged(v) => vec![v],
                Outcome::Conflict(c) => std::iter::once(&c.shown)
                    .chain(c.sides.iter().map(|s| &s.version))
                    .collect(),
            }
        })
        .filter_map(|v| match v {
            Version::Blob { hash, size, .. } => Some((*hash, *size)),
            _ => None,
        })
}

impl<S: Store, P: PeerKey> Engine<S, P> {
    /// The conflict analysis of an artefact at `heads` (its current heads when `None`).
    pub fn analysis(
        &mut self,
        id: &ArtefactId,
        heads: Option<&[ChangeHash]>,
    ) -> Result<Arc<Analysis>, EngineError> {
        let current = self.artefact(id)?.heads();
        let mut heads = heads
            .map(<[ChangeHash]>::to_vec)
            .unwrap_or_else(|| current.clone());
        heads.sort();
        heads.dedup();
        // A version's analysis never changes (its history is fixed), so any cached one holds;
        // the current heads and the versions last asked for (`show --at`, the portal, a
        // commit's base) are kept, a few per artefact.
        let cached = self.analyses.entry(*id).or_default();
        if let Some(i) = cached.iter().position(|(at, _)| *at == heads) {
            // Most recently used last.
            let hit = cached.remove(i);
            let analysis = hit.1.clone();
            cached.push(hit);
            return Ok(analysis);
        }
        let artefact = &self
            .docs
            .get(id)
            .ok_or_else(|| EngineError::NotFound(id.to_string()))?
            .artefact;
        let analysis = Arc::new(Analysis::of(artefact, &heads)?);
        let cached = self.analyses.entry(*id).or_default();
        if cached.len() >= ANALYSES_PER_ARTEFACT {
            cached.remove(0);
        }
        cached.push((heads, analysis.clone()));
        Ok(analysis)
    }

    /// The organisation (and its name) whose node signed a change, as this node knows it.
    fn org_of(&self, node: Option<&PublicKey>) -> (Option<OrgNumber>, Option<String>) {
        let Some(node) = node else {
            return (None, None);
        };
        if *node == self.key.public() {
            if let Some((org, name, _)) = &self.profile {
                return (Some(*org), Some(name.clone()));
            }
        }
        let org = self.trust.as_ref().and_then(|t| t.org_of_node(node));
        let name = org.and_then(|o| self.trust.as_ref().and_then(|t| t.org(o)).map(|v| v.name));
        (org, name)
    }

    /// The conflicts of an artefact at `heads`, with their sides named.
    pub fn conflicts(
        &mut self,
        id: &ArtefactId,
        heads: Option<&[ChangeHash]>,
    ) -> Result<Vec<ConflictView>, EngineError> {
        let analysis = self.analysis(id, heads)?;
        let artefact = &self
            .docs
            .get(id)
            .ok_or_else(|| EngineError::NotFound(id.to_string()))?
            .artefact;
        let paths = taken_paths(&artefact.files(Some(&analysis.heads)), &analysis);
        Ok(self
            .views(&analysis, paths)
            .into_iter()
            .map(|(_, v)| v)
            .collect())
    }

    /// Every conflict of `analysis` named for people, with side-file names that are unique
    /// among themselves and `paths` (the tree at the analysis' heads): the one place they are
    /// chosen, so `show` names the same files a checkout gets.
    fn views<'a>(
        &self,
        analysis: &'a Analysis,
        mut paths: BTreeSet<String>,
    ) -> Vec<(&'a Conflict, ConflictView)> {
        analysis
            .conflicts()
            .map(|c| (c, self.view(c, &mut paths)))
            .collect()
    }

    fn view(&self, conflict: &Conflict, used: &mut BTreeSet<String>) -> ConflictView {
        let sides = conflict
            .sides
            .iter()
            .map(|side| {
                let (org, org_name) = self.org_of(side.author.as_ref());
                let who = match (&org_name, &org, &side.author) {
                    (Some(name), _, _) => name.clone(),
                    (None, Some(org), _) => org.to_string(),
                    (None, None, Some(key)) => format!("node {}", &key.to_hex()[..8]),
                    (None, None, None) => "unknown".to_string(),
                };
                // An organisation's name is another organisation's input: one line, bounded, so
                // that it cannot end a marker line or forge another.
                let who: String = who
                    .chars()
                    .map(|c| if c.is_control() { ' ' } else { c })
                    .take(80)
                    .collect();
                let label = format!("{who} {}", short_hash(&side.change));
                let beside = matches!(
                    conflict.kind,
                    ConflictKind::Binary
                        | ConflictKind::AddAdd
                        | ConflictKind::DeleteEdit
                        | ConflictKind::RenameEdit
                ) && side.version.is_present()
                    && side.version != conflict.shown;
                let file = beside.then(|| {
                    let slug = org_slug(&who);
                    let slug = if slug.is_empty() { "side".into() } else { slug };
                    let mut name = format!("{}.{slug}-{}", conflict.path, short_hash(&side.change));
                    let mut n = 2;
                    while used.contains(&name) {
                        name = format!("{}.{slug}-{}-{n}", conflict.path, short_hash(&side.change));
                        n += 1;
                    }
                    used.insert(name.clone());
                    name
                });
                SideView {
                    change: side.change,
                    node: side.author,
                    org,
                    org_name,
                    state: side.version.state(),
                    renamed_to: match &side.version {
                        Version::Renamed { to } => Some(to.clone()),
                        _ => None,
                    },
                    size: side.version.size(),
                    label,
                    file,
                }
            })
            .collect();
        ConflictView {
            path: conflict.path.clone(),
            kind: conflict.kind,
            base: conflict.base_heads.clone(),
            sides,
            regions: conflict.merge.as_ref().map_or(0, |m| m.conflicts()),
            omitted: conflict.omitted.clone(),
        }
    }

    /// Every file of an artefact at `heads` (current when `None`) as people get it: paths
    /// that concurrent changes merged hold the merge, a text conflict holds markers naming
    /// the sides, the other sides of other conflicts lie next to the conflicted file.
    pub fn presented(
        &mut self,
        id: &ArtefactId,
        heads: Option<&[ChangeHash]>,
    ) -> Result<Presented, EngineError> {
        let analysis = self.analysis(id, heads)?;
        let artefact = &self
            .docs
            .get(id)
            .ok_or_else(|| EngineError::NotFound(id.to_string()))?
            .artefact;
        let historical = analysis.heads != artefact.heads();
        match self.present(artefact, &analysis) {
            // Only the current version's contents (and its conflicts' sides) are fetched on
            // their own: an older version's content replaced before this node received the
            // artefact is fetched now, from the peers that hold the artefact.
            // Every content of that version this node lacks is asked for at once, not one per
            // attempt.
            Err(EngineError::MissingBlob { path, blob }) if historical => {
                let mut lacking = BTreeMap::new();
                for (hash, size) in version_blobs(artefact, &analysis).chain([(blob, 0)]) {
                    if !lacking.contains_key(&hash)
                        && !self.store.has_blob(&hash).map_err(store_err)?
                    {
                        lacking.insert(hash, size);
                    }
                }
                for (hash, size) in lacking {
                    let want = self.wanted.entry(hash).or_default();
                    want.size = want.size.max(size);
                    want.artefacts.insert(*id);
                }
                let peers: Vec<P> = self.connected.iter().cloned().collect();
                for peer in peers {
                    self.request_blobs_from(&peer);
                }
                if self.may_still_arrive(id, &blob) {
                    Err(EngineError::FetchingOld { path, blob })
                } else {
                    Err(EngineError::Missing(format!(
                        "the content of {path} at that version (blob {blob}): it was replaced before this node received the artefact, and no connected peer holds it; connect to a node that held it then (its publisher's, for one) and try again"
                    )))
                }
            }
            other => other,
        }
    }

    /// Whether a wanted blob of artefact `id` is being fetched, or some connected peer that
    /// holds the artefact has not yet said it lacks it.
    fn may_still_arrive(&self, id: &ArtefactId, blob: &BlobHash) -> bool {
        let in_flight = self
            .blob_requests
            .values()
            .flatten()
            .any(|batch| batch.contains(blob));
        in_flight
            || self.sources.get(id).is_some_and(|sources| {
                sources.iter().any(|p| {
                    self.connected.contains(p) && !self.lacks.contains(&(p.clone(), *blob))
                })
            })
    }

    /// [`Engine::presented`] for any artefact document (a copy with a proposal merged in, for
    /// example), with its analysis.
    pub(super) fn present(
        &self,
        artefact: &crate::artefact::Artefact,
        analysis: &Analysis,
    ) -> Result<Presented, EngineError> {
        let heads = analysis.heads.clone();
        let tree = artefact.files(Some(&heads));
        let paths = taken_paths(&tree, analysis);
        let views: BTreeMap<&str, ConflictView> = self
            .views(analysis, paths)
            .into_iter()
            .map(|(c, v)| (c.path.as_str(), v))
            .collect();
        let mut files: BTreeMap<String, FileData> = BTreeMap::new();
        for file in tree {
            if analysis.outcomes.contains_key(&file.path) {
                continue;
            }
            let content = self.content_of(artefact, &file, &heads)?;
            files.insert(
                file.path.clone(),
                FileData {
                    path: file.path,
                    content,
                    executable: file.executable,
                },
            );
        }
        let mut conflicts = Vec::new();
        for (path, outcome) in &analysis.outcomes {
            match outcome {
                Outcome::Merged(version) => {
                    if let Some(file) = self.version_file(path, version)? {
                        files.insert(path.clone(), file);
                    }
                }
                Outcome::Conflict(conflict) => {
                    let Some(view) = views.get(path.as_str()).cloned() else {
                        continue;
                    };
                    match (&conflict.kind, &conflict.merge) {
                        (ConflictKind::Text, Some(merge)) => {
                            let labels: Vec<String> =
                                view.sides.iter().map(|s| s.label.clone()).collect();
                            let base_label = format!(
                                "base {}",
                                conflict
                                    .base_heads
                                    .iter()
                                    .map(short_hash)
                                    .collect::<Vec<_>>()
                                    .join(" ")
                            );
                            files.insert(
                                path.clone(),
                                FileData {
                                    path: path.clone(),
                                    content: merge.render(&labels, &base_label).into_bytes(),
                                    executable: conflict.base.executable(),
                                },
                            );
                        }
                        _ => {
                            if let Some(file) = self.version_file(path, &conflict.shown)? {
                                files.insert(path.clone(), file);
                            }
                            for (side, shown) in conflict.sides.iter().zip(&view.sides) {
                                let Some(name) = &shown.file else { continue };
                                if let Some(mut file) = self.version_file(name, &side.version)? {
                                    file.path = name.clone();
                                    files.insert(name.clone(), file);
                                }
                            }
                        }
                    }
                    conflicts.push(view);
                }
            }
        }
        Ok(Presented {
            heads,
            files: files.into_values().collect(),
            conflicts,
        })
    }

    fn version_file(&self, path: &str, version: &Version) -> Result<Option<FileData>, EngineError> {
        Ok(match version {
            Version::Absent | Version::Renamed { .. } => None,
            Version::Text { text, executable } => Some(FileData {
                path: path.to_string(),
                content: text.clone().into_bytes(),
                executable: *executable,
            }),
            Version::Blob {
                hash, executable, ..
            } => {
                let content = self.store.get_blob(hash).map_err(store_err)?.ok_or(
                    EngineError::MissingBlob {
                        path: path.to_string(),
                        blob: *hash,
                    },
                )?;
                Some(FileData {
                    path: path.to_string(),
                    content,
                    executable: *executable,
                })
            }
        })
    }

    /// The paths whose conflicts at `base` a commit of `edits` resolves: the conflicts any of
    /// whose paths (the conflicted path, or where a side renamed it) the edits touch.
    pub(super) fn resolved_by_edits(
        &mut self,
        id: &ArtefactId,
        base: &[ChangeHash],
        edits: &[FileEdit],
    ) -> Result<BTreeSet<String>, EngineError> {
        let analysis = self.analysis(id, Some(base))?;
        let touched: Vec<&str> = edits
            .iter()
            .flat_map(|e| match e {
                FileEdit::Write { path, .. } | FileEdit::Delete { path } => vec![path.as_str()],
                FileEdit::Rename { from, to } => vec![from.as_str(), to.as_str()],
            })
            .collect();
        Ok(analysis
            .resolved_by(&touched)
            .into_iter()
            .map(|c| c.path.clone())
            .collect())
    }
}

/// The paths a side file must not take at the analysis' heads: the tree's, and those the
/// analysis decides (a delete/edit conflict shows a file the document no longer has).
fn taken_paths(tree: &[crate::artefact::FileEntry], analysis: &Analysis) -> BTreeSet<String> {
    tree.iter()
        .map(|f| f.path.clone())
        .chain(analysis.outcomes.keys().cloned())
        .collect()
}
