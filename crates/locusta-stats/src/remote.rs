//! Statistics across processes: the deltas a worker reports every few seconds and how a master
//! folds them in (Locust's `report_to_master` / `worker_report` listeners).
//!
//! A worker keeps recording into its own [`StatsHub`] as usual; a [`ReportTracker`] remembers
//! what was already reported and hands out only what changed, so no sample recorded between
//! two reports is ever lost (Locust resets its entries instead, which needs a global pause).
//! A master calls [`StatsHub::apply_report`] with each report it receives; the lossless
//! microsecond histograms exchanged between locusta nodes make a distributed run's
//! percentiles identical to a single process's, while reports from Locust workers fall back to
//! Locust's millisecond buckets.

use std::collections::HashMap;

use crate::entry::EntryDelta;
use crate::{Entry, ErrorRow, StatsHub};
use locusta_util::{lock, unix_now};

/// Everything a worker reports at once (`stats`, `stats_total`, `errors`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StatsReport {
    /// Entries with new requests or failures.
    pub entries: Vec<EntryDelta>,
    /// The "Aggregated" row's delta (Locust always sends it, even when empty).
    pub total: EntryDelta,
    /// Error rows with their new occurrences.
    pub errors: Vec<ErrorRow>,
}

/// Remembers what a worker already reported.
#[derive(Default)]
pub struct ReportTracker {
    prev: HashMap<(String, String), Entry>,
    prev_total: Option<Entry>,
    prev_errors: HashMap<(String, String, String), u64>,
}

impl ReportTracker {
    /// A tracker for which nothing was reported yet.
    pub fn new() -> ReportTracker {
        ReportTracker::default()
    }

    /// Forgets what was reported (call after resetting the hub).
    pub fn clear(&mut self) {
        *self = ReportTracker::default();
    }

    /// What changed in `hub` since the previous call.
    pub fn take(&mut self, hub: &StatsHub) -> StatsReport {
        hub.read(|agg| {
            let mut entries = Vec::new();
            for e in agg.entries() {
                let key = (e.method().to_owned(), e.name().to_owned());
                if let Some(d) = e.delta_since(self.prev.get(&key)) {
                    entries.push(d);
                    self.prev.insert(key, e.clone());
                }
            }
            let total_entry = agg.total();
            let total = match total_entry.delta_since(self.prev_total.as_ref()) {
                Some(d) => {
                    self.prev_total = Some(total_entry.clone());
                    d
                }
                None => EntryDelta {
                    name: total_entry.name().to_owned(),
                    method: total_entry.method().to_owned(),
                    start_time: total_entry.start_time(),
                    last_request_timestamp: None,
                    hist_us: Some(Vec::new()),
                    ..EntryDelta::default()
                },
            };
            let mut errors = Vec::new();
            for row in agg.errors() {
                let key = (row.method.clone(), row.name.clone(), row.error.clone());
                let before = self.prev_errors.get(&key).copied().unwrap_or(0);
                if row.occurrences > before {
                    let mut r = row.clone();
                    r.occurrences -= before;
                    errors.push(r);
                    self.prev_errors.insert(key, row.occurrences);
                }
            }
            StatsReport {
                entries,
                total,
                errors,
            }
        })
    }
}

impl StatsHub {
    /// Folds a report from another node into this hub (the master's side).
    pub fn apply_report(&self, report: &StatsReport) {
        self.merge();
        let now = unix_now();
        let mut agg = lock(&self.agg);
        let grow = |agg: &mut crate::Aggregate| {
            let reg = self.registry.read().unwrap_or_else(|p| p.into_inner());
            let run_start = agg.total.start_time();
            while agg.entries.len() < reg.meta.len() {
                let (m, n, t) = &reg.meta[agg.entries.len()];
                agg.entries
                    .push(Entry::new(n, m, t.min(now).max(run_start)));
            }
        };
        for d in &report.entries {
            let idx = self.resolve_key(&d.method, &d.name, now).idx as usize;
            grow(&mut agg);
            if let Some(e) = agg.entries.get_mut(idx) {
                e.extend_remote(d);
            }
        }
        agg.total.extend_remote(&report.total);
        for row in &report.errors {
            let entry = self.resolve_key(&row.method, &row.name, now).idx;
            grow(&mut agg);
            let (res, epoch) = self.resolve_error(entry, &row.error);
            if epoch != agg.epoch {
                continue;
            }
            let i = res.idx as usize;
            if agg.errors.len() <= i {
                agg.errors.resize(i + 1, None);
            }
            if let Some(Some(existing)) = agg.errors.get_mut(i) {
                existing.occurrences = existing.occurrences.saturating_add(row.occurrences);
                existing.first_seen = existing.first_seen.min(row.first_seen);
                existing.last_seen = existing.last_seen.max(row.last_seen);
                continue;
            }
            let (ei, text) = {
                let reg = self.registry.read().unwrap_or_else(|p| p.into_inner());
                match reg.error_meta.get(i) {
                    Some((ei, text)) => (*ei, text.clone()),
                    None => (entry, row.error.clone()),
                }
            };
            let (method, name) = match agg.entries.get(ei as usize) {
                Some(e) => (e.method().to_owned(), e.name().to_owned()),
                None => (row.method.clone(), row.name.clone()),
            };
            agg.errors[i] = Some(ErrorRow {
                method,
                name,
                error: text,
                occurrences: row.occurrences,
                first_seen: row.first_seen,
                last_seen: row.last_seen,
            });
        }
        agg.sync_globals();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Sample, StatsLimits};

    fn sample(hub: &StatsHub, name: &str, us: u64, err: Option<&str>, t: f64) {
        hub.record_at(
            &Sample {
                method: "GET",
                name,
                response_time_us: Some(us),
                content_length: 10,
                error: err,
            },
            t,
        );
    }

    #[test]
    fn deltas_merged_on_a_master_equal_a_single_hub() {
        let t0 = 1_700_000_000.0;
        let single = StatsHub::new_at(StatsLimits::default(), t0);
        let workers = [
            StatsHub::new_at(StatsLimits::default(), t0),
            StatsHub::new_at(StatsLimits::default(), t0),
        ];
        let master = StatsHub::new_at(StatsLimits::default(), t0);
        let mut trackers = [ReportTracker::new(), ReportTracker::new()];
        for round in 0..3u64 {
            for i in 0..500u64 {
                let w = (i % 2) as usize;
                let us = 137 + i * 977 + round * 31;
                let err = (i % 17 == 0).then_some("boom");
                let name = if i % 3 == 0 { "/a" } else { "/b" };
                let t = t0 + round as f64 + i as f64 / 1000.0;
                sample(&workers[w], name, us, err, t);
                sample(&single, name, us, err, t);
            }
            for w in 0..2 {
                let r = trackers[w].take(&workers[w]);
                master.apply_report(&r);
            }
        }
        // Nothing new: empty deltas.
        let r = trackers[0].take(&workers[0]);
        assert!(r.entries.is_empty() && r.errors.is_empty());
        assert_eq!(r.total.num_requests, 0);
        master.apply_report(&r);

        let ps = [0.5, 0.66, 0.9, 0.95, 0.99, 0.999, 1.0];
        let (s_total, s_pct, s_err) = single.read(|a| {
            (
                a.total().num_requests(),
                a.total().percentiles(&ps),
                a.errors().iter().map(|e| e.occurrences).sum::<u64>(),
            )
        });
        let (m_total, m_pct, m_err, m_a) = master.read(|a| {
            (
                a.total().num_requests(),
                a.total().percentiles(&ps),
                a.errors().iter().map(|e| e.occurrences).sum::<u64>(),
                a.entry("/a", "GET")
                    .map(|e| (e.num_requests(), e.num_failures())),
            )
        });
        assert_eq!(s_total, 1500);
        assert_eq!(m_total, s_total);
        assert_eq!(m_pct, s_pct);
        assert_eq!(m_err, s_err);
        let s_a = single.read(|a| {
            a.entry("/a", "GET")
                .map(|e| (e.num_requests(), e.num_failures()))
        });
        assert_eq!(m_a, s_a);
    }

    #[test]
    fn locust_buckets_without_histogram_are_used() {
        let master = StatsHub::new_at(StatsLimits::default(), 1_700_000_000.0);
        let d = EntryDelta {
            name: "/x".into(),
            method: "GET".into(),
            last_request_timestamp: Some(1_700_000_001.5),
            start_time: 1_700_000_000.0,
            num_requests: 3,
            total_response_time: 360.0,
            max_response_time: 200.0,
            min_response_time: Some(60.0),
            response_times: vec![(60, 1), (100, 1), (200, 1)],
            num_reqs_per_sec: vec![(1_700_000_001, 3)],
            ..EntryDelta::default()
        };
        let mut total = d.clone();
        total.name = "Aggregated".into();
        total.method = String::new();
        master.apply_report(&StatsReport {
            entries: vec![d],
            total,
            errors: vec![],
        });
        master.read(|a| {
            let e = a.entry("/x", "GET").expect("entry");
            assert_eq!(e.num_requests(), 3);
            assert!((e.median_response_time() - 100.0).abs() < 0.1);
            assert_eq!(a.total().num_requests(), 3);
        });
    }
}
