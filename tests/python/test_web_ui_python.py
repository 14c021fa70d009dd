"""The web UI with a Python locustfile (``locusta -f locustfile.py`` without ``--headless``):
start a test with ``/swarm``, see its rows, stop, reset, then Ctrl-C ends the run with the
headless run's summary; and ``--autostart --autoquit`` runs and exits by itself."""

import os
import re
import signal
import subprocess
import time

import requests

from conftest import locusta_cmd, lf


class PyUi:
    """``python -m locusta -f web_python.py`` serving its UI on a free loopback port; stderr
    goes to a file (read while it runs, so the pipe never fills)."""

    def __init__(self, tmp_path, *extra):
        self.log_path = tmp_path / "stderr.log"
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen(
            locusta_cmd() + ["-f", lf("web_python.py"), "--web-port", "0", *extra],
            stdout=subprocess.DEVNULL,
            stderr=self.log,
            cwd=str(tmp_path),
            env={**os.environ, "LOCUST_HOST": ""},
        )
        self.base = None

    def text(self):
        with open(self.log_path) as f:
            return f.read()

    def wait_for_log(self, needle, timeout=60):
        deadline = time.time() + timeout
        while needle not in self.text():
            assert self.proc.poll() is None or needle in self.text(), self.text()
            assert time.time() < deadline, f"no {needle!r} in:\n{self.text()}"
            time.sleep(0.1)

    def wait_for_url(self):
        deadline = time.time() + 60
        while True:
            m = re.search(r"Starting web interface at (\S+)", self.text())
            if m:
                self.base = m.group(1).rstrip("/")
                return
            assert self.proc.poll() is None, self.text()
            assert time.time() < deadline, self.text()
            time.sleep(0.1)

    def get(self, path):
        return requests.get(self.base + path, timeout=20)

    def post(self, path, **kw):
        return requests.post(self.base + path, timeout=20, **kw)

    def poll(self, what, check, timeout=60):
        deadline = time.time() + timeout
        while True:
            body = self.get("/stats/requests").json()
            if check(body):
                return body
            assert time.time() < deadline, f"{what}: {body}"
            time.sleep(0.2)

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=20)
        self.log.close()


def test_python_locustfile_in_the_web_ui(tmp_path, target):
    ui = PyUi(tmp_path, "--csv", "out")
    try:
        ui.wait_for_url()
        assert ui.base.startswith("http://127.0.0.1:")
        assert ui.get("/stats/requests").json()["state"] == "ready"
        tasks = ui.get("/tasks").json()
        assert "WebUser" in tasks["per_class"], tasks

        r = ui.post("/swarm", data={"user_count": "2", "spawn_rate": "20", "host": target})
        assert r.status_code == 200
        assert r.json() == {"success": True, "message": "Swarming started", "host": target}
        # A bad form is refused before it reaches the runner.
        assert ui.post("/swarm", data={"user_count": "x", "spawn_rate": "1"}).status_code == 400

        def has_rows(body):
            rows = {r["name"]: r for r in body["stats"]}
            return (
                body["state"] == "running"
                and body["user_count"] == 2
                and rows.get("/web-index", {}).get("num_requests", 0) > 0
            )

        body = ui.poll("rows of the Python users", has_rows)
        assert [r["name"] for r in body["stats"]] == ["/web-index", "Aggregated"]
        assert body["stats"][0]["method"] == "GET"
        ui.wait_for_log("EVENT test_start")
        # The HTML report of the run so far, rendered by the Python loop's Insight.
        r = ui.get("/stats/report")
        assert r.status_code == 200 and "<html" in r.text.lower()
        # With the ratio of the users running now, as a finished run's report.
        assert '<section id="ratio"><h2>Final ratio</h2>' in r.text
        assert "100.0% WebUser" in r.text

        assert ui.post("/stop").json() == {"success": True, "message": "Test stopped"}
        ui.poll("stopped", lambda b: b["state"] == "stopped" and b["user_count"] == 0)
        ui.wait_for_log("EVENT test_stop")
        assert ui.post("/stats/reset").text == "ok"
        ui.poll("reset", lambda b: b["stats"][-1]["num_requests"] == 0)
        ui.wait_for_log("EVENT reset_stats")
        # The CSV files are written while the UI runs.
        assert (tmp_path / "out_stats.csv").exists()

        ui.proc.send_signal(signal.SIGINT)
        code = ui.proc.wait(timeout=60)
        err = ui.text()
        assert code == 0, err
        assert "Got Ctrl-C, shutting down" in err
        assert "EVENT quitting" in err
        assert "Shutting down (exit code 0)" in err
        assert "Response time percentiles" in err
    finally:
        ui.close()


def test_autostart_and_autoquit(tmp_path, target):
    ui = PyUi(tmp_path, "-H", target, "--autostart", "-u", "1", "-r", "10", "-t", "2", "--autoquit", "1")
    try:
        code = ui.proc.wait(timeout=90)
        err = ui.text()
        assert code == 0, err
        assert "Starting web interface at http://127.0.0.1:" in err
        assert "--run-time limit reached, stopping test" in err
        assert "--autoquit time reached, shutting down" in err
        assert err.index("EVENT test_start") < err.index("EVENT test_stop") < err.index("EVENT quitting")
        assert "Aggregated" in err
    finally:
        ui.close()
