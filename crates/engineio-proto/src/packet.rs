//! Engine.IO packets and their encoding in WebSocket frames.
//!
//! A packet travels as text (`<type digit><data>`) or, for a message carrying binary data, as
//! raw bytes in a binary WebSocket frame. Text messages keep their leading `4` in memory so that
//! a packet encoded once (a broadcast, say) is written to every WebSocket without another copy.

use std::fmt;

use bytes::{BufMut, Bytes, BytesMut};

use crate::error::DecodeError;

/// The seven Engine.IO packet types, with their wire digit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PacketType {
    /// `0`: the handshake, sent by the server when a session opens.
    Open,
    /// `1`: the sender closes the session.
    Close,
    /// `2`: heartbeat request (server to client), or `2probe` during an upgrade.
    Ping,
    /// `3`: heartbeat answer, or `3probe` during an upgrade.
    Pong,
    /// `4`: application data.
    Message,
    /// `5`: the client completes an upgrade to WebSocket.
    Upgrade,
    /// `6`: no operation; ends a pending long-polling request during an upgrade.
    Noop,
}

impl PacketType {
    /// The ASCII digit that starts the packet on the wire.
    pub const fn as_byte(self) -> u8 {
        match self {
            PacketType::Open => b'0',
            PacketType::Close => b'1',
            PacketType::Ping => b'2',
            PacketType::Pong => b'3',
            PacketType::Message => b'4',
            PacketType::Upgrade => b'5',
            PacketType::Noop => b'6',
        }
    }

    /// The packet type for a wire digit, if it is one.
    pub const fn from_byte(byte: u8) -> Option<Self> {
        Some(match byte {
            b'0' => PacketType::Open,
            b'1' => PacketType::Close,
            b'2' => PacketType::Ping,
            b'3' => PacketType::Pong,
            b'4' => PacketType::Message,
            b'5' => PacketType::Upgrade,
            b'6' => PacketType::Noop,
            _ => return None,
        })
    }
}

/// Text data of a message, held as it travels: the digit `4` followed by UTF-8 text.
///
/// Cloning is cheap (a reference count), so one encoded message can be queued for many
/// sessions.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Text(Bytes);

impl Text {
    /// A text message holding a copy of `text`.
    pub fn new(text: &str) -> Self {
        let mut buf = BytesMut::with_capacity(text.len() + 1);
        buf.put_u8(b'4');
        buf.put_slice(text.as_bytes());
        Text(buf.freeze())
    }

    /// A text message from its encoded form (`4` followed by UTF-8 text), without a copy.
    ///
    /// This is how a layer above builds a packet once and shares it: it writes the `4`
    /// itself, then its own encoding, into one buffer.
    pub fn from_encoded(encoded: Bytes) -> Result<Self, DecodeError> {
        match encoded.first() {
            Some(b'4') => {}
            Some(&other) => return Err(DecodeError::UnexpectedType(other)),
            None => return Err(DecodeError::Empty),
        }
        if std::str::from_utf8(&encoded[1..]).is_err() {
            return Err(DecodeError::InvalidUtf8);
        }
        Ok(Text(encoded))
    }

    /// A text message from its encoded form, without checking it: for encoders that wrote
    /// `4` and then only UTF-8 (their own ASCII and slices of text already checked).
    ///
    /// Not `unsafe`: nothing relies on the check for memory safety. A caller that breaks the
    /// promise sends an invalid text frame, and [`as_str`](Self::as_str) returns `""`.
    /// Debug builds check.
    ///
    /// Measured: the check was 4 % of the server's instructions in a 64-byte echo
    /// (callgrind, `bench/run.sh echo`), as every packet the server encoded was checked
    /// again here.
    pub fn from_encoded_trusted(encoded: Bytes) -> Self {
        debug_assert!(Self::from_encoded(encoded.clone()).is_ok());
        Text(encoded)
    }

    /// `encoded` must start with `4` and be valid UTF-8 after it; callers in this crate have
    /// checked both.
    pub(crate) fn from_encoded_checked(encoded: Bytes) -> Self {
        debug_assert_eq!(encoded.first(), Some(&b'4'));
        Text(encoded)
    }

    /// The text, without the leading `4`.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0[1..]
    }

    /// The text as a `&str`.
    ///
    /// Every constructor checks UTF-8, so this cannot fail; it validates again (linear in
    /// the length) to keep the crate free of `unsafe`. Parsers should prefer
    /// [`as_bytes`](Self::as_bytes).
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(self.as_bytes()).unwrap_or_default()
    }

    /// The text as an owned, shared buffer without the leading `4` (no copy).
    pub fn to_bytes(&self) -> Bytes {
        self.0.slice(1..)
    }

    /// The text without the leading `4`, taking the buffer: unlike
    /// [`to_bytes`](Self::to_bytes) this shares nothing, so a buffer that is not shared yet
    /// (a frame just read) stays unshared, which saves `bytes` an allocation.
    pub fn into_bytes(self) -> Bytes {
        let mut bytes = self.0;
        bytes::Buf::advance(&mut bytes, 1);
        bytes
    }

    /// The encoded form, `4` included, taken.
    pub fn into_encoded(self) -> Bytes {
        self.0
    }

    /// The encoded form, `4` included, as written in a WebSocket text frame.
    pub fn encoded(&self) -> &Bytes {
        &self.0
    }

    /// Length of the text in bytes, without the leading `4`.
    pub fn len(&self) -> usize {
        self.0.len() - 1
    }

    /// Whether the text is empty.
    pub fn is_empty(&self) -> bool {
        self.0.len() == 1
    }
}

impl fmt::Debug for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl From<&str> for Text {
    fn from(text: &str) -> Self {
        Text::new(text)
    }
}

/// Application data carried by a message packet.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Message {
    /// UTF-8 text.
    Text(Text),
    /// Raw bytes: a binary WebSocket frame, or `b<base64>` in a long-polling payload.
    Binary(Bytes),
}

impl Message {
    /// A text message holding a copy of `text`.
    pub fn text(text: &str) -> Self {
        Message::Text(Text::new(text))
    }

    /// A binary message.
    pub fn binary(data: impl Into<Bytes>) -> Self {
        Message::Binary(data.into())
    }

    /// The data, text or binary, as bytes.
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            Message::Text(text) => text.as_bytes(),
            Message::Binary(data) => data,
        }
    }

    /// Length of the data in bytes.
    pub fn len(&self) -> usize {
        self.as_bytes().len()
    }

    /// Whether the data is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl From<Text> for Message {
    fn from(text: Text) -> Self {
        Message::Text(text)
    }
}

/// One Engine.IO packet.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Packet {
    /// The handshake; its data is the JSON described by [`Handshake`](crate::Handshake).
    Open(Bytes),
    /// Close the session.
    Close,
    /// Heartbeat request; the data is empty, or `probe` during an upgrade.
    Ping(Bytes),
    /// Heartbeat answer; the data is empty, or `probe` during an upgrade.
    Pong(Bytes),
    /// Application data.
    Message(Message),
    /// Completes an upgrade.
    Upgrade,
    /// No operation.
    Noop,
}

/// The data of a `probe` ping or pong.
pub const PROBE: &[u8] = b"probe";

/// How a packet is written in a WebSocket frame.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Frame {
    /// A text frame holding `<type digit><data>`.
    Text(Bytes),
    /// A binary frame holding a message's raw data.
    Binary(Bytes),
}

impl Packet {
    /// The packet's type.
    pub fn packet_type(&self) -> PacketType {
        match self {
            Packet::Open(_) => PacketType::Open,
            Packet::Close => PacketType::Close,
            Packet::Ping(_) => PacketType::Ping,
            Packet::Pong(_) => PacketType::Pong,
            Packet::Message(_) => PacketType::Message,
            Packet::Upgrade => PacketType::Upgrade,
            Packet::Noop => PacketType::Noop,
        }
    }

    /// A `ping` with no data.
    pub fn ping() -> Self {
        Packet::Ping(Bytes::new())
    }

    /// A `pong` with no data.
    pub fn pong() -> Self {
        Packet::Pong(Bytes::new())
    }

    /// Whether this is `2probe` or `3probe`.
    pub fn is_probe(&self) -> bool {
        matches!(self, Packet::Ping(data) | Packet::Pong(data) if data.as_ref() == PROBE)
    }

    /// Decodes a packet from a WebSocket text frame (`<type digit><data>`).
    ///
    /// The frame must be valid UTF-8; WebSocket layers check this for text frames, and this
    /// function checks it again for message data so that a [`Text`] always holds valid text.
    pub fn decode_text(frame: Bytes) -> Result<Self, DecodeError> {
        let Some(&first) = frame.first() else {
            return Err(DecodeError::Empty);
        };
        let Some(packet_type) = PacketType::from_byte(first) else {
            return Err(DecodeError::UnknownType(first));
        };
        if std::str::from_utf8(&frame[1..]).is_err() {
            return Err(DecodeError::InvalidUtf8);
        }
        Ok(Self::from_checked_text(packet_type, frame))
    }

    /// Decodes a packet from a WebSocket text message, which its decoder has checked as
    /// UTF-8.
    pub fn decode_ws_text(text: crate::websocket::TextBytes) -> Result<Self, DecodeError> {
        let frame = text.into_bytes();
        let Some(&first) = frame.first() else {
            return Err(DecodeError::Empty);
        };
        let Some(packet_type) = PacketType::from_byte(first) else {
            return Err(DecodeError::UnknownType(first));
        };
        Ok(Self::from_checked_text(packet_type, frame))
    }

    /// Builds a packet from text whose first byte is `packet_type`'s digit and whose rest
    /// is valid UTF-8.
    pub(crate) fn from_checked_text(packet_type: PacketType, frame: Bytes) -> Self {
        match packet_type {
            PacketType::Open => Packet::Open(frame.slice(1..)),
            PacketType::Close => Packet::Close,
            PacketType::Ping => Packet::Ping(frame.slice(1..)),
            PacketType::Pong => Packet::Pong(frame.slice(1..)),
            PacketType::Message => {
                Packet::Message(Message::Text(Text::from_encoded_checked(frame)))
            }
            PacketType::Upgrade => Packet::Upgrade,
            PacketType::Noop => Packet::Noop,
        }
    }

    /// Decodes a packet from a WebSocket binary frame: in Engine.IO v4 it is always a
    /// message holding those bytes.
    pub fn decode_binary(frame: Bytes) -> Self {
        Packet::Message(Message::Binary(frame))
    }

    /// The WebSocket frame of the packet, taking it: a message's buffer is handed over
    /// rather than cloned (a clone of a buffer never shared costs an allocation).
    pub fn into_frame(self) -> Frame {
        match self {
            Packet::Message(Message::Text(text)) => Frame::Text(text.into_encoded()),
            Packet::Message(Message::Binary(data)) => Frame::Binary(data),
            other => other.to_frame(),
        }
    }

    /// Encodes the packet for a WebSocket frame.
    ///
    /// Text messages are returned without a copy; other packets are small and allocated.
    pub fn to_frame(&self) -> Frame {
        match self {
            Packet::Message(Message::Text(text)) => Frame::Text(text.encoded().clone()),
            Packet::Message(Message::Binary(data)) => Frame::Binary(data.clone()),
            _ => {
                let mut buf = BytesMut::with_capacity(1 + self.data_len());
                self.write_text(&mut buf);
                Frame::Text(buf.freeze())
            }
        }
    }

    /// Number of bytes of data the packet carries (what `maxPayload` limits).
    pub fn data_len(&self) -> usize {
        match self {
            Packet::Open(data) | Packet::Ping(data) | Packet::Pong(data) => data.len(),
            Packet::Message(message) => message.len(),
            Packet::Close | Packet::Upgrade | Packet::Noop => 0,
        }
    }

    /// Writes the text form of a non-binary packet: the digit, then the data.
    pub(crate) fn write_text(&self, out: &mut BytesMut) {
        match self {
            Packet::Message(Message::Text(text)) => out.put_slice(text.encoded()),
            Packet::Message(Message::Binary(_)) => {
                debug_assert!(false, "binary messages have no plain text form");
            }
            Packet::Open(data) | Packet::Ping(data) | Packet::Pong(data) => {
                out.put_u8(self.packet_type().as_byte());
                out.put_slice(data);
            }
            Packet::Close | Packet::Upgrade | Packet::Noop => {
                out.put_u8(self.packet_type().as_byte());
            }
        }
    }
}

impl From<Message> for Packet {
    fn from(message: Message) -> Self {
        Packet::Message(message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_every_type() {
        let cases: [(&str, Packet); 9] = [
            ("0{}", Packet::Open(Bytes::from_static(b"{}"))),
            ("1", Packet::Close),
            ("2", Packet::ping()),
            ("2probe", Packet::Ping(Bytes::from_static(b"probe"))),
            ("3probe", Packet::Pong(Bytes::from_static(b"probe"))),
            ("4hello", Packet::Message(Message::text("hello"))),
            ("4", Packet::Message(Message::text(""))),
            ("5", Packet::Upgrade),
            ("6", Packet::Noop),
        ];
        for (wire, expected) in cases {
            let packet = Packet::decode_text(Bytes::from(wire)).unwrap();
            assert_eq!(packet, expected, "{wire}");
            assert_eq!(packet.to_frame(), Frame::Text(Bytes::from(wire)), "{wire}");
        }
    }

    #[test]
    fn rejects_bad_text_frames() {
        assert_eq!(Packet::decode_text(Bytes::new()), Err(DecodeError::Empty));
        assert_eq!(
            Packet::decode_text(Bytes::from_static(b"abc")),
            Err(DecodeError::UnknownType(b'a'))
        );
        assert_eq!(
            Packet::decode_text(Bytes::from_static(b"7")),
            Err(DecodeError::UnknownType(b'7'))
        );
        assert_eq!(
            Packet::decode_text(Bytes::from_static(b"4\xff")),
            Err(DecodeError::InvalidUtf8)
        );
    }

    #[test]
    fn text_messages_are_written_without_a_copy() {
        let text = Text::new("héllo");
        let packet = Packet::Message(Message::Text(text.clone()));
        let Frame::Text(frame) = packet.to_frame() else {
            panic!("text frame expected")
        };
        assert_eq!(frame.as_ptr(), text.encoded().as_ptr());
        assert_eq!(text.as_str(), "héllo");
        assert_eq!(text.len(), "héllo".len());
        assert_eq!(text.to_bytes(), Bytes::from("héllo"));
    }

    #[test]
    fn binary_frames_are_messages() {
        let packet = Packet::decode_binary(Bytes::from_static(&[1, 2, 3]));
        assert_eq!(packet, Packet::Message(Message::binary(vec![1, 2, 3])));
        assert_eq!(
            packet.to_frame(),
            Frame::Binary(Bytes::from_static(&[1, 2, 3]))
        );
    }

    #[test]
    fn text_from_encoded_checks_its_input() {
        assert!(Text::from_encoded(Bytes::from_static(b"4ok")).is_ok());
        assert_eq!(
            Text::from_encoded(Bytes::from_static(b"2ok")),
            Err(DecodeError::UnexpectedType(b'2'))
        );
        assert_eq!(Text::from_encoded(Bytes::new()), Err(DecodeError::Empty));
        assert_eq!(
            Text::from_encoded(Bytes::from_static(b"4\xc3")),
            Err(DecodeError::InvalidUtf8)
        );
    }
}
