//! locusta's web UI: Locust's web API (same paths, methods and JSON keys) and a page to start,
//! watch, steer and download a test, served from the binary.
//!
//! The server knows nothing about runners: [`WebContext`] carries the statistics, a queue of
//! [`Command`]s for the run's control loop, and the [`Status`] that loop publishes. The run
//! controller (`locusta-run`) drives that contract for every kind of run.
//! [`router`] returns the routes so other features (`/metrics`, `/stats/report`) can be merged
//! in before [`start`] serves them.

pub mod api;
pub mod assets;
pub mod control;
pub mod extras;
pub mod forward;
pub mod history;
pub mod server;

pub use api::router;
pub use control::{
    ClassInfo, Command, ControlPort, ExtraOptionInfo, RunInfo, Status, SwarmRequest, TaskInfo,
    WebContext, WorkerInfo, WorkerLogs,
};
pub use extras::{metrics_routes, report_routes, ReportRequest};
pub use forward::{forward_routes, require_login, ForwardedRequest, ForwardedResponse, Forwarder};
pub use history::History;
pub use server::{start, ServerConfig, WebServer};
