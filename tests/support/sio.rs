//! A Socket.IO server for interop tests: it answers commands from the clients (emit to
//! rooms, gather acks, fetch sockets…) and records what its handlers see.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use socketio::{
    ConnectError, Data, DisconnectReason, Event, RoomEvent, Socket, SocketIo, SocketIoBuilder,
    Value,
};
use tokio::sync::Notify;

/// What the server's handlers saw, as text, in order.
#[derive(Clone, Default)]
pub struct Log {
    lines: Arc<Mutex<Vec<String>>>,
    changed: Arc<Notify>,
}

impl Log {
    pub fn push(&self, line: impl Into<String>) {
        self.lines.lock().unwrap().push(line.into());
        self.changed.notify_waiters();
    }

    pub fn lines(&self) -> Vec<String> {
        self.lines.lock().unwrap().clone()
    }

    pub fn contains(&self, line: &str) -> bool {
        self.lines().iter().any(|l| l == line)
    }

    /// Waits until a line satisfies `predicate`.
    pub async fn wait_for(&self, what: &str, predicate: impl Fn(&str) -> bool) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
        loop {
            let changed = self.changed.notified();
            if self.lines().iter().any(|l| predicate(l)) {
                return;
            }
            if tokio::time::timeout_at(deadline, changed).await.is_err() {
                panic!("timed out waiting for {what}; log: {:#?}", self.lines());
            }
        }
    }
}

pub struct SioServer {
    pub addr: SocketAddr,
    pub io: SocketIo,
    pub log: Log,
}

impl SioServer {
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

#[derive(Debug, Deserialize, Serialize)]
struct Upload {
    name: String,
    file: Bytes,
    parts: Vec<Bytes>,
}

#[derive(Debug, Deserialize)]
struct ToRooms {
    rooms: Vec<String>,
    event: String,
}

fn rooms_sorted(socket: &Socket) -> Vec<String> {
    let mut rooms: Vec<String> = socket
        .rooms()
        .into_iter()
        .filter(|r| r != socket.id().as_str())
        .collect();
    rooms.sort();
    rooms
}

/// Registers the fixture's handlers on a socket.
fn fixture_handlers(io: &SocketIo, socket: &Socket, log: &Log) {
    let hello = serde_json::json!({
        "id": socket.id().as_str(),
        "namespace": socket.namespace().name(),
        "auth": serde_json::to_value(socket.handshake().auth()).unwrap(),
        "query_x": socket.handshake().query("x"),
        "header": socket.handshake().headers().get("x-test").and_then(|v| v.to_str().ok()),
        "has_address": socket.handshake().address().is_some(),
        "url": socket.handshake().url().to_string(),
        "issued": socket.handshake().issued_millis(),
    });
    let _ = socket.emit("hello", &hello);

    let any_log = log.clone();
    socket.on_any(move |_socket, event| any_log.push(format!("any:{}", event.name())));
    let first_log = log.clone();
    socket.prepend_any(move |_socket, event| first_log.push(format!("first:{}", event.name())));
    let removed_log = log.clone();
    let removed = socket.on_any(move |_socket, _event| removed_log.push("removed listener ran"));
    socket.off_any(Some(removed));
    let out_log = log.clone();
    socket.on_any_outgoing(move |_socket, event, _args| out_log.push(format!("out:{event}")));
    let disconnecting_log = log.clone();
    socket.on_disconnecting(move |socket: Socket, reason: DisconnectReason| {
        let log = disconnecting_log.clone();
        async move {
            log.push(format!(
                "disconnecting:{}:{}:{}",
                socket.namespace().name(),
                reason,
                rooms_sorted(&socket).join(",")
            ));
        }
    });
    let disconnect_log = log.clone();
    socket.on_disconnect(move |socket: Socket, reason: DisconnectReason| {
        let log = disconnect_log.clone();
        async move {
            log.push(format!(
                "disconnect:{}:{}:{}",
                socket.namespace().name(),
                reason,
                socket.rooms().len()
            ));
        }
    });
    let error_log = log.clone();
    socket.on_error(move |_socket, error| error_log.push(format!("error:{error}")));

    socket.on("echo", |_socket: Socket, event: Event| async move {
        let _ = event.ack_raw(event.raw_args());
    });
    socket.on("echo-event", |socket: Socket, event: Event| async move {
        let _ = socket.emit_raw("echo-event", event.raw_args());
    });
    socket.on(
        "upload",
        |_socket: Socket, Data((upload,)): Data<(Upload,)>, ack: socketio::AckSender| async move {
            let reversed: Vec<u8> = upload.file.iter().rev().copied().collect();
            let sizes: Vec<usize> = upload.parts.iter().map(Bytes::len).collect();
            let _ = ack.send(&(upload.name, Bytes::from(reversed), sizes));
        },
    );
    socket.on("ask", |socket: Socket, _event: Event| async move {
        match socket.emit_with_ack::<i64, _>("question", &21).await {
            Ok(answer) => socket.emit("answer", &answer),
            Err(error) => socket.emit("answer-error", &error.to_string()),
        }
    });
    socket.on("ask-silent", |socket: Socket, _event: Event| async move {
        let result = socket
            .timeout(Duration::from_millis(200))
            .emit_with_ack::<Value, _>("ignored", &())
            .await;
        let _ = socket.emit("ack-timeout", &result.is_err());
    });
    socket.on("join", |socket: Socket, event: Event| async move {
        let (room,): (String,) = event.args()?;
        socket.join(room);
        event.ack(&())?;
        Ok::<_, socketio::BoxError>(())
    });
    socket.on("leave", |socket: Socket, event: Event| async move {
        let (room,): (String,) = event.args()?;
        socket.leave(&room);
        event.ack(&rooms_sorted(&socket))?;
        Ok::<_, socketio::BoxError>(())
    });
    let io_to = io.clone();
    socket.on("to", move |_socket: Socket, event: Event| {
        let io = io_to.clone();
        async move {
            let (command,): (ToRooms,) = event.args()?;
            io.to(command.rooms).emit(&command.event, &())?;
            event.ack(&())?;
            Ok::<_, socketio::BoxError>(())
        }
    });
    socket.on("to-from", |socket: Socket, event: Event| async move {
        let (room,): (String,) = event.args()?;
        socket.to(room).emit("to-from", socket.id().as_str())?;
        event.ack(&())?;
        Ok::<_, socketio::BoxError>(())
    });
    socket.on("broadcast", |socket: Socket, event: Event| async move {
        socket
            .broadcast()
            .emit("broadcasted", socket.id().as_str())?;
        event.ack(&())?;
        Ok::<_, socketio::BoxError>(())
    });
    let io_except = io.clone();
    socket.on("except", move |_socket: Socket, event: Event| {
        let io = io_except.clone();
        async move {
            let (room,): (String,) = event.args()?;
            io.except(room).emit("excepted", &())?;
            event.ack(&())?;
            Ok::<_, socketio::BoxError>(())
        }
    });
    let io_all = io.clone();
    socket.on("all", move |_socket: Socket, event: Event| {
        let io = io_all.clone();
        async move {
            io.emit("all", &())?;
            io.local().emit("local", &())?;
            io.volatile().emit("volatile", &())?;
            io.to("nobody").compress(false).emit("never", &())?;
            event.ack(&())?;
            Ok::<_, socketio::BoxError>(())
        }
    });
    let io_gather = io.clone();
    socket.on("gather", move |_socket: Socket, event: Event| {
        let io = io_gather.clone();
        async move {
            let (millis,): (u64,) = event.args()?;
            let result = io
                .timeout(Duration::from_millis(millis))
                .emit_with_ack::<Value, _>("poll", &())
                .await;
            let summary = match result {
                Ok(answers) => serde_json::json!({ "complete": true, "answers": answers.len() }),
                Err(socketio::BroadcastAckError::Timeout { responses, expected }) => {
                    serde_json::json!({ "complete": false, "answers": responses.len(), "expected": expected })
                }
                Err(error) => serde_json::json!({ "error": error.to_string() }),
            };
            event.ack(&summary)?;
            Ok::<_, socketio::BoxError>(())
        }
    });
    let io_fetch = io.clone();
    socket.on("fetch", move |_socket: Socket, event: Event| {
        let io = io_fetch.clone();
        async move {
            let room: Option<String> = event.arg(0).ok();
            let sockets = match room {
                Some(room) => io.within(room).fetch_sockets().await,
                None => io.fetch_sockets().await,
            };
            let mut described: Vec<_> = sockets
                .iter()
                .map(|s| {
                    let mut rooms: Vec<_> = s
                        .rooms()
                        .iter()
                        .filter(|r| *r != s.id().as_str())
                        .cloned()
                        .collect();
                    rooms.sort();
                    serde_json::json!({
                        "id": s.id().as_str(),
                        "rooms": rooms,
                        "data": s.data::<serde_json::Value>(),
                    })
                })
                .collect();
            described.sort_by_key(|d| d["id"].as_str().unwrap_or_default().to_owned());
            event.ack(&described)?;
            Ok::<_, socketio::BoxError>(())
        }
    });
    socket.on("set-data", |socket: Socket, event: Event| async move {
        let (data,): (serde_json::Value,) = event.args()?;
        socket.set_data(&data)?;
        event.ack(&socket.data::<serde_json::Value>())?;
        Ok::<_, socketio::BoxError>(())
    });
    let io_join = io.clone();
    socket.on("sockets-join", move |_socket: Socket, event: Event| {
        let io = io_join.clone();
        async move {
            let (room,): (String,) = event.args()?;
            io.sockets_join(room);
            event.ack(&())?;
            Ok::<_, socketio::BoxError>(())
        }
    });
    let io_leave = io.clone();
    socket.on("sockets-leave", move |_socket: Socket, event: Event| {
        let io = io_leave.clone();
        async move {
            let (room,): (String,) = event.args()?;
            io.sockets_leave(room);
            event.ack(&())?;
            Ok::<_, socketio::BoxError>(())
        }
    });
    let io_remote = io.clone();
    socket.on("remote-emit", move |_socket: Socket, event: Event| {
        let io = io_remote.clone();
        async move {
            let (id,): (String,) = event.args()?;
            for remote in io.fetch_sockets().await {
                if remote.id().as_str() == id {
                    remote.emit("remote", &"hi")?;
                    remote.join("remote-room");
                }
            }
            event.ack(&())?;
            Ok::<_, socketio::BoxError>(())
        }
    });
    socket.on(
        "disconnect-me",
        |socket: Socket, _event: Event| async move {
            socket.disconnect();
        },
    );
    socket.on("close-me", |socket: Socket, _event: Event| async move {
        socket.disconnect_connection();
    });
    let io_kick = io.clone();
    socket.on("kick-room", move |_socket: Socket, event: Event| {
        let io = io_kick.clone();
        async move {
            let (room,): (String,) = event.args()?;
            io.within(room).disconnect_sockets(false);
            Ok::<_, socketio::BoxError>(())
        }
    });
    socket.on("forbidden", |_socket: Socket, event: Event| async move {
        let _ = event.ack(&"should not happen");
    });
    socket.on("allowed", |_socket: Socket, event: Event| async move {
        let _ = event.ack(&"ok");
    });
    // Several handlers of one event run in order.
    let first = log.clone();
    socket.on("twice", move |_socket: Socket, _event: Event| {
        let log = first.clone();
        async move { log.push("twice:1") }
    });
    let second = log.clone();
    socket.on("twice", move |_socket: Socket, event: Event| {
        let log = second.clone();
        async move {
            log.push("twice:2");
            let _ = event.ack(&());
        }
    });
    // A slow handler holds the socket's later events, not others.
    socket.on("slow", |_socket: Socket, event: Event| async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        let _ = event.ack(&"slow");
    });
    socket.on("fast", |_socket: Socket, event: Event| async move {
        let _ = event.ack(&"fast");
    });
    socket.middleware(|_socket: Socket, event: Event| async move {
        if event.name() == "forbidden" {
            return Err("forbidden event".into());
        }
        Ok(event)
    });
}

/// A static file the fixture serves next to `/socket.io/` (for browser tests).
pub struct Page {
    pub path: &'static str,
    pub content_type: &'static str,
    pub body: Bytes,
}

/// Starts the fixture with `builder`'s options (heartbeat, parser…).
pub async fn start(builder: SocketIoBuilder) -> SioServer {
    start_with_pages(builder, Vec::new()).await
}

/// Starts the fixture, also serving `pages`.
pub async fn start_with_pages(builder: SocketIoBuilder, pages: Vec<Page>) -> SioServer {
    let io = builder.build().expect("valid configuration");
    let log = Log::default();

    for name in ["/", "/admin"] {
        let namespace = io.of(name);
        let (io_handle, log_handle) = (io.clone(), log.clone());
        namespace.on_connection(move |socket: Socket| {
            let (io, log) = (io_handle.clone(), log_handle.clone());
            async move {
                log.push(format!("connect:{}", socket.namespace().name()));
                fixture_handlers(&io, &socket, &log);
            }
        });
        let room_log = log.clone();
        namespace.on_room_event(move |event| {
            // Rooms named after sockets are too many to log.
            match event {
                RoomEvent::Create(room) if !room.starts_with("room:") => {}
                RoomEvent::Delete(room) if !room.starts_with("room:") => {}
                RoomEvent::Join { room, .. } | RoomEvent::Leave { room, .. }
                    if !room.starts_with("room:") => {}
                other => room_log.push(format!("room:{other:?}")),
            }
        });
    }

    // A namespace behind a token check.
    let private = io.of("/private");
    private.middleware(|socket: Socket| async move {
        match socket
            .handshake()
            .auth()
            .get("token")
            .and_then(Value::as_str)
        {
            Some("secret") => Ok(()),
            _ => {
                Err(ConnectError::new("unauthorized")
                    .with_data(&serde_json::json!({ "code": 401 })))
            }
        }
    });
    let private_log = log.clone();
    private.on_connection(move |socket: Socket| {
        let log = private_log.clone();
        async move {
            log.push("connect:/private");
            let _ = socket.emit("welcome", &"private");
        }
    });

    // Dynamic namespaces: /room-<digits>.
    let rooms = io.of_dynamic(|name, _auth| {
        name.strip_prefix("/room-")
            .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
    });
    let dynamic_log = log.clone();
    let parent = rooms.clone();
    rooms.on_connection(move |socket: Socket| {
        let (log, parent) = (dynamic_log.clone(), parent.clone());
        async move {
            log.push(format!("connect:{}", socket.namespace().name()));
            let _ = socket.emit("welcome", socket.namespace().name());
            socket.on("parent-emit", move |_socket: Socket, event: Event| {
                let parent = parent.clone();
                async move {
                    let _ = parent.emit("from-parent", &parent.children().len());
                    let _ = event.ack(&());
                }
            });
        }
    });

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let pages = Arc::new(pages);
    let routed = io.clone();
    let service = tower::service_fn(move |request: http::Request<hyper::body::Incoming>| {
        let (mut io, pages) = (routed.clone(), pages.clone());
        async move {
            if let Some(page) = pages.iter().find(|p| p.path == request.uri().path()) {
                let mut response =
                    http::Response::new(engineio::ResponseBody::new(page.body.clone()));
                response.headers_mut().insert(
                    http::header::CONTENT_TYPE,
                    http::HeaderValue::from_static(page.content_type),
                );
                return Ok(response);
            }
            tower::Service::call(&mut io, request).await
        }
    });
    tokio::spawn(engineio::serve(listener, service).into_future());
    SioServer { addr, io, log }
}
