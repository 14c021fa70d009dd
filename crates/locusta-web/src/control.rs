//! The contract between the web UI and whatever runs the users.
//!
//! The web server never touches a runner directly: it validates a request, then hands a
//! [`Command`] to the run's control loop through a queue, and it reads what the loop last
//! published in [`Status`]. The Rust control loop (`locusta::webui`) drains that queue between
//! ticks; the Python runner can drain the same queue from its gevent hub, so both kinds of
//! locustfile get the same UI.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use locusta_stats::StatsHub;
use tokio::sync::mpsc;

use crate::history::History;

/// A change the UI asks of the run.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// Locust's `/swarm`: start a test, or change the target of the running one.
    Swarm(SwarmRequest),
    /// Locust's `/stop`: stop every user; the UI stays up for another run.
    Stop,
    /// `/stats/reset` has reset the statistics (already done by the server); the control loop
    /// may tell its `reset_stats` listeners (the Python runner does, as Locust).
    ResetStats,
}

/// A validated `/swarm` form.
#[derive(Debug, Clone, PartialEq)]
pub struct SwarmRequest {
    /// `user_count`.
    pub user_count: u64,
    /// `spawn_rate` (users per second, > 0).
    pub spawn_rate: f64,
    /// `host`, when the form sent one (`<` and `>` removed, as Locust does).
    pub host: Option<String>,
    /// `run_time`: stop this long after the start. `None` cancels an earlier limit (Locust's
    /// Edit form sends none, and so cancels it too).
    pub run_time: Option<Duration>,
    /// Values for options the locustfile declared (`dest`, text as sent).
    pub extra_options: Vec<(String, String)>,
    /// With `--class-picker`: the user classes chosen in the form (None: as before).
    pub user_classes: Option<Vec<String>>,
}

/// What the control loop publishes for the UI (Locust's runner attributes).
#[derive(Debug, Clone, PartialEq)]
pub struct Status {
    /// `ready`, `spawning`, `running`, `stopping`, `stopped` (Locust's state names).
    pub state: String,
    /// Users currently running.
    pub user_count: u64,
    /// Users started per class (`user_classes_count`).
    pub class_counts: Vec<(String, u64)>,
    /// The host new users get (the form's, `--host`, or empty when each class has its own).
    pub host: String,
    /// Connected workers (0 when not distributed).
    pub worker_count: u64,
    /// Per-worker rows, for the Workers tab of a distributed run (shared: a master with
    /// thousands of workers publishes them at every tick without copying them).
    pub workers: Arc<Vec<WorkerInfo>>,
}

impl Default for Status {
    fn default() -> Self {
        Status {
            state: "ready".to_owned(),
            user_count: 0,
            class_counts: Vec::new(),
            host: String::new(),
            worker_count: 0,
            workers: Arc::default(),
        }
    }
}

/// One worker of a distributed run, as Locust's `/stats/requests` reports it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct WorkerInfo {
    /// Worker id.
    pub id: String,
    /// Worker state.
    pub state: String,
    /// Users on the worker.
    pub user_count: u64,
    /// CPU use in percent.
    pub cpu_usage: f64,
    /// Memory use in bytes.
    pub memory_usage: u64,
}

/// A task of a user class and its weight, for the Current ratio tab (`/tasks`).
#[derive(Debug, Clone, PartialEq)]
pub struct TaskInfo {
    /// Task name (a Python function or TaskSet name, a Rust task name).
    pub name: String,
    /// How many times the task appears in the class's task list.
    pub weight: u64,
    /// Tasks of a nested TaskSet.
    pub tasks: Vec<TaskInfo>,
}

/// A user class as the UI shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct ClassInfo {
    /// Class name.
    pub name: String,
    /// Its tasks.
    pub tasks: Vec<TaskInfo>,
}

/// An option the locustfile declared, shown in the start form's advanced section.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ExtraOptionInfo {
    /// `dest` name, the form field.
    pub name: String,
    /// Default value as text.
    pub default_value: String,
    /// Help text.
    pub help: String,
    /// Allowed values, if restricted.
    pub choices: Option<Vec<String>>,
    /// Hide the value (`is_secret`).
    pub is_secret: bool,
}

/// Fixed facts about the run that the start form needs.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RunInfo {
    /// The locustfile's name (for download file names and the page title).
    pub locustfile: String,
    /// `-u` default for the form.
    pub num_users: Option<u64>,
    /// `-r` default for the form.
    pub spawn_rate: Option<f64>,
    /// `-t` default for the form, in seconds.
    pub run_time: Option<u64>,
    /// `--host` or the classes' host, pre-filled in the form.
    pub host: String,
    /// True when every class has a host of its own, so the form may leave it empty.
    pub host_optional: bool,
    /// The user classes.
    pub classes: Vec<ClassInfo>,
    /// Name of the load shape class, if the locustfile has one (it replaces users and rate).
    pub shape_class: Option<String>,
    /// Options declared by the locustfile.
    pub extra_options: Vec<ExtraOptionInfo>,
    /// `--csv-full-history` (enables `/stats/requests_full_history/csv`).
    pub stats_history_enabled: bool,
    /// Where the `--csv` full-history file is written, when enabled.
    pub full_history_file: Option<std::path::PathBuf>,
    /// True when `/stats/report` is served (the Download tab links to it).
    pub has_report: bool,
    /// `--class-picker`: the form chooses which user classes a test runs.
    pub class_picker: bool,
}

/// Everything a request handler can reach: the statistics, the command queue, and the status
/// the control loop publishes. Cheap to clone.
#[derive(Clone)]
pub struct WebContext {
    pub(crate) stats: Arc<StatsHub>,
    pub(crate) commands: mpsc::UnboundedSender<Command>,
    pub(crate) status: Arc<Mutex<Status>>,
    pub(crate) info: Arc<RunInfo>,
    pub(crate) history: Arc<History>,
    pub(crate) logs: Arc<dyn Fn() -> Vec<String> + Send + Sync>,
    /// The log lines each worker last sent (Locust's `logs` message), for `/logs`.
    pub(crate) worker_logs: WorkerLogs,
    /// True on a master: `/stats/requests` then always carries `workers` and `worker_count`.
    pub(crate) distributed: Arc<std::sync::atomic::AtomicBool>,
    /// The Workers rows last published, as JSON: a master rebuilds its rows at most once a
    /// second, so with 10,000 workers every poll in between reuses the megabyte of JSON.
    workers_json: Arc<Mutex<Option<WorkersJson>>>,
}

/// A set of Workers rows and its JSON.
type WorkersJson = (Arc<Vec<WorkerInfo>>, axum::body::Bytes);

/// Worker id to its recent log lines.
pub type WorkerLogs = Arc<Mutex<std::collections::BTreeMap<String, Vec<String>>>>;

/// The control loop's end of the contract: receive commands, publish status.
pub struct ControlPort {
    /// Commands from the UI, in the order they arrived.
    pub commands: mpsc::UnboundedReceiver<Command>,
    status: Arc<Mutex<Status>>,
    history: Arc<History>,
    worker_logs: WorkerLogs,
    distributed: Arc<std::sync::atomic::AtomicBool>,
}

impl ControlPort {
    /// Marks the run as a master's (Locust's master always lists its workers, even none).
    pub fn set_distributed(&self) {
        self.distributed
            .store(true, std::sync::atomic::Ordering::Relaxed);
    }
    /// Replaces the workers' log lines shown by `/logs` (a distributed run's master).
    pub fn publish_worker_logs(&self, logs: std::collections::BTreeMap<String, Vec<String>>) {
        *lock(&self.worker_logs) = logs;
    }

    /// Replaces the published status.
    pub fn publish(&self, status: Status) {
        *lock(&self.status) = status;
    }

    /// Clears the chart history (a new test starts, as Locust's `reset_all`).
    pub fn clear_history(&self) {
        self.history.clear();
    }
}

impl WebContext {
    /// Creates the context of a run and the control loop's end of it. `logs` returns the
    /// recent log lines for the Logs tab.
    pub fn new(
        stats: Arc<StatsHub>,
        info: RunInfo,
        logs: Arc<dyn Fn() -> Vec<String> + Send + Sync>,
    ) -> (WebContext, ControlPort) {
        Self::with_worker_logs(stats, info, logs, WorkerLogs::default())
    }

    /// [`WebContext::new`] for a master whose state machine keeps the workers' log lines in
    /// `worker_logs` itself (`/logs` then reads them as they arrive).
    pub fn with_worker_logs(
        stats: Arc<StatsHub>,
        info: RunInfo,
        logs: Arc<dyn Fn() -> Vec<String> + Send + Sync>,
        worker_logs: WorkerLogs,
    ) -> (WebContext, ControlPort) {
        let (tx, rx) = mpsc::unbounded_channel();
        let status = Arc::new(Mutex::new(Status {
            host: info.host.clone(),
            ..Status::default()
        }));
        let history = Arc::new(History::new());
        let distributed = Arc::new(std::sync::atomic::AtomicBool::new(false));
        (
            WebContext {
                stats,
                commands: tx,
                status: Arc::clone(&status),
                info: Arc::new(info),
                history: Arc::clone(&history),
                logs,
                worker_logs: Arc::clone(&worker_logs),
                distributed: Arc::clone(&distributed),
                workers_json: Arc::default(),
            },
            ControlPort {
                commands: rx,
                status,
                history,
                worker_logs,
                distributed,
            },
        )
    }

    /// The last published status.
    pub fn status(&self) -> Status {
        lock(&self.status).clone()
    }

    /// `rows` as a JSON array (serialized once per set of rows the control loop publishes).
    pub(crate) fn workers_json(&self, rows: &Arc<Vec<WorkerInfo>>) -> axum::body::Bytes {
        let mut cached = lock(&self.workers_json);
        if let Some((published, json)) = cached.as_ref() {
            if Arc::ptr_eq(published, rows) {
                return json.clone();
            }
        }
        let json = axum::body::Bytes::from(
            serde_json::to_vec(rows.as_slice()).unwrap_or_else(|_| b"[]".to_vec()),
        );
        *cached = Some((Arc::clone(rows), json.clone()));
        json
    }

    /// The statistics the UI shows.
    pub fn stats(&self) -> &Arc<StatsHub> {
        &self.stats
    }

    /// The chart history.
    pub fn history(&self) -> &Arc<History> {
        &self.history
    }

    /// The fixed facts of the run.
    pub fn info(&self) -> &RunInfo {
        &self.info
    }

    pub(crate) fn send(&self, cmd: Command) -> bool {
        self.commands.send(cmd).is_ok()
    }
}

pub(crate) use locusta_util::lock;
