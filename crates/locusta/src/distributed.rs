//! `--worker` on the engine: the [`Runner`] behind `locusta-dist`'s worker loop. The protocol
//! lives in `locusta-dist`; this module only adapts the engine to it (the worker's `WorkerUsers`
//! trait), and runs the locustfile's test hooks where Locust's worker fires its events.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use locusta_dist::worker::{self, Exit, WorkerConfig, WorkerUsers};
use locusta_options::Options;
use locusta_stats::StatsHub;

use crate::locustfile::{Node, TestEvent, TestHooks};
use crate::runner::Runner;

struct RunnerUsers<'a> {
    runner: &'a mut Runner,
    stats: Arc<StatsHub>,
    hooks: TestHooks,
    host: Option<String>,
    /// A test runs (its `test_start` ran and its `test_stop` has not).
    testing: bool,
    /// The index from the master's `ack`.
    worker_index: Option<i64>,
}

impl RunnerUsers<'_> {
    fn event(&self) -> TestEvent {
        TestEvent {
            node: Node::Worker,
            host: self.host.clone(),
            worker_index: self.worker_index,
        }
    }
}

impl WorkerUsers for RunnerUsers<'_> {
    fn set_class_counts(&mut self, counts: &[(String, u64)]) -> Result<(), String> {
        if !std::mem::replace(&mut self.testing, true) {
            self.hooks.test_start(&self.event());
        }
        self.runner.set_class_counts(counts)
    }
    fn configure(&mut self, host: Option<String>, stop_timeout: Duration) {
        if host.is_some() {
            self.host.clone_from(&host);
        }
        self.runner.configure(host, stop_timeout);
    }
    fn user_count(&self) -> u64 {
        self.runner.user_count()
    }
    fn class_counts(&self) -> Vec<(String, u64)> {
        self.runner.class_counts()
    }
    fn stats(&self) -> Arc<StatsHub> {
        Arc::clone(&self.stats)
    }
    fn set_worker_index(&mut self, index: i64) {
        self.worker_index = Some(index);
    }
    fn stop(&mut self) -> Pin<Box<dyn Future<Output = ()> + '_>> {
        Box::pin(async move {
            self.runner.stop().await;
            if std::mem::replace(&mut self.testing, false) {
                self.hooks.test_stop(&self.event());
            }
        })
    }
}

/// Runs this process as a worker of the master given by `--master-host`/`--master-port`.
pub(crate) async fn run_worker(
    mut runner: Runner,
    stats: Arc<StatsHub>,
    opts: &Options,
    hooks: TestHooks,
) -> i32 {
    let cfg = WorkerConfig {
        master_host: opts.master_host.clone(),
        master_port: opts.master_port,
        node_id: None,
    };
    let exit = {
        let mut engine = RunnerUsers {
            runner: &mut runner,
            stats,
            hooks,
            host: opts.host.clone(),
            testing: false,
            worker_index: None,
        };
        worker::run(&mut engine, cfg).await
    };
    runner.shutdown();
    match exit {
        Exit::Quit | Exit::Interrupted => 0,
        Exit::MasterLost(why) => {
            log::error!(target: "locusta.main", "{why}; stopped the users, exiting");
            1
        }
    }
}
