//! The `bench_server` example speaks the wire examples of `shared/bench/CONTRACT.md`
//! exactly, and stops promptly on SIGTERM.

mod support;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use support::raw;
use tokio::io::AsyncWriteExt;

/// Builds the example (a no-op when `cargo test` already did) and returns its path.
fn example_binary() -> PathBuf {
    let status = std::process::Command::new(env!("CARGO"))
        .args(["build", "--quiet", "--example", "bench_server"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .status()
        .expect("cargo runs");
    assert!(status.success(), "building the bench_server example failed");
    let exe = std::env::current_exe().unwrap();
    let profile_dir = exe.parent().unwrap().parent().unwrap();
    profile_dir.join("examples").join("bench_server")
}

#[tokio::test]
async fn the_contract_on_the_wire() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let mut server = tokio::process::Command::new(example_binary())
        .env("PORT", port.to_string())
        .env("WORKERS", "1")
        .kill_on_drop(true)
        .spawn()
        .expect("the bench_server example runs");
    let addr = format!("127.0.0.1:{port}").parse().unwrap();
    let started = Instant::now();
    while tokio::net::TcpStream::connect(addr).await.is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "bench_server did not start"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    let (mut a, _) = raw::socketio(addr).await;
    let (mut b, _) = raw::socketio(addr).await;

    a.write_all(&raw::text_frame(r#"421["echo","hello",42]"#))
        .await
        .unwrap();
    raw::read_text_until(&mut a, |t| t == r#"431["hello",42]"#).await;

    a.write_all(&raw::text_frame(
        r#"451-2["echo",{"_placeholder":true,"num":0}]"#,
    ))
    .await
    .unwrap();
    a.write_all(&raw::frame(true, 2, &[1, 2, 3, 4], true))
        .await
        .unwrap();
    raw::read_text_until(&mut a, |t| t == r#"461-2[{"_placeholder":true,"num":0}]"#).await;
    let (opcode, data) = raw::read_frame(&mut a).await.unwrap();
    assert_eq!((opcode, data), (2, vec![1, 2, 3, 4]));

    a.write_all(&raw::text_frame(r#"423["broadcast","hi"]"#))
        .await
        .unwrap();
    raw::read_text_until(&mut a, |t| t == r#"42["msg","hi"]"#).await;
    raw::read_text_until(&mut a, |t| t == "433[]").await;
    raw::read_text_until(&mut b, |t| t == r#"42["msg","hi"]"#).await;

    b.write_all(&raw::text_frame(r#"424["join","r1"]"#))
        .await
        .unwrap();
    raw::read_text_until(&mut b, |t| t == "434[]").await;
    a.write_all(&raw::text_frame(r#"425["to_room","r1",{"k":1}]"#))
        .await
        .unwrap();
    raw::read_text_until(&mut a, |t| t == "435[]").await;
    raw::read_text_until(&mut b, |t| t == r#"42["msg",{"k":1}]"#).await;

    // Long-polling works too.
    let sid = raw::polling_handshake(addr, "/socket.io/").await;
    assert_eq!(sid.len(), 20);

    let pid = server.id().unwrap();
    let stopping = Instant::now();
    std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap();
    let status = tokio::time::timeout(Duration::from_secs(5), server.wait())
        .await
        .expect("exits promptly on SIGTERM")
        .unwrap();
    assert!(status.success(), "{status}");
    assert!(stopping.elapsed() < Duration::from_secs(3));
}
