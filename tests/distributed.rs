//! End-to-end tests of master/worker mode with real processes on loopback: a locusta master
//! with locusta workers, a worker killed with SIGKILL mid-test, a worker joining mid-test, and
//! a worker whose master disappears. (Mixed runs with the real Locust are in
//! `tests/python/test_distributed.py`.)

use std::io::Read;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use locusta_demo::{DemoConfig, DemoServer};

const BIN: &str = env!("CARGO_BIN_EXE_locusta");

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

fn spawn(args: &[&str], cwd: &Path, env: &[(&str, &str)]) -> Child {
    let mut cmd = Command::new(BIN);
    cmd.args(args)
        .current_dir(cwd)
        .env_remove("LOCUST_HOST")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.spawn().expect("start locusta")
}

/// Waits for the process to end (killing it after `limit`) and returns (code, stderr).
fn finish(mut child: Child, limit: Duration) -> (Option<i32>, String) {
    let deadline = Instant::now() + limit;
    let mut err_pipe = child.stderr.take().expect("stderr");
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err_pipe.read_to_string(&mut s);
        s
    });
    let mut out_pipe = child.stdout.take().expect("stdout");
    std::thread::spawn(move || {
        let mut s = String::new();
        let _ = out_pipe.read_to_string(&mut s);
    });
    let code = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status.code(),
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(100)),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
        }
    };
    (code, reader.join().unwrap_or_default())
}

fn master(port: u16, host: &str, workers: &str, run_time: &str, dir: &Path) -> Child {
    let port = port.to_string();
    spawn(
        &[
            "demo",
            "--master",
            "--headless",
            "--master-bind-host",
            "127.0.0.1",
            "--master-bind-port",
            &port,
            "--expect-workers",
            workers,
            "--expect-workers-max-wait",
            "60",
            "-u",
            "6",
            "-r",
            "6",
            "-t",
            run_time,
            "-H",
            host,
            "--csv",
            "m",
            "--only-summary",
        ],
        dir,
        &[],
    )
}

fn worker(port: u16, host: &str, dir: &Path, env: &[(&str, &str)]) -> Child {
    let port = port.to_string();
    spawn(
        &["demo", "--worker", "--master-port", &port, "-H", host],
        dir,
        env,
    )
}

fn aggregated_requests(dir: &Path) -> u64 {
    let data = std::fs::read_to_string(dir.join("m_stats.csv")).expect("master CSV");
    let row = data
        .lines()
        .find(|l| l.starts_with(",Aggregated,"))
        .expect("Aggregated row");
    row.split(',')
        .nth(2)
        .and_then(|n| n.parse().ok())
        .expect("count")
}

fn reported(log: &str) -> u64 {
    log.lines()
        .find_map(|l| {
            let i = l.find(" reported ")?;
            l[i + 10..].split(' ').next()?.parse().ok()
        })
        .unwrap_or_else(|| panic!("no 'reported N requests' line in worker log:\n{log}"))
}

#[test]
fn master_total_equals_the_sum_of_two_workers() {
    let server =
        DemoServer::start(([127, 0, 0, 1], 0).into(), DemoConfig::default()).expect("target");
    let dir = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let host = server.base_url();
    let m = master(port, &host, "2", "5s", dir.path());
    let w1 = worker(port, &host, dir.path(), &[]);
    let w2 = worker(port, &host, dir.path(), &[]);
    let (mc, mlog) = finish(m, Duration::from_secs(90));
    let (c1, log1) = finish(w1, Duration::from_secs(30));
    let (c2, log2) = finish(w2, Duration::from_secs(30));
    assert_eq!(mc, Some(0), "master log:\n{mlog}");
    assert_eq!(c1, Some(0), "worker 1 log:\n{log1}");
    assert_eq!(c2, Some(0), "worker 2 log:\n{log2}");
    assert!(mlog.contains("2 workers connected"), "{mlog}");
    assert!(
        mlog.contains("All users spawned: {\"ShopUser\": 4, \"WebsiteUser\": 2} (6 total users)"),
        "{mlog}"
    );
    let total = aggregated_requests(dir.path());
    assert!(total > 0, "no requests at all:\n{mlog}");
    assert_eq!(total, reported(&log1) + reported(&log2), "master:\n{mlog}");
    server.shutdown();
}

#[test]
fn killed_worker_goes_missing_and_a_late_worker_joins() {
    let server =
        DemoServer::start(([127, 0, 0, 1], 0).into(), DemoConfig::default()).expect("target");
    let dir = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let host = server.base_url();
    let m = master(port, &host, "2", "16s", dir.path());
    let w1 = worker(port, &host, dir.path(), &[]);
    let mut w2 = worker(port, &host, dir.path(), &[]);
    std::thread::sleep(Duration::from_secs(5));
    // A third worker joins mid-test and gets users.
    let w3 = worker(port, &host, dir.path(), &[]);
    std::thread::sleep(Duration::from_secs(3));
    let _ = w2.kill(); // SIGKILL
    let _ = w2.wait();
    let (mc, mlog) = finish(m, Duration::from_secs(90));
    let (c1, _) = finish(w1, Duration::from_secs(30));
    let (c3, log3) = finish(w3, Duration::from_secs(30));
    assert_eq!(mc, Some(0), "master log:\n{mlog}");
    assert_eq!((c1, c3), (Some(0), Some(0)));
    assert!(mlog.contains("3 workers connected"), "{mlog}");
    assert!(
        mlog.contains("failed to send heartbeat, setting state to missing"),
        "{mlog}"
    );
    assert!(reported(&log3) > 0, "the late worker ran no users:\n{log3}");
    assert!(aggregated_requests(dir.path()) > 0);
    server.shutdown();
}

#[test]
fn worker_exits_when_its_master_disappears() {
    let server =
        DemoServer::start(([127, 0, 0, 1], 0).into(), DemoConfig::default()).expect("target");
    let dir = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let host = server.base_url();
    let mut m = master(port, &host, "1", "60s", dir.path());
    let w = worker(
        port,
        &host,
        dir.path(),
        &[("LOCUSTA_MASTER_HEARTBEAT_TIMEOUT", "4")],
    );
    std::thread::sleep(Duration::from_secs(4));
    let _ = m.kill();
    let _ = m.wait();
    let killed = Instant::now();
    let (code, log) = finish(w, Duration::from_secs(60));
    assert_eq!(code, Some(1), "{log}");
    assert!(killed.elapsed() < Duration::from_secs(30), "{log}");
    assert!(
        log.contains("Didn't get heartbeat from master in over 4s"),
        "{log}"
    );
    server.shutdown();
}

#[test]
fn master_survives_malformed_and_oversized_messages() {
    use locusta_dist::protocol::Message;
    use locusta_dist::transport::Dealer;
    use std::io::Write;

    let server =
        DemoServer::start(([127, 0, 0, 1], 0).into(), DemoConfig::default()).expect("target");
    let dir = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let host = server.base_url();
    let m = master(port, &host, "1", "3s", dir.path());
    std::thread::sleep(Duration::from_millis(800));

    // A forged ZMTP frame header claiming a terabyte, and plain garbage.
    let mut greeting = vec![0xff, 0, 0, 0, 0, 0, 0, 0, 0, 0x7f, 3, 0];
    greeting.extend_from_slice(b"NULL");
    greeting.resize(64, 0);
    for tail in [
        {
            let mut t = vec![0x02];
            t.extend_from_slice(&(1u64 << 40).to_be_bytes());
            t
        },
        b"GET / HTTP/1.1\r\n\r\n".repeat(10),
    ] {
        if let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) {
            let _ = s.write_all(&greeting);
            let _ = s.write_all(&tail);
            std::thread::sleep(Duration::from_millis(300));
        }
    }
    // Malformed messages over a real ZeroMQ connection.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let mut d = Dealer::connect("127.0.0.1", port, "fuzz_1", Duration::from_secs(5))
            .await
            .expect("connect");
        for frame in [
            vec![],
            vec![0xc1],
            vec![0x93, 0x01, 0xc0, 0xa1, b'x'],
            vec![0xdd, 0xff, 0xff, 0xff, 0xff],
        ] {
            let _ = d.send_raw(frame).await;
        }
        let bad_stats = Message::new(
            "stats",
            locusta_dist::rmpv::Value::Map(vec![("stats".into(), 5.into())]),
            "fuzz_1",
        );
        let _ = d.send(&bad_stats).await;
        let _ = d
            .send(&Message::new(
                "no_such_type",
                locusta_dist::rmpv::Value::Nil,
                "fuzz_1",
            ))
            .await;
        tokio::time::sleep(Duration::from_millis(300)).await;
    });
    let w = worker(port, &host, dir.path(), &[]);
    let (mc, mlog) = finish(m, Duration::from_secs(60));
    let _ = finish(w, Duration::from_secs(30));
    assert_eq!(mc, Some(0), "{mlog}");
    assert!(mlog.contains("would exceed the"), "{mlog}");
    assert!(mlog.contains("invalid ZMTP frame flags"), "{mlog}");
    assert!(mlog.contains("dropping a malformed message"), "{mlog}");
    assert!(
        mlog.contains("dropping a stats report from fuzz_1"),
        "{mlog}"
    );
    assert!(
        mlog.contains("Unknown message type received from fuzz_1"),
        "{mlog}"
    );
    assert!(aggregated_requests(dir.path()) > 0);
    server.shutdown();
}

#[test]
fn processes_runs_a_local_master_and_fresh_worker_processes() {
    let server =
        DemoServer::start(([127, 0, 0, 1], 0).into(), DemoConfig::default()).expect("target");
    let dir = tempfile::tempdir().expect("tempdir");
    let host = server.base_url();
    let p = spawn(
        &[
            "demo",
            "--processes",
            "2",
            "--headless",
            "-u",
            "4",
            "-r",
            "4",
            "-t",
            "3s",
            "--master-bind-port",
            "0",
            "-H",
            &host,
            "--csv",
            "m",
            "--only-summary",
        ],
        dir.path(),
        &[],
    );
    let (code, log) = finish(p, Duration::from_secs(90));
    assert_eq!(code, Some(0), "{log}");
    assert!(log.contains("2 workers connected"), "{log}");
    let workers: Vec<u64> = log
        .lines()
        .filter_map(|l| {
            let i = l.find(" reported ")?;
            l[i + 10..].split(' ').next()?.parse().ok()
        })
        .collect();
    assert_eq!(workers.len(), 2, "{log}");
    let total = aggregated_requests(dir.path());
    assert!(total > 0);
    assert_eq!(total, workers.iter().sum::<u64>(), "{log}");
    server.shutdown();
}

/// Two network namespaces joined by a veth pair, removed on drop.
struct Netns {
    names: [String; 2],
}

impl Netns {
    fn ip(args: &[&str]) -> bool {
        Command::new("ip")
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .map(|s| s.success())
            .unwrap_or(false)
    }

    /// `Err(reason)` when this machine cannot create namespaces (not root, no `ip`).
    fn create(subnet: u8) -> Result<Netns, String> {
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            return Err("not running as root".into());
        }
        let id = std::process::id();
        let names = [format!("lta-m{id}"), format!("lta-w{id}")];
        let ns = Netns { names };
        let (m, w) = (ns.names[0].as_str(), ns.names[1].as_str());
        let (vm, vw) = (format!("vm{id}"), format!("vw{id}"));
        let am = format!("10.213.{subnet}.1/24");
        let aw = format!("10.213.{subnet}.2/24");
        let ok = Netns::ip(&["netns", "add", m])
            && Netns::ip(&["netns", "add", w])
            && Netns::ip(&["link", "add", &vm, "type", "veth", "peer", "name", &vw])
            && Netns::ip(&["link", "set", &vm, "netns", m])
            && Netns::ip(&["link", "set", &vw, "netns", w])
            && Netns::ip(&["-n", m, "addr", "add", &am, "dev", &vm])
            && Netns::ip(&["-n", w, "addr", "add", &aw, "dev", &vw])
            && Netns::ip(&["-n", m, "link", "set", &vm, "up"])
            && Netns::ip(&["-n", w, "link", "set", &vw, "up"])
            && Netns::ip(&["-n", m, "link", "set", "lo", "up"])
            && Netns::ip(&["-n", w, "link", "set", "lo", "up"]);
        if ok {
            Ok(ns)
        } else {
            Err("`ip netns` / veth setup failed (no `ip` tool or no permission)".into())
        }
    }

    fn exec(&self, which: usize, args: &[&str], cwd: &Path) -> Child {
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &self.names[which], BIN])
            .args(args)
            .current_dir(cwd)
            .env_remove("LOCUST_HOST")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        cmd.spawn().expect("ip netns exec")
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        for n in &self.names {
            Netns::ip(&["netns", "del", n]);
        }
    }
}

#[test]
fn master_and_worker_in_separate_network_namespaces() {
    let subnet = (std::process::id() % 200) as u8 + 20;
    let ns = match Netns::create(subnet) {
        Ok(ns) => ns,
        Err(why) => {
            eprintln!("SKIPPED master_and_worker_in_separate_network_namespaces: {why}");
            return;
        }
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let master_ip = format!("10.213.{subnet}.1");
    // The target runs on the worker host's own loopback: all traffic stays in the namespaces.
    let target = ns.exec(1, &["demo-target", "--port", "18089"], dir.path());
    let m = ns.exec(
        0,
        &[
            "demo",
            "--master",
            "--headless",
            "--master-bind-host",
            &master_ip,
            "--master-bind-port",
            "5557",
            "--expect-workers",
            "1",
            "--expect-workers-max-wait",
            "60",
            "-u",
            "4",
            "-r",
            "4",
            "-t",
            "4s",
            "-H",
            "http://127.0.0.1:18089",
            "--csv",
            "m",
            "--only-summary",
        ],
        dir.path(),
    );
    std::thread::sleep(Duration::from_millis(500));
    let w = ns.exec(
        1,
        &[
            "demo",
            "--worker",
            "--master-host",
            &master_ip,
            "--master-port",
            "5557",
        ],
        dir.path(),
    );
    let (mc, mlog) = finish(m, Duration::from_secs(90));
    let (wc, wlog) = finish(w, Duration::from_secs(30));
    let mut target = target;
    let _ = target.kill();
    let _ = target.wait();
    assert_eq!(mc, Some(0), "{mlog}");
    assert_eq!(wc, Some(0), "{wlog}");
    let total = aggregated_requests(dir.path());
    assert!(total > 0, "{mlog}");
    assert_eq!(total, reported(&wlog), "{mlog}\n{wlog}");
    drop(ns);
}

#[test]
fn master_stops_when_its_last_worker_goes_missing() {
    let server =
        DemoServer::start(([127, 0, 0, 1], 0).into(), DemoConfig::default()).expect("target");
    let dir = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let host = server.base_url();
    let m = master(port, &host, "1", "120s", dir.path());
    let mut w = worker(port, &host, dir.path(), &[]);
    // Two reports (every 3 s) reach the master before the kill, even on a slow machine.
    std::thread::sleep(Duration::from_secs(8));
    let _ = w.kill(); // SIGKILL
    let _ = w.wait();
    let killed = Instant::now();
    let (mc, mlog) = finish(m, Duration::from_secs(90));
    assert_eq!(mc, Some(0), "{mlog}");
    assert!(killed.elapsed() < Duration::from_secs(60), "{mlog}");
    assert!(
        mlog.contains("The last worker went missing, stopping test."),
        "{mlog}"
    );
    // Its statistics up to its last report are kept.
    assert!(aggregated_requests(dir.path()) > 0, "{mlog}");
    server.shutdown();
}

/// Polls the master's `/stats/requests` until `pred` holds (60 s at most).
fn poll_stats(
    c: &reqwest::blocking::Client,
    base: &str,
    what: &str,
    pred: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let got = c
            .get(format!("{base}/stats/requests"))
            .send()
            .and_then(|r| r.json::<serde_json::Value>());
        if let Ok(s) = &got {
            if pred(s) {
                return s.clone();
            }
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}: {got:?}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn total_requests(s: &serde_json::Value) -> u64 {
    s["stats"]
        .as_array()
        .and_then(|rows| rows.iter().find(|r| r["name"] == "Aggregated"))
        .and_then(|r| r["num_requests"].as_u64())
        .unwrap_or(0)
}

#[test]
fn master_with_web_ui_drives_two_workers() {
    let server =
        DemoServer::start(([127, 0, 0, 1], 0).into(), DemoConfig::default()).expect("target");
    let dir = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let web_port = free_port();
    let host = server.base_url();
    let (p, wp) = (port.to_string(), web_port.to_string());
    let m = spawn(
        &[
            "demo",
            "--headful",
            "--master",
            "--master-bind-host",
            "127.0.0.1",
            "--master-bind-port",
            &p,
            "--web-host",
            "127.0.0.1",
            "--web-port",
            &wp,
            "-H",
            &host,
            "--csv",
            "m",
        ],
        dir.path(),
        &[],
    );
    let w1 = worker(port, &host, dir.path(), &[]);
    let w2 = worker(port, &host, dir.path(), &[]);
    let c = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client");
    let base = format!("http://127.0.0.1:{web_port}");
    let s = poll_stats(&c, &base, "2 workers", |s| s["worker_count"] == 2);
    assert_eq!(s["state"], "ready", "{s}");
    assert_eq!(s["workers"].as_array().map(Vec::len), Some(2), "{s}");

    let swarm = |users: &str| {
        let r = c
            .post(format!("{base}/swarm"))
            .form(&[("user_count", users), ("spawn_rate", "10"), ("host", &host)])
            .send()
            .expect("swarm");
        assert!(r.status().is_success(), "{:?}", r.text());
        let body: serde_json::Value = r.json().expect("swarm json");
        assert_eq!(body["success"], true, "{body}");
    };
    swarm("4");
    let s = poll_stats(
        &c,
        &base,
        "4 users running on 2 workers with requests",
        |s| {
            s["state"] == "running"
                && s["user_count"] == 4
                && total_requests(s) > 0
                && s["workers"].as_array().is_some_and(|w| {
                    w.len() == 2
                        && w.iter()
                            .all(|w| w["state"] == "running" && w["user_count"] == 2)
                })
        },
    );
    assert_eq!(s["worker_count"], 2, "{s}");

    // Stop: the workers stop their users and report ready again.
    let r = c.post(format!("{base}/stop")).send().expect("stop");
    assert!(r.status().is_success());
    poll_stats(&c, &base, "stopped with 2 idle workers", |s| {
        s["state"] == "stopped"
            && s["worker_count"] == 2
            && s["workers"].as_array().is_some_and(|w| {
                w.iter()
                    .all(|w| w["state"] == "ready" && w["user_count"] == 0)
            })
    });
    // Reports are sent every 3 s: after 4 s none from before the stop is in flight.
    std::thread::sleep(Duration::from_secs(4));
    let r = c.post(format!("{base}/stats/reset")).send().expect("reset");
    assert!(r.status().is_success());
    let s = poll_stats(&c, &base, "reset stats", |s| total_requests(s) == 0);
    assert_eq!(s["user_count"], 0, "{s}");

    // A second test on the same workers.
    swarm("2");
    poll_stats(&c, &base, "a second test", |s| {
        s["user_count"] == 2 && total_requests(s) > 0
    });

    // SAFETY: plain kill(2) on our own child.
    unsafe {
        libc::kill(m.id() as libc::pid_t, libc::SIGINT);
    }
    let (mc, mlog) = finish(m, Duration::from_secs(60));
    let (c1, log1) = finish(w1, Duration::from_secs(30));
    let (c2, log2) = finish(w2, Duration::from_secs(30));
    assert_eq!(mc, Some(0), "master log:\n{mlog}");
    assert_eq!(c1, Some(0), "worker 1 log:\n{log1}");
    assert_eq!(c2, Some(0), "worker 2 log:\n{log2}");
    assert!(mlog.contains("Starting web interface at "), "{mlog}");
    // The final CSV has the second test's requests: exactly what the workers reported after
    // the reset is what the master counted.
    let total = aggregated_requests(dir.path());
    assert!(total > 0, "{mlog}");
    server.shutdown();
}
