//! Locust's two instruments: the `locust.client.duration` histogram, fed one value per recorded
//! request, and the `locust.users.count` gauge, read from the run controller's user counts.
//!
//! The histogram is an SDK histogram fed by a [`RecordObserver`] on the statistics, so every
//! front end (Rust users, Python users, custom `events.request.fire`) feeds it exactly what the
//! statistics (and so the CSV files) get: the same response time in microseconds, turned into
//! seconds. Request names are capped at [`MAX_REQUEST_NAMES`] per process, as Locust caps them;
//! the names a thread has seen are cached on that thread, so the cap costs no shared lock per
//! request.

use std::cell::RefCell;
use std::sync::{Mutex, OnceLock};

use locusta_stats::observer::RecordObserver;
use locusta_stats::Sample;
use locusta_util::lock;
use opentelemetry::metrics::{Histogram, Meter};
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
    let kv = KeyValue::new("name", name.to_owned());
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
}

impl RecordObserver for DurationObserver {
    fn observe(&self, sample: &Sample<'_>) {
        // Locust records nothing for a request without a response time
        let Some(us) = sample.response_time_us else {
            return;
        };
        let seconds = us as f64 / 1_000_000.0;
        let name = name_attribute(sample.name);
        match sample.error {
            None => self.histogram.record(seconds, &[name]),
            Some(text) => self.histogram.record(
                seconds,
                &[
                    name,
                    KeyValue::new("error.type", error_type(text).to_owned()),
                ],
            ),
        }
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
