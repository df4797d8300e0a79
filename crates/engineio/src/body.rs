//! Reading a long-polling POST body within the size limit and in bounded time.

use std::time::Duration;

use bytes::{Buf, Bytes, BytesMut};
use http::{HeaderMap, header};
use http_body::Body;
use http_body_util::BodyExt;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum BodyError {
    /// The body is larger than the limit (HTTP 413). Detected from `Content-Length` before
    /// reading, or as soon as the bytes read pass the limit, chunked bodies included.
    TooLarge,
    /// The client did not send the whole body in time (HTTP 408).
    Timeout,
    /// The connection failed while reading.
    Read,
}

pub(crate) async fn read_body<B>(
    headers: &HeaderMap,
    body: B,
    limit: usize,
    timeout: Duration,
) -> Result<Bytes, BodyError>
where
    B: Body,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok());
    if declared.is_some_and(|length| length > limit as u64)
        || body.size_hint().lower() > limit as u64
    {
        return Err(BodyError::TooLarge);
    }
    tokio::time::timeout(timeout, collect(body, limit))
        .await
        .unwrap_or(Err(BodyError::Timeout))
}

async fn collect<B>(body: B, limit: usize) -> Result<Bytes, BodyError>
where
    B: Body,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let mut body = std::pin::pin!(body);
    // A body in one chunk (the usual case) is kept without a copy.
    let mut first: Option<Bytes> = None;
    let mut joined: Option<BytesMut> = None;
    let mut length = 0usize;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|_| BodyError::Read)?;
        let Ok(mut data) = frame.into_data() else {
            continue;
        };
        length += data.remaining();
        if length > limit {
            return Err(BodyError::TooLarge);
        }
        let chunk = data.copy_to_bytes(data.remaining());
        match (&mut first, &mut joined) {
            (None, None) => first = Some(chunk),
            (Some(_), None) => {
                let mut buf = BytesMut::from(first.take().unwrap_or_default());
                buf.extend_from_slice(&chunk);
                joined = Some(buf);
            }
            (_, Some(buf)) => buf.extend_from_slice(&chunk),
        }
    }
    Ok(match joined {
        Some(buf) => buf.freeze(),
        None => first.unwrap_or_default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::{Full, StreamBody};

    type Chunk = Result<http_body::Frame<Bytes>, std::io::Error>;

    fn chunked(chunks: &[&'static [u8]]) -> StreamBody<tokio_stream_lite::Iter<Chunk>> {
        let frames: Vec<Chunk> = chunks
            .iter()
            .map(|c| Ok(http_body::Frame::data(Bytes::from_static(c))))
            .collect();
        StreamBody::new(tokio_stream_lite::Iter(frames.into_iter()))
    }

    /// A minimal stream over an iterator, to build chunked bodies in tests.
    mod tokio_stream_lite {
        use std::pin::Pin;
        use std::task::{Context, Poll};

        pub(crate) struct Iter<T>(pub(crate) std::vec::IntoIter<T>);

        impl<T: Unpin> futures_core::Stream for Iter<T> {
            type Item = T;
            fn poll_next(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Option<T>> {
                Poll::Ready(self.0.next())
            }
        }
    }

    const SECOND: Duration = Duration::from_secs(1);

    #[tokio::test]
    async fn reads_within_the_limit() {
        let none = HeaderMap::new();
        let whole = Full::new(Bytes::from_static(b"4hello"));
        assert_eq!(read_body(&none, whole, 6, SECOND).await.unwrap(), "4hello");
        let chunks = chunked(&[b"4he", b"llo"]);
        assert_eq!(read_body(&none, chunks, 6, SECOND).await.unwrap(), "4hello");
    }

    #[tokio::test]
    async fn refuses_what_is_over_the_limit() {
        let none = HeaderMap::new();
        let whole = Full::new(Bytes::from_static(b"4hello"));
        assert_eq!(
            read_body(&none, whole, 5, SECOND).await,
            Err(BodyError::TooLarge)
        );
        let chunks = chunked(&[b"4he", b"llo"]);
        assert_eq!(
            read_body(&none, chunks, 5, SECOND).await,
            Err(BodyError::TooLarge)
        );
        let mut declared = HeaderMap::new();
        declared.insert(header::CONTENT_LENGTH, "1000001".parse().unwrap());
        let empty = Full::new(Bytes::new());
        assert_eq!(
            read_body(&declared, empty, 1_000_000, SECOND).await,
            Err(BodyError::TooLarge)
        );
    }
}
