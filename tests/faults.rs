//! The hostile-target suite: one headless run in which a user per fault of the demo target's
//! `/_fault/` endpoints (plus a refused port and a stalled TLS handshake) sends an exact number
//! of requests. locusta must keep running, end by itself, classify every failure under a
//! readable error name, apply its timeouts, keep its memory bounded, and count exactly:
//! N requests to a fault → N rows of the expected error in the failures CSV.
//!
//! Runs with whichever HTTP driver `LOCUSTA_HTTP_DRIVER` selects (`scripts/test.sh` runs the
//! engine's tests with both). The error texts are the ones the real Locust (requests/urllib3)
//! shows for the same failure where it has one; `docs/reliability.md` lists where they differ.

use std::collections::HashMap;
use std::ffi::OsString;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use locusta::wait_time::constant;
use locusta::{Locustfile, Task, TaskError, User, UserClass};
use locusta_demo::faults::{random_5xx_status, StallServer};
use locusta_demo::{DemoConfig, DemoServer};

/// One fault, how often it is requested, and what locusta must record for it.
struct Case {
    class: &'static str,
    url: String,
    requests: usize,
    timeout: Option<Duration>,
    /// `(error text, count)` rows expected in the failures CSV for this request name.
    failures: Vec<(String, usize)>,
}

const TIMEOUT: Duration = Duration::from_secs(1);

fn cases(base: &str, stall: &str) -> Vec<Case> {
    let n = 4;
    let mut out = vec![
        Case {
            class: "Refused",
            url: "/_fault/refused".into(),
            requests: n,
            timeout: None,
            failures: vec![("ConnectionRefusedError(111, 'Connection refused')".into(), n)],
        },
        Case {
            class: "Reset",
            url: "/_fault/reset".into(),
            requests: n,
            timeout: None,
            failures: vec![("ConnectionResetError(104, 'Connection reset by peer')".into(), n)],
        },
        Case {
            class: "ResetMid",
            url: "/_fault/reset-mid?size=100000&sent=1000".into(),
            requests: n,
            timeout: None,
            failures: vec![(
                "ChunkedEncodingError(ProtocolError(\"Connection broken: ConnectionResetError(104, \
                 'Connection reset by peer')\", ConnectionResetError(104, 'Connection reset by peer')))"
                    .into(),
                n,
            )],
        },
        Case {
            class: "CloseAfterHeaders",
            url: "/_fault/close-after-headers?size=100".into(),
            requests: n,
            timeout: None,
            failures: vec![(
                "ChunkedEncodingError(ProtocolError('Connection broken: IncompleteRead(0 bytes read, \
                 100 more expected)', IncompleteRead(0 bytes read, 100 more expected)))"
                    .into(),
                n,
            )],
        },
        Case {
            // requests reads the announced 5 bytes and is satisfied: so is locusta; the rest
            // of the bytes must not leak into the next response
            class: "LengthShort",
            url: "/_fault/length-short".into(),
            requests: n,
            timeout: None,
            failures: vec![],
        },
        Case {
            class: "LengthLong",
            url: "/_fault/length-long".into(),
            requests: n,
            timeout: None,
            failures: vec![(
                "ChunkedEncodingError(ProtocolError('Connection broken: IncompleteRead(20 bytes read, \
                 80 more expected)', IncompleteRead(20 bytes read, 80 more expected)))"
                    .into(),
                n,
            )],
        },
        Case {
            class: "InvalidStatus",
            url: "/_fault/invalid-status".into(),
            requests: n,
            timeout: None,
            failures: vec![(
                "BadStatusLine('THIS IS NOT HTTP\\x00\\x01\\x02\u{fffd}\u{fffd} garbage \\r\\n')"
                    .into(),
                n,
            )],
        },
        Case {
            class: "InvalidHeader",
            url: "/_fault/invalid-header".into(),
            requests: n,
            timeout: None,
            failures: vec![("ProtocolError('invalid HTTP header parsed')".into(), n)],
        },
        Case {
            class: "ChunkedBadSize",
            url: "/_fault/chunked-bad-size".into(),
            requests: n,
            timeout: None,
            failures: vec![("ProtocolError('invalid chunk size line')".into(), n)],
        },
        Case {
            class: "ChunkedTruncated",
            url: "/_fault/chunked-truncated".into(),
            requests: n,
            timeout: None,
            failures: vec![(
                "ChunkedEncodingError(ProtocolError('Connection broken: IncompleteRead(4 bytes read)', \
                 IncompleteRead(4 bytes read)))"
                    .into(),
                n,
            )],
        },
        Case {
            class: "ChunkedBadEnd",
            url: "/_fault/chunked-bad-end".into(),
            requests: n,
            timeout: None,
            failures: vec![("ProtocolError('invalid chunk end')".into(), n)],
        },
        Case {
            class: "Big",
            url: "/_fault/big?mb=10".into(),
            requests: 3,
            timeout: None,
            failures: vec![],
        },
        Case {
            class: "Trickle",
            url: "/_fault/trickle?ms=1000&size=10".into(),
            requests: 2,
            timeout: Some(TIMEOUT),
            failures: vec![(
                format!(
                    "ReadTimeout(ReadTimeoutError(\"HTTPConnectionPool(host='127.0.0.1', port={}): \
                     Read timed out. (read timeout=1)\"))",
                    port_of(base)
                ),
                2,
            )],
        },
        Case {
            class: "Hang",
            url: "/_fault/hang".into(),
            requests: 2,
            timeout: Some(TIMEOUT),
            failures: vec![(
                format!(
                    "ReadTimeout(ReadTimeoutError(\"HTTPConnectionPool(host='127.0.0.1', port={}): \
                     Read timed out. (read timeout=1)\"))",
                    port_of(base)
                ),
                2,
            )],
        },
        Case {
            class: "SlowTls",
            url: format!("https://{stall}/"),
            requests: 2,
            timeout: Some(TIMEOUT),
            failures: vec![(
                "ConnectTimeoutError(<urllib3.connection.HTTPSConnection object at 0x....>, \
                 'Connection to 127.0.0.1 timed out. (connect timeout=1)')"
                    .into(),
                2,
            )],
        },
        Case {
            class: "RedirectLoop",
            url: "/_fault/redirect-loop".into(),
            requests: n,
            timeout: None,
            failures: vec![("TooManyRedirects('Exceeded 30 redirects.')".into(), n)],
        },
    ];
    for framing in ["chunked", "close", "length"] {
        out.push(Case {
            class: match framing {
                "chunked" => "EndlessChunked",
                "close" => "EndlessClose",
                _ => "EndlessLength",
            },
            url: format!("/_fault/endless?framing={framing}"),
            requests: 2,
            timeout: None,
            failures: vec![(
                "ContentTooLarge('Response body exceeded 67108864 bytes (locusta stops reading there)')"
                    .into(),
                2,
            )],
        });
    }
    // `bench/reliability.py` runs the suite at a larger scale for its figures.
    let scale = scale();
    for case in &mut out {
        case.requests *= scale;
        for (_, count) in &mut case.failures {
            *count *= scale;
        }
    }
    // Seeded random 5xx: the exact failures follow from the seed, whatever the order.
    let requests = 200 * scale;
    let mut by_status: HashMap<u16, usize> = HashMap::new();
    for i in 0..requests as u64 {
        if let Some(status) = random_5xx_status(42, 25, i) {
            *by_status.entry(status).or_default() += 1;
        }
    }
    let reason = |s: u16| match s {
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        _ => "Gateway Timeout",
    };
    let url = "/_fault/random-5xx?seed=42&percent=25";
    out.push(Case {
        class: "Random5xx",
        url: url.into(),
        requests,
        timeout: None,
        failures: by_status
            .into_iter()
            .map(|(s, count)| {
                (
                    format!(
                        "HTTPError('{s} Server Error: {} for url: {url}')",
                        reason(s)
                    ),
                    count,
                )
            })
            .collect(),
    });
    out
}

/// `LOCUSTA_FAULTS_SCALE` (default 1): multiplies every request count.
fn scale() -> usize {
    std::env::var("LOCUSTA_FAULTS_SCALE")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|&n| n >= 1)
        .unwrap_or(1)
}

fn port_of(base: &str) -> u16 {
    base.rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .expect("port in base URL")
}

/// A user that sends its case's requests one after another, then leaves; the last user to
/// finish ends the test with StopTest, so every request is recorded before the run stops.
fn fault_class(case: &Case, finished: Arc<AtomicUsize>, total: usize) -> UserClass {
    let url = case.url.clone();
    let requests = case.requests;
    let timeout = case.timeout;
    let task = Task::new(case.class, move |user: &mut User| {
        let url = url.clone();
        let finished = Arc::clone(&finished);
        Box::pin(async move {
            for _ in 0..requests {
                // named by the URL as given, so the absolute https URL is not shortened to "/"
                let mut req = user.client.get(&url).name(url.as_str());
                if let Some(t) = timeout {
                    req = req.timeout(t);
                }
                req.send().await;
            }
            if finished.fetch_add(1, Ordering::SeqCst) + 1 == total {
                Err(TaskError::StopTest)
            } else {
                Err(TaskError::StopUser)
            }
        })
    });
    UserClass::new(case.class)
        .fixed_count(1)
        .wait_time(constant(0.0))
        .task(task)
}

fn csv_rows(path: &std::path::Path) -> Vec<Vec<String>> {
    let data = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    csv::ReaderBuilder::new()
        .has_headers(true)
        .from_reader(data.as_bytes())
        .records()
        .map(|r| r.expect("csv row").iter().map(str::to_owned).collect())
        .collect()
}

/// Peak resident memory of this process in KiB (Linux), 0 when unknown.
fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

#[test]
fn every_fault_is_survived_classified_and_counted_exactly() {
    let server =
        DemoServer::start(([127, 0, 0, 1], 0).into(), DemoConfig::default()).expect("target");
    let stall = StallServer::start(Duration::from_secs(30)).expect("stall server");
    let base = server.base_url();
    let cases = cases(&base, &stall.addr().to_string());
    let finished = Arc::new(AtomicUsize::new(0));
    let classes: Vec<UserClass> = cases
        .iter()
        .map(|c| fault_class(c, Arc::clone(&finished), cases.len()))
        .collect();
    let dir = tempfile::tempdir().expect("tempdir");
    let prefix = dir.path().join("faults");
    let users = cases.len().to_string();
    let safety_net = format!("{}s", 120 * scale());
    let args: Vec<OsString> = [
        "locusta",
        "--headless",
        "-H",
        &base,
        "-u",
        &users,
        "-r",
        "1000",
        // a safety net only: the test ends by StopTest long before
        "-t",
        &safety_net,
        "--only-summary",
        "--csv",
        prefix.to_str().expect("utf8"),
        "-L",
        "ERROR",
    ]
    .iter()
    .map(OsString::from)
    .collect();
    let started = Instant::now();
    let code = locusta::run_locustfile(
        Locustfile {
            classes,
            shape: None,
            ..Default::default()
        },
        args,
    );
    let took = started.elapsed();
    // failures make the exit code 1 (Locust's rule); anything else is a crash or a bad run
    assert_eq!(code, 1, "exit code");
    assert_eq!(finished.load(Ordering::SeqCst), cases.len());
    assert!(
        took < Duration::from_secs(100),
        "ended by StopTest, took {took:?}"
    );

    let stats = csv_rows(&dir.path().join("faults_stats.csv"));
    let failures = csv_rows(&dir.path().join("faults_failures.csv"));
    let mut problems = Vec::new();
    for case in &cases {
        let row = stats.iter().find(|r| r[0] == "GET" && r[1] == case.url);
        let (count, failed) = match row {
            Some(r) => (
                r[2].parse::<usize>().unwrap_or(0),
                r[3].parse::<usize>().unwrap_or(0),
            ),
            None => (0, 0),
        };
        let expected_failed: usize = case.failures.iter().map(|(_, n)| n).sum();
        if count != case.requests || failed != expected_failed {
            problems.push(format!(
                "{}: {count} requests / {failed} failures, expected {} / {expected_failed}",
                case.url, case.requests
            ));
        }
        let mut got: Vec<(String, usize)> = failures
            .iter()
            .filter(|r| r[1] == case.url)
            .map(|r| (r[2].clone(), r[3].parse().unwrap_or(0)))
            .collect();
        got.sort();
        let mut want = case.failures.clone();
        want.sort();
        if got != want {
            problems.push(format!("{}: failures {got:?}, expected {want:?}", case.url));
        }
    }
    let peak_mib = peak_rss_kib() / 1024;
    if let Some(path) = std::env::var_os("LOCUSTA_FAULTS_REPORT") {
        write_report(
            std::path::Path::new(&path),
            &cases,
            &stats,
            &failures,
            peak_mib,
            took,
            code,
        );
    }
    assert!(problems.is_empty(), "\n{}", problems.join("\n"));

    // Endless bodies were cut at the 64 MiB cap instead of filling memory; the 10 MiB bodies
    // and the demo target (same process) fit well within this bound.
    assert!(peak_mib < 768, "peak RSS {peak_mib} MiB");
}

/// The figures of this run as JSON, for `bench/reliability.py` (which writes
/// `docs/reliability.md`): per fault, requests sent and failures counted versus expected.
fn write_report(
    path: &std::path::Path,
    cases: &[Case],
    stats: &[Vec<String>],
    failures: &[Vec<String>],
    peak_mib: u64,
    took: Duration,
    code: i32,
) {
    let rows: Vec<serde_json::Value> = cases
        .iter()
        .map(|case| {
            let row = stats.iter().find(|r| r[0] == "GET" && r[1] == case.url);
            let num = |i: usize| row.and_then(|r| r[i].parse::<u64>().ok()).unwrap_or(0);
            let errors: Vec<String> = failures
                .iter()
                .filter(|r| r[1] == case.url)
                .map(|r| format!("{} x {}", r[3], r[2]))
                .collect();
            serde_json::json!({
                "fault": case.class,
                "url": case.url,
                "timeout_s": case.timeout.map(|t| t.as_secs_f64()),
                "requests_sent": case.requests,
                "requests_counted": num(2),
                "failures_expected": case.failures.iter().map(|(_, n)| n).sum::<usize>(),
                "failures_counted": num(3),
                "errors": errors,
            })
        })
        .collect();
    let report = serde_json::json!({
        "driver": std::env::var("LOCUSTA_HTTP_DRIVER").unwrap_or_else(|_| "hyper".into()),
        "exit_code": code,
        "seconds": took.as_secs_f64(),
        "peak_rss_mib": peak_mib,
        "faults": rows,
    });
    if let Err(e) = std::fs::write(path, report.to_string()) {
        eprintln!("cannot write {}: {e}", path.display());
    }
}
