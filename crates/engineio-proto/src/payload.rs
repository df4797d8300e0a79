//! The long-polling payload: packets joined by the record separator `\x1e`, binary data as
//! `b` followed by base64.

use base64::Engine as _;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD};
use base64::engine::{DecodePaddingMode, general_purpose};
use bytes::{Buf, BufMut, Bytes, BytesMut};

use crate::error::DecodeError;
use crate::packet::{Message, Packet, PacketType};

/// The separator between packets of a payload.
pub const SEPARATOR: u8 = 0x1e;

/// Browsers and Node encode with padding; decoding also takes unpadded data.
const LENIENT: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Encodes packets as one long-polling payload (the body of a GET response).
pub fn encode_payload<'a>(packets: impl IntoIterator<Item = &'a Packet>) -> Bytes {
    let mut out = BytesMut::new();
    encode_payload_into(packets, &mut out);
    out.freeze()
}

/// Encodes packets as one long-polling payload, appending to `out`.
pub fn encode_payload_into<'a>(packets: impl IntoIterator<Item = &'a Packet>, out: &mut BytesMut) {
    let mut first = true;
    for packet in packets {
        if !first {
            out.put_u8(SEPARATOR);
        }
        first = false;
        match packet {
            Packet::Message(Message::Binary(data)) => {
                out.reserve(1 + data.len().div_ceil(3) * 4);
                out.put_u8(b'b');
                let start = out.len();
                out.resize(start + base64_len(data.len()), 0);
                // The buffer was sized by `base64_len`, so encoding cannot run out of room.
                let written = general_purpose::STANDARD
                    .encode_slice(data, &mut out[start..])
                    .unwrap_or(0);
                out.truncate(start + written);
            }
            other => {
                out.reserve(1 + other.data_len());
                other.write_text(out);
            }
        }
    }
}

fn base64_len(len: usize) -> usize {
    len.div_ceil(3) * 4
}

/// Decodes a long-polling payload (the body of a POST request) packet by packet.
///
/// The iterator yields each packet in order and stops after the first error, so a server
/// can hand packets to the session as they are decoded and stop at a malformed one, in
/// time and memory linear in the body.
pub fn decode_payload(body: Bytes) -> PayloadDecoder {
    let utf8_ok = std::str::from_utf8(&body).is_ok();
    PayloadDecoder {
        rest: body,
        state: if utf8_ok {
            DecoderState::Running
        } else {
            DecoderState::InvalidUtf8
        },
    }
}

/// Iterator over the packets of a payload; see [`decode_payload`].
#[derive(Debug)]
pub struct PayloadDecoder {
    rest: Bytes,
    state: DecoderState,
}

#[derive(Debug, PartialEq, Eq)]
enum DecoderState {
    Running,
    InvalidUtf8,
    Done,
}

impl Iterator for PayloadDecoder {
    type Item = Result<Packet, DecodeError>;

    fn next(&mut self) -> Option<Self::Item> {
        match self.state {
            DecoderState::Done => return None,
            DecoderState::InvalidUtf8 => {
                self.state = DecoderState::Done;
                return Some(Err(DecodeError::InvalidUtf8));
            }
            DecoderState::Running => {}
        }
        let segment = match self.rest.iter().position(|&b| b == SEPARATOR) {
            Some(end) => {
                let segment = self.rest.split_to(end);
                self.rest.advance(1);
                segment
            }
            None => {
                self.state = DecoderState::Done;
                std::mem::take(&mut self.rest)
            }
        };
        let packet = decode_segment(segment);
        if packet.is_err() {
            self.state = DecoderState::Done;
        }
        Some(packet)
    }
}

impl std::iter::FusedIterator for PayloadDecoder {}

/// Decodes one packet of a payload whose UTF-8 has been checked as a whole.
fn decode_segment(segment: Bytes) -> Result<Packet, DecodeError> {
    let Some(&first) = segment.first() else {
        return Err(DecodeError::Empty);
    };
    if first == b'b' {
        let data = LENIENT
            .decode(&segment[1..])
            .map_err(|_| DecodeError::InvalidBase64)?;
        return Ok(Packet::Message(Message::Binary(Bytes::from(data))));
    }
    match PacketType::from_byte(first) {
        Some(packet_type) => Ok(Packet::from_checked_text(packet_type, segment)),
        None => Err(DecodeError::UnknownType(first)),
    }
}

/// Encodes binary data the way a payload carries it, without the `b` prefix.
pub fn encode_base64(data: &[u8]) -> String {
    STANDARD.encode(data)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_all(body: &'static [u8]) -> Vec<Result<Packet, DecodeError>> {
        decode_payload(Bytes::from_static(body)).collect()
    }

    #[test]
    fn examples_from_the_specification() {
        let packets = [
            Packet::Message(Message::text("hello")),
            Packet::ping(),
            Packet::Message(Message::text("world")),
        ];
        assert_eq!(
            encode_payload(&packets),
            Bytes::from_static(b"4hello\x1e2\x1e4world")
        );
        let decoded: Vec<_> = decode_all(b"4hello\x1e2\x1e4world");
        assert_eq!(decoded, packets.map(Ok).to_vec());

        let packets = [
            Packet::Message(Message::text("hello")),
            Packet::Message(Message::binary(vec![1, 2, 3, 4])),
        ];
        assert_eq!(
            encode_payload(&packets),
            Bytes::from_static(b"4hello\x1ebAQIDBA==")
        );
        assert_eq!(decode_all(b"4hello\x1ebAQIDBA=="), packets.map(Ok).to_vec());
    }

    #[test]
    fn unpadded_base64_is_accepted() {
        assert_eq!(
            decode_all(b"bAQIDBA"),
            vec![Ok(Packet::Message(Message::binary(vec![1, 2, 3, 4])))]
        );
    }

    #[test]
    fn stops_at_the_first_error() {
        assert_eq!(
            decode_all(b"4a\x1ex\x1e4b"),
            vec![
                Ok(Packet::Message(Message::text("a"))),
                Err(DecodeError::UnknownType(b'x'))
            ]
        );
        assert_eq!(decode_all(b""), vec![Err(DecodeError::Empty)]);
        assert_eq!(
            decode_all(b"4a\x1e"),
            vec![
                Ok(Packet::Message(Message::text("a"))),
                Err(DecodeError::Empty)
            ]
        );
        assert_eq!(
            decode_all(b"abc"),
            vec![Err(DecodeError::UnknownType(b'a'))]
        );
        assert_eq!(decode_all(b"b!!!"), vec![Err(DecodeError::InvalidBase64)]);
        assert_eq!(decode_all(b"4\xff"), vec![Err(DecodeError::InvalidUtf8)]);
    }

    #[test]
    fn multibyte_text_survives_the_round_trip() {
        let packets = [Packet::Message(Message::text("€ \u{1e} x")), Packet::Noop];
        // A separator inside text cannot be told apart from a real one: the protocol
        // assumes text never holds it.
        let body = encode_payload(&packets[1..]);
        assert_eq!(body, Bytes::from_static(b"6"));
        let euro = [Packet::Message(Message::text("€"))];
        assert_eq!(
            decode_payload(encode_payload(&euro)).collect::<Vec<_>>(),
            euro.map(Ok).to_vec()
        );
    }

    #[test]
    fn a_large_payload_of_tiny_packets_is_linear() {
        let body: Vec<u8> = b"6\x1e".repeat(500_000);
        let decoded = decode_payload(Bytes::from(body));
        let (ok, err): (Vec<_>, Vec<_>) = decoded.partition(|p| p.is_ok());
        assert_eq!(ok.len(), 500_000);
        assert_eq!(err, vec![Err(DecodeError::Empty)]);
    }
}
