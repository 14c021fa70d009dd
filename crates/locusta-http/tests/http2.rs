//! HTTP/2 against local hyper servers on loopback: h2c with prior knowledge, TLS with ALPN
//! (self-signed certificate), a TLS server that only speaks HTTP/1.1, and a server that closes
//! its connection after one request.

mod common;

use std::convert::Infallible;
use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use common::{config, test_proxy};
use http_body_util::{BodyExt, Full};
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};
use locusta_http::{ClientConfig, Http2Mode, HttpClient, Proxy, RequestSpec, SessionOptions};
use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::net::TcpListener;

/// What the test servers count.
#[derive(Default)]
struct Counters {
    /// TCP connections accepted.
    accepted: AtomicUsize,
    /// Connections whose serving has ended.
    closed: AtomicUsize,
    /// Requests being handled right now, and the most at once.
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
}

struct Server {
    addr: std::net::SocketAddr,
    counters: Arc<Counters>,
}

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    /// Plain TCP, HTTP/2 only (h2c prior knowledge).
    H2c,
    /// TLS offering ALPN h2 and http/1.1, serving whichever was agreed.
    TlsBoth,
    /// TLS offering ALPN http/1.1 only.
    TlsHttp1,
    /// h2c whose SETTINGS allow at most this many concurrent streams.
    H2cMaxStreams(u32),
}

/// Answers by path: `/hello`, `/echo` (the request body back), `/slow` (after 100 ms),
/// `/login` (sets a cookie), `/cookie` (the Cookie header back), `/redir` (302 to `/hello`),
/// `/gz` (a gzip body). Every body but `/echo`'s names the request's HTTP version.
async fn handle(
    req: Request<hyper::body::Incoming>,
    counters: Arc<Counters>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let now = counters.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
    counters.max_in_flight.fetch_max(now, Ordering::SeqCst);
    let version = format!("{:?}", req.version());
    let path = req.uri().path().to_string();
    let cookie = req
        .headers()
        .get("cookie")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let mut builder = Response::builder();
    let body: Bytes = match path.as_str() {
        "/echo" => req
            .into_body()
            .collect()
            .await
            .map(|b| b.to_bytes())
            .unwrap_or_default(),
        "/slow" => {
            tokio::time::sleep(Duration::from_millis(100)).await;
            Bytes::from(format!("slow {version}"))
        }
        "/login" => {
            builder = builder.header("set-cookie", "sid=abc; Path=/");
            Bytes::from("logged in")
        }
        "/cookie" => Bytes::from(cookie),
        "/authority" => Bytes::from(
            req.uri()
                .authority()
                .map_or_else(String::new, |a| a.to_string()),
        ),
        "/die" => std::future::pending().await,
        "/redir" => {
            builder = builder.status(302).header("location", "/hello");
            Bytes::new()
        }
        "/gz" => {
            let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            let _ = gz.write_all(format!("zipped {version}").as_bytes());
            builder = builder.header("content-encoding", "gzip");
            Bytes::from(gz.finish().unwrap_or_default())
        }
        _ => Bytes::from(format!("hello {version}")),
    };
    counters.in_flight.fetch_sub(1, Ordering::SeqCst);
    let resp = builder
        .body(Full::new(body))
        .unwrap_or_else(|_| Response::new(Full::new(Bytes::new())));
    Ok(resp)
}

/// Serves one connection with HTTP/2 or HTTP/1.1; with `close_after_one`, the first request
/// makes the server close the connection gracefully (HTTP/2 GOAWAY) once it is answered.
async fn serve<IO>(
    io: IO,
    h2: bool,
    counters: Arc<Counters>,
    close_after_one: bool,
    max_streams: Option<u32>,
) where
    IO: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let done = Arc::new(tokio::sync::Notify::new());
    let die = Arc::new(tokio::sync::Notify::new());
    let svc = {
        let (counters, done, die) = (counters.clone(), done.clone(), die.clone());
        hyper::service::service_fn(move |req| {
            if close_after_one {
                done.notify_one();
            }
            if req.uri().path() == "/die" {
                die.notify_one();
            }
            handle(req, counters.clone())
        })
    };
    let io = TokioIo::new(io);
    if h2 {
        let conn = hyper::server::conn::http2::Builder::new(TokioExecutor::new())
            .max_concurrent_streams(max_streams)
            .serve_connection(io, svc);
        tokio::pin!(conn);
        tokio::select! {
            _ = conn.as_mut() => {}
            // `/die`: drop the connection at once, without GOAWAY or an answer
            _ = die.notified() => {}
            _ = done.notified() => {
                conn.as_mut().graceful_shutdown();
                let _ = conn.await;
            }
        }
    } else {
        let _ = hyper::server::conn::http1::Builder::new()
            .serve_connection(io, svc)
            .await;
    }
    counters.closed.fetch_add(1, Ordering::SeqCst);
}

async fn server(kind: Kind, close_after_one: bool) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let counters = Arc::new(Counters::default());
    let max_streams = match kind {
        Kind::H2cMaxStreams(n) => Some(n),
        _ => None,
    };
    let acceptor = match kind {
        Kind::H2c | Kind::H2cMaxStreams(_) => None,
        Kind::TlsBoth => Some(tls_acceptor(&[b"h2", b"http/1.1"])),
        Kind::TlsHttp1 => Some(tls_acceptor(&[b"http/1.1"])),
    };
    let c = counters.clone();
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            c.accepted.fetch_add(1, Ordering::SeqCst);
            let (c, acceptor) = (c.clone(), acceptor.clone());
            tokio::spawn(async move {
                match acceptor {
                    None => serve(tcp, true, c, close_after_one, max_streams).await,
                    Some(acceptor) => {
                        let Ok(tls) = acceptor.accept(tcp).await else {
                            return;
                        };
                        let h2 = tls.get_ref().1.alpn_protocol() == Some(b"h2");
                        serve(tls, h2, c, close_after_one, None).await;
                    }
                }
            });
        }
    });
    Server { addr, counters }
}

fn tls_acceptor(alpn: &[&[u8]]) -> tokio_rustls::TlsAcceptor {
    let ck =
        rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()]).unwrap();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(ck.signing_key.serialize_der()));
    let mut cfg = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(vec![ck.cert.der().clone()], key)
    .unwrap();
    cfg.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    tokio_rustls::TlsAcceptor::from(Arc::new(cfg))
}

fn client(http2: Http2Mode) -> HttpClient {
    HttpClient::new(ClientConfig {
        http2,
        verify_tls: false,
        timeout: Some(Duration::from_secs(10)),
        ..config()
    })
    .unwrap()
}

fn base(s: &Server, https: bool) -> String {
    let scheme = if https { "https" } else { "http" };
    format!("{scheme}://127.0.0.1:{}", s.addr.port())
}

#[tokio::test]
async fn h2c_prior_knowledge_get_and_post() {
    let srv = server(Kind::H2c, false).await;
    let c = client(Http2Mode::PriorKnowledge);
    let s = c.session(Some(&base(&srv, false))).unwrap();

    let r = s.send(RequestSpec::get("/hello")).await.result.unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(r.text(), "hello HTTP/2.0");
    assert_eq!(r.version, http::Version::HTTP_2);
    assert_eq!(r.http_version(), "HTTP/2");
    assert_eq!(r.reason, "OK");

    let ex = s
        .send(RequestSpec::post("/echo").bytes(&b"payload"[..], Some("text/plain".into())))
        .await;
    let r = ex.result.unwrap();
    assert_eq!((r.status, r.text().as_str()), (200, "payload"));
    assert_eq!(r.http_version(), "HTTP/2");
    assert_eq!(srv.counters.accepted.load(Ordering::SeqCst), 1);
    assert_eq!(s.http2_connections(), 1);
    assert_eq!(
        s.idle_connections(),
        0,
        "HTTP/2 is not kept in the HTTP/1.1 pool"
    );
}

#[tokio::test]
async fn a_host_header_of_the_users_becomes_the_authority() {
    let srv = server(Kind::H2c, false).await;
    let c = client(Http2Mode::PriorKnowledge);
    let s = c.session(Some(&base(&srv, false))).unwrap();
    let r = s.send(RequestSpec::get("/authority")).await.result.unwrap();
    assert_eq!(r.text(), format!("127.0.0.1:{}", srv.addr.port()));
    let mut spec = RequestSpec::get("/authority");
    spec.insert_header("Host", "shop.example:8443").unwrap();
    let r = s.send(spec).await.result.unwrap();
    assert_eq!(r.text(), "shop.example:8443");
    assert_eq!(
        s.http2_connections(),
        1,
        "still the connection to the URL's address"
    );
}

#[tokio::test]
async fn tls_alpn_picks_h2() {
    let srv = server(Kind::TlsBoth, false).await;
    let c = client(Http2Mode::Negotiate);
    let s = c.session(Some(&base(&srv, true))).unwrap();
    for _ in 0..3 {
        let r = s.send(RequestSpec::get("/hello")).await.result.unwrap();
        assert_eq!(r.text(), "hello HTTP/2.0");
        assert_eq!(r.http_version(), "HTTP/2");
    }
    let r = s
        .send(RequestSpec::post("/echo").bytes(&b"over tls"[..], None))
        .await
        .result
        .unwrap();
    assert_eq!(r.text(), "over tls");
    assert_eq!(srv.counters.accepted.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn https_through_a_proxy_tunnel_negotiates_h2_and_plain_http_stays_http1() {
    let srv = server(Kind::TlsBoth, false).await;
    let (proxy_port, lines) = test_proxy(200).await;
    let c = client(Http2Mode::PriorKnowledge);
    let options = || SessionOptions {
        proxy: Some(Proxy {
            host: "127.0.0.1".into(),
            port: proxy_port,
        }),
        ..Default::default()
    };
    let s = c
        .session_with(Some(&base(&srv, true)), options(), None)
        .unwrap();
    for _ in 0..3 {
        let r = s.send(RequestSpec::get("/hello")).await.result.unwrap();
        assert_eq!(r.text(), "hello HTTP/2.0");
        assert_eq!(r.http_version(), "HTTP/2");
    }
    // one tunnel, one connection, three streams
    assert_eq!(
        lines.lock().unwrap().as_slice(),
        [format!("CONNECT 127.0.0.1:{} HTTP/1.1", srv.addr.port())]
    );
    assert_eq!(srv.counters.accepted.load(Ordering::SeqCst), 1);

    // plain http through a proxy is an absolute-form HTTP/1.1 request to the proxy, h2c or not
    let s = c
        .session_with(Some("http://target.invalid:8080"), options(), None)
        .unwrap();
    let r = s.send(RequestSpec::get("/plain")).await.result.unwrap();
    assert_eq!(r.http_version(), "HTTP/1.1");
    assert_eq!(r.text(), "GET http://target.invalid:8080/plain HTTP/1.1");
}

#[tokio::test]
async fn twenty_concurrent_requests_share_one_connection() {
    let srv = server(Kind::H2c, false).await;
    let c = client(Http2Mode::PriorKnowledge);
    let s = Arc::new(c.session(Some(&base(&srv, false))).unwrap());
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..20 {
        let s = s.clone();
        set.spawn(async move { s.send(RequestSpec::get("/slow")).await });
    }
    let mut done = 0;
    while let Some(ex) = set.join_next().await {
        let ex = ex.unwrap();
        // the response time is the stream's own: at least the server's 100 ms
        assert!(ex.elapsed >= Duration::from_millis(100), "{:?}", ex.elapsed);
        assert!(ex.elapsed < Duration::from_secs(5), "{:?}", ex.elapsed);
        let r = ex.result.unwrap();
        assert_eq!(r.text(), "slow HTTP/2.0");
        done += 1;
    }
    assert_eq!(done, 20);
    assert_eq!(srv.counters.accepted.load(Ordering::SeqCst), 1);
    assert!(
        srv.counters.max_in_flight.load(Ordering::SeqCst) > 1,
        "requests must overlap on the connection"
    );
    assert_eq!(s.http2_connections(), 1);
}

#[tokio::test]
async fn requests_beyond_the_servers_stream_limit_wait_for_a_free_stream() {
    // the server allows 3 concurrent streams; 12 requests at once all succeed on the one
    // connection, never more than 3 in flight (h2 queues the others until a stream closes)
    let srv = server(Kind::H2cMaxStreams(3), false).await;
    let c = client(Http2Mode::PriorKnowledge);
    let s = Arc::new(c.session(Some(&base(&srv, false))).unwrap());
    // the first request reads the server's SETTINGS before the burst
    s.send(RequestSpec::get("/hello")).await.result.unwrap();
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..12 {
        let s = s.clone();
        set.spawn(async move { s.send(RequestSpec::get("/slow")).await });
    }
    while let Some(ex) = set.join_next().await {
        assert_eq!(ex.unwrap().result.unwrap().text(), "slow HTTP/2.0");
    }
    assert_eq!(srv.counters.accepted.load(Ordering::SeqCst), 1);
    assert_eq!(srv.counters.max_in_flight.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn joined_requests_multiplex_in_one_task() {
    let srv = server(Kind::TlsBoth, false).await;
    let c = client(Http2Mode::Negotiate);
    let s = c.session(Some(&base(&srv, true))).unwrap();
    let (a, b) = tokio::join!(
        s.send(RequestSpec::get("/slow")),
        s.send(RequestSpec::get("/slow"))
    );
    assert_eq!(a.result.unwrap().text(), "slow HTTP/2.0");
    assert_eq!(b.result.unwrap().text(), "slow HTTP/2.0");
    assert_eq!(srv.counters.accepted.load(Ordering::SeqCst), 1);
    assert_eq!(srv.counters.max_in_flight.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn cookies_redirects_and_gzip_work_as_on_http1() {
    let srv = server(Kind::H2c, false).await;
    let c = client(Http2Mode::PriorKnowledge);
    let s = c.session(Some(&base(&srv, false))).unwrap();

    s.send(RequestSpec::get("/login")).await.result.unwrap();
    assert_eq!(s.cookies(), vec![("sid".to_string(), "abc".to_string())]);
    let r = s.send(RequestSpec::get("/cookie")).await.result.unwrap();
    assert_eq!(r.text(), "sid=abc");

    let ex = s.send(RequestSpec::get("/redir")).await;
    assert_eq!(ex.history.len(), 1);
    assert_eq!(ex.history[0].status, 302);
    let r = ex.result.unwrap();
    assert_eq!(r.url.path(), "/hello");
    assert_eq!(r.text(), "hello HTTP/2.0");

    let r = s.send(RequestSpec::get("/gz")).await.result.unwrap();
    assert_eq!(r.text(), "zipped HTTP/2.0");
    assert_eq!(srv.counters.accepted.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn an_http1_only_tls_server_still_works_with_negotiation_on() {
    let srv = server(Kind::TlsHttp1, false).await;
    let c = client(Http2Mode::Negotiate);
    let s = c.session(Some(&base(&srv, true))).unwrap();
    for _ in 0..3 {
        let r = s.send(RequestSpec::get("/hello")).await.result.unwrap();
        assert_eq!(r.text(), "hello HTTP/1.1");
        assert_eq!(r.http_version(), "HTTP/1.1");
    }
    // the connection opened while offering h2 is kept as an HTTP/1.1 keep-alive connection
    assert_eq!(srv.counters.accepted.load(Ordering::SeqCst), 1);
    assert_eq!(s.http2_connections(), 0);
}

#[tokio::test]
async fn http2_off_keeps_http1() {
    let srv = server(Kind::TlsBoth, false).await;
    let c = client(Http2Mode::Off);
    let s = c.session(Some(&base(&srv, true))).unwrap();
    let r = s.send(RequestSpec::get("/hello")).await.result.unwrap();
    assert_eq!(r.text(), "hello HTTP/1.1");
    assert_eq!(r.http_version(), "HTTP/1.1");
    assert_eq!(ClientConfig::default().http2, Http2Mode::Off);

    // a session can turn it on for itself
    let s = c
        .session_with(
            Some(&base(&srv, true)),
            SessionOptions {
                http2: Some(Http2Mode::Negotiate),
                ..Default::default()
            },
            None,
        )
        .unwrap();
    let r = s.send(RequestSpec::get("/hello")).await.result.unwrap();
    assert_eq!(r.http_version(), "HTTP/2");

    // Negotiate leaves plain http:// on HTTP/1.1 (no h2c without prior knowledge)
    let plain = server(Kind::H2c, false).await;
    let s = client(Http2Mode::Negotiate)
        .session(Some(&base(&plain, false)))
        .unwrap();
    let ex = s.send(RequestSpec::get("/hello")).await;
    assert!(
        ex.result.is_err(),
        "an h2c-only server cannot answer HTTP/1.1"
    );
    assert_eq!(s.http2_connections(), 0);
}

#[tokio::test]
async fn a_closed_connection_is_replaced_by_the_next_request() {
    let srv = server(Kind::H2c, true).await;
    let c = client(Http2Mode::PriorKnowledge);
    let s = c.session(Some(&base(&srv, false))).unwrap();
    let r = s.send(RequestSpec::get("/hello")).await.result.unwrap();
    assert_eq!(r.text(), "hello HTTP/2.0");
    // wait (bounded) until the server has closed the connection
    for _ in 0..200 {
        if srv.counters.closed.load(Ordering::SeqCst) == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(srv.counters.closed.load(Ordering::SeqCst), 1);
    // a POST: retried only because HTTP/2 tells that the dead connection never took it
    let ex = s
        .send(RequestSpec::post("/echo").bytes(&b"again"[..], None))
        .await;
    assert_eq!(ex.result.unwrap().text(), "again");
    assert_eq!(srv.counters.accepted.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn stream_true_reads_the_body_of_a_stream() {
    let srv = server(Kind::H2c, false).await;
    let c = client(Http2Mode::PriorKnowledge);
    let s = c.session(Some(&base(&srv, false))).unwrap();
    let (ex, body) = s.send_streaming(&RequestSpec::get("/gz")).await;
    assert_eq!(ex.result.unwrap().http_version(), "HTTP/2");
    let mut body = body.unwrap();
    let mut text = Vec::new();
    while let Some(piece) = body.next_chunk().await.unwrap() {
        text.extend_from_slice(&piece);
    }
    assert_eq!(text, b"zipped HTTP/2.0");
    assert!(body.is_finished());
    // the connection stays the session's: the next request shares it
    let r = s.send(RequestSpec::get("/hello")).await.result.unwrap();
    assert_eq!(r.text(), "hello HTTP/2.0");
    assert_eq!(srv.counters.accepted.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_connection_dropped_mid_request_fails_it_and_the_next_reconnects() {
    let srv = server(Kind::H2c, false).await;
    let c = client(Http2Mode::PriorKnowledge);
    let s = c.session(Some(&base(&srv, false))).unwrap();
    let err = s.send(RequestSpec::get("/die")).await.result.unwrap_err();
    // a FIN, or a RST when the server's kernel still held unread client frames: as on HTTP/1.1
    let text = err.to_string();
    assert!(
        text == "RemoteDisconnected('Remote end closed connection without response')"
            || text == "ConnectionResetError(104, 'Connection reset by peer')",
        "{text}"
    );
    let r = s.send(RequestSpec::get("/hello")).await.result.unwrap();
    assert_eq!(r.text(), "hello HTTP/2.0");
    assert_eq!(srv.counters.accepted.load(Ordering::SeqCst), 2);
    assert_eq!(s.http2_connections(), 1);
}

#[tokio::test]
async fn certificate_errors_read_as_on_http1() {
    let srv = server(Kind::TlsBoth, false).await;
    let strict = HttpClient::new(ClientConfig {
        http2: Http2Mode::Negotiate,
        ..config()
    })
    .unwrap();
    let s = strict
        .session(Some(&format!("https://localhost:{}", srv.addr.port())))
        .unwrap();
    let err = s.send(RequestSpec::get("/hello")).await.result.unwrap_err();
    assert!(err.is_tls());
    assert_eq!(
        err.to_string(),
        "SSLError(SSLCertVerificationError(1, '[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: unable to get local issuer certificate'))"
    );
    // the per-request override reaches the HTTP/2 path too
    let ex = s.send(RequestSpec::get("/hello").verify_tls(false)).await;
    assert_eq!(ex.result.unwrap().http_version(), "HTTP/2");
}
