//! Log records as OpenTelemetry logs (`OTEL_LOGS_EXPORTER`), as Locust bridges Python's
//! `logging` to the SDK's logger provider.
//!
//! Both kinds of log record of a run come here: the Rust crates' (`log`, through
//! `locusta-run`'s logger) and, for Python locustfiles, Python's `logging` records (a handler
//! the Python front end adds). Each record goes to the logger named after its logger (Python)
//! or target (Rust), as the Python SDK's `LoggingHandler` names them. The module's own
//! messages (`locusta.otel`) are not exported: a collector that cannot be reached would be
//! told so through itself.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};
use std::time::SystemTime;

use locusta_util::lock;
use opentelemetry::logs::{AnyValue, LogRecord as _, Logger as _, LoggerProvider as _, Severity};
use opentelemetry_sdk::logs::{SdkLogger, SdkLoggerProvider};

struct Logs {
    provider: SdkLoggerProvider,
    loggers: Mutex<HashMap<String, SdkLogger>>,
}

static LOGS: OnceLock<Logs> = OnceLock::new();

/// At most this many distinct logger names get their own logger; later ones share `locusta`.
const MAX_LOGGERS: usize = 256;

pub(crate) fn install(provider: SdkLoggerProvider) {
    let _ = LOGS.set(Logs {
        provider,
        loggers: Mutex::new(HashMap::new()),
    });
}

/// Whether log records are exported (the front ends skip the work otherwise).
pub fn logs_enabled() -> bool {
    LOGS.get().is_some()
}

/// Python's level numbers (`logging.INFO` = 20 ...) as OpenTelemetry severities, as the Python
/// SDK maps them.
fn severity(levelno: u32) -> (Severity, &'static str) {
    match levelno {
        0..=9 => (Severity::Trace, "NOTSET"),
        10..=19 => (Severity::Debug, "DEBUG"),
        20..=29 => (Severity::Info, "INFO"),
        30..=39 => (Severity::Warn, "WARNING"),
        40..=49 => (Severity::Error, "ERROR"),
        _ => (Severity::Fatal, "CRITICAL"),
    }
}

/// The Python level number of a Rust log level.
pub fn levelno(level: log::Level) -> u32 {
    match level {
        log::Level::Error => 40,
        log::Level::Warn => 30,
        log::Level::Info => 20,
        log::Level::Debug | log::Level::Trace => 10,
    }
}

/// Exports one log record (`levelno` as Python's `logging`, `logger` its logger's name or the
/// Rust target); nothing when logs are not exported.
pub fn emit_log(levelno: u32, logger: &str, message: &str) {
    let Some(logs) = LOGS.get() else {
        return;
    };
    if logger.starts_with("locusta.otel") {
        return;
    }
    let (severity, text) = severity(levelno);
    let mut loggers = lock(&logs.loggers);
    let key = if loggers.contains_key(logger) || loggers.len() < MAX_LOGGERS {
        logger
    } else {
        "locusta"
    };
    let sdk_logger = loggers
        .entry(key.to_owned())
        .or_insert_with(|| logs.provider.logger(key.to_owned()));
    let mut record = sdk_logger.create_log_record();
    let now = SystemTime::now();
    record.set_timestamp(now);
    record.set_observed_timestamp(now);
    record.set_severity_number(severity);
    record.set_severity_text(text);
    record.set_body(AnyValue::from(message.to_owned()));
    sdk_logger.emit(record);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_levels_map_to_severities() {
        assert_eq!(severity(20), (Severity::Info, "INFO"));
        assert_eq!(severity(30), (Severity::Warn, "WARNING"));
        assert_eq!(severity(50), (Severity::Fatal, "CRITICAL"));
        assert_eq!(levelno(log::Level::Warn), 30);
    }
}
