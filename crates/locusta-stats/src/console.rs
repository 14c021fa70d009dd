//! Locust's console tables: the periodic/final request table, the "Response time percentiles
//! (approximated)" table and the "Error report", laid out exactly as Locust prints them (same
//! widths, separators and row order); numbers use [`format_ms`] where Locust prints integers.

use crate::format::{format_ms, readable_percentile, PERCENTILES_TO_REPORT};
use crate::{Aggregate, Entry};
use std::fmt::Write as _;

/// Locust's `STATS_NAME_WIDTH` when stdout is not a terminal.
pub const DEFAULT_NAME_WIDTH: usize = 80;
/// Locust's `STATS_TYPE_WIDTH`.
pub const TYPE_WIDTH: usize = 8;

/// Locust's name-width rule: terminal columns − 80, capped to 0..=80; 80 when not a terminal.
pub fn stats_name_width(terminal_columns: Option<usize>) -> usize {
    match terminal_columns {
        Some(c) => c.saturating_sub(80).min(80),
        None => DEFAULT_NAME_WIDTH,
    }
}

/// The request table with the default (non-terminal) name width. `current = true` gives the
/// periodic table (rates over the last ~10 s); `false` the final summary (rates over the run).
/// Ends with an empty line, as Locust's `print_stats` logs one.
pub fn stats_table(agg: &Aggregate, current: bool) -> String {
    stats_table_width(agg, current, DEFAULT_NAME_WIDTH)
}

/// [`stats_table`] with an explicit `STATS_NAME_WIDTH`.
pub fn stats_table_width(agg: &Aggregate, current: bool, name_width: usize) -> String {
    let w = name_width.saturating_sub(TYPE_WIDTH) + 4;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<8} {:<w$} {:>7} {:>12} |{:>7} {:>7} {:>7}{:>7} | {:>7} {:>11}",
        "Type",
        "Name",
        "# reqs",
        "# fails",
        "Avg",
        "Min",
        "Max",
        "Med",
        "req/s",
        "failures/s",
        w = w
    );
    let sep = format!(
        "{}|{}|{}|{}|{}|{}|{}|{}|{}|{}",
        "-".repeat(TYPE_WIDTH),
        "-".repeat(w),
        "-".repeat(7),
        "-".repeat(13),
        "-".repeat(7),
        "-".repeat(7),
        "-".repeat(7),
        "-".repeat(7),
        "-".repeat(8),
        "-".repeat(11)
    );
    out.push_str(&sep);
    out.push('\n');
    for e in agg.entries() {
        out.push_str(&stats_row(e, current, w));
        out.push('\n');
    }
    out.push_str(&sep);
    out.push('\n');
    out.push_str(&stats_row(agg.total(), current, w));
    out.push_str("\n\n");
    out
}

fn stats_row(e: &Entry, current: bool, w: usize) -> String {
    let (rps, fps) = if current {
        (e.current_rps(), e.current_fail_per_sec())
    } else {
        (e.total_rps(), e.total_fail_per_sec())
    };
    let typ = if e.method().is_empty() {
        String::new()
    } else {
        format!("{} ", e.method())
    };
    let fails = format!("{}({:.2}%)", e.num_failures(), e.fail_ratio() * 100.0);
    format!(
        "{:<8} {:<w$} {:>7} {:>12} |{:>7} {:>7} {:>7}{:>7} | {:>7.2} {:>11.2}",
        typ,
        e.name(),
        e.num_requests(),
        fails,
        format_ms(e.avg_response_time()),
        format_ms(e.min_response_time().unwrap_or(0.0)),
        format_ms(e.max_response_time()),
        format_ms(e.median_response_time()),
        rps,
        fps,
        w = w
    )
}

/// "Response time percentiles (approximated)" with the default name width; only entries with
/// timed requests get a row. Ends with an empty line.
pub fn percentiles_table(agg: &Aggregate) -> String {
    percentiles_table_width(agg, DEFAULT_NAME_WIDTH)
}

/// [`percentiles_table`] with an explicit `STATS_NAME_WIDTH`.
pub fn percentiles_table_width(agg: &Aggregate, name_width: usize) -> String {
    let w = name_width;
    let mut out = String::from("Response time percentiles (approximated)\n");
    let _ = write!(out, "{:<8} {:<w$} ", "Type", "Name", w = w);
    for (i, p) in PERCENTILES_TO_REPORT.iter().enumerate() {
        if i == 0 {
            let _ = write!(out, "{:>8}", readable_percentile(*p));
        } else {
            let _ = write!(out, " {:>6}", readable_percentile(*p));
        }
    }
    let _ = writeln!(out, " {:>6}", "# reqs");
    let mut sep = format!(
        "{}|{}|{}|",
        "-".repeat(TYPE_WIDTH),
        "-".repeat(w),
        "-".repeat(8)
    );
    for _ in 0..PERCENTILES_TO_REPORT.len() {
        sep.push_str("------|");
    }
    sep.pop();
    out.push_str(&sep);
    out.push('\n');
    let timed = |e: &Entry| e.num_requests() > e.num_none_requests();
    for e in agg.entries() {
        if timed(e) {
            out.push_str(&percentile_row(e, w));
            out.push('\n');
        }
    }
    out.push_str(&sep);
    out.push('\n');
    if timed(agg.total()) {
        out.push_str(&percentile_row(agg.total(), w));
        out.push('\n');
    }
    out.push('\n');
    out
}

fn percentile_row(e: &Entry, w: usize) -> String {
    let vals = e.percentiles(&PERCENTILES_TO_REPORT);
    let mut s = format!("{:<8} {:<w$} ", e.method(), e.name(), w = w);
    for (i, v) in vals.iter().enumerate() {
        if i == 0 {
            let _ = write!(s, "{:>8}", format_ms(*v));
        } else {
            let _ = write!(s, " {:>6}", format_ms(*v));
        }
    }
    let _ = write!(s, " {:>6}", e.num_requests());
    s
}

/// "Error report" with the default name width, rows in the order errors were first seen (as
/// Locust). Empty string when there are no errors (Locust prints nothing then).
pub fn error_report(agg: &Aggregate) -> String {
    error_report_width(agg, DEFAULT_NAME_WIDTH)
}

/// The error as Locust's report shows it: a `CatchResponseError('msg')` shows only `msg`
/// (Locust prints the exception's message, not its repr).
pub fn display_error(error: &str) -> std::borrow::Cow<'_, str> {
    let Some(inner) = error
        .strip_prefix("CatchResponseError(")
        .and_then(|rest| rest.strip_suffix(')'))
    else {
        return error.into();
    };
    let unquoted = inner
        .strip_prefix('\'')
        .and_then(|r| r.strip_suffix('\''))
        .or_else(|| inner.strip_prefix('"').and_then(|r| r.strip_suffix('"')));
    match unquoted {
        Some(msg) => msg.replace("\\'", "'").replace("\\\\", "\\").into(),
        None => inner.to_owned().into(),
    }
}

/// [`error_report`] with an explicit `STATS_NAME_WIDTH`.
pub fn error_report_width(agg: &Aggregate, name_width: usize) -> String {
    let errors = agg.errors_in_order_seen();
    if errors.is_empty() {
        return String::new();
    }
    let mut out = String::from("Error report\n");
    let _ = writeln!(out, "{:<18} {:<100}", "# occurrences", "Error");
    let sep = format!(
        "{}|{}",
        "-".repeat(18),
        "-".repeat((80 + name_width).saturating_sub(19))
    );
    out.push_str(&sep);
    out.push('\n');
    for e in errors {
        let text = format!("{} {}: {}", e.method, e.name, display_error(&e.error));
        let _ = writeln!(out, "{:<18} {:<100}", e.occurrences, text);
    }
    out.push_str(&sep);
    out.push_str("\n\n");
    out
}

#[cfg(test)]
mod tests {
    use super::display_error;

    #[test]
    fn catch_response_errors_show_their_message() {
        assert_eq!(
            display_error("CatchResponseError('Cart was empty')"),
            "Cart was empty"
        );
        assert_eq!(display_error("CatchResponseError(\"it's\")"), "it's");
        assert_eq!(
            display_error("HTTPError('500 Server Error: x for url: /')"),
            "HTTPError('500 Server Error: x for url: /')"
        );
    }
}
