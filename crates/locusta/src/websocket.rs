//! WebSocket connections of a Rust-native user, recorded into the statistics.
//!
//! The transport (handshake over the HTTP client's TCP/TLS connect, framing, timeouts) is
//! `locusta_http::WebSocket`; this module names and records each operation the way Locust's
//! `SocketIOUser` records Socket.IO traffic, so WebSocket rows read alike in both:
//!
//! | operation | request_type | name | response time | length |
//! |---|---|---|---|---|
//! | [`WebSocketBuilder::connect`] | `WS` | the connection's name (default: the URL path) | TCP + TLS + handshake | 0 |
//! | [`WebSocketConnection::send_text`] / [`send_binary`](WebSocketConnection::send_binary) | `WSS` | the connection's name | time to write | payload bytes |
//! | [`WebSocketConnection::recv`] | `WSR` | the connection's name | 0 (as Locust) | payload bytes |
//! | [`WebSocketConnection::request`] | `WS` | the name given | send until the matching reply | reply bytes |
//! | [`WebSocketConnection::ping`] | `WSP` | the connection's name | ping until pong | 0 |
//!
//! Failures (refused handshake, timeout, closed connection) are recorded on the operation's row
//! with the [`WsError`] text. Messages that arrive while [`request`](WebSocketConnection::request)
//! waits for its reply and do not match are recorded as `WSR` and dropped.
//!
//! ```no_run
//! # async fn task(user: &mut locusta::User) -> locusta::TaskResult {
//! use locusta::WsMessage;
//! let mut ws = user.client.websocket("/ws/echo").name("echo").connect().await?;
//! ws.send_text("hello").await?;
//! let reply = ws.recv().await?;
//! let pong = ws
//!     .request("echo round trip", WsMessage::Text("ping 1".into()), |m| {
//!         m.as_text() == Some("ping 1")
//!     })
//!     .await?;
//! ws.close().await;
//! # let _ = (reply, pong);
//! # Ok(()) }
//! ```

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use locusta_http::{WebSocket, WsConnectOptions, WsError, WsMessage};
use locusta_stats::{Sample, StatsHub};

use crate::client::{Client, ScheduleLag};
use crate::user::TaskError;

/// Request type of a connect and of a request/response pair.
pub const WS_CONNECT: &str = "WS";
/// Request type of a sent message.
pub const WS_SEND: &str = "WSS";
/// Request type of a received message.
pub const WS_RECEIVE: &str = "WSR";
/// Request type of a ping/pong round trip.
pub const WS_PING: &str = "WSP";

/// A WebSocket connection being set up; finish it with [`connect`](Self::connect).
pub struct WebSocketBuilder<'c> {
    client: &'c Client,
    url: String,
    name: Option<String>,
    options: WsConnectOptions,
    recv_timeout: Option<Duration>,
}

impl Client {
    /// Starts a WebSocket connection to `url`: a path joined to the user's host (`http` becomes
    /// `ws`, `https` becomes `wss`) or an absolute `ws://`/`wss://` URL.
    pub fn websocket(&self, url: &str) -> WebSocketBuilder<'_> {
        WebSocketBuilder {
            client: self,
            url: url.to_owned(),
            name: None,
            options: WsConnectOptions::default(),
            recv_timeout: None,
        }
    }
}

impl WebSocketBuilder<'_> {
    /// The name the connection's rows are recorded under (default: the URL's path).
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Adds a header to the handshake request (e.g. `Authorization`).
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.options
            .headers
            .push((name.to_owned(), value.to_owned()));
        self
    }

    /// Offers a subprotocol (call again for more, preferred first).
    pub fn subprotocol(mut self, protocol: &str) -> Self {
        self.options.subprotocols.push(protocol.to_owned());
        self
    }

    /// Limit for connecting and the handshake (default: the client's connect timeout).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.options.timeout = Some(timeout);
        self
    }

    /// Default limit of every [`recv`](WebSocketConnection::recv),
    /// [`request`](WebSocketConnection::request) and [`ping`](WebSocketConnection::ping) on the
    /// connection (default: none; the end of the run still stops a waiting task).
    pub fn recv_timeout(mut self, timeout: Duration) -> Self {
        self.recv_timeout = Some(timeout);
        self
    }

    /// Connects and records the handshake as `WS` with the connection's name (a failure too).
    pub async fn connect(self) -> Result<WebSocketConnection, WsError> {
        let name = self.name.unwrap_or_else(|| default_name(&self.url));
        let started = Instant::now();
        let result = self
            .client
            .session()
            .websocket(&self.url, &self.options)
            .await;
        let recorder = Recorder {
            stats: Arc::clone(self.client.stats()),
            lag: Arc::clone(self.client.shared_schedule_lag()),
        };
        let elapsed = started.elapsed();
        match result {
            Ok(socket) => {
                recorder.record(WS_CONNECT, &name, elapsed, 0, None);
                Ok(WebSocketConnection {
                    socket,
                    recorder,
                    name,
                    recv_timeout: self.recv_timeout,
                })
            }
            Err(e) => {
                recorder.record(WS_CONNECT, &name, elapsed, 0, Some(&e));
                Err(e)
            }
        }
    }
}

/// The path of `url` (`/ws/echo` for `ws://host/ws/echo?x=1`), or `url` itself if it has none.
fn default_name(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(u) => u.path().to_owned(),
        Err(_) => url.split(['?', '#']).next().unwrap_or(url).to_owned(),
    }
}

struct Recorder {
    stats: Arc<StatsHub>,
    /// The user's open-model lag: added to every timed row (not to `WSR`, whose time is 0).
    lag: Arc<ScheduleLag>,
}

impl Recorder {
    fn record(
        &self,
        request_type: &str,
        name: &str,
        elapsed: Duration,
        length: usize,
        error: Option<&WsError>,
    ) {
        let error = error.map(ToString::to_string);
        let elapsed = if request_type == WS_RECEIVE {
            elapsed
        } else {
            elapsed + self.lag.get()
        };
        self.stats.record(&Sample {
            method: request_type,
            name,
            response_time_us: Some(elapsed.as_micros() as u64),
            content_length: length as u64,
            error: error.as_deref(),
        });
    }
}

/// An open WebSocket connection whose operations are recorded. Keep it in the user's state
/// (`user.set_state(ws)`) to reuse it across tasks; dropping it closes the socket without a
/// closing handshake, [`close`](Self::close) does one.
pub struct WebSocketConnection {
    socket: WebSocket,
    recorder: Recorder,
    name: String,
    recv_timeout: Option<Duration>,
}

impl std::fmt::Debug for WebSocketConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebSocketConnection")
            .field("name", &self.name)
            .field("socket", &self.socket)
            .finish_non_exhaustive()
    }
}

impl WebSocketConnection {
    /// The name the connection's rows are recorded under.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The subprotocol the server chose, if any.
    pub fn protocol(&self) -> Option<&str> {
        self.socket.protocol()
    }

    /// Whether the connection is closed.
    pub fn is_closed(&self) -> bool {
        self.socket.is_closed()
    }

    /// Changes the default limit of `recv`, `request` and `ping` (`None`: wait until the end).
    pub fn set_recv_timeout(&mut self, timeout: Option<Duration>) {
        self.recv_timeout = timeout;
    }

    /// Sends a text message, recorded as `WSS`.
    pub async fn send_text(&mut self, text: impl Into<String>) -> Result<(), WsError> {
        self.send(WsMessage::Text(text.into())).await
    }

    /// Sends a binary message, recorded as `WSS`.
    pub async fn send_binary(&mut self, data: impl Into<Bytes>) -> Result<(), WsError> {
        self.send(WsMessage::Binary(data.into())).await
    }

    /// Sends a message, recorded as `WSS` with the time the write took.
    pub async fn send(&mut self, message: WsMessage) -> Result<(), WsError> {
        let length = message.len();
        let started = Instant::now();
        let result = self.socket.send(message).await;
        self.recorder.record(
            WS_SEND,
            &self.name,
            started.elapsed(),
            length,
            result.as_ref().err(),
        );
        result
    }

    /// Waits for the next message (at most the connection's receive timeout), recorded as `WSR`.
    pub async fn recv(&mut self) -> Result<WsMessage, WsError> {
        self.recv_within(self.recv_timeout).await
    }

    /// [`recv`](Self::recv) with its own limit.
    pub async fn recv_within(&mut self, timeout: Option<Duration>) -> Result<WsMessage, WsError> {
        let result = self.socket.recv(timeout).await;
        let length = result.as_ref().map_or(0, WsMessage::len);
        self.recorder.record(
            WS_RECEIVE,
            &self.name,
            Duration::ZERO,
            length,
            result.as_ref().err(),
        );
        result
    }

    /// Sends `message`, then waits for the first message `matches` accepts; the pair is recorded
    /// as `WS` under `name` with the round trip time and the reply's length. Other messages
    /// arriving meanwhile are recorded as `WSR` and dropped. Fails on the connection's receive
    /// timeout, counted from the send.
    pub async fn request(
        &mut self,
        name: &str,
        message: WsMessage,
        matches: impl FnMut(&WsMessage) -> bool,
    ) -> Result<WsMessage, WsError> {
        self.request_within(name, message, matches, self.recv_timeout)
            .await
    }

    /// [`request`](Self::request) with its own limit.
    pub async fn request_within(
        &mut self,
        name: &str,
        message: WsMessage,
        mut matches: impl FnMut(&WsMessage) -> bool,
        timeout: Option<Duration>,
    ) -> Result<WsMessage, WsError> {
        let started = Instant::now();
        let deadline = timeout.map(|t| (started + t, t));
        let result = async {
            self.socket.send(message).await?;
            loop {
                let left = match deadline {
                    None => None,
                    Some((at, limit)) => match at.checked_duration_since(Instant::now()) {
                        Some(left) if !left.is_zero() => Some(left),
                        _ => return Err(WsError::Timeout(limit)),
                    },
                };
                let reply = match self.socket.recv(left).await {
                    Err(WsError::Timeout(_)) => {
                        return Err(WsError::Timeout(deadline.map_or(Duration::ZERO, |d| d.1)))
                    }
                    other => other?,
                };
                if matches(&reply) {
                    return Ok(reply);
                }
                self.recorder
                    .record(WS_RECEIVE, &self.name, Duration::ZERO, reply.len(), None);
            }
        }
        .await;
        let length = result.as_ref().map_or(0, WsMessage::len);
        self.recorder.record(
            WS_CONNECT,
            name,
            started.elapsed(),
            length,
            result.as_ref().err(),
        );
        result
    }

    /// Sends a ping and waits for its pong (at most the receive timeout), recorded as `WSP`
    /// with the round trip time. Messages arriving meanwhile wait for the next `recv`.
    pub async fn ping(&mut self) -> Result<Duration, WsError> {
        let started = Instant::now();
        let result = self
            .socket
            .ping(Bytes::from_static(b"locusta"), self.recv_timeout)
            .await;
        self.recorder.record(
            WS_PING,
            &self.name,
            started.elapsed(),
            0,
            result.as_ref().err(),
        );
        result
    }

    /// Closes the connection with a closing handshake (at most 5 s, or the receive timeout).
    /// Not recorded: a failing close only means the server went first.
    pub async fn close(&mut self) {
        if let Err(e) = self.socket.close(self.recv_timeout).await {
            log::debug!("WebSocket {}: close: {e}", self.name);
        }
    }
}

impl From<WsError> for TaskError {
    /// `?` on a WebSocket operation in a task: the operation is already recorded, so the task
    /// just ends its iteration (like a Python exception in a task, with its text logged).
    fn from(e: WsError) -> TaskError {
        TaskError::Failed(e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use locusta_http::{ClientConfig, HttpClient};
    use locusta_stats::{StatsHub, StatsLimits};

    use super::*;

    #[tokio::test]
    async fn the_open_models_lag_counts_in_a_connections_timed_rows() {
        let demo = locusta_demo::DemoServer::start(
            ([127, 0, 0, 1], 0).into(),
            locusta_demo::DemoConfig::default(),
        )
        .expect("demo target");
        let http = HttpClient::new(ClientConfig::default()).expect("http client");
        let session = http.session(Some(&demo.base_url())).expect("session");
        let stats = StatsHub::new(StatsLimits::default());
        let mut client = Client::new(session, Arc::clone(&stats));
        let mut ws = client
            .websocket("/ws/echo")
            .name("echo")
            .connect()
            .await
            .expect("connect");
        // a later iteration starts 50 ms late: the connection opened before sees its lag
        client.set_schedule_lag(Duration::from_millis(50));
        let reply = ws
            .request("pair", WsMessage::Text("hi".into()), |_| true)
            .await
            .expect("echo");
        assert_eq!(reply, WsMessage::Text("hi".into()));
        stats.merge();
        let (connect, pair) = stats.read(|agg| {
            let time =
                |name: &str, kind: &str| agg.entry(name, kind).and_then(|e| e.min_response_time());
            (time("echo", WS_CONNECT), time("pair", WS_CONNECT))
        });
        assert!(connect.unwrap_or(f64::MAX) < 50.0, "{connect:?}");
        assert!(pair.unwrap_or_default() >= 50.0, "{pair:?}");
    }

    #[test]
    fn the_default_name_is_the_path() {
        assert_eq!(default_name("/ws/echo"), "/ws/echo");
        assert_eq!(default_name("/ws/chat?room=1"), "/ws/chat");
        assert_eq!(default_name("ws://127.0.0.1:1/ws/echo?x=1"), "/ws/echo");
    }
}
