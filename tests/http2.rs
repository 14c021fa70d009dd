//! End-to-end: `--http2` on the `locusta` binary against the demo target, which speaks h2c
//! (HTTP/2 with prior knowledge) and HTTP/1.1 on the same port and counts its HTTP/2
//! connections. Rust-native users get one HTTP/2 connection per user; a wrong mode is refused.

use std::process::{Command, Stdio};

use locusta_demo::{DemoConfig, DemoServer};

const BIN: &str = env!("CARGO_BIN_EXE_locusta");

fn counters(server: &DemoServer) -> serde_json::Value {
    reqwest::blocking::get(format!("{}/_test/stats", server.base_url()))
        .and_then(|r| r.json())
        .expect("demo target counters")
}

/// Runs the demo's WebsiteUser headless for 3 s; returns the exit code, stdout (JSON) and stderr.
fn run_demo(server: &DemoServer, extra: &[&str]) -> (Option<i32>, serde_json::Value, String) {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = Command::new(BIN)
        .args([
            "demo",
            "-H",
            &server.base_url(),
            "--headless",
            "-u",
            "4",
            "-r",
            "50",
        ])
        .args(["-t", "3s", "--json", "--only-summary", "WebsiteUser"])
        .args(extra)
        .current_dir(dir.path())
        .env_remove("LOCUST_HOST")
        .stdin(Stdio::null())
        .output()
        .expect("run locusta");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let json = serde_json::from_slice(&out.stdout).unwrap_or(serde_json::Value::Null);
    (out.status.code(), json, stderr)
}

fn totals(json: &serde_json::Value) -> (u64, u64) {
    let rows = json.as_array().expect("--json prints an array");
    rows.iter().fold((0, 0), |(n, f), row| {
        (
            n + row["num_requests"].as_u64().unwrap_or(0),
            f + row["num_failures"].as_u64().unwrap_or(0),
        )
    })
}

#[test]
fn prior_knowledge_runs_every_user_on_one_http2_connection() {
    let server =
        DemoServer::start(([127, 0, 0, 1], 0).into(), DemoConfig::default()).expect("demo target");
    let (code, json, stderr) = run_demo(&server, &["--http2", "prior-knowledge"]);
    assert_eq!(code, Some(0), "{stderr}");
    let (requests, failures) = totals(&json);
    assert!(requests >= 4, "{requests} requests\n{stderr}");
    assert_eq!(failures, 0, "{json}");
    let c = counters(&server);
    assert_eq!(c["http2_connections"], 4, "{c}");
    // every connection but the one reading the counters spoke HTTP/2
    assert_eq!(c["connections_accepted"], 5, "{c}");
}

#[test]
fn http2_is_off_by_default_and_negotiate_keeps_http1_on_plain_http() {
    let server =
        DemoServer::start(([127, 0, 0, 1], 0).into(), DemoConfig::default()).expect("demo target");
    for extra in [&[][..], &["--http2", "negotiate"][..]] {
        let (code, json, stderr) = run_demo(&server, extra);
        assert_eq!(code, Some(0), "{stderr}");
        assert!(totals(&json).0 >= 4, "{stderr}");
    }
    assert_eq!(counters(&server)["http2_connections"], 0);
}

#[test]
fn a_wrong_http2_mode_is_refused_before_any_load() {
    let server =
        DemoServer::start(([127, 0, 0, 1], 0).into(), DemoConfig::default()).expect("demo target");
    let (code, _, stderr) = run_demo(&server, &["--http2", "h3"]);
    assert_ne!(code, Some(0));
    assert!(
        stderr.contains("--http2")
            && stderr.contains("choose from off, negotiate, prior-knowledge"),
        "{stderr}"
    );
    assert_eq!(
        counters(&server)["requests"],
        1,
        "only the counters request"
    );
}
