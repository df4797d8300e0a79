//! The standalone server, started as a process: the publish API, authentication (JWT,
//! webhook), origins, namespaces, TLS, metrics, the client bundle and shutdown, driven
//! by the official `socket.io-client` (tests/interop/gateway/client.mjs).

mod support;

use std::time::Duration;

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use support::gateway::{API_KEY, Gateway};

async fn run(gateway: &Gateway, scenario: &str, options: serde_json::Value) -> serde_json::Value {
    support::node(&[
        "gateway/client.mjs",
        scenario,
        &gateway.url,
        API_KEY,
        &options.to_string(),
    ])
    .await
}

fn fixture(name: &str) -> String {
    format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"))
}

async fn metrics(gateway: &Gateway) -> String {
    gateway.get("/metrics").await.text().await.unwrap()
}

/// The value of a metric line (`name{labels}` exactly), if present.
fn metric(text: &str, series: &str) -> Option<f64> {
    text.lines().find_map(|line| {
        let value = line.strip_prefix(series)?.strip_prefix(' ')?;
        value.parse().ok()
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backends_publish_list_and_disconnect_through_the_api() {
    let gateway = Gateway::start(&[]).await;
    let seen = run(&gateway, "publish", serde_json::json!({})).await;
    assert_eq!(seen["news"], serde_json::json!({ "n": 1 }));
    // Connection state recovery is on: replayable packets carry their offset.
    assert_eq!(seen["offsetIsString"], true);
    assert_eq!(seen["pair"], serde_json::json!(["a", 2]));
    assert_eq!(
        seen["emitted"],
        serde_json::json!({ "ok": true, "sockets": 1 })
    );
    assert_eq!(seen["unauthorized"], 401);
    assert_eq!(seen["reserved"], 400);
    assert_eq!(seen["malformed"], 400);
    assert_eq!(seen["listed"], true, "{seen}");
    assert_eq!(
        seen["disconnected"],
        serde_json::json!({ "disconnected": 1 })
    );
    assert_eq!(seen["reason"], "io server disconnect");

    let text = metrics(&gateway).await;
    assert_eq!(
        metric(&text, "socketio_connections_opened_total"),
        Some(1.0),
        "{text}"
    );
    assert!(
        metric(&text, "socketio_packets_out_total").unwrap() >= 3.0,
        "{text}"
    );
    assert!(
        metric(&text, "socketio_packets_in_total").unwrap() >= 1.0,
        "{text}"
    );
    assert_eq!(
        metric(
            &text,
            "socketio_api_requests_total{endpoint=\"emit\",status=\"401\"}"
        ),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        metric(&text, "socketio_sockets{namespace=\"/\"}"),
        Some(0.0),
        "{text}"
    );
}

fn jwt(algorithm: Algorithm, key: &EncodingKey, claims: &serde_json::Value) -> String {
    jsonwebtoken::encode(&Header::new(algorithm), claims, key).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jwt_claims_become_the_sockets_data_and_rooms() {
    let claims = serde_json::json!({ "sub": "ann", "rooms": ["vip"], "exp": 4_000_000_000u64 });
    let expired = serde_json::json!({ "sub": "ann", "exp": 1_000_000_000u64 });

    // HS256 with a secret.
    let gateway = Gateway::start(&["--auth", "jwt", "--jwt-secret", "s3cret"]).await;
    let key = EncodingKey::from_secret(b"s3cret");
    let wrong_key = EncodingKey::from_secret(b"other");
    let seen = run(
        &gateway,
        "auth",
        serde_json::json!({
            "good": jwt(Algorithm::HS256, &key, &claims),
            "bad": jwt(Algorithm::HS256, &wrong_key, &claims),
        }),
    )
    .await;
    assert_eq!(seen["news"], "hi");
    assert_eq!(seen["data"]["sub"], "ann");
    assert_eq!(
        seen["refusals"],
        serde_json::json!(["invalid token", "missing token"])
    );
    let seen = run(
        &gateway,
        "auth",
        serde_json::json!({
            "good": jwt(Algorithm::HS256, &key, &claims),
            "bad": jwt(Algorithm::HS256, &key, &expired),
        }),
    )
    .await;
    assert_eq!(seen["refusals"][0], "invalid token");
    let text = metrics(&gateway).await;
    assert_eq!(
        metric(
            &text,
            "socketio_join_refusals_total{reason=\"invalid token\"}"
        ),
        Some(2.0),
        "{text}"
    );

    // RS256 with a public key.
    let public = fixture("jwt-rsa-public.pem");
    let gateway = Gateway::start(&["--auth", "jwt", "--jwt-public-key", &public]).await;
    let private = std::fs::read(fixture("jwt-rsa-private.pem")).unwrap();
    let key = EncodingKey::from_rsa_pem(&private).unwrap();
    let seen = run(
        &gateway,
        "auth",
        serde_json::json!({
            "good": jwt(Algorithm::RS256, &key, &claims),
            // A token signed with HS256 and the public key as secret: refused.
            "bad": jwt(Algorithm::HS256, &EncodingKey::from_secret(&std::fs::read(&public).unwrap()), &claims),
        }),
    )
    .await;
    assert_eq!(seen["data"]["sub"], "ann");
    assert_eq!(seen["refusals"][0], "invalid token");
}

/// A webhook that admits `auth.token == "good"` with data and a room.
async fn webhook() -> (String, tokio::task::JoinHandle<()>) {
    use axum::{Json, Router, routing::post};
    let app = Router::new().route(
        "/auth",
        post(|Json(request): Json<serde_json::Value>| async move {
            let good = request["auth"]["token"] == "good" && request["namespace"] == "/";
            Json(if good {
                serde_json::json!({ "allow": true, "data": { "sub": "ann" }, "rooms": ["vip"] })
            } else {
                serde_json::json!({ "allow": false, "message": "go away" })
            })
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/auth", listener.local_addr().unwrap());
    let task = tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    (url, task)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webhook_decides_who_joins() {
    let (url, _server) = webhook().await;
    let gateway = Gateway::start(&["--auth", "webhook", "--webhook-url", &url]).await;
    let seen = run(
        &gateway,
        "auth",
        serde_json::json!({ "good": "good", "bad": "bad" }),
    )
    .await;
    assert_eq!(seen["news"], "hi");
    assert_eq!(seen["data"], serde_json::json!({ "sub": "ann" }));
    assert_eq!(seen["refusals"], serde_json::json!(["go away", "go away"]));

    // A webhook that does not answer refuses everyone, clearly.
    let gateway = Gateway::start(&[
        "--auth",
        "webhook",
        "--webhook-url",
        "http://127.0.0.1:9/unreachable",
    ])
    .await;
    let seen = run(
        &gateway,
        "namespaces",
        serde_json::json!({ "namespaces": ["/"] }),
    )
    .await;
    assert_eq!(seen["/"], "authentication unavailable");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn foreign_origins_are_refused() {
    let handshake = "/socket.io/?EIO=4&transport=polling";
    let client = Gateway::client();
    let status = |gateway: &Gateway, origin: &'static str| {
        let request = client
            .get(format!("{}{handshake}", gateway.url))
            .header("origin", origin);
        async move { request.send().await.unwrap() }
    };

    // By default only the server's own origin.
    let gateway = Gateway::start(&[]).await;
    let own = gateway.url.clone();
    let own: &'static str = Box::leak(own.into_boxed_str());
    assert_eq!(status(&gateway, own).await.status(), 200);
    let refused = status(&gateway, "http://evil.example").await;
    assert_eq!(refused.status(), 403);
    // The WebSocket handshake too (cross-site WebSocket hijacking).
    let upgrade = client
        .get(format!(
            "{}/socket.io/?EIO=4&transport=websocket",
            gateway.url
        ))
        .header("origin", "http://evil.example")
        .header("connection", "Upgrade")
        .header("upgrade", "websocket")
        .header("sec-websocket-version", "13")
        .header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==")
        .send()
        .await
        .unwrap();
    assert_eq!(upgrade.status(), 403);
    let text = metrics(&gateway).await;
    assert_eq!(
        metric(
            &text,
            "socketio_handshake_failures_total{reason=\"Forbidden\"}"
        ),
        Some(2.0),
        "{text}"
    );

    // An allow-list: those origins, with CORS headers.
    let gateway = Gateway::start(&["--allowed-origins", "http://app.example"]).await;
    let allowed = status(&gateway, "http://app.example").await;
    assert_eq!(allowed.status(), 200);
    assert_eq!(
        allowed.headers()["access-control-allow-origin"],
        "http://app.example"
    );
    assert_eq!(status(&gateway, "http://evil.example").await.status(), 403);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_configured_namespaces_can_be_joined() {
    let gateway = Gateway::start(&["--namespaces", "/orders/*,/admin", "--demo", "false"]).await;
    let seen = run(
        &gateway,
        "namespaces",
        serde_json::json!({ "namespaces": ["/", "/orders/42", "/admin", "/other", "/chat"] }),
    )
    .await;
    assert_eq!(
        seen,
        serde_json::json!({
            "/": "Invalid namespace",
            "/orders/42": "connect",
            "/admin": "connect",
            "/other": "Invalid namespace",
            "/chat": "Invalid namespace",
        })
    );
    // Without the demo, `/` is not the chat page.
    assert_eq!(gateway.get("/").await.status(), 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_client_bundle_is_served_as_node_serves_it() {
    let gateway = Gateway::start(&[]).await;
    for file in [
        "socket.io.js",
        "socket.io.min.js",
        "socket.io.esm.min.js",
        "socket.io.msgpack.min.js",
        "socket.io.js.map",
    ] {
        let response = gateway.get(&format!("/socket.io/{file}")).await;
        assert_eq!(response.status(), 200, "{file}");
        assert!(response.headers().contains_key("etag"), "{file}");
    }
    let response = gateway.get("/socket.io/socket.io.min.js").await;
    assert_eq!(
        response.headers()["content-type"],
        "application/javascript; charset=utf-8"
    );
    let etag = response.headers()["etag"].clone();
    let body = response.text().await.unwrap();
    assert!(
        body.starts_with("/*!\n * Socket.IO v4.8.4"),
        "{}",
        &body[..60]
    );
    let cached = Gateway::client()
        .get(format!("{}/socket.io/socket.io.min.js", gateway.url))
        .header("if-none-match", etag)
        .send()
        .await
        .unwrap();
    assert_eq!(cached.status(), 304);
    assert_eq!(gateway.get("/healthz").await.text().await.unwrap(), "ok");
    let page = gateway.get("/").await.text().await.unwrap();
    assert!(page.contains("/socket.io/socket.io.min.js"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_serves_https_and_wss() {
    let gateway = Gateway::start(&[
        "--tls-cert",
        &fixture("tls-cert.pem"),
        "--tls-key",
        &fixture("tls-key.pem"),
    ])
    .await;
    assert!(gateway.url.starts_with("https://"), "{}", gateway.url);
    for transports in [
        serde_json::json!(["websocket"]),
        serde_json::json!(["polling"]),
    ] {
        let seen = run(
            &gateway,
            "publish",
            serde_json::json!({ "transports": transports }),
        )
        .await;
        assert_eq!(seen["news"], serde_json::json!({ "n": 1 }));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_tells_clients_and_exits() {
    let mut gateway = Gateway::start(&["--shutdown-timeout-ms", "3000"]).await;
    let pid = gateway.pid();
    let seen = run(&gateway, "shutdown", serde_json::json!({ "pid": pid })).await;
    assert_eq!(seen["reason"], "transport close");
    assert_eq!(gateway.wait(Duration::from_secs(10)).await, Some(0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_settings_are_reported_not_ignored() {
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_socketio-gateway"))
        .args(["--auth", "jwt"])
        .output()
        .await
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("--jwt-secret"), "{stderr}");
    let help = tokio::process::Command::new(env!("CARGO_BIN_EXE_socketio-gateway"))
        .arg("--help")
        .output()
        .await
        .unwrap();
    let help = String::from_utf8_lossy(&help.stdout);
    for option in [
        "--listen",
        "--allowed-origins",
        "--auth",
        "--api-keys",
        "--tls-cert",
        "SIO_LISTEN",
    ] {
        assert!(help.contains(option), "{option} in {help}");
    }
}

/// The publish API refuses a request without a key before reading its body: a caller
/// without a key cannot make the server wait for, buffer or parse a large body.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_key_is_checked_before_the_body_is_read() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let gateway = Gateway::start(&[]).await;
    let authority = gateway
        .url
        .trim_start_matches("http://")
        .trim_end_matches('/');
    let mut stream = tokio::net::TcpStream::connect(authority).await.unwrap();
    // Announces a large body and sends none of it.
    let head = format!(
        "POST /api/v1/emit HTTP/1.1\r\nHost: {authority}\r\nContent-Type: application/json\r\n\
         Content-Length: 1000000\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut response = vec![0; 1024];
    let read = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut response))
        .await
        .expect("answered without waiting for the body")
        .unwrap();
    let response = String::from_utf8_lossy(&response[..read]);
    assert!(response.starts_with("HTTP/1.1 401"), "{response}");
}
