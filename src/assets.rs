//! Static files: the official client bundle (fetched by build.rs from npm) at the paths
//! where the Node server serves it, and the demo page.

use std::hash::{DefaultHasher, Hash, Hasher};

use axum::body::Body;
use http::{HeaderMap, HeaderValue, Response, StatusCode, header};

/// One file served from memory.
pub(crate) struct Asset {
    pub(crate) path: &'static str,
    pub(crate) content_type: &'static str,
    pub(crate) bytes: &'static [u8],
}

macro_rules! bundle {
    ($($file:literal => $type:literal),* $(,)?) => {
        &[$(Asset {
            path: concat!("/socket.io/", $file),
            content_type: $type,
            bytes: include_bytes!(concat!(env!("SOCKETIO_CLIENT_DIST"), "/", $file)),
        }),*]
    };
}

const JS: &str = "application/javascript; charset=utf-8";
#[cfg(test)]
const MAP: &str = "application/json; charset=utf-8";

/// `socket.io-client`'s `dist` files.
pub(crate) const BUNDLE: &[Asset] = bundle! {
    "socket.io.js" => "application/javascript; charset=utf-8",
    "socket.io.js.map" => "application/json; charset=utf-8",
    "socket.io.min.js" => "application/javascript; charset=utf-8",
    "socket.io.min.js.map" => "application/json; charset=utf-8",
    "socket.io.esm.min.js" => "application/javascript; charset=utf-8",
    "socket.io.esm.min.js.map" => "application/json; charset=utf-8",
    "socket.io.msgpack.min.js" => "application/javascript; charset=utf-8",
    "socket.io.msgpack.min.js.map" => "application/json; charset=utf-8",
};

/// The demo chat.
pub(crate) const DEMO: &[Asset] = &[
    Asset {
        path: "/",
        content_type: "text/html; charset=utf-8",
        bytes: include_bytes!("../assets/demo/index.html"),
    },
    Asset {
        path: "/demo/app.js",
        content_type: JS,
        bytes: include_bytes!("../assets/demo/app.js"),
    },
    Asset {
        path: "/demo/style.css",
        content_type: "text/css; charset=utf-8",
        bytes: include_bytes!("../assets/demo/style.css"),
    },
];

/// The bundle file at this path, if it is one.
pub(crate) fn bundle_file(path: &str) -> Option<&'static Asset> {
    BUNDLE.iter().find(|asset| asset.path == path)
}

fn etag(bytes: &[u8]) -> HeaderValue {
    let mut hasher = DefaultHasher::new();
    bytes.hash(&mut hasher);
    HeaderValue::from_str(&format!("\"{:016x}\"", hasher.finish()))
        .unwrap_or_else(|_| HeaderValue::from_static("\"0\""))
}

/// Serves `asset`, or 304 if the client has it (as the Node server does, with an ETag
/// and `Cache-Control: public, max-age=0`).
pub(crate) fn serve(asset: &Asset, request_headers: &HeaderMap) -> Response<Body> {
    let tag = etag(asset.bytes);
    let cached = request_headers
        .get(header::IF_NONE_MATCH)
        .is_some_and(|value| value == tag);
    let mut response = if cached {
        let mut response = Response::new(Body::empty());
        *response.status_mut() = StatusCode::NOT_MODIFIED;
        response
    } else {
        let mut response = Response::new(Body::from(asset.bytes));
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(asset.content_type),
        );
        response
    };
    let headers = response.headers_mut();
    headers.insert(header::ETAG, tag);
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=0"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bundle_is_the_official_client() {
        let bundle = bundle_file("/socket.io/socket.io.min.js").unwrap();
        let text = std::str::from_utf8(bundle.bytes).unwrap();
        assert!(text.starts_with("/*!\n * Socket.IO v4."), "{}", &text[..40]);
        assert_eq!(bundle.content_type, JS);
        assert_eq!(
            bundle_file("/socket.io/socket.io.js.map")
                .unwrap()
                .content_type,
            MAP
        );
        assert!(bundle_file("/socket.io/other.js").is_none());
    }

    #[test]
    fn a_cached_copy_gets_304() {
        let bundle = bundle_file("/socket.io/socket.io.js").unwrap();
        let first = serve(bundle, &HeaderMap::new());
        assert_eq!(first.status(), StatusCode::OK);
        let mut headers = HeaderMap::new();
        headers.insert(header::IF_NONE_MATCH, first.headers()[header::ETAG].clone());
        assert_eq!(serve(bundle, &headers).status(), StatusCode::NOT_MODIFIED);
    }
}
