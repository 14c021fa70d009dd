"""The common calls that skip ``HttpSession.request()`` (``post/put/patch(url, json=...)``,
``delete(url)``, ``get(url, headers=...)``, with ``name=`` and ``catch_response=True``; see
``HttpSession._fast_send``) and the inlined ``catch_response`` success: the same requests on the
wire, statistics, failure texts, responses, ``request_meta`` and exceptions as Locust's, and as
locusta's general path. The same calls on a ``FastHttpSession`` (its own fast path,
``FastHttpSession._fast_send``) against Locust's ``FastHttpSession``.

Each snippet runs in a new process under locusta (the import hook installed) and, where the real
Locust is installed, under Locust too; the printed results must match."""

import sys
import textwrap

from test_library_parity import _both, _run

# A target that echoes what it received: method, path, Content-Type, body, and the X- headers
# with their spelling as received; /status/N answers N.
_SERVER = """
import json as _j
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def _answer(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else b""
        status = int(self.path.split("/status/")[1].split("?")[0]) if "/status/" in self.path else 200
        echo = {"method": self.command, "path": self.path, "ctype": self.headers.get("Content-Type"),
                "body": body.decode("utf-8"), "x": sorted((k, v) for k, v in self.headers.items() if k.lower().startswith("x-"))}
        out = _j.dumps(echo).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(out)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _answer

    def log_message(self, *args):
        pass

server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
threading.Thread(target=server.serve_forever, daemon=True).start()
BASE = f"http://127.0.0.1:{server.server_port}"
"""

_REPORT = """
def report(env):
    for (name, method), e in sorted(env.stats.entries.items()):
        print("entry", method, name, e.num_requests, e.num_failures, e.total_content_length > 0)
    # (the refused connection's text is requests' own in Locust: left out)
    # (Locust keeps the exception, locusta its text: compared as the text Locust's CSV writes)
    for e in sorted(env.stats.errors.values(), key=lambda e: (e.method, e.name)):
        if e.name != "/x":
            print("error", e.method, e.name, e.error if isinstance(e.error, str) else repr(e.error), e.occurrences)
"""


def _snippet(body, listener=False):
    """``body`` run with a session ``s`` on the echo target (env ``env``); with ``listener`` a
    request listener prints what it gets (and every call takes the general path)."""
    # (locust first: it patches the standard library for gevent before the server's thread starts)
    head = textwrap.dedent("""
        from locust.clients import HttpSession
        from locust.env import Environment
        from locust.event import Events
        from locust.exception import ResponseError
    """) + _SERVER + _REPORT + textwrap.dedent(f"""
        env = Environment(events=Events())
        env.create_local_runner()
        if {listener!r}:
            def on_request(request_type, name, response_time, response_length, response, context, exception,
                           start_time, url, **kw):
                print("event", request_type, name, response_length, response.status_code, context,
                      # (no response: the innermost OS error, as Locust unwraps requests' own)
                      repr(exception)[:80], url.replace(BASE, "BASE"), sorted(kw),
                      type(response_time).__name__, type(start_time).__name__)
            env.events.request.add_listener(on_request)
        s = HttpSession(base_url=BASE, request_event=env.events.request, user=None)
    """)
    return head + textwrap.dedent(body) + "\nreport(env)\nserver.shutdown()\n"


_CALLS = """
import json
def show(r):
    e = r.json()
    print(r.status_code, e["method"], e["path"], e["ctype"], e["body"], e["x"], r.request.body,
          r.request_meta["name"], r.request_meta["request_type"], r.url.replace(BASE, "BASE"), bool(r), type(r.error).__name__)

payload = {"name": "caf\\u00e9 \\u2603 \\U0001f600", "big": 1234567890123456789, "neg": -7, "f": 0.1 + 0.2,
           "tiny": 1e-300, "e": 1e22, "list": [1, 2.5, None, True, False, "x"], "nested": {"a": {"b": []}}, "t": (1, 2)}
show(s.post("/api/items", json=payload))
show(s.post("/api/items", json={"a": 1}, name="items"))
show(s.post("/api/items", json={"huge": 12345678901234567890123, "n": -(2 ** 70)}, name="items"))
show(s.post("/api/items/status/404", json=[1, 2, 3]))
show(s.post("/api/items/status/500", json="text", name="five hundred"))
show(s.put("/api/items/7", json={"q": 1}))
show(s.patch("/api/items/7", json={"q": 2}, name="patched"))
show(s.delete("/api/items/7"))
show(s.delete("/api/items/status/404", name="gone"))
show(s.get("/api/me", headers={"X-Token": "abc", "x-lower": "1", "X-None": None}))
show(s.get("/api/me/status/401", headers={"X-Token": "abc"}, name="me"))
show(s.post("/api/items", json={"a": 1}, headers={"X-Trace": "t1", "Content-Type": "application/vnd.x+json"}))
show(s.post("/api/items", json={"a": 1}, params={"page": 2, "q": "a b"}, name="with params"))
show(s.get("/api/products/7", name="/api/products/[id]"))
show(s.post("/api/items", json={"a": 1}, catch_response=False))
show(s.post("/api/items", data=None, json={"a": 1}))

# catch_response: success, failure, no verdict, exceptions inside the block
with s.post("/api/orders", json={"payment_method": "test"}, catch_response=True) as r:
    show(r)
    r.success()
with s.post("/api/orders/status/409", json={"p": 1}, catch_response=True, name="orders") as r:
    r.failure("Cart was empty")
with s.post("/api/orders/status/500", json={"p": 1}, catch_response=True) as r:
    r.success()
with s.post("/api/orders/status/500", json={"p": 1}, catch_response=True) as r:
    pass
with s.put("/api/orders/1", json={"p": 1}, catch_response=True) as r:
    raise ResponseError("bad order")
with s.delete("/api/orders/1", catch_response=True, name="del") as r:
    r.failure(ValueError("value"))
with s.get("/api/me", headers={"X-A": "1"}, catch_response=True) as r:
    show(r)
try:
    with s.post("/api/orders", json={"p": 1}, catch_response=True) as r:
        r.success()
        raise KeyError("propagates")
except KeyError as e:
    print("raised", repr(e))
r = s.post("/api/orders", json={"p": 1}, catch_response=True)
print("exit", r.__enter__() is r, r.__exit__(None, None, None))
r = s.post("/api/orders", json={"p": 1}, catch_response=True)
r.__enter__()
r.success()
print("exit after success with exception", r.__exit__(KeyError, KeyError("k"), None))
r = s.post("/api/orders", json={"p": 1}, catch_response=True)
r.__enter__()
print("exit with ResponseError", r.__exit__(ResponseError, ResponseError("re"), None))

# no response: a refused connection
dead = HttpSession(base_url="http://127.0.0.1:1", request_event=env.events.request, user=None)
r = dead.post("/x", json={"a": 1}, name="dead")
print(r.status_code, type(r.error).__name__)
with dead.post("/x", json={"a": 1}, catch_response=True) as r:
    print(r.status_code, type(r.error).__name__)
try:
    dead.post("nohost", json={"a": 1})
except Exception as e:
    print("url error", type(e).__name__)
"""

# What only Python's json can encode, or refuses: the general path. (Locust sends nothing and
# answers a response without status where requests refuses the body; locusta raises requests'
# ValueError: an older difference, outside the fast paths, so compared with locusta's own
# general path only.)
_UNENCODABLE = """
for bad in (float("nan"), {"x": float("inf")}, {1: "int key"}, {"s": {1, 2}}, {"big": 10 ** 30}):
    try:
        show(s.post("/api/items", json=bad))
    except (ValueError, TypeError) as e:
        print("refused", type(e).__name__, e)
"""


def test_fast_calls_match_locust():
    out = _both(_snippet(_CALLS))
    assert "entry POST /api/items " in out and "entry POST orders 1 1" in out, out
    assert "error PUT /api/orders/1 ResponseError('bad order') 1" in out, out
    assert "raised KeyError('propagates')" in out, out


def test_fast_calls_match_locust_with_request_listener():
    # with a request listener every call takes the general path: the same events as Locust's
    out = _both(_snippet(_CALLS, listener=True))
    assert "event POST items " in out, out


def test_fast_path_and_general_path_agree():
    # locusta alone: the same calls without listeners (the fast paths) and with a listener that
    # does nothing (the general path) give the same output, statistics and errors included
    fast = _run(sys.executable, _snippet(_CALLS + _UNENCODABLE), hook=True)
    general = _run(sys.executable, _snippet(_CALLS + _UNENCODABLE).replace(
        "s = HttpSession(", "env.events.request.add_listener(lambda **kw: None)\ns = HttpSession(", 1), hook=True)
    assert fast == general
    assert "refused ValueError Out of range float values are not JSON compliant" in fast, fast


def test_rename_request_and_subclasses_keep_the_general_path():
    out = _both(_snippet("""
        with s.rename_request("renamed"):
            s.post("/a", json={"a": 1})
            s.get("/b", headers={"X-A": "1"})
            s.delete("/c")

        class Mine(HttpSession):
            def request(self, method, url, *args, **kwargs):
                print("request()", method, url)
                return super().request(method, url, *args, **kwargs)

        m = Mine(base_url=BASE, request_event=env.events.request, user=None)
        print(m.post("/d", json={"a": 1}).status_code, m.get("/e", headers={"X-A": "1"}).status_code,
              m.delete("/f").status_code, m.put("/g", json=[1]).status_code)
    """))
    assert "entry POST renamed 1 0" in out and "entry DELETE renamed 1 0" in out, out
    assert "request() POST /d" in out and "request() PUT /g" in out, out


def test_a_request_wrapped_at_run_time_sees_every_call():
    # a plugin replacing HttpSession.request after import: every call goes through it, as in Locust
    out = _both(_snippet("""
        calls = []
        _request = HttpSession.request

        def wrapped(self, method, url, *args, **kwargs):
            calls.append((method, url))
            return _request(self, method, url, *args, **kwargs)

        HttpSession.request = wrapped
        s.get("/a")
        s.get("/b", name="b")
        with s.get("/c", catch_response=True) as r:
            r.success()
        s.post("/d", json={"a": 1})
        with s.post("/e", json={"a": 1}, catch_response=True) as r:
            r.success()
        s.put("/f", json=[1])
        s.delete("/g")
        s.get("/h", headers={"X-A": "1"})
        HttpSession.request = _request
        print(calls)
    """))
    assert "('POST', '/d')" in out and "('GET', '/a')" in out and "('DELETE', '/g')" in out, out


def _as_fast(code):
    """``code`` run with FastHttpSession as ``HttpSession``; what Locust's FastResponse does not
    have (``request_meta`` outside ``catch_response``, ``error``) left out, and URL errors
    compared as ValueErrors (geventhttpclient raises ValueError itself, locusta requests'
    InvalidURL, a subclass of it)."""
    code = code.replace("from locust.clients import HttpSession",
                        "from locust.contrib.fasthttp import FastHttpSession as HttpSession")
    code = code.replace('r.request_meta["name"], r.request_meta["request_type"], ', "")
    code = code.replace(", type(r.error).__name__)", ")")
    code = code.replace('print("url error", type(e).__name__)', 'print("url error", isinstance(e, ValueError))')
    code = code.replace("print(r.status_code, type(r.error).__name__)", "print(r.status_code)")
    assert "request_meta" not in code.split("def show")[1].split("\n\n")[0]
    return code


def test_fasthttp_calls_match_locust():
    out = _both(_as_fast(_snippet(_CALLS)))
    # FastHttpSession's own rules: its success codes, the URL as given as stats name, json headers
    assert "error GET me LocustBadStatusCode(code=401) 1" in out, out
    assert "entry POST /api/items/status/404 1 1" in out, out
    assert "[1, 2, 3] BASE/api/items/status/404 True" in out, out  # every FastResponse is true
    assert "BASE/api/items?page=2&q=a+b True" not in out, out  # its url has no params


def test_fasthttp_calls_match_locust_with_request_listener():
    out = _both(_as_fast(_snippet(_CALLS, listener=True)))
    assert "event POST with params 113 200 {} None BASE/api/items [] float float" in out, out


def test_fasthttp_fast_path_and_general_path_agree():
    code = _as_fast(_snippet(_CALLS + _UNENCODABLE))
    fast = _run(sys.executable, code, hook=True)
    general = _run(sys.executable, code.replace(
        "s = HttpSession(", "env.events.request.add_listener(lambda **kw: None)\ns = HttpSession(", 1), hook=True)
    assert fast == general


def test_the_common_calls_skip_request():
    # the calls the fast paths take send nothing through the general path (Runtime.send);
    # the others do, so this cannot pass by accident
    for session in ("from locust.clients import HttpSession",
                    "from locust.contrib.fasthttp import FastHttpSession as HttpSession"):
        out = _run(sys.executable, _snippet("""
            general = []
            _send = s._rt.send
            s._rt.send = lambda *a: general.append(a[1]) or _send(*a)
            s.get("/a")
            s.get("/a", name="a", params={"p": 1}, headers={"X-A": "1"})
            s.post("/b", json={"a": 1}, name="b", headers={"X-B": "2"})
            with s.post("/c", json=[1], catch_response=True) as r:
                r.success()
            s.put("/d", json={"d": 1})
            s.patch("/e", json={"e": 1}, params={"q": "x"})
            s.delete("/f", name="f")
            print("general", general)
            s.post("/g", data="form")
            s.get("/h", timeout=3)
            s.post("/i", json={"nan": float("nan")}) if "Fast" in type(s).__name__ else s.options("/i")
            print("general", general)
        """).replace("from locust.clients import HttpSession", session), hook=True)
        assert "general []\n" in out, out
        assert "general ['POST', 'GET', " in out, out
