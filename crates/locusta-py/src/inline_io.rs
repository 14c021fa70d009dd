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
//! The jobs are not tokio tasks: a small executor of its own ([`Jobs`]) keeps them in slots and
//! polls those whose waker fired, inside the runtime (whose reactor and timers they use). A
//! tokio task per request cost an allocation, the runtime's task list and a waker wrapper to
//! know when a turn is over; here the queue of woken slots says it directly. A turn must leave
//! no job woken and unpolled (nothing would wake the hub for it), so it repeats until a pass
//! woke nothing.
//!
//! The HTTP client's background tasks (HTTP/2 connections) join the same table through
//! [`InlineRuntime::spawner`]: a `tokio::spawn`ed task would only run when something else
//! happened to turn the runtime.
//!
//! Each job carries its `HttpIo` token, so [`InlineRuntime::cancel`] can drop a job whose
//! greenlet stopped waiting (killed, or a `gevent.Timeout`): its socket closes at once instead
//! of when the request, receive or stream read would have ended. Cancelling is rare, so it
//! looks the token up by scanning the slots: a job costs nothing more than its token.

use std::fs;
use std::future::Future;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Wake, Waker};

use tokio::io::unix::AsyncFd;
use tokio::io::Interest;
use tokio::runtime::Runtime;

/// Upper bound of passes in one turn; work left after it waits for the next turn (the periodic
/// timer guarantees one).
const MAX_PASSES: usize = 64;

/// A job: one request's future, boxed once.
type Job = Pin<Box<dyn Future<Output = ()> + Send>>;

/// The token of jobs that cannot be cancelled (the HTTP client's background tasks).
const NO_TOKEN: u64 = 0;

/// A current-thread runtime with the descriptor that tells when it has I/O to handle, and the
/// jobs it runs.
pub struct InlineRuntime {
    runtime: Runtime,
    epoll_fd: RawFd,
    jobs: Jobs,
    /// Background tasks handed to the [`InlineRuntime::spawner`], waiting to join `jobs`.
    spawned: Arc<Mutex<Vec<Job>>>,
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
            jobs: Jobs::default(),
            spawned: Arc::default(),
        })
    }

    /// What the HTTP client runs its background tasks with: they become jobs of this runtime,
    /// polled from the turn they were spawned in on.
    pub fn spawner(&self) -> locusta_http::Spawner {
        let spawned = Arc::clone(&self.spawned);
        locusta_http::Spawner::new(move |task| {
            spawned.lock().unwrap_or_else(|p| p.into_inner()).push(task);
        })
    }

    /// The descriptor the hub watches for readability.
    pub fn fileno(&self) -> RawFd {
        self.epoll_fd
    }

    pub fn handle(&self) -> &tokio::runtime::Handle {
        self.runtime.handle()
    }

    /// Adds `new_jobs`, runs every job that can make progress and handles ready sockets and
    /// expired timers, without blocking. Must not be called from inside the runtime.
    /// Each new job comes with its token ([`InlineRuntime::cancel`]); 0 for none.
    pub fn turn<F>(&mut self, new_jobs: impl IntoIterator<Item = (u64, F)>)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let jobs = &mut self.jobs;
        let spawned = &self.spawned;
        for (token, job) in new_jobs {
            // unconstrained: the jobs polled in one pass share the pass's task, whose
            // cooperative budget would otherwise run out after a few dozen socket operations
            jobs.add(token, Box::pin(tokio::task::unconstrained(job)));
        }
        self.runtime.block_on(async {
            for _ in 0..MAX_PASSES {
                jobs.poll_woken();
                // tasks the jobs just spawned are queued for the next pass
                for task in std::mem::take(&mut *spawned.lock().unwrap_or_else(|p| p.into_inner()))
                {
                    jobs.add(NO_TOKEN, Box::pin(tokio::task::unconstrained(task)));
                }
                // The scheduler polls the driver with a zero timeout before it resumes this
                // future: ready sockets and expired timers wake their jobs.
                tokio::task::yield_now().await;
                if !jobs.any_woken() {
                    break;
                }
            }
        });
    }

    /// Drops the unfinished job of `token` (its sockets close, its timers stop); false when no
    /// such job is running (it finished, or never started). Must not be called from inside the
    /// runtime.
    pub fn cancel(&mut self, token: u64) -> bool {
        if token == NO_TOKEN {
            return false;
        }
        let Some(job) = self.jobs.remove(token) else {
            return false;
        };
        // dropped inside the runtime's context: its sockets deregister from the reactor
        let _enter = self.runtime.enter();
        drop(job);
        true
    }

    /// Jobs not finished yet.
    #[cfg(test)]
    fn live_jobs(&self) -> usize {
        self.jobs.live()
    }

    pub fn shutdown(mut self) {
        // the jobs' sockets deregister from the runtime's reactor as they drop
        {
            let _enter = self.runtime.enter();
            self.jobs = Jobs::default();
            self.spawned
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clear();
        }
        self.runtime
            .shutdown_timeout(std::time::Duration::from_millis(500));
    }
}

/// The executor's job table: a slot per live job, and the queue of slots whose waker fired.
#[derive(Default)]
struct Jobs {
    slots: Vec<Option<Job>>,
    /// The token of each slot's job ([`InlineRuntime::cancel`]).
    tokens: Vec<u64>,
    /// One waker per slot, made once and reused by every job that takes the slot. A waker kept
    /// by an earlier job of the slot may wake a later one: a spurious poll, which futures allow.
    wakers: Vec<Waker>,
    free: Vec<usize>,
    woken: Arc<WokenQueue>,
    /// Scratch list the woken slots are swapped into while they are polled.
    polling: Vec<usize>,
}

/// Slots whose waker fired since they were last polled.
#[derive(Default)]
struct WokenQueue {
    slots: Mutex<Vec<usize>>,
}

impl WokenQueue {
    fn push(&self, slot: usize) {
        self.slots
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(slot);
    }
}

/// The waker of one slot: queues the slot.
struct SlotWaker {
    slot: usize,
    queue: Arc<WokenQueue>,
}

impl Wake for SlotWaker {
    fn wake(self: Arc<Self>) {
        self.queue.push(self.slot);
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.queue.push(self.slot);
    }
}

impl Jobs {
    /// Stores `job` in a free slot and queues it for its first poll.
    fn add(&mut self, token: u64, job: Job) {
        let slot = match self.free.pop() {
            Some(slot) => {
                self.slots[slot] = Some(job);
                self.tokens[slot] = token;
                slot
            }
            None => {
                let slot = self.slots.len();
                self.slots.push(Some(job));
                self.tokens.push(token);
                self.wakers.push(Waker::from(Arc::new(SlotWaker {
                    slot,
                    queue: Arc::clone(&self.woken),
                })));
                slot
            }
        };
        self.woken.push(slot);
    }

    /// Polls every job whose waker fired; frees the slots of the jobs that finished.
    fn poll_woken(&mut self) {
        let mut polling = std::mem::take(&mut self.polling);
        std::mem::swap(
            &mut polling,
            &mut *self.woken.slots.lock().unwrap_or_else(|p| p.into_inner()),
        );
        for &slot in &polling {
            let (Some(entry), Some(waker)) = (self.slots.get_mut(slot), self.wakers.get(slot))
            else {
                continue;
            };
            let Some(job) = entry.as_mut() else {
                continue; // woken twice, or after it finished
            };
            if job
                .as_mut()
                .poll(&mut Context::from_waker(waker))
                .is_ready()
            {
                *entry = None;
                self.free.push(slot);
            }
        }
        polling.clear();
        self.polling = polling;
    }

    /// Takes the unfinished job of `token` out of its slot, which becomes free (a wake-up still
    /// queued for it polls the slot's next job spuriously, which futures allow).
    fn remove(&mut self, token: u64) -> Option<Job> {
        let slot = self
            .tokens
            .iter()
            .zip(&self.slots)
            .position(|(&t, job)| t == token && job.is_some())?;
        let job = self.slots[slot].take();
        self.free.push(slot);
        job
    }

    fn any_woken(&self) -> bool {
        !self
            .woken
            .slots
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .is_empty()
    }

    #[cfg(test)]
    fn live(&self) -> usize {
        self.slots.iter().filter(|s| s.is_some()).count()
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
    use std::sync::atomic::{AtomicU64, Ordering};

    #[test]
    fn finds_the_runtime_epoll_and_turns_without_blocking() {
        let mut rt = InlineRuntime::new().expect("inline runtime");
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
        let jobs: Vec<(u64, Job)> = vec![(1, Box::pin(receive)), (2, Box::pin(send))];
        rt.turn(jobs);
        assert_eq!(done.load(Ordering::SeqCst), 7);
        assert_eq!(rt.live_jobs(), 0, "finished jobs free their slots");
        // the freed slots take new jobs
        let again = Arc::clone(&done);
        rt.turn(vec![(3, async move { again.store(8, Ordering::SeqCst) })]);
        assert_eq!(done.load(Ordering::SeqCst), 8);
        assert_eq!(rt.jobs.slots.len(), 2);
    }

    #[test]
    fn tasks_spawned_by_jobs_run_in_the_same_turn() {
        let mut rt = InlineRuntime::new().expect("inline runtime");
        let spawner = rt.spawner();
        let got = Arc::new(AtomicU64::new(0));
        let g = Arc::clone(&got);
        // A job that waits for what a background task it spawns sends, as a request waits for
        // its HTTP/2 connection task.
        let job = async move {
            let (tx, rx) = tokio::sync::oneshot::channel::<u64>();
            spawner.spawn(Box::pin(async move {
                tokio::task::yield_now().await;
                let _ = tx.send(9);
            }));
            if let Ok(v) = rx.await {
                g.store(v, Ordering::SeqCst);
            }
        };
        rt.turn(vec![(1, job)]);
        assert_eq!(got.load(Ordering::SeqCst), 9);
        assert_eq!(rt.live_jobs(), 0);
    }

    #[test]
    fn epoll_becomes_readable_when_a_socket_is_ready() {
        let mut rt = InlineRuntime::new().expect("inline runtime");
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
        rt.turn(vec![(1, read_one)]);
        assert_eq!(rt.live_jobs(), 1, "the job waits for its byte");
        let (mut peer, _) = listener.accept().expect("accept");
        rt.turn(Vec::<(u64, std::future::Ready<()>)>::new());
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
        rt.turn(Vec::<(u64, std::future::Ready<()>)>::new());
        assert_eq!(got.load(Ordering::SeqCst), 42);
    }

    #[test]
    fn a_cancelled_job_is_dropped_and_its_socket_closes() {
        let mut rt = InlineRuntime::new().expect("inline runtime");
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr");
        let wait_forever = async move {
            use tokio::io::AsyncReadExt;
            if let Ok(mut s) = tokio::net::TcpStream::connect(addr).await {
                let mut b = [0u8; 1];
                let _ = s.read_exact(&mut b).await;
            }
        };
        rt.turn(vec![(7, wait_forever)]);
        let (mut peer, _) = listener.accept().expect("accept");
        rt.turn(Vec::<(u64, std::future::Ready<()>)>::new());
        assert_eq!(rt.live_jobs(), 1);
        assert!(!rt.cancel(8), "no job has token 8");
        assert!(!rt.cancel(NO_TOKEN));
        assert!(rt.cancel(7));
        assert_eq!(rt.live_jobs(), 0);
        assert!(!rt.cancel(7), "already gone");
        // the peer sees the connection close (EOF) without the runtime being turned again
        peer.set_read_timeout(Some(std::time::Duration::from_secs(5)))
            .expect("timeout");
        let mut b = [0u8; 1];
        let n = std::io::Read::read(&mut peer, &mut b).expect("EOF, not a timeout");
        assert_eq!(n, 0);
        // the freed slot takes the next job
        let got = Arc::new(AtomicU64::new(0));
        let g = Arc::clone(&got);
        rt.turn(vec![(9, async move { g.store(1, Ordering::SeqCst) })]);
        assert_eq!(got.load(Ordering::SeqCst), 1);
        assert_eq!(rt.jobs.slots.len(), 1);
    }
}
