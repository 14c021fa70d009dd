//! The diagnosis: where the system breaks, how it degrades and how much load it takes.
//!
//! People read load-test charts by hand to find the endpoint that slows down first (the
//! "black hole"), the shape of the degradation (linear, cliff, sawtooth, flat-then-spike,
//! drift) and the breaking point. This module does that reading on the [`Recorder`] history:
//!
//! 1. The history is grouped into *load levels* (points with the same number of users; at most
//!    [`MAX_LEVELS`] equal-width bins when the load ramped smoothly). Each level's latency,
//!    failure ratio and RPS are the medians of its per-second values (robust against single
//!    slow seconds and the ramp's edges).
//! 2. Each series (every endpoint and the total) gets a pattern:
//!    - **sawtooth**: over time, at least 3 separate bursts (more than 2 s apart) of seconds
//!      whose latency is above 3x the median (and 100 ms above it), roughly evenly spaced (gap
//!      spread < 50 %), and together at most 40 % of the run — periodic stalls, whatever the
//!      load (in a closed model also periodic collapses of the throughput, see
//!      [`throughput_dip_period`]);
//!    - **drift**: over time, on the longest stretch of constant load (at least 20 s), the
//!      latency of the last third is degraded against the first third's and rises steadily (see
//!      [`drift`]) — a leak or a backlog, whatever the load did before;
//!    - **none**: no level is *degraded*, i.e. latency above `1.5 x baseline + 5 ms` or the
//!      failure ratio 5 points above the baseline (baseline = best of the lowest third of levels);
//!    - **cliff**: a level jumps at least 2.5x over the level below, that jump is at least 60 % of
//!      the whole rise and every higher level stays degraded — or the failure ratio jumps by 20
//!      points in one level (a resource running out); the jumping level is the first degraded
//!      one, or a later one when the levels between are only mildly off (within 2x baseline +
//!      5 ms, no failure rise) — noise from a busy machine; also a limit that refuses without
//!      slowing down (a rate limiter): failing on every level from the first degraded one on
//!      while its latency is not degraded, with the knee where the failures leave the baseline
//!      (more than 2 points above it);
//!    - **flat-then-spike**: flat (within 1.2 x baseline + 3 ms) up to a knee at least 30 % into
//!      the load range, then a rise that keeps growing (not one jump);
//!    - **linear**: degrades from low load on and keeps rising with it.
//!
//!    The knee is the first degraded level (its users and RPS are reported).
//! 3. Culprits: degraded endpoints ordered by how early they degrade (the knee's load), then by
//!    how much their latency grew.
//! 4. Capacity: the highest level whose total meets the objective (`--slo`, default
//!    `p95<500ms,fail<1%`) below the first level that breaks it.

use serde::Serialize;

use crate::history::{Cell, Point, Recorder, PERCENTILES};
use crate::threshold::{parse_limit, parse_metric, split_comparison, Metric, Op};

/// Most load levels the history is grouped into.
pub const MAX_LEVELS: usize = 12;
/// Latency differences below this many ms are treated as noise.
const NOISE_MS: f64 = 5.0;
/// A latency rise smaller than this share of the objective's limit is minor, not a culprit.
const MATERIAL_SHARE: f64 = 0.1;
/// A single second must be this many ms above the median to count as a sawtooth's spike: a
/// busy machine's scheduling alone makes seconds tens of ms slow, and shorter pauses rarely
/// matter.
const SPIKE_MS: f64 = 100.0;

/// A latency and error objective (`--slo`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Slo {
    /// Which recorded percentile (index into [`PERCENTILES`]).
    pub percentile_index: usize,
    /// Latency limit in ms (strict).
    pub latency_ms: f64,
    /// Failure ratio limit, as a fraction (strict).
    pub fail_ratio: f64,
    /// The objective as text, e.g. `p95<500ms, fail<1%`.
    pub text: String,
}

impl Default for Slo {
    fn default() -> Slo {
        Slo {
            percentile_index: 2,
            latency_ms: 500.0,
            fail_ratio: 0.01,
            text: "p95<500ms, fail<1%".to_string(),
        }
    }
}

impl Slo {
    /// Parses `p95<500ms,fail<1%` (either part may be left out: it keeps its default).
    pub fn parse(text: &str) -> Result<Slo, String> {
        let help = "expected e.g. 'p95<500ms,fail<1%' (latency: p50, p90, p95 or p99 with < and \
                    ms or s; failures: fail<N%)";
        let mut slo = Slo::default();
        let mut any = false;
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            any = true;
            let bad = |why: String| format!("invalid --slo '{text}': {why}; {help}");
            let (m, op, v) = split_comparison(part).map_err(bad)?;
            if !matches!(op, Op::Lt | Op::Le) {
                return Err(bad(format!("'{part}' must be an upper bound (< or <=)")));
            }
            let metric = parse_metric(m).map_err(bad)?;
            let limit = parse_limit(metric, v).map_err(bad)?;
            match metric {
                Metric::Percentile(p) => {
                    slo.percentile_index = PERCENTILES
                        .iter()
                        .position(|x| (x - p).abs() < 1e-9)
                        .ok_or_else(|| bad(format!("'{m}' is not one of p50, p90, p95, p99")))?;
                    slo.latency_ms = limit;
                }
                Metric::FailRatio => slo.fail_ratio = limit,
                _ => return Err(bad(format!("'{m}' cannot be part of an objective"))),
            }
        }
        if !any {
            return Err(format!("invalid --slo '{text}': empty; {help}"));
        }
        slo.text = format!(
            "p{}<{}ms, fail<{}%",
            PERCENTILES[slo.percentile_index] * 100.0,
            fmt_num(slo.latency_ms),
            fmt_num(slo.fail_ratio * 100.0)
        );
        Ok(slo)
    }

    /// Whether a level meets the objective.
    pub fn met_by(&self, latency_ms: f64, fail_ratio: f64) -> bool {
        latency_ms < self.latency_ms && fail_ratio < self.fail_ratio
    }
}

fn fmt_num(v: f64) -> String {
    if v == v.trunc() {
        format!("{v:.0}")
    } else {
        let s = format!("{v:.3}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

fn fmt_ms(v: f64) -> String {
    if v >= 100.0 {
        format!("{v:.0} ms")
    } else if v >= 10.0 {
        format!("{v:.1} ms")
    } else {
        format!("{v:.2} ms")
    }
}

/// One load level of one series; every figure is the median over the level's seconds.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Level {
    /// Users (or the arrival rate, see [`Diagnosis::load_unit`]).
    pub users: f64,
    /// Requests per second of the whole run at this level (all endpoints).
    pub rps: f64,
    /// This series' requests per second.
    pub series_rps: f64,
    /// The per-second percentile (the objective's percentile), ms: the median over the level's
    /// seconds, so one odd second does not make a pattern.
    pub latency_ms: f64,
    /// Failures / requests: the median over the level's seconds.
    pub fail_ratio: f64,
    /// The objective's percentile over all the level's requests, ms (estimated from the
    /// seconds' percentiles, weighted by their requests): what capacity is judged on, as the
    /// statistics table's percentile counts every request.
    pub slo_latency_ms: f64,
    /// All the level's failures / all its requests: what capacity is judged on.
    pub slo_fail_ratio: f64,
    /// Seconds spent at this level.
    pub secs: u32,
    /// This series' requests at this level.
    pub requests: u64,
    /// This series' failed requests at this level.
    pub failures: u64,
}

/// A degradation pattern.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Pattern {
    /// No degradation as load grew.
    None,
    /// Latency grows with load from low load on.
    Linear,
    /// Fine up to a level, then a sudden collapse.
    Cliff,
    /// Periodic spikes that recover, whatever the load.
    Sawtooth,
    /// Flat well into the load range, then a steep, growing rise.
    FlatThenSpike,
    /// Failing at every load level, the lowest included: a broken request or service, not a
    /// load problem.
    Failing,
    /// Latency grows steadily over time while the load stays the same.
    Drift,
    /// Not enough levels or load variation to tell.
    Undetermined,
}

impl Pattern {
    /// The name used in reports.
    pub fn label(self) -> &'static str {
        match self {
            Pattern::None => "none",
            Pattern::Linear => "linear",
            Pattern::Cliff => "cliff",
            Pattern::Sawtooth => "sawtooth",
            Pattern::FlatThenSpike => "flat-then-spike",
            Pattern::Failing => "failing",
            Pattern::Drift => "drift",
            Pattern::Undetermined => "undetermined",
        }
    }

    /// What it usually means (from the seed documents' reading guide).
    pub fn hint(self) -> &'static str {
        match self {
            Pattern::None => "no degradation in the load range tried",
            Pattern::Linear => "requests queue for a fixed amount of work each (CPU-bound or serialised processing); caching or cheaper queries help",
            Pattern::Cliff => "a resource limit was hit (connection or thread pool, memory); tune the pool or add capacity",
            Pattern::Sawtooth => "periodic pauses (garbage collection, cache expiry, background jobs); tune GC or warm caches",
            Pattern::FlatThenSpike => "fine until a load threshold, then queueing explodes on this path (a contended lock, a missing index, an N+1 query, an unbounded fetch)",
            Pattern::Failing => "fails whatever the load, the lowest included: look at the failures table (a wrong request, missing test data, a broken endpoint), not at capacity",
            Pattern::Drift => "latency grows with time at a constant load: a leak, a growing table or cache, a backlog",
            Pattern::Undetermined => "the load did not vary enough to judge; ramp the users (or use --find-capacity)",
        }
    }
}

/// The load at the knee.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Knee {
    /// Users at the knee.
    pub users: f64,
    /// RPS of the whole run at the knee.
    pub rps: f64,
}

/// The finding for one series.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    /// Method (`""` for the total).
    pub method: String,
    /// Name (`"Aggregated"` for the total).
    pub name: String,
    /// The pattern.
    pub pattern: Pattern,
    /// A degradation pattern whose rise stays under a tenth of the objective's latency limit
    /// (and whose failures did not grow): shown, but not a culprit.
    pub minor: bool,
    /// First degraded level (none for `none`, `sawtooth`, `undetermined`).
    pub knee: Option<Knee>,
    /// Latency at the lowest levels, ms.
    pub baseline_ms: f64,
    /// Highest level latency, ms.
    pub peak_ms: f64,
    /// Failure ratio at the lowest levels and the highest level ratio.
    pub fail_before: f64,
    /// Highest failure ratio of any level.
    pub fail_peak: f64,
    /// Sawtooth period in seconds.
    pub period_s: Option<f64>,
    /// The levels the judgement was made on.
    pub levels: Vec<Level>,
    /// One line with the figures.
    pub summary: String,
}

/// The capacity found.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Capacity {
    /// Highest level meeting the objective below the first one breaking it (None: the lowest
    /// level already broke it).
    pub sustained: Option<Level>,
    /// The first level breaking it (None: held over the whole range).
    pub broken_at: Option<Level>,
    /// One line.
    pub summary: String,
}

/// The whole diagnosis.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Diagnosis {
    /// The objective used for capacity.
    pub slo: Slo,
    /// Lowest and highest load seen.
    pub users_range: (f64, f64),
    /// What the load counts: `"users"`, or `"it/s"` (iterations per second, open model); the
    /// `users` fields of levels and knees are in this unit.
    pub load_unit: &'static str,
    /// The total.
    pub overall: Finding,
    /// Every tracked endpoint with data, culprits first.
    pub endpoints: Vec<Finding>,
    /// How many of `endpoints` (from the front) are culprits.
    pub culprit_count: usize,
    /// How many endpoints, right after the culprits, fail at every load
    /// ([`Pattern::Failing`]).
    pub failing_count: usize,
    /// Capacity against the objective.
    pub capacity: Capacity,
}

/// The load of a point: the target arrival rate (rounded) in the open model, else the users.
pub fn load(p: &Point) -> u64 {
    match p.target_rate {
        Some(r) => r.round().max(0.0) as u64,
        None => p.users,
    }
}

/// What [`load`] counts for these points: `"users"` or `"it/s"` (open model).
pub fn load_unit(points: &[Point]) -> &'static str {
    if !points.is_empty() && points.iter().all(|p| p.target_rate.is_some()) {
        "it/s"
    } else {
        "users"
    }
}

/// Groups points into load levels for one series (`pick` chooses the cell).
pub fn levels(points: &[Point], pick: impl Fn(&Point) -> Option<Cell>, pct: usize) -> Vec<Level> {
    level_groups(points, pick)
        .iter()
        .filter_map(|g| level_of(g, pct, 0))
        .collect()
}

/// The levels a series' pattern is judged on. A level's percentile says something only over
/// enough requests (`min_requests`; a p95 of five requests is their maximum), so neighbouring
/// levels short of that many are merged, from the lowest load up, until each has enough (a
/// checkout done a few times a second is judged on wider levels at low load, fine ones
/// higher up). The flag says that even then fewer than [`MIN_LEVELS`] levels could be made
/// (the finest levels are returned then, which still say how the load went).
fn judged_levels(
    points: &[Point],
    pick: impl Fn(&Point) -> Option<Cell>,
    pct: usize,
    min_requests: u64,
) -> (Vec<Level>, bool) {
    let groups = level_groups(points, pick);
    let requests = |g: &[(&Point, Cell)]| g.iter().map(|(_, c)| c.requests).sum::<u64>();
    let mut merged: Vec<Vec<(&Point, Cell)>> = Vec::new();
    let mut pending: Vec<(&Point, Cell)> = Vec::new();
    for g in &groups {
        pending.extend(g.iter().copied());
        if requests(&pending) >= min_requests {
            merged.push(std::mem::take(&mut pending));
        }
    }
    if !pending.is_empty() {
        match merged.last_mut() {
            Some(last) => last.extend(pending),
            None => merged.push(pending),
        }
    }
    if merged.len() < MIN_LEVELS {
        let fine: Vec<Level> = groups.iter().filter_map(|g| level_of(g, pct, 0)).collect();
        let too_thin = fine.len() >= MIN_LEVELS;
        return (fine, too_thin);
    }
    let judged = merged
        .iter()
        .filter_map(|g| level_of(g, pct, min_requests))
        .collect();
    (judged, false)
}

/// The points of each load level, by load: one level per distinct load, or [`MAX_LEVELS`]
/// equal-width bins beyond that many.
fn level_groups(
    points: &[Point],
    pick: impl Fn(&Point) -> Option<Cell>,
) -> Vec<Vec<(&Point, Cell)>> {
    let rows: Vec<(&Point, Cell)> = points
        .iter()
        .filter_map(|p| pick(p).map(|c| (p, c)))
        .filter(|(_, c)| c.requests > 0)
        .collect();
    if rows.is_empty() {
        return Vec::new();
    }
    let mut distinct: Vec<u64> = rows.iter().map(|(p, _)| load(p)).collect();
    distinct.sort_unstable();
    distinct.dedup();
    let (lo, hi) = (distinct[0] as f64, distinct[distinct.len() - 1] as f64);
    let bin = |users: u64| -> usize {
        if distinct.len() <= MAX_LEVELS {
            distinct.binary_search(&users).unwrap_or(0)
        } else {
            let f = (users as f64 - lo) / (hi - lo).max(1.0);
            ((f * MAX_LEVELS as f64) as usize).min(MAX_LEVELS - 1)
        }
    };
    let nbins = distinct.len().min(MAX_LEVELS);
    let mut groups: Vec<Vec<(&Point, Cell)>> = vec![Vec::new(); nbins];
    for (p, c) in rows {
        groups[bin(load(p))].push((p, c));
    }
    groups.retain(|g| !g.is_empty());
    groups
}

/// One level's figures from its points. Its latency is the median of its seconds' percentiles
/// (one odd second does not make a pattern), unless its seconds hold fewer than `thin_below`
/// requests each on average: then a second's percentile is little more than its slowest
/// request, and the percentile over all the level's requests is used instead.
fn level_of(g: &[(&Point, Cell)], pct: usize, thin_below: u64) -> Option<Level> {
    let mut lat: Vec<f64> = g
        .iter()
        .filter_map(|(_, c)| c.pct.map(|x| x[pct]))
        .collect();
    if lat.is_empty() {
        return None;
    }
    let mut users: Vec<f64> = g.iter().map(|(p, _)| load(p) as f64).collect();
    let secs: u32 = g.iter().map(|(p, _)| p.secs).sum();
    // Medians over the level's seconds, like the latency, so a ramp second at the edge
    // of a level does not outweigh the steady ones.
    let per_sec = |n: u64, p: &Point| n as f64 / p.secs.max(1) as f64;
    let mut rps: Vec<f64> = g
        .iter()
        .map(|(p, _)| per_sec(p.total.requests, p))
        .collect();
    let mut series_rps: Vec<f64> = g.iter().map(|(p, c)| per_sec(c.requests, p)).collect();
    let mut fails: Vec<f64> = g
        .iter()
        .map(|(_, c)| c.failures as f64 / c.requests.max(1) as f64)
        .collect();
    let requests: u64 = g.iter().map(|(_, c)| c.requests).sum();
    let failures: u64 = g.iter().map(|(_, c)| c.failures).sum();
    let cells: Vec<Cell> = g.iter().map(|(_, c)| *c).collect();
    let typical_second = median(&mut lat);
    let pooled = pooled_percentile(&cells, pct).unwrap_or(typical_second);
    let thin_seconds = (requests as f64) < thin_below as f64 * secs.max(1) as f64;
    Some(Level {
        users: median(&mut users),
        rps: median(&mut rps),
        series_rps: median(&mut series_rps),
        latency_ms: if thin_seconds { pooled } else { typical_second },
        fail_ratio: if thin_seconds {
            failures as f64 / requests.max(1) as f64
        } else {
            median(&mut fails)
        },
        slo_latency_ms: pooled,
        slo_fail_ratio: failures as f64 / requests.max(1) as f64,
        secs,
        requests,
        failures,
    })
}

fn median(v: &mut [f64]) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// Finds periodic spikes in a per-point latency series `(end unix second, ms)`; returns the
/// mean period in seconds.
pub fn sawtooth_period(series: &[(i64, f64)]) -> Option<f64> {
    if series.len() < 15 {
        return None;
    }
    let mut vals: Vec<f64> = series.iter().map(|s| s.1).collect();
    let m = median(&mut vals);
    let thr = (3.0 * m).max(m + SPIKE_MS);
    // A stall straddling seconds may leave one calm second inside it: same burst.
    let spikes: Vec<i64> = series
        .iter()
        .filter(|(_, v)| *v > thr)
        .map(|(t, _)| *t)
        .collect();
    burst_period(series.len(), &spikes)
}

/// Requests per second of one series at each point from its first request on (0 where it had
/// none).
fn rps_series(points: &[Point], pick: impl Fn(&Point) -> Option<Cell>) -> Vec<(i64, f64)> {
    let first = points
        .iter()
        .position(|p| pick(p).is_some_and(|c| c.requests > 0));
    let Some(first) = first else {
        return Vec::new();
    };
    points[first..]
        .iter()
        .map(|p| {
            let n = pick(p).map_or(0, |c| c.requests);
            (p.t, n as f64 / p.secs.max(1) as f64)
        })
        .collect()
}

/// Finds periodic collapses in a per-point throughput series: seconds under a third of the
/// rate around them (the median of the 9 seconds centred on them, so a ramp's slow start is not
/// a collapse), in at least 3 bursts evenly spaced (as [`sawtooth_period`]); returns the mean
/// period in seconds. A series of a few requests per second is too thin to tell.
pub fn throughput_dip_period(series: &[(i64, f64)]) -> Option<f64> {
    if series.len() < 15 {
        return None;
    }
    let mut vals: Vec<f64> = series.iter().map(|s| s.1).collect();
    if median(&mut vals) < 10.0 {
        return None;
    }
    const HALF_WINDOW: usize = 4;
    let dips: Vec<i64> = (0..series.len())
        .filter(|&i| {
            let from = i.saturating_sub(HALF_WINDOW);
            let to = (i + HALF_WINDOW + 1).min(series.len());
            let mut around: Vec<f64> = series[from..to].iter().map(|s| s.1).collect();
            let local = median(&mut around);
            local >= 10.0 && series[i].1 < local / 3.0
        })
        .map(|i| series[i].0)
        .collect();
    burst_period(series.len(), &dips)
}

/// The mean period of bursts at `times` (seconds, ascending) in a series of `len` points: at
/// least 3 bursts (a burst may straddle a calm second), evenly spaced (spread of the gaps under
/// half their mean, at least 2 s apart), covering at most 40 % of the points.
fn burst_period(len: usize, times: &[i64]) -> Option<f64> {
    let mut starts = Vec::new();
    let mut last: Option<i64> = None;
    for &t in times {
        if last.is_none_or(|l| t - l > 2) {
            starts.push(t);
        }
        last = Some(t);
    }
    if starts.len() < 3 || times.len() as f64 > 0.4 * len as f64 {
        return None;
    }
    let gaps: Vec<f64> = starts.windows(2).map(|w| (w[1] - w[0]) as f64).collect();
    let mean = gaps.iter().sum::<f64>() / gaps.len() as f64;
    let var = gaps.iter().map(|g| (g - mean).powi(2)).sum::<f64>() / gaps.len() as f64;
    if mean < 2.0 || var.sqrt() > 0.5 * mean {
        return None;
    }
    Some(mean)
}

/// The `PERCENTILES[pct]` quantile of all the requests of `cells` together, estimated from each
/// cell's recorded percentiles: each cell's distribution is taken as piecewise linear through
/// them (from 0 below its median, up to twice its p99 above), and the mixture weighted by the
/// cells' requests is solved for the quantile. None without timed requests.
pub fn pooled_percentile(cells: &[Cell], pct: usize) -> Option<f64> {
    let timed: Vec<(f64, [f64; 4])> = cells
        .iter()
        .filter_map(|c| c.pct.map(|p| (c.requests as f64, p)))
        .filter(|(n, _)| *n > 0.0)
        .collect();
    let total: f64 = timed.iter().map(|(n, _)| n).sum();
    if timed.is_empty() || total <= 0.0 {
        return None;
    }
    let q = PERCENTILES[pct];
    let cdf = |p: &[f64; 4], x: f64| -> f64 {
        let knots = [
            (0.0, 0.0),
            (p[0], PERCENTILES[0]),
            (p[1], PERCENTILES[1]),
            (p[2], PERCENTILES[2]),
            (p[3], PERCENTILES[3]),
            (2.0 * p[3], 1.0),
        ];
        if x >= knots[5].0 {
            return 1.0;
        }
        for w in knots.windows(2) {
            let ((x0, q0), (x1, q1)) = (w[0], w[1]);
            if x < x1 {
                return if x1 > x0 {
                    q0 + (q1 - q0) * (x - x0) / (x1 - x0)
                } else {
                    q1
                };
            }
        }
        1.0
    };
    let share = |x: f64| timed.iter().map(|(n, p)| n * cdf(p, x)).sum::<f64>() / total;
    let (mut lo, mut hi) = (
        0.0,
        timed.iter().map(|(_, p)| 2.0 * p[3]).fold(0.0, f64::max),
    );
    for _ in 0..60 {
        let mid = 0.5 * (lo + hi);
        if share(mid) < q {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    Some(hi)
}

/// One point of a series over time: when it ended, the load then and its latency.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample {
    /// Unix second at the end of the point.
    pub t: i64,
    /// The load during the point (see [`load`]).
    pub load: u64,
    /// The series' latency in the point (the objective's percentile), ms.
    pub ms: f64,
}

/// A steady rise of latency over time at a constant load, found by [`drift`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Drift {
    /// The load held meanwhile (the median over the stretch).
    pub load: f64,
    /// How long the load was held, seconds.
    pub secs: f64,
    /// Median latency of the first third of the stretch, ms.
    pub from_ms: f64,
    /// Median latency of the last third of the stretch, ms.
    pub to_ms: f64,
    /// Growth between the two thirds, ms per second.
    pub ms_per_s: f64,
}

/// Fewest seconds of constant load a drift is judged on.
const DRIFT_MIN_SECS: i64 = 20;
/// Fewest points a drift is judged on.
const DRIFT_MIN_POINTS: usize = 15;
/// A load counts as constant while its highest value is within this factor of its lowest.
const DRIFT_LOAD_SPREAD: f64 = 1.1;
/// Pieces the stretch is cut into to tell a steady rise from a jump.
const DRIFT_PIECES: usize = 8;

/// The longest run of consecutive samples (by time covered) whose load stays within
/// [`DRIFT_LOAD_SPREAD`] of its lowest value, as a half-open index range.
fn steady_stretch(series: &[Sample]) -> Option<(usize, usize)> {
    use std::collections::VecDeque;
    // Indices whose loads are increasing (for the minimum) and decreasing (for the maximum).
    let (mut mins, mut maxs): (VecDeque<usize>, VecDeque<usize>) =
        (VecDeque::new(), VecDeque::new());
    let mut best: Option<(usize, usize)> = None;
    let mut start = 0;
    for (j, s) in series.iter().enumerate() {
        while mins.back().is_some_and(|&i| series[i].load >= s.load) {
            mins.pop_back();
        }
        mins.push_back(j);
        while maxs.back().is_some_and(|&i| series[i].load <= s.load) {
            maxs.pop_back();
        }
        maxs.push_back(j);
        let spread_ok =
            |mins: &VecDeque<usize>, maxs: &VecDeque<usize>| match (mins.front(), maxs.front()) {
                (Some(&lo), Some(&hi)) => {
                    series[hi].load as f64 <= DRIFT_LOAD_SPREAD * series[lo].load as f64
                }
                _ => true,
            };
        while !spread_ok(&mins, &maxs) {
            start += 1;
            while mins.front().is_some_and(|&i| i < start) {
                mins.pop_front();
            }
            while maxs.front().is_some_and(|&i| i < start) {
                maxs.pop_front();
            }
        }
        let longer =
            best.is_none_or(|(a, b)| s.t - series[start].t > series[b - 1].t - series[a].t);
        if longer {
            best = Some((start, j + 1));
        }
    }
    best
}

/// Finds latency growing steadily over time while the load stays the same (a leak, a growing
/// table, a backlog): on the longest stretch of constant load (within 10 %), at least 20 s
/// long, the median of its last third is degraded against the median of its first third (over
/// 1.5x + 5 ms, the levels' yardstick), and the rise is steady: cut into 8 pieces, at least
/// three quarters of the pairs of pieces have the later one slower, and no single step between
/// neighbours makes half of the rise (a jump is not a drift). Healthy noise, a sawtooth (spikes
/// that recover) and a ramp (the load changes) do not qualify.
pub fn drift(series: &[Sample]) -> Option<Drift> {
    let (a, b) = steady_stretch(series)?;
    let s = &series[a..b];
    let secs = s[s.len() - 1].t - s[0].t;
    if s.len() < DRIFT_MIN_POINTS || secs < DRIFT_MIN_SECS {
        return None;
    }
    let ms = |part: &[Sample]| median(&mut part.iter().map(|x| x.ms).collect::<Vec<f64>>());
    let mid_t = |part: &[Sample]| (part[0].t + part[part.len() - 1].t) as f64 / 2.0;
    let third = s.len() / 3;
    let (first, last) = (&s[..third], &s[s.len() - third..]);
    let (from_ms, to_ms) = (ms(first), ms(last));
    if to_ms <= 1.5 * from_ms + NOISE_MS {
        return None;
    }
    let pieces: Vec<f64> = (0..DRIFT_PIECES)
        .map(|i| ms(&s[i * s.len() / DRIFT_PIECES..(i + 1) * s.len() / DRIFT_PIECES]))
        .collect();
    let pairs = DRIFT_PIECES * (DRIFT_PIECES - 1) / 2;
    let rising = (0..DRIFT_PIECES)
        .flat_map(|i| (i + 1..DRIFT_PIECES).map(move |j| (i, j)))
        .filter(|&(i, j)| pieces[j] > pieces[i])
        .count();
    let lo = pieces.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = pieces.iter().copied().fold(0.0, f64::max);
    let biggest_step = pieces.windows(2).map(|w| w[1] - w[0]).fold(0.0, f64::max);
    if (rising as f64) < 0.75 * pairs as f64 || biggest_step > 0.5 * (hi - lo) {
        return None;
    }
    let mut loads: Vec<f64> = s.iter().map(|x| x.load as f64).collect();
    Some(Drift {
        load: median(&mut loads),
        secs: secs as f64,
        from_ms,
        to_ms,
        ms_per_s: (to_ms - from_ms) / (mid_t(last) - mid_t(first)).max(1.0),
    })
}

/// Classifies one series from its levels and its per-point latency over time; the third value
/// is the sawtooth's period (s) or the drift's growth (ms per second).
pub fn classify(levels: &[Level], series: &[Sample]) -> (Pattern, Option<usize>, Option<f64>) {
    let timed: Vec<(i64, f64)> = series.iter().map(|s| (s.t, s.ms)).collect();
    if let Some(period) = sawtooth_period(&timed) {
        return (Pattern::Sawtooth, None, Some(period));
    }
    if let Some(d) = drift(series) {
        return (Pattern::Drift, None, Some(d.ms_per_s));
    }
    let n = levels.len();
    if n < 3 {
        return (Pattern::Undetermined, None, None);
    }
    let lo = levels[0].users;
    let hi = levels[n - 1].users;
    if hi < 1.5 * lo.max(1.0) {
        return (Pattern::Undetermined, None, None);
    }
    let third = n.div_ceil(3).max(1);
    let b = levels[..third]
        .iter()
        .map(|l| l.latency_ms)
        .fold(f64::INFINITY, f64::min);
    let f0 = levels[..third]
        .iter()
        .map(|l| l.fail_ratio)
        .fold(f64::INFINITY, f64::min);
    let degraded = |l: &Level| l.latency_ms > 1.5 * b + NOISE_MS || l.fail_ratio > f0 + 0.05;
    let Some(k) = levels.iter().position(degraded) else {
        return (Pattern::None, None, None);
    };
    let peak = levels.iter().map(|l| l.latency_ms).fold(0.0, f64::max);
    // A cliff: one level jumps and everything above stays degraded. It may come a level after
    // the first degraded one when that one is only mildly off (noise, a busy machine).
    for j in k.max(1)..n {
        let prev = &levels[j - 1];
        let cur = &levels[j];
        let mild = prev.latency_ms <= 2.0 * b + NOISE_MS && prev.fail_ratio <= f0 + 0.02;
        if j > k && !mild {
            break;
        }
        let stays = levels[j..].iter().all(degraded);
        let latency_jump = cur.latency_ms >= 2.5 * prev.latency_ms.max(1.0)
            && cur.latency_ms - prev.latency_ms >= 0.6 * (peak - b);
        let fail_jump = cur.fail_ratio - prev.fail_ratio >= 0.2 && prev.fail_ratio <= f0 + 0.02;
        if stays && (latency_jump || fail_jump) {
            return (Pattern::Cliff, Some(j), None);
        }
    }
    // A limit that refuses instead of slowing down (a rate limiter, a bounded queue): failures
    // degrade the knee while its latency is still fine, and every level above fails too. The
    // limit is crossed where the failures leave the baseline, which may be a level before they
    // count as degraded (a few refusals right at the limit).
    if k >= 1
        && levels[k].latency_ms <= 1.5 * b + NOISE_MS
        && levels[k..].iter().all(|l| l.fail_ratio > f0 + 0.05)
    {
        let departs = levels[..k]
            .iter()
            .rposition(|l| l.fail_ratio <= f0 + 0.02)
            .map_or(k, |clean| clean + 1);
        return (Pattern::Cliff, Some(departs), None);
    }
    if k >= 1 {
        // Flat before the knee: every level in the flat band, or (a smooth curve that bends
        // up) at most a tenth of the whole rise done before it.
        let band = 1.2 * b + 3.0;
        let flat_before = levels[..k].iter().all(|l| l.latency_ms <= band)
            || levels[k - 1].latency_ms - b <= 0.1 * (peak - b);
        if flat_before && (levels[k].users - lo) >= 0.3 * (hi - lo) {
            // the knee is where it leaves the flat band, which may be before "degraded"
            let departs = levels[..=k]
                .iter()
                .position(|l| l.latency_ms > band)
                .unwrap_or(k);
            return (Pattern::FlatThenSpike, Some(departs), None);
        }
    }
    (Pattern::Linear, Some(k), None)
}

fn finding(
    unit: &str,
    method: &str,
    name: &str,
    points: &[Point],
    pick: impl Fn(&Point) -> Option<Cell> + Copy,
    slo: &Slo,
    stalls_possible: bool,
) -> Option<Finding> {
    let pct = slo.percentile_index;
    let all = levels(points, pick, pct);
    if all.is_empty() {
        return None;
    }
    // A level's percentile says something only over enough requests: a p95 of 5 requests is
    // their maximum, and one slow request makes a "degradation". Patterns are judged on levels
    // with at least 1 / (1 - q) requests (20 for p95, 100 for p99), wider ones if need be.
    let min_requests = (1.0 / (1.0 - PERCENTILES[pct])).round() as u64;
    let (lv, too_thin) = judged_levels(points, pick, pct, min_requests);
    let series: Vec<Sample> = points
        .iter()
        .filter_map(|p| {
            pick(p).and_then(|c| c.pct).map(|x| Sample {
                t: p.t,
                load: load(p),
                ms: x[pct],
            })
        })
        .filter(|_| stalls_possible)
        .collect();
    let (mut pattern, mut knee_idx, mut period) = if too_thin {
        (Pattern::Undetermined, None, None)
    } else {
        classify(&lv, &series)
    };
    // A closed model hides a stall's latency (the stalled users send nothing meanwhile) but not
    // its hole in the throughput: periodic collapses of this series' requests per second. An
    // open model shows the stall in the latency; there a hole in the throughput is an endpoint
    // waiting behind another one in the same iteration, not a culprit.
    let mut dips = false;
    if stalls_possible
        && unit == "users"
        && matches!(pattern, Pattern::None | Pattern::Undetermined)
    {
        if let Some(p) = throughput_dip_period(&rps_series(points, pick)) {
            (pattern, knee_idx, period, dips) = (Pattern::Sawtooth, None, Some(p), true);
        }
    }
    let failing = failing_from_the_start(&all[..all.len().div_ceil(3).max(1)], &all);
    let third = lv.len().div_ceil(3).max(1);
    if failing {
        (pattern, knee_idx, period) = (Pattern::Failing, None, None);
    }
    let baseline = lv[..third]
        .iter()
        .map(|l| l.latency_ms)
        .fold(f64::INFINITY, f64::min);
    let peak = lv.iter().map(|l| l.latency_ms).fold(0.0, f64::max);
    // Patterns in time have no knee: a sawtooth peaks at its worst second, a drift goes from its
    // first third to its last (the levels alone would show one flat level).
    let drifted = (pattern == Pattern::Drift)
        .then(|| drift(&series))
        .flatten();
    let (baseline, peak) = match (pattern, drifted) {
        (Pattern::Drift, Some(d)) => (d.from_ms, d.to_ms),
        (Pattern::Sawtooth, _) if !dips => {
            (baseline, series.iter().map(|s| s.ms).fold(peak, f64::max))
        }
        _ => (baseline, peak),
    };
    let fail_before = lv[..third]
        .iter()
        .map(|l| l.fail_ratio)
        .fold(f64::INFINITY, f64::min);
    let fail_peak = lv.iter().map(|l| l.fail_ratio).fold(0.0, f64::max);
    let knee = knee_idx.map(|k| Knee {
        users: lv[k].users,
        rps: lv[k].rps,
    });
    let p = format!("p{}", PERCENTILES[pct] * 100.0);
    let mut summary = match (pattern, knee) {
        (Pattern::Failing, _) => {
            let (requests, failures) = lv
                .iter()
                .fold((0, 0), |(r, f), l| (r + l.requests, f + l.failures));
            let (first, last) = (&lv[0], &lv[lv.len() - 1]);
            let mut s = format!(
                "failing at every load: {:.0}% of its requests failed at {:.0} {unit}",
                first.slo_fail_ratio * 100.0,
                first.users
            );
            if lv.len() > 1 {
                s.push_str(&format!(
                    ", {:.0}% at {:.0} {unit}",
                    last.slo_fail_ratio * 100.0,
                    last.users
                ));
            }
            s.push_str(&format!(" ({failures} of {requests})"));
            s
        }
        (Pattern::Sawtooth, _) if dips => format!(
            "sawtooth: the requests stall about every {:.0} s (throughput collapses; waiting users \
             send nothing meanwhile, so the stall's latency shows only in an open model: \
             --arrival-rate)",
            period.unwrap_or(0.0)
        ),
        (Pattern::Sawtooth, _) => format!(
            "sawtooth: {p} spikes about every {:.0} s (median level {}, worst second {})",
            period.unwrap_or(0.0),
            fmt_ms(baseline),
            fmt_ms(peak)
        ),
        (Pattern::Drift, _) => match drifted {
            Some(d) => format!(
                "drift: {p} grows about {} per second at a constant {:.0} {unit} ({} -> {} over \
                 {:.0} s)",
                fmt_ms(d.ms_per_s),
                d.load,
                fmt_ms(d.from_ms),
                fmt_ms(d.to_ms),
                d.secs
            ),
            None => "drift".to_string(),
        },
        (pat, Some(k)) => format!(
            "{} from {:.0} {unit} ({:.0} RPS): {p} {} -> {} (x{:.1})",
            pat.label(),
            k.users,
            k.rps,
            fmt_ms(baseline),
            fmt_ms(peak),
            peak / baseline.max(0.001)
        ),
        (pat, None) => format!(
            "{}: {p} {} -> {} between {:.0} and {:.0} {unit}",
            pat.label(),
            fmt_ms(baseline),
            fmt_ms(peak),
            lv[0].users,
            lv[lv.len() - 1].users
        ),
    };
    // A degradation that stays small next to the objective (a sub-millisecond endpoint slowed to
    // a few ms by a busy machine) is shown but blamed on nothing.
    // (a sawtooth's peak is its worst second, a drift's its last third: see above)
    let rise = peak - baseline;
    let material_ms = MATERIAL_SHARE * slo.latency_ms;
    let minor = matches!(
        pattern,
        Pattern::Linear
            | Pattern::Cliff
            | Pattern::FlatThenSpike
            | Pattern::Sawtooth
            | Pattern::Drift
    ) && !dips
        && rise < material_ms
        && fail_peak < fail_before + 0.05;
    if fail_peak > fail_before + 0.01 && !failing {
        summary.push_str(&format!(
            ", failures {:.1}% -> {:.1}%",
            fail_before * 100.0,
            fail_peak * 100.0
        ));
    }
    if too_thin && pattern == Pattern::Undetermined {
        summary.push_str(&format!(
            " (fewer than {min_requests} requests at most load levels, too few to judge its {p})"
        ));
    }
    if minor {
        summary.push_str(&format!(
            "; minor: it stays within a tenth of the objective's {} limit",
            fmt_ms(slo.latency_ms)
        ));
    }
    Some(Finding {
        method: method.to_string(),
        name: name.to_string(),
        pattern,
        minor,
        knee,
        baseline_ms: baseline,
        peak_ms: peak,
        fail_before,
        fail_peak,
        period_s: period,
        levels: lv,
        summary,
    })
}

/// Whether a series fails from its lowest load levels on: at least [`FAILING_RATIO`] of the
/// requests of `lowest` and of the whole series failed, at least 3 in all (a checkout done a
/// few times a second fails only once or twice at the lowest levels). An endpoint that fails whatever the load is broken, not overloaded, and
/// must not read as healthy ("none") because its failure ratio never grew.
fn failing_from_the_start(lowest: &[Level], all: &[Level]) -> bool {
    let pooled = |ls: &[Level]| {
        let (r, f) = ls
            .iter()
            .fold((0u64, 0u64), |(r, f), l| (r + l.requests, f + l.failures));
        (f, f as f64 / r.max(1) as f64)
    };
    let (_, low_ratio) = pooled(lowest);
    let (failures, ratio) = pooled(all);
    failures >= 3 && low_ratio >= FAILING_RATIO && ratio >= FAILING_RATIO
}

/// Share of failed requests from which an endpoint failing at its lowest load is "failing".
const FAILING_RATIO: f64 = 0.1;

/// Capacity of the total series against `slo`.
pub fn capacity(levels: &[Level], slo: &Slo, unit: &str) -> Capacity {
    let p = format!("p{}", PERCENTILES[slo.percentile_index] * 100.0);
    let broken = levels
        .iter()
        .position(|l| !slo.met_by(l.slo_latency_ms, l.slo_fail_ratio));
    let (sustained, broken_at) = match broken {
        Some(0) => (None, Some(levels[0].clone())),
        Some(i) => (Some(levels[i - 1].clone()), Some(levels[i].clone())),
        None => (levels.last().cloned(), None),
    };
    let mut summary = match &sustained {
        Some(l) => format!(
            "{:.0} {unit}, {:.1} RPS within {} ({p} {}, {:.2}% failures)",
            l.users,
            l.rps,
            slo.text,
            fmt_ms(l.slo_latency_ms),
            l.slo_fail_ratio * 100.0
        ),
        None if levels.is_empty() => "no measurements".to_string(),
        None => format!(
            "the objective {} was not met even at the lowest load",
            slo.text
        ),
    };
    match &broken_at {
        Some(l) => summary.push_str(&format!(
            "; broken at {:.0} {unit}, {:.1} RPS ({p} {}, {:.2}% failures)",
            l.users,
            l.rps,
            fmt_ms(l.slo_latency_ms),
            l.slo_fail_ratio * 100.0
        )),
        None if !levels.is_empty() => {
            summary.push_str("; held over the whole load range tried (more load may hold too)")
        }
        None => {}
    }
    Capacity {
        sustained,
        broken_at,
        summary,
    }
}

/// Diagnoses a recorded run.
pub fn diagnose(history: &Recorder, slo: &Slo) -> Diagnosis {
    let pts = history.points();
    let unit = load_unit(pts);
    let mut endpoints: Vec<Finding> = history
        .endpoints()
        .iter()
        .enumerate()
        .filter_map(|(i, (m, n))| {
            finding(
                unit,
                m,
                n,
                pts,
                move |p| p.endpoints.get(i).copied(),
                slo,
                true,
            )
        })
        .collect();
    // The total mixes its endpoints: its p95 jumps whenever a slow endpoint's share of a second
    // passes 5 %, which looks periodic without being a stall. It is a sawtooth only when an
    // endpoint is one (or when no endpoint is tracked).
    let stalls = endpoints.is_empty()
        || endpoints
            .iter()
            .any(|f| matches!(f.pattern, Pattern::Sawtooth | Pattern::Drift) && !f.minor);
    let overall =
        finding(unit, "", "Aggregated", pts, |p| Some(p.total), slo, stalls).unwrap_or(Finding {
            method: String::new(),
            name: "Aggregated".into(),
            pattern: Pattern::Undetermined,
            minor: false,
            knee: None,
            baseline_ms: 0.0,
            peak_ms: 0.0,
            fail_before: 0.0,
            fail_peak: 0.0,
            period_s: None,
            levels: Vec::new(),
            summary: "no requests were measured".into(),
        });
    let is_culprit = |f: &Finding| {
        !f.minor
            && matches!(
                f.pattern,
                Pattern::Linear
                    | Pattern::Cliff
                    | Pattern::FlatThenSpike
                    | Pattern::Sawtooth
                    | Pattern::Drift
            )
    };
    // Culprits first: those whose worst level breaks the objective, then the earliest knee
    // (sawtooth counts as from the start), then the largest rise;
    // then the endpoints failing at every load, most failures first; then the rest, those with
    // a judged pattern first, busiest first (a URL seen a few times says little).
    let group = |f: &Finding| match f.pattern {
        _ if is_culprit(f) => 0,
        Pattern::Failing => 1,
        Pattern::Undetermined => 3,
        _ => 2,
    };
    let requests = |f: &Finding| f.levels.iter().map(|l| l.requests).sum::<u64>();
    let breaks = |f: &Finding| {
        f.levels
            .iter()
            .any(|l| !slo.met_by(l.slo_latency_ms, l.slo_fail_ratio))
    };
    let failures = |f: &Finding| f.levels.iter().map(|l| l.failures).sum::<u64>();
    endpoints.sort_by(|a, b| {
        let order = group(a).cmp(&group(b));
        match group(a) {
            0 => order
                .then(breaks(b).cmp(&breaks(a)))
                .then(
                    a.knee
                        .map_or(0.0, |k| k.users)
                        .total_cmp(&b.knee.map_or(0.0, |k| k.users)),
                )
                .then(
                    (b.peak_ms - b.baseline_ms + b.fail_peak * 1000.0)
                        .total_cmp(&(a.peak_ms - a.baseline_ms + a.fail_peak * 1000.0)),
                ),
            1 => order.then(failures(b).cmp(&failures(a))),
            _ => order.then(requests(b).cmp(&requests(a))),
        }
    });
    let culprit_count = endpoints.iter().filter(|f| is_culprit(f)).count();
    let failing_count = endpoints
        .iter()
        .filter(|f| f.pattern == Pattern::Failing)
        .count();
    let users: Vec<u64> = pts.iter().map(load).collect();
    let users_range = (
        users.iter().copied().min().unwrap_or(0) as f64,
        users.iter().copied().max().unwrap_or(0) as f64,
    );
    let capacity = capacity(&overall.levels, slo, unit);
    Diagnosis {
        slo: slo.clone(),
        users_range,
        load_unit: unit,
        overall,
        endpoints,
        culprit_count,
        failing_count,
        capacity,
    }
}

fn label(f: &Finding) -> String {
    if f.method.is_empty() {
        f.name.clone()
    } else {
        format!("{} {}", f.method, f.name)
    }
}

/// Fewest load levels [`classify`] judges a pattern from.
const MIN_LEVELS: usize = 3;

/// What to run to get a load history the diagnosis can judge.
const SETTLE_WITH: &str = "ramp the load over the run (e.g. -u 100 -r 1 -t 3m) or let \
     --find-capacity step it";

impl Diagnosis {
    /// The culprit findings.
    pub fn culprits(&self) -> &[Finding] {
        &self.endpoints[..self.culprit_count]
    }

    /// The endpoints failing at every load, the lowest included.
    pub fn failing(&self) -> &[Finding] {
        &self.endpoints[self.culprit_count..self.culprit_count + self.failing_count]
    }

    /// The endpoints neither culprits nor failing.
    pub fn others(&self) -> &[Finding] {
        &self.endpoints[self.culprit_count + self.failing_count..]
    }

    /// What the overall line cannot say alone: when the total degraded but no endpoint did,
    /// the total moved because the mix of requests changed (or because of the endpoints
    /// failing at every load), not because the service slowed down.
    pub fn overall_note(&self) -> Option<String> {
        if self.not_judged().is_some() || !self.culprits().is_empty() {
            return None;
        }
        let degraded = !self.overall.minor
            && matches!(
                self.overall.pattern,
                Pattern::Linear | Pattern::Cliff | Pattern::FlatThenSpike | Pattern::Failing
            );
        if !degraded {
            return None;
        }
        Some(if self.failing().is_empty() {
            "no single endpoint degraded as load grew: the total moved because the mix of \
             requests changed (slow endpoints took a larger share), not because the service \
             slowed down"
                .to_string()
        } else {
            format!(
                "no endpoint degraded as load grew; the total's failures come from {} failing at \
                 every load (below), and its latency from the mix of requests",
                if self.failing().len() == 1 {
                    "the endpoint".to_string()
                } else {
                    format!("the {} endpoints", self.failing().len())
                }
            )
        })
    }

    /// Why the run's load history cannot show how latency follows load, with what would settle
    /// it; None when it can. A pattern needs at least three load levels over a load that grew by
    /// half or more (a sawtooth is seen in time and needs neither).
    pub fn not_judged(&self) -> Option<String> {
        // patterns seen in time need no load variation
        if matches!(self.overall.pattern, Pattern::Sawtooth | Pattern::Drift) {
            return None;
        }
        let levels = &self.overall.levels;
        let unit = self.load_unit;
        if levels.is_empty() {
            return Some(format!(
                "no load level was measured (no requests, or the run ended within its first \
                 second); {SETTLE_WITH}"
            ));
        }
        if levels.len() < MIN_LEVELS {
            let seen: Vec<String> = levels.iter().map(|l| format!("{:.0}", l.users)).collect();
            return Some(format!(
                "only {} load level{} ({} {unit}) {} seen, and a pattern needs {MIN_LEVELS} or \
                 more; {SETTLE_WITH}",
                levels.len(),
                if levels.len() == 1 { "" } else { "s" },
                seen.join(", "),
                if levels.len() == 1 { "was" } else { "were" }
            ));
        }
        let (lo, hi) = (levels[0].users, levels[levels.len() - 1].users);
        if hi < 1.5 * lo.max(1.0) {
            return Some(format!(
                "the load only went from {lo:.0} to {hi:.0} {unit}, and a pattern needs it to grow \
                 by half or more; {SETTLE_WITH}"
            ));
        }
        None
    }

    /// The text printed at the end of the run.
    pub fn text(&self) -> String {
        if self.overall.levels.is_empty() {
            // nothing was measured: one line instead of a table of zeros
            let why = self.not_judged().unwrap_or_default();
            return format!("Diagnosis: not judged, {why}\n\n");
        }
        let mut out = format!(
            "Diagnosis ({:.0} to {:.0} {}, {} load level{}; objective {})\n",
            self.users_range.0,
            self.users_range.1,
            self.load_unit,
            self.overall.levels.len(),
            if self.overall.levels.len() == 1 {
                ""
            } else {
                "s"
            },
            self.slo.text
        );
        out.push_str(&format!("  Overall: {}\n", self.overall.summary));
        if let Some(note) = self.overall_note() {
            out.push_str(&format!("           ({note})\n"));
        }
        let not_judged = self.not_judged();
        match (&not_judged, self.culprits().is_empty()) {
            (Some(why), true) => out.push_str(&format!("  Culprits: not judged, {why}\n")),
            (None, true) => out.push_str("  Culprits: none, no endpoint degraded as load grew\n"),
            (_, false) => {
                out.push_str("  Culprits (those breaking the objective first, then the earliest to degrade):\n");
                for (i, f) in self.culprits().iter().enumerate().take(5) {
                    out.push_str(&format!("    {}. {}: {}\n", i + 1, label(f), f.summary));
                    out.push_str(&format!("       likely: {}\n", f.pattern.hint()));
                }
                // Patterns in time (sawtooth, drift) need no load variation; the others do.
                if let Some(why) = &not_judged {
                    out.push_str(&format!("  How latency follows load: not judged, {why}\n"));
                }
            }
        }
        if !self.failing().is_empty() {
            out.push_str(
                "  Failing at every load (not a capacity problem: a wrong request, missing test \
                 data or a broken endpoint; see the failures table):\n",
            );
            for f in self.failing().iter().take(5) {
                out.push_str(&format!("    {}: {}\n", label(f), f.summary));
            }
            if self.failing().len() > 5 {
                out.push_str(&format!("    ... and {} more\n", self.failing().len() - 5));
            }
        }
        // Endpoints with too few requests at too few load levels say nothing; many of them
        // usually are one endpoint under many URLs, which `name=` groups.
        let (rare, judged): (Vec<&Finding>, Vec<&Finding>) = self
            .others()
            .iter()
            .partition(|f| f.levels.len() < MIN_LEVELS && not_judged.is_none());
        let listed: Vec<&Finding> = if rare.len() <= 3 {
            judged.iter().chain(rare.iter()).copied().collect()
        } else {
            judged
        };
        if !listed.is_empty() {
            out.push_str("  Other endpoints:\n");
            for f in listed.iter().take(10) {
                out.push_str(&format!("    {}: {}\n", label(f), f.summary));
            }
            if listed.len() > 10 {
                out.push_str(&format!("    ... and {} more\n", listed.len() - 10));
            }
        }
        if rare.len() > 3 {
            let p = format!("p{}", PERCENTILES[self.slo.percentile_index] * 100.0);
            out.push_str(&format!(
                "  {} endpoints had too few requests to judge (a {p} needs enough requests at \
                 each of {MIN_LEVELS} load levels; e.g. {}); if they are one endpoint under many \
                 URLs, group them with name=\n",
                rare.len(),
                label(rare[0])
            ));
        }
        out.push_str(&format!("  Capacity: {}\n\n", self.capacity.summary));
        out
    }
}

/// `--find-capacity`: raises the users in steps until the objective breaks.
#[derive(Debug, Clone)]
pub struct CapacitySearch {
    /// Users of the first step.
    pub start: u64,
    /// Users added per step.
    pub step: u64,
    /// Seconds per step.
    pub step_secs: u64,
    /// Highest users tried.
    pub max_users: u64,
    slo: Slo,
    current: u64,
    step_started_unix: f64,
    step_started: f64,
    done: Option<String>,
}

impl CapacitySearch {
    /// A search from `step` users up to `max_users`, `step_secs` seconds per step.
    pub fn new(step: u64, step_secs: u64, max_users: u64, slo: Slo) -> CapacitySearch {
        let step = step.max(1);
        CapacitySearch {
            start: step,
            step,
            step_secs: step_secs.max(2),
            max_users: max_users.max(step),
            slo,
            current: step,
            step_started_unix: 0.0,
            step_started: 0.0,
            done: None,
        }
    }

    /// Why the search ended, once it has.
    pub fn outcome(&self) -> Option<&str> {
        self.done.as_deref()
    }

    /// Called about once a second with the time since start; returns the users to run, or
    /// `None` when the search is over. The first call starts the first step.
    pub fn tick(&mut self, elapsed_s: f64, unix_now: f64, history: &Recorder) -> Option<u64> {
        if self.done.is_some() {
            return None;
        }
        if self.step_started_unix == 0.0 {
            self.step_started_unix = unix_now;
            self.step_started = elapsed_s;
            return Some(self.current);
        }
        if elapsed_s - self.step_started < self.step_secs as f64 {
            return Some(self.current);
        }
        // Judge this step on its whole seconds after the first (warm-up) one.
        let from = self.step_started_unix.floor() as i64 + 1;
        let pts: Vec<Point> = history
            .points()
            .iter()
            .filter(|p| p.t - p.secs as i64 >= from && p.users == self.current)
            .cloned()
            .collect();
        let lv = levels(&pts, |p| Some(p.total), self.slo.percentile_index);
        if let Some(l) = lv.first() {
            if !self.slo.met_by(l.latency_ms, l.fail_ratio) {
                self.done = Some(format!(
                    "the objective {} broke at {} users (p{} {}, {:.2}% failures, {:.1} RPS)",
                    self.slo.text,
                    self.current,
                    PERCENTILES[self.slo.percentile_index] * 100.0,
                    fmt_ms(l.latency_ms),
                    l.fail_ratio * 100.0,
                    l.rps
                ));
                return None;
            }
        }
        if self.current >= self.max_users {
            self.done = Some(format!(
                "the objective {} held up to the maximum of {} users",
                self.slo.text, self.max_users
            ));
            return None;
        }
        self.current = (self.current + self.step).min(self.max_users);
        self.step_started_unix = unix_now;
        self.step_started = elapsed_s;
        Some(self.current)
    }
}

#[cfg(test)]
mod tests;
