//! Kernel receive timestamps: when the last bytes of a response reached the machine, not when
//! the load generator got around to reading them.
//!
//! A busy generator reads responses late, and a response time that ends at the read grows with
//! the generator's own load (Locust's best-known measurement error). With `SO_TIMESTAMPNS` the
//! kernel stamps every received packet, and `recvmsg` hands back the stamp of the last packet a
//! read consumed: the end of a response whose last read carried a stamp is exact however late
//! the read ran. Linux only; elsewhere reads carry no stamp and the caller keeps its own clock.
//! The kernel turns stamping on a moment after the first socket asks for it, so the first
//! packets of a run may come without a stamp: those responses are timed by the caller's clock.

use std::io;
use std::time::SystemTime;

use bytes::BytesMut;
use tokio::net::TcpStream;

/// Asks the kernel to stamp the packets `tcp` receives. Failure only loses the stamps.
pub(crate) fn enable(tcp: &TcpStream) {
    imp::enable(tcp);
}

/// Reads once from `tcp` into the free space of `buf` (which must have some), waiting until the
/// socket is readable. Returns the bytes read (0 at the end of the stream) and the kernel's
/// receive time of the last packet read, when there is one.
pub(crate) async fn read(
    tcp: &TcpStream,
    buf: &mut BytesMut,
) -> io::Result<(usize, Option<SystemTime>)> {
    imp::read(tcp, buf).await
}

#[cfg(target_os = "linux")]
mod imp {
    use std::io;
    use std::mem::{size_of, MaybeUninit};
    use std::os::fd::AsRawFd;
    use std::time::{Duration, SystemTime, UNIX_EPOCH};

    use bytes::BytesMut;
    use tokio::io::Interest;
    use tokio::net::TcpStream;

    pub(super) fn enable(tcp: &TcpStream) {
        let on: libc::c_int = 1;
        // SAFETY: sets an int socket option on a socket we own; the result only matters for
        // whether stamps come back, which `read` handles either way.
        unsafe {
            libc::setsockopt(
                tcp.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_TIMESTAMPNS,
                (&on as *const libc::c_int).cast(),
                size_of::<libc::c_int>() as libc::socklen_t,
            );
        }
    }

    pub(super) async fn read(
        tcp: &TcpStream,
        buf: &mut BytesMut,
    ) -> io::Result<(usize, Option<SystemTime>)> {
        loop {
            std::future::poll_fn(|cx| tcp.poll_read_ready(cx)).await?;
            let room = buf.capacity() - buf.len();
            match tcp.try_io(Interest::READABLE, || recv(tcp.as_raw_fd(), buf)) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                Ok((n, stamp)) if n > 0 && n < room => {
                    // A short read emptied the receive queue: forget the readiness now rather
                    // than learn it from a failing read (one system call per keep-alive request,
                    // e.g. the pool's check that an idle connection is still open). Bytes that
                    // arrive later raise a new readiness event.
                    let _ = tcp.try_io(Interest::READABLE, || {
                        Err::<(), _>(io::Error::from(io::ErrorKind::WouldBlock))
                    });
                    return Ok((n, stamp));
                }
                other => return other,
            }
        }
    }

    /// One `recvmsg` into the spare capacity of `buf`, with room for the timestamp message.
    fn recv(fd: i32, buf: &mut BytesMut) -> io::Result<(usize, Option<SystemTime>)> {
        let spare: &mut [MaybeUninit<u8>] = buf.spare_capacity_mut();
        let mut iov = libc::iovec {
            iov_base: spare.as_mut_ptr().cast(),
            iov_len: spare.len(),
        };
        // u64s keep the control buffer aligned for cmsghdr; 64 bytes hold one timespec message.
        let mut control = [0u64; 8];
        // SAFETY: an all-zero msghdr is valid (no name, no iovecs, no control) before we fill it.
        let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control.as_mut_ptr().cast();
        msg.msg_controllen = size_of::<[u64; 8]>() as _;
        // SAFETY: `msg` points at `iov` (the spare capacity of `buf`, writable for its length)
        // and at `control`, both alive for the call.
        let n = unsafe { libc::recvmsg(fd, &mut msg, libc::MSG_CMSG_CLOEXEC) };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        let n = n as usize;
        // SAFETY: the kernel initialised the first `n` bytes of the spare capacity.
        unsafe { buf.set_len(buf.len() + n) };
        Ok((n, stamp(&msg)))
    }

    /// The `SCM_TIMESTAMPNS` message of `msg`, if the kernel sent one.
    fn stamp(msg: &libc::msghdr) -> Option<SystemTime> {
        let mut found = None;
        // SAFETY: walks the control messages of a msghdr that recvmsg filled, with the libc
        // macros that bound every step by `msg_controllen`; the timespec is read unaligned.
        unsafe {
            let mut c = libc::CMSG_FIRSTHDR(msg);
            while !c.is_null() {
                if (*c).cmsg_level == libc::SOL_SOCKET && (*c).cmsg_type == libc::SCM_TIMESTAMPNS {
                    let ts: libc::timespec =
                        std::ptr::read_unaligned(libc::CMSG_DATA(c).cast::<libc::timespec>());
                    if ts.tv_sec >= 0 && (0..1_000_000_000).contains(&ts.tv_nsec) {
                        found =
                            Some(UNIX_EPOCH + Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32));
                    }
                }
                c = libc::CMSG_NXTHDR(msg, c);
            }
        }
        found
    }
}

#[cfg(not(target_os = "linux"))]
mod imp {
    use std::io;
    use std::time::SystemTime;

    use bytes::BytesMut;
    use tokio::io::AsyncReadExt;
    use tokio::net::TcpStream;

    pub(super) fn enable(_tcp: &TcpStream) {}

    pub(super) async fn read(
        tcp: &TcpStream,
        buf: &mut BytesMut,
    ) -> io::Result<(usize, Option<SystemTime>)> {
        loop {
            tcp.readable().await?;
            match tcp.try_read_buf(buf) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                other => return other.map(|n| (n, None)),
            }
        }
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;
    use std::time::Duration;
    use tokio::io::AsyncWriteExt;

    /// A connected loopback pair: the client asks for receive timestamps.
    async fn stamped_pair() -> (TcpStream, TcpStream) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let client = TcpStream::connect(addr).await.expect("connect");
        enable(&client);
        let (server, _) = listener.accept().await.expect("accept");
        (client, server)
    }

    #[tokio::test]
    async fn a_late_read_reports_when_the_bytes_arrived() {
        let (client, mut server) = stamped_pair().await;
        // The kernel turns stamping on shortly after the first socket asks (deferred work).
        tokio::time::sleep(Duration::from_millis(100)).await;
        let before = SystemTime::now();
        server.write_all(b"hello").await.expect("write");
        // The generator is "busy": it reads 300 ms after the bytes came in.
        tokio::time::sleep(Duration::from_millis(300)).await;
        let read_at = SystemTime::now();
        let mut buf = BytesMut::with_capacity(64);
        let (n, stamp) = read(&client, &mut buf).await.expect("read");
        assert_eq!(&buf[..n], b"hello");
        let stamp = stamp.expect("a kernel receive timestamp");
        assert!(
            stamp >= before - Duration::from_millis(5),
            "{stamp:?} < {before:?}"
        );
        let late = read_at
            .duration_since(stamp)
            .expect("stamp before the read");
        assert!(
            late >= Duration::from_millis(250),
            "stamp only {late:?} before the read"
        );
    }

    #[tokio::test]
    async fn end_of_stream_reads_zero() {
        let (client, server) = stamped_pair().await;
        drop(server);
        let mut buf = BytesMut::with_capacity(64);
        let (n, _) = read(&client, &mut buf).await.expect("read");
        assert_eq!(n, 0);
    }
}
