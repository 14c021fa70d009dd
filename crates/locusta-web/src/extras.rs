//! Routes served next to Locust's web API that locusta adds: `/stats/report` (the HTML report
//! of the run so far) and `/metrics` (Prometheus text).
//!
//! The report is rendered by whoever owns the run's history (the run controller), so the route
//! only asks for it through a channel and waits for the answer; `/metrics` reads the statistics
//! directly, like the rest of the API.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use axum::extract::Query;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use locusta_stats::StatsHub;
use tokio::sync::{mpsc, oneshot};

/// A request for the HTML report: the controller answers on the enclosed sender.
pub type ReportRequest = oneshot::Sender<String>;

/// `GET /stats/report`: asks `requests` for the HTML report and serves it; `?download=1` makes
/// it an attachment named `download_name`, as in Locust.
pub fn report_routes(requests: mpsc::Sender<ReportRequest>, download_name: String) -> axum::Router {
    let report = move |Query(q): Query<HashMap<String, String>>| {
        let requests = requests.clone();
        let name = download_name.clone();
        async move {
            let (tx, rx) = oneshot::channel();
            if requests.send(tx).await.is_err() {
                return shutting_down();
            }
            let Ok(html) = rx.await else {
                return shutting_down();
            };
            let mut response = html.into_response();
            let headers = response.headers_mut();
            headers.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            );
            if q.get("download").is_some_and(|v| !v.is_empty()) {
                if let Ok(v) = HeaderValue::from_str(&format!("attachment;filename={name}")) {
                    headers.insert(header::CONTENT_DISPOSITION, v);
                }
            }
            response
        }
    };
    axum::Router::new().route("/stats/report", axum::routing::get(report))
}

fn shutting_down() -> Response {
    (StatusCode::SERVICE_UNAVAILABLE, "the test is shutting down").into_response()
}

/// `GET /metrics`: Prometheus text of `stats`, with `users` read at each scrape.
pub fn metrics_routes(stats: Arc<StatsHub>, users: Arc<AtomicU64>) -> axum::Router {
    let metrics = move || {
        let stats = Arc::clone(&stats);
        let users = users.load(Ordering::Relaxed);
        async move {
            let text = stats.read(|agg| locusta_insight::metrics::metrics_text(agg, users));
            (
                [(
                    header::CONTENT_TYPE,
                    "text/plain; version=0.0.4; charset=utf-8",
                )],
                text,
            )
        }
    };
    axum::Router::new().route("/metrics", axum::routing::get(metrics))
}
