//! One test within a run: how it starts (a ramp, the load shape's first step, the capacity
//! search's first step), what ends it, and how it ends (the whole run when headless, only the
//! test when the web UI stays up).

use std::time::{Duration, Instant};

use crate::shape::ShapeTick;

use super::{Action, Controller, Snapshot, SHAPE_EVERY};

/// Why a test or the run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopReason {
    /// `-t` (or the web form's run time) elapsed.
    RunTime,
    /// The load shape returned `None`.
    ShapeDone,
    /// A user raised `StopTest`.
    StopTest,
    /// User code stopped the runner (`runner.stop()`).
    UsersStopped,
    /// User code ended the run (`runner.quit()`).
    Quit,
    /// An upper-bound threshold broke with `--threshold-abort-after`.
    ThresholdFailed,
    /// `--find-capacity` found its answer.
    CapacityFound,
    /// Every worker quit.
    LastWorkerQuit,
    /// Every worker went missing.
    LastWorkerMissing,
    /// `--expect-workers-max-wait` elapsed without enough workers.
    GaveUpWaiting,
    /// Ctrl-C.
    Interrupted,
    /// SIGTERM.
    Terminated,
    /// `--autoquit` elapsed after the test.
    Autoquit,
}

impl StopReason {
    /// What the log says, completed by ", shutting down" or ", stopping test" unless
    /// [`StopReason::is_verbatim`]; `None` when the reason was logged where it arose.
    pub fn announcement(self) -> Option<&'static str> {
        Some(match self {
            StopReason::RunTime => "--run-time limit reached",
            StopReason::ShapeDone => "Shape test completed",
            StopReason::StopTest => "A user raised StopTest",
            StopReason::UsersStopped => "The users stopped the test",
            StopReason::ThresholdFailed => "A threshold failed",
            StopReason::CapacityFound => "The capacity search is over",
            StopReason::Interrupted => "Got Ctrl-C, shutting down",
            StopReason::Terminated => "Got SIGTERM signal",
            StopReason::Autoquit => "--autoquit time reached, shutting down",
            StopReason::Quit
            | StopReason::LastWorkerQuit
            | StopReason::LastWorkerMissing
            | StopReason::GaveUpWaiting => return None,
        })
    }

    /// The announcement is a whole sentence of Locust's.
    pub fn is_verbatim(self) -> bool {
        matches!(
            self,
            StopReason::Interrupted | StopReason::Terminated | StopReason::Autoquit
        )
    }
}

/// What sets the number of users during a test.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Drive {
    /// `-u`/`-r` or the web form.
    Ramp,
    /// The load shape; its last answer.
    Shape(Option<ShapeTick>),
    /// `--find-capacity`: the users of the current step and the rate that reaches it.
    Capacity { users: u64, rate: f64 },
}

/// A test that is running.
pub(super) struct ActiveTest {
    pub started: Instant,
    /// When the run time ends it.
    pub deadline: Option<Instant>,
    pub drive: Drive,
    /// When the shape is asked next.
    pub next_shape: Instant,
    /// The users were seen spawning or running (so a stop by user code can be told apart).
    pub seen_active: bool,
    /// The first ramp completed (`--reset-stats` acts once per test).
    pub ramped: bool,
}

impl Controller {
    /// Starts a test: the shape's first step, the capacity search's first step, or a ramp to
    /// `users` at `rate`.
    pub(super) fn begin(
        &mut self,
        now: Instant,
        snap: &Snapshot,
        users: u64,
        rate: f64,
        run_time: Option<Duration>,
        out: &mut Vec<Action>,
    ) {
        if let Some(a) = &self.arrivals {
            let rate = match (&self.arrival, self.shape.as_mut()) {
                (Some(plan), _) => plan.rate_at(Duration::ZERO, self.run_time),
                (None, Some(shape)) => shape.arrival_rate(Duration::ZERO).unwrap_or(0.0),
                (None, None) => 0.0,
            };
            a.restart(rate);
            log::info!(target: "locusta.runners", "Open model: {rate:.2} iterations per second");
        }
        let mut test = ActiveTest {
            started: now,
            deadline: None,
            drive: Drive::Ramp,
            next_shape: now + SHAPE_EVERY,
            seen_active: false,
            ramped: false,
        };
        if let Some(shape) = self.shape.as_mut() {
            log::info!(target: "locusta.runners", "Shape test starting.");
            shape.reset();
            test.drive = Drive::Shape(None);
            let first = shape.tick(Duration::ZERO, snap.users);
            self.test = Some(test);
            self.follow_shape(now, first, out);
            return;
        }
        if self.insight.finds_capacity() {
            let users = self.insight.capacity_users(0.0).unwrap_or(1);
            let rate = self.spawn_rate.max(self.insight.capacity_step() as f64);
            log::info!(target: "locusta.runners", "Capacity search: {users} users at {rate:.2} spawn rate");
            test.drive = Drive::Capacity { users, rate };
            out.push(spawn(users, rate, None));
        } else {
            test.deadline = run_time.map(|d| now + d);
            out.push(spawn(users, rate, None));
        }
        self.test = Some(test);
    }

    /// What ends a running test, the shape's next step, the open model's rate.
    pub(super) fn watch_test(&mut self, now: Instant, snap: &Snapshot, out: &mut Vec<Action>) {
        let Some(test) = self.test.as_ref() else {
            return;
        };
        if snap.quit_requested {
            self.quit(StopReason::Quit);
            return;
        }
        let ended = if snap.stop_requested {
            Some(StopReason::StopTest)
        } else if test.seen_active && snap.state == super::LoadState::Stopped {
            Some(StopReason::UsersStopped)
        } else if test.deadline.is_some_and(|d| now >= d) {
            Some(StopReason::RunTime)
        } else {
            self.workers_gone(snap)
        };
        if let Some(reason) = ended {
            self.end_test(now, reason, out);
            return;
        }
        let elapsed = now.saturating_duration_since(test.started);
        if let (Some(plan), Some(a)) = (self.arrival, &self.arrivals) {
            a.set_rate(plan.rate_at(elapsed, self.run_time));
        }
        let Some(test) = self.test.as_mut() else {
            return;
        };
        if !matches!(test.drive, Drive::Shape(_)) || now < test.next_shape {
            return;
        }
        test.next_shape = now + SHAPE_EVERY;
        let next = self
            .shape
            .as_mut()
            .and_then(|s| s.tick(elapsed, snap.users));
        self.follow_shape(now, next, out);
    }

    /// A master's test ends when its last worker quits or goes missing (Locust's words).
    fn workers_gone(&self, snap: &Snapshot) -> Option<StopReason> {
        let workers = snap.workers.as_ref()?;
        if workers.known == 0 {
            log::info!(target: "locusta.runners", "The last worker quit, stopping test.");
            Some(StopReason::LastWorkerQuit)
        } else if workers.ready == 0 {
            log::info!(target: "locusta.runners", "The last worker went missing, stopping test.");
            Some(StopReason::LastWorkerMissing)
        } else {
            None
        }
    }

    /// Carries out the shape's answer: a new step, or the end of the test.
    fn follow_shape(&mut self, now: Instant, tick: Option<ShapeTick>, out: &mut Vec<Action>) {
        let Some(test) = self.test.as_mut() else {
            return;
        };
        let Some(tick) = tick else {
            log::info!(target: "locusta.runners", "Shape test stopping");
            self.end_test(now, StopReason::ShapeDone, out);
            return;
        };
        if test.drive == Drive::Shape(Some(tick.clone())) {
            return;
        }
        log::info!(
            target: "locusta.runners",
            "Shape test updating to {} users at {:.2} spawn rate",
            tick.users,
            tick.spawn_rate
        );
        out.push(spawn(tick.users, tick.spawn_rate, tick.classes.clone()));
        test.drive = Drive::Shape(Some(tick));
    }

    /// `--find-capacity`: the next step each second, or the end when the search is over.
    pub(super) fn search_capacity(
        &mut self,
        now: Instant,
        elapsed: Duration,
        out: &mut Vec<Action>,
    ) {
        let Some(Drive::Capacity { users, rate }) = self.test.as_ref().map(|t| t.drive.clone())
        else {
            return;
        };
        match self.insight.capacity_users(elapsed.as_secs_f64()) {
            None => self.end_test(now, StopReason::CapacityFound, out),
            Some(wanted) if wanted != users => {
                log::info!(target: "locusta.runners", "Capacity search: {wanted} users");
                if let Some(test) = self.test.as_mut() {
                    test.drive = Drive::Capacity {
                        users: wanted,
                        rate,
                    };
                }
                out.push(spawn(wanted, rate, None));
            }
            Some(_) => {}
        }
    }

    /// The test is over: the run ends when headless; with the web UI the users stop, and after
    /// an automatic start `--autoquit` counts down (Locust's `stop_and_optionally_quit`).
    pub(super) fn end_test(&mut self, now: Instant, reason: StopReason, out: &mut Vec<Action>) {
        if self.headless {
            self.test = None;
            self.quit(reason);
            return;
        }
        if let Some(text) = reason.announcement() {
            log::info!(target: "locusta.main", "{text}, stopping test");
        }
        self.test = None;
        out.push(Action::StopUsers);
        let Some(web) = self.web.as_ref() else { return };
        if !web.autostart() {
            return;
        }
        match web.autoquit() {
            Some(secs) => self.quit_at = Some(now + Duration::from_secs(secs)),
            None => log::info!(
                target: "locusta.main",
                "--autoquit not specified, leaving web ui running indefinitely"
            ),
        }
    }
}

fn spawn(users: u64, rate: f64, classes: Option<Vec<String>>) -> Action {
    Action::Spawn {
        users,
        rate,
        classes,
    }
}
