//! Serving the UI: binding (loopback by default), `--web-base-path`, basic auth, TLS, and the
//! history recorder, on a thread of its own so that any runner (the Rust control loop or the
//! Python gevent hub) can host it.

use std::net::{SocketAddr, TcpListener, ToSocketAddrs};
use std::path::PathBuf;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;
use base64::Engine as _;
use tokio::sync::oneshot;

use crate::control::WebContext;

/// Where and how to serve the UI (Locust's `--web-*` and `--tls-*` options).
#[derive(Debug, Clone, Default)]
pub struct ServerConfig {
    /// `--web-host`: an address or host name; `""` or `"*"` mean every interface.
    pub host: String,
    /// `--web-port`.
    pub port: u16,
    /// `--web-base-path` (`""` or starting with `/`).
    pub base_path: String,
    /// `--web-auth user:password`.
    pub auth: Option<String>,
    /// `--tls-cert` and `--tls-key`.
    pub tls: Option<(PathBuf, PathBuf)>,
}

/// True for addresses only this machine can reach.
fn is_loopback(addr: &SocketAddr) -> bool {
    addr.ip().is_loopback()
}

/// Resolves the bind address: `""`/`"*"` are every interface, as in Locust.
pub fn bind_addr(host: &str, port: u16) -> Result<SocketAddr, String> {
    let host = host.trim();
    let host = if host.is_empty() || host == "*" {
        "0.0.0.0"
    } else {
        host.trim_start_matches('[').trim_end_matches(']')
    };
    (host, port)
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve --web-host {host:?}: {e}"))?
        .next()
        .ok_or_else(|| format!("--web-host {host:?} resolves to no address"))
}

/// Normalises `--web-base-path`: `""` or `/x/y` without a trailing slash.
pub fn normalise_base_path(p: &str) -> Result<String, String> {
    let p = p.trim();
    if p.is_empty() || p == "/" {
        return Ok(String::new());
    }
    if !p.starts_with('/') {
        return Err(format!("--web-base-path must start with '/', got {p:?}"));
    }
    if p.contains(['?', '#', ' ']) {
        return Err(format!("--web-base-path must be a plain path, got {p:?}"));
    }
    Ok(p.trim_end_matches('/').to_owned())
}

fn parse_auth(auth: &str) -> Result<(String, String), String> {
    match auth.split_once(':') {
        Some((u, p)) if !u.is_empty() => Ok((u.to_owned(), p.to_owned())),
        _ => Err("--web-auth must be in the form user:password".to_owned()),
    }
}

async fn require_auth(State(expected): State<Arc<String>>, req: Request, next: Next) -> Response {
    let ok = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .is_some_and(|v| v.trim() == expected.as_str());
    if ok {
        return next.run(req).await;
    }
    let mut resp = (StatusCode::UNAUTHORIZED, "Authentication required").into_response();
    resp.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Basic realm=\"locusta\""),
    );
    resp
}

/// Wraps the UI's routes (plus any merged into `routes`) with the base path and auth.
pub fn app(routes: Router, cfg: &ServerConfig) -> Result<Router, String> {
    let base = normalise_base_path(&cfg.base_path)?;
    let mut app = if base.is_empty() {
        routes
    } else {
        let target = format!("{base}/");
        Router::new()
            .route(
                &base,
                get(move || {
                    let target = target.clone();
                    async move { Redirect::permanent(&target) }
                }),
            )
            .nest_service(&format!("{base}/"), routes)
    };
    if let Some(auth) = &cfg.auth {
        let (user, pass) = parse_auth(auth)?;
        let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"));
        app = app.layer(middleware::from_fn_with_state(
            Arc::new(token),
            require_auth,
        ));
    }
    Ok(app)
}

fn tls_config(cert: &PathBuf, key: &PathBuf) -> Result<rustls::ServerConfig, String> {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::{CertificateDer, PrivateKeyDer};
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .map_err(|e| format!("cannot read --tls-cert {}: {e}", cert.display()))?
        .collect::<Result<_, _>>()
        .map_err(|e| format!("cannot parse --tls-cert {}: {e}", cert.display()))?;
    if certs.is_empty() {
        return Err(format!(
            "--tls-cert {} holds no certificate",
            cert.display()
        ));
    }
    let key = PrivateKeyDer::from_pem_file(key).map_err(|e| {
        format!(
            "cannot read a private key from --tls-key {}: {e}",
            key.display()
        )
    })?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS setup failed: {e}"))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| format!("--tls-cert and --tls-key do not fit together: {e}"))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

/// A running UI server; dropping it stops the server.
pub struct WebServer {
    addr: SocketAddr,
    url: String,
    shutdown: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl WebServer {
    /// The bound address (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The UI's address as a URL, base path included.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Stops serving and waits for the server thread.
    pub fn stop(mut self) {
        self.stop_inner();
    }

    fn stop_inner(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for WebServer {
    fn drop(&mut self) {
        self.stop_inner();
    }
}

/// Binds and starts serving `routes` (usually [`crate::router`], maybe with more merged in) on a
/// thread of its own, and records the chart history every two seconds. Errors (address in use,
/// bad certificate, bad options) come back before anything is served.
pub fn start(ctx: WebContext, routes: Router, cfg: &ServerConfig) -> Result<WebServer, String> {
    let addr = bind_addr(&cfg.host, cfg.port)?;
    let app = app(routes, cfg)?;
    let tls = match &cfg.tls {
        Some((cert, key)) => Some(tls_config(cert, key)?),
        None => None,
    };
    let listener = TcpListener::bind(addr)
        .map_err(|e| format!("cannot listen on {addr} for the web UI: {e}"))?;
    let local = listener
        .local_addr()
        .map_err(|e| format!("cannot read the web UI's address: {e}"))?;
    if !is_loopback(&local) && cfg.auth.is_none() {
        log::warn!(
            target: "locusta.main",
            "The web UI listens on {local}, reachable from other machines, without authentication: anyone who can reach it can start load against any host. Add --web-auth user:password, or use --web-host 127.0.0.1."
        );
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("locusta-web")
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the web UI runtime: {e}"))?;
    let (tx, rx) = oneshot::channel::<()>();
    let scheme = if tls.is_some() { "https" } else { "http" };
    let shown_host = if local.ip().is_unspecified() {
        "0.0.0.0".to_owned()
    } else if local.is_ipv6() {
        format!("[{}]", local.ip())
    } else {
        local.ip().to_string()
    };
    let base = normalise_base_path(&cfg.base_path)?;
    let url = format!("{scheme}://{shown_host}:{}{base}/", local.port());
    let thread = std::thread::Builder::new()
        .name("locusta-web".into())
        .spawn(move || {
            runtime.block_on(async move {
                let handle = axum_server::Handle::new();
                let recorder = tokio::spawn(record_history(ctx));
                let service = app.into_make_service();
                let served = {
                    let handle = handle.clone();
                    async move {
                        let result = match tls {
                            Some(config) => {
                                let config = axum_server::tls_rustls::RustlsConfig::from_config(
                                    Arc::new(config),
                                );
                                match axum_server::from_tcp_rustls(listener, config) {
                                    Ok(s) => s.handle(handle).serve(service).await,
                                    Err(e) => Err(e),
                                }
                            }
                            None => match axum_server::from_tcp(listener) {
                                Ok(s) => s.handle(handle).serve(service).await,
                                Err(e) => Err(e),
                            },
                        };
                        if let Err(e) = result {
                            log::error!(target: "locusta.web", "the web UI stopped: {e}");
                        }
                    }
                };
                let server = tokio::spawn(served);
                let _ = rx.await;
                handle.graceful_shutdown(Some(Duration::from_secs(1)));
                let _ = server.await;
                recorder.abort();
            });
        })
        .map_err(|e| format!("cannot start the web UI thread: {e}"))?;
    Ok(WebServer {
        addr: local,
        url,
        shutdown: Some(tx),
        thread: Some(thread),
    })
}

/// Appends a chart point every two seconds while a test runs (Locust records history in
/// states other than ready and stopped).
async fn record_history(ctx: WebContext) {
    let mut tick = tokio::time::interval(Duration::from_secs(2));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let status = ctx.status();
        if status.state == "ready" || status.state == "stopped" {
            continue;
        }
        let now = locusta_util::unix_now();
        let history = Arc::clone(&ctx.history);
        ctx.stats
            .read(|agg| history.record(agg, status.user_count, now));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_paths_are_normalised_or_refused() {
        assert_eq!(normalise_base_path("").unwrap(), "");
        assert_eq!(normalise_base_path("/").unwrap(), "");
        assert_eq!(normalise_base_path("/ui/").unwrap(), "/ui");
        assert!(normalise_base_path("ui").is_err());
        assert!(normalise_base_path("/a?b").is_err());
    }

    #[test]
    fn empty_host_means_every_interface() {
        assert!(bind_addr("", 1).unwrap().ip().is_unspecified());
        assert!(bind_addr("*", 1).unwrap().ip().is_unspecified());
        assert!(bind_addr("127.0.0.1", 1).unwrap().ip().is_loopback());
        assert!(bind_addr("::1", 1).unwrap().ip().is_loopback());
    }

    #[test]
    fn auth_needs_user_and_colon() {
        assert!(parse_auth("a:b").is_ok());
        assert!(parse_auth("a:").is_ok());
        assert!(parse_auth("ab").is_err());
        assert!(parse_auth(":b").is_err());
    }
}
