//! A process-wide hook that opens a trace span around each HTTP request and puts its W3C
//! `traceparent` into the request's headers.
//!
//! It exists for `--otel`: Locust's OpenTelemetry support instruments `requests`, which makes
//! one CLIENT span per request and injects the span's context into the outgoing headers so the
//! system under test can join the trace. The HTTP client only knows when a request starts and
//! ends; what a span is (OpenTelemetry's SDK, sampling, export) lives in `locusta-otel`, which
//! installs a [`RequestTracer`]. Without one, a request pays one atomic load for this.

use std::sync::OnceLock;
use std::time::SystemTime;

use http::Method;

use crate::HttpError;

/// Opens a span for each request a [`crate::Session`] sends.
pub trait RequestTracer: Send + Sync + 'static {
    /// Called when a request starts (its URL resolved, before anything is sent).
    fn start(&self, request: &RequestStart<'_>) -> Box<dyn RequestSpan>;
}

/// A request about to be sent. What only a recorded span needs (its name, the `User-Agent`)
/// is computed on demand, so a span the sampler drops costs neither.
pub struct RequestStart<'a> {
    /// The request's method.
    pub method: &'a Method,
    /// The request's URL.
    pub url: &'a url::Url,
    /// The `name=` given for the request, if any.
    pub explicit_name: Option<&'a str>,
    /// The `User-Agent` it will send.
    pub user_agent: &'a dyn Fn() -> Option<http::HeaderValue>,
    /// When it started.
    pub started: SystemTime,
}

impl RequestStart<'_> {
    /// The span's name: `"{METHOD} {name}"` with `name=`, else `"{METHOD} {path}"`.
    pub fn span_name(&self) -> String {
        span_name(self.method, self.explicit_name, self.url)
    }
}

/// One request's open span.
pub trait RequestSpan: Send {
    /// The `traceparent` header value to send with the request.
    fn traceparent(&self) -> &str;
    /// Closes the span with the request's outcome. A span dropped without this (the request
    /// was cancelled: its user stopped) is closed as cancelled.
    fn end(self: Box<Self>, outcome: RequestOutcome<'_>);
}

/// How a traced request ended.
#[derive(Debug)]
pub struct RequestOutcome<'a> {
    /// When the request ended (its start plus the response time the statistics record).
    pub ended: SystemTime,
    /// The final response's status code; `None` when no response came.
    pub status: Option<u16>,
    /// Why no response came.
    pub error: Option<&'a HttpError>,
}

static TRACER: OnceLock<Box<dyn RequestTracer>> = OnceLock::new();

/// Installs `tracer` for every session of this process; `false` when one was already installed
/// (the first stays).
pub fn install_tracer(tracer: Box<dyn RequestTracer>) -> bool {
    TRACER.set(tracer).is_ok()
}

/// Whether requests are traced (a caller may skip work that only a span needs).
#[inline]
pub fn tracing_enabled() -> bool {
    TRACER.get().is_some()
}

#[inline]
pub(crate) fn tracer() -> Option<&'static dyn RequestTracer> {
    TRACER.get().map(|b| &**b)
}

/// Locust's span name: the explicit request name when one was given, else the URL's path.
pub fn span_name(method: &Method, explicit: Option<&str>, url: &url::Url) -> String {
    match explicit {
        Some(n) if !n.is_empty() => format!("{method} {n}"),
        _ => {
            let path = url.path();
            format!("{method} {}", if path.is_empty() { "/" } else { path })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn span_names_follow_locust() {
        let url = url::Url::parse("http://h:1/a/b?x=1").expect("url");
        assert_eq!(span_name(&Method::GET, None, &url), "GET /a/b");
        assert_eq!(span_name(&Method::GET, Some(""), &url), "GET /a/b");
        assert_eq!(
            span_name(&Method::POST, Some("/a/[id]"), &url),
            "POST /a/[id]"
        );
        let root = url::Url::parse("http://h:1").expect("url");
        assert_eq!(span_name(&Method::HEAD, None, &root), "HEAD /");
    }
}
