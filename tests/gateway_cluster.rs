//! The standalone server in a cluster: two gateways on one Redis (`--redis-url`,
//! `--adapter`), a client on each; the publish API of one reaches the other's clients,
//! the demo chat crosses nodes, and `/metrics` shows the adapter's health.

mod support;

use std::time::Duration;

use serde_json::json;
use sio_client::Transport;
use support::cluster::{REDIS_URL, unique_key};
use support::gateway::{API_KEY, Gateway};
use tokio::sync::mpsc;

/// A client of `url` (namespace path included) whose `event` events arrive on the
/// receiver, as JSON.
fn client(
    url: &str,
    event: &str,
) -> (
    sio_client::Socket,
    mpsc::UnboundedReceiver<serde_json::Value>,
) {
    let (tx, rx) = mpsc::unbounded_channel();
    let socket = sio_client::io(url)
        .transports(vec![Transport::WebSocket])
        .on(event, move |event: &sio_client::Event| {
            let _ = tx.send(event.args().get::<serde_json::Value>(0).unwrap_or_default());
        })
        .connect()
        .unwrap();
    (socket, rx)
}

async fn next(
    what: &str,
    rx: &mut mpsc::UnboundedReceiver<serde_json::Value>,
) -> serde_json::Value {
    tokio::time::timeout(Duration::from_secs(10), rx.recv())
        .await
        .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
        .unwrap()
}

async fn publish(gateway: &Gateway, body: serde_json::Value) -> (u16, serde_json::Value) {
    let response = Gateway::client()
        .post(format!("{}/api/v1/emit", gateway.url))
        .bearer_auth(API_KEY)
        .json(&body)
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

async fn two_gateways(adapter: &str) {
    two_gateways_with(adapter, &[]).await;
}

async fn two_gateways_with(adapter: &str, more: &[&str]) {
    let key = unique_key(&format!("gateway-{adapter}"));
    let mut args = vec![
        "--redis-url",
        REDIS_URL,
        "--adapter",
        adapter,
        "--redis-key",
        &key,
    ];
    args.extend_from_slice(more);
    let a = Gateway::start(&args).await;
    let b = Gateway::start(&args).await;

    let (on_b, mut news_at_b) = client(&b.url, "news");
    tokio::time::timeout(Duration::from_secs(10), async {
        while !on_b.connected() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("the client connects to B");
    // Published on A, which has no client: reaches B's, and counts it.
    let (status, answer) = publish(&a, json!({ "event": "news", "data": { "n": 1 } })).await;
    assert_eq!(
        (status, &answer),
        (200, &json!({ "ok": true, "sockets": 1 }))
    );
    assert_eq!(
        next("the news from A", &mut news_at_b).await,
        json!({ "n": 1 })
    );

    // The demo chat across nodes: members of one room on A and on B.
    let (on_a, _) = client(&format!("{}/chat", a.url), "chat");
    let (on_b_chat, mut chat_at_b) = client(&format!("{}/chat", b.url), "chat");
    for (socket, nickname) in [(&on_a, "ann"), (&on_b_chat, "bob")] {
        let joined = socket
            .emit_with_ack("join", &json!({ "nickname": nickname, "room": "lobby" }))
            .unwrap();
        tokio::time::timeout(Duration::from_secs(10), joined)
            .await
            .expect("join answered")
            .expect("joined");
    }
    let sent = on_a
        .emit_with_ack("chat", &json!({ "id": "m1", "text": "hello from A" }))
        .unwrap();
    tokio::time::timeout(Duration::from_secs(10), sent)
        .await
        .unwrap()
        .unwrap();
    let message = next("the chat message from A", &mut chat_at_b).await;
    assert_eq!(message["text"], "hello from A");
    assert_eq!(message["from"]["nickname"], "ann");

    let metrics = a.get("/metrics").await.text().await.unwrap();
    assert!(
        metrics.contains("socketio_adapter_connected 1"),
        "{metrics}"
    );
    assert!(
        !metrics.contains("socketio_adapter_published_total 0\n"),
        "{metrics}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_publish_api_of_one_gateway_reaches_the_clients_of_another_classic() {
    two_gateways("classic").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_publish_api_of_one_gateway_reaches_the_clients_of_another_sharded() {
    two_gateways("sharded").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_publish_api_of_one_gateway_reaches_the_clients_of_another_streams() {
    two_gateways_with("streams", &["--recovery-window-ms", "60000"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_options_need_a_redis_url() {
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_socketio-gateway"))
        .args(["--adapter", "sharded"])
        .output()
        .await
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("--redis-url"), "{stderr}");
}
