//! Request statistics for locusta.
//!
//! This crate exists so that many worker threads can record request outcomes at very high rates
//! while the rest of the program (console printer, CSV writer, web UI, JSON dump) sees the same
//! numbers Locust would show. Recording goes into a per-thread shard (no channel message per
//! request, no allocation on the steady path); an aggregator folds the shards into one
//! [`Aggregate`] about once a second ([`StatsHub::merge`]). Latencies are kept in microsecond HDR
//! histograms, so percentiles are exact to the histogram's precision instead of Locust's
//! two-significant-digit millisecond buckets.
//!
//! The output modules ([`console`], [`csv`], [`json`]) render an [`Aggregate`] in Locust's textual
//! formats.
//!
//! Semantics follow Locust's `stats.py`: a failure counts in both requests and failures and its
//! time is in the distribution; `None` response times are "none requests"; percentiles use
//! Locust's rank rule (value at rank `floor(n*p)+1`) over the HDR histogram and are clamped to the
//! exact [min, max]; an entry's rates use the run-wide start/last timestamps (as Locust does).
//! Deliberate differences: sub-millisecond values are kept (see [`format::format_ms`]); failure
//! CSV rows are ordered by occurrences (Locust's order is a hash order); JSON `response_times`
//! keys are ascending (Locust: first-seen order).

pub mod console;
pub mod csv;
mod entry;
pub mod format;
pub mod json;
pub mod observer;
pub mod remote;

pub use entry::{Entry, EntryDelta, Window};
pub use remote::{ReportTracker, StatsReport};

use std::cell::RefCell;
use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use locusta_util::{lock, unix_now};

/// Name given to the overflow entry that collects requests once [`StatsLimits::max_entries`]
/// distinct names have been seen.
pub const OTHER_NAMES: &str = "(other names)";
/// Error text of the overflow error row used once [`StatsLimits::max_errors`] distinct errors
/// have been seen.
pub const OTHER_ERRORS: &str = "(other errors)";
/// Traceback/message of the overflow exception row used once [`StatsLimits::max_errors`]
/// distinct exceptions have been seen.
pub const OTHER_EXCEPTIONS: &str = "(other exceptions)";
/// Method used for the overflow entry when too many distinct methods overflow.
const OTHER_METHOD: &str = "(other)";
/// At most this many per-method overflow entries exist; further methods share one entry.
const MAX_OVERFLOW_METHODS: usize = 32;
/// Number of raw samples a thread buffers before folding them into the aggregate itself.
const SHARD_CAPACITY: usize = 4096;
/// Marker for "no response time" in a raw sample.
const NO_RT: u64 = u64::MAX;
/// Marker for "no error" in a raw sample.
const NO_ERR: u32 = u32::MAX;

/// Bounds on the memory a hub may use for distinct names and errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StatsLimits {
    /// Maximum number of distinct (method, name) entries; later names go to `"(other names)"`.
    pub max_entries: usize,
    /// Maximum number of distinct error rows (and exception rows); later ones are folded.
    pub max_errors: usize,
}

impl Default for StatsLimits {
    fn default() -> Self {
        StatsLimits {
            max_entries: 1000,
            max_errors: 1000,
        }
    }
}

/// One finished request, as reported by a client.
#[derive(Debug, Clone, Copy)]
pub struct Sample<'a> {
    /// Request type: `"GET"`, or any custom request_type.
    pub method: &'a str,
    /// Stats name (URL or the `name=` given by the user).
    pub name: &'a str,
    /// Response time in microseconds; `None` counts as a "none request" (Locust semantics).
    pub response_time_us: Option<u64>,
    /// Response body length in bytes.
    pub content_length: u64,
    /// `Some(text)` marks a failure; `text` is the display string of the error.
    pub error: Option<&'a str>,
}

/// One row of the error table (Locust's `StatsError`).
#[derive(Debug, Clone, PartialEq)]
pub struct ErrorRow {
    /// Request method of the failed requests.
    pub method: String,
    /// Stats name of the failed requests.
    pub name: String,
    /// Error text.
    pub error: String,
    /// How many times this error happened.
    pub occurrences: u64,
    /// Unix seconds of the first occurrence.
    pub first_seen: f64,
    /// Unix seconds of the last occurrence.
    pub last_seen: f64,
}

/// One row of the exception table (errors raised by user code, keyed by traceback).
#[derive(Debug, Clone, PartialEq)]
pub struct ExceptionRow {
    /// How many times this traceback was seen.
    pub count: u64,
    /// Exception message.
    pub msg: String,
    /// Formatted traceback.
    pub traceback: String,
    /// Nodes that reported it (`"local"` in standalone mode).
    pub nodes: BTreeSet<String>,
}

/// The merged statistics: every entry, the "Aggregated" total, errors and exceptions.
#[derive(Debug)]
pub struct Aggregate {
    /// Entries in creation order, indexed by the hub-wide key index.
    entries: Vec<Entry>,
    total: Entry,
    /// Error rows in creation order; `None` for registry slots not yet seen in this epoch.
    errors: Vec<Option<ErrorRow>>,
    exceptions: Vec<ExceptionRow>,
    exception_index: HashMap<String, usize>,
    exception_warned: bool,
    max_exceptions: usize,
    epoch: u64,
}

impl Aggregate {
    fn new(now: f64, max_exceptions: usize) -> Aggregate {
        Aggregate {
            entries: Vec::new(),
            total: Entry::new("Aggregated", "", now),
            errors: Vec::new(),
            exceptions: Vec::new(),
            exception_index: HashMap::new(),
            exception_warned: false,
            max_exceptions,
            epoch: 0,
        }
    }

    /// Entries sorted by (name, method), as Locust sorts them for the console and CSV.
    pub fn entries(&self) -> Vec<&Entry> {
        let mut v: Vec<&Entry> = self.entries.iter().collect();
        v.sort_by(|a, b| (a.name(), a.method()).cmp(&(b.name(), b.method())));
        v
    }

    /// Entries in creation order (the order Locust's `--json` output uses).
    pub fn entries_in_creation_order(&self) -> Vec<&Entry> {
        self.entries.iter().collect()
    }

    /// Looks up one entry by name and method.
    pub fn entry(&self, name: &str, method: &str) -> Option<&Entry> {
        self.entries
            .iter()
            .find(|e| e.name() == name && e.method() == method)
    }

    /// The "Aggregated" total entry (name `"Aggregated"`, method `""`).
    pub fn total(&self) -> &Entry {
        &self.total
    }

    /// Error rows sorted by occurrences (descending), ties by first occurrence.
    pub fn errors(&self) -> Vec<&ErrorRow> {
        let mut v = self.errors_in_order_seen();
        v.sort_by(|a, b| {
            b.occurrences.cmp(&a.occurrences).then(
                a.first_seen
                    .partial_cmp(&b.first_seen)
                    .unwrap_or(std::cmp::Ordering::Equal),
            )
        });
        v
    }

    /// Error rows in the order they were first recorded (Locust's console error report order).
    pub fn errors_in_order_seen(&self) -> Vec<&ErrorRow> {
        self.errors
            .iter()
            .flatten()
            .filter(|e| e.occurrences > 0)
            .collect()
    }

    /// Exception rows in the order they were first logged.
    pub fn exceptions(&self) -> Vec<&ExceptionRow> {
        self.exceptions.iter().collect()
    }

    /// Start of the measurement (hub creation or last reset), unix seconds.
    pub fn start_time(&self) -> f64 {
        self.total.start_time()
    }

    /// Copies the run-wide start/last timestamps into every entry (Locust computes rates of an
    /// entry against the run-wide window).
    fn sync_globals(&mut self) {
        let start = self.total.start_time();
        let last = self.total.last_request_timestamp();
        self.total.set_globals(start, last);
        for e in &mut self.entries {
            e.set_globals(start, last);
        }
    }
}

/// Hub-wide registry of admitted keys and errors; shards consult it only on a cache miss.
#[derive(Default)]
struct Registry {
    /// method -> name -> entry index (admitted and overflow keys).
    keys: HashMap<String, HashMap<String, u32>>,
    /// (method, name, creation time) per entry index.
    meta: Vec<(String, String, f64)>,
    admitted: usize,
    /// method -> overflow entry index.
    overflow: HashMap<String, u32>,
    /// entry index -> error text -> error index (current epoch).
    errors: HashMap<u32, HashMap<String, u32>>,
    /// (entry index, error text) per error index (current epoch).
    error_meta: Vec<(u32, String)>,
    admitted_errors: usize,
    /// entry index -> overflow error index.
    error_overflow: HashMap<u32, u32>,
    epoch: u64,
}

/// Result of resolving a key in the registry.
struct Resolved {
    idx: u32,
    /// True if the shard may cache this mapping (bounded by the caps).
    cacheable: bool,
}

/// A raw sample buffered in a shard.
#[derive(Clone, Copy)]
struct Raw {
    entry: u32,
    err: u32,
    epoch: u64,
    t: f64,
    rt_us: u64,
    len: u64,
}

#[derive(Default)]
struct ShardData {
    keys: HashMap<String, HashMap<String, u32>>,
    /// The last (method, name) recorded and its entry index: a task loop usually records the
    /// same key again, and comparing two short strings is cheaper than two hash lookups.
    last_key: Option<(String, String, u32)>,
    errors: HashMap<u32, HashMap<String, u32>>,
    errors_epoch: u64,
    buf: Vec<Raw>,
}

/// One thread's recording area for one hub.
struct Shard {
    data: Mutex<ShardData>,
    dead: AtomicBool,
}

static NEXT_HUB_ID: AtomicU64 = AtomicU64::new(1);

thread_local! {
    static SHARDS: RefCell<Vec<(u64, Arc<Shard>)>> = const { RefCell::new(Vec::new()) };
}

/// Collects samples from any number of threads and merges them into an [`Aggregate`].
pub struct StatsHub {
    id: u64,
    limits: StatsLimits,
    epoch: AtomicU64,
    registry: RwLock<Registry>,
    shards: Mutex<Vec<Arc<Shard>>>,
    pool: Mutex<Vec<Vec<Raw>>>,
    agg: Mutex<Aggregate>,
    warned_entries: AtomicBool,
    warned_errors: AtomicBool,
}

impl std::fmt::Debug for StatsHub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StatsHub")
            .field("id", &self.id)
            .field("limits", &self.limits)
            .finish()
    }
}

impl StatsHub {
    /// Creates a hub; its measurement starts now.
    pub fn new(limits: StatsLimits) -> Arc<StatsHub> {
        Self::new_at(limits, unix_now())
    }

    /// Creates a hub whose measurement starts at `start_unix` (for tests and replay).
    pub fn new_at(limits: StatsLimits, start_unix: f64) -> Arc<StatsHub> {
        Arc::new(StatsHub {
            id: NEXT_HUB_ID.fetch_add(1, Ordering::Relaxed),
            limits,
            epoch: AtomicU64::new(0),
            registry: RwLock::new(Registry::default()),
            shards: Mutex::new(Vec::new()),
            pool: Mutex::new(Vec::new()),
            agg: Mutex::new(Aggregate::new(start_unix, limits.max_errors)),
            warned_entries: AtomicBool::new(false),
            warned_errors: AtomicBool::new(false),
        })
    }

    /// The limits this hub was created with.
    pub fn limits(&self) -> StatsLimits {
        self.limits
    }

    /// Records one finished request (hot path; callable from any thread).
    pub fn record(&self, sample: &Sample<'_>) {
        self.record_at(sample, unix_now());
    }

    /// Records one finished request that completed at `unix_secs`.
    pub fn record_at(&self, sample: &Sample<'_>, unix_secs: f64) {
        if let Some(observer) = observer::current() {
            observer.observe(sample);
        }
        let full = self.with_shard(|shard| {
            let mut d = lock(&shard.data);
            let epoch = self.epoch.load(Ordering::Acquire);
            let last = d
                .last_key
                .as_ref()
                .filter(|(m, n, _)| m == sample.method && n == sample.name)
                .map(|(_, _, i)| *i);
            let entry = match last {
                Some(i) => i,
                None => {
                    let cached = d.keys.get(sample.method).and_then(|m| m.get(sample.name));
                    let (idx, cacheable) = match cached {
                        Some(&i) => (i, true),
                        None => {
                            let r = self.resolve_key(sample.method, sample.name, unix_secs);
                            if r.cacheable {
                                d.keys
                                    .entry(sample.method.to_owned())
                                    .or_default()
                                    .insert(sample.name.to_owned(), r.idx);
                            }
                            (r.idx, r.cacheable)
                        }
                    };
                    if cacheable {
                        match d.last_key.as_mut() {
                            Some((m, n, i)) => {
                                m.clear();
                                m.push_str(sample.method);
                                n.clear();
                                n.push_str(sample.name);
                                *i = idx;
                            }
                            None => {
                                d.last_key =
                                    Some((sample.method.to_owned(), sample.name.to_owned(), idx));
                            }
                        }
                    }
                    idx
                }
            };
            let (err, sample_epoch) = match sample.error {
                None => (NO_ERR, epoch),
                Some(text) => {
                    if d.errors_epoch != epoch {
                        d.errors.clear();
                        d.errors_epoch = epoch;
                    }
                    match d.errors.get(&entry).and_then(|m| m.get(text)) {
                        Some(&i) => (i, epoch),
                        None => {
                            let (r, reg_epoch) = self.resolve_error(entry, text);
                            if reg_epoch != d.errors_epoch {
                                d.errors.clear();
                                d.errors_epoch = reg_epoch;
                            }
                            if r.cacheable {
                                d.errors
                                    .entry(entry)
                                    .or_default()
                                    .insert(text.to_owned(), r.idx);
                            }
                            (r.idx, reg_epoch)
                        }
                    }
                }
            };
            if d.buf.capacity() == 0 {
                d.buf = self.take_buffer();
            }
            d.buf.push(Raw {
                entry,
                err,
                epoch: sample_epoch,
                t: unix_secs,
                rt_us: sample.response_time_us.map_or(NO_RT, |v| v.min(NO_RT - 1)),
                len: sample.content_length,
            });
            if d.buf.len() >= SHARD_CAPACITY {
                let fresh = self.take_buffer();
                Some(std::mem::replace(&mut d.buf, fresh))
            } else {
                None
            }
        });
        if let Some(buf) = full {
            let mut agg = lock(&self.agg);
            self.apply(&mut agg, buf);
        }
    }

    /// Logs an error raised by user code (Locust's runner `log_exception`), keyed by traceback.
    pub fn log_exception(&self, msg: &str, traceback: &str, node: &str) {
        let mut agg = lock(&self.agg);
        let idx = match agg.exception_index.get(traceback) {
            Some(&i) => i,
            None => {
                if agg.exceptions.len() >= agg.max_exceptions {
                    if !agg.exception_warned {
                        agg.exception_warned = true;
                        log::warn!(
                            "More than {} distinct exceptions (by traceback) were logged; further ones are counted in one \"{}\" row. Fix the failing task code or catch the exception to avoid this.",
                            agg.max_exceptions,
                            OTHER_EXCEPTIONS
                        );
                    }
                    match agg.exception_index.get(OTHER_EXCEPTIONS) {
                        Some(&i) => i,
                        None => {
                            let i = agg.exceptions.len();
                            agg.exceptions.push(ExceptionRow {
                                count: 0,
                                msg: OTHER_EXCEPTIONS.to_owned(),
                                traceback: OTHER_EXCEPTIONS.to_owned(),
                                nodes: BTreeSet::new(),
                            });
                            agg.exception_index.insert(OTHER_EXCEPTIONS.to_owned(), i);
                            i
                        }
                    }
                } else {
                    let i = agg.exceptions.len();
                    agg.exceptions.push(ExceptionRow {
                        count: 0,
                        msg: msg.to_owned(),
                        traceback: traceback.to_owned(),
                        nodes: BTreeSet::new(),
                    });
                    agg.exception_index.insert(traceback.to_owned(), i);
                    i
                }
            }
        };
        let row = &mut agg.exceptions[idx];
        row.count += 1;
        if !row.nodes.contains(node) {
            row.nodes.insert(node.to_owned());
        }
    }

    /// Drains every shard into the aggregate.
    pub fn merge(&self) {
        let shards: Vec<Arc<Shard>> = {
            let mut list = lock(&self.shards);
            // Forget shards of threads that exited (only our list still holds them) once drained.
            let mut keep = Vec::with_capacity(list.len());
            let mut out = Vec::with_capacity(list.len());
            for s in list.drain(..) {
                let orphan = Arc::strong_count(&s) == 1;
                out.push(s.clone());
                if !orphan {
                    keep.push(s);
                }
            }
            *list = keep;
            out
        };
        let mut taken = Vec::new();
        for s in &shards {
            let mut d = lock(&s.data);
            if !d.buf.is_empty() {
                let fresh = self.take_buffer();
                taken.push(std::mem::replace(&mut d.buf, fresh));
            }
        }
        let mut agg = lock(&self.agg);
        for buf in taken {
            self.apply(&mut agg, buf);
        }
        agg.sync_globals();
    }

    /// Locust's `reset_all`: zeroes every entry and the total (they restart now) and clears the
    /// error table. Samples recorded before the reset but not merged yet are discarded.
    /// Exceptions are kept (see [`StatsHub::reset_exceptions`]).
    pub fn reset(&self) {
        self.reset_at(unix_now());
    }

    /// [`StatsHub::reset`] with an explicit restart time.
    pub fn reset_at(&self, now: f64) {
        self.merge();
        let mut agg = lock(&self.agg);
        {
            let mut reg = self.registry.write().unwrap_or_else(|p| p.into_inner());
            reg.epoch += 1;
            reg.errors.clear();
            reg.error_meta.clear();
            reg.error_overflow.clear();
            reg.admitted_errors = 0;
            self.epoch.store(reg.epoch, Ordering::Release);
            agg.epoch = reg.epoch;
        }
        for e in &mut agg.entries {
            e.reset(now);
        }
        agg.total.reset(now);
        agg.errors.clear();
        agg.sync_globals();
    }

    /// Clears the exception table (what Locust's web `/stats/reset` does besides `reset_all`).
    pub fn reset_exceptions(&self) {
        let mut agg = lock(&self.agg);
        agg.exceptions.clear();
        agg.exception_index.clear();
    }

    /// Merges, then runs `f` with the aggregate locked.
    pub fn read<R>(&self, f: impl FnOnce(&Aggregate) -> R) -> R {
        self.merge();
        let agg = lock(&self.agg);
        f(&agg)
    }

    fn take_buffer(&self) -> Vec<Raw> {
        lock(&self.pool)
            .pop()
            .unwrap_or_else(|| Vec::with_capacity(SHARD_CAPACITY))
    }

    /// Runs `f` on this thread's shard for this hub, creating it on first use. In the steady
    /// state the shard is used in place (no reference-count traffic).
    fn with_shard<R>(&self, f: impl FnOnce(&Shard) -> R) -> R {
        SHARDS.with(|cell| {
            {
                let list = cell.borrow();
                if let Some((_, s)) = list.iter().find(|(id, _)| *id == self.id) {
                    return f(s);
                }
            }
            let s = {
                let mut v = cell.borrow_mut();
                v.retain(|(_, s)| !s.dead.load(Ordering::Relaxed));
                let s = Arc::new(Shard {
                    data: Mutex::new(ShardData::default()),
                    dead: AtomicBool::new(false),
                });
                v.push((self.id, s.clone()));
                lock(&self.shards).push(s.clone());
                s
            };
            f(&s)
        })
    }

    fn resolve_key(&self, method: &str, name: &str, t: f64) -> Resolved {
        {
            let reg = self.registry.read().unwrap_or_else(|p| p.into_inner());
            if let Some(&i) = reg.keys.get(method).and_then(|m| m.get(name)) {
                return Resolved {
                    idx: i,
                    cacheable: true,
                };
            }
            if reg.admitted >= self.limits.max_entries {
                if let Some(&i) = reg.overflow.get(method) {
                    return Resolved {
                        idx: i,
                        cacheable: false,
                    };
                }
            }
        }
        let mut reg = self.registry.write().unwrap_or_else(|p| p.into_inner());
        if let Some(&i) = reg.keys.get(method).and_then(|m| m.get(name)) {
            return Resolved {
                idx: i,
                cacheable: true,
            };
        }
        if reg.admitted < self.limits.max_entries {
            let i = reg.meta.len() as u32;
            reg.meta.push((method.to_owned(), name.to_owned(), t));
            reg.keys
                .entry(method.to_owned())
                .or_default()
                .insert(name.to_owned(), i);
            reg.admitted += 1;
            return Resolved {
                idx: i,
                cacheable: true,
            };
        }
        if !self.warned_entries.swap(true, Ordering::Relaxed) {
            log::warn!(
                "More than {} distinct request names were recorded; further names are counted under \"{}\". This usually means URLs with ids or query strings are used as names: group them with the name= parameter (e.g. name=\"/item/[id]\").",
                self.limits.max_entries,
                OTHER_NAMES
            );
        }
        if let Some(&i) = reg.overflow.get(method) {
            return Resolved {
                idx: i,
                cacheable: false,
            };
        }
        let ov_method = if reg.overflow.len() >= MAX_OVERFLOW_METHODS {
            OTHER_METHOD
        } else {
            method
        };
        let i = match reg.overflow.get(ov_method) {
            Some(&i) => i,
            None => {
                let i = reg.meta.len() as u32;
                reg.meta
                    .push((ov_method.to_owned(), OTHER_NAMES.to_owned(), t));
                reg.overflow.insert(ov_method.to_owned(), i);
                i
            }
        };
        Resolved {
            idx: i,
            cacheable: false,
        }
    }

    /// Returns the error index and the registry epoch it belongs to.
    fn resolve_error(&self, entry: u32, text: &str) -> (Resolved, u64) {
        {
            let reg = self.registry.read().unwrap_or_else(|p| p.into_inner());
            if let Some(&i) = reg.errors.get(&entry).and_then(|m| m.get(text)) {
                return (
                    Resolved {
                        idx: i,
                        cacheable: true,
                    },
                    reg.epoch,
                );
            }
            if reg.admitted_errors >= self.limits.max_errors {
                if let Some(&i) = reg.error_overflow.get(&entry) {
                    return (
                        Resolved {
                            idx: i,
                            cacheable: false,
                        },
                        reg.epoch,
                    );
                }
            }
        }
        let mut reg = self.registry.write().unwrap_or_else(|p| p.into_inner());
        let epoch = reg.epoch;
        if let Some(&i) = reg.errors.get(&entry).and_then(|m| m.get(text)) {
            return (
                Resolved {
                    idx: i,
                    cacheable: true,
                },
                epoch,
            );
        }
        if reg.admitted_errors < self.limits.max_errors {
            let i = reg.error_meta.len() as u32;
            reg.error_meta.push((entry, text.to_owned()));
            reg.errors
                .entry(entry)
                .or_default()
                .insert(text.to_owned(), i);
            reg.admitted_errors += 1;
            return (
                Resolved {
                    idx: i,
                    cacheable: true,
                },
                epoch,
            );
        }
        if !self.warned_errors.swap(true, Ordering::Relaxed) {
            log::warn!(
                "More than {} distinct error messages were recorded; further ones are counted in an \"{}\" row per request name. Errors that embed ids or timestamps cause this: report a stable message (and group URLs with the name= parameter).",
                self.limits.max_errors,
                OTHER_ERRORS
            );
        }
        let i = match reg.error_overflow.get(&entry) {
            Some(&i) => i,
            None => {
                let i = reg.error_meta.len() as u32;
                reg.error_meta.push((entry, OTHER_ERRORS.to_owned()));
                reg.error_overflow.insert(entry, i);
                i
            }
        };
        (
            Resolved {
                idx: i,
                cacheable: false,
            },
            epoch,
        )
    }

    /// Folds a buffer of raw samples into the aggregate and returns the buffer to the pool.
    fn apply(&self, agg: &mut Aggregate, mut buf: Vec<Raw>) {
        let need_registry = buf.iter().any(|r| {
            r.entry as usize >= agg.entries.len()
                || (r.err != NO_ERR
                    && r.epoch == agg.epoch
                    && !matches!(agg.errors.get(r.err as usize), Some(Some(_))))
        });
        if need_registry {
            let reg = self.registry.read().unwrap_or_else(|p| p.into_inner());
            // An entry never starts before the run (or the last reset) started.
            let run_start = agg.total.start_time();
            while agg.entries.len() < reg.meta.len() {
                let (m, n, t) = &reg.meta[agg.entries.len()];
                agg.entries.push(Entry::new(n, m, t.max(run_start)));
            }
            if reg.epoch == agg.epoch {
                if agg.errors.len() < reg.error_meta.len() {
                    agg.errors.resize(reg.error_meta.len(), None);
                }
                for r in buf.iter() {
                    if r.err == NO_ERR || r.epoch != agg.epoch {
                        continue;
                    }
                    let slot = &mut agg.errors[r.err as usize];
                    if slot.is_none() {
                        let (ei, text) = &reg.error_meta[r.err as usize];
                        let (m, n, _) = &reg.meta[*ei as usize];
                        *slot = Some(ErrorRow {
                            method: m.clone(),
                            name: n.clone(),
                            error: text.clone(),
                            occurrences: 0,
                            first_seen: r.t,
                            last_seen: r.t,
                        });
                    }
                }
            }
        }
        let epoch = agg.epoch;
        for r in buf.iter() {
            if r.epoch != epoch {
                continue;
            }
            let rt = (r.rt_us != NO_RT).then_some(r.rt_us);
            let failed = r.err != NO_ERR;
            agg.total.apply(r.t, rt, r.len, failed);
            agg.entries[r.entry as usize].apply(r.t, rt, r.len, failed);
            if failed {
                if let Some(Some(row)) = agg.errors.get_mut(r.err as usize) {
                    row.occurrences += 1;
                    row.first_seen = row.first_seen.min(r.t);
                    row.last_seen = row.last_seen.max(r.t);
                }
            }
        }
        for e in &mut agg.entries {
            e.compact();
        }
        agg.total.compact();
        buf.clear();
        lock(&self.pool).push(buf);
    }
}

impl Drop for StatsHub {
    fn drop(&mut self) {
        for s in lock(&self.shards).iter() {
            s.dead.store(true, Ordering::Relaxed);
        }
    }
}

#[cfg(test)]
mod tests;
