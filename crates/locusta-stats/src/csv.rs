//! Locust-compatible CSV output (`--csv PREFIX`): `PREFIX_stats.csv`, `PREFIX_stats_history.csv`,
//! `PREFIX_failures.csv` and `PREFIX_exceptions.csv`, with Locust's headers, column order, row
//! order, `N/A` rules, timestamp formats and Python `csv` quoting (CRLF line ends).

use crate::format::{
    format_ms, format_utc_timestamp, py_float, readable_percentile, PERCENTILES_TO_REPORT,
};
use crate::{Aggregate, Entry};
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

/// Appends one row to `out`, quoting like Python's `csv.writer` (QUOTE_MINIMAL, `\r\n`).
fn push_row<S: AsRef<str>>(out: &mut String, fields: &[S]) {
    for (i, f) in fields.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let f = f.as_ref();
        if f.contains([',', '"', '\r', '\n']) {
            out.push('"');
            out.push_str(&f.replace('"', "\"\""));
            out.push('"');
        } else {
            out.push_str(f);
        }
    }
    out.push_str("\r\n");
}

fn percentile_headers() -> Vec<String> {
    PERCENTILES_TO_REPORT
        .iter()
        .map(|&p| readable_percentile(p))
        .collect()
}

/// Header of `_stats.csv`.
pub fn stats_header() -> Vec<String> {
    let mut h: Vec<String> = [
        "Type",
        "Name",
        "Request Count",
        "Failure Count",
        "Median Response Time",
        "Average Response Time",
        "Min Response Time",
        "Max Response Time",
        "Average Content Size",
        "Requests/s",
        "Failures/s",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    h.extend(percentile_headers());
    h
}

/// Header of `_stats_history.csv`.
pub fn history_header() -> Vec<String> {
    let mut h: Vec<String> = [
        "Timestamp",
        "User Count",
        "Type",
        "Name",
        "Requests/s",
        "Failures/s",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    h.extend(percentile_headers());
    h.extend(
        [
            "Total Request Count",
            "Total Failure Count",
            "Total Median Response Time",
            "Total Average Response Time",
            "Total Min Response Time",
            "Total Max Response Time",
            "Total Average Content Size",
        ]
        .iter()
        .map(|s| s.to_string()),
    );
    h
}

const FAILURES_HEADER: [&str; 6] = [
    "Method",
    "Name",
    "Error",
    "Occurrences",
    "First Seen",
    "Last Seen",
];
const EXCEPTIONS_HEADER: [&str; 4] = ["Count", "Message", "Traceback", "Nodes"];

fn avg_content(e: &Entry) -> String {
    // Locust: integer 0 when there are no requests, else a float.
    if e.num_requests() == 0 {
        "0".to_owned()
    } else {
        py_float(e.avg_content_length())
    }
}

fn percentile_fields(e: &Entry, current_at: Option<f64>) -> Vec<String> {
    if e.num_requests() == 0 {
        return vec!["N/A".to_owned(); PERCENTILES_TO_REPORT.len()];
    }
    let vals = match current_at {
        Some(now) => e
            .current_percentiles_at(&PERCENTILES_TO_REPORT, now)
            .unwrap_or_else(|| vec![0.0; PERCENTILES_TO_REPORT.len()]),
        None => e.percentiles(&PERCENTILES_TO_REPORT),
    };
    vals.into_iter().map(format_ms).collect()
}

fn stats_row(e: &Entry) -> Vec<String> {
    let mut r = vec![
        e.method().to_owned(),
        e.name().to_owned(),
        e.num_requests().to_string(),
        e.num_failures().to_string(),
        format_ms(e.median_response_time()),
        py_float(e.avg_response_time()),
        format_ms(e.min_response_time().unwrap_or(0.0)),
        format_ms(e.max_response_time()),
        avg_content(e),
        py_float(e.total_rps()),
        py_float(e.total_fail_per_sec()),
    ];
    r.extend(percentile_fields(e, None));
    r
}

/// Contents of `_stats.csv` (also served by the web UI): entries sorted by (name, method), then
/// the Aggregated row.
pub fn stats_csv(agg: &Aggregate) -> String {
    let mut out = String::new();
    push_row(&mut out, &stats_header());
    for e in agg
        .entries()
        .into_iter()
        .chain(std::iter::once(agg.total()))
    {
        push_row(&mut out, &stats_row(e));
    }
    out
}

/// Contents of `_failures.csv`. Rows by occurrences, descending (Locust orders them by an
/// internal hash, i.e. effectively unordered).
pub fn failures_csv(agg: &Aggregate) -> String {
    let mut out = String::new();
    push_row(&mut out, &FAILURES_HEADER);
    for e in agg.errors() {
        push_row(
            &mut out,
            &[
                e.method.clone(),
                e.name.clone(),
                e.error.clone(),
                e.occurrences.to_string(),
                format_utc_timestamp(e.first_seen),
                format_utc_timestamp(e.last_seen),
            ],
        );
    }
    out
}

/// Contents of `_exceptions.csv`: count, message, traceback, comma-joined nodes.
pub fn exceptions_csv(agg: &Aggregate) -> String {
    let mut out = String::new();
    push_row(&mut out, &EXCEPTIONS_HEADER);
    for e in agg.exceptions() {
        let nodes: Vec<&str> = e.nodes.iter().map(String::as_str).collect();
        push_row(
            &mut out,
            &[
                e.count.to_string(),
                e.msg.clone(),
                e.traceback.clone(),
                nodes.join(", "),
            ],
        );
    }
    out
}

/// Rows appended to `_stats_history.csv` for one snapshot: only Aggregated (cumulative
/// percentiles), or with `full_history` every entry plus Aggregated (current-window
/// percentiles), as Locust does.
pub fn history_rows(agg: &Aggregate, user_count: u64, unix_now: f64, full_history: bool) -> String {
    let mut out = String::new();
    let entries = if full_history {
        agg.entries()
    } else {
        Vec::new()
    };
    let ts = (unix_now.trunc() as i64).to_string();
    for e in entries.into_iter().chain(std::iter::once(agg.total())) {
        let mut r = vec![
            ts.clone(),
            user_count.to_string(),
            e.method().to_owned(),
            e.name().to_owned(),
            format!("{:.6}", e.current_rps()),
            format!("{:.6}", e.current_fail_per_sec()),
        ];
        r.extend(percentile_fields(e, full_history.then_some(unix_now)));
        r.extend([
            e.num_requests().to_string(),
            e.num_failures().to_string(),
            format_ms(e.median_response_time()),
            py_float(e.avg_response_time()),
            format_ms(e.min_response_time().unwrap_or(0.0)),
            format_ms(e.max_response_time()),
            avg_content(e),
        ]);
        push_row(&mut out, &r);
    }
    out
}

/// Writes the four CSV files of a run (Locust's `StatsCSVFileWriter`).
#[derive(Debug)]
pub struct CsvWriter {
    stats_path: PathBuf,
    failures_path: PathBuf,
    exceptions_path: PathBuf,
    history_path: PathBuf,
    history: BufWriter<File>,
    full_history: bool,
}

fn with_suffix(prefix: &Path, suffix: &str) -> PathBuf {
    let mut s = prefix.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

fn ctx(path: &Path, what: &str, e: io::Error) -> io::Error {
    io::Error::new(
        e.kind(),
        format!(
            "cannot {what} CSV file {}: {e} (check that the --csv prefix points to a writable location)",
            path.display()
        ),
    )
}

/// Replaces `path` with `contents` atomically: written to `path.tmp` first, then renamed over
/// it. A process killed at any moment (SIGKILL, OOM killer) leaves either the previous or the new
/// complete file, never a truncated one.
fn write_file(path: &Path, contents: &str) -> io::Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    fs::write(&tmp, contents).map_err(|e| ctx(&tmp, "write", e))?;
    fs::rename(&tmp, path).map_err(|e| {
        let _ = fs::remove_file(&tmp);
        ctx(path, "replace", e)
    })
}

impl CsvWriter {
    /// Creates (truncates) `PREFIX_stats.csv`, `PREFIX_stats_history.csv`,
    /// `PREFIX_failures.csv` and `PREFIX_exceptions.csv`, creating parent directories, and
    /// writes every header (the history header once).
    pub fn create(prefix: &Path, full_history: bool) -> io::Result<CsvWriter> {
        if let Some(dir) = prefix.parent().filter(|d| !d.as_os_str().is_empty()) {
            fs::create_dir_all(dir).map_err(|e| ctx(dir, "create the directory for the", e))?;
        }
        let w = CsvWriter {
            stats_path: with_suffix(prefix, "_stats.csv"),
            failures_path: with_suffix(prefix, "_failures.csv"),
            exceptions_path: with_suffix(prefix, "_exceptions.csv"),
            history_path: with_suffix(prefix, "_stats_history.csv"),
            history: {
                let p = with_suffix(prefix, "_stats_history.csv");
                let f = OpenOptions::new()
                    .create(true)
                    .write(true)
                    .truncate(true)
                    .open(&p)
                    .map_err(|e| ctx(&p, "create", e))?;
                BufWriter::new(f)
            },
            full_history,
        };
        let mut w = w;
        let mut h = String::new();
        push_row(&mut h, &stats_header());
        write_file(&w.stats_path, &h)?;
        let mut h = String::new();
        push_row(&mut h, &FAILURES_HEADER);
        write_file(&w.failures_path, &h)?;
        let mut h = String::new();
        push_row(&mut h, &EXCEPTIONS_HEADER);
        write_file(&w.exceptions_path, &h)?;
        let mut h = String::new();
        push_row(&mut h, &history_header());
        w.history
            .write_all(h.as_bytes())
            .and_then(|_| w.history.flush())
            .map_err(|e| ctx(&w.history_path, "write", e))?;
        Ok(w)
    }

    /// Rewrites the stats, failures and exceptions files and appends history rows.
    pub fn write_snapshot(
        &mut self,
        agg: &Aggregate,
        user_count: u64,
        unix_now: f64,
    ) -> io::Result<()> {
        write_file(&self.stats_path, &stats_csv(agg))?;
        let rows = history_rows(agg, user_count, unix_now, self.full_history);
        self.history
            .write_all(rows.as_bytes())
            .and_then(|_| self.history.flush())
            .map_err(|e| ctx(&self.history_path, "write", e))?;
        write_file(&self.failures_path, &failures_csv(agg))?;
        write_file(&self.exceptions_path, &exceptions_csv(agg))?;
        Ok(())
    }
}

#[cfg(test)]
mod atomic_tests {
    use super::write_file;

    #[test]
    fn files_are_replaced_whole_and_no_temporary_file_remains() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x_stats.csv");
        write_file(&path, "a,b\r\n1,2\r\n").unwrap();
        write_file(&path, "a,b\r\n").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "a,b\r\n");
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert_eq!(names, vec!["x_stats.csv".to_string()]);
    }

    #[test]
    fn an_unwritable_place_is_an_error_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("missing-dir").join("x_stats.csv");
        let err = write_file(&path, "a\r\n").unwrap_err();
        assert!(err.to_string().contains("x_stats.csv.tmp"), "{err}");
    }
}
