//! Regression tests for the attacks on the Node Socket.IO layer and its parser
//! (`shared/security-regressions.md`), and a test crossing every limit of the server:
//! each bad input closes that connection alone, with a clear reason.

mod support;

use std::time::Duration;

use socketio::{DecoderLimits, Event, SlowConsumerPolicy, Socket, SocketIo};
use support::raw;
use support::sio::{self, SioServer};
use tokio::io::AsyncWriteExt;

/// Another client still gets its echo.
async fn assert_others_unaffected(server: &SioServer) {
    let (mut ws, _) = raw::socketio(server.addr).await;
    ws.write_all(&raw::text_frame(r#"4217["echo","still fine"]"#))
        .await
        .unwrap();
    raw::read_text_until(&mut ws, |t| t == r#"4317["still fine"]"#).await;
}

async fn expect_closed(ws: &mut tokio::net::TcpStream) {
    assert!(
        raw::ws_closed_within(ws, Duration::from_secs(5)).await,
        "the connection stayed open"
    );
}

// CVE-2024-38355: `error` and prototype names are plain events, handled in a map.
#[tokio::test]
async fn events_named_like_prototype_members_are_harmless() {
    let server = sio::start(SocketIo::builder()).await;
    let (mut ws, _) = raw::socketio(server.addr).await;
    for name in [
        "error",
        "__proto__",
        "constructor",
        "toString",
        "hasOwnProperty",
        "valueOf",
    ] {
        ws.write_all(&raw::text_frame(&format!(r#"42["{name}",{{"a":1}},null]"#)))
            .await
            .unwrap();
    }
    ws.write_all(&raw::text_frame(r#"421["echo","ok"]"#))
        .await
        .unwrap();
    raw::read_text_until(&mut ws, |t| t == r#"431["ok"]"#).await;
    server
        .log
        .wait_for("the prototype names", |l| l == "any:__proto__")
        .await;
}

// CVE-2023-32695 and the reserved names of 4.2.4, plus malformed packets of every kind:
// each closes its own connection with `parse error`.
#[tokio::test]
async fn malformed_packets_close_only_their_connection() {
    let server = sio::start(SocketIo::builder()).await;
    let bad = [
        r#"42[{"toString":"foo"}]"#,
        r#"42[true,"x"]"#,
        "42[null]",
        "42[]",
        "42{}",
        r#"42"str""#,
        r#"42["connect"]"#,
        r#"42["disconnect","x"]"#,
        r#"42["disconnecting"]"#,
        "4abc",
        r#"42abc["echo",1]"#,
        "47",
        "43[]",
        r#"44{"message":"spoofed"}"#,
        r#"42/unjoined,["echo"]"#,
        r#"45["a"]"#,
        r#"45a-["a"]"#,
        r#"451.23-["a"]"#,
        r#"45-1-["a"]"#,
    ];
    for packet in bad {
        let (mut ws, _) = raw::socketio(server.addr).await;
        ws.write_all(&raw::text_frame(packet)).await.unwrap();
        assert!(
            raw::ws_closed_within(&mut ws, Duration::from_secs(5)).await,
            "{packet} left the connection open"
        );
    }
    assert_others_unaffected(&server).await;
    let parse_errors = server
        .log
        .lines()
        .iter()
        .filter(|l| *l == "disconnect:/:parse error:0")
        .count();
    assert_eq!(parse_errors, bad.len(), "{:#?}", server.log.lines());
}

// CVE-2020-36049: a giant ack id is refused without being built.
#[tokio::test]
async fn giant_ack_ids_are_refused() {
    let server = sio::start(SocketIo::builder()).await;
    let (mut ws, _) = raw::socketio(server.addr).await;
    let packet = format!(r#"42{}["echo"]"#, "9".repeat(200_000));
    ws.write_all(&raw::text_frame(&packet)).await.unwrap();
    expect_closed(&mut ws).await;
    let (mut ws, _) = raw::socketio(server.addr).await;
    ws.write_all(&raw::text_frame(r#"4218446744073709551616["echo"]"#))
        .await
        .unwrap();
    expect_closed(&mut ws).await;
    assert_others_unaffected(&server).await;
}

// CVE-2026-33151: the attachment count is bounded (10 by default, configurable).
#[tokio::test]
async fn attachment_counts_are_bounded() {
    let limits = DecoderLimits {
        max_attachments: 2,
        ..DecoderLimits::default()
    };
    let server = sio::start(SocketIo::builder().decoder_limits(limits)).await;
    let (mut ws, _) = raw::socketio(server.addr).await;
    ws.write_all(&raw::text_frame(r#"453-["echo",1,2,3]"#))
        .await
        .unwrap();
    expect_closed(&mut ws).await;
    let (mut ws, _) = raw::socketio(server.addr).await;
    ws.write_all(&raw::text_frame(r#"45999999999-["echo"]"#))
        .await
        .unwrap();
    expect_closed(&mut ws).await;
    // Within the limit, binary works.
    let (mut ws, _) = raw::socketio(server.addr).await;
    ws.write_all(&raw::text_frame(
        r#"452-7["echo",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]"#,
    ))
    .await
    .unwrap();
    ws.write_all(&raw::frame(true, 2, &[1, 2], true))
        .await
        .unwrap();
    ws.write_all(&raw::frame(true, 2, &[3], true))
        .await
        .unwrap();
    raw::read_text_until(&mut ws, |t| t.starts_with("462-7[")).await;
}

// CVE-2022-2421: placeholders must name an attachment by an integer, once.
#[tokio::test]
async fn placeholder_tricks_close_the_connection() {
    let server = sio::start(SocketIo::builder()).await;
    for num in [r#""splice""#, "-1", "0.5", "1", r#""0""#, "null"] {
        let (mut ws, _) = raw::socketio(server.addr).await;
        let header = format!(r#"451-["echo",{{"_placeholder":true,"num":{num}}}]"#);
        ws.write_all(&raw::text_frame(&header)).await.unwrap();
        ws.write_all(&raw::frame(true, 2, &[1], true))
            .await
            .unwrap();
        expect_closed(&mut ws).await;
    }
    // Twice the same attachment.
    let (mut ws, _) = raw::socketio(server.addr).await;
    ws.write_all(&raw::text_frame(
        r#"452-["echo",{"_placeholder":true,"num":0},{"_placeholder":true,"num":0}]"#,
    ))
    .await
    .unwrap();
    ws.write_all(&raw::frame(true, 2, &[1], true))
        .await
        .unwrap();
    ws.write_all(&raw::frame(true, 2, &[2], true))
        .await
        .unwrap();
    expect_closed(&mut ws).await;
    // Binary without a header; text while attachments are pending.
    let (mut ws, _) = raw::socketio(server.addr).await;
    ws.write_all(&raw::frame(true, 2, &[1], true))
        .await
        .unwrap();
    expect_closed(&mut ws).await;
    let (mut ws, _) = raw::socketio(server.addr).await;
    ws.write_all(&raw::text_frame(
        r#"451-["echo",{"_placeholder":true,"num":0}]"#,
    ))
    .await
    .unwrap();
    ws.write_all(&raw::text_frame(r#"42["echo"]"#))
        .await
        .unwrap();
    expect_closed(&mut ws).await;
    // A placeholder in a text packet is plain data, echoed as such.
    let (mut ws, _) = raw::socketio(server.addr).await;
    ws.write_all(&raw::text_frame(
        r#"421["echo",{"_placeholder":true,"num":0}]"#,
    ))
    .await
    .unwrap();
    raw::read_text_until(&mut ws, |t| t == r#"431[{"_placeholder":true,"num":0}]"#).await;
    assert_others_unaffected(&server).await;
}

// socket.io #4984: acks that never come are dropped when their wait ends, and a socket
// cannot owe more than `max_pending_acks`.
#[tokio::test]
async fn acks_that_never_come_are_bounded_and_forgotten() {
    let server = sio::start(SocketIo::builder().max_pending_acks(100)).await;
    let (mut ws, id) = raw::socketio(server.addr).await;
    // Drain what the server sends, answer nothing.
    let drain = tokio::spawn(async move { while raw::read_frame(&mut ws).await.is_some() {} });
    let socket = server
        .io
        .of("/")
        .socket(socketio::SocketId::parse(&id).unwrap())
        .unwrap();
    let mut waits = Vec::new();
    for _ in 0..300 {
        let socket = socket.clone();
        waits.push(tokio::spawn(async move {
            socket
                .timeout(Duration::from_millis(300))
                .emit_with_ack::<(), _>("never", &())
                .await
        }));
    }
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(socket.pending_acks() <= 100, "{}", socket.pending_acks());
    let mut too_many = 0;
    let mut timed_out = 0;
    for wait in waits {
        match wait.await.unwrap() {
            Err(socketio::AckError::TooManyPending) => too_many += 1,
            Err(socketio::AckError::Timeout(_)) => timed_out += 1,
            other => panic!("{other:?}"),
        }
    }
    assert_eq!((too_many, timed_out), (200, 100));
    assert_eq!(socket.pending_acks(), 0);

    // Broadcasts with acks to a client that never answers leave nothing behind either.
    for _ in 0..200 {
        let result = server
            .io
            .timeout(Duration::from_millis(1))
            .emit_with_ack::<(), _>("never", &())
            .await;
        assert!(matches!(
            result,
            Err(socketio::BroadcastAckError::Timeout { .. })
        ));
    }
    assert_eq!(socket.pending_acks(), 0);
    drain.abort();
}

// A client that sends events faster than its handlers finish is cut off at the bound.
#[tokio::test]
async fn the_event_backlog_is_bounded() {
    let server = sio::start(SocketIo::builder().max_pending_events(50)).await;
    let (mut ws, _) = raw::socketio(server.addr).await;
    let mut burst = Vec::new();
    for _ in 0..500 {
        burst.extend_from_slice(&raw::text_frame(r#"42["slow"]"#));
    }
    ws.write_all(&burst).await.unwrap();
    expect_closed(&mut ws).await;
    server
        .log
        .wait_for("the cut", |l| l == "disconnect:/:forced server close:0")
        .await;
    assert_others_unaffected(&server).await;
}

// A client that does not read: its buffer fills, and the policy applies.
async fn flood_until_full(io: &SocketIo, socket: &Socket) -> socketio::EmitError {
    let chunk = "x".repeat(64 * 1024);
    for _ in 0..10_000 {
        if let Err(error) = socket.emit("flood", &chunk) {
            return error;
        }
        tokio::task::yield_now().await;
    }
    panic!("never full; {} sessions", io.engine().session_count());
}

#[tokio::test]
async fn a_slow_consumer_is_disconnected_by_default() {
    let builder = SocketIo::builder().engine(|e| e.max_buffered_bytes(256 * 1024));
    let server = sio::start(builder).await;
    let (_ws, id) = raw::socketio(server.addr).await;
    let socket = server
        .io
        .of("/")
        .socket(socketio::SocketId::parse(&id).unwrap())
        .unwrap();
    let error = flood_until_full(&server.io, &socket).await;
    assert!(matches!(error, socketio::EmitError::BufferFull), "{error}");
    server
        .log
        .wait_for("the slow consumer", |l| l == "disconnect:/:buffer full:0")
        .await;
    assert_others_unaffected(&server).await;
}

#[tokio::test]
async fn a_slow_consumer_may_be_kept_with_errors_instead() {
    let builder = SocketIo::builder()
        .engine(|e| e.max_buffered_bytes(256 * 1024))
        .slow_consumer_policy(SlowConsumerPolicy::Error);
    let server = sio::start(builder).await;
    let (_ws, id) = raw::socketio(server.addr).await;
    let socket = server
        .io
        .of("/")
        .socket(socketio::SocketId::parse(&id).unwrap())
        .unwrap();
    let error = flood_until_full(&server.io, &socket).await;
    assert!(matches!(error, socketio::EmitError::BufferFull), "{error}");
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(socket.connected());
    // A volatile emit to the full client is dropped silently.
    assert!(socket.volatile().emit("dropped", &()).is_ok());
}

#[tokio::test]
async fn the_number_of_dynamic_namespaces_is_bounded() {
    let server = sio::start(SocketIo::builder().max_namespaces(2)).await;
    let (mut ws, _) = raw::socketio(server.addr).await;
    for n in 1..=3 {
        ws.write_all(&raw::text_frame(&format!("40/room-{n},")))
            .await
            .unwrap();
        let answer = raw::read_text_until(&mut ws, |t| t.contains(&format!("/room-{n},"))).await;
        if n <= 2 {
            assert!(answer.starts_with("40/room-"), "{answer}");
        } else {
            assert_eq!(answer, r#"44/room-3,{"message":"Invalid namespace"}"#);
        }
    }
}

// Reserved names cannot be emitted by the server either.
#[tokio::test]
async fn the_server_cannot_emit_reserved_events() {
    let io = SocketIo::new();
    for name in [
        "connect",
        "connect_error",
        "disconnect",
        "disconnecting",
        "newListener",
        "removeListener",
    ] {
        assert!(matches!(
            io.emit(name, &()),
            Err(socketio::EmitError::ReservedEvent(_))
        ));
    }
    assert!(io.emit("error", &()).is_ok());
}

// Socket ids are random and are not the Engine.IO session id (a bearer token).
#[tokio::test]
async fn socket_ids_are_not_session_ids() {
    let server = sio::start(SocketIo::builder()).await;
    let mut ws = raw::websocket(server.addr, "/socket.io/?EIO=4&transport=websocket").await;
    let open = raw::read_text_until(&mut ws, |t| t.starts_with('0')).await;
    let sid: serde_json::Value = serde_json::from_str(&open[1..]).unwrap();
    ws.write_all(&raw::text_frame("40")).await.unwrap();
    let connected = raw::read_text_until(&mut ws, |t| t.starts_with("40")).await;
    let socket: serde_json::Value = serde_json::from_str(&connected[2..]).unwrap();
    assert_ne!(sid["sid"], socket["sid"]);
    assert_eq!(socket["sid"].as_str().unwrap().len(), 20);
}

// A handler that panics ends its event only.
#[tokio::test]
async fn a_panicking_handler_does_not_take_the_connection_down() {
    let server = sio::start(SocketIo::builder()).await;
    server
        .io
        .of("/")
        .on_connection(|socket: Socket| async move {
            socket.on("boom", |_socket: Socket, event: Event| async move {
                if event.name() == "boom" {
                    panic!("handler bug");
                }
            });
        });
    let (mut ws, _) = raw::socketio(server.addr).await;
    ws.write_all(&raw::text_frame(r#"42["boom"]"#))
        .await
        .unwrap();
    ws.write_all(&raw::text_frame(r#"421["echo","alive"]"#))
        .await
        .unwrap();
    raw::read_text_until(&mut ws, |t| t == r#"431["alive"]"#).await;
}
