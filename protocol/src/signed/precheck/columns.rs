//! Reading the columns of a chunk without decoding its rows: what each column claims (rows, and
//! for group columns the rows of the columns they group) and the values on which automerge 0.12
//! or hexane panic. Every step reads at least one input byte and no step allocates, so a walk
//! costs time proportional to the column's bytes, whatever its run lengths claim.
//!
//! The encodings (<https://alexjg.github.io/automerge-storage-docs/#column-encodings>), which the
//! change decoder (columnar/encoding/*.rs) and hexane (rle/, delta/, bool.rs) share:
//!
//! * run-length (actor, integer, string, group and value-metadata columns): a signed LEB128 run
//!   length `n`, then one value repeated `n` times (`n > 0`), `-n` literal values (`n < 0`), or
//!   an unsigned LEB128 count of nulls (`n = 0`). Values are unsigned LEB128, or a LEB128 length
//!   and that many bytes for strings;
//! * delta (delta-integer columns): run-length encoded signed deltas, the values being their
//!   running sums;
//! * boolean: unsigned LEB128 run lengths of `false`, `true`, `false`, ... values.
//!
//! A column's rows are the sum of its run lengths and null counts, saturating.

use super::MalformedInput;
use std::io::Read;

/// automerge's change decoder refuses longer strings (decodable_impls.rs, MAX_ALLOCATION).
const MAX_STRING: u64 = 1_000_000_000;

/// Bytes a column is read from: a slice, or a deflated column inflated as it is read.
pub(super) trait Source {
    /// The next byte, or `None` at the end (or where an inflated column stopped: see
    /// [`Inflate::finish`]).
    fn byte(&mut self) -> Option<u8>;
    /// Skips `n` bytes; `false` if fewer were left.
    fn skip(&mut self, n: u64) -> bool;
    /// Whether no byte is left.
    fn at_end(&mut self) -> bool;

    /// Unsigned LEB128 as the `leb128` crate decodes it (automerge's column decoders and hexane
    /// use it): overlong encodings accepted, more than 64 bits refused.
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

/// A cursor over bytes in memory. Besides the column encodings, it reads chunk headers with
/// automerge's stricter header LEB128 rules (storage/parse/leb128.rs).
pub(super) struct Reader<'a> {
    data: &'a [u8],
    pub(super) pos: usize,
}

impl<'a> Reader<'a> {
    pub(super) fn new(data: &'a [u8]) -> Self {
        Reader { data, pos: 0 }
    }

    pub(super) fn done(&self) -> bool {
        self.pos >= self.data.len()
    }

    pub(super) fn take(&mut self, n: u64) -> Option<&'a [u8]> {
        let end = self.pos.checked_add(usize::try_from(n).ok()?)?;
        let slice = self.data.get(self.pos..end)?;
        self.pos = end;
        Some(slice)
    }

    /// Unsigned LEB128 as automerge's chunk parser reads it (`leb128_u64`): overlong encodings
    /// and more than 64 bits are refused.
    pub(super) fn header_uleb(&mut self) -> Option<u64> {
        let mut result = 0u64;
        let mut shift = 0u32;
        loop {
            let byte = self.byte()?;
            if shift < 64 {
                result |= u64::from(byte & 0x7f) << shift;
            }
            shift += 7;
            if byte & 0x80 == 0 {
                if (shift > 64 && byte > 1) || (shift > 7 && byte == 0) {
                    return None;
                }
                return Some(result);
            } else if shift > 64 {
                return None;
            }
        }
    }

    /// Signed LEB128 as automerge's chunk parser reads it (`leb128_i64`).
    pub(super) fn header_sleb(&mut self) -> Option<i64> {
        let mut result = 0i64;
        let mut shift = 0u32;
        let mut prev = 0u8;
        loop {
            let byte = self.byte()?;
            if shift < 64 {
                result |= i64::from(byte & 0x7f) << shift;
            }
            shift += 7;
            if byte & 0x80 == 0 {
                if shift > 64 && byte != 0 && byte != 0x7f {
                    return None;
                }
                if shift > 7
                    && ((byte == 0 && prev & 0x40 == 0) || (byte == 0x7f && prev & 0x40 != 0))
                {
                    return None;
                }
                if shift < 64 && byte & 0x40 != 0 {
                    result |= !0 << shift;
                }
                return Some(result);
            } else if shift > 64 {
                return None;
            }
            prev = byte;
        }
    }
}

impl Source for Reader<'_> {
    fn byte(&mut self) -> Option<u8> {
        let b = *self.data.get(self.pos)?;
        self.pos += 1;
        Some(b)
    }

    fn skip(&mut self, n: u64) -> bool {
        self.take(n).is_some()
    }

    fn at_end(&mut self) -> bool {
        self.done()
    }
}

/// Why an inflated column stopped before its end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum InflateFailure {
    /// The deflate stream is corrupt.
    Corrupt,
    /// It inflates to more than the limit.
    OverLimit,
}

/// A deflated column, inflated as it is read, through a fixed buffer, and never past a limit: the
/// memory it takes does not depend on the input.
pub(super) struct Inflate<'a> {
    decoder: flate2::bufread::DeflateDecoder<&'a [u8]>,
    buf: Box<[u8]>,
    pos: usize,
    len: usize,
    inflated: u64,
    limit: u64,
    failure: Option<InflateFailure>,
}

const INFLATE_BUFFER: usize = 32 * 1024;

impl<'a> Inflate<'a> {
    /// Inflates `data` (as automerge does: `flate2::bufread::DeflateDecoder`, storage/columns/
    /// raw_column.rs), stopping once more than `limit` bytes came out.
    pub(super) fn new(data: &'a [u8], limit: u64) -> Self {
        Inflate {
            decoder: flate2::bufread::DeflateDecoder::new(data),
            buf: vec![0; INFLATE_BUFFER].into_boxed_slice(),
            pos: 0,
            len: 0,
            inflated: 0,
            limit,
            failure: None,
        }
    }

    /// Refills the buffer; `false` at the end of the stream or on failure.
    fn fill(&mut self) -> bool {
        if self.pos < self.len {
            return true;
        }
        if self.failure.is_some() {
            return false;
        }
        // Never ask for more than one byte past the limit.
        let room = self.limit.saturating_sub(self.inflated).saturating_add(1);
        let want = usize::try_from(room).map_or(self.buf.len(), |r| r.min(self.buf.len()));
        let Some(buf) = self.buf.get_mut(..want) else {
            return false;
        };
        match self.decoder.read(buf) {
            Ok(0) => false,
            Ok(n) => {
                self.inflated = self.inflated.saturating_add(n as u64);
                if self.inflated > self.limit {
                    self.failure = Some(InflateFailure::OverLimit);
                    return false;
                }
                self.pos = 0;
                self.len = n;
                true
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => self.fill(),
            Err(_) => {
                self.failure = Some(InflateFailure::Corrupt);
                false
            }
        }
    }

    /// Whether the column stopped inflating (corrupt, or past the limit) before its end.
    pub(super) fn stopped(&self) -> bool {
        self.failure.is_some()
    }

    /// Inflates what the walk did not read, and returns how many bytes the column inflates to
    /// (or why it could not be inflated within the limit).
    pub(super) fn finish(mut self) -> Result<u64, (InflateFailure, u64)> {
        loop {
            self.pos = self.len;
            if !self.fill() {
                break;
            }
        }
        match self.failure {
            None => Ok(self.inflated),
            Some(failure) => Err((failure, self.inflated)),
        }
    }
}

impl Source for Inflate<'_> {
    fn byte(&mut self) -> Option<u8> {
        if !self.fill() {
            return None;
        }
        let b = *self.buf.get(self.pos)?;
        self.pos += 1;
        Some(b)
    }

    fn skip(&mut self, mut n: u64) -> bool {
        while n > 0 {
            if !self.fill() {
                return false;
            }
            let step = (self.len - self.pos).min(usize::try_from(n).unwrap_or(usize::MAX));
            self.pos += step;
            n -= step as u64;
        }
        true
    }

    fn at_end(&mut self) -> bool {
        !self.fill()
    }
}

/// How a column's bytes are laid out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Encoding {
    /// Run-length encoded unsigned values.
    Uint,
    /// Run-length encoded signed deltas.
    Delta,
    /// Run-length encoded strings.
    Str,
    /// Alternating run lengths of `false` and `true`.
    Bool,
}

/// What is checked of a column's values besides its rows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Check {
    /// Rows only.
    Rows,
    /// A change column whose values become half of an op id (`OpId::new` panics above
    /// `u32::MAX`).
    OpIdPart,
    /// A change column of delta-coded op counters: the running sums are checked against
    /// `u32::MAX`; once one is negative automerge refuses the op, and reads no further.
    OpIdCounter,
    /// A document column of actor indices (nulls allowed): each below the number of actors,
    /// which automerge indexes its actor tables with unchecked (op_set2/change.rs,
    /// `ActorMapper::process_actor`).
    Below(u64),
    /// A document column that hexane decodes without validating it (`hexane::decoder`,
    /// `DeltaDecoder`, which unwrap, panic on nulls and add without overflow checks): no null
    /// runs, values at most `max`, running sums within `sums`.
    Unvalidated { max: u64, sums: (i64, i64) },
}

impl Check {
    /// `Unvalidated` with no limits but the absence of nulls.
    pub(super) const NOT_NULL: Check = Check::Unvalidated {
        max: u64::MAX,
        sums: (i64::MIN, i64::MAX),
    };
}

/// What a column claims.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct Claim {
    /// Rows: run lengths and null counts, summed.
    pub(super) rows: u64,
    /// The sum of the values (for a group column: the rows of the columns in its group).
    pub(super) sum: u64,
    /// For a string column, the bytes of its strings with their runs expanded (a run of 2^20
    /// copies of a 64 KiB key claims 64 GiB): what Automerge copies as it builds the ops.
    pub(super) bytes: u64,
    /// For a value metadata column, the bytes of the raw value column its values take (each
    /// value's metadata is its type in the low four bits and its length in bytes above them).
    pub(super) value_bytes: u64,
}

/// Whether a walk stops quietly where the bytes stop decoding (change chunks: automerge's decoder
/// refuses the op there, and reads no further) or refuses them (document columns: hexane's
/// unchecked decoders panic on them).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Mode {
    Lenient,
    Strict,
}

/// Walks one column: its rows, the sum of its values, and the checks of `check`. `on_value` sees
/// every value of an unsigned column that passed them (once per run).
pub(super) fn walk<S: Source>(
    src: &mut S,
    encoding: Encoding,
    check: Check,
    column: &'static str,
    mode: Mode,
    on_value: &mut dyn FnMut(u64),
) -> Result<Claim, MalformedInput> {
    let mut claim = Claim::default();
    // Where the bytes stop decoding: the end of the walk, or a refusal.
    let stop = |claim: Claim| match mode {
        Mode::Lenient => Ok(claim),
        Mode::Strict => Err(MalformedInput::BadColumn {
            column,
            problem: "truncated or malformed value",
        }),
    };
    if encoding == Encoding::Bool {
        while !src.at_end() {
            let Some(run) = src.uleb() else {
                return stop(claim);
            };
            claim.rows = claim.rows.saturating_add(run);
        }
        return Ok(claim);
    }
    // The running sum of a delta column.
    let mut running: i64 = 0;
    while !src.at_end() {
        let Some(run) = src.sleb() else {
            return stop(claim);
        };
        if run == i64::MIN {
            // `count.abs()` (change decoder) and `-n` (hexane) overflow.
            return Err(MalformedInput::RunLengthOverflow { column });
        }
        claim.rows = claim.rows.saturating_add(run.unsigned_abs());
        if run == 0 {
            let Some(nulls) = src.uleb() else {
                return stop(claim);
            };
            if matches!(check, Check::Unvalidated { .. }) && nulls > 0 {
                return Err(MalformedInput::BadColumn {
                    column,
                    problem: "null values where none may be",
                });
            }
            // Nulls leave the running sum alone.
            claim.rows = claim.rows.saturating_add(nulls);
            continue;
        }
        let (repeat, values) = if run > 0 {
            (run.unsigned_abs(), 1)
        } else {
            (1, run.unsigned_abs())
        };
        for _ in 0..values {
            let read = match encoding {
                Encoding::Uint => match src.uleb() {
                    Some(value) => {
                        check_value(value, check, column)?;
                        on_value(value);
                        claim.sum = claim.sum.saturating_add(value.saturating_mul(repeat));
                        claim.value_bytes = claim
                            .value_bytes
                            .saturating_add((value >> 4).saturating_mul(repeat));
                        true
                    }
                    None => false,
                },
                Encoding::Delta => match src.sleb() {
                    Some(delta) => match delta_run(&mut running, delta, repeat, check, column)? {
                        true => true,
                        // A negative op counter: automerge refuses the op that reads it.
                        false => return Ok(claim),
                    },
                    None => false,
                },
                Encoding::Str => match src.uleb() {
                    Some(len) if mode == Mode::Strict || len <= MAX_STRING => {
                        claim.bytes = claim.bytes.saturating_add(len.saturating_mul(repeat));
                        src.skip(len)
                    }
                    _ => false,
                },
                Encoding::Bool => false,
            };
            if !read {
                return stop(claim);
            }
        }
    }
    Ok(claim)
}

fn check_value(value: u64, check: Check, column: &'static str) -> Result<(), MalformedInput> {
    match check {
        Check::OpIdPart if value > u64::from(u32::MAX) => Err(MalformedInput::OpIdOutOfRange {
            column,
            value: value.into(),
        }),
        Check::Unvalidated { max, .. } if value > max => Err(MalformedInput::ValueOutOfRange {
            column,
            value: value.into(),
        }),
        Check::Below(limit) if value >= limit => Err(MalformedInput::ValueOutOfRange {
            column,
            value: value.into(),
        }),
        _ => Ok(()),
    }
}

/// Advances the running sum of a delta column over `repeat` copies of `delta`. The sums of a run
/// move in one direction, so its first and last ones bound them all. Returns `Ok(false)` where
/// automerge stops reading (a negative op counter).
fn delta_run(
    running: &mut i64,
    delta: i64,
    repeat: u64,
    check: Check,
    column: &'static str,
) -> Result<bool, MalformedInput> {
    let first = i128::from(*running) + i128::from(delta);
    let last = i128::from(*running) + i128::from(delta) * i128::from(repeat);
    let (low, high) = (first.min(last), first.max(last));
    match check {
        Check::OpIdCounter => {
            // automerge's change decoder adds with `saturating_add`.
            if low < 0 {
                return Ok(false);
            }
            if high > i128::from(u32::MAX) {
                return Err(MalformedInput::OpIdOutOfRange {
                    column,
                    value: high,
                });
            }
        }
        Check::Unvalidated { sums, .. } => {
            if low < i128::from(sums.0) || high > i128::from(sums.1) {
                return Err(MalformedInput::ValueOutOfRange {
                    column,
                    value: if low < i128::from(sums.0) { low } else { high },
                });
            }
        }
        Check::Rows | Check::OpIdPart | Check::Below(_) => {}
    }
    // hexane adds without overflow checks being off in debug builds: a sum outside i64 panics
    // there; automerge's change decoder saturates. Either way no valid column gets there.
    *running = i64::try_from(last).unwrap_or(if last < 0 { i64::MIN } else { i64::MAX });
    if i64::try_from(low).is_err() || i64::try_from(high).is_err() {
        return Err(MalformedInput::BadColumn {
            column,
            problem: "running sum beyond 64 bits",
        });
    }
    Ok(true)
}
