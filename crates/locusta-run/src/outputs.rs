//! What a run writes: the CSV files and the statistics table while it runs, and Locust's final
//! outputs when it ends (last CSV snapshot, `--json`, `--json-file`, summary tables).
//!
//! One implementation for every kind of run, so a failing disk is reported the same way
//! everywhere (once per failing spell, not every second) and `--json-file` creates its
//! directory everywhere.

use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

use locusta_stats::{console, csv::CsvWriter, json, StatsHub};
use locusta_util::unix_now;

use crate::live::{self, LiveView};
use crate::plan::OutputPlan;

/// Prints a table to stderr, where Locust's plain `stats_logger` writes it. The tables already
/// end with the blank line Locust leaves after them.
pub fn print_block(text: &str) {
    let mut err = std::io::stderr().lock();
    let _ = err.write_all(text.as_bytes());
    let _ = err.flush();
}

/// How often the plain statistics table is printed (Locust's `console_stats_interval`).
const TABLE_EVERY: Duration = Duration::from_secs(2);
/// How often the live view is redrawn.
const LIVE_EVERY: Duration = Duration::from_secs(1);

/// The CSV files and the console table of a running test.
pub struct Periodic {
    csv: Option<CsvWriter>,
    /// The CSV files could not be written at the last attempt (said once, until they work).
    csv_failing: bool,
    console: Console,
    last_print: Instant,
}

enum Console {
    Off,
    Table,
    Live(LiveView),
}

/// What the live view's status line shows.
pub struct LiveStatus {
    /// Users running.
    pub users: u64,
    /// Users wanted.
    pub target: u64,
    /// Time since the test started.
    pub elapsed: Duration,
    /// The run time, when one ends the test.
    pub run_time: Option<Duration>,
}

impl Periodic {
    /// Opens the CSV files (an error says why and what to do) and picks the console output:
    /// the live view in an interactive terminal, else Locust's table every two seconds.
    pub fn open(plan: &OutputPlan, now: Instant) -> Result<Periodic, String> {
        let csv = match &plan.csv_prefix {
            Some(prefix) => Some(CsvWriter::create(prefix, plan.csv_full_history).map_err(|e| {
                format!(
                    "cannot write CSV files with prefix {}: {e}. Check that the directory exists and is writable.",
                    prefix.display()
                )
            })?),
            None => None,
        };
        let console = match (plan.periodic_stats, live::stderr_is_live()) {
            (false, _) => Console::Off,
            (true, true) => Console::Live(LiveView::default()),
            (true, false) => Console::Table,
        };
        Ok(Periodic {
            csv,
            csv_failing: false,
            console,
            last_print: now,
        })
    }

    /// Locust prints an empty table when a headless test starts.
    pub fn first_table(&self, stats: &StatsHub) {
        if matches!(self.console, Console::Table) {
            print_block(&stats.read(|agg| console::stats_table(agg, true)));
        }
    }

    /// Writes the CSV snapshot (call once a second, after the statistics were merged).
    pub fn write_csv(&mut self, stats: &StatsHub, users: u64) {
        let Some(w) = self.csv.as_mut() else { return };
        // Said once per failing spell (e.g. while the disk is full), not every second; the
        // next successful write catches up.
        match stats.read(|agg| w.write_snapshot(agg, users, unix_now())) {
            Err(e) if !self.csv_failing => {
                self.csv_failing = true;
                log::error!("writing CSV files failed: {e} (retrying every second)");
            }
            Err(_) => {}
            Ok(()) if self.csv_failing => {
                self.csv_failing = false;
                log::info!("writing CSV files works again");
            }
            Ok(()) => {}
        }
    }

    /// Prints the table or redraws the live view when it is due.
    pub fn print(&mut self, stats: &StatsHub, now: Instant, status: LiveStatus) {
        let every = match self.console {
            Console::Off => return,
            Console::Table => TABLE_EVERY,
            Console::Live(_) => LIVE_EVERY,
        };
        if now.saturating_duration_since(self.last_print) < every {
            return;
        }
        self.last_print = now;
        match &mut self.console {
            Console::Live(view) => view.draw(&stats.read(|agg| {
                live::status_line(
                    agg,
                    status.users,
                    status.target,
                    status.elapsed,
                    status.run_time,
                ) + &console::stats_table(agg, true)
            })),
            _ => print_block(&stats.read(|agg| console::stats_table(agg, true))),
        }
    }

    /// When the next print is due.
    pub fn next_print(&self) -> Option<Instant> {
        match self.console {
            Console::Off => None,
            Console::Table => Some(self.last_print + TABLE_EVERY),
            Console::Live(_) => Some(self.last_print + LIVE_EVERY),
        }
    }

    /// The final CSV snapshot (no users left).
    fn write_final_csv(&mut self, stats: &StatsHub) {
        let Some(w) = self.csv.as_mut() else { return };
        if let Err(e) = stats.read(|agg| w.write_snapshot(agg, 0, unix_now())) {
            if self.csv_failing {
                log::error!("the final CSV files could not be written either: {e}");
            } else {
                log::error!("writing the final CSV files failed: {e}");
            }
        }
    }
}

/// Locust's end of a run: the last CSV snapshot, `--json` on stdout, then `--json-file` or the
/// summary tables on stderr.
pub fn write_final(stats: &StatsHub, plan: &OutputPlan, periodic: &mut Periodic) {
    periodic.write_final_csv(stats);
    if plan.json_stdout {
        let text = stats.read(json::stats_json);
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{text}");
        let _ = out.flush();
    }
    match &plan.json_file {
        Some(path) => {
            if let Err(e) = write_creating_dir(path, &stats.read(json::stats_json)) {
                log::error!("cannot write {}: {e}", path.display());
            }
        }
        None => {
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
    }
}

/// Writes `text` to `path`, creating its directory first.
pub fn write_creating_dir(path: &Path, text: &str) -> std::io::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(path, text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use locusta_stats::StatsLimits;

    #[test]
    fn json_file_creates_its_directory_and_csv_failures_are_survivable() {
        let dir = tempfile::tempdir().expect("tempdir");
        let stats = StatsHub::new(StatsLimits::default());
        let plan = OutputPlan {
            csv_prefix: Some(dir.path().join("c")),
            csv_full_history: false,
            json_stdout: false,
            json_file: Some(dir.path().join("new/deeper/stats.json")),
            periodic_stats: false,
            exit_code_on_error: 1,
        };
        let mut periodic = Periodic::open(&plan, Instant::now()).expect("csv files");
        periodic.write_csv(&stats, 0);
        assert!(!periodic.csv_failing);
        // A directory where the snapshot goes makes every write fail.
        let target = dir.path().join("c_stats.csv");
        std::fs::remove_file(&target).expect("snapshot written");
        std::fs::create_dir_all(target.join("blocker")).expect("blocker");
        periodic.write_csv(&stats, 0);
        periodic.write_csv(&stats, 0);
        assert!(periodic.csv_failing);
        write_final(&stats, &plan, &mut periodic);
        let json =
            std::fs::read_to_string(dir.path().join("new/deeper/stats.json")).expect("json file");
        assert!(json.starts_with('['), "{json}");
    }
}
