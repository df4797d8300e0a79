//! The client's Engine.IO session under any sequence of reports, for any of the transports
//! it asked for (or none), with clock jumps: it never panics, closes at most once, and
//! never asks to be woken in the past of a timeout it has handled.
#![no_main]

use std::time::Duration;

use bytes::Bytes;
use engineio_proto::client::{
    ClientEvent, ClientOptions, ClientSession, ClientTransmit, TransportFailure, TransportId,
};
use engineio_proto::{Endpoint, Message, Packet, Timestamp, TransportKind, encode_payload};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&first, rest)) = data.split_first() else { return };
    let transports = match first % 3 {
        0 => vec![TransportKind::Polling, TransportKind::WebSocket],
        1 => vec![TransportKind::WebSocket],
        _ => vec![TransportKind::WebSocket, TransportKind::Polling],
    };
    let options = ClientOptions {
        transports,
        upgrade: first & 4 == 0,
        remember_upgrade: first & 8 != 0,
        try_all_transports: first & 16 != 0,
        timestamp_requests: None,
    };
    let mut now = Timestamp::ZERO;
    let mut session = ClientSession::new(options, Endpoint::new(false, "h", 1), now, 0, first & 32 != 0);
    let mut transports: Vec<TransportId> = Vec::new();
    let mut closes = 0;
    let open = Packet::Open(Bytes::from_static(
        br#"{"sid":"s","upgrades":["websocket"],"pingInterval":300,"pingTimeout":200,"maxPayload":100}"#,
    ));
    for chunk in rest.chunks(3) {
        let [action, arg, step] = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        now = now + Duration::from_millis(u64::from(step) * 4);
        while let Some(transmit) = session.poll_transmit() {
            let id = match transmit {
                ClientTransmit::Poll { transport, .. }
                | ClientTransmit::Post { transport, .. }
                | ClientTransmit::Connect { transport, .. }
                | ClientTransmit::Send { transport, .. }
                | ClientTransmit::Close { transport } => transport,
            };
            if !transports.contains(&id) {
                transports.push(id);
            }
        }
        let Some(&transport) = transports.get(arg as usize % transports.len().max(1)) else {
            continue;
        };
        let packet = match arg % 6 {
            0 => open.clone(),
            1 => Packet::ping(),
            2 => Packet::Pong(Bytes::from_static(b"probe")),
            3 => Packet::Close,
            4 => Packet::Noop,
            _ => Packet::Message(Message::text("m")),
        };
        match action % 11 {
            0 => session.handle_poll_response(now, transport, encode_payload(&[packet])),
            1 => session.handle_poll_response(now, transport, Bytes::copy_from_slice(chunk)),
            2 => session.handle_opened(now, transport),
            3 => session.handle_packet(now, transport, packet),
            4 => session.handle_drain(now, transport),
            5 => session.handle_error(now, transport, TransportFailure::WebSocket, String::new()),
            6 => session.handle_closed(now, transport),
            7 => session.handle_decode_error(now, transport),
            8 => {
                let _ = session.send(Message::binary(vec![arg; arg as usize]));
            }
            9 => session.close(),
            _ => {
                session.handle_timeout(now);
                assert!(session.poll_timeout().is_none_or(|deadline| deadline > now));
            }
        }
        while let Some(event) = session.poll_event() {
            if matches!(event, ClientEvent::Closed(_)) {
                closes += 1;
            }
        }
        assert!(closes <= 1);
    }
});
