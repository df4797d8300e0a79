//! The client side of the wire, by hand on raw TCP (a load generator must cost little):
//! WebSocket frames, HTTP/1.1 requests for long-polling, and the Engine.IO / Socket.IO
//! handshakes on top.

use std::io;
use std::net::{IpAddr, SocketAddr};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

const MASK: [u8; 4] = [0x5a, 0x13, 0xc4, 0x7e];

pub fn bad(what: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.into())
}

/// A TCP connection from `local` (a loopback source address, to go past one address's
/// ephemeral ports) to `server`.
pub async fn tcp(server: SocketAddr, local: Option<IpAddr>) -> io::Result<TcpStream> {
    let socket = TcpSocket::new_v4()?;
    if let Some(ip) = local {
        socket.bind(SocketAddr::new(ip, 0))?;
    }
    let stream = socket.connect(server).await?;
    stream.set_nodelay(true)?;
    Ok(stream)
}

/// A buffered reader over a TCP stream.
pub struct Conn {
    pub stream: TcpStream,
    buf: Vec<u8>,
    start: usize,
}

impl Conn {
    pub fn new(stream: TcpStream) -> Self {
        Conn {
            stream,
            buf: Vec::with_capacity(16 * 1024),
            start: 0,
        }
    }

    fn available(&self) -> &[u8] {
        &self.buf[self.start..]
    }

    /// Reads more bytes; fails at end of stream.
    async fn fill(&mut self) -> io::Result<()> {
        if self.start > 0 && self.start == self.buf.len() {
            self.buf.clear();
            self.start = 0;
        } else if self.start > 64 * 1024 {
            self.buf.drain(..self.start);
            self.start = 0;
        }
        let len = self.buf.len();
        self.buf.resize(len + 64 * 1024, 0);
        let n = self.stream.read(&mut self.buf[len..]).await?;
        self.buf.truncate(len + n);
        if n == 0 {
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "connection closed"));
        }
        Ok(())
    }

    fn consume(&mut self, n: usize) {
        self.start += n;
    }

    /// Reads up to and including `\r\n\r\n`; returns the head.
    async fn read_head(&mut self) -> io::Result<String> {
        loop {
            if let Some(end) = find(self.available(), b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&self.available()[..end]).into_owned();
                self.consume(end + 4);
                return Ok(head);
            }
            self.fill().await?;
        }
    }

    async fn read_exact_vec(&mut self, n: usize) -> io::Result<Vec<u8>> {
        while self.available().len() < n {
            self.fill().await?;
        }
        let out = self.available()[..n].to_vec();
        self.consume(n);
        Ok(out)
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// A WebSocket frame from the server.
#[derive(Debug)]
pub struct Frame {
    pub binary: bool,
    pub payload: Vec<u8>,
}

/// A WebSocket client connection.
pub struct Ws {
    conn: Conn,
    out: Vec<u8>,
}

impl Ws {
    /// Opens a WebSocket at `path`.
    pub async fn connect(
        server: SocketAddr,
        local: Option<IpAddr>,
        path: &str,
    ) -> io::Result<Ws> {
        let mut stream = tcp(server, local).await?;
        let request = format!(
            "GET {path} HTTP/1.1\r\nHost: {server}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        );
        stream.write_all(request.as_bytes()).await?;
        let mut conn = Conn::new(stream);
        let head = conn.read_head().await?;
        if !head.starts_with("HTTP/1.1 101") {
            return Err(bad(format!("no upgrade: {head}")));
        }
        Ok(Ws {
            conn,
            out: Vec::with_capacity(8 * 1024),
        })
    }

    fn push_frame(&mut self, binary: bool, payload: &[u8]) {
        self.out.push(if binary { 0x82 } else { 0x81 });
        match payload.len() {
            len @ 0..=125 => self.out.push(0x80 | len as u8),
            len @ 126..=65535 => {
                self.out.push(0x80 | 126);
                self.out.extend_from_slice(&(len as u16).to_be_bytes());
            }
            len => {
                self.out.push(0x80 | 127);
                self.out.extend_from_slice(&(len as u64).to_be_bytes());
            }
        }
        self.out.extend_from_slice(&MASK);
        self.out
            .extend(payload.iter().enumerate().map(|(i, b)| b ^ MASK[i & 3]));
    }

    /// Sends frames in one write: `(binary, payload)`.
    pub async fn send(&mut self, frames: &[(bool, &[u8])]) -> io::Result<()> {
        self.out.clear();
        for (binary, payload) in frames {
            self.push_frame(*binary, payload);
        }
        self.conn.stream.write_all(&self.out).await
    }

    pub async fn send_text(&mut self, text: &[u8]) -> io::Result<()> {
        self.send(&[(false, text)]).await
    }

    /// The next data frame (pings answered, close is an error).
    pub async fn recv(&mut self) -> io::Result<Frame> {
        loop {
            let frame = self.recv_any().await?;
            match frame.0 {
                0x1 | 0x2 => {
                    return Ok(Frame {
                        binary: frame.0 == 0x2,
                        payload: frame.1,
                    });
                }
                0x8 => return Err(io::Error::new(io::ErrorKind::ConnectionAborted, "closed")),
                0x9 => {
                    self.out.clear();
                    self.out.push(0x8a);
                    self.out.push(0x80 | frame.1.len() as u8);
                    self.out.extend_from_slice(&MASK);
                    let pong: Vec<u8> = frame.1.iter().enumerate().map(|(i, b)| b ^ MASK[i & 3]).collect();
                    self.out.extend_from_slice(&pong);
                    self.conn.stream.write_all(&self.out).await?;
                }
                _ => {}
            }
        }
    }

    async fn recv_any(&mut self) -> io::Result<(u8, Vec<u8>)> {
        loop {
            let data = self.conn.available();
            if data.len() >= 2 {
                let opcode = data[0] & 0x0f;
                let (len, head) = match data[1] & 0x7f {
                    126 if data.len() >= 4 => (u16::from_be_bytes([data[2], data[3]]) as usize, 4),
                    127 if data.len() >= 10 => {
                        (u64::from_be_bytes(data[2..10].try_into().unwrap()) as usize, 10)
                    }
                    126 | 127 => (usize::MAX, 0),
                    len => (len as usize, 2),
                };
                if len != usize::MAX && data.len() >= head + len {
                    if data[0] & 0x80 == 0 {
                        return Err(bad("fragmented frame"));
                    }
                    let payload = data[head..head + len].to_vec();
                    self.conn.consume(head + len);
                    return Ok((opcode, payload));
                }
            }
            self.conn.fill().await?;
        }
    }
}

/// A Socket.IO client over WebSocket: Engine.IO pings answered on the way.
pub struct SioWs {
    pub ws: Ws,
}

impl SioWs {
    /// Connects and joins namespace `/`.
    pub async fn connect(server: SocketAddr, local: Option<IpAddr>) -> io::Result<SioWs> {
        let ws = Ws::connect(server, local, "/socket.io/?EIO=4&transport=websocket").await?;
        let mut client = SioWs { ws };
        let open = client.ws.recv().await?;
        if !open.payload.starts_with(b"0{") {
            return Err(bad("no Engine.IO open packet"));
        }
        client.ws.send_text(b"40").await?;
        let connect = client.recv().await?;
        if !connect.payload.starts_with(b"40") {
            return Err(bad(format!(
                "no CONNECT: {}",
                String::from_utf8_lossy(&connect.payload)
            )));
        }
        Ok(client)
    }

    /// The next Engine.IO message (a text `4…` packet or a binary attachment).
    pub async fn recv(&mut self) -> io::Result<Frame> {
        loop {
            let frame = self.ws.recv().await?;
            if !frame.binary && frame.payload == b"2" {
                self.ws.send_text(b"3").await?;
                continue;
            }
            return Ok(frame);
        }
    }
}

/// One HTTP/1.1 keep-alive connection for long-polling.
pub struct Http {
    conn: Conn,
    host: String,
}

impl Http {
    pub async fn connect(server: SocketAddr) -> io::Result<Http> {
        Ok(Http {
            conn: Conn::new(tcp(server, None).await?),
            host: server.to_string(),
        })
    }

    /// Sends a request and reads the response body (Content-Length or chunked).
    pub async fn request(&mut self, method: &str, path: &str, body: &[u8]) -> io::Result<Vec<u8>> {
        let mut request = format!("{method} {path} HTTP/1.1\r\nHost: {}\r\n", self.host);
        if method == "POST" {
            request.push_str(&format!(
                "Content-Type: text/plain;charset=UTF-8\r\nContent-Length: {}\r\n",
                body.len()
            ));
        }
        request.push_str("\r\n");
        let mut bytes = request.into_bytes();
        bytes.extend_from_slice(body);
        self.conn.stream.write_all(&bytes).await?;
        let head = self.conn.read_head().await?;
        if !head.starts_with("HTTP/1.1 200") {
            return Err(bad(format!("{method} {path}: {head}")));
        }
        let header = |name: &str| {
            head.lines().find_map(|line| {
                let (key, value) = line.split_once(':')?;
                key.eq_ignore_ascii_case(name).then(|| value.trim().to_owned())
            })
        };
        if let Some(len) = header("content-length") {
            let len: usize = len.parse().map_err(|_| bad("content-length"))?;
            return self.conn.read_exact_vec(len).await;
        }
        if header("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
            let mut body = Vec::new();
            loop {
                let line = loop {
                    if let Some(end) = find(self.conn.available(), b"\r\n") {
                        let line = String::from_utf8_lossy(&self.conn.available()[..end]).into_owned();
                        self.conn.consume(end + 2);
                        break line;
                    }
                    self.conn.fill().await?;
                };
                let size = usize::from_str_radix(line.split(';').next().unwrap_or("").trim(), 16)
                    .map_err(|_| bad("chunk size"))?;
                let chunk = self.conn.read_exact_vec(size + 2).await?;
                if size == 0 {
                    return Ok(body);
                }
                body.extend_from_slice(&chunk[..size]);
            }
        }
        Err(bad("response without length"))
    }
}
