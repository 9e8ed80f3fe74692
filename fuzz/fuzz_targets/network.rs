#![no_main]
//! `Network::decode` on untrusted bytes (a network file handed over out of band), then `verify`
//! and `fingerprint`. Accepted input survives a round trip.
use allmenning_protocol::trust::Network;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(network) = Network::decode(data) {
        let _ = network.verify();
        let _ = network.fingerprint();
        if let Some(root) = network.roots.first() {
            let _ = network.is_root(&root.key);
        }
        let again = Network::decode(&network.encode());
        assert_eq!(again.ok().as_ref(), Some(&network));
    }
});
