//! Degradation patterns on demand, under `/_insight/`: endpoints whose latency depends on load
//! (or on time) by a fixed rule, so the diagnosis (`locusta-insight`) can be tested and shown
//! against known answers.
//!
//! Each rule is a function of the number of requests in flight on that same endpoint (counted
//! by this server, the request itself excluded) or of the time since the server started, so a
//! given load gives the same latency on any machine (all sleeps are timers, not CPU work):
//!
//! | path | rule | pattern |
//! |---|---|---|
//! | `/_insight/fast` | answers at once | none |
//! | `/_insight/linear?base_ms=2&per_ms=2` | `base + per x others` | linear |
//! | `/_insight/pool?size=10&hold_ms=5&timeout_ms=200` | `hold` while `others < size`, else waits `timeout` and answers 503 "connection pool exhausted" | cliff at `size + 1` concurrent requests |
//! | `/_insight/spike?flat=10&base_ms=2&per_ms=1` | `base + per x max(0, others - flat)^2` | flat-then-spike after `flat` |
//! | `/_insight/stall?period_s=10&stall_ms=1000&base_ms=1` | `base`, but requests arriving in the first `stall_ms` of every period wait for its end | sawtooth |
//!
//! Parameters are optional (defaults above) and bounded (sleeps at most 10 s).

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::header::{self, HeaderValue};
use http::StatusCode;
use http_body_util::Full;

use crate::server::Resp;

/// Longest sleep any rule produces, ms.
const MAX_MS: u64 = 10_000;

/// In-flight counters and the clock of the pattern endpoints; one per server.
pub(crate) struct Patterns {
    started: Instant,
    linear: Arc<AtomicU64>,
    pool: Arc<AtomicU64>,
    spike: Arc<AtomicU64>,
}

impl Patterns {
    pub(crate) fn new() -> Patterns {
        Patterns {
            started: Instant::now(),
            linear: Arc::new(AtomicU64::new(0)),
            pool: Arc::new(AtomicU64::new(0)),
            spike: Arc::new(AtomicU64::new(0)),
        }
    }
}

/// Counts a request in flight until dropped (also when the client goes away mid-sleep).
struct InFlight(Arc<AtomicU64>);

impl InFlight {
    /// Enters; returns the guard and how many others were in flight.
    fn enter(counter: &Arc<AtomicU64>) -> (InFlight, u64) {
        let others = counter.fetch_add(1, Ordering::AcqRel);
        (InFlight(Arc::clone(counter)), others)
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

fn param(query: Option<&str>, name: &str, default: u64) -> Result<u64, String> {
    let Some(q) = query else { return Ok(default) };
    for pair in q.split('&') {
        if let Some(v) = pair.strip_prefix(name).and_then(|r| r.strip_prefix('=')) {
            return v
                .parse::<u64>()
                .map_err(|_| format!("{name} must be a whole number, got '{v}'"));
        }
    }
    Ok(default)
}

fn reply(status: StatusCode, body: serde_json::Value) -> Resp {
    let mut resp = Resp::new(Full::new(Bytes::from(body.to_string())));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}

type Boxed = Pin<Box<dyn Future<Output = Resp> + Send>>;

fn sleep_then(
    ms: u64,
    guard: Option<InFlight>,
    status: StatusCode,
    body: serde_json::Value,
) -> Boxed {
    let ms = ms.min(MAX_MS);
    Box::pin(async move {
        tokio::time::sleep(Duration::from_millis(ms)).await;
        drop(guard);
        reply(status, body)
    })
}

/// Handles `/_insight/*`; `None` for any other path.
pub(crate) fn route(patterns: &Patterns, path: &str, query: Option<&str>) -> Option<Boxed> {
    let kind = path.strip_prefix("/_insight/")?;
    let result: Result<Boxed, String> = (|| match kind {
        "fast" => {
            Ok(Box::pin(async { reply(StatusCode::OK, serde_json::json!({"ok": true})) }) as Boxed)
        }
        "linear" => {
            let base = param(query, "base_ms", 2)?;
            let per = param(query, "per_ms", 2)?;
            let (guard, others) = InFlight::enter(&patterns.linear);
            let ms = base.saturating_add(per.saturating_mul(others));
            Ok(sleep_then(
                ms,
                Some(guard),
                StatusCode::OK,
                serde_json::json!({"others": others, "ms": ms}),
            ))
        }
        "pool" => {
            let size = param(query, "size", 10)?;
            let hold = param(query, "hold_ms", 5)?;
            let timeout = param(query, "timeout_ms", 200)?;
            let (guard, others) = InFlight::enter(&patterns.pool);
            if others < size {
                Ok(sleep_then(
                    hold,
                    Some(guard),
                    StatusCode::OK,
                    serde_json::json!({"others": others}),
                ))
            } else {
                Ok(sleep_then(
                    timeout,
                    Some(guard),
                    StatusCode::SERVICE_UNAVAILABLE,
                    serde_json::json!({"error": "connection pool exhausted"}),
                ))
            }
        }
        "spike" => {
            let flat = param(query, "flat", 10)?;
            let base = param(query, "base_ms", 2)?;
            let per = param(query, "per_ms", 1)?;
            let (guard, others) = InFlight::enter(&patterns.spike);
            let over = others.saturating_sub(flat);
            let ms = base.saturating_add(per.saturating_mul(over.saturating_mul(over)));
            Ok(sleep_then(
                ms,
                Some(guard),
                StatusCode::OK,
                serde_json::json!({"others": others, "ms": ms}),
            ))
        }
        "stall" => {
            let period = param(query, "period_s", 10)?.max(1) * 1000;
            let stall = param(query, "stall_ms", 1000)?.min(period);
            let base = param(query, "base_ms", 1)?;
            let phase = (patterns.started.elapsed().as_millis() as u64) % period;
            let wait = stall.saturating_sub(phase);
            Ok(sleep_then(
                base + wait,
                None,
                StatusCode::OK,
                serde_json::json!({"stalled_ms": wait}),
            ))
        }
        other => Err(format!(
            "unknown pattern '{other}' (fast, linear, pool, spike, stall)"
        )),
    })();
    Some(result.unwrap_or_else(|e| {
        Box::pin(async move { reply(StatusCode::BAD_REQUEST, serde_json::json!({"error": e})) })
    }))
}
