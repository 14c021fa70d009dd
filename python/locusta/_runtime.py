"""The process-wide bridge to Rust: one HTTP I/O runtime (``_core.HttpIo``), one statistics
store, and the gevent io watcher that wakes parked users when their responses arrive.

A user's ``client.get()`` hands the request to the HTTP I/O runtime and parks its greenlet; the
watcher's callback (on the hub) drains completed exchanges and switches to each waiting
greenlet in turn.

Two I/O modes (``HttpIo.inline``): by default the tokio runtime runs on the hub's own thread
and is turned by the hub (the watcher watches the runtime's epoll descriptor; a timer turns it
for its timers), which spares a context switch per batch; with ``--threads N`` (or
``LOCUSTA_PY_IO=thread``) tokio runs on I/O threads and writes an eventfd when completions are
queued. No Python runs on the I/O threads.
"""

from collections import deque

import gevent
from greenlet import getcurrent
from greenlet import greenlet as _greenlet

from . import _core

_current = None

#: How often the hub turns an inline runtime when no socket woke it (seconds).
TIMER_TURN_S = 0.005

#: ``greenlet.switch`` itself: parking switches to the hub without gevent's ``Hub.switch``
#: wrapper (whose only extra is the legacy ``switch_out`` hook of the parked greenlet).
_switch = _greenlet.switch

#: The run's ``_core.OpenModel`` under ``--arrival-rate`` (headless runs), else None: users then
#: claim due slots instead of sleeping their wait time.
open_model = None


class Runtime:
    """The HTTP I/O runtime, the statistics and the greenlets whose responses are ready.

    Submitted requests are handed to the I/O threads in batches: the first submission of a turn
    of gevent's loop schedules one ``flush`` callback, which runs after the greenlets already
    scheduled in that turn had their chance to submit too.
    """

    def __init__(self, threads=1, max_entries=1000, http2=None):
        self.http_io = _core.HttpIo(threads, http2=http2)
        self._inline = self.http_io.inline
        self.stats = _core.Stats(max_entries)
        self.max_entries = max_entries
        #: (greenlet, result) pairs handed out by ``_on_ready`` and not yet switched to.
        self._ready = deque()
        self._watcher = None
        self._timer = None
        self._hub = None
        self._loop = None
        self._flush_scheduled = False
        #: True for the runtime ``current()`` made on demand (no locusta run installed one).
        self.standalone = False

    def _ensure_watcher(self):
        hub = gevent.get_hub()
        if self._watcher is not None and self._hub is hub:
            return
        self._hub = hub
        self._loop = hub.loop
        self._flush_scheduled = False
        self._watcher = hub.loop.io(self.http_io.fileno(), 1)
        self._watcher.start(self._on_ready)
        if self._inline:
            # Turns the runtime for its timers (connect/read timeouts) when no socket wakes it.
            # Unreferenced: it alone must not keep the loop alive.
            self._timer = hub.loop.timer(TIMER_TURN_S, TIMER_TURN_S, ref=False)
            self._timer.start(self._on_ready)

    def _on_ready(self):
        """Hands the completed exchanges to their greenlets, once per wake-up.

        The greenlets run one after another without coming back here in between: each one,
        when it parks on its next request, switches straight to the next ready greenlet
        (``_park``), the last one back to the hub. That is one switch per request instead of
        two. Whatever switches to the hub meanwhile (a greenlet that sleeps or ends) resumes
        this loop, which then starts the next ready greenlet itself.

        The woken users submit their next requests while this runs, and their ``_park``
        schedules the next ``_flush``; returning to the loop in between (instead of draining
        again here) lets timers and other watchers run even when every exchange completes
        within the turn that started it (a refused connection, say)."""
        ready = self._ready
        ready.extend(self.http_io.drain())
        while ready:
            glet, raw = ready.popleft()
            glet.switch(raw)

    def _flush(self):
        self._flush_scheduled = False
        if self._inline:
            # drain() spawns the queued jobs inside the runtime and turns it (and hands over any
            # exchange that already ended).
            self._on_ready()
        else:
            self.http_io.flush()

    def _park(self, token):
        """Parks the calling greenlet until ``token``'s exchange completes; returns it.

        The greenlet itself is the waiter (submitted with the request): whoever hands out the
        result switches to it with the result (the hub in ``_on_ready``, or another user parking
        after it). Meanwhile the CPU goes to the next greenlet whose result is ready, else to the
        hub. Completions are only handed out that way, so none can arrive before the greenlet
        parked."""
        if not self._flush_scheduled:
            self._flush_scheduled = True
            self._loop.run_callback(self._flush)
        try:
            if self._ready:
                glet, raw = self._ready.popleft()
                return _switch(glet, raw)
            return _switch(self._hub)
        except BaseException:
            # Killed while parked: the completion, handed out already or still to come, is dropped.
            self._forget(token)
            raise

    def _forget(self, token):
        current = getcurrent()
        for entry in self._ready:
            if entry[0] is current:
                self._ready.remove(entry)
                return
        self.http_io.cancel(token)

    def get(self, session, url, name=None, record=True, params=None):
        """``session.get(url)`` with every default, for a caller without request listeners:
        sent and timed by Rust, and when ``record`` (no ``catch_response``) recorded there too
        under ``name``, else Locust's default name. Parks the calling greenlet until the exchange
        completes; returns its RawResponse. ``params``: query pairs (``_pairs``) added to the URL.

        The hot path of a locustfile: it parks as ``_park`` does, inlined, so a request costs one
        Python call here, as before this method existed."""
        if self._hub is None:
            self._ensure_watcher()
        token = self.http_io.submit_get(session, getcurrent(), url, self.stats if record else None, name, params)
        if not self._flush_scheduled:
            self._flush_scheduled = True
            self._loop.run_callback(self._flush)
        try:
            if self._ready:
                glet, raw = self._ready.popleft()
                return _switch(glet, raw)
            return _switch(self._hub)
        except BaseException:
            self._forget(token)
            raise

    def send(self, session, method, url, *args):
        """Sends one request and parks the calling greenlet until it completes; returns the
        RawResponse (timed in Rust)."""
        if self._hub is None:
            self._ensure_watcher()
        return self._park(self.http_io.submit(session, getcurrent(), method, url, *args))

    def read_body(self, raw):
        """The next piece of ``raw``'s streamed body (``stream=True``), parking the calling
        greenlet until it arrives: bytes, ``b""`` at the end, or an ``(error kind, text)`` pair."""
        if self._hub is None:
            self._ensure_watcher()
        return self._park(self.http_io.submit_read(raw, getcurrent()))

    def grpc_channel(self, target, verify=True):
        """A new gRPC channel (one user's HTTP/2 session) to ``target`` (``host:port`` or a URL)."""
        return _core.GrpcChannelCore(self.http_io, target, verify)

    def grpc_call(self, channel, method, request, timeout, metadata, streaming, stream_requests=None):
        """One gRPC call on ``channel``, parking the calling greenlet until it ends: returns
        ``(messages, code, details, response_time_ms, response_length, initial_metadata,
        trailing_metadata)``. ``stream_requests``: the serialized request messages of a
        client-streaming or bidirectional call (``request`` is then unused)."""
        if self._hub is None:
            self._ensure_watcher()
        return self._park(
            _core.grpc_submit(
                self.http_io, channel, getcurrent(), method, request, timeout, metadata, streaming, stream_requests
            )
        )

    def grpc_open(self, channel, method, request, timeout, metadata, stream_requests=None):
        """Starts a call with a streamed response on ``channel`` (bidirectional with
        ``stream_requests``), parking until its response head is in (or it failed to start);
        returns its ``GrpcCallCore``."""
        if self._hub is None:
            self._ensure_watcher()
        return self._park(
            _core.grpc_open(self.http_io, channel, getcurrent(), method, request, timeout, metadata, stream_requests)
        )

    def grpc_next(self, call):
        """The next message of a streaming call, parking until it arrives: bytes, None at the
        call's OK end, or ``(code, details)`` when it ended otherwise."""
        if self._hub is None:
            self._ensure_watcher()
        return self._park(_core.grpc_next(self.http_io, call, getcurrent()))

    def close(self):
        if self._watcher is not None:
            self._watcher.stop()
            self._watcher = None
        if self._timer is not None:
            self._timer.stop()
            self._timer = None
        self.http_io.close()


def current():
    """The process's runtime, created on first use (then ``standalone``: a script using
    locust as a library, not a locusta run, which installs its own)."""
    global _current
    if _current is None:
        _current = Runtime()
        _current.standalone = True
    return _current


def install(runtime):
    """Makes ``runtime`` the process's runtime (the CLI does this with its options)."""
    global _current
    _current = runtime
    return runtime
