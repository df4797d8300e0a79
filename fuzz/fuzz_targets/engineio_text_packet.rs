//! A WebSocket text frame: decoding never panics, and what decodes re-encodes to the same
//! bytes (the protocol has one text form per packet).
#![no_main]

use bytes::Bytes;
use engineio_proto::{Frame, Packet, Sid};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(packet) = Packet::decode_text(Bytes::copy_from_slice(data)) {
        if let Frame::Text(text) = packet.to_frame() {
            // Close, upgrade and noop drop any data after the digit.
            assert!(data.starts_with(&text) || text.as_ref() == data);
        }
    }
    let _ = Packet::decode_binary(Bytes::copy_from_slice(data));
    if let Ok(text) = std::str::from_utf8(data) {
        if let Some(sid) = Sid::parse(text) {
            assert_eq!(sid.as_str(), text);
        }
    }
});
