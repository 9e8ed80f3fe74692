//! Issue 10, finding 8: paths that no checkout can hold, written by a peer.
//!
//! The CLI refuses `.GIT/...`, `C:...`, `CON`, case-only clashes and file-versus-folder clashes,
//! but a peer does not use the CLI: before the path rule was applied at ingest, a node took a
//! signed change that put such a path into an artefact, and from then on nobody could check it
//! out or export it on Windows or macOS (and `.GIT/config` would have been written into a
//! checkout on a case-insensitive disk). Outside a network any properly signed change is
//! accepted, so a stranger's key is enough to try. Every such change must be refused, and the
//! artefact must stay usable: checkout, export, and an honest edit that still replicates.

use allmenning_protocol::blob::BlobHash;
use allmenning_protocol::signed;
use allmenning_protocol::wire::{Request, Response, WireChange};
use allmenning_tests::adversary::{self, craft, Adversary};
use allmenning_tests::*;
use automerge::transaction::Transactable;
use automerge::{Automerge, Change, ObjType, PatchLog, ReadDoc, ROOT};

const README: &str = "# Foreldrebetaling\n\nInntektsgrense 677 000 kr.\n";

/// A change by `key` that puts a file entry at `path` into `doc`'s file tree, made without the
/// write-time checks a hostile node skips.
fn change_adding(
    doc: &Automerge,
    key: &allmenning_protocol::NodeKey,
    path: &str,
    marker: &str,
) -> Change {
    let mut doc = doc.clone();
    doc.set_actor(signed::signed_actor(&key.public(), rand_nonce()));
    let heads = doc.get_heads();
    let mut tx = doc.transaction_at(PatchLog::inactive(), &heads).unwrap();
    let files = match tx.get(ROOT, "files").unwrap() {
        Some((_, files)) => files,
        None => panic!("the artefact has no file tree"),
    };
    let entry = tx.put_object(&files, path, ObjType::Map).unwrap();
    tx.put(&entry, "blob", BlobHash::of(marker.as_bytes()).to_hex())
        .unwrap();
    tx.put(&entry, "size", marker.len() as u64).unwrap();
    let (hash, _) =
        tx.commit_with(automerge::transaction::CommitOptions::default().with_message(marker));
    doc.get_change_by_hash(&hash.unwrap()).unwrap()
}

fn rand_nonce() -> [u8; 8] {
    let mut nonce = [0u8; 8];
    nonce.copy_from_slice(&random_secret()[..8]);
    nonce
}

#[test]
fn paths_no_checkout_can_hold_are_refused_from_a_peer() {
    let _serial = one_at_a_time();
    let bergen = Node::start("bergen", BERGEN);
    let victim = Node::start("trondheim", TRONDHEIM);
    victim.connect(&bergen);
    victim.wait_connected(&bergen);
    let (id, before) =
        bergen.publish_to(&[("README.md", README.as_bytes())], "Veileder", &[&victim]);
    let artefact = adversary::artefact(&id);

    // The stranger fetches the artefact like any peer, to write on top of it.
    let adv = Adversary::stranger();
    adv.dial(&victim.addr()).expect("the stranger connects");
    let document = match adv.ask(
        victim.peer_id(),
        &Request::Pull {
            id: artefact,
            heads: vec![],
            have: vec![],
            need: vec![],
        },
    ) {
        Ok(Response::Snapshot { document, .. }) => document,
        other => panic!("the victim serves the public artefact: {other:?}"),
    };
    let doc = Automerge::load(&document).unwrap();

    let marker = craft::marker("bad-path");
    for path in [
        ".GIT/config",
        "C:/x",
        "CON",
        "docs/aux.txt",
        "readme.md",
        "README.md/x",
    ] {
        let change = change_adding(&doc, adv.node_key(), path, &marker);
        adv.respond_with(adversary::offering_changes(
            artefact,
            vec![change.hash()],
            vec![WireChange {
                bytes: change.raw_bytes().to_vec(),
                proof: signed::sign_change(adv.node_key(), &change.hash()),
            }],
            vec![],
        ));
        let pulls = adv.pulls_answered(artefact);
        let _ = adv.request(
            victim.peer_id(),
            &Request::Notify(allmenning_protocol::wire::Announce {
                id: artefact,
                heads: vec![change.hash().into()],
            }),
        );
        assert!(
            adv.wait_pulls(artefact, pulls + 1, secs(20)),
            "the victim pulled the change adding {path:?}"
        );
        // A round trip through the victim's event loop: the reply has been handled.
        adv.ask(victim.peer_id(), &Request::Inventory)
            .expect("the victim still answers");
        assert_eq!(
            victim.heads(&id).unwrap(),
            before,
            "the victim took a change adding {path:?}"
        );
    }
    victim.assert_stored_nowhere(&marker);

    // The artefact stays usable on the victim: checkout and export, and Bergen's honest edit
    // still arrives.
    let work = victim.checkout(&id, "victim");
    assert_eq!(
        std::fs::read_to_string(work.join("README.md")).unwrap(),
        README
    );
    let work = bergen.checkout(&id, "bergen");
    let edited = format!("{README}Gjelder fra 1. august.\n");
    std::fs::write(work.join("README.md"), &edited).unwrap();
    bergen.commit(&work, "Dato");
    let now = bergen.heads(&id).unwrap();
    victim.wait_complete_with(&id, &now, secs(30));
    assert_eq!(
        victim.export_tree(&id, "after-edit")["README.md"],
        edited.as_bytes()
    );
}
