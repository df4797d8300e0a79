//! A relay: one process that is a Socket.IO server for its clients and a Socket.IO client
//! of another server. Each client's socket gets a socket of its own upstream, in the same
//! namespace and with the same `auth`; events go up, events come down, and
//! acknowledgements pass back both ways (an upstream server that asks a client for an ack
//! gets the client's answer).
//!
//! ```sh
//! cargo run --release --example relay -- --listen 127.0.0.1:4000 --upstream http://127.0.0.1:3000
//! ```

use std::io::Write as _;

use socketio::{Event, Socket, SocketIo, Value};

struct Args {
    listen: String,
    upstream: String,
}

fn args() -> Result<Args, String> {
    let mut listen = "127.0.0.1:4000".to_owned();
    let mut upstream = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--listen" => listen = args.next().ok_or("--listen needs an address")?,
            "--upstream" => upstream = Some(args.next().ok_or("--upstream needs a URL")?),
            other => return Err(format!("unknown argument {other}")),
        }
    }
    Ok(Args {
        listen,
        upstream: upstream.ok_or("--upstream URL is required")?,
    })
}

/// Connects `down` (a client of this server) to the same namespace upstream.
fn relay(down: Socket, upstream: &str) {
    let nsp = down.namespace().name().to_owned();
    let url = format!("{}{}", upstream.trim_end_matches('/'), nsp);
    let mut builder = sio_client::io(&url).force_new(true);
    if let auth @ Value::Object(_) = down.handshake().auth() {
        builder = builder.auth(auth.clone());
    }
    // Down from upstream: events, with the client's answer when upstream asks for one.
    let to_client = down.clone();
    let builder = builder
        .on_any(move |event| {
            let down = to_client.clone();
            let (name, args) = (event.name().to_owned(), event.args().clone());
            match event.ack_sender() {
                Some(ack) => {
                    tokio::spawn(async move {
                        if let Ok(answer) = down.emit_raw_with_ack(&name, &args).await {
                            let _ = ack.send_args(&answer);
                        }
                    });
                }
                None => {
                    let _ = down.emit_raw(&name, &args);
                }
            }
        })
        .on_disconnect({
            let down = down.clone();
            move |_, reason| {
                // Upstream is done with this socket: so is the relay.
                if reason == sio_client::DisconnectReason::IoServerDisconnect {
                    down.disconnect();
                }
            }
        });
    let up = match builder.connect() {
        Ok(up) => up,
        Err(error) => {
            let _ = writeln!(std::io::stderr(), "relay: {error}");
            down.disconnect();
            return;
        }
    };
    // Up from the client: events, and upstream's answer back when the client asks.
    let to_server = up.clone();
    down.on_any(move |_socket, event: &Event| {
        let (name, args) = (event.name().to_owned(), event.raw_args().clone());
        if event.wants_ack() {
            let ack = event.ack_sender();
            match to_server.emit_args_with_ack(&name, &args) {
                Ok(answer) => {
                    tokio::spawn(async move {
                        if let Ok(answer) = answer.await {
                            let _ = ack.send_raw(&answer);
                        }
                    });
                }
                Err(error) => {
                    let _ = writeln!(std::io::stderr(), "relay: {error}");
                }
            }
        } else {
            let _ = to_server.emit_args(&name, &args);
        }
    });
    down.on_disconnect(
        move |_socket: Socket, _reason: socketio::DisconnectReason| {
            let up = up.clone();
            async move { up.disconnect() }
        },
    );
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = args()?;
    let io = SocketIo::new();
    let upstream = args.upstream.clone();
    io.on_connection(move |socket: Socket| {
        let upstream = upstream.clone();
        async move { relay(socket, &upstream) }
    });
    let upstream = args.upstream.clone();
    io.of_dynamic(|name, _auth| name != "/")
        .on_connection(move |socket: Socket| {
            let upstream = upstream.clone();
            async move { relay(socket, &upstream) }
        });
    let listener = tokio::net::TcpListener::bind(&args.listen).await?;
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "relay listening on {}", listener.local_addr()?)?;
    stdout.flush()?;
    drop(stdout);
    socketio::serve(listener, io).await?;
    Ok(())
}
