//! `--otel` in the run lifecycle: the export is set up once the plan is checked (so every front
//! end and role gets it the same way), the controller publishes the users per class for the
//! gauge, and the process flushes the export before it exits ([`shutdown`]).
//!
//! The export itself (instruments, spans, exporters) is `locusta-otel`'s; this module only
//! decides where in a run it happens.

use crate::plan::{Role, RunPlan};

pub use locusta_otel::{emit_log, enabled, logs_enabled, set_user_counts, shutdown};

/// Sets up the export `--otel` asks for; `Err` holds the exit code of a refused run (already
/// logged). A worker exports its requests and spans but not the users gauge, which its master
/// exports (as Locust); the parent of `--worker --processes N` exports nothing itself.
pub(crate) fn start(plan: &RunPlan, locustfile: String) -> Result<(), i32> {
    let opts = &plan.options;
    if !opts.otel || matches!(plan.role, Role::WorkerProcesses(_)) {
        return Ok(());
    }
    let settings = locusta_otel::Settings {
        locustfile,
        profile: opts.profile.clone().unwrap_or_default(),
        users_gauge: !matches!(plan.role, Role::Worker),
    };
    match locusta_otel::setup(&settings) {
        Ok(true) => {
            log::info!(target: "locusta.main", "OpenTelemetry enabled");
            Ok(())
        }
        Ok(false) => Ok(()),
        Err(e) => {
            log::error!(
                target: "locusta.main",
                "--otel: {e}; check the OTEL_EXPORTER_OTLP_* variables, or leave --otel out"
            );
            Err(1)
        }
    }
}
