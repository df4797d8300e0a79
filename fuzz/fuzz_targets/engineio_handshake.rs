//! The JSON of an `open` packet, as a client decodes it.
#![no_main]

use engineio_proto::Handshake;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(handshake) = Handshake::from_json(data) {
        assert_eq!(Handshake::from_json(handshake.to_json().as_bytes()), Ok(handshake));
    }
});
