//! A deliberately crude HTTP/1.1 and WebSocket client on raw TCP, for sending what no
//! well-behaved client would.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

pub const WS_KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";
const MASK: [u8; 4] = [0x12, 0x34, 0x56, 0x78];

/// A parsed HTTP response.
#[derive(Debug)]
pub struct HttpResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl HttpResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn has_header_prefix(&self, prefix: &str) -> bool {
        self.headers
            .iter()
            .any(|(n, _)| n.to_ascii_lowercase().starts_with(prefix))
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

pub async fn connect(addr: SocketAddr) -> TcpStream {
    let stream = TcpStream::connect(addr).await.unwrap();
    stream.set_nodelay(true).unwrap();
    stream
}

/// Reads one response (headers, then a body by Content-Length). `None` if the server
/// closed the connection first.
pub async fn read_response(stream: &mut TcpStream) -> Option<HttpResponse> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match stream.read(&mut byte).await {
            Ok(1) => head.push(byte[0]),
            _ => return None,
        }
    }
    let head = String::from_utf8_lossy(&head).into_owned();
    let mut lines = head.split("\r\n");
    let status = lines.next()?.split(' ').nth(1)?.parse().ok()?;
    let headers: Vec<(String, String)> = lines
        .filter(|l| !l.is_empty())
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned()))
        .collect();
    let length: usize = headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0u8; length];
    if status != 101 {
        stream.read_exact(&mut body).await.ok()?;
    }
    Some(HttpResponse {
        status,
        headers,
        body,
    })
}

/// Sends `request` (raw bytes) on a new connection and reads the response.
pub async fn request(addr: SocketAddr, request: &[u8]) -> Option<HttpResponse> {
    let mut stream = connect(addr).await;
    stream.write_all(request).await.unwrap();
    tokio::time::timeout(Duration::from_secs(10), read_response(&mut stream))
        .await
        .expect("response in time")
}

pub fn get(path_and_query: &str, extra_headers: &str) -> Vec<u8> {
    format!("GET {path_and_query} HTTP/1.1\r\nHost: test\r\n{extra_headers}\r\n").into_bytes()
}

pub fn post(path_and_query: &str, extra_headers: &str, body: &[u8]) -> Vec<u8> {
    let mut request = format!(
        "POST {path_and_query} HTTP/1.1\r\nHost: test\r\nContent-Length: {}\r\n{extra_headers}\r\n",
        body.len()
    )
    .into_bytes();
    request.extend_from_slice(body);
    request
}

pub fn ws_upgrade(path_and_query: &str, extra_headers: &str) -> Vec<u8> {
    get(
        path_and_query,
        &format!(
            "Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n\
             Sec-WebSocket-Key: {WS_KEY}\r\n{extra_headers}"
        ),
    )
}

/// Opens a long-polling session and returns its sid.
pub async fn polling_handshake(addr: SocketAddr, path: &str) -> String {
    let response = request(addr, &get(&format!("{path}?EIO=4&transport=polling"), ""))
        .await
        .expect("handshake response");
    assert_eq!(response.status, 200, "{}", response.text());
    let text = response.text();
    let json: serde_json::Value = serde_json::from_str(&text[1..]).unwrap();
    json["sid"].as_str().unwrap().to_owned()
}

/// Opens a WebSocket (after the 101) on `path_and_query`.
pub async fn websocket(addr: SocketAddr, path_and_query: &str) -> TcpStream {
    let mut stream = connect(addr).await;
    stream
        .write_all(&ws_upgrade(path_and_query, ""))
        .await
        .unwrap();
    let response = read_response(&mut stream).await.expect("upgrade response");
    assert_eq!(response.status, 101, "{response:?}");
    stream
}

/// A client frame: masked unless `masked` is false.
pub fn frame(fin: bool, opcode: u8, payload: &[u8], masked: bool) -> Vec<u8> {
    let mut out = vec![(u8::from(fin) << 7) | opcode];
    let mask_bit = if masked { 0x80 } else { 0 };
    match payload.len() {
        len if len < 126 => out.push(mask_bit | len as u8),
        len if len <= u16::MAX as usize => {
            out.push(mask_bit | 126);
            out.extend_from_slice(&(len as u16).to_be_bytes());
        }
        len => {
            out.push(mask_bit | 127);
            out.extend_from_slice(&(len as u64).to_be_bytes());
        }
    }
    if masked {
        out.extend_from_slice(&MASK);
        out.extend(payload.iter().enumerate().map(|(i, b)| b ^ MASK[i % 4]));
    } else {
        out.extend_from_slice(payload);
    }
    out
}

pub fn text_frame(text: &str) -> Vec<u8> {
    frame(true, 1, text.as_bytes(), true)
}

/// Reads one server frame: (opcode, payload). `None` at end of stream.
pub async fn read_frame(stream: &mut TcpStream) -> Option<(u8, Vec<u8>)> {
    let mut header = [0u8; 2];
    stream.read_exact(&mut header).await.ok()?;
    let opcode = header[0] & 0x0f;
    let mut len = u64::from(header[1] & 0x7f);
    if len == 126 {
        let mut ext = [0u8; 2];
        stream.read_exact(&mut ext).await.ok()?;
        len = u64::from(u16::from_be_bytes(ext));
    } else if len == 127 {
        let mut ext = [0u8; 8];
        stream.read_exact(&mut ext).await.ok()?;
        len = u64::from_be_bytes(ext);
    }
    let mut payload = vec![0u8; len as usize];
    stream.read_exact(&mut payload).await.ok()?;
    Some((opcode, payload))
}

/// Reads frames until a close frame, returning its code; `None` if the stream ends first.
pub async fn read_close_code(stream: &mut TcpStream) -> Option<u16> {
    loop {
        let (opcode, payload) = tokio::time::timeout(Duration::from_secs(10), read_frame(stream))
            .await
            .expect("a frame in time")?;
        if opcode == 8 {
            return Some(if payload.len() >= 2 {
                u16::from_be_bytes([payload[0], payload[1]])
            } else {
                1005
            });
        }
    }
}

/// Reads text frames until one satisfies `predicate`, skipping pings of the heartbeat.
pub async fn read_text_until(stream: &mut TcpStream, predicate: impl Fn(&str) -> bool) -> String {
    loop {
        let (opcode, payload) = tokio::time::timeout(Duration::from_secs(10), read_frame(stream))
            .await
            .expect("a frame in time")
            .expect("an open stream");
        if opcode == 1 {
            let text = String::from_utf8(payload).unwrap();
            if predicate(&text) {
                return text;
            }
        }
    }
}

/// Whether the server closes the connection within `within`.
pub async fn closed_within(stream: &mut TcpStream, within: Duration) -> bool {
    let mut buf = [0u8; 4096];
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
            Err(_) => return false,
            Ok(Ok(0) | Err(_)) => return true,
            Ok(Ok(_)) => {}
        }
    }
}

/// Resident memory of this process in KiB.
pub fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap()
}

/// A Socket.IO client on a raw WebSocket: the Engine.IO handshake, then `40`; returns the
/// stream and the socket id.
pub async fn socketio(addr: SocketAddr) -> (TcpStream, String) {
    let mut ws = websocket(addr, "/socket.io/?EIO=4&transport=websocket").await;
    read_text_until(&mut ws, |t| t.starts_with('0')).await;
    ws.write_all(&text_frame("40")).await.unwrap();
    let connected = read_text_until(&mut ws, |t| t.starts_with("40")).await;
    let json: serde_json::Value = serde_json::from_str(&connected[2..]).unwrap();
    (ws, json["sid"].as_str().unwrap().to_owned())
}

/// Whether the server ends a WebSocket within `within`: a close frame or end of stream.
pub async fn ws_closed_within(stream: &mut TcpStream, within: Duration) -> bool {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match tokio::time::timeout_at(deadline, read_frame(stream)).await {
            Err(_) => return false,
            Ok(None) | Ok(Some((8, _))) => return true,
            Ok(Some(_)) => {}
        }
    }
}
