//! The `locusta._core` Python extension: what the pure-Python part of the `locusta` package
//! needs from Rust to run Locust locustfiles on the locusta engine.
//!
//! * [`http_io`]: the HTTP I/O runtime (`HttpIo`), per-user HTTP sessions and the completion
//!   queue that hands finished exchanges to gevent's hub.
//! * [`ws_io`]: WebSocket connections of Python users, as jobs of the same runtime.
//! * [`grpc_io`]: gRPC channels and calls for `locust.contrib.grpc`, run as `HttpIo` jobs.
//! * [`plan`] and [`controller`]: the options, the run plan and the run controller of
//!   `locusta-run`, the same as for Rust user classes, driven from the gevent loop.
//! * [`dist`]: the master and worker links.
//! * [`stats`]: request statistics in the Rust `StatsHub` and Locust's outputs (console, CSV,
//!   JSON) rendered by `locusta-stats`.
//! * Here: Locust's command line (`locusta-options`), the user dispatch order
//!   (`locusta_dist::order::UserSequence`), logging, and `locusta demo` / `demo-target`.

/// The request path allocates a handful of small, short-lived objects per request (and a task per
/// exchange), which mimalloc's free lists serve faster than glibc's malloc. Only Rust's own
/// allocations use it; Python's memory is untouched.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::collections::HashMap;
use std::ffi::OsString;
use std::path::PathBuf;

use locusta_dist::order::{ClassSlot, UserSequence};
use locusta_options::ExtraOption;
use pyo3::create_exception;
use pyo3::exceptions::{PyException, PyValueError};
use pyo3::prelude::*;

pub mod controller;
pub mod dist;
pub mod grpc_io;
pub mod http_io;
pub mod inline_io;
pub mod json_decode;
pub mod json_encode;
pub mod open_model;
pub mod plan;
pub mod stats;
pub mod web_routes;
pub mod ws_io;

create_exception!(
    _core,
    PlanExit,
    PyException,
    "The run does not start (`--list`, or a refusal already logged): args are (exit_code,)."
);

create_exception!(
    _core,
    UsageError,
    PyException,
    "The command line was refused, or help/version was asked for: args are (message, exit_code, use_stdout)."
);

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
/// variables, plus the options the locustfile declared (`extras`, see [`ExtraTuple`]). Raises
/// `UsageError` for refused input and for `--help` / `--version`.
#[pyfunction]
#[pyo3(signature = (argv, extras=None))]
fn parse_options(
    argv: Vec<String>,
    extras: Option<Vec<ExtraTuple>>,
) -> PyResult<plan::ParsedOptions> {
    Ok(plan::ParsedOptions::new(parse_argv(argv, extras)?))
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
    locusta_run::logging::init(level, logfile.as_deref()).map_err(PyValueError::new_err)
}

/// `--otel`: exports the last metrics and spans (bounded wait) before the process exits.
#[pyfunction]
fn otel_shutdown() {
    locusta_run::otel::shutdown();
}

/// Whether `--otel` exports log records (then Python's logging records are handed over).
#[pyfunction]
fn otel_logs_enabled() -> bool {
    locusta_run::otel::logs_enabled()
}

/// `--otel`: exports one Python logging record (`levelno`, logger name, formatted message).
#[pyfunction]
fn otel_log(levelno: u32, logger: &str, message: &str) {
    locusta_run::otel::emit_log(levelno, logger, message);
}

/// Keeps a Python log line for the web UI's Logs tab.
#[pyfunction]
fn remember_log_line(line: &str) {
    locusta_run::logging::remember(line);
}

/// Tells the live terminal view that something else was written to stderr (a Python log
/// line), so it draws below it instead of over it.
#[pyfunction]
fn note_stderr_write() {
    locusta_run::live::note_stderr_write();
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
    m.add_class::<http_io::PyConnectionPool>()?;
    m.add_class::<http_io::RawResponse>()?;
    m.add_class::<ws_io::WsConn>()?;
    m.add_function(wrap_pyfunction!(ws_io::ws_connect, m)?)?;
    m.add_class::<grpc_io::GrpcChannelCore>()?;
    m.add_function(wrap_pyfunction!(grpc_io::grpc_submit, m)?)?;
    m.add_class::<grpc_io::GrpcCallCore>()?;
    m.add_function(wrap_pyfunction!(grpc_io::grpc_open, m)?)?;
    m.add_function(wrap_pyfunction!(grpc_io::grpc_next, m)?)?;
    m.add_class::<stats::Stats>()?;
    m.add("PlanExit", m.py().get_type::<PlanExit>())?;
    m.add_class::<plan::ParsedOptions>()?;
    m.add_class::<plan::RunPlan>()?;
    m.add_class::<controller::Controller>()?;
    m.add_class::<controller::Snapshot>()?;
    m.add_class::<web_routes::WebRoutes>()?;
    m.add_class::<web_routes::PendingRequest>()?;
    m.add_class::<open_model::OpenModel>()?;
    m.add_class::<Dispatch>()?;
    m.add_function(wrap_pyfunction!(json_decode::json_loads_or, m)?)?;
    m.add_function(wrap_pyfunction!(json_encode::json_dumps_or, m)?)?;
    m.add_function(wrap_pyfunction!(parse_options, m)?)?;
    m.add_function(wrap_pyfunction!(locustfile_option, m)?)?;
    m.add_function(wrap_pyfunction!(init_logging, m)?)?;
    m.add_function(wrap_pyfunction!(otel_shutdown, m)?)?;
    m.add_function(wrap_pyfunction!(otel_logs_enabled, m)?)?;
    m.add_function(wrap_pyfunction!(otel_log, m)?)?;
    m.add_function(wrap_pyfunction!(run_demo, m)?)?;
    m.add_function(wrap_pyfunction!(run_demo_target, m)?)?;
    m.add_class::<dist::WorkerLink>()?;
    m.add_class::<dist::MasterLink>()?;
    m.add_class::<dist::UsageMeter>()?;
    m.add_function(wrap_pyfunction!(remember_log_line, m)?)?;
    m.add_function(wrap_pyfunction!(note_stderr_write, m)?)?;
    m.add_function(wrap_pyfunction!(dist::run_worker_processes, m)?)?;
    m.add_function(wrap_pyfunction!(dist::fetch_locustfiles, m)?)?;
    Ok(())
}
