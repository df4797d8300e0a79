//! The HTTP answers to requests the server refuses, with Node's JSON error bodies.

use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode, header};

/// The body of every response: one buffer.
pub type ResponseBody = http_body_util::Full<Bytes>;

/// Why a request was refused, with Node's error codes and messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum EngineError {
    /// Code 0: the `transport` parameter is missing, unknown or disabled.
    UnknownTransport,
    /// Code 1: no open session has this `sid`.
    UnknownSid,
    /// Code 2: a handshake that is not a GET.
    BadHandshakeMethod,
    /// Code 3: anything else malformed.
    BadRequest,
    /// Code 4: refused by `allow_request` or the origin allow-list (HTTP 403).
    Forbidden,
    /// Code 5: an `EIO` other than 4.
    UnsupportedProtocolVersion,
    /// The session limit is reached (HTTP 503, code 3).
    TooManySessions,
}

impl EngineError {
    /// Every error, in the order of [`EngineError::index`].
    pub(crate) const ALL: [EngineError; 7] = [
        EngineError::UnknownTransport,
        EngineError::UnknownSid,
        EngineError::BadHandshakeMethod,
        EngineError::BadRequest,
        EngineError::Forbidden,
        EngineError::UnsupportedProtocolVersion,
        EngineError::TooManySessions,
    ];

    pub(crate) fn index(self) -> usize {
        match self {
            EngineError::UnknownTransport => 0,
            EngineError::UnknownSid => 1,
            EngineError::BadHandshakeMethod => 2,
            EngineError::BadRequest => 3,
            EngineError::Forbidden => 4,
            EngineError::UnsupportedProtocolVersion => 5,
            EngineError::TooManySessions => 6,
        }
    }

    fn code(self) -> u8 {
        match self {
            EngineError::UnknownTransport => 0,
            EngineError::UnknownSid => 1,
            EngineError::BadHandshakeMethod => 2,
            EngineError::BadRequest | EngineError::TooManySessions => 3,
            EngineError::Forbidden => 4,
            EngineError::UnsupportedProtocolVersion => 5,
        }
    }

    pub(crate) fn message(self) -> &'static str {
        match self {
            EngineError::UnknownTransport => "Transport unknown",
            EngineError::UnknownSid => "Session ID unknown",
            EngineError::BadHandshakeMethod => "Bad handshake method",
            EngineError::BadRequest => "Bad request",
            EngineError::Forbidden => "Forbidden",
            EngineError::UnsupportedProtocolVersion => "Unsupported protocol version",
            EngineError::TooManySessions => "Too many sessions",
        }
    }

    fn status(self) -> StatusCode {
        match self {
            EngineError::Forbidden => StatusCode::FORBIDDEN,
            EngineError::TooManySessions => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::BAD_REQUEST,
        }
    }
}

/// `{"code":N,"message":"…"}` with the error's status; `message` replaces the default one
/// (an `allow_request` refusal's own message).
pub(crate) fn error_response(error: EngineError, message: Option<&str>) -> Response<ResponseBody> {
    let message = message.unwrap_or(error.message());
    let mut body = String::with_capacity(message.len() + 32);
    body.push_str("{\"code\":");
    body.push(char::from(b'0' + error.code()));
    body.push_str(",\"message\":");
    push_json_string(&mut body, message);
    body.push('}');
    let mut response = Response::new(ResponseBody::new(Bytes::from(body)));
    *response.status_mut() = error.status();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

/// A response with only a status.
pub(crate) fn status_response(status: StatusCode) -> Response<ResponseBody> {
    let mut response = Response::new(ResponseBody::default());
    *response.status_mut() = status;
    response
}

fn push_json_string(out: &mut String, text: &str) {
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    async fn body_of(response: Response<ResponseBody>) -> String {
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        String::from_utf8(bytes.to_vec()).unwrap()
    }

    #[tokio::test]
    async fn node_error_bodies() {
        let response = error_response(EngineError::UnknownTransport, None);
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        assert_eq!(
            body_of(response).await,
            r#"{"code":0,"message":"Transport unknown"}"#
        );
        let response = error_response(EngineError::Forbidden, Some("no \"quotes\"\n"));
        assert_eq!(response.status(), StatusCode::FORBIDDEN);
        assert_eq!(
            body_of(response).await,
            r#"{"code":4,"message":"no \"quotes\"\u000a"}"#
        );
    }
}
