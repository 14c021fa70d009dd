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
