//! The msgpack parser against packets encoded by `notepack.io`, the encoder of the npm
//! `socket.io-msgpack-parser` (vectors produced with notepack.io 2.2).

use bytes::Bytes;
use engineio_proto::Message;
use socketio_proto::{Args, DecoderLimits, Packet, PacketKind, ParseError, Parser, Value};

fn hex(text: &str) -> Vec<u8> {
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
        .collect()
}

fn decode(bytes: Vec<u8>) -> Result<Option<Packet>, ParseError> {
    Parser::MsgPack
        .decoder(DecoderLimits::default())
        .decode(Message::binary(bytes))
}

fn decode_ok(bytes: Vec<u8>) -> Packet {
    decode(bytes).unwrap().unwrap()
}

fn binary_of(message: &Message) -> Bytes {
    match message {
        Message::Binary(bytes) => bytes.clone(),
        Message::Text(_) => panic!("text"),
    }
}

#[test]
fn decodes_notepack_packets() {
    // {type:2, data:["hello", 1, Buffer [1,2]], nsp:"/"}
    let packet = decode_ok(hex(
        "83a47479706502a46461746193a568656c6c6f01c4020102a36e7370a12f",
    ));
    assert_eq!(packet.nsp, "/");
    let PacketKind::Event { name, args, ack } = &packet.kind else {
        panic!()
    };
    assert_eq!((name.as_str(), *ack), ("hello", None));
    let (n, data): (u8, Bytes) = args.deserialize().unwrap();
    assert_eq!((n, &data[..]), (1, &[1u8, 2][..]));

    // {type:0, nsp:"/admin", data:{sid:"abc"}}
    let packet = decode_ok(hex(
        "83a47479706500a36e7370a62f61646d696ea46461746181a3736964a3616263",
    ));
    assert_eq!(packet.nsp, "/admin");
    let PacketKind::Connect { auth: Some(auth) } = &packet.kind else {
        panic!()
    };
    assert_eq!(auth.get("sid").and_then(Value::as_str), Some("abc"));

    // {type:3, data:[], id:5, nsp:"/"}
    let packet = decode_ok(hex("84a47479706503a46461746190a2696405a36e7370a12f"));
    let PacketKind::Ack { id, args } = &packet.kind else {
        panic!()
    };
    assert_eq!(*id, 5);
    assert!(args.is_empty());

    // {type:2, data:["x", 1.5, -3, {a:true}], nsp:"/", id:300}
    let packet = decode_ok(hex(
        "84a47479706502a46461746194a178cb3ff8000000000000fd81a161c3a36e7370a12fa26964cd012c",
    ));
    let PacketKind::Event { name, args, ack } = &packet.kind else {
        panic!()
    };
    assert_eq!((name.as_str(), *ack), ("x", Some(300)));
    let (f, i, o): (f64, i8, serde_json::Value) = args.deserialize().unwrap();
    assert_eq!((f, i, o), (1.5, -3, serde_json::json!({"a": true})));
}

#[test]
fn round_trips_what_it_encodes() {
    let encoded = Parser::MsgPack
        .encode_event(
            "/admin",
            Some(7),
            "upload",
            &("cat", Bytes::from_static(&[9, 8])),
        )
        .unwrap();
    assert_eq!(encoded.message_count(), 1, "binary travels inline");
    let packet = decode_ok(binary_of(encoded.first()).to_vec());
    assert_eq!(packet.nsp, "/admin");
    let PacketKind::Event { name, args, ack } = &packet.kind else {
        panic!()
    };
    assert_eq!((name.as_str(), *ack), ("upload", Some(7)));
    let (text, data): (String, Bytes) = args.deserialize().unwrap();
    assert_eq!((text.as_str(), &data[..]), ("cat", &[9u8, 8][..]));

    // Echo unparsed, then check the echo.
    let echo = Parser::MsgPack.encode_ack_args("/admin", 7, args).unwrap();
    let packet = decode_ok(binary_of(echo.first()).to_vec());
    let PacketKind::Ack { id, args } = &packet.kind else {
        panic!()
    };
    assert_eq!(*id, 7);
    assert_eq!(
        args.deserialize::<(String, Bytes)>().unwrap().1,
        Bytes::from_static(&[9, 8])
    );

    let renamed = Parser::MsgPack
        .encode_event_args("/", None, "back", args)
        .unwrap();
    let packet = decode_ok(binary_of(renamed.first()).to_vec());
    let PacketKind::Event { name, args, .. } = &packet.kind else {
        panic!()
    };
    assert_eq!(name, "back");
    assert_eq!(args.to_values().unwrap().len(), 2);

    for (encoded, kind) in [
        (
            Parser::MsgPack.encode_connect("/", "sid", Some("pid")),
            "connect",
        ),
        (Parser::MsgPack.encode_disconnect("/x"), "disconnect"),
        (
            Parser::MsgPack
                .encode_event("/", None, "unit", &())
                .unwrap(),
            "event",
        ),
        (
            Parser::MsgPack.encode_ack("/", 1, &vec![1, 2]).unwrap(),
            "ack",
        ),
    ] {
        assert!(
            decode(binary_of(encoded.first()).to_vec()).is_ok(),
            "{kind}"
        );
    }
    let refusal = Parser::MsgPack.encode_connect_error("/", "nope", Some(&Value::from(3u64)));
    let packet = decode_ok(binary_of(refusal.first()).to_vec());
    let PacketKind::ConnectError { data } = packet.kind else {
        panic!()
    };
    assert_eq!(data.get("message").and_then(Value::as_str), Some("nope"));
}

#[test]
fn refuses_malformed_packets() {
    assert_eq!(
        Parser::MsgPack
            .decoder(DecoderLimits::default())
            .decode(Message::text("2[\"a\"]")),
        Err(ParseError::InvalidMsgPack)
    );
    let cases: [(&str, ParseError); 7] = [
        ("", ParseError::InvalidMsgPack),
        ("93010203", ParseError::InvalidMsgPack), // not a map
        ("82a47479706509a36e7370a12f", ParseError::UnknownType), // type 9
        ("82a47479706505a36e7370a12f", ParseError::UnknownType), // binary types are JSON-only
        ("81a47479706502", ParseError::InvalidMsgPack), // no nsp
        (
            "83a47479706502a36e7370a12fa46461746190",
            ParseError::InvalidPayload,
        ), // empty event
        (
            "83a47479706502a36e7370a12fa46461746191a7636f6e6e656374",
            ParseError::ReservedEventName,
        ),
    ];
    for (bytes, error) in cases {
        assert_eq!(decode(hex(bytes)), Err(error), "{bytes}");
    }
    // Trailing bytes, as notepack refuses them.
    let mut trailing = hex("82a47479706501a36e7370a12f");
    trailing.push(0);
    assert_eq!(decode(trailing), Err(ParseError::InvalidMsgPack));
    // A negative ack id.
    assert_eq!(
        decode(hex("84a47479706503a46461746190a26964ff a36e7370a12f"
            .replace(' ', "")
            .as_str())),
        Err(ParseError::InvalidAckId)
    );
    // A map that claims 2^32-1 entries.
    assert_eq!(decode(hex("dfffffffff")), Err(ParseError::InvalidMsgPack));
}

#[test]
fn values_convert_between_parsers() {
    let args = Args::from_values(vec![
        Value::from("a"),
        Value::Binary(Bytes::from_static(&[1])),
    ]);
    let json = Parser::Json
        .encode_event_args("/", None, "e", &args)
        .unwrap();
    assert_eq!(json.attachments().len(), 1);
    let msgpack = Parser::MsgPack
        .encode_event_args("/", None, "e", &args)
        .unwrap();
    let packet = decode_ok(binary_of(msgpack.first()).to_vec());
    let PacketKind::Event { args, .. } = packet.kind else {
        panic!()
    };
    assert_eq!(
        args.to_values().unwrap()[1],
        Value::Binary(Bytes::from_static(&[1]))
    );
}

// notepack.io's extensions: browsers send ArrayBuffers as ext type 0; `undefined` is
// fixext 1 of type 0 (also for absent fields); a Date is fixext 8 of type 0.
#[test]
fn decodes_notepack_extensions() {
    // {type:2, data:["x", ArrayBuffer [5,6], undefined, Date(1700000000000)], nsp:"/", id:undefined}
    let packet = decode_ok(hex(
        "84a47479706502a46461746194a178c702000506d40000d7000000018bcfe56800a36e7370a12fa26964d40000",
    ));
    let PacketKind::Event { name, args, ack } = &packet.kind else {
        panic!()
    };
    assert_eq!((name.as_str(), *ack), ("x", None));
    let values = args.to_values().unwrap();
    assert_eq!(values[0], Value::Binary(Bytes::from_static(&[5, 6])));
    assert_eq!(values[1], Value::Null);
    assert_eq!(values[2], Value::from(1_700_000_000_000u64));
    let (data, nothing): (Bytes, Option<u8>) = args.deserialize().unwrap();
    assert_eq!((&data[..], nothing), (&[5u8, 6][..], None));

    // {type:0, nsp:"/", data:undefined}: a join without auth.
    let packet = decode_ok(hex("83a47479706500a36e7370a12fa464617461d40000"));
    assert_eq!(packet.kind, PacketKind::Connect { auth: None });
}

#[test]
fn arguments_after_the_first_are_forwarded_unparsed() {
    let encoded = Parser::MsgPack
        .encode_event(
            "/",
            None,
            "to_room",
            &("r1", Bytes::from_static(&[1, 2]), 3),
        )
        .unwrap();
    let packet = decode_ok(binary_of(encoded.first()).to_vec());
    let PacketKind::Event { args, .. } = &packet.kind else {
        panic!()
    };
    assert_eq!(args.get::<String>(0).unwrap(), "r1");
    let rest = args.skip(1);
    let (data, n): (Bytes, u8) = rest.deserialize().unwrap();
    assert_eq!((&data[..], n), (&[1u8, 2][..], 3));
    let out = Parser::MsgPack
        .encode_event_args("/", None, "msg", &rest)
        .unwrap();
    let packet = decode_ok(binary_of(out.first()).to_vec());
    let PacketKind::Event { name, args, .. } = &packet.kind else {
        panic!()
    };
    assert_eq!(name, "msg");
    assert_eq!(args.to_values().unwrap().len(), 2);
}
