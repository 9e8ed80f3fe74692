#![no_main]
//! `Request::decode` on untrusted bytes: never panics, and what it accepts survives a round trip.
use allmenning_protocol::wire::Request;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(request) = Request::decode(data) {
        assert_eq!(Request::decode(&request.encode()).as_ref(), Ok(&request));
    }
});
