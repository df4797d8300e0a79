//! Binary attachments in place of the placeholders of checked JSON.

use bytes::Bytes;

use crate::value::Value;

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
