//! Property tests: what an encoder writes, its decoder reads back; decoders take any input
//! without panicking.

use bytes::Bytes;
use engineio_proto::Message;
use proptest::prelude::*;
use socketio_proto::{DecoderLimits, Map, PacketKind, Parser, Value};

fn value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        (-1e9f64..1e9).prop_map(Value::from),
        ".{0,12}".prop_map(Value::String),
        proptest::collection::vec(any::<u8>(), 0..16).prop_map(|b| Value::Binary(Bytes::from(b))),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            proptest::collection::vec(("[a-z_]{1,6}", inner), 0..4)
                .prop_map(|entries| Value::Object(entries.into_iter().collect::<Map>())),
        ]
    })
}

fn parser() -> impl Strategy<Value = Parser> {
    prop_oneof![Just(Parser::Json), Just(Parser::MsgPack)]
}

fn decode_all(parser: Parser, encoded: &socketio_proto::Encoded) -> socketio_proto::Packet {
    let mut decoder = parser.decoder(DecoderLimits {
        max_attachments: 1000,
        ..DecoderLimits::default()
    });
    let mut packet = None;
    for message in encoded.messages() {
        packet = decoder.decode(message).expect("decodes");
    }
    packet.expect("complete")
}

/// Numbers may come back as another integer width or as a float; compare through JSON text.
fn normalised(values: &[Value]) -> String {
    fn strip(value: &Value) -> serde_json::Value {
        match value {
            Value::Binary(b) => serde_json::json!({ "binary": b.to_vec() }),
            Value::Array(items) => items.iter().map(strip).collect(),
            Value::Object(map) => map.iter().map(|(k, v)| (k.clone(), strip(v))).collect(),
            Value::Number(n) => serde_json::json!(n.as_f64()),
            other => serde_json::to_value(other).unwrap(),
        }
    }
    serde_json::to_string(&values.iter().map(strip).collect::<Vec<_>>()).unwrap()
}

proptest! {
    #[test]
    fn events_round_trip(
        parser in parser(),
        nsp in prop_oneof![Just("/".to_owned()), "/[a-z]{1,8}"],
        name in "[a-zA-Z0-9 _-]{1,10}".prop_filter("not reserved", |n| !socketio_proto::is_reserved_event(n)),
        ack in proptest::option::of(any::<u64>()),
        args in proptest::collection::vec(value(), 0..4),
    ) {
        let encoded = parser
            .encode_event_args(&nsp, ack, &name, &socketio_proto::Args::from_values(args.clone()))
            .unwrap();
        let packet = decode_all(parser, &encoded);
        prop_assert_eq!(packet.nsp.as_ref(), nsp.as_str());
        let PacketKind::Event { name: got, args: got_args, ack: got_ack } = packet.kind else {
            panic!("not an event")
        };
        prop_assert_eq!(got, name);
        prop_assert_eq!(got_ack, ack);
        prop_assert_eq!(normalised(&got_args.to_values().unwrap()), normalised(&args));
        // And once more, unparsed.
        let again = parser.encode_ack_args(&nsp, 1, &got_args).unwrap();
        let PacketKind::Ack { args: echoed, .. } = decode_all(parser, &again).kind else {
            panic!("not an ack")
        };
        prop_assert_eq!(normalised(&echoed.to_values().unwrap()), normalised(&args));
    }

    #[test]
    fn a_trailing_string_is_one_more_last_argument(
        parser in parser(),
        nsp in prop_oneof![Just("/".to_owned()), "/[a-z]{1,8}"],
        ack in proptest::option::of(any::<u64>()),
        // Up to 20 arguments: the msgpack array header grows past 15 elements.
        args in proptest::collection::vec(value(), 0..20),
        last in ".{0,12}",
    ) {
        let encoded = parser
            .encode_event_args(&nsp, ack, "e", &socketio_proto::Args::from_values(args.clone()))
            .unwrap();
        let appended = parser.with_trailing_str(&encoded, &last).unwrap();
        let packet = decode_all(parser, &appended);
        prop_assert_eq!(packet.nsp.as_ref(), nsp.as_str());
        let PacketKind::Event { name, args: got, ack: got_ack } = packet.kind else {
            panic!("not an event")
        };
        prop_assert_eq!(name, "e");
        prop_assert_eq!(got_ack, ack);
        let mut expected = args;
        expected.push(Value::String(last));
        prop_assert_eq!(normalised(&got.to_values().unwrap()), normalised(&expected));
    }

    #[test]
    fn json_decoding_never_panics(text in ".{0,64}") {
        let mut decoder = Parser::Json.decoder(DecoderLimits::default());
        let _ = decoder.decode(Message::text(&text));
        let _ = decoder.decode(Message::binary(vec![1]));
    }

    #[test]
    fn json_decoding_of_near_valid_packets_never_panics(
        parts in proptest::collection::vec(prop_oneof![
            Just("2".to_owned()), Just("5".to_owned()), Just("6".to_owned()), Just("-".to_owned()),
            Just("/a,".to_owned()), Just("[".to_owned()), Just("]".to_owned()), Just(",".to_owned()),
            Just("\"x\"".to_owned()), Just("{\"_placeholder\":true,\"num\":0}".to_owned()),
            Just("1".to_owned()), Just("{".to_owned()), Just("}".to_owned()),
        ], 0..16),
        attachments in 0usize..3,
    ) {
        let mut decoder = Parser::Json.decoder(DecoderLimits::default());
        let _ = decoder.decode(Message::text(&parts.concat()));
        for _ in 0..attachments {
            if let Ok(Some(packet)) = decoder.decode(Message::binary(vec![7]))
                && let PacketKind::Event { args, .. } | PacketKind::Ack { args, .. } = packet.kind
            {
                let _ = args.to_values();
            }
        }
    }

    #[test]
    fn msgpack_decoding_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
        let mut decoder = Parser::MsgPack.decoder(DecoderLimits::default());
        if let Ok(Some(packet)) = decoder.decode(Message::binary(bytes))
            && let PacketKind::Event { args, .. } | PacketKind::Ack { args, .. } = packet.kind
        {
            let _ = args.to_values();
            let _ = Parser::MsgPack.encode_ack_args("/", 1, &args);
        }
    }
}
