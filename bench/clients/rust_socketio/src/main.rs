//! The client benchmark of bench/clients/README.md on rust_socketio 0.6 (its async
//! client): the same command line and JSON report as the other clients' programs.

use std::io::Write as _;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::FutureExt;
use rust_socketio::asynchronous::{Client, ClientBuilder};
use rust_socketio::{Payload, TransportType};
use serde_json::json;
use tokio::sync::{mpsc, Notify};

const PAYLOAD: &str = "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx";

struct Options {
    url: String,
    clients: usize,
    secs: u64,
    warmup: u64,
}

fn options(default_clients: usize) -> Options {
    let args: Vec<String> = std::env::args().skip(2).collect();
    let get = |name: &str| {
        args.iter()
            .position(|a| a == &format!("--{name}"))
            .and_then(|i| args.get(i + 1).cloned())
    };
    Options {
        url: get("url").unwrap_or_else(|| "http://127.0.0.1:3000".into()),
        clients: get("clients").map_or(default_clients, |n| n.parse().unwrap()),
        secs: get("secs").map_or(5, |n| n.parse().unwrap()),
        warmup: get("warmup").map_or(1, |n| n.parse().unwrap()),
    }
}

/// User and system CPU in microseconds, from /proc/self/stat (clock ticks of 10 ms).
fn cpu() -> (u64, u64) {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let rest = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<u64> = rest
        .split_whitespace()
        .skip(1)
        .map(|f| f.parse().unwrap_or(0))
        .collect();
    (fields[10] * 10_000, fields[11] * 10_000)
}

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

/// Whether `payload` is the benchmark's payload: an event's first argument, or an ack's
/// (which rust_socketio hands over as one array of the arguments).
fn is_payload(payload: &Payload) -> bool {
    match payload {
        Payload::Text(values) => {
            values.first() == Some(&json!(PAYLOAD)) || values.first() == Some(&json!([PAYLOAD]))
        }
        _ => false,
    }
}

fn report(ops: u64, started: Instant, before: (u64, u64)) {
    let after = cpu();
    let line = json!({
        "ops": ops,
        "secs": started.elapsed().as_secs_f64(),
        "user_us": after.0 - before.0,
        "sys_us": after.1 - before.1,
    });
    let _ = writeln!(std::io::stdout(), "{line}");
}

/// Connects and waits for the namespace's CONNECT (rust_socketio's `connect` returns
/// before it: a broadcast sent at once would miss the socket).
async fn connect(url: &str, on_msg: Option<Arc<dyn Fn() + Send + Sync>>) -> Client {
    let connected = Arc::new(Notify::new());
    let notify = connected.clone();
    let mut builder = ClientBuilder::new(url)
        .transport_type(TransportType::Websocket)
        .on(rust_socketio::Event::Connect, move |_payload: Payload, _client: Client| {
            notify.notify_one();
            async {}.boxed()
        });
    if let Some(on_msg) = on_msg {
        builder = builder.on("msg", move |payload: Payload, _client: Client| {
            assert!(is_payload(&payload), "bad msg {payload:?}");
            on_msg();
            async {}.boxed()
        });
    }
    let client = builder.connect().await.expect("connects");
    connected.notified().await;
    client
}

async fn connect_all(url: &str, n: usize, on_msg: Option<Arc<dyn Fn() + Send + Sync>>) -> Vec<Client> {
    let mut clients = Vec::with_capacity(n);
    for start in (0..n).step_by(100) {
        let mut batch = tokio::task::JoinSet::new();
        for _ in start..n.min(start + 100) {
            let (url, on_msg) = (url.to_owned(), on_msg.clone());
            batch.spawn(async move { connect(&url, on_msg).await });
        }
        while let Some(client) = batch.join_next().await {
            clients.push(client.unwrap());
        }
    }
    clients
}

/// Emits with an ack and waits for it (rust_socketio takes a callback).
async fn emit_with_ack(client: &Client, event: &str, answers: &mut mpsc::UnboundedReceiver<Payload>, sender: &mpsc::UnboundedSender<Payload>) -> Payload {
    let sender = sender.clone();
    client
        .emit_with_ack(event, json!(PAYLOAD), Duration::from_secs(10), move |payload: Payload, _| {
            let _ = sender.send(payload);
            async {}.boxed()
        })
        .await
        .expect("emits");
    answers.recv().await.expect("an ack")
}

async fn ack(o: Options) {
    let clients = connect_all(&o.url, o.clients, None).await;
    let count = Arc::new(AtomicU64::new(0));
    let running = Arc::new(AtomicBool::new(true));
    let mut loops = Vec::new();
    for client in clients {
        let (count, running) = (count.clone(), running.clone());
        loops.push(tokio::spawn(async move {
            let (sender, mut answers) = mpsc::unbounded_channel();
            while running.load(Ordering::Relaxed) {
                let answer = emit_with_ack(&client, "echo", &mut answers, &sender).await;
                assert!(is_payload(&answer), "bad echo {answer:?}");
                count.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    tokio::time::sleep(Duration::from_secs(o.warmup)).await;
    let (from, before, started) = (count.load(Ordering::Relaxed), cpu(), Instant::now());
    tokio::time::sleep(Duration::from_secs(o.secs)).await;
    report(count.load(Ordering::Relaxed) - from, started, before);
    running.store(false, Ordering::Relaxed);
    for handle in loops {
        let _ = handle.await;
    }
}

async fn receive(o: Options) {
    let received = Arc::new(AtomicU64::new(0));
    let target = Arc::new(AtomicU64::new(u64::MAX));
    let all_in = Arc::new(Notify::new());
    let on_msg: Arc<dyn Fn() + Send + Sync> = {
        let (received, target, all_in) = (received.clone(), target.clone(), all_in.clone());
        Arc::new(move || {
            if received.fetch_add(1, Ordering::Relaxed) + 1 == target.load(Ordering::Relaxed) {
                all_in.notify_one();
            }
        })
    };
    let _receivers = connect_all(&o.url, o.clients, Some(on_msg)).await;
    let sender_client = connect(&o.url, None).await;
    let (sender, mut answers) = mpsc::unbounded_channel();
    let n = o.clients as u64;
    let end = Instant::now() + Duration::from_secs(o.warmup + o.secs);
    let measure_from = Instant::now() + Duration::from_secs(o.warmup);
    let mut window = None;
    while Instant::now() < end {
        if window.is_none() && Instant::now() >= measure_from {
            window = Some((received.load(Ordering::Relaxed), cpu(), Instant::now()));
        }
        target.store(received.load(Ordering::Relaxed) + n, Ordering::Relaxed);
        let arrived = all_in.notified();
        emit_with_ack(&sender_client, "broadcast", &mut answers, &sender).await;
        arrived.await;
    }
    let (from, before, started) = window.unwrap();
    report(received.load(Ordering::Relaxed) - from, started, before);
}

async fn idle(o: Options) {
    tokio::time::sleep(Duration::from_millis(200)).await;
    let before = rss_kib();
    let started = Instant::now();
    let clients = connect_all(&o.url, o.clients, None).await;
    let connect_secs = started.elapsed().as_secs_f64();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let line = json!({
        "clients": clients.len(),
        "connect_secs": connect_secs,
        "rss_before_kib": before,
        "rss_after_kib": rss_kib(),
    });
    let _ = writeln!(std::io::stdout(), "{line}");
}

fn main() {
    let scenario = std::env::args().nth(1).unwrap_or_default();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        match scenario.as_str() {
            "ack" => ack(options(50)).await,
            "receive" => receive(options(1000)).await,
            "idle" => idle(options(10_000)).await,
            other => panic!("unknown scenario {other:?}"),
        }
    });
}
