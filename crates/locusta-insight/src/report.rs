//! The HTML report (`--html FILE`, and the web UI's `/stats/report`): one self-contained file.
//!
//! Locust's report has the request, response-time, failure and exception tables, charts over
//! time and the final ratio; locusta adds per-endpoint latency charts, the diagnosis and the
//! threshold results. Everything is inline — CSS, the data as JSON, and the vendored uPlot
//! charting library (`vendor/`, MIT) — so the file opens offline. Every name and message is
//! HTML-escaped (the JSON is made safe inside `<script>`), and failures are grouped (by
//! endpoint and by message with numbers masked) and capped, so a run with a million distinct
//! errors still gives a report of a few hundred kB (Locust issue #1712: 1.2 GB).
//!
//! [`render`] needs only an [`Aggregate`] (from `StatsHub::read`), the [`Recorder`] history and
//! a [`RunInfo`]; the diagnosis and threshold outcomes are optional.

// HTML rows read best as one `write!` each, newline included.
#![allow(clippy::write_with_newline)]

use std::collections::HashMap;
use std::fmt::Write as _;

use locusta_stats::format::format_utc_timestamp;
use locusta_stats::{Aggregate, Entry};
use quick_xml::escape::escape;
use serde::Serialize;
use serde_json::json;

use crate::compare::{show, show_change, Comparison};
use crate::diagnosis::{Diagnosis, Pattern, Slo};
use crate::history::{Recorder, PERCENTILES};
use crate::noise::Verdict;
use crate::threshold::Outcome;

const UPLOT_JS: &str = include_str!("../vendor/uPlot.iife.min.js");
const UPLOT_CSS: &str = include_str!("../vendor/uPlot.min.css");

/// Failure groups shown at most.
pub const MAX_FAILURE_ROWS: usize = 200;
/// Exception rows shown at most.
pub const MAX_EXCEPTION_ROWS: usize = 100;
/// Longest message or traceback shown, characters.
pub const MAX_TEXT: usize = 2000;
/// Endpoints with their own latency chart, at most: the ones with the most failures (up to
/// half of them), then the slowest by the objective's percentile.
pub const MAX_ENDPOINT_CHARTS: usize = 6;
/// Endpoints that differ only by numbers in their URL, at least, for the report to suggest
/// naming them.
const URL_GROUP_HINT: usize = 3;
/// Percentiles of the response-time table (Locust's `PERCENTILES_FOR_HTML_REPORT`).
const REPORT_PERCENTILES: [f64; 8] = [0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99, 1.0];

/// One user class or task in the final ratio, with the tasks below it (a class's tasks, a
/// nested task set's tasks).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RatioNode {
    /// Class or task name.
    pub name: String,
    /// Its share (0..1): of the users for a class; for a task, of its parent's runs (per class)
    /// or of all runs (total).
    pub ratio: f64,
    /// The tasks below it.
    pub tasks: Vec<RatioNode>,
}

/// The final ratio of user classes and tasks, the two trees `--show-task-ratio` prints.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct FinalRatio {
    /// Each class's share of the users, its tasks' shares within the class.
    pub per_class: Vec<RatioNode>,
    /// The same tree with every task's share of all task runs.
    pub total: Vec<RatioNode>,
}

/// What the report says about the run besides the statistics.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct RunInfo {
    /// Locustfile (or program) name.
    pub locustfile: String,
    /// Target host.
    pub host: String,
    /// `-u`.
    pub users: u64,
    /// `-r`.
    pub spawn_rate: f64,
    /// `-t` in seconds.
    pub run_time: Option<u64>,
    /// Unix start and end of the run.
    pub start_unix: f64,
    /// Unix end (0: use the last request time).
    pub end_unix: f64,
    /// The final ratio of user classes and tasks (empty: not shown).
    pub final_ratio: FinalRatio,
    /// The open model's summary (iterations, late starts), when it drove the load.
    pub open_model: Option<String>,
}

/// `--html` with Locust's placeholders: `{u}` users, `{r}` spawn rate, `{t}` run time (whole
/// numbers, as Locust formats them).
pub fn file_name(pattern: &str, info: &RunInfo) -> String {
    pattern
        .replace("{u}", &info.users.to_string())
        .replace("{r}", &format!("{}", info.spawn_rate.trunc() as i64))
        .replace("{t}", &info.run_time.unwrap_or(0).to_string())
}

/// Everything [`render`] reads.
pub struct ReportInput<'a> {
    /// The final statistics.
    pub agg: &'a Aggregate,
    /// The history over time.
    pub history: &'a Recorder,
    /// The diagnosis, if made.
    pub diagnosis: Option<&'a Diagnosis>,
    /// Threshold results (may be empty).
    pub thresholds: &'a [Outcome],
    /// The comparison with `--baseline`, if one was given.
    pub baseline: Option<&'a Comparison>,
    /// Run metadata.
    pub info: &'a RunInfo,
}

fn esc(s: &str) -> String {
    escape(s).into_owned()
}

fn clip(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(max).collect();
        t.push_str(" … (truncated)");
        t
    }
}

/// Masks what makes otherwise identical errors distinct: digit runs and long hex ids.
pub fn error_shape(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut word = String::new();
    let flush = |word: &mut String, out: &mut String| {
        if word.is_empty() {
            return;
        }
        let hexish = word.len() >= 8
            && word.chars().all(|c| c.is_ascii_hexdigit() || c == '-')
            && word.chars().any(|c| c.is_ascii_digit());
        if hexish {
            out.push('#');
        } else {
            let mut in_digits = false;
            for c in word.chars() {
                if c.is_ascii_digit() {
                    if !in_digits {
                        out.push('#');
                    }
                    in_digits = true;
                } else {
                    in_digits = false;
                    out.push(c);
                }
            }
        }
        word.clear();
    };
    for c in message.chars() {
        if c.is_ascii_alphanumeric() || c == '-' {
            word.push(c);
        } else {
            flush(&mut word, &mut out);
            out.push(c);
        }
    }
    flush(&mut word, &mut out);
    out
}

/// A group of failures for the report.
#[derive(Debug, Clone, PartialEq)]
pub struct FailureGroup {
    /// Method.
    pub method: String,
    /// Name.
    pub name: String,
    /// One example message (the most frequent in the group).
    pub example: String,
    /// Occurrences in the group.
    pub occurrences: u64,
    /// Distinct messages in the group.
    pub variants: usize,
    /// First and last seen (unix).
    pub first_seen: f64,
    /// Last seen (unix).
    pub last_seen: f64,
}

/// Groups the error rows by endpoint and message shape, most frequent first; returns the
/// groups (at most [`MAX_FAILURE_ROWS`]) and the (groups, occurrences) left out.
pub fn failure_groups(agg: &Aggregate) -> (Vec<FailureGroup>, (usize, u64)) {
    let mut index: HashMap<(String, String, String), usize> = HashMap::new();
    let mut groups: Vec<(FailureGroup, u64)> = Vec::new();
    for e in agg.errors() {
        let key = (e.method.clone(), e.name.clone(), error_shape(&e.error));
        match index.get(&key) {
            Some(&i) => {
                let (g, best) = &mut groups[i];
                g.occurrences += e.occurrences;
                g.variants += 1;
                g.first_seen = g.first_seen.min(e.first_seen);
                g.last_seen = g.last_seen.max(e.last_seen);
                if e.occurrences > *best {
                    *best = e.occurrences;
                    g.example = e.error.clone();
                }
            }
            None => {
                index.insert(key, groups.len());
                groups.push((
                    FailureGroup {
                        method: e.method.clone(),
                        name: e.name.clone(),
                        example: e.error.clone(),
                        occurrences: e.occurrences,
                        variants: 1,
                        first_seen: e.first_seen,
                        last_seen: e.last_seen,
                    },
                    e.occurrences,
                ));
            }
        }
    }
    let mut groups: Vec<FailureGroup> = groups.into_iter().map(|(g, _)| g).collect();
    groups.sort_by_key(|g| std::cmp::Reverse(g.occurrences));
    let rest = groups.split_off(groups.len().min(MAX_FAILURE_ROWS));
    let left = (rest.len(), rest.iter().map(|g| g.occurrences).sum());
    (groups, left)
}

fn ms(v: f64) -> String {
    if v >= 100.0 || v == v.trunc() {
        format!("{v:.0}")
    } else {
        format!("{v:.2}")
    }
}

fn request_row(out: &mut String, e: &Entry) {
    let _ = write!(
        out,
        "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{:.0}</td><td>{:.1}</td><td>{:.1}</td></tr>\n",
        esc(e.method()),
        esc(e.name()),
        e.num_requests(),
        e.num_failures(),
        ms(e.avg_response_time()),
        ms(e.min_response_time().unwrap_or(0.0)),
        ms(e.max_response_time()),
        e.avg_content_length(),
        e.total_rps(),
        e.total_fail_per_sec(),
    );
}

fn percentile_row(out: &mut String, e: &Entry) {
    let _ = write!(
        out,
        "<tr><td>{}</td><td>{}</td>",
        esc(e.method()),
        esc(e.name())
    );
    for v in e.percentiles(&REPORT_PERCENTILES) {
        let _ = write!(out, "<td>{}</td>", ms(v));
    }
    out.push_str("</tr>\n");
}

/// JSON safe to put inside a `<script>` element.
fn script_json(v: &serde_json::Value) -> String {
    v.to_string()
        .replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
        .replace('\u{2028}', "\\u2028")
        .replace('\u{2029}', "\\u2029")
}

/// An endpoint the report may chart: its index in the history, and what it is ranked by.
#[derive(Debug, Clone, PartialEq)]
pub struct ChartPick {
    /// Index into [`Recorder::endpoints`].
    pub index: usize,
    /// The objective's percentile over the whole run, ms (as the statistics tables show it).
    pub latency_ms: f64,
    /// Failures over the run.
    pub failures: u64,
    /// Points of the history with requests (one is a dot, not a curve).
    pub points: usize,
}

/// Which endpoints get a latency chart, in the order shown: those with the most failures (up
/// to half of [`MAX_ENDPOINT_CHARTS`]), then the slowest by the percentile `pct` (0..1) over
/// the run, those requested in more than one point of the history first (a single point is a
/// dot, not a curve). Endpoints are the statistics table's entries (method and name, so
/// `name=` groups URLs); only those with requests in the history count. Also returns how many
/// of those are not charted.
pub fn charted_endpoints(agg: &Aggregate, history: &Recorder, pct: f64) -> (Vec<ChartPick>, usize) {
    let pts = history.points();
    let mut candidates: Vec<ChartPick> = history
        .endpoints()
        .iter()
        .enumerate()
        .filter_map(|(i, (method, name))| {
            let cells = pts.iter().filter_map(|p| p.endpoints.get(i));
            let (points, failures) = cells
                .filter(|c| c.requests > 0)
                .fold((0usize, 0u64), |(n, f), c| (n + 1, f + c.failures));
            if points == 0 {
                return None;
            }
            let entry = agg.entry(name, method);
            Some(ChartPick {
                index: i,
                latency_ms: entry
                    .and_then(|e| e.percentiles(&[pct]).first().copied())
                    .unwrap_or(0.0),
                failures: entry.map_or(failures, |e| e.num_failures()),
                points,
            })
        })
        .collect();
    let total = candidates.len();
    let slowest = |a: &ChartPick, b: &ChartPick| {
        (b.points > 1)
            .cmp(&(a.points > 1))
            .then(b.latency_ms.total_cmp(&a.latency_ms))
            .then(a.index.cmp(&b.index))
    };
    candidates.sort_by(|a, b| {
        b.failures
            .cmp(&a.failures)
            .then(b.latency_ms.total_cmp(&a.latency_ms))
            .then(a.index.cmp(&b.index))
    });
    let failing = candidates
        .iter()
        .take(MAX_ENDPOINT_CHARTS / 2)
        .take_while(|c| c.failures > 0)
        .count();
    let mut rest = candidates.split_off(failing);
    rest.sort_by(slowest);
    rest.truncate(MAX_ENDPOINT_CHARTS - failing);
    candidates.extend(rest);
    let left_out = total - candidates.len();
    (candidates, left_out)
}

fn chart_data(agg: &Aggregate, history: &Recorder, pct_index: usize) -> (serde_json::Value, usize) {
    let pts = history.points();
    let t: Vec<i64> = pts.iter().map(|p| p.t).collect();
    let users: Vec<u64> = pts.iter().map(|p| p.users).collect();
    let rps: Vec<f64> = pts.iter().map(|p| p.rps()).collect();
    let fails: Vec<f64> = pts
        .iter()
        .map(|p| p.total.failures as f64 / p.secs.max(1) as f64)
        .collect();
    let pct =
        |i: usize| -> Vec<Option<f64>> { pts.iter().map(|p| p.total.pct.map(|x| x[i])).collect() };
    let pct_index = pct_index.min(PERCENTILES.len() - 1);
    let label = format!("p{}", PERCENTILES[pct_index] * 100.0);
    let (picks, left_out) = charted_endpoints(agg, history, PERCENTILES[pct_index]);
    let endpoints: Vec<serde_json::Value> = picks
        .iter()
        .map(|pick| {
            let i = pick.index;
            let (m, n) = &history.endpoints()[i];
            let series = |k: usize| -> Vec<Option<f64>> {
                pts.iter()
                    .map(|p| p.endpoints.get(i).and_then(|c| c.pct).map(|x| x[k]))
                    .collect()
            };
            let why = match pick.failures {
                0 => format!("{label} {} ms", ms(pick.latency_ms)),
                1 => format!("{label} {} ms, 1 failure", ms(pick.latency_ms)),
                f => format!("{label} {} ms, {f} failures", ms(pick.latency_ms)),
            };
            json!({
                "name": format!("{m} {n} ({why})"), "failures": pick.failures,
                "p50": series(0), "p95": series(2), "p99": series(3),
            })
        })
        .collect();
    let data = json!({
        "t": t, "users": users, "rps": rps, "fails": fails,
        "p50": pct(0), "p90": pct(1), "p95": pct(2), "p99": pct(3),
        "endpoints": endpoints,
    });
    (data, left_out)
}

/// What the endpoint charts leave out, and a hint when many endpoints are one URL with
/// different numbers in it (a locustfile without `name=`); `None` when every endpoint is
/// charted and there is nothing to hint.
fn endpoint_note(
    data: &serde_json::Value,
    left_out: usize,
    pct_index: usize,
    history: &Recorder,
) -> Option<String> {
    let charted = data["endpoints"].as_array().map_or(&[][..], Vec::as_slice);
    let mut parts = Vec::new();
    if left_out > 0 {
        let pct = format!(
            "p{}",
            PERCENTILES[pct_index.min(PERCENTILES.len() - 1)] * 100.0
        );
        let failing = charted
            .iter()
            .any(|e| e["failures"].as_u64().unwrap_or(0) > 0);
        parts.push(format!(
            "Charted: the {} endpoint{} {}; {left_out} other endpoint{} not charted (every \
             endpoint is in the tables above).",
            charted.len(),
            if charted.len() == 1 { "" } else { "s" },
            if failing {
                format!("with the most failures, then the slowest by {pct}")
            } else {
                format!("slowest by {pct}")
            },
            if left_out == 1 { " is" } else { "s are" },
        ));
    }
    // URLs that differ only by numbers (`/item/1`, `/item/2`, ...).
    let mut shapes: HashMap<(&str, String), usize> = HashMap::new();
    for (m, n) in history.endpoints() {
        *shapes.entry((m.as_str(), error_shape(n))).or_default() += 1;
    }
    if let Some(((m, shape), count)) = shapes
        .into_iter()
        .filter(|(_, c)| *c >= URL_GROUP_HINT)
        .max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(&a.0)))
    {
        parts.push(format!(
            "{count} endpoints are one URL with different numbers ({m} {shape}): give their \
             requests a name (name=...) to see them as one row and one chart."
        ));
    }
    (!parts.is_empty()).then(|| parts.join(" "))
}

fn pattern_class(p: Pattern) -> &'static str {
    match p {
        Pattern::None => "ok",
        Pattern::Undetermined => "muted",
        _ => "bad",
    }
}

fn diagnosis_html(out: &mut String, d: &Diagnosis) {
    out.push_str("<section id=\"diagnosis\"><h2>Diagnosis</h2>\n");
    if d.overall.levels.is_empty() {
        // Nothing was measured: the console's one sentence, not a table of zeros.
        let _ = write!(
            out,
            "<p class=\"muted\">{}</p>\n</section>\n",
            esc(d.text().trim())
        );
        return;
    }
    let levels = &d.overall.levels;
    let load = if let [only] = levels.as_slice() {
        format!(
            "Load held at {:.0} {} (a single level)",
            only.users, d.load_unit
        )
    } else {
        format!(
            "Load from {:.0} to {:.0} {} over {} levels",
            d.users_range.0,
            d.users_range.1,
            d.load_unit,
            levels.len()
        )
    };
    let _ = write!(
        out,
        "<p>{load}; objective <code>{}</code>.</p>\n",
        esc(&d.slo.text)
    );
    let _ = write!(
        out,
        "<p><b>Overall:</b> <span class=\"{}\">{}</span></p>\n<p><b>Capacity:</b> {}</p>\n",
        pattern_class(d.overall.pattern),
        esc(&d.overall.summary),
        esc(&d.capacity.summary)
    );
    if let Some(note) = d.overall_note() {
        let _ = writeln!(
            out,
            "<p class=\"muted\" id=\"overall-note\">{}</p>",
            esc(&note)
        );
    }
    let not_judged = d.not_judged();
    if let (Some(why), true) = (&not_judged, d.culprits().is_empty()) {
        out.push_str(&format!(
            "<p><b>Culprits:</b> not judged — {}.</p>\n",
            esc(why)
        ));
    } else if d.culprits().is_empty() {
        out.push_str("<p><b>Culprits:</b> none — no endpoint degraded as load grew.</p>\n");
    } else {
        out.push_str("<h3>Culprits</h3><ol>\n");
        for f in d.culprits() {
            let _ = write!(
                out,
                "<li><b>{} {}</b>: {}<br><span class=\"muted\">likely: {}</span></li>\n",
                esc(&f.method),
                esc(&f.name),
                esc(&f.summary),
                esc(f.pattern.hint())
            );
        }
        out.push_str("</ol>\n");
        // Patterns in time (sawtooth, drift) need no load variation; the others do.
        if let Some(why) = &not_judged {
            let _ = write!(
                out,
                "<p><b>How latency follows load:</b> not judged — {}.</p>\n",
                esc(why)
            );
        }
    }
    if !d.failing().is_empty() {
        let _ = writeln!(
            out,
            "<h3>Failing at every load</h3><p class=\"muted\">{}</p><ul id=\"failing\">",
            esc(Pattern::Failing.hint())
        );
        for f in d.failing() {
            let _ = writeln!(
                out,
                "<li class=\"bad\"><b>{} {}</b>: {}</li>",
                esc(&f.method),
                esc(&f.name),
                esc(&f.summary)
            );
        }
        out.push_str("</ul>\n");
    }
    let _ = write!(
        out,
        "<h3>Every endpoint</h3><table><thead><tr><th>Endpoint</th><th>Pattern</th><th>Knee ({} / RPS)</th><th>Baseline</th><th>Peak</th><th>Failures</th></tr></thead><tbody>\n",
        d.load_unit
    );
    for f in &d.endpoints {
        let knee = f.knee.map_or("-".to_string(), |k| {
            format!("{:.0} / {:.1}", k.users, k.rps)
        });
        let _ = write!(
            out,
            "<tr><td>{} {}</td><td class=\"{}\">{}</td><td>{}</td><td>{} ms</td><td>{} ms</td><td>{:.1}% → {:.1}%</td></tr>\n",
            esc(&f.method),
            esc(&f.name),
            if f.minor { "muted" } else { pattern_class(f.pattern) },
            if f.minor {
                format!("{} (minor)", f.pattern.label())
            } else {
                f.pattern.label().to_string()
            },
            knee,
            ms(f.baseline_ms),
            ms(f.peak_ms),
            f.fail_before * 100.0,
            f.fail_peak * 100.0
        );
    }
    out.push_str("</tbody></table></section>\n");
}

/// A ratio tree as nested lists (depth is bounded by the locustfile's task sets).
fn ratio_list(out: &mut String, nodes: &[RatioNode]) {
    out.push_str("<ul>");
    for n in nodes {
        let _ = write!(out, "<li>{:.1}% {}", n.ratio * 100.0, esc(&n.name));
        if !n.tasks.is_empty() {
            ratio_list(out, &n.tasks);
        }
        out.push_str("</li>");
    }
    out.push_str("</ul>\n");
}

fn duration_text(secs: f64) -> String {
    let s = secs.max(0.0).round() as u64;
    let (h, m, s) = (s / 3600, (s % 3600) / 60, s % 60);
    let mut parts = Vec::new();
    let plural = |n: u64, w: &str| format!("{n} {w}{}", if n == 1 { "" } else { "s" });
    if h > 0 {
        parts.push(plural(h, "hour"));
    }
    if m > 0 {
        parts.push(plural(m, "minute"));
    }
    if s > 0 || parts.is_empty() {
        parts.push(plural(s, "second"));
    }
    parts.join(" and ")
}

/// The `--baseline` section: one row per endpoint and metric, regressions highlighted.
fn baseline_html(out: &mut String, c: &Comparison) {
    let regressed = c.regressions().len();
    let _ = write!(
        out,
        "<section id=\"baseline\"><h2>Compared with the baseline: {} regressed</h2>\n<p>Baseline: <code>{}</code>. Verdicts allow for sampling noise (see docs/insight.md); <i>regressed</i> means worse beyond it.</p>\n",
        if regressed == 1 {
            "1 endpoint".to_string()
        } else {
            format!("{regressed} endpoints")
        },
        esc(&c.source)
    );
    if let Some(note) = &c.note {
        let _ = write!(out, "<p class=\"muted\">Note: {}</p>\n", esc(note));
    }
    out.push_str("<table class=\"baseline\"><thead><tr><th>Endpoint</th><th>Metric</th><th>Baseline</th><th>This run</th><th>Change</th><th>Verdict</th></tr></thead><tbody>\n");
    for e in &c.endpoints {
        let label = e.label();
        for (i, m) in e.metrics.iter().enumerate() {
            let (row_class, cell_class) = match m.verdict {
                Verdict::Regressed => (" class=\"regressed\"", "bad"),
                Verdict::Improved => ("", "ok"),
                Verdict::WithinNoise | Verdict::NotJudged => ("", "muted"),
            };
            let _ = write!(
                out,
                "<tr{row_class}><td>{}</td><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"{cell_class}\" title=\"{}\">{}</td></tr>\n",
                if i == 0 { esc(&label) } else { String::new() },
                m.metric,
                esc(&show(m.metric, m.baseline)),
                esc(&show(m.metric, m.current)),
                esc(&show_change(m)),
                esc(&m.detail),
                m.verdict.text()
            );
        }
    }
    out.push_str("</tbody></table>\n");
    for (what, list) in [
        ("Only in this run", &c.only_in_run),
        ("Only in the baseline", &c.only_in_baseline),
    ] {
        if !list.is_empty() {
            let _ = write!(out, "<p><b>{what}:</b> {}</p>\n", esc(&list.join(", ")));
        }
    }
    out.push_str("</section>\n");
}

/// Renders the whole report.
pub fn render(input: &ReportInput<'_>) -> String {
    let agg = input.agg;
    let info = input.info;
    let start = if info.start_unix > 0.0 {
        info.start_unix
    } else {
        agg.start_time()
    };
    let end = if info.end_unix > 0.0 {
        info.end_unix
    } else {
        agg.total().last_request_timestamp().unwrap_or(start)
    };
    let mut out = String::with_capacity(128 * 1024);
    out.push_str("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>Locust Test Report</title>\n<style>\n");
    out.push_str(UPLOT_CSS);
    out.push_str(
        "\nbody{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0 auto;max-width:1200px;padding:1em 2em;color:#1d2733;background:#fff}\
         h1{margin-bottom:.2em}h2{border-bottom:2px solid #2f7a4a;padding-bottom:.2em;margin-top:1.6em}\
         table{border-collapse:collapse;width:100%;font-size:.9em;margin:.5em 0}\
         th,td{border:1px solid #d5dbe1;padding:.3em .5em;text-align:left;vertical-align:top}\
         th{background:#eef2f5}tbody tr:nth-child(even){background:#f8fafb}td.num{text-align:right}\
         .ok{color:#2f7a4a}.bad{color:#b3261e;font-weight:600}.muted{color:#6b7785}\
         pre{white-space:pre-wrap;word-break:break-all;margin:0;font-size:.85em}\
         .charts{display:grid;grid-template-columns:repeat(auto-fill,minmax(540px,1fr));gap:1em}\
         .chart{border:1px solid #d5dbe1;padding:.5em}code{background:#eef2f5;padding:0 .2em}\
         tr.regressed td{background:#fdecea}\n</style>\n</head><body>\n",
    );
    out.push_str("<h1>Locust Test Report</h1>\n<p class=\"muted\">made by locusta</p>\n");
    let _ = write!(
        out,
        "<p><b>During:</b> {} - {} ({})<br><b>Target Host:</b> {}<br><b>Script:</b> {}</p>\n",
        esc(&format_utc_timestamp(start)),
        esc(&format_utc_timestamp(end)),
        duration_text(end - start),
        esc(&info.host),
        esc(&info.locustfile)
    );
    if let Some(open) = &info.open_model {
        let _ = write!(out, "<p><b>Load:</b> {}</p>\n", esc(open));
    }

    if !input.thresholds.is_empty() {
        let failed = input.thresholds.iter().filter(|o| !o.passed).count();
        let _ = write!(
            out,
            "<section id=\"thresholds\"><h2>Thresholds: {} passed, {} failed</h2><table><thead><tr><th>Result</th><th>Threshold</th><th>Actual</th></tr></thead><tbody>\n",
            input.thresholds.len() - failed,
            failed
        );
        for o in input.thresholds {
            let _ = write!(
                out,
                "<tr><td class=\"{}\">{}</td><td><code>{}</code></td><td>{}</td></tr>\n",
                if o.passed { "ok" } else { "bad" },
                if o.passed { "PASS" } else { "FAIL" },
                esc(&o.threshold.text),
                esc(&o.actual_text())
            );
        }
        out.push_str("</tbody></table></section>\n");
    }

    if let Some(c) = input.baseline {
        baseline_html(&mut out, c);
    }

    if let Some(d) = input.diagnosis {
        diagnosis_html(&mut out, d);
    }

    out.push_str("<section id=\"requests\"><h2>Request Statistics</h2><table><thead><tr><th>Type</th><th>Name</th><th># Requests</th><th># Fails</th><th>Average (ms)</th><th>Min (ms)</th><th>Max (ms)</th><th>Average size (bytes)</th><th>RPS</th><th>Failures/s</th></tr></thead><tbody>\n");
    for e in agg.entries() {
        request_row(&mut out, e);
    }
    request_row(&mut out, agg.total());
    out.push_str("</tbody></table></section>\n");

    out.push_str("<section id=\"response-times\"><h2>Response Time Statistics</h2><table><thead><tr><th>Method</th><th>Name</th>");
    for p in REPORT_PERCENTILES {
        let _ = write!(out, "<th>{:.0}%ile (ms)</th>", p * 100.0);
    }
    out.push_str("</tr></thead><tbody>\n");
    for e in agg.entries() {
        percentile_row(&mut out, e);
    }
    percentile_row(&mut out, agg.total());
    out.push_str("</tbody></table></section>\n");

    let (groups, (left_groups, left_occ)) = failure_groups(agg);
    out.push_str("<section id=\"failures\"><h2>Failures Statistics</h2>\n");
    if groups.is_empty() {
        out.push_str("<p>No failures.</p>\n");
    } else {
        out.push_str("<p class=\"muted\">Grouped by endpoint and message, numbers masked; one example message per group.</p><table><thead><tr><th># Failures</th><th>Method</th><th>Name</th><th>Message</th><th>Variants</th><th>First Seen</th><th>Last Seen</th></tr></thead><tbody>\n");
        for g in &groups {
            let _ = write!(
                out,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td><pre>{}</pre></td><td>{}</td><td>{}</td><td>{}</td></tr>\n",
                g.occurrences,
                esc(&g.method),
                esc(&g.name),
                esc(&clip(&g.example, MAX_TEXT)),
                g.variants,
                esc(&format_utc_timestamp(g.first_seen)),
                esc(&format_utc_timestamp(g.last_seen)),
            );
        }
        out.push_str("</tbody></table>\n");
        if left_groups > 0 {
            let _ = write!(
                out,
                "<p class=\"muted\">{left_groups} more groups ({left_occ} failures) not shown.</p>\n"
            );
        }
    }
    out.push_str("</section>\n");

    let exceptions = agg.exceptions();
    if !exceptions.is_empty() {
        out.push_str("<section id=\"exceptions\"><h2>Exceptions Statistics</h2><table><thead><tr><th># occurrences</th><th>Message</th><th>Traceback</th></tr></thead><tbody>\n");
        for x in exceptions.iter().take(MAX_EXCEPTION_ROWS) {
            let _ = write!(
                out,
                "<tr><td>{}</td><td><pre>{}</pre></td><td><pre>{}</pre></td></tr>\n",
                x.count,
                esc(&clip(&x.msg, MAX_TEXT)),
                esc(&clip(&x.traceback, MAX_TEXT))
            );
        }
        out.push_str("</tbody></table>\n");
        if exceptions.len() > MAX_EXCEPTION_ROWS {
            let _ = write!(
                out,
                "<p class=\"muted\">{} more exceptions not shown.</p>\n",
                exceptions.len() - MAX_EXCEPTION_ROWS
            );
        }
        out.push_str("</section>\n");
    }

    out.push_str("<section id=\"charts\"><h2>Charts</h2>\n");
    if input.history.points().is_empty() {
        out.push_str("<p>No history was recorded.</p>\n");
    }
    out.push_str("<div class=\"charts\"><div class=\"chart\" id=\"chart-rps\"></div><div class=\"chart\" id=\"chart-rt\"></div><div class=\"chart\" id=\"chart-users\"></div></div>\n");
    let pct_index = input
        .diagnosis
        .map_or(Slo::default().percentile_index, |d| d.slo.percentile_index);
    let (data, left_out) = chart_data(agg, input.history, pct_index);
    out.push_str("<h3>Latency per endpoint</h3>\n");
    if let Some(note) = endpoint_note(&data, left_out, pct_index, input.history) {
        let _ = write!(
            out,
            "<p class=\"muted\" id=\"endpoint-charts-note\">{}</p>\n",
            esc(&note)
        );
    }
    out.push_str("<div class=\"charts\" id=\"endpoint-charts\"></div></section>\n");

    if !info.final_ratio.per_class.is_empty() {
        out.push_str("<section id=\"ratio\"><h2>Final ratio</h2>\n<h3>Per user class</h3>\n");
        ratio_list(&mut out, &info.final_ratio.per_class);
        out.push_str("<h3>Total</h3>\n");
        ratio_list(&mut out, &info.final_ratio.total);
        out.push_str("</section>\n");
    }

    if let Some(d) = input.diagnosis {
        // Machine-readable too, for tools and tests: `#locusta-diagnosis`.
        if let Ok(v) = serde_json::to_value(d) {
            out.push_str("<script type=\"application/json\" id=\"locusta-diagnosis\">");
            out.push_str(&script_json(&v));
            out.push_str("</script>\n");
        }
    }
    if let Some(c) = input.baseline {
        // Machine-readable too: `#locusta-baseline`.
        if let Ok(v) = serde_json::to_value(c) {
            out.push_str("<script type=\"application/json\" id=\"locusta-baseline\">");
            out.push_str(&script_json(&v));
            out.push_str("</script>\n");
        }
    }
    out.push_str("<script>\n");
    out.push_str(UPLOT_JS);
    out.push_str("\n</script>\n<script>\nconst DATA = ");
    out.push_str(&script_json(&data));
    out.push_str(CHART_SCRIPT);
    out.push_str("</script>\n</body></html>\n");
    out
}

const CHART_SCRIPT: &str = r##";
(function () {
  if (typeof uPlot === "undefined" || DATA.t.length === 0) return;
  const width = () => Math.min(560, document.body.clientWidth - 40);
  const num = (v) => (Math.abs(v) >= 100 ? v.toFixed(0) : String(+v.toFixed(2)));
  // Off the chart, the legend shows each series' peak over the run (uPlot's default is "--");
  // on it, the values under the cursor.
  function peak(u, i) {
    let m = null;
    for (const v of u.data[i]) if (v != null && (m === null || v > m)) m = v;
    return m;
  }
  function chart(el, title, series, data, yLabel, unit, gaps) {
    const opts = {
      title, width: width(), height: 260,
      scales: { x: { time: true } },
      axes: [{}, { label: yLabel }],
      series: [{
        label: "Time",
        value: (u, v, i, idx) => (idx == null ? "peak of the run" : new Date(v * 1000).toLocaleTimeString()),
      }].concat(series.map((s) => Object.assign({
        spanGaps: gaps,
        value: (u, v, i, idx) => {
          const x = idx == null ? peak(u, i) : v;
          return x == null ? "" : num(x) + unit;
        },
      }, s))),
    };
    return new uPlot(opts, [DATA.t].concat(data), el);
  }
  chart(document.getElementById("chart-rps"), "Total Requests per Second",
    [{ label: "RPS", stroke: "#2f7a4a" }, { label: "Failures/s", stroke: "#b3261e" }],
    [DATA.rps, DATA.fails], "per second", "", false);
  chart(document.getElementById("chart-rt"), "Response Times (ms)",
    [{ label: "50th percentile", stroke: "#7a5ab3" }, { label: "95th percentile", stroke: "#e08a00" },
     { label: "99th percentile", stroke: "#b3261e" }],
    [DATA.p50, DATA.p95, DATA.p99], "ms", " ms", false);
  chart(document.getElementById("chart-users"), "Number of Users",
    [{ label: "Users", stroke: "#1f5fa8" }], [DATA.users], "users", "", false);
  const box = document.getElementById("endpoint-charts");
  for (const e of DATA.endpoints) {
    const el = document.createElement("div");
    el.className = "chart";
    box.appendChild(el);
    // An endpoint has no point in the seconds it was not requested: join its points.
    chart(el, e.name,
      [{ label: "p50", stroke: "#7a5ab3" }, { label: "p95", stroke: "#e08a00" }, { label: "p99", stroke: "#b3261e" }],
      [e.p50, e.p95, e.p99], "ms", " ms", true);
  }
})();
"##;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::{Cell, Point};
    use locusta_stats::{Sample, StatsHub, StatsLimits};

    /// Records `secs` seconds of 5 requests a second on each `(name, ms, failing)` endpoint,
    /// samples the history each second with `users` (or the open model's `rate`), and renders
    /// the report with its diagnosis.
    fn report_of(
        endpoints: &[(&str, u64, bool)],
        secs: u64,
        users: u64,
        rate: Option<f64>,
        info: &RunInfo,
    ) -> String {
        let hub = StatsHub::new_at(StatsLimits::default(), 1000.0);
        let mut rec = Recorder::new();
        for sec in 0..secs {
            for &(name, ms, failing) in endpoints {
                // `/once...` endpoints are requested in the first second only.
                if sec > 0 && name.starts_with("/once") {
                    continue;
                }
                for i in 0..5u64 {
                    hub.record_at(
                        &Sample {
                            method: "GET",
                            name,
                            response_time_us: Some(ms * 1000 + i),
                            content_length: 0,
                            error: failing.then_some("boom"),
                        },
                        1000.0 + sec as f64 + i as f64 / 10.0,
                    );
                }
            }
            hub.merge();
            hub.read(|agg| rec.sample(agg, users, rate, 1001.5 + sec as f64));
        }
        let d = crate::diagnosis::diagnose(&rec, &Slo::default());
        hub.read(|agg| {
            render(&ReportInput {
                agg,
                history: &rec,
                diagnosis: Some(&d),
                thresholds: &[],
                baseline: None,
                info,
            })
        })
    }

    /// The chart data embedded in a report.
    fn chart_json(html: &str) -> serde_json::Value {
        let start = html.find("const DATA = ").expect("chart data") + "const DATA = ".len();
        let end = start + html[start..].find(";\n(function").expect("end of data");
        serde_json::from_str(&html[start..end]).expect("chart JSON")
    }

    #[test]
    fn endpoint_charts_are_the_failing_and_slowest_entries_only() {
        // 20 distinct URLs (as a locustfile without name= gives): 2 fail, 18 are fast but
        // three of them slower than the rest; and the slowest of all requested in one second.
        let names: Vec<String> = (0..20).map(|i| format!("/api/products/{i}")).collect();
        let mut endpoints: Vec<(&str, u64, bool)> = names
            .iter()
            .enumerate()
            .map(|(i, n)| {
                let ms = match i {
                    5 => 900,
                    6 => 700,
                    7 => 500,
                    _ => 10 + i as u64,
                };
                (n.as_str(), ms, i == 12 || i == 13)
            })
            .collect();
        endpoints.push(("/once", 2000, false));
        let html = report_of(&endpoints, 4, 5, None, &RunInfo::default());
        let data = chart_json(&html);
        let charted: Vec<&str> = data["endpoints"]
            .as_array()
            .expect("endpoints")
            .iter()
            .map(|e| e["name"].as_str().expect("name"))
            .collect();
        assert_eq!(charted.len(), MAX_ENDPOINT_CHARTS, "{charted:?}");
        assert!(
            !charted.iter().any(|c| c.contains("/once")),
            "a dot, not a curve"
        );
        // Failing first (the slower failing one first), then the slowest.
        for (chart, name) in charted.iter().zip([
            "GET /api/products/13 ",
            "GET /api/products/12 ",
            "GET /api/products/5 ",
            "GET /api/products/6 ",
            "GET /api/products/7 ",
            "GET /api/products/19 ",
        ]) {
            assert!(chart.starts_with(name), "{charted:?}");
        }
        assert!(charted[0].ends_with(", 20 failures)"), "{charted:?}");
        assert!(charted[2].contains("(p95 900 ms)"), "{charted:?}");
        let note = &html[html.find("Latency per endpoint").expect("section")..][..600];
        assert!(
            note.contains("15 other endpoints are not charted"),
            "{note}"
        );
        assert!(
            note.contains("20 endpoints are one URL with different numbers (GET /api/products/#)"),
            "{note}"
        );
    }

    #[test]
    fn a_run_without_requests_says_why_it_was_not_judged() {
        let d = crate::diagnosis::diagnose(&Recorder::new(), &Slo::default());
        let hub = StatsHub::new_at(StatsLimits::default(), 1000.0);
        let html = hub.read(|agg| {
            render(&ReportInput {
                agg,
                history: &Recorder::new(),
                diagnosis: Some(&d),
                thresholds: &[],
                baseline: None,
                info: &RunInfo::default(),
            })
        });
        let section = &html[html.find("id=\"diagnosis\"").expect("diagnosis")..];
        let section = &section[..section.find("</section>").expect("end")];
        assert!(
            section.contains("Diagnosis: not judged, no load level was measured"),
            "{section}"
        );
        for zero in ["0 to 0", "Every endpoint", "Overall", "Capacity"] {
            assert!(!section.contains(zero), "{zero}: {section}");
        }
    }

    #[test]
    fn one_open_model_level_is_said_plainly_in_iterations_per_second() {
        let html = report_of(&[("/a", 5, false)], 4, 2, Some(20.0), &RunInfo::default());
        assert!(
            html.contains("<p>Load held at 20 it/s (a single level); objective"),
            "{}",
            &html[html.find("id=\"diagnosis\"").unwrap_or(0)..][..300]
        );
        let section = &html[html.find("id=\"diagnosis\"").expect("diagnosis")..];
        let section = &section[..section.find("</section>").expect("end")];
        assert!(
            !section.contains("levels") && !section.contains("users"),
            "{section}"
        );
        assert!(section.contains("Knee (it/s / RPS)"), "{section}");
        let html = report_of(&[("/a", 5, false)], 4, 2, None, &RunInfo::default());
        assert!(html.contains("<p>Load held at 2 users (a single level)"));
    }

    #[test]
    fn final_ratio_shows_both_trees_with_nested_task_sets() {
        let node = |name: &str, ratio: f64, tasks: Vec<RatioNode>| RatioNode {
            name: name.into(),
            ratio,
            tasks,
        };
        let info = RunInfo {
            final_ratio: FinalRatio {
                per_class: vec![node(
                    "Shopper",
                    1.0,
                    vec![
                        node("home", 0.5, vec![]),
                        node("Browse", 0.5, vec![node("listing", 0.75, vec![])]),
                    ],
                )],
                total: vec![node(
                    "Shopper",
                    1.0,
                    vec![
                        node("home", 0.5, vec![]),
                        node("Browse", 0.5, vec![node("listing", 0.375, vec![])]),
                    ],
                )],
            },
            ..RunInfo::default()
        };
        let html = report_of(&[("/a", 5, false)], 2, 1, None, &info);
        let section = &html[html.find("<section id=\"ratio\">").expect("ratio")..];
        let section = &section[..section.find("</section>").expect("end")];
        assert!(section.contains("<h3>Per user class</h3>") && section.contains("<h3>Total</h3>"));
        assert!(
            section.contains("<li>50.0% Browse<ul><li>75.0% listing</li></ul>"),
            "{section}"
        );
        assert!(section.contains("<li>37.5% listing</li>"), "{section}");
    }

    #[test]
    fn placeholders() {
        let info = RunInfo {
            users: 50,
            spawn_rate: 2.5,
            run_time: Some(60),
            ..RunInfo::default()
        };
        assert_eq!(file_name("r_{u}_{r}_{t}.html", &info), "r_50_2_60.html");
    }

    #[test]
    fn shapes_mask_ids() {
        assert_eq!(
            error_shape("HTTPError('404 for /item/12345?sid=deadbeef99')"),
            "HTTPError('# for /item/#?sid=#')"
        );
        assert_eq!(error_shape("timeout"), "timeout");
    }

    #[test]
    fn escapes_and_caps() {
        let hub = StatsHub::new_at(
            StatsLimits {
                max_entries: 1000,
                max_errors: 1_000_000,
            },
            1000.0,
        );
        let evil = "<script>alert(1)</script>";
        for i in 0..20_000u64 {
            hub.record_at(
                &Sample {
                    method: "GET",
                    name: evil,
                    response_time_us: Some(1000 + i),
                    content_length: 1,
                    error: Some(&format!("error {i} on <b>{}</b>", i % 300 * 7919)),
                },
                1001.0 + i as f64 / 1000.0,
            );
            hub.record_at(
                &Sample {
                    method: "GET",
                    name: &format!("/n{}", i % 400),
                    response_time_us: Some(1000),
                    content_length: 1,
                    error: Some(&format!("{:x}", i * 1_000_003).repeat(3 + (i % 3) as usize)),
                },
                1001.0 + i as f64 / 1000.0,
            );
        }
        let mut rec = Recorder::new();
        rec.track("GET", evil);
        rec.push(Point {
            t: 1002,
            secs: 1,
            users: 3,
            target_rate: None,
            total: Cell {
                requests: 3,
                failures: 3,
                pct: Some([1.0, 2.0, 3.0, 4.0]),
            },
            endpoints: vec![Cell {
                requests: 3,
                failures: 3,
                pct: Some([1.0, 2.0, 3.0, 4.0]),
            }],
        });
        let html = hub.read(|agg| {
            assert!(agg.errors().len() > 20_000);
            render(&ReportInput {
                agg,
                history: &rec,
                diagnosis: None,
                thresholds: &[],
                baseline: None,
                info: &RunInfo::default(),
            })
        });
        assert!(!html.contains(evil));
        assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(html.contains("\\u003cscript\\u003ealert(1)"));
        // 20 000 distinct messages on one endpoint are one group.
        assert!(html.contains("<td>20000</td><td>GET</td>"), "grouped");
        assert!(html.contains("more groups"), "capped");
        assert!(html.len() < 1_000_000, "{} bytes", html.len());
        for section in [
            "Request Statistics",
            "Response Time Statistics",
            "Failures Statistics",
            "chart-rps",
            "uPlot",
        ] {
            assert!(html.contains(section), "{section}");
        }
        assert!(
            !html.contains("<script src") && !html.contains("<link "),
            "no external resources"
        );
    }

    #[test]
    fn baseline_section_highlights_regressions_and_escapes_names() {
        let run = |ms: u64| {
            let hub = StatsHub::new_at(StatsLimits::default(), 1000.0);
            for i in 0..2000u64 {
                for (name, base) in [("/<b>steady</b>", 20), ("/slowed", ms)] {
                    hub.record_at(
                        &Sample {
                            method: "GET",
                            name,
                            response_time_us: Some((base + i % 3) * 1000),
                            content_length: 0,
                            error: None,
                        },
                        1000.0 + i as f64 / 100.0,
                    );
                }
            }
            hub.merge();
            hub
        };
        let base = crate::baseline::parse_json(&run(10).read(locusta_stats::json::stats_json))
            .expect("baseline");
        let hub = run(60);
        let rec = Recorder::new();
        let html = hub.read(|agg| {
            let c = crate::compare::compare(&base, agg);
            render(&ReportInput {
                agg,
                history: &rec,
                diagnosis: None,
                thresholds: &[],
                baseline: Some(&c),
                info: &RunInfo::default(),
            })
        });
        assert!(html.contains("<section id=\"baseline\"><h2>Compared with the baseline: 2 endpoints regressed</h2>"), "slowed and the aggregate");
        let slowed = html.find("<td>GET /slowed</td>").expect("slowed row");
        assert!(html[slowed..].contains("<tr class=\"regressed\"><td></td><td>p50</td>"));
        assert!(html.contains("GET /&lt;b&gt;steady&lt;/b&gt;"));
        assert!(!html.contains("<b>steady</b>"));
        assert!(html.contains("id=\"locusta-baseline\""));
    }
}
