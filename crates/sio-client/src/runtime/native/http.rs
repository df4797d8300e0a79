//! Long-polling requests through hyper's pooled client, over TCP or rustls.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::header::{ACCEPT, CONTENT_TYPE, HeaderName, HeaderValue};
use http::{Request, StatusCode, Uri};
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use super::net::{Connector, describe};
use super::websocket::{self, WebSocket};
use crate::options::ManagerOptions;
use crate::platform::BoxFuture;
use crate::runtime::Method;

#[derive(Clone)]
struct Shared {
    client: Client<Connector, Full<Bytes>>,
    connector: Connector,
}

/// A manager's HTTP side: its pooled client, its extra headers and the response limit.
/// How long a POST, or a WebSocket's opening handshake, may take.
pub(crate) const WRITE_TIMEOUT: Duration = Duration::from_secs(20);

pub(crate) struct Http {
    inner: Result<Arc<Inner>, String>,
}

struct Inner {
    shared: Shared,
    headers: Vec<(HeaderName, HeaderValue)>,
    max_payload: usize,
}

/// A manager's client. Each manager has its own (a pool bound to one runtime: managers
/// on different runtimes must not share connections); the TLS settings, whose system
/// roots are read once, are shared.
fn shared(options: &crate::options::TlsOptions) -> Result<Shared, String> {
    let tls = super::tls::config(options)?;
    let mut http = HttpConnector::new();
    http.set_nodelay(true);
    http.enforce_http(false);
    let connector = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config((*tls).clone())
        .https_or_http()
        .enable_http1()
        .wrap_connector(http);
    let client = Client::builder(TokioExecutor::new()).build(connector.clone());
    Ok(Shared { client, connector })
}

impl Http {
    pub(crate) fn new(options: &ManagerOptions) -> Self {
        let inner = shared(&options.tls).and_then(|shared| {
            let headers = options
                .extra_headers
                .iter()
                .map(|(name, value)| {
                    let name = HeaderName::try_from(name.as_str())
                        .map_err(|_| format!("invalid header name {name:?}"))?;
                    let value = HeaderValue::try_from(value.as_str())
                        .map_err(|_| format!("invalid value for header {name}"))?;
                    Ok((name, value))
                })
                .collect::<Result<Vec<_>, String>>()?;
            Ok(Arc::new(Inner {
                shared,
                headers,
                max_payload: options.max_incoming_payload,
            }))
        });
        if let Err(error) = &inner {
            tracing::error!(%error, "this client cannot connect");
        }
        Http { inner }
    }

    /// A GET or a POST; the body of a 200 answer.
    pub(crate) fn request(
        &self,
        method: Method,
        url: String,
        body: Option<Bytes>,
    ) -> BoxFuture<'static, Result<Bytes, String>> {
        let inner = self.inner.clone();
        Box::pin(async move {
            let inner = inner?;
            let mut request = Request::builder()
                .method(match method {
                    Method::Get => http::Method::GET,
                    Method::Post => http::Method::POST,
                })
                .uri(url.parse::<Uri>().map_err(|error| error.to_string())?)
                .header(ACCEPT, "*/*");
            if method == Method::Post {
                request = request.header(CONTENT_TYPE, "text/plain;charset=UTF-8");
            }
            for (name, value) in &inner.headers {
                request = request.header(name, value);
            }
            let request = request
                .body(Full::new(body.unwrap_or_default()))
                .map_err(|error| error.to_string())?;
            let sent = inner.shared.client.request(request);
            // A GET waits for the server as long as the heartbeat lets it; a POST is
            // answered at once by a live server, and one that hangs is given up on (old
            // sessions' goodbye POSTs must not pile up behind a half-dead server).
            let response = match method {
                Method::Get => sent.await,
                Method::Post => tokio::time::timeout(WRITE_TIMEOUT, sent)
                    .await
                    .map_err(|_| "the POST timed out".to_owned())?,
            }
            .map_err(|error| describe(&error))?;
            if response.status() != StatusCode::OK {
                return Err(format!("HTTP {}", response.status().as_u16()));
            }
            let body = Limited::new(response.into_body(), inner.max_payload)
                .collect()
                .await
                .map_err(|error| error.to_string())?;
            Ok(body.to_bytes())
        })
    }

    /// Opens a WebSocket to `url` (`ws` or `wss`).
    pub(crate) fn websocket(&self, url: String) -> BoxFuture<'static, Result<WebSocket, String>> {
        let inner = self.inner.clone();
        Box::pin(async move {
            let inner = inner?;
            let connecting = websocket::connect(
                inner.shared.connector.clone(),
                &url,
                &inner.headers,
                inner.max_payload,
            );
            tokio::time::timeout(WRITE_TIMEOUT, connecting)
                .await
                .map_err(|_| "the WebSocket handshake timed out".to_owned())?
        })
    }
}
