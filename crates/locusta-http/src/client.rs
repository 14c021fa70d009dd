//! Client-wide configuration and the session factory.
//!
//! Everything that is the same for all simulated users lives here, built once: the timeouts, the
//! redirect limit, the User-Agent, and the rustls configurations (verifying and accept-any, each
//! offering ALPN `http/1.1` alone or `h2` first), so
//! that opening a TLS connection never rebuilds a root store.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};

use crate::error::HttpError;
use crate::options::{Http2Mode, SessionOptions};
use crate::pool::ConnectionPool;
use crate::session::{HeaderTemplate, Session};
use crate::spawn::Spawner;

/// Settings shared by all sessions of an [`HttpClient`].
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// Limit for DNS + TCP connect + TLS handshake of one new connection.
    pub connect_timeout: Duration,
    /// Limit for sending a request and receiving its whole response (per redirect hop).
    /// `None` (the default, like requests/HttpUser) waits forever.
    pub timeout: Option<Duration>,
    /// Verify server certificates against the webpki roots (default true, like requests).
    pub verify_tls: bool,
    /// Maximum number of redirects followed (default 30, like requests).
    pub max_redirects: usize,
    /// Default User-Agent header of new sessions.
    pub user_agent: String,
    /// How many idle keep-alive connections a session keeps per origin (default 4).
    pub max_idle_per_origin: usize,
    /// Drive each connection in its own `tokio::spawn`ed task (default true) instead of inside the
    /// request future. Measured with the `hammer` example, the spawned design used ~20% less CPU
    /// per request: hyper wakes the connection several times per exchange, and re-polling a small
    /// connection task is cheaper than re-polling a user's whole task.
    pub spawn_connections: bool,
    /// Size of each connection's read buffer. Every idle keep-alive connection holds one, so this
    /// dominates the memory of many mostly-idle users; larger responses take more reads.
    pub read_buffer_size: usize,
    /// Which HTTP/1.1 implementation drives the connections (default [`HttpDriver::Lean`]).
    pub driver: HttpDriver,
    /// Largest response body (after decompression) one request may hold in memory, default
    /// [`DEFAULT_MAX_BODY_BYTES`]. A bigger or endless body fails the request with
    /// [`HttpError::BodyTooLarge`] and closes its connection, so a target that floods
    /// responses cannot exhaust memory.
    pub max_body_bytes: u64,
    /// HTTP/2 for all sessions (default [`Http2Mode::Off`]); a session's
    /// [`SessionOptions::http2`] wins.
    pub http2: Http2Mode,
    /// Runs the client's background tasks (HTTP/2 connections, hyper's HTTP/1.1 connection
    /// tasks); default `tokio::spawn`.
    pub spawner: Spawner,
}

/// Default of [`ClientConfig::max_body_bytes`]: 64 MiB.
pub const DEFAULT_MAX_BODY_BYTES: u64 = 64 * 1024 * 1024;

/// The HTTP/1.1 implementation behind a [`ClientConfig`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum HttpDriver {
    /// hyper's low-level client: a connection future (own task or inline, see
    /// [`ClientConfig::spawn_connections`]) fed through hyper's dispatch channel. About a third
    /// more CPU per request and five times the memory per idle connection than [`HttpDriver::Lean`]
    /// (docs/benchmarks.md); kept as a reference implementation and a fallback.
    Hyper,
    /// The whole exchange (write request, parse head with `httparse`, read body by its framing)
    /// runs in the calling task on the socket itself: no connection task, no channel, and a
    /// connection that waits idle holds no buffer. The default.
    #[default]
    Lean,
}

impl HttpDriver {
    /// The driver named by the environment variable `LOCUSTA_HTTP_DRIVER` (`hyper` or `lean`),
    /// [`HttpDriver::Lean`] when it is unset or names no driver.
    pub fn from_env() -> HttpDriver {
        std::env::var("LOCUSTA_HTTP_DRIVER")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or_default()
    }
}

impl std::str::FromStr for HttpDriver {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "hyper" => Ok(HttpDriver::Hyper),
            "lean" => Ok(HttpDriver::Lean),
            other => Err(format!(
                "unknown HTTP driver {other:?}: use \"hyper\" or \"lean\""
            )),
        }
    }
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            connect_timeout: Duration::from_secs(60),
            timeout: None,
            verify_tls: true,
            max_redirects: 30,
            user_agent: format!("locusta/{}", env!("CARGO_PKG_VERSION")),
            max_idle_per_origin: 4,
            spawn_connections: true,
            read_buffer_size: 4096,
            driver: HttpDriver::Lean,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            http2: Http2Mode::Off,
            spawner: Spawner::default(),
        }
    }
}

/// State shared by an [`HttpClient`] and all its sessions.
#[derive(Debug)]
pub(crate) struct ClientShared {
    pub(crate) cfg: ClientConfig,
    pub(crate) tls_verify: Arc<rustls::ClientConfig>,
    pub(crate) tls_any: Arc<rustls::ClientConfig>,
    /// The same two, offering ALPN `h2` before `http/1.1` (sessions with HTTP/2 on).
    pub(crate) tls_verify_h2: Arc<rustls::ClientConfig>,
    pub(crate) tls_any_h2: Arc<rustls::ClientConfig>,
    /// Header templates of plain requests, shared by the sessions that never changed their
    /// default headers (one per host).
    pub(crate) templates: Mutex<Vec<Arc<HeaderTemplate>>>,
}

impl ClientShared {
    /// The rustls config for a request with this verification setting.
    pub(crate) fn tls(&self, verify: bool) -> &Arc<rustls::ClientConfig> {
        if verify {
            &self.tls_verify
        } else {
            &self.tls_any
        }
    }

    /// The rustls config offering `h2` first (HTTP/2 on), or the plain one.
    pub(crate) fn tls_alpn(&self, verify: bool, offer_h2: bool) -> &Arc<rustls::ClientConfig> {
        match (offer_h2, verify) {
            (false, _) => self.tls(verify),
            (true, true) => &self.tls_verify_h2,
            (true, false) => &self.tls_any_h2,
        }
    }
}

/// Factory of [`Session`]s; cheap to clone and shareable between threads.
#[derive(Debug, Clone)]
pub struct HttpClient {
    pub(crate) shared: Arc<ClientShared>,
}

impl HttpClient {
    /// Builds the client (TLS configurations included).
    pub fn new(cfg: ClientConfig) -> Result<HttpClient, HttpError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let tls_err = |e: rustls::Error| HttpError::Tls {
            message: format!("cannot build the TLS configuration: {e}"),
            cert_verification: false,
        };
        let roots =
            rustls::RootCertStore::from_iter(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        let mut verify = rustls::ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(tls_err)?
            .with_root_certificates(roots)
            .with_no_client_auth();
        verify.alpn_protocols = vec![b"http/1.1".to_vec()];
        let mut any = rustls::ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(tls_err)?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AcceptAnyCert { provider }))
            .with_no_client_auth();
        any.alpn_protocols = vec![b"http/1.1".to_vec()];
        let offer_h2 = |c: &rustls::ClientConfig| {
            let mut c = c.clone();
            c.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
            Arc::new(c)
        };
        Ok(HttpClient {
            shared: Arc::new(ClientShared {
                cfg,
                tls_verify_h2: offer_h2(&verify),
                tls_any_h2: offer_h2(&any),
                tls_verify: Arc::new(verify),
                tls_any: Arc::new(any),
                templates: Mutex::new(Vec::new()),
            }),
        })
    }

    /// The configuration this client was built with.
    pub fn config(&self) -> &ClientConfig {
        &self.shared.cfg
    }

    /// A new session (one simulated user): own cookies, default headers and connections.
    /// `base_url` is the user's host; credentials in it become basic auth (see [`Session`]).
    pub fn session(&self, base_url: Option<&str>) -> Result<Session, HttpError> {
        Session::new(self.shared.clone(), base_url, None, None)
    }

    /// A new session with settings of its own (FastHttpUser's class attributes), and optionally
    /// a connection pool shared with other sessions (its `client_pool`) instead of its own.
    pub fn session_with(
        &self,
        base_url: Option<&str>,
        options: SessionOptions,
        pool: Option<ConnectionPool>,
    ) -> Result<Session, HttpError> {
        Session::new(self.shared.clone(), base_url, Some(options), pool)
    }
}

/// Certificate verifier for `verify_tls: false`: accepts any certificate, but still checks that the
/// handshake is signed by the key in that certificate.
#[derive(Debug)]
struct AcceptAnyCert {
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for AcceptAnyCert {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_follow_requests() {
        let c = ClientConfig::default();
        assert_eq!(c.max_redirects, 30);
        assert!(c.verify_tls);
        assert_eq!(c.timeout, None);
        assert!(c.user_agent.starts_with("locusta/"));
        assert_eq!(c.driver, HttpDriver::Lean);
        assert_eq!("LEAN".parse::<HttpDriver>(), Ok(HttpDriver::Lean));
        assert_eq!(" hyper".parse::<HttpDriver>(), Ok(HttpDriver::Hyper));
        assert!("h2".parse::<HttpDriver>().is_err());
        let client = HttpClient::new(c).unwrap();
        assert_eq!(
            client.shared.tls(true).alpn_protocols,
            vec![b"http/1.1".to_vec()]
        );
        assert_eq!(client.config().http2, Http2Mode::Off);
        assert_eq!(
            client.shared.tls_alpn(false, true).alpn_protocols,
            vec![b"h2".to_vec(), b"http/1.1".to_vec()]
        );
        assert_eq!("h2c".parse::<Http2Mode>(), Ok(Http2Mode::PriorKnowledge));
        assert_eq!(" Negotiate".parse::<Http2Mode>(), Ok(Http2Mode::Negotiate));
        assert!("h3".parse::<Http2Mode>().is_err());
    }
}
