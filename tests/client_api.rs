//! The Rust client's API from Rust, in-process against our server: what the client
//! driver's contract does not reach (several listeners, `once`, `off`, outgoing
//! listeners, `Manager`, async auth, what dropping the handles does).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sio_client::{
    DisconnectReason, Emitted, ManagerEvent, ManagerOptions, SocketOptions, Transport,
};
use socketio::{Event, Socket, SocketIo};
use tokio::sync::{Notify, mpsc};

struct Server {
    url: String,
    disconnects: Arc<Mutex<Vec<String>>>,
    changed: Arc<Notify>,
}

async fn server() -> Server {
    let io = SocketIo::new();
    let disconnects: Arc<Mutex<Vec<String>>> = Arc::default();
    let changed = Arc::new(Notify::new());
    let (log, notify) = (disconnects.clone(), changed.clone());
    io.on_connection(move |socket: Socket| {
        let (log, notify) = (log.clone(), notify.clone());
        async move {
            let _ = socket.emit("welcome", &(socket.handshake().auth().clone(),));
            socket.on("echo", |_socket: Socket, event: Event| async move {
                let _ = event.ack_raw(event.raw_args());
            });
            socket.on("twice", |socket: Socket, _event: Event| async move {
                let _ = socket.emit("tick", &(1,));
                let _ = socket.emit("tick", &(2,));
            });
            socket.on_disconnect(move |_socket: Socket, reason: socketio::DisconnectReason| {
                let (log, notify) = (log.clone(), notify.clone());
                async move {
                    log.lock().unwrap().push(reason.to_string());
                    notify.notify_waiters();
                }
            });
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(socketio::serve(listener, io).into_future());
    Server {
        url,
        disconnects,
        changed,
    }
}

async fn within<T>(what: &str, future: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(10), future)
        .await
        .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listeners_once_off_and_outgoing() {
    let server = server().await;
    let (tx, mut rx) = mpsc::unbounded_channel::<String>();
    let seen = |prefix: &'static str| {
        let tx = tx.clone();
        move |event: &sio_client::Event| {
            let args = serde_json::to_string(&event.args().to_values().unwrap()).unwrap();
            let _ = tx.send(format!("{prefix}:{}:{args}", event.name()));
        }
    };
    let socket = sio_client::io(&server.url)
        .transports(vec![Transport::WebSocket])
        .on("tick", seen("first"))
        .build()
        .unwrap();
    let second = socket.on("tick", seen("second"));
    socket.once("tick", seen("once"));
    socket.prepend_any(seen("any"));
    assert_eq!(socket.listener_count("tick"), 3);
    let out = tx.clone();
    socket.on_any_outgoing(move |_socket, name, _args| {
        let _ = out.send(format!("out:{name}"));
    });
    let connected = Arc::new(Notify::new());
    let notify = connected.clone();
    socket.on_connect(move |_| notify.notify_one());
    socket.connect();
    within("connect", connected.notified()).await;

    socket.emit("twice", &()).unwrap();
    let mut lines = Vec::new();
    while lines.len() < 9 {
        lines.push(within("the ticks", rx.recv()).await.unwrap());
    }
    lines.retain(|l| !l.starts_with("any:welcome"));
    assert_eq!(
        lines[..8],
        [
            "out:twice",
            "any:tick:[1]",
            "first:tick:[1]",
            "second:tick:[1]",
            "once:tick:[1]",
            "any:tick:[2]",
            "first:tick:[2]",
            "second:tick:[2]",
        ]
    );
    // `once` is gone; removing one listener leaves the others.
    assert_eq!(socket.listener_count("tick"), 2);
    assert!(socket.off(second));
    assert!(!socket.off(second));
    socket.off_any();
    socket.off_any_outgoing();
    socket.emit("twice", &()).unwrap();
    let mut lines = Vec::new();
    while lines.len() < 2 {
        lines.push(within("the ticks", rx.recv()).await.unwrap());
    }
    assert_eq!(lines, ["first:tick:[1]", "first:tick:[2]"]);

    // Reserved names are the caller's mistake; volatile emits say when they are dropped.
    assert!(matches!(
        socket.emit("disconnect", &()),
        Err(sio_client::EmitError::ReservedName(_))
    ));
    assert_eq!(socket.emit("echo", &()).unwrap(), Emitted::Sent);
    socket.disconnect();
    assert_eq!(
        socket.volatile().emit("echo", &()).unwrap(),
        Emitted::Dropped
    );
    assert_eq!(socket.emit("echo", &()).unwrap(), Emitted::Buffered);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_manager_shares_its_connection_and_asks_auth_each_time() {
    let server = server().await;
    let manager = sio_client::Manager::new(
        &server.url,
        ManagerOptions {
            transports: vec![Transport::WebSocket],
            reconnection_delay: Duration::from_millis(100),
            ..ManagerOptions::default()
        },
    )
    .unwrap();
    let events = Arc::new(Mutex::new(Vec::new()));
    let log = events.clone();
    manager.on_event(move |event| log.lock().unwrap().push(event.name()));
    let asked = Arc::new(AtomicUsize::new(0));
    let count = asked.clone();
    let options = SocketOptions {
        auth: sio_client::Auth::from_async_fn(move || {
            let n = count.fetch_add(1, Ordering::Relaxed);
            async move {
                tokio::time::sleep(Duration::from_millis(20)).await;
                serde_json::json!({ "token": format!("t{n}") }).into()
            }
        }),
        ..SocketOptions::default()
    };
    let (tx, mut rx) = mpsc::unbounded_channel();
    let socket = manager.socket("/", options);
    socket.on("welcome", move |event| {
        let (auth,): (serde_json::Value,) = event.deserialize().unwrap();
        let _ = tx.send(auth["token"].as_str().unwrap().to_owned());
    });
    assert_eq!(within("the welcome", rx.recv()).await.unwrap(), "t0");
    // The same namespace again is the same socket.
    let again = manager.socket("/", SocketOptions::default());
    assert_eq!(again.id(), socket.id());
    assert!(manager.is_open());
    assert_eq!(manager.transport(), Some(Transport::WebSocket));
    // Closed by the client: nothing reconnects until asked.
    manager.close();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!socket.connected());
    assert!(events.lock().unwrap().contains(&"close"));
    socket.connect();
    assert_eq!(within("the second welcome", rx.recv()).await.unwrap(), "t1");
    assert_eq!(asked.load(Ordering::Relaxed), 2);
    let _ = ManagerEvent::Open;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_every_handle_ends_the_connection() {
    let server = server().await;
    let connected = Arc::new(Notify::new());
    let notify = connected.clone();
    let disconnected = Arc::new(Mutex::new(None));
    let reason = disconnected.clone();
    let socket = sio_client::io(&server.url)
        .on_connect(move |_| notify.notify_one())
        .on_disconnect(move |_, r| *reason.lock().unwrap() = Some(r))
        .connect()
        .unwrap();
    within("connect", connected.notified()).await;
    let answer = socket
        .timeout(Duration::from_secs(5))
        .emit_with_ack("echo", &("x",))
        .unwrap()
        .await
        .unwrap();
    assert_eq!(answer.deserialize::<(String,)>().unwrap().0, "x");
    let changed = server.changed.notified();
    drop(socket);
    within("the server to see the client go", changed).await;
    assert_eq!(server.disconnects.lock().unwrap().len(), 1);
    // Nobody holds the socket any more: no listener is called for its end.
    assert_eq!(*disconnected.lock().unwrap(), None::<DisconnectReason>);
}
