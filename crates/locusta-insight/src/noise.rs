//! Is a difference between two runs more than sampling noise?
//!
//! `--baseline` compares this run with a previous one. Two runs of an unchanged system never give
//! the same p95: each run sees a different sample of requests. This module decides, per metric,
//! whether a difference is larger than what the two sample sizes explain, with methods that
//! assume nothing about the shape of the latency distribution:
//!
//! - **percentiles**: a distribution-free 95 % confidence interval for each run's quantile from
//!   its order statistics (the rank of the q-quantile among n requests is binomial(n, q), so
//!   the interval runs between the values at ranks `nq ± 1.96·sqrt(nq(1-q))`). A change counts
//!   when the two intervals do not overlap *and* it exceeds a floor: 5 % of the baseline and
//!   one bucket of Locust's 2-significant-digit response-time buckets (1 ms below 100 ms,
//!   10 ms below 1 s, ...), the resolution of the files a baseline is read from;
//! - **average**: Welch's two-sample z test on the means (variances from the histograms), with
//!   the same floor;
//! - **failure ratio**: the two-proportion z test, and at least 0.1 percentage point;
//! - **requests per second**: Welch's t test on the per-second request counts (first and last
//!   second left out as partial; at least 5 seconds on each side), and at least 5 %.
//!
//! What it cannot see: requests of one run are not independent (they share users, connections
//! and the server's state over time), so a run with stalls or a drift has wider real noise than
//! these intervals; and a second run on a busier machine is a real difference to these tests.
//! The floors keep tiny real differences from being called regressions.

use serde::Serialize;

/// Two-sided 95 % normal quantile.
pub const Z: f64 = 1.959_964;
/// A change below this share of the baseline value never counts.
pub const RELATIVE_FLOOR: f64 = 0.05;
/// A failure-ratio change below this (0.1 percentage point) never counts.
pub const FAIL_RATIO_FLOOR: f64 = 0.001;
/// Whole seconds needed on each side (after leaving out the first and last) to judge RPS.
pub const MIN_SECONDS: usize = 5;

/// What a comparison concluded about one metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Worse, beyond noise and the floor.
    Regressed,
    /// Better, beyond noise and the floor.
    Improved,
    /// The difference is what sampling noise (or the floor) allows.
    WithinNoise,
    /// Not enough data to judge (no requests, too few seconds, a CSV baseline's RPS).
    NotJudged,
}

impl Verdict {
    /// The words shown in tables.
    pub fn text(self) -> &'static str {
        match self {
            Verdict::Regressed => "regressed",
            Verdict::Improved => "improved",
            Verdict::WithinNoise => "within noise",
            Verdict::NotJudged => "not judged",
        }
    }
}

/// A verdict with the figures behind it, in plain words (`95% intervals 19-21 ms and 44-46 ms
/// do not overlap`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Judgement {
    /// The conclusion.
    pub verdict: Verdict,
    /// Why.
    pub detail: String,
}

fn judged(verdict: Verdict, detail: impl Into<String>) -> Judgement {
    Judgement {
        verdict,
        detail: detail.into(),
    }
}

/// The width of Locust's response-time bucket around `ms` (its rounding to 2 significant
/// digits): the finest difference a `--json-file` or CSV baseline can show.
pub fn bucket_width(ms: f64) -> f64 {
    let ms = ms.abs();
    if ms < 100.0 {
        1.0
    } else if ms < 1000.0 {
        10.0
    } else if ms < 10_000.0 {
        100.0
    } else {
        1000.0
    }
}

/// `ms` rounded to Locust's response-time bucket (2 significant digits from 100 ms on, whole
/// ms below), so values from different sources have the same resolution.
pub fn locust_bucket(ms: f64) -> f64 {
    locusta_stats::format::bucket_response_time(ms) as f64
}

/// The smallest change of a response time (ms) that may count: 5 % of the baseline and one
/// bucket.
pub fn time_floor(baseline_ms: f64) -> f64 {
    (baseline_ms.abs() * RELATIVE_FLOOR).max(bucket_width(baseline_ms))
}

/// A response-time distribution: request counts at values in ms, like Locust's
/// `response_times` buckets (counts may be fractional for one rebuilt from CSV percentiles).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Distribution {
    /// `(value ms, count)`, ascending by value, one entry per value, positive counts.
    points: Vec<(f64, f64)>,
    total: f64,
}

impl Distribution {
    /// From `(value ms, count)` pairs in any order (non-finite values and empty counts are
    /// left out).
    pub fn from_counts(pairs: impl IntoIterator<Item = (f64, f64)>) -> Distribution {
        let mut points: Vec<(f64, f64)> = pairs
            .into_iter()
            .filter(|(v, c)| v.is_finite() && c.is_finite() && *c > 0.0)
            .collect();
        points.sort_by(|a, b| a.0.total_cmp(&b.0));
        let mut merged: Vec<(f64, f64)> = Vec::with_capacity(points.len());
        for (v, c) in points {
            match merged.last_mut() {
                Some(last) if last.0 == v => last.1 += c,
                _ => merged.push((v, c)),
            }
        }
        let total = merged.iter().map(|p| p.1).sum();
        Distribution {
            points: merged,
            total,
        }
    }

    /// Rebuilt from `count` requests known only by some percentiles (a CSV file's columns):
    /// `(level 0..=1, value ms)` ascending by level, the minimum at level 0. The requests
    /// between two known levels are spread evenly between their values (rounded to Locust's
    /// buckets, like every other distribution here), so quantiles in between are
    /// interpolated: coarser than a histogram.
    pub fn from_percentiles(count: f64, points: &[(f64, f64)]) -> Distribution {
        const STEPS: usize = 10;
        let mut pairs = Vec::new();
        for w in points.windows(2) {
            let ((l0, v0), (l1, v1)) = (w[0], w[1]);
            let mass = count * (l1 - l0).max(0.0);
            if mass <= 0.0 {
                continue;
            }
            for j in 0..STEPS {
                let v = v0 + (v1 - v0) * (j as f64 + 0.5) / STEPS as f64;
                pairs.push((locust_bucket(v), mass / STEPS as f64));
            }
        }
        Distribution::from_counts(pairs)
    }

    /// Number of requests.
    pub fn count(&self) -> f64 {
        self.total
    }

    /// Adds another distribution's requests.
    pub fn merge(&mut self, other: &Distribution) {
        let pairs: Vec<(f64, f64)> = self
            .points
            .iter()
            .chain(other.points.iter())
            .copied()
            .collect();
        *self = Distribution::from_counts(pairs);
    }

    /// The value of the request at 0-based position `index` in ascending order.
    fn at_index(&self, index: f64) -> Option<f64> {
        let mut seen = 0.0;
        for &(v, c) in &self.points {
            seen += c;
            if seen > index {
                return Some(v);
            }
        }
        self.points.last().map(|p| p.0)
    }

    /// The `q`-quantile (0..=1) by Locust's rank rule (the request at position `floor(n·q)`);
    /// `None` without requests.
    pub fn quantile(&self, q: f64) -> Option<f64> {
        if self.total <= 0.0 {
            return None;
        }
        self.at_index((self.total * q).floor())
    }

    /// The distribution-free 95 % confidence interval of the `q`-quantile: the values at the
    /// positions `nq ± 1.96·sqrt(nq(1-q))`. A bound beyond the first or last request is
    /// unknown (infinite): 50 requests cannot bound their p95 from above, so a change of a
    /// high percentile of few requests is never beyond noise.
    pub fn quantile_interval(&self, q: f64) -> Option<(f64, f64)> {
        if self.total <= 0.0 {
            return None;
        }
        let n = self.total;
        let centre = n * q;
        let spread = Z * (n * q * (1.0 - q)).sqrt();
        let lo = (centre - spread).floor();
        let hi = (centre + spread).ceil();
        let low = if lo < 0.0 {
            f64::NEG_INFINITY
        } else {
            self.at_index(lo)?
        };
        let high = if hi > n - 1.0 {
            f64::INFINITY
        } else {
            self.at_index(hi)?
        };
        Some((low, high))
    }

    /// Mean and sample variance of the values.
    pub fn mean_variance(&self) -> Option<(f64, f64)> {
        if self.total <= 0.0 {
            return None;
        }
        let mean = self.points.iter().map(|(v, c)| v * c).sum::<f64>() / self.total;
        let ss: f64 = self
            .points
            .iter()
            .map(|(v, c)| c * (v - mean) * (v - mean))
            .sum();
        let var = if self.total > 1.0 {
            ss / (self.total - 1.0)
        } else {
            0.0
        };
        Some((mean, var))
    }
}

fn ms(v: f64) -> String {
    if v.is_infinite() {
        return if v > 0.0 {
            "unbounded".into()
        } else {
            "0 ms".into()
        };
    }
    if v >= 100.0 || v == v.trunc() {
        format!("{v:.0} ms")
    } else {
        format!("{v:.1} ms")
    }
}

/// Whether the `q`-quantile changed beyond noise. `higher is worse`.
pub fn percentile(base: &Distribution, cur: &Distribution, q: f64) -> Judgement {
    let (Some(bv), Some(cv), Some((bl, bh)), Some((cl, ch))) = (
        base.quantile(q),
        cur.quantile(q),
        base.quantile_interval(q),
        cur.quantile_interval(q),
    ) else {
        return judged(Verdict::NotJudged, "no timed requests on one side");
    };
    let intervals = format!(
        "95% intervals {}-{} and {}-{}",
        ms(bl),
        ms(bh),
        ms(cl),
        ms(ch)
    );
    let floor = time_floor(bv);
    let change = cv - bv;
    if cl > bh && change > floor {
        judged(
            Verdict::Regressed,
            format!("{intervals} do not overlap; the rise exceeds {}", ms(floor)),
        )
    } else if ch < bl && -change > floor {
        judged(
            Verdict::Improved,
            format!("{intervals} do not overlap; the fall exceeds {}", ms(floor)),
        )
    } else if cl > bh || ch < bl {
        judged(
            Verdict::WithinNoise,
            format!(
                "{intervals} do not overlap, but the change is under {}",
                ms(floor)
            ),
        )
    } else {
        judged(Verdict::WithinNoise, format!("{intervals} overlap"))
    }
}

/// Whether the mean response time changed beyond noise: Welch's z test on the exact means
/// `base_mean` and `cur_mean` with the histograms' variances. `higher is worse`.
pub fn mean(base: &Distribution, cur: &Distribution, base_mean: f64, cur_mean: f64) -> Judgement {
    let (Some((_, bv)), Some((_, cv))) = (base.mean_variance(), cur.mean_variance()) else {
        return judged(Verdict::NotJudged, "no timed requests on one side");
    };
    let se = (bv / base.count() + cv / cur.count()).sqrt();
    let change = cur_mean - base_mean;
    let floor = time_floor(base_mean);
    let noise = Z * se;
    let detail = format!(
        "difference {:+.2} ms, noise ±{:.2} ms, floor {}",
        change,
        noise,
        ms(floor)
    );
    if change.abs() > noise && change.abs() > floor {
        let verdict = if change > 0.0 {
            Verdict::Regressed
        } else {
            Verdict::Improved
        };
        judged(verdict, detail)
    } else {
        judged(Verdict::WithinNoise, detail)
    }
}

/// Whether the failure ratio changed beyond noise: the two-proportion z test. `higher is
/// worse`.
pub fn fail_ratio(base_fails: u64, base_n: u64, cur_fails: u64, cur_n: u64) -> Judgement {
    if base_n == 0 || cur_n == 0 {
        return judged(Verdict::NotJudged, "no requests on one side");
    }
    let (nb, nc) = (base_n as f64, cur_n as f64);
    let (pb, pc) = (base_fails as f64 / nb, cur_fails as f64 / nc);
    let pooled = (base_fails + cur_fails) as f64 / (nb + nc);
    let change = pc - pb;
    if pooled <= 0.0 || pooled >= 1.0 {
        return judged(Verdict::WithinNoise, "the same ratio in both runs");
    }
    let se = (pooled * (1.0 - pooled) * (1.0 / nb + 1.0 / nc)).sqrt();
    let z = change / se;
    let detail = format!("two-proportion z = {z:.2} (beyond ±{Z:.2} counts)");
    if z.abs() > Z && change.abs() >= FAIL_RATIO_FLOOR {
        let verdict = if change > 0.0 {
            Verdict::Regressed
        } else {
            Verdict::Improved
        };
        judged(verdict, detail)
    } else {
        judged(Verdict::WithinNoise, detail)
    }
}

/// Two-sided 95 % Student t quantiles by degrees of freedom (the smaller row applies).
const T_TABLE: [(f64, f64); 16] = [
    (1.0, 12.706),
    (2.0, 4.303),
    (3.0, 3.182),
    (4.0, 2.776),
    (5.0, 2.571),
    (6.0, 2.447),
    (7.0, 2.365),
    (8.0, 2.306),
    (9.0, 2.262),
    (10.0, 2.228),
    (12.0, 2.179),
    (15.0, 2.131),
    (20.0, 2.086),
    (30.0, 2.042),
    (60.0, 2.000),
    (120.0, 1.980),
];

fn t_quantile(df: f64) -> f64 {
    if df > 1000.0 {
        return Z;
    }
    T_TABLE
        .iter()
        .rev()
        .find(|(d, _)| *d <= df)
        .map_or(T_TABLE[0].1, |(_, t)| *t)
}

/// The whole seconds between the first and the last (both partial, so left out), with the
/// seconds without requests as zeros.
pub fn full_seconds(per_second: &[(i64, u64)]) -> Vec<f64> {
    let (Some(first), Some(last)) = (
        per_second.iter().map(|p| p.0).min(),
        per_second.iter().map(|p| p.0).max(),
    ) else {
        return Vec::new();
    };
    if last - first < 2 {
        return Vec::new();
    }
    let mut counts = vec![0.0; (last - first - 1) as usize];
    for &(s, n) in per_second {
        if s > first && s < last {
            counts[(s - first - 1) as usize] += n as f64;
        }
    }
    counts
}

fn mean_var(xs: &[f64]) -> (f64, f64) {
    let n = xs.len() as f64;
    let m = xs.iter().sum::<f64>() / n;
    let v = if xs.len() > 1 {
        xs.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / (n - 1.0)
    } else {
        0.0
    };
    (m, v)
}

/// Whether the request rate changed beyond noise: Welch's t test on the requests of each whole
/// second (`lower is worse`). Needs [`MIN_SECONDS`] on each side; `base` is empty for a CSV
/// baseline, which has no per-second counts.
pub fn rate(base: &[f64], cur: &[f64]) -> Judgement {
    if base.is_empty() {
        return judged(
            Verdict::NotJudged,
            "the baseline has no per-second counts (CSV); use a --json-file baseline",
        );
    }
    if base.len() < MIN_SECONDS || cur.len() < MIN_SECONDS {
        return judged(
            Verdict::NotJudged,
            format!(
                "too short to judge: {} and {} whole seconds, {MIN_SECONDS} needed on each side",
                base.len(),
                cur.len()
            ),
        );
    }
    let (mb, vb) = mean_var(base);
    let (mc, vc) = mean_var(cur);
    let (nb, nc) = (base.len() as f64, cur.len() as f64);
    let (sb, sc) = (vb / nb, vc / nc);
    let se = (sb + sc).sqrt();
    let change = mc - mb;
    let floor = mb.abs() * RELATIVE_FLOOR;
    let df = if sb + sc > 0.0 {
        (sb + sc).powi(2) / (sb * sb / (nb - 1.0) + sc * sc / (nc - 1.0))
    } else {
        f64::INFINITY
    };
    let noise = t_quantile(df) * se;
    let detail =
        format!("per-second means {mb:.1} and {mc:.1}, noise ±{noise:.1}/s, floor {floor:.1}/s");
    if change.abs() > noise && change.abs() > floor {
        let verdict = if change < 0.0 {
            Verdict::Regressed
        } else {
            Verdict::Improved
        };
        judged(verdict, detail)
    } else {
        judged(Verdict::WithinNoise, detail)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `n` requests spread over `lo..hi` ms, one per whole ms step, cycling.
    fn spread(n: u64, lo: u64, hi: u64) -> Distribution {
        let width = hi - lo + 1;
        Distribution::from_counts((0..width).map(|i| {
            let c = n / width + u64::from(i < n % width);
            ((lo + i) as f64, c as f64)
        }))
    }

    #[test]
    fn quantiles_follow_locusts_rank_rule() {
        let d = Distribution::from_counts([(1.0, 50.0), (2.0, 40.0), (30.0, 10.0)]);
        assert_eq!(d.count(), 100.0);
        assert_eq!(d.quantile(0.5), Some(2.0));
        assert_eq!(d.quantile(0.49), Some(1.0));
        assert_eq!(d.quantile(0.9), Some(30.0));
        assert_eq!(d.quantile(0.89), Some(2.0));
        assert_eq!(d.quantile(1.0), Some(30.0));
        assert_eq!(Distribution::default().quantile(0.5), None);
    }

    #[test]
    fn quantile_interval_narrows_with_more_requests() {
        let few = spread(100, 1, 100);
        let many = spread(100_000, 1, 100);
        let (fl, fh) = few.quantile_interval(0.5).unwrap();
        let (ml, mh) = many.quantile_interval(0.5).unwrap();
        assert!(fh - fl > mh - ml, "{fl}-{fh} vs {ml}-{mh}");
        assert!(fl < 50.0 && fh > 50.0);
        // 100 000 requests pin the median to about a ms.
        assert!(mh - ml <= 2.0, "{ml}-{mh}");
        // 20 requests cannot bound their p99 from above, nor 50 their p95.
        let tiny = spread(20, 1, 20);
        assert_eq!(tiny.quantile_interval(0.99).unwrap().1, f64::INFINITY);
        assert_eq!(
            spread(50, 1, 50).quantile_interval(0.95).unwrap().1,
            f64::INFINITY
        );
        assert!(spread(200, 1, 50)
            .quantile_interval(0.95)
            .unwrap()
            .1
            .is_finite());
    }

    #[test]
    fn a_shifted_distribution_regresses_and_the_same_one_does_not() {
        let base = spread(2000, 18, 24);
        let same = spread(1900, 18, 24);
        let slow = spread(2000, 40, 50);
        let j = percentile(&base, &same, 0.95);
        assert_eq!(j.verdict, Verdict::WithinNoise, "{j:?}");
        let j = percentile(&base, &slow, 0.95);
        assert_eq!(j.verdict, Verdict::Regressed, "{j:?}");
        assert!(j.detail.contains("do not overlap"), "{j:?}");
        assert_eq!(percentile(&slow, &base, 0.5).verdict, Verdict::Improved);
        // One bucket up at large counts: beyond the intervals, but under the floor.
        let up = spread(100_000, 21, 21);
        let base1 = spread(100_000, 20, 20);
        let j = percentile(&base1, &up, 0.5);
        assert_eq!(j.verdict, Verdict::WithinNoise, "{j:?}");
        assert!(j.detail.contains("under"), "{j:?}");
        // Few requests: a big change of a high percentile is noise (8 requests, one slow).
        let few_base = Distribution::from_counts([(1.0, 8.0)]);
        let few_cur = Distribution::from_counts([(1.0, 7.0), (3.0, 1.0)]);
        let j = percentile(&few_base, &few_cur, 0.99);
        assert_eq!(j.verdict, Verdict::WithinNoise, "{j:?}");
        assert!(j.detail.contains("unbounded"), "{j:?}");
        assert_eq!(
            percentile(&Distribution::default(), &base, 0.5).verdict,
            Verdict::NotJudged
        );
    }

    #[test]
    fn means_and_failure_ratios() {
        let base = spread(2000, 10, 30);
        let cur = spread(2000, 10, 31);
        let (bm, _) = base.mean_variance().unwrap();
        let (cm, _) = cur.mean_variance().unwrap();
        assert_eq!(mean(&base, &cur, bm, cm).verdict, Verdict::WithinNoise);
        let slow = spread(2000, 30, 60);
        let (sm, _) = slow.mean_variance().unwrap();
        assert_eq!(mean(&base, &slow, bm, sm).verdict, Verdict::Regressed);
        assert_eq!(mean(&slow, &base, sm, bm).verdict, Verdict::Improved);

        assert_eq!(fail_ratio(10, 1000, 12, 1000).verdict, Verdict::WithinNoise);
        assert_eq!(fail_ratio(10, 1000, 60, 1000).verdict, Verdict::Regressed);
        assert_eq!(fail_ratio(60, 1000, 10, 1000).verdict, Verdict::Improved);
        assert_eq!(fail_ratio(0, 1000, 0, 1000).verdict, Verdict::WithinNoise);
        // Significant but tiny: 0 of a million against 500 of a million is 0.05 points.
        assert_eq!(
            fail_ratio(0, 1_000_000, 500, 1_000_000).verdict,
            Verdict::WithinNoise
        );
        assert_eq!(fail_ratio(0, 0, 1, 10).verdict, Verdict::NotJudged);
    }

    #[test]
    fn rates_from_per_second_counts() {
        let per_second: Vec<(i64, u64)> = (100..112).map(|s| (s, 100 + (s % 3) as u64)).collect();
        let base = full_seconds(&per_second);
        assert_eq!(base.len(), 10);
        let same: Vec<f64> = base.iter().map(|v| v + 1.0).collect();
        assert_eq!(rate(&base, &same).verdict, Verdict::WithinNoise);
        let lower: Vec<f64> = base.iter().map(|v| v * 0.7).collect();
        assert_eq!(rate(&base, &lower).verdict, Verdict::Regressed);
        assert_eq!(rate(&lower, &base).verdict, Verdict::Improved);
        assert_eq!(rate(&base[..3], &base).verdict, Verdict::NotJudged);
        assert_eq!(rate(&[], &base).verdict, Verdict::NotJudged);
        // Gaps are seconds without requests.
        assert_eq!(
            full_seconds(&[(1, 5), (4, 5), (6, 1)]),
            vec![0.0, 0.0, 5.0, 0.0]
        );
        assert_eq!(t_quantile(4.5), 2.776);
        assert_eq!(t_quantile(1e9), Z);
        assert_eq!(locust_bucket(0.4), 0.0);
        assert_eq!(locust_bucket(15.6), 16.0);
        assert_eq!(locust_bucket(123.0), 120.0);
        assert_eq!(locust_bucket(4560.0), 4600.0);
    }

    #[test]
    fn percentiles_rebuild_a_coarse_distribution() {
        let d = Distribution::from_percentiles(
            1000.0,
            &[
                (0.0, 1.0),
                (0.5, 10.0),
                (0.95, 20.0),
                (0.99, 40.0),
                (1.0, 50.0),
            ],
        );
        assert!((d.count() - 1000.0).abs() < 1e-6);
        let p50 = d.quantile(0.5).unwrap();
        let p95 = d.quantile(0.95).unwrap();
        assert!((9.0..=11.0).contains(&p50), "{p50}");
        assert_eq!(p50, p50.round(), "in whole ms buckets");
        assert!((19.0..=21.5).contains(&p95), "{p95}");
    }
}
