//! Sync between in-memory engines: convergence, concurrent edits, verification, catch-up.

use super::*;
use crate::artefact::{FileEdit, Metadata};
use crate::store::MemStore;
use crate::testing::SimNet;

fn meta(title: &str) -> Metadata {
    Metadata {
        title: title.into(),
        kind: "integration".into(),
        description: "Automatisering av redusert foreldrebetaling".into(),
        tags: vec!["barnehage".into()],
        owner: "964338531".into(),
        owner_name: "Bergen kommune".into(),
        created: 1_700_000_000,
    }
}

fn sample_files() -> Vec<FileData> {
    vec![
        FileData {
            path: "README.md".into(),
            content: b"# Redusert foreldrebetaling\n\nLinje 1\nLinje 2\nLinje 3\n".to_vec(),
            executable: false,
        },
        FileData {
            path: "src/flyt.bpmn".into(),
            content: b"<bpmn/>\n".to_vec(),
            executable: false,
        },
        FileData {
            path: "bin/logo.png".into(),
            content: vec![0x89, b'P', b'N', b'G', 0xff, 0x00, 0xfe],
            executable: false,
        },
        FileData {
            path: "run.sh".into(),
            content: b"#!/bin/sh\necho hei\n".to_vec(),
            executable: true,
        },
    ]
}

fn publish(net: &mut SimNet, node: usize) -> ArtefactId {
    let nonce = net.nonce();
    let now = net.now;
    net.nodes[node]
        .publish(&meta("Foreldrebetaling"), &sample_files(), None, now, nonce)
        .unwrap()
}

fn files_of(net: &mut SimNet, node: usize, id: &ArtefactId) -> Vec<FileData> {
    net.nodes[node].files(id, None).unwrap().1
}

fn heads_of(net: &mut SimNet, node: usize, id: &ArtefactId) -> Vec<ChangeHash> {
    net.nodes[node].artefact(id).unwrap().heads()
}

fn readme(net: &mut SimNet, node: usize, id: &ArtefactId) -> String {
    let files = files_of(net, node, id);
    String::from_utf8(
        files
            .into_iter()
            .find(|f| f.path == "README.md")
            .unwrap()
            .content,
    )
    .unwrap()
}

fn edit_readme(net: &mut SimNet, node: usize, id: &ArtefactId, from: &str, to: &str) -> ChangeHash {
    let (base, files) = net.nodes[node].files(id, None).unwrap();
    let text = String::from_utf8(
        files
            .into_iter()
            .find(|f| f.path == "README.md")
            .unwrap()
            .content,
    )
    .unwrap();
    assert!(text.contains(from), "{from:?} not in {text:?}");
    let edited = text.replace(from, to);
    let nonce = net.nonce();
    let now = net.now;
    net.nodes[node]
        .commit(
            id,
            &base,
            &[FileEdit::Write {
                path: "README.md".into(),
                content: edited.into_bytes(),
                executable: false,
            }],
            "edit",
            now,
            nonce,
        )
        .unwrap()
        .expect("a change")
}

#[test]
fn a_published_artefact_reaches_every_node_with_identical_files() {
    let mut net = SimNet::new(3, 1);
    let id = publish(&mut net, 0);
    net.connect(0, 1);
    net.connect(1, 2);
    net.run(10_000);
    let want = files_of(&mut net, 0, &id);
    for n in 1..3 {
        assert_eq!(
            heads_of(&mut net, n, &id),
            heads_of(&mut net, 0, &id),
            "node {n} heads"
        );
        assert_eq!(files_of(&mut net, n, &id), want, "node {n} files");
        let row = net.nodes[n]
            .list()
            .unwrap()
            .into_iter()
            .find(|r| r.id == id)
            .unwrap();
        assert!(row.complete, "node {n} should have every blob");
        assert_eq!(row.title, "Foreldrebetaling");
        assert_eq!(row.files, 4);
    }
    // A node that had nothing got a compact snapshot, not change-by-change sync.
    assert!(net.traffic.snapshots >= 2);
}

#[test]
fn concurrent_edits_to_one_file_both_survive_and_converge() {
    let mut net = SimNet::new(3, 2);
    let id = publish(&mut net, 0);
    net.connect(0, 1);
    net.connect(1, 2);
    net.run(10_000);
    // Partition: node 0 and node 1 edit the same file at once, neither seeing the other.
    net.disconnect(0, 1);
    edit_readme(&mut net, 0, &id, "Linje 1", "Linje 1 (Bergen)");
    edit_readme(&mut net, 1, &id, "Linje 3", "Linje 3 (Trondheim)");
    net.connect(0, 1);
    net.run(10_000);
    let text = readme(&mut net, 0, &id);
    assert!(text.contains("Linje 1 (Bergen)"), "{text}");
    assert!(text.contains("Linje 3 (Trondheim)"), "{text}");
    for n in 1..3 {
        assert_eq!(readme(&mut net, n, &id), text, "node {n}");
        assert_eq!(heads_of(&mut net, n, &id), heads_of(&mut net, 0, &id));
    }
    assert_eq!(heads_of(&mut net, 0, &id).len(), 2, "two concurrent heads");
}

#[test]
fn concurrent_edits_to_the_same_line_are_a_conflict_on_every_node_until_one_resolves_it() {
    let mut net = SimNet::new(3, 3);
    let id = publish(&mut net, 0);
    net.connect(0, 1);
    net.connect(1, 2);
    net.run(10_000);
    net.disconnect(0, 1);
    let a = edit_readme(&mut net, 0, &id, "Linje 2", "Linje 2 A");
    let b = edit_readme(&mut net, 1, &id, "Linje 2", "B Linje 2");
    net.connect(0, 1);
    net.run(10_000);
    // Never an interleaving; the same markers everywhere.
    let text = readme(&mut net, 0, &id);
    assert!(!text.contains("B Linje 2 A"), "{text}");
    assert!(text.contains("<<<<<<< "), "{text}");
    assert!(text.contains("\nLinje 2 A\n"), "{text}");
    assert!(text.contains("\nB Linje 2\n"), "{text}");
    for n in 0..3 {
        assert_eq!(readme(&mut net, n, &id), text, "node {n}");
        let conflicts = net.nodes[n].conflicts(&id, None).unwrap();
        assert_eq!(conflicts.len(), 1, "node {n}");
        assert_eq!(conflicts[0].path, "README.md");
        let sides: BTreeSet<ChangeHash> = conflicts[0].sides.iter().map(|s| s.change).collect();
        assert_eq!(sides, [a, b].into_iter().collect());
        assert_eq!(net.nodes[n].list().unwrap()[0].conflicts, 1, "node {n}");
    }
    // A commit on top that leaves README.md alone leaves the conflict.
    let (base, _) = net.nodes[2].files(&id, None).unwrap();
    let nonce = net.nonce();
    net.nodes[2]
        .commit(
            &id,
            &base,
            &[FileEdit::Write {
                path: "src/flyt.bpmn".into(),
                content: b"<bpmn v2/>\n".to_vec(),
                executable: false,
            }],
            "annet",
            net.now,
            nonce,
        )
        .unwrap();
    net.run(10_000);
    assert_eq!(net.nodes[0].conflicts(&id, None).unwrap().len(), 1);
    // Resolving on node 2 clears it on all.
    let resolved = text
        .lines()
        .filter(|l| {
            !l.starts_with("<<<<<<<")
                && !l.starts_with(">>>>>>>")
                && !l.starts_with("|||||||")
                && *l != "======="
                && *l != "Linje 2"
                && *l != "B Linje 2"
        })
        .collect::<Vec<_>>()
        .join("\n")
        + "\n";
    let (base, _) = net.nodes[2].files(&id, None).unwrap();
    let nonce = net.nonce();
    net.nodes[2]
        .commit(
            &id,
            &base,
            &[FileEdit::Write {
                path: "README.md".into(),
                content: resolved.clone().into_bytes(),
                executable: false,
            }],
            "løst",
            net.now,
            nonce,
        )
        .unwrap();
    net.run(10_000);
    for n in 0..3 {
        assert!(
            net.nodes[n].conflicts(&id, None).unwrap().is_empty(),
            "node {n}"
        );
        assert_eq!(readme(&mut net, n, &id), resolved, "node {n}");
        assert_eq!(net.nodes[n].list().unwrap()[0].conflicts, 0, "node {n}");
    }
}

#[test]
fn commits_made_on_an_old_base_do_not_undo_newer_changes() {
    let mut net = SimNet::new(1, 4);
    let id = publish(&mut net, 0);
    let (old_base, _) = net.nodes[0].files(&id, None).unwrap();
    edit_readme(&mut net, 0, &id, "Linje 1", "Linje 1 ny");
    // A second checkout still at the old base edits another line.
    let old_text = String::from_utf8(
        net.nodes[0]
            .files(&id, Some(&old_base))
            .unwrap()
            .1
            .into_iter()
            .find(|f| f.path == "README.md")
            .unwrap()
            .content,
    )
    .unwrap();
    let edited = old_text.replace("Linje 3", "Linje 3 ny");
    net.nodes[0]
        .commit(
            &id,
            &old_base,
            &[FileEdit::Write {
                path: "README.md".into(),
                content: edited.into_bytes(),
                executable: false,
            }],
            "m",
            1,
            [9; 8],
        )
        .unwrap();
    let text = readme(&mut net, 0, &id);
    assert!(
        text.contains("Linje 1 ny") && text.contains("Linje 3 ny"),
        "{text}"
    );
}

#[test]
fn renames_deletes_binary_writes_and_noop_commits() {
    let mut net = SimNet::new(2, 5);
    let id = publish(&mut net, 0);
    net.connect(0, 1);
    net.run(10_000);
    let (base, _) = net.nodes[0].files(&id, None).unwrap();
    let edits = vec![
        FileEdit::Rename {
            from: "src/flyt.bpmn".into(),
            to: "prosess/flyt.bpmn".into(),
        },
        FileEdit::Delete {
            path: "run.sh".into(),
        },
        FileEdit::Write {
            path: "bin/logo.png".into(),
            content: vec![0, 1, 2, 255],
            executable: false,
        },
        FileEdit::Write {
            path: "ny.txt".into(),
            content: b"ny fil\n".to_vec(),
            executable: false,
        },
    ];
    net.nodes[0]
        .commit(&id, &base, &edits, "omstrukturering", 2, [1; 8])
        .unwrap()
        .unwrap();
    net.run(10_000);
    let paths: Vec<String> = files_of(&mut net, 1, &id)
        .into_iter()
        .map(|f| f.path)
        .collect();
    assert_eq!(
        paths,
        vec!["README.md", "bin/logo.png", "ny.txt", "prosess/flyt.bpmn"]
    );
    let logo = files_of(&mut net, 1, &id)
        .into_iter()
        .find(|f| f.path == "bin/logo.png")
        .unwrap();
    assert_eq!(logo.content, vec![0, 1, 2, 255]);
    let (base, files) = net.nodes[0].files(&id, None).unwrap();
    let same: Vec<FileEdit> = files
        .into_iter()
        .map(|f| FileEdit::Write {
            path: f.path,
            content: f.content,
            executable: f.executable,
        })
        .collect();
    assert_eq!(
        net.nodes[0]
            .commit(&id, &base, &same, "noop", 3, [2; 8])
            .unwrap(),
        None
    );
}

#[test]
fn an_offline_node_catches_up_and_a_new_node_gets_everything() {
    let mut net = SimNet::new(4, 6);
    let id = publish(&mut net, 0);
    net.connect(0, 1);
    net.connect(0, 2);
    net.run(10_000);
    net.disconnect(0, 2);
    edit_readme(&mut net, 0, &id, "Linje 1", "Linje 1 a");
    edit_readme(&mut net, 1, &id, "Linje 2", "Linje 2 b");
    net.run(10_000);
    net.connect(0, 2);
    net.connect(3, 1);
    net.run(10_000);
    let text = readme(&mut net, 0, &id);
    for n in 1..4 {
        assert_eq!(readme(&mut net, n, &id), text, "node {n}");
        assert_eq!(
            heads_of(&mut net, n, &id),
            heads_of(&mut net, 0, &id),
            "node {n}"
        );
    }
}

#[test]
fn diverged_histories_converge_without_resending_everything() {
    let mut net = SimNet::new(2, 7);
    let id = publish(&mut net, 0);
    net.connect(0, 1);
    net.run(10_000);
    net.disconnect(0, 1);
    for i in 0..20 {
        edit_readme(&mut net, 0, &id, "Linje 1", &format!("Linje 1.{i}"));
        edit_readme(&mut net, 1, &id, "Linje 3", &format!("Linje 3.{i}"));
        // keep the marker text present for the next replace
        edit_readme(&mut net, 0, &id, &format!("Linje 1.{i}"), "Linje 1");
        edit_readme(&mut net, 1, &id, &format!("Linje 3.{i}"), "Linje 3");
    }
    net.traffic = Default::default();
    net.connect(0, 1);
    net.run(10_000);
    assert_eq!(heads_of(&mut net, 0, &id), heads_of(&mut net, 1, &id));
    assert_eq!(readme(&mut net, 0, &id), readme(&mut net, 1, &id));
    assert_eq!(
        net.traffic.snapshots, 0,
        "peers that share history exchange changes, not snapshots"
    );
}

#[test]
fn a_tampered_signature_is_refused_and_not_stored_or_relayed() {
    let mut net = SimNet::new(3, 8);
    let id = publish(&mut net, 0);
    net.connect(0, 1);
    net.connect(1, 2);
    net.run(10_000);
    net.disconnect(0, 1);
    let change = edit_readme(&mut net, 0, &id, "Linje 1", "Linje 1 forfalsket");
    // Corrupt the stored proof of that change on node 0, as a malicious node would serve it.
    let loaded = net.nodes[0].docs.get_mut(&id).unwrap();
    if let Some(Proof::Signed { signature }) = loaded.proofs.get_mut(&change) {
        signature[0] ^= 0xff;
    } else {
        panic!("expected a signed proof");
    }
    net.connect(0, 1);
    net.run(10_000);
    assert!(net.nodes[1]
        .artefact(&id)
        .unwrap()
        .doc
        .get_change_by_hash(&change)
        .is_none());
    assert!(net.nodes[2]
        .artefact(&id)
        .unwrap()
        .doc
        .get_change_by_hash(&change)
        .is_none());
    assert!(!readme(&mut net, 1, &id).contains("forfalsket"));
    assert!(net.events.iter().any(|(n, e)| *n == 1
        && matches!(e, Event::Rejected { reason, .. } if reason.contains("signature"))));
    assert!(net.nodes[1]
        .store()
        .proofs(&id)
        .unwrap()
        .iter()
        .all(|(h, _)| *h != change));
}

#[test]
fn a_change_signed_by_one_key_under_another_nodes_actor_is_refused() {
    let mut net = SimNet::new(2, 9);
    let id = publish(&mut net, 0);
    net.connect(0, 1);
    net.run(10_000);
    net.disconnect(0, 1);
    let change = edit_readme(&mut net, 0, &id, "Linje 1", "Linje 1 falsk");
    // Re-sign with a different key: the signature is valid, but not by the key in the actor id.
    let other = NodeKey::from_secret([42; 32]);
    let loaded = net.nodes[0].docs.get_mut(&id).unwrap();
    loaded
        .proofs
        .insert(change, signed::sign_change(&other, &change));
    net.connect(0, 1);
    net.run(10_000);
    assert!(net.nodes[1]
        .artefact(&id)
        .unwrap()
        .doc
        .get_change_by_hash(&change)
        .is_none());
    assert!(net
        .events
        .iter()
        .any(|(n, e)| *n == 1 && matches!(e, Event::Rejected { .. })));
}

#[test]
fn a_forged_origin_change_is_refused() {
    let blob = BlobHash::of(b"original\n");
    let forged =
        crate::artefact::origin::origin_change("README.md", &blob, "something else\n").unwrap();
    let proof = Proof::Origin {
        path: "README.md".into(),
        blob,
    };
    let result = signed::verify_change(&forged, &proof, |_| Some(b"original\n".to_vec()));
    assert!(
        matches!(result, Err(VerifyError::OriginMismatch { .. })),
        "{result:?}"
    );
}

#[test]
fn garbage_from_a_peer_is_an_error_not_a_panic() {
    let mut net = SimNet::new(2, 10);
    let id = publish(&mut net, 0);
    let resp = net.nodes[0].handle_request(1, b"\x01\xff\xff\xff");
    assert!(matches!(
        Response::decode(&resp),
        Ok(Response::Refused { .. })
    ));
    net.nodes[1].handle_announce(0, b"nonsense");
    let pull = Request::Pull {
        id,
        heads: vec![],
        have: vec![],
        need: vec![],
    };
    net.nodes[1].handle_connected(0, None);
    net.nodes[1].handle_response(0, &pull, b"\x01garbage");
    let bogus_snapshot = Response::Snapshot {
        id,
        document: b"not automerge".to_vec(),
        proofs: vec![],
        origin_blobs: vec![],
    };
    net.nodes[1].handle_response(0, &pull, &bogus_snapshot.encode());
    assert!(net.nodes[1].list().unwrap().is_empty());
    let rejected = net.nodes[1]
        .drain_outputs()
        .into_iter()
        .filter(|o| matches!(o, Output::Event(Event::Rejected { .. })))
        .count();
    assert!(rejected >= 3, "{rejected}");
}

#[test]
fn unsolicited_blobs_are_refused() {
    let mut net = SimNet::new(2, 11);
    let id = publish(&mut net, 0);
    net.nodes[1].handle_connected(0, None);
    let asked = Request::Blobs {
        id,
        hashes: vec![BlobHash::of(b"a")],
    };
    let resp = Response::Blobs {
        blobs: vec![WireBlob(b"b".to_vec())],
        missing: vec![],
    };
    net.nodes[1].handle_response(0, &asked, &resp.encode());
    assert!(!net.nodes[1].store().has_blob(&BlobHash::of(b"b")).unwrap());
}

#[test]
fn an_engine_rebuilt_from_its_store_has_everything() {
    let mut net = SimNet::new(1, 12);
    let id = publish(&mut net, 0);
    edit_readme(&mut net, 0, &id, "Linje 1", "Linje 1 lagret");
    let store: MemStore = net.nodes[0].store().clone();
    assert!(store.flushes >= 2, "publish and commit flush");
    let mut again: Engine<MemStore, usize> = Engine::new(NodeKey::from_secret([5; 32]), store);
    let (_, files) = again.files(&id, None).unwrap();
    let text = String::from_utf8(
        files
            .into_iter()
            .find(|f| f.path == "README.md")
            .unwrap()
            .content,
    )
    .unwrap();
    assert!(text.contains("Linje 1 lagret"));
    assert_eq!(again.history(&id).unwrap().len(), 2);
}

#[test]
fn prefixes_resolve_and_ambiguity_is_reported() {
    let mut net = SimNet::new(1, 13);
    let id = publish(&mut net, 0);
    assert_eq!(net.nodes[0].resolve(&id.to_hex()[..6]).unwrap(), id);
    assert!(matches!(
        net.nodes[0].resolve("zzzz"),
        Err(EngineError::NotFound(_))
    ));
}

/// Found by fuzzing (fuzz target change_verify): automerge 0.12's `Change::from_bytes` panics on
/// these bytes (an op counter overflowing u32) instead of returning an error. A peer sending
/// them must cost it the response, never the node. `signed::decode_change` refuses them before
/// Automerge sees them (`catch_unwind` in `handle_response` stays as the second line of
/// defence).
#[test]
fn a_change_that_makes_automerge_panic_is_refused_not_fatal() {
    let mut net = SimNet::new(2, 14);
    let id = publish(&mut net, 0);
    net.nodes[1].handle_connected(0, None);
    let mut bytes = include_bytes!("automerge_panic_change.bin").to_vec();
    // The chunk as a peer would send it: with a valid checksum, so the header parses.
    crate::signed::hostile::fix_checksums(&mut bytes);
    let pull = Request::Pull {
        id,
        heads: vec![],
        have: vec![],
        need: vec![],
    };
    let response = Response::Changes {
        id,
        heads: vec![],
        changes: vec![WireChange {
            bytes,
            proof: Proof::Signed {
                signature: vec![0; 64],
            },
        }],
        origin_blobs: vec![],
    };
    net.nodes[1].handle_response(0, &pull, &response.encode());
    let outputs = net.nodes[1].drain_outputs();
    assert!(
        outputs
            .iter()
            .any(|o| matches!(o, Output::Event(Event::Rejected { .. }))),
        "{outputs:?}"
    );
    assert!(net.nodes[1].list().unwrap().is_empty());
}

#[test]
fn a_busy_peer_is_asked_again_at_the_next_tick_and_not_blamed() {
    let mut net = SimNet::new(2, 12);
    let id = publish(&mut net, 0);
    net.nodes[1].handle_connected(0, None);
    let pull = Request::Pull {
        id,
        heads: vec![],
        have: vec![],
        need: vec![],
    };
    net.nodes[1].drain_outputs();
    let busy = Response::Busy {
        retry_after_ms: 500,
    };
    net.nodes[1].handle_response(0, &pull, &busy.encode());
    let after_busy = net.nodes[1].drain_outputs();
    assert!(
        !after_busy
            .iter()
            .any(|o| matches!(o, Output::Event(Event::Rejected { .. }))),
        "Busy is not a fault of the responder: {after_busy:?}"
    );
    assert!(
        !after_busy
            .iter()
            .any(|o| matches!(o, Output::Request { .. })),
        "nothing more is asked of a busy peer before the next tick: {after_busy:?}"
    );

    net.nodes[1].handle_tick();
    let resent: Vec<Request> = net.nodes[1]
        .drain_outputs()
        .into_iter()
        .filter_map(|o| match o {
            Output::Request { peer: 0, request } => Some(request),
            _ => None,
        })
        .collect();
    assert_eq!(resent, vec![pull.clone()], "the pull is sent again");

    // Answered this time, the artefact arrives as if nothing had happened.
    let answer = net.nodes[0].handle_request(1, &pull.encode());
    net.nodes[1].handle_response(0, &pull, &answer);
    net.run(1_000);
    assert_eq!(heads_of(&mut net, 1, &id), heads_of(&mut net, 0, &id));

    // A request to a peer that went away is dropped, not resent.
    net.nodes[1].handle_response(0, &pull, &busy.encode());
    net.nodes[1].handle_disconnected(&0);
    net.nodes[1].drain_outputs();
    net.nodes[1].handle_tick();
    assert!(!net.nodes[1]
        .drain_outputs()
        .iter()
        .any(|o| matches!(o, Output::Request { .. })));
}

/// Replaces both binary files of the sample in one commit on `node`; returns the heads before.
fn replace_binaries(net: &mut SimNet, node: usize, id: &ArtefactId) -> Vec<ChangeHash> {
    let before = heads_of(net, node, id);
    let nonce = net.nonce();
    let now = net.now;
    net.nodes[node]
        .commit(
            id,
            &before,
            &[
                FileEdit::Write {
                    path: "bin/logo.png".into(),
                    content: vec![0x89, b'P', b'N', b'G', 0xff, 0x00, 0x01],
                    executable: false,
                },
                FileEdit::Write {
                    path: "bin/data.bin".into(),
                    content: vec![0xff, 0x00, 0x02],
                    executable: false,
                },
            ],
            "nye binærfiler",
            now,
            nonce,
        )
        .unwrap()
        .expect("a change");
    before
}

#[test]
fn every_content_an_older_version_lacks_is_fetched_at_once() {
    let mut net = SimNet::new(2, 11);
    let id = publish(&mut net, 0);
    // A second binary in the first version, so that the old version lacks two contents.
    let base = heads_of(&mut net, 0, &id);
    let nonce = net.nonce();
    let now = net.now;
    net.nodes[0]
        .commit(
            &id,
            &base,
            &[FileEdit::Write {
                path: "bin/data.bin".into(),
                content: vec![0xff, 0x00, 0x01],
                executable: false,
            }],
            "data",
            now,
            nonce,
        )
        .unwrap()
        .unwrap();
    let old = replace_binaries(&mut net, 0, &id);
    // Node 1 receives the artefact only now: the replaced contents are not fetched.
    net.connect(0, 1);
    net.run(10_000);
    assert_eq!(files_of(&mut net, 1, &id), files_of(&mut net, 0, &id));
    match net.nodes[1].files(&id, Some(&old)) {
        Err(EngineError::FetchingOld { .. }) => {}
        other => panic!("expected the old contents to be fetched, got {other:?}"),
    }
    // Both old contents were asked for by the one attempt, so one exchange brings the version.
    net.run(10_000);
    let (_, at_old) = net.nodes[1].files(&id, Some(&old)).unwrap();
    let (_, expected) = net.nodes[0].files(&id, Some(&old)).unwrap();
    assert_eq!(at_old, expected);
}

#[test]
fn an_older_content_no_connected_peer_holds_is_said_to_be_missing() {
    let mut net = SimNet::new(3, 12);
    let id = publish(&mut net, 0);
    let old = replace_binaries(&mut net, 0, &id);
    net.connect(0, 1);
    net.run(10_000);
    // Node 2 knows only node 1, which never held the replaced content.
    net.disconnect(0, 1);
    net.connect(1, 2);
    net.run(10_000);
    assert_eq!(files_of(&mut net, 2, &id), files_of(&mut net, 0, &id));
    assert!(matches!(
        net.nodes[2].files(&id, Some(&old)),
        Err(EngineError::FetchingOld { .. })
    ));
    net.run(10_000);
    match net.nodes[2].files(&id, Some(&old)) {
        Err(EngineError::Missing(why)) => {
            assert!(why.contains("no connected peer holds it"), "{why}")
        }
        other => panic!("expected no peer to hold the old content, got {other:?}"),
    }
    // A peer that holds it makes it reachable again.
    net.connect(0, 2);
    net.run(10_000);
    let _ = net.nodes[2].files(&id, Some(&old));
    net.run(10_000);
    let (_, at_old) = net.nodes[2].files(&id, Some(&old)).unwrap();
    let (_, expected) = net.nodes[0].files(&id, Some(&old)).unwrap();
    assert_eq!(at_old, expected);
}
