//! OpenTelemetry export for locusta (`--otel`), from the Rust engine, for Rust and Python users
//! alike.
//!
//! Locust 2.47's `--otel` sets up the OpenTelemetry SDK from the standard `OTEL_*` variables,
//! records a `locust.client.duration` histogram from its `request` event, observes a
//! `locust.users.count` gauge (not on workers), and auto-instruments `requests` so each HTTP
//! request is a CLIENT span whose `traceparent` reaches the system under test. This crate does
//! the same with the Rust SDK: [`setup`] reads the variables ([`config`]), builds the exporters
//! (OTLP over gRPC or HTTP/protobuf, or the console), and installs two hooks that cost a request
//! nothing when `--otel` is off: an observer on the statistics' recording path (every recorded
//! request feeds the histogram, [`metrics`]) and a tracer in the HTTP client (a span per
//! request, `traces`). The run controller publishes the users per class for the gauge
//! ([`set_user_counts`]); [`shutdown`] exports what is left, with a bounded wait, before the
//! process exits.
//!
//! Log records (the Rust crates' and Python's `logging`) go to `OTEL_LOGS_EXPORTER` as Locust
//! bridges them ([`emit_log`]).

pub mod config;
mod export;
mod logs;
pub mod metrics;
mod traces;

use std::sync::mpsc;
use std::sync::Mutex;
use std::time::Duration;

use locusta_util::lock;
use opentelemetry::metrics::MeterProvider as _;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry::KeyValue;
use opentelemetry_sdk::logs::SdkLoggerProvider;
use opentelemetry_sdk::metrics::{PeriodicReader, SdkMeterProvider};
use opentelemetry_sdk::trace::{BatchSpanProcessor, SdkTracerProvider};
use opentelemetry_sdk::Resource;

pub use config::Exporter;
pub use logs::{emit_log, levelno, logs_enabled};
pub use metrics::{error_type, set_user_counts, MAX_REQUEST_NAMES, TOO_MANY_NAMES};

/// How long [`shutdown`] waits for the last export before giving up with a warning.
pub const FLUSH_WAIT: Duration = Duration::from_secs(5);

/// What the run tells the exporters about itself.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    /// The locustfile (the resource's `filename`).
    pub locustfile: String,
    /// `--profile` (the resource's `profile`; empty when not given).
    pub profile: String,
    /// Whether this process observes `locust.users.count` (not on a worker: its master does).
    pub users_gauge: bool,
}

/// The providers of a running export.
struct Telemetry {
    meters: Option<SdkMeterProvider>,
    tracers: Option<SdkTracerProvider>,
    loggers: Option<SdkLoggerProvider>,
    /// Drives the gRPC exporters' connections (only with a gRPC exporter).
    runtime: Option<tokio::runtime::Runtime>,
}

static STATE: Mutex<Option<Telemetry>> = Mutex::new(None);

fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// The resource Locust describes a run with: `service.name` (`OTEL_SERVICE_NAME`, default
/// `locust`, so Locust's dashboards keep working), `service.version` (locusta's version),
/// `host.name`, `filename`, `profile`, a `service.instance.id` per process (the Python SDK
/// adds one), plus `OTEL_RESOURCE_ATTRIBUTES`.
fn resource(settings: &Settings, env: &dyn Fn(&str) -> Option<String>) -> Resource {
    let service = env("OTEL_SERVICE_NAME")
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "locust".to_owned());
    Resource::builder()
        .with_service_name(service)
        .with_attributes([
            KeyValue::new("service.instance.id", instance_id()),
            KeyValue::new("service.version", env!("CARGO_PKG_VERSION")),
            KeyValue::new("host.name", locusta_util::hostname()),
            KeyValue::new("filename", settings.locustfile.clone()),
            KeyValue::new("profile", settings.profile.clone()),
        ])
        .build()
}

/// A random UUID (version 4 layout) naming this process, as the Python SDK's resource has one:
/// it tells a master's and its workers' exports apart.
fn instance_id() -> String {
    use opentelemetry_sdk::trace::{IdGenerator as _, RandomIdGenerator};
    let mut bits = u128::from_be_bytes(RandomIdGenerator::default().new_trace_id().to_bytes());
    bits = (bits & !(0xf << 76)) | (0x4 << 76); // version 4
    bits = (bits & !(0x3 << 62)) | (0x2 << 62); // RFC 4122 variant
    let h = format!("{bits:032x}");
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}

/// Sets up the export `--otel` asks for from the `OTEL_*` variables; `Ok(true)` when something
/// is exported, `Ok(false)` when the variables turn every exporter off (said in an info line,
/// as Locust), `Err` with what to fix when an exporter cannot be built. Call once per process,
/// before users start; a second call does nothing.
pub fn setup(settings: &Settings) -> Result<bool, String> {
    let mut state = lock(&STATE);
    if state.is_some() {
        return Ok(true);
    }
    let env = process_env;
    let cfg = match config::decide(&env) {
        config::Decision::AllNone => {
            log::info!(target: "locusta.otel", "No OpenTelemetry exporters configured, opentelemetry not enabled");
            return Ok(false);
        }
        config::Decision::Export(cfg) => cfg,
    };
    for w in &cfg.warnings {
        log::warn!(target: "locusta.otel", "{w}");
    }
    if cfg.traces.is_empty() && cfg.metrics.is_empty() && cfg.logs.is_empty() {
        log::info!(target: "locusta.otel", "No usable OpenTelemetry exporter configured, opentelemetry not enabled");
        return Ok(false);
    }
    let grpc = cfg
        .traces
        .iter()
        .chain(cfg.metrics.iter())
        .chain(cfg.logs.iter())
        .any(|e| *e == Exporter::OtlpGrpc);
    let runtime = if grpc {
        Some(
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .thread_name("locusta-otel")
                .enable_all()
                .build()
                .map_err(|e| format!("cannot start the OpenTelemetry exporter thread: {e}"))?,
        )
    } else {
        None
    };
    // gRPC channels are made inside the runtime that will drive them
    let _entered = runtime.as_ref().map(|rt| rt.enter());
    let resource = resource(settings, &env);

    let meters = if cfg.metrics.is_empty() {
        None
    } else {
        let mut builder = SdkMeterProvider::builder().with_resource(resource.clone());
        for &exporter in &cfg.metrics {
            builder = match exporter {
                Exporter::Console => builder.with_reader(
                    PeriodicReader::builder(opentelemetry_stdout::MetricExporter::default())
                        .build(),
                ),
                otlp => {
                    let what = format!(
                        "metrics to {}",
                        export::endpoint_for_messages(&env, otlp, "metrics")
                    );
                    let inner = export::otlp_metrics(otlp)?;
                    let watched = export::WatchedMetrics {
                        inner,
                        watch: export::Watch::new(what),
                    };
                    builder.with_reader(PeriodicReader::builder(watched).build())
                }
            };
        }
        let provider = builder.build();
        let meter = provider.meter("locust");
        locusta_stats::observer::install(Box::new(metrics::DurationObserver::new(&meter)));
        if settings.users_gauge {
            metrics::register_users_gauge(&meter);
        }
        Some(provider)
    };

    let loggers = if cfg.logs.is_empty() {
        None
    } else {
        let mut builder = SdkLoggerProvider::builder().with_resource(resource.clone());
        for &exporter in &cfg.logs {
            builder = match exporter {
                Exporter::Console => {
                    builder.with_simple_exporter(opentelemetry_stdout::LogExporter::default())
                }
                otlp => {
                    let what = format!(
                        "logs to {}",
                        export::endpoint_for_messages(&env, otlp, "logs")
                    );
                    let inner = export::otlp_logs(otlp)?;
                    builder.with_batch_exporter(export::WatchedLogs {
                        inner,
                        watch: export::Watch::new(what),
                    })
                }
            };
        }
        let provider = builder.build();
        logs::install(provider.clone());
        Some(provider)
    };

    let tracers = if cfg.traces.is_empty() {
        None
    } else {
        let mut builder = SdkTracerProvider::builder().with_resource(resource);
        for &exporter in &cfg.traces {
            builder = match exporter {
                Exporter::Console => {
                    builder.with_simple_exporter(opentelemetry_stdout::SpanExporter::default())
                }
                otlp => {
                    let what = format!(
                        "traces to {}",
                        export::endpoint_for_messages(&env, otlp, "traces")
                    );
                    let inner = export::otlp_spans(otlp)?;
                    let watched = export::WatchedSpans {
                        inner,
                        watch: export::Watch::new(what),
                    };
                    builder.with_span_processor(BatchSpanProcessor::builder(watched).build())
                }
            };
        }
        let provider = builder.build();
        let tracer = provider.tracer("locusta");
        locusta_http::tracing_hook::install_tracer(Box::new(traces::HttpTracer::new(tracer)));
        Some(provider)
    };
    drop(_entered);
    *state = Some(Telemetry {
        meters,
        tracers,
        loggers,
        runtime,
    });
    Ok(true)
}

/// Whether [`setup`] enabled an export in this process.
pub fn enabled() -> bool {
    lock(&STATE).is_some()
}

/// Exports what is left (the last interval's metrics, the spans not yet sent) and stops the
/// exporters, waiting at most [`FLUSH_WAIT`]; a collector that does not take the data in time
/// gets a warning, never a hang. Does nothing without an export; safe to call more than once.
pub fn shutdown() {
    let Some(t) = lock(&STATE).take() else {
        return;
    };
    let Telemetry {
        meters,
        tracers,
        loggers,
        runtime,
    } = t;
    let (tx, rx) = mpsc::channel();
    let flusher = std::thread::Builder::new()
        .name("locusta-otel-flush".to_owned())
        .spawn(move || {
            let mut problems = Vec::new();
            if let Some(m) = meters {
                if let Err(e) = m.shutdown() {
                    problems.push(format!(
                        "the last metrics may not have reached the collector ({e})"
                    ));
                }
            }
            if let Some(tr) = tracers {
                if let Err(e) = tr.shutdown() {
                    problems.push(format!(
                        "the last spans may not have reached the collector ({e})"
                    ));
                }
            }
            if let Some(l) = loggers {
                if let Err(e) = l.shutdown() {
                    problems.push(format!(
                        "the last log records may not have reached the collector ({e})"
                    ));
                }
            }
            let _ = tx.send(problems);
        });
    if let Err(e) = flusher {
        log::warn!(target: "locusta.otel", "OpenTelemetry: cannot flush the last data ({e}); it is lost");
    } else {
        match rx.recv_timeout(FLUSH_WAIT) {
            Ok(problems) => {
                for p in problems {
                    log::warn!(
                        target: "locusta.otel",
                        "OpenTelemetry: {p}; check that it runs at the configured endpoint \
                         (OTEL_EXPORTER_OTLP_ENDPOINT)"
                    );
                }
            }
            Err(_) => log::warn!(
                target: "locusta.otel",
                "OpenTelemetry: the collector did not take the last data within {} s; exiting \
                 without it (check OTEL_EXPORTER_OTLP_ENDPOINT and that the collector runs)",
                FLUSH_WAIT.as_secs()
            ),
        }
    }
    if let Some(rt) = runtime {
        rt.shutdown_background();
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn instance_ids_are_uuid4_shaped_and_differ() {
        let a = super::instance_id();
        let b = super::instance_id();
        assert_ne!(a, b);
        assert_eq!(a.len(), 36);
        assert_eq!(&a[14..15], "4", "{a}");
        assert!(matches!(&a[19..20], "8" | "9" | "a" | "b"), "{a}");
    }
}
