//! The Rust client over TLS (rustls): certificates and host names are verified by default,
//! against given roots when there are some; turning verification off is its own loudly
//! named option. Our server on HTTPS/WSS with a certificate for localhost and 127.0.0.1
//! signed by the test CA of `tests/fixtures`.

use std::sync::Arc;
use std::time::Duration;

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use sio_client::{ConnectError, TlsOptions};
use socketio::{Event, Socket, SocketIo};
use tokio::sync::mpsc;

fn fixture(name: &str) -> String {
    format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"))
}

/// The test CA, which signed the server's certificate.
fn root() -> CertificateDer<'static> {
    CertificateDer::from_pem_file(fixture("tls-client-ca.pem")).unwrap()
}

/// Our server on HTTPS, on every address of port `port`.
async fn tls_server() -> u16 {
    let key = PrivateKeyDer::from_pem_file(fixture("tls-client-leaf-key.pem")).unwrap();
    let leaf = CertificateDer::from_pem_file(fixture("tls-client-leaf.pem")).unwrap();
    let config = tokio_rustls::rustls::ServerConfig::builder_with_provider(Arc::new(
        tokio_rustls::rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(vec![leaf], key)
    .unwrap();
    let io = SocketIo::new();
    io.on_connection(|socket: Socket| async move {
        socket.on("echo", |_socket: Socket, event: Event| async move {
            let _ = event.ack_raw(event.raw_args());
        });
    });
    // 0.0.0.0: reachable as 127.0.0.1 (named by the certificate) and as 127.0.0.2 (not).
    let listener = tokio::net::TcpListener::bind("0.0.0.0:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    tokio::spawn(engineio::serve(listener, io).tls(acceptor).into_future());
    port
}

enum Outcome {
    Connected(String),
    Refused(ConnectError),
}

/// Connects with `tls`; what happened first.
async fn attempt(url: &str, tls: TlsOptions, transports: Vec<sio_client::Transport>) -> Outcome {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let (on_ok, on_error) = (tx.clone(), tx);
    let socket = sio_client::io(url)
        .tls(tls)
        .transports(transports)
        .reconnection(false)
        .force_new(true)
        .on_connect(move |socket| {
            let _ = on_ok.send(Ok(socket.id()));
        })
        .on_connect_error(move |_, error| {
            let _ = on_error.send(Err(error.clone()));
        })
        .connect()
        .unwrap();
    let first = tokio::time::timeout(Duration::from_secs(10), rx.recv())
        .await
        .expect("an outcome")
        .unwrap();
    match first {
        Ok(_) => {
            let answer = socket
                .timeout(Duration::from_secs(5))
                .emit_with_ack("echo", &("over tls",))
                .unwrap()
                .await
                .unwrap();
            let (text,): (String,) = answer.deserialize().unwrap();
            Outcome::Connected(text)
        }
        Err(error) => Outcome::Refused(error),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn certificates_are_verified_by_default() {
    let port = tls_server().await;
    let url = format!("https://127.0.0.1:{port}");
    let both = || {
        vec![
            sio_client::Transport::Polling,
            sio_client::Transport::WebSocket,
        ]
    };
    let ws = || vec![sio_client::Transport::WebSocket];
    // The system's roots do not know the test CA.
    for transports in [both(), ws()] {
        match attempt(&url, TlsOptions::default(), transports).await {
            Outcome::Refused(error) => {
                let description = error.description.unwrap_or_default();
                assert!(
                    description.to_lowercase().contains("certificate"),
                    "{description}"
                );
            }
            Outcome::Connected(_) => panic!("an unknown certificate was accepted"),
        }
    }
    // Given as a root, it is trusted, on long-polling and on the WebSocket upgrade.
    let trusted = TlsOptions {
        root_certificates: Some(vec![root().to_vec()]),
        ..TlsOptions::default()
    };
    for transports in [both(), ws()] {
        match attempt(&url, trusted.clone(), transports).await {
            Outcome::Connected(text) => assert_eq!(text, "over tls"),
            Outcome::Refused(error) => panic!("refused: {error}"),
        }
    }
    // The same certificate for a name it does not carry is refused.
    let elsewhere = format!("https://127.0.0.2:{port}");
    match attempt(&elsewhere, trusted, ws()).await {
        Outcome::Refused(error) => {
            let description = error.description.unwrap_or_default();
            assert!(
                description.to_lowercase().contains("not valid for name")
                    || description.to_lowercase().contains("certificate"),
                "{description}"
            );
        }
        Outcome::Connected(_) => panic!("a certificate for another name was accepted"),
    }
    // Unless verification is turned off, by its name.
    let reckless = TlsOptions {
        danger_accept_invalid_certs: true,
        ..TlsOptions::default()
    };
    match attempt(&elsewhere, reckless, both()).await {
        Outcome::Connected(text) => assert_eq!(text, "over tls"),
        Outcome::Refused(error) => panic!("refused: {error}"),
    }
}
