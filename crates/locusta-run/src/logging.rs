//! Log lines that look like Locust's: `[2026-11-23 10:57:54,507] host/INFO/locusta.main: msg`.
//!
//! Users grep and parse these lines, and tools watch for "All users spawned", so the layout is
//! Locust's. Logs go to stderr, or to `--logfile`; `-L/--loglevel` filters them.

use std::fs::File;
use std::io::Write;
use std::path::Path;
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use log::{Level, LevelFilter, Log, Metadata, Record};

struct LocustLogger {
    hostname: String,
    level: LevelFilter,
    file: Option<Mutex<File>>,
}

impl Log for LocustLogger {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        metadata.level() <= self.level
    }

    fn log(&self, record: &Record<'_>) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let level = match record.level() {
            Level::Error => "ERROR",
            Level::Warn => "WARNING",
            Level::Info => "INFO",
            Level::Debug | Level::Trace => "DEBUG",
        };
        let target = record.target().replace("::", ".");
        let line = format!(
            "[{}] {}/{}/{}: {}\n",
            timestamp(SystemTime::now()),
            self.hostname,
            level,
            target,
            record.args()
        );
        remember(line.trim_end_matches('\n'));
        if locusta_otel::logs_enabled() {
            locusta_otel::emit_log(
                locusta_otel::levelno(record.level()),
                &target,
                &record.args().to_string(),
            );
        }
        match &self.file {
            Some(f) => {
                if let Ok(mut f) = f.lock() {
                    let _ = f.write_all(line.as_bytes());
                }
            }
            None => {
                crate::live::note_stderr_write();
                let _ = std::io::stderr().lock().write_all(line.as_bytes());
            }
        }
    }

    fn flush(&self) {
        if let Some(f) = &self.file {
            if let Ok(mut f) = f.lock() {
                let _ = f.flush();
            }
        }
    }
}

/// Lines the web UI's Logs tab shows (Locust keeps the last 500 too).
const RECENT_LINES: usize = 500;
static RECENT: Mutex<std::collections::VecDeque<String>> =
    Mutex::new(std::collections::VecDeque::new());

/// Keeps a line for the web UI's Logs tab (the Python runner passes its own log lines here).
pub fn remember(line: &str) {
    let mut recent = locusta_util::lock(&RECENT);
    if recent.len() >= RECENT_LINES {
        recent.pop_front();
    }
    recent.push_back(line.to_owned());
}

/// The most recent log lines, oldest first (the web UI's `/logs`).
pub fn recent_lines() -> Vec<String> {
    let recent = locusta_util::lock(&RECENT);
    recent.iter().cloned().collect()
}

/// Parses Locust's level names (case-insensitive).
pub fn parse_level(name: &str) -> Result<LevelFilter, String> {
    match name.to_ascii_uppercase().as_str() {
        "DEBUG" => Ok(LevelFilter::Debug),
        "INFO" => Ok(LevelFilter::Info),
        "WARNING" | "WARN" => Ok(LevelFilter::Warn),
        "ERROR" | "CRITICAL" => Ok(LevelFilter::Error),
        other => Err(format!(
            "invalid log level '{other}': use DEBUG, INFO, WARNING, ERROR or CRITICAL"
        )),
    }
}

/// Installs the logger for the process. A second call (a program running several tests) keeps
/// the first logger and only adjusts the level.
pub fn init(level: &str, logfile: Option<&Path>) -> Result<(), String> {
    let level = parse_level(level)?;
    let file = match logfile {
        Some(path) => {
            Some(Mutex::new(File::create(path).map_err(|e| {
                format!("cannot open log file {}: {e}", path.display())
            })?))
        }
        None => None,
    };
    let logger = LocustLogger {
        hostname: locusta_util::hostname(),
        level,
        file,
    };
    // Already installed: keep it (the log crate allows one logger per process).
    let _ = log::set_boxed_logger(Box::new(logger));
    log::set_max_level(level);
    Ok(())
}

/// Local time as `YYYY-MM-DD HH:MM:SS,mmm`, like Python's logging.
fn timestamp(now: SystemTime) -> String {
    let since = now.duration_since(UNIX_EPOCH).unwrap_or_default();
    let Some(t) = locusta_util::LocalTime::at(since.as_secs() as f64) else {
        return format!("{}", since.as_secs());
    };
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02},{:03}",
        t.year,
        t.month,
        t.day,
        t.hour,
        t.minute,
        t.second,
        since.subsec_millis()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_parse_case_insensitively() {
        assert_eq!(parse_level("debug"), Ok(LevelFilter::Debug));
        assert_eq!(parse_level("Warning"), Ok(LevelFilter::Warn));
        assert!(parse_level("loud").is_err());
    }

    #[test]
    fn timestamp_has_python_layout() {
        let ts = timestamp(SystemTime::now());
        assert_eq!(ts.len(), 23, "{ts}");
        assert_eq!(&ts[19..20], ",");
    }
}
