//! The live view of a headless run in an interactive terminal: one status line (users, RPS,
//! failures, p95 of the last 10 s, time elapsed and left) above the current statistics table,
//! redrawn in place every second.
//!
//! Locust prints a new table every 2 s, which scrolls the terminal; in CI logs that is what
//! people want, so the live view is used only when stderr is a terminal (and `TERM` is not
//! `dumb`); otherwise the plain periodic tables stay. When anything else was written to stderr
//! since the last draw (a log line), the block is drawn below it instead of over it.

use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use locusta_stats::Aggregate;

/// Incremented by the logger on every line it writes to stderr.
pub static STDERR_WRITES: AtomicU64 = AtomicU64::new(0);

/// Something other than the live view wrote to stderr (a log line of the Rust logger or of
/// Python's): the next draw goes below it instead of over it.
pub fn note_stderr_write() {
    STDERR_WRITES.fetch_add(1, Ordering::Relaxed);
}

/// Whether stderr is an interactive terminal that can redraw.
pub fn stderr_is_live() -> bool {
    std::io::stderr().is_terminal() && std::env::var("TERM").map_or(true, |t| t != "dumb")
}

/// Redraws a block of text in place.
#[derive(Default)]
pub struct LiveView {
    lines: usize,
    writes_seen: u64,
}

fn clock(d: Duration) -> String {
    let s = d.as_secs();
    format!("{}:{:02}:{:02}", s / 3600, (s / 60) % 60, s % 60)
}

/// The status line: users, RPS, failures, p95 over the last 10 s, elapsed and left.
pub fn status_line(
    agg: &Aggregate,
    users: u64,
    target: u64,
    elapsed: Duration,
    run_time: Option<Duration>,
) -> String {
    let t = agg.total();
    let p95 = t
        .current_percentile(0.95)
        .map_or("-".to_string(), |v| format!("{v:.0} ms"));
    let left = match run_time {
        Some(rt) => format!(", {} left", clock(rt.saturating_sub(elapsed))),
        None => String::new(),
    };
    format!(
        "users {users}/{target} | {:.1} RPS | failures {:.2}% ({}) | p95 (10 s) {p95} | {} elapsed{left}\n",
        t.current_rps(),
        t.fail_ratio() * 100.0,
        t.num_failures(),
        clock(elapsed),
    )
}

impl LiveView {
    /// Draws `text` over the previous block (or below other output written since).
    pub fn draw(&mut self, text: &str) {
        let mut err = std::io::stderr().lock();
        let writes = STDERR_WRITES.load(Ordering::Relaxed);
        if self.lines > 0 && writes == self.writes_seen {
            let _ = write!(err, "\x1b[{}F\x1b[J", self.lines);
        }
        let _ = err.write_all(text.as_bytes());
        let _ = err.flush();
        self.lines = text.matches('\n').count();
        self.writes_seen = writes;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use locusta_stats::{StatsHub, StatsLimits};

    #[test]
    fn status_line_shows_the_figures() {
        let hub = StatsHub::new(StatsLimits::default());
        let line = hub.read(|agg| {
            status_line(
                agg,
                3,
                10,
                Duration::from_secs(65),
                Some(Duration::from_secs(120)),
            )
        });
        assert!(
            line.starts_with("users 3/10 | 0.0 RPS | failures 0.00% (0)"),
            "{line}"
        );
        assert!(line.contains("0:01:05 elapsed, 0:00:55 left"), "{line}");
    }
}
