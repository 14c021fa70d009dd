//! This process's CPU and memory use, as Locust's heartbeats report them
//! (`current_cpu_usage` in percent of one core, `current_memory_usage` in bytes).

use std::time::Instant;

/// Samples the process's CPU time between calls.
pub struct CpuMeter {
    last_ticks: Option<u64>,
    last_at: Instant,
    percent: f64,
}

fn ticks_per_sec() -> f64 {
    // SAFETY: sysconf only reads a configuration value.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 {
        t as f64
    } else {
        100.0
    }
}

/// utime + stime of this process, in clock ticks.
fn cpu_ticks() -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The command name may contain spaces; fields after the closing parenthesis are fixed.
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // state is fields[0]; utime is field 14 of the whole line, i.e. fields[11] here.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(utime + stime)
}

/// Resident memory of this process in bytes.
pub fn memory_bytes() -> u64 {
    let Ok(statm) = std::fs::read_to_string("/proc/self/statm") else {
        return 0;
    };
    let rss: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    // SAFETY: sysconf only reads a configuration value.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    rss * page.max(4096) as u64
}

impl Default for CpuMeter {
    fn default() -> Self {
        CpuMeter::new()
    }
}

impl CpuMeter {
    /// Starts measuring now.
    pub fn new() -> CpuMeter {
        CpuMeter {
            last_ticks: cpu_ticks(),
            last_at: Instant::now(),
            percent: 0.0,
        }
    }

    /// CPU use since the previous call (at least one second apart; otherwise the last value).
    pub fn percent(&mut self) -> f64 {
        let now = Instant::now();
        let dt = now.duration_since(self.last_at).as_secs_f64();
        if dt >= 1.0 {
            let ticks = cpu_ticks();
            if let (Some(a), Some(b)) = (self.last_ticks, ticks) {
                self.percent = (b.saturating_sub(a) as f64 / ticks_per_sec()) / dt * 100.0;
            }
            self.last_ticks = ticks;
            self.last_at = now;
        }
        self.percent
    }
}

/// This machine's host name (the part of a node id before the first `_`).
pub use locusta_util::hostname;

/// A new node id, as Locust makes them: `hostname_<32 hex digits>`.
pub fn new_node_id() -> String {
    let a: u128 = rand::random();
    format!("{}_{a:032x}", hostname())
}
