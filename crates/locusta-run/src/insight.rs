//! A run's hooks into `locusta-insight`: history, thresholds, the `--baseline` comparison,
//! diagnosis, capacity search, HTML report, JUnit and Prometheus metrics.
//!
//! Kept out of the controller so it only calls a few methods: [`Insight::after_merge`] once a
//! second, [`Insight::capacity_users`] when `--find-capacity` drives the load, and
//! [`Insight::finish`] when the run is over.

use std::path::PathBuf;
use std::sync::Arc;

use locusta_insight::baseline::Baseline;
use locusta_insight::compare::{self, Comparison};
use locusta_insight::diagnosis::{self, CapacitySearch, Diagnosis, Slo};
use locusta_insight::history::Recorder;
use locusta_insight::junit;
use locusta_insight::metrics::{MetricsServer, SharedRunGauges};
use locusta_insight::report::{self, FinalRatio, RatioNode, RunInfo};
use locusta_insight::threshold::{self, Outcome, Threshold, THRESHOLD_EXIT_CODE};
use locusta_options::Options;
use locusta_stats::StatsHub;

/// The insight features of one run, resolved from the options.
pub struct Insight {
    /// The per-second history.
    pub history: Recorder,
    thresholds: Vec<Threshold>,
    abort_after: Option<f64>,
    junit: Option<PathBuf>,
    html: Option<String>,
    slo: Slo,
    capacity: Option<CapacitySearch>,
    metrics: Option<(MetricsServer, tokio::runtime::Runtime)>,
    /// What `/metrics` reports about the run (users, state, workers), updated at every tick.
    gauges: SharedRunGauges,
    /// Run metadata for the report.
    pub info: RunInfo,
    /// The classes that run, with their tasks (for the report's final ratio).
    classes: Vec<crate::plan::ClassFacts>,
    outcomes: Vec<threshold::Outcome>,
    /// `--baseline`: the previous run to compare with.
    baseline: Option<Baseline>,
    /// The final comparison with it (after [`Insight::exit_code`]).
    comparison: Option<Comparison>,
}

impl Insight {
    /// Validates the insight options; the error is the message to log.
    pub fn from_options(opts: &Options, locustfile: &str, host: &str) -> Result<Insight, String> {
        let thresholds = threshold::parse_all(&opts.thresholds)?;
        let slo = match &opts.slo {
            Some(s) => Slo::parse(s)?,
            None => Slo::default(),
        };
        if opts.threshold_abort_after.is_some() && thresholds.is_empty() {
            return Err("--threshold-abort-after needs at least one --threshold".to_string());
        }
        let users = opts.num_users.unwrap_or(1);
        let capacity = if opts.find_capacity {
            let step = opts.capacity_step.unwrap_or((users / 10).max(1));
            if step > users {
                return Err(format!(
                    "--capacity-step {step} is more than the maximum of {users} users (-u)"
                ));
            }
            Some(CapacitySearch::new(
                step,
                opts.capacity_step_time.unwrap_or(10),
                users,
                slo.clone(),
            ))
        } else {
            if opts.capacity_step.is_some() || opts.capacity_step_time.is_some() {
                return Err("--capacity-step and --capacity-step-time need --find-capacity".into());
            }
            None
        };
        let metrics = None;
        Ok(Insight {
            history: Recorder::new(),
            thresholds,
            abort_after: opts.threshold_abort_after.map(|s| s as f64),
            junit: opts.junit_file.clone().map(PathBuf::from),
            html: opts.html_file.clone(),
            slo,
            capacity,
            metrics,
            gauges: SharedRunGauges::default(),
            info: RunInfo {
                locustfile: locustfile.to_string(),
                host: host.to_string(),
                users: opts.num_users.unwrap_or(1),
                spawn_rate: opts.spawn_rate.unwrap_or(1.0),
                run_time: opts.run_time,
                start_unix: 0.0,
                end_unix: 0.0,
                final_ratio: FinalRatio::default(),
                open_model: None,
            },
            classes: Vec::new(),
            outcomes: Vec::new(),
            baseline: None,
            comparison: None,
        })
    }

    /// Reads `--baseline` (where the final statistics are: not on a worker). A missing or
    /// unreadable file, or a baseline term in `--threshold` without `--baseline`, is the error
    /// to report before the run starts.
    pub fn load_baseline(&mut self, path: Option<&str>) -> Result<(), String> {
        let Some(path) = path.filter(|p| !p.is_empty()) else {
            if let Some(t) = self.thresholds.iter().find(|t| t.uses_baseline()) {
                return Err(format!(
                    "--threshold '{}' compares with a baseline: add --baseline PATH (a previous run's --json-file output or --csv prefix)",
                    t.text
                ));
            }
            return Ok(());
        };
        let baseline = Baseline::load(path)?;
        log::info!(target: "locusta.main", "Comparing with the baseline {}", baseline.describe());
        if baseline.kind == locusta_insight::baseline::Kind::Csv {
            log::info!(target: "locusta.main", "Note: {}", compare::CSV_NOTE);
        }
        self.baseline = Some(baseline);
        Ok(())
    }

    /// Starts the Prometheus endpoint if `--metrics-port` asked for one, on a thread of its own
    /// (so it serves whatever the caller's loop is doing).
    pub fn start_metrics(
        &mut self,
        opts_port: Option<u16>,
        web_host: &str,
        stats: &Arc<StatsHub>,
    ) -> Result<(), String> {
        let Some(port) = opts_port else { return Ok(()) };
        let host = match web_host {
            "" | "*" => "127.0.0.1",
            h => h,
        };
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("locusta-metrics")
            .enable_all()
            .build()
            .map_err(|e| format!("cannot start the metrics thread: {e}"))?;
        let server = runtime
            .block_on(MetricsServer::start(
                host,
                port,
                Arc::clone(stats),
                Arc::clone(&self.gauges),
            ))
            .map_err(|e| format!("cannot serve metrics on {host}:{port}: {e}"))?;
        log::info!(target: "locusta.main", "Prometheus metrics at http://{}/metrics", server.addr());
        self.metrics = Some((server, runtime));
        Ok(())
    }

    /// The run's gauges for `/metrics` (the web UI's route reads them too).
    pub fn run_gauges(&self) -> SharedRunGauges {
        Arc::clone(&self.gauges)
    }

    /// Updates what `/metrics` reports about the run (called at every tick; cheap when
    /// nothing changed).
    pub fn set_run_gauges(
        &self,
        state: &str,
        users: u64,
        target_users: u64,
        class_users: &[(String, u64)],
        workers: u64,
    ) {
        self.gauges
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .update(state, users, target_users, class_users, workers);
    }

    /// Remembers the classes and their tasks for the report's final ratio.
    pub fn set_classes(&mut self, classes: &[crate::plan::ClassFacts]) {
        self.classes = classes.to_vec();
    }

    /// The final ratio from the running class counts (call while users run, or with the last
    /// counts seen before they stopped): the `--show-task-ratio` trees, nested task sets
    /// included, of the classes that had users.
    pub fn record_final_ratio(&mut self, counts: &[(String, u64)]) {
        if counts.iter().all(|(_, n)| *n == 0) {
            return;
        }
        let ran: Vec<crate::plan::ClassFacts> = self
            .classes
            .iter()
            .filter(|c| counts.iter().any(|(name, n)| *name == c.name && *n > 0))
            .cloned()
            .collect();
        let tree = |total| {
            crate::task_ratio::ratios_of(&ran, counts, total)
                .into_iter()
                .map(ratio_node)
                .collect()
        };
        self.info.final_ratio = FinalRatio {
            per_class: tree(false),
            total: tree(true),
        };
    }

    /// Users added per `--find-capacity` step (0 without it).
    pub fn capacity_step(&self) -> u64 {
        self.capacity.as_ref().map_or(0, |c| c.step)
    }

    /// Whether `--find-capacity` drives the load.
    pub fn finds_capacity(&self) -> bool {
        self.capacity.is_some()
    }

    /// The users `--find-capacity` wants now, or `None` when its search is over.
    pub fn capacity_users(&mut self, elapsed_s: f64) -> Option<u64> {
        let now = locusta_util::unix_now();
        let search = self.capacity.as_mut()?;
        let users = search.tick(elapsed_s, now, &self.history);
        if users.is_none() {
            if let Some(why) = search.outcome() {
                log::info!(target: "locusta.main", "Capacity search finished: {why}");
            }
        }
        users
    }

    /// Records the second(s) just merged; returns a reason to stop when a threshold broke and
    /// `--threshold-abort-after` is in force.
    pub fn after_merge(
        &mut self,
        stats: &StatsHub,
        users: u64,
        target_rate: Option<f64>,
        elapsed_s: f64,
    ) -> Option<String> {
        let now = locusta_util::unix_now();
        let abort_after = self.abort_after;
        let thresholds = &self.thresholds;
        let baseline = self.baseline.as_ref();
        let history = &mut self.history;
        stats.read(|agg| {
            history.sample(agg, users, target_rate, now);
            match abort_after {
                Some(after) if elapsed_s >= after => {
                    threshold::first_broken_upper_bound(thresholds, agg, baseline).map(|o| {
                        format!(
                            "threshold '{}' failed ({}), stopping the test",
                            o.threshold.text,
                            o.actual_text()
                        )
                    })
                }
                _ => None,
            }
        })
    }

    /// The open model's counters, printed at the end and shown in the report.
    pub fn set_open_model(&mut self, s: crate::arrival::ArrivalStats) {
        self.info.open_model = Some(format!(
            "open model: {} iterations started, {} of them late (more than {} ms after their intended start); start delay mean {:.3} s, max {:.3} s",
            s.started,
            s.late,
            crate::arrival::LATE_AFTER.as_millis(),
            s.mean_lag_s,
            s.max_lag_s
        ));
    }

    /// Forgets the history (`--reset-stats`).
    pub fn reset(&mut self) {
        self.history.clear();
    }

    /// Evaluates the thresholds on the final statistics; returns the exit code: `code`, or
    /// [`THRESHOLD_EXIT_CODE`] when a threshold failed (or aborted the run).
    pub fn exit_code(&mut self, stats: &StatsHub, code: i32, aborted: bool) -> i32 {
        self.info.end_unix = locusta_util::unix_now();
        let baseline = self.baseline.as_ref();
        let (outcomes, comparison) = stats.read(|agg| {
            (
                threshold::evaluate_all(&self.thresholds, agg, baseline),
                baseline.map(|b| compare::compare(b, agg)),
            )
        });
        self.outcomes = outcomes;
        self.comparison = comparison;
        if aborted || self.outcomes.iter().any(|o| !o.passed) {
            THRESHOLD_EXIT_CODE
        } else {
            code
        }
    }

    /// The HTML report of the run so far (the web UI's `/stats/report`): the diagnosis of the
    /// history up to now, the thresholds judged on the current statistics and the ratio of the
    /// users per class now (`class_counts`; the last ones seen once the users stopped).
    pub fn report_now(&mut self, stats: &StatsHub, class_counts: &[(String, u64)]) -> String {
        self.record_final_ratio(class_counts);
        let diagnosis = diagnosis::diagnose(&self.history, &self.slo);
        let baseline = self.baseline.as_ref();
        let (outcomes, comparison) = stats.read(|agg| {
            (
                threshold::evaluate_all(&self.thresholds, agg, baseline),
                baseline.map(|b| compare::compare(b, agg)),
            )
        });
        self.render(stats, &diagnosis, &outcomes, comparison.as_ref())
    }

    /// The HTML report of the history so far with this diagnosis, these threshold outcomes and
    /// this comparison with the baseline.
    fn render(
        &self,
        stats: &StatsHub,
        diagnosis: &Diagnosis,
        outcomes: &[Outcome],
        comparison: Option<&Comparison>,
    ) -> String {
        stats.read(|agg| {
            report::render(&report::ReportInput {
                agg,
                history: &self.history,
                diagnosis: Some(diagnosis),
                thresholds: outcomes,
                baseline: comparison,
                info: &self.info,
            })
        })
    }

    /// Prints the diagnosis and threshold summary, writes JUnit and HTML files (after
    /// [`Insight::exit_code`]); returns `code`, or 1 if a file could not be written.
    pub fn finish(&mut self, stats: &StatsHub, code: i32) -> i32 {
        let diagnosis = diagnosis::diagnose(&self.history, &self.slo);
        let mut text = diagnosis.text();
        if let Some(open) = &self.info.open_model {
            text.push_str(&format!("  Load: {open}\n\n"));
        }
        if let Some(why) = self.capacity.as_ref().and_then(|c| c.outcome()) {
            text.push_str(&format!("  Capacity search: {why}\n\n"));
        }
        crate::outputs::print_block(&text);
        let outcomes = std::mem::take(&mut self.outcomes);
        let comparison = self.comparison.take();
        if let Some(c) = &comparison {
            crate::outputs::print_block(&c.text());
        }
        let mut code = code;
        if !outcomes.is_empty() {
            crate::outputs::print_block(&threshold::summary_table(&outcomes));
        }
        if let Some(path) = &self.junit {
            let xml = junit::junit_xml(
                &outcomes,
                comparison.as_ref(),
                self.info.end_unix - self.info.start_unix,
                &locusta_stats::format::format_utc_timestamp(self.info.start_unix),
            );
            if let Err(e) = write_file(path, &xml) {
                log::error!("cannot write {}: {e}", path.display());
                code = if code == 0 { 1 } else { code };
            }
        }
        if let Some(pattern) = &self.html {
            let path = PathBuf::from(report::file_name(pattern, &self.info));
            let html = self.render(stats, &diagnosis, &outcomes, comparison.as_ref());
            if let Err(e) = write_file(&path, &html) {
                log::error!("cannot write the HTML report {}: {e}", path.display());
                code = if code == 0 { 1 } else { code };
            }
        }
        if let Some((server, runtime)) = self.metrics.take() {
            server.shutdown();
            // May be called from inside another runtime, where dropping one would panic.
            runtime.shutdown_background();
        }
        code
    }
}

fn ratio_node(r: crate::task_ratio::Ratio) -> RatioNode {
    RatioNode {
        name: r.name,
        ratio: r.ratio,
        tasks: r
            .tasks
            .unwrap_or_default()
            .into_iter()
            .map(ratio_node)
            .collect(),
    }
}

fn write_file(path: &std::path::Path, text: &str) -> std::io::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(path, text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::ClassFacts;
    use locusta_web::TaskInfo;

    fn task(name: &str, weight: u64, tasks: Vec<TaskInfo>) -> TaskInfo {
        TaskInfo {
            name: name.into(),
            weight,
            tasks,
        }
    }

    fn class(name: &str, tasks: Vec<TaskInfo>) -> ClassFacts {
        ClassFacts {
            name: name.into(),
            weight: 1.0,
            fixed_count: 0,
            host: None,
            needs_host: true,
            tasks,
        }
    }

    #[test]
    fn final_ratio_is_the_task_ratio_tree_of_the_users_that_ran() {
        let mut insight = Insight::from_options(&Options::default(), "lf.py", "").expect("insight");
        insight.set_classes(&[
            class(
                "Shopper",
                vec![
                    task("home", 3, vec![]),
                    task(
                        "Browse",
                        1,
                        vec![task("listing", 2, vec![]), task("stop", 1, vec![])],
                    ),
                ],
            ),
            class("Admin", vec![task("dashboard", 1, vec![])]),
            class("Idle", vec![task("nothing", 1, vec![])]),
        ]);
        insight.record_final_ratio(&[
            ("Shopper".into(), 3),
            ("Admin".into(), 1),
            ("Idle".into(), 0),
        ]);
        let r = &insight.info.final_ratio;
        let names: Vec<&str> = r.per_class.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(
            names,
            ["Shopper", "Admin"],
            "a class without users is left out"
        );
        assert_eq!(r.per_class[0].ratio, 0.75);
        let browse = &r.per_class[0].tasks[1];
        assert_eq!((browse.name.as_str(), browse.ratio), ("Browse", 0.25));
        let listing = &browse.tasks[0];
        assert_eq!(
            (listing.name.as_str(), listing.ratio),
            ("listing", 2.0 / 3.0)
        );
        // Total: listing runs 2/3 of Browse's quarter of Shopper's three quarters.
        let listing = &r.total[0].tasks[1].tasks[0];
        assert!((listing.ratio - 0.125).abs() < 1e-9, "{}", listing.ratio);
        assert_eq!(r.total[1].tasks[0].ratio, 0.25);
        // No users (yet): the ratio recorded before stays.
        insight.record_final_ratio(&[("Shopper".into(), 0)]);
        assert_eq!(insight.info.final_ratio.per_class.len(), 2);
    }
}
