#![no_main]
//! `signed::decode_change` (the engine's decoder of peer change bytes: a structural pre-check,
//! then Automerge's `Change::from_bytes`) on untrusted bytes, and `signed::verify_change` on the
//! result.
//!
//! Two readings of each input: (1) the whole input is a raw change, checked against a signed
//! proof and an origin proof; (2) the input is a postcard `(change bytes, Proof, blob bytes)`
//! triple (the seeds are real changes of a published artefact with their real proofs), so the
//! fuzzer can mutate change, proof and origin blob together.
use allmenning_protocol::signed::{decode_change, verify_change, Proof};
use allmenning_protocol::BlobHash;
use libfuzzer_sys::fuzz_target;

fn check(bytes: &[u8], proofs: &[Proof], blob: &[u8]) {
    let Ok(change) = decode_change(bytes.to_vec(), &mut allmenning_protocol::signed::DecodeBudget::per_message()) else {
        return;
    };
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
