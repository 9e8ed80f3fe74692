#![no_main]
//! `Announce::decode` on untrusted bytes: never panics, and what it accepts survives a round trip.
use allmenning_protocol::wire::Announce;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(announce) = Announce::decode(data) {
        assert_eq!(Announce::decode(&announce.encode()).as_ref(), Ok(&announce));
    }
});
