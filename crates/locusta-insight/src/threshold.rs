//! CI gates: `--threshold` expressions, their evaluation against the final statistics, the
//! pass/fail summary and the exit code.
//!
//! A build pipeline wants a yes or no, not a table to read. Each `--threshold` is one
//! condition on the aggregate or on one endpoint; all of them are checked when the run ends (and,
//! with `--threshold-abort-after`, the upper bounds while it runs, so a hopeless run stops early).
//!
//! Syntax: `[TARGET:]METRIC OP VALUE[UNIT]`
//! - TARGET: `GET /api/products` (method and name), `/api/products` (that name, every method
//!   summed up), or `Aggregated` (the default).
//! - METRIC: `p50` … `p99.9` (any percentile), `median`, `avg`, `min`, `max` (ms);
//!   `fail_ratio` (alias `fail`), a fraction or a percentage; `rps`; `requests`; `failures`.
//! - OP: `<`, `<=`, `>`, `>=`.
//! - UNIT: `ms` (default) or `s` for times, `%` for `fail_ratio`.
//! - VALUE may also be relative to the `--baseline` run's same metric on the same target:
//!   `baseline`, `baseline*1.1`, `baseline+10%` (relative; for `fail_ratio`, `+0.5%` is
//!   percentage points), `baseline+20ms`, `baseline-5` (see [`Relative`]).

use std::fmt;

use locusta_stats::{Aggregate, Entry};

use crate::baseline::{current_rows, Baseline, Row};
use crate::noise::Verdict;

/// Exit code of a run whose thresholds failed (Locust uses 0, 1 and 2; see the docs).
pub const THRESHOLD_EXIT_CODE: i32 = 3;

/// What a threshold measures.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Metric {
    /// A response-time percentile, `0.0..=1.0`.
    Percentile(f64),
    /// Mean response time.
    Avg,
    /// Fastest response time.
    Min,
    /// Slowest response time.
    Max,
    /// Failures / requests.
    FailRatio,
    /// Requests per second over the run.
    Rps,
    /// Number of requests.
    Requests,
    /// Number of failures.
    Failures,
}

impl Metric {
    fn is_time(self) -> bool {
        matches!(
            self,
            Metric::Percentile(_) | Metric::Avg | Metric::Min | Metric::Max
        )
    }
}

/// A comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
}

impl Op {
    fn holds(self, actual: f64, limit: f64) -> bool {
        match self {
            Op::Lt => actual < limit,
            Op::Le => actual <= limit,
            Op::Gt => actual > limit,
            Op::Ge => actual >= limit,
        }
    }

    /// Upper bounds can only get worse as a run goes on, so they may abort it early.
    pub fn is_upper_bound(self) -> bool {
        matches!(self, Op::Lt | Op::Le)
    }
}

/// Which statistics row a threshold looks at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// The "Aggregated" row.
    Aggregated,
    /// One row: method and name.
    Endpoint {
        /// Request method (`GET`), or `None` for every method with this name.
        method: Option<String>,
        /// Stats name.
        name: String,
    },
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Aggregated => f.write_str("Aggregated"),
            Target::Endpoint {
                method: Some(m),
                name,
            } => write!(f, "{m} {name}"),
            Target::Endpoint { method: None, name } => f.write_str(name),
        }
    }
}

/// One parsed `--threshold`.
#[derive(Debug, Clone, PartialEq)]
pub struct Threshold {
    /// The text as given.
    pub text: String,
    /// Which row.
    pub target: Target,
    /// What is measured.
    pub metric: Metric,
    /// How it is compared.
    pub op: Op,
    /// The limit, in the metric's base unit (ms, fraction, per second, count); unused when
    /// [`Threshold::relative`] is set.
    pub limit: f64,
    /// A limit relative to the `--baseline` run's value (`baseline*1.1`).
    pub relative: Option<Relative>,
    metric_text: String,
}

/// A limit computed from the baseline run's value of the same metric and target.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Relative {
    /// `baseline*F` (`baseline` alone is `baseline*1`; `baseline+10%` on a time or a rate is
    /// `baseline*1.1`).
    Times(f64),
    /// `baseline+V` or `baseline-V`, in the metric's unit (`baseline+0.5%` on `fail_ratio`:
    /// half a percentage point).
    Plus(f64),
}

impl Relative {
    /// The limit for a baseline value.
    pub fn limit(self, baseline: f64) -> f64 {
        match self {
            Relative::Times(f) => baseline * f,
            Relative::Plus(v) => baseline + v,
        }
    }
}

/// Parses what follows `baseline` in a threshold's value: nothing, `*F`, `+V` or `-V`.
fn parse_relative(metric: Metric, rest: &str) -> Result<Relative, String> {
    let rest = rest.trim();
    if rest.is_empty() {
        return Ok(Relative::Times(1.0));
    }
    let bad = || {
        format!(
            "'baseline{rest}' is not a baseline limit (use baseline, baseline*1.1, baseline+10%, baseline+20ms or, for fail_ratio, baseline+0.5%)"
        )
    };
    if let Some(f) = rest.strip_prefix('*') {
        let f: f64 = f.trim().parse().map_err(|_| bad())?;
        if !f.is_finite() || f < 0.0 {
            return Err(bad());
        }
        return Ok(Relative::Times(f));
    }
    let (sign, v) = if let Some(v) = rest.strip_prefix('+') {
        (1.0, v.trim())
    } else if let Some(v) = rest.strip_prefix('-') {
        (-1.0, v.trim())
    } else {
        return Err(bad());
    };
    if metric != Metric::FailRatio {
        if let Some(pct) = v.strip_suffix('%') {
            let p: f64 = pct.trim().parse().map_err(|_| bad())?;
            if !p.is_finite() || p < 0.0 {
                return Err(bad());
            }
            return Ok(Relative::Times(1.0 + sign * p / 100.0));
        }
    }
    if v.starts_with(['+', '-']) {
        return Err(bad());
    }
    let amount = parse_limit(metric, v)?;
    Ok(Relative::Plus(sign * amount))
}

const SYNTAX: &str = "expected [METHOD NAME:]METRIC<VALUE, e.g. 'p95<500ms', 'fail_ratio<1%', \
     'GET /api/products:p99<=1s', 'rps>100' (metrics: pNN, median, avg, min, max, fail_ratio, \
     rps, requests, failures; operators: < <= > >=)";

/// Parses a metric name (`p95`, `p99.9`, `median`, `fail_ratio`, ...).
pub fn parse_metric(text: &str) -> Result<Metric, String> {
    let t = text.trim().to_ascii_lowercase();
    Ok(match t.as_str() {
        "median" => Metric::Percentile(0.5),
        "avg" | "mean" | "average" => Metric::Avg,
        "min" => Metric::Min,
        "max" => Metric::Max,
        "fail_ratio" | "fail" | "failure_ratio" | "error_rate" => Metric::FailRatio,
        "rps" => Metric::Rps,
        "requests" | "num_requests" => Metric::Requests,
        "failures" | "num_failures" => Metric::Failures,
        _ => {
            let Some(num) = t.strip_prefix('p') else {
                return Err(format!("unknown metric '{}'", text.trim()));
            };
            match num.parse::<f64>() {
                Ok(v) if v.is_finite() && v > 0.0 && v <= 100.0 && !num.starts_with('+') => {
                    Metric::Percentile(v / 100.0)
                }
                _ => {
                    return Err(format!(
                        "unknown metric '{}' (a percentile is p1 .. p100, e.g. p95 or p99.9)",
                        text.trim()
                    ))
                }
            }
        }
    })
}

/// Splits `METRIC OP VALUE` at the operator.
pub(crate) fn split_comparison(expr: &str) -> Result<(&str, Op, &str), String> {
    let Some(pos) = expr.find(['<', '>', '=']) else {
        return Err("no comparison operator".to_string());
    };
    let (metric, rest) = expr.split_at(pos);
    let (op, value) = if let Some(v) = rest.strip_prefix("<=") {
        (Op::Le, v)
    } else if let Some(v) = rest.strip_prefix(">=") {
        (Op::Ge, v)
    } else if let Some(v) = rest.strip_prefix('<') {
        (Op::Lt, v)
    } else if let Some(v) = rest.strip_prefix('>') {
        (Op::Gt, v)
    } else {
        return Err(format!("'{rest}' is not a comparison (use < <= > >=)"));
    };
    if value.contains(['<', '>', '=']) {
        return Err(format!("more than one operator in '{expr}'"));
    }
    if metric.trim().is_empty() {
        return Err("no metric before the operator".to_string());
    }
    Ok((metric.trim(), op, value.trim()))
}

/// Parses a limit for `metric`, converting units to ms / fraction.
pub(crate) fn parse_limit(metric: Metric, value: &str) -> Result<f64, String> {
    let v = value.trim();
    if v.is_empty() {
        return Err("no value after the operator".to_string());
    }
    let split = v
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '-' || c == '+'))
        .unwrap_or(v.len());
    let (num, unit) = v.split_at(split);
    let n: f64 = num
        .parse()
        .ok()
        .filter(|n: &f64| n.is_finite() && *n >= 0.0)
        .ok_or_else(|| format!("'{v}' is not a non-negative number"))?;
    let unit = unit.trim().to_ascii_lowercase();
    if metric.is_time() {
        match unit.as_str() {
            "" | "ms" => Ok(n),
            "s" => Ok(n * 1000.0),
            "us" | "µs" => Ok(n / 1000.0),
            other => Err(format!("unknown time unit '{other}' (use ms or s)")),
        }
    } else if metric == Metric::FailRatio {
        match unit.as_str() {
            "%" => Ok(n / 100.0),
            "" if n <= 1.0 => Ok(n),
            "" => Err(format!(
                "a failure ratio is a fraction from 0 to 1 or a percentage; did you mean {n}%?"
            )),
            other => Err(format!(
                "unknown unit '{other}' for a failure ratio (use %)"
            )),
        }
    } else {
        match unit.as_str() {
            "" | "/s" if metric == Metric::Rps => Ok(n),
            "" => Ok(n),
            other => Err(format!("unexpected unit '{other}'")),
        }
    }
}

fn parse_target(text: &str) -> Result<Target, String> {
    let t = text.trim();
    if t.is_empty() {
        return Err("empty endpoint before ':'".to_string());
    }
    if t == "Aggregated" || t == "aggregated" || t == "total" {
        return Ok(Target::Aggregated);
    }
    if let Some((first, rest)) = t.split_once(' ') {
        let is_method = !first.is_empty()
            && first
                .chars()
                .all(|c| c.is_ascii_uppercase() || c == '_' || c == '-');
        if is_method && !rest.trim().is_empty() {
            return Ok(Target::Endpoint {
                method: Some(first.to_string()),
                name: rest.trim().to_string(),
            });
        }
    }
    Ok(Target::Endpoint {
        method: None,
        name: t.to_string(),
    })
}

impl Threshold {
    /// Parses one `--threshold` value; the error says what is wrong and shows the syntax.
    pub fn parse(text: &str) -> Result<Threshold, String> {
        let fail = |why: String| format!("invalid threshold '{text}': {why}; {SYNTAX}");
        let (target, expr) = match text.rsplit_once(':') {
            Some((t, e)) => (parse_target(t).map_err(fail)?, e),
            None => (Target::Aggregated, text),
        };
        let (metric_text, op, value) = split_comparison(expr).map_err(fail)?;
        let metric = parse_metric(metric_text).map_err(fail)?;
        let lower = value.to_ascii_lowercase();
        let (limit, relative) = match lower.strip_prefix("baseline") {
            Some(_) => (
                0.0,
                Some(parse_relative(metric, &value["baseline".len()..]).map_err(fail)?),
            ),
            None => (parse_limit(metric, value).map_err(fail)?, None),
        };
        Ok(Threshold {
            text: text.to_string(),
            target,
            metric,
            op,
            limit,
            relative,
            metric_text: metric_text.to_string(),
        })
    }

    /// Whether this threshold compares with the `--baseline` run.
    pub fn uses_baseline(&self) -> bool {
        self.relative.is_some()
    }

    /// The rows of `rows` this threshold's target names.
    fn pick<'a>(&self, rows: &'a [Row], total: &'a Row) -> Vec<&'a Row> {
        match &self.target {
            Target::Aggregated => vec![total],
            Target::Endpoint { method, name } => rows
                .iter()
                .filter(|r| &r.name == name && method.as_deref().is_none_or(|m| r.method == m))
                .collect(),
        }
    }

    /// The metric over `rows` (as [`Threshold::measure`], on rows of either run).
    fn measure_rows(&self, rows: &[&Row], whose: &str) -> Result<f64, String> {
        if rows.is_empty() {
            return Err(format!("no requests named '{}' {whose}", self.target));
        }
        let requests: u64 = rows.iter().map(|r| r.requests).sum();
        let failures: u64 = rows.iter().map(|r| r.failures).sum();
        let timed: u64 = rows.iter().map(|r| r.timed()).sum();
        if self.metric.is_time() && timed == 0 {
            return Err(format!("no timed requests for '{}' {whose}", self.target));
        }
        Ok(match self.metric {
            Metric::Requests => requests as f64,
            Metric::Failures => failures as f64,
            Metric::FailRatio if requests == 0 => 0.0,
            Metric::FailRatio => failures as f64 / requests as f64,
            Metric::Rps => rows.iter().map(|r| r.rps).sum(),
            Metric::Avg => rows.iter().map(|r| r.total_response_time).sum::<f64>() / timed as f64,
            Metric::Min => rows
                .iter()
                .filter_map(|r| r.min_response_time)
                .fold(f64::INFINITY, f64::min),
            Metric::Max => rows.iter().map(|r| r.max_response_time).fold(0.0, f64::max),
            Metric::Percentile(p) => rows
                .iter()
                .filter_map(|r| r.percentile(p))
                .fold(0.0, f64::max),
        })
    }

    /// Checks a baseline term: both runs measured alike (Locust's buckets, see
    /// [`crate::baseline`]), the limit from the baseline's value, and the noise verdict.
    fn evaluate_relative(&self, rel: Relative, agg: &Aggregate, baseline: &Baseline) -> Outcome {
        let failed = |why: String| Outcome {
            threshold: self.clone(),
            actual: None,
            passed: false,
            note: Some(why),
            baseline: None,
        };
        let (rows, total) = current_rows(agg);
        let cur = self.pick(&rows, &total);
        let base = self.pick(&baseline.rows, &baseline.total);
        let actual = match self.measure_rows(&cur, "were made") {
            Ok(v) => v,
            Err(why) => return failed(why),
        };
        let base_value = match self.measure_rows(&base, "are in the baseline") {
            Ok(v) => v,
            Err(why) => {
                return failed(format!(
                    "{why} ({}), so this term cannot be judged; compare with a baseline that has it or drop the term",
                    baseline.path.display()
                ))
            }
        };
        let limit = rel.limit(base_value);
        let verdict = crate::compare::judge(
            self.metric,
            &Row::sum("", "", base.iter().copied(), 0.0),
            &Row::sum("", "", cur.iter().copied(), 0.0),
        )
        .verdict;
        Outcome {
            threshold: self.clone(),
            actual: Some(actual),
            passed: self.op.holds(actual, limit),
            note: None,
            baseline: Some(BaselineTerm {
                value: base_value,
                limit,
                verdict,
            }),
        }
    }

    /// Checks the threshold against `agg`, and a baseline term against `baseline` too (without
    /// one, a baseline term fails with a note).
    pub fn evaluate_with(&self, agg: &Aggregate, baseline: Option<&Baseline>) -> Outcome {
        match (self.relative, baseline) {
            (None, _) => self.evaluate(agg),
            (Some(rel), Some(b)) => self.evaluate_relative(rel, agg, b),
            (Some(_), None) => Outcome {
                threshold: self.clone(),
                actual: None,
                passed: false,
                note: Some("compares with a baseline, but no --baseline was given".into()),
                baseline: None,
            },
        }
    }

    /// The measured value of this threshold's metric in `agg`; `Err` says why there is none.
    pub fn measure(&self, agg: &Aggregate) -> Result<f64, String> {
        let rows: Vec<&Entry> = match &self.target {
            Target::Aggregated => vec![agg.total()],
            Target::Endpoint { method, name } => agg
                .entries()
                .into_iter()
                .filter(|e| e.name() == name && method.as_deref().is_none_or(|m| e.method() == m))
                .collect(),
        };
        if rows.is_empty() {
            return Err(format!("no requests named '{}' were made", self.target));
        }
        let requests: u64 = rows.iter().map(|e| e.num_requests()).sum();
        let failures: u64 = rows.iter().map(|e| e.num_failures()).sum();
        let timed: u64 = rows
            .iter()
            .map(|e| e.num_requests() - e.num_none_requests())
            .sum();
        if self.metric.is_time() && timed == 0 {
            return Err(format!("no timed requests for '{}'", self.target));
        }
        Ok(match self.metric {
            Metric::Requests => requests as f64,
            Metric::Failures => failures as f64,
            Metric::FailRatio => {
                if requests == 0 {
                    0.0
                } else {
                    failures as f64 / requests as f64
                }
            }
            Metric::Rps => rows.iter().map(|e| e.total_rps()).sum(),
            Metric::Avg => rows.iter().map(|e| e.total_response_time()).sum::<f64>() / timed as f64,
            Metric::Min => rows
                .iter()
                .filter_map(|e| e.min_response_time())
                .fold(f64::INFINITY, f64::min),
            Metric::Max => rows
                .iter()
                .map(|e| e.max_response_time())
                .fold(0.0, f64::max),
            // Several methods under one name: the slowest row's percentile (conservative).
            Metric::Percentile(p) => rows
                .iter()
                .filter(|e| e.num_requests() > e.num_none_requests())
                .map(|e| e.percentile(p))
                .fold(0.0, f64::max),
        })
    }

    /// Checks the threshold against `agg`.
    pub fn evaluate(&self, agg: &Aggregate) -> Outcome {
        match self.measure(agg) {
            Ok(actual) => Outcome {
                threshold: self.clone(),
                actual: Some(actual),
                passed: self.op.holds(actual, self.limit),
                note: None,
                baseline: None,
            },
            Err(why) => Outcome {
                threshold: self.clone(),
                actual: None,
                passed: false,
                note: Some(why),
                baseline: None,
            },
        }
    }

    /// `value` shown in this metric's unit (`123ms`, `0.50%`, `41.2/s`).
    pub fn show(&self, value: f64) -> String {
        match self.metric {
            m if m.is_time() => format!("{}ms", trim_num(value)),
            Metric::FailRatio => format!("{}%", trim_num(value * 100.0)),
            Metric::Rps => format!("{}/s", trim_num(value)),
            _ => trim_num(value),
        }
    }
}

fn trim_num(v: f64) -> String {
    if (v == v.trunc() && v.abs() < 1e15) || v.abs() >= 100.0 {
        format!("{v:.0}")
    } else {
        let s = format!("{v:.2}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

/// Parses every `--threshold`; the first malformed one is the error.
pub fn parse_all(texts: &[String]) -> Result<Vec<Threshold>, String> {
    texts.iter().map(|t| Threshold::parse(t)).collect()
}

/// One threshold's result.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// The threshold.
    pub threshold: Threshold,
    /// What was measured, if anything.
    pub actual: Option<f64>,
    /// Whether it held.
    pub passed: bool,
    /// Why nothing could be measured.
    pub note: Option<String>,
    /// For a baseline term: the baseline's value, the limit and the noise verdict.
    pub baseline: Option<BaselineTerm>,
}

/// What a baseline term compared with.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BaselineTerm {
    /// The baseline run's value.
    pub value: f64,
    /// The limit computed from it.
    pub limit: f64,
    /// Whether the difference between the runs is beyond noise (the term is judged on the
    /// numbers either way).
    pub verdict: Verdict,
}

impl Outcome {
    /// `p95=123ms`, or the reason nothing was measured; for a baseline term also the
    /// baseline's value, the limit and whether the difference is beyond noise.
    pub fn actual_text(&self) -> String {
        let t = &self.threshold;
        match (self.actual, &self.note, &self.baseline) {
            (Some(v), _, Some(b)) => format!(
                "{}={} (baseline {}, limit {}; {})",
                t.metric_text,
                t.show(v),
                t.show(b.value),
                t.show(b.limit),
                match b.verdict {
                    Verdict::Regressed => "worse beyond noise",
                    Verdict::Improved => "better beyond noise",
                    Verdict::WithinNoise => "the difference is within noise",
                    Verdict::NotJudged => "noise not judged",
                }
            ),
            (Some(v), _, None) => format!("{}={}", t.metric_text, t.show(v)),
            (None, Some(n), _) => n.clone(),
            (None, None, _) => "-".to_string(),
        }
    }
}

/// Evaluates every threshold (baseline terms against `baseline`).
pub fn evaluate_all(
    thresholds: &[Threshold],
    agg: &Aggregate,
    baseline: Option<&Baseline>,
) -> Vec<Outcome> {
    thresholds
        .iter()
        .map(|t| t.evaluate_with(agg, baseline))
        .collect()
}

/// The first upper-bound threshold already broken (for `--threshold-abort-after`).
pub fn first_broken_upper_bound(
    thresholds: &[Threshold],
    agg: &Aggregate,
    baseline: Option<&Baseline>,
) -> Option<Outcome> {
    thresholds
        .iter()
        .filter(|t| t.op.is_upper_bound())
        .map(|t| t.evaluate_with(agg, baseline))
        .find(|o| o.actual.is_some() && !o.passed)
}

/// The pass/fail table printed at the end of the run.
pub fn summary_table(outcomes: &[Outcome]) -> String {
    let failed = outcomes.iter().filter(|o| !o.passed).count();
    let width = outcomes
        .iter()
        .map(|o| o.threshold.text.chars().count())
        .max()
        .unwrap_or(0)
        .max(9);
    let mut out = format!(
        "Thresholds: {} passed, {} failed\n{:<6} {:<width$}  {}\n",
        outcomes.len() - failed,
        failed,
        "Result",
        "Threshold",
        "Actual"
    );
    out.push_str(&"-".repeat(6 + 1 + width + 2 + 20));
    out.push('\n');
    for o in outcomes {
        out.push_str(&format!(
            "{:<6} {:<width$}  {}\n",
            if o.passed { "PASS" } else { "FAIL" },
            o.threshold.text,
            o.actual_text()
        ));
    }
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use locusta_stats::{Sample, StatsHub, StatsLimits};

    fn hub() -> std::sync::Arc<StatsHub> {
        let hub = StatsHub::new_at(StatsLimits::default(), 1000.0);
        for i in 0..100u64 {
            hub.record_at(
                &Sample {
                    method: "GET",
                    name: "/fast",
                    response_time_us: Some((10 + i % 10) * 1000),
                    content_length: 1,
                    error: None,
                },
                1001.0 + i as f64 / 10.0,
            );
            hub.record_at(
                &Sample {
                    method: "POST",
                    name: "/slow",
                    response_time_us: Some((400 + i) * 1000),
                    content_length: 1,
                    error: if i < 5 { Some("boom") } else { None },
                },
                1001.0 + i as f64 / 10.0,
            );
        }
        hub
    }

    #[test]
    fn parses_the_documented_forms() {
        let t = Threshold::parse("p95<500ms").unwrap();
        assert_eq!(t.target, Target::Aggregated);
        assert_eq!(t.metric, Metric::Percentile(0.95));
        assert_eq!(t.op, Op::Lt);
        assert_eq!(t.limit, 500.0);
        let t = Threshold::parse("fail_ratio<1%").unwrap();
        assert_eq!(t.metric, Metric::FailRatio);
        assert!((t.limit - 0.01).abs() < 1e-12);
        let t = Threshold::parse("GET /api/products:p99.9 <= 1.5s").unwrap();
        assert_eq!(
            t.target,
            Target::Endpoint {
                method: Some("GET".into()),
                name: "/api/products".into()
            }
        );
        assert!(matches!(t.metric, Metric::Percentile(p) if (p - 0.999).abs() < 1e-12));
        assert_eq!(t.op, Op::Le);
        assert_eq!(t.limit, 1500.0);
        let t = Threshold::parse("http://h:8080/x:avg<20").unwrap();
        assert_eq!(
            t.target,
            Target::Endpoint {
                method: None,
                name: "http://h:8080/x".into()
            }
        );
        assert_eq!(Threshold::parse("rps>=100").unwrap().op, Op::Ge);
    }

    #[test]
    fn malformed_expressions_are_explained() {
        for (bad, says) in [
            ("p95", "no comparison operator"),
            ("p95<", "no value after the operator"),
            ("p95<fast", "not a non-negative number"),
            ("p95<5min", "unknown time unit"),
            ("p101<5", "unknown metric"),
            ("latency<5", "unknown metric"),
            ("fail_ratio<5", "did you mean 5%"),
            ("p95=5", "is not a comparison"),
            ("p95<<5", "more than one operator"),
            (":p95<5", "empty endpoint"),
            ("<5", "no metric"),
        ] {
            let e = Threshold::parse(bad).unwrap_err();
            assert!(e.contains(says), "{bad}: {e}");
            assert!(e.contains("e.g. 'p95<500ms'"), "{e}");
        }
    }

    #[test]
    fn evaluates_aggregate_and_endpoints() {
        let hub = hub();
        hub.read(|agg| {
            let o = Threshold::parse("/fast:p95<50ms").unwrap().evaluate(agg);
            assert!(o.passed, "{o:?}");
            let o = Threshold::parse("POST /slow:p95<450ms")
                .unwrap()
                .evaluate(agg);
            assert!(!o.passed);
            assert!(o.actual.unwrap() >= 490.0, "{o:?}");
            let o = Threshold::parse("GET /slow:p95<450ms")
                .unwrap()
                .evaluate(agg);
            assert!(!o.passed);
            assert!(o.note.unwrap().contains("no requests named 'GET /slow'"));
            let o = Threshold::parse("fail_ratio<1%").unwrap().evaluate(agg);
            assert!(!o.passed); // 5 of 200 = 2.5%
            assert!((o.actual.unwrap() - 0.025).abs() < 1e-9);
            assert!(
                Threshold::parse("fail_ratio<3%")
                    .unwrap()
                    .evaluate(agg)
                    .passed
            );
            assert!(
                Threshold::parse("requests>=200")
                    .unwrap()
                    .evaluate(agg)
                    .passed
            );
            let t = [
                Threshold::parse("requests>1000").unwrap(),
                Threshold::parse("max<100ms").unwrap(),
            ];
            let broken = first_broken_upper_bound(&t, agg, None).unwrap();
            assert_eq!(broken.threshold.text, "max<100ms");
            let table = summary_table(&evaluate_all(&t, agg, None));
            assert!(
                table.starts_with("Thresholds: 0 passed, 2 failed"),
                "{table}"
            );
            assert!(table.contains("FAIL   max<100ms"), "{table}");
        });
    }

    #[test]
    fn parses_baseline_terms() {
        let rel = |text: &str| Threshold::parse(text).unwrap().relative.unwrap();
        assert_eq!(rel("p95 < baseline*1.10"), Relative::Times(1.10));
        assert_eq!(rel("p95<baseline"), Relative::Times(1.0));
        assert_eq!(rel("p95<Baseline * 1.5"), Relative::Times(1.5));
        assert!(matches!(rel("p95<baseline+10%"), Relative::Times(f) if (f - 1.1).abs() < 1e-12));
        assert_eq!(rel("p95<baseline+20ms"), Relative::Plus(20.0));
        assert_eq!(rel("avg<baseline+1s"), Relative::Plus(1000.0));
        assert!(
            matches!(rel("fail_ratio < baseline+0.5%"), Relative::Plus(v) if (v - 0.005).abs() < 1e-12)
        );
        assert_eq!(rel("rps > baseline*0.9"), Relative::Times(0.9));
        assert!(matches!(rel("rps>baseline-10%"), Relative::Times(f) if (f - 0.9).abs() < 1e-12));
        assert_eq!(rel("rps>baseline-5"), Relative::Plus(-5.0));
        let t = Threshold::parse("GET /api/x:p95 < baseline*1.2").unwrap();
        assert!(t.uses_baseline());
        assert_eq!(
            t.target,
            Target::Endpoint {
                method: Some("GET".into()),
                name: "/api/x".into()
            }
        );
        assert!(!Threshold::parse("p95<500").unwrap().uses_baseline());
        for bad in [
            "p95<baseline*",
            "p95<baseline*x",
            "p95<baseline/2",
            "p95<baseline+",
            "p95<baseline+5min",
            "p95<baseline+-5",
            "fail_ratio<baseline+5",
        ] {
            let e = Threshold::parse(bad).unwrap_err();
            assert!(
                e.starts_with(&format!("invalid threshold '{bad}'")),
                "{bad}: {e}"
            );
        }
    }

    #[test]
    fn baseline_terms_evaluate_on_both_runs() {
        let base = crate::baseline::parse_json(&hub().read(locusta_stats::json::stats_json))
            .expect("baseline");
        let hub = hub();
        hub.read(|agg| {
            let o = Threshold::parse("POST /slow:p95<baseline*1.1")
                .unwrap()
                .evaluate_with(agg, Some(&base));
            assert!(o.passed, "{o:?}");
            let b = o.baseline.expect("baseline term");
            assert_eq!(b.verdict, Verdict::WithinNoise);
            assert!((b.limit - b.value * 1.1).abs() < 1e-9);
            let text = o.actual_text();
            assert!(text.contains("the difference is within noise"), "{text}");
            assert!(text.contains("baseline 490ms"), "{text}");
            // The same numbers: a strict "better than the baseline" fails, within noise.
            let o = Threshold::parse("p95<baseline")
                .unwrap()
                .evaluate_with(agg, Some(&base));
            assert!(!o.passed, "{o:?}");
            assert!(o.actual_text().contains("within noise"));
            let o = Threshold::parse("fail_ratio<=baseline+0.5%")
                .unwrap()
                .evaluate_with(agg, Some(&base));
            assert!(o.passed, "{o:?}");
            let o = Threshold::parse("GET /nowhere:p95<baseline*2")
                .unwrap()
                .evaluate_with(agg, Some(&base));
            assert!(!o.passed);
            assert!(o
                .note
                .unwrap()
                .contains("no requests named 'GET /nowhere' were made"));
            let o = Threshold::parse("p95<baseline")
                .unwrap()
                .evaluate_with(agg, None);
            assert!(o.note.unwrap().contains("no --baseline"));
        });
        // An endpoint only this run has: the term fails and says why.
        let other = StatsHub::new_at(StatsLimits::default(), 1000.0);
        other.record_at(
            &Sample {
                method: "GET",
                name: "/new",
                response_time_us: Some(1000),
                content_length: 1,
                error: None,
            },
            1001.0,
        );
        other.merge();
        other.read(|agg| {
            let o = Threshold::parse("GET /new:p95<baseline*2")
                .unwrap()
                .evaluate_with(agg, Some(&base));
            assert!(!o.passed);
            let note = o.note.unwrap();
            assert!(
                note.contains("no requests named 'GET /new' are in the baseline"),
                "{note}"
            );
            assert!(note.contains("cannot be judged"), "{note}");
        });
    }
}
