//! The insight features for Python locustfiles: thresholds, JUnit, the diagnosis and the HTML
//! report, by the same Rust code the native engine runs (`locusta::insight`).
//!
//! The Python runner creates one [`Insight`] from the parsed options, feeds it after each
//! statistics tick (which also sets the user gauge of `--metrics-port`) and asks it for the exit
//! code and the end-of-run outputs.

use locusta::insight::Insight as Inner;
use locusta_options::Options;
use pyo3::exceptions::{PyOSError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::stats::Stats;

fn item<'py>(d: &Bound<'py, PyDict>, key: &str) -> PyResult<Option<Bound<'py, PyAny>>> {
    Ok(d.get_item(key)?.filter(|v| !v.is_none()))
}

fn text(d: &Bound<'_, PyDict>, key: &str) -> PyResult<Option<String>> {
    item(d, key)?.map(|v| v.extract::<String>()).transpose()
}

fn whole(d: &Bound<'_, PyDict>, key: &str) -> PyResult<Option<u64>> {
    item(d, key)?.map(|v| v.extract::<u64>()).transpose()
}

/// The run's thresholds, history and report settings.
#[pyclass(module = "locusta._core", unsendable)]
pub struct Insight {
    inner: Inner,
    /// Runs the `--metrics-port` server (one thread of its own).
    metrics_runtime: Option<tokio::runtime::Runtime>,
}

#[pymethods]
impl Insight {
    /// From the options dictionary `parse_options` returned; `ValueError` explains bad input.
    #[new]
    fn new(opts: &Bound<'_, PyDict>, host: String) -> PyResult<Self> {
        let o = Options {
            locustfile: text(opts, "locustfile")?.unwrap_or_default(),
            num_users: whole(opts, "num_users")?,
            spawn_rate: item(opts, "spawn_rate")?
                .map(|v| v.extract::<f64>())
                .transpose()?,
            run_time: whole(opts, "run_time")?,
            html_file: text(opts, "html_file")?,
            thresholds: item(opts, "thresholds")?
                .map(|v| v.extract::<Vec<String>>())
                .transpose()?
                .unwrap_or_default(),
            threshold_abort_after: whole(opts, "threshold_abort_after")?,
            junit_file: text(opts, "junit_file")?,
            slo: text(opts, "slo")?,
            find_capacity: item(opts, "find_capacity")?
                .map(|v| v.is_truthy())
                .transpose()?
                .unwrap_or(false),
            capacity_step: whole(opts, "capacity_step")?,
            capacity_step_time: whole(opts, "capacity_step_time")?,
            ..Options::default()
        };
        let locustfile = o.locustfile.clone();
        let inner = Inner::from_options(&o, &locustfile, &host).map_err(PyValueError::new_err)?;
        let mut me = Insight {
            inner,
            metrics_runtime: None,
        };
        me.inner.info.start_unix = locusta_util::unix_now();
        Ok(me)
    }

    /// After a statistics tick: records the history; returns why to stop when a threshold
    /// failed and `--threshold-abort-after` is in force.
    #[pyo3(signature = (stats, users, elapsed, target_rate=None))]
    fn after_merge(
        &mut self,
        stats: &Stats,
        users: u64,
        elapsed: f64,
        target_rate: Option<f64>,
    ) -> Option<String> {
        self.inner
            .after_merge(&stats.hub(), users, target_rate, elapsed)
    }

    /// Puts the open model's counters into the report (`--arrival-rate`).
    fn set_open_model(&mut self, model: &crate::open_model::OpenModel) {
        self.inner.set_open_model(model.arrivals.stats());
    }

    /// Serves Prometheus metrics on `host:port` (`--metrics-port`) until the run ends, from a
    /// thread of its own; `OSError` says why the port could not be bound.
    fn start_metrics(&mut self, port: u16, host: &str, stats: &Stats) -> PyResult<()> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("locusta-metrics")
            .enable_all()
            .build()
            .map_err(|e| PyOSError::new_err(format!("cannot start the metrics thread: {e}")))?;
        let hub = stats.hub();
        runtime
            .block_on(self.inner.start_metrics(Some(port), host, &hub))
            .map_err(PyOSError::new_err)?;
        self.metrics_runtime = Some(runtime);
        Ok(())
    }

    /// Whether `--find-capacity` drives the load (the runner then asks [`Insight::capacity_users`]
    /// each second instead of using `-u`).
    fn finds_capacity(&self) -> bool {
        self.inner.finds_capacity()
    }

    /// Users added per capacity step (`--capacity-step`).
    fn capacity_step(&self) -> u64 {
        self.inner.capacity_step()
    }

    /// The users the capacity search wants now, or `None` when the search is over.
    fn capacity_users(&mut self, elapsed: f64) -> Option<u64> {
        self.inner.capacity_users(elapsed)
    }

    /// Forgets the history (`--reset-stats`).
    fn reset(&mut self) {
        self.inner.reset();
    }

    /// The exit code after the thresholds: `code`, or 3 when one failed or aborted the run.
    fn exit_code(&mut self, stats: &Stats, code: i32, aborted: bool) -> i32 {
        self.inner.exit_code(&stats.hub(), code, aborted)
    }

    /// The HTML report of the run so far (the web UI's `/stats/report`).
    fn report_now(&self, stats: &Stats) -> String {
        self.inner.report_now(&stats.hub())
    }

    /// Prints the diagnosis and threshold table, writes JUnit and HTML; returns the exit code.
    fn finish(&mut self, stats: &Stats, code: i32) -> i32 {
        self.inner.finish(&stats.hub(), code)
    }
}
