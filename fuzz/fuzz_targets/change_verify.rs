#![no_main]
//! `signed::decode_change` (the engine's decoder of peer change bytes: a structural pre-check,
//! then Automerge's `Change::from_bytes`) on untrusted bytes, and `signed::verify_change` on the
//! result.
//!
//! Two readings of each input: (1) the whole input is a raw change, checked against a signed
//! proof and an origin proof; (2) the input is a postcard `(change bytes, Proof, blob bytes)`
//! triple (the seeds are real changes of a published artefact with their real proofs), so the
//! fuzzer can mutate change, proof and origin blob together. The change bytes of each reading
//! are also tried with their checksum recomputed, so that mutations get past the checksum check
//! into the header and columns. Seeds include changes claiming 2^62 operations and predecessors
//! (`signed::hostile`): decoding must refuse them, not walk them (see `-timeout` in .ci/fuzz),
//! within `fuzz_budget()`.
use allmenning_protocol::signed::hostile::fix_checksums;
use allmenning_protocol::signed::{change_header, decode_change, verify_change, Proof};
use allmenning_protocol::BlobHash;
use libfuzzer_sys::fuzz_target;

fn check(bytes: &[u8], proofs: &[Proof], blob: &[u8]) {
    let mut fixed = bytes.to_vec();
    fix_checksums(&mut fixed);
    if fixed != bytes {
        check_one(&fixed, proofs, blob);
    }
    check_one(bytes, proofs, blob);
}

fn check_one(bytes: &[u8], proofs: &[Proof], blob: &[u8]) {
    let header = change_header(bytes);
    let budget = &mut allmenning_fuzz::fuzz_budget();
    let Ok(change) = decode_change(bytes.to_vec(), budget) else {
        return;
    };
    // What the header said is what automerge decoded.
    let header = header.expect("decode_change accepted what change_header refused");
    assert_eq!(header.hash, change.hash());
    assert_eq!(&header.actor, change.actor_id());
    assert_eq!(header.deps, change.deps());
    assert_eq!(header.seq, change.seq());
    assert_eq!(header.time, change.timestamp());
    assert!(change.len() as u64 <= header.claimed_ops);
    // What the engine reads of a change before and after verifying it.
    let _ = change.hash();
    let _ = change.actor_id();
    let _ = change.deps();
    let _ = change.seq();
    let _ = change.message();
    for proof in proofs {
        let _ = verify_change(&change, proof, |_: &BlobHash| Some(blob.to_vec()));
        let _ = verify_change(&change, proof, |_: &BlobHash| None);
    }
}

fuzz_target!(|data: &[u8]| {
    let blob_hash = BlobHash::of(b"Linje 1\n");
    check(
        data,
        &[
            Proof::Signed {
                signature: vec![0; 64],
            },
            Proof::Origin {
                path: "README.md".into(),
                blob: blob_hash,
            },
        ],
        b"Linje 1\n",
    );
    if let Ok((bytes, proof, blob)) = postcard::from_bytes::<(Vec<u8>, Proof, Vec<u8>)>(data) {
        check(&bytes, &[proof], &blob);
    }
});
