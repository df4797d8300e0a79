//! What the Rust client's interop tests drive: the `client_driver` example (the contract
//! of `shared/client/CONTRACT.md`), and a server fixture, either the official Node server
//! (`tests/interop/client/server.mjs`) or ours with the same behaviours, behind a proxy
//! that can cut, stall and refuse connections.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value as Json, json};
use socketio::{ConnectError, ConnectionStateRecovery, Event, Parser, Socket, SocketIo, Value};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, Command};
use tokio::sync::Notify;

use super::proxy::{Cut, Proxy};

/// How long a test waits for any one thing.
pub const WAIT: Duration = Duration::from_secs(15);

pub fn example(name: &str) -> PathBuf {
    // target/<profile>/deps/<test> -> target/<profile>/examples/<name>
    let exe = std::env::current_exe().expect("the test's path");
    let profile = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target dir");
    let path = profile.join("examples").join(name);
    assert!(
        path.exists(),
        "{} is missing: `cargo test` builds it",
        path.display()
    );
    path
}

#[derive(Default)]
struct Lines {
    lines: Mutex<Vec<Json>>,
    changed: Notify,
}

impl Lines {
    fn push(&self, line: Json) {
        self.lines.lock().unwrap().push(line);
        self.changed.notify_waiters();
    }

    fn snapshot(&self) -> Vec<Json> {
        self.lines.lock().unwrap().clone()
    }

    /// The first line from `from` on that matches, waiting for it.
    async fn wait(
        &self,
        what: &str,
        from: usize,
        predicate: impl Fn(&Json) -> bool,
    ) -> (usize, Json) {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let changed = self.changed.notified();
            if let Some((i, line)) = self
                .lines
                .lock()
                .unwrap()
                .iter()
                .enumerate()
                .skip(from)
                .find(|(_, line)| predicate(line))
            {
                return (i, line.clone());
            }
            if tokio::time::timeout_at(deadline, changed).await.is_err() {
                panic!(
                    "timed out waiting for {what}; lines: {:#?}",
                    self.snapshot()
                );
            }
        }
    }
}

fn spawn_reader(
    stdout: impl tokio::io::AsyncRead + Unpin + Send + 'static,
    lines: Arc<Lines>,
    name: &'static str,
) {
    tokio::spawn(async move {
        let mut reader = BufReader::new(stdout).lines();
        while let Ok(Some(line)) = reader.next_line().await {
            match serde_json::from_str(&line) {
                Ok(json) => lines.push(json),
                Err(_) => {
                    use std::io::Write as _;
                    let _ = writeln!(std::io::stderr(), "{name}: {line}");
                }
            }
        }
    });
}

/// The `client_driver` example, running.
pub struct Driver {
    _child: Child,
    stdin: ChildStdin,
    reports: Arc<Lines>,
    next_id: u64,
    /// Where the next `wait` starts looking.
    cursor: usize,
}

impl Driver {
    pub async fn start() -> Driver {
        let mut child = Command::new(example("client_driver"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .expect("client_driver starts");
        let reports = Arc::new(Lines::default());
        spawn_reader(
            child.stdout.take().unwrap(),
            reports.clone(),
            "client_driver",
        );
        Driver {
            stdin: child.stdin.take().unwrap(),
            _child: child,
            reports,
            next_id: 0,
            cursor: 0,
        }
    }

    /// Sends a command with the next id; returns the id.
    pub async fn send(&mut self, mut command: Json) -> u64 {
        self.next_id += 1;
        command["id"] = json!(self.next_id);
        let mut line = command.to_string();
        line.push('\n');
        self.stdin.write_all(line.as_bytes()).await.unwrap();
        self.stdin.flush().await.unwrap();
        self.next_id
    }

    /// Sends a command and waits for its answer.
    pub async fn call(&mut self, command: Json) -> Json {
        let id = self.send(command.clone()).await;
        self.answer(id).await
    }

    /// The answer to command `id`.
    pub async fn answer(&self, id: u64) -> Json {
        let what = format!("the answer to command {id}");
        self.reports
            .wait(&what, 0, |r| r["id"] == json!(id))
            .await
            .1
    }

    /// Sends a command that must succeed at once.
    pub async fn ok(&mut self, command: Json) -> Json {
        let answer = self.call(command.clone()).await;
        assert_eq!(answer["ok"], json!(true), "{command} -> {answer}");
        answer
    }

    /// Creates socket `name` for `url` with `options`.
    pub async fn socket(&mut self, name: &str, url: &str, options: Json) {
        self.ok(json!({"op": "socket", "name": name, "url": url, "options": options}))
            .await;
    }

    pub async fn emit(&mut self, socket: &str, event: &str, args: Json) {
        self.ok(json!({"op": "emit", "socket": socket, "event": event, "args": args}))
            .await;
    }

    /// Emits with an ack and returns the answer (`ok` true or false).
    pub async fn emit_ack(
        &mut self,
        socket: &str,
        event: &str,
        args: Json,
        timeout: Option<u64>,
    ) -> Json {
        let mut command =
            json!({"op": "emit", "socket": socket, "event": event, "args": args, "ack": true});
        if let Some(timeout) = timeout {
            command["timeout"] = json!(timeout);
        }
        self.call(command).await
    }

    pub async fn state(&mut self, socket: &str) -> Json {
        self.ok(json!({"op": "state", "socket": socket})).await
    }

    /// The next report (after the last one waited for) of `kind` for `socket` that
    /// matches `predicate`.
    pub async fn next(
        &mut self,
        socket: &str,
        kind: &str,
        predicate: impl Fn(&Json) -> bool,
    ) -> Json {
        let what = format!("a {kind} report of {socket}");
        let (i, report) = self
            .reports
            .wait(&what, self.cursor, |r| {
                r["socket"] == json!(socket) && r["type"] == json!(kind) && predicate(r)
            })
            .await;
        self.cursor = i + 1;
        report
    }

    /// The first report ever of `kind` for `socket` matching `predicate` (the cursor
    /// does not move): for what may come before or after another report.
    pub async fn find(&self, socket: &str, kind: &str, predicate: impl Fn(&Json) -> bool) -> Json {
        let what = format!("a {kind} report of {socket}");
        self.reports
            .wait(&what, 0, |r| {
                r["socket"] == json!(socket) && r["type"] == json!(kind) && predicate(r)
            })
            .await
            .1
    }

    /// Like [`next`](Self::next), for any report of that kind.
    pub async fn next_of(&mut self, socket: &str, kind: &str) -> Json {
        self.next(socket, kind, |_| true).await
    }

    /// The next manager event `event` of `socket`.
    pub async fn manager(&mut self, socket: &str, event: &str) -> Json {
        self.next(socket, "manager", |r| r["event"] == json!(event))
            .await
    }

    /// Every report so far.
    pub fn reports(&self) -> Vec<Json> {
        self.reports.snapshot()
    }

    /// Reports so far of `kind` for `socket`.
    pub fn reports_of(&self, socket: &str, kind: &str) -> Vec<Json> {
        self.reports()
            .into_iter()
            .filter(|r| r["socket"] == json!(socket) && r["type"] == json!(kind))
            .collect()
    }

    /// Moves the cursor past everything seen so far.
    pub fn skip_seen(&mut self) {
        self.cursor = self.reports.snapshot().len();
    }
}

/// Which server a test runs against.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// The official `socket.io` 4.8 on Node.
    Node,
    /// This project's server.
    Rust,
}

/// Options of a fixture server (both kinds take the same).
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// Connection state recovery, with this disconnection window.
    pub recovery: Option<Duration>,
    pub ping_interval: Option<Duration>,
    pub ping_timeout: Option<Duration>,
    pub max_payload: Option<u64>,
    pub msgpack: bool,
    /// Long-polling only (no WebSocket).
    pub polling_only: bool,
    /// Files served under `/sio-page/` (the browser test's page).
    pub page_dir: Option<PathBuf>,
    /// The Engine.IO path, when not `/socket.io/`.
    pub path: Option<&'static str>,
}

enum Running {
    Node {
        child: Child,
        stdin: ChildStdin,
        seen: Arc<Lines>,
    },
    Rust {
        io: SocketIo,
        task: tokio::task::JoinHandle<()>,
    },
}

/// A fixture server behind a proxy.
pub struct Server {
    pub kind: Kind,
    options: Options,
    pub proxy: Proxy,
    port: u16,
    running: Option<Running>,
}

impl Server {
    pub async fn start(kind: Kind, options: Options) -> Server {
        let (running, addr) = launch(kind, &options, 0).await;
        let proxy = Proxy::start(addr).await;
        Server {
            kind,
            options,
            proxy,
            port: addr.port(),
            running: Some(running),
        }
    }

    /// The URL clients use (through the proxy).
    pub fn url(&self) -> String {
        self.proxy.url()
    }

    /// Emits `event` to every socket of namespace `nsp` from the server.
    pub async fn emit(&mut self, nsp: &str, event: &str, args: Json) {
        match self.running.as_mut().expect("running") {
            Running::Node { stdin, .. } => {
                let line = json!({"op": "emit", "nsp": nsp, "event": event, "args": args})
                    .to_string()
                    + "\n";
                stdin.write_all(line.as_bytes()).await.unwrap();
                stdin.flush().await.unwrap();
            }
            Running::Rust { io, .. } => {
                let values: Vec<Value> = match args {
                    Json::Array(items) => items.iter().map(from_json).collect(),
                    other => vec![from_json(&other)],
                };
                io.of(nsp)
                    .emit_raw(event, &socketio::Args::from_values(values))
                    .unwrap();
            }
        }
    }

    /// Stops the server as a crash would (connections closed without goodbye); new
    /// connections are refused until [`restart`](Self::restart).
    pub async fn crash(&mut self) {
        self.proxy.refuse(true);
        match self.running.take() {
            Some(Running::Node { mut child, .. }) => {
                let _ = child.kill().await;
            }
            Some(Running::Rust { task, .. }) => task.abort(),
            None => {}
        }
        self.proxy.cut_all(Cut::Close);
    }

    /// Starts the server again (a new process for Node, on the same port; a new server
    /// for ours) and lets connections through.
    pub async fn restart(&mut self) {
        if self.running.is_some() {
            self.crash().await;
        }
        let port = match self.kind {
            Kind::Node => self.port,
            Kind::Rust => 0,
        };
        let (running, addr) = launch(self.kind, &self.options, port).await;
        self.proxy.set_upstream(addr);
        self.port = addr.port();
        self.running = Some(running);
        self.proxy.refuse(false);
    }

    /// What the Node server printed (empty for ours).
    pub fn seen(&self) -> Vec<Json> {
        match &self.running {
            Some(Running::Node { seen, .. }) => seen.snapshot(),
            _ => Vec::new(),
        }
    }
}

async fn launch(kind: Kind, options: &Options, port: u16) -> (Running, SocketAddr) {
    match kind {
        Kind::Node => launch_node(options, port).await,
        Kind::Rust => launch_rust(options, port).await,
    }
}

async fn launch_node(options: &Options, port: u16) -> (Running, SocketAddr) {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/interop");
    let mut config = json!({"port": port});
    if let Some(recovery) = options.recovery {
        config["recovery"] = json!(recovery.as_millis() as u64);
    }
    if let Some(interval) = options.ping_interval {
        config["pingInterval"] = json!(interval.as_millis() as u64);
    }
    if let Some(timeout) = options.ping_timeout {
        config["pingTimeout"] = json!(timeout.as_millis() as u64);
    }
    if let Some(max) = options.max_payload {
        config["maxHttpBufferSize"] = json!(max);
    }
    if options.msgpack {
        config["parser"] = json!("msgpack");
    }
    if options.polling_only {
        config["transports"] = json!(["polling"]);
    }
    if let Some(dir) = &options.page_dir {
        config["pageDir"] = json!(dir);
    }
    if let Some(path) = options.path {
        config["path"] = json!(path);
    }
    // A port just freed may take a moment to bind again.
    for _ in 0..50 {
        let mut child = Command::new("node")
            .arg("client/server.mjs")
            .arg(config.to_string())
            .current_dir(&dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .expect("node runs");
        let seen = Arc::new(Lines::default());
        spawn_reader(child.stdout.take().unwrap(), seen.clone(), "node server");
        let stdin = child.stdin.take().unwrap();
        let started = tokio::time::timeout(Duration::from_secs(10), async {
            loop {
                if let Some(port) = seen.snapshot().iter().find_map(|l| l["port"].as_u64()) {
                    return Some(port as u16);
                }
                if let Ok(Some(_)) = child.try_wait() {
                    return None;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
        .await
        .expect("the node server starts");
        if let Some(port) = started {
            let addr = SocketAddr::from(([127, 0, 0, 1], port));
            return (Running::Node { child, stdin, seen }, addr);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the node server did not start on port {port}");
}

fn from_json(json: &Json) -> Value {
    match json {
        Json::Object(map) if map.len() == 1 && map.contains_key("$binary") => {
            use base64::Engine as _;
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(map["$binary"].as_str().unwrap())
                .unwrap();
            Value::Binary(bytes.into())
        }
        Json::Object(map) => {
            Value::Object(map.iter().map(|(k, v)| (k.clone(), from_json(v))).collect())
        }
        Json::Array(items) => Value::Array(items.iter().map(from_json).collect()),
        other => Value::from(other.clone()),
    }
}

async fn launch_rust(options: &Options, port: u16) -> (Running, SocketAddr) {
    let mut builder = SocketIo::builder().engine(|engine| {
        let mut engine = engine;
        if let Some(interval) = options.ping_interval {
            engine = engine.ping_interval(interval);
        }
        if let Some(timeout) = options.ping_timeout {
            engine = engine.ping_timeout(timeout);
        }
        if let Some(max) = options.max_payload {
            engine = engine.max_payload(max);
        }
        if let Some(path) = options.path {
            engine = engine.path(path);
        }
        if options.polling_only {
            engine = engine.transports(engineio::Transports {
                polling: true,
                websocket: false,
            });
        }
        engine
    });
    if options.msgpack {
        builder = builder.parser(Parser::MsgPack);
    }
    if let Some(window) = options.recovery {
        builder = builder.connection_state_recovery(ConnectionStateRecovery {
            max_disconnection_duration: window,
            ..ConnectionStateRecovery::default()
        });
    }
    let io = builder.build().expect("valid options");
    let counts: Counts = Arc::default();
    let logs: Logs = Arc::default();
    let refuse = |socket: Socket| async move {
        match socket
            .handshake()
            .auth()
            .get("token")
            .and_then(Value::as_str)
        {
            Some("bad") => Err(ConnectError::new("not authorized")
                .with_data(&json!({"code": 42, "reason": "bad token"}))),
            _ => Ok(()),
        }
    };
    io.middleware(refuse);
    let (counts_main, logs_main) = (counts.clone(), logs.clone());
    io.on_connection(move |socket: Socket| {
        let (counts, logs) = (counts_main.clone(), logs_main.clone());
        async move { behaviours(&socket, &counts, &logs) }
    });
    // `/admin` is named (the server's emits reach it through `io.of`); any other
    // namespace is made on first use.
    let admin = io.of("/admin");
    admin.middleware(refuse);
    let (counts_admin, logs_admin) = (counts.clone(), logs.clone());
    admin.on_connection(move |socket: Socket| {
        let (counts, logs) = (counts_admin.clone(), logs_admin.clone());
        async move { behaviours(&socket, &counts, &logs) }
    });
    let dynamic = io.of_dynamic(|name: &str, _auth: &Value| name != "/" && name != "/admin");
    dynamic.middleware(refuse);
    dynamic.on_connection(move |socket: Socket| {
        let (counts, logs) = (counts.clone(), logs.clone());
        async move { behaviours(&socket, &counts, &logs) }
    });
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .unwrap();
    let addr = listener.local_addr().unwrap();
    let serving = io.clone();
    let pages = options.page_dir.clone();
    let service = tower::service_fn(move |request: http::Request<hyper::body::Incoming>| {
        let (mut io, pages) = (serving.clone(), pages.clone());
        async move {
            if let (Some(dir), Some(name)) =
                (&pages, request.uri().path().strip_prefix("/sio-page/"))
            {
                return Ok(page(dir, name));
            }
            tower::Service::call(&mut io, request).await
        }
    });
    let task = tokio::spawn(async move {
        let _ = engineio::serve(listener, service).await;
    });
    (Running::Rust { io, task }, addr)
}

/// A file of the browser test's page.
fn page(dir: &std::path::Path, name: &str) -> http::Response<engineio::ResponseBody> {
    let file = (!name.contains('/') && !name.contains(".."))
        .then(|| std::fs::read(dir.join(name)).ok())
        .flatten();
    let Some(body) = file else {
        let mut response = http::Response::new(engineio::ResponseBody::new(bytes::Bytes::new()));
        *response.status_mut() = http::StatusCode::NOT_FOUND;
        return response;
    };
    let content_type = match name.rsplit('.').next() {
        Some("js") => "text/javascript",
        Some("wasm") => "application/wasm",
        Some("html") => "text/html",
        _ => "application/octet-stream",
    };
    let mut response = http::Response::new(engineio::ResponseBody::new(bytes::Bytes::from(body)));
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static(content_type),
    );
    response
}

type Counts = Arc<Mutex<std::collections::HashMap<String, u64>>>;
type Logs = Arc<Mutex<std::collections::HashMap<String, Vec<Value>>>>;

/// The behaviours of `tests/interop/client/server.mjs`, on our server.
fn behaviours(socket: &Socket, counts: &Counts, logs: &Logs) {
    let counting = counts.clone();
    socket.on_any(move |_socket, event| {
        *counting
            .lock()
            .unwrap()
            .entry(event.name().to_owned())
            .or_default() += 1;
    });
    socket.on("echo", |socket: Socket, event: Event| async move {
        if event.wants_ack() {
            let _ = event.ack_raw(event.raw_args());
        } else {
            let _ = socket.emit_raw("echo", event.raw_args());
        }
    });
    socket.on("broadcast", |socket: Socket, event: Event| async move {
        let name: String = event.arg(0).unwrap_or_default();
        let _ = socket
            .namespace()
            .emit_raw(&name, &event.raw_args().skip(1));
        let _ = event.ack(&("ok",));
    });
    socket.on("ask", |socket: Socket, event: Event| async move {
        let name: String = event.arg(0).unwrap_or_default();
        let args = event.raw_args().skip(1).to_values().unwrap_or_default();
        let answer = socket
            .timeout(Duration::from_secs(5))
            .emit_with_ack_raw(&name, &Spread(args))
            .await;
        let _ = match answer {
            Ok(args) => {
                let first = args.to_values().unwrap_or_default().into_iter().next();
                let mut map = socketio::Map::new();
                map.insert("answer".into(), first.unwrap_or(Value::Null));
                event.ack(&Value::Object(map))
            }
            Err(error) => event.ack(&json!({"error": error.to_string()})),
        };
    });
    socket.on("binary", |_socket: Socket, event: Event| async move {
        let _ = event.ack(&(
            bytes::Bytes::from_static(&[1, 2, 3]),
            Value::Object(
                [
                    (
                        "nested".to_owned(),
                        Value::Array(vec![Value::Binary(bytes::Bytes::from_static(&[4, 5]))]),
                    ),
                    ("text".to_owned(), Value::from("mixed")),
                ]
                .into_iter()
                .collect(),
            ),
        ));
    });
    socket.on("handshake", |socket: Socket, event: Event| async move {
        let handshake = socket.handshake();
        let query: serde_json::Map<String, Json> = handshake
            .url()
            .query()
            .unwrap_or("")
            .split('&')
            .filter_map(|pair| pair.split_once('='))
            .map(|(k, v)| (k.to_owned(), json!(v)))
            .collect();
        let header = handshake
            .headers()
            .get("x-test")
            .and_then(|v| v.to_str().ok());
        let _ = event.ack(&json!({
            "auth": serde_json::to_value(handshake.auth()).unwrap(),
            "query": query,
            "header": header,
        }));
    });
    let counts = counts.clone();
    socket.on("count", move |_socket: Socket, event: Event| {
        let counts = counts.clone();
        async move {
            let name: String = event.arg(0).unwrap_or_default();
            let n = counts.lock().unwrap().get(&name).copied().unwrap_or(0);
            let _ = event.ack(&(n,));
        }
    });
    let logging = logs.clone();
    socket.on("log", move |_socket: Socket, event: Event| {
        let logs = logging.clone();
        async move {
            let name: String = event.arg(0).unwrap_or_default();
            let value: Value = event.arg(1).unwrap_or(Value::Null);
            logs.lock().unwrap().entry(name).or_default().push(value);
            let _ = event.ack(&());
        }
    });
    let logged = logs.clone();
    socket.on("logged", move |_socket: Socket, event: Event| {
        let logs = logged.clone();
        async move {
            let name: String = event.arg(0).unwrap_or_default();
            let list = logs.lock().unwrap().get(&name).cloned().unwrap_or_default();
            let _ = event.ack(&(Value::Array(list),));
        }
    });
    socket.on("slow", |_socket: Socket, event: Event| async move {
        let ms: u64 = event.arg(0).unwrap_or(0);
        let ack = event.ack_sender();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(ms)).await;
            let _ = ack.send(&("late",));
        });
    });
    socket.on("never", |_socket: Socket, _event: Event| async move {});
    socket.on(
        "disconnect-me",
        |socket: Socket, _event: Event| async move {
            socket.disconnect();
        },
    );
}

/// Values serialised as a tuple: one argument each.
struct Spread(Vec<Value>);

impl serde::Serialize for Spread {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeTuple;
        let mut tuple = serializer.serialize_tuple(self.0.len())?;
        for value in &self.0 {
            tuple.serialize_element(value)?;
        }
        tuple.end()
    }
}

/// Counts calls, for tests that need a fresh name each time.
pub fn unique(prefix: &str) -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    format!("{prefix}{}", N.fetch_add(1, Ordering::Relaxed))
}
