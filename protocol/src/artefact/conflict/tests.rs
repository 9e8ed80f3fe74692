use super::*;
use crate::artefact::{FileEdit, Metadata, NewFile};
use crate::identity::PublicKey;
use crate::signed::signed_actor;
use automerge::ActorId;
use proptest::prelude::*;
use std::collections::{BTreeSet, HashMap};

fn meta() -> Metadata {
    Metadata {
        title: "t".into(),
        kind: "code".into(),
        description: String::new(),
        tags: vec![],
        owner: "964338531".into(),
        owner_name: "Bergen kommune".into(),
        created: 0,
    }
}

fn actor(n: u8) -> ActorId {
    signed_actor(&PublicKey([n; 32]), [n; 8])
}

/// A published artefact and the contents of its blobs.
struct Fixture {
    blobs: HashMap<BlobHash, Vec<u8>>,
    genesis: Artefact,
}

impl Fixture {
    fn new(files: &[(&str, &[u8])]) -> Fixture {
        let mut blobs = HashMap::new();
        let new: Vec<NewFile> = files
            .iter()
            .map(|(path, content)| {
                let blob = BlobHash::of(content);
                blobs.insert(blob, content.to_vec());
                NewFile {
                    path: path.to_string(),
                    blob,
                    size: content.len() as u64,
                    executable: false,
                }
            })
            .collect();
        let (genesis, _) = Artefact::genesis(&meta(), &new, actor(1), 0, "publish", false).unwrap();
        Fixture { blobs, genesis }
    }

    fn fork(&self) -> Artefact {
        self.genesis.clone()
    }

    /// Applies `edits` at `a`'s heads as organisation `who`.
    fn edit(&self, a: &mut Artefact, who: u8, time: i64, edits: &[FileEdit]) -> ChangeHash {
        self.edit_resolving(a, who, time, edits, &BTreeSet::new())
    }

    fn edit_resolving(
        &self,
        a: &mut Artefact,
        who: u8,
        time: i64,
        edits: &[FileEdit],
        resolve: &BTreeSet<String>,
    ) -> ChangeHash {
        let base = a.heads();
        let blobs = self.blobs.clone();
        a.edit_resolving(&base, edits, resolve, actor(who), time, "edit", move |h| {
            blobs.get(h).and_then(|b| String::from_utf8(b.clone()).ok())
        })
        .unwrap()
        .change
        .expect("the edit changed something")
        .hash()
    }
}

fn write(path: &str, content: &str) -> FileEdit {
    FileEdit::Write {
        path: path.into(),
        content: content.as_bytes().to_vec(),
        executable: false,
    }
}

fn write_bytes(path: &str, content: &[u8]) -> FileEdit {
    FileEdit::Write {
        path: path.into(),
        content: content.to_vec(),
        executable: false,
    }
}

fn rename(from: &str, to: &str) -> FileEdit {
    FileEdit::Rename {
        from: from.into(),
        to: to.into(),
    }
}

/// Both orders of exchanging the two forks' changes; the results must hold the same history.
fn exchange(a: &Artefact, b: &Artefact) -> (Artefact, Artefact) {
    let mut ab = a.clone();
    ab.doc.merge(&mut b.clone().doc).unwrap();
    let mut ba = b.clone();
    ba.doc.merge(&mut a.clone().doc).unwrap();
    assert_eq!(ab.heads(), ba.heads());
    (ab, ba)
}

/// The analysis at the current heads, checked to be the same in both arrival orders.
fn analyse_both(a: &Artefact, b: &Artefact) -> (Artefact, Analysis) {
    let (ab, ba) = exchange(a, b);
    let one = Analysis::of(&ab, &ab.heads()).unwrap();
    let two = Analysis::of(&ba, &ba.heads()).unwrap();
    assert_eq!(one, two, "the arrival order changed the outcome");
    (ab, one)
}

const PY: &str = "# Foreldrebetaling\nSATS = 0.06\n\nMAKS_INNTEKT_2026 = 677_000\n\nMIN = 0\n";

#[test]
fn the_same_line_changed_at_two_ends_is_a_text_conflict_with_both_sides() {
    let fx = Fixture::new(&[("sats.py", PY.as_bytes())]);
    let mut bergen = fx.fork();
    let mut trondheim = fx.fork();
    let b = fx.edit(
        &mut bergen,
        2,
        10,
        &[write("sats.py", &PY.replace("677_000", "690_000"))],
    );
    let t = fx.edit(
        &mut trondheim,
        3,
        11,
        &[write("sats.py", &PY.replace("677_000", "685_500"))],
    );
    let (_, analysis) = analyse_both(&bergen, &trondheim);
    let conflict = analysis.conflict("sats.py").expect("a conflict");
    assert_eq!(conflict.kind, ConflictKind::Text);
    let sides: Vec<ChangeHash> = conflict.sides.iter().map(|s| s.change).collect();
    assert_eq!(sides, vec![b, t], "oldest first");
    let text = conflict
        .merge
        .as_ref()
        .unwrap()
        .render(&["Bergen".into(), "Trondheim".into()], "base");
    assert!(text.contains(
        "<<<<<<< Bergen\nMAKS_INNTEKT_2026 = 690_000\n||||||| base\nMAKS_INNTEKT_2026 = 677_000\n=======\nMAKS_INNTEKT_2026 = 685_500\n>>>>>>> Trondheim\n"
    ), "{text}");
    assert!(!text.contains("68590"), "{text}");
    assert!(text.starts_with("# Foreldrebetaling\nSATS = 0.06\n\n"));
}

#[test]
fn edits_with_an_unchanged_line_between_merge_without_a_conflict() {
    let fx = Fixture::new(&[("sats.py", PY.as_bytes())]);
    let mut bergen = fx.fork();
    let mut trondheim = fx.fork();
    fx.edit(
        &mut bergen,
        2,
        10,
        &[write("sats.py", &PY.replace("0.06", "0.07"))],
    );
    fx.edit(
        &mut trondheim,
        3,
        11,
        &[write("sats.py", &PY.replace("677_000", "685_500"))],
    );
    let (merged, analysis) = analyse_both(&bergen, &trondheim);
    assert_eq!(analysis.conflicts().count(), 0);
    let expected = PY.replace("0.06", "0.07").replace("677_000", "685_500");
    assert_eq!(
        analysis.outcomes.get("sats.py"),
        Some(&Outcome::Merged(Version::Text {
            text: expected.clone(),
            executable: false
        }))
    );
    // Automerge's own merge agrees here.
    let entry = merged.entry("sats.py", None).unwrap();
    let FileContent::Text { obj, .. } = entry.content else {
        panic!("text")
    };
    assert_eq!(merged.text(&obj, None).unwrap(), expected);
}

#[test]
fn a_commit_on_top_that_writes_the_file_resolves_it_and_one_that_does_not_leaves_it() {
    let fx = Fixture::new(&[("sats.py", PY.as_bytes()), ("annet.md", b"x\n")]);
    let mut bergen = fx.fork();
    let mut trondheim = fx.fork();
    fx.edit(
        &mut bergen,
        2,
        10,
        &[write("sats.py", &PY.replace("677_000", "690_000"))],
    );
    fx.edit(
        &mut trondheim,
        3,
        11,
        &[write("sats.py", &PY.replace("677_000", "685_500"))],
    );
    let (mut merged, _) = analyse_both(&bergen, &trondheim);

    // On top of both sides, but another file: still conflicted.
    fx.edit(&mut merged, 4, 12, &[write("annet.md", "y\n")]);
    let analysis = Analysis::of(&merged, &merged.heads()).unwrap();
    assert_eq!(merged.heads().len(), 1);
    assert!(analysis.conflict("sats.py").is_some());

    // Writing the file, even with one side's exact text, resolves it.
    let resolve: BTreeSet<String> = ["sats.py".to_string()].into();
    let resolution = PY.replace("677_000", "690_000");
    fx.edit_resolving(
        &mut merged,
        2,
        13,
        &[write("sats.py", &resolution)],
        &resolve,
    );
    let analysis = Analysis::of(&merged, &merged.heads()).unwrap();
    assert_eq!(analysis.conflicts().count(), 0, "{analysis:?}");
    let entry = merged.entry("sats.py", None).unwrap();
    assert_eq!(merged.file_size(&entry, None), resolution.len() as u64);

    // And a late edit made before the resolution conflicts again, with the resolution.
    let mut late = trondheim.clone();
    fx.edit(
        &mut late,
        3,
        14,
        &[write("sats.py", &PY.replace("677_000", "700_000"))],
    );
    let (_, analysis) = analyse_both(&merged, &late);
    assert!(analysis.conflict("sats.py").is_some());
}

#[test]
fn concurrent_binary_replacements_keep_both_sides() {
    let fx = Fixture::new(&[("logo.png", &[0x89, b'P', b'N', b'G', 0, 1])]);
    let mut bergen = fx.fork();
    let mut trondheim = fx.fork();
    fx.edit(
        &mut bergen,
        2,
        10,
        &[write_bytes("logo.png", &[0x89, 0, 2, 0xff])],
    );
    fx.edit(
        &mut trondheim,
        3,
        11,
        &[write_bytes("logo.png", &[0x89, 0, 3, 0xfe])],
    );
    let (_, analysis) = analyse_both(&bergen, &trondheim);
    let conflict = analysis.conflict("logo.png").expect("a conflict");
    assert_eq!(conflict.kind, ConflictKind::Binary);
    let hashes: BTreeSet<BlobHash> = conflict
        .sides
        .iter()
        .map(|s| match &s.version {
            Version::Blob { hash, .. } => *hash,
            v => panic!("{v:?}"),
        })
        .collect();
    assert_eq!(hashes.len(), 2);
    assert!(conflict.shown.is_present());
}

#[test]
fn the_same_new_path_added_at_two_ends_is_add_add() {
    let fx = Fixture::new(&[("README.md", b"hei\n")]);
    let mut bergen = fx.fork();
    let mut trondheim = fx.fork();
    fx.edit(&mut bergen, 2, 10, &[write("ny.md", "Bergen\n")]);
    fx.edit(&mut trondheim, 3, 11, &[write("ny.md", "Trondheim\n")]);
    let (_, analysis) = analyse_both(&bergen, &trondheim);
    let conflict = analysis.conflict("ny.md").expect("a conflict");
    assert_eq!(conflict.kind, ConflictKind::AddAdd);
    assert_eq!(conflict.sides.len(), 2);

    // The same content added at both ends is no conflict.
    let mut one = fx.fork();
    let mut two = fx.fork();
    fx.edit(&mut one, 2, 10, &[write("ny.md", "samme\n")]);
    fx.edit(&mut two, 3, 11, &[write("ny.md", "samme\n")]);
    let (_, analysis) = analyse_both(&one, &two);
    assert_eq!(analysis.conflicts().count(), 0);
}

#[test]
fn delete_against_edit_keeps_the_edited_file() {
    let fx = Fixture::new(&[("dpia.md", b"Status: utkast\nEier: Bergen\n")]);
    let mut bergen = fx.fork();
    let mut trondheim = fx.fork();
    fx.edit(
        &mut bergen,
        2,
        10,
        &[FileEdit::Delete {
            path: "dpia.md".into(),
        }],
    );
    fx.edit(
        &mut trondheim,
        3,
        11,
        &[write("dpia.md", "Status: i pilot\nEier: Bergen\n")],
    );
    let (mut merged, analysis) = analyse_both(&bergen, &trondheim);
    let conflict = analysis.conflict("dpia.md").expect("a conflict");
    assert_eq!(conflict.kind, ConflictKind::DeleteEdit);
    assert_eq!(
        conflict.shown,
        Version::Text {
            text: "Status: i pilot\nEier: Bergen\n".into(),
            executable: false
        }
    );
    // Resolving by deleting: allowed although the document no longer has the file.
    let resolve: BTreeSet<String> = ["dpia.md".to_string()].into();
    fx.edit_resolving(
        &mut merged,
        2,
        12,
        &[FileEdit::Delete {
            path: "dpia.md".into(),
        }],
        &resolve,
    );
    let analysis = Analysis::of(&merged, &merged.heads()).unwrap();
    assert_eq!(analysis.conflicts().count(), 0);
    assert_eq!(
        analysis.outcomes.get("dpia.md"),
        None,
        "one file head: the document decides"
    );
    assert!(merged.entry("dpia.md", None).is_none());
}

#[test]
fn renames_to_different_paths_and_rename_against_edit_are_conflicts() {
    let fx = Fixture::new(&[("a.md", b"en\nto\n"), ("b.bin", &[0xff, 1, 2])]);
    let mut bergen = fx.fork();
    let mut trondheim = fx.fork();
    fx.edit(&mut bergen, 2, 10, &[rename("a.md", "bergen.md")]);
    fx.edit(&mut trondheim, 3, 11, &[rename("a.md", "trondheim.md")]);
    let (merged, analysis) = analyse_both(&bergen, &trondheim);
    let conflict = analysis.conflict("a.md").expect("a conflict");
    assert_eq!(conflict.kind, ConflictKind::RenameRename);
    assert_eq!(conflict.paths(), vec!["a.md", "bergen.md", "trondheim.md"]);
    assert!(merged.entry("bergen.md", None).is_some());
    assert!(merged.entry("trondheim.md", None).is_some());

    let mut bergen = fx.fork();
    let mut trondheim = fx.fork();
    fx.edit(&mut bergen, 2, 10, &[rename("b.bin", "c.bin")]);
    fx.edit(
        &mut trondheim,
        3,
        11,
        &[write_bytes("b.bin", &[0xff, 0xfe, 0x00])],
    );
    let (_, analysis) = analyse_both(&bergen, &trondheim);
    let conflict = analysis.conflict("b.bin").expect("a conflict");
    assert_eq!(conflict.kind, ConflictKind::RenameEdit);
    assert!(matches!(conflict.shown, Version::Blob { size: 3, .. }));
}

#[test]
fn three_ends_agree_on_one_conflict_in_every_order() {
    let fx = Fixture::new(&[("sats.py", PY.as_bytes())]);
    let mut forks: Vec<Artefact> = (0..3).map(|_| fx.fork()).collect();
    for (i, value) in ["690_000", "685_500", "700_000"].iter().enumerate() {
        fx.edit(
            &mut forks[i],
            2 + i as u8,
            10 + i as i64,
            &[write("sats.py", &PY.replace("677_000", value))],
        );
    }
    let mut seen: Option<Analysis> = None;
    for order in [[0, 1, 2], [2, 1, 0], [1, 0, 2], [1, 2, 0]] {
        let mut doc = forks[order[0]].clone();
        for &i in &order[1..] {
            doc.doc.merge(&mut forks[i].clone().doc).unwrap();
        }
        let analysis = Analysis::of(&doc, &doc.heads()).unwrap();
        let conflict = analysis.conflict("sats.py").unwrap();
        assert_eq!(conflict.sides.len(), 3);
        if let Some(prev) = &seen {
            assert_eq!(prev, &analysis);
        }
        seen = Some(analysis);
    }
}

#[test]
fn an_older_version_is_analysed_at_its_own_heads() {
    let fx = Fixture::new(&[("sats.py", PY.as_bytes())]);
    let mut bergen = fx.fork();
    let mut trondheim = fx.fork();
    let b = fx.edit(
        &mut bergen,
        2,
        10,
        &[write("sats.py", &PY.replace("677_000", "690_000"))],
    );
    fx.edit(
        &mut trondheim,
        3,
        11,
        &[write("sats.py", &PY.replace("677_000", "685_500"))],
    );
    let (merged, _) = analyse_both(&bergen, &trondheim);
    let at_bergen = Analysis::of(&merged, &[b]).unwrap();
    assert_eq!(at_bergen.conflicts().count(), 0);
}

#[test]
fn more_concurrent_versions_than_are_compared_are_a_conflict_with_the_rest_counted() {
    let fx = Fixture::new(&[("f.txt", b"a\nb\nc\n")]);
    let mut all = fx.fork();
    let n = MAX_SIDES + 8;
    for i in 0..n {
        let mut fork = fx.fork();
        // Identical edits: they would merge, were it not for their number.
        fx.edit(
            &mut fork,
            2 + (i % 200) as u8,
            i as i64,
            &[write("f.txt", "a\nB\nc\n")],
        );
        all.doc.merge(&mut fork.doc).unwrap();
    }
    let analysis = Analysis::of(&all, &all.heads()).unwrap();
    let conflict = analysis.conflict("f.txt").expect("a conflict");
    assert_eq!(conflict.sides.len() + conflict.omitted.len(), n);
    assert_eq!(conflict.omitted.len(), 8);
}

/// A text of `n` distinct lines.
fn lines(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("linje {i}\n")).collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Random single-line edits at two ends: with an unchanged line between them they never
    /// conflict, and the result equals the line-based three-way merge and Automerge's own
    /// merge; on the same or adjacent lines (and different) they always conflict.
    #[test]
    fn line_edits_merge_or_conflict_as_a_line_merge_says(
        n in 3usize..30,
        x in 0usize..30,
        y in 0usize..30,
        a in "[a-zæøå ]{0,12}",
        b in "[a-zæøå ]{0,12}",
    ) {
        let x = x % n;
        let y = y % n;
        let base = lines(n);
        let base_text: String = base.concat();
        let fx = Fixture::new(&[("f.txt", base_text.as_bytes())]);
        let mut one_lines = base.clone();
        one_lines[x] = format!("{a} (Bergen)\n");
        let mut two_lines = base.clone();
        two_lines[y] = format!("{b} (Trondheim)\n");
        let (one_text, two_text) = (one_lines.concat(), two_lines.concat());
        let mut one = fx.fork();
        let mut two = fx.fork();
        fx.edit(&mut one, 2, 10, &[write("f.txt", &one_text)]);
        fx.edit(&mut two, 3, 11, &[write("f.txt", &two_text)]);
        let (merged, analysis) = analyse_both(&one, &two);
        let line_merge = Merge::of(&base_text, &[&one_text, &two_text]);
        if x.abs_diff(y) >= 2 {
            prop_assert_eq!(analysis.conflicts().count(), 0);
            let expected = line_merge.clean_text().expect("clean");
            prop_assert_eq!(
                analysis.outcomes.get("f.txt"),
                Some(&Outcome::Merged(Version::Text { text: expected.clone(), executable: false }))
            );
            let entry = merged.entry("f.txt", None).unwrap();
            let FileContent::Text { obj, .. } = entry.content else { panic!("text") };
            prop_assert_eq!(merged.text(&obj, None).unwrap(), expected);
        } else {
            let conflict = analysis.conflict("f.txt");
            prop_assert!(conflict.is_some(), "x={} y={}", x, y);
            prop_assert_eq!(conflict.unwrap().kind, ConflictKind::Text);
        }
    }
}

#[test]
fn a_rename_rename_conflict_is_resolved_by_a_commit_that_touches_either_new_path() {
    let fx = Fixture::new(&[("a.md", b"en\nto\n")]);
    let mut bergen = fx.fork();
    let mut trondheim = fx.fork();
    fx.edit(&mut bergen, 2, 10, &[rename("a.md", "bergen.md")]);
    fx.edit(&mut trondheim, 3, 11, &[rename("a.md", "trondheim.md")]);
    let (mut merged, analysis) = analyse_both(&bergen, &trondheim);
    // Keeping Bergen's name: delete Trondheim's copy.
    let resolve: BTreeSet<String> = analysis
        .resolved_by(&["trondheim.md"])
        .into_iter()
        .map(|c| c.path.clone())
        .collect();
    assert_eq!(resolve, ["a.md".to_string()].into());
    fx.edit_resolving(
        &mut merged,
        2,
        12,
        &[FileEdit::Delete {
            path: "trondheim.md".into(),
        }],
        &resolve,
    );
    let analysis = Analysis::of(&merged, &merged.heads()).unwrap();
    assert_eq!(analysis.conflicts().count(), 0, "{analysis:?}");
    assert!(merged.entry("bergen.md", None).is_some());
    assert!(merged.entry("trondheim.md", None).is_none());
}

#[test]
fn a_text_file_renamed_at_one_end_and_edited_at_the_other_keeps_the_edit() {
    let fx = Fixture::new(&[("a.md", b"en\nto\ntre\n")]);
    // Make it text first, so that the rename carries the text object.
    let mut base = fx.fork();
    fx.edit(&mut base, 2, 5, &[write("a.md", "en\nto\ntre\nfire\n")]);
    let mut bergen = base.clone();
    let mut trondheim = base.clone();
    fx.edit(&mut bergen, 2, 10, &[rename("a.md", "b.md")]);
    fx.edit(
        &mut trondheim,
        3,
        11,
        &[write("a.md", "EN\nto\ntre\nfire\n")],
    );
    let (_, analysis) = analyse_both(&bergen, &trondheim);
    let conflict = analysis.conflict("a.md").expect("a conflict");
    assert_eq!(conflict.kind, ConflictKind::RenameEdit);
    // The edited version is kept at the old path; nothing is lost.
    assert_eq!(
        conflict.shown,
        Version::Text {
            text: "EN\nto\ntre\nfire\n".into(),
            executable: false
        }
    );
}
