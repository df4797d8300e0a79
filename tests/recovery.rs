//! Connection state recovery against the official `socket.io-client`
//! (tests/interop/socketio/recovery.mjs), with connections broken by a TCP proxy.

mod support;

use std::time::Duration;

use serde::Deserialize;
use socketio::{
    ConnectionStateRecovery, Data, DisconnectReason, Event, Parser, Recovery, Socket, SocketIo,
};
use support::proxy::{Cut, Proxy};
use support::sio::Log;

#[derive(Debug, Deserialize)]
struct Burst {
    from: u32,
    to: u32,
    room: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Outage {
    from: u32,
    to: u32,
    silent: bool,
}

struct Fixture {
    proxy: Proxy,
    log: Log,
}

fn describe(recovery: &Recovery) -> String {
    match recovery {
        Recovery::NotRequested => "fresh".to_owned(),
        Recovery::Recovered { replayed } => format!("recovered:{replayed}"),
        Recovery::Failed { error, previous } => {
            let rooms = previous.as_ref().map(|p| {
                let mut rooms: Vec<&str> = p
                    .rooms
                    .iter()
                    .map(String::as_str)
                    .filter(|r| *r != p.id.as_str())
                    .collect();
                rooms.sort_unstable();
                rooms.join(",")
            });
            format!("failed:{error:?}:{}", rooms.unwrap_or_default())
        }
        other => format!("{other:?}"),
    }
}

fn burst(socket: &Socket, from: u32, to: u32, room: &str) {
    for n in from..=to {
        socket.namespace().to(room).emit("tick", &(n,)).unwrap();
    }
}

/// The server for these tests, behind a proxy; `hold` is how long an outage keeps the
/// client away after the server saw it go (or, for a silent cut, after the cut).
async fn start(recovery: ConnectionStateRecovery, parser: Parser, hold: Duration) -> Fixture {
    let io = SocketIo::builder()
        // A long-polling client cut between two GETs has none parked at the server, which
        // then learns of the outage from the heartbeat only: 10 s at most here, well within
        // the 15 s the outage handler waits, and long after a client cut silently is back.
        .engine(|engine| {
            engine
                .ping_interval(Duration::from_secs(5))
                .ping_timeout(Duration::from_secs(5))
        })
        .parser(parser)
        .connection_state_recovery(recovery)
        .build()
        .unwrap();
    let log = Log::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let proxy = Proxy::start(listener.local_addr().unwrap()).await;
    tokio::spawn(socketio::serve(listener, io.clone()).into_future());

    let middleware_log = log.clone();
    io.of("/").middleware(move |_socket: Socket| {
        let log = middleware_log.clone();
        async move {
            log.push("middleware");
            Ok(())
        }
    });
    let (connection_log, connection_proxy) = (log.clone(), proxy.clone());
    io.on_connection(move |socket: Socket| {
        let (log, proxy) = (connection_log.clone(), connection_proxy.clone());
        async move {
            log.push(format!("connect:{}", describe(socket.recovery())));
            if !socket.recovered() {
                socket.join("news");
                socket
                    .set_data(&serde_json::json!({ "name": "ann" }))
                    .unwrap();
            }
            let disconnect_log = log.clone();
            socket.on_disconnect(move |socket: Socket, reason: DisconnectReason| {
                let log = disconnect_log.clone();
                async move { log.push(format!("disconnect:{}:{reason}", socket.id())) }
            });
            socket.on(
                "burst",
                |socket: Socket, Data((spec,)): Data<(Burst,)>, ack: socketio::AckSender| async move {
                    burst(&socket, spec.from, spec.to, spec.room.as_deref().unwrap_or("news"));
                    let _ = ack.send(&());
                },
            );
            socket.on("whoami", |socket: Socket, event: Event| async move {
                let mut rooms = socket.rooms();
                rooms.sort();
                let _ = event.ack(&serde_json::json!({
                    "id": socket.id().as_str(),
                    "rooms": rooms,
                    "data": serde_json::to_value(socket.data_value()).unwrap(),
                    "recovered": socket.recovered(),
                }));
            });
            socket.on(
                "outage",
                move |socket: Socket, Data((spec,)): Data<(Outage,)>| {
                    let (log, proxy) = (log.clone(), proxy.clone());
                    async move {
                        tokio::spawn(async move {
                            proxy.refuse(true);
                            if spec.silent {
                                proxy.cut_all(Cut::Silent);
                                tokio::time::sleep(Duration::from_millis(100)).await;
                            } else {
                                proxy.cut_all(Cut::Close);
                                let gone = format!("disconnect:{}:", socket.id());
                                log.wait_for("the server to see the outage", |l| {
                                    l.starts_with(&gone)
                                })
                                .await;
                            }
                            burst(&socket, spec.from, spec.to, "news");
                            tokio::time::sleep(hold).await;
                            proxy.refuse(false);
                        });
                    }
                },
            );
        }
    });
    Fixture { proxy, log }
}

async fn run(fixture: &Fixture, scenario: &str, options: serde_json::Value) -> serde_json::Value {
    support::node(&[
        "socketio/recovery.mjs",
        scenario,
        &fixture.proxy.url(),
        &options.to_string(),
    ])
    .await
}

fn ticks(result: &serde_json::Value) -> Vec<u64> {
    result["ticks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_u64().unwrap())
        .collect()
}

/// How many times the namespace middleware ran.
fn middleware_runs(log: &Log) -> usize {
    log.lines().iter().filter(|l| *l == "middleware").count()
}

fn connects(log: &Log) -> Vec<String> {
    log.lines()
        .into_iter()
        .filter(|l| l.starts_with("connect:"))
        .collect()
}

const HOLD: Duration = Duration::from_millis(200);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_client_gets_its_socket_and_missed_packets_back() {
    for (transports, parser) in [
        (serde_json::json!(["websocket"]), Parser::Json),
        (serde_json::json!(["polling"]), Parser::Json),
        (serde_json::json!(["polling", "websocket"]), Parser::MsgPack),
    ] {
        let fixture = start(ConnectionStateRecovery::default(), parser, HOLD).await;
        let options = serde_json::json!({
            "transports": transports,
            "msgpack": parser == Parser::MsgPack,
        });
        let result = run(&fixture, "recover", options).await;
        assert_eq!(ticks(&result), (1..=12).collect::<Vec<_>>(), "{transports}");
        // A WebSocket closes; a long-polling request fails.
        let reason = result["reason"].as_str().unwrap();
        assert!(
            ["transport close", "transport error"].contains(&reason),
            "{reason}"
        );
        assert_eq!(result["sameId"], true);
        let whoami = &result["whoami"];
        assert_eq!(whoami["recovered"], true);
        assert_eq!(whoami["data"], serde_json::json!({ "name": "ann" }));
        let rooms = whoami["rooms"].as_array().unwrap();
        assert!(rooms.contains(&serde_json::json!("news")), "{rooms:?}");
        assert!(rooms.contains(&whoami["id"]), "{rooms:?}");
        assert_eq!(
            connects(&fixture.log),
            ["connect:fresh", "connect:recovered:5"]
        );
        // Middlewares are skipped for a recovered socket by default.
        assert_eq!(middleware_runs(&fixture.log), 1);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn middlewares_run_again_when_asked() {
    let recovery = ConnectionStateRecovery {
        skip_middlewares: false,
        ..ConnectionStateRecovery::default()
    };
    let fixture = start(recovery, Parser::Json, HOLD).await;
    let result = run(&fixture, "recover", serde_json::json!({})).await;
    assert_eq!(ticks(&result), (1..=12).collect::<Vec<_>>());
    assert_eq!(middleware_runs(&fixture.log), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_reconnects_before_the_server_noticed_takes_its_session_over() {
    let fixture = start(ConnectionStateRecovery::default(), Parser::Json, HOLD).await;
    let options = serde_json::json!({ "transports": ["websocket"] });
    let result = run(&fixture, "takeover", options).await;
    assert_eq!(ticks(&result), (1..=11).collect::<Vec<_>>());
    assert_eq!(
        connects(&fixture.log),
        ["connect:fresh", "connect:recovered:5"]
    );
    // The old socket left when the client came back, long before its heartbeat timed out.
    assert!(
        fixture
            .log
            .lines()
            .iter()
            .any(|l| l.starts_with("disconnect:") && l.ends_with(":transport close")),
        "{:?}",
        fixture.log.lines()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_back_after_the_window_gets_a_fresh_socket() {
    let recovery = ConnectionStateRecovery {
        max_disconnection_duration: Duration::from_millis(300),
        ..ConnectionStateRecovery::default()
    };
    let fixture = start(recovery, Parser::Json, Duration::from_millis(1000)).await;
    let result = run(&fixture, "not-recovered", serde_json::json!({})).await;
    assert_eq!(ticks(&result), [1, 2, 3, 4, 5, 1000]);
    assert_eq!(
        connects(&fixture.log),
        ["connect:fresh", "connect:failed:UnknownSession:"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_offset_is_not_recovered() {
    let fixture = start(ConnectionStateRecovery::default(), Parser::Json, HOLD).await;
    let result = run(
        &fixture,
        "not-recovered",
        serde_json::json!({ "bogusOffset": true }),
    )
    .await;
    assert_eq!(ticks(&result), [1, 2, 3, 4, 5, 1000]);
    assert_eq!(
        connects(&fixture.log),
        ["connect:fresh", "connect:failed:UnknownOffset:news"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replay_that_cannot_be_complete_is_reported_not_half_done() {
    // Too little memory to keep what the client missed.
    let recovery = ConnectionStateRecovery {
        max_stored_bytes: 4000,
        ..ConnectionStateRecovery::default()
    };
    let fixture = start(recovery, Parser::Json, HOLD).await;
    let result = run(&fixture, "not-recovered", serde_json::json!({ "to": 200 })).await;
    assert_eq!(ticks(&result), [1, 2, 3, 4, 5, 1000]);
    assert_eq!(
        connects(&fixture.log),
        ["connect:fresh", "connect:failed:Incomplete:news"]
    );

    // More missed packets than one recovery replays.
    let recovery = ConnectionStateRecovery {
        max_missed_packets: 3,
        ..ConnectionStateRecovery::default()
    };
    let fixture = start(recovery, Parser::Json, HOLD).await;
    run(&fixture, "not-recovered", serde_json::json!({})).await;
    assert_eq!(
        connects(&fixture.log),
        [
            "connect:fresh",
            "connect:failed:TooManyMissed { missed: 5 }:news"
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_socket_quiet_for_longer_than_the_retention_still_recovers() {
    // Node loses this session: the client's offset has left its packet buffer.
    let recovery = ConnectionStateRecovery {
        max_disconnection_duration: Duration::from_millis(600),
        retention_margin: Duration::from_millis(100),
        ..ConnectionStateRecovery::default()
    };
    let fixture = start(recovery, Parser::Json, HOLD).await;
    let result = run(
        &fixture,
        "long-lived",
        serde_json::json!({ "quietMs": 1200 }),
    )
    .await;
    assert_eq!(ticks(&result), (1..=10).collect::<Vec<_>>());
    assert_eq!(
        connects(&fixture.log),
        ["connect:fresh", "connect:recovered:5"]
    );
}

/// A socket the server made leave (a kick, a ban) ends its session: its client coming back
/// with the pid, even while the old socket is still running its disconnect handlers, gets a
/// fresh socket, not the old rooms and data (and not past the middlewares).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_socket_made_to_leave_is_not_recovered_by_its_pid() {
    use support::raw;
    use tokio::io::AsyncWriteExt;
    let io = SocketIo::builder()
        .connection_state_recovery(ConnectionStateRecovery::default())
        .build()
        .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(socketio::serve(listener, io.clone()).into_future());
    let log = Log::default();
    let connection_log = log.clone();
    io.on_connection(move |socket: Socket| {
        let log = connection_log.clone();
        async move {
            log.push(format!("connect:{}", describe(socket.recovery())));
            if !socket.recovered() {
                socket.join("vip");
            }
            // Slow to leave: the old socket is still live when its client returns.
            socket.on_disconnecting(|_socket: Socket, _reason: DisconnectReason| async move {
                tokio::time::sleep(Duration::from_millis(500)).await;
            });
            socket.on("kick-me", |socket: Socket, _event: Event| async move {
                socket.disconnect()
            });
        }
    });

    let query = "/socket.io/?EIO=4&transport=websocket";
    let mut ws = raw::websocket(addr, query).await;
    raw::read_text_until(&mut ws, |t| t.starts_with('0')).await;
    ws.write_all(&raw::text_frame("40")).await.unwrap();
    let connected = raw::read_text_until(&mut ws, |t| t.starts_with("40")).await;
    let reply: serde_json::Value = serde_json::from_str(&connected[2..]).unwrap();
    let pid = reply["pid"].as_str().unwrap().to_owned();
    ws.write_all(&raw::text_frame(r#"42["kick-me"]"#))
        .await
        .unwrap();
    raw::read_text_until(&mut ws, |t| t == "41").await;

    let mut again = raw::websocket(addr, query).await;
    raw::read_text_until(&mut again, |t| t.starts_with('0')).await;
    let join = format!(r#"40{{"pid":"{pid}"}}"#);
    again.write_all(&raw::text_frame(&join)).await.unwrap();
    let connected = raw::read_text_until(&mut again, |t| t.starts_with("40")).await;
    let reply: serde_json::Value = serde_json::from_str(&connected[2..]).unwrap();
    assert_ne!(reply["pid"].as_str(), Some(pid.as_str()), "a new session");
    let lines = log.lines();
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert_eq!(lines[0], "connect:fresh");
    assert!(
        lines[1].starts_with("connect:failed:UnknownSession"),
        "{lines:?}"
    );
}
