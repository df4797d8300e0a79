//! Serving a tower service on a TCP listener with hyper: HTTP/1.1 with upgrades, limits on
//! request headers, and graceful shutdown.

use std::future::{Future, IntoFuture};
use std::io;
use std::pin::Pin;
use std::time::Duration;

use http::{Request, Response};
use http_body::Body;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tower_service::Service;

use crate::head::RemoteAddr;

type BoxError = Box<dyn std::error::Error + Send + Sync>;
type Signal = Pin<Box<dyn Future<Output = ()> + Send>>;

/// hyper's limit on headers per request when none is set.
const HYPER_MAX_HEADERS: usize = 100;

/// Serves `service` on `listener`; see [`Serve`] for the options. Await it to run.
///
/// Each request carries a [`RemoteAddr`] extension. Connections use `TCP_NODELAY`.
pub fn serve<S>(listener: TcpListener, service: S) -> Serve<S> {
    Serve {
        listener,
        service,
        signal: Box::pin(std::future::pending()),
        header_read_timeout: Duration::from_secs(10),
        max_headers: HYPER_MAX_HEADERS,
        max_header_bytes: 16 * 1024,
        drain_timeout: Duration::from_secs(10),
        #[cfg(feature = "tls")]
        tls: None,
    }
}

/// A server about to run; await it. Built by [`serve`].
#[must_use = "a server does nothing until awaited"]
pub struct Serve<S> {
    listener: TcpListener,
    service: S,
    signal: Signal,
    header_read_timeout: Duration,
    max_headers: usize,
    max_header_bytes: usize,
    drain_timeout: Duration,
    #[cfg(feature = "tls")]
    tls: Option<tokio_rustls::TlsAcceptor>,
}

impl<S> std::fmt::Debug for Serve<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Serve")
            .field("listener", &self.listener)
            .field("header_read_timeout", &self.header_read_timeout)
            .field("max_headers", &self.max_headers)
            .field("max_header_bytes", &self.max_header_bytes)
            .finish_non_exhaustive()
    }
}

impl<S> Serve<S> {
    /// Stops accepting when `signal` completes, lets each connection finish its request
    /// in flight, and returns once they have (or after the drain timeout). To close
    /// Engine.IO sessions too, have the signal call [`EngineIo::close`](crate::EngineIo::close)
    /// before it completes.
    pub fn with_graceful_shutdown<F>(mut self, signal: F) -> Self
    where
        F: Future<Output = ()> + Send + 'static,
    {
        self.signal = Box::pin(signal);
        self
    }

    /// Time a client has to send a request's headers (default 10 s): a slow-loris client
    /// is disconnected.
    pub fn header_read_timeout(mut self, timeout: Duration) -> Self {
        self.header_read_timeout = timeout;
        self
    }

    /// Most headers in one request (default 100); more gets 431.
    pub fn max_headers(mut self, max: usize) -> Self {
        self.max_headers = max;
        self
    }

    /// Most bytes of request line and headers (default 16 KiB); more gets 431.
    pub fn max_header_bytes(mut self, max: usize) -> Self {
        self.max_header_bytes = max;
        self
    }

    /// Longest wait for connections to finish after the shutdown signal (default 10 s).
    pub fn drain_timeout(mut self, timeout: Duration) -> Self {
        self.drain_timeout = timeout;
        self
    }

    /// Serves HTTPS (and WSS) with this rustls acceptor (feature `tls`). The TLS handshake
    /// must complete within the header read timeout.
    #[cfg(feature = "tls")]
    pub fn tls(mut self, acceptor: tokio_rustls::TlsAcceptor) -> Self {
        self.tls = Some(acceptor);
        self
    }
}

impl<S, B> IntoFuture for Serve<S>
where
    S: Service<Request<Incoming>, Response = Response<B>> + Clone + Send + 'static,
    S::Future: Send,
    S::Error: Into<BoxError>,
    B: Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<BoxError>,
{
    type Output = io::Result<()>;
    type IntoFuture = Pin<Box<dyn Future<Output = io::Result<()>> + Send>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.run())
    }
}

impl<S, B> Serve<S>
where
    S: Service<Request<Incoming>, Response = Response<B>> + Clone + Send + 'static,
    S::Future: Send,
    S::Error: Into<BoxError>,
    B: Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<BoxError>,
{
    async fn run(self) -> io::Result<()> {
        let mut builder = hyper::server::conn::http1::Builder::new();
        builder
            .timer(TokioTimer::new())
            .header_read_timeout(self.header_read_timeout)
            .max_header_size(self.max_header_bytes)
            .keep_alive(true);
        // hyper's own limit is 100. Setting any limit, even that one, makes hyper fill a
        // 100-slot array for every request: 1 700 instructions per request (callgrind,
        // `bench/run.sh poll-echo`), 7 % of a long-polling round trip's.
        if self.max_headers != HYPER_MAX_HEADERS {
            builder.max_headers(self.max_headers);
        }
        // Receivers count the open connections; the sender signals shutdown to them.
        let (shutdown, connections) = watch::channel(());
        let mut signal = self.signal;
        loop {
            let (stream, remote) = tokio::select! {
                biased;
                () = &mut signal => break,
                accepted = self.listener.accept() => match accepted {
                    Ok(accepted) => accepted,
                    Err(error) => {
                        // Out of descriptors or a connection reset before accept: wait
                        // a little rather than spin.
                        tracing::warn!(%error, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                },
            };
            let _ = stream.set_nodelay(true);
            let service = self.service.clone();
            let hyper_service =
                hyper::service::service_fn(move |mut request: Request<Incoming>| {
                    request.extensions_mut().insert(RemoteAddr(remote));
                    let mut service = service.clone();
                    async move {
                        std::future::poll_fn(|cx| service.poll_ready(cx)).await?;
                        service.call(request).await
                    }
                });
            let builder = builder.clone();
            let stop = connections.clone();
            #[cfg(feature = "tls")]
            if let Some(acceptor) = self.tls.clone() {
                let handshake_timeout = self.header_read_timeout;
                tokio::spawn(async move {
                    match tokio::time::timeout(handshake_timeout, acceptor.accept(stream)).await {
                        Ok(Ok(stream)) => {
                            let connection = builder
                                .serve_connection(TokioIo::new(stream), hyper_service)
                                .with_upgrades();
                            run_connection(connection, stop).await;
                        }
                        Ok(Err(error)) => tracing::debug!(%error, "TLS handshake failed"),
                        Err(_) => tracing::debug!("TLS handshake timed out"),
                    }
                });
                continue;
            }
            tokio::spawn(async move {
                let connection = builder
                    .serve_connection(TokioIo::new(stream), hyper_service)
                    .with_upgrades();
                run_connection(connection, stop).await;
            });
        }
        drop(self.listener);
        drop(connections);
        let _ = shutdown.send(());
        let _ = tokio::time::timeout(self.drain_timeout, shutdown.closed()).await;
        Ok(())
    }
}

/// Runs a connection until it ends or, after the shutdown signal, finishes its request.
async fn run_connection<C>(connection: C, mut stop: watch::Receiver<()>)
where
    C: GracefulConnection,
{
    let mut connection = std::pin::pin!(connection);
    tokio::select! {
        result = connection.as_mut() => log_connection_end(result),
        _ = stop.changed() => {
            connection.as_mut().shut_down();
            log_connection_end(connection.await);
        }
    }
    drop(stop);
}

/// A hyper connection over any transport (TCP or TLS).
trait GracefulConnection: Future<Output = Result<(), hyper::Error>> {
    fn shut_down(self: Pin<&mut Self>);
}

impl<I, S, B> GracefulConnection for hyper::server::conn::http1::UpgradeableConnection<I, S>
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
    S: hyper::service::HttpService<Incoming, ResBody = B>,
    S::Error: Into<BoxError>,
    B: Body + 'static,
    B::Error: Into<BoxError>,
{
    fn shut_down(self: Pin<&mut Self>) {
        self.graceful_shutdown();
    }
}

fn log_connection_end(result: Result<(), hyper::Error>) {
    if let Err(error) = result {
        tracing::debug!(%error, "connection ended with an error");
    }
}
