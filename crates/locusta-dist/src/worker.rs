//! The worker side of Locust's protocol, around any engine that can run users.
//!
//! A worker connects to the master, announces itself (`client_ready`), and then obeys: `spawn`
//! carries the absolute number of users per class this worker should run, `stop` stops them,
//! `quit` ends the process. It sends a heartbeat every second (state, CPU, memory) and a
//! statistics report every three seconds (only what changed since the previous one). If the
//! master goes silent for [`master_heartbeat_timeout`] the worker stops its users and exits
//! with a clear message, as Locust's worker does.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use locusta_stats::{ReportTracker, StatsHub};
use rmpv::Value;

use crate::protocol::{self, as_f64, get, map, Message};
use crate::report::{report_value, WorkerReport};
use crate::sys::{memory_bytes, CpuMeter};
use crate::transport::Dealer;

/// Locust's `HEARTBEAT_INTERVAL`.
pub const HEARTBEAT_INTERVAL: Duration = Duration::from_secs(1);
/// Locust's `WORKER_REPORT_INTERVAL`.
pub const REPORT_INTERVAL: Duration = Duration::from_secs(3);
/// Locust's `MASTER_HEARTBEAT_TIMEOUT` (60 s; `LOCUSTA_MASTER_HEARTBEAT_TIMEOUT` overrides it
/// in seconds, as tests patch Locust's module constant).
pub fn master_heartbeat_timeout() -> Duration {
    std::env::var("LOCUSTA_MASTER_HEARTBEAT_TIMEOUT")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
        .filter(|&s| s > 0)
        .map_or(Duration::from_secs(60), Duration::from_secs)
}
/// Locust's `CONNECT_TIMEOUT`.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Locust's `CONNECT_RETRY_COUNT`.
pub const CONNECT_RETRY_COUNT: u32 = 60;

/// What the worker loop needs from whatever runs its users: the engine's `locusta::Runner` for
/// Rust user classes, the greenlet runner behind a mailbox for Python ones.
pub trait WorkerUsers {
    /// Sets the absolute number of users per class (starting or stopping users at once).
    /// Classes this engine does not know are reported back as an error message.
    fn set_class_counts(&mut self, counts: &[(String, u64)]) -> Result<(), String>;
    /// Sets the host and stop timeout the master sent with `spawn`.
    fn configure(&mut self, host: Option<String>, stop_timeout: Duration);
    /// Users running now.
    fn user_count(&self) -> u64;
    /// Users per class now (every known class, zeros included).
    fn class_counts(&self) -> Vec<(String, u64)>;
    /// The statistics the users record into.
    fn stats(&self) -> Arc<StatsHub>;
    /// Stops every user (honouring the stop timeout).
    fn stop(&mut self) -> Pin<Box<dyn Future<Output = ()> + '_>>;
    /// A message of a type the protocol does not define (Locust's custom messages,
    /// `register_message`); returns false when nothing listens for that type.
    fn custom_message(&mut self, _kind: &str, _data: &Value) -> bool {
        false
    }
    /// Custom messages the user code asked to send to the master (`runner.send_message`)
    /// since the last call, as `(type, data)`.
    fn take_outgoing(&mut self) -> Vec<(String, Value)> {
        Vec::new()
    }
    /// A stats report is due: Locust fires `report_to_master` before each report, so a Python
    /// worker asks its listeners for the keys they add (answered through
    /// [`WorkerUsers::report_extras`]).
    fn request_report_extras(&mut self) {}
    /// The extra keys for the report last asked for (what `report_to_master` listeners
    /// added), or None while they are still being collected. The report's own keys cannot be
    /// replaced.
    fn report_extras(&mut self) -> Option<Vec<(String, Value)>> {
        Some(Vec::new())
    }
    /// The index the master gave this worker in its `ack` (Locust's `runner.worker_index`).
    fn set_worker_index(&mut self, _index: i64) {}
    /// The master's heartbeat arrived at `timestamp` (unix seconds); Locust's worker fires
    /// `heartbeat_received` then.
    fn heartbeat_received(&mut self, _timestamp: f64) {}
}

/// How long a due stats report waits for the extra keys of `report_to_master` listeners
/// (the Python loop answers within 50 ms unless its users keep it busy); after that it is sent
/// with the keys they added last time.
pub const REPORT_EXTRAS_WAIT: Duration = Duration::from_secs(1);

/// The keys of a stats report that Locust reserves (extras may not replace them).
pub const REPORT_KEYS: [&str; 5] = [
    "stats",
    "stats_total",
    "errors",
    "user_classes_count",
    "user_count",
];

/// How often the worker loop collects the engine's outgoing custom messages.
pub const OUTBOX_INTERVAL: Duration = Duration::from_millis(50);

/// Where the master is.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// `--master-host`.
    pub master_host: String,
    /// `--master-port`.
    pub master_port: u16,
    /// The node id (`hostname_hex` when `None`).
    pub node_id: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Ready,
    Spawning,
    Running,
    Stopped,
}

impl State {
    fn as_str(self) -> &'static str {
        match self {
            State::Ready => "ready",
            State::Spawning => "spawning",
            State::Running => "running",
            State::Stopped => "stopped",
        }
    }
}

/// Why the worker loop ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Exit {
    /// The master sent `quit`.
    Quit,
    /// Ctrl-C or SIGTERM.
    Interrupted,
    /// The master went silent or could not be reached.
    MasterLost(String),
}

struct Worker<'a> {
    engine: &'a mut dyn WorkerUsers,
    stats: Arc<StatsHub>,
    tracker: ReportTracker,
    node_id: String,
    state: State,
    last_spawn_ts: f64,
    cpu: CpuMeter,
    /// Requests reported to the master since the current test started.
    reported_requests: u64,
    /// Occurrences of each exception (by traceback) already sent to the master.
    sent_exceptions: std::collections::HashMap<String, u64>,
    /// The extra report keys last collected (used when the engine is too slow to answer).
    last_extras: Vec<(String, Value)>,
}

/// At most this many `exception` messages are sent per report interval (the rest follow in
/// later intervals), so a task failing in a tight loop cannot flood the master.
pub const MAX_EXCEPTIONS_PER_REPORT: u64 = 100;

impl Worker<'_> {
    /// Locust's worker sends an `exception` message (`msg`, `traceback`) for every error a
    /// user raises; here the engine records them in its statistics (as a standalone run
    /// does), and the new occurrences since the last call are forwarded.
    fn exception_messages(&mut self) -> Vec<Message> {
        let rows: Vec<(String, String, u64)> = self.stats.read(|agg| {
            agg.exceptions()
                .iter()
                .map(|e| (e.msg.clone(), e.traceback.clone(), e.count))
                .collect()
        });
        let mut out = Vec::new();
        let mut budget = MAX_EXCEPTIONS_PER_REPORT;
        for (msg, traceback, count) in rows {
            let sent = self.sent_exceptions.entry(traceback.clone()).or_insert(0);
            if count < *sent {
                // The statistics were reset (a new test): count again from zero.
                *sent = 0;
            }
            let n = (count - *sent).min(budget);
            for _ in 0..n {
                out.push(Message::new(
                    "exception",
                    map(vec![
                        ("msg", msg.as_str().into()),
                        ("traceback", traceback.as_str().into()),
                    ]),
                    &self.node_id,
                ));
            }
            *sent += n;
            budget -= n;
        }
        out
    }

    fn report(&mut self, extras: Vec<(String, Value)>) -> Message {
        let stats = self.tracker.take(&self.stats);
        self.reported_requests += stats.total.num_requests;
        let r = WorkerReport {
            stats,
            user_classes_count: self.engine.class_counts(),
            user_count: self.engine.user_count(),
        };
        let mut data = report_value(&r, true);
        if let Value::Map(pairs) = &mut data {
            for (k, v) in extras {
                if !REPORT_KEYS.contains(&k.as_str())
                    && !pairs
                        .iter()
                        .any(|(key, _)| key.as_str() == Some(k.as_str()))
                {
                    pairs.push((Value::from(k), v));
                }
            }
        }
        Message::new("stats", data, &self.node_id)
    }

    /// The extra keys of a due report once the engine has them, or (at `deadline`) the
    /// ones it had last time; None while it is worth waiting.
    fn due_extras(&mut self, deadline: Instant) -> Option<Vec<(String, Value)>> {
        match self.engine.report_extras() {
            Some(extras) => {
                self.last_extras.clone_from(&extras);
                Some(extras)
            }
            None if Instant::now() >= deadline => Some(self.last_extras.clone()),
            None => None,
        }
    }

    /// The extra keys for the last report (at quit), waiting for them as a due report does.
    async fn final_extras(&mut self) -> Vec<(String, Value)> {
        self.engine.request_report_extras();
        let deadline = Instant::now() + REPORT_EXTRAS_WAIT;
        loop {
            if let Some(extras) = self.due_extras(deadline) {
                return extras;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    fn heartbeat(&mut self) -> Message {
        Message::new(
            "heartbeat",
            map(vec![
                ("state", self.state.as_str().into()),
                ("current_cpu_usage", self.cpu.percent().into()),
                ("current_memory_usage", memory_bytes().into()),
            ]),
            &self.node_id,
        )
    }

    /// Handles `spawn`; returns the messages to send back.
    fn spawn(&mut self, data: &Value) -> Vec<Message> {
        let mut out = vec![Message::new("spawning", Value::Nil, &self.node_id)];
        let ts = get(data, "timestamp").and_then(as_f64).unwrap_or(0.0);
        if ts <= self.last_spawn_ts {
            log::info!(target: "locusta.runners", "Discard spawn message with older or equal timestamp than timestamp of previous spawn message");
            return out;
        }
        let counts = match get(data, "user_classes_count").map(protocol::class_counts) {
            Some(Ok(c)) => c,
            Some(Err(e)) => {
                log::warn!("dropping a spawn message from the master: {e}");
                return out;
            }
            None => {
                log::warn!("dropping a spawn message without user_classes_count");
                return out;
            }
        };
        let host = match get(data, "host") {
            Some(Value::String(s)) => s.as_str().filter(|h| !h.is_empty()).map(str::to_owned),
            _ => None,
        };
        let stop_timeout = get(data, "stop_timeout")
            .and_then(as_f64)
            .filter(|t| t.is_finite() && *t >= 0.0)
            .unwrap_or(0.0);
        if !matches!(self.state, State::Running | State::Spawning) {
            // A new test: start from clean statistics, as Locust's worker does.
            self.stats.reset();
            self.tracker.clear();
            self.reported_requests = 0;
        }
        self.state = State::Spawning;
        self.engine
            .configure(host, Duration::from_secs_f64(stop_timeout.min(86_400.0)));
        if let Err(e) = self.engine.set_class_counts(&counts) {
            log::error!("{e}");
            out.push(Message::new(
                "exception",
                map(vec![("msg", e.as_str().into()), ("traceback", "".into())]),
                &self.node_id,
            ));
        }
        self.last_spawn_ts = ts;
        let now_counts = self.engine.class_counts();
        out.push(Message::new(
            "spawning_complete",
            map(vec![
                (
                    "user_classes_count",
                    protocol::class_counts_value(&now_counts),
                ),
                ("user_count", self.engine.user_count().into()),
            ]),
            &self.node_id,
        ));
        self.state = State::Running;
        out
    }

    /// Acts on one message from the master: messages to send back go to `outgoing`;
    /// `Some(exit)` ends the run.
    async fn on_message(
        &mut self,
        msg: Message,
        dealer: &mut Dealer,
        cfg: &WorkerConfig,
        last_master: &mut Instant,
        outgoing: &mut Vec<Message>,
    ) -> Option<Exit> {
        let node_id = self.node_id.clone();
        match msg.kind.as_str() {
            "heartbeat" => {
                *last_master = Instant::now();
                self.engine.heartbeat_received(locusta_util::unix_now());
            }
            // A repeated handshake (after `reconnect` or `stop`): Locust takes the index again.
            "ack" => {
                if let Some(index) = ack_index(&msg.data) {
                    self.engine.set_worker_index(index);
                }
            }
            "spawn" => {
                *last_master = Instant::now();
                outgoing.extend(self.spawn(&msg.data));
            }
            "spawning_complete" => {
                let n = get(&msg.data, "user_count")
                    .and_then(protocol::as_u64)
                    .unwrap_or(0);
                log::info!(target: "locusta.runners", "All users spawned on the master's side: {n} users");
            }
            "stop" => {
                self.engine.stop().await;
                self.state = State::Stopped;
                let _ = dealer
                    .send(&Message::new("client_stopped", Value::Nil, &node_id))
                    .await;
                outgoing.push(Message::new("client_ready", Value::from(-1), &node_id));
                self.state = State::Ready;
            }
            "quit" => {
                log::info!(target: "locusta.runners", "Got quit message from master, shutting down...");
                return Some(Exit::Quit);
            }
            "reconnect" => {
                log::warn!("Received reconnect message from master. Resetting RPC connection.");
                match Dealer::connect(&cfg.master_host, cfg.master_port, &node_id, CONNECT_TIMEOUT)
                    .await
                {
                    Ok(d) => {
                        *dealer = d;
                        outgoing.push(Message::new("client_ready", Value::from(-1), &node_id));
                    }
                    Err(e) => log::error!(
                        "Temporary failure when resetting connection: {e}, will retry later."
                    ),
                }
            }
            // A Python worker applies it to its user class (the link listens for it).
            "update_user_class" => {
                if !self.engine.custom_message("update_user_class", &msg.data) {
                    log::warn!("update_user_class is not supported for Rust user classes; ignored");
                }
            }
            other => {
                if !self.engine.custom_message(other, &msg.data) {
                    log::warn!(
                        "Unknown message type received: {}",
                        other.chars().take(64).collect::<String>()
                    );
                }
            }
        }
        None
    }
}

async fn connect(cfg: &WorkerConfig, node_id: &str) -> Result<Dealer, String> {
    let mut last_err = String::new();
    for attempt in 1..=CONNECT_RETRY_COUNT {
        match Dealer::connect(&cfg.master_host, cfg.master_port, node_id, CONNECT_TIMEOUT).await {
            Ok(d) => return Ok(d),
            Err(e) => {
                log::info!(
                    "Failed to connect to master {}:{}, retry {attempt}/{CONNECT_RETRY_COUNT}.",
                    cfg.master_host,
                    cfg.master_port
                );
                last_err = e;
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
    }
    Err(last_err)
}

/// The worker index in an `ack` (masters before Locust 2.11 send none).
fn ack_index(data: &Value) -> Option<i64> {
    get(data, "index").and_then(|v| v.as_i64())
}

/// Waits for the master's `ack` to our `client_ready`, resending it every
/// [`CONNECT_TIMEOUT`]. Returns the worker index.
async fn handshake(dealer: &mut Dealer, node_id: &str) -> Result<i64, String> {
    let ready = Message::new("client_ready", Value::from(-1), node_id);
    for attempt in 1..=CONNECT_RETRY_COUNT {
        dealer.send(&ready).await?;
        let deadline = Instant::now() + CONNECT_TIMEOUT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            match tokio::time::timeout(left, dealer.recv()).await {
                Err(_) => break,
                Ok(Err(e)) => return Err(e),
                Ok(Ok(bytes)) => match Message::decode(&bytes) {
                    Ok(m) if m.kind == "ack" => return Ok(ack_index(&m.data).unwrap_or(-1)),
                    Ok(m) => log::debug!("ignoring {} before the master's ack", m.kind),
                    Err(e) => log::warn!("dropping a malformed message from the master: {e}"),
                },
            }
        }
        log::info!("No ack from the master yet, retry {attempt}/{CONNECT_RETRY_COUNT}.");
    }
    Err("the master never acknowledged this worker".into())
}

/// Runs the worker until the master says quit, the process is interrupted, or the master is
/// lost. Users are stopped in every case.
pub async fn run(engine: &mut dyn WorkerUsers, cfg: WorkerConfig) -> Exit {
    let node_id = cfg.node_id.clone().unwrap_or_else(crate::sys::new_node_id);
    log::info!(
        target: "locusta.main",
        "Starting worker {node_id}, connecting to master {}:{}",
        cfg.master_host,
        cfg.master_port
    );
    let mut dealer = match connect(&cfg, &node_id).await {
        Ok(d) => d,
        Err(e) => {
            return Exit::MasterLost(format!(
                "could not connect to the master at {}:{}: {e}",
                cfg.master_host, cfg.master_port
            ))
        }
    };
    match handshake(&mut dealer, &node_id).await {
        Ok(index) => {
            log::info!(target: "locusta.main", "Connected to master as worker index {index}");
            engine.set_worker_index(index);
        }
        Err(e) => return Exit::MasterLost(e),
    }
    let stats = engine.stats();
    let mut w = Worker {
        engine,
        stats,
        tracker: ReportTracker::new(),
        node_id: node_id.clone(),
        state: State::Ready,
        last_spawn_ts: 0.0,
        cpu: CpuMeter::new(),
        reported_requests: 0,
        sent_exceptions: std::collections::HashMap::new(),
        last_extras: Vec::new(),
    };
    let mut heartbeat = tokio::time::interval(HEARTBEAT_INTERVAL);
    let mut report = tokio::time::interval(REPORT_INTERVAL);
    heartbeat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    report.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut outbox = tokio::time::interval(OUTBOX_INTERVAL);
    outbox.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_master = Instant::now();
    // A report waiting for its extra keys, sent when they come or at this deadline.
    let mut report_due: Option<Instant> = None;
    let timeout = master_heartbeat_timeout();
    let mut sigterm =
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);

    let exit = loop {
        let mut outgoing: Vec<Message> = Vec::new();
        tokio::select! {
            frame = dealer.recv() => {
                let bytes = match frame {
                    Ok(b) => b,
                    Err(e) => {
                        log::warn!("{e}; reconnecting");
                        tokio::time::sleep(Duration::from_millis(500)).await;
                        if let Ok(d) = Dealer::connect(&cfg.master_host, cfg.master_port, &node_id, CONNECT_TIMEOUT).await {
                            dealer = d;
                        }
                        if last_master.elapsed() > timeout {
                            break Exit::MasterLost(format!("Didn't get heartbeat from master in over {}s", timeout.as_secs()));
                        }
                        continue;
                    }
                };
                match Message::decode(&bytes) {
                    Ok(msg) => {
                        if let Some(exit) = w.on_message(msg, &mut dealer, &cfg, &mut last_master, &mut outgoing).await {
                            break exit;
                        }
                    }
                    Err(e) => log::warn!("dropping a malformed message from the master: {e}"),
                }
            }
            _ = outbox.tick() => {
                for (kind, data) in w.engine.take_outgoing() {
                    outgoing.push(Message::new(&kind, data, &node_id));
                }
            }
            _ = heartbeat.tick() => {
                if last_master.elapsed() > timeout {
                    break Exit::MasterLost(format!("Didn't get heartbeat from master in over {}s", timeout.as_secs()));
                }
                outgoing.push(w.heartbeat());
            }
            _ = report.tick() => {
                w.engine.request_report_extras();
                report_due = Some(Instant::now() + REPORT_EXTRAS_WAIT);
            }
            _ = &mut ctrl_c => break Exit::Interrupted,
            Some(_) = async {
                match sigterm.as_mut() {
                    Some(s) => s.recv().await,
                    None => std::future::pending().await,
                }
            } => break Exit::Interrupted,
        }
        if let Some(deadline) = report_due {
            if let Some(extras) = w.due_extras(deadline) {
                report_due = None;
                outgoing.extend(w.exception_messages());
                outgoing.push(w.report(extras));
            }
        }
        for m in outgoing {
            if let Err(e) = dealer.send(&m).await {
                log::error!("RPCError found when sending to master: {e}");
            }
        }
    };

    // Stop users, send what is left of the statistics, and say goodbye (Locust's quitting).
    w.engine.stop().await;
    if !matches!(exit, Exit::MasterLost(_)) {
        for m in w.exception_messages() {
            let _ = dealer.send(&m).await;
        }
        let extras = w.final_extras().await;
        let final_report = w.report(extras);
        let _ = dealer.send(&final_report).await;
        let _ = dealer
            .send(&Message::new("quit", Value::Nil, &node_id))
            .await;
        // Give the socket a moment to flush before the process exits.
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    log::info!(
        target: "locusta.main",
        "Worker {node_id} reported {} requests in total",
        w.reported_requests
    );
    exit
}

/// `-f -`: asks the master for its locustfiles with a temporary connection (Locust's
/// `download_locustfile_from_master`); returns `(file name, contents)` pairs.
pub async fn fetch_locustfiles(host: &str, port: u16) -> Result<Vec<(String, String)>, String> {
    let id = format!(
        "{}_download_locustfile_{:032x}",
        crate::sys::hostname(),
        rand::random::<u128>()
    );
    let limit = CONNECT_TIMEOUT * CONNECT_RETRY_COUNT;
    let started = Instant::now();
    let mut warned = false;
    let mut dealer = loop {
        match Dealer::connect(host, port, &id, CONNECT_TIMEOUT).await {
            Ok(d) => break d,
            Err(e) => {
                if started.elapsed() > limit {
                    return Err(format!(
                        "Got no locustfile response from master, gave up after {}s ({e})",
                        limit.as_secs()
                    ));
                }
                if !warned && started.elapsed() > Duration::from_secs(10) {
                    warned = true;
                    log::warn!("Waiting to connect to master to receive locustfile...");
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
    };
    let ask = Message::new(
        "locustfile",
        map(vec![("version", env!("CARGO_PKG_VERSION").into())]),
        &id,
    );
    loop {
        if started.elapsed() > limit {
            return Err(format!(
                "Got no locustfile response from master, gave up after {}s",
                limit.as_secs()
            ));
        }
        dealer.send(&ask).await?;
        let reply = match tokio::time::timeout(Duration::from_secs(1), dealer.recv()).await {
            Err(_) => continue,
            Ok(r) => r?,
        };
        let msg = Message::decode(&reply).map_err(|e| format!("bad reply from master: {e}"))?;
        if msg.kind != "locustfile" {
            return Err(format!("Got wrong message type from master {}", msg.kind));
        }
        if let Some(err) = get(&msg.data, "error") {
            return Err(format!(
                "Got error from master: {}",
                err.as_str().unwrap_or("(not a string)")
            ));
        }
        let Some(Value::Array(files)) = get(&msg.data, "locustfiles") else {
            return Err("the master's locustfile reply has no locustfiles".into());
        };
        let mut out = Vec::new();
        for f in files {
            match (
                get(f, "filename").and_then(|v| v.as_str()),
                get(f, "contents").and_then(|v| v.as_str()),
            ) {
                (Some(name), Some(text)) => {
                    // Only a plain file name: never a path chosen by the network.
                    let base = std::path::Path::new(name)
                        .file_name()
                        .and_then(|n| n.to_str())
                        .filter(|n| n.ends_with(".py"))
                        .ok_or_else(|| format!("the master sent a bad locustfile name {name:?}"))?;
                    out.push((base.to_owned(), text.to_owned()));
                }
                _ => return Err(
                    "the master sent a locustfile URL; locusta workers accept only file contents"
                        .into(),
                ),
            }
        }
        return Ok(out);
    }
}
