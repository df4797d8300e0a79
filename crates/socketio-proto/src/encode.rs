//! What encoders produce, and how typed arguments are spread into an argument list.

use std::fmt;

use bytes::Bytes;
use engineio_proto::Message;
use serde::Serialize;
use serde::ser::{self, Impossible, Serializer};

/// One encoded packet: the Engine.IO messages to send, in order: the packet itself, then
/// its binary attachments (JSON parser). Cloning shares the bytes, so a broadcast encodes
/// once and hands the same buffers to every recipient.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Encoded {
    pub(crate) first: Message,
    pub(crate) attachments: Vec<Bytes>,
}

impl Encoded {
    pub(crate) fn single(first: Message) -> Self {
        Encoded {
            first,
            attachments: Vec::new(),
        }
    }

    /// The packet's message (text for JSON, binary for msgpack).
    pub fn first(&self) -> &Message {
        &self.first
    }

    /// The packet's message, taken (a packet without attachments is that message alone).
    pub fn into_first(self) -> Message {
        self.first
    }

    /// The binary attachments that follow it.
    pub fn attachments(&self) -> &[Bytes] {
        &self.attachments
    }

    /// Every message, in sending order.
    pub fn messages(&self) -> impl Iterator<Item = Message> + '_ {
        std::iter::once(self.first.clone())
            .chain(self.attachments.iter().cloned().map(Message::Binary))
    }

    /// Number of Engine.IO messages.
    pub fn message_count(&self) -> usize {
        1 + self.attachments.len()
    }

    /// Bytes of data in all the messages.
    pub fn byte_len(&self) -> usize {
        self.first.len() + self.attachments.iter().map(Bytes::len).sum::<usize>()
    }
}

/// How a typed value becomes an argument list: a tuple spreads into one argument per
/// element, `()` is no argument, anything else is one argument.
///
/// So `emit("move", &(x, y))` sends two arguments, `emit("chat", &message)` one, and
/// `emit("ping", &())` none; a `Vec` is one argument holding an array.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Shape {
    Unit,
    Tuple,
    Single,
}

/// Finds the shape by letting the value start serialising into a probe that stops at once.
pub(crate) fn shape_of<T: Serialize + ?Sized>(value: &T) -> Shape {
    match value.serialize(Probe) {
        Err(Found(shape)) => shape,
        Ok(never) => match never {},
    }
}

#[derive(Debug)]
struct Found(Shape);

impl fmt::Display for Found {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.0)
    }
}

impl std::error::Error for Found {}

impl ser::Error for Found {
    fn custom<T: fmt::Display>(_msg: T) -> Self {
        Found(Shape::Single)
    }
}

enum Never {}

struct Probe;

macro_rules! single {
    ($($method:ident($($arg:ty),*)),* $(,)?) => {
        $(fn $method(self, $(_: $arg),*) -> Result<Never, Found> {
            Err(Found(Shape::Single))
        })*
    };
}

impl Serializer for Probe {
    type Ok = Never;
    type Error = Found;
    type SerializeSeq = Impossible<Never, Found>;
    type SerializeTuple = Impossible<Never, Found>;
    type SerializeTupleStruct = Impossible<Never, Found>;
    type SerializeTupleVariant = Impossible<Never, Found>;
    type SerializeMap = Impossible<Never, Found>;
    type SerializeStruct = Impossible<Never, Found>;
    type SerializeStructVariant = Impossible<Never, Found>;

    single! {
        serialize_bool(bool), serialize_i8(i8), serialize_i16(i16), serialize_i32(i32),
        serialize_i64(i64), serialize_u8(u8), serialize_u16(u16), serialize_u32(u32),
        serialize_u64(u64), serialize_f32(f32), serialize_f64(f64), serialize_char(char),
        serialize_str(&str), serialize_bytes(&[u8]), serialize_none(),
        serialize_unit_struct(&'static str),
        serialize_unit_variant(&'static str, u32, &'static str),
    }

    fn serialize_unit(self) -> Result<Never, Found> {
        Err(Found(Shape::Unit))
    }

    fn serialize_some<T: Serialize + ?Sized>(self, _: &T) -> Result<Never, Found> {
        Err(Found(Shape::Single))
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        value: &T,
    ) -> Result<Never, Found> {
        // A newtype is transparent on the wire: look through it.
        value.serialize(self)
    }

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> Result<Never, Found> {
        Err(Found(Shape::Single))
    }

    fn serialize_seq(self, _: Option<usize>) -> Result<Self::SerializeSeq, Found> {
        Err(Found(Shape::Single))
    }

    fn serialize_tuple(self, _: usize) -> Result<Self::SerializeTuple, Found> {
        Err(Found(Shape::Tuple))
    }

    fn serialize_tuple_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleStruct, Found> {
        Err(Found(Shape::Single))
    }

    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleVariant, Found> {
        Err(Found(Shape::Single))
    }

    fn serialize_map(self, _: Option<usize>) -> Result<Self::SerializeMap, Found> {
        Err(Found(Shape::Single))
    }

    fn serialize_struct(self, _: &'static str, _: usize) -> Result<Self::SerializeStruct, Found> {
        Err(Found(Shape::Single))
    }

    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStructVariant, Found> {
        Err(Found(Shape::Single))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Serialize)]
    struct Message {
        text: String,
    }

    #[derive(Serialize)]
    struct Wrapper((u8, u8));

    #[test]
    fn shapes() {
        assert_eq!(shape_of(&()), Shape::Unit);
        assert_eq!(shape_of(&("a", 1)), Shape::Tuple);
        assert_eq!(shape_of(&(1,)), Shape::Tuple);
        assert_eq!(shape_of(&Wrapper((1, 2))), Shape::Tuple);
        assert_eq!(shape_of(&vec![1, 2]), Shape::Single);
        assert_eq!(
            shape_of(&[1, 2]),
            Shape::Tuple,
            "arrays serialise as tuples in serde"
        );
        assert_eq!(shape_of("text"), Shape::Single);
        assert_eq!(shape_of(&Message { text: "x".into() }), Shape::Single);
        assert_eq!(shape_of(&None::<u8>), Shape::Single);
    }
}
