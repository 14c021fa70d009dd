"""The process-wide bridge to the Rust engine: one tokio I/O runtime and one statistics store,
and the gevent io watcher that wakes parked users when their responses arrive.

A user's ``client.get()`` calls :func:`request`: the request goes to tokio, the greenlet parks
on a ``gevent.hub.Waiter``; the watcher's callback (on the hub) drains completed exchanges and
switches each waiting greenlet.

Two I/O modes (``Engine.inline``): by default the tokio runtime runs on the hub's own thread
and is turned by the hub (the watcher watches the runtime's epoll descriptor; a timer turns it
for its timers), which spares a context switch per batch; with ``--threads N`` (or
``LOCUSTA_PY_IO=thread``) tokio runs on I/O threads and writes an eventfd when completions are
queued. No Python runs on the I/O threads.
"""

import gevent
from greenlet import getcurrent

from . import _core

_current = None

#: How often the hub turns an inline runtime when no socket woke it (seconds).
TIMER_TURN_S = 0.005

#: The run's ``_core.OpenModel`` under ``--arrival-rate`` (headless runs), else None: users then
#: claim due slots instead of sleeping their wait time.
open_model = None


class Runtime:
    """The engine, the statistics and the table of parked requests.

    Submitted requests are handed to the I/O threads in batches: the first submission of a turn
    of gevent's loop schedules one ``flush`` callback, which runs after the greenlets already
    scheduled in that turn had their chance to submit too.
    """

    def __init__(self, threads=1, max_entries=1000):
        self.engine = _core.Engine(threads)
        self._inline = self.engine.inline
        self.stats = _core.Stats(max_entries)
        self.waiters = {}
        self._watcher = None
        self._timer = None
        self._hub = None
        self._loop = None
        self._flush_scheduled = False

    def _ensure_watcher(self):
        hub = gevent.get_hub()
        if self._watcher is not None and self._hub is hub:
            return
        self._hub = hub
        self._loop = hub.loop
        self._flush_scheduled = False
        self._watcher = hub.loop.io(self.engine.fileno(), 1)
        self._watcher.start(self._on_ready)
        if self._inline:
            # Turns the runtime for its timers (connect/read timeouts) when no socket wakes it.
            # Unreferenced: it alone must not keep the loop alive.
            self._timer = hub.loop.timer(TIMER_TURN_S, TIMER_TURN_S, ref=False)
            self._timer.start(self._on_ready)

    def _on_ready(self):
        """Hands the completed exchanges to their greenlets, once per wake-up.

        The woken users submit their next requests while this runs, and their ``_park``
        schedules the next ``_flush``; returning to the loop in between (instead of draining
        again here) lets timers and other watchers run even when every exchange completes
        within the turn that started it (a refused connection, say)."""
        waiters = self.waiters
        for token, raw in self.engine.drain():
            w = waiters.pop(token, None)
            if w is not None:
                w.switch(raw)

    def _flush(self):
        self._flush_scheduled = False
        if self._inline:
            # drain() spawns the queued jobs inside the runtime and turns it (and hands over any
            # exchange that already ended).
            self._on_ready()
        else:
            self.engine.flush()

    def _park(self, token):
        """Parks the calling greenlet until ``token``'s exchange completes; returns it.

        The greenlet itself is the waiter (``_on_ready`` switches to it with the result), as
        ``gevent.hub.Waiter`` would do for a result that cannot arrive before the switch to the
        hub: completions are only handed out by the hub."""
        if not self._flush_scheduled:
            self._flush_scheduled = True
            self._loop.run_callback(self._flush)
        self.waiters[token] = getcurrent()
        try:
            return self._hub.switch()
        except BaseException:
            # Killed while parked: forget the token; a late completion is dropped.
            self.waiters.pop(token, None)
            raise

    def send(self, session, method, url, *args):
        """Sends one request and parks the calling greenlet until it completes; returns the
        RawResponse (timed in Rust)."""
        if self._hub is None:
            self._ensure_watcher()
        return self._park(self.engine.submit(session, method, url, *args))

    def send_get(self, session, url):
        """``GET url`` with every default, recorded in the statistics by Rust (under Locust's
        default name) when it completes; returns the RawResponse. (``_park`` inlined: this is
        the path of most requests.)"""
        if self._hub is None:
            self._ensure_watcher()
        token = self.engine.submit_get(session, url, self.stats)
        if not self._flush_scheduled:
            self._flush_scheduled = True
            self._loop.run_callback(self._flush)
        self.waiters[token] = getcurrent()
        try:
            return self._hub.switch()
        except BaseException:
            self.waiters.pop(token, None)
            raise

    def close(self):
        if self._watcher is not None:
            self._watcher.stop()
            self._watcher = None
        if self._timer is not None:
            self._timer.stop()
            self._timer = None
        self.engine.close()


def current():
    """The process's runtime, created on first use."""
    global _current
    if _current is None:
        _current = Runtime()
    return _current


def install(runtime):
    """Makes ``runtime`` the process's runtime (the CLI does this with its options)."""
    global _current
    _current = runtime
    return runtime
