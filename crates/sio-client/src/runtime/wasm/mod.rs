//! The browser (`wasm32`): `fetch` for long-polling, the browser's `WebSocket`, its timers
//! and its event loop (tasks are `spawn_local`ed). No tokio, no threads.

mod http;
mod websocket;

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use engineio_proto::Timestamp;
use wasm_bindgen::JsCast;

use crate::error::BuildError;

pub(crate) use http::Http;
pub(crate) use websocket::WebSocket;

/// Milliseconds from the page's monotonic clock (`performance.now()`), or the wall clock
/// where there is none.
fn now_ms() -> f64 {
    let performance = js_sys::Reflect::get(&js_sys::global(), &"performance".into())
        .ok()
        .and_then(|p| p.dyn_into::<web_sys::Performance>().ok());
    match performance {
        Some(performance) => performance.now(),
        None => js_sys::Date::now(),
    }
}

/// Time since the manager was made.
pub(crate) struct Clock(f64);

impl Clock {
    pub(crate) fn new() -> Self {
        Clock(now_ms())
    }

    pub(crate) fn now(&self) -> Timestamp {
        let ms = (now_ms() - self.0).max(0.0);
        Timestamp::from_duration(Duration::from_secs_f64(ms / 1000.0))
    }
}

/// Runs the driver on the page's event loop.
pub(crate) fn spawn(future: impl Future<Output = ()> + 'static) -> Result<(), BuildError> {
    wasm_bindgen_futures::spawn_local(future);
    Ok(())
}

pub(crate) type Sleep = Pin<Box<gloo_timers::future::TimeoutFuture>>;

pub(crate) fn sleep(delay: Duration) -> Sleep {
    // Rounded up (a timer that fires early is re-armed), and within `setTimeout`'s
    // 32-bit signed range: a longer delay fires at once there, and the driver would spin.
    let ms = delay.as_micros().div_ceil(1000).min(i32::MAX as u128) as u32;
    Box::pin(gloo_timers::future::TimeoutFuture::new(ms))
}

pub(crate) fn random_seed() -> u64 {
    (js_sys::Math::random() * (1u64 << 53) as f64) as u64
}
