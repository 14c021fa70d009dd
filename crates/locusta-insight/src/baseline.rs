//! A previous run read back from its output files, for `--baseline PATH`.
//!
//! Users already keep the files a run writes, so a baseline is one of them rather than a format
//! of our own: the `--json-file` output (Locust's format, written by Locust or by locusta), whose
//! entries carry Locust's `response_times` buckets (2 significant digits: enough to rebuild
//! each endpoint's latency distribution) and its requests per second; or the `--csv` output
//! (`PREFIX_stats.csv`, or the prefix), which has only some percentiles, so the distribution is
//! interpolated between them and requests per second cannot be judged. This run's statistics
//! are turned into the same [`Row`]s (same buckets), so both sides are compared alike.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use locusta_stats::{Aggregate, Entry};
use serde_json::Value;

use crate::noise::Distribution;

/// One statistics row (an endpoint, or the aggregate) of either run.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// Request method ("" for the aggregate).
    pub method: String,
    /// Stats name.
    pub name: String,
    /// Requests, failures included.
    pub requests: u64,
    /// Requests reported without a response time.
    pub none_requests: u64,
    /// Failed requests.
    pub failures: u64,
    /// Sum of the response times, ms.
    pub total_response_time: f64,
    /// Fastest response, ms.
    pub min_response_time: Option<f64>,
    /// Slowest response, ms.
    pub max_response_time: f64,
    /// Requests per second over the run.
    pub rps: f64,
    /// Response times, in Locust's buckets.
    pub times: Distribution,
    /// `(unix second, requests)`; empty when the source has none (CSV).
    pub per_second: Vec<(i64, u64)>,
}

impl Row {
    /// Requests with a response time.
    pub fn timed(&self) -> u64 {
        self.requests.saturating_sub(self.none_requests)
    }

    /// Mean response time, ms.
    pub fn avg(&self) -> Option<f64> {
        match self.timed() {
            0 => None,
            n => Some(self.total_response_time / n as f64),
        }
    }

    /// Failures / requests.
    pub fn fail_ratio(&self) -> f64 {
        if self.requests == 0 {
            0.0
        } else {
            self.failures as f64 / self.requests as f64
        }
    }

    /// A response-time percentile (0..=1) from the buckets.
    pub fn percentile(&self, q: f64) -> Option<f64> {
        self.times.quantile(q)
    }

    /// `GET /x`, or `Aggregated`.
    pub fn label(&self) -> String {
        if self.method.is_empty() {
            self.name.clone()
        } else {
            format!("{} {}", self.method, self.name)
        }
    }

    /// This run's entry as a row: Locust's buckets (as its `--json-file` would hold them) and
    /// requests per second over `window_s` (see [`run_window`]).
    pub fn from_entry(e: &Entry, window_s: f64) -> Row {
        Row {
            method: e.method().to_string(),
            name: e.name().to_string(),
            requests: e.num_requests(),
            none_requests: e.num_none_requests(),
            failures: e.num_failures(),
            total_response_time: e.total_response_time(),
            min_response_time: e.min_response_time(),
            max_response_time: e.max_response_time(),
            rps: rate(e.num_requests(), window_s),
            times: Distribution::from_counts(
                e.response_time_buckets()
                    .into_iter()
                    .map(|(b, c)| (b as f64, c as f64)),
            ),
            per_second: e.num_reqs_per_sec(),
        }
    }

    /// Several rows summed into one (the aggregate of a JSON file, or every method of a name).
    pub fn sum<'a>(
        method: &str,
        name: &str,
        rows: impl IntoIterator<Item = &'a Row>,
        window_s: f64,
    ) -> Row {
        let mut out = Row {
            method: method.to_string(),
            name: name.to_string(),
            requests: 0,
            none_requests: 0,
            failures: 0,
            total_response_time: 0.0,
            min_response_time: None,
            max_response_time: 0.0,
            rps: 0.0,
            times: Distribution::default(),
            per_second: Vec::new(),
        };
        let mut seconds: BTreeMap<i64, u64> = BTreeMap::new();
        for r in rows {
            out.requests += r.requests;
            out.none_requests += r.none_requests;
            out.failures += r.failures;
            out.total_response_time += r.total_response_time;
            out.min_response_time = match (out.min_response_time, r.min_response_time) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            out.max_response_time = out.max_response_time.max(r.max_response_time);
            out.rps += r.rps;
            out.times.merge(&r.times);
            for &(s, n) in &r.per_second {
                *seconds.entry(s).or_default() += n;
            }
        }
        if window_s > 0.0 {
            out.rps = rate(out.requests, window_s);
        }
        out.per_second = seconds.into_iter().collect();
        out
    }
}

fn rate(n: u64, window_s: f64) -> f64 {
    if window_s > 0.0 {
        n as f64 / window_s
    } else {
        0.0
    }
}

/// The run's length as its `--json-file` shows it: from the earliest entry's start to the
/// latest request. Both runs' requests per second use it, so they are computed alike.
pub fn run_window(agg: &Aggregate) -> f64 {
    let entries = agg.entries();
    let start = entries
        .iter()
        .map(|e| e.start_time())
        .fold(f64::INFINITY, f64::min);
    let end = entries
        .iter()
        .filter_map(|e| e.last_request_timestamp())
        .fold(f64::NEG_INFINITY, f64::max);
    (end - start).max(0.0)
}

/// This run's rows (endpoints in the statistics table's order) and its aggregate.
pub fn current_rows(agg: &Aggregate) -> (Vec<Row>, Row) {
    let window = run_window(agg);
    let rows: Vec<Row> = agg
        .entries()
        .into_iter()
        .filter(|e| e.num_requests() > 0 || e.num_failures() > 0)
        .map(|e| Row::from_entry(e, window))
        .collect();
    let mut total = Row::from_entry(agg.total(), window);
    total.method = String::new();
    total.name = "Aggregated".into();
    (rows, total)
}

/// Which output a baseline was read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `--json-file` (Locust's or ours): buckets and per-second counts.
    Json,
    /// `--csv`'s `_stats.csv`: percentiles only.
    Csv,
}

/// A previous run's statistics.
#[derive(Debug, Clone)]
pub struct Baseline {
    /// The file read.
    pub path: PathBuf,
    /// Its format.
    pub kind: Kind,
    /// Its endpoints, in the file's order.
    pub rows: Vec<Row>,
    /// Its aggregate.
    pub total: Row,
}

impl Baseline {
    /// Reads `--baseline PATH`: a `--json-file` output (with or without its `.json`), a
    /// `_stats.csv` file or a `--csv` prefix. The error says what is wrong and what to give.
    pub fn load(path: &str) -> Result<Baseline, String> {
        let file = resolve(path)?;
        let text = std::fs::read_to_string(&file).map_err(|e| {
            format!(
                "--baseline {path}: cannot read {}: {e}; give a previous run's --json-file output or its --csv prefix",
                file.display()
            )
        })?;
        let shown = file.display().to_string();
        let trimmed = text.trim_start();
        let mut baseline = if trimmed.starts_with('[') || trimmed.starts_with('{') {
            parse_json(&text)
        } else {
            parse_csv(&text)
        }
        .map_err(|e| format!("--baseline {shown}: {e}"))?;
        baseline.path = file;
        if baseline.total.requests == 0 {
            return Err(format!(
                "--baseline {shown}: the baseline run made no requests, so there is nothing to compare with; give the output of a run that made requests"
            ));
        }
        Ok(baseline)
    }

    /// The row of `method` and `name`.
    pub fn row(&self, method: &str, name: &str) -> Option<&Row> {
        self.rows
            .iter()
            .find(|r| r.method == method && r.name == name)
    }

    /// `path (JSON, 3 endpoints, 2400 requests)`.
    pub fn describe(&self) -> String {
        format!(
            "{} ({}, {} endpoint{}, {} requests)",
            self.path.display(),
            match self.kind {
                Kind::Json => "JSON",
                Kind::Csv => "CSV",
            },
            self.rows.len(),
            if self.rows.len() == 1 { "" } else { "s" },
            self.total.requests
        )
    }
}

/// The file `--baseline` names: the path itself, else `PATH.json` (what `--json-file PATH`
/// wrote), else `PATH_stats.csv` (what `--csv PATH` wrote).
fn resolve(path: &str) -> Result<PathBuf, String> {
    let given = PathBuf::from(path);
    if given.is_file() {
        return Ok(given);
    }
    for suffix in [".json", "_stats.csv"] {
        let candidate = PathBuf::from(format!("{path}{suffix}"));
        if candidate.is_file() {
            return Ok(candidate);
        }
    }
    let why = if given.is_dir() {
        "is a directory"
    } else {
        "does not exist"
    };
    Err(format!(
        "--baseline {path}: {} {why} (nor {path}.json or {path}_stats.csv); give a previous run's --json-file output or its --csv prefix",
        Path::new(path).display()
    ))
}

fn num(entry: &Value, key: &str) -> Result<Option<f64>, String> {
    match entry.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v
            .as_f64()
            .filter(|f| f.is_finite())
            .map(Some)
            .ok_or_else(|| format!("\"{key}\" is not a number")),
    }
}

fn count(entry: &Value, key: &str) -> Result<Option<u64>, String> {
    match entry.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v
            .as_u64()
            .map(Some)
            .ok_or_else(|| format!("\"{key}\" is not a whole number")),
    }
}

fn counts_by_key(entry: &Value, key: &str) -> Result<Vec<(f64, u64)>, String> {
    let Some(v) = entry.get(key) else {
        return Ok(Vec::new());
    };
    let Some(map) = v.as_object() else {
        return Err(format!("\"{key}\" is not an object"));
    };
    map.iter()
        .map(|(k, v)| {
            let at: f64 = k
                .trim()
                .parse()
                .map_err(|_| format!("\"{key}\" has the key '{k}', not a number"))?;
            let n = v
                .as_u64()
                .ok_or_else(|| format!("\"{key}\".\"{k}\" is not a whole number"))?;
            Ok((at, n))
        })
        .collect()
}

const JSON_SHAPE: &str = "expected the array of statistics entries Locust's --json-file writes";

/// Reads a `--json-file` document (Locust's `StatsEntry.serialize()` objects).
pub fn parse_json(text: &str) -> Result<Baseline, String> {
    let doc: Value =
        serde_json::from_str(text).map_err(|e| format!("not valid JSON ({e}); {JSON_SHAPE}"))?;
    let Some(items) = doc.as_array() else {
        return Err(format!("the JSON is not an array; {JSON_SHAPE}"));
    };
    let mut rows = Vec::with_capacity(items.len());
    let mut spans = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let row = json_row(item).map_err(|e| format!("entry {}: {e}; {JSON_SHAPE}", i + 1))?;
        let start = num(item, "start_time").ok().flatten();
        let last = num(item, "last_request_timestamp").ok().flatten();
        spans.push((start, last));
        rows.push(row);
    }
    let start = spans
        .iter()
        .filter_map(|s| s.0)
        .fold(f64::INFINITY, f64::min);
    let end = spans
        .iter()
        .filter_map(|s| s.1)
        .fold(f64::NEG_INFINITY, f64::max);
    let window = if end > start { end - start } else { 0.0 };
    for r in &mut rows {
        r.rps = rate(r.requests, window);
    }
    let total = Row::sum("", "Aggregated", &rows, window);
    Ok(Baseline {
        path: PathBuf::new(),
        kind: Kind::Json,
        rows,
        total,
    })
}

fn json_row(item: &Value) -> Result<Row, String> {
    if !item.is_object() {
        return Err("not an object".into());
    }
    let text = |key: &str| -> Result<String, String> {
        item.get(key)
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| format!("no \"{key}\" text"))
    };
    let requests = count(item, "num_requests")?.ok_or("no \"num_requests\"")?;
    let buckets = counts_by_key(item, "response_times")?;
    if item.get("response_times").is_none() {
        return Err("no \"response_times\" buckets".into());
    }
    Ok(Row {
        method: text("method")?,
        name: text("name")?,
        requests,
        none_requests: count(item, "num_none_requests")?.unwrap_or(0),
        failures: count(item, "num_failures")?.unwrap_or(0),
        total_response_time: num(item, "total_response_time")?.unwrap_or(0.0),
        min_response_time: num(item, "min_response_time")?,
        max_response_time: num(item, "max_response_time")?.unwrap_or(0.0),
        rps: 0.0,
        times: Distribution::from_counts(buckets.into_iter().map(|(b, c)| (b, c as f64))),
        per_second: counts_by_key(item, "num_reqs_per_sec")?
            .into_iter()
            .map(|(s, n)| (s as i64, n))
            .collect(),
    })
}

const CSV_SHAPE: &str =
    "expected the PREFIX_stats.csv file --csv writes (Type,Name,Request Count,...)";

/// Reads a `_stats.csv` file (Locust's or ours).
pub fn parse_csv(text: &str) -> Result<Baseline, String> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .from_reader(text.as_bytes());
    let header: Vec<String> = reader
        .headers()
        .map_err(|e| format!("cannot read the CSV header ({e}); {CSV_SHAPE}"))?
        .iter()
        .map(str::to_string)
        .collect();
    if header.first().map(String::as_str) == Some("Timestamp") {
        return Err(
            "this is a _stats_history.csv file; give the _stats.csv file (or the --csv prefix)"
                .into(),
        );
    }
    let col = |name: &str| header.iter().position(|h| h == name);
    let need = |name: &str| col(name).ok_or_else(|| format!("no \"{name}\" column; {CSV_SHAPE}"));
    let (c_type, c_name, c_requests, c_failures) = (
        need("Type")?,
        need("Name")?,
        need("Request Count")?,
        need("Failure Count")?,
    );
    let (c_avg, c_min, c_max, c_rps) = (
        need("Average Response Time")?,
        need("Min Response Time")?,
        need("Max Response Time")?,
        need("Requests/s")?,
    );
    let percentile_cols: Vec<(f64, usize)> = header
        .iter()
        .enumerate()
        .filter_map(|(i, h)| {
            let level: f64 = h.strip_suffix('%')?.parse().ok()?;
            Some((level / 100.0, i))
        })
        .collect();
    if percentile_cols.is_empty() {
        return Err(format!(
            "no percentile columns (50%, 95%, ...); {CSV_SHAPE}"
        ));
    }
    let mut rows = Vec::new();
    let mut total = None;
    for (i, record) in reader.records().enumerate() {
        let record = record.map_err(|e| format!("row {}: {e}; {CSV_SHAPE}", i + 2))?;
        let field = |c: usize| record.get(c).unwrap_or("").trim();
        let value = |c: usize| -> Result<Option<f64>, String> {
            match field(c) {
                "" | "N/A" => Ok(None),
                s => s.parse::<f64>().map(Some).map_err(|_| {
                    format!(
                        "row {}: '{s}' in \"{}\" is not a number; {CSV_SHAPE}",
                        i + 2,
                        header[c]
                    )
                }),
            }
        };
        let whole = |c: usize| -> Result<u64, String> {
            field(c).parse::<u64>().map_err(|_| {
                format!(
                    "row {}: '{}' in \"{}\" is not a whole number; {CSV_SHAPE}",
                    i + 2,
                    field(c),
                    header[c]
                )
            })
        };
        let requests = whole(c_requests)?;
        let min = value(c_min)?;
        let mut points = vec![(0.0, min.unwrap_or(0.0))];
        for &(level, c) in &percentile_cols {
            if let Some(v) = value(c)? {
                points.push((level, v));
            }
        }
        let row = Row {
            method: field(c_type).to_string(),
            name: field(c_name).to_string(),
            requests,
            none_requests: 0,
            failures: whole(c_failures)?,
            total_response_time: value(c_avg)?.unwrap_or(0.0) * requests as f64,
            min_response_time: min,
            max_response_time: value(c_max)?.unwrap_or(0.0),
            rps: value(c_rps)?.unwrap_or(0.0),
            times: if requests > 0 && points.len() > 1 {
                Distribution::from_percentiles(requests as f64, &points)
            } else {
                Distribution::default()
            },
            per_second: Vec::new(),
        };
        if row.method.is_empty() && row.name == "Aggregated" {
            total = Some(row);
        } else {
            rows.push(row);
        }
    }
    let total = total.unwrap_or_else(|| Row::sum("", "Aggregated", &rows, 0.0));
    Ok(Baseline {
        path: PathBuf::new(),
        kind: Kind::Csv,
        rows,
        total,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOCUST_JSON: &str = include_str!("../testdata/locust-2.47.json");
    const LOCUST_CSV: &str = include_str!("../testdata/locust-2.47_stats.csv");

    #[test]
    fn reads_real_locust_json() {
        let b = parse_json(LOCUST_JSON).expect("Locust 2.47's --json-file");
        assert_eq!(b.kind, Kind::Json);
        assert_eq!(b.rows.len(), 3);
        let products = b.row("GET", "/api/products").expect("row");
        assert_eq!(products.requests, 138);
        assert_eq!(products.failures, 0);
        assert_eq!(products.times.count(), 138.0);
        assert_eq!(products.percentile(0.5), Some(2.0));
        assert!(products.per_second.len() >= 3);
        let err = b.row("GET", "/err").expect("row");
        assert_eq!(err.fail_ratio(), 1.0);
        let delay = b.row("GET", "/delay").expect("row");
        assert!(delay.percentile(0.5).expect("p50") >= 20.0);
        assert_eq!(b.total.requests, 138 + 55 + 45);
        assert_eq!(b.total.failures, 55);
        assert_eq!(b.total.times.count(), (138 + 55 + 45) as f64);
        // Run of about 2.7 s.
        assert!((40.0..60.0).contains(&products.rps), "{}", products.rps);
        assert!((b.total.rps - (138 + 55 + 45) as f64 / 2.69).abs() < 2.0);
    }

    #[test]
    fn reads_real_locust_csv() {
        let b = parse_csv(LOCUST_CSV).expect("Locust 2.47's _stats.csv");
        assert_eq!(b.kind, Kind::Csv);
        assert_eq!(b.rows.len(), 3);
        assert_eq!(b.total.requests, 175);
        assert_eq!(b.total.failures, 40);
        let delay = b.row("GET", "/delay").expect("row");
        assert_eq!(delay.requests, 31);
        let p50 = delay.percentile(0.5).expect("p50");
        assert!((22.0..=24.0).contains(&p50), "{p50}");
        assert!((delay.avg().expect("avg") - 25.02).abs() < 0.01);
        assert!(delay.per_second.is_empty());
        assert!((delay.rps - 15.51).abs() < 0.01);
    }

    #[test]
    fn resolves_prefixes_and_explains_bad_files() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = |name: &str| dir.path().join(name).to_string_lossy().into_owned();
        std::fs::write(p("run.json"), LOCUST_JSON).expect("write");
        std::fs::write(p("old_stats.csv"), LOCUST_CSV).expect("write");
        assert_eq!(Baseline::load(&p("run")).expect("json").kind, Kind::Json);
        assert_eq!(
            Baseline::load(&p("run.json")).expect("json").kind,
            Kind::Json
        );
        assert_eq!(Baseline::load(&p("old")).expect("csv").kind, Kind::Csv);
        let b = Baseline::load(&p("old_stats.csv")).expect("csv");
        assert!(
            b.describe().contains("CSV, 3 endpoints, 175 requests"),
            "{}",
            b.describe()
        );

        let e = Baseline::load(&p("missing")).unwrap_err();
        assert!(
            e.contains("does not exist") && e.contains("--json-file"),
            "{e}"
        );
        let e = Baseline::load(&dir.path().to_string_lossy()).unwrap_err();
        assert!(e.contains("is a directory"), "{e}");
        for (name, content, says) in [
            ("a.json", "{\"x\": 1}", "not an array"),
            ("b.json", "[{\"name\": \"/\"}]", "entry 1: no \"num_requests\""),
            ("c.json", "[1, 2", "not valid JSON"),
            ("d.json", "[]", "made no requests"),
            ("e_stats.csv", "Timestamp,User Count\n", "_stats_history.csv"),
            ("f_stats.csv", "hello,world\n1,2\n", "no \"Type\" column"),
            (
                "g.json",
                "[{\"name\": \"/\", \"method\": \"GET\", \"num_requests\": 1, \"response_times\": {\"x\": 1}}]",
                "not a number",
            ),
        ] {
            std::fs::write(p(name), content).expect("write");
            let e = Baseline::load(&p(name)).unwrap_err();
            assert!(e.contains(says), "{name}: {e}");
            assert!(e.starts_with("--baseline "), "{e}");
        }
    }

    #[test]
    fn this_runs_rows_match_what_its_json_file_would_give() {
        use locusta_stats::{Sample, StatsHub, StatsLimits};
        let hub = StatsHub::new_at(StatsLimits::default(), 1000.0);
        for i in 0..200u64 {
            hub.record_at(
                &Sample {
                    method: "GET",
                    name: "/a",
                    response_time_us: Some((5 + i % 10) * 1000),
                    content_length: 1,
                    error: if i % 50 == 0 { Some("boom") } else { None },
                },
                1000.0 + i as f64 / 20.0,
            );
        }
        hub.merge();
        let (json, (rows, total)) =
            hub.read(|agg| (locusta_stats::json::stats_json(agg), current_rows(agg)));
        let from_file = parse_json(&json).expect("our own json");
        let a = &rows[0];
        let b = from_file.row("GET", "/a").expect("row");
        assert_eq!(a.requests, b.requests);
        assert_eq!(a.failures, b.failures);
        assert_eq!(a.times, b.times);
        assert_eq!(a.per_second, b.per_second);
        assert!((a.rps - b.rps).abs() < 1e-9, "{} vs {}", a.rps, b.rps);
        assert_eq!(total.label(), "Aggregated");
        assert_eq!(total.requests, 200);
    }
}
