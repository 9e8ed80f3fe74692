//! Writes a few valid encodings per fuzz target into `corpus/<target>/` (or the directory given
//! as the first argument). Seeds are generated from the current code, so they follow the wire
//! format as it evolves; nothing is checked in.
use allmenning_fuzz::{published_changes, published_store, pull, NOW, PUBLISHER_SECRET};
use allmenning_protocol::trust::{EndorsementStatus, Network, Scope, SignedStatement, Statement};
use allmenning_protocol::wire::{heads_to_wire, Announce, Head, Request, Response, WireBlob};
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

    for (i, r) in responses.iter().enumerate() {
        write(root, "engine_ingest", &format!("response-{i}"), r);
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

fn store_blob(store: &MemStore, hash: &BlobHash) -> Option<Vec<u8>> {
    use allmenning_protocol::Store;
    store.get_blob(hash).ok().flatten()
}
