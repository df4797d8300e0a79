//! The Rust client (through `examples/client_driver`, the contract of
//! `shared/client/CONTRACT.md`) against the official Node `socket.io` 4.8 server and
//! against ours: every scenario runs on both.

mod support;

use std::time::Duration;

use serde_json::{Value as Json, json};
use support::client::{Driver, Kind, Options, Server};
use support::proxy::Cut;

/// Fast reconnection, no jitter: the tests check the delays.
fn quick() -> Json {
    json!({"reconnectionDelay": 200, "reconnectionDelayMax": 400, "randomizationFactor": 0})
}

fn with(base: Json, extra: Json) -> Json {
    let mut base = base;
    for (k, v) in extra.as_object().unwrap() {
        base[k] = v.clone();
    }
    base
}

fn t(report: &Json) -> f64 {
    report["t"].as_f64().unwrap()
}

async fn connected(driver: &mut Driver, name: &str, url: &str, options: Json) -> Json {
    driver.socket(name, url, options).await;
    driver.next_of(name, "connect").await
}

async fn emits_acks_and_binary(kind: Kind) {
    let mut server = Server::start(kind, Options::default()).await;
    let mut d = Driver::start().await;
    let url = format!("{}?room=r1", server.url());
    let options = json!({"auth": {"token": "t1"}, "extraHeaders": {"x-test": "yes"}});
    let connect = connected(&mut d, "a", &url, options).await;
    assert_eq!(connect["recovered"], json!(false));
    assert!(connect["id"].is_string());
    assert_eq!(d.reports_of("a", "transport")[0]["name"], json!("polling"));
    d.find("a", "transport", |r| r["name"] == json!("websocket"))
        .await;

    // An ack with binary inside, both ways.
    let args = json!(["hi", {"$binary": "AAEC"}, {"deep": [1, {"$binary": "/w=="}]}]);
    let answer = d.emit_ack("a", "echo", args.clone(), Some(2000)).await;
    assert_eq!(answer["ok"], json!(true), "{answer}");
    assert_eq!(answer["args"], args);
    let answer = d.emit_ack("a", "binary", json!([]), None).await;
    assert_eq!(
        answer["args"],
        json!([{"$binary": "AQID"}, {"nested": [{"$binary": "BAU="}], "text": "mixed"}])
    );

    // What the server saw of the handshake.
    let answer = d.emit_ack("a", "handshake", json!([]), None).await;
    let seen = &answer["args"][0];
    assert_eq!(seen["auth"], json!({"token": "t1"}));
    assert_eq!(seen["query"]["room"], json!("r1"));
    assert_eq!(seen["header"], json!("yes"));

    // The server asks for an ack; the client answers with what it got.
    d.ok(json!({"op": "reply", "socket": "a", "event": "question", "echo": true}))
        .await;
    let answer = d
        .emit_ack("a", "ask", json!(["question", {"$binary": "AQ=="}]), None)
        .await;
    assert_eq!(answer["args"], json!([{"answer": {"$binary": "AQ=="}}]));
    let event = d
        .next("a", "event", |r| r["event"] == json!("question"))
        .await;
    assert_eq!(event["ack"], json!(true));

    // An event from the server, and one without an ack asked.
    server
        .emit("/", "news", json!([{"$binary": "Kg=="}, "text"]))
        .await;
    let event = d.next("a", "event", |r| r["event"] == json!("news")).await;
    assert_eq!(event["args"], json!([{"$binary": "Kg=="}, "text"]));
    assert_eq!(event["ack"], json!(false));
    d.emit("a", "echo", json!([1, 2])).await;
    let event = d.next("a", "event", |r| r["event"] == json!("echo")).await;
    assert_eq!(event["args"], json!([1, 2]));

    // `compress: false` and `volatile` on a connected socket still deliver (this client
    // never compresses, as a browser's page cannot either).
    let answer = d
        .call(json!({"op": "emit", "socket": "a", "event": "echo", "args": ["c"], "ack": true, "compress": false}))
        .await;
    assert_eq!(answer["args"], json!(["c"]));
    d.ok(json!({"op": "emit", "socket": "a", "event": "echo", "args": ["v"], "volatile": true}))
        .await;
    let event = d
        .next("a", "event", |r| {
            r["event"] == json!("echo") && r["args"] == json!(["v"])
        })
        .await;
    assert_eq!(event["ack"], json!(false));

    // Reserved names are refused.
    let answer = d.emit_ack("a", "connect", json!([]), None).await;
    assert_eq!(answer["ok"], json!(false));
}

async fn namespaces_share_a_connection(kind: Kind) {
    let mut server = Server::start(kind, Options::default()).await;
    let mut d = Driver::start().await;
    let url = server.url();
    connected(&mut d, "main", &url, json!({})).await;
    connected(&mut d, "admin", &format!("{url}/admin"), json!({})).await;
    // One connection: its events are reported once, under the first socket.
    assert_eq!(
        d.reports_of("main", "manager")
            .iter()
            .filter(|r| r["event"] == "open")
            .count(),
        1
    );
    assert!(d.reports_of("admin", "manager").is_empty());
    server.emit("/admin", "only-admin", json!([1])).await;
    d.next("admin", "event", |r| r["event"] == json!("only-admin"))
        .await;
    // A second socket of a namespace already used gets a connection of its own, and so
    // does one with forceNew.
    connected(&mut d, "admin2", &format!("{url}/admin"), json!({})).await;
    d.find("admin2", "manager", |r| r["event"] == "open").await;
    connected(&mut d, "forced", &url, json!({"forceNew": true})).await;
    d.find("forced", "manager", |r| r["event"] == "open").await;
    server.emit("/admin", "both", json!([])).await;
    // Two connections: either may be first.
    d.find("admin", "event", |r| r["event"] == json!("both"))
        .await;
    d.find("admin2", "event", |r| r["event"] == json!("both"))
        .await;
    let main_events = d.reports_of("main", "event");
    assert!(
        main_events
            .iter()
            .all(|r| r["event"] != "only-admin" && r["event"] != "both")
    );
    // Leaving one namespace keeps the shared connection for the other.
    d.ok(json!({"op": "disconnect", "socket": "admin"})).await;
    let disconnect = d.next_of("admin", "disconnect").await;
    assert_eq!(disconnect["reason"], json!("io client disconnect"));
    let answer = d
        .emit_ack("main", "echo", json!(["still"]), Some(2000))
        .await;
    assert_eq!(answer["args"], json!(["still"]));
}

async fn ack_timeouts_fire(kind: Kind) {
    let server = Server::start(kind, Options::default()).await;
    let mut d = Driver::start().await;
    connected(&mut d, "a", &server.url(), json!({"ackTimeout": 300})).await;
    let sent = d.call(json!({"op": "state", "socket": "a"})).await;
    let answer = d.emit_ack("a", "never", json!([]), Some(200)).await;
    assert_eq!(answer["error"], json!("timeout"));
    let elapsed = t(&answer) - t(&sent);
    assert!(
        (190.0..600.0).contains(&elapsed),
        "timed out after {elapsed} ms"
    );
    // The socket's ackTimeout when the emit has none.
    let sent = d.call(json!({"op": "state", "socket": "a"})).await;
    let answer = d.emit_ack("a", "never", json!([]), None).await;
    assert_eq!(answer["error"], json!("timeout"));
    let elapsed = t(&answer) - t(&sent);
    assert!(
        (290.0..700.0).contains(&elapsed),
        "timed out after {elapsed} ms"
    );
    // A slow answer within the timeout is an answer.
    let answer = d.emit_ack("a", "slow", json!([100]), Some(2000)).await;
    assert_eq!(answer["args"], json!(["late"]));
}

async fn a_middleware_refusal_carries_its_data(kind: Kind) {
    let server = Server::start(kind, Options::default()).await;
    let mut d = Driver::start().await;
    d.socket(
        "a",
        &server.url(),
        with(quick(), json!({"auth": {"token": "bad"}})),
    )
    .await;
    let error = d.next_of("a", "connect_error").await;
    assert_eq!(error["message"], json!("not authorized"));
    assert_eq!(error["data"], json!({"code": 42, "reason": "bad token"}));
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert!(
        d.reports_of("a", "manager")
            .iter()
            .all(|r| r["event"] != "reconnect_attempt")
    );
    let state = d.state("a").await;
    assert_eq!(
        (state["connected"].clone(), state["active"].clone()),
        (json!(false), json!(false))
    );
}

async fn a_server_disconnect_is_final(kind: Kind) {
    let server = Server::start(kind, Options::default()).await;
    let mut d = Driver::start().await;
    connected(&mut d, "a", &server.url(), quick()).await;
    d.emit("a", "disconnect-me", json!([])).await;
    let disconnect = d.next_of("a", "disconnect").await;
    assert_eq!(disconnect["reason"], json!("io server disconnect"));
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert!(
        d.reports_of("a", "manager")
            .iter()
            .all(|r| r["event"] != "reconnect_attempt")
    );
    assert_eq!(d.state("a").await["active"], json!(false));
    // Connecting again is the application's call.
    d.ok(json!({"op": "connect", "socket": "a"})).await;
    d.next_of("a", "connect").await;
}

async fn reconnects_with_backoff_and_fresh_auth(kind: Kind) {
    let server = Server::start(kind, Options::default()).await;
    let mut d = Driver::start().await;
    let options = with(
        quick(),
        json!({"authSequence": [{"token": "first"}, {"token": "second"}]}),
    );
    connected(&mut d, "a", &server.url(), options).await;
    let answer = d.emit_ack("a", "handshake", json!([]), None).await;
    assert_eq!(answer["args"][0]["auth"], json!({"token": "first"}));
    server.proxy.refuse(true);
    server.proxy.cut_all(Cut::Close);
    let disconnect = d.next_of("a", "disconnect").await;
    assert!(
        ["transport close", "transport error"].contains(&disconnect["reason"].as_str().unwrap()),
        "{disconnect}"
    );
    // The manager's close comes first, then the socket's disconnect.
    let close = d.find("a", "manager", |r| r["event"] == "close").await;
    assert_eq!(close["reason"], disconnect["reason"]);
    // Attempt 1 after 200 ms, attempt 2 after 400 ms more: the official backoff.
    let first = d.manager("a", "reconnect_attempt").await;
    assert_eq!(first["attempt"], json!(1));
    d.manager("a", "reconnect_error").await;
    let second = d.manager("a", "reconnect_attempt").await;
    assert_eq!(second["attempt"], json!(2));
    let gap = t(&second) - t(&first);
    assert!((350.0..700.0).contains(&gap), "attempts {gap} ms apart");
    let first_gap = t(&first) - t(&close);
    assert!(
        (150.0..450.0).contains(&first_gap),
        "first attempt after {first_gap} ms"
    );
    server.proxy.refuse(false);
    let reconnect = d.manager("a", "reconnect").await;
    assert!(reconnect["attempt"].as_u64().unwrap() >= 2);
    d.next_of("a", "connect").await;
    let answer = d.emit_ack("a", "handshake", json!([]), None).await;
    assert_eq!(answer["args"][0]["auth"], json!({"token": "second"}));
}

async fn the_heartbeat_deadline(kind: Kind) {
    let options = Options {
        ping_interval: Some(Duration::from_millis(300)),
        ping_timeout: Some(Duration::from_millis(200)),
        ..Options::default()
    };
    let server = Server::start(kind, options).await;
    let mut d = Driver::start().await;
    connected(
        &mut d,
        "a",
        &server.url(),
        with(quick(), json!({"transports": ["websocket"]})),
    )
    .await;
    d.manager("a", "ping").await;
    let state = d.state("a").await;
    server.proxy.cut_all(Cut::Stall);
    let disconnect = d.next_of("a", "disconnect").await;
    assert_eq!(disconnect["reason"], json!("ping timeout"));
    // No ping within pingInterval + pingTimeout of the last one.
    let silent = t(&disconnect) - t(&state);
    assert!(
        (150.0..900.0).contains(&silent),
        "gave up after {silent} ms"
    );
    d.next_of("a", "connect").await;
}

async fn the_offline_buffer_survives_a_server_restart(kind: Kind) {
    let mut server = Server::start(kind, Options::default()).await;
    let mut d = Driver::start().await;
    connected(&mut d, "a", &server.url(), quick()).await;
    server.crash().await;
    d.next_of("a", "disconnect").await;
    for i in 0..3 {
        d.emit("a", "buffered", json!([i])).await;
    }
    // Volatile emits are not kept.
    d.ok(
        json!({"op": "emit", "socket": "a", "event": "buffered", "args": ["v"], "volatile": true}),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    server.restart().await;
    d.next_of("a", "connect").await;
    let answer = d
        .emit_ack("a", "count", json!(["buffered"]), Some(5000))
        .await;
    assert_eq!(answer["args"], json!([3]), "{answer}");
}

async fn recovery_after_a_cut_connection(kind: Kind) {
    let options = Options {
        recovery: Some(Duration::from_secs(30)),
        ..Options::default()
    };
    let mut server = Server::start(kind, options).await;
    let mut d = Driver::start().await;
    let first = connected(&mut d, "a", &server.url(), quick()).await;
    assert_eq!(first["recovered"], json!(false));
    server.emit("/", "tick", json!([1])).await;
    let tick = d.next("a", "event", |r| r["event"] == json!("tick")).await;
    // With recovery the server's offset comes last.
    assert_eq!(tick["args"][0], json!(1));
    assert!(tick["args"][1].is_string(), "{tick}");
    // Cut once the upgrade is done on both sides: a server still waiting for the upgrade
    // would see the cut only at its heartbeat and keep the session for itself until then.
    d.find("a", "transport", |r| r["name"] == json!("websocket"))
        .await;
    let answer = d.emit_ack("a", "echo", json!([]), Some(2000)).await;
    assert_eq!(answer["ok"], json!(true));
    server.proxy.refuse(true);
    server.proxy.cut_all(Cut::Close);
    d.next_of("a", "disconnect").await;
    // Sent while the client is away.
    tokio::time::sleep(Duration::from_millis(100)).await;
    server.emit("/", "tick", json!([2])).await;
    server.emit("/", "tick", json!([3])).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    server.proxy.refuse(false);
    // The missed packets come with the CONNECT: before the `connect` event when the
    // server sends them first (Node: the client keeps them until it is connected, as the
    // official client does), after it with ours.
    let again = d.next_of("a", "connect").await;
    assert_eq!(again["recovered"], json!(true), "{again}");
    assert_eq!(again["id"], first["id"]);
    let ticks = |d: &Driver| {
        d.reports_of("a", "event")
            .into_iter()
            .filter(|r| r["event"] == "tick")
            .map(|r| r["args"][0].clone())
            .collect::<Vec<_>>()
    };
    for _ in 0..50 {
        if ticks(&d).len() >= 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(d.state("a").await["recovered"], json!(true));
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        ticks(&d),
        [json!(1), json!(2), json!(3)],
        "each tick once, in order"
    );
}

async fn retries_are_at_least_once_and_ordered(kind: Kind) {
    let server = Server::start(kind, Options::default()).await;
    let mut d = Driver::start().await;
    connected(
        &mut d,
        "a",
        &server.url(),
        with(quick(), json!({"retries": 2, "ackTimeout": 200})),
    )
    .await;
    // An event the server never answers: three tries, then the error.
    let sent = d.state("a").await;
    let answer = d.emit_ack("a", "never", json!([]), None).await;
    assert_eq!(answer["error"], json!("timeout"));
    let elapsed = t(&answer) - t(&sent);
    assert!(
        (550.0..1500.0).contains(&elapsed),
        "gave up after {elapsed} ms"
    );
    let answer = d.emit_ack("a", "count", json!(["never"]), None).await;
    assert_eq!(answer["args"], json!([3]));
    // Emits while the connection is down are sent, in order, once it is back.
    server.proxy.refuse(true);
    server.proxy.cut_all(Cut::Close);
    d.next_of("a", "disconnect").await;
    let mut ids = Vec::new();
    for i in 0..3 {
        let command =
            json!({"op": "emit", "socket": "a", "event": "log", "args": ["order", i], "ack": true});
        ids.push(d.send(command).await);
    }
    server.proxy.refuse(false);
    for id in ids {
        let answer = d.answer(id).await;
        assert_eq!(answer["ok"], json!(true), "{answer}");
    }
    // The server got each once, in order.
    let answer = d.emit_ack("a", "logged", json!(["order"]), None).await;
    assert_eq!(answer["args"], json!([[0, 1, 2]]));
}

async fn transports_and_upgrades(kind: Kind) {
    let server = Server::start(kind, Options::default()).await;
    let mut d = Driver::start().await;
    let url = server.url();
    // WebSocket only.
    connected(&mut d, "ws", &url, json!({"transports": ["websocket"]})).await;
    let answer = d.emit_ack("ws", "echo", json!(["w"]), Some(2000)).await;
    assert_eq!(answer["args"], json!(["w"]));
    assert_eq!(
        d.reports_of("ws", "transport")
            .iter()
            .map(|r| r["name"].clone())
            .collect::<Vec<_>>(),
        [json!("websocket")]
    );
    // After a WebSocket worked, rememberUpgrade opens with one (the memory is the
    // process's, as in the official client: a long-polling session would reset it).
    connected(
        &mut d,
        "remember",
        &url,
        json!({"rememberUpgrade": true, "forceNew": true}),
    )
    .await;
    assert_eq!(
        d.reports_of("remember", "transport")[0]["name"],
        json!("websocket")
    );
    // Long-polling without the upgrade.
    connected(
        &mut d,
        "lp",
        &url,
        json!({"upgrade": false, "forceNew": true}),
    )
    .await;
    let answer = d.emit_ack("lp", "binary", json!([]), Some(2000)).await;
    assert_eq!(answer["args"][0], json!({"$binary": "AQID"}));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        d.reports_of("lp", "transport")
            .iter()
            .map(|r| r["name"].clone())
            .collect::<Vec<_>>(),
        [json!("polling")]
    );
}

async fn try_all_transports(kind: Kind) {
    let options = Options {
        polling_only: true,
        ..Options::default()
    };
    let server = Server::start(kind, options).await;
    let mut d = Driver::start().await;
    let url = server.url();
    connected(
        &mut d,
        "a",
        &url,
        json!({"transports": ["websocket", "polling"], "tryAllTransports": true}),
    )
    .await;
    assert_eq!(d.reports_of("a", "transport")[0]["name"], json!("polling"));
    // Without it, the failed WebSocket is a connect_error.
    d.socket(
        "b",
        &url,
        with(
            quick(),
            json!({"transports": ["websocket", "polling"], "forceNew": true}),
        ),
    )
    .await;
    let error = d.next_of("b", "connect_error").await;
    assert_eq!(error["message"], json!("websocket error"));
}

async fn the_msgpack_parser(kind: Kind) {
    let options = Options {
        msgpack: true,
        ..Options::default()
    };
    let mut server = Server::start(kind, options).await;
    let mut d = Driver::start().await;
    connected(&mut d, "a", &server.url(), json!({"parser": "msgpack"})).await;
    let args = json!(["hi", {"$binary": "AAEC"}, {"n": 1.5, "list": [true, null]}]);
    let answer = d.emit_ack("a", "echo", args.clone(), Some(2000)).await;
    assert_eq!(answer["args"], args);
    server.emit("/", "news", json!([{"$binary": "Kg=="}])).await;
    let event = d.next("a", "event", |r| r["event"] == json!("news")).await;
    assert_eq!(event["args"], json!([{"$binary": "Kg=="}]));
}

async fn the_servers_max_payload_is_respected(kind: Kind) {
    let options = Options {
        max_payload: Some(1000),
        ..Options::default()
    };
    let server = Server::start(kind, options).await;
    let mut d = Driver::start().await;
    connected(
        &mut d,
        "a",
        &server.url(),
        json!({"transports": ["websocket"]}),
    )
    .await;
    let big = "x".repeat(2000);
    let answer = d
        .call(json!({"op": "emit", "socket": "a", "event": "echo", "args": [big]}))
        .await;
    assert_eq!(answer["ok"], json!(false));
    assert!(
        answer["error"].as_str().unwrap().contains("maxPayload"),
        "{answer}"
    );
    // The connection is still there.
    let answer = d.emit_ack("a", "echo", json!(["small"]), Some(2000)).await;
    assert_eq!(answer["args"], json!(["small"]));
    assert!(d.reports_of("a", "disconnect").is_empty());
}

async fn connect_timeouts_and_giving_up(kind: Kind) {
    let server = Server::start(kind, Options::default()).await;
    let mut d = Driver::start().await;
    server.proxy.blackhole(true);
    let options = with(quick(), json!({"timeout": 300, "reconnectionAttempts": 2}));
    d.socket("a", &server.url(), options).await;
    let error = d.next_of("a", "connect_error").await;
    assert_eq!(error["message"], json!("timeout"));
    assert!(
        (280.0..900.0).contains(&t(&error)),
        "timed out at {}",
        t(&error)
    );
    d.manager("a", "reconnect_failed").await;
    let attempts = d
        .reports_of("a", "manager")
        .into_iter()
        .filter(|r| r["event"] == "reconnect_attempt")
        .count();
    assert_eq!(attempts, 2);
    assert_eq!(d.state("a").await["connected"], json!(false));
}

async fn acks_fail_when_the_connection_drops(kind: Kind) {
    let server = Server::start(kind, Options::default()).await;
    let mut d = Driver::start().await;
    connected(
        &mut d,
        "a",
        &server.url(),
        with(quick(), json!({"reconnection": false})),
    )
    .await;
    let with_timeout = d
        .send(json!({"op": "emit", "socket": "a", "event": "never", "args": [], "ack": true, "timeout": 10000}))
        .await;
    let without = d
        .send(json!({"op": "emit", "socket": "a", "event": "never", "args": [], "ack": true}))
        .await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    server.proxy.cut_all(Cut::Close);
    let answer = d.answer(with_timeout).await;
    assert_eq!(answer["error"], json!("socket has been disconnected"));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        d.reports().iter().all(|r| r["id"] != json!(without)),
        "never answered"
    );
    // reconnection: false, so it stays down.
    assert!(
        d.reports_of("a", "manager")
            .iter()
            .all(|r| r["event"] != "reconnect_attempt")
    );
}

async fn the_contracts_other_options(kind: Kind) {
    let options = Options {
        path: Some("/realtime/"),
        ..Options::default()
    };
    let server = Server::start(kind, options).await;
    let mut d = Driver::start().await;
    let url = server.url();
    // `path`, `query` as an object, `extraHeaders` on the WebSocket handshake itself.
    let options = json!({
        "path": "/realtime",
        "query": {"room": "r2", "n": 7},
        "transports": ["websocket"],
        "extraHeaders": {"x-test": "on the upgrade"},
        "autoConnect": false,
    });
    d.socket("a", &url, options).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        d.reports_of("a", "connect").is_empty(),
        "autoConnect: false"
    );
    assert_eq!(d.state("a").await["active"], json!(false));
    d.ok(json!({"op": "connect", "socket": "a"})).await;
    d.next_of("a", "connect").await;
    let answer = d.emit_ack("a", "handshake", json!([]), Some(2000)).await;
    let seen = &answer["args"][0];
    assert_eq!(seen["query"]["room"], json!("r2"));
    assert_eq!(seen["query"]["n"], json!("7"));
    assert_eq!(seen["header"], json!("on the upgrade"));
    // `multiplex: false`: a connection of its own for another namespace.
    connected(
        &mut d,
        "b",
        &format!("{url}/admin"),
        json!({"path": "/realtime", "multiplex": false}),
    )
    .await;
    d.find("b", "manager", |r| r["event"] == "open").await;
    // Options the client does not have are refused, not ignored.
    let answer = d
        .call(
            json!({"op": "socket", "name": "c", "url": url, "options": {"withCredentials": true}}),
        )
        .await;
    assert_eq!(answer["ok"], json!(false));
    // A command that is not JSON gets an answer without an id, and the driver goes on.
    let answer = d.call(json!({"op": "nonsense"})).await;
    assert_eq!(answer["ok"], json!(false));
    assert_eq!(d.state("a").await["connected"], json!(true));
}

macro_rules! on_both {
    ($($scenario:ident),* $(,)?) => {
        mod node {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $scenario() {
                    super::$scenario(super::Kind::Node).await;
                }
            )*
        }
        mod ours {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $scenario() {
                    super::$scenario(super::Kind::Rust).await;
                }
            )*
        }
    };
}

on_both!(
    emits_acks_and_binary,
    namespaces_share_a_connection,
    ack_timeouts_fire,
    a_middleware_refusal_carries_its_data,
    a_server_disconnect_is_final,
    reconnects_with_backoff_and_fresh_auth,
    the_heartbeat_deadline,
    the_offline_buffer_survives_a_server_restart,
    recovery_after_a_cut_connection,
    retries_are_at_least_once_and_ordered,
    transports_and_upgrades,
    try_all_transports,
    the_msgpack_parser,
    the_servers_max_payload_is_respected,
    connect_timeouts_and_giving_up,
    acks_fail_when_the_connection_drops,
    the_contracts_other_options,
);
