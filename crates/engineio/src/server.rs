//! The server: checks each request as Node's engine.io does, opens sessions, and routes
//! long-polling requests and WebSocket upgrades to the session's task.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use engineio_proto::{PollError, SID_RANDOM_BYTES, Session, Sid, TransportKind};
use http::request::Parts;
use http::{HeaderValue, Method, Request, Response, StatusCode, header};
use http_body::Body;
use tokio::sync::oneshot;
use tower_service::Service;

use crate::body::{BodyError, read_body};
use crate::clock::Clock;
use crate::config::{ConfigError, EngineConfig, EngineIoBuilder};
use crate::driver::SessionDriver;
use crate::error::{EngineError, ResponseBody, error_response, status_response};
use crate::handler::Handler;
use crate::registry::Registry;
use crate::socket::{CloseRequest, EngineSocket, PollReply, PostError, SessionRequest, Shared};
use crate::ws::{self, HandshakeError, WsStream};

/// An Engine.IO server: a cloneable [`tower_service::Service`] for HTTP requests, to mount
/// in axum or hyper or run with [`serve`](crate::serve).
///
/// It answers requests whose path starts with its path (default `/engine.io/`) and 404
/// for the rest.
#[derive(Clone)]
pub struct EngineIo {
    inner: Arc<EngineInner>,
    cors: Option<tower_http::cors::Cors<Core>>,
}

impl std::fmt::Debug for EngineIo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EngineIo")
            .field("path", &self.inner.config.path)
            .field("sessions", &self.inner.registry.len())
            .finish_non_exhaustive()
    }
}

struct EngineInner {
    pub(crate) config: EngineConfig,
    handler: Box<dyn Handler>,
    registry: Arc<Registry>,
    clock: Clock,
    closing: AtomicBool,
    sessions_opened: AtomicU64,
    /// Requests refused, by [`EngineError::index`].
    refused: [AtomicU64; EngineError::ALL.len()],
}

/// What an Engine.IO server has done since it started (for metrics).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EngineStats {
    /// Sessions opened.
    pub sessions_opened: u64,
    /// Requests refused, by reason (Node's error messages: `Forbidden` for the origin
    /// allow-list and `allow_request`, `Session ID unknown`, `Too many sessions`…).
    pub refused: Vec<(&'static str, u64)>,
}

impl EngineIoBuilder {
    /// Builds the server; `handler` receives every session.
    pub fn build(self, handler: impl Handler) -> Result<EngineIo, ConfigError> {
        let config = self.into_config()?;
        let cors = config.cors.clone();
        let inner = Arc::new(EngineInner {
            registry: Arc::new(Registry::new(config.max_sessions)),
            config,
            handler: Box::new(handler),
            clock: Clock::start(),
            closing: AtomicBool::new(false),
            sessions_opened: AtomicU64::new(0),
            refused: Default::default(),
        });
        let cors = cors.map(|layer| tower_layer::Layer::layer(&layer, Core(inner.clone())));
        Ok(EngineIo { inner, cors })
    }
}

impl EngineIo {
    /// Options for a new server, with Node's defaults.
    pub fn builder() -> EngineIoBuilder {
        EngineIoBuilder::default()
    }

    /// The path the server answers under (`/engine.io/` by default).
    pub fn path(&self) -> &str {
        &self.inner.config.path
    }

    /// Whether a request is for this server (its path starts with [`path`](Self::path)).
    pub fn handles<B>(&self, request: &Request<B>) -> bool {
        request.uri().path().starts_with(&self.inner.config.path)
    }

    /// Counters since the server started.
    pub fn stats(&self) -> EngineStats {
        EngineStats {
            sessions_opened: self.inner.sessions_opened.load(Ordering::Relaxed),
            refused: EngineError::ALL
                .iter()
                .map(|error| {
                    let count = self.inner.refused[error.index()].load(Ordering::Relaxed);
                    (error.message(), count)
                })
                .collect(),
        }
    }

    /// Whether [`close`](Self::close) was called (new sessions are refused).
    pub fn is_closing(&self) -> bool {
        self.inner.closing.load(Ordering::Acquire)
    }

    /// Number of open sessions.
    pub fn session_count(&self) -> usize {
        self.inner.registry.len()
    }

    /// The open session with this id.
    pub fn socket(&self, sid: &Sid) -> Option<EngineSocket> {
        self.inner.registry.get(sid).map(EngineSocket::new)
    }

    /// Every open session.
    pub fn sockets(&self) -> Vec<EngineSocket> {
        self.inner
            .registry
            .all()
            .into_iter()
            .map(EngineSocket::new)
            .collect()
    }

    /// Shuts the server down: refuses new sessions (503), closes every open one (their
    /// handlers see `forced close`; a long-polling client receives the `close` packet on
    /// its pending or next GET, if that comes within `grace`) and waits until they are
    /// gone, at most `grace`.
    pub async fn close(&self, grace: Duration) {
        self.inner.closing.store(true, Ordering::Release);
        for shared in self.inner.registry.all() {
            shared.request_close(CloseRequest::Within(grace));
        }
        let deadline = tokio::time::Instant::now() + grace;
        while self.inner.registry.len() > 0 && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}

type BoxFuture = Pin<Box<dyn Future<Output = Result<Response<ResponseBody>, Infallible>> + Send>>;

/// The server without its CORS layer.
#[derive(Clone)]
pub(crate) struct Core(Arc<EngineInner>);

impl<B> Service<Request<B>> for Core
where
    B: Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    type Response = Response<ResponseBody>;
    type Error = Infallible;
    type Future = BoxFuture;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<B>) -> BoxFuture {
        let inner = self.0.clone();
        Box::pin(async move { Ok(inner.handle(request).await) })
    }
}

impl<B> Service<Request<B>> for EngineIo
where
    B: Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    type Response = Response<ResponseBody>;
    type Error = Infallible;
    type Future = BoxFuture;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<B>) -> BoxFuture {
        match &mut self.cors {
            Some(cors) => Box::pin(cors.call(request)),
            None => Core(self.inner.clone()).call(request),
        }
    }
}

/// The query parameters Engine.IO reads.
#[derive(Default)]
struct Query<'a> {
    eio: Option<&'a str>,
    transport: Option<&'a str>,
    sid: Option<&'a str>,
}

impl<'a> Query<'a> {
    /// Later values win, as with Node's `Object.fromEntries(searchParams)`.
    fn parse(query: Option<&'a str>) -> Self {
        let mut parsed = Query::default();
        for pair in query.unwrap_or_default().split('&') {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            match key {
                "EIO" => parsed.eio = Some(value),
                "transport" => parsed.transport = Some(value),
                "sid" => parsed.sid = Some(value),
                _ => {}
            }
        }
        parsed
    }
}

/// Control characters in `Origin` are refused (they were once reflected into response
/// headers).
fn origin_is_invalid(request: &Parts) -> bool {
    request
        .headers
        .get_all(header::ORIGIN)
        .iter()
        .any(|origin| {
            origin
                .as_bytes()
                .iter()
                .any(|&b| (b < 0x20 && b != b'\t') || b == 0x7f)
        })
}

fn text_response(content_type: &'static str, body: Bytes) -> Response<ResponseBody> {
    let mut response = Response::new(ResponseBody::new(body));
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

fn poll_reply_response(
    reply: Result<PollReply, oneshot::error::RecvError>,
) -> Response<ResponseBody> {
    match reply {
        Ok(PollReply::Payload(payload)) => text_response("text/plain; charset=UTF-8", payload),
        Ok(PollReply::Refused(PollError::Overlap | PollError::TransportMismatch)) => {
            error_response(EngineError::BadRequest, None)
        }
        Ok(PollReply::Refused(PollError::Closed)) | Err(_) => {
            error_response(EngineError::UnknownSid, None)
        }
    }
}

impl EngineInner {
    async fn handle<B>(self: Arc<Self>, request: Request<B>) -> Response<ResponseBody>
    where
        B: Body + Send + 'static,
        B::Data: Send,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        if !request.uri().path().starts_with(&self.config.path) {
            return status_response(StatusCode::NOT_FOUND);
        }
        let (mut parts, body) = request.into_parts();
        let query = Query::parse(parts.uri.query());
        let transport = match query.transport.and_then(TransportKind::from_query) {
            Some(TransportKind::Polling) if self.config.transports.polling => {
                TransportKind::Polling
            }
            Some(TransportKind::WebSocket) if self.config.transports.websocket => {
                TransportKind::WebSocket
            }
            _ => return self.refuse(EngineError::UnknownTransport, None),
        };
        if origin_is_invalid(&parts) {
            return self.refuse(EngineError::BadRequest, None);
        }
        let websocket_request = ws::is_websocket_request(&parts.headers);

        if let Some(sid) = query.sid {
            let Some(shared) = Sid::parse(sid).and_then(|sid| self.registry.get(&sid)) else {
                return self.refuse(EngineError::UnknownSid, None);
            };
            return match (transport, websocket_request) {
                (TransportKind::WebSocket, true) => self.upgrade(&mut parts, shared),
                (TransportKind::WebSocket, false) => self.refuse(EngineError::BadRequest, None),
                (TransportKind::Polling, _) => match parts.method {
                    Method::GET => poll(&shared).await,
                    Method::POST => self.post(&parts, body, &shared).await,
                    _ => self.refuse(EngineError::BadRequest, None),
                },
            };
        }

        if parts.method != Method::GET {
            return self.refuse(EngineError::BadHandshakeMethod, None);
        }
        if transport == TransportKind::WebSocket && !websocket_request {
            return self.refuse(EngineError::BadRequest, None);
        }
        if let Some(allowed) = &self.config.allowed_origins
            && let Some(origin) = parts.headers.get(header::ORIGIN)
            && !allowed.contains(origin)
        {
            return self.refuse(EngineError::Forbidden, Some("Origin not allowed"));
        }
        if self.closing.load(Ordering::Acquire) {
            return status_response(StatusCode::SERVICE_UNAVAILABLE);
        }
        if let Some(allow_request) = &self.config.allow_request
            && let Err(refusal) = allow_request(&parts).await
        {
            return self.refuse(EngineError::Forbidden, refusal.message.as_deref());
        }
        if query.eio != Some("4") {
            return self.refuse(EngineError::UnsupportedProtocolVersion, None);
        }
        match transport {
            TransportKind::Polling => self.open_polling(parts).await,
            TransportKind::WebSocket => self.open_websocket(parts),
        }
    }

    /// Answers a refused request, counting it.
    fn refuse(&self, error: EngineError, message: Option<&str>) -> Response<ResponseBody> {
        self.refused[error.index()].fetch_add(1, Ordering::Relaxed);
        error_response(error, message)
    }

    fn new_sid(&self) -> Sid {
        loop {
            let sid = Sid::from_random(rand::random::<[u8; SID_RANDOM_BYTES]>());
            if self.registry.get(&sid).is_none() {
                return sid;
            }
        }
    }

    /// Creates a session whose place in the registry is reserved, and the task driving it.
    fn start_session(
        self: &Arc<Self>,
        sid: Sid,
        parts: Parts,
        transport: TransportKind,
        ws: Option<WsStream>,
    ) -> (Arc<Shared>, SessionDriver) {
        let shared = Arc::new(Shared::new(
            sid,
            parts,
            transport,
            self.config.max_buffered_bytes,
        ));
        let core = Session::new(
            sid,
            self.config.session.clone(),
            transport,
            self.clock.now(),
        );
        let handler = self
            .handler
            .on_connection(EngineSocket::new(shared.clone()));
        self.registry.insert(shared.clone());
        self.sessions_opened.fetch_add(1, Ordering::Relaxed);
        let driver = SessionDriver::new(
            self.clock,
            self.registry.clone(),
            shared.clone(),
            core,
            handler,
            ws,
        );
        (shared, driver)
    }

    fn set_cookie(&self, response: &mut Response<ResponseBody>, sid: Sid) {
        if let Some(value) = self
            .config
            .cookie
            .as_ref()
            .and_then(|cookie| cookie.header_value(sid.as_str()))
        {
            response.headers_mut().append(header::SET_COOKIE, value);
        }
    }

    async fn open_polling(self: Arc<Self>, parts: Parts) -> Response<ResponseBody> {
        if self.registry.reserve().is_err() {
            return self.refuse(EngineError::TooManySessions, None);
        }
        let sid = self.new_sid();
        let (shared, driver) = self.start_session(sid, parts, TransportKind::Polling, None);
        // The handshake request is the session's first GET.
        let (reply, answer) = oneshot::channel();
        let queued = shared.push_request(SessionRequest::Poll(reply)).is_ok();
        tokio::spawn(driver);
        if !queued {
            return error_response(EngineError::UnknownSid, None);
        }
        let mut response = poll_reply_response(answer.await);
        self.set_cookie(&mut response, sid);
        response
    }

    fn open_websocket(self: Arc<Self>, mut parts: Parts) -> Response<ResponseBody> {
        let (accept, on_upgrade) = match prepare_upgrade(&mut parts) {
            Ok(prepared) => prepared,
            Err(refusal) => return refusal.into_response(),
        };
        if self.registry.reserve().is_err() {
            return self.refuse(EngineError::TooManySessions, None);
        }
        let sid = self.new_sid();
        let engine = self.clone();
        tokio::spawn(async move {
            match on_upgrade.await {
                Ok(io) => {
                    let ws = ws::websocket(io, engine.max_payload());
                    let (_, driver) =
                        engine.start_session(sid, parts, TransportKind::WebSocket, Some(ws));
                    // A task of its own: awaited here, the driver would share a task with
                    // the upgrade's state, and every held connection would pay for both
                    // (measured with dhat: a 896-byte task per connection).
                    tokio::spawn(driver);
                }
                Err(error) => {
                    tracing::debug!(%error, "websocket upgrade failed");
                    engine.registry.release();
                }
            }
        });
        let mut response = switching_protocols(accept);
        self.set_cookie(&mut response, sid);
        response
    }

    /// A WebSocket carrying a session id: it probes for an upgrade of that session.
    fn upgrade(&self, parts: &mut Parts, shared: Arc<Shared>) -> Response<ResponseBody> {
        let (accept, on_upgrade) = match prepare_upgrade(parts) {
            Ok(prepared) => prepared,
            Err(refusal) => return refusal.into_response(),
        };
        let max_payload = self.max_payload();
        tokio::spawn(async move {
            let Ok(io) = on_upgrade.await else { return };
            let probe = Box::new(ws::websocket(io, max_payload));
            if let Err(SessionRequest::Probe(probe)) =
                shared.push_request(SessionRequest::Probe(probe))
            {
                ws::close_in_background(*probe);
            }
        });
        switching_protocols(accept)
    }

    fn max_payload(&self) -> usize {
        // Checked to fit in `usize` when the configuration was built.
        usize::try_from(self.config.session.max_payload).unwrap_or(usize::MAX)
    }

    async fn post<B>(&self, parts: &Parts, body: B, shared: &Shared) -> Response<ResponseBody>
    where
        B: Body + Send + 'static,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let binary = parts
            .headers
            .get(header::CONTENT_TYPE)
            .is_some_and(|value| value.as_bytes() == b"application/octet-stream");
        if binary {
            // Engine.IO v4 sends binary as base64 text over long-polling.
            let _ = shared.push_request(SessionRequest::TransportError);
            return error_response(EngineError::BadRequest, None);
        }
        if shared.post_active.swap(true, Ordering::AcqRel) {
            let _ = shared.push_request(SessionRequest::TransportError);
            return error_response(EngineError::BadRequest, None);
        }
        let mut guard = PostGuard {
            shared,
            done: false,
        };
        let response = self.read_and_post(parts, body, shared).await;
        guard.done = true;
        response
    }

    async fn read_and_post<B>(
        &self,
        parts: &Parts,
        body: B,
        shared: &Shared,
    ) -> Response<ResponseBody>
    where
        B: Body + Send + 'static,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let read = read_body(
            &parts.headers,
            body,
            self.max_payload(),
            self.config.request_body_timeout,
        );
        let body = match read.await {
            Ok(body) => body,
            Err(error) => {
                tracing::debug!(session = shared.log_id, ?error, "long-polling body refused");
                let _ = shared.push_request(SessionRequest::TransportError);
                return match error {
                    BodyError::TooLarge => status_response(StatusCode::PAYLOAD_TOO_LARGE),
                    BodyError::Timeout => status_response(StatusCode::REQUEST_TIMEOUT),
                    BodyError::Read => error_response(EngineError::BadRequest, None),
                };
            }
        };
        let (reply, answer) = oneshot::channel();
        if shared
            .push_request(SessionRequest::Post { body, reply })
            .is_err()
        {
            return error_response(EngineError::UnknownSid, None);
        }
        match answer.await {
            // text/html, not text/plain, avoids a download dialog in some browsers (Node).
            Ok(Ok(())) => text_response("text/html", Bytes::from_static(b"ok")),
            Ok(Err(PostError::Parse | PostError::TransportMismatch)) => {
                error_response(EngineError::BadRequest, None)
            }
            Ok(Err(PostError::Closed)) | Err(_) => error_response(EngineError::UnknownSid, None),
        }
    }
}

/// Ends a POST: lets the next one in, and if the client went away before the body was
/// read and handed over, fails the transport as Node does.
struct PostGuard<'a> {
    shared: &'a Shared,
    done: bool,
}

impl Drop for PostGuard<'_> {
    fn drop(&mut self) {
        self.shared.post_active.store(false, Ordering::Release);
        if !self.done {
            let _ = self.shared.push_request(SessionRequest::TransportError);
        }
    }
}

async fn poll(shared: &Shared) -> Response<ResponseBody> {
    let (reply, answer) = oneshot::channel();
    if shared.push_request(SessionRequest::Poll(reply)).is_err() {
        return error_response(EngineError::UnknownSid, None);
    }
    // If the client goes away, this future is dropped with `answer`, and the session's task
    // sees its pending GET aborted.
    poll_reply_response(answer.await)
}

/// Why a WebSocket opening handshake is refused.
enum UpgradeRefusal {
    Method,
    Handshake(HandshakeError),
    /// The request did not come through a hyper server that supports upgrades.
    Unsupported,
}

impl UpgradeRefusal {
    fn into_response(self) -> Response<ResponseBody> {
        match self {
            UpgradeRefusal::Method => status_response(StatusCode::METHOD_NOT_ALLOWED),
            UpgradeRefusal::Handshake(HandshakeError::Version) => {
                let mut response = error_response(EngineError::BadRequest, None);
                response.headers_mut().insert(
                    header::SEC_WEBSOCKET_VERSION,
                    HeaderValue::from_static("13"),
                );
                response
            }
            UpgradeRefusal::Handshake(HandshakeError::Key) => {
                error_response(EngineError::BadRequest, None)
            }
            UpgradeRefusal::Unsupported => {
                error_response(EngineError::BadRequest, Some("Upgrades are not supported"))
            }
        }
    }
}

/// Checks a WebSocket opening handshake and takes hyper's upgrade future from the request.
fn prepare_upgrade(
    parts: &mut Parts,
) -> Result<(HeaderValue, hyper::upgrade::OnUpgrade), UpgradeRefusal> {
    if parts.method != Method::GET {
        return Err(UpgradeRefusal::Method);
    }
    let accept = ws::accept_key(&parts.headers).map_err(UpgradeRefusal::Handshake)?;
    let on_upgrade = parts
        .extensions
        .remove::<hyper::upgrade::OnUpgrade>()
        .ok_or(UpgradeRefusal::Unsupported)?;
    Ok((accept, on_upgrade))
}

fn switching_protocols(accept: HeaderValue) -> Response<ResponseBody> {
    let mut response = Response::new(ResponseBody::default());
    *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let headers = response.headers_mut();
    headers.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
    headers.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
    headers.insert(header::SEC_WEBSOCKET_ACCEPT, accept);
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_parsing_takes_the_last_value() {
        let query = Query::parse(Some(
            "EIO=4&transport=polling&t=N8hyd6w&transport=websocket&sid=x",
        ));
        assert_eq!(query.eio, Some("4"));
        assert_eq!(query.transport, Some("websocket"));
        assert_eq!(query.sid, Some("x"));
        let empty = Query::parse(None);
        assert!(empty.eio.is_none() && empty.transport.is_none() && empty.sid.is_none());
        let bare = Query::parse(Some("EIO&transport="));
        assert_eq!((bare.eio, bare.transport), (Some(""), Some("")));
    }
}
