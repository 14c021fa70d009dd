//! The master's ZeroMQ ROUTER, spoken directly on tokio: ZMTP 3 with the NULL mechanism, as
//! Locust's pyzmq workers and locusta's own workers (DEALER sockets) connect to it.
//!
//! Why not a ZeroMQ library: the master must hold 10,000 workers on a fraction of a core. One
//! TCP connection per worker, one reader task that parses frames as they arrive (no copy of a
//! frame until it is complete, one allocation per message), the frame size limit checked on the
//! header before any memory is reserved (a forged header claiming a terabyte closes the
//! connection), and no per-peer work except on that peer's own traffic: a message costs a hash
//! lookup to send and a channel hop to receive, whatever the number of workers. An idle
//! connection holds no read buffer (partial frames only are kept per connection).
//!
//! What the router does, as libzmq's ROUTER: each peer is known by the `Identity` of its READY
//! command (a random one when it sent none); a message from a peer is handed on as
//! `(identity, first frame)`; a message to an unknown or disconnected identity is refused; a
//! peer whose queue is full loses the message (ZeroMQ's high-water mark). A new connection with
//! an identity already in use takes it over (libzmq's `ZMQ_ROUTER_HANDOVER`), so a worker that
//! reconnects before its old connection timed out is reachable at once. ZMTP 3.1 `PING`s are
//! answered with `PONG`.

use std::cell::RefCell;
use std::collections::HashMap;
use std::io::IoSlice;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use tokio::io::AsyncWriteExt;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};

use crate::protocol::MAX_MESSAGE_BYTES;

/// Largest frame or multi-frame message let through (the message limit plus room for the
/// ZMTP command frames of the handshake).
pub const MAX_WIRE_MESSAGE: u64 = MAX_MESSAGE_BYTES as u64 + 64 * 1024;
/// Most connections served at once (the master tracks at most `MAX_WORKERS` = 10,000).
pub const MAX_CONNECTIONS: usize = 20_000;
/// Messages queued for one peer before more are dropped (ZeroMQ's default high-water mark).
const PEER_QUEUE: usize = 1000;
/// Messages received and not yet taken by the master before the readers wait.
const INCOMING_QUEUE: usize = 4096;
/// Time a new connection has for the greeting and READY exchange.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Bytes read per system call.
const READ_CHUNK: usize = 64 * 1024;

thread_local! {
    /// The buffer every reader on this thread reads into (never held across an await).
    static SCRATCH: RefCell<Vec<u8>> = RefCell::new(vec![0; READ_CHUNK]);
}

/// A ZMTP frame's header: flags and body size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Header {
    more: bool,
    command: bool,
    size: u64,
    /// Bytes of the header itself (2 or 9).
    len: usize,
}

/// Reads a frame header at the start of `data`: `None` when incomplete, an error when the
/// flags are invalid or the frame exceeds [`MAX_WIRE_MESSAGE`].
fn header(data: &[u8]) -> Result<Option<Header>, String> {
    let Some(&flags) = data.first() else {
        return Ok(None);
    };
    if flags & !0x07 != 0 {
        return Err(format!("invalid ZMTP frame flags {flags:#04x}"));
    }
    let (size, len) = if flags & 0x02 != 0 {
        let Some(b) = data.get(1..9) else {
            return Ok(None);
        };
        let mut be = [0u8; 8];
        be.copy_from_slice(b);
        (u64::from_be_bytes(be), 9)
    } else {
        let Some(&b) = data.get(1) else {
            return Ok(None);
        };
        (u64::from(b), 2)
    };
    if size > MAX_WIRE_MESSAGE {
        return Err(format!(
            "a frame of {size} bytes would exceed the {MAX_WIRE_MESSAGE} byte message limit"
        ));
    }
    Ok(Some(Header {
        more: flags & 0x01 != 0,
        command: flags & 0x04 != 0,
        size,
        len,
    }))
}

/// Appends a frame (header and body) to `out`.
pub fn encode_frame(out: &mut Vec<u8>, body: &[u8], more: bool, command: bool) {
    let mut flags = u8::from(more) | (u8::from(command) << 2);
    if body.len() > 255 {
        flags |= 0x02;
        out.push(flags);
        out.extend_from_slice(&(body.len() as u64).to_be_bytes());
    } else {
        out.push(flags);
        out.push(body.len() as u8);
    }
    out.extend_from_slice(body);
}

/// Our greeting: ZMTP 3.1, NULL mechanism, as server.
fn greeting() -> [u8; 64] {
    let mut g = [0u8; 64];
    g[0] = 0xff;
    g[9] = 0x7f;
    g[10] = 3;
    g[11] = 1;
    g[12..16].copy_from_slice(b"NULL");
    g[32] = 1;
    g
}

/// Checks a peer's greeting: the signature, major version 3 and the NULL mechanism.
fn check_greeting(g: &[u8]) -> Result<(), String> {
    if g.len() < 64 || g[0] != 0xff || g[9] != 0x7f {
        return Err("not a ZeroMQ peer (bad greeting signature)".into());
    }
    if g[10] < 3 {
        return Err(format!("ZMTP version {}.{} is not supported", g[10], g[11]));
    }
    let mech = &g[12..32];
    let end = mech.iter().position(|&b| b == 0).unwrap_or(mech.len());
    if &mech[..end] != b"NULL" {
        return Err(format!(
            "security mechanism {:?} is not supported (only NULL)",
            String::from_utf8_lossy(&mech[..end])
        ));
    }
    Ok(())
}

/// The READY command body with our socket type.
fn ready_command() -> Vec<u8> {
    let mut body = Vec::with_capacity(32);
    body.push(5);
    body.extend_from_slice(b"READY");
    body.push(11);
    body.extend_from_slice(b"Socket-Type");
    body.extend_from_slice(&6u32.to_be_bytes());
    body.extend_from_slice(b"ROUTER");
    let mut out = Vec::with_capacity(40);
    encode_frame(&mut out, &body, false, true);
    out
}

/// A command's name and body after the name.
fn command_parts(body: &[u8]) -> Result<(&[u8], &[u8]), String> {
    let n = usize::from(*body.first().ok_or("empty ZMTP command")?);
    let name = body.get(1..1 + n).ok_or("truncated ZMTP command name")?;
    Ok((name, &body[1 + n..]))
}

/// The `Socket-Type` and `Identity` properties of a READY command's body.
fn ready_properties(mut props: &[u8]) -> Result<(Vec<u8>, Vec<u8>), String> {
    let (mut socket_type, mut identity) = (Vec::new(), Vec::new());
    while !props.is_empty() {
        let n = usize::from(props[0]);
        let name = props.get(1..1 + n).ok_or("truncated READY property")?;
        let len = props.get(1 + n..5 + n).ok_or("truncated READY property")?;
        let len = u32::from_be_bytes([len[0], len[1], len[2], len[3]]) as usize;
        let value = props
            .get(5 + n..5 + n + len)
            .ok_or("truncated READY property value")?;
        if name.eq_ignore_ascii_case(b"Socket-Type") {
            socket_type = value.to_vec();
        } else if name.eq_ignore_ascii_case(b"Identity") {
            identity = value.to_vec();
        }
        props = &props[5 + n + len..];
    }
    Ok((socket_type, identity))
}

/// What a connection's frames amount to.
enum Event {
    /// A complete message's first frame (further frames of the message are dropped).
    Message(Bytes),
    /// A command frame's body.
    Command(Bytes),
}

/// Splits one direction of a connection into frames, keeping only an incomplete frame between
/// reads.
#[derive(Default)]
struct FrameReader {
    /// The start of a frame whose header or body has not all arrived.
    pending: BytesMut,
    /// Inside a multi-frame message after its first frame: later frames are skipped.
    in_message: bool,
    /// Bytes of the current multi-frame message so far (bounded like one frame).
    message_bytes: u64,
}

impl FrameReader {
    /// Feeds bytes just read; complete frames become events.
    fn feed(&mut self, mut data: &[u8], events: &mut Vec<Event>) -> Result<(), String> {
        if !self.pending.is_empty() {
            // Complete the pending frame first, taking no more than it needs.
            loop {
                let h = match header(&self.pending)? {
                    Some(h) => h,
                    None => {
                        let Some((&b, rest)) = data.split_first() else {
                            return Ok(());
                        };
                        self.pending.extend_from_slice(&[b]);
                        data = rest;
                        continue;
                    }
                };
                let total = h.len + h.size as usize;
                let take = (total - self.pending.len()).min(data.len());
                self.pending.extend_from_slice(&data[..take]);
                data = &data[take..];
                if self.pending.len() < total {
                    return Ok(());
                }
                let mut frame = std::mem::take(&mut self.pending);
                let body = frame.split_off(h.len).freeze();
                self.frame(h, || body, events)?;
                break;
            }
        }
        while !data.is_empty() {
            let Some(h) = header(data)? else {
                self.pending.extend_from_slice(data);
                return Ok(());
            };
            let total = h.len as u64 + h.size;
            if (data.len() as u64) < total {
                // Reserve what has arrived, not what the header claims.
                self.pending.reserve(data.len().max(256));
                self.pending.extend_from_slice(data);
                return Ok(());
            }
            let total = total as usize;
            let body = &data[h.len..total];
            self.frame(h, || Bytes::copy_from_slice(body), events)?;
            data = &data[total..];
        }
        Ok(())
    }

    fn frame(
        &mut self,
        h: Header,
        body: impl FnOnce() -> Bytes,
        events: &mut Vec<Event>,
    ) -> Result<(), String> {
        if h.command {
            events.push(Event::Command(body()));
            return Ok(());
        }
        self.message_bytes = self.message_bytes.saturating_add(h.size);
        if self.message_bytes > MAX_WIRE_MESSAGE {
            return Err(format!(
                "a message of {} bytes would exceed the {MAX_WIRE_MESSAGE} byte message limit",
                self.message_bytes
            ));
        }
        if !self.in_message {
            events.push(Event::Message(body()));
        }
        self.in_message = h.more;
        if !h.more {
            self.message_bytes = 0;
        }
        Ok(())
    }
}

/// A connected peer: where its messages go, and which connection it is.
struct Peer {
    serial: u64,
    out: PeerWriter,
}

/// The sending side of a connection.
#[derive(Clone)]
struct PeerWriter {
    /// The socket: written directly while nothing is queued.
    half: Arc<OwnedWriteHalf>,
    /// What the socket did not take at once, for the connection's writer task.
    queue: mpsc::Sender<Bytes>,
    /// Frames in `queue` not completely written yet (0: a send may write directly).
    queued: Arc<AtomicUsize>,
}

impl PeerWriter {
    /// Sends one frame (`header` then `body`): written at once when the socket takes it (no
    /// task, no copy), else what is left is queued for the writer task.
    fn send(&self, header: &[u8], body: &[u8]) -> Result<(), String> {
        let total = header.len() + body.len();
        let mut written = 0;
        if self.queued.load(Ordering::Acquire) == 0 {
            let parts = [IoSlice::new(header), IoSlice::new(body)];
            match self.half.try_write_vectored(&parts) {
                Ok(n) => written = n,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(e) => return Err(format!("it disconnected ({e})")),
            }
            if written == total {
                return Ok(());
            }
        }
        // The rest of the frame (all of it unless a write just took part) waits its turn.
        let mut rest = Vec::with_capacity(total - written);
        if written < header.len() {
            rest.extend_from_slice(&header[written..]);
            rest.extend_from_slice(body);
        } else {
            rest.extend_from_slice(&body[written - header.len()..]);
        }
        self.queued.fetch_add(1, Ordering::AcqRel);
        match self.queue.try_send(Bytes::from(rest)) {
            Ok(()) => Ok(()),
            Err(e) => {
                self.queued.fetch_sub(1, Ordering::AcqRel);
                match e {
                    // Only when frames were already waiting: nothing of this one was written.
                    mpsc::error::TrySendError::Full(_) => {
                        Err(format!("its queue is full ({PEER_QUEUE} messages)"))
                    }
                    mpsc::error::TrySendError::Closed(_) => Err("it disconnected".into()),
                }
            }
        }
    }
}

/// A frame header for a body of `len` bytes.
fn frame_header(len: usize, command: bool) -> ([u8; 9], usize) {
    let mut h = [0u8; 9];
    h[0] = u8::from(command) << 2;
    if len > 255 {
        h[0] |= 0x02;
        h[1..9].copy_from_slice(&(len as u64).to_be_bytes());
        (h, 9)
    } else {
        h[1] = len as u8;
        (h, 2)
    }
}

type Peers = Arc<Mutex<HashMap<Arc<[u8]>, Peer>>>;

/// Shared by the accept loop and every connection.
struct Shared {
    peers: Peers,
    incoming: mpsc::Sender<(Arc<str>, Bytes)>,
    connections: AtomicU64,
    serials: AtomicU64,
    closed: watch::Receiver<()>,
}

/// The master's ROUTER socket: accepts workers on a TCP listener and serves each connection
/// on a task of its own.
pub struct RouterSocket {
    peers: Peers,
    incoming: mpsc::Receiver<(Arc<str>, Bytes)>,
    /// Dropped with the socket: every connection task sees it and ends.
    _close: watch::Sender<()>,
}

impl RouterSocket {
    /// Serves `listener` until the socket is dropped.
    pub fn serve(listener: TcpListener) -> RouterSocket {
        let (close, closed) = watch::channel(());
        let (tx, incoming) = mpsc::channel(INCOMING_QUEUE);
        let peers = Peers::default();
        let shared = Arc::new(Shared {
            peers: Arc::clone(&peers),
            incoming: tx,
            connections: AtomicU64::new(0),
            serials: AtomicU64::new(0),
            closed,
        });
        tokio::spawn(accept_loop(listener, shared));
        RouterSocket {
            peers,
            incoming,
            _close: close,
        }
    }

    /// The next `(identity, message)` from any peer (`None` once nothing can arrive).
    pub async fn recv(&mut self) -> Option<(Arc<str>, Bytes)> {
        self.incoming.recv().await
    }

    /// The next `(identity, message)` that has already arrived, if any.
    pub fn try_recv(&mut self) -> Option<(Arc<str>, Bytes)> {
        self.incoming.try_recv().ok()
    }

    /// Sends `message` (one frame) to the peer `identity`: written to its socket at once when
    /// it takes it, else queued for the connection's writer task.
    pub fn send(&self, identity: &[u8], message: &[u8]) -> Result<(), String> {
        let (header, n) = frame_header(message.len(), false);
        let peers = locusta_util::lock(&self.peers);
        let Some(peer) = peers.get(identity) else {
            return Err("no such peer connected".into());
        };
        peer.out.send(&header[..n], message)
    }

    /// Peers connected now.
    pub fn peer_count(&self) -> usize {
        locusta_util::lock(&self.peers).len()
    }
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    let mut closed = shared.closed.clone();
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = closed.changed() => return,
        };
        match accepted {
            Ok((stream, peer)) => {
                if shared.connections.load(Ordering::Relaxed) >= MAX_CONNECTIONS as u64 {
                    log::warn!("refusing the connection from {peer}: {MAX_CONNECTIONS} are open");
                    continue;
                }
                shared.connections.fetch_add(1, Ordering::Relaxed);
                let shared = Arc::clone(&shared);
                tokio::spawn(async move {
                    connection(stream, peer, &shared).await;
                    shared.connections.fetch_sub(1, Ordering::Relaxed);
                });
            }
            Err(e) => {
                log::warn!("accepting a worker connection failed: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

/// Reads whatever is available into the thread's scratch buffer and hands it to `f`; `Ok(false)`
/// at the end of the stream.
async fn read_some(
    rd: &OwnedReadHalf,
    f: &mut impl FnMut(&[u8]) -> Result<(), String>,
) -> Result<bool, String> {
    loop {
        rd.readable().await.map_err(|e| e.to_string())?;
        let r = SCRATCH.with_borrow_mut(|buf| match rd.try_read(buf) {
            Ok(0) => Some(Ok(false)),
            Ok(n) => Some(f(&buf[..n]).map(|()| true)),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => None,
            Err(e) => Some(Err(e.to_string())),
        });
        if let Some(r) = r {
            return r;
        }
    }
}

/// The greeting and READY exchange: the peer's identity, and frames already read past it.
async fn handshake(
    rd: &OwnedReadHalf,
    wr: &mut OwnedWriteHalf,
    reader: &mut FrameReader,
    events: &mut Vec<Event>,
) -> Result<Vec<u8>, String> {
    wr.write_all(&greeting()).await.map_err(|e| e.to_string())?;
    let mut greeting_in = Vec::with_capacity(64);
    let mut sent_ready = false;
    loop {
        let mut feed = |data: &[u8]| {
            let need = 64 - greeting_in.len().min(64);
            let take = need.min(data.len());
            greeting_in.extend_from_slice(&data[..take]);
            if greeting_in.len() >= 10 && (greeting_in[0] != 0xff || greeting_in[9] != 0x7f) {
                return Err("not a ZeroMQ peer (bad greeting signature)".to_string());
            }
            reader.feed(&data[take..], events)
        };
        if !read_some(rd, &mut feed).await? {
            return Err("closed during the handshake".into());
        }
        if greeting_in.len() < 64 {
            continue;
        }
        if !sent_ready {
            check_greeting(&greeting_in)?;
            wr.write_all(&ready_command())
                .await
                .map_err(|e| e.to_string())?;
            sent_ready = true;
        }
        if events.is_empty() {
            continue;
        }
        let Event::Command(body) = events.remove(0) else {
            return Err("a message before the READY command".into());
        };
        let (name, props) = command_parts(&body)?;
        if name != b"READY" {
            return Err(format!(
                "expected READY, got the {:?} command",
                String::from_utf8_lossy(name)
            ));
        }
        let (socket_type, identity) = ready_properties(props)?;
        if !socket_type.eq_ignore_ascii_case(b"DEALER") && !socket_type.eq_ignore_ascii_case(b"REQ")
        {
            return Err(format!(
                "a {} socket cannot talk to a ROUTER here (workers use DEALER)",
                String::from_utf8_lossy(&socket_type)
            ));
        }
        return Ok(identity);
    }
}

/// Serves one connection: handshake, then its frames to the master and the master's messages
/// to it.
async fn connection(stream: TcpStream, addr: SocketAddr, shared: &Shared) {
    let _ = stream.set_nodelay(true);
    let (rd, mut wr) = stream.into_split();
    let mut reader = FrameReader::default();
    let mut events = Vec::new();
    let identity = match tokio::time::timeout(
        HANDSHAKE_TIMEOUT,
        handshake(&rd, &mut wr, &mut reader, &mut events),
    )
    .await
    {
        Ok(Ok(id)) => id,
        Ok(Err(e)) => {
            log::warn!("dropping the connection from {addr}: {e}");
            return;
        }
        Err(_) => {
            log::warn!(
                "dropping the connection from {addr}: no ZeroMQ handshake within {} s",
                HANDSHAKE_TIMEOUT.as_secs()
            );
            return;
        }
    };
    let serial = shared.serials.fetch_add(1, Ordering::Relaxed);
    let identity: Arc<[u8]> = if identity.is_empty() {
        // libzmq names an anonymous peer with a 0 byte and a number.
        let mut id = vec![0u8];
        id.extend_from_slice(&(serial as u32).to_be_bytes());
        id.into()
    } else {
        identity.into()
    };
    let name: Arc<str> = String::from_utf8_lossy(&identity).into();
    let (queue, outgoing) = mpsc::channel(PEER_QUEUE);
    let half = Arc::new(wr);
    let queued = Arc::new(AtomicUsize::new(0));
    let out = PeerWriter {
        half: Arc::clone(&half),
        queue,
        queued: Arc::clone(&queued),
    };
    locusta_util::lock(&shared.peers).insert(
        Arc::clone(&identity),
        Peer {
            serial,
            out: out.clone(),
        },
    );
    let writer = tokio::spawn(write_loop(half, outgoing, queued));
    let mut closed = shared.closed.clone();
    let result = async {
        loop {
            for ev in events.drain(..) {
                match ev {
                    Event::Message(body) => {
                        if shared
                            .incoming
                            .send((Arc::clone(&name), body))
                            .await
                            .is_err()
                        {
                            return Ok(());
                        }
                    }
                    Event::Command(body) => on_command(&body, &out),
                }
            }
            let mut feed = |data: &[u8]| reader.feed(data, &mut events);
            let more = tokio::select! {
                r = read_some(&rd, &mut feed) => r?,
                _ = closed.changed() => false,
            };
            if !more && events.is_empty() {
                return Ok::<(), String>(());
            }
        }
    }
    .await;
    if let Err(e) = result {
        log::warn!("dropping the connection from {addr} ({name}): {e}");
    }
    {
        let mut peers = locusta_util::lock(&shared.peers);
        if peers.get(&identity).is_some_and(|p| p.serial == serial) {
            peers.remove(&identity);
        }
    }
    drop(out);
    writer.abort();
}

/// Answers a ZMTP 3.1 `PING` with `PONG` (its context echoed); other commands are ignored.
fn on_command(body: &[u8], out: &PeerWriter) {
    let Ok((name, rest)) = command_parts(body) else {
        return;
    };
    if name == b"PING" && rest.len() >= 2 {
        let mut pong = Vec::with_capacity(8 + rest.len());
        pong.push(4);
        pong.extend_from_slice(b"PONG");
        pong.extend_from_slice(&rest[2..rest.len().min(2 + 16)]);
        let (header, n) = frame_header(pong.len(), true);
        let _ = out.send(&header[..n], &pong);
    }
}

/// Writes the frames queued for one peer (those the socket did not take at once), in order.
async fn write_loop(
    wr: Arc<OwnedWriteHalf>,
    mut outgoing: mpsc::Receiver<Bytes>,
    queued: Arc<AtomicUsize>,
) {
    while let Some(frame) = outgoing.recv().await {
        let mut data = &frame[..];
        while !data.is_empty() {
            if wr.writable().await.is_err() {
                return;
            }
            match wr.try_write(data) {
                Ok(n) => data = &data[n..],
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(_) => return,
            }
        }
        queued.fetch_sub(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frames(data: &[u8], chunk: usize) -> Result<Vec<(bool, Vec<u8>)>, String> {
        let mut r = FrameReader::default();
        let mut ev = Vec::new();
        for c in data.chunks(chunk) {
            r.feed(c, &mut ev)?;
        }
        Ok(ev
            .into_iter()
            .map(|e| match e {
                Event::Message(b) => (false, b.to_vec()),
                Event::Command(b) => (true, b.to_vec()),
            })
            .collect())
    }

    #[test]
    fn splits_frames_in_any_chunking() {
        let mut stream = Vec::new();
        encode_frame(&mut stream, b"READY", false, true);
        encode_frame(&mut stream, b"hi", false, false);
        encode_frame(&mut stream, &[7u8; 300], false, false);
        encode_frame(&mut stream, b"first", true, false);
        encode_frame(&mut stream, b"dropped", false, false);
        encode_frame(&mut stream, b"", false, false);
        for chunk in [1usize, 2, 3, 7, 64, 1000] {
            let f = frames(&stream, chunk).expect("valid stream");
            assert_eq!(
                f,
                vec![
                    (true, b"READY".to_vec()),
                    (false, b"hi".to_vec()),
                    (false, vec![7u8; 300]),
                    (false, b"first".to_vec()),
                    (false, Vec::new()),
                ],
                "chunk {chunk}"
            );
        }
    }

    #[test]
    fn refuses_huge_frames_and_messages_and_bad_flags() {
        let mut huge = vec![0x02];
        huge.extend_from_slice(&(1u64 << 40).to_be_bytes());
        let e = frames(&huge, 100).expect_err("huge frame");
        assert!(e.contains("would exceed the"), "{e}");
        // Many "more" frames adding up past the limit (headers only: never allocated).
        let mut r = FrameReader::default();
        let big = MAX_WIRE_MESSAGE / 4 + 1;
        let mut refused = false;
        for _ in 0..4 {
            r.in_message = true;
            if r.frame(
                Header {
                    more: true,
                    command: false,
                    size: big,
                    len: 9,
                },
                Bytes::new,
                &mut Vec::new(),
            )
            .is_err()
            {
                refused = true;
            }
        }
        assert!(refused);
        let e = frames(&[0x80], 1).expect_err("bad flags");
        assert!(e.contains("invalid ZMTP frame flags"), "{e}");
    }

    #[test]
    fn reads_ready_properties() {
        let mut body = vec![5];
        body.extend_from_slice(b"READY");
        for (k, v) in [("Socket-Type", "DEALER"), ("Identity", "w1")] {
            body.push(k.len() as u8);
            body.extend_from_slice(k.as_bytes());
            body.extend_from_slice(&(v.len() as u32).to_be_bytes());
            body.extend_from_slice(v.as_bytes());
        }
        let (name, props) = command_parts(&body).expect("command");
        assert_eq!(name, b"READY");
        assert_eq!(
            ready_properties(props).expect("props"),
            (b"DEALER".to_vec(), b"w1".to_vec())
        );
        assert!(ready_properties(&props[..props.len() - 1]).is_err());
        assert!(check_greeting(&greeting()).is_ok());
        assert!(check_greeting(&[0u8; 64]).is_err());
    }
}
