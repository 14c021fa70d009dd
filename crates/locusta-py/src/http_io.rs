//! `locusta._core.HttpIo`: the HTTP I/O runtime of the Python front end, the bridge between
//! gevent's hub (one Python thread running every user as a greenlet) and the tokio runtime that
//! sends the users' requests (turned by the hub itself, or on I/O threads).
//!
//! `HttpIo.submit` queues a request with the greenlet that waits for it and returns a token (to
//! cancel it with); the Python side parks the greenlet. When the exchange ends, the job pushes
//! the waiter and plain Rust data ([`Exchange`]) onto a queue and, only when the queue was empty
//! and the I/O runs on threads, writes the eventfd that a gevent io watcher listens on. The hub
//! calls `HttpIo.drain`, which hands back (waiter, response) pairs, and switches to each waiter.
//! Python objects are built on the hub thread only; tokio threads never touch Python (they only
//! move the waiter's reference).
//!
//! `HttpIo.cancel(token)` ends the job of a greenlet that stopped waiting (killed, stopped by
//! the runner, interrupted by a `gevent.Timeout`): a job not started yet is dropped from the
//! queue, an inline job is dropped from the inline runtime's table, and a job on the I/O threads
//! is aborted through its task's `AbortHandle`. Dropping a job closes what it held (a
//! half-used HTTP connection is never returned to the pool: it goes back only when an exchange
//! ends; a WebSocket or gRPC stream read releases its connection), so a stopped user does not
//! keep sockets open until their requests would have ended.

use std::collections::HashMap;
use std::os::fd::RawFd;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http::header::{HeaderName, HeaderValue};
use http::Method;
use locusta_http::{
    BodyStream, ClientConfig, ConnectionPool, Exchange, Http2Mode, HttpClient, HttpDriver,
    HttpError, Proxy, RequestSpec, Session, SessionOptions,
};
use locusta_stats::{Sample, StatsHub};
use locusta_util::lock;
use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyBytes;

use crate::inline_io::InlineRuntime;
use crate::json_decode;
use crate::stats::Stats;

/// A finished job and whom it is for (no one in the unit tests, which run without Python).
struct Completed {
    token: u64,
    waiter: Option<Py<PyAny>>,
    outcome: Outcome,
}

/// What a job ended with. Nearly every job is an exchange, so its variant is not boxed (the
/// queue held exchanges inline before streaming existed); the rare body stream is.
#[allow(clippy::large_enum_variant)]
enum Outcome {
    /// An exchange, with its unread body for `stream=True`.
    Exchange(Exchange, Option<Box<BodyStream>>),
    /// The next piece of a streamed body (`None` at its end).
    Piece(Result<Option<Bytes>, HttpError>),
    /// A job of another protocol ([`HttpIo::queue_future`]), turned into Python on the hub.
    Other(OtherOutput),
}

/// What a job of another protocol (WebSocket `ws_io.rs`, gRPC `grpc_io.rs`) hands back: it
/// builds the Python result on the hub thread, the only one that touches Python.
pub(crate) type OtherOutput = Box<dyn FnOnce(Python<'_>) -> PyResult<Py<PyAny>> + Send>;

/// The future of such a job.
type OtherWork = std::pin::Pin<Box<dyn std::future::Future<Output = OtherOutput> + Send>>;

/// A streamed body, shared by its response and the job reading its next piece.
type SharedBody = Arc<Mutex<Option<Box<BodyStream>>>>;

/// Completed exchanges waiting for the hub, and the eventfd that wakes it.
struct Completions {
    state: Mutex<CompletionState>,
    efd: RawFd,
    /// Whether a push must wake the hub through the eventfd (threaded I/O); inline I/O runs on
    /// the hub itself, which drains the queue right after each turn.
    notify: bool,
    /// Threaded I/O: a job's completion is queued only while the job is listed in `running`
    /// (a cancelled job is not, so its late result is dropped).
    tracked: bool,
}

/// The completion queue and, for threaded I/O, the jobs handed to the I/O threads; one lock, so
/// a job cannot complete between a `cancel` finding it running and removing it.
#[derive(Default)]
struct CompletionState {
    queue: Vec<Completed>,
    running: HashMap<u64, Running>,
}

/// A job on the I/O threads: its greenlet (kept here, so it is only ever dropped on the hub) and
/// how to abort its task (None until the task is spawned).
struct Running {
    waiter: Option<Py<PyAny>>,
    abort: Option<tokio::task::AbortHandle>,
}

impl Completions {
    fn push(&self, mut done: Completed) {
        let was_empty = {
            let mut st = lock(&self.state);
            if self.tracked {
                let Some(running) = st.running.remove(&done.token) else {
                    return; // cancelled: nobody waits for it
                };
                done.waiter = running.waiter;
            }
            let was_empty = st.queue.is_empty();
            st.queue.push(done);
            was_empty
        };
        if was_empty && self.notify {
            let one: u64 = 1;
            // SAFETY: writes 8 bytes from a valid u64 to our own eventfd.
            unsafe {
                libc::write(self.efd, (&one as *const u64).cast(), 8);
            }
        }
    }
}

impl Drop for Completions {
    fn drop(&mut self) {
        // SAFETY: the fd was created by us and is closed once.
        unsafe {
            libc::close(self.efd);
        }
    }
}

/// A submitted request waiting for [`HttpIo::flush`]: token, session, request, and where to
/// record it when the Python side needs no verdict (the fast path).
struct Job {
    token: u64,
    /// The greenlet parked on this request (moved to [`CompletionState::running`] when the job
    /// goes to the I/O threads).
    waiter: Option<Py<PyAny>>,
    work: Work,
}

/// What a job does. Sending is the common job and stays unboxed, as before body reads existed.
#[allow(clippy::large_enum_variant)]
enum Work {
    /// Sends a request.
    Send {
        session: Arc<Session>,
        spec: RequestSpec,
        record: Option<Record>,
        /// The open model's start delay of the user's iteration, added to the response time.
        lag: Duration,
        /// `stream=True`: come back at the head, the body stays to be read piece by piece.
        stream: bool,
    },
    /// Reads the next piece of a streamed body (none left: `None`).
    Read(Option<SharedBody>),
    /// A job of another protocol.
    Other(OtherWork),
}

impl Job {
    /// The exchange's (large) future is boxed: the job's own future, which is moved into the
    /// executor, stays small. Unboxed, every request copied several KB on its way there.
    async fn run(self, done: Arc<Completions>) {
        let outcome = match self.work {
            Work::Send {
                session,
                spec,
                record,
                lag,
                stream,
            } => {
                let (mut ex, body) = if stream {
                    let (ex, body) = Box::pin(session.send_streaming(&spec)).await;
                    (ex, body.map(Box::new))
                } else {
                    (Box::pin(session.send_ref(&spec)).await, None)
                };
                // when the response was in, without another clock read
                let ended = unix_secs(ex.started + ex.elapsed);
                ex.elapsed += lag;
                if let Some(Record { hub, method, name }) = &record {
                    record_default(hub, &ex, method.as_str(), name.as_deref(), ended);
                }
                Outcome::Exchange(ex, body)
            }
            Work::Read(body) => Outcome::Piece(read_piece(body).await),
            Work::Other(fut) => Outcome::Other(fut.await),
        };
        done.push(Completed {
            token: self.token,
            waiter: self.waiter,
            outcome,
        });
    }
}

/// The next piece of a streamed body; the stream is taken out of its slot while it is read
/// (no lock across the await) and put back unless finished.
async fn read_piece(body: Option<SharedBody>) -> Result<Option<Bytes>, HttpError> {
    let Some(slot) = body else {
        return Ok(None);
    };
    let Some(mut stream) = lock(&slot).take() else {
        return Ok(None);
    };
    let piece = Box::pin(stream.next_chunk()).await;
    if !stream.is_finished() {
        *lock(&slot) = Some(stream);
    }
    piece
}

/// Where the fast path records an exchange: the run's statistics, under `method` and `name`
/// (None: Locust's default name).
struct Record {
    hub: Arc<StatsHub>,
    method: Method,
    name: Option<String>,
}

/// Records `ex` as Locust's HttpSession reports a request without `catch_response` (`get(url)`,
/// `post(url, json=..., name=...)`): under `method` and `name`, else Locust's default name
/// ([`Exchange::stats_name`]), failing on an error or a status >= 400. URL errors are not
/// recorded (they raise in Python, as in Locust).
fn record_default(
    hub: &StatsHub,
    ex: &Exchange,
    method: &str,
    name: Option<&str>,
    ended_unix: f64,
) {
    if let Err(
        HttpError::MissingSchema { .. }
        | HttpError::InvalidSchema { .. }
        | HttpError::InvalidUrl { .. },
    ) = &ex.result
    {
        return;
    }
    let name = ex.stats_name(name);
    let err = ex.failure_text(name);
    hub.record_at(
        &Sample {
            method,
            name,
            response_time_us: Some(ex.elapsed.as_micros() as u64),
            content_length: ex.content_length() as u64,
            error: err.as_deref(),
        },
        ended_unix,
    );
}

fn unix_secs(t: std::time::SystemTime) -> f64 {
    t.duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// The tokio runtime, the HTTP client and the completion queue of one run.
///
/// Submitted requests wait in `pending` until [`HttpIo::flush`] hands the whole batch to tokio
/// with one wake-up of the I/O thread (the Python side flushes once per turn of gevent's loop),
/// instead of waking it, and often switching to it, once per request.
#[pyclass(module = "locusta._core")]
pub struct HttpIo {
    /// The I/O threads' runtime (threaded I/O).
    runtime: Mutex<Option<tokio::runtime::Runtime>>,
    /// The runtime the hub turns itself (inline I/O, see [`crate::inline_io`]).
    inline: Mutex<Option<InlineRuntime>>,
    is_inline: bool,
    handle: tokio::runtime::Handle,
    client: HttpClient,
    done: Arc<Completions>,
    next: AtomicU64,
    pending: Mutex<Vec<Job>>,
}

/// One simulated user's HTTP state (`self.client`'s connections, cookies and default headers).
#[pyclass(module = "locusta._core", frozen)]
pub struct SessionCore {
    inner: Arc<Session>,
    /// `--arrival-rate`: the start delay of the user's current iteration, in µs.
    schedule_lag_us: AtomicU64,
}

impl SessionCore {
    /// The session, for the other protocols' jobs (`ws_io.rs`).
    pub(crate) fn session(&self) -> &Arc<Session> {
        &self.inner
    }
}

fn header_pair(name: &str, value: &str) -> PyResult<(HeaderName, HeaderValue)> {
    let n = HeaderName::from_bytes(name.as_bytes())
        .map_err(|_| PyValueError::new_err(format!("invalid header name {name:?}")))?;
    let v = HeaderValue::from_str(value).map_err(|_| {
        PyValueError::new_err(format!("invalid value for header {name:?}: {value:?}"))
    })?;
    Ok((n, v))
}

#[pymethods]
impl SessionCore {
    /// The base URL (the user's host).
    #[getter]
    fn base_url(&self) -> Option<String> {
        self.inner.base_url()
    }

    /// Sets the base URL.
    fn set_base_url(&self, url: Option<&str>) {
        self.inner.set_base_url(url);
    }

    /// Default headers as (name as sent, value) pairs.
    fn headers(&self) -> Vec<(String, String)> {
        let headers = self.inner.default_headers();
        headers
            .iter()
            .map(|(k, v)| {
                (
                    headers.name_as_sent(k),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect()
    }

    /// Sets (replaces) a default header; its name goes out spelled as given.
    fn set_header(&self, name: &str, value: &str) -> PyResult<()> {
        header_pair(name, value)?;
        self.inner
            .default_headers()
            .insert_as_written(name, value)
            .map_err(|e| PyValueError::new_err(format!("invalid header {name:?}: {e}")))
    }

    /// Removes a default header; returns whether it was there.
    fn del_header(&self, name: &str) -> bool {
        self.inner.default_headers().remove_named(name)
    }

    /// Cookies in the jar as (name, value) pairs.
    fn cookies(&self) -> Vec<(String, String)> {
        self.inner.cookies()
    }

    /// Stores a cookie (for `url`, or the base URL's host).
    #[pyo3(signature = (name, value, url=None))]
    fn set_cookie(&self, name: &str, value: &str, url: Option<&str>) -> PyResult<()> {
        self.inner
            .set_cookie(name, value, url)
            .map_err(|e| PyValueError::new_err(e.to_string()))
    }

    /// Empties the cookie jar.
    fn clear_cookies(&self) {
        self.inner.clear_cookies();
    }

    /// Closes idle connections.
    fn close(&self) {
        self.inner.close_connections();
    }

    /// The open model's start delay (seconds) of the user's current iteration: added to the
    /// response time of every request sent until the next call, so latency counts from the
    /// intended start.
    fn set_schedule_lag(&self, seconds: f64) {
        let us = if seconds.is_finite() && seconds > 0.0 {
            (seconds * 1e6) as u64
        } else {
            0
        };
        self.schedule_lag_us.store(us, Ordering::Relaxed);
    }
}

/// A setting in seconds as a duration: None stays None; it must be a positive number.
pub(crate) fn seconds(setting: &str, value: Option<f64>) -> PyResult<Option<Duration>> {
    match value {
        None => Ok(None),
        Some(v) if v.is_finite() && v > 0.0 => Ok(Some(Duration::from_secs_f64(v))),
        Some(v) => Err(PyValueError::new_err(format!(
            "{setting} must be a positive number of seconds, not {v}"
        ))),
    }
}

/// Connections several users share, with at most `concurrency` requests in flight at once
/// (FastHttpUser's `client_pool`).
#[pyclass(module = "locusta._core", frozen, name = "ConnectionPool")]
pub struct PyConnectionPool {
    inner: ConnectionPool,
}

#[pymethods]
impl PyConnectionPool {
    #[new]
    #[pyo3(signature = (concurrency=None))]
    fn new(concurrency: Option<usize>) -> Self {
        PyConnectionPool {
            inner: ConnectionPool::new(concurrency),
        }
    }

    /// The most requests in flight at once, if limited.
    #[getter]
    fn concurrency(&self) -> Option<usize> {
        self.inner.max_concurrent()
    }

    /// Idle keep-alive connections held.
    #[getter]
    fn idle_connections(&self) -> usize {
        self.inner.idle_connections()
    }

    /// Closes the idle connections.
    fn close(&self) {
        self.inner.close_idle();
    }
}

/// An HTTP/2 mode named by a user class attribute or `--http2`.
/// Adds a call's `headers=` pairs (already strings, None values left out) to `spec`.
fn add_headers(spec: &mut RequestSpec, headers: Option<Vec<(String, String)>>) -> PyResult<()> {
    for (k, v) in headers.into_iter().flatten() {
        header_pair(&k, &v)?;
        spec.insert_header(&k, &v)
            .map_err(|e| PyValueError::new_err(format!("invalid header {k:?}: {e}")))?;
    }
    Ok(())
}

/// `spec` with `body`, and `content_type` as its Content-Type unless the call's headers set one.
fn with_body(
    spec: RequestSpec,
    body: Bytes,
    content_type: Option<String>,
) -> PyResult<RequestSpec> {
    let mut spec = spec.bytes(body, content_type.clone());
    if let Some(ct) = content_type {
        if !spec.headers.contains_key(http::header::CONTENT_TYPE) {
            let (n, v) = header_pair("content-type", &ct)?;
            spec.headers.insert(n, v);
        }
    }
    Ok(spec)
}

fn http2_mode(mode: &str) -> PyResult<Http2Mode> {
    mode.parse().map_err(PyValueError::new_err)
}

fn parse_method(m: &str) -> PyResult<Method> {
    Method::from_bytes(m.to_ascii_uppercase().as_bytes())
        .map_err(|_| PyValueError::new_err(format!("invalid HTTP method {m:?}")))
}

impl HttpIo {
    fn queue(
        &self,
        session: &SessionCore,
        waiter: Py<PyAny>,
        spec: RequestSpec,
        record: Option<Record>,
    ) -> u64 {
        self.queue_stream(session, waiter, spec, record, false)
    }

    fn queue_stream(
        &self,
        session: &SessionCore,
        waiter: Py<PyAny>,
        spec: RequestSpec,
        record: Option<Record>,
        stream: bool,
    ) -> u64 {
        let work = Work::Send {
            session: Arc::clone(&session.inner),
            spec,
            record,
            lag: Duration::from_micros(session.schedule_lag_us.load(Ordering::Relaxed)),
            stream,
        };
        self.queue_work(waiter, work)
    }

    /// Queues a job of another protocol for `waiter` (completed like an exchange: `drain`
    /// hands `waiter` what the future's output builds); returns its token.
    pub(crate) fn queue_future(
        &self,
        waiter: Py<PyAny>,
        fut: impl std::future::Future<Output = OtherOutput> + Send + 'static,
    ) -> u64 {
        self.queue_work(waiter, Work::Other(Box::pin(fut)))
    }

    /// The HTTP client the sessions are made from.
    pub(crate) fn client(&self) -> &HttpClient {
        &self.client
    }

    fn queue_work(&self, waiter: Py<PyAny>, work: Work) -> u64 {
        let token = self.next.fetch_add(1, Ordering::Relaxed);
        lock(&self.pending).push(Job {
            token,
            waiter: Some(waiter),
            work,
        });
        token
    }
}

#[pymethods]
impl HttpIo {
    /// Starts the tokio runtime with `threads` I/O threads.
    /// `inline`: run the I/O on the calling (hub) thread instead of `threads` I/O threads; by
    /// default inline when one thread is asked for, the lean HTTP driver is used and
    /// `LOCUSTA_PY_IO` is not `thread`. Falls back to an I/O thread where inline I/O is not
    /// available. `http2`: every session's HTTP/2 mode unless its own says otherwise
    /// (`--http2`): "off", "negotiate" or "prior-knowledge".
    #[new]
    #[pyo3(signature = (threads=1, user_agent=None, inline=None, http2=None))]
    fn new(
        threads: usize,
        user_agent: Option<String>,
        inline: Option<bool>,
        http2: Option<&str>,
    ) -> PyResult<Self> {
        // SAFETY: plain syscall; the result is checked.
        let efd = unsafe { libc::eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC) };
        if efd < 0 {
            return Err(PyRuntimeError::new_err(format!(
                "cannot create an eventfd: {}",
                std::io::Error::last_os_error()
            )));
        }
        // LOCUSTA_HTTP_DRIVER=hyper selects hyper's client instead of the lean driver, as in the CLI
        let mut cfg = ClientConfig {
            driver: HttpDriver::from_env(),
            ..ClientConfig::default()
        };
        // Inline I/O needs every task of the runtime to be a tracked job: hyper spawns its own
        // connection tasks, so it keeps the I/O thread.
        let want_inline = inline.unwrap_or_else(|| {
            threads <= 1
                && cfg.driver == HttpDriver::Lean
                && std::env::var("LOCUSTA_PY_IO").map_or(true, |v| v != "thread")
        });
        let inline_rt = if want_inline {
            InlineRuntime::new().ok()
        } else {
            None
        };
        let is_inline = inline_rt.is_some();
        let done = Arc::new(Completions {
            state: Mutex::default(),
            efd,
            notify: !is_inline,
            tracked: !is_inline,
        });
        let (runtime, handle) = match &inline_rt {
            Some(rt) => (None, rt.handle().clone()),
            None => {
                let rt = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(threads.max(1))
                    .thread_name("locusta-io")
                    .enable_all()
                    .build()
                    .map_err(|e| {
                        PyRuntimeError::new_err(format!("cannot start the I/O threads: {e}"))
                    })?;
                let handle = rt.handle().clone();
                (Some(rt), handle)
            }
        };
        if let Some(ua) = user_agent {
            cfg.user_agent = ua;
        }
        if let Some(mode) = http2 {
            cfg.http2 = http2_mode(mode)?;
        }
        if let Some(rt) = &inline_rt {
            // HTTP/2 connection tasks become jobs of the inline runtime
            cfg.spawner = rt.spawner();
        }
        let client = HttpClient::new(cfg)
            .map_err(|e| PyRuntimeError::new_err(format!("cannot set up the HTTP client: {e}")))?;
        Ok(HttpIo {
            handle,
            runtime: Mutex::new(runtime),
            inline: Mutex::new(inline_rt),
            is_inline,
            client,
            done,
            next: AtomicU64::new(1),
            pending: Mutex::new(Vec::new()),
        })
    }

    /// The eventfd the hub watches for readability.
    fn fileno(&self) -> i32 {
        match lock(&self.inline).as_ref() {
            Some(rt) => rt.fileno(),
            None => self.done.efd,
        }
    }

    /// Whether the I/O runs on the hub's thread: the hub then calls `drain` when `fileno` is
    /// readable and also periodically (for the runtime's timers).
    #[getter]
    fn inline(&self) -> bool {
        self.is_inline
    }

    /// A new session (one user's client) with this base URL; the keyword arguments are
    /// FastHttpUser's settings (seconds for the timeouts, `proxy` a (host, port) pair) and
    /// `pool` a [`PyConnectionPool`] shared with other sessions; `http2` the session's HTTP/2
    /// mode ("off", "negotiate", "prior-knowledge"; None: the runtime's).
    #[pyo3(signature = (base_url=None, *, connect_timeout=None, timeout=None, max_redirects=None,
        max_retries=0, closed_retries=0, verify=None, proxy=None, max_concurrent=None, pool=None,
        http2=None))]
    #[allow(clippy::too_many_arguments)]
    fn session(
        &self,
        base_url: Option<&str>,
        connect_timeout: Option<f64>,
        timeout: Option<f64>,
        max_redirects: Option<usize>,
        max_retries: u32,
        closed_retries: u32,
        verify: Option<bool>,
        proxy: Option<(String, u16)>,
        max_concurrent: Option<usize>,
        pool: Option<&PyConnectionPool>,
        http2: Option<&str>,
    ) -> PyResult<SessionCore> {
        let options = SessionOptions {
            connect_timeout: seconds("connection_timeout", connect_timeout)?,
            timeout: seconds("network_timeout", timeout)?,
            max_redirects,
            max_retries,
            closed_retries,
            verify_tls: verify,
            proxy: proxy.map(|(host, port)| Proxy { host, port }),
            max_concurrent,
            http2: http2.map(http2_mode).transpose()?,
        };
        let s = self
            .client
            .session_with(base_url, options, pool.map(|p| p.inner.clone()))
            .map_err(|e| PyValueError::new_err(e.to_string()))?;
        Ok(SessionCore {
            inner: Arc::new(s),
            schedule_lag_us: AtomicU64::new(0),
        })
    }

    /// Queues one request for `waiter` (the greenlet that parks on it); returns its token. It
    /// starts at the next [`HttpIo::flush`]; the response arrives through [`HttpIo::drain`].
    #[pyo3(signature = (session, waiter, method, url, params=None, headers=None, body=None,
        content_type=None, auth=None, timeout=None, allow_redirects=None, verify=None, cookies=None,
        stream=false, name=None))]
    #[allow(clippy::too_many_arguments)]
    fn submit(
        &self,
        session: &SessionCore,
        waiter: Py<PyAny>,
        method: &str,
        url: String,
        params: Option<Vec<(String, String)>>,
        headers: Option<Vec<(String, String)>>,
        body: Option<Vec<u8>>,
        content_type: Option<String>,
        auth: Option<(String, String)>,
        timeout: Option<f64>,
        allow_redirects: Option<bool>,
        verify: Option<bool>,
        cookies: Option<Vec<(String, String)>>,
        stream: bool,
        name: Option<String>,
    ) -> PyResult<u64> {
        let method = if method == "GET" {
            Method::GET
        } else {
            parse_method(method)?
        };
        let mut spec = RequestSpec::new(method, url);
        if let Some(p) = params {
            spec.query = p;
        }
        add_headers(&mut spec, headers)?;
        if let Some(b) = body {
            spec = with_body(spec, Bytes::from(b), content_type)?;
        }
        if let Some((u, p)) = auth {
            spec = spec.basic_auth(u, p);
        }
        if let Some(t) = timeout {
            if t.is_finite() && t > 0.0 {
                spec = spec.timeout(Duration::from_secs_f64(t));
            }
        }
        if let Some(a) = allow_redirects {
            spec = spec.allow_redirects(a);
        }
        if let Some(v) = verify {
            spec = spec.verify_tls(v);
        }
        if let Some(cs) = cookies {
            spec.cookies = cs;
        }
        if locusta_http::tracing_hook::tracing_enabled() {
            spec.span_name = name;
        }
        Ok(self.queue_stream(session, waiter, spec, None, stream))
    }

    /// `session.get(url)` (or `get(url, name=...)`) with every other default (redirects
    /// followed); returns the token. With `stats`, recorded there by Rust under `name` or
    /// Locust's default name when it completes: for a caller with nothing to judge in Python
    /// (no `catch_response`, no request listeners).
    /// `params`: query pairs to add to the URL, as `submit`'s.
    #[pyo3(signature = (session, waiter, url, stats, name=None, params=None))]
    fn submit_get(
        &self,
        session: &SessionCore,
        waiter: Py<PyAny>,
        url: String,
        stats: Option<&Stats>,
        name: Option<String>,
        params: Option<Vec<(String, String)>>,
    ) -> u64 {
        let mut spec = RequestSpec::new(Method::GET, url).allow_redirects(true);
        if locusta_http::tracing_hook::tracing_enabled() {
            spec.span_name.clone_from(&name);
        }
        let record = stats.map(|stats| Record {
            hub: stats.hub(),
            method: Method::GET,
            name,
        });
        if let Some(p) = params {
            spec.query = p;
        }
        self.queue(session, waiter, spec, record)
    }

    /// The common calls of a locustfile beyond a plain `get` (`post(url, json=...)`,
    /// `get(url, headers=...)`, with `name=` and `catch_response=True`), queued as `submit`
    /// queues them with every other argument at its default; returns the token. `allow_redirects`
    /// None leaves the client's default. With `stats`, recorded there by Rust under `method` and
    /// `name` (or Locust's default name) when it completes, as `submit_get` does: for a caller
    /// with nothing to judge in Python (no `catch_response`, no request listeners).
    #[pyo3(signature = (session, waiter, method, url, stats, name=None, params=None, headers=None,
        body=None, content_type=None, allow_redirects=None))]
    #[allow(clippy::too_many_arguments)]
    fn submit_common(
        &self,
        session: &SessionCore,
        waiter: Py<PyAny>,
        method: &str,
        url: String,
        stats: Option<&Stats>,
        name: Option<String>,
        params: Option<Vec<(String, String)>>,
        headers: Option<Vec<(String, String)>>,
        body: Option<&Bound<'_, PyBytes>>,
        content_type: Option<String>,
        allow_redirects: Option<bool>,
    ) -> PyResult<u64> {
        let method = match method {
            "GET" => Method::GET,
            "POST" => Method::POST,
            _ => parse_method(method)?,
        };
        let mut spec = RequestSpec::new(method.clone(), url);
        if let Some(p) = params {
            spec.query = p;
        }
        add_headers(&mut spec, headers)?;
        if let Some(b) = body {
            spec = with_body(spec, Bytes::copy_from_slice(b.as_bytes()), content_type)?;
        }
        if let Some(a) = allow_redirects {
            spec = spec.allow_redirects(a);
        }
        if locusta_http::tracing_hook::tracing_enabled() {
            spec.span_name.clone_from(&name);
        }
        let record = stats.map(|stats| Record {
            hub: stats.hub(),
            method,
            name,
        });
        Ok(self.queue(session, waiter, spec, record))
    }

    /// Queues reading the next piece of `response`'s streamed body for `waiter`; returns its
    /// token. It completes with the bytes, `b""` at the end of the body (or when the response
    /// has none to stream), or an `(error kind, failure text)` pair.
    fn submit_read(&self, response: &RawResponse, waiter: Py<PyAny>) -> u64 {
        self.queue_work(waiter, Work::Read(response.body.clone()))
    }

    /// Ends the job of `token`: its greenlet no longer waits for it (killed while parked). A
    /// job not started yet is dropped, a running one is dropped (inline I/O) or aborted (I/O
    /// threads) with whatever it holds open, and a result not handed out yet is discarded.
    fn cancel(&self, token: u64) {
        let queued = {
            let mut pending = lock(&self.pending);
            let at = pending.iter().position(|j| j.token == token);
            at.map(|i| pending.remove(i))
        };
        if queued.is_some() {
            return;
        }
        if let Some(rt) = lock(&self.inline).as_mut() {
            if rt.cancel(token) {
                return;
            }
        }
        // Taken out under the lock, dropped after it (a greenlet's last reference may run
        // Python code).
        let (running, completed) = {
            let mut st = lock(&self.done.state);
            match st.running.remove(&token) {
                Some(r) => (Some(r), None),
                None => {
                    let at = st.queue.iter().position(|c| c.token == token);
                    (None, at.map(|i| st.queue.remove(i)))
                }
            }
        };
        if let Some(Running {
            abort: Some(abort), ..
        }) = &running
        {
            abort.abort();
        }
        drop((running, completed));
    }

    /// Hands every request submitted since the last flush to the I/O threads; returns how many.
    fn flush(&self) -> usize {
        if self.is_inline {
            // The hub's next `drain` spawns them inside the runtime and turns it.
            return lock(&self.pending).len();
        }
        let mut jobs = std::mem::take(&mut *lock(&self.pending));
        let n = jobs.len();
        if n == 0 {
            return 0;
        }
        let done = Arc::clone(&self.done);
        let mut st = lock(&self.done.state);
        if n == 1 {
            if let Some(mut job) = jobs.pop() {
                let (token, waiter) = (job.token, job.waiter.take());
                // spawned under the lock: the job cannot complete before it is listed
                let abort = Some(self.handle.spawn(job.run(done)).abort_handle());
                st.running.insert(token, Running { waiter, abort });
            }
            return 1;
        }
        // Listed now, so a `cancel` before the spawning task runs finds them; that task spawns
        // only the jobs still listed.
        for job in &mut jobs {
            let waiter = job.waiter.take();
            st.running.insert(
                job.token,
                Running {
                    waiter,
                    abort: None,
                },
            );
        }
        drop(st);
        self.handle.spawn(async move {
            let mut st = lock(&done.state);
            for job in jobs {
                if let Some(running) = st.running.get_mut(&job.token) {
                    let task = tokio::spawn(job.run(Arc::clone(&done)));
                    running.abort = Some(task.abort_handle());
                }
            }
        });
        n
    }

    /// Takes every completed job (clearing the eventfd): a list of (waiter, result), the result
    /// a RawResponse, or for a body read ([`HttpIo::submit_read`]) bytes or an error pair.
    fn drain(&self, py: Python<'_>) -> PyResult<Vec<(Py<PyAny>, Py<PyAny>)>> {
        if self.is_inline {
            let jobs = std::mem::take(&mut *lock(&self.pending));
            let done = Arc::clone(&self.done);
            if let Some(rt) = lock(&self.inline).as_mut() {
                rt.turn(
                    jobs.into_iter()
                        .map(|j| (j.token, j.run(Arc::clone(&done)))),
                );
            }
        } else {
            let mut buf = [0u8; 8];
            // SAFETY: reads at most 8 bytes into a valid buffer from our nonblocking eventfd.
            unsafe {
                libc::read(self.done.efd, buf.as_mut_ptr().cast(), 8);
            }
        }
        let items = std::mem::take(&mut lock(&self.done.state).queue);
        let mut out = Vec::with_capacity(items.len());
        for c in items {
            let Some(waiter) = c.waiter else { continue };
            let result = match c.outcome {
                Outcome::Exchange(ex, body) => {
                    let body = body.map(|b| Arc::new(Mutex::new(Some(b))));
                    Py::new(py, RawResponse { ex, body })?.into_any()
                }
                Outcome::Piece(Ok(piece)) => PyBytes::new(py, piece.as_deref().unwrap_or_default())
                    .into_any()
                    .unbind(),
                Outcome::Piece(Err(e)) => (error_kind(&e), e.to_string())
                    .into_pyobject(py)?
                    .into_any()
                    .unbind(),
                Outcome::Other(build) => build(py)?,
            };
            out.push((waiter, result));
        }
        Ok(out)
    }

    /// Stops the I/O threads (pending requests are dropped).
    fn close(&self, py: Python<'_>) {
        let rt = lock(&self.runtime).take();
        if let Some(rt) = rt {
            py.detach(move || rt.shutdown_timeout(Duration::from_millis(500)));
        }
        let inline = lock(&self.inline).take();
        if let Some(rt) = inline {
            rt.shutdown();
        }
    }
}

/// The result of one exchange, as Rust data; Python's Response wraps it.
#[pyclass(module = "locusta._core", frozen)]
pub struct RawResponse {
    ex: Exchange,
    /// `stream=True`: the body still to read ([`HttpIo::submit_read`]).
    body: Option<SharedBody>,
}

fn error_kind(e: &HttpError) -> &'static str {
    match e {
        HttpError::MissingSchema { .. } => "MissingSchema",
        HttpError::InvalidSchema { .. } => "InvalidSchema",
        HttpError::InvalidUrl { .. } => "InvalidURL",
        _ if e.is_timeout() => "Timeout",
        _ if e.is_tls() => "SSLError",
        _ => "ConnectionError",
    }
}

#[pymethods]
impl RawResponse {
    /// Status code, 0 without a response.
    #[getter]
    fn status_code(&self) -> u16 {
        self.ex.status()
    }

    /// Reason phrase ("" without a response).
    #[getter]
    fn reason(&self) -> &str {
        self.ex.result.as_ref().map_or("", |r| r.reason.as_str())
    }

    /// Response time in milliseconds, measured in Rust (whole exchange, body included).
    #[getter]
    fn response_time(&self) -> f64 {
        self.ex.elapsed.as_secs_f64() * 1000.0
    }

    /// Whether the body is still to be read piece by piece (`stream=True`).
    #[getter]
    fn streaming(&self) -> bool {
        self.body.is_some()
    }

    /// Drops the rest of a streamed body; its connection closes (`response.close()`).
    fn close_body(&self) {
        if let Some(slot) = &self.body {
            lock(slot).take();
        }
    }

    /// Milliseconds until the final response's head arrived (`stream=True`'s response time);
    /// the whole response time when there is no response.
    #[getter]
    fn head_time(&self) -> f64 {
        self.ex
            .time_to_head
            .unwrap_or(self.ex.elapsed)
            .as_secs_f64()
            * 1000.0
    }

    /// Response time in microseconds.
    #[getter]
    fn response_time_us(&self) -> u64 {
        self.ex.elapsed.as_micros() as u64
    }

    /// Unix time the exchange started.
    #[getter]
    fn start_time(&self) -> f64 {
        self.ex
            .started
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs_f64())
            .unwrap_or(0.0)
    }

    /// Path and query of the first request's URL (requests' `path_url`).
    #[getter]
    fn stats_path(&self) -> &str {
        &self.ex.stats_path
    }

    /// The stats name to report this exchange under: `name` when given (not empty), else
    /// Locust's default, the path and query of the first request's URL (the rule is
    /// `locusta_http`'s, shared with the Rust client).
    #[pyo3(signature = (name=None))]
    fn stats_name<'a>(&'a self, name: Option<&'a str>) -> &'a str {
        self.ex.stats_name(name)
    }

    /// The first request's full URL.
    #[getter]
    fn request_url(&self) -> String {
        self.ex.request_url.to_string()
    }

    /// The final URL (after redirects); the request URL without a response.
    #[getter]
    fn url(&self) -> String {
        match &self.ex.result {
            Ok(r) => r.url.to_string(),
            Err(_) => self.ex.request_url.to_string(),
        }
    }

    /// Decoded body bytes.
    #[getter]
    fn content<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        match &self.ex.result {
            Ok(r) => PyBytes::new(py, &r.body),
            Err(_) => PyBytes::new(py, b""),
        }
    }

    /// Body length in bytes (Locust's response_length).
    #[getter]
    fn content_length(&self) -> usize {
        self.ex.content_length()
    }

    /// Response headers as (name, value) pairs in received order.
    fn headers(&self) -> Vec<(String, String)> {
        match &self.ex.result {
            Ok(r) => r
                .headers
                .iter()
                .map(|(k, v)| {
                    (
                        k.as_str().to_owned(),
                        String::from_utf8_lossy(v.as_bytes()).into_owned(),
                    )
                })
                .collect(),
            Err(_) => Vec::new(),
        }
    }

    /// One response header's value (case-insensitive name), several fields joined with ", " as
    /// the Python headers mapping joins them; None when absent. Reading one header this way
    /// spares building the whole mapping (`.text` and `.json()` need only Content-Type).
    fn header(&self, name: &str) -> Option<String> {
        let r = self.ex.result.as_ref().ok()?;
        let mut values = r.headers.map().get_all(name).iter();
        let first = String::from_utf8_lossy(values.next()?.as_bytes()).into_owned();
        Some(values.fold(first, |mut all, v| {
            all.push_str(", ");
            all.push_str(&String::from_utf8_lossy(v.as_bytes()));
            all
        }))
    }

    /// The body decoded as `json.loads(response.text)` decodes it, in Rust; `fallback` when only
    /// Python can decide (another charset, invalid UTF-8 or JSON, NaN, huge ints, ...: see
    /// `json_decode`), and without a response.
    fn json_or<'py>(
        &self,
        py: Python<'py>,
        fallback: Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let Ok(r) = &self.ex.result else {
            return Ok(fallback);
        };
        let mut types = r.headers.map().get_all(http::header::CONTENT_TYPE).iter();
        let content_type = types.next();
        if types.next().is_some() {
            return Ok(fallback); // several fields: `.text` reads them joined
        }
        let Some(text) = json_decode::body_text(content_type.map(|v| v.as_bytes()), &r.body) else {
            return Ok(fallback);
        };
        Ok(match json_decode::decode(py, text)? {
            json_decode::Decoded::Value(v) => v,
            json_decode::Decoded::Unsupported => fallback,
        })
    }

    /// Status codes and URLs of the redirect responses followed, oldest first.
    fn history(&self) -> Vec<(u16, String, String)> {
        self.ex
            .history
            .iter()
            .map(|r| (r.status, r.reason.clone(), r.url.to_string()))
            .collect()
    }

    /// HTTP version as requests' `raw.version` (11 for HTTP/1.1).
    #[getter]
    fn http_version(&self) -> u8 {
        match self.ex.result.as_ref().map(|r| r.version) {
            Ok(http::Version::HTTP_10) => 10,
            Ok(http::Version::HTTP_2) => 20,
            _ => 11,
        }
    }

    /// The error text when there is no response (Locust's repr of the exception), else None.
    #[getter]
    fn error(&self) -> Option<String> {
        self.ex.result.as_ref().err().map(|e| e.to_string())
    }

    /// The requests exception class name of the error, else None.
    #[getter]
    fn error_kind(&self) -> Option<&'static str> {
        self.ex.result.as_ref().err().map(error_kind)
    }

    /// Locust's failure text under stats name `name`, or None for a success (status < 400).
    fn failure_text(&self, name: &str) -> Option<String> {
        self.ex.failure_text(name)
    }

    /// Records this exchange in `stats` under `method` and `name` with the outcome Python
    /// decided (`catch_response`): `error` the failure text, None for a success.
    fn record_as(&self, stats: &Stats, method: &str, name: &str, error: Option<&str>) {
        stats.record_us(
            method,
            name,
            Some(self.ex.elapsed.as_micros() as u64),
            self.ex.content_length() as u64,
            error,
        );
    }

    /// Records this exchange in `stats` as Locust's HttpSession would (failure = error or status
    /// >= 400); returns the failure text, or None for a success.
    fn record(&self, stats: &Stats, method: &str, name: &str) -> Option<String> {
        let err = self.ex.failure_text(name);
        stats.record_us(
            method,
            name,
            Some(self.ex.elapsed.as_micros() as u64),
            self.ex.content_length() as u64,
            err.as_deref(),
        );
        err
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_and_methods_are_validated() {
        assert!(header_pair("X-Test", "yes").is_ok());
        assert!(header_pair("bad name", "x").is_err());
        assert!(header_pair("X", "line\nbreak").is_err());
        assert_eq!(parse_method("post").unwrap(), Method::POST);
        assert!(parse_method("BAD METHOD").is_err());
    }

    /// A completion queue with a fresh eventfd; `tracked` as for threaded I/O.
    fn completions(tracked: bool) -> Completions {
        // SAFETY: plain syscall; checked below.
        let efd = unsafe { libc::eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC) };
        assert!(efd >= 0);
        Completions {
            state: Mutex::default(),
            efd,
            notify: true,
            tracked,
        }
    }

    #[test]
    fn eventfd_is_written_once_per_batch() {
        let done = completions(false);
        let efd = done.efd;
        let ex = |url: &str| Exchange {
            started: std::time::SystemTime::now(),
            elapsed: Duration::from_micros(5),
            request_url: url::Url::parse(url).unwrap(),
            stats_path: "/".into(),
            result: Err(HttpError::MissingSchema { url: url.into() }),
            history: Vec::new(),
            time_to_head: None,
        };
        let completed = |token, url| Completed {
            token,
            waiter: None,
            outcome: Outcome::Exchange(ex(url), None),
        };
        done.push(completed(1, "http://a/"));
        done.push(completed(2, "http://b/"));
        let mut buf = [0u8; 8];
        // SAFETY: reads 8 bytes into a valid buffer.
        let n = unsafe { libc::read(efd, buf.as_mut_ptr().cast(), 8) };
        assert_eq!(n, 8);
        assert_eq!(
            u64::from_ne_bytes(buf),
            1,
            "only the first push of a batch wakes the hub"
        );
        assert_eq!(lock(&done.state).queue.len(), 2);
        assert_eq!(
            error_kind(&HttpError::MissingSchema { url: "x".into() }),
            "MissingSchema"
        );
    }

    #[test]
    fn threaded_completions_of_cancelled_jobs_are_dropped() {
        let done = completions(true);
        let completed = |token| Completed {
            token,
            waiter: None,
            outcome: Outcome::Piece(Ok(None)),
        };
        let running = || Running {
            waiter: None,
            abort: None,
        };
        lock(&done.state).running.insert(1, running());
        lock(&done.state).running.insert(2, running());
        // token 2 is cancelled: no longer listed
        lock(&done.state).running.remove(&2);
        done.push(completed(1));
        done.push(completed(2));
        let st = lock(&done.state);
        let tokens: Vec<u64> = st.queue.iter().map(|c| c.token).collect();
        assert_eq!(tokens, vec![1]);
        assert!(
            st.running.is_empty(),
            "a completed job is no longer running"
        );
    }

    #[test]
    fn fast_path_records_under_locusts_default_name() {
        let hub = StatsHub::new(locusta_stats::StatsLimits::default());
        let ex = |url: &str, stats_path: &str, result| Exchange {
            started: std::time::SystemTime::now(),
            elapsed: Duration::from_micros(1500),
            request_url: url::Url::parse(url).unwrap(),
            stats_path: stats_path.into(),
            result: Err(result),
            history: Vec::new(),
            time_to_head: None,
        };
        // URL errors raise in Python and are not recorded.
        let now = locusta_util::unix_now();
        record_default(
            &hub,
            &ex(
                "http://a/",
                "x",
                HttpError::MissingSchema { url: "x".into() },
            ),
            "GET",
            None,
            now,
        );
        // A failed connection is recorded under the first URL's path and query.
        let refused = || HttpError::Connect {
            errno: 111,
            message: "Connection refused".into(),
        };
        record_default(&hub, &ex("http://a", "/", refused()), "GET", None, now);
        record_default(
            &hub,
            &ex("http://a/p?q=1", "/p?q=1", refused()),
            "GET",
            None,
            now,
        );
        record_default(
            &hub,
            &ex("http://a/p/7", "/p/7", refused()),
            "GET",
            Some("/p/[id]"),
            now,
        );
        // `post(url, json=..., name=...)` (`submit_common`): under its own method.
        record_default(
            &hub,
            &ex("http://a/p/7", "/p/7", refused()),
            "POST",
            Some("/p/[id]"),
            now,
        );
        hub.merge();
        hub.read(|agg| {
            let mut names: Vec<(String, String, u64, u64)> = agg
                .entries()
                .iter()
                .map(|e| {
                    (
                        e.method().to_string(),
                        e.name().to_string(),
                        e.num_requests(),
                        e.num_failures(),
                    )
                })
                .collect();
            names.sort();
            let row = |m: &str, n: &str| (m.to_string(), n.to_string(), 1, 1);
            assert_eq!(
                names,
                vec![
                    row("GET", "/"),
                    row("GET", "/p/[id]"),
                    row("GET", "/p?q=1"),
                    row("POST", "/p/[id]"),
                ]
            );
        });
    }
}
