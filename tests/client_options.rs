//! A Rust user class with its own HTTP client settings (`UserClass::client_options`, the
//! counterpart of FastHttpUser's class attributes) in a real headless run against the demo
//! target: `max_redirects: Some(0)` records the redirect itself, a short `timeout` fails a
//! stalled request within it, and the statistics show both.

use std::ffi::OsString;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use locusta::wait_time::constant;
use locusta::{Locustfile, SessionOptions, Task, TaskError, User, UserClass};
use locusta_demo::faults::StallServer;
use locusta_demo::{DemoConfig, DemoServer};

/// A user that requests `url` once, then ends the run when it is the last one done.
fn once(
    name: &'static str,
    url: String,
    done: Arc<AtomicUsize>,
    options: SessionOptions,
) -> UserClass {
    let task = Task::new(name, move |user: &mut User| {
        let url = url.clone();
        let done = Arc::clone(&done);
        Box::pin(async move {
            let status = user.client.get(&url).name(name).send().await.status();
            println!("CHECK {name} status={status}");
            if done.fetch_add(1, Ordering::SeqCst) + 1 == 2 {
                Err(TaskError::StopTest)
            } else {
                Err(TaskError::StopUser)
            }
        })
    });
    UserClass::new(name)
        .fixed_count(1)
        .wait_time(constant(0.0))
        .client_options(options)
        .task(task)
}

#[test]
fn a_classes_client_options_apply_to_its_users() {
    let server =
        DemoServer::start(([127, 0, 0, 1], 0).into(), DemoConfig::default()).expect("target");
    let stall = StallServer::start(Duration::from_secs(30)).expect("stall server");
    let base = server.base_url();
    let done = Arc::new(AtomicUsize::new(0));
    let classes = vec![
        once(
            "no-redirects",
            format!("{base}/_fault/redirect-loop"),
            Arc::clone(&done),
            SessionOptions {
                max_redirects: Some(0),
                ..Default::default()
            },
        ),
        once(
            "short-timeout",
            format!("https://{}/", stall.addr()),
            Arc::clone(&done),
            SessionOptions {
                connect_timeout: Some(Duration::from_millis(300)),
                ..Default::default()
            },
        ),
    ];
    let dir = tempfile::tempdir().expect("tempdir");
    let prefix = dir.path().join("opts");
    let args: Vec<OsString> = [
        "locusta",
        "--headless",
        "-H",
        &base,
        "-u",
        "2",
        "-r",
        "100",
        "-t",
        "60s",
        "--only-summary",
        "--csv",
        prefix.to_str().expect("utf8"),
        "-L",
        "ERROR",
    ]
    .iter()
    .map(OsString::from)
    .collect();
    let started = std::time::Instant::now();
    let code = locusta::run_locustfile(
        Locustfile {
            classes,
            ..Default::default()
        },
        args,
    );
    assert_eq!(code, 1, "the timed-out request fails the run");
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "the stall was cut short"
    );
    let stats = std::fs::read_to_string(dir.path().join("opts_stats.csv")).expect("stats csv");
    let row = |name: &str| {
        stats
            .lines()
            .find(|l| l.split(',').nth(1) == Some(name))
            .unwrap_or_else(|| panic!("no row {name} in {stats}"))
            .split(',')
            .map(str::to_owned)
            .collect::<Vec<_>>()
    };
    // Type,Name,Request Count,Failure Count,...
    assert_eq!(
        &row("no-redirects")[2..4],
        ["1", "0"],
        "the 302 itself is a success"
    );
    assert_eq!(&row("short-timeout")[2..4], ["1", "1"]);
}
