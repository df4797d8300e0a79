//! The URL given to `io()`: the server, the namespace and a query, read as the official
//! client reads it.

use engineio_proto::Endpoint;

use crate::error::BuildError;

/// What a URL names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ParsedUrl {
    pub(crate) secure: bool,
    /// `http`/`https` or `ws`/`wss`: managers are shared only within one scheme.
    pub(crate) scheme: String,
    pub(crate) host: String,
    pub(crate) port: u16,
    /// The namespace (the URL's path), `/` when there is none.
    pub(crate) nsp: String,
    pub(crate) query: Vec<(String, String)>,
}

impl ParsedUrl {
    /// Parses `url`: `http`, `https`, `ws` or `wss`; a URL without a scheme is `https`, as
    /// in the official client outside a browser.
    pub(crate) fn parse(url: &str) -> Result<Self, BuildError> {
        let with_scheme = if url.contains("://") {
            url.to_owned()
        } else if let Some(rest) = url.strip_prefix("//") {
            format!(
                "{}//{rest}",
                page_protocol().unwrap_or_else(|| "https:".to_owned())
            )
        } else if url.starts_with('/') {
            // Relative to the page, as `io("/chat")` is in a browser.
            let origin = page_origin().ok_or_else(|| {
                BuildError::InvalidUrl(format!(
                    "{url}: a relative URL needs a page to be relative to"
                ))
            })?;
            format!("{origin}{url}")
        } else {
            format!(
                "{}//{url}",
                page_protocol().unwrap_or_else(|| "https:".to_owned())
            )
        };
        let uri: http::Uri = with_scheme
            .parse()
            .map_err(|error| BuildError::InvalidUrl(format!("{url}: {error}")))?;
        let scheme = uri.scheme_str().unwrap_or("https").to_ascii_lowercase();
        let secure = match scheme.as_str() {
            "http" | "ws" => false,
            "https" | "wss" => true,
            other => {
                return Err(BuildError::InvalidUrl(format!(
                    "{url}: unknown scheme {other}"
                )));
            }
        };
        let host = uri
            .host()
            .filter(|host| !host.is_empty())
            .ok_or_else(|| BuildError::InvalidUrl(format!("{url}: no host")))?;
        let host = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        let port = uri.port_u16().unwrap_or(if secure { 443 } else { 80 });
        let nsp = match uri.path() {
            "" => "/".to_owned(),
            path => percent_decode(path),
        };
        let query = uri.query().map(parse_query).unwrap_or_default();
        Ok(ParsedUrl {
            secure,
            scheme,
            host,
            port,
            nsp,
            query,
        })
    }

    /// The key under which managers are shared: scheme, host, port and Engine.IO path.
    pub(crate) fn manager_id(&self, path: &str) -> String {
        format!("{}://{}:{}{path}", self.scheme, self.host, self.port)
    }

    pub(crate) fn endpoint(&self) -> Endpoint {
        Endpoint::new(self.secure, self.host.clone(), self.port)
    }
}

/// The page's `location`, in a browser.
#[cfg(target_arch = "wasm32")]
fn location(field: &str) -> Option<String> {
    let location = js_sys::Reflect::get(&js_sys::global(), &"location".into()).ok()?;
    js_sys::Reflect::get(&location, &field.into())
        .ok()?
        .as_string()
}

/// `https://host:port` of the page, in a browser.
fn page_origin() -> Option<String> {
    #[cfg(target_arch = "wasm32")]
    return location("origin");
    #[cfg(not(target_arch = "wasm32"))]
    None
}

/// `https:` or `http:`, the page's, in a browser.
fn page_protocol() -> Option<String> {
    #[cfg(target_arch = "wasm32")]
    return location("protocol");
    #[cfg(not(target_arch = "wasm32"))]
    None
}

/// `a=1&b=x%20y` as pairs, decoded as JavaScript's `decodeURIComponent` does.
pub(crate) fn parse_query(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(key), percent_decode(value))
        })
        .collect()
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let (Some(high), Some(low)) = (hex(bytes[i + 1]), hex(bytes[i + 2]))
        {
            out.push((high * 16 + low) as u8);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_as_io_reads_them() {
        let url = ParsedUrl::parse("http://localhost:3000/admin?token=a%20b&x").unwrap();
        assert_eq!(
            url,
            ParsedUrl {
                secure: false,
                scheme: "http".into(),
                host: "localhost".into(),
                port: 3000,
                nsp: "/admin".into(),
                query: vec![("token".into(), "a b".into()), ("x".into(), "".into())],
            }
        );
        assert_eq!(
            url.manager_id("/socket.io"),
            "http://localhost:3000/socket.io"
        );
        let url = ParsedUrl::parse("wss://[::1]").unwrap();
        assert_eq!(
            (url.secure, url.host.as_str(), url.port, url.nsp.as_str()),
            (true, "::1", 443, "/")
        );
        let url = ParsedUrl::parse("example.com/chat").unwrap();
        assert_eq!(
            (url.scheme.as_str(), url.port, url.nsp.as_str()),
            ("https", 443, "/chat")
        );
        assert!(ParsedUrl::parse("ftp://h/").is_err());
        // Outside a browser there is no page to be relative to.
        assert!(ParsedUrl::parse("/chat").is_err());
        assert_eq!(ParsedUrl::parse("//h:81/x").unwrap().port, 81);
        assert!(ParsedUrl::parse("http://").is_err());
        assert_eq!(percent_decode("%e9%C3%A9%zz%4"), "\u{fffd}é%zz%4");
    }
}
