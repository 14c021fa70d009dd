//! The lean HTTP/1.1 driver: one exchange at a time, driven by the calling (user's) task on the
//! socket itself.
//!
//! hyper's client needs a connection future that owns the socket and a dispatch channel between
//! the request handle and that future; per connection this costs a channel block, fixed read and
//! write buffers and (by default) a task, and per request two hand-offs between tasks. A simulated
//! user sends one request at a time, so none of that is needed: [`LeanConn`] writes the request,
//! reads and parses the response head (`httparse`, the parser hyper uses), reads the body by its
//! framing (Content-Length, chunked via `httparse::parse_chunk_size`, or until close; none for
//! HEAD, 1xx, 204 and 304) and is then ready for the next request. Its only buffer is one
//! `BytesMut`: sized exactly for the request while it is written, allocated for reading only once
//! the response is readable (plain TCP), and dropped when the connection goes idle; the response
//! body is split off it without copying.

use std::io;
use std::mem::MaybeUninit;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime};

use bytes::{Buf, Bytes, BytesMut};
use http::header::HeaderMap;
use http::Method;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt, ReadBuf};

use crate::client::ClientShared;
use crate::conn::{open_stream, Origin, Stream};
use crate::error::HttpError;
use crate::header_case::Spellings;
use crate::headers::{valid_value, NamesSeen, ResponseHeaders, MAX_HEADERS};
use crate::rx_time;

/// Largest response head accepted.
const MAX_HEAD_BYTES: usize = 256 * 1024;
/// Most trailer lines accepted after a chunked body.
const MAX_TRAILERS: usize = 32;
/// How much of a garbage first line is kept for `BadStatusLine(...)`.
const FIRST_LINE_MAX: usize = 128;
/// Request bodies up to this size go out in the same write as the head.
const INLINE_BODY_MAX: usize = 16 * 1024;
/// Most bytes reserved up front for a body of announced length (larger bodies grow as they come).
const MAX_BODY_PREALLOC: usize = 8 * 1024 * 1024;
/// Smallest free space offered to a socket read.
const MIN_READ_SPACE: usize = 1024;

/// How the body of a response is delimited (RFC 9112 §6.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Framing {
    /// No body (HEAD, 1xx, 204, 304).
    Empty,
    /// Exactly this many bytes.
    Length(u64),
    /// Chunked transfer coding.
    Chunked,
    /// Everything until the server closes the connection.
    UntilClose,
}

/// Where the incremental reading of a body stands ([`LeanConn::next_body_piece`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BodyCursor {
    /// Bytes of a Content-Length body still to come.
    Length(u64),
    /// Inside a chunked body: bytes left of the current chunk (0: a size line comes next), and
    /// whether the CRLF that ends a chunk's data is still to be read.
    Chunked { left: u64, crlf_due: bool },
    /// Everything until the server closes.
    UntilClose,
    /// The whole body has been read.
    Done,
}

/// A parsed response head.
#[derive(Debug)]
pub(crate) struct Head {
    /// Status code.
    pub status: u16,
    /// Reason phrase as sent.
    pub reason: String,
    /// HTTP/1.0 or HTTP/1.1.
    pub version: http::Version,
    /// Response headers (kept as the head's bytes until read).
    pub headers: ResponseHeaders,
    framing: Framing,
    /// The server allows another request on this connection after this response.
    keep_alive: bool,
}

impl Head {
    /// Where reading this head's body starts.
    pub(crate) fn body_cursor(&self) -> BodyCursor {
        match self.framing {
            Framing::Empty => BodyCursor::Done,
            Framing::Length(n) => BodyCursor::Length(n),
            Framing::Chunked => BodyCursor::Chunked {
                left: 0,
                crlf_due: false,
            },
            Framing::UntilClose => BodyCursor::UntilClose,
        }
    }

    /// Whether the connection may take another request once the body has been read.
    pub(crate) fn keeps_alive(&self) -> bool {
        self.keep_alive && self.framing != Framing::UntilClose
    }
}

/// The header lines of a request: a map, or lines already encoded (`name: value\r\n` each).
pub(crate) enum HeaderLines {
    /// Headers to encode, and how their names are spelled.
    Map(HeaderMap, Spellings),
    /// Pre-encoded header lines (the shared template of plain requests).
    Encoded(Bytes),
}

/// A failed exchange, with what is known about whether the server can have processed it.
#[derive(Debug)]
pub(crate) struct LeanError {
    /// The Locust-compatible error.
    pub error: HttpError,
    /// The request was not (completely) written: the server cannot have processed it.
    pub not_sent: bool,
    /// The connection closed or reset before a single response byte arrived.
    pub no_response: bool,
}

impl From<HttpError> for LeanError {
    fn from(error: HttpError) -> Self {
        LeanError {
            error,
            not_sent: false,
            no_response: false,
        }
    }
}

/// One keep-alive connection driven by the lean driver.
pub(crate) struct LeanConn {
    stream: Stream,
    /// Request head on the way out, response bytes on the way in. Empty (no allocation) while
    /// the connection is idle.
    buf: BytesMut,
    /// The kernel's receive time of the last bytes read for the current response.
    received_at: Option<SystemTime>,
}

impl LeanConn {
    /// Opens a connection to `key` within `timeout` (DNS + TCP + TLS handshake).
    pub(crate) async fn open(
        shared: &ClientShared,
        key: &Origin<'_>,
        timeout: Duration,
    ) -> Result<LeanConn, HttpError> {
        match tokio::time::timeout(timeout, open_stream(shared, key)).await {
            Ok(stream) => Ok(LeanConn::from_stream(stream?)),
            Err(_) => Err(HttpError::ConnectTimeout {
                host: key.host.to_string(),
                port: key.port,
                https: key.https,
                timeout,
            }),
        }
    }

    /// A connection on a stream opened elsewhere (a TLS connection whose server chose HTTP/1.1
    /// when HTTP/2 was offered).
    pub(crate) fn from_stream(stream: Stream) -> LeanConn {
        if let Stream::Plain(tcp) = &stream {
            rx_time::enable(tcp);
        }
        LeanConn {
            stream,
            buf: BytesMut::new(),
            received_at: None,
        }
    }

    /// Whether an idle connection can take a request: nothing unread, and the server has neither
    /// closed nor reset it (checked without blocking and, usually, without a system call).
    pub(crate) fn is_usable(&mut self) -> bool {
        if !self.buf.is_empty() {
            return false;
        }
        let mut cx = Context::from_waker(std::task::Waker::noop());
        let mut probe = [0u8; 8];
        let mut rb = ReadBuf::new(&mut probe);
        matches!(
            Pin::new(&mut self.stream).poll_read(&mut cx, &mut rb),
            Poll::Pending
        )
    }

    /// When the kernel received the last bytes of the response read last (plain TCP on Linux).
    pub(crate) fn received_at(&self) -> Option<SystemTime> {
        self.received_at
    }

    /// Frees the buffer before the connection goes idle; false if unread bytes remain (then the
    /// connection must not be reused).
    pub(crate) fn release_buffer(&mut self) -> bool {
        if !self.buf.is_empty() {
            return false;
        }
        self.buf = BytesMut::new();
        true
    }

    /// Writes the request and reads the response head (skipping interim 1xx responses).
    pub(crate) async fn send_and_read_head(
        &mut self,
        method: &Method,
        target: &str,
        headers: &HeaderLines,
        body: Option<&Bytes>,
        read_buffer_size: usize,
    ) -> Result<Head, LeanError> {
        self.received_at = None;
        let chunk = read_buffer_size.max(MIN_READ_SPACE);
        let big_body = body.filter(|b| b.len() > INLINE_BODY_MAX);
        let inline_body = body.filter(|b| b.len() <= INLINE_BODY_MAX);
        // exactly the request's size: the read buffer is only allocated once the response is
        // there, so that a request waiting for its response holds only what it needs
        self.buf = BytesMut::with_capacity(
            head_size(method, target, headers) + inline_body.map_or(0, |b| b.len()),
        );
        encode_head(&mut self.buf, method, target, headers);
        if let Some(b) = inline_body {
            self.buf.extend_from_slice(b);
        }
        let written = async {
            self.stream.write_all(&self.buf).await?;
            if let Some(b) = big_body {
                self.stream.write_all(b).await?;
            }
            self.stream.flush().await
        }
        .await;
        if let Err(e) = written {
            return Err(LeanError {
                error: HttpError::from_io(&e, false),
                not_sent: true,
                no_response: true,
            });
        }
        self.buf = BytesMut::new();
        if let Stream::Plain(tcp) = &self.stream {
            // the reader's own waker slot (unlike `readable()`, no shared waiter list)
            if let Err(e) = std::future::poll_fn(|cx| tcp.poll_read_ready(cx)).await {
                return Err(LeanError {
                    error: HttpError::from_io(&e, false),
                    not_sent: false,
                    no_response: false,
                });
            }
        }

        let head_request = *method == Method::HEAD;
        let mut received = false;
        let mut eof = false;
        loop {
            if !self.buf.is_empty() {
                match parse_head(&mut self.buf, head_request) {
                    Ok(Parsed::Head(head)) => return Ok(head),
                    Ok(Parsed::Interim) => continue,
                    Ok(Parsed::Partial) => {
                        if eof {
                            return Err(HttpError::RemoteDisconnected.into());
                        }
                        if self.buf.len() > MAX_HEAD_BYTES {
                            return Err(HttpError::Protocol {
                                message: "message head is too large".into(),
                            }
                            .into());
                        }
                    }
                    Err(e) => {
                        // complete the first line (when it is short) so the report shows it
                        let line_done = self.buf.contains(&b'\n');
                        if line_done || eof || self.buf.len() >= FIRST_LINE_MAX {
                            return Err(head_error(&self.buf, e).into());
                        }
                    }
                }
            } else if eof {
                return Err(LeanError {
                    error: HttpError::RemoteDisconnected,
                    not_sent: false,
                    no_response: !received,
                });
            }
            match self.fill(chunk).await {
                Ok(0) => eof = true,
                Ok(_) => received = true,
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => eof = true,
                Err(e) => {
                    let reset = matches!(
                        e.kind(),
                        io::ErrorKind::ConnectionReset
                            | io::ErrorKind::ConnectionAborted
                            | io::ErrorKind::BrokenPipe
                    );
                    return Err(LeanError {
                        error: HttpError::from_io(&e, false),
                        not_sent: false,
                        no_response: reset && !received,
                    });
                }
            }
        }
    }

    /// Reads the next piece of a body whose head was read (at most what the buffer holds, or one
    /// socket read brings); `None` once `cursor` reaches the end. For `stream=True`: the body
    /// reaches the caller as it arrives.
    pub(crate) async fn next_body_piece(
        &mut self,
        cursor: &mut BodyCursor,
        read_buffer_size: usize,
    ) -> Result<Option<Bytes>, HttpError> {
        let chunk = read_buffer_size.max(MIN_READ_SPACE);
        loop {
            match *cursor {
                BodyCursor::Done => return Ok(None),
                BodyCursor::Length(0) => {
                    *cursor = BodyCursor::Done;
                    return Ok(None);
                }
                BodyCursor::Length(left) => {
                    if self.buf.is_empty() {
                        self.more_piece().await?;
                    }
                    let take = usize::try_from(left)
                        .unwrap_or(usize::MAX)
                        .min(self.buf.len());
                    *cursor = BodyCursor::Length(left - take as u64);
                    return Ok(Some(self.buf.split_to(take).freeze()));
                }
                BodyCursor::UntilClose => {
                    if self.buf.is_empty() {
                        match self.fill(chunk).await {
                            Ok(0) => {
                                *cursor = BodyCursor::Done;
                                return Ok(None);
                            }
                            Ok(_) => {}
                            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
                                *cursor = BodyCursor::Done;
                                return Ok(None);
                            }
                            Err(e) => return Err(HttpError::from_io(&e, true)),
                        }
                    }
                    return Ok(Some(self.buf.split().freeze()));
                }
                BodyCursor::Chunked { left: 0, crlf_due } => {
                    if crlf_due {
                        while self.buf.len() < 2 {
                            self.more_piece().await?;
                        }
                        if &self.buf[..2] != b"\r\n" {
                            return Err(HttpError::Protocol {
                                message: "invalid chunk end".into(),
                            });
                        }
                        self.buf.advance(2);
                        *cursor = BodyCursor::Chunked {
                            left: 0,
                            crlf_due: false,
                        };
                        continue;
                    }
                    let size = loop {
                        match httparse::parse_chunk_size(&self.buf) {
                            Ok(httparse::Status::Complete((used, size))) => {
                                self.buf.advance(used);
                                break size;
                            }
                            Ok(httparse::Status::Partial) if self.buf.len() <= MAX_HEAD_BYTES => {
                                self.more_piece().await?;
                            }
                            _ => {
                                return Err(HttpError::Protocol {
                                    message: "invalid chunk size line".into(),
                                })
                            }
                        }
                    };
                    if size == 0 {
                        loop {
                            match trailer_len(&self.buf) {
                                Ok(Some(used)) => {
                                    self.buf.advance(used);
                                    break;
                                }
                                Ok(None) if self.buf.len() <= MAX_HEAD_BYTES => {
                                    self.more_piece().await?
                                }
                                _ => {
                                    return Err(HttpError::Protocol {
                                        message: "invalid chunked trailers".into(),
                                    })
                                }
                            }
                        }
                        *cursor = BodyCursor::Done;
                        return Ok(None);
                    }
                    *cursor = BodyCursor::Chunked {
                        left: size,
                        crlf_due: false,
                    };
                }
                BodyCursor::Chunked { left, .. } => {
                    if self.buf.is_empty() {
                        self.more_piece().await?;
                    }
                    let take = usize::try_from(left)
                        .unwrap_or(usize::MAX)
                        .min(self.buf.len());
                    let rest = left - take as u64;
                    *cursor = BodyCursor::Chunked {
                        left: rest,
                        crlf_due: rest == 0,
                    };
                    return Ok(Some(self.buf.split_to(take).freeze()));
                }
            }
        }
    }

    /// One more read for [`LeanConn::next_body_piece`]: the end of the connection here means
    /// the body is incomplete.
    async fn more_piece(&mut self) -> Result<(), HttpError> {
        match self.fill(MIN_READ_SPACE).await {
            Ok(0) => Err(incomplete(0, None)),
            Ok(_) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Err(incomplete(0, None)),
            Err(e) => Err(HttpError::from_io(&e, true)),
        }
    }

    /// Reads the body of `head` by its framing. Returns the raw (still encoded) body and whether
    /// the connection can take another request.
    /// A body longer than `limit` fails with [`HttpError::BodyTooLarge`] as soon as that is
    /// known (at once for a longer Content-Length), so memory stays bounded.
    pub(crate) async fn read_body(
        &mut self,
        head: &Head,
        read_buffer_size: usize,
        limit: u64,
    ) -> Result<(Bytes, bool), HttpError> {
        let chunk = read_buffer_size.max(MIN_READ_SPACE);
        let limit_usize = usize::try_from(limit).unwrap_or(usize::MAX);
        let too_large = || HttpError::BodyTooLarge { limit };
        let body = match head.framing {
            Framing::Empty => Bytes::new(),
            Framing::Length(n) if n > limit => return Err(too_large()),
            Framing::Length(n) => {
                let n = usize::try_from(n).map_err(|_| HttpError::Protocol {
                    message: format!("content-length {n} is too large"),
                })?;
                if self.buf.len() < n {
                    self.buf
                        .reserve((n - self.buf.len()).min(MAX_BODY_PREALLOC));
                }
                while self.buf.len() < n {
                    match self.fill(chunk).await {
                        Ok(0) => return Err(incomplete(self.buf.len(), Some(n))),
                        Ok(_) => {}
                        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
                            return Err(incomplete(self.buf.len(), Some(n)))
                        }
                        Err(e) => return Err(HttpError::from_io(&e, true)),
                    }
                }
                self.buf.split_to(n).freeze()
            }
            Framing::Chunked => self.read_chunked(chunk, limit_usize).await?,
            Framing::UntilClose => {
                loop {
                    if self.buf.len() > limit_usize {
                        return Err(too_large());
                    }
                    match self.fill(chunk).await {
                        Ok(0) => break,
                        Ok(_) => {}
                        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => break,
                        Err(e) => return Err(HttpError::from_io(&e, true)),
                    }
                }
                if self.buf.len() > limit_usize {
                    return Err(too_large());
                }
                return Ok((self.buf.split().freeze(), false));
            }
        };
        let reusable = head.keep_alive && self.buf.is_empty();
        Ok((body, reusable))
    }

    /// Decodes a chunked body (chunk sizes with `httparse::parse_chunk_size`, trailers with
    /// `httparse::parse_headers`, which are then dropped like requests does).
    async fn read_chunked(&mut self, chunk: usize, limit: usize) -> Result<Bytes, HttpError> {
        let mut out = BytesMut::new();
        loop {
            let size = loop {
                match httparse::parse_chunk_size(&self.buf) {
                    Ok(httparse::Status::Complete((used, size))) => {
                        self.buf.advance(used);
                        break size;
                    }
                    Ok(httparse::Status::Partial) => {
                        // chunk extensions may be endless: a size line is never this long
                        if self.buf.len() > MAX_HEAD_BYTES {
                            return Err(HttpError::Protocol {
                                message: "invalid chunk size line".into(),
                            });
                        }
                        self.more_body(&out, chunk).await?;
                    }
                    Err(_) => {
                        return Err(HttpError::Protocol {
                            message: "invalid chunk size line".into(),
                        })
                    }
                }
            };
            if size == 0 {
                break;
            }
            let mut left = usize::try_from(size).map_err(|_| HttpError::Protocol {
                message: "chunk size is too large".into(),
            })?;
            if out.len().saturating_add(left) > limit {
                return Err(HttpError::BodyTooLarge {
                    limit: limit as u64,
                });
            }
            while left > 0 {
                if self.buf.is_empty() {
                    self.more_body(&out, chunk).await?;
                }
                let take = left.min(self.buf.len());
                out.extend_from_slice(&self.buf[..take]);
                self.buf.advance(take);
                left -= take;
            }
            while self.buf.len() < 2 {
                self.more_body(&out, chunk).await?;
            }
            if &self.buf[..2] != b"\r\n" {
                return Err(HttpError::Protocol {
                    message: "invalid chunk end".into(),
                });
            }
            self.buf.advance(2);
        }
        // trailer section, up to and including the empty line
        loop {
            match trailer_len(&self.buf) {
                Ok(Some(used)) => {
                    self.buf.advance(used);
                    break;
                }
                Ok(None) => {
                    if self.buf.len() > MAX_HEAD_BYTES {
                        return Err(HttpError::Protocol {
                            message: "chunked trailers are too large".into(),
                        });
                    }
                    self.more_body(&out, chunk).await?
                }
                Err(_) => {
                    return Err(HttpError::Protocol {
                        message: "invalid chunked trailers".into(),
                    })
                }
            }
        }
        Ok(out.freeze())
    }

    /// One read from the socket into the free space of the buffer (made at least `chunk` bytes
    /// when short). Returns the bytes read; 0 at the end of the stream. A read over plain TCP
    /// that carries the kernel's receive time stores it in `received_at`.
    async fn fill(&mut self, chunk: usize) -> io::Result<usize> {
        if self.buf.capacity() - self.buf.len() < MIN_READ_SPACE {
            self.buf.reserve(chunk);
        }
        match &self.stream {
            Stream::Plain(tcp) => {
                let (n, stamp) = rx_time::read(tcp, &mut self.buf).await?;
                if n > 0 {
                    // An unstamped last read leaves no stamp: the caller then times to the read.
                    self.received_at = stamp;
                }
                Ok(n)
            }
            Stream::Tls(_) => self.stream.read_buf(&mut self.buf).await,
        }
    }

    /// Reads more of a chunked body; the end of the connection here means the body is incomplete.
    async fn more_body(&mut self, out: &BytesMut, chunk: usize) -> Result<(), HttpError> {
        match self.fill(chunk).await {
            Ok(0) => Err(incomplete(out.len(), None)),
            Ok(_) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Err(incomplete(out.len(), None)),
            Err(e) => Err(HttpError::from_io(&e, true)),
        }
    }
}

/// Length of the complete trailer section at the start of `buf` (`None`: not all there yet).
/// A plain function so that its header array never lives in a future.
fn trailer_len(buf: &[u8]) -> Result<Option<usize>, httparse::Error> {
    let mut trailers = [httparse::EMPTY_HEADER; MAX_TRAILERS];
    Ok(match httparse::parse_headers(buf, &mut trailers)? {
        httparse::Status::Complete((used, _)) => Some(used),
        httparse::Status::Partial => None,
    })
}

/// `IncompleteRead(...)` for a body that ended early; `total` is the announced length.
fn incomplete(read: usize, total: Option<usize>) -> HttpError {
    HttpError::BodyIncomplete {
        read: read as u64,
        expected: total.map(|t| t.saturating_sub(read) as u64),
    }
}

/// Bytes [`encode_head`] writes.
fn head_size(method: &Method, target: &str, headers: &HeaderLines) -> usize {
    let lines: usize = match headers {
        HeaderLines::Map(m, _) => m.iter().map(|(n, v)| n.as_str().len() + v.len() + 4).sum(),
        HeaderLines::Encoded(b) => b.len(),
    };
    method.as_str().len() + target.len() + 12 + lines + 2
}

/// Serialises the request line and headers (names as the user spelled them, else Title-Case, as
/// requests sends them).
fn encode_head(buf: &mut BytesMut, method: &Method, target: &str, headers: &HeaderLines) {
    buf.extend_from_slice(method.as_str().as_bytes());
    buf.extend_from_slice(b" ");
    buf.extend_from_slice(target.as_bytes());
    buf.extend_from_slice(b" HTTP/1.1\r\n");
    match headers {
        HeaderLines::Map(m, spellings) => {
            for (name, value) in m {
                spellings.write_name(buf, name);
                buf.extend_from_slice(b": ");
                buf.extend_from_slice(value.as_bytes());
                buf.extend_from_slice(b"\r\n");
            }
        }
        HeaderLines::Encoded(b) => buf.extend_from_slice(b),
    }
    buf.extend_from_slice(b"\r\n");
}

/// Result of trying to parse a response head at the start of the buffer.
enum Parsed {
    /// Not all of the head is there yet.
    Partial,
    /// An interim 1xx response was skipped; parse again.
    Interim,
    /// A final response head (removed from the buffer).
    Head(Head),
}

/// Parses the response head at the start of `buf` with httparse. On success the head is split off
/// the buffer; its headers are kept as bytes (see [`ResponseHeaders`]).
fn parse_head(buf: &mut BytesMut, head_request: bool) -> Result<Parsed, httparse::Error> {
    let (len, status, reason, version, framing, keep_alive, seen) = {
        // httparse fills only what it parses: no need to initialise 100 header slots first
        let mut headers = [const { MaybeUninit::<httparse::Header<'_>>::uninit() }; MAX_HEADERS];
        let mut res = httparse::Response::new(&mut []);
        let parsed = httparse::ParserConfig::default().parse_response_with_uninit_headers(
            &mut res,
            buf,
            &mut headers,
        )?;
        let len = match parsed {
            httparse::Status::Complete(len) => len,
            httparse::Status::Partial => return Ok(Parsed::Partial),
        };
        let status = res.code.unwrap_or(0);
        let version = if res.version == Some(0) {
            http::Version::HTTP_10
        } else {
            http::Version::HTTP_11
        };
        let lines: &[httparse::Header<'_>] = res.headers;
        let mut seen = NamesSeen::default();
        for h in lines {
            seen.note(h.name.as_bytes());
        }
        (
            len,
            status,
            res.reason.unwrap_or("").to_string(),
            version,
            framing(lines, status, head_request),
            keep_alive(lines, version),
            seen,
        )
    };
    // httparse takes any three digits; like http.client (and hyper), a status below 100 is not a
    // status line (and 0 would read as "no response" in the statistics)
    if status < 100 {
        return Err(httparse::Error::Status);
    }
    let raw = buf.split_to(len).freeze();
    if (100..200).contains(&status) && status != 101 {
        return Ok(Parsed::Interim);
    }
    let framing = framing.ok_or(httparse::Error::HeaderValue)?;
    Ok(Parsed::Head(Head {
        status,
        reason,
        version,
        headers: ResponseHeaders::from_head(raw, seen),
        framing,
        keep_alive: status != 101 && keep_alive,
    }))
}

/// The values of the header lines named `name` as the response's `HeaderMap` holds them (a line
/// with an invalid value is left out) and as `HeaderValue::to_str` reads them (`None`: not
/// visible ASCII).
fn values<'a>(
    lines: &'a [httparse::Header<'a>],
    name: &'a str,
) -> impl DoubleEndedIterator<Item = Option<&'a str>> + 'a {
    lines
        .iter()
        .filter(move |h| h.name.eq_ignore_ascii_case(name) && valid_value(h.value))
        .map(|h| {
            if h.value.is_ascii() {
                std::str::from_utf8(h.value).ok()
            } else {
                None
            }
        })
}

/// The body framing of a response (RFC 9112 §6.3); `None` for conflicting Content-Length values.
fn framing(lines: &[httparse::Header<'_>], status: u16, head_request: bool) -> Option<Framing> {
    if head_request || (100..200).contains(&status) || status == 204 || status == 304 {
        return Some(Framing::Empty);
    }
    if values(lines, "transfer-encoding").next().is_some() {
        let last = values(lines, "transfer-encoding")
            .flatten()
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .rfind(|t| !t.is_empty());
        return Some(match last {
            Some(t) if t.eq_ignore_ascii_case("chunked") => Framing::Chunked,
            _ => Framing::UntilClose,
        });
    }
    let mut length = None;
    for v in values(lines, "content-length") {
        for part in v?.split(',') {
            let n: u64 = part.trim().parse().ok()?;
            if length.is_some_and(|l| l != n) {
                return None;
            }
            length = Some(n);
        }
    }
    Some(length.map_or(Framing::UntilClose, Framing::Length))
}

/// Whether the server keeps the connection open after this response (RFC 9112 §9.3).
fn keep_alive(lines: &[httparse::Header<'_>], version: http::Version) -> bool {
    let mut close = false;
    let mut keep = false;
    for v in values(lines, "connection") {
        for token in v.unwrap_or("").split(',') {
            let t = token.trim();
            close |= t.eq_ignore_ascii_case("close");
            keep |= t.eq_ignore_ascii_case("keep-alive");
        }
    }
    if version == http::Version::HTTP_10 {
        keep && !close
    } else {
        !close
    }
}

/// The error for a response head httparse rejected: `BadStatusLine(first line)` when the status
/// line is bad, otherwise the protocol error hyper reports for the same problem.
fn head_error(buf: &[u8], e: httparse::Error) -> HttpError {
    let end = buf
        .iter()
        .take(FIRST_LINE_MAX)
        .position(|&b| b == b'\n')
        .map_or(buf.len().min(FIRST_LINE_MAX), |i| i + 1);
    let line = String::from_utf8_lossy(&buf[..end]).into_owned();
    let status_line = matches!(e, httparse::Error::Status | httparse::Error::Version);
    if !line.is_empty() && (status_line || !line.starts_with("HTTP/")) {
        return HttpError::BadStatusLine { line };
    }
    let message = match e {
        httparse::Error::HeaderName | httparse::Error::HeaderValue => "invalid HTTP header parsed",
        httparse::Error::TooManyHeaders => "message head is too large",
        httparse::Error::Version => "invalid HTTP version parsed",
        httparse::Error::Status => "invalid HTTP status-code parsed",
        _ => "invalid HTTP message parsed",
    };
    HttpError::Protocol {
        message: message.into(),
    }
}

/// Fuzzing entry point: parses `data` as a stream of response heads the way
/// [`LeanConn::send_and_read_head`] does (interim responses skipped, errors named by
/// `head_error`), then checks what came out. Returns a short summary; panics only on a bug.
pub(crate) fn fuzz_response_heads(data: &[u8], head_request: bool) -> String {
    let mut buf = BytesMut::from(data);
    let mut out = String::new();
    // each round consumes bytes or stops, so this ends; the bound is a second guard
    for _ in 0..=data.len() {
        let before = buf.len();
        match parse_head(&mut buf, head_request) {
            Ok(Parsed::Head(head)) => {
                assert!((100..=999).contains(&head.status), "{}", head.status);
                assert!(buf.len() < before, "a parsed head consumes bytes");
                out.push_str(&format!("{} {:?};", head.status, head.framing));
                return out;
            }
            Ok(Parsed::Interim) => {
                assert!(buf.len() < before, "an interim head consumes bytes");
                out.push_str("interim;");
            }
            Ok(Parsed::Partial) => {
                out.push_str("partial");
                return out;
            }
            Err(e) => {
                let err = head_error(&buf, e);
                // the error text is what users see: it must render
                out.push_str(&err.to_string());
                return out;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::header::{self, HeaderValue};

    fn parse(raw: &[u8], head_request: bool) -> (Head, BytesMut) {
        let mut b = BytesMut::from(raw);
        match parse_head(&mut b, head_request) {
            Ok(Parsed::Head(h)) => (h, b),
            Ok(Parsed::Partial) => panic!("partial"),
            Ok(Parsed::Interim) => panic!("interim"),
            Err(e) => panic!("{e}"),
        }
    }

    #[test]
    fn head_is_split_off_and_framed() {
        let (h, rest) = parse(
            b"HTTP/1.1 201 Made It\r\nContent-Length: 3\r\nX-A: 1\r\nx-a: 2\r\n\r\nabc",
            false,
        );
        assert_eq!(h.status, 201);
        assert_eq!(h.reason, "Made It");
        assert_eq!(h.framing, Framing::Length(3));
        assert!(h.keep_alive);
        assert_eq!(h.headers.get_all("x-a").iter().count(), 2);
        assert_eq!(&rest[..], b"abc");
        let (h, _) = parse(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n", true);
        assert_eq!(h.framing, Framing::Empty);
        let (h, _) = parse(
            b"HTTP/1.1 304 Not Modified\r\nContent-Length: 3\r\n\r\n",
            false,
        );
        assert_eq!(h.framing, Framing::Empty);
        let (h, _) = parse(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\nContent-Length: 9\r\n\r\n",
            false,
        );
        assert_eq!(h.framing, Framing::Chunked);
        let (h, _) = parse(b"HTTP/1.0 200 OK\r\n\r\n", false);
        assert_eq!(h.framing, Framing::UntilClose);
        assert!(!h.keep_alive);
        let (h, _) = parse(b"HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\n\r\n", false);
        assert!(h.keep_alive);
        let (h, _) = parse(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n", false);
        assert!(!h.keep_alive);
    }

    #[test]
    fn interim_and_partial_and_bad_heads() {
        let mut b = BytesMut::from(&b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n"[..]);
        assert!(matches!(parse_head(&mut b, false), Ok(Parsed::Interim)));
        assert!(matches!(parse_head(&mut b, false), Ok(Parsed::Partial)));
        let mut b = BytesMut::from(
            &b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n"[..],
        );
        assert!(parse_head(&mut b, false).is_err());
        let e = head_error(b"HELLO\r\n\r\n", httparse::Error::Version);
        assert_eq!(e.to_string(), "BadStatusLine('HELLO\\r\\n')");
        let e = head_error(
            b"HTTP/1.1 200 OK\r\nBad Header\r\n\r\n",
            httparse::Error::HeaderName,
        );
        assert_eq!(e.to_string(), "ProtocolError('invalid HTTP header parsed')");
    }

    #[test]
    fn request_head_encoding() {
        let mut h = HeaderMap::new();
        h.insert(header::HOST, HeaderValue::from_static("h:1"));
        h.append("x-a", HeaderValue::from_static("1"));
        let h = HeaderLines::Map(h, Spellings::default());
        let mut b = BytesMut::new();
        encode_head(&mut b, &Method::POST, "/p?q=1", &h);
        assert_eq!(b.len(), head_size(&Method::POST, "/p?q=1", &h));
        assert_eq!(
            &b[..],
            b"POST /p?q=1 HTTP/1.1\r\nHost: h:1\r\nX-A: 1\r\n\r\n"
        );
        let pre = HeaderLines::Encoded(Bytes::from_static(b"host: h:1\r\n"));
        let mut b = BytesMut::new();
        encode_head(&mut b, &Method::GET, "/", &pre);
        assert_eq!(b.len(), head_size(&Method::GET, "/", &pre));
        assert_eq!(&b[..], b"GET / HTTP/1.1\r\nhost: h:1\r\n\r\n");
    }
}
