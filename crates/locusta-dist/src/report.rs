//! Statistics reports in Locust's shape.
//!
//! A worker's `stats` message carries `stats` (a list of serialized `StatsEntry` dicts),
//! `stats_total`, `errors` (keyed by Locust's sha256 error key), `user_classes_count` and
//! `user_count`. Between locusta nodes each entry dict also carries `locusta_hist_us`, a flat
//! `[µs, count, µs, count, ...]` list of the HDR histogram's recorded values: a Locust master
//! ignores unknown entry keys, and a locusta master uses it instead of Locust's rounded
//! millisecond buckets, so distributed percentiles equal a single process's.

use rmpv::Value;
use sha2::{Digest, Sha256};

use locusta_http::py_str;
use locusta_stats::{EntryDelta, ErrorRow, StatsReport};

use crate::protocol::{as_f64, as_u64, class_counts, class_counts_value, get, map, DecodeError};
use crate::wire::{deeper, text, Cursor, Scalar, DATA_DEPTH};

/// The extra entry key with the lossless histogram.
pub const HIST_KEY: &str = "locusta_hist_us";
/// At most this many stats entries are accepted in one report (Locust's default
/// `--max-stats-entries` is 1000; extra room for the overflow rows).
pub const MAX_REPORT_ENTRIES: usize = 2048;
/// At most this many histogram pairs per entry (an HDR histogram with 3 significant digits
/// spanning an hour has far fewer).
pub const MAX_HIST_PAIRS: usize = 100_000;

/// A decoded `stats` message.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WorkerReport {
    /// The statistics.
    pub stats: StatsReport,
    /// Users per class on the worker.
    pub user_classes_count: Vec<(String, u64)>,
    /// Users on the worker.
    pub user_count: u64,
}

fn opt_f64(v: Option<f64>) -> Value {
    v.map_or(Value::Nil, Value::from)
}

fn int_map(pairs: impl Iterator<Item = (i64, u64)>) -> Value {
    Value::Map(
        pairs
            .map(|(k, v)| (Value::from(k), Value::from(v)))
            .collect(),
    )
}

/// One entry dict, in Locust's key order.
pub fn entry_value(d: &EntryDelta, with_hist: bool) -> Value {
    let mut pairs = vec![
        ("name", Value::from(d.name.as_str())),
        ("method", Value::from(d.method.as_str())),
        ("last_request_timestamp", opt_f64(d.last_request_timestamp)),
        ("start_time", Value::from(d.start_time)),
        ("num_requests", Value::from(d.num_requests)),
        ("num_none_requests", Value::from(d.num_none_requests)),
        ("num_failures", Value::from(d.num_failures)),
        ("total_response_time", Value::from(d.total_response_time)),
        ("max_response_time", Value::from(d.max_response_time)),
        ("min_response_time", opt_f64(d.min_response_time)),
        ("total_content_length", Value::from(d.total_content_length)),
        (
            "response_times",
            int_map(d.response_times.iter().map(|&(k, v)| (k as i64, v))),
        ),
        (
            "num_reqs_per_sec",
            int_map(d.num_reqs_per_sec.iter().copied()),
        ),
        (
            "num_fail_per_sec",
            int_map(d.num_fail_per_sec.iter().copied()),
        ),
    ];
    if with_hist {
        if let Some(h) = &d.hist_us {
            let flat = h
                .iter()
                .flat_map(|&(v, c)| [Value::from(v), Value::from(c)])
                .collect();
            pairs.push((HIST_KEY, Value::Array(flat)));
        }
    }
    map(pairs)
}

/// Locust's `StatsError.create_key`.
pub fn error_key(method: &str, name: &str, error: &str) -> String {
    let key = format!("{method}.{name}.{}", py_str(error));
    let digest = Sha256::digest(key.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// The `stats` message data.
pub fn report_value(r: &WorkerReport, with_hist: bool) -> Value {
    let errors = Value::Map(
        r.stats
            .errors
            .iter()
            .map(|e| {
                (
                    Value::from(error_key(&e.method, &e.name, &e.error)),
                    map(vec![
                        ("name", Value::from(e.name.as_str())),
                        ("method", Value::from(e.method.as_str())),
                        ("error", Value::from(e.error.as_str())),
                        ("occurrences", Value::from(e.occurrences)),
                        ("first_seen", Value::from(e.first_seen)),
                        ("last_seen", Value::from(e.last_seen)),
                    ]),
                )
            })
            .collect(),
    );
    map(vec![
        (
            "stats",
            Value::Array(
                r.stats
                    .entries
                    .iter()
                    .map(|d| entry_value(d, with_hist))
                    .collect(),
            ),
        ),
        ("stats_total", entry_value(&r.stats.total, with_hist)),
        ("errors", errors),
        (
            "user_classes_count",
            class_counts_value(&r.user_classes_count),
        ),
        ("user_count", Value::from(r.user_count)),
    ])
}

fn bad(what: &str) -> DecodeError {
    DecodeError(format!("bad stats report: {what}"))
}

fn str_field(v: &Value, key: &str) -> Result<String, DecodeError> {
    match get(v, key) {
        Some(Value::String(s)) => s
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| bad(&format!("{key} is not UTF-8"))),
        Some(Value::Nil) | None => Ok(String::new()),
        Some(_) => Err(bad(&format!("{key} is not a string"))),
    }
}

fn u64_field(v: &Value, key: &str) -> Result<u64, DecodeError> {
    match get(v, key) {
        None | Some(Value::Nil) => Ok(0),
        Some(x) => as_u64(x).ok_or_else(|| bad(&format!("{key} is not a count"))),
    }
}

fn f64_field(v: &Value, key: &str) -> Result<Option<f64>, DecodeError> {
    match get(v, key) {
        None | Some(Value::Nil) => Ok(None),
        Some(x) => match as_f64(x) {
            Some(f) if f.is_finite() => Ok(Some(f)),
            _ => Err(bad(&format!("{key} is not a number"))),
        },
    }
}

/// `{number: count}` maps; keys may be ints or floats (Locust rounds with `round(x, -1)`).
fn count_map(v: &Value, key: &str) -> Result<Vec<(i64, u64)>, DecodeError> {
    match get(v, key) {
        None | Some(Value::Nil) => Ok(Vec::new()),
        Some(Value::Map(pairs)) => {
            if pairs.len() > MAX_HIST_PAIRS {
                return Err(bad(&format!("{key} has too many entries")));
            }
            pairs
                .iter()
                .map(|(k, c)| {
                    let k = match k {
                        Value::Integer(i) => i.as_i64(),
                        other => as_f64(other)
                            .filter(|f| f.is_finite() && f.abs() < 9.0e15)
                            .map(|f| f.round() as i64),
                    };
                    match (k, as_u64(c)) {
                        (Some(k), Some(c)) => Ok((k, c)),
                        _ => Err(bad(&format!("{key} has a non-numeric entry"))),
                    }
                })
                .collect()
        }
        Some(_) => Err(bad(&format!("{key} is not a map"))),
    }
}

/// One serialized `StatsEntry` dict.
pub fn entry_from_value(v: &Value) -> Result<EntryDelta, DecodeError> {
    if !matches!(v, Value::Map(_)) {
        return Err(bad("an entry is not a map"));
    }
    let response_times = count_map(v, "response_times")?
        .into_iter()
        .filter(|&(k, _)| k >= 0)
        .map(|(k, c)| (k as u64, c))
        .collect();
    let hist_us = match get(v, HIST_KEY) {
        None | Some(Value::Nil) => None,
        Some(Value::Array(flat)) => {
            if flat.len() % 2 != 0 || flat.len() > 2 * MAX_HIST_PAIRS {
                return Err(bad("histogram has a bad length"));
            }
            let mut out = Vec::with_capacity(flat.len() / 2);
            for pair in flat.chunks(2) {
                match (as_u64(&pair[0]), as_u64(&pair[1])) {
                    (Some(v), Some(c)) => out.push((v, c)),
                    _ => return Err(bad("histogram has a non-numeric entry")),
                }
            }
            Some(out)
        }
        Some(_) => return Err(bad("histogram is not a list")),
    };
    Ok(EntryDelta {
        name: str_field(v, "name")?,
        method: str_field(v, "method")?,
        last_request_timestamp: f64_field(v, "last_request_timestamp")?,
        start_time: f64_field(v, "start_time")?.unwrap_or(0.0),
        num_requests: u64_field(v, "num_requests")?,
        num_none_requests: u64_field(v, "num_none_requests")?,
        num_failures: u64_field(v, "num_failures")?,
        total_response_time: f64_field(v, "total_response_time")?.unwrap_or(0.0),
        max_response_time: f64_field(v, "max_response_time")?.unwrap_or(0.0),
        min_response_time: f64_field(v, "min_response_time")?,
        total_content_length: u64_field(v, "total_content_length")?,
        response_times,
        num_reqs_per_sec: count_map(v, "num_reqs_per_sec")?,
        num_fail_per_sec: count_map(v, "num_fail_per_sec")?,
        hist_us,
    })
}

/// Decodes a `stats` message's data; anything malformed refuses the whole report.
pub fn report_from_value(v: &Value) -> Result<WorkerReport, DecodeError> {
    let entries = match get(v, "stats") {
        Some(Value::Array(list)) => {
            if list.len() > MAX_REPORT_ENTRIES {
                return Err(bad("too many entries"));
            }
            list.iter()
                .map(entry_from_value)
                .collect::<Result<Vec<_>, _>>()?
        }
        None | Some(Value::Nil) => Vec::new(),
        Some(_) => return Err(bad("stats is not a list")),
    };
    let total = match get(v, "stats_total") {
        Some(t) => entry_from_value(t)?,
        None => return Err(bad("stats_total is missing")),
    };
    let errors = match get(v, "errors") {
        Some(Value::Map(pairs)) => {
            if pairs.len() > MAX_REPORT_ENTRIES {
                return Err(bad("too many errors"));
            }
            pairs
                .iter()
                .map(|(_, e)| {
                    Ok(ErrorRow {
                        method: str_field(e, "method")?,
                        name: str_field(e, "name")?,
                        error: str_field(e, "error")?,
                        occurrences: u64_field(e, "occurrences")?,
                        first_seen: f64_field(e, "first_seen")?.unwrap_or(0.0),
                        last_seen: f64_field(e, "last_seen")?.unwrap_or(0.0),
                    })
                })
                .collect::<Result<Vec<_>, DecodeError>>()?
        }
        None | Some(Value::Nil) => Vec::new(),
        Some(_) => return Err(bad("errors is not a map")),
    };
    // Locust requires user_classes_count; a report without it is refused as Locust does.
    let user_classes_count = match get(v, "user_classes_count") {
        Some(c) => class_counts(c)?,
        None => return Err(bad("user_classes_count is missing")),
    };
    Ok(WorkerReport {
        stats: StatsReport {
            entries,
            total,
            errors,
        },
        user_classes_count,
        user_count: u64_field(v, "user_count")?,
    })
}

/// The keys of an entry dict the master reads, in [`entry_from_cursor`]'s slot order.
const ENTRY_KEYS: [&str; 15] = [
    "name",
    "method",
    "last_request_timestamp",
    "start_time",
    "num_requests",
    "num_none_requests",
    "num_failures",
    "total_response_time",
    "max_response_time",
    "min_response_time",
    "total_content_length",
    "response_times",
    "num_reqs_per_sec",
    "num_fail_per_sec",
    HIST_KEY,
];

/// A string field in place: nil reads as "" (as [`str_field`]).
fn str_at(c: &mut Cursor<'_>, key: &str) -> Result<String, DecodeError> {
    match c.head()? {
        Scalar::Str(s) => text(s)
            .map(str::to_owned)
            .ok_or_else(|| bad(&format!("{key} is not UTF-8"))),
        Scalar::Nil => Ok(String::new()),
        _ => Err(bad(&format!("{key} is not a string"))),
    }
}

/// A count in place: nil reads as 0 (as [`u64_field`]).
fn u64_at(c: &mut Cursor<'_>, key: &str) -> Result<u64, DecodeError> {
    match c.head()? {
        Scalar::Nil => Ok(0),
        x => x
            .as_u64()
            .ok_or_else(|| bad(&format!("{key} is not a count"))),
    }
}

/// A finite number in place, or None for nil (as [`f64_field`]).
fn f64_at(c: &mut Cursor<'_>, key: &str) -> Result<Option<f64>, DecodeError> {
    match c.head()? {
        Scalar::Nil => Ok(None),
        x => match x.as_f64() {
            Some(f) if f.is_finite() => Ok(Some(f)),
            _ => Err(bad(&format!("{key} is not a number"))),
        },
    }
}

/// A `{number: count}` map in place, at most `depth` deep (as [`count_map`]).
fn count_map_at(
    c: &mut Cursor<'_>,
    key: &str,
    depth: usize,
) -> Result<Vec<(i64, u64)>, DecodeError> {
    let n = match c.head()? {
        Scalar::Nil => return Ok(Vec::new()),
        Scalar::Map(n) => n,
        _ => return Err(bad(&format!("{key} is not a map"))),
    };
    if n > MAX_HIST_PAIRS {
        return Err(bad(&format!("{key} has too many entries")));
    }
    let inner = deeper(depth)?;
    if n > c.remaining() {
        return Err(DecodeError("not a msgpack message: truncated".into()));
    }
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let k = c.head()?;
        c.skip_rest(k, inner)?;
        let v = c.head()?;
        c.skip_rest(v, inner)?;
        let k = match k {
            Scalar::Uint(_) | Scalar::Int(_) => k.as_i64(),
            other => other
                .as_f64()
                .filter(|f| f.is_finite() && f.abs() < 9.0e15)
                .map(|f| f.round() as i64),
        };
        match (k, v.as_u64()) {
            (Some(k), Some(v)) => out.push((k, v)),
            _ => return Err(bad(&format!("{key} has a non-numeric entry"))),
        }
    }
    Ok(out)
}

/// The lossless histogram list in place, at most `depth` deep (as in [`entry_from_value`]).
fn hist_at(c: &mut Cursor<'_>, depth: usize) -> Result<Option<Vec<(u64, u64)>>, DecodeError> {
    let n = match c.head()? {
        Scalar::Nil => return Ok(None),
        Scalar::Array(n) => n,
        _ => return Err(bad("histogram is not a list")),
    };
    if n % 2 != 0 || n > 2 * MAX_HIST_PAIRS {
        return Err(bad("histogram has a bad length"));
    }
    let inner = deeper(depth)?;
    if n > c.remaining() {
        return Err(DecodeError("not a msgpack message: truncated".into()));
    }
    let mut out = Vec::with_capacity(n / 2);
    for _ in 0..n / 2 {
        let v = c.head()?;
        c.skip_rest(v, inner)?;
        let k = c.head()?;
        c.skip_rest(k, inner)?;
        match (v.as_u64(), k.as_u64()) {
            (Some(v), Some(k)) => out.push((v, k)),
            _ => return Err(bad("histogram has a non-numeric entry")),
        }
    }
    Ok(Some(out))
}

/// One entry dict read in place, at most `depth` deep (the same result as
/// [`entry_from_value`]).
fn entry_from_cursor(c: &mut Cursor<'_>, depth: usize) -> Result<EntryDelta, DecodeError> {
    let Scalar::Map(n) = c.head()? else {
        return Err(bad("an entry is not a map"));
    };
    let inner = deeper(depth)?;
    let mut d = EntryDelta::default();
    let mut seen = 0;
    c.map_fields(n, depth, &mut seen, &ENTRY_KEYS, |i, c| {
        let key = ENTRY_KEYS[i];
        match i {
            0 => d.name = str_at(c, key)?,
            1 => d.method = str_at(c, key)?,
            2 => d.last_request_timestamp = f64_at(c, key)?,
            3 => d.start_time = f64_at(c, key)?.unwrap_or(0.0),
            4 => d.num_requests = u64_at(c, key)?,
            5 => d.num_none_requests = u64_at(c, key)?,
            6 => d.num_failures = u64_at(c, key)?,
            7 => d.total_response_time = f64_at(c, key)?.unwrap_or(0.0),
            8 => d.max_response_time = f64_at(c, key)?.unwrap_or(0.0),
            9 => d.min_response_time = f64_at(c, key)?,
            10 => d.total_content_length = u64_at(c, key)?,
            11 => {
                d.response_times = count_map_at(c, key, inner)?
                    .into_iter()
                    .filter(|&(k, _)| k >= 0)
                    .map(|(k, n)| (k as u64, n))
                    .collect()
            }
            12 => d.num_reqs_per_sec = count_map_at(c, key, inner)?,
            13 => d.num_fail_per_sec = count_map_at(c, key, inner)?,
            _ => d.hist_us = hist_at(c, inner)?,
        }
        Ok(true)
    })?;
    Ok(d)
}

/// One error dict read in place, at most `depth` deep; anything but a map reads as an empty
/// row (as the value path's lookups in a non-map do).
fn error_from_cursor(c: &mut Cursor<'_>, depth: usize) -> Result<ErrorRow, DecodeError> {
    const KEYS: [&str; 6] = [
        "method",
        "name",
        "error",
        "occurrences",
        "first_seen",
        "last_seen",
    ];
    let mut e = ErrorRow {
        method: String::new(),
        name: String::new(),
        error: String::new(),
        occurrences: 0,
        first_seen: 0.0,
        last_seen: 0.0,
    };
    let n = match c.head()? {
        Scalar::Map(n) => n,
        other => {
            c.skip_rest(other, depth)?;
            return Ok(e);
        }
    };
    let mut seen = 0;
    c.map_fields(n, depth, &mut seen, &KEYS, |i, c| {
        let key = KEYS[i];
        match i {
            0 => e.method = str_at(c, key)?,
            1 => e.name = str_at(c, key)?,
            2 => e.error = str_at(c, key)?,
            3 => e.occurrences = u64_at(c, key)?,
            4 => e.first_seen = f64_at(c, key)?.unwrap_or(0.0),
            _ => e.last_seen = f64_at(c, key)?.unwrap_or(0.0),
        }
        Ok(true)
    })?;
    Ok(e)
}

/// Decodes a `stats` message's data in place, without a value tree: the same report, and the
/// same refusals, as [`report_from_value`] on the decoded data (nested at most as deep as a
/// message's data may be).
pub fn report_from_bytes(data: &[u8]) -> Result<WorkerReport, DecodeError> {
    let mut c = Cursor::new(data);
    let r = report_from_cursor(&mut c, DATA_DEPTH)?;
    if c.remaining() > 0 {
        return Err(DecodeError(format!(
            "{} bytes of extra data after the report",
            c.remaining()
        )));
    }
    Ok(r)
}

/// Reads a `stats` message's data at the cursor, at most `depth` deep (see
/// [`report_from_bytes`]).
pub fn report_from_cursor(c: &mut Cursor<'_>, depth: usize) -> Result<WorkerReport, DecodeError> {
    const KEYS: [&str; 5] = [
        "stats",
        "stats_total",
        "errors",
        "user_classes_count",
        "user_count",
    ];
    let n = match c.head()? {
        Scalar::Map(n) => n,
        // Lookups in a non-map find nothing: stats_total is missing.
        _ => return Err(bad("stats_total is missing")),
    };
    let inner = deeper(depth)?;
    let item = deeper(inner)?;
    let mut entries = Vec::new();
    let mut total = None;
    let mut errors = Vec::new();
    let mut classes = None;
    let mut user_count = 0;
    let mut seen = 0;
    c.map_fields(n, depth, &mut seen, &KEYS, |i, c| {
        match i {
            0 => match c.head()? {
                Scalar::Array(n) => {
                    if n > MAX_REPORT_ENTRIES {
                        return Err(bad("too many entries"));
                    }
                    entries.reserve(n.min(c.remaining()));
                    for _ in 0..n {
                        entries.push(entry_from_cursor(c, item)?);
                    }
                }
                Scalar::Nil => {}
                _ => return Err(bad("stats is not a list")),
            },
            1 => total = Some(entry_from_cursor(c, inner)?),
            2 => match c.head()? {
                Scalar::Map(n) => {
                    if n > MAX_REPORT_ENTRIES {
                        return Err(bad("too many errors"));
                    }
                    for _ in 0..n {
                        c.skip(item)?;
                        errors.push(error_from_cursor(c, item)?);
                    }
                }
                Scalar::Nil => {}
                _ => return Err(bad("errors is not a map")),
            },
            3 => {
                let Scalar::Map(n) = c.head()? else {
                    return Err(DecodeError("user_classes_count is not a map".into()));
                };
                if n > c.remaining() {
                    return Err(DecodeError("not a msgpack message: truncated".into()));
                }
                let mut v = Vec::with_capacity(n);
                for _ in 0..n {
                    let k = c.head()?;
                    c.skip_rest(k, item)?;
                    let n = c.head()?;
                    c.skip_rest(n, item)?;
                    let name = match k {
                        Scalar::Str(k) => text(k),
                        _ => None,
                    };
                    match (name, n.as_u64()) {
                        (Some(k), Some(n)) => v.push((k.to_owned(), n)),
                        _ => return Err(DecodeError("bad user_classes_count entry".to_string())),
                    }
                }
                classes = Some(v);
            }
            _ => user_count = u64_at(c, "user_count")?,
        }
        Ok(true)
    })?;
    let total = total.ok_or_else(|| bad("stats_total is missing"))?;
    let user_classes_count = classes.ok_or_else(|| bad("user_classes_count is missing"))?;
    Ok(WorkerReport {
        stats: StatsReport {
            entries,
            total,
            errors,
        },
        user_classes_count,
        user_count,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_repr_of_strings() {
        assert_eq!(py_str("abc"), "'abc'");
        assert_eq!(py_str("it's"), "\"it's\"");
        assert_eq!(py_str("a'b\"c"), "'a\\'b\"c'");
        assert_eq!(py_str("a\nb\\"), "'a\\nb\\\\'");
    }

    #[test]
    fn error_key_matches_locust() {
        // StatsError.create_key(...) in locust 2.47
        assert_eq!(
            error_key("GET", "/x", "boom"),
            "d2871aa744fc7ffb8e6c5e822f34fb531e6a62829c8760c4f747bf294793628f"
        );
        assert_eq!(
            error_key("POST", "/y", "it's \n bad"),
            "6853fadaf3b208c408ed51e1c2266789506aa4bf31151629fe9d721fbb198c53"
        );
    }
}
