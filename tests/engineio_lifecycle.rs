//! Server-side closes and graceful shutdown, seen from raw clients.

mod support;

use std::time::Duration;

use engineio::{CloseReason, EngineIo, Sid};
use support::raw;
use support::{ServerEvent, TestServer};
use tokio::io::AsyncWriteExt;

const PATH: &str = "/engine.io/";

fn socket(server: &TestServer, sid: &str) -> engineio::EngineSocket {
    server.engine.socket(&Sid::parse(sid).unwrap()).unwrap()
}

#[tokio::test]
async fn the_server_closes_a_long_polling_session() {
    let server = TestServer::start(EngineIo::builder()).await;
    let sid = raw::polling_handshake(server.addr, PATH).await;
    let query = format!("{PATH}?EIO=4&transport=polling&sid={sid}");
    let socket = socket(&server, &sid);
    socket.try_send(engineio::Message::text("bye")).unwrap();
    socket.close();
    // The next GET carries what was queued, then the close packet.
    let response = raw::request(server.addr, &raw::get(&query, ""))
        .await
        .unwrap();
    assert_eq!(response.text(), "4bye\x1e1");
    server
        .recorder
        .wait_until("the close", |e| {
            e.contains(&ServerEvent::Close(CloseReason::ForcedClose))
        })
        .await;
    let response = raw::request(server.addr, &raw::get(&query, ""))
        .await
        .unwrap();
    assert_eq!(response.status, 400);
    assert!(socket.is_closed());
    assert!(socket.try_send(engineio::Message::text("late")).is_err());
}

#[tokio::test]
async fn the_server_closes_a_websocket_session() {
    let server = TestServer::start(EngineIo::builder()).await;
    let mut ws = raw::websocket(server.addr, &format!("{PATH}?EIO=4&transport=websocket")).await;
    let open = raw::read_text_until(&mut ws, |t| t.starts_with('0')).await;
    let handshake: serde_json::Value = serde_json::from_str(&open[1..]).unwrap();
    let socket = socket(&server, handshake["sid"].as_str().unwrap());
    socket.try_send(engineio::Message::text("bye")).unwrap();
    socket.close();
    raw::read_text_until(&mut ws, |t| t == "4bye").await;
    assert_eq!(raw::read_close_code(&mut ws).await, Some(1000));
    server
        .recorder
        .wait_until("the close", |e| {
            e.contains(&ServerEvent::Close(CloseReason::ForcedClose))
        })
        .await;
}

#[tokio::test]
async fn shutdown_closes_every_session_and_refuses_new_ones() {
    let server = TestServer::start(EngineIo::builder()).await;
    // A long-polling session with a GET waiting, one without, and a WebSocket session.
    let waiting = raw::polling_handshake(server.addr, PATH).await;
    let idle = raw::polling_handshake(server.addr, PATH).await;
    let mut poll = raw::connect(server.addr).await;
    poll.write_all(&raw::get(
        &format!("{PATH}?EIO=4&transport=polling&sid={waiting}"),
        "",
    ))
    .await
    .unwrap();
    let mut ws = raw::websocket(server.addr, &format!("{PATH}?EIO=4&transport=websocket")).await;
    raw::read_text_until(&mut ws, |t| t.starts_with('0')).await;
    server
        .recorder
        .wait_until("three sessions", |e| {
            e.iter()
                .filter(|e| matches!(e, ServerEvent::Open(_)))
                .count()
                == 3
        })
        .await;
    tokio::time::sleep(Duration::from_millis(50)).await;

    let engine = server.engine.clone();
    let closing = tokio::spawn(async move { engine.close(Duration::from_secs(30)).await });
    // The session between two GETs receives the `close` packet on its next one, which
    // ends the shutdown long before its grace period.
    let next = raw::request(
        server.addr,
        &raw::get(&format!("{PATH}?EIO=4&transport=polling&sid={idle}"), ""),
    )
    .await
    .unwrap();
    assert_eq!(next.text(), "1");
    tokio::time::timeout(Duration::from_secs(10), closing)
        .await
        .expect("the shutdown ends once every session is gone")
        .unwrap();

    assert_eq!(server.engine.session_count(), 0);
    assert_eq!(
        server.recorder.close_reasons(),
        [CloseReason::ForcedClose; 3],
        "{:?}",
        server.recorder.events()
    );
    let answer = raw::read_response(&mut poll).await.unwrap();
    assert_eq!(answer.text(), "1");
    assert_eq!(raw::read_close_code(&mut ws).await, Some(1000));
    let refused = raw::request(
        server.addr,
        &raw::get(&format!("{PATH}?EIO=4&transport=polling"), ""),
    )
    .await
    .unwrap();
    assert_eq!(refused.status, 503);
}

#[tokio::test]
async fn the_session_limit_is_enforced() {
    let server = TestServer::start(EngineIo::builder().max_sessions(2)).await;
    raw::polling_handshake(server.addr, PATH).await;
    raw::polling_handshake(server.addr, PATH).await;
    let query = format!("{PATH}?EIO=4&transport=polling");
    let refused = raw::request(server.addr, &raw::get(&query, ""))
        .await
        .unwrap();
    assert_eq!(refused.status, 503);
    assert_eq!(
        refused.text(),
        r#"{"code":3,"message":"Too many sessions"}"#
    );
    let ws = raw::request(
        server.addr,
        &raw::ws_upgrade(&format!("{PATH}?EIO=4&transport=websocket"), ""),
    )
    .await
    .unwrap();
    assert_eq!(ws.status, 503);
}

#[tokio::test]
async fn the_session_cookie_is_set_on_the_handshake() {
    let server = TestServer::start(EngineIo::builder().cookie(engineio::Cookie::default())).await;
    let response = raw::request(
        server.addr,
        &raw::get(&format!("{PATH}?EIO=4&transport=polling"), ""),
    )
    .await
    .unwrap();
    let text = response.text();
    let sid = serde_json::from_str::<serde_json::Value>(&text[1..]).unwrap()["sid"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        response.header("set-cookie"),
        Some(format!("io={sid}; Path=/; HttpOnly; SameSite=Lax").as_str())
    );
    let ws = raw::request(
        server.addr,
        &raw::ws_upgrade(&format!("{PATH}?EIO=4&transport=websocket"), ""),
    )
    .await
    .unwrap();
    assert!(
        ws.header("set-cookie")
            .is_some_and(|c| c.starts_with("io="))
    );
}

#[tokio::test]
async fn frames_sent_with_the_upgrade_request_are_not_lost() {
    // A client that does not wait for the 101: its first frame arrives in the same read as
    // the request, so hyper has it buffered when the connection is handed over.
    let server = TestServer::start(EngineIo::builder()).await;
    let mut stream = raw::connect(server.addr).await;
    let mut bytes = raw::ws_upgrade(&format!("{PATH}?EIO=4&transport=websocket"), "");
    bytes.extend(raw::text_frame("4early"));
    stream.write_all(&bytes).await.unwrap();
    let response = raw::read_response(&mut stream).await.unwrap();
    assert_eq!(response.status, 101);
    raw::read_text_until(&mut stream, |t| t.starts_with('0')).await;
    // The echo server sends it back.
    raw::read_text_until(&mut stream, |t| t == "4early").await;
}
