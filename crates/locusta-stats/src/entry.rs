//! One statistics row (Locust's `StatsEntry`): counters, the microsecond HDR histogram, the
//! per-second request/failure counts and the short per-second ring used for "current" values.
//!
//! Internally everything is in microseconds; the public accessors return milliseconds (`f64`),
//! which is what Locust's outputs use.

use hdrhistogram::Histogram;
use std::collections::VecDeque;

use crate::format::bucket_response_time;
use locusta_util::unix_now;

/// Significant digits kept by the latency histograms.
const SIGFIG: u8 = 3;
/// Window of the "current" percentiles, seconds (Locust's CURRENT_RESPONSE_TIME_PERCENTILE_WINDOW).
pub(crate) const CURRENT_WINDOW: i64 = 10;
/// How many seconds of per-second histogram deltas are kept.
const RING_SECONDS: i64 = 20;

fn new_hist() -> Histogram<u64> {
    // A constant, valid configuration (sigfig <= 5): creation cannot fail.
    let mut h = Histogram::new(SIGFIG).expect("sigfig 3 is a valid HDR histogram precision");
    h.auto(true);
    h
}

/// How many recent seconds of per-second counts an entry keeps (and reports in
/// `num_reqs_per_sec`/`num_fail_per_sec`): one hour. Without a bound these counts were the only
/// part of the statistics that grew with the length of a run (8 bytes per name per second:
/// 350 MB for 1000 names over 12 hours); the "current" rates only look at the last 12 seconds.
pub(crate) const PER_SECOND_RETENTION: usize = 3600;

/// Dense per-second counters (requests and failures), starting at `base` (unix second), holding
/// at least the last [`PER_SECOND_RETENTION`] seconds and at most twice that (older seconds are
/// dropped in batches, so the cost is amortised).
#[derive(Debug, Clone, Default)]
struct PerSecond {
    base: i64,
    reqs: Vec<u32>,
    fails: Vec<u32>,
}

impl PerSecond {
    /// Returns the slot index for second `sec`, growing the vectors as needed.
    fn slot(&mut self, sec: i64) -> usize {
        if self.reqs.is_empty() {
            self.base = sec;
        }
        if sec < self.base {
            // Out-of-order sample older than anything seen: extend backwards (bounded to an hour,
            // older ones are counted at the first second).
            let shift = (self.base - sec).min(3600) as usize;
            let mut r = vec![0u32; shift];
            r.extend_from_slice(&self.reqs);
            self.reqs = r;
            let mut f = vec![0u32; shift];
            f.extend_from_slice(&self.fails);
            self.fails = f;
            self.base -= shift as i64;
        }
        let mut i = (sec.max(self.base) - self.base) as usize;
        if i >= 2 * PER_SECOND_RETENTION {
            let drop = (i + 1 - PER_SECOND_RETENTION).min(self.reqs.len());
            self.reqs.drain(..drop);
            self.fails.drain(..drop);
            self.base += drop as i64;
            i -= drop;
        }
        if i >= self.reqs.len() {
            self.reqs.resize(i + 1, 0);
            self.fails.resize(i + 1, 0);
        }
        i
    }

    fn get(&self, sec: i64) -> (u64, u64) {
        if sec < self.base {
            return (0, 0);
        }
        let i = (sec - self.base) as usize;
        match (self.reqs.get(i), self.fails.get(i)) {
            (Some(&r), Some(&f)) => (r as u64, f as u64),
            _ => (0, 0),
        }
    }

    /// The retained seconds: the last [`PER_SECOND_RETENTION`] of them.
    fn iter(&self) -> impl Iterator<Item = (i64, u64, u64)> + '_ {
        let skip = self.reqs.len().saturating_sub(PER_SECOND_RETENTION);
        self.reqs
            .iter()
            .zip(self.fails.iter())
            .enumerate()
            .skip(skip)
            .map(move |(i, (&r, &f))| (self.base + i as i64, r as u64, f as u64))
    }
}

/// Sparse histogram delta for one second: sorted `(lowest equivalent µs, count)` pairs once
/// compacted; raw pushes are appended between compactions.
#[derive(Debug, Clone)]
struct SecondSlot {
    sec: i64,
    pairs: Vec<(u64, u64)>,
    compacted_len: usize,
}

/// What [`Entry::window`] returns: one time window of an entry.
#[derive(Debug, Clone, PartialEq)]
pub struct Window {
    /// Requests that completed in the window.
    pub requests: u64,
    /// Failures among them.
    pub failures: u64,
    /// Requests with a response time in the window (percentiles are over these).
    pub timed: u64,
    /// The requested percentiles in ms, `None` when no timed request is in the window.
    pub percentiles: Option<Vec<f64>>,
}

/// One statistics row (Locust's `StatsEntry`). All public times are milliseconds.
#[derive(Debug, Clone)]
pub struct Entry {
    name: String,
    method: String,
    num_requests: u64,
    num_none_requests: u64,
    num_failures: u64,
    total_rt_us: u128,
    min_us: Option<u64>,
    max_us: u64,
    hist: Histogram<u64>,
    total_content_length: u64,
    start_time: f64,
    last_request_timestamp: Option<f64>,
    per_sec: PerSecond,
    ring: VecDeque<SecondSlot>,
    dirty: bool,
    global_start: f64,
    global_last: Option<f64>,
}

impl Entry {
    pub(crate) fn new(name: &str, method: &str, start_time: f64) -> Entry {
        Entry {
            name: name.to_owned(),
            method: method.to_owned(),
            num_requests: 0,
            num_none_requests: 0,
            num_failures: 0,
            total_rt_us: 0,
            min_us: None,
            max_us: 0,
            hist: new_hist(),
            total_content_length: 0,
            start_time,
            last_request_timestamp: None,
            per_sec: PerSecond::default(),
            ring: VecDeque::new(),
            dirty: false,
            global_start: start_time,
            global_last: None,
        }
    }

    pub(crate) fn reset(&mut self, now: f64) {
        self.num_requests = 0;
        self.num_none_requests = 0;
        self.num_failures = 0;
        self.total_rt_us = 0;
        self.min_us = None;
        self.max_us = 0;
        self.hist.reset();
        self.total_content_length = 0;
        self.start_time = now;
        self.last_request_timestamp = None;
        self.per_sec = PerSecond::default();
        self.ring.clear();
        self.dirty = false;
        self.global_start = now;
        self.global_last = None;
    }

    pub(crate) fn set_globals(&mut self, start: f64, last: Option<f64>) {
        self.global_start = start;
        self.global_last = last;
    }

    /// Folds one sample in (Locust's `log` + `log_error`).
    pub(crate) fn apply(&mut self, t: f64, rt_us: Option<u64>, len: u64, failed: bool) {
        let sec = t.floor() as i64;
        self.num_requests += 1;
        let slot = self.per_sec.slot(sec);
        self.per_sec.reqs[slot] = self.per_sec.reqs[slot].saturating_add(1);
        self.last_request_timestamp = Some(match self.last_request_timestamp {
            Some(l) if l > t => l,
            _ => t,
        });
        match rt_us {
            None => self.num_none_requests += 1,
            Some(v) => {
                self.total_rt_us += v as u128;
                self.min_us = Some(self.min_us.map_or(v, |m| m.min(v)));
                self.max_us = self.max_us.max(v);
                if self.hist.record(v).is_err() {
                    self.hist.saturating_record(v);
                }
                let q = self.hist.lowest_equivalent(v);
                self.ring_push(sec, q, 1);
            }
        }
        self.total_content_length += len;
        if failed {
            self.num_failures += 1;
            self.per_sec.fails[slot] = self.per_sec.fails[slot].saturating_add(1);
        }
    }

    fn ring_push(&mut self, sec: i64, q: u64, count: u64) {
        let newest = self.ring.back().map_or(sec, |s| s.sec.max(sec));
        if sec <= newest - RING_SECONDS {
            return;
        }
        let pos = self.ring.iter().rposition(|s| s.sec <= sec);
        let idx = match pos {
            Some(i) if self.ring[i].sec == sec => i,
            Some(i) => {
                self.ring.insert(i + 1, SecondSlot::new(sec));
                i + 1
            }
            None => {
                self.ring.push_front(SecondSlot::new(sec));
                0
            }
        };
        let slot = &mut self.ring[idx];
        slot.pairs.push((q, count));
        if slot.pairs.len() > 2 * slot.compacted_len + 1024 {
            slot.compact();
        }
        self.dirty = true;
        while self
            .ring
            .front()
            .is_some_and(|s| s.sec <= newest - RING_SECONDS)
        {
            self.ring.pop_front();
        }
    }

    /// Sorts and merges the pending per-second pairs (after each merge batch).
    pub(crate) fn compact(&mut self) {
        if self.dirty {
            for s in self.ring.iter_mut() {
                s.compact();
            }
            self.dirty = false;
        }
    }

    /// Stats name.
    pub fn name(&self) -> &str {
        &self.name
    }
    /// Request method ("" for the Aggregated row).
    pub fn method(&self) -> &str {
        &self.method
    }
    /// Number of requests (including failures and none-requests).
    pub fn num_requests(&self) -> u64 {
        self.num_requests
    }
    /// Requests reported without a response time.
    pub fn num_none_requests(&self) -> u64 {
        self.num_none_requests
    }
    /// Number of failed requests.
    pub fn num_failures(&self) -> u64 {
        self.num_failures
    }
    /// Failures / requests (1.0 if there are failures but no requests).
    pub fn fail_ratio(&self) -> f64 {
        if self.num_requests == 0 {
            if self.num_failures > 0 {
                1.0
            } else {
                0.0
            }
        } else {
            self.num_failures as f64 / self.num_requests as f64
        }
    }
    /// Sum of all response times, milliseconds.
    pub fn total_response_time(&self) -> f64 {
        self.total_rt_us as f64 / 1000.0
    }
    /// Number of requests that have a response time.
    fn timed(&self) -> u64 {
        self.num_requests - self.num_none_requests
    }
    /// Average response time in ms over requests with a response time (0 if none).
    pub fn avg_response_time(&self) -> f64 {
        match self.timed() {
            0 => 0.0,
            n => self.total_rt_us as f64 / n as f64 / 1000.0,
        }
    }
    /// Exact minimum response time in ms, `None` until a timed request was seen.
    pub fn min_response_time(&self) -> Option<f64> {
        self.min_us.map(|v| v as f64 / 1000.0)
    }
    /// Exact maximum response time in ms (0 if none).
    pub fn max_response_time(&self) -> f64 {
        self.max_us as f64 / 1000.0
    }
    /// Median response time in ms (Locust's rank rule, clamped to [min, max]; 0 if none).
    pub fn median_response_time(&self) -> f64 {
        self.percentile(0.5)
    }
    /// Cumulative response time percentile in ms, `p` in 0..=1 (0 if no timed requests).
    pub fn percentile(&self, p: f64) -> f64 {
        self.percentiles(&[p])[0]
    }
    /// Several cumulative percentiles in one pass over the histogram.
    pub fn percentiles(&self, ps: &[f64]) -> Vec<f64> {
        let n = self.hist.len();
        let iter = self.hist.iter_recorded().map(|v| {
            (
                self.hist.lowest_equivalent(v.value_iterated_to()),
                v.count_at_value(),
            )
        });
        self.clamp_all(percentiles_from_sorted(iter, n, ps))
    }

    fn clamp_all(&self, vals: Vec<Option<u64>>) -> Vec<f64> {
        vals.into_iter()
            .map(|v| match v {
                None => 0.0,
                Some(us) => {
                    let us = match self.min_us {
                        Some(min) => us.clamp(min, self.max_us.max(min)),
                        None => us,
                    };
                    us as f64 / 1000.0
                }
            })
            .collect()
    }

    /// Percentile in ms over roughly the last 10 seconds, using the wall clock.
    pub fn current_percentile(&self, p: f64) -> Option<f64> {
        self.current_percentiles_at(&[p], unix_now()).map(|v| v[0])
    }

    /// Percentiles in ms over the 10 seconds ending at `now` (seconds `now-9 ..= now`).
    /// `None` while the entry is younger than 2 seconds (Locust has no cached snapshot yet);
    /// 0 for each percentile if the window holds no timed requests.
    pub fn current_percentiles_at(&self, ps: &[f64], now: f64) -> Option<Vec<f64>> {
        let now_sec = now.floor() as i64;
        if now_sec - (self.start_time.floor() as i64) < 2 {
            return None;
        }
        let lo = now_sec - (CURRENT_WINDOW - 1);
        let mut pairs: Vec<(u64, u64)> = Vec::new();
        for s in self.ring.iter().filter(|s| s.sec >= lo && s.sec <= now_sec) {
            pairs.extend_from_slice(&s.pairs);
        }
        pairs.sort_unstable_by_key(|p| p.0);
        let n: u64 = pairs.iter().map(|p| p.1).sum();
        let iter = pairs.iter().copied();
        Some(self.clamp_all(percentiles_from_sorted(iter, n, ps)))
    }

    /// Requests, failures and latency percentiles (ms) of the requests that completed in the
    /// whole unix seconds `from_sec ..= to_sec`: what a per-second history recorder (HTML report
    /// charts, diagnosis) samples. Latencies are kept for the last 20 seconds only, so older
    /// windows have counts but no percentiles.
    pub fn window(&self, from_sec: i64, to_sec: i64, ps: &[f64]) -> Window {
        let mut requests = 0;
        let mut failures = 0;
        for s in from_sec..=to_sec {
            let (r, f) = self.per_sec.get(s);
            requests += r;
            failures += f;
        }
        let mut pairs: Vec<(u64, u64)> = Vec::new();
        for s in self
            .ring
            .iter()
            .filter(|s| s.sec >= from_sec && s.sec <= to_sec)
        {
            pairs.extend_from_slice(&s.pairs);
        }
        pairs.sort_unstable_by_key(|p| p.0);
        let n: u64 = pairs.iter().map(|p| p.1).sum();
        let percentiles = if n == 0 {
            None
        } else {
            Some(self.clamp_all(percentiles_from_sorted(pairs.iter().copied(), n, ps)))
        };
        Window {
            requests,
            failures,
            timed: n,
            percentiles,
        }
    }

    /// Average content length in bytes (0 if no requests).
    pub fn avg_content_length(&self) -> f64 {
        match self.num_requests {
            0 => 0.0,
            n => self.total_content_length as f64 / n as f64,
        }
    }
    /// Total content length in bytes.
    pub fn total_content_length(&self) -> u64 {
        self.total_content_length
    }
    /// Requests per second over the whole run (run-wide window, as Locust).
    pub fn total_rps(&self) -> f64 {
        self.total_rate(self.num_requests)
    }
    /// Failures per second over the whole run.
    pub fn total_fail_per_sec(&self) -> f64 {
        self.total_rate(self.num_failures)
    }
    fn total_rate(&self, n: u64) -> f64 {
        match self.global_last {
            Some(last) if last != 0.0 && self.global_start != 0.0 => {
                let d = last - self.global_start;
                if d == 0.0 {
                    0.0
                } else {
                    n as f64 / d
                }
            }
            _ => 0.0,
        }
    }
    /// Requests per second over the seconds `[last-12, last-2)` of the run (Locust's rule).
    pub fn current_rps(&self) -> f64 {
        self.current_rate(false)
    }
    /// Failures per second over the same window as [`Entry::current_rps`].
    pub fn current_fail_per_sec(&self) -> f64 {
        self.current_rate(true)
    }
    fn current_rate(&self, fails: bool) -> f64 {
        let Some(last) = self.global_last else {
            return 0.0;
        };
        let last = last.floor() as i64;
        let start = (last - 12).max(self.global_start.floor() as i64);
        let end = last - 2;
        let mut sum = 0u64;
        let mut n = 0u64;
        for s in start..end {
            let (r, f) = self.per_sec.get(s);
            sum += if fails { f } else { r };
            n += 1;
        }
        sum as f64 / n.max(1) as f64
    }
    /// When this entry started counting (creation or last reset), unix seconds.
    pub fn start_time(&self) -> f64 {
        self.start_time
    }
    /// Time of the latest request, unix seconds.
    pub fn last_request_timestamp(&self) -> Option<f64> {
        self.last_request_timestamp
    }
    /// Seconds of per-second counts held in memory (bounded by twice the retention).
    #[cfg(test)]
    pub(crate) fn per_second_capacity(&self) -> usize {
        self.per_sec.reqs.len()
    }
    /// `(unix second, requests)` for every second that had requests (within the last
    /// [`PER_SECOND_RETENTION`] seconds).
    pub fn num_reqs_per_sec(&self) -> Vec<(i64, u64)> {
        self.per_sec
            .iter()
            .filter(|&(_, r, _)| r > 0)
            .map(|(s, r, _)| (s, r))
            .collect()
    }
    /// `(unix second, failures)` for every second that had failures.
    pub fn num_fail_per_sec(&self) -> Vec<(i64, u64)> {
        self.per_sec
            .iter()
            .filter(|&(_, _, f)| f > 0)
            .map(|(s, _, f)| (s, f))
            .collect()
    }
    /// Cumulative counts for Prometheus-style `le` buckets: for each bound (microseconds,
    /// ascending), how many timed requests were recorded at or below it.
    ///
    /// A recorded value counts at the lowest value of its HDR bin (3 significant digits: the
    /// bin is exact below 2048 µs and never wider than 1/1024 of its values above), the same
    /// value the percentiles report. So a value `<=` a bound is always counted in it, and a
    /// value above a bound only when it falls in the bound's own bin. The rule depends on the
    /// value alone, so the buckets of the total are exactly the sums of the entries' buckets.
    pub fn counts_at_or_below_us(&self, bounds_us: &[u64]) -> Vec<u64> {
        let mut counts = vec![0u64; bounds_us.len()];
        for v in self.hist.iter_recorded() {
            let lowest = self.hist.lowest_equivalent(v.value_iterated_to());
            let first = bounds_us.partition_point(|b| *b < lowest);
            if let Some(c) = counts.get_mut(first) {
                *c += v.count_at_value();
            }
        }
        let mut running = 0u64;
        for c in counts.iter_mut() {
            running += *c;
            *c = running;
        }
        counts
    }

    /// Locust-style response time buckets: `(bucket ms, count)` ascending, derived from the HDR
    /// histogram (each recorded value converted to ms and passed through
    /// [`bucket_response_time`]).
    pub fn response_time_buckets(&self) -> Vec<(u64, u64)> {
        let mut out: Vec<(u64, u64)> = Vec::new();
        for v in self.hist.iter_recorded() {
            let us = self.hist.lowest_equivalent(v.value_iterated_to());
            let us = match self.min_us {
                Some(min) => us.clamp(min, self.max_us.max(min)),
                None => us,
            };
            let b = bucket_response_time(us as f64 / 1000.0);
            match out.last_mut() {
                Some(last) if last.0 == b => last.1 += v.count_at_value(),
                _ => out.push((b, v.count_at_value())),
            }
        }
        out.sort_unstable_by_key(|p| p.0);
        out.dedup_by(|a, b| {
            if a.0 == b.0 {
                b.1 += a.1;
                true
            } else {
                false
            }
        });
        out
    }
}

impl SecondSlot {
    fn new(sec: i64) -> SecondSlot {
        SecondSlot {
            sec,
            pairs: Vec::new(),
            compacted_len: 0,
        }
    }
    fn compact(&mut self) {
        if self.pairs.len() == self.compacted_len {
            return;
        }
        self.pairs.sort_unstable_by_key(|p| p.0);
        let mut out: Vec<(u64, u64)> = Vec::with_capacity(self.pairs.len().min(4096));
        for &(v, c) in &self.pairs {
            match out.last_mut() {
                Some(last) if last.0 == v => last.1 += c,
                _ => out.push((v, c)),
            }
        }
        self.compacted_len = out.len();
        self.pairs = out;
    }
}

/// Percentiles over ascending `(value, count)` pairs with `n` total samples, using Locust's rank
/// rule: the value at 1-based rank `min(floor(n*p) + 1, n)`. `None` when `n == 0`.
pub(crate) fn percentiles_from_sorted(
    iter: impl Iterator<Item = (u64, u64)>,
    n: u64,
    ps: &[f64],
) -> Vec<Option<u64>> {
    if n == 0 {
        return vec![None; ps.len()];
    }
    let ranks: Vec<u64> = ps
        .iter()
        .map(|&p| {
            let p = if p.is_nan() { 0.0 } else { p.clamp(0.0, 1.0) };
            (((n as f64) * p).floor() as u64 + 1).min(n)
        })
        .collect();
    let mut order: Vec<usize> = (0..ps.len()).collect();
    order.sort_by_key(|&i| ranks[i]);
    let mut out = vec![None; ps.len()];
    let mut k = 0;
    let mut cum = 0u64;
    let mut last = 0u64;
    for (v, c) in iter {
        cum += c;
        last = v;
        while k < order.len() && ranks[order[k]] <= cum {
            out[order[k]] = Some(v);
            k += 1;
        }
        if k == order.len() {
            break;
        }
    }
    for i in order.into_iter().skip(k) {
        out[i] = Some(last);
    }
    out
}

/// One entry's change since the previous report, in the shape of Locust's serialized
/// `StatsEntry` dict (times in milliseconds), plus the lossless microsecond histogram that
/// locusta nodes exchange. Used by the master/worker protocol (`locusta-dist`).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct EntryDelta {
    /// Stats name.
    pub name: String,
    /// Request method ("" for the total).
    pub method: String,
    /// Latest request time, unix seconds.
    pub last_request_timestamp: Option<f64>,
    /// When the entry started counting, unix seconds.
    pub start_time: f64,
    /// Requests in this delta.
    pub num_requests: u64,
    /// Requests without a response time.
    pub num_none_requests: u64,
    /// Failures in this delta.
    pub num_failures: u64,
    /// Sum of response times, ms.
    pub total_response_time: f64,
    /// Largest response time so far, ms.
    pub max_response_time: f64,
    /// Smallest response time so far, ms.
    pub min_response_time: Option<f64>,
    /// Sum of body lengths.
    pub total_content_length: u64,
    /// Locust's rounded millisecond buckets: `(bucket ms, count)`.
    pub response_times: Vec<(u64, u64)>,
    /// `(unix second, requests)`.
    pub num_reqs_per_sec: Vec<(i64, u64)>,
    /// `(unix second, failures)`.
    pub num_fail_per_sec: Vec<(i64, u64)>,
    /// Lossless histogram: `(lowest equivalent µs, count)`, ascending; `None` from a Locust node.
    pub hist_us: Option<Vec<(u64, u64)>>,
}

/// Largest response time accepted from the network (one day, in µs); larger values are clamped.
const MAX_REMOTE_US: u64 = 86_400_000_000;

fn ms_to_us(ms: f64) -> u64 {
    if ms.is_finite() && ms > 0.0 {
        ((ms * 1000.0).round() as u64).min(MAX_REMOTE_US)
    } else {
        0
    }
}

impl Entry {
    /// What changed since `prev` (a clone of this entry taken at the previous report), or
    /// `None` when nothing was recorded since.
    pub(crate) fn delta_since(&self, prev: Option<&Entry>) -> Option<EntryDelta> {
        let (p_req, p_none, p_fail, p_rt, p_len) = match prev {
            Some(p) => (
                p.num_requests,
                p.num_none_requests,
                p.num_failures,
                p.total_rt_us,
                p.total_content_length,
            ),
            None => (0, 0, 0, 0, 0),
        };
        if self.num_requests == p_req && self.num_failures == p_fail {
            return None;
        }
        let mut hist = self.hist.clone();
        if let Some(p) = prev {
            if hist.subtract(&p.hist).is_err() {
                // Cannot happen for a histogram that only grew; fall back to the whole one.
                hist = self.hist.clone();
            }
        }
        let mut hist_us: Vec<(u64, u64)> = Vec::new();
        for v in hist.iter_recorded() {
            hist_us.push((
                hist.lowest_equivalent(v.value_iterated_to()),
                v.count_at_value(),
            ));
        }
        let response_times = locust_buckets(
            hist_us.iter().copied(),
            self.min_us,
            self.max_us.max(self.min_us.unwrap_or(0)),
        );
        let mut reqs = Vec::new();
        let mut fails = Vec::new();
        for (sec, r, f) in self.per_sec.iter() {
            let (pr, pf) = prev.map_or((0, 0), |p| p.per_sec.get(sec));
            if r > pr {
                reqs.push((sec, r - pr));
            }
            if f > pf {
                fails.push((sec, f - pf));
            }
        }
        Some(EntryDelta {
            name: self.name.clone(),
            method: self.method.clone(),
            last_request_timestamp: self.last_request_timestamp,
            start_time: self.start_time,
            num_requests: self.num_requests - p_req,
            num_none_requests: self.num_none_requests.saturating_sub(p_none),
            num_failures: self.num_failures - p_fail,
            total_response_time: self.total_rt_us.saturating_sub(p_rt) as f64 / 1000.0,
            max_response_time: self.max_us as f64 / 1000.0,
            min_response_time: self.min_us.map(|m| m as f64 / 1000.0),
            total_content_length: self.total_content_length.saturating_sub(p_len),
            response_times,
            num_reqs_per_sec: reqs,
            num_fail_per_sec: fails,
            hist_us: Some(hist_us),
        })
    }

    /// Adds a delta received from another node (Locust's `StatsEntry.extend`). With a lossless
    /// histogram the distribution is exact; otherwise Locust's millisecond buckets are used.
    pub(crate) fn extend_remote(&mut self, d: &EntryDelta) {
        self.num_requests = self.num_requests.saturating_add(d.num_requests);
        self.num_none_requests = self.num_none_requests.saturating_add(d.num_none_requests);
        self.num_failures = self.num_failures.saturating_add(d.num_failures);
        self.total_rt_us = self
            .total_rt_us
            .saturating_add(ms_to_us(d.total_response_time) as u128);
        if let Some(min) = d.min_response_time {
            let m = ms_to_us(min);
            self.min_us = Some(self.min_us.map_or(m, |x| x.min(m)));
        }
        self.max_us = self.max_us.max(ms_to_us(d.max_response_time));
        self.total_content_length = self
            .total_content_length
            .saturating_add(d.total_content_length);
        if d.start_time.is_finite() && d.start_time > 0.0 && d.start_time < self.start_time {
            self.start_time = d.start_time;
        }
        if let Some(t) = d.last_request_timestamp.filter(|t| t.is_finite()) {
            self.last_request_timestamp = Some(self.last_request_timestamp.map_or(t, |l| l.max(t)));
        }
        for &(sec, n) in &d.num_reqs_per_sec {
            let slot = self.per_sec.slot(sec);
            self.per_sec.reqs[slot] = self.per_sec.reqs[slot].saturating_add(n as u32);
        }
        for &(sec, n) in &d.num_fail_per_sec {
            let slot = self.per_sec.slot(sec);
            self.per_sec.fails[slot] = self.per_sec.fails[slot].saturating_add(n as u32);
        }
        let ring_sec = d
            .last_request_timestamp
            .filter(|t| t.is_finite())
            .map(|t| t.floor() as i64);
        let pairs: Vec<(u64, u64)> = match &d.hist_us {
            Some(h) => h.iter().map(|&(v, c)| (v.min(MAX_REMOTE_US), c)).collect(),
            None => d
                .response_times
                .iter()
                .map(|&(ms, c)| (ms.saturating_mul(1000).min(MAX_REMOTE_US), c))
                .collect(),
        };
        for (v, c) in pairs {
            if c == 0 {
                continue;
            }
            if self.hist.record_n(v, c).is_err() {
                self.hist.saturating_record(v);
            }
            if let Some(sec) = ring_sec {
                let q = self.hist.lowest_equivalent(v);
                self.ring_push(sec, q, c);
            }
        }
        self.compact();
    }
}

/// Locust's rounded millisecond buckets from ascending `(µs, count)` pairs, clamped to the
/// exact min/max as [`Entry::response_time_buckets`] does.
fn locust_buckets(
    pairs: impl Iterator<Item = (u64, u64)>,
    min_us: Option<u64>,
    max_us: u64,
) -> Vec<(u64, u64)> {
    let mut out: Vec<(u64, u64)> = Vec::new();
    for (us, c) in pairs {
        let us = match min_us {
            Some(min) => us.clamp(min, max_us),
            None => us,
        };
        let b = bucket_response_time(us as f64 / 1000.0);
        out.push((b, c));
    }
    out.sort_unstable_by_key(|p| p.0);
    out.dedup_by(|a, b| {
        if a.0 == b.0 {
            b.1 += a.1;
            true
        } else {
            false
        }
    });
    out
}
