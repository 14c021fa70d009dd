//! The controller on a fake clock: snapshots in, actions out, no users and no sockets.

use std::sync::Arc;
use std::time::{Duration, Instant};

use locusta_stats::{Sample, StatsHub, StatsLimits};

use super::*;
use crate::plan::testing::{build, class};
use crate::shape::Stages;

fn controller(args: &[&str], shape: Option<Box<dyn LoadShape>>) -> (Controller, Arc<StatsHub>) {
    let mut all = vec!["-L", "ERROR"];
    all.extend_from_slice(args);
    let plan = build(&all, vec![class("A", Some("http://127.0.0.1:1"))]).expect("plan");
    let stats = StatsHub::new(StatsLimits::default());
    let inputs = Inputs {
        shape,
        ..Inputs::default()
    };
    (
        Controller::new(plan, Arc::clone(&stats), inputs).expect("controller"),
        stats,
    )
}

fn sample(error: Option<&str>) -> Sample<'_> {
    Sample {
        method: "GET",
        name: "/",
        response_time_us: Some(1000),
        content_length: 10,
        error,
    }
}

fn running(users: u64) -> Snapshot {
    Snapshot {
        state: LoadState::Running,
        users,
        target_users: users,
        class_counts: vec![("A".into(), users)],
        ..Snapshot::default()
    }
}

fn spawned(actions: &[Action]) -> Vec<u64> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Spawn { users, .. } => Some(*users),
            _ => None,
        })
        .collect()
}

#[test]
fn a_headless_ramp_ends_at_its_run_time() {
    let (mut c, _) = controller(&["--headless", "-u", "5", "-r", "5", "-t", "3"], None);
    let t0 = Instant::now();
    let first = c.tick(t0, &Snapshot::default());
    assert_eq!(
        first,
        vec![Action::Spawn {
            users: 5,
            rate: 5.0,
            classes: None
        }]
    );
    assert!(c.tick(t0 + Duration::from_secs(2), &running(5)).is_empty());
    assert_eq!(
        c.tick(t0 + Duration::from_secs(3), &running(5)),
        vec![Action::Quit]
    );
    assert_eq!(c.stop_reason(), Some(StopReason::RunTime));
    assert!(c.next_tick(t0) <= t0 + MAX_TICK);
}

#[test]
fn a_shape_is_followed_stage_by_stage_then_ends_the_run() {
    let stages = Stages::new([
        (Duration::from_secs(2), 1, 10.0),
        (Duration::from_secs(4), 3, 10.0),
        (Duration::from_secs(6), 2, 10.0),
    ]);
    let (mut c, _) = controller(&["--headless"], Some(Box::new(stages)));
    let t0 = Instant::now();
    let mut targets = Vec::new();
    let mut t = t0;
    let mut snap = Snapshot::default();
    loop {
        let actions = c.tick(t, &snap);
        targets.extend(spawned(&actions));
        if let Some(&users) = targets.last() {
            snap = running(users);
        }
        if actions.contains(&Action::Quit) {
            break;
        }
        t += Duration::from_millis(100);
        assert!(t < t0 + Duration::from_secs(10), "the shape never ended");
    }
    assert_eq!(targets, vec![1, 3, 2]);
    assert_eq!(c.stop_reason(), Some(StopReason::ShapeDone));
}

#[test]
fn a_completed_ramp_resets_the_statistics_once_with_reset_stats() {
    let (mut c, stats) = controller(&["--headless", "-u", "2", "--reset-stats"], None);
    let t0 = Instant::now();
    c.tick(t0, &Snapshot::default());
    stats.record(&sample(None));
    stats.merge();
    assert_eq!(stats.read(|agg| agg.total().num_requests()), 1);
    let mut snap = running(2);
    snap.spawn_completions = 1;
    c.tick(t0 + Duration::from_millis(10), &snap);
    stats.merge();
    assert_eq!(stats.read(|agg| agg.total().num_requests()), 0);
    // A later ramp (a new target) does not reset again.
    stats.record(&sample(None));
    snap.spawn_completions = 2;
    c.tick(t0 + Duration::from_millis(20), &snap);
    stats.merge();
    assert_eq!(stats.read(|agg| agg.total().num_requests()), 1);
}

#[test]
fn stop_test_quit_and_signals_end_a_headless_run() {
    let (mut c, _) = controller(&["--headless"], None);
    let t0 = Instant::now();
    c.tick(t0, &Snapshot::default());
    let mut snap = running(1);
    snap.stop_requested = true;
    assert_eq!(c.tick(t0, &snap), vec![Action::Quit]);
    assert_eq!(c.stop_reason(), Some(StopReason::StopTest));

    let (mut c, _) = controller(&["--headless"], None);
    c.tick(t0, &Snapshot::default());
    c.interrupt(Interrupt::Terminate);
    c.interrupt(Interrupt::CtrlC);
    assert_eq!(c.tick(t0, &running(1)), vec![Action::Quit]);
    assert_eq!(c.stop_reason(), Some(StopReason::Terminated));
}

#[test]
fn the_exit_code_follows_locusts_rules() {
    let (mut c, stats) = controller(&["--headless", "--exit-code-on-error", "7"], None);
    assert_eq!(c.conclude(None, false), 0);
    let (mut c2, _) = controller(&["--headless"], None);
    assert_eq!(c2.conclude(None, true), 2);
    assert_eq!(c2.conclude(Some(5), true), 5);
    stats.record(&sample(Some("boom")));
    assert_eq!(c.conclude(None, false), 7);
}

#[test]
fn a_master_waits_for_its_workers_then_stops_when_they_are_gone() {
    let (mut c, _) = controller(
        &["--headless", "--master", "--expect-workers", "2", "-u", "4"],
        None,
    );
    let workers = |ready, known| Snapshot {
        workers: Some(Workers {
            ready,
            known,
            rows: Default::default(),
        }),
        ..running(0)
    };
    let t0 = Instant::now();
    assert!(c.tick(t0, &workers(1, 1)).is_empty());
    assert!(c
        .tick(t0 + Duration::from_millis(500), &workers(2, 2))
        .is_empty());
    // The start waits a grace period once enough workers are ready.
    let t1 = t0 + Duration::from_millis(500) + START_GRACE;
    assert_eq!(spawned(&c.tick(t1, &workers(2, 2))), vec![4]);
    assert!(c.tick(t1, &workers(2, 2)).is_empty());
    assert_eq!(c.tick(t1, &workers(0, 2)), vec![Action::Quit]);
    assert_eq!(c.stop_reason(), Some(StopReason::LastWorkerMissing));
}

#[test]
fn a_master_gives_up_after_expect_workers_max_wait() {
    let (mut c, _) = controller(
        &["--headless", "--master", "--expect-workers-max-wait", "1"],
        None,
    );
    let none = Snapshot {
        workers: Some(Workers::default()),
        ..Snapshot::default()
    };
    let t0 = Instant::now();
    assert!(c.tick(t0, &none).is_empty());
    assert_eq!(
        c.tick(t0 + Duration::from_secs(2), &none),
        vec![Action::Quit]
    );
    assert_eq!(c.stop_reason(), Some(StopReason::GaveUpWaiting));
    assert_eq!(c.conclude(None, false), 1);
}

#[test]
fn the_open_model_schedule_follows_the_arrival_rate_ramp() {
    let (mut c, _) = controller(&["--headless", "--arrival-rate", "10:30", "-t", "10"], None);
    let arrivals = c.arrivals().expect("open model");
    let t0 = Instant::now();
    c.tick(t0, &Snapshot::default());
    assert_eq!(arrivals.rate(), 10.0);
    c.tick(t0 + Duration::from_secs(5), &running(1));
    assert_eq!(arrivals.rate(), 20.0);
}
