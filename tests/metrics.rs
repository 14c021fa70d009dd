//! End-to-end tests of the Prometheus metrics with real `locusta` processes on loopback: a
//! `locusta demo` run scraped while it runs and after its test ended, and a master with two
//! workers. Every scrape is checked the same way: the endpoint families hold endpoints only,
//! the `locusta_aggregated_*` metrics are the sums of the endpoints, the buckets rise to
//! `+Inf == _count`; at the end the counts and sums equal the `--csv` `_stats.csv`. When
//! `promtool` is installed (Debian's `prometheus` package), every scrape in the classic text
//! format also passes `promtool check metrics`.
//!
//! `deploy/grafana/locusta-dashboard.json` is checked here too: it parses, every metric its
//! queries use is in a real scrape, and (when Debian's `prometheus` is installed) a real
//! Prometheus scraping a run answers every one of its queries with data.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use locusta_demo::{DemoConfig, DemoServer};

const BIN: &str = env!("CARGO_BIN_EXE_locusta");
const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0";

/// One sample line: metric name, labels, value.
#[derive(Debug, Clone)]
struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

/// Parses the sample lines of an exposition (both formats; comments skipped). Panics on a line
/// it cannot read, which is the point.
fn parse(text: &str) -> Vec<Sample> {
    let mut out = Vec::new();
    for line in text.lines() {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (head, value) = line
            .rsplit_once(' ')
            .unwrap_or_else(|| panic!("no value in {line:?}"));
        let value: f64 = match value {
            "+Inf" => f64::INFINITY,
            v => v
                .parse()
                .unwrap_or_else(|_| panic!("bad value in {line:?}")),
        };
        let (name, labels) = match head.split_once('{') {
            None => (head.to_owned(), BTreeMap::new()),
            Some((name, rest)) => {
                let rest = rest
                    .strip_suffix('}')
                    .unwrap_or_else(|| panic!("unclosed labels in {line:?}"));
                (name.to_owned(), parse_labels(rest, line))
            }
        };
        out.push(Sample {
            name,
            labels,
            value,
        });
    }
    out
}

fn parse_labels(mut s: &str, line: &str) -> BTreeMap<String, String> {
    let mut labels = BTreeMap::new();
    while !s.is_empty() {
        let (key, rest) = s
            .split_once("=\"")
            .unwrap_or_else(|| panic!("bad label in {line:?}"));
        let mut value = String::new();
        let mut chars = rest.char_indices();
        let end = loop {
            match chars.next() {
                Some((_, '\\')) => match chars.next() {
                    Some((_, 'n')) => value.push('\n'),
                    Some((_, c)) => value.push(c),
                    None => panic!("bad escape in {line:?}"),
                },
                Some((i, '"')) => break i,
                Some((_, c)) => value.push(c),
                None => panic!("unterminated label value in {line:?}"),
            }
        };
        labels.insert(key.to_owned(), value);
        s = rest[end + 1..]
            .strip_prefix(',')
            .unwrap_or(&rest[end + 1..]);
    }
    labels
}

fn get(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    samples
        .iter()
        .find(|s| {
            s.name == name
                && s.labels.len() == labels.len()
                && labels
                    .iter()
                    .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
        })
        .map(|s| s.value)
}

/// Endpoint key: (method, name).
type Key = (String, String);

fn key(s: &Sample) -> Key {
    (
        s.labels.get("method").cloned().unwrap_or_default(),
        s.labels.get("name").cloned().unwrap_or_default(),
    )
}

const ENDPOINT_COUNTERS: [&str; 3] = [
    "locusta_requests_total",
    "locusta_failures_total",
    "locusta_response_bytes_total",
];

/// The checks every scrape passes; returns the parsed samples.
fn check_scrape(text: &str, openmetrics: bool) -> Vec<Sample> {
    if openmetrics {
        assert!(
            text.ends_with("# EOF\n"),
            "OpenMetrics ends with # EOF:\n{text}"
        );
    } else {
        assert!(
            !text.contains("# EOF"),
            "classic text has no # EOF:\n{text}"
        );
        promtool_check(text);
    }
    let samples = parse(text);
    let endpoint_family =
        |n: &str| ENDPOINT_COUNTERS.contains(&n) || n.starts_with("locusta_response_time_seconds_");
    for s in samples.iter().filter(|s| endpoint_family(&s.name)) {
        let (method, name) = key(s);
        assert!(
            !method.is_empty() && name != "Aggregated",
            "an endpoint family holds the Aggregated row: {s:?}"
        );
    }
    // Aggregated counters are the sums of the endpoints'.
    for family in ENDPOINT_COUNTERS {
        let sum: f64 = samples
            .iter()
            .filter(|s| s.name == family)
            .map(|s| s.value)
            .sum();
        let total_name = family.replacen("locusta_", "locusta_aggregated_", 1);
        let total = get(&samples, &total_name, &[]).unwrap_or_else(|| panic!("no {total_name}"));
        assert_eq!(total, sum, "{total_name} vs the sum of {family}:\n{text}");
    }
    // Histograms: cumulative buckets up to +Inf == _count, per series; the aggregated one is the
    // sum of the endpoints', bucket by bucket.
    let mut per_le: BTreeMap<String, f64> = BTreeMap::new();
    let mut series: BTreeMap<Key, Vec<(f64, f64)>> = BTreeMap::new();
    for s in samples
        .iter()
        .filter(|s| s.name == "locusta_response_time_seconds_bucket")
    {
        let le = s.labels.get("le").expect("le").clone();
        let bound = if le == "+Inf" {
            f64::INFINITY
        } else {
            le.parse().expect("le")
        };
        *per_le.entry(le).or_default() += s.value;
        series.entry(key(s)).or_default().push((bound, s.value));
    }
    let mut endpoint_sum = 0.0;
    let mut endpoint_count = 0.0;
    for (k, buckets) in &series {
        check_buckets(buckets, &format!("{k:?}"));
        let labels = [("method", k.0.as_str()), ("name", k.1.as_str())];
        let count = get(&samples, "locusta_response_time_seconds_count", &labels).expect("_count");
        assert_eq!(
            buckets.last().map(|b| b.1),
            Some(count),
            "+Inf vs _count of {k:?}"
        );
        endpoint_count += count;
        endpoint_sum += get(&samples, "locusta_response_time_seconds_sum", &labels).expect("_sum");
    }
    let mut total_buckets = Vec::new();
    for s in samples
        .iter()
        .filter(|s| s.name == "locusta_aggregated_response_time_seconds_bucket")
    {
        let le = s.labels.get("le").expect("le");
        let bound = if le == "+Inf" {
            f64::INFINITY
        } else {
            le.parse().expect("le")
        };
        total_buckets.push((bound, s.value));
        if !series.is_empty() {
            assert_eq!(
                Some(&s.value),
                per_le.get(le),
                "aggregated bucket le={le} vs the endpoints' sum:\n{text}"
            );
        }
    }
    check_buckets(&total_buckets, "aggregated");
    let total_count = get(
        &samples,
        "locusta_aggregated_response_time_seconds_count",
        &[],
    )
    .expect("_count");
    assert_eq!(total_count, endpoint_count);
    let total_sum = get(
        &samples,
        "locusta_aggregated_response_time_seconds_sum",
        &[],
    )
    .expect("_sum");
    assert!(
        (total_sum - endpoint_sum).abs() <= 1e-6 * total_sum.max(1.0),
        "aggregated _sum {total_sum} vs the endpoints' {endpoint_sum}"
    );
    let on: Vec<&Sample> = samples
        .iter()
        .filter(|s| s.name == "locusta_run_state" && s.value == 1.0)
        .collect();
    assert_eq!(on.len(), 1, "exactly one run state is on: {on:?}");
    assert!(get(
        &samples,
        "locusta_build_info",
        &[("version", env!("CARGO_PKG_VERSION"))]
    )
    .is_some());
    samples
}

fn check_buckets(buckets: &[(f64, f64)], what: &str) {
    assert!(buckets.len() >= 2, "{what}: buckets {buckets:?}");
    assert_eq!(buckets.last().map(|b| b.0), Some(f64::INFINITY), "{what}");
    for w in buckets.windows(2) {
        assert!(w[0].0 < w[1].0, "{what}: bounds ascend: {buckets:?}");
        assert!(
            w[0].1 <= w[1].1,
            "{what}: counts are cumulative: {buckets:?}"
        );
    }
}

/// `promtool check metrics` on a classic-format scrape, when promtool is installed.
fn promtool_check(text: &str) {
    let promtool = std::env::var("PROMTOOL").unwrap_or_else(|_| "promtool".to_owned());
    let child = Command::new(&promtool)
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(c) => c,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            static ONCE: std::sync::Once = std::sync::Once::new();
            ONCE.call_once(|| {
                eprintln!(
                    "SKIPPED promtool check metrics: `{promtool}` is not installed \
                     (apt-get install prometheus, or set PROMTOOL); the scrapes are still parsed \
                     and checked"
                )
            });
            return;
        }
        Err(e) => panic!("cannot run {promtool}: {e}"),
    };
    if let Some(mut stdin) = child.stdin.take() {
        stdin.write_all(text.as_bytes()).expect("write to promtool");
    }
    let out = child.wait_with_output().expect("promtool");
    assert!(
        out.status.success(),
        "promtool check metrics failed:\n{}{}\n--- scrape:\n{text}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A `locusta` process whose stderr lines are collected.
struct Proc {
    child: Child,
    lines: mpsc::Receiver<String>,
    log: Vec<String>,
}

impl Proc {
    fn start(args: &[&str], cwd: &Path) -> Proc {
        let mut child = Command::new(BIN)
            .args(args)
            .current_dir(cwd)
            .env_remove("LOCUST_HOST")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start locusta");
        let stderr = child.stderr.take().expect("stderr");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Proc {
            child,
            lines,
            log: Vec::new(),
        }
    }

    fn wait_for_line(&mut self, needle: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(l) => {
                    self.log.push(l.clone());
                    if l.contains(needle) {
                        return l;
                    }
                }
                Err(_) => panic!("no line with {needle:?} in:\n{}", self.log.join("\n")),
            }
        }
    }

    /// The web UI's base URL, from its "Starting web interface at" line.
    fn web_url(&mut self) -> String {
        let line = self.wait_for_line("Starting web interface at ");
        line.split("Starting web interface at ")
            .nth(1)
            .expect("url")
            .trim()
            .trim_end_matches('/')
            .to_owned()
    }

    /// Ends the run early as Ctrl+C would (it still writes its final outputs).
    fn interrupt(&self) {
        // SAFETY: plain kill(2) on our own child.
        unsafe {
            libc::kill(self.child.id() as libc::pid_t, libc::SIGINT);
        }
    }

    /// Waits for the exit (killing it after 60 s); returns the code and the log.
    fn finish(mut self) -> (Option<i32>, String) {
        let deadline = Instant::now() + Duration::from_secs(60);
        let code = loop {
            match self.child.try_wait() {
                Ok(Some(status)) => break status.code(),
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(100))
                }
                _ => {
                    let _ = self.child.kill();
                    let _ = self.child.wait();
                    break None;
                }
            }
        };
        while let Ok(l) = self.lines.recv_timeout(Duration::from_secs(2)) {
            self.log.push(l);
        }
        (code, self.log.join("\n"))
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn client() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client")
}

/// One scrape of `url`, in OpenMetrics or the classic text; checks the content type.
fn scrape(c: &reqwest::blocking::Client, url: &str, openmetrics: bool) -> String {
    let mut req = c.get(url);
    if openmetrics {
        req = req.header("accept", OPENMETRICS);
    }
    let r = req.send().expect("scrape");
    assert!(r.status().is_success(), "{url}: {}", r.status());
    let ctype = r
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let expected = if openmetrics {
        "application/openmetrics-text; version=1.0.0"
    } else {
        "text/plain; version=0.0.4"
    };
    assert!(ctype.starts_with(expected), "{url}: content type {ctype}");
    r.text().expect("body")
}

/// Scrapes (both formats, each checked) until `pred` holds on the OpenMetrics samples.
fn scrape_until(
    c: &reqwest::blocking::Client,
    url: &str,
    what: &str,
    pred: impl Fn(&[Sample]) -> bool,
) -> Vec<Sample> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        check_scrape(&scrape(c, url, false), false);
        let samples = check_scrape(&scrape(c, url, true), true);
        if pred(&samples) {
            return samples;
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}: {samples:?}"
        );
        std::thread::sleep(Duration::from_millis(300));
    }
}

/// Scrapes until the aggregated request count stays the same for `quiet` (a master's workers
/// report every 3 s, so their requests of the last seconds arrive up to 3 s after the stop);
/// returns the last samples.
fn settled(c: &reqwest::blocking::Client, url: &str, quiet: Duration) -> Vec<Sample> {
    let deadline = Instant::now() + Duration::from_secs(30);
    let requests = |s: &[Sample]| get(s, "locusta_aggregated_requests_total", &[]);
    let mut last = check_scrape(&scrape(c, url, true), true);
    let mut since = Instant::now();
    loop {
        std::thread::sleep(Duration::from_millis(500));
        let now = check_scrape(&scrape(c, url, true), true);
        if requests(&now) != requests(&last) {
            since = Instant::now();
        } else if since.elapsed() >= quiet {
            return now;
        }
        assert!(Instant::now() < deadline, "the counts never settled");
        last = now;
    }
}

fn state_is(samples: &[Sample], state: &str) -> bool {
    get(samples, "locusta_run_state", &[("state", state)]) == Some(1.0)
}

/// The final scrape agrees with the `_stats.csv` row by row.
fn compare_with_csv(samples: &[Sample], csv_path: &Path) {
    let mut reader = csv::Reader::from_path(csv_path).expect("stats CSV");
    let headers = reader.headers().expect("header").clone();
    let col = |name: &str| {
        headers
            .iter()
            .position(|h| h == name)
            .unwrap_or_else(|| panic!("no {name} column in {headers:?}"))
    };
    let (c_type, c_name, c_count, c_fail, c_avg, c_size) = (
        col("Type"),
        col("Name"),
        col("Request Count"),
        col("Failure Count"),
        col("Average Response Time"),
        col("Average Content Size"),
    );
    let mut rows = 0;
    for row in reader.records() {
        let row = row.expect("CSV row");
        let num = |i: usize| -> f64 { row[i].parse().expect("number") };
        let (method, name) = (&row[c_type], &row[c_name]);
        let (prefix, labels): (&str, Vec<(&str, &str)>) = if name == "Aggregated" {
            ("locusta_aggregated_", vec![])
        } else {
            ("locusta_", vec![("method", method), ("name", name)])
        };
        let metric = |m: &str| {
            get(samples, &format!("{prefix}{m}"), &labels)
                .unwrap_or_else(|| panic!("no {prefix}{m} for {method} {name}"))
        };
        let what = format!("{method} {name}");
        assert_eq!(metric("requests_total"), num(c_count), "{what} requests");
        assert_eq!(metric("failures_total"), num(c_fail), "{what} failures");
        let count = metric("response_time_seconds_count");
        assert_eq!(count, num(c_count), "{what} _count");
        let avg_s = metric("response_time_seconds_sum") / count.max(1.0);
        assert!(
            (avg_s * 1000.0 - num(c_avg)).abs() <= 1e-6 * num(c_avg).max(1.0),
            "{what}: _sum/_count {avg_s} s vs the CSV's average {} ms",
            num(c_avg)
        );
        let bytes = metric("response_bytes_total");
        assert!(
            (bytes / count.max(1.0) - num(c_size)).abs() <= 1e-6 * num(c_size).max(1.0),
            "{what}: bytes {bytes} vs the CSV's average size {}",
            num(c_size)
        );
        rows += 1;
    }
    let endpoints: BTreeSet<Key> = samples
        .iter()
        .filter(|s| s.name == "locusta_requests_total")
        .map(key)
        .collect();
    assert_eq!(
        rows,
        endpoints.len() + 1,
        "one CSV row per endpoint plus Aggregated"
    );
}

fn target() -> DemoServer {
    DemoServer::start(([127, 0, 0, 1], 0).into(), DemoConfig::default()).expect("demo target")
}

#[test]
fn demo_run_is_scraped_while_running_and_at_the_end_and_matches_the_csv() {
    let server = target();
    let dir = tempfile::tempdir().expect("tempdir");
    let csv = dir.path().join("run");
    let mut p = Proc::start(
        &[
            "demo",
            "--autostart",
            "--autoquit",
            "15",
            "-u",
            "4",
            "-r",
            "40",
            "-t",
            "4s",
            "-H",
            &server.base_url(),
            "--web-host",
            "127.0.0.1",
            "--web-port",
            "0",
            "--csv",
            csv.to_str().expect("utf-8 path"),
        ],
        dir.path(),
    );
    let url = format!("{}/metrics", p.web_url());
    let c = client();
    let running = scrape_until(&c, &url, "4 running users with requests", |s| {
        state_is(s, "running")
            && get(s, "locusta_users", &[]) == Some(4.0)
            && get(s, "locusta_aggregated_requests_total", &[]).unwrap_or(0.0) > 0.0
    });
    assert_eq!(get(&running, "locusta_target_users", &[]), Some(4.0));
    assert_eq!(get(&running, "locusta_workers", &[]), Some(0.0));
    let by_class: f64 = running
        .iter()
        .filter(|s| s.name == "locusta_users_by_class")
        .map(|s| s.value)
        .sum();
    assert_eq!(by_class, 4.0, "{running:?}");
    scrape_until(&c, &url, "the test to stop", |s| state_is(s, "stopped"));
    // The last scrape, once the users stopped: what the final CSV holds.
    let last = settled(&c, &url, Duration::from_millis(1500));
    p.interrupt();
    let (code, log) = p.finish();
    assert_eq!(code, Some(0), "{log}");
    compare_with_csv(&last, &dir.path().join("run_stats.csv"));
    server.shutdown();
}

#[test]
fn headless_metrics_port_serves_both_formats_while_running() {
    let server = target();
    let dir = tempfile::tempdir().expect("tempdir");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let p = Proc::start(
        &[
            "demo",
            "--headless",
            "-u",
            "3",
            "-r",
            "30",
            "-t",
            "30s",
            "-H",
            &server.base_url(),
            "--metrics-port",
            &port.to_string(),
            "--only-summary",
        ],
        dir.path(),
    );
    let url = format!("http://127.0.0.1:{port}/metrics");
    let c = client();
    let deadline = Instant::now() + Duration::from_secs(30);
    while c.get(&url).send().is_err() {
        assert!(Instant::now() < deadline, "no metrics server on {url}");
        std::thread::sleep(Duration::from_millis(100));
    }
    scrape_until(&c, &url, "3 users and requests on two endpoints", |s| {
        get(s, "locusta_users", &[]) == Some(3.0)
            && s.iter()
                .filter(|s| s.name == "locusta_requests_total" && s.value > 0.0)
                .count()
                >= 2
    });
    drop(p);
    server.shutdown();
}

#[test]
fn master_exports_the_merged_figures_of_its_workers() {
    let server = target();
    let dir = tempfile::tempdir().expect("tempdir");
    let master_port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port()
        .to_string();
    let host = server.base_url();
    let mut m = Proc::start(
        &[
            "demo",
            "--master",
            "--master-bind-host",
            "127.0.0.1",
            "--master-bind-port",
            &master_port,
            "--expect-workers",
            "2",
            "--autostart",
            "--autoquit",
            "15",
            "-u",
            "4",
            "-r",
            "40",
            "-t",
            "4s",
            "-H",
            &host,
            "--web-host",
            "127.0.0.1",
            "--web-port",
            "0",
            "--csv",
            "m",
        ],
        dir.path(),
    );
    let url = format!("{}/metrics", m.web_url());
    let workers: Vec<Proc> = (0..2)
        .map(|_| {
            Proc::start(
                &[
                    "demo",
                    "--worker",
                    "--master-port",
                    &master_port,
                    "-H",
                    &host,
                ],
                dir.path(),
            )
        })
        .collect();
    let c = client();
    scrape_until(&c, &url, "2 workers running 4 users", |s| {
        state_is(s, "running")
            && get(s, "locusta_workers", &[]) == Some(2.0)
            && get(s, "locusta_users", &[]) == Some(4.0)
            && get(s, "locusta_aggregated_requests_total", &[]).unwrap_or(0.0) > 0.0
    });
    scrape_until(&c, &url, "the test to stop", |s| state_is(s, "stopped"));
    let last = settled(&c, &url, Duration::from_millis(4500));
    m.interrupt();
    let (code, log) = m.finish();
    assert_eq!(code, Some(0), "master:\n{log}");
    for w in workers {
        let (code, log) = w.finish();
        assert_eq!(code, Some(0), "worker:\n{log}");
    }
    compare_with_csv(&last, &dir.path().join("m_stats.csv"));
    server.shutdown();
}

/// The metric names a PromQL expression uses (identifiers starting with `locusta_`), with a
/// histogram's `_bucket`/`_sum`/`_count` kept as written.
fn metric_names(expr: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let mut rest = expr;
    while let Some(i) = rest.find("locusta_") {
        let tail = &rest[i..];
        let end = tail
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(tail.len());
        names.insert(tail[..end].to_owned());
        rest = &tail[end..];
    }
    names
}

fn collect_exprs(v: &serde_json::Value, out: &mut Vec<String>) {
    match v {
        serde_json::Value::Object(map) => {
            for (k, v) in map {
                match (k.as_str(), v) {
                    ("expr" | "query" | "definition", serde_json::Value::String(s)) => {
                        out.push(s.clone())
                    }
                    _ => collect_exprs(v, out),
                }
            }
        }
        serde_json::Value::Array(a) => a.iter().for_each(|v| collect_exprs(v, out)),
        _ => {}
    }
}

#[test]
fn grafana_dashboard_parses_and_queries_only_metrics_a_scrape_has() {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/grafana/locusta-dashboard.json");
    let text = std::fs::read_to_string(&path).expect("dashboard file");
    let dashboard: serde_json::Value = serde_json::from_str(&text).expect("dashboard is JSON");
    assert!(
        dashboard["__inputs"]
            .as_array()
            .is_some_and(|a| a.iter().any(|i| i["name"] == "DS_PROMETHEUS")),
        "the dashboard declares the DS_PROMETHEUS input"
    );
    let mut exprs = Vec::new();
    collect_exprs(&dashboard, &mut exprs);
    let used: BTreeSet<String> = exprs.iter().flat_map(|e| metric_names(e)).collect();
    assert!(used.len() >= 5, "queries: {exprs:?}");
    for e in &exprs {
        assert!(
            e.matches('(').count() == e.matches(')').count(),
            "unbalanced parentheses in {e}"
        );
    }
    // A short run with a failing endpoint, so the error series exist too.
    let server = target();
    let dir = tempfile::tempdir().expect("tempdir");
    let mut p = Proc::start(
        &[
            "demo",
            "--autostart",
            "-u",
            "4",
            "-r",
            "40",
            "-t",
            "30s",
            "-H",
            &server.base_url(),
            "--web-host",
            "127.0.0.1",
            "--web-port",
            "0",
        ],
        dir.path(),
    );
    let url = format!("{}/metrics", p.web_url());
    let c = client();
    let samples = scrape_until(&c, &url, "requests", |s| {
        get(s, "locusta_aggregated_requests_total", &[]).unwrap_or(0.0) > 0.0
    });
    let scraped: BTreeSet<&str> = samples.iter().map(|s| s.name.as_str()).collect();
    let families = scrape(&c, &url, false);
    for name in &used {
        let declared = families.contains(&format!("# TYPE {name} "));
        assert!(
            scraped.contains(name.as_str()) || declared,
            "the dashboard queries {name}, which a scrape does not have"
        );
    }
    if let Some(prometheus) = Prometheus::start(&url, dir.path()) {
        prometheus.answers_every_query(&c, &exprs);
    }
    drop(p);
    server.shutdown();
}

/// A real Prometheus (Debian's `prometheus` package) scraping one locusta every second.
struct Prometheus {
    child: Child,
    base: String,
}

impl Prometheus {
    /// Starts Prometheus on a free loopback port, scraping `metrics_url`; `None` (with a
    /// message) when it is not installed.
    fn start(metrics_url: &str, dir: &Path) -> Option<Prometheus> {
        let bin = std::env::var("PROMETHEUS").unwrap_or_else(|_| "prometheus".to_owned());
        let target = metrics_url
            .trim_start_matches("http://")
            .trim_end_matches("/metrics");
        let config = dir.join("prometheus.yml");
        std::fs::write(
            &config,
            format!(
                "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n  - job_name: locusta\n    static_configs:\n      - targets: [\"{target}\"]\n"
            ),
        )
        .expect("prometheus.yml");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let child = Command::new(&bin)
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("tsdb").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
        match child {
            Ok(child) => Some(Prometheus {
                child,
                base: format!("http://127.0.0.1:{port}"),
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                eprintln!(
                    "SKIPPED the dashboard's queries on a real Prometheus: `{bin}` is not \
                     installed (apt-get install prometheus, or set PROMETHEUS)"
                );
                None
            }
            Err(e) => panic!("cannot start {bin}: {e}"),
        }
    }

    fn query(&self, c: &reqwest::blocking::Client, expr: &str) -> Option<serde_json::Value> {
        let r = c
            .post(format!("{}/api/v1/query", self.base))
            .form(&[("query", expr)])
            .send()
            .ok()?;
        r.json().ok()
    }

    /// Waits for a few scrapes, then runs every dashboard query (Grafana's variables replaced):
    /// each must parse and evaluate, and each but the error list must return series.
    fn answers_every_query(&self, c: &reqwest::blocking::Client, exprs: &[String]) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let up = self.query(c, "count_over_time(locusta_build_info[1m])");
            let scrapes = up
                .as_ref()
                .and_then(|v| v["data"]["result"][0]["value"][1].as_str())
                .and_then(|n| n.parse::<f64>().ok())
                .unwrap_or(0.0);
            if scrapes >= 4.0 {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "Prometheus never scraped locusta: {up:?}"
            );
            std::thread::sleep(Duration::from_millis(500));
        }
        for expr in exprs {
            let mut promql = expr
                .replace("$__rate_interval", "10s")
                .replace("$__range", "1m")
                .replace("$instance", ".*");
            // Grafana's label_values(METRIC, LABEL) variable query, in PromQL.
            if let Some(args) = promql
                .strip_prefix("label_values(")
                .and_then(|a| a.strip_suffix(')'))
            {
                let (metric, label) = args.split_once(',').expect("label_values(metric, label)");
                promql = format!("group by ({}) ({})", label.trim(), metric.trim());
            }
            let answer = self
                .query(c, &promql)
                .unwrap_or_else(|| panic!("no answer to {promql}"));
            assert_eq!(answer["status"], "success", "{promql}: {answer}");
            let series = answer["data"]["result"].as_array().map_or(0, Vec::len);
            if !promql.contains("locusta_errors_total") {
                assert!(series > 0, "no series for {promql}: {answer}");
            }
        }
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
