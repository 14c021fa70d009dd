//! Master/worker mode for locusta, on Locust's own protocol.
//!
//! Locust spreads users over worker processes and machines that a master coordinates over
//! ZeroMQ (master ROUTER, workers DEALER) with msgpack messages. This crate speaks exactly that
//! protocol, so locusta and Locust nodes can be mixed: [`protocol`] encodes and decodes the
//! messages, [`report`] turns statistics into Locust's report dicts (plus lossless histograms
//! between locusta nodes), [`order`] is Locust's order of user classes and [`dispatch`] deals
//! it out to workers, [`worker`] is the worker's loop around whatever runs the users, and
//! [`master`] is the master's state machine with [`master::node`] driving it on a socket,
//! [`zmtp`] the master's ROUTER socket (ZeroMQ's wire protocol on tokio).
//! [`processes`] starts local worker processes for `--processes`.

pub mod dispatch;
pub mod master;
pub mod order;
pub mod processes;
pub mod protocol;
pub mod report;
pub mod sys;
pub mod transport;
pub mod wire;
pub mod worker;
pub mod zmtp;

pub use protocol::Message;
pub use rmpv;
