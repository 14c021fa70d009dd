//! One process-wide observer of every recorded request, for exporters that need each sample.
//!
//! The statistics themselves never need this: they are folded in per-thread shards. It exists
//! for `--otel`, whose histogram is fed one value per request as Locust's `request` event
//! listener feeds it, from whatever records requests (Rust users, Python users, custom
//! `events.request.fire`). Without an observer installed, a recorded request pays one atomic
//! load for it.

use std::sync::OnceLock;

use crate::Sample;

/// Sees each request as [`crate::StatsHub::record`] gets it, on the recording thread.
pub trait RecordObserver: Send + Sync + 'static {
    /// Called once per recorded request, before it is folded into the statistics; must be
    /// cheap and must not block (it runs on the users' threads).
    fn observe(&self, sample: &Sample<'_>);
}

static OBSERVER: OnceLock<Box<dyn RecordObserver>> = OnceLock::new();

/// Installs `observer` for the rest of the process; `false` when one was already installed
/// (the first stays).
pub fn install(observer: Box<dyn RecordObserver>) -> bool {
    OBSERVER.set(observer).is_ok()
}

/// The installed observer, if any.
#[inline]
pub fn current() -> Option<&'static dyn RecordObserver> {
    OBSERVER.get().map(|b| &**b)
}
