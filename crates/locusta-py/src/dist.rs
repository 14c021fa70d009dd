//! Master/worker mode for Python locustfiles.
//!
//! The master dispatches by the classes' names, weights and fixed counts, so its protocol
//! loop is Rust; it runs on its own thread ([`MasterLink`]) while the Python runner polls the
//! workers' custom messages and stats reports from the gevent loop (Locust's master-side
//! `register_message`, `send_message` and `worker_report`). A worker's users are greenlets on
//! the Python thread, so the protocol loop runs on its own Rust thread and talks to Python
//! through a small shared mailbox ([`WorkerLink`]): the Python runner polls it from the gevent
//! loop for `spawn` / `stop` / `exit` commands and publishes its per-class user counts back;
//! the statistics are already in Rust (the run's `StatsHub`), so the reports never touch
//! Python.

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use locusta_dist::master::node::MasterNode;
use locusta_dist::master::{MasterPlan, SharedMailbox, WorkerLogs};
use locusta_dist::rmpv::Value;
use locusta_dist::worker::{self, Exit, WorkerConfig, WorkerUsers};
use locusta_stats::StatsHub;
use locusta_util::lock;
use pyo3::prelude::*;

use crate::controller::Snapshot;
use crate::plan::RunPlan;
use crate::stats::Stats;
use locusta_run::Role;
use pyo3::exceptions::{PyOSError, PyRuntimeError};

enum Command {
    Spawn {
        counts: Vec<(String, u64)>,
        host: Option<String>,
        stop_timeout: f64,
    },
    Stop,
    Exit(i32),
}

#[derive(Default)]
struct Mailbox {
    commands: VecDeque<Command>,
    counts: Vec<(String, u64)>,
    stopped: bool,
    host: Option<String>,
    stop_timeout: f64,
    /// Custom message types a Python listener registered (`register_message`).
    listened: std::collections::HashSet<String>,
    /// Custom messages from the master, for the Python loop.
    inbox: VecDeque<(String, Value)>,
    /// Custom messages from Python, for the master.
    outbox: VecDeque<(String, Value)>,
    /// What `report_to_master` listeners last added.
    report_extras: Vec<(String, Value)>,
    /// Set when a report is due: the Python loop fires `report_to_master`.
    report_wanted: bool,
    /// The listeners answered since the report was asked for.
    extras_ready: bool,
    /// The index from the master's last `ack` (Locust's `worker_index`).
    worker_index: Option<i64>,
    /// Arrival times of the master's heartbeats, for `heartbeat_received` listeners.
    heartbeats: VecDeque<f64>,
}

/// Most master heartbeats kept for the Python loop (which drains them every 50 ms).
const MAX_QUEUED_HEARTBEATS: usize = 100;

struct GreenletUsers {
    mailbox: Arc<Mutex<Mailbox>>,
    stats: Arc<StatsHub>,
}

impl WorkerUsers for GreenletUsers {
    fn set_class_counts(&mut self, counts: &[(String, u64)]) -> Result<(), String> {
        let mut m = lock(&self.mailbox);
        let (host, stop_timeout) = (m.host.clone(), m.stop_timeout);
        m.commands.push_back(Command::Spawn {
            counts: counts.to_vec(),
            host,
            stop_timeout,
        });
        // Reported until the Python runner publishes what it actually started.
        m.counts = counts.to_vec();
        Ok(())
    }
    fn configure(&mut self, host: Option<String>, stop_timeout: Duration) {
        let mut m = lock(&self.mailbox);
        m.host = host;
        m.stop_timeout = stop_timeout.as_secs_f64();
    }
    fn user_count(&self) -> u64 {
        lock(&self.mailbox).counts.iter().map(|(_, n)| n).sum()
    }
    fn class_counts(&self) -> Vec<(String, u64)> {
        lock(&self.mailbox).counts.clone()
    }
    fn stats(&self) -> Arc<StatsHub> {
        Arc::clone(&self.stats)
    }
    fn stop(&mut self) -> Pin<Box<dyn Future<Output = ()> + '_>> {
        Box::pin(async move {
            let limit = {
                let mut m = lock(&self.mailbox);
                m.stopped = false;
                m.commands.push_back(Command::Stop);
                Duration::from_secs_f64(m.stop_timeout.min(3600.0)) + Duration::from_secs(15)
            };
            let deadline = Instant::now() + limit;
            while Instant::now() < deadline {
                if lock(&self.mailbox).stopped {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            log::warn!("the Python users did not stop in time");
        })
    }
    fn custom_message(&mut self, kind: &str, data: &Value) -> bool {
        let mut m = lock(&self.mailbox);
        if !m.listened.contains(kind) {
            return false;
        }
        if m.inbox.len() >= MAX_QUEUED_MESSAGES {
            log::warn!("dropping a {kind} message: {MAX_QUEUED_MESSAGES} are waiting for the Python listeners");
        } else {
            m.inbox.push_back((kind.to_owned(), data.clone()));
        }
        true
    }
    fn take_outgoing(&mut self) -> Vec<(String, Value)> {
        lock(&self.mailbox).outbox.drain(..).collect()
    }
    fn request_report_extras(&mut self) {
        let mut m = lock(&self.mailbox);
        m.report_wanted = true;
        m.extras_ready = false;
    }
    fn report_extras(&mut self) -> Option<Vec<(String, Value)>> {
        let mut m = lock(&self.mailbox);
        std::mem::take(&mut m.extras_ready).then(|| m.report_extras.clone())
    }
    fn set_worker_index(&mut self, index: i64) {
        lock(&self.mailbox).worker_index = Some(index);
    }
    fn heartbeat_received(&mut self, timestamp: f64) {
        let mut m = lock(&self.mailbox);
        if m.heartbeats.len() >= MAX_QUEUED_HEARTBEATS {
            m.heartbeats.pop_front();
        }
        m.heartbeats.push_back(timestamp);
    }
}

/// The worker side for a Python runner: starts the protocol thread at creation.
#[pyclass(module = "locusta._core", frozen)]
pub struct WorkerLink {
    mailbox: Arc<Mutex<Mailbox>>,
    /// This worker's node id (`hostname_hex`), Locust's `runner.client_id`.
    #[pyo3(get)]
    node_id: String,
}

#[pymethods]
impl WorkerLink {
    #[new]
    fn new(master_host: String, master_port: u16, stats: &Stats) -> PyResult<Self> {
        let mailbox = Arc::new(Mutex::new(Mailbox::default()));
        let bridge_box = Arc::clone(&mailbox);
        let hub = stats.hub();
        let node_id = locusta_dist::sys::new_node_id();
        let id = node_id.clone();
        std::thread::Builder::new()
            .name("locusta-worker-link".into())
            .spawn(move || {
                let code = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(rt) => {
                        let mut bridge = GreenletUsers {
                            mailbox: Arc::clone(&bridge_box),
                            stats: hub,
                        };
                        let cfg = WorkerConfig {
                            master_host,
                            master_port,
                            node_id: Some(id),
                        };
                        match rt.block_on(worker::run(&mut bridge, cfg)) {
                            Exit::Quit | Exit::Interrupted => 0,
                            Exit::MasterLost(why) => {
                                log::error!(target: "locusta.main", "{why}; stopped the users, exiting");
                                1
                            }
                        }
                    }
                    Err(e) => {
                        log::error!("cannot start the worker's network loop: {e}");
                        1
                    }
                };
                lock(&bridge_box).commands.push_back(Command::Exit(code));
            })
            .map_err(|e| pyo3::exceptions::PyRuntimeError::new_err(e.to_string()))?;
        Ok(WorkerLink { mailbox, node_id })
    }

    /// The next command, or None: `("spawn", {class: n}, host, stop_timeout)`, `("stop",)` or
    /// `("exit", code)`.
    fn poll<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, pyo3::types::PyTuple>>> {
        let cmd = lock(&self.mailbox).commands.pop_front();
        Ok(match cmd {
            None => None,
            Some(Command::Spawn {
                counts,
                host,
                stop_timeout,
            }) => {
                let d = pyo3::types::PyDict::new(py);
                for (k, v) in counts {
                    d.set_item(k, v)?;
                }
                Some(pyo3::types::PyTuple::new(
                    py,
                    [
                        "spawn".into_pyobject(py)?.into_any(),
                        d.into_any(),
                        host.into_pyobject(py)?.into_any(),
                        stop_timeout.into_pyobject(py)?.into_any(),
                    ],
                )?)
            }
            Some(Command::Stop) => Some(pyo3::types::PyTuple::new(
                py,
                ["stop".into_pyobject(py)?.into_any()],
            )?),
            Some(Command::Exit(code)) => Some(pyo3::types::PyTuple::new(
                py,
                [
                    "exit".into_pyobject(py)?.into_any(),
                    code.into_pyobject(py)?.into_any(),
                ],
            )?),
        })
    }

    /// `register_message` on a worker: messages of this type from the master are queued for
    /// [`WorkerLink::poll_message`] instead of being logged as unknown.
    fn listen(&self, kind: String) {
        lock(&self.mailbox).listened.insert(kind);
    }

    /// `runner.send_message(kind, data)` on a worker: queues a message for the master (sent
    /// within 50 ms). `data` must be what msgpack can carry (None, bool, int, float, str,
    /// bytes, list, tuple, dict).
    #[pyo3(signature = (kind, data=None))]
    fn send_message(&self, kind: String, data: Option<&Bound<'_, PyAny>>) -> PyResult<()> {
        let value = message_value(data)?;
        queue_message(&mut lock(&self.mailbox).outbox, (kind, value), "the master")
    }

    /// True once when a stats report is due: time to fire `report_to_master` for it.
    fn report_wanted(&self) -> bool {
        std::mem::take(&mut lock(&self.mailbox).report_wanted)
    }

    /// The keys `report_to_master` listeners added to the report dict (`data`), sent with the
    /// due report (Locust's reserved keys are left out). On error (data msgpack cannot carry)
    /// the report goes out with the keys of the last good answer.
    fn set_report_extras(&self, data: &Bound<'_, pyo3::types::PyDict>) -> PyResult<()> {
        let extras = report_extras(data);
        let mut m = lock(&self.mailbox);
        m.extras_ready = true;
        m.report_extras = extras?;
        Ok(())
    }

    /// The index the master gave this worker (-1 until its `ack`), Locust's `worker_index`.
    #[getter]
    fn worker_index(&self) -> i64 {
        lock(&self.mailbox).worker_index.unwrap_or(-1)
    }

    /// The arrival time (unix seconds) of the next heartbeat from the master, or None.
    fn poll_heartbeat(&self) -> Option<f64> {
        lock(&self.mailbox).heartbeats.pop_front()
    }

    /// The next custom message from the master, as `(type, data)`, or None.
    fn poll_message<'py>(&self, py: Python<'py>) -> PyResult<Option<(String, Bound<'py, PyAny>)>> {
        let next = lock(&self.mailbox).inbox.pop_front();
        match next {
            Some((kind, data)) => Ok(Some((kind, to_py(py, &data)?))),
            None => Ok(None),
        }
    }

    /// Publishes the users per class the Python runner has now.
    fn set_counts(&self, counts: HashMap<String, u64>) {
        let mut m = lock(&self.mailbox);
        let mut v: Vec<(String, u64)> = counts.into_iter().collect();
        v.sort();
        m.counts = v;
    }

    /// Tells the protocol loop that every user has stopped.
    fn stopped(&self) {
        let mut m = lock(&self.mailbox);
        m.stopped = true;
        m.counts.iter_mut().for_each(|(_, n)| *n = 0);
    }
}

/// A `report_to_master` dict's extra keys (Locust's reserved keys are left out).
fn report_extras(data: &Bound<'_, pyo3::types::PyDict>) -> PyResult<Vec<(String, Value)>> {
    let mut extras = Vec::new();
    for (k, v) in data.iter() {
        let key: String = k.extract()?;
        if worker::REPORT_KEYS.contains(&key.as_str()) {
            continue;
        }
        extras.push((key, to_value(&v, 0)?));
    }
    Ok(extras)
}

/// This process's CPU and memory use for Locust's `usage_monitor` event (the numbers a
/// worker's heartbeat carries).
#[pyclass(module = "locusta._core")]
pub struct UsageMeter {
    cpu: locusta_dist::sys::CpuMeter,
}

#[pymethods]
impl UsageMeter {
    #[new]
    fn new() -> Self {
        UsageMeter {
            cpu: locusta_dist::sys::CpuMeter::new(),
        }
    }

    /// `(cpu percent of one core since the previous sample, resident memory in bytes)`.
    fn sample(&mut self) -> (f64, u64) {
        (self.cpu.percent(), locusta_dist::sys::memory_bytes())
    }
}

/// What the gevent driver asks of the master's thread.
enum Order {
    Spawn {
        users: u64,
        rate: f64,
        classes: Option<Vec<String>>,
    },
    Stop,
    SetHost(Option<String>),
    Quit,
}

/// Orders one way, the master's snapshot the other.
#[derive(Default)]
struct Exchange {
    orders: VecDeque<Order>,
    snapshot: locusta_run::Snapshot,
}

/// How often the master's thread looks for orders and publishes its snapshot.
const LINK_INTERVAL: Duration = Duration::from_millis(50);

/// The master of a Python run: its socket and state machine ([`MasterNode`]) run on a Rust
/// thread of their own, steered by the gevent driver through orders (spawn, stop, quit) and a
/// published snapshot, exactly as the Rust driver steers a [`MasterNode`] directly. Custom
/// messages and stats reports for Python listeners travel through a mailbox.
#[pyclass(module = "locusta._core", frozen)]
pub struct MasterLink {
    mailbox: SharedMailbox,
    exchange: Arc<Mutex<Exchange>>,
    worker_logs: WorkerLogs,
    thread: Mutex<Option<std::thread::JoinHandle<()>>>,
}

impl MasterLink {
    /// Where the master keeps the workers' log lines (the web UI's `/logs`).
    pub(crate) fn worker_logs(&self) -> WorkerLogs {
        Arc::clone(&self.worker_logs)
    }

    fn order(&self, order: Order) {
        lock(&self.exchange).orders.push_back(order);
    }
}

/// The master's thread: binds, starts `--processes` workers, then serves them and carries out
/// the orders until `Quit`.
async fn serve_master(
    mut node: MasterNode,
    processes: Option<u64>,
    exchange: Arc<Mutex<Exchange>>,
) {
    if let Some(n) = processes {
        node.start_local_workers(n);
    }
    loop {
        let orders: Vec<Order> = lock(&exchange).orders.drain(..).collect();
        for order in orders {
            match order {
                Order::Spawn {
                    users,
                    rate,
                    classes,
                } => node.spawn(users, rate, classes.as_deref()),
                Order::Stop => node.stop_users().await,
                Order::SetHost(host) => node.set_host(host),
                Order::Quit => {
                    node.quit().await;
                    lock(&exchange).snapshot = node.snapshot();
                    return;
                }
            }
        }
        lock(&exchange).snapshot = node.snapshot();
        node.serve(Instant::now() + LINK_INTERVAL).await;
    }
}

#[pymethods]
impl MasterLink {
    /// Binds the workers' port of `plan`'s master and starts serving on a thread of its own;
    /// reports go into `stats`. `OSError` when the port cannot be bound.
    #[new]
    fn new(py: Python<'_>, plan: &RunPlan, stats: &Stats) -> PyResult<Self> {
        let mailbox = SharedMailbox::default();
        let (master_plan, settings) = plan
            .with(|p| match &p.role {
                Role::Master(settings) => MasterPlan::for_run(p, Some(Arc::clone(&mailbox)))
                    .map(|m| (m, settings.clone())),
                _ => None,
            })?
            .ok_or_else(|| PyRuntimeError::new_err("this run is not a master"))?;
        let hub = stats.hub();
        let exchange = Arc::new(Mutex::new(Exchange::default()));
        let (bound_tx, bound_rx) = std::sync::mpsc::channel::<Result<WorkerLogs, String>>();
        let thread_exchange = Arc::clone(&exchange);
        let thread = std::thread::Builder::new()
            .name("locusta-master".into())
            .spawn(move || {
                let rt = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt,
                    Err(e) => {
                        let _ = bound_tx.send(Err(format!("cannot start the master's loop: {e}")));
                        return;
                    }
                };
                rt.block_on(async move {
                    let bound =
                        MasterNode::bind(master_plan, &settings.bind_host, settings.bind_port, hub)
                            .await;
                    match bound {
                        Ok(node) => {
                            let _ = bound_tx.send(Ok(node.worker_logs()));
                            serve_master(node, settings.processes, thread_exchange).await;
                        }
                        Err(e) => {
                            let _ = bound_tx.send(Err(e));
                        }
                    }
                });
            })
            .map_err(|e| PyRuntimeError::new_err(e.to_string()))?;
        let bound = py.detach(move || bound_rx.recv());
        let worker_logs = match bound {
            Ok(Ok(logs)) => logs,
            Ok(Err(e)) => return Err(PyOSError::new_err(e)),
            Err(_) => {
                return Err(PyRuntimeError::new_err(
                    "the master's thread ended at start",
                ))
            }
        };
        Ok(MasterLink {
            mailbox,
            exchange,
            worker_logs,
            thread: Mutex::new(Some(thread)),
        })
    }

    /// What the workers run now.
    fn snapshot(&self) -> Snapshot {
        Snapshot {
            inner: lock(&self.exchange).snapshot.clone(),
        }
    }

    /// Deals out a ramp to `users` at `rate` per second (new users only of `classes` when given).
    #[pyo3(signature = (users, rate, classes=None))]
    fn spawn(&self, users: u64, rate: f64, classes: Option<Vec<String>>) {
        self.order(Order::Spawn {
            users,
            rate,
            classes,
        });
    }

    /// Tells every worker to stop its users.
    fn stop_users(&self) {
        self.order(Order::Stop);
    }

    /// The host sent to workers with the next spawn.
    fn set_host(&self, host: Option<String>) {
        self.order(Order::SetHost(host));
    }

    /// Quits the workers (waiting up to 5 s for their last reports) and ends the master's
    /// thread.
    fn quit(&self, py: Python<'_>) {
        self.order(Order::Quit);
        let thread = lock(&self.thread).take();
        if let Some(t) = thread {
            py.detach(move || {
                let _ = t.join();
            });
        }
    }

    /// `register_message` on the master: messages of this type from workers are queued for
    /// [`MasterLink::poll_message`] instead of being logged as unknown.
    fn listen(&self, kind: String) {
        lock(&self.mailbox).listened.insert(kind);
    }

    /// Queues the workers' stats reports for [`MasterLink::poll_report`] (`worker_report`).
    fn want_reports(&self) {
        lock(&self.mailbox).want_reports = true;
    }

    /// Queues the workers' answered heartbeats for [`MasterLink::poll_heartbeat`]
    /// (`heartbeat_sent`).
    fn want_heartbeats(&self) {
        lock(&self.mailbox).want_heartbeats = true;
    }

    /// The next answered heartbeat, as `(worker id, unix time)`, or None.
    fn poll_heartbeat(&self) -> Option<(String, f64)> {
        lock(&self.mailbox).heartbeats.pop_front()
    }

    /// `runner.send_message(kind, data, client_id)` on the master: to that worker, or to every
    /// worker without one (sent within 50 ms).
    #[pyo3(signature = (kind, data=None, client_id=None))]
    fn send_message(
        &self,
        kind: String,
        data: Option<&Bound<'_, PyAny>>,
        client_id: Option<String>,
    ) -> PyResult<()> {
        let value = message_value(data)?;
        queue_message(
            &mut lock(&self.mailbox).outbox,
            (kind, value, client_id),
            "the workers",
        )
    }

    /// The next custom message from a worker, as `(type, data, worker id)`, or None.
    fn poll_message<'py>(
        &self,
        py: Python<'py>,
    ) -> PyResult<Option<(String, Bound<'py, PyAny>, String)>> {
        let next = lock(&self.mailbox).inbox.pop_front();
        match next {
            Some((kind, data, id)) => Ok(Some((kind, to_py(py, &data)?, id))),
            None => Ok(None),
        }
    }

    /// The next stats report from a worker, as `(worker id, data)`, or None.
    fn poll_report<'py>(&self, py: Python<'py>) -> PyResult<Option<(String, Bound<'py, PyAny>)>> {
        let next = lock(&self.mailbox).reports.pop_front();
        match next {
            Some((id, data)) => Ok(Some((id, to_py(py, &data)?))),
            None => Ok(None),
        }
    }
}

/// `--worker --processes N`: starts N worker processes of this same command and waits for
/// them; returns the first non-zero exit code.
#[pyfunction]
pub fn run_worker_processes(py: Python<'_>, n: u64, master_host: String, master_port: u16) -> i32 {
    py.detach(move || locusta_dist::processes::run_worker_processes(n, &master_host, master_port))
}

/// `-f -`: downloads the locustfiles from the master; returns `[(file name, contents)]`.
#[pyfunction]
pub fn fetch_locustfiles(
    py: Python<'_>,
    master_host: String,
    master_port: u16,
) -> PyResult<Vec<(String, String)>> {
    py.detach(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?;
        rt.block_on(worker::fetch_locustfiles(&master_host, master_port))
    })
    .map_err(pyo3::exceptions::PyRuntimeError::new_err)
}

/// Most items queued in either direction of the custom-message mailbox; more are dropped
/// with a warning, so a flood cannot grow the worker's memory without bound.
const MAX_QUEUED_MESSAGES: usize = 10_000;

/// Python data to msgpack (what Locust's `Message.serialize` accepts: None, bool, int, float,
/// str, bytes, list/tuple, dict).
/// The msgpack value of a custom message's `data` (nil without data).
fn message_value(data: Option<&Bound<'_, PyAny>>) -> PyResult<Value> {
    match data {
        Some(d) => to_value(d, 0),
        None => Ok(Value::Nil),
    }
}

/// Queues an outgoing custom message, refusing it when `MAX_QUEUED_MESSAGES` already wait to
/// be sent to `recipients`.
fn queue_message<T>(outbox: &mut VecDeque<T>, message: T, recipients: &str) -> PyResult<()> {
    if outbox.len() >= MAX_QUEUED_MESSAGES {
        return Err(pyo3::exceptions::PyRuntimeError::new_err(format!(
            "{MAX_QUEUED_MESSAGES} messages are already waiting to be sent to {recipients}"
        )));
    }
    outbox.push_back(message);
    Ok(())
}

fn to_value(obj: &Bound<'_, PyAny>, depth: usize) -> PyResult<Value> {
    use pyo3::types::{PyBool, PyBytes, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple};
    if depth > 64 {
        return Err(pyo3::exceptions::PyValueError::new_err(
            "message data is nested too deeply",
        ));
    }
    if obj.is_none() {
        return Ok(Value::Nil);
    }
    if obj.is_instance_of::<PyBool>() {
        return Ok(Value::Boolean(obj.extract::<bool>()?));
    }
    if obj.is_instance_of::<PyInt>() {
        return match obj.extract::<i64>() {
            Ok(v) => Ok(Value::from(v)),
            Err(_) => Ok(Value::from(obj.extract::<u64>()?)),
        };
    }
    if obj.is_instance_of::<PyFloat>() {
        return Ok(Value::F64(obj.extract::<f64>()?));
    }
    if obj.is_instance_of::<PyString>() {
        return Ok(Value::from(obj.extract::<String>()?));
    }
    if let Ok(b) = obj.cast::<PyBytes>() {
        return Ok(Value::Binary(b.as_bytes().to_vec()));
    }
    if let Ok(d) = obj.cast::<PyDict>() {
        let mut pairs = Vec::with_capacity(d.len());
        for (k, v) in d.iter() {
            pairs.push((to_value(&k, depth + 1)?, to_value(&v, depth + 1)?));
        }
        return Ok(Value::Map(pairs));
    }
    if let Ok(l) = obj.cast::<PyList>() {
        let mut items = Vec::with_capacity(l.len());
        for v in l.iter() {
            items.push(to_value(&v, depth + 1)?);
        }
        return Ok(Value::Array(items));
    }
    if let Ok(t) = obj.cast::<PyTuple>() {
        let mut items = Vec::with_capacity(t.len());
        for v in t.iter() {
            items.push(to_value(&v, depth + 1)?);
        }
        return Ok(Value::Array(items));
    }
    Err(pyo3::exceptions::PyTypeError::new_err(format!(
        "can not serialize an object of type {} into a message",
        obj.get_type().name()?
    )))
}

/// msgpack to Python data (maps become dicts, arrays lists, binaries bytes).
fn to_py<'py>(py: Python<'py>, v: &Value) -> PyResult<Bound<'py, PyAny>> {
    use pyo3::types::{PyBytes, PyDict, PyList};
    Ok(match v {
        Value::Nil => py.None().into_bound(py),
        Value::Boolean(b) => b.into_pyobject(py)?.to_owned().into_any(),
        Value::Integer(i) => match (i.as_i64(), i.as_u64()) {
            (Some(n), _) => n.into_pyobject(py)?.into_any(),
            (None, Some(n)) => n.into_pyobject(py)?.into_any(),
            _ => py.None().into_bound(py),
        },
        Value::F32(f) => f64::from(*f).into_pyobject(py)?.into_any(),
        Value::F64(f) => f.into_pyobject(py)?.into_any(),
        Value::String(s) => match s.as_str() {
            Some(t) => t.into_pyobject(py)?.into_any(),
            None => PyBytes::new(py, s.as_bytes()).into_any(),
        },
        Value::Binary(b) => PyBytes::new(py, b).into_any(),
        Value::Array(items) => {
            let l = PyList::empty(py);
            for x in items {
                l.append(to_py(py, x)?)?;
            }
            l.into_any()
        }
        Value::Map(pairs) => {
            let d = PyDict::new(py);
            for (k, x) in pairs {
                d.set_item(to_py(py, k)?, to_py(py, x)?)?;
            }
            d.into_any()
        }
        Value::Ext(_, b) => PyBytes::new(py, b).into_any(),
    })
}
