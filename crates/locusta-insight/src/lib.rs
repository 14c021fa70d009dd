//! locusta-insight: what locusta adds on top of Locust's numbers.
//!
//! Locust reports statistics; users also want to know whether the build passes, where the
//! system breaks and how it degrades. This crate holds those features, independent of the
//! engine so the headless runner, the web UI and the Python runner can all use them:
//! - [`threshold`] and [`junit`]: CI gates (`--threshold`, `--junit`) and the exit code;
//! - [`baseline`], [`noise`] and [`compare`]: `--baseline`, this run against a previous one,
//!   per endpoint, with noise-aware verdicts;
//! - [`history`]: the bounded per-second stats history the charts and the diagnosis read;
//! - [`diagnosis`]: culprit endpoints, degradation patterns, knees, capacity, `--find-capacity`;
//! - [`report`]: the self-contained HTML report (`--html`, `/stats/report`);
//! - [`metrics`]: Prometheus `/metrics` text and a small server for `--headless` runs.

pub mod baseline;
pub mod compare;
pub mod diagnosis;
pub mod history;
pub mod junit;
pub mod metrics;
pub mod noise;
pub mod report;
pub mod threshold;
