//! A cheap structural check of change and snapshot bytes from peers, run before Automerge
//! decodes them.
//!
//! automerge 0.12.0 (the newest release on crates.io, and its main branch as of August 2026)
//! panics instead of returning an error on some malformed input:
//!
//! * `OpId::new(counter: u64, actor: usize)` (src/types.rs:464) converts both to `u32` with
//!   `try_into().unwrap()`. The op decoders call it with values read straight from the op
//!   columns: the object id (`obj` actor and counter columns, column_range/obj_id.rs:136), the
//!   element key (`key` actor and delta-coded counter columns, column_range/key.rs:188) and the
//!   predecessors (`pred` actor and delta-coded counter columns, column_range/opid_list.rs:211).
//!   A column value above `u32::MAX` therefore panics inside `Change::from_bytes`.
//! * `RleDecoder` (columnar/encoding/rle.rs) takes `count.abs()` of a signed run length; a run
//!   length of `i64::MIN` overflows, which panics wherever overflow checks are on (debug builds,
//!   tests, and the fuzz builds).
//! * Parsing a bundle chunk can panic in hexane (see [`check_snapshot`]). Both
//!   `Change::from_bytes` and `Automerge::load` parse a chunk of any type, and `Automerge::load`
//!   decodes change chunks exactly as `Change::from_bytes` does.
//!
//! [`check`] walks exactly those columns the way automerge's decoders will and rejects such
//! values, so `Change::from_bytes` is only called on input it can decode or refuse without
//! panicking. Nothing it rejects can be a change a correct Automerge wrote: op counters and actor
//! indices are `u32` inside Automerge, and its encoder never writes a run of 2^63 values.
//!
//! The check is deliberately lenient about everything else: wherever the bytes do not parse (bad
//! magic, truncation, a malformed LEB128 number, a column past the end), it stops and lets
//! Automerge report the problem in its own words. Automerge refuses all of those before it decodes
//! an op, or at the very op where the value fails to decode, so no value it could reach goes
//! unchecked. It may check (and reject) values past the point where Automerge would stop reading,
//! which again only happens on malformed input.
//!
//! Compressed change chunks (chunk type 2, a deflated change) are refused outright: checking them
//! would mean inflating them here, nodes never send them (they send `Change::raw_bytes`, the
//! uncompressed chunk the change hash is computed over), and refusing them also spares the node
//! from inflating attacker-chosen deflate streams.
//!
//! The layout mirrored here is the change chunk of the Automerge binary format
//! (<https://alexjg.github.io/automerge-storage-docs/#change-chunks>), as automerge 0.12.0
//! parses it in storage/chunk.rs, storage/change.rs and storage/change/change_op_columns.rs.
//! Remove this module (keeping `catch_unwind` in the engine) once a fixed automerge release is in
//! use.

/// Why change or snapshot bytes were refused before Automerge decoded them.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MalformedInput {
    #[error("compressed change chunk (changes must be sent uncompressed)")]
    Compressed,
    #[error(
        "{column} column holds {value}, beyond an op id's limit of {}",
        u32::MAX
    )]
    OpIdOutOfRange { column: &'static str, value: i128 },
    #[error("{column} column has a run length of -2^63")]
    RunLengthOverflow { column: &'static str },
    #[error("chunk of type {0} where a change chunk (type 1) belongs")]
    NotAChange(u8),
    #[error("snapshot does not start with a document chunk")]
    SnapshotNotADocument,
    #[error("snapshot holds a chunk of type {0} after its document (only changes may follow)")]
    SnapshotChunk(u8),
}

const MAGIC: [u8; 4] = [0x85, 0x6f, 0x4a, 0x83];
const CHUNK_TYPE_DOCUMENT: u8 = 0;
const CHUNK_TYPE_CHANGE: u8 = 1;
const CHUNK_TYPE_COMPRESSED: u8 = 2;
/// automerge's `Vec<u8>` decoder refuses longer strings (decodable_impls.rs, MAX_ALLOCATION).
const MAX_STRING: u64 = 1_000_000_000;

// Column types: the low three bits of a column specification.
const GROUP: u32 = 0;
const ACTOR: u32 = 1;
const INTEGER: u32 = 2;
const DELTA: u32 = 3;
const STRING: u32 = 5;
const VALUE_METADATA: u32 = 6;
/// Bit 3 of a column specification: a deflated column (automerge refuses these in changes).
const DEFLATE: u32 = 0b1000;

/// How a column is decoded, for the columns that automerge's change op decoder reads with a
/// run-length decoder (columns it does not know, and boolean and raw columns, cannot panic).
#[derive(Clone, Copy)]
enum Walk {
    /// Unsigned values that become half of an op id: checked against `u32::MAX`.
    OpIdPart,
    /// Delta-coded counters of op ids: the running sums are checked against `u32::MAX`.
    OpIdCounter,
    /// Other unsigned columns: only run lengths are checked.
    Unsigned,
    /// Length-prefixed strings: only run lengths are checked.
    Str,
}

/// The columns of a change chunk by (column id, column type), as automerge 0.12.0 maps them in
/// `ChangeOpsColumns::try_from` (change_op_columns.rs). Column ids: 0 obj, 1 key, 4 action,
/// 5 value, 7 pred (a group whose first column is the actor, as Actor or Integer, and whose second
/// is the delta-coded counter), 10 mark name.
fn walk_for(id: u32, col_type: u32) -> Option<(Walk, &'static str)> {
    Some(match (id, col_type) {
        (0, ACTOR) => (Walk::OpIdPart, "obj actor"),
        (0, INTEGER) => (Walk::OpIdPart, "obj counter"),
        (1, ACTOR) => (Walk::OpIdPart, "key actor"),
        (1, DELTA) => (Walk::OpIdCounter, "key counter"),
        (1, STRING) => (Walk::Str, "key string"),
        (4, INTEGER) => (Walk::Unsigned, "action"),
        (5, VALUE_METADATA) => (Walk::Unsigned, "value metadata"),
        (7, GROUP) => (Walk::Unsigned, "pred count"),
        (7, ACTOR | INTEGER) => (Walk::OpIdPart, "pred actor"),
        (7, DELTA) => (Walk::OpIdCounter, "pred counter"),
        (10, STRING) => (Walk::Str, "mark name"),
        _ => return None,
    })
}

/// Checks change bytes from a peer for the structures that make automerge 0.12 panic (see the
/// module documentation). `Ok` does not mean the bytes are a valid change, only that
/// `Change::from_bytes` can be trusted to decide.
pub fn check(bytes: &[u8]) -> Result<(), MalformedInput> {
    let mut r = Reader::new(bytes);
    // Header: magic, checksum, chunk type, body length (storage/chunk.rs, `Header::parse`).
    if r.take(4) != Some(&MAGIC[..]) || r.take(4).is_none() {
        return Ok(());
    }
    match r.byte() {
        Some(CHUNK_TYPE_CHANGE) => {}
        Some(CHUNK_TYPE_COMPRESSED) => return Err(MalformedInput::Compressed),
        // `Change::from_bytes` parses a chunk of any type before refusing all but changes, and
        // parsing a bundle chunk can panic (see `check_snapshot`).
        Some(other) => return Err(MalformedInput::NotAChange(other)),
        None => return Ok(()),
    }
    let Some(body) = r.uleb().and_then(|len| r.take(len)) else {
        return Ok(());
    };
    let Some(columns) = op_columns(body) else {
        return Ok(());
    };
    for (spec, data) in columns {
        if let Some((walk, name)) = walk_for(spec >> 4, spec & 0b111) {
            check_column(data, walk, name)?;
        }
    }
    Ok(())
}

/// Checks a snapshot from a peer before `Automerge::load` sees it. A snapshot is what
/// `Automerge::save` writes: one document chunk, followed by the raw change chunks of any changes
/// still waiting for their dependencies. `Automerge::load` accepts more: a change, compressed
/// change or bundle chunk first, and bundles or documents after it. Those are refused here: a
/// change chunk first could hide the panics that [`check`] guards against, and automerge 0.12
/// panics on some malformed bundle chunks (hexane-1.0.0-alpha.5 src/lib.rs:354, an unwrap in
/// `Packable::unpack`, reached from storage/bundle/storage.rs). Every change chunk after the
/// document goes through [`check`]. The document chunk itself is not inspected.
pub fn check_snapshot(bytes: &[u8]) -> Result<(), MalformedInput> {
    let mut first = true;
    let mut r = Reader::new(bytes);
    while !r.done() {
        let start = r.pos;
        if r.take(4) != Some(&MAGIC[..]) || r.take(4).is_none() {
            return Ok(());
        }
        let Some(chunk_type) = r.byte() else {
            return Ok(());
        };
        let Some(_) = r.uleb().and_then(|len| r.take(len)) else {
            return Ok(());
        };
        match (first, chunk_type) {
            (true, CHUNK_TYPE_DOCUMENT) => {}
            (true, _) => return Err(MalformedInput::SnapshotNotADocument),
            (false, CHUNK_TYPE_CHANGE) => check(&bytes[start..r.pos])?,
            (false, other) => return Err(MalformedInput::SnapshotChunk(other)),
        }
        first = false;
    }
    Ok(())
}

/// The op columns of a change chunk's body as (column specification, column data), or `None`
/// where automerge's parser will refuse the body before decoding any op (storage/change.rs,
/// `parse_following_header`, and storage/columns/raw_column.rs, `RawColumns::parse`).
fn op_columns(body: &[u8]) -> Option<Vec<(u32, &[u8])>> {
    let mut r = Reader::new(body);
    // Dependencies: a count of 32-byte hashes.
    let deps = r.uleb()?;
    for _ in 0..deps {
        r.take(32)?;
    }
    // Actor, sequence number, start op, time, message.
    let actor_len = r.uleb()?;
    r.take(actor_len)?;
    r.uleb()?;
    r.uleb()?;
    r.sleb()?;
    let message_len = r.uleb()?;
    r.take(message_len)?;
    // Other actors: a count of length-prefixed ids.
    let others = r.uleb()?;
    for _ in 0..others {
        let len = r.uleb()?;
        r.take(len)?;
    }
    // Column metadata: a count of (specification, length) pairs; the data follows, in order.
    let count = r.uleb()?;
    let mut specs = Vec::new();
    for _ in 0..count {
        let spec = u32::try_from(r.uleb()?).ok()?;
        let len = r.uleb()?;
        if spec & DEFLATE != 0 {
            return None; // "change contained compressed columns"
        }
        specs.push((spec, len));
    }
    let data = r.rest();
    let mut columns = Vec::with_capacity(specs.len());
    let mut offset = 0usize;
    for (spec, len) in specs {
        let end = offset.checked_add(usize::try_from(len).ok()?)?;
        columns.push((spec, data.get(offset..end)?));
        offset = end;
    }
    Some(columns)
}

/// Walks one run-length encoded column as automerge's `RleDecoder` (and, for delta-coded
/// columns, `DeltaDecoder`) reads it: a signed run length, then one value for a run (n > 0), -n
/// values for a literal run (n < 0), or an unsigned count of nulls (n = 0). Stops without error
/// where a value fails to decode: automerge's decoder fails there too and reads no further.
fn check_column(data: &[u8], walk: Walk, column: &'static str) -> Result<(), MalformedInput> {
    let mut r = Reader::new(data);
    // The running sum of a delta-coded column, as `DeltaDecoder` keeps it.
    let mut absolute: i64 = 0;
    while !r.done() {
        let Some(run) = r.sleb() else {
            return Ok(());
        };
        if run == i64::MIN {
            return Err(MalformedInput::RunLengthOverflow { column });
        }
        if run == 0 {
            // A null run: nulls never reach `OpId::new`, and leave the running sum alone.
            if r.uleb().is_none() {
                return Ok(());
            }
            continue;
        }
        let (repeat, values) = if run > 0 {
            (run.unsigned_abs(), 1)
        } else {
            (1, run.unsigned_abs())
        };
        for _ in 0..values {
            let ok = match walk {
                Walk::OpIdPart => match r.uleb() {
                    Some(value) if value > u64::from(u32::MAX) => {
                        return Err(MalformedInput::OpIdOutOfRange {
                            column,
                            value: value.into(),
                        })
                    }
                    Some(_) => true,
                    None => false,
                },
                Walk::OpIdCounter => match r.sleb() {
                    Some(delta) => {
                        if !delta_run(&mut absolute, delta, repeat, column)? {
                            // A negative counter: automerge refuses the op that reads it.
                            return Ok(());
                        }
                        true
                    }
                    None => false,
                },
                Walk::Unsigned => r.uleb().is_some(),
                Walk::Str => match r.uleb() {
                    Some(len) if len <= MAX_STRING => r.take(len).is_some(),
                    _ => false,
                },
            };
            if !ok {
                return Ok(());
            }
        }
    }
    Ok(())
}

/// Advances the running sum of a delta-coded op counter column over `repeat` copies of `delta`
/// (automerge adds with `saturating_add`). Returns `Ok(false)` once a sum is negative: automerge
/// refuses a negative counter ("negative value for counter", or an unexpected null actor), so it
/// reads nothing further from the column. Errs once a sum passes `u32::MAX`. The sums of a run
/// move in one direction, so its first and last ones bound them all.
fn delta_run(
    absolute: &mut i64,
    delta: i64,
    repeat: u64,
    column: &'static str,
) -> Result<bool, MalformedInput> {
    let first = i128::from(*absolute) + i128::from(delta);
    let last = i128::from(*absolute) + i128::from(delta) * i128::from(repeat);
    if first < 0 || last < 0 {
        return Ok(false);
    }
    if last > i128::from(u32::MAX) {
        return Err(MalformedInput::OpIdOutOfRange {
            column,
            value: last.max(first),
        });
    }
    // 0 <= last <= u32::MAX, so no saturation happened on the way.
    *absolute = last as i64;
    Ok(true)
}

/// A cursor over bytes, with LEB128 decoding as lenient as the `leb128` crate (which automerge's
/// column decoders use) and at least as lenient as automerge's own header parser.
struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn new(data: &'a [u8]) -> Self {
        Reader { data, pos: 0 }
    }

    fn done(&self) -> bool {
        self.pos >= self.data.len()
    }

    fn rest(&mut self) -> &'a [u8] {
        let rest = &self.data[self.pos..];
        self.pos = self.data.len();
        rest
    }

    fn byte(&mut self) -> Option<u8> {
        let b = *self.data.get(self.pos)?;
        self.pos += 1;
        Some(b)
    }

    fn take(&mut self, n: u64) -> Option<&'a [u8]> {
        let end = self.pos.checked_add(usize::try_from(n).ok()?)?;
        let slice = self.data.get(self.pos..end)?;
        self.pos = end;
        Some(slice)
    }

    /// Unsigned LEB128 as `leb128::read::unsigned` decodes it (overlong encodings accepted,
    /// more than 64 bits refused).
    fn uleb(&mut self) -> Option<u64> {
        let mut result = 0u64;
        let mut shift = 0u32;
        loop {
            let byte = self.byte()?;
            if shift == 63 && byte != 0x00 && byte != 0x01 {
                return None;
            }
            result |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Some(result);
            }
            shift += 7;
        }
    }

    /// Signed LEB128 as `leb128::read::signed` decodes it.
    fn sleb(&mut self) -> Option<i64> {
        let mut result = 0i64;
        let mut shift = 0u32;
        loop {
            let byte = self.byte()?;
            if shift == 63 && byte != 0x00 && byte != 0x7f {
                return None;
            }
            result |= i64::from(byte & 0x7f) << shift;
            shift += 7;
            if byte & 0x80 == 0 {
                if shift < 64 && byte & 0x40 != 0 {
                    result |= !0 << shift;
                }
                return Some(result);
            }
        }
    }
}

#[cfg(test)]
mod tests;
