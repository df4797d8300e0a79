//! The session state machine under any sequence of inputs and clock jumps: it never panics,
//! closes at most once, and never asks to be woken in the past of an input it has handled.
#![no_main]

use std::time::Duration;

use bytes::Bytes;
use engineio_proto::{
    Event, Message, Packet, Session, SessionConfig, Sid, Timestamp, TransportKind,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&first, rest)) = data.split_first() else { return };
    let transport = if first & 1 == 0 { TransportKind::Polling } else { TransportKind::WebSocket };
    let config = SessionConfig {
        ping_interval: Duration::from_millis(300),
        ping_timeout: Duration::from_millis(200),
        upgrade_timeout: Duration::from_millis(1000),
        close_timeout: Duration::from_millis(500),
        max_payload: 1000,
        allow_upgrades: first & 2 == 0,
    };
    let mut now = Timestamp::ZERO;
    let mut session = Session::new(Sid::from_random([9; 15]), config, transport, now);
    let mut closes = 0;
    for chunk in rest.chunks(3) {
        let [action, arg, step] = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        now = now + Duration::from_millis(u64::from(step) * 4);
        let packet = match Packet::decode_text(Bytes::copy_from_slice(&[b'0' + arg % 8, b'x'])) {
            Ok(packet) => packet,
            Err(_) => Packet::Ping(Bytes::from_static(b"probe")),
        };
        match action % 12 {
            0 => { let _ = session.handle_poll(now); }
            1 => session.handle_poll_aborted(now),
            2 => session.handle_packet(now, packet),
            3 => { let _ = session.handle_probe_opened(now); }
            4 => session.handle_probe_packet(now, packet),
            5 => session.handle_probe_closed(now),
            6 => { let _ = session.send(Message::text("m")); }
            7 => session.close(now),
            8 => session.handle_transport_error(now),
            9 => session.handle_parse_error(now),
            10 => session.handle_transport_closed(now),
            _ => {
                session.handle_timeout(now);
                assert!(session.poll_timeout().is_none_or(|deadline| deadline > now));
            }
        }
        while session.poll_transmit().is_some() {}
        while let Some(event) = session.poll_event() {
            if matches!(event, Event::Closed(_)) {
                closes += 1;
            }
        }
        assert!(closes <= 1);
    }
    assert_eq!(closes == 1, session.is_closed());
});
