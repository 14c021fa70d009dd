"""``locust.env.Environment``: the user classes, events, statistics and runner of one test."""

import logging
import weakref

from .. import _core, _runtime
from .clients import parse_error
from .event import Events, RequestEventHook
from .stats import RequestStats
from .user.task import filter_tasks_by_tags


def _install_stats_listener(events, runtime):
    hook = events.request
    if not isinstance(hook, RequestEventHook) or hook._stats_listener is not None:
        return

    def record_request(request_type, name, response_time, response_length=0, exception=None, **_kw):
        # The runtime's store of the moment: a later Environment may have given it a fresh one.
        runtime.stats.record(
            request_type,
            name,
            response_time,
            response_length or 0,
            None if exception is None else parse_error(exception),
        )

    hook._stats_listener = record_request
    hook._handlers.insert(0, record_request)


#: The Environment whose statistics the standalone runtime records into (a weak reference).
_stats_owner = None


def _fresh_stats_for(env):
    """As in Locust, a new Environment starts with empty statistics. The clients record into
    the runtime's store (``runtime.stats``, read at each request), so a script or test suite
    that creates one Environment after another gets a new store for each; the previous
    Environment keeps its own. Not while the previous one's runner is still running (the two
    then share one store), and never in a locusta run, whose engine holds the store it
    installed."""
    global _stats_owner
    runtime = env.runtime
    if not getattr(runtime, "standalone", False):
        return
    if _stats_owner is not None:
        previous = _stats_owner()
        running = ("spawning", "running", "cleanup", "stopping")
        if previous is not None and previous.runner is not None and previous.runner.state in running:
            return
        runtime.stats = _core.Stats(runtime.max_entries)
    _stats_owner = weakref.ref(env)


class Environment:
    """Everything a test run shares; ``runner`` is set by ``create_local_runner()``."""

    def __init__(
        self,
        *,
        user_classes=None,
        shape_class=None,
        tags=None,
        locustfile=None,
        exclude_tags=None,
        events=None,
        host=None,
        reset_stats=False,
        stop_timeout=None,
        catch_exceptions=True,
        parsed_options=None,
        parsed_locustfiles=None,
        available_user_classes=None,
        available_shape_classes=None,
        available_user_tasks=None,
        dispatcher_class=None,
        profile=None,
    ):
        self.runtime = _runtime.current()
        if events is None:
            from . import events as global_events

            events = global_events if global_events is not None else Events()
        self.events = events
        _fresh_stats_for(self)
        _install_stats_listener(events, self.runtime)
        self.user_classes = list(user_classes or [])
        self.shape_class = shape_class
        self.tags = tags
        self.exclude_tags = exclude_tags
        self.locustfile = locustfile
        self.stats = RequestStats(self.runtime.stats)
        self.host = host
        self.reset_stats = reset_stats
        self.stop_timeout = stop_timeout
        self.catch_exceptions = catch_exceptions
        self.parsed_options = parsed_options
        self.parsed_locustfiles = parsed_locustfiles
        self.available_user_classes = available_user_classes
        self.available_shape_classes = available_shape_classes
        self.available_user_tasks = available_user_tasks
        self.profile = profile
        self.runner = None
        self.web_ui = None
        self.process_exit_code = None
        self.worker_logs = {}
        self._remove_user_classes_with_weight_zero()

    def _remove_user_classes_with_weight_zero(self):
        self.user_classes = [c for c in self.user_classes if c.weight != 0 or c.fixed_count]

    def update_user_class(self, user_settings):
        """Locust's ``update_user_class``: sets attributes of the user class named by
        ``user_settings["user_class_name"]`` (``tasks`` keeps the class's original tasks with
        these names). On a master it is also sent to every worker, which does the same."""
        from .runners import MasterRunner

        if isinstance(self.runner, MasterRunner):
            self.runner.send_message("update_user_class", user_settings)
        name = user_settings.get("user_class_name")
        user_class = (self.available_user_classes or {}).get(name)
        if user_class is None:
            logging.getLogger("locusta.runners").error("update_user_class: unknown user class %r", name)
            return
        apply_user_settings(user_class, user_settings, (self.available_user_tasks or {}).get(name, user_class.tasks))

    def _filter_tasks_by_tags(self):
        tags = set(self.tags) if self.tags is not None else None
        exclude = set(self.exclude_tags) if self.exclude_tags is not None else None
        if tags is None and exclude is None:
            return
        for cls in self.user_classes:
            filter_tasks_by_tags(cls, tags, exclude)

    def _log_exception(self, exc, tb):
        """Counts an exception from user code in the exceptions table."""
        self.runtime.stats.log_exception(str(exc), tb)
        if self.runner is not None:
            key = hash(tb)
            row = self.runner.exceptions.setdefault(key, {"count": 0, "msg": str(exc), "traceback": tb, "nodes": {"local"}})
            row["count"] += 1

    def create_local_runner(self):
        """Creates the single-process runner."""
        from .runners import LocalRunner

        self.runner = LocalRunner(self)
        return self.runner

    def create_master_runner(self, *args, **kwargs):
        raise NotImplementedError(
            "a master runner cannot be created from a script with locusta yet; run "
            "`locusta -f your_locustfile.py --master` (and workers with --worker) instead"
        )

    def create_worker_runner(self, *args, **kwargs):
        """Creates a worker's runner (``--worker``); the connection to the master is made by
        the worker loop (``locusta --worker``), so the master address arguments are unused."""
        from .runners import WorkerRunner

        self.runner = WorkerRunner(self)
        return self.runner

    def create_web_ui(self, *args, **kwargs):
        raise NotImplementedError(
            "the web UI cannot be started from a script with locusta yet; run "
            "`locusta -f your_locustfile.py` for the web UI, or leave create_web_ui out"
        )


def apply_user_settings(user_class, user_settings, original_tasks):
    """Sets the attributes ``user_settings`` names on ``user_class``; ``tasks`` keeps the tasks
    of ``original_tasks`` with those names (Locust's ``update_user_class`` and
    ``--config-users``)."""
    for key, value in user_settings.items():
        if key == "tasks":
            user_class.tasks = [t for t in original_tasks if getattr(t, "__name__", None) in value]
        elif key != "user_class_name":
            setattr(user_class, key, value)
