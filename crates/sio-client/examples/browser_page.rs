//! The Rust client in a browser page: built for `wasm32-unknown-unknown` and bound with
//! `wasm-bindgen --target web`, it exports `run(url)`, which connects to a Socket.IO server,
//! emits with an ack, receives a broadcast and binary data, and recovers after its
//! connection is cut, logging each step to the console (`sio-page: …`). The browser test
//! (`tests/client_browser.rs`) loads it in Chromium and cuts the connection when the page
//! says `sio-page: cut`.
//!
//! ```sh
//! cargo build -p sio-client --example browser_page --target wasm32-unknown-unknown --profile wasm-release
//! wasm-bindgen --target web --out-dir page target/wasm32-unknown-unknown/wasm-release/examples/browser_page.wasm
//! ```

#[cfg(target_arch = "wasm32")]
/// The page's scenario (wasm32 only).
pub mod page {
    use std::time::Duration;

    use bytes::Bytes;
    use futures_channel::mpsc;
    use futures_util::StreamExt;
    use serde_json::json;
    use sio_client::{ManagerEvent, Transport};
    use wasm_bindgen::prelude::*;

    #[derive(Debug)]
    enum Seen {
        Connect { recovered: bool },
        Disconnect(String),
        Event(String, Vec<serde_json::Value>),
        Transport(Transport),
    }

    fn log(text: &str) {
        web_sys::console::log_1(&format!("sio-page: {text}").into());
    }

    fn fail(text: impl std::fmt::Display) -> JsValue {
        JsValue::from_str(&text.to_string())
    }

    /// What the listeners saw, kept until a step takes it: steps may come in any order.
    struct History {
        items: Vec<Seen>,
        rx: mpsc::UnboundedReceiver<Seen>,
    }

    impl History {
        /// Takes the first thing seen that `pick` takes, waiting for it.
        async fn wait<T>(
            &mut self,
            what: &str,
            pick: impl Fn(&Seen) -> Option<T>,
        ) -> Result<T, JsValue> {
            loop {
                if let Some(i) = self.items.iter().position(|item| pick(item).is_some()) {
                    let item = self.items.remove(i);
                    return pick(&item).ok_or_else(|| fail(what));
                }
                match self.rx.next().await {
                    Some(item) => self.items.push(item),
                    None => return Err(fail(format!("the client stopped before {what}"))),
                }
            }
        }
    }

    /// Runs the scenario against the server at `url`; resolves with a JSON report.
    #[wasm_bindgen]
    pub async fn run(url: String) -> Result<JsValue, JsValue> {
        let (tx, rx) = mpsc::unbounded();
        let mut seen = History {
            items: Vec::new(),
            rx,
        };
        let (on_connect, on_disconnect, on_any, on_manager) =
            (tx.clone(), tx.clone(), tx.clone(), tx);
        let socket = sio_client::io(&url)
            .reconnection_delay(Duration::from_millis(200))
            .reconnection_delay_max(Duration::from_millis(500))
            .on_connect(move |socket| {
                let _ = on_connect.unbounded_send(Seen::Connect {
                    recovered: socket.recovered(),
                });
            })
            .on_disconnect(move |_, reason| {
                let _ = on_disconnect.unbounded_send(Seen::Disconnect(reason.to_string()));
            })
            .on_any(move |event| {
                let args = event
                    .args()
                    .to_values()
                    .unwrap_or_default()
                    .into_iter()
                    .map(|value| match value {
                        sio_client::Value::Binary(bytes) => json!({ "binary": bytes.to_vec() }),
                        other => serde_json::to_value(other).unwrap_or_default(),
                    })
                    .collect();
                let _ = on_any.unbounded_send(Seen::Event(event.name().to_owned(), args));
            })
            .build()
            .map_err(fail)?;
        socket.manager().on_event(move |event| {
            if let ManagerEvent::Transport(kind) = event {
                let _ = on_manager.unbounded_send(Seen::Transport(*kind));
            }
        });
        socket.connect();
        seen.wait("connect", |s| {
            matches!(s, Seen::Connect { .. }).then_some(())
        })
        .await?;
        log("connected");

        let answer = socket
            .timeout(Duration::from_secs(5))
            .emit_with_ack("echo", &("hi", Bytes::from_static(&[1, 2, 3])))
            .map_err(fail)?
            .await
            .map_err(fail)?;
        let (text, bytes): (String, Bytes) = answer.deserialize().map_err(fail)?;
        if text != "hi" || bytes[..] != [1, 2, 3] {
            return Err(fail(format!("echo answered {text:?} {bytes:?}")));
        }
        log("ack");

        socket
            .emit("broadcast", &("news", json!({ "n": 1 })))
            .map_err(fail)?;
        let news = seen
            .wait("the broadcast", |s| match s {
                Seen::Event(name, args) if name == "news" => Some(args.clone()),
                _ => None,
            })
            .await?;
        log("broadcast");

        let binary = socket
            .timeout(Duration::from_secs(5))
            .emit_with_ack("binary", &())
            .map_err(fail)?
            .await
            .map_err(fail)?;
        let (first, nested): (Bytes, sio_client::Value) = binary.deserialize().map_err(fail)?;
        if first[..] != [1, 2, 3] {
            return Err(fail(format!("binary answered {first:?}")));
        }
        log("binary");

        // The connection is cut once the upgrade is done on both sides.
        seen.wait("the upgrade", |s| {
            matches!(s, Seen::Transport(Transport::WebSocket)).then_some(())
        })
        .await?;
        socket
            .timeout(Duration::from_secs(5))
            .emit_with_ack("echo", &())
            .map_err(fail)?
            .await
            .map_err(fail)?;
        log("cut");
        let reason = seen
            .wait("the cut", |s| match s {
                Seen::Disconnect(reason) => Some(reason.clone()),
                _ => None,
            })
            .await?;
        log(&format!("disconnected: {reason}"));
        // The missed packets may come before the `connect` event (the official server
        // sends them first) or after it (ours).
        let recovered = seen
            .wait("the reconnection", |s| match s {
                Seen::Connect { recovered } => Some(*recovered),
                _ => None,
            })
            .await?;
        let mut missed = Vec::new();
        while missed.len() < 2 {
            let args = seen
                .wait("the missed events", |s| match s {
                    Seen::Event(name, args) if name == "missed" => Some(args.clone()),
                    _ => None,
                })
                .await?;
            missed.push(args[0].clone());
        }
        log("recovered");
        let report = json!({
            "news": news,
            "binary_nested": {
                "text": nested.get("text").and_then(sio_client::Value::as_str),
                "nested": nested.get("nested").and_then(|n| n.as_array()).and_then(|n| n[0].as_binary()).map(|b| b.to_vec()),
            },
            "reason": reason,
            "recovered": recovered,
            "missed": missed,
            "connected": socket.connected(),
        });
        socket.disconnect();
        Ok(JsValue::from_str(&report.to_string()))
    }
}
