#![no_main]
//! `SignedStatement::decode` on untrusted bytes, then what the trust code does with a decoded
//! statement before trusting it (id, signature check). Accepted input survives a round trip.
use allmenning_protocol::trust::SignedStatement;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(statement) = SignedStatement::decode(data) {
        let _ = statement.id();
        let _ = statement.verify_signature();
        let _ = statement.body.kind_name();
        let _ = statement.body.artefact();
        let again = SignedStatement::decode(&statement.encode());
        assert_eq!(again.ok().as_ref(), Some(&statement));
    }
});
