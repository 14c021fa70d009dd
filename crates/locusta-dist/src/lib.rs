//! Master/worker mode for locusta, on Locust's own protocol.
//!
//! Locust spreads users over worker processes and machines that a master coordinates over
//! ZeroMQ (master ROUTER, workers DEALER) with msgpack messages. This crate speaks exactly that
//! protocol, so locusta and Locust nodes can be mixed: [`protocol`] encodes and decodes the
//! messages, [`report`] turns statistics into Locust's report dicts (plus lossless histograms
//! between locusta nodes), [`dispatch`] is the master's user distribution, [`worker`] is the
//! worker's loop around an engine, and [`master`] is the headless master.

pub mod dispatch;
pub mod guard;
pub mod master;
pub mod protocol;
pub mod report;
pub mod sys;
pub mod transport;
pub mod worker;

pub use protocol::Message;
pub use rmpv;
