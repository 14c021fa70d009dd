//! The headless run: ramp, report, stop, summarise — what `locust --headless` does.
//!
//! One control loop on the main thread drives everything that is not a user: it advances the
//! ramp (or the load shape), merges the per-thread statistics about once a second, writes the
//! CSV files every second, prints the console table every two seconds, and stops the test on
//! `--run-time`, Ctrl-C, SIGTERM, a `StopTest` from a user, or the end of a shape. The final
//! summary, JSON and CSV files are written whatever the reason for stopping.

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use locusta_stats::{console, csv::CsvWriter, json, StatsHub};

use crate::runner::{Runner, RunnerState};
use crate::shape::{LoadShape, ShapeTick};

/// What the headless run should do, resolved from the command line.
pub struct HeadlessPlan {
    /// `-u`.
    pub users: u64,
    /// `-r`.
    pub spawn_rate: f64,
    /// `-t`.
    pub run_time: Option<Duration>,
    /// A load shape replaces users, spawn rate and run time.
    pub shape: Option<Box<dyn LoadShape>>,
    /// `--reset-stats`.
    pub reset_stats: bool,
    /// Periodic console table (false with `--only-summary`).
    pub print_stats: bool,
    /// `--csv` prefix.
    pub csv_prefix: Option<PathBuf>,
    /// `--csv-full-history`.
    pub csv_full_history: bool,
    /// `--json`.
    pub json_stdout: bool,
    /// `--json-file` (without the `.json` suffix, as Locust).
    pub json_file: Option<PathBuf>,
    /// `--exit-code-on-error`.
    pub exit_code_on_error: i32,
    /// Thresholds, history, diagnosis, capacity search, report (locusta-insight).
    pub insight: crate::insight::Insight,
    /// `--arrival-rate`: the open model.
    pub arrival: Option<crate::arrival::ArrivalPlan>,
    /// `--metrics-port`.
    pub metrics_port: Option<u16>,
    /// `--web-host` (where `--metrics-port` binds; 127.0.0.1 when empty).
    pub web_host: String,
}

/// Why the run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StopReason {
    RunTime,
    Interrupted,
    Terminated,
    StopTest,
    ShapeDone,
    CapacityFound,
    ThresholdFailed,
}

pub(crate) use locusta_util::{format_class_counts, unix_now};

/// Prints a table to stderr, where Locust's plain `stats_logger` writes it. The tables already
/// end with the blank line Locust leaves after them.
pub(crate) fn print_block(text: &str) {
    let mut err = std::io::stderr().lock();
    let _ = err.write_all(text.as_bytes());
    let _ = err.flush();
}

/// Ramps to what a shape's tick asks for, restricted to its user classes when it names some.
pub(crate) fn apply_shape_tick(runner: &mut Runner, tick: &ShapeTick) {
    if let Some(names) = &tick.classes {
        let unknown = runner.restrict_classes(names);
        if !unknown.is_empty() {
            log::warn!("load shape names unknown user classes {unknown:?}; they are ignored");
        }
    }
    log::info!(target: "locusta.runners", "Shape test updating to {} users at {:.2} spawn rate", tick.users, tick.spawn_rate);
    runner.start(tick.users, tick.spawn_rate);
}

/// Runs the test to its end and returns the process exit code (Locust's rules).
pub async fn run(mut runner: Runner, stats: Arc<StatsHub>, mut plan: HeadlessPlan) -> i32 {
    let mut csv = match &plan.csv_prefix {
        Some(prefix) => match CsvWriter::create(prefix, plan.csv_full_history) {
            Ok(w) => Some(w),
            Err(e) => {
                log::error!(
                    "cannot write CSV files with prefix {}: {e}. Check that the directory is writable.",
                    prefix.display()
                );
                runner.shutdown();
                return 1;
            }
        },
        None => None,
    };

    if let Some(rt) = plan.run_time {
        log::info!(target: "locusta.main", "Run time limit set to {} seconds", rt.as_secs());
    }
    if plan.print_stats {
        print_block(&stats.read(|agg| console::stats_table(agg, true)));
    }

    let started = Instant::now();
    plan.insight.info.start_unix = unix_now();
    if let Err(e) = plan
        .insight
        .start_metrics(plan.metrics_port, &plan.web_host, &stats)
        .await
    {
        log::error!(target: "locusta.main", "{e}");
        runner.shutdown();
        return 1;
    }
    // Open model: from --arrival-rate, or from a shape that gives an arrival rate.
    let arrivals = match plan.arrival {
        Some(a) => Some(a.rate_at(Duration::ZERO, plan.run_time)),
        None => plan
            .shape
            .as_mut()
            .and_then(|s| s.arrival_rate(Duration::ZERO)),
    }
    .map(|rate| Arc::new(crate::arrival::Arrivals::new(rate)));
    if let Some(a) = &arrivals {
        log::info!(target: "locusta.runners", "Open model: {:.2} iterations per second", a.rate());
        runner.set_arrivals(Arc::clone(a));
    }
    let capacity_rate = plan.spawn_rate.max(plan.insight.capacity_step() as f64);
    let mut capacity_users = 0;
    let mut shape_value = None;
    if plan.insight.finds_capacity() {
        capacity_users = plan.insight.capacity_users(0.0).unwrap_or(1);
        log::info!(target: "locusta.runners", "Capacity search: {capacity_users} users at {capacity_rate:.2} spawn rate");
        runner.start(capacity_users, capacity_rate);
    } else if let Some(shape) = plan.shape.as_mut() {
        match shape.tick(Duration::ZERO, 0) {
            Some(tick) => {
                apply_shape_tick(&mut runner, &tick);
                shape_value = Some(tick);
            }
            None => log::info!(target: "locusta.runners", "Shape test stopping"),
        }
    } else {
        log::info!(
            target: "locusta.runners",
            "Ramping to {} users at a rate of {:.2} per second",
            plan.users,
            plan.spawn_rate
        );
        runner.start(plan.users, plan.spawn_rate);
    }

    let mut sigterm = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
    {
        Ok(s) => Some(s),
        Err(e) => {
            log::warn!("cannot listen for SIGTERM ({e}); only Ctrl-C will stop the test early");
            None
        }
    };
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);

    let mut csv_failing = false;
    // In an interactive terminal the periodic table becomes a live view redrawn in place.
    let mut live =
        (plan.print_stats && crate::live::stderr_is_live()).then(crate::live::LiveView::default);
    let mut last_merge = Instant::now();
    let mut last_print = Instant::now();
    let mut last_shape = Instant::now();
    let reason = loop {
        let now = Instant::now();
        if runner.tick(now) {
            log::info!(
                target: "locusta.runners",
                "All users spawned: {}",
                format_class_counts(&runner.class_counts())
            );
            if plan.reset_stats {
                log::info!(target: "locusta.runners", "Resetting stats\n");
                stats.reset();
                plan.insight.reset();
            }
        }
        if runner.stop_test_requested() {
            break StopReason::StopTest;
        }
        if let Some(rt) = plan.run_time {
            if plan.shape.is_none() && now.duration_since(started) >= rt {
                break StopReason::RunTime;
            }
        }
        if let Some(shape) = plan.shape.as_mut() {
            if now.duration_since(last_shape) >= Duration::from_secs(1) {
                last_shape = now;
                match shape.tick(now.duration_since(started), runner.user_count()) {
                    Some(tick) => {
                        if shape_value.as_ref() != Some(&tick) {
                            apply_shape_tick(&mut runner, &tick);
                            shape_value = Some(tick);
                        }
                    }
                    None => {
                        log::info!(target: "locusta.runners", "Shape test stopping");
                        break StopReason::ShapeDone;
                    }
                }
            }
        }
        if let (Some(a), Some(p)) = (&arrivals, plan.arrival) {
            a.set_rate(p.rate_at(now.duration_since(started), plan.run_time));
        }
        if now.duration_since(last_merge) >= Duration::from_secs(1) {
            last_merge = now;
            stats.merge();
            let elapsed = now.duration_since(started).as_secs_f64();
            if let (Some(a), None, Some(shape)) = (&arrivals, plan.arrival, plan.shape.as_mut()) {
                a.set_rate(
                    shape
                        .arrival_rate(now.duration_since(started))
                        .unwrap_or(0.0),
                );
            }
            let target_rate = arrivals.as_ref().map(|a| a.rate());
            if let Some(why) =
                plan.insight
                    .after_merge(&stats, runner.user_count(), target_rate, elapsed)
            {
                log::error!(target: "locusta.main", "{why}");
                break StopReason::ThresholdFailed;
            }
            if plan.insight.finds_capacity() {
                match plan.insight.capacity_users(elapsed) {
                    Some(users) if users != capacity_users => {
                        log::info!(target: "locusta.runners", "Capacity search: {users} users");
                        capacity_users = users;
                        runner.start(users, capacity_rate);
                    }
                    Some(_) => {}
                    None => break StopReason::CapacityFound,
                }
            }
            if let Some(w) = csv.as_mut() {
                let users = runner.user_count();
                // Said once per failing spell (e.g. while file descriptors are exhausted), not
                // every second; the next successful write catches up.
                match stats.read(|agg| w.write_snapshot(agg, users, unix_now())) {
                    Err(e) if !csv_failing => {
                        csv_failing = true;
                        log::error!("writing CSV files failed: {e} (retrying every second)");
                    }
                    Err(_) => {}
                    Ok(()) if csv_failing => {
                        csv_failing = false;
                        log::info!("writing CSV files works again");
                    }
                    Ok(()) => {}
                }
            }
        }
        if let Some(view) = live.as_mut() {
            if now.duration_since(last_print) >= Duration::from_secs(1) {
                last_print = now;
                let (users, target) = (runner.user_count(), runner.target_user_count());
                let elapsed = now.duration_since(started);
                let run_time = plan.run_time.filter(|_| plan.shape.is_none());
                view.draw(&stats.read(|agg| {
                    crate::live::status_line(agg, users, target, elapsed, run_time)
                        + &console::stats_table(agg, true)
                }));
            }
        } else if plan.print_stats && now.duration_since(last_print) >= Duration::from_secs(2) {
            last_print = now;
            print_block(&stats.read(|agg| console::stats_table(agg, true)));
        }
        let pause = if runner.is_ramping() {
            Duration::from_millis(5)
        } else {
            Duration::from_millis(100)
        };
        tokio::select! {
            _ = tokio::time::sleep(pause) => {}
            _ = &mut ctrl_c => break StopReason::Interrupted,
            Some(_) = async {
                match sigterm.as_mut() {
                    Some(s) => s.recv().await,
                    None => std::future::pending().await,
                }
            } => break StopReason::Terminated,
        }
    };

    match reason {
        StopReason::RunTime => {
            log::info!(target: "locusta.main", "--run-time limit reached, shutting down")
        }
        StopReason::Terminated => log::info!(target: "locusta.main", "Got SIGTERM signal"),
        StopReason::Interrupted => log::info!(target: "locusta.main", "Got Ctrl-C, shutting down"),
        StopReason::StopTest => {
            log::info!(target: "locusta.main", "A user raised StopTest, shutting down")
        }
        StopReason::ShapeDone | StopReason::CapacityFound | StopReason::ThresholdFailed => {}
    }
    plan.insight.record_final_ratio(&runner.class_counts());
    if let Some(a) = &arrivals {
        plan.insight.set_open_model(a.stats());
    }

    // Ctrl-C again while users finish their tasks stops at once.
    tokio::select! {
        _ = runner.stop() => {}
        _ = tokio::signal::ctrl_c() => log::warn!("second Ctrl-C: not waiting for users to finish"),
    }
    if runner.state() != RunnerState::Stopped {
        log::warn!("some users were still running at exit");
    }
    runner.shutdown();
    stats.merge();

    let threshold_failed = reason == StopReason::ThresholdFailed;
    finish(&stats, &mut plan, csv.as_mut(), threshold_failed)
}

/// Writes what every run ends with (final CSV snapshot, `--json`, summary tables) and returns
/// the exit code by Locust's rules. Shared with the web UI's control loop.
pub(crate) fn finish(
    stats: &StatsHub,
    plan: &mut HeadlessPlan,
    csv: Option<&mut CsvWriter>,
    threshold_failed: bool,
) -> i32 {
    let code = stats.read(|agg| {
        if !agg.errors().is_empty() || !agg.exceptions().is_empty() {
            plan.exit_code_on_error
        } else {
            0
        }
    });
    let code = plan.insight.exit_code(stats, code, threshold_failed);
    log::info!(target: "locusta.main", "Shutting down (exit code {code})");

    if let Some(w) = csv {
        if let Err(e) = stats.read(|agg| w.write_snapshot(agg, 0, unix_now())) {
            log::error!("writing CSV files failed: {e}");
        }
    }
    if plan.json_stdout {
        let text = stats.read(json::stats_json);
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{text}");
    }
    if let Some(path) = &plan.json_file {
        let mut file_name = path.as_os_str().to_owned();
        file_name.push(".json");
        let file = PathBuf::from(file_name);
        if let Some(dir) = file.parent().filter(|d| !d.as_os_str().is_empty()) {
            let _ = std::fs::create_dir_all(dir);
        }
        if let Err(e) = std::fs::write(&file, stats.read(json::stats_json)) {
            log::error!("cannot write {}: {e}", file.display());
        }
    } else {
        let (table, percentiles, errors) = stats.read(|agg| {
            (
                console::stats_table(agg, false),
                console::percentiles_table(agg),
                console::error_report(agg),
            )
        });
        print_block(&table);
        print_block(&percentiles);
        if !errors.is_empty() {
            print_block(&errors);
        }
    }
    plan.insight.finish(stats, code)
}
