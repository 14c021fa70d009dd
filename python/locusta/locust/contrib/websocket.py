"""``WebSocketUser`` (a locusta addition, not in Locust): WebSocket users whose connection,
frames and timing live in the Rust engine.

``self.connect(url)`` opens a connection (a path is joined to the user's host, ``http`` becoming
``ws`` and ``https`` ``wss``) and returns a :class:`WebSocketClient`, also kept as ``self.ws``.
Every operation parks only the calling greenlet, like an HTTP request, and is recorded through
``events.request`` (so the statistics and any listener see it), with the request types Locust's
``SocketIOUser`` uses::

    WS   <name>   connect (handshake time)                 and  request() pairs (round trip)
    WSS  <name>   a sent message (time to write, its size)
    WSR  <name>   a received message (response time 0, as Locust's SocketIOUser; its size)
    WSP  <name>   ping() until its pong

``<name>`` is the connection's name (``connect(name=...)``, default the URL's path) or the one
given to the call. When the user stops (the run ends, the ramp-down or a shape removes it, or
its greenlet is killed), the connections it has not closed itself (``on_stop`` may close them
with a closing handshake) are ended at once, so the server sees them go. Failures (refused handshake, timeout, closed connection) are recorded on the
operation's row and raised as the exceptions below; a task that does not catch them ends its
iteration as with any exception.

Example::

    from locust import task
    from locust.contrib.websocket import WebSocketUser

    class EchoUser(WebSocketUser):
        host = "http://127.0.0.1:8089"

        def on_start(self):
            self.connect("/ws/echo", recv_timeout=5)

        @task
        def echo(self):
            self.ws.send("hello")
            self.ws.recv()
            self.ws.request("ping 1", match=lambda m: m == "ping 1", name="echo pair")

        def on_stop(self):
            self.ws.close()
"""

import weakref

from greenlet import getcurrent

from ... import _core, _runtime
from ..clients import os_error_from_text
from ..user.users import User

__all__ = [
    "WebSocketBadStatusException",
    "WebSocketClient",
    "WebSocketConnectionClosedException",
    "WebSocketException",
    "WebSocketProtocolException",
    "WebSocketTimeoutException",
    "WebSocketUser",
]


class WebSocketException(Exception):
    """Base of the WebSocket failures."""


class WebSocketBadStatusException(WebSocketException):
    """The server refused the handshake (its HTTP status is ``status_code``)."""

    def __init__(self, message, status_code=0):
        super().__init__(message)
        self.status_code = status_code


class WebSocketTimeoutException(WebSocketException, TimeoutError):
    """No (matching) message within the time limit; the connection stays usable."""


class WebSocketConnectionClosedException(WebSocketException):
    """The connection is closed (by the server, or by ``close()``)."""


class WebSocketProtocolException(WebSocketException):
    """The server broke the WebSocket protocol, or the socket failed."""


def _exception(kind, message):
    if kind == "handshake":
        try:
            status = int(message.split()[2])
        except (IndexError, ValueError):
            status = 0
        return WebSocketBadStatusException(message, status)
    if kind == "timeout":
        return WebSocketTimeoutException(message)
    if kind == "closed":
        return WebSocketConnectionClosedException(message)
    if kind == "connect_timeout":
        return TimeoutError(message)
    if kind == "invalid_url":
        return ValueError(message)
    if kind == "connect":
        return os_error_from_text(message) or ConnectionError(message)
    return WebSocketProtocolException(message)


def _size(data):
    return len(data.encode("utf-8")) if isinstance(data, str) else len(data or b"")


class WebSocketClient:
    """One open WebSocket connection (see the module's doc). Messages are ``str`` (text) or
    ``bytes`` (binary). Greenlets of the same user may share it: a ``recv`` waiting in one does
    not hold up a ``send`` from another."""

    def __init__(self, conn, name, request_event, rt, recv_timeout, user=None):
        self._conn = conn
        self.name = name
        self._event = request_event
        self._rt = rt
        # the open model's start delay of the user's iteration is added to timed rows
        self._user = None if user is None else weakref.ref(user)
        #: Default limit, in seconds, of ``recv``, ``request`` and ``ping`` (None: no limit).
        self.recv_timeout = recv_timeout

    @property
    def protocol(self):
        """The subprotocol the server chose, or None."""
        return self._conn.protocol

    @property
    def closed(self):
        """Whether the connection is closed."""
        return self._conn.closed

    def _fire(self, request_type, name, seconds, length, exception):
        if request_type != "WSR" and _runtime.open_model is not None and self._user is not None:
            seconds += _schedule_lag(self._user())
        self._event.fire(
            request_type=request_type,
            name=name,
            response_time=seconds * 1000.0,
            response_length=length,
            response=None,
            context={},
            exception=exception,
        )

    def _run(self, submit, *args):
        rt = self._rt
        if rt._hub is None:
            rt._ensure_watcher()
        return rt._park(submit(rt.http_io, getcurrent(), *args))

    def send(self, data, name=None):
        """Sends ``data`` (``str``: text, ``bytes``: binary); recorded as ``WSS``."""
        elapsed, _, kind, message = self._run(self._conn.submit_send, data)
        exc = None if kind is None else _exception(kind, message)
        self._fire("WSS", name or self.name, elapsed, _size(data), exc)
        if exc is not None:
            raise exc

    def _recv(self, timeout):
        return self._run(self._conn.submit_recv, self.recv_timeout if timeout is None else timeout)

    def recv(self, timeout=None, name=None):
        """The next message, waiting at most ``timeout`` seconds (default ``recv_timeout``);
        recorded as ``WSR``. Raises ``WebSocketTimeoutException`` or
        ``WebSocketConnectionClosedException``."""
        _, data, kind, message = self._recv(timeout)
        exc = None if kind is None else _exception(kind, message)
        self._fire("WSR", name or self.name, 0.0, 0 if data is None else _size(data), exc)
        if exc is not None:
            raise exc
        return data

    def request(self, data, match=None, name=None, timeout=None):
        """Sends ``data``, then waits for the first message ``match(message)`` accepts (default:
        the first message) within ``timeout`` seconds of the send; returns it. The pair is
        recorded as ``WS`` under ``name`` (default: the connection's name) with the round trip
        time; other messages arriving meanwhile are recorded as ``WSR`` and dropped."""
        name = name or self.name
        limit = self.recv_timeout if timeout is None else timeout
        elapsed, _, kind, message = self._run(self._conn.submit_send, data)
        total = elapsed
        exc = None if kind is None else _exception(kind, message)
        reply = None
        while exc is None:
            left = None if limit is None else limit - total
            if left is not None and left <= 0:
                exc = WebSocketTimeoutException(f"no message within {limit:.3f} s")
                break
            waited, got, kind, message = self._recv(left)
            total += waited
            if kind is not None:
                exc = _exception(kind, message)
                if kind == "timeout":
                    exc = WebSocketTimeoutException(f"no message within {limit:.3f} s")
                break
            if match is None or match(got):
                reply = got
                break
            self._fire("WSR", self.name, 0.0, _size(got), None)
        self._fire("WS", name, total, 0 if reply is None else _size(reply), exc)
        if exc is not None:
            raise exc
        return reply

    def ping(self, timeout=None, name=None):
        """Sends a ping and waits for its pong; recorded as ``WSP`` with the round trip time,
        which is returned in seconds. Messages arriving meanwhile wait for the next ``recv``."""
        limit = self.recv_timeout if timeout is None else timeout
        elapsed, _, kind, message = self._run(self._conn.submit_ping, limit)
        exc = None if kind is None else _exception(kind, message)
        self._fire("WSP", name or self.name, elapsed, 0, exc)
        if exc is not None:
            raise exc
        return elapsed

    def close(self, timeout=None):
        """Closes the connection with a closing handshake (at most ``timeout`` seconds, default
        5). Not recorded; closing a closed connection does nothing."""
        self._run(self._conn.submit_close, timeout)

    def _abort(self):
        """Ends the connection at once, without a closing handshake (its user stopped)."""
        self._conn.abort()


class WebSocketUser(User):
    """A user with WebSocket connections run by the Rust engine (a locusta addition): see
    ``connect``. ``self.ws`` is the last connection opened."""

    abstract = True
    #: The last connection ``connect`` opened (None before).
    ws = None

    def _ended(self):
        # The user has stopped: end what it left open at once, rather than when the garbage
        # collector gets to the user (a user and its task set reference each other). Not an
        # override of run(), so that an idle WebSocket user rests without a greenlet.
        for client in list(self.__dict__.pop("_ws_clients", ())):
            client._abort()

    def connect(self, url, name=None, headers=None, subprotocols=None, timeout=None, recv_timeout=None):
        """Opens a WebSocket connection to ``url`` and returns it (also as ``self.ws``).

        ``url``: a path joined to the user's host, or ``ws://``/``wss://``. ``name``: the stats
        name of its rows (default: the URL's path). ``headers``: extra handshake headers (a
        dict). ``subprotocols``: offered subprotocols, preferred first (the chosen one is
        ``.protocol``). ``timeout``: seconds for connecting and the handshake. ``recv_timeout``:
        the connection's default limit for ``recv``, ``request`` and ``ping``. Recorded as
        ``WS``; a failure is recorded and raised."""
        rt = _runtime.current()
        if rt._hub is None:
            rt._ensure_watcher()
        # The session only gives the host and the client's settings (no cookies or headers of
        # the user go into a handshake), so users of one host share one.
        sessions = rt.__dict__.setdefault("_ws_sessions", {})
        session = sessions.get(self.host)
        if session is None:
            session = sessions[self.host] = rt.http_io.session(self.host)
        url = str(url)
        if name is None:
            name = _path_of(url)
        pairs = [(str(k), str(v)) for k, v in (headers or {}).items()]
        token = _core_connect(rt, session, url, pairs, [str(p) for p in subprotocols or ()], timeout)
        elapsed, conn, kind, message = rt._park(token)
        exc = None if kind is None else _exception(kind, message)
        event = self.environment.events.request
        event.fire(
            request_type="WS",
            name=name,
            response_time=(elapsed + _schedule_lag(self)) * 1000.0,
            response_length=0,
            response=None,
            context={},
            exception=exc,
        )
        if exc is not None:
            raise exc
        self.ws = WebSocketClient(conn, name, event, rt, recv_timeout, self)
        # weakly: a client the user no longer references closes when Python frees it
        self.__dict__.setdefault("_ws_clients", weakref.WeakSet()).add(self.ws)
        return self.ws


def _schedule_lag(user):
    """The open model's start delay (seconds) of ``user``'s current iteration (0 in the closed
    model): added to the response times of its timed rows, as to its HTTP requests."""
    return getattr(user, "_schedule_lag", 0.0) or 0.0


def _core_connect(rt, session, url, headers, subprotocols, timeout):
    return _core.ws_connect(rt.http_io, session, getcurrent(), url, headers, subprotocols, timeout)


def _path_of(url):
    from urllib.parse import urlsplit

    if "://" in url:
        return urlsplit(url).path or "/"
    return url.split("?", 1)[0].split("#", 1)[0]
