//! The arguments of an event or an ack, kept as they arrived.
//!
//! A server that relays or echoes arguments should not parse and re-serialise them: [`Args`]
//! keeps the received bytes (a JSON array and its binary attachments, or a msgpack array),
//! checked once by the decoder, and an encoder writes them back unchanged. A handler that
//! wants types deserialises them with [`Args::deserialize`].

use std::fmt;
use std::marker::PhantomData;

use bytes::Bytes;
use serde::de::value::SeqAccessDeserializer;
use serde::de::{DeserializeOwned, IgnoredAny, SeqAccess, Visitor};

use crate::value::Value;

/// Arguments of an event (after its name) or of an ack.
#[derive(Clone, PartialEq, Default)]
pub struct Args(pub(crate) Repr);

#[derive(Clone, PartialEq, Default)]
pub(crate) enum Repr {
    /// No arguments.
    #[default]
    Empty,
    /// Elements of the JSON array `source` from index `skip`; the first starts at byte
    /// `start`. Placeholders in it stand for `attachments`.
    Json {
        source: Bytes,
        skip: usize,
        start: usize,
        attachments: Vec<Bytes>,
    },
    /// Elements of the msgpack array `source` from index `skip`: `count` elements encoded
    /// from byte `start` to the end.
    MsgPack {
        source: Bytes,
        skip: usize,
        start: usize,
        count: usize,
    },
    /// Values built by the application.
    Values(Vec<Value>),
}

/// Arguments that do not deserialise into the requested type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ArgsError(String);

impl ArgsError {
    pub(crate) fn new(message: impl fmt::Display) -> Self {
        ArgsError(message.to_string())
    }
}

impl fmt::Display for ArgsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid arguments: {}", self.0)
    }
}

impl std::error::Error for ArgsError {}

impl From<crate::value::ValueError> for ArgsError {
    fn from(error: crate::value::ValueError) -> Self {
        ArgsError::new(error)
    }
}

impl fmt::Debug for Args {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Repr::Empty => f.write_str("Args[]"),
            Repr::Json {
                source,
                start,
                attachments,
                ..
            } => write!(
                f,
                "Args(json {:?}, {} attachments)",
                String::from_utf8_lossy(&source[*start..]),
                attachments.len()
            ),
            Repr::MsgPack { count, .. } => write!(f, "Args(msgpack, {count} values)"),
            Repr::Values(values) => write!(f, "Args({values:?})"),
        }
    }
}

impl From<Vec<Value>> for Args {
    fn from(values: Vec<Value>) -> Self {
        Args::from_values(values)
    }
}

impl Args {
    /// No arguments.
    pub fn new() -> Self {
        Args(Repr::Empty)
    }

    /// Arguments from values.
    pub fn from_values(values: Vec<Value>) -> Self {
        if values.is_empty() {
            Args(Repr::Empty)
        } else {
            Args(Repr::Values(values))
        }
    }

    /// Typed arguments as a list, spread as an emit spreads them: a tuple gives one
    /// argument per element, `()` none, anything else one (`bytes::Bytes` inside stays
    /// binary).
    pub fn from_serialize<T: serde::Serialize + ?Sized>(args: &T) -> Result<Self, ArgsError> {
        use crate::encode::{Shape, shape_of};
        let shape = shape_of(args);
        if shape == Shape::Unit {
            return Ok(Args::new());
        }
        let value = Value::from_serialize(args).map_err(ArgsError::new)?;
        Ok(match (shape, value) {
            (Shape::Tuple, Value::Array(items)) => Args::from_values(items),
            (_, value) => Args::from_values(vec![value]),
        })
    }

    /// Whether there are no arguments.
    pub fn is_empty(&self) -> bool {
        match &self.0 {
            Repr::Empty => true,
            Repr::Json { source, start, .. } => source[*start..].first() == Some(&b']'),
            Repr::MsgPack { count, .. } => *count == 0,
            Repr::Values(values) => values.is_empty(),
        }
    }

    /// About how many bytes the arguments hold (what was received, attachments included;
    /// 0 for values built by the application): for bounding buffers of them.
    pub fn byte_len(&self) -> usize {
        match &self.0 {
            Repr::Empty | Repr::Values(_) => 0,
            Repr::Json {
                source,
                attachments,
                ..
            } => source.len() + attachments.iter().map(Bytes::len).sum::<usize>(),
            Repr::MsgPack { source, .. } => source.len(),
        }
    }

    /// The binary attachments, for arguments that came from the JSON parser.
    pub fn attachments(&self) -> &[Bytes] {
        match &self.0 {
            Repr::Json { attachments, .. } => attachments,
            _ => &[],
        }
    }

    /// The arguments as `T`, read as a sequence: a tuple takes one argument per element,
    /// `Vec<Value>` takes them all, a struct takes them as its fields in order. Arguments
    /// beyond what `T` reads are ignored, as JavaScript ignores extra arguments. Binary
    /// data deserialises into `bytes::Bytes` (or `Vec<u8>`) fields.
    ///
    /// ```
    /// # use socketio_proto::{Args, Value};
    /// let args = Args::from_values(vec![Value::from("hello"), Value::from(42u64)]);
    /// let (text, n): (String, u32) = args.deserialize()?;
    /// assert_eq!((text.as_str(), n), ("hello", 42));
    /// # Ok::<(), socketio_proto::ArgsError>(())
    /// ```
    pub fn deserialize<T: DeserializeOwned>(&self) -> Result<T, ArgsError> {
        match &self.0 {
            Repr::Json {
                source,
                skip,
                attachments,
                ..
            } if attachments.is_empty() => {
                let mut de = serde_json::Deserializer::from_slice(source);
                serde::Deserializer::deserialize_seq(&mut de, SkipThen::<T>::new(*skip))
                    .map_err(ArgsError::new)
            }
            // msgpack goes through values: notepack's extension types (ArrayBuffer,
            // undefined) have no serde form. Extra arguments are ignored here too (no
            // end-of-sequence check).
            _ => {
                let values = self.to_values()?;
                let seq = serde::de::value::SeqDeserializer::<_, crate::value::ValueError>::new(
                    values.into_iter(),
                );
                T::deserialize(SeqAccessDeserializer::new(seq)).map_err(ArgsError::new)
            }
        }
    }

    /// The argument at `index` as `T`.
    pub fn get<T: DeserializeOwned>(&self, index: usize) -> Result<T, ArgsError> {
        if let Repr::Json {
            source,
            skip,
            attachments,
            ..
        } = &self.0
            && attachments.is_empty()
        {
            let mut de = serde_json::Deserializer::from_slice(source);
            return serde::Deserializer::deserialize_seq(&mut de, Nth::<T>::new(skip + index))
                .map_err(ArgsError::new);
        }
        let mut values = self.to_values()?;
        if index >= values.len() {
            return Err(ArgsError::new(format!("no argument at index {index}")));
        }
        values
            .swap_remove(index)
            .deserialize_into()
            .map_err(ArgsError::new)
    }

    /// The arguments after the first `n`, without a copy: a relay that consumed a room
    /// name forwards the rest unchanged.
    ///
    /// ```
    /// # use socketio_proto::{Args, Value};
    /// let args = Args::from_values(vec![Value::from("room"), Value::from(1u64), Value::from(2u64)]);
    /// let rest: (u8, u8) = args.skip(1).deserialize()?;
    /// assert_eq!(rest, (1, 2));
    /// # Ok::<(), socketio_proto::ArgsError>(())
    /// ```
    pub fn skip(&self, n: usize) -> Args {
        match &self.0 {
            Repr::Empty => Args(Repr::Empty),
            Repr::Json {
                source,
                skip,
                attachments,
                ..
            } => {
                let Ok(start) = crate::json::scan::element_start(source, skip + n) else {
                    return Args(Repr::Empty);
                };
                Args(Repr::Json {
                    source: source.clone(),
                    skip: skip + n,
                    start,
                    attachments: attachments.clone(),
                })
            }
            Repr::MsgPack {
                source,
                skip,
                start,
                count,
            } => {
                let mut at = *start;
                let mut taken = 0;
                while taken < n.min(*count) {
                    match crate::msgpack::value::skip_value(source, at) {
                        Some(end) => at = end,
                        None => return Args(Repr::Empty),
                    }
                    taken += 1;
                }
                Args(Repr::MsgPack {
                    source: source.clone(),
                    skip: skip + taken,
                    start: at,
                    count: count - taken,
                })
            }
            Repr::Values(values) => Args::from_values(values.iter().skip(n).cloned().collect()),
        }
    }

    /// The last argument, if it is a string. With connection state recovery the server
    /// appends each packet's offset as a last string argument, and a client keeps the
    /// last one it saw; this reads it without building the other arguments.
    ///
    /// ```
    /// # use socketio_proto::{Args, Value};
    /// let args = Args::from_values(vec![Value::from(1u64), Value::from("MzE")]);
    /// assert_eq!(args.last_str().as_deref(), Some("MzE"));
    /// assert_eq!(Args::from_values(vec![Value::from("a"), Value::from(2u64)]).last_str(), None);
    /// ```
    pub fn last_str(&self) -> Option<String> {
        match &self.0 {
            Repr::Empty => None,
            // Placeholders are objects in the source, so binary arguments are read as
            // not strings, as they are not.
            Repr::Json { source, skip, .. } => {
                let mut de = serde_json::Deserializer::from_slice(source);
                serde::Deserializer::deserialize_seq(&mut de, LastStr { skip: *skip })
                    .ok()
                    .flatten()
            }
            Repr::MsgPack { .. } => self.to_values().ok()?.last()?.as_str().map(str::to_owned),
            Repr::Values(values) => values.last()?.as_str().map(str::to_owned),
        }
    }

    /// The arguments as values, binary data in place.
    pub fn to_values(&self) -> Result<Vec<Value>, ArgsError> {
        match &self.0 {
            Repr::Empty => Ok(Vec::new()),
            Repr::Json {
                source,
                skip,
                attachments,
                ..
            } => {
                let values: Vec<Value> = serde_json::from_slice(source).map_err(ArgsError::new)?;
                Ok(values
                    .into_iter()
                    .skip(*skip)
                    .map(|value| crate::json::raw::substitute_placeholders(value, attachments))
                    .collect())
            }
            Repr::MsgPack { source, skip, .. } => {
                match crate::msgpack::value::decode_value(source, 0, 0) {
                    Some((Value::Array(values), _)) => Ok(values.into_iter().skip(*skip).collect()),
                    _ => Err(ArgsError::new("invalid msgpack arguments")),
                }
            }
            Repr::Values(values) => Ok(values.clone()),
        }
    }
}

/// Deserialises the element at index `n` of a sequence as `T`, skipping the others.
struct Nth<T> {
    n: usize,
    target: PhantomData<T>,
}

impl<T> Nth<T> {
    fn new(n: usize) -> Self {
        Nth {
            n,
            target: PhantomData,
        }
    }
}

impl<'de, T: DeserializeOwned> Visitor<'de> for Nth<T> {
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of arguments")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<T, A::Error> {
        for _ in 0..self.n {
            if seq.next_element::<IgnoredAny>()?.is_none() {
                return Err(serde::de::Error::custom(format!(
                    "no argument at index {}",
                    self.n
                )));
            }
        }
        let value = seq
            .next_element::<T>()?
            .ok_or_else(|| serde::de::Error::custom(format!("no argument at index {}", self.n)))?;
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(value)
    }
}

/// Deserialises `T` from the elements of a sequence after the first `skip` ones, then
/// drains what `T` did not read.
struct SkipThen<T> {
    skip: usize,
    target: PhantomData<T>,
}

impl<T> SkipThen<T> {
    fn new(skip: usize) -> Self {
        SkipThen {
            skip,
            target: PhantomData,
        }
    }
}

impl<'de, T: DeserializeOwned> Visitor<'de> for SkipThen<T> {
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of arguments")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<T, A::Error> {
        for _ in 0..self.skip {
            seq.next_element::<IgnoredAny>()?;
        }
        let value = T::deserialize(SeqAccessDeserializer::new(&mut seq))?;
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(value)
    }
}

/// Reads a sequence after its first `skip` elements and keeps the last element if it is a
/// string.
struct LastStr {
    skip: usize,
}

impl<'de> Visitor<'de> for LastStr {
    type Value = Option<String>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of arguments")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        for _ in 0..self.skip {
            seq.next_element::<IgnoredAny>()?;
        }
        let mut last = None;
        while let Some(MaybeStr(value)) = seq.next_element()? {
            last = value;
        }
        Ok(last)
    }
}

/// A value kept only if it is a string.
struct MaybeStr(Option<String>);

impl<'de> serde::Deserialize<'de> for MaybeStr {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = MaybeStr;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any value")
            }
            fn visit_str<E>(self, v: &str) -> Result<MaybeStr, E> {
                Ok(MaybeStr(Some(v.to_owned())))
            }
            fn visit_string<E>(self, v: String) -> Result<MaybeStr, E> {
                Ok(MaybeStr(Some(v)))
            }
            fn visit_bool<E>(self, _: bool) -> Result<MaybeStr, E> {
                Ok(MaybeStr(None))
            }
            fn visit_i64<E>(self, _: i64) -> Result<MaybeStr, E> {
                Ok(MaybeStr(None))
            }
            fn visit_u64<E>(self, _: u64) -> Result<MaybeStr, E> {
                Ok(MaybeStr(None))
            }
            fn visit_f64<E>(self, _: f64) -> Result<MaybeStr, E> {
                Ok(MaybeStr(None))
            }
            fn visit_unit<E>(self) -> Result<MaybeStr, E> {
                Ok(MaybeStr(None))
            }
            fn visit_none<E>(self) -> Result<MaybeStr, E> {
                Ok(MaybeStr(None))
            }
            fn visit_bytes<E>(self, _: &[u8]) -> Result<MaybeStr, E> {
                Ok(MaybeStr(None))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<MaybeStr, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(MaybeStr(None))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<MaybeStr, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(MaybeStr(None))
            }
        }
        deserializer.deserialize_any(V)
    }
}

#[cfg(test)]
mod from_serialize_tests {
    use super::*;

    #[test]
    fn typed_arguments_spread_as_an_emit_spreads_them() {
        assert!(Args::from_serialize(&()).unwrap().is_empty());
        let two = Args::from_serialize(&("a", 1)).unwrap();
        assert_eq!(
            two.to_values().unwrap(),
            vec![Value::from("a"), Value::from(1u64)]
        );
        let one = Args::from_serialize(&vec![1, 2]).unwrap();
        assert_eq!(one.to_values().unwrap().len(), 1);
        let binary = Args::from_serialize(&Bytes::from_static(b"\x01")).unwrap();
        assert_eq!(
            binary.to_values().unwrap(),
            vec![Value::Binary(Bytes::from_static(b"\x01"))]
        );
    }
}
