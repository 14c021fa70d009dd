//! The master's state machine: which workers there are, what each was told to run, the ramp
//! dealt out to them, their reports merged into the run's statistics, their heartbeats.
//!
//! Message handling is plain and synchronous ([`Master::handle`] returns the replies), so it is
//! tested without sockets; [`node::MasterNode`] drives it with a ZeroMQ ROUTER. Everything that
//! comes from the network is validated: a malformed frame is logged and dropped, a report that
//! does not parse is dropped whole, and the worker table is capped at [`MAX_WORKERS`] so a
//! flood of fake workers cannot grow the master's memory without bound.

pub mod node;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use locusta_run::{Role, RunPlan};
use locusta_stats::StatsHub;
use locusta_util::unix_now;
use rmpv::Value;

use crate::dispatch::{distribute, sort_workers};
use crate::order::{ClassSlot, UserSequence};
use crate::protocol::{self, get, map, DecodeError, Message};
use crate::report::{report_from_cursor, report_from_value, WorkerReport};
use crate::wire::{Envelope, Frame, Heartbeat, DATA_DEPTH};

/// A message's data (checked by the frame's reader) as a value, for Python listeners.
fn decode_data(mut data: &[u8]) -> Value {
    rmpv::decode::read_value_with_max_depth(&mut data, 4 * protocol::MAX_DEPTH)
        .unwrap_or(Value::Nil)
}

/// Locust's `HEARTBEAT_LIVENESS`: missed heartbeat checks before a worker is missing.
pub const HEARTBEAT_LIVENESS: i32 = 3;
/// Locust's `HEARTBEAT_DEAD_INTERNAL`: a missing worker is forgotten at this count.
pub const HEARTBEAT_DEAD: i32 = -60;
/// At most this many workers are tracked (connected plus missing).
pub const MAX_WORKERS: usize = 10_000;

pub use locusta_run::WorkerInfo;

/// The log lines each worker last sent (Locust's `logs` message), shared with the web UI's
/// `/logs` (the same type as `locusta_web::WorkerLogs`).
pub type WorkerLogs = Arc<Mutex<BTreeMap<String, Vec<String>>>>;

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
    /// The user classes, in the locustfile's order (their names, weights and fixed counts
    /// decide the dispatch).
    pub classes: Vec<ClassSlot>,
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

impl MasterPlan {
    /// The master's part of a run plan: its classes, host, stop timeout, rebalancing and
    /// locustfiles; `messages` connects a Python master's listeners. `None` when the plan is
    /// not a master's.
    pub fn for_run(plan: &RunPlan, messages: Option<SharedMailbox>) -> Option<MasterPlan> {
        let Role::Master(settings) = &plan.role else {
            return None;
        };
        Some(MasterPlan {
            classes: plan
                .classes
                .iter()
                .map(|c| ClassSlot {
                    name: c.name.clone(),
                    weight: c.weight,
                    fixed_count: c.fixed_count,
                })
                .collect(),
            host: plan.host.clone(),
            stop_timeout: plan.stop_timeout.as_secs_f64(),
            rebalancing: settings.rebalancing,
            locustfiles: plan.locustfiles.clone(),
            messages,
        })
    }
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
    /// Whether known workers' heartbeats are queued in `heartbeats` (for Locust's
    /// `heartbeat_sent`, which its master fires as it answers each one).
    pub want_heartbeats: bool,
    /// Heartbeats answered: `(worker id, unix time of arrival)`.
    pub heartbeats: std::collections::VecDeque<(String, f64)>,
}

impl MasterMailbox {
    /// Queues a known worker's answered heartbeat for `heartbeat_sent` listeners (the oldest
    /// is dropped when [`MAX_QUEUED`] wait).
    fn note_heartbeat(&mut self, id: &str) {
        if !self.want_heartbeats {
            return;
        }
        if self.heartbeats.len() >= MAX_QUEUED {
            self.heartbeats.pop_front();
        }
        self.heartbeats.push_back((id.to_owned(), unix_now()));
    }
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
    /// The dispatch order: the class of every user dealt out so far (and of the rest of the
    /// ramp), oldest first.
    order: UserSequence,
    /// The class names, in the plan's order.
    names: Vec<String>,
    /// Ramps completed so far.
    completions: u64,
    phase: Phase,
    last_spawn_ts: f64,
    warned_full: bool,
    /// The last distribution sent to each worker.
    sent: HashMap<String, Vec<(String, u64)>>,
    /// The log lines each worker last sent (`logs`), for the web UI's Logs tab.
    worker_logs: WorkerLogs,
    /// The Workers tab's rows as last built (see [`Master::refresh_rows`]).
    rows: Arc<Vec<WorkerInfo>>,
    /// When `rows` were built; `None` when a worker came, went or changed state since.
    rows_built: Option<Instant>,
    /// When the users are to be dealt out again over the workers there are then (workers came
    /// or went during a test); see [`Master::take_redistribution`].
    redistribution_due: Option<Instant>,
}

/// How long after a worker comes or goes the users are dealt out again. Workers that join or
/// vanish together (a deployment scaled up, a node lost) are dealt users in one go: a wave of a
/// thousand costs a few redistributions, not one per worker, each a `spawn` to every worker.
pub const REDISTRIBUTE_AFTER: Duration = Duration::from_millis(100);

/// How old the Workers tab's CPU, memory and user counts may get (Locust's UI polls every
/// 2 s); joins, departures and state changes show at once.
pub const ROWS_MAX_AGE: Duration = Duration::from_secs(1);

/// At most this many lines per worker are kept from a `logs` message (Locust's worker sends
/// at most its last 500), each cut to [`MAX_LOG_LINE`] characters.
pub const MAX_LOG_LINES: usize = 500;
/// Longest log line kept.
pub const MAX_LOG_LINE: usize = 4096;

impl Master {
    /// A master with no workers yet.
    pub fn new(plan: MasterPlan, stats: Arc<StatsHub>) -> Master {
        let names = plan.classes.iter().map(|c| c.name.clone()).collect();
        let order = UserSequence::new(plan.classes.clone());
        Master {
            plan,
            stats,
            nodes: HashMap::new(),
            indexes: HashMap::new(),
            next_index: 0,
            current: 0,
            target: 0,
            rate: 1.0,
            order,
            names,
            completions: 0,
            phase: Phase::Ready,
            last_spawn_ts: 0.0,
            warned_full: false,
            sent: HashMap::new(),
            worker_logs: WorkerLogs::default(),
            rows: Arc::default(),
            rows_built: None,
            redistribution_due: None,
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
        self.names
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
        let mut counts = vec![0u64; self.names.len()];
        for &c in self.dispatched_order() {
            if let Some(x) = counts.get_mut(c) {
                *x += 1;
            }
        }
        self.names.iter().cloned().zip(counts).collect()
    }

    /// The classes of the users dispatched now, oldest first.
    fn dispatched_order(&self) -> &[usize] {
        let order = self.order.active();
        &order[..(self.current as usize).min(order.len())]
    }

    /// The user count the ramp goes to.
    pub fn target(&self) -> u64 {
        self.target
    }

    /// Ramps completed so far.
    pub fn completions(&self) -> u64 {
        self.completions
    }

    /// The Workers tab's rows as of the last [`Master::refresh_rows`] (shared, not copied).
    pub fn workers_rows(&self) -> Arc<Vec<WorkerInfo>> {
        Arc::clone(&self.rows)
    }

    /// Rebuilds the Workers tab's rows when a worker came, went or changed state, or when
    /// they are older than [`ROWS_MAX_AGE`] (CPU, memory and users change with every
    /// heartbeat and report; rebuilding per message would cost O(workers) each).
    pub fn refresh_rows(&mut self, now: Instant) {
        if self
            .rows_built
            .is_some_and(|t| now.saturating_duration_since(t) < ROWS_MAX_AGE)
        {
            return;
        }
        self.rows = Arc::new(self.workers_info());
        self.rows_built = Some(now);
    }

    /// Marks the rows stale: a worker came, went or changed state.
    fn rows_changed(&mut self) {
        self.rows_built = None;
    }

    /// Snapshot for the web UI (sorted by id; built now).
    pub fn workers_info(&self) -> Vec<WorkerInfo> {
        let mut v: Vec<WorkerInfo> = self
            .nodes
            .iter()
            .map(|(id, n)| WorkerInfo {
                id: id.clone(),
                state: n.state.clone(),
                user_count: n.user_count,
                cpu_usage: n.cpu,
                memory_usage: n.memory,
            })
            .collect();
        v.sort_by(|a, b| a.id.cmp(&b.id));
        v
    }

    /// Starts (or changes) the test: ramp to `users` at `rate` per second. With `classes`,
    /// users added from now on are of these classes only (a load shape's class list; users
    /// already dispatched keep theirs, as in Locust).
    pub fn start(&mut self, users: u64, rate: f64, classes: Option<&[String]>) {
        if self.phase == Phase::Ready || self.phase == Phase::Stopped {
            self.stats.reset();
        }
        if let Some(names) = classes {
            let allowed: Vec<usize> = names
                .iter()
                .filter_map(|n| {
                    let found = self.names.iter().position(|c| c == n);
                    if found.is_none() {
                        log::warn!("the load shape names an unknown user class {n}; it is ignored");
                    }
                    found
                })
                .collect();
            self.order.restrict(&allowed);
        }
        // Users beyond the ones dealt out (the rest of an unfinished ramp) are planned anew.
        while self.order.len() as u64 > self.current {
            self.order.pop();
        }
        while (self.order.len() as u64) < users && self.order.push().is_some() {}
        self.target = users.min(self.order.len() as u64);
        self.rate = if rate.is_finite() && rate > 0.0 {
            rate
        } else {
            1.0
        };
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
            self.completions += 1;
        }
        (msgs, done)
    }

    /// `spawn` for every active worker with the distribution of the current user count.
    pub fn spawn_messages(&mut self) -> Vec<Message> {
        // A full distribution: any redistribution that was due is in it.
        self.redistribution_due = None;
        let workers = self.active_workers();
        let dist = distribute(self.dispatched_order(), &self.names, &workers);
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

    /// Workers came or went during a test: the users are dealt out again
    /// [`REDISTRIBUTE_AFTER`] from the first such change (see [`Master::take_redistribution`]).
    fn redistribute(&mut self) {
        if matches!(self.phase, Phase::Running | Phase::Spawning)
            && self.redistribution_due.is_none()
        {
            self.redistribution_due = Some(Instant::now() + REDISTRIBUTE_AFTER);
        }
    }

    /// When a redistribution is due, if one is (the caller wakes up then).
    pub fn redistribution_due(&self) -> Option<Instant> {
        self.redistribution_due
    }

    /// The `spawn` messages of a redistribution due by `now` (none otherwise, or when the test
    /// stopped meanwhile).
    pub fn take_redistribution(&mut self, now: Instant) -> Vec<Message> {
        match self.redistribution_due {
            Some(due) if due <= now => {
                self.redistribution_due = None;
                match self.phase {
                    Phase::Running | Phase::Spawning => self.spawn_messages(),
                    _ => Vec::new(),
                }
            }
            _ => Vec::new(),
        }
    }

    /// Handles one frame from worker `id` (its msgpack bytes); returns the replies. Heartbeats
    /// and stats reports, nearly all of a big master's traffic, are read in place without a
    /// value tree (see [`crate::wire`]); other messages are decoded whole and go to
    /// [`Master::handle`].
    ///
    /// Replies go to `out`, except the answer to a heartbeat: `Ok(true)` says to send it (the
    /// caller frames that one message without building it).
    pub fn handle_frame(
        &mut self,
        id: &str,
        frame: &[u8],
        out: &mut Vec<Message>,
    ) -> Result<bool, DecodeError> {
        let mut f = Frame::open(frame)?;
        match f.kind {
            "heartbeat" => {
                let hb = Heartbeat::read(f.data(), DATA_DEPTH)?;
                f.close()?;
                return Ok(self.on_heartbeat(id, hb));
            }
            "stats" => match report_from_cursor(f.data(), DATA_DEPTH) {
                Ok(report) => {
                    let data = f.data_bytes();
                    f.close()?;
                    self.on_stats(id, Ok(report), || decode_data(data));
                }
                // A report that does not parse: a malformed message, or a well-formed one
                // whose report is refused (the check reads the frame again; rare).
                Err(e) => {
                    let env = Envelope::parse(frame)?;
                    self.on_stats(id, Err(e), || decode_data(env.data));
                }
            },
            _ => out.extend(self.handle(id, Message::decode(frame)?)),
        }
        Ok(false)
    }

    /// Handles one message from worker `id`; returns the replies.
    pub fn handle(&mut self, id: &str, msg: Message) -> Vec<Message> {
        let mut out = Vec::new();
        match msg.kind.as_str() {
            "client_ready" => self.on_client_ready(id, &msg.data, &mut out),
            "heartbeat" => {
                if self.on_heartbeat(id, Heartbeat::from_value(&msg.data)) {
                    out.insert(0, Message::new("heartbeat", Value::Nil, id));
                }
            }
            "stats" => self.on_stats(id, report_from_value(&msg.data), || msg.data.clone()),
            "spawning" | "spawning_complete" => self.on_spawning(id, &msg, &mut out),
            "client_stopped" | "quit" => self.on_gone(id, &msg.kind),
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
            "logs" => self.on_logs(id, &msg.data),
            "locustfile" => {
                log::debug!("Worker {id} requested the locustfile");
                out.push(Message::new("locustfile", self.locustfiles_value(), id));
            }
            _ => self.on_custom(id, msg),
        }
        out
    }

    fn on_client_ready(&mut self, id: &str, data: &Value, out: &mut Vec<Message>) {
        if matches!(data, Value::Nil | Value::Boolean(false)) || data.as_str() == Some("") {
            log::error!(
                "An old (pre 2.0) worker tried to connect ({id}). That's not going to work."
            );
            return;
        }
        if !self.nodes.contains_key(id) && self.nodes.len() >= MAX_WORKERS {
            if !self.warned_full {
                self.warned_full = true;
                log::error!("{MAX_WORKERS} workers are connected; refusing more");
            }
            return;
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
        self.rows_changed();
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
            self.worker_count()
        );
        if !known {
            self.redistribute();
        }
    }

    /// A heartbeat from `id`; true when it is to be answered (a known worker's).
    fn on_heartbeat(&mut self, id: &str, hb: Heartbeat<'_>) -> bool {
        let Some(node) = self.nodes.get_mut(id) else {
            log::debug!("heartbeat from unknown worker {id}");
            return false;
        };
        node.heartbeat = HEARTBEAT_LIVENESS;
        let was_missing = node.state == "missing";
        if let Some(s) = hb.state {
            // Most heartbeats repeat the state: no new string then.
            if node.state != s {
                node.state = s.chars().take(32).collect();
                self.rows_built = None;
            }
        }
        node.cpu = hb.cpu;
        node.memory = hb.memory;
        if let Some(mb) = &self.plan.messages {
            lock_mailbox(mb).note_heartbeat(id);
        }
        if was_missing {
            log::info!(target: "locusta.runners", "Worker {id} self-healed with heartbeat, setting state to {}.", self.nodes[id].state);
            self.redistribute();
        }
        true
    }

    /// A stats report, decoded by the caller; `data` gives its value for a Python master's
    /// `worker_report` listeners (only built when they want it).
    fn on_stats(
        &mut self,
        id: &str,
        report: Result<WorkerReport, DecodeError>,
        data: impl FnOnce() -> Value,
    ) {
        let r = match report {
            Ok(r) => r,
            Err(e) => {
                log::warn!("dropping a stats report from {id}: {e}");
                return;
            }
        };
        if let Some(mb) = &self.plan.messages {
            let mut mb = lock_mailbox(mb);
            if mb.want_reports {
                if mb.reports.len() >= MAX_QUEUED {
                    mb.reports.pop_front();
                }
                mb.reports.push_back((id.to_owned(), data()));
            }
        }
        self.stats.apply_report(&r.stats);
        if let Some(node) = self.nodes.get_mut(id) {
            node.user_count = r.user_count;
            node.class_counts = r.user_classes_count;
        }
    }

    /// `spawning` and `spawning_complete` (which carries the worker's users per class).
    fn on_spawning(&mut self, id: &str, msg: &Message, out: &mut Vec<Message>) {
        let Some(n) = self.nodes.get_mut(id) else {
            log::warn!(
                "Got {} message from unknown worker {id}. Asking worker to quit.",
                msg.kind
            );
            out.push(Message::new("quit", Value::Nil, id));
            return;
        };
        self.rows_built = None;
        if msg.kind == "spawning" {
            n.state = "spawning".into();
            return;
        }
        n.state = "running".into();
        if let Some(Ok(c)) = get(&msg.data, "user_classes_count").map(protocol::class_counts) {
            n.user_count = c.iter().map(|(_, v)| v).sum();
            n.class_counts = c;
        }
    }

    /// `client_stopped` or `quit`: the worker leaves the table (a stopped one comes back with
    /// `client_ready`).
    fn on_gone(&mut self, id: &str, kind: &str) {
        let Some(n) = self.nodes.remove(id) else {
            log::warn!("Received {kind} message from an unknown worker: {id}.");
            return;
        };
        self.sent.remove(id);
        self.rows_changed();
        if kind == "quit" {
            log::info!(target: "locusta.runners", "Worker '{id}' (index {}) quit. {} workers ready.", n.index, self.worker_count());
        } else {
            log::info!(target: "locusta.runners", "{id} (index {}) reported that it has stopped", n.index);
        }
        self.redistribute();
    }

    fn on_logs(&mut self, id: &str, data: &Value) {
        // Locust keys the lines by the report's `worker_id`; only known workers are kept, so
        // the table is bounded by the worker table.
        let wid = get(data, "worker_id")
            .and_then(|v| v.as_str())
            .unwrap_or("");
        let mut logs = locusta_util::lock(&self.worker_logs);
        let full = logs.len() >= MAX_WORKERS && !logs.contains_key(wid);
        if wid.is_empty() || !self.nodes.contains_key(wid) || full {
            log::debug!("dropping a logs message from {id} for an unknown worker");
            return;
        }
        let lines: Vec<String> = match get(data, "logs") {
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
        logs.insert(wid.to_owned(), lines);
    }

    /// The answer to a `-f -` worker's `locustfile` request.
    fn locustfiles_value(&self) -> Value {
        if self.plan.locustfiles.is_empty() {
            return map(vec![(
                "error",
                "this master runs built-in user classes and has no locustfile to send".into(),
            )]);
        }
        let files = self
            .plan
            .locustfiles
            .iter()
            .map(|(name, text)| {
                map(vec![
                    ("filename", name.as_str().into()),
                    ("contents", text.as_str().into()),
                ])
            })
            .collect();
        map(vec![("locustfiles", Value::Array(files))])
    }

    /// A type the protocol does not define: a custom message for Python listeners, or unknown.
    fn on_custom(&mut self, id: &str, msg: Message) {
        let kind = msg.kind.as_str();
        if let Some(mb) = &self.plan.messages {
            let mut mb = lock_mailbox(mb);
            if mb.listened.contains(kind) {
                if mb.inbox.len() >= MAX_QUEUED {
                    log::warn!("dropping a {kind} message from {id}: {MAX_QUEUED} are waiting for the Python listeners");
                } else {
                    mb.inbox
                        .push_back((kind.to_owned(), msg.data, id.to_owned()));
                }
                return;
            }
        }
        log::warn!(
            "Unknown message type received from {id}: {}",
            kind.chars().take(64).collect::<String>()
        )
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

    /// Locust's heartbeat check (every second). With `--enable-rebalancing`, workers newly
    /// missing schedule a redistribution ([`Master::take_redistribution`]).
    ///
    /// As Locust's `heartbeat_worker`: a worker whose count is already below zero goes
    /// missing, any other has its count lowered; so a worker goes missing at the fifth check
    /// without a heartbeat (4-5 s), and a missing one is forgotten once its count reaches
    /// [`HEARTBEAT_DEAD`].
    pub fn heartbeat_check(&mut self) {
        let mut newly_missing = false;
        let mut dead = Vec::new();
        for (id, n) in self.nodes.iter_mut() {
            if n.state == "missing" && n.heartbeat <= HEARTBEAT_DEAD {
                dead.push(id.clone());
            }
            if n.heartbeat < 0 && n.state != "missing" {
                log::info!(target: "locusta.runners", "Worker {id} failed to send heartbeat, setting state to missing.");
                n.state = "missing".into();
                n.user_count = 0;
                n.class_counts.clear();
                newly_missing = true;
            } else {
                n.heartbeat -= 1;
            }
        }
        if newly_missing || !dead.is_empty() {
            self.rows_changed();
        }
        for id in dead {
            log::info!(target: "locusta.runners", "Worker {id} has been missing for a minute; forgetting it.");
            self.nodes.remove(&id);
            self.sent.remove(&id);
            locusta_util::lock(&self.worker_logs).remove(&id);
        }
        if newly_missing && self.plan.rebalancing {
            self.redistribute();
        }
    }

    /// The log lines each worker last sent (shared: the web UI reads them as they arrive).
    pub fn worker_logs(&self) -> WorkerLogs {
        Arc::clone(&self.worker_logs)
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
        self.redistribution_due = None;
        self.current = 0;
        self.target = 0;
        while self.order.pop().is_some() {}
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
        self.nodes.values().filter(|n| n.state != "missing").count()
    }

    /// Every known worker (including missing ones).
    pub fn known_workers(&self) -> usize {
        self.nodes.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::as_u64;

    fn master() -> (Master, Arc<StatsHub>) {
        let stats = StatsHub::new(locusta_stats::StatsLimits::default());
        let plan = MasterPlan {
            classes: vec![ClassSlot {
                name: "U".into(),
                weight: 1.0,
                fixed_count: 0,
            }],
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
        let kept = locusta_util::lock(&m.worker_logs())["w1"].clone();
        assert_eq!(kept.len(), MAX_LOG_LINES);
        assert_eq!(kept.last().map(String::as_str), Some("line 599"));
        // An unknown worker id is dropped, and so is a report without one.
        let other = map(vec![
            ("worker_id", "nobody".into()),
            ("logs", Value::Array(vec![])),
        ]);
        m.handle("w1", Message::new("logs", other, "w1"));
        m.handle("w1", Message::new("logs", Value::Nil, "w1"));
        assert_eq!(locusta_util::lock(&m.worker_logs()).len(), 1);
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

        m.start(2, 2.0, None);
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

    #[test]
    fn a_silent_worker_goes_missing_at_the_fifth_check_as_in_locust() {
        let (mut m, _) = master();
        ready(&mut m, "w1");
        let hb = Message::new("heartbeat", map(vec![("state", "running".into())]), "w1");
        assert_eq!(m.handle("w1", hb)[0].kind, "heartbeat");
        for check in 1..=4 {
            m.heartbeat_check();
            assert_eq!(m.worker_count(), 1, "missing after check {check}");
        }
        m.heartbeat_check();
        assert_eq!(m.worker_count(), 0);
        assert_eq!(m.known_workers(), 1);
        // Forgotten once the count reaches HEARTBEAT_DEAD (checked before lowering it).
        let checks = (-1 - HEARTBEAT_DEAD) as usize + 1;
        for _ in 0..checks {
            m.heartbeat_check();
        }
        assert_eq!(m.known_workers(), 0);
    }

    fn spawned(msgs: &[Message]) -> Vec<(String, u64)> {
        let mut v: Vec<(String, u64)> = msgs
            .iter()
            .filter(|m| m.kind == "spawn")
            .map(|m| {
                let users = match get(&m.data, "user_classes_count") {
                    Some(Value::Map(c)) => c.iter().filter_map(|(_, n)| as_u64(n)).sum(),
                    _ => 0,
                };
                (m.node_id.clone(), users)
            })
            .collect();
        v.sort();
        v
    }

    #[test]
    fn workers_joining_together_are_dealt_users_in_one_redistribution() {
        let (mut m, _) = master();
        ready(&mut m, "w0");
        m.start(10, 10.0, None);
        let (msgs, done) = m.ramp_iteration();
        assert!(done);
        assert_eq!(spawned(&msgs), vec![("w0".to_string(), 10)]);
        // A wave joins: nothing is sent per joiner, one redistribution once it is due.
        for id in ["w1", "w2", "w3", "w4"] {
            let replies = m.handle(id, Message::new("client_ready", Value::from(-1), id));
            assert!(replies.iter().all(|r| r.kind == "ack"));
        }
        let due = m.redistribution_due().expect("a redistribution is due");
        assert!(m
            .take_redistribution(due - Duration::from_millis(1))
            .is_empty());
        let msgs = m.take_redistribution(due);
        let users: Vec<u64> = spawned(&msgs).into_iter().map(|(_, n)| n).collect();
        assert_eq!(users, vec![2, 2, 2, 2, 2]);
        assert!(m.redistribution_due().is_none());
        assert!(m.take_redistribution(due + REDISTRIBUTE_AFTER).is_empty());
        // A worker that stops is taken out at the next redistribution; after stop, nothing.
        m.handle("w4", Message::new("client_stopped", Value::Nil, "w4"));
        m.stop_messages();
        assert!(m.redistribution_due().is_none());
    }

    #[test]
    fn missing_workers_are_rebalanced_only_with_rebalancing_on() {
        for rebalancing in [false, true] {
            let (mut m, _) = master();
            m.plan.rebalancing = rebalancing;
            for id in ["w0", "w1", "w2"] {
                ready(&mut m, id);
            }
            m.start(9, 9.0, None);
            assert_eq!(m.ramp_iteration().0.len(), 3);
            let beat = |m: &mut Master, id: &str| {
                m.handle(
                    id,
                    Message::new("heartbeat", map(vec![("state", "running".into())]), id),
                );
            };
            // w2 falls silent; the others beat before every check.
            for _ in 0..5 {
                beat(&mut m, "w0");
                beat(&mut m, "w1");
                m.heartbeat_check();
            }
            assert_eq!(m.worker_count(), 2);
            let later = Instant::now() + REDISTRIBUTE_AFTER;
            let msgs = m.take_redistribution(later);
            if rebalancing {
                assert_eq!(
                    spawned(&msgs),
                    vec![("w0".to_string(), 5), ("w1".to_string(), 4)]
                );
            } else {
                assert!(msgs.is_empty(), "rebalanced without --enable-rebalancing");
            }
        }
    }

    #[test]
    fn answered_heartbeats_are_queued_for_heartbeat_sent() {
        let (mut m, _) = master();
        let mb = SharedMailbox::default();
        m.plan.messages = Some(Arc::clone(&mb));
        ready(&mut m, "w1");
        let beat = || Message::new("heartbeat", map(vec![("state", "ready".into())]), "w1");
        // Not wanted yet: answered, not queued.
        assert_eq!(m.handle("w1", beat()).len(), 1);
        assert!(lock_mailbox(&mb).heartbeats.is_empty());
        lock_mailbox(&mb).want_heartbeats = true;
        let before = unix_now();
        assert_eq!(m.handle("w1", beat()).len(), 1);
        // An unknown worker's heartbeat is neither answered nor queued (as Locust).
        assert!(m.handle("stranger", beat()).is_empty());
        let queued: Vec<_> = lock_mailbox(&mb).heartbeats.drain(..).collect();
        assert_eq!(queued.len(), 1);
        assert_eq!(queued[0].0, "w1");
        assert!(queued[0].1 >= before && queued[0].1 <= unix_now());
    }
}
