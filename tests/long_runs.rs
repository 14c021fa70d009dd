//! Nothing is lost, however a run ends: a process killed with SIGKILL leaves CSV files that parse
//! (periodic snapshots are complete files, history rows are whole lines); Ctrl-C (SIGINT),
//! SIGTERM, the run time, a shape's stop and a `StopTest` all still write the final snapshot and the
//! `--html` report;
//! and a process that runs out of file descriptors says so once, counts the failures and goes on.

use std::ffi::OsString;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use locusta::wait_time::constant;
use locusta::{task, Locustfile, Stages, TaskError, TaskResult, User, UserClass};
use locusta_demo::{DemoConfig, DemoServer};

const BIN: &str = env!("CARGO_BIN_EXE_locusta");

fn target() -> DemoServer {
    DemoServer::start(([127, 0, 0, 1], 0).into(), DemoConfig::default()).expect("demo target")
}

/// Every row of a CSV file, header included; panics on a malformed file.
fn csv_rows(path: &Path) -> Vec<Vec<String>> {
    let data = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(data.as_bytes())
        .records()
        .map(|r| {
            r.unwrap_or_else(|e| panic!("{}: {e}", path.display()))
                .iter()
                .map(str::to_owned)
                .collect()
        })
        .collect()
}

/// Asserts the four CSV files are complete and consistent; returns the history rows.
fn check_csvs(prefix: &Path) -> Vec<Vec<String>> {
    let file = |suffix: &str| {
        let mut p = prefix.as_os_str().to_owned();
        p.push(suffix);
        std::path::PathBuf::from(p)
    };
    let stats = csv_rows(&file("_stats.csv"));
    assert!(stats.len() >= 2, "{stats:?}");
    assert!(stats.iter().all(|r| r.len() == 22), "{stats:?}");
    assert_eq!(stats.last().map(|r| r[1].as_str()), Some("Aggregated"));
    let history = csv_rows(&file("_stats_history.csv"));
    assert!(history.len() >= 2, "{history:?}");
    assert!(history.iter().all(|r| r.len() == 24), "{history:?}");
    let failures = csv_rows(&file("_failures.csv"));
    assert!(failures.iter().all(|r| r.len() == 6), "{failures:?}");
    let exceptions = csv_rows(&file("_exceptions.csv"));
    assert!(exceptions.iter().all(|r| r.len() == 4), "{exceptions:?}");
    history
}

/// The `--html` report written at the end (`PREFIX.html`): a whole page with the run's rows.
fn check_html(prefix: &Path) {
    let path = prefix.with_extension("html");
    let html = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("no HTML report {}: {e}", path.display()));
    assert!(html.contains("<html"), "{html}");
    assert!(html.trim_end().ends_with("</html>"), "a cut report");
    assert!(html.contains("Aggregated"), "no statistics in the report");
}

fn html_arg(prefix: &Path) -> String {
    prefix
        .with_extension("html")
        .to_str()
        .expect("utf8")
        .to_owned()
}

fn spawn_demo(server: &DemoServer, prefix: &Path, extra: &[&str]) -> std::process::Child {
    Command::new(BIN)
        .args([
            "demo",
            "-H",
            &server.base_url(),
            "-u",
            "4",
            "-r",
            "100",
            "--csv",
            prefix.to_str().expect("utf8"),
            "--csv-full-history",
            "--only-summary",
            "--html",
            &html_arg(prefix),
        ])
        .args(extra)
        .arg("ShopUser")
        .env_remove("LOCUST_HOST")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn locusta")
}

/// Waits (bounded) until the history file has at least `rows` data rows.
fn wait_for_history(prefix: &Path, rows: usize) {
    let mut p = prefix.as_os_str().to_owned();
    p.push("_stats_history.csv");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let n = std::fs::read_to_string(&p)
            .map(|s| s.lines().count().saturating_sub(1))
            .unwrap_or(0);
        if n >= rows {
            return;
        }
        assert!(Instant::now() < deadline, "no history after 60 s");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn signal(child: &std::process::Child, sig: i32) {
    // SAFETY: plain kill(2) on our own child's pid.
    unsafe {
        libc::kill(child.id() as i32, sig);
    }
}

#[test]
fn sigkill_mid_run_leaves_csv_files_that_parse() {
    let server = target();
    let dir = tempfile::tempdir().expect("tempdir");
    let prefix = dir.path().join("killed");
    let child = spawn_demo(&server, &prefix, &["-t", "120s"]);
    wait_for_history(&prefix, 6);
    signal(&child, libc::SIGKILL);
    let out = child.wait_with_output().expect("wait");
    assert_eq!(out.status.code(), None, "killed by a signal");
    let history = check_csvs(&prefix);
    // the run was cut: no final snapshot with 0 users
    assert_ne!(history.last().map(|r| r[1].as_str()), Some("0"));
}

/// Ctrl-C and SIGTERM: graceful stop, final snapshot (0 users) appended to the history.
#[test]
fn sigint_and_sigterm_still_write_the_final_snapshot() {
    let server = target();
    for (sig, said) in [
        (libc::SIGINT, "Got Ctrl-C, shutting down"),
        (libc::SIGTERM, "Got SIGTERM signal"),
    ] {
        let dir = tempfile::tempdir().expect("tempdir");
        let prefix = dir.path().join("stopped");
        let child = spawn_demo(&server, &prefix, &["-t", "120s"]);
        wait_for_history(&prefix, 2);
        signal(&child, sig);
        let out = child.wait_with_output().expect("wait");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{stderr}");
        assert!(stderr.contains(said), "{stderr}");
        let history = check_csvs(&prefix);
        assert_eq!(
            history.last().map(|r| r[1].as_str()),
            Some("0"),
            "{history:?}"
        );
        check_html(&prefix);
    }
}

#[test]
fn run_time_end_writes_the_final_snapshot() {
    let server = target();
    let dir = tempfile::tempdir().expect("tempdir");
    let prefix = dir.path().join("timed");
    let out = spawn_demo(&server, &prefix, &["-t", "2s"])
        .wait_with_output()
        .expect("wait");
    assert_eq!(out.status.code(), Some(0));
    let history = check_csvs(&prefix);
    assert_eq!(history.last().map(|r| r[1].as_str()), Some("0"));
    check_html(&prefix);
}

async fn stop_after_a_few(user: &mut User) -> TaskResult {
    user.client.get("/hello").send().await;
    let n = match user.state::<u32>() {
        Some(n) => {
            *n += 1;
            *n
        }
        None => {
            user.set_state(1u32);
            1
        }
    };
    if n >= 3 {
        return Err(TaskError::StopTest);
    }
    Ok(())
}

async fn hello(user: &mut User) -> TaskResult {
    user.client.get("/hello").send().await;
    Ok(())
}

fn run_in_process(locustfile: Locustfile, prefix: &Path, base: &str, extra: &[&str]) -> i32 {
    let mut args: Vec<OsString> = [
        "locusta",
        "--headless",
        "-H",
        base,
        "--only-summary",
        "--csv",
        prefix.to_str().expect("utf8"),
        "-L",
        "WARNING",
        "--html",
        &html_arg(prefix),
    ]
    .iter()
    .map(OsString::from)
    .collect();
    args.extend(extra.iter().map(OsString::from));
    locusta::run_locustfile(locustfile, args)
}

#[test]
fn stop_test_and_shape_stop_write_the_final_snapshot() {
    let server = target();
    let dir = tempfile::tempdir().expect("tempdir");

    let prefix = dir.path().join("stoptest");
    let started = Instant::now();
    let code = run_in_process(
        Locustfile {
            classes: vec![UserClass::new("Stopper")
                .wait_time(constant(0.2))
                .task(task!(stop_after_a_few))],
            shape: None,
            ..Default::default()
        },
        &prefix,
        &server.base_url(),
        &["-u", "1", "-r", "10", "-t", "60s"],
    );
    assert_eq!(code, 0);
    assert!(started.elapsed() < Duration::from_secs(30));
    let history = check_csvs(&prefix);
    assert_eq!(history.last().map(|r| r[1].as_str()), Some("0"));
    check_html(&prefix);

    let prefix = dir.path().join("shape");
    let code = run_in_process(
        Locustfile {
            classes: vec![UserClass::new("Steady")
                .wait_time(constant(0.1))
                .task(task!(hello))],
            shape: Some(Box::new(Stages::new([(Duration::from_secs(2), 2, 50.0)]))),
            ..Default::default()
        },
        &prefix,
        &server.base_url(),
        &[],
    );
    assert_eq!(code, 0);
    let history = check_csvs(&prefix);
    assert_eq!(history.last().map(|r| r[1].as_str()), Some("0"));
    check_html(&prefix);
}

/// 80 users, each holding a keep-alive connection, under a 48-descriptor limit the process
/// cannot raise: connecting fails for some users. locusta says so once, counts each failure as
/// `OSError(24, 'Too many open files')`, keeps running to its run time and writes its outputs.
#[test]
fn running_out_of_file_descriptors_is_said_once_and_counted() {
    let server = target();
    let dir = tempfile::tempdir().expect("tempdir");
    let prefix = dir.path().join("fds");
    let out = Command::new("sh")
        .arg("-c")
        .arg("ulimit -n 48 && exec \"$0\" \"$@\"")
        .arg(BIN)
        .args([
            "demo",
            "-H",
            &server.base_url(),
            "-u",
            "80",
            "-r",
            "1000",
            "-t",
            "4s",
            // one engine thread: the descriptors the runtimes need do not depend on the CPUs
            "--threads",
            "1",
            "--csv",
            prefix.to_str().expect("utf8"),
            "--only-summary",
            "WebsiteUser",
        ])
        .env_remove("LOCUST_HOST")
        .stdin(Stdio::null())
        .output()
        .expect("run locusta under a low descriptor limit");
    let stderr = String::from_utf8_lossy(&out.stderr);
    // failures set the exit code to 1; a crash would not
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert_eq!(
        stderr.matches("out of file descriptors").count(),
        1,
        "{stderr}"
    );
    let failures = csv_rows(&dir.path().join("fds_failures.csv"));
    let emfile: u64 = failures
        .iter()
        .filter(|r| r[2] == "OSError(24, 'Too many open files')")
        .map(|r| r[3].parse::<u64>().expect("occurrences"))
        .sum();
    assert!(emfile > 0, "{failures:?}");
    check_csvs(&prefix);
}
