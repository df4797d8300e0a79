//! What a run measures: a process's CPU split into user and kernel time, its resident
//! memory, and latency percentiles.

use std::time::{Duration, Instant};

/// Clock ticks per second of `/proc/PID/stat` (USER_HZ, 100 on Linux).
const TICKS_PER_SECOND: f64 = 100.0;

/// CPU time of a process so far, in microseconds: (user, kernel).
pub fn cpu_micros(pid: u32) -> (f64, f64) {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let Some(end) = stat.rfind(')') else {
        return (0.0, 0.0);
    };
    let fields: Vec<&str> = stat[end + 2..].split(' ').collect();
    let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok()).unwrap_or(0.0);
    let to_micros = 1e6 / TICKS_PER_SECOND;
    (ticks(11) * to_micros, ticks(12) * to_micros)
}

/// CPU time of several processes so far, summed.
fn total_cpu(pids: &[u32]) -> (f64, f64) {
    pids.iter()
        .map(|&pid| cpu_micros(pid))
        .fold((0.0, 0.0), |(u, k), (du, dk)| (u + du, k + dk))
}

/// Resident memory of a process in KiB.
pub fn rss_kib(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0)
}

/// CPU of the servers (summed) and of this process over a window.
pub struct Window {
    servers: Vec<u32>,
    started: Instant,
    server_cpu: (f64, f64),
    own_cpu: (f64, f64),
}

/// The CPU a window used.
#[derive(Clone, Copy, Debug, Default)]
pub struct Usage {
    pub seconds: f64,
    pub server_user: f64,
    pub server_kernel: f64,
    /// This process's CPU as a share of one core (1.0 = saturated).
    pub loader_share: f64,
}

impl Window {
    pub fn start(servers: &[u32]) -> Window {
        Window {
            servers: servers.to_vec(),
            started: Instant::now(),
            server_cpu: total_cpu(servers),
            own_cpu: cpu_micros(std::process::id()),
        }
    }

    pub fn stop(self) -> Usage {
        let elapsed = self.started.elapsed();
        let server = total_cpu(&self.servers);
        let own = cpu_micros(std::process::id());
        let micros = elapsed.as_secs_f64() * 1e6;
        Usage {
            seconds: elapsed.as_secs_f64(),
            server_user: server.0 - self.server_cpu.0,
            server_kernel: server.1 - self.server_cpu.1,
            loader_share: ((own.0 - self.own_cpu.0) + (own.1 - self.own_cpu.1)) / micros,
        }
    }
}

/// Latencies in microseconds.
#[derive(Default)]
pub struct Latencies(Vec<u32>);

impl Latencies {
    pub fn record(&mut self, elapsed: Duration) {
        self.0.push(u32::try_from(elapsed.as_micros()).unwrap_or(u32::MAX));
    }

    /// The `fraction` percentile, in microseconds.
    pub fn percentile(&mut self, fraction: f64) -> f64 {
        if self.0.is_empty() {
            return 0.0;
        }
        self.0.sort_unstable();
        let index = ((self.0.len() as f64 * fraction).ceil() as usize).clamp(1, self.0.len()) - 1;
        f64::from(self.0[index])
    }
}
