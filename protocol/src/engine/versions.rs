//! Naming any version of an artefact, and the history of one file.
//!
//! Every version an artefact ever had stays in its document, so every version can be checked
//! out, exported, shown and compared. People name one the way they name a git commit: by a
//! change hash or a unique hex prefix of one (as `log` prints them), or by the word `endorsed`
//! for the version a curator vouched for most recently. The name is resolved here, on the node
//! that holds the document, so the CLI and the portal resolve it the same way; an ambiguous
//! prefix names its candidates so the user can pick one.

use super::{Engine, EngineError, HistoryEntry, PeerKey};
use crate::artefact::conflict::history::History;
use crate::artefact::versions::FileChange;
use crate::artefact::ArtefactId;
use crate::signed::actor_key;
use crate::store::Store;
use automerge::ChangeHash;

/// The word that names the version a curator endorsed most recently.
pub const ENDORSED: &str = "endorsed";

/// Candidates listed at most when a prefix is ambiguous.
const MAX_CANDIDATES: usize = 10;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum VersionError {
    #[error("{version:?} is not a version: give one change hash, or a prefix of one (hex digits, as `allmenning log` prints them), or `endorsed`")]
    Malformed { version: String },
    #[error("artefact {id} has no change whose hash starts with {version:?}")]
    Unknown { id: String, version: String },
    #[error("version {version:?} of artefact {id} is ambiguous: it starts {} changes: {}", candidates.len(), candidates.join("; "))]
    Ambiguous {
        id: String,
        version: String,
        /// Each as a longer hash prefix and the change's message.
        candidates: Vec<String>,
    },
}

/// One entry of a file's history: the change, and what it did to the file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileHistoryEntry {
    pub change: HistoryEntry,
    pub file: FileChange,
}

impl<S: Store, P: PeerKey> Engine<S, P> {
    /// The heads of the version `version` of artefact `id` names: a change hash, a unique
    /// prefix of the hash of one of its (signed) changes, or `endorsed` (see
    /// [`Engine::endorsed_heads`]). Case and surrounding spaces do not matter.
    pub fn resolve_version(
        &mut self,
        id: &ArtefactId,
        version: &str,
    ) -> Result<Vec<ChangeHash>, EngineError> {
        let wanted = version.trim().to_ascii_lowercase();
        if wanted == ENDORSED {
            return self.endorsed_heads(id);
        }
        let malformed = || VersionError::Malformed {
            version: version.to_string(),
        };
        if wanted.is_empty() || wanted.len() > 64 || !wanted.bytes().all(|b| b.is_ascii_hexdigit())
        {
            return Err(malformed().into());
        }
        let doc = &self.artefact(id)?.doc;
        let matches: Vec<(ChangeHash, String)> = doc
            .get_changes_meta(&[])
            .into_iter()
            // Origin changes are bookkeeping nobody wrote; only signed changes are versions.
            .filter(|c| actor_key(&c.actor).is_some())
            .filter(|c| c.hash.to_string().starts_with(&wanted))
            .map(|c| (c.hash, c.message.as_deref().unwrap_or_default().to_string()))
            .collect();
        match matches.as_slice() {
            [(hash, _)] => Ok(vec![*hash]),
            [] => Err(VersionError::Unknown {
                id: id.to_hex(),
                version: wanted,
            }
            .into()),
            many => {
                let shown = (wanted.len() + 4).clamp(12, 64);
                let mut candidates: Vec<String> = many
                    .iter()
                    .take(MAX_CANDIDATES)
                    .map(|(hash, message)| {
                        let first = message.lines().next().unwrap_or_default();
                        let first: String = first.chars().take(50).collect();
                        format!("{} \"{first}\"", &hash.to_string()[..shown])
                    })
                    .collect();
                if many.len() > MAX_CANDIDATES {
                    candidates.push(format!("and {} more", many.len() - MAX_CANDIDATES));
                }
                Err(VersionError::Ambiguous {
                    id: id.to_hex(),
                    version: wanted,
                    candidates,
                }
                .into())
            }
        }
    }

    /// The changes that touched the file at `path`, newest first, each with what it did (added,
    /// modified, deleted, renamed from or to another path). A change is judged against its own
    /// dependencies, the state its author edited.
    ///
    /// Only the changes whose operations concern the path (the index conflicts are decided on,
    /// built in one pass over the history) are judged: reading the file before and after every
    /// change of a long history would cost a full read of the file per change.
    pub fn file_history(
        &mut self,
        id: &ArtefactId,
        path: &str,
    ) -> Result<Vec<FileHistoryEntry>, EngineError> {
        let history = self.history(id)?;
        let artefact = self.artefact(id)?;
        let index = History::of(&artefact.doc);
        let Some(touches) = index.touches.get(path) else {
            return Ok(Vec::new());
        };
        let touched = |hash: &ChangeHash| {
            index
                .index
                .get(hash)
                .is_some_and(|i| touches.binary_search(i).is_ok())
        };
        Ok(history
            .into_iter()
            .filter(|change| touched(&change.hash))
            .filter_map(|change| {
                artefact
                    .file_change(path, &change.hash, &change.deps)
                    .map(|file| FileHistoryEntry { change, file })
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::artefact::{FileEdit, Metadata};
    use crate::engine::FileData;
    use crate::identity::NodeKey;
    use crate::store::MemStore;

    type TestEngine = Engine<MemStore, usize>;

    fn engine() -> TestEngine {
        Engine::new(NodeKey::from_secret([7; 32]), MemStore::new())
    }

    fn publish(engine: &mut TestEngine, readme: &str) -> ArtefactId {
        let meta = Metadata {
            title: "Versjoner".into(),
            kind: "guide".into(),
            description: String::new(),
            tags: vec![],
            owner: "964338531".into(),
            owner_name: "Bergen kommune".into(),
            created: 1_700_000_000,
        };
        let files = [
            FileData {
                path: "README.md".into(),
                content: readme.as_bytes().to_vec(),
                executable: false,
            },
            FileData {
                path: "other.txt".into(),
                content: b"annen\n".to_vec(),
                executable: false,
            },
        ];
        engine
            .publish(&meta, &files, None, 1_700_000_000, [1; 8])
            .unwrap()
    }

    fn commit(engine: &mut TestEngine, id: &ArtefactId, edits: &[FileEdit], n: u8) -> ChangeHash {
        let base = engine.artefact(id).unwrap().heads();
        engine
            .commit(
                id,
                &base,
                edits,
                &format!("endring {n}"),
                1_700_000_000 + i64::from(n),
                [n; 8],
            )
            .unwrap()
            .unwrap()
    }

    fn write(path: &str, content: &str) -> FileEdit {
        FileEdit::Write {
            path: path.into(),
            content: content.as_bytes().to_vec(),
            executable: false,
        }
    }

    fn readme_at(engine: &mut TestEngine, id: &ArtefactId, heads: &[ChangeHash]) -> String {
        let (_, files) = engine.files(id, Some(heads)).unwrap();
        let readme = files.into_iter().find(|f| f.path == "README.md").unwrap();
        String::from_utf8(readme.content).unwrap()
    }

    /// Commits until two signed changes share their first hex digit (16 possible), so that the
    /// ambiguous case is real. Returns (id, every signed change, newest last).
    fn artefact_with_a_shared_prefix(engine: &mut TestEngine) -> (ArtefactId, Vec<ChangeHash>) {
        let id = publish(engine, "v0\n");
        let mut changes = engine.artefact(&id).unwrap().heads();
        for n in 1..40u8 {
            changes.push(commit(
                engine,
                &id,
                &[write("README.md", &format!("v{n}\n"))],
                n,
            ));
            let firsts: Vec<char> = changes
                .iter()
                .map(|c| c.to_string().chars().next().unwrap_or('-'))
                .collect();
            let mut sorted = firsts.clone();
            sorted.sort_unstable();
            sorted.dedup();
            if sorted.len() < firsts.len() {
                return (id, changes);
            }
        }
        panic!("17 changes always share a first digit");
    }

    #[test]
    fn a_full_hash_or_a_unique_prefix_names_that_version() {
        let mut engine = engine();
        let id = publish(&mut engine, "første\n");
        let first = engine.artefact(&id).unwrap().heads();
        let second = commit(&mut engine, &id, &[write("README.md", "andre\n")], 2);
        let third = commit(&mut engine, &id, &[write("README.md", "tredje\n")], 3);

        let full = second.to_string();
        assert_eq!(engine.resolve_version(&id, &full).unwrap(), vec![second]);
        assert_eq!(
            engine
                .resolve_version(&id, &format!(" {} ", full.to_uppercase()))
                .unwrap(),
            vec![second]
        );
        // The shortest prefix that only this change has.
        let unique = (1..=64)
            .map(|n| &full[..n])
            .find(|p| {
                [first[0], third]
                    .iter()
                    .all(|other| !other.to_string().starts_with(p))
            })
            .unwrap();
        assert_eq!(engine.resolve_version(&id, unique).unwrap(), vec![second]);
        let at = engine.resolve_version(&id, unique).unwrap();
        assert_eq!(readme_at(&mut engine, &id, &at), "andre\n");
        let at = engine
            .resolve_version(&id, &first[0].to_string()[..10])
            .unwrap();
        assert_eq!(readme_at(&mut engine, &id, &at), "første\n");
    }

    #[test]
    fn an_ambiguous_prefix_names_its_candidates() {
        let mut engine = engine();
        let (id, changes) = artefact_with_a_shared_prefix(&mut engine);
        let newest = changes.last().unwrap().to_string();
        let prefix = &newest[..1];
        let sharing: Vec<String> = changes
            .iter()
            .map(|c| c.to_string())
            .filter(|c| c.starts_with(prefix))
            .collect();
        assert!(sharing.len() >= 2);
        match engine.resolve_version(&id, prefix) {
            Err(EngineError::Version(VersionError::Ambiguous {
                version,
                candidates,
                ..
            })) => {
                assert_eq!(version, prefix);
                assert_eq!(candidates.len(), sharing.len().min(MAX_CANDIDATES));
                for hash in sharing.iter().take(MAX_CANDIDATES) {
                    assert!(
                        candidates.iter().any(|c| c.starts_with(&hash[..12])),
                        "{hash} not among {candidates:?}"
                    );
                }
                assert!(
                    candidates.iter().any(|c| c.contains("\"endring ")),
                    "{candidates:?}"
                );
            }
            other => panic!("expected an ambiguous prefix, got {other:?}"),
        }
        // The error says so in words.
        let message = engine.resolve_version(&id, prefix).unwrap_err().to_string();
        assert!(message.contains("ambiguous"), "{message}");
        assert!(message.contains(&sharing[0][..12]), "{message}");
    }

    #[test]
    fn unknown_and_malformed_versions_are_refused() {
        let mut engine = engine();
        let id = publish(&mut engine, "første\n");
        let head = engine.artefact(&id).unwrap().heads()[0].to_string();
        // A prefix no change has: flip the first digit of the only change.
        let other = if head.starts_with('0') { "1" } else { "0" };
        assert!(matches!(
            engine.resolve_version(&id, other),
            Err(EngineError::Version(VersionError::Unknown { .. }))
        ));
        let absent = format!("{other}{}", &head[1..]);
        assert!(matches!(
            engine.resolve_version(&id, &absent),
            Err(EngineError::Version(VersionError::Unknown { .. }))
        ));
        for bad in ["", "  ", "xyz", "abc,def", "latest", &format!("{head}0")] {
            assert!(
                matches!(
                    engine.resolve_version(&id, bad),
                    Err(EngineError::Version(VersionError::Malformed { .. }))
                ),
                "{bad:?}"
            );
        }
        // Another artefact's change is not a version of this one.
        let other_id = publish(&mut engine, "en annen\n");
        let other_head = engine.artefact(&other_id).unwrap().heads()[0].to_string();
        assert!(matches!(
            engine.resolve_version(&id, &other_head),
            Err(EngineError::Version(VersionError::Unknown { .. }))
        ));
    }

    #[test]
    fn endorsed_without_an_endorsement_is_an_error_not_the_latest_version() {
        let mut engine = engine();
        let id = publish(&mut engine, "første\n");
        commit(&mut engine, &id, &[write("README.md", "andre\n")], 2);
        for word in ["endorsed", "Endorsed", " endorsed "] {
            match engine.resolve_version(&id, word) {
                Err(EngineError::Missing(what)) => assert!(what.contains("endorsed"), "{what}"),
                other => panic!("expected no endorsed version, got {other:?}"),
            }
        }
    }

    #[test]
    fn file_history_lists_only_the_changes_to_that_file() {
        let mut engine = engine();
        let id = publish(&mut engine, "første\n");
        let genesis = engine.artefact(&id).unwrap().heads()[0];
        let c1 = commit(&mut engine, &id, &[write("README.md", "andre\n")], 1);
        let _c2 = commit(&mut engine, &id, &[write("other.txt", "endret\n")], 2);
        let c3 = commit(
            &mut engine,
            &id,
            &[FileEdit::Rename {
                from: "README.md".into(),
                to: "LESMEG.md".into(),
            }],
            3,
        );
        let c4 = commit(
            &mut engine,
            &id,
            &[FileEdit::Delete {
                path: "LESMEG.md".into(),
            }],
            4,
        );
        let of = |h: &[FileHistoryEntry]| -> Vec<(ChangeHash, FileChange)> {
            h.iter().map(|e| (e.change.hash, e.file.clone())).collect()
        };
        assert_eq!(
            of(&engine.file_history(&id, "README.md").unwrap()),
            vec![
                (c3, FileChange::RenamedTo("LESMEG.md".into())),
                (c1, FileChange::Modified),
                (genesis, FileChange::Added),
            ]
        );
        assert_eq!(
            of(&engine.file_history(&id, "LESMEG.md").unwrap()),
            vec![
                (c4, FileChange::Deleted),
                (c3, FileChange::RenamedFrom("README.md".into())),
            ]
        );
        assert!(engine
            .file_history(&id, "finnes-ikke.txt")
            .unwrap()
            .is_empty());
        assert_eq!(engine.file_history(&id, "other.txt").unwrap().len(), 2);
    }

    /// Judging only the changes the history index says concern a path finds what judging every
    /// change finds, with concurrent edits, renames, a blob becoming text and an executable bit.
    #[test]
    fn file_history_agrees_with_judging_every_change() {
        let mut engine = engine();
        let id = publish(&mut engine, "første\n");
        let genesis = engine.artefact(&id).unwrap().heads();
        commit(&mut engine, &id, &[write("README.md", "andre\n")], 1);
        // Concurrent with the edit above: made on the genesis.
        engine
            .commit(
                &id,
                &genesis,
                &[write("other.txt", "samtidig\n"), write("ny.txt", "ny\n")],
                "samtidig",
                1_700_000_002,
                [2; 8],
            )
            .unwrap()
            .unwrap();
        commit(
            &mut engine,
            &id,
            &[FileEdit::Rename {
                from: "ny.txt".into(),
                to: "docs/ny.txt".into(),
            }],
            3,
        );
        commit(
            &mut engine,
            &id,
            &[FileEdit::Write {
                path: "other.txt".into(),
                content: b"samtidig\n".to_vec(),
                executable: true,
            }],
            4,
        );
        commit(
            &mut engine,
            &id,
            &[FileEdit::Delete {
                path: "README.md".into(),
            }],
            5,
        );
        let history = engine.history(&id).unwrap();
        for path in [
            "README.md",
            "other.txt",
            "ny.txt",
            "docs/ny.txt",
            "borte.txt",
        ] {
            let artefact = engine.artefact(&id).unwrap();
            let every: Vec<(ChangeHash, FileChange)> = history
                .iter()
                .filter_map(|c| {
                    artefact
                        .file_change(path, &c.hash, &c.deps)
                        .map(|f| (c.hash, f))
                })
                .collect();
            let indexed: Vec<(ChangeHash, FileChange)> = engine
                .file_history(&id, path)
                .unwrap()
                .into_iter()
                .map(|e| (e.change.hash, e.file))
                .collect();
            assert_eq!(indexed, every, "{path}");
            if path != "borte.txt" {
                assert!(!indexed.is_empty(), "{path}");
            }
        }
    }
}
