//! Chart history kept by the server, so charts survive a page reload and a late-opened tab.
//!
//! Every two seconds while a test runs (Locust's `HISTORY_STATS_INTERVAL_SEC`), the recorder
//! appends one point for the Aggregated row and one for each of the first [`MAX_TRACKED`]
//! endpoints. A series never grows past [`MAX_POINTS`]: the newest half stays at full
//! resolution, and older points are merged (weighted means) into evenly spaced coarser points
//! whose span doubles whenever they fill their half, so a 24-hour run keeps recent detail and
//! an even view of the past at a fixed memory and payload size.

use std::collections::HashMap;
use std::sync::Mutex;

use locusta_stats::Aggregate;
use serde_json::{json, Map, Value};

use crate::control::lock;

/// Most points one series holds.
pub const MAX_POINTS: usize = 2000;
/// Endpoints with their own history (the first ones seen); the Aggregated row always has one.
pub const MAX_TRACKED: usize = 200;
/// Percentiles kept for the Aggregated row (the chart's chooser offers these).
pub const TOTAL_PERCENTILES: [f64; 6] = [0.5, 0.75, 0.9, 0.95, 0.99, 0.999];
/// Percentiles kept per endpoint.
pub const ENDPOINT_PERCENTILES: [f64; 3] = [0.5, 0.95, 0.99];

/// One point: its time and values, and how many raw points it stands for.
#[derive(Debug, Clone)]
struct Point {
    time: f64,
    values: Vec<Option<f64>>,
    weight: u32,
}

impl Point {
    /// Folds `other` (later) into `self`: the later time, weighted means of the values.
    fn absorb(&mut self, other: &Point) {
        let (wa, wb) = (f64::from(self.weight), f64::from(other.weight));
        for (a, b) in self.values.iter_mut().zip(&other.values) {
            *a = match (*a, *b) {
                (Some(x), Some(y)) => Some((x * wa + y * wb) / (wa + wb)),
                (x, y) => x.or(y),
            };
        }
        self.time = other.time;
        self.weight += other.weight;
    }
}

/// One series: the recent points at full resolution, older ones merged to an even coarser
/// step (`stride` raw points each) so that the whole series stays under [`MAX_POINTS`].
#[derive(Debug, Default, Clone)]
struct Series {
    names: Vec<String>,
    recent: std::collections::VecDeque<Point>,
    old: Vec<Point>,
    /// Raw points per old point.
    stride: u32,
    /// An old point still collecting raw points.
    pending: Option<Point>,
}

const RECENT_POINTS: usize = MAX_POINTS / 2;
const OLD_POINTS: usize = MAX_POINTS / 2 - 1;

impl Series {
    fn with_columns(names: &[String]) -> Series {
        Series {
            names: names.to_vec(),
            stride: 2,
            ..Series::default()
        }
    }

    fn push(&mut self, time: f64, values: &[Option<f64>]) {
        self.recent.push_back(Point {
            time,
            values: values.to_vec(),
            weight: 1,
        });
        if self.recent.len() > RECENT_POINTS {
            if let Some(p) = self.recent.pop_front() {
                self.age(p);
            }
        }
    }

    /// Moves a point out of the recent window into the coarse past.
    fn age(&mut self, p: Point) {
        match self.pending.as_mut() {
            Some(acc) => acc.absorb(&p),
            None => self.pending = Some(p),
        }
        if self
            .pending
            .as_ref()
            .is_some_and(|acc| acc.weight >= self.stride)
        {
            if let Some(acc) = self.pending.take() {
                self.old.push(acc);
            }
        }
        if self.old.len() > OLD_POINTS {
            let mut merged = Vec::with_capacity(self.old.len() / 2 + 1);
            let mut it = self.old.drain(..);
            while let Some(mut a) = it.next() {
                if let Some(b) = it.next() {
                    a.absorb(&b);
                }
                merged.push(a);
            }
            drop(it);
            self.old = merged;
            self.stride = self.stride.saturating_mul(2);
        }
    }

    fn points(&self) -> impl Iterator<Item = &Point> {
        self.old
            .iter()
            .chain(self.pending.iter())
            .chain(self.recent.iter())
    }

    fn len(&self) -> usize {
        self.old.len() + usize::from(self.pending.is_some()) + self.recent.len()
    }

    fn to_json(&self) -> Value {
        let mut m = Map::new();
        m.insert(
            "time".into(),
            json!(self.points().map(|p| p.time).collect::<Vec<_>>()),
        );
        for (i, name) in self.names.iter().enumerate() {
            let col: Vec<Option<f64>> = self
                .points()
                .map(|p| p.values.get(i).copied().flatten())
                .collect();
            m.insert(name.clone(), json!(col));
        }
        Value::Object(m)
    }
}

fn pct_key(p: f64) -> String {
    format!("response_time_percentile_{p}")
}

fn total_columns() -> Vec<String> {
    let mut v = vec![
        "user_count".to_owned(),
        "current_rps".to_owned(),
        "current_fail_per_sec".to_owned(),
        "total_avg_response_time".to_owned(),
    ];
    v.extend(TOTAL_PERCENTILES.iter().map(|p| pct_key(*p)));
    v
}

fn endpoint_columns() -> Vec<String> {
    let mut v = vec!["current_rps".to_owned(), "current_fail_per_sec".to_owned()];
    v.extend(ENDPOINT_PERCENTILES.iter().map(|p| pct_key(*p)));
    v
}

#[derive(Debug, Default)]
struct Inner {
    total: Option<Series>,
    endpoints: HashMap<(String, String), Series>,
}

/// The chart history of one run.
#[derive(Debug, Default)]
pub struct History {
    inner: Mutex<Inner>,
}

impl History {
    /// An empty history.
    pub fn new() -> History {
        History::default()
    }

    /// Forgets every point (a new test, or a stats reset).
    pub fn clear(&self) {
        let mut inner = lock(&self.inner);
        inner.total = None;
        inner.endpoints.clear();
    }

    /// Appends a point taken from the merged statistics at unix time `now`.
    pub fn record(&self, agg: &Aggregate, user_count: u64, now: f64) {
        let total = agg.total();
        let mut values = vec![
            Some(user_count as f64),
            Some(total.current_rps()),
            Some(total.current_fail_per_sec()),
            Some((total.avg_response_time() * 100.0).round() / 100.0),
        ];
        match total.current_percentiles_at(&TOTAL_PERCENTILES, now) {
            Some(ps) => values.extend(ps.into_iter().map(Some)),
            None => values.extend(TOTAL_PERCENTILES.iter().map(|_| Some(0.0))),
        }
        let mut inner = lock(&self.inner);
        inner
            .total
            .get_or_insert_with(|| Series::with_columns(&total_columns()))
            .push(now, &values);
        for e in agg.entries_in_creation_order() {
            let key = (e.method().to_owned(), e.name().to_owned());
            if !inner.endpoints.contains_key(&key) && inner.endpoints.len() >= MAX_TRACKED {
                continue;
            }
            let mut values = vec![Some(e.current_rps()), Some(e.current_fail_per_sec())];
            match e.current_percentiles_at(&ENDPOINT_PERCENTILES, now) {
                Some(ps) => values.extend(ps.into_iter().map(Some)),
                None => values.extend(ENDPOINT_PERCENTILES.iter().map(|_| None)),
            }
            inner
                .endpoints
                .entry(key)
                .or_insert_with(|| Series::with_columns(&endpoint_columns()))
                .push(now, &values);
        }
    }

    /// The Aggregated series as columns (`time`, `user_count`, `current_rps`, ...).
    pub fn total_json(&self) -> Value {
        let inner = lock(&self.inner);
        match &inner.total {
            Some(s) => s.to_json(),
            None => Series::with_columns(&total_columns()).to_json(),
        }
    }

    /// One endpoint's series, or `None` when it has no history (unknown or beyond
    /// [`MAX_TRACKED`]).
    pub fn endpoint_json(&self, method: &str, name: &str) -> Option<Value> {
        let inner = lock(&self.inner);
        inner
            .endpoints
            .get(&(method.to_owned(), name.to_owned()))
            .map(Series::to_json)
    }

    /// Number of points in the Aggregated series.
    pub fn len(&self) -> usize {
        lock(&self.inner).total.as_ref().map_or(0, Series::len)
    }

    /// True when nothing was recorded yet.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn column(s: &Series, i: usize) -> Vec<f64> {
        s.points()
            .map(|p| p.values[i].unwrap_or(f64::NAN))
            .collect()
    }

    #[test]
    fn a_day_of_points_stays_bounded_recent_exact_old_even() {
        let mut s = Series::with_columns(&["v".to_owned()]);
        let n = 43_200; // a day at one point per two seconds
        for i in 0..n {
            s.push(i as f64, &[Some(i as f64)]);
        }
        assert!(s.len() <= MAX_POINTS, "{}", s.len());
        let times: Vec<f64> = s.points().map(|p| p.time).collect();
        assert!(times.windows(2).all(|w| w[0] < w[1]));
        // Every raw point is accounted for.
        assert_eq!(s.points().map(|p| p.weight as usize).sum::<usize>(), n);
        // The newest RECENT_POINTS are exact.
        let v = column(&s, 0);
        assert_eq!(*v.last().unwrap(), (n - 1) as f64);
        assert_eq!(s.recent.len(), RECENT_POINTS);
        assert!(s.recent.iter().all(|p| p.weight == 1));
        // Old points all cover the same span (except the one still collecting), so the past
        // keeps an even time resolution.
        let w0 = s.old[0].weight;
        assert!(s.old.iter().all(|p| p.weight == w0), "uneven old weights");
        // The first old point averages the earliest values.
        assert!(v[0] < w0 as f64, "{} vs {w0}", v[0]);
    }

    #[test]
    fn merging_averages_by_weight() {
        let mut a = Point {
            time: 1.0,
            values: vec![Some(10.0), None],
            weight: 3,
        };
        a.absorb(&Point {
            time: 2.0,
            values: vec![Some(2.0), Some(5.0)],
            weight: 1,
        });
        assert_eq!(a.time, 2.0);
        assert_eq!(a.weight, 4);
        assert_eq!(a.values, vec![Some(8.0), Some(5.0)]);
    }
}
