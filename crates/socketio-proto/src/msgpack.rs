//! The msgpack parser, wire-compatible with the npm `socket.io-msgpack-parser`: each packet
//! is one binary Engine.IO message holding a msgpack map `{type, data, nsp, id}`, binary
//! data inline as `bin`.

use bytes::{BufMut, Bytes, BytesMut};
use engineio_proto::Message;
use serde::Serialize;

use crate::args::{Args, Repr};
use crate::encode::{Encoded, Shape, shape_of};
use crate::error::{EncodeError, ParseError};
use crate::json::DecoderLimits;
use crate::packet::{MAIN_NAMESPACE, Namespace, Packet, PacketKind, PacketType, is_reserved_event};
use crate::value::{Map, Value};

/// Deepest nesting a decoded value may have (serde_json's limit too).
const MAX_DEPTH: usize = 128;

/// Decodes the msgpack parser's packets.
#[derive(Debug, Default)]
pub struct MsgPackDecoder {
    limits: DecoderLimits,
}

impl MsgPackDecoder {
    /// A decoder with these limits (the attachment limit does not apply: msgpack carries
    /// binary inline).
    pub fn new(limits: DecoderLimits) -> Self {
        MsgPackDecoder { limits }
    }

    /// Decodes one Engine.IO message (always binary with this parser).
    pub fn decode(&mut self, message: Message) -> Result<Option<Packet>, ParseError> {
        let Message::Binary(bytes) = message else {
            return Err(ParseError::InvalidMsgPack);
        };
        decode_packet(&bytes, &self.limits).map(Some)
    }
}

/// Where a msgpack value starts and ends, and how many items a container holds.
struct Item {
    end: usize,
}

fn read_be(buf: &[u8], pos: usize, n: usize) -> Option<u64> {
    let bytes = buf.get(pos..pos.checked_add(n)?)?;
    Some(bytes.iter().fold(0u64, |acc, &b| (acc << 8) | u64::from(b)))
}

/// The header of the value at `pos`: its length in bytes before the payload, the payload's
/// length in bytes (scalars, strings, binary), and the items it contains (containers).
fn header(buf: &[u8], pos: usize) -> Option<(usize, u64, u64)> {
    let marker = *buf.get(pos)?;
    let len = |n: usize| read_be(buf, pos + 1, n);
    Some(match marker {
        0x00..=0x7f | 0xe0..=0xff | 0xc0 | 0xc2 | 0xc3 => (1, 0, 0),
        0x80..=0x8f => (1, 0, 2 * u64::from(marker & 0x0f)),
        0x90..=0x9f => (1, 0, u64::from(marker & 0x0f)),
        0xa0..=0xbf => (1, u64::from(marker & 0x1f), 0),
        0xc4 | 0xd9 => (2, len(1)?, 0),
        0xc5 | 0xda => (3, len(2)?, 0),
        0xc6 | 0xdb => (5, len(4)?, 0),
        0xc7 => (3, len(1)?, 0),
        0xc8 => (4, len(2)?, 0),
        0xc9 => (6, len(4)?, 0),
        0xca => (1, 4, 0),
        0xcb => (1, 8, 0),
        0xcc | 0xd0 => (1, 1, 0),
        0xcd | 0xd1 => (1, 2, 0),
        0xce | 0xd2 => (1, 4, 0),
        0xcf | 0xd3 => (1, 8, 0),
        0xd4 => (2, 1, 0),
        0xd5 => (2, 2, 0),
        0xd6 => (2, 4, 0),
        0xd7 => (2, 8, 0),
        0xd8 => (2, 16, 0),
        0xdc => (3, 0, len(2)?),
        0xdd => (5, 0, len(4)?),
        0xde => (3, 0, 2 * len(2)?),
        0xdf => (5, 0, 2 * len(4)?),
        // 0xc1 is never used.
        _ => return None,
    })
}

/// Skips the value at `pos` (containers included, without recursion, in time linear in
/// the bytes skipped) and returns where it ends.
fn skip(buf: &[u8], pos: usize) -> Option<Item> {
    let mut pos = pos;
    let mut remaining: u64 = 1;
    while remaining > 0 {
        remaining -= 1;
        let (head, payload, items) = header(buf, pos)?;
        pos = pos
            .checked_add(head)?
            .checked_add(usize::try_from(payload).ok()?)?;
        if pos > buf.len() {
            return None;
        }
        remaining = remaining.checked_add(items)?;
        // Each item takes at least one byte: more items than bytes left is a lie.
        if remaining > (buf.len() - pos) as u64 {
            return None;
        }
    }
    Some(Item { end: pos })
}

/// Where the value at `pos` ends.
pub(crate) fn skip_value(buf: &[u8], pos: usize) -> Option<usize> {
    skip(buf, pos).map(|item| item.end)
}

fn read_str(buf: &[u8], pos: usize) -> Option<&str> {
    let (head, len, _) = header(buf, pos)?;
    if !matches!(buf[pos], 0xa0..=0xbf | 0xd9..=0xdb) {
        return None;
    }
    let start = pos + head;
    std::str::from_utf8(buf.get(start..start.checked_add(usize::try_from(len).ok()?)?)?).ok()
}

fn read_int(buf: &[u8], pos: usize) -> Option<i128> {
    let marker = *buf.get(pos)?;
    Some(match marker {
        0x00..=0x7f => i128::from(marker),
        0xe0..=0xff => i128::from(marker as i8),
        0xcc => i128::from(read_be(buf, pos + 1, 1)?),
        0xcd => i128::from(read_be(buf, pos + 1, 2)?),
        0xce => i128::from(read_be(buf, pos + 1, 4)?),
        0xcf => i128::from(read_be(buf, pos + 1, 8)?),
        0xd0 => i128::from(read_be(buf, pos + 1, 1)? as u8 as i8),
        0xd1 => i128::from(read_be(buf, pos + 1, 2)? as u16 as i16),
        0xd2 => i128::from(read_be(buf, pos + 1, 4)? as u32 as i32),
        0xd3 => i128::from(read_be(buf, pos + 1, 8)? as i64),
        // JavaScript numbers may arrive as floats; an integral one is an integer.
        0xcb => {
            let f = f64::from_bits(read_be(buf, pos + 1, 8)?);
            if f.fract() != 0.0 || !f.is_finite() || f.abs() > 9_007_199_254_740_992.0 {
                return None;
            }
            f as i128
        }
        0xca => {
            let f = f32::from_bits(read_be(buf, pos + 1, 4)? as u32);
            if f.fract() != 0.0 || !f.is_finite() {
                return None;
            }
            f as i128
        }
        _ => return None,
    })
}

/// `nil`, or notepack's `undefined` (fixext 1 of type 0): both mean absent.
fn is_nil(buf: &[u8], pos: usize) -> bool {
    match buf.get(pos) {
        Some(0xc0) => true,
        Some(0xd4) => buf.get(pos + 1) == Some(&0),
        _ => false,
    }
}

fn to_value(bytes: &[u8]) -> Result<Value, ParseError> {
    match decode_value(bytes, 0, 0) {
        Some((value, end)) if end == bytes.len() => Ok(value),
        _ => Err(ParseError::InvalidPayload),
    }
}

fn payload(buf: &[u8], start: usize, len: u64) -> Option<(&[u8], usize)> {
    let end = start.checked_add(usize::try_from(len).ok()?)?;
    Some((buf.get(start..end)?, end))
}

/// Decodes the msgpack value at `pos` as notepack.io (the encoder of the npm parser)
/// means it: ext type 0 is an `ArrayBuffer` (binary), fixext 1 of type 0 is `undefined`
/// (null here), fixext 8 of type 0 a `Date` (its milliseconds), other ext types
/// `[type, data]`. Returns the value and where it ends; `None` if malformed or nested
/// deeper than `MAX_DEPTH`.
pub(crate) fn decode_value(buf: &[u8], pos: usize, depth: usize) -> Option<(Value, usize)> {
    if depth > MAX_DEPTH {
        return None;
    }
    let marker = *buf.get(pos)?;
    let (head, len, items) = header(buf, pos)?;
    let start = pos + head;
    let text = |buf: &[u8]| -> Option<(Value, usize)> {
        let (bytes, end) = payload(buf, start, len)?;
        Some((
            Value::String(std::str::from_utf8(bytes).ok()?.to_owned()),
            end,
        ))
    };
    Some(match marker {
        0xc0 => (Value::Null, start),
        0xc2 => (Value::Bool(false), start),
        0xc3 => (Value::Bool(true), start),
        0x00..=0x7f | 0xe0..=0xff | 0xcc..=0xcf | 0xd0..=0xd3 => {
            let n = read_int(buf, pos)?;
            let value = match u64::try_from(n) {
                Ok(n) => Value::from(n),
                Err(_) => Value::from(i64::try_from(n).ok()?),
            };
            (value, start + usize::try_from(len).ok()?)
        }
        0xca => {
            let bits = read_be(buf, start, 4)? as u32;
            (Value::from(f64::from(f32::from_bits(bits))), start + 4)
        }
        0xcb => (
            Value::from(f64::from_bits(read_be(buf, start, 8)?)),
            start + 8,
        ),
        0xa0..=0xbf | 0xd9..=0xdb => text(buf)?,
        0xc4..=0xc6 => {
            let (bytes, end) = payload(buf, start, len)?;
            (Value::Binary(Bytes::copy_from_slice(bytes)), end)
        }
        0xc7..=0xc9 | 0xd4..=0xd8 => {
            // The ext type is the last byte of the header.
            let ext_type = buf[start - 1] as i8;
            let (bytes, end) = payload(buf, start, len)?;
            let value = match (marker, ext_type) {
                (0xd4, 0) => Value::Null,
                (0xd7, 0) => {
                    let hi = i64::from(read_be(bytes, 0, 4)? as u32 as i32);
                    let lo = i64::from(read_be(bytes, 4, 4)? as u32);
                    Value::from(hi * (1i64 << 32) + lo)
                }
                (0xc7..=0xc9, 0) => Value::Binary(Bytes::copy_from_slice(bytes)),
                _ => Value::Array(vec![
                    Value::from(i64::from(ext_type)),
                    Value::Binary(Bytes::copy_from_slice(bytes)),
                ]),
            };
            (value, end)
        }
        0x90..=0x9f | 0xdc | 0xdd => {
            let mut values = Vec::with_capacity(usize::try_from(items).ok()?.min(64));
            let mut at = start;
            for _ in 0..items {
                let (value, end) = decode_value(buf, at, depth + 1)?;
                values.push(value);
                at = end;
            }
            (Value::Array(values), at)
        }
        0x80..=0x8f | 0xde | 0xdf => {
            let mut map = Map::with_capacity(usize::try_from(items / 2).ok()?.min(64));
            let mut at = start;
            for _ in 0..items / 2 {
                let (key, end) = decode_value(buf, at, depth + 1)?;
                let key = match key {
                    Value::String(key) => key,
                    // JavaScript object keys are strings.
                    Value::Number(n) => n.to_string(),
                    _ => return None,
                };
                let (value, end) = decode_value(buf, end, depth + 1)?;
                map.insert(key, value);
                at = end;
            }
            (Value::Object(map), at)
        }
        _ => return None,
    })
}

fn decode_packet(buf: &Bytes, limits: &DecoderLimits) -> Result<Packet, ParseError> {
    let invalid = ParseError::InvalidMsgPack;
    let (head, _, entries) = header(buf, 0).ok_or(invalid)?;
    if !matches!(buf[0], 0x80..=0x8f | 0xde | 0xdf) {
        return Err(invalid);
    }
    let whole = skip(buf, 0).ok_or(invalid)?;
    if whole.end != buf.len() {
        return Err(invalid);
    }
    let (mut packet_type, mut nsp, mut data, mut id) = (None, None, None, None);
    let mut pos = head;
    for _ in 0..entries / 2 {
        let key = read_str(buf, pos).ok_or(invalid)?;
        let value = skip(buf, pos).ok_or(invalid)?.end;
        let end = skip(buf, value).ok_or(invalid)?.end;
        match key {
            "type" => packet_type = Some(read_int(buf, value).ok_or(ParseError::UnknownType)?),
            "nsp" => nsp = Some(read_str(buf, value).ok_or(invalid)?),
            // `undefined` values may be encoded as nil: they mean absent.
            "data" if !is_nil(buf, value) => data = Some(value..end),
            "id" if !is_nil(buf, value) => {
                let n = read_int(buf, value).ok_or(ParseError::InvalidAckId)?;
                id = Some(u64::try_from(n).map_err(|_| ParseError::InvalidAckId)?);
            }
            _ => {}
        }
        pos = end;
    }
    let packet_type = packet_type
        .and_then(|t| u8::try_from(t).ok())
        .and_then(PacketType::from_u8)
        .filter(|t| t.as_u8() <= PacketType::ConnectError.as_u8())
        .ok_or(ParseError::UnknownType)?;
    let nsp = nsp.ok_or(invalid)?;
    if nsp.len() > limits.max_namespace_len {
        return Err(ParseError::NamespaceTooLong);
    }
    let nsp = if nsp == MAIN_NAMESPACE {
        Namespace::Borrowed(MAIN_NAMESPACE)
    } else {
        Namespace::Owned(nsp.to_owned())
    };
    let kind = match packet_type {
        PacketType::Connect => match data {
            None => PacketKind::Connect { auth: None },
            Some(range) => match to_value(&buf[range])? {
                auth @ Value::Object(_) => PacketKind::Connect { auth: Some(auth) },
                _ => return Err(ParseError::InvalidPayload),
            },
        },
        PacketType::Disconnect if data.is_none() => PacketKind::Disconnect,
        PacketType::ConnectError => match data.map(|range| to_value(&buf[range])) {
            Some(Ok(data @ (Value::Object(_) | Value::String(_)))) => {
                PacketKind::ConnectError { data }
            }
            _ => return Err(ParseError::InvalidPayload),
        },
        PacketType::Event => {
            let range = data.ok_or(ParseError::InvalidPayload)?;
            let source = buf.slice(range);
            let (head, _, count) = array_header(&source)?;
            if count == 0 {
                return Err(ParseError::InvalidPayload);
            }
            let name = if let Some(name) = read_str(&source, head) {
                name.to_owned()
            } else if let Some(n) = read_int(&source, head) {
                n.to_string()
            } else {
                return Err(ParseError::InvalidEventName);
            };
            if is_reserved_event(&name) {
                return Err(ParseError::ReservedEventName);
            }
            let start = skip(&source, head).ok_or(invalid)?.end;
            let count = usize::try_from(count - 1).map_err(|_| invalid)?;
            PacketKind::Event {
                name,
                args: Args(Repr::MsgPack {
                    source,
                    skip: 1,
                    start,
                    count,
                }),
                ack: id,
            }
        }
        PacketType::Ack => {
            let range = data.ok_or(ParseError::InvalidPayload)?;
            let source = buf.slice(range);
            let (head, _, count) = array_header(&source)?;
            PacketKind::Ack {
                id: id.ok_or(ParseError::InvalidAckId)?,
                args: Args(Repr::MsgPack {
                    source,
                    skip: 0,
                    start: head,
                    count: usize::try_from(count).map_err(|_| invalid)?,
                }),
            }
        }
        _ => return Err(ParseError::InvalidPayload),
    };
    Ok(Packet { nsp, kind })
}

fn array_header(source: &[u8]) -> Result<(usize, u64, u64), ParseError> {
    if !matches!(source.first(), Some(0x90..=0x9f | 0xdc | 0xdd)) {
        return Err(ParseError::InvalidPayload);
    }
    header(source, 0).ok_or(ParseError::InvalidMsgPack)
}

/// A map header, a key and an unsigned integer, a string.
struct Writer(BytesMut);

impl Writer {
    fn new(entries: u32) -> Self {
        let mut writer = Writer(BytesMut::with_capacity(64));
        // Writing to a BytesMut cannot fail.
        let _ = rmp::encode::write_map_len(&mut (&mut writer.0).writer(), entries);
        writer
    }

    fn str(&mut self, s: &str) {
        let _ = rmp::encode::write_str(&mut (&mut self.0).writer(), s);
    }

    fn uint(&mut self, key: &str, n: u64) {
        self.str(key);
        let _ = rmp::encode::write_uint(&mut (&mut self.0).writer(), n);
    }

    fn array_len(&mut self, len: u32) {
        let _ = rmp::encode::write_array_len(&mut (&mut self.0).writer(), len);
    }

    fn serialize<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), EncodeError> {
        let mut serializer = rmp_serde::Serializer::new((&mut self.0).writer()).with_struct_map();
        value.serialize(&mut serializer).map_err(EncodeError::new)
    }

    fn finish(self) -> Encoded {
        Encoded::single(Message::Binary(self.0.freeze()))
    }
}

fn entries(id: Option<u64>, with_data: bool) -> u32 {
    2 + u32::from(id.is_some()) + u32::from(with_data)
}

fn begin(packet_type: PacketType, nsp: &str, id: Option<u64>, with_data: bool) -> Writer {
    let mut writer = Writer::new(entries(id, with_data));
    writer.uint("type", u64::from(packet_type.as_u8()));
    writer.str("nsp");
    writer.str(nsp);
    if let Some(id) = id {
        writer.uint("id", id);
    }
    if with_data {
        writer.str("data");
    }
    writer
}

/// Writes the elements of `value` (see `Shape`) after an array header counting `leading`
/// elements already planned (the event name).
fn write_spread<T: Serialize + ?Sized>(
    writer: &mut Writer,
    leading: u32,
    value: &T,
    before: impl FnOnce(&mut Writer),
) -> Result<(), EncodeError> {
    match shape_of(value) {
        Shape::Unit => {
            writer.array_len(leading);
            before(writer);
        }
        Shape::Single => {
            writer.array_len(leading + 1);
            before(writer);
            writer.serialize(value)?;
        }
        Shape::Tuple => {
            let mut tuple = Writer(BytesMut::new());
            tuple.serialize(value)?;
            let (head, _, count) = header(&tuple.0, 0).ok_or_else(|| EncodeError::new("tuple"))?;
            let count = u32::try_from(count).map_err(EncodeError::new)?;
            writer.array_len(leading + count);
            before(writer);
            writer.0.put_slice(&tuple.0[head..]);
        }
    }
    Ok(())
}

fn write_args(
    writer: &mut Writer,
    leading: u32,
    args: &Args,
    before: impl FnOnce(&mut Writer),
) -> Result<(), EncodeError> {
    match &args.0 {
        Repr::MsgPack {
            source,
            start,
            count,
            ..
        } => {
            writer.array_len(leading + u32::try_from(*count).map_err(EncodeError::new)?);
            before(writer);
            writer.0.put_slice(&source[*start..]);
        }
        _ => {
            let values = args.to_values().map_err(EncodeError::new)?;
            writer.array_len(leading + u32::try_from(values.len()).map_err(EncodeError::new)?);
            before(writer);
            for value in &values {
                writer.serialize(value)?;
            }
        }
    }
    Ok(())
}

/// Encoding with the msgpack parser.
pub(crate) mod encode {
    use super::*;

    pub(crate) fn connect(nsp: &str, data: &Value) -> Encoded {
        let mut writer = begin(PacketType::Connect, nsp, None, true);
        let _ = writer.serialize(data);
        writer.finish()
    }

    pub(crate) fn connect_error(nsp: &str, data: &Value) -> Encoded {
        let mut writer = begin(PacketType::ConnectError, nsp, None, true);
        let _ = writer.serialize(data);
        writer.finish()
    }

    pub(crate) fn disconnect(nsp: &str) -> Encoded {
        begin(PacketType::Disconnect, nsp, None, false).finish()
    }

    pub(crate) fn event<T: Serialize + ?Sized>(
        nsp: &str,
        id: Option<u64>,
        name: &str,
        value: &T,
    ) -> Result<Encoded, EncodeError> {
        let mut writer = begin(PacketType::Event, nsp, id, true);
        write_spread(&mut writer, 1, value, |w| w.str(name))?;
        Ok(writer.finish())
    }

    pub(crate) fn event_args(
        nsp: &str,
        id: Option<u64>,
        name: &str,
        args: &Args,
    ) -> Result<Encoded, EncodeError> {
        let mut writer = begin(PacketType::Event, nsp, id, true);
        write_args(&mut writer, 1, args, |w| w.str(name))?;
        Ok(writer.finish())
    }

    pub(crate) fn ack<T: Serialize + ?Sized>(
        nsp: &str,
        id: u64,
        value: &T,
    ) -> Result<Encoded, EncodeError> {
        let mut writer = begin(PacketType::Ack, nsp, Some(id), true);
        write_spread(&mut writer, 0, value, |_| {})?;
        Ok(writer.finish())
    }

    pub(crate) fn ack_args(nsp: &str, id: u64, args: &Args) -> Result<Encoded, EncodeError> {
        let mut writer = begin(PacketType::Ack, nsp, Some(id), true);
        write_args(&mut writer, 0, args, |_| {})?;
        Ok(writer.finish())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skipping_refuses_lies() {
        // An array claiming 2^32-1 elements in 5 bytes.
        assert!(skip(&[0xdd, 0xff, 0xff, 0xff, 0xff], 0).is_none());
        // A string longer than the buffer.
        assert!(skip(&[0xd9, 10, b'a'], 0).is_none());
        // The unused marker.
        assert!(skip(&[0xc1], 0).is_none());
        assert_eq!(skip(&[0x92, 0x01, 0xa1, b'x'], 0).map(|i| i.end), Some(4));
    }
}
