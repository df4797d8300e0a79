//! The task that runs a manager: it makes the core's requests on the platform's
//! transports, feeds back what they report and the time, and calls the listeners.
//!
//! One future, polled by tokio natively and by the browser's microtask queue in wasm32;
//! it owns every transport of its manager (a GET, a POST or two, and two WebSockets during
//! an upgrade at most), so nothing is shared with other tasks but the core's lock, taken
//! for each step and released before any listener runs.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use engineio_proto::client::{ClientTransmit, TransportFailure};
use engineio_proto::{Packet, Timestamp};
use socketio_proto::Value;

use crate::core::{IoId, Output, SocketKey, SocketOutput, Transmit};
use crate::event::ManagerEvent;
use crate::listeners::{Entry, List};
use crate::options::Auth;
use crate::platform::BoxFuture;
use crate::runtime::{self, Http, Incoming, Method, WebSocket};
use crate::shared::{AckSender, Event, HandleToken, ManagerShared, Socket, Waiter, lock};

/// How long an abandoned manager's task waits for its last writes (a goodbye POST, a
/// WebSocket close) before it ends anyway.
const LINGER: Duration = Duration::from_secs(2);

/// Most packets taken from one WebSocket in one poll: a server sending without pause
/// does not keep the core's lock (and the handles) waiting for long.
const PACKETS_PER_POLL: usize = 256;

struct Request {
    io: IoId,
    method: Method,
    future: BoxFuture<'static, Result<Bytes, String>>,
}

enum WsState {
    Connecting(BoxFuture<'static, Result<WebSocket, String>>),
    // Boxed: one slot per transport, and a connecting one need not carry an open one's
    // room.
    Open(Box<WebSocket>),
}

struct WsSlot {
    io: IoId,
    state: WsState,
    /// Batches written but not yet flushed.
    unflushed: usize,
    /// Close once flushed.
    closing: bool,
}

/// An auth callback's answer on its way, for a socket and the session it was asked in.
struct AuthCall {
    key: SocketKey,
    session: u64,
    future: BoxFuture<'static, Value>,
}

/// What the transports reported, fed to the core in order.
enum Report {
    PollResponse(IoId, Bytes),
    PostDone(IoId),
    Failed(IoId, TransportFailure, String),
    Opened(IoId),
    Packet(IoId, Packet),
    Undecodable(IoId),
    Drained(IoId),
    Closed(IoId),
    Auth(SocketKey, u64, Value),
}

pub(crate) struct Driver {
    shared: Arc<ManagerShared>,
    http: Http,
    requests: Vec<Request>,
    websockets: Vec<WsSlot>,
    auths: Vec<AuthCall>,
    timer: Option<(Timestamp, runtime::Sleep)>,
    abandoned_at: Option<Timestamp>,
    /// The core had nothing more to do at the last step (closed, no reconnection due).
    idle: bool,
    reports: Vec<Report>,
    transmits: Vec<Transmit>,
    outputs: Vec<Output<Waiter>>,
}

impl Driver {
    pub(crate) fn new(shared: Arc<ManagerShared>) -> Self {
        let http = Http::new(&shared.options);
        Driver {
            shared,
            http,
            requests: Vec::new(),
            websockets: Vec::new(),
            auths: Vec::new(),
            timer: None,
            abandoned_at: None,
            idle: false,
            reports: Vec::new(),
            transmits: Vec::new(),
            outputs: Vec::new(),
        }
    }

    /// Polls every transport and auth callback, collecting what they report.
    fn poll_io(&mut self, cx: &mut Context<'_>) {
        let reports = &mut self.reports;
        self.requests.retain_mut(|request| {
            let Poll::Ready(result) = request.future.as_mut().poll(cx) else {
                return true;
            };
            reports.push(match (request.method, result) {
                (Method::Get, Ok(body)) => Report::PollResponse(request.io, body),
                (Method::Post, Ok(_)) => Report::PostDone(request.io),
                (Method::Get, Err(error)) => {
                    Report::Failed(request.io, TransportFailure::Poll, error)
                }
                (Method::Post, Err(error)) => {
                    Report::Failed(request.io, TransportFailure::Post, error)
                }
            });
            false
        });
        self.websockets
            .retain_mut(|slot| poll_websocket(slot, cx, reports));
        self.auths
            .retain_mut(|call| match call.future.as_mut().poll(cx) {
                Poll::Ready(value) => {
                    reports.push(Report::Auth(call.key, call.session, value));
                    false
                }
                Poll::Pending => true,
            });
    }

    /// One step under the core's lock: the reports and the time in, requests and events
    /// out. Whether a new timer was armed (it must be polled).
    fn step(&mut self, now: Timestamp) -> bool {
        let mut core = lock(&self.shared.core);
        for report in self.reports.drain(..) {
            match report {
                Report::PollResponse(io, body) => core.handle_poll_response(now, io, body),
                Report::PostDone(io) | Report::Drained(io) => core.handle_drain(now, io),
                Report::Failed(io, failure, error) => core.handle_error(now, io, failure, error),
                Report::Opened(io) => core.handle_opened(now, io),
                Report::Packet(io, packet) => core.handle_packet(now, io, packet),
                Report::Undecodable(io) => core.handle_decode_error(now, io),
                Report::Closed(io) => core.handle_closed(now, io),
                Report::Auth(key, session, value) => {
                    let auth = matches!(value, Value::Object(_)).then_some(value);
                    core.send_connect(now, key, session, auth);
                }
            }
        }
        if core.poll_timeout().is_some_and(|at| at <= now) {
            core.handle_timeout(now);
        }
        if self.abandoned_at.is_none() && self.shared.abandoned.load(Ordering::Acquire) {
            self.abandoned_at = Some(now);
            core.close(now);
        }
        self.transmits
            .extend(std::iter::from_fn(|| core.poll_transmit()));
        self.outputs
            .extend(std::iter::from_fn(|| core.poll_output()));
        runtime::set_prior_websocket_success(core.prior_websocket_success());
        self.idle = core.is_idle();
        // Transports of sessions that are over are let go of (a POST under way may end).
        let oldest = core.oldest_session();
        let mut next = core.poll_timeout();
        drop(core);
        self.requests
            .retain(|r| r.io.session >= oldest || r.method == Method::Post);
        self.websockets.retain(|w| w.io.session >= oldest);
        // An abandoned manager's task ends within LINGER whatever its transports do.
        if let Some(at) = self.abandoned_at {
            let end = at + LINGER;
            next = Some(next.map_or(end, |next| next.min(end)));
        }
        self.set_timer(now, next)
    }

    /// Whether the task is done: abandoned, and its last writes made or its time up.
    fn finished(&self, now: Timestamp) -> bool {
        self.abandoned_at.is_some_and(|at| {
            (self.idle && self.requests.is_empty() && self.websockets.is_empty())
                || now.saturating_duration_since(at) >= LINGER
        })
    }

    /// Arms the timer for `next` unless it is armed for it already; whether it armed one.
    fn set_timer(&mut self, now: Timestamp, next: Option<Timestamp>) -> bool {
        match next {
            None => {
                self.timer = None;
                false
            }
            Some(at) if self.timer.as_ref().is_some_and(|(armed, _)| *armed == at) => false,
            Some(at) => {
                self.timer = Some((at, runtime::sleep(at.saturating_duration_since(now))));
                true
            }
        }
    }

    /// Starts what the core asked for.
    fn start_transmits(&mut self) {
        // Taken and given back, so that the buffer keeps its room.
        let mut transmits = std::mem::take(&mut self.transmits);
        for Transmit { session, inner } in transmits.drain(..) {
            match inner {
                ClientTransmit::Poll { transport, url } => self.requests.push(Request {
                    io: IoId { session, transport },
                    method: Method::Get,
                    future: self.http.request(Method::Get, url, None),
                }),
                ClientTransmit::Post {
                    transport,
                    url,
                    body,
                } => self.requests.push(Request {
                    io: IoId { session, transport },
                    method: Method::Post,
                    future: self.http.request(Method::Post, url, Some(body)),
                }),
                ClientTransmit::Connect { transport, url } => self.websockets.push(WsSlot {
                    io: IoId { session, transport },
                    state: WsState::Connecting(self.http.websocket(url)),
                    unflushed: 0,
                    closing: false,
                }),
                ClientTransmit::Send { transport, packets } => {
                    let io = IoId { session, transport };
                    let slot = self.websockets.iter_mut().find(|w| w.io == io);
                    match slot.map(|slot| (&mut slot.state, &mut slot.unflushed)) {
                        Some((WsState::Open(ws), unflushed)) => {
                            ws.send(packets);
                            *unflushed += 1;
                        }
                        // The core only writes on an open WebSocket; if it is gone, say so
                        // rather than leave the write waiting for a drain.
                        _ => self.reports.push(Report::Failed(
                            io,
                            TransportFailure::WebSocket,
                            "the WebSocket is not open".to_owned(),
                        )),
                    }
                }
                ClientTransmit::Close { transport } => {
                    let io = IoId { session, transport };
                    self.requests
                        .retain(|r| r.io != io || r.method == Method::Post);
                    for slot in self.websockets.iter_mut().filter(|w| w.io == io) {
                        slot.closing = true;
                    }
                }
            }
        }
        self.transmits = transmits;
    }

    /// Hands the core's events to the listeners and the acknowledgements to their
    /// waiters, with no lock held.
    fn dispatch(&mut self) {
        // Handles for the listeners, made only if one is called: once every handle is
        // gone, no listener runs.
        let mut token: Option<Option<Arc<HandleToken>>> = None;
        let mut outputs = std::mem::take(&mut self.outputs);
        for output in outputs.drain(..) {
            if let Output::Socket(_, SocketOutput::Ack { waiter, result }) = output {
                let _ = waiter.send(result);
                continue;
            }
            let token = token.get_or_insert_with(|| lock(&self.shared.token).upgrade());
            let Some(token) = token.clone() else {
                continue;
            };
            match output {
                Output::Manager(event) => self.manager_event(&event),
                Output::Transport(kind) => self.manager_event(&ManagerEvent::Transport(kind)),
                Output::Socket(key, output) => self.socket_output(&token, key, output),
            }
        }
        self.outputs = outputs;
    }

    fn manager_event(&self, event: &ManagerEvent) {
        let listeners = lock(&self.shared.listeners).events.snapshot();
        for entry in listeners.iter() {
            (entry.f)(event);
        }
    }

    fn socket_output(
        &mut self,
        token: &Arc<HandleToken>,
        key: SocketKey,
        output: SocketOutput<Waiter>,
    ) {
        let shared = self.shared.socket(key);
        let socket = Socket::new(token.clone(), shared.clone());
        match output {
            SocketOutput::NeedAuth { session } => {
                if let Auth::Callback(callback) = &shared.auth {
                    // A new connection's question replaces any earlier one still waiting.
                    self.auths.retain(|call| call.key != key);
                    self.auths.push(AuthCall {
                        key,
                        session,
                        future: callback(),
                    });
                }
            }
            SocketOutput::Connect => {
                let listeners = lock(&shared.listeners).connect.snapshot();
                call(&listeners, |f| f(&socket));
            }
            SocketOutput::ConnectError(error) => {
                let listeners = lock(&shared.listeners).connect_error.snapshot();
                call(&listeners, |f| f(&socket, &error));
            }
            SocketOutput::Disconnect(reason) => {
                let listeners = lock(&shared.listeners).disconnect.snapshot();
                call(&listeners, |f| f(&socket, reason));
            }
            SocketOutput::Outgoing { name, args } => {
                let listeners = lock(&shared.listeners).any_outgoing.snapshot();
                call(&listeners, |f| f(&socket, &name, &args));
            }
            SocketOutput::Event { name, args, ack } => {
                let (any, named) = {
                    let listeners = lock(&shared.listeners);
                    (
                        listeners.any.snapshot(),
                        listeners.events.get(&name).map(List::snapshot),
                    )
                };
                let ack = ack.map(|(id, session)| AckSender {
                    socket: socket.clone(),
                    id,
                    session,
                    sent: Arc::new(AtomicBool::new(false)),
                });
                let event = Event {
                    socket,
                    name,
                    args,
                    ack,
                };
                call(&any, |f| f(&event));
                if let Some(named) = named {
                    call(&named, |f| f(&event));
                    let mut listeners = lock(&shared.listeners);
                    for entry in named.iter().filter(|entry| entry.once) {
                        listeners.remove(entry.id);
                    }
                }
            }
            SocketOutput::Ack { waiter, result } => {
                let _ = waiter.send(result);
            }
        }
    }
}

impl Drop for Driver {
    /// The task is gone (its work done, a listener panicked, or its runtime shut down):
    /// every waiter is told the connection is gone, and later emits fail.
    fn drop(&mut self) {
        self.shared.dead.store(true, Ordering::Release);
        let now = self.shared.clock.now();
        lock(&self.shared.core).shut_down(now);
    }
}

fn call<F>(listeners: &[Entry<F>], mut f: impl FnMut(&F)) {
    for entry in listeners {
        f(&entry.f);
    }
}

/// Polls one WebSocket: opening, reading, flushing, closing. Whether to keep it.
fn poll_websocket(slot: &mut WsSlot, cx: &mut Context<'_>, reports: &mut Vec<Report>) -> bool {
    let io = slot.io;
    if let WsState::Connecting(future) = &mut slot.state {
        match future.as_mut().poll(cx) {
            Poll::Pending => return !slot.closing,
            Poll::Ready(Err(error)) => {
                reports.push(Report::Failed(io, TransportFailure::WebSocket, error));
                return false;
            }
            Poll::Ready(Ok(ws)) => {
                if slot.closing {
                    return false;
                }
                slot.state = WsState::Open(Box::new(ws));
                reports.push(Report::Opened(io));
            }
        }
    }
    let WsState::Open(ws) = &mut slot.state else {
        return true;
    };
    if !slot.closing {
        for _ in 0..PACKETS_PER_POLL {
            match ws.poll_recv(cx) {
                Poll::Pending => break,
                Poll::Ready(Incoming::Packet(packet)) => reports.push(Report::Packet(io, packet)),
                Poll::Ready(Incoming::Undecodable) => {
                    reports.push(Report::Undecodable(io));
                    return false;
                }
                Poll::Ready(Incoming::Closed) => {
                    reports.push(Report::Closed(io));
                    return false;
                }
                Poll::Ready(Incoming::Error(error)) => {
                    reports.push(Report::Failed(io, TransportFailure::WebSocket, error));
                    return false;
                }
            }
        }
        if ws.has_received() {
            // More is there: the rest next time, after the others had their turn.
            cx.waker().wake_by_ref();
        }
    }
    // Writes last: what was read may have queued pongs.
    if slot.unflushed > 0 || ws.has_unwritten() {
        match ws.poll_flush(cx) {
            Poll::Ready(Ok(())) => {
                for _ in 0..std::mem::take(&mut slot.unflushed) {
                    reports.push(Report::Drained(io));
                }
            }
            Poll::Ready(Err(error)) => {
                reports.push(Report::Failed(io, TransportFailure::WebSocket, error));
                return false;
            }
            Poll::Pending => {}
        }
    }
    if slot.closing {
        return slot.unflushed > 0 || ws.poll_close(cx).is_pending();
    }
    true
}

impl Future for Driver {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = &mut *self;
        this.shared.waker.register(cx.waker());
        loop {
            this.poll_io(cx);
            let fired = match &mut this.timer {
                Some((_, sleep)) => Pin::new(sleep).poll(cx).is_ready(),
                None => false,
            };
            if fired {
                this.timer = None;
            }
            let changed = this.shared.changed.swap(false, Ordering::AcqRel);
            let now = this.shared.clock.now();
            if this.reports.is_empty() && !fired && !changed {
                if this.finished(now) {
                    return Poll::Ready(());
                }
                return Poll::Pending;
            }
            let armed = this.step(now);
            // New transports, a new timer and new auth calls must be polled once to be
            // woken later.
            let started = !this.transmits.is_empty();
            this.start_transmits();
            let auths = this.auths.len();
            this.dispatch();
            if this.finished(now) {
                return Poll::Ready(());
            }
            let asked = this.auths.len() > auths;
            let more = !this.reports.is_empty() || this.shared.changed.load(Ordering::Acquire);
            if !(started || armed || asked || more) {
                return Poll::Pending;
            }
        }
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    /// A server that accepts connections and never answers: the driver's requests hang.
    async fn silent_server() -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((stream, _)) = listener.accept().await {
                held.push(stream);
            }
        });
        url
    }

    #[tokio::test]
    async fn the_task_ends_once_every_handle_is_dropped_even_with_requests_hanging() {
        for transports in [
            vec![crate::Transport::Polling],
            vec![crate::Transport::WebSocket],
        ] {
            let url = silent_server().await;
            let socket = crate::io(&url).transports(transports).connect().unwrap();
            tokio::time::sleep(Duration::from_millis(100)).await;
            let shared = Arc::downgrade(&socket.token.shared);
            drop(socket);
            // Within LINGER (2 s) the task has let go of the manager's state.
            let deadline = tokio::time::Instant::now() + Duration::from_secs(4);
            while shared.upgrade().is_some() {
                assert!(
                    tokio::time::Instant::now() < deadline,
                    "the driver still runs"
                );
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }

    #[test]
    fn acks_fail_when_the_task_is_gone() {
        let outer = tokio::runtime::Runtime::new().unwrap();
        let url = outer.block_on(silent_server());
        // The client runs on a runtime of its own, which is then shut down: its driver's
        // task is dropped with it.
        let inner = tokio::runtime::Runtime::new().unwrap();
        let (socket, ack) = {
            let _entered = inner.enter();
            let socket = crate::io(&url).connect().unwrap();
            let ack = socket.emit_with_ack("e", &()).unwrap();
            (socket, ack)
        };
        drop(inner);
        outer.block_on(async {
            assert_eq!(ack.await.unwrap_err(), crate::AckError::Disconnected);
        });
        assert_eq!(socket.emit("e", &()), Err(crate::EmitError::Closed));
    }
}
