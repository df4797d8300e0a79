//! Server options, with the Node.js server's defaults, and their validation.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use engineio_proto::SessionConfig;
use http::request::Parts;
use http::{HeaderName, HeaderValue, Method};
use tower_http::cors::{AllowHeaders, AllowOrigin, CorsLayer};

/// A problem with the options given to [`EngineIoBuilder`]: the caller's mistake, reported
/// when the server is built rather than when a client connects.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError(String);

impl ConfigError {
    pub(crate) fn new(message: impl Into<String>) -> Self {
        ConfigError(message.into())
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid Engine.IO configuration: {}", self.0)
    }
}

impl std::error::Error for ConfigError {}

/// A refusal from an [`allow_request`](EngineIoBuilder::allow_request) hook: the client
/// gets HTTP 403 with `{"code":4,"message":…}`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Refusal {
    pub(crate) message: Option<String>,
}

impl Refusal {
    /// A refusal whose message is Node's default, `Forbidden`.
    pub fn new() -> Self {
        Refusal { message: None }
    }

    /// A refusal with a message for the client.
    pub fn with_message(message: impl Into<String>) -> Self {
        Refusal {
            message: Some(message.into()),
        }
    }
}

pub(crate) type AllowRequestFuture = Pin<Box<dyn Future<Output = Result<(), Refusal>> + Send>>;
pub(crate) type AllowRequest = Arc<dyn Fn(&Parts) -> AllowRequestFuture + Send + Sync>;
type OriginPredicate = Arc<dyn Fn(&HeaderValue, &Parts) -> bool + Send + Sync>;

/// Cross-origin resource sharing for long-polling requests from browsers.
///
/// Off by default: a request from another origin gets no `Access-Control-Allow-*` header.
/// (WebSocket connections are not subject to CORS; to refuse foreign origins on every
/// transport use [`EngineIoBuilder::allowed_origins`].)
#[derive(Clone)]
pub struct Cors {
    origin: CorsOrigin,
    credentials: bool,
    allowed_headers: Option<Vec<HeaderName>>,
    max_age: Option<Duration>,
}

#[derive(Clone)]
enum CorsOrigin {
    Any,
    Mirror,
    List(Vec<HeaderValue>),
    Predicate(OriginPredicate),
}

impl fmt::Debug for Cors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let origin = match &self.origin {
            CorsOrigin::Any => "any".to_owned(),
            CorsOrigin::Mirror => "mirror request".to_owned(),
            CorsOrigin::List(list) => format!("{list:?}"),
            CorsOrigin::Predicate(_) => "predicate".to_owned(),
        };
        f.debug_struct("Cors")
            .field("origin", &origin)
            .field("credentials", &self.credentials)
            .finish_non_exhaustive()
    }
}

impl Cors {
    fn with_origin(origin: CorsOrigin) -> Self {
        Cors {
            origin,
            credentials: false,
            allowed_headers: None,
            max_age: None,
        }
    }

    /// Any origin: `Access-Control-Allow-Origin: *` (Node's `origin: "*"`). Cannot be combined
    /// with credentials.
    pub fn any() -> Self {
        Self::with_origin(CorsOrigin::Any)
    }

    /// Reflect whatever origin the request names (Node's `origin: true`).
    pub fn mirror_request() -> Self {
        Self::with_origin(CorsOrigin::Mirror)
    }

    /// Exactly these origins, each `scheme://host[:port]`, compared byte for byte.
    pub fn origins<I, S>(origins: I) -> Result<Self, ConfigError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let list = parse_origins(origins)?;
        Ok(Self::with_origin(CorsOrigin::List(list)))
    }

    /// Origins for which `allow` returns true.
    pub fn predicate<F>(allow: F) -> Self
    where
        F: Fn(&HeaderValue, &Parts) -> bool + Send + Sync + 'static,
    {
        Self::with_origin(CorsOrigin::Predicate(Arc::new(allow)))
    }

    /// Sends `Access-Control-Allow-Credentials: true`, so browsers include cookies.
    pub fn credentials(mut self, allow: bool) -> Self {
        self.credentials = allow;
        self
    }

    /// Request headers a browser may send; by default those a preflight asks for.
    pub fn allowed_headers<I: IntoIterator<Item = HeaderName>>(mut self, headers: I) -> Self {
        self.allowed_headers = Some(headers.into_iter().collect());
        self
    }

    /// How long browsers may cache a preflight answer.
    pub fn max_age(mut self, max_age: Duration) -> Self {
        self.max_age = Some(max_age);
        self
    }

    pub(crate) fn into_layer(self) -> Result<CorsLayer, ConfigError> {
        let origin = match self.origin {
            CorsOrigin::Any if self.credentials => {
                return Err(ConfigError::new(
                    "CORS credentials cannot be allowed for any origin (`*`); list the origins",
                ));
            }
            CorsOrigin::Any => AllowOrigin::any(),
            CorsOrigin::Mirror => AllowOrigin::mirror_request(),
            CorsOrigin::List(list) => AllowOrigin::list(list),
            CorsOrigin::Predicate(predicate) => {
                AllowOrigin::predicate(move |origin, parts| predicate(origin, parts))
            }
        };
        let headers = match self.allowed_headers {
            Some(list) => AllowHeaders::list(list),
            None => AllowHeaders::mirror_request(),
        };
        let mut layer = CorsLayer::new()
            .allow_origin(origin)
            .allow_methods([Method::GET, Method::POST])
            .allow_headers(headers)
            .allow_credentials(self.credentials);
        if let Some(max_age) = self.max_age {
            layer = layer.max_age(max_age);
        }
        Ok(layer)
    }
}

/// Parses `scheme://host[:port]` origins, refusing paths, queries and wildcards, which
/// would never match what browsers send.
pub(crate) fn parse_origins<I, S>(origins: I) -> Result<Vec<HeaderValue>, ConfigError>
where
    I: IntoIterator<Item = S>,
    S: AsRef<str>,
{
    origins
        .into_iter()
        .map(|origin| {
            let origin = origin.as_ref();
            let valid = match origin.split_once("://") {
                Some((scheme, host)) => {
                    !scheme.is_empty()
                        && scheme
                            .bytes()
                            .all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b))
                        && !host.is_empty()
                        && !host.contains(['/', '?', '#', '*', ' ', '@'])
                }
                None => origin == "null",
            };
            if !valid {
                return Err(ConfigError::new(format!(
                    "origin {origin:?} is not of the form scheme://host[:port]"
                )));
            }
            HeaderValue::from_str(origin)
                .map_err(|_| ConfigError::new(format!("origin {origin:?} is not a header value")))
        })
        .collect()
}

/// `SameSite` attribute of the session cookie.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SameSite {
    /// `SameSite=Strict`.
    Strict,
    /// `SameSite=Lax` (the default).
    Lax,
    /// `SameSite=None` (browsers require `Secure` with it).
    None,
}

/// The session cookie that the handshake response sets (Node's `cookie` option), holding
/// the session id; useful for sticky sessions behind a load balancer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cookie {
    name: String,
    path: String,
    http_only: bool,
    same_site: Option<SameSite>,
    secure: bool,
    max_age: Option<Duration>,
    domain: Option<String>,
}

impl Default for Cookie {
    /// `io=<sid>; Path=/; HttpOnly; SameSite=Lax`, as Node sets it.
    fn default() -> Self {
        Cookie {
            name: "io".to_owned(),
            path: "/".to_owned(),
            http_only: true,
            same_site: Some(SameSite::Lax),
            secure: false,
            max_age: None,
            domain: None,
        }
    }
}

impl Cookie {
    /// The cookie's name (default `io`).
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// The `Path` attribute (default `/`).
    pub fn path(mut self, path: impl Into<String>) -> Self {
        self.path = path.into();
        self
    }

    /// The `HttpOnly` attribute (default on).
    pub fn http_only(mut self, on: bool) -> Self {
        self.http_only = on;
        self
    }

    /// The `SameSite` attribute (default `Lax`); `None` here leaves it out.
    pub fn same_site(mut self, same_site: Option<SameSite>) -> Self {
        self.same_site = same_site;
        self
    }

    /// The `Secure` attribute (default off).
    pub fn secure(mut self, on: bool) -> Self {
        self.secure = on;
        self
    }

    /// The `Max-Age` attribute (default none: a session cookie).
    pub fn max_age(mut self, max_age: Duration) -> Self {
        self.max_age = Some(max_age);
        self
    }

    /// The `Domain` attribute (default none).
    pub fn domain(mut self, domain: impl Into<String>) -> Self {
        self.domain = Some(domain.into());
        self
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let token = |s: &str| {
            !s.is_empty()
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
        };
        let attribute = |s: &str| s.bytes().all(|b| (0x21..0x7f).contains(&b) && b != b';');
        if !token(&self.name) {
            return Err(ConfigError::new(format!(
                "cookie name {:?} is not a token",
                self.name
            )));
        }
        if !attribute(&self.path) || self.domain.as_deref().is_some_and(|d| !attribute(d)) {
            return Err(ConfigError::new(
                "cookie path or domain has invalid characters",
            ));
        }
        Ok(())
    }

    /// The `Set-Cookie` value for a session id (which is URL-safe base64, so it needs no
    /// escaping).
    pub(crate) fn header_value(&self, sid: &str) -> Option<HeaderValue> {
        let mut value = format!("{}={}; Path={}", self.name, sid, self.path);
        if let Some(domain) = &self.domain {
            value.push_str("; Domain=");
            value.push_str(domain);
        }
        if let Some(max_age) = self.max_age {
            value.push_str(&format!("; Max-Age={}", max_age.as_secs()));
        }
        if self.http_only {
            value.push_str("; HttpOnly");
        }
        if self.secure {
            value.push_str("; Secure");
        }
        match self.same_site {
            Some(SameSite::Strict) => value.push_str("; SameSite=Strict"),
            Some(SameSite::Lax) => value.push_str("; SameSite=Lax"),
            Some(SameSite::None) => value.push_str("; SameSite=None"),
            None => {}
        }
        HeaderValue::from_str(&value).ok()
    }
}

/// Which transports the server accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Transports {
    /// HTTP long-polling.
    pub polling: bool,
    /// WebSocket, directly or by upgrade from long-polling.
    pub websocket: bool,
}

impl Default for Transports {
    fn default() -> Self {
        Transports {
            polling: true,
            websocket: true,
        }
    }
}

/// Every option of a server, validated.
#[derive(Clone)]
pub(crate) struct EngineConfig {
    pub(crate) path: String,
    pub(crate) session: std::sync::Arc<SessionConfig>,
    pub(crate) transports: Transports,
    pub(crate) cors: Option<CorsLayer>,
    pub(crate) allowed_origins: Option<Vec<HeaderValue>>,
    pub(crate) allow_request: Option<AllowRequest>,
    pub(crate) cookie: Option<Cookie>,
    pub(crate) max_sessions: usize,
    pub(crate) max_buffered_bytes: usize,
    pub(crate) request_body_timeout: Duration,
}

/// Builds an [`EngineIo`](crate::EngineIo) server. Every limit has a safe default.
#[derive(Clone)]
#[must_use]
pub struct EngineIoBuilder {
    path: String,
    session: SessionConfig,
    transports: Transports,
    cors: Option<Cors>,
    allowed_origins: Option<Result<Vec<HeaderValue>, ConfigError>>,
    allow_request: Option<AllowRequest>,
    cookie: Option<Cookie>,
    max_sessions: usize,
    max_buffered_bytes: usize,
    request_body_timeout: Duration,
}

impl Default for EngineIoBuilder {
    fn default() -> Self {
        EngineIoBuilder {
            path: "/engine.io/".to_owned(),
            session: SessionConfig::default(),
            transports: Transports::default(),
            cors: None,
            allowed_origins: None,
            allow_request: None,
            cookie: None,
            max_sessions: 100_000,
            max_buffered_bytes: 1_000_000,
            request_body_timeout: Duration::from_secs(30),
        }
    }
}

impl fmt::Debug for EngineIoBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EngineIoBuilder")
            .field("path", &self.path)
            .field("session", &self.session)
            .field("transports", &self.transports)
            .field("cors", &self.cors)
            .field("cookie", &self.cookie)
            .field("max_sessions", &self.max_sessions)
            .field("max_buffered_bytes", &self.max_buffered_bytes)
            .finish_non_exhaustive()
    }
}

impl EngineIoBuilder {
    /// The path the server answers under (default `/engine.io/`; Socket.IO uses
    /// `/socket.io/`). Requests whose path starts with it are Engine.IO requests.
    pub fn path(mut self, path: impl Into<String>) -> Self {
        self.path = path.into();
        self
    }

    /// Time between a pong and the next ping (default 25 s).
    pub fn ping_interval(mut self, interval: Duration) -> Self {
        self.session.ping_interval = interval;
        self
    }

    /// Time a client has to answer a ping (default 20 s).
    pub fn ping_timeout(mut self, timeout: Duration) -> Self {
        self.session.ping_timeout = timeout;
        self
    }

    /// Time a WebSocket has to complete an upgrade from long-polling (default 10 s).
    pub fn upgrade_timeout(mut self, timeout: Duration) -> Self {
        self.session.upgrade_timeout = timeout;
        self
    }

    /// Time a closing long-polling session waits for a GET to deliver the `close` packet
    /// (default 30 s).
    pub fn close_timeout(mut self, timeout: Duration) -> Self {
        self.session.close_timeout = timeout;
        self
    }

    /// Largest message or long-polling body accepted, in bytes (Node's `maxHttpBufferSize`,
    /// default 1 000 000). Checked before the bytes are buffered: a larger POST gets 413 and
    /// a larger WebSocket message closes the connection with 1009; either ends the session.
    pub fn max_payload(mut self, bytes: u64) -> Self {
        self.session.max_payload = bytes;
        self
    }

    /// Whether long-polling sessions may upgrade to WebSocket (default true).
    pub fn allow_upgrades(mut self, allow: bool) -> Self {
        self.session.allow_upgrades = allow;
        self
    }

    /// The transports accepted (default both).
    pub fn transports(mut self, transports: Transports) -> Self {
        self.transports = transports;
        self
    }

    /// CORS headers for browsers on other origins (default none).
    pub fn cors(mut self, cors: Cors) -> Self {
        self.cors = Some(cors);
        self
    }

    /// Refuses handshakes (long-polling and WebSocket) whose `Origin` header is present
    /// and not one of these, with 403. This is what stops cross-site WebSocket hijacking,
    /// which CORS does not. Requests without `Origin` (non-browser clients) pass.
    pub fn allowed_origins<I, S>(mut self, origins: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        self.allowed_origins = Some(parse_origins(origins));
        self
    }

    /// A hook that sees each handshake request (headers, query, origin, remote address
    /// through the [`RemoteAddr`](crate::RemoteAddr) extension) before a session exists,
    /// and may refuse it. The synchronous part reads the request; the future it returns
    /// decides.
    ///
    /// ```
    /// use engineio::{EngineIo, Refusal};
    /// let builder = EngineIo::builder().allow_request(|request| {
    ///     let token = request.headers.get("x-token").cloned();
    ///     async move {
    ///         match token {
    ///             Some(token) if token == "secret" => Ok(()),
    ///             _ => Err(Refusal::with_message("bad token")),
    ///         }
    ///     }
    /// });
    /// ```
    pub fn allow_request<F, Fut>(mut self, hook: F) -> Self
    where
        F: Fn(&Parts) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), Refusal>> + Send + 'static,
    {
        self.allow_request = Some(Arc::new(move |parts| Box::pin(hook(parts))));
        self
    }

    /// Sets a cookie holding the session id on the handshake response (default none).
    pub fn cookie(mut self, cookie: Cookie) -> Self {
        self.cookie = Some(cookie);
        self
    }

    /// Most sessions open at once (default 100 000); handshakes past it get 503.
    pub fn max_sessions(mut self, max: usize) -> Self {
        self.max_sessions = max;
        self
    }

    /// Most bytes of messages queued for one session and not yet written (default
    /// 1 000 000). Past it, [`EngineSocket::try_send`](crate::EngineSocket::try_send)
    /// fails with `Full` and [`EngineSocket::send`](crate::EngineSocket::send) waits.
    pub fn max_buffered_bytes(mut self, bytes: usize) -> Self {
        self.max_buffered_bytes = bytes;
        self
    }

    /// Time a client has to send the body of a long-polling POST (default 30 s).
    pub fn request_body_timeout(mut self, timeout: Duration) -> Self {
        self.request_body_timeout = timeout;
        self
    }

    pub(crate) fn into_config(self) -> Result<EngineConfig, ConfigError> {
        if !self.path.starts_with('/') {
            return Err(ConfigError::new("the path must start with '/'"));
        }
        if !self.transports.polling && !self.transports.websocket {
            return Err(ConfigError::new("at least one transport must be enabled"));
        }
        let session = &self.session;
        for (name, value) in [
            ("ping_interval", session.ping_interval),
            ("ping_timeout", session.ping_timeout),
            ("upgrade_timeout", session.upgrade_timeout),
            ("request_body_timeout", self.request_body_timeout),
        ] {
            if value.is_zero() {
                return Err(ConfigError::new(format!("{name} must be more than zero")));
            }
        }
        if session.max_payload == 0 || usize::try_from(session.max_payload).is_err() {
            return Err(ConfigError::new(
                "max_payload must be more than zero and fit in memory",
            ));
        }
        if self.max_sessions == 0 {
            return Err(ConfigError::new("max_sessions must be more than zero"));
        }
        if let Some(cookie) = &self.cookie {
            cookie.validate()?;
        }
        let mut session = self.session;
        if !self.transports.websocket {
            session.allow_upgrades = false;
        }
        Ok(EngineConfig {
            path: self.path,
            session: session.into(),
            transports: self.transports,
            cors: self.cors.map(Cors::into_layer).transpose()?,
            allowed_origins: self.allowed_origins.transpose()?,
            allow_request: self.allow_request,
            cookie: self.cookie,
            max_sessions: self.max_sessions,
            max_buffered_bytes: self.max_buffered_bytes,
            request_body_timeout: self.request_body_timeout,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_with_any_origin_is_refused() {
        let error = EngineIoBuilder::default()
            .cors(Cors::any().credentials(true))
            .into_config()
            .err()
            .unwrap();
        assert!(error.to_string().contains("credentials"), "{error}");
        assert!(
            EngineIoBuilder::default()
                .cors(
                    Cors::origins(["https://a.example"])
                        .unwrap()
                        .credentials(true)
                )
                .into_config()
                .is_ok()
        );
    }

    #[test]
    fn origins_must_be_scheme_host_port() {
        assert!(parse_origins(["https://a.example:8443", "http://localhost", "null"]).is_ok());
        for bad in [
            "https://a.example/",
            "a.example",
            "https://*.example",
            "https://a.example?x",
            "://x",
        ] {
            assert!(parse_origins([bad]).is_err(), "{bad}");
        }
    }

    #[test]
    fn cookie_header() {
        let cookie = Cookie::default();
        assert_eq!(
            cookie.header_value("abc").unwrap(),
            "io=abc; Path=/; HttpOnly; SameSite=Lax"
        );
        let cookie = Cookie::default()
            .name("sticky")
            .secure(true)
            .same_site(Some(SameSite::None))
            .max_age(Duration::from_secs(60));
        assert_eq!(
            cookie.header_value("abc").unwrap(),
            "sticky=abc; Path=/; Max-Age=60; HttpOnly; Secure; SameSite=None"
        );
        assert!(
            EngineIoBuilder::default()
                .cookie(Cookie::default().name("bad name"))
                .into_config()
                .is_err()
        );
    }

    #[test]
    fn zero_limits_are_refused() {
        assert!(
            EngineIoBuilder::default()
                .ping_interval(Duration::ZERO)
                .into_config()
                .is_err()
        );
        assert!(
            EngineIoBuilder::default()
                .max_payload(0)
                .into_config()
                .is_err()
        );
        assert!(
            EngineIoBuilder::default()
                .max_sessions(0)
                .into_config()
                .is_err()
        );
        assert!(
            EngineIoBuilder::default()
                .transports(Transports {
                    polling: false,
                    websocket: false
                })
                .into_config()
                .is_err()
        );
    }
}
