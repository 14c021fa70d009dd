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
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use locusta_stats::{console, csv::CsvWriter, json, StatsHub};

use crate::runner::{Runner, RunnerState};
use crate::shape::LoadShape;

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
}

/// Why the run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StopReason {
    RunTime,
    Interrupted,
    Terminated,
    StopTest,
    ShapeDone,
}

pub(crate) fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

pub(crate) fn format_class_counts(counts: &[(String, u64)]) -> String {
    let mut sorted: Vec<&(String, u64)> = counts.iter().collect();
    sorted.sort_by(|a, b| a.0.cmp(&b.0));
    let parts: Vec<String> = sorted
        .iter()
        .map(|(name, n)| format!("\"{name}\": {n}"))
        .collect();
    let total: u64 = counts.iter().map(|(_, n)| n).sum();
    format!("{{{}}} ({total} total users)", parts.join(", "))
}

/// Prints a table to stderr, where Locust's plain `stats_logger` writes it. The tables already
/// end with the blank line Locust leaves after them.
pub(crate) fn print_block(text: &str) {
    let mut err = std::io::stderr().lock();
    let _ = err.write_all(text.as_bytes());
    let _ = err.flush();
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
    let mut shape_value = None;
    if let Some(shape) = plan.shape.as_mut() {
        match shape.tick(Duration::ZERO, 0) {
            Some(tick) => {
                log::info!(target: "locusta.runners", "Shape test updating to {} users at {:.2} spawn rate", tick.users, tick.spawn_rate);
                runner.start(tick.users, tick.spawn_rate);
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
                        if tick.classes.is_some() {
                            log::warn!("load shape class lists are not supported yet; all classes keep running");
                        }
                        if shape_value.as_ref() != Some(&tick) {
                            log::info!(target: "locusta.runners", "Shape test updating to {} users at {:.2} spawn rate", tick.users, tick.spawn_rate);
                            runner.start(tick.users, tick.spawn_rate);
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
        if now.duration_since(last_merge) >= Duration::from_secs(1) {
            last_merge = now;
            stats.merge();
            if let Some(w) = csv.as_mut() {
                let users = runner.user_count();
                if let Err(e) = stats.read(|agg| w.write_snapshot(agg, users, unix_now())) {
                    log::error!("writing CSV files failed: {e}");
                }
            }
        }
        if plan.print_stats && now.duration_since(last_print) >= Duration::from_secs(2) {
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
        StopReason::ShapeDone => {}
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

    finish(&stats, &plan, csv.as_mut())
}

/// Writes what every run ends with (final CSV snapshot, `--json`, summary tables) and returns
/// the exit code by Locust's rules. Shared with the web UI's control loop.
pub(crate) fn finish(stats: &StatsHub, plan: &HeadlessPlan, csv: Option<&mut CsvWriter>) -> i32 {
    let code = stats.read(|agg| {
        if !agg.errors().is_empty() || !agg.exceptions().is_empty() {
            plan.exit_code_on_error
        } else {
            0
        }
    });
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
    code
}

#[cfg(test)]
mod tests {
    use super::format_class_counts;

    #[test]
    fn class_counts_read_like_locust() {
        let counts = vec![("WebsiteUser".to_string(), 2), ("Other".to_string(), 1)];
        assert_eq!(
            format_class_counts(&counts),
            "{\"Other\": 1, \"WebsiteUser\": 2} (3 total users)"
        );
    }
}
