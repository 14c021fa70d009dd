//! The options and the run plan of a Python run, as opaque handles.
//!
//! The command line is parsed once by `locusta-options` into a [`ParsedOptions`] handle; Python
//! reads it as a dict (for `environment.parsed_options`, generated from the same `Options`
//! struct, not copied by hand). The locustfile's facts then go with the handle into a
//! [`RunPlan`], checked by `locusta-run` exactly as for Rust user classes; the controller and the
//! master link take the plan itself, never dicts, JSON strings or argv.

use std::sync::Mutex;

use locusta_options::{ExtraValue, Parsed, Source};
use locusta_run::plan::{ClassFacts, LocustfileFacts, Role, RunPlan as Plan, Setup, ShapeFacts};
use locusta_util::lock;
use locusta_web::{ExtraOptionInfo, TaskInfo};
use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};

use crate::PlanExit;

/// The parsed command line (config files, `LOCUST_*` variables, flags).
#[pyclass(module = "locusta._core", frozen)]
pub struct ParsedOptions {
    parsed: Mutex<Option<Parsed>>,
}

impl ParsedOptions {
    pub(crate) fn new(parsed: Parsed) -> ParsedOptions {
        ParsedOptions {
            parsed: Mutex::new(Some(parsed)),
        }
    }

    fn with<T>(&self, f: impl FnOnce(&Parsed) -> PyResult<T>) -> PyResult<T> {
        match lock(&self.parsed).as_ref() {
            Some(p) => f(p),
            None => Err(PyRuntimeError::new_err(
                "the options were handed to the run plan",
            )),
        }
    }
}

fn source_name(s: &Source) -> String {
    match s {
        Source::Default => "default".to_owned(),
        other => other.to_string(),
    }
}

#[pymethods]
impl ParsedOptions {
    /// Every option by Locust's `dest` name.
    fn options<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.with(|p| {
            let value = serde_json::to_value(&p.options)
                .map_err(|e| PyRuntimeError::new_err(e.to_string()))?;
            json_to_py(py, &value)
        })
    }

    /// Where each option came from: `"default"`, `"command line"`, a file, a variable.
    fn sources<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        self.with(|p| {
            let d = PyDict::new(py);
            for (k, v) in &p.sources {
                d.set_item(*k, source_name(v))?;
            }
            Ok(d)
        })
    }

    /// The locustfile's declared options that were set: `{dest: (value, source)}`, value a
    /// str, or a bool for flags.
    fn extras<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        self.with(|p| {
            let d = PyDict::new(py);
            for (k, (v, src)) in &p.extras {
                match v {
                    ExtraValue::Flag(b) => d.set_item(k, (*b, src.to_string()))?,
                    ExtraValue::Text(t) => d.set_item(k, (t, src.to_string()))?,
                }
            }
            Ok(d)
        })
    }
}

fn json_to_py<'py>(py: Python<'py>, v: &serde_json::Value) -> PyResult<Bound<'py, PyAny>> {
    use serde_json::Value;
    Ok(match v {
        Value::Null => py.None().into_bound(py),
        Value::Bool(b) => b.into_pyobject(py)?.to_owned().into_any(),
        Value::Number(n) => match (n.as_i64(), n.as_u64()) {
            (Some(i), _) => i.into_pyobject(py)?.into_any(),
            (None, Some(u)) => u.into_pyobject(py)?.into_any(),
            _ => n.as_f64().unwrap_or(0.0).into_pyobject(py)?.into_any(),
        },
        Value::String(s) => s.into_pyobject(py)?.into_any(),
        Value::Array(items) => {
            let l = PyList::empty(py);
            for x in items {
                l.append(json_to_py(py, x)?)?;
            }
            l.into_any()
        }
        Value::Object(map) => {
            let d = PyDict::new(py);
            for (k, x) in map {
                d.set_item(k, json_to_py(py, x)?)?;
            }
            d.into_any()
        }
    })
}

/// A task as Python describes it: name, weight, the tasks of a nested TaskSet.
#[derive(FromPyObject)]
pub struct PyTask(String, u64, Vec<PyTask>);

impl From<PyTask> for TaskInfo {
    fn from(t: PyTask) -> TaskInfo {
        TaskInfo {
            name: t.0,
            weight: t.1,
            tasks: t.2.into_iter().map(TaskInfo::from).collect(),
        }
    }
}

/// A user class as Python describes it.
#[derive(FromPyObject)]
#[pyo3(from_item_all)]
pub struct PyClassFacts {
    name: String,
    weight: f64,
    fixed_count: u64,
    host: Option<String>,
    needs_host: bool,
    tasks: Vec<PyTask>,
}

/// A declared option for the web form: `(dest, default text, help, choices, is_secret)`.
#[derive(FromPyObject)]
pub struct PyExtraOption(String, String, String, Option<Vec<String>>, bool);

/// What a Python locustfile defines, as its loader found it.
#[derive(FromPyObject)]
#[pyo3(from_item_all)]
pub struct PyFacts {
    classes: Vec<PyClassFacts>,
    /// `(class name, use_common_options)` of the load shape.
    shape: Option<(String, bool)>,
    extra_options: Vec<PyExtraOption>,
    script: String,
    locustfiles: Vec<(String, String)>,
}

impl From<PyFacts> for LocustfileFacts {
    fn from(f: PyFacts) -> LocustfileFacts {
        LocustfileFacts {
            classes: f
                .classes
                .into_iter()
                .map(|c| ClassFacts {
                    name: c.name,
                    weight: c.weight,
                    fixed_count: c.fixed_count,
                    host: c.host.filter(|h| !h.is_empty()),
                    needs_host: c.needs_host,
                    tasks: c.tasks.into_iter().map(TaskInfo::from).collect(),
                })
                .collect(),
            shape: f.shape.map(|(name, uses_common_options)| ShapeFacts {
                name,
                uses_common_options,
            }),
            extra_options: f
                .extra_options
                .into_iter()
                .map(|o| ExtraOptionInfo {
                    name: o.0,
                    default_value: o.1,
                    help: o.2,
                    choices: o.3,
                    is_secret: o.4,
                })
                .collect(),
            script: f.script,
            default_host: None,
            locustfiles: f.locustfiles,
            web_routes: true,
        }
    }
}

/// The checked plan of a run (see `locusta_run::RunPlan`).
#[pyclass(module = "locusta._core", frozen)]
pub struct RunPlan {
    plan: Mutex<Option<Box<Plan>>>,
    role: Role,
    classes: Vec<String>,
    host: Option<String>,
    web_ui: bool,
}

impl RunPlan {
    /// Hands the plan over (to the controller, or to the master link).
    pub(crate) fn take(&self) -> PyResult<Box<Plan>> {
        lock(&self.plan)
            .take()
            .ok_or_else(|| PyRuntimeError::new_err("the run plan is already in use"))
    }

    /// The plan without taking it.
    pub(crate) fn with<T>(&self, f: impl FnOnce(&Plan) -> T) -> PyResult<T> {
        match lock(&self.plan).as_ref() {
            Some(p) => Ok(f(p)),
            None => Err(PyRuntimeError::new_err("the run plan is already in use")),
        }
    }
}

#[pymethods]
impl RunPlan {
    /// Checks the options against the locustfile. Raises `PlanExit(code)` when the run does not
    /// start (`--list`, or a refusal already logged).
    #[new]
    fn new(options: &ParsedOptions, facts: PyFacts) -> PyResult<Self> {
        let parsed = lock(&options.parsed)
            .take()
            .ok_or_else(|| PyRuntimeError::new_err("the options were used already"))?;
        match Plan::build(parsed, facts.into()) {
            Setup::Exit(code) => Err(PlanExit::new_err(code)),
            Setup::Run(plan) => Ok(RunPlan {
                role: plan.role.clone(),
                classes: plan.classes.iter().map(|c| c.name.clone()).collect(),
                host: plan.host.clone(),
                web_ui: plan.web.is_some(),
                plan: Mutex::new(Some(plan)),
            }),
        }
    }

    /// `"standalone"`, `"master"`, `"worker"` or `"worker_processes"`.
    #[getter]
    fn role(&self) -> &'static str {
        match self.role {
            Role::Standalone => "standalone",
            Role::Master(_) => "master",
            Role::Worker => "worker",
            Role::WorkerProcesses(_) => "worker_processes",
        }
    }

    /// `--worker --processes N`: N.
    #[getter]
    fn worker_processes(&self) -> Option<u64> {
        match self.role {
            Role::WorkerProcesses(n) => Some(n),
            _ => None,
        }
    }

    /// The names of the user classes that run.
    #[getter]
    fn classes(&self) -> Vec<String> {
        self.classes.clone()
    }

    /// `--host`, when given.
    #[getter]
    fn host(&self) -> Option<String> {
        self.host.clone()
    }

    /// Whether this run serves the web UI (not headless, not a worker).
    #[getter]
    fn web_ui(&self) -> bool {
        self.web_ui
    }
}
