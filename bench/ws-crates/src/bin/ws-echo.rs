//! A WebSocket echo server on hyper's upgrade path, with one of the candidate crates.
//! Usage: ws-echo <tokio-websockets|tungstenite|fastwebsockets> [port]

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
    TokioWebsockets,
    Tungstenite,
    Fastwebsockets,
}

fn main() {
    let mut args = std::env::args().skip(1);
    let which = match args.next().as_deref() {
        Some("tokio-websockets") => Crate::TokioWebsockets,
        Some("tungstenite") => Crate::Tungstenite,
        Some("fastwebsockets") => Crate::Fastwebsockets,
        _ => panic!("usage: ws-echo <tokio-websockets|tungstenite|fastwebsockets> [port]"),
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
        let io = TokioIo::new(on_upgrade.await.unwrap());
        match which {
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
