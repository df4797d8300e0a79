//! How messages reach a WebSocket client: a sender that finds the session idle writes its
//! frames to the socket itself, otherwise they queue for the session's task. Whichever
//! path a message takes, and however the socket's buffer cuts a write, every message
//! must arrive whole, once, and in its sender's order.

mod support;

use std::time::Duration;

use engineio::{EngineIo, Message, Sid};
use support::TestServer;
use support::raw;
use tokio::io::AsyncWriteExt;

const PATH: &str = "/engine.io/";
const SENDERS: usize = 4;
const PER_SENDER: usize = 1500;
const ECHOES: usize = 20;

/// A message the client sends and the server echoes: large enough to be cut.
fn echo(n: usize) -> String {
    format!("echo{n}:{}", "e".repeat(20_000 + n * 1000))
}

/// The text of message `i` of sender `s`: its sequence, then a body whose length varies
/// from 0 to 4 000 bytes so that a full socket buffer cuts frames at every offset.
fn text(s: usize, i: usize) -> String {
    let body_len = (i * 733 + s * 101) % 4001;
    let fill = char::from(b'a' + ((i + s) % 26) as u8);
    format!("{s}:{i}:{}", fill.to_string().repeat(body_len))
}

/// The binary attachment sent with message `i` of sender 0.
fn binary(i: usize) -> Vec<u8> {
    (0..(i * 389) % 3000).map(|j| (i + j) as u8).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_senders_reach_a_slow_reader_whole_and_in_order() {
    let server = TestServer::start(EngineIo::builder()).await;
    let mut ws = raw::websocket(server.addr, &format!("{PATH}?EIO=4&transport=websocket")).await;
    let open = raw::read_text_until(&mut ws, |t| t.starts_with('0')).await;
    let handshake: serde_json::Value = serde_json::from_str(&open[1..]).unwrap();
    let sid = Sid::parse(handshake["sid"].as_str().unwrap()).unwrap();
    let socket = server.engine.socket(&sid).unwrap();

    let mut senders = Vec::new();
    for s in 0..SENDERS {
        let socket = socket.clone();
        senders.push(tokio::spawn(async move {
            for i in 0..PER_SENDER {
                if s == 0 {
                    // A packet and its attachment go together, nothing between them.
                    let batch = [Message::text(&text(s, i)), Message::binary(binary(i))];
                    socket.send_all(&batch).await.unwrap();
                } else {
                    socket.send(Message::text(&text(s, i))).await.unwrap();
                }
                if i % 100 == 0 {
                    tokio::task::yield_now().await;
                }
            }
        }));
    }
    // The client reads nothing for a while, so the socket's buffer fills and writes are
    // cut; meanwhile it sends large messages, which the echo handler answers from the
    // session's task, whose own writes are then cut too.
    for n in 0..ECHOES {
        ws.write_all(&raw::text_frame(&format!("4{}", echo(n))))
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(15)).await;
    }

    let mut next = [0usize; SENDERS];
    let mut echoes = 0;
    let mut expect_binary: Option<usize> = None;
    while next.iter().any(|&n| n < PER_SENDER) || expect_binary.is_some() {
        let (opcode, payload) =
            tokio::time::timeout(Duration::from_secs(20), raw::read_frame(&mut ws))
                .await
                .expect("a frame in time")
                .expect("the connection stays open");
        if let Some(i) = expect_binary.take() {
            assert_eq!(opcode, 2, "the attachment of 0:{i} follows it");
            assert_eq!(payload, binary(i), "the attachment of 0:{i}");
            continue;
        }
        assert_eq!(opcode, 1, "a text frame");
        let text_frame = String::from_utf8(payload).unwrap();
        if text_frame.starts_with('2') {
            continue; // a heartbeat ping
        }
        let body = text_frame.strip_prefix('4').expect("a message packet");
        if let Some(rest) = body.strip_prefix("echo") {
            // The echo handler drops what does not fit in the session's buffer.
            let n: usize = rest.split(':').next().unwrap().parse().unwrap();
            assert!(n >= echoes, "echo {n} after {echoes}");
            assert_eq!(body, echo(n), "echo {n}, whole");
            echoes = n + 1;
            continue;
        }
        let s: usize = body.split(':').next().unwrap().parse().unwrap();
        let i = next[s];
        assert_eq!(
            body,
            text(s, i),
            "sender {s}'s message {i}, whole and in order"
        );
        next[s] += 1;
        if s == 0 {
            expect_binary = Some(i);
        }
    }
    for sender in senders {
        sender.await.unwrap();
    }
    assert_eq!(server.engine.session_count(), 1);
}
