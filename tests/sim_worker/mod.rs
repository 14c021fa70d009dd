//! Simulated Locust workers for the master's scale tests: plain TCP connections that do a
//! DEALER's ZMTP 3 handshake, then send and read one frame per message, as Locust's pyzmq
//! workers do. Thousands fit in one test thread (no runtime, no ZeroMQ library), so the test
//! measures the master, not the simulator.

#![allow(dead_code)] // each test file uses part of it

use std::io::Write;
use std::net::TcpStream;
use std::os::fd::AsRawFd;

use locusta_dist::protocol::{map, Message};
use locusta_dist::rmpv::Value;
use locusta_dist::zmtp::encode_frame;

/// A port nothing listens on yet.
pub fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

/// User + system CPU seconds of a process (from /proc).
pub fn process_cpu(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("stat");
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .expect("comm")
        .1
        .split_whitespace()
        .collect();
    let ticks: f64 =
        fields[11].parse::<f64>().expect("utime") + fields[12].parse::<f64>().expect("stime");
    // SAFETY: sysconf has no preconditions.
    ticks / unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64
}

/// CPU seconds of the calling thread.
pub fn thread_cpu() -> f64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: ts is a valid timespec for the call to fill.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    ts.tv_sec as f64 + ts.tv_nsec as f64 / 1e9
}

/// A worker's heartbeat as Locust's worker sends it.
pub fn heartbeat() -> Value {
    map(vec![
        ("state", "running".into()),
        ("current_cpu_usage", 10.0.into()),
        ("current_memory_usage", 50_000_000u64.into()),
    ])
}

/// A simulated worker: a TCP connection that has done a DEALER's ZMTP handshake.
pub struct Worker {
    stream: TcpStream,
    pub id: String,
    /// Bytes received and not yet parsed into frames.
    inbox: Vec<u8>,
    /// Whether the master's 64-byte greeting was skipped already.
    greeted: bool,
}

impl Worker {
    /// Connects and sends the greeting and READY (with `id` as the identity).
    pub fn connect(port: u16, id: String) -> std::io::Result<Worker> {
        let mut stream = TcpStream::connect(("127.0.0.1", port))?;
        stream.set_nodelay(true)?;
        let mut hello = vec![0xff, 0, 0, 0, 0, 0, 0, 0, 0, 0x7f, 3, 0];
        hello.extend_from_slice(b"NULL");
        hello.resize(64, 0);
        let mut ready = vec![5];
        ready.extend_from_slice(b"READY");
        for (k, v) in [("Socket-Type", "DEALER"), ("Identity", id.as_str())] {
            ready.push(k.len() as u8);
            ready.extend_from_slice(k.as_bytes());
            ready.extend_from_slice(&(v.len() as u32).to_be_bytes());
            ready.extend_from_slice(v.as_bytes());
        }
        encode_frame(&mut hello, &ready, false, true);
        stream.write_all(&hello)?;
        Ok(Worker {
            stream,
            id,
            inbox: Vec::new(),
            greeted: false,
        })
    }

    /// Encodes and sends one message (`out` is a reusable buffer).
    pub fn send(&mut self, kind: &str, data: Value, out: &mut Vec<u8>) {
        let body = Message::new(kind, data, &self.id).encode();
        out.clear();
        encode_frame(out, &body, false, false);
        self.stream.write_all(out).expect("send to the master");
    }

    /// The messages the master sent that have arrived, without waiting (ZMTP commands such as
    /// READY are skipped).
    pub fn receive(&mut self) -> Vec<Message> {
        let mut chunk = [0u8; 16 * 1024];
        loop {
            // SAFETY: chunk is a valid buffer of the given length; MSG_DONTWAIT keeps the
            // (blocking) socket's writes blocking while this read returns at once.
            let n = unsafe {
                libc::recv(
                    self.stream.as_raw_fd(),
                    chunk.as_mut_ptr().cast(),
                    chunk.len(),
                    libc::MSG_DONTWAIT,
                )
            };
            if n <= 0 {
                break;
            }
            self.inbox.extend_from_slice(&chunk[..n as usize]);
        }
        let mut messages = Vec::new();
        let mut at = 0;
        if !self.greeted {
            if self.inbox.len() < 64 {
                return messages;
            }
            self.greeted = true;
            at = 64;
        }
        while let Some((flags, body)) = next_frame(&self.inbox[at..]) {
            let len = body.len();
            let head = if flags & 0x02 != 0 { 9 } else { 2 };
            if flags & 0x04 == 0 {
                messages.push(Message::decode(body).expect("a message from the master"));
            }
            at += head + len;
        }
        self.inbox.drain(..at);
        messages
    }

    /// Closes the connection (a worker that vanished with its machine).
    pub fn close(self) {
        let _ = self.stream.shutdown(std::net::Shutdown::Both);
    }
}

/// The first complete frame in `data`: its flags and body.
fn next_frame(data: &[u8]) -> Option<(u8, &[u8])> {
    let flags = *data.first()?;
    let (size, head) = if flags & 0x02 != 0 {
        let mut be = [0u8; 8];
        be.copy_from_slice(data.get(1..9)?);
        (u64::from_be_bytes(be) as usize, 9)
    } else {
        (usize::from(*data.get(1)?), 2)
    };
    Some((flags, data.get(head..head + size)?))
}
