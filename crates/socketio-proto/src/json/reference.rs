//! The placeholder check as serde_json saw it, kept as the reference the scanner is tested
//! against.

use std::fmt;

use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};

use crate::error::ParseError;

/// The check as serde_json saw it, before the scanner took it over: what the scanner's
/// answers are compared with.
pub(crate) fn check_placeholders(source: &[u8], attachments: usize) -> Result<(), ParseError> {
    let mut used = vec![false; attachments];
    let mut de = serde_json::Deserializer::from_slice(source);
    PlaceholderCheck { used: &mut used }
        .deserialize(&mut de)
        .map_err(|_| ParseError::IllegalPlaceholder)
}

struct PlaceholderCheck<'a> {
    used: &'a mut [bool],
}

impl<'de> DeserializeSeed<'de> for PlaceholderCheck<'_> {
    type Value = ();

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

enum Key {
    Placeholder,
    Num,
    Other,
}

struct KeyVisitor;

impl Visitor<'_> for KeyVisitor {
    type Value = Key;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object key")
    }

    fn visit_str<E: de::Error>(self, key: &str) -> Result<Key, E> {
        Ok(match key {
            "_placeholder" => Key::Placeholder,
            "num" => Key::Num,
            _ => Key::Other,
        })
    }
}

impl<'de> de::Deserialize<'de> for Key {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Key, D::Error> {
        d.deserialize_str(KeyVisitor)
    }
}

impl<'de> Visitor<'de> for PlaceholderCheck<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("JSON data")
    }

    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }

    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }

    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }

    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }

    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }

    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq
            .next_element_seed(PlaceholderCheck {
                used: &mut *self.used,
            })?
            .is_some()
        {}
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut is_placeholder = false;
        let mut num = None;
        while let Some(key) = map.next_key::<Key>()? {
            match key {
                Key::Placeholder => {
                    is_placeholder = map.next_value::<serde_json::Value>()? == true;
                }
                Key::Num => num = Some(map.next_value::<serde_json::Value>()?),
                Key::Other => map.next_value_seed(PlaceholderCheck {
                    used: &mut *self.used,
                })?,
            }
        }
        if is_placeholder {
            let index = num
                .as_ref()
                .and_then(serde_json::Value::as_u64)
                .and_then(|n| usize::try_from(n).ok())
                .filter(|&n| n < self.used.len())
                .ok_or_else(|| de::Error::custom("illegal placeholder"))?;
            if std::mem::replace(&mut self.used[index], true) {
                return Err(de::Error::custom("placeholder used twice"));
            }
        }
        Ok(())
    }
}
