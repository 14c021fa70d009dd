//! Runs simulated users: worker threads, the user loop, ramping up and down, stopping.
//!
//! Each worker thread runs a single-threaded tokio runtime, so a user's requests, timers and
//! statistics stay on one core with no cross-thread traffic per request (the wrk / oha model).
//! New users go to the threads round-robin. The [`Runner`] itself is driven by a control loop
//! (see `headless`), which calls [`Runner::tick`] to advance the ramp: it never blocks on users.
//!
//! Stopping follows Locust: with `stop_timeout == 0` users are interrupted at once (their
//! `on_stop` still runs); with a timeout, a waiting user stops at once and a user in the middle
//! of a task finishes that task first, until the timeout expires and the rest are interrupted.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::task::Poll;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use locusta_http::HttpClient;
use locusta_stats::StatsHub;
use rand::Rng;
use tokio::sync::{mpsc, watch};

use crate::client::Client;
use crate::spawn::{ClassSlot, Ramp, UserSequence};
use crate::user::{Task, TaskError, User, UserClass};
use crate::wait_time::WaitState;

/// The node name used in the exceptions table when running standalone (Locust's "local").
pub const LOCAL_NODE: &str = "local";

/// Locust's runner states, with the same names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunnerState {
    /// Nothing started yet.
    Ready,
    /// Ramping users up or down.
    Spawning,
    /// At the target user count.
    Running,
    /// Stopping users.
    Stopping,
    /// All users stopped.
    Stopped,
}

impl RunnerState {
    /// The name Locust uses (`"ready"`, `"spawning"`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            RunnerState::Ready => "ready",
            RunnerState::Spawning => "spawning",
            RunnerState::Running => "running",
            RunnerState::Stopping => "stopping",
            RunnerState::Stopped => "stopped",
        }
    }
}

/// How the runner is set up.
#[derive(Debug, Clone)]
pub struct RunnerConfig {
    /// Worker threads (each a single-threaded runtime).
    pub threads: usize,
    /// Locust's `--stop-timeout`.
    pub stop_timeout: Duration,
    /// `--host`: overrides every class's host.
    pub host: Option<String>,
}

/// The signal a user's control channel carries, in increasing strength.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Signal {
    Run,
    /// Finish the current task, then stop (stop_timeout > 0).
    Stop,
    /// Stop now, interrupting the current task.
    Kill,
}

struct UserHandle {
    control: watch::Sender<Signal>,
}

enum WorkerCommand {
    Spawn(Box<UserSpec>),
}

struct UserSpec {
    class: Arc<PreparedClass>,
    user: User,
    control: watch::Receiver<Signal>,
    stop_timeout: Duration,
    stats: Arc<StatsHub>,
    shared: Arc<Shared>,
    arrivals: Option<Arc<crate::arrival::Arrivals>>,
}

/// A user class ready to run: tasks flattened for weighted random choice.
struct PreparedClass {
    class: UserClass,
    /// Cumulative weights, parallel to `class.tasks`.
    cumulative: Vec<u64>,
}

impl PreparedClass {
    fn new(class: UserClass) -> Self {
        let mut total = 0u64;
        let cumulative = class
            .tasks
            .iter()
            .map(|t| {
                total += u64::from(t.weight);
                total
            })
            .collect();
        PreparedClass { class, cumulative }
    }

    fn pick(&self) -> Option<&Task> {
        let total = *self.cumulative.last()?;
        if total == 0 {
            return None;
        }
        if self.cumulative.len() == 1 {
            return self.class.tasks.first();
        }
        let r = rand::rng().random_range(0..total);
        let idx = self.cumulative.partition_point(|&c| c <= r);
        self.class.tasks.get(idx)
    }
}

/// Counters shared between the runner and the users.
#[derive(Default)]
struct Shared {
    alive: AtomicU64,
    stop_test: AtomicBool,
}

/// Starts, ramps and stops users of the given classes.
pub struct Runner {
    classes: Vec<Arc<PreparedClass>>,
    workers: Vec<(mpsc::UnboundedSender<WorkerCommand>, JoinHandle<()>)>,
    sequence: UserSequence,
    users: Vec<UserHandle>,
    stats: Arc<StatsHub>,
    http: HttpClient,
    config: RunnerConfig,
    shared: Arc<Shared>,
    ramp: Option<(Ramp, Instant)>,
    state: RunnerState,
    next_user_id: u64,
    next_worker: usize,
    spawning_complete: bool,
    arrivals: Option<Arc<crate::arrival::Arrivals>>,
}

impl Runner {
    /// Prepares the classes and starts the worker threads (no users yet).
    pub fn new(
        classes: Vec<UserClass>,
        config: RunnerConfig,
        stats: Arc<StatsHub>,
        http: HttpClient,
    ) -> Result<Runner, String> {
        if classes.is_empty() {
            return Err("No User class found!".into());
        }
        for class in &classes {
            class.validate()?;
            if class.tasks.is_empty() {
                return Err(format!(
                    "No tasks defined on {}. Add tasks to the user class (or check that \
                     --tags/--exclude-tags leave it at least one task).",
                    class.name
                ));
            }
        }
        let sequence = UserSequence::new(
            classes
                .iter()
                .map(|c| ClassSlot {
                    name: c.name.clone(),
                    weight: c.weight,
                    fixed_count: c.fixed_count,
                })
                .collect(),
        );
        let threads = config.threads.max(1);
        let mut workers = Vec::with_capacity(threads);
        for index in 0..threads {
            workers.push(spawn_worker(index)?);
        }
        Ok(Runner {
            classes: classes
                .into_iter()
                .map(|c| Arc::new(PreparedClass::new(c)))
                .collect(),
            workers,
            sequence,
            users: Vec::new(),
            stats,
            http,
            config,
            shared: Arc::new(Shared::default()),
            ramp: None,
            state: RunnerState::Ready,
            next_user_id: 0,
            next_worker: 0,
            spawning_complete: false,
            arrivals: None,
        })
    }

    /// Open model: users started from now on take their iterations from this schedule instead
    /// of looping with their wait time (see `arrival`).
    pub fn set_arrivals(&mut self, arrivals: Arc<crate::arrival::Arrivals>) {
        self.arrivals = Some(arrivals);
    }

    /// The runner's state.
    pub fn state(&self) -> RunnerState {
        self.state
    }

    /// Users currently alive (a user that raised `StopUser` no longer counts).
    pub fn user_count(&self) -> u64 {
        self.shared.alive.load(Ordering::Relaxed)
    }

    /// The user count the runner is ramping towards.
    pub fn target_user_count(&self) -> u64 {
        match &self.ramp {
            Some((ramp, _)) => ramp.to(),
            None => self.sequence.len() as u64,
        }
    }

    /// Users started per class, by class name, in the classes' order.
    pub fn class_counts(&self) -> Vec<(String, u64)> {
        self.classes
            .iter()
            .zip(self.sequence.counts())
            .map(|(c, n)| (c.class.name.clone(), *n))
            .collect()
    }

    /// True when a user asked to stop the whole test (`StopTest`).
    pub fn stop_test_requested(&self) -> bool {
        self.shared.stop_test.load(Ordering::Relaxed)
    }

    /// Draws users started from now on only from the named classes (Locust's load shape
    /// 3-tuple); users already running keep running. Returns the names that match no class.
    pub fn restrict_classes(&mut self, names: &[String]) -> Vec<String> {
        let mut indices = Vec::with_capacity(names.len());
        let mut unknown = Vec::new();
        for name in names {
            match self.classes.iter().position(|c| &c.class.name == name) {
                Some(i) => indices.push(i),
                None => unknown.push(name.clone()),
            }
        }
        self.sequence.restrict(&indices);
        unknown
    }

    /// Changes the host of users started from now on (the web UI's host field); users already
    /// running keep theirs, as in Locust.
    pub fn set_host(&mut self, host: Option<String>) {
        self.config.host = host;
    }

    /// Forgets an earlier `StopTest`, so that a new test can start (web UI).
    pub fn clear_stop_test(&mut self) {
        self.shared.stop_test.store(false, Ordering::Relaxed);
    }

    /// Sets a new target: ramps from the current count at `spawn_rate` users per second.
    /// Call [`tick`](Self::tick) regularly to carry it out.
    pub fn start(&mut self, user_count: u64, spawn_rate: f64) {
        let from = self.sequence.len() as u64;
        self.ramp = Some((Ramp::new(from, user_count, spawn_rate), Instant::now()));
        self.state = RunnerState::Spawning;
        self.spawning_complete = false;
    }

    /// Advances the ramp to `now`. Returns true exactly once per ramp, when it completes
    /// (Locust's "All users spawned").
    pub fn tick(&mut self, now: Instant) -> bool {
        let Some((ramp, started)) = &self.ramp else {
            return false;
        };
        let elapsed = now.saturating_duration_since(*started);
        let target = ramp.target_at(elapsed);
        let done = ramp.done_at(elapsed);
        while (self.sequence.len() as u64) < target {
            if !self.start_one_user() {
                break;
            }
        }
        while (self.sequence.len() as u64) > target {
            self.stop_last_user();
        }
        if done && !self.spawning_complete {
            self.spawning_complete = true;
            self.state = RunnerState::Running;
            return true;
        }
        false
    }

    /// True while a ramp is in progress.
    pub fn is_ramping(&self) -> bool {
        self.state == RunnerState::Spawning
    }

    fn start_one_user(&mut self) -> bool {
        let Some(class_idx) = self.sequence.push() else {
            return false;
        };
        self.launch_user(class_idx)
    }

    /// Sets the absolute number of users per class at once (what a worker's `spawn` message
    /// from a master asks for): starts or stops the difference per class, most recently
    /// started first. Unknown class names are returned as an error after the known ones are
    /// applied.
    pub fn set_class_counts(&mut self, targets: &[(String, u64)]) -> Result<(), String> {
        self.ramp = None;
        let mut unknown = Vec::new();
        for (name, target) in targets {
            let Some(idx) = self.classes.iter().position(|c| &c.class.name == name) else {
                if *target > 0 {
                    unknown.push(name.as_str());
                }
                continue;
            };
            while self.sequence.counts()[idx] > *target {
                if let Some(pos) = self.sequence.remove_last_of(idx) {
                    if pos < self.users.len() {
                        let handle = self.users.remove(pos);
                        let signal = if self.config.stop_timeout.is_zero() {
                            Signal::Kill
                        } else {
                            Signal::Stop
                        };
                        let _ = handle.control.send(signal);
                    }
                }
            }
            while self.sequence.counts()[idx] < *target {
                self.sequence.push_class(idx);
                if !self.launch_user(idx) {
                    break;
                }
            }
        }
        self.state = RunnerState::Running;
        self.spawning_complete = true;
        if unknown.is_empty() {
            Ok(())
        } else {
            Err(format!(
                "the master asked for users of unknown class(es) {}; this worker has {}",
                unknown.join(", "),
                self.classes
                    .iter()
                    .map(|c| c.class.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        }
    }

    /// Changes the host and stop timeout for users started from now on (a master sends them
    /// with each `spawn`).
    pub fn configure(&mut self, host: Option<String>, stop_timeout: Duration) {
        if host.is_some() {
            self.config.host = host;
        }
        self.config.stop_timeout = stop_timeout;
    }

    /// Starts one user of the class at `class_idx`, already counted in the sequence.
    fn launch_user(&mut self, class_idx: usize) -> bool {
        let prepared = Arc::clone(&self.classes[class_idx]);
        let host = self
            .config
            .host
            .clone()
            .or_else(|| prepared.class.host.clone());
        let class = &prepared.class;
        let session = match self.http.session_with(
            host.as_deref(),
            class.client_options.clone(),
            class.client_pool.clone(),
        ) {
            Ok(s) => s,
            Err(e) => {
                log::error!("cannot create a user of class {}: {e}", prepared.class.name);
                self.sequence.pop();
                return false;
            }
        };
        let id = self.next_user_id;
        self.next_user_id += 1;
        let client = Client::new(session, Arc::clone(&self.stats));
        let user = User::new(id, Arc::from(prepared.class.name.as_str()), client);
        let (control, control_rx) = watch::channel(Signal::Run);
        let worker = self.next_worker % self.workers.len();
        self.next_worker += 1;
        self.shared.alive.fetch_add(1, Ordering::Relaxed);
        let spec = UserSpec {
            class: prepared,
            user,
            control: control_rx,
            stop_timeout: self.config.stop_timeout,
            stats: Arc::clone(&self.stats),
            shared: Arc::clone(&self.shared),
            arrivals: self.arrivals.clone(),
        };
        let cmd = WorkerCommand::Spawn(Box::new(spec));
        if self.workers[worker].0.send(cmd).is_err() {
            log::error!("worker thread {worker} has stopped; cannot start more users");
            self.shared.alive.fetch_sub(1, Ordering::Relaxed);
            self.sequence.pop();
            return false;
        }
        self.users.push(UserHandle { control });
        true
    }

    fn stop_last_user(&mut self) {
        self.sequence.pop();
        if let Some(handle) = self.users.pop() {
            let signal = if self.config.stop_timeout.is_zero() {
                Signal::Kill
            } else {
                Signal::Stop
            };
            // A user that already ended has dropped its receiver; nothing to do then. A user
            // told to stop enforces the stop timeout itself.
            let _ = handle.control.send(signal);
        }
    }

    /// Stops every user (honouring `stop_timeout`) and waits until they have all ended, at
    /// most `stop_timeout` plus a grace period for `on_stop`.
    pub async fn stop(&mut self) {
        self.state = RunnerState::Stopping;
        self.ramp = None;
        let signal = if self.config.stop_timeout.is_zero() {
            Signal::Kill
        } else {
            Signal::Stop
        };
        for handle in &self.users {
            let _ = handle.control.send(signal);
        }
        while self.sequence.pop().is_some() {}
        let deadline = Instant::now() + self.config.stop_timeout;
        let mut killed = signal == Signal::Kill;
        let grace = Duration::from_secs(10);
        loop {
            if self.user_count() == 0 {
                break;
            }
            let now = Instant::now();
            if !killed && now >= deadline {
                for handle in &self.users {
                    let _ = handle.control.send(Signal::Kill);
                }
                killed = true;
            }
            if now >= deadline + grace {
                log::warn!(
                    "{} users did not finish on_stop within {} s; abandoning them",
                    self.user_count(),
                    grace.as_secs()
                );
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        self.users.clear();
        self.state = RunnerState::Stopped;
    }

    /// Stops the worker threads. Users still running (only possible after a failed stop) are
    /// dropped.
    pub fn shutdown(mut self) {
        for (tx, handle) in self.workers.drain(..) {
            drop(tx);
            let _ = handle.join();
        }
    }

    /// Runs one user to completion: on_start, tasks and waits until stopped, then on_stop.
    async fn run_user(spec: UserSpec) {
        let UserSpec {
            class,
            mut user,
            mut control,
            stop_timeout,
            stats,
            shared,
            arrivals,
        } = spec;
        let class_name = class.class.name.clone();
        let mut interrupted = false;
        let mut run_on_stop = true;
        let mut stop_watch = StopWatch::new(control.clone());
        if let Some(on_start) = &class.class.on_start {
            let (step, _) = run_step(
                on_start,
                &mut user,
                &mut control,
                stop_timeout,
                &mut stop_watch,
            )
            .await;
            match step {
                Step::Interrupted => interrupted = true,
                Step::Done(Ok(())) => {}
                Step::Done(Err(TaskError::StopUser)) => interrupted = true,
                Step::Done(Err(TaskError::StopTest)) => {
                    shared.stop_test.store(true, Ordering::Relaxed);
                    interrupted = true;
                }
                Step::Done(Err(TaskError::Reschedule | TaskError::RescheduleImmediately)) => {}
                Step::Done(Err(TaskError::Failed(msg))) => {
                    report_user_error(&stats, &class_name, "on_start", &msg);
                    // Locust lets the error end the user without on_stop.
                    interrupted = true;
                    run_on_stop = false;
                }
            }
        }
        let mut wait_state = WaitState::default();
        if !interrupted {
            loop {
                if current(&control) >= Signal::Stop {
                    break;
                }
                if let Some(arrivals) = &arrivals {
                    // Open model: wait for the next due slot instead of the wait time (none
                    // while the rate is zero or the next slot is too far ahead: poll).
                    let Some(due) = arrivals.claim() else {
                        tokio::select! {
                            _ = tokio::time::sleep(Duration::from_millis(50)) => continue,
                            _ = control.wait_for(|s| *s >= Signal::Stop) => break,
                        }
                    };
                    tokio::select! {
                        _ = tokio::time::sleep_until(due.into()) => {}
                        _ = control.wait_for(|s| *s >= Signal::Stop) => break,
                    }
                    let lag = arrivals.started(due);
                    user.client.set_schedule_lag(lag);
                }
                let Some(task) = class.pick() else { break };
                let mut skip_wait = false;
                let (step, never_pending) =
                    run_step(task, &mut user, &mut control, stop_timeout, &mut stop_watch).await;
                match step {
                    Step::Interrupted => break,
                    Step::Done(Ok(()) | Err(TaskError::Reschedule)) => {}
                    Step::Done(Err(TaskError::RescheduleImmediately)) => skip_wait = true,
                    Step::Done(Err(TaskError::StopUser)) => break,
                    Step::Done(Err(TaskError::StopTest)) => {
                        shared.stop_test.store(true, Ordering::Relaxed);
                        break;
                    }
                    Step::Done(Err(TaskError::Failed(msg))) => {
                        report_user_error(&stats, &class_name, &task.name, &msg);
                    }
                }
                if current(&control) >= Signal::Stop {
                    break;
                }
                if skip_wait || arrivals.is_some() {
                    continue;
                }
                let pause = wait_state.next_wait(&class.class.wait_time);
                if pause.is_zero() {
                    // A task that waited on I/O already let the other users of this thread run;
                    // one that finished without ever waiting must yield, or it would starve them.
                    if never_pending {
                        tokio::task::yield_now().await;
                    }
                    continue;
                }
                tokio::select! {
                    _ = tokio::time::sleep(pause) => {}
                    _ = control.wait_for(|s| *s >= Signal::Stop) => break,
                }
            }
        }
        if run_on_stop {
            if let Some(on_stop) = &class.class.on_stop {
                if let Err(TaskError::Failed(msg)) = (on_stop.func)(&mut user).await {
                    report_user_error(&stats, &class_name, "on_stop", &msg);
                }
            }
        }
        shared.alive.fetch_sub(1, Ordering::Relaxed);
    }
}

/// The signal now, without holding the channel's lock across an await.
fn current(control: &watch::Receiver<Signal>) -> Signal {
    *control.borrow()
}

enum Step {
    Done(Result<(), TaskError>),
    Interrupted,
}

/// A user's standing registration for "stop requested": created once per user, so that running
/// a task does not register (and unregister) a new waiter on the control channel every time.
struct StopWatch {
    signalled: Pin<Box<dyn Future<Output = ()> + Send>>,
    /// The signal reached `Stop` (or stronger); `signalled` must not be polled again.
    fired: bool,
}

impl StopWatch {
    fn new(mut control: watch::Receiver<Signal>) -> Self {
        StopWatch {
            signalled: Box::pin(async move {
                if control.wait_for(|s| *s >= Signal::Stop).await.is_err() {
                    // The runner dropped its end without stopping us: nothing can stop us now.
                    std::future::pending::<()>().await;
                }
            }),
            fired: false,
        }
    }
}

/// Runs one task to its end, unless the user is killed, or told to stop and the task outlives
/// the stop timeout. Also returns true when the task finished without ever waiting.
async fn run_step(
    task: &Task,
    user: &mut User,
    control: &mut watch::Receiver<Signal>,
    stop_timeout: Duration,
    stop_watch: &mut StopWatch,
) -> (Step, bool) {
    if current(control) >= Signal::Kill {
        return (Step::Interrupted, false);
    }
    let mut fut = (task.func)(user);
    // Hot path: no stop requested. Poll the task, and the standing stop registration only
    // while the task waits.
    let mut polls = 0u32;
    if !stop_watch.fired {
        let outcome = std::future::poll_fn(|cx| {
            polls += 1;
            if let Poll::Ready(r) = fut.as_mut().poll(cx) {
                return Poll::Ready(Some(r));
            }
            if stop_watch.signalled.as_mut().poll(cx).is_ready() {
                stop_watch.fired = true;
                return Poll::Ready(None);
            }
            Poll::Pending
        })
        .await;
        if let Some(result) = outcome {
            return (Step::Done(result), polls == 1);
        }
    }
    // A stop was requested while the task runs: Kill interrupts now, Stop after the timeout.
    let interrupt = async {
        let signal = control.wait_for(|s| *s >= Signal::Stop).await.map(|s| *s);
        let signal = match signal {
            Ok(s) => s,
            // The runner is gone: nobody can stop this task any more, let it finish.
            Err(_) => return std::future::pending::<()>().await,
        };
        if signal == Signal::Stop {
            let killed = async {
                // After a ramp-down the runner drops its end: then only the timeout applies.
                if control.wait_for(|s| *s >= Signal::Kill).await.is_err() {
                    std::future::pending::<()>().await;
                }
            };
            tokio::select! {
                _ = tokio::time::sleep(stop_timeout) => {}
                _ = killed => {}
            }
        }
    };
    let step = tokio::select! {
        biased;
        result = fut => Step::Done(result),
        _ = interrupt => Step::Interrupted,
    };
    (step, false)
}

fn report_user_error(stats: &StatsHub, class: &str, task: &str, msg: &str) {
    let location = format!("in task {class}.{task}");
    log::error!(target: "locusta.user", "{msg}\n  {location}");
    stats.log_exception(msg, &location, LOCAL_NODE);
}

fn spawn_worker(
    index: usize,
) -> Result<(mpsc::UnboundedSender<WorkerCommand>, JoinHandle<()>), String> {
    let (tx, mut rx) = mpsc::unbounded_channel::<WorkerCommand>();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start worker thread runtime: {e}"))?;
    let handle = std::thread::Builder::new()
        .name(format!("locusta-worker-{index}"))
        .spawn(move || {
            runtime.block_on(async move {
                while let Some(cmd) = rx.recv().await {
                    match cmd {
                        WorkerCommand::Spawn(spec) => {
                            tokio::spawn(Runner::run_user(*spec));
                        }
                    }
                }
            });
        })
        .map_err(|e| format!("cannot start worker thread: {e}"))?;
    Ok((tx, handle))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::task;
    use crate::user::TaskResult;
    use locusta_demo::{DemoConfig, DemoServer};
    use locusta_http::ClientConfig;
    use locusta_stats::StatsLimits;

    async fn slow(user: &mut User) -> TaskResult {
        user.client
            .get("/_test/delay?ms=600")
            .name("slow")
            .send()
            .await;
        Ok(())
    }

    async fn fast(user: &mut User) -> TaskResult {
        user.client.get("/").send().await;
        Ok(())
    }

    async fn stop_me(_user: &mut User) -> TaskResult {
        Err(TaskError::StopUser)
    }

    async fn broken(_user: &mut User) -> TaskResult {
        Err(TaskError::failed("ValueError('boom')"))
    }

    fn runner(
        classes: Vec<UserClass>,
        stop_timeout: Duration,
        host: String,
    ) -> (Runner, Arc<StatsHub>) {
        let stats = StatsHub::new(StatsLimits::default());
        let http = HttpClient::new(ClientConfig::default()).expect("client");
        let config = RunnerConfig {
            threads: 2,
            stop_timeout,
            host: Some(host),
        };
        let runner = Runner::new(classes, config, Arc::clone(&stats), http).expect("runner");
        (runner, stats)
    }

    async fn ramp_until_done(runner: &mut Runner) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !runner.tick(Instant::now()) {
            assert!(Instant::now() < deadline, "ramp did not finish");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    async fn wait_for_users(runner: &Runner, n: u64) {
        let deadline = Instant::now() + Duration::from_secs(5);
        while runner.user_count() != n {
            assert!(
                Instant::now() < deadline,
                "{} users, wanted {n}",
                runner.user_count()
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    #[tokio::test]
    async fn ramps_up_and_down_by_weight() {
        let server =
            DemoServer::start(([127, 0, 0, 1], 0).into(), DemoConfig::default()).expect("server");
        let classes = vec![
            UserClass::new("A")
                .weight(3.0)
                .wait_time(crate::wait_time::constant(0.05))
                .task(task!(fast)),
            UserClass::new("B")
                .wait_time(crate::wait_time::constant(0.05))
                .task(task!(fast)),
        ];
        let (mut runner, stats) = runner(classes, Duration::ZERO, server.base_url());
        runner.start(8, 200.0);
        ramp_until_done(&mut runner).await;
        wait_for_users(&runner, 8).await;
        assert_eq!(
            runner.class_counts(),
            vec![("A".into(), 6), ("B".into(), 2)]
        );
        assert_eq!(runner.state(), RunnerState::Running);
        runner.start(4, 200.0);
        ramp_until_done(&mut runner).await;
        wait_for_users(&runner, 4).await;
        assert_eq!(
            runner.class_counts(),
            vec![("A".into(), 3), ("B".into(), 1)]
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
        runner.stop().await;
        assert_eq!(runner.user_count(), 0);
        runner.shutdown();
        let requests = stats.read(|agg| agg.total().num_requests());
        assert!(requests > 8, "{requests}");
    }

    #[tokio::test]
    async fn stop_timeout_zero_interrupts_running_tasks() {
        let server =
            DemoServer::start(([127, 0, 0, 1], 0).into(), DemoConfig::default()).expect("server");
        let (mut runner, stats) = runner(
            vec![UserClass::new("S").task(task!(slow))],
            Duration::ZERO,
            server.base_url(),
        );
        runner.start(2, 100.0);
        ramp_until_done(&mut runner).await;
        tokio::time::sleep(Duration::from_millis(100)).await;
        let begun = Instant::now();
        runner.stop().await;
        assert!(
            begun.elapsed() < Duration::from_millis(400),
            "{:?}",
            begun.elapsed()
        );
        runner.shutdown();
        // The interrupted requests are not recorded.
        assert_eq!(stats.read(|agg| agg.total().num_requests()), 0);
    }

    #[tokio::test]
    async fn stop_timeout_lets_running_tasks_finish() {
        let server =
            DemoServer::start(([127, 0, 0, 1], 0).into(), DemoConfig::default()).expect("server");
        let (mut runner, stats) = runner(
            vec![UserClass::new("S").task(task!(slow))],
            Duration::from_secs(5),
            server.base_url(),
        );
        runner.start(2, 100.0);
        ramp_until_done(&mut runner).await;
        tokio::time::sleep(Duration::from_millis(100)).await;
        let begun = Instant::now();
        runner.stop().await;
        let took = begun.elapsed();
        assert!(
            took >= Duration::from_millis(300) && took < Duration::from_secs(3),
            "{took:?}"
        );
        runner.shutdown();
        assert_eq!(stats.read(|agg| agg.total().num_requests()), 2);
    }

    #[tokio::test]
    async fn stop_timeout_expiry_interrupts() {
        let server =
            DemoServer::start(([127, 0, 0, 1], 0).into(), DemoConfig::default()).expect("server");
        let (mut runner, _stats) = runner(
            vec![UserClass::new("S").task(task!(slow))],
            Duration::from_millis(150),
            server.base_url(),
        );
        runner.start(1, 100.0);
        ramp_until_done(&mut runner).await;
        // Well inside the 600 ms request even when a loaded machine starts the user late.
        tokio::time::sleep(Duration::from_millis(250)).await;
        let begun = Instant::now();
        runner.stop().await;
        let took = begun.elapsed();
        assert!(
            took >= Duration::from_millis(100) && took < Duration::from_millis(500),
            "{took:?}"
        );
        runner.shutdown();
    }

    #[tokio::test]
    async fn stop_user_ends_the_user_and_errors_are_counted() {
        let server =
            DemoServer::start(([127, 0, 0, 1], 0).into(), DemoConfig::default()).expect("server");
        let classes = vec![
            UserClass::new("Quitter").task(task!(stop_me)),
            UserClass::new("Broken")
                .wait_time(crate::wait_time::constant(0.05))
                .task(task!(broken)),
        ];
        let (mut runner, stats) = runner(classes, Duration::ZERO, server.base_url());
        runner.start(2, 100.0);
        ramp_until_done(&mut runner).await;
        wait_for_users(&runner, 1).await;
        tokio::time::sleep(Duration::from_millis(200)).await;
        runner.stop().await;
        runner.shutdown();
        let (count, msg) = stats.read(|agg| {
            let rows = agg.exceptions();
            (
                rows.first().map(|r| r.count).unwrap_or(0),
                rows.first().map(|r| r.msg.clone()),
            )
        });
        assert!(count >= 2, "{count}");
        assert_eq!(msg.as_deref(), Some("ValueError('boom')"));
    }

    async fn busy(_user: &mut User) -> TaskResult {
        Ok(())
    }

    #[tokio::test]
    async fn a_task_that_never_waits_does_not_starve_its_thread() {
        let server =
            DemoServer::start(([127, 0, 0, 1], 0).into(), DemoConfig::default()).expect("server");
        let classes = vec![
            UserClass::new("Spinner").task(task!(busy)),
            UserClass::new("Worker")
                .wait_time(crate::wait_time::constant(0.01))
                .task(task!(fast)),
        ];
        let stats = StatsHub::new(StatsLimits::default());
        let http = HttpClient::new(ClientConfig::default()).expect("client");
        let config = RunnerConfig {
            threads: 1,
            stop_timeout: Duration::ZERO,
            host: Some(server.base_url()),
        };
        let mut runner = Runner::new(classes, config, Arc::clone(&stats), http).expect("runner");
        runner.start(2, 100.0);
        ramp_until_done(&mut runner).await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        runner.stop().await;
        assert_eq!(runner.user_count(), 0);
        runner.shutdown();
        let requests = stats.read(|agg| agg.total().num_requests());
        assert!(
            requests >= 5,
            "the worker sharing a thread with a spinner made {requests} requests"
        );
    }

    #[test]
    fn classes_without_tasks_are_refused() {
        let stats = StatsHub::new(StatsLimits::default());
        let http = HttpClient::new(ClientConfig::default()).expect("client");
        let config = RunnerConfig {
            threads: 1,
            stop_timeout: Duration::ZERO,
            host: None,
        };
        let err = Runner::new(vec![UserClass::new("Empty")], config, stats, http).err();
        assert!(err.is_some_and(|e| e.contains("No tasks defined on Empty")));
    }
}
