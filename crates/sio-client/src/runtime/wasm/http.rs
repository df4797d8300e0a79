//! Long-polling requests with the browser's `fetch`, aborted when dropped.

use bytes::Bytes;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{AbortController, Headers, Request, RequestInit, Response};

use super::websocket::{self, WebSocket};
use crate::options::ManagerOptions;
use crate::platform::BoxFuture;
use crate::runtime::Method;

/// A manager's HTTP side: its extra headers and the response limit.
pub(crate) struct Http {
    headers: Vec<(String, String)>,
    max_payload: usize,
}

fn describe(error: JsValue) -> String {
    error
        .as_string()
        .or_else(|| {
            error
                .dyn_ref::<js_sys::Error>()
                .map(|e| String::from(e.message()))
        })
        .unwrap_or_else(|| format!("{error:?}"))
}

/// Aborts its request when dropped (the driver let go of the transport).
struct Abort(AbortController);

impl Drop for Abort {
    fn drop(&mut self) {
        self.0.abort();
    }
}

fn fetch(request: &Request) -> Result<js_sys::Promise, String> {
    let global = js_sys::global();
    if let Some(window) = global.dyn_ref::<web_sys::Window>() {
        return Ok(window.fetch_with_request(request));
    }
    if let Some(worker) = global.dyn_ref::<web_sys::WorkerGlobalScope>() {
        return Ok(worker.fetch_with_request(request));
    }
    Err("no fetch in this context".to_owned())
}

impl Http {
    pub(crate) fn new(options: &ManagerOptions) -> Self {
        Http {
            headers: options.extra_headers.clone(),
            max_payload: options.max_incoming_payload,
        }
    }

    /// A GET or a POST; the body of a 200 answer.
    pub(crate) fn request(
        &self,
        method: Method,
        url: String,
        body: Option<Bytes>,
    ) -> BoxFuture<'static, Result<Bytes, String>> {
        let headers = self.headers.clone();
        let max_payload = self.max_payload;
        Box::pin(async move {
            let init = RequestInit::new();
            let controller = AbortController::new().map_err(describe)?;
            init.set_signal(Some(&controller.signal()));
            let _abort = Abort(controller);
            let request_headers = Headers::new().map_err(describe)?;
            for (name, value) in &headers {
                request_headers.append(name, value).map_err(describe)?;
            }
            match method {
                Method::Get => init.set_method("GET"),
                Method::Post => {
                    init.set_method("POST");
                    request_headers
                        .append("Content-Type", "text/plain;charset=UTF-8")
                        .map_err(describe)?;
                    // A payload is text: binary travels base64-encoded in it.
                    let text = String::from_utf8_lossy(&body.unwrap_or_default()).into_owned();
                    init.set_body(&JsValue::from_str(&text));
                }
            }
            init.set_headers(&request_headers);
            let request = Request::new_with_str_and_init(&url, &init).map_err(describe)?;
            let response: Response = JsFuture::from(fetch(&request)?)
                .await
                .map_err(describe)?
                .dyn_into()
                .map_err(describe)?;
            if response.status() != 200 {
                return Err(format!("HTTP {}", response.status()));
            }
            let text = JsFuture::from(response.text().map_err(describe)?)
                .await
                .map_err(describe)?
                .as_string()
                .unwrap_or_default();
            if text.len() > max_payload {
                return Err(format!(
                    "a response of {} bytes is over the limit",
                    text.len()
                ));
            }
            Ok(Bytes::from(text))
        })
    }

    /// Opens a WebSocket to `url` (browsers send no extra headers on it).
    pub(crate) fn websocket(&self, url: String) -> BoxFuture<'static, Result<WebSocket, String>> {
        let max_payload = self.max_payload;
        Box::pin(async move { websocket::connect(&url, max_payload).await })
    }
}
