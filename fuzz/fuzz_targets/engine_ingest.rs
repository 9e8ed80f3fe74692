#![no_main]
//! Arbitrary bytes into the engine's entry points for peer input: as the response to a Pull it
//! sent, as a request, as a gossiped announce and as a gossiped statement. Both a fresh engine
//! and one that already published an artefact (and edited it) get each input. Asserts only
//! that nothing panics.
//!
//! Note: `Engine::handle_response` wraps ingestion in `catch_unwind` (Automerge may panic on
//! hostile documents). libFuzzer's panic hook aborts on *any* panic, caught or not, so a panic
//! inside that guard is reported here too: it still means the CRDT library (or the engine) hit
//! an assertion on peer input, and would take the node down in a `panic = "abort"` build.
//!
//! The seeds include the hostile replies of engine_replies (changes and snapshots claiming
//! billions of operations, a deflate bomb), which must be refused, not worked through.
use allmenning_fuzz::{published_store, pull, PEER, PUBLISHER_SECRET, RECEIVER_SECRET};
use allmenning_protocol::wire::{Announce, Request};
use allmenning_protocol::{Engine, MemStore, NodeKey};
use libfuzzer_sys::fuzz_target;

fn feed(engine: &mut Engine<MemStore, usize>, requests: &[Request], data: &[u8]) {
    engine.handle_connected(PEER, None);
    engine.drain_outputs();
    for request in requests {
        engine.handle_response(PEER, request, data);
        engine.drain_outputs();
    }
    let _ = engine.handle_request(PEER, data);
    engine.handle_announce(PEER, data);
    engine.handle_statement(PEER, data, 1_700_000_000);
    engine.handle_trust_tick(1_700_000_001);
    engine.handle_tick();
    engine.handle_disconnected(&PEER);
    engine.drain_outputs();
}

fuzz_target!(|data: &[u8]| {
    let (store, id) = published_store();
    let id = *id;

    // A fresh engine that asked for the artefact (it has nothing), and for whatever id an
    // announce in the input names.
    let mut fresh = Engine::new(NodeKey::from_secret(RECEIVER_SECRET), MemStore::new());
    let mut requests = vec![
        pull(id, &[]),
        Request::Inventory,
        Request::Statements { have: vec![] },
    ];
    if let Ok(announce) = Announce::decode(data) {
        requests.push(pull(announce.id, &[]));
    }
    feed(&mut fresh, &requests, data);

    // The engine that published the artefact, asking a peer for news of it.
    let mut publisher = Engine::new(NodeKey::from_secret(PUBLISHER_SECRET), store.clone());
    let heads = publisher
        .artefact(&id)
        .map(|a| a.heads())
        .unwrap_or_default();
    let requests = vec![pull(id, &heads), Request::Blobs { id, hashes: vec![] }];
    feed(&mut publisher, &requests, data);
    let _ = publisher.files(&id, None);
});
