//! Connection state recovery under churn: official clients whose connections keep breaking
//! receive every broadcast exactly once and in order (tests/interop/socketio/churn.mjs).
//!
//! Sized for CI by default; the environment scales it up for the benchmark
//! (`bench/churn.sh`): `CHURN_CLIENTS` (200), `CHURN_SECONDS` (20), `CHURN_TICK_MS` (10,
//! between broadcasts), `CHURN_CUT_MS` (25, between two broken connections),
//! `CHURN_PROCESSES` (1, Node processes sharing the clients), `CHURN_SELF_CUT_MS` (0: the
//! test's proxy breaks connections; otherwise each client breaks its own about this often,
//! which needs no proxy and so fewer file descriptors than 10 000 clients through one).

mod support;

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use socketio::{ConnectionStateRecovery, SocketIo};
use support::proxy::{Cut, Proxy};

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn now_millis() -> u64 {
    let since_epoch = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    u64::try_from(since_epoch.as_millis()).unwrap()
}

/// The totals of every Node process, delays merged.
#[derive(Debug, Default)]
struct Totals {
    delivered: u64,
    duplicates: u64,
    missing: u64,
    reconnects: u64,
    self_cuts: u64,
    recovered: u64,
    not_recovered: u64,
    sent_seen: u64,
    delays: BTreeMap<u64, u64>,
}

impl Totals {
    fn add(&mut self, summary: &serde_json::Value) {
        let field = |name: &str| {
            summary[name]
                .as_u64()
                .unwrap_or_else(|| panic!("{summary}"))
        };
        self.delivered += field("delivered");
        self.duplicates += field("duplicates");
        self.missing += field("missing");
        self.reconnects += field("reconnects");
        self.self_cuts += field("selfCuts");
        self.recovered += field("recovered");
        self.not_recovered += field("notRecovered");
        self.sent_seen = self.sent_seen.max(field("sent"));
        for (delay, count) in summary["delays"].as_object().unwrap() {
            *self.delays.entry(delay.parse().unwrap()).or_default() += count.as_u64().unwrap();
        }
    }

    /// The delay below which `fraction` of the deliveries arrived, in ms.
    fn percentile(&self, fraction: f64) -> u64 {
        let total: u64 = self.delays.values().sum();
        let wanted = (total as f64 * fraction).ceil() as u64;
        let mut seen = 0;
        for (delay, count) in &self.delays {
            seen += count;
            if seen >= wanted {
                return *delay;
            }
        }
        0
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[allow(
    clippy::print_stdout,
    reason = "the figures are the benchmark's output"
)]
async fn every_broadcast_arrives_once_and_in_order_despite_churn() {
    let clients = env_or("CHURN_CLIENTS", 200);
    let seconds = env_or("CHURN_SECONDS", 20);
    let tick = Duration::from_millis(env_or("CHURN_TICK_MS", 10));
    let cut_every = Duration::from_millis(env_or("CHURN_CUT_MS", 25));
    let processes = env_or("CHURN_PROCESSES", 1).clamp(1, clients);
    let self_cut = env_or("CHURN_SELF_CUT_MS", 0);
    let io = SocketIo::builder()
        .connection_state_recovery(ConnectionStateRecovery::default())
        .build()
        .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let server_url = format!("http://{}", listener.local_addr().unwrap());
    let proxy = Proxy::start(listener.local_addr().unwrap()).await;
    tokio::spawn(socketio::serve(listener, io.clone()).into_future());

    let mut nodes = Vec::new();
    for process in 0..processes {
        let share = clients / processes + u64::from(process < clients % processes);
        let url = if self_cut > 0 {
            server_url.clone()
        } else {
            proxy.url()
        };
        let mut args: Vec<String> = vec![
            "socketio/churn.mjs".into(),
            url,
            share.to_string(),
            (seconds + 120).to_string(),
        ];
        if self_cut > 0 {
            args.extend([self_cut.to_string(), seconds.to_string()]);
        }
        nodes.push(tokio::spawn(async move {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            support::node_within(Duration::from_secs(seconds + 150), &args).await
        }));
    }

    let everyone = io.of("/");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    while everyone.socket_count() < usize::try_from(clients).unwrap() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "only {} clients connected",
            everyone.socket_count()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // The last `CONNECT` answers are on their way.
    tokio::time::sleep(Duration::from_millis(500)).await;

    // Broadcasts on a steady tick while connections break, one in four silently (the
    // server does not notice; the client comes back and takes its session over).
    let churn_end = tokio::time::Instant::now() + Duration::from_secs(seconds);
    let chaos_proxy = proxy.clone();
    let chaos = tokio::spawn(async move {
        let mut cuts = 0usize;
        let mut pace = tokio::time::interval(cut_every);
        while self_cut == 0 && tokio::time::Instant::now() < churn_end {
            pace.tick().await;
            let how = if cuts % 4 == 3 {
                Cut::Silent
            } else {
                Cut::Close
            };
            if chaos_proxy.cut_one(spread(cuts), how) {
                cuts += 1;
            }
        }
        cuts
    });
    let mut sent = 0u64;
    let mut ticker = tokio::time::interval(tick);
    while tokio::time::Instant::now() < churn_end {
        ticker.tick().await;
        sent += 1;
        everyone.emit("tick", &(sent, now_millis())).unwrap();
    }
    let mut cuts = chaos.await.unwrap() as u64;
    everyone.emit("done", &(sent,)).unwrap();

    let mut totals = Totals::default();
    for node in nodes {
        totals.add(&node.await.unwrap());
    }
    cuts += totals.self_cuts;
    let expected = sent * clients;
    println!(
        "churn: {clients} clients, {seconds} s, {cuts} connections cut, {} reconnects \
         ({} recovered, {} not); delivered/sent {}/{expected} = {:.4}, duplicates {}, \
         missing {}; delivery delay p50 {} ms, p99 {} ms, max {} ms",
        totals.reconnects,
        totals.recovered,
        totals.not_recovered,
        totals.delivered,
        totals.delivered as f64 / expected as f64,
        totals.duplicates,
        totals.missing,
        totals.percentile(0.5),
        totals.percentile(0.99),
        totals.delays.keys().last().copied().unwrap_or(0),
    );
    assert_eq!(totals.sent_seen, sent);
    assert_eq!(totals.duplicates, 0, "{totals:?}");
    assert_eq!(totals.missing, 0, "{totals:?}");
    assert_eq!(totals.delivered, expected, "{totals:?}");
    assert_eq!(totals.not_recovered, 0, "{totals:?}");
    assert!(totals.recovered > 0, "{totals:?}");
}

/// Picks connections all over the list without a random number generator.
fn spread(n: usize) -> usize {
    n.wrapping_mul(2_654_435_761) >> 7
}
