//! The table of every command line option: Locust 2.47's options plus the locusta additions.
//!
//! One table drives everything else (the clap command, `locust.conf` keys, `LOCUST_*`
//! variables, help groups, "did you mean" candidates), so an option's name, environment
//! variable and kind are written down exactly once. Order follows Locust's parser, which also
//! decides the order of the help output and of "ambiguous option" listings.

/// How an option takes its value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// `--flag`: true when present (configs/env accept true/false/yes/no/on/off/1/0).
    Flag,
    /// `--opt VALUE`: exactly one value.
    Value,
    /// `--opt [VALUE ...]`: zero or more values (argparse `nargs="*"`).
    List,
    /// `--opt VALUE`, repeatable: every occurrence adds one value (argparse `action="append"`).
    Append,
    /// An option Locust has removed; any use is an error with this explanation.
    Removed {
        /// Whether the old option took a value (it is swallowed before the error).
        takes_value: bool,
        /// Explanation shown to the user.
        message: &'static str,
    },
}

/// One option.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Spec {
    /// Field name in `Options` (Locust's `dest`).
    pub dest: &'static str,
    /// Long name without the leading `--` (also the config file key).
    pub long: &'static str,
    /// Short name, if any.
    pub short: Option<char>,
    /// Environment variable, if any.
    pub env: Option<&'static str>,
    /// Value kind.
    pub kind: Kind,
    /// Help group.
    pub heading: &'static str,
    /// Placeholder in help (empty for flags).
    pub metavar: &'static str,
    /// Help text (our own words).
    pub help: &'static str,
    /// Hidden from `--help` (as in Locust).
    pub hidden: bool,
    /// Whether the short name is listed before the long one (Locust's `--web-port, -P` order).
    pub long_first: bool,
}

pub(crate) const COMMON: &str = "Common options";
pub(crate) const WEB: &str = "Web UI options";
pub(crate) const MASTER: &str = "Master options";
pub(crate) const WORKER: &str = "Worker options";
pub(crate) const TAGS: &str = "Tag options";
pub(crate) const STATS: &str = "Request statistics options";
pub(crate) const LOGGING: &str = "Logging options";
pub(crate) const OTHER: &str = "Other options";
pub(crate) const LOCUSTA: &str = "locusta additions (not in Locust)";
pub(crate) const USER_CLASSES: &str = "User classes";

/// Table-row constructor; one positional argument per column keeps the table readable.
#[allow(clippy::too_many_arguments)]
const fn opt(
    dest: &'static str,
    long: &'static str,
    short: Option<char>,
    env: Option<&'static str>,
    kind: Kind,
    heading: &'static str,
    metavar: &'static str,
    help: &'static str,
) -> Spec {
    Spec {
        dest,
        long,
        short,
        env,
        kind,
        heading,
        metavar,
        help,
        hidden: false,
        long_first: false,
    }
}

const fn hidden(mut s: Spec) -> Spec {
    s.hidden = true;
    s
}

const fn long_first(mut s: Spec) -> Spec {
    s.long_first = true;
    s
}

use Kind::{Append, Flag, List, Value};

/// Every option, in Locust's order (help and version are handled by the command itself, between
/// `--show-task-ratio-json` and `--exit-code-on-error`).
pub(crate) const SPECS: &[Spec] = &[
    opt("locustfile", "locustfile", Some('f'), Some("LOCUST_LOCUSTFILE"), Value, COMMON, "<filename>",
        "File (or comma-separated files, directory, module or http(s) URL) holding the test. Default: locustfile.py"),
    opt("config", "config", None, None, Value, COMMON, "<filename>",
        "Read more settings from this file (same syntax as locust.conf; *.toml files use [tool.locust])"),
    opt("host", "host", Some('H'), Some("LOCUST_HOST"), Value, COMMON, "<base url>",
        "Base URL of the system under test, e.g. https://www.example.com"),
    opt("num_users", "users", Some('u'), Some("LOCUST_USERS"), Value, COMMON, "<int>",
        "Peak number of simultaneous users (mostly with --headless or --autostart)"),
    opt("spawn_rate", "spawn-rate", Some('r'), Some("LOCUST_SPAWN_RATE"), Value, COMMON, "<float>",
        "How many users to start per second while ramping up (mostly with --headless or --autostart)"),
    opt("run_time", "run-time", Some('t'), Some("LOCUST_RUN_TIME"), Value, COMMON, "<time string>",
        "Stop the test after this long, e.g. 300s, 20m, 3h, 1h30m (only with --headless or --autostart). Default: run until stopped"),
    opt("list_commands", "list", Some('l'), None, Flag, COMMON, "",
        "Print the available User classes and exit"),
    opt("config_users", "config-users", None, Some("LOCUST_CONFIG_USERS"), List, COMMON, "<json>",
        "Override User class settings with JSON objects (strings or .json files), each naming its \"user_class_name\""),
    // Web UI
    opt("web_host", "web-host", None, Some("LOCUST_WEB_HOST"), Value, WEB, "<ip>",
        "Interface the web UI listens on. Default: 127.0.0.1 (Locust: all interfaces); '*' for all interfaces"),
    hidden(opt("web_host_display_name", "web-host-display-name", None, Some("LOCUST_WEB_HOST_DISPLAY_NAME"), Value, WEB, "<url>",
        "Address to print for the web UI")),
    long_first(opt("web_port", "web-port", Some('P'), Some("LOCUST_WEB_PORT"), Value, WEB, "<port number>",
        "Port of the web UI. Default: 8089")),
    opt("headless", "headless", None, Some("LOCUST_HEADLESS"), Flag, WEB, "",
        "No web UI: start the test at once, controlled by -u, -r and -t"),
    opt("autostart", "autostart", None, Some("LOCUST_AUTOSTART"), Flag, WEB, "",
        "Start the test at once but keep the web UI (like --headless with a UI)"),
    opt("autoquit", "autoquit", None, Some("LOCUST_AUTOQUIT"), Value, WEB, "<seconds>",
        "With --autostart: exit this many seconds after the test ends. Default: keep running until Ctrl+C"),
    hidden(opt("headful", "headful", None, Some("LOCUST_HEADFUL"), Flag, WEB, "",
        "Cancel a headless setting coming from a config file")),
    opt("web_auth", "web-auth", None, Some("LOCUST_WEB_AUTH"), Value, WEB, "<username:password>",
        "Require HTTP basic auth for the web UI (locusta keeps this option; Locust replaced it with --web-login)"),
    opt("web_login", "web-login", None, Some("LOCUST_WEB_LOGIN"), Flag, WEB, "",
        "Put the web UI behind a login page"),
    opt("tls_cert", "tls-cert", None, Some("LOCUST_TLS_CERT"), Value, WEB, "<filename>",
        "TLS certificate file, to serve the web UI over HTTPS"),
    opt("tls_key", "tls-key", None, Some("LOCUST_TLS_KEY"), Value, WEB, "<filename>",
        "TLS private key file, to serve the web UI over HTTPS"),
    opt("class_picker", "class-picker", None, Some("LOCUST_USERCLASS_PICKER"), Flag, WEB, "",
        "Let the web UI's start form choose which User classes run"),
    hidden(opt("build_path", "build-path", None, Some("LOCUST_BUILD_PATH"), Value, WEB, "<dir>",
        "Serve the web UI from another build directory")),
    hidden(opt("legacy_ui", "legacy-ui", None, Some("LOCUST_LEGACY_UI"), Kind::Removed {
        takes_value: false,
        message: "--legacy-ui is not supported any more; remove it to continue",
    }, WEB, "", "")),
    // Master
    opt("master", "master", None, Some("LOCUST_MODE_MASTER"), Flag, MASTER, "",
        "Run as the master of a distributed test; workers connect to it"),
    opt("master_bind_host", "master-bind-host", None, Some("LOCUST_MASTER_BIND_HOST"), Value, MASTER, "<ip>",
        "Interface the master listens on for workers. Default: * (all interfaces)"),
    opt("master_bind_port", "master-bind-port", None, Some("LOCUST_MASTER_BIND_PORT"), Value, MASTER, "<port number>",
        "Port the master listens on for workers. Default: 5557"),
    opt("expect_workers", "expect-workers", None, Some("LOCUST_EXPECT_WORKERS"), Value, MASTER, "<int>",
        "With --headless/--autostart: wait for this many workers before starting. Default: 1"),
    opt("expect_workers_max_wait", "expect-workers-max-wait", None, Some("LOCUST_EXPECT_WORKERS_MAX_WAIT"), Value, MASTER, "<int>",
        "Give up after waiting this many seconds for workers. Default: wait forever"),
    opt("enable_rebalancing", "enable-rebalancing", None, None, Flag, MASTER, "",
        "Redistribute users when workers join or leave during a test (experimental)"),
    hidden(opt("expect_slaves", "expect-slaves", None, None, Kind::Removed {
        takes_value: false,
        message: "--expect-slaves was renamed; use --expect-workers",
    }, MASTER, "", "")),
    // Worker
    opt("worker", "worker", None, Some("LOCUST_MODE_WORKER"), Flag, WORKER, "",
        "Run as a worker of a distributed test (with -f - the test is fetched from the master)"),
    opt("processes", "processes", None, Some("LOCUST_PROCESSES"), Value, WORKER, "<int>",
        "Start this many worker processes (-1: one per CPU). Without --worker this process becomes their master (experimental)"),
    hidden(opt("slave", "slave", None, None, Kind::Removed {
        takes_value: false,
        message: "--slave was renamed; use --worker",
    }, WORKER, "", "")),
    opt("master_host", "master-host", None, Some("LOCUST_MASTER_NODE_HOST"), Value, WORKER, "<hostname>",
        "Master to connect to. Default: 127.0.0.1"),
    opt("master_port", "master-port", None, Some("LOCUST_MASTER_NODE_PORT"), Value, WORKER, "<port number>",
        "Master port to connect to. Default: 5557"),
    opt("web_base_path", "web-base-path", None, Some("LOCUST_WEB_BASE_PATH"), Value, WEB, "<path>",
        "URL prefix for the whole web UI, e.g. /locust (must start with /). Default: none"),
    // Tags
    opt("tags", "tags", Some('T'), Some("LOCUST_TAGS"), List, TAGS, "<tag>",
        "Run only tasks carrying at least one of these tags"),
    opt("exclude_tags", "exclude-tags", Some('E'), Some("LOCUST_EXCLUDE_TAGS"), List, TAGS, "<tag>",
        "Never run tasks carrying any of these tags"),
    // Statistics
    opt("csv_prefix", "csv", None, Some("LOCUST_CSV"), Value, STATS, "<filename>",
        "Write statistics as CSV: <filename>_stats.csv, _stats_history.csv, _failures.csv and _exceptions.csv (directories are created)"),
    opt("stats_history_enabled", "csv-full-history", None, Some("LOCUST_CSV_FULL_HISTORY"), Flag, STATS, "",
        "Write every row, not only Aggregated, to _stats_history.csv (needs --csv)"),
    opt("print_stats", "print-stats", None, Some("LOCUST_PRINT_STATS"), Flag, STATS, "",
        "Print the statistics table periodically in web UI runs too"),
    opt("only_summary", "only-summary", None, Some("LOCUST_ONLY_SUMMARY"), Flag, STATS, "",
        "In --headless runs print only the final summary, not the periodic table"),
    opt("reset_stats", "reset-stats", None, Some("LOCUST_RESET_STATS"), Flag, STATS, "",
        "Reset statistics once all users are spawned (set it on master and workers alike)"),
    opt("html_file", "html", None, Some("LOCUST_HTML"), Value, STATS, "<filename>",
        "Write an HTML report to this file at the end; {u}, {r} and {t} become users, spawn rate and run time"),
    opt("json", "json", None, None, Flag, STATS, "",
        "Print the final statistics as JSON on stdout"),
    opt("json_file", "json-file", None, None, Value, STATS, "<filename>",
        "Write the final statistics as JSON to <filename>.json"),
    // Logging
    opt("skip_log_setup", "skip-log-setup", None, Some("LOCUST_SKIP_LOG_SETUP"), Flag, LOGGING, "",
        "Leave logging unconfigured"),
    long_first(opt("loglevel", "loglevel", Some('L'), Some("LOCUST_LOGLEVEL"), Value, LOGGING, "<level>",
        "One of DEBUG, INFO, WARNING, ERROR, CRITICAL (any case). Default: INFO")),
    opt("logfile", "logfile", None, Some("LOCUST_LOGFILE"), Value, LOGGING, "<filename>",
        "Write the log to this file instead of stderr"),
    // Other
    opt("show_task_ratio", "show-task-ratio", None, None, Flag, OTHER, "",
        "Print the task execution ratio table of the User classes and exit (pass -u if classes use fixed_count)"),
    opt("show_task_ratio_json", "show-task-ratio-json", None, None, Flag, OTHER, "",
        "Same as --show-task-ratio, as JSON"),
    opt("exit_code_on_error", "exit-code-on-error", None, Some("LOCUST_EXIT_CODE_ON_ERROR"), Value, OTHER, "<int>",
        "Exit code when any request failed or any error occurred. Default: 1"),
    opt("stop_timeout", "stop-timeout", Some('s'), Some("LOCUST_STOP_TIMEOUT"), Value, OTHER, "<number>",
        "Seconds users get to finish their current task when the test stops. Default: 0 (stop at once). Distributed: set it on the master"),
    opt("equal_weights", "equal-weights", None, None, Flag, OTHER, "",
        "Give every User class and every task the same weight, ignoring the weights in the test"),
    opt("profile", "profile", None, None, Value, OTHER, "<str>",
        "Profile name used to group test runs together"),
    opt("otel", "otel", None, Some("LOCUST_ENABLE_OPENTELEMETRY"), Flag, OTHER, "",
        "Instrument the test run with OpenTelemetry: the locust.client.duration histogram, the locust.users.count gauge, a span per HTTP request (with a traceparent header) and the log records, exported as the OTEL_* environment variables say (OTLP over gRPC to localhost:4317 by default)"),
    // locusta additions
    opt("threads", "threads", None, Some("LOCUSTA_THREADS"), Value, LOCUSTA, "<int>",
        "[locusta] Worker threads of the load engine. Default: number of CPUs"),
    opt("http2", "http2", None, Some("LOCUSTA_HTTP2"), Value, LOCUSTA, "<mode>",
        "[locusta] HTTP/2 for the users' requests: 'negotiate' offers h2 in TLS (ALPN) and keeps HTTP/1.1 where the server declines it; 'prior-knowledge' also speaks HTTP/2 (h2c) to http:// hosts. One connection per user and host, concurrent requests as streams. A user class's http2 attribute (Python) or SessionOptions::http2 (Rust) wins. Default: off"),
    opt("max_stats_entries", "max-stats-entries", None, Some("LOCUSTA_MAX_STATS_ENTRIES"), Value, LOCUSTA, "<int>",
        "[locusta] Most distinct request names tracked in statistics. Default: 1000"),
    // locusta additions: insight (thresholds, diagnosis, metrics)
    opt("thresholds", "threshold", None, None, Append, LOCUSTA, "<expr>",
        "[locusta] Pass/fail condition checked at the end, repeatable: [METHOD NAME:]METRIC<VALUE, e.g. 'p95<500ms', 'fail_ratio<1%', 'GET /api/products:p99<1s'. A failed threshold exits with code 3"),
    opt("threshold_abort_after", "threshold-abort-after", None, None, Value, LOCUSTA, "<time string>",
        "[locusta] Also check the upper-bound thresholds while running, from this long after the start, and stop the test as soon as one fails"),
    opt("junit_file", "junit", None, Some("LOCUSTA_JUNIT"), Value, LOCUSTA, "<filename>",
        "[locusta] Write the threshold results as JUnit XML to this file"),
    opt("baseline", "baseline", None, Some("LOCUSTA_BASELINE"), Value, LOCUSTA, "<path>",
        "[locusta] Compare this run with a previous one: its --json-file output (Locust's or locusta's) or its --csv prefix / _stats.csv. Prints per-endpoint deltas with noise-aware verdicts (also in --html and --junit); --threshold terms can use it, e.g. 'p95<baseline*1.1'"),
    opt("slo", "slo", None, Some("LOCUSTA_SLO"), Value, LOCUSTA, "<objective>",
        "[locusta] Latency and error objective for the capacity diagnosis, e.g. 'p95<500ms,fail<1%' (the default)"),
    opt("find_capacity", "find-capacity", None, None, Flag, LOCUSTA, "",
        "[locusta] Ramp users in steps (--capacity-step every --capacity-step-time, up to -u) until the --slo objective breaks, then stop and report the capacity"),
    opt("capacity_step", "capacity-step", None, None, Value, LOCUSTA, "<int>",
        "[locusta] Users added per --find-capacity step. Default: a tenth of -u"),
    opt("capacity_step_time", "capacity-step-time", None, None, Value, LOCUSTA, "<time string>",
        "[locusta] Length of each --find-capacity step. Default: 10s"),
    opt("arrival_rate", "arrival-rate", None, Some("LOCUSTA_ARRIVAL_RATE"), Value, LOCUSTA, "<rate>",
        "[locusta] Open model: start this many iterations (one task each) per second whatever the response times, or FROM:TO to ramp over --run-time; -u is the pool of users running them. Latency counts from each iteration's intended start"),
    opt("metrics_port", "metrics-port", None, Some("LOCUSTA_METRICS_PORT"), Value, LOCUSTA, "<port>",
        "[locusta] In --headless runs, serve Prometheus metrics at http://127.0.0.1:<port>/metrics (or --web-host)"),
];

/// Environment variable holding default positional User class names (space separated).
pub(crate) const USER_CLASSES_ENV: &str = "LOCUST_USER_CLASSES";

/// Look an option up by its `dest`.
pub(crate) fn by_dest(dest: &str) -> Option<&'static Spec> {
    SPECS.iter().find(|s| s.dest == dest)
}

/// Look an option up by its exact long name (without `--`).
pub(crate) fn by_long(long: &str) -> Option<&'static Spec> {
    SPECS.iter().find(|s| s.long == long)
}

/// Every option string in parser order, as Locust lists them (help/version included).
pub(crate) fn all_option_strings() -> Vec<String> {
    let mut out = vec!["-h".to_string(), "--help".to_string()];
    for s in SPECS {
        let long = format!("--{}", s.long);
        let short = s.short.map(|c| format!("-{c}"));
        match (short, s.long_first) {
            (Some(sh), true) => out.extend([long, sh]),
            (Some(sh), false) => out.extend([sh, long]),
            (None, _) => out.push(long),
        }
        if s.long == "show-task-ratio-json" {
            out.extend(["--version".to_string(), "-V".to_string()]);
        }
    }
    out
}

/// Every long option string (with `--`), in parser order, including help and version.
pub(crate) fn all_long_options() -> Vec<String> {
    all_option_strings()
        .into_iter()
        .filter(|s| s.starts_with("--"))
        .collect()
}

/// How the option is named in messages: `-u/--users`, `--web-port/-P`, `--host`.
pub(crate) fn display_name(spec: &Spec) -> String {
    match (spec.short, spec.long_first) {
        (Some(c), false) => format!("-{c}/--{}", spec.long),
        (Some(c), true) => format!("--{}/-{c}", spec.long),
        (None, _) => format!("--{}", spec.long),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn names_are_unique() {
        let mut dests = HashSet::new();
        let mut longs = HashSet::new();
        let mut shorts = HashSet::new();
        for s in SPECS {
            assert!(dests.insert(s.dest), "duplicate dest {}", s.dest);
            assert!(longs.insert(s.long), "duplicate long {}", s.long);
            if let Some(c) = s.short {
                assert!(shorts.insert(c), "duplicate short {c}");
            }
        }
    }

    #[test]
    fn irregular_env_names() {
        let env = |d: &str| by_dest(d).and_then(|s| s.env);
        assert_eq!(env("master"), Some("LOCUST_MODE_MASTER"));
        assert_eq!(env("worker"), Some("LOCUST_MODE_WORKER"));
        assert_eq!(env("master_host"), Some("LOCUST_MASTER_NODE_HOST"));
        assert_eq!(env("master_port"), Some("LOCUST_MASTER_NODE_PORT"));
        assert_eq!(env("class_picker"), Some("LOCUST_USERCLASS_PICKER"));
        assert_eq!(env("otel"), Some("LOCUST_ENABLE_OPENTELEMETRY"));
        for no_env in [
            "json",
            "json_file",
            "enable_rebalancing",
            "equal_weights",
            "profile",
            "show_task_ratio",
            "show_task_ratio_json",
            "list_commands",
            "config",
        ] {
            assert_eq!(env(no_env), None, "{no_env} must not have an env var");
        }
    }

    #[test]
    fn display_names() {
        assert_eq!(display_name(by_long("users").unwrap()), "-u/--users");
        assert_eq!(display_name(by_long("web-port").unwrap()), "--web-port/-P");
        assert_eq!(display_name(by_long("host").unwrap()), "-H/--host");
        assert!(all_option_strings().contains(&"-V".to_string()));
    }
}
