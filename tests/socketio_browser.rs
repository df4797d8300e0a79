//! The Socket.IO server against the official browser bundle of `socket.io-client`, in
//! headless Chromium (Debian's package, driven by playwright-core).

mod support;

use std::path::PathBuf;

use bytes::Bytes;
use socketio::{Parser, SocketIo};
use support::node;
use support::sio::{self, Page};

fn interop(path: &str) -> Bytes {
    let full = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/interop")
        .join(path);
    Bytes::from(std::fs::read(&full).unwrap_or_else(|e| panic!("{}: {e}", full.display())))
}

fn pages(bundle: &str) -> Vec<Page> {
    assert!(
        std::path::Path::new(
            &std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into())
        )
        .exists(),
        "Chromium is missing: install Debian's `chromium` package (scripts/test does it)"
    );
    vec![
        Page {
            path: "/",
            content_type: "text/html; charset=utf-8",
            body: Bytes::from_static(
                b"<!doctype html><meta charset=utf-8><title>socketio-rs in Chromium</title>\
                  <script src=/client.js></script><script src=/page.js></script>",
            ),
        },
        Page {
            path: "/client.js",
            content_type: "text/javascript",
            body: interop(&format!("node_modules/socket.io-client/dist/{bundle}")),
        },
        Page {
            path: "/page.js",
            content_type: "text/javascript",
            body: interop("socketio/browser/page.js"),
        },
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_official_client_in_chromium() {
    let server = sio::start_with_pages(SocketIo::builder(), pages("socket.io.min.js")).await;
    let scenarios = serde_json::json!([
        ["events", {}],
        ["events", { "transports": ["polling"] }],
        ["events", { "transports": ["websocket"] }],
        ["rooms", {}],
        ["namespaces", {}],
        ["disconnects", {}],
    ]);
    let results = node(&[
        "socketio/browser.mjs",
        &format!("{}/", server.url()),
        &scenarios.to_string(),
    ])
    .await;
    assert_eq!(results[1]["transport"], "polling");
    assert_eq!(results[2]["transport"], "websocket");
    assert_eq!(results[3]["from"], results[3]["a"]);
    assert_eq!(results[4]["multiplexed"], true);
    assert_eq!(results[5]["reason"], "io server disconnect");
    server
        .log
        .wait_for("the dynamic namespace", |l| l == "connect:/room-7")
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_msgpack_bundle_in_chromium() {
    let builder = SocketIo::builder().parser(Parser::MsgPack);
    let server = sio::start_with_pages(builder, pages("socket.io.msgpack.min.js")).await;
    let scenarios = serde_json::json!([
        ["events", { "transports": ["websocket"], "msgpack": true }],
        ["events", { "transports": ["polling"], "msgpack": true }],
        ["rooms", {}],
    ]);
    let results = node(&[
        "socketio/browser.mjs",
        &format!("{}/", server.url()),
        &scenarios.to_string(),
    ])
    .await;
    assert_eq!(results[0]["transport"], "websocket");
}
