//! Statistics with known requests for this crate's unit tests: comparisons, gates, reports and
//! JUnit all start from a hub whose requests were recorded at chosen times.

use std::sync::Arc;

use locusta_stats::{Sample, StatsHub, StatsLimits};

/// One recorded request: when (unix seconds), method, name, response time in ms, error.
pub(crate) type Request<'a> = (f64, &'a str, &'a str, u64, Option<&'a str>);

/// A hub started at t = 1000 s holding `requests` (1 byte of content each), merged.
pub(crate) fn hub_of<'a>(requests: impl IntoIterator<Item = Request<'a>>) -> Arc<StatsHub> {
    let hub = StatsHub::new_at(StatsLimits::default(), 1000.0);
    for (t, method, name, ms, error) in requests {
        hub.record_at(
            &Sample {
                method,
                name,
                response_time_us: Some(ms * 1000),
                content_length: 1,
                error,
            },
            t,
        );
    }
    hub.merge();
    hub
}

/// `n` GETs of each `(name, ms)` endpoint, 100 a second from t = 1000 s, each taking `ms` plus
/// 0-2 ms.
pub(crate) fn steady_gets(endpoints: &[(&'static str, u64)], n: u64) -> Arc<StatsHub> {
    hub_of((0..n).flat_map(|i| {
        endpoints
            .iter()
            .map(move |&(name, ms)| (1000.0 + i as f64 / 100.0, "GET", name, ms + i % 3, None))
    }))
}
