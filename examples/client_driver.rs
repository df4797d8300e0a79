//! The client driver of `shared/client/CONTRACT.md`: JSON commands on stdin become calls of
//! the Rust client's public API; everything the client observes comes out as JSON lines on
//! stdout. `cargo run --release --example client_driver`.

use std::collections::HashMap;
use std::io::Write as _;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::{Map, Value as Json, json};
use sio_client::{
    AckError, Args, Auth, Event, Manager, ManagerEvent, Parser, Socket, SocketBuilder, Transport,
    Value,
};
use tokio::io::AsyncBufReadExt;

/// Writes reports, one JSON object a line, each with `t`.
#[derive(Clone)]
struct Out {
    start: Instant,
    lock: Arc<Mutex<()>>,
}

impl Out {
    fn send(&self, mut report: Map<String, Json>) {
        let t = self.start.elapsed().as_secs_f64() * 1000.0;
        report.insert("t".into(), json!((t * 1000.0).round() / 1000.0));
        let line = Json::Object(report).to_string();
        let _guard = self.lock.lock().unwrap_or_else(|p| p.into_inner());
        let mut stdout = std::io::stdout().lock();
        let _ = writeln!(stdout, "{line}");
        let _ = stdout.flush();
    }

    fn report(&self, kind: &str, socket: &str, fields: Json) {
        let mut report = Map::new();
        report.insert("type".into(), json!(kind));
        report.insert("socket".into(), json!(socket));
        if let Json::Object(fields) = fields {
            report.extend(fields);
        }
        self.send(report);
    }

    fn answer(&self, id: &Json, result: Result<Json, String>) {
        let mut report = Map::new();
        report.insert("id".into(), id.clone());
        match result {
            Ok(Json::Object(fields)) => {
                report.insert("ok".into(), json!(true));
                report.extend(fields);
            }
            Ok(_) => {
                report.insert("ok".into(), json!(true));
            }
            Err(error) => {
                report.insert("ok".into(), json!(false));
                report.insert("error".into(), json!(error));
            }
        }
        self.send(report);
    }
}

/// `{"$binary": "<base64>"}` objects become bytes, at any depth.
fn to_value(json: &Json) -> Result<Value, String> {
    Ok(match json {
        Json::Object(map) if map.len() == 1 && map.contains_key("$binary") => {
            let text = map["$binary"].as_str().ok_or("$binary must be a string")?;
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(text)
                .map_err(|error| format!("bad base64: {error}"))?;
            Value::Binary(bytes.into())
        }
        Json::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| Ok((k.clone(), to_value(v)?)))
                .collect::<Result<_, String>>()?,
        ),
        Json::Array(items) => Value::Array(items.iter().map(to_value).collect::<Result<_, _>>()?),
        other => Value::from(other.clone()),
    })
}

/// Bytes become `{"$binary": "<base64>"}`.
fn to_json(value: &Value) -> Json {
    match value {
        Value::Binary(bytes) => {
            json!({ "$binary": base64::engine::general_purpose::STANDARD.encode(bytes) })
        }
        Value::Array(items) => Json::Array(items.iter().map(to_json).collect()),
        Value::Object(map) => {
            Json::Object(map.iter().map(|(k, v)| (k.clone(), to_json(v))).collect())
        }
        other => serde_json::to_value(other).unwrap_or(Json::Null),
    }
}

fn args_json(args: &Args) -> Json {
    match args.to_values() {
        Ok(values) => Json::Array(values.iter().map(to_json).collect()),
        Err(_) => Json::Null,
    }
}

/// What a `reply` command set for an event.
#[derive(Clone)]
enum Reply {
    Echo,
    Args(Vec<Value>),
}

struct Entry {
    socket: Socket,
    /// The effective ack timeout of the socket's emits without their own: `ackTimeout`.
    ack_timeout: Option<u64>,
}

struct Driver {
    out: Out,
    sockets: HashMap<String, Entry>,
    managers: Vec<Manager>,
    replies: HashMap<String, Arc<Mutex<HashMap<String, Reply>>>>,
}

fn millis(value: &Json, name: &str) -> Result<Duration, String> {
    value
        .as_f64()
        .filter(|ms| *ms >= 0.0)
        .map(|ms| Duration::from_micros((ms * 1000.0) as u64))
        .ok_or_else(|| format!("{name} must be a number of milliseconds"))
}

fn flag(value: &Json, name: &str) -> Result<bool, String> {
    value
        .as_bool()
        .ok_or_else(|| format!("{name} must be a boolean"))
}

fn string_pairs(value: &Json, name: &str) -> Result<Vec<(String, String)>, String> {
    let map = value
        .as_object()
        .ok_or_else(|| format!("{name} must be an object"))?;
    Ok(map
        .iter()
        .map(|(k, v)| {
            let v = match v {
                Json::String(s) => s.clone(),
                other => other.to_string(),
            };
            (k.clone(), v)
        })
        .collect())
}

/// Applies the contract's `options` to a builder; refuses what it does not know.
fn configure(
    mut builder: SocketBuilder,
    options: &Map<String, Json>,
) -> Result<(SocketBuilder, bool, Option<u64>), String> {
    let mut auto_connect = true;
    let mut ack_timeout = None;
    for (name, value) in options {
        builder = match name.as_str() {
            "path" => builder.path(value.as_str().ok_or("path must be a string")?),
            "query" => {
                let mut b = builder;
                for (k, v) in string_pairs(value, name)? {
                    b = b.query(&k, &v);
                }
                b
            }
            "extraHeaders" => {
                let mut b = builder;
                for (k, v) in string_pairs(value, name)? {
                    b = b.extra_header(&k, &v);
                }
                b
            }
            "auth" => builder.auth(to_value(value)?),
            "authSequence" => {
                let sequence: Vec<Value> = value
                    .as_array()
                    .filter(|a| !a.is_empty())
                    .ok_or("authSequence must be a non-empty array")?
                    .iter()
                    .map(to_value)
                    .collect::<Result<_, _>>()?;
                let next = AtomicUsize::new(0);
                builder.socket_auth(Auth::from_fn(move || {
                    let i = next.fetch_add(1, Ordering::Relaxed).min(sequence.len() - 1);
                    sequence[i].clone()
                }))
            }
            "transports" => {
                let transports = value
                    .as_array()
                    .ok_or("transports must be an array")?
                    .iter()
                    .map(|t| match t.as_str() {
                        Some("polling") => Ok(Transport::Polling),
                        Some("websocket") => Ok(Transport::WebSocket),
                        other => Err(format!("unsupported transport {other:?}")),
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                builder.transports(transports)
            }
            "upgrade" => builder.upgrade(flag(value, name)?),
            "rememberUpgrade" => builder.remember_upgrade(flag(value, name)?),
            "tryAllTransports" => builder.try_all_transports(flag(value, name)?),
            "timeout" if value == &Json::Bool(false) => builder.no_timeout(),
            "timeout" => builder.timeout(millis(value, name)?),
            "reconnection" => builder.reconnection(flag(value, name)?),
            "reconnectionAttempts" => builder.reconnection_attempts(
                value
                    .as_f64()
                    .filter(|n| *n >= 0.0)
                    .map(|n| n.min(u32::MAX as f64) as u32)
                    .ok_or("reconnectionAttempts must be a number")?,
            ),
            "reconnectionDelay" => builder.reconnection_delay(millis(value, name)?),
            "reconnectionDelayMax" => builder.reconnection_delay_max(millis(value, name)?),
            "randomizationFactor" => builder.randomization_factor(
                value
                    .as_f64()
                    .ok_or("randomizationFactor must be a number")?,
            ),
            "autoConnect" => {
                auto_connect = flag(value, name)?;
                builder
            }
            "forceNew" => builder.force_new(flag(value, name)?),
            "multiplex" => builder.multiplex(flag(value, name)?),
            "ackTimeout" => {
                let timeout = millis(value, name)?;
                ack_timeout = Some(timeout.as_millis() as u64);
                builder.ack_timeout(timeout)
            }
            "retries" => builder.retries(
                value
                    .as_u64()
                    .map(|n| n.min(u32::MAX as u64) as u32)
                    .ok_or("retries must be a whole number")?,
            ),
            "parser" => match value.as_str() {
                Some("default") => builder.parser(Parser::Json),
                Some("msgpack") => builder.parser(Parser::MsgPack),
                other => return Err(format!("unsupported parser {other:?}")),
            },
            other => return Err(format!("unsupported option {other}")),
        };
    }
    Ok((builder, auto_connect, ack_timeout))
}

impl Driver {
    fn socket(&self, command: &Json) -> Result<&Entry, String> {
        let name = command["socket"].as_str().ok_or("socket must be a name")?;
        self.sockets
            .get(name)
            .ok_or_else(|| format!("no socket named {name}"))
    }

    fn create(&mut self, command: &Json) -> Result<Json, String> {
        let name = command["name"]
            .as_str()
            .ok_or("name must be a string")?
            .to_owned();
        if self.sockets.contains_key(&name) {
            return Err(format!("a socket named {name} exists"));
        }
        let url = command["url"].as_str().ok_or("url must be a string")?;
        let empty = Map::new();
        let options = match &command["options"] {
            Json::Null => &empty,
            Json::Object(options) => options,
            _ => return Err("options must be an object".into()),
        };
        let (builder, auto_connect, ack_timeout) = configure(sio_client::io(url), options)?;
        let socket = builder.build().map_err(|error| error.to_string())?;
        self.listen(&name, &socket);
        let manager = socket.manager();
        if !self.managers.contains(&manager) {
            self.listen_manager(&name, &manager);
            self.managers.push(manager);
        }
        if auto_connect {
            socket.connect();
        }
        self.sockets.insert(
            name,
            Entry {
                socket,
                ack_timeout,
            },
        );
        Ok(Json::Null)
    }

    fn listen(&mut self, name: &str, socket: &Socket) {
        let replies = Arc::new(Mutex::new(HashMap::<String, Reply>::new()));
        self.replies.insert(name.to_owned(), replies.clone());
        let (out, n) = (self.out.clone(), name.to_owned());
        socket.on_connect(move |socket| {
            out.report(
                "connect",
                &n,
                json!({ "id": socket.id(), "recovered": socket.recovered() }),
            );
        });
        let (out, n) = (self.out.clone(), name.to_owned());
        socket.on_connect_error(move |_, error| {
            if let Some(description) = &error.description {
                let _ = writeln!(std::io::stderr(), "{n}: connect_error: {description}");
            }
            let data = error.data.as_ref().map_or(Json::Null, to_json);
            out.report(
                "connect_error",
                &n,
                json!({ "message": error.message, "data": data }),
            );
        });
        let (out, n) = (self.out.clone(), name.to_owned());
        socket.on_disconnect(move |_, reason| {
            out.report("disconnect", &n, json!({ "reason": reason.as_str() }));
        });
        let (out, n) = (self.out.clone(), name.to_owned());
        socket.on_any(move |event: &Event| {
            out.report(
                "event",
                &n,
                json!({ "event": event.name(), "args": args_json(event.args()), "ack": event.wants_ack() }),
            );
            if !event.wants_ack() {
                return;
            }
            let reply = replies
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .get(event.name())
                .cloned();
            let _ = match reply {
                Some(Reply::Echo) => event.ack_args(event.args()),
                Some(Reply::Args(values)) => event.ack_args(&Args::from_values(values)),
                None => Ok(()),
            };
        });
    }

    fn listen_manager(&self, name: &str, manager: &Manager) {
        let (out, n) = (self.out.clone(), name.to_owned());
        manager.on_event(move |event| {
            let fields = match event {
                ManagerEvent::Transport(kind) => {
                    out.report("transport", &n, json!({ "name": kind.as_str() }));
                    return;
                }
                ManagerEvent::ReconnectAttempt(attempt) | ManagerEvent::Reconnect(attempt) => {
                    json!({ "attempt": attempt })
                }
                ManagerEvent::Close(reason) => json!({ "reason": reason.as_str() }),
                ManagerEvent::Error(error) | ManagerEvent::ReconnectError(error) => {
                    json!({ "message": error.message })
                }
                _ => json!({}),
            };
            let mut fields = fields;
            fields["event"] = json!(event.name());
            out.report("manager", &n, fields);
        });
    }

    fn emit(&self, command: &Json) -> Result<Option<Json>, String> {
        let entry = self.socket(command)?;
        let event = command["event"].as_str().ok_or("event must be a string")?;
        let args: Vec<Value> = match &command["args"] {
            Json::Null => Vec::new(),
            Json::Array(args) => args.iter().map(to_value).collect::<Result<_, _>>()?,
            _ => return Err("args must be an array".into()),
        };
        let args = Args::from_values(args);
        let mut emitter = entry
            .socket
            .compress(command["compress"].as_bool() != Some(false));
        if command["volatile"].as_bool() == Some(true) {
            emitter = emitter.volatile();
        }
        let timeout = command["timeout"].as_f64().map(|ms| ms as u64);
        if let Some(ms) = timeout {
            emitter = emitter.timeout(Duration::from_millis(ms));
        }
        if command["ack"].as_bool() != Some(true) {
            emitter.emit_args(event, &args).map_err(|e| e.to_string())?;
            return Ok(Some(Json::Null));
        }
        let ack = emitter
            .emit_args_with_ack(event, &args)
            .map_err(|e| e.to_string())?;
        let with_timeout = timeout.or(entry.ack_timeout).is_some();
        let (out, id) = (self.out.clone(), command["id"].clone());
        tokio::spawn(async move {
            match ack.await {
                Ok(args) => out.answer(&id, Ok(json!({ "args": args_json(&args) }))),
                Err(AckError::Timeout) => out.answer(&id, Err("timeout".into())),
                // Without a timeout the official client never calls back on a disconnect.
                Err(AckError::Disconnected) if !with_timeout => {}
                Err(error) => out.answer(&id, Err(error.as_str().into())),
            }
        });
        Ok(None)
    }

    fn reply(&self, command: &Json) -> Result<Json, String> {
        let name = command["socket"].as_str().ok_or("socket must be a name")?;
        let replies = self
            .replies
            .get(name)
            .ok_or_else(|| format!("no socket named {name}"))?;
        let event = command["event"].as_str().ok_or("event must be a string")?;
        let reply = if command["echo"].as_bool() == Some(true) {
            Reply::Echo
        } else {
            let args = command["args"].as_array().ok_or("args must be an array")?;
            Reply::Args(args.iter().map(to_value).collect::<Result<_, _>>()?)
        };
        replies
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(event.to_owned(), reply);
        Ok(Json::Null)
    }

    /// Runs one command; `None` when its answer comes later.
    fn run(&mut self, command: &Json) -> Result<Option<Json>, String> {
        match command["op"].as_str().ok_or("op must be a string")? {
            "socket" => self.create(command).map(Some),
            "connect" => {
                self.socket(command)?.socket.connect();
                Ok(Some(Json::Null))
            }
            "disconnect" => {
                self.socket(command)?.socket.disconnect();
                Ok(Some(Json::Null))
            }
            "emit" => self.emit(command),
            "reply" => self.reply(command).map(Some),
            "state" => {
                let socket = &self.socket(command)?.socket;
                Ok(Some(json!({
                    "connected": socket.connected(),
                    "active": socket.active(),
                    "sid": socket.id(),
                    "recovered": socket.recovered(),
                })))
            }
            other => Err(format!("unknown op {other}")),
        }
    }

    fn close_all(&mut self) {
        for entry in self.sockets.values() {
            entry.socket.disconnect();
        }
    }
}

#[tokio::main]
async fn main() {
    // Logs go to stderr when RUST_LOG asks for them.
    if std::env::var_os("RUST_LOG").is_some() {
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_writer(std::io::stderr)
            .init();
    }
    let out = Out {
        start: Instant::now(),
        lock: Arc::new(Mutex::new(())),
    };
    let mut driver = Driver {
        out: out.clone(),
        sockets: HashMap::new(),
        managers: Vec::new(),
        replies: HashMap::new(),
    };
    let mut lines = tokio::io::BufReader::new(tokio::io::stdin()).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        if line.trim().is_empty() {
            continue;
        }
        let command: Json = match serde_json::from_str(&line) {
            Ok(command @ Json::Object(_)) => command,
            Ok(_) => {
                out.answer(&Json::Null, Err("a command is a JSON object".into()));
                continue;
            }
            Err(error) => {
                out.answer(&Json::Null, Err(format!("not JSON: {error}")));
                continue;
            }
        };
        let id = match &command["id"] {
            id @ Json::Number(_) => id.clone(),
            _ => {
                out.answer(&Json::Null, Err("a command needs an integer id".into()));
                continue;
            }
        };
        if command["op"] == "exit" {
            driver.close_all();
            out.answer(&id, Ok(Json::Null));
            // Let the connections say goodbye.
            tokio::time::sleep(Duration::from_millis(50)).await;
            std::process::exit(0);
        }
        match driver.run(&command) {
            Ok(Some(answer)) => out.answer(&id, Ok(answer)),
            Ok(None) => {}
            Err(error) => out.answer(&id, Err(error)),
        }
    }
    driver.close_all();
    tokio::time::sleep(Duration::from_millis(50)).await;
}
