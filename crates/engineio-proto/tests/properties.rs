//! Property tests: every encoder round-trips through its decoder, and every decoder takes
//! any input without panicking.

use bytes::Bytes;
use engineio_proto::{
    DecodeError, Frame, Message, Packet, Session, SessionConfig, Sid, Timestamp, TransportKind,
    decode_payload, encode_payload,
};
use proptest::prelude::*;

/// Text without the record separator, which the protocol assumes never appears in text.
fn payload_text() -> impl Strategy<Value = String> {
    any::<String>().prop_map(|s| s.replace('\u{1e}', ""))
}

fn packet() -> impl Strategy<Value = Packet> {
    prop_oneof![
        payload_text().prop_map(|s| Packet::Open(Bytes::from(s))),
        Just(Packet::Close),
        payload_text().prop_map(|s| Packet::Ping(Bytes::from(s))),
        payload_text().prop_map(|s| Packet::Pong(Bytes::from(s))),
        payload_text().prop_map(|s| Packet::Message(Message::text(&s))),
        proptest::collection::vec(any::<u8>(), 0..64)
            .prop_map(|data| Packet::Message(Message::binary(data))),
        Just(Packet::Upgrade),
        Just(Packet::Noop),
    ]
}

proptest! {
    #[test]
    fn websocket_frames_round_trip(packet in packet()) {
        let decoded = match packet.to_frame() {
            Frame::Text(text) => Packet::decode_text(text).unwrap(),
            Frame::Binary(data) => Packet::decode_binary(data),
        };
        prop_assert_eq!(decoded, packet);
    }

    #[test]
    fn payloads_round_trip(packets in proptest::collection::vec(packet(), 1..8)) {
        let body = encode_payload(&packets);
        let decoded: Result<Vec<_>, DecodeError> = decode_payload(body).collect();
        prop_assert_eq!(decoded.unwrap(), packets);
    }

    #[test]
    fn text_decoding_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
        let _ = Packet::decode_text(Bytes::from(bytes));
    }

    #[test]
    fn payload_decoding_never_panics_and_stops_at_an_error(
        bytes in proptest::collection::vec(any::<u8>(), 0..256)
    ) {
        let results: Vec<_> = decode_payload(Bytes::from(bytes)).collect();
        if let Some(first_error) = results.iter().position(Result::is_err) {
            prop_assert_eq!(first_error, results.len() - 1);
        }
    }

    #[test]
    fn payload_decoding_of_near_valid_input_never_panics(
        parts in proptest::collection::vec(
            prop_oneof![
                Just("4".to_owned()), Just("b".to_owned()), Just("\u{1e}".to_owned()),
                Just("2probe".to_owned()), Just("=".to_owned()), "[A-Za-z0-9+/]{0,6}",
            ],
            0..24,
        )
    ) {
        let _: Vec<_> = decode_payload(Bytes::from(parts.concat())).collect();
    }

    /// Whatever the client sends and whenever, the session never panics, closes at most
    /// once, and never asks for a timeout in the past of its last input.
    #[test]
    fn the_session_survives_any_sequence_of_inputs(
        inputs in proptest::collection::vec((0u8..10, packet(), 0u64..400), 0..40)
    ) {
        let mut now = Timestamp::ZERO;
        let config = SessionConfig {
            ping_interval: std::time::Duration::from_millis(300),
            ping_timeout: std::time::Duration::from_millis(200),
            ..SessionConfig::default()
        };
        let mut session = Session::new(Sid::from_random([3; 15]), config, TransportKind::Polling, now);
        let mut closes = 0;
        for (action, packet, advance) in inputs {
            now = now + std::time::Duration::from_millis(advance);
            match action {
                0 => { let _ = session.handle_poll(now); }
                1 => session.handle_poll_aborted(now),
                2 => session.handle_packet(now, packet),
                3 => { let _ = session.handle_probe_opened(now); }
                4 => session.handle_probe_packet(now, packet),
                5 => session.handle_probe_closed(now),
                6 => { let _ = session.send(Message::text("x")); }
                7 => session.close(now),
                8 => session.handle_transport_error(now),
                _ => {
                    session.handle_timeout(now);
                    prop_assert!(session.poll_timeout().is_none_or(|deadline| deadline > now));
                }
            }
            while session.poll_transmit().is_some() {}
            while let Some(event) = session.poll_event() {
                if matches!(event, engineio_proto::Event::Closed(_)) {
                    closes += 1;
                }
            }
        }
        prop_assert!(closes <= 1);
        prop_assert_eq!(closes == 1, session.is_closed());
    }
}

proptest! {
    #[test]
    fn handshakes_round_trip(
        sid in "[A-Za-z0-9_-]{20}",
        upgrades in proptest::collection::vec("[a-z]{1,10}", 0..3),
        ping_interval in any::<u32>(),
        ping_timeout in any::<u32>(),
        max_payload in any::<u64>(),
    ) {
        let handshake = engineio_proto::Handshake {
            sid, upgrades,
            ping_interval: u64::from(ping_interval),
            ping_timeout: u64::from(ping_timeout),
            max_payload,
        };
        prop_assert_eq!(engineio_proto::Handshake::from_json(handshake.to_json().as_bytes()), Ok(handshake));
    }

    #[test]
    fn handshake_decoding_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..128)) {
        let _ = engineio_proto::Handshake::from_json(&bytes);
    }

    #[test]
    fn session_ids_round_trip(random in any::<[u8; 15]>(), text in ".{0,24}") {
        let sid = Sid::from_random(random);
        prop_assert_eq!(Sid::parse(sid.as_str()), Some(sid));
        if let Some(parsed) = Sid::parse(&text) {
            prop_assert_eq!(parsed.as_str(), text.as_str());
        }
    }
}

mod websocket_frames {
    use engineio_proto::websocket::{FrameDecoder, TextBytes, WsError, WsMessage};
    use proptest::prelude::*;

    /// A message a client might send, as (opcode, payload).
    fn message() -> impl Strategy<Value = (u8, Vec<u8>)> {
        prop_oneof![
            any::<String>().prop_map(|s| (1, s.into_bytes())),
            proptest::collection::vec(any::<u8>(), 0..300).prop_map(|b| (2, b)),
            proptest::collection::vec(any::<u8>(), 0..126).prop_map(|b| (9, b)),
        ]
    }

    /// Encodes `payload` as a client would: masked with `mask`, split at the given points
    /// into fragments (control frames are never split).
    fn encode(opcode: u8, payload: &[u8], mask: [u8; 4], splits: &[usize]) -> Vec<u8> {
        let mut cuts: Vec<usize> = if opcode == 9 {
            Vec::new()
        } else {
            splits.iter().map(|s| s % (payload.len() + 1)).collect()
        };
        cuts.sort_unstable();
        cuts.dedup();
        let mut bounds = vec![0];
        bounds.extend(cuts);
        bounds.push(payload.len());
        let mut out = Vec::new();
        let pieces = bounds.len() - 1;
        for (i, window) in bounds.windows(2).enumerate() {
            let piece = &payload[window[0]..window[1]];
            let fin = if i + 1 == pieces { 0x80 } else { 0 };
            let op = if i == 0 { opcode } else { 0 };
            out.push(fin | op);
            match piece.len() {
                len if len < 126 => out.push(0x80 | len as u8),
                len => {
                    out.push(0x80 | 126);
                    out.extend_from_slice(&(len as u16).to_be_bytes());
                }
            }
            out.extend_from_slice(&mask);
            out.extend(piece.iter().zip(mask.iter().cycle()).map(|(b, m)| b ^ m));
        }
        out
    }

    fn decode_in_chunks(input: &[u8], chunk: usize) -> Result<Vec<WsMessage>, WsError> {
        let mut decoder = FrameDecoder::new(1 << 16);
        let mut out = Vec::new();
        for piece in input.chunks(chunk.max(1)) {
            let mut piece = piece;
            while let Some(message) = decoder.decode(&mut piece)? {
                out.push(message);
            }
        }
        Ok(out)
    }

    proptest! {
        #[test]
        fn messages_survive_any_masking_fragmenting_and_chunking(
            messages in proptest::collection::vec(
                (message(), any::<[u8; 4]>(), proptest::collection::vec(any::<usize>(), 0..4)),
                1..6,
            ),
            chunk in 1usize..64,
        ) {
            let mut stream = Vec::new();
            let mut expected = Vec::new();
            for ((opcode, payload), mask, splits) in &messages {
                stream.extend(encode(*opcode, payload, *mask, splits));
                expected.push(match opcode {
                    1 => WsMessage::Text(TextBytes::new(payload.clone().into()).unwrap()),
                    2 => WsMessage::Binary(payload.clone().into()),
                    _ => WsMessage::Ping(payload.clone().into()),
                });
            }
            prop_assert_eq!(decode_in_chunks(&stream, chunk)?, expected.clone());
            prop_assert_eq!(decode_in_chunks(&stream, stream.len())?, expected);
        }

        #[test]
        fn any_bytes_decode_the_same_whole_or_in_pieces(
            bytes in proptest::collection::vec(any::<u8>(), 0..512),
            chunk in 1usize..16,
        ) {
            prop_assert_eq!(
                decode_in_chunks(&bytes, chunk),
                decode_in_chunks(&bytes, bytes.len())
            );
        }
    }
}
