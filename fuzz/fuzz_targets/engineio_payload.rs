//! A long-polling body: decoding never panics, stops at the first error, and what decodes
//! re-encodes and decodes to the same packets.
#![no_main]

use bytes::Bytes;
use engineio_proto::{decode_payload, encode_payload};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let results: Vec<_> = decode_payload(Bytes::copy_from_slice(data)).collect();
    if let Some(error) = results.iter().position(Result::is_err) {
        assert_eq!(error, results.len() - 1);
    }
    let packets: Vec<_> = results.into_iter().filter_map(Result::ok).collect();
    if !packets.is_empty() {
        let again: Vec<_> = decode_payload(encode_payload(&packets))
            .collect::<Result<_, _>>()
            .expect("re-encoded packets decode");
        assert_eq!(again, packets);
    }
});
