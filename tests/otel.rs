//! `--otel` end to end with Rust user classes: the binary exports to an OTLP HTTP/protobuf
//! receiver started by the test (decoded with the official definitions from
//! `opentelemetry-proto`), and the histogram must equal the run's CSV, with spans and log
//! records; the console exporters
//! print; an unreachable collector costs a bounded wait and a warning. The Python suite
//! (`tests/python/test_otel.py`) covers gRPC, spans, traceparent, sampling and master/worker.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use locusta_demo::{DemoConfig, DemoServer};
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::common::v1::KeyValue;
use opentelemetry_proto::tonic::metrics::v1::metric::Data;
use prost::Message as _;

const BIN: &str = env!("CARGO_BIN_EXE_locusta");

fn target() -> DemoServer {
    DemoServer::start(([127, 0, 0, 1], 0).into(), DemoConfig::default()).expect("demo target")
}

/// Bodies POSTed to the receiver, by path.
type Bodies = Arc<Mutex<Vec<(String, Vec<u8>)>>>;

/// A minimal OTLP/HTTP receiver: HTTP/1.1 with keep-alive, answers 200 with an empty message
/// (a valid empty Export*ServiceResponse) and keeps each body.
fn receiver() -> (String, Bodies) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind receiver");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let bodies: Bodies = Arc::default();
    let kept = Arc::clone(&bodies);
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let kept = Arc::clone(&kept);
            std::thread::spawn(move || {
                let mut writer = match stream.try_clone() {
                    Ok(w) => w,
                    Err(_) => return,
                };
                let mut reader = BufReader::new(stream);
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 {
                        return;
                    }
                    let path = line.split(' ').nth(1).unwrap_or("").to_owned();
                    let mut length = 0usize;
                    loop {
                        let mut h = String::new();
                        if reader.read_line(&mut h).unwrap_or(0) == 0 {
                            return;
                        }
                        if h == "\r\n" {
                            break;
                        }
                        if let Some((k, v)) = h.split_once(':') {
                            if k.eq_ignore_ascii_case("content-length") {
                                length = v.trim().parse().unwrap_or(0);
                            }
                        }
                    }
                    let mut body = vec![0; length];
                    if reader.read_exact(&mut body).is_err() {
                        return;
                    }
                    kept.lock().expect("lock").push((path, body));
                    let answer = "HTTP/1.1 200 OK\r\nContent-Type: application/x-protobuf\r\nContent-Length: 0\r\n\r\n";
                    if writer.write_all(answer.as_bytes()).is_err() {
                        return;
                    }
                }
            });
        }
    });
    (url, bodies)
}

fn run(args: &[&str], env: &[(&str, &str)], cwd: &Path) -> (Output, Duration) {
    let mut cmd = Command::new(BIN);
    cmd.args(args)
        .current_dir(cwd)
        .env_remove("LOCUST_HOST")
        .stdin(Stdio::null());
    for (k, _) in std::env::vars() {
        if k.starts_with("OTEL_") {
            cmd.env_remove(k);
        }
    }
    cmd.envs(env.iter().copied());
    let started = Instant::now();
    let out = cmd.output().expect("run locusta");
    (out, started.elapsed())
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn attr<'a>(kvs: &'a [KeyValue], key: &str) -> Option<&'a Value> {
    kvs.iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.as_ref())
        .and_then(|v| v.value.as_ref())
}

fn string_attr(kvs: &[KeyValue], key: &str) -> Option<String> {
    match attr(kvs, key) {
        Some(Value::StringValue(s)) => Some(s.clone()),
        _ => None,
    }
}

/// {name: (requests, total response time in ms)} from the stats CSV.
fn csv_by_name(path: &Path) -> HashMap<String, (u64, f64)> {
    let mut reader = csv::Reader::from_path(path).expect("stats csv");
    let mut out: HashMap<String, (u64, f64)> = HashMap::new();
    for row in reader.records() {
        let row = row.expect("row");
        if &row[1] == "Aggregated" {
            continue;
        }
        let count: u64 = row[2].parse().expect("count");
        let avg: f64 = row[5].parse().expect("avg");
        let e = out.entry(row[1].to_owned()).or_default();
        e.0 += count;
        e.1 += count as f64 * avg;
    }
    out
}

#[test]
fn rust_users_export_the_csv_numbers_over_http_protobuf() {
    let target = target();
    let (endpoint, bodies) = receiver();
    let dir = tempfile::tempdir().expect("tempdir");
    let prefix = dir.path().join("run");
    let prefix_s = prefix.to_string_lossy().into_owned();
    let host = target.base_url();
    let (out, _) = run(
        &[
            "demo",
            "--headless",
            "-u",
            "3",
            "-r",
            "30",
            "-t",
            "2s",
            "-H",
            &host,
            "--otel",
            "--csv",
            &prefix_s,
            "--only-summary",
        ],
        &[
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint),
            ("OTEL_METRIC_EXPORT_INTERVAL", "300"),
            ("OTEL_BSP_SCHEDULE_DELAY", "200"),
        ],
        dir.path(),
    );
    let stderr = text(&out.stderr);
    assert!(stderr.contains("OpenTelemetry enabled"), "{stderr}");
    let bodies = bodies.lock().expect("lock").clone();
    // cumulative histogram: the last point per (name, error.type) holds the run's totals
    let mut last: HashMap<(String, Option<String>), (u64, f64)> = HashMap::new();
    let mut gauge_peak = 0;
    let mut spans = 0;
    let mut log_lines = Vec::new();
    for (path, body) in &bodies {
        match path.as_str() {
            "/v1/metrics" => {
                let req = ExportMetricsServiceRequest::decode(body.as_slice()).expect("metrics");
                for rm in &req.resource_metrics {
                    let res = &rm.resource.as_ref().expect("resource").attributes;
                    assert_eq!(string_attr(res, "service.name").as_deref(), Some("locust"));
                    for m in rm.scope_metrics.iter().flat_map(|s| &s.metrics) {
                        match (&*m.name, &m.data) {
                            ("locust.client.duration", Some(Data::Histogram(h))) => {
                                assert_eq!(m.unit, "s");
                                for dp in &h.data_points {
                                    let name = string_attr(&dp.attributes, "name").expect("name");
                                    let err = string_attr(&dp.attributes, "error.type");
                                    last.insert((name, err), (dp.count, dp.sum.unwrap_or(0.0)));
                                }
                            }
                            ("locust.users.count", Some(Data::Gauge(g))) => {
                                assert_eq!(m.unit, "{user}");
                                let total: i64 = g
                                    .data_points
                                    .iter()
                                    .map(|dp| match dp.value {
                                        Some(opentelemetry_proto::tonic::metrics::v1::number_data_point::Value::AsInt(v)) => v,
                                        _ => 0,
                                    })
                                    .sum();
                                gauge_peak = gauge_peak.max(total);
                            }
                            _ => {}
                        }
                    }
                }
            }
            "/v1/traces" => {
                let req = ExportTraceServiceRequest::decode(body.as_slice()).expect("traces");
                spans += req
                    .resource_spans
                    .iter()
                    .flat_map(|r| &r.scope_spans)
                    .map(|s| s.spans.len())
                    .sum::<usize>();
            }
            "/v1/logs" => {
                let req = ExportLogsServiceRequest::decode(body.as_slice()).expect("logs");
                for sl in req.resource_logs.iter().flat_map(|r| &r.scope_logs) {
                    for rec in &sl.log_records {
                        if let Some(Value::StringValue(b)) =
                            rec.body.as_ref().and_then(|b| b.value.as_ref())
                        {
                            let scope = sl
                                .scope
                                .as_ref()
                                .map(|s| s.name.clone())
                                .unwrap_or_default();
                            log_lines.push((scope, rec.severity_text.clone(), b.clone()));
                        }
                    }
                }
            }
            other => panic!("unexpected path {other}"),
        }
    }
    let mut by_name: HashMap<String, (u64, f64)> = HashMap::new();
    for ((name, _), (count, sum)) in last {
        let e = by_name.entry(name).or_default();
        e.0 += count;
        e.1 += sum;
    }
    let expected = csv_by_name(&prefix.with_file_name("run_stats.csv"));
    assert!(!expected.is_empty());
    assert_eq!(
        by_name.keys().collect::<std::collections::BTreeSet<_>>(),
        expected.keys().collect(),
        "{stderr}"
    );
    for (name, (count, total_ms)) in &expected {
        let (c, s) = by_name[name];
        assert_eq!(c, *count, "{name}");
        assert!(
            (s * 1000.0 - total_ms).abs() <= 1e-3 + total_ms * 1e-6,
            "{name}: {s} s vs {total_ms} ms"
        );
    }
    assert_eq!(gauge_peak, 3, "users gauge");
    assert!(spans > 0, "no spans exported");
    assert!(
        log_lines
            .iter()
            .any(|(scope, level, body)| scope == "locusta.runners"
                && level == "INFO"
                && body.starts_with("All users spawned")),
        "{log_lines:?}"
    );
}

#[test]
fn console_exporters_print_and_refused_collectors_cost_a_bounded_wait() {
    let target = target();
    let dir = tempfile::tempdir().expect("tempdir");
    let host = target.base_url();
    let args = [
        "demo",
        "--headless",
        "-u",
        "1",
        "-r",
        "10",
        "-t",
        "1s",
        "-H",
        &host,
        "--otel",
        "--only-summary",
    ];
    let (out, _) = run(
        &args,
        &[
            ("OTEL_TRACES_EXPORTER", "console"),
            ("OTEL_METRICS_EXPORTER", "console"),
            ("OTEL_LOGS_EXPORTER", "console"),
        ],
        dir.path(),
    );
    let stdout = text(&out.stdout);
    let stderr = text(&out.stderr);
    assert!(stdout.contains("locust.client.duration"), "{stdout}");
    assert!(
        stdout.contains("SpanKind::Client") || stdout.contains("Client"),
        "{stdout}"
    );
    assert!(stdout.contains("All users spawned"), "{stdout}");
    assert!(stderr.contains("All users spawned"), "{stderr}");

    // nothing listens there: a warning, and the run ends in bounded time with its usual code
    let (out, took) = run(
        &args,
        &[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:9")],
        dir.path(),
    );
    let stderr = text(&out.stderr);
    assert!(took < Duration::from_secs(20), "{took:?}");
    assert!(stderr.contains("OpenTelemetry: exporting"), "{stderr}");
    assert!(stderr.contains("is the collector running"), "{stderr}");
    assert!(matches!(out.status.code(), Some(0 | 1)), "{stderr}");
}
