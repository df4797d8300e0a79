//! The JSON parser's own scanner of event data against serde_json: an event packet
//! (`2` + the input) decodes exactly when serde_json reads the input as an array whose
//! first element is a string or a number (and not a reserved name), and then the
//! arguments are the array's other elements.
#![no_main]

use engineio_proto::Message;
use libfuzzer_sys::fuzz_target;
use serde_json::value::RawValue;
use socketio_proto::{DecoderLimits, PacketKind, Parser, is_reserved_event};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    // After `2`, digits would be read as an ack id and `/` as a namespace.
    if text.starts_with(|c: char| c.is_ascii_digit() || c == '/') {
        return;
    }
    let reference = serde_json::from_str::<Vec<&RawValue>>(text).ok().and_then(|elements| {
        let first = elements.first()?.get();
        let name = match first.as_bytes()[0] {
            b'"' => serde_json::from_str::<String>(first).ok()?,
            b'-' | b'0'..=b'9' => first.to_owned(),
            _ => return None,
        };
        if is_reserved_event(&name) {
            return None;
        }
        // Values serde_json cannot hold (`1e400`) are compared as absent.
        let rest: Option<Vec<serde_json::Value>> =
            elements[1..].iter().map(|raw| serde_json::from_str(raw.get()).ok()).collect();
        Some((name, rest))
    });
    let mut decoder = Parser::Json.decoder(DecoderLimits::default());
    let ours = match decoder.decode(Message::text(&format!("2{text}"))) {
        Ok(Some(packet)) => match packet.kind {
            PacketKind::Event { name, args, .. } => {
                Some((name, args.deserialize::<Vec<serde_json::Value>>().ok()))
            }
            _ => panic!("an event packet decoded as another kind"),
        },
        Ok(None) => panic!("a text event waits for nothing"),
        Err(_) => None,
    };
    assert_eq!(ours, reference, "{text:?}");
});
