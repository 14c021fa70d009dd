//! WebSocket connections for simulated users: the handshake over the HTTP client's own TCP/TLS
//! connect (resolver, timeouts, certificate settings, error texts), then framing by tungstenite.
//!
//! There is no background task per connection: all I/O happens inside the awaited operations
//! ([`WebSocket::send`], [`WebSocket::recv`], [`WebSocket::ping`], [`WebSocket::close`]), so a
//! connection works the same on the Python front end's inline runtime (which only polls awaited
//! jobs) as on the engine's runtimes. A ping from the server is answered the next time the user
//! reads or writes. An idle connection holds its socket, a small read buffer
//! ([`READ_BUFFER_BYTES`]) and no write buffer; this module records nothing (statistics are the
//! caller's: `locusta::websocket` and the Python `WebSocketUser`).

use std::collections::VecDeque;
use std::fmt;
use std::os::fd::{AsRawFd, RawFd};
use std::time::Duration;

use bytes::Bytes;
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, WebSocketConfig};
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::WebSocketStream;

use crate::client::ClientShared;
use crate::conn::{open_stream, Origin, Stream};
use crate::error::HttpError;
use crate::options::Proxy;
use crate::session::Session;

/// Initial read buffer of a connection. tungstenite allocates it eagerly (128 KiB by default),
/// which would make an idle user cost far more than its socket; messages larger than this grow
/// it as needed.
pub const READ_BUFFER_BYTES: usize = 4 * 1024;

/// Largest message accepted from the server; a bigger one fails the read and the connection.
const MAX_MESSAGE_BYTES: usize = 16 << 20;

/// Messages that arrived while [`WebSocket::ping`] waited for its pong, kept for the next
/// [`WebSocket::recv`]; past this many the oldest are dropped (with a warning) so a flood cannot
/// grow memory without bound.
const MAX_HELD_MESSAGES: usize = 256;

/// What a handshake of a session needs from it (see `Session::websocket_context`).
pub(crate) struct WsContext<'a> {
    pub shared: &'a ClientShared,
    pub connect_timeout: Duration,
    pub verify_tls: bool,
    pub proxy: Option<&'a Proxy>,
    pub user_agent: Option<String>,
}

/// How to open a connection: extra handshake headers, subprotocols, a time limit.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WsConnectOptions {
    /// Headers added to the handshake request (e.g. `Authorization`), names as written.
    pub headers: Vec<(String, String)>,
    /// Subprotocols offered in `Sec-WebSocket-Protocol`, preferred first; the server's choice is
    /// [`WebSocket::protocol`].
    pub subprotocols: Vec<String>,
    /// Limit for connecting (TCP, TLS) and the handshake together; default: the session's
    /// connect timeout.
    pub timeout: Option<Duration>,
}

/// A data message, sent or received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WsMessage {
    /// A text message (UTF-8).
    Text(String),
    /// A binary message.
    Binary(Bytes),
}

impl WsMessage {
    /// The payload size in bytes (what the statistics record as the response length).
    pub fn len(&self) -> usize {
        match self {
            WsMessage::Text(t) => t.len(),
            WsMessage::Binary(b) => b.len(),
        }
    }

    /// Whether the payload is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The text of a text message (`None` for binary).
    pub fn as_text(&self) -> Option<&str> {
        match self {
            WsMessage::Text(t) => Some(t),
            WsMessage::Binary(_) => None,
        }
    }

    /// The payload as bytes, whichever the kind.
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            WsMessage::Text(t) => t.as_bytes(),
            WsMessage::Binary(b) => b,
        }
    }

    fn into_frame(self) -> Message {
        match self {
            WsMessage::Text(t) => Message::Text(t.into()),
            WsMessage::Binary(b) => Message::Binary(b),
        }
    }
}

/// Why a WebSocket operation failed. `Display` is the text recorded in the failures table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WsError {
    /// The URL is not usable or connecting failed (DNS, refused, TLS, connect timeout): the same
    /// errors, with the same texts, as an HTTP request.
    Connect(HttpError),
    /// The server answered the handshake with something other than `101 Switching Protocols`.
    Handshake {
        /// The HTTP status (e.g. 404).
        status: u16,
        /// Its reason phrase.
        reason: String,
    },
    /// No (matching) message arrived within the time limit; the connection stays usable.
    Timeout(Duration),
    /// The connection is closed: by the server (with its close code and reason, if it sent
    /// them), or by an earlier [`WebSocket::close`] or failure.
    Closed {
        /// The close code the server sent, if any.
        code: Option<u16>,
        /// The server's reason, or what happened.
        reason: String,
    },
    /// The peer broke the WebSocket protocol (bad frame, invalid UTF-8, oversized message...).
    Protocol(String),
    /// A socket error after the handshake (reset, broken pipe...).
    Io(String),
}

impl fmt::Display for WsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WsError::Connect(e) => write!(f, "{e}"),
            WsError::Handshake { status, reason } => write!(
                f,
                "WebSocketBadStatus: handshake refused with HTTP {status} {reason}"
            ),
            WsError::Timeout(t) => write!(
                f,
                "WebSocketTimeout: no message within {:.3} s",
                t.as_secs_f64()
            ),
            WsError::Closed { code, reason } => match code {
                Some(code) if reason.is_empty() => {
                    write!(f, "WebSocketClosed: closed by the server (code {code})")
                }
                Some(code) => write!(
                    f,
                    "WebSocketClosed: closed by the server (code {code}, {reason:?})"
                ),
                None => write!(f, "WebSocketClosed: {reason}"),
            },
            WsError::Protocol(m) => write!(f, "WebSocketProtocolError: {m}"),
            WsError::Io(m) => write!(f, "WebSocketConnectionError: {m}"),
        }
    }
}

impl std::error::Error for WsError {}

impl WsError {
    /// Whether the connection can still be used after this error (only a timeout leaves it open).
    pub fn is_timeout(&self) -> bool {
        matches!(self, WsError::Timeout(_))
    }

    fn from_tungstenite(e: tungstenite::Error) -> WsError {
        use tungstenite::error::ProtocolError;
        match e {
            tungstenite::Error::ConnectionClosed | tungstenite::Error::AlreadyClosed => {
                WsError::Closed {
                    code: None,
                    reason: "the connection is closed".into(),
                }
            }
            tungstenite::Error::Protocol(ProtocolError::ResetWithoutClosingHandshake) => {
                WsError::Closed {
                    code: None,
                    reason: "the server closed the connection without a closing handshake".into(),
                }
            }
            tungstenite::Error::Io(e) => WsError::Io(e.to_string()),
            tungstenite::Error::Http(response) => {
                let status = response.status();
                WsError::Handshake {
                    status: status.as_u16(),
                    reason: status.canonical_reason().unwrap_or("").to_owned(),
                }
            }
            other => WsError::Protocol(other.to_string()),
        }
    }
}

/// An open WebSocket connection of one user. Its operations take `&self`: a send does not
/// wait for a receive that is waiting for a message (the read and write halves have their own
/// locks), as a Python user receiving in a background greenlet while its tasks send expects.
pub struct WebSocket {
    writer: tokio::sync::Mutex<SplitSink<WebSocketStream<Stream>, Message>>,
    reader: tokio::sync::Mutex<Reader>,
    protocol: Option<String>,
    /// Set once the connection is closed (by either side, or broken).
    closed: std::sync::Mutex<Option<WsError>>,
    /// The TCP socket's descriptor, for [`WebSocket::abort`]; owned by the stream in the halves,
    /// so it stays open as long as this connection lives.
    fd: RawFd,
}

/// The read half and the messages read while waiting for a pong (handed out first by `recv`).
struct Reader {
    stream: SplitStream<WebSocketStream<Stream>>,
    held: VecDeque<WsMessage>,
}

impl fmt::Debug for WebSocket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebSocket")
            .field("protocol", &self.protocol)
            .field("closed", &self.is_closed())
            .finish_non_exhaustive()
    }
}

/// The `ws://`/`wss://` URL for `url`: absolute (`ws`, `wss`, `http`, `https`), or joined to the
/// session's base URL like an HTTP request path.
pub(crate) fn resolve_url(base: Option<&str>, url: &str) -> Result<url::Url, WsError> {
    let invalid = |reason: String| {
        WsError::Connect(HttpError::InvalidUrl {
            url: url.to_owned(),
            reason,
        })
    };
    let parsed = match url::Url::parse(url) {
        Ok(u) => u,
        Err(url::ParseError::RelativeUrlWithoutBase) => {
            let Some(base) = base else {
                return Err(WsError::Connect(HttpError::MissingSchema {
                    url: url.to_owned(),
                }));
            };
            let base = url::Url::parse(base)
                .map_err(|e| invalid(format!("the host {base:?} is not a URL: {e}")))?;
            base.join(url).map_err(|e| invalid(e.to_string()))?
        }
        Err(e) => return Err(invalid(e.to_string())),
    };
    let scheme = match parsed.scheme() {
        "ws" | "http" => "ws",
        "wss" | "https" => "wss",
        _ => {
            return Err(WsError::Connect(HttpError::InvalidSchema {
                url: url.to_owned(),
            }))
        }
    };
    // Url::set_scheme refuses to switch between "special" and other schemes: rebuild instead
    let rest = &parsed.as_str()[parsed.scheme().len()..];
    let rebuilt =
        url::Url::parse(&format!("{scheme}{rest}")).map_err(|e| invalid(e.to_string()))?;
    if rebuilt.host_str().is_none_or(str::is_empty) {
        return Err(invalid("no host".into()));
    }
    Ok(rebuilt)
}

impl Session {
    /// Opens a WebSocket connection to `url` (`ws://`, `wss://`, or a path joined to the
    /// session's host, whose `http`/`https` becomes `ws`/`wss`). The handshake carries the
    /// session's User-Agent, `options.headers` and the offered subprotocols. Plain `ws://` goes
    /// straight to the target; `wss://` tunnels through the session's proxy if it has one.
    pub async fn websocket(
        &self,
        url: &str,
        options: &WsConnectOptions,
    ) -> Result<WebSocket, WsError> {
        let target = resolve_url(self.base_url().as_deref(), url)?;
        let ctx = self.websocket_context();
        let limit = options.timeout.unwrap_or(ctx.connect_timeout);
        match tokio::time::timeout(limit, open(&ctx, &target, options)).await {
            Ok(result) => result,
            Err(_) => {
                let https = target.scheme() == "wss";
                Err(WsError::Connect(HttpError::ConnectTimeout {
                    host: target.host_str().unwrap_or_default().to_owned(),
                    port: target.port_or_known_default().unwrap_or(0),
                    https,
                    timeout: limit,
                }))
            }
        }
    }
}

/// The handshake request: tungstenite's (key, version, upgrade headers) plus ours.
fn handshake_request(
    target: &url::Url,
    ctx: &WsContext<'_>,
    options: &WsConnectOptions,
) -> Result<tungstenite::handshake::client::Request, WsError> {
    let invalid = |reason: String| {
        WsError::Connect(HttpError::InvalidUrl {
            url: target.to_string(),
            reason,
        })
    };
    let mut request = target
        .as_str()
        .into_client_request()
        .map_err(|e| invalid(e.to_string()))?;
    let headers = request.headers_mut();
    if let Some(agent) = &ctx.user_agent {
        if let Ok(v) = http::HeaderValue::from_str(agent) {
            headers.insert(http::header::USER_AGENT, v);
        }
    }
    for (name, value) in &options.headers {
        let name = http::HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| invalid(format!("invalid handshake header name {name:?}")))?;
        let value = http::HeaderValue::from_str(value)
            .map_err(|_| invalid(format!("invalid value for handshake header {name}")))?;
        headers.insert(name, value);
    }
    if !options.subprotocols.is_empty() {
        let offered = options.subprotocols.join(", ");
        let value = http::HeaderValue::from_str(&offered)
            .map_err(|_| invalid(format!("invalid subprotocol list {offered:?}")))?;
        headers.insert(http::header::SEC_WEBSOCKET_PROTOCOL, value);
    }
    Ok(request)
}

async fn open(
    ctx: &WsContext<'_>,
    target: &url::Url,
    options: &WsConnectOptions,
) -> Result<WebSocket, WsError> {
    let request = handshake_request(target, ctx, options)?;
    let https = target.scheme() == "wss";
    let host = target.host_str().unwrap_or_default();
    let origin = Origin {
        https,
        host,
        port: target
            .port_or_known_default()
            .unwrap_or(if https { 443 } else { 80 }),
        verified: ctx.verify_tls,
        // an HTTP proxy forwards plain requests, not upgrades: only a tunnel works for wss
        proxy: ctx.proxy.filter(|_| https),
    };
    let stream = open_stream(ctx.shared, &origin)
        .await
        .map_err(WsError::Connect)?;
    let fd = match &stream {
        Stream::Plain(tcp) => tcp.as_raw_fd(),
        Stream::Tls(tls) => tls.get_ref().0.as_raw_fd(),
    };
    let config = WebSocketConfig::default()
        .read_buffer_size(READ_BUFFER_BYTES)
        .write_buffer_size(0)
        .max_message_size(Some(MAX_MESSAGE_BYTES))
        .max_frame_size(Some(MAX_MESSAGE_BYTES));
    let (stream, response) =
        tokio_tungstenite::client_async_with_config(request, stream, Some(config))
            .await
            .map_err(WsError::from_tungstenite)?;
    let protocol = response
        .headers()
        .get(http::header::SEC_WEBSOCKET_PROTOCOL)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let (writer, reader) = stream.split();
    Ok(WebSocket {
        writer: tokio::sync::Mutex::new(writer),
        reader: tokio::sync::Mutex::new(Reader {
            stream: reader,
            held: VecDeque::new(),
        }),
        protocol,
        closed: std::sync::Mutex::new(None),
        fd,
    })
}

/// One frame read from the connection, as this module sees it.
enum Incoming {
    Data(WsMessage),
    Pong(Bytes),
}

impl Reader {
    /// Reads the next frame, answering pings on the way (tungstenite queues the pong and writes
    /// it with the next read or write).
    async fn next_frame(&mut self) -> Result<Incoming, WsError> {
        loop {
            let frame = match self.stream.next().await {
                None => {
                    return Err(WsError::Closed {
                        code: None,
                        reason: "the server closed the connection".into(),
                    })
                }
                Some(Err(e)) => return Err(WsError::from_tungstenite(e)),
                Some(Ok(frame)) => frame,
            };
            return Ok(match frame {
                Message::Text(t) => Incoming::Data(WsMessage::Text(t.as_str().to_owned())),
                Message::Binary(b) => Incoming::Data(WsMessage::Binary(b)),
                Message::Pong(p) => Incoming::Pong(p),
                Message::Ping(_) | Message::Frame(_) => continue,
                Message::Close(frame) => {
                    return Err(match frame {
                        Some(CloseFrame { code, reason }) => WsError::Closed {
                            code: Some(u16::from(code)),
                            reason: reason.as_str().to_owned(),
                        },
                        None => WsError::Closed {
                            code: None,
                            reason: "the server closed the connection without a close code".into(),
                        },
                    })
                }
            });
        }
    }

    fn hold(&mut self, message: WsMessage) {
        if self.held.len() >= MAX_HELD_MESSAGES {
            log::warn!(
                "WebSocket: more than {MAX_HELD_MESSAGES} messages arrived while waiting for a \
                 pong; dropping the oldest"
            );
            self.held.pop_front();
        }
        self.held.push_back(message);
    }
}

/// Runs `fut` within `timeout` if one is given.
async fn within<T>(
    timeout: Option<Duration>,
    fut: impl std::future::Future<Output = Result<T, WsError>>,
) -> Result<T, WsError> {
    match timeout {
        None => fut.await,
        Some(limit) => tokio::time::timeout(limit, fut)
            .await
            .unwrap_or(Err(WsError::Timeout(limit))),
    }
}

impl WebSocket {
    /// The subprotocol the server chose, if any.
    pub fn protocol(&self) -> Option<&str> {
        self.protocol.as_deref()
    }

    /// Whether the connection is closed (no operation can succeed any more).
    pub fn is_closed(&self) -> bool {
        self.closed_state().is_some()
    }

    fn closed_state(&self) -> std::sync::MutexGuard<'_, Option<WsError>> {
        self.closed.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn check_open(&self) -> Result<(), WsError> {
        match &*self.closed_state() {
            Some(e) => Err(e.clone()),
            None => Ok(()),
        }
    }

    /// Marks the connection closed for errors that end it (all but a timeout).
    fn fail(&self, e: WsError) -> WsError {
        let mut closed = self.closed_state();
        if !e.is_timeout() && closed.is_none() {
            *closed = Some(e.clone());
        }
        e
    }

    /// Ends the connection at once, without a closing handshake and without waiting (for a user
    /// that stops): the socket is shut down, so the server sees it end, and every operation,
    /// one waiting included, fails with a closed connection. Nothing happens when the
    /// connection is closed already.
    pub fn abort(&self) {
        {
            let mut closed = self.closed_state();
            if closed.is_some() {
                return;
            }
            *closed = Some(WsError::Closed {
                code: None,
                reason: "the client ended the connection (its user stopped)".into(),
            });
        }
        // SAFETY: `fd` belongs to the stream this connection owns, open until it drops; shutdown
        // leaves the descriptor itself to the stream.
        unsafe {
            libc::shutdown(self.fd, libc::SHUT_RDWR);
        }
    }

    /// Sends a message and waits until it is written to the socket.
    pub async fn send(&self, message: WsMessage) -> Result<(), WsError> {
        self.check_open()?;
        let result = self.writer.lock().await.send(message.into_frame()).await;
        result.map_err(|e| self.fail(WsError::from_tungstenite(e)))
    }

    /// Waits for the next data message (text or binary), at most `timeout` when given. A timeout
    /// leaves the connection usable; a close from the server ends it with [`WsError::Closed`].
    /// Concurrent receives take turns.
    pub async fn recv(&self, timeout: Option<Duration>) -> Result<WsMessage, WsError> {
        let result = within(timeout, async {
            let mut reader = self.reader.lock().await;
            if let Some(m) = reader.held.pop_front() {
                return Ok(m);
            }
            self.check_open()?;
            loop {
                match reader.next_frame().await? {
                    Incoming::Data(m) => return Ok(m),
                    Incoming::Pong(_) => continue,
                }
            }
        })
        .await;
        result.map_err(|e| self.fail(e))
    }

    /// Sends a ping and waits (at most `timeout`) for its pong; returns the round trip time.
    /// Data messages arriving meanwhile are kept for the following [`recv`](Self::recv) calls.
    pub async fn ping(
        &self,
        payload: Bytes,
        timeout: Option<Duration>,
    ) -> Result<Duration, WsError> {
        self.check_open()?;
        let started = std::time::Instant::now();
        let result = within(timeout, async {
            let mut reader = self.reader.lock().await;
            self.writer
                .lock()
                .await
                .send(Message::Ping(payload.clone()))
                .await
                .map_err(WsError::from_tungstenite)?;
            loop {
                match reader.next_frame().await? {
                    Incoming::Pong(p) if p == payload => return Ok(started.elapsed()),
                    Incoming::Pong(_) => continue,
                    Incoming::Data(m) => reader.hold(m),
                }
            }
        })
        .await;
        result.map_err(|e| self.fail(e))
    }

    /// Closes the connection: sends a normal close (1000) and waits, at most `timeout` (default
    /// 5 s), for the server's close, unless another receive is waiting (it will see the close).
    /// Closing a closed connection does nothing.
    pub async fn close(&self, timeout: Option<Duration>) -> Result<(), WsError> {
        {
            let mut closed = self.closed_state();
            if closed.is_some() {
                return Ok(());
            }
            *closed = Some(WsError::Closed {
                code: None,
                reason: "the connection was closed by the user".into(),
            });
        }
        let frame = CloseFrame {
            code: CloseCode::Normal,
            reason: "".into(),
        };
        let limit = timeout.unwrap_or(Duration::from_secs(5));
        let handshake = async {
            self.writer
                .lock()
                .await
                .send(Message::Close(Some(frame)))
                .await?;
            // read until the server's close (tungstenite then ends the stream)
            if let Ok(mut reader) = self.reader.try_lock() {
                while let Some(next) = reader.stream.next().await {
                    next?;
                }
            }
            Ok::<(), tungstenite::Error>(())
        };
        match tokio::time::timeout(limit, handshake).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(tungstenite::Error::ConnectionClosed | tungstenite::Error::AlreadyClosed)) => {
                Ok(())
            }
            Ok(Err(e)) => Err(WsError::from_tungstenite(e)),
            Err(_) => Err(WsError::Timeout(limit)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn abort_ends_a_waiting_receive_and_the_server_sees_the_end() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind loopback");
        let addr = listener.local_addr().expect("addr");
        let server = tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.expect("accept");
            let mut ws = tokio_tungstenite::accept_async(tcp)
                .await
                .expect("handshake");
            // runs until the client's end arrives
            while let Some(Ok(_)) = ws.next().await {}
        });
        let client = crate::HttpClient::new(crate::ClientConfig::default()).expect("client");
        let session = client.session(None).expect("session");
        let ws = std::sync::Arc::new(
            session
                .websocket(&format!("ws://{addr}/"), &WsConnectOptions::default())
                .await
                .expect("connect"),
        );
        let waiting = std::sync::Arc::clone(&ws);
        // no time limit: only the end of the connection ends it
        let receive = tokio::spawn(async move { waiting.recv(None).await });
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!ws.is_closed());
        ws.abort();
        assert!(ws.is_closed());
        let limit = Duration::from_secs(5);
        let got = tokio::time::timeout(limit, receive)
            .await
            .expect("the receive ends at once")
            .expect("task");
        assert!(matches!(got, Err(WsError::Closed { .. })), "{got:?}");
        tokio::time::timeout(limit, server)
            .await
            .expect("the server sees the end at once")
            .expect("server task");
        assert!(matches!(
            ws.send(WsMessage::Text("late".into())).await,
            Err(WsError::Closed { .. })
        ));
        ws.abort(); // again: nothing happens
    }

    #[test]
    fn relative_paths_join_the_host_and_switch_the_scheme() {
        let u = resolve_url(Some("http://127.0.0.1:8089"), "/ws/echo").unwrap();
        assert_eq!(u.as_str(), "ws://127.0.0.1:8089/ws/echo");
        let u = resolve_url(Some("https://example.test/api/"), "ws/chat?room=1").unwrap();
        assert_eq!(u.as_str(), "wss://example.test/api/ws/chat?room=1");
        let u = resolve_url(None, "wss://example.test:9000/x").unwrap();
        assert_eq!(u.as_str(), "wss://example.test:9000/x");
        let u = resolve_url(Some("http://a"), "http://b:81/y").unwrap();
        assert_eq!(u.as_str(), "ws://b:81/y");
    }

    #[test]
    fn unusable_urls_are_errors_not_panics() {
        assert!(matches!(
            resolve_url(None, "/ws/echo"),
            Err(WsError::Connect(HttpError::MissingSchema { .. }))
        ));
        assert!(matches!(
            resolve_url(None, "ftp://example.test/"),
            Err(WsError::Connect(HttpError::InvalidSchema { .. }))
        ));
        assert!(matches!(
            resolve_url(Some("not a url"), "/x"),
            Err(WsError::Connect(HttpError::InvalidUrl { .. }))
        ));
    }

    #[test]
    fn failure_texts_say_what_happened() {
        let e = WsError::Handshake {
            status: 404,
            reason: "Not Found".into(),
        };
        assert_eq!(
            e.to_string(),
            "WebSocketBadStatus: handshake refused with HTTP 404 Not Found"
        );
        assert_eq!(
            WsError::Timeout(Duration::from_millis(250)).to_string(),
            "WebSocketTimeout: no message within 0.250 s"
        );
        let e = WsError::Closed {
            code: Some(1001),
            reason: "going away".into(),
        };
        assert_eq!(
            e.to_string(),
            "WebSocketClosed: closed by the server (code 1001, \"going away\")"
        );
    }
}
