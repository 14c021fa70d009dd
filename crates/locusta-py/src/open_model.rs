//! The open model (`--arrival-rate`) for Python locustfiles: the same shared arrival schedule
//! as the Rust engine's (`locusta::arrival`), claimed by greenlets instead of tokio tasks.
//!
//! A user claims the next due slot, sleeps on the gevent hub until it, and reports when it
//! started; the start delay is then added to the response times of the requests that user
//! makes in that iteration (see `SessionCore::set_schedule_lag`), so latency counts from the
//! intended start.

use std::sync::Arc;
use std::time::{Duration, Instant};

use locusta::arrival::{ArrivalPlan, Arrivals};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

/// The arrival schedule of one run.
#[pyclass(module = "locusta._core", frozen)]
pub struct OpenModel {
    plan: ArrivalPlan,
    run_time: Option<Duration>,
    pub(crate) arrivals: Arc<Arrivals>,
    /// Slots cross into Python as seconds since this instant.
    base: Instant,
}

#[pymethods]
impl OpenModel {
    /// `spec` is `--arrival-rate` (`RATE` or `FROM:TO`); `run_time` is `-t` in seconds. A bad
    /// spec, or a ramp without a run time, raises `ValueError` with the CLI's message.
    #[new]
    #[pyo3(signature = (spec, run_time=None))]
    fn new(spec: &str, run_time: Option<f64>) -> PyResult<Self> {
        let plan = ArrivalPlan::parse(spec).map_err(PyValueError::new_err)?;
        let run_time = run_time
            .filter(|t| t.is_finite() && *t > 0.0)
            .map(Duration::from_secs_f64);
        if plan.from != plan.to && run_time.is_none() {
            return Err(PyValueError::new_err(
                "--arrival-rate FROM:TO ramps over the run time; add -t",
            ));
        }
        Ok(OpenModel {
            arrivals: Arc::new(Arrivals::new(plan.rate_at(Duration::ZERO, run_time))),
            plan,
            run_time,
            base: Instant::now(),
        })
    }

    /// Claims the next due slot: `(slot, seconds until it is due)` (negative when late), or
    /// `None` while the rate is zero.
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

    /// Follows a `FROM:TO` ramp: the rate `elapsed` seconds into the run.
    fn tick(&self, elapsed: f64) {
        let at = Duration::from_secs_f64(elapsed.max(0.0));
        self.arrivals.set_rate(self.plan.rate_at(at, self.run_time));
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
