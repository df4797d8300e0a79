use super::*;
use crate::payload::encode_payload;

const T0: Timestamp = Timestamp::ZERO;

fn at(ms: u64) -> Timestamp {
    T0 + Duration::from_millis(ms)
}

fn handshake(upgrades: &[&str], max_payload: u64) -> Packet {
    let upgrades: Vec<String> = upgrades.iter().map(|u| format!("\"{u}\"")).collect();
    let json = format!(
        r#"{{"sid":"s1","upgrades":[{}],"pingInterval":300,"pingTimeout":200,"maxPayload":{max_payload}}}"#,
        upgrades.join(",")
    );
    Packet::Open(Bytes::from(json))
}

fn text(s: &str) -> Packet {
    Packet::Message(Message::text(s))
}

fn new_session(options: ClientOptions) -> ClientSession {
    ClientSession::new(options, Endpoint::new(false, "h", 3000), T0, 0, false)
}

fn transmits(session: &mut ClientSession) -> Vec<ClientTransmit> {
    std::iter::from_fn(|| session.poll_transmit()).collect()
}

fn events(session: &mut ClientSession) -> Vec<ClientEvent> {
    std::iter::from_fn(|| session.poll_event()).collect()
}

/// Opens a long-polling session and returns it with its transport, the next GET out.
fn open_polling(upgrades: &[&str], max_payload: u64) -> (ClientSession, TransportId) {
    let mut session = new_session(ClientOptions::default());
    let [ClientTransmit::Poll { transport, url }] = &transmits(&mut session)[..] else {
        panic!()
    };
    assert_eq!(url, "http://h:3000/engine.io/?EIO=4&transport=polling&t=0");
    let transport = *transport;
    session.handle_poll_response(
        T0,
        transport,
        encode_payload(&[handshake(upgrades, max_payload)]),
    );
    assert!(matches!(&events(&mut session)[..], [ClientEvent::Open(h)] if h.sid == "s1"));
    assert!(session.is_open());
    (session, transport)
}

#[test]
fn long_polling_handshake_messages_and_heartbeat() {
    let (mut session, t) = open_polling(&[], 1000);
    assert_eq!(
        transmits(&mut session),
        [ClientTransmit::Poll {
            transport: t,
            url: "http://h:3000/engine.io/?EIO=4&transport=polling&sid=s1&t=1".into()
        }]
    );
    // A ping within the payload is answered in a POST, and moves the deadline.
    assert_eq!(session.poll_timeout(), Some(at(500)));
    session.handle_poll_response(at(300), t, encode_payload(&[Packet::ping(), text("a")]));
    assert_eq!(
        events(&mut session),
        [ClientEvent::Ping, ClientEvent::Message(Message::text("a"))]
    );
    assert_eq!(session.poll_timeout(), Some(at(800)));
    let out = transmits(&mut session);
    assert!(matches!(&out[0], ClientTransmit::Post { body, .. } if &body[..] == b"3"));
    assert!(matches!(&out[1], ClientTransmit::Poll { .. }));
    // No ping in pingInterval + pingTimeout: `ping timeout`, with a goodbye POST.
    session.handle_timeout(at(799));
    assert!(events(&mut session).is_empty());
    session.handle_timeout(at(800));
    assert_eq!(
        events(&mut session),
        [ClientEvent::Closed(CloseReason::PingTimeout)]
    );
    let out = transmits(&mut session);
    assert!(matches!(&out[0], ClientTransmit::Post { body, .. } if &body[..] == b"1"));
    assert_eq!(out[1], ClientTransmit::Close { transport: t });
    assert_eq!(session.poll_timeout(), None);
}

#[test]
fn one_post_at_a_time_within_max_payload() {
    let (mut session, t) = open_polling(&[], 12);
    transmits(&mut session);
    session.send(Message::text("aaaa")).unwrap(); // "4aaaa": 5 bytes, goes at once
    session.send(Message::text("bbbb")).unwrap();
    session.send(Message::text("cccc")).unwrap();
    session.send(Message::binary(vec![1, 2, 3])).unwrap(); // "bAQID": 5 bytes
    let out = transmits(&mut session);
    assert!(matches!(&out[..], [ClientTransmit::Post { body, .. }] if &body[..] == b"4aaaa"));
    assert!(!session.is_writable());
    session.handle_drain(T0, t);
    // 5 + 1 + 5 = 11 fits in 12; the third would not.
    let out = transmits(&mut session);
    assert!(
        matches!(&out[..], [ClientTransmit::Post { body, .. }] if &body[..] == b"4bbbb\x1e4cccc")
    );
    session.handle_drain(T0, t);
    let out = transmits(&mut session);
    assert!(matches!(&out[..], [ClientTransmit::Post { body, .. }] if &body[..] == b"bAQID"));
    session.handle_drain(T0, t);
    assert!(transmits(&mut session).is_empty());
    assert!(session.is_writable());
    assert_eq!(
        session.send(Message::text("0123456789ab")),
        Err(SendError::TooLarge { len: 13, max: 12 })
    );
}

#[test]
fn upgrade_waits_for_the_get_and_the_post_then_sends_the_buffer_on_websocket() {
    let (mut session, poll) = open_polling(&["websocket"], 1000);
    let out = transmits(&mut session);
    let [
        ClientTransmit::Connect { transport: ws, url },
        ClientTransmit::Poll { .. },
    ] = &out[..]
    else {
        panic!("{out:?}")
    };
    assert_eq!(
        url,
        "ws://h:3000/engine.io/?EIO=4&transport=websocket&sid=s1"
    );
    let ws = *ws;
    assert!(!session.prior_websocket_success());
    session.send(Message::text("during")).unwrap();
    assert!(matches!(
        &transmits(&mut session)[..],
        [ClientTransmit::Post { .. }]
    ));

    session.handle_opened(T0, ws);
    assert_eq!(
        transmits(&mut session),
        [ClientTransmit::Send {
            transport: ws,
            packets: vec![Packet::Ping(Bytes::from_static(PROBE))]
        }]
    );
    session.handle_drain(T0, ws);
    session.handle_packet(T0, ws, Packet::Pong(Bytes::from_static(PROBE)));
    assert!(session.prior_websocket_success());
    // Pausing: nothing goes out while the GET and the POST are out.
    session.send(Message::text("buffered")).unwrap();
    assert!(transmits(&mut session).is_empty());
    assert!(!session.is_writable());
    session.handle_drain(T0, poll);
    assert!(transmits(&mut session).is_empty());
    // The GET comes back (the server answers it with a noop): the WebSocket takes over.
    session.handle_poll_response(T0, poll, encode_payload(&[Packet::Noop]));
    assert_eq!(
        transmits(&mut session),
        [
            ClientTransmit::Close { transport: poll },
            ClientTransmit::Send {
                transport: ws,
                packets: vec![Packet::Upgrade]
            }
        ]
    );
    assert_eq!(
        events(&mut session),
        [ClientEvent::Upgrade(TransportKind::WebSocket)]
    );
    assert_eq!(session.transport(), TransportKind::WebSocket);
    session.handle_drain(T0, ws);
    assert_eq!(
        transmits(&mut session),
        [ClientTransmit::Send {
            transport: ws,
            packets: vec![text("buffered")]
        }]
    );
    // Later packets and pings come over the WebSocket; reports on the old transport are
    // ignored.
    session.handle_poll_response(T0, poll, encode_payload(&[text("stale")]));
    session.handle_packet(at(10), ws, Packet::ping());
    assert_eq!(events(&mut session), [ClientEvent::Ping]);
    session.handle_drain(T0, ws);
    assert_eq!(
        transmits(&mut session),
        [ClientTransmit::Send {
            transport: ws,
            packets: vec![Packet::pong()]
        }]
    );
}

#[test]
fn a_failed_probe_leaves_long_polling_running() {
    let (mut session, poll) = open_polling(&["websocket"], 1000);
    let out = transmits(&mut session);
    let ClientTransmit::Connect { transport: ws, .. } = out[0] else {
        panic!()
    };
    session.handle_error(T0, ws, TransportFailure::WebSocket, "refused".into());
    assert_eq!(
        events(&mut session),
        [ClientEvent::UpgradeError(
            "probe error: websocket error".into()
        )]
    );
    assert_eq!(
        transmits(&mut session),
        [ClientTransmit::Close { transport: ws }]
    );
    assert!(session.is_open());
    session.send(Message::text("x")).unwrap();
    assert!(
        matches!(&transmits(&mut session)[..], [ClientTransmit::Post { transport, .. }] if *transport == poll)
    );

    // A probe answered wrongly fails too, and long-polling resumes after pausing.
    let (mut session, poll) = open_polling(&["websocket"], 1000);
    let ClientTransmit::Connect { transport: ws, .. } = transmits(&mut session)[0] else {
        panic!()
    };
    session.handle_opened(T0, ws);
    session.handle_packet(T0, ws, Packet::Pong(Bytes::from_static(b"nope")));
    assert_eq!(
        events(&mut session),
        [ClientEvent::UpgradeError("probe error".into())]
    );
    assert_eq!(session.transport(), TransportKind::Polling);
    session.handle_poll_response(T0, poll, encode_payload(&[text("still")]));
    assert_eq!(
        events(&mut session),
        [ClientEvent::Message(Message::text("still"))]
    );
}

#[test]
fn websocket_only_session() {
    let options = ClientOptions {
        transports: vec![TransportKind::WebSocket],
        ..ClientOptions::default()
    };
    let mut session = new_session(options);
    let [ClientTransmit::Connect { transport: ws, url }] = &transmits(&mut session)[..] else {
        panic!()
    };
    assert_eq!(url, "ws://h:3000/engine.io/?EIO=4&transport=websocket");
    let ws = *ws;
    session.handle_opened(T0, ws);
    session.send(Message::text("early")).unwrap();
    assert!(
        transmits(&mut session).is_empty(),
        "nothing before the handshake"
    );
    session.handle_packet(T0, ws, handshake(&[], 100));
    assert!(matches!(&events(&mut session)[..], [ClientEvent::Open(_)]));
    assert!(session.prior_websocket_success());
    assert_eq!(
        transmits(&mut session),
        [ClientTransmit::Send {
            transport: ws,
            packets: vec![text("early")]
        }]
    );
    // A binary message counts its raw length on a WebSocket.
    assert!(session.send(Message::binary(vec![0; 100])).is_ok());
    assert!(session.send(Message::binary(vec![0; 101])).is_err());
    session.handle_closed(T0, ws);
    assert_eq!(
        events(&mut session),
        [ClientEvent::Closed(CloseReason::TransportClose)]
    );
    assert!(session.is_closed());
    assert_eq!(session.send(Message::text("late")), Err(SendError::Closed));
}

#[test]
fn remember_upgrade_and_try_all_transports() {
    let options = ClientOptions {
        remember_upgrade: true,
        try_all_transports: true,
        ..ClientOptions::default()
    };
    let mut session =
        ClientSession::new(options.clone(), Endpoint::new(false, "h", 80), T0, 0, true);
    let [ClientTransmit::Connect { transport: ws, .. }] = transmits(&mut session)[..] else {
        panic!()
    };
    // The WebSocket fails before the handshake: long-polling is tried next.
    session.handle_error(T0, ws, TransportFailure::WebSocket, "refused".into());
    assert!(events(&mut session).is_empty());
    let out = transmits(&mut session);
    assert_eq!(out[0], ClientTransmit::Close { transport: ws });
    assert!(matches!(&out[1], ClientTransmit::Poll { url, .. } if url.starts_with("http://h/")));
    assert!(!session.prior_websocket_success());

    // Without rememberUpgrade, long-polling comes first whatever happened before.
    let mut session = ClientSession::new(
        ClientOptions::default(),
        Endpoint::new(false, "h", 80),
        T0,
        0,
        true,
    );
    assert!(matches!(
        transmits(&mut session)[..],
        [ClientTransmit::Poll { .. }]
    ));
}

#[test]
fn failures_close_with_transport_error() {
    let mut session = new_session(ClientOptions::default());
    let [ClientTransmit::Poll { transport, .. }] = transmits(&mut session)[..] else {
        panic!()
    };
    session.handle_error(T0, transport, TransportFailure::Poll, "HTTP 400".into());
    let expected = TransportError {
        failure: TransportFailure::Poll,
        description: "HTTP 400".into(),
    };
    assert_eq!(expected.to_string(), "xhr poll error: HTTP 400");
    assert_eq!(
        events(&mut session),
        [
            ClientEvent::Error(expected),
            ClientEvent::Closed(CloseReason::TransportError)
        ]
    );
    assert_eq!(
        transmits(&mut session),
        [ClientTransmit::Close { transport }]
    );

    // A payload that is not Engine.IO is a parser error.
    let (mut session, t) = open_polling(&[], 1000);
    session.handle_poll_response(T0, t, Bytes::from_static(b"9nope"));
    assert!(matches!(
        &events(&mut session)[..],
        [
            ClientEvent::Error(TransportError {
                failure: TransportFailure::Parse,
                ..
            }),
            ClientEvent::Closed(CloseReason::TransportError)
        ]
    ));
}

#[test]
fn the_server_closing_a_long_polling_session() {
    let (mut session, t) = open_polling(&[], 1000);
    transmits(&mut session);
    session.handle_poll_response(
        T0,
        t,
        encode_payload(&[text("last"), Packet::Close, text("never")]),
    );
    assert_eq!(
        events(&mut session),
        [
            ClientEvent::Message(Message::text("last")),
            ClientEvent::Closed(CloseReason::TransportClose)
        ]
    );
    // No goodbye POST, no further GET.
    assert_eq!(
        transmits(&mut session),
        [ClientTransmit::Close { transport: t }]
    );
}

#[test]
fn close_writes_what_was_sent_first() {
    let (mut session, t) = open_polling(&[], 1000);
    transmits(&mut session);
    session.send(Message::text("bye")).unwrap();
    session.close();
    assert!(events(&mut session).is_empty());
    let out = transmits(&mut session);
    assert!(matches!(&out[..], [ClientTransmit::Post { body, .. }] if &body[..] == b"4bye"));
    assert_eq!(session.send(Message::text("x")), Err(SendError::Closed));
    session.handle_drain(T0, t);
    assert_eq!(
        events(&mut session),
        [ClientEvent::Closed(CloseReason::ForcedClose)]
    );
    let out = transmits(&mut session);
    assert!(matches!(&out[0], ClientTransmit::Post { body, .. } if &body[..] == b"1"));
    assert_eq!(out[1], ClientTransmit::Close { transport: t });

    // Closing while opening closes at once.
    let mut session = new_session(ClientOptions::default());
    let [ClientTransmit::Poll { transport, .. }] = transmits(&mut session)[..] else {
        panic!()
    };
    session.close();
    assert_eq!(
        events(&mut session),
        [ClientEvent::Closed(CloseReason::ForcedClose)]
    );
    assert_eq!(
        transmits(&mut session),
        [ClientTransmit::Close { transport }]
    );
}

#[test]
fn close_during_an_upgrade_waits_for_it() {
    let (mut session, poll) = open_polling(&["websocket"], 1000);
    let ClientTransmit::Connect { transport: ws, .. } = transmits(&mut session)[0] else {
        panic!()
    };
    session.handle_opened(T0, ws);
    session.handle_drain(T0, ws);
    session.handle_packet(T0, ws, Packet::Pong(Bytes::from_static(PROBE)));
    session.close();
    assert!(events(&mut session).is_empty());
    session.handle_poll_response(T0, poll, encode_payload(&[Packet::Noop]));
    let evs = events(&mut session);
    assert_eq!(
        evs,
        [
            ClientEvent::Upgrade(TransportKind::WebSocket),
            ClientEvent::Closed(CloseReason::ForcedClose)
        ]
    );
    let out = transmits(&mut session);
    assert!(out.contains(&ClientTransmit::Close { transport: ws }));
}

#[test]
fn closing_while_probing_fails_the_probe() {
    let (mut session, _poll) = open_polling(&["websocket"], 1000);
    let ClientTransmit::Connect { transport: ws, .. } = transmits(&mut session)[0] else {
        panic!()
    };
    session.handle_timeout(at(500));
    assert_eq!(
        events(&mut session),
        [
            ClientEvent::UpgradeError("probe error: socket closed".into()),
            ClientEvent::Closed(CloseReason::PingTimeout)
        ]
    );
    assert!(transmits(&mut session).contains(&ClientTransmit::Close { transport: ws }));
    // Reports about the probe after the close are ignored.
    session.handle_opened(T0, ws);
    assert!(transmits(&mut session).is_empty());
}

#[test]
fn timestamps_follow_the_option() {
    let options = ClientOptions {
        transports: vec![TransportKind::WebSocket],
        timestamp_requests: Some(true),
        ..ClientOptions::default()
    };
    let mut session = ClientSession::new(options, Endpoint::new(false, "h", 80), T0, 36, false);
    assert!(
        matches!(&transmits(&mut session)[..], [ClientTransmit::Connect { url, .. }] if url.ends_with("&t=10"))
    );
    let options = ClientOptions {
        timestamp_requests: Some(false),
        ..ClientOptions::default()
    };
    let mut session = ClientSession::new(options, Endpoint::new(false, "h", 80), T0, 0, false);
    assert!(
        matches!(&transmits(&mut session)[..], [ClientTransmit::Poll { url, .. }] if url.ends_with("transport=polling"))
    );
}

#[test]
fn a_handshake_without_open_and_errors_after_the_close() {
    let mut session = new_session(ClientOptions::default());
    let [ClientTransmit::Poll { transport, .. }] = transmits(&mut session)[..] else {
        panic!()
    };
    session.handle_poll_response(T0, transport, encode_payload(&[Packet::Noop]));
    assert!(matches!(
        &events(&mut session)[..],
        [
            ClientEvent::Error(TransportError {
                failure: TransportFailure::Parse,
                ..
            }),
            ClientEvent::Closed(CloseReason::TransportError)
        ]
    ));
    // The goodbye POST of a closed session failing says nothing more.
    let (mut session, t) = open_polling(&[], 1000);
    session.close();
    transmits(&mut session);
    events(&mut session);
    session.handle_error(T0, t, TransportFailure::Post, "reset".into());
    assert!(events(&mut session).is_empty());
}
