//! The open model (`--arrival-rate`): iterations start on a schedule, whatever the response
//! times, like wrk2 and k6's arrival-rate executors.
//!
//! In Locust's closed model a user waits for its response before its next task, so when the
//! target stalls the load generator slows down with it and the stall is hidden from the
//! latency figures ("coordinated omission"). Here the users form a pool (`-u` is its size):
//! iteration `k` is due at a time fixed by the arrival rate, a free user claims the next due
//! slot (at most [`CLAIM_AHEAD`] before it is due), sleeps until it and runs one task (no wait
//! time). When every user is busy the slot is claimed late; the iteration still runs, and the
//! delay between its due time and its start is added to the response time of each request it
//! makes, so latency is measured from the intended start. Iterations starting more than [`LATE_AFTER`] after their due time are
//! counted as late ("could not start on time").

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// An iteration that starts more than this after its due time is late.
pub const LATE_AFTER: Duration = Duration::from_millis(10);
/// How far ahead of its due time a slot can be claimed. Claimed slots keep their times, so
/// without a bound a pool of free users would claim `users / rate` seconds of slots at the old
/// rate, and a ramp (or a shape) would reach the users that long after it was asked for.
pub const CLAIM_AHEAD: Duration = Duration::from_millis(500);

struct Schedule {
    /// Due time of the next unclaimed slot.
    next: Instant,
    /// Iterations per second now.
    rate: f64,
}

/// The shared arrival schedule and its counters.
pub struct Arrivals {
    schedule: Mutex<Schedule>,
    started: AtomicU64,
    late: AtomicU64,
    max_lag_us: AtomicU64,
    total_lag_us: AtomicU64,
}

/// Counters of the open model.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ArrivalStats {
    /// Iterations started.
    pub started: u64,
    /// Of these, started more than [`LATE_AFTER`] after their due time.
    pub late: u64,
    /// Largest start delay, seconds.
    pub max_lag_s: f64,
    /// Mean start delay, seconds.
    pub mean_lag_s: f64,
}

impl Arrivals {
    /// A schedule at `rate` iterations per second, starting now.
    pub fn new(rate: f64) -> Arrivals {
        Arrivals {
            schedule: Mutex::new(Schedule {
                next: Instant::now(),
                rate: rate.max(0.0),
            }),
            started: AtomicU64::new(0),
            late: AtomicU64::new(0),
            max_lag_us: AtomicU64::new(0),
            total_lag_us: AtomicU64::new(0),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Schedule> {
        locusta_util::lock(&self.schedule)
    }

    /// A test starts: the schedule begins now at `rate`, and the counters start from zero.
    pub fn restart(&self, rate: f64) {
        {
            let mut s = self.lock();
            s.next = Instant::now();
            s.rate = rate.max(0.0);
        }
        for counter in [
            &self.started,
            &self.late,
            &self.max_lag_us,
            &self.total_lag_us,
        ] {
            counter.store(0, Ordering::Relaxed);
        }
    }

    /// Changes the rate from now on (slots already claimed keep their times).
    pub fn set_rate(&self, rate: f64) {
        let mut s = self.lock();
        let now = Instant::now();
        if s.rate <= 0.0 && rate > 0.0 && s.next < now {
            // Nothing was due while the rate was zero.
            s.next = now;
        }
        s.rate = rate.max(0.0);
    }

    /// The rate now.
    pub fn rate(&self) -> f64 {
        self.lock().rate
    }

    /// Claims the next due slot: its due time, or `None` while the rate is zero or the next slot
    /// is more than [`CLAIM_AHEAD`] away (try again a little later: free users poll).
    pub fn claim(&self) -> Option<Instant> {
        let mut s = self.lock();
        if s.rate <= 0.0 || s.next > Instant::now() + CLAIM_AHEAD {
            return None;
        }
        let due = s.next;
        s.next = due + Duration::from_secs_f64(1.0 / s.rate);
        Some(due)
    }

    /// Records that an iteration due at `due` started now; returns the start delay.
    pub fn started(&self, due: Instant) -> Duration {
        let lag = Instant::now().saturating_duration_since(due);
        self.started.fetch_add(1, Ordering::Relaxed);
        let us = lag.as_micros() as u64;
        self.total_lag_us.fetch_add(us, Ordering::Relaxed);
        self.max_lag_us.fetch_max(us, Ordering::Relaxed);
        if lag > LATE_AFTER {
            self.late.fetch_add(1, Ordering::Relaxed);
        }
        lag
    }

    /// The counters so far.
    pub fn stats(&self) -> ArrivalStats {
        let started = self.started.load(Ordering::Relaxed);
        ArrivalStats {
            started,
            late: self.late.load(Ordering::Relaxed),
            max_lag_s: self.max_lag_us.load(Ordering::Relaxed) as f64 / 1e6,
            mean_lag_s: self.total_lag_us.load(Ordering::Relaxed) as f64
                / 1e6
                / started.max(1) as f64,
        }
    }
}

/// `--arrival-rate`: `RATE` (constant) or `FROM:TO` (linear ramp over the run time).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ArrivalPlan {
    /// Rate at the start, iterations per second.
    pub from: f64,
    /// Rate at the end of the run time.
    pub to: f64,
}

impl ArrivalPlan {
    /// Parses `100` or `10:200`.
    pub fn parse(text: &str) -> Result<ArrivalPlan, String> {
        let num = |s: &str| -> Result<f64, String> {
            s.trim()
                .parse::<f64>()
                .ok()
                .filter(|v| v.is_finite() && *v >= 0.0)
                .ok_or_else(|| {
                    format!(
                        "invalid --arrival-rate '{text}': '{}' is not a rate (iterations per second); use RATE or FROM:TO, e.g. 50 or 10:200",
                        s.trim()
                    )
                })
        };
        let (from, to) = match text.split_once(':') {
            Some((a, b)) => (num(a)?, num(b)?),
            None => {
                let v = num(text)?;
                (v, v)
            }
        };
        if from == 0.0 && to == 0.0 {
            return Err(format!(
                "invalid --arrival-rate '{text}': the rate must be above 0"
            ));
        }
        Ok(ArrivalPlan { from, to })
    }

    /// The rate `elapsed` into a run of `run_time` (constant without a run time).
    pub fn rate_at(&self, elapsed: Duration, run_time: Option<Duration>) -> f64 {
        match run_time {
            Some(rt) if !rt.is_zero() => {
                let f = (elapsed.as_secs_f64() / rt.as_secs_f64()).clamp(0.0, 1.0);
                self.from + (self.to - self.from) * f
            }
            _ => self.from,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plans_parse_and_ramp() {
        assert_eq!(
            ArrivalPlan::parse("50").unwrap(),
            ArrivalPlan {
                from: 50.0,
                to: 50.0
            }
        );
        let p = ArrivalPlan::parse("10:110").unwrap();
        let rt = Some(Duration::from_secs(10));
        assert_eq!(p.rate_at(Duration::from_secs(5), rt), 60.0);
        assert_eq!(p.rate_at(Duration::from_secs(50), rt), 110.0);
        for bad in ["", "fast", "-1", "0", "1:x", "NaN"] {
            assert!(
                ArrivalPlan::parse(bad)
                    .unwrap_err()
                    .contains("--arrival-rate"),
                "{bad}"
            );
        }
    }

    #[test]
    fn slots_follow_the_rate_and_lateness_is_counted() {
        let a = Arrivals::new(100.0);
        let t0 = a.claim().unwrap();
        let t1 = a.claim().unwrap();
        assert_eq!(t1 - t0, Duration::from_millis(10));
        a.set_rate(0.0);
        assert!(a.claim().is_none());
        let lag = a.started(Instant::now() - Duration::from_millis(50));
        assert!(lag >= Duration::from_millis(50));
        a.started(Instant::now() + Duration::from_millis(5));
        let s = a.stats();
        assert_eq!((s.started, s.late), (2, 1));
        assert!(s.max_lag_s >= 0.05);
    }

    #[test]
    fn free_users_claim_at_most_half_a_second_ahead_so_a_new_rate_applies_at_once() {
        // 1000 free users at 10/s claim about half a second of slots, not 100 s of them.
        let a = Arrivals::new(10.0);
        let claimed = (0..1000).filter_map(|_| a.claim()).count();
        assert!((5..=7).contains(&claimed), "{claimed}");
        // A rate ten times higher is followed from the end of that half second (claimable a
        // little later).
        a.set_rate(100.0);
        std::thread::sleep(Duration::from_millis(250));
        let start = Instant::now();
        let slots: Vec<Instant> = (0..1000).filter_map(|_| a.claim()).collect();
        assert!(slots.len() >= 2, "{}", slots.len());
        assert!(slots[0] <= start + CLAIM_AHEAD);
        assert_eq!(slots[1] - slots[0], Duration::from_millis(10));
    }
}
