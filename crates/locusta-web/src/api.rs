//! Locust's web API: the same paths, methods, form fields and JSON keys as Locust 2.47's
//! `web.py`, so scripts written against Locust's UI keep working, plus two read-only additions
//! the page uses (`/ui/info`, `/stats/history`).
//!
//! Differences from Locust, on purpose: a `/swarm` with bad parameters answers 400 (Locust
//! answers 200 with `"success": false`; the body is the same), and `/stats/requests` accepts
//! optional `sort`, `order` and `q` parameters so the page can sort and search all endpoints,
//! not only the 500 rows it receives.

use std::time::Duration;

use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use locusta_http::py_str;
use locusta_stats::{csv as stats_csv, Entry};
use serde::Deserialize;
use serde_json::{json, Map, Value};

use crate::assets;
use crate::control::{Command, SwarmRequest, TaskInfo, WebContext};

/// Rows `/stats/requests` returns at most (Locust's cap), besides the Aggregated row.
pub const MAX_ROWS: usize = 500;
/// Locust's `PERCENTILES_TO_STATISTICS`.
pub const PERCENTILES_TO_STATISTICS: [f64; 2] = [0.95, 0.99];
/// Locust's `PERCENTILES_TO_CHART`.
pub const PERCENTILES_TO_CHART: [f64; 2] = [0.5, 0.95];

/// The UI's routes, without base path, authentication or TLS (see [`crate::server`]). Merge
/// more routes into the result to extend the UI (`/metrics`, `/stats/report`).
pub fn router(ctx: WebContext) -> Router {
    Router::new()
        .route("/", get(index))
        .route("/assets/{*path}", get(asset))
        .route("/swarm", post(swarm))
        .route("/stop", post(stop))
        .route("/stats/reset", post(reset_stats))
        .route("/stats/requests", get(request_stats))
        .route("/stats/requests/csv", get(requests_csv))
        .route(
            "/stats/requests_full_history/csv",
            get(requests_full_history_csv),
        )
        .route("/stats/failures/csv", get(failures_csv))
        .route("/stats/history", get(history))
        .route("/exceptions", get(exceptions))
        .route("/exceptions/csv", get(exceptions_csv))
        .route("/tasks", get(tasks))
        .route("/logs", get(logs))
        .route("/worker-count", get(worker_count))
        .route("/ui/info", get(ui_info))
        .with_state(ctx)
}

async fn index() -> Response {
    match assets::get("index.html") {
        Some(body) => (
            [
                (header::CONTENT_TYPE, "text/html; charset=utf-8"),
                (header::CACHE_CONTROL, "no-cache"),
            ],
            body,
        )
            .into_response(),
        None => (
            StatusCode::INTERNAL_SERVER_ERROR,
            "Web UI assets are missing",
        )
            .into_response(),
    }
}

async fn asset(axum::extract::Path(path): axum::extract::Path<String>) -> Response {
    let full = format!("assets/{path}");
    match assets::get(&full) {
        Some(body) => (
            [
                (header::CONTENT_TYPE, assets::content_type(&full)),
                // File names carry a content hash.
                (header::CACHE_CONTROL, "public, max-age=31536000, immutable"),
            ],
            body,
        )
            .into_response(),
        None => (StatusCode::NOT_FOUND, "Not Found").into_response(),
    }
}

fn swarm_error(status: StatusCode, message: String, host: &str) -> Response {
    log::error!(target: "locusta.web", "{message}");
    (
        status,
        Json(json!({"success": false, "message": message, "host": host})),
    )
        .into_response()
}

/// Parses a `/swarm` form into a request, or an error message.
pub(crate) fn parse_swarm(
    ctx: &WebContext,
    fields: &[(String, String)],
) -> Result<SwarmRequest, String> {
    let mut user_count = None;
    let mut spawn_rate = None;
    let mut host = None;
    let mut run_time = None;
    let mut user_classes: Vec<String> = Vec::new();
    let mut extra = Vec::new();
    for (key, value) in fields {
        match key.as_str() {
            "user_count" => {
                let n = value.trim().parse::<i64>().map_err(|_| {
                    format!(
                        "Invalid user_count value: {} (must be an integer)",
                        py_str(value)
                    )
                })?;
                user_count = Some(n);
            }
            "spawn_rate" => {
                let r = value.trim().parse::<f64>().map_err(|_| {
                    format!(
                        "Invalid spawn_rate value: {} (must be a number)",
                        py_str(value)
                    )
                })?;
                spawn_rate = Some(r);
            }
            "host" => host = Some(value.replace(['<', '>'], "")),
            "user_classes" => user_classes.push(value.clone()),
            "run_time" => {
                if value.trim().is_empty() {
                    continue;
                }
                let secs = locusta_options::parse_timespan(value.trim()).map_err(|_| {
                    "Valid run_time formats are : 20, 20s, 3m, 2h, 1h20m, 3h30m10s, etc.".to_owned()
                })?;
                run_time = Some(Duration::from_secs(secs));
            }
            "shape_class" => {
                if value != "Default" && Some(value) != ctx.info.shape_class.as_ref() {
                    return Err(format!("Unknown shape class: {value:?}"));
                }
            }
            other => {
                if ctx.info.extra_options.iter().any(|o| o.name == other) {
                    extra.push((other.to_owned(), value.clone()));
                }
                // Locust ignores fields it does not know.
            }
        }
    }
    if !user_classes.is_empty() {
        let known: Vec<&str> = ctx.info.classes.iter().map(|c| c.name.as_str()).collect();
        if let Some(bad) = user_classes.iter().find(|c| !known.contains(&c.as_str())) {
            return Err(format!(
                "Unknown user class {bad:?}; this locustfile has: {}",
                known.join(", ")
            ));
        }
        if user_classes.len() < known.len() && !ctx.info.class_picker {
            return Err(
                "Choosing a subset of user classes needs --class-picker (or positional class \
                 names on the command line)"
                    .to_owned(),
            );
        }
    }
    let user_classes = (ctx.info.class_picker && !user_classes.is_empty()).then_some(user_classes);
    let shape = ctx.info.shape_class.is_some();
    let (user_count, spawn_rate) = match (user_count, spawn_rate) {
        (Some(u), Some(r)) if u >= 0 && r > 0.0 && r.is_finite() => (u as u64, r),
        _ if shape => (0, 1.0),
        _ => return Err("Missing or invalid user_count or spawn_rate from /swarm request".into()),
    };
    Ok(SwarmRequest {
        user_count,
        spawn_rate,
        host,
        run_time,
        extra_options: extra,
        user_classes,
    })
}

async fn swarm(State(ctx): State<WebContext>, headers: HeaderMap, body: Bytes) -> Response {
    let host = ctx.status().host;
    let ctype = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !ctype.is_empty() && !ctype.starts_with("application/x-www-form-urlencoded") {
        return swarm_error(
            StatusCode::BAD_REQUEST,
            format!("/swarm expects an application/x-www-form-urlencoded form, not {ctype}"),
            &host,
        );
    }
    let fields: Vec<(String, String)> = url::form_urlencoded::parse(&body)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let req = match parse_swarm(&ctx, &fields) {
        Ok(r) => r,
        Err(msg) => return swarm_error(StatusCode::BAD_REQUEST, msg, &host),
    };
    let host_now = req.host.clone().unwrap_or(host);
    let run_time = req.run_time;
    if !ctx.send(Command::Swarm(req)) {
        return swarm_error(
            StatusCode::SERVICE_UNAVAILABLE,
            "The test is shutting down".into(),
            &host_now,
        );
    }
    if let Some(shape) = &ctx.info.shape_class {
        return Json(json!({
            "success": true,
            "message": format!("Swarming started using shape class '{shape}'"),
            "host": host_now,
        }))
        .into_response();
    }
    let mut body = json!({"success": true, "message": "Swarming started", "host": host_now});
    if let Some(rt) = run_time {
        body["run_time"] = json!(rt.as_secs());
    }
    Json(body).into_response()
}

async fn stop(State(ctx): State<WebContext>) -> Response {
    ctx.send(Command::Stop);
    Json(json!({"success": true, "message": "Test stopped"})).into_response()
}

async fn reset_stats(State(ctx): State<WebContext>) -> &'static str {
    ctx.stats.reset();
    ctx.stats.reset_exceptions();
    ctx.history.clear();
    ctx.send(Command::ResetStats);
    "ok"
}

/// A millisecond value as Locust's JSON carries it: integral values as integers.
fn ms_number(ms: f64) -> Value {
    if ms.fract() == 0.0 && ms.abs() < 9e15 {
        json!(ms as i64)
    } else {
        json!(ms)
    }
}

/// Locust's `proper_round(x)`: a float, halves rounded up.
fn py_round(ms: f64) -> Value {
    json!(ms.round())
}

fn pct_key(p: f64) -> String {
    format!("response_time_percentile_{p}")
}

/// Locust's `StatsEntry.to_dict()`.
pub fn entry_dict(e: &Entry) -> Value {
    let mut m = Map::new();
    m.insert("method".into(), json!(e.method()));
    m.insert("name".into(), json!(e.name()));
    m.insert("num_requests".into(), json!(e.num_requests()));
    m.insert("num_failures".into(), json!(e.num_failures()));
    m.insert(
        "min_response_time".into(),
        match e.min_response_time() {
            None => json!(0),
            Some(v) => py_round(v),
        },
    );
    m.insert("max_response_time".into(), py_round(e.max_response_time()));
    m.insert("current_rps".into(), json!(e.current_rps()));
    m.insert(
        "current_fail_per_sec".into(),
        json!(e.current_fail_per_sec()),
    );
    m.insert("avg_response_time".into(), json!(e.avg_response_time()));
    m.insert(
        "median_response_time".into(),
        ms_number(e.median_response_time()),
    );
    m.insert("total_rps".into(), json!(e.total_rps()));
    m.insert("total_fail_per_sec".into(), json!(e.total_fail_per_sec()));
    let ps = e.percentiles(&PERCENTILES_TO_STATISTICS);
    for (p, v) in PERCENTILES_TO_STATISTICS.iter().zip(ps) {
        m.insert(pct_key(*p), ms_number(v));
    }
    m.insert("avg_content_length".into(), json!(e.avg_content_length()));
    // beyond Locust: Locust rounds min and max to whole ms here; these keep the measured value
    // (the UI shows them next to decimal medians and percentiles)
    m.insert(
        "exact_min_response_time".into(),
        json!(e.min_response_time().unwrap_or(0.0)),
    );
    m.insert(
        "exact_max_response_time".into(),
        json!(e.max_response_time()),
    );
    Value::Object(m)
}

/// Optional `/stats/requests` parameters (locusta's addition; Locust ignores them).
#[derive(Debug, Default, Deserialize)]
struct StatsQuery {
    /// A key of the row dict to sort by before the 500-row cap.
    sort: Option<String>,
    /// `asc` or `desc`.
    order: Option<String>,
    /// Case-insensitive substring of the name or method.
    q: Option<String>,
}

fn sort_value(e: &Entry, key: &str) -> Option<SortKey> {
    Some(match key {
        "method" => SortKey::Text(e.method().to_owned()),
        "name" => SortKey::Text(e.name().to_owned()),
        "num_requests" => SortKey::Num(e.num_requests() as f64),
        "num_failures" => SortKey::Num(e.num_failures() as f64),
        "min_response_time" => SortKey::Num(e.min_response_time().unwrap_or(0.0)),
        "max_response_time" => SortKey::Num(e.max_response_time()),
        "current_rps" => SortKey::Num(e.current_rps()),
        "current_fail_per_sec" => SortKey::Num(e.current_fail_per_sec()),
        "avg_response_time" => SortKey::Num(e.avg_response_time()),
        "median_response_time" => SortKey::Num(e.median_response_time()),
        "total_rps" => SortKey::Num(e.total_rps()),
        "total_fail_per_sec" => SortKey::Num(e.total_fail_per_sec()),
        "avg_content_length" => SortKey::Num(e.avg_content_length()),
        "fail_ratio" => SortKey::Num(e.fail_ratio()),
        k => {
            let p = k
                .strip_prefix("response_time_percentile_")?
                .parse::<f64>()
                .ok()?;
            if !(0.0..=1.0).contains(&p) {
                return None;
            }
            SortKey::Num(e.percentile(p))
        }
    })
}

#[derive(Debug, PartialEq, PartialOrd)]
enum SortKey {
    Num(f64),
    Text(String),
}

async fn request_stats(
    State(ctx): State<WebContext>,
    query: Result<Query<StatsQuery>, QueryRejection>,
) -> Response {
    let q = match query {
        Ok(Query(q)) => q,
        Err(e) => return bad_request(e.body_text()),
    };
    if let Some(order) = q.order.as_deref() {
        if order != "asc" && order != "desc" {
            return bad_request(format!("order must be asc or desc, not {order:?}"));
        }
    }
    let status = ctx.status();
    let result = ctx.stats.read(|agg| {
        let entries = agg.entries();
        let total_entries = entries.len();
        let entries = select_entries(entries, &q)?;
        let matching = entries.len();
        let mut rows: Vec<Value> = entries
            .iter()
            .take(MAX_ROWS)
            .map(|e| entry_dict(e))
            .collect();
        let total = agg.total();
        rows.push(entry_dict(total));
        let errors: Vec<Value> = agg
            .errors_in_order_seen()
            .into_iter()
            .take(MAX_ROWS)
            .map(|e| {
                json!({
                    "name": e.name,
                    "method": e.method,
                    "error": e.error,
                    "occurrences": e.occurrences,
                    "first_seen": e.first_seen,
                    "last_seen": e.last_seen,
                })
            })
            .collect();
        let current = total.current_percentiles_at(&PERCENTILES_TO_CHART, locusta_util::unix_now());
        let mut cur = Map::new();
        for (i, p) in PERCENTILES_TO_CHART.iter().enumerate() {
            cur.insert(
                pct_key(*p),
                current.as_ref().map_or(Value::Null, |v| ms_number(v[i])),
            );
        }
        let mut report = Map::new();
        report.insert("stats".into(), Value::Array(rows));
        report.insert("errors".into(), Value::Array(errors));
        report.insert("current_rps".into(), json!(total.current_rps()));
        report.insert(
            "current_fail_per_sec".into(),
            json!(total.current_fail_per_sec()),
        );
        report.insert("total_rps".into(), json!(total.total_rps()));
        report.insert(
            "total_fail_per_sec".into(),
            json!(total.total_fail_per_sec()),
        );
        report.insert("fail_ratio".into(), json!(total.fail_ratio()));
        report.insert(
            "current_response_time_percentiles".into(),
            Value::Object(cur),
        );
        report.insert("state".into(), json!(status.state));
        report.insert("user_count".into(), json!(status.user_count));
        Ok((Value::Object(report), total_entries, matching))
    });
    match result {
        Ok((body, total_entries, matching)) => {
            let mut json = serde_json::to_vec(&body).unwrap_or_else(|_| b"{}".to_vec());
            let master = ctx.distributed.load(std::sync::atomic::Ordering::Relaxed);
            if master || status.worker_count > 0 || !status.workers.is_empty() {
                // The Workers rows go in as JSON serialized once per published set (outside
                // the statistics' lock): `"worker_count"` and `"workers"` sort after every
                // other key, so the object stays in key order.
                let rows = ctx.workers_json(&status.workers);
                json.pop();
                json.extend_from_slice(
                    format!(",\"worker_count\":{},\"workers\":", status.worker_count).as_bytes(),
                );
                json.extend_from_slice(&rows);
                json.push(b'}');
            }
            let mut resp = ([(header::CONTENT_TYPE, "application/json")], json).into_response();
            let h = resp.headers_mut();
            h.insert("x-locusta-entries", HeaderValue::from(total_entries as u64));
            h.insert("x-locusta-matching", HeaderValue::from(matching as u64));
            resp
        }
        Err(msg) => bad_request(msg),
    }
}

/// The rows `/stats/requests` shows: those matching the `q` filter (name or method), sorted
/// by `sort` in `order` when asked.
fn select_entries<'a>(
    mut entries: Vec<&'a Entry>,
    q: &StatsQuery,
) -> Result<Vec<&'a Entry>, String> {
    if let Some(needle) = q.q.as_deref().filter(|s| !s.is_empty()) {
        let needle = needle.to_lowercase();
        entries.retain(|e| {
            e.name().to_lowercase().contains(&needle) || e.method().to_lowercase().contains(&needle)
        });
    }
    let Some(key) = q.sort.as_deref() else {
        return Ok(entries);
    };
    let mut keyed = Vec::with_capacity(entries.len());
    for e in entries {
        match sort_value(e, key) {
            Some(k) => keyed.push((k, e)),
            None => return Err(format!("cannot sort by {key:?}")),
        }
    }
    keyed.sort_by(|a, b| a.0.partial_cmp(&b.0).unwrap_or(std::cmp::Ordering::Equal));
    if q.order.as_deref() == Some("desc") {
        keyed.reverse();
    }
    Ok(keyed.into_iter().map(|(_, e)| e).collect())
}

fn bad_request(message: String) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(json!({"success": false, "message": message})),
    )
        .into_response()
}

fn csv_response(ctx: &WebContext, csv: String, prefix: &str) -> Response {
    let start = ctx.stats.read(|agg| agg.start_time());
    let host = ctx.status().host;
    let host = if host.is_empty() {
        String::new()
    } else {
        format!("_{host}")
    };
    let name = format!(
        "Locust_{}_{}{}_{}.csv",
        locusta_util::safe_timestamp(start),
        ctx.info.locustfile,
        host,
        prefix
    );
    let disposition = format!("attachment;filename={name}");
    let mut resp = csv.into_response();
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/csv"));
    if let Ok(v) = HeaderValue::from_str(&disposition) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    resp
}

async fn requests_csv(State(ctx): State<WebContext>) -> Response {
    let csv = ctx.stats.read(stats_csv::stats_csv);
    csv_response(&ctx, csv, "requests")
}

async fn requests_full_history_csv(State(ctx): State<WebContext>) -> Response {
    if ctx.info.stats_history_enabled {
        if let Some(path) = &ctx.info.full_history_file {
            if let Ok(text) = tokio::fs::read_to_string(path).await {
                return csv_response(&ctx, text, "requests_full_history");
            }
        }
    }
    (
        StatusCode::NOT_FOUND,
        "Error: Server was not started with option to generate full history.",
    )
        .into_response()
}

async fn failures_csv(State(ctx): State<WebContext>) -> Response {
    let csv = ctx.stats.read(stats_csv::failures_csv);
    csv_response(&ctx, csv, "failures")
}

async fn exceptions_csv(State(ctx): State<WebContext>) -> Response {
    let csv = ctx.stats.read(stats_csv::exceptions_csv);
    csv_response(&ctx, csv, "exceptions")
}

async fn exceptions(State(ctx): State<WebContext>) -> Json<Value> {
    let rows: Vec<Value> = ctx.stats.read(|agg| {
        agg.exceptions()
            .into_iter()
            .map(|r| {
                let nodes: Vec<&str> = r.nodes.iter().map(String::as_str).collect();
                json!({
                    "count": r.count,
                    "msg": r.msg,
                    "traceback": r.traceback,
                    "nodes": nodes.join(", "),
                })
            })
            .collect()
    });
    Json(json!({ "exceptions": rows }))
}

fn task_ratio(tasks: &[TaskInfo], parent: f64) -> Value {
    let total: u64 = tasks.iter().map(|t| t.weight).sum();
    let mut m = Map::new();
    for t in tasks {
        let r = if total == 0 {
            0.0
        } else {
            t.weight as f64 * parent / total as f64
        };
        let mut d = Map::new();
        d.insert("ratio".into(), json!(r));
        if !t.tasks.is_empty() {
            d.insert("tasks".into(), task_ratio(&t.tasks, r));
        }
        m.insert(t.name.clone(), Value::Object(d));
    }
    Value::Object(m)
}

/// Locust's `get_ratio`: each class's share of the spawned users, and its tasks' shares
/// (within the class for `per_class`, of everything for `total`).
fn ratio(ctx: &WebContext, total: bool) -> Value {
    let status = ctx.status();
    let spawned: u64 = status.class_counts.iter().map(|(_, n)| n).sum();
    let denom = spawned.max(1) as f64;
    let mut m = Map::new();
    for class in &ctx.info.classes {
        let n = status
            .class_counts
            .iter()
            .find(|(c, _)| *c == class.name)
            .map_or(0, |(_, n)| *n);
        let r = n as f64 / denom;
        m.insert(
            class.name.clone(),
            json!({"ratio": r, "tasks": task_ratio(&class.tasks, if total { r } else { 1.0 })}),
        );
    }
    Value::Object(m)
}

async fn tasks(State(ctx): State<WebContext>) -> Json<Value> {
    Json(json!({"per_class": ratio(&ctx, false), "total": ratio(&ctx, true)}))
}

async fn logs(State(ctx): State<WebContext>) -> Json<Value> {
    let lines = (ctx.logs)();
    let workers = crate::control::lock(&ctx.worker_logs).clone();
    Json(json!({"master": lines, "workers": workers}))
}

async fn worker_count(State(ctx): State<WebContext>) -> Json<Value> {
    Json(json!({"worker_count": ctx.status().worker_count}))
}

/// What the start form and navbar need that Locust puts into its page template.
async fn ui_info(State(ctx): State<WebContext>) -> Json<Value> {
    let info = &ctx.info;
    let status = ctx.status();
    Json(json!({
        "locustfile": info.locustfile,
        "version": env!("CARGO_PKG_VERSION"),
        "num_users": info.num_users,
        "spawn_rate": info.spawn_rate,
        "run_time": info.run_time,
        "host": status.host,
        "is_host_required": !info.host_optional,
        "user_classes": info.classes.iter().map(|c| c.name.clone()).collect::<Vec<_>>(),
        "shape_class": info.shape_class,
        "extra_options": info.extra_options.iter().map(extra_option_json).collect::<Vec<_>>(),
        "stats_history_enabled": info.stats_history_enabled,
        "percentiles_to_chart": PERCENTILES_TO_CHART,
        "percentiles_to_statistics": PERCENTILES_TO_STATISTICS,
        "history_percentiles": crate::history::TOTAL_PERCENTILES,
        "max_rows": MAX_ROWS,
        "has_report": info.has_report,
        "class_picker": info.class_picker,
    }))
}

/// An option of the start form. The value of an `is_secret` option never leaves the process:
/// the page gets `""` and `has_value` (Locust 2.47 puts the value into its page and only masks
/// the input field); a secret left empty in the form is not sent, so the value stays.
fn extra_option_json(o: &crate::control::ExtraOptionInfo) -> Value {
    let mut v = json!(o);
    if o.is_secret {
        v["default_value"] = json!("");
        if let Some(choices) = v.get_mut("choices").filter(|c| c.is_array()) {
            *choices = Value::Null;
        }
    }
    v["has_value"] = json!(!o.default_value.is_empty());
    v
}

#[derive(Debug, Deserialize)]
struct HistoryQuery {
    name: Option<String>,
    method: Option<String>,
}

async fn history(
    State(ctx): State<WebContext>,
    query: Result<Query<HistoryQuery>, QueryRejection>,
) -> Response {
    let q = match query {
        Ok(Query(q)) => q,
        Err(e) => return bad_request(e.body_text()),
    };
    match q {
        HistoryQuery {
            name: Some(name),
            method,
        } => {
            let method = method.unwrap_or_default();
            match ctx.history.endpoint_json(&method, &name) {
                Some(v) => Json(v).into_response(),
                None => (
                    StatusCode::NOT_FOUND,
                    Json(json!({"success": false, "message": format!("no history for {method} {name} (only the first {} endpoints have one)", crate::history::MAX_TRACKED)})),
                )
                    .into_response(),
            }
        }
        _ => Json(ctx.history.total_json()).into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::py_str;

    #[test]
    fn secret_option_values_are_not_sent() {
        let mut o = crate::control::ExtraOptionInfo {
            name: "token".into(),
            default_value: "s3cr3t-value".into(),
            help: "h".into(),
            choices: Some(vec!["s3cr3t-value".into()]),
            is_secret: true,
        };
        let v = super::extra_option_json(&o);
        assert!(!v.to_string().contains("s3cr3t"), "{v}");
        assert_eq!(v["has_value"], true);
        assert_eq!(v["default_value"], "");
        o.is_secret = false;
        let v = super::extra_option_json(&o);
        assert_eq!(v["default_value"], "s3cr3t-value");
    }

    /// A master's `/stats/requests`: the Workers rows spliced in as JSON stay valid JSON in
    /// key order, and are serialized again only when the control loop publishes new rows.
    #[tokio::test]
    async fn a_masters_workers_rows_are_spliced_into_stats_requests_in_key_order() {
        use std::sync::Arc;

        use crate::control::{RunInfo, Status, WebContext, WorkerInfo};

        let stats = locusta_stats::StatsHub::new(locusta_stats::StatsLimits::default());
        let (ctx, port) = WebContext::new(stats, RunInfo::default(), Arc::new(Vec::new));
        port.set_distributed();
        let rows = Arc::new(vec![WorkerInfo {
            id: "w\"1".into(),
            state: "running".into(),
            user_count: 3,
            cpu_usage: 1.5,
            memory_usage: 7,
        }]);
        port.publish(Status {
            worker_count: 1,
            workers: Arc::clone(&rows),
            ..Status::default()
        });
        let body = |resp: axum::response::Response| async move {
            let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX)
                .await
                .expect("body");
            String::from_utf8(bytes.to_vec()).expect("utf-8")
        };
        let query = Ok(axum::extract::Query(super::StatsQuery::default()));
        let text = body(super::request_stats(axum::extract::State(ctx.clone()), query).await).await;
        let v: serde_json::Value = serde_json::from_str(&text).expect("valid JSON");
        assert_eq!(v["worker_count"], 1);
        assert_eq!(v["workers"][0]["id"], "w\"1");
        assert_eq!(v["workers"][0]["user_count"], 3);
        let keys: Vec<&String> = v.as_object().expect("object").keys().collect();
        let positions: Vec<usize> = keys
            .iter()
            .map(|k| text.find(&format!("\"{k}\":")).expect("key in text"))
            .collect();
        assert!(positions.windows(2).all(|w| w[0] < w[1]), "{text}");
        // Cached per published set of rows, rebuilt for a new one.
        let first = ctx.workers_json(&rows);
        assert_eq!(first.as_ptr(), ctx.workers_json(&rows).as_ptr());
        let other = Arc::new(Vec::new());
        assert_eq!(&ctx.workers_json(&other)[..], b"[]");
    }

    #[test]
    fn repr_quotes_like_python() {
        assert_eq!(py_str("many"), "'many'");
        assert_eq!(py_str("it's"), "\"it's\"");
        assert_eq!(py_str("a'b\"c"), "'a\\'b\"c'");
        assert_eq!(py_str("x\ny"), "'x\\ny'");
    }
}
