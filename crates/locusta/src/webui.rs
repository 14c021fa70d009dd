//! The run behind the web UI (no `--headless`): serve the UI, then carry out what it asks.
//!
//! The control loop owns the [`Runner`] as the headless loop does, and between ticks drains the
//! UI's command queue (`locusta_web::Command`): start or retarget a test, stop it. It publishes
//! the runner's state for the navbar and `/stats/requests`, writes `--csv` files, honours
//! `--autostart`, `--autoquit` and a run time from the form, and on Ctrl-C or SIGTERM stops and
//! writes the same final outputs as a headless run. It also serves `/stats/report` (rendered
//! here, where the history lives) and `/metrics` next to Locust's API.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot};

use locusta_stats::{console, csv::CsvWriter, StatsHub};
use locusta_web::{ClassInfo, Command, ControlPort, RunInfo, ServerConfig, Status, TaskInfo};

use crate::headless::{self, format_class_counts, print_block, unix_now, HeadlessPlan};
use crate::runner::{Runner, RunnerState};
use crate::user::UserClass;

/// What the web run needs besides the headless plan (whose users, rate and run time are the
/// form's defaults and `--autostart`'s values).
pub struct WebPlan {
    /// Where to serve.
    pub server: ServerConfig,
    /// `--autostart`.
    pub autostart: bool,
    /// `--autoquit` seconds (only with `--autostart`).
    pub autoquit: Option<u64>,
    /// `--print-stats`: the console table every two seconds, as headless.
    pub print_stats: bool,
}

/// The UI's description of Rust user classes (tasks with their weights).
pub fn class_infos(classes: &[UserClass]) -> Vec<ClassInfo> {
    classes
        .iter()
        .map(|c| ClassInfo {
            name: c.name().to_owned(),
            tasks: c
                .tasks()
                .iter()
                .map(|t| TaskInfo {
                    name: t.name().to_owned(),
                    weight: u64::from(t.weight),
                    tasks: Vec::new(),
                })
                .collect(),
        })
        .collect()
}

/// An active test started from the UI (or `--autostart`).
struct Active {
    started: Instant,
    deadline: Option<Instant>,
    shape: bool,
}

fn publish(port: &ControlPort, runner: &Runner, host: &str) {
    port.publish(Status {
        state: runner.state().as_str().to_owned(),
        user_count: runner.user_count(),
        class_counts: runner.class_counts(),
        host: host.to_owned(),
        worker_count: 0,
        workers: Vec::new(),
    });
}

/// Shows "stopping" while users finish their tasks (up to `--stop-timeout`).
fn publish_stopping(port: &ControlPort, runner: &Runner, host: &str) {
    port.publish(Status {
        state: RunnerState::Stopping.as_str().to_owned(),
        user_count: runner.user_count(),
        class_counts: runner.class_counts(),
        host: host.to_owned(),
        worker_count: 0,
        workers: Vec::new(),
    });
}

/// Serves the UI and runs tests until Ctrl-C, SIGTERM or `--autoquit`. Returns the exit code.
pub async fn run(
    mut runner: Runner,
    stats: Arc<StatsHub>,
    mut plan: HeadlessPlan,
    web: WebPlan,
    info: RunInfo,
) -> i32 {
    let mut host = info.host.clone();
    // Listen for Ctrl-C and SIGTERM before anything is served, so an early signal still
    // leads to an orderly shutdown.
    let mut interrupt = listen(tokio::signal::unix::SignalKind::interrupt(), "Ctrl-C");
    let mut sigterm = listen(tokio::signal::unix::SignalKind::terminate(), "SIGTERM");
    let (ctx, mut port) = locusta_web::WebContext::new(
        Arc::clone(&stats),
        info,
        Arc::new(crate::logging::recent_lines),
    );
    let users_now = Arc::new(AtomicU64::new(0));
    let (report_requests, mut report_rx) = mpsc::channel::<oneshot::Sender<String>>(4);
    let report_name = format!(
        "Locust_{}_{}{}.html",
        locusta_util::safe_timestamp(unix_now()),
        plan.insight.info.locustfile,
        if host.is_empty() {
            String::new()
        } else {
            format!("_{host}")
        }
    );
    let routes = locusta_web::router(ctx.clone()).merge(extra_routes(
        report_requests,
        report_name,
        Arc::clone(&stats),
        Arc::clone(&users_now),
    ));
    let server = match locusta_web::start(ctx, routes, &web.server) {
        Ok(s) => s,
        Err(e) => {
            log::error!(target: "locusta.main", "{e}");
            runner.shutdown();
            return 1;
        }
    };
    log::info!(target: "locusta.main", "Starting web interface at {}", server.url());

    let mut csv = match &plan.csv_prefix {
        Some(prefix) => match CsvWriter::create(prefix, plan.csv_full_history) {
            Ok(w) => Some(w),
            Err(e) => {
                log::error!(
                    "cannot write CSV files with prefix {}: {e}. Check that the directory is writable.",
                    prefix.display()
                );
                runner.shutdown();
                return 1;
            }
        },
        None => None,
    };

    let mut active: Option<Active> = None;
    let mut shape_value = None;
    let mut quit_at: Option<Instant> = None;
    if web.autostart {
        let (users, rate, run_time) = (plan.users, plan.spawn_rate, plan.run_time);
        active = Some(begin(
            &mut runner,
            &mut plan,
            &mut shape_value,
            users,
            rate,
            run_time,
        ));
        if let Some(rt) = plan.run_time {
            log::info!(target: "locusta.main", "Run time limit set to {} seconds", rt.as_secs());
        }
    }
    publish(&port, &runner, &host);

    let mut last_merge = Instant::now();
    let mut last_print = Instant::now();
    let mut last_shape = Instant::now();
    let mut last_publish = Instant::now();
    loop {
        // Commands from the UI.
        while let Ok(cmd) = port.commands.try_recv() {
            match cmd {
                Command::Swarm(req) => {
                    if let Some(h) = &req.host {
                        host = h.clone();
                        runner.set_host((!h.is_empty()).then(|| h.clone()));
                    }
                    let fresh =
                        !matches!(runner.state(), RunnerState::Running | RunnerState::Spawning);
                    if fresh {
                        // A new test: Locust clears the statistics and the chart history.
                        stats.reset();
                        stats.reset_exceptions();
                        port.clear_history();
                        runner.clear_stop_test();
                        active = Some(begin(
                            &mut runner,
                            &mut plan,
                            &mut shape_value,
                            req.user_count,
                            req.spawn_rate,
                            req.run_time,
                        ));
                    } else {
                        log::info!(
                            target: "locusta.runners",
                            "Ramping to {} users at a rate of {:.2} per second",
                            req.user_count,
                            req.spawn_rate
                        );
                        if active.as_ref().is_some_and(|a| !a.shape) {
                            runner.start(req.user_count, req.spawn_rate);
                        }
                        if let Some(a) = active.as_mut() {
                            // Locust restarts the run-time timer from each /swarm.
                            a.deadline = req.run_time.map(|d| Instant::now() + d);
                        }
                    }
                    quit_at = None;
                }
                // Listeners of Python locustfiles hear of it; nothing to do here.
                Command::ResetStats => {}
                Command::Stop => {
                    if active.take().is_some() || runner.state() != RunnerState::Stopped {
                        publish_stopping(&port, &runner, &host);
                        stop_runner(&mut runner).await;
                    }
                }
            }
            publish(&port, &runner, &host);
        }

        let now = Instant::now();
        if runner.tick(now) {
            log::info!(
                target: "locusta.runners",
                "All users spawned: {}",
                format_class_counts(&runner.class_counts())
            );
            if plan.reset_stats {
                log::info!(target: "locusta.runners", "Resetting stats\n");
                stats.reset();
            }
        }
        let mut finished: Option<&str> = None;
        if active.is_some() && runner.stop_test_requested() {
            finished = Some("A user raised StopTest");
        }
        if let Some(a) = &active {
            if a.deadline.is_some_and(|d| now >= d) {
                finished = Some("--run-time limit reached");
            }
        }
        if let (Some(a), Some(shape)) = (&active, plan.shape.as_mut()) {
            if a.shape && now.duration_since(last_shape) >= Duration::from_secs(1) {
                last_shape = now;
                match shape.tick(now.duration_since(a.started), runner.user_count()) {
                    Some(tick) => {
                        if shape_value.as_ref() != Some(&tick) {
                            headless::apply_shape_tick(&mut runner, &tick);
                            shape_value = Some(tick);
                        }
                    }
                    None => finished = Some("Shape test completed"),
                }
            }
        }
        if let Some(reason) = finished {
            log::info!(target: "locusta.main", "{reason}, stopping test");
            active = None;
            publish_stopping(&port, &runner, &host);
            stop_runner(&mut runner).await;
            publish(&port, &runner, &host);
            if web.autostart {
                match web.autoquit {
                    Some(secs) => quit_at = Some(Instant::now() + Duration::from_secs(secs)),
                    None => log::info!(
                        target: "locusta.main",
                        "--autoquit not specified, leaving web ui running indefinitely"
                    ),
                }
            }
        }
        if quit_at.is_some_and(|q| Instant::now() >= q) {
            log::info!(target: "locusta.main", "--autoquit time reached, shutting down");
            break;
        }

        if now.duration_since(last_merge) >= Duration::from_secs(1) {
            last_merge = now;
            stats.merge();
            // The history behind the diagnosis and the HTML report; thresholds are judged at
            // the end (an early abort is a headless feature).
            let elapsed = active
                .as_ref()
                .map_or(0.0, |a| now.duration_since(a.started).as_secs_f64());
            let _ = plan
                .insight
                .after_merge(&stats, runner.user_count(), None, elapsed);
            if let Some(w) = csv.as_mut() {
                let users = runner.user_count();
                if let Err(e) = stats.read(|agg| w.write_snapshot(agg, users, unix_now())) {
                    log::error!("writing CSV files failed: {e}");
                }
            }
        }
        if web.print_stats && now.duration_since(last_print) >= Duration::from_secs(2) {
            last_print = now;
            print_block(&stats.read(|agg| console::stats_table(agg, true)));
        }
        if now.duration_since(last_publish) >= Duration::from_millis(200) {
            last_publish = now;
            publish(&port, &runner, &host);
            users_now.store(runner.user_count(), Ordering::Relaxed);
        }

        let pause = if runner.is_ramping() {
            Duration::from_millis(5)
        } else {
            Duration::from_millis(100)
        };
        tokio::select! {
            _ = tokio::time::sleep(pause) => {}
            Some(reply) = report_rx.recv() => {
                let _ = reply.send(plan.insight.report_now(&stats));
            }
            Some(_) = recv(&mut interrupt) => {
                log::info!(target: "locusta.main", "Got Ctrl-C, shutting down");
                break;
            }
            Some(_) = recv(&mut sigterm) => {
                log::info!(target: "locusta.main", "Got SIGTERM signal");
                break;
            }
        }
    }

    tokio::select! {
        _ = runner.stop() => {}
        Some(_) = recv(&mut interrupt) => log::warn!("second Ctrl-C: not waiting for users to finish"),
    }
    plan.insight.record_final_ratio(&runner.class_counts());
    runner.shutdown();
    server.stop();
    stats.merge();
    headless::finish(&stats, &mut plan, csv.as_mut(), false)
}

/// Starts a test: the shape's first step, or a ramp to `users` at `rate`.
fn begin(
    runner: &mut Runner,
    plan: &mut HeadlessPlan,
    shape_value: &mut Option<crate::shape::ShapeTick>,
    users: u64,
    rate: f64,
    run_time: Option<Duration>,
) -> Active {
    let started = Instant::now();
    let shape = plan.shape.is_some();
    *shape_value = None;
    if let Some(shape) = plan.shape.as_mut() {
        if let Some(tick) = shape.tick(Duration::ZERO, 0) {
            headless::apply_shape_tick(runner, &tick);
            *shape_value = Some(tick);
        }
    } else {
        log::info!(
            target: "locusta.runners",
            "Ramping to {users} users at a rate of {rate:.2} per second"
        );
        runner.start(users, rate);
    }
    Active {
        started,
        deadline: if shape {
            None
        } else {
            run_time.map(|d| started + d)
        },
        shape,
    }
}

async fn stop_runner(runner: &mut Runner) {
    runner.stop().await;
    if runner.state() != RunnerState::Stopped {
        log::warn!("some users were still running after the stop");
    }
}

/// What the command line knows about the locustfile, for the start form.
pub(crate) struct Facts {
    pub classes: Vec<ClassInfo>,
    pub has_shape: bool,
    pub host: String,
    pub host_optional: bool,
}

/// Resolves the web options. `--web-host` defaults to 127.0.0.1 here (Locust listens on every
/// interface): the UI can start load against any host, so exposing it is an explicit choice.
pub(crate) fn web_plan(
    opts: &locusta_options::Options,
    sources: &std::collections::HashMap<&'static str, locusta_options::Source>,
    facts: Facts,
) -> Result<(WebPlan, RunInfo), String> {
    let host_given = matches!(sources.get("web_host"), Some(s) if !matches!(s, locusta_options::Source::Default));
    let web_host = if host_given {
        opts.web_host.clone()
    } else {
        "127.0.0.1".to_owned()
    };
    let tls = match (opts.tls_cert.is_empty(), opts.tls_key.is_empty()) {
        (true, true) => None,
        (false, false) => Some((
            std::path::PathBuf::from(&opts.tls_cert),
            std::path::PathBuf::from(&opts.tls_key),
        )),
        _ => return Err("--tls-cert and --tls-key must be given together".to_owned()),
    };
    let full_history_file = match (&opts.csv_prefix, opts.stats_history_enabled) {
        (Some(prefix), true) => Some(std::path::PathBuf::from(format!(
            "{prefix}_stats_history.csv"
        ))),
        _ => None,
    };
    let locustfile = std::path::Path::new(&opts.locustfile)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| "locustfile".to_owned());
    let info = RunInfo {
        locustfile,
        num_users: opts.num_users,
        spawn_rate: opts.spawn_rate,
        run_time: opts.run_time,
        host: facts.host,
        host_optional: facts.host_optional,
        classes: facts.classes,
        shape_class: facts.has_shape.then(|| "LoadTestShape".to_owned()),
        extra_options: Vec::new(),
        stats_history_enabled: full_history_file.is_some(),
        full_history_file,
        has_report: true,
    };
    let web = WebPlan {
        server: ServerConfig {
            host: web_host,
            port: opts.web_port,
            base_path: opts.web_base_path.clone(),
            auth: opts.web_auth.clone(),
            tls,
        },
        autostart: opts.autostart,
        autoquit: u64::try_from(opts.autoquit).ok(),
        print_stats: opts.print_stats && !opts.only_summary,
    };
    Ok((web, info))
}

fn listen(
    kind: tokio::signal::unix::SignalKind,
    name: &str,
) -> Option<tokio::signal::unix::Signal> {
    match tokio::signal::unix::signal(kind) {
        Ok(s) => Some(s),
        Err(e) => {
            log::warn!("cannot listen for {name} ({e})");
            None
        }
    }
}

/// Waits for the signal, forever when it could not be registered.
async fn recv(signal: &mut Option<tokio::signal::unix::Signal>) -> Option<()> {
    match signal.as_mut() {
        Some(s) => s.recv().await,
        None => std::future::pending().await,
    }
}

/// Routes served next to Locust's web API: `/stats/report` (the HTML report of the run so far,
/// rendered by the control loop, which owns the history; `?download=1` makes it an attachment
/// as in Locust) and `/metrics` (Prometheus text).
pub fn extra_routes(
    report_requests: mpsc::Sender<oneshot::Sender<String>>,
    report_name: String,
    stats: Arc<StatsHub>,
    users: Arc<AtomicU64>,
) -> axum::Router {
    use axum::extract::Query;
    use axum::http::{header, StatusCode};
    use axum::response::IntoResponse;
    use std::collections::HashMap;

    let report = move |Query(q): Query<HashMap<String, String>>| {
        let requests = report_requests.clone();
        let name = report_name.clone();
        async move {
            let (tx, rx) = oneshot::channel();
            if requests.send(tx).await.is_err() {
                return (StatusCode::SERVICE_UNAVAILABLE, "the test is shutting down")
                    .into_response();
            }
            match rx.await {
                Ok(html) => {
                    let mut headers =
                        vec![(header::CONTENT_TYPE, "text/html; charset=utf-8".to_owned())];
                    if q.get("download").is_some_and(|v| !v.is_empty()) {
                        headers.push((
                            header::CONTENT_DISPOSITION,
                            format!("attachment;filename={name}"),
                        ));
                    }
                    let mut response = html.into_response();
                    for (k, v) in headers {
                        if let Ok(v) = axum::http::HeaderValue::from_str(&v) {
                            response.headers_mut().insert(k, v);
                        }
                    }
                    response
                }
                Err(_) => {
                    (StatusCode::SERVICE_UNAVAILABLE, "the test is shutting down").into_response()
                }
            }
        }
    };
    axum::Router::new()
        .route("/stats/report", axum::routing::get(report))
        .merge(metrics_routes(stats, users))
}

/// `GET /metrics` (Prometheus text of `stats`, with `users` read at each scrape); the
/// distributed web master serves it too.
pub fn metrics_routes(stats: Arc<StatsHub>, users: Arc<AtomicU64>) -> axum::Router {
    use axum::http::header;

    let metrics = move || {
        let stats = Arc::clone(&stats);
        let users = users.load(Ordering::Relaxed);
        async move {
            let text = stats.read(|agg| locusta_insight::metrics::metrics_text(agg, users));
            (
                [(
                    header::CONTENT_TYPE,
                    "text/plain; version=0.0.4; charset=utf-8",
                )],
                text,
            )
        }
    };
    axum::Router::new().route("/metrics", axum::routing::get(metrics))
}
