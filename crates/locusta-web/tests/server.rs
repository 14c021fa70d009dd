//! The web server on a real socket with a stand-in control loop: routes, methods, status
//! codes, JSON keys, CSV downloads, basic auth, the base path and TLS.

use std::sync::Arc;
use std::time::{Duration, Instant};

use locusta_stats::{Sample, StatsHub, StatsLimits};
use locusta_web::{
    ClassInfo, Command, ControlPort, RunInfo, ServerConfig, Status, TaskInfo, WebContext, WebServer,
};
use reqwest::blocking::Client;
use reqwest::StatusCode;
use serde_json::Value;

fn info() -> RunInfo {
    RunInfo {
        locustfile: "locustfile.py".into(),
        num_users: Some(3),
        spawn_rate: Some(2.0),
        host: "http://127.0.0.1:1".into(),
        classes: vec![
            ClassInfo {
                name: "A".into(),
                tasks: vec![
                    TaskInfo {
                        name: "one".into(),
                        weight: 3,
                        tasks: vec![],
                    },
                    TaskInfo {
                        name: "two".into(),
                        weight: 1,
                        tasks: vec![],
                    },
                ],
            },
            ClassInfo {
                name: "B".into(),
                tasks: vec![TaskInfo {
                    name: "three".into(),
                    weight: 1,
                    tasks: vec![],
                }],
            },
        ],
        ..RunInfo::default()
    }
}

struct Fixture {
    server: WebServer,
    port: ControlPort,
    stats: Arc<StatsHub>,
    base: String,
}

fn serve(cfg: ServerConfig) -> Fixture {
    serve_with(cfg, StatsLimits::default())
}

fn serve_with(cfg: ServerConfig, limits: StatsLimits) -> Fixture {
    let stats = StatsHub::new(limits);
    let (ctx, port) = WebContext::new(
        Arc::clone(&stats),
        info(),
        Arc::new(|| vec!["[2026-01-01 00:00:00,000] h/INFO/locusta.main: hello".to_owned()]),
    );
    let routes = locusta_web::router(ctx.clone());
    let server = locusta_web::start(ctx, routes, &cfg).expect("server starts");
    let base = server.url().trim_end_matches('/').to_owned();
    Fixture {
        server,
        port,
        stats,
        base,
    }
}

fn plain() -> Fixture {
    serve(ServerConfig {
        host: "127.0.0.1".into(),
        port: 0,
        ..ServerConfig::default()
    })
}

fn client() -> Client {
    Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .expect("client")
}

fn record(stats: &StatsHub, name: &str, ms: u64, error: Option<&str>) {
    stats.record(&Sample {
        method: "GET",
        name,
        response_time_us: Some(ms * 1000),
        content_length: 10,
        error,
    });
}

fn next_command(port: &mut ControlPort) -> Command {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Ok(c) = port.commands.try_recv() {
            return c;
        }
        assert!(Instant::now() < deadline, "no command arrived");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn swarm_validates_and_hands_commands_to_the_control_loop() {
    let mut f = plain();
    let c = client();
    let r = c
        .post(format!("{}/swarm", f.base))
        .form(&[
            ("user_count", "7"),
            ("spawn_rate", "2.5"),
            ("host", "http://x<y>"),
            ("run_time", "1m30s"),
            ("unknown_field", "ignored"),
        ])
        .send()
        .expect("swarm");
    assert_eq!(r.status(), StatusCode::OK);
    let body: Value = r.json().expect("json");
    assert_eq!(body["success"], true);
    assert_eq!(body["message"], "Swarming started");
    assert_eq!(body["host"], "http://xy");
    assert_eq!(body["run_time"], 90);
    match next_command(&mut f.port) {
        Command::Swarm(req) => {
            assert_eq!(req.user_count, 7);
            assert_eq!(req.spawn_rate, 2.5);
            assert_eq!(req.host.as_deref(), Some("http://xy"));
            assert_eq!(req.run_time, Some(Duration::from_secs(90)));
        }
        other => panic!("{other:?}"),
    }

    for (form, needle) in [
        (
            vec![("user_count", "x"), ("spawn_rate", "1")],
            "Invalid user_count",
        ),
        (
            vec![("user_count", "1"), ("spawn_rate", "fast")],
            "Invalid spawn_rate",
        ),
        (vec![("user_count", "1")], "Missing or invalid"),
        (
            vec![("user_count", "-1"), ("spawn_rate", "1")],
            "Missing or invalid",
        ),
        (
            vec![("user_count", "1"), ("spawn_rate", "0")],
            "Missing or invalid",
        ),
        (
            vec![("user_count", "1"), ("spawn_rate", "inf")],
            "Missing or invalid",
        ),
        (
            vec![
                ("user_count", "1"),
                ("spawn_rate", "1"),
                ("run_time", "soon"),
            ],
            "Valid run_time formats",
        ),
        (
            vec![
                ("user_count", "1"),
                ("spawn_rate", "1"),
                ("user_classes", "Nope"),
            ],
            "Unknown user class",
        ),
    ] {
        let r = c
            .post(format!("{}/swarm", f.base))
            .form(&form)
            .send()
            .expect("swarm");
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{form:?}");
        let body: Value = r.json().expect("json error body");
        assert_eq!(body["success"], false);
        assert!(
            body["message"].as_str().unwrap_or("").contains(needle),
            "{form:?}: {body}"
        );
    }
    // Nothing reached the control loop for the refused forms.
    assert!(f.port.commands.try_recv().is_err());

    let r = c.post(format!("{}/stop", f.base)).send().expect("stop");
    let body: Value = r.json().expect("json");
    assert_eq!(body["success"], true);
    assert_eq!(body["message"], "Test stopped");
    assert_eq!(next_command(&mut f.port), Command::Stop);
    // Locust 2.47 accepts only POST on /stop.
    let r = c.get(format!("{}/stop", f.base)).send().expect("get stop");
    assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED);
    f.server.stop();
}

#[test]
fn stats_requests_has_locusts_keys_and_caps_rows() {
    let mut f = plain();
    for i in 0..600 {
        record(&f.stats, &format!("/item/{i:04}"), 1 + (i % 50), None);
    }
    record(&f.stats, "/slow", 900, None);
    record(
        &f.stats,
        "/broken",
        5,
        Some("HTTPError('500 Server Error')"),
    );
    f.port.publish(Status {
        state: "running".into(),
        user_count: 3,
        class_counts: vec![("A".into(), 2), ("B".into(), 1)],
        host: "http://127.0.0.1:1".into(),
        ..Status::default()
    });
    let c = client();
    let r = c
        .get(format!("{}/stats/requests", f.base))
        .send()
        .expect("stats");
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["x-locusta-entries"], "602");
    let body: Value = r.json().expect("json");
    let mut keys: Vec<&str> = body
        .as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            "current_fail_per_sec",
            "current_response_time_percentiles",
            "current_rps",
            "errors",
            "fail_ratio",
            "state",
            "stats",
            "total_fail_per_sec",
            "total_rps",
            "user_count"
        ]
    );
    assert_eq!(body["state"], "running");
    assert_eq!(body["user_count"], 3);
    let rows = body["stats"].as_array().expect("rows");
    assert_eq!(rows.len(), 501, "500 rows and Aggregated");
    let mut row_keys: Vec<&str> = rows[0]
        .as_object()
        .expect("row")
        .keys()
        .map(String::as_str)
        .collect();
    row_keys.sort();
    assert_eq!(
        row_keys,
        [
            "avg_content_length",
            "avg_response_time",
            "current_fail_per_sec",
            "current_rps",
            // locusta's additions: min and max as measured (Locust rounds them)
            "exact_max_response_time",
            "exact_min_response_time",
            "max_response_time",
            "median_response_time",
            "method",
            "min_response_time",
            "name",
            "num_failures",
            "num_requests",
            "response_time_percentile_0.95",
            "response_time_percentile_0.99",
            "total_fail_per_sec",
            "total_rps",
        ]
    );
    assert_eq!(rows[0]["max_response_time"].as_f64(), Some(5.0));
    assert_eq!(rows[0]["exact_max_response_time"].as_f64(), Some(5.0));
    let total = &rows[500];
    assert_eq!(total["name"], "Aggregated");
    assert_eq!(total["num_requests"], 602);
    assert_eq!(total["num_failures"], 1);
    // Locust's order: by name.
    assert_eq!(rows[0]["name"], "/broken");
    let errors = body["errors"].as_array().expect("errors");
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0]["error"], "HTTPError('500 Server Error')");
    assert_eq!(errors[0]["occurrences"], 1);
    let cur = body["current_response_time_percentiles"]
        .as_object()
        .expect("percentiles");
    assert!(cur.contains_key("response_time_percentile_0.5"));
    assert!(cur.contains_key("response_time_percentile_0.95"));

    // Sorting happens before the cap, so the slowest endpoint is found among all 602.
    let body: Value = c
        .get(format!(
            "{}/stats/requests?sort=avg_response_time&order=desc",
            f.base
        ))
        .send()
        .expect("sorted")
        .json()
        .expect("json");
    assert_eq!(body["stats"][0]["name"], "/slow");
    let r = c
        .get(format!("{}/stats/requests?q=ITEM/059", f.base))
        .send()
        .expect("search");
    assert_eq!(r.headers()["x-locusta-matching"], "10");
    let body: Value = r.json().expect("json");
    assert_eq!(body["stats"].as_array().map(Vec::len), Some(11));
    for bad in [
        "sort=colour",
        "order=sideways",
        "sort=response_time_percentile_7",
    ] {
        let r = c
            .get(format!("{}/stats/requests?{bad}", f.base))
            .send()
            .expect("bad");
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{bad}");
    }

    // Reset zeroes every row (Locust keeps the rows themselves) and clears the errors.
    let r = c
        .post(format!("{}/stats/reset", f.base))
        .send()
        .expect("reset");
    assert_eq!(r.text().expect("text"), "ok");
    // The control loop hears of it (the Python runner fires its `reset_stats` listeners).
    assert_eq!(next_command(&mut f.port), Command::ResetStats);
    let body: Value = c
        .get(format!("{}/stats/requests", f.base))
        .send()
        .expect("stats")
        .json()
        .expect("json");
    let rows = body["stats"].as_array().expect("rows");
    assert!(rows.iter().all(|r| r["num_requests"] == 0), "{rows:?}");
    assert_eq!(
        rows.last().map(|r| &r["name"]),
        Some(&Value::from("Aggregated"))
    );
    assert_eq!(body["errors"].as_array().map(Vec::len), Some(0));
}

#[test]
fn csv_exceptions_tasks_logs_and_worker_count() {
    let f = plain();
    record(&f.stats, "/a", 5, Some("boom"));
    f.stats
        .log_exception("ValueError('x')", "Traceback:\n  line 1", "local");
    f.port.publish(Status {
        state: "running".into(),
        user_count: 4,
        class_counts: vec![("A".into(), 3), ("B".into(), 1)],
        host: "http://127.0.0.1:1".into(),
        ..Status::default()
    });
    let c = client();
    let r = c
        .get(format!("{}/stats/requests/csv", f.base))
        .send()
        .expect("csv");
    assert_eq!(r.headers()["content-type"], "text/csv");
    let disposition = r.headers()["content-disposition"]
        .to_str()
        .expect("ascii")
        .to_owned();
    assert!(
        disposition.starts_with("attachment;filename=Locust_")
            && disposition.ends_with("_locustfile.py_http://127.0.0.1:1_requests.csv"),
        "{disposition}"
    );
    let text = r.text().expect("text");
    assert!(text.starts_with("Type,Name,Request Count,Failure Count,"));
    assert!(text.contains("\nGET,/a,1,1,"));
    let text = c
        .get(format!("{}/stats/failures/csv", f.base))
        .send()
        .expect("failures")
        .text()
        .expect("text");
    assert!(text.starts_with("Method,Name,Error,Occurrences"), "{text}");
    assert!(text.contains("GET,/a,boom,1"));
    let text = c
        .get(format!("{}/exceptions/csv", f.base))
        .send()
        .expect("exceptions csv")
        .text()
        .expect("text");
    assert!(text.starts_with("Count,Message,Traceback,Nodes"), "{text}");
    let r = c
        .get(format!("{}/stats/requests_full_history/csv", f.base))
        .send()
        .expect("history csv");
    assert_eq!(r.status(), StatusCode::NOT_FOUND);

    let body: Value = c
        .get(format!("{}/exceptions", f.base))
        .send()
        .expect("exceptions")
        .json()
        .expect("json");
    assert_eq!(body["exceptions"][0]["count"], 1);
    assert_eq!(body["exceptions"][0]["msg"], "ValueError('x')");
    assert_eq!(body["exceptions"][0]["nodes"], "local");

    let body: Value = c
        .get(format!("{}/tasks", f.base))
        .send()
        .expect("tasks")
        .json()
        .expect("json");
    assert_eq!(body["per_class"]["A"]["ratio"], 0.75);
    assert_eq!(body["per_class"]["A"]["tasks"]["one"]["ratio"], 0.75);
    assert_eq!(body["total"]["A"]["tasks"]["one"]["ratio"], 0.5625);
    assert_eq!(body["total"]["B"]["tasks"]["three"]["ratio"], 0.25);

    let body: Value = c
        .get(format!("{}/logs", f.base))
        .send()
        .expect("logs")
        .json()
        .expect("json");
    assert_eq!(
        body["master"][0],
        "[2026-01-01 00:00:00,000] h/INFO/locusta.main: hello"
    );
    assert!(body["workers"].as_object().is_some_and(|w| w.is_empty()));
    let body: Value = c
        .get(format!("{}/worker-count", f.base))
        .send()
        .expect("workers")
        .json()
        .expect("json");
    assert_eq!(body, serde_json::json!({"worker_count": 0}));
    let r = c.get(format!("{}/", f.base)).send().expect("index");
    assert!(r.text().expect("html").contains("<title>locusta</title>"));
}

#[test]
fn history_is_recorded_while_running_and_cleared_by_reset() {
    let f = plain();
    record(&f.stats, "/a", 5, None);
    let c = client();
    let get = |url: &str| -> Value {
        c.get(format!("{}{url}", f.base))
            .send()
            .expect("history")
            .json()
            .expect("json")
    };
    // Not running: nothing is recorded.
    std::thread::sleep(Duration::from_millis(2500));
    assert_eq!(
        get("/stats/history")["time"].as_array().map(Vec::len),
        Some(0)
    );
    f.port.publish(Status {
        state: "running".into(),
        user_count: 2,
        ..Status::default()
    });
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let h = get("/stats/history");
        if h["time"].as_array().is_some_and(|t| !t.is_empty()) {
            assert_eq!(h["user_count"][0], 2.0);
            assert!(h.get("response_time_percentile_0.95").is_some());
            break;
        }
        assert!(Instant::now() < deadline, "no history point");
        std::thread::sleep(Duration::from_millis(200));
    }
    let ep = get("/stats/history?method=GET&name=/a");
    assert!(ep["current_rps"].as_array().is_some_and(|v| !v.is_empty()));
    let r = c
        .get(format!("{}/stats/history?method=GET&name=/nope", f.base))
        .send()
        .expect("missing");
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    c.post(format!("{}/stats/reset", f.base))
        .send()
        .expect("reset");
    f.port.publish(Status::default());
    assert_eq!(
        get("/stats/history")["time"].as_array().map(Vec::len),
        Some(0)
    );
}

#[test]
fn basic_auth_and_base_path() {
    let f = serve(ServerConfig {
        host: "127.0.0.1".into(),
        port: 0,
        base_path: "/locust/".into(),
        auth: Some("alice:s3cret".into()),
        tls: None,
    });
    assert!(f.base.ends_with("/locust"), "{}", f.base);
    let c = Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let r = c.get(format!("{}/", f.base)).send().expect("index");
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert!(r.headers().contains_key("www-authenticate"));
    let r = c
        .get(format!("{}/", f.base))
        .basic_auth("alice", Some("wrong"))
        .send()
        .expect("index");
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let r = c
        .get(format!("{}/worker-count", f.base))
        .basic_auth("alice", Some("s3cret"))
        .send()
        .expect("worker-count");
    assert_eq!(r.status(), StatusCode::OK);
    // Without the prefix nothing is served; the bare prefix redirects to the page.
    let root = f.base.trim_end_matches("/locust");
    let r = c
        .get(format!("{root}/worker-count"))
        .basic_auth("alice", Some("s3cret"))
        .send()
        .expect("unprefixed");
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let r = c
        .get(&f.base)
        .basic_auth("alice", Some("s3cret"))
        .send()
        .expect("bare prefix");
    assert!(r.status().is_redirection());
    assert_eq!(r.headers()["location"], "/locust/");
}

#[test]
fn tls_serves_https_and_bad_files_are_refused_up_front() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ck = rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()])
        .expect("cert");
    let cert = dir.path().join("cert.pem");
    let key = dir.path().join("key.pem");
    std::fs::write(&cert, ck.cert.pem()).expect("write cert");
    std::fs::write(&key, ck.signing_key.serialize_pem()).expect("write key");
    let f = serve(ServerConfig {
        host: "127.0.0.1".into(),
        port: 0,
        tls: Some((cert.clone(), key.clone())),
        ..ServerConfig::default()
    });
    assert!(f.base.starts_with("https://"), "{}", f.base);
    let c = Client::builder()
        .danger_accept_invalid_certs(true)
        .build()
        .expect("client");
    let r = c
        .get(format!("{}/worker-count", f.base))
        .send()
        .expect("https");
    assert_eq!(r.status(), StatusCode::OK);

    let stats = StatsHub::new(StatsLimits::default());
    let (ctx, _port) = WebContext::new(stats, info(), Arc::new(Vec::new));
    let routes = locusta_web::router(ctx.clone());
    let err = locusta_web::start(
        ctx,
        routes,
        &ServerConfig {
            host: "127.0.0.1".into(),
            port: 0,
            tls: Some((key.clone(), cert.clone())),
            ..ServerConfig::default()
        },
    )
    .err()
    .expect("swapped files are refused");
    assert!(err.contains("--tls"), "{err}");
}

#[test]
fn a_busy_port_is_a_clear_error() {
    let f = plain();
    let port = f.server.local_addr().port();
    let stats = StatsHub::new(StatsLimits::default());
    let (ctx, _p) = WebContext::new(stats, info(), Arc::new(Vec::new));
    let routes = locusta_web::router(ctx.clone());
    let err = locusta_web::start(
        ctx,
        routes,
        &ServerConfig {
            host: "127.0.0.1".into(),
            port,
            ..ServerConfig::default()
        },
    )
    .err()
    .expect("port in use");
    assert!(err.contains("cannot listen on"), "{err}");
}

#[test]
fn ten_thousand_endpoints_keep_the_payload_small() {
    let f = serve_with(
        ServerConfig {
            host: "127.0.0.1".into(),
            port: 0,
            ..ServerConfig::default()
        },
        StatsLimits {
            max_entries: 20_000,
            ..StatsLimits::default()
        },
    );
    for i in 0..10_000u64 {
        record(&f.stats, &format!("/endpoint/{i:05}"), 1 + i % 300, None);
    }
    f.port.publish(Status {
        state: "running".into(),
        user_count: 1,
        ..Status::default()
    });
    let c = client();
    for query in ["", "?sort=avg_response_time&order=desc", "?q=endpoint/0999"] {
        let started = Instant::now();
        let r = c
            .get(format!("{}/stats/requests{query}", f.base))
            .send()
            .expect("stats");
        assert_eq!(r.headers()["x-locusta-entries"], "10000");
        let bytes = r.bytes().expect("body");
        let body: Value = serde_json::from_slice(&bytes).expect("json");
        let rows = body["stats"].as_array().map(Vec::len).unwrap_or(0);
        assert!(rows <= 501, "{rows}");
        assert!(bytes.len() < 300_000, "{} bytes", bytes.len());
        eprintln!(
            "10,000 endpoints, /stats/requests{query}: {} rows, {} bytes, {:?}",
            rows,
            bytes.len(),
            started.elapsed()
        );
    }
}
