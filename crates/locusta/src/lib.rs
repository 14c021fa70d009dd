//! locusta: Locust's load-testing model on a Rust engine.
//!
//! Simulated users are described as [`UserClass`]es with weighted, tagged tasks and a wait
//! time; the engine spawns them at a given rate on one single-threaded runtime per core,
//! records every request into per-thread statistics shards, and reports with Locust's console
//! tables, CSV files and JSON. A program with Rust-native users gets the whole `locust` command
//! line by calling [`run_cli`]:
//!
//! ```no_run
//! use locusta::{task, TaskResult, User, UserClass};
//!
//! async fn index(user: &mut User) -> TaskResult {
//!     user.client.get("/").send().await;
//!     Ok(())
//! }
//!
//! fn main() {
//!     let users = vec![UserClass::new("WebsiteUser").task(task!(index))];
//!     std::process::exit(locusta::run_cli(users));
//! }
//! ```
//!
//! The library is the user-facing part (users, client, runner, load shapes, the
//! [`Locustfile`]); the command line and the drivers that run a test are internal, and the run's
//! lifecycle itself lives in `locusta-run`, shared with the Python front end.

pub mod client;
pub mod demo;
pub mod demo_patterns;
pub mod demo_users;
pub mod grpc;
pub mod locustfile;
pub mod runner;
pub mod spawn;
pub mod user;
pub mod wait_time;
pub mod websocket;

mod cli;
mod distributed;
mod driver;
mod loads;

/// The open model's schedule (`--arrival-rate`).
pub use locusta_run::arrival;
/// Load shapes (Locust's `LoadTestShape`).
pub use locusta_run::shape;

pub use cli::{run_cli, run_locustfile};
pub use client::{CaughtResponse, Client, RequestBuilder, Response};
pub use locusta_http::{BodyStream, ConnectionPool, Http2Mode, Proxy, SessionOptions};
pub use locusta_http::{WsConnectOptions, WsError, WsMessage};
pub use locustfile::{Locustfile, Node, TestEvent, TestHooks};
pub use runner::{Runner, RunnerConfig, RunnerState};
pub use shape::{LoadShape, ShapeTick, Stages};
pub use user::{Task, TaskError, TaskResult, User, UserClass};
pub use wait_time::WaitTime;
pub use websocket::{WebSocketBuilder, WebSocketConnection};
