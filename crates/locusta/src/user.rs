//! The Rust-native way to describe simulated users: Locust's `User` class, in Rust.
//!
//! A [`UserClass`] has a name, a weight (or a fixed count), an optional host, a wait time, tasks
//! with integer weights and tags, and `on_start` / `on_stop` hooks. Each task is an `async fn`
//! taking `&mut User`, the per-user handle that owns the HTTP client (its connections and cookie
//! jar) and any state the user keeps between tasks.
//!
//! ```no_run
//! use locusta::{task, TaskResult, User, UserClass};
//! use locusta::wait_time::between;
//!
//! async fn index(user: &mut User) -> TaskResult {
//!     user.client.get("/").send().await;
//!     Ok(())
//! }
//!
//! async fn about(user: &mut User) -> TaskResult {
//!     user.client.get("/about/").name("about page").send().await;
//!     Ok(())
//! }
//!
//! let website = UserClass::new("WebsiteUser")
//!     .wait_time(between(1.0, 5.0))
//!     .task(task!(index))
//!     .task(task!(about).weight(3).tag("browse"));
//! std::process::exit(locusta::run_cli(vec![website]));
//! ```

use std::any::Any;
use std::collections::BTreeSet;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use locusta_http::{ConnectionPool, SessionOptions};

use crate::client::Client;
use crate::wait_time::WaitTime;

/// What a task returns. `Ok(())` lets the user go on to its wait and next task.
pub type TaskResult = Result<(), TaskError>;

/// The boxed future of one task run.
pub type TaskFuture<'a> = Pin<Box<dyn Future<Output = TaskResult> + Send + 'a>>;

/// A task body: takes the user for the length of the run.
pub type TaskFn = Arc<dyn for<'a> Fn(&'a mut User) -> TaskFuture<'a> + Send + Sync>;

/// Ways a task can end other than normally (Locust's control-flow exceptions, plus errors).
#[derive(Debug, Clone, PartialEq)]
pub enum TaskError {
    /// Stop this user: it runs `on_stop` and is not replaced (`StopUser`).
    StopUser,
    /// Stop the whole test (`StopTest`).
    StopTest,
    /// Skip the rest of this task and go on to the wait (`RescheduleTask`).
    Reschedule,
    /// Skip the wait and run the next task at once (`RescheduleTaskImmediately`).
    RescheduleImmediately,
    /// An error in user code: logged, counted in the exceptions table, and the user goes on.
    Failed(String),
}

impl fmt::Display for TaskError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TaskError::StopUser => f.write_str("StopUser"),
            TaskError::StopTest => f.write_str("StopTest"),
            TaskError::Reschedule => f.write_str("RescheduleTask"),
            TaskError::RescheduleImmediately => f.write_str("RescheduleTaskImmediately"),
            TaskError::Failed(msg) => f.write_str(msg),
        }
    }
}

impl std::error::Error for TaskError {}

impl TaskError {
    /// An error in user code with this message.
    pub fn failed(msg: impl fmt::Display) -> Self {
        TaskError::Failed(msg.to_string())
    }
}

/// One task of a user class: a body, an integer weight and tags.
#[derive(Clone)]
pub struct Task {
    pub(crate) name: String,
    pub(crate) weight: u32,
    pub(crate) tags: BTreeSet<String>,
    pub(crate) func: TaskFn,
}

impl fmt::Debug for Task {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Task")
            .field("name", &self.name)
            .field("weight", &self.weight)
            .field("tags", &self.tags)
            .finish()
    }
}

impl Task {
    /// A task with weight 1 and no tags. Most code uses the [`task!`](crate::task) macro instead.
    pub fn new<F>(name: impl Into<String>, func: F) -> Self
    where
        F: for<'a> Fn(&'a mut User) -> TaskFuture<'a> + Send + Sync + 'static,
    {
        Task {
            name: name.into(),
            weight: 1,
            tags: BTreeSet::new(),
            func: Arc::new(func),
        }
    }

    /// Relative frequency of this task among its class's tasks (Locust's `@task(3)`).
    pub fn weight(mut self, weight: u32) -> Self {
        self.weight = weight;
        self
    }

    /// Adds a tag (Locust's `@tag("name")`), used by `--tags` and `--exclude-tags`.
    pub fn tag(mut self, tag: impl Into<String>) -> Self {
        self.tags.insert(tag.into());
        self
    }

    /// The task's name (the function name with `task!`).
    pub fn name(&self) -> &str {
        &self.name
    }
}

/// Wraps an `async fn(&mut User) -> TaskResult` into a [`Task`] named after the function.
#[macro_export]
macro_rules! task {
    ($f:path) => {
        $crate::Task::new(stringify!($f), |user| Box::pin($f(user)))
    };
}

/// A kind of simulated user (Locust's `User` subclass).
#[derive(Clone, Debug)]
pub struct UserClass {
    pub(crate) name: String,
    pub(crate) weight: f64,
    pub(crate) fixed_count: u64,
    pub(crate) host: Option<String>,
    pub(crate) wait_time: WaitTime,
    pub(crate) tasks: Vec<Task>,
    pub(crate) on_start: Option<Task>,
    pub(crate) on_stop: Option<Task>,
    /// Settings of each user's HTTP client that differ from the engine's defaults.
    pub(crate) client_options: SessionOptions,
    /// A connection pool all users of the class share, instead of one each.
    pub(crate) client_pool: Option<ConnectionPool>,
}

impl UserClass {
    /// A class with weight 1, no fixed count, no host, no wait, no tasks.
    pub fn new(name: impl Into<String>) -> Self {
        UserClass {
            name: name.into(),
            weight: 1.0,
            fixed_count: 0,
            host: None,
            wait_time: WaitTime::default(),
            tasks: Vec::new(),
            on_start: None,
            on_stop: None,
            client_options: SessionOptions::default(),
            client_pool: None,
        }
    }

    /// Relative share of users of this class (Locust's `weight`, may be fractional).
    pub fn weight(mut self, weight: f64) -> Self {
        self.weight = weight;
        self
    }

    /// Run exactly this many users of the class, started before weighted classes (`fixed_count`).
    pub fn fixed_count(mut self, count: u64) -> Self {
        self.fixed_count = count;
        self
    }

    /// Default base URL for this class; `--host` overrides it.
    pub fn host(mut self, host: impl Into<String>) -> Self {
        self.host = Some(host.into());
        self
    }

    /// Settings of each user's HTTP client (FastHttpUser's class attributes: timeouts,
    /// redirects, retries, concurrency, proxy).
    ///
    /// ```
    /// use std::time::Duration;
    /// use locusta::{SessionOptions, UserClass};
    /// let class = UserClass::new("Api").client_options(SessionOptions {
    ///     timeout: Some(Duration::from_secs(5)),
    ///     max_retries: 2,
    ///     ..Default::default()
    /// });
    /// # let _ = class;
    /// ```
    pub fn client_options(mut self, options: SessionOptions) -> Self {
        self.client_options = options;
        self
    }

    /// Users of this class share `pool`'s connections (FastHttpUser's `client_pool`); with a
    /// limit, at most that many of their requests are in flight at once.
    pub fn client_pool(mut self, pool: ConnectionPool) -> Self {
        self.client_pool = Some(pool);
        self
    }

    /// `--equal-weights`: weight 1 for the class and for each of its tasks (Locust's
    /// `assign_equal_weights`).
    pub(crate) fn equal_weights(&mut self) {
        self.weight = 1.0;
        for task in &mut self.tasks {
            task.weight = 1;
        }
    }

    /// One `--config-users` entry for this class: `weight`, `fixed_count`, `host` and `tasks`
    /// (the names of the tasks to keep) map; anything else is an error that says so.
    pub(crate) fn apply_config(
        &mut self,
        config: &serde_json::Map<String, serde_json::Value>,
    ) -> Result<(), String> {
        for (key, value) in config {
            let bad = || format!("--config-users: {key} of {} cannot be {value}", self.name);
            match key.as_str() {
                "user_class_name" => {}
                "weight" => self.weight = value.as_f64().ok_or_else(bad)?,
                "fixed_count" => self.fixed_count = value.as_u64().ok_or_else(bad)?,
                "host" => self.host = Some(value.as_str().ok_or_else(bad)?.to_owned()),
                "tasks" => {
                    let names: Vec<&str> = value
                        .as_array()
                        .ok_or_else(bad)?
                        .iter()
                        .filter_map(|n| n.as_str())
                        .collect();
                    self.tasks.retain(|t| names.contains(&t.name.as_str()));
                }
                other => {
                    return Err(format!(
                        "--config-users: {other} cannot be set on the Rust user class {}; it takes weight, fixed_count, host and tasks",
                        self.name
                    ))
                }
            }
        }
        Ok(())
    }

    /// Pause after each task (`wait_time`).
    pub fn wait_time(mut self, wait: WaitTime) -> Self {
        self.wait_time = wait;
        self
    }

    /// Adds a task.
    pub fn task(mut self, task: Task) -> Self {
        self.tasks.push(task);
        self
    }

    /// Runs once when a user starts, before its first task (`on_start`).
    pub fn on_start(mut self, task: Task) -> Self {
        self.on_start = Some(task);
        self
    }

    /// Runs once when a user stops, also when it is stopped by the runner (`on_stop`).
    pub fn on_stop(mut self, task: Task) -> Self {
        self.on_stop = Some(task);
        self
    }

    /// The class name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The tasks, as declared.
    pub fn tasks(&self) -> &[Task] {
        &self.tasks
    }

    /// Checks the class once at start so mistakes are reported before any load is generated.
    pub fn validate(&self) -> Result<(), String> {
        if !(self.weight.is_finite() && self.weight >= 0.0) {
            return Err(format!(
                "user class {}: weight must be a number >= 0, got {}",
                self.name, self.weight
            ));
        }
        self.wait_time
            .validate()
            .map_err(|e| format!("user class {}: {e}", self.name))?;
        Ok(())
    }

    /// Keeps only tasks allowed by Locust's tag rules: with `tags`, a task needs at least one of
    /// them; a task with any of `exclude` is dropped (exclusion wins).
    pub fn filter_tags(&mut self, tags: Option<&[String]>, exclude: Option<&[String]>) {
        self.tasks.retain(|t| {
            let included = match tags {
                Some(wanted) => wanted.iter().any(|w| t.tags.contains(w)),
                None => true,
            };
            let excluded = exclude.is_some_and(|ex| ex.iter().any(|e| t.tags.contains(e)));
            included && !excluded
        });
    }
}

/// The per-user handle every task receives (Locust's `self` inside a task).
pub struct User {
    /// The user's HTTP client: its own connections and cookie jar.
    pub client: Client,
    id: u64,
    class_name: Arc<str>,
    state: Option<Box<dyn Any + Send>>,
}

impl User {
    pub(crate) fn new(id: u64, class_name: Arc<str>, client: Client) -> Self {
        User {
            client,
            id,
            class_name,
            state: None,
        }
    }

    /// A number unique to this user within the run.
    pub fn id(&self) -> u64 {
        self.id
    }

    /// The name of this user's class.
    pub fn class_name(&self) -> &str {
        &self.class_name
    }

    /// Stores per-user state (a login token, a cart...), replacing what was there.
    pub fn set_state<T: Any + Send>(&mut self, value: T) {
        self.state = Some(Box::new(value));
    }

    /// The per-user state stored with [`User::set_state`], if it has this type.
    pub fn state<T: Any + Send>(&mut self) -> Option<&mut T> {
        self.state.as_mut().and_then(|s| s.downcast_mut::<T>())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn noop(_user: &mut User) -> TaskResult {
        Ok(())
    }

    fn class_with_tags() -> UserClass {
        UserClass::new("U")
            .task(task!(noop).tag("browse"))
            .task(task!(noop).tag("buy").tag("slow"))
            .task(task!(noop))
    }

    #[test]
    fn task_macro_names_the_task() {
        let t = task!(noop).weight(3).tag("x");
        assert_eq!(t.name(), "noop");
        assert_eq!(t.weight, 3);
        assert!(t.tags.contains("x"));
    }

    #[test]
    fn tags_select_tasks() {
        let mut c = class_with_tags();
        c.filter_tags(Some(&["browse".into()]), None);
        assert_eq!(c.tasks.len(), 1);
        let mut c = class_with_tags();
        c.filter_tags(None, Some(&["slow".into()]));
        assert_eq!(c.tasks.len(), 2);
        let mut c = class_with_tags();
        c.filter_tags(Some(&["buy".into()]), Some(&["slow".into()]));
        assert!(c.tasks.is_empty());
    }

    #[test]
    fn validation_catches_bad_weight() {
        assert!(UserClass::new("U").weight(-1.0).validate().is_err());
        assert!(UserClass::new("U").weight(0.5).validate().is_ok());
    }
}
