//! What differs between a native target and the browser: whether shared things must be
//! `Send` and `Sync` (the browser has one thread and its values are neither).

use std::future::Future;
use std::pin::Pin;

/// `Send` on native targets; nothing in the browser.
#[cfg(not(target_arch = "wasm32"))]
pub trait MaybeSend: Send {}
#[cfg(not(target_arch = "wasm32"))]
impl<T: Send + ?Sized> MaybeSend for T {}

/// `Send` on native targets; nothing in the browser.
#[cfg(target_arch = "wasm32")]
pub trait MaybeSend {}
#[cfg(target_arch = "wasm32")]
impl<T: ?Sized> MaybeSend for T {}

/// `Sync` on native targets; nothing in the browser.
#[cfg(not(target_arch = "wasm32"))]
pub trait MaybeSync: Sync {}
#[cfg(not(target_arch = "wasm32"))]
impl<T: Sync + ?Sized> MaybeSync for T {}

/// `Sync` on native targets; nothing in the browser.
#[cfg(target_arch = "wasm32")]
pub trait MaybeSync {}
#[cfg(target_arch = "wasm32")]
impl<T: ?Sized> MaybeSync for T {}

/// A boxed future, `Send` on native targets.
#[cfg(not(target_arch = "wasm32"))]
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;
/// A boxed future, `Send` on native targets.
#[cfg(target_arch = "wasm32")]
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + 'a>>;

/// A shared callback returning a future of `T`: `Send + Sync` on native targets.
#[cfg(not(target_arch = "wasm32"))]
pub type AsyncCallback<T> = std::sync::Arc<dyn Fn() -> BoxFuture<'static, T> + Send + Sync>;
/// A shared callback returning a future of `T`: `Send + Sync` on native targets.
#[cfg(target_arch = "wasm32")]
pub type AsyncCallback<T> = std::sync::Arc<dyn Fn() -> BoxFuture<'static, T>>;

/// Declares a shared callback type with the signature given: `Send + Sync` on native
/// targets, neither in the browser.
macro_rules! shared_fn {
    ($(#[$doc:meta])* $name:ident = $($sig:tt)*) => {
        $(#[$doc])*
        #[cfg(not(target_arch = "wasm32"))]
        pub(crate) type $name = std::sync::Arc<dyn $($sig)* + Send + Sync>;
        $(#[$doc])*
        #[cfg(target_arch = "wasm32")]
        pub(crate) type $name = std::sync::Arc<dyn $($sig)*>;
    };
}
pub(crate) use shared_fn;
