//! The exporters behind each signal: OTLP over gRPC or HTTP/protobuf, or the console, each
//! wrapped so that a collector that cannot be reached is reported once, in words, instead of
//! silently (the SDK's own diagnostics are not compiled in).

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use opentelemetry_otlp::WithExportConfig as _;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::logs::{LogBatch, LogExporter};
use opentelemetry_sdk::metrics::data::ResourceMetrics;
use opentelemetry_sdk::metrics::exporter::PushMetricExporter;
use opentelemetry_sdk::metrics::Temporality;
use opentelemetry_sdk::trace::{SpanData, SpanExporter};
use opentelemetry_sdk::Resource;

use crate::config::Exporter;

/// Where the OTLP exporter of `signal` (`"traces"`, `"metrics"`) sends, for messages: the
/// per-signal endpoint, else the general one (with the signal's path for HTTP), else the
/// default, as the exporters resolve it.
pub(crate) fn endpoint_for_messages(
    env: &dyn Fn(&str) -> Option<String>,
    exporter: Exporter,
    signal: &str,
) -> String {
    let upper = signal.to_ascii_uppercase();
    if let Some(e) = env(&format!("OTEL_EXPORTER_OTLP_{upper}_ENDPOINT")) {
        return e;
    }
    match exporter {
        Exporter::OtlpHttp => {
            let base = env("OTEL_EXPORTER_OTLP_ENDPOINT")
                .unwrap_or_else(|| "http://localhost:4318".to_owned());
            format!("{}/v1/{signal}", base.trim_end_matches('/'))
        }
        _ => {
            env("OTEL_EXPORTER_OTLP_ENDPOINT").unwrap_or_else(|| "http://localhost:4317".to_owned())
        }
    }
}

/// Remembers whether the last export failed, to warn once per failing spell.
#[derive(Debug)]
pub(crate) struct Watch {
    what: String,
    failing: AtomicBool,
}

impl Watch {
    pub(crate) fn new(what: String) -> Self {
        Watch {
            what,
            failing: AtomicBool::new(false),
        }
    }

    fn note(&self, result: &OTelSdkResult) {
        match result {
            Ok(()) => {
                if self.failing.swap(false, Ordering::Relaxed) {
                    log::info!(target: "locusta.otel", "OpenTelemetry: exporting {} works again", self.what);
                }
            }
            Err(e) => {
                if !self.failing.swap(true, Ordering::Relaxed) {
                    log::warn!(
                        target: "locusta.otel",
                        "OpenTelemetry: exporting {} failed ({e}); is the collector running and \
                         reachable? The run goes on; further failures are not logged until an \
                         export works again",
                        self.what
                    );
                }
            }
        }
    }
}

/// A metric exporter whose failures are reported through [`Watch`].
pub(crate) struct WatchedMetrics<E> {
    pub(crate) inner: E,
    pub(crate) watch: Watch,
}

impl<E: PushMetricExporter> PushMetricExporter for WatchedMetrics<E> {
    async fn export(&self, metrics: &ResourceMetrics) -> OTelSdkResult {
        let result = self.inner.export(metrics).await;
        self.watch.note(&result);
        result
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn temporality(&self) -> Temporality {
        self.inner.temporality()
    }
}

/// A span exporter whose failures are reported through [`Watch`].
#[derive(Debug)]
pub(crate) struct WatchedSpans<E> {
    pub(crate) inner: E,
    pub(crate) watch: Watch,
}

impl<E: SpanExporter> SpanExporter for WatchedSpans<E> {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        let result = self.inner.export(batch).await;
        self.watch.note(&result);
        result
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.inner.set_resource(resource);
    }
}

/// A log exporter whose failures are reported through [`Watch`].
#[derive(Debug)]
pub(crate) struct WatchedLogs<E> {
    pub(crate) inner: E,
    pub(crate) watch: Watch,
}

impl<E: LogExporter> LogExporter for WatchedLogs<E> {
    async fn export(&self, batch: LogBatch<'_>) -> OTelSdkResult {
        let result = self.inner.export(batch).await;
        self.watch.note(&result);
        result
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.inner.set_resource(resource);
    }
}

/// Builds the OTLP log exporter (inside the exporters' tokio runtime for gRPC).
pub(crate) fn otlp_logs(exporter: Exporter) -> Result<opentelemetry_otlp::LogExporter, String> {
    let built = match exporter {
        Exporter::OtlpHttp => opentelemetry_otlp::LogExporter::builder()
            .with_http()
            .with_protocol(opentelemetry_otlp::Protocol::HttpBinary)
            .build(),
        _ => opentelemetry_otlp::LogExporter::builder()
            .with_tonic()
            .build(),
    };
    built.map_err(|e| format!("cannot set up the OTLP logs exporter: {e}"))
}

/// Builds the OTLP metric exporter (inside the exporters' tokio runtime for gRPC).
pub(crate) fn otlp_metrics(
    exporter: Exporter,
) -> Result<opentelemetry_otlp::MetricExporter, String> {
    let built = match exporter {
        Exporter::OtlpHttp => opentelemetry_otlp::MetricExporter::builder()
            .with_http()
            .with_protocol(opentelemetry_otlp::Protocol::HttpBinary)
            .build(),
        _ => opentelemetry_otlp::MetricExporter::builder()
            .with_tonic()
            .build(),
    };
    built.map_err(|e| format!("cannot set up the OTLP metrics exporter: {e}"))
}

/// Builds the OTLP span exporter (inside the exporters' tokio runtime for gRPC).
pub(crate) fn otlp_spans(exporter: Exporter) -> Result<opentelemetry_otlp::SpanExporter, String> {
    let built = match exporter {
        Exporter::OtlpHttp => opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .with_protocol(opentelemetry_otlp::Protocol::HttpBinary)
            .build(),
        _ => opentelemetry_otlp::SpanExporter::builder()
            .with_tonic()
            .build(),
    };
    built.map_err(|e| format!("cannot set up the OTLP traces exporter: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_are_resolved_as_the_exporters_do() {
        let none = |_: &str| None;
        assert_eq!(
            endpoint_for_messages(&none, Exporter::OtlpGrpc, "traces"),
            "http://localhost:4317"
        );
        assert_eq!(
            endpoint_for_messages(&none, Exporter::OtlpHttp, "metrics"),
            "http://localhost:4318/v1/metrics"
        );
        let general =
            |k: &str| (k == "OTEL_EXPORTER_OTLP_ENDPOINT").then(|| "http://c:1/".to_owned());
        assert_eq!(
            endpoint_for_messages(&general, Exporter::OtlpHttp, "traces"),
            "http://c:1/v1/traces"
        );
        let signal =
            |k: &str| (k == "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT").then(|| "http://s:2".to_owned());
        assert_eq!(
            endpoint_for_messages(&signal, Exporter::OtlpGrpc, "traces"),
            "http://s:2"
        );
    }
}
