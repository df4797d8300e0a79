//! The default parser: text packets with JSON data, binary data as attachments.
//!
//! `<type>[<attachments>-][<namespace>,][<ack id>][<JSON data>]`, each binary value in the
//! data replaced by `{"_placeholder":true,"num":N}` and sent as the N-th binary message
//! after the text one.

pub(crate) mod raw;
pub(crate) mod scan;

use std::io;

use bytes::{BufMut, Bytes, BytesMut};
use engineio_proto::{Message, Text};
use serde::Serialize;

use crate::args::{Args, Repr};
use crate::encode::{Encoded, Shape, shape_of};
use crate::error::{EncodeError, ParseError};
use crate::packet::{MAIN_NAMESPACE, Namespace, Packet, PacketKind, PacketType, is_reserved_event};
use crate::value::Value;

/// Limits a decoder enforces on what a peer sends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DecoderLimits {
    /// Most binary attachments in one packet (default 10, as in Node).
    pub max_attachments: usize,
    /// Longest namespace name in bytes (default 256).
    pub max_namespace_len: usize,
}

impl Default for DecoderLimits {
    fn default() -> Self {
        DecoderLimits {
            max_attachments: 10,
            max_namespace_len: 256,
        }
    }
}

/// Decodes the JSON parser's packets, one Engine.IO message at a time: a binary packet is
/// complete once its attachments have arrived.
#[derive(Debug, Default)]
pub struct JsonDecoder {
    limits: DecoderLimits,
    /// A binary packet waiting for its attachments; boxed, as most connections never
    /// have one and it would cost each of them 150 bytes.
    pending: Option<Box<Pending>>,
}

#[derive(Debug)]
struct Pending {
    nsp: Namespace,
    event: Option<(String, Option<u64>)>,
    ack: u64,
    source: Bytes,
    skip: usize,
    start: usize,
    expected: usize,
    attachments: Vec<Bytes>,
}

impl JsonDecoder {
    /// A decoder with these limits.
    pub fn new(limits: DecoderLimits) -> Self {
        JsonDecoder {
            limits,
            pending: None,
        }
    }

    /// Whether a binary packet waits for more attachments.
    pub fn is_waiting_for_attachments(&self) -> bool {
        self.pending.is_some()
    }

    /// Decodes one Engine.IO message; `Ok(None)` while a binary packet waits for attachments.
    pub fn decode(&mut self, message: Message) -> Result<Option<Packet>, ParseError> {
        match message {
            Message::Text(text) => {
                if self.pending.is_some() {
                    return Err(ParseError::UnexpectedText);
                }
                self.decode_text(text)
            }
            Message::Binary(data) => {
                let Some(pending) = &mut self.pending else {
                    return Err(ParseError::UnexpectedBinary);
                };
                pending.attachments.push(data);
                if pending.attachments.len() < pending.expected {
                    return Ok(None);
                }
                let pending = *self.pending.take().ok_or(ParseError::UnexpectedBinary)?;
                check_placeholders(&pending.source, pending.attachments.len())?;
                let args = Args(Repr::Json {
                    source: pending.source,
                    skip: pending.skip,
                    start: pending.start,
                    attachments: pending.attachments,
                });
                let kind = match pending.event {
                    Some((name, ack)) => PacketKind::Event { name, args, ack },
                    None => PacketKind::Ack {
                        id: pending.ack,
                        args,
                    },
                };
                Ok(Some(Packet {
                    nsp: pending.nsp,
                    kind,
                }))
            }
        }
    }

    fn decode_text(&mut self, text: Text) -> Result<Option<Packet>, ParseError> {
        // Owned and cut in place, not sliced: the first clone of a buffer read from a
        // frame allocates (in `bytes`), and the packet needs none.
        let mut data = text.into_bytes();
        let header = parse_header(&data, &self.limits)?;
        bytes::Buf::advance(&mut data, header.data_start);
        let nsp = header.nsp;
        let kind = match header.packet_type {
            PacketType::Connect => {
                let auth = if data.is_empty() {
                    None
                } else {
                    match serde_json::from_slice::<Value>(&data) {
                        Ok(auth @ Value::Object(_)) => Some(auth),
                        _ => return Err(ParseError::InvalidPayload),
                    }
                };
                PacketKind::Connect { auth }
            }
            PacketType::Disconnect if data.is_empty() => PacketKind::Disconnect,
            PacketType::Disconnect => return Err(ParseError::InvalidPayload),
            PacketType::ConnectError => match serde_json::from_slice::<Value>(&data) {
                Ok(data @ (Value::Object(_) | Value::String(_))) => {
                    PacketKind::ConnectError { data }
                }
                _ => return Err(ParseError::InvalidPayload),
            },
            PacketType::Event | PacketType::BinaryEvent => {
                let (name, start) = event_name_and_start(&data)?;
                if header.attachments > 0 {
                    self.pending = Some(Box::new(Pending {
                        nsp,
                        event: Some((name, header.id)),
                        ack: 0,
                        source: data,
                        skip: 1,
                        start,
                        expected: header.attachments,
                        attachments: Vec::with_capacity(header.attachments),
                    }));
                    return Ok(None);
                }
                PacketKind::Event {
                    name,
                    args: Args(Repr::Json {
                        source: data,
                        skip: 1,
                        start,
                        attachments: Vec::new(),
                    }),
                    ack: header.id,
                }
            }
            PacketType::Ack | PacketType::BinaryAck => {
                let id = header.id.ok_or(ParseError::InvalidAckId)?;
                let start = ack_start(&data)?;
                if header.attachments > 0 {
                    self.pending = Some(Box::new(Pending {
                        nsp,
                        event: None,
                        ack: id,
                        source: data,
                        skip: 0,
                        start,
                        expected: header.attachments,
                        attachments: Vec::with_capacity(header.attachments),
                    }));
                    return Ok(None);
                }
                PacketKind::Ack {
                    id,
                    args: Args(Repr::Json {
                        source: data,
                        skip: 0,
                        start,
                        attachments: Vec::new(),
                    }),
                }
            }
        };
        Ok(Some(Packet { nsp, kind }))
    }
}

struct Header {
    packet_type: PacketType,
    attachments: usize,
    nsp: Namespace,
    id: Option<u64>,
    data_start: usize,
}

/// Parses a run of ASCII digits as a `u64`; `None` if empty, not digits, or too large.
/// Stops at the first overflow, so a million digits cost no more than twenty.
fn parse_digits(digits: &[u8]) -> Option<u64> {
    if digits.is_empty() {
        return None;
    }
    digits.iter().try_fold(0u64, |n, &b| {
        if !b.is_ascii_digit() {
            return None;
        }
        n.checked_mul(10)?.checked_add(u64::from(b - b'0'))
    })
}

fn parse_header(text: &[u8], limits: &DecoderLimits) -> Result<Header, ParseError> {
    let first = *text.first().ok_or(ParseError::UnknownType)?;
    let packet_type = first
        .checked_sub(b'0')
        .and_then(PacketType::from_u8)
        .ok_or(ParseError::UnknownType)?;
    let mut i = 1;
    let mut attachments = 0;
    if matches!(packet_type, PacketType::BinaryEvent | PacketType::BinaryAck) {
        let dash = text[1..]
            .iter()
            .position(|&b| b == b'-')
            .ok_or(ParseError::IllegalAttachments)?
            + 1;
        let count = parse_digits(&text[1..dash]).ok_or(ParseError::IllegalAttachments)?;
        if count > limits.max_attachments as u64 {
            return Err(ParseError::TooManyAttachments);
        }
        attachments = count as usize;
        i = dash + 1;
    }
    let nsp = if text.get(i) == Some(&b'/') {
        let end = text[i..]
            .iter()
            .position(|&b| b == b',')
            .map_or(text.len(), |p| i + p);
        if end - i > limits.max_namespace_len {
            return Err(ParseError::NamespaceTooLong);
        }
        // The text is UTF-8 and `,` is ASCII, so this slice is too.
        let name = std::str::from_utf8(&text[i..end]).map_err(|_| ParseError::InvalidPayload)?;
        i = (end + 1).min(text.len());
        if name == MAIN_NAMESPACE {
            Namespace::Borrowed(MAIN_NAMESPACE)
        } else {
            Namespace::Owned(name.to_owned())
        }
    } else {
        Namespace::Borrowed(MAIN_NAMESPACE)
    };
    let mut id = None;
    if text.get(i).is_some_and(u8::is_ascii_digit) {
        let end = text[i..]
            .iter()
            .position(|b| !b.is_ascii_digit())
            .map_or(text.len(), |p| i + p);
        id = Some(parse_digits(&text[i..end]).ok_or(ParseError::InvalidAckId)?);
        i = end;
    }
    Ok(Header {
        packet_type,
        attachments,
        nsp,
        id,
        data_start: i,
    })
}

/// Checks an event's data (a non-empty array whose first element is a string that is not
/// reserved, or a number) and returns its name and where its arguments start.
fn event_name_and_start(data: &[u8]) -> Result<(String, usize), ParseError> {
    let shape = scan::array(data).map_err(|_| ParseError::InvalidPayload)?;
    let first = &data[shape.first.ok_or(ParseError::InvalidPayload)?];
    let name = match first.first() {
        // Without escapes the name is the text between the quotes (checked UTF-8 text cut
        // at ASCII quotes).
        Some(b'"') if !first.contains(&b'\\') => std::str::from_utf8(&first[1..first.len() - 1])
            .map_err(|_| ParseError::InvalidEventName)?
            .to_owned(),
        Some(b'"') => {
            serde_json::from_slice::<String>(first).map_err(|_| ParseError::InvalidEventName)?
        }
        Some(b'-' | b'0'..=b'9') => std::str::from_utf8(first)
            .map_err(|_| ParseError::InvalidEventName)?
            .to_owned(),
        _ => return Err(ParseError::InvalidEventName),
    };
    if is_reserved_event(&name) {
        return Err(ParseError::ReservedEventName);
    }
    Ok((name, shape.second.unwrap_or(shape.close)))
}

/// Checks an ack's data (an array) and returns where its arguments start.
fn ack_start(data: &[u8]) -> Result<usize, ParseError> {
    let shape = scan::array(data).map_err(|_| ParseError::InvalidPayload)?;
    Ok(shape.first.map_or(shape.close, |first| first.start))
}

/// Checks every placeholder of a binary packet: `num` an integer within the attachments,
/// each used at most once. Objects without `"_placeholder": true` are plain data.
fn check_placeholders(source: &[u8], attachments: usize) -> Result<(), ParseError> {
    scan::placeholders(source, attachments).map_err(|_| ParseError::IllegalPlaceholder)
}

/// Writes binary data as placeholders and collects it as attachments.
struct PlaceholderFormatter<'a> {
    attachments: &'a mut Vec<Bytes>,
}

impl serde_json::ser::Formatter for PlaceholderFormatter<'_> {
    fn write_byte_array<W: ?Sized + io::Write>(
        &mut self,
        writer: &mut W,
        value: &[u8],
    ) -> io::Result<()> {
        let num = self.attachments.len();
        self.attachments.push(Bytes::copy_from_slice(value));
        write!(writer, "{{\"_placeholder\":true,\"num\":{num}}}")
    }
}

fn serialize_into<T: Serialize + ?Sized>(
    out: &mut BytesMut,
    value: &T,
    attachments: &mut Vec<Bytes>,
) -> Result<(), EncodeError> {
    let mut serializer =
        serde_json::Serializer::with_formatter(out.writer(), PlaceholderFormatter { attachments });
    value.serialize(&mut serializer).map_err(EncodeError::new)
}

/// Writes `4<type>[<nsp>,][<id>]`; the binary header is added later if attachments appear.
fn write_header(out: &mut BytesMut, packet_type: PacketType, nsp: &str, id: Option<u64>) {
    out.put_u8(b'4');
    out.put_u8(b'0' + packet_type.as_u8());
    if nsp != MAIN_NAMESPACE {
        out.put_slice(nsp.as_bytes());
        out.put_u8(b',');
    }
    if let Some(id) = id {
        put_u64(out, id);
    }
}

/// How many attachments writing `args` will produce, when known before writing them:
/// arguments as received carry theirs.
fn known_attachments(args: &Args) -> Option<usize> {
    match &args.0 {
        Repr::Empty => Some(0),
        Repr::Json { attachments, .. } => Some(attachments.len()),
        _ => None,
    }
}

/// Like [`write_header`], in the binary form (`4<5|6><count>-…`) when `attachments` > 0:
/// written in place, where [`finish`] would copy the packet into a second buffer.
fn write_header_with(
    out: &mut BytesMut,
    packet_type: PacketType,
    attachments: usize,
    nsp: &str,
    id: Option<u64>,
) {
    if attachments == 0 {
        return write_header(out, packet_type, nsp, id);
    }
    let binary_type = match packet_type {
        PacketType::Ack => PacketType::BinaryAck,
        _ => PacketType::BinaryEvent,
    };
    out.put_u8(b'4');
    out.put_u8(b'0' + binary_type.as_u8());
    put_u64(out, attachments as u64);
    out.put_u8(b'-');
    if nsp != MAIN_NAMESPACE {
        out.put_slice(nsp.as_bytes());
        out.put_u8(b',');
    }
    if let Some(id) = id {
        put_u64(out, id);
    }
}

/// The length of what [`write_header_with`] writes.
fn header_len(attachments: usize, nsp: &str, id: Option<u64>) -> usize {
    let digits = |n: u64| n.checked_ilog10().map_or(1, |log| log as usize + 1);
    let binary = if attachments == 0 {
        0
    } else {
        digits(attachments as u64) + 1
    };
    let nsp = if nsp == MAIN_NAMESPACE {
        0
    } else {
        nsp.len() + 1
    };
    2 + binary + nsp + id.map_or(0, digits)
}

/// Writes the decimal digits of `n` without allocating.
pub(crate) fn put_u64(out: &mut BytesMut, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.put_slice(&digits[i..]);
}

/// The packet text, which is UTF-8 by construction (serde_json output and `&str` pieces).
/// The encoders write `4`, ASCII, serde_json's output and slices of checked input text:
/// UTF-8 throughout.
fn text_message(encoded: Bytes) -> Message {
    Message::Text(Text::from_encoded_trusted(encoded))
}

/// Turns a text packet written with a non-binary type into its binary form when attachments
/// were produced: `4<5|6><count>-` then the rest.
fn finish(mut out: BytesMut, attachments: Vec<Bytes>) -> Encoded {
    if attachments.is_empty() {
        return Encoded::single(text_message(out.freeze()));
    }
    let binary_type = if out[1] == b'2' { b'5' } else { b'6' };
    let mut with_header = BytesMut::with_capacity(out.len() + 8);
    with_header.put_u8(b'4');
    with_header.put_u8(binary_type);
    put_u64(&mut with_header, attachments.len() as u64);
    with_header.put_u8(b'-');
    with_header.put_slice(&out.split_off(2));
    Encoded {
        first: text_message(with_header.freeze()),
        attachments,
    }
}

/// `["name"` then the arguments of `value` (see `Shape`), then `]`.
fn write_event_data<T: Serialize + ?Sized>(
    out: &mut BytesMut,
    name: &str,
    value: &T,
    attachments: &mut Vec<Bytes>,
) -> Result<(), EncodeError> {
    out.put_u8(b'[');
    serde_json::to_writer(out.writer(), name).map_err(EncodeError::new)?;
    match shape_of(value) {
        Shape::Unit => out.put_u8(b']'),
        Shape::Tuple => {
            // The tuple serialises as `[a,b]`: its `[` becomes the `,` after the name.
            let bracket = out.len();
            serialize_into(out, value, attachments)?;
            out[bracket] = b',';
        }
        Shape::Single => {
            out.put_u8(b',');
            serialize_into(out, value, attachments)?;
            out.put_u8(b']');
        }
    }
    Ok(())
}

/// The arguments of `value` as a JSON array (see `Shape`).
fn write_ack_data<T: Serialize + ?Sized>(
    out: &mut BytesMut,
    value: &T,
    attachments: &mut Vec<Bytes>,
) -> Result<(), EncodeError> {
    match shape_of(value) {
        Shape::Unit => out.put_slice(b"[]"),
        Shape::Tuple => serialize_into(out, value, attachments)?,
        Shape::Single => {
            out.put_u8(b'[');
            serialize_into(out, value, attachments)?;
            out.put_u8(b']');
        }
    }
    Ok(())
}

/// Writes `args` after what is already in `out` (`[` or `["name"`), unchanged when they
/// came from this parser.
/// Bytes that [`write_args`] copies as they are (so that encoders allocate once).
fn raw_len(args: &Args) -> usize {
    match &args.0 {
        Repr::Json { source, start, .. } => source.len().saturating_sub(*start),
        _ => 0,
    }
}

fn write_args(
    out: &mut BytesMut,
    args: &Args,
    leading_comma: bool,
    attachments: &mut Vec<Bytes>,
) -> Result<(), EncodeError> {
    match &args.0 {
        Repr::Empty => out.put_u8(b']'),
        Repr::Json {
            source,
            start,
            attachments: theirs,
            ..
        } => {
            let rest = &source[*start..];
            if rest.first() != Some(&b']') && leading_comma {
                out.put_u8(b',');
            }
            out.put_slice(rest);
            attachments.extend(theirs.iter().cloned());
        }
        other => {
            let values = Args(other.clone()).to_values().map_err(EncodeError::new)?;
            for (index, value) in values.iter().enumerate() {
                if leading_comma || index > 0 {
                    out.put_u8(b',');
                }
                serialize_into(out, value, attachments)?;
            }
            out.put_u8(b']');
        }
    }
    Ok(())
}

/// Encoding with the JSON parser.
pub(crate) mod encode {
    use super::*;

    pub(crate) fn connect(nsp: &str, data: &Value) -> Encoded {
        connect_with(nsp, Some(data))
    }

    pub(crate) fn connect_with(nsp: &str, data: Option<&Value>) -> Encoded {
        let mut out = BytesMut::with_capacity(64);
        write_header(&mut out, PacketType::Connect, nsp, None);
        if let Some(data) = data {
            // A tree of JSON values cannot fail to serialise.
            let _ = serde_json::to_writer((&mut out).writer(), data);
        }
        finish(out, Vec::new())
    }

    pub(crate) fn connect_error(nsp: &str, data: &Value) -> Encoded {
        let mut out = BytesMut::with_capacity(64);
        write_header(&mut out, PacketType::ConnectError, nsp, None);
        let mut attachments = Vec::new();
        let _ = serialize_into(&mut out, data, &mut attachments);
        // Binary has no place in a connect error: it would be dropped by the client anyway.
        finish(out, Vec::new())
    }

    pub(crate) fn disconnect(nsp: &str) -> Encoded {
        let mut out = BytesMut::with_capacity(8 + nsp.len());
        write_header(&mut out, PacketType::Disconnect, nsp, None);
        finish(out, Vec::new())
    }

    pub(crate) fn event<T: Serialize + ?Sized>(
        nsp: &str,
        id: Option<u64>,
        name: &str,
        value: &T,
    ) -> Result<Encoded, EncodeError> {
        let mut out = BytesMut::with_capacity(64);
        let mut attachments = Vec::new();
        write_header(&mut out, PacketType::Event, nsp, id);
        write_event_data(&mut out, name, value, &mut attachments)?;
        Ok(finish(out, attachments))
    }

    pub(crate) fn event_args(
        nsp: &str,
        id: Option<u64>,
        name: &str,
        args: &Args,
    ) -> Result<Encoded, EncodeError> {
        let mut out = BytesMut::with_capacity(40 + nsp.len() + name.len() + raw_len(args));
        let mut attachments = Vec::new();
        let known = known_attachments(args);
        write_header_with(&mut out, PacketType::Event, known.unwrap_or(0), nsp, id);
        out.put_u8(b'[');
        serde_json::to_writer((&mut out).writer(), name).map_err(EncodeError::new)?;
        write_args(&mut out, args, true, &mut attachments)?;
        Ok(match known {
            Some(_) => Encoded {
                first: text_message(out.freeze()),
                attachments,
            },
            None => finish(out, attachments),
        })
    }

    pub(crate) fn ack<T: Serialize + ?Sized>(
        nsp: &str,
        id: u64,
        value: &T,
    ) -> Result<Encoded, EncodeError> {
        let mut out = BytesMut::with_capacity(32);
        let mut attachments = Vec::new();
        write_header(&mut out, PacketType::Ack, nsp, Some(id));
        write_ack_data(&mut out, value, &mut attachments)?;
        Ok(finish(out, attachments))
    }

    /// The event `encoded` with one more argument, the string `last`, after the others:
    /// the packet's text ends with the `]` of its data array, so the argument goes before
    /// it; attachments are unchanged.
    pub(crate) fn with_trailing_str(encoded: &Encoded, last: &str) -> Result<Encoded, EncodeError> {
        let not_event = || EncodeError::new("not an event packet");
        let Message::Text(text) = &encoded.first else {
            return Err(not_event());
        };
        let bytes = text.encoded();
        if !matches!(bytes.get(1), Some(b'2' | b'5')) || bytes.last() != Some(&b']') {
            return Err(not_event());
        }
        let mut out = BytesMut::with_capacity(bytes.len() + last.len() + 4);
        out.put_slice(&bytes[..bytes.len() - 1]);
        out.put_u8(b',');
        serde_json::to_writer((&mut out).writer(), last).map_err(EncodeError::new)?;
        out.put_u8(b']');
        Ok(Encoded {
            first: text_message(out.freeze()),
            attachments: encoded.attachments.clone(),
        })
    }

    pub(crate) fn ack_args(nsp: &str, id: u64, args: &Args) -> Result<Encoded, EncodeError> {
        let known = known_attachments(args);
        // Arguments as received are written as they came, so the packet's length is known:
        // a buffer of exactly that length becomes a `Bytes` without the shared header a
        // partly filled one needs (one allocation less per ack).
        let exact = known
            .map(|attachments| header_len(attachments, nsp, Some(id)) + 1 + raw_len(args).max(1));
        let mut out =
            BytesMut::with_capacity(exact.unwrap_or_else(|| 40 + nsp.len() + raw_len(args)));
        let mut attachments = Vec::with_capacity(known.unwrap_or(0));
        write_header_with(&mut out, PacketType::Ack, known.unwrap_or(0), nsp, Some(id));
        out.put_u8(b'[');
        write_args(&mut out, args, false, &mut attachments)?;
        debug_assert!(exact.is_none_or(|exact| exact == out.len()));
        Ok(match known {
            Some(_) => Encoded {
                first: text_message(out.freeze()),
                attachments,
            },
            None => finish(out, attachments),
        })
    }
}

#[cfg(test)]
pub(crate) mod reference;

#[cfg(test)]
mod header_tests {
    use super::*;

    #[test]
    fn the_header_length_is_what_is_written() {
        for attachments in [0, 1, 9, 10, 12, 100] {
            for nsp in ["/", "/admin", "/é"] {
                for id in [
                    None,
                    Some(0),
                    Some(9),
                    Some(10),
                    Some(12_345),
                    Some(u64::MAX),
                ] {
                    let mut out = BytesMut::new();
                    write_header_with(&mut out, PacketType::Ack, attachments, nsp, id);
                    assert_eq!(
                        header_len(attachments, nsp, id),
                        out.len(),
                        "{attachments} {nsp} {id:?}"
                    );
                }
            }
        }
    }
}
