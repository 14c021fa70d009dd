//! Prometheus metrics: the run's statistics as Prometheus exposition text, and a small server
//! for `--headless --metrics-port`.
//!
//! Dashboards and alerting already speak Prometheus; exporting there lets a load test sit next
//! to the system's own metrics. The text is built at scrape time from the merged statistics, so
//! recording stays on the engine's hot path untouched.
//!
//! Both formats Prometheus reads are served, chosen by the scraper's `Accept` header:
//! OpenMetrics 1.0 (what Prometheus asks for) and the classic text format 0.0.4 (what
//! `promtool check metrics`, `curl` and older scrapers read). The encoder is ours rather than
//! the `prometheus-client` crate's, which writes OpenMetrics only: classic parsers read its
//! counters as untyped and reject its `info` type.
//!
//! The families never mix an endpoint with the Aggregated row, so `sum()` over an endpoint
//! family is the run's total (labels `method`, `name`):
//! - `locusta_requests_total`, `locusta_failures_total`, `locusta_response_bytes_total`;
//! - `locusta_response_time_seconds` (histogram), `locusta_errors_total{method,name,error}`
//!   (the 50 most frequent errors);
//! - the Aggregated row in families of its own: `locusta_aggregated_requests_total`,
//!   `locusta_aggregated_failures_total`, `locusta_aggregated_response_bytes_total`,
//!   `locusta_aggregated_response_time_seconds`;
//! - the run: `locusta_users`, `locusta_users_by_class{user_class}`, `locusta_target_users`,
//!   `locusta_workers`, `locusta_run_state{state}`, `locusta_build_info{version}`.
//!
//! Histogram buckets come from the HDR histograms the statistics keep (3 significant digits,
//! microseconds) by [`Entry::counts_at_or_below_us`]: a response time is counted in `le=X` when
//! the lowest value of its HDR bin is `<= X`, so every value `<= X` is in it and a value above
//! `X` only when it is within the bound's own bin (exact up to 2 ms; at most 1/1024 above `X`
//! beyond). `_sum` is the exact sum of the recorded response times and `_count` the requests
//! that have one: the CSV's average times its request count.
//!
//! Native (sparse) histograms are not served: Prometheus reads them only from the protobuf
//! exposition (the text formats have no syntax for them), which would need a protobuf encoder
//! and content negotiation for a format most tooling (promtool, Grafana Agent's text path,
//! curl) cannot show; the classic buckets above answer `histogram_quantile` well enough at
//! load-test cardinalities.
//!
//! The web UI mounts [`metrics_text`] at `/metrics` on its port; headless runs use
//! [`MetricsServer`].

use std::convert::Infallible;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::Full;
use hyper::{Request, Response};
use locusta_stats::{Aggregate, Entry, StatsHub};

/// The `Content-Type` of the OpenMetrics text.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";
/// The `Content-Type` of the classic Prometheus text format.
pub const TEXT_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Histogram bucket upper bounds, microseconds: 1-2-5 steps from 1 ms to 20 s, then 30 s and
/// 60 s (a request ending at a common 30 s or 60 s timeout lands on a bound). `+Inf` follows.
pub const BOUNDS_US: [u64; 16] = [
    1_000, 2_000, 5_000, 10_000, 20_000, 50_000, 100_000, 200_000, 500_000, 1_000_000, 2_000_000,
    5_000_000, 10_000_000, 20_000_000, 30_000_000, 60_000_000,
];
/// Error rows exported at most (the busiest).
const MAX_ERROR_SERIES: usize = 50;
/// Characters of an error message kept in its label.
const MAX_ERROR_CHARS: usize = 200;
/// The run states, Locust's names: each is a `locusta_run_state` series.
pub const RUN_STATES: [&str; 5] = ["ready", "spawning", "running", "stopping", "stopped"];

/// Which exposition format to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// OpenMetrics 1.0 text ([`CONTENT_TYPE`]).
    OpenMetrics,
    /// The classic Prometheus text format 0.0.4 ([`TEXT_CONTENT_TYPE`]).
    Text,
}

impl Format {
    /// The format a scraper asked for with its `Accept` header: OpenMetrics when it lists
    /// `application/openmetrics-text` (Prometheus does), else the classic text.
    pub fn from_accept(accept: Option<&str>) -> Format {
        match accept {
            Some(a)
                if a.to_ascii_lowercase()
                    .contains("application/openmetrics-text") =>
            {
                Format::OpenMetrics
            }
            _ => Format::Text,
        }
    }

    /// The `Content-Type` of this format.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::OpenMetrics => CONTENT_TYPE,
            Format::Text => TEXT_CONTENT_TYPE,
        }
    }
}

/// What a scrape reports about the run besides the statistics; the run controller updates it
/// as the run goes.
#[derive(Debug, Clone, PartialEq)]
pub struct RunGauges {
    /// Locust's state name (`ready`, `spawning`, `running`, `stopping`, `stopped`).
    pub state: String,
    /// Users running now (on a master: as the workers report them).
    pub users: u64,
    /// Users the current ramp aims at.
    pub target_users: u64,
    /// Users per user class (on a master: as dealt to the workers).
    pub class_users: Vec<(String, u64)>,
    /// Workers taking users (0 when this process runs the users).
    pub workers: u64,
}

impl Default for RunGauges {
    fn default() -> Self {
        RunGauges {
            state: "ready".to_owned(),
            users: 0,
            target_users: 0,
            class_users: Vec::new(),
            workers: 0,
        }
    }
}

/// [`RunGauges`] shared between the run controller and the servers that scrape it.
pub type SharedRunGauges = Arc<Mutex<RunGauges>>;

impl RunGauges {
    /// Sets every field, copying the class list only when it changed (called at every tick).
    pub fn update(
        &mut self,
        state: &str,
        users: u64,
        target_users: u64,
        class_users: &[(String, u64)],
        workers: u64,
    ) {
        if self.state != state {
            state.clone_into(&mut self.state);
        }
        self.users = users;
        self.target_users = target_users;
        if self.class_users != class_users {
            self.class_users = class_users.to_vec();
        }
        self.workers = workers;
    }
}

/// The kinds of metric families written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Counter,
    Gauge,
    Histogram,
    Info,
}

/// Writes families in one format; `name` is the family name without the `_total` (counters)
/// or `_info` (info) suffix, as OpenMetrics names families.
struct Writer {
    format: Format,
    out: String,
}

impl Writer {
    fn family(&mut self, name: &str, kind: Kind, help: &str, unit: Option<&str>) {
        let (shown, type_name) = match (self.format, kind) {
            (Format::OpenMetrics, Kind::Counter) => (name.to_owned(), "counter"),
            (Format::OpenMetrics, Kind::Info) => (name.to_owned(), "info"),
            (Format::Text, Kind::Counter) => (format!("{name}_total"), "counter"),
            (Format::Text, Kind::Info) => (format!("{name}_info"), "gauge"),
            (_, Kind::Gauge) => (name.to_owned(), "gauge"),
            (_, Kind::Histogram) => (name.to_owned(), "histogram"),
        };
        let help = escape(help, self.format == Format::OpenMetrics);
        // Writing into a String cannot fail.
        let _ = writeln!(self.out, "# HELP {shown} {help}");
        let _ = writeln!(self.out, "# TYPE {shown} {type_name}");
        if let (Format::OpenMetrics, Some(unit)) = (self.format, unit) {
            let _ = writeln!(self.out, "# UNIT {shown} {unit}");
        }
    }

    /// One sample line: `name{labels} value`.
    fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: &str) {
        self.out.push_str(name);
        if !labels.is_empty() {
            self.out.push('{');
            for (i, (k, v)) in labels.iter().enumerate() {
                if i > 0 {
                    self.out.push(',');
                }
                self.out.push_str(k);
                self.out.push_str("=\"");
                self.out.push_str(&escape(v, true));
                self.out.push('"');
            }
            self.out.push('}');
        }
        self.out.push(' ');
        self.out.push_str(value);
        self.out.push('\n');
    }

    /// The samples of one histogram: cumulative buckets, `_sum` (seconds) and `_count`.
    fn histogram(&mut self, name: &str, labels: &[(&str, &str)], e: &Entry) {
        let timed = e.num_requests().saturating_sub(e.num_none_requests());
        let bucket = format!("{name}_bucket");
        let cumulative = e.counts_at_or_below_us(&BOUNDS_US);
        let les = BOUNDS_US.iter().map(|b| float(*b as f64 / 1e6));
        let counts = cumulative.into_iter().map(|c| c.min(timed));
        for (le, count) in les
            .chain(std::iter::once("+Inf".to_owned()))
            .zip(counts.chain(std::iter::once(timed)))
        {
            let mut with_le: Vec<(&str, &str)> = labels.to_vec();
            with_le.push(("le", &le));
            self.sample(&bucket, &with_le, &count.to_string());
        }
        // The total is a whole number of microseconds: one division keeps `0.001326` from
        // turning into `0.0013260000000000001`.
        let total_us = (e.total_response_time() * 1000.0).round();
        self.sample(&format!("{name}_sum"), labels, &float(total_us / 1e6));
        self.sample(&format!("{name}_count"), labels, &timed.to_string());
    }
}

/// Escapes a label value (`\`, `"`, newline) or a HELP text (`\`, newline; `"` too in
/// OpenMetrics).
fn escape(s: &str, quotes: bool) -> std::borrow::Cow<'_, str> {
    if !s.contains(['\\', '\n', '"']) {
        return std::borrow::Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '"' if quotes => out.push_str("\\\""),
            c => out.push(c),
        }
    }
    std::borrow::Cow::Owned(out)
}

/// A float as Prometheus' own clients write it (`0.005`, `1.0`, `+Inf`): the canonical form
/// OpenMetrics parsers expect in `le` labels.
fn float(v: f64) -> String {
    if v == f64::INFINITY {
        "+Inf".to_owned()
    } else if v == f64::NEG_INFINITY {
        "-Inf".to_owned()
    } else if v.is_nan() {
        "NaN".to_owned()
    } else {
        format!("{v:?}")
    }
}

/// One counter exported per endpoint and for the total: (name after `locusta_`, what it counts,
/// unit, the value of an entry).
type CounterSpec = (
    &'static str,
    &'static str,
    Option<&'static str>,
    fn(&Entry) -> u64,
);

/// The metrics of `agg` and `run` in `format` (its content type: [`Format::content_type`]).
pub fn metrics_text(agg: &Aggregate, run: &RunGauges, format: Format) -> String {
    let mut w = Writer {
        format,
        out: String::with_capacity(4096),
    };
    let entries = agg.entries();
    let total = agg.total();
    let counters: [CounterSpec; 3] = [
        ("requests", "Requests completed", None, Entry::num_requests),
        (
            "failures",
            "Requests that failed",
            None,
            Entry::num_failures,
        ),
        (
            "response_bytes",
            "Bytes of response content received",
            Some("bytes"),
            Entry::total_content_length,
        ),
    ];
    for (metric, what, unit, value) in counters {
        let name = format!("locusta_{metric}");
        w.family(
            &name,
            Kind::Counter,
            &format!("{what}, by endpoint (the total is locusta_aggregated_{metric}_total)"),
            unit,
        );
        let sample = format!("{name}_total");
        for e in &entries {
            let labels = [("method", e.method()), ("name", e.name())];
            w.sample(&sample, &labels, &value(e).to_string());
        }
    }
    w.family(
        "locusta_response_time_seconds",
        Kind::Histogram,
        "Response times, by endpoint (the total is locusta_aggregated_response_time_seconds)",
        Some("seconds"),
    );
    for e in &entries {
        let labels = [("method", e.method()), ("name", e.name())];
        w.histogram("locusta_response_time_seconds", &labels, e);
    }
    w.family(
        "locusta_errors",
        Kind::Counter,
        &format!(
            "Occurrences of each error, by endpoint (the {MAX_ERROR_SERIES} most frequent errors)"
        ),
        None,
    );
    for e in agg.errors().into_iter().take(MAX_ERROR_SERIES) {
        let msg: String = e
            .error
            .chars()
            .take(MAX_ERROR_CHARS)
            .map(|c| if c == '\n' { ' ' } else { c })
            .collect();
        w.sample(
            "locusta_errors_total",
            &[("method", &e.method), ("name", &e.name), ("error", &msg)],
            &e.occurrences.to_string(),
        );
    }
    for (metric, what, unit, value) in counters {
        let name = format!("locusta_aggregated_{metric}");
        w.family(
            &name,
            Kind::Counter,
            &format!("{what}, every endpoint together (the Aggregated row)"),
            unit,
        );
        w.sample(&format!("{name}_total"), &[], &value(total).to_string());
    }
    w.family(
        "locusta_aggregated_response_time_seconds",
        Kind::Histogram,
        "Response times, every endpoint together (the Aggregated row)",
        Some("seconds"),
    );
    w.histogram("locusta_aggregated_response_time_seconds", &[], total);
    w.family("locusta_users", Kind::Gauge, "Users running now", None);
    w.sample("locusta_users", &[], &run.users.to_string());
    w.family(
        "locusta_users_by_class",
        Kind::Gauge,
        "Users running now, by user class (on a master: as dealt to the workers)",
        None,
    );
    for (class, n) in &run.class_users {
        w.sample(
            "locusta_users_by_class",
            &[("user_class", class)],
            &n.to_string(),
        );
    }
    w.family(
        "locusta_target_users",
        Kind::Gauge,
        "Users the current ramp aims at",
        None,
    );
    w.sample("locusta_target_users", &[], &run.target_users.to_string());
    w.family(
        "locusta_workers",
        Kind::Gauge,
        "Workers connected and taking users (0 when this process runs the users)",
        None,
    );
    w.sample("locusta_workers", &[], &run.workers.to_string());
    w.family(
        "locusta_run_state",
        Kind::Gauge,
        "1 for the state the run is in (Locust's state names), 0 for the others",
        None,
    );
    let known = RUN_STATES.contains(&run.state.as_str());
    for state in RUN_STATES
        .iter()
        .copied()
        .chain((!known).then_some(run.state.as_str()))
    {
        let on = if state == run.state { "1" } else { "0" };
        w.sample("locusta_run_state", &[("state", state)], on);
    }
    w.family(
        "locusta_build",
        Kind::Info,
        "The locusta version serving these metrics",
        None,
    );
    w.sample(
        "locusta_build_info",
        &[("version", env!("CARGO_PKG_VERSION"))],
        "1",
    );
    if format == Format::OpenMetrics {
        w.out.push_str("# EOF\n");
    }
    w.out
}

/// Serves `GET /metrics` for a headless run until [`MetricsServer::shutdown`] or drop.
pub struct MetricsServer {
    addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl MetricsServer {
    /// Binds `host:port` and serves on the current tokio runtime; `run` is read at each scrape.
    pub async fn start(
        host: &str,
        port: u16,
        stats: Arc<StatsHub>,
        run: SharedRunGauges,
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
                let run = Arc::clone(&run);
                tokio::spawn(async move {
                    let service =
                        hyper::service::service_fn(move |req: Request<hyper::body::Incoming>| {
                            let stats = Arc::clone(&stats);
                            let run = Arc::clone(&run);
                            async move { Ok::<_, Infallible>(respond(&req, &stats, &run)) }
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

/// The body and content type of one scrape of `stats` and `run`, in the format `accept` asks
/// for (the web UI's `/metrics` uses it too).
pub fn scrape(
    stats: &StatsHub,
    run: &Mutex<RunGauges>,
    accept: Option<&str>,
) -> (String, &'static str) {
    let format = Format::from_accept(accept);
    let run = run.lock().unwrap_or_else(|p| p.into_inner()).clone();
    (
        stats.read(|agg| metrics_text(agg, &run, format)),
        format.content_type(),
    )
}

fn respond<B>(req: &Request<B>, stats: &StatsHub, run: &Mutex<RunGauges>) -> Response<Full<Bytes>> {
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
    let accept = req
        .headers()
        .get(http::header::ACCEPT)
        .and_then(|v| v.to_str().ok());
    let (body, ctype) = scrape(stats, run, accept);
    reply(200, ctype, body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use locusta_stats::{Sample, StatsLimits};

    fn record(hub: &StatsHub, name: &str, us: u64, error: Option<&str>) {
        hub.record_at(
            &Sample {
                method: "GET",
                name,
                response_time_us: Some(us),
                content_length: 3,
                error,
            },
            1001.0,
        );
    }

    fn running(users: u64) -> RunGauges {
        RunGauges {
            state: "running".into(),
            users,
            target_users: users,
            class_users: vec![("Shopper".into(), users)],
            workers: 0,
        }
    }

    /// The value of the sample line that starts with `prefix` (name and labels, as written).
    fn value(text: &str, prefix: &str) -> Option<f64> {
        text.lines()
            .find_map(|l| l.strip_prefix(prefix)?.strip_prefix(' ')?.parse().ok())
    }

    #[test]
    fn endpoint_families_hold_endpoints_only_and_the_total_has_its_own() {
        let hub = StatsHub::new_at(StatsLimits::default(), 1000.0);
        for i in 0..10u64 {
            let error = (i == 0).then_some("boom\nline two");
            record(&hub, "/a\"b", if i < 9 { 3_000 } else { 700_000 }, error);
        }
        record(&hub, "/c", 1_500, None);
        let text = hub.read(|agg| metrics_text(agg, &running(7), Format::OpenMetrics));
        assert!(!text.contains("name=\"Aggregated\""), "{text}");
        assert!(!text.contains("method=\"\""), "{text}");
        let a = "{method=\"GET\",name=\"/a\\\"b\"}";
        assert_eq!(
            value(&text, &format!("locusta_requests_total{a}")),
            Some(10.0)
        );
        assert_eq!(
            value(&text, &format!("locusta_failures_total{a}")),
            Some(1.0)
        );
        assert_eq!(
            value(&text, &format!("locusta_response_bytes_total{a}")),
            Some(30.0)
        );
        assert_eq!(
            value(&text, "locusta_aggregated_requests_total"),
            Some(11.0)
        );
        assert_eq!(value(&text, "locusta_aggregated_failures_total"), Some(1.0));
        assert_eq!(
            value(&text, "locusta_aggregated_response_bytes_total"),
            Some(33.0)
        );
        let bucket = |labels: &str| {
            value(
                &text,
                &format!("locusta_response_time_seconds_bucket{{{labels}}}"),
            )
        };
        assert_eq!(
            bucket("method=\"GET\",name=\"/a\\\"b\",le=\"0.005\""),
            Some(9.0)
        );
        assert_eq!(
            bucket("method=\"GET\",name=\"/a\\\"b\",le=\"0.5\""),
            Some(9.0)
        );
        assert_eq!(
            bucket("method=\"GET\",name=\"/a\\\"b\",le=\"1.0\""),
            Some(10.0)
        );
        assert_eq!(
            bucket("method=\"GET\",name=\"/a\\\"b\",le=\"+Inf\""),
            Some(10.0)
        );
        assert_eq!(bucket("method=\"GET\",name=\"/c\",le=\"0.002\""), Some(1.0));
        assert_eq!(
            value(
                &text,
                "locusta_aggregated_response_time_seconds_bucket{le=\"0.005\"}"
            ),
            Some(10.0)
        );
        let sum = value(&text, "locusta_aggregated_response_time_seconds_sum").expect("sum");
        assert!((sum - (9.0 * 0.003 + 0.7 + 0.0015)).abs() < 1e-9, "{sum}");
        assert_eq!(
            value(&text, "locusta_aggregated_response_time_seconds_count"),
            Some(11.0)
        );
        assert!(text.contains("error=\"boom line two\"} 1"), "{text}");
        assert_eq!(value(&text, "locusta_users"), Some(7.0));
        assert_eq!(
            value(&text, "locusta_users_by_class{user_class=\"Shopper\"}"),
            Some(7.0)
        );
        assert_eq!(
            value(&text, "locusta_run_state{state=\"running\"}"),
            Some(1.0)
        );
        assert_eq!(
            value(&text, "locusta_run_state{state=\"stopped\"}"),
            Some(0.0)
        );
        assert!(text.contains("locusta_build_info{version=\""), "{text}");
        assert!(text.ends_with("# EOF\n"), "{text}");
    }

    /// The width of the HDR bin (3 significant digits) that holds `us`.
    fn bin_width(us: u64) -> u64 {
        if us < 2048 {
            1
        } else {
            1 << (63 - us.leading_zeros() - 10)
        }
    }

    #[test]
    fn a_value_is_in_le_x_when_it_is_at_most_x_at_the_recording_resolution() {
        for (i, &bound) in BOUNDS_US.iter().enumerate() {
            let hub = StatsHub::new_at(StatsLimits::default(), 1000.0);
            let width = bin_width(bound);
            assert!(
                width * 1024 <= bound.max(1024),
                "bin at {bound} µs is {width} µs wide"
            );
            // Exactly on the bound, just under it, and the first value of the next HDR bin.
            let next_bin = bound - bound % width + width;
            record(&hub, "/on", bound, None);
            record(&hub, "/under", bound - 1, None);
            record(&hub, "/over", next_bin, None);
            if bound < 2048 {
                assert_eq!(next_bin, bound + 1, "exact below 2048 µs");
            }
            let text = hub.read(|agg| metrics_text(agg, &RunGauges::default(), Format::Text));
            let le = float(bound as f64 / 1e6);
            let at = |name: &str| {
                value(
                    &text,
                    &format!(
                        "locusta_response_time_seconds_bucket{{method=\"GET\",name=\"{name}\",le=\"{le}\"}}"
                    ),
                )
            };
            assert_eq!(at("/on"), Some(1.0), "{bound} µs in le={le}");
            assert_eq!(at("/under"), Some(1.0), "{} µs in le={le}", bound - 1);
            assert_eq!(at("/over"), Some(0.0), "{next_bin} µs not in le={le}");
            if let Some(&next) = BOUNDS_US.get(i + 1) {
                let le = float(next as f64 / 1e6);
                let over = value(
                    &text,
                    &format!("locusta_response_time_seconds_bucket{{method=\"GET\",name=\"/over\",le=\"{le}\"}}"),
                );
                assert_eq!(over, Some(1.0), "{next_bin} µs in le={le}");
            }
        }
    }

    #[test]
    fn bounds_are_a_1_2_5_ladder_written_canonically() {
        let les: Vec<String> = BOUNDS_US.iter().map(|b| float(*b as f64 / 1e6)).collect();
        assert_eq!(
            les,
            [
                "0.001", "0.002", "0.005", "0.01", "0.02", "0.05", "0.1", "0.2", "0.5", "1.0",
                "2.0", "5.0", "10.0", "20.0", "30.0", "60.0"
            ]
        );
    }

    #[test]
    fn classic_text_names_counters_and_info_as_classic_parsers_expect() {
        let hub = StatsHub::new_at(StatsLimits::default(), 1000.0);
        record(&hub, "/x", 2_000, None);
        let text = hub.read(|agg| metrics_text(agg, &running(1), Format::Text));
        assert!(
            text.contains("# TYPE locusta_requests_total counter\n"),
            "{text}"
        );
        assert!(text.contains("# TYPE locusta_build_info gauge\n"), "{text}");
        assert!(!text.contains("# EOF"), "{text}");
        assert!(!text.contains("# UNIT"), "{text}");
        let om = hub.read(|agg| metrics_text(agg, &running(1), Format::OpenMetrics));
        assert!(om.contains("# TYPE locusta_requests counter\n"), "{om}");
        assert!(om.contains("# TYPE locusta_build info\n"), "{om}");
        assert!(
            om.contains("# UNIT locusta_response_time_seconds seconds\n"),
            "{om}"
        );
        assert!(om.contains("# UNIT locusta_response_bytes bytes\n"), "{om}");
        // The same samples in both formats.
        let samples = |t: &str| -> Vec<String> {
            t.lines()
                .filter(|l| !l.starts_with('#'))
                .map(str::to_owned)
                .collect()
        };
        assert_eq!(samples(&text), samples(&om));
    }

    #[test]
    fn the_accept_header_picks_the_format() {
        assert_eq!(Format::from_accept(None), Format::Text);
        assert_eq!(Format::from_accept(Some("text/plain")), Format::Text);
        let prometheus = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
        assert_eq!(Format::from_accept(Some(prometheus)), Format::OpenMetrics);
    }

    #[test]
    fn an_unknown_state_is_shown_too() {
        let hub = StatsHub::new_at(StatsLimits::default(), 1000.0);
        let mut run = running(0);
        run.state = "cleanup".into();
        let text = hub.read(|agg| metrics_text(agg, &run, Format::Text));
        assert_eq!(
            value(&text, "locusta_run_state{state=\"cleanup\"}"),
            Some(1.0)
        );
        assert_eq!(
            value(&text, "locusta_run_state{state=\"running\"}"),
            Some(0.0)
        );
    }

    #[tokio::test(flavor = "current_thread")]
    async fn serves_metrics_over_http_in_the_format_asked_for() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let hub = StatsHub::new(StatsLimits::default());
        let server = MetricsServer::start("127.0.0.1", 0, hub, Arc::new(Mutex::new(running(3))))
            .await
            .unwrap();
        for (accept, ctype) in [
            ("", TEXT_CONTENT_TYPE),
            (
                "Accept: application/openmetrics-text; version=1.0.0\r\n",
                CONTENT_TYPE,
            ),
        ] {
            let mut s = tokio::net::TcpStream::connect(server.addr()).await.unwrap();
            let req =
                format!("GET /metrics HTTP/1.1\r\nHost: x\r\n{accept}Connection: close\r\n\r\n");
            s.write_all(req.as_bytes()).await.unwrap();
            let mut buf = String::new();
            tokio::time::timeout(
                std::time::Duration::from_secs(10),
                s.read_to_string(&mut buf),
            )
            .await
            .unwrap()
            .unwrap();
            assert!(buf.starts_with("HTTP/1.1 200"), "{buf}");
            assert!(
                buf.to_ascii_lowercase()
                    .contains(&format!("content-type: {ctype}")),
                "{buf}"
            );
            assert!(buf.contains("\nlocusta_users 3\n"), "{buf}");
        }
        server.shutdown();
    }
}
