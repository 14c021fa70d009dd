//! Locust's `--json` / `--json-file` output: an array of `StatsEntry.serialize()` objects
//! (entries with requests or failures, creation order, no Aggregated row), pretty-printed with
//! 4-space indentation and Python's `json` escaping (`ensure_ascii`).

use crate::format::py_float;
use crate::{Aggregate, Entry};
use std::fmt::Write as _;

/// Escapes a string as Python's `json.dumps` does by default (ASCII only).
fn py_json_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{08}' => out.push_str("\\b"),
            '\u{0c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 || (c as u32) > 0x7e => {
                let mut buf = [0u16; 2];
                for u in c.encode_utf16(&mut buf) {
                    let _ = write!(out, "\\u{:04x}", u);
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn push_map(out: &mut String, key: &str, pairs: &[(String, u64)], last: bool) {
    let _ = write!(out, "        {}: ", py_json_str(key));
    if pairs.is_empty() {
        out.push_str("{}");
    } else {
        out.push_str("{\n");
        for (i, (k, v)) in pairs.iter().enumerate() {
            let comma = if i + 1 < pairs.len() { "," } else { "" };
            let _ = writeln!(out, "            {}: {}{}", py_json_str(k), v, comma);
        }
        out.push_str("        }");
    }
    out.push_str(if last { "\n" } else { ",\n" });
}

fn entry_json(e: &Entry) -> String {
    let timed = e.num_requests() > e.num_none_requests();
    let fields: Vec<(&str, String)> = vec![
        ("name", py_json_str(e.name())),
        ("method", py_json_str(e.method())),
        (
            "last_request_timestamp",
            e.last_request_timestamp()
                .map_or("null".to_owned(), py_float),
        ),
        ("start_time", py_float(e.start_time())),
        ("num_requests", e.num_requests().to_string()),
        ("num_none_requests", e.num_none_requests().to_string()),
        ("num_failures", e.num_failures().to_string()),
        (
            "total_response_time",
            if timed {
                py_float(e.total_response_time())
            } else {
                "0".to_owned()
            },
        ),
        (
            "max_response_time",
            if timed {
                py_float(e.max_response_time())
            } else {
                "0".to_owned()
            },
        ),
        (
            "min_response_time",
            e.min_response_time().map_or("null".to_owned(), py_float),
        ),
        ("total_content_length", e.total_content_length().to_string()),
    ];
    let mut out = String::from("    {\n");
    for (k, v) in &fields {
        let _ = writeln!(out, "        {}: {},", py_json_str(k), v);
    }
    let rt: Vec<(String, u64)> = e
        .response_time_buckets()
        .into_iter()
        .map(|(b, c)| (b.to_string(), c))
        .collect();
    push_map(&mut out, "response_times", &rt, false);
    let rps: Vec<(String, u64)> = e
        .num_reqs_per_sec()
        .into_iter()
        .map(|(s, c)| (s.to_string(), c))
        .collect();
    push_map(&mut out, "num_reqs_per_sec", &rps, false);
    let fps: Vec<(String, u64)> = e
        .num_fail_per_sec()
        .into_iter()
        .map(|(s, c)| (s.to_string(), c))
        .collect();
    push_map(&mut out, "num_fail_per_sec", &fps, true);
    out.push_str("    }");
    out
}

/// Locust's `--json` document (no trailing newline; `print` adds one, `--json-file` does not).
pub fn stats_json(agg: &Aggregate) -> String {
    let items: Vec<String> = agg
        .entries_in_creation_order()
        .into_iter()
        .filter(|e| e.num_requests() > 0 || e.num_failures() > 0)
        .map(entry_json)
        .collect();
    if items.is_empty() {
        return "[]".to_owned();
    }
    format!("[\n{}\n]", items.join(",\n"))
}
