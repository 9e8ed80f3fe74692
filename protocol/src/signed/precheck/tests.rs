//! The structural check on its own: what it refuses, and that automerge 0.12 does panic (or do
//! unbounded work) on what it refuses. The budgets, and real changes and snapshots of every
//! size, are tested in `signed::tests`.

use super::columns::{walk, Check, Encoding, Mode, Reader};
use super::*;
use crate::signed::hostile::{self, delta_run, run, sleb, spec, string_run, uleb};
use crate::signed::{decode_change, load_snapshot, DecodeBudget};
use crate::signed::{DecodeChangeError, LoadSnapshotError};
use automerge::transaction::Transactable;
use automerge::{AutoCommit, Change, ObjType, ReadDoc, ROOT};
use std::panic::{catch_unwind, AssertUnwindSafe};

fn budget() -> DecodeBudget {
    DecodeBudget::per_message()
}

/// Real changes: map puts, a nested map, text splices (inserts with element keys) and
/// overwrites and deletes (ops with predecessors), from two actors.
pub(crate) fn real_changes() -> Vec<Change> {
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

/// A change chunk by actor 0xaa.. (16 bytes) with these op columns, given as (column id, column
/// type, data) in the order automerge requires, with a correct checksum.
fn chunk(columns: &[(u32, u32, Vec<u8>)]) -> Vec<u8> {
    let columns: Vec<(u32, Vec<u8>)> = columns
        .iter()
        .map(|(id, col_type, data)| (spec(*id, *col_type), data.clone()))
        .collect();
    hostile::change(&[0xaa; 16], &columns)
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

/// Whether `Change::from_bytes` panics on `bytes`.
fn automerge_panics(bytes: &[u8]) -> bool {
    catch_unwind(AssertUnwindSafe(|| {
        let _ = Change::from_bytes(bytes.to_vec());
    }))
    .is_err()
}

fn automerge_load_panics(bytes: &[u8]) -> bool {
    catch_unwind(AssertUnwindSafe(|| {
        let _ = automerge::Automerge::load(bytes);
    }))
    .is_err()
}

const BIG: u64 = u32::MAX as u64 + 1;

#[test]
fn real_changes_pass_and_decode() {
    let changes = real_changes();
    assert!(changes.len() >= 3);
    for change in changes {
        let bytes = change.raw_bytes().to_vec();
        let checked = check_change(&bytes).unwrap();
        assert_eq!(checked.hash, change.hash().0);
        assert_eq!(checked.claimed_ops, change.len() as u64);
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
        insert_after(delta_run(1, 1)),
        with_pred(0, delta_run(1, 1)),
        hostile::change_claiming_ops(3),
        hostile::change_claiming_preds(3),
    ] {
        let hash = check_change(&bytes).unwrap().hash;
        assert_eq!(hash, Change::from_bytes(bytes).unwrap().hash().0);
    }
}

/// The input the fuzz target change_verify found: a mutated genesis change whose obj counter
/// column holds a value beyond `u32::MAX`.
#[test]
fn the_fuzzer_found_change_is_refused_before_automerge_sees_it() {
    let mut bytes = include_bytes!("../../engine/automerge_panic_change.bin").to_vec();
    // The fuzzer found it when automerge was the first to look, which does not check the
    // checksum; now the checksum is checked first.
    assert!(matches!(
        check_change(&bytes),
        Err(MalformedInput::BadChecksum { .. })
    ));
    hostile::fix_checksums(&mut bytes);
    assert!(automerge_panics(&bytes));
    assert_eq!(
        check_change(&bytes),
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
            insert_after(delta_run(1, BIG as i64)),
            insert_after(delta_run(1, BIG as i64 - 1)),
        ),
        (
            "pred actor",
            with_pred(BIG, delta_run(1, 1)),
            with_pred(BIG - 1, delta_run(1, 1)),
        ),
        (
            "pred counter",
            with_pred(0, delta_run(1, BIG as i64)),
            with_pred(0, delta_run(1, BIG as i64 - 1)),
        ),
    ];
    for (column, over, limit) in cases {
        let refused = check_change(&over);
        assert!(
            matches!(refused, Err(MalformedInput::OpIdOutOfRange { column: c, .. }) if c == column),
            "{column}: {refused:?}"
        );
        assert!(automerge_panics(&over), "{column}");
        assert!(
            matches!(
                decode_change(over, &mut budget()),
                Err(DecodeChangeError::Malformed(_))
            ),
            "{column}"
        );
        assert!(check_change(&limit).is_ok(), "{column}");
        // At the limit automerge decides (here it refuses the unknown actor or accepts), and
        // must not panic.
        assert!(!automerge_panics(&limit), "{column}");
    }
}

fn walk_bytes(
    bytes: &[u8],
    encoding: Encoding,
    check: Check,
    mode: Mode,
) -> Result<u64, MalformedInput> {
    walk(
        &mut Reader::new(bytes),
        encoding,
        check,
        "test",
        mode,
        &mut |_| {},
    )
    .map(|c| c.rows)
}

#[test]
fn delta_coded_counters_are_checked_as_running_sums() {
    let column = |runs: &[(i64, i64)]| {
        let bytes: Vec<u8> = runs.iter().flat_map(|&(n, d)| delta_run(n, d)).collect();
        walk_bytes(&bytes, Encoding::Delta, Check::OpIdCounter, Mode::Lenient)
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
    assert!(walk_bytes(&literal, Encoding::Delta, Check::OpIdCounter, Mode::Lenient).is_err());
    // Once the sum is negative automerge refuses the op, so what follows is not its concern.
    assert!(column(&[(1, -1), (1, i64::MAX)]).is_ok());
    // Null runs leave the sum alone.
    let mut nulls = delta_run(1, u32::MAX as i64);
    nulls.extend([0, 5]);
    nulls.extend(delta_run(1, 1));
    assert!(walk_bytes(&nulls, Encoding::Delta, Check::OpIdCounter, Mode::Lenient).is_err());
}

#[test]
fn rows_are_run_lengths_and_null_counts_and_saturate() {
    // 3 repeated, 2 literal, 4 nulls.
    let mut column = run(3, 7);
    column.extend([0x7e, 1, 2, 0, 4]);
    for mode in [Mode::Lenient, Mode::Strict] {
        assert_eq!(
            walk_bytes(&column, Encoding::Uint, Check::Rows, mode),
            Ok(9)
        );
    }
    // Booleans: alternating run lengths.
    assert_eq!(
        walk_bytes(&[0, 5, 3], Encoding::Bool, Check::Rows, Mode::Strict),
        Ok(8)
    );
    // Strings: lengths and bytes.
    let mut strings = string_run(1 << 40, "abc");
    strings.extend([0x7f, 2, b'x', b'y']);
    assert_eq!(
        walk_bytes(&strings, Encoding::Str, Check::Rows, Mode::Strict),
        Ok((1 << 40) + 1)
    );
    // Three runs of 2^63 - 1 rows: the sum saturates.
    let mut huge = run(i64::MAX, 1);
    huge.extend(run(i64::MAX, 1));
    huge.extend(run(i64::MAX, 1));
    assert_eq!(
        walk_bytes(&huge, Encoding::Uint, Check::Rows, Mode::Strict),
        Ok(u64::MAX)
    );
    let mut nulls = Vec::new();
    for _ in 0..3 {
        nulls.push(0);
        uleb(&mut nulls, u64::MAX);
    }
    assert_eq!(
        walk_bytes(&nulls, Encoding::Delta, Check::Rows, Mode::Strict),
        Ok(u64::MAX)
    );
    // A truncated value: the lenient walk stops, the strict one refuses.
    let truncated = [0x02, 0x80];
    assert_eq!(
        walk_bytes(&truncated, Encoding::Uint, Check::Rows, Mode::Lenient),
        Ok(2)
    );
    assert!(walk_bytes(&truncated, Encoding::Uint, Check::Rows, Mode::Strict).is_err());
}

#[test]
fn a_run_length_of_minus_2_pow_63_is_refused() {
    let bytes = chunk(&[
        (1, STRING, [1, 1, b'a'].to_vec()),
        (4, INTEGER, delta_run(i64::MIN, 1)),
        (5, VALUE_METADATA, run(1, 0)),
        (7, GROUP, run(1, 0)),
    ]);
    assert_eq!(
        check_change(&bytes),
        Err(MalformedInput::RunLengthOverflow { column: "action" })
    );
}

#[test]
fn compressed_changes_and_columns_are_refused() {
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
    assert_eq!(check_change(&compressed), Err(MalformedInput::Compressed));
    assert!(check_change(change.raw_bytes()).is_ok());

    // A deflated op column in a change chunk (automerge refuses it too).
    let bytes = hostile::change(
        &[0xaa],
        &[(
            hostile::deflated(spec(4, INTEGER)),
            hostile::deflate_zeros(100),
        )],
    );
    assert_eq!(check_change(&bytes), Err(MalformedInput::CompressedColumn));
    assert!(Change::from_bytes(bytes).is_err());
}

#[test]
fn truncated_and_garbage_input_is_refused_with_a_reason() {
    let bytes = real_changes()[0].raw_bytes().to_vec();
    for len in 0..bytes.len() {
        let refused = check_change(&bytes[..len]);
        assert!(
            matches!(
                refused,
                Err(MalformedInput::BadHeader(_) | MalformedInput::BadChecksum { .. })
            ),
            "prefix of {len} bytes: {refused:?}"
        );
        assert!(decode_change(bytes[..len].to_vec(), &mut budget()).is_err());
    }
    assert_eq!(
        check_change(b"not a change at all"),
        Err(MalformedInput::BadHeader("no magic bytes"))
    );
    // Bytes after the chunk.
    let mut longer = bytes.clone();
    longer.push(0);
    assert_eq!(check_change(&longer), Err(MalformedInput::TrailingBytes(1)));
    assert!(Change::from_bytes(longer).is_err());
    // Other chunk types are refused: a document is no change.
    let document = saved_document().save();
    assert_eq!(check_change(&document), Err(MalformedInput::NotAChange(0)));
}

#[test]
fn a_checksum_that_does_not_match_the_hash_is_refused() {
    let mut bytes = real_changes()[0].raw_bytes().to_vec();
    bytes[4] ^= 1;
    assert!(matches!(
        check_change(&bytes),
        Err(MalformedInput::BadChecksum { .. })
    ));
    // `Change::from_bytes` would not have noticed.
    assert!(Change::from_bytes(bytes).is_ok());
    let mut document = saved_document().save();
    document[5] ^= 1;
    assert!(matches!(
        check_snapshot(&document, u64::MAX),
        Err(Refusal::Malformed(MalformedInput::BadChecksum { .. }))
    ));
}

#[test]
fn header_fields_are_parsed_as_automerge_parses_them() {
    // An overlong LEB128 sequence number (automerge's header parser refuses those).
    let change = &real_changes()[0];
    let raw = change.raw_bytes();
    let mut r = Reader::new(raw);
    let c = super::chunk(&mut r).unwrap();
    let mut body = Vec::new();
    let mut b = Reader::new(c.body);
    let deps = b.header_uleb().unwrap();
    assert_eq!(deps, 0);
    let actor = length_prefixed(&mut b).unwrap();
    uleb(&mut body, 0);
    uleb(&mut body, actor.len() as u64);
    body.extend(actor);
    let seq = b.header_uleb().unwrap();
    assert!(seq < 0x80);
    let rest = &c.body[b.pos..];
    let mut overlong = body.clone();
    overlong.extend([seq as u8 | 0x80, 0x00]);
    overlong.extend(rest);
    let bytes = hostile::chunk(CHUNK_TYPE_CHANGE, &overlong);
    assert_eq!(
        check_change(&bytes),
        Err(MalformedInput::BadHeader(
            "truncated or malformed change header"
        ))
    );
    assert!(Change::from_bytes(bytes).is_err());
    // The same body with the canonical encoding is the original change.
    let mut canonical = body;
    canonical.push(seq as u8);
    canonical.extend(rest);
    assert_eq!(hostile::chunk(CHUNK_TYPE_CHANGE, &canonical), raw);
}

/// Guards the reason for the panic checks: if a newer automerge stops panicking on these
/// inputs, they (and this test) can go, keeping `catch_unwind` in the engine.
#[test]
fn automerge_0_12_still_panics_on_what_the_check_refuses() {
    let fuzzer_found = include_bytes!("../../engine/automerge_panic_change.bin");
    assert!(
        automerge_panics(fuzzer_found),
        "automerge no longer panics on the fuzzer's input: see signed/precheck.rs"
    );
    assert!(automerge_panics(&put_into_object(0, BIG)));
}

pub(crate) fn saved_document() -> AutoCommit {
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
    let claims = check_snapshot(&bytes, u64::MAX).unwrap();
    let loaded = load_snapshot(&bytes, &mut budget()).unwrap();
    assert_eq!(loaded.get_heads(), doc.get_heads());
    assert_eq!(claims.document_ops, loaded.stats().num_ops);
    assert!(claims.change_ops.is_empty());

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
    let claims = check_snapshot(&bytes, u64::MAX).unwrap();
    assert_eq!(claims.change_ops, vec![orphan.len() as u64]);
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
        check_snapshot(bytes, u64::MAX),
        Err(Refusal::Malformed(MalformedInput::SnapshotNotADocument))
    );
    assert!(matches!(
        load_snapshot(bytes, &mut budget()),
        Err(LoadSnapshotError::Malformed(_))
    ));
    // `Change::from_bytes` parses it too before finding it is no change (found by change_verify).
    assert!(automerge_panics(bytes));
    assert_eq!(check_change(bytes), Err(MalformedInput::NotAChange(3)));
}

#[test]
fn snapshots_must_be_a_document_followed_by_checked_changes() {
    let document = saved_document().save();
    let change = real_changes()[0].raw_bytes().to_vec();
    let malformed = |e| Err(Refusal::Malformed(e));
    // A change on its own, or first.
    assert_eq!(
        check_snapshot(&change, u64::MAX),
        malformed(MalformedInput::SnapshotNotADocument)
    );
    // A second document after the first.
    assert_eq!(
        check_snapshot(&[document.clone(), document.clone()].concat(), u64::MAX),
        malformed(MalformedInput::SnapshotChunk(CHUNK_TYPE_DOCUMENT))
    );
    // A change that makes automerge panic, appended to a good document.
    let bad = put_into_object(0, BIG);
    let snapshot = [document.clone(), bad].concat();
    assert!(matches!(
        check_snapshot(&snapshot, u64::MAX),
        Err(Refusal::Malformed(MalformedInput::OpIdOutOfRange { .. }))
    ));
    assert!(automerge_load_panics(&snapshot));
    // A good change appended is fine; garbage is refused (automerge refuses it too).
    assert!(check_snapshot(&[document.clone(), change].concat(), u64::MAX).is_ok());
    let garbage = [document.clone(), b"xyz".to_vec()].concat();
    assert_eq!(
        check_snapshot(&garbage, u64::MAX),
        malformed(MalformedInput::BadHeader("no magic bytes"))
    );
    assert!(automerge::Automerge::load(&garbage).is_err());
    // Nothing is an empty document.
    assert_eq!(check_snapshot(b"", u64::MAX), Ok(SnapshotClaims::default()));
}

/// The document builder writes what automerge writes, so the document tests below reach
/// automerge's loader.
#[test]
fn list_of_nulls_is_what_automerge_writes() {
    let mut doc = AutoCommit::new().with_actor(automerge::ActorId::from(&hostile::ACTOR_ID[..]));
    let l = doc.put_object(ROOT, "l", ObjType::List).unwrap();
    for i in 0..5 {
        doc.insert(&l, i, ()).unwrap();
    }
    doc.commit();
    let head = doc.get_heads()[0].0;
    assert_eq!(hostile::list_of_nulls(5, head), doc.save_nocompress());
    let claims = check_snapshot(&doc.save_nocompress(), u64::MAX).unwrap();
    assert_eq!(claims.document_ops, 6);
}

#[test]
fn deflate_zeros_inflates_to_its_length() {
    use std::io::Read;
    for len in [0u64, 5, 1 << 20, (3 << 20) + 12345] {
        let bytes = hostile::deflate_zeros(len);
        let mut out = Vec::new();
        flate2::bufread::DeflateDecoder::new(&bytes[..])
            .read_to_end(&mut out)
            .unwrap();
        assert_eq!(out.len() as u64, len);
        assert!(out.iter().all(|&b| b == 0));
    }
}

/// Document chunks whose change columns make automerge 0.12 panic (`ChangeGraphCols::load`: see
/// the module documentation), each next to the variant it loads or refuses without panicking.
#[test]
fn document_change_columns_that_make_automerge_panic_are_refused() {
    let change_columns = |actor: Vec<u8>, deps_count: Vec<u8>, deps_index: Option<Vec<u8>>| {
        let mut max_op = Vec::new();
        sleb(&mut max_op, -2);
        sleb(&mut max_op, 0);
        sleb(&mut max_op, 0);
        let mut columns = vec![
            (spec(0, ACTOR), actor),
            (spec(0, DELTA), delta_run(2, 1)),
            (spec(1, DELTA), max_op),
            (spec(2, DELTA), delta_run(2, 0)),
            (spec(4, GROUP), deps_count),
        ];
        if let Some(index) = deps_index {
            columns.push((spec(4, DELTA), index));
        }
        columns.push((spec(5, VALUE_METADATA), run(2, 0)));
        hostile::document(&[&hostile::ACTOR_ID], &[], &columns, &[], &[])
    };
    let two_actors = || run(2, 0);
    let cases = [
        // Two changes, the second depending on the first: loads (and refuses the heads).
        (
            "fine",
            two_actors(),
            [0x7e, 0, 1].to_vec(),
            Some([0x7f, 0].to_vec()),
        ),
        // A dependency index beyond the changes.
        (
            "deps index",
            two_actors(),
            [0x7e, 0, 1].to_vec(),
            Some([0x7f, 2].to_vec()),
        ),
        // A negative one.
        (
            "deps index",
            two_actors(),
            [0x7e, 0, 1].to_vec(),
            Some([0x7f, 0x7f].to_vec()),
        ),
        // More dependency counts than changes.
        ("deps count", two_actors(), run(3, 0), None),
        // A dependency count beyond u32.
        (
            "deps count",
            two_actors(),
            [0x7e, 0, 0x80, 0x80, 0x80, 0x80, 0x10].to_vec(),
            None,
        ),
        // A null actor.
        ("change actor", [0, 2].to_vec(), run(2, 0), None),
        // A truncated actor.
        ("change actor", [0x7e, 0].to_vec(), run(2, 0), None),
    ];
    for (column, actor, deps_count, deps_index) in cases {
        let bytes = change_columns(actor, deps_count, deps_index);
        let checked = check_snapshot(&bytes, u64::MAX);
        if column == "fine" {
            assert!(checked.is_ok(), "{checked:?}");
            assert!(!automerge_load_panics(&bytes));
            continue;
        }
        assert!(
            matches!(
                &checked,
                Err(Refusal::Malformed(
                    MalformedInput::BadColumn { column: c, .. }
                        | MalformedInput::ValueOutOfRange { column: c, .. }
                )) if c.ends_with(column)
            ),
            "{column}: {checked:?}"
        );
        assert!(automerge_load_panics(&bytes), "{column}: {bytes:02x?}");
    }
}

#[test]
fn document_run_lengths_of_minus_2_pow_63_and_overflowing_sums_are_refused() {
    let refused = |op_columns: &[(u32, Vec<u8>)]| {
        let bytes = hostile::document(&[], &[], &[], op_columns, &[]);
        check_snapshot(&bytes, u64::MAX)
    };
    assert_eq!(
        refused(&[(spec(2, ACTOR), delta_run(i64::MIN, 0))]),
        Err(Refusal::Malformed(MalformedInput::RunLengthOverflow {
            column: "id actor"
        }))
    );
    let mut sums = delta_run(2, i64::MAX / 2 + 1);
    sums.extend(delta_run(2, 1));
    assert!(matches!(
        refused(&[(spec(2, DELTA), sums)]),
        Err(Refusal::Malformed(MalformedInput::BadColumn { .. }))
    ));
}

/// Splits an uncompressed change chunk into the body fields before the column metadata and its
/// columns as (specification, data); `frame` puts them back together.
fn split(bytes: &[u8]) -> (Vec<u8>, Vec<(u32, Vec<u8>)>) {
    let mut r = Reader::new(bytes);
    let c = super::chunk(&mut r).unwrap();
    let mut r = Reader::new(c.body);
    for _ in 0..r.header_uleb().unwrap() {
        r.take(32).unwrap();
    }
    length_prefixed(&mut r).unwrap();
    r.header_uleb().unwrap();
    r.header_uleb().unwrap();
    r.header_sleb().unwrap();
    length_prefixed(&mut r).unwrap();
    for _ in 0..r.header_uleb().unwrap() {
        length_prefixed(&mut r).unwrap();
    }
    let prefix = c.body[..r.pos].to_vec();
    let specs = column_metadata(&mut r).unwrap();
    let columns = column_data(&mut r, &specs)
        .unwrap()
        .into_iter()
        .map(|(spec, data)| (spec, data.to_vec()))
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
    hostile::chunk(CHUNK_TYPE_CHANGE, &body)
}

/// A small deterministic fuzzer: real changes whose op columns are mutated (bytes changed, LEB128
/// numbers of every size spliced in, whole runs replaced) and re-framed with the right lengths and
/// checksum. Mutations that pass the check never make automerge panic, never claim more than the
/// check says, and the check does refuse some that would panic. (The cargo-fuzz target
/// change_verify does this at scale, on raw bytes.)
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
            // A number of 1 to 64 bits, so the u32 boundary is crossed often; run lengths are
            // kept small enough to decode.
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
        match check_change(&bytes) {
            Ok(checked) if checked.claimed_ops <= 1 << 20 => {
                let claimed = checked.claimed_ops;
                assert!(!automerge_panics(&bytes), "{bytes:02x?}");
                if let Ok(change) = Change::from_bytes(bytes) {
                    assert!(change.len() as u64 <= claimed);
                    decoded += 1;
                }
            }
            Ok(_) => {}
            Err(_) => refused += 1,
        }
    }
    assert!(
        refused > 100 && decoded > 100,
        "{refused} refused, {decoded} decoded"
    );
}

/// Found by fuzzing (snapshot_load, once it could recompute checksums): value metadata claiming
/// more bytes than the raw value column holds makes hexane panic (raw.rs:622) when automerge
/// reads the value.
/// One op putting a string under key "a" of the object (`obj_counter`, `obj_actor`), with
/// `value` for its raw value column.
fn one_op_document(obj: Option<(u8, u8)>, value: &[u8]) -> Vec<u8> {
    let mut op_columns = vec![
        (spec(1, STRING), [0x7f, 1, b'a'].to_vec()),
        (spec(2, ACTOR), [0x7f, 0].to_vec()),
        (spec(2, DELTA), [0x7f, 2].to_vec()),
        (spec(4, INTEGER), [0x7f, 1].to_vec()),
        // A string of 5 bytes.
        (spec(5, VALUE_METADATA), [0x7f, 5 << 4 | 6].to_vec()),
        (spec(5, VALUE), value.to_vec()),
        (spec(8, GROUP), [0x7f, 0].to_vec()),
    ];
    if let Some((actor, counter)) = obj {
        op_columns.insert(0, (spec(0, INTEGER), [0x7f, counter].to_vec()));
        op_columns.insert(0, (spec(0, ACTOR), [0x7f, actor].to_vec()));
    }
    hostile::document(
        &[&hostile::ACTOR_ID],
        &[],
        &[
            (spec(0, ACTOR), [0x7f, 0].to_vec()),
            (spec(0, DELTA), [0x7f, 1].to_vec()),
            (spec(1, DELTA), [0x7f, 2].to_vec()),
            (spec(2, DELTA), [0x7f, 0].to_vec()),
            (spec(4, GROUP), [0x7f, 0].to_vec()),
            (spec(5, VALUE_METADATA), [0x7f, 0].to_vec()),
        ],
        &op_columns,
        &[],
    )
}

/// Found by fuzzing (snapshot_load, once it could recompute checksums): an actor index beyond the
/// document's actors makes automerge index out of bounds (op_set2/change.rs:306).
#[test]
fn actor_indices_beyond_the_actors_are_refused() {
    let fine = one_op_document(Some((0, 1)), b"hallo");
    assert!(check_snapshot(&fine, u64::MAX).is_ok());
    assert!(!automerge_load_panics(&fine));
    let beyond = one_op_document(Some((44, 1)), b"hallo");
    assert_eq!(
        check_snapshot(&beyond, u64::MAX),
        Err(Refusal::Malformed(MalformedInput::ValueOutOfRange {
            column: "obj actor",
            value: 44,
        }))
    );
    assert!(automerge_load_panics(&beyond));
}

/// Found by fuzzing (snapshot_load): a document actor without changes makes automerge panic as
/// it removes unused actors (automerge.rs `remove_unused_actors`).
#[test]
fn document_actors_without_changes_are_refused() {
    let no_change = hostile::document(
        &[&hostile::ACTOR_ID],
        &[],
        &[],
        &[
            (spec(1, STRING), [0x7f, 1, b'a'].to_vec()),
            (spec(2, ACTOR), [0x7f, 0].to_vec()),
            (spec(2, DELTA), [0x7f, 2].to_vec()),
            (spec(4, INTEGER), [0x7f, 1].to_vec()),
            (spec(5, VALUE_METADATA), [0x7f, 0].to_vec()),
            (spec(8, GROUP), [0x7f, 0].to_vec()),
        ],
        &[],
    );
    assert!(automerge_load_panics(&no_change));
    assert_eq!(
        check_snapshot(&no_change, u64::MAX),
        Err(Refusal::Malformed(MalformedInput::BadColumn {
            column: "change actor",
            problem: "a document actor without changes",
        }))
    );
    // The fuzzer's input: one actor, no change, an unknown change column.
    let mut found = hostile::document(
        &[&hostile::ACTOR_ID],
        &[],
        &[(
            spec(0, STRING),
            vec![0x80, 0x80, 0x80, 0x80, 0x80, 0x20, 0x00],
        )],
        &[],
        &[],
    );
    hostile::fix_checksums(&mut found);
    assert!(automerge_load_panics(&found));
    assert!(check_snapshot(&found, u64::MAX).is_err());
}

#[test]
fn values_longer_than_the_value_column_are_refused() {
    let document = |value: &[u8]| one_op_document(None, value);
    let fine = document(b"hallo");
    assert!(check_snapshot(&fine, u64::MAX).is_ok());
    assert!(!automerge_load_panics(&fine));
    let short = document(b"hal");
    assert_eq!(
        check_snapshot(&short, u64::MAX),
        Err(Refusal::Malformed(MalformedInput::BadColumn {
            column: "value metadata",
            problem: "values longer than the raw value column",
        }))
    );
    assert!(automerge_load_panics(&short));
}
