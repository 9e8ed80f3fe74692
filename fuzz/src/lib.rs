//! Fixtures shared by the fuzz targets and the seed generator.

use allmenning_protocol::engine::FileData;
use allmenning_protocol::store::Store;
use allmenning_protocol::wire::{heads_to_wire, Request};
use allmenning_protocol::{ArtefactId, Engine, FileEdit, MemStore, Metadata, NodeKey};

pub const NOW: i64 = 1_700_000_000;
pub const PUBLISHER_SECRET: [u8; 32] = [0x11; 32];
pub const RECEIVER_SECRET: [u8; 32] = [0x22; 32];
/// The peer every fuzzed message claims to come from.
pub const PEER: usize = 7;

pub fn meta() -> Metadata {
    Metadata {
        title: "Foreldrebetaling".into(),
        kind: "integration".into(),
        description: "Automatisering av redusert foreldrebetaling".into(),
        tags: vec!["barnehage".into()],
        owner: "964338531".into(),
        owner_name: "Bergen kommune".into(),
        created: NOW,
    }
}

pub fn files() -> Vec<FileData> {
    vec![
        FileData {
            path: "README.md".into(),
            content: b"# Redusert foreldrebetaling\n\nLinje 1\nLinje 2\n".to_vec(),
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

/// An engine outside any network that published one artefact and edited a text file of it
/// (so its history holds a signed genesis, an origin change and a signed edit).
pub fn publisher() -> (Engine<MemStore, usize>, ArtefactId) {
    let mut engine = Engine::new(NodeKey::from_secret(PUBLISHER_SECRET), MemStore::new());
    let id = engine
        .publish(&meta(), &files(), None, NOW, [1; 8])
        .expect("publish");
    let (base, _) = engine.files(&id, None).expect("files");
    engine
        .commit(
            &id,
            &base,
            &[FileEdit::Write {
                path: "README.md".into(),
                content: b"# Redusert foreldrebetaling\n\nLinje 1 (Bergen)\nLinje 2\n".to_vec(),
                executable: false,
            }],
            "edit",
            NOW + 60,
            [2; 8],
        )
        .expect("commit");
    engine.drain_outputs();
    (engine, id)
}

/// The store of `publisher()`, built once: engines built on a clone of it start with the
/// artefact already published.
pub fn published_store() -> &'static (MemStore, ArtefactId) {
    static STORE: std::sync::OnceLock<(MemStore, ArtefactId)> = std::sync::OnceLock::new();
    STORE.get_or_init(|| {
        let (engine, id) = publisher();
        (engine.store().clone(), id)
    })
}

/// A Pull for `id` as an engine with `heads` would send it.
pub fn pull(id: ArtefactId, heads: &[allmenning_protocol::ChangeHash]) -> Request {
    Request::Pull {
        id,
        heads: heads_to_wire(heads),
        have: Vec::new(),
        need: Vec::new(),
    }
}

/// Raw changes and proofs of the published artefact, in store order.
pub fn published_changes() -> Vec<(Vec<u8>, allmenning_protocol::signed::Proof)> {
    let (store, id) = published_store();
    let doc = store.load_document(id).ok().flatten().unwrap_or_default();
    let proofs = store.proofs(id).unwrap_or_default();
    let mut out = Vec::new();
    for bytes in doc.changes {
        if let Ok(change) = automerge::Change::from_bytes(bytes.clone()) {
            if let Some((_, proof)) = proofs.iter().find(|(h, _)| *h == change.hash()) {
                out.push((bytes, proof.clone()));
            }
        }
    }
    out
}

/// The request an engine sent for `response` to answer it (so it is not refused as unsolicited):
/// a pull of the artefact it names (from `heads`), blobs it holds, statements, the inventory.
pub fn request_for(
    response: &allmenning_protocol::wire::Response,
    fallback: ArtefactId,
    heads: &[allmenning_protocol::ChangeHash],
) -> Request {
    use allmenning_protocol::wire::{Response, WireBlob};
    use allmenning_protocol::BlobHash;
    match response {
        Response::Snapshot { id, .. }
        | Response::Changes { id, .. }
        | Response::Diverged { id, .. }
        | Response::NotFound { id } => pull(*id, heads),
        Response::Blobs { blobs, .. } => Request::Blobs {
            id: fallback,
            hashes: blobs.iter().map(|WireBlob(b)| BlobHash::of(b)).collect(),
        },
        Response::Statements { .. } => Request::Statements { have: Vec::new() },
        Response::Inventory { .. } => Request::Inventory,
        Response::Refused { .. } | Response::Ack | Response::Busy { .. } => pull(fallback, heads),
    }
}

/// `response` with the checksum of every Automerge chunk it carries recomputed: a fuzzer that
/// mutates a chunk then reaches what the chunk holds instead of the checksum check.
pub fn with_fixed_checksums(
    response: &allmenning_protocol::wire::Response,
) -> allmenning_protocol::wire::Response {
    use allmenning_protocol::signed::hostile::fix_checksums;
    use allmenning_protocol::wire::Response;
    let mut response = response.clone();
    match &mut response {
        Response::Snapshot { document, .. } => fix_checksums(document),
        Response::Changes { changes, .. } => {
            for change in changes {
                fix_checksums(&mut change.bytes);
            }
        }
        _ => {}
    }
    response
}

/// The decode budget of the decoder targets (change_verify, snapshot_load): far less than a
/// message's. Decoding within a budget costs time and memory in proportion to it, and in the
/// fuzz build (sanitizers, debug assertions) Automerge takes up to about 35 µs per operation of a
/// document and holds a few times the bytes it inflates (with the sanitizer's quarantine on top):
/// a message's 2^23 operations would take minutes and its 64 MiB of inflated columns a few hundred
/// MB, past the per-input `-timeout` and `-rss_limit_mb` of .ci/fuzz, though the budget held.
/// With 2^14 operations and 8 MiB, an input the budget admits stays within those limits, and one
/// it does not (every bomb seed claims far more) still fails the run if it is not refused.
pub fn fuzz_budget() -> allmenning_protocol::signed::DecodeBudget {
    allmenning_protocol::signed::DecodeBudget::new(1 << 14, 8 << 20)
}

/// Source files of automerge 0.12 whose panics on a document with a valid checksum are known and
/// not guarded against before `Automerge::load` (module `signed::precheck` guards the others):
/// the change collector that rebuilds a document's changes from its ops asserts that op ids are
/// unique and lie within the ranges of their changes (collector.rs: `assert!` in
/// `VecEncoder::add`, `assert_eq!` on a change's max op, unwraps on actor and change lookups).
/// Checking that beforehand means rebuilding the document; the engine contains these panics with
/// `catch_unwind`. A panic anywhere else still fails the run.
pub const KNOWN_AUTOMERGE_PANICS: &[&str] = &["automerge-0.12.0/src/op_set2/change/collector.rs"];

thread_local! {
    static TOLERATE_KNOWN_PANICS: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Runs `f`, letting a panic raised in one of [`KNOWN_AUTOMERGE_PANICS`] unwind (to the engine's
/// `catch_unwind`, or to the one here) instead of aborting the fuzzer as libFuzzer's panic hook
/// does. Used where inputs get their checksums recomputed, which lets mutated documents reach
/// automerge's document reconstruction.
pub fn tolerating_known_automerge_panics(f: impl FnOnce()) {
    static INSTALL: std::sync::Once = std::sync::Once::new();
    INSTALL.call_once(|| {
        let fuzzer_hook = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let known = info.location().is_some_and(|l| {
                KNOWN_AUTOMERGE_PANICS
                    .iter()
                    .any(|file| l.file().ends_with(file))
            });
            if !(known && TOLERATE_KNOWN_PANICS.with(|t| t.get())) {
                fuzzer_hook(info);
            }
        }));
    });
    TOLERATE_KNOWN_PANICS.with(|t| t.set(true));
    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
    TOLERATE_KNOWN_PANICS.with(|t| t.set(false));
}
