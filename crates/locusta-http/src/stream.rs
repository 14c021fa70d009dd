//! `stream=True`: a response whose body the caller reads piece by piece, as it arrives, instead
//! of receiving it whole with the head.
//!
//! [`Session::send_streaming`](crate::Session::send_streaming) returns once the final response's
//! head is in (its time is the response time Locust reports for `stream=True`) together with a
//! [`BodyStream`] that owns the connection. Each [`BodyStream::next_chunk`] reads what arrived
//! next (decompressed on the fly for gzip/deflate), so a caller can act on the first bytes of a
//! slow stream — the first token of an LLM answer, the first event of a server-sent stream. Once
//! the body has been read to its end, the connection goes back to its pool; a stream dropped
//! before that closes it.

use std::io::Write;
use std::time::Duration;

use bytes::Bytes;
use hyper::body::{Body as _, Incoming};

use crate::conn::{Conn, Origin};
use crate::error::HttpError;
use crate::headers::ResponseHeaders;
use crate::lean::{BodyCursor, LeanConn};
use crate::options::Proxy;
use crate::pool::{ConnectionPool, PooledConn};

/// Where a deferred body comes from.
pub(crate) enum Source {
    /// The lean driver's connection and how far its body has been read.
    Lean { conn: LeanConn, cursor: BodyCursor },
    /// hyper's connection (driven while reading) and the body.
    Hyper { conn: Conn, incoming: Incoming },
    /// A stream of the session's HTTP/2 connection (driven by its own task).
    H2 { recv: h2::RecvStream },
    /// Read to the end (or failed): nothing more to read.
    Finished,
}

/// The next non-empty data frame of a hyper body (`None` at its end); a trailers frame on the
/// way is kept in `trailers`. `drive` polls, alongside, whatever must run for the body to
/// arrive: the HTTP/1.1 connection's driver.
async fn next_data(
    incoming: &mut Incoming,
    trailers: &mut Option<http::HeaderMap>,
    mut drive: impl FnMut(&mut std::task::Context<'_>),
) -> Result<Option<Bytes>, hyper::Error> {
    loop {
        let frame = std::future::poll_fn(|cx| {
            drive(cx);
            std::pin::Pin::new(&mut *incoming).poll_frame(cx)
        })
        .await;
        match frame {
            None => return Ok(None),
            Some(Ok(f)) => match f.into_data() {
                Ok(data) if !data.is_empty() => return Ok(Some(data)),
                Ok(_) => {}
                Err(f) => {
                    if let Ok(t) = f.into_trailers() {
                        trailers.get_or_insert_with(Default::default).extend(t);
                    }
                }
            },
            Some(Err(e)) => return Err(e),
        }
    }
}

/// Where the connection goes back once the body has been read to its end.
pub(crate) struct Return {
    pub pool: ConnectionPool,
    pub https: bool,
    pub host: String,
    pub port: u16,
    pub verified: bool,
    pub proxy: Option<Proxy>,
    pub max_idle: usize,
    /// The response allows another request on the connection.
    pub keep_alive: bool,
}

/// The body of a `stream=True` response, read as it arrives.
pub struct BodyStream {
    source: Source,
    decoder: Option<Decoder>,
    back: Return,
    /// Limit for each read (the request's timeout).
    timeout: Option<Duration>,
    /// Most decoded bytes the whole body may have (the client's `max_body_bytes`).
    limit: u64,
    read: u64,
    read_buffer_size: usize,
    /// The trailer fields received after the body (HTTP/2, chunked HTTP/1.1 via hyper).
    trailers: Option<http::HeaderMap>,
}

impl std::fmt::Debug for BodyStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BodyStream")
            .field("read", &self.read)
            .field("finished", &self.is_finished())
            .finish_non_exhaustive()
    }
}

impl BodyStream {
    pub(crate) fn new(
        source: Source,
        headers: &ResponseHeaders,
        back: Return,
        timeout: Option<Duration>,
        limit: u64,
        read_buffer_size: usize,
    ) -> BodyStream {
        BodyStream {
            source,
            decoder: Decoder::for_headers(headers),
            back,
            timeout,
            limit,
            read: 0,
            read_buffer_size,
            trailers: None,
        }
    }

    /// Whether the body has been read to its end (or reading it failed).
    pub fn is_finished(&self) -> bool {
        matches!(self.source, Source::Finished)
    }

    /// The trailer fields that followed the body, once it has been read to its end (`None`
    /// when there were none, or the lean driver read the body: it skips trailers). gRPC sends
    /// its status there.
    pub fn trailers(&self) -> Option<&http::HeaderMap> {
        self.trailers.as_ref()
    }

    /// Decoded body bytes handed out so far.
    pub fn bytes_read(&self) -> u64 {
        self.read
    }

    /// The next piece of the body as it arrives (never empty); `None` at its end. After an
    /// error the stream is finished and its connection closed.
    pub async fn next_chunk(&mut self) -> Result<Option<Bytes>, HttpError> {
        loop {
            let raw = match self.timeout {
                Some(t) => match tokio::time::timeout(t, self.next_raw()).await {
                    Ok(r) => r,
                    Err(_) => Err(self.timed_out(t)),
                },
                None => self.next_raw().await,
            };
            let raw = match raw {
                Ok(r) => r,
                Err(e) => {
                    self.source = Source::Finished;
                    return Err(e);
                }
            };
            let piece = match (raw, self.decoder.as_mut()) {
                (Some(data), None) => data,
                (Some(data), Some(d)) => match d.feed(&data) {
                    Ok(out) => out,
                    Err(e) => {
                        self.source = Source::Finished;
                        return Err(e);
                    }
                },
                (None, Some(d)) => {
                    let tail = d.finish();
                    self.decoder = None;
                    match tail {
                        Ok(out) if !out.is_empty() => out,
                        Ok(_) => return Ok(None),
                        Err(e) => return Err(e),
                    }
                }
                (None, None) => return Ok(None),
            };
            if piece.is_empty() {
                continue; // compressed input that decoded to nothing yet
            }
            self.read += piece.len() as u64;
            if self.read > self.limit {
                self.source = Source::Finished;
                return Err(HttpError::BodyTooLarge { limit: self.limit });
            }
            return Ok(Some(piece));
        }
    }

    fn timed_out(&self, timeout: Duration) -> HttpError {
        HttpError::ReadTimeout {
            host: self.back.host.clone(),
            port: self.back.port,
            https: self.back.https,
            timeout,
        }
    }

    /// The next raw (still encoded) piece; at the end, the connection goes back to the pool.
    async fn next_raw(&mut self) -> Result<Option<Bytes>, HttpError> {
        let piece = match &mut self.source {
            Source::Finished => return Ok(None),
            Source::Lean { conn, cursor } => {
                conn.next_body_piece(cursor, self.read_buffer_size).await?
            }
            Source::Hyper { conn, incoming } => {
                next_data(incoming, &mut self.trailers, |cx| conn.poll_driver(cx))
                    .await
                    .map_err(|e| crate::session::body_error(&e, self.read, None))?
            }
            Source::H2 { recv } => {
                let piece = crate::http2::next_data(recv)
                    .await
                    .map_err(|e| crate::http2::body_error(&e, self.read, None))?;
                if piece.is_none() {
                    // the trailer fields (gRPC's status) follow the last data frame
                    let fields = std::future::poll_fn(|cx| recv.poll_trailers(cx))
                        .await
                        .map_err(|e| crate::http2::body_error(&e, self.read, None))?;
                    if let Some(fields) = fields {
                        self.trailers
                            .get_or_insert_with(Default::default)
                            .extend(fields);
                    }
                }
                piece
            }
        };
        if piece.is_none() {
            self.give_back();
        }
        Ok(piece)
    }

    /// Puts the connection back into its pool when it can take another request.
    fn give_back(&mut self) {
        let source = std::mem::replace(&mut self.source, Source::Finished);
        let conn = match source {
            Source::Lean { mut conn, .. } => {
                conn.release_buffer().then_some(PooledConn::Lean(conn))
            }
            Source::Hyper { mut conn, .. } => conn.reusable().then_some(PooledConn::Hyper(conn)),
            Source::H2 { .. } | Source::Finished => None,
        };
        let (Some(conn), true) = (conn, self.back.keep_alive) else {
            return;
        };
        let key = Origin {
            https: self.back.https,
            host: &self.back.host,
            port: self.back.port,
            verified: self.back.verified,
            proxy: self.back.proxy.as_ref(),
        };
        self.back.pool.put(&key, conn, self.back.max_idle);
    }
}

/// Decompresses a body piece by piece (gzip, or deflate: zlib-wrapped as the RFC says, raw as
/// some servers send it).
enum Decoder {
    Gzip(flate2::write::MultiGzDecoder<Vec<u8>>),
    /// Not yet known whether zlib-wrapped or raw: decided by the first bytes.
    Deflate {
        zlib: flate2::write::ZlibDecoder<Vec<u8>>,
        fed: bool,
    },
    RawDeflate(flate2::write::DeflateDecoder<Vec<u8>>),
}

impl Decoder {
    fn for_headers(headers: &ResponseHeaders) -> Option<Decoder> {
        if !headers.may_be_encoded() {
            return None;
        }
        let enc = headers
            .get(http::header::CONTENT_ENCODING)?
            .to_str()
            .ok()?
            .trim()
            .to_ascii_lowercase();
        match enc.as_str() {
            "gzip" | "x-gzip" => Some(Decoder::Gzip(
                flate2::write::MultiGzDecoder::new(Vec::new()),
            )),
            "deflate" => Some(Decoder::Deflate {
                zlib: flate2::write::ZlibDecoder::new(Vec::new()),
                fed: false,
            }),
            _ => None,
        }
    }

    fn encoding(&self) -> &'static str {
        match self {
            Decoder::Gzip(_) => "gzip",
            _ => "deflate",
        }
    }

    fn error(&self, e: std::io::Error) -> HttpError {
        HttpError::ContentDecoding {
            encoding: self.encoding().into(),
            message: e.to_string(),
        }
    }

    fn feed(&mut self, data: &[u8]) -> Result<Bytes, HttpError> {
        let result = match self {
            Decoder::Gzip(d) => d.write_all(data).map(|_| std::mem::take(d.get_mut())),
            Decoder::Deflate { zlib, fed } => {
                let first = !*fed;
                *fed = true;
                match zlib.write_all(data) {
                    Ok(()) => Ok(std::mem::take(zlib.get_mut())),
                    Err(_) if first => {
                        // not zlib-wrapped: raw deflate from the start
                        let mut raw = flate2::write::DeflateDecoder::new(Vec::new());
                        let r = raw.write_all(data).map(|_| std::mem::take(raw.get_mut()));
                        *self = Decoder::RawDeflate(raw);
                        r
                    }
                    Err(e) => Err(e),
                }
            }
            Decoder::RawDeflate(d) => d.write_all(data).map(|_| std::mem::take(d.get_mut())),
        };
        result.map(Bytes::from).map_err(|e| self.error(e))
    }

    fn finish(&mut self) -> Result<Bytes, HttpError> {
        let result = match self {
            Decoder::Gzip(d) => d.try_finish().map(|_| std::mem::take(d.get_mut())),
            Decoder::Deflate { zlib, .. } => {
                zlib.try_finish().map(|_| std::mem::take(zlib.get_mut()))
            }
            Decoder::RawDeflate(d) => d.try_finish().map(|_| std::mem::take(d.get_mut())),
        };
        result.map(Bytes::from).map_err(|e| self.error(e))
    }
}
