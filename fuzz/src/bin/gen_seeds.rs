//! Writes a few valid encodings per fuzz target into `corpus/<target>/` (or the directory given
//! as the first argument), and hostile ones next to which the fuzzers should start: changes and
//! documents whose columns claim billions of rows, documents with a column that inflates to
//! nearly a gigabyte (`signed::hostile`), alone and inside wire replies. Seeds are generated from
//! the current code, so they follow the wire format as it evolves; nothing is checked in. Every
//! seed stays under 1 MiB, the most libFuzzer reads of a seed unless told `-max_len`.
use allmenning_fuzz::{published_changes, published_store, pull, NOW, PUBLISHER_SECRET};
use allmenning_protocol::signed::{hostile, Proof};
use allmenning_protocol::trust::{EndorsementStatus, Network, Scope, SignedStatement, Statement};
use allmenning_protocol::wire::{
    heads_to_wire, Announce, Head, Request, Response, WireBlob, WireChange,
};
use allmenning_protocol::{BlobHash, Engine, MemStore, NodeKey, OrgKind, OrgNumber};
use std::path::Path;

fn write(root: &Path, target: &str, name: &str, bytes: &[u8]) {
    let dir = root.join(target);
    std::fs::create_dir_all(&dir).expect("create corpus dir");
    std::fs::write(dir.join(name), bytes).expect("write seed");
}

fn main() {
    let root = std::env::args()
        .nth(1)
        .unwrap_or_else(|| concat!(env!("CARGO_MANIFEST_DIR"), "/corpus").into());
    let root = Path::new(&root);
    let (store, id) = published_store();
    let id = *id;
    let mut publisher =
        Engine::<MemStore, usize>::new(NodeKey::from_secret(PUBLISHER_SECRET), store.clone());
    let heads = publisher.artefact(&id).expect("artefact").heads();
    let org: OrgNumber = "964338531".parse().expect("org number");
    let org_key = NodeKey::from_secret([0x33; 32]);
    let node_key = NodeKey::from_secret([0x44; 32]);

    // Requests.
    let requests = vec![
        Request::Inventory,
        pull(id, &[]),
        Request::Pull {
            id,
            heads: heads_to_wire(&heads),
            have: vec![[1; 8], [2; 8]],
            need: vec![Head([3; 32])],
        },
        Request::Blobs {
            id,
            hashes: vec![BlobHash::of(b"#!/bin/sh\necho hei\n")],
        },
        Request::Statements { have: vec![[4; 8]] },
        Request::Notify(Announce {
            id,
            heads: heads_to_wire(&heads),
        }),
    ];

    // Statements (signed for real).
    let statements = vec![
        SignedStatement::sign(
            Statement::OrgProfile {
                org,
                name: "Bergen kommune".into(),
                kind: OrgKind::Kommune,
                org_key: org_key.public(),
            },
            &org_key,
            NOW,
        ),
        SignedStatement::sign(
            Statement::NodeCert {
                org,
                node_key: node_key.public(),
                label: "laptop".into(),
                possession: allmenning_protocol::trust::prove_possession(&node_key, org).to_vec(),
            },
            &org_key,
            NOW,
        ),
        SignedStatement::sign(
            Statement::Delegate {
                org,
                org_key: org_key.public(),
                scopes: vec![Scope::Admit],
                expires: Some(NOW + 3600),
            },
            &org_key,
            NOW,
        ),
        SignedStatement::sign(
            Statement::Endorse {
                artefact: id,
                heads: heads_to_wire(&heads),
                status: EndorsementStatus::Recommended,
                note: "ok".into(),
                seq: 1,
            },
            &org_key,
            NOW,
        ),
        SignedStatement::sign(
            Statement::Access {
                artefact: id,
                owner: org,
                maintainers: vec![org],
                readers: Some(vec![org]),
                heads: heads_to_wire(&heads),
                seq: 1,
            },
            &node_key,
            NOW,
        ),
    ];

    // Responses: the real answers of the publisher, plus a few hand-made ones.
    let mut responses = Vec::new();
    for request in &requests {
        responses.push(publisher.handle_request(1, &request.encode()));
    }
    let hand_made = vec![
        Response::Blobs {
            blobs: vec![WireBlob(b"#!/bin/sh\necho hei\n".to_vec())],
            missing: vec![BlobHash::of(b"x")],
        },
        Response::Diverged {
            id,
            heads: heads_to_wire(&heads),
        },
        Response::NotFound { id },
        Response::Refused {
            reason: "no".into(),
        },
        Response::Statements {
            statements: statements.iter().map(|s| WireBlob(s.encode())).collect(),
        },
        Response::Ack,
    ];
    responses.extend(hand_made.iter().map(Response::encode));
    let announce = Announce {
        id,
        heads: heads_to_wire(&heads),
    }
    .encode();

    for (i, r) in requests.iter().enumerate() {
        write(root, "wire_request", &format!("seed-{i}"), &r.encode());
    }
    for (i, r) in responses.iter().enumerate() {
        write(root, "wire_response", &format!("seed-{i}"), r);
    }
    write(root, "wire_announce", "seed-0", &announce);
    for (i, s) in statements.iter().enumerate() {
        write(root, "statement", &format!("seed-{i}"), &s.encode());
    }

    let mut network = Network::create(
        "allmenning-test",
        org,
        "KS",
        &org_key,
        vec!["/ip4/127.0.0.1/tcp/4001".into()],
        NOW,
    );
    write(root, "network", "seed-0", &network.encode());
    network
        .add_root(
            allmenning_protocol::trust::Root {
                org,
                name: "Bergen kommune".into(),
                key: node_key.public(),
            },
            &org_key,
        )
        .expect("add root");
    write(root, "network", "seed-1", &network.encode());

    for (i, (bytes, proof)) in published_changes().into_iter().enumerate() {
        write(root, "change_verify", &format!("raw-{i}"), &bytes);
        let blob = match &proof {
            allmenning_protocol::signed::Proof::Origin { blob, .. } => {
                store_blob(store, blob).unwrap_or_default()
            }
            _ => Vec::new(),
        };
        let triple = postcard::to_stdvec(&(bytes, proof, blob)).expect("encode");
        write(root, "change_verify", &format!("triple-{i}"), &triple);
    }

    // Hostile chunks (each with a correct checksum, as an attacker would send them).
    let bomb_changes = [
        ("bomb-ops", hostile::change_claiming_ops(1 << 62)),
        ("bomb-preds", hostile::change_claiming_preds(1 << 40)),
        // 2^20 copies of a 64 KiB key: 64 GiB to copy when applied.
        ("bomb-key", hostile::change_repeating_key(1 << 20, 64 << 10)),
    ];
    for (name, bytes) in &bomb_changes {
        write(root, "change_verify", name, bytes);
    }
    let mut documents = vec![
        // Op columns claiming 2^32 - 2 rows; change columns claiming 2^40.
        (
            "bomb-doc-ops",
            hostile::list_of_nulls(u64::from(u32::MAX) - 3, [0; 32]),
        ),
        (
            "bomb-doc-changes",
            hostile::document_claiming_changes(1 << 40),
        ),
        // 2^20 changes sharing a 64 KiB message: 64 GiB to copy when loaded.
        (
            "bomb-doc-messages",
            hostile::document_repeating_message(1 << 20, 64 << 10),
        ),
        // A column inflating to 900 MiB (a seed of about 930 KB).
        (
            "bomb-deflate",
            hostile::document_with_deflate_bomb(900 << 20),
        ),
        // A valid document of a big repetitive text, with deflated columns.
        ("compressed", big_document()),
    ];
    let mut trailing = big_document();
    trailing.extend(hostile::change_claiming_ops(1 << 62));
    documents.push(("bomb-trailing-change", trailing));
    for (name, bytes) in &documents {
        write(root, "snapshot_load", name, bytes);
    }
    let mut replies: Vec<(String, Vec<u8>)> = documents
        .iter()
        .map(|(name, document)| {
            let reply = Response::Snapshot {
                id,
                document: document.clone(),
                proofs: Vec::new(),
                origin_blobs: Vec::new(),
            };
            (format!("snapshot-{name}"), reply.encode())
        })
        .collect();
    // Real changes with their proofs, then a bomb among them.
    let mut changes: Vec<WireChange> = published_changes()
        .into_iter()
        .map(|(bytes, proof)| WireChange { bytes, proof })
        .collect();
    for (name, bytes) in &bomb_changes {
        changes.push(WireChange {
            bytes: bytes.clone(),
            proof: Proof::Signed {
                signature: vec![0; 64],
            },
        });
        let reply = Response::Changes {
            id,
            heads: heads_to_wire(&heads),
            changes: changes.clone(),
            origin_blobs: Vec::new(),
        };
        replies.push((format!("changes-{name}"), reply.encode()));
        changes.pop();
    }
    for (name, reply) in &replies {
        write(root, "engine_replies", name, reply);
        write(root, "engine_ingest", name, reply);
    }

    for (i, r) in responses.iter().enumerate() {
        write(root, "engine_ingest", &format!("response-{i}"), r);
        write(root, "engine_replies", &format!("response-{i}"), r);
        if let Ok(Response::Snapshot { document, .. }) = Response::decode(r) {
            write(root, "snapshot_load", &format!("snapshot-{i}"), &document);
        }
    }
    for (i, r) in requests.iter().enumerate() {
        write(root, "engine_ingest", &format!("request-{i}"), &r.encode());
    }
    write(root, "engine_ingest", "announce-0", &announce);
    for (i, s) in statements.iter().enumerate() {
        write(
            root,
            "engine_ingest",
            &format!("statement-{i}"),
            &s.encode(),
        );
    }
    println!("seeds written to {}", root.display());
}

/// A document of a 4 KiB repetitive text edited in a few changes, saved as Automerge saves it
/// (columns over 256 bytes deflated). Small: in the fuzz build, loading takes up to 35 µs per
/// operation, and an engine target loads it twice.
fn big_document() -> Vec<u8> {
    use automerge::transaction::Transactable;
    use automerge::{AutoCommit, ObjType, ROOT};
    let mut doc = AutoCommit::new();
    let text = doc
        .put_object(ROOT, "README.md", ObjType::Text)
        .expect("text");
    let line = "Redusert foreldrebetaling for barnehage og SFO.\n";
    doc.splice_text(&text, 0, 0, &line.repeat((4 << 10) / line.len()))
        .expect("splice");
    doc.commit();
    for i in 0..5 {
        doc.splice_text(&text, i * 500, 10, "endret")
            .expect("splice");
        doc.commit();
    }
    doc.save()
}

fn store_blob(store: &MemStore, hash: &BlobHash) -> Option<Vec<u8>> {
    use allmenning_protocol::Store;
    store.get_blob(hash).ok().flatten()
}
