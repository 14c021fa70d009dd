"""Routes a locustfile adds to the web UI (``environment.web_ui.app``, a Flask app, from an
``init`` listener) answer under locusta as under Locust 2.47: same status codes and bodies,
behind ``--web-auth`` and ``--web-base-path`` like the UI's own paths, an exception logged and
answered with 500, unknown paths 404, and ``web_ui`` None in a headless run."""

import os
import re
import subprocess
import tempfile
import time

import pytest
import requests

from conftest import LOCUSTFILES, REAL_LOCUST, free_port, locusta_cmd

LOCUSTFILE = os.path.join(LOCUSTFILES, "web_extension.py")



class Run:
    """A web UI run of the locustfile, its log in a file (nothing blocks on a full pipe)."""

    def __init__(self, program, target, extra=(), locustfile=LOCUSTFILE):
        self.port = free_port()
        self.log = tempfile.NamedTemporaryFile("w+", suffix=".log")
        self.proc = subprocess.Popen(
            program + ["-f", locustfile, "-H", target, "--web-host", "127.0.0.1", "--web-port", str(self.port),
                       "--autostart", "-u", "1", "-r", "1", "-t", "60s", *extra],
            stdout=self.log, stderr=subprocess.STDOUT, text=True,
        )
        self.base = f"http://127.0.0.1:{self.port}"

    def wait_up(self, path="/worker-count", **kw):
        deadline = time.time() + 60
        while True:
            assert self.proc.poll() is None, self.output()
            try:
                return requests.get(self.base + path, timeout=5, **kw)
            except requests.ConnectionError:
                assert time.time() < deadline, "the web UI did not come up:\n" + self.output()
                time.sleep(0.2)

    def output(self):
        self.log.flush()
        with open(self.log.name) as f:
            return f.read()

    def close(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()


def answers(run):
    """What the added routes answer, in a form comparable between the two tools."""
    run.wait_up()
    deadline = time.time() + 30
    while True:
        r = requests.get(run.base + "/content-length", timeout=10)
        if r.status_code == 200 and r.json()["requests"] > 0:
            break
        assert time.time() < deadline, (r.status_code, r.text)
        time.sleep(0.3)
    echo = requests.post(run.base + "/extra/echo?q=%C3%A9t%C3%A9", json={"a": [1, 2.5, None], "b": "ü"}, timeout=10)
    boom = requests.get(run.base + "/extra/boom", timeout=10)
    missing = requests.get(run.base + "/no/such/page", timeout=10)
    return {
        "content_length": (r.status_code, sorted(r.json()), r.json()["state"], r.json()["users"]),
        "echo": (echo.status_code, echo.headers["content-type"], echo.json()),
        "boom": boom.status_code,
        "missing": missing.status_code,
    }


@pytest.mark.skipif(not os.path.exists(REAL_LOCUST), reason="real Locust is not installed")
def test_added_routes_answer_as_under_locust(target):
    ours, theirs = Run(locusta_cmd(), target), Run([REAL_LOCUST], target)
    try:
        got, want = answers(ours), answers(theirs)
        assert got == want
        assert got["echo"][2] == {"got": {"a": [1, 2.5, None], "b": "ü"}, "q": "été", "path": "/extra/echo"}
        # The UI's own routes are still ours.
        assert "stats" in requests.get(ours.base + "/stats/requests", timeout=10).json()
        log = ours.output()
        assert "Exception on /extra/boom [GET]" in log and "RuntimeError: kaboom" in log, log
    finally:
        ours.close()
        theirs.close()


def test_added_routes_are_behind_auth_and_base_path(target):
    run = Run(locusta_cmd(), target, ["--web-auth", "ann:secret", "--web-base-path", "/lt"])
    try:
        run.wait_up("/lt/worker-count", auth=("ann", "secret"))
        assert requests.post(run.base + "/lt/extra/echo", json=[1], timeout=10).status_code == 401
        r = requests.post(run.base + "/lt/extra/echo", json=[1], auth=("ann", "secret"), timeout=10)
        # The app sees the full path, as Locust's Flask app does.
        assert r.status_code == 201 and r.json()["path"] == "/lt/extra/echo", r.text
    finally:
        run.close()


def test_headless_runs_have_no_web_ui(target):
    proc = subprocess.run(
        locusta_cmd() + ["-f", LOCUSTFILE, "-H", target, "--headless", "-u", "1", "-t", "2s"],
        capture_output=True, text=True, timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert not re.search(r"Traceback", proc.stderr), proc.stderr


def login_flow(run):
    """What a browser meets with --web-login: redirects, the login page, a wrong password, a
    right one, then the UI and its API."""
    run.wait_up("/login")
    s = requests.Session()
    seen = {}
    r = s.get(run.base + "/", allow_redirects=False, timeout=10)
    seen["page before login"] = (r.status_code, r.headers.get("location", "").split("?")[0])
    r = s.get(run.base + "/stats/requests", allow_redirects=False, timeout=10)
    seen["api before login"] = (r.status_code, r.headers.get("location", "").split("?")[0])
    r = s.get(run.base + "/whoami", allow_redirects=False, timeout=10)
    seen["added route before login"] = r.status_code
    r = s.get(run.base + "/login", timeout=10)
    seen["login page"] = (r.status_code, "login_submit" in r.text)
    r = s.post(run.base + "/login_submit", data={"username": "ann", "password": "wrong"}, timeout=10)
    seen["wrong password"] = (r.status_code, "Invalid username or password" in r.text)
    r = s.post(run.base + "/login_submit", data={"username": "ann", "password": "sesame"}, allow_redirects=False, timeout=10)
    seen["right password"] = (r.status_code, r.headers.get("location"))
    r = s.get(run.base + "/stats/requests", timeout=10)
    seen["api after login"] = (r.status_code, "stats" in r.json())
    seen["added route after login"] = s.get(run.base + "/whoami", timeout=10).json()
    seen["page after login"] = s.get(run.base + "/", allow_redirects=False, timeout=10).status_code
    return seen


@pytest.mark.skipif(not os.path.exists(REAL_LOCUST), reason="real Locust is not installed")
def test_web_login_behaves_as_under_locust(target):
    lf = os.path.join(LOCUSTFILES, "web_login.py")
    ours = Run(locusta_cmd(), target, ["--web-login"], locustfile=lf)
    theirs = Run([REAL_LOCUST], target, ["--web-login"], locustfile=lf)
    try:
        got, want = login_flow(ours), login_flow(theirs)
        assert got == want
        assert got["page before login"] == (302, "/login")
        assert got["api after login"] == (200, True)
    finally:
        ours.close()
        theirs.close()


def test_web_login_is_refused_for_rust_users(target):
    proc = subprocess.run(locusta_cmd() + ["demo", "--headful", "--web-login", "-H", target],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1
    assert "--web-login needs a Python locustfile" in proc.stderr, proc.stderr
