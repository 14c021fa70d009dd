//! Prometheus metrics: the run's statistics in the OpenMetrics text format, and a small
//! server for `--headless --metrics-port`.
//!
//! Dashboards and alerting already speak Prometheus; exporting there lets a load test sit next
//! to the system's own metrics. The text is built at scrape time from the merged statistics by
//! a `prometheus-client` collector, so recording stays on the engine's hot path untouched.
//!
//! Metrics (labels `method`, `name`):
//! - `locusta_requests_total`, `locusta_failures_total` (counters);
//! - `locusta_response_time_seconds` (histogram; from the stats' 2-significant-digit buckets);
//! - `locusta_users` (gauge), `locusta_errors_total{method,name,error}` for the top 50 errors.
//!
//! The web UI mounts [`metrics_text`] at `/metrics` on its port; headless runs use
//! [`MetricsServer`].

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::Full;
use hyper::{Request, Response};
use locusta_stats::{Aggregate, Entry, StatsHub};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric, NoLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;

/// The `Content-Type` of [`metrics_text`].
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";
/// Histogram bucket upper bounds, seconds.
const BOUNDS: [f64; 14] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];
/// Error rows exported at most (the busiest).
const MAX_ERROR_SERIES: usize = 50;

#[derive(Debug)]
struct Snapshot {
    users: u64,
    rows: Vec<Row>,
    errors: Vec<(String, String, String, u64)>,
}

#[derive(Debug)]
struct Row {
    method: String,
    name: String,
    requests: u64,
    failures: u64,
    timed: u64,
    sum_s: f64,
    buckets: Vec<(f64, u64)>,
}

fn row(e: &Entry) -> Row {
    let mut buckets: Vec<(f64, u64)> = BOUNDS.iter().map(|b| (*b, 0)).collect();
    buckets.push((f64::INFINITY, 0));
    for (ms, count) in e.response_time_buckets() {
        let s = ms as f64 / 1000.0;
        let i = BOUNDS.iter().position(|b| s <= *b).unwrap_or(BOUNDS.len());
        buckets[i].1 += count;
    }
    Row {
        method: e.method().to_string(),
        name: e.name().to_string(),
        requests: e.num_requests(),
        failures: e.num_failures(),
        timed: e.num_requests() - e.num_none_requests(),
        sum_s: e.total_response_time() / 1000.0,
        buckets,
    }
}

impl Collector for Snapshot {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let labels = |r: &Row| vec![("method", r.method.clone()), ("name", r.name.clone())];
        let mut m = encoder.encode_descriptor(
            "locusta_requests",
            "Requests made, by endpoint",
            None,
            MetricType::Counter,
        )?;
        for r in &self.rows {
            let l = labels(r);
            m.encode_family(&l)?
                .encode_counter::<NoLabelSet, _, f64>(&r.requests, None)?;
        }
        let mut m = encoder.encode_descriptor(
            "locusta_failures",
            "Failed requests, by endpoint",
            None,
            MetricType::Counter,
        )?;
        for r in &self.rows {
            let l = labels(r);
            m.encode_family(&l)?
                .encode_counter::<NoLabelSet, _, f64>(&r.failures, None)?;
        }
        let mut m = encoder.encode_descriptor(
            "locusta_response_time_seconds",
            "Response times, by endpoint",
            None,
            MetricType::Histogram,
        )?;
        for r in &self.rows {
            let l = labels(r);
            m.encode_family(&l)?
                .encode_histogram::<NoLabelSet>(r.sum_s, r.timed, &r.buckets, None)?;
        }
        let mut m = encoder.encode_descriptor(
            "locusta_errors",
            "Occurrences of the most frequent errors",
            None,
            MetricType::Counter,
        )?;
        for (method, name, error, n) in &self.errors {
            let l = vec![
                ("method", method.clone()),
                ("name", name.clone()),
                ("error", error.clone()),
            ];
            m.encode_family(&l)?
                .encode_counter::<NoLabelSet, _, f64>(n, None)?;
        }
        let users = prometheus_client::metrics::gauge::ConstGauge::new(self.users as i64);
        let m =
            encoder.encode_descriptor("locusta_users", "Running users", None, MetricType::Gauge)?;
        users.encode(m)?;
        Ok(())
    }
}

/// The metrics of `agg` with `users` running, in the OpenMetrics text format ([`CONTENT_TYPE`]).
pub fn metrics_text(agg: &Aggregate, users: u64) -> String {
    let rows = agg
        .entries()
        .into_iter()
        .map(row)
        .chain(std::iter::once(row(agg.total())))
        .collect();
    let errors = agg
        .errors()
        .into_iter()
        .take(MAX_ERROR_SERIES)
        .map(|e| {
            let mut msg: String = e.error.chars().take(200).collect();
            msg = msg.replace('\n', " ");
            (e.method.clone(), e.name.clone(), msg, e.occurrences)
        })
        .collect();
    let mut registry = Registry::default();
    registry.register_collector(Box::new(Snapshot {
        users,
        rows,
        errors,
    }));
    let mut out = String::new();
    // Writing into a String cannot fail; an encoder error would be a bug in the collector.
    if let Err(e) = prometheus_client::encoding::text::encode(&mut out, &registry) {
        log::error!("encoding Prometheus metrics failed: {e}");
    }
    out
}

/// Serves `GET /metrics` for a headless run until [`MetricsServer::shutdown`] or drop.
pub struct MetricsServer {
    addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl MetricsServer {
    /// Binds `host:port` and serves on the current tokio runtime; `users` is read at each scrape.
    pub async fn start(
        host: &str,
        port: u16,
        stats: Arc<StatsHub>,
        users: Arc<Mutex<u64>>,
    ) -> std::io::Result<MetricsServer> {
        let listener = tokio::net::TcpListener::bind((host, port)).await?;
        let addr = listener.local_addr()?;
        let (stop, mut stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(async move {
            loop {
                let accepted = tokio::select! {
                    a = listener.accept() => a,
                    _ = &mut stopped => break,
                };
                let Ok((stream, _)) = accepted else {
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                };
                let stats = Arc::clone(&stats);
                let users = Arc::clone(&users);
                tokio::spawn(async move {
                    let service =
                        hyper::service::service_fn(move |req: Request<hyper::body::Incoming>| {
                            let stats = Arc::clone(&stats);
                            let users = Arc::clone(&users);
                            async move { Ok::<_, Infallible>(respond(&req, &stats, &users)) }
                        });
                    let io = hyper_util::rt::TokioIo::new(stream);
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(io, service)
                        .await;
                });
            }
        });
        Ok(MetricsServer {
            addr,
            stop: Some(stop),
        })
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops accepting connections.
    pub fn shutdown(mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
    }
}

fn respond<B>(req: &Request<B>, stats: &StatsHub, users: &Mutex<u64>) -> Response<Full<Bytes>> {
    let reply = |status: u16, ctype: &str, body: String| {
        let mut r = Response::new(Full::new(Bytes::from(body)));
        *r.status_mut() = hyper::StatusCode::from_u16(status).unwrap_or_default();
        if let Ok(v) = http::HeaderValue::from_str(ctype) {
            r.headers_mut().insert(http::header::CONTENT_TYPE, v);
        }
        r
    };
    if req.uri().path() != "/metrics" {
        return reply(
            404,
            "text/plain",
            "not found; metrics are at /metrics\n".into(),
        );
    }
    if req.method() != http::Method::GET && req.method() != http::Method::HEAD {
        return reply(405, "text/plain", "use GET\n".into());
    }
    let users = *users.lock().unwrap_or_else(|p| p.into_inner());
    reply(
        200,
        CONTENT_TYPE,
        stats.read(|agg| metrics_text(agg, users)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use locusta_stats::{Sample, StatsLimits};

    #[test]
    fn exposition_has_counts_histograms_and_users() {
        let hub = StatsHub::new_at(StatsLimits::default(), 1000.0);
        for i in 0..10u64 {
            hub.record_at(
                &Sample {
                    method: "GET",
                    name: "/a\"b",
                    response_time_us: Some(if i < 9 { 3_000 } else { 700_000 }),
                    content_length: 1,
                    error: if i == 0 { Some("boom") } else { None },
                },
                1001.0,
            );
        }
        let text = hub.read(|agg| metrics_text(agg, 7));
        assert!(
            text.contains("locusta_requests_total{method=\"GET\",name=\"/a\\\"b\"} 10"),
            "{text}"
        );
        assert!(
            text.contains("locusta_failures_total{method=\"GET\",name=\"/a\\\"b\"} 1"),
            "{text}"
        );
        assert!(text.contains("locusta_response_time_seconds_bucket{le=\"0.005\",method=\"GET\",name=\"/a\\\"b\"} 9")
            || text.contains("locusta_response_time_seconds_bucket{method=\"GET\",name=\"/a\\\"b\",le=\"0.005\"} 9"), "{text}");
        assert!(
            text.contains("le=\"+Inf\",method=\"GET\",name=\"/a\\\"b\"} 10"),
            "{text}"
        );
        assert!(text.contains("locusta_users 7"), "{text}");
        assert!(text.contains("error=\"boom\"} 1"), "{text}");
        assert!(text.contains("name=\"Aggregated\""), "{text}");
        assert!(text.trim_end().ends_with("# EOF"), "{text}");
    }

    #[tokio::test(flavor = "current_thread")]
    async fn serves_metrics_over_http() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let hub = StatsHub::new(StatsLimits::default());
        let server = MetricsServer::start("127.0.0.1", 0, hub, Arc::new(Mutex::new(3)))
            .await
            .unwrap();
        let mut s = tokio::net::TcpStream::connect(server.addr()).await.unwrap();
        s.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .await
            .unwrap();
        let mut buf = String::new();
        tokio::time::timeout(
            std::time::Duration::from_secs(10),
            s.read_to_string(&mut buf),
        )
        .await
        .unwrap()
        .unwrap();
        assert!(buf.starts_with("HTTP/1.1 200"), "{buf}");
        assert!(buf.contains("locusta_users 3"), "{buf}");
        server.shutdown();
    }
}
