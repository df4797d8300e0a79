//! sio-load: the benchmark suite's load generator and runner (bench/README.md).
//!
//! ```text
//! sio-load <scenario> --port P --pid PID [options]      one run against a running server
//! sio-load suite <scenario> [--rounds N] [--servers a,b,c] [options]
//!                                                      every server, interleaved rounds
//! scenarios: echo | fanout | connect | poll-echo
//! options:   --conns N --secs S --warmup S --size BYTES --binary --receivers N --addrs N
//!            --also PORT:PID (fanout: another server of the same cluster; repeatable)
//! servers:   ours, socketioxide, node, floor (a raw WebSocket echo on our crate; echo only)
//! ```
//! A single-threaded tokio runtime: pin it to one core (`taskset -c 1`) and the servers to
//! the other (`suite` does that for them with `taskset -c 0`).

mod measure;
mod scenarios;
mod wire;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use scenarios::{Options, Report};

fn usage() -> ! {
    eprintln!("{}", include_str!("main.rs").lines().skip(3).take(9).collect::<Vec<_>>().join("\n"));
    std::process::exit(2);
}

struct Args {
    scenario: String,
    opts: Options,
    rounds: usize,
    servers: Vec<String>,
    suite: bool,
    port: u16,
}

fn parse() -> Args {
    let mut args = std::env::args().skip(1).peekable();
    let mut suite = false;
    let mut scenario = args.next().unwrap_or_else(|| usage());
    if scenario == "suite" {
        suite = true;
        scenario = args.next().unwrap_or_else(|| usage());
    }
    let mut parsed = Args {
        scenario,
        opts: Options {
            server: SocketAddr::from(([127, 0, 0, 1], 3000)),
            pid: 0,
            conns: 50,
            secs: 8.0,
            warmup: 2.0,
            size: 64,
            binary: false,
            receivers: 1000,
            addrs: 1,
            also: Vec::new(),
        },
        rounds: 3,
        servers: vec!["ours".into(), "socketioxide".into(), "node".into()],
        suite,
        port: 3999,
    };
    while let Some(flag) = args.next() {
        let mut value = || args.next().unwrap_or_else(|| usage());
        match flag.as_str() {
            "--port" => parsed.port = value().parse().unwrap_or_else(|_| usage()),
            "--pid" => parsed.opts.pid = value().parse().unwrap_or_else(|_| usage()),
            "--conns" => parsed.opts.conns = value().parse().unwrap_or_else(|_| usage()),
            "--secs" => parsed.opts.secs = value().parse().unwrap_or_else(|_| usage()),
            "--warmup" => parsed.opts.warmup = value().parse().unwrap_or_else(|_| usage()),
            "--size" => parsed.opts.size = value().parse().unwrap_or_else(|_| usage()),
            "--receivers" => parsed.opts.receivers = value().parse().unwrap_or_else(|_| usage()),
            "--addrs" => parsed.opts.addrs = value().parse().unwrap_or_else(|_| usage()),
            "--rounds" => parsed.rounds = value().parse().unwrap_or_else(|_| usage()),
            "--servers" => parsed.servers = value().split(',').map(str::to_owned).collect(),
            "--binary" => parsed.opts.binary = true,
            "--also" => {
                let value = value();
                let (port, pid) = value.split_once(':').unwrap_or_else(|| usage());
                let port: u16 = port.parse().unwrap_or_else(|_| usage());
                let pid = pid.parse().unwrap_or_else(|_| usage());
                parsed.opts.also.push((SocketAddr::from(([127, 0, 0, 1], port)), pid));
            }
            _ => usage(),
        }
    }
    parsed.opts.server = SocketAddr::from(([127, 0, 0, 1], parsed.port));
    parsed
}

async fn run(scenario: &str, opts: &Options, raw: bool) -> Report {
    match scenario {
        "echo" => scenarios::echo(opts, raw).await,
        "fanout" => scenarios::fanout(opts).await,
        "connect" => scenarios::connect(opts).await,
        "poll-echo" => scenarios::poll_echo(opts).await,
        _ => usage(),
    }
}

fn line(name: &str, report: &Report) -> String {
    let mut text = format!(
        "{name:<13} {:>9.0} ops/s  server user {:>5.2} + kernel {:>5.2} = {:>5.2} µs/op  p50 {:>6.0} µs  p99 {:>6.0} µs  loader {:>3.0}%",
        report.ops_per_sec(),
        report.user_us(),
        report.kernel_us(),
        report.user_us() + report.kernel_us(),
        report.p50_us,
        report.p99_us,
        report.usage.loader_share * 100.0,
    );
    if let Some(kib) = report.kib_per_conn {
        text.push_str(&format!("  {kib:.2} KB/conn"));
    }
    if report.usage.loader_share > 0.9 {
        text.push_str("  [loader saturated: compare CPU per op, not ops/s]");
    }
    if report.errors > 0 {
        text.push_str(&format!(
            "  ERRORS {} (first: {})",
            report.errors,
            report.first_error.as_deref().unwrap_or("?")
        ));
    }
    text
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The command that starts a server on `port`.
fn command(server: &str, port: u16) -> Option<(String, Vec<String>)> {
    let root = root();
    let path = |p: &str| root.join(p).to_string_lossy().into_owned();
    Some(match server {
        "ours" => (path("target/release/examples/bench_server"), vec![]),
        "socketioxide" => (
            path("bench/peers/socketioxide/target/release/socketioxide-server"),
            vec![],
        ),
        "node" => ("node".into(), vec![path("bench/peers/node/server.mjs")]),
        "floor" => (
            path("bench/ws-crates/target/release/ws-echo"),
            vec!["ours".into(), port.to_string()],
        ),
        _ => return None,
    })
}

async fn start(server: &str, port: u16) -> tokio::process::Child {
    let (program, args) = command(server, port).unwrap_or_else(|| usage());
    let child = tokio::process::Command::new("taskset")
        .args(["-c", "0", &program])
        .args(&args)
        .env("PORT", port.to_string())
        .env("WORKERS", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {server} ({program}): {e}"));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_err() {
        assert!(tokio::time::Instant::now() < deadline, "{server} did not listen on {port}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    child
}

async fn stop(mut child: tokio::process::Child) {
    if let Some(pid) = child.id() {
        let _ = tokio::process::Command::new("kill").arg(pid.to_string()).status().await;
    }
    if tokio::time::timeout(Duration::from_secs(5), child.wait()).await.is_err() {
        let _ = child.kill().await;
    }
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or(0.0)
}

fn summary(scenario: &str, results: &[(String, Vec<Report>)]) {
    println!("\n{scenario}: medians of {} rounds (spread of the total in brackets)", results[0].1.len());
    let stat = |reports: &[Report], f: &dyn Fn(&Report) -> f64| {
        let mut values: Vec<f64> = reports.iter().map(f).collect();
        let med = median(&mut values);
        (med, values[0], values[values.len() - 1])
    };
    let total = |r: &Report| r.user_us() + r.kernel_us();
    let reference = results
        .iter()
        .find(|(name, _)| name == "socketioxide")
        .map(|(_, reports)| stat(reports, &total).0);
    let floor = results
        .iter()
        .find(|(name, _)| name == "floor")
        .map(|(_, reports)| stat(reports, &|r| r.ops_per_sec()).0);
    for (name, reports) in results {
        let (t, lo, hi) = stat(reports, &total);
        let mut text = format!(
            "  {name:<13} user {:>5.2} µs  kernel {:>5.2} µs  total {t:>5.2} µs [{lo:.2}–{hi:.2}]  {:>9.0} ops/s  p99 {:>6.0} µs",
            stat(reports, &|r| r.user_us()).0,
            stat(reports, &|r| r.kernel_us()).0,
            stat(reports, &|r| r.ops_per_sec()).0,
            stat(reports, &|r| r.p99_us).0,
        );
        if reports.iter().any(|r| r.kib_per_conn.is_some()) {
            text.push_str(&format!(
                "  {:.2} KB/conn",
                stat(reports, &|r| r.kib_per_conn.unwrap_or(0.0)).0
            ));
        }
        if let Some(reference) = reference
            && name != "socketioxide"
            && name != "floor"
        {
            text.push_str(&format!("  total ×{:.2} socketioxide", t / reference));
        }
        if let Some(floor) = floor
            && name != "floor"
        {
            let ops = stat(reports, &|r| r.ops_per_sec()).0;
            text.push_str(&format!("  throughput {:.0}% of floor", 100.0 * ops / floor));
        }
        let errors: u64 = reports.iter().map(|r| r.errors).sum();
        if errors > 0 {
            text.push_str(&format!("  ERRORS {errors}"));
        }
        println!("{text}");
    }
}

fn main() {
    let args = parse();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let local = tokio::task::LocalSet::new();
    local.block_on(&runtime, async move {
        if !args.suite {
            if args.opts.pid == 0 {
                usage();
            }
            let report = run(&args.scenario, &args.opts, false).await;
            println!("{}", line(&args.scenario, &report));
            if report.errors > 0 {
                std::process::exit(1);
            }
            return;
        }
        let mut results: Vec<(String, Vec<Report>)> =
            args.servers.iter().map(|s| (s.clone(), Vec::new())).collect();
        let mut failed = false;
        for round in 1..=args.rounds {
            for (server, reports) in &mut results {
                let child = start(server, args.port).await;
                let mut opts = args.opts.clone();
                opts.pid = child.id().unwrap_or(0);
                let report = tokio::task::LocalSet::new()
                    .run_until(run(&args.scenario, &opts, server == "floor"))
                    .await;
                println!("round {round} {}", line(server, &report));
                failed |= report.errors > 0;
                reports.push(report);
                stop(child).await;
                tokio::time::sleep(Duration::from_millis(300)).await;
            }
        }
        summary(&args.scenario, &results);
        if failed {
            std::process::exit(1);
        }
    });
}
