//! WebSocket frames, as a server reads a client's (masked) or a client a server's
//! (unmasked): decoding never panics, never holds a message over the limit, and gives the
//! same messages (or the same error) whether the bytes arrive at once or split at any point.
#![no_main]

use engineio_proto::websocket::{FrameDecoder, WsMessage};
use libfuzzer_sys::fuzz_target;

const LIMIT: usize = 4096;

fn decode(
    client: bool,
    pieces: &[&[u8]],
) -> (Vec<WsMessage>, Option<engineio_proto::websocket::WsError>) {
    let mut decoder = if client {
        FrameDecoder::client(LIMIT)
    } else {
        FrameDecoder::new(LIMIT)
    };
    let mut messages = Vec::new();
    for piece in pieces {
        let mut piece = *piece;
        loop {
            match decoder.decode(&mut piece) {
                Ok(Some(message)) => {
                    match &message {
                        WsMessage::Text(data) => {
                            assert!(data.len() <= LIMIT);
                            assert!(std::str::from_utf8(data).is_ok());
                        }
                        WsMessage::Binary(data) => assert!(data.len() <= LIMIT),
                        _ => {}
                    }
                    messages.push(message);
                }
                Ok(None) => break,
                Err(error) => return (messages, Some(error)),
            }
        }
    }
    (messages, None)
}

fuzz_target!(|data: &[u8]| {
    let Some((&split, data)) = data.split_first() else {
        return;
    };
    // The top bit picks the side, the rest where the bytes are split.
    let client = split & 0x80 != 0;
    let at = ((split & 0x7f) as usize).min(data.len());
    let whole = decode(client, &[data]);
    let split = decode(client, &[&data[..at], &data[at..]]);
    assert_eq!(whole, split);
});
