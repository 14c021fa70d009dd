//! The `locusta` command: Locust's command line, on the Rust engine.
//!
//! [`run_cli`] is what a program with Rust-native user classes calls from `main`; the stock
//! `locusta` binary calls it too, and adds `demo` (built-in target and users) and
//! `demo-target` (the target alone). The options and the locustfile are checked once by
//! `locusta-run`'s plan; this module only describes the user classes to it and starts what the
//! plan's role asks for.

use std::collections::HashMap;
use std::ffi::OsString;
use std::path::PathBuf;
use std::sync::Arc;

use locusta_dist::master::{node::MasterNode, MasterPlan};
use locusta_http::{ClientConfig, HttpClient, HttpDriver};
use locusta_options::{Options, Parsed, Source};
use locusta_run::plan::{ClassFacts, LocustfileFacts, Role, RunPlan, Setup, ShapeFacts};
use locusta_run::{Controller, Inputs};
use locusta_stats::{StatsHub, StatsLimits};
use locusta_web::TaskInfo;

use crate::driver::{drive, Signals};
use crate::loads::{MasterLoad, RunnerLoad};
use crate::locustfile::{Locustfile, TestHooks};
use crate::runner::{Runner, RunnerConfig};
use crate::user::UserClass;

/// Parses the process's command line and runs the test with these user classes.
/// Returns the exit code; the caller exits with it.
pub fn run_cli(classes: Vec<UserClass>) -> i32 {
    run_locustfile(Locustfile::new(classes), std::env::args_os().collect())
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
        let text = if e.message.ends_with('\n') {
            e.message.clone()
        } else {
            format!("{}\n", e.message)
        };
        if e.use_stdout {
            locusta_util::print_stdout(&text);
        } else {
            eprint!("{text}");
        }
        e.exit_code
    })
}

pub(crate) fn run_parsed(locustfile: Locustfile, parsed: Parsed) -> i32 {
    let opts = &parsed.options;
    if !opts.skip_log_setup {
        let logfile = opts.logfile.as_deref().map(std::path::Path::new);
        if let Err(e) = locusta_run::logging::init(&opts.loglevel, logfile) {
            eprintln!("locusta: error: {e}");
            return 1;
        }
    }
    let Locustfile {
        mut classes,
        shape,
        default_host,
        script,
        hooks,
    } = locustfile;
    if let Err(e) = apply_class_settings(&mut classes, opts) {
        log::error!(target: "locusta.main", "{e}");
        return 255; // Locust's sys.exit(-1)
    }
    for class in &mut classes {
        class.filter_tags(opts.tags.as_deref(), opts.exclude_tags.as_deref());
    }
    let facts = LocustfileFacts {
        classes: classes.iter().map(class_facts).collect(),
        shape: shape.as_ref().map(|s| ShapeFacts {
            name: s.name(),
            uses_common_options: false,
        }),
        script: script.unwrap_or_else(|| script_name(&parsed)),
        default_host,
        ..LocustfileFacts::default()
    };
    let plan = match RunPlan::build(parsed, facts) {
        Setup::Run(plan) => plan,
        Setup::Exit(code) => return code,
    };
    classes.retain(|c| plan.classes.iter().any(|f| f.name == c.name()));
    let code = match plan.role.clone() {
        Role::WorkerProcesses(n) => locusta_dist::processes::run_worker_processes(
            n,
            &plan.options.master_host,
            plan.options.master_port,
        ),
        Role::Master(_) => run_master(plan, shape, hooks),
        Role::Standalone | Role::Worker => run_here(plan, classes, shape, hooks),
    };
    // --otel: the last interval's metrics and spans go out before the process exits
    locusta_run::otel::shutdown();
    log::logger().flush();
    code
}

fn class_facts(class: &UserClass) -> ClassFacts {
    ClassFacts {
        name: class.name().to_owned(),
        weight: class.weight,
        fixed_count: class.fixed_count,
        host: class.host.clone(),
        needs_host: true,
        tasks: class
            .tasks()
            .iter()
            .map(|t| TaskInfo {
                name: t.name().to_owned(),
                weight: u64::from(t.weight),
                tasks: Vec::new(),
            })
            .collect(),
    }
}

/// The report's "Script": a Rust program is its executable, unless `-f` named a file.
fn script_name(parsed: &Parsed) -> String {
    match parsed.sources.get("locustfile") {
        None | Some(Source::Default) => std::env::current_exe()
            .ok()
            .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
            .unwrap_or_default(),
        Some(_) => parsed.options.locustfile.clone(),
    }
}

fn control_loop() -> Result<tokio::runtime::Runtime, i32> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| {
            log::error!(target: "locusta.main", "cannot start the control loop: {e}");
            1
        })
}

fn new_stats(plan: &RunPlan) -> Arc<StatsHub> {
    StatsHub::new(StatsLimits {
        max_entries: plan.options.max_stats_entries,
        ..StatsLimits::default()
    })
}

/// A single process, or a worker: the users run on this process's engine threads.
fn run_here(
    plan: Box<RunPlan>,
    classes: Vec<UserClass>,
    shape: Option<Box<dyn crate::LoadShape>>,
    hooks: TestHooks,
) -> i32 {
    let stats = new_stats(&plan);
    // LOCUSTA_HTTP_DRIVER=hyper selects hyper's HTTP/1.1 client instead of the lean driver.
    let http = match HttpClient::new(ClientConfig {
        driver: HttpDriver::from_env(),
        // the option parser only lets through the modes Http2Mode names
        http2: plan.options.http2.parse().unwrap_or_default(),
        ..ClientConfig::default()
    }) {
        Ok(h) => h,
        Err(e) => {
            log::error!(target: "locusta.main", "cannot set up the HTTP client: {e}");
            return 1;
        }
    };
    let config = RunnerConfig {
        threads: plan.options.threads.max(1),
        stop_timeout: plan.stop_timeout,
        host: plan.host.clone(),
    };
    let mut runner = match Runner::new(classes, config, Arc::clone(&stats), http) {
        Ok(r) => r,
        Err(e) => {
            log::error!(target: "locusta.main", "{e}");
            return 1;
        }
    };
    let rt = match control_loop() {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    if plan.role == Role::Worker {
        return rt.block_on(crate::distributed::run_worker(
            runner,
            stats,
            &plan.options,
            hooks,
        ));
    }
    let host = plan.host.clone();
    let signals = rt.block_on(async { Signals::listen() });
    let controller = match Controller::new(
        *plan,
        stats,
        Inputs {
            shape,
            ..Inputs::default()
        },
    ) {
        Ok(c) => c,
        Err(e) => {
            log::error!(target: "locusta.main", "{e}");
            runner.shutdown();
            return 1;
        }
    };
    if let Some(arrivals) = controller.arrivals() {
        runner.set_arrivals(arrivals);
    }
    rt.block_on(drive(
        RunnerLoad::new(runner, hooks, host),
        controller,
        signals,
    ))
}

/// A master: the users run on workers (`--processes N` starts them here).
fn run_master(
    plan: Box<RunPlan>,
    shape: Option<Box<dyn crate::LoadShape>>,
    hooks: TestHooks,
) -> i32 {
    let Role::Master(settings) = plan.role.clone() else {
        return 1;
    };
    let stats = new_stats(&plan);
    let Some(master_plan) = MasterPlan::for_run(&plan, None) else {
        return 1;
    };
    let rt = match control_loop() {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    let bound = rt.block_on(MasterNode::bind(
        master_plan,
        &settings.bind_host,
        settings.bind_port,
        Arc::clone(&stats),
    ));
    let mut node = match bound {
        Ok(n) => n,
        Err(e) => {
            log::error!(target: "locusta.main", "{e}");
            return 1;
        }
    };
    let inputs = Inputs {
        shape,
        worker_logs: Some(node.worker_logs()),
        ..Inputs::default()
    };
    let host = plan.host.clone();
    let signals = rt.block_on(async { Signals::listen() });
    let controller = match Controller::new(*plan, stats, inputs) {
        Ok(c) => c,
        Err(e) => {
            log::error!(target: "locusta.main", "{e}");
            return 1;
        }
    };
    if let Some(n) = settings.processes {
        node.start_local_workers(n);
    }
    rt.block_on(drive(
        MasterLoad::new(node, hooks, host),
        controller,
        signals,
    ))
}

/// `--config-users` (applied in order, as Locust's `update_user_class`) and `--equal-weights`.
fn apply_class_settings(classes: &mut [UserClass], opts: &Options) -> Result<(), String> {
    for config in opts.config_users.iter().flatten() {
        let Some(config) = config.as_object() else {
            return Err(format!("--config-users: {config} is not a JSON object"));
        };
        let name = config
            .get("user_class_name")
            .and_then(|n| n.as_str())
            .unwrap_or("");
        let Some(class) = classes.iter_mut().find(|c| c.name == name) else {
            return Err(format!(
                "Error applying user config, probably you tried to specify config for a User not present in your locustfile: '{name}'"
            ));
        };
        class.apply_config(config)?;
    }
    if opts.equal_weights {
        for class in classes.iter_mut() {
            class.equal_weights();
        }
    }
    Ok(())
}
