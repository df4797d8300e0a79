//! socketio-gateway: a standalone Socket.IO server. Browsers connect with the official
//! client (served at `/socket.io/socket.io.js`); any backend pushes events to them with
//! `POST /api/v1/emit`. `cargo run --release` starts it on 127.0.0.1:3000 with a demo chat
//! at `/`; `--help` lists the options.

mod api;
mod app;
mod assets;
mod auth;
mod cluster;
mod config;
mod demo;
mod metrics;

use std::sync::Arc;

use clap::Parser;
use tokio::net::TcpListener;

use crate::config::{Cli, LogFormat, Settings};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

fn init_logs(settings: &Settings) -> Result<(), BoxError> {
    let filter = tracing_subscriber::EnvFilter::try_new(&settings.log)
        .map_err(|error| format!("--log {:?}: {error}", settings.log))?;
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match settings.log_format {
        LogFormat::Pretty => logs.init(),
        LogFormat::Json => logs.json().init(),
    }
    Ok(())
}

fn tls_acceptor(settings: &Settings) -> Result<Option<tokio_rustls::TlsAcceptor>, BoxError> {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::{CertificateDer, PrivateKeyDer};

    let Some((cert, key)) = &settings.tls else {
        return Ok(None);
    };
    let chain = CertificateDer::pem_file_iter(cert)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|error| format!("--tls-cert {}: {error}", cert.display()))?;
    let key = PrivateKeyDer::from_pem_file(key)
        .map_err(|error| format!("--tls-key {}: {error}", key.display()))?;
    let config = tokio_rustls::rustls::ServerConfig::builder_with_provider(Arc::new(
        tokio_rustls::rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()?
    .with_no_client_auth()
    .with_single_cert(chain, key)?;
    Ok(Some(tokio_rustls::TlsAcceptor::from(Arc::new(config))))
}

/// Completes on SIGTERM or SIGINT.
async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let (Ok(mut term), Ok(mut int)) = (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        ) else {
            std::future::pending::<()>().await;
            return;
        };
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

#[allow(clippy::print_stdout, reason = "the banner tells the user where to go")]
fn banner(settings: &Settings, url: &str) {
    println!("socketio-gateway listening on {url}");
    if settings.demo {
        println!("  demo chat:    {url}/");
    }
    println!("  client:       {url}/socket.io/socket.io.min.js");
    println!("  publish API:  POST {url}/api/v1/emit");
    if settings.generated_api_key {
        println!(
            "  API key:      {} (generated; set your own with --api-key)",
            settings.api_keys[0]
        );
    }
    println!("  metrics:      {url}/metrics");
    if let Some(cluster) = &settings.cluster {
        println!(
            "  cluster:      {:?} adapter through {} (prefix {})",
            cluster.adapter, cluster.redis_url, cluster.key
        );
    }
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let settings = Settings::from_cli(Cli::parse())?;
    init_logs(&settings)?;
    let tls = tls_acceptor(&settings)?;
    let cluster = match &settings.cluster {
        Some(cluster) => Some(cluster::Cluster::connect(cluster).await?),
        None => None,
    };
    let slot = app::MetricsSlot::default();
    let io = app::socket_io(&settings, &slot, cluster.as_ref())?;
    if let Some(cluster) = &cluster {
        // Subscribed before serving, so no message of the other nodes is missed.
        cluster.adapter.ready().await;
    }
    let adapter = cluster.as_ref().map(|c| c.adapter.clone());
    let metrics = metrics::Metrics::new(&io, adapter.clone());
    slot.set(metrics.clone());
    let router = app::router(&settings, &io, metrics, cluster);

    let listener = TcpListener::bind(settings.listen)
        .await
        .map_err(|error| format!("cannot listen on {}: {error}", settings.listen))?;
    let address = listener.local_addr()?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    banner(&settings, &format!("{scheme}://{address}"));
    tracing::info!(%address, auth = settings.auth.kind(), "started");

    let routed_io = io.clone();
    let service = tower::service_fn(move |request: http::Request<hyper::body::Incoming>| {
        app::route(
            routed_io.clone(),
            router.clone(),
            request.map(axum::body::Body::new),
        )
    });
    let grace = settings.shutdown_timeout;
    let closing_io = io.clone();
    let mut server = engineio::serve(listener, service)
        .drain_timeout(grace)
        .with_graceful_shutdown(async move {
            shutdown_signal().await;
            tracing::info!("shutting down: telling clients, draining connections");
            closing_io.close(grace).await;
        });
    if let Some(tls) = tls {
        server = server.tls(tls);
    }
    server.await?;
    if let Some(adapter) = adapter {
        // The sessions of the clients let go are kept for their recovery on other nodes.
        adapter.flush().await;
    }
    tracing::info!("stopped");
    Ok(())
}
