//! The `Options` struct (one field per Locust option, named after Locust's `dest`) and the
//! conversion of raw option text into typed, validated values.
//!
//! Raw values from every source (config files, environment, command line) are plain text; they
//! are checked here in one place so that `-u -5`, `LOCUST_USERS=-5` and `users = -5` all fail with
//! the same clear message.

use std::path::{Path, PathBuf};

use crate::spec::{by_dest, display_name};
use crate::timespan::parse_timespan;

/// Every Locust 2.47 option (plus the locusta additions), with Locust's defaults. Serialized
/// with the field names (Locust's `dest` names), which is how the Python front end sees them
/// (`environment.parsed_options`).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Options {
    /// `-f/--locustfile`: test file(s), directory, module or URL. Default `locustfile.py`.
    pub locustfile: String,
    /// `--config`: the extra config file named on the command line, if any.
    pub config: Option<PathBuf>,
    /// `-H/--host`: base URL of the system under test (an absolute http(s) URL).
    pub host: Option<String>,
    /// `-u/--users`: peak number of concurrent users.
    pub num_users: Option<u64>,
    /// `-r/--spawn-rate`: users started per second (> 0).
    pub spawn_rate: Option<f64>,
    /// `-t/--run-time`: test duration in seconds.
    pub run_time: Option<u64>,
    /// `-l/--list`: list User classes and exit.
    pub list_commands: bool,
    /// `--config-users`: User class overrides (each a JSON object with `user_class_name`).
    pub config_users: Option<Vec<serde_json::Value>>,
    /// `--web-host`: web UI bind address (`""` = all interfaces).
    pub web_host: String,
    /// `--web-host-display-name` (hidden): address printed for the web UI.
    pub web_host_display_name: Option<String>,
    /// `--web-port/-P`: web UI port. Default 8089.
    pub web_port: u16,
    /// `--headless`: no web UI, start at once. Already `false` when `--headful` was given.
    pub headless: bool,
    /// `--autostart`: start at once but keep the web UI.
    pub autostart: bool,
    /// `--autoquit`: seconds to wait after the run before quitting; -1 = never.
    pub autoquit: i64,
    /// `--headful` (hidden): overrides a `headless` setting from a config file.
    pub headful: bool,
    /// `--web-login`: login page in front of the web UI.
    pub web_login: bool,
    /// `--web-auth user:password`: basic auth for the web UI (kept by locusta, removed in Locust).
    pub web_auth: Option<String>,
    /// `--tls-cert`: certificate for serving the UI over HTTPS (`""` = none).
    pub tls_cert: String,
    /// `--tls-key`: private key for serving the UI over HTTPS (`""` = none).
    pub tls_key: String,
    /// `--class-picker`: choose User/Shape classes in the UI.
    pub class_picker: bool,
    /// `--build-path` (hidden): alternative web UI build directory (`""` = built in).
    pub build_path: String,
    /// `--web-base-path`: URL prefix of the web UI (`""` or starting with `/`).
    pub web_base_path: String,
    /// `--master`: run as master.
    pub master: bool,
    /// `--master-bind-host`: interface for workers. Default `*`.
    pub master_bind_host: String,
    /// `--master-bind-port`: port for workers. Default 5557.
    pub master_bind_port: u16,
    /// `--expect-workers`: workers to wait for (>= 1). Default 1.
    pub expect_workers: u64,
    /// `--expect-workers-max-wait`: seconds to wait for workers; 0 = forever.
    pub expect_workers_max_wait: i64,
    /// `--enable-rebalancing`: redistribute users when workers come and go.
    pub enable_rebalancing: bool,
    /// `--worker`: run as worker.
    pub worker: bool,
    /// `--processes`: number of worker processes to fork; -1 = one per CPU; 0 or None = none.
    pub processes: Option<i64>,
    /// `--master-host`: master to connect to. Default `127.0.0.1`.
    pub master_host: String,
    /// `--master-port`: master port to connect to. Default 5557.
    pub master_port: u16,
    /// `-T/--tags`: only run tasks with one of these tags (`Some(vec![])` when given empty).
    pub tags: Option<Vec<String>>,
    /// `-E/--exclude-tags`: never run tasks with one of these tags.
    pub exclude_tags: Option<Vec<String>>,
    /// `--csv`: CSV file prefix.
    pub csv_prefix: Option<String>,
    /// `--csv-full-history`: every entry in `_stats_history.csv` (requires `--csv`).
    pub stats_history_enabled: bool,
    /// `--print-stats`: periodic console table in UI runs.
    pub print_stats: bool,
    /// `--only-summary`: only the final table in headless runs.
    pub only_summary: bool,
    /// `--reset-stats`: reset statistics when spawning completes.
    pub reset_stats: bool,
    /// `--html`: HTML report file (`{u}`, `{r}`, `{t}` substituted by the report writer).
    pub html_file: Option<String>,
    /// `--json`: final statistics as JSON on stdout.
    pub json: bool,
    /// `--json-file`: final statistics as JSON in `<name>.json`.
    pub json_file: Option<String>,
    /// `--skip-log-setup`: leave logging unconfigured.
    pub skip_log_setup: bool,
    /// `--loglevel/-L`: upper-cased level (DEBUG/INFO/WARNING/ERROR/CRITICAL). Default INFO.
    pub loglevel: String,
    /// `--logfile`: log file instead of stderr.
    pub logfile: Option<String>,
    /// `--show-task-ratio`: print task ratio table and exit.
    pub show_task_ratio: bool,
    /// `--show-task-ratio-json`: print task ratios as JSON and exit.
    pub show_task_ratio_json: bool,
    /// `--exit-code-on-error`: exit code when anything failed. Default 1.
    pub exit_code_on_error: i32,
    /// `-s/--stop-timeout`: seconds (whole, from a time span) users get to finish. Default 0.
    pub stop_timeout: f64,
    /// `--equal-weights`: same weight for every task.
    pub equal_weights: bool,
    /// `--profile`: label grouping test runs.
    pub profile: Option<String>,
    /// `--otel`: OpenTelemetry instrumentation.
    pub otel: bool,
    /// Positional User class names (or `LOCUST_USER_CLASSES`); empty = all.
    pub user_classes: Vec<String>,
    /// `--threads` (locusta addition): engine worker threads. Default = number of CPUs.
    pub threads: usize,
    /// `--http2` (locusta addition): the users' HTTP/2 mode, "off" (default), "negotiate" or
    /// "prior-knowledge" (parsed by `locusta_http::Http2Mode`).
    pub http2: String,
    /// `--max-stats-entries` (locusta addition): most distinct stats entries. Default 1000.
    pub max_stats_entries: usize,
    /// `--threshold` (locusta addition, repeatable): pass/fail expressions, checked by
    /// `locusta-insight`.
    pub thresholds: Vec<String>,
    /// `--threshold-abort-after` (locusta addition): seconds after which upper-bound thresholds
    /// are checked while running.
    pub threshold_abort_after: Option<u64>,
    /// `--junit` (locusta addition): JUnit XML file of the threshold results.
    pub junit_file: Option<String>,
    /// `--baseline` (locusta addition): a previous run's `--json-file` or `--csv` output to
    /// compare with (read by `locusta-insight`).
    pub baseline: Option<String>,
    /// `--slo` (locusta addition): objective for the capacity diagnosis.
    pub slo: Option<String>,
    /// `--find-capacity` (locusta addition): step ramp until the objective breaks.
    pub find_capacity: bool,
    /// `--capacity-step` (locusta addition): users per step.
    pub capacity_step: Option<u64>,
    /// `--capacity-step-time` (locusta addition): seconds per step.
    pub capacity_step_time: Option<u64>,
    /// `--metrics-port` (locusta addition): Prometheus port in headless runs.
    pub metrics_port: Option<u16>,
    /// `--arrival-rate` (locusta addition): open-model rate, `RATE` or `FROM:TO` (checked by
    /// the engine).
    pub arrival_rate: Option<String>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            locustfile: "locustfile.py".to_string(),
            config: None,
            host: None,
            num_users: None,
            spawn_rate: None,
            run_time: None,
            list_commands: false,
            config_users: None,
            web_host: String::new(),
            web_host_display_name: None,
            web_port: 8089,
            headless: false,
            autostart: false,
            autoquit: -1,
            headful: false,
            web_login: false,
            web_auth: None,
            tls_cert: String::new(),
            tls_key: String::new(),
            class_picker: false,
            build_path: String::new(),
            web_base_path: String::new(),
            master: false,
            master_bind_host: "*".to_string(),
            master_bind_port: 5557,
            expect_workers: 1,
            expect_workers_max_wait: 0,
            enable_rebalancing: false,
            worker: false,
            processes: None,
            master_host: "127.0.0.1".to_string(),
            master_port: 5557,
            tags: None,
            exclude_tags: None,
            csv_prefix: None,
            stats_history_enabled: false,
            print_stats: false,
            only_summary: false,
            reset_stats: false,
            html_file: None,
            json: false,
            json_file: None,
            skip_log_setup: false,
            loglevel: "INFO".to_string(),
            logfile: None,
            show_task_ratio: false,
            show_task_ratio_json: false,
            exit_code_on_error: 1,
            stop_timeout: 0.0,
            equal_weights: false,
            profile: None,
            otel: false,
            user_classes: Vec::new(),
            threads: default_threads(),
            thresholds: Vec::new(),
            threshold_abort_after: None,
            junit_file: None,
            baseline: None,
            slo: None,
            find_capacity: false,
            capacity_step: None,
            capacity_step_time: None,
            metrics_port: None,
            arrival_rate: None,
            max_stats_entries: 1000,
            http2: "off".to_string(),
        }
    }
}

/// Number of CPUs available to this process (at least 1).
pub fn default_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

impl Options {
    /// Number of worker processes `--processes` asks for, with -1 resolved to the CPU count;
    /// `None` when no processes should be forked (unset or 0).
    pub fn resolved_processes(&self) -> Option<u64> {
        match self.processes {
            None | Some(0) => None,
            Some(-1) => Some(default_threads() as u64),
            Some(n) => u64::try_from(n).ok(),
        }
    }
}

/// A raw (still textual) option value from one source.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Raw {
    Flag(bool),
    One(String),
    Many(Vec<String>),
}

fn uint(s: &str) -> Option<u64> {
    let t = s.trim();
    let t = t.strip_prefix('+').unwrap_or(t);
    if t.is_empty() || !t.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    t.parse().ok()
}

fn int(s: &str) -> Option<i64> {
    let t = s.trim();
    match t.strip_prefix('-') {
        Some(rest) => uint(rest).and_then(|u| i64::try_from(u).ok()).map(|v| -v),
        None => uint(t).and_then(|u| i64::try_from(u).ok()),
    }
}

/// Check that a host is an absolute http(s) URL with a host part.
pub(crate) fn check_host(s: &str) -> Result<(), String> {
    let lower = s.to_ascii_lowercase();
    let rest = if lower.starts_with("http://") {
        &s[7..]
    } else if lower.starts_with("https://") {
        &s[8..]
    } else if s.contains("://") {
        return Err(format!(
            "'{s}' is not an http(s) URL; locusta load tests HTTP servers, e.g. 'https://www.example.com'"
        ));
    } else {
        return Err(format!(
            "'{s}' has no scheme; write the full base URL, e.g. 'https://{s}'"
        ));
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host_part = authority.rsplit('@').next().unwrap_or("");
    if host_part.is_empty() || host_part.starts_with(':') {
        return Err(format!(
            "'{s}' has no host name; write the full base URL, e.g. 'https://www.example.com'"
        ));
    }
    if s.chars().any(char::is_whitespace) {
        return Err(format!(
            "'{s}' contains whitespace; it must be a single URL"
        ));
    }
    Ok(())
}

fn read_user_config(value: &str, cwd: &Path) -> Result<Vec<serde_json::Value>, String> {
    let parsed: serde_json::Value = if value.ends_with(".json") {
        let path = cwd.join(value);
        let text = std::fs::read_to_string(&path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        serde_json::from_str(&text)
            .map_err(|e| format!("{} is not valid JSON: {e}", path.display()))?
    } else {
        serde_json::from_str(value)
            .map_err(|e| format!("must be a JSON object/array or a .json file: {e}"))?
    };
    let items = match parsed {
        serde_json::Value::Array(items) => items,
        other => vec![other],
    };
    for item in &items {
        if item.get("user_class_name").is_none() {
            return Err(format!(
                "each user config must be an object with a \"user_class_name\" key, got {item}"
            ));
        }
    }
    Ok(items)
}

/// Apply one raw value to the options. Returns a message (without option name) on failure.
pub(crate) fn apply(opts: &mut Options, dest: &str, raw: &Raw, cwd: &Path) -> Result<(), String> {
    fn one(raw: &Raw) -> Result<&str, String> {
        match raw {
            Raw::One(s) => Ok(s),
            Raw::Many(v) if v.len() == 1 => Ok(&v[0]),
            _ => Err("expected one value".to_string()),
        }
    }
    fn many(raw: &Raw) -> Vec<String> {
        match raw {
            Raw::Many(v) => v.clone(),
            Raw::One(s) => vec![s.clone()],
            Raw::Flag(_) => Vec::new(),
        }
    }
    fn flag(raw: &Raw) -> bool {
        matches!(raw, Raw::Flag(true))
    }
    let whole = |s: &str| format!("must be a whole number, got '{s}'");
    let port = |s: &str| -> Result<u16, String> {
        uint(s)
            .and_then(|v| u16::try_from(v).ok())
            .ok_or_else(|| format!("must be a port number from 0 to 65535, got '{s}'"))
    };
    let count = |s: &str| -> Result<usize, String> {
        uint(s)
            .and_then(|v| usize::try_from(v).ok())
            .filter(|&v| v >= 1)
            .ok_or_else(|| format!("must be a whole number >= 1, got '{s}'"))
    };
    let text = |raw: &Raw| one(raw).map(str::to_string);
    let opt_text = |raw: &Raw| one(raw).map(|s| Some(s.to_string()));
    match dest {
        "locustfile" => opts.locustfile = text(raw)?,
        "config" => opts.config = Some(PathBuf::from(one(raw)?)),
        "host" => {
            let s = one(raw)?;
            if s.is_empty() {
                opts.host = None;
            } else {
                check_host(s)?;
                opts.host = Some(s.to_string());
            }
        }
        "num_users" => {
            let s = one(raw)?;
            opts.num_users =
                Some(uint(s).ok_or_else(|| format!("must be a whole number >= 0, got '{s}'"))?);
        }
        "spawn_rate" => {
            let s = one(raw)?;
            let v: f64 = s
                .trim()
                .parse()
                .map_err(|_| format!("must be a number > 0, got '{s}'"))?;
            if !v.is_finite() {
                return Err(format!("must be a finite number, got '{s}'"));
            }
            if v <= 0.0 {
                return Err(format!("must be > 0, got '{s}'"));
            }
            opts.spawn_rate = Some(v);
        }
        "run_time" => opts.run_time = Some(parse_timespan(one(raw)?)?),
        "stop_timeout" => opts.stop_timeout = parse_timespan(one(raw)?)? as f64,
        "list_commands" => opts.list_commands = flag(raw),
        "config_users" => {
            let mut all = Vec::new();
            for v in many(raw) {
                all.extend(read_user_config(&v, cwd)?);
            }
            opts.config_users = Some(all);
        }
        "web_host" => opts.web_host = text(raw)?,
        "web_host_display_name" => opts.web_host_display_name = opt_text(raw)?,
        "web_port" => opts.web_port = port(one(raw)?)?,
        "headless" => opts.headless = flag(raw),
        "autostart" => opts.autostart = flag(raw),
        "autoquit" => {
            let s = one(raw)?;
            opts.autoquit = int(s).ok_or_else(|| whole(s))?;
        }
        "headful" => opts.headful = flag(raw),
        "web_login" => opts.web_login = flag(raw),
        "web_auth" => opts.web_auth = opt_text(raw)?,
        "tls_cert" => opts.tls_cert = text(raw)?,
        "tls_key" => opts.tls_key = text(raw)?,
        "class_picker" => opts.class_picker = flag(raw),
        "build_path" => opts.build_path = text(raw)?,
        "web_base_path" => opts.web_base_path = text(raw)?,
        "master" => opts.master = flag(raw),
        "master_bind_host" => opts.master_bind_host = text(raw)?,
        "master_bind_port" => opts.master_bind_port = port(one(raw)?)?,
        "expect_workers" => {
            let s = one(raw)?;
            opts.expect_workers = uint(s)
                .filter(|&v| v >= 1)
                .ok_or_else(|| format!("must be a positive whole number, got '{s}'"))?;
        }
        "expect_workers_max_wait" => {
            let s = one(raw)?;
            opts.expect_workers_max_wait = int(s).ok_or_else(|| whole(s))?;
        }
        "enable_rebalancing" => opts.enable_rebalancing = flag(raw),
        "worker" => opts.worker = flag(raw),
        "processes" => {
            let s = one(raw)?;
            opts.processes = Some(int(s).ok_or_else(|| whole(s))?);
        }
        "master_host" => opts.master_host = text(raw)?,
        "master_port" => opts.master_port = port(one(raw)?)?,
        "tags" => opts.tags = Some(many(raw)),
        "exclude_tags" => opts.exclude_tags = Some(many(raw)),
        "csv_prefix" => opts.csv_prefix = opt_text(raw)?,
        "stats_history_enabled" => opts.stats_history_enabled = flag(raw),
        "print_stats" => opts.print_stats = flag(raw),
        "only_summary" => opts.only_summary = flag(raw),
        "reset_stats" => opts.reset_stats = flag(raw),
        "html_file" => opts.html_file = opt_text(raw)?,
        "json" => opts.json = flag(raw),
        "json_file" => opts.json_file = opt_text(raw)?,
        "skip_log_setup" => opts.skip_log_setup = flag(raw),
        "loglevel" => {
            let s = one(raw)?;
            let up = s.to_uppercase();
            if !["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"].contains(&up.as_str()) {
                return Err(format!(
                    "invalid choice: '{s}' (choose from DEBUG, INFO, WARNING, ERROR, CRITICAL)"
                ));
            }
            opts.loglevel = up;
        }
        "logfile" => opts.logfile = opt_text(raw)?,
        "show_task_ratio" => opts.show_task_ratio = flag(raw),
        "show_task_ratio_json" => opts.show_task_ratio_json = flag(raw),
        "exit_code_on_error" => {
            let s = one(raw)?;
            opts.exit_code_on_error = int(s)
                .and_then(|v| i32::try_from(v).ok())
                .ok_or_else(|| whole(s))?;
        }
        "equal_weights" => opts.equal_weights = flag(raw),
        "profile" => opts.profile = opt_text(raw)?,
        "otel" => opts.otel = flag(raw),
        "user_classes" => opts.user_classes = many(raw),
        "threads" => opts.threads = count(one(raw)?)?,
        "max_stats_entries" => opts.max_stats_entries = count(one(raw)?)?,
        "http2" => opts.http2 = http2_mode(one(raw)?)?,
        "thresholds" => opts.thresholds = many(raw),
        "threshold_abort_after" => opts.threshold_abort_after = Some(parse_timespan(one(raw)?)?),
        "junit_file" => opts.junit_file = opt_text(raw)?,
        "baseline" => opts.baseline = opt_text(raw)?,
        "slo" => opts.slo = opt_text(raw)?,
        "find_capacity" => opts.find_capacity = flag(raw),
        "capacity_step" => opts.capacity_step = Some(count(one(raw)?)? as u64),
        "capacity_step_time" => {
            let s = parse_timespan(one(raw)?)?;
            if s == 0 {
                return Err("must be at least 1 second".to_string());
            }
            opts.capacity_step_time = Some(s)
        }
        "metrics_port" => opts.metrics_port = Some(port(one(raw)?)?),
        "arrival_rate" => opts.arrival_rate = opt_text(raw)?,
        other => {
            // Removed options are rejected before values are applied; anything else is a bug in
            // the option table.
            let name = by_dest(other).map_or_else(|| other.to_string(), display_name);
            return Err(format!("{name} is not supported"));
        }
    }
    Ok(())
}

/// `--http2`'s value in its canonical spelling.
fn http2_mode(s: &str) -> Result<String, String> {
    let mode = s.trim().to_ascii_lowercase();
    if ["off", "negotiate", "prior-knowledge"].contains(&mode.as_str()) {
        Ok(mode)
    } else {
        Err(format!(
            "invalid choice: '{s}' (choose from off, negotiate, prior-knowledge)"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(dest: &str, v: &str) -> Result<Options, String> {
        let mut o = Options::default();
        apply(&mut o, dest, &Raw::One(v.to_string()), Path::new("."))?;
        Ok(o)
    }

    #[test]
    fn http2_modes() {
        assert_eq!(Options::default().http2, "off");
        assert_eq!(set("http2", "Negotiate").unwrap().http2, "negotiate");
        assert_eq!(
            set("http2", "prior-knowledge").unwrap().http2,
            "prior-knowledge"
        );
        assert!(set("http2", "h3")
            .unwrap_err()
            .contains("choose from off, negotiate, prior-knowledge"));
    }

    #[test]
    fn numbers() {
        assert_eq!(set("num_users", "10").unwrap().num_users, Some(10));
        assert_eq!(set("num_users", " 10 ").unwrap().num_users, Some(10));
        assert_eq!(
            set("num_users", "-5").unwrap_err(),
            "must be a whole number >= 0, got '-5'"
        );
        assert!(set("num_users", "1.5").is_err());
        assert_eq!(set("spawn_rate", "2.5").unwrap().spawn_rate, Some(2.5));
        assert_eq!(set("spawn_rate", "0").unwrap_err(), "must be > 0, got '0'");
        assert!(set("spawn_rate", "nan").unwrap_err().contains("finite"));
        assert!(set("spawn_rate", "inf").unwrap_err().contains("finite"));
        assert_eq!(set("processes", "-1").unwrap().processes, Some(-1));
        assert_eq!(set("autoquit", "-1").unwrap().autoquit, -1);
        assert!(set("web_port", "99999").unwrap_err().contains("port"));
        assert_eq!(set("web_port", "8090").unwrap().web_port, 8090);
        assert!(set("expect_workers", "0").unwrap_err().contains("positive"));
        assert_eq!(set("threads", "3").unwrap().threads, 3);
        assert!(set("threads", "0").is_err());
        assert_eq!(set("stop_timeout", "1m").unwrap().stop_timeout, 60.0);
        assert_eq!(set("run_time", "1h30m").unwrap().run_time, Some(5400));
    }

    #[test]
    fn loglevel_is_case_insensitive() {
        assert_eq!(set("loglevel", "debug").unwrap().loglevel, "DEBUG");
        assert!(set("loglevel", "foo")
            .unwrap_err()
            .contains("invalid choice"));
    }

    #[test]
    fn hosts() {
        assert!(check_host("https://www.example.com").is_ok());
        assert!(check_host("http://127.0.0.1:8080/api").is_ok());
        assert!(check_host("HTTP://x").is_ok());
        assert_eq!(
            check_host("example.com").unwrap_err(),
            "'example.com' has no scheme; write the full base URL, e.g. 'https://example.com'"
        );
        assert!(check_host("http://").is_err());
        assert!(check_host("ftp://x").unwrap_err().contains("http(s)"));
        assert_eq!(set("host", "").unwrap().host, None);
    }

    #[test]
    fn user_config_json() {
        let mut o = Options::default();
        let raw = Raw::Many(vec![
            r#"{"user_class_name": "A", "fixed_count": 1}"#.to_string(),
            r#"[{"user_class_name": "B"}, {"user_class_name": "C"}]"#.to_string(),
        ]);
        apply(&mut o, "config_users", &raw, Path::new(".")).unwrap();
        let names: Vec<_> = o
            .config_users
            .as_ref()
            .unwrap()
            .iter()
            .map(|v| v["user_class_name"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(names, ["A", "B", "C"]);
        let bad = Raw::Many(vec![r#"{"a": 1}"#.to_string()]);
        assert!(apply(&mut o, "config_users", &bad, Path::new("."))
            .unwrap_err()
            .contains("user_class_name"));
        let bad = Raw::Many(vec!["{nope".to_string()]);
        assert!(apply(&mut o, "config_users", &bad, Path::new("."))
            .unwrap_err()
            .contains("JSON"));
    }

    #[test]
    fn resolved_processes() {
        let mut o = Options::default();
        assert_eq!(o.resolved_processes(), None);
        o.processes = Some(0);
        assert_eq!(o.resolved_processes(), None);
        o.processes = Some(4);
        assert_eq!(o.resolved_processes(), Some(4));
        o.processes = Some(-1);
        assert_eq!(o.resolved_processes(), Some(default_threads() as u64));
    }
}
