//! The Socket.IO server against the official `socket.io-client` 4.x from npm, in Node.
//! Each test runs one scenario of `tests/interop/socketio/client.mjs` against the fixture
//! of `tests/support/sio.rs`, then checks what the server's handlers saw.

mod support;

use std::time::Duration;

use socketio::{Parser, SocketIo};
use support::node;
use support::sio::{self, SioServer};

async fn run(server: &SioServer, scenario: &str) -> serde_json::Value {
    node(&["socketio/client.mjs", scenario, &server.url()]).await
}

async fn run_with(
    server: &SioServer,
    scenario: &str,
    options: serde_json::Value,
) -> serde_json::Value {
    node(&[
        "socketio/client.mjs",
        scenario,
        &server.url(),
        &options.to_string(),
    ])
    .await
}

fn fast_heartbeat() -> socketio::SocketIoBuilder {
    SocketIo::builder().engine(|engine| {
        engine
            .ping_interval(Duration::from_millis(300))
            .ping_timeout(Duration::from_millis(200))
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handshake_details_reach_the_server() {
    let server = sio::start(SocketIo::builder()).await;
    let hello = run(&server, "handshake").await;
    assert_eq!(hello["namespace"], "/");
    assert_eq!(hello["auth"], serde_json::json!({ "token": "abc" }));
    assert_eq!(hello["query_x"], "1");
    assert_eq!(hello["header"], "yes");
    assert_eq!(hello["has_address"], true);
    let url = hello["url"].as_str().unwrap();
    assert!(
        url.starts_with("/socket.io/?") && url.contains("EIO=4"),
        "{url}"
    );
    assert!(hello["issued"].as_u64().unwrap() > 1_700_000_000_000);
    assert_eq!(hello["id"].as_str().unwrap().len(), 20);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_acks_binary_and_order() {
    let server = sio::start(SocketIo::builder()).await;
    for transports in [None, Some("polling"), Some("websocket")] {
        let options = match transports {
            Some(transport) => serde_json::json!({ "transports": [transport] }),
            None => serde_json::json!({}),
        };
        let seen = run_with(&server, "events", options).await;
        if let Some(transport) = transports {
            assert_eq!(seen["transport"], transport);
        }
    }
    let log = server.log.lines();
    // Catch-all listeners both ways; both handlers of "twice", in order.
    assert!(log.contains(&"any:echo".to_owned()), "{log:#?}");
    // prependAny runs first; a listener removed with offAny never runs.
    let first = log.iter().position(|l| l == "first:echo").unwrap();
    assert_eq!(log[first + 1], "any:echo");
    assert!(!log.contains(&"removed listener ran".to_owned()));
    assert!(log.contains(&"out:echo-event".to_owned()), "{log:#?}");
    let first = log.iter().position(|l| l == "twice:1").unwrap();
    assert_eq!(log[first + 1], "twice:2");
    assert!(
        log.contains(&"error:forbidden event".to_owned()),
        "{log:#?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_msgpack_parser() {
    let server = sio::start(SocketIo::builder().parser(Parser::MsgPack)).await;
    run_with(&server, "events", serde_json::json!({ "msgpack": true })).await;
    run_with(
        &server,
        "events",
        serde_json::json!({ "msgpack": true, "transports": ["polling"] }),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rooms_and_broadcasts() {
    let server = sio::start(SocketIo::builder()).await;
    let seen = run(&server, "rooms").await;
    let inbox = |who: &str| -> Vec<String> {
        seen["inbox"][who]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e.as_str().unwrap().to_owned())
            .collect()
    };
    // a: in room:1 (left before after-leave); b: room:1; c: room:2.
    assert_eq!(
        inbox("a"),
        [
            "to-1", "to-both", "excepted", "all", "local", "poll", "poll"
        ]
    );
    assert_eq!(
        inbox("b"),
        [
            "to-1",
            "to-both",
            "excepted",
            "to-from",
            "broadcasted",
            "all",
            "local",
            "after-leave",
            "poll",
            "poll"
        ]
    );
    assert_eq!(
        inbox("c"),
        ["to-both", "broadcasted", "all", "local", "poll", "poll"]
    );
    assert_eq!(
        seen["partial"],
        serde_json::json!({ "complete": false, "answers": 2, "expected": 3 })
    );
    assert_eq!(
        seen["complete"],
        serde_json::json!({ "complete": true, "answers": 3 })
    );
    let log = server.log.lines();
    for expected in [r#"room:Create("room:1")"#, r#"room:Create("room:2")"#] {
        assert!(log.contains(&expected.to_owned()), "{expected}: {log:#?}");
    }
    assert!(
        log.iter()
            .any(|l| l.starts_with(r#"room:Leave { room: "room:1""#))
    );
    assert!(log.iter().any(|l| l == r#"room:Delete("room:1")"#));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn namespaces_static_dynamic_unknown_and_multiplexed() {
    let server = sio::start(SocketIo::builder()).await;
    let seen = run(&server, "namespaces").await;
    assert_eq!(seen["multiplexed"], true);
    server
        .log
        .wait_for("the main socket's leave", |l| {
            l == "disconnect:/:client namespace disconnect:0"
        })
        .await;
    assert!(server.log.contains("connect:/room-42"));
    assert_eq!(
        server.io.namespaces().len(),
        4,
        "/, /admin, /private and /room-42"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn namespace_middleware_refuses_with_message_and_data() {
    let server = sio::start(SocketIo::builder()).await;
    run(&server, "middleware").await;
    let log = server.log.lines();
    assert_eq!(
        log.iter().filter(|l| *l == "connect:/private").count(),
        1,
        "{log:#?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disconnect_reasons() {
    let server = sio::start(SocketIo::builder()).await;
    let reasons = run(&server, "disconnects").await;
    assert_eq!(reasons["serverDisconnect"], "io server disconnect");
    assert_eq!(
        reasons["closeConnection"],
        serde_json::json!(["io server disconnect", "io server disconnect"])
    );
    assert_eq!(reasons["kickRoom"], "io server disconnect");
    let log = &server.log;
    log.wait_for("the dropped connection", |l| {
        l == "disconnect:/:transport close:0"
    })
    .await;
    for expected in [
        "disconnect:/:server namespace disconnect:0",
        "disconnect:/admin:server namespace disconnect:0",
        // `disconnecting` still sees the rooms, `disconnect` no longer does.
        "disconnecting:/:client namespace disconnect:room:z",
        "disconnect:/:client namespace disconnect:0",
    ] {
        assert!(log.contains(expected), "{expected}: {:#?}", log.lines());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ping_timeout_is_a_disconnect_reason() {
    let server = sio::start(fast_heartbeat()).await;
    let seen = run(&server, "ping-timeout").await;
    assert_eq!(seen["reason"], "transport close");
    server
        .log
        .wait_for("the ping timeout", |l| l == "disconnect:/:ping timeout:0")
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_side_operations() {
    let server = sio::start(SocketIo::builder()).await;
    let seen = run(&server, "server-ops").await;
    let everyone = seen["everyone"].as_array().unwrap();
    assert_eq!(everyone.len(), 2);
    let a = everyone.iter().find(|s| s["id"] == seen["a"]).unwrap();
    assert_eq!(a["data"], serde_json::json!({ "user": "ann" }));
    let b = everyone.iter().find(|s| s["id"] == seen["b"]).unwrap();
    assert_eq!(b["rooms"], serde_json::json!(["room:f"]));
    assert_eq!(seen["inRoom"].as_array().unwrap().len(), 1);
    assert_eq!(seen["inRoom"][0]["id"], seen["b"]);
    assert_eq!(seen["joined"], 2);
    assert_eq!(seen["left"], 0);
    assert_eq!(seen["afterRemote"][0]["id"], seen["b"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_that_join_nothing_are_closed() {
    let server = sio::start(SocketIo::builder().connect_timeout(Duration::from_millis(500))).await;
    let seen = run(&server, "connect-timeout").await;
    let after = seen["closedAfterMs"].as_u64().unwrap();
    assert!((300..5000).contains(&after), "closed after {after} ms");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_shutdown() {
    let server = sio::start(SocketIo::builder()).await;
    let io = server.io.clone();
    let log = server.log.clone();
    let closer = tokio::spawn(async move {
        log.wait_for("the client", |l| l == "any:ready").await;
        io.close(Duration::from_secs(5)).await;
    });
    let seen = run(&server, "shutdown").await;
    closer.await.unwrap();
    assert_eq!(
        seen["reasons"],
        serde_json::json!(["transport close", "transport close"])
    );
    for namespace in ["/", "/admin"] {
        let expected = format!("disconnect:{namespace}:server shutting down:0");
        server.log.wait_for(&expected, |l| l == expected).await;
    }
    assert_eq!(server.io.engine().session_count(), 0);
}
