//! The run controller for Python locustfiles: `locusta-run`'s [`Controller`], the same one the
//! Rust front end drives, ticked by the gevent driver (`python/locusta/_driver.py`).
//!
//! Python hands it [`Snapshot`]s of its runner (or of the master link) and carries out the
//! actions it returns; a Python `LoadTestShape` is called through [`PyShape`], on the hub's
//! thread, inside the tick that asks for it.

use std::sync::Arc;
use std::time::{Duration, Instant};

use locusta_run::{
    Action, Controller as Inner, Inputs, Interrupt, LoadShape, LoadState, ShapeTick,
};
use pyo3::exceptions::{PyOSError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyTuple;
use pyo3::IntoPyObjectExt;

use crate::dist::MasterLink;
use crate::open_model::OpenModel;
use crate::plan::RunPlan;
use crate::stats::Stats;
use crate::web_routes::WebRoutes;

/// What the users look like at a tick (see `locusta_run::Snapshot`).
#[pyclass(module = "locusta._core", frozen)]
#[derive(Clone)]
pub struct Snapshot {
    pub(crate) inner: locusta_run::Snapshot,
}

#[pymethods]
impl Snapshot {
    /// A local runner's state: its Locust state name, users running and wanted, users per
    /// class, ramps completed so far, and whether user code asked to stop the test
    /// (`StopTest`) or to end the run (`runner.quit()`).
    #[new]
    fn new(
        state: &str,
        users: u64,
        target_users: u64,
        class_counts: Vec<(String, u64)>,
        spawn_completions: u64,
        stop_requested: bool,
        quit_requested: bool,
    ) -> PyResult<Self> {
        let state = LoadState::from_locust(state)
            .ok_or_else(|| PyValueError::new_err(format!("unknown runner state {state:?}")))?;
        Ok(Snapshot {
            inner: locusta_run::Snapshot {
                state,
                users,
                target_users,
                class_counts,
                spawn_completions,
                stop_requested,
                quit_requested,
                workers: None,
            },
        })
    }

    /// Locust's state name.
    #[getter]
    fn state(&self) -> &'static str {
        self.inner.state.as_str()
    }

    /// Users running.
    #[getter]
    fn users(&self) -> u64 {
        self.inner.users
    }

    /// Users wanted.
    #[getter]
    fn target_users(&self) -> u64 {
        self.inner.target_users
    }

    /// Users per class.
    #[getter]
    fn class_counts(&self) -> Vec<(String, u64)> {
        self.inner.class_counts.clone()
    }

    /// Ramps completed so far.
    #[getter]
    fn spawn_completions(&self) -> u64 {
        self.inner.spawn_completions
    }

    /// Workers ready (0 when not a master).
    #[getter]
    fn worker_count(&self) -> u64 {
        self.inner.workers.as_ref().map_or(0, |w| w.ready)
    }

    /// The ids of the workers that take users (empty when not a master).
    #[getter]
    fn worker_ids(&self) -> Vec<String> {
        self.inner.workers.as_ref().map_or_else(Vec::new, |w| {
            w.rows
                .iter()
                .filter(|r| r.state != "missing")
                .map(|r| r.id.clone())
                .collect()
        })
    }
}

/// A Python `LoadTestShape` as the controller's [`LoadShape`]. `tick` goes through a Python
/// helper (`_driver.shape_tick`) that turns Locust's tuples into `(users, rate, class names)`
/// and handles `StopTest` and errors as Locust's shape worker does.
struct PyShape {
    shape: Py<PyAny>,
    tick: Py<PyAny>,
    name: String,
}

impl LoadShape for PyShape {
    fn tick(&mut self, _run_time: Duration, _user_count: u64) -> Option<ShapeTick> {
        Python::attach(|py| {
            let answer = self.tick.call1(py, (self.shape.bind(py),));
            match answer.and_then(|a| a.extract::<Option<(u64, f64, Option<Vec<String>>)>>(py)) {
                Ok(tick) => tick.map(|(users, spawn_rate, classes)| ShapeTick {
                    users,
                    spawn_rate,
                    classes,
                }),
                Err(e) => {
                    log::error!(target: "locusta.runners", "the load shape's tick failed: {e}");
                    None
                }
            }
        })
    }

    fn reset(&mut self) {
        Python::attach(|py| {
            if let Err(e) = self.shape.call_method0(py, "reset_time") {
                log::error!(target: "locusta.runners", "the load shape's reset_time failed: {e}");
            }
        });
    }

    fn name(&self) -> String {
        self.name.clone()
    }
}

fn action_tuple<'py>(py: Python<'py>, action: Action) -> PyResult<Bound<'py, PyTuple>> {
    let items = match action {
        Action::Spawn {
            users,
            rate,
            classes,
        } => vec![
            "spawn".into_bound_py_any(py)?,
            users.into_bound_py_any(py)?,
            rate.into_bound_py_any(py)?,
            classes.into_bound_py_any(py)?,
        ],
        Action::SetHost(host) => vec![
            "set_host".into_bound_py_any(py)?,
            host.into_bound_py_any(py)?,
        ],
        Action::ApplyOptions(values) => vec![
            "apply_options".into_bound_py_any(py)?,
            values.into_bound_py_any(py)?,
        ],
        Action::StopUsers => vec!["stop".into_bound_py_any(py)?],
        Action::StatsReset => vec!["stats_reset".into_bound_py_any(py)?],
        Action::Quit => vec!["quit".into_bound_py_any(py)?],
    };
    PyTuple::new(py, items)
}

/// The run controller of a Python run.
#[pyclass(module = "locusta._core", unsendable)]
pub struct Controller {
    inner: Option<Inner>,
}

impl Controller {
    fn inner(&mut self) -> PyResult<&mut Inner> {
        self.inner
            .as_mut()
            .ok_or_else(|| pyo3::exceptions::PyRuntimeError::new_err("the run has finished"))
    }
}

#[pymethods]
impl Controller {
    /// Opens the run's outputs (CSV files, metrics, the web UI). `shape` is the load shape
    /// instance and `shape_tick` the helper that asks it; a master passes its `link`. Raises
    /// `OSError` with the reason when an output cannot be opened. `web_routes` takes the web
    /// UI's requests for paths it does not serve (the locustfile's Flask routes).
    #[new]
    #[pyo3(signature = (plan, stats, shape=None, shape_tick=None, link=None, web_routes=None))]
    fn new(
        py: Python<'_>,
        plan: &RunPlan,
        stats: &Stats,
        shape: Option<Py<PyAny>>,
        shape_tick: Option<Py<PyAny>>,
        link: Option<&MasterLink>,
        web_routes: Option<&WebRoutes>,
    ) -> PyResult<Self> {
        let shape: Option<Box<dyn LoadShape>> = match (shape, shape_tick) {
            (Some(shape), Some(tick)) => {
                let name = shape.bind(py).get_type().name()?.to_string();
                Some(Box::new(PyShape { shape, tick, name }))
            }
            _ => None,
        };
        let inputs = Inputs {
            shape,
            worker_logs: link.map(MasterLink::worker_logs),
            web_routes: web_routes.map(WebRoutes::forwarder),
        };
        let plan = plan.take()?;
        let hub = stats.hub();
        let inner = py
            .detach(move || Inner::new(*plan, hub, inputs))
            .map_err(PyOSError::new_err)?;
        Ok(Controller { inner: Some(inner) })
    }

    /// One step: returns the actions as tuples, in order: `("spawn", users, rate, classes)`,
    /// `("set_host", host)`, `("apply_options", [(dest, text)])`, `("stop",)`,
    /// `("stats_reset",)`, `("quit",)`.
    fn tick<'py>(
        &mut self,
        py: Python<'py>,
        snapshot: &Snapshot,
    ) -> PyResult<Vec<Bound<'py, PyTuple>>> {
        let actions = self.inner()?.tick(Instant::now(), &snapshot.inner);
        actions.into_iter().map(|a| action_tuple(py, a)).collect()
    }

    /// Seconds until the next tick is due.
    fn next_tick(&mut self) -> PyResult<f64> {
        let now = Instant::now();
        Ok(self
            .inner()?
            .next_tick(now)
            .saturating_duration_since(now)
            .as_secs_f64())
    }

    /// A signal arrived: `"sigint"` or `"sigterm"`.
    fn interrupt(&mut self, signal: &str) -> PyResult<()> {
        let signal = match signal {
            "sigint" => Interrupt::CtrlC,
            "sigterm" => Interrupt::Terminate,
            other => return Err(PyValueError::new_err(format!("unknown signal {other:?}"))),
        };
        self.inner()?.interrupt(signal);
        Ok(())
    }

    /// Why the run ended (`"Interrupted"`, `"RunTime"`, ...), or None while it runs.
    fn stop_reason(&mut self) -> PyResult<Option<String>> {
        Ok(self.inner()?.stop_reason().map(|r| format!("{r:?}")))
    }

    /// The exit code by Locust's rules (see `locusta_run::Controller::conclude`).
    #[pyo3(signature = (process_exit_code=None, unhandled_exception=false))]
    fn conclude(
        &mut self,
        process_exit_code: Option<i32>,
        unhandled_exception: bool,
    ) -> PyResult<i32> {
        Ok(self
            .inner()?
            .conclude(process_exit_code, unhandled_exception))
    }

    /// Writes every output and closes the web UI; returns the final exit code.
    fn finish(&mut self, py: Python<'_>, code: i32) -> PyResult<i32> {
        let inner = self
            .inner
            .take()
            .ok_or_else(|| pyo3::exceptions::PyRuntimeError::new_err("the run has finished"))?;
        Ok(py.detach(move || inner.finish(code)))
    }

    /// The open model's schedule for the users (`--arrival-rate`), or None.
    fn open_model(&mut self) -> PyResult<Option<OpenModel>> {
        Ok(self.inner()?.arrivals().map(|a: Arc<_>| OpenModel::new(a)))
    }

    /// The web UI's address, or None.
    fn web_url(&mut self) -> PyResult<Option<String>> {
        Ok(self.inner()?.web_url().map(str::to_owned))
    }
}
