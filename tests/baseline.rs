//! End-to-end runs of `--baseline` against the demo target: a first run writes its
//! `--json-file`, a second run with one endpoint deliberately slowed compares with it. The
//! slowed endpoint must be called regressed (HTML report's embedded comparison, JUnit), the
//! unchanged one not; a baseline term in `--threshold` gives exit code 3 when broken and 0
//! when held; the binary prints the comparison after Locust's tables, also as a master with
//! worker processes; a bad baseline is a usage error (2) before the run starts.
//!
//! Loads are short (3 s) and the latencies come from the target's `/_test/delay` (sleeps), so
//! the verdicts do not depend on the machine's speed: the slowed endpoint moves from 5 to 45 ms.

use std::ffi::OsString;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};

use locusta::wait_time::constant;
use locusta::{task, Locustfile, TaskResult, User, UserClass};
use locusta_demo::{DemoConfig, DemoServer};

const BIN: &str = env!("CARGO_BIN_EXE_locusta");

/// The delay of `/changing`, ms (runs of this file's tests that use it are serialised).
static CHANGING_MS: AtomicU64 = AtomicU64::new(5);
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

async fn steady(user: &mut User) -> TaskResult {
    user.client
        .get("/_test/delay?ms=5")
        .name("/steady")
        .send()
        .await;
    Ok(())
}

async fn changing(user: &mut User) -> TaskResult {
    let ms = CHANGING_MS.load(Ordering::Relaxed);
    user.client
        .get(&format!("/_test/delay?ms={ms}"))
        .name("/changing")
        .send()
        .await;
    Ok(())
}

fn target() -> DemoServer {
    DemoServer::start(([127, 0, 0, 1], 0).into(), DemoConfig::default()).expect("demo target")
}

/// One in-process headless run of 4 users for 3 s with `/changing` at `changing_ms`.
fn run(server: &DemoServer, changing_ms: u64, extra: &[&str]) -> i32 {
    CHANGING_MS.store(changing_ms, Ordering::Relaxed);
    let url = server.base_url();
    let mut a: Vec<&str> = vec![
        "locusta",
        "--headless",
        "-H",
        &url,
        "-u",
        "4",
        "-r",
        "100",
        "-t",
        "3s",
        "--only-summary",
        "-L",
        "WARNING",
    ];
    a.extend_from_slice(extra);
    locusta::run_locustfile(
        Locustfile {
            classes: vec![UserClass::new("Client")
                .wait_time(constant(0.01))
                .task(task!(steady))
                .task(task!(changing))],
            shape: None,
            ..Default::default()
        },
        a.into_iter().map(OsString::from).collect(),
    )
}

/// The comparison embedded in the HTML report.
fn comparison_of(report: &Path) -> serde_json::Value {
    let html = std::fs::read_to_string(report).expect("report written");
    let marker = "id=\"locusta-baseline\">";
    let start = html.find(marker).expect("comparison in the report") + marker.len();
    let end = start + html[start..].find("</script>").expect("end of comparison");
    serde_json::from_str(&html[start..end]).expect("comparison JSON")
}

fn verdict<'a>(c: &'a serde_json::Value, name: &str, metric: &str) -> &'a str {
    let endpoint = c["endpoints"]
        .as_array()
        .expect("endpoints")
        .iter()
        .find(|e| e["name"] == name)
        .unwrap_or_else(|| panic!("{name} not compared: {c:#}"));
    endpoint["metrics"]
        .as_array()
        .expect("metrics")
        .iter()
        .find(|m| m["metric"] == metric)
        .and_then(|m| m["verdict"].as_str())
        .unwrap_or_else(|| panic!("no {metric} for {name}: {c:#}"))
}

#[test]
fn baseline_flags_the_slowed_endpoint_and_gates_the_run() {
    let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let server = target();
    let dir = tempfile::tempdir().expect("tempdir");
    let base = dir.path().join("base");
    let base_s = base.to_str().expect("utf8");
    assert_eq!(run(&server, 5, &["--json-file", base_s]), 0);
    assert!(dir.path().join("base.json").is_file());

    // Second run: /changing 40 ms slower. The baseline term on it fails: exit code 3.
    let report = dir.path().join("slowed.html");
    let junit = dir.path().join("slowed.xml");
    let code = run(
        &server,
        45,
        &[
            "--baseline",
            base_s,
            "--threshold",
            "GET /changing:p95<baseline*1.5",
            "--threshold",
            "fail_ratio<=baseline+1%",
            "--html",
            report.to_str().expect("utf8"),
            "--junit",
            junit.to_str().expect("utf8"),
        ],
    );
    assert_eq!(code, 3);
    let c = comparison_of(&report);
    assert!(
        c["source"].as_str().expect("source").ends_with("base.json"),
        "{c:#}"
    );
    for metric in ["p50", "p95", "avg"] {
        assert_eq!(verdict(&c, "/changing", metric), "regressed", "{c:#}");
    }
    // The unchanged endpoint: its median and failures did not move beyond noise (its tail may
    // pick up a busy machine's hiccups, and its rate falls with the users' slower loop).
    for metric in ["p50", "fail_ratio"] {
        assert_ne!(verdict(&c, "/steady", metric), "regressed", "{c:#}");
    }
    let changing = c["endpoints"]
        .as_array()
        .expect("endpoints")
        .iter()
        .find(|e| e["name"] == "/changing")
        .expect("changing");
    let p50 = &changing["metrics"][1];
    assert_eq!(p50["metric"], "p50");
    let (b, cur) = (
        p50["baseline"].as_f64().expect("baseline p50"),
        p50["current"].as_f64().expect("current p50"),
    );
    assert!((5.0..=12.0).contains(&b), "{p50:#}");
    assert!((45.0..=60.0).contains(&cur), "{p50:#}");
    assert!(p50["change"].as_f64().expect("change") > 2.0, "{p50:#}");
    let html = std::fs::read_to_string(&report).expect("report");
    assert!(html.contains("<section id=\"baseline\">"));
    assert!(html.contains("<tr class=\"regressed\">"));

    let xml = std::fs::read_to_string(&junit).expect("junit");
    assert!(
        xml.contains("<testsuite name=\"locusta baseline\" tests=\"3\""),
        "{xml}"
    );
    let case = |name: &str| {
        let start = xml
            .find(&format!(
                "<testcase classname=\"locusta.baseline\" name=\"{name}\""
            ))
            .unwrap_or_else(|| panic!("no test case {name}: {xml}"));
        let end = start + xml[start..].find("</testcase>").expect("end");
        xml[start..end].to_string()
    };
    let slowed = case("GET /changing");
    assert!(
        slowed.contains("type=\"BaselineRegression\"") && slowed.contains("p50 "),
        "{slowed}"
    );
    let thresholds = xml
        .find(
            "<testcase classname=\"locusta.thresholds\" name=\"GET /changing:p95&lt;baseline*1.5\"",
        )
        .expect("threshold case");
    assert!(
        xml[thresholds..].contains("type=\"ThresholdFailed\""),
        "{xml}"
    );

    // Third run like the first: the same terms, looser where a busy machine may wobble, hold.
    let code = run(
        &server,
        5,
        &[
            "--baseline",
            &format!("{base_s}.json"),
            "--threshold",
            "GET /changing:p50<baseline*2",
            "--threshold",
            "GET /steady:p50<baseline+20ms",
            "--threshold",
            "fail_ratio<=baseline+1%",
        ],
    );
    assert_eq!(code, 0);
}

fn cli(args: &[&str], cwd: &Path) -> Output {
    Command::new(BIN)
        .args(args)
        .current_dir(cwd)
        .env_remove("LOCUST_HOST")
        .env_remove("LOCUSTA_BASELINE")
        .stdin(Stdio::null())
        .output()
        .expect("run locusta")
}

#[test]
fn the_binary_prints_the_comparison_also_as_a_master_and_refuses_bad_baselines() {
    let server = target();
    let url = server.base_url();
    let dir = tempfile::tempdir().expect("tempdir");
    let common = [
        "demo",
        "-H",
        &url,
        "LinearUser",
        "-u",
        "4",
        "-r",
        "100",
        "-t",
        "3s",
        "--only-summary",
    ];
    let mut first = common.to_vec();
    first.extend(["--csv", "first"]);
    let out = cli(&first, dir.path());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");

    // Against the CSV output, as a master with two worker processes (the merged statistics).
    let mut second = common.to_vec();
    second.extend(["--processes", "2", "--baseline", "first"]);
    let out = cli(&second, dir.path());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let tables = stderr
        .find("Response time percentiles (approximated)")
        .expect("Locust's tables");
    let compared = stderr
        .find("Compared with the baseline first_stats.csv (2 endpoints matched)")
        .unwrap_or_else(|| panic!("no comparison:\n{stderr}"));
    assert!(tables < compared, "after Locust's tables:\n{stderr}");
    let section = &stderr[compared..];
    assert!(
        section.contains("Note: the baseline is a CSV file"),
        "{section}"
    );
    assert!(section.contains("GET /_insight/fast"), "{section}");
    assert!(section.contains("GET /_insight/linear"), "{section}");
    assert!(section.contains("Aggregated"), "{section}");
    for word in ["p95", "fail_ratio", "not judged"] {
        assert!(section.contains(word), "{word}:\n{section}");
    }

    // Bad baselines and a baseline term without one: usage errors before any load.
    for (extra, says) in [
        (
            vec!["--baseline", "missing"],
            "--baseline missing: missing does not exist",
        ),
        (
            vec!["--threshold", "p95<baseline*1.1"],
            "add --baseline PATH",
        ),
    ] {
        let mut a = common.to_vec();
        a.extend(extra);
        let out = cli(&a, dir.path());
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert!(stderr.contains(says), "{stderr}");
        assert!(
            !stderr.contains("Ramping to"),
            "refused before the run:\n{stderr}"
        );
    }
    std::fs::write(dir.path().join("junk.json"), "{\"not\": \"stats\"}").expect("write");
    let mut a = common.to_vec();
    a.extend(["--baseline", "junk.json"]);
    let out = cli(&a, dir.path());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("--json-file writes"), "{stderr}");
}
