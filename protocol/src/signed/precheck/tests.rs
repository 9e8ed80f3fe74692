use super::*;
use crate::signed::DecodeBudget;
use crate::signed::{decode_change, load_snapshot, DecodeChangeError, LoadSnapshotError};

fn budget() -> DecodeBudget {
    DecodeBudget::per_message()
}
use automerge::transaction::Transactable;
use automerge::{AutoCommit, Change, ObjType, ROOT};
use std::panic::{catch_unwind, AssertUnwindSafe};

/// Real changes: map puts, a nested map, text splices (inserts with element keys) and
/// overwrites and deletes (ops with predecessors), from two actors.
fn real_changes() -> Vec<Change> {
    let mut doc = AutoCommit::new();
    doc.put(ROOT, "title", "Foreldrebetaling").unwrap();
    let meta = doc.put_object(ROOT, "meta", ObjType::Map).unwrap();
    doc.put(&meta, "kind", "integration").unwrap();
    let text = doc.put_object(ROOT, "text", ObjType::Text).unwrap();
    doc.splice_text(&text, 0, 0, "Linje 1\nLinje 2\n").unwrap();
    doc.commit();
    let mut other = doc.fork();
    other.put(&meta, "kind", "service").unwrap();
    other.splice_text(&text, 5, 2, "x").unwrap();
    other.delete(ROOT, "title").unwrap();
    other.commit();
    doc.merge(&mut other).unwrap();
    doc.put(ROOT, "title", "Ny tittel").unwrap();
    doc.commit();
    doc.get_changes(&[])
}

fn uleb(out: &mut Vec<u8>, mut v: u64) {
    loop {
        let byte = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

fn sleb(out: &mut Vec<u8>, mut v: i64) {
    loop {
        let byte = (v & 0x7f) as u8;
        v >>= 7;
        if (v == 0 && byte & 0x40 == 0) || (v == -1 && byte & 0x40 != 0) {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

/// One RLE run of `count` copies of an unsigned value.
fn run(count: i64, value: u64) -> Vec<u8> {
    let mut out = Vec::new();
    sleb(&mut out, count);
    uleb(&mut out, value);
    out
}

/// A change chunk (uncompressed, actor 0xaa.., seq 1, start op 1) with these op columns, given
/// as (column id, column type, data) in the order automerge requires.
fn chunk(columns: &[(u32, u32, Vec<u8>)]) -> Vec<u8> {
    let mut body = Vec::new();
    uleb(&mut body, 0); // dependencies
    uleb(&mut body, 16);
    body.extend([0xaa; 16]); // actor
    uleb(&mut body, 1); // seq
    uleb(&mut body, 1); // start op
    sleb(&mut body, 0); // time
    uleb(&mut body, 0); // message
    uleb(&mut body, 0); // other actors
    uleb(&mut body, columns.len() as u64);
    for (id, col_type, data) in columns {
        uleb(&mut body, u64::from(id << 4 | col_type));
        uleb(&mut body, data.len() as u64);
    }
    for (_, _, data) in columns {
        body.extend(data);
    }
    let mut out = MAGIC.to_vec();
    out.extend([0; 4]); // checksum (Change::from_bytes does not check it)
    out.push(CHUNK_TYPE_CHANGE);
    uleb(&mut out, body.len() as u64);
    out.extend(body);
    out
}

/// One op, `put` of null into the map whose id is (`obj_counter`, `obj_actor`), under key "a".
fn put_into_object(obj_actor: u64, obj_counter: u64) -> Vec<u8> {
    chunk(&[
        (0, ACTOR, run(1, obj_actor)),
        (0, INTEGER, run(1, obj_counter)),
        (1, STRING, [1, 1, b'a'].to_vec()),
        (3, BOOLEAN, [1].to_vec()), // insert: 1 false
        (4, INTEGER, run(1, 1)),
        (5, VALUE_METADATA, run(1, 0)),
        (7, GROUP, run(1, 0)),
    ])
}

/// One op, inserting null into the list `root.l` after element (`counter`, actor 0), given as
/// the deltas of the key counter column.
fn insert_after(key_counter_column: Vec<u8>) -> Vec<u8> {
    chunk(&[
        (0, ACTOR, run(1, 0)),
        (0, INTEGER, run(1, 1)),
        (1, ACTOR, run(1, 0)),
        (1, DELTA, key_counter_column),
        (3, BOOLEAN, [0, 1].to_vec()), // insert: 0 false, 1 true
        (4, INTEGER, run(1, 1)),
        (5, VALUE_METADATA, run(1, 0)),
        (7, GROUP, run(1, 0)),
    ])
}

/// One op with one predecessor (`pred_actor`, given as the pred counter column).
fn with_pred(pred_actor: u64, pred_counter_column: Vec<u8>) -> Vec<u8> {
    chunk(&[
        (1, STRING, [1, 1, b'a'].to_vec()),
        (3, BOOLEAN, [1].to_vec()), // insert: 1 false
        (4, INTEGER, run(1, 1)),
        (5, VALUE_METADATA, run(1, 0)),
        (7, GROUP, run(1, 1)),
        (7, ACTOR, run(1, pred_actor)),
        (7, DELTA, pred_counter_column),
    ])
}

fn signed_run(count: i64, delta: i64) -> Vec<u8> {
    let mut out = Vec::new();
    sleb(&mut out, count);
    sleb(&mut out, delta);
    out
}

/// Whether `Change::from_bytes` panics on `bytes`.
fn automerge_panics(bytes: &[u8]) -> bool {
    catch_unwind(AssertUnwindSafe(|| {
        let _ = Change::from_bytes(bytes.to_vec());
    }))
    .is_err()
}

const BOOLEAN: u32 = 4;
const BIG: u64 = u32::MAX as u64 + 1;

#[test]
fn real_changes_pass_and_decode() {
    let changes = real_changes();
    assert!(changes.len() >= 3);
    for change in changes {
        let bytes = change.raw_bytes().to_vec();
        assert_eq!(check(&bytes), Ok(()));
        assert_eq!(
            decode_change(bytes, &mut budget()).unwrap().hash(),
            change.hash()
        );
    }
}

#[test]
fn the_chunk_builder_makes_changes_automerge_accepts() {
    // So the tests below do reach the op decoding.
    for bytes in [
        put_into_object(0, 0),
        insert_after(signed_run(1, 1)),
        with_pred(0, signed_run(1, 1)),
    ] {
        assert_eq!(check(&bytes), Ok(()));
        Change::from_bytes(bytes).unwrap();
    }
}

/// The input the fuzz target change_verify found: a mutated genesis change whose obj counter
/// column holds a value beyond `u32::MAX`.
#[test]
fn the_fuzzer_found_change_is_refused_before_automerge_sees_it() {
    let bytes = include_bytes!("../../engine/automerge_panic_change.bin").to_vec();
    assert_eq!(
        check(&bytes),
        Err(MalformedInput::OpIdOutOfRange {
            column: "obj counter",
            value: 1_296_425_394_814_926_965,
        })
    );
    assert!(matches!(
        decode_change(bytes, &mut budget()),
        Err(DecodeChangeError::Malformed(
            MalformedInput::OpIdOutOfRange { .. }
        ))
    ));
}

#[test]
fn op_id_parts_beyond_u32_are_refused_and_u32_max_is_not() {
    let cases = [
        (
            "obj actor",
            put_into_object(BIG, 1),
            put_into_object(BIG - 1, 1),
        ),
        (
            "obj counter",
            put_into_object(0, BIG),
            put_into_object(0, BIG - 1),
        ),
        (
            "key counter",
            insert_after(signed_run(1, BIG as i64)),
            insert_after(signed_run(1, BIG as i64 - 1)),
        ),
        (
            "pred actor",
            with_pred(BIG, signed_run(1, 1)),
            with_pred(BIG - 1, signed_run(1, 1)),
        ),
        (
            "pred counter",
            with_pred(0, signed_run(1, BIG as i64)),
            with_pred(0, signed_run(1, BIG as i64 - 1)),
        ),
    ];
    for (column, over, limit) in cases {
        let refused = check(&over);
        assert!(
            matches!(refused, Err(MalformedInput::OpIdOutOfRange { column: c, .. }) if c == column),
            "{column}: {refused:?}"
        );
        assert!(
            matches!(
                decode_change(over, &mut budget()),
                Err(DecodeChangeError::Malformed(_))
            ),
            "{column}"
        );
        assert_eq!(check(&limit), Ok(()), "{column}");
        // At the limit automerge decides (here it refuses the unknown actor or accepts), and
        // must not panic.
        assert!(!automerge_panics(&limit), "{column}");
    }
}

#[test]
fn delta_coded_counters_are_checked_as_running_sums() {
    let column = |runs: &[(i64, i64)]| {
        let bytes: Vec<u8> = runs.iter().flat_map(|&(n, d)| signed_run(n, d)).collect();
        check_column(&bytes, Walk::OpIdCounter, "key counter")
    };
    // Each delta is small; their sum is not.
    assert!(column(&[(2, 1 << 31)]).is_err());
    assert!(column(&[(1, 1 << 31), (1, (1 << 31) - 1)]).is_ok());
    assert!(column(&[(1, 1 << 31), (1, (1 << 31) - 1), (1, 1)]).is_err());
    // A literal run (negative length) of three deltas.
    let mut literal = Vec::new();
    sleb(&mut literal, -3);
    for delta in [u32::MAX as i64, -5, 6] {
        sleb(&mut literal, delta);
    }
    assert!(check_column(&literal, Walk::OpIdCounter, "key counter").is_err());
    // Once the sum is negative automerge refuses the op, so what follows is not its concern.
    assert!(column(&[(1, -1), (1, i64::MAX)]).is_ok());
    // Null runs leave the sum alone.
    let mut nulls = signed_run(1, u32::MAX as i64);
    nulls.extend([0, 5]);
    nulls.extend(signed_run(1, 1));
    assert!(check_column(&nulls, Walk::OpIdCounter, "key counter").is_err());
}

#[test]
fn a_run_length_of_minus_2_pow_63_is_refused() {
    let bytes = chunk(&[
        (1, STRING, [1, 1, b'a'].to_vec()),
        (4, INTEGER, signed_run(i64::MIN, 1)),
        (5, VALUE_METADATA, run(1, 0)),
        (7, GROUP, run(1, 0)),
    ]);
    assert_eq!(
        check(&bytes),
        Err(MalformedInput::RunLengthOverflow { column: "action" })
    );
}

#[test]
fn compressed_changes_are_refused() {
    let mut doc = AutoCommit::new();
    doc.put(ROOT, "text", "x".repeat(1000)).unwrap();
    doc.commit();
    let mut change = doc.get_changes(&[])[0].clone();
    let compressed = change.bytes().into_owned();
    assert_ne!(
        compressed,
        change.raw_bytes(),
        "expected a compressed chunk"
    );
    assert_eq!(check(&compressed), Err(MalformedInput::Compressed));
    assert_eq!(check(change.raw_bytes()), Ok(()));
}

#[test]
fn truncated_and_garbage_input_is_left_to_automerge() {
    let bytes = real_changes()[0].raw_bytes().to_vec();
    for len in 0..bytes.len() {
        assert_eq!(check(&bytes[..len]), Ok(()), "prefix of {len} bytes");
        assert!(decode_change(bytes[..len].to_vec(), &mut budget()).is_err());
    }
    assert_eq!(check(b"not a change at all"), Ok(()));
    // Other chunk types are refused: a document is no change.
    let document = saved_document().save();
    assert_eq!(check(&document), Err(MalformedInput::NotAChange(0)));
}

/// Guards the reason for this module: if a newer automerge stops panicking on these inputs, the
/// module (and this test) can go, keeping `catch_unwind` in the engine.
#[test]
fn automerge_0_12_still_panics_on_what_the_check_refuses() {
    let fuzzer_found = include_bytes!("../../engine/automerge_panic_change.bin");
    assert!(
        automerge_panics(fuzzer_found),
        "automerge no longer panics on the fuzzer's input: see signed/precheck.rs"
    );
    assert!(automerge_panics(&put_into_object(0, BIG)));
}

fn saved_document() -> AutoCommit {
    let mut doc = AutoCommit::new();
    for change in real_changes() {
        doc.apply_changes([change]).unwrap();
    }
    doc
}

#[test]
fn real_snapshots_pass_and_load() {
    let mut doc = saved_document();
    let bytes = doc.save();
    assert_eq!(check_snapshot(&bytes), Ok(()));
    let loaded = load_snapshot(&bytes, &mut budget()).unwrap();
    assert_eq!(loaded.get_heads(), doc.get_heads());

    // A change whose dependency is missing waits in the queue, and `save` appends it raw.
    let mut other = doc.fork();
    other.put(ROOT, "a", 1).unwrap();
    other.commit();
    other.put(ROOT, "b", 2).unwrap();
    other.commit();
    let orphan = other.get_last_local_change().unwrap().clone();
    doc.apply_changes([orphan.clone()]).unwrap();
    let bytes = doc.save();
    assert!(
        bytes.ends_with(orphan.raw_bytes()),
        "expected a trailing orphan"
    );
    assert_eq!(check_snapshot(&bytes), Ok(()));
    assert!(load_snapshot(&bytes, &mut budget()).is_ok());
}

/// Found by fuzzing (fuzz target snapshot_load): `Automerge::load` panics on this bundle chunk
/// (hexane 1.0.0-alpha.5, src/lib.rs:354) instead of returning an error.
#[test]
fn the_fuzzer_found_bundle_is_refused_as_a_snapshot() {
    let bytes = include_bytes!("automerge_panic_bundle.bin");
    assert!(
        automerge_load_panics(bytes),
        "automerge no longer panics on the fuzzer's bundle: see signed/precheck.rs"
    );
    assert_eq!(
        check_snapshot(bytes),
        Err(MalformedInput::SnapshotNotADocument)
    );
    assert!(matches!(
        load_snapshot(bytes, &mut budget()),
        Err(LoadSnapshotError::Malformed(_))
    ));
    // `Change::from_bytes` parses it too before finding it is no change (found by change_verify).
    assert!(automerge_panics(bytes));
    assert_eq!(check(bytes), Err(MalformedInput::NotAChange(3)));
}

#[test]
fn snapshots_must_be_a_document_followed_by_checked_changes() {
    let document = saved_document().save();
    let change = real_changes()[0].raw_bytes().to_vec();
    // A change on its own, or first.
    assert_eq!(
        check_snapshot(&change),
        Err(MalformedInput::SnapshotNotADocument)
    );
    // A second document after the first.
    assert_eq!(
        check_snapshot(&[document.clone(), document.clone()].concat()),
        Err(MalformedInput::SnapshotChunk(CHUNK_TYPE_DOCUMENT))
    );
    // A change that makes automerge panic, appended to a good document. (`Automerge::load`
    // checks the chunk checksum first, which this one lacks; an attacker can compute it.)
    let bad = put_into_object(0, BIG);
    let snapshot = [document.clone(), bad].concat();
    assert!(matches!(
        check_snapshot(&snapshot),
        Err(MalformedInput::OpIdOutOfRange { .. })
    ));
    // A good change appended is fine; garbage is left to automerge.
    assert_eq!(check_snapshot(&[document.clone(), change].concat()), Ok(()));
    assert_eq!(
        check_snapshot(&[document.clone(), b"xyz".to_vec()].concat()),
        Ok(())
    );
    assert_eq!(check_snapshot(b""), Ok(()));
}

fn automerge_load_panics(bytes: &[u8]) -> bool {
    catch_unwind(AssertUnwindSafe(|| {
        let _ = automerge::Automerge::load(bytes);
    }))
    .is_err()
}

/// Splits an uncompressed change chunk into the body fields before the column metadata and its
/// columns as (specification, data); `frame` puts them back together.
fn split(bytes: &[u8]) -> (Vec<u8>, Vec<(u32, Vec<u8>)>) {
    let mut r = Reader::new(&bytes[9..]);
    let len = r.uleb().unwrap();
    let body = r.take(len).unwrap();
    let mut r = Reader::new(body);
    for _ in 0..r.uleb().unwrap() {
        r.take(32).unwrap();
    }
    let n = r.uleb().unwrap();
    r.take(n).unwrap();
    r.uleb().unwrap();
    r.uleb().unwrap();
    r.sleb().unwrap();
    let n = r.uleb().unwrap();
    r.take(n).unwrap();
    for _ in 0..r.uleb().unwrap() {
        let n = r.uleb().unwrap();
        r.take(n).unwrap();
    }
    let prefix = body[..r.pos].to_vec();
    let mut specs = Vec::new();
    for _ in 0..r.uleb().unwrap() {
        specs.push((r.uleb().unwrap() as u32, r.uleb().unwrap()));
    }
    let columns = specs
        .into_iter()
        .map(|(spec, len)| (spec, r.take(len).unwrap().to_vec()))
        .collect();
    (prefix, columns)
}

fn frame(prefix: &[u8], columns: &[(u32, Vec<u8>)]) -> Vec<u8> {
    let mut body = prefix.to_vec();
    uleb(&mut body, columns.len() as u64);
    for (spec, data) in columns {
        uleb(&mut body, u64::from(*spec));
        uleb(&mut body, data.len() as u64);
    }
    for (_, data) in columns {
        body.extend(data);
    }
    let mut out = MAGIC.to_vec();
    out.extend([0; 4]);
    out.push(CHUNK_TYPE_CHANGE);
    uleb(&mut out, body.len() as u64);
    out.extend(body);
    out
}

/// A small deterministic fuzzer: real changes whose op columns are mutated (bytes changed, LEB128
/// numbers of every size spliced in, whole runs replaced) and re-framed with the right lengths.
/// Mutations that pass the check never make automerge panic, and the check does refuse some
/// that would. (The cargo-fuzz target change_verify does this at scale, on raw bytes.)
#[test]
fn mutated_changes_that_pass_the_check_do_not_panic() {
    let seeds: Vec<_> = real_changes()
        .iter()
        .map(|c| split(c.raw_bytes()))
        .collect();
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let (mut refused, mut decoded) = (0, 0);
    for _ in 0..5000 {
        let (prefix, mut columns) = seeds[next() as usize % seeds.len()].clone();
        for _ in 0..1 + next() % 3 {
            let col = next() as usize % columns.len();
            let data = &mut columns[col].1;
            // A number of 1 to 64 bits, so the u32 boundary is crossed often.
            let number = next() >> (next() % 64);
            let at = if data.is_empty() {
                0
            } else {
                next() as usize % data.len()
            };
            let mut leb = Vec::new();
            match next() % 5 {
                0 if !data.is_empty() => data[at] = next() as u8,
                1 => uleb(&mut leb, number),
                2 => sleb(&mut leb, number as i64),
                3 => {
                    data.clear();
                    sleb(&mut leb, (next() % 4) as i64 - 1);
                    uleb(&mut leb, number);
                }
                _ => {
                    data.clear();
                    sleb(&mut leb, (next() % 4) as i64 - 1);
                    sleb(&mut leb, number as i64);
                }
            }
            data.splice(at.min(data.len())..at.min(data.len()), leb);
        }
        let bytes = frame(&prefix, &columns);
        match check(&bytes) {
            Ok(()) => {
                assert!(!automerge_panics(&bytes), "{bytes:02x?}");
                decoded += usize::from(Change::from_bytes(bytes).is_ok());
            }
            Err(_) => {
                refused += 1;
            }
        }
    }
    assert!(
        refused > 100 && decoded > 100,
        "{refused} refused, {decoded} decoded"
    );
}
