//! Small helpers that several locusta crates need, kept in one place instead of a copy per
//! crate: a mutex lock that survives a poisoned mutex, the wall clock as unix seconds, local
//! time (for log lines and Locust's file names), the host name, Locust's wording of user
//! counts per class, and printing to a standard output that may have been closed.

use std::sync::{Mutex, MutexGuard};
use std::time::{SystemTime, UNIX_EPOCH};

/// Writes `text` to standard output. A closed output (`locusta --help | head -3`) or any other
/// write error is not a failure of the command: the reader has what it wanted, and `print!`
/// would panic.
pub fn print_stdout(text: &str) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes()).and_then(|()| out.flush());
}

/// Locks `m`, carrying on when another thread panicked while holding it: everything locusta
/// keeps behind a mutex is plain data (counters, queues, snapshots) that stays usable, and a
/// load test should not die with a second panic because of the first.
pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The wall clock as unix seconds (0.0 if the clock is before 1970).
pub fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// A moment in the machine's local time zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LocalTime {
    /// Full year, e.g. 2026.
    pub year: i32,
    /// 1 to 12.
    pub month: u32,
    /// 1 to 31.
    pub day: u32,
    /// 0 to 23.
    pub hour: u32,
    /// 0 to 59.
    pub minute: u32,
    /// 0 to 60 (a leap second).
    pub second: u32,
}

impl LocalTime {
    /// `unix` seconds in local time, or `None` when the C library cannot convert it.
    pub fn at(unix: f64) -> Option<LocalTime> {
        let secs = unix.floor() as libc::time_t;
        // SAFETY: tm is plain data; localtime_r only writes into the struct we pass.
        let mut tm: libc::tm = unsafe { std::mem::zeroed() };
        if unsafe { libc::localtime_r(&secs, &mut tm) }.is_null() {
            return None;
        }
        Some(LocalTime {
            year: tm.tm_year + 1900,
            month: (tm.tm_mon + 1) as u32,
            day: tm.tm_mday as u32,
            hour: tm.tm_hour as u32,
            minute: tm.tm_min as u32,
            second: tm.tm_sec as u32,
        })
    }

    /// Locust's `format_safe_timestamp` (`YYYY-MM-DD-HHhMM`), used in report and CSV download
    /// names.
    pub fn safe_stamp(&self) -> String {
        format!(
            "{:04}-{:02}-{:02}-{:02}h{:02}",
            self.year, self.month, self.day, self.hour, self.minute
        )
    }
}

/// Locust's `format_safe_timestamp` of `unix` seconds, or the whole seconds when local time is
/// unavailable.
pub fn safe_timestamp(unix: f64) -> String {
    LocalTime::at(unix).map_or_else(|| format!("{}", unix as i64), |t| t.safe_stamp())
}

/// This machine's host name (`localhost` when it has none or it cannot be read).
pub fn hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is valid for its length; gethostname NUL-terminates on success.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if rc != 0 {
        return "localhost".into();
    }
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    let name = String::from_utf8_lossy(&buf[..end]).into_owned();
    if name.is_empty() {
        "localhost".into()
    } else {
        name
    }
}

/// Users per class as Locust logs them: `{"A": 2, "B": 1} (3 total users)`, classes sorted by
/// name.
pub fn format_class_counts(counts: &[(String, u64)]) -> String {
    let mut sorted: Vec<&(String, u64)> = counts.iter().collect();
    sorted.sort_by(|a, b| a.0.cmp(&b.0));
    let parts: Vec<String> = sorted
        .iter()
        .map(|(name, n)| format!("\"{name}\": {n}"))
        .collect();
    let total: u64 = counts.iter().map(|(_, n)| n).sum();
    format!("{{{}}} ({total} total users)", parts.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn class_counts_read_like_locust() {
        let counts = vec![("WebsiteUser".to_string(), 2), ("Other".to_string(), 1)];
        assert_eq!(
            format_class_counts(&counts),
            "{\"Other\": 1, \"WebsiteUser\": 2} (3 total users)"
        );
        assert_eq!(format_class_counts(&[]), "{} (0 total users)");
    }

    #[test]
    fn a_poisoned_lock_still_opens() {
        let m = std::sync::Arc::new(Mutex::new(1));
        let m2 = std::sync::Arc::clone(&m);
        let _ = std::thread::spawn(move || {
            let _g = m2.lock().expect("first lock");
            panic!("poison it");
        })
        .join();
        assert!(m.is_poisoned());
        *lock(&m) += 1;
        assert_eq!(*lock(&m), 2);
    }

    #[test]
    fn local_time_is_a_calendar_date() {
        let t = LocalTime::at(1_700_000_000.0).expect("local time");
        assert!((2023..=2023).contains(&t.year), "{t:?}");
        assert!((1..=12).contains(&t.month) && (1..=31).contains(&t.day));
        assert_eq!(
            safe_timestamp(1_700_000_000.0).len(),
            "2023-11-14-22h13".len()
        );
        assert!(!hostname().is_empty());
    }
}
