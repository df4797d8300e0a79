//! The handshake: the JSON data of the `open` packet.

use serde::{Deserialize, Serialize};

use crate::error::DecodeError;

/// What the server tells a client when a session opens.
///
/// Serialises to exactly the five fields of the specification:
/// `{"sid":…,"upgrades":[…],"pingInterval":…,"pingTimeout":…,"maxPayload":…}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Handshake {
    /// The session id, sent back by the client in the `sid` query parameter.
    pub sid: String,
    /// Transports the client may upgrade to (`["websocket"]` from long-polling, else empty).
    pub upgrades: Vec<String>,
    /// Milliseconds between the server's pings.
    pub ping_interval: u64,
    /// Milliseconds the client has to answer a ping.
    pub ping_timeout: u64,
    /// Largest number of bytes the server accepts in one payload or message.
    pub max_payload: u64,
}

impl Handshake {
    /// The JSON text of the handshake.
    pub fn to_json(&self) -> String {
        // Serialising a struct of strings and integers into a String cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Parses the JSON data of an `open` packet.
    pub fn from_json(data: &[u8]) -> Result<Self, DecodeError> {
        serde_json::from_slice(data).map_err(|_| DecodeError::InvalidHandshake)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn has_exactly_the_five_fields() {
        let handshake = Handshake {
            sid: "lv_VI97HAXpY6yYWAAAC".into(),
            upgrades: vec!["websocket".into()],
            ping_interval: 25000,
            ping_timeout: 20000,
            max_payload: 1_000_000,
        };
        let json = handshake.to_json();
        assert_eq!(
            json,
            r#"{"sid":"lv_VI97HAXpY6yYWAAAC","upgrades":["websocket"],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}"#
        );
        assert_eq!(Handshake::from_json(json.as_bytes()), Ok(handshake));
        assert_eq!(
            Handshake::from_json(b"{}"),
            Err(DecodeError::InvalidHandshake)
        );
    }
}
