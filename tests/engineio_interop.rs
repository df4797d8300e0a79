//! The Engine.IO server against the official `engine.io-client` from npm, in Node.

mod support;

use std::time::Duration;

use engineio::{CloseReason, EngineIo, EngineIoBuilder, Message, Refusal};
use support::{ServerEvent, TestServer, node};

fn fast_heartbeat() -> EngineIoBuilder {
    EngineIo::builder()
        .ping_interval(Duration::from_millis(300))
        .ping_timeout(Duration::from_millis(200))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn polling_only() {
    let server = TestServer::start(EngineIo::builder()).await;
    let seen = node(&["engineio/client.mjs", "polling", &server.url()]).await;
    assert_eq!(seen["transport"], "polling");
    server
        .recorder
        .wait_until("the close", |events| {
            events.iter().any(|e| matches!(e, ServerEvent::Close(_)))
        })
        .await;
    let events = server.recorder.events();
    assert!(events.contains(&ServerEvent::Message(Message::text("hello €"))));
    assert!(!events.contains(&ServerEvent::Upgrade));
    assert_eq!(
        server.recorder.close_reasons(),
        [CloseReason::TransportClose]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_only() {
    let server = TestServer::start(EngineIo::builder()).await;
    let seen = node(&["engineio/client.mjs", "websocket", &server.url()]).await;
    assert_eq!(seen["transport"], "websocket");
    server
        .recorder
        .wait_until("the close", |events| {
            events.iter().any(|e| matches!(e, ServerEvent::Close(_)))
        })
        .await;
    assert_eq!(
        server.recorder.close_reasons(),
        [CloseReason::TransportClose]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upgrade_from_polling_to_websocket() {
    let server = TestServer::start(EngineIo::builder()).await;
    let seen = node(&["engineio/client.mjs", "upgrade", &server.url()]).await;
    assert_eq!(seen["transport"], "websocket");
    server
        .recorder
        .wait_until("the close", |events| {
            events.iter().any(|e| matches!(e, ServerEvent::Close(_)))
        })
        .await;
    let events = server.recorder.events();
    let upgrade = events.iter().position(|e| *e == ServerEvent::Upgrade);
    let after = events
        .iter()
        .position(|e| *e == ServerEvent::Message(Message::text("after")));
    assert!(
        upgrade.is_some() && after.is_some() && upgrade < after,
        "{events:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binary_both_ways() {
    let server = TestServer::start(EngineIo::builder()).await;
    for transport in ["polling", "websocket"] {
        let seen = node(&["engineio/client.mjs", "binary", &server.url(), transport]).await;
        assert_eq!(
            seen["first"],
            serde_json::json!([1, 2, 3, 4]),
            "{transport}"
        );
        assert_eq!(
            seen["second"],
            serde_json::json!([255, 0, 30, 128]),
            "{transport}"
        );
    }
    let binaries = server
        .recorder
        .events()
        .into_iter()
        .filter(|e| matches!(e, ServerEvent::Message(Message::Binary(_))))
        .count();
    assert_eq!(binaries, 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_over_max_payload_closes_the_session() {
    let server = TestServer::start(EngineIo::builder().max_payload(1000)).await;
    for transport in ["websocket", "polling"] {
        let seen = node(&["engineio/client.mjs", "too-big", &server.url(), transport]).await;
        assert!(
            seen["reason"].as_str().unwrap().starts_with("transport"),
            "{seen}"
        );
    }
    server
        .recorder
        .wait_until("two closes", |events| {
            events
                .iter()
                .filter(|e| matches!(e, ServerEvent::Close(_)))
                .count()
                == 2
        })
        .await;
    assert_eq!(
        server.recorder.close_reasons(),
        [CloseReason::TransportError, CloseReason::TransportError]
    );
    assert!(
        !server
            .recorder
            .events()
            .iter()
            .any(|e| matches!(e, ServerEvent::Message(_))),
        "the oversized message was not delivered"
    );
    assert_eq!(server.engine.session_count(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn heartbeat_timeout_when_the_client_stops_answering() {
    let server = TestServer::start(fast_heartbeat()).await;
    for transport in ["websocket", "polling"] {
        let seen = node(&[
            "engineio/client.mjs",
            "ping-timeout",
            &server.url(),
            transport,
        ])
        .await;
        // One ping interval, then the ping timeout.
        let after = seen["afterMs"].as_u64().unwrap();
        assert!(
            (400..5000).contains(&after),
            "{transport}: closed after {after} ms"
        );
    }
    server
        .recorder
        .wait_until("two closes", |events| {
            events
                .iter()
                .filter(|e| matches!(e, ServerEvent::Close(_)))
                .count()
                == 2
        })
        .await;
    assert_eq!(
        server.recorder.close_reasons(),
        [CloseReason::PingTimeout, CloseReason::PingTimeout]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_initiated_close() {
    let server = TestServer::start(EngineIo::builder()).await;
    for transport in ["websocket", "polling"] {
        node(&[
            "engineio/client.mjs",
            "client-close",
            &server.url(),
            transport,
        ])
        .await;
    }
    server
        .recorder
        .wait_until("two closes", |events| {
            events
                .iter()
                .filter(|e| matches!(e, ServerEvent::Close(_)))
                .count()
                == 2
        })
        .await;
    assert_eq!(
        server.recorder.close_reasons(),
        [CloseReason::TransportClose, CloseReason::TransportClose]
    );
    assert_eq!(server.engine.session_count(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_refused_by_allow_request() {
    let builder = EngineIo::builder().allow_request(|request| {
        let token = request.headers.get("x-token").cloned();
        async move {
            match token {
                Some(token) if token == "right" => Ok(()),
                _ => Err(Refusal::with_message("bad token")),
            }
        }
    });
    let server = TestServer::start(builder).await;
    for transport in ["polling", "websocket"] {
        let seen = node(&["engineio/client.mjs", "refused", &server.url(), transport]).await;
        assert!(!seen["message"].as_str().unwrap().is_empty(), "{seen}");
    }
    assert!(server.recorder.events().is_empty(), "no session was opened");
    assert_eq!(server.engine.session_count(), 0);
}
