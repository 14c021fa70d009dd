//! The tokio driver of a run: feeds the run controller (`locusta-run`) snapshots of whatever
//! runs the users and carries out its actions, until it says quit. One loop for every Rust run:
//! headless or with the web UI, a single process or a master; what differs is the [`Load`].

use std::future::Future;
use std::time::Instant;

use locusta_run::{Action, Controller, Interrupt, Snapshot};
use tokio::sync::mpsc;

/// Whatever runs the users: a local [`crate::Runner`] or a master's workers.
pub(crate) trait Load {
    /// What the users look like now.
    fn snapshot(&self) -> Snapshot;
    /// Carries out one of the controller's actions (other than `Quit`).
    fn apply(&mut self, action: Action) -> impl Future<Output = ()>;
    /// Does the load's own work (a ramp's steps, the workers' messages) until `until`.
    fn serve(&mut self, until: Instant) -> impl Future<Output = ()>;
    /// The run is over: stops the test's users.
    fn end_test(&mut self) -> impl Future<Output = ()>;
    /// Releases everything (threads, workers) once the users stopped.
    fn shutdown(self) -> impl Future<Output = ()>;
}

/// Runs the test to its end and returns the process exit code. `signals` listens from before
/// the controller started anything (the web UI among it), so a Ctrl-C at any moment ends the
/// run in order.
pub(crate) async fn drive(
    mut load: impl Load,
    mut controller: Controller,
    mut signals: Signals,
) -> i32 {
    loop {
        let actions = controller.tick(Instant::now(), &load.snapshot());
        if actions.contains(&Action::Quit) {
            break;
        }
        for action in actions {
            load.apply(action).await;
        }
        // Signals arrive between ticks: `serve` returns within the controller's tick interval.
        match signals.take() {
            Some(signal) => controller.interrupt(signal),
            None => load.serve(controller.next_tick(Instant::now())).await,
        }
    }
    // Ctrl-C again while users finish their tasks stops at once.
    tokio::select! {
        _ = load.end_test() => {}
        _ = signals.next() => log::warn!("second Ctrl-C: not waiting for users to finish"),
    }
    load.shutdown().await;
    let code = controller.conclude(None, false);
    controller.finish(code)
}

/// Ctrl-C and SIGTERM, listened for from the start so an early signal still ends the run in
/// order.
pub(crate) struct Signals {
    received: mpsc::UnboundedReceiver<Interrupt>,
}

impl Signals {
    /// Starts listening; call inside the control loop's runtime, before anything a signal
    /// should not kill half-way starts.
    pub(crate) fn listen() -> Signals {
        use tokio::signal::unix::{signal, SignalKind};
        let (tx, received) = mpsc::unbounded_channel();
        for (kind, which) in [
            (SignalKind::interrupt(), Interrupt::CtrlC),
            (SignalKind::terminate(), Interrupt::Terminate),
        ] {
            match signal(kind) {
                Ok(mut s) => {
                    let tx = tx.clone();
                    tokio::spawn(async move {
                        while s.recv().await.is_some() {
                            if tx.send(which).is_err() {
                                break;
                            }
                        }
                    });
                }
                Err(e) => {
                    log::warn!("cannot listen for {which:?} ({e}); it will end the process at once")
                }
            }
        }
        Signals { received }
    }

    fn take(&mut self) -> Option<Interrupt> {
        self.received.try_recv().ok()
    }

    async fn next(&mut self) {
        if self.received.recv().await.is_none() {
            std::future::pending::<()>().await;
        }
    }
}
