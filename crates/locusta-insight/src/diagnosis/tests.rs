//! The classifier on synthetic histories: each pattern, its knee, culprits and capacity.

use super::*;
use crate::history::{Cell, Point, Recorder};

fn cell(ms: f64, requests: u64, failures: u64) -> Cell {
    Cell {
        requests,
        failures,
        pct: Some([ms * 0.8, ms * 0.95, ms, ms * 1.1]),
    }
}

/// A step ramp 5, 10, .. 50 users, 4 s each; `f(users, second) -> (p95 ms, fail ratio)` per
/// endpoint; deterministic "noise" of +-3 %.
/// `(users, unix second) -> (p95 ms, fail ratio)`.
type Behaviour<'a> = &'a dyn Fn(u64, i64) -> (f64, f64);

fn history(endpoints: &[(&str, Behaviour<'_>)]) -> Recorder {
    let mut rec = Recorder::new();
    for (m_n, _) in endpoints {
        rec.track("GET", m_n);
    }
    let mut t = 1000i64;
    for step in 1..=10u64 {
        let users = step * 5;
        for s in 0..4 {
            t += 1;
            let wobble = 1.0 + 0.03 * (((t * 7919) % 7) as f64 - 3.0) / 3.0;
            let cells: Vec<Cell> = endpoints
                .iter()
                .map(|(_, f)| {
                    let (ms, fail) = f(users, t);
                    let reqs = 100 * users;
                    cell(ms * wobble, reqs, (reqs as f64 * fail) as u64)
                })
                .collect();
            let worst = cells.iter().filter_map(|c| c.p95()).fold(0.0, f64::max);
            let reqs: u64 = cells.iter().map(|c| c.requests).sum();
            let fails: u64 = cells.iter().map(|c| c.failures).sum();
            let _ = s;
            rec.push(Point {
                t,
                secs: 1,
                users,
                target_rate: None,
                total: cell(worst, reqs, fails),
                endpoints: cells,
            });
        }
    }
    rec
}

fn flat(_: u64, _: i64) -> (f64, f64) {
    (4.0, 0.0)
}

fn find<'a>(d: &'a Diagnosis, name: &str) -> &'a Finding {
    d.endpoints.iter().find(|f| f.name == name).unwrap()
}

#[test]
fn each_pattern_and_its_knee() {
    let linear = |u: u64, _| (3.0 + 2.0 * u as f64, 0.0);
    let cliff = |u: u64, _| if u <= 25 { (4.0, 0.0) } else { (250.0, 0.6) };
    let spike = |u: u64, _| {
        let over = u.saturating_sub(30) as f64;
        (4.0 + over * over, 0.0)
    };
    let stall = |_: u64, t: i64| {
        if t % 10 == 0 {
            (900.0, 0.0)
        } else {
            (4.0, 0.0)
        }
    };
    let rec = history(&[
        ("/flat", &flat),
        ("/linear", &linear),
        ("/cliff", &cliff),
        ("/spike", &spike),
        ("/stall", &stall),
    ]);
    let d = diagnose(&rec, &Slo::default());
    let text = d.text();
    assert_eq!(find(&d, "/flat").pattern, Pattern::None, "{text}");
    assert_eq!(find(&d, "/linear").pattern, Pattern::Linear, "{text}");
    let c = find(&d, "/cliff");
    assert_eq!(c.pattern, Pattern::Cliff, "{text}");
    assert_eq!(c.knee.unwrap().users, 30.0, "{text}");
    let s = find(&d, "/spike");
    assert_eq!(s.pattern, Pattern::FlatThenSpike, "{text}");
    assert_eq!(s.knee.unwrap().users, 35.0, "{text}");
    let st = find(&d, "/stall");
    assert_eq!(st.pattern, Pattern::Sawtooth, "{text}");
    assert!((st.period_s.unwrap() - 10.0).abs() < 1.0, "{text}");
    // The linear endpoint degrades first (at 10-15 users), so it leads the culprits.
    let culprits: Vec<&str> = d.culprits().iter().map(|f| f.name.as_str()).collect();
    assert_eq!(culprits.len(), 4, "{text}");
    assert!(
        culprits[0] == "/linear" || culprits[0] == "/stall",
        "{text}"
    );
    assert!(!culprits.contains(&"/flat"), "{text}");
    assert!(text.contains("Culprits"), "{text}");
}

#[test]
fn capacity_against_the_objective() {
    let linear = |u: u64, _| (10.0 * u as f64, 0.0); // p95 = 10 ms per user
    let rec = history(&[("/a", &linear)]);
    let slo = Slo::parse("p95<220ms,fail<1%").unwrap();
    let d = diagnose(&rec, &slo);
    let cap = &d.capacity;
    assert_eq!(
        cap.sustained.as_ref().unwrap().users,
        20.0,
        "{}",
        cap.summary
    );
    assert_eq!(
        cap.broken_at.as_ref().unwrap().users,
        25.0,
        "{}",
        cap.summary
    );
    let d = diagnose(&rec, &Slo::parse("p99<10s").unwrap());
    assert!(d.capacity.broken_at.is_none());
    assert!(d
        .capacity
        .summary
        .contains("held over the whole load range"));
}

#[test]
fn no_load_variation_is_undetermined() {
    let mut rec = Recorder::new();
    for t in 0..30 {
        rec.push(Point {
            t,
            secs: 1,
            users: 10,
            target_rate: None,
            // noise, not a steady rise (a rise at a constant load is a drift)
            total: cell(5.0 + (t % 3) as f64, 100, 0),
            endpoints: vec![],
        });
    }
    let d = diagnose(&rec, &Slo::default());
    assert_eq!(d.overall.pattern, Pattern::Undetermined);
    assert!(d.text().contains("Capacity"));
    // An empty history is one line saying so and what to run, not a table of zeros.
    let d = diagnose(&Recorder::new(), &Slo::default());
    let text = d.text();
    assert!(
        text.starts_with("Diagnosis: not judged, no load level was measured"),
        "{text}"
    );
    assert!(
        text.contains("--find-capacity") && !text.contains("0 to 0"),
        "{text}"
    );
}

#[test]
fn slo_syntax() {
    let s = Slo::parse("p99<2s").unwrap();
    assert_eq!(
        (s.percentile_index, s.latency_ms, s.fail_ratio),
        (3, 2000.0, 0.01)
    );
    assert_eq!(s.text, "p99<2000ms, fail<1%");
    let s = Slo::parse("fail<0.5%").unwrap();
    assert_eq!((s.percentile_index, s.latency_ms), (2, 500.0));
    for bad in ["", "p97<1s", "p95>1s", "rps<5", "p95<fast"] {
        let e = Slo::parse(bad).unwrap_err();
        assert!(e.starts_with("invalid --slo"), "{e}");
    }
}

#[test]
fn capacity_search_steps_until_broken() {
    let slo = Slo::parse("p95<100ms").unwrap();
    let mut search = CapacitySearch::new(5, 3, 100, slo);
    let mut rec = Recorder::new();
    let mut users = search.tick(0.0, 2000.0, &rec).unwrap();
    let mut t = 2000i64;
    let mut seen = vec![users];
    for sec in 1..200 {
        t += 1;
        // 30 ms per 5 users: 5 -> 30, 15 -> 90, 20 -> 120 (broken).
        rec.push(Point {
            t,
            secs: 1,
            users,
            target_rate: None,
            total: cell(6.0 * users as f64, 100, 0),
            endpoints: vec![],
        });
        match search.tick(sec as f64, t as f64, &rec) {
            Some(u) => {
                if u != users {
                    seen.push(u);
                }
                users = u;
            }
            None => break,
        }
    }
    assert_eq!(seen, vec![5, 10, 15, 20]);
    assert!(
        search.outcome().unwrap().contains("broke at 20 users"),
        "{:?}",
        search.outcome()
    );
}

fn level(users: f64, latency_ms: f64, fail_ratio: f64) -> Level {
    Level {
        users,
        rps: 100.0,
        series_rps: 100.0,
        latency_ms,
        fail_ratio,
        slo_latency_ms: latency_ms,
        slo_fail_ratio: fail_ratio,
        secs: 3,
        requests: 300,
        failures: (300.0 * fail_ratio).round() as u64,
    }
}

#[test]
fn a_cliff_after_a_mildly_noisy_level_is_still_a_cliff() {
    // 10 users is a little slow (busy machine), 15 users collapses.
    let lv = [
        level(5.0, 10.0, 0.0),
        level(10.0, 22.0, 0.0),
        level(15.0, 250.0, 0.7),
    ];
    assert_eq!(classify(&lv, &[]), (Pattern::Cliff, Some(2), None));
    // A clearly degraded level before the jump makes it a rise, not a cliff.
    let lv = [
        level(5.0, 10.0, 0.0),
        level(10.0, 90.0, 0.0),
        level(15.0, 250.0, 0.0),
    ];
    assert_ne!(classify(&lv, &[]).0, Pattern::Cliff);
}

#[test]
fn too_few_load_levels_are_not_judged_and_say_what_to_run() {
    // two load levels with a sharp rise: no verdict either way ("no endpoint degraded" would
    // mislead), and the text names the levels and the remedy
    let mut rec = Recorder::new();
    for t in 0..20 {
        let users = if t < 10 { 10 } else { 20 };
        let latency = if t < 10 { 3.4 } else { 84.7 };
        rec.push(Point {
            t,
            secs: 1,
            users,
            target_rate: None,
            total: cell(latency, 100, 0),
            endpoints: vec![],
        });
    }
    let d = diagnose(&rec, &Slo::default());
    let why = d.not_judged().expect("two levels cannot be judged");
    assert!(why.contains("only 2 load levels (10, 20 users)"), "{why}");
    let text = d.text();
    assert!(
        text.contains("Culprits: not judged, only 2 load levels"),
        "{text}"
    );
    assert!(!text.contains("no endpoint degraded"), "{text}");

    // a flat load (10 to 12 users) is not judged either
    let mut rec = Recorder::new();
    for t in 0..30 {
        rec.push(Point {
            t,
            secs: 1,
            users: 10 + (t as u64 / 10),
            target_rate: None,
            total: cell(5.0, 100, 0),
            endpoints: vec![],
        });
    }
    let why = diagnose(&rec, &Slo::default())
        .not_judged()
        .expect("flat load");
    assert!(why.contains("only went from 10 to 12 users"), "{why}");
}

#[test]
fn capacity_counts_every_request_of_a_level_like_the_statistics_table() {
    // Open model at one rate: 10 quiet seconds (p95 4 ms) and one stalled second whose requests
    // waited about a second. The typical second is fast, but more than 5 % of all requests were
    // slow, so the level's p95 is far above 500 ms and the objective is not met.
    let mut rec = Recorder::new();
    for t in 0..11 {
        let stalled = t == 5;
        rec.push(Point {
            t,
            secs: 1,
            users: 100,
            target_rate: None,
            total: Cell {
                requests: 100,
                failures: 0,
                pct: Some(if stalled {
                    [900.0, 1000.0, 1000.0, 1000.0]
                } else {
                    [2.0, 3.5, 4.0, 6.0]
                }),
            },
            endpoints: vec![],
        });
    }
    let d = diagnose(&rec, &Slo::default());
    let level = &d.overall.levels[0];
    assert!(level.latency_ms < 10.0, "the typical second: {level:?}");
    assert!(level.slo_latency_ms > 500.0, "all requests: {level:?}");
    assert!(d.capacity.sustained.is_none(), "{:?}", d.capacity);
    assert!(
        d.capacity
            .summary
            .contains("not met even at the lowest load"),
        "{}",
        d.capacity.summary
    );

    // the estimate follows the recorded percentiles: one kind of second gives its own p95
    let cells = vec![
        Cell {
            requests: 50,
            failures: 0,
            pct: Some([10.0, 20.0, 30.0, 40.0])
        };
        3
    ];
    let p95 = pooled_percentile(&cells, 2).unwrap();
    assert!((p95 - 30.0).abs() < 0.01, "{p95}");
    assert_eq!(pooled_percentile(&[], 2), None);
}

#[test]
fn a_smooth_bend_upwards_is_flat_then_spike_with_its_knee_where_it_leaves_flat() {
    // 2 ms up to 11 users, then quadratic: 12 users 3 ms (still flat), 13 users 6 ms (out of the
    // flat band of 1.2 x 2 + 3 ms, not yet
    // "degraded"), 14 users 11 ms, ... 24 users 171 ms
    let lv: Vec<Level> = (1..=24)
        .step_by(1)
        .filter(|u| u % 2 == 0 || *u == 13)
        .map(|u: i32| {
            let over = (u - 11).max(0) as f64;
            level(u as f64, 2.0 + over * over, 0.0)
        })
        .collect();
    let (pattern, knee, _) = classify(&lv, &[]);
    assert_eq!(pattern, Pattern::FlatThenSpike, "{lv:?}");
    assert_eq!(lv[knee.unwrap()].users, 13.0, "{lv:?}");
}

#[test]
fn periodic_throughput_collapses_are_a_sawtooth() {
    // a closed model against an endpoint that stalls 1.5 s every 6 s: its latency looks flat
    // (stalled users complete nothing meanwhile) but its throughput drops to nothing
    let series: Vec<(i64, f64)> = (0..36)
        .map(|t| (t, if t % 6 == 0 { 0.0 } else { 2300.0 }))
        .collect();
    assert_eq!(throughput_dip_period(&series), Some(6.0));
    // a ramp's slow start is one burst, not a period
    let ramp: Vec<(i64, f64)> = (0..36)
        .map(|t| (t, (t as f64 * 100.0).min(2000.0)))
        .collect();
    assert_eq!(throughput_dip_period(&ramp), None);
    // a thin series says nothing
    let thin: Vec<(i64, f64)> = (0..36)
        .map(|t| (t, if t % 6 == 0 { 0.0 } else { 4.0 }))
        .collect();
    assert_eq!(throughput_dip_period(&thin), None);
}

#[test]
fn an_endpoint_failing_at_every_load_is_failing_not_healthy() {
    // The seed shop's checkout with an empty cart: every request fails, from the lowest load on,
    // so its failure ratio never "grows" and it used to read as a green "none".
    let broken = |_: u64, _| (3.0, 1.0);
    let flaky = |_: u64, _| (3.0, 0.3);
    let rec = history(&[("/ok", &flat), ("/orders", &broken), ("/flaky", &flaky)]);
    let d = diagnose(&rec, &Slo::default());
    let text = d.text();
    assert_eq!(find(&d, "/orders").pattern, Pattern::Failing, "{text}");
    assert_eq!(find(&d, "/flaky").pattern, Pattern::Failing, "{text}");
    assert_eq!(find(&d, "/ok").pattern, Pattern::None, "{text}");
    assert!(d.culprits().is_empty(), "{text}");
    // Most failures first, right after the (absent) culprits.
    let failing: Vec<&str> = d.failing().iter().map(|f| f.name.as_str()).collect();
    assert_eq!(failing, ["/orders", "/flaky"], "{text}");
    assert_eq!(d.others().len(), 1, "{text}");
    assert!(text.contains("Failing at every load"), "{text}");
    assert!(
        text.contains("GET /orders: failing at every load: 100% of its requests failed at 5 users, 100% at 50 users"),
        "{text}"
    );
    // The total fails from the start too, and the note says where that comes from.
    assert_eq!(d.overall.pattern, Pattern::Failing, "{text}");
    let note = d.overall_note().unwrap();
    assert!(note.contains("failing at every load"), "{note}");
    // A failure burst growing with load is a cliff, not "failing".
    let cliff = |u: u64, _| if u <= 25 { (4.0, 0.0) } else { (4.0, 0.6) };
    let d = diagnose(&history(&[("/cliff", &cliff)]), &Slo::default());
    assert_eq!(find(&d, "/cliff").pattern, Pattern::Cliff, "{}", d.text());
}

#[test]
fn a_total_that_moves_while_no_endpoint_degrades_is_the_mix() {
    let lv: Vec<Level> = (1..=6)
        .map(|i| level(10.0 * i as f64, 3.0 + 4.0 * i as f64, 0.0))
        .collect();
    let flat_levels: Vec<Level> = (1..=6).map(|i| level(10.0 * i as f64, 3.0, 0.0)).collect();
    let finding = |name: &str, levels: Vec<Level>, pattern| Finding {
        method: "GET".into(),
        name: name.into(),
        pattern,
        minor: false,
        knee: None,
        baseline_ms: 3.0,
        peak_ms: 3.0,
        fail_before: 0.0,
        fail_peak: 0.0,
        period_s: None,
        levels,
        summary: String::new(),
    };
    let d = Diagnosis {
        slo: Slo::default(),
        users_range: (10.0, 60.0),
        load_unit: "users",
        overall: finding("Aggregated", lv, Pattern::Linear),
        endpoints: vec![finding("/a", flat_levels, Pattern::None)],
        culprit_count: 0,
        failing_count: 0,
        capacity: capacity(&[], &Slo::default(), "users"),
    };
    let note = d.overall_note().unwrap();
    assert!(note.contains("mix of requests"), "{note}");
    assert!(d.text().contains("mix of requests"), "{}", d.text());
}

#[test]
fn a_rise_small_next_to_the_objective_is_minor_not_a_culprit() {
    // A sub-millisecond endpoint slowed to ~20 ms by a busy machine, next to the objective's
    // 500 ms: shown as linear, blamed on nothing. With a 50 ms objective it is a culprit.
    let busy = |u: u64, _| (0.3 + 0.4 * u as f64, 0.0);
    let rec = history(&[("/busy", &busy)]);
    let d = diagnose(&rec, &Slo::default());
    let f = find(&d, "/busy");
    assert_eq!(f.pattern, Pattern::Linear, "{}", d.text());
    assert!(f.minor, "{}", d.text());
    assert!(d.culprits().is_empty(), "{}", d.text());
    assert!(d
        .text()
        .contains("minor: it stays within a tenth of the objective's 500 ms limit"));
    let d = diagnose(&rec, &Slo::parse("p95<50ms").unwrap());
    assert_eq!(d.culprits().len(), 1, "{}", d.text());
    assert!(!find(&d, "/busy").minor);
}

#[test]
fn a_ramps_slow_start_is_not_a_throughput_collapse() {
    // The rate climbs by 1.5 requests a second each second, with a start of empty seconds and
    // +-40 % noise: no stall, although the early seconds are under a third of the run's median.
    let series: Vec<(i64, f64)> = (0..40)
        .map(|i| {
            let noise = 1.0 + 0.4 * (((i * 7919) % 11) as f64 - 5.0) / 5.0;
            let rate = if [0, 2, 5].contains(&i) {
                0.0
            } else {
                1.5 * i as f64 * noise
            };
            (i, rate)
        })
        .collect();
    assert_eq!(throughput_dip_period(&series), None);
    // Real stalls: 2 seconds of every 6 at a tenth of the rate.
    let stalls: Vec<(i64, f64)> = (0..40)
        .map(|i| (i, if i % 6 < 2 { 3.0 } else { 30.0 }))
        .collect();
    let period = throughput_dip_period(&stalls).expect("a period");
    assert!((period - 6.0).abs() < 0.5, "{period}");
}

#[test]
fn a_few_requests_per_level_are_too_few_to_judge_a_percentile() {
    // A login done once per user while the users ramp: one request a second, growing with a
    // busy machine. 30 requests cannot make 3 levels of 20: not judged, and no culprit.
    let mut rec = Recorder::new();
    rec.track("POST", "/login");
    for i in 0..30i64 {
        let users = 5 + 5 * (i as u64 / 3);
        let login = cell(0.4 + 10.0 * i as f64, 1, 0);
        rec.push(Point {
            t: 1000 + i,
            secs: 1,
            users,
            target_rate: None,
            total: cell(0.4 + 10.0 * i as f64, 1, 0),
            endpoints: vec![login],
        });
    }
    let d = diagnose(&rec, &Slo::default());
    let f = find(&d, "/login");
    assert_eq!(f.pattern, Pattern::Undetermined, "{}", d.text());
    assert!(
        f.summary
            .contains("fewer than 20 requests at most load levels, too few to judge its p95"),
        "{}",
        f.summary
    );
    assert!(d.culprits().is_empty());
    // With p50 as the objective 2 requests a level are enough.
    let d = diagnose(&rec, &Slo::parse("p50<100ms").unwrap());
    assert_eq!(find(&d, "/login").pattern, Pattern::Linear, "{}", d.text());
}

#[test]
fn a_thin_series_is_judged_on_wider_levels() {
    // A checkout done 10 times a second over a 10-step ramp: 4-second steps of 40 requests are
    // enough for p95, but with p99 (100 requests) the steps are merged into wider levels.
    let mut rec = Recorder::new();
    rec.track("POST", "/orders");
    for i in 0..40i64 {
        let users = 10 + 10 * (i as u64 / 4);
        let ms = 100.0 + 5.0 * users as f64;
        rec.push(Point {
            t: 1000 + i,
            secs: 1,
            users,
            target_rate: None,
            total: cell(ms, 10, 0),
            endpoints: vec![cell(ms, 10, 0)],
        });
    }
    let d = diagnose(&rec, &Slo::default());
    let f = find(&d, "/orders");
    assert_eq!(f.pattern, Pattern::Linear, "{}", d.text());
    assert_eq!(f.levels.len(), 10);
    let d = diagnose(&rec, &Slo::parse("p99<1s").unwrap());
    let f = find(&d, "/orders");
    // three wide levels: a rise, linear or bending upwards
    assert!(
        matches!(f.pattern, Pattern::Linear | Pattern::FlatThenSpike),
        "{}",
        d.text()
    );
    assert_eq!(d.culprits().len(), 1, "{}", d.text());
    assert!((3..10).contains(&f.levels.len()), "{}", f.levels.len());
    assert!(f.levels.iter().all(|l| l.requests >= 100));
}

#[test]
fn the_total_is_a_sawtooth_only_when_an_endpoint_is() {
    // Two steady endpoints, a fast one and a slow one; the total's p95 jumps every 4 s when the
    // slow one's share of the second passes 5 %: the mix, not a stall.
    let mut rec = Recorder::new();
    rec.track("GET", "/fast");
    rec.track("POST", "/slow");
    for i in 0..40i64 {
        let total_ms = if i % 4 == 0 { 300.0 } else { 1.0 };
        rec.push(Point {
            t: 1000 + i,
            secs: 1,
            users: 50,
            target_rate: None,
            total: cell(total_ms, 400, 0),
            endpoints: vec![cell(1.0, 380, 0), cell(300.0, 20, 0)],
        });
    }
    let d = diagnose(&rec, &Slo::default());
    assert_ne!(d.overall.pattern, Pattern::Sawtooth, "{}", d.text());
    assert!(d.culprits().is_empty(), "{}", d.text());
}

/// One endpoint `/e` over `secs` seconds: `f(second) -> (users, p95 ms)`, 100 requests a
/// second, deterministic noise of +-3 %.
fn timeline(secs: i64, f: impl Fn(i64) -> (u64, f64)) -> Recorder {
    let mut rec = Recorder::new();
    rec.track("GET", "/e");
    for s in 0..secs {
        let t = 5000 + s;
        let wobble = 1.0 + 0.03 * (((t * 7919) % 7) as f64 - 3.0) / 3.0;
        let (users, ms) = f(s);
        rec.push(Point {
            t,
            secs: 1,
            users,
            target_rate: None,
            total: cell(ms * wobble, 100, 0),
            endpoints: vec![cell(ms * wobble, 100, 0)],
        });
    }
    rec
}

#[test]
fn latency_growing_at_a_constant_load_is_a_drift() {
    // 10 users for 40 s, 2 ms + 5 ms per second: a leak.
    let rec = timeline(40, |s| (10, 2.0 + 5.0 * s as f64));
    let d = diagnose(&rec, &Slo::default());
    let e = find(&d, "/e");
    assert_eq!(e.pattern, Pattern::Drift, "{}", d.text());
    let growth = e.period_s.expect("growth");
    assert!((4.0..6.0).contains(&growth), "{growth}: {}", d.text());
    assert!(e.knee.is_none());
    assert!(e.baseline_ms < 50.0 && e.peak_ms > 150.0, "{e:?}");
    assert!(
        e.summary.contains("at a constant 10 users"),
        "{}",
        e.summary
    );
    assert_eq!(d.culprits().len(), 1);
    assert_eq!(d.overall.pattern, Pattern::Drift);
    assert!(d.not_judged().is_none());
    assert!(d.text().contains("a leak"), "{}", d.text());

    // The usual run shape: a quick ramp, then a long hold; the ramp's seconds do not matter.
    let rec = timeline(50, |s| {
        if s < 8 {
            (1 + s as u64, 2.0 + s as f64)
        } else {
            (9, 10.0 + 4.0 * (s - 8) as f64)
        }
    });
    let d = diagnose(&rec, &Slo::default());
    assert_eq!(find(&d, "/e").pattern, Pattern::Drift, "{}", d.text());

    // An open model at one arrival rate drifts the same way (a backlog).
    let mut rec = timeline(40, |s| (10, 3.0 + 2.0 * s as f64));
    rec = {
        let mut open = Recorder::new();
        open.track("GET", "/e");
        for p in rec.points() {
            open.push(Point {
                target_rate: Some(200.0),
                ..p.clone()
            });
        }
        open
    };
    let d = diagnose(&rec, &Slo::default());
    let e = find(&d, "/e");
    assert_eq!(e.pattern, Pattern::Drift, "{}", d.text());
    assert!(e.summary.contains("200 it/s"), "{}", e.summary);
}

#[test]
fn noise_stalls_jumps_and_ramps_are_not_a_drift() {
    let judge = |rec: &Recorder| find(&diagnose(rec, &Slo::default()), "/e").pattern;
    // healthy noise at a constant load: 3 to 9 ms in a fixed shuffle
    let noisy = timeline(60, |s| (10, 3.0 + ((s * 37) % 7) as f64));
    assert_eq!(judge(&noisy), Pattern::Undetermined);
    // a busy machine: 1 ms creeping to 3 ms is under the noise floor
    let creep = timeline(60, |s| (10, 1.0 + s as f64 / 30.0));
    assert_eq!(judge(&creep), Pattern::Undetermined);
    // periodic stalls that recover
    let stalls = timeline(60, |s| (10, if s % 10 == 0 { 900.0 } else { 4.0 }));
    assert_eq!(judge(&stalls), Pattern::Sawtooth);
    // one jump (a pool that ran out once) is a step, not a steady rise
    let jump = timeline(60, |s| (10, if s < 30 { 4.0 } else { 200.0 }));
    assert_ne!(judge(&jump), Pattern::Drift);
    // a slow decline (warm-up) is not a rise
    let warmup = timeline(60, |s| (10, 200.0 - 3.0 * s as f64));
    assert_ne!(judge(&warmup), Pattern::Drift);
    // too short a hold
    let short = timeline(15, |s| (10, 2.0 + 10.0 * s as f64));
    assert_ne!(judge(&short), Pattern::Drift);
    // a ramp where latency follows load keeps its pattern, including its slow top
    let ramp = timeline(60, |s| {
        let users = 2 + 2 * s as u64 / 3;
        (users, 3.0 + 4.0 * users as f64)
    });
    assert_eq!(judge(&ramp), Pattern::Linear);
    let slow_top = timeline(90, |s| {
        let users = 100 + s as u64 / 3;
        (users, 2.0 * users as f64)
    });
    assert_ne!(judge(&slow_top), Pattern::Drift);
    // a ramp that breaks, then holds broken: flat in time, so not a drift
    let held = timeline(60, |s| {
        let users = (1 + s as u64).min(20);
        (users, if users <= 12 { 4.0 } else { 250.0 })
    });
    assert_ne!(judge(&held), Pattern::Drift);
}

#[test]
fn a_limit_that_refuses_without_slowing_down_is_a_cliff() {
    // A rate limiter of 100/s, users sending 10/s each: clean up to 10 users, then the excess
    // fails at once (1 - 100 / (10 x users)), latency unchanged: failures rise level by level,
    // never by 20 points at once.
    let lv: Vec<Level> = (5..=20)
        .map(|u| {
            let fail = (1.0 - 100.0 / (10.0 * u as f64)).max(0.0);
            level(u as f64, 2.0, fail)
        })
        .collect();
    let (pattern, knee, _) = classify(&lv, &[]);
    assert_eq!(pattern, Pattern::Cliff, "{lv:?}");
    assert_eq!(lv[knee.expect("knee")].users, 11.0, "{lv:?}");
    // A few refusals right at the limit (bunched requests) mark where it is crossed, before
    // the failures count as degraded; a blip of failures much earlier does not.
    let mut lv = lv;
    lv[1].fail_ratio = 0.03; // 6 users
    lv[5].fail_ratio = 0.03; // 10 users
    let (pattern, knee, _) = classify(&lv, &[]);
    assert_eq!(pattern, Pattern::Cliff, "{lv:?}");
    assert_eq!(lv[knee.expect("knee")].users, 10.0, "{lv:?}");
    // Failures without a knee below them (failing from the lowest load on) are not this rule.
    let failing: Vec<Level> = (5..=20).map(|u| level(u as f64, 2.0, 0.3)).collect();
    assert_ne!(classify(&failing, &[]).0, Pattern::Cliff);
}

#[test]
fn a_drift_is_named_even_when_the_load_did_not_vary() {
    // One busy flat endpoint makes the total; a quiet one leaks. The total's pattern needs a
    // varying load, the leak does not: it is named, and the rest is said to be not judged.
    let mut rec = Recorder::new();
    rec.track("GET", "/busy");
    rec.track("GET", "/leak");
    for s in 0..40i64 {
        let busy = cell(4.0 + (s % 3) as f64, 1000, 0);
        rec.push(Point {
            t: 7000 + s,
            secs: 1,
            users: 20,
            target_rate: None,
            total: busy,
            endpoints: vec![busy, cell(3.0 + 4.0 * s as f64, 10, 0)],
        });
    }
    let d = diagnose(&rec, &Slo::default());
    let text = d.text();
    assert_eq!(d.overall.pattern, Pattern::Undetermined, "{text}");
    assert_eq!(d.culprits().len(), 1, "{text}");
    assert_eq!(d.culprits()[0].name, "/leak", "{text}");
    assert!(text.contains("1. GET /leak: drift"), "{text}");
    assert!(
        text.contains("How latency follows load: not judged, only 1 load level"),
        "{text}"
    );
    assert!(!text.contains("Culprits: not judged"), "{text}");
}
