//! End-to-end: `--http2` on the `locusta` binary against the demo target, which speaks h2c
//! (HTTP/2 with prior knowledge) and HTTP/1.1 on the same port, HTTP/2 or HTTP/1.1 by ALPN on
//! its TLS port, and counts its HTTP/2 and TLS connections. Rust-native users get one HTTP/2
//! connection per user; a wrong mode is refused. The gRPC demo user runs over h2c and TLS.

use std::process::{Command, Stdio};

use locusta_demo::{DemoConfig, DemoServer, TlsCert, TlsConfig};

const BIN: &str = env!("CARGO_BIN_EXE_locusta");

fn counters(server: &DemoServer) -> serde_json::Value {
    reqwest::blocking::get(format!("{}/_test/stats", server.base_url()))
        .and_then(|r| r.json())
        .expect("demo target counters")
}

/// The demo target with its TLS listener (self-signed certificate) on free loopback ports.
fn start_tls() -> DemoServer {
    DemoServer::start(
        ([127, 0, 0, 1], 0).into(),
        DemoConfig {
            tls: Some(TlsConfig {
                addr: ([127, 0, 0, 1], 0).into(),
                cert: TlsCert::SelfSigned,
            }),
            ..DemoConfig::default()
        },
    )
    .expect("demo target")
}

/// Runs the demo's WebsiteUser headless for 3 s; returns the exit code, stdout (JSON) and stderr.
fn run_demo(server: &DemoServer, extra: &[&str]) -> (Option<i32>, serde_json::Value, String) {
    run_demo_at(&server.base_url(), extra)
}

/// [`run_demo`] against `host`.
fn run_demo_at(host: &str, extra: &[&str]) -> (Option<i32>, serde_json::Value, String) {
    run_locusta(&["demo", "-H", host, "WebsiteUser"], extra)
}

/// `locusta <head> --headless -u 4 -r 50 -t 3s --json --only-summary <extra>`.
fn run_locusta(head: &[&str], extra: &[&str]) -> (Option<i32>, serde_json::Value, String) {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = Command::new(BIN)
        .args(head)
        .args(["--headless", "-u", "4", "-r", "50"])
        .args(["-t", "3s", "--json", "--only-summary"])
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

#[test]
fn negotiate_speaks_http2_by_alpn_on_the_tls_port() {
    let server = start_tls();
    let https = server.tls_url().expect("TLS listener");
    let (code, json, stderr) = run_demo_at(&https, &["--http2", "negotiate"]);
    assert_eq!(code, Some(0), "{stderr}");
    let (requests, failures) = totals(&json);
    assert!(requests >= 4, "{requests} requests\n{stderr}");
    assert_eq!(failures, 0, "{json}");
    let c = counters(&server);
    // one TLS connection per user, each negotiated h2 (the counters are read over plain text)
    assert_eq!(c["tls_connections"], 4, "{c}");
    assert_eq!(c["http2_connections"], 4, "{c}");
}

#[test]
fn without_http2_the_tls_port_serves_http1() {
    let server = start_tls();
    let https = server.tls_url().expect("TLS listener");
    let (code, json, stderr) = run_demo_at(&https, &[]);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(totals(&json).1, 0, "{json}");
    let c = counters(&server);
    assert_eq!(c["tls_connections"], 4, "{c}");
    assert_eq!(c["http2_connections"], 0, "{c}");
}

/// The (requests, failures) of the `grpc` rows of a `--json` array.
fn grpc_totals(json: &serde_json::Value) -> (u64, u64) {
    let rows = json.as_array().expect("--json prints an array");
    rows.iter()
        .filter(|row| row["method"] == "grpc")
        .fold((0, 0), |(n, f), row| {
            (
                n + row["num_requests"].as_u64().unwrap_or(0),
                f + row["num_failures"].as_u64().unwrap_or(0),
            )
        })
}

#[test]
fn the_grpc_demo_user_calls_the_shop_over_h2c_and_over_tls() {
    for tls in [false, true] {
        let head: &[&str] = if tls { &["demo", "--tls"] } else { &["demo"] };
        let (code, json, stderr) = run_locusta(head, &["GrpcShopUser"]);
        assert_eq!(code, Some(0), "{stderr}");
        let scheme = if tls { "https://" } else { "http://" };
        assert!(
            stderr.contains(&format!("shop target listening on {scheme}")),
            "{stderr}"
        );
        let (requests, failures) = grpc_totals(&json);
        assert!(requests >= 4, "{requests} gRPC calls\n{json}\n{stderr}");
        assert_eq!(failures, 0, "{json}");
        let names: Vec<&str> = json
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|row| row["name"].as_str())
            .collect();
        assert!(
            names.iter().all(|n| n.starts_with("/locusta.demo.Shop/")),
            "{names:?}"
        );
    }
}

#[test]
fn tls_on_the_demo_refuses_another_host() {
    let (code, _, stderr) = run_locusta(&["demo", "--tls", "-H", "http://127.0.0.1:1"], &[]);
    assert_eq!(code, Some(2));
    assert!(stderr.contains("give an https:// URL instead"), "{stderr}");
}
