//! Checkouts: an artefact's files in a plain directory, editable with any tool.
//!
//! A checkout is a directory holding the files plus `.allmenning/checkout.json`, the manifest
//! of what the node had at `base_heads`:
//!
//! ```json
//! {"id": "…", "base_heads": ["…"], "files": {"README.md": {"blake3": "…", "executable": false}},
//!  "home": {"path": "/home/kari/.local/share/allmenning", "public_key": "…"},
//!  "displaced": {"readme.md": "readme.md.clash-1"}}
//! ```
//!
//! Comparing the working tree with the manifest tells what was edited locally (`status`);
//! comparing the node's current files with the manifest tells what changed remotely (`pull`).
//! Text files of the base are also cached under `.allmenning/base/` so that `diff` works without
//! a running node.
//!
//! A checkout is a place where the CLI writes files and from which it publishes them, so:
//!
//! * it is only found in the user's own directories: looking for the manifest from the working
//!   directory upwards stops at a directory that is not the user's or that everyone may write
//!   to (`/tmp`), at `$HOME` and at the root, so a `.allmenning/` planted in `/tmp` never makes
//!   `commit` publish `/tmp`;
//! * it belongs to one node: the manifest records the home (canonical path and the node's public
//!   key) it was checked out with, and `status`, `diff`, `commit` and `pull` refuse it with
//!   another home. Manifests from before this was recorded are accepted with a warning and bound
//!   to the home that next commits or pulls;
//! * paths come from the protocol's one rule (`allmenning_protocol::artefact::path`), and files
//!   are only written by creating directories one by one and refusing any symbolic link on the
//!   way, so nothing is ever written outside the checkout; a link where a file goes is replaced;
//! * files whose paths clash in a merged tree (`README.md` and `readme.md`, added concurrently)
//!   are placed by the protocol's `disk_layout` (`readme.md.clash-1`), and the manifest's
//!   `displaced` map says where, so such a copy is read back as the artefact's `readme.md`, never
//!   as a new file.
//!
//! Everything here is plain file-system work: no node is needed, which keeps it unit-testable.

use crate::walk::{self, WalkOptions};
use allmenning_protocol::artefact::path::{self as rule, DiskLayout, Displaced, PathError};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

/// The metadata directory of a checkout.
pub const META_DIR: &str = ".allmenning";
/// The manifest, inside [`META_DIR`].
pub const MANIFEST_FILE: &str = "checkout.json";
/// Cached base copies of text files, inside [`META_DIR`], named by a hash of their path.
pub const BASE_DIR: &str = "base";
/// Where files being moved aside wait, inside [`META_DIR`].
const MOVING_DIR: &str = "moving";

/// A file as the manifest records it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileEntry {
    /// Hex BLAKE3 hash of the content.
    pub blake3: String,
    pub executable: bool,
}

impl FileEntry {
    pub fn of(content: &[u8], executable: bool) -> Self {
        FileEntry {
            blake3: blake3::hash(content).to_hex().to_string(),
            executable,
        }
    }
}

/// Path → entry, sorted by path.
pub type Tree = BTreeMap<String, FileEntry>;

/// The node home a checkout belongs to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HomeBinding {
    /// The home directory, canonical.
    pub path: String,
    /// The node's public key (hex).
    pub public_key: String,
}

/// `.allmenning/checkout.json`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// The artefact's full id.
    pub id: String,
    /// The heads (hex change hashes) the files were taken at.
    pub base_heads: Vec<String>,
    /// The files the node had at `base_heads`.
    pub files: Tree,
    /// The home this checkout belongs to; `None` in checkouts made before it was recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub home: Option<HomeBinding>,
    /// Files not at their own path in the working tree (artefact path → path on disk), because
    /// their paths clash with others in a merged tree.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub displaced: BTreeMap<String, String>,
    /// Files of the base in conflict (as the node decided at `base_heads`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conflicts: Vec<ConflictNote>,
    /// Files written next to conflicted ones with another side's content (not artefact files):
    /// path → what was written.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub sides: Tree,
}

/// A conflicted file as a checkout remembers it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConflictNote {
    pub path: String,
    /// "text", "binary", "add/add", "delete/edit", "rename/rename" or "rename/edit".
    pub kind: String,
    /// The sides as markers name them (organisation and short change hash).
    pub sides: Vec<String>,
    /// Files next to it holding other sides.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<String>,
    /// Where sides renamed it to.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub renamed_to: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum WorkdirError {
    #[error(
        "{dir} is not inside a checkout (no {META_DIR}/{MANIFEST_FILE} there or in a parent){note}"
    )]
    NotACheckout { dir: PathBuf, note: String },
    #[error("refusing this path: {0}")]
    BadPath(#[from] PathError),
    #[error("{dir} is not empty")]
    NotEmpty { dir: PathBuf },
    #[error("cannot read the manifest {path}: {message}")]
    Manifest { path: PathBuf, message: String },
    #[error(
        "the checkout {root} belongs to the node with home {} (key {}), not to this one (home {}, key {}); run the command with --home {} (or ALLMENNING_HOME), or check the artefact out afresh with this home",
        .theirs.path, short_key(&.theirs.public_key), .ours.path, short_key(&.ours.public_key), .theirs.path
    )]
    OtherHome {
        root: PathBuf,
        theirs: HomeBinding,
        ours: HomeBinding,
    },
    #[error(
        "{path} is a symbolic link: the checkout never writes or deletes through one (it could lead outside the checkout); replace it with a real folder, or remove it, and run the command again"
    )]
    Symlink { path: PathBuf },
    #[error("{path} is in the way: a folder is needed there, but it is something else")]
    NotAFolder { path: PathBuf },
    #[error(
        "{path} is in the way: the checkout needs that name for {wanted}, but the file there is not one it tracks; move it away and run the command again"
    )]
    Occupied { path: PathBuf, wanted: String },
    #[error(
        "{disk} on disk is the name of the artefact's {path}, which this checkout keeps at {kept_at} (its name clashes with another file); move {disk} away or give it another name"
    )]
    Stray {
        disk: String,
        path: String,
        kept_at: String,
    },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Walk(#[from] walk::WalkError),
}

fn short_key(key: &str) -> &str {
    key.get(..16).unwrap_or(key)
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> WorkdirError + '_ {
    move |source| WorkdirError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Checks a path received from a node (and so, maybe, from a hostile peer) or found in a
/// directory, before it is used to name a file: the protocol's one rule.
pub fn validate_path(path: &str) -> Result<(), WorkdirError> {
    Ok(rule::validate_path(path)?)
}

/// A rename: a deleted file whose content reappeared under another name.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rename {
    pub from: String,
    pub to: String,
}

/// How a working tree differs from its base.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Changes {
    pub modified: Vec<String>,
    pub added: Vec<String>,
    pub deleted: Vec<String>,
    pub renamed: Vec<Rename>,
}

impl Changes {
    pub fn is_empty(&self) -> bool {
        self.modified.is_empty()
            && self.added.is_empty()
            && self.deleted.is_empty()
            && self.renamed.is_empty()
    }

    /// Every path touched by a change (both sides of a rename).
    pub fn touched(&self) -> BTreeSet<&str> {
        let mut set: BTreeSet<&str> = BTreeSet::new();
        set.extend(self.modified.iter().map(String::as_str));
        set.extend(self.added.iter().map(String::as_str));
        set.extend(self.deleted.iter().map(String::as_str));
        for r in &self.renamed {
            set.insert(&r.from);
            set.insert(&r.to);
        }
        set
    }

    /// The paths the changes bring into the artefact: added files and rename targets.
    pub fn new_paths(&self) -> Vec<&str> {
        let mut out: Vec<&str> = self.added.iter().map(String::as_str).collect();
        out.extend(self.renamed.iter().map(|r| r.to.as_str()));
        out.sort_unstable();
        out
    }
}

/// Checks the paths a commit would bring into the artefact against the protocol's rule (valid,
/// and no clash with the rest of the working tree), before anything is sent: the node and every
/// peer would refuse them anyway.
pub fn check_new_paths(changes: &Changes, work: &Tree) -> Result<(), WorkdirError> {
    let added = changes.new_paths();
    let new: HashSet<&str> = added.iter().copied().collect();
    let kept = work.keys().map(String::as_str).filter(|p| !new.contains(p));
    Ok(rule::check_added(kept, added)?)
}

/// Compares a working tree with its base. A deleted file and an added file with identical
/// content form a rename (paired in path order when several share a content).
pub fn compare(base: &Tree, work: &Tree) -> Changes {
    let mut changes = Changes::default();
    for (path, entry) in work {
        match base.get(path) {
            None => changes.added.push(path.clone()),
            Some(old) if old != entry => changes.modified.push(path.clone()),
            Some(_) => {}
        }
    }
    let deleted: Vec<&String> = base.keys().filter(|p| !work.contains_key(*p)).collect();
    // content hash → added paths with that content, in path order
    let mut added_by_hash: BTreeMap<&str, Vec<&String>> = BTreeMap::new();
    for path in &changes.added {
        added_by_hash
            .entry(work[path].blake3.as_str())
            .or_default()
            .push(path);
    }
    let mut renamed_to = BTreeSet::new();
    for path in deleted {
        let candidates = added_by_hash.get_mut(base[path].blake3.as_str());
        match candidates.and_then(|c| {
            if c.is_empty() {
                None
            } else {
                Some(c.remove(0))
            }
        }) {
            Some(to) => {
                renamed_to.insert(to.clone());
                changes.renamed.push(Rename {
                    from: path.clone(),
                    to: to.clone(),
                });
            }
            None => changes.deleted.push(path.clone()),
        }
    }
    changes.added.retain(|p| !renamed_to.contains(p));
    changes
}

/// What `pull` does to the working tree.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PullPlan {
    /// Changed or added remotely, not edited locally: written with the remote content.
    pub write: Vec<String>,
    /// Deleted remotely, not edited locally: removed.
    pub delete: Vec<String>,
    /// Edited locally *and* changed remotely, differently: the pull is refused.
    pub conflicts: Vec<String>,
}

/// The pull rule. A path changed remotely (its remote entry differs from the base) is taken
/// from the remote unless it was also changed locally; when both sides changed it, the pull is
/// only allowed if both arrived at the same content, otherwise the path is a conflict.
pub fn plan_pull(base: &Tree, work: &Tree, remote: &Tree) -> PullPlan {
    let mut plan = PullPlan::default();
    let paths: BTreeSet<&String> = base
        .keys()
        .chain(work.keys())
        .chain(remote.keys())
        .collect();
    for path in paths {
        let (b, w, r) = (base.get(path), work.get(path), remote.get(path));
        if r == b {
            continue; // not changed remotely: whatever was done locally stays
        }
        if w == b {
            match r {
                Some(_) => plan.write.push(path.clone()),
                None => plan.delete.push(path.clone()),
            }
        } else if w != r {
            plan.conflicts.push(path.clone());
        }
    }
    plan
}

/// Paths whose working copy differs from the base: local edits (modified, added, deleted; a
/// rename is its two sides), in path order: what [`compare`] finds, as paths.
pub fn local_edits(base: &Tree, work: &Tree) -> Vec<String> {
    compare(base, work)
        .touched()
        .into_iter()
        .map(str::to_string)
        .collect()
}

/// `pull --discard`: the working tree becomes the node's `remote` files exactly. Every path
/// whose working copy differs from the remote is written, every path the remote lacks is
/// removed (local additions too); nothing is a conflict.
pub fn discard_plan(work: &Tree, remote: &Tree) -> PullPlan {
    let mut plan = PullPlan::default();
    for (path, entry) in remote {
        if work.get(path) != Some(entry) {
            plan.write.push(path.clone());
        }
    }
    for path in work.keys() {
        if !remote.contains_key(path) {
            plan.delete.push(path.clone());
        }
    }
    plan
}

/// An open checkout.
#[derive(Clone, Debug)]
pub struct Checkout {
    pub root: PathBuf,
    pub manifest: Manifest,
}

/// Whether a file's content is text that `diff` can show and the base cache keeps.
pub fn is_text(content: &[u8]) -> bool {
    !content.contains(&0) && std::str::from_utf8(content).is_ok()
}

/// The user id this process runs as.
fn current_uid() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}

/// Why the search for a checkout may not look at `dir` (canonical), if it may not: a directory
/// of another user, or one everyone may write to, could hold a manifest anyone planted.
fn untrusted(dir: &Path, uid: u32) -> Option<String> {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let meta = match fs::metadata(dir) {
        Ok(meta) => meta,
        Err(e) => return Some(format!("it cannot be read ({e})")),
    };
    if meta.uid() != uid {
        return Some("it belongs to another user".into());
    }
    if meta.permissions().mode() & 0o002 != 0 {
        return Some("everyone may write to it".into());
    }
    None
}

/// Where `disk` (a '/'-separated relative path) is under `base`.
fn join_rel(base: &Path, disk: &str) -> PathBuf {
    disk.split('/')
        .fold(base.to_path_buf(), |p, part| p.join(part))
}

/// Whether anything named exactly `name` is in `dir` (see [`file_named_exactly`]).
fn name_exists_exactly(dir: &Path, name: &str) -> bool {
    fs::read_dir(dir).is_ok_and(|entries| {
        entries
            .flatten()
            .any(|e| e.file_name().to_str() == Some(name))
    })
}

/// Whether a regular file (not a link) named exactly `name` is in `dir`. On case-insensitive
/// file systems a plain lookup of `README.md` also finds `readme.md`; this does not.
fn file_named_exactly(dir: &Path, name: &str) -> bool {
    let Ok(entries) = fs::read_dir(dir) else {
        return false;
    };
    entries
        .flatten()
        .any(|e| e.file_name().to_str() == Some(name) && e.file_type().is_ok_and(|t| t.is_file()))
}

impl Checkout {
    /// The checkout containing `start` (itself or the nearest parent with a manifest). The
    /// search only looks at the user's own directories that others may not write to, and stops
    /// at `$HOME` and at the root.
    pub fn find(start: &Path) -> Result<Checkout, WorkdirError> {
        let home = std::env::var_os("HOME").and_then(|h| fs::canonicalize(h).ok());
        Checkout::find_within(start, current_uid(), home.as_deref())
    }

    /// [`Checkout::find`] for the user `uid` whose home directory is `home`.
    pub fn find_within(
        start: &Path,
        uid: u32,
        home: Option<&Path>,
    ) -> Result<Checkout, WorkdirError> {
        let not_found = |note: String| WorkdirError::NotACheckout {
            dir: start.to_path_buf(),
            note,
        };
        let start_abs = match fs::canonicalize(start) {
            Ok(path) => path,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(not_found(String::new()))
            }
            Err(e) => {
                return Err(WorkdirError::Io {
                    path: start.to_path_buf(),
                    source: e,
                })
            }
        };
        let mut dir = Some(start_abs.as_path());
        while let Some(d) = dir {
            if let Some(why) = untrusted(d, uid) {
                return Err(not_found(format!(
                    "; the search stopped at {} because {why}, so a checkout there is not used",
                    d.display()
                )));
            }
            if d.join(META_DIR).join(MANIFEST_FILE).is_file() {
                return Checkout::open(d);
            }
            if Some(d) == home {
                break;
            }
            dir = d.parent();
        }
        Err(not_found(String::new()))
    }

    /// The checkout rooted at `root`.
    pub fn open(root: &Path) -> Result<Checkout, WorkdirError> {
        let path = root.join(META_DIR).join(MANIFEST_FILE);
        let text = match fs::read(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(WorkdirError::NotACheckout {
                    dir: root.to_path_buf(),
                    note: String::new(),
                })
            }
            Err(e) => return Err(WorkdirError::Io { path, source: e }),
        };
        let manifest: Manifest =
            serde_json::from_slice(&text).map_err(|e| WorkdirError::Manifest {
                path: path.clone(),
                message: e.to_string(),
            })?;
        for p in manifest.files.keys() {
            validate_path(p)?;
        }
        for (p, disk) in &manifest.displaced {
            validate_path(p)?;
            validate_path(disk)?;
        }
        Ok(Checkout {
            root: root.to_path_buf(),
            manifest,
        })
    }

    /// Checks that this checkout belongs to the home described by `ours`. A checkout that does
    /// not say (made before homes were recorded) is taken as this home's, bound to it at the
    /// next save, and a warning to show is returned.
    pub fn check_home(&mut self, ours: &HomeBinding) -> Result<Option<String>, WorkdirError> {
        match &self.manifest.home {
            Some(theirs) if theirs == ours => Ok(None),
            Some(theirs) => Err(WorkdirError::OtherHome {
                root: self.root.clone(),
                theirs: theirs.clone(),
                ours: ours.clone(),
            }),
            None => {
                self.manifest.home = Some(ours.clone());
                Ok(Some(format!(
                    "the checkout {} does not record which node it belongs to (it was made by an older allmenning); it is used with home {}, and bound to it at the next commit or pull",
                    self.root.display(),
                    ours.path
                )))
            }
        }
    }

    /// Creates a checkout in `root` (which must be missing or empty) from `files`.
    /// Every path is validated before anything is written; files whose paths clash are placed
    /// by the protocol's disk layout (see [`Checkout::displaced`]).
    pub fn create(
        root: &Path,
        id: &str,
        heads: &[String],
        files: &[(String, Vec<u8>, bool)],
    ) -> Result<Checkout, WorkdirError> {
        Checkout::create_for(root, id, heads, files, None)
    }

    /// [`Checkout::create`] for the node of `home`.
    pub fn create_for(
        root: &Path,
        id: &str,
        heads: &[String],
        files: &[(String, Vec<u8>, bool)],
        home: Option<HomeBinding>,
    ) -> Result<Checkout, WorkdirError> {
        for (path, _, _) in files {
            validate_path(path)?;
        }
        ensure_empty_dir(root)?;
        let layout = rule::disk_layout(files.iter().map(|(p, _, _)| p.as_str()));
        let mut checkout = Checkout {
            root: root.to_path_buf(),
            manifest: Manifest {
                id: id.to_string(),
                base_heads: heads.to_vec(),
                files: Tree::new(),
                home,
                displaced: displaced_map(&layout),
                conflicts: Vec::new(),
                sides: Tree::new(),
            },
        };
        for (path, content, executable) in files {
            checkout.write_file(path, content, *executable)?;
            checkout.set_base(path, Some((content, *executable)))?;
        }
        checkout.save()?;
        Ok(checkout)
    }

    /// The files of the base that are not at their own path (their paths clash with others),
    /// in path order, with what they clash with: for warnings.
    pub fn displaced(&self) -> Vec<Displaced> {
        rule::disk_layout(self.manifest.files.keys().map(String::as_str))
            .displaced()
            .iter()
            .filter(|d| self.manifest.displaced.get(&d.path) == Some(&d.disk))
            .cloned()
            .collect()
    }

    pub fn meta_dir(&self) -> PathBuf {
        self.root.join(META_DIR)
    }

    /// Where the artefact's `path` is in the working tree, relative to the root.
    pub fn disk_path<'a>(&'a self, path: &'a str) -> &'a str {
        self.manifest
            .displaced
            .get(path)
            .map(String::as_str)
            .unwrap_or(path)
    }

    /// Where the artefact's `path` lives in the working tree (call [`validate_path`] first for
    /// remote paths).
    pub fn file_path(&self, path: &str) -> PathBuf {
        join_rel(&self.root, self.disk_path(path))
    }

    /// The base cache of `path`: named by a hash of the path, so that paths that clash (or a
    /// file and a folder of one name) never collide there.
    fn base_path(&self, path: &str) -> PathBuf {
        let name = blake3::hash(path.as_bytes()).to_hex();
        self.meta_dir().join(BASE_DIR).join(&name[..32])
    }

    /// Where older versions kept the base cache of `path`.
    fn legacy_base_path(&self, path: &str) -> PathBuf {
        join_rel(&self.meta_dir().join(BASE_DIR), path)
    }

    /// Writes the manifest atomically.
    pub fn save(&self) -> Result<(), WorkdirError> {
        let meta = self.meta_dir();
        fs::create_dir_all(&meta).map_err(io(&meta))?;
        let text =
            serde_json::to_vec_pretty(&self.manifest).map_err(|e| WorkdirError::Manifest {
                path: meta.join(MANIFEST_FILE),
                message: e.to_string(),
            })?;
        let tmp = meta.join(format!("{MANIFEST_FILE}.tmp"));
        fs::write(&tmp, text).map_err(io(&tmp))?;
        let target = meta.join(MANIFEST_FILE);
        fs::rename(&tmp, &target).map_err(io(&target))
    }

    /// Reads the working tree: the walked files plus every tracked file that exists even if an
    /// ignore rule would hide it (tracked files are never ignored). Files are named by their
    /// artefact paths: a displaced copy (`readme.md.clash-1`) is the artefact's `readme.md`, and
    /// on a case-insensitive file system a tracked file found under another letter case is
    /// that file. Returns the entries and the contents, read once.
    pub fn scan(&self) -> Result<(Tree, BTreeMap<String, Vec<u8>>), WorkdirError> {
        let walked: Vec<String> = walk::walk(&self.root, WalkOptions::default())?
            .into_iter()
            .map(|f| f.path)
            .collect();
        let walked_set: HashSet<&str> = walked.iter().map(String::as_str).collect();
        // Tracked files by where they are on disk, exactly and by fold key.
        let mut by_disk: HashMap<&str, &str> = HashMap::new();
        let mut by_fold: HashMap<String, &str> = HashMap::new();
        for path in self.manifest.files.keys() {
            let disk = self.disk_path(path);
            by_disk.insert(disk, path);
            by_fold.insert(rule::fold_key(disk), path);
        }
        // artefact path → disk path: tracked files where the manifest puts them first, then
        // the rest.
        let mut found: BTreeMap<String, String> = BTreeMap::new();
        let mut rest: Vec<&String> = Vec::new();
        for disk in &walked {
            match by_disk.get(disk.as_str()) {
                Some(path) => {
                    found.insert((*path).to_string(), disk.clone());
                }
                None => rest.push(disk),
            }
        }
        for disk in rest {
            let path = match by_fold.get(&rule::fold_key(disk)) {
                // The file system gave a tracked file's name in another letter case.
                Some(path)
                    if !walked_set.contains(self.disk_path(path)) && !found.contains_key(*path) =>
                {
                    (*path).to_string()
                }
                _ => disk.clone(),
            };
            if let Some(kept_at) = found.get(&path) {
                // A new file under the name of a tracked file kept elsewhere.
                return Err(WorkdirError::Stray {
                    disk: disk.clone(),
                    path,
                    kept_at: kept_at.clone(),
                });
            }
            found.insert(path, disk.clone());
        }
        for path in self.manifest.files.keys() {
            if !found.contains_key(path) {
                found.insert(path.clone(), self.disk_path(path).to_string());
            }
        }
        let mut tree = Tree::new();
        let mut contents = BTreeMap::new();
        for (path, disk) in found {
            if let Some((content, executable)) = self.read_disk(&disk)? {
                tree.insert(path.clone(), FileEntry::of(&content, executable));
                contents.insert(path, content);
            }
        }
        Ok((tree, contents))
    }

    /// A regular file of the working tree, or `None` when it does not exist (or is not a file,
    /// or is reached through a symbolic link).
    pub fn read_file(&self, path: &str) -> Result<Option<(Vec<u8>, bool)>, WorkdirError> {
        self.read_disk(self.disk_path(path))
    }

    fn read_disk(&self, disk: &str) -> Result<Option<(Vec<u8>, bool)>, WorkdirError> {
        let Some(parent) = self.existing_parent(disk)? else {
            return Ok(None);
        };
        let name = disk.rsplit('/').next().unwrap_or(disk);
        let abs = parent.join(name);
        let meta = match fs::symlink_metadata(&abs) {
            Ok(meta) => meta,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) if e.raw_os_error() == Some(libc::ENOTDIR) => return Ok(None),
            Err(e) => {
                return Err(WorkdirError::Io {
                    path: abs,
                    source: e,
                })
            }
        };
        if !meta.is_file() {
            return Ok(None);
        }
        let content = fs::read(&abs).map_err(io(&abs))?;
        Ok(Some((content, walk::is_executable(&meta))))
    }

    /// The folder holding `disk` if every folder on the way exists as a real folder; `None` if
    /// one is missing, is not a folder, or is a symbolic link (what is behind one is not part
    /// of the checkout).
    fn existing_parent(&self, disk: &str) -> Result<Option<PathBuf>, WorkdirError> {
        let mut dir = self.root.clone();
        let parts: Vec<&str> = disk.split('/').collect();
        for part in &parts[..parts.len().saturating_sub(1)] {
            dir.push(part);
            match fs::symlink_metadata(&dir) {
                Ok(meta) if meta.is_dir() => {}
                Ok(_) => return Ok(None),
                Err(e)
                    if e.kind() == std::io::ErrorKind::NotFound
                        || e.raw_os_error() == Some(libc::ENOTDIR) =>
                {
                    return Ok(None)
                }
                Err(e) => {
                    return Err(WorkdirError::Io {
                        path: dir,
                        source: e,
                    })
                }
            }
        }
        Ok(Some(dir))
    }

    /// Checks that writing at `disk` would go through no symbolic link: every existing folder
    /// on the way is a real folder. Creates nothing.
    fn check_writable(&self, disk: &str) -> Result<(), WorkdirError> {
        let mut dir = self.root.clone();
        let parts: Vec<&str> = disk.split('/').collect();
        for part in &parts[..parts.len().saturating_sub(1)] {
            dir.push(part);
            match fs::symlink_metadata(&dir) {
                Ok(meta) if meta.file_type().is_symlink() => {
                    return Err(WorkdirError::Symlink { path: dir })
                }
                Ok(meta) if meta.is_dir() => {}
                Ok(_) => return Err(WorkdirError::NotAFolder { path: dir }),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
                Err(e) => {
                    return Err(WorkdirError::Io {
                        path: dir,
                        source: e,
                    })
                }
            }
        }
        Ok(())
    }

    /// The folder for `disk`, creating missing folders one by one and refusing any symbolic
    /// link on the way.
    fn make_parent(&self, disk: &str) -> Result<PathBuf, WorkdirError> {
        let mut dir = self.root.clone();
        let parts: Vec<&str> = disk.split('/').collect();
        for part in &parts[..parts.len().saturating_sub(1)] {
            dir.push(part);
            match fs::symlink_metadata(&dir) {
                Ok(meta) if meta.file_type().is_symlink() => {
                    return Err(WorkdirError::Symlink { path: dir })
                }
                Ok(meta) if meta.is_dir() => {}
                Ok(_) => return Err(WorkdirError::NotAFolder { path: dir }),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    match fs::create_dir(&dir) {
                        Ok(()) => {}
                        // Made by someone else meanwhile: look at it again.
                        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                            let meta = fs::symlink_metadata(&dir).map_err(io(&dir))?;
                            if meta.file_type().is_symlink() {
                                return Err(WorkdirError::Symlink { path: dir });
                            }
                            if !meta.is_dir() {
                                return Err(WorkdirError::NotAFolder { path: dir });
                            }
                        }
                        Err(e) => {
                            return Err(WorkdirError::Io {
                                path: dir,
                                source: e,
                            })
                        }
                    }
                }
                Err(e) => {
                    return Err(WorkdirError::Io {
                        path: dir,
                        source: e,
                    })
                }
            }
        }
        Ok(dir)
    }

    /// The working tree's artefact files: [`Checkout::scan`]'s entries without the conflict
    /// side files (they are not the user's additions; see [`Checkout::sides_present`]).
    pub fn work_tree(&self) -> Result<Tree, WorkdirError> {
        Ok(self.scan_work()?.0)
    }

    /// [`Checkout::scan`] without the conflict side files: the user's files and their contents.
    pub fn scan_work(&self) -> Result<(Tree, BTreeMap<String, Vec<u8>>), WorkdirError> {
        let (mut tree, mut contents) = self.scan()?;
        for path in self.manifest.sides.keys() {
            tree.remove(path);
            contents.remove(path);
        }
        Ok((tree, contents))
    }

    /// How the working tree differs from its base: the local changes since the base, conflict
    /// side files not among them.
    pub fn status(&self) -> Result<Changes, WorkdirError> {
        Ok(compare(&self.manifest.files, &self.work_tree()?))
    }

    /// Conflict side files still in the working tree.
    pub fn sides_present(&self) -> Result<Vec<String>, WorkdirError> {
        let (tree, _) = self.scan()?;
        Ok(self
            .manifest
            .sides
            .keys()
            .filter(|p| tree.contains_key(*p))
            .cloned()
            .collect())
    }

    /// Writes the artefact's `path` where the manifest's layout puts it, creating its folders
    /// one by one. Never writes through a symbolic link: a link on the way is refused, and a
    /// link (or anything else) at the file's own place is replaced, as the content goes to a
    /// fresh file that is renamed over it.
    pub fn write_file(
        &self,
        path: &str,
        content: &[u8],
        executable: bool,
    ) -> Result<(), WorkdirError> {
        validate_path(path)?;
        let disk = self.disk_path(path).to_string();
        validate_path(&disk)?;
        let parent = self.make_parent(&disk)?;
        let name = disk.rsplit('/').next().unwrap_or(&disk);
        let abs = parent.join(name);
        if fs::symlink_metadata(&abs).is_ok_and(|m| m.is_dir()) {
            return Err(WorkdirError::NotAFolder { path: abs });
        }
        static WRITES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = WRITES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let tmp = parent.join(format!(".alm-{}-{n}.tmp", std::process::id()));
        let _ = fs::remove_file(&tmp);
        let written = (|| {
            let mut file = fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&tmp)?;
            file.write_all(content)?;
            drop(file);
            walk::set_executable(&tmp, executable)?;
            fs::rename(&tmp, &abs)
        })();
        if let Err(e) = written {
            let _ = fs::remove_file(&tmp);
            return Err(WorkdirError::Io {
                path: abs,
                source: e,
            });
        }
        Ok(())
    }

    /// Removes the artefact's `path` from the working tree (if present) and the folders it
    /// leaves empty. Refuses to delete through a symbolic link.
    pub fn remove_file(&self, path: &str) -> Result<(), WorkdirError> {
        validate_path(path)?;
        let disk = self.disk_path(path).to_string();
        self.check_writable(&disk)?;
        let abs = join_rel(&self.root, &disk);
        match fs::remove_file(&abs) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) if e.raw_os_error() == Some(libc::ENOTDIR) => {}
            Err(e) => {
                return Err(WorkdirError::Io {
                    path: abs,
                    source: e,
                })
            }
        }
        remove_empty_parents(&abs, &self.root);
        Ok(())
    }

    /// Records `path` in the manifest (`None`: removes it) and keeps the base cache in step.
    pub fn set_base(
        &mut self,
        path: &str,
        content: Option<(&[u8], bool)>,
    ) -> Result<(), WorkdirError> {
        let cached = self.base_path(path);
        let legacy = self.legacy_base_path(path);
        if legacy.is_file() {
            let _ = fs::remove_file(&legacy);
            remove_empty_parents(&legacy, &self.meta_dir().join(BASE_DIR));
        }
        match content {
            Some((content, executable)) => {
                self.manifest
                    .files
                    .insert(path.to_string(), FileEntry::of(content, executable));
                if is_text(content) {
                    if let Some(parent) = cached.parent() {
                        fs::create_dir_all(parent).map_err(io(parent))?;
                    }
                    fs::write(&cached, content).map_err(io(&cached))?;
                } else {
                    remove_if_present(&cached)?;
                }
            }
            None => {
                self.manifest.files.remove(path);
                self.manifest.displaced.remove(path);
                remove_if_present(&cached)?;
            }
        }
        Ok(())
    }

    /// The base content of a text file from the cache, if cached and intact.
    pub fn cached_base(&self, path: &str) -> Option<Vec<u8>> {
        let entry = self.manifest.files.get(path)?;
        [self.base_path(path), self.legacy_base_path(path)]
            .into_iter()
            .filter_map(|p| fs::read(p).ok())
            .find(|content| blake3::hash(content).to_hex().as_str() == entry.blake3)
    }

    /// Plans a pull against the node's current `remote` files. Files that exist on disk where a
    /// remote path would be written but were not seen by the scan (ignored, untracked) count as
    /// local edits, so that a pull never overwrites them silently.
    pub fn plan_pull(&self, work: &Tree, remote: &Tree) -> Result<PullPlan, WorkdirError> {
        let layout = rule::disk_layout(remote.keys().map(String::as_str));
        let mut work = work.clone();
        for path in remote.keys() {
            validate_path(path)?;
            if work.contains_key(path) {
                continue;
            }
            let disk = if self.manifest.files.contains_key(path) {
                self.disk_path(path)
            } else {
                layout.disk_path(path)
            };
            let Some(parent) = self.existing_parent(disk)? else {
                continue;
            };
            let name = disk.rsplit('/').next().unwrap_or(disk);
            if file_named_exactly(&parent, name) {
                if let Some((content, executable)) = self.read_disk(disk)? {
                    work.insert(path.clone(), FileEntry::of(&content, executable));
                }
            }
        }
        Ok(plan_pull(&self.manifest.files, &work, remote))
    }

    /// Carries out a pull `plan` (without conflicts) towards the node's `remote` files:
    /// deletions, files moved to where the new tree's layout puts them, then writes. Every
    /// place written is checked for symbolic links before anything changes. The manifest's
    /// files and layout become the remote's; the caller sets the heads and saves.
    pub fn apply_pull(
        &mut self,
        plan: &PullPlan,
        remote: &Tree,
        contents: &BTreeMap<String, (Vec<u8>, bool)>,
    ) -> Result<(), WorkdirError> {
        let layout = rule::disk_layout(remote.keys().map(String::as_str));
        let deleted: HashSet<&str> = plan.delete.iter().map(String::as_str).collect();
        let moves = self.plan_moves(&layout, |p| remote.contains_key(p) && !deleted.contains(p))?;
        for path in &plan.delete {
            self.check_writable(self.disk_path(path))?;
        }
        for path in &plan.write {
            self.check_writable(layout.disk_path(path))?;
        }
        for path in &plan.delete {
            self.remove_file(path)?;
        }
        self.execute_moves(moves)?;
        // The new base: the remote files, in the new layout.
        let stale: Vec<String> = self
            .manifest
            .files
            .keys()
            .filter(|p| !remote.contains_key(*p))
            .cloned()
            .collect();
        for path in stale {
            self.set_base(&path, None)?;
        }
        self.manifest.displaced = displaced_map(&layout);
        for path in &plan.write {
            if let Some((content, executable)) = contents.get(path) {
                self.write_file(path, content, *executable)?;
            }
        }
        for (path, entry) in remote {
            if self.manifest.files.get(path) != Some(entry) {
                if let Some((content, executable)) = contents.get(path) {
                    self.set_base(path, Some((content, *executable)))?;
                }
            }
        }
        Ok(())
    }

    /// After the base changed (a commit): moves files whose place in the layout of the new
    /// base differs from where they are, and records the new layout.
    pub fn relayout(&mut self) -> Result<(), WorkdirError> {
        let layout = rule::disk_layout(self.manifest.files.keys().map(String::as_str));
        let files = self.manifest.files.clone();
        let moves = self.plan_moves(&layout, |p| files.contains_key(p))?;
        self.execute_moves(moves)?;
        self.manifest.displaced = displaced_map(&layout);
        Ok(())
    }

    /// The moves that bring the tracked files that `keep` keeps, and that exist on disk, to
    /// where `layout` puts them. Refused before anything moves when a target holds a file
    /// that is not itself moving away, or a link is on the way.
    fn plan_moves(
        &self,
        layout: &DiskLayout,
        keep: impl Fn(&str) -> bool,
    ) -> Result<Vec<(String, String)>, WorkdirError> {
        let mut moves = Vec::new();
        for path in self.manifest.files.keys() {
            if !keep(path) {
                continue;
            }
            let from = self.disk_path(path);
            let to = layout.disk_path(path);
            if from == to {
                continue;
            }
            let Some(parent) = self.existing_parent(from)? else {
                continue;
            };
            let name = from.rsplit('/').next().unwrap_or(from);
            if file_named_exactly(&parent, name) {
                moves.push((from.to_string(), to.to_string()));
            }
        }
        let leaving: HashSet<&str> = moves.iter().map(|(from, _)| from.as_str()).collect();
        for (_, to) in &moves {
            self.check_writable(to)?;
            if leaving.contains(to.as_str()) {
                continue;
            }
            let taken = match self.existing_parent(to)? {
                Some(parent) => name_exists_exactly(&parent, to.rsplit('/').next().unwrap_or(to)),
                None => false,
            };
            if taken {
                return Err(WorkdirError::Occupied {
                    path: join_rel(&self.root, to),
                    wanted: to.clone(),
                });
            }
        }
        Ok(moves)
    }

    /// Moves files in two steps, through `.allmenning/moving/`, so that moves that swap or
    /// chain names (and names that differ only in case) never overwrite each other.
    fn execute_moves(&self, moves: Vec<(String, String)>) -> Result<(), WorkdirError> {
        if moves.is_empty() {
            return Ok(());
        }
        let moving = self.meta_dir().join(MOVING_DIR);
        fs::create_dir_all(&moving).map_err(io(&moving))?;
        let mut staged = Vec::with_capacity(moves.len());
        for (i, (from, to)) in moves.into_iter().enumerate() {
            let src = join_rel(&self.root, &from);
            let wait = moving.join(i.to_string());
            fs::rename(&src, &wait).map_err(io(&src))?;
            remove_empty_parents(&src, &self.root);
            staged.push((wait, to));
        }
        for (wait, to) in staged {
            let parent = self.make_parent(&to)?;
            let dest = parent.join(to.rsplit('/').next().unwrap_or(&to));
            fs::rename(&wait, &dest).map_err(io(&dest))?;
        }
        let _ = fs::remove_dir(&moving);
        Ok(())
    }
}

/// The displaced files of `layout`, as the manifest records them.
fn displaced_map(layout: &DiskLayout) -> BTreeMap<String, String> {
    layout
        .displaced()
        .iter()
        .map(|d| (d.path.clone(), d.disk.clone()))
        .collect()
}

/// The warning for a displaced file: what happened and what to do.
pub fn displaced_warning(d: &Displaced) -> String {
    displaced_text(&d.path, &d.disk, &d.clashes_with)
}

/// [`displaced_warning`] from its parts.
pub fn displaced_text(path: &str, disk: &str, clashes_with: &str) -> String {
    format!(
        "{path} is written as {disk} because its name clashes with {clashes_with} (both are in the artefact, added by concurrent changes, and Windows and macOS cannot hold both); rename one of them, e.g. `mv {disk} NEW-NAME`, and commit"
    )
}

fn remove_if_present(path: &Path) -> Result<(), WorkdirError> {
    match fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(WorkdirError::Io {
            path: path.to_path_buf(),
            source: e,
        }),
    }
}

/// Removes the now-empty directories between `file` and `stop` (exclusive).
fn remove_empty_parents(file: &Path, stop: &Path) {
    let mut dir = file.parent();
    while let Some(d) = dir {
        if d == stop || !d.starts_with(stop) || fs::remove_dir(d).is_err() {
            break;
        }
        dir = d.parent();
    }
}

/// Creates `dir` if missing; fails if it exists and is not an empty directory.
pub fn ensure_empty_dir(dir: &Path) -> Result<(), WorkdirError> {
    match fs::read_dir(dir) {
        Ok(mut entries) => {
            if entries.next().is_some() {
                return Err(WorkdirError::NotEmpty {
                    dir: dir.to_path_buf(),
                });
            }
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            fs::create_dir_all(dir).map_err(io(dir))
        }
        Err(e) => Err(WorkdirError::Io {
            path: dir.to_path_buf(),
            source: e,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(content: &str) -> FileEntry {
        FileEntry::of(content.as_bytes(), false)
    }

    fn tree(items: &[(&str, &str)]) -> Tree {
        items
            .iter()
            .map(|(p, c)| (p.to_string(), entry(c)))
            .collect()
    }

    fn sample(dir: &Path) -> Checkout {
        let files = vec![
            ("README.md".to_string(), b"# Hei\n".to_vec(), false),
            (
                "prosess/soknad.bpmn".to_string(),
                b"<bpmn/>\n".to_vec(),
                false,
            ),
            (
                "bin/run.sh".to_string(),
                b"#!/bin/sh\necho hei\n".to_vec(),
                true,
            ),
            (
                "logo.png".to_string(),
                vec![0x89, b'P', b'N', b'G', 0, 1, 2],
                false,
            ),
        ];
        Checkout::create(&dir.join("co"), "abc123", &["h1".to_string()], &files).unwrap()
    }

    #[test]
    fn path_validation_rejects_hostile_paths() {
        for bad in [
            "../x",
            "a/../../x",
            "/etc/passwd",
            ".allmenning/x",
            ".allmenning",
            ".Allmenning/checkout.json",
            "docs/.allmenning/x",
            "",
            "a//b",
            "a/",
            "./a",
            "a\\..\\b",
            "C:/windows",
            ".git/hooks/post-checkout",
            "sub/.git/config",
            "a\0b",
        ] {
            assert!(validate_path(bad).is_err(), "{bad:?} should be refused");
        }
        for good in ["README.md", "a/b/c.txt", ".gitignore", "x..y", ".env"] {
            assert!(validate_path(good).is_ok(), "{good:?} should be accepted");
        }
    }

    #[test]
    fn compare_finds_modified_added_deleted() {
        let base = tree(&[("a", "1"), ("b", "2"), ("c", "3")]);
        let work = tree(&[("a", "1"), ("b", "22"), ("d", "4")]);
        let changes = compare(&base, &work);
        assert_eq!(changes.modified, ["b"]);
        assert_eq!(changes.added, ["d"]);
        assert_eq!(changes.deleted, ["c"]);
        assert!(changes.renamed.is_empty());
    }

    #[test]
    fn compare_counts_an_executable_bit_change_as_modified() {
        let base = tree(&[("run.sh", "x")]);
        let mut work = base.clone();
        work.get_mut("run.sh").unwrap().executable = true;
        assert_eq!(compare(&base, &work).modified, ["run.sh"]);
    }

    #[test]
    fn compare_pairs_identical_delete_and_add_as_rename() {
        let base = tree(&[
            ("old.md", "same"),
            ("gone.md", "gone"),
            ("x1", "dup"),
            ("x2", "dup"),
        ]);
        let work = tree(&[
            ("new.md", "same"),
            ("other.md", "different"),
            ("y1", "dup"),
            ("x2", "dup"),
        ]);
        let changes = compare(&base, &work);
        assert_eq!(
            changes.renamed,
            [
                Rename {
                    from: "old.md".into(),
                    to: "new.md".into()
                },
                Rename {
                    from: "x1".into(),
                    to: "y1".into()
                },
            ]
        );
        assert_eq!(changes.added, ["other.md"]);
        assert_eq!(changes.deleted, ["gone.md"]);
        assert!(changes.modified.is_empty());
    }

    #[test]
    fn pull_takes_remote_changes_to_untouched_files() {
        let base = tree(&[("a", "1"), ("b", "2"), ("c", "3")]);
        let work = tree(&[("a", "1 local"), ("b", "2"), ("c", "3"), ("new", "n")]);
        let remote = tree(&[("a", "1"), ("b", "2 remote"), ("r", "added remotely")]);
        let plan = plan_pull(&base, &work, &remote);
        assert_eq!(plan.write, ["b", "r"]);
        assert_eq!(plan.delete, ["c"]);
        assert!(plan.conflicts.is_empty());
    }

    #[test]
    fn pull_refuses_files_edited_on_both_sides() {
        let base = tree(&[("a", "1"), ("b", "2"), ("c", "3"), ("d", "4")]);
        // a: edited on both sides, differently → conflict
        // b: edited on both sides to the same content → fine, nothing to write
        // c: deleted locally, edited remotely → conflict
        // d: edited locally, deleted remotely → conflict
        // e: added on both sides, differently → conflict
        let work = tree(&[
            ("a", "1 local"),
            ("b", "same"),
            ("d", "4 local"),
            ("e", "mine"),
        ]);
        let remote = tree(&[
            ("a", "1 remote"),
            ("b", "same"),
            ("c", "3 remote"),
            ("e", "theirs"),
        ]);
        let plan = plan_pull(&base, &work, &remote);
        assert_eq!(plan.conflicts, ["a", "c", "d", "e"]);
        assert!(plan.write.is_empty());
        assert!(plan.delete.is_empty());
    }

    #[test]
    fn pull_treats_a_local_rename_of_a_remotely_edited_file_as_conflict() {
        let base = tree(&[("a", "1")]);
        let work = tree(&[("b", "1")]);
        let remote = tree(&[("a", "1 remote")]);
        assert_eq!(plan_pull(&base, &work, &remote).conflicts, ["a"]);
    }

    #[test]
    fn checkout_create_writes_files_manifest_and_base_cache() {
        let dir = tempfile::tempdir().unwrap();
        let co = sample(dir.path());
        assert_eq!(
            std::fs::read(co.root.join("README.md")).unwrap(),
            b"# Hei\n"
        );
        assert!(co.root.join(".allmenning/checkout.json").is_file());
        let reopened = Checkout::find(&co.root.join("prosess")).unwrap();
        assert_eq!(reopened.manifest, co.manifest);
        assert_eq!(reopened.manifest.files.len(), 4);
        assert!(reopened.manifest.files["bin/run.sh"].executable);
        assert_eq!(reopened.cached_base("README.md").unwrap(), b"# Hei\n");
        assert!(
            reopened.cached_base("logo.png").is_none(),
            "binary files are not cached"
        );
        assert!(reopened.status().unwrap().is_empty());
    }

    #[test]
    fn checkout_create_refuses_hostile_paths_before_writing_anything() {
        let dir = tempfile::tempdir().unwrap();
        for hostile in ["../escape", "/etc/passwd", ".allmenning/checkout.json"] {
            let root = dir.path().join("co");
            let files = vec![
                ("ok.txt".to_string(), b"fine".to_vec(), false),
                (hostile.to_string(), b"evil".to_vec(), false),
            ];
            let err = Checkout::create(&root, "id", &[], &files).unwrap_err();
            assert!(matches!(err, WorkdirError::BadPath(_)), "{hostile}: {err}");
            assert!(!root.exists(), "nothing may be written for {hostile}");
        }
        assert!(!dir.path().join("escape").exists());
    }

    #[test]
    fn checkout_create_refuses_a_non_empty_directory() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("x"), "x").unwrap();
        let err = Checkout::create(dir.path(), "id", &[], &[]).unwrap_err();
        assert!(matches!(err, WorkdirError::NotEmpty { .. }));
    }

    #[test]
    fn status_sees_edits_in_the_working_tree() {
        let dir = tempfile::tempdir().unwrap();
        let co = sample(dir.path());
        std::fs::write(co.root.join("README.md"), "# Hei\nmer\n").unwrap();
        std::fs::rename(
            co.root.join("prosess/soknad.bpmn"),
            co.root.join("soknad.bpmn"),
        )
        .unwrap();
        std::fs::remove_file(co.root.join("logo.png")).unwrap();
        std::fs::write(co.root.join("ny.txt"), "ny").unwrap();
        std::fs::create_dir_all(co.root.join("target")).unwrap();
        std::fs::write(co.root.join("target/ignored"), "x").unwrap();
        let changes = co.status().unwrap();
        assert_eq!(changes.modified, ["README.md"]);
        assert_eq!(changes.added, ["ny.txt"]);
        assert_eq!(changes.deleted, ["logo.png"]);
        assert_eq!(
            changes.renamed,
            [Rename {
                from: "prosess/soknad.bpmn".into(),
                to: "soknad.bpmn".into()
            }]
        );
    }

    #[cfg(unix)]
    #[test]
    fn status_sees_a_chmod() {
        let dir = tempfile::tempdir().unwrap();
        let co = sample(dir.path());
        walk::set_executable(&co.root.join("bin/run.sh"), false).unwrap();
        assert_eq!(co.status().unwrap().modified, ["bin/run.sh"]);
    }

    #[test]
    fn tracked_files_are_seen_even_when_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let files = vec![
            (".gitignore".to_string(), b"*.log\n".to_vec(), false),
            ("keep.log".to_string(), b"tracked".to_vec(), false),
        ];
        let co = Checkout::create(&dir.path().join("co"), "id", &[], &files).unwrap();
        assert!(co.status().unwrap().is_empty());
        std::fs::write(co.root.join("keep.log"), "edited").unwrap();
        assert_eq!(co.status().unwrap().modified, ["keep.log"]);
    }

    #[test]
    fn plan_pull_protects_untracked_ignored_files() {
        let dir = tempfile::tempdir().unwrap();
        let files = vec![(".gitignore".to_string(), b"*.log\n".to_vec(), false)];
        let co = Checkout::create(&dir.path().join("co"), "id", &[], &files).unwrap();
        std::fs::write(co.root.join("notes.log"), "my local notes").unwrap();
        let (work, _) = co.scan().unwrap();
        let mut remote = co.manifest.files.clone();
        remote.insert("notes.log".into(), entry("remote content"));
        let plan = co.plan_pull(&work, &remote).unwrap();
        assert_eq!(plan.conflicts, ["notes.log"]);
    }

    #[test]
    fn set_base_and_remove_file_keep_manifest_and_cache_in_step() {
        let dir = tempfile::tempdir().unwrap();
        let mut co = sample(dir.path());
        co.remove_file("prosess/soknad.bpmn").unwrap();
        co.set_base("prosess/soknad.bpmn", None).unwrap();
        assert!(
            !co.root.join("prosess").exists(),
            "empty directories are removed"
        );
        assert!(!co.manifest.files.contains_key("prosess/soknad.bpmn"));
        co.write_file("docs/ny.md", b"ny", false).unwrap();
        co.set_base("docs/ny.md", Some((b"ny", false))).unwrap();
        co.save().unwrap();
        let reopened = Checkout::open(&co.root).unwrap();
        assert!(reopened.status().unwrap().is_empty());
        assert_eq!(reopened.cached_base("docs/ny.md").unwrap(), b"ny");
    }

    #[test]
    fn find_outside_a_checkout_is_not_a_checkout() {
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(
            Checkout::find(dir.path()),
            Err(WorkdirError::NotACheckout { .. })
        ));
    }

    // ----- issue 10: discovery, homes, symlinks, clashes ----------------------------------

    use std::os::unix::fs::{symlink, PermissionsExt};

    fn chmod(path: &Path, mode: u32) {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
    }

    fn plant_manifest(dir: &Path) {
        std::fs::create_dir_all(dir.join(META_DIR)).unwrap();
        std::fs::write(
            dir.join(META_DIR).join(MANIFEST_FILE),
            r#"{"id":"planted","base_heads":[],"files":{}}"#,
        )
        .unwrap();
    }

    #[test]
    fn find_never_uses_a_manifest_in_a_world_writable_directory() {
        let dir = tempfile::tempdir().unwrap();
        let shared = dir.path().join("shared");
        let mine = shared.join("mine");
        std::fs::create_dir_all(&mine).unwrap();
        plant_manifest(&shared);
        chmod(&shared, 0o1777);
        let uid = current_uid();
        for start in [&mine, &shared] {
            let err = Checkout::find_within(start, uid, None).unwrap_err();
            assert!(
                matches!(&err, WorkdirError::NotACheckout { note, .. } if note.contains("everyone may write")),
                "{err}"
            );
        }
        // The same directory, private, is found.
        chmod(&shared, 0o700);
        assert_eq!(
            Checkout::find_within(&mine, uid, None).unwrap().manifest.id,
            "planted"
        );
    }

    #[test]
    fn find_stops_at_another_users_directory_and_at_home() {
        let dir = tempfile::tempdir().unwrap();
        let outer = dir.path().join("outer");
        let home = outer.join("home");
        let work = home.join("work");
        std::fs::create_dir_all(&work).unwrap();
        plant_manifest(&outer);
        let uid = current_uid();
        let home_abs = std::fs::canonicalize(&home).unwrap();
        // Above $HOME is never looked at.
        assert!(matches!(
            Checkout::find_within(&work, uid, Some(&home_abs)),
            Err(WorkdirError::NotACheckout { .. })
        ));
        assert!(Checkout::find_within(&work, uid, None).is_ok());
        // For another user, the directories are not theirs: nothing is found.
        let err = Checkout::find_within(&work, uid.wrapping_add(1), None).unwrap_err();
        assert!(
            matches!(&err, WorkdirError::NotACheckout { note, .. } if note.contains("another user")),
            "{err}"
        );
    }

    fn binding(key: &str) -> HomeBinding {
        HomeBinding {
            path: format!("/homes/{key}"),
            public_key: key.repeat(32),
        }
    }

    #[test]
    fn a_checkout_belongs_to_its_home() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("co");
        let mut co = Checkout::create_for(&root, "id", &[], &[], Some(binding("aa"))).unwrap();
        assert_eq!(co.check_home(&binding("aa")).unwrap(), None);
        let err = co.check_home(&binding("bb")).unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("belongs to") && text.contains("/homes/aa") && text.contains("--home"),
            "{text}"
        );
        // An older manifest without a home is accepted with a warning and bound on save.
        let mut legacy = Checkout::create(&dir.path().join("old"), "id", &[], &[]).unwrap();
        let warning = legacy.check_home(&binding("bb")).unwrap().unwrap();
        assert!(warning.contains("older allmenning"), "{warning}");
        legacy.save().unwrap();
        let mut reopened = Checkout::open(&legacy.root).unwrap();
        assert_eq!(reopened.manifest.home, Some(binding("bb")));
        assert!(reopened.check_home(&binding("aa")).is_err());
    }

    #[test]
    fn writes_never_go_through_a_symlinked_folder() {
        let dir = tempfile::tempdir().unwrap();
        let outside = dir.path().join("outside");
        std::fs::create_dir(&outside).unwrap();
        std::fs::write(outside.join("x.txt"), "outside\n").unwrap();
        let files = vec![("sub/x.txt".to_string(), b"x".to_vec(), false)];
        let co = Checkout::create(&dir.path().join("co"), "id", &[], &files).unwrap();
        std::fs::remove_dir_all(co.root.join("sub")).unwrap();
        symlink(&outside, co.root.join("sub")).unwrap();
        for result in [
            co.write_file("sub/new.txt", b"evil", false),
            co.write_file("sub/deeper/new.txt", b"evil", false),
            co.remove_file("sub/x.txt"),
        ] {
            assert!(
                matches!(result, Err(WorkdirError::Symlink { .. })),
                "{result:?}"
            );
        }
        assert!(!outside.join("new.txt").exists());
        assert!(!outside.join("deeper").exists());
        assert_eq!(
            std::fs::read_to_string(outside.join("x.txt")).unwrap(),
            "outside\n"
        );
        // What is behind the link is not part of the checkout, nor read.
        assert_eq!(co.read_file("sub/x.txt").unwrap(), None);
        assert_eq!(co.status().unwrap().deleted, ["sub/x.txt"]);
    }

    #[test]
    fn a_link_where_a_file_goes_is_replaced_not_followed() {
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim.txt");
        std::fs::write(&victim, "victim").unwrap();
        let co = Checkout::create(&dir.path().join("co"), "id", &[], &[]).unwrap();
        symlink(&victim, co.root.join("a.txt")).unwrap();
        co.write_file("a.txt", b"mine", true).unwrap();
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "victim");
        let meta = std::fs::symlink_metadata(co.root.join("a.txt")).unwrap();
        assert!(meta.is_file());
        assert!(walk::is_executable(&meta));
        assert_eq!(std::fs::read(co.root.join("a.txt")).unwrap(), b"mine");
    }

    fn clash_files() -> Vec<(String, Vec<u8>, bool)> {
        vec![
            ("README.md".to_string(), b"Bergen\n".to_vec(), false),
            ("readme.md".to_string(), b"Trondheim\n".to_vec(), false),
            ("a".to_string(), b"file a\n".to_vec(), false),
            ("a/b".to_string(), b"inside a\n".to_vec(), false),
        ]
    }

    #[test]
    fn clashing_paths_are_placed_apart_and_read_back_as_themselves() {
        let dir = tempfile::tempdir().unwrap();
        let co = Checkout::create(&dir.path().join("co"), "id", &[], &clash_files()).unwrap();
        let on_disk: Vec<&str> = ["README.md", "readme.md.clash-1", "a", "a.clash-1/b"].into();
        for disk in on_disk {
            assert!(co.root.join(disk).is_file(), "{disk}");
        }
        assert_eq!(co.disk_path("readme.md"), "readme.md.clash-1");
        assert_eq!(co.displaced().len(), 2);
        let warning = displaced_warning(&co.displaced()[1]);
        assert!(
            warning.contains("readme.md.clash-1") && warning.contains("README.md"),
            "{warning}"
        );
        // Not new files: the artefact's own.
        let reopened = Checkout::open(&co.root).unwrap();
        assert!(reopened.status().unwrap().is_empty());
        assert_eq!(reopened.cached_base("a/b").unwrap(), b"inside a\n");
        std::fs::write(co.root.join("readme.md.clash-1"), "endret\n").unwrap();
        assert_eq!(reopened.status().unwrap().modified, ["readme.md"]);
        // A new file under the displaced one's own name is pointed out, not mixed up.
        std::fs::write(co.root.join("readme.md"), "stray\n").unwrap();
        assert!(matches!(reopened.status(), Err(WorkdirError::Stray { .. })));
    }

    #[test]
    fn a_commit_refuses_new_paths_that_break_the_rule() {
        let dir = tempfile::tempdir().unwrap();
        let files = vec![("README.md".to_string(), b"x".to_vec(), false)];
        let co = Checkout::create(&dir.path().join("co"), "id", &[], &files).unwrap();
        for (name, what) in [("readme.MD", "letter case"), ("CON.txt", "device name")] {
            std::fs::write(co.root.join(name), "y").unwrap();
            let (work, _) = co.scan().unwrap();
            let changes = compare(&co.manifest.files, &work);
            let err = check_new_paths(&changes, &work).unwrap_err().to_string();
            assert!(err.contains(what) && err.contains(name), "{err}");
            std::fs::remove_file(co.root.join(name)).unwrap();
        }
        std::fs::write(co.root.join("ok.md"), "y").unwrap();
        let (work, _) = co.scan().unwrap();
        check_new_paths(&compare(&co.manifest.files, &work), &work).unwrap();
    }

    #[test]
    fn pull_moves_files_to_the_new_layout() {
        let dir = tempfile::tempdir().unwrap();
        // Trondheim's checkout holds readme.md under its own name; the remote now also holds
        // README.md, which comes first in byte order.
        let files = vec![("readme.md".to_string(), b"Trondheim\n".to_vec(), false)];
        let mut co = Checkout::create(&dir.path().join("co"), "id", &[], &files).unwrap();
        let mut remote = co.manifest.files.clone();
        remote.insert("README.md".into(), entry("Bergen\n"));
        let contents: BTreeMap<String, (Vec<u8>, bool)> = [
            ("README.md".to_string(), (b"Bergen\n".to_vec(), false)),
            ("readme.md".to_string(), (b"Trondheim\n".to_vec(), false)),
        ]
        .into();
        let (work, _) = co.scan().unwrap();
        let plan = co.plan_pull(&work, &remote).unwrap();
        assert_eq!(plan.write, ["README.md"]);
        assert!(plan.conflicts.is_empty());
        co.apply_pull(&plan, &remote, &contents).unwrap();
        co.save().unwrap();
        assert_eq!(
            std::fs::read_to_string(co.root.join("readme.md.clash-1")).unwrap(),
            "Trondheim\n"
        );
        assert_eq!(
            std::fs::read_to_string(co.root.join("README.md")).unwrap(),
            "Bergen\n"
        );
        assert!(Checkout::open(&co.root)
            .unwrap()
            .status()
            .unwrap()
            .is_empty());

        // Once README.md is gone (committed elsewhere, or here), readme.md moves back.
        co.remove_file("README.md").unwrap();
        co.set_base("README.md", None).unwrap();
        co.relayout().unwrap();
        assert_eq!(
            std::fs::read_to_string(co.root.join("readme.md")).unwrap(),
            "Trondheim\n"
        );
        assert!(!co.root.join("readme.md.clash-1").exists());
        assert!(co.manifest.displaced.is_empty());
        assert!(co.status().unwrap().is_empty());
    }

    #[test]
    fn a_move_never_overwrites_an_untracked_file() {
        let dir = tempfile::tempdir().unwrap();
        let files = vec![("readme.md".to_string(), b"T".to_vec(), false)];
        let mut co = Checkout::create(&dir.path().join("co"), "id", &[], &files).unwrap();
        std::fs::write(co.root.join("readme.md.clash-1"), "mine").unwrap();
        let mut remote = co.manifest.files.clone();
        remote.insert("README.md".into(), entry("B"));
        let contents: BTreeMap<String, (Vec<u8>, bool)> =
            [("README.md".to_string(), (b"B".to_vec(), false))].into();
        let plan = PullPlan {
            write: vec!["README.md".into()],
            ..PullPlan::default()
        };
        let err = co.apply_pull(&plan, &remote, &contents).unwrap_err();
        assert!(matches!(err, WorkdirError::Occupied { .. }), "{err}");
        assert_eq!(
            std::fs::read_to_string(co.root.join("readme.md.clash-1")).unwrap(),
            "mine"
        );
        assert!(!co.root.join("README.md").exists(), "nothing changed");
    }

    #[test]
    fn local_edits_and_the_discard_plan() {
        let base = tree(&[("a", "1"), ("b", "2"), ("gone", "3")]);
        let work = tree(&[("a", "1 edited"), ("b", "2"), ("new", "x")]);
        assert_eq!(local_edits(&base, &work), vec!["a", "gone", "new"]);
        // The node has moved on: b changed there, a is as we edited it.
        let remote = tree(&[("a", "1 edited"), ("b", "2 remote"), ("gone", "3")]);
        let plan = discard_plan(&work, &remote);
        assert_eq!(plan.write, vec!["b", "gone"]);
        assert_eq!(plan.delete, vec!["new"]);
        assert!(plan.conflicts.is_empty());
        // A local edit equal to the node's content is no conflict for the ordinary pull.
        let plain = plan_pull(&base, &work, &remote);
        assert!(plain.conflicts.is_empty(), "{plain:?}");
    }
}
