//! Accept loop and per-connection driver.
//!
//! Each accepted TCP connection is served by hyper's HTTP/1.1 server (keep-alive, pipelining).
//! The three socket-level test helpers (`/_test/reset`, `/_test/close`, `/_test/garbage`) need
//! the raw socket back in the middle of a keep-alive connection, at whatever position the
//! request arrives: the handler records the wanted [`RawAction`] in the connection's
//! [`ConnControl`] and never answers, the driver notices, takes the socket back out of hyper
//! (`into_parts`) and performs the action itself. This works on reused connections too, which
//! a "peek at the first request line" design would not.
//!
//! Connections of the optional TLS listener ([`crate::tls`]) are served the same way after the
//! handshake: ALPN `h2` goes to the HTTP/2 server, anything else to HTTP/1.1. The raw actions
//! and WebSocket work on either kind of connection through [`Socket`].

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;
use tokio_rustls::TlsAcceptor;

use crate::routes;
use crate::state::{Counters, Shared};

/// Bytes written by `/_test/garbage`: no HTTP status line, some binary, then the connection
/// closes.
pub(crate) const GARBAGE: &[u8] = b"THIS IS NOT HTTP\x00\x01\x02\xff\xfe garbage \r\n\r\n";

/// Longest a TLS client may take to complete its handshake before the connection is dropped.
const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// A connection the driver can serve: plain TCP or TLS over TCP.
pub(crate) trait Socket: AsyncRead + AsyncWrite + Unpin + Send + 'static {
    /// The TCP connection underneath (for `SO_LINGER` on a reset).
    fn tcp(&self) -> &TcpStream;
}

impl Socket for TcpStream {
    fn tcp(&self) -> &TcpStream {
        self
    }
}

impl Socket for tokio_rustls::server::TlsStream<TcpStream> {
    fn tcp(&self) -> &TcpStream {
        self.get_ref().0
    }
}

/// What the driver does with the raw socket instead of answering.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum RawAction {
    /// `SO_LINGER` 0 then close: the peer gets a TCP RST.
    Reset,
    /// Orderly close (FIN) without a response.
    Close,
    /// Write [`GARBAGE`], then an orderly close.
    Garbage,
    /// One of the `/_fault/` misbehaviours.
    Fault(crate::faults::Fault),
    /// Switch to WebSocket (`/ws/...`): answer 101 and run the endpoint on the socket.
    WebSocket(crate::websocket::WsUpgrade),
}

/// Per-connection channel from a request handler to the connection driver.
#[derive(Default)]
pub(crate) struct ConnControl {
    action: Mutex<Option<RawAction>>,
    notify: Notify,
}

impl ConnControl {
    /// Resolves when a handler asked for a raw action.
    pub(crate) async fn notified(&self) {
        self.notify.notified().await;
    }

    /// Asks the driver to take the socket back and perform `action`.
    pub fn request(&self, action: RawAction) {
        *self.action.lock().unwrap_or_else(|e| e.into_inner()) = Some(action);
        self.notify.notify_one();
    }

    fn take(&self) -> Option<RawAction> {
        self.action.lock().unwrap_or_else(|e| e.into_inner()).take()
    }
}

/// Response type of every handler.
pub(crate) type Resp = Response<Full<Bytes>>;

/// Future of one request: most routes answer synchronously and never allocate a future.
pub(crate) enum RespFuture {
    /// Already computed.
    Ready(Option<Resp>),
    /// Needs to await something (request body, timers, the inventory lock).
    Boxed(Pin<Box<dyn Future<Output = Resp> + Send>>),
    /// Never resolves: the driver is about to take the socket back.
    Never,
}

impl Future for RespFuture {
    type Output = Result<Resp, std::convert::Infallible>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match &mut *self {
            RespFuture::Ready(resp) => match resp.take() {
                Some(resp) => Poll::Ready(Ok(resp)),
                // Polled again after completion; hyper never does that.
                None => Poll::Pending,
            },
            RespFuture::Boxed(fut) => fut.as_mut().poll(cx).map(Ok),
            RespFuture::Never => Poll::Pending,
        }
    }
}

/// The hyper service of one connection.
pub(crate) struct ConnService {
    shared: Arc<Shared>,
    control: Arc<ConnControl>,
}

impl ConnService {
    pub(crate) fn new(shared: Arc<Shared>, control: Arc<ConnControl>) -> Self {
        ConnService { shared, control }
    }
}

impl hyper::service::Service<Request<Incoming>> for ConnService {
    type Response = Resp;
    type Error = std::convert::Infallible;
    type Future = RespFuture;

    fn call(&self, req: Request<Incoming>) -> RespFuture {
        Counters::bump(&self.shared.counters.requests);
        routes::dispatch(&self.shared, &self.control, req)
    }
}

/// Accepts connections on `listener` (and on the TLS listener, when given) until `shutdown`
/// resolves (or forever), serving each on its own task.
pub(crate) async fn accept_loop(
    listener: TcpListener,
    tls: Option<(TcpListener, TlsAcceptor)>,
    shared: Arc<Shared>,
    shutdown: impl Future<Output = ()>,
) -> io::Result<()> {
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder.keep_alive(true);
    let builder = Arc::new(builder);
    // Owning the connection tasks means dropping this future (or shutting down) also closes
    // every open connection, instead of leaving them running on the caller's runtime.
    let mut connections = tokio::task::JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        let (accepted, acceptor) = tokio::select! {
            biased;
            () = &mut shutdown => return Ok(()),
            // Reap finished connection tasks so the set does not grow without bound.
            Some(_) = connections.join_next(), if !connections.is_empty() => continue,
            accepted = listener.accept() => (accepted, None),
            Some((accepted, acceptor)) = async {
                match &tls {
                    Some((listener, acceptor)) => Some((listener.accept().await, acceptor.clone())),
                    None => None,
                }
            }, if tls.is_some() => (accepted, Some(acceptor)),
        };
        match accepted {
            Ok((stream, _peer)) => {
                Counters::bump(&shared.counters.connections_accepted);
                let shared = Arc::clone(&shared);
                let builder = Arc::clone(&builder);
                // Counted here, not in the task, so the count is right as soon as accept
                // returns; the guard moves into the task and uncounts it however it ends.
                let open = OpenConnection::enter(Arc::clone(&shared));
                connections.spawn(async move {
                    match acceptor {
                        None => serve_connection(stream, &builder, shared).await,
                        Some(acceptor) => serve_tls(stream, acceptor, &builder, shared).await,
                    }
                    drop(open);
                });
            }
            Err(err) => {
                // Usually transient (EMFILE when the test opens too many sockets, ECONNABORTED):
                // back off briefly instead of spinning or killing the server.
                log::warn!("demo target: accept failed: {err}; retrying in 10 ms");
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
}

/// Keeps `connections_open` right, including when a connection task is aborted at shutdown.
struct OpenConnection(Arc<Shared>);

impl OpenConnection {
    fn enter(shared: Arc<Shared>) -> OpenConnection {
        shared
            .counters
            .connections_open
            .fetch_add(1, Ordering::Relaxed);
        OpenConnection(shared)
    }
}

impl Drop for OpenConnection {
    fn drop(&mut self) {
        self.0
            .counters
            .connections_open
            .fetch_sub(1, Ordering::Relaxed);
    }
}

/// Serves one plain-text connection: HTTP/2 when it opens with the HTTP/2 preface (h2c with
/// prior knowledge), HTTP/1.1 otherwise.
async fn serve_connection(
    stream: TcpStream,
    builder: &hyper::server::conn::http1::Builder,
    shared: Arc<Shared>,
) {
    // Small request/response exchanges: do not let Nagle delay them.
    if let Err(err) = stream.set_nodelay(true) {
        log::debug!("demo target: cannot set TCP_NODELAY: {err}");
    }
    match crate::h2::opens_with_preface(&stream).await {
        Ok(true) => return crate::h2::serve_connection(stream, shared).await,
        Ok(false) => {}
        Err(err) => {
            log::debug!("demo target: connection failed before its first request: {err}");
            return;
        }
    }
    serve_http1(stream, builder, shared).await
}

/// Serves one connection of the TLS listener: the handshake (bounded by
/// [`TLS_HANDSHAKE_TIMEOUT`]), then HTTP/2 if the client chose ALPN `h2`, HTTP/1.1 otherwise.
async fn serve_tls(
    stream: TcpStream,
    acceptor: TlsAcceptor,
    builder: &hyper::server::conn::http1::Builder,
    shared: Arc<Shared>,
) {
    if let Err(err) = stream.set_nodelay(true) {
        log::debug!("demo target: cannot set TCP_NODELAY: {err}");
    }
    let stream = match tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
        Ok(Ok(stream)) => stream,
        Ok(Err(err)) => {
            log::debug!("demo target: TLS handshake failed: {err}");
            return;
        }
        Err(_) => {
            log::debug!("demo target: TLS handshake took longer than {TLS_HANDSHAKE_TIMEOUT:?}");
            return;
        }
    };
    Counters::bump(&shared.counters.tls_connections);
    if stream.get_ref().1.alpn_protocol() == Some(b"h2") {
        crate::h2::serve_connection(stream, shared).await
    } else {
        serve_http1(stream, builder, shared).await
    }
}

/// Serves one HTTP/1.1 connection until the peer closes it, an error occurs, or a raw action is
/// requested.
async fn serve_http1<S: Socket>(
    stream: S,
    builder: &hyper::server::conn::http1::Builder,
    shared: Arc<Shared>,
) {
    let control = Arc::new(ConnControl::default());
    let service = ConnService {
        shared: Arc::clone(&shared),
        control: Arc::clone(&control),
    };
    let mut conn = builder.serve_connection(TokioIo::new(stream), service);
    let action = tokio::select! {
        result = std::future::poll_fn(|cx| conn.poll_without_shutdown(cx)) => {
            if let Err(err) = result {
                log::debug!("demo target: connection ended with error: {err}");
            }
            // The handler may have asked for a raw action just as the connection ended.
            control.take()
        }
        () = control.notify.notified() => control.take(),
    };
    let parts = conn.into_parts();
    let mut stream = parts.io.into_inner();
    match action {
        Some(RawAction::WebSocket(upgrade)) => {
            crate::websocket::serve(stream, parts.read_buf, upgrade, shared).await
        }
        Some(action) => perform(&mut stream, action).await,
        None => {
            // Normal end: orderly close of our side.
            let _ = stream.shutdown().await;
        }
    }
}

/// Carries out a raw action on the socket hyper handed back; the socket closes when dropped.
///
/// Over TLS the garbage and the faults' bytes travel inside TLS records (the client's HTTP
/// parser sees them as on plain text); a reset resets the TCP connection underneath.
async fn perform<S: Socket>(stream: &mut S, action: RawAction) {
    match action {
        RawAction::Reset => {
            // Zero linger turns the close into an RST and never blocks.
            if let Err(err) = stream.tcp().set_zero_linger() {
                log::debug!("demo target: cannot set SO_LINGER 0: {err}");
            }
        }
        RawAction::Close => {
            let _ = stream.shutdown().await;
        }
        RawAction::Garbage => {
            let _ = stream.write_all(GARBAGE).await;
            let _ = stream.shutdown().await;
        }
        RawAction::Fault(fault) => crate::faults::perform(stream, fault).await,
        // handled by the driver, which needs the bytes hyper read ahead
        RawAction::WebSocket(_) => {}
    }
}
