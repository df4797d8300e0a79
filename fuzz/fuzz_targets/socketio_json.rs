//! A sequence of Engine.IO messages for the JSON parser (text and binary, split on 0xff):
//! the decoder never panics, and every packet it completes can be re-encoded unparsed and
//! decoded again to the same values.
#![no_main]

use engineio_proto::Message;
use libfuzzer_sys::fuzz_target;
use socketio_proto::{DecoderLimits, PacketKind, Parser};

fuzz_target!(|data: &[u8]| {
    let mut decoder = Parser::Json.decoder(DecoderLimits::default());
    for (index, chunk) in data.split(|&b| b == 0xff).enumerate() {
        let message = match std::str::from_utf8(chunk) {
            Ok(text) if index % 2 == 0 => Message::text(text),
            _ => Message::binary(chunk.to_vec()),
        };
        let Ok(Some(packet)) = decoder.decode(message) else { continue };
        let (args, reencoded) = match &packet.kind {
            PacketKind::Event { name, args, ack } => {
                (args, Parser::Json.encode_event_args(&packet.nsp, *ack, name, args))
            }
            PacketKind::Ack { id, args } => (args, Parser::Json.encode_ack_args(&packet.nsp, *id, args)),
            _ => continue,
        };
        let values = args.to_values();
        let reencoded = reencoded.expect("received arguments re-encode");
        let mut again = Parser::Json.decoder(DecoderLimits::default());
        let mut decoded = None;
        for message in reencoded.messages() {
            decoded = again.decode(message).expect("re-encoded packets decode");
        }
        let decoded = decoded.expect("complete");
        if let (Ok(values), PacketKind::Event { args, .. } | PacketKind::Ack { args, .. }) =
            (values, decoded.kind)
        {
            assert_eq!(args.to_values().expect("values"), values);
        }
    }
});
