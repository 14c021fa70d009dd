//! The run lifecycle of locusta, written once for every front end and every role.
//!
//! A run goes: options and locustfile checked into a [`RunPlan`]; a [`Controller`] opens the
//! outputs and then, tick by tick, decides what the users should do (ramp, load shape,
//! capacity search, open model, web UI commands, a master's workers), merges and writes the
//! statistics, and finally writes every output with the exit code. The controller does no I/O
//! of its own besides files and the console: drivers (a tokio loop for Rust user classes and
//! masters, a gevent loop for Python locustfiles) feed it snapshots and carry out its actions,
//! so a feature added here behaves the same for Rust and Python users, headless and in the web
//! UI, in one process and distributed.

pub mod arrival;
pub mod controller;
pub mod insight;
pub mod live;
pub mod logging;
pub mod otel;
pub mod outputs;
pub mod plan;
pub mod shape;
pub mod task_ratio;

pub use controller::{
    Action, Controller, Inputs, Interrupt, LoadState, Snapshot, StopReason, Workers,
};
pub use locusta_web::WorkerInfo;
pub use plan::{ClassFacts, LocustfileFacts, Role, RunPlan, Setup, ShapeFacts};
pub use shape::{LoadShape, ShapeTick, Stages};
