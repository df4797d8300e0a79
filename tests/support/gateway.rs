//! The standalone server (the package's binary) started as a process for a test.

use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

pub const API_KEY: &str = "test-key";

pub struct Gateway {
    child: Child,
    /// `http://127.0.0.1:PORT` (or `https://…`).
    pub url: String,
}

impl Gateway {
    /// Starts the gateway on a free port with API key [`API_KEY`] and `args`; returns once
    /// it listens.
    pub async fn start(args: &[&str]) -> Gateway {
        let mut child = Command::new(env!("CARGO_BIN_EXE_socketio-gateway"))
            .args(["--listen", "127.0.0.1:0", "--api-key", API_KEY])
            .args(args)
            .env_remove("RUST_LOG")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("the gateway starts");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let url = tokio::time::timeout(Duration::from_secs(30), async {
            while let Some(line) = lines.next_line().await.unwrap() {
                if let Some(url) = line.strip_prefix("socketio-gateway listening on ") {
                    return url.to_owned();
                }
            }
            panic!("the gateway exited without listening");
        })
        .await
        .expect("the gateway listens within 30 s");
        // Keep reading the banner so that the pipe never fills.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Gateway { child, url }
    }

    pub fn pid(&self) -> u32 {
        self.child.id().expect("running")
    }

    /// Waits for the process to exit; its exit code.
    pub async fn wait(&mut self, limit: Duration) -> Option<i32> {
        tokio::time::timeout(limit, self.child.wait())
            .await
            .expect("the gateway exits in time")
            .expect("exit status")
            .code()
    }

    pub fn client() -> reqwest::Client {
        reqwest::Client::builder()
            .danger_accept_invalid_certs(true)
            .build()
            .unwrap()
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        Self::client()
            .get(format!("{}{path}", self.url))
            .send()
            .await
            .unwrap()
    }
}
