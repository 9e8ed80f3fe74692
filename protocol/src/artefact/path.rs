//! The one rule for paths in an artefact, and where files go on disk when merged paths clash.
//!
//! An artefact's paths come from anyone in the network and end up as files on Linux, macOS and
//! Windows. A path that one of them cannot create (`CON`, `a:b`, `x.`) or that two file systems
//! read differently (`README.md` and `readme.md` are one file on Windows and macOS, two on
//! Linux; `a` as a file and `a/b` need `a` to be both) would make the artefact impossible to
//! check out or export for someone. So the same rule is applied everywhere a path enters:
//!
//! * per path, [`validate_path`]: relative, `/`-separated, no empty, `.` or `..` components, at
//!   most [`MAX_PATH_BYTES`] bytes and [`MAX_COMPONENT_BYTES`] per component, no control
//!   characters, none of `\ < > : " | ? *` (which also rules out drive letters and NTFS
//!   streams), no component ending in `.` or space (Windows strips them), no Windows device
//!   name (`CON`, `NUL.txt`, `com¹`, …) and no reserved directory (`.git`, `.allmenning`) in
//!   any letter case;
//! * per tree, [`check_tree`] and [`check_added`]: no two paths with the same [`fold_key`]
//!   (Unicode NFC, then lowercase: what case-insensitive, normalisation-insensitive file
//!   systems compare), and no path that is a file and also a folder of another path.
//!
//! Authors get the rule when they publish or commit ([`super::Artefact::genesis`] and
//! [`super::Artefact::edit`], and the CLI before it sends anything); peers get it at ingest
//! ([`check_change_paths`], which decides from a change and its own dependencies only, so every
//! node reaches the same verdict whatever else it holds).
//!
//! Two changes that are each valid can still merge into a clash: Bergen adds `README.md` while
//! Trondheim adds `readme.md`. Nobody did anything wrong and the merge cannot be refused, so
//! checkouts and exports place such files deterministically with [`disk_layout`]: the first
//! path in byte order keeps its name, a later clashing one goes next to it under a suffixed
//! name (`readme.md.clash-1`), and the user is told to rename one side and commit.

use super::{ArtefactError, FILES, MAX_PATH_BYTES};
use automerge::legacy::{Key, ObjectId, OpId, OpType};
use automerge::{Automerge, Change, ObjType, ReadDoc, Value, ROOT};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::fmt;
use unicode_normalization::UnicodeNormalization;

/// Longest path component accepted (the common file-system limit for one name).
pub const MAX_COMPONENT_BYTES: usize = 255;

/// Directory names that never belong to an artefact, compared in any letter case: a checkout's
/// own metadata, and git's (a `.git/hooks/…` file would run code on the next git command).
pub const RESERVED_NAMES: [&str; 2] = [".git", ".allmenning"];

/// What separates a displaced file's name from its number in [`disk_layout`].
pub const CLASH_SUFFIX: &str = ".clash-";

/// Windows device names: a file named so (with any extension) opens the device instead.
const DEVICE_NAMES: [&str; 6] = ["CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$"];

/// Why a single path is refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PathRule {
    Empty,
    TooLong { bytes: usize },
    ComponentTooLong { component: String, bytes: usize },
    Absolute,
    EmptyComponent,
    DotComponent,
    ControlCharacter,
    ForbiddenCharacter(char),
    TrailingDotOrSpace { component: String },
    DeviceName { component: String },
    Reserved { component: String },
}

impl fmt::Display for PathRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PathRule::Empty => f.write_str("the path is empty"),
            PathRule::TooLong { bytes } => write!(
                f,
                "the path is {bytes} bytes long, more than the {MAX_PATH_BYTES} allowed"
            ),
            PathRule::ComponentTooLong { component, bytes } => write!(
                f,
                "the name {component:?} is {bytes} bytes long, more than the {MAX_COMPONENT_BYTES} file systems allow"
            ),
            PathRule::Absolute => f.write_str("absolute paths are not allowed (paths are relative to the artefact)"),
            PathRule::EmptyComponent => f.write_str("empty path components (`//`, or a leading or trailing `/`) are not allowed"),
            PathRule::DotComponent => f.write_str("`.` and `..` components are not allowed"),
            PathRule::ControlCharacter => f.write_str("control characters (NUL, newline, tab, …) are not allowed"),
            PathRule::ForbiddenCharacter(c) => write!(
                f,
                "the character {c:?} is not allowed (Windows forbids \\ < > : \" | ? * in names, and `:` would name a drive or an NTFS stream)"
            ),
            PathRule::TrailingDotOrSpace { component } => write!(
                f,
                "the name {component:?} ends in a dot or a space, which Windows strips (it would become another name)"
            ),
            PathRule::DeviceName { component } => write!(
                f,
                "the name {component:?} is a Windows device name (CON, PRN, AUX, NUL, COM0-9, LPT0-9, CONIN$, CONOUT$, with any extension) and cannot be a file on Windows"
            ),
            PathRule::Reserved { component } => write!(
                f,
                "{component:?} is reserved in any letter case (.git belongs to git, .allmenning to the checkout itself)"
            ),
        }
    }
}

/// A path refused by the rule, saying which rule and, for clashes, which other path.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PathError {
    #[error("invalid path {path:?}: {rule}")]
    Invalid { path: String, rule: PathRule },
    #[error(
        "path {path:?} clashes with {other:?}: they differ only in letter case or Unicode normalisation, so they would be one file on Windows and macOS; rename one of them"
    )]
    SameName { path: String, other: String },
    #[error(
        "path {file:?} clashes with {inside:?}: {file:?} is a file, but {inside:?} needs a folder of that name (letter case aside); rename one of them"
    )]
    FileAndFolder { file: String, inside: String },
}

impl PathError {
    /// Every path the error names.
    pub fn paths(&self) -> Vec<&str> {
        match self {
            PathError::Invalid { path, .. } => vec![path],
            PathError::SameName { path, other } => vec![path, other],
            PathError::FileAndFolder { file, inside } => vec![file, inside],
        }
    }
}

/// Checks one path from a user or a peer against the rule (see the module docs).
pub fn validate_path(path: &str) -> Result<(), PathError> {
    let bad = |rule| {
        Err(PathError::Invalid {
            path: path.to_string(),
            rule,
        })
    };
    if path.is_empty() {
        return bad(PathRule::Empty);
    }
    if path.len() > MAX_PATH_BYTES {
        return bad(PathRule::TooLong { bytes: path.len() });
    }
    if path.starts_with('/') {
        return bad(PathRule::Absolute);
    }
    if path.chars().any(char::is_control) {
        return bad(PathRule::ControlCharacter);
    }
    if let Some(c) = path
        .chars()
        .find(|c| matches!(c, '\\' | '<' | '>' | ':' | '"' | '|' | '?' | '*'))
    {
        return bad(PathRule::ForbiddenCharacter(c));
    }
    for part in path.split('/') {
        if let Err(rule) = check_component(part) {
            return bad(rule);
        }
    }
    Ok(())
}

fn check_component(part: &str) -> Result<(), PathRule> {
    match part {
        "" => return Err(PathRule::EmptyComponent),
        "." | ".." => return Err(PathRule::DotComponent),
        _ => {}
    }
    if part.len() > MAX_COMPONENT_BYTES {
        return Err(PathRule::ComponentTooLong {
            component: part.to_string(),
            bytes: part.len(),
        });
    }
    if part.ends_with('.') || part.ends_with(' ') {
        return Err(PathRule::TrailingDotOrSpace {
            component: part.to_string(),
        });
    }
    if is_device_name(part) {
        return Err(PathRule::DeviceName {
            component: part.to_string(),
        });
    }
    if is_reserved(part) {
        return Err(PathRule::Reserved {
            component: part.to_string(),
        });
    }
    Ok(())
}

/// `CON`, `con.txt`, `Com1.tar.gz`, `LPT¹`, `CONIN$`: the part before the first dot (trailing
/// spaces ignored, as Windows does) is a device name.
fn is_device_name(part: &str) -> bool {
    let stem = part.split('.').next().unwrap_or(part).trim_end_matches(' ');
    let upper = stem.to_ascii_uppercase();
    if DEVICE_NAMES.contains(&upper.as_str()) {
        return true;
    }
    for prefix in ["COM", "LPT"] {
        if let Some(rest) = upper.strip_prefix(prefix) {
            let mut chars = rest.chars();
            if let (Some(c), None) = (chars.next(), chars.next()) {
                if c.is_ascii_digit() || matches!(c, '¹' | '²' | '³') {
                    return true;
                }
            }
        }
    }
    false
}

/// `.git`, `.GIT`, `.Allmenning`, also with characters that HFS+ ignores when comparing names
/// (`.g\u{200c}it`), and NTFS's short name `GIT~1` for `.git`.
fn is_reserved(part: &str) -> bool {
    let visible: String = part.chars().filter(|c| !is_ignorable(*c)).collect();
    let folded = fold_component(&visible);
    RESERVED_NAMES.contains(&folded.as_str()) || folded == "git~1"
}

/// Code points that HFS+ drops when comparing names (as git's `is_hfs_dotgit` lists them).
fn is_ignorable(c: char) -> bool {
    matches!(c,
        '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{206a}'..='\u{206f}' | '\u{feff}')
}

fn fold_component(part: &str) -> String {
    let lower: String = part
        .nfc()
        .collect::<String>()
        .to_lowercase()
        .chars()
        // Final sigma: Windows upper-cases both to Σ, so they compare equal there.
        .map(|c| if c == 'ς' { 'σ' } else { c })
        .collect();
    lower.nfc().collect()
}

/// The key two paths share when a case-insensitive, normalisation-insensitive file system
/// (Windows, macOS) would take them for the same name: each component in Unicode NFC, then
/// lowercased. Components stay apart, so a prefix of the key is the key of the prefix.
pub fn fold_key(path: &str) -> String {
    path.split('/')
        .map(fold_component)
        .collect::<Vec<_>>()
        .join("/")
}

/// The proper folder prefixes of a (folded or not) path: `a/b/c` gives `a` and `a/b`.
fn folders(path: &str) -> impl Iterator<Item = &str> {
    path.match_indices('/').map(move |(i, _)| &path[..i])
}

/// Paths by fold key, to find clashes: files, and for each folder one path inside it.
#[derive(Clone, Debug, Default)]
pub struct PathIndex {
    files: HashMap<String, String>,
    folders: HashMap<String, String>,
}

impl PathIndex {
    pub fn new() -> Self {
        PathIndex::default()
    }

    /// How `path` would clash with what the index holds (the path itself aside).
    pub fn clash(&self, path: &str) -> Option<PathError> {
        let key = fold_key(path);
        if let Some(other) = self.files.get(&key) {
            if other != path {
                return Some(PathError::SameName {
                    path: path.to_string(),
                    other: other.clone(),
                });
            }
        }
        if let Some(inside) = self.folders.get(&key) {
            return Some(PathError::FileAndFolder {
                file: path.to_string(),
                inside: inside.clone(),
            });
        }
        for folder in folders(&key) {
            if let Some(file) = self.files.get(folder) {
                return Some(PathError::FileAndFolder {
                    file: file.clone(),
                    inside: path.to_string(),
                });
            }
        }
        None
    }

    /// Adds `path` (the first path of a fold key stays the one reported in clashes).
    pub fn insert(&mut self, path: &str) {
        let key = fold_key(path);
        for folder in folders(&key) {
            self.folders
                .entry(folder.to_string())
                .or_insert_with(|| path.to_string());
        }
        self.files.entry(key).or_insert_with(|| path.to_string());
    }

    fn has_file(&self, key: &str) -> Option<&String> {
        self.files.get(key)
    }

    fn has_folder(&self, key: &str) -> bool {
        self.folders.contains_key(key)
    }
}

/// Checks a whole tree (a new artefact): every path valid, no two clashing.
pub fn check_tree<'a>(paths: impl IntoIterator<Item = &'a str>) -> Result<(), PathError> {
    check_added(std::iter::empty(), paths)
}

/// Checks the paths a change adds to a tree: each must be valid, and must clash neither with
/// `kept` (the paths the tree keeps, its other additions aside) nor with another added path.
/// Clashes among `kept` alone are not the change's doing (concurrent adds merged into them) and
/// are not reported, so a tree that holds one can still be edited; invalid paths in `kept`
/// (written before the rule) are hidden from checkouts anyway and are ignored.
pub fn check_added<'a, 'b>(
    kept: impl IntoIterator<Item = &'a str>,
    added: impl IntoIterator<Item = &'b str>,
) -> Result<(), PathError> {
    let mut index = PathIndex::new();
    for path in kept {
        if validate_path(path).is_ok() {
            index.insert(path);
        }
    }
    for path in added {
        validate_path(path)?;
        if let Some(clash) = index.clash(path) {
            return Err(clash);
        }
        index.insert(path);
    }
    Ok(())
}

/// Does `change` bring an invalid path, or a path that clashes with the tree at its
/// dependencies (or with another path it adds)? For the engine's ingest, before a peer's change
/// is accepted.
///
/// The verdict depends only on the change and the document at `change.deps()`, never on
/// concurrent changes, so every node decides the same whatever arrived first. `doc` must hold
/// those dependencies (it may or may not hold `change` itself). Keys the change puts into the
/// `files` map that were not there at its dependencies are its additions; keys it deletes leave
/// the tree (so a rename that only changes letter case is fine); keys it overwrites were already
/// there and are not checked again (so a file in a merged clash can still be edited).
pub fn check_change_paths(doc: &Automerge, change: &Change) -> Result<(), ArtefactError> {
    let deps = change.deps();
    let missing: Vec<_> = deps
        .iter()
        .filter(|h| doc.get_change_meta_by_hash(h).is_none())
        .copied()
        .collect();
    if !missing.is_empty() {
        return Err(ArtefactError::UnknownHeads(missing));
    }
    let expanded = super::expand(change).ok_or(automerge::AutomergeError::Fail)?;
    // The files maps at the deps, by the id the change's ops name them with.
    let mut maps: HashMap<String, Option<automerge::ObjId>> = HashMap::new();
    if !deps.is_empty() {
        for (value, obj) in doc.get_all_at(ROOT, FILES, deps)? {
            if matches!(value, Value::Object(ObjType::Map)) {
                maps.insert(obj.to_string(), Some(obj));
            }
        }
    }
    // Files maps this change creates itself (a genesis, or a replaced tree).
    for (i, op) in expanded.operations.iter().enumerate() {
        let at_root = matches!(op.obj, ObjectId::Root);
        let is_files = matches!(&op.key, Key::Map(k) if k.as_str() == FILES);
        if at_root && is_files && matches!(op.action, OpType::Make(ObjType::Map)) {
            let id = OpId(
                expanded.start_op.get() + i as u64,
                expanded.actor_id.clone(),
            );
            maps.insert(id.to_string(), None);
        }
    }
    // Per files map: the keys put and deleted.
    let mut touched: BTreeMap<String, (BTreeSet<String>, BTreeSet<String>)> = BTreeMap::new();
    for op in &expanded.operations {
        let obj = op.obj.to_string();
        if !maps.contains_key(&obj) {
            continue;
        }
        let Key::Map(key) = &op.key else {
            continue;
        };
        let (put, deleted) = touched.entry(obj).or_default();
        match op.action {
            OpType::Delete => {
                deleted.insert(key.to_string());
            }
            OpType::Make(_) | OpType::Put(_) => {
                put.insert(key.to_string());
            }
            _ => {}
        }
    }
    for (obj, (put, deleted)) in touched {
        let before: HashSet<String> = match maps.get(&obj) {
            Some(Some(existing)) => doc.keys_at(existing, deps).collect(),
            _ => HashSet::new(),
        };
        let added: BTreeSet<&str> = put
            .iter()
            .filter(|k| !before.contains(*k))
            .map(String::as_str)
            .collect();
        if added.is_empty() {
            continue;
        }
        let kept = before
            .iter()
            .filter(|k| !deleted.contains(*k) || put.contains(*k))
            .map(String::as_str);
        check_added(kept, added.iter().copied())?;
    }
    Ok(())
}

/// A file that [`disk_layout`] could not place under its own name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Displaced {
    /// Its path in the artefact.
    pub path: String,
    /// Where it is written instead, relative to the checkout or export directory.
    pub disk: String,
    /// The path that kept the name.
    pub clashes_with: String,
}

/// Where each file of a tree goes on disk: its own path, except for the displaced ones.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DiskLayout {
    displaced: Vec<Displaced>,
    by_path: HashMap<String, usize>,
}

impl DiskLayout {
    /// Where `path` goes on disk.
    pub fn disk_path<'a>(&'a self, path: &'a str) -> &'a str {
        match self.by_path.get(path) {
            Some(&i) => &self.displaced[i].disk,
            None => path,
        }
    }

    /// The files not placed under their own name, in path order.
    pub fn displaced(&self) -> &[Displaced] {
        &self.displaced
    }
}

/// Places the files of a merged tree on disk so that no two collide on any file system: in
/// byte order of the paths, each keeps its name unless it clashes (by [`fold_key`], or file
/// against folder) with one already placed; then the clashing component gets the smallest
/// suffix `.clash-N` that clashes with nothing placed and with no path or folder of the tree,
/// so a path that clashes with nothing is never moved. Folders displaced for one path are
/// reused by the paths after it. Call with valid paths ([`validate_path`]).
pub fn disk_layout<'a>(paths: impl IntoIterator<Item = &'a str>) -> DiskLayout {
    let sorted: BTreeSet<&str> = paths.into_iter().collect();
    let mut all = PathIndex::new();
    for path in &sorted {
        all.insert(path);
    }
    // Placed disk paths, by fold key → the artefact path there.
    let mut placed = PathIndex::new();
    let mut placed_by: HashMap<String, String> = HashMap::new();
    // Displaced folders: artefact folder → disk folder.
    let mut folder_map: HashMap<String, String> = HashMap::new();
    let mut layout = DiskLayout::default();
    for path in sorted {
        let parts: Vec<&str> = path.split('/').collect();
        let mut disk = String::new();
        let mut clashes_with: Option<String> = None;
        for (i, part) in parts.iter().enumerate() {
            let last = i + 1 == parts.len();
            let candidate = join(&disk, part);
            let key = fold_key(&candidate);
            if !last {
                let folder = parts[..=i].join("/");
                if let Some(mapped) = folder_map.get(&folder) {
                    disk = mapped.clone();
                    continue;
                }
                match placed.has_file(&key) {
                    None => disk = candidate,
                    Some(_) => {
                        clashes_with = placed_by.get(&key).cloned();
                        disk = free_name(&disk, part, &placed, &all);
                        folder_map.insert(folder, disk.clone());
                    }
                }
            } else if placed.has_file(&key).is_some() || placed.has_folder(&key) {
                clashes_with = placed_by.get(&key).cloned().or_else(|| {
                    // A folder: name a file placed inside it.
                    placed_by
                        .iter()
                        .filter(|(k, _)| k.starts_with(&format!("{key}/")))
                        .map(|(_, p)| p.clone())
                        .min()
                });
                disk = free_name(&disk, part, &placed, &all);
            } else {
                disk = candidate;
            }
        }
        placed.insert(&disk);
        placed_by.insert(fold_key(&disk), path.to_string());
        if disk != path {
            layout
                .by_path
                .insert(path.to_string(), layout.displaced.len());
            layout.displaced.push(Displaced {
                path: path.to_string(),
                disk,
                clashes_with: clashes_with.unwrap_or_default(),
            });
        }
    }
    layout
}

fn join(folder: &str, name: &str) -> String {
    if folder.is_empty() {
        name.to_string()
    } else {
        format!("{folder}/{name}")
    }
}

/// `folder/name.clash-N` for the smallest N free on disk and in the tree.
fn free_name(folder: &str, name: &str, placed: &PathIndex, all: &PathIndex) -> String {
    let mut n = 1u64;
    loop {
        let candidate = join(folder, &format!("{name}{CLASH_SUFFIX}{n}"));
        let key = fold_key(&candidate);
        let taken = placed.has_file(&key).is_some()
            || placed.has_folder(&key)
            || all.has_file(&key).is_some()
            || all.has_folder(&key);
        if !taken {
            return candidate;
        }
        n += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::artefact::{Artefact, FileEdit, Metadata, NewFile};
    use crate::blob::BlobHash;
    use automerge::transaction::Transactable;
    use automerge::{ActorId, ChangeHash, ObjId};

    #[test]
    fn single_paths_follow_the_rule() {
        for bad in [
            "",
            "/etc/passwd",
            "../x",
            "a/../../x",
            "./a",
            "a//b",
            "a/",
            "a\\..\\b",
            "C:/windows",
            "C:",
            "file.txt:stream",
            "a<b",
            "a>b",
            "a\"b",
            "a|b",
            "a?b",
            "a*b",
            "a\0b",
            "a\nb",
            "a\tb",
            "a\u{7f}b",
            "name.",
            "name ",
            "dir./x",
            "...",
            "CON",
            "con",
            "Con.txt",
            "docs/nul.tar.gz",
            "PRN",
            "aux.c",
            "COM1",
            "com0",
            "LPT9.log",
            "lpt¹",
            "COM².txt",
            "CONIN$",
            "conout$.x",
            "CON .txt",
            ".git/hooks/post-checkout",
            ".GIT/config",
            "sub/.Git/x",
            ".allmenning",
            ".Allmenning/checkout.json",
            "a/.ALLMENNING/x",
            ".g\u{200c}it/config",
            "GIT~1/config",
        ] {
            assert!(validate_path(bad).is_err(), "{bad:?} should be refused");
        }
        let long_name = "x".repeat(MAX_COMPONENT_BYTES + 1);
        assert!(matches!(
            validate_path(&long_name),
            Err(PathError::Invalid {
                rule: PathRule::ComponentTooLong { .. },
                ..
            })
        ));
        let long_path = vec!["y".repeat(200); 6].join("/");
        assert!(matches!(
            validate_path(&long_path),
            Err(PathError::Invalid {
                rule: PathRule::TooLong { .. },
                ..
            })
        ));
        for good in [
            "README.md",
            "a/b/c.txt",
            ".gitignore",
            ".github/workflows/ci.yml",
            "x..y",
            ".env",
            "CONTRIBUTING.md",
            "console.log",
            "COM10",
            "lpt",
            "com1x.txt",
            "søknad/skjema æøå.pdf",
            "Ελληνικά.txt",
            &"x".repeat(MAX_COMPONENT_BYTES),
        ] {
            assert!(validate_path(good).is_ok(), "{good:?} should be accepted");
        }
    }

    #[test]
    fn errors_say_which_rule() {
        let text = validate_path("docs/CON.txt").unwrap_err().to_string();
        assert!(text.contains("Windows device name"), "{text}");
        assert!(text.contains("docs/CON.txt"), "{text}");
        let text = validate_path("a:b").unwrap_err().to_string();
        assert!(text.contains("':'"), "{text}");
        let text = check_tree(["README.md", "readme.md"])
            .unwrap_err()
            .to_string();
        assert!(
            text.contains("\"readme.md\"") && text.contains("\"README.md\""),
            "{text}"
        );
        assert!(text.contains("letter case"), "{text}");
    }

    #[test]
    fn fold_key_ignores_case_and_normalisation() {
        assert_eq!(fold_key("README.md"), fold_key("readme.MD"));
        // NFC "é" and NFD "e" + combining acute.
        assert_eq!(fold_key("caf\u{e9}/x"), fold_key("CAFE\u{301}/X"));
        assert_eq!(fold_key("ΟΔΟΣ"), fold_key("οδος"));
        assert_eq!(fold_key("ΟΔΟΣ"), fold_key("οδοσ"));
        assert_ne!(fold_key("a/b"), fold_key("a_b"));
        assert_eq!(fold_key("Æ/Ø/Å"), "æ/ø/å");
    }

    #[test]
    fn trees_refuse_case_and_file_folder_clashes() {
        assert!(check_tree(["README.md", "docs/a.md", "Docs/b.md"]).is_ok());
        assert!(matches!(
            check_tree(["README.md", "readme.md"]),
            Err(PathError::SameName { .. })
        ));
        assert!(matches!(
            check_tree(["caf\u{e9}.txt", "cafe\u{301}.txt"]),
            Err(PathError::SameName { .. })
        ));
        assert_eq!(
            check_tree(["a", "a/b"]),
            Err(PathError::FileAndFolder {
                file: "a".into(),
                inside: "a/b".into()
            })
        );
        assert_eq!(
            check_tree(["A/b", "a"]),
            Err(PathError::FileAndFolder {
                file: "a".into(),
                inside: "A/b".into()
            })
        );
        assert!(check_tree(["x/y/z", "X/Y"]).is_err());
        assert!(check_tree(["ok", "C:"]).is_err());
    }

    #[test]
    fn additions_are_judged_but_existing_clashes_are_tolerated() {
        // A tree that merged into a clash can still gain unrelated files.
        assert!(check_added(["README.md", "readme.md"], ["new.txt"]).is_ok());
        assert!(check_added(["README.md"], ["Readme.md"]).is_err());
        assert!(check_added(["a"], ["a/b"]).is_err());
        assert!(check_added(["a/b"], ["A"]).is_err());
        assert!(check_added([], ["x", "X"]).is_err());
        // Old invalid paths are hidden everywhere, so they block nothing.
        assert!(check_added(["x/CON"], ["X"]).is_ok());
    }

    #[test]
    fn disk_layout_keeps_the_first_path_and_suffixes_the_clashing_ones() {
        let layout = disk_layout(["readme.md", "README.md", "docs/x.md"]);
        assert_eq!(layout.disk_path("README.md"), "README.md");
        assert_eq!(layout.disk_path("readme.md"), "readme.md.clash-1");
        assert_eq!(layout.disk_path("docs/x.md"), "docs/x.md");
        assert_eq!(
            layout.displaced(),
            [Displaced {
                path: "readme.md".into(),
                disk: "readme.md.clash-1".into(),
                clashes_with: "README.md".into()
            }]
        );

        // A suffixed name never takes a real path's place, nor a folder's.
        let layout = disk_layout(["A", "a", "a.clash-1", "A.CLASH-2/x"]);
        assert_eq!(layout.disk_path("A"), "A");
        assert_eq!(layout.disk_path("a"), "a.clash-3");
        assert_eq!(layout.disk_path("a.clash-1"), "a.clash-1");
        assert_eq!(layout.disk_path("A.CLASH-2/x"), "A.CLASH-2/x");

        // File against folder: the folder moves when the file comes first, and its other
        // files follow it.
        let layout = disk_layout(["a", "a/b", "a/c"]);
        assert_eq!(layout.disk_path("a"), "a");
        assert_eq!(layout.disk_path("a/b"), "a.clash-1/b");
        assert_eq!(layout.disk_path("a/c"), "a.clash-1/c");
        assert_eq!(layout.displaced()[0].clashes_with, "a");
        // ... and the file moves when the folder comes first.
        let layout = disk_layout(["A/b", "a"]);
        assert_eq!(layout.disk_path("A/b"), "A/b");
        assert_eq!(layout.disk_path("a"), "a.clash-1");
        assert_eq!(layout.displaced()[0].clashes_with, "A/b");

        // Every placement is distinct by fold key and free of file/folder clashes.
        let paths = ["x", "X", "x/y", "X/Y", "x/Y", "x.clash-1", "y", "Y/z"];
        let layout = disk_layout(paths);
        let disks: Vec<&str> = paths.iter().map(|p| layout.disk_path(p)).collect();
        check_tree(disks.iter().copied()).unwrap_or_else(|e| panic!("{disks:?}: {e}"));
        // The layout does not depend on the order the paths come in.
        let mut reversed = paths;
        reversed.reverse();
        assert_eq!(disk_layout(reversed), layout);
        assert!(disk_layout(["a", "b/c"]).displaced().is_empty());
    }

    // ----- changes -----------------------------------------------------------------------

    fn meta() -> Metadata {
        Metadata {
            title: "t".into(),
            kind: "code".into(),
            description: String::new(),
            tags: Vec::new(),
            owner: "964338531".into(),
            owner_name: "Bergen kommune".into(),
            created: 0,
        }
    }

    fn new_file(path: &str) -> NewFile {
        NewFile {
            path: path.into(),
            blob: BlobHash::of(path.as_bytes()),
            size: path.len() as u64,
            executable: false,
        }
    }

    fn actor(n: u8) -> ActorId {
        ActorId::from(vec![n; 16])
    }

    /// A genesis change written straight with Automerge, as a hostile peer could.
    fn raw_genesis(paths: &[&str]) -> (Automerge, Change) {
        let mut doc = Automerge::new().with_actor(actor(1));
        let mut tx = doc.transaction();
        let files = tx.put_object(ROOT, FILES, ObjType::Map).unwrap();
        for path in paths {
            let entry = tx.put_object(&files, *path, ObjType::Map).unwrap();
            tx.put(&entry, "blob", BlobHash::of(b"x").to_hex()).unwrap();
        }
        tx.commit();
        let change = doc.get_last_local_change().unwrap();
        (doc, change)
    }

    /// A change at `heads` written straight with Automerge: `f` gets the transaction and the
    /// files map.
    fn raw_edit(
        doc: &Automerge,
        heads: &[ChangeHash],
        f: impl FnOnce(&mut automerge::transaction::Transaction<'_>, &ObjId),
    ) -> Change {
        // A fresh actor per change, as concurrent authors have.
        static NEXT: std::sync::atomic::AtomicU8 = std::sync::atomic::AtomicU8::new(10);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let mut fork = doc.fork_at(heads).unwrap().with_actor(actor(n));
        let files = match fork.get(ROOT, FILES).unwrap() {
            Some((Value::Object(ObjType::Map), files)) => files,
            _ => panic!("no files map"),
        };
        let mut tx = fork.transaction();
        f(&mut tx, &files);
        tx.commit();
        fork.get_last_local_change().unwrap()
    }

    fn add(tx: &mut automerge::transaction::Transaction<'_>, files: &ObjId, path: &str) {
        let entry = tx.put_object(files, path, ObjType::Map).unwrap();
        tx.put(&entry, "blob", BlobHash::of(b"y").to_hex()).unwrap();
    }

    #[test]
    fn a_genesis_with_bad_paths_is_refused_at_ingest() {
        for paths in [
            &["ok.txt", "CON"][..],
            &[".GIT/config"],
            &["C:/x"],
            &["README.md", "readme.md"],
            &["a", "a/b"],
            &["name."],
        ] {
            let (_, change) = raw_genesis(paths);
            let err = check_change_paths(&Automerge::new(), &change).unwrap_err();
            assert!(matches!(err, ArtefactError::Path(_)), "{paths:?}: {err}");
        }
        let (doc, change) = raw_genesis(&["README.md", "src/main.rs", "docs/a.md"]);
        check_change_paths(&Automerge::new(), &change).unwrap();
        // The same verdict with the change already in the document.
        check_change_paths(&doc, &change).unwrap();
    }

    #[test]
    fn edits_adding_clashes_are_refused_and_valid_ones_pass() {
        let (doc, genesis) = raw_genesis(&["README.md", "a", "x.md"]);
        let heads = vec![genesis.hash()];

        let case = raw_edit(&doc, &heads, |tx, files| add(tx, files, "readme.md"));
        assert!(matches!(
            check_change_paths(&doc, &case),
            Err(ArtefactError::Path(PathError::SameName { .. }))
        ));

        let under_file = raw_edit(&doc, &heads, |tx, files| add(tx, files, "a/b"));
        assert!(matches!(
            check_change_paths(&doc, &under_file),
            Err(ArtefactError::Path(PathError::FileAndFolder { .. }))
        ));

        let rename_onto = raw_edit(&doc, &heads, |tx, files| {
            add(tx, files, "Readme.MD");
            tx.delete(files, "x.md").unwrap();
        });
        assert!(check_change_paths(&doc, &rename_onto).is_err());

        let two_new = raw_edit(&doc, &heads, |tx, files| {
            add(tx, files, "new/File.txt");
            add(tx, files, "NEW/file.txt");
        });
        assert!(check_change_paths(&doc, &two_new).is_err());

        let device = raw_edit(&doc, &heads, |tx, files| add(tx, files, "docs/aux.md"));
        assert!(check_change_paths(&doc, &device).is_err());

        // Valid: a new file, a case-only rename, a modification, a deletion.
        let new_file = raw_edit(&doc, &heads, |tx, files| add(tx, files, "docs/new.md"));
        check_change_paths(&doc, &new_file).unwrap();
        let case_rename = raw_edit(&doc, &heads, |tx, files| {
            add(tx, files, "readme.md");
            tx.delete(files, "README.md").unwrap();
        });
        check_change_paths(&doc, &case_rename).unwrap();
        let modify = raw_edit(&doc, &heads, |tx, files| add(tx, files, "README.md"));
        check_change_paths(&doc, &modify).unwrap();
        let delete = raw_edit(&doc, &heads, |tx, files| tx.delete(files, "a").unwrap());
        check_change_paths(&doc, &delete).unwrap();
        // A change that does not touch the tree at all.
        let meta_only = raw_edit(&doc, &heads, |tx, _| {
            tx.put(ROOT, "note", "x").unwrap();
        });
        check_change_paths(&doc, &meta_only).unwrap();
    }

    #[test]
    fn the_verdict_depends_on_the_deps_only() {
        let (mut doc, genesis) = raw_genesis(&["x.md"]);
        let heads = vec![genesis.hash()];
        // Bergen adds README.md, Trondheim adds readme.md, concurrently: each is valid at its
        // deps, whichever the node received first.
        let bergen = raw_edit(&doc, &heads, |tx, files| add(tx, files, "README.md"));
        let trondheim = raw_edit(&doc, &heads, |tx, files| add(tx, files, "readme.md"));
        check_change_paths(&doc, &bergen).unwrap();
        check_change_paths(&doc, &trondheim).unwrap();
        doc.apply_changes([bergen.clone(), trondheim.clone()])
            .unwrap();
        check_change_paths(&doc, &bergen).unwrap();
        check_change_paths(&doc, &trondheim).unwrap();
        // A later change on the merged tree may edit either file, or add an unrelated one, but
        // not a third spelling.
        let merged = doc.get_heads();
        let edit = raw_edit(&doc, &merged, |tx, files| {
            add(tx, files, "readme.md");
            add(tx, files, "other.md");
        });
        check_change_paths(&doc, &edit).unwrap();
        let third = raw_edit(&doc, &merged, |tx, files| add(tx, files, "ReadMe.md"));
        assert!(check_change_paths(&doc, &third).is_err());
        // Deps the document lacks are an error, not a guess.
        assert!(matches!(
            check_change_paths(&Automerge::new(), &edit),
            Err(ArtefactError::UnknownHeads(_))
        ));
    }

    #[test]
    fn a_change_replacing_the_files_map_is_judged_on_its_own_tree() {
        let (doc, genesis) = raw_genesis(&["x.md"]);
        let heads = vec![genesis.hash()];
        let mut fork = doc.fork_at(&heads).unwrap().with_actor(actor(3));
        let mut tx = fork.transaction();
        let files = tx.put_object(ROOT, FILES, ObjType::Map).unwrap();
        add(&mut tx, &files, "LPT1");
        tx.commit();
        let change = fork.get_last_local_change().unwrap();
        assert!(check_change_paths(&doc, &change).is_err());
    }

    #[test]
    fn genesis_and_edit_refuse_what_ingest_would_refuse() {
        let err = Artefact::genesis(
            &meta(),
            &[new_file("README.md"), new_file("readme.md")],
            actor(1),
            0,
            "publish",
            false,
        )
        .unwrap_err();
        assert!(err.to_string().contains("letter case"), "{err}");
        assert!(Artefact::genesis(&meta(), &[new_file("nul")], actor(1), 0, "p", false).is_err());

        let (mut artefact, genesis) = Artefact::genesis(
            &meta(),
            &[new_file("README.md"), new_file("a"), new_file("x.md")],
            actor(1),
            0,
            "publish",
            false,
        )
        .unwrap();
        check_change_paths(&Automerge::new(), &genesis).unwrap();
        let base = artefact.heads();
        let write = |path: &str| FileEdit::Write {
            path: path.into(),
            content: b"hei".to_vec(),
            executable: false,
        };
        for edits in [
            vec![write("readme.md")],
            vec![write("a/b")],
            vec![FileEdit::Rename {
                from: "x.md".into(),
                to: "README.MD".into(),
            }],
            vec![write("q/CON.txt")],
        ] {
            let err = artefact
                .edit(&base, &edits, actor(2), 1, "m", |_| None)
                .unwrap_err();
            assert!(matches!(err, ArtefactError::Path(_)), "{edits:?}: {err}");
        }
        // A case-only rename and a new file are fine, and ingest agrees.
        let outcome = artefact
            .edit(
                &base,
                &[
                    FileEdit::Rename {
                        from: "README.md".into(),
                        to: "readme.md".into(),
                    },
                    write("docs/ny.md"),
                ],
                actor(2),
                1,
                "m",
                |_| None,
            )
            .unwrap();
        let change = outcome.change.unwrap();
        check_change_paths(&artefact.doc, &change).unwrap();
    }
}
