//! The scenarios of shared/bench/CONTRACT.md. Every reply is checked; a scenario counts
//! what was wrong instead of trusting the server.

use std::cell::{Cell, RefCell};
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::rc::Rc;
use std::time::{Duration, Instant};

use tokio::sync::Notify;

use crate::measure::{Latencies, Usage, Window, rss_kib};
use crate::wire::{Frame, Http, SioWs, Ws, bad};

/// What a scenario is given.
#[derive(Clone, Debug)]
pub struct Options {
    pub server: SocketAddr,
    pub pid: u32,
    pub conns: usize,
    pub secs: f64,
    pub warmup: f64,
    pub size: usize,
    pub binary: bool,
    pub receivers: usize,
    /// Loopback source addresses to spread connections over.
    pub addrs: usize,
    /// More servers of the same cluster (address, pid): `fanout` spreads its receivers
    /// over all of them, and CPU is summed over every server.
    pub also: Vec<(SocketAddr, u32)>,
}

impl Options {
    /// Every server's pid.
    fn pids(&self) -> Vec<u32> {
        std::iter::once(self.pid)
            .chain(self.also.iter().map(|(_, pid)| *pid))
            .collect()
    }

    /// The server of receiver `i` (round robin over the cluster).
    fn server_of(&self, i: usize) -> SocketAddr {
        match i % (self.also.len() + 1) {
            0 => self.server,
            n => self.also[n - 1].0,
        }
    }
}

/// What a scenario measured.
#[derive(Clone, Debug, Default)]
pub struct Report {
    /// Operations in the measured window (acks, deliveries, connections).
    pub ops: u64,
    pub usage: Usage,
    pub p50_us: f64,
    pub p99_us: f64,
    pub errors: u64,
    /// First error seen, for the report.
    pub first_error: Option<String>,
    /// Resident memory per held connection, KiB.
    pub kib_per_conn: Option<f64>,
}

impl Report {
    pub fn ops_per_sec(&self) -> f64 {
        self.ops as f64 / self.usage.seconds.max(1e-9)
    }

    pub fn user_us(&self) -> f64 {
        self.usage.server_user / self.ops.max(1) as f64
    }

    pub fn kernel_us(&self) -> f64 {
        self.usage.server_kernel / self.ops.max(1) as f64
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Phase {
    Warmup,
    Measure,
    Stop,
}

/// Shared by the tasks of a run (one thread: `Rc`).
#[derive(Default)]
struct Tally {
    ops: Cell<u64>,
    errors: Cell<u64>,
    first_error: RefCell<Option<String>>,
    latencies: RefCell<Latencies>,
}

impl Tally {
    fn error(&self, what: impl Into<String>) {
        self.errors.set(self.errors.get() + 1);
        let mut first = self.first_error.borrow_mut();
        if first.is_none() {
            *first = Some(what.into());
        }
    }
}

struct Clock {
    phase: Cell<Phase>,
}

impl Clock {
    fn measuring(&self) -> bool {
        self.phase.get() == Phase::Measure
    }

    fn stopped(&self) -> bool {
        self.phase.get() == Phase::Stop
    }
}

/// Runs warmup then the measured window, with the tasks `spawn` started.
async fn timed(opts: &Options, clock: &Rc<Clock>) -> Usage {
    tokio::time::sleep(Duration::from_secs_f64(opts.warmup)).await;
    let window = Window::start(&opts.pids());
    clock.phase.set(Phase::Measure);
    tokio::time::sleep(Duration::from_secs_f64(opts.secs)).await;
    clock.phase.set(Phase::Stop);
    window.stop()
}

fn source(opts: &Options, i: usize) -> Option<IpAddr> {
    (opts.addrs > 1).then(|| IpAddr::V4(Ipv4Addr::new(127, 0, 0, 1 + (i % opts.addrs) as u8)))
}

fn finish(tally: &Tally, usage: Usage) -> Report {
    let mut latencies = tally.latencies.take();
    Report {
        ops: tally.ops.get(),
        usage,
        p50_us: latencies.percentile(0.5),
        p99_us: latencies.percentile(0.99),
        errors: tally.errors.get(),
        first_error: tally.first_error.take(),
        kib_per_conn: None,
    }
}

fn payload(size: usize) -> Vec<u8> {
    (0..size).map(|i| b'a' + (i % 26) as u8).collect()
}

/// What the echo loop of one connection sends and expects.
enum EchoKind {
    /// Socket.IO over WebSocket.
    Sio { binary: bool },
    /// The raw WebSocket floor: the frame comes back as it was.
    Raw,
}

async fn echo_connection(
    mut ws: Ws,
    kind: &EchoKind,
    data: &[u8],
    clock: &Clock,
    tally: &Tally,
) -> io::Result<()> {
    let text = String::from_utf8_lossy(data).into_owned();
    let mut id: u64 = 0;
    let mut sio = SioWsRef(&mut ws);
    while !clock.stopped() {
        id += 1;
        let started = Instant::now();
        let ok = match kind {
            EchoKind::Raw => {
                sio.0.send(&[(false, data)]).await?;
                let frame = sio.0.recv().await?;
                frame.payload == data
            }
            EchoKind::Sio { binary: false } => {
                let packet = format!("42{id}[\"echo\",\"{text}\"]");
                sio.0.send_text(packet.as_bytes()).await?;
                let ack = sio.recv().await?;
                let expected = format!("43{id}[\"{text}\"]");
                ack.payload == expected.as_bytes()
            }
            EchoKind::Sio { binary: true } => {
                let packet = format!("451-{id}[\"echo\",{{\"_placeholder\":true,\"num\":0}}]");
                sio.0.send(&[(false, packet.as_bytes()), (true, data)]).await?;
                let head = sio.recv().await?;
                let attachment = sio.recv().await?;
                let prefix = format!("461-{id}[");
                head.payload.starts_with(prefix.as_bytes())
                    && contains(&head.payload, b"\"_placeholder\":true")
                    && attachment.binary
                    && attachment.payload == data
            }
        };
        if !ok {
            tally.error(format!("echo {id}: unexpected reply"));
        } else if clock.measuring() {
            tally.ops.set(tally.ops.get() + 1);
            tally.latencies.borrow_mut().record(started.elapsed());
        }
    }
    Ok(())
}

/// Socket.IO reading over a borrowed WebSocket (answers Engine.IO pings).
struct SioWsRef<'a>(&'a mut Ws);

impl SioWsRef<'_> {
    async fn recv(&mut self) -> io::Result<Frame> {
        loop {
            let frame = self.0.recv().await?;
            if !frame.binary && frame.payload == b"2" {
                self.0.send_text(b"3").await?;
                continue;
            }
            return Ok(frame);
        }
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// `echo`: closed loops of emit-with-ack over WebSocket (`raw`: plain WebSocket echo).
pub async fn echo(opts: &Options, raw: bool) -> Report {
    let clock = Rc::new(Clock {
        phase: Cell::new(Phase::Warmup),
    });
    let tally = Rc::new(Tally::default());
    let data = Rc::new(payload(opts.size));
    let mut sockets = Vec::new();
    for i in 0..opts.conns {
        let ws = if raw {
            Ws::connect(opts.server, source(opts, i), "/").await
        } else {
            SioWs::connect(opts.server, source(opts, i)).await.map(|s| s.ws)
        };
        match ws {
            Ok(ws) => sockets.push(ws),
            Err(error) => tally.error(format!("connect: {error}")),
        }
    }
    let kind = Rc::new(if raw {
        EchoKind::Raw
    } else {
        EchoKind::Sio {
            binary: opts.binary,
        }
    });
    for ws in sockets {
        let (clock, tally, data, kind) = (clock.clone(), tally.clone(), data.clone(), kind.clone());
        tokio::task::spawn_local(async move {
            if let Err(error) = echo_connection(ws, &kind, &data, &clock, &tally).await
                && !clock.stopped()
            {
                tally.error(format!("connection: {error}"));
            }
        });
    }
    let usage = timed(opts, &clock).await;
    finish(&tally, usage)
}

/// `fanout`: one sender broadcasts, waiting for its ack and for every receiver; counts
/// deliveries (receivers + the sender, which receives its own broadcast).
pub async fn fanout(opts: &Options) -> Report {
    let clock = Rc::new(Clock {
        phase: Cell::new(Phase::Warmup),
    });
    let tally = Rc::new(Tally::default());
    let received = Rc::new(Cell::new(0usize));
    let arrived = Rc::new(Notify::new());
    let width = opts.size.max(8);
    for i in 0..opts.receivers {
        let mut socket = match SioWs::connect(opts.server_of(i), source(opts, i)).await {
            Ok(socket) => socket,
            Err(error) => {
                tally.error(format!("connect: {error}"));
                continue;
            }
        };
        let (clock, tally, received, arrived) =
            (clock.clone(), tally.clone(), received.clone(), arrived.clone());
        tokio::task::spawn_local(async move {
            let mut expected: u64 = 1;
            while !clock.stopped() {
                let Ok(frame) = socket.recv().await else {
                    if !clock.stopped() {
                        tally.error("receiver closed");
                    }
                    return;
                };
                match parse_msg(&frame.payload, width) {
                    Some(seq) if seq == expected => {
                        expected += 1;
                        received.set(received.get() + 1);
                        arrived.notify_one();
                    }
                    _ => tally.error(format!(
                        "receiver: expected msg {expected}, got {}",
                        String::from_utf8_lossy(&frame.payload[..frame.payload.len().min(60)])
                    )),
                }
            }
        });
    }
    let receivers = opts.receivers - tally.errors.get() as usize;
    let sender = async {
        let mut sender = SioWs::connect(opts.server, None).await?;
        let mut seq: u64 = 0;
        while !clock.stopped() {
            seq += 1;
            received.set(0);
            let packet = format!("42{seq}[\"broadcast\",\"{seq:0width$}\"]");
            let started = Instant::now();
            sender.ws.send_text(packet.as_bytes()).await?;
            let (mut acked, mut own) = (false, false);
            while !(acked && own) {
                let frame = sender.recv().await?;
                if frame.payload == format!("43{seq}[]").as_bytes() {
                    acked = true;
                } else if parse_msg(&frame.payload, width) == Some(seq) {
                    own = true;
                } else {
                    tally.error("sender: unexpected packet");
                }
            }
            while received.get() < receivers {
                let notified = arrived.notified();
                if received.get() >= receivers {
                    break;
                }
                if tokio::time::timeout(Duration::from_secs(5), notified).await.is_err() {
                    return Err(bad(format!(
                        "broadcast {seq}: {} of {receivers} receivers in 5 s",
                        received.get()
                    )));
                }
            }
            if clock.measuring() {
                tally.ops.set(tally.ops.get() + receivers as u64 + 1);
                tally.latencies.borrow_mut().record(started.elapsed());
            }
        }
        Ok::<(), io::Error>(())
    };
    let (usage, sent) = tokio::join!(timed(opts, &clock), sender);
    if let Err(error) = sent {
        tally.error(format!("sender: {error}"));
    }
    finish(&tally, usage)
}

/// The sequence number of `42["msg","<seq padded to width>"]`.
fn parse_msg(payload: &[u8], width: usize) -> Option<u64> {
    let rest = payload.strip_prefix(b"42[\"msg\",\"")?;
    let digits = rest.strip_suffix(b"\"]")?;
    if digits.len() != width {
        return None;
    }
    std::str::from_utf8(digits).ok()?.parse().ok()
}

/// `connect`: opens `conns` Socket.IO connections (64 at a time), measuring the server's
/// CPU per connection, then holds them and measures its memory per connection.
pub async fn connect(opts: &Options) -> Report {
    let tally = Rc::new(Tally::default());
    tokio::time::sleep(Duration::from_millis(300)).await;
    let before = rss_kib(opts.pid);
    let window = Window::start(&opts.pids());
    let held = Rc::new(RefCell::new(Vec::with_capacity(opts.conns)));
    let next = Rc::new(Cell::new(0usize));
    let mut workers = Vec::new();
    for _ in 0..64 {
        let (opts, tally, held, next) = (opts.clone(), tally.clone(), held.clone(), next.clone());
        workers.push(tokio::task::spawn_local(async move {
            loop {
                let i = next.get();
                if i >= opts.conns {
                    return;
                }
                next.set(i + 1);
                let started = Instant::now();
                match SioWs::connect(opts.server, source(&opts, i)).await {
                    Ok(socket) => {
                        tally.ops.set(tally.ops.get() + 1);
                        tally.latencies.borrow_mut().record(started.elapsed());
                        held.borrow_mut().push(socket);
                    }
                    Err(error) => tally.error(format!("connect {i}: {error}")),
                }
            }
        }));
    }
    for worker in workers {
        let _ = worker.await;
    }
    let usage = window.stop();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let after = rss_kib(opts.pid);
    let count = held.borrow().len();
    let mut report = finish(&tally, usage);
    report.kib_per_conn = Some((after - before) / count.max(1) as f64);
    drop(held);
    report
}

/// One long-polling client's echo loop: POST the event, GET the ack.
async fn poll_client(
    opts: &Options,
    data: &str,
    clock: &Clock,
    tally: &Tally,
) -> io::Result<()> {
    let mut http = Http::connect(opts.server).await?;
    let open = http.request("GET", "/socket.io/?EIO=4&transport=polling", b"").await?;
    let open = String::from_utf8_lossy(&open).into_owned();
    let sid = open
        .split("\"sid\":\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .ok_or_else(|| bad(format!("no sid in {open}")))?
        .to_owned();
    let path = format!("/socket.io/?EIO=4&transport=polling&sid={sid}");
    http.request("POST", &path, b"40").await?;
    // The CONNECT answer, possibly after a noop or a ping.
    let mut connected = false;
    for _ in 0..5 {
        let body = http.request("GET", &path, b"").await?;
        for packet in body.split(|b| *b == 0x1e) {
            if packet == b"2" {
                http.request("POST", &path, b"3").await?;
            }
            connected |= packet.starts_with(b"40");
        }
        if connected {
            break;
        }
    }
    if !connected {
        return Err(bad("no CONNECT over polling"));
    }
    let mut id: u64 = 0;
    while !clock.stopped() {
        id += 1;
        let started = Instant::now();
        let packet = format!("42{id}[\"echo\",\"{data}\"]");
        http.request("POST", &path, packet.as_bytes()).await?;
        let expected = format!("43{id}[\"{data}\"]");
        let mut acked = false;
        while !acked {
            let body = http.request("GET", &path, b"").await?;
            for packet in body.split(|b| *b == 0x1e) {
                if packet == b"2" {
                    http.request("POST", &path, b"3").await?;
                } else if packet == expected.as_bytes() {
                    acked = true;
                } else {
                    tally.error(format!("poll echo {id}: unexpected {}", String::from_utf8_lossy(packet)));
                    acked = true;
                }
            }
        }
        if clock.measuring() {
            tally.ops.set(tally.ops.get() + 1);
            tally.latencies.borrow_mut().record(started.elapsed());
        }
    }
    Ok(())
}

/// `poll-echo`: echo over long-polling only.
pub async fn poll_echo(opts: &Options) -> Report {
    let clock = Rc::new(Clock {
        phase: Cell::new(Phase::Warmup),
    });
    let tally = Rc::new(Tally::default());
    let data = Rc::new(String::from_utf8(payload(opts.size)).unwrap());
    for _ in 0..opts.conns {
        let (opts, clock, tally, data) = (opts.clone(), clock.clone(), tally.clone(), data.clone());
        tokio::task::spawn_local(async move {
            if let Err(error) = poll_client(&opts, &data, &clock, &tally).await
                && !clock.stopped()
            {
                tally.error(format!("poll client: {error}"));
            }
        });
    }
    let usage = timed(opts, &clock).await;
    finish(&tally, usage)
}
