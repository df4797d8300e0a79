//! The demo chat in headless Chromium against the standalone server started as a
//! process (tests/interop/gateway/browser.mjs): two pages chat in a room, send an image,
//! one loses its connection and recovers what it missed, and a message published through
//! the API reaches both. The screenshot is kept in `target/artifacts/gateway-chat.png`.

mod support;

use support::gateway::{API_KEY, Gateway};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_browsers_chat_recover_and_receive_a_published_message() {
    let gateway = Gateway::start(&[]).await;
    let artifacts = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/artifacts");
    std::fs::create_dir_all(&artifacts).unwrap();
    let screenshot = artifacts.join("gateway-chat.png");
    let _ = std::fs::remove_file(&screenshot);
    let seen = support::node(&[
        "gateway/browser.mjs",
        &gateway.url,
        API_KEY,
        screenshot.to_str().unwrap(),
    ])
    .await;
    assert_eq!(seen["presence"], 2, "{seen}");
    assert_eq!(seen["delivered"], 1, "{seen}");
    assert_eq!(seen["image"], true, "{seen}");
    assert_eq!(seen["recovered"], true, "{seen}");
    assert_eq!(seen["replayedOnce"], true, "{seen}");
    assert_eq!(seen["announcement"], true, "{seen}");
    let png = std::fs::read(&screenshot).expect("the screenshot was saved");
    assert!(png.starts_with(b"\x89PNG"), "not a PNG");
}
