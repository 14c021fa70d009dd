//! TLS: a self-signed certificate is rejected with verification on and accepted with it off.

mod common;

use std::sync::Arc;

use common::config;
use locusta_http::{ClientConfig, HttpClient, RequestSpec};
use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::net::TcpListener;

async fn tls_server() -> std::net::SocketAddr {
    let ck =
        rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()]).unwrap();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(ck.signing_key.serialize_der()));
    let cfg = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(vec![ck.cert.der().clone()], key)
    .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(cfg));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let svc = hyper::service::service_fn(|_req| async {
                    Ok::<_, std::convert::Infallible>(hyper::Response::new(
                        http_body_util::Full::new(bytes::Bytes::from_static(b"secure")),
                    ))
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(tls), svc)
                    .await;
            });
        }
    });
    addr
}

#[tokio::test]
async fn self_signed_certificate() {
    let addr = tls_server().await;
    let base = format!("https://localhost:{}", addr.port());

    let strict = HttpClient::new(config()).unwrap();
    let s = strict.session(Some(&base)).unwrap();
    let err = s.send(RequestSpec::get("/")).await.result.unwrap_err();
    assert!(err.is_tls());
    assert_eq!(
        err.to_string(),
        "SSLError(SSLCertVerificationError(1, '[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: unable to get local issuer certificate'))"
    );
    // per-request override
    let ex = s.send(RequestSpec::get("/").verify_tls(false)).await;
    assert_eq!(ex.result.unwrap().text(), "secure");

    let lax = HttpClient::new(ClientConfig {
        verify_tls: false,
        ..config()
    })
    .unwrap();
    let s = lax
        .session(Some(&format!("https://127.0.0.1:{}", addr.port())))
        .unwrap();
    for _ in 0..3 {
        let ex = s.send(RequestSpec::get("/")).await;
        let r = ex.result.unwrap();
        assert_eq!(r.status, 200);
        assert_eq!(r.text(), "secure");
    }
    assert_eq!(s.idle_connections(), 1);
}

#[tokio::test]
async fn plain_http_server_on_https_url_is_an_ssl_error() {
    let srv = common::hyper_server().await;
    let c = HttpClient::new(config()).unwrap();
    let s = c.session(Some(&format!("https://{}", srv.addr))).unwrap();
    let err = s.send(RequestSpec::get("/")).await.result.unwrap_err();
    assert!(err.is_tls(), "{err}");
    assert!(
        err.to_string().starts_with("SSLError(SSLError(1, "),
        "{err}"
    );
}
