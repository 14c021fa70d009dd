//! Wait times: how long a simulated user pauses after each task.
//!
//! These mirror Locust's `locust.wait_time` functions (`between`, `constant`, `constant_pacing`,
//! `constant_throughput`, `poisson`) so that a Locust user finds the same vocabulary and the same
//! arithmetic. Pacing-based waits need per-user memory, which lives in [`WaitState`], owned by the
//! user loop.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::Rng;

/// A custom wait function: given the user's pacing memory, returns the pause in seconds.
pub type CustomWait = Arc<dyn Fn() -> f64 + Send + Sync>;

/// How long a user waits after each task (Locust's `wait_time`).
#[derive(Clone)]
pub enum WaitTime {
    /// A uniformly random pause in `[min, max)` seconds (`between(min, max)`).
    Between(f64, f64),
    /// The same pause every time (`constant(t)`).
    Constant(f64),
    /// Start one task every `t` seconds per user, whatever the task took (`constant_pacing(t)`).
    ConstantPacing(f64),
    /// At most `n` task runs per second per user (`constant_throughput(n)`).
    ConstantThroughput(f64),
    /// Exponentially distributed pauses with mean `1/rate` seconds (`poisson(rate)`).
    Poisson(f64),
    /// Any function returning seconds.
    Custom(CustomWait),
}

impl fmt::Debug for WaitTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WaitTime::Between(a, b) => write!(f, "between({a}, {b})"),
            WaitTime::Constant(t) => write!(f, "constant({t})"),
            WaitTime::ConstantPacing(t) => write!(f, "constant_pacing({t})"),
            WaitTime::ConstantThroughput(n) => write!(f, "constant_throughput({n})"),
            WaitTime::Poisson(r) => write!(f, "poisson({r})"),
            WaitTime::Custom(_) => write!(f, "custom"),
        }
    }
}

impl Default for WaitTime {
    /// Locust's default: no wait at all (`constant(0)`).
    fn default() -> Self {
        WaitTime::Constant(0.0)
    }
}

/// `between(min, max)`: a random pause in `[min, max)` seconds.
pub fn between(min: f64, max: f64) -> WaitTime {
    WaitTime::Between(min, max)
}

/// `constant(t)`: always `t` seconds.
pub fn constant(seconds: f64) -> WaitTime {
    WaitTime::Constant(seconds)
}

/// `constant_pacing(t)`: aim for one task start every `t` seconds.
pub fn constant_pacing(seconds: f64) -> WaitTime {
    WaitTime::ConstantPacing(seconds)
}

/// `constant_throughput(n)`: at most `n` task runs per second per user.
pub fn constant_throughput(task_runs_per_second: f64) -> WaitTime {
    WaitTime::ConstantThroughput(task_runs_per_second)
}

/// `poisson(rate)`: exponential pauses, `rate` task runs per second per user on average.
pub fn poisson(rate: f64) -> WaitTime {
    WaitTime::Poisson(rate)
}

impl WaitTime {
    /// Checks the parameters once, when a user class is registered, so a bad value fails at
    /// start rather than in the middle of a run.
    pub fn validate(&self) -> Result<(), String> {
        let ok = |v: f64| v.is_finite() && v >= 0.0;
        match *self {
            WaitTime::Between(a, b) if !(ok(a) && ok(b) && a <= b) => Err(format!(
                "between({a}, {b}): both bounds must be >= 0 and min <= max"
            )),
            WaitTime::Constant(t) | WaitTime::ConstantPacing(t) if !ok(t) => {
                Err(format!("wait time {t} must be a number >= 0"))
            }
            WaitTime::ConstantThroughput(n) if !(n.is_finite() && n > 0.0) => Err(format!(
                "constant_throughput({n}) requires a positive number of task runs per second"
            )),
            WaitTime::Poisson(r) if !(r.is_finite() && r > 0.0) => {
                Err(format!("poisson() requires a positive rate, got: {r}"))
            }
            _ => Ok(()),
        }
    }
}

/// Per-user memory for the pacing wait times (Locust keeps `_cp_last_run` and
/// `_cp_last_wait_time` on the user).
#[derive(Debug)]
pub struct WaitState {
    last_run: Instant,
    last_wait: f64,
}

impl Default for WaitState {
    fn default() -> Self {
        WaitState {
            last_run: Instant::now(),
            last_wait: 0.0,
        }
    }
}

impl WaitState {
    /// The pause to take now, after a task finished.
    pub fn next_wait(&mut self, wait: &WaitTime) -> Duration {
        let seconds = match wait {
            WaitTime::Between(min, max) => {
                if max > min {
                    min + rand::rng().random::<f64>() * (max - min)
                } else {
                    *min
                }
            }
            WaitTime::Constant(t) => *t,
            WaitTime::ConstantPacing(t) => self.pace(*t),
            WaitTime::ConstantThroughput(n) => self.pace(1.0 / n),
            WaitTime::Poisson(rate) => {
                // Inverse transform sampling of the exponential distribution.
                let u: f64 = rand::rng().random::<f64>();
                -(1.0 - u).ln() / rate
            }
            WaitTime::Custom(f) => f(),
        };
        if seconds.is_finite() && seconds > 0.0 {
            Duration::from_secs_f64(seconds)
        } else {
            Duration::ZERO
        }
    }

    fn pace(&mut self, period: f64) -> f64 {
        let now = Instant::now();
        let run_time = now.duration_since(self.last_run).as_secs_f64() - self.last_wait;
        self.last_wait = (period - run_time).max(0.0);
        self.last_run = now;
        self.last_wait
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn between_stays_in_range() {
        let mut st = WaitState::default();
        for _ in 0..1000 {
            let d = st.next_wait(&between(0.5, 1.5)).as_secs_f64();
            assert!((0.5..1.5).contains(&d), "{d}");
        }
    }

    #[test]
    fn constant_is_constant() {
        let mut st = WaitState::default();
        assert_eq!(st.next_wait(&constant(2.0)), Duration::from_secs(2));
        assert_eq!(st.next_wait(&constant(0.0)), Duration::ZERO);
    }

    #[test]
    fn pacing_subtracts_task_time() {
        let mut st = WaitState::default();
        // First call right after creation: the "task" took ~0 s, so nearly the whole period.
        let first = st.next_wait(&constant_pacing(1.0)).as_secs_f64();
        assert!(first > 0.9 && first <= 1.0, "{first}");
        // Pretend the wait happened and then a 300 ms task ran.
        st.last_run -= Duration::from_secs_f64(st.last_wait + 0.3);
        let second = st.next_wait(&constant_pacing(1.0)).as_secs_f64();
        assert!((second - 0.7).abs() < 0.05, "{second}");
        // A task longer than the period gives no wait.
        st.last_run -= Duration::from_secs_f64(st.last_wait + 2.0);
        assert_eq!(st.next_wait(&constant_pacing(1.0)), Duration::ZERO);
    }

    #[test]
    fn throughput_is_inverse_pacing() {
        let mut st = WaitState::default();
        let w = st.next_wait(&constant_throughput(4.0)).as_secs_f64();
        assert!(w > 0.2 && w <= 0.25, "{w}");
    }

    #[test]
    fn poisson_mean_matches_rate() {
        let mut st = WaitState::default();
        let n = 20_000;
        let total: f64 = (0..n)
            .map(|_| st.next_wait(&poisson(4.0)).as_secs_f64())
            .sum();
        let mean = total / n as f64;
        assert!((mean - 0.25).abs() < 0.02, "mean {mean}");
    }

    #[test]
    fn validation_rejects_bad_values() {
        assert!(between(2.0, 1.0).validate().is_err());
        assert!(poisson(0.0).validate().is_err());
        assert!(constant(-1.0).validate().is_err());
        assert!(constant_throughput(0.0).validate().is_err());
        assert!(between(1.0, 5.0).validate().is_ok());
    }
}
