//! A session = one simulated user's `self.client`: base URL, default headers, cookie jar, basic
//! auth and its own keep-alive connections, like a `requests.Session` inside Locust's HttpUser.
//!
//! [`Session::send`] performs one exchange: resolve the URL like Locust (`base_url + url`), send,
//! read the whole body, follow redirects like requests, and time it all.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime};

use base64::Engine as _;
use bytes::{Bytes, BytesMut};
use http::header::{self, HeaderMap, HeaderValue};
use http::Method;
use http_body_util::Full;
use hyper::body::{Body as _, Incoming};
use locusta_util::lock;

use crate::body_buf::BodyBuffer;
use crate::client::{ClientShared, HttpDriver};
use crate::conn::{Conn, Origin};
use crate::error::HttpError;
use crate::header_case::Spellings;
use crate::headers::ResponseHeaders;
use crate::http2::{H2Conn, H2Slots, Pick};
use crate::lean::{BodyCursor, HeaderLines, LeanConn};
use crate::options::{Http2Mode, SessionOptions};
use crate::pool::{ConnectionPool, PooledConn};
use crate::stream::{BodyStream, Return, Source};
use crate::tracing_hook;
use crate::types::{Body, Exchange, RequestSpec, Response};

/// The base URL and the basic-auth credentials taken out of it.
#[derive(Debug, Default, Clone)]
struct Base {
    url: Option<String>,
    auth: Option<(String, String)>,
    /// Bumped on every change of the base URL, to invalidate [`UrlCache`].
    generation: u64,
}

/// The last URL resolved, so that a task requesting the same path again skips building and
/// parsing it: the raw string as given, the base URL generation it was resolved against, and
/// the results (parsed URL, the request target hyper needs).
struct UrlCache {
    raw: String,
    base_generation: u64,
    url: url::Url,
    target: http::Uri,
}

/// The session's default headers plus a generation counter bumped on every mutable access, so
/// that the prebuilt header set of plain requests ([`HeaderTemplate`]) knows when to rebuild.
struct DefaultHeaderState {
    map: HeaderMap,
    /// How the names set with [`DefaultHeaders::insert_as_written`] were spelled.
    spellings: Spellings,
    generation: u64,
}

/// Guard over a session's default headers (see [`Session::default_headers`]); derefs to the
/// [`HeaderMap`]. Do not hold it across an `.await`.
pub struct DefaultHeaders<'a>(MutexGuard<'a, DefaultHeaderState>);

impl std::ops::Deref for DefaultHeaders<'_> {
    type Target = HeaderMap;

    fn deref(&self) -> &HeaderMap {
        &self.0.map
    }
}

impl std::ops::DerefMut for DefaultHeaders<'_> {
    fn deref_mut(&mut self) -> &mut HeaderMap {
        self.0.generation += 1;
        &mut self.0.map
    }
}

impl DefaultHeaders<'_> {
    /// Sets (replaces) a default header whose name goes out spelled as given here (names
    /// inserted through the map go out in Title-Case). An invalid name or value is an error.
    pub fn insert_as_written(&mut self, name: &str, value: &str) -> Result<(), http::Error> {
        let n = http::HeaderName::from_bytes(name.as_bytes())?;
        let v = HeaderValue::from_str(value)?;
        self.insert(n, v);
        self.0.spellings.remember(name);
        Ok(())
    }

    /// `name` as it goes out on the wire: as set with [`DefaultHeaders::insert_as_written`],
    /// else in Title-Case.
    pub fn name_as_sent(&self, name: &http::HeaderName) -> String {
        let mut out = Vec::with_capacity(name.as_str().len());
        self.0.spellings.write_name(&mut out, name);
        String::from_utf8_lossy(&out).into_owned()
    }

    /// Removes a default header by name; returns whether it was there.
    pub fn remove_named(&mut self, name: &str) -> bool {
        let Ok(n) = http::HeaderName::from_bytes(name.as_bytes()) else {
            return false;
        };
        self.0.spellings.forget(name);
        self.remove(n).is_some()
    }
}

/// The complete header set of a plain request (Host plus the default headers; no per-request
/// headers, auth, cookies or body), built once and cloned for every such request.
/// Sessions whose default headers were never changed share one template per host through the
/// client (see [`ClientShared::templates`]), so a session holds only a pointer to it: memory per
/// idle user matters more than the one-time cost of building a private template.
#[derive(Debug)]
pub(crate) struct HeaderTemplate {
    host: String,
    headers: HeaderMap,
    /// The same headers as HTTP/1.1 header lines (`name: value\r\n` each), for the lean driver.
    encoded: Bytes,
}

/// The headers of one hop: a full map, or the shared template of a plain request (which the lean
/// driver writes out pre-encoded, without cloning the map).
pub(crate) enum HopHeaders {
    /// Headers built for this request, and how their names are spelled.
    Map(HeaderMap, Spellings),
    /// Host plus the session's default headers.
    Plain(Arc<HeaderTemplate>),
    /// A plain request traced with `--otel`: the template plus its `traceparent` value.
    PlainTraced(Arc<HeaderTemplate>, HeaderValue),
}

/// The `traceparent` header name (sent in lower case, as the instrumentation of requests does).
const TRACEPARENT: &str = "traceparent";

impl HopHeaders {
    /// The headers as a map (cloned from the template for a plain request).
    fn into_map(self) -> HeaderMap {
        match self {
            HopHeaders::Map(m, _) => m,
            HopHeaders::Plain(t) => t.headers.clone(),
            HopHeaders::PlainTraced(t, v) => {
                let mut m = t.headers.clone();
                m.insert(header::HeaderName::from_static(TRACEPARENT), v);
                m
            }
        }
    }

    /// The lean driver's header lines: a plain request's pre-encoded template (with a traced
    /// request's `traceparent` line after it).
    fn into_lines(self) -> HeaderLines {
        match self {
            HopHeaders::Map(m, spellings) => HeaderLines::Map(m, spellings),
            HopHeaders::Plain(t) => HeaderLines::Encoded(t.encoded.clone()),
            HopHeaders::PlainTraced(t, v) => {
                let mut lines = BytesMut::with_capacity(t.encoded.len() + v.len() + 15);
                lines.extend_from_slice(&t.encoded);
                lines.extend_from_slice(TRACEPARENT.as_bytes());
                lines.extend_from_slice(b": ");
                lines.extend_from_slice(v.as_bytes());
                lines.extend_from_slice(b"\r\n");
                HeaderLines::Encoded(lines.freeze())
            }
        }
    }
}

/// Adds a traced request's `traceparent` to its headers, keeping a plain request on its
/// template.
fn with_traceparent(h: HopHeaders, traceparent: Option<&HeaderValue>) -> HopHeaders {
    let Some(v) = traceparent else {
        return h;
    };
    match h {
        HopHeaders::Map(mut m, mut spellings) => {
            m.insert(header::HeaderName::from_static(TRACEPARENT), v.clone());
            spellings.remember(TRACEPARENT);
            HopHeaders::Map(m, spellings)
        }
        HopHeaders::Plain(t) => HopHeaders::PlainTraced(t, v.clone()),
        traced @ HopHeaders::PlainTraced(..) => traced,
    }
}

/// At most this many shared templates (distinct hosts) are kept by a client; sessions talking to
/// further hosts build private ones.
const MAX_SHARED_TEMPLATES: usize = 64;

/// One simulated user's HTTP state. `Send + Sync`; methods take `&self` (concurrent requests on
/// one session work and simply open extra HTTP/1.1 connections; with HTTP/2 on, see
/// [`Http2Mode`], they run as streams of one connection per origin).
///
/// Connections: a few idle keep-alive connections are kept per origin (scheme, host, port, TLS
/// verification). A request takes one, or opens a new one; it goes back once the response body is
/// fully read and the server did not ask to close. When a *reused* connection turns out to be
/// closed by the server, the request is retried once on a fresh connection, but only when it
/// cannot have been processed: hyper had not started writing it, or (for idempotent methods, as
/// RFC 9110 §9.2.2 allows) the server closed without sending a single response byte.
pub struct Session {
    shared: Arc<ClientShared>,
    base: Mutex<Base>,
    headers: Mutex<DefaultHeaderState>,
    jar: Mutex<cookie_store::CookieStore>,
    /// Keep-alive connections: the session's own, or a pool shared with other sessions.
    pool: ConnectionPool,
    /// Settings that differ from the client's (FastHttpUser's), if any.
    options: Option<Box<SessionOptions>>,
    last_url: Mutex<Option<UrlCache>>,
    /// The template of plain requests and the default headers generation it was built for.
    template: Mutex<Option<(u64, Arc<HeaderTemplate>)>>,
    /// HTTP/2 connections, made on the first request that may use HTTP/2 (a pointer until then:
    /// most sessions never do).
    h2: std::sync::OnceLock<Box<H2Slots>>,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("base_url", &self.base_url())
            .finish_non_exhaustive()
    }
}

/// Splits `user:pass@` out of a URL string; returns the URL without it and the decoded credentials.
fn strip_credentials(raw: String) -> (String, Option<(String, String)>) {
    if !raw.contains('@') {
        return (raw, None);
    }
    let Ok(mut u) = url::Url::parse(&raw) else {
        return (raw, None);
    };
    if u.username().is_empty() && u.password().is_none() {
        return (raw, None);
    }
    let dec = |s: &str| {
        url::form_urlencoded::parse(format!("x={}", s.replace('+', "%2B")).as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default()
    };
    let creds = (dec(u.username()), dec(u.password().unwrap_or("")));
    let _ = u.set_username("");
    let _ = u.set_password(None);
    // keep the caller's spelling (no trailing slash added by the parser)
    let mut s = u.to_string();
    if !raw.ends_with('/') && u.path() == "/" && u.query().is_none() && s.ends_with('/') {
        s.pop();
    }
    (s, Some(creds))
}

fn basic_auth_value(user: &str, pass: &str) -> Option<HeaderValue> {
    let enc = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"));
    HeaderValue::from_str(&format!("Basic {enc}")).ok()
}

fn default_headers(user_agent: &str) -> HeaderMap {
    let mut h = HeaderMap::new();
    if let Ok(v) = HeaderValue::from_str(user_agent) {
        h.insert(header::USER_AGENT, v);
    }
    h.insert(
        header::ACCEPT_ENCODING,
        HeaderValue::from_static("gzip, deflate"),
    );
    h.insert(header::ACCEPT, HeaderValue::from_static("*/*"));
    h.insert(header::CONNECTION, HeaderValue::from_static("keep-alive"));
    h
}

/// Path + query, as requests' `PreparedRequest.path_url` (the url crate always has a path for
/// http(s) URLs): the request target, and the first URL's is the default stats name
/// ([`Exchange::stats_name`]).
fn path_url(u: &url::Url) -> &str {
    let pq = &u[url::Position::BeforePath..url::Position::AfterQuery];
    if pq.is_empty() {
        "/"
    } else {
        pq
    }
}

/// The URL without its fragment: the request target of a plain http request through a proxy.
fn absolute_target(u: &url::Url) -> &str {
    &u[..url::Position::AfterQuery]
}

/// Whether FastHttpUser's `max_retries` sends `method` again after `error`: as
/// geventhttpclient, only idempotent methods (RFC 9110 §9.2.2), and only after a timeout, a
/// broken pipe or a connection closed without an answer (a refused or reset connection is
/// reported at once).
fn may_retry(error: &HttpError, method: &Method) -> bool {
    let transient = match error {
        HttpError::ConnectTimeout { .. }
        | HttpError::ReadTimeout { .. }
        | HttpError::RemoteDisconnected => true,
        HttpError::Io { errno, .. } => *errno == libc::EPIPE || *errno == libc::ETIMEDOUT,
        _ => false,
    };
    transient && idempotent(method)
}

fn is_https(u: &url::Url) -> bool {
    u.scheme() == "https"
}

/// Why a single hop failed, and whether it may be retried on a fresh connection.
struct HopError {
    error: HttpError,
    retry: bool,
}

impl From<HttpError> for HopError {
    fn from(error: HttpError) -> Self {
        HopError {
            error,
            retry: false,
        }
    }
}

/// Request parts for one hop, rebuilt for a retry.
struct HopRequest<'a> {
    method: &'a Method,
    url: &'a url::Url,
    /// Builds the headers (called again only for a retry).
    make_headers: &'a (dyn Fn() -> HopHeaders + Sync),
    body: Option<&'a Bytes>,
    /// The request line names the whole URL (a plain http request through a proxy).
    absolute_target: bool,
    /// `stream=True`: leave the final response's body unread (see [`BodyStream`]).
    defer_body: bool,
    /// Redirects are followed (a redirect's body is then read, never deferred).
    follow: bool,
}

impl HopRequest<'_> {
    /// Whether the body of a response with this head stays unread for a [`BodyStream`]: the
    /// caller asked for a stream and this response is the final one.
    fn defers(&self, status: u16, headers: &ResponseHeaders) -> bool {
        self.defer_body && !(self.follow && redirect_location(status, headers).is_some())
    }
}

/// Where a redirect response sends the client: its Location, for the statuses requests
/// follows.
fn redirect_location(status: u16, headers: &ResponseHeaders) -> Option<&str> {
    if !matches!(status, 301 | 302 | 303 | 307 | 308) {
        return None;
    }
    headers.get(header::LOCATION).and_then(|v| v.to_str().ok())
}

/// How an exchange left its body: read, or deferred to a [`BodyStream`].
enum Ending {
    /// Read with the response; whether the connection may be kept.
    Read { keep: bool },
    /// Left on the connection (`stream=True`); whether the connection may be kept once it has
    /// been read.
    Lean { cursor: BodyCursor, keep: bool },
    /// Left in hyper's body.
    Hyper { incoming: Incoming, keep: bool },
    /// Left in an HTTP/2 stream.
    H2 { recv: h2::RecvStream },
}

impl HopRequest<'_> {
    fn build(&self, session: &Session) -> Result<http::Request<Full<Bytes>>, HttpError> {
        let body = self.body.cloned().unwrap_or_default();
        let mut req = http::Request::new(Full::new(body));
        *req.method_mut() = self.method.clone();
        *req.uri_mut() = if self.absolute_target {
            absolute_target(self.url)
                .parse()
                .map_err(|e: http::uri::InvalidUri| HttpError::InvalidUrl {
                    url: self.url.to_string(),
                    reason: e.to_string(),
                })?
        } else {
            session.target_of(self.url)?
        };
        *req.headers_mut() = (self.make_headers)().into_map();
        Ok(req)
    }
}

/// requests' `should_strip_auth`: drop Authorization when a redirect leaves the host, or changes
/// port or scheme (except http→https on the standard ports).
fn should_strip_auth(old: &url::Url, new: &url::Url) -> bool {
    if old.host_str() != new.host_str() {
        return true;
    }
    if old.scheme() == "http"
        && new.scheme() == "https"
        && old.port().is_none()
        && new.port().is_none()
    {
        return false;
    }
    old.port_or_known_default() != new.port_or_known_default() || old.scheme() != new.scheme()
}

/// Methods RFC 9110 §9.2.2 lets a client retry automatically.
fn idempotent(m: &Method) -> bool {
    matches!(
        *m,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE | Method::PUT | Method::DELETE
    )
}

impl Session {
    pub(crate) fn new(
        shared: Arc<ClientShared>,
        base_url: Option<&str>,
        options: Option<SessionOptions>,
        pool: Option<ConnectionPool>,
    ) -> Result<Session, HttpError> {
        let headers = default_headers(&shared.cfg.user_agent);
        let options = options.filter(|o| *o != SessionOptions::default());
        let pool = pool.unwrap_or_else(|| {
            ConnectionPool::new_private(options.as_ref().and_then(|o| o.max_concurrent))
        });
        let s = Session {
            shared,
            base: Mutex::new(Base::default()),
            headers: Mutex::new(DefaultHeaderState {
                map: headers,
                spellings: Spellings::default(),
                generation: 0,
            }),
            jar: Mutex::new(cookie_store::CookieStore::default()),
            pool,
            options: options.map(Box::new),
            last_url: Mutex::new(None),
            template: Mutex::new(None),
            h2: std::sync::OnceLock::new(),
        };
        s.set_base_url(base_url);
        Ok(s)
    }

    /// The session's default headers (`client.headers`), initially User-Agent, Accept-Encoding,
    /// Accept and Connection like requests. Edit them through the guard; do not hold it across an
    /// `.await`.
    pub fn default_headers(&self) -> DefaultHeaders<'_> {
        DefaultHeaders(lock(&self.headers))
    }

    /// Sets the base URL (the user's host). Credentials in it (`http://user:pass@host`) are removed
    /// and used as basic auth for every request of the session, as Locust does.
    pub fn set_base_url(&self, base_url: Option<&str>) {
        let mut b = lock(&self.base);
        let generation = b.generation + 1;
        match base_url {
            None => {
                *b = Base {
                    generation,
                    ..Base::default()
                }
            }
            Some(raw) => {
                let (url, auth) = strip_credentials(raw.to_string());
                *b = Base {
                    url: Some(url),
                    auth,
                    generation,
                };
            }
        }
    }

    /// What a WebSocket handshake of this session needs: the shared TLS settings, the connect
    /// limit, whether certificates are verified, and the proxy (see `websocket.rs`).
    pub(crate) fn websocket_context(&self) -> crate::websocket::WsContext<'_> {
        let opts = self.options.as_deref();
        crate::websocket::WsContext {
            shared: &self.shared,
            connect_timeout: opts
                .and_then(|o| o.connect_timeout)
                .unwrap_or(self.shared.cfg.connect_timeout),
            verify_tls: opts
                .and_then(|o| o.verify_tls)
                .unwrap_or(self.shared.cfg.verify_tls),
            proxy: opts.and_then(|o| o.proxy.as_ref()),
            user_agent: self
                .default_headers()
                .get(http::header::USER_AGENT)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned),
        }
    }

    /// The base URL (without credentials).
    pub fn base_url(&self) -> Option<String> {
        lock(&self.base).url.clone()
    }

    /// Sets the session's basic auth (`client.auth = (user, pass)`); `None` removes it.
    pub fn set_basic_auth(&self, auth: Option<(String, String)>) {
        lock(&self.base).auth = auth;
    }

    /// All unexpired cookies in the jar as (name, value).
    pub fn cookies(&self) -> Vec<(String, String)> {
        lock(&self.jar)
            .iter_unexpired()
            .map(|c| (c.name().to_string(), c.value().to_string()))
            .collect()
    }

    /// Stores a cookie as if `url` had set it (host-only, path `/`). `url` may be relative to the
    /// base URL; `None` means the base URL.
    pub fn set_cookie(&self, name: &str, value: &str, url: Option<&str>) -> Result<(), HttpError> {
        let target = self.resolve(url.unwrap_or(""))?.0;
        let c = cookie::Cookie::build((name.to_string(), value.to_string()))
            .path("/")
            .build();
        lock(&self.jar)
            .insert_raw(&c, &target)
            .map_err(|e| HttpError::InvalidUrl {
                url: target.to_string(),
                reason: format!("cookie {name:?} rejected: {e}"),
            })?;
        Ok(())
    }

    /// Removes all cookies.
    pub fn clear_cookies(&self) {
        lock(&self.jar).clear();
    }

    /// Closes all idle connections of this session.
    pub fn close_connections(&self) {
        self.pool.close_idle();
        if let Some(h2) = self.h2.get() {
            h2.close();
        }
    }

    /// Number of open HTTP/2 connections (one per origin at most).
    pub fn http2_connections(&self) -> usize {
        self.h2.get().map_or(0, |h2| h2.open_connections())
    }

    /// Whether requests to `https` / plain URLs may use HTTP/2: the session's or client's
    /// [`Http2Mode`] allows it for that scheme, and a proxy, if any, tunnels (`https` goes
    /// through `CONNECT`, and ALPN is negotiated with the target inside the tunnel; plain `http`
    /// is sent to the proxy itself, in HTTP/1.1's absolute form).
    fn uses_h2(&self, https: bool) -> bool {
        let opts = self.options.as_deref();
        if !https && opts.is_some_and(|o| o.proxy.is_some()) {
            return false;
        }
        match opts.and_then(|o| o.http2).unwrap_or(self.shared.cfg.http2) {
            Http2Mode::Off => false,
            Http2Mode::Negotiate => https,
            Http2Mode::PriorKnowledge => true,
        }
    }

    /// Number of idle keep-alive connections held (all origins).
    pub fn idle_connections(&self) -> usize {
        self.pool.idle_connections()
    }

    /// Resolves `url` like Locust's `_build_url` (absolute http(s) URL as is, otherwise
    /// `base_url + url`), strips credentials from it, and checks it.
    fn resolve(&self, raw: &str) -> Result<(url::Url, Option<(String, String)>), HttpError> {
        let lower_starts = |p: &str| raw.len() >= p.len() && raw[..p.len()].eq_ignore_ascii_case(p);
        let absolute = lower_starts("http://") || lower_starts("https://");
        let base = lock(&self.base);
        // tasks usually request the same few URLs: skip building and parsing the last one again
        if let Some(c) = lock(&self.last_url).as_ref() {
            if c.raw == raw && (absolute || c.base_generation == base.generation) {
                return Ok((c.url.clone(), None));
            }
        }
        let full = if absolute {
            raw.to_string()
        } else {
            let b = base.url.as_deref().unwrap_or("");
            let mut full = String::with_capacity(b.len() + raw.len());
            full.push_str(b);
            full.push_str(raw);
            full
        };
        let base_generation = base.generation;
        drop(base);
        let (no_creds, creds) = strip_credentials(full);
        let cacheable = creds.is_none();
        let parsed = self.parse_checked(no_creds, creds);
        if cacheable {
            if let Ok((u, _)) = &parsed {
                if let Ok(target) = http::Uri::try_from(path_url(u)) {
                    *lock(&self.last_url) = Some(UrlCache {
                        raw: raw.to_string(),
                        base_generation,
                        url: u.clone(),
                        target,
                    });
                }
            }
        }
        parsed
    }

    /// The request target (path + query) of `url`, from the cache when it is the last URL
    /// resolved.
    fn target_of(&self, url: &url::Url) -> Result<http::Uri, HttpError> {
        if let Some(c) = lock(&self.last_url).as_ref() {
            if c.url.as_str() == url.as_str() {
                return Ok(c.target.clone());
            }
        }
        http::Uri::try_from(path_url(url)).map_err(|e| HttpError::InvalidUrl {
            url: url.to_string(),
            reason: e.to_string(),
        })
    }

    /// Parses an http(s) URL, with requests' error kinds.
    fn parse_checked(
        &self,
        no_creds: String,
        creds: Option<(String, String)>,
    ) -> Result<(url::Url, Option<(String, String)>), HttpError> {
        match url::Url::parse(&no_creds) {
            Ok(u) => match u.scheme() {
                "http" | "https" => {
                    if u.host_str().is_none_or(str::is_empty) {
                        Err(HttpError::InvalidUrl {
                            url: no_creds.clone(),
                            reason: "No host supplied".into(),
                        })
                    } else {
                        Ok((u, creds))
                    }
                }
                _ => Err(HttpError::InvalidSchema {
                    url: no_creds.clone(),
                }),
            },
            Err(url::ParseError::RelativeUrlWithoutBase) => Err(HttpError::MissingSchema {
                url: no_creds.clone(),
            }),
            Err(e) => Err(HttpError::InvalidUrl {
                url: no_creds.clone(),
                reason: e.to_string(),
            }),
        }
    }

    /// Performs one exchange (with redirects) and reports timing, naming and outcome.
    /// Never panics on bad input or network trouble: every failure is in `result`.
    pub async fn send(&self, spec: RequestSpec) -> Exchange {
        self.send_ref(&spec).await
    }

    /// [`Session::send`] for a request the caller keeps: the exchange's future holds a reference
    /// instead of a copy, which makes it smaller to move (a future is copied each time it is
    /// boxed, spawned or awaited from a new frame).
    pub async fn send_ref(&self, spec: &RequestSpec) -> Exchange {
        self.exchange(spec, None).await
    }

    /// `stream=True`: sends `spec` and returns once the final response's head is in (its
    /// `elapsed` ends there), with the body left to read from the [`BodyStream`] as it arrives
    /// (`None` when there is no body left to stream: an error, or a response read whole).
    pub async fn send_streaming(&self, spec: &RequestSpec) -> (Exchange, Option<BodyStream>) {
        let mut stream = None;
        let ex = self.exchange(spec, Some(&mut stream)).await;
        (ex, stream)
    }

    async fn exchange(
        &self,
        spec: &RequestSpec,
        stream_out: Option<&mut Option<BodyStream>>,
    ) -> Exchange {
        let started = SystemTime::now();
        let t0 = Instant::now();
        let (mut url, url_creds) = match self.resolve(&spec.url) {
            Ok(v) => v,
            Err(e) => {
                return Exchange {
                    started,
                    elapsed: t0.elapsed(),
                    request_url: invalid_url(),
                    stats_path: spec.url.clone(),
                    result: Err(e),
                    history: Vec::new(),
                    time_to_head: None,
                };
            }
        };
        if !spec.query.is_empty() {
            append_query(&mut url, &spec.query);
        }
        let span = tracing_hook::tracer().map(|t| {
            let user_agent = || {
                spec.headers
                    .get(header::USER_AGENT)
                    .cloned()
                    .or_else(|| lock(&self.headers).map.get(header::USER_AGENT).cloned())
            };
            t.start(&tracing_hook::RequestStart {
                method: &spec.method,
                url: &url,
                explicit_name: spec.span_name.as_deref(),
                user_agent: &user_agent,
                started,
            })
        });
        let traceparent = span
            .as_ref()
            .and_then(|s| HeaderValue::from_str(s.traceparent()).ok());
        let stats_path = path_url(&url).to_string();
        let mut history = Vec::new();
        // the URL as requested, kept aside by the first redirect (no copy without one)
        let mut first_url = None;
        let result = self
            .run_redirects(
                spec,
                traceparent.as_ref(),
                &mut url,
                &mut first_url,
                url_creds,
                &mut history,
                stream_out,
            )
            .await;
        let request_url = first_url.unwrap_or(url);
        let time_to_head = result
            .as_ref()
            .ok()
            .map(|r| r.head_at.saturating_duration_since(t0));
        let elapsed = response_time(started, t0, &result);
        if let Some(span) = span {
            span.end(tracing_hook::RequestOutcome {
                ended: started + elapsed,
                status: result.as_ref().ok().map(|r| r.status),
                error: result.as_ref().err(),
            });
        }
        Exchange {
            time_to_head,
            started,
            elapsed,
            request_url,
            stats_path,
            result,
            history,
        }
    }

    /// Sends `spec` to `url`, following redirects: `url` ends as the last URL requested, and
    /// `first_url` gets the first one when a redirect replaced it.
    #[allow(clippy::too_many_arguments)]
    async fn run_redirects(
        &self,
        spec: &RequestSpec,
        traceparent: Option<&HeaderValue>,
        url: &mut url::Url,
        first_url: &mut Option<url::Url>,
        url_creds: Option<(String, String)>,
        history: &mut Vec<Response>,
        mut stream_out: Option<&mut Option<BodyStream>>,
    ) -> Result<Response, HttpError> {
        let cfg = &self.shared.cfg;
        let opts = self.options.as_deref();
        let timeout = spec
            .timeout
            .or(opts.and_then(|o| o.timeout))
            .or(cfg.timeout);
        let verify = spec
            .verify_tls
            .or(opts.and_then(|o| o.verify_tls))
            .unwrap_or(cfg.verify_tls);
        let max_redirects = opts
            .and_then(|o| o.max_redirects)
            .unwrap_or(cfg.max_redirects);
        // geventhttpclient (FastHttpUser) returns the redirect itself when none may be followed
        let follow = spec.allow_redirects && opts.is_none_or(|o| o.max_redirects != Some(0));
        // requests: explicit auth > session auth > credentials in the URL
        let auth = spec
            .basic_auth
            .clone()
            .or_else(|| lock(&self.base).auth.clone())
            .or(url_creds);
        let mut auth_header = auth.and_then(|(u, p)| basic_auth_value(&u, &p));
        let mut method = spec.method.clone();
        let mut body = spec.body.encode();
        loop {
            let (cur_url, cur_body, cur_method, cur_auth) =
                (&*url, body.as_ref(), &method, auth_header.as_ref());
            let make_headers = || {
                let h = self.hop_headers(spec, cur_url, cur_body, cur_method, cur_auth);
                with_traceparent(h, traceparent)
            };
            let resp = self
                .hop(
                    &method,
                    url,
                    &make_headers,
                    body.as_ref().map(|b| &b.0),
                    timeout,
                    verify,
                    follow,
                    stream_out.as_deref_mut(),
                )
                .await?;
            let location = if follow {
                redirect_location(resp.status, &resp.headers).map(str::to_string)
            } else {
                None
            };
            let Some(location) = location else {
                return Ok(resp);
            };
            if history.len() >= max_redirects {
                history.push(resp);
                return Err(HttpError::TooManyRedirects { max: max_redirects });
            }
            let next = url.join(&location).map_err(|e| HttpError::InvalidUrl {
                url: location.clone(),
                reason: e.to_string(),
            })?;
            // requests' rebuild_method
            let status = resp.status;
            if ((status == 303 || status == 302) && method != Method::HEAD)
                || (status == 301 && method == Method::POST)
            {
                method = Method::GET;
            }
            // requests drops the body for everything but 307/308
            if status != 307 && status != 308 {
                body = None;
            }
            if should_strip_auth(url, &next) {
                auth_header = None;
            }
            history.push(resp);
            let previous = std::mem::replace(url, next);
            first_url.get_or_insert(previous);
        }
    }

    /// Headers for one hop: Host, session defaults overridden by the request's, auth, cookies,
    /// content type and length.
    fn hop_headers(
        &self,
        spec: &RequestSpec,
        url: &url::Url,
        body: Option<&(Bytes, Option<&'static str>)>,
        method: &Method,
        auth: Option<&HeaderValue>,
    ) -> HopHeaders {
        // host[:port] as in the URL (the url crate drops a default port)
        let host = &url[url::Position::BeforeHost..url::Position::AfterPort];
        let plain = spec.headers.is_empty()
            && spec.cookies.is_empty()
            && auth.is_none()
            && body.is_none()
            && (*method == Method::GET || *method == Method::HEAD);
        if plain && lock(&self.jar).iter_any().next().is_none() {
            return HopHeaders::Plain(self.plain_template(host));
        }
        let mut h = HeaderMap::with_capacity(8 + spec.headers.len());
        let spellings = {
            let defaults = lock(&self.headers);
            // a Host header of the request's or the session's own replaces the URL's, as in
            // requests (a virtual host on an address)
            if !spec.headers.contains_key(header::HOST) && !defaults.map.contains_key(header::HOST)
            {
                if let Ok(v) = HeaderValue::from_str(host) {
                    h.insert(header::HOST, v);
                }
            }
            for (name, value) in defaults.map.iter() {
                if !spec.headers.contains_key(name) {
                    h.append(name.clone(), value.clone());
                }
            }
            spec.spellings.merged(&defaults.spellings)
        };
        for (name, value) in spec.headers.iter() {
            h.append(name.clone(), value.clone());
        }
        if let Some(a) = auth {
            if !spec.headers.contains_key(header::AUTHORIZATION) {
                h.insert(header::AUTHORIZATION, a.clone());
            }
        }
        // cookies: the jar's for this URL, overridden by the request's own
        let mut cookie_line = String::new();
        {
            let jar = lock(&self.jar);
            for (n, v) in jar.get_request_values(url) {
                if spec.cookies.iter().any(|(rn, _)| rn == n) {
                    continue;
                }
                if !cookie_line.is_empty() {
                    cookie_line.push_str("; ");
                }
                cookie_line.push_str(n);
                cookie_line.push('=');
                cookie_line.push_str(v);
            }
        }
        for (n, v) in &spec.cookies {
            if !cookie_line.is_empty() {
                cookie_line.push_str("; ");
            }
            cookie_line.push_str(n);
            cookie_line.push('=');
            cookie_line.push_str(v);
        }
        if !cookie_line.is_empty() && !spec.headers.contains_key(header::COOKIE) {
            if let Ok(v) = HeaderValue::from_str(&cookie_line) {
                h.insert(header::COOKIE, v);
            }
        }
        match body {
            Some((data, default_ct)) => {
                if !h.contains_key(header::CONTENT_TYPE) {
                    let ct = match &spec.body {
                        Body::Bytes {
                            content_type: Some(ct),
                            ..
                        } => HeaderValue::from_str(ct).ok(),
                        _ => default_ct.map(HeaderValue::from_static),
                    };
                    if let Some(ct) = ct {
                        h.insert(header::CONTENT_TYPE, ct);
                    }
                }
                h.insert(header::CONTENT_LENGTH, HeaderValue::from(data.len()));
            }
            None => {
                // requests sends Content-Length: 0 for body-less methods other than GET/HEAD
                if *method != Method::GET && *method != Method::HEAD {
                    h.insert(header::CONTENT_LENGTH, HeaderValue::from_static("0"));
                }
            }
        }
        HopHeaders::Map(h, spellings)
    }

    /// The template of a plain request to `host` (Host and the default headers), rebuilt only
    /// when either changed.
    fn plain_template(&self, host: &str) -> Arc<HeaderTemplate> {
        let defaults = lock(&self.headers);
        let mut template = lock(&self.template);
        if let Some((generation, t)) = template.as_ref() {
            if *generation == defaults.generation && t.host == host {
                return t.clone();
            }
        }
        let build = || {
            let mut h = HeaderMap::with_capacity(1 + defaults.map.len());
            if !defaults.map.contains_key(header::HOST) {
                if let Ok(v) = HeaderValue::from_str(host) {
                    h.insert(header::HOST, v);
                }
            }
            for (name, value) in defaults.map.iter() {
                h.append(name.clone(), value.clone());
            }
            let mut encoded = Vec::new();
            for (name, value) in h.iter() {
                defaults.spellings.write_name(&mut encoded, name);
                encoded.extend_from_slice(b": ");
                encoded.extend_from_slice(value.as_bytes());
                encoded.extend_from_slice(b"\r\n");
            }
            Arc::new(HeaderTemplate {
                host: host.to_string(),
                headers: h,
                encoded: Bytes::from(encoded),
            })
        };
        let t = if defaults.generation == 0 {
            // untouched defaults are the same in every session: share the template
            let mut shared = lock(&self.shared.templates);
            match shared.iter().find(|t| t.host == host) {
                Some(t) => t.clone(),
                None => {
                    let t = build();
                    if shared.len() < MAX_SHARED_TEMPLATES {
                        shared.push(t.clone());
                    }
                    t
                }
            }
        } else {
            build()
        };
        *template = Some((defaults.generation, t.clone()));
        t
    }

    /// One request/response on a pooled or new connection, with a single transparent retry on a
    /// fresh connection when a reused one turns out to be closed.
    #[allow(clippy::too_many_arguments)]
    async fn hop(
        &self,
        method: &Method,
        url: &url::Url,
        make_headers: &(dyn Fn() -> HopHeaders + Sync),
        body: Option<&Bytes>,
        timeout: Option<Duration>,
        verify: bool,
        follow: bool,
        stream_out: Option<&mut Option<BodyStream>>,
    ) -> Result<Response, HttpError> {
        let https = is_https(url);
        let opts = self.options.as_deref();
        let proxy = opts.and_then(|o| o.proxy.as_ref());
        let key = Origin {
            https,
            host: url.host_str().unwrap_or_default(),
            port: url
                .port_or_known_default()
                .unwrap_or(if https { 443 } else { 80 }),
            verified: https && verify,
            proxy,
        };
        let req = HopRequest {
            method,
            url,
            make_headers,
            body,
            // through a proxy, plain http requests name the whole URL
            absolute_target: proxy.is_some() && !https,
            defer_body: stream_out.is_some(),
            follow,
        };
        let _turn = self.pool.turn().await;
        // a reused connection: at most one retry on a fresh one
        let mut attempt_fresh = false;
        // FastHttpUser's max_retries: whole attempts again after a timeout or no answer
        let mut retries_left = opts.map_or(0, |o| o.max_retries);
        let mut closed_retries_left = opts.map_or(0, |o| o.closed_retries);
        let h2 = self.uses_h2(https);
        // the HTTP/2 connection an attempt found dead, not to be used again
        let mut dead_h2 = None;
        loop {
            let picked = self
                .pick_conn(&key, h2, attempt_fresh, dead_h2, timeout)
                .await;
            let (mut conn, reused) = match picked {
                Ok(c) => c,
                Err(e) if retries_left > 0 && may_retry(&e, method) => {
                    retries_left -= 1;
                    attempt_fresh = false;
                    continue;
                }
                Err(e) => return Err(e),
            };
            // hyper's exchanges (HTTP/1.1 and HTTP/2) are boxed: their futures are larger than
            // the lean driver's, and every request future would otherwise be as large (and
            // copied whole wherever it moves: into a task's box, a Python job)
            let exchange = async {
                match &mut conn {
                    PooledConn::Hyper(c) => Box::pin(self.exchange_on(c, &req, url, reused)).await,
                    PooledConn::Lean(c) => self.exchange_lean(c, &req, url, reused).await,
                    PooledConn::H2(c) => Box::pin(self.exchange_h2(c, &req, url, reused)).await,
                }
            };
            let outcome = match timeout {
                Some(t) => match tokio::time::timeout(t, exchange).await {
                    Ok(r) => r,
                    Err(_) => Err(HopError::from(HttpError::ReadTimeout {
                        host: key.host.to_string(),
                        port: key.port,
                        https,
                        timeout: t,
                    })),
                },
                None => exchange.await,
            };
            if let PooledConn::H2(c) = &conn {
                if c.dead {
                    dead_h2 = Some(c.generation);
                }
            }
            match outcome {
                Ok((resp, Ending::Read { keep })) => {
                    let reusable = match &mut conn {
                        PooledConn::Hyper(c) => keep && c.reusable(),
                        PooledConn::Lean(c) => keep && c.release_buffer(),
                        // the session's HTTP/2 connection stays where it is
                        PooledConn::H2(_) => false,
                    };
                    if reusable {
                        self.pool
                            .put(&key, conn, self.shared.cfg.max_idle_per_origin);
                    }
                    return Ok(resp);
                }
                Ok((resp, deferred)) => {
                    let (source, keep_alive) = match (conn, deferred) {
                        (PooledConn::Lean(conn), Ending::Lean { cursor, keep }) => {
                            (Source::Lean { conn, cursor }, keep)
                        }
                        (PooledConn::Hyper(conn), Ending::Hyper { incoming, keep }) => {
                            (Source::Hyper { conn, incoming }, keep)
                        }
                        (PooledConn::H2(_), Ending::H2 { recv }) => (Source::H2 { recv }, false),
                        _ => (Source::Finished, false), // a driver defers its own kind only
                    };
                    let back = Return {
                        pool: self.pool.clone(),
                        https,
                        host: key.host.to_string(),
                        port: key.port,
                        verified: key.verified,
                        proxy: proxy.cloned(),
                        max_idle: self.shared.cfg.max_idle_per_origin,
                        keep_alive,
                    };
                    if let Some(out) = stream_out {
                        *out = Some(BodyStream::new(
                            source,
                            &resp.headers,
                            back,
                            timeout,
                            self.shared.cfg.max_body_bytes,
                            self.shared.cfg.read_buffer_size,
                        ));
                    }
                    return Ok(resp);
                }
                Err(HopError { retry: true, .. }) if reused && !attempt_fresh => {
                    attempt_fresh = true;
                }
                Err(e) if retries_left > 0 && may_retry(&e.error, method) => {
                    retries_left -= 1;
                    attempt_fresh = true;
                }
                Err(HopError {
                    error: HttpError::RemoteDisconnected,
                    ..
                }) if closed_retries_left > 0 && idempotent(method) => {
                    closed_retries_left -= 1;
                    attempt_fresh = true;
                }
                Err(e) => return Err(e.error),
            }
        }
    }

    /// An idle connection that is still usable, or a new one. The bool says "reused". With
    /// `h2`, the session's HTTP/2 connection to `key` (opened if needed, replaced if it is the
    /// one numbered `dead_h2`), unless the server chose HTTP/1.1.
    async fn pick_conn(
        &self,
        key: &Origin<'_>,
        h2: bool,
        fresh: bool,
        dead_h2: Option<u64>,
        timeout: Option<Duration>,
    ) -> Result<(PooledConn, bool), HttpError> {
        // like requests, a request timeout also bounds connecting
        let connect_timeout = self
            .options
            .as_deref()
            .and_then(|o| o.connect_timeout)
            .unwrap_or(self.shared.cfg.connect_timeout);
        let limit = match timeout {
            Some(t) => t.min(connect_timeout),
            None => connect_timeout,
        };
        if h2 {
            let slots = self.h2.get_or_init(Box::default);
            match Box::pin(slots.pick(&self.shared, key, dead_h2, limit)).await? {
                Pick::H2(c, reused) => return Ok((PooledConn::H2(c), reused)),
                Pick::Http1(Some(stream)) => {
                    let conn = match self.shared.cfg.driver {
                        HttpDriver::Hyper => PooledConn::Hyper(
                            Box::pin(Conn::from_stream(&self.shared, stream)).await?,
                        ),
                        HttpDriver::Lean => PooledConn::Lean(LeanConn::from_stream(stream)),
                    };
                    return Ok((conn, false));
                }
                Pick::Http1(None) => {}
            }
        }
        if !fresh {
            while let Some(mut c) = self.pool.take(key) {
                let usable = match &mut c {
                    PooledConn::Hyper(h) => h.ready().await,
                    PooledConn::Lean(l) => l.is_usable(),
                    PooledConn::H2(_) => false,
                };
                if usable {
                    return Ok((c, true));
                }
            }
        }
        // boxed: connecting (DNS, TLS) is rare and its future is large; keeping it out of the
        // request future makes every request cheaper to move around
        let conn = match self.shared.cfg.driver {
            HttpDriver::Hyper => {
                PooledConn::Hyper(Box::pin(Conn::open(&self.shared, key, limit)).await?)
            }
            HttpDriver::Lean => {
                PooledConn::Lean(Box::pin(LeanConn::open(&self.shared, key, limit)).await?)
            }
        };
        Ok((conn, false))
    }

    /// Stores the cookies a response sets (requests does so even for redirects, and before the
    /// body is read).
    fn store_cookies(&self, headers: &ResponseHeaders, url: &url::Url) {
        if headers.may_set_cookies() && headers.contains_key(header::SET_COOKIE) {
            let cookies = headers
                .get_all(header::SET_COOKIE)
                .iter()
                .filter_map(|v| std::str::from_utf8(v.as_bytes()).ok())
                .filter_map(|s| cookie::Cookie::parse(s.to_string()).ok());
            lock(&self.jar).store_response_cookies(cookies, url);
        }
    }

    /// [`Session::exchange_on`] for the lean driver: the whole exchange runs here, in the
    /// caller's task.
    async fn exchange_lean(
        &self,
        conn: &mut LeanConn,
        req: &HopRequest<'_>,
        url: &url::Url,
        reused: bool,
    ) -> Result<(Response, Ending), HopError> {
        let headers = (req.make_headers)().into_lines();
        let read_size = self.shared.cfg.read_buffer_size;
        let target = if req.absolute_target {
            absolute_target(url)
        } else {
            path_url(url)
        };
        let head = conn
            .send_and_read_head(req.method, target, &headers, req.body, read_size)
            .await
            .map_err(|e| HopError {
                retry: reused && (e.not_sent || (e.no_response && idempotent(req.method))),
                error: e.error,
            })?;
        let head_at = Instant::now();
        self.store_cookies(&head.headers, url);
        let (body, ending) = if req.defers(head.status, &head.headers) {
            let ending = Ending::Lean {
                cursor: head.body_cursor(),
                keep: head.keeps_alive(),
            };
            (Bytes::new(), ending)
        } else {
            let limit = self.shared.cfg.max_body_bytes;
            let (raw, keep) = conn.read_body(&head, read_size, limit).await?;
            (
                decode_body(&head.headers, raw, limit)?,
                Ending::Read { keep },
            )
        };
        Ok((
            Response {
                status: head.status,
                reason: head.reason,
                headers: head.headers,
                body,
                url: url.clone(),
                version: head.version,
                received_at: conn.received_at(),
                head_at,
            },
            ending,
        ))
    }

    /// Sends the request on `conn` and reads the full response. Returns the response and whether
    /// the connection may be kept.
    async fn exchange_on(
        &self,
        conn: &mut Conn,
        req: &HopRequest<'_>,
        url: &url::Url,
        reused: bool,
    ) -> Result<(Response, Ending), HopError> {
        if !conn.ready().await {
            return Err(HopError {
                error: HttpError::RemoteDisconnected,
                retry: true,
            });
        }
        let request = req.build(self)?;
        let fut = conn.sender.try_send_request(request);
        let res = conn.drive(std::pin::pin!(fut)).await;
        let resp = match res {
            Ok(r) => r,
            Err(mut e) => {
                let not_sent = e.take_message().is_some();
                let err = e.into_error();
                let early_close = err.is_incomplete_message() || is_reset(&err);
                let retry = reused && (not_sent || (early_close && idempotent(req.method)));
                return Err(HopError {
                    error: map_hyper_error(&err, conn, false),
                    retry,
                });
            }
        };
        self.hyper_response(req, url, resp, |cx| conn.poll_driver(cx))
            .await
    }

    /// [`Session::exchange_on`] for HTTP/2: the request goes out as a new stream of the session's
    /// connection, whose own task reads the frames.
    async fn exchange_h2(
        &self,
        conn: &mut H2Conn,
        req: &HopRequest<'_>,
        url: &url::Url,
        reused: bool,
    ) -> Result<(Response, Ending), HopError> {
        let mut request = req.build(self)?.map(|_| ());
        // HTTP/2 names scheme and host in pseudo-headers taken from an absolute URI, and forbids
        // HTTP/1.1's connection-specific headers (RFC 9113 §8.2.2, §8.3.1). A Host header the
        // user set (a virtual host on an address) becomes the :authority.
        let host = request.headers_mut().remove(header::HOST);
        let own_host = host
            .as_ref()
            .and_then(|h| h.to_str().ok())
            .filter(|h| *h != &url[url::Position::BeforeHost..url::Position::AfterPort]);
        let uri = match own_host {
            Some(h) => format!(
                "{}://{h}{}",
                url.scheme(),
                &url[url::Position::BeforePath..url::Position::AfterQuery]
            )
            .parse(),
            None => absolute_target(url).parse(),
        };
        *request.uri_mut() = uri.map_err(|e: http::uri::InvalidUri| HttpError::InvalidUrl {
            url: url.to_string(),
            reason: e.to_string(),
        })?;
        *request.version_mut() = http::Version::HTTP_2;
        let headers = request.headers_mut();
        for name in [
            header::CONNECTION,
            header::TRANSFER_ENCODING,
            header::UPGRADE,
        ] {
            headers.remove(name);
        }
        headers.remove("keep-alive");
        headers.remove("proxy-connection");
        let body = req.body.cloned();
        let length = body.as_ref().map_or(0, Bytes::len);
        // as HTTP/1.1 clients do: a body's length, and 0 for methods that define one
        if (length > 0
            || !matches!(
                *req.method,
                Method::GET
                    | Method::HEAD
                    | Method::DELETE
                    | Method::OPTIONS
                    | Method::CONNECT
                    | Method::TRACE
            ))
            && !headers.contains_key(header::CONTENT_LENGTH)
        {
            headers.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
        }
        let resp = match crate::http2::send(conn, request, body).await {
            Ok(r) => r,
            Err(failure) => {
                conn.dead |= failure.conn_dead;
                let retry = reused
                    && (failure.unprocessed || (failure.conn_dead && idempotent(req.method)));
                return Err(HopError {
                    error: failure.error,
                    retry,
                });
            }
        };
        let (parts, mut recv) = resp.into_parts();
        let head_at = Instant::now();
        let headers = ResponseHeaders::from_map(parts.headers);
        self.store_cookies(&headers, url);
        let (body, ending) = if req.defers(parts.status.as_u16(), &headers) {
            (Bytes::new(), Ending::H2 { recv })
        } else {
            let limit = self.shared.cfg.max_body_bytes;
            let raw = crate::http2::read_body(&mut recv, content_length(&headers), limit).await?;
            (
                decode_body(&headers, raw, limit)?,
                Ending::Read { keep: true },
            )
        };
        Ok((
            Response {
                status: parts.status.as_u16(),
                reason: parts.status.canonical_reason().unwrap_or("").to_string(),
                headers,
                body,
                url: url.clone(),
                version: http::Version::HTTP_2,
                received_at: None,
                head_at,
            },
            ending,
        ))
    }

    /// Turns hyper's response (either HTTP version) into ours: cookies stored, body read whole
    /// (or deferred for `stream=True`) and decompressed, calling `drive` whenever the body is
    /// polled (the inline HTTP/1.1 connection must run meanwhile).
    async fn hyper_response(
        &self,
        req: &HopRequest<'_>,
        url: &url::Url,
        resp: http::Response<Incoming>,
        drive: impl FnMut(&mut std::task::Context<'_>),
    ) -> Result<(Response, Ending), HopError> {
        let (parts, incoming) = resp.into_parts();
        let head_at = Instant::now();
        let headers = ResponseHeaders::from_map(parts.headers);
        // store cookies as soon as the headers are in (requests does so even for redirects)
        self.store_cookies(&headers, url);
        let expected_len = content_length(&headers);
        let keep = !headers
            .get(header::CONNECTION)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.eq_ignore_ascii_case("close"));
        let (body, ending) = if req.defers(parts.status.as_u16(), &headers) {
            (Bytes::new(), Ending::Hyper { incoming, keep })
        } else {
            let limit = self.shared.cfg.max_body_bytes;
            let raw = read_body(drive, incoming, expected_len, limit).await?;
            (decode_body(&headers, raw, limit)?, Ending::Read { keep })
        };
        let reason = parts
            .extensions
            .get::<hyper::ext::ReasonPhrase>()
            .map(|r| String::from_utf8_lossy(r.as_bytes()).into_owned())
            .unwrap_or_else(|| parts.status.canonical_reason().unwrap_or("").to_string());
        Ok((
            Response {
                status: parts.status.as_u16(),
                reason,
                headers,
                body,
                url: url.clone(),
                version: parts.version,
                received_at: None,
                head_at,
            },
            ending,
        ))
    }
}

/// The response time of an exchange that started at `started` (wall clock) / `t0` (monotonic):
/// until the kernel received the response's last bytes when the driver knows that time, else
/// until now. The kernel's time is trusted only if it falls inside the exchange as the
/// monotonic clock saw it (a wall-clock step would otherwise distort it).
fn response_time(
    started: SystemTime,
    t0: Instant,
    result: &Result<Response, HttpError>,
) -> Duration {
    let until_now = t0.elapsed();
    let kernel = result
        .as_ref()
        .ok()
        .and_then(|r| r.received_at)
        .and_then(|at| at.duration_since(started).ok());
    match kernel {
        Some(d) if d <= until_now => d,
        _ => until_now,
    }
}

fn invalid_url() -> url::Url {
    // "about:invalid" always parses; fall back to a fixed http URL otherwise
    url::Url::parse("about:invalid")
        .or_else(|_| url::Url::parse("http://invalid/"))
        .unwrap_or_else(|_| unreachable!("static URLs parse"))
}

fn is_reset(err: &hyper::Error) -> bool {
    find_io(err).is_some_and(|io| {
        matches!(
            io.kind(),
            std::io::ErrorKind::ConnectionReset
                | std::io::ErrorKind::BrokenPipe
                | std::io::ErrorKind::ConnectionAborted
        )
    })
}

/// The io::Error at the root of a hyper error, if any.
fn find_io(err: &hyper::Error) -> Option<&std::io::Error> {
    let mut src: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(err);
    while let Some(s) = src {
        if let Some(io) = s.downcast_ref::<std::io::Error>() {
            return Some(io);
        }
        src = s.source();
    }
    None
}

/// Maps a hyper error before/while receiving the response head to Locust-like text.
fn map_hyper_error(err: &hyper::Error, conn: &Conn, in_body: bool) -> HttpError {
    if let Some(io) = find_io(err) {
        if io.kind() == std::io::ErrorKind::UnexpectedEof {
            return HttpError::RemoteDisconnected;
        }
        return HttpError::from_io(io, in_body);
    }
    if err.is_incomplete_message() || err.is_canceled() || err.is_closed() {
        return HttpError::RemoteDisconnected;
    }
    if err.is_parse() || err.is_parse_status() {
        let line = conn.first_line();
        if !line.is_empty() && !line.starts_with("HTTP/") {
            return HttpError::BadStatusLine { line };
        }
        if err.is_parse_status() && !line.is_empty() {
            return HttpError::BadStatusLine { line };
        }
    }
    HttpError::Protocol {
        message: err.to_string(),
    }
}

/// Reads the whole body, driving the connection; fails (and the connection is dropped) once it
/// would exceed `limit` bytes.
async fn read_body(
    mut drive: impl FnMut(&mut std::task::Context<'_>),
    mut incoming: Incoming,
    expected: Option<u64>,
    limit: u64,
) -> Result<Bytes, HopError> {
    // no early check of `expected`: a HEAD (or 304) response announces a length it never sends
    let mut body = BodyBuffer::new(limit);
    loop {
        let frame = std::future::poll_fn(|cx| {
            drive(cx);
            std::pin::Pin::new(&mut incoming).poll_frame(cx)
        })
        .await;
        match frame {
            None => return Ok(body.finish()),
            Some(Ok(f)) => {
                if let Ok(data) = f.into_data() {
                    body.push(data)?;
                }
            }
            Some(Err(e)) => {
                return Err(HopError {
                    error: body_error(&e, body.read(), expected),
                    retry: false,
                });
            }
        }
    }
}

/// The Content-Length a response announces, if it is a number.
fn content_length(headers: &ResponseHeaders) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|s| s.trim().parse::<u64>().ok())
}

/// Maps hyper's error while the body of a response arrived (`read` bytes of the `expected`
/// total so far) to Locust-like text. hyper reports broken chunked framing as an `io::Error`
/// without an OS errno; this names it the way the lean driver does, so both drivers record the
/// same failure for the same body.
pub(crate) fn body_error(e: &hyper::Error, read: u64, expected: Option<u64>) -> HttpError {
    let eof = find_io(e).is_some_and(|io| io.kind() == std::io::ErrorKind::UnexpectedEof);
    if let Some(message) = find_io(e).and_then(chunk_framing_error) {
        HttpError::Protocol { message }
    } else if let Some(io) = find_io(e).filter(|_| !eof) {
        HttpError::from_io(io, true)
    } else if eof || e.is_incomplete_message() || e.is_closed() {
        HttpError::BodyIncomplete {
            read,
            expected: expected.map(|n| n.saturating_sub(read)),
        }
    } else {
        HttpError::Protocol {
            message: e.to_string(),
        }
    }
}

fn chunk_framing_error(io: &std::io::Error) -> Option<String> {
    if io.raw_os_error().is_some()
        || !matches!(
            io.kind(),
            std::io::ErrorKind::InvalidData | std::io::ErrorKind::InvalidInput
        )
    {
        return None;
    }
    let text = io.to_string().to_ascii_lowercase();
    let message = if text.contains("trailer") || text.contains("header") {
        "invalid chunked trailers"
    } else if text.contains("size") || text.contains("extension") {
        "invalid chunk size line"
    } else if text.contains("chunk") {
        "invalid chunk end"
    } else {
        return None;
    };
    Some(message.to_owned())
}

/// Decompresses gzip/deflate bodies (requests does this transparently).
/// The decoded body may not exceed `limit` bytes either (a small gzip body can expand a thousandfold).
fn decode_body(headers: &ResponseHeaders, raw: Bytes, limit: u64) -> Result<Bytes, HopError> {
    use std::io::Read;
    if !headers.may_be_encoded() {
        return Ok(raw);
    }
    let Some(enc) = headers
        .get(header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
    else {
        return Ok(raw);
    };
    let enc_l = enc.trim().to_ascii_lowercase();
    if raw.is_empty() || !matches!(enc_l.as_str(), "gzip" | "x-gzip" | "deflate") {
        return Ok(raw);
    }
    let cap = usize::try_from(limit).unwrap_or(usize::MAX);
    let mut out = Vec::with_capacity(raw.len().saturating_mul(4).min(cap));
    // one byte past the limit tells "too large" from "exactly at the limit"
    let take = limit.saturating_add(1);
    let res = if enc_l == "deflate" {
        // zlib-wrapped as the RFC says, or raw deflate as some servers send
        let r = flate2::read::ZlibDecoder::new(&raw[..])
            .take(take)
            .read_to_end(&mut out);
        if r.is_err() {
            out.clear();
            flate2::read::DeflateDecoder::new(&raw[..])
                .take(take)
                .read_to_end(&mut out)
        } else {
            r
        }
    } else {
        flate2::read::MultiGzDecoder::new(&raw[..])
            .take(take)
            .read_to_end(&mut out)
    };
    match res {
        Ok(_) if out.len() as u64 > limit => Err(HopError::from(HttpError::BodyTooLarge { limit })),
        Ok(_) => Ok(Bytes::from(out)),
        Err(e) => Err(HopError::from(HttpError::ContentDecoding {
            encoding: enc.to_string(),
            message: e.to_string(),
        })),
    }
}

/// Adds `pairs` to `url`'s query as requests does with `params=`: each key and value encoded as
/// Python's `urlencode` does (`quote_plus`: letters, digits and `_.-~` as they are, a space as `+`,
/// every other byte of the UTF-8 as `%XX`), joined with `&`, after the query already in the URL.
fn append_query(url: &mut url::Url, pairs: &[(String, String)]) {
    let mut query = url.query().unwrap_or("").to_string();
    for (k, v) in pairs {
        if !query.is_empty() {
            query.push('&');
        }
        quote_plus(k, &mut query);
        query.push('=');
        quote_plus(v, &mut query);
    }
    url.set_query(Some(&query));
}

/// Python's `urllib.parse.quote_plus(text)`, appended to `out`.
fn quote_plus(text: &str, out: &mut String) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for &b in text.as_bytes() {
        match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'_' | b'.' | b'-' | b'~' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            _ => {
                out.push('%');
                out.push(HEX[usize::from(b >> 4)] as char);
                out.push(HEX[usize::from(b & 0xf)] as char);
            }
        }
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn a_traced_plain_request_keeps_its_template_and_adds_the_traceparent() {
        let mut headers = HeaderMap::new();
        headers.insert(header::HOST, HeaderValue::from_static("h:1"));
        let t = Arc::new(HeaderTemplate {
            host: "h:1".into(),
            headers,
            encoded: Bytes::from_static(b"Host: h:1\r\n"),
        });
        let v = HeaderValue::from_static("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");
        match with_traceparent(HopHeaders::Plain(t.clone()), Some(&v)).into_lines() {
            HeaderLines::Encoded(b) => assert_eq!(
                &b[..],
                &b"Host: h:1\r\ntraceparent: 00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01\r\n"[..]
            ),
            HeaderLines::Map(..) => panic!("a plain request stays pre-encoded"),
        }
        let m = with_traceparent(HopHeaders::Plain(t.clone()), Some(&v)).into_map();
        assert_eq!(m.get("traceparent"), Some(&v));
        assert_eq!(m.get(header::HOST), Some(&HeaderValue::from_static("h:1")));
        assert!(matches!(
            with_traceparent(HopHeaders::Plain(t), None),
            HopHeaders::Plain(_)
        ));
        let map = HopHeaders::Map(HeaderMap::new(), Spellings::default());
        match with_traceparent(map, Some(&v)) {
            HopHeaders::Map(m, _) => assert_eq!(m.get("traceparent"), Some(&v)),
            _ => panic!("a full request keeps its map"),
        }
    }
    use super::*;
    use crate::{ClientConfig, HttpClient};

    #[test]
    fn query_pairs_are_encoded_as_python_urlencode() {
        let mut u = url::Url::parse("http://a/p?x=1").unwrap();
        let pairs = [
            ("q".to_string(), "a b&c/é~*".to_string()),
            ("k=".to_string(), String::new()),
        ];
        append_query(&mut u, &pairs);
        // urllib.parse.urlencode({"q": "a b&c/é~*", "k=": ""}) == "q=a+b%26c%2F%C3%A9~%2A&k%3D="
        assert_eq!(u.as_str(), "http://a/p?x=1&q=a+b%26c%2F%C3%A9~%2A&k%3D=");
        let mut bare = url::Url::parse("http://a/p").unwrap();
        append_query(&mut bare, &pairs[1..]);
        assert_eq!(bare.query(), Some("k%3D="));
    }

    #[test]
    fn auth_is_stripped_like_requests() {
        let u = |s: &str| url::Url::parse(s).unwrap();
        assert!(!should_strip_auth(&u("http://a/x"), &u("http://a/y")));
        assert!(!should_strip_auth(&u("http://a/x"), &u("https://a/y")));
        assert!(should_strip_auth(&u("http://a/x"), &u("http://b/y")));
        assert!(should_strip_auth(
            &u("http://a:8080/"),
            &u("http://a:9090/")
        ));
        assert!(should_strip_auth(&u("https://a/"), &u("http://a/")));
    }

    #[test]
    fn credentials_are_stripped_and_decoded() {
        let (u, c) = strip_credentials("http://us%40er:p%3Ass@example.com:8080".into());
        assert_eq!(u, "http://example.com:8080");
        assert_eq!(c, Some(("us@er".to_string(), "p:ss".to_string())));
        let (u, c) = strip_credentials("http://example.com/api".into());
        assert_eq!(u, "http://example.com/api");
        assert_eq!(c, None);
    }

    #[test]
    fn relative_urls_are_concatenated_like_locust() {
        let client = HttpClient::new(ClientConfig::default()).unwrap();
        let s = client.session(Some("http://h:1/api")).unwrap();
        let (u, _) = s.resolve("/x?y=1").unwrap();
        assert_eq!(u.as_str(), "http://h:1/api/x?y=1");
        // no RFC join: a url without leading slash is glued on
        let (u, _) = s.resolve("x").unwrap();
        assert_eq!(u.as_str(), "http://h:1/apix");
        let (u, _) = s.resolve("HTTPS://other/z").unwrap();
        assert_eq!(u.as_str(), "https://other/z");
        let s2 = client.session(None).unwrap();
        assert!(matches!(
            s2.resolve("/x"),
            Err(HttpError::MissingSchema { .. })
        ));
        assert!(matches!(
            s2.resolve("ftp://x/"),
            Err(HttpError::InvalidSchema { .. })
        ));
        assert_eq!(path_url(&url::Url::parse("http://h").unwrap()), "/");
    }

    #[test]
    fn gzip_and_deflate_are_decoded() {
        use std::io::Write;
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(b"hello hello").unwrap();
        let mut h = HeaderMap::new();
        h.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        let out = decode_body(
            &h.clone().into(),
            Bytes::from(gz.finish().unwrap()),
            u64::MAX,
        )
        .ok()
        .unwrap();
        assert_eq!(&out[..], b"hello hello");
        let mut df = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::fast());
        df.write_all(b"raw deflate").unwrap();
        h.insert(
            header::CONTENT_ENCODING,
            HeaderValue::from_static("deflate"),
        );
        let out = decode_body(
            &h.clone().into(),
            Bytes::from(df.finish().unwrap()),
            u64::MAX,
        )
        .ok()
        .unwrap();
        assert_eq!(&out[..], b"raw deflate");
        h.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        let err = decode_body(&h.clone().into(), Bytes::from_static(b"not gzip"), u64::MAX)
            .err()
            .unwrap();
        assert!(err.error.to_string().starts_with("ContentDecodingError(("));
    }
}
