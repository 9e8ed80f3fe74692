#![no_main]
//! Whole wire replies (`wire::Response` bytes) into an in-memory engine that asked for them:
//! `Engine::handle_response` with the request the reply answers (a pull of the artefact it
//! names, the blobs it carries, statements, the inventory), so that the reply is ingested rather
//! than refused as unsolicited; then the engine's outputs are drained and a tick is run. Both a
//! fresh engine (which pulls an artefact it does not have: a snapshot or changes from scratch)
//! and one that published and edited the artefact (which pulls news of it) get each reply.
//!
//! The seeds (fuzz/src/bin/gen_seeds.rs) are real replies of a publishing engine and hostile
//! ones: snapshots whose columns claim billions of rows or inflate to a gigabyte, changes that
//! claim 2^62 operations or predecessors (see `signed::hostile`). Each reply is also fed with the
//! checksums of its Automerge chunks recomputed, so mutations inside a chunk get past the
//! checksum (automerge's known panics in document reconstruction, which the engine contains, are
//! tolerated there: see `KNOWN_AUTOMERGE_PANICS`). With libFuzzer's `-timeout` and `-rss_limit_mb` (see .ci/fuzz), a reply that makes
//! the engine work or allocate in proportion to what it claims fails the run like a crash.
use allmenning_fuzz::{
    published_store, request_for, with_fixed_checksums, PEER, PUBLISHER_SECRET, RECEIVER_SECRET,
};
use allmenning_protocol::wire::Response;
use allmenning_protocol::{Engine, MemStore, NodeKey};
use libfuzzer_sys::fuzz_target;

fn feed(
    engine: &mut Engine<MemStore, usize>,
    heads: &[allmenning_protocol::ChangeHash],
    reply: &[u8],
) {
    let (_, id) = published_store();
    let request = match Response::decode(reply) {
        Ok(response) => request_for(&response, *id, heads),
        Err(_) => allmenning_fuzz::pull(*id, heads),
    };
    engine.handle_connected(PEER, None);
    engine.drain_outputs();
    engine.handle_response(PEER, &request, reply);
    engine.drain_outputs();
    engine.handle_tick();
    engine.drain_outputs();
}

fuzz_target!(|data: &[u8]| {
    let (store, id) = published_store();
    let mut replies = vec![data.to_vec()];
    if let Ok(response) = Response::decode(data) {
        let fixed = with_fixed_checksums(&response);
        if fixed != response {
            replies.push(fixed.encode());
        }
    }
    for (i, reply) in replies.iter().enumerate() {
        let run = || {
            let mut fresh = Engine::new(NodeKey::from_secret(RECEIVER_SECRET), MemStore::new());
            feed(&mut fresh, &[], reply);

            let mut publisher = Engine::new(NodeKey::from_secret(PUBLISHER_SECRET), store.clone());
            let heads = publisher
                .artefact(id)
                .map(|a| a.heads())
                .unwrap_or_default();
            feed(&mut publisher, &heads, reply);
        };
        // With recomputed checksums, mutated documents reach automerge's reconstruction.
        if i == 0 {
            run();
        } else {
            allmenning_fuzz::tolerating_known_automerge_panics(run);
        }
    }
});
