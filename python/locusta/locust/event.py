"""Locust's events (``locust.event``): ``EventHook`` and the ``Events`` collection.

Listeners run in registration order (``reverse=True`` runs them backwards, as ``quitting`` is
fired). Control-flow exceptions raised by a listener (StopUser, StopTest, RescheduleTask, ...)
propagate to the task, as in Locust; any other exception is logged and makes the exit code 2.
"""

import logging
import time
import traceback
from contextlib import contextmanager

from .exception import InterruptTaskSet, RescheduleTask, RescheduleTaskImmediately, StopTest, StopUser

_PASS_THROUGH = (StopUser, StopTest, RescheduleTask, RescheduleTaskImmediately, InterruptTaskSet)

#: Set when a listener raised an unexpected exception (Locust exits with code 2 then).
state = {"unhandled_exception": False}


class EventHook:
    """A list of listeners called with keyword arguments when the event fires."""

    def __init__(self):
        self._handlers = []

    def add_listener(self, handler):
        """Registers ``handler``; returns it so this works as a decorator."""
        self._handlers.append(handler)
        return handler

    def remove_listener(self, handler):
        """Unregisters ``handler`` (ValueError if it was not registered)."""
        self._handlers.remove(handler)

    def fire(self, *, reverse=False, **kwargs):
        """Calls every listener with ``kwargs``."""
        handlers = self._handlers[::-1] if reverse else self._handlers.copy()
        for handler in handlers:
            try:
                handler(**kwargs)
            except _PASS_THROUGH:
                raise
            except Exception:
                logging.error("Uncaught exception in event handler: \n%s", traceback.format_exc())
                state["unhandled_exception"] = True

    @contextmanager
    def measure(self, request_type, name, response_length=0, context=None):
        """Times the block and fires the event; an exception in the block marks a failure."""
        request_meta = {
            "request_type": request_type,
            "name": name,
            "response_length": response_length,
            "context": context or {},
            "exception": None,
            "start_time": time.time(),
        }
        t0 = time.perf_counter()
        try:
            yield request_meta
        except Exception as e:
            request_meta["exception"] = e
        finally:
            request_meta["response_time"] = (time.perf_counter() - t0) * 1000
            self.fire(**request_meta)


class RequestEventHook(EventHook):
    """The ``request`` event. Its first listener records statistics in Rust (like Locust's own
    stats listener); the built-in HTTP clients record directly and call only the user's
    listeners, and only when there are any."""

    def __init__(self, stats_listener=None):
        super().__init__()
        self._stats_listener = stats_listener
        if stats_listener is not None:
            self._handlers.append(stats_listener)

    @property
    def _stats_listener(self):
        return self._stats_only[0] if self._stats_only else None

    @_stats_listener.setter
    def _stats_listener(self, listener):
        #: ``_handlers`` when no user listener is registered: the HTTP client's per-request
        #: check for user listeners is then one list comparison, without a Python call.
        self._stats_only = [] if listener is None else [listener]

    def user_listeners(self):
        """The listeners other than the statistics recorder."""
        h = self._handlers
        if self._stats_listener is None:
            return h
        if len(h) == 1 and h[0] is self._stats_listener:
            return ()
        return [x for x in h if x is not self._stats_listener]

    def fire_user(self, **kwargs):
        """Fires to the user's listeners only (the request was recorded already)."""
        for handler in self.user_listeners():
            try:
                handler(**kwargs)
            except _PASS_THROUGH:
                raise
            except Exception:
                logging.error("Uncaught exception in event handler: \n%s", traceback.format_exc())
                state["unhandled_exception"] = True


class DeprecatedEventHook(EventHook):
    """An event kept for old locustfiles; adding a listener logs ``message``."""

    def __init__(self, message):
        self.message = message
        super().__init__()

    def add_listener(self, handler):
        logging.warning(self.message)
        return super().add_listener(handler)


_EVENT_NAMES = (
    "request",
    "user_error",
    "report_to_master",
    "worker_report",
    "worker_connect",
    "spawning_complete",
    "quitting",
    "quit",
    "init",
    "init_command_line_parser",
    "test_start",
    "test_stopping",
    "test_stop",
    "reset_stats",
    "cpu_warning",
    "heartbeat_sent",
    "heartbeat_received",
    "usage_monitor",
)


class Events:
    """Every Locust event as an attribute (``events.request``, ``events.test_start``, ...)."""

    def __init__(self):
        for name in _EVENT_NAMES:
            if name == "request":
                setattr(self, name, RequestEventHook())
            else:
                setattr(self, name, EventHook())
