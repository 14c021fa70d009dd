"""``FastHttpUser``: the same Rust client with FastHttpSession's (geventhttpclient's) behaviour —
the default stats name is the URL as passed, only the 2xx/3xx codes Locust lists count as
success, the class attributes (timeouts, redirects, retries, concurrency, proxy, a shared
``client_pool``) apply, a response's ``url`` is the URL requested and its ``content`` is None
when no response arrived."""

import json as _json
import logging
import re

from ..clients import ConnectionError, HttpSession, ResponseContextManager, os_error_from_text  # noqa: A004
from ..clients import _URL_ERRORS, _PieceReader, http2_mode, _new_response, _pairs, _common_call, _rechunk, _s, parse_error, rust_pool_for
from ..clients import RestResponseContextManager as _RestResponse
from ..exception import LocustError, StopTest
from ..user.users import RestMixin, User
from ..util.deprecation import DeprecatedFastHttpLocustClass as FastHttpLocust  # noqa: F401

try:  # geventhttpclient is one of Locust's (and so locusta's) dependencies
    from geventhttpclient.response import HTTPConnectionClosed
    from geventhttpclient.useragent import RetriesExceeded
except ImportError:  # pragma: no cover - depends on the environment

    class HTTPConnectionClosed(OSError):
        """The server closed the connection without an answer."""

    class RetriesExceeded(Exception):
        """No answer after the allowed retries (or too many redirects)."""

        def __init__(self, url, retries, original=None):
            super().__init__(url, retries)
            self.original = original


_SUCCESS = frozenset([200, 201, 202, 203, 204, 205, 206, 207, 208, 226, 301, 302, 303, 304, 307, 308])
_ABSOLUTE_URL = re.compile(r"^https?://", re.I)
_log = logging.getLogger(__name__)

#: What a session made directly (``FastHttpSession(...)``) gets, as geventhttpclient's own
#: defaults; a FastHttpUser passes its class attributes instead.
_SESSION_DEFAULTS = {
    "network_timeout": 5.0,
    "connection_timeout": 5.0,
    "max_redirects": 3,
    "max_retries": 3,
    "concurrency": 1,
    "headers": None,
    "proxy_host": None,
    "proxy_port": None,
    "http2": None,
}


class LocustBadStatusCode(ConnectionError):
    """A status FastHttpSession does not count as success (its failure text is
    ``LocustBadStatusCode(code=404)``)."""

    def __init__(self, url=None, code=0):
        super().__init__(url)
        self.url = url
        self.code = code

    def __repr__(self):
        return f"{type(self).__name__}(code={self.code})"

    def __str__(self):
        return f"{self.url!r}, code={self.code}"


class FastResponse(ResponseContextManager):
    """A FastHttpSession response: ``url`` is the URL requested (no redirect followed in it),
    ``content`` and ``text`` are None when no response arrived, ``stream`` reads the body."""

    @property
    def url(self):
        return self._raw.request_url if self._built_url is None else self._built_url

    def __bool__(self):
        # geventhttpclient's response defines no truth value: every response is true, a failed
        # one included (``ok`` says whether the status is below 400)
        return True

    @property
    def content(self):
        if not self.status_code:
            return None
        return ResponseContextManager.content.fget(self)

    @property
    def text(self):
        if self.content is None:
            return None
        return ResponseContextManager.text.fget(self)

    @property
    def ok(self):
        return self.status_code < 400

    @property
    def stream(self):
        """The body as a readable file (geventhttpclient's response stream): with
        ``stream=True`` each read waits only for the bytes it returns."""
        return _PieceReader(self._body_pieces())

    def iter_content(self, chunk_size=1024, decode_content=True):
        """The body in chunks of at most ``chunk_size`` bytes as they arrive, each decoded as
        UTF-8 where it can be (as geventhttpclient's)."""
        if not self.status_code:
            raise LocustError("Cannot iterate content on a response without _response attribute")
        for chunk in _rechunk(self._body_pieces(), chunk_size):
            if decode_content:
                try:
                    chunk = chunk.decode("utf-8")
                except UnicodeDecodeError:
                    pass
            yield chunk

    def raise_for_status(self):
        """Raises the connection error of a request without a response (status codes are
        judged when the request is recorded, as in Locust)."""
        if self._manual_result is not None and isinstance(self._manual_result, Exception):
            raise self._manual_result
        if self.error is not None:
            raise self.error

    def success(self):
        if not self._catch_response:
            raise LocustError(
                "If you want to change the state of the request, you must pass catch_response=True. "
                "See http://docs.locust.io/en/stable/writing-a-locustfile.html#validating-responses"
            )
        super().success()

    def failure(self, exc):
        if not self._catch_response:
            raise LocustError(
                "If you want to change the state of the request, you must pass catch_response=True. "
                "See http://docs.locust.io/en/stable/writing-a-locustfile.html#validating-responses"
            )
        super().failure(exc)


class RestResponseContextManager(FastResponse, _RestResponse):
    """The response of ``rest()``: ``js`` holds the parsed JSON body."""

    js = None


#: Locust's name for the class of FastHttpSession's responses.
FastResponseContextManager = FastResponse


class FastHttpSession(HttpSession, fast_model=True):
    """A user's client with FastHttpSession's naming, success codes and settings."""

    _ok_codes = _SUCCESS
    _response_class = FastResponse
    #: FastHttpSession encodes ``json=`` with ``json.dumps(obj)``: NaN and infinities are sent as
    #: JavaScript's literals (requests refuses them).
    _json_encoder = _json.JSONEncoder()

    def __init__(
        self,
        base_url,
        request_event=None,
        user=None,
        insecure=True,
        client_pool=None,
        ssl_context_factory=None,
        **kwargs,
    ):
        unknown = set(kwargs) - set(_SESSION_DEFAULTS)
        if unknown:
            raise TypeError(f"FastHttpSession got unexpected keyword arguments: {', '.join(sorted(unknown))}")
        settings = {**_SESSION_DEFAULTS, **kwargs}
        if settings["proxy_host"] is not None and settings["proxy_port"] is None:
            raise ValueError("you have to provide proxy_port if you set proxy_host")
        if ssl_context_factory is not None:
            _log.warning(
                "ssl_context_factory: locusta's TLS is rustls, not Python's ssl; of the context the factory "
                "makes, only its verify_mode applies (CERT_NONE turns verification off), not its client "
                "certificates, CA files or protocol options"
            )
        self._ssl_context_factory = ssl_context_factory
        self._settings = settings
        self._insecure = insecure
        self._client_pool = client_pool
        super().__init__(base_url, request_event=request_event, user=user)
        self.verify = not insecure
        # geventhttpclient sends User-Agent and Accept-Encoding, not requests' Accept/Connection
        self.headers.pop("Accept", None)
        self.headers.pop("Connection", None)
        if settings["headers"]:
            self.headers.update(settings["headers"])

    def _open_core(self, base_url):
        s = self._settings
        proxy = None
        if s["proxy_host"] is not None:
            proxy = (str(s["proxy_host"]), int(s["proxy_port"]))
        pool = None
        if self._client_pool is not None:
            # geventhttpclient's HTTPClientPool: its `concurrency` (1 by default) limits the
            # requests of all the users sharing it
            args = getattr(self._client_pool, "client_args", None) or {}
            pool = rust_pool_for(self._client_pool, int(args.get("concurrency", 1)))
        return self._rt.http_io.session(
            base_url,
            connect_timeout=_seconds(s["connection_timeout"]),
            timeout=_seconds(s["network_timeout"]),
            max_redirects=int(s["max_redirects"]),
            max_retries=max(0, int(s["max_retries"])),
            # geventhttpclient's pool sends an idempotent request again when its connection
            # closed without an answer, up to its size + 1 times
            closed_retries=(pool.concurrency if pool is not None else max(1, int(s["concurrency"]))) + 1,
            verify=not self._insecure,
            proxy=proxy,
            max_concurrent=max(1, int(s["concurrency"])),
            pool=pool,
            http2=http2_mode(s["http2"]),
        )

    def _stats_name(self, raw, url, name):
        return name or url

    def _status_error(self, resp, name):
        if resp.status_code in _SUCCESS:
            return None
        return LocustBadStatusCode(resp.url, code=resp.status_code)

    def _connection_error(self, raw, kind):
        """geventhttpclient's exceptions: OS errors as Python's own classes (isinstance checks
        such as ``ConnectionRefusedError`` work), a closed connection as HTTPConnectionClosed,
        timeouts and too many redirects as RetriesExceeded."""
        text = raw.error or ""
        if text.startswith("RemoteDisconnected("):
            return HTTPConnectionClosed("connection closed.")
        if kind == "Timeout":
            return RetriesExceeded(raw.request_url, self._settings["max_retries"], original=TimeoutError("timed out"))
        if text.startswith("TooManyRedirects("):
            return RetriesExceeded(
                raw.request_url, f"Redirection limit reached ({self._settings['max_redirects']})"
            )
        return os_error_from_text(text) or super()._connection_error(raw, kind)

    def _apply_ssl_context(self):
        """Calls ``ssl_context_factory`` before the first https request, as geventhttpclient
        does when it connects (an exception it raises propagates to the caller), and applies
        the context's ``verify_mode``."""
        import ssl

        factory, self._ssl_context_factory = self._ssl_context_factory, None
        context = factory()
        self.verify = getattr(context, "verify_mode", ssl.CERT_REQUIRED) != ssl.CERT_NONE

    def request(self, method, url, name=None, *args, **kwargs):
        if self._ssl_context_factory is not None:
            full = str(url) if str(url).lower().startswith(("http://", "https://")) else f"{self.base_url}{url}"
            if full.lower().startswith("https://"):
                self._apply_ssl_context()
        if not name and not self.request_name:
            name = url
        json = kwargs.get("json")
        data = kwargs.get("data")
        headers = kwargs.get("headers")
        if headers and None in headers.values():
            headers = kwargs["headers"] = {k: _s(v) for k, v in headers.items()}  # sent as "None"
        if json is not None and not data:
            kwargs["headers"] = _json_headers(headers)
        resp = super().request(method, url, name, *args, **kwargs)
        if json is not None and not data:
            # FastRequest.body: the JSON text that was sent (the ASCII bytes encoded once)
            sent = resp._sent_body
            resp._sent_body = sent.decode("ascii") if isinstance(sent, bytes) else _json.dumps(json)
        if resp.error is None and resp.status_code not in _SUCCESS:
            resp.error = self._status_error(resp, name)  # as geventhttpclient's status check
        return resp

    def _url_without_params(self, url):
        """The URL FastHttpSession reports (``response.url``, the request event's ``url``): the
        base URL and the path, without ``params=``."""
        return url if _ABSOLUTE_URL.match(url) else f"{self.base_url}{url}"

    def _fast_ready(self):
        """Whether the common calls may skip ``request()`` (see ``HttpSession._fast_send``)."""
        return self._fast and type(self).request is _FAST_REQUEST and not self.request_name and \
            self._ssl_context_factory is None and self.auth is None and self.verify is (not self._insecure) and \
            not self.params and not self._listened()

    def get(self, url, **kwargs):
        call = _common_call(url, kwargs)
        if call is None or not self._fast_ready():
            return super().get(url, **kwargs)
        name, catch, params, headers = call
        if headers is not None:
            return self._send_common("GET", url, call, None, True)
        # The common calls (a plain get, with name=, params= (a dict), catch_response=True): sent and timed in
        # Rust with the session's settings; judged here with FastHttpSession's success codes.
        resp = self._judged(self._rt.get(self._core, url, None, False, _pairs(params) if params else None),
                            "GET", name or url, catch)
        if params:
            resp._built_url = self._url_without_params(url)
        return resp

    def _fast_send(self, method, url, kwargs, body=None, allow_redirects=None):
        """FastHttpSession's common calls without ``request()``, as ``HttpSession._fast_send``:
        the same request, statistics, response and exceptions as its ``request()``."""
        call = _common_call(url, kwargs)
        if call is None or not self._fast_ready():
            return None
        return self._send_common(method, url, call, body, allow_redirects)

    def _send_common(self, method, url, call, body, allow_redirects):
        """Sends a call ``_common_call`` accepted (``_fast_ready`` checked) from Rust."""
        name, catch, params, headers = call
        if body is not None:
            headers = _json_headers(headers)
        headers = [(str(k), _s(v)) for k, v in headers.items()] if headers else None  # None sent as "None"
        name = name or url
        raw = self._submit(method, url, None, name, params, headers, body, allow_redirects)
        resp = self._judged(raw, method, name, catch)
        if headers is not None:
            resp._sent_headers = headers
        if body is not None:
            resp._sent_body = body.decode("ascii")
        if params:
            resp._built_url = self._url_without_params(url)
        return resp

    def _judged(self, raw, method, name, catch):
        """The response of a fast-path call, judged with FastHttpSession's success codes and,
        without ``catch_response``, recorded under ``name``; raises a URL error as ``request()``."""
        user = self.user
        if user is not None:
            user._yielded = True
        resp = _new_response(FastResponse)
        resp._raw = raw
        resp.status_code = status = raw.status_code
        resp._session = self
        resp._name = name
        resp._method = method
        if not status:
            kind = raw.error_kind
            if kind in _URL_ERRORS:
                raise _URL_ERRORS[kind](raw.error)
            resp.error = self._connection_error(raw, kind)
        elif status not in _SUCCESS:
            resp.error = self._status_error(resp, name)
        if catch:
            resp._catch_response = True
        elif resp.error is None:
            raw.record_as(self._rt.stats, method, name, None)
        else:
            self._rt.stats.record(method, name, raw.response_time, raw.content_length, parse_error(resp.error))
        return resp

    def iter_lines(self, url, method="GET", **kwargs):
        """Requests ``url`` with ``stream=True`` and yields the body's lines (without their
        line ends), as FastHttpSession does for streaming endpoints."""
        response = self.request(method, url, stream=True, **kwargs)
        response.raise_for_status()
        buffer = ""
        for chunk in response.iter_content(chunk_size=1024, decode_content=True):
            if isinstance(chunk, bytes):
                chunk = chunk.decode("utf-8", errors="replace")
            buffer += chunk
            while "\n" in buffer:
                line, buffer = buffer.split("\n", 1)
                yield line
        if buffer:
            yield buffer


#: ``FastHttpSession.request`` as defined here (see ``clients._REQUEST``).
_FAST_REQUEST = FastHttpSession.request


def _json_headers(headers):
    """``headers`` (a dict or None) with what FastHttpSession adds to a ``json=`` request:
    ``Content-Type`` and ``Accept`` ``application/json`` unless given (in any spelling)."""
    headers = dict(headers) if headers else {}
    lower = {str(k).lower() for k in headers}
    if "content-type" not in lower:
        headers["Content-Type"] = "application/json"
    if "accept" not in lower:
        headers["Accept"] = "application/json"
    return headers


def _seconds(value):
    """A timeout setting for Rust: None or a positive number of seconds (0 or less: no limit)."""
    if value is None:
        return None
    value = float(value)
    return value if value > 0 else None


class FastHttpUser(User, RestMixin):
    """An HTTP user with geventhttpclient's semantics on the Rust client."""

    abstract = True
    network_timeout = 60.0
    connection_timeout = 60.0
    max_redirects = 30
    max_retries = 0
    insecure = True
    default_headers = None
    concurrency = 10
    proxy_host = None
    proxy_port = None
    client_pool = None
    ssl_context_factory = None
    #: HTTP/2 (a locusta addition): None follows ``--http2`` (off by default); True or
    #: "negotiate" offers h2 over TLS (ALPN); "prior-knowledge" also speaks h2c to http://.
    http2 = None

    def __init__(self, environment):
        super().__init__(environment)
        if self.host is None:
            raise StopTest(
                "You must specify the base host. Either in the host attribute in the User class, "
                "or on the command line using the --host option."
            )
        self.client = FastHttpSession(
            self.host,
            request_event=environment.events.request,
            user=self,
            insecure=self.insecure,
            client_pool=self.client_pool,
            ssl_context_factory=self.ssl_context_factory,
            network_timeout=self.network_timeout,
            connection_timeout=self.connection_timeout,
            max_redirects=self.max_redirects,
            max_retries=self.max_retries,
            concurrency=self.concurrency,
            headers=self.default_headers,
            proxy_host=self.proxy_host,
            proxy_port=self.proxy_port,
            http2=self.http2,
        )
