//! A CLIENT span per HTTP request, as Locust's `requests` auto-instrumentation
//! (opentelemetry-instrumentation-requests, default semantic conventions) makes them.
//!
//! The HTTP client calls this through `locusta_http::tracing_hook` when a request starts and
//! ends, so the span's times are the request's own times (the same start and response time the
//! statistics record) and its W3C `traceparent` goes out with the request. Attributes are the
//! instrumentation's default ("old") HTTP conventions: `http.method`, `http.url` and
//! `user_agent.original` at the start, `http.status_code` when a response came; the status is ERROR for a status >= 400 or
//! no response, with an `exception` event naming the error.

use std::fmt::Write as _;

use locusta_http::tracing_hook::{RequestOutcome, RequestSpan, RequestStart, RequestTracer};
use opentelemetry::trace::{Span as _, SpanKind, Status, Tracer as _};
use opentelemetry::{Context, KeyValue};
use opentelemetry_sdk::trace::{SdkTracer, Span};

/// Opens spans on an SDK tracer.
pub(crate) struct HttpTracer {
    tracer: SdkTracer,
}

impl HttpTracer {
    pub(crate) fn new(tracer: SdkTracer) -> Self {
        HttpTracer { tracer }
    }
}

/// `url` without user and password (what the instrumentation's `redact_url` leaves).
fn redacted(url: &url::Url) -> String {
    if url.username().is_empty() && url.password().is_none() {
        return url.as_str().to_owned();
    }
    let mut u = url.clone();
    let _ = u.set_username("");
    let _ = u.set_password(None);
    u.into()
}

impl RequestTracer for HttpTracer {
    fn start(&self, request: &RequestStart<'_>) -> Box<dyn RequestSpan> {
        // named once the sampler has kept it: a dropped span costs no name
        let builder = self
            .tracer
            .span_builder("")
            .with_kind(SpanKind::Client)
            .with_start_time(request.started);
        // every request is a root: a user's task is not inside another span
        let mut span = self.tracer.build_with_context(builder, &Context::new());
        if span.is_recording() {
            span.update_name(request.span_name());
            span.set_attribute(KeyValue::new(
                "http.method",
                request.method.as_str().to_owned(),
            ));
            span.set_attribute(KeyValue::new("http.url", redacted(request.url)));
            if let Some(agent) = (request.user_agent)() {
                if let Ok(agent) = agent.to_str() {
                    span.set_attribute(KeyValue::new("user_agent.original", agent.to_owned()));
                }
            }
        }
        let ctx = span.span_context();
        let mut traceparent = String::with_capacity(55);
        let _ = write!(
            traceparent,
            "00-{}-{}-{:02x}",
            ctx.trace_id(),
            ctx.span_id(),
            ctx.trace_flags().to_u8()
        );
        Box::new(HttpSpan {
            span: Some(span),
            traceparent,
        })
    }
}

struct HttpSpan {
    /// `None` once ended.
    span: Option<Span>,
    traceparent: String,
}

impl Drop for HttpSpan {
    /// A request dropped before its end was cancelled (its user was stopped or killed): the
    /// span says so, as Locust's shows the `GreenletExit` that ended its request.
    fn drop(&mut self) {
        if let Some(mut span) = self.span.take() {
            if span.is_recording() {
                span.set_status(Status::error(
                    "cancelled: the user stopped during the request",
                ));
            }
            span.end();
        }
    }
}

impl RequestSpan for HttpSpan {
    fn traceparent(&self) -> &str {
        &self.traceparent
    }

    fn end(mut self: Box<Self>, outcome: RequestOutcome<'_>) {
        let Some(mut span) = self.span.take() else {
            return;
        };
        if !span.is_recording() {
            return; // sampled out: nothing to fill in (dropping it ends it)
        }
        if let Some(status) = outcome.status {
            span.set_attribute(KeyValue::new("http.status_code", i64::from(status)));
            if status >= 400 {
                span.set_status(Status::error(""));
            }
        }
        if let Some(error) = outcome.error {
            let text = error.to_string();
            let class = crate::metrics::error_type(&text).to_owned();
            span.add_event_with_timestamp(
                "exception",
                outcome.ended,
                vec![
                    KeyValue::new("exception.type", class.clone()),
                    KeyValue::new("exception.message", text.clone()),
                ],
            );
            span.set_status(Status::error(format!("{class}: {text}")));
        }
        span.end_with_timestamp(outcome.ended);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_are_left_out_of_http_url() {
        let u = url::Url::parse("http://me:secret@h:8/p?q=1").expect("url");
        assert_eq!(redacted(&u), "http://h:8/p?q=1");
        let plain = url::Url::parse("http://h/p").expect("url");
        assert_eq!(redacted(&plain), "http://h/p");
    }
}
