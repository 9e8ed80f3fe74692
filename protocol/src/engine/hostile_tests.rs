//! What a hostile peer can send an engine, and what the engine keeps of it: origin changes
//! nobody asked for, blobs attached to replies, oversized batches, restricted artefacts whose
//! access list has not arrived, and crafted notifies about restricted artefacts.

use super::*;
use crate::artefact::origin;
use crate::artefact::{FileEdit, Metadata};
use crate::testing::SimNet;
use crate::trust::Network;
use crate::wire::Response;

const KS: usize = 0;
const BERGEN: usize = 1;
const TRONDHEIM: usize = 2;
const OSLO: usize = 3;

/// What the attacker writes; found nowhere on a node that refused it.
const MARKER: &str = "UAUTORISERT-INNHOLD-7f3a";

fn org_keys() -> Vec<(OrgNumber, &'static str, OrgKind, NodeKey)> {
    let org = |n: &str, name, kind, seed| {
        (
            n.parse().unwrap(),
            name,
            kind,
            NodeKey::from_secret([seed; 32]),
        )
    };
    vec![
        org("971032146", "KS", OrgKind::Ks, 100),
        org("964338531", "Bergen kommune", OrgKind::Kommune, 101),
        org("942110464", "Trondheim kommune", OrgKind::Kommune, 102),
        org("974760673", "Oslo kommune", OrgKind::Kommune, 103),
    ]
}

/// Four nodes, every organisation admitted; links only as `links` says.
fn network(links: &[(usize, usize)]) -> SimNet {
    let mut net = SimNet::new(4, 7);
    let orgs = org_keys();
    let network = Network::create("Test", orgs[KS].0, "KS", &orgs[KS].3, vec![], net.now);
    for (i, (number, name, kind, key)) in orgs.iter().enumerate() {
        net.nodes[i]
            .join_network(
                network.clone(),
                Some(key.clone()),
                (*number, (*name).into(), *kind),
                net.now,
            )
            .unwrap();
    }
    for n in 1..4 {
        net.connect(KS, n);
    }
    net.run(100_000);
    for (number, ..) in &orgs[1..] {
        let now = net.now;
        net.nodes[KS].admit(*number, None, now).unwrap();
    }
    net.run(100_000);
    for n in 1..4 {
        net.disconnect(KS, n);
    }
    for (a, b) in links {
        net.connect(*a, *b);
    }
    net.run(100_000);
    net
}

fn meta(owner: &str, name: &str) -> Metadata {
    Metadata {
        title: "Foreldrebetaling".into(),
        kind: "integration".into(),
        description: String::new(),
        tags: vec![],
        owner: owner.into(),
        owner_name: name.into(),
        created: 0,
    }
}

fn readme() -> FileData {
    FileData {
        path: "README.md".into(),
        content: b"# Redusert foreldrebetaling\n\nLinje 1\n".to_vec(),
        executable: false,
    }
}

fn publish(net: &mut SimNet, node: usize, readers: Option<Vec<OrgNumber>>) -> ArtefactId {
    let (nonce, now) = (net.nonce(), net.now);
    let id = net.nodes[node]
        .publish(
            &meta("964338531", "Bergen kommune"),
            &[readme()],
            readers,
            now,
            nonce,
        )
        .unwrap();
    net.run(100_000);
    id
}

fn heads(net: &mut SimNet, node: usize, id: &ArtefactId) -> Vec<ChangeHash> {
    net.nodes[node].artefact(id).unwrap().heads()
}

fn pull(id: ArtefactId) -> Request {
    Request::Pull {
        id,
        heads: vec![],
        have: vec![],
        need: vec![],
    }
}

/// The origin change of `path` made from `text`, as a hostile peer sends it: unsigned, with
/// its blob attached.
fn rogue_origin(path: &str, text: &str) -> (Change, WireChange, WireBlob) {
    let blob = BlobHash::of(text.as_bytes());
    let change = origin::origin_change(path, &blob, text).unwrap();
    let wire = WireChange {
        bytes: change.raw_bytes().to_vec(),
        proof: Proof::Origin {
            path: path.into(),
            blob,
        },
    };
    (change, wire, WireBlob(text.as_bytes().to_vec()))
}

/// Why `node` refused data so far (drains its pending outputs).
fn rejections(net: &mut SimNet, node: usize) -> Vec<String> {
    net.nodes[node]
        .drain_outputs()
        .into_iter()
        .filter_map(|o| match o {
            Output::Event(Event::Rejected { reason, .. }) => Some(reason),
            _ => None,
        })
        .collect()
}

#[test]
fn an_origin_change_without_a_signed_change_that_uses_it_is_not_admitted() {
    // Outside a network, where any signed change is accepted: the origin alone still is not.
    let mut net = SimNet::new(2, 1);
    net.connect(0, 1);
    let id = publish(&mut net, 0, None);
    let before = heads(&mut net, 1, &id);
    let text = format!("{MARKER}\n").repeat(1000);
    let (origin, wire, blob) = rogue_origin("README.md", &text);
    let extra = WireBlob(format!("{MARKER} vedlegg").into_bytes());
    let response = Response::Changes {
        id,
        heads: vec![Head::from(origin.hash())],
        changes: vec![wire],
        origin_blobs: vec![blob.clone(), extra.clone()],
    };
    net.nodes[1].handle_response(0, &pull(id), &response.encode());

    assert_eq!(heads(&mut net, 1, &id), before, "the origin did not join");
    let store = net.nodes[1].store();
    assert!(!store.has_blob(&BlobHash::of(&blob.0)).unwrap());
    assert!(!store.has_blob(&BlobHash::of(&extra.0)).unwrap());
    let doc = &net.nodes[1].artefact(&id).unwrap().doc;
    assert!(doc.get_change_meta_by_hash(&origin.hash()).is_none());
}

#[test]
fn an_origin_over_the_text_limit_is_refused_even_with_a_signed_change_using_it() {
    let mut net = SimNet::new(2, 2);
    net.connect(0, 1);
    let id = publish(&mut net, 0, None);
    let before = heads(&mut net, 1, &id);
    // The attacker makes a real edit of its own (outside a network a signed change by anyone
    // is accepted), on an origin whose text is over the limit.
    let big = "x".repeat(crate::artefact::MAX_TEXT_BYTES + 1);
    let (origin, origin_wire, blob) = rogue_origin("README.md", &big);
    let attacker = NodeKey::from_secret([9; 32]);
    let mut doc = net.nodes[1].artefact(&id).unwrap().doc.clone();
    doc.apply_changes(vec![origin.clone()]).unwrap();
    doc.set_actor(signed::signed_actor(&attacker.public(), [1; 8]));
    let key = origin::text_key("README.md", &BlobHash::of(big.as_bytes()));
    let mut deps = before.clone();
    deps.push(origin.hash());
    let user = {
        use automerge::transaction::Transactable;
        let mut tx = doc
            .transaction_at(automerge::PatchLog::inactive(), &deps)
            .unwrap();
        let files = match tx.get(automerge::ROOT, "files").unwrap() {
            Some((_, files)) => files,
            None => panic!("no files map"),
        };
        let entry = match tx.get(&files, "README.md").unwrap() {
            Some((_, entry)) => entry,
            None => panic!("no README entry"),
        };
        tx.put(&entry, "text", key.as_str()).unwrap();
        let (hash, _) = tx.commit();
        doc.get_change_by_hash(&hash.unwrap()).unwrap()
    };
    let response = Response::Changes {
        id,
        heads: vec![Head::from(user.hash())],
        changes: vec![
            origin_wire,
            WireChange {
                bytes: user.raw_bytes().to_vec(),
                proof: signed::sign_change(&attacker, &user.hash()),
            },
        ],
        origin_blobs: vec![blob.clone()],
    };
    net.nodes[1].handle_response(0, &pull(id), &response.encode());
    assert_eq!(heads(&mut net, 1, &id), before);
    assert!(!net.nodes[1]
        .store()
        .has_blob(&BlobHash::of(&blob.0))
        .unwrap());
}

#[test]
fn an_unadmitted_peers_edit_and_its_origin_are_both_refused_in_a_network() {
    let mut net = network(&[(BERGEN, TRONDHEIM)]);
    let id = publish(&mut net, BERGEN, None);
    let before = heads(&mut net, TRONDHEIM, &id);
    // A stranger's key writes an honest-looking first edit of README.md (origin + signed edit).
    let stranger = NodeKey::from_secret([42; 32]);
    let mut copy = net.nodes[TRONDHEIM].artefact(&id).unwrap().clone();
    let original = readme().content;
    let outcome = copy
        .edit(
            &before,
            &[FileEdit::Write {
                path: "README.md".into(),
                content: format!("{MARKER}\n").into_bytes(),
                executable: false,
            }],
            signed::signed_actor(&stranger.public(), [3; 8]),
            5,
            "rogue",
            |_| String::from_utf8(original.clone()).ok(),
        )
        .unwrap();
    let change = outcome.change.unwrap();
    let mut changes: Vec<WireChange> = outcome
        .origins
        .iter()
        .map(|(c, path, blob)| WireChange {
            bytes: c.raw_bytes().to_vec(),
            proof: Proof::Origin {
                path: path.clone(),
                blob: *blob,
            },
        })
        .collect();
    let origin_hash = outcome.origins[0].0.hash();
    changes.push(WireChange {
        bytes: change.raw_bytes().to_vec(),
        proof: signed::sign_change(&stranger, &change.hash()),
    });
    let response = Response::Changes {
        id,
        heads: vec![Head::from(change.hash())],
        changes,
        origin_blobs: vec![WireBlob(original.clone())],
    };
    net.nodes[TRONDHEIM].handle_response(BERGEN, &pull(id), &response.encode());
    assert_eq!(heads(&mut net, TRONDHEIM, &id), before);
    let doc = &net.nodes[TRONDHEIM].artefact(&id).unwrap().doc;
    assert!(doc.get_change_meta_by_hash(&origin_hash).is_none());
    assert!(rejections(&mut net, TRONDHEIM)
        .iter()
        .any(|r| r.contains("not certified") || r.contains("may not")));

    // Honest co-editing still works: Bergen's own first edit (origin + signed) replicates.
    let (base, _) = net.nodes[BERGEN].files(&id, None).unwrap();
    let (nonce, now) = (net.nonce(), net.now);
    net.nodes[BERGEN]
        .commit(
            &id,
            &base,
            &[FileEdit::Write {
                path: "README.md".into(),
                content: b"# Redusert foreldrebetaling\n\nLinje 1 endret\n".to_vec(),
                executable: false,
            }],
            "rett",
            now,
            nonce,
        )
        .unwrap();
    net.run(100_000);
    assert_eq!(
        heads(&mut net, TRONDHEIM, &id),
        heads(&mut net, BERGEN, &id)
    );
}

#[test]
fn a_snapshot_with_a_rogue_origin_keeps_everything_but_the_origin() {
    let mut net = SimNet::new(2, 3);
    let id = publish(&mut net, 0, None);
    let honest = net.nodes[0].artefact(&id).unwrap().doc.clone();
    let (origin, _, blob) = rogue_origin("README.md", MARKER);
    let mut doc = honest.clone();
    doc.apply_changes(vec![origin.clone()]).unwrap();
    let mut proofs: Vec<(Head, Proof)> = net.nodes[0]
        .store()
        .proofs(&id)
        .unwrap()
        .into_iter()
        .map(|(h, p)| (Head::from(h), p))
        .collect();
    proofs.push((
        Head::from(origin.hash()),
        Proof::Origin {
            path: "README.md".into(),
            blob: BlobHash::of(&blob.0),
        },
    ));
    let response = Response::Snapshot {
        id,
        document: doc.save(),
        proofs,
        origin_blobs: vec![blob.clone()],
    };
    net.nodes[1].handle_response(0, &pull(id), &response.encode());
    assert_eq!(heads(&mut net, 1, &id), honest.get_heads());
    assert!(!net.nodes[1]
        .store()
        .has_blob(&BlobHash::of(&blob.0))
        .unwrap());
}

#[test]
fn a_reply_with_more_changes_than_a_message_may_hold_is_refused_whole() {
    let mut net = SimNet::new(2, 4);
    net.connect(0, 1);
    let id = publish(&mut net, 0, None);
    let before = heads(&mut net, 1, &id);
    let junk = WireChange {
        bytes: vec![0; 8],
        proof: Proof::Signed {
            signature: vec![0; 64],
        },
    };
    let response = Response::Changes {
        id,
        heads: vec![],
        changes: vec![junk; signed::MAX_CHANGES_PER_MESSAGE + 1],
        origin_blobs: vec![],
    };
    net.nodes[1].handle_response(0, &pull(id), &response.encode());
    assert_eq!(heads(&mut net, 1, &id), before);
    assert!(rejections(&mut net, 1)
        .iter()
        .any(|r| r.contains("more than the limit")));
}

#[test]
fn a_batch_never_separates_an_origin_from_the_signed_change_that_uses_it() {
    let mut net = SimNet::new(1, 5);
    let id = publish(&mut net, 0, None);
    // Ten first edits of ten files, each with its origin.
    for i in 0..10 {
        let (base, _) = net.nodes[0].files(&id, None).unwrap();
        let (nonce, now) = (net.nonce(), net.now);
        let path = format!("fil{i}.txt");
        net.nodes[0]
            .commit(
                &id,
                &base,
                &[FileEdit::Write {
                    path: path.clone(),
                    content: format!("versjon 1 av {path}\n").into_bytes(),
                    executable: false,
                }],
                "ny",
                now,
                nonce,
            )
            .unwrap();
        let (base, _) = net.nodes[0].files(&id, None).unwrap();
        let (nonce, now) = (net.nonce(), net.now);
        net.nodes[0]
            .commit(
                &id,
                &base,
                &[FileEdit::Write {
                    path,
                    content: format!("versjon 2 av fil {i}\n").into_bytes(),
                    executable: false,
                }],
                "endre",
                now,
                nonce,
            )
            .unwrap();
    }
    let loaded = &net.nodes[0].docs[&id];
    let changes = loaded.artefact.doc.get_changes(&[]);
    let origins: HashSet<ChangeHash> = loaded
        .proofs
        .iter()
        .filter(|(_, p)| matches!(p, Proof::Origin { .. }))
        .map(|(h, _)| *h)
        .collect();
    assert_eq!(origins.len(), 10);
    for max in 1..changes.len() {
        let limits = BatchLimits {
            bytes: usize::MAX,
            ops: u64::MAX,
            changes: max,
        };
        let batch = batch_for_peer(changes.clone(), &loaded.proofs, limits, |_| 100);
        let hashes: Vec<ChangeHash> = batch
            .iter()
            .map(|w| signed::change_header(&w.bytes).unwrap().hash)
            .collect();
        for (i, h) in hashes.iter().enumerate() {
            if origins.contains(h) {
                let user = hashes[i + 1..].iter().any(|later| {
                    changes
                        .iter()
                        .any(|c| c.hash() == *later && c.deps().contains(h))
                });
                assert!(user, "origin {h} travels with the change that uses it");
            }
        }
    }
}

#[test]
fn a_restricted_artefact_stays_restricted_before_its_access_list_arrives() {
    // Trondheim is not linked to Bergen, so the access list (offered only to readers, directly)
    // never reaches it; it gets the content some other way, as a reader that was sent it.
    let mut net = network(&[(TRONDHEIM, OSLO)]);
    let trondheim = net.nodes[TRONDHEIM]
        .trust()
        .unwrap()
        .org_of_node(&net.nodes[TRONDHEIM].public_key());
    assert!(trondheim.is_some());
    let id = publish(
        &mut net,
        BERGEN,
        Some(vec![crate::testing::orgs::trondheim()]),
    );
    let changes: Vec<WireChange> = {
        let loaded = &net.nodes[BERGEN].docs[&id];
        loaded
            .artefact
            .doc
            .get_changes(&[])
            .into_iter()
            .map(|c| WireChange {
                proof: loaded.proofs[&c.hash()].clone(),
                bytes: c.raw_bytes().to_vec(),
            })
            .collect()
    };
    let response = Response::Changes {
        id,
        heads: vec![],
        changes,
        origin_blobs: vec![],
    };
    net.nodes[TRONDHEIM].handle_response(BERGEN, &pull(id), &response.encode());
    assert!(
        net.nodes[TRONDHEIM].artefact(&id).is_ok(),
        "the reader holds it"
    );
    assert!(net.nodes[TRONDHEIM]
        .trust()
        .unwrap()
        .access(&id, crate::testing::orgs::bergen())
        .statement
        .is_none());

    // Oslo asks Trondheim for everything it has, and for the artefact by id.
    let inventory = net.nodes[TRONDHEIM].handle_request(OSLO, &Request::Inventory.encode());
    match Response::decode(&inventory).unwrap() {
        Response::Inventory { entries } => assert!(entries.iter().all(|e| e.id != id)),
        other => panic!("unexpected {other:?}"),
    }
    let answer = net.nodes[TRONDHEIM].handle_request(OSLO, &pull(id).encode());
    assert_eq!(
        Response::decode(&answer).unwrap(),
        Response::NotFound { id }
    );
    let access = net.nodes[TRONDHEIM].access(&id).unwrap();
    assert_eq!(access.readers, Some(vec![]), "owner only, never public");
}

#[test]
fn a_notify_about_a_restricted_artefact_from_a_non_reader_reveals_nothing() {
    let mut net = network(&[(BERGEN, TRONDHEIM), (TRONDHEIM, OSLO)]);
    let id = publish(
        &mut net,
        BERGEN,
        Some(vec![crate::testing::orgs::trondheim()]),
    );
    assert!(net.nodes[TRONDHEIM].artefact(&id).is_ok());
    net.nodes[TRONDHEIM].drain_outputs();
    let notify = Request::Notify(Announce {
        id,
        heads: vec![Head([0xab; 32])],
    });
    net.nodes[TRONDHEIM].handle_request(OSLO, &notify.encode());
    let asked_oslo = net.nodes[TRONDHEIM]
        .drain_outputs()
        .into_iter()
        .any(|o| matches!(o, Output::Request { peer: OSLO, .. }));
    assert!(
        !asked_oslo,
        "no pull (which would carry our heads) goes to Oslo"
    );
}

/// A signed change that puts `path` into the file tree, made without the write-time checks a
/// hostile node would skip.
fn rogue_file(doc: &Automerge, key: &NodeKey, path: &str) -> Change {
    use automerge::transaction::Transactable;
    let mut doc = doc.clone();
    doc.set_actor(signed::signed_actor(&key.public(), [5; 8]));
    let heads = doc.get_heads();
    let mut tx = doc
        .transaction_at(automerge::PatchLog::inactive(), &heads)
        .unwrap();
    let files = match tx.get(automerge::ROOT, "files").unwrap() {
        Some((_, files)) => files,
        None => panic!("no files map"),
    };
    let entry = tx
        .put_object(&files, path, automerge::ObjType::Map)
        .unwrap();
    tx.put(&entry, "blob", BlobHash::of(b"x").to_hex()).unwrap();
    tx.put(&entry, "size", 1u64).unwrap();
    let (hash, _) = tx.commit();
    doc.get_change_by_hash(&hash.unwrap()).unwrap()
}

/// A pull reply carrying one change signed by `key`.
fn signed_reply(id: ArtefactId, key: &NodeKey, change: &Change) -> Vec<u8> {
    Response::Changes {
        id,
        heads: vec![Head::from(change.hash())],
        changes: vec![WireChange {
            bytes: change.raw_bytes().to_vec(),
            proof: signed::sign_change(key, &change.hash()),
        }],
        origin_blobs: vec![],
    }
    .encode()
}

#[test]
fn a_change_with_a_path_no_checkout_can_hold_is_refused_at_ingest() {
    let mut net = SimNet::new(2, 8);
    net.connect(0, 1);
    let id = publish(&mut net, 0, None);
    let before = heads(&mut net, 1, &id);
    let attacker = NodeKey::from_secret([11; 32]);
    let doc = net.nodes[1].artefact(&id).unwrap().doc.clone();
    for path in [".GIT/config", "C:evil", "CON", "docs/aux.txt", "readme.md"] {
        let change = rogue_file(&doc, &attacker, path);
        net.nodes[1].handle_response(0, &pull(id), &signed_reply(id, &attacker, &change));
        assert_eq!(heads(&mut net, 1, &id), before, "{path} refused");
        assert!(
            rejections(&mut net, 1).iter().any(|r| r.contains(path)),
            "the refusal names {path}"
        );
    }
    // A valid new file from the same (outside a network, unrestricted) writer is taken.
    let change = rogue_file(&doc, &attacker, "docs/notat.txt");
    net.nodes[1].handle_response(0, &pull(id), &signed_reply(id, &attacker, &change));
    assert_eq!(heads(&mut net, 1, &id), vec![change.hash()]);
}
