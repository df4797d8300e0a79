//! The session state machine under fake time.

use super::*;
use crate::payload::decode_payload;

const SID: [u8; 15] = [7; 15];

fn config() -> SessionConfig {
    SessionConfig {
        ping_interval: Duration::from_millis(300),
        ping_timeout: Duration::from_millis(200),
        upgrade_timeout: Duration::from_millis(1000),
        close_timeout: Duration::from_millis(5000),
        max_payload: 1_000_000,
        allow_upgrades: true,
    }
}

fn at(ms: u64) -> Timestamp {
    Timestamp::from_duration(Duration::from_millis(ms))
}

fn transmits(session: &mut Session) -> Vec<Transmit> {
    std::iter::from_fn(|| session.poll_transmit()).collect()
}

fn events(session: &mut Session) -> Vec<Event> {
    std::iter::from_fn(|| session.poll_event()).collect()
}

fn poll_response(text: &str) -> Transmit {
    Transmit::PollResponse(Bytes::from(text.to_owned()))
}

fn text(text: &str) -> Packet {
    Packet::Message(Message::text(text))
}

/// A long-polling session whose handshake GET has been answered.
fn polling_session() -> Session {
    let mut session = Session::new(
        Sid::from_random(SID),
        config(),
        TransportKind::Polling,
        at(0),
    );
    session.handle_poll(at(0)).unwrap();
    let handshake = transmits(&mut session);
    assert_eq!(handshake.len(), 1);
    session
}

fn websocket_session() -> Session {
    let mut session = Session::new(
        Sid::from_random(SID),
        config(),
        TransportKind::WebSocket,
        at(0),
    );
    let handshake = transmits(&mut session);
    assert!(matches!(
        handshake.as_slice(),
        [Transmit::WebSocket(Packet::Open(_))]
    ));
    session
}

fn handshake_of(transmit: &Transmit) -> Handshake {
    let payload = match transmit {
        Transmit::PollResponse(payload) => payload.clone(),
        Transmit::WebSocket(Packet::Open(data)) => {
            return Handshake::from_json(data).unwrap();
        }
        other => panic!("not a handshake: {other:?}"),
    };
    let packets: Vec<_> = decode_payload(payload).collect();
    match packets.as_slice() {
        [Ok(Packet::Open(data))] => Handshake::from_json(data).unwrap(),
        other => panic!("not a handshake: {other:?}"),
    }
}

#[test]
fn polling_handshake_offers_the_websocket_upgrade() {
    let mut session = Session::new(
        Sid::from_random(SID),
        config(),
        TransportKind::Polling,
        at(0),
    );
    assert_eq!(transmits(&mut session), vec![], "nothing before the GET");
    session.handle_poll(at(0)).unwrap();
    let sent = transmits(&mut session);
    let handshake = handshake_of(&sent[0]);
    assert_eq!(handshake.sid, Sid::from_random(SID).as_str());
    assert_eq!(handshake.upgrades, vec!["websocket".to_owned()]);
    assert_eq!(
        (handshake.ping_interval, handshake.ping_timeout),
        (300, 200)
    );
    assert_eq!(handshake.max_payload, 1_000_000);
}

#[test]
fn websocket_handshake_offers_no_upgrade() {
    let mut session = Session::new(
        Sid::from_random(SID),
        config(),
        TransportKind::WebSocket,
        at(0),
    );
    let sent = transmits(&mut session);
    assert_eq!(handshake_of(&sent[0]).upgrades, Vec::<String>::new());
}

#[test]
fn no_upgrade_is_offered_when_upgrades_are_disabled() {
    let config = SessionConfig {
        allow_upgrades: false,
        ..config()
    };
    let mut session = Session::new(Sid::from_random(SID), config, TransportKind::Polling, at(0));
    session.handle_poll(at(0)).unwrap();
    let sent = transmits(&mut session);
    assert!(handshake_of(&sent[0]).upgrades.is_empty());
    assert_eq!(
        session.handle_probe_opened(at(1)),
        Err(ProbeError::NotAllowed)
    );
}

#[test]
fn pings_on_schedule_and_waits_for_the_pong() {
    let mut session = websocket_session();
    assert_eq!(session.poll_timeout(), Some(at(300)));
    session.handle_timeout(at(299));
    assert_eq!(transmits(&mut session), vec![]);
    for round in 0..3u64 {
        let ping_at = 300 + round * 310;
        session.handle_timeout(at(ping_at));
        assert_eq!(
            transmits(&mut session),
            vec![Transmit::WebSocket(Packet::ping())]
        );
        assert_eq!(
            session.poll_timeout(),
            Some(at(ping_at + 200)),
            "pong deadline"
        );
        session.handle_packet(at(ping_at + 10), Packet::pong());
        assert_eq!(session.poll_timeout(), Some(at(ping_at + 310)), "next ping");
    }
    assert_eq!(events(&mut session), vec![]);
}

#[test]
fn a_missed_pong_closes_with_ping_timeout() {
    let mut session = websocket_session();
    session.handle_timeout(at(300));
    transmits(&mut session);
    session.handle_timeout(at(499));
    assert!(!session.is_closed());
    session.handle_timeout(at(500));
    assert_eq!(transmits(&mut session), vec![Transmit::CloseWebSocket]);
    assert_eq!(
        events(&mut session),
        vec![Event::Closed(CloseReason::PingTimeout)]
    );
    assert_eq!(session.poll_timeout(), None);
}

#[test]
fn an_unsolicited_pong_does_not_postpone_the_ping() {
    let mut session = websocket_session();
    session.handle_packet(at(100), Packet::pong());
    assert_eq!(session.poll_timeout(), Some(at(300)));
}

#[test]
fn a_ping_from_the_client_is_a_transport_error() {
    let mut session = websocket_session();
    session.handle_packet(at(10), Packet::ping());
    assert_eq!(
        events(&mut session),
        vec![Event::Closed(CloseReason::TransportError)]
    );
}

#[test]
fn polling_delivers_buffered_packets_to_the_next_get() {
    let mut session = polling_session();
    session.send(Message::text("a")).unwrap();
    session.send(Message::binary(vec![1, 2])).unwrap();
    assert_eq!(transmits(&mut session), vec![], "no GET pending");
    assert!(!session.is_writable());
    session.handle_poll(at(5)).unwrap();
    assert_eq!(transmits(&mut session), vec![poll_response("4a\x1ebAQI=")]);
    session.handle_poll(at(6)).unwrap();
    assert!(session.is_writable());
    session.send(Message::text("b")).unwrap();
    assert_eq!(transmits(&mut session), vec![poll_response("4b")]);
}

#[test]
fn the_ping_waits_for_a_get_over_polling() {
    let mut session = polling_session();
    session.handle_timeout(at(300));
    assert_eq!(transmits(&mut session), vec![]);
    session.handle_poll(at(320)).unwrap();
    assert_eq!(transmits(&mut session), vec![poll_response("2")]);
    session.handle_packet(at(330), Packet::pong());
    assert_eq!(session.poll_timeout(), Some(at(630)));
}

#[test]
fn a_second_get_while_one_is_pending_closes_the_session() {
    let mut session = polling_session();
    session.handle_poll(at(1)).unwrap();
    assert_eq!(session.handle_poll(at(2)), Err(PollError::Overlap));
    assert_eq!(transmits(&mut session), vec![poll_response("1")]);
    assert_eq!(
        events(&mut session),
        vec![Event::Closed(CloseReason::TransportError)]
    );
    assert_eq!(session.handle_poll(at(3)), Err(PollError::Closed));
}

#[test]
fn an_aborted_get_closes_the_session() {
    let mut session = polling_session();
    session.handle_poll(at(1)).unwrap();
    session.handle_poll_aborted(at(2));
    assert_eq!(transmits(&mut session), vec![]);
    assert_eq!(
        events(&mut session),
        vec![Event::Closed(CloseReason::TransportError)]
    );
}

#[test]
fn a_close_packet_over_polling_ends_the_pending_get_with_a_noop() {
    let mut session = polling_session();
    session.handle_poll(at(1)).unwrap();
    session.handle_packet(at(2), Packet::Close);
    assert_eq!(transmits(&mut session), vec![poll_response("6")]);
    assert_eq!(
        events(&mut session),
        vec![Event::Closed(CloseReason::TransportClose)]
    );
    assert_eq!(session.send(Message::text("late")), Err(SessionClosed));
}

#[test]
fn messages_become_events_in_order() {
    let mut session = websocket_session();
    for packet in [
        text("1"),
        Packet::Noop,
        text("2"),
        Packet::Upgrade,
        text("3"),
    ] {
        session.handle_packet(at(1), packet);
    }
    let texts: Vec<_> = events(&mut session)
        .into_iter()
        .map(|event| match event {
            Event::Message(Message::Text(text)) => text.as_str().to_owned(),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(texts, ["1", "2", "3"]);
}

#[test]
fn a_parse_error_closes_the_session() {
    let mut session = polling_session();
    session.handle_poll(at(1)).unwrap();
    session.handle_parse_error(at(2));
    assert_eq!(transmits(&mut session), vec![poll_response("1")]);
    assert_eq!(
        events(&mut session),
        vec![Event::Closed(CloseReason::ParseError)]
    );
}

#[test]
fn upgrade_from_polling_to_websocket() {
    let mut session = polling_session();
    session.handle_poll(at(10)).unwrap();
    session.handle_probe_opened(at(20)).unwrap();
    assert!(session.is_upgrading());
    session.handle_probe_packet(at(21), Packet::Ping(Bytes::from_static(b"probe")));
    assert_eq!(
        transmits(&mut session),
        vec![
            Transmit::Probe(Packet::Pong(Bytes::from_static(b"probe"))),
            poll_response("6"),
        ]
    );
    // A message sent during the upgrade waits for the new transport.
    session.send(Message::text("queued")).unwrap();
    assert_eq!(transmits(&mut session), vec![]);
    session.handle_probe_packet(at(22), Packet::Upgrade);
    assert_eq!(
        transmits(&mut session),
        vec![Transmit::PromoteProbe, Transmit::WebSocket(text("queued"))]
    );
    assert_eq!(events(&mut session), vec![Event::Upgraded]);
    assert_eq!(session.transport(), TransportKind::WebSocket);
    assert_eq!(
        session.handle_poll(at(23)),
        Err(PollError::TransportMismatch)
    );
    assert_eq!(
        session.handle_probe_opened(at(24)),
        Err(ProbeError::AlreadyUpgraded)
    );
    assert!(!session.is_closed());
}

#[test]
fn a_get_during_a_probed_upgrade_gets_a_noop_or_the_buffer() {
    let mut session = polling_session();
    session.handle_probe_opened(at(1)).unwrap();
    session.handle_probe_packet(at(2), Packet::Ping(Bytes::from_static(b"probe")));
    transmits(&mut session);
    session.handle_poll(at(3)).unwrap();
    assert_eq!(transmits(&mut session), vec![poll_response("6")]);
    session.send(Message::text("x")).unwrap();
    session.handle_poll(at(4)).unwrap();
    assert_eq!(transmits(&mut session), vec![poll_response("4x")]);
}

#[test]
fn only_one_websocket_may_upgrade_at_a_time() {
    let mut session = polling_session();
    session.handle_probe_opened(at(1)).unwrap();
    assert_eq!(
        session.handle_probe_opened(at(2)),
        Err(ProbeError::AlreadyUpgrading)
    );
}

#[test]
fn a_stalled_upgrade_is_abandoned() {
    let mut session = polling_session();
    session.handle_probe_opened(at(100)).unwrap();
    assert_eq!(
        session.poll_timeout(),
        Some(at(300)),
        "the ping comes first"
    );
    session.handle_timeout(at(300));
    session.handle_packet(at(301), Packet::pong());
    assert_eq!(session.poll_timeout(), Some(at(601)));
    session.handle_timeout(at(601));
    session.handle_packet(at(602), Packet::pong());
    assert_eq!(session.poll_timeout(), Some(at(902)));
    session.handle_timeout(at(902));
    session.handle_packet(at(903), Packet::pong());
    assert_eq!(
        session.poll_timeout(),
        Some(at(1100)),
        "the upgrade deadline"
    );
    session.handle_timeout(at(1100));
    let sent = transmits(&mut session);
    assert!(sent.contains(&Transmit::CloseProbe), "{sent:?}");
    assert!(!session.is_upgrading());
    assert_eq!(session.transport(), TransportKind::Polling);
    session.handle_probe_opened(at(1200)).unwrap();
}

#[test]
fn an_unexpected_packet_on_the_probe_cancels_the_upgrade_only() {
    let mut session = polling_session();
    session.handle_probe_opened(at(1)).unwrap();
    session.handle_probe_packet(at(2), text("too early"));
    assert_eq!(transmits(&mut session), vec![Transmit::CloseProbe]);
    assert!(!session.is_closed());
    assert_eq!(events(&mut session), vec![]);
}

#[test]
fn the_probe_closing_cancels_the_upgrade() {
    let mut session = polling_session();
    session.handle_probe_opened(at(1)).unwrap();
    session.handle_probe_closed(at(2));
    assert!(!session.is_upgrading());
    assert_eq!(transmits(&mut session), vec![]);
}

#[test]
fn closing_the_session_closes_the_probe() {
    let mut session = polling_session();
    session.handle_probe_opened(at(1)).unwrap();
    session.handle_poll(at(2)).unwrap();
    session.handle_transport_error(at(3));
    assert_eq!(
        transmits(&mut session),
        vec![poll_response("1"), Transmit::CloseProbe]
    );
}

#[test]
fn server_close_over_websocket_flushes_then_closes() {
    let mut session = websocket_session();
    session.send(Message::text("last")).unwrap();
    session.close(at(1));
    assert_eq!(session.send(Message::text("too late")), Err(SessionClosed));
    assert_eq!(
        transmits(&mut session),
        vec![Transmit::WebSocket(text("last")), Transmit::CloseWebSocket]
    );
    assert_eq!(
        events(&mut session),
        vec![Event::Closed(CloseReason::ForcedClose)]
    );
}

#[test]
fn server_close_over_polling_sends_close_with_the_next_get() {
    let mut session = polling_session();
    session.send(Message::text("last")).unwrap();
    session.close(at(1));
    assert_eq!(transmits(&mut session), vec![]);
    session.handle_poll(at(2)).unwrap();
    assert_eq!(transmits(&mut session), vec![poll_response("4last\x1e1")]);
    assert_eq!(
        events(&mut session),
        vec![Event::Closed(CloseReason::ForcedClose)]
    );
}

#[test]
fn server_close_over_polling_gives_up_waiting_for_a_get() {
    let mut session = polling_session();
    session.close(at(1));
    assert_eq!(session.poll_timeout(), Some(at(300)));
    session.handle_timeout(at(300));
    session.handle_packet(at(301), Packet::pong());
    session.handle_timeout(at(5001));
    assert_eq!(
        events(&mut session),
        vec![Event::Closed(CloseReason::ForcedClose)]
    );
}

#[test]
fn closing_during_an_upgrade_finishes_on_the_websocket() {
    let mut session = polling_session();
    session.handle_probe_opened(at(1)).unwrap();
    session.handle_probe_packet(at(2), Packet::Ping(Bytes::from_static(b"probe")));
    transmits(&mut session);
    session.close(at(3));
    session.handle_probe_packet(at(4), Packet::Upgrade);
    assert_eq!(
        transmits(&mut session),
        vec![Transmit::PromoteProbe, Transmit::CloseWebSocket]
    );
    assert_eq!(
        events(&mut session),
        vec![Event::Upgraded, Event::Closed(CloseReason::ForcedClose)]
    );
}

#[test]
fn the_client_closing_its_websocket_is_a_transport_close() {
    let mut session = websocket_session();
    session.handle_transport_closed(at(1));
    assert_eq!(
        events(&mut session),
        vec![Event::Closed(CloseReason::TransportClose)]
    );
    // Closed once, whatever comes after.
    session.handle_transport_error(at(2));
    session.handle_timeout(at(10_000));
    assert_eq!(events(&mut session), vec![]);
}

#[test]
fn a_shutdown_waits_for_a_get_only_its_grace_period() {
    let mut session = polling_session();
    session.close(at(1));
    // The shutdown's grace ends sooner than the close timeout: it wins.
    session.close_within(at(7), Duration::from_millis(100));
    assert_eq!(session.poll_timeout(), Some(at(107)));
    // A later, longer grace does not extend it.
    session.close_within(at(8), Duration::from_millis(1000));
    assert_eq!(session.poll_timeout(), Some(at(107)));
    session.handle_timeout(at(107));
    assert_eq!(
        events(&mut session),
        vec![Event::Closed(CloseReason::ForcedClose)]
    );
}

#[test]
fn a_get_within_the_shutdown_grace_receives_the_close_packet() {
    let mut session = polling_session();
    session.close_within(at(7), Duration::from_millis(100));
    session.handle_poll(at(50)).unwrap();
    assert_eq!(transmits(&mut session), vec![poll_response("1")]);
}
