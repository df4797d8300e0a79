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
    child: Child,
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
    start_node_with(kind, name, adapter, key, redis, &[]).await
}

/// [`start_node`] with more environment (`REDIS_CLUSTER`: the nodes of a Redis Cluster,
/// comma-separated, which both node programs take instead of `REDIS_URL`).
pub async fn start_node_with(
    kind: Kind,
    name: &str,
    adapter: &str,
    key: &str,
    redis: &str,
    env: &[(&str, &str)],
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
        .envs(env.iter().copied())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .expect("the cluster node starts");
    let node = ClusterNode {
        child,
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

impl ClusterNode {
    /// Stops the node as a harness does: SIGTERM, then SIGKILL after 3 s.
    pub async fn terminate(mut self) {
        if let Some(pid) = self.child.id() {
            let _ = Command::new("kill")
                .args(["-TERM", &pid.to_string()])
                .status()
                .await;
        }
        if tokio::time::timeout(Duration::from_secs(3), self.child.wait())
            .await
            .is_err()
        {
            let _ = self.child.kill().await;
        }
    }
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
        Listener::scenario(&["listen", urls, prefix]).await
    }

    /// The checker in any scenario that prints `{"ready":true}` before its verdict.
    pub async fn scenario(args: &[&str]) -> Listener {
        let mut child = Command::new("node")
            .arg("cluster/check.mjs")
            .args(args)
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

/// A port `p` with `p + 10000` free too (a cluster node's bus port).
fn free_cluster_port() -> u16 {
    loop {
        let port = 20_000 + (rand::random::<u16>() % 20_000);
        let free = |p: u16| std::net::TcpListener::bind(("127.0.0.1", p)).is_ok();
        if free(port) && free(port + 10_000) {
            return port;
        }
    }
}

async fn redis_cli(args: &[&str]) -> String {
    let output = Command::new("redis-cli")
        .args(args)
        .output()
        .await
        .expect("redis-cli runs");
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// A Redis Cluster of a test's own: three masters with a replica each, a node timeout of
/// two seconds (so a failover happens within seconds), files in a temporary directory.
pub struct PrivateCluster {
    children: Vec<(u16, Child)>,
    dir: std::path::PathBuf,
}

impl PrivateCluster {
    pub async fn start() -> PrivateCluster {
        let dir =
            std::env::temp_dir().join(format!("sio-redis-cluster-{:x}", rand::random::<u64>()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut children = Vec::new();
        for _ in 0..6 {
            let port = free_cluster_port();
            let child = Command::new("redis-server")
                .args(["--port", &port.to_string(), "--cluster-enabled", "yes"])
                .args(["--cluster-config-file", &format!("nodes-{port}.conf")])
                .args([
                    "--cluster-node-timeout",
                    "2000",
                    // A replica takes over however long ago it last heard from its master.
                    "--cluster-replica-validity-factor",
                    "0",
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                ])
                .arg("--dir")
                .arg(&dir)
                .stdout(Stdio::null())
                .kill_on_drop(true)
                .spawn()
                .expect("redis-server runs");
            children.push((port, child));
        }
        let cluster = PrivateCluster { children, dir };
        for port in cluster.ports() {
            let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
            while TcpStream::connect(("127.0.0.1", port)).await.is_err() {
                assert!(
                    tokio::time::Instant::now() < deadline,
                    "redis-server did not start"
                );
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
        let mut args = vec!["--cluster".to_owned(), "create".to_owned()];
        args.extend(cluster.ports().iter().map(|p| format!("127.0.0.1:{p}")));
        args.extend(["--cluster-replicas", "1", "--cluster-yes"].map(str::to_owned));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        redis_cli(&args).await;
        cluster.wait_ok().await;
        cluster
    }

    fn ports(&self) -> Vec<u16> {
        self.children.iter().map(|(port, _)| *port).collect()
    }

    /// `redis://127.0.0.1:P,...` of the nodes still running.
    pub fn urls(&self) -> String {
        self.ports()
            .iter()
            .map(|p| format!("redis://127.0.0.1:{p}"))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Waits until every running node says the cluster is ok and agrees on three masters.
    async fn wait_ok(&self) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            let mut ok = true;
            for port in self.ports() {
                let info = redis_cli(&["-p", &port.to_string(), "cluster", "info"]).await;
                ok &= info.contains("cluster_state:ok");
            }
            if ok {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "the Redis Cluster is not ok"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The port of the master that serves `channel`'s slot, as a running node sees it
    /// (none while a failover is under way).
    pub async fn master_of(&self, channel: &str) -> Option<u16> {
        let port = self.ports()[0].to_string();
        let slot: u32 = redis_cli(&["-p", &port, "cluster", "keyslot", channel])
            .await
            .trim()
            .parse()
            .expect("a slot");
        let nodes = redis_cli(&["-p", &port, "cluster", "nodes"]).await;
        for line in nodes.lines() {
            let fields: Vec<&str> = line.split_whitespace().collect();
            if fields.len() < 9 || !fields[2].contains("master") || fields[2].contains("fail") {
                continue;
            }
            let serves = fields[8..].iter().any(|range| {
                let (a, b) = range.split_once('-').unwrap_or((range, range));
                matches!((a.parse::<u32>(), b.parse::<u32>()), (Ok(a), Ok(b)) if (a..=b).contains(&slot))
            });
            if serves {
                let address = fields[1].split('@').next().unwrap_or_default();
                return address.rsplit(':').next()?.parse().ok();
            }
        }
        None
    }

    /// Kills the master serving `channel`, and waits until its replica took over.
    pub async fn fail_over(&mut self, channel: &str) -> u16 {
        let master = self.master_of(channel).await.expect("a master");
        let at = self
            .children
            .iter()
            .position(|(p, _)| *p == master)
            .unwrap();
        let (_, mut child) = self.children.remove(at);
        child.kill().await.unwrap();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            self.wait_ok().await;
            if self
                .master_of(channel)
                .await
                .is_some_and(|now| now != master)
            {
                return master;
            }
            assert!(tokio::time::Instant::now() < deadline, "no failover");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for PrivateCluster {
    fn drop(&mut self) {
        for (_, child) in &mut self.children {
            let _ = child.start_kill();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
