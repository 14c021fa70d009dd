//! The `locusta` command: Locust's command line, on the Rust engine.
//!
//! [`run_cli`] is what a program with Rust-native user classes calls from `main`; the stock
//! `locusta` binary calls it too, and adds `demo` (built-in target and users) and
//! `demo-target` (the target alone). Everything a user types is validated here before any
//! load is generated, and every refusal says what to do instead.

use std::collections::HashMap;
use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

use locusta_http::{ClientConfig, HttpClient, HttpDriver};
use locusta_options::{Options, Parsed, Source};
use locusta_stats::{StatsHub, StatsLimits};

use crate::headless::{self, HeadlessPlan};
use crate::runner::{Runner, RunnerConfig};
use crate::shape::LoadShape;
use crate::user::UserClass;

/// A program's user classes and optional load shape: what a locustfile defines.
#[derive(Default)]
pub struct Locustfile {
    /// The user classes.
    pub classes: Vec<UserClass>,
    /// A load shape, which replaces `-u`, `-r` and `-t`.
    pub shape: Option<Box<dyn LoadShape>>,
    /// A host to use when neither `--host` nor the classes give one (the demo's target).
    pub default_host: Option<String>,
}

/// Parses the process's command line and runs the test with these user classes.
/// Returns the exit code; the caller exits with it.
pub fn run_cli(classes: Vec<UserClass>) -> i32 {
    run_locustfile(
        Locustfile {
            classes,
            ..Locustfile::default()
        },
        std::env::args_os().collect(),
    )
}

/// Runs with explicit arguments (`args[0]` is the program name).
pub fn run_locustfile(locustfile: Locustfile, args: Vec<OsString>) -> i32 {
    let parsed = match parse(args) {
        Ok(p) => p,
        Err(code) => return code,
    };
    run_parsed(locustfile, parsed)
}

/// Parses arguments with the process environment, printing errors; Err carries the exit code.
pub(crate) fn parse(args: Vec<OsString>) -> Result<Parsed, i32> {
    let env: HashMap<String, String> = std::env::vars().collect();
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
    let home = std::env::var_os("HOME").map(PathBuf::from);
    locusta_options::parse_from(args, &env, &cwd, home.as_deref()).map_err(|e| {
        if e.use_stdout {
            print!("{}", e.message);
            if !e.message.ends_with('\n') {
                println!();
            }
        } else {
            eprint!("{}", e.message);
            if !e.message.ends_with('\n') {
                eprintln!();
            }
        }
        e.exit_code
    })
}

/// Refuses options whose feature is not in this build yet, instead of silently ignoring them.
fn refuse_unsupported(opts: &Options) -> Result<(), String> {
    let mut missing = Vec::new();
    if opts.web_login {
        missing.push("--web-login (use --web-auth user:password)");
    }
    if opts.class_picker {
        missing.push("--class-picker");
    }
    if missing.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "{} {} not available in this version of locusta yet; run a single headless \
             process (--headless) instead",
            missing.join(", "),
            if missing.len() == 1 { "is" } else { "are" }
        ))
    }
}

/// Each user keeps its own connection, so many users need many open files: raise the soft
/// limit to the hard limit (Locust raises it too) and warn when even that is too low.
fn raise_open_file_limit(users: u64) {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit only read and write the struct we pass.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        return;
    }
    if limit.rlim_cur < limit.rlim_max {
        let raised = libc::rlimit {
            rlim_cur: limit.rlim_max,
            rlim_max: limit.rlim_max,
        };
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } == 0 {
            limit.rlim_cur = limit.rlim_max;
        }
    }
    let needed = users.saturating_add(100);
    if limit.rlim_cur < needed {
        log::warn!(
            target: "locusta.main",
            "{users} users need about {needed} open files (one connection each), but this process may open only {}. \
             Requests beyond that fail with 'Too many open files'; raise the limit (ulimit -n) or spread users over more processes.",
            limit.rlim_cur
        );
    }
}

pub(crate) fn run_parsed(mut locustfile: Locustfile, parsed: Parsed) -> i32 {
    let mut opts = parsed.options;
    if !opts.skip_log_setup {
        if let Err(e) = crate::logging::init(
            &opts.loglevel,
            opts.logfile.as_deref().map(std::path::Path::new),
        ) {
            eprintln!("locusta: error: {e}");
            return 1;
        }
    }

    if opts.list_commands {
        println!("Available Users:");
        for class in &locustfile.classes {
            println!("    {}", class.name());
        }
        return 0;
    }

    log::info!(target: "locusta.main", "Starting locusta {}", env!("CARGO_PKG_VERSION"));

    if let Err(e) = refuse_unsupported(&opts) {
        log::error!(target: "locusta.main", "{e}");
        return 1;
    }
    if opts.master && opts.worker {
        log::error!(target: "locusta.main", "--master cannot be combined with --worker");
        return 1;
    }
    if let Some(n) = opts.resolved_processes() {
        if opts.worker {
            return crate::distributed::run_worker_processes(
                n,
                &opts.master_host,
                opts.master_port,
            );
        }
        // --processes without --worker: this process becomes the master of N local workers.
        opts.master = true;
    }
    if opts.autostart && opts.headless {
        log::info!(target: "locusta.main", "The --autostart argument is implied by --headless, no need to set both.");
    }

    // Positional user class names select classes, as in Locust.
    let mut classes = std::mem::take(&mut locustfile.classes);
    if !opts.user_classes.is_empty() {
        let unknown: Vec<&String> = opts
            .user_classes
            .iter()
            .filter(|n| !classes.iter().any(|c| c.name() == n.as_str()))
            .collect();
        if !unknown.is_empty() {
            let names: Vec<&str> = unknown.iter().map(|s| s.as_str()).collect();
            log::error!(target: "locusta.main", "Unknown User(s): {}", names.join(", "));
            return 1;
        }
        classes.retain(|c| opts.user_classes.iter().any(|n| n == c.name()));
    }
    if classes.is_empty() {
        log::error!(
            target: "locusta.main",
            "No User class found! A locustfile must define at least one user class."
        );
        return 1;
    }
    for class in &mut classes {
        class.filter_tags(opts.tags.as_deref(), opts.exclude_tags.as_deref());
    }
    if opts.tags.is_some() || opts.exclude_tags.is_some() {
        // Locust drops classes left without tasks by tag filtering.
        classes.retain(|c| !c.tasks().is_empty());
        if classes.is_empty() {
            log::error!(
                target: "locusta.main",
                "No tasks left to run after applying --tags/--exclude-tags; check the tag names."
            );
            return 1;
        }
    }

    let host = opts.host.clone().or(locustfile.default_host.clone());
    if opts.master {
        let control = match tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        {
            Ok(rt) => rt,
            Err(e) => {
                log::error!(target: "locusta.main", "cannot start the control loop: {e}");
                return 1;
            }
        };
        let code = control.block_on(crate::distributed::run_master(&classes, host, &opts));
        log::logger().flush();
        return code;
    }
    // The web UI asks for the host in its start form instead.
    let host_optional = classes.iter().all(|c| c.host.is_some());
    if host.is_none() && opts.headless && !opts.worker {
        if let Some(c) = classes.iter().find(|c| c.host.is_none()) {
            log::error!(
                target: "locusta.main",
                "You must specify the base host. Either in the host attribute in the User class ({}), or on the command line using the --host option.",
                c.name()
            );
            return 1;
        }
    }

    if locustfile.shape.is_some()
        && (matches!(parsed.sources.get("num_users"), Some(s) if !matches!(s, Source::Default))
            || matches!(parsed.sources.get("run_time"), Some(s) if !matches!(s, Source::Default)))
    {
        log::warn!(
            target: "locusta.main",
            "The load shape defines users and run time; -u, -r and -t are ignored."
        );
    }

    // Thresholds, diagnosis, report, metrics (locusta-insight); bad expressions stop here.
    // The report's "Script": a Rust program is its executable, not the default locustfile.py.
    let script = match parsed.sources.get("locustfile") {
        None | Some(Source::Default) => std::env::current_exe()
            .ok()
            .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
            .unwrap_or_default(),
        Some(_) => opts.locustfile.clone(),
    };
    let mut insight = match crate::insight::Insight::from_options(
        &opts,
        &script,
        host.as_deref().unwrap_or(""),
    ) {
        Ok(i) => i,
        Err(e) => {
            // A malformed expression is a usage error, like argparse's (exit code 2).
            log::error!(target: "locusta.main", "{e}");
            return 2;
        }
    };
    insight.set_classes(&classes);
    let arrival = match opts
        .arrival_rate
        .as_deref()
        .map(crate::arrival::ArrivalPlan::parse)
    {
        None => None,
        Some(Ok(a)) => Some(a),
        Some(Err(e)) => {
            log::error!(target: "locusta.main", "{e}");
            return 2;
        }
    };
    if arrival.is_some() && (locustfile.shape.is_some() || insight.finds_capacity()) {
        log::error!(
            target: "locusta.main",
            "--arrival-rate cannot be combined with a load shape (give the shape an arrival_rate) or --find-capacity"
        );
        return 1;
    }
    if matches!(arrival, Some(a) if a.from != a.to) && opts.run_time.is_none() {
        log::error!(target: "locusta.main", "--arrival-rate FROM:TO ramps over the run time; add -t");
        return 1;
    }
    if insight.finds_capacity() && locustfile.shape.is_some() {
        log::error!(target: "locusta.main", "--find-capacity cannot be combined with a load shape");
        return 1;
    }

    raise_open_file_limit(opts.num_users.unwrap_or(1));

    // LOCUSTA_HTTP_DRIVER=hyper selects hyper's HTTP/1.1 client instead of the lean driver
    let http_config = ClientConfig {
        driver: HttpDriver::from_env(),
        ..ClientConfig::default()
    };
    let http = match HttpClient::new(http_config) {
        Ok(h) => h,
        Err(e) => {
            log::error!(target: "locusta.main", "cannot set up the HTTP client: {e}");
            return 1;
        }
    };
    let classes_info = crate::webui::class_infos(&classes);
    let host_for_ui = host.clone().unwrap_or_default();
    let has_shape = locustfile.shape.is_some();
    let stats = StatsHub::new(StatsLimits {
        max_entries: opts.max_stats_entries,
        ..StatsLimits::default()
    });
    let threads = opts.threads.max(1);
    let runner = match Runner::new(
        classes,
        RunnerConfig {
            threads,
            stop_timeout: Duration::from_secs_f64(opts.stop_timeout.max(0.0)),
            host,
        },
        std::sync::Arc::clone(&stats),
        http,
    ) {
        Ok(r) => r,
        Err(e) => {
            log::error!(target: "locusta.main", "{e}");
            return 1;
        }
    };

    let plan = HeadlessPlan {
        users: opts.num_users.unwrap_or(1),
        spawn_rate: opts.spawn_rate.unwrap_or(1.0),
        run_time: opts.run_time.map(Duration::from_secs),
        shape: locustfile.shape.take(),
        reset_stats: opts.reset_stats,
        print_stats: !opts.only_summary,
        csv_prefix: opts.csv_prefix.clone().map(PathBuf::from),
        csv_full_history: opts.stats_history_enabled,
        json_stdout: opts.json,
        json_file: opts.json_file.clone().map(PathBuf::from),
        exit_code_on_error: opts.exit_code_on_error,
        insight,
        arrival,
        metrics_port: opts.metrics_port,
        web_host: opts.web_host.clone(),
    };

    let control = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            log::error!(target: "locusta.main", "cannot start the control loop: {e}");
            return 1;
        }
    };
    let code = if opts.worker {
        control.block_on(crate::distributed::run_worker(runner, stats, &opts))
    } else if opts.headless {
        control.block_on(headless::run(runner, stats, plan))
    } else {
        match crate::webui::web_plan(
            &opts,
            &parsed.sources,
            crate::webui::Facts {
                classes: classes_info,
                has_shape,
                host: host_for_ui,
                host_optional,
            },
        ) {
            Ok((web, info)) => control.block_on(crate::webui::run(runner, stats, plan, web, info)),
            Err(e) => {
                log::error!(target: "locusta.main", "{e}");
                runner.shutdown();
                1
            }
        }
    };
    log::logger().flush();
    code
}
