//! The `locusta._core` Python extension: what the pure-Python part of the `locusta` package
//! needs from Rust to run Locust locustfiles on the locusta engine.
//!
//! * [`http_io`]: the HTTP I/O runtime (`HttpIo`), per-user HTTP sessions and the completion
//!   queue that hands finished exchanges to gevent's hub.
//! * [`web`]: the web UI (`locusta-web`) driven from the gevent loop.
//! * [`stats`]: request statistics in the Rust `StatsHub` and Locust's outputs (console, CSV,
//!   JSON) rendered by `locusta-stats`.
//! * Here: Locust's command line (`locusta-options`), the user dispatch order
//!   (`locusta::spawn::UserSequence`), logging, and `locusta demo` / `demo-target`.

/// The request path allocates a handful of small, short-lived objects per request (and a task per
/// exchange), which mimalloc's free lists serve faster than glibc's malloc. Only Rust's own
/// allocations use it; Python's memory is untouched.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::collections::HashMap;
use std::ffi::OsString;
use std::path::PathBuf;

use locusta::spawn::{ClassSlot, UserSequence};
use locusta_options::{ExtraOption, ExtraValue, Options, Source};
use pyo3::create_exception;
use pyo3::exceptions::{PyException, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyDict;

pub mod dist;
pub mod http_io;
pub mod inline_io;
pub mod insight;
pub mod open_model;
pub mod stats;
pub mod web;

create_exception!(
    _core,
    UsageError,
    PyException,
    "The command line was refused, or help/version was asked for: args are (message, exit_code, use_stdout)."
);

fn options_dict<'py>(py: Python<'py>, o: &Options) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("locustfile", &o.locustfile)?;
    d.set_item("config", o.config.as_ref().map(|p| p.display().to_string()))?;
    d.set_item("host", &o.host)?;
    d.set_item("num_users", o.num_users)?;
    d.set_item("spawn_rate", o.spawn_rate)?;
    d.set_item("run_time", o.run_time)?;
    d.set_item("list_commands", o.list_commands)?;
    d.set_item("web_host", &o.web_host)?;
    d.set_item("web_host_display_name", &o.web_host_display_name)?;
    d.set_item("web_port", o.web_port)?;
    d.set_item("headless", o.headless)?;
    d.set_item("autostart", o.autostart)?;
    d.set_item("autoquit", o.autoquit)?;
    d.set_item("headful", o.headful)?;
    d.set_item("web_login", o.web_login)?;
    d.set_item("web_auth", &o.web_auth)?;
    d.set_item("tls_cert", &o.tls_cert)?;
    d.set_item("tls_key", &o.tls_key)?;
    d.set_item("class_picker", o.class_picker)?;
    d.set_item("build_path", &o.build_path)?;
    d.set_item("web_base_path", &o.web_base_path)?;
    d.set_item("master", o.master)?;
    d.set_item("master_bind_host", &o.master_bind_host)?;
    d.set_item("master_bind_port", o.master_bind_port)?;
    d.set_item("expect_workers", o.expect_workers)?;
    d.set_item("expect_workers_max_wait", o.expect_workers_max_wait)?;
    d.set_item("enable_rebalancing", o.enable_rebalancing)?;
    d.set_item("worker", o.worker)?;
    d.set_item("processes", o.processes)?;
    d.set_item("master_host", &o.master_host)?;
    d.set_item("master_port", o.master_port)?;
    d.set_item("tags", &o.tags)?;
    d.set_item("exclude_tags", &o.exclude_tags)?;
    d.set_item("csv_prefix", &o.csv_prefix)?;
    d.set_item("stats_history_enabled", o.stats_history_enabled)?;
    d.set_item("print_stats", o.print_stats)?;
    d.set_item("only_summary", o.only_summary)?;
    d.set_item("reset_stats", o.reset_stats)?;
    d.set_item("html_file", &o.html_file)?;
    d.set_item("json", o.json)?;
    d.set_item("json_file", &o.json_file)?;
    d.set_item("skip_log_setup", o.skip_log_setup)?;
    d.set_item("loglevel", &o.loglevel)?;
    d.set_item("logfile", &o.logfile)?;
    d.set_item("show_task_ratio", o.show_task_ratio)?;
    d.set_item("show_task_ratio_json", o.show_task_ratio_json)?;
    d.set_item("exit_code_on_error", o.exit_code_on_error)?;
    d.set_item("stop_timeout", o.stop_timeout)?;
    d.set_item("equal_weights", o.equal_weights)?;
    d.set_item("profile", &o.profile)?;
    d.set_item("otel", o.otel)?;
    d.set_item("user_classes", &o.user_classes)?;
    d.set_item("threads", o.threads)?;
    d.set_item("max_stats_entries", o.max_stats_entries)?;
    d.set_item("thresholds", &o.thresholds)?;
    d.set_item("threshold_abort_after", o.threshold_abort_after)?;
    d.set_item("junit_file", &o.junit_file)?;
    d.set_item("slo", &o.slo)?;
    d.set_item("find_capacity", o.find_capacity)?;
    d.set_item("capacity_step", o.capacity_step)?;
    d.set_item("capacity_step_time", o.capacity_step_time)?;
    d.set_item("metrics_port", o.metrics_port)?;
    d.set_item("arrival_rate", &o.arrival_rate)?;
    Ok(d)
}

/// One declared option as Python passes it: (dest, long name without `--`, short name or None,
/// environment variable or None, takes a value, help, metavar or None, hidden).
pub(crate) type ExtraTuple = (
    String,
    String,
    Option<char>,
    Option<String>,
    bool,
    String,
    Option<String>,
    bool,
);

/// Parses `argv` as the CLI does (config files, `LOCUST_*` environment variables, flags) with
/// the locustfile's declared options; `UsageError` for refused input and `--help`/`--version`.
pub(crate) fn parse_argv(
    argv: Vec<String>,
    extras: Option<Vec<ExtraTuple>>,
) -> PyResult<locusta_options::Parsed> {
    let env: HashMap<String, String> = std::env::vars().collect();
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
    let home = std::env::var_os("HOME").map(PathBuf::from);
    let extras: Vec<ExtraOption> = extras
        .unwrap_or_default()
        .into_iter()
        .map(
            |(dest, long, short, env, takes_value, help, metavar, hidden)| ExtraOption {
                dest,
                long,
                short,
                env,
                takes_value,
                help,
                metavar,
                hidden,
            },
        )
        .collect();
    locusta_options::parse_with_extras(argv, &env, &cwd, home.as_deref(), &extras)
        .map_err(|e| UsageError::new_err((e.message, e.exit_code, e.use_stdout)))
}

/// Parses Locust's command line (`argv[0]` is the program name) with config files and `LOCUST_*`
/// variables, plus the options the locustfile declared (`extras`, see [`ExtraTuple`]).
/// Returns `(options, sources, extra_values)`: options keyed by Locust's `dest` names, sources
/// saying where each value came from (`"default"`, `"command line"`, ...), and the declared
/// options that were set as `{dest: (value, source)}` (value: str, or bool for flags). Raises
/// `UsageError` for refused input and for `--help` / `--version`.
#[pyfunction]
#[pyo3(signature = (argv, extras=None))]
fn parse_options<'py>(
    py: Python<'py>,
    argv: Vec<String>,
    extras: Option<Vec<ExtraTuple>>,
) -> PyResult<(Bound<'py, PyDict>, Bound<'py, PyDict>, Bound<'py, PyDict>)> {
    let parsed = parse_argv(argv, extras)?;
    let opts = options_dict(py, &parsed.options)?;
    let sources = PyDict::new(py);
    for (k, v) in &parsed.sources {
        let s = match v {
            Source::Default => "default".to_string(),
            other => other.to_string(),
        };
        sources.set_item(*k, s)?;
    }
    let extra_values = PyDict::new(py);
    for (k, (v, src)) in &parsed.extras {
        let src = src.to_string();
        match v {
            ExtraValue::Flag(b) => extra_values.set_item(k, (*b, src))?,
            ExtraValue::Text(t) => extra_values.set_item(k, (t, src))?,
        }
    }
    Ok((opts, sources, extra_values))
}

/// The `-f/--locustfile` value (command line, `LOCUST_LOCUSTFILE`, config files, default),
/// found before the full parse so the locustfile can declare options of its own.
#[pyfunction]
fn locustfile_option(argv: Vec<String>) -> String {
    let env: HashMap<String, String> = std::env::vars().collect();
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
    let home = std::env::var_os("HOME").map(PathBuf::from);
    locusta_options::locustfile_option(argv, &env, &cwd, home.as_deref())
}

/// Locust's user dispatch order: which class the next started user has, and which class the
/// next stopped user has (the most recently started).
#[pyclass(module = "locusta._core")]
struct Dispatch {
    seq: UserSequence,
}

#[pymethods]
impl Dispatch {
    /// `classes`: (name, weight, fixed_count) per class; indices follow this list.
    #[new]
    fn new(classes: Vec<(String, f64, u64)>) -> PyResult<Self> {
        if let Some((name, w, _)) = classes.iter().find(|(_, w, _)| !w.is_finite() || *w < 0.0) {
            return Err(PyValueError::new_err(format!(
                "user class {name} has an invalid weight {w}; use a number >= 0"
            )));
        }
        Ok(Dispatch {
            seq: UserSequence::new(
                classes
                    .into_iter()
                    .map(|(name, weight, fixed_count)| ClassSlot {
                        name,
                        weight,
                        fixed_count,
                    })
                    .collect(),
            ),
        })
    }

    /// The class index of the next user to start, or None when no class can take more.
    fn push(&mut self) -> Option<usize> {
        self.seq.push()
    }

    /// Draws new users only from these class indices from now on (a load shape's class list).
    fn restrict(&mut self, allowed: Vec<usize>) {
        self.seq.restrict(&allowed);
    }

    /// The class index of the next user to stop, or None when none runs.
    fn pop(&mut self) -> Option<usize> {
        self.seq.pop()
    }

    /// Users per class.
    fn counts(&self) -> Vec<u64> {
        self.seq.counts().to_vec()
    }

    fn __len__(&self) -> usize {
        self.seq.len()
    }
}

/// Installs the Rust logger (Locust's line format) for messages from the Rust crates.
#[pyfunction]
#[pyo3(signature = (level, logfile=None))]
fn init_logging(level: &str, logfile: Option<PathBuf>) -> PyResult<()> {
    locusta::logging::init(level, logfile.as_deref()).map_err(PyValueError::new_err)
}

fn os_args(argv: Vec<String>) -> Vec<OsString> {
    argv.into_iter().map(OsString::from).collect()
}

/// `locusta demo ARGS` (`argv[0]` is the program name); returns the exit code.
#[pyfunction]
fn run_demo(py: Python<'_>, argv: Vec<String>) -> i32 {
    let args = os_args(argv);
    py.detach(move || locusta::demo::run_demo(args))
}

/// `locusta demo-target ARGS` (`argv[0]` is the program name); returns the exit code.
#[pyfunction]
fn run_demo_target(py: Python<'_>, argv: Vec<String>) -> i32 {
    let args = os_args(argv);
    py.detach(move || locusta::demo::run_demo_target(args))
}

/// The extension module.
#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add("UsageError", m.py().get_type::<UsageError>())?;
    m.add_class::<http_io::HttpIo>()?;
    m.add_class::<http_io::SessionCore>()?;
    m.add_class::<http_io::RawResponse>()?;
    m.add_class::<stats::Stats>()?;
    m.add_class::<insight::Insight>()?;
    m.add_class::<open_model::OpenModel>()?;
    m.add_class::<Dispatch>()?;
    m.add_function(wrap_pyfunction!(parse_options, m)?)?;
    m.add_function(wrap_pyfunction!(locustfile_option, m)?)?;
    m.add_function(wrap_pyfunction!(init_logging, m)?)?;
    m.add_function(wrap_pyfunction!(run_demo, m)?)?;
    m.add_function(wrap_pyfunction!(run_demo_target, m)?)?;
    m.add_class::<dist::WorkerLink>()?;
    m.add_class::<dist::MasterLink>()?;
    m.add_class::<web::WebUi>()?;
    m.add_function(wrap_pyfunction!(web::remember_log_line, m)?)?;
    m.add_function(wrap_pyfunction!(dist::run_master, m)?)?;
    m.add_function(wrap_pyfunction!(dist::run_worker_processes, m)?)?;
    m.add_function(wrap_pyfunction!(dist::fetch_locustfiles, m)?)?;
    Ok(())
}
