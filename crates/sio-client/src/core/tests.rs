//! The manager and its sockets on fake time, against a scripted server.

use super::*;
use crate::error::EmitError;
use crate::options::{OfflineBuffer, WhenFull};
use engineio_proto::Message;
use socket::SocketConfig;

const T0: Timestamp = Timestamp::ZERO;

fn at(ms: u64) -> Timestamp {
    T0 + Duration::from_millis(ms)
}

/// A manager on WebSocket only (one transport keeps the scripts short; long-polling and
/// the upgrade are the engine session's, tested in `engineio-proto`).
struct Harness {
    core: ManagerCore<u32>,
    /// The open WebSocket, once there is one.
    ws: Option<IoId>,
    sent: Vec<String>,
    outputs: Vec<Output<u32>>,
}

fn options() -> ManagerOptions {
    ManagerOptions {
        transports: vec![TransportKind::WebSocket],
        ..ManagerOptions::default()
    }
}

impl Harness {
    fn new(options: ManagerOptions) -> Self {
        Harness {
            core: ManagerCore::new(&options, Endpoint::new(false, "h", 3000), 42, false),
            ws: None,
            sent: Vec::new(),
            outputs: Vec::new(),
        }
    }

    fn socket(&mut self, nsp: &str, config: SocketConfig) -> SocketKey {
        self.core.add_socket(nsp.to_owned(), config)
    }

    /// Runs the driver's side: opens WebSockets when asked, records what is written and
    /// reports every batch drained.
    fn run(&mut self, now: Timestamp) {
        loop {
            let mut progress = false;
            while let Some(transmit) = self.core.poll_transmit() {
                progress = true;
                match transmit.inner {
                    ClientTransmit::Connect { transport, .. } => {
                        self.ws = Some(IoId {
                            session: transmit.session,
                            transport,
                        });
                    }
                    ClientTransmit::Send { transport, packets } => {
                        for packet in packets {
                            if let Packet::Message(Message::Text(text)) = packet {
                                self.sent.push(text.as_str().to_owned());
                            }
                        }
                        let io = IoId {
                            session: transmit.session,
                            transport,
                        };
                        self.core.handle_drain(now, io);
                    }
                    ClientTransmit::Close { .. } => self.ws = None,
                    other => panic!("unexpected {other:?}"),
                }
            }
            while let Some(output) = self.core.poll_output() {
                progress = true;
                self.outputs.push(output);
            }
            if !progress {
                return;
            }
        }
    }

    /// The WebSocket opens and the server's handshake arrives.
    fn accept(&mut self, now: Timestamp) {
        self.run(now);
        let ws = self.ws.expect("a WebSocket to accept");
        self.core.handle_opened(now, ws);
        let open =
            r#"{"sid":"e1","upgrades":[],"pingInterval":1000,"pingTimeout":500,"maxPayload":1000}"#;
        self.core
            .handle_packet(now, ws, Packet::Open(Bytes::from_static(open.as_bytes())));
        self.run(now);
    }

    /// The server sends a Socket.IO packet.
    fn server(&mut self, now: Timestamp, packet: &str) {
        let ws = self.ws.expect("an open WebSocket");
        self.core
            .handle_packet(now, ws, Packet::Message(Message::text(packet)));
        self.run(now);
    }

    fn tick(&mut self, now: Timestamp) {
        self.core.handle_timeout(now);
        self.run(now);
    }

    fn emit(
        &mut self,
        now: Timestamp,
        key: SocketKey,
        name: &str,
        flags: EmitFlags,
        waiter: Option<u32>,
    ) -> Result<Emitted, EmitError> {
        let encode =
            |parser: Parser, nsp: &str, id: Option<u64>| parser.encode_event(nsp, id, name, &(1,));
        let result = self.core.emit(now, key, name, flags, waiter, &encode);
        self.run(now);
        result
    }

    fn take_sent(&mut self) -> Vec<String> {
        std::mem::take(&mut self.sent)
    }

    /// The socket outputs, each as a short string.
    fn take_events(&mut self) -> Vec<String> {
        std::mem::take(&mut self.outputs)
            .into_iter()
            .map(|output| match output {
                Output::Manager(event) => match event {
                    ManagerEvent::Close(reason) => format!("manager close {reason}"),
                    ManagerEvent::Error(error) => format!("manager error {}", error.message),
                    ManagerEvent::ReconnectAttempt(n) => format!("reconnect_attempt {n}"),
                    ManagerEvent::Reconnect(n) => format!("reconnect {n}"),
                    ManagerEvent::ReconnectError(error) => {
                        format!("reconnect_error {}", error.message)
                    }
                    other => format!("manager {}", other.name()),
                },
                Output::Transport(kind) => format!("transport {kind}"),
                Output::Socket(key, output) => match output {
                    SocketOutput::NeedAuth { .. } => format!("{key} need auth"),
                    SocketOutput::Connect => {
                        format!("{key} connect {}", self.core.socket(key).recovered)
                    }
                    SocketOutput::ConnectError(error) => {
                        format!("{key} connect_error {} {:?}", error.message, error.data)
                    }
                    SocketOutput::Disconnect(reason) => format!("{key} disconnect {reason}"),
                    SocketOutput::Event { name, args, ack } => format!(
                        "{key} event {name} {:?} {ack:?}",
                        serde_json::to_string(&args.to_values().unwrap()).unwrap()
                    ),
                    SocketOutput::Outgoing { name, .. } => format!("{key} outgoing {name}"),
                    SocketOutput::Ack { waiter, result } => match result {
                        Ok(args) => format!(
                            "{key} ack {waiter} {}",
                            serde_json::to_string(&args.to_values().unwrap()).unwrap()
                        ),
                        Err(error) => format!("{key} ack {waiter} {error}"),
                    },
                },
            })
            .collect()
    }
}

fn connected(options: ManagerOptions, config: SocketConfig) -> (Harness, SocketKey) {
    let mut h = Harness::new(options);
    let key = h.socket("/", config);
    h.core.socket_connect(T0, key);
    h.accept(T0);
    let sent = h.take_sent();
    assert!(
        matches!(&sent[..], [connect] if connect.starts_with('0')),
        "{sent:?}"
    );
    h.server(T0, r#"0{"sid":"s1"}"#);
    assert_eq!(
        h.take_events(),
        ["manager open", "transport websocket", "0 connect false"]
    );
    (h, key)
}

#[test]
fn connects_emits_and_receives() {
    let (mut h, key) = connected(options(), SocketConfig::default());
    assert_eq!(h.core.socket(key).id.as_deref(), Some("s1"));
    assert_eq!(
        h.emit(T0, key, "chat", EmitFlags::default(), None),
        Ok(Emitted::Sent)
    );
    assert_eq!(h.take_sent(), [r#"2["chat",1]"#]);
    h.server(T0, r#"25["news",{"a":1}]"#);
    assert_eq!(
        h.take_events(),
        [r#"0 event news "[{\"a\":1}]" Some((5, 1))"#]
    );
    // The answer to the server's ack goes out as an ACK.
    let ack = h.core.parser().encode_ack("/", 5, &("ok",));
    let session = h.core.session();
    h.core.send_ack(T0, key, session, ack).unwrap();
    h.run(T0);
    assert_eq!(h.take_sent(), [r#"35["ok"]"#]);
    assert_eq!(
        h.emit(T0, key, "connect", EmitFlags::default(), None),
        Err(EmitError::ReservedName("connect".into()))
    );
}

#[test]
fn acks_answer_or_time_out() {
    let (mut h, key) = connected(options(), SocketConfig::default());
    let flags = EmitFlags {
        timeout: Some(Duration::from_millis(100)),
        ..EmitFlags::default()
    };
    h.emit(T0, key, "a", flags, Some(1)).unwrap();
    h.emit(T0, key, "b", flags, Some(2)).unwrap();
    h.emit(T0, key, "c", EmitFlags::default(), Some(3)).unwrap();
    assert_eq!(
        h.take_sent(),
        [r#"20["a",1]"#, r#"21["b",1]"#, r#"22["c",1]"#]
    );
    assert_eq!(h.core.poll_timeout(), Some(at(100)));
    h.server(at(50), r#"30["yes"]"#);
    assert_eq!(h.take_events(), [r#"0 ack 1 ["yes"]"#]);
    h.tick(at(99));
    assert!(h.take_events().is_empty());
    h.tick(at(100));
    assert_eq!(h.take_events(), ["0 ack 2 operation has timed out"]);
    // A late answer is nobody's; the ack without a timeout still waits.
    h.server(at(120), r#"31["late"]"#);
    h.server(at(130), r#"32[]"#);
    assert_eq!(h.take_events(), ["0 ack 3 []"]);
}

#[test]
fn the_offline_buffer_is_sent_on_connect_and_bounded() {
    let config = SocketConfig {
        buffer: OfflineBuffer {
            max_packets: 2,
            max_bytes: 1000,
            policy: WhenFull::RejectNew,
        },
        ..SocketConfig::default()
    };
    let mut h = Harness::new(options());
    let key = h.socket("/admin", config.clone());
    assert_eq!(
        h.emit(T0, key, "a", EmitFlags::default(), Some(1)),
        Ok(Emitted::Buffered)
    );
    assert_eq!(
        h.emit(T0, key, "b", EmitFlags::default(), None),
        Ok(Emitted::Buffered)
    );
    assert_eq!(
        h.emit(T0, key, "c", EmitFlags::default(), None),
        Err(EmitError::BufferFull)
    );
    let volatile = EmitFlags {
        volatile: true,
        ..EmitFlags::default()
    };
    assert_eq!(
        h.emit(T0, key, "v", volatile, Some(9)),
        Ok(Emitted::Dropped)
    );
    assert_eq!(h.take_events(), ["0 ack 9 the packet was dropped"]);
    h.core.socket_connect(T0, key);
    h.accept(T0);
    assert_eq!(h.take_sent(), ["0/admin,"]);
    h.server(T0, r#"0/admin,{"sid":"s1"}"#);
    // The buffer goes before the `connect` event is told.
    assert_eq!(h.take_sent(), [r#"2/admin,0["a",1]"#, r#"2/admin,["b",1]"#]);
    assert_eq!(
        h.take_events(),
        ["manager open", "transport websocket", "0 connect false"]
    );
    h.server(T0, r#"3/admin,0[2]"#);
    assert_eq!(h.take_events(), ["0 ack 1 [2]"]);

    // Dropping the oldest instead.
    let mut h = Harness::new(options());
    let config = SocketConfig {
        buffer: OfflineBuffer {
            policy: WhenFull::DropOldest,
            ..config.buffer
        },
        ..SocketConfig::default()
    };
    let key = h.socket("/", config);
    for (name, waiter) in [("a", 1), ("b", 2), ("c", 3)] {
        assert_eq!(
            h.emit(T0, key, name, EmitFlags::default(), Some(waiter)),
            Ok(Emitted::Buffered)
        );
    }
    assert_eq!(h.take_events(), ["0 ack 1 the packet was dropped"]);
    h.core.socket_connect(T0, key);
    h.accept(T0);
    h.server(T0, r#"0{"sid":"s1"}"#);
    assert_eq!(h.take_sent(), ["0", r#"21["b",1]"#, r#"22["c",1]"#]);
}

#[test]
fn a_lost_connection_reconnects_with_backoff_and_recovers() {
    let (mut h, key) = connected(
        options(),
        SocketConfig {
            auth: Some(serde_json::json!({"token": "t"}).into()),
            ..SocketConfig::default()
        },
    );
    // (The CONNECT above carried the auth object: checked in `auth_is_sent`.)
    h.server(T0, r#"0{"sid":"s2","pid":"p1"}"#);
    h.take_events();
    h.server(T0, r#"2["tick",1,"off-1"]"#);
    h.server(T0, r#"2["tick",2,"off-2"]"#);
    h.take_events();
    let flags = EmitFlags {
        timeout: Some(Duration::from_secs(60)),
        ..EmitFlags::default()
    };
    h.emit(T0, key, "q", flags, Some(7)).unwrap();
    h.take_sent();
    let ws = h.ws.unwrap();
    h.core.handle_closed(at(10), ws);
    h.run(at(10));
    assert_eq!(
        h.take_events(),
        [
            "manager close transport close",
            "0 disconnect transport close",
            "0 ack 7 socket has been disconnected"
        ]
    );
    // The first delay: 1 s ± 50 %.
    let retry = h.core.poll_timeout().unwrap();
    let delay = retry.saturating_duration_since(at(10));
    assert!(delay >= Duration::from_millis(500) && delay <= Duration::from_millis(1500));
    h.tick(retry);
    assert_eq!(h.take_events(), ["reconnect_attempt 1"]);
    h.accept(retry);
    // The CONNECT carries the session's pid and the last offset seen, before the auth.
    assert_eq!(
        h.take_sent(),
        [r#"0{"pid":"p1","offset":"off-2","token":"t"}"#]
    );
    assert_eq!(
        h.take_events(),
        ["manager open", "transport websocket", "reconnect 1"]
    );
    h.server(retry, r#"0{"sid":"s2","pid":"p1"}"#);
    assert_eq!(h.take_events(), ["0 connect true"]);
    assert!(h.core.socket(key).recovered);
}

#[test]
fn auth_is_sent_and_asked_for_again() {
    let (mut h, _) = connected(options(), SocketConfig::default());
    let key = h.socket(
        "/a",
        SocketConfig {
            auth: Some(serde_json::json!({"token": "t"}).into()),
            ..SocketConfig::default()
        },
    );
    h.core.socket_connect(T0, key);
    h.run(T0);
    assert_eq!(h.take_sent(), [r#"0/a,{"token":"t"}"#]);
    let key = h.socket(
        "/b",
        SocketConfig {
            auth_callback: true,
            ..SocketConfig::default()
        },
    );
    h.core.socket_connect(T0, key);
    h.run(T0);
    assert_eq!(h.take_events(), ["2 need auth"]);
    assert!(h.take_sent().is_empty());
    let session = h.core.session();
    // An answer for an earlier session is stale.
    h.core.send_connect(
        T0,
        key,
        session - 1,
        Some(serde_json::json!({"token": "stale"}).into()),
    );
    h.core.send_connect(
        T0,
        key,
        session,
        Some(serde_json::json!({"token": "fresh"}).into()),
    );
    h.run(T0);
    assert_eq!(h.take_sent(), [r#"0/b,{"token":"fresh"}"#]);
}

#[test]
fn a_server_disconnect_is_final() {
    let (mut h, key) = connected(options(), SocketConfig::default());
    h.server(T0, "1");
    assert_eq!(
        h.take_events(),
        [
            "manager close forced close",
            "0 disconnect io server disconnect"
        ]
    );
    assert!(h.core.is_idle());
    assert!(!h.core.socket(key).active);
    // Connecting again is the application's choice.
    h.core.socket_connect(at(5), key);
    h.accept(at(5));
    assert_eq!(h.take_sent(), ["0"]);
}

#[test]
fn a_refusal_carries_its_data_and_is_not_retried() {
    let mut h = Harness::new(options());
    let key = h.socket("/", SocketConfig::default());
    h.core.socket_connect(T0, key);
    h.accept(T0);
    h.server(T0, r#"4{"message":"not authorized","data":{"code":42}}"#);
    let events = h.take_events();
    assert_eq!(events[0], "manager open");
    assert!(
        events.contains(&"manager close forced close".to_owned()),
        "{events:?}"
    );
    assert_eq!(
        events.last().unwrap(),
        r#"0 connect_error not authorized Some(Object({"code": Number(Number(42))}))"#
    );
    assert!(h.core.is_idle());
}

#[test]
fn a_connect_timeout_then_attempts_until_they_run_out() {
    let mut options = options();
    options.timeout = Some(Duration::from_millis(100));
    options.reconnection_attempts = 2;
    options.randomization_factor = 0.0;
    let mut h = Harness::new(options);
    let key = h.socket("/", SocketConfig::default());
    h.core.socket_connect(T0, key);
    h.run(T0);
    h.tick(at(100));
    assert_eq!(
        h.take_events(),
        ["manager error timeout", "0 connect_error timeout None"]
    );
    // Attempt 1 after 1 s, attempt 2 after 2 s more, each timing out.
    assert_eq!(h.core.poll_timeout(), Some(at(1100)));
    h.tick(at(1100));
    h.tick(at(1200));
    assert_eq!(
        h.take_events(),
        [
            "reconnect_attempt 1",
            "manager error timeout",
            "0 connect_error timeout None",
            "reconnect_error timeout"
        ]
    );
    assert_eq!(h.core.poll_timeout(), Some(at(3200)));
    h.tick(at(3200));
    // A transport error instead of a timeout this time.
    let ws = h.ws.unwrap();
    h.core
        .handle_error(at(3210), ws, TransportFailure::WebSocket, "refused".into());
    h.run(at(3210));
    assert_eq!(
        h.take_events(),
        [
            "reconnect_attempt 2",
            "manager error websocket error",
            "0 connect_error websocket error None",
            "manager reconnect_failed",
            "reconnect_error websocket error"
        ]
    );
    assert!(h.core.is_idle());
}

#[test]
fn retries_send_one_at_a_time_until_acknowledged() {
    let config = SocketConfig {
        retries: Some(2),
        ack_timeout: Some(Duration::from_millis(100)),
        ..SocketConfig::default()
    };
    let (mut h, key) = connected(options(), config);
    h.emit(T0, key, "a", EmitFlags::default(), Some(1)).unwrap();
    h.emit(T0, key, "b", EmitFlags::default(), None).unwrap();
    // Only the head is out; every queued emit asks for an ack.
    assert_eq!(h.take_sent(), [r#"20["a",1]"#]);
    h.tick(at(100));
    assert_eq!(h.take_sent(), [r#"20["a",1]"#], "second try");
    h.server(at(150), "30[]");
    assert_eq!(h.take_events(), ["0 ack 1 []"]);
    assert_eq!(h.take_sent(), [r#"21["b",1]"#]);
    // Three tries in all, then the failure goes to the waiter (none here) and the queue
    // moves on.
    h.tick(at(250));
    h.tick(at(350));
    assert_eq!(h.take_sent(), [r#"21["b",1]"#, r#"21["b",1]"#]);
    h.tick(at(450));
    assert!(h.take_sent().is_empty());
    assert!(h.core.socket(key).queue.is_empty());
    // A volatile emit skips the queue.
    let volatile = EmitFlags {
        volatile: true,
        ..EmitFlags::default()
    };
    assert_eq!(h.emit(at(500), key, "v", volatile, None), Ok(Emitted::Sent));
    assert_eq!(h.take_sent(), [r#"2["v",1]"#]);
}

#[test]
fn retries_survive_a_reconnection() {
    let config = SocketConfig {
        retries: Some(5),
        ack_timeout: Some(Duration::from_secs(10)),
        ..SocketConfig::default()
    };
    let (mut h, key) = connected(options(), config);
    h.emit(T0, key, "a", EmitFlags::default(), Some(1)).unwrap();
    h.take_sent();
    h.core.handle_closed(at(1), h.ws.unwrap());
    h.run(at(1));
    h.take_events();
    h.emit(at(2), key, "b", EmitFlags::default(), Some(2))
        .unwrap();
    let retry = h.core.poll_timeout().unwrap();
    h.tick(retry);
    h.accept(retry);
    h.take_sent();
    h.server(retry, r#"0{"sid":"s3"}"#);
    // The head is sent again at once, then the rest in order.
    assert_eq!(h.take_sent(), [r#"20["a",1]"#]);
    h.server(retry, "30[]");
    assert_eq!(h.take_sent(), [r#"21["b",1]"#]);
}

#[test]
fn ping_timeout_disconnects() {
    let (mut h, _key) = connected(options(), SocketConfig::default());
    // pingInterval 1000 + pingTimeout 500.
    h.tick(at(1499));
    assert!(h.take_events().is_empty());
    h.tick(at(1500));
    assert_eq!(
        h.take_events(),
        ["manager close ping timeout", "0 disconnect ping timeout"]
    );
    // An emit with a late timer sees the expired deadline first.
    let (mut h, key) = connected(options(), SocketConfig::default());
    assert_eq!(
        h.emit(at(2000), key, "late", EmitFlags::default(), None),
        Ok(Emitted::Buffered)
    );
}

#[test]
fn sockets_share_the_manager_until_the_last_leaves() {
    let (mut h, a) = connected(options(), SocketConfig::default());
    let b = h.socket("/b", SocketConfig::default());
    h.core.socket_connect(T0, b);
    h.run(T0);
    h.server(T0, r#"0/b,{"sid":"sb"}"#);
    assert_eq!(h.take_sent(), ["0/b,"]);
    h.take_events();
    h.server(T0, r#"2/b,["only-b"]"#);
    assert_eq!(h.take_events(), [r#"1 event only-b "[]" None"#]);
    h.core.socket_disconnect(T0, a);
    h.run(T0);
    assert_eq!(h.take_sent(), ["1"]);
    assert_eq!(h.take_events(), ["0 disconnect io client disconnect"]);
    assert!(h.core.is_open());
    h.core.socket_disconnect(T0, b);
    h.run(T0);
    assert_eq!(h.take_sent(), ["1/b,"]);
    assert_eq!(
        h.take_events(),
        [
            "manager close forced close",
            "1 disconnect io client disconnect"
        ]
    );
    assert!(h.core.is_idle());
}

#[test]
fn outgoing_listeners_and_parse_errors() {
    let (mut h, key) = connected(options(), SocketConfig::default());
    h.core.set_notify_outgoing(key, true);
    h.emit(T0, key, "out", EmitFlags::default(), None).unwrap();
    assert_eq!(h.take_events(), ["0 outgoing out"]);
    h.server(T0, "9garbage");
    assert_eq!(
        h.take_events(),
        ["manager close parse error", "0 disconnect parse error"]
    );
    assert!(
        h.core.poll_timeout().is_some(),
        "a reconnection is scheduled"
    );
}

#[test]
fn a_closing_session_finishes_its_writes_after_a_new_one_opens() {
    let (mut h, key) = connected(options(), SocketConfig::default());
    let old = h.ws.unwrap();
    // The DISCONNECT is handed to the old session's WebSocket but not drained yet.
    h.core.socket_disconnect(T0, key);
    let out: Vec<_> = std::iter::from_fn(|| h.core.poll_transmit()).collect();
    assert!(
        matches!(
            &out[..],
            [Transmit {
                inner: ClientTransmit::Send { .. },
                ..
            }]
        ),
        "{out:?}"
    );
    h.core.socket_connect(T0, key);
    h.run(T0);
    let new = h.ws.unwrap();
    assert_ne!(new.session, old.session);
    // The old session drains, then closes its own WebSocket; the new one goes on.
    h.core.handle_drain(T0, old);
    let out: Vec<_> = std::iter::from_fn(|| h.core.poll_transmit()).collect();
    assert!(
        out.iter()
            .any(|t| t.session == old.session && matches!(t.inner, ClientTransmit::Close { .. })),
        "{out:?}"
    );
    assert_eq!(h.core.oldest_session(), new.session);
}

#[test]
fn opening_by_hand_ends_a_pending_reconnection() {
    let (mut h, _key) = connected(options(), SocketConfig::default());
    h.core.handle_closed(at(10), h.ws.unwrap());
    h.run(at(10));
    assert!(h.core.is_reconnecting());
    h.core.open(at(20));
    h.accept(at(20));
    h.take_events();
    assert!(!h.core.is_reconnecting());
    // No stray attempt fires later.
    h.tick(at(5000));
    assert!(
        h.take_events()
            .iter()
            .all(|e| !e.starts_with("reconnect_attempt"))
    );
}

#[test]
fn retries_without_a_timeout_do_not_count_a_lost_connection() {
    let config = SocketConfig {
        retries: Some(1),
        ..SocketConfig::default()
    };
    let (mut h, key) = connected(options(), config);
    h.emit(T0, key, "a", EmitFlags::default(), Some(1)).unwrap();
    h.take_sent();
    for round in 1..=3 {
        h.core.handle_closed(at(round), h.ws.unwrap());
        h.run(at(round));
        let retry = h.core.poll_timeout().unwrap();
        h.tick(retry);
        h.accept(retry);
        h.take_sent();
        h.server(retry, r#"0{"sid":"s"}"#);
        // Sent again on every reconnection, never given up.
        assert_eq!(h.take_sent(), [r#"20["a",1]"#], "round {round}");
    }
    assert!(h.take_events().iter().all(|e| !e.contains("ack 1")));
}
