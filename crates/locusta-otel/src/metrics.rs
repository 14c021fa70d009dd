//! Locust's two instruments: the `locust.client.duration` histogram, fed one value per recorded
//! request, and the `locust.users.count` gauge, read from the run controller's user counts.
//!
//! The histogram is an SDK histogram fed by a [`RecordObserver`] on the statistics, so every
//! front end (Rust users, Python users, custom `events.request.fire`) feeds it exactly what the
//! statistics (and so the CSV files) get: the same response time in microseconds, turned into
//! seconds. Request names are capped at [`MAX_REQUEST_NAMES`] per process, as Locust caps them.
//! Each thread keeps its names' series bound to their attributes (the SDK's bound instruments),
//! so a request costs a short scan of this thread's names and one bucket update: no shared lock
//! for the cap, no attribute hashing.

use std::cell::RefCell;
use std::sync::{Mutex, OnceLock};

use locusta_stats::observer::RecordObserver;
use locusta_stats::Sample;
use locusta_util::lock;
use opentelemetry::metrics::{BoundHistogram, Histogram, Meter};
use opentelemetry::KeyValue;

/// Distinct request names the histogram keeps apart (Locust's `MAX_REQUEST_NAMES`).
pub const MAX_REQUEST_NAMES: usize = 20;
/// The `name` attribute of every request past the first [`MAX_REQUEST_NAMES`] names.
pub const TOO_MANY_NAMES: &str = "Too many unique request names";

/// The process-wide set of admitted names: growing under a lock until it is full, then frozen
/// and read without one.
struct Names {
    admitted: Mutex<Vec<String>>,
    frozen: OnceLock<Vec<String>>,
}

static NAMES: Names = Names {
    admitted: Mutex::new(Vec::new()),
    frozen: OnceLock::new(),
};

thread_local! {
    /// The admitted names this thread has met, with their attribute ready to clone.
    static SEEN: RefCell<Vec<(Box<str>, KeyValue)>> = const { RefCell::new(Vec::new()) };
}

/// The `name` attribute for `name`: itself while fewer than [`MAX_REQUEST_NAMES`] names were
/// seen (or it is one of them), else [`TOO_MANY_NAMES`].
fn name_attribute(name: &str) -> KeyValue {
    if let Some(kv) = SEEN.with(|s| {
        s.borrow()
            .iter()
            .find(|(n, _)| &**n == name)
            .map(|(_, kv)| kv.clone())
    }) {
        return kv;
    }
    let admitted = match NAMES.frozen.get() {
        Some(all) => all.iter().any(|n| n == name),
        None => {
            let mut names = lock(&NAMES.admitted);
            if names.iter().any(|n| n == name) {
                true
            } else if names.len() < MAX_REQUEST_NAMES {
                names.push(name.to_owned());
                if names.len() == MAX_REQUEST_NAMES {
                    let _ = NAMES.frozen.set(names.clone());
                }
                true
            } else {
                false
            }
        }
    };
    if !admitted {
        return KeyValue::new("name", TOO_MANY_NAMES);
    }
    // reference-counted, so the per-request clone is a count, not a copy
    let kv = KeyValue::new("name", std::sync::Arc::<str>::from(name));
    SEEN.with(|s| s.borrow_mut().push((name.into(), kv.clone())));
    kv
}

/// The `error.type` of a failure: the exception class its text starts with, as locusta's
/// failure texts are Locust's `repr` of the exception (`HTTPError('500 Server Error: ...')`,
/// `ConnectionRefusedError(111, 'Connection refused')`, `CatchResponseError('...')`); a text
/// that does not start with a class name gives `"Error"` (an unbounded text would make
/// unbounded series).
pub fn error_type(text: &str) -> &str {
    let head = text.split('(').next().unwrap_or("");
    let class = head.rsplit('.').next().unwrap_or("");
    let looks_like_class = head.len() < text.len()
        && !class.is_empty()
        && class
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && head
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.');
    if looks_like_class {
        class
    } else {
        "Error"
    }
}

/// At most this many error types get a bound series per name and thread; more are recorded
/// through the histogram's ordinary (attribute lookup) path.
const MAX_BOUND_ERRORS: usize = 16;

/// One name's series on this thread, bound to their attributes once: recording into a bound
/// series skips the SDK's per-call attribute hashing and map lookup. A series is bound at its
/// first value (a bound series is exported even when empty).
struct Slot {
    name: Box<str>,
    attribute: KeyValue,
    ok: Option<BoundHistogram<f64>>,
    failed: Vec<(Box<str>, BoundHistogram<f64>)>,
}

thread_local! {
    static SLOTS: RefCell<Vec<Slot>> = const { RefCell::new(Vec::new()) };
}

/// Every bound series handed out, held until the process ends, so a thread that exits before
/// the last export cannot release its series.
static KEEP: Mutex<Vec<BoundHistogram<f64>>> = Mutex::new(Vec::new());

/// Feeds `locust.client.duration` from the statistics' recording path.
pub(crate) struct DurationObserver {
    histogram: Histogram<f64>,
}

impl DurationObserver {
    pub(crate) fn new(meter: &Meter) -> Self {
        DurationObserver {
            histogram: meter
                .f64_histogram("locust.client.duration")
                .with_unit("s")
                .with_description("Time to last byte for requests")
                .build(),
        }
    }

    fn bind(&self, attributes: &[KeyValue]) -> BoundHistogram<f64> {
        let bound = self.histogram.bind(attributes);
        lock(&KEEP).push(bound.clone());
        bound
    }

    /// The index of `name`'s slot (the shared overflow slot for a name past the cap).
    fn slot(&self, slots: &mut Vec<Slot>, name: &str) -> usize {
        if let Some(i) = slots.iter().position(|s| &*s.name == name) {
            return i;
        }
        let kv = name_attribute(name);
        let key = if kv.value.as_str() == TOO_MANY_NAMES {
            TOO_MANY_NAMES
        } else {
            name
        };
        if let Some(i) = slots.iter().position(|s| &*s.name == key) {
            return i;
        }
        slots.push(Slot {
            name: key.into(),
            attribute: kv,
            ok: None,
            failed: Vec::new(),
        });
        slots.len() - 1
    }
}

impl RecordObserver for DurationObserver {
    fn observe(&self, sample: &Sample<'_>) {
        // Locust records nothing for a request without a response time
        let Some(us) = sample.response_time_us else {
            return;
        };
        let seconds = us as f64 / 1_000_000.0;
        SLOTS.with(|slots| {
            let mut slots = slots.borrow_mut();
            let i = self.slot(&mut slots, sample.name);
            let slot = &mut slots[i];
            let Some(text) = sample.error else {
                match &slot.ok {
                    Some(bound) => bound.record(seconds),
                    None => {
                        let bound = self.bind(std::slice::from_ref(&slot.attribute));
                        bound.record(seconds);
                        slot.ok = Some(bound);
                    }
                }
                return;
            };
            let kind = error_type(text);
            if let Some((_, bound)) = slot.failed.iter().find(|(k, _)| &**k == kind) {
                bound.record(seconds);
                return;
            }
            let attributes = [
                slot.attribute.clone(),
                KeyValue::new("error.type", kind.to_owned()),
            ];
            if slot.failed.len() < MAX_BOUND_ERRORS {
                let bound = self.bind(&attributes);
                bound.record(seconds);
                slot.failed.push((kind.into(), bound));
            } else {
                self.histogram.record(seconds, &attributes);
            }
        });
    }
}

/// Users per class as the run controller last saw them (on a master: the workers' reports).
static USERS: OnceLock<Mutex<Vec<(String, u64)>>> = OnceLock::new();

/// Registers `locust.users.count` on `meter`, observing what [`set_user_counts`] stores.
pub(crate) fn register_users_gauge(meter: &Meter) {
    let users = USERS.get_or_init(|| Mutex::new(Vec::new()));
    let _gauge = meter
        .u64_observable_gauge("locust.users.count")
        .with_unit("{user}")
        .with_description("Number of currently running Locust users")
        .with_callback(move |observer| {
            for (class, count) in lock(users).iter() {
                observer.observe(*count, &[KeyValue::new("user_class", class.clone())]);
            }
        })
        .build(); // the meter provider keeps the callback; the handle is not needed
}

/// Stores the users per class for the gauge; nothing when the gauge is not exported.
pub fn set_user_counts(counts: &[(String, u64)]) {
    if let Some(users) = USERS.get() {
        let mut current = lock(users);
        if current.as_slice() != counts {
            current.clear();
            current.extend_from_slice(counts);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_types_are_the_exception_class() {
        assert_eq!(
            error_type("HTTPError('500 Server Error: x for url: /a')"),
            "HTTPError"
        );
        assert_eq!(
            error_type("ConnectionRefusedError(111, 'Connection refused')"),
            "ConnectionRefusedError"
        );
        assert_eq!(
            error_type("CatchResponseError('bad')"),
            "CatchResponseError"
        );
        assert_eq!(
            error_type("requests.exceptions.ReadTimeout('x')"),
            "ReadTimeout"
        );
        assert_eq!(error_type("something went wrong (badly)"), "Error");
        assert_eq!(error_type("plain text"), "Error");
        assert_eq!(error_type("(x)"), "Error");
        assert_eq!(error_type(""), "Error");
    }

    #[test]
    fn names_are_capped_at_twenty_per_process() {
        // other tests of this binary may have admitted names: count from what is there
        let before = lock(&NAMES.admitted).len();
        let mut kept = 0;
        for i in 0..(MAX_REQUEST_NAMES + 5) {
            let kv = name_attribute(&format!("/cap-test/{i}"));
            if kv.value.as_str() != TOO_MANY_NAMES {
                kept += 1;
            }
        }
        assert_eq!(kept, MAX_REQUEST_NAMES - before);
        // an admitted name stays admitted, on this thread and on another
        assert_eq!(name_attribute("/cap-test/0").value.as_str(), "/cap-test/0");
        let other =
            std::thread::spawn(|| name_attribute("/cap-test/0").value.as_str().into_owned())
                .join()
                .expect("thread");
        assert_eq!(other, "/cap-test/0");
        assert_eq!(name_attribute("/late").value.as_str(), TOO_MANY_NAMES);
    }
}

/// What recording costs per request (`cargo test --release -p locusta-otel -- --ignored
/// --nocapture record_cost`): the observer's whole path against the SDK's ordinary
/// `record` with the same attribute, single thread, five names. Figures in
/// docs/benchmarks.md.
#[cfg(test)]
mod cost {
    use super::*;
    use opentelemetry::metrics::MeterProvider as _;
    use opentelemetry_sdk::error::OTelSdkResult;
    use opentelemetry_sdk::metrics::data::ResourceMetrics;
    use opentelemetry_sdk::metrics::exporter::PushMetricExporter;
    use opentelemetry_sdk::metrics::{PeriodicReader, SdkMeterProvider, Temporality};
    use std::time::{Duration, Instant};

    struct Discard;

    impl PushMetricExporter for Discard {
        async fn export(&self, _metrics: &ResourceMetrics) -> OTelSdkResult {
            Ok(())
        }
        fn force_flush(&self) -> OTelSdkResult {
            Ok(())
        }
        fn shutdown_with_timeout(&self, _timeout: Duration) -> OTelSdkResult {
            Ok(())
        }
        fn temporality(&self) -> Temporality {
            Temporality::Cumulative
        }
    }

    #[test]
    #[ignore = "a measurement, not a check: run it in release mode"]
    fn record_cost() {
        const N: usize = 2_000_000;
        let provider = SdkMeterProvider::builder()
            .with_reader(
                PeriodicReader::builder(Discard)
                    .with_interval(Duration::from_secs(3600))
                    .build(),
            )
            .build();
        let meter = provider.meter("locust");
        let observer = DurationObserver::new(&meter);
        let names: Vec<String> = (0..5).map(|i| format!("/cost/{i}")).collect();
        let samples: Vec<Sample<'_>> = names
            .iter()
            .map(|n| Sample {
                method: "GET",
                name: n,
                response_time_us: Some(1234),
                content_length: 0,
                error: None,
            })
            .collect();
        for s in &samples {
            observer.observe(s); // bind outside the timing
        }
        let t = Instant::now();
        for i in 0..N {
            observer.observe(&samples[i % samples.len()]);
        }
        let bound = t.elapsed().as_nanos() as f64 / N as f64;
        let kvs: Vec<KeyValue> = names
            .iter()
            .map(|n| KeyValue::new("name", std::sync::Arc::<str>::from(n.as_str())))
            .collect();
        let t = Instant::now();
        for i in 0..N {
            let kv = kvs[i % kvs.len()].clone();
            observer.histogram.record(0.001234, &[kv]);
        }
        let unbound = t.elapsed().as_nanos() as f64 / N as f64;
        println!("observe (bound series): {bound:.0} ns per request; SDK record with the name attribute: {unbound:.0} ns");
    }
}
