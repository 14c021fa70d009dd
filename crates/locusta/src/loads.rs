//! The two things a Rust run's driver can steer: the local [`Runner`] ([`RunnerLoad`]) and a
//! master's workers ([`MasterLoad`]). Each turns the controller's actions into its own calls,
//! reports a [`Snapshot`], and runs the locustfile's test hooks where Locust fires
//! `test_start` and `test_stop`.

use std::time::{Duration, Instant};

use locusta_dist::master::node::MasterNode;
use locusta_run::{Action, LoadState, Snapshot};

use crate::driver::Load;
use crate::locustfile::{Node, TestEvent, TestHooks};
use crate::runner::{Runner, RunnerState};

/// How often a ramp advances (a user starts every `1/rate` seconds).
const RAMP_STEP: Duration = Duration::from_millis(5);

/// Fires `test_start` when a test begins and `test_stop` when it ends, once each.
struct Hooks {
    hooks: TestHooks,
    node: Node,
    host: Option<String>,
    running: bool,
}

impl Hooks {
    fn start(&mut self) {
        if !std::mem::replace(&mut self.running, true) {
            self.hooks.test_start(&self.event());
        }
    }

    fn stop(&mut self) {
        if std::mem::replace(&mut self.running, false) {
            self.hooks.test_stop(&self.event());
        }
    }

    fn event(&self) -> TestEvent {
        TestEvent {
            node: self.node,
            host: self.host.clone(),
            worker_index: (self.node == Node::Local).then_some(0),
        }
    }
}

/// The users run here, on the engine's threads.
pub(crate) struct RunnerLoad {
    runner: Runner,
    hooks: Hooks,
    completions: u64,
}

impl RunnerLoad {
    pub(crate) fn new(runner: Runner, hooks: TestHooks, host: Option<String>) -> RunnerLoad {
        RunnerLoad {
            runner,
            hooks: Hooks {
                hooks,
                node: Node::Local,
                host,
                running: false,
            },
            completions: 0,
        }
    }

    async fn stop(&mut self) {
        self.runner.stop().await;
        if self.runner.state() != RunnerState::Stopped {
            log::warn!("some users were still running after the stop");
        }
        self.runner.clear_stop_test();
        self.hooks.stop();
    }
}

impl Load for RunnerLoad {
    fn snapshot(&self) -> Snapshot {
        let r = &self.runner;
        Snapshot {
            state: match r.state() {
                RunnerState::Ready => LoadState::Ready,
                RunnerState::Spawning => LoadState::Spawning,
                RunnerState::Running => LoadState::Running,
                RunnerState::Stopping => LoadState::Stopping,
                RunnerState::Stopped => LoadState::Stopped,
            },
            users: r.user_count(),
            target_users: r.target_user_count(),
            class_counts: r.class_counts(),
            spawn_completions: self.completions,
            stop_requested: r.stop_test_requested(),
            quit_requested: false,
            workers: None,
        }
    }

    async fn apply(&mut self, action: Action) {
        match action {
            Action::Spawn {
                users,
                rate,
                classes,
            } => {
                self.hooks.start();
                if let Some(names) = classes {
                    let unknown = self.runner.restrict_classes(&names);
                    if !unknown.is_empty() {
                        log::warn!("the load shape names unknown user classes {unknown:?}; they are ignored");
                    }
                }
                log::info!(target: "locusta.runners", "Ramping to {users} users at a rate of {rate:.2} per second");
                self.runner.start(users, rate);
            }
            Action::SetHost(host) => {
                self.hooks.host.clone_from(&host);
                self.runner.set_host(host);
            }
            Action::StopUsers => self.stop().await,
            // Rust user classes declare no options, and keep no listeners for a reset.
            Action::ApplyOptions(_) | Action::StatsReset | Action::Quit => {}
        }
    }

    async fn serve(&mut self, until: Instant) {
        loop {
            let now = Instant::now();
            if self.runner.tick(now) {
                self.completions += 1;
            }
            if now >= until {
                return;
            }
            let wake = if self.runner.is_ramping() {
                until.min(now + RAMP_STEP)
            } else {
                until
            };
            tokio::time::sleep_until(tokio::time::Instant::from_std(wake)).await;
        }
    }

    async fn end_test(&mut self) {
        self.stop().await;
    }

    async fn shutdown(self) {
        self.runner.shutdown();
    }
}

/// The users run on workers that this master dispatches them to.
pub(crate) struct MasterLoad {
    node: MasterNode,
    hooks: Hooks,
}

impl MasterLoad {
    pub(crate) fn new(node: MasterNode, hooks: TestHooks, host: Option<String>) -> MasterLoad {
        MasterLoad {
            node,
            hooks: Hooks {
                hooks,
                node: Node::Master,
                host,
                running: false,
            },
        }
    }
}

impl Load for MasterLoad {
    fn snapshot(&self) -> Snapshot {
        self.node.snapshot()
    }

    async fn apply(&mut self, action: Action) {
        match action {
            Action::Spawn {
                users,
                rate,
                classes,
            } => {
                self.hooks.start();
                self.node.spawn(users, rate, classes.as_deref());
            }
            Action::SetHost(host) => {
                self.hooks.host.clone_from(&host);
                self.node.set_host(host);
            }
            Action::StopUsers => {
                self.node.stop_users().await;
                self.hooks.stop();
            }
            Action::ApplyOptions(_) | Action::StatsReset | Action::Quit => {}
        }
    }

    async fn serve(&mut self, until: Instant) {
        self.node.serve(until).await;
    }

    /// The workers stop their users on `quit` (see [`Load::shutdown`]), as Locust's master
    /// quits without a `stop` first.
    async fn end_test(&mut self) {
        self.hooks.stop();
    }

    async fn shutdown(mut self) {
        self.node.quit().await;
    }
}
