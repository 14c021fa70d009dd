//! When users start: [`Ramp`] turns a spawn rate into how many users should have been started
//! or stopped by a given instant, spreading them evenly instead of in one burst per second.
//! Which class each user has is Locust's dispatcher order, [`UserSequence`] (in `locusta-dist`,
//! which a master shares).

use std::time::Duration;

pub use locusta_dist::order::{ClassSlot, UserSequence};

/// Paces a ramp from `from` to `to` users at `rate` users per second.
#[derive(Debug, Clone)]
pub struct Ramp {
    from: u64,
    to: u64,
    rate: f64,
}

impl Ramp {
    /// A ramp; `rate` must be > 0 (validated at the command line).
    pub fn new(from: u64, to: u64, rate: f64) -> Self {
        Ramp { from, to, rate }
    }

    /// The user count the ramp should have reached `elapsed` after it began. The first user
    /// changes at once, then one every `1/rate` seconds.
    pub fn target_at(&self, elapsed: Duration) -> u64 {
        let steps = if self.rate.is_finite() && self.rate > 0.0 {
            (elapsed.as_secs_f64() * self.rate).floor() as u64 + 1
        } else {
            u64::MAX
        };
        if self.to >= self.from {
            self.from.saturating_add(steps).min(self.to)
        } else {
            self.from.saturating_sub(steps).max(self.to)
        }
    }

    /// True once the ramp has reached its target at `elapsed`.
    pub fn done_at(&self, elapsed: Duration) -> bool {
        self.target_at(elapsed) == self.to
    }

    /// The final user count.
    pub fn to(&self) -> u64 {
        self.to
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ramp_spreads_users_over_time() {
        let r = Ramp::new(0, 10, 2.0);
        assert_eq!(r.target_at(Duration::ZERO), 1);
        assert_eq!(r.target_at(Duration::from_millis(499)), 1);
        assert_eq!(r.target_at(Duration::from_millis(500)), 2);
        assert_eq!(r.target_at(Duration::from_secs(4)), 9);
        assert_eq!(r.target_at(Duration::from_secs(100)), 10);
        assert!(r.done_at(Duration::from_secs(5)));
        let down = Ramp::new(10, 4, 1.0);
        assert_eq!(down.target_at(Duration::ZERO), 9);
        assert_eq!(down.target_at(Duration::from_secs(60)), 4);
        let fast = Ramp::new(0, 1000, 0.5);
        assert_eq!(fast.target_at(Duration::from_secs(3)), 2);
    }
}
