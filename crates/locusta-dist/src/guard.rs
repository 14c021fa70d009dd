//! A size guard in front of the master's ZeroMQ socket.
//!
//! The pure-Rust ZeroMQ crate reserves memory for a frame as soon as it reads the frame's
//! length header, so one forged header claiming a terabyte would abort the master. The master
//! therefore binds a plain TCP listener on the public address and relays every connection to
//! its ROUTER socket on a private loopback port, reading only the length fields of the ZMTP 3
//! framing as bytes pass (the 64-byte greeting, then `flags, size` before each frame). A
//! connection whose frame or message would exceed [`crate::protocol::MAX_MESSAGE_BYTES`] is
//! logged and closed; everything else is forwarded unchanged, in both directions.

use std::net::SocketAddr;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::protocol::MAX_MESSAGE_BYTES;

/// Largest frame or multi-frame message let through (the message limit plus room for the
/// ZMTP command frames of the handshake).
pub const MAX_WIRE_MESSAGE: u64 = MAX_MESSAGE_BYTES as u64 + 64 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Greeting(usize),
    Flags,
    Size {
        flags: u8,
        need: usize,
        got: usize,
        value: u64,
    },
    Body {
        left: u64,
    },
}

/// Follows the ZMTP 3 framing of one direction of a connection.
#[derive(Debug, Clone)]
pub struct FrameScanner {
    phase: Phase,
    message_bytes: u64,
}

impl Default for FrameScanner {
    fn default() -> Self {
        FrameScanner::new()
    }
}

impl FrameScanner {
    /// A scanner at the start of a connection.
    pub fn new() -> FrameScanner {
        FrameScanner {
            phase: Phase::Greeting(64),
            message_bytes: 0,
        }
    }

    /// Checks the next bytes of the stream; an error means the peer must be disconnected.
    pub fn feed(&mut self, mut data: &[u8]) -> Result<(), String> {
        while !data.is_empty() {
            match self.phase {
                Phase::Greeting(left) => {
                    let n = left.min(data.len());
                    data = &data[n..];
                    self.phase = if left == n {
                        Phase::Flags
                    } else {
                        Phase::Greeting(left - n)
                    };
                }
                Phase::Flags => {
                    let flags = data[0];
                    data = &data[1..];
                    if flags & !0x07 != 0 {
                        return Err(format!("invalid ZMTP frame flags {flags:#04x}"));
                    }
                    let need = if flags & 0x02 != 0 { 8 } else { 1 };
                    self.phase = Phase::Size {
                        flags,
                        need,
                        got: 0,
                        value: 0,
                    };
                }
                Phase::Size {
                    flags,
                    need,
                    mut got,
                    mut value,
                } => {
                    while got < need && !data.is_empty() {
                        value = (value << 8) | u64::from(data[0]);
                        data = &data[1..];
                        got += 1;
                    }
                    if got < need {
                        self.phase = Phase::Size {
                            flags,
                            need,
                            got,
                            value,
                        };
                        continue;
                    }
                    let command = flags & 0x04 != 0;
                    let more = flags & 0x01 != 0;
                    self.message_bytes = self.message_bytes.saturating_add(value);
                    if value > MAX_WIRE_MESSAGE || self.message_bytes > MAX_WIRE_MESSAGE {
                        return Err(format!(
                            "a frame of {value} bytes would exceed the {MAX_WIRE_MESSAGE} byte message limit"
                        ));
                    }
                    if command || !more {
                        self.message_bytes = 0;
                    }
                    self.phase = if value == 0 {
                        Phase::Flags
                    } else {
                        Phase::Body { left: value }
                    };
                }
                Phase::Body { left } => {
                    let n = (left.min(data.len() as u64)) as usize;
                    data = &data[n..];
                    let left = left - n as u64;
                    self.phase = if left == 0 {
                        Phase::Flags
                    } else {
                        Phase::Body { left }
                    };
                }
            }
        }
        Ok(())
    }
}

async fn relay(mut outside: TcpStream, inner: SocketAddr, peer: SocketAddr) {
    let mut inside = match TcpStream::connect(inner).await {
        Ok(s) => s,
        Err(e) => {
            log::error!("cannot relay a worker connection to the master socket: {e}");
            return;
        }
    };
    let _ = outside.set_nodelay(true);
    let _ = inside.set_nodelay(true);
    let (mut or, mut ow) = outside.split();
    let (mut ir, mut iw) = inside.split();
    let inbound = async {
        let mut scanner = FrameScanner::new();
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = match or.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            };
            if let Err(e) = scanner.feed(&buf[..n]) {
                log::warn!("dropping the connection from {peer}: {e}");
                return;
            }
            if iw.write_all(&buf[..n]).await.is_err() {
                return;
            }
        }
    };
    let outbound = async {
        let _ = tokio::io::copy(&mut ir, &mut ow).await;
    };
    // When either direction ends, both sockets close.
    tokio::select! {
        _ = inbound => {}
        _ = outbound => {}
    }
}

/// Accepts connections on `listener` and relays them to `inner` for as long as the task runs.
pub async fn serve(listener: TcpListener, inner: SocketAddr) {
    loop {
        match listener.accept().await {
            Ok((stream, peer)) => {
                tokio::spawn(relay(stream, inner, peer));
            }
            Err(e) => {
                log::warn!("accepting a worker connection failed: {e}");
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn greeting() -> Vec<u8> {
        let mut g = vec![0xff, 0, 0, 0, 0, 0, 0, 0, 0, 0x7f, 3, 0];
        g.extend_from_slice(b"NULL");
        g.resize(64, 0);
        g
    }

    #[test]
    fn passes_normal_frames_in_any_chunking() {
        let mut stream = greeting();
        stream.extend_from_slice(&[0x04, 3, b'a', b'b', b'c']); // command
        stream.extend_from_slice(&[0x00, 2, b'h', b'i']); // short frame
        stream.push(0x02);
        stream.extend_from_slice(&300u64.to_be_bytes());
        stream.extend(std::iter::repeat_n(7u8, 300)); // long frame
        for chunk in [1usize, 3, 7, 64, 1000] {
            let mut s = FrameScanner::new();
            for c in stream.chunks(chunk) {
                s.feed(c).expect("valid stream");
            }
        }
    }

    #[test]
    fn refuses_huge_frames_and_messages() {
        let mut s = FrameScanner::new();
        let mut stream = greeting();
        stream.push(0x02);
        stream.extend_from_slice(&(1u64 << 40).to_be_bytes());
        assert!(s.feed(&stream).is_err());

        // Many "more" frames adding up past the limit.
        let mut s = FrameScanner::new();
        s.feed(&greeting()).expect("greeting");
        let big = MAX_WIRE_MESSAGE / 4 + 1;
        let mut refused = false;
        for _ in 0..4 {
            let mut f = vec![0x03];
            f.extend_from_slice(&big.to_be_bytes());
            if s.feed(&f).is_err() {
                refused = true;
                break;
            }
            // skip the body without allocating it
            s.phase = Phase::Flags;
        }
        assert!(refused);
        // bad flags
        let mut s = FrameScanner::new();
        s.feed(&greeting()).expect("greeting");
        assert!(s.feed(&[0x80]).is_err());
    }
}
