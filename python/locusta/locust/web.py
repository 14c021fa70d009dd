"""``environment.web_ui``: the extension points of Locust's web UI for a locustfile.

The UI itself is served by Rust (``locusta-web``); what a locustfile adds in an ``init``
listener — ``web_ui.app.route(...)``, blueprints, ``@web_ui.auth_required_if_enabled`` — lives
in a real Flask app here. Requests for paths the UI does not serve are handed over by the
server (``_core.WebRoutes``) and answered by running that app, as WSGI, in a greenlet on the
gevent hub: a route may use the runner, the statistics and gevent as under Locust.
Authentication (``--web-auth``), ``--web-base-path`` and TLS are applied by the server before a
request gets here."""

import functools
import io
import logging
import sys

import gevent

from locusta import _core

logger = logging.getLogger("locust.web")

#: Locust's name for the greenlet-friendly WSGI server log; kept for listeners that tune it.
greenlet_exception_logger = logger


class WebUI:
    """The web UI as a locustfile sees it (Locust's ``locust.web.WebUI`` extension surface)."""

    def __init__(self, environment, host="", port=8089, web_base_path="", web_login=False,
                 tls_cert=None, tls_key=None, userclass_picker_is_active=False, **_ignored):
        self.environment = environment
        self.host = host
        self.port = port
        self.web_base_path = web_base_path
        self.web_login = web_login
        self.tls_cert = tls_cert
        self.tls_key = tls_key
        self.userclass_picker_is_active = userclass_picker_is_active
        self.template_args = {}
        self.auth_args = {}
        self.greenlet = None
        self.server = None
        self.app = _flask_app()
        self._routes = _core.WebRoutes()

    def auth_required_if_enabled(self, view_func):
        """Locust's decorator for added routes. Every path of locusta's UI, these included, is
        behind ``--web-auth`` when it is set (the server checks before Flask runs), so the view
        is returned as it is."""

        @functools.wraps(view_func)
        def wrapper(*args, **kwargs):
            return view_func(*args, **kwargs)

        return wrapper

    def update_template_args(self):
        """Locust recomputes its page's template values here; locusta's page takes them from
        the API, so there is nothing to recompute."""

    def start(self):
        """Starts answering the requests the server hands over (the UI itself is already
        served by the run)."""
        if self.greenlet is None:
            self.greenlet = gevent.spawn(self._serve)

    def stop(self):
        if self.greenlet is not None:
            self.greenlet.kill(block=False)
            self.greenlet = None

    def _serve(self):
        hub = gevent.get_hub()
        watcher = hub.loop.io(self._routes.fileno(), 1)
        while True:
            hub.wait(watcher)
            for pending in self._routes.take():
                gevent.spawn(self._answer, pending)

    def _answer(self, pending):
        try:
            scheme = "https" if self.tls_cert else "http"
            status, headers, body = _call_wsgi(self.app, pending, self.web_base_path, scheme)
        except Exception:
            logger.exception("a web route added by the locustfile failed")
            status, headers, body = 500, [("Content-Type", "text/plain; charset=utf-8")], (
                b"the locustfile's web route raised an exception (see the log)")
        pending.respond(status, headers, body)


def _flask_app():
    """The app routes are added to, or None where Flask is not installed."""
    try:
        from flask import Flask
    except ImportError:
        logger.debug("flask is not installed: environment.web_ui.app is None")
        return None
    app = Flask("locust")
    app.debug = False
    return app


def _call_wsgi(app, pending, script_name, scheme):
    """Runs the WSGI ``app`` on one forwarded request; returns (status, headers, body)."""
    if app is None:
        return 404, [("Content-Type", "text/plain; charset=utf-8")], b"Not Found"
    method, path, query = pending.line()
    body = pending.body()
    environ = {
        "REQUEST_METHOD": method,
        "SCRIPT_NAME": script_name.rstrip("/"),
        "PATH_INFO": _unquote_latin1(path),
        "QUERY_STRING": query,
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": scheme,
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": False,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
        "CONTENT_LENGTH": str(len(body)),
    }
    host = ""
    for name, value in pending.headers():
        key = name.upper().replace("-", "_")
        if key == "CONTENT_TYPE":
            environ["CONTENT_TYPE"] = value
        elif key == "CONTENT_LENGTH":
            continue
        else:
            key = "HTTP_" + key
            environ[key] = f"{environ[key]},{value}" if key in environ else value
        if key == "HTTP_HOST":
            host = value
    server, _, port = host.rpartition(":") if ":" in host else (host, "", "")
    environ["SERVER_NAME"] = server or "localhost"
    environ["SERVER_PORT"] = port or "80"

    started = {}

    def start_response(status, response_headers, exc_info=None):
        if exc_info and started:
            raise exc_info[1].with_traceback(exc_info[2])
        started["status"] = int(status.split(" ", 1)[0])
        started["headers"] = [(str(k), str(v)) for k, v in response_headers]
        return chunks.append

    chunks = []
    result = app(environ, start_response)
    try:
        for chunk in result:
            chunks.append(chunk)
    finally:
        close = getattr(result, "close", None)
        if close is not None:
            close()
    if "status" not in started:
        raise RuntimeError("the WSGI app returned without calling start_response")
    return started["status"], started["headers"], b"".join(chunks)


def _unquote_latin1(path):
    """A percent-encoded path as WSGI's PATH_INFO: the decoded bytes as a Latin-1 string."""
    from urllib.parse import unquote_to_bytes

    return unquote_to_bytes(path).decode("latin-1")
