"""``GrpcUser``: gRPC users shaped like Locust's documented gRPC example (``examples/grpc`` in
Locust's repository), with the calls made by locusta's Rust HTTP/2 client.

A locustfile written for that example ports by changing one import::

    from locust.contrib.grpc import GrpcUser      # instead of: from grpc_user import GrpcUser

    class HelloGrpcUser(GrpcUser):
        host = "localhost:50051"
        stub_class = hello_pb2_grpc.HelloServiceStub

        @task
        def say_hello(self):
            self.stub.SayHello(hello_pb2.HelloRequest(name="Test"))

``self.stub`` is the grpcio-generated stub built on a locusta channel: the stub's methods call
the channel's ``unary_unary`` / ``unary_stream`` with the generated (de)serializers, so messages
are the generated classes, while the bytes travel through Rust (no grpcio channel, no
``grpc.experimental.gevent``). Each call is recorded as the example records it: request_type
``grpc``, named by the method path (``/locust.hello.HelloService/SayHello``), its response time
and response length (bytes of the response messages); a status other than OK raises an
``RpcError`` (a ``grpc.RpcError`` when grpcio is installed) with ``code()`` and ``details()`` and
is recorded as a failure. ``events.request`` listeners fire as for HTTP requests.

Every kind of method is supported: unary-unary, unary-stream (server streaming), stream-unary
(client streaming) and stream-stream (bidirectional); each call is one request in the
statistics. A call with a streamed response starts when the stub method is called and returns
an iterator that hands over each message as it arrives; the call is recorded once, when the
stream ends (or is cancelled or dropped: then as a success with what arrived so far). The
request iterator of a client-streaming or bidirectional call is read to its end before the call
starts, and its messages are sent together: a request cannot wait for a response of the same
call (a ping-pong conversation), which grpcio allows.

Metadata: ``metadata=`` is sent with the call (``-bin`` keys take bytes, sent as base64);
``initial_metadata()`` and ``trailing_metadata()`` of ``with_call``'s call object, of an
``RpcError`` and of a response iterator give the server's, as grpcio does: a tuple of
``(key, value)`` pairs, ``bytes`` values for ``-bin`` keys, ``str`` otherwise.
"""

import base64
import enum
import logging

from ... import _runtime
from ..clients import parse_error
from ..exception import LocustError
from ..user.users import User

try:  # grpcio is optional: with it, errors and codes are grpcio's own types
    import grpc as _grpc
except ImportError:  # pragma: no cover - depends on the environment
    _grpc = None

__all__ = ["GrpcUser", "GrpcChannel", "RpcError", "StatusCode", "insecure_channel"]

_CODE_NAMES = (
    "OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND",
    "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION", "ABORTED",
    "OUT_OF_RANGE", "UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS", "UNAUTHENTICATED",
)

if _grpc is not None:
    StatusCode = _grpc.StatusCode
    _RpcErrorBase = _grpc.RpcError
else:

    class StatusCode(enum.Enum):
        """gRPC status codes, as ``grpc.StatusCode`` (value: (number, lower-case name))."""

        OK = (0, "ok")
        CANCELLED = (1, "cancelled")
        UNKNOWN = (2, "unknown")
        INVALID_ARGUMENT = (3, "invalid argument")
        DEADLINE_EXCEEDED = (4, "deadline exceeded")
        NOT_FOUND = (5, "not found")
        ALREADY_EXISTS = (6, "already exists")
        PERMISSION_DENIED = (7, "permission denied")
        RESOURCE_EXHAUSTED = (8, "resource exhausted")
        FAILED_PRECONDITION = (9, "failed precondition")
        ABORTED = (10, "aborted")
        OUT_OF_RANGE = (11, "out of range")
        UNIMPLEMENTED = (12, "unimplemented")
        INTERNAL = (13, "internal")
        UNAVAILABLE = (14, "unavailable")
        DATA_LOSS = (15, "data loss")
        UNAUTHENTICATED = (16, "unauthenticated")

    class _RpcErrorBase(Exception):
        """grpcio's ``grpc.RpcError`` where grpcio is not installed."""


def _code(number):
    name = _CODE_NAMES[number] if 0 <= number < len(_CODE_NAMES) else "UNKNOWN"
    return getattr(StatusCode, name)


def _metadata(pairs):
    """The server's metadata as grpcio hands it over: a tuple of (key, value) pairs, the value
    ``bytes`` (decoded from base64) for a ``-bin`` key, else ``str``."""
    out = []
    for key, raw in pairs or ():
        if key.endswith("-bin"):
            try:
                value = base64.b64decode(raw + b"=" * (-len(raw) % 4))
            except ValueError:
                value = bytes(raw)
        else:
            value = raw.decode("utf-8", "replace")
        out.append((key, value))
    return tuple(out)


#: grpcio arguments locusta's channel does not apply, and what happens instead.
_IGNORED = {
    "credentials": "per-call credentials are not supported; send a token with metadata= instead",
    "wait_for_ready": "calls do not wait for the channel to be ready: a refused connection fails at once "
    "with UNAVAILABLE",
    "compression": "requests are sent uncompressed (gzip-compressed responses are decoded)",
    "options": "channel options are not applied (messages up to 4 MiB are accepted)",
}
_warned = set()


def _warn_ignored(**arguments):
    """Warns once per argument that a call or channel was given something it does not apply."""
    for key, value in arguments.items():
        if value is None or value is False or key in _warned:
            continue
        if key == "compression":
            try:
                if int(value) == 0:  # grpc.Compression.NoCompression: what is done anyway
                    continue
            except (TypeError, ValueError):
                pass
        _warned.add(key)
        logging.getLogger(__name__).warning("locusta's gRPC channel ignores %s=...: %s", key, _IGNORED[key])


class _CallStatus:
    """grpcio's accessors of a finished call: its status and the server's metadata."""

    _initial = ()
    _trailing = ()

    def code(self):
        return self._code

    def details(self):
        return self._details

    def trailing_metadata(self):
        return self._trailing

    def initial_metadata(self):
        return self._initial


class RpcError(_CallStatus, _RpcErrorBase):
    """A call that ended with a status other than OK, as grpcio raises it: ``code()`` is a
    ``StatusCode``, ``details()`` the server's ``grpc-message`` (or what the client saw)."""

    def __init__(self, code, details, method=None, initial=(), trailing=()):
        super().__init__(code, details)
        self._code = code
        self._details = details
        self._method = method
        self._initial = initial
        self._trailing = trailing

    def __str__(self):
        return repr(self)

    def __repr__(self):
        return f'<RpcError of RPC that terminated with: status = {self._code} details = "{self._details}">'


class _Call(_CallStatus):
    """The call object of ``with_call``: its status after the call."""

    def __init__(self, code, details, initial=(), trailing=()):
        self._code = code
        self._details = details
        self._initial = initial
        self._trailing = trailing

    def is_active(self):
        return False


def _metadata_pairs(metadata):
    if not metadata:
        return None
    pairs = []
    for key, value in metadata:
        if isinstance(value, bytes):
            if not key.endswith("-bin"):
                raise ValueError(f"metadata {key!r} has a bytes value: binary metadata keys end in '-bin'")
            value = base64.b64encode(value).decode("ascii")
        pairs.append((str(key).lower(), str(value)))
    return pairs


class _Method:
    """A callable for one method of a channel, as grpcio's multi-callables: the request is one
    message, or an iterator of messages (``request_streaming``); the response one message, or
    an iterator (``streaming``)."""

    def __init__(self, channel, method, request_serializer, response_deserializer, streaming,
                 request_streaming=False):
        self._channel = channel
        self._method = method if isinstance(method, str) else method.decode("utf-8")
        self._serialize = request_serializer
        self._deserialize = response_deserializer
        self._streaming = streaming
        self._request_streaming = request_streaming

    def _encode(self, request):
        serialize = self._serialize
        return bytes(request if serialize is None else serialize(request))

    def _invoke(self, request, timeout, metadata):
        if self._request_streaming:
            # the whole request stream is sent as the call starts
            payload, stream_requests = b"", [self._encode(r) for r in request]
        else:
            payload, stream_requests = self._encode(request), None
        channel = self._channel
        pairs = _metadata_pairs(metadata)
        if self._streaming:
            core = channel._rt.grpc_open(channel._core, self._method, payload, timeout, pairs, stream_requests)
            return _ServerStream(channel, self._method, core, self._deserialize), None
        messages, number, details, response_time, length, initial, trailing = channel._rt.grpc_call(
            channel._core, self._method, payload, timeout, pairs, False, stream_requests
        )
        initial, trailing = _metadata(initial), _metadata(trailing)
        exception = None if number == 0 else RpcError(_code(number), details, self._method, initial, trailing)
        deserialize = self._deserialize
        decoded = [m if deserialize is None else deserialize(m) for m in messages]
        response = None if exception is not None else decoded[0]
        channel._record(self._method, response_time, length, response, exception)
        return response, exception if exception is not None else _Call(_code(number), details, initial, trailing)

    def __call__(self, request, timeout=None, metadata=None, credentials=None, wait_for_ready=None, compression=None):
        if credentials is not None or wait_for_ready or compression is not None:
            _warn_ignored(credentials=credentials, wait_for_ready=wait_for_ready, compression=compression)
        response, outcome = self._invoke(request, timeout, metadata)
        if isinstance(outcome, RpcError):
            raise outcome
        return response

    def with_call(self, request, timeout=None, metadata=None, credentials=None, wait_for_ready=None, compression=None):
        if credentials is not None or wait_for_ready or compression is not None:
            _warn_ignored(credentials=credentials, wait_for_ready=wait_for_ready, compression=compression)
        if self._streaming:
            raise AttributeError("with_call is for methods with a unary response (unary-unary, stream-unary)")
        response, outcome = self._invoke(request, timeout, metadata)
        if isinstance(outcome, RpcError):
            raise outcome
        return response, outcome

    def future(self, *args, **kwargs):
        raise NotImplementedError(
            "locusta's gRPC channel makes blocking calls only (each user is a greenlet): call the "
            "method directly instead of .future()"
        )


class _ServerStream:
    """The iterator a call with a streamed response returns: each ``next()`` parks until the
    next message arrives; the end raises ``StopIteration`` (OK) or the ``RpcError``."""

    def __init__(self, channel, method, core, deserialize):
        self._channel = channel
        self._method = method
        self._core = core
        self._deserialize = deserialize
        self._done = False
        self._code = None
        self._details = ""

    def __iter__(self):
        return self

    def __next__(self):
        if self._done:
            raise StopIteration
        item = self._channel._rt.grpc_next(self._core)
        if isinstance(item, bytes):
            return item if self._deserialize is None else self._deserialize(item)
        self._done = True
        number, details, response_time, length = self._core.summary()
        number = 0 if item is None else item[0]
        details = "" if item is None else item[1]
        self._code, self._details = _code(number), details
        initial, trailing = self._core.metadata()
        exception = None if number == 0 else RpcError(self._code, details, self._method, _metadata(initial),
                                                      _metadata(trailing))
        self._channel._record(self._method, response_time, length, self if exception is None else None, exception)
        if exception is not None:
            raise exception
        raise StopIteration

    def _stop(self):
        """Ends a stream the caller stopped reading: recorded as a success with what arrived."""
        if self._done:
            return
        self._done = True
        self._code, self._details = StatusCode.CANCELLED, "Locally cancelled"
        _, _, response_time, length = self._core.summary()
        self._core.cancel()
        self._channel._record(self._method, response_time, length, self, None)

    def cancel(self):
        self._stop()
        return True

    def code(self):
        return self._code

    def details(self):
        return self._details

    def is_active(self):
        return not self._done

    def trailing_metadata(self):
        """The server's trailing metadata once the call has ended (empty before)."""
        return _metadata(self._core.metadata()[1])

    def initial_metadata(self):
        """The server's initial metadata (the response head came in when the call started)."""
        return _metadata(self._core.metadata()[0])

    def __del__(self):
        try:
            self._stop()
        except Exception:  # noqa: BLE001 - interpreter shutdown or a closed runtime
            pass


class GrpcChannel:
    """A gRPC channel for generated stubs (``stub_class(channel)``), one HTTP/2 connection to
    ``target`` (``host:port``; ``http://host:port``; ``https://host:port`` for TLS), its calls
    recorded into the run's statistics and fired to ``events.request`` listeners."""

    def __init__(self, target, request_event=None, user=None, verify=True):
        self._rt = _runtime.current()
        self._core = self._rt.grpc_channel(target, verify)
        self.target = target
        self.request_event = request_event
        self.user = user

    def unary_unary(self, method, request_serializer=None, response_deserializer=None, *args, **kwargs):
        return _Method(self, method, request_serializer, response_deserializer, streaming=False)

    def unary_stream(self, method, request_serializer=None, response_deserializer=None, *args, **kwargs):
        return _Method(self, method, request_serializer, response_deserializer, streaming=True)

    def stream_unary(self, method, request_serializer=None, response_deserializer=None, *args, **kwargs):
        return _Method(self, method, request_serializer, response_deserializer, streaming=False, request_streaming=True)

    def stream_stream(self, method, request_serializer=None, response_deserializer=None, *args, **kwargs):
        return _Method(self, method, request_serializer, response_deserializer, streaming=True, request_streaming=True)

    def _record(self, method, response_time, length, response, exception):
        meta = {
            "request_type": "grpc",
            "name": method,
            "response_time": response_time,
            "response_length": length,
            "response": response,
            "context": {},
            "exception": exception,
        }
        self._rt.stats.record("grpc", method, response_time, length, None if exception is None else parse_error(exception))
        ev = self.request_event
        if ev is not None and ev.user_listeners():
            ev.fire_user(**meta)

    def subscribe(self, callback, try_to_connect=False):
        pass

    def unsubscribe(self, callback):
        pass

    def close(self):
        self._core.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False


def insecure_channel(target, options=None, compression=None):
    """``grpc.insecure_channel`` for locustfiles that build their own channel: a
    :class:`GrpcChannel` without a request event (calls are recorded, listeners not fired)."""
    if options or compression is not None:
        _warn_ignored(options=options or None, compression=compression)
    return GrpcChannel(target)


class GrpcUser(User):
    """A user whose ``self.stub`` is ``stub_class`` on a gRPC channel to ``host``
    (``host:port``), as in Locust's gRPC example."""

    abstract = True
    stub_class = None

    def __init__(self, environment):
        super().__init__(environment)
        for attr_value, attr_name in ((self.host, "host"), (self.stub_class, "stub_class")):
            if attr_value is None:
                raise LocustError(f"You must specify the {attr_name}.")
        self._channel = GrpcChannel(self.host, request_event=environment.events.request, user=self)
        self.stub = self.stub_class(self._channel)
