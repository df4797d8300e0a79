//! Clusters on Redis for the adapter tests: our `cluster_node` example and the Node node
//! of `tests/interop/cluster/node.mjs` (official adapters), started as separate
//! processes on free ports, and private Redis servers that a test may stop and start.

use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::process::{Child, Command};

use super::client::example;
use super::interop_dir;

/// The Redis every test shares (the test script starts one when none answers).
pub const REDIS_URL: &str = "redis://127.0.0.1:6379";

/// A key no other run uses, so parallel tests and runs do not hear each other.
pub fn unique_key(test: &str) -> String {
    format!("sio-test-{test}-{:x}", rand::random::<u32>())
}

/// A port nobody listens on (the kernel's pick, released at once).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port()
}

/// Which implementation a node runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// `examples/cluster_node.rs`.
    Rust,
    /// `tests/interop/cluster/node.mjs` with the official packages.
    Node,
}

/// A running cluster node; killed when dropped.
pub struct ClusterNode {
    _child: Child,
    pub name: String,
    pub url: String,
}

/// Starts a node and waits until it answers a polling handshake.
pub async fn start_node(
    kind: Kind,
    name: &str,
    adapter: &str,
    key: &str,
    redis: &str,
) -> ClusterNode {
    let port = free_port();
    let mut command = match kind {
        Kind::Rust => Command::new(example("cluster_node")),
        Kind::Node => {
            let mut command = Command::new("node");
            command
                .arg(interop_dir().join("cluster/node.mjs"))
                .current_dir(interop_dir());
            command
        }
    };
    let child = command
        .env("PORT", port.to_string())
        .env("NODE_NAME", name)
        .env("ADAPTER", adapter)
        .env("KEY", key)
        .env("REDIS_URL", redis)
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .expect("the cluster node starts");
    let node = ClusterNode {
        _child: child,
        name: name.to_owned(),
        url: format!("http://127.0.0.1:{port}"),
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while !answers_handshake(port).await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{name} ({kind:?}, {adapter}) did not come up"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    node
}

/// Whether `GET /socket.io/?EIO=4&transport=polling` answers 200.
async fn answers_handshake(port: u16) -> bool {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)).await else {
        return false;
    };
    let request =
        "GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    if stream.write_all(request.as_bytes()).await.is_err() {
        return false;
    }
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).await.is_ok() && head.ends_with(b"200")
}

/// The URLs of these nodes, as the checker takes them.
pub fn urls(nodes: &[&ClusterNode]) -> String {
    nodes
        .iter()
        .map(|n| n.url.as_str())
        .collect::<Vec<_>>()
        .join(",")
}

/// The checker in `listen` mode: returns once its clients are connected (one per node,
/// each in room `emitted`); `finish` waits for its verdict.
pub struct Listener {
    child: Child,
    lines: tokio::io::Lines<BufReader<tokio::process::ChildStdout>>,
}

impl Listener {
    pub async fn start(urls: &str, prefix: &str) -> Listener {
        let mut child = Command::new("node")
            .args(["cluster/check.mjs", "listen", urls, prefix])
            .current_dir(interop_dir())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .expect("the checker starts");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let ready = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
            .await
            .expect("the checker gets ready")
            .unwrap()
            .unwrap_or_default();
        assert!(ready.contains("ready"), "checker: {ready}");
        Listener { child, lines }
    }

    pub async fn finish(mut self) -> serde_json::Value {
        let line = tokio::time::timeout(Duration::from_secs(40), self.lines.next_line())
            .await
            .expect("the checker's verdict")
            .unwrap()
            .unwrap_or_default();
        let status = self.child.wait().await.unwrap();
        assert!(status.success(), "the checker failed: {line}");
        serde_json::from_str(&line).unwrap()
    }
}

/// A Redis server of a test's own, on a free port, that the test may stop and start.
pub struct PrivateRedis {
    child: Option<Child>,
    pub port: u16,
}

impl PrivateRedis {
    pub async fn start() -> PrivateRedis {
        let mut redis = PrivateRedis {
            child: None,
            port: free_port(),
        };
        redis.restart().await;
        redis
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Starts it again (on the same port) and waits until it accepts connections.
    pub async fn restart(&mut self) {
        let child = Command::new("redis-server")
            .args([
                "--port",
                &self.port.to_string(),
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("redis-server runs (scripts/test installs it)");
        self.child = Some(child);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", self.port)).await.is_err() {
            assert!(
                tokio::time::Instant::now() < deadline,
                "redis-server did not start"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Kills it (connections drop at once).
    pub async fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill().await;
        }
    }
}
