//! Helpers for tests that run a server in-process and drive it with official clients.

#![allow(dead_code, unreachable_pub)]

pub mod client;
pub mod cluster;
pub mod gateway;
pub mod proxy;
pub mod raw;
pub mod sio;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use engineio::{
    CloseReason, EngineIo, EngineIoBuilder, EngineSocket, Message, Serve, SocketHandler,
};
use tokio::sync::Notify;

/// What the server's handler saw, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ServerEvent {
    Open(String),
    Message(Message),
    Upgrade,
    Close(CloseReason),
}

#[derive(Clone, Default)]
pub struct Recorder {
    events: Arc<Mutex<Vec<ServerEvent>>>,
    changed: Arc<Notify>,
}

impl Recorder {
    fn push(&self, event: ServerEvent) {
        self.events.lock().unwrap().push(event);
        self.changed.notify_waiters();
    }

    pub fn events(&self) -> Vec<ServerEvent> {
        self.events.lock().unwrap().clone()
    }

    /// Waits until `predicate` holds for the events seen so far.
    pub async fn wait_until(&self, what: &str, predicate: impl Fn(&[ServerEvent]) -> bool) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
        loop {
            let notified = self.changed.notified();
            if predicate(&self.events.lock().unwrap()) {
                return;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                panic!("timed out waiting for {what}; events: {:?}", self.events());
            }
        }
    }

    pub fn close_reasons(&self) -> Vec<CloseReason> {
        self.events()
            .into_iter()
            .filter_map(|event| match event {
                ServerEvent::Close(reason) => Some(reason),
                _ => None,
            })
            .collect()
    }
}

/// Echoes every message and records everything.
struct RecordingEcho {
    socket: EngineSocket,
    recorder: Recorder,
}

impl SocketHandler for RecordingEcho {
    fn on_message(&mut self, message: Message) {
        self.recorder.push(ServerEvent::Message(message.clone()));
        let _ = self.socket.try_send(message);
    }

    fn on_upgrade(&mut self) {
        self.recorder.push(ServerEvent::Upgrade);
    }

    fn on_close(&mut self, reason: CloseReason) {
        self.recorder.push(ServerEvent::Close(reason));
    }
}

pub struct TestServer {
    pub addr: SocketAddr,
    pub engine: EngineIo,
    pub recorder: Recorder,
}

impl TestServer {
    /// An echo server with these options on a free port of 127.0.0.1.
    pub async fn start(builder: EngineIoBuilder) -> TestServer {
        Self::start_with(builder, |serve| serve).await
    }

    /// Like [`start`](Self::start), with options for the HTTP server.
    pub async fn start_with(
        builder: EngineIoBuilder,
        configure: impl FnOnce(Serve<EngineIo>) -> Serve<EngineIo>,
    ) -> TestServer {
        let recorder = Recorder::default();
        let handler_recorder = recorder.clone();
        let engine = builder
            .build(move |socket: EngineSocket| {
                handler_recorder.push(ServerEvent::Open(socket.sid().to_string()));
                RecordingEcho {
                    socket,
                    recorder: handler_recorder.clone(),
                }
            })
            .expect("valid configuration");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(configure(engineio::serve(listener, engine.clone())).into_future());
        TestServer {
            addr,
            engine,
            recorder,
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

fn interop_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/interop")
}

/// Runs a Node script of `tests/interop` and returns the JSON it printed; panics with its
/// output if it fails.
pub async fn node(args: &[&str]) -> serde_json::Value {
    node_within(Duration::from_secs(60), args).await
}

/// Like [`node`], for scripts that take longer than a minute.
pub async fn node_within(limit: Duration, args: &[&str]) -> serde_json::Value {
    let dir = interop_dir();
    assert!(
        dir.join("node_modules").is_dir(),
        "tests/interop/node_modules is missing: run `npm ci --prefix tests/interop` \
         (scripts/test does it)"
    );
    let child = tokio::process::Command::new("node")
        .args(args)
        .current_dir(&dir)
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(limit, child)
        .await
        .unwrap_or_else(|_| panic!("node {args:?} timed out"))
        .expect("node runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "node {args:?} failed ({}):\n{stdout}\n{stderr}",
        output.status
    );
    let last = stdout.lines().last().unwrap_or_default();
    serde_json::from_str(last).unwrap_or_else(|_| panic!("node {args:?} printed {stdout}"))
}
