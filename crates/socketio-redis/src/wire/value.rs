//! Reading and writing the dynamic values the Node adapters exchange (JSON text or
//! msgpack, as `notepack.io` writes it), and the parts both wire formats share.

use socketio::{Map, Value};

use super::Opts;

/// `{key: value, ...}` in this order.
pub(crate) fn object<const N: usize>(pairs: [(&str, Value); N]) -> Value {
    let mut map = Map::with_capacity(N);
    for (key, value) in pairs {
        map.insert(key.to_owned(), value);
    }
    Value::Object(map)
}

/// `value[key]` as a string.
pub(crate) fn str_field<'a>(value: &'a Value, key: &str) -> Option<&'a str> {
    value.get(key)?.as_str()
}

/// `value[key]` as an unsigned integer.
pub(crate) fn u64_field(value: &Value, key: &str) -> Option<u64> {
    match value.get(key)? {
        Value::Number(n) => n.as_u64().or_else(|| n.as_f64().map(|f| f as u64)),
        _ => None,
    }
}

/// An array of room names (numbers, which Node allows as rooms, as their text).
pub(crate) fn strings(value: Option<&Value>) -> Vec<String> {
    let Some(Value::Array(items)) = value else {
        return Vec::new();
    };
    items
        .iter()
        .filter_map(|item| match item {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        })
        .collect()
}

/// Room names as an array.
pub(crate) fn string_array(items: &[String]) -> Value {
    Value::Array(items.iter().map(|s| Value::from(s.as_str())).collect())
}

/// JSON text (binary data, which JSON cannot hold, becomes arrays of bytes; the formats
/// use msgpack wherever binary may appear).
pub(crate) fn to_json(value: &Value) -> Vec<u8> {
    serde_json::to_vec(value).unwrap_or_else(|_| b"null".to_vec())
}

/// msgpack, maps with their keys, binary as `bin`.
pub(crate) fn to_msgpack(value: &Value) -> Vec<u8> {
    rmp_serde::to_vec_named(value).unwrap_or_else(|_| vec![0xc0])
}

/// JSON when the payload starts with `{` (as the Node adapters tell them apart), else
/// msgpack.
pub(crate) fn decode_any(payload: &[u8]) -> Option<Value> {
    if payload.first() == Some(&b'{') {
        serde_json::from_slice(payload).ok()
    } else {
        rmp_serde::from_slice(payload).ok()
    }
}

/// Node's encoded `BroadcastOptions`: `{rooms, except, flags}`.
pub(crate) fn opts_to_value(opts: &Opts) -> Value {
    let mut flags = Map::new();
    if opts.volatile {
        flags.insert("volatile".to_owned(), Value::Bool(true));
    }
    if let Some(timeout) = opts.timeout_ms {
        flags.insert("timeout".to_owned(), Value::from(timeout));
    }
    object([
        ("rooms", string_array(&opts.rooms)),
        ("except", string_array(&opts.except)),
        ("flags", Value::Object(flags)),
    ])
}

/// `{rooms, except}` without flags (the classic requests' `opts`).
pub(crate) fn rooms_to_value(opts: &Opts) -> Value {
    object([
        ("rooms", string_array(&opts.rooms)),
        ("except", string_array(&opts.except)),
    ])
}

/// Reads `{rooms, except, flags}`.
pub(crate) fn opts_from_value(value: Option<&Value>) -> Opts {
    let Some(value) = value else {
        return Opts::default();
    };
    let flags = value.get("flags");
    Opts {
        rooms: strings(value.get("rooms")),
        except: strings(value.get("except")),
        volatile: flags
            .and_then(|flags| flags.get("volatile"))
            .is_some_and(|v| matches!(v, Value::Bool(true))),
        timeout_ms: flags.and_then(|flags| u64_field(flags, "timeout")),
    }
}
