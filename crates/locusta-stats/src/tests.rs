//! Unit tests for the hub: sharded recording, caps, percentiles, current window, reset, errors,
//! and every output format against golden text captured from real Locust 2.47
//! (`tests/golden/gen_locust_golden.py`).

use super::*;

fn s<'a>(method: &'a str, name: &'a str, rt_us: Option<u64>, error: Option<&'a str>) -> Sample<'a> {
    Sample {
        method,
        name,
        response_time_us: rt_us,
        content_length: 10,
        error,
    }
}

#[test]
fn records_across_threads_exactly() {
    let hub = StatsHub::new(StatsLimits::default());
    let mut handles = Vec::new();
    for t in 0..4 {
        let hub = hub.clone();
        handles.push(std::thread::spawn(move || {
            for i in 0..25_000u64 {
                let name = if i % 2 == 0 { "/a" } else { "/b" };
                let err = (i % 10 == 0).then_some("boom");
                hub.record(&s("GET", name, Some(1000 + t), err));
            }
        }));
    }
    for h in handles {
        h.join().unwrap();
    }
    hub.read(|agg| {
        assert_eq!(agg.total().num_requests(), 100_000);
        assert_eq!(agg.total().num_failures(), 10_000);
        assert_eq!(agg.entry("/a", "GET").unwrap().num_requests(), 50_000);
        assert_eq!(agg.entry("/b", "GET").unwrap().num_requests(), 50_000);
        assert_eq!(agg.entry("/a", "GET").unwrap().num_failures(), 10_000);
        assert_eq!(agg.errors().len(), 1);
        assert_eq!(agg.errors()[0].occurrences, 10_000);
        assert_eq!(agg.total().min_response_time(), Some(1.0));
        assert_eq!(agg.total().max_response_time(), 1.003);
        assert_eq!(agg.total().total_content_length(), 1_000_000);
    });
}

#[test]
fn alternating_and_repeated_keys_land_in_their_own_entries() {
    // exercises the shard's last-key shortcut: repeats, switches, and same name/other method
    let hub = StatsHub::new(StatsLimits::default());
    let seq = [
        ("GET", "/a"),
        ("GET", "/a"),
        ("GET", "/b"),
        ("POST", "/a"),
        ("GET", "/a"),
        ("GET", "/ab"),
        ("GET", "/b"),
        ("GET", "/b"),
    ];
    for (method, name) in seq {
        hub.record(&s(method, name, Some(3), None));
    }
    hub.read(|agg| {
        let count = |name: &str, method: &str| agg.entry(name, method).map(|e| e.num_requests());
        assert_eq!(count("/a", "GET"), Some(3));
        assert_eq!(count("/b", "GET"), Some(3));
        assert_eq!(count("/a", "POST"), Some(1));
        assert_eq!(count("/ab", "GET"), Some(1));
        assert_eq!(agg.total().num_requests(), 8);
    });
}

#[test]
fn two_hubs_do_not_mix() {
    let a = StatsHub::new(StatsLimits::default());
    let b = StatsHub::new(StatsLimits::default());
    for i in 0..1000 {
        a.record(&s("GET", "/x", Some(5), None));
        if i % 2 == 0 {
            b.record(&s("POST", "/y", Some(7), None));
        }
    }
    a.read(|agg| {
        assert_eq!(agg.total().num_requests(), 1000);
        assert_eq!(agg.entries().len(), 1);
        assert!(agg.entry("/y", "POST").is_none());
    });
    b.read(|agg| {
        assert_eq!(agg.total().num_requests(), 500);
        assert_eq!(agg.entries().len(), 1);
        assert!(agg.entry("/x", "GET").is_none());
    });
    drop(a);
    // a dead hub's shard is pruned lazily; a new hub on this thread still works
    let c = StatsHub::new(StatsLimits::default());
    c.record(&s("GET", "/z", Some(1), None));
    assert_eq!(c.read(|agg| agg.total().num_requests()), 1);
}

#[test]
fn caps_fold_names_and_errors() {
    let hub = StatsHub::new(StatsLimits {
        max_entries: 100,
        max_errors: 10,
    });
    for i in 0..100_000u64 {
        let name = format!("/item/{i}");
        let err = format!("error {i}");
        hub.record(&s(
            "GET",
            &name,
            Some(i % 1000 + 1),
            (i % 2 == 0).then_some(&err),
        ));
        if i % 3 == 0 {
            hub.record(&s("POST", &name, Some(1), None));
        }
    }
    let shard_keys = hub.with_shard(|s| {
        s.data
            .lock()
            .unwrap()
            .keys
            .values()
            .map(|m| m.len())
            .sum::<usize>()
    });
    assert!(shard_keys <= 100, "shard cache holds {shard_keys} names");
    hub.read(|agg| {
        let n = agg.entries().len();
        assert!(n <= 102, "{n} entries");
        assert_eq!(agg.total().num_requests(), 100_000 + 33_334);
        let sum: u64 = agg.entries().iter().map(|e| e.num_requests()).sum();
        assert_eq!(sum, 133_334);
        let other = agg.entry(OTHER_NAMES, "GET").unwrap();
        let named_get: u64 = agg
            .entries()
            .iter()
            .filter(|e| e.method() == "GET" && e.name() != OTHER_NAMES)
            .map(|e| e.num_requests())
            .sum();
        assert_eq!(named_get, 75);
        assert_eq!(other.num_requests() + named_get, 100_000);
        assert!(agg.entry(OTHER_NAMES, "POST").is_some());
        assert_eq!(agg.total().num_failures(), 50_000);
        let errs = agg.errors();
        assert!(errs.len() <= 10 + 101, "{} errors", errs.len());
        let err_sum: u64 = errs.iter().map(|e| e.occurrences).sum();
        assert_eq!(err_sum, 50_000);
        assert!(errs.iter().any(|e| e.error == OTHER_ERRORS));
    });
    assert!(hub.warned_entries.load(Ordering::Relaxed));
    assert!(hub.warned_errors.load(Ordering::Relaxed));
}

#[test]
fn percentiles_of_uniform_distribution() {
    let hub = StatsHub::new(StatsLimits::default());
    for v in 1..=10_000u64 {
        hub.record(&s("GET", "/", Some(v), None));
    }
    hub.read(|agg| {
        let e = agg.total();
        let p50 = e.percentile(0.5);
        assert!((p50 - 5.0).abs() / 5.0 < 0.01, "p50 {p50}");
        let p95 = e.percentile(0.95);
        assert!((p95 - 9.5).abs() / 9.5 < 0.01, "p95 {p95}");
        assert_eq!(e.percentile(1.0), 10.0);
        assert_eq!(e.percentile(0.0), 0.001);
        assert!((e.median_response_time() - 5.0).abs() < 0.05);
        assert!((e.avg_response_time() - 5.0005).abs() < 1e-9);
        let ps = e.percentiles(&[0.99, 0.5]);
        assert!((ps[0] - 9.9).abs() / 9.9 < 0.01 && (ps[1] - p50).abs() < 1e-12);
    });
}

#[test]
fn percentile_rank_rule_matches_locust() {
    // Locust: values [1,2,3,4] ms -> p50 = 3, p0 = 1, p100 = 4
    let hub = StatsHub::new(StatsLimits::default());
    for v in [1000, 2000, 3000, 4000] {
        hub.record(&s("GET", "/", Some(v), None));
    }
    hub.read(|agg| {
        assert_eq!(agg.total().percentile(0.5), 3.0);
        assert_eq!(agg.total().percentile(0.0), 1.0);
        assert_eq!(agg.total().percentile(1.0), 4.0);
        assert_eq!(agg.total().median_response_time(), 3.0);
    });
}

#[test]
fn none_requests_are_excluded_from_times() {
    let hub = StatsHub::new(StatsLimits::default());
    hub.record(&s("X", "n", None, None));
    hub.record(&s("X", "n", None, None));
    hub.record(&s("X", "n", Some(4000), None));
    hub.read(|agg| {
        let e = agg.entry("n", "X").unwrap();
        assert_eq!(e.num_requests(), 3);
        assert_eq!(e.num_none_requests(), 2);
        assert_eq!(e.avg_response_time(), 4.0);
        assert_eq!(e.median_response_time(), 4.0);
        assert_eq!(e.percentile(0.1), 4.0);
        assert_eq!(e.avg_content_length(), 10.0);
    });
    let hub = StatsHub::new(StatsLimits::default());
    hub.record(&s("X", "n", None, None));
    hub.read(|agg| {
        let e = agg.total();
        assert_eq!(e.avg_response_time(), 0.0);
        assert_eq!(e.min_response_time(), None);
        assert_eq!(e.max_response_time(), 0.0);
        assert_eq!(e.percentile(0.5), 0.0);
    });
}

#[test]
fn counts_at_or_below_bounds_are_cumulative_and_the_total_sums_the_entries() {
    let hub = StatsHub::new(StatsLimits::default());
    // 5000 µs is the start of a 4 µs wide HDR bin: 5003 shares it, 5004 does not.
    for (name, us) in [
        ("a", 999),
        ("a", 1000),
        ("a", 1001),
        ("b", 5003),
        ("b", 5004),
    ] {
        hub.record(&s("X", name, Some(us), None));
    }
    hub.record(&s("X", "b", None, None));
    let bounds = [1000, 5000, 10_000];
    hub.read(|agg| {
        let a = agg.entry("a", "X").unwrap().counts_at_or_below_us(&bounds);
        let b = agg.entry("b", "X").unwrap().counts_at_or_below_us(&bounds);
        assert_eq!(a, [2, 3, 3]);
        assert_eq!(b, [0, 1, 2], "requests without a time are not counted");
        let total = agg.total().counts_at_or_below_us(&bounds);
        let sum: Vec<u64> = a.iter().zip(&b).map(|(x, y)| x + y).collect();
        assert_eq!(total, sum);
        assert_eq!(agg.total().counts_at_or_below_us(&[]), Vec::<u64>::new());
    });
}

#[test]
fn current_window_and_rates() {
    let t0 = 1_700_000_000.0;
    let hub = StatsHub::new_at(StatsLimits::default(), t0);
    // seconds 0..30: 10 req/s at 1 ms; seconds 30..40: 20 req/s at 50 ms, every 4th failing
    for sec in 0..40 {
        let (n, rt) = if sec < 30 { (10, 1000) } else { (20, 50_000) };
        for i in 0..n {
            let err = (sec >= 30 && i % 4 == 0).then_some("bad");
            hub.record_at(
                &s("GET", "/", Some(rt), err),
                t0 + sec as f64 + i as f64 / 100.0,
            );
        }
    }
    hub.read(|agg| {
        let e = agg.entry("/", "GET").unwrap();
        // window for current rps: seconds [39-12, 39-2) = 27..37 -> 3*10 + 7*20 = 170 / 10
        assert!((e.current_rps() - 17.0).abs() < 1e-9, "{}", e.current_rps());
        assert!((e.current_fail_per_sec() - 3.5).abs() < 1e-9);
        // last 10 seconds (30..=39) are all 50 ms
        let now = t0 + 39.5;
        let cur = e.current_percentiles_at(&[0.5, 1.0], now).unwrap();
        assert!((cur[0] - 50.0).abs() < 0.1, "{cur:?}");
        // window 25..=34: 50 samples at 1 ms, 100 at 50 ms -> p50 is 50, p25 is 1
        let cur = e.current_percentiles_at(&[0.25, 0.5], t0 + 34.2).unwrap();
        assert_eq!(cur[0], 1.0);
        assert!((cur[1] - 50.0).abs() < 0.1);
        // cumulative median is still 1 ms (300 vs 200 samples)
        assert_eq!(e.median_response_time(), 1.0);
        assert!(e.current_percentiles_at(&[0.5], t0 + 0.5).is_none());
        // nothing recorded in the window -> 0
        assert_eq!(
            e.current_percentiles_at(&[0.5], t0 + 100.0).unwrap(),
            vec![0.0]
        );
        // total rps over the whole run
        let total = 500.0 / (t0 + 39.19 - t0);
        assert!((e.total_rps() - total).abs() < 1e-6);
        let secs = e.num_reqs_per_sec();
        assert_eq!(secs.len(), 40);
        assert_eq!(secs[0], (t0 as i64, 10));
        assert_eq!(e.num_fail_per_sec().len(), 10);
    });
}

#[test]
fn reset_zeroes_entries_and_errors_but_keeps_rows() {
    let hub = StatsHub::new(StatsLimits::default());
    hub.record(&s("GET", "/", Some(1000), Some("e1")));
    hub.log_exception("m", "tb", "local");
    hub.merge();
    hub.record(&s("GET", "/", Some(1000), Some("e1")));
    hub.reset_at(1_800_000_000.0);
    hub.read(|agg| {
        assert_eq!(agg.entries().len(), 1);
        assert_eq!(agg.entries()[0].num_requests(), 0);
        assert_eq!(agg.total().num_requests(), 0);
        assert!(agg.errors().is_empty());
        assert_eq!(agg.exceptions().len(), 1);
        assert_eq!(agg.start_time(), 1_800_000_000.0);
        assert_eq!(agg.entries()[0].start_time(), 1_800_000_000.0);
        // Locust prints zero rows for entries without requests (captured from Locust 2.47)
        let table = console::stats_table(agg, true);
        let row = "GET      /                                                                                  0     0(0.00%) |      0       0       0      0 |    0.00        0.00";
        assert!(table.lines().any(|l| l == row), "{table}");
        assert!(console::error_report(agg).is_empty());
    });
    hub.record(&s("GET", "/", Some(2000), Some("e2")));
    hub.record(&s("GET", "/", Some(2000), Some("e1")));
    hub.read(|agg| {
        assert_eq!(agg.total().num_requests(), 2);
        assert_eq!(agg.total().min_response_time(), Some(2.0));
        let errs: Vec<&str> = agg
            .errors_in_order_seen()
            .iter()
            .map(|e| e.error.as_str())
            .collect();
        assert_eq!(errs, vec!["e2", "e1"]);
    });
    hub.reset_exceptions();
    hub.read(|agg| assert!(agg.exceptions().is_empty()));
}

#[test]
fn errors_grouped_with_first_and_last_seen() {
    let hub = StatsHub::new(StatsLimits::default());
    hub.record_at(&s("GET", "/a", Some(1), Some("x")), 100.5);
    hub.record_at(&s("GET", "/a", Some(1), Some("x")), 103.25);
    hub.record_at(&s("GET", "/a", Some(1), Some("x")), 101.0);
    hub.record_at(&s("GET", "/b", Some(1), Some("x")), 102.0);
    hub.record_at(&s("GET", "/b", Some(1), Some("y")), 102.0);
    hub.record_at(&s("GET", "/b", Some(1), Some("y")), 102.0);
    hub.log_exception("kaboom", "tb1", "w2");
    hub.log_exception("kaboom", "tb1", "w1");
    hub.log_exception("other", "tb2", "local");
    hub.read(|agg| {
        let e = agg.errors();
        assert_eq!(e.len(), 3);
        assert_eq!(
            (e[0].name.as_str(), e[0].error.as_str(), e[0].occurrences),
            ("/a", "x", 3)
        );
        assert_eq!((e[0].first_seen, e[0].last_seen), (100.5, 103.25));
        assert_eq!(
            (e[1].name.as_str(), e[1].error.as_str(), e[1].occurrences),
            ("/b", "y", 2)
        );
        assert_eq!(e[2].occurrences, 1);
        let x = agg.exceptions();
        assert_eq!(x.len(), 2);
        assert_eq!(x[0].count, 2);
        assert_eq!(
            x[0].nodes.iter().cloned().collect::<Vec<_>>(),
            vec!["w1", "w2"]
        );
        assert_eq!(x[1].msg, "other");
    });
}

/// Replays the dataset of `tests/golden/gen_locust_golden.py` (the same samples fed to real
/// Locust 2.47).
fn golden_hub() -> Arc<StatsHub> {
    let hub = StatsHub::new_at(StatsLimits::default(), 1700000000.25);
    type Row<'a> = (f64, &'a str, &'a str, Option<u64>, u64, Option<&'a str>);
    let mut samples: Vec<Row> = Vec::new();
    for i in 0..20 {
        samples.push((
            1700000001.5 + i as f64 * 0.5,
            "GET",
            "/",
            Some([2, 4, 6][i % 3]),
            100,
            None,
        ));
    }
    for i in 0..6 {
        let err = (i % 2 == 1).then_some("HTTPError('500 Server Error')");
        samples.push((
            1700000002.1 + i as f64,
            "POST",
            "/login",
            Some(10 * (i as u64 + 1)),
            50,
            err,
        ));
    }
    for i in 0..3 {
        samples.push((1700000003.3 + i as f64, "CUSTOM", "nonetime", None, 0, None));
    }
    samples.push((
        1700000004.0,
        "GET",
        "/a,b \"q\"",
        Some(200),
        10,
        Some("ConnectionError('boom')"),
    ));
    samples.sort_by(|a, b| a.0.partial_cmp(&b.0).unwrap());
    for (t, m, n, rt, len, err) in samples {
        hub.record_at(
            &Sample {
                method: m,
                name: n,
                response_time_us: rt.map(|ms| ms * 1000),
                content_length: len,
                error: err,
            },
            t,
        );
    }
    hub.log_exception(
        "kaboom",
        "  File \"x.py\", line 1\n    raise ValueError(\"kaboom\")\n",
        "local",
    );
    hub.log_exception(
        "kaboom",
        "  File \"x.py\", line 1\n    raise ValueError(\"kaboom\")\n",
        "local",
    );
    hub
}

fn golden(name: &str) -> String {
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(name);
    std::fs::read_to_string(&p).unwrap()
}

#[test]
fn console_matches_locust() {
    let hub = golden_hub();
    hub.read(|agg| {
        // Locust prints averages as truncated ints (3, 18); we print format_ms (3.9, 18.1).
        let adapt = |s: String| {
            s.replace(
                "|      3       2       6      4 |",
                "|    3.9       2       6      4 |",
            )
            .replace(
                "|     18       2     200      4 |",
                "|   18.1       2     200      4 |",
            )
        };
        assert_eq!(
            console::stats_table(agg, true),
            adapt(golden("table_current.txt"))
        );
        assert_eq!(
            console::stats_table(agg, false),
            adapt(golden("table_total.txt"))
        );
        assert_eq!(console::percentiles_table(agg), golden("percentiles.txt"));
        assert_eq!(console::error_report(agg), golden("errors.txt"));
    });
}

#[test]
fn csv_matches_locust() {
    let hub = golden_hub();
    hub.read(|agg| {
        assert_eq!(csv::stats_csv(agg), golden("stats_csv.txt"));
        // Locust orders failure rows by an internal hash; ours by occurrences (same rows here).
        assert_eq!(csv::failures_csv(agg), golden("failures_csv.txt"));
        assert_eq!(csv::exceptions_csv(agg), golden("exceptions_csv.txt"));
        assert_eq!(
            csv::history_rows(agg, 3, 1700000012.0, false),
            golden("history.txt")
        );
        assert_eq!(
            csv::history_rows(agg, 3, 1700000012.0, true),
            golden("history_full.txt")
        );
    });
}

#[test]
fn json_matches_locust() {
    let hub = golden_hub();
    hub.read(|agg| {
        // Locust keeps integer ms when the user reported ints; our times are always floats.
        let want = golden("json.txt")
            .replace(
                "\"total_response_time\": 78,",
                "\"total_response_time\": 78.0,",
            )
            .replace(
                "\"total_response_time\": 210,",
                "\"total_response_time\": 210.0,",
            )
            .replace(
                "\"total_response_time\": 200,",
                "\"total_response_time\": 200.0,",
            )
            .replace("\"max_response_time\": 6,", "\"max_response_time\": 6.0,")
            .replace("\"max_response_time\": 60,", "\"max_response_time\": 60.0,")
            .replace(
                "\"max_response_time\": 200,",
                "\"max_response_time\": 200.0,",
            )
            .replace("\"min_response_time\": 2,", "\"min_response_time\": 2.0,")
            .replace("\"min_response_time\": 10,", "\"min_response_time\": 10.0,")
            .replace(
                "\"min_response_time\": 200,",
                "\"min_response_time\": 200.0,",
            );
        assert_eq!(json::stats_json(agg), want);
    });
}

#[test]
fn csv_writer_writes_files() {
    let dir = tempfile::tempdir().unwrap();
    let prefix = dir.path().join("sub/dir/run");
    let hub = golden_hub();
    let mut w = csv::CsvWriter::create(&prefix, false).unwrap();
    hub.read(|agg| w.write_snapshot(agg, 3, 1700000012.0))
        .unwrap();
    hub.read(|agg| w.write_snapshot(agg, 3, 1700000012.0))
        .unwrap();
    let read = |suffix: &str| {
        std::fs::read_to_string(dir.path().join(format!("sub/dir/run{suffix}"))).unwrap()
    };
    assert_eq!(read("_stats.csv"), golden("stats_csv.txt"));
    assert_eq!(read("_failures.csv"), golden("failures_csv.txt"));
    assert_eq!(read("_exceptions.csv"), golden("exceptions_csv.txt"));
    let hist = read("_stats_history.csv");
    let header = csv::history_header().join(",");
    assert_eq!(
        hist,
        format!(
            "{header}\r\n{}{}",
            golden("history.txt"),
            golden("history.txt")
        )
    );
    // every numeric field parses as a float
    for line in read("_stats.csv").lines().skip(1) {
        for f in line.rsplit(',').take(20) {
            assert!(f.parse::<f64>().is_ok() || f == "N/A", "{f}");
        }
    }
    let bad = csv::CsvWriter::create(std::path::Path::new("/proc/nonexistent/x"), false);
    assert!(bad.unwrap_err().to_string().contains("--csv"));
}

#[test]
fn empty_outputs() {
    let hub = StatsHub::new_at(StatsLimits::default(), 1700000000.0);
    hub.read(|agg| {
        assert_eq!(json::stats_json(agg), "[]");
        assert_eq!(console::error_report(agg), "");
        let csv = csv::stats_csv(agg);
        assert!(csv.ends_with(",Aggregated,0,0,0,0.0,0,0,0,0.0,0.0,N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/A\r\n"), "{csv}");
        let h = csv::history_rows(agg, 0, 1700000001.0, false);
        assert_eq!(h, "1700000001,0,,Aggregated,0.000000,0.000000,N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/A,0,0,0,0.0,0,0,0\r\n");
        let t = console::stats_table(agg, true);
        assert!(t.contains("         Aggregated"));
    });
}

#[test]
fn per_second_counts_are_bounded_in_long_runs() {
    use crate::entry::PER_SECOND_RETENTION;
    let t0 = 1_700_000_000.0;
    let hub = StatsHub::new_at(StatsLimits::default(), t0);
    // five hours, one request per second (every 10th failing), merged as a run does
    let seconds = 5 * 3600;
    for sec in 0..seconds {
        let err = (sec % 10 == 0).then_some("bad");
        hub.record_at(&s("GET", "/", Some(1000), err), t0 + sec as f64 + 0.5);
        if sec % 60 == 0 {
            hub.merge();
        }
    }
    hub.merge();
    hub.read(|agg| {
        let e = agg.entry("/", "GET").unwrap();
        // all requests are still counted ...
        assert_eq!(e.num_requests(), seconds as u64);
        // ... but only the last hour of per-second counts is kept and reported
        let secs = e.num_reqs_per_sec();
        assert_eq!(secs.len(), PER_SECOND_RETENTION);
        assert_eq!(secs.last(), Some(&(t0 as i64 + seconds - 1, 1)));
        assert_eq!(secs[0].0, t0 as i64 + seconds - PER_SECOND_RETENTION as i64);
        assert_eq!(e.num_fail_per_sec().len(), PER_SECOND_RETENTION / 10);
        // the current rate still reads the recent seconds
        assert!((e.current_rps() - 1.0).abs() < 1e-9, "{}", e.current_rps());
        assert!(e.per_second_capacity() <= 2 * PER_SECOND_RETENTION + 1);
    });
}
