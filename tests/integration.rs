//! Mounting the server in other stacks: a tower layer in front of an axum app, a service on
//! an axum route, and hyper through `serve`.

mod support;

use std::time::Duration;

use axum::Router;
use axum::routing::get;
use socketio::{Event, Socket, SocketIo};
use support::raw;
use tokio::io::AsyncWriteExt;

fn echo_server() -> SocketIo {
    let io = SocketIo::new();
    io.on_connection(|socket: Socket| async move {
        socket.on("echo", |_socket: Socket, event: Event| async move {
            let _ = event.ack_raw(event.raw_args());
        });
    });
    io
}

async fn check_both(addr: std::net::SocketAddr) {
    let (mut ws, _) = raw::socketio(addr).await;
    ws.write_all(&raw::text_frame(r#"421["echo","through axum"]"#))
        .await
        .unwrap();
    raw::read_text_until(&mut ws, |t| t == r#"431["through axum"]"#).await;
    let sid = raw::polling_handshake(addr, "/socket.io/").await;
    assert_eq!(sid.len(), 20);
    let page = raw::request(addr, &raw::get("/", "")).await.unwrap();
    assert_eq!((page.status, page.text().as_str()), (200, "hello"));
}

#[tokio::test]
async fn as_a_layer_in_front_of_an_axum_app() {
    let io = echo_server();
    let app = Router::new()
        .route("/", get(|| async { "hello" }))
        .layer(io.layer());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    check_both(addr).await;
}

#[tokio::test]
async fn as_a_service_on_an_axum_route() {
    let io = echo_server();
    let app = Router::new()
        .route("/", get(|| async { "hello" }))
        .route_service("/socket.io/", io.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    check_both(addr).await;
}

#[tokio::test]
async fn graceful_shutdown_with_serve() {
    let io = echo_server();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let closing = io.clone();
    let server = tokio::spawn(
        socketio::serve(listener, io.clone())
            .with_graceful_shutdown(async move {
                let _ = stopped.await;
                closing.close(Duration::from_secs(2)).await;
            })
            .into_future(),
    );
    let (mut ws, _) = raw::socketio(addr).await;
    stop.send(()).unwrap();
    assert!(raw::ws_closed_within(&mut ws, Duration::from_secs(5)).await);
    tokio::time::timeout(Duration::from_secs(5), server)
        .await
        .expect("serve returns after the shutdown")
        .unwrap()
        .unwrap();
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "no longer listening"
    );
}
