//! The demo target's WebSocket endpoints, so the WebSocket users have a real peer:
//!
//! * `GET /ws/echo` sends every text or binary message back as it came. `?close_after=N` makes
//!   the server close the connection (code 1000, reason `"close_after reached"`) after N echoes,
//!   for the tests of a server-side close.
//! * `GET /ws/chat` is one chat room: every message a client sends is broadcast to every
//!   connected client, the sender included. The room keeps at most [`CHAT_BACKLOG`] messages
//!   in flight; a client that falls further behind skips what it missed (memory stays bounded
//!   however slow the readers are).
//!
//! The handshake works like the socket-level test helpers (see `server.rs`): the handler checks
//! the upgrade request and hands the connection driver a [`RawAction::WebSocket`]; the driver
//! takes the socket back from hyper, writes `101 Switching Protocols` itself and runs the
//! connection here. A request without the upgrade headers gets `426 Upgrade Required`.
//! Subprotocols: the first offered one of [`SUPPORTED_PROTOCOLS`] is chosen.

use std::sync::Arc;

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use http::header::{self, HeaderValue};
use http::StatusCode;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::Request;
use tokio::io::AsyncWriteExt;
use tokio::sync::broadcast;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, Role, WebSocketConfig};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

use crate::server::{ConnControl, RawAction, Resp, RespFuture, Socket};
use crate::state::{Counters, Shared};

/// Messages of the chat room in flight at once; slower readers skip older ones.
pub(crate) const CHAT_BACKLOG: usize = 1024;

/// Largest message the endpoints accept (a bigger one closes the connection with 1009).
const MAX_MESSAGE_BYTES: usize = 1 << 20;

/// Subprotocols the endpoints accept when a client offers them.
pub(crate) const SUPPORTED_PROTOCOLS: &[&str] = &["echo.v1", "chat.v1"];

/// Which endpoint an upgraded connection runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum WsRoute {
    /// `/ws/echo`, closing after this many echoes when given.
    Echo { close_after: Option<u64> },
    /// `/ws/chat`.
    Chat,
}

/// An accepted upgrade, for the connection driver.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct WsUpgrade {
    route: WsRoute,
    /// `Sec-WebSocket-Accept` (always 28 base64 characters).
    accept: [u8; 28],
    protocol: Option<&'static str>,
}

/// The chat room shared by every `/ws/chat` connection of a server.
pub(crate) struct ChatRoom {
    sender: broadcast::Sender<Message>,
}

impl ChatRoom {
    pub(crate) fn new() -> ChatRoom {
        let (sender, _) = broadcast::channel(CHAT_BACKLOG);
        ChatRoom { sender }
    }
}

/// `Some` for the WebSocket paths (answered here), `None` for every other request.
pub(crate) fn route(control: &ConnControl, req: &Request<Incoming>) -> Option<RespFuture> {
    let route = match req.uri().path() {
        "/ws/echo" => WsRoute::Echo {
            close_after: close_after(req.uri().query()),
        },
        "/ws/chat" => WsRoute::Chat,
        _ => return None,
    };
    Some(match accept(req) {
        Ok((accept, protocol)) => {
            control.request(RawAction::WebSocket(WsUpgrade {
                route,
                accept,
                protocol,
            }));
            RespFuture::Never
        }
        Err(resp) => RespFuture::Ready(Some(resp)),
    })
}

/// `close_after=N` from the query string.
fn close_after(query: Option<&str>) -> Option<u64> {
    url::form_urlencoded::parse(query?.as_bytes())
        .find(|(k, _)| k == "close_after")
        .and_then(|(_, v)| v.parse().ok())
}

/// Checks the upgrade request (RFC 6455 §4.2.1); the accept key and chosen subprotocol, or the
/// response that refuses it.
#[allow(clippy::result_large_err)]
fn accept(req: &Request<Incoming>) -> Result<([u8; 28], Option<&'static str>), Resp> {
    let headers = req.headers();
    let has_token = |name: header::HeaderName, token: &str| {
        headers.get_all(name).iter().any(|v| {
            v.to_str()
                .is_ok_and(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case(token)))
        })
    };
    if req.method() != http::Method::GET {
        return Err(refuse(
            StatusCode::METHOD_NOT_ALLOWED,
            "a WebSocket handshake is a GET",
        ));
    }
    if !has_token(header::UPGRADE, "websocket") || !has_token(header::CONNECTION, "upgrade") {
        let mut resp = refuse(
            StatusCode::UPGRADE_REQUIRED,
            "this endpoint speaks WebSocket: send Upgrade: websocket",
        );
        resp.headers_mut()
            .insert(header::UPGRADE, HeaderValue::from_static("websocket"));
        return Err(resp);
    }
    if headers
        .get(header::SEC_WEBSOCKET_VERSION)
        .is_none_or(|v| v.as_bytes() != b"13")
    {
        let mut resp = refuse(StatusCode::BAD_REQUEST, "Sec-WebSocket-Version must be 13");
        resp.headers_mut().insert(
            header::SEC_WEBSOCKET_VERSION,
            HeaderValue::from_static("13"),
        );
        return Err(resp);
    }
    let Some(key) = headers.get(header::SEC_WEBSOCKET_KEY) else {
        return Err(refuse(
            StatusCode::BAD_REQUEST,
            "Sec-WebSocket-Key is missing",
        ));
    };
    let derived = tokio_tungstenite::tungstenite::handshake::derive_accept_key(key.as_bytes());
    let accept: [u8; 28] = derived.as_bytes().try_into().map_err(|_| {
        refuse(
            StatusCode::INTERNAL_SERVER_ERROR,
            "unexpected Sec-WebSocket-Accept length",
        )
    })?;
    let protocol = headers
        .get_all(header::SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .find_map(|offered| SUPPORTED_PROTOCOLS.iter().copied().find(|p| *p == offered));
    Ok((accept, protocol))
}

fn refuse(status: StatusCode, message: &str) -> Resp {
    let body = serde_json::json!({ "error": message }).to_string();
    let mut resp = Resp::new(Full::new(Bytes::from(body)));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}

/// Runs an upgraded connection: writes the 101 response, then serves the endpoint until the
/// client leaves. `read_ahead` is what hyper had read past the handshake request.
pub(crate) async fn serve<S: Socket>(
    mut stream: S,
    read_ahead: Bytes,
    upgrade: WsUpgrade,
    shared: Arc<Shared>,
) {
    let accept = String::from_utf8_lossy(&upgrade.accept);
    let protocol = upgrade
        .protocol
        .map(|p| format!("Sec-WebSocket-Protocol: {p}\r\n"))
        .unwrap_or_default();
    let head = format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Accept: {accept}\r\n{protocol}\r\n"
    );
    if stream.write_all(head.as_bytes()).await.is_err() {
        return;
    }
    let config = WebSocketConfig::default()
        .read_buffer_size(4 * 1024)
        .write_buffer_size(0)
        .max_message_size(Some(MAX_MESSAGE_BYTES))
        .max_frame_size(Some(MAX_MESSAGE_BYTES));
    let _open = OpenWebSocket::enter(&shared);
    let ws = WebSocketStream::from_partially_read(
        stream,
        read_ahead.to_vec(),
        Role::Server,
        Some(config),
    )
    .await;
    match upgrade.route {
        WsRoute::Echo { close_after } => echo(ws, close_after).await,
        WsRoute::Chat => chat(ws, &shared.chat).await,
    }
}

/// Counts an open WebSocket connection in `/_test/stats` (`websockets_open`) while it lives,
/// including when its task is aborted at shutdown.
struct OpenWebSocket<'a>(&'a Shared);

impl<'a> OpenWebSocket<'a> {
    fn enter(shared: &'a Shared) -> OpenWebSocket<'a> {
        Counters::bump(&shared.counters.websockets_open);
        OpenWebSocket(shared)
    }
}

impl Drop for OpenWebSocket<'_> {
    fn drop(&mut self) {
        self.0
            .counters
            .websockets_open
            .fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
    }
}

async fn echo<S: Socket>(mut ws: WebSocketStream<S>, close_after: Option<u64>) {
    let mut echoed = 0u64;
    if close_after == Some(0) {
        let _ = ws.close(Some(close_frame())).await;
    }
    while let Some(Ok(message)) = ws.next().await {
        if !(message.is_text() || message.is_binary()) {
            continue; // pings are answered by tungstenite; a close ends the stream
        }
        if ws.send(message).await.is_err() {
            return;
        }
        echoed += 1;
        if close_after == Some(echoed) {
            let _ = ws.close(Some(close_frame())).await;
        }
    }
}

fn close_frame() -> CloseFrame {
    CloseFrame {
        code: CloseCode::Normal,
        reason: "close_after reached".into(),
    }
}

async fn chat<S: Socket>(ws: WebSocketStream<S>, room: &ChatRoom) {
    let mut inbox = room.sender.subscribe();
    let (mut to_client, mut from_client) = ws.split();
    loop {
        tokio::select! {
            incoming = from_client.next() => match incoming {
                Some(Ok(message)) if message.is_text() || message.is_binary() => {
                    // no receivers is fine: the sender is subscribed, so this does not happen
                    let _ = room.sender.send(message);
                }
                Some(Ok(_)) => {}
                Some(Err(_)) | None => return,
            },
            outgoing = inbox.recv() => match outgoing {
                Ok(message) => {
                    if to_client.send(message).await.is_err() {
                        return;
                    }
                }
                Err(broadcast::error::RecvError::Lagged(skipped)) => {
                    log::debug!("demo target: a chat client skipped {skipped} messages");
                }
                Err(broadcast::error::RecvError::Closed) => return,
            },
        }
    }
}
