//! End-to-end runs of the insight features against the demo target's `/_insight/` patterns:
//! the diagnosis names the degrading endpoint, its pattern and its knee; `--find-capacity`
//! stops where the objective breaks; thresholds set the exit code and write JUnit; the HTML
//! report is written; `--metrics-port` serves Prometheus text during the run.
//!
//! The patterns depend on the number of requests in flight, not on CPU speed, and the
//! assertions leave a tolerance of one load step, so a slow, shared machine gives the same
//! answers.

use std::ffi::OsString;
use std::io::{Read, Write};
use std::time::{Duration, Instant};

use locusta::wait_time::constant;
use locusta::{task, Locustfile, Stages, TaskResult, User, UserClass};
use locusta_demo::{DemoConfig, DemoServer};

async fn fast(user: &mut User) -> TaskResult {
    user.client.get("/_insight/fast").send().await;
    Ok(())
}

async fn pool(user: &mut User) -> TaskResult {
    user.client
        .get("/_insight/pool?size=10&hold_ms=20&timeout_ms=300")
        .name("/_insight/pool")
        .send()
        .await;
    Ok(())
}

async fn linear(user: &mut User) -> TaskResult {
    user.client
        .get("/_insight/linear?base_ms=2&per_ms=4")
        .name("/_insight/linear")
        .send()
        .await;
    Ok(())
}

fn args(list: &[&str]) -> Vec<OsString> {
    std::iter::once("locusta")
        .chain(list.iter().copied())
        .map(OsString::from)
        .collect()
}

fn target() -> DemoServer {
    DemoServer::start(([127, 0, 0, 1], 0).into(), DemoConfig::default()).expect("demo target")
}

/// The diagnosis JSON embedded in the HTML report.
fn diagnosis_of(report: &std::path::Path) -> serde_json::Value {
    let html = std::fs::read_to_string(report).expect("report written");
    let start = html
        .find("id=\"locusta-diagnosis\">")
        .expect("diagnosis in report")
        + "id=\"locusta-diagnosis\">".len();
    let end = start + html[start..].find("</script>").expect("end of diagnosis");
    serde_json::from_str(&html[start..end]).expect("diagnosis JSON")
}

#[test]
fn find_capacity_stops_at_the_pool_cliff_and_names_it() {
    let server = target();
    let dir = tempfile::tempdir().expect("tempdir");
    let report = dir.path().join("report_{u}.html");
    let junit = dir.path().join("junit.xml");
    let locustfile = Locustfile {
        classes: vec![UserClass::new("PoolUser")
            .wait_time(constant(0.0))
            .task(task!(pool).weight(4))
            .task(task!(fast))],
        shape: None,
        ..Default::default()
    };
    let started = Instant::now();
    let code = locusta::run_locustfile(
        locustfile,
        args(&[
            "--headless",
            "-H",
            &server.base_url(),
            "-u",
            "40",
            "--find-capacity",
            "--capacity-step",
            "5",
            "--capacity-step-time",
            "3s",
            "--slo",
            "p95<100ms,fail<1%",
            "--threshold",
            "GET /_insight/fast:p95<1000ms",
            "--threshold",
            "fail_ratio<1%",
            "--junit",
            junit.to_str().expect("utf8"),
            "--html",
            report.to_str().expect("utf8"),
            "--only-summary",
            "-L",
            "WARNING",
        ]),
    );
    let took = started.elapsed();
    // The pool fails from 11 concurrent requests on: fail_ratio<1% fails -> exit code 3.
    assert_eq!(code, 3);
    // Steps of 3 s: 5, 10, 15 users, then the search stops (well before 40 users = 24 s).
    assert!(took < Duration::from_secs(20), "{took:?}");

    let xml = std::fs::read_to_string(&junit).expect("junit written");
    assert!(xml.contains("tests=\"2\" failures=\"1\""), "{xml}");
    assert!(xml.contains("name=\"fail_ratio&lt;1%\""), "{xml}");

    let d = diagnosis_of(&dir.path().join("report_40.html"));
    let first = &d["endpoints"][0];
    assert_eq!(first["name"], "/_insight/pool", "{d:#}");
    assert_eq!(first["pattern"], "cliff", "{d:#}");
    // Knee: the first load above the pool size (11 users) up to the next step (15).
    let knee = first["knee"]["users"].as_f64().expect("knee");
    assert!((11.0..=15.0).contains(&knee), "knee {knee}: {d:#}");
    // The fast endpoint may pick up CPU noise on a busy machine, but never leads.
    assert!(d["culprit_count"].as_u64().expect("count") >= 1, "{d:#}");
    let sustained = d["capacity"]["sustained"]["users"]
        .as_f64()
        .expect("capacity");
    assert!((5.0..=10.0).contains(&sustained), "{d:#}");
    let broken = d["capacity"]["broken_at"]["users"]
        .as_f64()
        .expect("broken");
    assert!((11.0..=15.0).contains(&broken), "{d:#}");
}

#[test]
fn ramp_names_the_linear_culprit() {
    let server = target();
    let dir = tempfile::tempdir().expect("tempdir");
    let report = dir.path().join("report.html");
    let locustfile = Locustfile {
        classes: vec![UserClass::new("Mixed")
            .wait_time(constant(0.0))
            .task(task!(linear))
            .task(task!(fast))],
        shape: Some(Box::new(Stages::new([
            (Duration::from_secs(2), 4, 100.0),
            (Duration::from_secs(4), 8, 100.0),
            (Duration::from_secs(6), 12, 100.0),
            (Duration::from_secs(8), 16, 100.0),
            (Duration::from_secs(10), 20, 100.0),
        ]))),
        ..Default::default()
    };
    let code = locusta::run_locustfile(
        locustfile,
        args(&[
            "--headless",
            "-H",
            &server.base_url(),
            "--html",
            report.to_str().expect("utf8"),
            "--threshold",
            "GET /_insight/fast:fail_ratio<1%",
            "--only-summary",
            "-L",
            "WARNING",
        ]),
    );
    assert_eq!(code, 0);
    let d = diagnosis_of(&report);
    let first = &d["endpoints"][0];
    assert_eq!(first["name"], "/_insight/linear", "{d:#}");
    assert_eq!(first["pattern"], "linear", "{d:#}");
    assert!(d["culprit_count"].as_u64().expect("count") >= 1, "{d:#}");
    assert_eq!(d["overall"]["pattern"], "linear", "{d:#}");
    // 4 ms per other request in flight: 4 users ~14 ms, 20 users ~78 ms (p95 a bit above).
    let peak = first["peak_ms"].as_f64().expect("peak");
    assert!((60.0..=200.0).contains(&peak), "{d:#}");
    let html = std::fs::read_to_string(&report).expect("report");
    for section in [
        "Request Statistics",
        "Response Time Statistics",
        "Failures Statistics",
        "Diagnosis",
        "Final ratio",
        "Thresholds: 1 passed, 0 failed",
    ] {
        assert!(html.contains(section), "{section}");
    }
}

#[test]
fn threshold_abort_stops_early_and_metrics_are_served() {
    let server = target();
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("free port");
        l.local_addr().expect("addr").port()
    };
    let scraper = std::thread::spawn(move || {
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            if let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) {
                let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
                let _ =
                    s.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
                let mut body = String::new();
                let _ = s.read_to_string(&mut body);
                if body.contains("locusta_requests_total{method=\"GET\",name=\"/_insight/linear\"}")
                    && body.contains("locusta_users 2")
                {
                    return Some(body);
                }
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        None
    });
    let locustfile = Locustfile {
        classes: vec![UserClass::new("Slow")
            .wait_time(constant(0.0))
            .task(task!(linear))],
        shape: None,
        ..Default::default()
    };
    let started = Instant::now();
    let code = locusta::run_locustfile(
        locustfile,
        args(&[
            "--headless",
            "-H",
            &server.base_url(),
            "-u",
            "2",
            "-r",
            "10",
            "-t",
            "60s",
            "--threshold",
            "max<1ms",
            "--threshold-abort-after",
            "2s",
            "--metrics-port",
            &port.to_string(),
            "--only-summary",
            "-L",
            "WARNING",
        ]),
    );
    assert_eq!(code, 3);
    assert!(started.elapsed() < Duration::from_secs(20), "aborted early");
    let body = scraper.join().expect("scraper").expect("metrics scraped");
    assert!(body.starts_with("HTTP/1.1 200"), "{body}");
    assert!(
        body.contains("locusta_response_time_seconds_bucket"),
        "{body}"
    );
    assert!(body.contains("locusta_users 2"), "{body}");
}

#[test]
fn malformed_thresholds_are_usage_errors() {
    let server = target();
    let url = server.base_url();
    for bad in [
        vec!["--threshold", "p95<<5"],
        vec!["--threshold", "latency<5ms"],
        vec!["--slo", "p97<1s"],
        vec!["--capacity-step", "5"],
        vec!["--threshold-abort-after", "5s"],
    ] {
        let mut a = vec!["--headless", "-H", &url, "-t", "1s", "-L", "CRITICAL"];
        a.extend(bad.iter().copied());
        let code = locusta::run_locustfile(
            Locustfile {
                classes: vec![UserClass::new("U").task(task!(fast))],
                shape: None,
                ..Default::default()
            },
            args(&a),
        );
        assert_eq!(code, 2, "{bad:?}");
    }
}

async fn stall(user: &mut User) -> TaskResult {
    user.client
        .get("/_insight/stall?period_s=2&stall_ms=500&base_ms=1")
        .name("/_insight/stall")
        .send()
        .await;
    Ok(())
}

/// Against a target that stalls 500 ms every 2 s, the closed model hides the stall (only the
/// 5 users' in-flight requests see it) while the open model, measuring from each iteration's
/// intended start, shows it in the tail.
#[test]
fn open_model_shows_the_stall_the_closed_model_hides() {
    let server = target();
    let run = |extra: &[&str]| {
        let mut a = vec![
            "--headless",
            "-H",
            &server_url(&server),
            "-t",
            "4s",
            "--only-summary",
            "-L",
            "WARNING",
        ]
        .into_iter()
        .map(String::from)
        .collect::<Vec<_>>();
        a.extend(extra.iter().map(|s| s.to_string()));
        let refs: Vec<&str> = a.iter().map(String::as_str).collect();
        locusta::run_locustfile(
            Locustfile {
                classes: vec![UserClass::new("Staller")
                    .wait_time(constant(0.0))
                    .task(task!(stall))],
                shape: None,
                ..Default::default()
            },
            args(&refs),
        )
    };
    // Closed: 5 users; at most 5 requests per stall are slow.
    assert_eq!(
        run(&["-u", "5", "-r", "100", "--threshold", "p95<250ms"]),
        0
    );
    // Open: 100 iterations/s; a quarter of them arrive during a stall.
    assert_eq!(
        run(&[
            "-u",
            "100",
            "-r",
            "1000",
            "--arrival-rate",
            "100",
            "--threshold",
            "p95>=250ms",
            "--threshold",
            "requests>=200",
        ]),
        0
    );
}

fn server_url(server: &DemoServer) -> String {
    server.base_url()
}

/// The README's first command: `locusta demo` with no flags ramps far enough for the checkout
/// lock to be the named culprit, with its knee, and the HTML report says the same.
#[test]
fn the_default_demo_names_the_checkout_lock() {
    let dir = tempfile::tempdir().expect("tempdir");
    let report = dir.path().join("demo.html");
    let started = Instant::now();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_locusta"))
        .args(["demo", "--only-summary", "--html"])
        .arg(&report)
        .env_remove("LOCUST_HOST")
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run locusta demo");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(
        started.elapsed() < Duration::from_secs(40),
        "{:?}",
        started.elapsed()
    );
    let culprits = stderr
        .split("Culprits (those breaking the objective first, then the earliest to degrade):")
        .nth(1)
        .unwrap_or_else(|| panic!("no culprit named:\n{stderr}"));
    let first = culprits.lines().nth(1).expect("first culprit");
    assert!(
        first.trim_start().starts_with("1. POST /api/orders: "),
        "{stderr}"
    );
    assert!(
        first.contains(" from ") && first.contains(" users ("),
        "{first}"
    );
    let d = diagnosis_of(&report);
    assert_eq!(d["endpoints"][0]["name"], "/api/orders", "{d:#}");
    let knee = d["endpoints"][0]["knee"]["users"].as_f64().expect("a knee");
    assert!((1.0..=240.0).contains(&knee), "{d:#}");
    // The other endpoints do not queue: none of them breaks the objective (on a machine busy
    // with other tests a low-volume one may still show a rise of a few tens of ms).
    for e in d["endpoints"].as_array().expect("endpoints").iter().skip(1) {
        assert!(e["peak_ms"].as_f64().expect("peak") < 500.0, "{e:#}");
    }
}
