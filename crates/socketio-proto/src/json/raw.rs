//! Reading JSON that serde_json has checked: where the elements of an array start, and
//! binary attachments in place of their placeholders.

use bytes::Bytes;
use serde_json::value::RawValue;

use crate::value::Value;

/// Offset of `raw` within `data`: `raw` was borrowed from it by serde_json.
pub(crate) fn offset_in(data: &[u8], raw: &RawValue) -> usize {
    raw.get().as_ptr() as usize - data.as_ptr() as usize
}

/// Offset of the closing bracket of the array `data` (which serde_json has validated).
pub(crate) fn closing_bracket(data: &[u8]) -> usize {
    data.iter().rposition(|&b| b == b']').unwrap_or(data.len())
}

/// Puts attachments in place of the placeholders of a checked binary packet.
pub(crate) fn substitute_placeholders(value: Value, attachments: &[Bytes]) -> Value {
    match value {
        Value::Object(map) => {
            if map.get("_placeholder") == Some(&Value::Bool(true))
                && let Some(binary) = map
                    .get("num")
                    .and_then(|num| match num {
                        Value::Number(n) => n.as_u64(),
                        _ => None,
                    })
                    .and_then(|n| attachments.get(usize::try_from(n).ok()?))
            {
                return Value::Binary(binary.clone());
            }
            Value::Object(
                map.into_iter()
                    .map(|(k, v)| (k, substitute_placeholders(v, attachments)))
                    .collect(),
            )
        }
        Value::Array(items) => Value::Array(
            items
                .into_iter()
                .map(|v| substitute_placeholders(v, attachments))
                .collect(),
        ),
        other => other,
    }
}
