//! The web UI for Python locustfiles.
//!
//! The server is the same `locusta-web` server the Rust engine uses, on its own thread, reading
//! the run's `StatsHub` directly; no Python runs there. The Python runner drives it from its
//! gevent loop through [`WebUi`]: it polls the UI's commands (`/swarm`, `/stop`, `/stats/reset`)
//! and applies them to its greenlet runner, publishes the runner's state, and renders the HTML
//! report when `/stats/report` asks for one. Every method returns at once and holds its locks
//! only for its own duration, so a greenlet switch never happens with a lock held.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use locusta_stats::StatsHub;
use locusta_util::lock;
use locusta_web::{
    ClassInfo, Command, ControlPort, ExtraOptionInfo, RunInfo, ServerConfig, Status, TaskInfo,
    WebContext, WebServer,
};
use pyo3::exceptions::{PyOSError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyTuple};
use serde_json::Value;
use tokio::sync::{mpsc, oneshot};

use crate::stats::Stats;

fn text(v: &Value, key: &str) -> Option<String> {
    v.get(key).and_then(Value::as_str).map(str::to_owned)
}

fn tasks(v: &Value) -> Vec<TaskInfo> {
    v.as_array()
        .map(|a| {
            a.iter()
                .map(|t| TaskInfo {
                    name: text(t, "name").unwrap_or_default(),
                    weight: t.get("weight").and_then(Value::as_u64).unwrap_or(1),
                    tasks: t.get("tasks").map(tasks).unwrap_or_default(),
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Reads the run description the Python runner sends as JSON (see `_run.py`).
fn run_info(cfg: &Value) -> RunInfo {
    let full_history_file = text(cfg, "full_history_file").map(PathBuf::from);
    RunInfo {
        locustfile: text(cfg, "locustfile").unwrap_or_else(|| "locustfile".to_owned()),
        num_users: cfg.get("num_users").and_then(Value::as_u64),
        spawn_rate: cfg.get("spawn_rate").and_then(Value::as_f64),
        run_time: cfg.get("run_time").and_then(Value::as_u64),
        host: text(cfg, "host").unwrap_or_default(),
        host_optional: cfg
            .get("host_optional")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        classes: cfg
            .get("classes")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .map(|c| ClassInfo {
                        name: text(c, "name").unwrap_or_default(),
                        tasks: c.get("tasks").map(tasks).unwrap_or_default(),
                    })
                    .collect()
            })
            .unwrap_or_default(),
        shape_class: text(cfg, "shape_class"),
        extra_options: cfg
            .get("extra_options")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .map(|o| ExtraOptionInfo {
                        name: text(o, "name").unwrap_or_default(),
                        default_value: text(o, "default_value").unwrap_or_default(),
                        help: text(o, "help").unwrap_or_default(),
                        choices: o.get("choices").and_then(Value::as_array).map(|c| {
                            c.iter()
                                .filter_map(|x| x.as_str().map(str::to_owned))
                                .collect()
                        }),
                        is_secret: o.get("is_secret").and_then(Value::as_bool).unwrap_or(false),
                    })
                    .collect()
            })
            .unwrap_or_default(),
        stats_history_enabled: full_history_file.is_some(),
        full_history_file,
        has_report: true,
    }
}

fn server_config(cfg: &Value) -> Result<ServerConfig, String> {
    let port = cfg.get("web_port").and_then(Value::as_u64).unwrap_or(8089);
    let port = u16::try_from(port).map_err(|_| format!("--web-port {port} is not a port"))?;
    let tls = match (
        text(cfg, "tls_cert").filter(|s| !s.is_empty()),
        text(cfg, "tls_key").filter(|s| !s.is_empty()),
    ) {
        (None, None) => None,
        (Some(c), Some(k)) => Some((PathBuf::from(c), PathBuf::from(k))),
        _ => return Err("--tls-cert and --tls-key must be given together".to_owned()),
    };
    Ok(ServerConfig {
        host: text(cfg, "web_host").unwrap_or_else(|| "127.0.0.1".to_owned()),
        port,
        base_path: text(cfg, "web_base_path").unwrap_or_default(),
        auth: text(cfg, "web_auth").filter(|s| !s.is_empty()),
        tls,
    })
}

/// The running web UI of a Python run.
#[pyclass(module = "locusta._core", frozen)]
pub struct WebUi {
    port: Mutex<ControlPort>,
    server: Mutex<Option<WebServer>>,
    url: String,
    hub: Arc<StatsHub>,
    users: Arc<AtomicU64>,
    report_requests: Mutex<mpsc::Receiver<oneshot::Sender<String>>>,
    waiting_reports: Mutex<Vec<oneshot::Sender<String>>>,
}

#[pymethods]
impl WebUi {
    /// Starts serving. `config` is a JSON object: `locustfile`, `host`, `host_optional`,
    /// `classes` ([{name, tasks: [{name, weight, tasks}]}]), `shape_class`, `num_users`,
    /// `spawn_rate`, `run_time`, `extra_options`, `full_history_file`, `report_name`,
    /// `web_host`, `web_port`, `web_base_path`, `web_auth`, `tls_cert`, `tls_key`.
    /// `ValueError` for bad settings, `OSError` when the server cannot start.
    #[new]
    fn new(py: Python<'_>, stats: &Stats, config: &str) -> PyResult<Self> {
        let cfg: Value = serde_json::from_str(config)
            .map_err(|e| PyValueError::new_err(format!("bad web UI settings: {e}")))?;
        let server_cfg = server_config(&cfg).map_err(PyValueError::new_err)?;
        let info = run_info(&cfg);
        let hub = stats.hub();
        let (ctx, port) = WebContext::new(
            Arc::clone(&hub),
            info,
            Arc::new(locusta::logging::recent_lines),
        );
        let users = Arc::new(AtomicU64::new(0));
        let (report_tx, report_rx) = mpsc::channel::<oneshot::Sender<String>>(4);
        let report_name = text(&cfg, "report_name").unwrap_or_else(|| "Locust.html".to_owned());
        let routes = locusta_web::router(ctx.clone()).merge(locusta::webui::extra_routes(
            report_tx,
            report_name,
            Arc::clone(&hub),
            Arc::clone(&users),
        ));
        let server = py
            .detach(move || locusta_web::start(ctx, routes, &server_cfg))
            .map_err(PyOSError::new_err)?;
        Ok(WebUi {
            url: server.url().to_owned(),
            port: Mutex::new(port),
            server: Mutex::new(Some(server)),
            hub,
            users,
            report_requests: Mutex::new(report_rx),
            waiting_reports: Mutex::new(Vec::new()),
        })
    }

    /// The UI's address, e.g. `http://127.0.0.1:8089/`.
    fn url(&self) -> String {
        self.url.clone()
    }

    /// The next command from the UI, or None: `("swarm", {user_count, spawn_rate, host,
    /// run_time, extra_options})` (`host` and `run_time` may be None; `run_time` in seconds),
    /// `("stop",)` or `("reset_stats",)` (the statistics are already reset).
    fn poll_command<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyTuple>>> {
        let cmd = lock(&self.port).commands.try_recv().ok();
        Ok(match cmd {
            None => None,
            Some(Command::Swarm(req)) => {
                let d = PyDict::new(py);
                d.set_item("user_count", req.user_count)?;
                d.set_item("spawn_rate", req.spawn_rate)?;
                d.set_item("host", req.host)?;
                d.set_item("run_time", req.run_time.map(|t| t.as_secs_f64()))?;
                d.set_item("extra_options", req.extra_options)?;
                Some(PyTuple::new(
                    py,
                    ["swarm".into_pyobject(py)?.into_any(), d.into_any()],
                )?)
            }
            Some(Command::Stop) => Some(PyTuple::new(py, ["stop"])?),
            Some(Command::ResetStats) => Some(PyTuple::new(py, ["reset_stats"])?),
        })
    }

    /// Publishes the runner's state for the navbar and `/stats/requests`.
    fn publish(&self, state: &str, user_count: u64, class_counts: Vec<(String, u64)>, host: &str) {
        self.users.store(user_count, Ordering::Relaxed);
        lock(&self.port).publish(Status {
            state: state.to_owned(),
            user_count,
            class_counts,
            host: host.to_owned(),
            worker_count: 0,
            workers: Vec::new(),
        });
    }

    /// A new test starts from the UI: clears the statistics, exceptions and chart history, as
    /// Locust's `/swarm` does on a stopped runner.
    fn reset_for_new_test(&self) {
        self.hub.reset();
        self.hub.reset_exceptions();
        lock(&self.port).clear_history();
    }

    /// True when `/stats/report` waits for a report; answer with [`WebUi::answer_report`].
    fn report_wanted(&self) -> bool {
        let mut rx = lock(&self.report_requests);
        let mut waiting = lock(&self.waiting_reports);
        while let Ok(tx) = rx.try_recv() {
            waiting.push(tx);
        }
        !waiting.is_empty()
    }

    /// Sends the HTML report to every waiting `/stats/report` request.
    fn answer_report(&self, html: String) {
        for tx in lock(&self.waiting_reports).drain(..) {
            let _ = tx.send(html.clone());
        }
    }

    /// Stops serving (waits up to about a second for open requests).
    fn stop(&self, py: Python<'_>) {
        lock(&self.waiting_reports).clear();
        let server = lock(&self.server).take();
        if let Some(s) = server {
            py.detach(move || s.stop());
        }
    }
}

/// Keeps a Python log line for the web UI's Logs tab.
#[pyfunction]
pub fn remember_log_line(line: &str) {
    locusta::logging::remember(line);
}
