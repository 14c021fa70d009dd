//! Where the client runs its background tasks: the HTTP/2 connection futures (which read the
//! frames of every stream of a connection) and hyper's HTTP/1.1 connection tasks
//! (`LOCUSTA_HTTP_DRIVER=hyper`).
//!
//! By default they are `tokio::spawn`ed on the caller's runtime. A runtime that only polls the
//! futures it was handed (the Python front end's inline runtime, turned by gevent's hub) would
//! leave a spawned task unpolled until something else turned the runtime: it gives the client
//! its own [`Spawner`] instead, which adds the task to the futures it polls.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

/// A background task of the client.
pub type BackgroundTask = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

/// Runs the client's background tasks ([`ClientConfig::spawner`](crate::ClientConfig::spawner)).
#[derive(Clone, Default)]
pub struct Spawner {
    /// `None`: `tokio::spawn`.
    custom: Option<Arc<dyn Fn(BackgroundTask) + Send + Sync>>,
}

impl Spawner {
    /// Hands every background task to `spawn`, which must poll it to completion on the runtime
    /// the client's sessions run on (its reactor and timers).
    pub fn new(spawn: impl Fn(BackgroundTask) + Send + Sync + 'static) -> Self {
        Spawner {
            custom: Some(Arc::new(spawn)),
        }
    }

    /// Starts `task`.
    pub fn spawn(&self, task: BackgroundTask) {
        match &self.custom {
            Some(spawn) => spawn(task),
            None => {
                tokio::spawn(task);
            }
        }
    }
}

impl fmt::Debug for Spawner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.custom.is_some() {
            "Spawner(custom)"
        } else {
            "Spawner(tokio::spawn)"
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Mutex;

    #[test]
    fn a_custom_spawner_receives_the_tasks() {
        let handed = Arc::new(Mutex::new(Vec::<BackgroundTask>::new()));
        let h = Arc::clone(&handed);
        let spawner = Spawner::new(move |task| h.lock().unwrap().push(task));
        let ran = Arc::new(AtomicUsize::new(0));
        let r = Arc::clone(&ran);
        spawner.spawn(Box::pin(async move {
            r.fetch_add(1, Ordering::SeqCst);
        }));
        let tasks = std::mem::take(&mut *handed.lock().unwrap());
        assert_eq!(tasks.len(), 1);
        assert_eq!(ran.load(Ordering::SeqCst), 0, "not run until polled");
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        for t in tasks {
            rt.block_on(t);
        }
        assert_eq!(ran.load(Ordering::SeqCst), 1);
        assert_eq!(format!("{spawner:?}"), "Spawner(custom)");
        assert_eq!(format!("{:?}", Spawner::default()), "Spawner(tokio::spawn)");
    }
}
