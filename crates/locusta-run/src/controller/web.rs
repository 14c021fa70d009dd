//! The web UI's side of the controller: the server (Locust's API plus `/stats/report` and
//! `/metrics`), the commands it queues (`/swarm`, `/stop`, `/stats/reset`), the status the
//! controller publishes for it, and the HTML reports it asks for.

use std::sync::Arc;

use locusta_insight::metrics::SharedRunGauges;
use locusta_stats::StatsHub;
use locusta_web::{
    Command, ControlPort, Forwarder, ReportRequest, RunInfo, Status, SwarmRequest, WebContext,
    WebServer, WorkerLogs,
};
use tokio::sync::mpsc;

use crate::plan::{Role, WebPlan};

use super::{Action, Controller, LoadState, Snapshot};

pub(super) struct WebSide {
    port: ControlPort,
    server: WebServer,
    reports: mpsc::Receiver<ReportRequest>,
    /// The host new users get, as the UI shows it.
    host: String,
    plan: WebPlan,
    /// "stopping" is shown from a Stop until the users report stopped.
    stopping: bool,
    /// `--class-picker`.
    class_picker: bool,
}

impl WebSide {
    /// Serves the UI for `controller`'s run.
    pub(super) fn start(
        stats: &Arc<StatsHub>,
        info: RunInfo,
        plan: WebPlan,
        role: &Role,
        worker_logs: Option<WorkerLogs>,
        forwarder: Option<Arc<dyn Forwarder>>,
        gauges: SharedRunGauges,
    ) -> Result<WebSide, String> {
        let host = info.host.clone();
        let class_picker = info.class_picker;
        let report_name = format!(
            "Locust_{}_{}{}.html",
            locusta_util::safe_timestamp(locusta_util::unix_now()),
            script_stem(&info.locustfile),
            if host.is_empty() {
                String::new()
            } else {
                format!("_{host}")
            }
        );
        let (ctx, port) = WebContext::with_worker_logs(
            Arc::clone(stats),
            info,
            Arc::new(crate::logging::recent_lines),
            worker_logs.unwrap_or_default(),
        );
        if matches!(role, Role::Master(_)) {
            port.set_distributed();
        }
        let (report_tx, reports) = mpsc::channel(4);
        let mut routes = locusta_web::router(ctx.clone())
            .merge(locusta_web::report_routes(report_tx, report_name))
            .merge(locusta_web::metrics_routes(Arc::clone(stats), gauges));
        if let Some(forwarder) = forwarder {
            if plan.login {
                routes = locusta_web::require_login(routes, Arc::clone(&forwarder));
            }
            routes = routes.merge(locusta_web::forward_routes(forwarder));
        }
        let server = locusta_web::start(ctx, routes, &plan.server)?;
        log::info!(target: "locusta.main", "Starting web interface at {}", server.url());
        Ok(WebSide {
            port,
            server,
            reports,
            host,
            plan,
            stopping: false,
            class_picker,
        })
    }

    pub(super) fn url(&self) -> &str {
        self.server.url()
    }

    pub(super) fn autostart(&self) -> bool {
        self.plan.autostart
    }

    pub(super) fn autoquit(&self) -> Option<u64> {
        self.plan.autoquit
    }

    /// Stops serving (waits up to about a second for open requests).
    pub(super) fn stop(self) {
        self.server.stop();
    }
}

/// `locustfile.py` → `locustfile`, as Locust names its report downloads (of several
/// locustfiles, `a.py, b.py`, the first).
fn script_stem(script: &str) -> &str {
    let first = script.split(", ").next().unwrap_or(script);
    let name = first.rsplit('/').next().unwrap_or(first);
    name.strip_suffix(".py").unwrap_or(name)
}

impl Controller {
    /// Carries out what the UI asked since the last tick.
    pub(super) fn handle_web_commands(
        &mut self,
        now: std::time::Instant,
        snap: &Snapshot,
        out: &mut Vec<Action>,
    ) {
        loop {
            let Some(web) = self.web.as_mut() else { return };
            let Ok(cmd) = web.port.commands.try_recv() else {
                return;
            };
            match cmd {
                Command::Swarm(req) => self.swarm(now, snap, req, out),
                Command::Stop => {
                    if self.test.take().is_some() || snap.state != LoadState::Stopped {
                        web.stopping = true;
                        out.push(Action::StopUsers);
                    }
                }
                Command::ResetStats => {
                    self.insight.reset();
                    out.push(Action::StatsReset);
                }
            }
        }
    }

    /// `/swarm`: a new test, or a new target for the running one.
    fn swarm(
        &mut self,
        now: std::time::Instant,
        snap: &Snapshot,
        req: SwarmRequest,
        out: &mut Vec<Action>,
    ) {
        let Some(web) = self.web.as_mut() else { return };
        if let Some(h) = &req.host {
            web.host.clone_from(h);
            out.push(Action::SetHost((!h.is_empty()).then(|| h.clone())));
        }
        if !req.extra_options.is_empty() {
            out.push(Action::ApplyOptions(req.extra_options.clone()));
        }
        self.quit_at = None;
        if snap.workers.as_ref().is_some_and(|w| w.ready == 0) {
            log::warn!(target: "locusta.runners", "You can't start a distributed test before at least one worker processes has connected");
            return;
        }
        if snap.state.is_active() && self.test.is_some() {
            if let Some(test) = self.test.as_mut() {
                if test.drive == super::test::Drive::Ramp {
                    out.push(Action::Spawn {
                        users: req.user_count,
                        rate: req.spawn_rate,
                        classes: req.user_classes.clone(),
                    });
                }
                // Locust restarts the run-time timer from each /swarm.
                test.deadline = req.run_time.map(|d| now + d);
            }
            return;
        }
        let host_missing = web.host.is_empty();
        if let Some(c) = self
            .classes
            .iter()
            .find(|c| host_missing && c.needs_host && c.host.is_none())
        {
            log::error!(
                target: "locusta.main",
                "You must specify the base host. Either in the host attribute in the User class ({}), or in the form's Host field.",
                c.name
            );
            return;
        }
        // A new test: Locust clears the statistics, exceptions and chart history.
        self.stats.reset();
        self.stats.reset_exceptions();
        web.port.clear_history();
        self.insight.reset();
        // `--class-picker` without a choice: every class, as Locust.
        let picked = req.user_classes.or_else(|| {
            web.class_picker
                .then(|| self.classes.iter().map(|c| c.name.clone()).collect())
        });
        let first = out.len();
        self.begin(now, snap, req.user_count, req.spawn_rate, req.run_time, out);
        if let Some(picked) = picked {
            // `--class-picker`: the test runs the classes chosen in the form (a shape's own
            // class lists still win on its steps).
            log::info!(target: "locusta.runners", "User classes chosen in the form: {}", picked.join(", "));
            for action in &mut out[first..] {
                if let Action::Spawn {
                    classes: c @ None, ..
                } = action
                {
                    *c = Some(picked.clone());
                }
            }
        }
    }

    /// Publishes the state for the UI and answers `/stats/report` requests.
    pub(super) fn publish(&mut self, snap: &Snapshot, actions: &[Action]) {
        let Some(web) = self.web.as_mut() else { return };
        if actions.contains(&Action::StopUsers) {
            web.stopping = true;
        } else if !snap.state.is_active() && snap.state != LoadState::Stopping {
            web.stopping = false;
        }
        let state = if web.stopping && snap.state != LoadState::Stopped {
            LoadState::Stopping
        } else {
            snap.state
        };
        let workers = snap.workers.as_ref();
        web.port.publish(Status {
            state: state.as_str().to_owned(),
            user_count: snap.users,
            class_counts: snap.class_counts.clone(),
            host: web.host.clone(),
            worker_count: workers.map_or(0, |w| w.ready),
            workers: workers
                .map(|w| std::sync::Arc::clone(&w.rows))
                .unwrap_or_default(),
        });
        let mut waiting = Vec::new();
        while let Ok(tx) = web.reports.try_recv() {
            waiting.push(tx);
        }
        if waiting.is_empty() {
            return;
        }
        let html = self.insight.report_now(&self.stats, &self.last_counts);
        for tx in waiting {
            let _ = tx.send(html.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::script_stem;

    #[test]
    fn report_downloads_are_named_after_the_first_locustfile() {
        assert_eq!(script_stem("locustfile.py"), "locustfile");
        assert_eq!(script_stem("dir/shop.py"), "shop");
        assert_eq!(script_stem("one.py, two.py"), "one");
        assert_eq!(script_stem("parity"), "parity");
    }
}
