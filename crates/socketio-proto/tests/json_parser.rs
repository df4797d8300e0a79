//! The JSON parser against the examples of the Socket.IO v5 specification, and against the
//! inputs of the parser's security history (shared/security-regressions.md).

use bytes::Bytes;
use engineio_proto::Message;
use socketio_proto::{Args, DecoderLimits, Packet, PacketKind, ParseError, Parser, Value};

fn decoder() -> socketio_proto::Decoder {
    Parser::Json.decoder(DecoderLimits::default())
}

fn decode(text: &str) -> Result<Option<Packet>, ParseError> {
    decoder().decode(Message::text(text))
}

fn decode_ok(text: &str) -> Packet {
    decode(text).unwrap().unwrap()
}

fn event(packet: &Packet) -> (&str, &Args, Option<u64>) {
    match &packet.kind {
        PacketKind::Event { name, args, ack } => (name, args, *ack),
        other => panic!("not an event: {other:?}"),
    }
}

fn text_of(message: &Message) -> &str {
    match message {
        Message::Text(text) => text.as_str(),
        Message::Binary(_) => panic!("binary"),
    }
}

#[test]
fn connect_packets() {
    let packet = decode_ok("0");
    assert_eq!(packet.nsp, "/");
    assert_eq!(packet.kind, PacketKind::Connect { auth: None });
    let packet = decode_ok("0/admin,");
    assert_eq!(packet.nsp, "/admin");
    let packet = decode_ok(r#"0/admin,{"token":"123"}"#);
    let PacketKind::Connect { auth: Some(auth) } = packet.kind else {
        panic!()
    };
    assert_eq!(auth.get("token").and_then(Value::as_str), Some("123"));
    // Node reads a namespace up to a comma or the end.
    assert_eq!(decode_ok("0/random").nsp, "/random");
    assert_eq!(decode("0[]"), Err(ParseError::InvalidPayload));
    assert_eq!(decode(r#"0"x""#), Err(ParseError::InvalidPayload));
}

#[test]
fn disconnect_packets() {
    assert_eq!(decode_ok("1").kind, PacketKind::Disconnect);
    assert_eq!(decode_ok("1/admin,").nsp, "/admin");
    assert_eq!(decode("1[]"), Err(ParseError::InvalidPayload));
}

#[test]
fn event_packets() {
    let packet = decode_ok(r#"2["foo"]"#);
    let (name, args, ack) = event(&packet);
    assert_eq!((name, ack), ("foo", None));
    assert!(args.is_empty());
    let packet = decode_ok(r#"2/admin,["bar"]"#);
    assert_eq!(packet.nsp, "/admin");
    let packet = decode_ok(r#"212["foo", 1, "two", {"3": [true]}]"#);
    let (name, args, ack) = event(&packet);
    assert_eq!((name, ack), ("foo", Some(12)));
    let (one, two, three): (u8, String, serde_json::Value) = args.deserialize().unwrap();
    assert_eq!((one, two.as_str()), (1, "two"));
    assert_eq!(three, serde_json::json!({"3": [true]}));
    // Extra arguments are ignored, as in JavaScript.
    let (only,): (u8,) = args.deserialize().unwrap();
    assert_eq!(only, 1);
    assert!(args.deserialize::<(u8, u8)>().is_err());
    // Numbers are event names too.
    assert_eq!(event(&decode_ok(r#"2[42,"x"]"#)).0, "42");
    assert_eq!(event(&decode_ok(r#"2["caf\u00e9"]"#)).0, "café");
}

#[test]
fn reserved_and_odd_event_names() {
    for reserved in [
        "connect",
        "connect_error",
        "disconnect",
        "disconnecting",
        "newListener",
        "removeListener",
    ] {
        assert_eq!(
            decode(&format!(r#"2["{reserved}","x"]"#)),
            Err(ParseError::ReservedEventName),
            "{reserved}"
        );
    }
    // CVE-2024-38355: `error` and prototype names are ordinary events here.
    for name in [
        "error",
        "__proto__",
        "constructor",
        "toString",
        "hasOwnProperty",
    ] {
        assert_eq!(event(&decode_ok(&format!(r#"2["{name}",{{}}]"#))).0, name);
    }
    // CVE-2023-32695: names that are not strings or numbers.
    for bad in [
        r#"2[{"toString":"foo"}]"#,
        r#"2[true,"x"]"#,
        "2[null]",
        r#"2[["a"]]"#,
    ] {
        assert_eq!(decode(bad), Err(ParseError::InvalidEventName), "{bad}");
    }
    for bad in ["2[]", "2{}", r#"2"str""#, "2", "2abc", "2[1,]", r#"2["a""#] {
        assert_eq!(decode(bad), Err(ParseError::InvalidPayload), "{bad}");
    }
}

#[test]
fn malformed_packets_of_the_protocol_suite() {
    assert_eq!(decode("abc"), Err(ParseError::UnknownType));
    assert_eq!(decode("7"), Err(ParseError::UnknownType));
    assert_eq!(decode(""), Err(ParseError::UnknownType));
    assert_eq!(decode("2{}"), Err(ParseError::InvalidPayload));
    assert_eq!(
        decode(r#"2abc["message-with-ack",1,"2",{"3":[false]}]"#),
        Err(ParseError::InvalidPayload)
    );
}

#[test]
fn ack_ids() {
    let packet = decode_ok(r#"3/admin,13["bar"]"#);
    let PacketKind::Ack { id, args } = &packet.kind else {
        panic!()
    };
    assert_eq!(*id, 13);
    assert_eq!(args.deserialize::<(String,)>().unwrap().0, "bar");
    assert!(matches!(
        decode_ok("318446744073709551615[]").kind,
        PacketKind::Ack { id: u64::MAX, .. }
    ));
    assert_eq!(
        decode("318446744073709551616[]"),
        Err(ParseError::InvalidAckId)
    );
    // CVE-2020-36049: a million digits are refused without building them.
    let huge = format!("2{}[\"a\"]", "2".repeat(1_000_000));
    assert_eq!(decode(&huge), Err(ParseError::InvalidAckId));
    assert_eq!(
        decode("3[]"),
        Err(ParseError::InvalidAckId),
        "an ack needs an id"
    );
}

#[test]
fn long_namespaces_are_refused() {
    let long = format!("0/{}", "a".repeat(1_000_000));
    assert_eq!(decode(&long), Err(ParseError::NamespaceTooLong));
    let fits = format!("0/{},", "a".repeat(255));
    assert!(decode(&fits).is_ok());
}

#[test]
fn attachment_counts() {
    let limits = DecoderLimits {
        max_attachments: 2,
        ..DecoderLimits::default()
    };
    let mut small = Parser::Json.decoder(limits);
    // CVE-2026-33151.
    assert_eq!(
        small.decode(Message::text(r#"53-["a"]"#)),
        Err(ParseError::TooManyAttachments)
    );
    assert_eq!(
        decode(r#"5999999-["a"]"#),
        Err(ParseError::TooManyAttachments)
    );
    for bad in [
        "5",
        "51",
        r#"5a-["a"]"#,
        r#"51.23-["a"]"#,
        r#"5-1-["a"]"#,
        r#"5-["a"]"#,
    ] {
        assert_eq!(decode(bad), Err(ParseError::IllegalAttachments), "{bad}");
    }
    let digits = format!("5{}-[\"a\"]", "9".repeat(1_000_000));
    assert_eq!(decode(&digits), Err(ParseError::IllegalAttachments));
}

#[test]
fn binary_events_are_reassembled() {
    let mut decoder = decoder();
    let header = r#"52-/admin,["baz",{"_placeholder":true,"num":0},{"nested":{"_placeholder":true,"num":1}}]"#;
    assert_eq!(decoder.decode(Message::text(header)), Ok(None));
    assert!(decoder.is_waiting_for_attachments());
    assert_eq!(decoder.decode(Message::binary(vec![1, 2])), Ok(None));
    let packet = decoder
        .decode(Message::binary(vec![3, 4]))
        .unwrap()
        .unwrap();
    assert_eq!(packet.nsp, "/admin");
    let (name, args, _) = event(&packet);
    assert_eq!(name, "baz");
    assert_eq!(args.attachments().len(), 2);
    let values = args.to_values().unwrap();
    assert_eq!(values[0], Value::Binary(Bytes::from_static(&[1, 2])));
    assert_eq!(
        values[1].get("nested"),
        Some(&Value::Binary(Bytes::from_static(&[3, 4])))
    );
    #[derive(serde::Deserialize)]
    struct Nested {
        nested: Bytes,
    }
    let (first, second): (Bytes, Nested) = args.deserialize().unwrap();
    assert_eq!(
        (&first[..], &second.nested[..]),
        (&[1u8, 2][..], &[3u8, 4][..])
    );
    // A binary packet with no attachments is complete at once.
    assert!(decode(r#"50-["a"]"#).unwrap().is_some());
}

#[test]
fn binary_acks_are_reassembled() {
    let mut decoder = decoder();
    assert_eq!(
        decoder.decode(Message::text(
            r#"61-15["bar",{"_placeholder":true,"num":0}]"#
        )),
        Ok(None)
    );
    let packet = decoder.decode(Message::binary(vec![9])).unwrap().unwrap();
    let PacketKind::Ack { id, args } = &packet.kind else {
        panic!()
    };
    assert_eq!(*id, 15);
    let (text, data): (String, Bytes) = args.deserialize().unwrap();
    assert_eq!((text.as_str(), &data[..]), ("bar", &[9u8][..]));
}

// CVE-2022-2421: placeholders must name an attachment, once, by an integer index.
#[test]
fn illegal_placeholders_are_refused() {
    let cases = [
        r#"{"_placeholder":true,"num":"splice"}"#,
        r#"{"_placeholder":true,"num":-1}"#,
        r#"{"_placeholder":true,"num":0.5}"#,
        r#"{"_placeholder":true,"num":1}"#,
        r#"{"_placeholder":true}"#,
        r#"{"_placeholder":true,"num":null}"#,
    ];
    for placeholder in cases {
        let mut decoder = decoder();
        let header = format!(r#"51-["a",{placeholder}]"#);
        assert_eq!(
            decoder.decode(Message::text(&header)),
            Ok(None),
            "{placeholder}"
        );
        assert_eq!(
            decoder.decode(Message::binary(vec![1])),
            Err(ParseError::IllegalPlaceholder),
            "{placeholder}"
        );
    }
    let mut decoder = decoder();
    let twice = r#"52-["a",{"_placeholder":true,"num":0},{"_placeholder":true,"num":0}]"#;
    decoder.decode(Message::text(twice)).unwrap();
    decoder.decode(Message::binary(vec![1])).unwrap();
    assert_eq!(
        decoder.decode(Message::binary(vec![2])),
        Err(ParseError::IllegalPlaceholder)
    );
}

#[test]
fn placeholders_in_text_packets_stay_objects() {
    let packet = decode_ok(r#"2["a",{"_placeholder":true,"num":0}]"#);
    let (_, args, _) = event(&packet);
    let values = args.to_values().unwrap();
    assert!(values[0].as_object().is_some());
    assert!(args.deserialize::<(Bytes,)>().is_err());
}

#[test]
fn binary_and_text_out_of_order_are_refused() {
    assert_eq!(
        decoder().decode(Message::binary(vec![1])),
        Err(ParseError::UnexpectedBinary)
    );
    let mut decoder = decoder();
    decoder
        .decode(Message::text(r#"51-["a",{"_placeholder":true,"num":0}]"#))
        .unwrap();
    assert_eq!(
        decoder.decode(Message::text(r#"2["b"]"#)),
        Err(ParseError::UnexpectedText)
    );
}

#[test]
fn encodes_the_examples_of_the_specification() {
    let json = Parser::Json;
    let check = |encoded: socketio_proto::Encoded, expected: &str| {
        assert_eq!(text_of(encoded.first()), expected);
    };
    check(
        json.encode_connect("/", "oSO0OpakMV_3jnilAAAA", None),
        r#"0{"sid":"oSO0OpakMV_3jnilAAAA"}"#,
    );
    check(
        json.encode_connect("/admin", "oSO0OpakMV_3jnilAAAA", Some("pid")),
        r#"0/admin,{"sid":"oSO0OpakMV_3jnilAAAA","pid":"pid"}"#,
    );
    check(
        json.encode_connect_error("/random", "Invalid namespace", None),
        r#"4/random,{"message":"Invalid namespace"}"#,
    );
    check(json.encode_disconnect("/admin"), "1/admin,");
    check(json.encode_disconnect("/"), "1");
    check(
        json.encode_event("/", None, "foo", &()).unwrap(),
        r#"2["foo"]"#,
    );
    check(
        json.encode_event("/admin", None, "bar", &"x").unwrap(),
        r#"2/admin,["bar","x"]"#,
    );
    check(
        json.encode_event("/", Some(12), "foo", &(1, "a")).unwrap(),
        r#"212["foo",1,"a"]"#,
    );
    check(
        json.encode_event("/", None, "list", &vec![1, 2]).unwrap(),
        r#"2["list",[1,2]]"#,
    );
    check(
        json.encode_ack("/admin", 13, &("bar",)).unwrap(),
        r#"3/admin,13["bar"]"#,
    );
    check(json.encode_ack("/", 1, &()).unwrap(), "31[]");
    check(json.encode_ack("/", 1, &7).unwrap(), "31[7]");
}

#[test]
fn binary_arguments_become_attachments() {
    let encoded = Parser::Json
        .encode_event(
            "/admin",
            None,
            "baz",
            &(Bytes::from_static(&[1, 2]), Bytes::from_static(&[3, 4])),
        )
        .unwrap();
    assert_eq!(
        text_of(encoded.first()),
        r#"52-/admin,["baz",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]"#
    );
    assert_eq!(
        encoded.attachments(),
        &[Bytes::from_static(&[1, 2]), Bytes::from_static(&[3, 4])]
    );
    let ack = Parser::Json
        .encode_ack("/", 15, &("bar", Bytes::from_static(&[1, 2, 3, 4])))
        .unwrap();
    assert_eq!(
        text_of(ack.first()),
        r#"61-15["bar",{"_placeholder":true,"num":0}]"#
    );
    assert_eq!(ack.message_count(), 2);
}

// The fixture of the official test suite echoes arguments unchanged, binary included.
#[test]
fn received_arguments_are_sent_back_unparsed() {
    let mut decoder = decoder();
    decoder
        .decode(Message::text(
            r#"52-789["message-with-ack",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]"#,
        ))
        .unwrap();
    decoder.decode(Message::binary(vec![1, 2, 3])).unwrap();
    let packet = decoder
        .decode(Message::binary(vec![4, 5, 6]))
        .unwrap()
        .unwrap();
    let (_, args, ack) = event(&packet);
    let reply = Parser::Json
        .encode_ack_args("/", ack.unwrap(), args)
        .unwrap();
    assert_eq!(
        text_of(reply.first()),
        r#"62-789[{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]"#
    );
    assert_eq!(reply.attachments(), args.attachments());
    assert_eq!(
        reply.attachments()[0].as_ptr(),
        args.attachments()[0].as_ptr(),
        "no copy"
    );
    let back = Parser::Json
        .encode_event_args("/", None, "message-back", args)
        .unwrap();
    assert_eq!(
        text_of(back.first()),
        r#"52-["message-back",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]"#
    );
    let in_namespace = Parser::Json.encode_ack_args("/chat", 7, args).unwrap();
    assert_eq!(
        text_of(in_namespace.first()),
        r#"62-/chat,7[{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]"#
    );
    let in_namespace = Parser::Json
        .encode_event_args("/chat", Some(8), "back", &args.skip(1))
        .unwrap();
    assert_eq!(
        text_of(in_namespace.first()),
        r#"52-/chat,8["back",{"_placeholder":true,"num":1}]"#
    );
    assert_eq!(in_namespace.attachments().len(), 2);

    let packet = decode_ok(r#"2["message",1,"2",{"3":[true]}]"#);
    let (_, args, _) = event(&packet);
    let back = Parser::Json
        .encode_event_args("/", None, "message-back", args)
        .unwrap();
    assert_eq!(
        text_of(back.first()),
        r#"2["message-back",1,"2",{"3":[true]}]"#
    );
    let packet = decode_ok(r#"2["message"]"#);
    let back = Parser::Json
        .encode_event_args("/", None, "message-back", event(&packet).1)
        .unwrap();
    assert_eq!(text_of(back.first()), r#"2["message-back"]"#);
    let ack = Parser::Json
        .encode_ack_args("/", 3, event(&packet).1)
        .unwrap();
    assert_eq!(text_of(ack.first()), "33[]");
}

// Deep nesting neither overflows the stack nor is silently accepted by typed handlers:
// checking and skipping JSON is iterative, building values stops at serde_json's depth limit.
#[test]
fn deep_nesting_does_not_overflow() {
    let deep = format!("2[\"a\",{}{}]", "[".repeat(100_000), "]".repeat(100_000));
    let packet = decode(&deep).expect("valid JSON").expect("complete");
    let (_, args, _) = event(&packet);
    assert!(args.to_values().is_err());
    assert!(args.deserialize::<(serde_json::Value,)>().is_err());
}

#[test]
fn arguments_after_the_first_are_forwarded_unparsed() {
    let packet = decode_ok(r#"2["to_room","r1",{"k":1},[2]]"#);
    let (_, args, _) = event(&packet);
    assert_eq!(args.get::<String>(0).unwrap(), "r1");
    assert_eq!(
        args.get::<serde_json::Value>(2).unwrap(),
        serde_json::json!([2])
    );
    assert!(args.get::<u8>(3).is_err());
    let rest = args.skip(1);
    let out = Parser::Json
        .encode_event_args("/", None, "msg", &rest)
        .unwrap();
    assert_eq!(text_of(out.first()), r#"2["msg",{"k":1},[2]]"#);
    let none = args.skip(3);
    assert!(none.is_empty());
    let out = Parser::Json
        .encode_event_args("/", None, "msg", &none)
        .unwrap();
    assert_eq!(text_of(out.first()), r#"2["msg"]"#);
}

#[test]
fn only_events_take_a_trailing_argument() {
    let parser = Parser::Json;
    let ack = parser.encode_ack("/", 1, &("x",)).unwrap();
    assert!(parser.with_trailing_str(&ack, "1").is_err());
    let event = parser.encode_event("/", None, "tick", &(1,)).unwrap();
    let appended = parser.with_trailing_str(&event, "k-2").unwrap();
    assert_eq!(appended.first().as_bytes(), b"2[\"tick\",1,\"k-2\"]");
}

#[test]
fn a_client_connect_with_and_without_auth() {
    use socketio_proto::{Parser, Value};
    let auth: Value = serde_json::json!({"token": "t", "pid": "p"}).into();
    assert_eq!(
        Parser::Json.encode_connect_data("/", None).first(),
        &engineio_proto::Message::text("0")
    );
    assert_eq!(
        Parser::Json
            .encode_connect_data("/admin", Some(&auth))
            .first(),
        &engineio_proto::Message::text(r#"0/admin,{"pid":"p","token":"t"}"#)
    );
    // What a client sends, a server decodes.
    for parser in [Parser::Json, Parser::MsgPack] {
        let encoded = parser.encode_connect_data("/admin", Some(&auth));
        let packet = parser
            .decoder(Default::default())
            .decode(encoded.first().clone())
            .unwrap()
            .unwrap();
        assert_eq!(packet.nsp, "/admin");
        assert_eq!(
            packet.kind,
            socketio_proto::PacketKind::Connect {
                auth: Some(auth.clone())
            }
        );
        let bare = parser.encode_connect_data("/", None);
        let packet = parser
            .decoder(Default::default())
            .decode(bare.first().clone())
            .unwrap()
            .unwrap();
        assert_eq!(
            packet.kind,
            socketio_proto::PacketKind::Connect { auth: None }
        );
    }
}

#[test]
fn the_last_string_argument() {
    use socketio_proto::{PacketKind, Parser};
    let mut decoder = Parser::Json.decoder(Default::default());
    let cases = [
        (r#"2["e",1,{"a":["x"]},"off-1"]"#, Some("off-1")),
        (r#"2["e","x",2]"#, None),
        (r#"2["e"]"#, None),
        (r#"2["only"]"#, None),
        (r#"2["e","\u00e9\"q"]"#, Some("é\"q")),
    ];
    for (text, expected) in cases {
        let packet = decoder
            .decode(engineio_proto::Message::text(text))
            .unwrap()
            .unwrap();
        let PacketKind::Event { args, .. } = packet.kind else {
            panic!()
        };
        assert_eq!(args.last_str().as_deref(), expected, "{text}");
    }
    let encoded = Parser::MsgPack
        .encode_event("/", None, "e", &(1, "off-2"))
        .unwrap();
    let packet = Parser::MsgPack
        .decoder(Default::default())
        .decode(encoded.first().clone())
        .unwrap()
        .unwrap();
    let PacketKind::Event { args, .. } = packet.kind else {
        panic!()
    };
    assert_eq!(args.last_str().as_deref(), Some("off-2"));
}
