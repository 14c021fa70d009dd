//! `--worker` and `--master` on the engine: connects the [`Runner`] to `locusta-dist`'s
//! protocol loops. The protocol, dispatcher and master live in `locusta-dist`; this module only
//! adapts the engine to them (the worker's [`Engine`] trait, the master's class list).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use locusta_dist::worker::{self, Engine, Exit, WorkerConfig};
use locusta_options::Options;
use locusta_stats::StatsHub;

use crate::runner::Runner;

struct RunnerEngine<'a> {
    runner: &'a mut Runner,
    stats: Arc<StatsHub>,
}

impl Engine for RunnerEngine<'_> {
    fn set_class_counts(&mut self, counts: &[(String, u64)]) -> Result<(), String> {
        self.runner.set_class_counts(counts)
    }
    fn configure(&mut self, host: Option<String>, stop_timeout: Duration) {
        self.runner.configure(host, stop_timeout);
    }
    fn user_count(&self) -> u64 {
        self.runner.user_count()
    }
    fn class_counts(&self) -> Vec<(String, u64)> {
        self.runner.class_counts()
    }
    fn stats(&self) -> Arc<StatsHub> {
        Arc::clone(&self.stats)
    }
    fn stop(&mut self) -> Pin<Box<dyn Future<Output = ()> + '_>> {
        Box::pin(self.runner.stop())
    }
}

/// Runs this process as a worker of the master given by `--master-host`/`--master-port`.
pub async fn run_worker(mut runner: Runner, stats: Arc<StatsHub>, opts: &Options) -> i32 {
    let cfg = WorkerConfig {
        master_host: opts.master_host.clone(),
        master_port: opts.master_port,
        node_id: None,
    };
    let exit = {
        let mut engine = RunnerEngine {
            runner: &mut runner,
            stats,
        };
        worker::run(&mut engine, cfg).await
    };
    runner.shutdown();
    match exit {
        Exit::Quit | Exit::Interrupted => 0,
        Exit::MasterLost(why) => {
            log::error!(target: "locusta.main", "{why}; stopped the users, exiting");
            1
        }
    }
}

/// Runs this process as a headless master for these user classes (their names, weights and
/// fixed counts decide the dispatch; the users run on the workers).
pub async fn run_master(
    classes: &[crate::user::UserClass],
    host: Option<String>,
    opts: &Options,
) -> i32 {
    let slots = classes
        .iter()
        .map(|c| crate::spawn::ClassSlot {
            name: c.name().to_owned(),
            weight: c.weight,
            fixed_count: c.fixed_count,
        })
        .collect();
    let infos = crate::webui::class_infos(classes);
    run_master_with(slots, host, opts, Vec::new(), Some(infos), None).await
}

/// [`run_master`] from class names, weights and fixed counts (what a Python locustfile's
/// classes give the extension module).
pub async fn run_master_slots(
    slots: Vec<crate::spawn::ClassSlot>,
    host: Option<String>,
    opts: &Options,
    locustfiles: Vec<(String, String)>,
) -> i32 {
    run_master_with(slots, host, opts, locustfiles, None, None).await
}

/// [`run_master_slots`] for a Python master with listeners: custom messages and stats reports
/// travel through `messages` (see [`locusta_dist::master::MasterMailbox`]).
pub async fn run_master_slots_with_messages(
    slots: Vec<crate::spawn::ClassSlot>,
    host: Option<String>,
    opts: &Options,
    locustfiles: Vec<(String, String)>,
    messages: locusta_dist::master::SharedMailbox,
) -> i32 {
    run_master_with(slots, host, opts, locustfiles, None, Some(messages)).await
}

/// The master, headless or (without `--headless`) with the web UI; `infos` describes the
/// classes' tasks for the UI (names only when `None`).
async fn run_master_with(
    slots: Vec<crate::spawn::ClassSlot>,
    host: Option<String>,
    opts: &Options,
    locustfiles: Vec<(String, String)>,
    infos: Option<Vec<locusta_web::ClassInfo>>,
    messages: Option<locusta_dist::master::SharedMailbox>,
) -> i32 {
    use locusta_dist::master::{self, HeadlessMaster, MasterPlan};

    let names: Vec<String> = slots.iter().map(|s| s.name.clone()).collect();
    let order = move |n: u64| class_order(&slots, n);
    let plan = MasterPlan {
        classes: names,
        order: Box::new(order),
        host,
        stop_timeout: opts.stop_timeout.max(0.0),
        rebalancing: opts.enable_rebalancing,
        locustfiles,
        messages,
    };
    let local_only = opts.resolved_processes().is_some() && opts.master_bind_host == "*";
    let cfg = HeadlessMaster {
        bind_host: if local_only {
            "127.0.0.1".to_string()
        } else {
            opts.master_bind_host.clone()
        },
        bind_port: opts.master_bind_port,
        expect_workers: opts.expect_workers.max(1),
        expect_workers_max_wait: (opts.expect_workers_max_wait > 0)
            .then(|| Duration::from_secs(opts.expect_workers_max_wait as u64)),
        users: opts.num_users.unwrap_or(1),
        spawn_rate: opts.spawn_rate.unwrap_or(1.0),
        run_time: opts.run_time.map(Duration::from_secs),
        reset_stats: opts.reset_stats,
        print_stats: !opts.only_summary,
        csv_prefix: opts.csv_prefix.clone().map(std::path::PathBuf::from),
        csv_full_history: opts.stats_history_enabled,
        json_stdout: opts.json,
        json_file: opts.json_file.clone().map(std::path::PathBuf::from),
        exit_code_on_error: opts.exit_code_on_error,
        on_listening: None,
    };
    let mut cfg = cfg;
    let children = Arc::new(std::sync::Mutex::new(Vec::new()));
    if let Some(n) = opts.resolved_processes() {
        // --processes N: N fresh worker processes of this same command, plus this master.
        cfg.expect_workers = cfg.expect_workers.max(n);
        let kids = Arc::clone(&children);
        cfg.on_listening = Some(Box::new(move |port| {
            for i in 0..n {
                match spawn_worker_process(&worker_args("127.0.0.1", port)) {
                    Ok(c) => kids.lock().unwrap_or_else(|p| p.into_inner()).push(c),
                    Err(e) => {
                        log::error!(target: "locusta.main", "cannot start worker process {i}: {e}")
                    }
                }
            }
        }));
    }
    let stats = StatsHub::new(locusta_stats::StatsLimits {
        max_entries: opts.max_stats_entries,
        ..locusta_stats::StatsLimits::default()
    });
    let code = if opts.headless {
        let view = Arc::new(std::sync::Mutex::new(Vec::new()));
        master::run_headless(plan, cfg, stats, view).await
    } else {
        let infos = infos.unwrap_or_else(|| {
            plan.classes
                .iter()
                .map(|name| locusta_web::ClassInfo {
                    name: name.clone(),
                    tasks: Vec::new(),
                })
                .collect()
        });
        match web_master_config(opts, cfg, host_facts(&plan, infos)) {
            Ok((web_cfg, info)) => crate::webmaster::run(plan, web_cfg, stats, info).await,
            Err(e) => {
                log::error!(target: "locusta.main", "{e}");
                1
            }
        }
    };
    let kids = std::mem::take(&mut *children.lock().unwrap_or_else(|p| p.into_inner()));
    reap(kids, Duration::from_secs(10));
    code
}

fn host_facts(
    plan: &locusta_dist::master::MasterPlan,
    classes: Vec<locusta_web::ClassInfo>,
) -> crate::webui::Facts {
    crate::webui::Facts {
        classes,
        has_shape: false,
        host: plan.host.clone().unwrap_or_default(),
        host_optional: false,
    }
}

/// The web master's settings: the headless master's (bind address, outputs, `-u`/`-r`/`-t` for
/// `--autostart`) plus the web server's, resolved as for a single-process web run.
fn web_master_config(
    opts: &Options,
    cfg: locusta_dist::master::HeadlessMaster,
    facts: crate::webui::Facts,
) -> Result<(crate::webmaster::WebMasterConfig, locusta_web::RunInfo), String> {
    let mut sources = std::collections::HashMap::new();
    if !opts.web_host.is_empty() {
        sources.insert("web_host", locusta_options::Source::Env(String::new()));
    }
    let (web, mut info) = crate::webui::web_plan(opts, &sources, facts)?;
    info.has_report = false;
    let cfg = crate::webmaster::WebMasterConfig {
        bind_host: cfg.bind_host,
        bind_port: cfg.bind_port,
        server: web.server,
        autostart: web.autostart,
        autoquit: web.autoquit,
        expect_workers: cfg.expect_workers,
        users: cfg.users,
        spawn_rate: cfg.spawn_rate,
        run_time: cfg.run_time,
        reset_stats: cfg.reset_stats,
        print_stats: web.print_stats,
        csv_prefix: cfg.csv_prefix,
        csv_full_history: cfg.csv_full_history,
        json_stdout: cfg.json_stdout,
        json_file: cfg.json_file,
        exit_code_on_error: cfg.exit_code_on_error,
        on_listening: cfg.on_listening,
    };
    Ok((cfg, info))
}

/// This process's command line for a worker: the same arguments without `--master`,
/// `--processes` and the master's bind options, plus `--worker --master-host/--master-port`
/// and `--processes 0` (so a `LOCUST_PROCESSES` in the environment does not recurse).
pub fn worker_args(master_host: &str, master_port: u16) -> Vec<std::ffi::OsString> {
    let mut out: Vec<std::ffi::OsString> = Vec::new();
    let mut args = std::env::args_os().skip(1);
    while let Some(a) = args.next() {
        let s = a.to_string_lossy();
        let takes_value = [
            "--processes",
            "--master-bind-host",
            "--master-bind-port",
            "--expect-workers",
            "--expect-workers-max-wait",
            "--master-host",
            "--master-port",
        ];
        if s == "--master" || s == "--enable-rebalancing" || s == "--worker" {
            continue;
        }
        if takes_value.contains(&s.as_ref()) {
            args.next();
            continue;
        }
        if takes_value.iter().any(|f| s.starts_with(&format!("{f}="))) {
            continue;
        }
        out.push(a);
    }
    out.extend(
        [
            "--worker",
            "--master-host",
            master_host,
            "--master-port",
            &master_port.to_string(),
            "--processes",
            "0",
        ]
        .iter()
        .map(std::ffi::OsString::from),
    );
    out
}

/// Starts one worker process: this executable with `args` (a fresh process, not a fork, so it
/// works with the tokio runtime and with Python users alike).
/// `LOCUSTA_EXECUTABLE` names the program when it is not this executable (the Python
/// package sets it to `sys.executable`, since the interpreter binary would lose the venv).
pub fn spawn_worker_process(args: &[std::ffi::OsString]) -> std::io::Result<std::process::Child> {
    let exe = match std::env::var_os("LOCUSTA_EXECUTABLE") {
        Some(e) if !e.is_empty() => std::path::PathBuf::from(e),
        _ => std::env::current_exe()?,
    };
    std::process::Command::new(exe)
        .args(args)
        .stdin(std::process::Stdio::null())
        .spawn()
}

/// Waits for child processes to exit, killing those still running after `limit`.
pub fn reap(mut kids: Vec<std::process::Child>, limit: Duration) {
    let deadline = std::time::Instant::now() + limit;
    while !kids.is_empty() {
        kids.retain_mut(|c| !matches!(c.try_wait(), Ok(Some(_)) | Err(_)));
        if std::time::Instant::now() >= deadline {
            for c in &mut kids {
                let _ = c.kill();
                let _ = c.wait();
            }
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// `--worker --processes N`: runs N worker processes and waits for them; returns the first
/// non-zero exit code, if any.
pub fn run_worker_processes(n: u64, master_host: &str, master_port: u16) -> i32 {
    let args = worker_args(master_host, master_port);
    let mut kids = Vec::new();
    for i in 0..n {
        match spawn_worker_process(&args) {
            Ok(c) => kids.push(c),
            Err(e) => {
                log::error!(target: "locusta.main", "cannot start worker process {i}: {e}");
                return 1;
            }
        }
    }
    let mut code = 0;
    for mut c in kids {
        if let Ok(status) = c.wait() {
            if code == 0 {
                code = status.code().unwrap_or(1);
            }
        }
    }
    code
}

/// Class indices of the first `n` users in Locust's dispatch order (fixed counts first, then
/// weights interleaved), which the master deals round robin over its workers.
fn class_order(slots: &[crate::spawn::ClassSlot], n: u64) -> Vec<usize> {
    let mut seq = crate::spawn::UserSequence::new(slots.to_vec());
    let mut out = Vec::with_capacity(n.min(1_000_000) as usize);
    for _ in 0..n {
        match seq.push() {
            Some(c) => out.push(c),
            None => break,
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::class_order;
    use crate::spawn::ClassSlot;
    use locusta_dist::dispatch::distribute;

    fn slot(name: &str, weight: f64, fixed_count: u64) -> ClassSlot {
        ClassSlot {
            name: name.into(),
            weight,
            fixed_count,
        }
    }

    fn counts(v: &[(&str, &[(&str, u64)])]) -> Vec<(String, Vec<(String, u64)>)> {
        v.iter()
            .map(|(w, c)| {
                (
                    w.to_string(),
                    c.iter().map(|(k, n)| (k.to_string(), *n)).collect(),
                )
            })
            .collect()
    }

    #[test]
    fn distribution_equals_locusts_users_dispatcher() {
        // Expected values printed by locust 2.47's UsersDispatcher for the same classes.
        let slots = vec![slot("ShopUser", 3.0, 0), slot("WebsiteUser", 1.0, 0)];
        let names = vec!["ShopUser".to_string(), "WebsiteUser".to_string()];
        let workers = vec!["a_1".to_string(), "b_1".to_string()];
        assert_eq!(
            distribute(&class_order(&slots, 6), &names, &workers),
            counts(&[
                ("a_1", &[("ShopUser", 3), ("WebsiteUser", 0)]),
                ("b_1", &[("ShopUser", 1), ("WebsiteUser", 2)]),
            ])
        );
        let slots = vec![slot("A", 1.0, 0), slot("B", 1.0, 2), slot("C", 5.0, 0)];
        let names = vec!["A".to_string(), "B".to_string(), "C".to_string()];
        let workers = vec!["a_1".to_string(), "b_1".to_string(), "a_2".to_string()];
        let workers = locusta_dist::dispatch::sort_workers(&workers);
        assert_eq!(
            distribute(&class_order(&slots, 10), &names, &workers),
            counts(&[
                ("a_1", &[("A", 0), ("B", 1), ("C", 3)]),
                ("b_1", &[("A", 1), ("B", 1), ("C", 1)]),
                ("a_2", &[("A", 0), ("B", 0), ("C", 3)]),
            ])
        );
    }
}
