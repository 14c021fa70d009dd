//! One keep-alive HTTP/1.1 connection: opening it (DNS, TCP, TLS, shared with HTTP/2) and
//! driving it.
//!
//! hyper's low-level client splits a connection into a `SendRequest` handle and a `Connection`
//! future that does the actual I/O and must be polled. By default (`spawn_connections`) it runs in
//! its own tokio task on the current runtime; otherwise we keep it next to the handle and poll it
//! inside the request future ([`Conn::drive`]). Both are kept: the benchmark decides.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::client::conn::http1;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

use crate::client::ClientShared;
use crate::error::{errno_and_message, HttpError};
use crate::options::Proxy;

/// Where a connection goes; idle connections are reused only for the same origin.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Origin<'a> {
    pub https: bool,
    pub host: &'a str,
    pub port: u16,
    /// For https: whether the certificate was verified (a connection opened with verification off
    /// must not serve a request that wants it on).
    pub verified: bool,
    /// The proxy the connection goes through, if any.
    pub proxy: Option<&'a Proxy>,
}

/// Plain TCP or TLS over TCP (shared by both drivers).
pub(crate) enum Stream {
    Plain(TcpStream),
    Tls(Box<tokio_rustls::client::TlsStream<TcpStream>>),
}

impl Stream {
    /// Whether the TLS handshake agreed on HTTP/2 (ALPN `h2`).
    pub(crate) fn is_h2(&self) -> bool {
        match self {
            Stream::Plain(_) => false,
            Stream::Tls(s) => s.get_ref().1.alpn_protocol() == Some(b"h2"),
        }
    }
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_write(cx, data),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, data),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_write_vectored(cx, bufs),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            Stream::Plain(s) => s.is_write_vectored(),
            Stream::Tls(s) => s.is_write_vectored(),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_flush(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

/// First bytes the server sent after our last request, kept so that a garbage response can be
/// reported like Python's `BadStatusLine('HELLO\r\n')`.
#[derive(Debug, Default)]
pub(crate) struct FirstLine {
    armed: bool,
    bytes: Vec<u8>,
}

const FIRST_LINE_MAX: usize = 128;

/// The I/O object handed to hyper.
struct Io {
    stream: Stream,
    first_line: Arc<Mutex<FirstLine>>,
}

impl AsyncRead for Io {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let res = Pin::new(&mut this.stream).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = res {
            let new = &buf.filled()[before..];
            if !new.is_empty() {
                if let Ok(mut fl) = this.first_line.lock() {
                    if fl.armed {
                        let room = FIRST_LINE_MAX.saturating_sub(fl.bytes.len());
                        let take = &new[..new.len().min(room)];
                        let end = take
                            .iter()
                            .position(|&b| b == b'\n')
                            .map_or(take.len(), |i| i + 1);
                        fl.bytes.extend_from_slice(&take[..end]);
                        if end < take.len()
                            || fl.bytes.len() >= FIRST_LINE_MAX
                            || end > 0 && take[end - 1] == b'\n'
                        {
                            fl.armed = false;
                        }
                    }
                }
            }
        }
        res
    }
}

impl AsyncWrite for Io {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if let Ok(mut fl) = this.first_line.lock() {
            if !fl.armed {
                fl.armed = true;
                fl.bytes.clear();
            }
        }
        Pin::new(&mut this.stream).poll_write(cx, data)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if let Ok(mut fl) = this.first_line.lock() {
            if !fl.armed {
                fl.armed = true;
                fl.bytes.clear();
            }
        }
        Pin::new(&mut this.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }
}

type Driver = http1::Connection<TokioIo<Io>, Full<Bytes>>;

/// An open connection: the request handle, plus the connection future when driven inline.
pub(crate) struct Conn {
    pub(crate) sender: http1::SendRequest<Full<Bytes>>,
    driver: Option<Pin<Box<Driver>>>,
    /// The inline driver finished (connection closed); it must not be polled again.
    driver_done: bool,
    first_line: Arc<Mutex<FirstLine>>,
}

impl Conn {
    /// Opens a connection to `key` within `timeout` (DNS + TCP + TLS handshake).
    pub(crate) async fn open(
        shared: &ClientShared,
        key: &Origin<'_>,
        timeout: Duration,
    ) -> Result<Conn, HttpError> {
        match tokio::time::timeout(timeout, Self::open_inner(shared, key)).await {
            Ok(r) => r,
            Err(_) => Err(HttpError::ConnectTimeout {
                host: key.host.to_string(),
                port: key.port,
                https: key.https,
                timeout,
            }),
        }
    }

    async fn open_inner(shared: &ClientShared, key: &Origin<'_>) -> Result<Conn, HttpError> {
        let stream = open_stream(shared, key).await?;
        Conn::from_stream(shared, stream).await
    }

    /// Starts HTTP/1.1 on a stream opened elsewhere (a TLS connection whose server chose
    /// HTTP/1.1 when HTTP/2 was offered).
    pub(crate) async fn from_stream(
        shared: &ClientShared,
        stream: Stream,
    ) -> Result<Conn, HttpError> {
        let first_line = Arc::new(Mutex::new(FirstLine::default()));
        let io = TokioIo::new(Io {
            stream,
            first_line: first_line.clone(),
        });
        let (sender, conn) = http1::Builder::new()
            // requests' spelling of header names (hyper cannot keep a user's own spelling)
            .title_case_headers(true)
            .read_buf_exact_size(Some(shared.cfg.read_buffer_size.max(1024)))
            .handshake::<_, Full<Bytes>>(io)
            .await
            .map_err(|e| HttpError::Protocol {
                message: e.to_string(),
            })?;
        let driver = if shared.cfg.spawn_connections {
            shared.cfg.spawner.spawn(Box::pin(async move {
                let _ = conn.await;
            }));
            None
        } else {
            Some(Box::pin(conn))
        };
        Ok(Conn {
            sender,
            driver,
            driver_done: false,
            first_line,
        })
    }

    /// Polls `fut` to completion while also driving the connection (when driven inline).
    pub(crate) async fn drive<F: Future + Unpin>(&mut self, mut fut: F) -> F::Output {
        std::future::poll_fn(|cx| {
            self.poll_driver(cx);
            Pin::new(&mut fut).poll(cx)
        })
        .await
    }

    /// Polls the inline connection future once; records when it has finished.
    pub(crate) fn poll_driver(&mut self, cx: &mut Context<'_>) {
        if self.driver_done {
            return;
        }
        if let Some(d) = self.driver.as_mut() {
            if d.as_mut().poll(cx).is_ready() {
                self.driver_done = true;
                self.driver = None;
            }
        }
    }

    /// Waits until the connection can take a request; false if it is closed.
    pub(crate) async fn ready(&mut self) -> bool {
        if self.driver_done {
            return false;
        }
        std::future::poll_fn(|cx| {
            self.poll_driver(cx);
            if self.driver_done {
                return Poll::Ready(false);
            }
            match self.sender.poll_ready(cx) {
                Poll::Ready(r) => Poll::Ready(r.is_ok()),
                Poll::Pending => Poll::Pending,
            }
        })
        .await
    }

    /// After a response was fully read: lets the connection settle and tells whether it can be
    /// kept for another request.
    pub(crate) fn reusable(&mut self) -> bool {
        let mut cx = Context::from_waker(std::task::Waker::noop());
        self.poll_driver(&mut cx);
        !self.driver_done && !self.sender.is_closed()
    }

    /// The first line the server sent in reply to the last request (for BadStatusLine).
    pub(crate) fn first_line(&self) -> String {
        match self.first_line.lock() {
            Ok(fl) => String::from_utf8_lossy(&fl.bytes).into_owned(),
            Err(_) => String::new(),
        }
    }
}

/// Opens the TCP connection (and the TLS session for https) of a new connection to `key`.
pub(crate) async fn open_stream(
    shared: &ClientShared,
    key: &Origin<'_>,
) -> Result<Stream, HttpError> {
    open_stream_alpn(shared, key, false).await
}

/// [`open_stream`], offering ALPN `h2` before `http/1.1` when `offer_h2` (see
/// [`Stream::is_h2`] for what the server chose).
pub(crate) async fn open_stream_alpn(
    shared: &ClientShared,
    key: &Origin<'_>,
    offer_h2: bool,
) -> Result<Stream, HttpError> {
    let tcp = match key.proxy {
        None => tcp_connect(key.host, key.port).await?,
        Some(proxy) => {
            let mut tcp = tcp_connect(&proxy.host, proxy.port).await?;
            if key.https {
                open_tunnel(&mut tcp, key).await?;
            }
            tcp
        }
    };
    let _ = tcp.set_nodelay(true);
    if key.https {
        let name = key.host.trim_start_matches('[').trim_end_matches(']');
        let server_name =
            rustls::pki_types::ServerName::try_from(name.to_string()).map_err(|e| {
                HttpError::Tls {
                    message: format!("invalid server name {name:?}: {e}"),
                    cert_verification: false,
                }
            })?;
        let connector =
            tokio_rustls::TlsConnector::from(shared.tls_alpn(key.verified, offer_h2).clone());
        let tls = connector
            .connect(server_name, tcp)
            .await
            .map_err(|e| tls_error(&e))?;
        Ok(Stream::Tls(Box::new(tls)))
    } else {
        Ok(Stream::Plain(tcp))
    }
}

/// Asks the proxy at the other end of `tcp` for a tunnel to `key` (`CONNECT host:port`) and
/// waits for its 2xx answer; TLS to the target then runs inside the tunnel.
async fn open_tunnel(tcp: &mut TcpStream, key: &Origin<'_>) -> Result<(), HttpError> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let authority = format!("{}:{}", key.host, key.port);
    let request = format!("CONNECT {authority} HTTP/1.1\r\nHost: {authority}\r\n\r\n");
    let io_error = |e: io::Error| {
        let (errno, message) = errno_and_message(&e);
        HttpError::Io { errno, message }
    };
    tcp.write_all(request.as_bytes()).await.map_err(io_error)?;
    // the answer is a head without a body; read it byte-wise-bounded, never past its end
    let mut head = Vec::with_capacity(256);
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if head.len() >= 16 * 1024 {
            return Err(HttpError::Proxy {
                message: "Tunnel connection failed: the proxy's answer is too long".into(),
            });
        }
        match tcp.read(&mut byte).await.map_err(io_error)? {
            0 => {
                return Err(HttpError::Proxy {
                    message: "Tunnel connection failed: the proxy closed the connection".into(),
                })
            }
            _ => head.push(byte[0]),
        }
    }
    let mut headers = [httparse::EMPTY_HEADER; 32];
    let mut response = httparse::Response::new(&mut headers);
    match response.parse(&head) {
        Ok(httparse::Status::Complete(_)) => match response.code {
            Some(code) if (200..300).contains(&code) => Ok(()),
            code => Err(HttpError::Proxy {
                message: format!(
                    "Tunnel connection failed: {} {}",
                    code.unwrap_or(0),
                    response.reason.unwrap_or("")
                ),
            }),
        },
        _ => Err(HttpError::Proxy {
            message: "Tunnel connection failed: the proxy's answer is not HTTP".into(),
        }),
    }
}

/// Resolves `host` and connects to the first address that accepts.
async fn tcp_connect(host: &str, port: u16) -> Result<TcpStream, HttpError> {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    let addrs: Vec<SocketAddr> = match bare.parse::<std::net::IpAddr>() {
        Ok(ip) => vec![SocketAddr::new(ip, port)],
        Err(_) => match tokio::net::lookup_host((bare, port)).await {
            Ok(it) => it.collect(),
            Err(e) => return Err(dns_error(host, &e)),
        },
    };
    if addrs.is_empty() {
        return Err(HttpError::Dns {
            host: host.to_string(),
            code: -5,
            message: "No address associated with hostname".into(),
        });
    }
    let mut last = None;
    for addr in addrs {
        match TcpStream::connect(addr).await {
            Ok(s) => return Ok(s),
            Err(e) => last = Some(e),
        }
    }
    let e = last.unwrap_or_else(|| io::Error::other("no address to connect to"));
    let (errno, message) = errno_and_message(&e);
    crate::error::warn_resource_exhaustion(errno);
    Err(HttpError::Connect { errno, message })
}

/// getaddrinfo failures as Python's `socket.gaierror(code, message)`.
fn dns_error(host: &str, e: &io::Error) -> HttpError {
    let text = e.to_string();
    let msg = text
        .strip_prefix("failed to lookup address information: ")
        .unwrap_or(&text)
        .to_string();
    let code = match msg.as_str() {
        "Name or service not known" => -2,
        "Temporary failure in name resolution" => -3,
        "Non-recoverable failure in name resolution" => -4,
        "No address associated with hostname" => -5,
        _ => -2,
    };
    HttpError::Dns {
        host: host.to_string(),
        code,
        message: msg,
    }
}

/// Maps a TLS handshake failure to Python-like text.
fn tls_error(e: &io::Error) -> HttpError {
    if let Some(re) = e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()) {
        return match re {
            rustls::Error::InvalidCertificate(ce) => HttpError::Tls {
                message: cert_reason(ce),
                cert_verification: true,
            },
            other => HttpError::Tls {
                message: format!("[SSL] {other}"),
                cert_verification: false,
            },
        };
    }
    match e.kind() {
        io::ErrorKind::UnexpectedEof => HttpError::Tls {
            message: "[SSL: UNEXPECTED_EOF_WHILE_READING] EOF occurred in violation of protocol"
                .into(),
            cert_verification: false,
        },
        _ => {
            let (errno, message) = errno_and_message(e);
            if errno != 0 {
                HttpError::Io { errno, message }
            } else {
                HttpError::Tls {
                    message,
                    cert_verification: false,
                }
            }
        }
    }
}

/// OpenSSL's wording for the common certificate problems.
fn cert_reason(ce: &rustls::CertificateError) -> String {
    use rustls::CertificateError as C;
    match ce {
        C::UnknownIssuer => "unable to get local issuer certificate".into(),
        C::Expired | C::ExpiredContext { .. } => "certificate has expired".into(),
        C::NotValidYet | C::NotValidYetContext { .. } => "certificate is not yet valid".into(),
        C::NotValidForName | C::NotValidForNameContext { .. } => {
            "Hostname mismatch, certificate is not valid for this host.".into()
        }
        C::Revoked => "certificate revoked".into(),
        other => format!("{other:?}"),
    }
}
