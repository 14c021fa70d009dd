//! Routes served next to Locust's web API that locusta adds: `/stats/report` (the HTML report
//! of the run so far) and `/metrics` (Prometheus text).
//!
//! The report is rendered by whoever owns the run's history (the run controller), so the route
//! only asks for it through a channel and waits for the answer; `/metrics` reads the statistics
//! directly, like the rest of the API.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::Query;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
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

/// `GET /metrics`: Prometheus metrics of `stats` and `run` (read at each scrape), as OpenMetrics
/// when the scraper's `Accept` asks for it (Prometheus does), else the classic text format.
pub fn metrics_routes(
    stats: Arc<StatsHub>,
    run: locusta_insight::metrics::SharedRunGauges,
) -> axum::Router {
    let metrics = move |headers: HeaderMap| {
        let stats = Arc::clone(&stats);
        let run = Arc::clone(&run);
        async move {
            let accept = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok());
            let (text, content_type) = locusta_insight::metrics::scrape(&stats, &run, accept);
            ([(header::CONTENT_TYPE, content_type)], text)
        }
    };
    axum::Router::new().route("/metrics", axum::routing::get(metrics))
}
