//! HTTP/2 connections of a session: one per origin, shared by all the session's requests.
//!
//! With HTTP/1.1 every request in flight needs a connection of its own, so a user whose requests
//! overlap opens several. HTTP/2 runs each request as a stream of one connection, as browsers do;
//! a session therefore keeps one HTTP/2 connection per origin and gives every request a clone of
//! its `h2` `SendRequest` handle. The connection future runs in a task of its own (started by the
//! client's [`Spawner`](crate::Spawner)): it reads the frames of all streams at once, which no
//! single request could do from its own task.
//!
//! The `h2` crate is used directly, not through hyper's HTTP/2 client: a request then opens its
//! stream and awaits its response in its own task, where hyper adds a channel to a dispatch
//! task, a spawned task per request and a oneshot back. Measured with `bench/http2.py`, that was
//! about two thirds of the client's own CPU time per request (docs/benchmarks.md).
//!
//! Opening is serialised per session (an async lock held while connecting): requests that arrive
//! while the connection is being opened wait for it instead of opening their own. When the TLS
//! server picks `http/1.1` in ALPN, the origin is remembered as HTTP/1.1-only, the stream just
//! opened becomes an ordinary HTTP/1.1 connection and later requests use the session's pool.
//!
//! The second half maps the h2 layer's failures (stream refused or reset, GOAWAY, protocol
//! errors) to [`HttpError`]s with text that says what happened and what to do.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use h2::RecvStream;

use crate::body_buf::BodyBuffer;
use crate::client::ClientShared;
use crate::conn::{open_stream_alpn, Origin, Stream};
use crate::error::HttpError;

/// What requests send their streams with.
pub(crate) type Sender = h2::client::SendRequest<Bytes>;

/// Stream flow-control window the client grants the server per response (hyper's default):
/// large enough that a response of a few MB arrives without waiting for window updates.
const STREAM_WINDOW: u32 = 2 * 1024 * 1024;
/// The connection's window, shared by its streams (hyper's default).
const CONNECTION_WINDOW: u32 = 5 * 1024 * 1024;
/// Largest response head accepted (HPACK-decoded), as hyper's HTTP/1.1 limit of ~400 KB is
/// generous for heads.
const MAX_HEADER_LIST: u32 = 512 * 1024;

/// A request's handle to its session's HTTP/2 connection.
pub(crate) struct H2Conn {
    pub(crate) sender: Sender,
    /// Which connection of its origin this is: a request that failed on a dead connection asks
    /// for a new one only if no other request has replaced it yet.
    pub(crate) generation: u64,
    /// The connection failed as a whole (closed, GOAWAY, I/O error) during this request.
    pub(crate) dead: bool,
}

/// The HTTP/2 state of one origin.
struct Slot {
    https: bool,
    host: String,
    port: u16,
    verified: bool,
    generation: u64,
    state: SlotState,
}

enum SlotState {
    /// No connection (yet, or any more).
    Empty,
    /// An open HTTP/2 connection, and whether its connection task has ended.
    Open(Sender, Arc<AtomicBool>),
    /// The server chose HTTP/1.1 in ALPN: requests use the session's HTTP/1.1 pool.
    Http1Only,
}

impl Slot {
    fn matches(&self, o: &Origin<'_>) -> bool {
        self.port == o.port
            && self.https == o.https
            && self.verified == o.verified
            && self.host == o.host
    }
}

/// What a request should use.
pub(crate) enum Pick {
    /// A stream on the HTTP/2 connection; whether that connection was already open.
    H2(H2Conn, bool),
    /// HTTP/1.1: on this freshly opened stream (the server just declined `h2`), or (`None`) on a
    /// connection of the session's pool.
    Http1(Option<Stream>),
}

/// A session's HTTP/2 connections, by origin.
#[derive(Default)]
pub(crate) struct H2Slots {
    slots: tokio::sync::Mutex<Vec<Slot>>,
}

impl H2Slots {
    /// The connection to `key`, opened within `limit` (DNS + TCP + TLS + HTTP/2 preface) when
    /// there is none, it has closed, or it is the one numbered `stale` that a request found dead.
    pub(crate) async fn pick(
        &self,
        shared: &ClientShared,
        key: &Origin<'_>,
        stale: Option<u64>,
        limit: Duration,
    ) -> Result<Pick, HttpError> {
        let mut slots = self.slots.lock().await;
        let index = match slots.iter().position(|s| s.matches(key)) {
            Some(i) => i,
            None => {
                slots.push(Slot {
                    https: key.https,
                    host: key.host.to_string(),
                    port: key.port,
                    verified: key.verified,
                    generation: 0,
                    state: SlotState::Empty,
                });
                slots.len() - 1
            }
        };
        let slot = &mut slots[index];
        match &slot.state {
            SlotState::Http1Only => return Ok(Pick::Http1(None)),
            SlotState::Open(sender, ended)
                if stale != Some(slot.generation) && !ended.load(Ordering::Acquire) =>
            {
                let conn = H2Conn {
                    sender: sender.clone(),
                    generation: slot.generation,
                    dead: false,
                };
                return Ok(Pick::H2(conn, true));
            }
            _ => {}
        }
        slot.state = SlotState::Empty;
        let opened = match tokio::time::timeout(limit, open(shared, key)).await {
            Ok(r) => r?,
            Err(_) => {
                return Err(HttpError::ConnectTimeout {
                    host: key.host.to_string(),
                    port: key.port,
                    https: key.https,
                    timeout: limit,
                })
            }
        };
        match opened {
            Opened::Http1(stream) => {
                slot.state = SlotState::Http1Only;
                Ok(Pick::Http1(Some(stream)))
            }
            Opened::H2(sender, ended) => {
                slot.generation += 1;
                slot.state = SlotState::Open(sender.clone(), ended);
                let conn = H2Conn {
                    sender,
                    generation: slot.generation,
                    dead: false,
                };
                Ok(Pick::H2(conn, false))
            }
        }
    }

    /// Closes the HTTP/2 connections no request is using (a busy set is left alone).
    pub(crate) fn close(&self) {
        if let Ok(mut slots) = self.slots.try_lock() {
            slots.clear();
        }
    }

    /// Number of open HTTP/2 connections (0 while another request is opening one).
    pub(crate) fn open_connections(&self) -> usize {
        self.slots.try_lock().map_or(0, |slots| {
            slots
                .iter()
                .filter(|s| matches!(&s.state, SlotState::Open(_, ended) if !ended.load(Ordering::Acquire)))
                .count()
        })
    }
}

enum Opened {
    /// The connection's handle, and the flag its task sets when it ends.
    H2(Sender, Arc<AtomicBool>),
    Http1(Stream),
}

/// Opens the TCP (+ TLS, offering `h2` first) connection and starts HTTP/2 on it, unless TLS
/// settled on HTTP/1.1. Plain TCP starts HTTP/2 at once (prior knowledge).
async fn open(shared: &ClientShared, key: &Origin<'_>) -> Result<Opened, HttpError> {
    let stream = open_stream_alpn(shared, key, true).await?;
    if key.https && !stream.is_h2() {
        return Ok(Opened::Http1(stream));
    }
    let (sender, connection) = h2::client::Builder::new()
        .enable_push(false)
        .initial_window_size(STREAM_WINDOW)
        .initial_connection_window_size(CONNECTION_WINDOW)
        .max_header_list_size(MAX_HEADER_LIST)
        .handshake::<_, Bytes>(stream)
        .await
        .map_err(|e| map_error(&e).error)?;
    let ended = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&ended);
    shared.cfg.spawner.spawn(Box::pin(async move {
        if let Err(e) = connection.await {
            log::debug!("HTTP/2 connection ended: {e}");
        }
        flag.store(true, Ordering::Release);
    }));
    Ok(Opened::H2(sender, ended))
}

/// Sends `request` as a new stream of `conn` (with `body`, if any, as its data) and waits for
/// the response head. A failure before the stream was opened means the request was never sent.
pub(crate) async fn send(
    conn: &mut H2Conn,
    request: http::Request<()>,
    body: Option<Bytes>,
) -> Result<http::Response<RecvStream>, Failure> {
    let unsent = |e: h2::Error| Failure {
        unprocessed: true,
        conn_dead: true,
        ..map_error(&e)
    };
    let mut sender = conn.sender.clone().ready().await.map_err(unsent)?;
    let body = body.filter(|b| !b.is_empty());
    let (response, mut stream) = sender
        .send_request(request, body.is_none())
        .map_err(unsent)?;
    if let Some(body) = body {
        // h2 queues the data and sends it as the server's window allows
        stream.send_data(body, true).map_err(|e| map_error(&e))?;
    }
    response.await.map_err(|e| map_error(&e))
}

/// The next non-empty piece of a response body (`None` at its end), handing the window back to
/// the server for each piece read.
pub(crate) async fn next_data(recv: &mut RecvStream) -> Result<Option<Bytes>, h2::Error> {
    loop {
        match std::future::poll_fn(|cx| recv.poll_data(cx)).await {
            None => return Ok(None),
            Some(Ok(data)) => {
                let _ = recv.flow_control().release_capacity(data.len());
                if !data.is_empty() {
                    return Ok(Some(data));
                }
            }
            Some(Err(e)) => return Err(e),
        }
    }
}

/// Reads a whole response body; fails once it would exceed `limit` bytes (the stream is then
/// reset as the receiver drops).
pub(crate) async fn read_body(
    recv: &mut RecvStream,
    expected: Option<u64>,
    limit: u64,
) -> Result<Bytes, HttpError> {
    let mut body = BodyBuffer::new(limit);
    while let Some(data) = next_data(recv)
        .await
        .map_err(|e| body_error(&e, body.read(), expected))?
    {
        body.push(data)?;
    }
    Ok(body.finish())
}

/// What an error while a body arrived (`read` bytes of the `expected` total so far) means.
pub(crate) fn body_error(e: &h2::Error, read: u64, expected: Option<u64>) -> HttpError {
    if let Some(failure) = describe(e) {
        return failure.error;
    }
    match e.get_io() {
        Some(io) if io.kind() != std::io::ErrorKind::UnexpectedEof && !closed_by_peer(io) => {
            HttpError::from_io(&with_errno(io), true)
        }
        _ => HttpError::BodyIncomplete {
            read,
            expected: expected.map(|n| n.saturating_sub(read)),
        },
    }
}

/// A failure of an HTTP/2 request, and what it says about the request and the connection.
pub(crate) struct Failure {
    pub(crate) error: HttpError,
    /// The server did not process the request (refused stream, above GOAWAY's last stream,
    /// never sent): sending it again is safe whatever its method.
    pub(crate) unprocessed: bool,
    /// The whole connection is unusable; the next request must open a new one.
    pub(crate) conn_dead: bool,
}

/// Whether an I/O error is h2's way of saying that the connection ended under a stream: h2
/// fails the streams still open at EOF with a `BrokenPipe` error of its own (no OS errno),
/// which is the server closing the connection, not a write to a closed socket.
pub(crate) fn closed_by_peer(io: &std::io::Error) -> bool {
    io.kind() == std::io::ErrorKind::BrokenPipe && io.raw_os_error().is_none()
}

/// h2 keeps only the kind of an I/O error, not its OS errno: gives the common kinds their errno
/// back, so that the failure reads as on HTTP/1.1 (`ConnectionResetError(104, 'Connection reset
/// by peer')`).
pub(crate) fn with_errno(io: &std::io::Error) -> std::io::Error {
    use std::io::ErrorKind as K;
    let errno = match (io.raw_os_error(), io.kind()) {
        (Some(_), _) => None,
        (None, K::ConnectionReset) => Some(libc::ECONNRESET),
        (None, K::ConnectionAborted) => Some(libc::ECONNABORTED),
        (None, K::TimedOut) => Some(libc::ETIMEDOUT),
        (None, _) => None,
    };
    match errno {
        Some(n) => std::io::Error::from_raw_os_error(n),
        None => std::io::Error::new(io.kind(), io.to_string()),
    }
}

/// Maps h2's error for a request (before or while its response head arrived).
pub(crate) fn map_error(err: &h2::Error) -> Failure {
    if let Some(f) = describe(err) {
        return f;
    }
    let error = match err.get_io() {
        Some(io) if io.kind() == std::io::ErrorKind::UnexpectedEof || closed_by_peer(io) => {
            HttpError::RemoteDisconnected
        }
        Some(io) => HttpError::from_io(&with_errno(io), false),
        None => HttpError::RemoteDisconnected,
    };
    Failure {
        error,
        unprocessed: false,
        conn_dead: true,
    }
}

/// What an h2 error (not an I/O one) means for the request; `None` for I/O errors, which the
/// caller maps like HTTP/1.1's.
pub(crate) fn describe(h: &h2::Error) -> Option<Failure> {
    if h.is_io() {
        return None;
    }
    let reason = h.reason().unwrap_or(h2::Reason::INTERNAL_ERROR);
    let failure = if h.is_go_away() {
        // h2 fails the streams the server will not process (above GOAWAY's last stream id)
        Failure {
            error: HttpError::Protocol {
                message: format!(
                    "the server closed the HTTP/2 connection (GOAWAY {reason:?}) before \
                     processing this request; the next request opens a new connection"
                ),
            },
            unprocessed: true,
            conn_dead: true,
        }
    } else if reason == h2::Reason::REFUSED_STREAM {
        Failure {
            error: HttpError::Protocol {
                message: "the server refused the HTTP/2 stream (REFUSED_STREAM) without \
                          processing it: it may allow fewer concurrent streams per connection \
                          than this user opened"
                    .into(),
            },
            unprocessed: true,
            conn_dead: false,
        }
    } else if h.is_reset() {
        let by = if h.is_remote() { "server" } else { "client" };
        Failure {
            error: HttpError::Protocol {
                message: format!("HTTP/2 stream reset by the {by} ({reason:?})"),
            },
            unprocessed: false,
            conn_dead: false,
        }
    } else {
        Failure {
            error: HttpError::Protocol {
                message: format!(
                    "HTTP/2 protocol error ({reason:?}): {h}; if the server's HTTP/2 is at \
                     fault, run with HTTP/2 off"
                ),
            },
            unprocessed: false,
            conn_dead: true,
        }
    };
    Some(failure)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn h2_errors_say_what_happened() {
        let refused = describe(&h2::Error::from(h2::Reason::REFUSED_STREAM));
        let refused = refused.map(|f| (f.unprocessed, f.conn_dead, f.error.to_string()));
        let (unprocessed, dead, text) = refused.unwrap_or_default();
        assert!(unprocessed && !dead);
        assert!(text.starts_with("ProtocolError("), "{text}");
        assert!(text.contains("REFUSED_STREAM"), "{text}");

        let broken = describe(&h2::Error::from(h2::Reason::PROTOCOL_ERROR));
        let text = broken.map(|f| f.error.to_string()).unwrap_or_default();
        assert!(text.contains("PROTOCOL_ERROR"), "{text}");
        assert!(text.contains("HTTP/2 off"), "{text}");
    }
}
