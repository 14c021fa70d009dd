//! The master with the web UI (`--master` without `--headless`), for Rust and Python
//! locustfiles alike (a Python master dispatches by class name, weight and fixed count only, so
//! it runs here too).
//!
//! It exists because the headless master (`locusta_dist::master::run_headless`) runs one test
//! from the command line and ends; here the same [`Master`] state machine is driven by the UI's
//! command queue instead: `/swarm` starts or retargets a test on the workers, `/stop` sends
//! them `stop`, `/stats/reset` resets the merged statistics (workers report deltas, so the
//! master's reset is the reset everywhere). The loop publishes the master's state, the summed
//! user counts and the Workers tab rows (`workers`, `worker_count` in `/stats/requests`), and
//! on Ctrl-C or SIGTERM quits the workers, collects their last reports and writes the same
//! final outputs as a headless master.

use std::sync::Arc;
use std::time::{Duration, Instant};

use locusta_dist::master::{
    finish_outputs, on_frame, quit_workers, send_all, write_tick, Master, MasterPlan, Phase,
};
use locusta_dist::transport::Router;
use locusta_stats::{csv::CsvWriter, StatsHub};
use locusta_web::{Command, ControlPort, RunInfo, ServerConfig, Status, WorkerInfo};

use crate::headless::format_class_counts;

/// What the web master needs from the command line.
pub struct WebMasterConfig {
    /// `--master-bind-host`.
    pub bind_host: String,
    /// `--master-bind-port`.
    pub bind_port: u16,
    /// Where to serve the UI.
    pub server: ServerConfig,
    /// `--autostart` (waits for `--expect-workers` first).
    pub autostart: bool,
    /// `--autoquit` seconds.
    pub autoquit: Option<u64>,
    /// `--expect-workers` (only with `--autostart`).
    pub expect_workers: u64,
    /// `-u`, `-r`, `-t` for `--autostart`.
    pub users: u64,
    /// `-r`.
    pub spawn_rate: f64,
    /// `-t`.
    pub run_time: Option<Duration>,
    /// `--reset-stats`.
    pub reset_stats: bool,
    /// `--print-stats`.
    pub print_stats: bool,
    /// `--csv`.
    pub csv_prefix: Option<std::path::PathBuf>,
    /// `--csv-full-history`.
    pub csv_full_history: bool,
    /// `--json`.
    pub json_stdout: bool,
    /// `--json-file`.
    pub json_file: Option<std::path::PathBuf>,
    /// `--exit-code-on-error`.
    pub exit_code_on_error: i32,
    /// Called once the worker port is bound (`--processes` starts its workers here).
    pub on_listening: Option<Box<dyn FnOnce(u16)>>,
}

fn state_name(phase: Phase) -> &'static str {
    match phase {
        Phase::Ready => "ready",
        Phase::Spawning => "spawning",
        Phase::Running => "running",
        Phase::Stopped => "stopped",
    }
}

fn publish(port: &ControlPort, master: &Master, host: &str) {
    let workers: Vec<WorkerInfo> = master
        .workers_info()
        .into_iter()
        .map(|w| WorkerInfo {
            id: w.id,
            state: w.state,
            user_count: w.user_count,
            cpu_usage: w.cpu_percent,
            memory_usage: w.memory_bytes,
        })
        .collect();
    port.publish(Status {
        state: state_name(master.phase()).to_owned(),
        user_count: master.user_count(),
        class_counts: master.class_counts(),
        host: host.to_owned(),
        worker_count: master.worker_count() as u64,
        workers,
    });
}

/// A test started from the UI (or `--autostart`).
struct Active {
    deadline: Option<Instant>,
}

/// Serves the UI and dispatches tests to the workers until Ctrl-C, SIGTERM or `--autoquit`.
/// Returns the exit code.
pub async fn run(
    plan: MasterPlan,
    mut cfg: WebMasterConfig,
    stats: Arc<StatsHub>,
    info: RunInfo,
) -> i32 {
    let mut host = info.host.clone();
    let mut router = match Router::bind(&cfg.bind_host, cfg.bind_port).await {
        Ok(r) => r,
        Err(e) => {
            log::error!(target: "locusta.main", "{e}");
            return 1;
        }
    };
    log::info!(target: "locusta.main", "Master listening on port {} for workers", router.port);
    let mut sigterm =
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);

    let (ctx, mut port) = locusta_web::WebContext::new(
        Arc::clone(&stats),
        info,
        Arc::new(crate::logging::recent_lines),
    );
    port.set_distributed();
    // `/metrics` as on a single-process web run (Prometheus text of the merged statistics).
    let users_now = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let routes = locusta_web::router(ctx.clone()).merge(crate::webui::metrics_routes(
        Arc::clone(&stats),
        Arc::clone(&users_now),
    ));
    let server = match locusta_web::start(ctx, routes, &cfg.server) {
        Ok(s) => s,
        Err(e) => {
            log::error!(target: "locusta.main", "{e}");
            return 1;
        }
    };
    log::info!(target: "locusta.main", "Starting web interface at {}", server.url());
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
                server.stop();
                return 1;
            }
        },
        None => None,
    };

    let mut master = Master::new(plan, Arc::clone(&stats));
    master.set_host((!host.is_empty()).then(|| host.clone()));
    let mut active: Option<Active> = None;
    let mut autostart_pending = cfg.autostart;
    let mut quit_at: Option<Instant> = None;
    let mut next_iteration = Instant::now();
    let mut last_print = Instant::now();
    let mut reset_done = false;
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    publish(&port, &master, &host);

    let reason = loop {
        // Custom messages from the Python master's listeners.
        let msgs = master.outgoing_messages();
        send_all(&mut router, msgs).await;
        // Commands from the UI.
        while let Ok(cmd) = port.commands.try_recv() {
            match cmd {
                Command::Swarm(req) => {
                    if let Some(h) = &req.host {
                        host = h.clone();
                        master.set_host((!h.is_empty()).then(|| h.clone()));
                    }
                    if master.worker_count() == 0 {
                        log::warn!(target: "locusta.runners", "You can't start a distributed test before at least one worker processes has connected");
                        continue;
                    }
                    let fresh = !matches!(master.phase(), Phase::Spawning | Phase::Running);
                    if fresh {
                        stats.reset();
                        stats.reset_exceptions();
                        port.clear_history();
                        reset_done = false;
                    }
                    log::info!(target: "locusta.runners", "Sending spawn jobs of {} users at {:.2} spawn rate to {} ready workers", req.user_count, req.spawn_rate, master.worker_count());
                    master.start(req.user_count, req.spawn_rate);
                    next_iteration = Instant::now();
                    // Locust restarts the run-time timer from each /swarm.
                    active = Some(Active {
                        deadline: req.run_time.map(|d| Instant::now() + d),
                    });
                    quit_at = None;
                }
                Command::ResetStats => {}
                Command::Stop => {
                    if active.take().is_some() || master.phase() != Phase::Stopped {
                        let msgs = master.stop_messages();
                        send_all(&mut router, msgs).await;
                    }
                }
            }
            publish(&port, &master, &host);
        }

        if autostart_pending && master.worker_count() as u64 >= cfg.expect_workers.max(1) {
            autostart_pending = false;
            if let Some(rt) = cfg.run_time {
                log::info!(target: "locusta.main", "Run time limit set to {} seconds", rt.as_secs());
            }
            log::info!(target: "locusta.runners", "Sending spawn jobs of {} users at {:.2} spawn rate to {} ready workers", cfg.users, cfg.spawn_rate, master.worker_count());
            master.start(cfg.users, cfg.spawn_rate);
            next_iteration = Instant::now();
            active = Some(Active {
                deadline: cfg.run_time.map(|d| Instant::now() + d),
            });
        }

        let now = Instant::now();
        if master.phase() == Phase::Spawning && now >= next_iteration {
            let (msgs, done) = master.ramp_iteration();
            send_all(&mut router, msgs).await;
            next_iteration = Instant::now() + master.step().1;
            if done {
                log::info!(target: "locusta.runners", "All users spawned: {}", format_class_counts(&master.dispatched_counts()));
                let msgs = master.spawning_complete_messages();
                send_all(&mut router, msgs).await;
                if cfg.reset_stats && !reset_done {
                    reset_done = true;
                    log::info!(target: "locusta.runners", "Resetting stats\n");
                    stats.reset();
                }
            }
            publish(&port, &master, &host);
        }
        let mut finished = None;
        if active
            .as_ref()
            .is_some_and(|a| a.deadline.is_some_and(|d| now >= d))
        {
            finished = Some("--run-time limit reached");
        }
        if active.is_some() && master.known_workers() == 0 {
            finished = Some("The last worker quit");
        }
        if let Some(why) = finished {
            log::info!(target: "locusta.main", "{why}, stopping test");
            active = None;
            let msgs = master.stop_messages();
            send_all(&mut router, msgs).await;
            publish(&port, &master, &host);
            if cfg.autostart {
                match cfg.autoquit {
                    Some(secs) => quit_at = Some(Instant::now() + Duration::from_secs(secs)),
                    None => log::info!(
                        target: "locusta.main",
                        "--autoquit not specified, leaving web ui running indefinitely"
                    ),
                }
            }
        }
        if quit_at.is_some_and(|q| Instant::now() >= q) {
            break "--autoquit time reached, shutting down";
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
                stats.merge();
                users_now.store(master.user_count(), std::sync::atomic::Ordering::Relaxed);
                publish(&port, &master, &host);
                port.publish_worker_logs(master.worker_logs().clone());
                write_tick(&stats, csv.as_mut(), master.user_count(), cfg.print_stats.then_some(&mut last_print));
            }
            _ = tokio::time::sleep_until(wake) => {}
            _ = &mut ctrl_c => break "Got Ctrl-C, shutting down",
            Some(_) = async { match sigterm.as_mut() { Some(s) => s.recv().await, None => std::future::pending().await } } => break "Got SIGTERM signal",
        }
    };
    log::info!(target: "locusta.main", "{reason}");

    quit_workers(&mut router, &mut master).await;
    server.stop();
    finish_outputs(
        &stats,
        csv.as_mut(),
        cfg.json_stdout,
        cfg.json_file.as_deref(),
        cfg.exit_code_on_error,
    )
}
