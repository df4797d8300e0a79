//! The Rust client compiled for `wasm32-unknown-unknown` in headless Chromium (Debian's
//! package, driven by playwright-core): the page of `crates/sio-client/examples/browser_page.rs`
//! connects to the official Node server and to ours, emits with an ack, receives a
//! broadcast and binary data, and recovers after the test cuts its connection.
//!
//! `scripts/test` builds the page into `target/browser-page` first (cargo for wasm32,
//! wasm-bindgen, wasm-opt).

mod support;

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use serde_json::{Value as Json, json};
use support::client::{Kind, Options, Server};
use support::proxy::Cut;
use tokio::io::{AsyncBufReadExt, BufReader};

fn page_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/browser-page");
    assert!(
        dir.join("browser_page.js").exists() && dir.join("browser_page_bg.wasm").exists(),
        "{} has no page: scripts/test builds it (cargo build -p sio-client --example \
         browser_page --target wasm32-unknown-unknown, then wasm-bindgen --target web)",
        dir.display()
    );
    dir
}

async fn the_page_against(kind: Kind) {
    let dir = page_dir();
    let options = Options {
        recovery: Some(Duration::from_secs(30)),
        page_dir: Some(dir.clone()),
        ..Options::default()
    };
    let mut server = Server::start(kind, options).await;
    let mut child = tokio::process::Command::new("node")
        .arg("client/browser.mjs")
        .arg(&dir)
        .arg(server.url())
        .current_dir(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/interop"))
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .expect("node runs");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut steps = Vec::new();
    let result = tokio::time::timeout(Duration::from_secs(100), async {
        while let Some(line) = lines.next_line().await.unwrap() {
            let line: Json = serde_json::from_str(&line).unwrap_or(json!({"raw": line}));
            if let Some(step) = line["step"].as_str() {
                steps.push(step.to_owned());
                if step == "cut" {
                    // Cut the page's connection, send what it must get back on recovery.
                    server.proxy.refuse(true);
                    server.proxy.cut_all(Cut::Close);
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    server.emit("/", "missed", json!([1])).await;
                    server.emit("/", "missed", json!([2])).await;
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    server.proxy.refuse(false);
                }
            } else if line.get("result").is_some() {
                return line["result"].clone();
            } else {
                panic!("the page failed: {line}; steps: {steps:?}");
            }
        }
        panic!("the browser script ended without a result; steps: {steps:?}");
    })
    .await
    .unwrap_or_else(|_| panic!("the page timed out; steps so far: {steps:?}"));
    assert_eq!(result.get("error"), None, "{result}");
    assert_eq!(
        steps[..4],
        ["connected", "ack", "broadcast", "binary"],
        "{steps:?}"
    );
    // With recovery on, the offset comes last.
    assert_eq!(result["news"][0], json!({"n": 1}));
    assert_eq!(result["binary_nested"]["text"], json!("mixed"));
    assert!(
        ["transport close", "transport error"].contains(&result["reason"].as_str().unwrap()),
        "{result}"
    );
    assert_eq!(result["recovered"], json!(true), "{result}");
    assert_eq!(result["missed"], json!([1, 2]));
    assert_eq!(result["connected"], json!(true));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_wasm_client_in_chromium_with_the_node_server() {
    the_page_against(Kind::Node).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_wasm_client_in_chromium_with_our_server() {
    the_page_against(Kind::Rust).await;
}
