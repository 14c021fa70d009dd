//! Request statistics for the Python front end: a handle on the Rust [`StatsHub`], so that every
//! request is recorded in Rust (microsecond HDR histograms) and every output — console tables,
//! CSV files, JSON — is the same Rust code the native engine uses.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use locusta_stats::csv::CsvWriter;
use locusta_stats::{console, json, Entry, Sample, StatsHub, StatsLimits};
use locusta_util::lock;
use locusta_util::unix_now;
use pyo3::exceptions::PyOSError;
use pyo3::prelude::*;
use pyo3::types::PyDict;

/// The statistics of one run plus its CSV writer.
#[pyclass(module = "locusta._core", frozen)]
pub struct Stats {
    hub: Arc<StatsHub>,
    csv: Mutex<Option<CsvWriter>>,
}

impl Stats {
    /// The shared statistics store (for recording from the I/O threads).
    pub(crate) fn hub(&self) -> Arc<StatsHub> {
        Arc::clone(&self.hub)
    }

    /// Records one sample (response time in microseconds).
    pub(crate) fn record_us(
        &self,
        method: &str,
        name: &str,
        rt_us: Option<u64>,
        len: u64,
        error: Option<&str>,
    ) {
        self.hub.record(&Sample {
            method,
            name,
            response_time_us: rt_us,
            content_length: len,
            error,
        });
    }
}

fn entry_dict<'py>(py: Python<'py>, e: &Entry) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("name", e.name())?;
    d.set_item("method", e.method())?;
    d.set_item("num_requests", e.num_requests())?;
    d.set_item("num_none_requests", e.num_none_requests())?;
    d.set_item("num_failures", e.num_failures())?;
    d.set_item("fail_ratio", e.fail_ratio())?;
    d.set_item("total_response_time", e.total_response_time())?;
    d.set_item("avg_response_time", e.avg_response_time())?;
    d.set_item("min_response_time", e.min_response_time())?;
    d.set_item("max_response_time", e.max_response_time())?;
    d.set_item("median_response_time", e.median_response_time())?;
    d.set_item("current_rps", e.current_rps())?;
    d.set_item("current_fail_per_sec", e.current_fail_per_sec())?;
    d.set_item("total_rps", e.total_rps())?;
    d.set_item("total_fail_per_sec", e.total_fail_per_sec())?;
    d.set_item("avg_content_length", e.avg_content_length())?;
    d.set_item("total_content_length", e.total_content_length())?;
    d.set_item("start_time", e.start_time())?;
    d.set_item("last_request_timestamp", e.last_request_timestamp())?;
    Ok(d)
}

#[pymethods]
impl Stats {
    /// A new, empty statistics store; `max_entries` caps distinct names.
    #[new]
    #[pyo3(signature = (max_entries=1000))]
    fn new(max_entries: usize) -> Self {
        Stats {
            hub: StatsHub::new(StatsLimits {
                max_entries,
                ..StatsLimits::default()
            }),
            csv: Mutex::new(None),
        }
    }

    /// Locust's `log_request` + `log_error`: `response_time` in ms (None = a "none" request),
    /// `error` the failure text (None = success).
    #[pyo3(signature = (method, name, response_time, response_length=0, error=None))]
    fn record(
        &self,
        method: &str,
        name: &str,
        response_time: Option<f64>,
        response_length: Option<i64>,
        error: Option<&str>,
    ) {
        let rt_us = response_time
            .filter(|v| v.is_finite())
            .map(|ms| (ms.max(0.0) * 1000.0).round() as u64);
        self.record_us(
            method,
            name,
            rt_us,
            response_length.unwrap_or(0).max(0) as u64,
            error,
        );
    }

    /// Counts an exception raised by user code, keyed by its traceback.
    fn log_exception(&self, msg: &str, traceback: &str) {
        self.hub.log_exception(msg, traceback, "local");
    }

    /// Folds every thread's pending samples into the aggregate.
    fn merge(&self) {
        self.hub.merge();
    }

    /// Locust's `reset_all`.
    fn reset(&self) {
        self.hub.reset();
    }

    /// The "Aggregated" entry as a dict of Locust's StatsEntry attributes.
    fn total<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        self.hub.read(|agg| entry_dict(py, agg.total()))
    }

    /// One entry as a dict, or None if nothing was recorded under (name, method).
    fn entry<'py>(
        &self,
        py: Python<'py>,
        name: &str,
        method: &str,
    ) -> PyResult<Option<Bound<'py, PyDict>>> {
        self.hub.read(|agg| match agg.entry(name, method) {
            Some(e) => entry_dict(py, e).map(Some),
            None => Ok(None),
        })
    }

    /// Every entry (creation order) as dicts.
    fn entries<'py>(&self, py: Python<'py>) -> PyResult<Vec<Bound<'py, PyDict>>> {
        self.hub.read(|agg| {
            agg.entries_in_creation_order()
                .into_iter()
                .map(|e| entry_dict(py, e))
                .collect()
        })
    }

    /// Response-time percentile `p` (0..1) in ms of (name, method); ("Aggregated", "") = total.
    #[pyo3(signature = (p, name="Aggregated", method=""))]
    fn percentile(&self, p: f64, name: &str, method: &str) -> f64 {
        self.hub.read(|agg| {
            if name == "Aggregated" && method.is_empty() {
                agg.total().percentile(p)
            } else {
                agg.entry(name, method).map_or(0.0, |e| e.percentile(p))
            }
        })
    }

    /// Current-window (last ~10 s) percentile, like `get_current_response_time_percentile`.
    #[pyo3(signature = (p, name="Aggregated", method=""))]
    fn current_percentile(&self, p: f64, name: &str, method: &str) -> Option<f64> {
        self.hub.read(|agg| {
            if name == "Aggregated" && method.is_empty() {
                agg.total().current_percentile(p)
            } else {
                agg.entry(name, method)
                    .and_then(|e| e.current_percentile(p))
            }
        })
    }

    /// Error rows: (method, name, error, occurrences).
    fn errors(&self) -> Vec<(String, String, String, u64)> {
        self.hub.read(|agg| {
            agg.errors()
                .into_iter()
                .map(|r| {
                    (
                        r.method.clone(),
                        r.name.clone(),
                        r.error.clone(),
                        r.occurrences,
                    )
                })
                .collect()
        })
    }

    /// Exception rows: (count, msg, traceback).
    fn exceptions(&self) -> Vec<(u64, String, String)> {
        self.hub.read(|agg| {
            agg.exceptions()
                .into_iter()
                .map(|r| (r.count, r.msg.clone(), r.traceback.clone()))
                .collect()
        })
    }

    /// True when any request failed or user code raised (what makes the exit code non-zero).
    fn has_errors(&self) -> bool {
        self.hub
            .read(|agg| !agg.errors().is_empty() || !agg.exceptions().is_empty())
    }

    /// Locust's periodic (`current=True`) or final console stats table.
    #[pyo3(signature = (current=true))]
    fn stats_table(&self, current: bool) -> String {
        self.hub.read(|agg| console::stats_table(agg, current))
    }

    /// Locust's response-time percentiles table.
    fn percentiles_table(&self) -> String {
        self.hub.read(console::percentiles_table)
    }

    /// Locust's error report ("" when there are no errors).
    fn error_report(&self) -> String {
        self.hub.read(console::error_report)
    }

    /// Locust's `--json` document.
    fn json(&self) -> String {
        self.hub.read(json::stats_json)
    }

    /// Creates the four CSV files of `--csv PREFIX`.
    fn csv_open(&self, prefix: PathBuf, full_history: bool) -> PyResult<()> {
        let w = CsvWriter::create(&prefix, full_history)
            .map_err(|e| PyOSError::new_err(e.to_string()))?;
        *lock(&self.csv) = Some(w);
        Ok(())
    }

    /// Rewrites the CSV files and appends history rows (no-op without `csv_open`).
    fn csv_write(&self, user_count: u64) -> PyResult<()> {
        let mut guard = lock(&self.csv);
        if let Some(w) = guard.as_mut() {
            self.hub
                .read(|agg| w.write_snapshot(agg, user_count, unix_now()))
                .map_err(|e| PyOSError::new_err(e.to_string()))?;
        }
        Ok(())
    }
}
