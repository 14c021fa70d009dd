//! The run plan: the command line and the locustfile, checked once, before any load.
//!
//! Every front end (Rust user classes, a Python locustfile) parses its options with
//! `locusta-options` and describes its locustfile as [`LocustfileFacts`]; [`RunPlan::build`]
//! turns both into one validated plan that everything else reads: the controller, the drivers,
//! the web UI and the master. A refused option or a bad value is said here, with the same words
//! for every kind of run, and the run never starts.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

use locusta_options::{Options, Parsed, Source};
use locusta_web::{ClassInfo, ExtraOptionInfo, ServerConfig, TaskInfo};

use crate::arrival::ArrivalPlan;
use crate::insight::Insight;

/// A user class as the plan sees it (after the front end applied `--tags`/`--exclude-tags`).
#[derive(Debug, Clone, PartialEq)]
pub struct ClassFacts {
    /// Class name.
    pub name: String,
    /// Weight among weighted classes.
    pub weight: f64,
    /// Exactly this many users when > 0.
    pub fixed_count: u64,
    /// The class's own host, if it has one.
    pub host: Option<String>,
    /// Whether users of the class need a host (HTTP users do; a Python `User` may not).
    pub needs_host: bool,
    /// Its tasks with their weights (empty when tag filtering left none).
    pub tasks: Vec<TaskInfo>,
}

/// The locustfile's load shape, if it has one.
#[derive(Debug, Clone, PartialEq)]
pub struct ShapeFacts {
    /// Class name (shown in the web UI).
    pub name: String,
    /// Locust's `use_common_options`: the shape reads `-u`, `-r` and `-t` itself.
    pub uses_common_options: bool,
}

/// What a front end knows about its locustfile.
#[derive(Debug, Clone, Default)]
pub struct LocustfileFacts {
    /// Every user class the locustfile defines, in its order.
    pub classes: Vec<ClassFacts>,
    /// Its load shape.
    pub shape: Option<ShapeFacts>,
    /// Options it declared that the web UI's form shows.
    pub extra_options: Vec<ExtraOptionInfo>,
    /// The name the report and the web UI give the test (a file name, or the program's name).
    pub script: String,
    /// A host to use when neither `--host` nor the classes give one (the demo's target).
    pub default_host: Option<String>,
    /// `(file name, contents)` of the locustfiles, for `-f -` workers that ask the master.
    pub locustfiles: Vec<(String, String)>,
    /// True when the locustfile can answer web requests itself (a Python locustfile's Flask
    /// app): what `--web-login` needs for its login manager.
    pub web_routes: bool,
}

/// What this process is in the run.
#[derive(Debug, Clone, PartialEq)]
pub enum Role {
    /// One process runs the users.
    Standalone,
    /// Dispatches users to workers (`--master`, or `--processes N`).
    Master(MasterSettings),
    /// Runs users for a master (`--worker`).
    Worker,
    /// `--worker --processes N`: starts N worker processes and waits for them.
    WorkerProcesses(u64),
}

/// The master's settings.
#[derive(Debug, Clone, PartialEq)]
pub struct MasterSettings {
    /// `--master-bind-host` (loopback for `--processes` unless given).
    pub bind_host: String,
    /// `--master-bind-port`.
    pub bind_port: u16,
    /// Workers to wait for before an automatic start.
    pub expect_workers: u64,
    /// `--expect-workers-max-wait`.
    pub max_wait: Option<Duration>,
    /// `--processes N`: local worker processes this master starts.
    pub processes: Option<u64>,
    /// `--enable-rebalancing`.
    pub rebalancing: bool,
}

/// The web UI's settings (absent in a headless run).
#[derive(Debug, Clone)]
pub struct WebPlan {
    /// Where and how to serve.
    pub server: ServerConfig,
    /// `--autostart`.
    pub autostart: bool,
    /// `--autoquit` seconds after an automatic test ends.
    pub autoquit: Option<u64>,
    /// `--web-login`: the locustfile's login manager admits requests to the UI.
    pub login: bool,
}

/// The files and tables a run writes.
#[derive(Debug, Clone, PartialEq)]
pub struct OutputPlan {
    /// `--csv` prefix.
    pub csv_prefix: Option<PathBuf>,
    /// `--csv-full-history`.
    pub csv_full_history: bool,
    /// `--json`.
    pub json_stdout: bool,
    /// `--json-file`, with Locust's `.json` suffix added.
    pub json_file: Option<PathBuf>,
    /// The statistics table while running: headless unless `--only-summary`, with the web UI
    /// only with `--print-stats`.
    pub periodic_stats: bool,
    /// `--exit-code-on-error`.
    pub exit_code_on_error: i32,
}

/// Everything a run needs to know, checked.
pub struct RunPlan {
    /// The parsed options, for what the plan does not interpret itself.
    pub options: Options,
    /// Where each option came from.
    pub sources: HashMap<&'static str, Source>,
    /// This process's role.
    pub role: Role,
    /// The user classes that run, in the locustfile's order.
    pub classes: Vec<ClassFacts>,
    /// The load shape, which then drives users and spawn rate.
    pub shape: Option<ShapeFacts>,
    /// Options the locustfile declared (the web UI's form).
    pub extra_options: Vec<ExtraOptionInfo>,
    /// The test's name in the report and the web UI.
    pub script: String,
    /// Locustfiles for `-f -` workers.
    pub locustfiles: Vec<(String, String)>,
    /// `--host` (or the default host); `None` leaves each class its own.
    pub host: Option<String>,
    /// `-u` (1 when not given).
    pub users: u64,
    /// `-r` (1 when not given).
    pub spawn_rate: f64,
    /// `-t`.
    pub run_time: Option<Duration>,
    /// `-s`.
    pub stop_timeout: Duration,
    /// `--reset-stats`.
    pub reset_stats: bool,
    /// The web UI, or `None` for `--headless`.
    pub web: Option<WebPlan>,
    /// Files and tables.
    pub outputs: OutputPlan,
    /// Thresholds, history, diagnosis, capacity search, report, metrics.
    pub insight: Insight,
    /// `--arrival-rate`.
    pub arrival: Option<ArrivalPlan>,
}

/// Why a run does not start.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct PlanError {
    /// What to tell the user (already logged by [`RunPlan::build`]).
    pub message: String,
    /// The process exit code: 2 for a malformed value (as argparse), 1 for the rest.
    pub code: i32,
}

/// What [`RunPlan::build`] decided.
pub enum Setup {
    /// Run the test.
    Run(Box<RunPlan>),
    /// Nothing to run (`--list`), or the run was refused (already logged): exit with this.
    Exit(i32),
}

fn fail(message: impl Into<String>, code: i32) -> PlanError {
    PlanError {
        message: message.into(),
        code,
    }
}

/// The message for options this run cannot honour, shared by every front end.
pub fn refused_options(opts: &Options, facts: &LocustfileFacts) -> Option<String> {
    if opts.web_login && !facts.web_routes {
        return Some(
            "--web-login needs a Python locustfile that sets up the login (Locust's \
             web_ui.login_manager and login routes); for Rust user classes use --web-auth \
             user:password"
                .to_owned(),
        );
    }
    None
}

fn given(sources: &HashMap<&'static str, Source>, dest: &str) -> bool {
    matches!(sources.get(dest), Some(s) if !matches!(s, Source::Default))
}

impl RunPlan {
    /// Checks the options against the locustfile and builds the plan. Prints `--list` and
    /// logs every refusal (target `locusta.main`), so the caller only exits with the code.
    pub fn build(parsed: Parsed, facts: LocustfileFacts) -> Setup {
        if parsed.options.list_commands {
            let mut list = String::from("Available Users:\n");
            for class in &facts.classes {
                list.push_str(&format!("    {}\n", class.name));
            }
            locusta_util::print_stdout(&list);
            return Setup::Exit(0);
        }
        let opts = &parsed.options;
        if opts.show_task_ratio || opts.show_task_ratio_json {
            // As Locust: the classes the run would use (positional names, tags), then exit.
            return match select_classes(opts, facts.classes) {
                Ok(classes) if opts.show_task_ratio => {
                    locusta_util::print_stdout(&crate::task_ratio::text(&classes, opts.num_users));
                    Setup::Exit(0)
                }
                Ok(classes) => {
                    locusta_util::print_stdout(&crate::task_ratio::json(&classes, opts.num_users));
                    Setup::Exit(0)
                }
                Err(e) => {
                    log::error!(target: "locusta.main", "{}", e.message);
                    Setup::Exit(e.code)
                }
            };
        }
        log::info!(target: "locusta.main", "Starting locusta {}", env!("CARGO_PKG_VERSION"));
        // the OpenTelemetry resource's `filename`: the -f value as given (Locust's
        // options.locustfile), else what the report calls the script
        let otel_file = if given(&parsed.sources, "locustfile") {
            parsed.options.locustfile.clone()
        } else {
            facts.script.clone()
        };
        match Self::check(parsed, facts) {
            Ok(plan) => {
                if matches!(plan.role, Role::Standalone | Role::Worker) {
                    raise_open_file_limit(plan.users);
                }
                if let Err(code) = crate::otel::start(&plan, otel_file) {
                    return Setup::Exit(code);
                }
                Setup::Run(Box::new(plan))
            }
            Err(e) => {
                log::error!(target: "locusta.main", "{}", e.message);
                Setup::Exit(e.code)
            }
        }
    }

    fn check(parsed: Parsed, facts: LocustfileFacts) -> Result<RunPlan, PlanError> {
        let Parsed {
            options: opts,
            sources,
            ..
        } = parsed;
        if let Some(message) = refused_options(&opts, &facts) {
            return Err(fail(message, 1));
        }
        let role = role(&opts);
        if opts.autostart && opts.headless {
            log::info!(target: "locusta.main", "The --autostart argument is implied by --headless, no need to set both.");
        }
        let classes = select_classes(&opts, facts.classes)?;
        let host = opts.host.clone().or(facts.default_host);
        if opts.headless && matches!(role, Role::Standalone | Role::Master(_)) && host.is_none() {
            if let Some(c) = classes.iter().find(|c| c.needs_host && c.host.is_none()) {
                return Err(fail(format!(
                    "You must specify the base host. Either in the host attribute in the User class ({}), or on the command line using the --host option.",
                    c.name
                ), 1));
            }
        }
        if let Some(shape) = &facts.shape {
            warn_common_options(shape, &sources);
        }
        let mut insight =
            Insight::from_options(&opts, &facts.script, host.as_deref().unwrap_or(""))
                .map_err(|e| fail(e, 2))?;
        insight.set_classes(&classes);
        // The comparison is made where the final statistics are: not on a worker.
        if !matches!(role, Role::Worker | Role::WorkerProcesses(_)) {
            insight
                .load_baseline(opts.baseline.as_deref())
                .map_err(|e| fail(e, 2))?;
        }
        let arrival = arrival(
            &opts,
            &role,
            facts.shape.is_some(),
            insight.finds_capacity(),
        )?;
        if insight.finds_capacity() && facts.shape.is_some() {
            return Err(fail(
                "--find-capacity cannot be combined with a load shape",
                1,
            ));
        }
        let web = if opts.headless {
            None
        } else {
            Some(web_plan(&opts, &sources)?)
        };
        let outputs = OutputPlan {
            csv_prefix: opts.csv_prefix.clone().map(PathBuf::from),
            csv_full_history: opts.stats_history_enabled,
            json_stdout: opts.json,
            json_file: opts
                .json_file
                .as_ref()
                .map(|f| PathBuf::from(format!("{f}.json"))),
            periodic_stats: if opts.headless {
                !opts.only_summary
            } else {
                opts.print_stats && !opts.only_summary
            },
            exit_code_on_error: opts.exit_code_on_error,
        };
        Ok(RunPlan {
            users: opts.num_users.unwrap_or(1),
            spawn_rate: opts.spawn_rate.unwrap_or(1.0),
            run_time: opts.run_time.map(Duration::from_secs),
            stop_timeout: Duration::from_secs_f64(opts.stop_timeout.max(0.0)),
            reset_stats: opts.reset_stats,
            role,
            classes,
            shape: facts.shape,
            extra_options: facts.extra_options,
            script: facts.script,
            locustfiles: facts.locustfiles,
            host,
            web,
            outputs,
            insight,
            arrival,
            options: opts,
            sources,
        })
    }

    /// True for a master (dispatching to workers rather than running users).
    pub fn is_master(&self) -> bool {
        matches!(self.role, Role::Master(_))
    }

    /// The start form's description of the run (web UI).
    pub fn web_info(&self) -> locusta_web::RunInfo {
        let full_history_file = match (&self.outputs.csv_prefix, self.outputs.csv_full_history) {
            (Some(prefix), true) => {
                let mut name = prefix.as_os_str().to_owned();
                name.push("_stats_history.csv");
                Some(PathBuf::from(name))
            }
            _ => None,
        };
        let hosts: Vec<&Option<String>> = self.classes.iter().map(|c| &c.host).collect();
        let class_host = match hosts.first() {
            Some(Some(h)) if hosts.iter().all(|x| x.as_ref() == Some(h)) => h.clone(),
            _ => String::new(),
        };
        locusta_web::RunInfo {
            locustfile: self.script.clone(),
            num_users: self.options.num_users,
            spawn_rate: self.options.spawn_rate,
            run_time: self.options.run_time,
            host: self.host.clone().unwrap_or(class_host),
            host_optional: self
                .classes
                .iter()
                .all(|c| c.host.is_some() || !c.needs_host),
            classes: self
                .classes
                .iter()
                .map(|c| ClassInfo {
                    name: c.name.clone(),
                    tasks: c.tasks.clone(),
                })
                .collect(),
            shape_class: self.shape.as_ref().map(|s| s.name.clone()),
            extra_options: self.extra_options.clone(),
            stats_history_enabled: full_history_file.is_some(),
            full_history_file,
            has_report: true,
            class_picker: self.options.class_picker,
        }
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

/// (`--master` with `--worker` is refused by the option parser already.)
fn role(opts: &Options) -> Role {
    let processes = opts.resolved_processes();
    if opts.worker {
        return match processes {
            Some(n) => Role::WorkerProcesses(n),
            None => Role::Worker,
        };
    }
    if !opts.master && processes.is_none() {
        return Role::Standalone;
    }
    // `--processes` without `--master-bind-host` keeps the workers' port on loopback.
    let bind_host = if processes.is_some() && opts.master_bind_host == "*" {
        "127.0.0.1".to_owned()
    } else {
        opts.master_bind_host.clone()
    };
    Role::Master(MasterSettings {
        bind_host,
        bind_port: opts.master_bind_port,
        expect_workers: opts.expect_workers.max(processes.unwrap_or(1)).max(1),
        max_wait: (opts.expect_workers_max_wait > 0)
            .then(|| Duration::from_secs(opts.expect_workers_max_wait as u64)),
        processes,
        rebalancing: opts.enable_rebalancing,
    })
}

/// Positional class names select classes, as in Locust; with tags, classes left without tasks
/// are dropped.
fn select_classes(opts: &Options, all: Vec<ClassFacts>) -> Result<Vec<ClassFacts>, PlanError> {
    let mut classes = all;
    if !opts.user_classes.is_empty() {
        let unknown: Vec<&str> = opts
            .user_classes
            .iter()
            .filter(|n| !classes.iter().any(|c| &c.name == *n))
            .map(String::as_str)
            .collect();
        if !unknown.is_empty() {
            return Err(fail(format!("Unknown User(s): {}", unknown.join(", ")), 1));
        }
        classes.retain(|c| opts.user_classes.contains(&c.name));
    }
    if classes.is_empty() {
        return Err(fail(
            "No User class found! A locustfile must define at least one user class.",
            1,
        ));
    }
    if opts.tags.is_some() || opts.exclude_tags.is_some() {
        classes.retain(|c| !c.tasks.is_empty());
        if classes.is_empty() {
            return Err(fail(
                "No tasks left to run after applying --tags/--exclude-tags; check the tag names.",
                1,
            ));
        }
    }
    Ok(classes)
}

/// Locust's warning when `-u`, `-r` or `-t` meet a shape that does not read them.
fn warn_common_options(shape: &ShapeFacts, sources: &HashMap<&'static str, Source>) {
    let ignored: Vec<&str> = [
        ("num_users", "--users"),
        ("spawn_rate", "--spawn-rate"),
        ("run_time", "--run-time"),
    ]
    .into_iter()
    .filter(|(dest, _)| given(sources, dest))
    .map(|(_, flag)| flag)
    .collect();
    if shape.uses_common_options || ignored.is_empty() {
        return;
    }
    log::warn!(
        target: "locusta.main",
        "--run-time, --users or --spawn-rate have no impact on LoadShapes unless the shape class explicitly reads them. See: docs.locust.io/en/stable/custom-load-shape.html#use-common-options"
    );
    log::warn!(target: "locusta.main", "The following option(s) will be ignored: {}", ignored.join(", "));
}

fn arrival(
    opts: &Options,
    role: &Role,
    has_shape: bool,
    finds_capacity: bool,
) -> Result<Option<ArrivalPlan>, PlanError> {
    let Some(text) = opts.arrival_rate.as_deref() else {
        return Ok(None);
    };
    let plan = ArrivalPlan::parse(text).map_err(|e| fail(e, 2))?;
    if has_shape || finds_capacity {
        return Err(fail(
            "--arrival-rate cannot be combined with a load shape (give the shape an arrival_rate) or --find-capacity",
            1,
        ));
    }
    if matches!(role, Role::Master(_)) {
        return Err(fail(
            "--arrival-rate is not available with --master or --processes yet: the open model runs in one process; run without them",
            1,
        ));
    }
    if plan.from != plan.to && opts.run_time.is_none() {
        return Err(fail(
            "--arrival-rate FROM:TO ramps over the run time; add -t",
            1,
        ));
    }
    Ok(Some(plan))
}

/// `--web-host` defaults to 127.0.0.1 here (Locust listens on every interface): the UI can
/// start load against any host, so exposing it is an explicit choice.
fn web_plan(opts: &Options, sources: &HashMap<&'static str, Source>) -> Result<WebPlan, PlanError> {
    let host = if given(sources, "web_host") {
        opts.web_host.clone()
    } else {
        "127.0.0.1".to_owned()
    };
    let tls = match (opts.tls_cert.is_empty(), opts.tls_key.is_empty()) {
        (true, true) => None,
        (false, false) => Some((PathBuf::from(&opts.tls_cert), PathBuf::from(&opts.tls_key))),
        _ => return Err(fail("--tls-cert and --tls-key must be given together", 1)),
    };
    Ok(WebPlan {
        server: ServerConfig {
            host,
            port: opts.web_port,
            base_path: opts.web_base_path.clone(),
            auth: opts.web_auth.clone(),
            tls,
        },
        autostart: opts.autostart,
        autoquit: u64::try_from(opts.autoquit).ok(),
        login: opts.web_login,
    })
}

/// Plans for the tests of this crate.
#[cfg(test)]
pub(crate) mod testing {
    use super::*;

    /// A class with one task.
    pub(crate) fn class(name: &str, host: Option<&str>) -> ClassFacts {
        ClassFacts {
            name: name.into(),
            weight: 1.0,
            fixed_count: 0,
            host: host.map(str::to_owned),
            needs_host: true,
            tasks: vec![TaskInfo {
                name: "t".into(),
                weight: 1,
                tasks: Vec::new(),
            }],
        }
    }

    pub(crate) fn parse(args: &[&str]) -> Parsed {
        let mut argv = vec!["locusta"];
        argv.extend_from_slice(args);
        locusta_options::parse_from(
            argv,
            &HashMap::new(),
            std::path::Path::new("/nonexistent"),
            None,
        )
        .expect("valid arguments")
    }

    /// The plan for `args` (without the program name) and these classes.
    pub(crate) fn build(args: &[&str], classes: Vec<ClassFacts>) -> Result<RunPlan, PlanError> {
        let facts = LocustfileFacts {
            classes,
            script: "locustfile.py".into(),
            ..LocustfileFacts::default()
        };
        RunPlan::check(parse(args), facts)
    }
}

#[cfg(test)]
mod tests {
    use super::testing::{build, class};
    use super::*;

    fn refusal(args: &[&str], classes: Vec<ClassFacts>) -> (String, i32) {
        match build(args, classes) {
            Ok(_) => panic!("{args:?} was accepted"),
            Err(e) => (e.message, e.code),
        }
    }

    #[test]
    fn refusals_name_the_problem() {
        let a = || vec![class("A", None)];
        assert!(refusal(&["--headless"], a())
            .0
            .contains("You must specify the base host"));
        assert_eq!(
            refusal(&["-H", "http://x", "B"], a()).0,
            "Unknown User(s): B"
        );
        let (m, _) = refusal(&["--web-login", "--class-picker"], a());
        assert!(m.contains("--web-login needs a Python locustfile"), "{m}");
        assert_eq!(
            refusal(&["--arrival-rate", "x", "-H", "http://x"], a()).1,
            2
        );
        assert!(refusal(&["--arrival-rate", "5", "--master"], a())
            .0
            .contains("--master"));
        assert_eq!(refusal(&["--threshold", "p95<"], a()).1, 2);
        let (m, code) = refusal(&["--threshold", "p95<baseline*1.1", "-H", "http://x"], a());
        assert_eq!(code, 2);
        assert!(m.contains("add --baseline PATH"), "{m}");
        let (m, code) = refusal(&["--baseline", "/nonexistent/run", "-H", "http://x"], a());
        assert_eq!(code, 2);
        assert!(
            m.contains("--baseline /nonexistent/run") && m.contains("does not exist"),
            "{m}"
        );
        // A worker does not compare: the master does.
        assert!(build(&["--worker", "--baseline", "/nonexistent/run"], a()).is_ok());
        assert!(refusal(&["--tls-cert", "c"], a()).0.contains("together"));
        let untagged = ClassFacts {
            tasks: Vec::new(),
            ..class("A", None)
        };
        assert!(refusal(&["-T", "x", "-H", "http://x"], vec![untagged])
            .0
            .contains("No tasks left"));
    }

    #[test]
    fn roles_and_outputs_follow_the_options() {
        let p = build(
            &["--headless", "--processes", "3"],
            vec![class("A", Some("http://a"))],
        )
        .expect("plan");
        match &p.role {
            Role::Master(m) => {
                assert_eq!(m.bind_host, "127.0.0.1");
                assert_eq!(m.expect_workers, 3);
            }
            other => panic!("{other:?}"),
        }
        assert!(p.web.is_none());
        let p = build(&["--worker", "--processes", "2"], vec![class("A", None)]).expect("plan");
        assert_eq!(p.role, Role::WorkerProcesses(2));
        let p = build(
            &["--json-file", "out/x", "--only-summary"],
            vec![class("A", None)],
        )
        .expect("plan");
        assert_eq!(p.outputs.json_file, Some(PathBuf::from("out/x.json")));
        assert!(!p.outputs.periodic_stats);
        assert_eq!(p.web_info().host, "");
        let web = p.web.expect("web plan");
        assert_eq!(web.server.host, "127.0.0.1");
    }
}
