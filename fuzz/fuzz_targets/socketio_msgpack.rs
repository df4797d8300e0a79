//! A binary message for the msgpack parser: the decoder never panics, and what it decodes
//! re-encodes unparsed to a packet that decodes again.
#![no_main]

use engineio_proto::Message;
use libfuzzer_sys::fuzz_target;
use socketio_proto::{DecoderLimits, PacketKind, Parser};

fuzz_target!(|data: &[u8]| {
    let mut decoder = Parser::MsgPack.decoder(DecoderLimits::default());
    let Ok(Some(packet)) = decoder.decode(Message::binary(data.to_vec())) else { return };
    let reencoded = match &packet.kind {
        PacketKind::Event { name, args, ack } => {
            let _ = args.to_values();
            Parser::MsgPack.encode_event_args(&packet.nsp, *ack, name, args)
        }
        PacketKind::Ack { id, args } => Parser::MsgPack.encode_ack_args(&packet.nsp, *id, args),
        _ => return,
    };
    let reencoded = reencoded.expect("received arguments re-encode");
    let mut again = Parser::MsgPack.decoder(DecoderLimits::default());
    for message in reencoded.messages() {
        again.decode(message).expect("re-encoded packets decode");
    }
});
