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
//! | `/_insight/limit?rps=100` | a rate limiter (token bucket of `rps` per second holding a tenth of a second's worth, shared by the whole endpoint): answers at once, 429 "rate limited" when no token is left | cliff (failures) where the endpoint's RPS crosses `rps` |
//! | `/_insight/drift?base_ms=2&per_s_ms=5` | `base + per_s x seconds since the first request` (the clock restarts after 10 s without requests) | drift (a leak: latency grows at a constant load) |
//! | `/_insight/jitter?base_ms=2&jitter_ms=8` | `base` plus a pseudo-random `0..=jitter` (a fixed sequence), whatever the load | none (healthy noise) |
//!
//! Parameters are optional (defaults above) and bounded (sleeps at most 10 s).

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::header::{self, HeaderValue};
use http::StatusCode;
use http_body_util::Full;

use crate::server::Resp;

/// Longest sleep any rule produces, ms.
const MAX_MS: u64 = 10_000;
/// Quiet time after which `/_insight/drift` starts its clock again, so repeated runs against
/// one long-lived target each see the drift from its start.
const DRIFT_IDLE: Duration = Duration::from_secs(10);

/// In-flight counters and the clock of the pattern endpoints; one per server.
pub(crate) struct Patterns {
    started: Instant,
    linear: Arc<AtomicU64>,
    pool: Arc<AtomicU64>,
    spike: Arc<AtomicU64>,
    limit: Mutex<TokenBucket>,
    drift: Mutex<DriftClock>,
    jitter: AtomicU64,
}

impl Patterns {
    pub(crate) fn new() -> Patterns {
        Patterns {
            started: Instant::now(),
            linear: Arc::new(AtomicU64::new(0)),
            pool: Arc::new(AtomicU64::new(0)),
            spike: Arc::new(AtomicU64::new(0)),
            limit: Mutex::new(TokenBucket::default()),
            drift: Mutex::new(DriftClock::default()),
            jitter: AtomicU64::new(0),
        }
    }
}

/// The rate limiter of `/_insight/limit`: a token bucket refilled at `rps` tokens per second,
/// holding at most a tenth of a second's worth (at least one), so requests bunched within the
/// rate pass and an excess is refused within a tenth of a second.
#[derive(Debug, Default)]
struct TokenBucket {
    tokens: f64,
    last: Option<Instant>,
}

impl TokenBucket {
    /// Takes a token for a request at `now`; false when none is left (the request is refused).
    fn take(&mut self, rps: u64, now: Instant) -> bool {
        let rps = rps as f64;
        let burst = (rps / 10.0).max(1.0);
        self.tokens = match self.last {
            None => burst,
            Some(last) => {
                (self.tokens + rps * now.saturating_duration_since(last).as_secs_f64()).min(burst)
            }
        };
        self.last = Some(now);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// The clock of `/_insight/drift`: when its first request came, and its latest one.
#[derive(Debug, Default)]
struct DriftClock {
    first: Option<Instant>,
    last: Option<Instant>,
}

impl DriftClock {
    /// Seconds since the first request, counting this one at `now`; the clock restarts after
    /// [`DRIFT_IDLE`] without requests.
    fn elapsed(&mut self, now: Instant) -> f64 {
        let first = match (self.first, self.last) {
            (Some(first), Some(last)) if now.saturating_duration_since(last) <= DRIFT_IDLE => first,
            _ => now,
        };
        self.first = Some(first);
        self.last = Some(now);
        now.saturating_duration_since(first).as_secs_f64()
    }
}

/// A well-mixed pseudo-random number from a counter (SplitMix64), so `/_insight/jitter`
/// gives the same sequence of delays on every run.
fn mix(n: u64) -> u64 {
    let mut z = n.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
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
        "limit" => {
            let rps = param(query, "rps", 100)?;
            let allowed = patterns
                .limit
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .take(rps, Instant::now());
            Ok(if allowed {
                Box::pin(async { reply(StatusCode::OK, serde_json::json!({"ok": true})) }) as Boxed
            } else {
                Box::pin(async {
                    reply(
                        StatusCode::TOO_MANY_REQUESTS,
                        serde_json::json!({"error": "rate limited"}),
                    )
                })
            })
        }
        "drift" => {
            let base = param(query, "base_ms", 2)?;
            let per_s = param(query, "per_s_ms", 5)?;
            let secs = patterns
                .drift
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .elapsed(Instant::now());
            let grown = (per_s as f64 * secs).min(MAX_MS as f64) as u64;
            let ms = base.saturating_add(grown);
            Ok(sleep_then(
                ms,
                None,
                StatusCode::OK,
                serde_json::json!({"seconds": secs, "ms": ms}),
            ))
        }
        "jitter" => {
            let base = param(query, "base_ms", 2)?;
            let jitter = param(query, "jitter_ms", 8)?.min(MAX_MS);
            let n = patterns.jitter.fetch_add(1, Ordering::Relaxed);
            let ms = base.saturating_add(mix(n) % (jitter + 1));
            Ok(sleep_then(
                ms,
                None,
                StatusCode::OK,
                serde_json::json!({"ms": ms}),
            ))
        }
        other => Err(format!(
            "unknown pattern '{other}' (fast, linear, pool, spike, stall, limit, drift, jitter)"
        )),
    })();
    Some(result.unwrap_or_else(|e| {
        Box::pin(async move { reply(StatusCode::BAD_REQUEST, serde_json::json!({"error": e})) })
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bucket_passes_the_rate_and_refuses_the_excess() {
        let t0 = Instant::now();
        let mut bucket = TokenBucket::default();
        // 100/s holding 10 tokens: 10 at once pass, the 11th is refused.
        let burst = (0..11).filter(|_| bucket.take(100, t0)).count();
        assert_eq!(burst, 10);
        // Then one request every 10 ms (100/s) passes for ever...
        let mut bucket = TokenBucket::default();
        let steady = (0..1000)
            .filter(|i| bucket.take(100, t0 + Duration::from_millis(10 * i)))
            .count();
        assert_eq!(steady, 1000);
        // ... and one every 5 ms (200/s) gets about half through once the burst is spent.
        let mut bucket = TokenBucket::default();
        let over = (0..2000)
            .filter(|i| bucket.take(100, t0 + Duration::from_millis(5 * i)))
            .count();
        assert!((1000..=1030).contains(&over), "{over}");
    }

    #[test]
    fn the_drift_clock_counts_from_the_first_request_and_restarts_after_a_pause() {
        let t0 = Instant::now();
        let mut clock = DriftClock::default();
        assert_eq!(clock.elapsed(t0), 0.0);
        let mut t = t0;
        for _ in 0..30 {
            t += Duration::from_secs(1);
            clock.elapsed(t);
        }
        assert!((clock.elapsed(t) - 30.0).abs() < 1e-9);
        assert_eq!(clock.elapsed(t + DRIFT_IDLE + Duration::from_secs(1)), 0.0);
    }

    #[test]
    fn jitter_spreads_over_its_range() {
        let ms: Vec<u64> = (0..1000).map(|n| mix(n) % 9).collect();
        for v in 0..9 {
            let n = ms.iter().filter(|&&m| m == v).count();
            assert!((70..=150).contains(&n), "{v}: {n}");
        }
    }
}
