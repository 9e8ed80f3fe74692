//! What one change did to one file, for `allmenning log ID PATH` and the portal.
//!
//! The document keeps no per-file history: a change edits the file tree and the texts as a
//! whole. So the history of one file is recovered by reading that file's entry *at the change*
//! (the state of its own causal past, the change included) and *at the change's dependencies*
//! (the state its author edited), and comparing the two. Only what the author saw counts:
//! concurrent changes elsewhere in the history do not make a change look as if it touched the
//! file. A rename is an entry put under a new path with the same content reference (text key or
//! blob hash) and the old path deleted, in one change; that is how `commit` writes one.

use super::{Artefact, FileContent, FileEntry};
use crate::blob::BlobHash;
use automerge::ChangeHash;

/// How one change touched one file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FileChange {
    Added,
    Modified,
    Deleted,
    /// The file came to this path from `from` (its content possibly edited too).
    RenamedFrom(String),
    /// The file left this path for `to`.
    RenamedTo(String),
}

impl FileChange {
    /// The word scripts see: added, modified, deleted or renamed.
    pub fn as_str(&self) -> &'static str {
        match self {
            FileChange::Added => "added",
            FileChange::Modified => "modified",
            FileChange::Deleted => "deleted",
            FileChange::RenamedFrom(_) | FileChange::RenamedTo(_) => "renamed",
        }
    }
}

impl Artefact {
    /// What change `change` (whose dependencies are `deps`) did to the file at `path`, or `None`
    /// when it left it as it was. `change` must be in the document.
    pub fn file_change(
        &self,
        path: &str,
        change: &ChangeHash,
        deps: &[ChangeHash],
    ) -> Option<FileChange> {
        let at = std::slice::from_ref(change);
        let after = self.entry(path, Some(at));
        let before = if deps.is_empty() {
            None
        } else {
            self.entry(path, Some(deps))
        };
        match (before, after) {
            (None, None) => None,
            (Some(before), Some(after)) => {
                let same = before.executable == after.executable
                    && self.same_bytes(&before, deps, &after, at);
                (!same).then_some(FileChange::Modified)
            }
            (None, Some(after)) => Some(
                self.moved(&after, at, deps)
                    .map_or(FileChange::Added, FileChange::RenamedFrom),
            ),
            (Some(before), None) => Some(
                self.moved(&before, deps, at)
                    .map_or(FileChange::Deleted, FileChange::RenamedTo),
            ),
        }
    }

    /// The path that holds `file`'s content reference at `there` but not at `here`: where a
    /// renamed file came from (or went to).
    fn moved(&self, file: &FileEntry, here: &[ChangeHash], there: &[ChangeHash]) -> Option<String> {
        if there.is_empty() {
            return None;
        }
        let here_paths: std::collections::HashSet<String> = if here.is_empty() {
            Default::default()
        } else {
            self.files(Some(here)).into_iter().map(|f| f.path).collect()
        };
        self.files(Some(there))
            .into_iter()
            .filter(|f| f.path != file.path && !here_paths.contains(&f.path))
            .find(|f| same_reference(&f.content, &file.content))
            .map(|f| f.path)
    }

    /// Whether two entries hold the same bytes, each read at its own heads. A blob and a text
    /// are compared by the text's BLAKE3 hash, so no blob needs to be present.
    fn same_bytes(
        &self,
        a: &FileEntry,
        a_heads: &[ChangeHash],
        b: &FileEntry,
        b_heads: &[ChangeHash],
    ) -> bool {
        match (&a.content, &b.content) {
            (FileContent::Blob { hash: x, .. }, FileContent::Blob { hash: y, .. }) => x == y,
            (FileContent::Text { obj: x, .. }, FileContent::Text { obj: y, .. }) => {
                match (self.text(x, Some(a_heads)), self.text(y, Some(b_heads))) {
                    (Ok(x), Ok(y)) => x == y,
                    _ => false,
                }
            }
            (FileContent::Blob { hash, .. }, FileContent::Text { obj, .. }) => self
                .text(obj, Some(b_heads))
                .is_ok_and(|t| BlobHash::of(t.as_bytes()) == *hash),
            (FileContent::Text { obj, .. }, FileContent::Blob { hash, .. }) => self
                .text(obj, Some(a_heads))
                .is_ok_and(|t| BlobHash::of(t.as_bytes()) == *hash),
        }
    }
}

/// Whether two entries refer to the same content object: the same co-edited text, or the same
/// blob. A rename keeps the reference, whatever else the change did to the content.
fn same_reference(a: &FileContent, b: &FileContent) -> bool {
    match (a, b) {
        (FileContent::Blob { hash: x, .. }, FileContent::Blob { hash: y, .. }) => x == y,
        (FileContent::Text { key: x, .. }, FileContent::Text { key: y, .. }) => x == y,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::artefact::{FileEdit, Metadata, NewFile};
    use automerge::ActorId;

    fn meta() -> Metadata {
        Metadata {
            title: "Versjoner".into(),
            kind: "guide".into(),
            description: String::new(),
            tags: vec![],
            owner: "964338531".into(),
            owner_name: "Bergen kommune".into(),
            created: 1_700_000_000,
        }
    }

    fn new_file(path: &str, content: &[u8]) -> NewFile {
        NewFile {
            path: path.into(),
            blob: BlobHash::of(content),
            size: content.len() as u64,
            executable: false,
        }
    }

    fn write(path: &str, content: &str) -> FileEdit {
        FileEdit::Write {
            path: path.into(),
            content: content.as_bytes().to_vec(),
            executable: false,
        }
    }

    /// Applies `edits` at the current heads; returns the change's hash and its dependencies.
    fn edit(
        a: &mut Artefact,
        edits: &[FileEdit],
        blobs: &[(&str, &str)],
        n: u8,
    ) -> (ChangeHash, Vec<ChangeHash>) {
        let base = a.heads();
        let blobs: Vec<(BlobHash, String)> = blobs
            .iter()
            .map(|(_, c)| (BlobHash::of(c.as_bytes()), c.to_string()))
            .collect();
        let outcome = a
            .edit(
                &base,
                edits,
                ActorId::from(vec![n; 16]),
                0,
                "endring",
                |h| blobs.iter().find(|(b, _)| b == h).map(|(_, c)| c.clone()),
            )
            .unwrap();
        let change = outcome.change.unwrap();
        (change.hash(), change.deps().to_vec())
    }

    #[test]
    fn each_change_is_judged_against_what_its_author_saw() {
        let readme = "# Hei\nlinje\n";
        let other = "annen\n";
        let (mut a, genesis) = Artefact::genesis(
            &meta(),
            &[
                new_file("README.md", readme.as_bytes()),
                new_file("other.txt", other.as_bytes()),
            ],
            ActorId::from(vec![1; 16]),
            0,
            "første",
            false,
        )
        .unwrap();
        let g = genesis.hash();
        assert_eq!(a.file_change("README.md", &g, &[]), Some(FileChange::Added));
        let blobs = [("README.md", readme), ("other.txt", other)];

        // Edit README (first edit: becomes text).
        let (c1, d1) = edit(&mut a, &[write("README.md", "# Hei\nendret\n")], &blobs, 2);
        assert_eq!(
            a.file_change("README.md", &c1, &d1),
            Some(FileChange::Modified)
        );
        assert_eq!(a.file_change("other.txt", &c1, &d1), None);
        // Edit it again (a text edit now).
        let (c2, d2) = edit(&mut a, &[write("README.md", "# Hei\nigjen\n")], &blobs, 3);
        assert_eq!(
            a.file_change("README.md", &c2, &d2),
            Some(FileChange::Modified)
        );
        // A change to another file leaves README out.
        let (c3, d3) = edit(&mut a, &[write("other.txt", "ny\n")], &blobs, 4);
        assert_eq!(a.file_change("README.md", &c3, &d3), None);
        assert_eq!(
            a.file_change("other.txt", &c3, &d3),
            Some(FileChange::Modified)
        );
        // Rename README.md -> docs/README.md: both paths say so.
        let (c4, d4) = edit(
            &mut a,
            &[FileEdit::Rename {
                from: "README.md".into(),
                to: "docs/README.md".into(),
            }],
            &blobs,
            5,
        );
        assert_eq!(
            a.file_change("README.md", &c4, &d4),
            Some(FileChange::RenamedTo("docs/README.md".into()))
        );
        assert_eq!(
            a.file_change("docs/README.md", &c4, &d4),
            Some(FileChange::RenamedFrom("README.md".into()))
        );
        // Delete, then add a new file.
        let (c5, d5) = edit(
            &mut a,
            &[
                FileEdit::Delete {
                    path: "other.txt".into(),
                },
                write("ny.txt", "ny fil\n"),
            ],
            &blobs,
            6,
        );
        assert_eq!(
            a.file_change("other.txt", &c5, &d5),
            Some(FileChange::Deleted)
        );
        assert_eq!(a.file_change("ny.txt", &c5, &d5), Some(FileChange::Added));
        assert_eq!(a.file_change("docs/README.md", &c5, &d5), None);
        // A file that never existed was never touched.
        assert_eq!(a.file_change("borte.txt", &c5, &d5), None);
    }

    #[test]
    fn an_executable_bit_alone_is_a_modification() {
        let content = "#!/bin/sh\n";
        let (mut a, _) = Artefact::genesis(
            &meta(),
            &[new_file("run.sh", content.as_bytes())],
            ActorId::from(vec![1; 16]),
            0,
            "første",
            false,
        )
        .unwrap();
        let (c, d) = edit(
            &mut a,
            &[FileEdit::Write {
                path: "run.sh".into(),
                content: content.as_bytes().to_vec(),
                executable: true,
            }],
            &[("run.sh", content)],
            2,
        );
        assert_eq!(a.file_change("run.sh", &c, &d), Some(FileChange::Modified));
    }
}
