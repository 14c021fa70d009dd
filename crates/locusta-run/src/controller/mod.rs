//! The run controller: the whole lifecycle of a run (start, ramp or shape, statistics, outputs,
//! web commands, stop, the end) once, for every front end and every role.
//!
//! It is sans-IO in the way that matters: it never sleeps, never waits for a signal, never
//! touches users or sockets. A driver (the tokio loop for Rust user classes and masters, the
//! gevent loop for Python locustfiles) calls [`Controller::tick`] with the time and a
//! [`Snapshot`] of whatever runs the users (a local runner, or a master's workers), and carries
//! out the [`Action`]s it returns; signals come in through [`Controller::interrupt`]. When a
//! tick returns [`Action::Quit`], the driver stops the users and calls
//! [`Controller::conclude`] and [`Controller::finish`], which write every output.
//!
//! The controller owns what is the same for every kind of run: the statistics cadence (merge,
//! CSV, console or live view), the insight features (history, thresholds, capacity search,
//! diagnosis, report), the load shape, the open model's schedule, the web UI's command queue
//! and published status, and the master's rules about workers.

mod test;
mod web;

use std::sync::Arc;
use std::time::{Duration, Instant};

use locusta_stats::StatsHub;
use locusta_web::{Forwarder, WorkerInfo, WorkerLogs};

use crate::arrival::{ArrivalPlan, Arrivals};
use crate::insight::Insight;
use crate::outputs::{self, LiveStatus, Periodic};
use crate::plan::{ClassFacts, OutputPlan, Role, RunPlan};
use crate::shape::LoadShape;

use test::ActiveTest;
pub use test::StopReason;
use web::WebSide;

/// How long a master waits, once the expected workers are ready, before an automatic start
/// (Locust's master checks the worker count once a second; a Locust worker handles a `spawn`
/// that comes right behind its `ack` before its runner is set).
pub const START_GRACE: Duration = Duration::from_millis(1000);
/// The longest a driver should wait between ticks (web commands are polled this often).
pub const MAX_TICK: Duration = Duration::from_millis(100);
/// The statistics are merged, recorded and written this often.
const MERGE_EVERY: Duration = Duration::from_secs(1);
/// A load shape is asked this often (Locust's shape worker).
const SHAPE_EVERY: Duration = Duration::from_secs(1);

/// The state of whatever runs the users, with Locust's names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LoadState {
    /// Nothing started yet.
    #[default]
    Ready,
    /// Ramping users up or down.
    Spawning,
    /// At the target user count.
    Running,
    /// Stopping users.
    Stopping,
    /// Every user stopped.
    Stopped,
}

impl LoadState {
    /// Locust's name for the state (`ready`, `spawning`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            LoadState::Ready => "ready",
            LoadState::Spawning => "spawning",
            LoadState::Running => "running",
            LoadState::Stopping => "stopping",
            LoadState::Stopped => "stopped",
        }
    }

    /// Reads a Locust runner state name (`cleanup` is stopping, `missing` stopped).
    pub fn from_locust(name: &str) -> Option<LoadState> {
        Some(match name {
            "ready" => LoadState::Ready,
            "spawning" => LoadState::Spawning,
            "running" => LoadState::Running,
            "cleanup" | "stopping" => LoadState::Stopping,
            "stopped" | "missing" => LoadState::Stopped,
            _ => return None,
        })
    }

    /// Spawning or running.
    pub fn is_active(self) -> bool {
        matches!(self, LoadState::Spawning | LoadState::Running)
    }
}

/// What a master's workers look like now.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Workers {
    /// Workers that take users (not missing).
    pub ready: u64,
    /// Every known worker, missing ones included.
    pub known: u64,
    /// Rows of the web UI's Workers tab (shared, so a snapshot does not copy them).
    pub rows: std::sync::Arc<Vec<WorkerInfo>>,
}

/// What the driver sees of the users at a tick.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Snapshot {
    /// The runner's (or master's) state.
    pub state: LoadState,
    /// Users running now.
    pub users: u64,
    /// Users wanted by the current ramp.
    pub target_users: u64,
    /// Users per class (on a master: as dispatched).
    pub class_counts: Vec<(String, u64)>,
    /// How many ramps have completed so far (the controller notices each new one).
    pub spawn_completions: u64,
    /// A user asked to stop the test (`StopTest`).
    pub stop_requested: bool,
    /// User code asked to end the run (`runner.quit()`).
    pub quit_requested: bool,
    /// A master's workers (`None` when this process runs the users).
    pub workers: Option<Workers>,
}

/// What the driver must do.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Ramp to `users` at `rate` per second (start a test, or change its target). With
    /// `classes`, new users come only from these classes (a load shape's class list).
    Spawn {
        /// Users wanted.
        users: u64,
        /// Users started or stopped per second.
        rate: f64,
        /// Restrict new users to these classes.
        classes: Option<Vec<String>>,
    },
    /// Users started from now on get this host (the web form's; `None`: each class's own).
    SetHost(Option<String>),
    /// Values the web form sent for options the locustfile declared: `(dest, text)`.
    ApplyOptions(Vec<(String, String)>),
    /// Stop every user; the run goes on (the web UI stays up for another test).
    StopUsers,
    /// The statistics were reset from the web UI: tell the `reset_stats` listeners.
    StatsReset,
    /// End the run: stop the users, then [`Controller::conclude`] and [`Controller::finish`].
    Quit,
}

/// A signal the driver received.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Interrupt {
    /// SIGINT.
    CtrlC,
    /// SIGTERM.
    Terminate,
}

/// What the driver hands the controller besides the plan.
#[derive(Default)]
pub struct Inputs {
    /// The locustfile's load shape (a Rust shape, or a Python one behind an adapter).
    pub shape: Option<Box<dyn LoadShape>>,
    /// On a master: where its state machine keeps the workers' log lines (`/logs`).
    pub worker_logs: Option<WorkerLogs>,
    /// Who answers the web UI's requests for paths it does not serve (a Python locustfile's
    /// Flask app, `environment.web_ui.app`).
    pub web_routes: Option<Arc<dyn Forwarder>>,
}

/// Waits for the expected workers before a master's automatic start.
struct WorkerGate {
    expect: u64,
    max_wait: Option<Duration>,
    waiting_since: Instant,
    enough_since: Option<Instant>,
    last_log: Instant,
}

/// The run controller (see the module documentation).
pub struct Controller {
    stats: Arc<StatsHub>,
    outputs: OutputPlan,
    periodic: Periodic,
    insight: Insight,
    shape: Option<Box<dyn LoadShape>>,
    arrival: Option<ArrivalPlan>,
    arrivals: Option<Arc<Arrivals>>,
    classes: Vec<ClassFacts>,
    users: u64,
    spawn_rate: f64,
    run_time: Option<Duration>,
    reset_stats: bool,
    headless: bool,
    /// A test starts without the web UI's Start button (headless or `--autostart`).
    start_pending: bool,
    gate: Option<WorkerGate>,
    test: Option<ActiveTest>,
    completions_seen: u64,
    last_merge: Instant,
    quit: Option<StopReason>,
    quit_at: Option<Instant>,
    threshold_failed: bool,
    /// The class counts while users last ran (the report's final ratio).
    last_counts: Vec<(String, u64)>,
    web: Option<WebSide>,
}

impl Controller {
    /// Opens the run's outputs (CSV files, `--metrics-port`, the web UI); an error says what
    /// could not be opened and the run should end with exit code 1.
    pub fn new(plan: RunPlan, stats: Arc<StatsHub>, inputs: Inputs) -> Result<Controller, String> {
        let now = Instant::now();
        let web_info = plan.web.as_ref().map(|_| plan.web_info());
        let RunPlan {
            options,
            role,
            classes,
            mut insight,
            web,
            outputs,
            arrival,
            ..
        } = plan;
        let mut shape = inputs.shape;
        let periodic = Periodic::open(&outputs, now)?;
        insight.info.start_unix = locusta_util::unix_now();
        insight.start_metrics(options.metrics_port, &options.web_host, &stats)?;
        let arrivals = arrival
            .map(|a| a.rate_at(Duration::ZERO, options.run_time.map(Duration::from_secs)))
            .or_else(|| shape.as_mut().and_then(|s| s.arrival_rate(Duration::ZERO)))
            .map(|rate| Arc::new(Arrivals::new(rate)));
        let gate = match &role {
            Role::Master(m) => Some(WorkerGate {
                expect: m.expect_workers.max(1),
                max_wait: m.max_wait,
                waiting_since: now,
                enough_since: None,
                last_log: now,
            }),
            _ => None,
        };
        let mut controller = Controller {
            stats,
            outputs,
            periodic,
            insight,
            shape,
            arrival,
            arrivals,
            classes,
            users: options.num_users.unwrap_or(1),
            spawn_rate: options.spawn_rate.unwrap_or(1.0),
            run_time: options.run_time.map(Duration::from_secs),
            reset_stats: options.reset_stats,
            headless: web.is_none(),
            start_pending: web.as_ref().is_none_or(|w| w.autostart),
            gate,
            test: None,
            completions_seen: 0,
            last_merge: now,
            quit: None,
            quit_at: None,
            threshold_failed: false,
            last_counts: Vec::new(),
            web: None,
        };
        if let (Some(plan), Some(info)) = (web, web_info) {
            let side = WebSide::start(
                &controller.stats,
                info,
                plan,
                &role,
                inputs.worker_logs,
                inputs.web_routes,
                controller.insight.run_gauges(),
            )?;
            controller.web = Some(side);
        }
        if controller.headless {
            controller.periodic.first_table(&controller.stats);
        }
        Ok(controller)
    }

    /// The open model's shared schedule, for the runner's users (`--arrival-rate`, or a shape
    /// with an arrival rate).
    pub fn arrivals(&self) -> Option<Arc<Arrivals>> {
        self.arrivals.clone()
    }

    /// The web UI's address, when it serves one.
    pub fn web_url(&self) -> Option<&str> {
        self.web.as_ref().map(WebSide::url)
    }

    /// Why the run ends, once it does.
    pub fn stop_reason(&self) -> Option<StopReason> {
        self.quit
    }

    /// A signal: the run ends at the next tick.
    pub fn interrupt(&mut self, signal: Interrupt) {
        if self.quit.is_none() {
            self.quit(match signal {
                Interrupt::CtrlC => StopReason::Interrupted,
                Interrupt::Terminate => StopReason::Terminated,
            });
        }
    }

    /// One step of the lifecycle at `now`, given what the users look like; returns what the
    /// driver must do, in order.
    pub fn tick(&mut self, now: Instant, snap: &Snapshot) -> Vec<Action> {
        let mut out = Vec::new();
        if self.quit.is_some() {
            out.push(Action::Quit);
            return out;
        }
        self.observe(snap);
        self.insight.set_run_gauges(
            snap.state.as_str(),
            snap.users,
            snap.target_users,
            &snap.class_counts,
            snap.workers.as_ref().map_or(0, |w| w.ready),
        );
        if self.web.is_some() && snap.state != LoadState::Stopping {
            self.handle_web_commands(now, snap, &mut out);
        }
        if self.start_pending {
            self.try_automatic_start(now, snap, &mut out);
        }
        if self.test.is_some() {
            self.watch_test(now, snap, &mut out);
        }
        if now.saturating_duration_since(self.last_merge) >= MERGE_EVERY {
            self.last_merge = now;
            self.after_merge(now, snap, &mut out);
        }
        self.periodic
            .print(&self.stats, now, self.live_status(now, snap));
        if self.quit.is_none() && self.quit_at.is_some_and(|q| now >= q) {
            self.quit(StopReason::Autoquit);
        }
        self.publish(snap, &out);
        if self.quit.is_some() && !out.contains(&Action::Quit) {
            out.push(Action::Quit);
        }
        out
    }

    /// When the driver should tick again at the latest.
    pub fn next_tick(&self, now: Instant) -> Instant {
        let mut next = now + MAX_TICK;
        let mut consider = |t: Option<Instant>| {
            if let Some(t) = t {
                next = next.min(t.max(now));
            }
        };
        consider(Some(self.last_merge + MERGE_EVERY));
        consider(self.periodic.next_print());
        consider(self.quit_at);
        if let Some(test) = &self.test {
            consider(test.deadline);
            consider(self.shape.as_ref().map(|_| test.next_shape));
        }
        next
    }

    /// The run is over and the users stopped: merges the last statistics and decides the exit
    /// code by Locust's rules (`process_exit_code` set by user code wins, then
    /// `--exit-code-on-error` when anything failed, then 2 for an unhandled exception in user
    /// code), then the thresholds (3 when one failed). Logs it.
    pub fn conclude(&mut self, process_exit_code: Option<i32>, unhandled_exception: bool) -> i32 {
        if self.quit == Some(StopReason::GaveUpWaiting) {
            return 1;
        }
        self.stats.merge();
        self.insight.record_final_ratio(&self.last_counts);
        if let Some(a) = &self.arrivals {
            self.insight.set_open_model(a.stats());
        }
        let failed = self
            .stats
            .read(|agg| !agg.errors().is_empty() || !agg.exceptions().is_empty());
        let code = match process_exit_code {
            Some(code) => code,
            None if failed => self.outputs.exit_code_on_error,
            None if unhandled_exception => 2,
            None => 0,
        };
        let code = self
            .insight
            .exit_code(&self.stats, code, self.threshold_failed);
        log::info!(target: "locusta.main", "Shutting down (exit code {code})");
        code
    }

    /// Writes every output (final CSV, JSON, summary tables, diagnosis, thresholds, JUnit,
    /// HTML report) and closes the web UI and the metrics endpoint; returns the exit code
    /// (1 instead of 0 when a report file could not be written).
    pub fn finish(mut self, code: i32) -> i32 {
        if let Some(web) = self.web.take() {
            web.stop();
        }
        if self.quit == Some(StopReason::GaveUpWaiting) {
            return code;
        }
        outputs::write_final(&self.stats, &self.outputs, &mut self.periodic);
        self.insight.finish(&self.stats, code)
    }

    /// Notices a completed ramp: Locust's "All users spawned" and `--reset-stats`.
    fn observe(&mut self, snap: &Snapshot) {
        crate::otel::set_user_counts(&snap.class_counts);
        if snap.users > 0 {
            self.last_counts.clone_from(&snap.class_counts);
        }
        if let Some(test) = self.test.as_mut() {
            test.seen_active |= snap.state.is_active();
        }
        if snap.spawn_completions <= self.completions_seen {
            return;
        }
        self.completions_seen = snap.spawn_completions;
        log::info!(
            target: "locusta.runners",
            "All users spawned: {}",
            locusta_util::format_class_counts(&snap.class_counts)
        );
        let first = self
            .test
            .as_mut()
            .is_some_and(|t| !std::mem::replace(&mut t.ramped, true));
        if self.reset_stats && first {
            log::info!(target: "locusta.runners", "Resetting stats\n");
            self.stats.reset();
            self.insight.reset();
        }
    }

    /// Starts the test of a headless or `--autostart` run (a master waits for its workers).
    fn try_automatic_start(&mut self, now: Instant, snap: &Snapshot, out: &mut Vec<Action>) {
        if let Some(gate) = self.gate.as_mut() {
            let ready = snap.workers.as_ref().map_or(0, |w| w.ready);
            if ready < gate.expect {
                gate.enough_since = None;
                if gate
                    .max_wait
                    .is_some_and(|m| now.duration_since(gate.waiting_since) > m)
                {
                    log::error!(target: "locusta.main", "Gave up waiting for workers to connect");
                    self.quit = Some(StopReason::GaveUpWaiting);
                    return;
                }
                if now.duration_since(gate.last_log) >= Duration::from_secs(1) {
                    gate.last_log = now;
                    log::info!(target: "locusta.main", "Waiting for workers to be ready, {ready} of {} connected", gate.expect);
                }
                return;
            }
            let since = *gate.enough_since.get_or_insert(now);
            if now.duration_since(since) < START_GRACE {
                return;
            }
        }
        self.start_pending = false;
        if let (Some(rt), None) = (self.run_time, &self.shape) {
            log::info!(target: "locusta.main", "Run time limit set to {} seconds", rt.as_secs());
        }
        let (users, rate, run_time) = (self.users, self.spawn_rate, self.run_time);
        self.begin(now, snap, users, rate, run_time, out);
    }

    /// Once a second: merge, history and thresholds, capacity search, the CSV snapshot.
    fn after_merge(&mut self, now: Instant, snap: &Snapshot, out: &mut Vec<Action>) {
        self.stats.merge();
        let elapsed = self.elapsed(now);
        if let (Some(shape), Some(a), None) = (self.shape.as_mut(), &self.arrivals, self.arrival) {
            a.set_rate(shape.arrival_rate(elapsed).unwrap_or(0.0));
        }
        let target_rate = self.arrivals.as_ref().map(|a| a.rate());
        let broken =
            self.insight
                .after_merge(&self.stats, snap.users, target_rate, elapsed.as_secs_f64());
        if let Some(why) = broken {
            if self.test.is_some() {
                log::error!(target: "locusta.main", "{why}");
                self.threshold_failed = true;
                self.end_test(now, StopReason::ThresholdFailed, out);
            }
        }
        self.search_capacity(now, elapsed, out);
        self.periodic.write_csv(&self.stats, snap.users);
    }

    fn elapsed(&self, now: Instant) -> Duration {
        self.test
            .as_ref()
            .map_or(Duration::ZERO, |t| now.saturating_duration_since(t.started))
    }

    fn live_status(&self, now: Instant, snap: &Snapshot) -> LiveStatus {
        LiveStatus {
            users: snap.users,
            target: snap.target_users,
            elapsed: self.elapsed(now),
            run_time: self
                .test
                .as_ref()
                .and_then(|t| t.deadline.map(|d| d - t.started)),
        }
    }

    /// Ends the run: logs why, and the next tick (this one, if still running) returns Quit.
    fn quit(&mut self, reason: StopReason) {
        match reason.announcement() {
            Some(text) if reason.is_verbatim() => log::info!(target: "locusta.main", "{text}"),
            Some(text) => log::info!(target: "locusta.main", "{text}, shutting down"),
            None => {}
        }
        self.quit = Some(reason);
    }
}

#[cfg(test)]
mod tests;
