//! The protocol against bytes produced by Locust 2.47's own `Message.serialize`
//! (fixtures written by `tests/fixtures/make_fixtures.py`).

use locusta_dist::protocol::{self, Message};
use locusta_dist::report;

fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/fixtures/{name}.bin", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read {path}: {e}"))
}

#[test]
fn every_fixture_decodes_and_reencodes_byte_for_byte() {
    for name in [
        "client_ready",
        "client_ready_skip",
        "ack",
        "heartbeat",
        "spawn",
        "spawning",
        "spawning_complete",
        "stats",
        "stop",
        "quit",
        "exception",
        "custom_datetime",
    ] {
        let bytes = fixture(name);
        let msg = Message::decode(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(msg.node_id, "host_abc", "{name}");
        assert_eq!(msg.encode(), bytes, "{name} re-encodes to Locust's bytes");
    }
}

#[test]
fn messages_built_here_equal_locusts() {
    let m = Message::new("client_ready", "2.47.0".into(), "host_abc");
    assert_eq!(m.encode(), fixture("client_ready"));
    let m = Message::new("client_ready", (-1).into(), "host_abc");
    assert_eq!(m.encode(), fixture("client_ready_skip"));
    let m = Message::new("spawning", rmpv::Value::Nil, "host_abc");
    assert_eq!(m.encode(), fixture("spawning"));
    let m = Message::new(
        "spawning_complete",
        protocol::map(vec![
            (
                "user_classes_count",
                protocol::class_counts_value(&[("UserA".into(), 3)]),
            ),
            ("user_count", 3.into()),
        ]),
        "host_abc",
    );
    assert_eq!(m.encode(), fixture("spawning_complete"));
    let m = Message::new(
        "heartbeat",
        protocol::map(vec![
            ("state", "running".into()),
            ("current_cpu_usage", 12.5.into()),
            ("current_memory_usage", 123456789u64.into()),
        ]),
        "host_abc",
    );
    assert_eq!(m.encode(), fixture("heartbeat"));
}

#[test]
fn locust_stats_report_decodes_and_round_trips() {
    let msg = Message::decode(&fixture("stats")).expect("decodes");
    let r = report::report_from_value(&msg.data).expect("a valid report");
    assert_eq!(r.user_count, 3);
    assert_eq!(r.user_classes_count, vec![("UserA".to_string(), 3)]);
    assert_eq!(r.stats.entries.len(), 1);
    let e = &r.stats.entries[0];
    assert_eq!((e.name.as_str(), e.method.as_str()), ("/shop", "GET"));
    assert_eq!(e.num_requests, 3);
    assert_eq!(e.num_failures, 1);
    assert_eq!(e.min_response_time, Some(12.5));
    assert_eq!(e.response_times, vec![(12, 1), (100, 1), (200, 1)]);
    assert_eq!(
        e.num_reqs_per_sec,
        vec![(1_700_000_000, 1), (1_700_000_001, 2)]
    );
    assert!(e.hist_us.is_none());
    assert_eq!(r.stats.total.name, "Aggregated");
    assert_eq!(r.stats.errors.len(), 1);
    assert_eq!(r.stats.errors[0].occurrences, 1);
    // Our encoding of the same report (without our extra key) equals Locust's bytes except
    // for the error key, which Locust computes from the error; here the fixture used "abc".
    let mut ours = report::report_value(&r, false);
    if let rmpv::Value::Map(pairs) = &mut ours {
        for (k, v) in pairs.iter_mut() {
            if k.as_str() == Some("errors") {
                if let rmpv::Value::Map(errs) = v {
                    errs[0].0 = "abc".into();
                }
            }
        }
    }
    let again = Message::new("stats", ours, "host_abc").encode();
    assert_eq!(again, fixture("stats"));
}

#[test]
fn malformed_reports_are_refused() {
    let msg = Message::decode(&fixture("spawn")).expect("decodes");
    assert!(report::report_from_value(&msg.data).is_err());
    let no_classes = protocol::map(vec![
        ("stats", rmpv::Value::Array(vec![])),
        (
            "stats_total",
            protocol::map(vec![("name", "Aggregated".into())]),
        ),
        ("errors", protocol::map(vec![])),
    ]);
    assert!(report::report_from_value(&no_classes).is_err());
    let bad_entry = protocol::map(vec![
        (
            "stats",
            rmpv::Value::Array(vec![protocol::map(vec![("num_requests", "x".into())])]),
        ),
        (
            "stats_total",
            protocol::map(vec![("name", "Aggregated".into())]),
        ),
        ("user_classes_count", protocol::map(vec![])),
    ]);
    assert!(report::report_from_value(&bad_entry).is_err());
}

/// Every leaf of a value, as a path of indexes (array items; map values).
fn leaf_paths(v: &rmpv::Value, path: &mut Vec<usize>, out: &mut Vec<Vec<usize>>) {
    out.push(path.clone());
    let children: Vec<&rmpv::Value> = match v {
        rmpv::Value::Array(a) => a.iter().collect(),
        rmpv::Value::Map(m) => m.iter().map(|(_, v)| v).collect(),
        _ => return,
    };
    for (i, c) in children.into_iter().enumerate() {
        path.push(i);
        leaf_paths(c, path, out);
        path.pop();
    }
}

fn at_mut<'a>(v: &'a mut rmpv::Value, path: &[usize]) -> &'a mut rmpv::Value {
    match path.split_first() {
        None => v,
        Some((&i, rest)) => match v {
            rmpv::Value::Array(a) => at_mut(&mut a[i], rest),
            rmpv::Value::Map(m) => at_mut(&mut m[i].1, rest),
            _ => unreachable!("paths come from leaf_paths"),
        },
    }
}

fn both_paths(data: &rmpv::Value) {
    let mut bytes = Vec::new();
    rmpv::encode::write_value(&mut bytes, data).expect("encode");
    let fast = report::report_from_bytes(&bytes);
    let slow = report::report_from_value(data);
    match (&fast, &slow) {
        (Ok(a), Ok(b)) => assert_eq!(a, b, "{data}"),
        (Err(_), Err(_)) => {}
        _ => panic!("the paths disagree on {data}: {fast:?} vs {slow:?}"),
    }
}

#[test]
fn reports_read_in_place_equal_the_value_path() {
    use rmpv::Value;
    let stats = fixture("stats");
    let msg = Message::decode(&stats).expect("decodes");
    let env = locusta_dist::wire::Envelope::parse(&stats).expect("envelope");
    assert_eq!(
        report::report_from_bytes(env.data).expect("fast"),
        report::report_from_value(&msg.data).expect("slow")
    );
    // A report with every kind of field, then every field replaced by every kind of value.
    let mut rich = msg.data.clone();
    if let Value::Map(m) = &mut rich {
        m.push((
            "errors".into(),
            protocol::map(vec![(
                "k",
                protocol::map(vec![
                    ("name", "/x".into()),
                    ("method", "GET".into()),
                    ("error", "boom".into()),
                    ("occurrences", 3.into()),
                    ("first_seen", 1.5.into()),
                    ("last_seen", 2.into()),
                ]),
            )]),
        ));
    }
    both_paths(&rich);
    let mut paths = Vec::new();
    leaf_paths(&rich, &mut Vec::new(), &mut paths);
    let replacements = [
        Value::Nil,
        Value::from(true),
        Value::from(7),
        Value::from(-7),
        Value::from(u64::MAX),
        Value::from(2.5),
        Value::from(3.0),
        Value::F32(1.5),
        Value::from(f64::NAN),
        Value::from("s"),
        Value::Binary(vec![1]),
        Value::Array(vec![1.into(), 2.into()]),
        protocol::map(vec![("a", 1.into())]),
        Value::Map(vec![(1.into(), 2.into()), (2.5.into(), 3.into())]),
        Value::Ext(1, vec![0]),
    ];
    for path in &paths {
        for r in &replacements {
            let mut v = rich.clone();
            *at_mut(&mut v, path) = r.clone();
            both_paths(&v);
        }
    }
    // Cut short anywhere: refused by the envelope, never a panic.
    let full = Message::new("stats", rich, "w").encode();
    for cut in 0..full.len() {
        assert!(locusta_dist::wire::Envelope::parse(&full[..cut]).is_err());
    }
}
