//! `examples/relay.rs`: a process that serves Socket.IO (our server) and forwards each
//! client's events to another server as a client (ours), acknowledgements passing back
//! both ways. Upstream is the official Node server; downstream, the client driver.

mod support;

use std::process::Stdio;

use serde_json::json;
use support::client::{Driver, Kind, Options, Server};
use tokio::io::{AsyncBufReadExt, BufReader};

async fn relay(upstream: &str) -> (tokio::process::Child, String) {
    let exe = std::env::current_exe().unwrap();
    let path = exe
        .parent()
        .unwrap()
        .parent()
        .unwrap()
        .join("examples/relay");
    let mut child = tokio::process::Command::new(path)
        .args(["--listen", "127.0.0.1:0", "--upstream", upstream])
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("the relay starts");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let line = lines
        .next_line()
        .await
        .unwrap()
        .expect("the relay says where it listens");
    let addr = line
        .strip_prefix("relay listening on ")
        .expect("relay listening on ADDR");
    (child, format!("http://{addr}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relay_passes_events_and_acks_both_ways() {
    let mut upstream = Server::start(Kind::Node, Options::default()).await;
    let (_relay, url) = relay(&upstream.url()).await;
    let mut d = Driver::start().await;
    d.socket(
        "a",
        &format!("{url}/admin"),
        json!({"auth": {"token": "relayed"}}),
    )
    .await;
    d.next_of("a", "connect").await;
    // Up and back: an ack with binary.
    let args = json!(["hi", {"$binary": "AAEC"}]);
    let answer = d.emit_ack("a", "echo", args.clone(), Some(5000)).await;
    assert_eq!(answer["args"], args, "{answer}");
    // The upstream server saw the client's auth and namespace.
    let answer = d.emit_ack("a", "handshake", json!([]), Some(5000)).await;
    assert_eq!(answer["args"][0]["auth"], json!({"token": "relayed"}));
    // Upstream asks for an ack: the question comes down, the client's answer goes up.
    d.ok(json!({"op": "reply", "socket": "a", "event": "question", "echo": true}))
        .await;
    let answer = d
        .emit_ack("a", "ask", json!(["question", 42]), Some(5000))
        .await;
    assert_eq!(answer["args"], json!([{"answer": 42}]), "{answer}");
    // Upstream's broadcasts come down.
    upstream.emit("/admin", "news", json!([{"n": 1}])).await;
    let event = d.next("a", "event", |r| r["event"] == json!("news")).await;
    assert_eq!(event["args"], json!([{"n": 1}]));
    // Upstream disconnects the socket: so does the relay.
    d.emit("a", "disconnect-me", json!([])).await;
    let disconnect = d.next_of("a", "disconnect").await;
    assert_eq!(disconnect["reason"], json!("io server disconnect"));
}
