//! A WebSocket echo server on hyper's upgrade path, with one of the candidate crates.
//! Usage: ws-echo <ours|tokio-websockets|tungstenite|fastwebsockets> [port]
//!
//! `ours` is the framing the engine runs on (`engineio_proto::websocket`), driven the same
//! way: the TCP stream taken back from hyper, reads into one per-thread buffer, one write
//! per batch of replies. It is the floor `bench/run.sh` compares the Socket.IO servers to.

use std::convert::Infallible;

use base64::Engine;
use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use http_body_util::Empty;
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use sha1::{Digest, Sha1};

#[derive(Clone, Copy)]
enum Crate {
    Ours,
    TokioWebsockets,
    Tungstenite,
    Fastwebsockets,
}

fn main() {
    let mut args = std::env::args().skip(1);
    let which = match args.next().as_deref() {
        Some("ours") => Crate::Ours,
        Some("tokio-websockets") => Crate::TokioWebsockets,
        Some("tungstenite") => Crate::Tungstenite,
        Some("fastwebsockets") => Crate::Fastwebsockets,
        _ => panic!("usage: ws-echo <ours|tokio-websockets|tungstenite|fastwebsockets> [port]"),
    };
    let port: u16 = args.next().map_or(3000, |p| p.parse().unwrap());
    let workers: usize = std::env::var("WORKERS").map_or(1, |w| w.parse().unwrap());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await.unwrap();
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            stream.set_nodelay(true).unwrap();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |req| handle(req, which));
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .with_upgrades()
                    .await;
            });
        }
    });
}

async fn handle(mut req: Request<Incoming>, which: Crate) -> Result<Response<Empty<Bytes>>, Infallible> {
    let key = req.headers().get("sec-websocket-key").unwrap().as_bytes().to_vec();
    let accept = base64::engine::general_purpose::STANDARD.encode(
        Sha1::new()
            .chain_update(&key)
            .chain_update(b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11")
            .finalize(),
    );
    let on_upgrade = hyper::upgrade::on(&mut req);
    tokio::spawn(async move {
        let upgraded = on_upgrade.await.unwrap();
        if let Crate::Ours = which {
            let parts = upgraded.downcast::<TokioIo<tokio::net::TcpStream>>().unwrap();
            // A copy: holding hyper's buffer would keep its 8 KiB for the connection's life.
            let prefix = parts.read_buf.to_vec();
            return ours(parts.io.into_inner(), prefix).await;
        }
        let io = TokioIo::new(upgraded);
        match which {
            Crate::Ours => unreachable!(),
            Crate::TokioWebsockets => {
                let mut ws = tokio_websockets::ServerBuilder::new().serve(io);
                while let Some(Ok(msg)) = ws.next().await {
                    if msg.is_text() || msg.is_binary() {
                        if ws.send(msg).await.is_err() {
                            break;
                        }
                    }
                }
            }
            Crate::Tungstenite => {
                let mut ws = tokio_tungstenite::WebSocketStream::from_raw_socket(
                    io,
                    tokio_tungstenite::tungstenite::protocol::Role::Server,
                    None,
                )
                .await;
                while let Some(Ok(msg)) = ws.next().await {
                    if msg.is_text() || msg.is_binary() {
                        if ws.send(msg).await.is_err() {
                            break;
                        }
                    }
                }
            }
            Crate::Fastwebsockets => {
                let mut ws = fastwebsockets::FragmentCollector::new(fastwebsockets::WebSocket::after_handshake(
                    io,
                    fastwebsockets::Role::Server,
                ));
                while let Ok(frame) = ws.read_frame().await {
                    match frame.opcode {
                        fastwebsockets::OpCode::Text | fastwebsockets::OpCode::Binary => {
                            if ws.write_frame(frame).await.is_err() {
                                break;
                            }
                        }
                        fastwebsockets::OpCode::Close => break,
                        _ => {}
                    }
                }
            }
        }
    });
    Ok(Response::builder()
        .status(101)
        .header("upgrade", "websocket")
        .header("connection", "upgrade")
        .header("sec-websocket-accept", accept)
        .body(Empty::new())
        .unwrap())
}

thread_local! {
    static SCRATCH: std::cell::RefCell<Vec<u8>> = std::cell::RefCell::new(vec![0; 64 * 1024]);
}

/// Echoes text and binary messages with our framing: every read decoded at once, every
/// reply of that read written together.
async fn ours(stream: tokio::net::TcpStream, prefix: Vec<u8>) {
    use engineio_proto::websocket::{FrameDecoder, Opcode, WsMessage, encode_header};
    use tokio::io::AsyncWriteExt;
    let mut stream = stream;
    let mut decoder = FrameDecoder::new(1 << 20);
    let mut out = Vec::new();
    let mut echo = |input: &[u8], out: &mut Vec<u8>| -> bool {
        let mut input = input;
        loop {
            match decoder.decode(&mut input) {
                Ok(Some(WsMessage::Text(data))) => reply(out, Opcode::Text, &data),
                Ok(Some(WsMessage::Binary(data))) => reply(out, Opcode::Binary, &data),
                Ok(Some(WsMessage::Close(_))) | Err(_) => return false,
                Ok(Some(_)) => {}
                Ok(None) => return true,
            }
        }
    };
    fn reply(out: &mut Vec<u8>, opcode: Opcode, data: &[u8]) {
        let (header, len) = encode_header(opcode, data.len());
        out.extend_from_slice(&header[..len]);
        out.extend_from_slice(data);
    }
    if !echo(&prefix, &mut out) {
        return;
    }
    drop(prefix);
    loop {
        if !out.is_empty() {
            if stream.write_all(&out).await.is_err() {
                return;
            }
            out.clear();
        }
        if stream.readable().await.is_err() {
            return;
        }
        let open = SCRATCH.with(|scratch| {
            let mut scratch = scratch.borrow_mut();
            match stream.try_read(&mut scratch) {
                Ok(0) => false,
                Ok(n) => echo(&scratch[..n], &mut out),
                Err(e) => e.kind() == std::io::ErrorKind::WouldBlock,
            }
        });
        if !open {
            return;
        }
    }
}
