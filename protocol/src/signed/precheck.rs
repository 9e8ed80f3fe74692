//! A cheap structural check of change and snapshot bytes from peers, run before Automerge
//! decodes them: what they claim to cost, and the layouts on which automerge 0.12 panics.
//!
//! # Cost
//!
//! Automerge stores operations in columns (see module `columns`), and a run-length encoded column
//! of a few bytes can claim 2^63 rows. automerge 0.12 walks every row a chunk claims before
//! anything can check its signature or its author's permissions: `Change::from_bytes` reads every
//! op (about 140 ns each, so a 70-byte change claiming 10^9 ops holds a thread for over two
//! minutes), `Automerge::load` builds every op and change of a document chunk (about 1 µs per op;
//! it also allocates for the rows its op columns claim, 16 GiB for 2^32), and inflates deflated
//! columns into memory without a limit, before it even checks the chunk's checksum. A run of
//! strings expands too: a run of 2^14 copies of a 64 KiB map key in a 65 KB change makes
//! Automerge copy a gigabyte as it applies the change, and a run of one change message over the
//! changes of a document does the same as it loads them. [`check_change`] and [`check_snapshot`]
//! read the columns' run lengths instead of their rows, in time proportional to the bytes
//! received, and return what the chunks claim: rows, inflated bytes and expanded string bytes,
//! for the caller to hold against its budget (`signed::DecodeBudget`) before Automerge does any
//! of that work. Deflated columns are inflated here through a fixed buffer and never past the
//! caller's limit, so a deflate bomb costs at most that limit in time and nothing in memory.
//!
//! # Panics
//!
//! automerge 0.12.0 (the newest release on crates.io, and its main branch as of August 2026)
//! panics instead of returning an error on some malformed input:
//!
//! * `OpId::new(counter: u64, actor: usize)` (src/types.rs:464) converts both to `u32` with
//!   `try_into().unwrap()`. The change op decoders call it with values read straight from the op
//!   columns: the object id (`obj` actor and counter columns, column_range/obj_id.rs:136), the
//!   element key (`key` actor and delta-coded counter columns, column_range/key.rs:188) and the
//!   predecessors (`pred` actor and delta-coded counter columns, column_range/opid_list.rs:211).
//!   A column value above `u32::MAX` therefore panics inside `Change::from_bytes`.
//! * `RleDecoder` (columnar/encoding/rle.rs) takes `count.abs()` of a signed run length, and
//!   hexane's decoders `-n`; a run length of `i64::MIN` overflows, which panics wherever overflow
//!   checks are on (debug builds, tests, and the fuzz builds).
//! * A document chunk's change columns are read by `ChangeGraphCols::load` (change_graph.rs) with
//!   hexane's unchecked decoders (`hexane::decoder`, `DeltaDecoder`), which unwrap values that do
//!   not decode (hexane src/lib.rs:354), panic on a null in a non-nullable column, and add deltas
//!   without overflow checks; `ChangeGraphCols::load` then indexes its vectors with the change
//!   indices of the dependency column and with the rows of the dependency count column, unchecked.
//!   Its op columns are loaded with hexane's validating loaders, which refuse out-of-range values
//!   (so the op decoders never meet an op id beyond `u32`).
//! * Rebuilding a document (found by fuzzing with recomputed checksums): automerge indexes its
//!   actor tables with the actor indices of the op columns unchecked (op_set2/change.rs
//!   `ActorMapper::process_actor`), reads each value from the raw value column with the length
//!   its metadata claims and panics past the column's end (hexane raw.rs `RawColumnIter::take`),
//!   and panics removing a document actor that has no changes (automerge.rs
//!   `remove_unused_actors`). So op column actor indices must be below the number of actors, the
//!   value lengths must fit the value columns, and every actor must have a change.
//! * Parsing a bundle chunk can panic in hexane (see [`check_snapshot`]). Both
//!   `Change::from_bytes` and `Automerge::load` parse a chunk of any type, and `Automerge::load`
//!   decodes change chunks exactly as `Change::from_bytes` does.
//!
//! Nothing refused for these reasons can be a chunk a correct Automerge wrote: op counters and
//! actor indices are `u32` inside Automerge, its encoder never writes a run of 2^63 values, and
//! its document writer never writes nulls, overflowing sums, out-of-range indices, values past
//! their column, or actors without changes.
//!
//! Not guarded: the change collector that rebuilds a document's changes from its ops asserts that
//! op ids are unique and lie within their changes (op_set2/change/collector.rs). Checking that
//! means rebuilding the document, so those panics are left to `catch_unwind` in the engine.
//!
//! # Strictness
//!
//! Chunk headers (magic bytes, checksum, chunk type, length), change headers (dependencies,
//! actor, sequence number, start op, time, message, other actors, column metadata) and the
//! layout of document chunks are parsed exactly as automerge 0.12.0 parses them (storage/chunk.rs,
//! storage/change.rs, storage/document.rs, storage/columns/raw_column.rs, storage/parse.rs), and
//! whatever automerge would refuse there is refused here, with a reason. The chunk checksum is
//! checked here too (`Change::from_bytes` does not check it, `Automerge::load` does, but only
//! after inflating). The op columns of change chunks are walked leniently: where a value does not
//! decode the walk stops, as automerge's decoder stops at the op that reads it (so no value it
//! could reach goes unchecked). The columns of document chunks are walked strictly: hexane's
//! unchecked decoders panic where a value does not decode, so such a column is refused.
//!
//! Compressed change chunks (chunk type 2, a deflated change) are refused outright: nodes never
//! send them (they send `Change::raw_bytes`, the uncompressed chunk the change hash is computed
//! over), and refusing them spares the node from inflating attacker-chosen deflate streams.
//!
//! # Layouts mirrored
//!
//! A chunk (<https://alexjg.github.io/automerge-storage-docs/#chunk-container>, storage/chunk.rs)
//! is the magic bytes `85 6f 4a 83`, a 4-byte checksum (the first bytes of the chunk hash: SHA-256
//! over the chunk type byte, the LEB128 body length and the body), the chunk type (0 document,
//! 1 change, 2 compressed change, 3 bundle), the LEB128 body length and the body.
//!
//! A change body (<https://alexjg.github.io/automerge-storage-docs/#change-chunks>,
//! storage/change.rs `parse_following_header`) holds: a count of 32-byte dependency hashes; the
//! length-prefixed actor id; the sequence number; the start op (non-zero); the time (signed); the
//! length-prefixed UTF-8 message; a count of length-prefixed other actor ids; the op column
//! metadata (a count of (specification, data length) pairs, sorted by specification with the
//! deflate bit cleared; deflated columns are refused); the column data, in that order; and any
//! extra bytes. The op columns automerge decodes (storage/change/change_op_columns.rs) are listed
//! in [`change_column`].
//!
//! A document body (<https://alexjg.github.io/automerge-storage-docs/#document-chunks>,
//! storage/document.rs `Document::parse`) holds: a count of length-prefixed actor ids; a count of
//! 32-byte head hashes; the change column metadata and the op column metadata (each as in a
//! change body, but columns may be deflated: bit 3 of the specification); the change column data;
//! the op column data; and, unless nothing is left, one LEB128 change index per head. Nothing may
//! follow. The columns automerge 0.12 loads (`ChangeGraphCols::load` in change_graph.rs,
//! `Columns::load` in op_set2/columns.rs) are listed in [`document_change_column`] and
//! [`document_op_column`].
//!
//! A snapshot, as `Automerge::save` writes it, is one document chunk followed by the change
//! chunks of changes still waiting for their dependencies.
//!
//! Remove the panic checks (keeping `catch_unwind` in the engine) once a fixed automerge release
//! is in use; the cost checks stay.

mod columns;

use super::OverBudget;
use columns::{walk, Check, Claim, Encoding, Inflate, InflateFailure, Mode, Reader, Source};
use sha2::{Digest, Sha256};

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
    #[error("{column} column holds {value}, beyond what that column may hold")]
    ValueOutOfRange { column: &'static str, value: i128 },
    #[error("{column} column has a run length of -2^63")]
    RunLengthOverflow { column: &'static str },
    #[error("{column} column: {problem}")]
    BadColumn {
        column: &'static str,
        problem: &'static str,
    },
    #[error("chunk of type {0} where a change chunk (type 1) belongs")]
    NotAChange(u8),
    #[error("snapshot does not start with a document chunk")]
    SnapshotNotADocument,
    #[error("snapshot holds a chunk of type {0} after its document (only changes may follow)")]
    SnapshotChunk(u8),
    #[error("not an Automerge chunk: {0}")]
    BadHeader(&'static str),
    #[error("chunk checksum {found} does not match its hash (which begins {expected})")]
    BadChecksum { found: String, expected: String },
    #[error("{0} bytes follow the chunk")]
    TrailingBytes(usize),
    #[error("{0}")]
    BadLayout(&'static str),
    #[error("compressed column in a change chunk (changes may not compress columns)")]
    CompressedColumn,
    #[error("{column} column is not a valid deflate stream")]
    Deflate { column: &'static str },
}

/// Why a snapshot was refused before Automerge loaded it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Refusal {
    Malformed(MalformedInput),
    OverBudget(OverBudget),
}

impl From<MalformedInput> for Refusal {
    fn from(e: MalformedInput) -> Self {
        Refusal::Malformed(e)
    }
}

const MAGIC: [u8; 4] = [0x85, 0x6f, 0x4a, 0x83];
const CHUNK_TYPE_DOCUMENT: u8 = 0;
const CHUNK_TYPE_CHANGE: u8 = 1;
const CHUNK_TYPE_COMPRESSED: u8 = 2;

// Column types: the low three bits of a column specification.
const GROUP: u32 = 0;
const ACTOR: u32 = 1;
const INTEGER: u32 = 2;
const DELTA: u32 = 3;
const BOOLEAN: u32 = 4;
const STRING: u32 = 5;
const VALUE_METADATA: u32 = 6;
const VALUE: u32 = 7;
/// Bit 3 of a column specification: a deflated column.
const DEFLATE: u32 = 0b1000;

/// The hash of a chunk as automerge 0.12 computes it (storage/chunk.rs, `hash`): SHA-256 over the
/// chunk type, the LEB128 length of the body and the body.
fn chunk_hash(chunk_type: u8, body: &[u8]) -> [u8; 32] {
    let mut prefix = vec![chunk_type];
    let mut len = body.len() as u64;
    loop {
        let byte = (len & 0x7f) as u8;
        len >>= 7;
        if len == 0 {
            prefix.push(byte);
            break;
        }
        prefix.push(byte | 0x80);
    }
    let mut hasher = Sha256::new();
    hasher.update(&prefix);
    hasher.update(body);
    hasher.finalize().into()
}

/// One chunk: its type, its hash and its body.
struct Chunk<'a> {
    chunk_type: u8,
    hash: [u8; 32],
    body: &'a [u8],
}

/// Reads the chunk at the reader's position: header, body, and a checksum that must match.
fn chunk<'a>(r: &mut Reader<'a>) -> Result<Chunk<'a>, MalformedInput> {
    if r.take(4) != Some(&MAGIC[..]) {
        return Err(MalformedInput::BadHeader("no magic bytes"));
    }
    let checksum = r
        .take(4)
        .ok_or(MalformedInput::BadHeader("truncated chunk header"))?;
    let chunk_type = r
        .byte()
        .ok_or(MalformedInput::BadHeader("truncated chunk header"))?;
    if chunk_type > 3 {
        return Err(MalformedInput::BadHeader("unknown chunk type"));
    }
    let body = r
        .header_uleb()
        .ok_or(MalformedInput::BadHeader("malformed chunk length"))
        .and_then(|len| {
            r.take(len)
                .ok_or(MalformedInput::BadHeader("chunk shorter than its length"))
        })?;
    let hash = chunk_hash(chunk_type, body);
    if hash.get(..4) != Some(checksum) {
        return Err(MalformedInput::BadChecksum {
            found: hex::encode(checksum),
            expected: hex::encode(&hash[..4]),
        });
    }
    Ok(Chunk {
        chunk_type,
        hash,
        body,
    })
}

/// What the header of a change chunk says, and what its op columns claim.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct ChangeChunk<'a> {
    pub(super) hash: [u8; 32],
    pub(super) deps: Vec<[u8; 32]>,
    pub(super) actor: &'a [u8],
    pub(super) seq: u64,
    pub(super) start_op: u64,
    pub(super) time: i64,
    pub(super) message: &'a str,
    /// The most rows any op column claims (counting, for the predecessor group, the sum of its
    /// counts), saturating.
    pub(super) claimed_ops: u64,
    /// The bytes of its strings (keys, mark names) with their runs expanded, saturating.
    pub(super) claimed_bytes: u64,
}

/// Parses change bytes from a peer: the header as automerge parses it (see the module
/// documentation), refusing what it would refuse and what would make it panic, and measures what
/// the op columns claim. Reads no row: the cost is proportional to `bytes.len()`.
pub(super) fn check_change(bytes: &[u8]) -> Result<ChangeChunk<'_>, MalformedInput> {
    let mut r = Reader::new(bytes);
    // `Change::from_bytes` parses a chunk of any type before refusing all but changes, and
    // parsing a bundle chunk can panic (see `check_snapshot`): look at the type first.
    if let Some(&chunk_type) = bytes.get(8) {
        if bytes.starts_with(&MAGIC) {
            match chunk_type {
                CHUNK_TYPE_CHANGE => {}
                CHUNK_TYPE_COMPRESSED => return Err(MalformedInput::Compressed),
                other => return Err(MalformedInput::NotAChange(other)),
            }
        }
    }
    let chunk = chunk(&mut r)?;
    if !r.done() {
        return Err(MalformedInput::TrailingBytes(bytes.len() - r.pos));
    }
    let mut r = Reader::new(chunk.body);
    let truncated = MalformedInput::BadHeader("truncated or malformed change header");
    // Dependencies: a count of 32-byte hashes (no capacity from the count: it is untrusted).
    let dep_count = r.header_uleb().ok_or(truncated.clone())?;
    let mut deps = Vec::new();
    for _ in 0..dep_count {
        let dep = r.take(32).ok_or(truncated.clone())?;
        let mut hash = [0; 32];
        hash.copy_from_slice(dep);
        deps.push(hash);
    }
    let actor = length_prefixed(&mut r).ok_or(truncated.clone())?;
    let seq = r.header_uleb().ok_or(truncated.clone())?;
    let start_op = r.header_uleb().ok_or(truncated.clone())?;
    if start_op == 0 {
        return Err(MalformedInput::BadHeader("start op of 0"));
    }
    let time = r.header_sleb().ok_or(truncated.clone())?;
    let message = length_prefixed(&mut r).ok_or(truncated.clone())?;
    let message = std::str::from_utf8(message)
        .map_err(|_| MalformedInput::BadHeader("message is not UTF-8"))?;
    let others = r.header_uleb().ok_or(truncated.clone())?;
    for _ in 0..others {
        length_prefixed(&mut r).ok_or(truncated.clone())?;
    }
    let specs = column_metadata(&mut r)?;
    if specs.iter().any(|(spec, _)| spec & DEFLATE != 0) {
        return Err(MalformedInput::CompressedColumn);
    }
    let columns = column_data(&mut r, &specs)?;
    // What follows is extra bytes, kept by automerge as they are.

    let (mut claimed_ops, mut claimed_bytes) = (0u64, 0u64);
    for (spec, data) in columns {
        if let Some((encoding, check, name)) = change_column(spec) {
            let claim = walk(
                &mut Reader::new(data),
                encoding,
                check,
                name,
                Mode::Lenient,
                &mut |_| {},
            )?;
            claimed_ops = claimed_ops.max(claim.rows);
            claimed_bytes = claimed_bytes.saturating_add(claim.bytes);
            if spec == (7 << 4 | GROUP) {
                claimed_ops = claimed_ops.max(claim.sum);
            }
        }
    }
    Ok(ChangeChunk {
        hash: chunk.hash,
        deps,
        actor,
        seq,
        start_op,
        time,
        message,
        claimed_ops,
        claimed_bytes,
    })
}

fn length_prefixed<'a>(r: &mut Reader<'a>) -> Option<&'a [u8]> {
    let len = r.header_uleb()?;
    r.take(len)
}

/// Column metadata as `RawColumns::parse` reads it: a count of (specification, length) pairs,
/// sorted by specification with the deflate bit cleared.
fn column_metadata(r: &mut Reader<'_>) -> Result<Vec<(u32, u64)>, MalformedInput> {
    let truncated = MalformedInput::BadHeader("truncated or malformed column metadata");
    let count = r.header_uleb().ok_or(truncated.clone())?;
    let mut specs: Vec<(u32, u64)> = Vec::new();
    for _ in 0..count {
        let spec = r.header_uleb().ok_or(truncated.clone())?;
        let spec = u32::try_from(spec)
            .map_err(|_| MalformedInput::BadLayout("column specification beyond 32 bits"))?;
        let len = r.header_uleb().ok_or(truncated.clone())?;
        if let Some(&(last, _)) = specs.last() {
            if spec & !DEFLATE < last & !DEFLATE {
                return Err(MalformedInput::BadLayout("columns out of order"));
            }
        }
        specs.push((spec, len));
    }
    Ok(specs)
}

/// The data of the columns `specs` describes, which follow at the reader's position in order.
fn column_data<'a>(
    r: &mut Reader<'a>,
    specs: &[(u32, u64)],
) -> Result<Vec<(u32, &'a [u8])>, MalformedInput> {
    let past_end = MalformedInput::BadLayout("column data past the end of the chunk");
    let mut columns = Vec::with_capacity(specs.len());
    for &(spec, len) in specs {
        columns.push((spec, r.take(len).ok_or(past_end.clone())?));
    }
    Ok(columns)
}

/// The op columns of a change chunk that automerge 0.12 decodes, by (column id, column type), as
/// `ChangeOpsColumns::try_from` (change_op_columns.rs) maps them: 0 obj, 1 key, 3 insert,
/// 4 action, 5 value (the raw value column has no rows of its own), 7 pred (a group whose
/// columns are the actor, as Actor or Integer, and the delta-coded counter), 9 expand, 10 mark
/// name. Columns it does not know it does not decode.
fn change_column(spec: u32) -> Option<(Encoding, Check, &'static str)> {
    Some(match (spec >> 4, spec & 0b111) {
        (0, ACTOR) => (Encoding::Uint, Check::OpIdPart, "obj actor"),
        (0, INTEGER) => (Encoding::Uint, Check::OpIdPart, "obj counter"),
        (1, ACTOR) => (Encoding::Uint, Check::OpIdPart, "key actor"),
        (1, DELTA) => (Encoding::Delta, Check::OpIdCounter, "key counter"),
        (1, STRING) => (Encoding::Str, Check::Rows, "key string"),
        (3, BOOLEAN) => (Encoding::Bool, Check::Rows, "insert"),
        (4, INTEGER) => (Encoding::Uint, Check::Rows, "action"),
        (5, VALUE_METADATA) => (Encoding::Uint, Check::Rows, "value metadata"),
        (7, GROUP) => (Encoding::Uint, Check::Rows, "pred count"),
        (7, ACTOR | INTEGER) => (Encoding::Uint, Check::OpIdPart, "pred actor"),
        (7, DELTA) => (Encoding::Delta, Check::OpIdCounter, "pred counter"),
        (9, BOOLEAN) => (Encoding::Bool, Check::Rows, "expand"),
        (10, STRING) => (Encoding::Str, Check::Rows, "mark name"),
        _ => return None,
    })
}

/// The change columns of a document chunk that automerge 0.12 loads (`ChangeGraphCols::load`,
/// change_graph.rs, column ids in its `ids` module), by exact specification. The actor, sequence
/// number, max op, dependency count and dependency index columns are read by hexane's unchecked
/// decoders (see the module documentation); the dependency indices are checked against the
/// number of changes separately.
fn document_change_column(spec: u32) -> Option<(Encoding, Check, &'static str)> {
    let u32_max = u64::from(u32::MAX);
    Some(match (spec >> 4, spec & 0b111) {
        (0, ACTOR) => (Encoding::Uint, Check::NOT_NULL, "change actor"),
        (0, DELTA) => (Encoding::Delta, Check::NOT_NULL, "change seq"),
        (1, DELTA) => (Encoding::Delta, Check::NOT_NULL, "change max op"),
        (2, DELTA) => (Encoding::Delta, Check::Rows, "change time"),
        (3, STRING) => (Encoding::Str, Check::Rows, "change message"),
        (4, GROUP) => (
            Encoding::Uint,
            Check::Unvalidated {
                max: u32_max,
                sums: (i64::MIN, i64::MAX),
            },
            "change deps count",
        ),
        (4, DELTA) => (Encoding::Delta, Check::NOT_NULL, "change deps index"),
        (5, VALUE_METADATA) => (Encoding::Uint, Check::Rows, "change extra metadata"),
        _ => return None,
    })
}

/// The op columns of a document chunk that automerge 0.12 loads (`Columns::load` in
/// op_set2/columns.rs, column ids in its `ids` module), by exact specification: 0 obj, 1 key,
/// 2 op id, 3 insert, 4 action, 5 value metadata, 8 succ (a group of actor and delta-coded
/// counter), 9 expand, 10 mark name.
fn document_op_column(spec: u32) -> Option<(Encoding, &'static str)> {
    Some(match (spec >> 4, spec & 0b111) {
        (0, ACTOR) => (Encoding::Uint, "obj actor"),
        (0, INTEGER) => (Encoding::Uint, "obj counter"),
        (1, ACTOR) => (Encoding::Uint, "key actor"),
        (1, DELTA) => (Encoding::Delta, "key counter"),
        (1, STRING) => (Encoding::Str, "key string"),
        (2, ACTOR) => (Encoding::Uint, "id actor"),
        (2, DELTA) => (Encoding::Delta, "id counter"),
        (3, BOOLEAN) => (Encoding::Bool, "insert"),
        (4, INTEGER) => (Encoding::Uint, "action"),
        (5, VALUE_METADATA) => (Encoding::Uint, "value metadata"),
        (8, GROUP) => (Encoding::Uint, "succ count"),
        (8, ACTOR) => (Encoding::Uint, "succ actor"),
        (8, DELTA) => (Encoding::Delta, "succ counter"),
        (9, BOOLEAN) => (Encoding::Bool, "expand"),
        (10, STRING) => (Encoding::Str, "mark name"),
        _ => return None,
    })
}

const DEPS_COUNT: u32 = 4 << 4 | GROUP;
const DEPS_INDEX: u32 = 4 << 4 | DELTA;
const CHANGE_ACTOR: u32 = ACTOR;
const SUCC_COUNT: u32 = 8 << 4 | GROUP;
/// The value columns of documents: the same specifications among change and op columns.
const VALUE_META: u32 = 5 << 4 | VALUE_METADATA;
const RAW_VALUE: u32 = 5 << 4 | VALUE;

/// What a snapshot claims.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct SnapshotClaims {
    /// Rows its document chunk claims: the most of any op column (or of the succ columns, by the
    /// sum of the succ counts) or of any change column (likewise for the dependencies).
    pub(super) document_ops: u64,
    /// The ops each change chunk after the document claims (see [`check_change`]).
    pub(super) change_ops: Vec<u64>,
    /// Bytes the deflated columns inflate to, in all.
    pub(super) inflated_bytes: u64,
    /// Bytes of the strings of the document (keys, mark names, change messages) and of the
    /// change chunks with their runs expanded, in all, saturating.
    pub(super) string_bytes: u64,
}

/// Checks a snapshot from a peer before `Automerge::load` sees it, and measures what it claims,
/// inflating its deflated columns here (through a fixed buffer) up to `inflate_limit` bytes in
/// all. A snapshot is what `Automerge::save` writes: one document chunk, followed by the raw
/// change chunks of any changes still waiting for their dependencies. `Automerge::load` accepts
/// more: a change, compressed change or bundle chunk first, and bundles or documents after it.
/// Those are refused here: they are not what a node sends, a change chunk first would skip the
/// document checks, and automerge 0.12 panics on some malformed bundle chunks
/// (hexane-1.0.0-alpha.5 src/lib.rs:354, an unwrap in `Packable::unpack`, reached from
/// storage/bundle/storage.rs). Every change chunk after the document goes through
/// [`check_change`]. An empty snapshot is an empty document (so `Automerge::load` has it).
pub(super) fn check_snapshot(bytes: &[u8], inflate_limit: u64) -> Result<SnapshotClaims, Refusal> {
    let mut claims = SnapshotClaims::default();
    let mut r = Reader::new(bytes);
    let mut first = true;
    while !r.done() {
        let start = r.pos;
        // The chunk type first: whatever else is wrong, a bundle is not to be parsed further.
        if let (true, Some(&chunk_type)) = (
            bytes.get(start..).is_some_and(|b| b.starts_with(&MAGIC)),
            bytes.get(start + 8),
        ) {
            match (first, chunk_type) {
                (true, CHUNK_TYPE_DOCUMENT) | (false, CHUNK_TYPE_CHANGE) => {}
                (true, _) => return Err(MalformedInput::SnapshotNotADocument.into()),
                (false, other) => return Err(MalformedInput::SnapshotChunk(other).into()),
            }
        }
        let chunk = chunk(&mut r)?;
        match (first, chunk.chunk_type) {
            (true, CHUNK_TYPE_DOCUMENT) => {
                check_document(chunk.body, inflate_limit, &mut claims)?;
            }
            (false, CHUNK_TYPE_CHANGE) => {
                let change = check_change(bytes.get(start..r.pos).unwrap_or_default())?;
                claims.change_ops.push(change.claimed_ops);
                claims.string_bytes = claims.string_bytes.saturating_add(change.claimed_bytes);
            }
            (true, _) => return Err(MalformedInput::SnapshotNotADocument.into()),
            (false, other) => return Err(MalformedInput::SnapshotChunk(other).into()),
        }
        first = false;
    }
    Ok(claims)
}

/// Checks the body of a document chunk (see the module documentation for its layout).
fn check_document(
    body: &[u8],
    inflate_limit: u64,
    claims: &mut SnapshotClaims,
) -> Result<(), Refusal> {
    let mut r = Reader::new(body);
    let truncated = MalformedInput::BadHeader("truncated or malformed document header");
    let actors = r.header_uleb().ok_or(truncated.clone())?;
    for _ in 0..actors {
        length_prefixed(&mut r).ok_or(truncated.clone())?;
    }
    let heads = r.header_uleb().ok_or(truncated.clone())?;
    for _ in 0..heads {
        r.take(32).ok_or(truncated.clone())?;
    }
    let change_specs = column_metadata(&mut r)?;
    let op_specs = column_metadata(&mut r)?;
    let change_columns = column_data(&mut r, &change_specs)?;
    let op_columns = column_data(&mut r, &op_specs)?;
    // The head indices, unless nothing is left (older writers left them out); then nothing.
    if !r.done() {
        for _ in 0..heads {
            r.header_uleb().ok_or(MalformedInput::BadHeader(
                "truncated or malformed head indices",
            ))?;
        }
        if !r.done() {
            return Err(MalformedInput::TrailingBytes(body.len() - r.pos).into());
        }
    }

    // Columns in the order automerge inflates them: changes, then ops.
    let (mut inflated, mut strings) = (0u64, 0u64);
    let mut changes = 0u64;
    let mut change_claim = 0u64;
    // At most one per byte of the header, so proportional to the input.
    let mut with_changes = vec![false; usize::try_from(actors).unwrap_or(usize::MAX)];
    let (mut value_bytes, mut raw_bytes) = (0u64, 0u64);
    for (spec, data) in change_columns {
        let plain = spec & !DEFLATE;
        let column = document_change_column(plain).map(|(encoding, check, name)| {
            let check = match plain {
                // `max_ops[dep]` for every dependency index: below the number of changes.
                DEPS_INDEX => Check::Unvalidated {
                    max: u64::MAX,
                    sums: (0, i64::try_from(changes).unwrap_or(i64::MAX) - 1),
                },
                _ => check,
            };
            (encoding, check, name)
        });
        // Which actors have changes (a value per run, each below `actors`, checked first).
        let mut mark_actor = |actor: u64| {
            if let Some(seen) = usize::try_from(actor)
                .ok()
                .and_then(|a| with_changes.get_mut(a))
            {
                *seen = true;
            }
        };
        let on_value: &mut dyn FnMut(u64) = match plain {
            CHANGE_ACTOR => &mut mark_actor,
            _ => &mut |_| {},
        };
        let (claim, len) = read_column(spec, data, column, inflate_limit, &mut inflated, on_value)?;
        change_claim = change_claim.max(claim.rows);
        strings = strings.saturating_add(claim.bytes);
        match plain {
            CHANGE_ACTOR => changes = claim.rows,
            VALUE_META => value_bytes = claim.value_bytes,
            RAW_VALUE => raw_bytes = len,
            DEPS_COUNT => {
                change_claim = change_claim.max(claim.sum);
                // `max_ops[i]` for every row of the dependency counts: no more than changes.
                if claim.rows > changes {
                    return Err(MalformedInput::BadColumn {
                        column: "change deps count",
                        problem: "more rows than there are changes",
                    }
                    .into());
                }
            }
            _ => {}
        }
    }
    check_value_lengths(value_bytes, raw_bytes, "change extra metadata")?;
    // An actor without changes makes automerge panic as it removes it (`remove_unused_actors`:
    // "cant rewrite - actor is present", or an index out of bounds among the authors).
    // `Automerge::save` lists only actors with changes.
    if with_changes.contains(&false) {
        return Err(MalformedInput::BadColumn {
            column: "change actor",
            problem: "a document actor without changes",
        }
        .into());
    }
    let mut op_claim = 0u64;
    let (mut value_bytes, mut raw_bytes) = (0u64, 0u64);
    for (spec, data) in op_columns {
        let plain = spec & !DEFLATE;
        let column = document_op_column(plain).map(|(encoding, name)| {
            // Actor indices, of objects, keys, op ids and successors: below the actors.
            let check = match plain & 0b111 {
                ACTOR => Check::Below(actors),
                _ => Check::Rows,
            };
            (encoding, check, name)
        });
        let (claim, len) = read_column(
            spec,
            data,
            column,
            inflate_limit,
            &mut inflated,
            &mut |_| {},
        )?;
        op_claim = op_claim.max(claim.rows);
        strings = strings.saturating_add(claim.bytes);
        match plain {
            SUCC_COUNT => op_claim = op_claim.max(claim.sum),
            VALUE_META => value_bytes = claim.value_bytes,
            RAW_VALUE => raw_bytes = len,
            _ => {}
        }
    }
    check_value_lengths(value_bytes, raw_bytes, "value metadata")?;
    claims.document_ops = op_claim.max(change_claim);
    claims.inflated_bytes = inflated;
    claims.string_bytes = claims.string_bytes.saturating_add(strings);
    Ok(())
}

/// Walks one document column (`column`: how, if automerge loads it), inflating it first if it is
/// deflated (automerge inflates every deflated column, known or not), and adds what it inflates
/// to to `inflated`, refusing it once that passes `inflate_limit`. Returns what it claims and its
/// length (inflated).
fn read_column(
    spec: u32,
    data: &[u8],
    column: Option<(Encoding, Check, &'static str)>,
    inflate_limit: u64,
    inflated: &mut u64,
    on_value: &mut dyn FnMut(u64),
) -> Result<(Claim, u64), Refusal> {
    if spec & DEFLATE == 0 {
        let claim = match column {
            Some((encoding, check, name)) => walk(
                &mut Reader::new(data),
                encoding,
                check,
                name,
                Mode::Strict,
                on_value,
            )?,
            None => Claim::default(),
        };
        return Ok((claim, data.len() as u64));
    }
    let left = inflate_limit.saturating_sub(*inflated);
    let mut source = Inflate::new(data, left);
    let walked = column.map(|(encoding, check, name)| {
        walk(&mut source, encoding, check, name, Mode::Strict, on_value)
    });
    // A column that stopped inflating looks truncated to the walk: that reason comes first.
    // Otherwise a refused column need not be inflated further.
    if let (Some(Err(e)), false) = (&walked, source.stopped()) {
        return Err(e.clone().into());
    }
    let name = column.map_or("unknown", |(_, _, name)| name);
    let len = match source.finish() {
        Ok(bytes) => bytes,
        Err((InflateFailure::Corrupt, _)) => {
            return Err(MalformedInput::Deflate { column: name }.into())
        }
        Err((InflateFailure::OverLimit, bytes)) => {
            return Err(Refusal::OverBudget(OverBudget::Inflated {
                claimed: inflated.saturating_add(bytes),
                left: inflate_limit,
            }))
        }
    };
    *inflated = inflated.saturating_add(len);
    Ok((walked.transpose()?.unwrap_or_default(), len))
}

/// Refuses value metadata claiming more bytes than the raw value column holds: hexane's
/// `RawColumnIter::take` (raw.rs) panics when automerge reads a value past its end.
fn check_value_lengths(claimed: u64, raw: u64, column: &'static str) -> Result<(), MalformedInput> {
    if claimed > raw {
        return Err(MalformedInput::BadColumn {
            column,
            problem: "values longer than the raw value column",
        });
    }
    Ok(())
}

#[cfg(test)]
pub(super) mod tests;
