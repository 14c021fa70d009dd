//! End-to-end tests of the `locusta` binary: real processes, a real local target, and the
//! console output, CSV files, JSON and exit codes a Locust user relies on.

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use locusta_demo::{DemoConfig, DemoServer};

const BIN: &str = env!("CARGO_BIN_EXE_locusta");

fn target() -> DemoServer {
    DemoServer::start(([127, 0, 0, 1], 0).into(), DemoConfig::default()).expect("demo target")
}

fn run(args: &[&str], cwd: &Path) -> Output {
    Command::new(BIN)
        .args(args)
        .current_dir(cwd)
        .env_remove("LOCUST_HOST")
        .stdin(Stdio::null())
        .output()
        .expect("run locusta")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn csv_rows(path: &Path) -> Vec<Vec<String>> {
    let data = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(data.as_bytes());
    reader
        .records()
        .map(|r| r.expect("csv row").iter().map(str::to_owned).collect())
        .collect()
}

const STATS_HEADER: &str = "Type,Name,Request Count,Failure Count,Median Response Time,Average Response Time,Min Response Time,Max Response Time,Average Content Size,Requests/s,Failures/s,50%,66%,75%,80%,90%,95%,98%,99%,99.9%,99.99%,100%";
const HISTORY_HEADER: &str = "Timestamp,User Count,Type,Name,Requests/s,Failures/s,50%,66%,75%,80%,90%,95%,98%,99%,99.9%,99.99%,100%,Total Request Count,Total Failure Count,Total Median Response Time,Total Average Response Time,Total Min Response Time,Total Max Response Time,Total Average Content Size";

#[test]
fn headless_run_writes_locust_csv_files_and_summary() {
    let server = target();
    let dir = tempfile::tempdir().expect("tempdir");
    let prefix = dir.path().join("out/run");
    let out = run(
        &[
            "demo",
            "-H",
            &server.base_url(),
            "--headless",
            "-u",
            "6",
            "-r",
            "20",
            "-t",
            "3s",
            "--csv",
            prefix.to_str().expect("utf8 path"),
            "WebsiteUser",
        ],
        dir.path(),
    );
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "stderr:\n{stderr}");
    assert!(
        stderr.contains("All users spawned: {\"WebsiteUser\": 6} (6 total users)"),
        "{stderr}"
    );
    assert!(
        stderr.contains("--run-time limit reached, shutting down"),
        "{stderr}"
    );
    assert!(
        stderr.contains("Response time percentiles (approximated)"),
        "{stderr}"
    );
    assert!(stderr.contains("Shutting down (exit code 0)"), "{stderr}");

    let stats_file = dir.path().join("out/run_stats.csv");
    let header = std::fs::read_to_string(&stats_file).expect("stats csv");
    assert_eq!(header.lines().next(), Some(STATS_HEADER));
    let rows = csv_rows(&stats_file);
    let names: Vec<&str> = rows[1..].iter().map(|r| r[1].as_str()).collect();
    // Which pages a short run visits is random (weights 1:3:2); the order and the final
    // Aggregated row are not.
    let (aggregated_row, entries) = rows[1..].split_last().expect("rows");
    assert_eq!(aggregated_row[1], "Aggregated", "{names:?}");
    let pages: Vec<&str> = entries.iter().map(|r| r[1].as_str()).collect();
    assert!(!pages.is_empty(), "{names:?}");
    assert!(pages.windows(2).all(|w| w[0] < w[1]), "{names:?}");
    assert!(
        pages
            .iter()
            .all(|p| ["/", "/about/", "/products/"].contains(p)),
        "{names:?}"
    );
    let total: u64 = entries
        .iter()
        .map(|r| r[2].parse::<u64>().expect("count"))
        .sum();
    let aggregated: u64 = aggregated_row[2].parse().expect("count");
    assert_eq!(total, aggregated);
    assert!(aggregated > 0);
    for row in &rows[1..] {
        for field in &row[2..] {
            assert!(
                field == "N/A" || field.parse::<f64>().is_ok(),
                "not a number: {field}"
            );
        }
    }
    let history =
        std::fs::read_to_string(dir.path().join("out/run_stats_history.csv")).expect("history");
    assert_eq!(history.lines().next(), Some(HISTORY_HEADER));
    assert!(history.lines().count() >= 3, "{history}");
    let failures =
        std::fs::read_to_string(dir.path().join("out/run_failures.csv")).expect("failures");
    assert_eq!(
        failures.lines().next(),
        Some("Method,Name,Error,Occurrences,First Seen,Last Seen")
    );
    let exceptions =
        std::fs::read_to_string(dir.path().join("out/run_exceptions.csv")).expect("exceptions");
    assert_eq!(
        exceptions.lines().next(),
        Some("Count,Message,Traceback,Nodes")
    );
}

#[test]
fn failures_set_the_exit_code_and_fill_the_error_report() {
    let server = target();
    let dir = tempfile::tempdir().expect("tempdir");
    // A base URL with a path prefix is concatenated like Locust's, so every page is a 404.
    let host = format!("{}/missing", server.base_url());
    let out = run(
        &[
            "demo",
            "-H",
            &host,
            "-u",
            "2",
            "-r",
            "10",
            "-t",
            "2s",
            "--only-summary",
            "--exit-code-on-error",
            "3",
            "WebsiteUser",
        ],
        dir.path(),
    );
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "stderr:\n{stderr}");
    assert!(stderr.contains("Error report"), "{stderr}");
    assert!(
        stderr.contains(": HTTPError('404 Client Error: Not Found for url: /missing/"),
        "{stderr}"
    );
}

#[test]
fn unreachable_host_becomes_counted_failures() {
    // Port 1 on loopback: nothing listens, connections are refused.
    let dir = tempfile::tempdir().expect("tempdir");
    let prefix = dir.path().join("refused");
    let out = run(
        &[
            "demo",
            "-H",
            "http://127.0.0.1:1",
            "-u",
            "2",
            "-r",
            "10",
            "-t",
            "2s",
            "--only-summary",
            "--csv",
            prefix.to_str().expect("utf8"),
            "WebsiteUser",
        ],
        dir.path(),
    );
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let failures =
        std::fs::read_to_string(dir.path().join("refused_failures.csv")).expect("failures");
    assert!(failures.contains("Connection refused"), "{failures}");
}

#[test]
fn json_output_is_locusts_array() {
    let server = target();
    let dir = tempfile::tempdir().expect("tempdir");
    let out = run(
        &[
            "demo",
            "-H",
            &server.base_url(),
            "-u",
            "2",
            "-r",
            "10",
            "-t",
            "2s",
            "--json",
            "--only-summary",
            "WebsiteUser",
        ],
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let value: serde_json::Value = serde_json::from_slice(&out.stdout).expect("stdout is JSON");
    let entries = value.as_array().expect("array");
    assert!(!entries.is_empty());
    for key in [
        "name",
        "method",
        "last_request_timestamp",
        "start_time",
        "num_requests",
        "num_none_requests",
        "num_failures",
        "total_response_time",
        "max_response_time",
        "min_response_time",
        "total_content_length",
        "response_times",
        "num_reqs_per_sec",
        "num_fail_per_sec",
    ] {
        assert!(entries[0].get(key).is_some(), "missing {key}");
    }
    assert!(entries.iter().all(|e| e["name"] != "Aggregated"));
}

#[test]
fn tags_select_tasks() {
    let server = target();
    let dir = tempfile::tempdir().expect("tempdir");
    let out = run(
        &[
            "demo",
            "-H",
            &server.base_url(),
            "-u",
            "8",
            "-r",
            "10",
            "-t",
            "3s",
            "-T",
            "browse",
            "--json",
            "--only-summary",
            "ShopUser",
        ],
        dir.path(),
    );
    let value: serde_json::Value = serde_json::from_slice(&out.stdout).expect("stdout is JSON");
    let names: Vec<&str> = value
        .as_array()
        .expect("array")
        .iter()
        .filter_map(|e| e["name"].as_str())
        .collect();
    assert!(
        names.contains(&"/api/products?page=1&limit=20"),
        "{names:?}"
    );
    assert!(
        !names
            .iter()
            .any(|n| n.contains("orders") || n.contains("cart")),
        "{names:?}"
    );
}

#[test]
fn sigterm_stops_gracefully_and_still_writes_outputs() {
    let server = target();
    let dir = tempfile::tempdir().expect("tempdir");
    let prefix = dir.path().join("term");
    let child = Command::new(BIN)
        .args([
            "demo",
            "-H",
            &server.base_url(),
            "-u",
            "3",
            "-r",
            "10",
            "-t",
            "60s",
            "--csv",
            prefix.to_str().expect("utf8"),
            "WebsiteUser",
        ])
        .current_dir(dir.path())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    std::thread::sleep(Duration::from_millis(2500));
    let started = Instant::now();
    // SAFETY: plain kill(2) on our own child's pid.
    unsafe {
        libc::kill(child.id() as i32, libc::SIGTERM);
    }
    let out = child.wait_with_output().expect("wait");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "took {:?}",
        started.elapsed()
    );
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("Got SIGTERM signal"), "{stderr}");
    assert!(stderr.contains("Response time percentiles"), "{stderr}");
    let rows = csv_rows(&dir.path().join("term_stats.csv"));
    assert_eq!(rows.last().map(|r| r[1].as_str()), Some("Aggregated"));
}

#[test]
fn demo_help_names_its_own_flag_and_classes_before_locusts_options() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = run(&["demo", "--help"], dir.path());
    assert_eq!(out.status.code(), Some(0));
    let stdout = text(&out.stdout);
    for needle in [
        "locusta demo [--tls]",
        "--tls",
        "GrpcShopUser",
        "ChatUser",
        "PoolUser",
        "--users",
    ] {
        assert!(stdout.contains(needle), "{needle} missing:\n{stdout}");
    }
}

#[test]
fn help_into_a_closed_pipe_is_no_panic() {
    // `locusta --help | head -1`: the reader goes away before the help is written
    for args in [&["--help"][..], &["demo", "--help"][..]] {
        let mut child = Command::new(BIN)
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn locusta");
        drop(child.stdout.take());
        let out = child.wait_with_output().expect("wait");
        let stderr = text(&out.stderr);
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        assert_eq!(out.status.code(), Some(0), "{args:?}: {stderr}");
    }
}

#[test]
fn bad_input_is_refused_before_any_load() {
    let dir = tempfile::tempdir().expect("tempdir");
    for (args, needle) in [
        (vec!["demo", "-u", "-5"], "users"),
        (vec!["demo", "-t", "3x"], "3x"),
        (vec!["demo", "--usrs", "10"], "--users"),
        (vec!["demo", "-H", "not a url"], "not a url"),
        (vec!["demo", "-r", "0"], "spawn"),
    ] {
        let started = Instant::now();
        let out = run(&args, dir.path());
        let all = format!("{}{}", text(&out.stdout), text(&out.stderr));
        assert_ne!(out.status.code(), Some(0), "{args:?} was accepted:\n{all}");
        assert!(
            all.contains(needle),
            "{args:?}: message does not mention {needle}:\n{all}"
        );
        assert!(!all.contains("panicked"), "{all}");
        assert!(started.elapsed() < Duration::from_secs(5));
    }
}

#[test]
fn list_and_unknown_user_class() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = run(&["demo", "-l"], dir.path());
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        text(&out.stdout),
        "Available Users:\n    ShopUser\n    WebsiteUser\n"
    );
    let out = run(
        &["demo", "-H", "http://127.0.0.1:1", "NoSuchUser"],
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("Unknown User(s): NoSuchUser"));
}

#[test]
fn version_flag() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = run(&["-V"], dir.path());
    assert_eq!(out.status.code(), Some(0));
    assert!(
        text(&out.stdout).starts_with("locusta "),
        "{}",
        text(&out.stdout)
    );
}

#[test]
fn demo_target_serves_tls_on_its_own_port_and_checks_its_flags() {
    use std::io::{BufRead, BufReader};
    let mut child = Command::new(BIN)
        .args(["demo-target", "--port", "0", "--tls-port", "0"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start demo-target");
    let mut lines = BufReader::new(child.stderr.take().expect("stderr")).lines();
    let plain = lines.next().expect("first line").expect("utf-8");
    let tls = lines.next().expect("second line").expect("utf-8");
    child.kill().expect("stop demo-target");
    let _ = child.wait();
    assert!(plain.contains("on http://127.0.0.1:"), "{plain}");
    assert!(
        tls.contains("over TLS on https://127.0.0.1:") && tls.contains("ALPN h2"),
        "{tls}"
    );

    let dir = tempfile::tempdir().expect("tempdir");
    for (args, needle) in [
        (
            &["demo-target", "--tls-port", "0", "--tls-cert", "c.pem"][..],
            "--tls-cert and --tls-key go together",
        ),
        (
            &["demo-target", "--tls-cert", "c.pem", "--tls-key", "k.pem"],
            "need --tls-port",
        ),
        (&["demo-target", "--tls-port", "x"], "invalid TLS port 'x'"),
    ] {
        let out = run(args, dir.path());
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(text(&out.stderr).contains(needle), "{}", text(&out.stderr));
    }
    let out = run(
        &[
            "demo-target",
            "--port",
            "0",
            "--tls-port",
            "0",
            "--tls-cert",
            "missing.pem",
            "--tls-key",
            "k.pem",
        ],
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("cannot read the TLS certificate missing.pem"),
        "{}",
        text(&out.stderr)
    );
}
