//! Conflicts in a checkout: what the node decided, written where editors and people find it,
//! and the checks that keep an unresolved conflict from being committed by accident.
//!
//! The node sends a conflicted text file with git-style markers naming each side by
//! organisation and change, and the other sides of a binary, add/add or delete/edit conflict as
//! files next to the conflicted one. Those side files are not artefact files: the checkout
//! remembers them, `status` shows them as conflicts rather than additions, `commit` leaves them
//! out, and refuses files that still hold markers unless `--allow-markers`. Deleting the side files (to
//! keep the file as it is) or moving one over the file (to take that side) and committing
//! resolves the conflict on every node; so does `allmenning resolve`.

use crate::error::CliError;
use crate::output::warn;
use crate::workdir::{Checkout, ConflictNote, FileEntry, Tree, WorkdirError};
use allmenning_node::control::{ConflictInfo, EditPayload, FilesAt};
use allmenning_protocol::artefact::conflict::lines::has_conflict_markers;
use std::collections::{BTreeMap, BTreeSet};

/// A file as the node sends it: path, content, executable.
pub type FileTriple = (String, Vec<u8>, bool);

/// The node's files at some heads, split into artefact files and conflict side files.
pub struct Split {
    pub heads: Vec<String>,
    pub files: Vec<FileTriple>,
    pub sides: Vec<FileTriple>,
    pub conflicts: Vec<ConflictInfo>,
}

/// Splits `files` into the artefact's files and the side files of its conflicts.
pub fn split(files: FilesAt) -> Split {
    let side_paths: BTreeSet<&str> = files
        .conflicts
        .iter()
        .flat_map(|c| c.sides.iter().filter_map(|s| s.file.as_deref()))
        .collect();
    let (sides, files_only): (Vec<FileTriple>, Vec<FileTriple>) = files
        .files
        .into_iter()
        .map(|f| (f.path, f.content.0, f.executable))
        .partition(|(path, _, _)| side_paths.contains(path.as_str()));
    Split {
        heads: files.heads,
        files: files_only,
        sides,
        conflicts: files.conflicts,
    }
}

/// What a checkout remembers of a conflict.
pub fn note_of(c: &ConflictInfo) -> ConflictNote {
    ConflictNote {
        path: c.path.clone(),
        kind: c.kind.clone(),
        sides: c.sides.iter().map(|s| s.label.clone()).collect(),
        files: c.sides.iter().filter_map(|s| s.file.clone()).collect(),
        renamed_to: c
            .sides
            .iter()
            .filter_map(|s| s.renamed_to.clone())
            .collect(),
    }
}

/// Records the conflicts of the checkout's new base and writes their side files. Side files
/// of earlier conflicts still as written are removed; one edited since becomes an ordinary file
/// of the checkout (`status` lists it as added), with a warning. A file already on disk where
/// a side file would go is never overwritten: the side is skipped, with a warning.
pub fn record(
    checkout: &mut Checkout,
    conflicts: &[ConflictInfo],
    sides: &[FileTriple],
) -> Result<(), WorkdirError> {
    for (path, written) in std::mem::take(&mut checkout.manifest.sides) {
        match checkout.read_file(&path)? {
            Some((c, x)) if FileEntry::of(&c, x) == written => checkout.remove_file(&path)?,
            Some(_) => warn(&format!(
                "{path} held another side of a conflict and was edited since: it is now an ordinary file of this checkout (`allmenning status` lists it as added)"
            )),
            None => {}
        }
    }
    for (path, content, executable) in sides {
        if let Err(e) = crate::workdir::validate_path(path) {
            warn(&format!(
                "another side of a conflict could not be written next to the file ({e}); `allmenning resolve` can still take it"
            ));
            continue;
        }
        if checkout.read_file(path)?.is_some() {
            warn(&format!(
                "{path} already exists, so another side of a conflict was not written there; `allmenning resolve` can still take that side"
            ));
            continue;
        }
        checkout.write_file(path, content, *executable)?;
        checkout
            .manifest
            .sides
            .insert(path.clone(), FileEntry::of(content, *executable));
    }
    checkout.manifest.conflicts = conflicts.iter().map(note_of).collect();
    Ok(())
}

/// One line per conflict, saying what it is and how to resolve it.
pub fn describe(note: &ConflictNote) -> String {
    let sides = note.sides.join(" and ");
    match note.kind.as_str() {
        "text" => format!(
            "{}: edited on the same lines by {sides}; the file has conflict markers (<<<<<<< ||||||| ======= >>>>>>>): keep what should stay, remove the markers, then commit",
            note.path
        ),
        "rename/rename" => format!(
            "{}: renamed to {} by {sides}; keep one (delete the other) and commit, or `allmenning resolve {}` to keep both",
            note.path,
            note.renamed_to.join(" and "),
            note.path
        ),
        kind => {
            let files = if note.files.is_empty() {
                String::new()
            } else {
                format!("; other sides are in {}", note.files.join(", "))
            };
            let what = match kind {
                "binary" => "replaced differently",
                "add/add" => "added with different contents",
                "delete/edit" => "deleted at one end and changed at another (the changed file is kept)",
                "rename/edit" => "renamed at one end and changed at another (the changed file is kept)",
                _ => "changed differently",
            };
            format!(
                "{}: {what} by {sides}{files}: move the side you want over the file (or edit it), delete the side files, then commit; or `allmenning resolve {} --take ours|theirs|ORG|CHANGE`",
                note.path, note.path
            )
        }
    }
}

/// Checks a commit of `changes` against the checkout's conflicts: files that still have
/// conflict markers refuse it, unless `allow_markers`. Side files are never committed under
/// their side name (rename one to keep it as a new file); the conflict they belong to stays
/// while any of them is left. Returns
/// the edits that resolve conflicts without changing their file (side files deleted, the file
/// kept as it is): the node must be told, or the conflict stays.
pub fn check_commit(
    checkout: &Checkout,
    work: &Tree,
    contents: &BTreeMap<String, Vec<u8>>,
    touched: &[String],
    allow_markers: bool,
) -> Result<Vec<EditPayload>, CliError> {
    let with_markers: Vec<&String> = touched
        .iter()
        .filter(|p| {
            contents
                .get(*p)
                .and_then(|c| std::str::from_utf8(c).ok())
                .is_some_and(has_conflict_markers)
        })
        .collect();
    if !allow_markers && !with_markers.is_empty() {
        return Err(CliError::Unresolved {
            message: format!(
                "commit refused: conflict markers still in {}",
                join(&with_markers)
            ),
            hint: "edit each file to keep what should stay and remove the <<<<<<<, |||||||, ======= and >>>>>>> lines (or `allmenning resolve PATH --take ours|theirs`), then commit; --allow-markers commits them as they are".into(),
        });
    }
    // Conflicts whose side files are all gone while the file itself is unchanged: kept as is.
    let touched: BTreeSet<&str> = touched.iter().map(String::as_str).collect();
    let mut extra = Vec::new();
    for note in &checkout.manifest.conflicts {
        if note.files.is_empty() || note.files.iter().any(|f| work.contains_key(f)) {
            continue;
        }
        if touched.contains(note.path.as_str()) {
            continue;
        }
        if let (Some(entry), Some(content)) = (work.get(&note.path), contents.get(&note.path)) {
            extra.push(EditPayload::Write {
                path: note.path.clone(),
                content: allmenning_node::control::Bytes(content.clone()),
                executable: entry.executable,
            });
        }
    }
    Ok(extra)
}

/// After a commit that touched `touched`: the conflicts it resolved are forgotten, and their
/// side files left as they were written are removed (one edited since stays, as the user's
/// file). Returns the resolved paths.
pub fn forget_resolved(
    checkout: &mut Checkout,
    touched: &BTreeSet<String>,
) -> Result<Vec<String>, WorkdirError> {
    let (resolved, kept): (Vec<ConflictNote>, Vec<ConflictNote>) =
        std::mem::take(&mut checkout.manifest.conflicts)
            .into_iter()
            .partition(|n| {
                touched.contains(&n.path) || n.renamed_to.iter().any(|p| touched.contains(p))
            });
    checkout.manifest.conflicts = kept;
    let mut paths = Vec::new();
    for note in resolved {
        for file in note.files {
            let Some(written) = checkout.manifest.sides.remove(&file) else {
                continue;
            };
            if checkout
                .read_file(&file)?
                .is_some_and(|(c, x)| FileEntry::of(&c, x) == written)
            {
                checkout.remove_file(&file)?;
            }
        }
        paths.push(note.path);
    }
    Ok(paths)
}

/// The paths in conflict in the checkout's base.
pub fn paths(checkout: &Checkout) -> Vec<String> {
    checkout
        .manifest
        .conflicts
        .iter()
        .map(|c| c.path.clone())
        .collect()
}

fn join(paths: &[&String]) -> String {
    paths
        .iter()
        .map(|p| p.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn side(path: &str, content: &[u8]) -> FileTriple {
        (path.to_string(), content.to_vec(), false)
    }

    #[test]
    fn side_files_are_written_removed_released_and_never_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        let files = vec![("logo.png".to_string(), b"a".to_vec(), false)];
        let mut co = Checkout::create(&dir.path().join("co"), "id", &["h".into()], &files).unwrap();
        let other = co.root.join("logo.png.trondheim-1234567");

        record(&mut co, &[], &[side("logo.png.trondheim-1234567", b"b")]).unwrap();
        assert_eq!(std::fs::read(&other).unwrap(), b"b");
        assert!(co.manifest.sides.contains_key("logo.png.trondheim-1234567"));

        // Resolved elsewhere, the side file as written goes.
        record(&mut co, &[], &[]).unwrap();
        assert!(!other.exists());

        // Edited since it was written: it stays, as the user's own file.
        record(&mut co, &[], &[side("logo.png.trondheim-1234567", b"b")]).unwrap();
        std::fs::write(&other, b"mine").unwrap();
        record(&mut co, &[], &[]).unwrap();
        assert_eq!(std::fs::read(&other).unwrap(), b"mine");
        assert!(co.manifest.sides.is_empty());
        assert_eq!(
            co.status().unwrap().added,
            vec!["logo.png.trondheim-1234567"]
        );

        // A file already there is never overwritten by a side.
        record(&mut co, &[], &[side("logo.png.trondheim-1234567", b"b")]).unwrap();
        assert_eq!(std::fs::read(&other).unwrap(), b"mine");
        assert!(co.manifest.sides.is_empty());
    }
}
