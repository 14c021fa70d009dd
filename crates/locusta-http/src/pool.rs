//! Keep-alive connections waiting for their next request, and the limit on how many requests
//! may use a pool's connections at once.
//!
//! Every [`Session`](crate::Session) has a pool of its own (one simulated user's connections, as
//! in Locust). FastHttpUser's `client_pool` lets users share one instead: the same
//! [`ConnectionPool`] handed to several sessions, usually with a limit (`concurrency`) that makes
//! requests beyond it wait for a free connection.

use std::sync::{Arc, Mutex};

use locusta_util::lock;
use tokio::sync::{Semaphore, SemaphorePermit};

use crate::conn::{Conn, Origin};
use crate::lean::LeanConn;
use crate::options::Proxy;

/// A keep-alive connection of either driver.
pub(crate) enum PooledConn {
    /// Driven by hyper (see [`Conn`]).
    Hyper(Conn),
    /// Driven by the request itself (see [`LeanConn`]).
    Lean(LeanConn),
    /// A stream's handle to the session's HTTP/2 connection; never kept in a pool (the session
    /// holds the connection, see [`crate::http2`]).
    H2(crate::http2::H2Conn),
}

/// Idle connections to one origin.
struct IdleSlot {
    https: bool,
    host: String,
    port: u16,
    verified: bool,
    proxy: Option<Proxy>,
    conns: Vec<PooledConn>,
}

impl IdleSlot {
    fn matches(&self, o: &Origin<'_>) -> bool {
        self.port == o.port
            && self.https == o.https
            && self.verified == o.verified
            && self.host == o.host
            && self.proxy.as_ref() == o.proxy
    }
}

/// Idle connections by origin, plus an optional limit on concurrent requests. Cheap to clone:
/// clones share the same connections.
#[derive(Clone)]
pub struct ConnectionPool {
    inner: Arc<PoolInner>,
}

/// Every session has one (most without a limit), so the limit is boxed: memory per idle user
/// is what decides how many users a machine holds.
struct PoolInner {
    idle: Mutex<Vec<IdleSlot>>,
    limit: Option<Box<Limit>>,
}

/// At most `permits` requests use the pool at once (FastHttpUser's `concurrency`).
struct Limit {
    semaphore: Semaphore,
    permits: usize,
    /// Idle connections are kept per origin up to the limit (a shared pool), else up to the
    /// client's `max_idle_per_origin`.
    idle_up_to_limit: bool,
}

impl std::fmt::Debug for ConnectionPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectionPool")
            .field("idle", &self.idle_connections())
            .field("max_concurrent", &self.max_concurrent())
            .finish()
    }
}

impl ConnectionPool {
    /// A pool to share between sessions (see [`HttpClient::session_with`]). With
    /// `max_concurrent`, at most that many requests of all its sessions are in flight at once;
    /// the others wait for one to finish. It keeps up to that many idle connections per origin
    /// (the client's `max_idle_per_origin` without a limit).
    ///
    /// [`HttpClient::session_with`]: crate::HttpClient::session_with
    pub fn new(max_concurrent: Option<usize>) -> ConnectionPool {
        ConnectionPool::with_limit(max_concurrent, true)
    }

    fn with_limit(max_concurrent: Option<usize>, idle_up_to_limit: bool) -> ConnectionPool {
        let limit = max_concurrent.map(|n| {
            let permits = n.max(1);
            Box::new(Limit {
                semaphore: Semaphore::new(permits),
                permits,
                idle_up_to_limit,
            })
        });
        ConnectionPool {
            inner: Arc::new(PoolInner {
                idle: Mutex::new(Vec::new()),
                limit,
            }),
        }
    }

    /// The most requests in flight at once, if limited.
    pub fn max_concurrent(&self) -> Option<usize> {
        self.inner.limit.as_ref().map(|l| l.permits)
    }

    /// Number of idle keep-alive connections held (all origins).
    pub fn idle_connections(&self) -> usize {
        lock(&self.inner.idle).iter().map(|s| s.conns.len()).sum()
    }

    /// Closes every idle connection.
    pub fn close_idle(&self) {
        lock(&self.inner.idle).clear();
    }

    /// Waits for a turn when the pool limits concurrent requests; the permit frees it on drop.
    pub(crate) async fn turn(&self) -> Option<SemaphorePermit<'_>> {
        match &self.inner.limit {
            // the semaphore is never closed, so acquiring cannot fail
            Some(l) => l.semaphore.acquire().await.ok(),
            None => None,
        }
    }

    /// An idle connection to `key`, most recently used first.
    pub(crate) fn take(&self, key: &Origin<'_>) -> Option<PooledConn> {
        lock(&self.inner.idle)
            .iter_mut()
            .find(|s| s.matches(key))
            .and_then(|s| s.conns.pop())
    }

    /// Keeps `conn` for the next request to `key`, unless `default_max` (or the pool's own
    /// limit) idle connections to it are already kept.
    pub(crate) fn put(&self, key: &Origin<'_>, conn: PooledConn, default_max: usize) {
        let max = match &self.inner.limit {
            Some(l) if l.idle_up_to_limit => l.permits,
            _ => default_max,
        };
        let mut idle = lock(&self.inner.idle);
        match idle.iter_mut().find(|s| s.matches(key)) {
            Some(slot) => {
                if slot.conns.len() < max {
                    slot.conns.push(conn);
                }
            }
            None => {
                if max > 0 {
                    // most sessions talk to one origin: no room for four slots
                    idle.reserve_exact(1);
                    idle.push(IdleSlot {
                        https: key.https,
                        host: key.host.to_string(),
                        port: key.port,
                        verified: key.verified,
                        proxy: key.proxy.cloned(),
                        conns: vec![conn],
                    });
                }
            }
        }
    }

    /// A session's own pool with a concurrency limit (FastHttpUser's `concurrency` without a
    /// `client_pool`); idle connections follow the client's setting.
    pub(crate) fn new_private(max_concurrent: Option<usize>) -> ConnectionPool {
        ConnectionPool::with_limit(max_concurrent, false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_limited_pool_hands_out_at_most_its_turns() {
        let pool = ConnectionPool::new(Some(2));
        let a = pool.turn().await;
        let b = pool.turn().await;
        assert!(a.is_some() && b.is_some());
        let third = tokio::time::timeout(std::time::Duration::from_millis(20), pool.turn()).await;
        assert!(third.is_err(), "a third request must wait");
        drop(a);
        let third = tokio::time::timeout(std::time::Duration::from_millis(200), pool.turn()).await;
        assert!(matches!(third, Ok(Some(_))));
        assert_eq!(pool.max_concurrent(), Some(2));
    }

    #[tokio::test]
    async fn an_unlimited_pool_never_waits() {
        let pool = ConnectionPool::new_private(None);
        assert!(pool.turn().await.is_none());
        assert_eq!(pool.max_concurrent(), None);
        assert_eq!(ConnectionPool::new(Some(0)).max_concurrent(), Some(1));
    }
}
