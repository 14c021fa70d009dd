"""``self.client`` of HttpUser (``locust.clients``): a requests-like session whose requests are
sent and timed by the Rust engine, with Locust's naming, failure rules and ``catch_response``.
"""

import builtins
import datetime
import io
import json as _json
import logging
import re
from collections.abc import Mapping, MutableMapping
from contextlib import contextmanager
from urllib.parse import urlencode

from greenlet import getcurrent as _getcurrent

from .. import _core, _runtime
from .exception import CatchResponseError, LocustError, ResponseError

try:  # Use requests' exception classes when requests is installed, so `except` clauses match.
    from requests.exceptions import (  # type: ignore
        ConnectionError,
        HTTPError,
        InvalidSchema,
        InvalidURL,
        MissingSchema,
        RequestException,
        SSLError,
        Timeout,
    )
except ImportError:  # pragma: no cover - depends on the environment

    class RequestException(IOError):
        """Base of the HTTP client errors (requests' name)."""

        def __init__(self, *args, response=None, request=None):
            super().__init__(*args)
            self.response = response
            self.request = request

    class HTTPError(RequestException):
        """Status >= 400."""

    class ConnectionError(RequestException):  # noqa: A001
        """The connection failed."""

    class SSLError(ConnectionError):
        """TLS failed."""

    class Timeout(RequestException):
        """The request timed out."""

    class MissingSchema(RequestException, ValueError):
        """The URL has no scheme."""

    class InvalidSchema(RequestException, ValueError):
        """The URL scheme is not http(s)."""

    class InvalidURL(RequestException, ValueError):
        """The URL cannot be parsed."""


_URL_ERRORS = {"MissingSchema": MissingSchema, "InvalidSchema": InvalidSchema, "InvalidURL": InvalidURL}
_CONN_ERRORS = {"Timeout": Timeout, "SSLError": SSLError, "ConnectionError": ConnectionError}


_OS_ERROR = re.compile(r"^(\w+)\((-?\d+), '(.*)'\)$")


def os_error_from_text(text):
    """The OS error a failure text such as ``ConnectionRefusedError(111, 'Connection refused')``
    stands for, as an exception of Python's own class (so ``isinstance`` checks work); None for
    any other text."""
    m = _OS_ERROR.match(text or "")
    if m:
        cls = getattr(builtins, m.group(1), None)
        if isinstance(cls, type) and issubclass(cls, OSError):
            return cls(int(m.group(2)), m.group(3))
    return None


def _innermost(error):
    """What Locust's request listeners get for a failed request: for a connection error whose
    cause is an OS error (refused, reset), that OS error itself, as Locust unwraps requests'
    ``ConnectionError`` to its innermost cause; any other exception as it is."""
    if isinstance(error, ConnectionError) and error.args and isinstance(error.args[0], str):
        return os_error_from_text(error.args[0]) or error
    return error


def parse_error(error):
    """Locust's error text for statistics: ``repr`` of the exception (or the string itself),
    with object addresses masked."""
    s = error if isinstance(error, str) else repr(error)
    i = s.find("object at 0x")
    if i < 0:
        return s
    start = i + len("object at 0x") - 2
    end = s.find(">", start)
    if end < 0:
        return s
    return s.replace(s[start:end], "0x....")


class CaseInsensitiveDict(MutableMapping):
    """A dict with case-insensitive keys that keeps the spelling last set (like requests')."""

    def __init__(self, data=None, **kwargs):
        self._store = {}
        self.update(data or {}, **kwargs)

    def __setitem__(self, key, value):
        self._store[key.lower()] = (key, value)

    def __getitem__(self, key):
        return self._store[key.lower()][1]

    def __delitem__(self, key):
        del self._store[key.lower()]

    def __iter__(self):
        return (k for k, _ in self._store.values())

    def __len__(self):
        return len(self._store)

    def lower_items(self):
        return ((k, v[1]) for k, v in self._store.items())

    def copy(self):
        return CaseInsensitiveDict(self._store.values())

    def __eq__(self, other):
        if isinstance(other, MutableMapping):
            other = CaseInsensitiveDict(other)
            return dict(self.lower_items()) == dict(other.lower_items())
        return NotImplemented

    def __repr__(self):
        return str(dict(self.items()))


class SessionHeaders(CaseInsensitiveDict):
    """``client.headers``: the session's default headers, written through to the Rust session."""

    def __init__(self, core):
        # The Python copy of the Rust session's headers is made when first used (most
        # locustfiles never read `client.headers`): ~1 KB less per user.
        self._core = core

    def __getattr__(self, name):
        if name != "_store":
            raise AttributeError(name)
        self._store = {k.lower(): (k, v) for k, v in self._core.headers()}
        return self._store

    def __setitem__(self, key, value):
        if value is None:
            self.pop(key, None)
            return
        self._core.set_header(key, str(value))
        super().__setitem__(key, str(value))

    def __delitem__(self, key):
        super().__delitem__(key)
        self._core.del_header(key)


class SessionCookies(MutableMapping):
    """``client.cookies``: the session's cookie jar as a mapping of name to value."""

    def __init__(self, core):
        self._core = core

    def _items(self):
        return dict(self._core.cookies())

    def __getitem__(self, key):
        return self._items()[key]

    def __setitem__(self, key, value):
        self._core.set_cookie(key, str(value))

    def __delitem__(self, key):
        items = self._items()
        del items[key]
        self._core.clear_cookies()
        for k, v in items.items():
            self._core.set_cookie(k, v)

    def __iter__(self):
        return iter(self._items())

    def __len__(self):
        return len(self._items())

    def get_dict(self):
        return self._items()

    def set(self, name, value, **kwargs):
        self._core.set_cookie(name, str(value))

    def clear(self):
        self._core.clear_cookies()


class _Request:
    """``response.request``: what was sent (method, URL, path)."""

    def __init__(self, method, url, path_url, headers=None, body=None):
        self.method = method
        self.url = url
        self.path_url = path_url
        self.headers = CaseInsensitiveDict(headers or {})
        self.body = body


def _charset(content_type):
    if not content_type:
        return None
    m = re.search(r"charset=([^;\s]+)", content_type, re.I)
    if m:
        return m.group(1).strip("'\"")
    if content_type.lower().startswith("text/"):
        return "ISO-8859-1"
    return None


class Response:
    """A received response, with requests' attribute names."""

    error = None

    _content = None
    _headers = None
    _text = None
    encoding = None
    _method = "GET"
    _sent_headers = None
    _sent_body = None
    _url = None

    def __init__(self, raw, method="GET", sent_headers=None, sent_body=None):
        self._raw = raw
        self.status_code = raw.status_code
        self._method = method
        self._sent_headers = sent_headers
        self._sent_body = sent_body

    @property
    def url(self):
        """The final URL (after redirects); the request URL when there is no response."""
        if self._url is None:
            raw = self._raw
            self._url = raw.url if raw.status_code else raw.request_url
        return self._url

    @url.setter
    def url(self, value):
        self._url = value

    _consumed = False

    @property
    def content(self):
        """The body; None when no response arrived (as Locust's response to a failed request).
        With ``stream=True`` the rest of the body is read now (it arrives piece by piece)."""
        if self._content is None:
            if not self.status_code:
                return None
            if self._raw.streaming:
                if self._consumed:
                    raise RuntimeError("The content for this response was already consumed")
                self._content = b"".join(self._pieces())
            else:
                self._content = self._raw.content
        return self._content

    def _pieces(self):
        """The streamed body's pieces as they arrive (``stream=True``); each read parks the
        greenlet until the next piece is in. A broken stream raises requests' exception."""
        self._consumed = True
        rt = _runtime.current()
        while True:
            piece = rt.read_body(self._raw)
            if isinstance(piece, tuple):
                kind, text = piece
                raise _CONN_ERRORS.get(kind, ConnectionError)(text)
            if not piece:
                return
            yield piece

    def _body_pieces(self):
        """The body in the pieces it arrives in: streamed, or the whole body at once."""
        if self._content is None and self.status_code and self._raw.streaming:
            return self._pieces()
        content = self.content
        return iter([content] if content else [])

    @property
    def text(self):
        if not self.status_code:
            return ""
        if self._text is None:
            # as requests: the charset of the headers as received (changing response.headers
            # later does not change it), read without building the header mapping
            enc = self.encoding or _charset(self._raw.header("content-type")) or "utf-8"
            try:
                self._text = str(self.content, enc, errors="replace")
            except LookupError:
                self._text = str(self.content, "utf-8", errors="replace")
        return self._text

    def json(self, **kwargs):
        # Decoded in Rust from the body as received when the result is certainly the same as
        # json.loads(self.text) (see json_decode.rs); the json module decides everything else,
        # its exceptions included.
        if not kwargs and self.encoding is None and self.status_code:
            raw = self._raw
            if not raw.streaming:
                obj = raw.json_or(_UNDECODED)
                if obj is not _UNDECODED:
                    return obj
        return _json.loads(self.text, **kwargs)

    @property
    def headers(self):
        if self._headers is None:
            h = CaseInsensitiveDict()
            for k, v in self._raw.headers():
                if k in h:
                    h[k] = h[k] + ", " + v
                else:
                    h[k] = v
            self._headers = h
        return self._headers

    @property
    def reason(self):
        return self._raw.reason or None

    @property
    def ok(self):
        return self.status_code != 0 and self.status_code < 400 and self.error is None

    def __bool__(self):
        return self.ok

    @property
    def elapsed(self):
        return datetime.timedelta(microseconds=self._raw.response_time_us)

    @property
    def cookies(self):
        out = {}
        for k, v in self._raw.headers():
            if k.lower() == "set-cookie":
                pair = v.split(";", 1)[0]
                if "=" in pair:
                    n, val = pair.split("=", 1)
                    out[n.strip()] = val.strip()
        return out

    @property
    def history(self):
        out = []
        for status, reason, url in self._raw.history():
            r = _RedirectResponse(status, reason, url)
            out.append(r)
        return out

    @property
    def request(self):
        return _Request(self._method, self._raw.request_url, self._raw.stats_path, self._sent_headers, self._sent_body)

    @property
    def is_redirect(self):
        return "location" in self.headers and self.status_code in (301, 302, 303, 307, 308)

    @property
    def http_version(self):
        """The protocol the response came with, as httpx spells it: ``"HTTP/1.1"``,
        ``"HTTP/2"`` (a locusta addition; requests has ``raw.version``, 11 or 20)."""
        return _HTTP_VERSIONS.get(self._raw.http_version, "HTTP/1.1")

    @property
    def raw(self):
        """The body as a readable file (requests' ``raw``): with ``stream=True`` each read
        waits only for the bytes it needs."""
        return _PieceReader(self._body_pieces())

    def iter_content(self, chunk_size=1, decode_unicode=False):
        """The body in chunks of at most ``chunk_size`` bytes (None: as they arrive); with
        ``stream=True`` each chunk comes as soon as it arrived, not after the whole body."""
        return self._chunks(chunk_size, decode_unicode)

    def _chunks(self, chunk_size, decode_unicode):
        chunks = _rechunk(self._body_pieces(), chunk_size)
        if decode_unicode:
            chunks = _decode(chunks, self.encoding or _charset(self.headers.get("content-type")) or "utf-8")
        return chunks

    def iter_lines(self, chunk_size=512, decode_unicode=False, delimiter=None):
        """The body line by line (requests' rules), each line as soon as it is complete."""
        pending = None
        for chunk in self._chunks(chunk_size, decode_unicode):
            if pending is not None:
                chunk = pending + chunk
            lines = chunk.split(delimiter) if delimiter else chunk.splitlines()
            if lines and lines[-1] and chunk and lines[-1][-1] == chunk[-1]:
                pending = lines.pop()
            else:
                pending = None
            yield from lines
        if pending is not None:
            yield pending

    def close(self):
        """Drops an unread streamed body (its connection closes)."""
        if self._content is None and self._raw.streaming:
            self._raw.close_body()

    def raise_for_status(self):
        if self.error is not None:
            raise self.error
        if 400 <= self.status_code < 600:
            kind = "Client Error" if self.status_code < 500 else "Server Error"
            raise HTTPError(f"{self.status_code} {kind}: {self.reason} for url: {self.url}", response=self)

    def __repr__(self):
        return f"<Response [{self.status_code}]>"


_new_response = object.__new__
#: What ``RawResponse.json_or`` and ``_core.json_dumps_or`` return when Python's json module must
#: decode (encode) it.
_UNDECODED = object()
#: Encodes ``json=`` bodies as requests does (``json.dumps(obj, allow_nan=False)``) where the Rust
#: encoder leaves them to Python; built once rather than per request.
_JSON_BODY = _json.JSONEncoder(allow_nan=False)


class _RedirectResponse:
    """An entry of ``response.history``."""

    def __init__(self, status, reason, url):
        self.status_code = status
        self.reason = reason
        self.url = url

    def __repr__(self):
        return f"<Response [{self.status_code}]>"


class ResponseContextManager(Response):
    """The response of ``client.request``; with ``catch_response=True`` also a context manager
    whose ``success()`` / ``failure()`` decide how the request is reported.

    ``request_meta`` (what the request event gets) is built when someone reads it or listens to
    the request event; otherwise the outcome goes straight to the Rust statistics."""

    _manual_result = None
    _entered = False
    _catch_response = False
    _meta = None
    #: The method, stats name and ``context=`` of the call (for ``request_meta``).
    _method = "GET"
    _name = None
    #: The ``name=`` of a fast-path call without ``catch_response`` (recorded in Rust, which
    #: made the stats name): ``request_meta`` makes the same name from it when read.
    _name_arg = None
    _context = {}
    _stream = False
    #: The URL reported when it is not the one requested (FastHttpSession's, without params).
    _built_url = None

    @property
    def request_meta(self):
        meta = self._meta
        if meta is None:
            raw = self._raw
            response_time, response_length = self._timing()
            context = self._context
            user = self._session.user
            if user is not None:
                context = {**user.context(), **context}
            name = self._name
            if name is None:
                name = self._name = raw.stats_name(self._name_arg)
            meta = self._meta = {
                "request_type": self._method,
                "response_time": response_time,
                "name": name,
                "context": context,
                "response": self,
                "exception": None,
                "start_time": raw.start_time,
                "url": raw.request_url if self._built_url is None else self._built_url,
                "response_length": response_length,
            }
        return meta

    def _timing(self):
        """The response time (ms) and length the request is reported with."""
        raw = self._raw
        if self._stream:
            # Locust: the time until the response head, the length its Content-Length announces
            return raw.head_time, int(self.headers.get("content-length") or 0) if raw.status_code else 0
        return raw.response_time, raw.content_length

    @request_meta.setter
    def request_meta(self, meta):
        self._meta = meta

    def __enter__(self):
        self._entered = True
        if not self._catch_response:
            raise LocustError("In order to use a with-block for requests, you must also pass catch_response=True")
        return self

    def __exit__(self, exc, value, tb):
        result = self._manual_result
        if result is not None:
            if result is True and self._meta is None and not self._stream:
                # success() without request listeners, request_meta unread (the common case):
                # what _report does, inlined
                session = self._session
                ev = session.request_event
                if ev is None or ev._handlers == ev._stats_only:
                    self._raw.record_as(session._rt.stats, self._method, self._name, None)
                    return exc is None
            self._report(None if result is True else result)
            return exc is None
        if exc:
            if isinstance(value, ResponseError):
                self._report(value)
                return True
            return False
        if self.error is not None:
            self._report(self.error)
        else:
            name = self._name if self._meta is None else self._meta["name"]
            self._report(self._session._status_error(self, name))
        return True

    def _report(self, exception):
        """Records the request with ``exception`` (None: a success) and fires the user's request
        listeners."""
        session = self._session
        if self._meta is None and not self._stream and not session._listened():
            text = None if exception is None else parse_error(exception)
            self._raw.record_as(session._rt.stats, self._method, self._name, text)
            return
        meta = self.request_meta
        meta["exception"] = _innermost(exception)
        session._record(meta, None if exception is None else parse_error(exception))

    def _report_request(self):
        """Reports ``request_meta`` as it stands (Locust's name for it)."""
        meta = self.request_meta
        exc = meta["exception"]
        self._session._record(meta, None if exc is None else parse_error(exc))

    def raise_for_status(self):
        if not self._manual_result:
            Response.raise_for_status(self)
        elif isinstance(self._manual_result, Exception):
            raise self._manual_result

    def success(self):
        """Reports the request as a success (inside the ``with`` block)."""
        if not self._entered:
            raise LocustError(
                "Tried to set status on a request that has not yet been made. Make sure you use a with-block, "
                "like this:\n\nwith self.client.request(..., catch_response=True) as response:\n    response.success()"
            )
        self._manual_result = True

    def failure(self, exc):
        """Reports the request as a failure with ``exc`` (text is wrapped in CatchResponseError)."""
        if not self._entered:
            raise LocustError(
                "Tried to set status on a request that has not yet been made. Make sure you use a with-block, "
                "like this:\n\nwith self.client.request(..., catch_response=True) as response:\n"
                "    response.failure(...)"
            )
        if not isinstance(exc, Exception):
            exc = CatchResponseError(exc)
        self._manual_result = exc


class RestResponseContextManager(ResponseContextManager):
    """The response of ``rest()``: ``js`` holds the parsed JSON body."""

    js = None


def rust_pool_for(shared, limit):
    """The Rust connection pool standing for a pool object several users share (urllib3's
    ``PoolManager``, geventhttpclient's ``HTTPClientPool``): made with at most ``limit``
    requests in flight (None: no limit) the first time, then kept on the object."""
    pool = getattr(shared, "_locusta_pool", None)
    if pool is None:
        pool = shared._locusta_pool = _core.ConnectionPool(limit)
    return pool


def _pool_manager_limit(pool_manager):
    """A urllib3 ``PoolManager``'s limit on requests in flight: with ``block=True`` its
    ``maxsize`` (urllib3 waits for a free connection), otherwise none."""
    kw = getattr(pool_manager, "connection_pool_kw", None) or {}
    return int(kw.get("maxsize", 1)) if kw.get("block") else None


def _rechunk(pieces, size):
    """``pieces`` cut into chunks of at most ``size`` bytes (None: unchanged)."""
    for piece in pieces:
        if not size or len(piece) <= size:
            yield piece
            continue
        for i in range(0, len(piece), size):
            yield piece[i : i + size]


def _decode(chunks, encoding):
    """Decodes byte chunks to text across chunk boundaries."""
    import codecs

    try:
        decoder = codecs.getincrementaldecoder(encoding)(errors="replace")
    except LookupError:
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    for chunk in chunks:
        text = decoder.decode(chunk)
        if text:
            yield text
    tail = decoder.decode(b"", final=True)
    if tail:
        yield tail


class _PieceReader(io.RawIOBase):
    """A readable file over body pieces: ``read(n)`` waits only for the bytes it returns."""

    def __init__(self, pieces):
        self._pieces = pieces
        self._buf = b""

    def readable(self):
        return True

    def readinto(self, b):
        while not self._buf:
            piece = next(self._pieces, None)
            if piece is None:
                return 0
            self._buf = piece
        n = min(len(b), len(self._buf))
        b[:n] = self._buf[:n]
        self._buf = self._buf[n:]
        return n


def _merged_params(params, session_params):
    """requests' merge of a request's params with the session's (``client.params``): the
    session's alone when the request has none; both mappings merged (the request's values win, a
    None value removes the key); otherwise the request's own."""
    if not session_params:
        return params
    if params is None:
        return session_params
    if isinstance(params, Mapping) and isinstance(session_params, Mapping):
        merged = {**session_params, **params}
        return {k: v for k, v in merged.items() if v is not None}
    return params


def _common_call(url, kwargs):
    """``(name, catch_response, params, headers)`` of a call the Rust fast paths can send (a str
    URL with at most ``name=`` a str, ``catch_response=True``, ``params=`` and ``headers=`` dicts),
    else None; the sessions add their own conditions."""
    if type(url) is not str:
        return None
    if not kwargs:
        return None, False, None, None
    name = kwargs.get("name")
    catch = kwargs.get("catch_response") is True
    params = kwargs.get("params")
    headers = kwargs.get("headers")
    if len(kwargs) != (name is not None) + catch + (type(params) is dict) + (type(headers) is dict) or \
            (name is not None and type(name) is not str):
        return None
    return name, catch, params, headers


def _pairs(obj):
    """requests' flattening of params/data: dict or list of pairs, list values repeat the key,
    None values are dropped."""
    items = obj.items() if hasattr(obj, "items") else obj
    out = []
    for k, v in items:
        if v is None:
            continue
        if isinstance(v, (list, tuple)):
            out.extend((str(k), _s(x)) for x in v if x is not None)
        else:
            out.append((str(k), _s(v)))
    return out


def _s(v):
    if isinstance(v, bytes):
        return v.decode("utf-8", "replace")
    return str(v)


#: requests' keyword arguments the Rust client does not implement, each warned about once.
_UNSUPPORTED = {
    "proxies": "set proxy_host / proxy_port on a FastHttpUser to send requests through a proxy",
    "cert": "client certificates are not supported yet",
    "hooks": "use the request event (events.request) instead",
}
_warned = set()


def _warn_unsupported(kwargs):
    for key, value in kwargs.items():
        if value is None or key in _warned:
            continue
        _warned.add(key)
        hint = _UNSUPPORTED.get(key, "locusta does not know this argument")
        logging.getLogger(__name__).warning("HttpSession.request ignores %s=...: %s", key, hint)


#: ``RawResponse.http_version`` (requests' ``raw.version`` numbers) as httpx names them.
_HTTP_VERSIONS = {10: "HTTP/1.0", 11: "HTTP/1.1", 20: "HTTP/2"}


def http2_mode(value):
    """A user class's ``http2`` attribute as the Rust client's mode name: None (the run's
    ``--http2``, off by default), True/False, or "off", "negotiate" (ALPN over TLS) or
    "prior-knowledge" (also h2c over plain http://)."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "negotiate" if value else "off"
    raise TypeError(f"http2 must be True, False or one of 'off', 'negotiate', 'prior-knowledge', not {value!r}")


class HttpSession:
    """A user's HTTP client. Each instance has its own connections and cookie jar (in Rust)."""

    #: The class of the responses ``request`` returns.
    _response_class = ResponseContextManager
    #: Encodes ``json=`` bodies (what the Rust encoder leaves to Python).
    _json_encoder = _JSON_BODY
    #: Whether the common calls may skip ``request()`` (``_fast_send``, the ``get`` fast path):
    #: only where ``request()`` and what it calls are those of the class the fast paths
    #: reproduce (``_fast_model``: HttpSession, or a subclass declared with ``fast_model=True``
    #: that has fast paths of its own, FastHttpSession); a subclass overriding them gets every
    #: call through its ``request()``. The calls also check that ``request`` is still the
    #: model's (a plugin may wrap it at run time).
    _fast = True
    _fast_model = None  # HttpSession, set below

    def __init_subclass__(cls, fast_model=False, **kwargs):
        super().__init_subclass__(**kwargs)
        if fast_model:
            cls._fast_model = cls
        model = cls._fast_model
        cls._fast = all(getattr(cls, hook) is getattr(model, hook) for hook in _FAST_PATH_HOOKS)

    def __init__(self, base_url, request_event=None, user=None, *args, pool_manager=None, http2=None, **kwargs):
        self._rt = _runtime.current()
        self._pool_manager = pool_manager
        self._http2 = http2_mode(http2)
        self._core = self._open_core(base_url)
        self.base_url = base_url
        self.request_event = request_event
        self.user = user
        self.request_name = None
        self.headers = SessionHeaders(self._core)
        self.cookies = SessionCookies(self._core)
        self.auth = None
        self.trust_env = False
        self.verify = True
        self.params = {}

    def _open_core(self, base_url):
        """The Rust session behind this client; with a ``pool_manager`` (HttpUser's class
        attribute) its connections are shared with the other users given the same one."""
        if self._pool_manager is None:
            if self._http2 is None:
                return self._rt.http_io.session(base_url)
            return self._rt.http_io.session(base_url, http2=self._http2)
        pool = rust_pool_for(self._pool_manager, _pool_manager_limit(self._pool_manager))
        return self._rt.http_io.session(base_url, pool=pool, http2=self._http2)

    @contextmanager
    def rename_request(self, name):
        """Reports every request in the block under ``name``."""
        self.request_name = name
        try:
            yield
        finally:
            self.request_name = None

    #: Status codes that count as success when not None (FastHttpSession's list); None means
    #: requests' rule (an error or a status >= 400 fails), decided in Rust.
    _ok_codes = None

    def _status_error(self, resp, name):
        """The exception a response with a failing status is reported with, else None."""
        if resp._raw.failure_text(name) is None:
            return None
        kind = "Client Error" if resp.status_code < 500 else "Server Error"
        return HTTPError(f"{resp.status_code} {kind}: {resp.reason} for url: {name}", response=resp)

    def _record(self, meta, error_text):
        rt = meta.get("response_time")
        self._rt.stats.record(meta["request_type"], meta["name"], rt, meta.get("response_length") or 0, error_text)
        ev = self.request_event
        if ev is not None and ev.user_listeners():
            ev.fire_user(**meta)

    def _listened(self):
        """Whether the request event has listeners besides the statistics (then each request
        builds what they get)."""
        ev = self.request_event
        return ev is not None and ev._handlers != ev._stats_only

    def request(
        self, method, url, name=None, catch_response=False, context={}, *, data=None, json=None, params=None,
        headers=None, auth=None, timeout=None, allow_redirects=None, verify=None, cookies=None, files=None,
        stream=False, **kwargs
    ):
        if self.request_name and not name:
            name = self.request_name
        if kwargs:
            _warn_unsupported(kwargs)
        url = str(url)
        q = built_url = None
        if params is not None or self.params:
            params = _merged_params(params, self.params)
            if params:
                built_url = self._url_without_params(url)
                if isinstance(params, (str, bytes)):
                    p = params.decode() if isinstance(params, bytes) else params
                    url = url + ("&" if "?" in url else "?") + p.lstrip("?&")
                else:
                    q = _pairs(params)
        h = None
        if headers:
            h = [(str(k), _s(v)) for k, v in headers.items() if v is not None]
        body = None
        ctype = None
        if files:
            body, ctype = _multipart(data, files)
        elif data is not None:
            if isinstance(data, bytes):
                body = data
            elif isinstance(data, str):
                body = data.encode("utf-8")
            elif hasattr(data, "read"):
                body = data.read()
                if isinstance(body, str):
                    body = body.encode("utf-8")
            else:
                body = urlencode(_pairs(data)).encode("ascii")
                ctype = "application/x-www-form-urlencoded"
        elif json is not None:
            body = _core.json_dumps_or(json, _UNDECODED)  # json.dumps' bytes, made in Rust
            if body is _UNDECODED:
                body = self._json_encoder.encode(json).encode("utf-8")
            ctype = "application/json"
        if auth is None:
            auth = self.auth
        if auth is not None and not isinstance(auth, tuple):
            auth = (getattr(auth, "username", ""), getattr(auth, "password", ""))
        if isinstance(timeout, tuple):
            timeout = sum(t for t in timeout if t is not None) or None
        if cookies is not None:
            cookies = [(str(k), str(v)) for k, v in (cookies.items() if hasattr(cookies, "items") else cookies)]
        if verify is None:
            if self.verify is not True:
                verify = bool(self.verify)
        else:
            verify = bool(verify)

        raw = self._rt.send(
            self._core, method, url, q, h, body, ctype, auth, timeout, allow_redirects, verify, cookies,
            bool(stream), name,
        )
        if self.user is not None:
            self.user._yielded = True
        kind = raw.error_kind
        if kind in _URL_ERRORS:
            raise _URL_ERRORS[kind](raw.error)
        name = self._stats_name(raw, url, name)
        resp = self._response_class(raw, method, h, body)
        resp._session = self
        resp._name = name
        if built_url is not None:
            resp._built_url = built_url
        if kind is not None:
            resp.error = self._connection_error(raw, kind)
        if stream:
            resp._stream = True
        if context:
            resp._context = context
        if catch_response:
            resp._catch_response = True
            return resp
        if self._ok_codes is None and not stream:
            error_text = raw.record(self._rt.stats, method, name)  # judged and recorded in Rust
        else:
            response_time, response_length = resp._timing()
            error_text = self._failure_text(raw, resp, name)
            self._rt.stats.record(method, name, response_time, response_length, error_text)
        if not self._listened():
            return resp
        meta = resp.request_meta
        if error_text is not None:
            exc = resp.error
            if exc is None:
                exc = self._status_error(resp, name)
            meta["exception"] = _innermost(exc)
        self.request_event.fire_user(**meta)
        return resp

    def _failure_text(self, raw, resp, name):
        """The failure text a request is recorded with, None for a success."""
        if self._ok_codes is None:
            return raw.failure_text(name)  # requests' rule and texts, from Rust
        if resp.error is not None:
            return parse_error(resp.error)
        if raw.status_code not in self._ok_codes:
            return parse_error(self._status_error(resp, name))
        return None

    def _url_without_params(self, url):
        """The URL a response reports when ``params`` were added to ``url``; None: the URL
        requested, params included (requests')."""
        return None

    def _stats_name(self, raw, url, name):
        """The name a request is recorded under: Locust's default when none is given."""
        return raw.stats_name(name)  # Rust's rule: the first URL's path and query

    def _connection_error(self, raw, kind):
        """The exception of a request that got no response."""
        return _CONN_ERRORS.get(kind, ConnectionError)(raw.error)

    def _fast_send(self, method, url, kwargs, body=None, allow_redirects=None):
        """The common calls without ``request()``'s general path: ``url`` a str and ``kwargs``
        at most ``name=`` (a str), ``catch_response=True``, ``params=`` and ``headers=`` (dicts),
        ``body`` the encoded ``json=`` body or None. Sent and timed in Rust (and without
        ``catch_response`` recorded there); returns the response, or None when the call must take
        ``request()`` (nothing was sent). Same request, statistics, response and exceptions as
        ``request()``.

        Skipped when the session's settings matter (``rename_request``, ``client.params``,
        ``client.auth``, ``client.verify``) or someone listens to the request event."""
        call = _common_call(url, kwargs)
        if call is None or not self._fast or type(self).request is not _REQUEST or self.request_name or \
                self.params or self.auth is not None or self.verify is not True or \
                ((ev := self.request_event) is not None and ev._handlers != ev._stats_only):
            return None
        name, catch, params, headers = call
        headers = [(str(k), _s(v)) for k, v in headers.items() if v is not None] if headers else None
        raw = self._submit(method, url, None if catch else self._rt.stats, name, params, headers, body,
                           allow_redirects)
        resp = self._fast_response(raw, catch, name)
        resp._method = method
        if headers is not None:
            resp._sent_headers = headers
        if body is not None:
            resp._sent_body = body
        return resp

    def _submit(self, method, url, stats, name, params, headers, body, allow_redirects):
        """Queues a fast-path call in Rust (recorded there under ``name`` when ``stats`` is given)
        and parks this greenlet until its response (a RawResponse) is in."""
        rt = self._rt
        if rt._hub is None:
            rt._ensure_watcher()
        return rt._park(rt.http_io.submit_common(
            self._core, _getcurrent(), method, url, stats, name, _pairs(params) if params else None, headers, body,
            None if body is None else "application/json", allow_redirects,
        ))

    def _fast_response(self, raw, catch, name):
        """The response of a fast-path call (``get``, ``_fast_send``), its fields read from
        ``raw`` when asked for; raises a URL error as ``request()`` would."""
        user = self.user
        if user is not None:
            user._yielded = True
        resp = _new_response(ResponseContextManager)
        resp._raw = raw
        resp.status_code = status = raw.status_code
        resp._session = self
        if not status:  # no response: the error says why
            kind = raw.error_kind
            if kind in _URL_ERRORS:
                raise _URL_ERRORS[kind](raw.error)
            resp.error = _CONN_ERRORS.get(kind, ConnectionError)(raw.error)
        if catch:
            resp._catch_response = True
            resp._name = raw.stats_name(name)
        elif name is not None:
            resp._name_arg = name
        return resp

    def _fast_json(self, method, url, obj, kwargs):
        """``method`` with ``json=obj`` on the fast path (``_fast_send``) when the call and the
        body allow it (the Rust encoder encodes ``obj``), else None."""
        if type(url) is not str or not self._fast:
            return None
        body = _core.json_dumps_or(obj, _UNDECODED)  # json.dumps(obj, allow_nan=False)'s bytes
        if body is _UNDECODED:
            return None  # request() encodes it with Python's json (and raises what it raises)
        return self._fast_send(method, url, kwargs, body)

    def get(self, url, **kwargs):
        # _common_call's and _fast_send's checks, inlined: this is the hottest call of most locustfiles
        if kwargs:
            name = kwargs.get("name")
            catch = kwargs.get("catch_response") is True
            params = kwargs.get("params")
            if len(kwargs) != (name is not None) + catch + (type(params) is dict) or \
                    (name is not None and type(name) is not str):
                if "headers" in kwargs and "allow_redirects" not in kwargs:
                    resp = self._fast_send("GET", url, kwargs, None, True)
                    if resp is not None:
                        return resp
                kwargs.setdefault("allow_redirects", True)
                return self.request("GET", url, **kwargs)
        else:
            name = params = None
            catch = False
        if type(url) is not str or not self._fast or type(self).request is not _REQUEST or self.request_name or \
                self.params or self.auth is not None or self.verify is not True or \
                ((ev := self.request_event) is not None and ev._handlers != ev._stats_only):
            kwargs.setdefault("allow_redirects", True)
            return self.request("GET", url, **kwargs)
        # The common calls (a plain get, with name=, params= (a dict), catch_response=True): sent and timed in
        # Rust, and without catch_response recorded there too; the response is built lazily.
        raw = self._rt.get(self._core, url, name, not catch, _pairs(params) if params else None)
        return self._fast_response(raw, catch, name)

    def options(self, url, **kwargs):
        kwargs.setdefault("allow_redirects", True)
        return self.request("OPTIONS", url, **kwargs)

    def head(self, url, **kwargs):
        kwargs.setdefault("allow_redirects", False)
        return self.request("HEAD", url, **kwargs)

    def post(self, url, data=None, json=None, **kwargs):
        if json is not None and data is None and self._fast:  # _fast_json, inlined
            body = _core.json_dumps_or(json, _UNDECODED)
            if body is not _UNDECODED:
                resp = self._fast_send("POST", url, kwargs, body)
                if resp is not None:
                    return resp
        return self.request("POST", url, data=data, json=json, **kwargs)

    def put(self, url, data=None, **kwargs):
        return self._json_or_request("PUT", url, data, kwargs)

    def patch(self, url, data=None, **kwargs):
        return self._json_or_request("PATCH", url, data, kwargs)

    def _json_or_request(self, method, url, data, kwargs):
        """``put``/``patch``: a ``json=`` call on the fast path (``_fast_json``) when it can take
        it, else ``request()``."""
        if data is None and kwargs.get("json") is not None:
            obj = kwargs.pop("json")
            resp = self._fast_json(method, url, obj, kwargs)
            if resp is not None:
                return resp
            kwargs["json"] = obj
        return self.request(method, url, data=data, **kwargs)

    def delete(self, url, **kwargs):
        resp = self._fast_send("DELETE", url, kwargs)
        if resp is not None:
            return resp
        return self.request("DELETE", url, **kwargs)

    def close(self):
        self._core.close()


#: ``HttpSession.request`` as defined here: the fast paths are taken only while a session's
#: ``request`` is this function (not overridden, not replaced at run time).
_REQUEST = HttpSession.request
HttpSession._fast_model = HttpSession
#: What the fast paths do in their own way: a subclass overriding one of these takes ``request()``.
_FAST_PATH_HOOKS = ("request", "_response_class", "_ok_codes", "_stats_name", "_connection_error", "_json_encoder")


def _multipart(data, files):
    """Encodes ``files=`` (and ``data=`` fields) as multipart/form-data, like requests."""
    import uuid

    boundary = uuid.uuid4().hex
    parts = []
    for k, v in _pairs(data or {}):
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n'.encode() + v.encode() + b"\r\n"
        )
    items = files.items() if hasattr(files, "items") else files
    for field, spec in items:
        ctype = None
        if isinstance(spec, (tuple, list)):
            fname, content = spec[0], spec[1]
            if len(spec) > 2:
                ctype = spec[2]
        else:
            fname, content = getattr(spec, "name", field), spec
        if hasattr(content, "read"):
            content = content.read()
        if isinstance(content, str):
            content = content.encode("utf-8")
        head = f'--{boundary}\r\nContent-Disposition: form-data; name="{field}"'
        if fname is not None:
            head += f'; filename="{str(fname).rsplit("/", 1)[-1]}"'
        head += "\r\n"
        if ctype:
            head += f"Content-Type: {ctype}\r\n"
        parts.append(head.encode() + b"\r\n" + content + b"\r\n")
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"
