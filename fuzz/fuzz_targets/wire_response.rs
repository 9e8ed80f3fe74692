#![no_main]
//! `Response::decode` on untrusted bytes: never panics, and what it accepts survives a round trip.
use allmenning_protocol::wire::Response;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(request) = Response::decode(data) {
        assert_eq!(Response::decode(&request.encode()).as_ref(), Ok(&request));
    }
});
