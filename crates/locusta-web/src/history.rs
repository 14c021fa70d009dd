//! Chart history kept by the server, so charts survive a page reload and a late-opened tab.
//!
//! Every two seconds while a test runs (Locust's `HISTORY_STATS_INTERVAL_SEC`), the recorder
//! appends one point for the Aggregated row and one for each of the first [`MAX_TRACKED`]
//! endpoints. A series never grows past [`MAX_POINTS`]: when full, its older half is thinned by
//! merging neighbouring points (averaging them), so a 24-hour run keeps recent detail and a
//! coarser past at a fixed memory and payload size.

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

/// One series: a timestamp column and named value columns of equal length.
#[derive(Debug, Default, Clone)]
struct Series {
    time: Vec<f64>,
    columns: Vec<(String, Vec<Option<f64>>)>,
    /// How many raw points each stored point stands for (for weighted merging).
    weight: Vec<u32>,
}

impl Series {
    fn with_columns(names: &[String]) -> Series {
        Series {
            time: Vec::new(),
            columns: names.iter().map(|n| (n.clone(), Vec::new())).collect(),
            weight: Vec::new(),
        }
    }

    fn push(&mut self, time: f64, values: &[Option<f64>]) {
        self.time.push(time);
        self.weight.push(1);
        for ((_, col), v) in self.columns.iter_mut().zip(values) {
            col.push(*v);
        }
        if self.time.len() > MAX_POINTS {
            self.thin_older_half();
        }
    }

    /// Merges pairs of points in the older half: the result keeps the later time of each pair
    /// and the weighted mean of its values.
    fn thin_older_half(&mut self) {
        let half = self.time.len() / 2;
        let pairs = half / 2;
        let mut time = Vec::with_capacity(self.time.len() - pairs);
        let mut weight = Vec::with_capacity(time.capacity());
        for i in 0..pairs {
            let (a, b) = (2 * i, 2 * i + 1);
            time.push(self.time[b]);
            weight.push(self.weight[a] + self.weight[b]);
        }
        time.extend_from_slice(&self.time[2 * pairs..]);
        weight.extend_from_slice(&self.weight[2 * pairs..]);
        for (_, col) in &mut self.columns {
            let mut merged = Vec::with_capacity(time.len());
            for i in 0..pairs {
                let (a, b) = (2 * i, 2 * i + 1);
                let (wa, wb) = (f64::from(self.weight[a]), f64::from(self.weight[b]));
                merged.push(match (col[a], col[b]) {
                    (Some(x), Some(y)) => Some((x * wa + y * wb) / (wa + wb)),
                    (x, y) => x.or(y),
                });
            }
            merged.extend_from_slice(&col[2 * pairs..]);
            *col = merged;
        }
        self.time = time;
        self.weight = weight;
    }

    fn to_json(&self) -> Value {
        let mut m = Map::new();
        m.insert("time".into(), json!(self.time));
        for (name, col) in &self.columns {
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
        lock(&self.inner).total.as_ref().map_or(0, |s| s.time.len())
    }

    /// True when nothing was recorded yet.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn series_stay_bounded_and_keep_recent_points_exact() {
        let mut s = Series::with_columns(&["v".to_owned()]);
        let n = 43_200; // a day at one point per two seconds
        for i in 0..n {
            s.push(i as f64, &[Some(i as f64)]);
        }
        assert!(s.time.len() <= MAX_POINTS, "{}", s.time.len());
        assert_eq!(s.time.len(), s.columns[0].1.len());
        // The newest point is exact and times stay increasing.
        assert_eq!(*s.time.last().unwrap(), (n - 1) as f64);
        assert_eq!(s.columns[0].1.last().unwrap().unwrap(), (n - 1) as f64);
        assert!(s.time.windows(2).all(|w| w[0] < w[1]));
        // The merged weights still cover every raw point.
        assert_eq!(s.weight.iter().map(|w| *w as usize).sum::<usize>(), n);
        // The oldest point averages a span of early values, not a late one.
        assert!(s.columns[0].1[0].unwrap() < 1000.0);
    }

    #[test]
    fn merging_averages_by_weight() {
        let mut s = Series::with_columns(&["v".to_owned()]);
        for i in 0..=MAX_POINTS {
            s.push(i as f64, &[Some(if i < 2 { 10.0 } else { 0.0 })]);
        }
        assert_eq!(s.columns[0].1[0], Some(10.0));
        assert_eq!(s.weight[0], 2);
        assert_eq!(s.time[0], 1.0);
    }
}
