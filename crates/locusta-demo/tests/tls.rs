//! The demo target's TLS listener: ALPN `h2` is served as HTTP/2, `http/1.1` (or no ALPN) as
//! HTTP/1.1 with WebSocket and the socket-level helpers, and the self-signed certificate
//! verifies for `localhost` and `127.0.0.1` once trusted.

mod common;

use std::sync::Arc;

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use http_body_util::{BodyExt, Empty};
use hyper::Request;
use hyper_util::rt::{TokioExecutor, TokioIo};
use locusta_demo::{DemoConfig, DemoServer, TlsCert, TlsConfig};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_tungstenite::tungstenite::Message;

fn start_tls() -> DemoServer {
    common::start_with(DemoConfig {
        tls: Some(TlsConfig {
            addr: "127.0.0.1:0".parse().unwrap(),
            cert: TlsCert::SelfSigned,
        }),
        ..DemoConfig::default()
    })
}

/// A TLS connection to the server's TLS port that verifies its certificate for `name` (after
/// trusting it) and offers `alpn`.
async fn connect(server: &DemoServer, name: &str, alpn: &[&[u8]]) -> TlsStream<TcpStream> {
    let mut roots = rustls::RootCertStore::empty();
    let pem = server.tls_cert_pem().expect("a TLS listener");
    for cert in CertificateDer::pem_slice_iter(pem.as_bytes()) {
        roots.add(cert.unwrap()).unwrap();
    }
    let mut config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    let tcp = TcpStream::connect(server.tls_addr().unwrap())
        .await
        .unwrap();
    tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(ServerName::try_from(name.to_owned()).unwrap(), tcp)
        .await
        .expect("TLS handshake with the trusted self-signed certificate")
}

async fn stats(server: &DemoServer) -> serde_json::Value {
    common::Client::connect(server.addr())
        .await
        .get("/_test/stats")
        .await
        .json()
}

fn echo_request() -> Request<Empty<Bytes>> {
    Request::get("/_test/echo")
        .header("host", "localhost")
        .body(Empty::new())
        .unwrap()
}

#[tokio::test]
async fn alpn_h2_is_served_as_http2() {
    let server = start_tls();
    assert_eq!(
        server.tls_url().unwrap(),
        format!("https://{}", server.tls_addr().unwrap())
    );
    let tls = connect(&server, "localhost", &[b"h2", b"http/1.1"]).await;
    assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
    let (mut sender, conn) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(tls))
            .await
            .unwrap();
    tokio::spawn(conn);
    for _ in 0..3 {
        let req = Request::get("https://localhost/_test/echo")
            .body(Empty::<Bytes>::new())
            .unwrap();
        let resp = sender.send_request(req).await.unwrap();
        assert_eq!(resp.version(), hyper::Version::HTTP_2);
        let body = resp.into_body().collect().await.unwrap().to_bytes();
        let echo: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(echo["http_version"], "HTTP/2.0", "{echo}");
    }
    let stats = stats(&server).await;
    assert_eq!(stats["http2_connections"], 1, "{stats}");
    assert_eq!(stats["tls_connections"], 1, "{stats}");
}

#[tokio::test]
async fn alpn_http1_or_none_is_served_as_http1() {
    let server = start_tls();
    for alpn in [&[&b"http/1.1"[..]][..], &[]] {
        let tls = connect(&server, "127.0.0.1", alpn).await;
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
            .await
            .unwrap();
        tokio::spawn(conn);
        let resp = sender.send_request(echo_request()).await.unwrap();
        assert_eq!(resp.version(), hyper::Version::HTTP_11);
        let body = resp.into_body().collect().await.unwrap().to_bytes();
        let echo: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(echo["http_version"], "HTTP/1.1", "{echo}");
    }
    let stats = stats(&server).await;
    assert_eq!(stats["http2_connections"], 0, "{stats}");
    assert_eq!(stats["tls_connections"], 2, "{stats}");
}

#[tokio::test]
async fn websocket_upgrades_over_tls() {
    let server = start_tls();
    let tls = connect(&server, "localhost", &[b"http/1.1"]).await;
    let url = format!(
        "wss://localhost:{}/ws/echo",
        server.tls_addr().unwrap().port()
    );
    let (mut ws, resp) = tokio_tungstenite::client_async(url, tls)
        .await
        .expect("WebSocket handshake over TLS");
    assert_eq!(resp.status(), 101);
    ws.send(Message::text("over tls")).await.unwrap();
    let echoed = ws.next().await.unwrap().unwrap();
    assert_eq!(echoed, Message::text("over tls"));
    ws.close(None).await.unwrap();
}

#[tokio::test]
async fn socket_level_helpers_act_through_tls() {
    let server = start_tls();
    // garbage travels inside TLS records, then the server closes
    let mut tls = connect(&server, "localhost", &[b"http/1.1"]).await;
    tls.write_all(b"GET /_test/garbage HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .await
        .unwrap();
    let mut got = Vec::new();
    // the close may come with or without TLS close_notify; what arrived before is the point
    let _ = tls.read_to_end(&mut got).await;
    assert!(got.starts_with(b"THIS IS NOT HTTP"), "{got:?}");

    // a reset resets the TCP connection under TLS
    let mut tls = connect(&server, "localhost", &[b"http/1.1"]).await;
    tls.write_all(b"GET /_test/reset HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .await
        .unwrap();
    let mut buf = Vec::new();
    let err = tls.read_to_end(&mut buf).await.expect_err("a reset");
    assert_eq!(err.kind(), std::io::ErrorKind::ConnectionReset, "{err}");
}

#[test]
fn a_taken_tls_port_is_refused_with_a_helpful_message() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let err = DemoServer::start(
        "127.0.0.1:0".parse().unwrap(),
        DemoConfig {
            tls: Some(TlsConfig {
                addr: taken.local_addr().unwrap(),
                cert: TlsCert::SelfSigned,
            }),
            ..DemoConfig::default()
        },
    )
    .unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::AddrInUse);
    assert!(err.to_string().contains("for TLS"), "{err}");
    assert!(err.to_string().contains("port 0"), "{err}");
}

#[test]
fn without_tls_there_is_no_tls_listener() {
    let server = common::start();
    assert_eq!(server.tls_addr(), None);
    assert_eq!(server.tls_url(), None);
    assert_eq!(server.tls_cert_pem(), None);
}
