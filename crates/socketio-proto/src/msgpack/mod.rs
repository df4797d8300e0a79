//! The msgpack parser, wire-compatible with the npm `socket.io-msgpack-parser`: each packet
//! is one binary Engine.IO message holding a msgpack map `{type, data, nsp, id}`, binary
//! data inline as `bin`.

pub(crate) mod value;

use bytes::{BufMut, Bytes, BytesMut};
use engineio_proto::Message;
use serde::Serialize;

use self::value::{header, is_nil, read_int, read_str, skip, to_value};
use crate::args::{Args, Repr};
use crate::encode::{Encoded, Shape, shape_of};
use crate::error::{EncodeError, ParseError};
use crate::json::DecoderLimits;
use crate::packet::{MAIN_NAMESPACE, Namespace, Packet, PacketKind, PacketType, is_reserved_event};
use crate::value::Value;

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
        connect_with(nsp, Some(data))
    }

    pub(crate) fn connect_with(nsp: &str, data: Option<&Value>) -> Encoded {
        let mut writer = begin(PacketType::Connect, nsp, None, data.is_some());
        if let Some(data) = data {
            let _ = writer.serialize(data);
        }
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

    /// The event `encoded` with one more argument, the string `last`, after the others.
    /// This encoder writes `data` as the map's last entry, so the argument is appended to
    /// the message and only the array's header is rewritten.
    pub(crate) fn with_trailing_str(encoded: &Encoded, last: &str) -> Result<Encoded, EncodeError> {
        let not_event = || EncodeError::new("not an event packet");
        let Message::Binary(buf) = &encoded.first else {
            return Err(not_event());
        };
        let (head, _, entries) = header(buf, 0).ok_or_else(not_event)?;
        let mut pos = head;
        let mut data = None;
        for _ in 0..entries / 2 {
            let key = read_str(buf, pos);
            let value = skip(buf, pos).ok_or_else(not_event)?.end;
            if key == Some("data") {
                data = Some(value);
            }
            pos = skip(buf, value).ok_or_else(not_event)?.end;
        }
        let data = data.ok_or_else(not_event)?;
        let (array_head, _, count) = header(buf, data).ok_or_else(not_event)?;
        let is_array = matches!(buf[data], 0x90..=0x9f | 0xdc | 0xdd);
        let data_end = skip(buf, data).ok_or_else(not_event)?.end;
        if !is_array || count == 0 || data_end != buf.len() {
            return Err(not_event());
        }
        let count = u32::try_from(count + 1).map_err(|_| not_event())?;
        let mut writer = Writer(BytesMut::with_capacity(buf.len() + last.len() + 8));
        writer.0.put_slice(&buf[..data]);
        writer.array_len(count);
        writer.0.put_slice(&buf[data + array_head..]);
        writer.str(last);
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
