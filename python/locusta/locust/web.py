"""``environment.web_ui``: the extension points of Locust's web UI for a locustfile.

The UI itself is served by Rust (``locusta-web``); what a locustfile adds in an ``init``
listener — ``web_ui.app.route(...)``, blueprints, ``@web_ui.auth_required_if_enabled`` — lives
in a real Flask app here. Requests for paths the UI does not serve are handed over by the
server (``_core.WebRoutes``) and answered by running that app, as WSGI, in a greenlet on the
gevent hub: a route may use the runner, the statistics and gevent as under Locust. The app sees
full paths (``--web-base-path`` included), as Locust's does. ``--web-auth`` and TLS are applied
by the server before a request gets here.

``--web-login``: as in Locust, the locustfile sets up Flask-Login (``web_ui.login_manager``, a
user loader, ``app.config["SECRET_KEY"]``, its login routes and ``web_ui.auth_args``); the
server asks this app about every request for the UI's own routes and lets it through only when
Flask-Login's ``login_required`` would, else answers with Flask-Login's redirect. The login page
itself (``locust.login``) is rendered here from ``auth_args``."""

import functools
import html
import io
import json
import logging
import sys

import gevent

from locusta import _core

logger = logging.getLogger("locust.web")


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
        self._login_manager = None
        if self.app is not None:
            self._add_locust_blueprint()
            if web_login:
                from flask_login import LoginManager

                self._login_manager = LoginManager()
                self._login_manager.init_app(self.app)
                self._login_manager.login_view = "locust.login"
        self._routes = _core.WebRoutes()

    @property
    def login_manager(self):
        """Flask-Login's manager (``--web-login`` only, as in Locust)."""
        if self.web_login:
            return self._login_manager
        raise AttributeError("The login_manager is only available with --web-login.\n")

    @login_manager.setter
    def login_manager(self, value):
        self._login_manager = value

    def auth_required_if_enabled(self, view_func):
        """Locust's decorator for added routes: with ``--web-login`` the view needs a logged-in
        user (Flask-Login's ``login_required``). ``--web-auth`` is checked by the server for
        every path before Flask runs."""

        @functools.wraps(view_func)
        def wrapper(*args, **kwargs):
            if not self.web_login:
                return view_func(*args, **kwargs)
            from flask import session
            from flask_login import login_required

            session["auth_error"] = None
            session["auth_info"] = None
            return login_required(view_func)(*args, **kwargs)

        return wrapper

    def _add_locust_blueprint(self):
        """The endpoints locustfiles redirect to: ``locust.index`` (the UI, served by the
        server) and ``locust.login`` (the login page)."""
        from flask import Blueprint, redirect, session, url_for

        blueprint = Blueprint("locust", __name__, url_prefix=self.web_base_path.rstrip("/"))

        @blueprint.route("/")
        def index():
            return redirect(url_for("locust.index"))  # the server answers this path itself

        @blueprint.route("/login")
        def login():
            if not self.web_login:
                return redirect(url_for("locust.index"))
            self.auth_args["error"] = session.get("auth_error")
            self.auth_args["info"] = session.get("auth_info")
            return _login_page(self.auth_args)

        @blueprint.route("/user", methods=["POST"])
        @self.auth_required_if_enabled
        def update_user():
            # Locust's per-class settings endpoint (the class picker's dialog posts here)
            from flask import request

            try:
                settings = json.loads(request.data or b"{}")
            except ValueError:
                return {"message": "the body must be a JSON object of user class settings"}, 400
            if not isinstance(settings, dict):
                return {"message": "the body must be a JSON object of user class settings"}, 400
            self.environment.update_user_class(settings)
            return {}, 201

        self.app.register_blueprint(blueprint)

    def _admits(self, pending):
        """``--web-login``: Flask-Login's answer for a request to the UI's own routes: 204 to
        let it through, else its redirect to the login page."""
        from flask_login import login_required

        if self.app is None or self._login_manager is None:
            return 500, [("Content-Type", "text/plain; charset=utf-8")], b"--web-login needs Flask-Login"
        environ = _environ(pending, b"", "https" if self.tls_cert else "http")
        with self.app.request_context(environ):
            response = self.app.make_response(login_required(lambda: ("", 204))())
            self.app.session_interface.save_session(self.app, _session(), response)
            return response.status_code, list(response.headers.items()), response.get_data()

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
            if pending.auth_check:
                status, headers, body = self._admits(pending)
            else:
                status, headers, body = _call_wsgi(self.app, pending, scheme)
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


def _session():
    from flask import session

    return session


def _call_wsgi(app, pending, scheme):
    """Runs the WSGI ``app`` on one forwarded request; returns (status, headers, body)."""
    if app is None:
        return 404, [("Content-Type", "text/plain; charset=utf-8")], b"Not Found"
    environ = _environ(pending, pending.body(), scheme)
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


def _environ(pending, body, scheme):
    """The WSGI environ of a forwarded request (PEP 3333)."""
    method, path, query = pending.line()
    environ = {
        "REQUEST_METHOD": method,
        "SCRIPT_NAME": "",
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
    return environ


def _unquote_latin1(path):
    """A percent-encoded path as WSGI's PATH_INFO: the decoded bytes as a Latin-1 string."""
    from urllib.parse import unquote_to_bytes

    return unquote_to_bytes(path).decode("latin-1")


def _login_page(auth_args):
    """The login page drawn from Locust's ``auth_args``: a username/password form
    (``username_password_callback``), a custom form (``custom_form``: inputs with ``label``,
    ``name``, ``type``, ``is_secret``, ``is_required``, ``choices``, ``default_value``), links
    to ``auth_providers``, and the ``error`` / ``info`` messages."""
    e = html.escape
    parts = []
    if auth_args.get("error"):
        parts.append(f'<p class="error" role="alert">{e(str(auth_args["error"]))}</p>')
    if auth_args.get("info"):
        parts.append(f'<p class="info">{e(str(auth_args["info"]))}</p>')
    if auth_args.get("username_password_callback"):
        parts.append(
            f'<form method="post" action="{e(auth_args["username_password_callback"])}">'
            '<label>Username <input name="username" autocomplete="username" required></label>'
            '<label>Password <input name="password" type="password" autocomplete="current-password" required></label>'
            "<button type=\"submit\">Login</button></form>"
        )
    form = auth_args.get("custom_form")
    if form:
        fields = "".join(_custom_input(i) for i in form.get("inputs", []))
        button = e(form.get("submit_button_text", "Login"))
        parts.append(
            f'<form method="post" action="{e(form.get("callback_url", ""))}">{fields}'
            f'<button type="submit">{button}</button></form>'
        )
    for provider in auth_args.get("auth_providers", []):
        icon = f'<img src="{e(provider["icon_url"])}" alt="" width="20" height="20"> ' if provider.get("icon_url") else ""
        parts.append(f'<p><a class="provider" href="{e(provider.get("callback_url", ""))}">{icon}{e(provider.get("label", ""))}</a></p>')
    title = e(str(auth_args.get("title", "Locust")))
    return (
        f"<!doctype html><html><head><meta charset=\"utf-8\"><title>{title}</title>"
        "<style>body{font-family:system-ui,sans-serif;max-width:22rem;margin:4rem auto;padding:0 1rem}"
        "label{display:block;margin:.6rem 0}input,select{display:block;width:100%;padding:.3rem}"
        "input[type=checkbox]{display:inline;width:auto}.error{color:#b00020}button{margin-top:.6rem}</style>"
        f"</head><body><h1>{title}</h1>{''.join(parts)}</body></html>"
    )


def _custom_input(spec):
    e = html.escape
    label, name = e(str(spec.get("label", spec.get("name", "")))), e(str(spec.get("name", "")))
    required = " required" if spec.get("is_required") else ""
    default = spec.get("default_value")
    if spec.get("choices"):
        options = "".join(f"<option>{e(str(c))}</option>" for c in spec["choices"])
        return f'<label>{label} <select name="{name}"{required}>{options}</select></label>'
    if isinstance(default, bool):
        checked = " checked" if default else ""
        return f'<label><input type="checkbox" name="{name}"{checked}> {label}</label>'
    kind = "password" if spec.get("is_secret") else e(str(spec.get("type", "text")))
    value = f' value="{e(str(default))}"' if default is not None else ""
    return f'<label>{label} <input name="{name}" type="{kind}"{value}{required}></label>'
