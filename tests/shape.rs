//! A load shape drives the run through the public library API: users follow the stages, and the
//! test ends by itself when the shape returns `None`.

use std::ffi::OsString;
use std::time::{Duration, Instant};

use locusta::wait_time::constant;
use locusta::{task, Locustfile, Stages, TaskResult, User, UserClass};
use locusta_demo::{DemoConfig, DemoServer};

async fn index(user: &mut User) -> TaskResult {
    user.client.get("/").send().await;
    Ok(())
}

#[test]
fn stages_shape_ramps_and_ends_the_test() {
    let server =
        DemoServer::start(([127, 0, 0, 1], 0).into(), DemoConfig::default()).expect("target");
    let dir = tempfile::tempdir().expect("tempdir");
    let prefix = dir.path().join("shape");
    let locustfile = Locustfile {
        classes: vec![UserClass::new("Steady")
            .wait_time(constant(0.1))
            .task(task!(index))],
        shape: Some(Box::new(Stages::new([
            (Duration::from_secs(2), 2, 50.0),
            (Duration::from_secs(4), 5, 50.0),
        ]))),
        ..Default::default()
    };
    let args: Vec<OsString> = [
        "locusta",
        "--headless",
        "-H",
        &server.base_url(),
        "--only-summary",
        "--csv",
        prefix.to_str().expect("utf8"),
        "-L",
        "WARNING",
    ]
    .iter()
    .map(OsString::from)
    .collect();
    let started = Instant::now();
    let code = locusta::run_locustfile(locustfile, args);
    let took = started.elapsed();
    assert_eq!(code, 0);
    assert!(
        took >= Duration::from_secs(4) && took < Duration::from_secs(9),
        "{took:?}"
    );

    let history =
        std::fs::read_to_string(dir.path().join("shape_stats_history.csv")).expect("history");
    let user_counts: Vec<u64> = history
        .lines()
        .skip(1)
        .filter_map(|l| l.split(',').nth(1)?.parse().ok())
        .collect();
    assert!(user_counts.contains(&2), "{user_counts:?}");
    assert!(user_counts.contains(&5), "{user_counts:?}");
    assert!(user_counts.iter().all(|&n| n <= 5), "{user_counts:?}");
}

async fn about(user: &mut User) -> TaskResult {
    user.client.get("/about/").send().await;
    Ok(())
}

async fn products(user: &mut User) -> TaskResult {
    user.client.get("/products/").send().await;
    Ok(())
}

/// Two users of class `B` only, then a third user (no class list: the restriction stays, as in
/// Locust), then the end.
struct OnlyB;

impl locusta::LoadShape for OnlyB {
    fn tick(&mut self, run_time: Duration, _users: u64) -> Option<locusta::ShapeTick> {
        match run_time.as_secs() {
            0 => Some(locusta::ShapeTick {
                users: 2,
                spawn_rate: 50.0,
                classes: Some(vec!["B".to_string()]),
            }),
            1 => Some(locusta::ShapeTick::new(3, 50.0)),
            _ => None,
        }
    }
}

#[test]
fn shape_class_lists_choose_the_classes_of_new_users() {
    let server =
        DemoServer::start(([127, 0, 0, 1], 0).into(), DemoConfig::default()).expect("target");
    let dir = tempfile::tempdir().expect("tempdir");
    let prefix = dir.path().join("classes");
    // Without the class list the dispatcher would start A first (name order, equal weights).
    let locustfile = Locustfile {
        classes: vec![
            UserClass::new("A")
                .wait_time(constant(0.1))
                .task(task!(about)),
            UserClass::new("B")
                .wait_time(constant(0.1))
                .task(task!(products)),
        ],
        shape: Some(Box::new(OnlyB)),
        ..Default::default()
    };
    let args: Vec<OsString> = [
        "locusta",
        "--headless",
        "-H",
        &server.base_url(),
        "--only-summary",
        "--csv",
        prefix.to_str().expect("utf8"),
        "-L",
        "WARNING",
    ]
    .iter()
    .map(OsString::from)
    .collect();
    assert_eq!(locusta::run_locustfile(locustfile, args), 0);
    let stats = std::fs::read_to_string(dir.path().join("classes_stats.csv")).expect("stats");
    let names: Vec<&str> = stats
        .lines()
        .skip(1)
        .filter_map(|l| l.split(',').nth(1))
        .collect();
    assert_eq!(names, ["/products/", "Aggregated"], "{stats}");
}
