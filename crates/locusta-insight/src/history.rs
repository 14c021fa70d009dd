//! The stats history: one bounded point per second of the run (load, requests, failures and
//! latency percentiles of that second, overall and per endpoint).
//!
//! The final statistics are cumulative and cannot tell *when* or *at what load* things went
//! wrong; the HTML report's charts and the diagnosis need the run over time. The control loop
//! calls [`Recorder::sample`] after each stats merge; each call covers the whole seconds since
//! the previous one. Memory is bounded: at most [`MAX_POINTS`] points (older ones are merged
//! pairwise when full, so a long run keeps its whole span at a coarser step) and at most
//! [`MAX_TRACKED`] endpoints (the first ones seen; every request still counts in the total).

use locusta_stats::Aggregate;
use serde::Serialize;

/// Most points kept; when full, adjacent points are merged two by two.
pub const MAX_POINTS: usize = 1800;
/// Most endpoints followed individually.
pub const MAX_TRACKED: usize = 100;
/// Percentiles recorded for every point, in this order.
pub const PERCENTILES: [f64; 4] = [0.5, 0.9, 0.95, 0.99];

/// One row (endpoint or total) in one point.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Cell {
    /// Requests completed in the point's seconds.
    pub requests: u64,
    /// Failures among them.
    pub failures: u64,
    /// p50, p90, p95, p99 in ms; `None` when no timed request completed.
    pub pct: Option<[f64; 4]>,
}

impl Cell {
    /// p95 in ms.
    pub fn p95(&self) -> Option<f64> {
        self.pct.map(|p| p[2])
    }

    fn merge(a: &Cell, b: &Cell) -> Cell {
        let pct = match (a.pct, b.pct) {
            (Some(x), Some(y)) => {
                let (wa, wb) = (a.requests.max(1) as f64, b.requests.max(1) as f64);
                // The median is averaged by weight; the tail keeps the worse of the two, so a
                // stall survives downsampling.
                Some([
                    (x[0] * wa + y[0] * wb) / (wa + wb),
                    x[1].max(y[1]),
                    x[2].max(y[2]),
                    x[3].max(y[3]),
                ])
            }
            (p, None) | (None, p) => p,
        };
        Cell {
            requests: a.requests + b.requests,
            failures: a.failures + b.failures,
            pct,
        }
    }
}

/// One step of the history.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Point {
    /// Unix second at the end of the point (exclusive).
    pub t: i64,
    /// Length in seconds.
    pub secs: u32,
    /// Running users at the end of the point.
    pub users: u64,
    /// Target arrival rate (iterations/s) when the open model drives the load.
    pub target_rate: Option<f64>,
    /// The "Aggregated" row.
    pub total: Cell,
    /// Tracked endpoints, indexed like [`Recorder::endpoints`]; missing trailing ones are empty.
    pub endpoints: Vec<Cell>,
}

impl Point {
    /// Requests per second in this point.
    pub fn rps(&self) -> f64 {
        self.total.requests as f64 / self.secs.max(1) as f64
    }
}

/// Records the history; owned by the control loop.
#[derive(Debug, Clone, Default)]
pub struct Recorder {
    endpoints: Vec<(String, String)>,
    points: Vec<Point>,
    next_sec: Option<i64>,
    merged: u32,
}

impl Recorder {
    /// An empty history.
    pub fn new() -> Recorder {
        Recorder::default()
    }

    /// Tracked endpoints as `(method, name)`.
    pub fn endpoints(&self) -> &[(String, String)] {
        &self.endpoints
    }

    /// The points, oldest first.
    pub fn points(&self) -> &[Point] {
        &self.points
    }

    /// Adds the whole seconds completed since the last call (up to `unix_now - 1`), with
    /// `users` running. Call it right after a stats merge.
    pub fn sample(&mut self, agg: &Aggregate, users: u64, target_rate: Option<f64>, unix_now: f64) {
        let to = unix_now.floor() as i64 - 1;
        let from = self.next_sec.unwrap_or(agg.start_time().floor() as i64);
        if to < from {
            return;
        }
        // Seconds older than the stats' latency ring have no percentiles; skip a long gap.
        let from = from.max(to - 15);
        self.next_sec = Some(to + 1);
        for e in agg.entries_in_creation_order() {
            if self.endpoints.len() >= MAX_TRACKED {
                break;
            }
            if !self
                .endpoints
                .iter()
                .any(|(m, n)| m == e.method() && n == e.name())
            {
                self.endpoints
                    .push((e.method().to_string(), e.name().to_string()));
            }
        }
        let cell = |e: &locusta_stats::Entry| {
            let w = e.window(from, to, &PERCENTILES);
            Cell {
                requests: w.requests,
                failures: w.failures,
                pct: w.percentiles.map(|p| [p[0], p[1], p[2], p[3]]),
            }
        };
        let endpoints = self
            .endpoints
            .iter()
            .map(|(m, n)| agg.entry(n, m).map(cell).unwrap_or_default())
            .collect();
        self.push(Point {
            t: to + 1,
            secs: (to - from + 1) as u32,
            users,
            target_rate,
            total: cell(agg.total()),
            endpoints,
        });
    }

    /// Appends a point (public for tests and replays), downsampling when full.
    pub fn push(&mut self, p: Point) {
        self.points.push(p);
        if self.points.len() >= MAX_POINTS {
            let old = std::mem::take(&mut self.points);
            let mut it = old.into_iter();
            while let Some(a) = it.next() {
                match it.next() {
                    Some(b) => self.points.push(merge_points(&a, &b)),
                    None => self.points.push(a),
                }
            }
            self.merged += 1;
        }
    }

    /// Registers an endpoint (for tests and replays); returns its index.
    pub fn track(&mut self, method: &str, name: &str) -> usize {
        if let Some(i) = self
            .endpoints
            .iter()
            .position(|(m, n)| m == method && n == name)
        {
            return i;
        }
        self.endpoints.push((method.to_string(), name.to_string()));
        self.endpoints.len() - 1
    }

    /// Forgets everything (stats reset).
    pub fn clear(&mut self) {
        *self = Recorder::default();
    }
}

fn merge_points(a: &Point, b: &Point) -> Point {
    let n = a.endpoints.len().max(b.endpoints.len());
    let get = |p: &Point, i: usize| p.endpoints.get(i).copied().unwrap_or_default();
    Point {
        t: b.t,
        secs: a.secs + b.secs,
        users: b.users,
        target_rate: b.target_rate,
        total: Cell::merge(&a.total, &b.total),
        endpoints: (0..n)
            .map(|i| Cell::merge(&get(a, i), &get(b, i)))
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use locusta_stats::{Sample, StatsHub, StatsLimits};

    #[test]
    fn samples_whole_seconds_and_stays_bounded() {
        let hub = StatsHub::new_at(StatsLimits::default(), 1000.0);
        let mut rec = Recorder::new();
        for sec in 0..5u64 {
            for i in 0..10u64 {
                hub.record_at(
                    &Sample {
                        method: "GET",
                        name: "/a",
                        response_time_us: Some((sec + 1) * 10_000 + i),
                        content_length: 0,
                        error: if sec == 3 { Some("x") } else { None },
                    },
                    1000.0 + sec as f64 + i as f64 / 20.0,
                );
            }
        }
        hub.merge();
        hub.read(|agg| {
            rec.sample(agg, 3, None, 1001.5); // first call: second 1000 only
            rec.sample(agg, 4, None, 1005.2); // seconds 1001..=1004
        });
        let p = rec.points();
        assert_eq!(p.len(), 2);
        assert_eq!((p[0].t, p[0].secs, p[0].total.requests), (1001, 1, 10));
        assert_eq!((p[1].t, p[1].secs, p[1].total.requests), (1005, 4, 40));
        assert_eq!(p[1].total.failures, 10);
        assert_eq!(rec.endpoints(), &[("GET".to_string(), "/a".to_string())]);
        let p95 = p[1].endpoints[0].p95().unwrap();
        assert!((49.0..=51.0).contains(&p95), "{p95}");

        let mut rec = Recorder::new();
        for i in 0..(MAX_POINTS * 3) {
            rec.push(Point {
                t: i as i64,
                secs: 1,
                users: 1,
                target_rate: None,
                total: Cell {
                    requests: 1,
                    failures: 0,
                    pct: Some([1.0; 4]),
                },
                endpoints: vec![],
            });
        }
        assert!(rec.points().len() < MAX_POINTS);
        let total: u64 = rec.points().iter().map(|p| p.total.requests).sum();
        assert_eq!(total, (MAX_POINTS * 3) as u64);
    }
}
