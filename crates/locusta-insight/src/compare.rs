//! This run against its `--baseline`: per-endpoint deltas with a noise-aware verdict each.
//!
//! Endpoints are matched by method and name; those seen in only one of the runs are listed.
//! For each matched endpoint and the aggregate: requests per second, p50, p95, p99, average
//! response time and failure ratio, each with the baseline's value, this run's, the change (%,
//! or percentage points for the failure ratio) and a verdict from [`crate::noise`]. The same
//! comparison feeds the console summary, the HTML report and JUnit.

use serde::Serialize;

use locusta_stats::Aggregate;

use crate::baseline::{current_rows, Baseline, Kind, Row};
use crate::noise::{self, Judgement, Verdict};
use crate::threshold::Metric;

/// The metrics every endpoint is compared on, with their labels.
pub const METRICS: [(&str, Metric); 6] = [
    ("rps", Metric::Rps),
    ("p50", Metric::Percentile(0.5)),
    ("p95", Metric::Percentile(0.95)),
    ("p99", Metric::Percentile(0.99)),
    ("avg", Metric::Avg),
    ("fail_ratio", Metric::FailRatio),
];

/// One metric of one endpoint in both runs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MetricDelta {
    /// `p95`, `rps`, ...
    pub metric: &'static str,
    /// The baseline's value (ms, per second, or a ratio 0..1).
    pub baseline: Option<f64>,
    /// This run's value.
    pub current: Option<f64>,
    /// Relative change (0.1 = +10 %), or for the failure ratio the difference of the ratios.
    pub change: Option<f64>,
    /// The conclusion.
    pub verdict: Verdict,
    /// Why, in plain words.
    pub detail: String,
}

/// One endpoint (or the aggregate) in both runs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EndpointDelta {
    /// Request method ("" for the aggregate).
    pub method: String,
    /// Stats name (`Aggregated` for the aggregate).
    pub name: String,
    /// The compared metrics, in [`METRICS`] order.
    pub metrics: Vec<MetricDelta>,
}

impl EndpointDelta {
    /// `GET /x` or `Aggregated`.
    pub fn label(&self) -> String {
        if self.method.is_empty() {
            self.name.clone()
        } else {
            format!("{} {}", self.method, self.name)
        }
    }

    /// The metrics that regressed beyond noise.
    pub fn regressed(&self) -> Vec<&MetricDelta> {
        self.metrics
            .iter()
            .filter(|m| m.verdict == Verdict::Regressed)
            .collect()
    }
}

/// The whole comparison.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Comparison {
    /// The baseline's file.
    pub source: String,
    /// `json` or `csv`.
    pub format: &'static str,
    /// For a CSV baseline: why its verdicts are coarser.
    pub note: Option<String>,
    /// Matched endpoints in this run's order, the aggregate last.
    pub endpoints: Vec<EndpointDelta>,
    /// Endpoints only the baseline has.
    pub only_in_baseline: Vec<String>,
    /// Endpoints only this run has.
    pub only_in_run: Vec<String>,
}

/// What a CSV baseline cannot do, said wherever its verdicts are shown.
pub const CSV_NOTE: &str = "the baseline is a CSV file: it has percentiles but no histogram, so percentile and average verdicts interpolate between its columns (coarser), and requests per second are not judged; a --json-file baseline gives exact buckets";

/// The value of `metric` in `row` (ms, per second or a ratio), `None` when it has no timed
/// requests.
pub fn value(metric: Metric, row: &Row) -> Option<f64> {
    match metric {
        Metric::Percentile(q) => row.percentile(q),
        Metric::Avg => row.avg(),
        Metric::Min => row.min_response_time,
        Metric::Max => (row.timed() > 0).then_some(row.max_response_time),
        Metric::FailRatio => Some(row.fail_ratio()),
        Metric::Rps => Some(row.rps),
        Metric::Requests => Some(row.requests as f64),
        Metric::Failures => Some(row.failures as f64),
    }
}

/// Whether `metric` changed beyond noise from `base` to `cur`.
pub fn judge(metric: Metric, base: &Row, cur: &Row) -> Judgement {
    match metric {
        Metric::Percentile(q) => noise::percentile(&base.times, &cur.times, q),
        Metric::Avg => match (base.avg(), cur.avg()) {
            (Some(b), Some(c)) => noise::mean(&base.times, &cur.times, b, c),
            _ => Judgement {
                verdict: Verdict::NotJudged,
                detail: "no timed requests on one side".into(),
            },
        },
        Metric::FailRatio => {
            noise::fail_ratio(base.failures, base.requests, cur.failures, cur.requests)
        }
        Metric::Rps => noise::rate(
            &noise::full_seconds(&base.per_second),
            &noise::full_seconds(&cur.per_second),
        ),
        Metric::Min | Metric::Max | Metric::Requests | Metric::Failures => Judgement {
            verdict: Verdict::NotJudged,
            detail: "no noise model for this metric".into(),
        },
    }
}

fn delta(label: &'static str, metric: Metric, base: &Row, cur: &Row) -> MetricDelta {
    let b = value(metric, base);
    let c = value(metric, cur);
    let change = match (b, c) {
        (Some(b), Some(c)) if metric == Metric::FailRatio => Some(c - b),
        (Some(b), Some(c)) if b > 0.0 => Some((c - b) / b),
        (Some(b), Some(c)) if b == c => Some(0.0),
        _ => None,
    };
    let j = judge(metric, base, cur);
    MetricDelta {
        metric: label,
        baseline: b,
        current: c,
        change,
        verdict: j.verdict,
        detail: j.detail,
    }
}

fn endpoint(base: &Row, cur: &Row) -> EndpointDelta {
    EndpointDelta {
        method: cur.method.clone(),
        name: cur.name.clone(),
        metrics: METRICS
            .iter()
            .map(|&(label, m)| delta(label, m, base, cur))
            .collect(),
    }
}

/// Compares this run's statistics with the baseline.
pub fn compare(baseline: &Baseline, agg: &Aggregate) -> Comparison {
    let (rows, total) = current_rows(agg);
    let mut endpoints = Vec::new();
    let mut only_in_run = Vec::new();
    for cur in &rows {
        match baseline.row(&cur.method, &cur.name) {
            Some(base) => endpoints.push(endpoint(base, cur)),
            None => only_in_run.push(cur.label()),
        }
    }
    let only_in_baseline = baseline
        .rows
        .iter()
        .filter(|b| {
            !rows
                .iter()
                .any(|c| c.method == b.method && c.name == b.name)
        })
        .map(Row::label)
        .collect();
    endpoints.push(endpoint(&baseline.total, &total));
    Comparison {
        source: baseline.path.display().to_string(),
        format: match baseline.kind {
            Kind::Json => "json",
            Kind::Csv => "csv",
        },
        note: (baseline.kind == Kind::Csv).then(|| CSV_NOTE.to_string()),
        endpoints,
        only_in_baseline,
        only_in_run,
    }
}

/// `12.3/s`, `45 ms`, `1.20%`.
pub fn show(metric: &str, v: Option<f64>) -> String {
    let Some(v) = v else { return "-".into() };
    match metric {
        "rps" => format!("{v:.1}/s"),
        "fail_ratio" => format!("{:.2}%", v * 100.0),
        _ if v >= 100.0 || v == v.trunc() => format!("{v:.0} ms"),
        _ => format!("{v:.1} ms"),
    }
}

/// `+12.3%`, `-0.40 pts`.
pub fn show_change(d: &MetricDelta) -> String {
    match d.change {
        // From zero: no percentage, the difference in the metric's unit.
        None => match (d.baseline, d.current) {
            (Some(b), Some(c)) if d.metric == "rps" => format!("{:+.1}/s", c - b),
            (Some(b), Some(c)) => format!("{:+.1} ms", c - b),
            _ => "-".into(),
        },
        Some(c) if d.metric == "fail_ratio" => format!("{:+.2} pts", c * 100.0),
        Some(c) => format!("{:+.1}%", c * 100.0),
    }
}

impl Comparison {
    /// The endpoints (the aggregate included) with a metric that regressed beyond noise.
    pub fn regressions(&self) -> Vec<&EndpointDelta> {
        self.endpoints
            .iter()
            .filter(|e| !e.regressed().is_empty())
            .collect()
    }

    /// `GET /x (p95, avg); Aggregated (p95)`, or `None` without regressions.
    pub fn regression_summary(&self) -> Option<String> {
        let parts: Vec<String> = self
            .regressions()
            .iter()
            .map(|e| {
                let names: Vec<&str> = e.regressed().iter().map(|m| m.metric).collect();
                format!("{} ({})", e.label(), names.join(", "))
            })
            .collect();
        (!parts.is_empty()).then(|| parts.join("; "))
    }

    /// The console summary printed at the end of the run.
    pub fn text(&self) -> String {
        let matched = self.endpoints.len().saturating_sub(1);
        let mut out = format!(
            "Compared with the baseline {} ({matched} endpoint{} matched)\n",
            self.source,
            if matched == 1 { "" } else { "s" }
        );
        if let Some(note) = &self.note {
            out.push_str(&format!("  Note: {note}\n"));
        }
        let name_width = self
            .endpoints
            .iter()
            .map(|e| e.label().chars().count())
            .max()
            .unwrap_or(0)
            .clamp(10, 60);
        out.push_str(&format!(
            "{:<name_width$}  {:<10}  {:>10}  {:>10}  {:>10}  Verdict\n",
            "Endpoint", "Metric", "Baseline", "This run", "Change"
        ));
        out.push_str(&"-".repeat(name_width + 2 + 10 + 2 + 10 + 2 + 10 + 2 + 10 + 2 + 12));
        out.push('\n');
        for e in &self.endpoints {
            let label = e.label();
            for (i, m) in e.metrics.iter().enumerate() {
                let name = if i == 0 { label.as_str() } else { "" };
                out.push_str(&format!(
                    "{:<name_width$}  {:<10}  {:>10}  {:>10}  {:>10}  {}\n",
                    name,
                    m.metric,
                    show(m.metric, m.baseline),
                    show(m.metric, m.current),
                    show_change(m),
                    m.verdict.text()
                ));
            }
        }
        if !self.only_in_run.is_empty() {
            out.push_str(&format!(
                "Only in this run: {}\n",
                self.only_in_run.join(", ")
            ));
        }
        if !self.only_in_baseline.is_empty() {
            out.push_str(&format!(
                "Only in the baseline: {}\n",
                self.only_in_baseline.join(", ")
            ));
        }
        match self.regression_summary() {
            Some(s) => out.push_str(&format!("Regressed beyond noise: {s}\n")),
            None => out.push_str("No regression beyond noise.\n"),
        }
        out.push('\n');
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::baseline::parse_json;
    use locusta_stats::{Sample, StatsHub, StatsLimits};

    /// A run of 20 s: `/steady` at 20-24 ms, `/changing` at `base_ms`.., a few failures.
    fn run(changing_ms: u64, fails_every: u64) -> std::sync::Arc<StatsHub> {
        let hub = StatsHub::new_at(StatsLimits::default(), 1000.0);
        for i in 0..4000u64 {
            let t = 1000.0 + i as f64 / 200.0;
            hub.record_at(
                &Sample {
                    method: "GET",
                    name: "/steady",
                    response_time_us: Some((20 + i % 5) * 1000),
                    content_length: 1,
                    error: None,
                },
                t,
            );
            hub.record_at(
                &Sample {
                    method: "POST",
                    name: "/changing",
                    response_time_us: Some((changing_ms + i % 7) * 1000),
                    content_length: 1,
                    error: (i % fails_every == 0).then_some("boom"),
                },
                t,
            );
        }
        hub.merge();
        hub
    }

    #[test]
    fn a_slowed_endpoint_regresses_and_a_steady_one_does_not() {
        let base = parse_json(&run(10, 1000).read(locusta_stats::json::stats_json)).expect("json");
        let c = run(40, 20).read(|agg| compare(&base, agg));
        assert_eq!(c.endpoints.len(), 3);
        let steady = c
            .endpoints
            .iter()
            .find(|e| e.label() == "GET /steady")
            .expect("row");
        for m in &steady.metrics {
            assert_eq!(m.verdict, Verdict::WithinNoise, "{m:?}");
        }
        let slow = c
            .endpoints
            .iter()
            .find(|e| e.name == "/changing")
            .expect("row");
        let by = |name: &str| {
            slow.metrics
                .iter()
                .find(|m| m.metric == name)
                .expect("metric")
        };
        for name in ["p50", "p95", "p99", "avg", "fail_ratio"] {
            assert_eq!(
                by(name).verdict,
                Verdict::Regressed,
                "{name}: {:?}",
                by(name)
            );
        }
        assert_eq!(by("rps").verdict, Verdict::WithinNoise, "{:?}", by("rps"));
        assert!(by("p50").change.expect("change") > 2.0);
        assert!((by("fail_ratio").change.expect("points") - 0.049).abs() < 0.002);
        let text = c.text();
        assert!(text.contains("Compared with the baseline"), "{text}");
        assert!(text.contains("regressed"), "{text}");
        assert!(
            text.contains(
                "Regressed beyond noise: POST /changing (p50, p95, p99, avg, fail_ratio)"
            ),
            "{text}"
        );
        assert_eq!(c.endpoints.last().expect("total").name, "Aggregated");

        // The same run against itself: nothing moves.
        let same = run(10, 1000).read(|agg| compare(&base, agg));
        assert!(same.regressions().is_empty(), "{}", same.text());
        assert!(same.text().contains("No regression beyond noise."));
    }

    #[test]
    fn unmatched_endpoints_are_listed_on_both_sides() {
        let base = parse_json(&run(10, 1000).read(locusta_stats::json::stats_json)).expect("json");
        let hub = StatsHub::new_at(StatsLimits::default(), 1000.0);
        hub.record_at(
            &Sample {
                method: "GET",
                name: "/new",
                response_time_us: Some(1000),
                content_length: 1,
                error: None,
            },
            1001.0,
        );
        hub.merge();
        let c = hub.read(|agg| compare(&base, agg));
        assert_eq!(c.only_in_run, ["GET /new"]);
        assert_eq!(c.only_in_baseline.len(), 2);
        assert_eq!(c.endpoints.len(), 1, "only the aggregate");
        let text = c.text();
        assert!(text.contains("Only in this run: GET /new"), "{text}");
        assert!(text.contains("Only in the baseline: "), "{text}");
    }
}
