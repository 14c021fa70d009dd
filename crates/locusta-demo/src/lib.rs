//! The built-in demo target of locusta: a small, fast HTTP/1.1 shop API on loopback, which
//! also speaks HTTP/2 (h2c with prior knowledge) on the same port.
//!
//! It exists so that `locusta demo` runs a real load test on a fresh machine with nothing else
//! installed, and so that end-to-end tests and benchmarks have a local, deterministic target.
//! It models the shop API of the example locustfiles (login → browse → cart → checkout, plus an
//! API-key export, an admin area and a mobile feed), with one deliberate bottleneck:
//! `POST /api/orders` serialises on a global "inventory lock" held for
//! [`DemoConfig::checkout_hold`], so its latency grows with concurrent checkouts.
//!
//! Under `/_test/` it also offers helpers for end-to-end tests: arbitrary status codes, delays,
//! redirects, sized bodies, an echo, socket-level failures (reset, close, garbage) and counters.
//! Under `/_fault/` it misbehaves on purpose in every way a failing server does (see
//! [`faults`]), for the reliability tests.
//! Under `/ws/` it speaks WebSocket: `/ws/echo` sends every message back (`?close_after=N`
//! closes after N echoes) and `/ws/chat` broadcasts every message to every connected client.
//!
//! With [`DemoConfig::tls`] it also listens on a second port for TLS (self-signed certificate
//! or the user's PEM files), offering ALPN `h2` and `http/1.1` (see [`tls`]).
//!
//! Two ways to run it:
//! - [`DemoServer::start`] binds now and serves on its own OS thread(s) with its own tokio
//!   runtime; dropping or [`DemoServer::shutdown`] stops it and frees the port.
//! - [`serve`] serves on a listener inside the caller's runtime (plain text only).

pub mod faults;
pub mod grpc;
mod h2;
mod pages;
mod patterns;
mod routes;
mod server;
mod state;
pub mod tls;
mod websocket;

use std::net::SocketAddr;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use tokio::sync::oneshot;

pub use tls::{TlsCert, TlsConfig};

/// Settings of the demo target.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DemoConfig {
    /// How long each `POST /api/orders` holds the global inventory lock (simulated work).
    /// Zero keeps the lock but skips the sleep. Default: 2 ms.
    pub checkout_hold: Duration,
    /// Worker threads of the runtime [`DemoServer::start`] creates: 1 runs everything on one
    /// dedicated thread, 0 means one per available core. Ignored by [`serve`], which uses the
    /// caller's runtime. Default: 1.
    pub threads: usize,
    /// A second listener speaking TLS (ALPN `h2` and `http/1.1`), started by
    /// [`DemoServer::start`] next to the plain one; ignored by [`serve`]. Default: none.
    pub tls: Option<TlsConfig>,
}

impl Default for DemoConfig {
    fn default() -> DemoConfig {
        DemoConfig {
            checkout_hold: Duration::from_millis(2),
            threads: 1,
            tls: None,
        }
    }
}

/// Serves the demo target on `listener` until the returned future is dropped.
///
/// For callers that already run a tokio runtime (it must have the time driver enabled).
/// `cfg.threads` is ignored: connections are spawned onto the current runtime. Accept errors
/// such as running out of file descriptors are logged and retried, so in practice this only
/// returns an error if the listener is unusable from the start.
pub async fn serve(listener: tokio::net::TcpListener, cfg: DemoConfig) -> std::io::Result<()> {
    listener.local_addr()?;
    let shared = Arc::new(state::Shared::new(cfg.checkout_hold));
    server::accept_loop(listener, None, shared, std::future::pending()).await
}

/// A running demo target with its own runtime on its own OS thread(s).
///
/// Stops (and frees its port) on [`DemoServer::shutdown`] or when dropped.
pub struct DemoServer {
    addr: SocketAddr,
    tls: Option<TlsListening>,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

/// Where the TLS listener of a [`DemoServer`] listens and the certificate it presents.
struct TlsListening {
    addr: SocketAddr,
    cert_pem: String,
}

/// Binds `addr` for the runtime to adopt, with an error that says what to do.
fn bind(addr: SocketAddr, what: &str) -> std::io::Result<std::net::TcpListener> {
    let listener = std::net::TcpListener::bind(addr).map_err(|err| {
        std::io::Error::new(
            err.kind(),
            format!(
                "demo target: cannot listen{what} on {addr}: {err} (pick another port, or port 0 for any free one)"
            ),
        )
    })?;
    listener.set_nonblocking(true)?;
    Ok(listener)
}

impl DemoServer {
    /// Binds `addr` now (use port 0 for a free port), and `cfg.tls`'s address when given, and
    /// starts serving in the background.
    ///
    /// Errors if an address cannot be bound (port in use, no permission), the TLS certificate
    /// cannot be made or read, or the runtime or thread cannot be created.
    pub fn start(addr: SocketAddr, cfg: DemoConfig) -> std::io::Result<DemoServer> {
        let listener = bind(addr, "")?;
        let local = listener.local_addr()?;
        let tls = match &cfg.tls {
            Some(tls) => {
                let setup = tls::setup(&tls.cert)?;
                let listener = bind(tls.addr, " for TLS")?;
                Some((listener, setup))
            }
            None => None,
        };
        let tls_listening = match &tls {
            Some((listener, setup)) => Some(TlsListening {
                addr: listener.local_addr()?,
                cert_pem: setup.cert_pem.clone(),
            }),
            None => None,
        };

        let runtime = if cfg.threads == 1 {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?
        } else {
            let threads = if cfg.threads == 0 {
                std::thread::available_parallelism().map_or(1, |n| n.get())
            } else {
                cfg.threads
            };
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(threads)
                .thread_name("locusta-demo-worker")
                .enable_all()
                .build()?
        };

        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        let shared = Arc::new(state::Shared::new(cfg.checkout_hold));
        let thread = std::thread::Builder::new()
            .name("locusta-demo".to_owned())
            .spawn(move || {
                let result = runtime.block_on(async move {
                    let listener = tokio::net::TcpListener::from_std(listener)?;
                    let tls = match tls {
                        Some((listener, setup)) => {
                            Some((tokio::net::TcpListener::from_std(listener)?, setup.acceptor))
                        }
                        None => None,
                    };
                    let stop = async move {
                        // Either an explicit stop or the DemoServer vanished: both mean stop.
                        let _ = stop_rx.await;
                    };
                    server::accept_loop(listener, tls, shared, stop).await
                });
                if let Err(err) = result {
                    log::error!("demo target on {local} stopped: {err}");
                }
                // Dropping the runtime cancels every connection task and closes its socket.
                runtime.shutdown_timeout(Duration::from_secs(1));
            })?;

        Ok(DemoServer {
            addr: local,
            tls: tls_listening,
            stop: Some(stop_tx),
            thread: Some(thread),
        })
    }

    /// The address the server listens on (with the real port when started on port 0).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The base URL to point a load test at, e.g. `http://127.0.0.1:8089`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The address of the TLS listener, when [`DemoConfig::tls`] asked for one.
    pub fn tls_addr(&self) -> Option<SocketAddr> {
        self.tls.as_ref().map(|tls| tls.addr)
    }

    /// The `https://` base URL of the TLS listener, e.g. `https://127.0.0.1:8443`.
    pub fn tls_url(&self) -> Option<String> {
        self.tls_addr().map(|addr| format!("https://{addr}"))
    }

    /// The certificate chain the TLS listener presents, as PEM: what a client that verifies
    /// certificates must trust to accept the self-signed one.
    pub fn tls_cert_pem(&self) -> Option<&str> {
        self.tls.as_ref().map(|tls| tls.cert_pem.as_str())
    }

    /// Stops accepting, closes all connections, and waits for the server thread to finish.
    /// The port is free when this returns.
    pub fn shutdown(mut self) {
        self.stop_and_join();
    }

    fn stop_and_join(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            if thread.join().is_err() {
                log::error!("demo target thread on {} panicked", self.addr);
            }
        }
    }
}

impl Drop for DemoServer {
    fn drop(&mut self) {
        self.stop_and_join();
    }
}

impl std::fmt::Debug for DemoServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DemoServer")
            .field("addr", &self.addr)
            .field("tls_addr", &self.tls_addr())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_config_matches_the_documented_values() {
        let cfg = DemoConfig::default();
        assert_eq!(cfg.checkout_hold, Duration::from_millis(2));
        assert_eq!(cfg.threads, 1);
        assert_eq!(cfg.tls, None);
    }

    #[test]
    fn start_reports_the_real_port_and_url() {
        let server =
            DemoServer::start("127.0.0.1:0".parse().unwrap(), DemoConfig::default()).unwrap();
        assert_ne!(server.addr().port(), 0);
        assert_eq!(
            server.base_url(),
            format!("http://127.0.0.1:{}", server.addr().port())
        );
        server.shutdown();
    }

    #[test]
    fn start_fails_with_a_helpful_message_when_the_port_is_taken() {
        let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let err =
            DemoServer::start(taken.local_addr().unwrap(), DemoConfig::default()).unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::AddrInUse);
        assert!(err.to_string().contains("port 0"), "{err}");
    }
}
