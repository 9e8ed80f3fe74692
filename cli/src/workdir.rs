//! Checkouts: an artefact's files in a plain directory, editable with any tool.
//!
//! A checkout is a directory holding the files plus `.allmenning/checkout.json`, the manifest
//! of what the node had at `base_heads`:
//!
//! ```json
//! {"id": "…", "base_heads": ["…"], "files": {"README.md": {"blake3": "…", "executable": false}}}
//! ```
//!
//! Comparing the working tree with the manifest tells what was edited locally (`status`);
//! comparing the node's current files with the manifest tells what changed remotely (`pull`).
//! Text files of the base are also cached under `.allmenning/base/` so that `diff` works without
//! a running node.
//!
//! Everything here is plain file-system work: no node is needed, which keeps it unit-testable.

use crate::walk::{self, WalkOptions};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Component, Path, PathBuf};

/// The metadata directory of a checkout.
pub const META_DIR: &str = ".allmenning";
/// The manifest, inside [`META_DIR`].
pub const MANIFEST_FILE: &str = "checkout.json";
/// Cached base copies of text files, inside [`META_DIR`].
pub const BASE_DIR: &str = "base";

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

/// `.allmenning/checkout.json`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// The artefact's full id.
    pub id: String,
    /// The heads (hex change hashes) the files were taken at.
    pub base_heads: Vec<String>,
    /// The files the node had at `base_heads`.
    pub files: Tree,
}

#[derive(Debug, thiserror::Error)]
pub enum WorkdirError {
    #[error("{dir} is not inside a checkout (no {META_DIR}/{MANIFEST_FILE} there or in a parent)")]
    NotACheckout { dir: PathBuf },
    #[error("refusing the path {path:?} sent for this artefact: {reason}")]
    BadPath { path: String, reason: &'static str },
    #[error("{dir} is not empty")]
    NotEmpty { dir: PathBuf },
    #[error("cannot read the manifest {path}: {message}")]
    Manifest { path: PathBuf, message: String },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Walk(#[from] walk::WalkError),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> WorkdirError + '_ {
    move |source| WorkdirError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Checks a path received from a node (and so, maybe, from a hostile peer) before it is used
/// to name a file on disk: relative, '/'-separated, no empty, `.` or `..` components, no
/// backslashes or NUL, and no `.allmenning` or `.git` component (the same rule as the protocol's).
pub fn validate_path(path: &str) -> Result<(), WorkdirError> {
    let bad = |reason| {
        Err(WorkdirError::BadPath {
            path: path.to_string(),
            reason,
        })
    };
    if path.is_empty() {
        return bad("the path is empty");
    }
    if path.starts_with('/') {
        return bad("absolute paths are not allowed");
    }
    if path.contains('\\') {
        return bad("backslashes are not allowed");
    }
    if path.contains('\0') {
        return bad("NUL bytes are not allowed");
    }
    let bytes = path.as_bytes();
    if bytes.len() >= 2 && bytes[1] == b':' && bytes[0].is_ascii_alphabetic() {
        return bad("drive-letter paths are not allowed");
    }
    for part in path.split('/') {
        match part {
            "" => return bad("empty path components are not allowed"),
            "." | ".." => return bad("`.` and `..` components are not allowed"),
            _ => {}
        }
        if part.eq_ignore_ascii_case(META_DIR) {
            return bad("the .allmenning directory belongs to the checkout itself");
        }
        if part.eq_ignore_ascii_case(".git") {
            return bad("a .git directory is never part of an artefact");
        }
    }
    // Belt and braces: the platform's own reading of the path must agree.
    if !Path::new(path)
        .components()
        .all(|c| matches!(c, Component::Normal(_)))
    {
        return bad("the path is not a plain relative path");
    }
    Ok(())
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

impl Checkout {
    /// The checkout containing `start` (itself or the nearest parent with a manifest).
    pub fn find(start: &Path) -> Result<Checkout, WorkdirError> {
        let start_abs = match fs::canonicalize(start) {
            Ok(path) => path,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(WorkdirError::NotACheckout {
                    dir: start.to_path_buf(),
                })
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
            if d.join(META_DIR).join(MANIFEST_FILE).is_file() {
                return Checkout::open(d);
            }
            dir = d.parent();
        }
        Err(WorkdirError::NotACheckout {
            dir: start.to_path_buf(),
        })
    }

    /// The checkout rooted at `root`.
    pub fn open(root: &Path) -> Result<Checkout, WorkdirError> {
        let path = root.join(META_DIR).join(MANIFEST_FILE);
        let text = match fs::read(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(WorkdirError::NotACheckout {
                    dir: root.to_path_buf(),
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
        Ok(Checkout {
            root: root.to_path_buf(),
            manifest,
        })
    }

    /// Creates a checkout in `root` (which must be missing or empty) from `files`.
    /// Every path is validated before anything is written.
    pub fn create(
        root: &Path,
        id: &str,
        heads: &[String],
        files: &[(String, Vec<u8>, bool)],
    ) -> Result<Checkout, WorkdirError> {
        for (path, _, _) in files {
            validate_path(path)?;
        }
        ensure_empty_dir(root)?;
        let mut checkout = Checkout {
            root: root.to_path_buf(),
            manifest: Manifest {
                id: id.to_string(),
                base_heads: heads.to_vec(),
                files: Tree::new(),
            },
        };
        for (path, content, executable) in files {
            checkout.write_file(path, content, *executable)?;
            checkout.set_base(path, Some((content, *executable)))?;
        }
        checkout.save()?;
        Ok(checkout)
    }

    pub fn meta_dir(&self) -> PathBuf {
        self.root.join(META_DIR)
    }

    /// Where `path` lives in the working tree (call [`validate_path`] first for remote paths).
    pub fn file_path(&self, path: &str) -> PathBuf {
        path.split('/')
            .fold(self.root.clone(), |p, part| p.join(part))
    }

    fn base_path(&self, path: &str) -> PathBuf {
        path.split('/')
            .fold(self.meta_dir().join(BASE_DIR), |p, part| p.join(part))
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
    /// ignore rule would hide it (tracked files are never ignored). Returns the entries and the
    /// contents, read once.
    pub fn scan(&self) -> Result<(Tree, BTreeMap<String, Vec<u8>>), WorkdirError> {
        let mut tree = Tree::new();
        let mut contents = BTreeMap::new();
        let mut paths: BTreeSet<String> = walk::walk(&self.root, WalkOptions::default())?
            .into_iter()
            .map(|f| f.path)
            .collect();
        paths.extend(self.manifest.files.keys().cloned());
        for path in paths {
            if let Some((content, executable)) = self.read_file(&path)? {
                tree.insert(path.clone(), FileEntry::of(&content, executable));
                contents.insert(path, content);
            }
        }
        Ok((tree, contents))
    }

    /// A regular file of the working tree, or `None` when it does not exist (or is not a file).
    pub fn read_file(&self, path: &str) -> Result<Option<(Vec<u8>, bool)>, WorkdirError> {
        let abs = self.file_path(path);
        let meta = match fs::symlink_metadata(&abs) {
            Ok(meta) => meta,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) if e.raw_os_error() == Some(20) => return Ok(None), // ENOTDIR: a parent is a file
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

    /// How the working tree differs from the base.
    pub fn status(&self) -> Result<Changes, WorkdirError> {
        let (tree, _) = self.scan()?;
        Ok(compare(&self.manifest.files, &tree))
    }

    /// Writes a file of the working tree, creating its directories.
    pub fn write_file(
        &self,
        path: &str,
        content: &[u8],
        executable: bool,
    ) -> Result<(), WorkdirError> {
        validate_path(path)?;
        let abs = self.file_path(path);
        if let Some(parent) = abs.parent() {
            fs::create_dir_all(parent).map_err(io(parent))?;
        }
        // Never write through a symbolic link that may point outside the checkout.
        if fs::symlink_metadata(&abs).is_ok_and(|m| m.file_type().is_symlink()) {
            fs::remove_file(&abs).map_err(io(&abs))?;
        }
        fs::write(&abs, content).map_err(io(&abs))?;
        walk::set_executable(&abs, executable).map_err(io(&abs))
    }

    /// Removes a file of the working tree (if present) and the directories it leaves empty.
    pub fn remove_file(&self, path: &str) -> Result<(), WorkdirError> {
        validate_path(path)?;
        let abs = self.file_path(path);
        match fs::remove_file(&abs) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
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
                remove_if_present(&cached)?;
                remove_empty_parents(&cached, &self.meta_dir().join(BASE_DIR));
            }
        }
        Ok(())
    }

    /// The base content of a text file from the cache, if cached and intact.
    pub fn cached_base(&self, path: &str) -> Option<Vec<u8>> {
        let entry = self.manifest.files.get(path)?;
        let content = fs::read(self.base_path(path)).ok()?;
        (blake3::hash(&content).to_hex().as_str() == entry.blake3).then_some(content)
    }

    /// Plans a pull against the node's current `remote` files. Files that exist on disk at a
    /// remote path but were not seen by the scan (ignored, untracked) count as local edits, so
    /// that a pull never overwrites them silently.
    pub fn plan_pull(&self, work: &Tree, remote: &Tree) -> Result<PullPlan, WorkdirError> {
        let mut work = work.clone();
        for path in remote.keys() {
            validate_path(path)?;
            if !work.contains_key(path) {
                if let Some((content, executable)) = self.read_file(path)? {
                    work.insert(path.clone(), FileEntry::of(&content, executable));
                }
            }
        }
        Ok(plan_pull(&self.manifest.files, &work, remote))
    }
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
            assert!(
                matches!(err, WorkdirError::BadPath { .. }),
                "{hostile}: {err}"
            );
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
}
