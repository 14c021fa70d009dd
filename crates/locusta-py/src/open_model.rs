//! The open model (`--arrival-rate`) for Python locustfiles: the same shared arrival schedule
//! as the Rust engine's (`locusta_run::arrival`), which the run controller owns and
//! keeps at the planned rate, claimed by greenlets instead of tokio tasks.
//!
//! A user claims the next due slot, sleeps on the gevent hub until it, and reports when it
//! started; the start delay is then added to the response times of the requests that user
//! makes in that iteration (see `SessionCore::set_schedule_lag`), so latency counts from the
//! intended start.

use std::sync::Arc;
use std::time::{Duration, Instant};

use locusta_run::arrival::Arrivals;
use pyo3::prelude::*;

/// The arrival schedule of one run.
#[pyclass(module = "locusta._core", frozen)]
pub struct OpenModel {
    arrivals: Arc<Arrivals>,
    /// Slots cross into Python as seconds since this instant.
    base: Instant,
}

impl OpenModel {
    /// The Python face of the run controller's schedule.
    pub(crate) fn new(arrivals: Arc<Arrivals>) -> OpenModel {
        OpenModel {
            arrivals,
            base: Instant::now(),
        }
    }
}

#[pymethods]
impl OpenModel {
    /// Claims the next due slot: `(slot, seconds until it is due)` (negative when late), or
    /// `None` while the rate is zero or the next slot is not claimable yet (see
    /// `locusta_run::arrival::CLAIM_AHEAD`).
    fn claim(&self) -> Option<(f64, f64)> {
        let due = self.arrivals.claim()?;
        let now = Instant::now();
        let slot = due.saturating_duration_since(self.base).as_secs_f64();
        let wait = if due >= now {
            due.duration_since(now).as_secs_f64()
        } else {
            -now.duration_since(due).as_secs_f64()
        };
        Some((slot, wait))
    }

    /// Records that the iteration of `slot` starts now; returns its start delay in seconds.
    fn started(&self, slot: f64) -> f64 {
        let due = self.base + Duration::from_secs_f64(slot.max(0.0));
        self.arrivals.started(due).as_secs_f64()
    }

    /// Iterations per second now.
    #[getter]
    fn rate(&self) -> f64 {
        self.arrivals.rate()
    }

    /// `(started, late, mean start delay s, max start delay s)` so far.
    fn stats(&self) -> (u64, u64, f64, f64) {
        let s = self.arrivals.stats();
        (s.started, s.late, s.mean_lag_s, s.max_lag_s)
    }
}
