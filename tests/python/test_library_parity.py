"""Locust used as a library, where Locust's own behavioural tests (``scripts/locust_suite.py``)
found locusta different: each Environment has its own statistics, and the
``locust.user.inspectuser`` and ``locust.util.load_locustfile`` modules exist.

Each snippet runs in a new process under locusta (the import hook installed) and, where the real
Locust is installed in this environment, under Locust too; the printed results must match."""

import os
import subprocess
import sys
import textwrap

import pytest

from conftest import REAL_LOCUST


def _real_locust_python():
    """An interpreter whose ``import locust`` is the real Locust: the one next to the real
    ``locust`` command, else this one if Locust is installed here; None without Locust."""
    sibling = os.path.join(os.path.dirname(REAL_LOCUST), "python")
    if os.path.isabs(REAL_LOCUST) and os.path.exists(sibling):
        return sibling
    probe = subprocess.run([sys.executable, "-c", "import locust; print(locust.__file__)"],
                           capture_output=True, text=True, timeout=60)
    if probe.returncode == 0 and "locusta" not in probe.stdout:
        return sys.executable
    return None


def _run(python, code, hook):
    prog = textwrap.dedent(code)
    if hook:
        prog = "from locusta import _importhook\n_importhook.install()\n" + prog
    proc = subprocess.run([python, "-c", prog], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout


def _both(code):
    """The snippet's output under locusta, checked against the real Locust's when installed."""
    ours = _run(sys.executable, code, hook=True)
    real = _real_locust_python()
    if real is not None:
        assert ours == _run(real, code, hook=False)
    return ours


def test_each_environment_starts_with_empty_stats(target):
    # Locust's own test cases create one Environment per test; counts must not carry over.
    # (Each has its own Events here: Environments sharing one ``events`` object all count
    # every request in Locust, as each adds its listener to the same hook.)
    out = _both(f"""
        from locust.clients import HttpSession
        from locust.env import Environment
        from locust.event import Events

        def one_request(env):
            s = HttpSession(base_url={target!r}, request_event=env.events.request, user=None)
            s.get("/")
            s.get("/about/", name="about")

        first = Environment(events=Events())
        first.create_local_runner()
        one_request(first)
        second = Environment(events=Events())
        second.create_local_runner()
        one_request(second)
        print(first.stats.total.num_requests, second.stats.total.num_requests,
              len(second.stats.entries), second.runner.stats.get("about", "GET").num_requests)
    """)
    assert out.split() == ["2", "2", "2", "1"]


def test_inspectuser_task_ratios():
    out = _both("""
        import json
        from locust import TaskSet, User, task
        from locust.user.inspectuser import _get_task_ratio, get_ratio, print_task_ratio, print_task_ratio_json

        class Browse(TaskSet):
            @task(3)
            def listing(self):
                pass

            @task
            class Details(TaskSet):
                @task
                def photos(self):
                    pass

                @task(2)
                def reviews(self):
                    pass

        class Shopper(User):
            weight = 3
            tasks = {Browse: 2}

            @task
            def cart(self):
                pass

        class Admin(User):
            fixed_count = 1
            tasks = [Browse]

        print(json.dumps(_get_task_ratio(Browse.tasks, True, 0.5), sort_keys=True))
        print(json.dumps(get_ratio([Shopper, Admin], {"Shopper": 3, "Admin": 1}, False), sort_keys=True))
        print_task_ratio([Shopper, Admin], 7, True)
        print_task_ratio_json([Shopper, Admin], None)
    """)
    assert '"listing": {"ratio": 0.375}' in out


def test_load_locustfile_and_user_class_checks(tmp_path):
    (tmp_path / "helper_mod.py").write_text("PATH = '/from-helper'\n")
    path = tmp_path / "shopfile.py"
    path.write_text(textwrap.dedent("""
        from helper_mod import PATH
        from locust import HttpUser, LoadTestShape, User, task
        from locust.contrib.fasthttp import FastHttpUser

        class Base(User):
            abstract = True

        class Web(HttpUser):
            @task
            def t(self):
                self.client.get(PATH)

        class Fast(FastHttpUser):
            @task
            def t(self):
                pass

        class Steps(LoadTestShape):
            def tick(self):
                return None
    """))
    out = _both(f"""
        from locust import FastHttpUser, HttpUser, LoadTestShape, User
        from locust.util.load_locustfile import is_shape_class, is_user_class, load_locustfile

        users, shapes = load_locustfile({str(path)!r})
        print(sorted(users), [type(s).__name__ for s in shapes])
        print([is_user_class(c) for c in (User, HttpUser, FastHttpUser, users["Web"], 42)])
        print(is_shape_class(LoadTestShape), is_shape_class(type(shapes[0])))
    """)
    assert out.splitlines() == [
        "['Fast', 'Web'] ['Steps']",
        "[False, False, False, True, False]",
        "False True",
    ]


def test_import_locust_patches_for_gevent_and_failures_keep_their_os_error():
    # Locust's `import locust` monkey-patches the standard library (time.sleep in a script or a
    # test server then yields to the hub); a failure's StatsError.error is the OS error itself.
    out = _both("""
        import gevent.monkey
        import locust
        print(gevent.monkey.is_module_patched("time"), gevent.monkey.is_module_patched("socket"))

        from locust.contrib.fasthttp import FastHttpSession
        from locust.env import Environment
        env = Environment()
        env.create_local_runner()
        r = FastHttpSession("http://127.0.0.1:1", env.events.request, user=None).get("/")
        error = next(iter(env.runner.stats.errors.values())).error
        print(r.status_code, r.content, isinstance(r.error, ConnectionRefusedError),
              isinstance(error, ConnectionRefusedError))
    """)
    assert out.split() == ["True", "True", "0", "None", "True", "True"]


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, "-v"]))


def test_text_and_json_follow_the_content_type_charset():
    # `.text` and `.json()` read only Content-Type (not the whole header mapping): the charset
    # is honoured, and repeated header fields are joined as the mapping joins them.
    out = _both("""
        import threading
        from http.server import BaseHTTPRequestHandler, HTTPServer
        from locust.clients import HttpSession
        from locust.event import Events

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                if self.path == "/latin":
                    body, ctype = '{"name": "café"}'.encode("latin-1"), "application/json; charset=iso-8859-1"
                else:
                    body, ctype = '{"name": "naïve", "n": 12345678901234567890}'.encode(), "application/json"
                self.send_response(200)
                self.send_header("Content-Type", ctype)
                self.send_header("X-Twice", "a")
                self.send_header("X-Twice", "b")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        server = HTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        s = HttpSession(base_url=f"http://127.0.0.1:{server.server_port}", request_event=Events().request, user=None)
        for path in ("/latin", "/utf8"):
            r = s.get(path)
            print(repr(r.text), r.json(), r.headers["x-twice"], r.headers["content-type"])
        r = s.get("/latin")
        r.headers["content-type"] = "application/json; charset=utf-8"
        print(repr(r.text))
        server.shutdown()
    """)
    assert "'{\"name\": \"café\"}'" in out, out
    assert "12345678901234567890" in out and "a, b" in out, out


def test_fasthttpsession_get_outcomes(target):
    # FastHttpSession.get's fast path (sent and timed in Rust, judged with FastHttpSession's
    # success codes in Python): names, failures and error texts as Locust's, with and without
    # catch_response, and a refused connection.
    out = _both(f"""
        from locust.contrib.fasthttp import FastHttpSession
        from locust.env import Environment
        from locust.event import Events

        env = Environment(events=Events())
        env.create_local_runner()
        s = FastHttpSession({target!r}, request_event=env.events.request, user=None)
        print(s.get("/_test/status/404").status_code, s.get("/_test/status/200", name="ok").text is not None)
        with s.get("/_test/status/500", catch_response=True) as r:
            r.success()
        with s.get("/_test/status/200", name="caught", catch_response=True) as r:
            r.failure("nope")
        with s.get("/_test/status/404", catch_response=True) as r:
            pass
        refused = FastHttpSession("http://127.0.0.1:1", request_event=env.events.request, user=None)
        r = refused.get("/x")
        print(r.status_code, type(r.error).__name__, r.text)
        for (name, method), e in sorted(env.stats.entries.items()):
            print(method, name, e.num_requests, e.num_failures)
        # (the failure texts themselves are compared through the CSV in test_fasthttpuser_matches_real_locust)
        for e in sorted(env.stats.errors.values(), key=lambda e: e.name):
            print("error", e.method, e.name, e.occurrences)
    """)
    assert "GET /_test/status/404 2 2" in out
    assert "GET caught 1 1" in out


def test_get_params_on_the_fast_path(target):
    # get(url, params={...}) takes the Rust fast path: the URL, the stats name and the response
    # URL as Locust's, for HttpSession and FastHttpSession, with and without name= / catch_response.
    out = _both(f"""
        from locust.clients import HttpSession
        from locust.contrib.fasthttp import FastHttpSession
        from locust.env import Environment
        from locust.event import Events

        env = Environment(events=Events())
        env.create_local_runner()
        params = {{"page": 2, "q": "a b&c/é~*", "tags": ["x", "y"], "none": None, "empty": ""}}
        for session in (HttpSession({target!r}, request_event=env.events.request, user=None),
                        FastHttpSession({target!r}, request_event=env.events.request, user=None)):
            r = session.get("/products/", params=params)
            # (Locust's FastResponse.url is then geventhttpclient's relative path; ours the full URL)
            print(r.url if isinstance(session, HttpSession) and not isinstance(session, FastHttpSession) else r.status_code)
            print(session.get("/products/", params={{"k": 1}}, name="named").status_code)
            with session.get("/products/", params={{}}, catch_response=True) as r:
                print(r.url)
        for (name, method), e in sorted(env.stats.entries.items()):
            print(method, name, e.num_requests, e.num_failures)
    """)
    assert "GET named 2 0" in out


def test_session_headers_and_scheduled_tasks_behave_as_locusts(target):
    # client.headers is copied from the Rust session only when first used, and a TaskSet's queue
    # is a small list, not a deque (memory per user); both must behave as Locust's.
    out = _both(f"""
        from locust import HttpUser, TaskSet, task
        from locust.clients import HttpSession
        from locust.env import Environment

        s = HttpSession(base_url={target!r}, request_event=Environment().events.request, user=None)
        s.headers.update({{"X-A": "1", "x-b": "2"}})
        del s.headers["x-a"]
        s.headers["X-C"] = "3"
        print(sorted(k for k in s.headers if k.lower().startswith("x-")), s.headers["X-B"], len(s.headers) > 3)
        print(s.get("/").status_code)

        order = []

        class Tasks(TaskSet):
            @task
            def a(self):
                pass

        class U(HttpUser):
            host = {target!r}
            tasks = [Tasks]

        ts = Tasks(U(Environment()))
        for name, first in [("one", False), ("two", False), ("zero", True)]:
            ts.schedule_task(lambda self=None, name=name: order.append(name), first=first)
        while ts._task_queue:
            ts.execute_next_task()
        print(order)
    """)
    assert out.splitlines() == ["['X-C', 'x-b'] 2 True", "200", "['zero', 'one', 'two']"], out
