//! Regression tests for the attacks that broke the Node Engine.IO and WebSocket stack
//! (`shared/security-regressions.md`): each sends the input of one row and checks that the
//! server answers as the row says and stays up for everyone else.

mod support;

use std::collections::HashSet;
use std::time::Duration;

use engineio::{CloseReason, Cors, EngineIo};
use support::raw::{self, HttpResponse};
use support::{ServerEvent, TestServer};
use tokio::io::AsyncWriteExt;

const PATH: &str = "/engine.io/";

fn fast_heartbeat() -> engineio::EngineIoBuilder {
    EngineIo::builder()
        .ping_interval(Duration::from_millis(300))
        .ping_timeout(Duration::from_millis(200))
}

/// The server still opens sessions for a well-behaved client.
async fn assert_still_serving(server: &TestServer) {
    let sid = raw::polling_handshake(server.addr, PATH).await;
    assert_eq!(sid.len(), 20);
}

fn json(response: &HttpResponse) -> serde_json::Value {
    serde_json::from_slice(&response.body).unwrap_or_else(|_| panic!("{}", response.text()))
}

// CVE-2023-31125: an unknown transport (code 0, falsy in JS) must be an error.
#[tokio::test]
async fn unknown_transports_are_refused_with_code_0() {
    let server = TestServer::start(EngineIo::builder()).await;
    for transport in ["__proto__", "constructor", "foo", "", "hasOwnProperty"] {
        let query = format!("{PATH}?EIO=4&transport={transport}");
        for request in [raw::get(&query, ""), raw::ws_upgrade(&query, "")] {
            let response = raw::request(server.addr, &request).await.unwrap();
            assert_eq!(response.status, 400, "{transport}");
            assert_eq!(
                json(&response),
                serde_json::json!({"code": 0, "message": "Transport unknown"})
            );
        }
    }
    let response = raw::request(server.addr, &raw::get(&format!("{PATH}?EIO=4"), ""))
        .await
        .unwrap();
    assert_eq!(json(&response)["code"], 0);
    for sid in ["__proto__", "constructor", "aaaaaaaaaaaaaaaaaaaa"] {
        let query = format!("{PATH}?EIO=4&transport=polling&sid={sid}");
        let response = raw::request(server.addr, &raw::get(&query, ""))
            .await
            .unwrap();
        assert_eq!(response.status, 400);
        assert_eq!(
            json(&response),
            serde_json::json!({"code": 1, "message": "Session ID unknown"})
        );
    }
    assert_still_serving(&server).await;
}

// The other error codes of Node's verify(), with its JSON bodies.
#[tokio::test]
async fn handshake_errors_have_node_codes() {
    let server = TestServer::start(EngineIo::builder()).await;
    let cases: [(Vec<u8>, u16, u64); 4] = [
        (
            raw::post(&format!("{PATH}?EIO=4&transport=polling"), "", b"x"),
            400,
            2,
        ),
        (
            raw::get(&format!("{PATH}?EIO=3&transport=polling"), ""),
            400,
            5,
        ),
        (raw::get(&format!("{PATH}?transport=polling"), ""), 400, 5),
        // engine.io 6.2.0: a WebSocket handshake without the upgrade headers.
        (
            raw::get(&format!("{PATH}?EIO=4&transport=websocket"), ""),
            400,
            3,
        ),
    ];
    for (request, status, code) in cases {
        let response = raw::request(server.addr, &request).await.unwrap();
        assert_eq!(response.status, status, "{}", response.text());
        assert_eq!(json(&response)["code"], code, "{}", response.text());
        assert_eq!(response.header("content-type"), Some("application/json"));
    }
    let response = raw::request(server.addr, &raw::get("/elsewhere", ""))
        .await
        .unwrap();
    assert_eq!(response.status, 404);
}

// engine.io e0d720c7: control characters in Origin were reflected into headers.
#[tokio::test]
async fn control_characters_in_origin_are_refused() {
    let server = TestServer::start(EngineIo::builder().cors(Cors::mirror_request())).await;
    for origin in ["a\x01b", "x\x7fy", "evil\x0d"] {
        let request = raw::get(
            &format!("{PATH}?EIO=4&transport=polling"),
            &format!("Origin: {origin}\r\n"),
        );
        let response = raw::request(server.addr, &request).await;
        if let Some(response) = response {
            assert_eq!(response.status, 400, "{origin:?}");
            assert!(
                !response.has_header_prefix("access-control-"),
                "{response:?}"
            );
        }
    }
    assert_still_serving(&server).await;
}

// CVE-2020-28481: CORS defaulted to `*`. By default, no CORS header for anyone.
#[tokio::test]
async fn no_cors_headers_by_default() {
    let server = TestServer::start(EngineIo::builder()).await;
    for origin in ["https://evil.example", "null"] {
        let request = raw::get(
            &format!("{PATH}?EIO=4&transport=polling"),
            &format!("Origin: {origin}\r\n"),
        );
        let response = raw::request(server.addr, &request).await.unwrap();
        assert_eq!(response.status, 200);
        assert!(
            !response.has_header_prefix("access-control-"),
            "{response:?}"
        );
    }
}

#[tokio::test]
async fn a_cors_list_matches_exactly() {
    let cors = Cors::origins(["https://good.example"])
        .unwrap()
        .credentials(true);
    let server = TestServer::start(EngineIo::builder().cors(cors)).await;
    let origin_header = |origin: &str| {
        raw::get(
            &format!("{PATH}?EIO=4&transport=polling"),
            &format!("Origin: {origin}\r\n"),
        )
    };
    let good = raw::request(server.addr, &origin_header("https://good.example"))
        .await
        .unwrap();
    assert_eq!(
        good.header("access-control-allow-origin"),
        Some("https://good.example")
    );
    assert_eq!(
        good.header("access-control-allow-credentials"),
        Some("true")
    );
    for evil in [
        "https://good.example.evil.example",
        "https://evilgood.example",
        "http://good.example",
        "https://good.example:444",
        "null",
    ] {
        let response = raw::request(server.addr, &origin_header(evil))
            .await
            .unwrap();
        assert!(
            response.header("access-control-allow-origin").is_none(),
            "{evil}: {response:?}"
        );
    }
}

// Cross-site WebSocket hijacking: CORS does not apply to WebSockets, an allow-list does.
#[tokio::test]
async fn an_origin_allow_list_refuses_foreign_websockets() {
    let builder = EngineIo::builder().allowed_origins(["https://good.example"]);
    let server = TestServer::start(builder).await;
    let query = format!("{PATH}?EIO=4&transport=websocket");
    let evil = raw::ws_upgrade(&query, "Origin: https://evil.example\r\nCookie: io=x\r\n");
    let response = raw::request(server.addr, &evil).await.unwrap();
    assert_eq!(response.status, 403);
    let good = raw::ws_upgrade(&query, "Origin: https://good.example\r\n");
    assert_eq!(raw::request(server.addr, &good).await.unwrap().status, 101);
    let polling = raw::get(
        &format!("{PATH}?EIO=4&transport=polling"),
        "Origin: https://evil.example\r\n",
    );
    assert_eq!(
        raw::request(server.addr, &polling).await.unwrap().status,
        403
    );
    // Non-browser clients send no Origin.
    assert_still_serving(&server).await;
}

// CVE-2020-36048: a POST over the limit is refused before it is buffered.
#[tokio::test]
async fn oversized_post_bodies_get_413_and_end_the_session() {
    let server = TestServer::start(EngineIo::builder().max_payload(1_000_000)).await;
    let sid = raw::polling_handshake(server.addr, PATH).await;
    let query = format!("{PATH}?EIO=4&transport=polling&sid={sid}");
    // Declared too large: refused before a byte of the body is read.
    let mut stream = raw::connect(server.addr).await;
    let head =
        format!("POST {query} HTTP/1.1\r\nHost: t\r\nContent-Length: 1000001\r\n\r\n4partial");
    stream.write_all(head.as_bytes()).await.unwrap();
    let response = raw::read_response(&mut stream).await.unwrap();
    assert_eq!(response.status, 413);
    server
        .recorder
        .wait_until("the close", |events| {
            events.contains(&ServerEvent::Close(CloseReason::TransportError))
        })
        .await;

    // Chunked: counted as it arrives.
    let sid = raw::polling_handshake(server.addr, PATH).await;
    let query = format!("{PATH}?EIO=4&transport=polling&sid={sid}");
    let mut stream = raw::connect(server.addr).await;
    let head = format!("POST {query} HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n");
    stream.write_all(head.as_bytes()).await.unwrap();
    let chunk = format!("{:x}\r\n{}\r\n", 100_000, "4".repeat(100_000));
    let mut status = None;
    for _ in 0..11 {
        if stream.write_all(chunk.as_bytes()).await.is_err() {
            break;
        }
    }
    if let Ok(Some(response)) =
        tokio::time::timeout(Duration::from_secs(5), raw::read_response(&mut stream)).await
    {
        status = Some(response.status);
    }
    assert_eq!(status, Some(413));
    assert_still_serving(&server).await;
}

// CVE-2020-36048: a 1 MB body of one-byte packets decodes in linear time and memory.
#[tokio::test]
async fn a_body_of_tiny_packets_is_handled() {
    let server = TestServer::start(EngineIo::builder()).await;
    let sid = raw::polling_handshake(server.addr, PATH).await;
    let body = "6\x1e".repeat(333_333) + "6";
    let started = std::time::Instant::now();
    let query = format!("{PATH}?EIO=4&transport=polling&sid={sid}");
    let response = raw::request(server.addr, &raw::post(&query, "", body.as_bytes()))
        .await
        .unwrap();
    assert_eq!(response.status, 200);
    assert_eq!(response.text(), "ok");
    // Generous: this is about not being quadratic, not about speed.
    assert!(started.elapsed() < Duration::from_secs(10));
}

// engine.io 6.6.7: a binary content type on EIO4 left the request hanging.
#[tokio::test]
async fn a_binary_post_is_answered_400() {
    let server = TestServer::start(EngineIo::builder()).await;
    let sid = raw::polling_handshake(server.addr, PATH).await;
    let query = format!("{PATH}?EIO=4&transport=polling&sid={sid}");
    let request = raw::post(
        &query,
        "Content-Type: application/octet-stream\r\n",
        b"4abc",
    );
    let response = raw::request(server.addr, &request).await.unwrap();
    assert_eq!(response.status, 400);
}

// CVE-2016-10542: a frame announcing 2^62 bytes is refused before allocation (1009).
#[tokio::test]
async fn a_huge_frame_header_is_refused_with_1009() {
    let server = TestServer::start(EngineIo::builder()).await;
    let rss_before = raw::rss_kib();
    let mut ws = raw::websocket(server.addr, &format!("{PATH}?EIO=4&transport=websocket")).await;
    let mut header = vec![0x82, 0x80 | 127];
    header.extend_from_slice(&(1u64 << 62).to_be_bytes());
    header.extend_from_slice(&[1, 2, 3, 4]);
    ws.write_all(&header).await.unwrap();
    assert_eq!(raw::read_close_code(&mut ws).await, Some(1009));
    assert!(raw::rss_kib() < rss_before + 100_000);
    server
        .recorder
        .wait_until("the close", |events| {
            events.contains(&ServerEvent::Close(CloseReason::TransportError))
        })
        .await;
    assert_still_serving(&server).await;
}

// CVE-2016-10542: fragments summing past the limit are refused too.
#[tokio::test]
async fn fragments_over_the_limit_are_refused_with_1009() {
    let server = TestServer::start(EngineIo::builder().max_payload(1000)).await;
    let mut ws = raw::websocket(server.addr, &format!("{PATH}?EIO=4&transport=websocket")).await;
    let part = vec![b'4'; 600];
    ws.write_all(&raw::frame(false, 1, &part, true))
        .await
        .unwrap();
    ws.write_all(&raw::frame(false, 0, &part, true))
        .await
        .unwrap();
    assert_eq!(raw::read_close_code(&mut ws).await, Some(1009));
}

// CVE-2026-48779: a million tiny fragments cost memory in proportion to their bytes, and
// the message is cut off at the size limit.
#[tokio::test]
async fn many_tiny_fragments_are_bounded() {
    let server = TestServer::start(EngineIo::builder().max_payload(100_000)).await;
    let mut ws = raw::websocket(server.addr, &format!("{PATH}?EIO=4&transport=websocket")).await;
    let rss_before = raw::rss_kib();
    ws.write_all(&raw::frame(false, 1, b"4", true))
        .await
        .unwrap();
    let fragment = raw::frame(false, 0, b"x", true);
    let batch = fragment.repeat(1000);
    let mut sent = 0;
    let code = loop {
        if ws.write_all(&batch).await.is_err() {
            break raw::read_close_code(&mut ws).await;
        }
        sent += 1000;
        if sent > 200_000 {
            break raw::read_close_code(&mut ws).await;
        }
        if sent % 20_000 == 0 {
            // Let the server catch up so the close comes before we send much more.
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    };
    assert_eq!(code, Some(1009));
    let grown = raw::rss_kib().saturating_sub(rss_before);
    assert!(grown < 50_000, "RSS grew by {grown} KiB");
    assert_still_serving(&server).await;
}

// Single-byte TCP writes are reassembled without per-chunk cost.
#[tokio::test]
async fn one_byte_writes_are_reassembled() {
    let server = TestServer::start(EngineIo::builder()).await;
    let mut ws = raw::websocket(server.addr, &format!("{PATH}?EIO=4&transport=websocket")).await;
    raw::read_text_until(&mut ws, |t| t.starts_with('0')).await;
    for byte in raw::text_frame("4drip-fed") {
        ws.write_all(&[byte]).await.unwrap();
    }
    raw::read_text_until(&mut ws, |t| t == "4drip-fed").await;
}

// CVE-2022-21676: an invalid first frame after the upgrade must not kill the server.
#[tokio::test]
async fn an_invalid_first_frame_closes_with_1002() {
    let server = TestServer::start(EngineIo::builder()).await;
    // Fresh WebSocket session: `test` has RSV bits set.
    let mut ws = raw::websocket(server.addr, &format!("{PATH}?EIO=4&transport=websocket")).await;
    ws.write_all(b"test").await.unwrap();
    assert_eq!(raw::read_close_code(&mut ws).await, Some(1002));

    // Unmasked client frame; unknown opcode; fragmented control frame; control frame
    // over 125 bytes.
    let bad_frames = [
        raw::frame(true, 1, b"4hi", false),
        raw::frame(true, 3, b"x", true),
        raw::frame(false, 9, b"x", true),
        raw::frame(true, 9, &[0u8; 126], true),
    ];
    for bad in bad_frames {
        let mut ws =
            raw::websocket(server.addr, &format!("{PATH}?EIO=4&transport=websocket")).await;
        ws.write_all(&bad).await.unwrap();
        assert_eq!(raw::read_close_code(&mut ws).await, Some(1002));
    }

    // An upgrade of a long-polling session: the probe dies, the session lives on.
    let sid = raw::polling_handshake(server.addr, PATH).await;
    let mut ws = raw::websocket(
        server.addr,
        &format!("{PATH}?EIO=4&transport=websocket&sid={sid}"),
    )
    .await;
    ws.write_all(b"test").await.unwrap();
    assert_eq!(raw::read_close_code(&mut ws).await, Some(1002));
    let query = format!("{PATH}?EIO=4&transport=polling&sid={sid}");
    let response = raw::request(server.addr, &raw::post(&query, "", b"4still here"))
        .await
        .unwrap();
    assert_eq!(response.status, 200);
    assert_still_serving(&server).await;
}

// RFC 6455: invalid UTF-8 in a text frame closes with 1007.
#[tokio::test]
async fn invalid_utf8_closes_with_1007() {
    let server = TestServer::start(EngineIo::builder()).await;
    let mut ws = raw::websocket(server.addr, &format!("{PATH}?EIO=4&transport=websocket")).await;
    ws.write_all(&raw::frame(true, 1, b"4\xff\xfe", true))
        .await
        .unwrap();
    assert_eq!(raw::read_close_code(&mut ws).await, Some(1007));
}

// CVE-2016-10518: a pong echoes exactly the ping's payload.
#[tokio::test]
async fn pong_echoes_the_ping_payload() {
    let server = TestServer::start(EngineIo::builder()).await;
    let mut ws = raw::websocket(server.addr, &format!("{PATH}?EIO=4&transport=websocket")).await;
    ws.write_all(&raw::frame(true, 9, b"abc\x00\xff", true))
        .await
        .unwrap();
    loop {
        let (opcode, payload) = raw::read_frame(&mut ws).await.unwrap();
        if opcode == 10 {
            assert_eq!(payload, b"abc\x00\xff");
            break;
        }
    }
}

// The opening handshake is checked as `ws` does.
#[tokio::test]
async fn websocket_handshake_checks() {
    let server = TestServer::start(EngineIo::builder()).await;
    let query = format!("{PATH}?EIO=4&transport=websocket");
    let bad_version = raw::get(
        &query,
        &format!(
            "Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 8\r\n\
             Sec-WebSocket-Key: {}\r\n",
            raw::WS_KEY
        ),
    );
    let response = raw::request(server.addr, &bad_version).await.unwrap();
    assert_eq!(response.status, 400);
    assert_eq!(response.header("sec-websocket-version"), Some("13"));
    let bad_key = raw::get(
        &query,
        "Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n\
         Sec-WebSocket-Key: c2hvcnQ=\r\n",
    );
    assert_eq!(
        raw::request(server.addr, &bad_key).await.unwrap().status,
        400
    );
    let no_key = raw::get(
        &query,
        "Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n",
    );
    assert_eq!(
        raw::request(server.addr, &no_key).await.unwrap().status,
        400
    );
    assert_still_serving(&server).await;
}

// GHSA-5v72-xg48-5rpm and CVE-2021-32640: odd extension and protocol headers are ignored
// (nothing is negotiated), in linear time.
#[tokio::test]
async fn extension_and_protocol_headers_cannot_hurt() {
    let server = TestServer::start(EngineIo::builder()).await;
    let query = format!("{PATH}?EIO=4&transport=websocket");
    let many = vec!["x"; 10_000].join(", ");
    let spaces = " ,".repeat(4000);
    let headers = [
        "Sec-WebSocket-Extensions: constructor\r\n".to_owned(),
        "Sec-WebSocket-Extensions: __proto__, permessage-deflate; __proto__=1; __proto__=2\r\n"
            .to_owned(),
        format!("Sec-WebSocket-Extensions: {}\r\n", &many[..8000]),
        format!("Sec-WebSocket-Protocol: {spaces}\r\n"),
    ];
    for header in headers {
        let started = std::time::Instant::now();
        let response = raw::request(server.addr, &raw::ws_upgrade(&query, &header))
            .await
            .unwrap();
        assert_eq!(response.status, 101);
        assert!(response.header("sec-websocket-extensions").is_none());
        assert!(response.header("sec-websocket-protocol").is_none());
        assert!(started.elapsed() < Duration::from_secs(2));
    }
}

// CVE-2024-37890: more headers than the limit must not crash the upgrade path.
#[tokio::test]
async fn too_many_headers_are_refused() {
    let server = TestServer::start(EngineIo::builder()).await;
    let junk: String = (0..2000).map(|i| format!("X-Junk-{i}: {i}\r\n")).collect();
    let request = raw::ws_upgrade(&format!("{PATH}?EIO=4&transport=websocket"), &junk);
    let response = raw::request(server.addr, &request).await;
    if let Some(response) = response {
        assert!([400, 431].contains(&response.status), "{response:?}");
    }
    assert_still_serving(&server).await;
}

// The header count limit holds at its default (100, where hyper is left to apply its own)
// and when set.
#[tokio::test]
async fn the_header_count_limit_is_crossed_at_its_setting() {
    let headers = |n: usize| -> String { (0..n).map(|i| format!("X-H{i}: {i}\r\n")).collect() };
    let open = format!("{PATH}?EIO=4&transport=polling");
    for (limit, server) in [
        (100, TestServer::start(EngineIo::builder()).await),
        (
            20,
            TestServer::start_with(EngineIo::builder(), |serve| serve.max_headers(20)).await,
        ),
    ] {
        // `Host` is one of the request's headers.
        let at_limit = raw::request(server.addr, &raw::get(&open, &headers(limit - 1))).await;
        assert_eq!(at_limit.map(|r| r.status), Some(200), "{limit} headers");
        let over = raw::request(server.addr, &raw::get(&open, &headers(limit))).await;
        assert_eq!(over.map(|r| r.status), Some(431), "{} headers", limit + 1);
        assert_still_serving(&server).await;
    }
}

// CVE-2022-41940: unknown upgrades (h2c), then a reset, to the engine path and elsewhere.
#[tokio::test]
async fn unknown_upgrades_then_reset() {
    let server = TestServer::start(EngineIo::builder()).await;
    for path in [
        format!("{PATH}?EIO=4&transport=polling"),
        "/other".to_owned(),
    ] {
        let mut stream = raw::connect(server.addr).await;
        let request = raw::get(
            &path,
            "Connection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n",
        );
        stream.write_all(&request).await.unwrap();
        stream.set_zero_linger().unwrap();
        drop(stream);
    }
    let response = raw::request(
        server.addr,
        &raw::get(
            &format!("{PATH}?EIO=4&transport=websocket"),
            "Connection: Upgrade\r\nUpgrade: h2c\r\n",
        ),
    )
    .await
    .unwrap();
    assert_eq!(response.status, 400);
    assert_still_serving(&server).await;
}

// Slow-loris on the headers: a client that sends a byte at a time is cut off.
#[tokio::test]
async fn slow_headers_are_cut_off() {
    let server = TestServer::start_with(EngineIo::builder(), |serve| {
        serve.header_read_timeout(Duration::from_millis(500))
    })
    .await;
    let mut stream = raw::connect(server.addr).await;
    let request = raw::get(&format!("{PATH}?EIO=4&transport=polling"), "");
    let dripping = async {
        for byte in request {
            if stream.write_all(&[byte]).await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    };
    let cut = tokio::time::timeout(Duration::from_secs(5), dripping).await;
    assert!(cut.is_ok(), "the server kept reading a slow request");
    assert!(raw::closed_within(&mut stream, Duration::from_secs(2)).await);
}

// Slow-loris on a POST body: 408, and the session ends.
#[tokio::test]
async fn slow_bodies_time_out() {
    let server =
        TestServer::start(EngineIo::builder().request_body_timeout(Duration::from_millis(300)))
            .await;
    let sid = raw::polling_handshake(server.addr, PATH).await;
    let mut stream = raw::connect(server.addr).await;
    let head = format!(
        "POST {PATH}?EIO=4&transport=polling&sid={sid} HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\n4abc"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let response = tokio::time::timeout(Duration::from_secs(5), raw::read_response(&mut stream))
        .await
        .expect("an answer in time")
        .unwrap();
    assert_eq!(response.status, 408);
    server
        .recorder
        .wait_until("the close", |events| {
            events.contains(&ServerEvent::Close(CloseReason::TransportError))
        })
        .await;
}

// Slow-loris after the upgrade: a frame that never completes keeps no one waiting past the
// heartbeat.
#[tokio::test]
async fn a_never_ending_first_frame_hits_the_heartbeat() {
    let server = TestServer::start(fast_heartbeat()).await;
    let mut ws = raw::websocket(server.addr, &format!("{PATH}?EIO=4&transport=websocket")).await;
    let frame = raw::frame(true, 1, &[b'4'; 100], true);
    ws.write_all(&frame[..20]).await.unwrap();
    assert!(raw::closed_within(&mut ws, Duration::from_secs(5)).await);
    server
        .recorder
        .wait_until("the close", |events| {
            events.contains(&ServerEvent::Close(CloseReason::PingTimeout))
        })
        .await;
}

// CVE-2017-16031: session ids come from a CSPRNG.
#[tokio::test]
async fn session_ids_are_unpredictable() {
    let server = TestServer::start(EngineIo::builder()).await;
    let mut stream = raw::connect(server.addr).await;
    let mut sids = Vec::new();
    for _ in 0..2000 {
        stream
            .write_all(&raw::get(&format!("{PATH}?EIO=4&transport=polling"), ""))
            .await
            .unwrap();
        let response = raw::read_response(&mut stream).await.unwrap();
        let text = response.text();
        let json: serde_json::Value = serde_json::from_str(&text[1..]).unwrap();
        sids.push(json["sid"].as_str().unwrap().to_owned());
    }
    let unique: HashSet<_> = sids.iter().collect();
    assert_eq!(unique.len(), sids.len());
    // No shared 6-character prefix among 2000 ids of 120 random bits (a counter or a
    // timestamp in the id would share one).
    let prefixes: HashSet<_> = sids.iter().map(|s| &s[..6]).collect();
    assert_eq!(prefixes.len(), sids.len());
    // Every position uses most of the 64 symbols.
    for position in 0..19 {
        let symbols: HashSet<_> = sids.iter().map(|s| s.as_bytes()[position]).collect();
        assert!(
            symbols.len() > 50,
            "position {position}: {} symbols",
            symbols.len()
        );
    }
}

// Engine.IO layer: an unreachable client during a broadcast-sized burst does not stall
// others, and its queue is bounded.
#[tokio::test]
async fn a_full_outgoing_queue_is_reported() {
    let server = TestServer::start(EngineIo::builder().max_buffered_bytes(10_000)).await;
    let sid = raw::polling_handshake(server.addr, PATH).await;
    let socket = server
        .engine
        .socket(&engineio::Sid::parse(&sid).unwrap())
        .unwrap();
    // No GET is pending, so messages wait in the queue.
    let chunk = "x".repeat(1000);
    let mut accepted = 0;
    let full = loop {
        match socket.try_send(engineio::Message::text(&chunk)) {
            Ok(()) => accepted += 1,
            Err(error) => break error,
        }
        assert!(accepted <= 11, "the queue is not bounded");
    };
    assert!(matches!(full, engineio::TrySendError::Full(_)));
    assert_eq!(accepted, 10);
    assert_still_serving(&server).await;
}
