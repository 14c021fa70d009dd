"""``locust.runners``: the single-process runner — starts users at the spawn rate in Locust's
dispatch order (computed in Rust), stops them with Locust's stop_timeout rules, and fires the
test lifecycle events."""

import logging
import time
import traceback

import gevent
import gevent.event
from gevent.pool import Group

from .. import _core
from .event import state as _event_state
from .exception import StopTest
from .user.resting import UserGroup

logger = logging.getLogger("locusta.runners")

STATE_INIT, STATE_SPAWNING, STATE_RUNNING, STATE_CLEANUP, STATE_STOPPING, STATE_STOPPED, STATE_MISSING = [
    "ready",
    "spawning",
    "running",
    "cleanup",
    "stopping",
    "stopped",
    "missing",
]


def _exception_handler(environment):
    """A ``link_exception`` callback for the runner's greenlets: StopTest ends the test (quit
    when headless, else stop), any other exception is logged and makes the exit code 2."""

    def handler(greenlet):
        exc = greenlet.exception
        if isinstance(exc, StopTest):
            logger.error("%s", exc)
            logger.warning("Stopping Locust...")
            runner = environment.runner
            if runner._driven:
                # The run controller ends the test (and the run, when headless).
                runner._stop_test = True
                return
            opts = environment.parsed_options
            if opts is not None and getattr(opts, "headless", False):
                runner.quit()
            else:
                runner.stop()
        else:
            logger.critical("Unhandled exception in greenlet: %s: %s", type(exc).__name__, exc)
            _event_state["unhandled_exception"] = True

    return handler


def _class_counts_text(counts):
    parts = ", ".join(f'"{k}": {v}' for k, v in sorted(counts.items()))
    return "{%s} (%d total users)" % (parts, sum(counts.values()))


#: Seconds between two ``usage_monitor`` events (Locust's name; a locustfile may change it).
CPU_MONITOR_INTERVAL = 10.0
#: Above this share of one core, the gevent hub warns (Locust's CPU_WARNING_THRESHOLD).
CPU_WARNING_THRESHOLD = 90


class Runner:
    """What every runner has (Locust's ``Runner``): the environment, the state, the runner's
    own greenlets, exceptions, custom message listeners, and the flags the run controller
    reads."""

    def __init__(self, environment):
        self.environment = environment
        #: The runner's own greenlets (spawning, helpers); quit() kills them. Locust's Group.
        self.greenlet = Group()
        self.state = STATE_INIT
        self.target_user_count = 0
        self.exceptions = {}
        self.worker_index = 0
        self.worker_count = 1
        self.custom_messages = {}
        self.quit_requested = False
        self.current_cpu_usage = 0.0
        self.current_memory_usage = 0
        self.cpu_warning_emitted = False
        # As Locust's: the monitor runs until quit(), so runner.greenlet.join() returns then.
        self.greenlet.spawn(self._monitor_usage)
        #: Run by the run controller (``_driver``), which logs completed ramps, applies
        #: ``--reset-stats`` and decides what a ``StopTest`` ends; a runner used as a library
        #: does those itself, as Locust's.
        self._driven = False

    def _monitor_usage(self):
        """Every ``CPU_MONITOR_INTERVAL`` seconds: ``usage_monitor`` with the process's CPU
        (percent of one core) and resident memory, the figures a worker's heartbeat carries.
        ``cpu_warning`` (and a warning, once) when the thread that runs the Python code, the
        gevent hub, is busier than ``CPU_WARNING_THRESHOLD`` percent: locusta's HTTP I/O runs
        on other threads, so the process's figure can pass 100 without the locustfile being
        held back. (This greenlet runs on the hub's thread, so ``thread_time`` is the hub's.)"""
        meter = _core.UsageMeter()
        last = (time.monotonic(), time.thread_time())
        while True:
            gevent.sleep(CPU_MONITOR_INTERVAL)
            self.current_cpu_usage, self.current_memory_usage = meter.sample()
            now = (time.monotonic(), time.thread_time())
            hub = 100.0 * (now[1] - last[1]) / max(now[0] - last[0], 1e-9)
            last = now
            if hub > CPU_WARNING_THRESHOLD:
                self.environment.events.cpu_warning.fire(environment=self.environment, cpu_usage=hub)
                if not self.cpu_warning_emitted:
                    logger.warning(
                        "CPU usage of the Python hub above %d%%! This may constrain your throughput and make "
                        "response times inconsistent: spread the load over more processes (--processes N).",
                        CPU_WARNING_THRESHOLD,
                    )
                    self.cpu_warning_emitted = True
            self.environment.events.usage_monitor.fire(
                environment=self.environment, cpu_usage=self.current_cpu_usage, memory_usage=self.current_memory_usage
            )

    @property
    def stats(self):
        return self.environment.stats

    @property
    def errors(self):
        return self.environment.stats.errors

    @property
    def unhandled_exception(self):
        return _event_state["unhandled_exception"]


class LocalRunner(Runner):
    """Runs every user as a greenlet in this process."""

    def __init__(self, environment):
        super().__init__(environment)
        self.user_greenlets = UserGroup()
        self.spawning_greenlet = None
        self._users = []  # started users, oldest first (ramp-down stops the newest)
        self._classes = list(environment.user_classes)
        self._dispatch = _core.Dispatch([(c.__name__, float(c.weight), int(c.fixed_count)) for c in self._classes])
        self._test_started = False
        self._stopping = None
        self._stopping_done = gevent.event.Event()
        self._stopping_done.set()
        #: Ramps completed so far (the controller notices each new one).
        self._spawn_completions = 0
        #: A user raised ``StopTest`` (for the controller).
        self._stop_test = False

    @property
    def user_count(self):
        return len(self.user_greenlets)

    @property
    def user_classes_count(self):
        counts = {c.__name__: 0 for c in self._classes}
        for u in self._users:
            if u._alive():
                counts[type(u).__name__] += 1
        return counts

    def _start_one(self):
        idx = self._dispatch.push()
        if idx is None:
            return False
        user = self._classes[idx](self.environment)
        user.start(self.user_greenlets)
        self._users.append(user)
        return True

    def _stop_one(self, force):
        self._dispatch.pop()
        while self._users:
            user = self._users.pop()
            if user._alive():
                user.stop(force=force)
                return True
        return False

    def _ramp(self, target, rate):
        if not self._test_started:
            self._test_started = True
            self.environment.events.test_start.fire(environment=self.environment)
        self.state = STATE_SPAWNING
        interval = 1.0 / rate if rate and rate > 0 else 0.0
        t0 = time.perf_counter()
        i = 0
        while len(self._dispatch) != target:
            if len(self._dispatch) < target:
                if not self._start_one():
                    break
            else:
                self._stop_one(force=not self.environment.stop_timeout)
            i += 1
            if len(self._dispatch) == target:
                break  # as Locust: the last user completes the ramp, no pause after it
            delay = t0 + i * interval - time.perf_counter()
            if delay > 0:
                gevent.sleep(delay)
            elif i % 50 == 0:
                gevent.sleep(0)
        self.state = STATE_RUNNING
        self._spawn_completions += 1
        counts = self.user_classes_count
        if not self._driven:
            logger.info("All users spawned: %s", _class_counts_text(counts))
        self.environment.events.spawning_complete.fire(user_count=sum(counts.values()))
        if self.environment.reset_stats and not self._driven:
            logger.info("Resetting stats\n")
            self.environment.stats.reset_all()
            self.environment.events.reset_stats.fire()

    def start(self, user_count, spawn_rate, wait=False, user_classes=None):
        """Ramps to ``user_count`` users at ``spawn_rate`` per second (in the background
        unless ``wait``)."""
        self.target_user_count = user_count
        if self.state == STATE_STOPPED:
            self._test_started = False
        if spawn_rate > 100:
            logger.warning(
                "Your selected spawn rate is very high (>100), and this is known to sometimes cause issues. "
                "Do you really need to ramp up that fast?"
            )
        if user_classes is not None:
            # As Locust: new users are drawn from these classes only (running ones stay), until
            # another list is given.
            allowed = []
            for cls in user_classes:
                name = cls if isinstance(cls, str) else getattr(cls, "__name__", str(cls))
                idx = next((i for i, c in enumerate(self._classes) if c.__name__ == name), None)
                if idx is None:
                    logger.warning("User class %s given to start() is not in this run; it is ignored", name)
                else:
                    allowed.append(idx)
            self._dispatch.restrict(allowed)
        if self.spawning_greenlet is not None:
            self.spawning_greenlet.kill(block=True)
        logger.info("Ramping to %d users at a rate of %.2f per second", user_count, spawn_rate)
        self.spawning_greenlet = self.greenlet.spawn(self._ramp, user_count, spawn_rate)
        self.spawning_greenlet.link_exception(_exception_handler(self.environment))
        if wait:
            self.spawning_greenlet.join()

    def spawn_counts(self, counts):
        """Starts or stops users so that exactly ``counts[name]`` users of each class run (what a
        worker does on the master's ``spawn`` message); returns the counts now running."""
        if not self._test_started:
            self._test_started = True
            self.environment.events.test_start.fire(environment=self.environment)
        self.state = STATE_SPAWNING
        by_name = {c.__name__: c for c in self._classes}
        for name, target in counts.items():
            cls = by_name.get(name)
            if cls is None:
                if target:
                    logger.error("The master asked for users of unknown class %s", name)
                continue
            alive = [u for u in self._users if type(u) is cls and u._alive()]
            for user in reversed(alive[target:]):
                user.stop(force=not self.environment.stop_timeout)
                self._users.remove(user)
            for _ in range(target - len(alive)):
                user = cls(self.environment)
                user.start(self.user_greenlets)
                self._users.append(user)
        self.target_user_count = sum(counts.values())
        self.state = STATE_RUNNING
        return self.user_classes_count

    def stop(self):
        """Stops every user (Locust's stop_timeout rules) and fires test_stopping / test_stop.

        Called from one of the users (``self.environment.runner.stop()`` in a task), the work
        moves to a helper greenlet, and the calling user is stopped with the others."""
        if self.state == STATE_STOPPED:
            return
        if self._stopping is not None:
            # Another greenlet is stopping the test: wait for it (unless we are a user it kills).
            if gevent.getcurrent() is not self._stopping:
                self._stopping_done.wait()
            return
        if gevent.getcurrent() in self.user_greenlets:
            helper = gevent.spawn(self.stop)
            helper.join()
            return
        self._stopping = gevent.getcurrent()
        self._stopping_done.clear()
        try:
            self._stop()
        finally:
            self._stopping = None
            self._stopping_done.set()

    def _stop(self):
        self.environment.events.test_stopping.fire(environment=self.environment)
        self.state = STATE_CLEANUP
        if self.spawning_greenlet is not None and self.spawning_greenlet is not gevent.getcurrent():
            self.spawning_greenlet.kill(block=True)
        self.state = STATE_STOPPING
        timeout = self.environment.stop_timeout or 0
        if timeout:
            for user in reversed(self._users):
                if user._alive():
                    user.stop(force=False)
            if not self.user_greenlets.join(timeout=timeout):
                logger.info("Not all users finished their tasks & terminated in %s seconds. Killing them...", timeout)
        self.user_greenlets.kill(block=True, timeout=5)
        self._users.clear()
        while len(self._dispatch):
            self._dispatch.pop()
        self.target_user_count = 0
        self._stop_test = False
        self.state = STATE_STOPPED
        self.environment.events.test_stop.fire(environment=self.environment)

    def quit(self):
        """Stops the test and ends the run (headless: the process exits)."""
        self.quit_requested = True
        self.stop()
        me = gevent.getcurrent()
        others = [g for g in self.greenlet if g is not me]
        if others:
            gevent.killall(others, block=True)

    def _snapshot(self):
        """What the users look like, for the run controller."""
        names = [c.__name__ for c in self._classes]
        return _core.Snapshot(
            self.state,
            len(self.user_greenlets),
            self.target_user_count,
            list(zip(names, self._dispatch.counts())),
            self._spawn_completions,
            self._stop_test,
            self.quit_requested,
        )

    def _kill_users(self):
        """A second Ctrl-C while users finish their tasks: stop them at once."""
        self.user_greenlets.kill(block=False)

    def send_message(self, msg_type, data=None, client_id=None):
        handler = self.custom_messages.get(msg_type)
        if handler is None:
            logger.warning("Unknown message type received: %s", msg_type)
            return
        handler[0](environment=self.environment, msg=_Message(msg_type, data, "local"))

    def register_message(self, msg_type, listener, concurrent=False):
        self.custom_messages[msg_type] = (listener, concurrent)


class WorkerRunner(LocalRunner):
    """A worker's runner (``--worker``): users run here as in :class:`LocalRunner`; the
    protocol with the master runs in Rust (``_core.WorkerLink``). Custom messages travel
    through that link: ``send_message`` goes to the master, listeners registered with
    ``register_message`` hear the master's messages of their type."""

    def __init__(self, environment):
        super().__init__(environment)
        self._link = None
        self._unsent = []
        #: This worker's node id (set when it connects), as Locust's ``client_id``.
        self.client_id = None

    @property
    def worker_index(self):
        """The index the master gave this worker in its ``ack`` (0, 1, ... in the order the
        workers connected; a worker that reconnects keeps its index); -1 before that, as
        Locust's."""
        return self._link.worker_index if self._link is not None else -1

    @worker_index.setter
    def worker_index(self, _value):
        # Runner.__init__ sets a default; a worker's index is the master's.
        pass

    def spawn_counts(self, counts):
        """As :meth:`LocalRunner.spawn_counts`; when a user's constructor raises, the spawn
        ends there (the users already started keep running), the exception is logged and the
        worker's exit code becomes 2, as Locust's worker whose spawning greenlet died."""
        try:
            return super().spawn_counts(counts)
        except Exception as e:
            logger.critical(
                "Unhandled exception in greenlet: %s: %s\n%s",
                type(e).__name__,
                e,
                "".join(traceback.format_exception(type(e), e, e.__traceback__)).rstrip(),
            )
            _event_state["unhandled_exception"] = True
            self.state = STATE_RUNNING
            return self.user_classes_count

    def _fire_link_events(self):
        """Fires what the protocol loop noticed since the last call: ``heartbeat_received``
        for each heartbeat from the master, and ``report_to_master`` when a stats report is
        due (the keys its listeners add go into that report)."""
        link = self._link
        events = self.environment.events
        while (timestamp := link.poll_heartbeat()) is not None:
            events.heartbeat_received.fire(client_id=self.client_id, timestamp=timestamp)
        if link.report_wanted():
            data = {}
            events.report_to_master.fire(client_id=self.client_id, data=data)
            try:
                link.set_report_extras(data)
            except (TypeError, ValueError) as e:
                logger.error("report_to_master added data that cannot be sent: %s", e)

    def _attach(self, link):
        """Connects the runner to the protocol loop (once the worker starts)."""
        self._link = link
        self.client_id = link.node_id
        link.listen("update_user_class")
        for msg_type in self.custom_messages:
            link.listen(msg_type)
        unsent, self._unsent = self._unsent, []
        for msg_type, data in unsent:
            link.send_message(msg_type, data)

    def send_message(self, msg_type, data=None, client_id=None):
        """Sends a message to the master (``client_id`` is unused on a worker, as in Locust)."""
        logger.debug("Sending %s message to master", msg_type)
        if self._link is None:
            self._unsent.append((msg_type, data))
        else:
            self._link.send_message(msg_type, data)

    def register_message(self, msg_type, listener, concurrent=False):
        if msg_type in self.custom_messages:
            raise Exception(f"Tried to register listener method for {msg_type}, but it already had a listener!")
        self.custom_messages[msg_type] = (listener, concurrent)
        if self._link is not None:
            self._link.listen(msg_type)

    def _deliver(self, msg_type, data):
        """Runs the listener of a custom message from the master (as Locust's worker does;
        ``update_user_class`` is Locust's own message, handled before the listeners)."""
        if msg_type == "update_user_class":
            if isinstance(data, dict):
                self.environment.update_user_class(data)
            else:
                logger.error("update_user_class from the master is not a dict: %r", data)
            return
        entry = self.custom_messages.get(msg_type)
        if entry is None:
            logger.warning("Unknown message type received: %s", msg_type)
            return
        logger.debug("Received %s message from master", msg_type)
        _call_listener(self.environment, entry, _Message(msg_type, data, self.client_id))


class MasterRunner(Runner):
    """The master's runner (``--master`` with a Python locustfile). The master itself is Rust
    (``_core.MasterLink``: dispatch, reports, heartbeats); this runner gives the locustfile
    Locust's master: ``start``/``stop``/``quit`` fire the test events and steer the link,
    ``register_message`` listeners hear the workers' custom messages, ``send_message`` sends to
    one worker (``client_id``) or to all of them, and ``worker_report`` listeners get each
    worker's stats report. It runs no users."""

    def __init__(self, environment):
        super().__init__(environment)
        self._link = None
        self._unsent = []
        self._last = None
        self._completions_seen = 0
        self.worker_count = 0
        # Locust's master has no worker_index (only workers and the local runner do).
        del self.worker_index

    def _attach(self, link):
        """Connects the runner to the master's link."""
        self._link = link
        link.want_reports()
        link.want_heartbeats()
        for msg_type in self.custom_messages:
            link.listen(msg_type)
        unsent, self._unsent = self._unsent, []
        for msg_type, data, client_id in unsent:
            link.send_message(msg_type, data, client_id)

    @property
    def user_count(self):
        return self._last.users if self._last is not None else 0

    @property
    def user_classes_count(self):
        return dict(self._last.class_counts) if self._last is not None else {}

    @property
    def clients(self):
        """The ready workers by id (Locust's ``clients``; iterating gives the ids)."""
        return dict.fromkeys(self._last.worker_ids if self._last is not None else [], "ready")

    def start(self, user_count, spawn_rate, wait=False, user_classes=None):
        """Deals out ``user_count`` users at ``spawn_rate`` over the workers."""
        self.target_user_count = user_count
        if self.state not in (STATE_RUNNING, STATE_SPAWNING):
            self.environment.events.test_start.fire(environment=self.environment)
        self.state = STATE_SPAWNING
        names = None
        if user_classes is not None:
            names = [c if isinstance(c, str) else c.__name__ for c in user_classes]
        self._link.spawn(user_count, float(spawn_rate), names)

    def stop(self):
        """Stops the users on every worker."""
        if self.state in (STATE_INIT, STATE_STOPPED, STATE_STOPPING):
            return
        self.environment.events.test_stopping.fire(environment=self.environment)
        self._link.stop_users()
        self.state = STATE_STOPPED
        self.environment.events.test_stop.fire(environment=self.environment)

    def quit(self):
        """Ends the test without a ``stop`` (as Locust's master) and quits the workers,
        collecting their last reports."""
        if self.state not in (STATE_INIT, STATE_STOPPED, STATE_STOPPING):
            self.environment.events.test_stopping.fire(environment=self.environment)
            self.state = STATE_STOPPED
            self.environment.events.test_stop.fire(environment=self.environment)
        self.quit_requested = True
        self._link.quit()
        self._pump()

    def _snapshot(self):
        """The workers' state for the run controller; fires ``spawning_complete`` for each
        completed ramp and delivers what the workers sent meanwhile."""
        snap = self._link.snapshot()
        self._last = snap
        self.worker_count = snap.worker_count
        if snap.spawn_completions > self._completions_seen:
            self._completions_seen = snap.spawn_completions
            if self.state == STATE_SPAWNING:
                self.state = STATE_RUNNING
            self.environment.events.spawning_complete.fire(user_count=sum(self.user_classes_count.values()))
        self._pump()
        return snap

    def _kill_users(self):
        """The users run on the workers, which stop them on ``quit``."""

    def _pump(self, limit=1000):
        """Delivers queued custom messages and fires ``worker_report`` for queued stats
        reports, at most ``limit`` of each."""
        for _ in range(limit):
            message = self._link.poll_message()
            if message is None:
                break
            self._deliver(*message)
        for _ in range(limit):
            report = self._link.poll_report()
            if report is None:
                break
            client_id, data = report
            try:
                self.environment.events.worker_report.fire(client_id=client_id, data=data)
            except Exception:
                logger.exception("worker_report listener failed")
        for _ in range(limit):
            heartbeat = self._link.poll_heartbeat()
            if heartbeat is None:
                break
            # Locust's master fires heartbeat_sent as it answers a worker's heartbeat.
            client_id, timestamp = heartbeat
            self.environment.events.heartbeat_sent.fire(client_id=client_id, timestamp=timestamp)

    def send_message(self, msg_type, data=None, client_id=None):
        """Sends a message to the worker ``client_id``, or to every worker without one."""
        if client_id:
            logger.debug("Sending %s message to worker %s", msg_type, client_id)
        else:
            logger.debug("Sending %s message to all workers", msg_type)
        if self._link is None:
            self._unsent.append((msg_type, data, client_id))
        else:
            self._link.send_message(msg_type, data, client_id)

    def register_message(self, msg_type, listener, concurrent=False):
        if msg_type in self.custom_messages:
            raise Exception(f"Tried to register listener method for {msg_type}, but it already had a listener!")
        self.custom_messages[msg_type] = (listener, concurrent)
        if self._link is not None:
            self._link.listen(msg_type)

    def _deliver(self, msg_type, data, client_id):
        """Runs the listener of a custom message from worker ``client_id`` (as Locust's master)."""
        logger.debug("Received %s message from worker %s", msg_type, client_id)
        _call_listener(self.environment, self.custom_messages[msg_type], _Message(msg_type, data, client_id))


def _call_listener(environment, entry, msg):
    """Runs a custom message's listener (``entry``: listener and its ``concurrent`` flag) as
    Locust does: in a greenlet of its own when concurrent; an exception is logged."""
    listener, concurrent = entry
    try:
        if concurrent:
            gevent.spawn(listener, environment=environment, msg=msg)
        else:
            listener(environment=environment, msg=msg)
    except Exception:
        import traceback

        logging.error(f"Uncaught exception in handler for {msg.type}\n{traceback.format_exc()}")


class _Message:
    def __init__(self, type, data, node_id):
        self.type = type
        self.data = data
        self.node_id = node_id

