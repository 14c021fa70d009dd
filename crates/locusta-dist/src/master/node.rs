//! The master on the network: the [`Master`] state machine behind a ZeroMQ ROUTER, with the
//! ramp paced over time, heartbeats checked every second, and the local worker processes of
//! `--processes`.
//!
//! [`MasterNode`] is what a run controller's driver steers when the users run on workers: it
//! takes the same orders as a local runner (spawn, stop), answers with the same
//! [`Snapshot`], and between orders [`MasterNode::serve`]s the workers. The Rust master and the
//! Python master (on a thread of its own) both drive it.

use std::process::Child;
use std::sync::Arc;
use std::time::{Duration, Instant};

use locusta_run::{LoadState, Snapshot, Workers};
use locusta_stats::StatsHub;
use locusta_util::format_class_counts;

use super::{Master, MasterPlan, Phase, WorkerLogs};
use crate::protocol::Message;
use crate::transport::Router;

/// Frames handled after one wake-up before the loop looks at its timers again.
const BATCH: usize = 256;
/// How long `quit` waits for the workers' last reports.
const QUIT_WAIT: Duration = Duration::from_secs(5);
/// How long local worker processes get to exit after `quit`.
const REAP_WAIT: Duration = Duration::from_secs(10);

/// The master's socket, state machine and local workers.
pub struct MasterNode {
    router: Router,
    master: Master,
    /// When the ramp deals out its next step.
    next_iteration: Instant,
    next_heartbeat: Instant,
    children: Vec<Child>,
    /// The replies to the frame at hand (kept: most frames have none).
    replies: Vec<Message>,
}

impl MasterNode {
    /// Binds the workers' port (`--master-bind-host`, `--master-bind-port`).
    pub async fn bind(
        plan: MasterPlan,
        host: &str,
        port: u16,
        stats: Arc<StatsHub>,
    ) -> Result<MasterNode, String> {
        let router = Router::bind(host, port).await?;
        log::info!(target: "locusta.main", "Master listening on port {} for workers", router.port);
        let now = Instant::now();
        Ok(MasterNode {
            router,
            master: Master::new(plan, stats),
            next_iteration: now,
            next_heartbeat: now + Duration::from_secs(1),
            children: Vec::new(),
            replies: Vec::new(),
        })
    }

    /// The port workers connect to.
    pub fn port(&self) -> u16 {
        self.router.port
    }

    /// `--processes N`: starts N worker processes of this same command, connected here.
    pub fn start_local_workers(&mut self, n: u64) {
        let args = crate::processes::worker_args("127.0.0.1", self.router.port);
        for i in 0..n {
            match crate::processes::spawn_worker_process(&args) {
                Ok(c) => self.children.push(c),
                Err(e) => {
                    log::error!(target: "locusta.main", "cannot start worker process {i}: {e}")
                }
            }
        }
    }

    /// What the workers run now, for the run controller.
    pub fn snapshot(&self) -> Snapshot {
        let m = &self.master;
        Snapshot {
            state: match m.phase() {
                Phase::Ready => LoadState::Ready,
                Phase::Spawning => LoadState::Spawning,
                Phase::Running => LoadState::Running,
                Phase::Stopped => LoadState::Stopped,
            },
            users: m.user_count(),
            target_users: m.target(),
            class_counts: m.dispatched_counts(),
            spawn_completions: m.completions(),
            stop_requested: false,
            quit_requested: false,
            workers: Some(Workers {
                ready: m.worker_count() as u64,
                known: m.known_workers() as u64,
                rows: m.workers_rows(),
            }),
        }
    }

    /// The workers' log lines, as they arrive (the web UI's `/logs`).
    pub fn worker_logs(&self) -> WorkerLogs {
        self.master.worker_logs()
    }

    /// The state machine (custom messages, worker indexes).
    pub fn master(&mut self) -> &mut Master {
        &mut self.master
    }

    /// The host sent to workers with the next `spawn`.
    pub fn set_host(&mut self, host: Option<String>) {
        self.master.set_host(host);
    }

    /// Deals out a ramp to `users` at `rate` per second over the workers (see
    /// [`Master::start`]); [`MasterNode::serve`] sends its steps.
    pub fn spawn(&mut self, users: u64, rate: f64, classes: Option<&[String]>) {
        log::info!(
            target: "locusta.runners",
            "Sending spawn jobs of {users} users at {rate:.2} spawn rate to {} ready workers",
            self.master.worker_count()
        );
        self.master.start(users, rate, classes);
        self.next_iteration = Instant::now();
    }

    /// Locust's `stop`: every worker stops its users (and later reports ready again).
    pub async fn stop_users(&mut self) {
        let msgs = self.master.stop_messages();
        self.send_all(msgs).await;
    }

    /// Serves the workers until `until`: their messages, the ramp's steps, heartbeat checks,
    /// and the custom messages queued for them.
    pub async fn serve(&mut self, until: Instant) {
        loop {
            let msgs = self.master.outgoing_messages();
            self.send_all(msgs).await;
            let now = Instant::now();
            if self.master.phase() == Phase::Spawning && now >= self.next_iteration {
                self.ramp_step().await;
            }
            if now >= self.next_heartbeat {
                self.next_heartbeat = now + Duration::from_secs(1);
                self.master.heartbeat_check();
            }
            let msgs = self.master.take_redistribution(now);
            self.send_all(msgs).await;
            if now >= until {
                // The driver takes a snapshot next.
                self.master.refresh_rows(now);
                return;
            }
            let mut wake = until.min(self.next_heartbeat);
            if self.master.phase() == Phase::Spawning {
                wake = wake.min(self.next_iteration);
            }
            if let Some(due) = self.master.redistribution_due() {
                wake = wake.min(due);
            }
            tokio::select! {
                frame = self.router.recv() => {
                    self.on_frame(frame).await;
                    // What else has arrived, without a timer and a select per message (a
                    // bounded batch: the ramp and the heartbeat checks keep their pace).
                    for _ in 0..BATCH {
                        let Some(frame) = self.router.try_recv() else { break };
                        self.on_frame(Ok(frame)).await;
                    }
                }
                _ = tokio::time::sleep_until(tokio::time::Instant::from_std(wake)) => {}
            }
        }
    }

    async fn ramp_step(&mut self) {
        let (msgs, done) = self.master.ramp_iteration();
        self.send_all(msgs).await;
        self.next_iteration = Instant::now() + self.master.step().1;
        if done {
            let msgs = self.master.spawning_complete_messages();
            self.send_all(msgs).await;
            log::debug!(
                "dispatched {}",
                format_class_counts(&self.master.dispatched_counts())
            );
        }
    }

    /// Sends `quit` to every worker, waits up to 5 s for their last reports, then for the
    /// local worker processes to exit.
    pub async fn quit(&mut self) {
        let quits = self.master.quit_messages();
        if !quits.is_empty() {
            self.send_all(quits).await;
            let deadline = tokio::time::Instant::now() + QUIT_WAIT;
            while self.master.known_workers() > 0 {
                tokio::select! {
                    frame = self.router.recv() => self.on_frame(frame).await,
                    _ = tokio::time::sleep_until(deadline) => {
                        log::warn!("{} workers did not confirm quitting within {} s", self.master.known_workers(), QUIT_WAIT.as_secs());
                        break;
                    }
                }
            }
        }
        let kids = std::mem::take(&mut self.children);
        crate::processes::reap(kids, REAP_WAIT);
    }

    /// Sends each message, logging (not failing on) a send error.
    async fn send_all(&mut self, msgs: Vec<Message>) {
        for m in msgs {
            if let Err(e) = self.router.send(&m).await {
                log::warn!("{e}");
            }
        }
    }

    /// Decodes one received frame, lets the master handle it and sends the replies.
    async fn on_frame(&mut self, frame: Result<(Arc<str>, bytes::Bytes), String>) {
        match frame {
            Ok((id, payload)) => match self.master.handle_frame(&id, &payload, &mut self.replies) {
                Ok(answer_heartbeat) => {
                    if answer_heartbeat {
                        if let Err(e) = self.router.send_heartbeat(&id) {
                            log::warn!("{e}");
                        }
                    }
                    if !self.replies.is_empty() {
                        let replies = std::mem::take(&mut self.replies);
                        self.send_all(replies).await;
                    }
                }
                Err(e) => log::warn!("dropping a malformed message from {id:?}: {e}"),
            },
            Err(e) => log::warn!("{e}"),
        }
    }
}
