//! The headless master: waits for workers, dispatches users to them, merges their reports,
//! watches their heartbeats, and writes Locust's outputs (console tables, CSV, JSON).
//!
//! Message handling is a plain state machine ([`Master::handle`]) so it can be tested without
//! sockets; [`run_headless`] drives it with a ZeroMQ ROUTER. Everything that comes from the
//! network is validated: a malformed frame is logged and dropped, a report that does not
//! parse is dropped whole, and the worker table is capped at [`MAX_WORKERS`] so a flood of
//! fake workers cannot grow the master's memory without bound.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use locusta_stats::{console, csv::CsvWriter, json, StatsHub};
use locusta_util::unix_now;
use rmpv::Value;

use crate::dispatch::{distribute, sort_workers};
use crate::protocol::{self, as_f64, as_u64, get, map, Message};
use crate::report::report_from_value;
use crate::transport::Router;

/// Locust's `HEARTBEAT_LIVENESS`: missed heartbeat checks before a worker is missing.
pub const HEARTBEAT_LIVENESS: i32 = 3;
/// Locust's `HEARTBEAT_DEAD_INTERNAL`: a missing worker is forgotten at this count.
pub const HEARTBEAT_DEAD: i32 = -60;
/// How long the headless master waits, once the expected workers are ready, before it sends
/// the first `spawn` (Locust's master checks the worker count once a second).
pub const START_GRACE: Duration = Duration::from_millis(1000);
/// At most this many workers are tracked (connected plus missing).
pub const MAX_WORKERS: usize = 10_000;

/// What the web UI's Workers tab shows about one worker (shared with `locusta-web`).
#[derive(Debug, Clone, PartialEq)]
pub struct WorkerInfo {
    /// Node id (`hostname_hex`).
    pub id: String,
    /// `ready`, `spawning`, `running`, `stopped` or `missing`.
    pub state: String,
    /// Users the worker reported.
    pub user_count: u64,
    /// CPU use in percent of one core, from its last heartbeat.
    pub cpu_percent: f64,
    /// Resident memory in bytes, from its last heartbeat.
    pub memory_bytes: u64,
}

/// The workers as the master sees them, refreshed about once a second.
pub type WorkersView = Arc<Mutex<Vec<WorkerInfo>>>;

#[derive(Debug, Clone)]
struct Node {
    index: usize,
    state: String,
    heartbeat: i32,
    cpu: f64,
    memory: u64,
    user_count: u64,
    class_counts: Vec<(String, u64)>,
}

/// The master's test phase.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Waiting for workers / not started.
    Ready,
    /// Dispatching a ramp.
    Spawning,
    /// All users dispatched.
    Running,
    /// Stopped or quitting.
    Stopped,
}

/// How the test should run.
pub struct MasterPlan {
    /// Class names, in the engine's order.
    pub classes: Vec<String>,
    /// Class indices of the first `n` users, in dispatch order.
    pub order: Box<dyn Fn(u64) -> Vec<usize>>,
    /// `--host` (sent to workers).
    pub host: Option<String>,
    /// `--stop-timeout`.
    pub stop_timeout: f64,
    /// `--enable-rebalancing`.
    pub rebalancing: bool,
    /// `(file name, contents)` of the locustfiles, sent to `-f -` workers that ask.
    pub locustfiles: Vec<(String, String)>,
    /// The Python master's listeners (custom messages, `worker_report`); None for a master
    /// without Python.
    pub messages: Option<SharedMailbox>,
}

/// Most items queued in each direction of a [`MasterMailbox`]; more are dropped with a
/// warning, so a flood from the workers cannot grow the master's memory without bound.
pub const MAX_QUEUED: usize = 10_000;

/// What the master's state machine exchanges with a Python runner (Locust's
/// `register_message` / `send_message` and `worker_report` on a master): the Python side polls
/// `inbox` and `reports` from its gevent loop and fills `outbox`; the protocol loop sends the
/// outbox within its next wake-up (at most 200 ms).
#[derive(Default, Debug)]
pub struct MasterMailbox {
    /// Custom message types a Python listener registered.
    pub listened: std::collections::HashSet<String>,
    /// Custom messages from workers: `(type, data, worker id)`.
    pub inbox: std::collections::VecDeque<(String, Value, String)>,
    /// Custom messages for workers: `(type, data, worker id or None for every worker)`.
    pub outbox: std::collections::VecDeque<(String, Value, Option<String>)>,
    /// Whether each worker's stats report is queued in `reports` (for `worker_report`).
    pub want_reports: bool,
    /// Stats reports' data as the workers sent it: `(worker id, data)`.
    pub reports: std::collections::VecDeque<(String, Value)>,
}

/// A [`MasterMailbox`] shared between the protocol loop and the Python thread.
pub type SharedMailbox = Arc<Mutex<MasterMailbox>>;

fn lock_mailbox(m: &SharedMailbox) -> std::sync::MutexGuard<'_, MasterMailbox> {
    locusta_util::lock(m)
}

/// The master's state machine.
pub struct Master {
    plan: MasterPlan,
    stats: Arc<StatsHub>,
    nodes: HashMap<String, Node>,
    /// Worker indices by node id, kept when a worker stops and reports ready again (as
    /// Locust's `worker_indexes`); capped like the worker table.
    indexes: HashMap<String, usize>,
    next_index: usize,
    /// Users dispatched now / the ramp's target.
    current: u64,
    target: u64,
    rate: f64,
    order: Vec<usize>,
    phase: Phase,
    last_spawn_ts: f64,
    warned_full: bool,
    /// The last distribution sent to each worker.
    sent: HashMap<String, Vec<(String, u64)>>,
    /// The log lines each worker last sent (`logs`), for the web UI's Logs tab.
    worker_logs: std::collections::BTreeMap<String, Vec<String>>,
}

/// At most this many lines per worker are kept from a `logs` message (Locust's worker sends
/// at most its last 500), each cut to [`MAX_LOG_LINE`] characters.
pub const MAX_LOG_LINES: usize = 500;
/// Longest log line kept.
pub const MAX_LOG_LINE: usize = 4096;

impl Master {
    /// A master with no workers yet.
    pub fn new(plan: MasterPlan, stats: Arc<StatsHub>) -> Master {
        Master {
            plan,
            stats,
            nodes: HashMap::new(),
            indexes: HashMap::new(),
            next_index: 0,
            current: 0,
            target: 0,
            rate: 1.0,
            order: Vec::new(),
            phase: Phase::Ready,
            last_spawn_ts: 0.0,
            warned_full: false,
            sent: HashMap::new(),
            worker_logs: std::collections::BTreeMap::new(),
        }
    }

    /// Workers that take users (ready, spawning or running).
    pub fn active_workers(&self) -> Vec<String> {
        let ids: Vec<String> = self
            .nodes
            .iter()
            .filter(|(_, n)| n.state != "missing")
            .map(|(id, _)| id.clone())
            .collect();
        sort_workers(&ids)
    }

    /// The phase.
    pub fn phase(&self) -> Phase {
        self.phase
    }

    /// Users reported by all workers.
    pub fn user_count(&self) -> u64 {
        self.nodes.values().map(|n| n.user_count).sum()
    }

    /// Users per class reported by all workers.
    pub fn class_counts(&self) -> Vec<(String, u64)> {
        self.plan
            .classes
            .iter()
            .map(|c| {
                let n = self
                    .nodes
                    .values()
                    .flat_map(|n| n.class_counts.iter())
                    .filter(|(k, _)| k == c)
                    .map(|(_, v)| v)
                    .sum();
                (c.clone(), n)
            })
            .collect()
    }

    /// Users per class in the current distribution (what was dispatched).
    pub fn dispatched_counts(&self) -> Vec<(String, u64)> {
        let mut counts = vec![0u64; self.plan.classes.len()];
        let n = (self.current as usize).min(self.order.len());
        for &c in &self.order[..n] {
            if let Some(x) = counts.get_mut(c) {
                *x += 1;
            }
        }
        self.plan.classes.iter().cloned().zip(counts).collect()
    }

    /// Snapshot for the web UI.
    pub fn workers_info(&self) -> Vec<WorkerInfo> {
        let mut v: Vec<WorkerInfo> = self
            .nodes
            .iter()
            .map(|(id, n)| WorkerInfo {
                id: id.clone(),
                state: n.state.clone(),
                user_count: n.user_count,
                cpu_percent: n.cpu,
                memory_bytes: n.memory,
            })
            .collect();
        v.sort_by(|a, b| a.id.cmp(&b.id));
        v
    }

    /// Starts (or changes) the test: ramp to `users` at `rate` per second.
    pub fn start(&mut self, users: u64, rate: f64) {
        if self.phase == Phase::Ready || self.phase == Phase::Stopped {
            self.stats.reset();
        }
        self.target = users;
        self.rate = if rate.is_finite() && rate > 0.0 {
            rate
        } else {
            1.0
        };
        self.order = (self.plan.order)(users);
        self.phase = Phase::Spawning;
    }

    /// Users added or removed per ramp iteration, and the pause between iterations.
    pub fn step(&self) -> (u64, Duration) {
        let per = (self.rate.floor() as u64).max(1);
        (per, Duration::from_secs_f64(per as f64 / self.rate))
    }

    /// Advances the ramp by one iteration; returns the spawn messages to send and whether
    /// the ramp completed with it.
    pub fn ramp_iteration(&mut self) -> (Vec<Message>, bool) {
        let (per, _) = self.step();
        if self.current < self.target {
            self.current = (self.current + per).min(self.target);
        } else if self.current > self.target {
            self.current = self.current.saturating_sub(per).max(self.target);
        }
        let msgs = self.spawn_messages();
        let done = self.current == self.target;
        if done {
            self.phase = Phase::Running;
        }
        (msgs, done)
    }

    /// `spawn` for every active worker with the distribution of the current user count.
    pub fn spawn_messages(&mut self) -> Vec<Message> {
        let workers = self.active_workers();
        let n = (self.current as usize).min(self.order.len());
        let dist = distribute(&self.order[..n], &self.plan.classes, &workers);
        let mut ts = unix_now();
        if ts <= self.last_spawn_ts {
            ts = self.last_spawn_ts + 1e-6;
        }
        self.last_spawn_ts = ts;
        let host = self.plan.host.clone().map_or(Value::Nil, Value::from);
        let mut out = Vec::with_capacity(dist.len());
        for (id, counts) in dist {
            self.sent.insert(id.clone(), counts.clone());
            out.push(Message::new(
                "spawn",
                map(vec![
                    ("timestamp", ts.into()),
                    ("user_classes_count", protocol::class_counts_value(&counts)),
                    ("host", host.clone()),
                    ("stop_timeout", self.plan.stop_timeout.into()),
                    ("parsed_options", map(vec![])),
                ]),
                &id,
            ));
        }
        out
    }

    /// Redistributes the current users after workers came or went (during a test).
    fn redistribute(&mut self) -> Vec<Message> {
        match self.phase {
            Phase::Running | Phase::Spawning => self.spawn_messages(),
            _ => Vec::new(),
        }
    }

    /// Handles one message from worker `id`; returns the replies.
    pub fn handle(&mut self, id: &str, msg: Message) -> Vec<Message> {
        let mut out = Vec::new();
        match msg.kind.as_str() {
            "client_ready" => {
                if matches!(msg.data, Value::Nil | Value::Boolean(false))
                    || msg.data.as_str() == Some("")
                {
                    log::error!("An old (pre 2.0) worker tried to connect ({id}). That's not going to work.");
                    return out;
                }
                if !self.nodes.contains_key(id) && self.nodes.len() >= MAX_WORKERS {
                    if !self.warned_full {
                        self.warned_full = true;
                        log::error!("{MAX_WORKERS} workers are connected; refusing more");
                    }
                    return out;
                }
                let index = match self.indexes.get(id) {
                    Some(&i) => i,
                    None => {
                        self.next_index += 1;
                        if self.indexes.len() < 2 * MAX_WORKERS {
                            self.indexes.insert(id.to_owned(), self.next_index - 1);
                        }
                        self.next_index - 1
                    }
                };
                out.push(Message::new(
                    "ack",
                    map(vec![("index", (index as u64).into())]),
                    id,
                ));
                let known = self.nodes.contains_key(id);
                self.nodes.insert(
                    id.to_owned(),
                    Node {
                        index,
                        state: "ready".into(),
                        heartbeat: HEARTBEAT_LIVENESS,
                        cpu: 0.0,
                        memory: 0,
                        user_count: 0,
                        class_counts: Vec::new(),
                    },
                );
                log::info!(
                    target: "locusta.runners",
                    "{id} (index {index}) reported as ready. {} workers connected.",
                    self.active_workers().len()
                );
                if !known {
                    out.extend(self.redistribute());
                }
            }
            "heartbeat" => {
                let Some(node) = self.nodes.get_mut(id) else {
                    log::debug!("heartbeat from unknown worker {id}");
                    return out;
                };
                node.heartbeat = HEARTBEAT_LIVENESS;
                let was_missing = node.state == "missing";
                if let Some(s) = get(&msg.data, "state").and_then(|s| s.as_str()) {
                    node.state = s.chars().take(32).collect();
                }
                node.cpu = get(&msg.data, "current_cpu_usage")
                    .and_then(as_f64)
                    .filter(|c| c.is_finite())
                    .unwrap_or(0.0);
                node.memory = get(&msg.data, "current_memory_usage")
                    .and_then(as_u64)
                    .unwrap_or(0);
                out.push(Message::new("heartbeat", Value::Nil, id));
                if was_missing {
                    log::info!(target: "locusta.runners", "Worker {id} self-healed with heartbeat, setting state to {}.", self.nodes[id].state);
                    out.extend(self.redistribute());
                }
            }
            "stats" => match report_from_value(&msg.data) {
                Ok(r) => {
                    if let Some(mb) = &self.plan.messages {
                        let mut mb = lock_mailbox(mb);
                        if mb.want_reports {
                            if mb.reports.len() >= MAX_QUEUED {
                                mb.reports.pop_front();
                            }
                            mb.reports.push_back((id.to_owned(), msg.data.clone()));
                        }
                    }
                    self.stats.apply_report(&r.stats);
                    if let Some(node) = self.nodes.get_mut(id) {
                        node.user_count = r.user_count;
                        node.class_counts = r.user_classes_count;
                    }
                }
                Err(e) => log::warn!("dropping a stats report from {id}: {e}"),
            },
            "spawning" => match self.nodes.get_mut(id) {
                Some(n) => n.state = "spawning".into(),
                None => {
                    log::warn!(
                        "Got spawning message from unknown worker {id}. Asking worker to quit."
                    );
                    out.push(Message::new("quit", Value::Nil, id));
                }
            },
            "spawning_complete" => match self.nodes.get_mut(id) {
                Some(n) => {
                    n.state = "running".into();
                    if let Some(Ok(c)) =
                        get(&msg.data, "user_classes_count").map(protocol::class_counts)
                    {
                        n.user_count = c.iter().map(|(_, v)| v).sum();
                        n.class_counts = c;
                    }
                }
                None => {
                    log::warn!("Got spawning_complete message from unknown worker {id}. Asking worker to quit.");
                    out.push(Message::new("quit", Value::Nil, id));
                }
            },
            "client_stopped" | "quit" => {
                if let Some(n) = self.nodes.remove(id) {
                    self.sent.remove(id);
                    if msg.kind == "quit" {
                        log::info!(target: "locusta.runners", "Worker '{id}' (index {}) quit. {} workers ready.", n.index, self.active_workers().len());
                    } else {
                        log::info!(target: "locusta.runners", "{id} (index {}) reported that it has stopped", n.index);
                    }
                    out.extend(self.redistribute());
                } else {
                    log::warn!(
                        "Received {} message from an unknown worker: {id}.",
                        msg.kind
                    );
                }
            }
            "exception" => {
                let text = |k: &str| {
                    get(&msg.data, k)
                        .and_then(|v| v.as_str())
                        .unwrap_or("")
                        .chars()
                        .take(64 * 1024)
                        .collect::<String>()
                };
                self.stats
                    .log_exception(&text("msg"), &text("traceback"), id);
            }
            "logs" => {
                // Locust keys the lines by the report's `worker_id`; only known workers are
                // kept, so the table is bounded by the worker table.
                let wid = get(&msg.data, "worker_id")
                    .and_then(|v| v.as_str())
                    .unwrap_or("");
                let full =
                    self.worker_logs.len() >= MAX_WORKERS && !self.worker_logs.contains_key(wid);
                if wid.is_empty() || !self.nodes.contains_key(wid) || full {
                    log::debug!("dropping a logs message from {id} for an unknown worker");
                    return out;
                }
                let lines: Vec<String> = match get(&msg.data, "logs") {
                    Some(Value::Array(a)) => a
                        .iter()
                        .rev()
                        .take(MAX_LOG_LINES)
                        .rev()
                        .filter_map(|l| l.as_str())
                        .map(|l| l.chars().take(MAX_LOG_LINE).collect())
                        .collect(),
                    _ => Vec::new(),
                };
                self.worker_logs.insert(wid.to_owned(), lines);
            }
            "locustfile" => {
                log::debug!("Worker {id} requested the locustfile");
                let data = if self.plan.locustfiles.is_empty() {
                    map(vec![(
                        "error",
                        "this master runs built-in user classes and has no locustfile to send"
                            .into(),
                    )])
                } else {
                    map(vec![(
                        "locustfiles",
                        Value::Array(
                            self.plan
                                .locustfiles
                                .iter()
                                .map(|(name, text)| {
                                    map(vec![
                                        ("filename", name.as_str().into()),
                                        ("contents", text.as_str().into()),
                                    ])
                                })
                                .collect(),
                        ),
                    )])
                };
                out.push(Message::new("locustfile", data, id));
            }
            other => {
                if let Some(mb) = &self.plan.messages {
                    let mut mb = lock_mailbox(mb);
                    if mb.listened.contains(other) {
                        if mb.inbox.len() >= MAX_QUEUED {
                            log::warn!("dropping a {other} message from {id}: {MAX_QUEUED} are waiting for the Python listeners");
                        } else {
                            mb.inbox
                                .push_back((other.to_owned(), msg.data, id.to_owned()));
                        }
                        return out;
                    }
                }
                log::warn!(
                    "Unknown message type received from {id}: {}",
                    other.chars().take(64).collect::<String>()
                )
            }
        }
        out
    }

    /// The custom messages the Python runner queued (`send_message`), addressed: one worker
    /// when it named a `client_id`, else every known worker (as Locust's master).
    pub fn outgoing_messages(&mut self) -> Vec<Message> {
        let Some(mb) = &self.plan.messages else {
            return Vec::new();
        };
        let queued: Vec<_> = lock_mailbox(mb).outbox.drain(..).collect();
        let mut out = Vec::new();
        for (kind, data, to) in queued {
            match to {
                Some(id) => out.push(Message::new(&kind, data, &id)),
                None => {
                    let mut ids: Vec<&String> = self.nodes.keys().collect();
                    ids.sort();
                    out.extend(
                        ids.into_iter()
                            .map(|id| Message::new(&kind, data.clone(), id)),
                    );
                }
            }
        }
        out
    }

    /// Locust's heartbeat check (every second): returns messages to send (a rebalance).
    pub fn heartbeat_check(&mut self) -> Vec<Message> {
        let mut newly_missing = false;
        let mut dead = Vec::new();
        for (id, n) in self.nodes.iter_mut() {
            n.heartbeat -= 1;
            if n.heartbeat < 0 && n.state != "missing" {
                log::info!(target: "locusta.runners", "Worker {id} failed to send heartbeat, setting state to missing.");
                n.state = "missing".into();
                n.user_count = 0;
                n.class_counts.clear();
                newly_missing = true;
            }
            if n.heartbeat <= HEARTBEAT_DEAD {
                dead.push(id.clone());
            }
        }
        for id in dead {
            log::info!(target: "locusta.runners", "Worker {id} has been missing for a minute; forgetting it.");
            self.nodes.remove(&id);
            self.sent.remove(&id);
            self.worker_logs.remove(&id);
        }
        if newly_missing && self.plan.rebalancing {
            self.redistribute()
        } else {
            Vec::new()
        }
    }

    /// The log lines each worker last sent.
    pub fn worker_logs(&self) -> &std::collections::BTreeMap<String, Vec<String>> {
        &self.worker_logs
    }

    /// Changes the host sent to workers with the next `spawn` (the web UI's form).
    pub fn set_host(&mut self, host: Option<String>) {
        self.plan.host = host;
    }

    /// Users dispatched so far in the current ramp.
    pub fn dispatched(&self) -> u64 {
        self.current
    }

    /// Locust's `stop` (the web UI's Stop, or a run time reached with the UI up): every worker
    /// gets `stop`, stops its users, answers `client_stopped` and later `client_ready` again.
    pub fn stop_messages(&mut self) -> Vec<Message> {
        self.phase = Phase::Stopped;
        self.current = 0;
        self.target = 0;
        self.sent.clear();
        self.nodes
            .keys()
            .map(|id| Message::new("stop", Value::Nil, id))
            .collect()
    }

    /// `quit` for every worker.
    pub fn quit_messages(&mut self) -> Vec<Message> {
        self.phase = Phase::Stopped;
        self.nodes
            .keys()
            .map(|id| Message::new("quit", Value::Nil, id))
            .collect()
    }

    /// `spawning_complete` for every worker (after the whole ramp).
    pub fn spawning_complete_messages(&self) -> Vec<Message> {
        let n = self.current;
        self.active_workers()
            .iter()
            .map(|id| Message::new("spawning_complete", map(vec![("user_count", n.into())]), id))
            .collect()
    }

    /// Workers that have not gone missing or quit.
    pub fn worker_count(&self) -> usize {
        self.active_workers().len()
    }

    /// Every known worker (including missing ones).
    pub fn known_workers(&self) -> usize {
        self.nodes.len()
    }
}

/// What the headless master run should do, resolved from the command line.
pub struct HeadlessMaster {
    /// `--master-bind-host`.
    pub bind_host: String,
    /// `--master-bind-port`.
    pub bind_port: u16,
    /// `--expect-workers`.
    pub expect_workers: u64,
    /// `--expect-workers-max-wait` (None = forever).
    pub expect_workers_max_wait: Option<Duration>,
    /// `-u`.
    pub users: u64,
    /// `-r`.
    pub spawn_rate: f64,
    /// `-t`.
    pub run_time: Option<Duration>,
    /// `--reset-stats`.
    pub reset_stats: bool,
    /// Periodic console table.
    pub print_stats: bool,
    /// `--csv`.
    pub csv_prefix: Option<PathBuf>,
    /// `--csv-full-history`.
    pub csv_full_history: bool,
    /// `--json`.
    pub json_stdout: bool,
    /// `--json-file`.
    pub json_file: Option<PathBuf>,
    /// `--exit-code-on-error`.
    pub exit_code_on_error: i32,
    /// Called once the worker port is bound, with the port (`--processes` starts its local
    /// workers here).
    pub on_listening: Option<Box<dyn FnOnce(u16)>>,
}

fn print_block(text: &str) {
    let mut err = std::io::stderr().lock();
    let _ = err.write_all(text.as_bytes());
    let _ = err.flush();
}

/// Sends each message, logging (not failing on) a send error.
pub async fn send_all(router: &mut Router, msgs: Vec<Message>) {
    for m in msgs {
        if let Err(e) = router.send(&m).await {
            log::warn!("{e}");
        }
    }
}

/// Handles one received frame: decodes it, lets the master handle it and sends the replies.
pub async fn on_frame(
    router: &mut Router,
    master: &mut Master,
    frame: Result<(String, bytes::Bytes), String>,
) {
    match frame {
        Ok((id, payload)) => match Message::decode(&payload) {
            Ok(msg) => {
                let replies = master.handle(&id, msg);
                send_all(router, replies).await;
            }
            Err(e) => log::warn!("dropping a malformed message from {id:?}: {e}"),
        },
        Err(e) => log::warn!("{e}"),
    }
}

/// Runs the headless master to the end of the test; returns the exit code.
pub async fn run_headless(
    plan: MasterPlan,
    cfg: HeadlessMaster,
    stats: Arc<StatsHub>,
    view: WorkersView,
) -> i32 {
    let mut router = match Router::bind(&cfg.bind_host, cfg.bind_port).await {
        Ok(r) => r,
        Err(e) => {
            log::error!(target: "locusta.main", "{e}");
            return 1;
        }
    };
    log::info!(target: "locusta.main", "Master listening on port {} for workers", router.port);
    let mut cfg = cfg;
    if let Some(f) = cfg.on_listening.take() {
        f(router.port);
    }
    let mut csv = match &cfg.csv_prefix {
        Some(prefix) => match CsvWriter::create(prefix, cfg.csv_full_history) {
            Ok(w) => Some(w),
            Err(e) => {
                log::error!(
                    "cannot write CSV files with prefix {}: {e}",
                    prefix.display()
                );
                return 1;
            }
        },
        None => None,
    };
    let mut master = Master::new(plan, Arc::clone(&stats));
    let mut sigterm =
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);

    // Wait for the expected workers.
    let wait_started = Instant::now();
    // As Locust's headless master (which checks once a second), the test starts a moment after
    // the expected workers are ready, not at once: a Locust worker handles a `spawn` that comes
    // right behind its `ack` before its runner is set (`test_start` listeners would see
    // `environment.runner` as None).
    let mut enough_since: Option<Instant> = None;
    let interrupted = loop {
        let msgs = master.outgoing_messages();
        send_all(&mut router, msgs).await;
        if master.worker_count() as u64 >= cfg.expect_workers {
            let since = *enough_since.get_or_insert_with(Instant::now);
            if since.elapsed() >= START_GRACE {
                break false;
            }
        } else {
            enough_since = None;
        }
        tokio::select! {
            f = router.recv() => on_frame(&mut router, &mut master, f).await,
            _ = tokio::time::sleep(Duration::from_millis(50)), if enough_since.is_some() => {}
            _ = tick.tick() => {
                let msgs = master.heartbeat_check();
                send_all(&mut router, msgs).await;
                if let Ok(mut v) = view.lock() { *v = master.workers_info(); }
                if let Some(max) = cfg.expect_workers_max_wait {
                    if wait_started.elapsed() > max {
                        log::error!(target: "locusta.main", "Gave up waiting for workers to connect");
                        let q = master.quit_messages();
                        send_all(&mut router, q).await;
                        return 1;
                    }
                }
                if wait_started.elapsed() >= Duration::from_secs(1) {
                    log::info!(target: "locusta.main", "Waiting for workers to be ready, {} of {} connected", master.worker_count(), cfg.expect_workers);
                }
            }
            _ = &mut ctrl_c => break true,
            Some(_) = async { match sigterm.as_mut() { Some(s) => s.recv().await, None => std::future::pending().await } } => break true,
        }
    };

    let started = Instant::now();
    if !interrupted {
        if let Some(rt) = cfg.run_time {
            log::info!(target: "locusta.main", "Run time limit set to {} seconds", rt.as_secs());
        }
        log::info!(target: "locusta.runners", "Sending spawn jobs of {} users at {:.2} spawn rate to {} ready workers", cfg.users, cfg.spawn_rate, master.worker_count());
        master.start(cfg.users, cfg.spawn_rate);
    }
    let mut next_iteration = Instant::now();
    let mut last_print = Instant::now();
    let mut reset_done = false;
    let reason = if interrupted {
        "Got Ctrl-C or SIGTERM"
    } else {
        loop {
            let msgs = master.outgoing_messages();
            send_all(&mut router, msgs).await;
            let now = Instant::now();
            if master.phase() == Phase::Spawning && now >= next_iteration {
                let (msgs, done) = master.ramp_iteration();
                send_all(&mut router, msgs).await;
                next_iteration = Instant::now() + master.step().1;
                if done {
                    log::info!(target: "locusta.runners", "All users spawned: {}", locusta_util::format_class_counts(&master.dispatched_counts()));
                    let msgs = master.spawning_complete_messages();
                    send_all(&mut router, msgs).await;
                    if cfg.reset_stats && !reset_done {
                        reset_done = true;
                        log::info!(target: "locusta.runners", "Resetting stats\n");
                        stats.reset();
                    }
                }
            }
            if let Some(rt) = cfg.run_time {
                if now.duration_since(started) >= rt {
                    break "--run-time limit reached, shutting down";
                }
            }
            if master.known_workers() == 0 {
                break "The last worker quit, stopping test.";
            }
            if master.worker_count() == 0 {
                break "The last worker went missing, stopping test.";
            }
            let wake = if master.phase() == Phase::Spawning {
                tokio::time::Instant::from_std(next_iteration)
            } else {
                tokio::time::Instant::now() + Duration::from_millis(200)
            };
            tokio::select! {
                f = router.recv() => on_frame(&mut router, &mut master, f).await,
                _ = tick.tick() => {
                    let msgs = master.heartbeat_check();
                    send_all(&mut router, msgs).await;
                    if let Ok(mut v) = view.lock() { *v = master.workers_info(); }
                    write_tick(&stats, csv.as_mut(), master.user_count(), cfg.print_stats.then_some(&mut last_print));
                }
                _ = tokio::time::sleep_until(wake) => {}
                _ = &mut ctrl_c => break "Got Ctrl-C, shutting down",
                Some(_) = async { match sigterm.as_mut() { Some(s) => s.recv().await, None => std::future::pending().await } } => break "Got SIGTERM signal",
            }
        }
    };
    log::info!(target: "locusta.main", "{reason}");

    quit_workers(&mut router, &mut master).await;
    if let Ok(mut v) = view.lock() {
        *v = master.workers_info();
    }
    finish_outputs(
        &stats,
        csv.as_mut(),
        cfg.json_stdout,
        cfg.json_file.as_deref(),
        cfg.exit_code_on_error,
    )
}

/// A master's once-a-second outputs: the CSV snapshot and, every 2 s when `last_print` is given
/// (the periodic console table is on), the stats table.
pub fn write_tick(
    stats: &StatsHub,
    csv: Option<&mut CsvWriter>,
    users: u64,
    last_print: Option<&mut Instant>,
) {
    if let Some(w) = csv {
        if let Err(e) = stats.read(|agg| w.write_snapshot(agg, users, unix_now())) {
            log::error!("writing CSV files failed: {e}");
        }
    }
    if let Some(last) = last_print {
        if last.elapsed() >= Duration::from_secs(2) {
            *last = Instant::now();
            print_block(&stats.read(|agg| console::stats_table(agg, true)));
        }
    }
}

/// Sends `quit` to every worker and waits up to 5 s for each to send its final report and quit.
pub async fn quit_workers(router: &mut Router, master: &mut Master) {
    let quits = master.quit_messages();
    if quits.is_empty() {
        return;
    }
    send_all(router, quits).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while master.known_workers() > 0 {
        tokio::select! {
            f = router.recv() => on_frame(router, master, f).await,
            _ = tokio::time::sleep_until(deadline) => {
                log::warn!("{} workers did not confirm quitting within 5 s", master.known_workers());
                break;
            }
        }
    }
}

/// The end of a master's run: merges the last reports, decides the exit code (`exit_code_on_error`
/// when anything failed) and writes the final CSV snapshot, then the JSON (`--json`,
/// `--json-file`) or the console summary. Returns the exit code.
pub fn finish_outputs(
    stats: &StatsHub,
    csv: Option<&mut CsvWriter>,
    json_stdout: bool,
    json_file: Option<&Path>,
    exit_code_on_error: i32,
) -> i32 {
    stats.merge();
    let code = stats.read(|agg| {
        if !agg.errors().is_empty() || !agg.exceptions().is_empty() {
            exit_code_on_error
        } else {
            0
        }
    });
    log::info!(target: "locusta.main", "Shutting down (exit code {code})");
    if let Some(w) = csv {
        if let Err(e) = stats.read(|agg| w.write_snapshot(agg, 0, unix_now())) {
            log::error!("writing CSV files failed: {e}");
        }
    }
    if json_stdout {
        let text = stats.read(json::stats_json);
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{text}");
    }
    if let Some(path) = json_file {
        let mut name = path.as_os_str().to_owned();
        name.push(".json");
        let target = PathBuf::from(name);
        if let Err(e) = std::fs::write(&target, stats.read(json::stats_json)) {
            log::error!("cannot write {}: {e}", target.display());
        }
    } else {
        let (table, percentiles, errors) = stats.read(|agg| {
            (
                console::stats_table(agg, false),
                console::percentiles_table(agg),
                console::error_report(agg),
            )
        });
        print_block(&table);
        print_block(&percentiles);
        if !errors.is_empty() {
            print_block(&errors);
        }
    }
    code
}

#[cfg(test)]
mod tests {
    use super::*;

    fn master() -> (Master, Arc<StatsHub>) {
        let stats = StatsHub::new(locusta_stats::StatsLimits::default());
        let plan = MasterPlan {
            classes: vec!["U".into()],
            order: Box::new(|n| vec![0; n as usize]),
            host: None,
            stop_timeout: 0.0,
            rebalancing: false,
            locustfiles: Vec::new(),
            messages: None,
        };
        (Master::new(plan, Arc::clone(&stats)), stats)
    }

    fn ready(m: &mut Master, id: &str) {
        m.handle(id, Message::new("client_ready", Value::from(-1), id));
    }

    #[test]
    fn logs_are_kept_per_known_worker_and_bounded() {
        let (mut m, _) = master();
        ready(&mut m, "w1");
        let lines: Vec<Value> = (0..600).map(|i| Value::from(format!("line {i}"))).collect();
        let data = map(vec![
            ("worker_id", "w1".into()),
            ("logs", Value::Array(lines)),
        ]);
        m.handle("w1", Message::new("logs", data, "w1"));
        let kept = &m.worker_logs()["w1"];
        assert_eq!(kept.len(), MAX_LOG_LINES);
        assert_eq!(kept.last().map(String::as_str), Some("line 599"));
        // An unknown worker id is dropped, and so is a report without one.
        let other = map(vec![
            ("worker_id", "nobody".into()),
            ("logs", Value::Array(vec![])),
        ]);
        m.handle("w1", Message::new("logs", other, "w1"));
        m.handle("w1", Message::new("logs", Value::Nil, "w1"));
        assert_eq!(m.worker_logs().len(), 1);
    }

    #[test]
    fn exceptions_are_logged_with_the_workers_id_and_stop_sends_stop() {
        let (mut m, stats) = master();
        ready(&mut m, "w1");
        let data = map(vec![("msg", "boom".into()), ("traceback", "tb".into())]);
        m.handle("w1", Message::new("exception", data.clone(), "w1"));
        m.handle("w1", Message::new("exception", data, "w1"));
        let rows = stats.read(|agg| {
            agg.exceptions()
                .iter()
                .map(|e| {
                    (
                        e.count,
                        e.msg.clone(),
                        e.nodes.iter().cloned().collect::<Vec<_>>(),
                    )
                })
                .collect::<Vec<_>>()
        });
        assert_eq!(rows, vec![(2, "boom".to_string(), vec!["w1".to_string()])]);

        m.start(2, 2.0);
        let (spawns, done) = m.ramp_iteration();
        assert!(done && spawns.len() == 1);
        let stops = m.stop_messages();
        assert_eq!(stops.len(), 1);
        assert_eq!(stops[0].kind, "stop");
        assert_eq!(m.phase(), Phase::Stopped);
        // The worker stops, then reports ready again under the same index.
        let replies = m.handle("w1", Message::new("client_stopped", Value::Nil, "w1"));
        assert!(replies.is_empty());
        let replies = m.handle("w1", Message::new("client_ready", Value::from(-1), "w1"));
        assert_eq!(get(&replies[0].data, "index").and_then(as_u64), Some(0));
        assert_eq!(m.worker_count(), 1);
    }

    #[test]
    fn custom_messages_and_reports_go_through_the_python_mailbox() {
        let (mut m, _) = master();
        let mb = SharedMailbox::default();
        m.plan.messages = Some(Arc::clone(&mb));
        ready(&mut m, "w1");
        ready(&mut m, "w2");
        // Not listened for: dropped (logged as unknown).
        m.handle("w1", Message::new("ping", Value::from(1), "w1"));
        assert!(lock_mailbox(&mb).inbox.is_empty());
        lock_mailbox(&mb).listened.insert("ping".into());
        let replies = m.handle("w1", Message::new("ping", Value::from(2), "w1"));
        assert!(replies.is_empty());
        assert_eq!(
            lock_mailbox(&mb).inbox.pop_front(),
            Some(("ping".to_string(), Value::from(2), "w1".to_string()))
        );
        // Reports are queued only once worker_report is wanted.
        let mut report = crate::report::report_value(&Default::default(), false);
        if let Value::Map(pairs) = &mut report {
            pairs.push(("custom_key".into(), Value::from(7)));
        }
        m.handle("w2", Message::new("stats", report.clone(), "w2"));
        lock_mailbox(&mb).want_reports = true;
        m.handle("w2", Message::new("stats", report.clone(), "w2"));
        let reports: Vec<_> = lock_mailbox(&mb).reports.drain(..).collect();
        assert_eq!(reports, vec![("w2".to_string(), report)]);
        // Outgoing: to one worker, or to every worker.
        {
            let mut q = lock_mailbox(&mb);
            q.outbox
                .push_back(("pong".into(), Value::from(3), Some("w1".into())));
            q.outbox.push_back(("all".into(), Value::Nil, None));
        }
        let out: Vec<(String, String)> = m
            .outgoing_messages()
            .into_iter()
            .map(|msg| (msg.kind, msg.node_id))
            .collect();
        let pairs = |v: &[(&str, &str)]| -> Vec<(String, String)> {
            v.iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect()
        };
        assert_eq!(out, pairs(&[("pong", "w1"), ("all", "w1"), ("all", "w2")]));
        assert!(m.outgoing_messages().is_empty());
    }
}
