//! The `self.client` of a Rust-native user: HTTP requests recorded into the statistics with
//! Locust's rules.
//!
//! The transport (connections, cookies, redirects, TLS) is `locusta-http`; this module adds what
//! Locust's `HttpSession` adds on top of `requests`: the stats name (`name`, else the session's
//! request name, else Locust's default from `Exchange::stats_name`), the failure rule (status >=
//! 400 or no response at all), and `catch_response` to decide success or failure by hand.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Method};
use locusta_http::{Body, BodyStream, Exchange, HttpError, RequestSpec, ResponseHeaders, Session};
use locusta_stats::{Sample, StatsHub};

/// A user's HTTP client. Every request it sends is timed in Rust and recorded.
pub struct Client {
    pub(crate) session: Session,
    pub(crate) stats: Arc<StatsHub>,
    request_name: Option<String>,
    /// Open model: how late the current iteration started; added to every response time so
    /// latency counts from the intended start (see `arrival`). Shared with the user's WebSocket
    /// connections, which record on their own.
    schedule_lag: Arc<ScheduleLag>,
}

/// How late a user's current iteration started (open model), in microseconds.
#[derive(Debug, Default)]
pub(crate) struct ScheduleLag(std::sync::atomic::AtomicU64);

impl ScheduleLag {
    pub(crate) fn get(&self) -> std::time::Duration {
        std::time::Duration::from_micros(self.0.load(std::sync::atomic::Ordering::Relaxed))
    }

    fn set(&self, lag: std::time::Duration) {
        let us = u64::try_from(lag.as_micros()).unwrap_or(u64::MAX);
        self.0.store(us, std::sync::atomic::Ordering::Relaxed);
    }
}

impl Client {
    pub(crate) fn new(session: Session, stats: Arc<StatsHub>) -> Self {
        Client {
            session,
            stats,
            request_name: None,
            schedule_lag: Arc::default(),
        }
    }

    pub(crate) fn set_schedule_lag(&mut self, lag: std::time::Duration) {
        self.schedule_lag.set(lag);
    }

    /// How late the current iteration started (open model).
    pub(crate) fn schedule_lag(&self) -> std::time::Duration {
        self.schedule_lag.get()
    }

    /// The lag as the user's WebSocket connections read it, iteration after iteration.
    pub(crate) fn shared_schedule_lag(&self) -> &Arc<ScheduleLag> {
        &self.schedule_lag
    }

    /// Where the user's samples go (shared with its WebSocket connections).
    pub(crate) fn stats(&self) -> &Arc<StatsHub> {
        &self.stats
    }

    /// The transport session: default headers, cookies, base URL.
    pub fn session(&self) -> &Session {
        &self.session
    }

    /// Groups every following request under this stats name until reset with `None`
    /// (Locust's `client.request_name` / `rename_request`).
    pub fn set_request_name(&mut self, name: Option<String>) {
        self.request_name = name;
    }

    /// Starts a request with any method.
    pub fn request(&self, method: Method, url: &str) -> RequestBuilder<'_> {
        let mut spec = RequestSpec::new(method.clone(), url);
        // requests follows redirects for every method except HEAD.
        spec.allow_redirects = method != Method::HEAD;
        RequestBuilder {
            client: self,
            spec,
            name: None,
        }
    }

    /// `GET url`.
    pub fn get(&self, url: &str) -> RequestBuilder<'_> {
        self.request(Method::GET, url)
    }

    /// `POST url`.
    pub fn post(&self, url: &str) -> RequestBuilder<'_> {
        self.request(Method::POST, url)
    }

    /// `PUT url`.
    pub fn put(&self, url: &str) -> RequestBuilder<'_> {
        self.request(Method::PUT, url)
    }

    /// `PATCH url`.
    pub fn patch(&self, url: &str) -> RequestBuilder<'_> {
        self.request(Method::PATCH, url)
    }

    /// `DELETE url`.
    pub fn delete(&self, url: &str) -> RequestBuilder<'_> {
        self.request(Method::DELETE, url)
    }

    /// `HEAD url` (redirects are not followed, as in requests).
    pub fn head(&self, url: &str) -> RequestBuilder<'_> {
        self.request(Method::HEAD, url)
    }

    /// `OPTIONS url`.
    pub fn options(&self, url: &str) -> RequestBuilder<'_> {
        self.request(Method::OPTIONS, url)
    }

    fn record(&self, response: &Response, error: Option<&str>) {
        self.record_as(response, error, response.body.len() as u64);
    }

    fn record_as(&self, response: &Response, error: Option<&str>, content_length: u64) {
        self.stats.record(&Sample {
            method: response.method.as_str(),
            name: &response.name,
            response_time_us: Some((response.elapsed + self.schedule_lag()).as_micros() as u64),
            content_length,
            error,
        });
    }
}

/// A request being built; finish it with [`send`](Self::send) or
/// [`catch_response`](Self::catch_response).
pub struct RequestBuilder<'c> {
    client: &'c Client,
    spec: RequestSpec,
    name: Option<String>,
}

impl<'c> RequestBuilder<'c> {
    /// The stats name to record this request under (Locust's `name=`).
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Adds a header, its name sent as written. Invalid names or values are skipped with a
    /// warning.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        if self.spec.append_header(name, value).is_err() {
            log::warn!("ignoring invalid header {name:?}: {value:?}");
        }
        self
    }

    /// Replaces all per-request headers.
    pub fn headers(mut self, headers: HeaderMap) -> Self {
        self.spec.headers = headers;
        self
    }

    /// Adds a query parameter.
    pub fn query(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.spec.query.push((key.into(), value.into()));
        self
    }

    /// Sends a JSON body.
    pub fn json(mut self, value: serde_json::Value) -> Self {
        self.spec.body = Body::Json(value);
        self
    }

    /// Sends a form body (`application/x-www-form-urlencoded`).
    pub fn form(mut self, fields: Vec<(String, String)>) -> Self {
        self.spec.body = Body::Form(fields);
        self
    }

    /// Sends raw bytes.
    pub fn body(mut self, data: impl Into<Bytes>, content_type: Option<&str>) -> Self {
        self.spec.body = Body::Bytes {
            data: data.into(),
            content_type: content_type.map(str::to_owned),
        };
        self
    }

    /// HTTP basic authentication for this request.
    pub fn basic_auth(mut self, user: impl Into<String>, password: impl Into<String>) -> Self {
        self.spec.basic_auth = Some((user.into(), password.into()));
        self
    }

    /// Gives up after this long (connect, headers and body).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.spec.timeout = Some(timeout);
        self
    }

    /// Whether to follow redirects (default: yes, except for HEAD).
    pub fn allow_redirects(mut self, allow: bool) -> Self {
        self.spec.allow_redirects = allow;
        self
    }

    /// With `--otel` tracing, the span is named after the request's name as Locust names it.
    fn name_span(&mut self) {
        if locusta_http::tracing_hook::tracing_enabled() {
            self.spec.span_name = self
                .name
                .clone()
                .or_else(|| self.client.request_name.clone());
        }
    }

    async fn exchange(mut self) -> Response {
        self.name_span();
        let client = self.client;
        let method = self.spec.method.clone();
        let exchange = client.session.send(self.spec).await;
        let given = self.name.as_deref().or(client.request_name.as_deref());
        let name = exchange.stats_name(given).to_owned();
        Response::from_exchange(method, name, exchange)
    }

    /// Sends the request and records it: a failure when the status is >= 400 or when no
    /// response came back.
    pub async fn send(self) -> Response {
        let client = self.client;
        let response = self.exchange().await;
        let error = response.default_failure();
        client.record(&response, error.as_deref());
        response
    }

    /// `stream=True`: sends the request and records it once the response head is in (the
    /// response time ends there, the length is the Content-Length announced, as Locust records
    /// a streamed request); the body is then read piece by piece from the [`BodyStream`] as it
    /// arrives (`None` when there is nothing to stream, e.g. no response).
    ///
    /// ```no_run
    /// # async fn task(user: &mut locusta::User) -> locusta::TaskResult {
    /// let (response, body) = user.client.get("/events").name("/events").send_streaming().await;
    /// if let Some(mut body) = body {
    ///     while let Ok(Some(piece)) = body.next_chunk().await {
    ///         println!("{} bytes {:?} after the request started", piece.len(), response.elapsed());
    ///     }
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn send_streaming(mut self) -> (Response, Option<BodyStream>) {
        self.name_span();
        let client = self.client;
        let method = self.spec.method.clone();
        let (exchange, body) = client.session.send_streaming(&self.spec).await;
        let given = self.name.as_deref().or(client.request_name.as_deref());
        let name = exchange.stats_name(given).to_owned();
        let response = Response::from_exchange(method, name, exchange);
        let error = response.default_failure();
        let announced = response
            .headers
            .get(http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0);
        client.record_as(&response, error.as_deref(), announced);
        (response, body)
    }

    /// Sends the request and lets the caller decide success or failure before it is recorded
    /// (Locust's `catch_response=True`). Without a decision, the default rule applies when the
    /// returned value is dropped.
    pub async fn catch_response(self) -> CaughtResponse<'c> {
        let client = self.client;
        let response = self.exchange().await;
        CaughtResponse {
            client,
            response: Some(response),
            verdict: Verdict::Default,
        }
    }
}

/// A response as a task sees it. When the request got no response at all, `status()` is 0
/// and [`error`](Self::error) says why.
#[derive(Debug)]
pub struct Response {
    method: Method,
    name: String,
    status: u16,
    reason: String,
    headers: ResponseHeaders,
    body: Bytes,
    url: Option<url::Url>,
    elapsed: Duration,
    error: Option<HttpError>,
}

impl Response {
    fn from_exchange(method: Method, name: String, exchange: Exchange) -> Self {
        let elapsed = exchange.elapsed;
        match exchange.result {
            Ok(r) => Response {
                method,
                name,
                status: r.status,
                reason: r.reason,
                headers: r.headers,
                body: r.body,
                url: Some(r.url),
                elapsed,
                error: None,
            },
            Err(e) => Response {
                method,
                name,
                status: 0,
                reason: String::new(),
                headers: ResponseHeaders::default(),
                body: Bytes::new(),
                url: Some(exchange.request_url),
                elapsed,
                error: Some(e),
            },
        }
    }

    /// Locust's rule: a transport error, or an HTTP status >= 400.
    fn default_failure(&self) -> Option<String> {
        if let Some(e) = &self.error {
            return Some(e.to_string());
        }
        locusta_http::status_error_text(self.status, &self.reason, &self.name)
    }

    /// The HTTP status, or 0 when there was no response.
    pub fn status(&self) -> u16 {
        self.status
    }

    /// True when the status is below 400 and a response arrived (`response.ok`).
    pub fn ok(&self) -> bool {
        self.error.is_none() && self.status < 400
    }

    /// The reason phrase (`OK`, `Not Found`, ...).
    pub fn reason(&self) -> &str {
        &self.reason
    }

    /// Response headers.
    pub fn headers(&self) -> &HeaderMap {
        self.headers.map()
    }

    /// The body, decompressed.
    pub fn bytes(&self) -> &Bytes {
        &self.body
    }

    /// The body as text (invalid UTF-8 replaced).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body parsed as JSON.
    pub fn json(&self) -> Result<serde_json::Value, serde_json::Error> {
        serde_json::from_slice(&self.body)
    }

    /// The final URL (after redirects).
    pub fn url(&self) -> Option<&url::Url> {
        self.url.as_ref()
    }

    /// Time from the start of the request to the end of the body, measured in Rust.
    pub fn elapsed(&self) -> Duration {
        self.elapsed
    }

    /// Why no response arrived (connection refused, reset, timeout...).
    pub fn error(&self) -> Option<&HttpError> {
        self.error.as_ref()
    }

    /// The name this request is recorded under.
    pub fn stats_name(&self) -> &str {
        &self.name
    }
}

enum Verdict {
    Default,
    Success,
    Failure(String),
}

/// A response whose success or failure the task decides (Locust's `catch_response`).
/// It is recorded when dropped.
pub struct CaughtResponse<'c> {
    client: &'c Client,
    response: Option<Response>,
    verdict: Verdict,
}

impl CaughtResponse<'_> {
    /// Records the request as a success, whatever its status.
    pub fn success(&mut self) {
        self.verdict = Verdict::Success;
    }

    /// Records the request as a failure with this message (shown in the failures table as
    /// Locust shows a `CatchResponseError`).
    pub fn failure(&mut self, message: impl Into<String>) {
        self.verdict = Verdict::Failure(message.into());
    }

    /// Changes the stats name before the request is recorded.
    pub fn set_name(&mut self, name: impl Into<String>) {
        if let Some(r) = self.response.as_mut() {
            r.name = name.into();
        }
    }
}

impl std::ops::Deref for CaughtResponse<'_> {
    type Target = Response;

    fn deref(&self) -> &Response {
        // Present from construction until Drop takes it.
        self.response
            .as_ref()
            .expect("CaughtResponse is only emptied in Drop")
    }
}

impl Drop for CaughtResponse<'_> {
    fn drop(&mut self) {
        let Some(response) = self.response.take() else {
            return;
        };
        let error = match std::mem::replace(&mut self.verdict, Verdict::Default) {
            Verdict::Default => response.default_failure(),
            Verdict::Success => None,
            Verdict::Failure(msg) => Some(format!(
                "CatchResponseError({})",
                locusta_http::py_str(&msg)
            )),
        };
        self.client.record(&response, error.as_deref());
    }
}
