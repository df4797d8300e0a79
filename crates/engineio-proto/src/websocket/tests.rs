use super::*;

/// A client frame: `fin`, `opcode` bits, payload, masked with a fixed key when `masked`.
fn frame(fin: bool, opcode: u8, payload: &[u8], masked: bool) -> Vec<u8> {
    let mut out = vec![(if fin { 0x80 } else { 0 }) | opcode];
    let mask_bit = if masked { 0x80 } else { 0 };
    match payload.len() {
        len if len < 126 => out.push(mask_bit | len as u8),
        len if len <= 0xffff => {
            out.push(mask_bit | 126);
            out.extend_from_slice(&(len as u16).to_be_bytes());
        }
        len => {
            out.push(mask_bit | 127);
            out.extend_from_slice(&(len as u64).to_be_bytes());
        }
    }
    if masked {
        let mask = [0x37, 0xfa, 0x21, 0x3d];
        out.extend_from_slice(&mask);
        out.extend(payload.iter().zip(mask.iter().cycle()).map(|(b, m)| b ^ m));
    } else {
        out.extend_from_slice(payload);
    }
    out
}

fn text(payload: &[u8]) -> Vec<u8> {
    frame(true, 1, payload, true)
}

/// Decodes everything in `input`, collecting the messages, stopping at an error.
fn decode_all(decoder: &mut FrameDecoder, input: &[u8]) -> Result<Vec<WsMessage>, WsError> {
    let mut input = input;
    let mut out = Vec::new();
    while let Some(message) = decoder.decode(&mut input)? {
        out.push(message);
    }
    assert!(input.is_empty(), "a None leaves nothing unread");
    Ok(out)
}

fn one(input: &[u8]) -> Result<Vec<WsMessage>, WsError> {
    decode_all(&mut FrameDecoder::new(1000), input)
}

#[test]
fn a_masked_text_frame() {
    assert_eq!(
        one(&text(b"4hello")),
        Ok(vec![WsMessage::Text("4hello".into())])
    );
}

#[test]
fn lengths_of_all_three_sizes() {
    for len in [0, 1, 7, 8, 9, 125, 126, 127, 65535, 65536, 70000] {
        let payload: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
        let mut decoder = FrameDecoder::new(1 << 20);
        assert_eq!(
            decode_all(&mut decoder, &frame(true, 2, &payload, true)),
            Ok(vec![WsMessage::Binary(payload.into())]),
            "length {len}"
        );
    }
}

#[test]
fn bytes_one_at_a_time() {
    let mut stream = text(b"4drip-fed");
    stream.extend(frame(true, 2, &[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11], true));
    let mut decoder = FrameDecoder::new(1000);
    let mut messages = Vec::new();
    for byte in &stream {
        let mut input = std::slice::from_ref(byte);
        if let Some(message) = decoder.decode(&mut input).unwrap() {
            messages.push(message);
        }
        assert!(input.is_empty());
    }
    assert_eq!(
        messages,
        vec![
            WsMessage::Text("4drip-fed".into()),
            WsMessage::Binary(vec![1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11].into()),
        ]
    );
    assert!(!decoder.is_mid_message());
}

#[test]
fn several_frames_in_one_read() {
    let mut stream = text(b"4a");
    stream.extend(text(b"4b"));
    stream.extend(frame(true, 9, b"p", true));
    assert_eq!(
        one(&stream),
        Ok(vec![
            WsMessage::Text("4a".into()),
            WsMessage::Text("4b".into()),
            WsMessage::Ping("p".into()),
        ])
    );
}

#[test]
fn fragments_with_a_ping_between_them() {
    let mut stream = frame(false, 1, b"4hel", true);
    stream.extend(frame(true, 9, b"x", true));
    stream.extend(frame(false, 0, b"", true));
    stream.extend(frame(true, 0, b"lo", true));
    assert_eq!(
        one(&stream),
        Ok(vec![
            WsMessage::Ping("x".into()),
            WsMessage::Text("4hello".into()),
        ])
    );
}

#[test]
fn utf8_split_across_fragments_is_valid() {
    let word = "4héllo".as_bytes();
    let mut stream = frame(false, 1, &word[..2], true);
    stream.extend(frame(true, 0, &word[2..], true));
    assert_eq!(one(&stream), Ok(vec![WsMessage::Text("4héllo".into())]));
}

#[test]
fn invalid_utf8_is_1007() {
    let error = one(&text(b"4\xff\xfe")).unwrap_err();
    assert_eq!(error, WsError::InvalidUtf8);
    assert_eq!(error.code(), 1007);
}

#[test]
fn a_huge_length_is_refused_before_its_payload() {
    let mut header = vec![0x82, 0x80 | 127];
    header.extend_from_slice(&(1u64 << 62).to_be_bytes());
    header.extend_from_slice(&[1, 2, 3, 4]);
    let error = one(&header).unwrap_err();
    assert_eq!(
        error,
        WsError::TooLong {
            len: 1 << 62,
            max: 1000
        }
    );
    assert_eq!(error.code(), 1009);
}

#[test]
fn the_limit_is_inclusive_and_counts_all_fragments() {
    assert!(one(&frame(true, 2, &[0; 1000], true)).is_ok());
    assert_eq!(
        one(&frame(true, 2, &[0; 1001], true)),
        Err(WsError::TooLong {
            len: 1001,
            max: 1000
        })
    );
    let mut stream = frame(false, 1, &[b'4'; 600], true);
    stream.extend(frame(true, 0, &[b'4'; 600], true));
    assert_eq!(
        one(&stream),
        Err(WsError::TooLong {
            len: 1200,
            max: 1000
        })
    );
}

#[test]
fn too_many_empty_fragments() {
    let mut stream = frame(false, 2, b"", true);
    for _ in 0..MAX_FRAGMENTS {
        stream.extend(frame(false, 0, b"", true));
    }
    let error = one(&stream).unwrap_err();
    assert_eq!(error, WsError::TooManyFragments);
    assert_eq!(error.code(), 1009);
}

#[test]
fn protocol_errors_are_1002() {
    let cases: [(&str, Vec<u8>, WsError); 9] = [
        ("ascii text", b"test".to_vec(), WsError::ReservedBits),
        ("unmasked", frame(true, 1, b"4hi", false), WsError::Unmasked),
        (
            "opcode 3",
            frame(true, 3, b"x", true),
            WsError::UnknownOpcode(3),
        ),
        (
            "fragmented ping",
            frame(false, 9, b"x", true),
            WsError::BadControlFrame,
        ),
        (
            "long ping",
            frame(true, 9, &[0; 126], true),
            WsError::BadControlFrame,
        ),
        (
            "lone continuation",
            frame(true, 0, b"x", true),
            WsError::BadContinuation,
        ),
        (
            "new message mid-message",
            [frame(false, 1, b"4", true), frame(true, 1, b"4", true)].concat(),
            WsError::BadContinuation,
        ),
        (
            "16-bit length under 126",
            vec![0x81, 0x80 | 126, 0, 5, 0, 0, 0, 0],
            WsError::BadLength,
        ),
        (
            "one-byte close",
            frame(true, 8, &[3], true),
            WsError::BadClose,
        ),
    ];
    for (name, input, expected) in cases {
        let error = one(&input).unwrap_err();
        assert_eq!(error, expected, "{name}");
        assert_eq!(error.code(), 1002, "{name}");
    }
}

#[test]
fn bad_first_bytes_are_reported_before_the_rest_of_the_header() {
    // Unmasked, with a 64-bit length still to come: the error needs only two bytes.
    assert_eq!(one(&[0x82, 127]), Err(WsError::Unmasked));
    assert_eq!(one(&[0xf2, 0x80 | 127]), Err(WsError::ReservedBits));
    // A good start waits for the rest.
    assert_eq!(one(&[0x82, 0x80 | 127, 0, 0]), Ok(vec![]));
}

#[test]
fn errors_stick() {
    let mut decoder = FrameDecoder::new(1000);
    assert!(decode_all(&mut decoder, b"test").is_err());
    assert_eq!(
        decode_all(&mut decoder, &text(b"4fine")),
        Err(WsError::ReservedBits)
    );
}

#[test]
fn close_frames() {
    assert_eq!(
        one(&frame(true, 8, b"", true)),
        Ok(vec![WsMessage::Close(None)])
    );
    let mut normal = 1000u16.to_be_bytes().to_vec();
    normal.extend_from_slice(b"bye");
    assert_eq!(
        one(&frame(true, 8, &normal, true)),
        Ok(vec![WsMessage::Close(Some(1000))])
    );
    for code in [1012u16, 1013, 1014, 3000, 4999] {
        assert_eq!(
            one(&frame(true, 8, &code.to_be_bytes(), true)),
            Ok(vec![WsMessage::Close(Some(code))]),
            "code {code}"
        );
    }
    for code in [0u16, 999, 1004, 1005, 1006, 1015, 2999, 5000] {
        assert_eq!(
            one(&frame(true, 8, &code.to_be_bytes(), true)),
            Err(WsError::BadClose),
            "code {code}"
        );
    }
    let mut bad_reason = 1000u16.to_be_bytes().to_vec();
    bad_reason.push(0xff);
    assert_eq!(
        one(&frame(true, 8, &bad_reason, true)),
        Err(WsError::InvalidUtf8)
    );
}

#[test]
fn pongs_and_pings() {
    assert_eq!(
        one(&frame(true, 9, b"abc\x00\xff", true)),
        Ok(vec![WsMessage::Ping(b"abc\x00\xff".to_vec().into())])
    );
    assert_eq!(
        one(&frame(true, 10, b"zz", true)),
        Ok(vec![WsMessage::Pong])
    );
}

#[test]
fn is_mid_message_sees_partial_state() {
    let mut decoder = FrameDecoder::new(1000);
    assert!(!decoder.is_mid_message());
    let stream = text(b"4hello");
    decode_all(&mut decoder, &stream[..1]).unwrap();
    assert!(decoder.is_mid_message());
    decode_all(&mut decoder, &stream[1..]).unwrap();
    assert!(!decoder.is_mid_message());
    decode_all(&mut decoder, &frame(false, 1, b"4", true)).unwrap();
    assert!(decoder.is_mid_message());
}

#[test]
fn headers_for_every_length_class() {
    assert_eq!(
        encode_header(Opcode::Text, 5),
        ([0x81, 5, 0, 0, 0, 0, 0, 0, 0, 0], 2)
    );
    let (header, len) = encode_header(Opcode::Binary, 300);
    assert_eq!(&header[..len], &[0x82, 126, 1, 44]);
    let (header, len) = encode_header(Opcode::Close, 70000);
    assert_eq!(&header[..len], &[0x88, 127, 0, 0, 0, 0, 0, 1, 0x11, 0x70]);
    assert_eq!(&close_payload(1009)[..], &[0x03, 0xf1]);
}

#[test]
fn a_client_decodes_unmasked_server_frames_and_refuses_masked_ones() {
    let mut decoder = FrameDecoder::client(1 << 20);
    for len in [0, 5, 125, 126, 65535, 65536] {
        let payload: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
        let (header, n) = encode_header(Opcode::Binary, len);
        let mut stream = header[..n].to_vec();
        stream.extend_from_slice(&payload);
        assert_eq!(
            decode_all(&mut decoder, &stream),
            Ok(vec![WsMessage::Binary(payload.into())])
        );
    }
    assert_eq!(
        decode_all(&mut FrameDecoder::client(1000), &text(b"4hi")),
        Err(WsError::Masked)
    );
    assert_eq!(one(&frame(true, 1, b"4hi", false)), Err(WsError::Unmasked));
}

#[test]
fn client_frames_are_masked_and_read_back_by_a_server() {
    for len in [0, 1, 3, 4, 9, 125, 126, 65535, 65536, 70001] {
        let payload: Vec<u8> = (0..len).map(|i| b'a' + (i % 26) as u8).collect();
        let mask = [0x12, 0x34, 0x56, (len % 256) as u8];
        let mut out = vec![0xaa];
        encode_client_frame(Opcode::Text, &payload, mask, &mut out);
        assert_eq!(out[0], 0xaa, "appended after what was there");
        assert_eq!(out[1], 0x81);
        assert_ne!(out[2] & 0x80, 0, "mask bit set");
        if len > 8 && mask != [0; 4] {
            assert_ne!(&out[out.len() - len..], &payload[..], "payload masked");
        }
        let mut decoder = FrameDecoder::new(1 << 20);
        let messages = decode_all(&mut decoder, &out[1..]).unwrap();
        assert_eq!(messages.len(), 1);
        let WsMessage::Text(text) = &messages[0] else {
            panic!("{messages:?}")
        };
        assert_eq!(&text[..], &payload[..]);
    }
}
