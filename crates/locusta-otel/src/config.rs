//! Which OpenTelemetry exporters a run asked for, read from the standard `OTEL_*` variables
//! with Locust 2.47's rules.
//!
//! Kept apart from the SDK so the rules (defaults, lists, unknown values, the "all none" case)
//! are tested without starting anything. Endpoints, headers, timeouts and the sampler are read
//! by the OpenTelemetry crates themselves from the same variables.

/// One signal's exporter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exporter {
    /// OTLP over gRPC (the default protocol).
    OtlpGrpc,
    /// OTLP over HTTP with protobuf bodies (`http/protobuf`, or `http` as Locust accepts).
    OtlpHttp,
    /// Printed to stdout.
    Console,
}

/// The signals a run exports.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Config {
    /// `OTEL_TRACES_EXPORTER` (default `otlp`).
    pub traces: Vec<Exporter>,
    /// `OTEL_METRICS_EXPORTER` (default `otlp`).
    pub metrics: Vec<Exporter>,
    /// `OTEL_LOGS_EXPORTER` (default `otlp`).
    pub logs: Vec<Exporter>,
    /// What to warn about (unknown exporters or protocols), once each.
    pub warnings: Vec<String>,
}

/// What the variables decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Every exporter is `none`: OpenTelemetry is not enabled (Locust's info line).
    AllNone,
    /// Export with this configuration.
    Export(Config),
}

/// A comma-separated exporter list, lower-cased, without blanks; `default` when unset.
fn exporter_list(value: Option<String>, default: &str) -> Vec<String> {
    let value = value.unwrap_or_else(|| default.to_owned());
    let mut out: Vec<String> = Vec::new();
    for part in value.split(',') {
        let p = part.trim().to_ascii_lowercase();
        if !p.is_empty() && !out.contains(&p) {
            out.push(p);
        }
    }
    out
}

fn protocol(env: &dyn Fn(&str) -> Option<String>, signal: &str) -> String {
    env(&format!("OTEL_EXPORTER_OTLP_{signal}_PROTOCOL"))
        .or_else(|| env("OTEL_EXPORTER_OTLP_PROTOCOL"))
        .unwrap_or_else(|| "grpc".to_owned())
        .trim()
        .to_ascii_lowercase()
}

fn signal_exporters(
    env: &dyn Fn(&str) -> Option<String>,
    kind: &str,
    signal: &str,
    names: &[String],
    warnings: &mut Vec<String>,
) -> Vec<Exporter> {
    let mut out = Vec::new();
    for name in names {
        match name.as_str() {
            "otlp" => match protocol(env, signal).as_str() {
                "grpc" => out.push(Exporter::OtlpGrpc),
                "http/protobuf" | "http" => out.push(Exporter::OtlpHttp),
                other => warnings.push(format!(
                    "Unknown OpenTelemetry otlp exporter protocol '{other}' for {kind}. Use 'grpc' \
                     or 'http/protobuf' (OTEL_EXPORTER_OTLP_PROTOCOL or \
                     OTEL_EXPORTER_OTLP_{signal}_PROTOCOL)"
                )),
            },
            "console" => out.push(Exporter::Console),
            "none" => {}
            "prometheus" if kind == "metrics" => warnings.push(
                "The Prometheus metrics exporter of OTEL_METRICS_EXPORTER is not implemented \
                 (as in Locust); use --metrics-port for Prometheus metrics"
                    .to_owned(),
            ),
            other => warnings.push(format!("Unknown {kind} exporter '{other}'. Ignored")),
        }
    }
    out.dedup();
    out
}

/// Reads the exporter variables through `env` (the process environment in a run).
pub fn decide(env: &dyn Fn(&str) -> Option<String>) -> Decision {
    let traces = exporter_list(env("OTEL_TRACES_EXPORTER"), "otlp");
    let metrics = exporter_list(env("OTEL_METRICS_EXPORTER"), "otlp");
    let logs = exporter_list(env("OTEL_LOGS_EXPORTER"), "otlp");
    let none = vec!["none".to_owned()];
    if traces == none && metrics == none && logs == none {
        return Decision::AllNone;
    }
    let mut warnings = Vec::new();
    let traces = signal_exporters(env, "traces", "TRACES", &traces, &mut warnings);
    let metrics = signal_exporters(env, "metrics", "METRICS", &metrics, &mut warnings);
    let logs = signal_exporters(env, "logs", "LOGS", &logs, &mut warnings);
    Decision::Export(Config {
        traces,
        metrics,
        logs,
        warnings,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn with(vars: &[(&str, &str)]) -> Decision {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        decide(&move |k: &str| map.get(k).cloned())
    }

    #[test]
    fn defaults_are_otlp_grpc_for_everything() {
        let Decision::Export(c) = with(&[]) else {
            panic!("enabled by default")
        };
        assert_eq!(c.traces, vec![Exporter::OtlpGrpc]);
        assert_eq!(c.metrics, vec![Exporter::OtlpGrpc]);
        assert_eq!(c.logs, vec![Exporter::OtlpGrpc]);
        assert!(c.warnings.is_empty());
    }

    #[test]
    fn all_none_is_not_enabled_but_logs_alone_is() {
        let all = [
            ("OTEL_TRACES_EXPORTER", "none"),
            ("OTEL_METRICS_EXPORTER", " None "),
            ("OTEL_LOGS_EXPORTER", "none"),
        ];
        assert_eq!(with(&all), Decision::AllNone);
        let Decision::Export(c) = with(&all[..2]) else {
            panic!("logs default to otlp")
        };
        assert!(c.traces.is_empty() && c.metrics.is_empty());
        assert_eq!(c.logs, vec![Exporter::OtlpGrpc]);
    }

    #[test]
    fn per_signal_protocols_win_over_the_general_one() {
        let Decision::Export(c) = with(&[
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"),
            ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "GRPC"),
            ("OTEL_METRICS_EXPORTER", "otlp,console"),
        ]) else {
            panic!("enabled")
        };
        assert_eq!(c.traces, vec![Exporter::OtlpGrpc]);
        assert_eq!(c.metrics, vec![Exporter::OtlpHttp, Exporter::Console]);
    }

    #[test]
    fn unknown_values_are_warned_about_and_skipped() {
        let Decision::Export(c) = with(&[
            ("OTEL_TRACES_EXPORTER", "zipkin"),
            ("OTEL_METRICS_EXPORTER", "otlp,prometheus"),
            ("OTEL_EXPORTER_OTLP_METRICS_PROTOCOL", "http/json"),
            ("OTEL_LOGS_EXPORTER", "none"),
        ]) else {
            panic!("enabled")
        };
        assert!(c.traces.is_empty() && c.metrics.is_empty());
        assert_eq!(c.warnings.len(), 3, "{:?}", c.warnings);
        assert!(c.warnings[0].contains("'zipkin'"));
        assert!(c.warnings[1].contains("'http/json'"));
        assert!(c.warnings[2].contains("--metrics-port"));
    }

    #[test]
    fn an_empty_list_exports_nothing_for_that_signal() {
        let Decision::Export(c) = with(&[("OTEL_TRACES_EXPORTER", "")]) else {
            panic!("enabled")
        };
        assert!(c.traces.is_empty());
        assert_eq!(c.metrics, vec![Exporter::OtlpGrpc]);
    }
}
