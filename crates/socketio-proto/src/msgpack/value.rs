//! Reading msgpack values as notepack.io (the encoder of the npm parser) writes them,
//! without recursion where a value is only skipped.

use bytes::Bytes;

use crate::error::ParseError;
use crate::value::{Map, Value};

/// Deepest nesting a decoded value may have (serde_json's limit too).
const MAX_DEPTH: usize = 128;

/// Where a msgpack value starts and ends, and how many items a container holds.
pub(crate) struct Item {
    pub(crate) end: usize,
}

pub(crate) fn read_be(buf: &[u8], pos: usize, n: usize) -> Option<u64> {
    let bytes = buf.get(pos..pos.checked_add(n)?)?;
    Some(bytes.iter().fold(0u64, |acc, &b| (acc << 8) | u64::from(b)))
}

/// The header of the value at `pos`: its length in bytes before the payload, the payload's
/// length in bytes (scalars, strings, binary), and the items it contains (containers).
pub(crate) fn header(buf: &[u8], pos: usize) -> Option<(usize, u64, u64)> {
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
pub(crate) fn skip(buf: &[u8], pos: usize) -> Option<Item> {
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

pub(crate) fn read_str(buf: &[u8], pos: usize) -> Option<&str> {
    let (head, len, _) = header(buf, pos)?;
    if !matches!(buf[pos], 0xa0..=0xbf | 0xd9..=0xdb) {
        return None;
    }
    let start = pos + head;
    std::str::from_utf8(buf.get(start..start.checked_add(usize::try_from(len).ok()?)?)?).ok()
}

pub(crate) fn read_int(buf: &[u8], pos: usize) -> Option<i128> {
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
pub(crate) fn is_nil(buf: &[u8], pos: usize) -> bool {
    match buf.get(pos) {
        Some(0xc0) => true,
        Some(0xd4) => buf.get(pos + 1) == Some(&0),
        _ => false,
    }
}

pub(crate) fn to_value(bytes: &[u8]) -> Result<Value, ParseError> {
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
