//! ZeroMQ sockets as Locust uses them: the master binds a ROUTER, each worker connects a
//! DEALER whose identity is its node id. Frames are Locust's: worker → master one frame (the
//! message); master → worker `[identity, message]` without an empty delimiter.
//!
//! The worker's DEALER is the `zeromq` crate's; the master's ROUTER is [`crate::zmtp`]'s (one
//! connection per worker, O(1) per message, the frame size limit checked before reading).
//! Every send has a time limit or never waits, so a stalled peer can never hang a control loop.

use std::time::Duration;

use bytes::Bytes;
use std::sync::Arc;

use zeromq::{DealerSocket, Socket, SocketOptions, SocketRecv, SocketSend, ZmqMessage};

use crate::protocol::Message;
use crate::zmtp::RouterSocket;

/// How long one send may wait for the peer's queue.
const SEND_TIMEOUT: Duration = Duration::from_secs(2);

/// `tcp://host:port` with IPv6 literals bracketed and `*` kept for "all interfaces".
pub fn endpoint(host: &str, port: u16) -> String {
    let host = if host.is_empty() || host == "*" {
        "0.0.0.0".to_string()
    } else if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]")
    } else {
        host.to_string()
    };
    format!("tcp://{host}:{port}")
}

/// A worker's connection to the master.
pub struct Dealer {
    socket: DealerSocket,
}

impl Dealer {
    /// Connects (one attempt of at most `timeout`).
    pub async fn connect(
        host: &str,
        port: u16,
        node_id: &str,
        timeout: Duration,
    ) -> Result<Dealer, String> {
        let mut opts = SocketOptions::default();
        let id = zeromq::util::PeerIdentity::try_from(Bytes::from(node_id.as_bytes().to_vec()))
            .map_err(|e| format!("bad node id {node_id:?}: {e}"))?;
        opts.peer_identity(id);
        opts.connect_timeout(timeout);
        let mut socket = DealerSocket::with_options(opts);
        let ep = endpoint(host, port);
        match tokio::time::timeout(timeout + Duration::from_secs(1), socket.connect(&ep)).await {
            Ok(Ok(())) => Ok(Dealer { socket }),
            Ok(Err(e)) => Err(format!("cannot connect to {ep}: {e}")),
            Err(_) => Err(format!("cannot connect to {ep}: timed out")),
        }
    }

    /// Sends a message to the master.
    pub async fn send(&mut self, msg: &Message) -> Result<(), String> {
        let frame = ZmqMessage::from(msg.encode());
        match tokio::time::timeout(SEND_TIMEOUT, self.socket.send(frame)).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(format!("sending {} failed: {e}", msg.kind)),
            Err(_) => Err(format!("sending {} timed out", msg.kind)),
        }
    }

    /// Sends raw bytes as one frame (for tests of the master's input checks).
    pub async fn send_raw(&mut self, bytes: Vec<u8>) -> Result<(), String> {
        match tokio::time::timeout(SEND_TIMEOUT, self.socket.send(ZmqMessage::from(bytes))).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(format!("sending failed: {e}")),
            Err(_) => Err("sending timed out".into()),
        }
    }

    /// The next frame from the master (undecoded: the caller logs and drops bad ones).
    pub async fn recv(&mut self) -> Result<Bytes, String> {
        let msg = self
            .socket
            .recv()
            .await
            .map_err(|e| format!("receiving from the master failed: {e}"))?;
        let frames = msg.into_vec();
        // A DEALER receives exactly the payload frame from a Locust or locusta master.
        frames
            .into_iter()
            .last()
            .ok_or_else(|| "empty message from the master".to_string())
    }
}

/// The master's socket: a ROUTER served by [`crate::zmtp`].
pub struct Router {
    socket: RouterSocket,
    /// Where messages are encoded before they are framed (reused).
    scratch: Vec<u8>,
    /// The port actually bound (useful with port 0).
    pub port: u16,
}

/// Connections waiting to be accepted (the kernel caps it at `net.core.somaxconn`). Workers
/// that join together (a deployment scaled up) queue here; past the queue the kernel drops
/// their connection attempts and each retries a second later, so a small queue (std's 128,
/// libzmq's 100) turns a wave of a thousand workers into seconds of retries.
const ACCEPT_BACKLOG: u32 = 4096;

/// A listening socket on the first address `addr` resolves to that can be bound.
async fn listen(addr: &str) -> std::io::Result<tokio::net::TcpListener> {
    let mut last = None;
    for a in tokio::net::lookup_host(addr).await? {
        let socket = if a.is_ipv4() {
            tokio::net::TcpSocket::new_v4()?
        } else {
            tokio::net::TcpSocket::new_v6()?
        };
        socket.set_reuseaddr(true)?;
        match socket.bind(a).and_then(|()| socket.listen(ACCEPT_BACKLOG)) {
            Ok(l) => return Ok(l),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| {
        std::io::Error::new(
            std::io::ErrorKind::NotFound,
            format!("{addr} resolves to no address"),
        )
    }))
}

impl Router {
    /// Binds `tcp://host:port` (`*` or empty: every interface, IPv6 when the machine has it).
    pub async fn bind(host: &str, port: u16) -> Result<Router, String> {
        let public = if host.is_empty() || host == "*" {
            format!("[::]:{port}")
        } else if host.contains(':') && !host.starts_with('[') {
            format!("[{host}]:{port}")
        } else {
            format!("{host}:{port}")
        };
        let listener = match listen(&public).await {
            Ok(l) => l,
            // No IPv6 on this machine: all IPv4 interfaces.
            Err(_) if host.is_empty() || host == "*" => listen(&format!("0.0.0.0:{port}"))
                .await
                .map_err(|e| format!("cannot bind 0.0.0.0:{port}: {e}"))?,
            Err(e) => return Err(format!("cannot bind {public}: {e}")),
        };
        let port = listener.local_addr().map(|a| a.port()).unwrap_or(port);
        Ok(Router {
            socket: RouterSocket::serve(listener),
            scratch: Vec::new(),
            port,
        })
    }

    /// Sends a message to the worker named by its node id (queued: it never waits).
    pub async fn send(&mut self, msg: &Message) -> Result<(), String> {
        self.scratch.clear();
        msg.encode_into(&mut self.scratch);
        self.socket
            .send(msg.node_id.as_bytes(), &self.scratch)
            .map_err(|e| format!("sending {} to {} failed: {e}", msg.kind, msg.node_id))
    }

    /// Answers a worker's heartbeat (`["heartbeat", nil, node_id]`, built straight into its
    /// frame: the master sends one per worker and second).
    pub fn send_heartbeat(&mut self, node_id: &str) -> Result<(), String> {
        self.scratch.clear();
        crate::protocol::encode_heartbeat_reply(node_id, &mut self.scratch);
        self.socket
            .send(node_id.as_bytes(), &self.scratch)
            .map_err(|e| format!("sending heartbeat to {node_id} failed: {e}"))
    }

    /// The next `(identity, payload)` from any worker.
    pub async fn recv(&mut self) -> Result<(Arc<str>, Bytes), String> {
        self.socket
            .recv()
            .await
            .ok_or_else(|| "the master socket is closed".to_string())
    }

    /// A frame that has already arrived, if any (never waits).
    pub fn try_recv(&mut self) -> Option<(Arc<str>, Bytes)> {
        self.socket.try_recv()
    }

    /// Workers connected now.
    pub fn connected(&self) -> usize {
        self.socket.peer_count()
    }
}
