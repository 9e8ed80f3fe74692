#![no_main]
//! `signed::load_snapshot` (the engine's loader of the document in a peer's `Response::Snapshot`:
//! a structural pre-check, then `Automerge::load`) on untrusted bytes, and what the engine reads
//! of the loaded document before verifying its changes (see `Engine::ingest_snapshot`).
//! engine_ingest reaches the same code through the whole engine, but only at a few hundred
//! executions a second; this target runs the decoder alone, about a hundred times faster.
//! Each input is also tried with the checksums of its chunks recomputed, so that mutations get
//! past the checksum check into the document's columns (and, there, into automerge's document
//! reconstruction, whose known panics are tolerated: see `KNOWN_AUTOMERGE_PANICS`). Seeds include documents whose columns
//! claim billions of rows or inflate to nearly a gigabyte (`signed::hostile`): loading must
//! refuse them, not build or inflate them (see `-timeout` and `-rss_limit_mb` in .ci/fuzz). The
//! budget is `fuzz_budget()`: fewer operations than a message's, so that what it admits loads
//! within the timeout.
use allmenning_protocol::signed::hostile::fix_checksums;
use allmenning_protocol::signed::load_snapshot;
use automerge::{ReadDoc, ROOT};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut fixed = data.to_vec();
    fix_checksums(&mut fixed);
    if fixed != data {
        allmenning_fuzz::tolerating_known_automerge_panics(|| load(&fixed));
    }
    load(data);
});

fn load(data: &[u8]) {
    let Ok(doc) = load_snapshot(data, &mut allmenning_fuzz::fuzz_budget()) else {
        return;
    };
    for change in doc.get_changes(&[]) {
        let _ = change.hash();
        let _ = change.deps();
        let _ = change.actor_id();
        let _ = change.raw_bytes();
    }
    let _ = doc.get_heads();
    let _ = doc.get(ROOT, "meta");
    let _ = doc.keys(ROOT).count();
    let _ = doc.save();
}
