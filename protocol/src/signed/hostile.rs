//! Hand-made hostile Automerge chunks, as a peer could send them: changes and documents whose
//! columns claim huge run lengths, and documents with a deflate bomb for a column. Every chunk
//! carries a correct checksum (an attacker computes it as easily as Automerge does), so it
//! reaches the decoding it targets. For the tests of this crate, and as seeds for the fuzz
//! targets (fuzz/src/bin/gen_seeds.rs), so that the fuzzers start next to the bombs.
//!
//! The layouts are described in module `precheck`. Each builder makes, at small sizes, a chunk
//! automerge 0.12 accepts (the tests check that), so at large sizes automerge does the work the
//! chunk claims. This module shares no code with `precheck`, as an attacker's encoder would not:
//! a mistake in one is not repeated in the other.

use sha2::{Digest, Sha256};
use std::io::Write;

const MAGIC: [u8; 4] = [0x85, 0x6f, 0x4a, 0x83];
/// Chunk types.
pub const CHUNK_TYPE_DOCUMENT: u8 = 0;
pub const CHUNK_TYPE_CHANGE: u8 = 1;
/// Column types (the low three bits of a column specification).
pub const GROUP: u32 = 0;
pub const ACTOR: u32 = 1;
pub const INTEGER: u32 = 2;
pub const DELTA: u32 = 3;
pub const BOOLEAN: u32 = 4;
pub const STRING: u32 = 5;
pub const VALUE_METADATA: u32 = 6;
pub const VALUE: u32 = 7;
/// The deflate bit of a column specification.
pub const DEFLATE: u32 = 0b1000;

/// SHA-256 over the chunk type, the LEB128 body length and the body: the chunk hash, whose first
/// four bytes are the checksum.
fn chunk_hash(chunk_type: u8, body: &[u8]) -> [u8; 32] {
    let mut prefix = vec![chunk_type];
    uleb(&mut prefix, body.len() as u64);
    let mut hasher = Sha256::new();
    hasher.update(&prefix);
    hasher.update(body);
    hasher.finalize().into()
}

/// Appends `v` as unsigned LEB128.
pub fn uleb(out: &mut Vec<u8>, mut v: u64) {
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

/// Appends `v` as signed LEB128.
pub fn sleb(out: &mut Vec<u8>, mut v: i64) {
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

/// One run of a run-length encoded column: `count` copies of the unsigned `value`.
pub fn run(count: i64, value: u64) -> Vec<u8> {
    let mut out = Vec::new();
    sleb(&mut out, count);
    uleb(&mut out, value);
    out
}

/// One run of a delta column: `count` copies of the signed `delta`.
pub fn delta_run(count: i64, delta: i64) -> Vec<u8> {
    let mut out = Vec::new();
    sleb(&mut out, count);
    sleb(&mut out, delta);
    out
}

/// One run of a string column: `count` copies of `value`.
pub fn string_run(count: i64, value: &str) -> Vec<u8> {
    let mut out = Vec::new();
    sleb(&mut out, count);
    uleb(&mut out, value.len() as u64);
    out.extend(value.as_bytes());
    out
}

/// A column specification: column id, column type.
pub fn spec(id: u32, col_type: u32) -> u32 {
    id << 4 | col_type
}

/// A chunk of type `chunk_type` around `body`, with the checksum Automerge expects.
pub fn chunk(chunk_type: u8, body: &[u8]) -> Vec<u8> {
    let hash = chunk_hash(chunk_type, body);
    let mut out = MAGIC.to_vec();
    out.extend(&hash[..4]);
    out.push(chunk_type);
    uleb(&mut out, body.len() as u64);
    out.extend(body);
    out
}

/// Column metadata and data, as change and document bodies hold them.
fn columns(meta: &mut Vec<u8>, data: &mut Vec<u8>, columns: &[(u32, Vec<u8>)]) {
    uleb(meta, columns.len() as u64);
    for (spec, bytes) in columns {
        uleb(meta, u64::from(*spec));
        uleb(meta, bytes.len() as u64);
        data.extend(bytes);
    }
}

/// A change chunk by `actor` (sequence number 1, start op 1, no dependencies, time 0, no
/// message) with these op columns, given as (specification, data) in the order Automerge
/// requires (sorted by specification).
pub fn change(actor: &[u8], op_columns: &[(u32, Vec<u8>)]) -> Vec<u8> {
    let mut body = Vec::new();
    uleb(&mut body, 0); // dependencies
    uleb(&mut body, actor.len() as u64);
    body.extend(actor);
    uleb(&mut body, 1); // seq
    uleb(&mut body, 1); // start op
    sleb(&mut body, 0); // time
    uleb(&mut body, 0); // message
    uleb(&mut body, 0); // other actors
    let mut data = Vec::new();
    columns(&mut body, &mut data, op_columns);
    body.extend(data);
    chunk(CHUNK_TYPE_CHANGE, &body)
}

/// A document chunk: actors, heads, change columns, op columns (each sorted by specification)
/// and the index of each head among the changes.
pub fn document(
    actors: &[&[u8]],
    heads: &[[u8; 32]],
    change_columns: &[(u32, Vec<u8>)],
    op_columns: &[(u32, Vec<u8>)],
    head_indices: &[u64],
) -> Vec<u8> {
    let mut body = Vec::new();
    uleb(&mut body, actors.len() as u64);
    for actor in actors {
        uleb(&mut body, actor.len() as u64);
        body.extend(*actor);
    }
    uleb(&mut body, heads.len() as u64);
    for head in heads {
        body.extend(head);
    }
    let mut data = Vec::new();
    columns(&mut body, &mut data, change_columns);
    columns(&mut body, &mut data, op_columns);
    body.extend(data);
    for index in head_indices {
        uleb(&mut body, *index);
    }
    chunk(CHUNK_TYPE_DOCUMENT, &body)
}

/// The actor of the hostile chunks.
pub const ACTOR_ID: [u8; 1] = [0xaa];

/// A change of `ops` operations, each putting null under key "a" of the root map: five op
/// columns of one run each, about 80 bytes however many operations it claims (`ops` at most
/// 2^63 - 1). automerge 0.12's `Change::from_bytes` decodes every one of them.
pub fn change_claiming_ops(ops: u64) -> Vec<u8> {
    let n = i64::try_from(ops).unwrap_or(i64::MAX);
    let mut insert = Vec::new();
    uleb(&mut insert, ops); // all false
    change(
        &ACTOR_ID,
        &[
            (spec(1, STRING), string_run(n, "a")),
            (spec(3, BOOLEAN), insert),
            (spec(4, INTEGER), run(n, 1)),        // action: put
            (spec(5, VALUE_METADATA), run(n, 0)), // null
            (spec(7, GROUP), run(n, 0)),          // no predecessors
        ],
    )
}

/// A change of one operation with `preds` predecessors (all the op 1 of its actor): the
/// predecessor count claims the rows of the predecessor columns. automerge 0.12 collects all of
/// them into one vector.
pub fn change_claiming_preds(preds: u64) -> Vec<u8> {
    let n = i64::try_from(preds).unwrap_or(i64::MAX);
    let mut counters = delta_run(1, 1);
    if n > 1 {
        counters.extend(delta_run(n - 1, 0));
    }
    change(
        &ACTOR_ID,
        &[
            (spec(1, STRING), string_run(1, "a")),
            (spec(3, BOOLEAN), vec![1]),
            (spec(4, INTEGER), run(1, 1)),
            (spec(5, VALUE_METADATA), run(1, 0)),
            (spec(7, GROUP), run(1, preds)),
            (spec(7, ACTOR), run(n, 0)),
            (spec(7, DELTA), counters),
        ],
    )
}

/// A change of `ops` operations, each putting null under the same key of `key_len` bytes: one
/// run of that key, so the change is hardly bigger than the key, but applying it makes Automerge
/// copy the key for every operation (2^14 operations of a 64 KiB key: a gigabyte).
pub fn change_repeating_key(ops: u64, key_len: usize) -> Vec<u8> {
    let n = i64::try_from(ops).unwrap_or(i64::MAX);
    let mut insert = Vec::new();
    uleb(&mut insert, ops);
    change(
        &ACTOR_ID,
        &[
            (spec(1, STRING), string_run(n, &"k".repeat(key_len))),
            (spec(3, BOOLEAN), insert),
            (spec(4, INTEGER), run(n, 1)),
            (spec(5, VALUE_METADATA), run(n, 0)),
            (spec(7, GROUP), run(n, 0)),
        ],
    )
}

/// Raw deflate of `len` zero bytes, about 1 KiB per MiB, made in time proportional to that: the
/// deflate of a MiB of zeros that follows other zeros, which ends on a byte boundary (a sync
/// flush) and refers only to zeros before it, is compressed once and repeated.
pub fn deflate_zeros(len: u64) -> Vec<u8> {
    const BLOCK: u64 = 1 << 20;
    let zeros = vec![0u8; BLOCK as usize];
    let mut encoder = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
    let (full, rest) = (len / BLOCK, (len % BLOCK) as usize);
    // Writing into a Vec cannot fail.
    if full > 0 {
        let _ = encoder.write_all(&zeros);
        let _ = encoder.flush();
    }
    if full > 1 {
        let start = encoder.get_ref().len();
        let _ = encoder.write_all(&zeros);
        let _ = encoder.flush();
        let block = encoder.get_ref()[start..].to_vec();
        for _ in 2..full {
            encoder.get_mut().extend(&block);
        }
    }
    let _ = encoder.write_all(&zeros[..rest]);
    encoder.finish().unwrap_or_default()
}

/// Marks a column specification as deflated.
pub fn deflated(spec: u32) -> u32 {
    spec | DEFLATE
}

/// A document of one change by [`ACTOR_ID`] that makes a list under key "l" of the root map and
/// inserts `nulls` nulls into it, one after the other (`nulls` at least 2, and below 2^32 - 1:
/// op counters are `u32`): its op columns have `nulls + 1` rows, but hardly more bytes than for
/// two. `head` is written as the document's head (Automerge checks it only after building every
/// op). This is what `Automerge::save_nocompress` writes for such a document.
pub fn list_of_nulls(nulls: u64, head: [u8; 32]) -> Vec<u8> {
    let n = i64::try_from(nulls).unwrap_or(i64::MAX).max(2);
    let ops = n.saturating_add(1);
    let nulls_run = |count: i64| {
        let mut out = vec![0];
        uleb(&mut out, count as u64);
        out
    };
    // Element keys: the list (a string key, no element), then the head, then op 2, 3, ...
    let mut key_counter = nulls_run(1);
    key_counter.extend([0x7e, 0x00, 0x02]); // literal run: 0, +2
    if n > 2 {
        key_counter.extend(delta_run(n - 2, 1));
    }
    let mut key_string = vec![0x7f, 0x01, b'l']; // literal run: "l"
    key_string.extend(nulls_run(n));
    let mut key_actor = nulls_run(2);
    key_actor.extend(if n > 2 {
        run(n - 1, 0)
    } else {
        vec![0x7f, 0x00]
    });
    let mut action = vec![0x7f, 0x02]; // literal run: make list
    action.extend(run(n, 1)); // put
    let mut insert = Vec::new();
    uleb(&mut insert, 1);
    uleb(&mut insert, n as u64);
    let mut obj_actor = nulls_run(1);
    obj_actor.extend(run(n, 0));
    let mut obj_counter = nulls_run(1);
    obj_counter.extend(run(n, 1));
    let mut max_op = vec![0x7f];
    sleb(&mut max_op, ops);
    document(
        &[&ACTOR_ID],
        &[head],
        &[
            (spec(0, ACTOR), vec![0x7f, 0x00]),
            (spec(0, DELTA), vec![0x7f, 0x01]),
            (spec(1, DELTA), max_op),
            (spec(2, DELTA), vec![0x7f, 0x00]),
            (spec(4, GROUP), vec![0x7f, 0x00]),
            (spec(5, VALUE_METADATA), vec![0x7f, 0x07]),
        ],
        &[
            (spec(0, ACTOR), obj_actor),
            (spec(0, INTEGER), obj_counter),
            (spec(1, ACTOR), key_actor),
            (spec(1, DELTA), key_counter),
            (spec(1, STRING), key_string),
            (spec(2, ACTOR), run(ops, 0)),
            (spec(2, DELTA), delta_run(ops, 1)),
            (spec(3, BOOLEAN), insert),
            (spec(4, INTEGER), action),
            (spec(5, VALUE_METADATA), run(ops, 0)),
            (spec(8, GROUP), run(ops, 0)),
        ],
        &[0],
    )
}

/// A document chunk whose change actor column claims `changes` rows (and no other column has
/// any): automerge 0.12 collects that column into a vector before anything else.
pub fn document_claiming_changes(changes: u64) -> Vec<u8> {
    let n = i64::try_from(changes).unwrap_or(i64::MAX);
    document(&[&ACTOR_ID], &[], &[(spec(0, ACTOR), run(n, 0))], &[], &[])
}

/// A document chunk with one change column, deflated: `inflated` zero bytes, which automerge
/// inflates into memory while parsing the chunk (before it checks the checksum, even). The
/// column has an id automerge does not know (30, a raw value column), so nothing reads it once
/// inflated. About 1 KiB per MiB it inflates to.
pub fn document_with_deflate_bomb(inflated: u64) -> Vec<u8> {
    let column = deflated(spec(30, VALUE));
    document(&[], &[], &[(column, deflate_zeros(inflated))], &[], &[])
}

/// Recomputes the checksum of every chunk in `bytes` that parses as far as its body, so that a
/// mutated chunk is judged on what it holds rather than refused for its checksum (for fuzz
/// targets: without this, nearly every mutation of a chunk only exercises the checksum check).
pub fn fix_checksums(bytes: &mut [u8]) {
    let mut pos = 0;
    while let Some(rest) = bytes.get(pos..) {
        if !rest.starts_with(&MAGIC) || rest.len() < 10 {
            return;
        }
        let chunk_type = rest[8];
        // The body length, as automerge's header parser reads it.
        let mut len: u64 = 0;
        let mut at = 9;
        loop {
            let Some(&byte) = rest.get(at) else { return };
            if at - 9 >= 10 {
                return;
            }
            len |= u64::from(byte & 0x7f) << (7 * (at - 9));
            at += 1;
            if byte & 0x80 == 0 {
                break;
            }
        }
        let Some(end) = usize::try_from(len)
            .ok()
            .and_then(|len| at.checked_add(len))
        else {
            return;
        };
        let Some(body) = rest.get(at..end) else {
            return;
        };
        let hash = chunk_hash(chunk_type, body);
        bytes[pos + 4..pos + 8].copy_from_slice(&hash[..4]);
        pos += end;
    }
}

/// A document chunk of `changes` changes (at least 2) without ops, each depending on the one
/// before and all with the same message of `message_len` bytes: one run of that message, but
/// loading the document makes Automerge copy the message into every change it rebuilds (2^12
/// changes with a 64 KiB message take it 1.5 s).
pub fn document_repeating_message(changes: u64, message_len: usize) -> Vec<u8> {
    let n = i64::try_from(changes).unwrap_or(i64::MAX).max(2);
    // Dependency counts 0, 1, 1, ...; dependency indices 0, 1, 2, ...
    let mut deps_count = vec![0x7f, 0x00];
    deps_count.extend(if n > 2 {
        run(n - 1, 1)
    } else {
        vec![0x7f, 0x01]
    });
    let mut deps_index = vec![0x7f, 0x00];
    if n > 2 {
        deps_index.extend(delta_run(n - 2, 1));
    }
    document(
        &[&ACTOR_ID],
        &[],
        &[
            (spec(0, ACTOR), run(n, 0)),
            (spec(0, DELTA), delta_run(n, 1)),
            (spec(1, DELTA), delta_run(n, 0)),
            (spec(2, DELTA), delta_run(n, 0)),
            (spec(3, STRING), string_run(n, &"m".repeat(message_len))),
            (spec(4, GROUP), deps_count),
            (spec(4, DELTA), deps_index),
            (spec(5, VALUE_METADATA), run(n, 0)),
        ],
        &[],
        &[],
    )
}
