"""``locust.contrib.socketio`` (Locust 2.47's ``SocketIOUser``): Socket.IO users on
python-socketio.

Locust's ``SocketIOClient`` *is* a ``socketio.Client`` (its example calls
``socketio.Client.call(self.sio, ...)`` to send without recording), so the same class
hierarchy is kept here: the Socket.IO protocol and its connection run in python-socketio (a
locusta dependency, as it is Locust's), under gevent, exactly as in Locust; only the recording
goes through locusta's ``events.request``. The rows are Locust's:

    WS   connect     ``connect()`` (time until connected)
    WSS  <name>      ``send(data, name=...)`` (response time 0, length of data)
    WSE  <event>     ``emit(event, data)`` (response time 0)
    WSC  <event>     ``call(event, data)`` (time until the acknowledgement)
    WSR  <event>     every event received (``on_message``, response time 0)

For WebSocket traffic run by the Rust engine, see ``locust.contrib.websocket.WebSocketUser``.
"""

from typing import Any

import gevent
import socketio

from ..user.users import User

__all__ = ["SocketIOClient", "SocketIOUser"]


def _length(data):
    try:
        return len(data or [])
    except TypeError:
        return 0


class SocketIOClient(socketio.Client):
    """A ``socketio.Client`` that records what it does through ``request_event``."""

    def __init__(self, request_event, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.request_event = request_event

    def _report(self, request_type, name, data, exception):
        self.request_event.fire(
            request_type=request_type,
            name=name,
            response_time=0,
            response_length=_length(data),
            exception=exception,
            context={},
        )

    def connect(self, *args, **kwargs):
        """``socketio.Client.connect``, recorded as ``WS connect``."""
        with self.request_event.measure("WS", "connect"):
            super().connect(*args, **kwargs)

    def send(self, data, namespace=None, callback=None, name="Unnamed") -> None:
        """``socketio.Client.send``, recorded as ``WSS`` under ``name``; a failure is recorded,
        not raised (as in Locust)."""
        failure = None
        try:
            super().send(data, namespace, callback)
        except Exception as e:  # noqa: BLE001 - recorded as the request's failure, as Locust does
            failure = e
        self._report("WSS", name, data, failure)

    def emit(self, event, data=None, namespace=None, callback=None) -> None:
        """``socketio.Client.emit``, recorded as ``WSE`` under the event's name; a failure is
        recorded, not raised (as in Locust)."""
        failure = None
        try:
            super().emit(event, data, namespace, callback)
        except Exception as e:  # noqa: BLE001 - recorded as the request's failure, as Locust does
            failure = e
        self._report("WSE", str(event), data, failure)

    def call(self, event, data=None, *args, **kwargs):
        """``socketio.Client.call`` (emit and wait for the acknowledgement), recorded as ``WSC``
        with the time until the answer."""
        with self.request_event.measure("WSC", event):
            return super().call(event, data, *args, **kwargs)

    def on_message(self, event: str, data: str) -> None:
        """Records a received event as ``WSR`` (response time 0). The catch-all handler of
        ``SocketIOUser``; a handler of your own can call it to keep the row."""
        self._report("WSR", event, data, None)


class SocketIOUser(User):
    """A user with ``self.sio``, a :class:`SocketIOClient` built with ``options`` (keyword
    arguments of ``socketio.Client``); every received event is recorded."""

    abstract = True
    #: Keyword arguments of ``socketio.Client`` (``reconnection_attempts``, ``logger``, ...).
    options: dict[str, Any] = {}
    sio: SocketIOClient

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.sio = SocketIOClient(self.environment.events.request, **self.options)
        self.sio_greenlet = gevent.spawn(self.sio.wait)
        self.sio.on("*", self.sio.on_message)
