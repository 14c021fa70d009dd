//! What a program with Rust user classes gives locusta: its [`Locustfile`] — the user classes, an
//! optional load shape, and code to run when a test starts and stops (Locust's `test_start` and
//! `test_stop` events).

use std::sync::Arc;

use crate::shape::LoadShape;
use crate::user::UserClass;

/// Where a test hook runs, as in Locust: one process alone, the master, or each worker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Node {
    /// A single process that runs the users itself.
    Local,
    /// The master of a distributed run (its users run on the workers).
    Master,
    /// A worker of a distributed run.
    Worker,
}

/// What a test hook is told.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestEvent {
    /// Where the hook runs.
    pub node: Node,
    /// The host users get (`--host`, the web form's, or the master's), if one is set.
    pub host: Option<String>,
    /// Locust's `runner.worker_index`: 0 in a single process, the index from the master's
    /// `ack` on a worker (0, 1, ... in the order the workers connected), None on the master.
    pub worker_index: Option<i64>,
}

type Hook = Arc<dyn Fn(&TestEvent) + Send + Sync>;

/// Code run when a test starts and when it stops, on every node, as Locust's `test_start` and
/// `test_stop` listeners (a web UI run may hold several tests).
#[derive(Clone, Default)]
pub struct TestHooks {
    start: Vec<Hook>,
    stop: Vec<Hook>,
}

impl TestHooks {
    /// Runs the `test_start` hooks.
    pub fn test_start(&self, event: &TestEvent) {
        self.start.iter().for_each(|h| h(event));
    }

    /// Runs the `test_stop` hooks.
    pub fn test_stop(&self, event: &TestEvent) {
        self.stop.iter().for_each(|h| h(event));
    }
}

/// A program's user classes, load shape and test hooks: what a locustfile defines.
///
/// ```no_run
/// use locusta::{task, Locustfile, Stages, TaskResult, User, UserClass};
/// use std::time::Duration;
///
/// async fn index(user: &mut User) -> TaskResult {
///     user.client.get("/").send().await;
///     Ok(())
/// }
///
/// fn main() {
///     let locustfile = Locustfile::new(vec![UserClass::new("Web").task(task!(index))])
///         .shape(Stages::new([(Duration::from_secs(60), 10, 5.0)]))
///         .on_test_start(|event| eprintln!("test starting on {:?}", event.node));
///     std::process::exit(locusta::run_locustfile(locustfile, std::env::args_os().collect()));
/// }
/// ```
#[derive(Default)]
pub struct Locustfile {
    /// The user classes.
    pub classes: Vec<UserClass>,
    /// A load shape, which replaces `-u`, `-r` and `-t`.
    pub shape: Option<Box<dyn LoadShape>>,
    /// A host to use when neither `--host` nor the classes give one (the demo's target).
    pub default_host: Option<String>,
    /// The test's name in the HTML report ("Script") and the web UI; by default `-f` when
    /// given, else the program's file name.
    pub script: Option<String>,
    /// Code run when a test starts and stops.
    pub hooks: TestHooks,
}

impl Locustfile {
    /// A locustfile with these user classes.
    pub fn new(classes: Vec<UserClass>) -> Locustfile {
        Locustfile {
            classes,
            ..Locustfile::default()
        }
    }

    /// Lets a load shape drive the users instead of `-u`, `-r` and `-t`.
    pub fn shape(mut self, shape: impl LoadShape + 'static) -> Locustfile {
        self.shape = Some(Box::new(shape));
        self
    }

    /// The host when neither `--host` nor a class gives one.
    pub fn default_host(mut self, host: impl Into<String>) -> Locustfile {
        self.default_host = Some(host.into());
        self
    }

    /// Runs `hook` when a test starts (Locust's `test_start`): in a single process, on the
    /// master and on every worker.
    pub fn on_test_start(
        mut self,
        hook: impl Fn(&TestEvent) + Send + Sync + 'static,
    ) -> Locustfile {
        self.hooks.start.push(Arc::new(hook));
        self
    }

    /// Runs `hook` when a test stops (Locust's `test_stop`), where `test_start` ran.
    pub fn on_test_stop(mut self, hook: impl Fn(&TestEvent) + Send + Sync + 'static) -> Locustfile {
        self.hooks.stop.push(Arc::new(hook));
        self
    }
}
