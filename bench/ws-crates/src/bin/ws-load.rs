//! Load for ws-echo: a lean WebSocket client on raw TCP, one core.
//!
//!   ws-load echo <port> <server-pid> <conns> <secs> <size> [binary]
//!   ws-load hold <port> <server-pid> <conns>
//!
//! Prints messages/s, latency percentiles, and server CPU per message split into user and
//! kernel time (from /proc/<pid>/stat), plus resident memory per held connection.

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const MASK: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

fn cpu_ticks(pid: &str) -> (u64, u64) {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let after = &stat[stat.rfind(')').unwrap() + 2..];
    let fields: Vec<&str> = after.split(' ').collect();
    (fields[11].parse().unwrap(), fields[12].parse().unwrap())
}

fn rss_kb(pid: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

fn frame(payload: &[u8], binary: bool) -> Vec<u8> {
    let mut out = vec![if binary { 0x82 } else { 0x81 }];
    if payload.len() < 126 {
        out.push(0x80 | payload.len() as u8);
    } else {
        out.push(0x80 | 126);
        out.extend_from_slice(&(payload.len() as u16).to_be_bytes());
    }
    out.extend_from_slice(&MASK);
    out.extend(payload.iter().enumerate().map(|(i, b)| b ^ MASK[i % 4]));
    out
}

async fn connect(port: u16) -> TcpStream {
    connect_path(port, "/").await
}

async fn connect_path(port: u16, path: &str) -> TcpStream {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    stream.set_nodelay(true).unwrap();
    stream
        .write_all(
            format!(
                "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
                 Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
            )
            .as_bytes(),
        )
        .await
        .unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        stream.read_exact(&mut byte).await.unwrap();
        head.push(byte[0]);
    }
    assert!(head.starts_with(b"HTTP/1.1 101"), "{}", String::from_utf8_lossy(&head));
    stream
}

/// Reads one unmasked server frame's payload.
async fn read_frame(stream: &mut TcpStream) -> Vec<u8> {
    let mut head = [0u8; 2];
    stream.read_exact(&mut head).await.unwrap();
    let mut len = (head[1] & 0x7f) as usize;
    if len == 126 {
        let mut ext = [0u8; 2];
        stream.read_exact(&mut ext).await.unwrap();
        len = u16::from_be_bytes(ext) as usize;
    } else if len == 127 {
        let mut ext = [0u8; 8];
        stream.read_exact(&mut ext).await.unwrap();
        len = u64::from_be_bytes(ext) as usize;
    }
    let mut payload = vec![0u8; len];
    stream.read_exact(&mut payload).await.unwrap();
    payload
}

/// A Socket.IO client joined to `/` over WebSocket.
async fn socketio(port: u16) -> TcpStream {
    let mut stream = connect_path(port, "/socket.io/?EIO=4&transport=websocket").await;
    assert!(read_frame(&mut stream).await.starts_with(b"0"));
    stream.write_all(&frame(b"40", false)).await.unwrap();
    assert!(read_frame(&mut stream).await.starts_with(b"40"));
    stream
}

async fn echo_once(stream: &mut TcpStream, out: &[u8], expect: &mut [u8]) {
    stream.write_all(out).await.unwrap();
    stream.read_exact(expect).await.unwrap();
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let port: u16 = args[1].parse().unwrap();
    let pid = args[2].clone();
    match args[0].as_str() {
        "echo" => {
            let conns: usize = args[3].parse().unwrap();
            let secs: u64 = args[4].parse().unwrap();
            let size: usize = args[5].parse().unwrap();
            let binary = args.get(6).is_some_and(|a| a == "binary");
            rt.block_on(async move {
                let payload = vec![b'x'; size];
                let out = frame(&payload, binary);
                let reply_len = size + if size < 126 { 2 } else { 4 };
                let mut streams = Vec::new();
                for _ in 0..conns {
                    streams.push(connect(port).await);
                }
                // Warm up, then measure.
                let deadline = Instant::now() + Duration::from_secs(secs);
                let warm = Instant::now() + Duration::from_secs(1);
                let mut tasks = Vec::new();
                let mut start_cpu = None;
                for mut stream in streams {
                    let out = out.clone();
                    let payload = payload.clone();
                    tasks.push(tokio::spawn(async move {
                        let mut reply = vec![0u8; reply_len];
                        let mut latencies = Vec::new();
                        while Instant::now() < warm {
                            echo_once(&mut stream, &out, &mut reply).await;
                        }
                        while Instant::now() < deadline {
                            let t = Instant::now();
                            echo_once(&mut stream, &out, &mut reply).await;
                            latencies.push(t.elapsed().as_micros() as u32);
                        }
                        assert_eq!(&reply[reply_len - size..], &payload[..]);
                        latencies
                    }));
                }
                tokio::time::sleep_until((warm + Duration::from_millis(5)).into()).await;
                start_cpu.get_or_insert((cpu_ticks(&pid), cpu_ticks("self"), Instant::now()));
                let mut all = Vec::new();
                for task in tasks {
                    all.extend(task.await.unwrap());
                }
                let (s0, l0, t0) = start_cpu.unwrap();
                let (s1, l1) = (cpu_ticks(&pid), cpu_ticks("self"));
                let elapsed = t0.elapsed().as_secs_f64();
                all.sort_unstable();
                let n = all.len() as f64;
                let tick_us = 1e6 / 100.0;
                let user = (s1.0 - s0.0) as f64 * tick_us / n;
                let kernel = (s1.1 - s0.1) as f64 * tick_us / n;
                let loader = ((l1.0 + l1.1) - (l0.0 + l0.1)) as f64 / 100.0 / elapsed * 100.0;
                let pct = |p: f64| all[((n * p) as usize).min(all.len() - 1)];
                println!(
                    "msgs/s {:.0}  p50 {}us p99 {}us p999 {}us  server cpu/msg {:.2}us (user {:.2} + kernel {:.2})  loader cpu {:.0}%",
                    n / elapsed, pct(0.5), pct(0.99), pct(0.999), user + kernel, user, kernel, loader
                );
            });
        }
        // Socket.IO echo with ack, a 64-byte string argument: `42N["echo","…"]`.
        "sio-echo" => {
            let conns: usize = args[3].parse().unwrap();
            let secs: u64 = args[4].parse().unwrap();
            rt.block_on(async move {
                let mut streams = Vec::new();
                for _ in 0..conns {
                    streams.push(socketio(port).await);
                }
                let warm = Instant::now() + Duration::from_secs(1);
                let deadline = warm + Duration::from_secs(secs);
                let mut tasks = Vec::new();
                for mut stream in streams {
                    tasks.push(tokio::spawn(async move {
                        let text = "x".repeat(64);
                        let mut latencies = Vec::new();
                        let mut id: u64 = 0;
                        loop {
                            let now = Instant::now();
                            if now >= deadline {
                                break;
                            }
                            id += 1;
                            let packet = format!(r#"42{id}["echo","{text}"]"#);
                            stream.write_all(&frame(packet.as_bytes(), false)).await.unwrap();
                            let expect = format!(r#"43{id}["{text}"]"#);
                            loop {
                                let reply = read_frame(&mut stream).await;
                                if reply == expect.as_bytes() {
                                    break;
                                }
                                assert!(reply == b"2", "unexpected {:?}", String::from_utf8_lossy(&reply));
                                stream.write_all(&frame(b"3", false)).await.unwrap();
                            }
                            if now >= warm {
                                latencies.push(now.elapsed().as_micros() as u32);
                            }
                        }
                        latencies
                    }));
                }
                tokio::time::sleep_until(warm.into()).await;
                let (s0, l0, t0) = (cpu_ticks(&pid), cpu_ticks("self"), Instant::now());
                let mut all = Vec::new();
                for task in tasks {
                    all.extend(task.await.unwrap());
                }
                let (s1, l1) = (cpu_ticks(&pid), cpu_ticks("self"));
                let elapsed = t0.elapsed().as_secs_f64();
                all.sort_unstable();
                let n = all.len() as f64;
                let tick_us = 1e6 / 100.0;
                let user = (s1.0 - s0.0) as f64 * tick_us / n;
                let kernel = (s1.1 - s0.1) as f64 * tick_us / n;
                let loader = ((l1.0 + l1.1) - (l0.0 + l0.1)) as f64 / elapsed;
                let pct = |p: f64| all[((n * p) as usize).min(all.len() - 1)];
                println!(
                    "acks/s {:.0}  p50 {}us p99 {}us  server cpu/ack {:.2}us (user {:.2} + kernel {:.2})  loader cpu {:.0}%",
                    n / elapsed, pct(0.5), pct(0.99), user + kernel, user, kernel, loader
                );
            });
        }
        "hold" => {
            let conns: usize = args[3].parse().unwrap();
            rt.block_on(async move {
                let before = rss_kb(&pid);
                let out = frame(b"hello", false);
                let mut streams = Vec::new();
                for _ in 0..conns {
                    let mut stream = connect(port).await;
                    let mut reply = [0u8; 7];
                    echo_once(&mut stream, &out, &mut reply).await;
                    streams.push(stream);
                }
                tokio::time::sleep(Duration::from_secs(2)).await;
                let after = rss_kb(&pid);
                println!(
                    "held {conns}: server RSS {before} KB -> {after} KB, {:.2} KB per connection",
                    (after - before) as f64 / conns as f64
                );
                drop(streams);
            });
        }
        other => panic!("unknown mode {other}"),
    }
}
