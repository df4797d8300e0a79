//! The browser's `WebSocket`: its events go into a channel the driver reads.

use std::task::{Context, Poll};

use bytes::Bytes;
use engineio_proto::{Frame, Packet};
use futures_channel::mpsc;
use futures_core::Stream;
use wasm_bindgen::JsCast;
use wasm_bindgen::closure::Closure;
use web_sys::{BinaryType, CloseEvent, Event, MessageEvent};

use crate::runtime::Incoming;

/// An open browser WebSocket.
pub(crate) struct WebSocket {
    ws: web_sys::WebSocket,
    received: mpsc::UnboundedReceiver<Incoming>,
    _on_message: Closure<dyn FnMut(MessageEvent)>,
    _on_close: Closure<dyn FnMut(CloseEvent)>,
    _on_error: Closure<dyn FnMut(Event)>,
}

/// Opens a WebSocket and waits for it to open (or fail).
pub(crate) async fn connect(url: &str, max_payload: usize) -> Result<WebSocket, String> {
    let ws = web_sys::WebSocket::new(url).map_err(|e| format!("{e:?}"))?;
    ws.set_binary_type(BinaryType::Arraybuffer);
    let (sender, mut received) = mpsc::unbounded::<Incoming>();
    let (opened, mut open) = futures_channel::oneshot::channel::<()>();
    let mut opened = Some(opened);
    let on_open = Closure::<dyn FnMut(Event)>::new(move |_| {
        if let Some(opened) = opened.take() {
            let _ = opened.send(());
        }
    });
    ws.set_onopen(Some(on_open.as_ref().unchecked_ref()));
    let messages = sender.clone();
    let on_message = Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
        let data = event.data();
        let incoming = if let Some(text) = data.as_string() {
            if text.len() > max_payload {
                Incoming::Error(format!(
                    "a message of {} bytes is over the limit",
                    text.len()
                ))
            } else {
                match Packet::decode_text(Bytes::from(text)) {
                    Ok(packet) => Incoming::Packet(packet),
                    Err(_) => Incoming::Undecodable,
                }
            }
        } else if let Ok(buffer) = data.dyn_into::<js_sys::ArrayBuffer>() {
            let bytes = js_sys::Uint8Array::new(&buffer).to_vec();
            if bytes.len() > max_payload {
                Incoming::Error(format!(
                    "a message of {} bytes is over the limit",
                    bytes.len()
                ))
            } else {
                Incoming::Packet(Packet::decode_binary(Bytes::from(bytes)))
            }
        } else {
            Incoming::Undecodable
        };
        let _ = messages.unbounded_send(incoming);
    });
    ws.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
    let closes = sender.clone();
    let on_close = Closure::<dyn FnMut(CloseEvent)>::new(move |_| {
        let _ = closes.unbounded_send(Incoming::Closed);
    });
    ws.set_onclose(Some(on_close.as_ref().unchecked_ref()));
    let on_error = Closure::<dyn FnMut(Event)>::new(move |_| {
        let _ = sender.unbounded_send(Incoming::Error("websocket error".to_owned()));
    });
    ws.set_onerror(Some(on_error.as_ref().unchecked_ref()));
    // From here on, dropping the socket (a failed open, or the driver letting go while
    // it opens) closes it.
    let mut socket = WebSocket {
        ws,
        received: mpsc::unbounded().1,
        _on_message: on_message,
        _on_close: on_close,
        _on_error: on_error,
    };
    // Open, or the first error or close.
    let failed = std::future::poll_fn(|cx| {
        if let Poll::Ready(result) = std::pin::Pin::new(&mut open).poll(cx) {
            return Poll::Ready(result.err().map(|_| "closed".to_owned()));
        }
        match std::pin::Pin::new(&mut received).poll_next(cx) {
            Poll::Ready(Some(Incoming::Error(error))) => Poll::Ready(Some(error)),
            Poll::Ready(_) => Poll::Ready(Some("the WebSocket closed while opening".to_owned())),
            Poll::Pending => Poll::Pending,
        }
    })
    .await;
    socket.ws.set_onopen(None);
    drop(on_open);
    match failed {
        Some(error) => Err(error),
        None => {
            socket.received = received;
            Ok(socket)
        }
    }
}

impl WebSocket {
    pub(crate) fn send(&mut self, packets: Vec<Packet>) {
        for packet in packets {
            let _ = match packet.into_frame() {
                Frame::Text(text) => {
                    let text = String::from_utf8_lossy(&text);
                    self.ws.send_with_str(&text)
                }
                Frame::Binary(data) => self.ws.send_with_u8_array(&data),
            };
        }
    }

    /// The browser keeps what it was given: nothing is left to take.
    pub(crate) fn has_received(&self) -> bool {
        false
    }

    /// The browser buffers what is sent.
    pub(crate) fn has_unwritten(&self) -> bool {
        false
    }

    /// The browser buffers what is sent.
    pub(crate) fn poll_flush(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), String>> {
        Poll::Ready(Ok(()))
    }

    pub(crate) fn poll_close(&mut self, _cx: &mut Context<'_>) -> Poll<()> {
        let _ = self.ws.close();
        Poll::Ready(())
    }

    pub(crate) fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Incoming> {
        match std::pin::Pin::new(&mut self.received).poll_next(cx) {
            Poll::Ready(Some(incoming)) => Poll::Ready(incoming),
            Poll::Ready(None) => Poll::Ready(Incoming::Closed),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl Drop for WebSocket {
    fn drop(&mut self) {
        self.ws.set_onopen(None);
        self.ws.set_onmessage(None);
        self.ws.set_onclose(None);
        self.ws.set_onerror(None);
        let _ = self.ws.close();
    }
}
