//! Inline I/O: a single-threaded tokio runtime driven by gevent's hub, on the hub's own thread.
//!
//! With one core per load generator, a separate I/O thread costs a context switch each time a
//! batch of requests or responses crosses between it and the hub, plus the futex and eventfd
//! calls that carry the wake-ups. Inline I/O removes the crossing: the hub hands jobs to a
//! current-thread runtime and *turns* it (runs every task that can make progress and polls the
//! sockets without blocking). While the hub sleeps, its libev loop watches the runtime's epoll
//! descriptor, which becomes readable when any socket the runtime waits on is ready, and a
//! periodic timer turns the runtime for its timers (request timeouts).
//!
//! Response times stay exact although the hub may be busy with Python code when a response
//! arrives: the HTTP client takes the end time from the kernel's receive timestamp of the last
//! bytes (see `locusta_http`'s `SO_TIMESTAMPNS` support), not from when the hub got around to
//! reading them.
//!
//! A turn must leave no task queued (nothing would wake the hub for it), so every job's future is
//! [`Tracked`]: its wake-ups are counted, and a turn repeats until a pass woke nothing.

use std::fs;
use std::future::Future;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};

use tokio::io::unix::AsyncFd;
use tokio::io::Interest;
use tokio::runtime::Runtime;

/// Upper bound of passes in one turn; work left after it waits for the next turn (the periodic
/// timer guarantees one).
const MAX_PASSES: usize = 64;

/// A current-thread runtime with the descriptor that tells when it has I/O to handle.
pub struct InlineRuntime {
    runtime: Runtime,
    epoll_fd: RawFd,
    wakes: Arc<AtomicU64>,
}

impl InlineRuntime {
    /// Builds the runtime and finds its epoll descriptor; `Err` says why inline I/O is not
    /// available here (the caller falls back to an I/O thread).
    pub fn new() -> Result<Self, String> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| format!("cannot build the runtime: {e}"))?;
        let epoll_fd = find_epoll_fd(&runtime)?;
        Ok(InlineRuntime {
            runtime,
            epoll_fd,
            wakes: Arc::new(AtomicU64::new(0)),
        })
    }

    /// The descriptor the hub watches for readability.
    pub fn fileno(&self) -> RawFd {
        self.epoll_fd
    }

    pub fn handle(&self) -> &tokio::runtime::Handle {
        self.runtime.handle()
    }

    /// Spawns `jobs`, runs every task that can make progress and handles ready sockets and
    /// expired timers, without blocking. Must not be called from inside a task of this runtime.
    ///
    /// The jobs are spawned from inside the runtime, which queues them without the wake-up
    /// (an eventfd write) that spawning from outside costs.
    pub fn turn<F>(&self, jobs: Vec<F>)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let wakes = &self.wakes;
        self.runtime.block_on(async {
            for job in jobs {
                tokio::spawn(Tracked {
                    inner: job,
                    wakes: Arc::clone(wakes),
                    wakers: None,
                });
            }
            for _ in 0..MAX_PASSES {
                let before = wakes.load(Ordering::Acquire);
                // One pass of the scheduler: the queued tasks run, then the driver polls
                // sockets and timers with a zero timeout, which may wake more tasks.
                tokio::task::yield_now().await;
                if wakes.load(Ordering::Acquire) == before {
                    break;
                }
            }
        });
    }

    pub fn shutdown(self) {
        self.runtime
            .shutdown_timeout(std::time::Duration::from_millis(500));
    }
}

pin_project_lite::pin_project! {
    /// A job whose wake-ups bump a shared counter before waking its task. Generic, so the job's
    /// future moves into the task once (no extra box).
    struct Tracked<F> {
        #[pin]
        inner: F,
        wakes: Arc<AtomicU64>,
        // The task's waker at the last poll and the counting waker around it, reused while
        // the task's waker stays the same.
        wakers: Option<(Waker, Waker)>,
    }
}

struct CountingWaker {
    inner: Waker,
    wakes: Arc<AtomicU64>,
}

impl Wake for CountingWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.wakes.fetch_add(1, Ordering::Release);
        self.inner.wake_by_ref();
    }
}

impl<F: Future<Output = ()>> Future for Tracked<F> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.project();
        let stale = match &*this.wakers {
            Some((task, _)) => !task.will_wake(cx.waker()),
            None => true,
        };
        if stale {
            let counting = Waker::from(Arc::new(CountingWaker {
                inner: cx.waker().clone(),
                wakes: Arc::clone(this.wakes),
            }));
            *this.wakers = Some((cx.waker().clone(), counting));
        }
        let Some((_, counting)) = &*this.wakers else {
            return Poll::Pending;
        };
        let mut counted = Context::from_waker(counting);
        this.inner.poll(&mut counted)
    }
}

/// Finds the runtime's epoll descriptor: registers a fresh eventfd with the runtime's reactor,
/// then looks for the epoll instance (`/proc/self/fdinfo`) that lists that eventfd as a target.
fn find_epoll_fd(runtime: &Runtime) -> Result<RawFd, String> {
    // SAFETY: plain syscall; the result is checked and owned below.
    let raw = unsafe { libc::eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC) };
    if raw < 0 {
        return Err(format!(
            "cannot create an eventfd: {}",
            std::io::Error::last_os_error()
        ));
    }
    // SAFETY: `raw` is a fresh descriptor that nothing else owns.
    let probe = unsafe { OwnedFd::from_raw_fd(raw) };
    let probe_fd = probe.as_raw_fd();
    let _enter = runtime.enter();
    // SAFETY: the AsyncFd owns `probe`, so the descriptor stays open for as long as it is
    // registered and is deregistered before it closes.
    let registered = unsafe { AsyncFd::register_with_interest(probe, Interest::READABLE) }
        .map_err(|e| format!("cannot register with the runtime's reactor: {e}"))?;
    let found = epoll_instances()?
        .into_iter()
        .find(|&fd| epoll_targets(fd).contains(&probe_fd));
    drop(registered);
    found.ok_or_else(|| "the runtime's epoll descriptor was not found in /proc/self/fd".into())
}

/// The descriptors of this process that are epoll instances.
fn epoll_instances() -> Result<Vec<RawFd>, String> {
    let dir =
        fs::read_dir("/proc/self/fd").map_err(|e| format!("cannot list /proc/self/fd: {e}"))?;
    Ok(dir
        .filter_map(|entry| {
            let entry = entry.ok()?;
            let target = fs::read_link(entry.path()).ok()?;
            if target.as_os_str() != "anon_inode:[eventpoll]" {
                return None;
            }
            entry.file_name().to_str()?.parse().ok()
        })
        .collect())
}

/// The descriptors registered in the epoll instance `fd` (`tfd:` lines of its fdinfo).
fn epoll_targets(fd: RawFd) -> Vec<RawFd> {
    let Ok(info) = fs::read_to_string(format!("/proc/self/fdinfo/{fd}")) else {
        return Vec::new();
    };
    info.lines()
        .filter_map(|line| {
            let rest = line.strip_prefix("tfd:")?;
            rest.split_whitespace().next()?.parse().ok()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_runtime_epoll_and_turns_without_blocking() {
        let rt = InlineRuntime::new().expect("inline runtime");
        assert!(rt.fileno() >= 0);
        let done = Arc::new(AtomicU64::new(0));
        let d = Arc::clone(&done);
        // A task that needs several wake-ups (a oneshot fed by another task) finishes in one turn.
        let (tx, rx) = tokio::sync::oneshot::channel::<u64>();
        let receive = async move {
            if let Ok(v) = rx.await {
                d.store(v, Ordering::SeqCst);
            }
        };
        let send = async move {
            tokio::task::yield_now().await;
            let _ = tx.send(7);
        };
        let jobs: Vec<Pin<Box<dyn Future<Output = ()> + Send>>> =
            vec![Box::pin(receive), Box::pin(send)];
        rt.turn(jobs);
        assert_eq!(done.load(Ordering::SeqCst), 7);
    }

    #[test]
    fn epoll_becomes_readable_when_a_socket_is_ready() {
        let rt = InlineRuntime::new().expect("inline runtime");
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr");
        let got = Arc::new(AtomicU64::new(0));
        let g = Arc::clone(&got);
        let read_one = async move {
            use tokio::io::AsyncReadExt;
            if let Ok(mut s) = tokio::net::TcpStream::connect(addr).await {
                let mut b = [0u8; 1];
                if s.read_exact(&mut b).await.is_ok() {
                    g.store(u64::from(b[0]), Ordering::SeqCst);
                }
            }
        };
        rt.turn(vec![read_one]);
        let (mut peer, _) = listener.accept().expect("accept");
        rt.turn(Vec::<std::future::Ready<()>>::new());
        std::io::Write::write_all(&mut peer, &[42]).expect("write");
        // Wait (bounded) for the epoll descriptor to report readiness, as the hub's loop would.
        let mut pfd = libc::pollfd {
            fd: rt.fileno(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: polls one valid pollfd.
        let n = unsafe { libc::poll(&mut pfd, 1, 5_000) };
        assert_eq!(n, 1, "the epoll descriptor should become readable");
        rt.turn(Vec::<std::future::Ready<()>>::new());
        assert_eq!(got.load(Ordering::SeqCst), 42);
    }
}
