//! The `locusta` binary with its web UI (no `--headless`): a real process, the real demo
//! target, driven through Locust's web API as a script (or the page) would drive it.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use reqwest::blocking::Client;
use reqwest::StatusCode;
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_locusta");

struct Ui {
    child: Child,
    base: String,
    lines: mpsc::Receiver<String>,
    log: Vec<String>,
}

impl Ui {
    /// Starts `locusta demo ARGS --web-port 0` and waits for the UI's address.
    fn start(args: &[&str]) -> Ui {
        let mut child = Command::new(BIN)
            .arg("demo")
            .args(args)
            .args(["--web-port", "0"])
            .env_remove("LOCUST_HOST")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn locusta");
        let stderr = child.stderr.take().expect("stderr");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut ui = Ui {
            child,
            base: String::new(),
            lines: rx,
            log: Vec::new(),
        };
        let line = ui.wait_for_line("Starting web interface at ", Duration::from_secs(60));
        let url = line
            .split("Starting web interface at ")
            .nth(1)
            .expect("url")
            .trim()
            .trim_end_matches('/')
            .to_owned();
        ui.base = url;
        ui
    }

    fn wait_for_line(&mut self, needle: &str, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        if let Some(l) = self.log.iter().find(|l| l.contains(needle)) {
            return l.clone();
        }
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(l) => {
                    self.log.push(l.clone());
                    if l.contains(needle) {
                        return l;
                    }
                }
                Err(_) => panic!("no line with {needle:?}; got:\n{}", self.log.join("\n")),
            }
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn stats(&self, c: &Client) -> Value {
        c.get(self.url("/stats/requests"))
            .send()
            .expect("stats")
            .json()
            .expect("json")
    }

    /// Polls `/stats/requests` until `pred` holds.
    fn wait_until(&self, c: &Client, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let s = self.stats(c);
            if pred(&s) {
                return s;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}: {s}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Ctrl-C, then the exit code.
    fn interrupt(mut self) -> i32 {
        // SAFETY: plain kill(2) on our own child.
        unsafe {
            libc::kill(self.child.id() as libc::pid_t, libc::SIGINT);
        }
        self.wait(Duration::from_secs(30))
    }

    fn wait(&mut self, timeout: Duration) -> i32 {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                while let Ok(l) = self.lines.try_recv() {
                    self.log.push(l);
                }
                return status.code().unwrap_or(-1);
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("locusta did not exit; log:\n{}", self.log.join("\n"));
            }
            while let Ok(l) = self.lines.try_recv() {
                self.log.push(l);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Ui {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn client() -> Client {
    Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .expect("client")
}

fn users(s: &Value) -> u64 {
    s["user_count"].as_u64().unwrap_or(u64::MAX)
}

#[test]
fn the_ui_starts_steers_stops_and_resets_a_test() {
    let mut ui = Ui::start(&["--headful"]);
    assert!(ui.base.starts_with("http://127.0.0.1:"), "{}", ui.base);
    let c = client();
    let s = ui.stats(&c);
    assert_eq!(s["state"], "ready");
    assert_eq!(users(&s), 0);

    let r = c
        .post(ui.url("/swarm"))
        .form(&[("user_count", "4"), ("spawn_rate", "100")])
        .send()
        .expect("swarm");
    assert_eq!(r.status(), StatusCode::OK);
    let body: Value = r.json().expect("json");
    assert_eq!(body["success"], true);
    assert!(body["host"]
        .as_str()
        .is_some_and(|h| h.starts_with("http://127.0.0.1:")));
    ui.wait_until(&c, "4 running users", |s| {
        users(s) == 4 && s["state"] == "running"
    });
    let s = ui.wait_until(&c, "requests", |s| {
        s["stats"].as_array().is_some_and(|rows| {
            rows.last()
                .is_some_and(|t| t["num_requests"].as_u64() > Some(0))
        })
    });
    assert_eq!(
        s["stats"]
            .as_array()
            .and_then(|r| r.last())
            .map(|t| &t["name"]),
        Some(&Value::from("Aggregated"))
    );
    let tasks: Value = c
        .get(ui.url("/tasks"))
        .send()
        .expect("tasks")
        .json()
        .expect("json");
    let per_class = tasks["per_class"].as_object().expect("per_class");
    assert!(per_class.contains_key("ShopUser") && per_class.contains_key("WebsiteUser"));
    let spawned: f64 = per_class
        .values()
        .map(|v| v["ratio"].as_f64().unwrap_or(0.0))
        .sum();
    assert!((spawned - 1.0).abs() < 1e-9, "{tasks}");

    // Edit: fewer users mid-run.
    let r = c
        .post(ui.url("/swarm"))
        .form(&[("user_count", "2"), ("spawn_rate", "100")])
        .send()
        .expect("edit");
    assert_eq!(r.status(), StatusCode::OK);
    ui.wait_until(&c, "2 users", |s| users(s) == 2 && s["state"] == "running");

    let r = c.post(ui.url("/stop")).send().expect("stop");
    assert_eq!(r.status(), StatusCode::OK);
    ui.wait_until(&c, "stopped", |s| s["state"] == "stopped" && users(s) == 0);

    let text = c
        .post(ui.url("/stats/reset"))
        .send()
        .expect("reset")
        .text()
        .expect("text");
    assert_eq!(text, "ok");
    let s = ui.stats(&c);
    let rows = s["stats"].as_array().expect("rows");
    assert!(rows.iter().all(|r| r["num_requests"] == 0), "{s}");

    let csv = c
        .get(ui.url("/stats/requests/csv"))
        .send()
        .expect("csv")
        .text()
        .expect("text");
    assert!(
        csv.starts_with("Type,Name,Request Count,Failure Count,"),
        "{csv}"
    );
    let logs: Value = c
        .get(ui.url("/logs"))
        .send()
        .expect("logs")
        .json()
        .expect("json");
    let lines = logs["master"].as_array().expect("lines");
    assert!(
        lines
            .iter()
            .any(|l| l.as_str().is_some_and(|l| l.contains("Ramping to 4 users"))),
        "{logs}"
    );

    // A new test from the stopped state starts from fresh statistics.
    c.post(ui.url("/swarm"))
        .form(&[
            ("user_count", "1"),
            ("spawn_rate", "10"),
            ("run_time", "2s"),
        ])
        .send()
        .expect("swarm again");
    ui.wait_until(&c, "second run", |s| users(s) == 1);
    ui.wait_until(&c, "run time from the form", |s| s["state"] == "stopped");
    ui.wait_for_line(
        "--run-time limit reached, stopping test",
        Duration::from_secs(10),
    );

    let code = ui.interrupt();
    assert_eq!(code, 0);
}

#[test]
fn autostart_runs_at_once_and_autoquit_exits() {
    let mut ui = Ui::start(&[
        "--autostart",
        "-u",
        "2",
        "-r",
        "20",
        "-t",
        "2s",
        "--autoquit",
        "1",
    ]);
    let code = ui.wait(Duration::from_secs(60));
    assert_eq!(code, 0, "{}", ui.log.join("\n"));
    let log = ui.log.join("\n");
    assert!(log.contains("Ramping to 2 users"), "{log}");
    assert!(
        log.contains("--run-time limit reached, stopping test"),
        "{log}"
    );
    assert!(
        log.contains("--autoquit time reached, shutting down"),
        "{log}"
    );
    // The final summary is printed as in a headless run.
    assert!(log.contains("Aggregated"), "{log}");
}

#[test]
fn web_options_are_checked_up_front() {
    let out = Command::new(BIN)
        .args(["demo", "--headful", "--autoquit", "3"])
        .stdin(Stdio::null())
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr)
        .contains("--autoquit only has an effect together with --autostart"));

    let out = Command::new(BIN)
        .args([
            "demo",
            "--headful",
            "--web-port",
            "0",
            "--tls-cert",
            "/nonexistent.pem",
        ])
        .stdin(Stdio::null())
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr)
        .contains("--tls-cert and --tls-key must be given together"));

    let out = Command::new(BIN)
        .args([
            "demo",
            "--headful",
            "--web-port",
            "0",
            "--web-auth",
            "nocolon",
        ])
        .stdin(Stdio::null())
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr)
        .contains("--web-auth must be in the form user:password"));
}

#[test]
fn listening_beyond_loopback_without_auth_warns() {
    let mut ui = Ui::start(&["--headful", "--web-host", "0.0.0.0"]);
    ui.wait_for_line("without authentication", Duration::from_secs(10));
    assert_eq!(ui.interrupt(), 0);
    let ui = Ui::start(&["--headful", "--web-host", "0.0.0.0", "--web-auth", "u:p"]);
    assert!(
        !ui.log.iter().any(|l| l.contains("without authentication")),
        "{:?}",
        ui.log
    );
    let c = client();
    let port = ui.base.rsplit(':').next().expect("port").to_owned();
    let r = c
        .get(format!("http://127.0.0.1:{port}/worker-count"))
        .send()
        .expect("get");
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(ui.interrupt(), 0);
}

#[test]
fn report_and_metrics_are_served_during_a_test() {
    let mut ui = Ui::start(&["--autostart", "-u", "2", "-r", "20", "-t", "30s"]);
    let c = client();
    ui.wait_until(&c, "requests", |s| {
        s["total_rps"].as_f64().unwrap_or(0.0) > 0.0
            || s["stats"].as_array().is_some_and(|a| a.len() > 1)
    });
    let report = c.get(ui.url("/stats/report")).send().expect("report");
    assert_eq!(report.status(), StatusCode::OK);
    assert!(report.headers().get("content-disposition").is_none());
    let html = report.text().expect("html");
    assert!(html.contains("<h2>Request Statistics</h2>"), "{html}");
    assert!(html.contains("<h2>Diagnosis</h2>"), "{html}");
    // The ratio of the users running now (before, only a finished run had it).
    let ratio = html
        .find("<section id=\"ratio\"><h2>Final ratio</h2>")
        .map(|i| &html[i..])
        .unwrap_or_else(|| panic!("no final ratio in {html}"));
    assert!(
        ratio.contains("% ShopUser") || ratio.contains("% WebsiteUser"),
        "{ratio}"
    );
    assert!(html.contains("<b>Script:</b> locusta-demo<"), "{html}");
    let download = c
        .get(ui.url("/stats/report?download=1"))
        .send()
        .expect("report download");
    let disposition = download
        .headers()
        .get("content-disposition")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(
        disposition.starts_with("attachment;filename=Locust_")
            && disposition.contains("_locusta-demo_")
            && disposition.ends_with(".html"),
        "{disposition}"
    );
    let metrics = c
        .get(ui.url("/metrics"))
        .send()
        .expect("metrics")
        .text()
        .expect("text");
    assert!(metrics.contains("locusta_requests_total"), "{metrics}");
    assert!(metrics.contains("locusta_users"), "{metrics}");
    ui.log.clear();
    assert_eq!(ui.interrupt(), 0);
}
