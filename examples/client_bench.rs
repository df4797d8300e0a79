//! The client benchmark of `bench/clients/README.md` on this project's client: the same
//! command line and JSON report as the official client's and `rust_socketio`'s programs.
//! `bench/client.sh` runs the three side by side.

use std::io::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use sio_client::{Socket, Transport};
use tokio::sync::Notify;

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
        clients: get("clients").map_or(default_clients, |n| n.parse().expect("--clients N")),
        secs: get("secs").map_or(5, |n| n.parse().expect("--secs N")),
        warmup: get("warmup").map_or(1, |n| n.parse().expect("--warmup N")),
    }
}

/// User and system CPU of this process, in microseconds (from `/proc/self/stat`, in
/// clock ticks of 10 ms: the windows are seconds long).
fn cpu() -> (u64, u64) {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // The fields after the command name, which is in parentheses and may hold spaces.
    let rest = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<u64> = rest
        .split_whitespace()
        .skip(1)
        .map(|f| f.parse().unwrap_or(0))
        .collect();
    let tick = 10_000;
    (
        fields.get(10).copied().unwrap_or(0) * tick,
        fields.get(11).copied().unwrap_or(0) * tick,
    )
}

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

fn print(line: serde_json::Value) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
}

async fn connect(url: &str) -> Socket {
    let connected = Arc::new(Notify::new());
    let notify = connected.clone();
    let socket = sio_client::io(url)
        .transports(vec![Transport::WebSocket])
        .force_new(true)
        .reconnection(false)
        .on_connect(move |_| notify.notify_one())
        .on_connect_error(|_, error| panic!("connect_error: {error}"))
        .connect()
        .expect("a valid URL");
    connected.notified().await;
    socket
}

async fn connect_all(url: &str, n: usize) -> Vec<Socket> {
    let mut sockets = Vec::with_capacity(n);
    for start in (0..n).step_by(100) {
        let mut batch = tokio::task::JoinSet::new();
        for _ in start..n.min(start + 100) {
            let url = url.to_owned();
            batch.spawn(async move { connect(&url).await });
        }
        while let Some(socket) = batch.join_next().await {
            sockets.push(socket.expect("connected"));
        }
    }
    sockets
}

fn report(ops: u64, started: Instant, before: (u64, u64)) {
    let after = cpu();
    print(serde_json::json!({
        "ops": ops,
        "secs": started.elapsed().as_secs_f64(),
        "user_us": after.0 - before.0,
        "sys_us": after.1 - before.1,
    }));
}

async fn ack(o: Options) {
    let sockets = connect_all(&o.url, o.clients).await;
    let count = Arc::new(AtomicU64::new(0));
    let running = Arc::new(AtomicBool::new(true));
    let mut loops = Vec::new();
    for socket in sockets {
        let (count, running) = (count.clone(), running.clone());
        loops.push(tokio::spawn(async move {
            while running.load(Ordering::Relaxed) {
                let answer = socket
                    .emit_with_ack("echo", PAYLOAD)
                    .unwrap()
                    .await
                    .unwrap();
                let (text,): (String,) = answer.deserialize().unwrap();
                assert_eq!(text, PAYLOAD);
                count.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    tokio::time::sleep(Duration::from_secs(o.warmup)).await;
    let (start_count, before, started) = (count.load(Ordering::Relaxed), cpu(), Instant::now());
    tokio::time::sleep(Duration::from_secs(o.secs)).await;
    report(count.load(Ordering::Relaxed) - start_count, started, before);
    running.store(false, Ordering::Relaxed);
    for handle in loops {
        let _ = handle.await;
    }
}

async fn receive(o: Options) {
    let receivers = connect_all(&o.url, o.clients).await;
    let sender = connect(&o.url).await;
    let received = Arc::new(AtomicU64::new(0));
    let target = Arc::new(AtomicU64::new(u64::MAX));
    let all_in = Arc::new(Notify::new());
    for socket in &receivers {
        let (received, target, all_in) = (received.clone(), target.clone(), all_in.clone());
        socket.on("msg", move |event| {
            let (text,): (String,) = event.deserialize().unwrap();
            assert_eq!(text, PAYLOAD);
            if received.fetch_add(1, Ordering::Relaxed) + 1 == target.load(Ordering::Relaxed) {
                all_in.notify_one();
            }
        });
    }
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
        sender
            .emit_with_ack("broadcast", PAYLOAD)
            .unwrap()
            .await
            .unwrap();
        arrived.await;
    }
    let (from, before, started) = window.expect("a measured window");
    report(received.load(Ordering::Relaxed) - from, started, before);
}

async fn idle(o: Options) {
    tokio::time::sleep(Duration::from_millis(200)).await;
    let before = rss_kib();
    let started = Instant::now();
    let sockets = connect_all(&o.url, o.clients).await;
    let connect_secs = started.elapsed().as_secs_f64();
    tokio::time::sleep(Duration::from_secs(1)).await;
    print(serde_json::json!({
        "clients": sockets.len(),
        "connect_secs": connect_secs,
        "rss_before_kib": before,
        "rss_after_kib": rss_kib(),
    }));
}

fn main() {
    let scenario = std::env::args().nth(1).unwrap_or_default();
    // One thread, as the official client has: the figures are per core.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(async {
        match scenario.as_str() {
            "ack" => ack(options(50)).await,
            "receive" => receive(options(1000)).await,
            "idle" => idle(options(10_000)).await,
            other => panic!("unknown scenario {other:?}: ack | receive | idle"),
        }
    });
}
