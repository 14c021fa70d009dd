//! Load shapes: a user-defined curve of user count and spawn rate over time.
//!
//! Locust's `LoadTestShape.tick()` is called about once a second and returns
//! `(user_count, spawn_rate)`, optionally with the user classes to run, or `None` to end the test.
//! A shape takes over from `-u`, `-r` and `-t`.

use std::time::Duration;

/// One answer of a shape's tick.
#[derive(Debug, Clone, PartialEq)]
pub struct ShapeTick {
    /// Users to run.
    pub users: u64,
    /// Users started (or stopped) per second to get there.
    pub spawn_rate: f64,
    /// Restrict the next ramp to these classes (Locust's 3-tuple form); `None` keeps all.
    pub classes: Option<Vec<String>>,
}

impl ShapeTick {
    /// `(users, spawn_rate)` with every class.
    pub fn new(users: u64, spawn_rate: f64) -> Self {
        ShapeTick {
            users,
            spawn_rate,
            classes: None,
        }
    }
}

/// A load shape (Locust's `LoadTestShape`).
pub trait LoadShape: Send {
    /// Called about once a second. `run_time` is the time since the test started and
    /// `user_count` the users running now. `None` ends the test.
    fn tick(&mut self, run_time: Duration, user_count: u64) -> Option<ShapeTick>;

    /// Open model (locusta addition): the arrival rate in iterations per second at `run_time`,
    /// or `None` (the default) for Locust's closed model. With a rate, the tick's users are the
    /// pool that runs the iterations.
    fn arrival_rate(&mut self, _run_time: Duration) -> Option<f64> {
        None
    }

    /// The shape's name, as the web UI shows it.
    fn name(&self) -> String {
        "LoadTestShape".to_owned()
    }

    /// A test starts (again, from the web UI): a shape that keeps its own clock restarts it
    /// (Locust's `reset_time`). The default does nothing: `tick` gets the time since the start.
    fn reset(&mut self) {}
}

/// A k6-style list of stages: each holds `users` at `spawn_rate` until `until` has elapsed
/// since the start; after the last stage the test ends.
#[derive(Debug, Clone)]
pub struct Stages {
    stages: Vec<(Duration, ShapeTick)>,
}

impl Stages {
    /// Stages as `(end time, users, spawn rate)`, in order.
    pub fn new(stages: impl IntoIterator<Item = (Duration, u64, f64)>) -> Self {
        Stages {
            stages: stages
                .into_iter()
                .map(|(until, users, rate)| (until, ShapeTick::new(users, rate)))
                .collect(),
        }
    }
}

impl LoadShape for Stages {
    fn name(&self) -> String {
        "Stages".to_owned()
    }

    fn tick(&mut self, run_time: Duration, _user_count: u64) -> Option<ShapeTick> {
        self.stages
            .iter()
            .find(|(until, _)| run_time < *until)
            .map(|(_, tick)| tick.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stages_follow_time_then_stop() {
        let mut s = Stages::new([
            (Duration::from_secs(10), 5, 1.0),
            (Duration::from_secs(20), 20, 5.0),
        ]);
        assert_eq!(
            s.tick(Duration::from_secs(0), 0),
            Some(ShapeTick::new(5, 1.0))
        );
        assert_eq!(
            s.tick(Duration::from_secs(15), 5),
            Some(ShapeTick::new(20, 5.0))
        );
        assert_eq!(s.tick(Duration::from_secs(20), 20), None);
    }
}
