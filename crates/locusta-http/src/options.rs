//! Settings one session may hold apart from its client's: what Locust's FastHttpUser sets per
//! user class, plus whether it speaks HTTP/2 ([`Http2Mode`]) (`connection_timeout`, `network_timeout`, `max_redirects`, `max_retries`,
//! `insecure`, `concurrency`, `proxy_host` / `proxy_port`). Sessions without them cost nothing
//! extra: they read the client's [`ClientConfig`](crate::ClientConfig).

use std::time::Duration;

/// An HTTP proxy every request of a session goes through: plain `http://` requests are sent to
/// it in absolute form, `https://` ones through a `CONNECT` tunnel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proxy {
    /// Host name or IP address of the proxy.
    pub host: String,
    /// Its port.
    pub port: u16,
}

/// Whether a session speaks HTTP/2, and how it finds out that the server does.
///
/// The default is [`Http2Mode::Off`] (HTTP/1.1 only, as Locust). HTTP/2 goes through the `h2`
/// crate with one connection per session and origin, on which concurrent requests of the
/// session run as concurrent streams. Requests through a [`Proxy`] always use HTTP/1.1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Http2Mode {
    /// HTTP/1.1 only; TLS offers ALPN `http/1.1`.
    #[default]
    Off,
    /// `https://`: TLS offers ALPN `h2` then `http/1.1` and the connection speaks what the server
    /// picked. `http://`: HTTP/1.1 (h2c upgrade is not attempted).
    Negotiate,
    /// As [`Http2Mode::Negotiate`] for `https://`; `http://` speaks HTTP/2 from the first byte
    /// (h2c "with prior knowledge", RFC 9113 §3.3), so the server must accept it.
    PriorKnowledge,
}

impl std::str::FromStr for Http2Mode {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "off" | "false" | "no" | "0" => Ok(Http2Mode::Off),
            "negotiate" | "on" | "true" | "yes" | "1" => Ok(Http2Mode::Negotiate),
            "prior-knowledge" | "prior_knowledge" | "h2c" => Ok(Http2Mode::PriorKnowledge),
            other => Err(format!(
                "unknown HTTP/2 mode {other:?}: use \"off\", \"negotiate\" or \"prior-knowledge\""
            )),
        }
    }
}

/// Per-session overrides of the client's settings; `None` (and 0 retries) keeps the client's.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SessionOptions {
    /// Limit for DNS + TCP connect + TLS handshake (FastHttpUser's `connection_timeout`).
    pub connect_timeout: Option<Duration>,
    /// Default limit for one request/response exchange per hop (`network_timeout`); a request's
    /// own `timeout` still wins.
    pub timeout: Option<Duration>,
    /// Most redirects followed (`max_redirects`); 0 returns the redirect response itself.
    pub max_redirects: Option<usize>,
    /// How many times a request of an idempotent method is sent again after a timeout or a
    /// connection that closed without an answer (`max_retries`, as geventhttpclient does).
    pub max_retries: u32,
    /// How many more times a request of an idempotent method is sent on a new connection when
    /// the server closed its connection without an answer, new connections included
    /// (geventhttpclient's pool does so up to its size + 1 times, whatever `max_retries` says).
    pub closed_retries: u32,
    /// Verify server certificates (`not insecure`); a request's own setting still wins.
    pub verify_tls: Option<bool>,
    /// Send every request through this proxy.
    pub proxy: Option<Proxy>,
    /// At most this many of the session's requests in flight at once (`concurrency`); the
    /// others wait. Ignored when the session uses a shared pool, which has its own limit.
    pub max_concurrent: Option<usize>,
    /// HTTP/2 for this session instead of the client's [`ClientConfig::http2`](crate::ClientConfig::http2).
    pub http2: Option<Http2Mode>,
}
