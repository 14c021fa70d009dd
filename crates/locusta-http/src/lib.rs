//! locusta's HTTP client: what `self.client` is for a simulated user.
//!
//! It mirrors Locust's `HttpSession` (a `requests.Session`): each [`Session`] is one user with its
//! own keep-alive connections, cookies and default headers; URLs are joined to the user's host like
//! Locust; redirects, gzip, basic auth and timeouts behave like requests; failures are values whose
//! text matches what Locust puts in its failures table. The default HTTP/1.1 driver runs each
//! exchange in the calling task on the socket with `httparse` (no connection task, no buffer
//! while idle); hyper's low-level client is the alternative ([`HttpDriver`]). HTTP/2, off by
//! default ([`Http2Mode`]), runs on the `h2` crate with one connection per session and
//! origin. TLS is rustls; meant to run on per-core current-thread tokio runtimes (with time
//! enabled).
//!
//! ```no_run
//! # async fn demo() -> Result<(), locusta_http::HttpError> {
//! use locusta_http::{ClientConfig, HttpClient, RequestSpec};
//! let client = HttpClient::new(ClientConfig::default())?;
//! let session = client.session(Some("http://127.0.0.1:8080"))?;
//! let ex = session.send(RequestSpec::get("/hello")).await;
//! let name = ex.stats_name(None); // Locust's default: "/hello"
//! println!("{name} {:?} {:?}", ex.elapsed, ex.failure_text(name));
//! # Ok(()) }
//! ```

mod body_buf;
mod client;
mod conn;
mod error;
mod header_case;
mod headers;
mod http2;
mod lean;
mod options;
mod pool;
mod rx_time;
mod session;
mod spawn;
mod stream;
pub mod tracing_hook;
mod types;
mod websocket;

pub use client::{ClientConfig, HttpClient, HttpDriver, DEFAULT_MAX_BODY_BYTES};
pub use error::{py_str, status_error_text, HttpError};
pub use headers::ResponseHeaders;
pub use options::{Http2Mode, Proxy, SessionOptions};
pub use pool::ConnectionPool;
pub use session::{DefaultHeaders, Session};
pub use spawn::{BackgroundTask, Spawner};
pub use stream::BodyStream;
pub use types::{Body, Exchange, RequestSpec, Response};
pub use websocket::{WebSocket, WsConnectOptions, WsError, WsMessage};

/// Entry points for the fuzz targets in `fuzz/` (not a stable API).
#[doc(hidden)]
pub mod fuzzing {
    /// Parses `data` as response heads with the lean driver's parser; see `fuzz/`.
    pub fn response_heads(data: &[u8], head_request: bool) -> String {
        crate::lean::fuzz_response_heads(data, head_request)
    }
}
