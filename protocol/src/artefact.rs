//! The artefact model: what a shared thing is, as an Automerge document.
//!
//! An artefact is one Automerge document holding its metadata (`meta`) and its file tree
//! (`files`: path → entry). File contents are content-addressed blobs until someone edits them as
//! text; then they become Automerge text created by a deterministic origin change (see `origin`),
//! so concurrent edits merge at character level while untouched files cost nothing but a hash.
//! Edits are always made *at the heads a checkout was taken from*, never at whatever the node has
//! now, so a commit can never undo a concurrent change it did not see.

pub mod conflict;
pub mod origin;
pub mod path;
pub mod versions;

use crate::blob::BlobHash;
use crate::identity::PublicKey;
use crate::signed::actor_key;
use crate::wire::Head;
use automerge::transaction::{CommitOptions, Transactable};
use automerge::{
    ActorId, Automerge, Change, ChangeHash, ObjId, ObjType, PatchLog, ReadDoc, ScalarValue, Value,
    ROOT,
};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeSet, HashMap, HashSet};
use std::fmt;
use std::str::FromStr;

/// Text files up to this size become Automerge text when edited; larger ones stay blobs.
pub const MAX_TEXT_BYTES: usize = 1024 * 1024;
/// Longest path accepted in an artefact.
pub const MAX_PATH_BYTES: usize = 1024;

const META: &str = "meta";
/// Metadata key marking an artefact restricted from its genesis on.
const RESTRICTED: &str = "restricted";
const FILES: &str = "files";

/// An artefact's id: the first 16 bytes of the hash of its genesis change.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ArtefactId(pub [u8; 16]);

impl ArtefactId {
    pub fn from_genesis(hash: &ChangeHash) -> Self {
        let mut id = [0u8; 16];
        id.copy_from_slice(&hash.0[..16]);
        ArtefactId(id)
    }

    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// True if `hash` is the genesis change this id was derived from.
    pub fn is_genesis(&self, hash: &ChangeHash) -> bool {
        hash.0[..16] == self.0
    }
}

impl fmt::Display for ArtefactId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for ArtefactId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ArtefactId({})", &self.to_hex()[..8])
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("not an artefact id (32 hex digits expected): {0:?}")]
pub struct ParseArtefactIdError(pub String);

impl FromStr for ArtefactId {
    type Err = ParseArtefactIdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut out = [0u8; 16];
        hex::decode_to_slice(s, &mut out).map_err(|_| ParseArtefactIdError(s.to_string()))?;
        Ok(ArtefactId(out))
    }
}

/// What an artefact is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Code,
    Integration,
    Process,
    Datamodel,
    Dpia,
    Ros,
    Procurement,
    Experience,
    Dataset,
    Guide,
}

impl Kind {
    pub const ALL: [Kind; 10] = [
        Kind::Code,
        Kind::Integration,
        Kind::Process,
        Kind::Datamodel,
        Kind::Dpia,
        Kind::Ros,
        Kind::Procurement,
        Kind::Experience,
        Kind::Dataset,
        Kind::Guide,
    ];

    pub fn as_str(&self) -> &'static str {
        match self {
            Kind::Code => "code",
            Kind::Integration => "integration",
            Kind::Process => "process",
            Kind::Datamodel => "datamodel",
            Kind::Dpia => "dpia",
            Kind::Ros => "ros",
            Kind::Procurement => "procurement",
            Kind::Experience => "experience",
            Kind::Dataset => "dataset",
            Kind::Guide => "guide",
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("unknown artefact kind {0:?} (expected one of: code, integration, process, datamodel, dpia, ros, procurement, experience, dataset, guide)")]
pub struct ParseKindError(pub String);

impl FromStr for Kind {
    type Err = ParseKindError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let lower = s.to_ascii_lowercase();
        Kind::ALL
            .into_iter()
            .find(|k| k.as_str() == lower)
            .ok_or_else(|| ParseKindError(s.to_string()))
    }
}

/// Descriptive fields of an artefact. Read leniently: a document from a peer may lack fields.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Metadata {
    pub title: String,
    /// The kind as written; unknown kinds from newer peers are kept, not rejected.
    pub kind: String,
    pub description: String,
    pub tags: Vec<String>,
    /// Organisation number of the publishing organisation.
    pub owner: String,
    pub owner_name: String,
    /// Seconds since the Unix epoch, by the publisher's clock.
    pub created: i64,
}

/// One row of the artefact listing, kept current by the engine so that listing needs no
/// document loads.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArtefactSummary {
    pub id: ArtefactId,
    pub title: String,
    pub kind: String,
    pub owner: String,
    pub owner_name: String,
    pub heads: Vec<Head>,
    pub files: usize,
    pub size: u64,
    /// Time of the newest change (seconds since the epoch, by its author's clock).
    pub updated: i64,
    /// False while some blob contents are missing.
    pub complete: bool,
    /// Bytes of file content present on this node (equals `size` when complete).
    #[serde(default)]
    pub present: u64,
    /// Files in conflict at the current heads (see [`conflict`]).
    #[serde(default)]
    pub conflicts: usize,
}

/// Where a file's bytes are.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FileContent {
    Blob { hash: BlobHash, size: u64 },
    Text { key: String, obj: ObjId },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileEntry {
    pub path: String,
    pub content: FileContent,
    pub executable: bool,
}

/// A new file for `Artefact::genesis`; its blob is already stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewFile {
    pub path: String,
    pub blob: BlobHash,
    pub size: u64,
    pub executable: bool,
}

/// An edit made in a checkout, relative to the heads it was checked out at.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FileEdit {
    Write {
        path: String,
        content: Vec<u8>,
        executable: bool,
    },
    Delete {
        path: String,
    },
    Rename {
        from: String,
        to: String,
    },
}

/// What an edit produced: origin changes it needed (unsigned, recomputable) and the signed change.
#[derive(Debug)]
pub struct EditOutcome {
    pub origins: Vec<(Change, String, BlobHash)>,
    /// `None` when the edits changed nothing.
    pub change: Option<Change>,
}

#[derive(Debug, thiserror::Error)]
pub enum ArtefactError {
    /// Boxed: automerge's error is large, and this error travels in every `Result`.
    #[error(transparent)]
    Automerge(Box<automerge::AutomergeError>),
    #[error(transparent)]
    Origin(#[from] origin::OriginError),
    #[error(transparent)]
    Path(#[from] path::PathError),
    #[error("no file {0:?} in the artefact")]
    NoSuchFile(String),
    #[error("the document has no genesis change for artefact {0}")]
    NoGenesis(ArtefactId),
    #[error("unknown heads: {0:?}")]
    UnknownHeads(Vec<ChangeHash>),
}

/// The owner organisation number written in `doc`'s metadata at `heads`: read at the genesis,
/// it is the real owner (later edits to the metadata cannot move an artefact to another
/// organisation).
pub fn owner_at(doc: &Automerge, heads: &[ChangeHash]) -> Option<String> {
    let meta = match doc.get_at(ROOT, META, heads) {
        Ok(Some((Value::Object(ObjType::Map), meta))) => meta,
        _ => return None,
    };
    match doc.get_at(&meta, "owner", heads) {
        Ok(Some((Value::Scalar(s), _))) => s.as_str().map(str::to_string),
        _ => None,
    }
}

/// Whether `doc`'s metadata at `heads` marks the artefact restricted. Read at the genesis, it
/// says whether the artefact was born restricted (its publisher's signed intent).
pub fn restricted_at(doc: &Automerge, heads: &[ChangeHash]) -> bool {
    let meta = match doc.get_at(ROOT, META, heads) {
        Ok(Some((Value::Object(ObjType::Map), meta))) => meta,
        _ => return false,
    };
    matches!(
        doc.get_at(&meta, RESTRICTED, heads),
        Ok(Some((Value::Scalar(s), _))) if matches!(s.as_ref(), ScalarValue::Boolean(true))
    )
}

impl From<automerge::AutomergeError> for ArtefactError {
    fn from(e: automerge::AutomergeError) -> Self {
        ArtefactError::Automerge(Box::new(e))
    }
}

/// A change's operations, expanded. Automerge validated them when it loaded the change; should
/// expanding them still trip over something, that is the peer's fault, not a reason to take
/// the node down: `None`.
pub(crate) fn expand(change: &Change) -> Option<automerge::ExpandedChange> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| change.decode())).ok()
}

/// Checks that a path from a user or a peer is a plain relative path that cannot escape a
/// checkout directory and can be a file on every platform: the rule of [`path::validate_path`].
pub fn validate_path(path: &str) -> Result<(), ArtefactError> {
    Ok(path::validate_path(path)?)
}

/// An artefact's document, with the operations the engine needs.
#[derive(Debug, Clone)]
pub struct Artefact {
    pub id: ArtefactId,
    pub doc: Automerge,
}

impl Artefact {
    /// Creates a new artefact: one change that writes the metadata and the file tree.
    /// `restricted`: the artefact is shared only with the organisations its access list names.
    /// It is recorded in the genesis itself, so that every node knows it from the first change
    /// it receives, whatever order the access list arrives in, and fails closed without one.
    pub fn genesis(
        meta: &Metadata,
        files: &[NewFile],
        actor: ActorId,
        time: i64,
        message: &str,
        restricted: bool,
    ) -> Result<(Artefact, Change), ArtefactError> {
        path::check_tree(files.iter().map(|f| f.path.as_str()))?;
        let mut doc = Automerge::new().with_actor(actor);
        doc.transact_with(
            |_| {
                CommitOptions::default()
                    .with_time(time)
                    .with_message(message.to_string())
            },
            |tx| {
                let m = tx.put_object(ROOT, META, ObjType::Map)?;
                tx.put(&m, "title", meta.title.as_str())?;
                tx.put(&m, "kind", meta.kind.as_str())?;
                tx.put(&m, "description", meta.description.as_str())?;
                let tags = tx.put_object(&m, "tags", ObjType::List)?;
                for (i, tag) in meta.tags.iter().enumerate() {
                    tx.insert(&tags, i, tag.as_str())?;
                }
                tx.put(&m, "owner", meta.owner.as_str())?;
                tx.put(&m, "owner_name", meta.owner_name.as_str())?;
                tx.put(&m, "created", meta.created)?;
                if restricted {
                    tx.put(&m, RESTRICTED, true)?;
                }
                let f = tx.put_object(ROOT, FILES, ObjType::Map)?;
                for file in files {
                    put_blob_entry(tx, &f, &file.path, &file.blob, file.size, file.executable)?;
                }
                Ok::<_, automerge::AutomergeError>(())
            },
        )
        .map_err(|failure| failure.error)?;
        let change = doc
            .get_changes(&[])
            .into_iter()
            .next()
            .ok_or(automerge::AutomergeError::Fail)?;
        let id = ArtefactId::from_genesis(&change.hash());
        Ok((Artefact { id, doc }, change))
    }

    pub fn heads(&self) -> Vec<ChangeHash> {
        self.doc.get_heads()
    }

    /// Reads the metadata at the current heads.
    pub fn metadata(&self) -> Metadata {
        let str_of = |obj: &ObjId, key: &str| match self.doc.get(obj, key) {
            Ok(Some((Value::Scalar(s), _))) => match s.as_ref() {
                ScalarValue::Str(s) => s.to_string(),
                _ => String::new(),
            },
            _ => String::new(),
        };
        let Some(meta) = self.map_obj(&ROOT, META, None) else {
            return Metadata {
                title: String::new(),
                kind: String::new(),
                description: String::new(),
                tags: Vec::new(),
                owner: String::new(),
                owner_name: String::new(),
                created: 0,
            };
        };
        let tags = match self.doc.get(&meta, "tags") {
            Ok(Some((Value::Object(ObjType::List), list))) => (0..self.doc.length(&list))
                .filter_map(|i| match self.doc.get(&list, i) {
                    Ok(Some((Value::Scalar(s), _))) => match s.as_ref() {
                        ScalarValue::Str(s) => Some(s.to_string()),
                        _ => None,
                    },
                    _ => None,
                })
                .collect(),
            _ => Vec::new(),
        };
        let created = match self.doc.get(&meta, "created") {
            Ok(Some((Value::Scalar(s), _))) => s.as_i64().unwrap_or(0),
            _ => 0,
        };
        Metadata {
            title: str_of(&meta, "title"),
            kind: str_of(&meta, "kind"),
            description: str_of(&meta, "description"),
            tags,
            owner: str_of(&meta, "owner"),
            owner_name: str_of(&meta, "owner_name"),
            created,
        }
    }

    fn map_obj(&self, parent: &ObjId, key: &str, heads: Option<&[ChangeHash]>) -> Option<ObjId> {
        let got = match heads {
            Some(h) => self.doc.get_at(parent, key, h),
            None => self.doc.get(parent, key),
        };
        match got {
            Ok(Some((Value::Object(ObjType::Map), obj))) => Some(obj),
            _ => None,
        }
    }

    /// The file tree at `heads` (the current heads when `None`), sorted by path. Entries that a
    /// peer wrote malformed, or whose paths are unsafe, are skipped.
    pub fn files(&self, heads: Option<&[ChangeHash]>) -> Vec<FileEntry> {
        let heads = self.historical(heads);
        let Some(files) = self.map_obj(&ROOT, FILES, heads) else {
            return Vec::new();
        };
        let keys: Vec<String> = match heads {
            Some(h) => self.doc.keys_at(&files, h).collect(),
            None => self.doc.keys(&files).collect(),
        };
        let mut out = Vec::with_capacity(keys.len());
        for path in keys {
            if validate_path(&path).is_err() {
                continue;
            }
            let Some(entry) = self.map_obj(&files, &path, heads) else {
                continue;
            };
            if let Some(file) = self.read_entry(&path, &entry, heads) {
                out.push(file);
            }
        }
        out
    }

    /// `heads` if they name a past state, `None` if they are the current heads: reading the
    /// current state is much cheaper than reading at heads, which rebuilds a clock per lookup.
    fn historical<'a>(&self, heads: Option<&'a [ChangeHash]>) -> Option<&'a [ChangeHash]> {
        let heads = heads?;
        let mut sorted = heads.to_vec();
        sorted.sort();
        sorted.dedup();
        if sorted == self.doc.get_heads() {
            None
        } else {
            Some(heads)
        }
    }

    /// The entry for one path at `heads` (the current heads when `None`).
    pub fn entry(&self, path: &str, heads: Option<&[ChangeHash]>) -> Option<FileEntry> {
        validate_path(path).ok()?;
        let heads = self.historical(heads);
        let files = self.map_obj(&ROOT, FILES, heads)?;
        let entry = self.map_obj(&files, path, heads)?;
        self.read_entry(path, &entry, heads)
    }

    fn scalar(&self, obj: &ObjId, key: &str, heads: Option<&[ChangeHash]>) -> Option<ScalarValue> {
        let got = match heads {
            Some(h) => self.doc.get_at(obj, key, h),
            None => self.doc.get(obj, key),
        };
        match got {
            Ok(Some((Value::Scalar(s), _))) => Some(s.into_owned()),
            _ => None,
        }
    }

    fn read_entry(
        &self,
        path: &str,
        entry: &ObjId,
        heads: Option<&[ChangeHash]>,
    ) -> Option<FileEntry> {
        let executable = matches!(
            self.scalar(entry, "exec", heads),
            Some(ScalarValue::Boolean(true))
        );
        if let Some(ScalarValue::Str(key)) = self.scalar(entry, "text", heads) {
            let got = match heads {
                Some(h) => self.doc.get_at(ROOT, key.as_str(), h),
                None => self.doc.get(ROOT, key.as_str()),
            };
            if let Ok(Some((Value::Object(ObjType::Text), obj))) = got {
                return Some(FileEntry {
                    path: path.to_string(),
                    content: FileContent::Text {
                        key: key.to_string(),
                        obj,
                    },
                    executable,
                });
            }
        }
        let hash = match self.scalar(entry, "blob", heads) {
            Some(ScalarValue::Str(hex)) => hex.parse().ok()?,
            _ => return None,
        };
        let size = match self.scalar(entry, "size", heads) {
            Some(ScalarValue::Uint(n)) => n,
            Some(ScalarValue::Int(n)) => u64::try_from(n).unwrap_or(0),
            _ => 0,
        };
        Some(FileEntry {
            path: path.to_string(),
            content: FileContent::Blob { hash, size },
            executable,
        })
    }

    /// The text of a co-edited file at `heads`.
    pub fn text(&self, obj: &ObjId, heads: Option<&[ChangeHash]>) -> Result<String, ArtefactError> {
        Ok(match self.historical(heads) {
            Some(h) => self.doc.text_at(obj, h)?,
            None => self.doc.text(obj)?,
        })
    }

    /// Size in bytes of a file's content at `heads`.
    pub fn file_size(&self, file: &FileEntry, heads: Option<&[ChangeHash]>) -> u64 {
        match &file.content {
            FileContent::Blob { size, .. } => *size,
            FileContent::Text { obj, .. } => {
                self.text(obj, heads).map(|t| t.len() as u64).unwrap_or(0)
            }
        }
    }

    /// Checks that all of `heads` are in the document.
    pub fn check_heads(&self, heads: &[ChangeHash]) -> Result<(), ArtefactError> {
        let unknown: Vec<ChangeHash> = heads
            .iter()
            .filter(|h| self.doc.get_change_by_hash(h).is_none())
            .copied()
            .collect();
        if unknown.is_empty() {
            Ok(())
        } else {
            Err(ArtefactError::UnknownHeads(unknown))
        }
    }

    /// Applies `edits`, made by someone who saw the artefact at `base`, as one change by `actor`.
    /// `blob_text` returns the UTF-8 text of a stored blob (for files edited as text the first
    /// time). Concurrent changes the editor did not see are untouched.
    pub fn edit(
        &mut self,
        base: &[ChangeHash],
        edits: &[FileEdit],
        actor: ActorId,
        time: i64,
        message: &str,
        blob_text: impl Fn(&BlobHash) -> Option<String>,
    ) -> Result<EditOutcome, ArtefactError> {
        self.edit_resolving(
            base,
            edits,
            &BTreeSet::new(),
            actor,
            time,
            message,
            blob_text,
        )
    }

    /// [`Artefact::edit`] that also resolves the conflicts on the paths in `resolve` (conflicted
    /// at `base`): each is marked in the `resolved` map, so that the change is the path's only
    /// file head even when it writes no byte; a file written there gets a fresh entry when the
    /// sides left several (a binary or add/add conflict), and deleting one the document no
    /// longer holds (a delete/edit conflict shows the edited file) is allowed.
    #[allow(clippy::too_many_arguments)]
    pub fn edit_resolving(
        &mut self,
        base: &[ChangeHash],
        edits: &[FileEdit],
        resolve: &BTreeSet<String>,
        actor: ActorId,
        time: i64,
        message: &str,
        blob_text: impl Fn(&BlobHash) -> Option<String>,
    ) -> Result<EditOutcome, ArtefactError> {
        self.check_heads(base)?;
        // Only the entries the edits touch are read at the base.
        let at_base: HashMap<String, FileEntry> = edits
            .iter()
            .flat_map(|e| match e {
                FileEdit::Write { path, .. } | FileEdit::Delete { path } => vec![path.as_str()],
                FileEdit::Rename { from, to } => vec![from.as_str(), to.as_str()],
            })
            .filter_map(|path| self.entry(path, Some(base)).map(|f| (path.to_string(), f)))
            .collect();
        let renamed_to: HashMap<&str, &str> = edits
            .iter()
            .filter_map(|e| match e {
                FileEdit::Rename { from, to } => Some((to.as_str(), from.as_str())),
                _ => None,
            })
            .collect();

        // Pass 1: decide how each write lands, creating the origin texts it needs.
        let mut origins = Vec::new();
        let mut plans: Vec<WritePlan> = Vec::new();
        for edit in edits {
            match edit {
                FileEdit::Write {
                    path,
                    content,
                    executable,
                } => {
                    validate_path(path)?;
                    let source = renamed_to.get(path.as_str()).copied().unwrap_or(path);
                    if let Some(before) = at_base.get(source) {
                        if before.executable == *executable
                            && self.same_content(before, content, base)
                        {
                            // Unchanged (or a pure rename, which the Rename edit carries).
                            continue;
                        }
                    }
                    let as_text = std::str::from_utf8(content)
                        .ok()
                        .filter(|t| t.len() <= MAX_TEXT_BYTES);
                    let plan = match (at_base.get(source).map(|f| &f.content), as_text) {
                        (Some(FileContent::Text { key, .. }), Some(text)) => WritePlan::Text {
                            path: path.clone(),
                            key: key.clone(),
                            text: text.to_string(),
                            executable: *executable,
                        },
                        (Some(FileContent::Blob { hash, .. }), Some(text)) => match blob_text(hash)
                        {
                            Some(old) if old.len() <= MAX_TEXT_BYTES => {
                                let change = origin::origin_change(source, hash, &old)?;
                                let key = origin::text_key(source, hash);
                                origins.push((change, source.to_string(), *hash));
                                WritePlan::Text {
                                    path: path.clone(),
                                    key,
                                    text: text.to_string(),
                                    executable: *executable,
                                }
                            }
                            _ => WritePlan::Blob {
                                path: path.clone(),
                                content: content.clone(),
                                executable: *executable,
                            },
                        },
                        _ => WritePlan::Blob {
                            path: path.clone(),
                            content: content.clone(),
                            executable: *executable,
                        },
                    };
                    plans.push(plan);
                }
                FileEdit::Delete { path } => {
                    if !at_base.contains_key(path) && !resolve.contains(path) {
                        return Err(ArtefactError::NoSuchFile(path.clone()));
                    }
                }
                FileEdit::Rename { from, to } => {
                    validate_path(to)?;
                    if !at_base.contains_key(from) {
                        return Err(ArtefactError::NoSuchFile(from.clone()));
                    }
                }
            }
        }
        self.check_edit_paths(base, edits)?;
        let mut deps = base.to_vec();
        for (change, _, _) in &origins {
            deps.push(change.hash());
        }
        self.doc.apply_changes(
            origins
                .iter()
                .map(|(c, _, _)| c.clone())
                .collect::<Vec<_>>(),
        )?;
        deps.sort();
        deps.dedup();

        // Pass 2: one isolated transaction at the base (plus origins) with every edit.
        self.doc.set_actor(actor);
        let files_obj = self.map_obj(&ROOT, FILES, Some(base));
        let mut tx = self
            .doc
            .transaction_at(PatchLog::inactive(), &deps)
            .map_err(|_| automerge::AutomergeError::Fail)?;
        let files_obj = match files_obj {
            Some(obj) => obj,
            None => tx.put_object(ROOT, FILES, ObjType::Map)?,
        };
        // Paths where the sides of a conflict left several entries: a write replaces them all.
        let mut several: HashSet<&str> = HashSet::new();
        for path in resolve {
            if tx.get_all(&files_obj, path.as_str())?.len() > 1 {
                several.insert(path.as_str());
            }
        }
        for edit in edits {
            match edit {
                FileEdit::Delete { path } => {
                    if at_base.contains_key(path) {
                        tx.delete(&files_obj, path.as_str())?
                    }
                }
                FileEdit::Rename { from, to } => {
                    if let Some(file) = at_base.get(from) {
                        put_entry(&mut tx, &files_obj, to, file)?;
                        tx.delete(&files_obj, from.as_str())?;
                    }
                }
                FileEdit::Write { .. } => {}
            }
        }
        for plan in &plans {
            match plan {
                WritePlan::Text {
                    path,
                    key,
                    text,
                    executable,
                } => {
                    let entry = match tx.get(&files_obj, path.as_str())? {
                        Some((Value::Object(ObjType::Map), e))
                            if !several.contains(path.as_str()) =>
                        {
                            e
                        }
                        _ => tx.put_object(&files_obj, path.as_str(), ObjType::Map)?,
                    };
                    let current_key = match tx.get(&entry, "text")? {
                        Some((Value::Scalar(s), _)) => s.as_str().map(str::to_string),
                        _ => None,
                    };
                    if current_key.as_deref() != Some(key.as_str()) {
                        tx.put(&entry, "text", key.as_str())?;
                    }
                    set_exec(&mut tx, &entry, *executable)?;
                    if let Some((Value::Object(ObjType::Text), obj)) = tx.get(ROOT, key.as_str())? {
                        tx.update_text(&obj, text)?;
                    }
                }
                WritePlan::Blob {
                    path,
                    content,
                    executable,
                } => {
                    let hash = BlobHash::of(content);
                    let unchanged = matches!(at_base.get(path).map(|f| (&f.content, f.executable)),
                        Some((FileContent::Blob { hash: h, .. }, x)) if *h == hash && x == *executable);
                    if !unchanged || several.contains(path.as_str()) {
                        put_blob_entry(
                            &mut tx,
                            &files_obj,
                            path,
                            &hash,
                            content.len() as u64,
                            *executable,
                        )?;
                    }
                }
            }
        }
        if !resolve.is_empty() {
            let marks = match tx.get(ROOT, conflict::RESOLVED)? {
                Some((Value::Object(ObjType::Map), m)) => m,
                _ => tx.put_object(ROOT, conflict::RESOLVED, ObjType::Map)?,
            };
            for path in resolve {
                tx.put(&marks, path.as_str(), time)?;
            }
        }
        let (hash, _) = tx.commit_with(
            CommitOptions::default()
                .with_time(time)
                .with_message(message.to_string()),
        );
        let change = hash.and_then(|h| self.doc.get_change_by_hash(&h));
        Ok(EditOutcome { origins, change })
    }

    /// The tree rule for an edit, as [`path::check_change_paths`] will judge the change: the
    /// paths it adds (written or renamed to, and not in the tree at `base`) must be valid and
    /// clash with nothing the tree keeps.
    fn check_edit_paths(
        &self,
        base: &[ChangeHash],
        edits: &[FileEdit],
    ) -> Result<(), ArtefactError> {
        let before: HashSet<String> = match self.map_obj(&ROOT, FILES, Some(base)) {
            Some(files) => self.doc.keys_at(&files, base).collect(),
            None => HashSet::new(),
        };
        let mut put: HashSet<&str> = HashSet::new();
        let mut deleted: HashSet<&str> = HashSet::new();
        for edit in edits {
            match edit {
                FileEdit::Write { path, .. } => {
                    put.insert(path);
                }
                FileEdit::Delete { path } => {
                    deleted.insert(path);
                }
                FileEdit::Rename { from, to } => {
                    deleted.insert(from);
                    put.insert(to);
                }
            }
        }
        let mut added: Vec<&str> = put
            .iter()
            .copied()
            .filter(|p| !before.contains(*p))
            .collect();
        added.sort_unstable();
        let kept = before
            .iter()
            .map(String::as_str)
            .filter(|p| !deleted.contains(p) || put.contains(p));
        Ok(path::check_added(kept, added)?)
    }

    fn same_content(&self, file: &FileEntry, content: &[u8], heads: &[ChangeHash]) -> bool {
        match &file.content {
            FileContent::Blob { hash, .. } => BlobHash::of(content) == *hash,
            FileContent::Text { obj, .. } => self
                .text(obj, Some(heads))
                .map(|t| t.as_bytes() == content)
                .unwrap_or(false),
        }
    }

    /// Change history, newest first: (change, author key) for signed changes; origins skipped.
    pub fn history(&self) -> Vec<(Change, PublicKey)> {
        let mut out: Vec<(Change, PublicKey)> = self
            .doc
            .get_changes(&[])
            .into_iter()
            .filter_map(|c| actor_key(c.actor_id()).map(|k| (c, k)))
            .collect();
        out.reverse();
        out
    }
}

enum WritePlan {
    Text {
        path: String,
        key: String,
        text: String,
        executable: bool,
    },
    Blob {
        path: String,
        content: Vec<u8>,
        executable: bool,
    },
}

fn set_exec<T: Transactable>(
    tx: &mut T,
    entry: &ObjId,
    executable: bool,
) -> Result<(), automerge::AutomergeError> {
    let current = matches!(tx.get(entry, "exec")?, Some((Value::Scalar(s), _)) if matches!(s.as_ref(), ScalarValue::Boolean(true)));
    if current != executable {
        tx.put(entry, "exec", executable)?;
    }
    Ok(())
}

fn put_blob_entry<T: Transactable>(
    tx: &mut T,
    files: &ObjId,
    path: &str,
    blob: &BlobHash,
    size: u64,
    executable: bool,
) -> Result<(), automerge::AutomergeError> {
    let entry = tx.put_object(files, path, ObjType::Map)?;
    tx.put(&entry, "blob", blob.to_hex())?;
    tx.put(&entry, "size", size)?;
    if executable {
        tx.put(&entry, "exec", true)?;
    }
    Ok(())
}

fn put_entry<T: Transactable>(
    tx: &mut T,
    files: &ObjId,
    path: &str,
    file: &FileEntry,
) -> Result<(), automerge::AutomergeError> {
    match &file.content {
        FileContent::Blob { hash, size } => {
            put_blob_entry(tx, files, path, hash, *size, file.executable)
        }
        FileContent::Text { key, .. } => {
            let entry = tx.put_object(files, path, ObjType::Map)?;
            tx.put(&entry, "text", key.as_str())?;
            if file.executable {
                tx.put(&entry, "exec", true)?;
            }
            Ok(())
        }
    }
}
