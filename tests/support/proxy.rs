//! A TCP proxy that tests put between clients and the server to break connections at will
//! (there is no `tc netem` on these machines).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;

/// How a connection is broken.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cut {
    /// Both sides see the connection close (FIN): the server notices at once.
    Close,
    /// Only the client's side closes; the server's side stays open and silent, as after a
    /// network switch: the server notices only when its heartbeat times out.
    Silent,
    /// Nothing more is relayed either way, and both sides stay open: each side sees
    /// silence until its heartbeat gives up.
    Stall,
}

struct Link {
    id: u64,
    cut: oneshot::Sender<Cut>,
}

struct Inner {
    upstream: Mutex<SocketAddr>,
    links: Mutex<Vec<Link>>,
    refusing: AtomicBool,
    /// New connections are accepted and then left silent.
    blackholing: AtomicBool,
    next_id: AtomicU64,
    /// Sides of silently cut or stalled connections, kept open until the proxy is dropped.
    zombies: Mutex<Vec<TcpStream>>,
}

/// A proxy on a free port of 127.0.0.1 to `upstream`.
#[derive(Clone)]
pub struct Proxy {
    pub addr: SocketAddr,
    inner: Arc<Inner>,
}

impl Proxy {
    pub async fn start(upstream: SocketAddr) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let inner = Arc::new(Inner {
            upstream: Mutex::new(upstream),
            links: Mutex::new(Vec::new()),
            refusing: AtomicBool::new(false),
            blackholing: AtomicBool::new(false),
            next_id: AtomicU64::new(0),
            zombies: Mutex::new(Vec::new()),
        });
        let accepting = Arc::downgrade(&inner);
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let Some(inner) = accepting.upgrade() else {
                    return;
                };
                if inner.refusing.load(Ordering::Acquire) {
                    drop(client);
                    continue;
                }
                if inner.blackholing.load(Ordering::Acquire) {
                    inner.zombies.lock().unwrap().push(client);
                    continue;
                }
                // Registered before connecting upstream, so that a `cut_all` right after
                // this accept breaks this connection too.
                let id = inner.next_id.fetch_add(1, Ordering::Relaxed);
                let (cut, cut_requested) = oneshot::channel();
                inner.links.lock().unwrap().push(Link { id, cut });
                if inner.refusing.load(Ordering::Acquire) {
                    // `refuse` and `cut_all` ran between the check and the registration.
                    inner.links.lock().unwrap().retain(|link| link.id != id);
                    drop(client);
                    continue;
                }
                tokio::spawn(relay(inner, client, id, cut_requested));
            }
        });
        Proxy { addr, inner }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// While true, new connections are accepted and never answered.
    pub fn blackhole(&self, on: bool) {
        self.inner.blackholing.store(on, Ordering::Release);
    }

    /// Later connections go to `upstream`.
    pub fn set_upstream(&self, upstream: SocketAddr) {
        *self.inner.upstream.lock().unwrap() = upstream;
    }

    /// While true, new connections are closed as soon as they are accepted.
    pub fn refuse(&self, refuse: bool) {
        self.inner.refusing.store(refuse, Ordering::Release);
    }

    /// Breaks every open connection; returns how many.
    pub fn cut_all(&self, how: Cut) -> usize {
        let links = std::mem::take(&mut *self.inner.links.lock().unwrap());
        let count = links.len();
        for link in links {
            let _ = link.cut.send(how);
        }
        count
    }

    /// Breaks the connection at position `pick % open connections`, if any is open.
    pub fn cut_one(&self, pick: usize, how: Cut) -> bool {
        let mut links = self.inner.links.lock().unwrap();
        if links.is_empty() {
            return false;
        }
        let index = pick % links.len();
        let link = links.swap_remove(index);
        drop(links);
        let _ = link.cut.send(how);
        true
    }

    pub fn open_connections(&self) -> usize {
        self.inner.links.lock().unwrap().len()
    }
}

async fn relay(
    inner: Arc<Inner>,
    mut client: TcpStream,
    id: u64,
    mut cut_requested: oneshot::Receiver<Cut>,
) {
    let connected = tokio::select! {
        server = TcpStream::connect(*inner.upstream.lock().unwrap()) => server.ok(),
        // Cut before the server saw it: the client's side just closes.
        _ = &mut cut_requested => None,
    };
    let Some(mut server) = connected else {
        inner.links.lock().unwrap().retain(|link| link.id != id);
        return;
    };
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    let outcome = tokio::select! {
        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => None,
        how = cut_requested => how.ok(),
    };
    inner.links.lock().unwrap().retain(|link| link.id != id);
    match outcome {
        Some(Cut::Silent) => inner.zombies.lock().unwrap().push(server),
        Some(Cut::Stall) => inner.zombies.lock().unwrap().extend([server, client]),
        _ => {}
    }
}
