"""The web API of locusta next to the real Locust 2.47's, on loopback: same paths, methods,
response keys, CSV headers and download names. locusta's side is ``locusta demo --headful``
(Rust users); Locust's side runs an equivalent locustfile against the same demo target."""

import os
import re
import subprocess
import time

import pytest
import requests

from conftest import free_port, lf, locusta_cmd



class Ui:
    def __init__(self, args, url=None):
        self.proc = subprocess.Popen(
            args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env={**os.environ, "LOCUST_HOST": ""}
        )
        self.base = url
        deadline = time.time() + 60
        while self.base is None:
            line = self.proc.stderr.readline()
            assert line or time.time() < deadline, "no web UI address"
            m = re.search(r"Starting web interface at (\S+)", line)
            if m:
                self.base = m.group(1).rstrip("/").rstrip(",")
        if url is not None:
            while True:
                try:
                    requests.get(self.base + "/worker-count", timeout=2)
                    break
                except requests.ConnectionError:
                    assert time.time() < deadline, "real Locust's web UI did not come up"
                    time.sleep(0.2)

    def get(self, path, **kw):
        return requests.get(self.base + path, timeout=20, **kw)

    def post(self, path, **kw):
        return requests.post(self.base + path, timeout=20, **kw)

    def wait_for_requests(self):
        deadline = time.time() + 30
        while True:
            s = self.get("/stats/requests").json()
            if s["stats"][-1]["num_requests"] > 0 and s.get("state") == "running":
                return s
            assert time.time() < deadline, s
            time.sleep(0.3)

    def close(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()


#: Keys locusta adds to each row of /stats/requests.
ROW_ADDITIONS = ("exact_min_response_time", "exact_max_response_time")


def kinds(value):
    """The JSON shape of a value: key sets and value kinds (numbers are one kind)."""
    if isinstance(value, dict):
        return {k: kinds(v) for k, v in value.items()}
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    if value is None:
        return "null"
    if isinstance(value, list):
        return "list"
    return type(value).__name__


@pytest.fixture
def both(real_locust, target):
    port = free_port()
    locust = Ui(
        real_locust
        + ["-f", lf("web_ui.py"), "-H", target, "--web-host", "127.0.0.1", "--web-port", str(port)],
        url=f"http://127.0.0.1:{port}",
    )
    ours = Ui(locusta_cmd() + ["demo", "--headful", "-H", target, "--web-port", "0"])
    yield locust, ours
    locust.close()
    ours.close()


def test_web_api_matches_locust(both, target):
    locust, ours = both
    for ui in both:
        r = ui.post("/swarm", data={"user_count": "2", "spawn_rate": "20", "host": target})
        assert r.status_code == 200
        body = r.json()
        assert body == {"success": True, "message": "Swarming started", "host": target}
    theirs_stats = locust.wait_for_requests()
    ours_stats = ours.wait_for_requests()
    # Top-level keys and each row's keys are Locust's.
    assert set(ours_stats) == set(theirs_stats)
    for i in (0, -1):
        ours_row = dict(ours_stats["stats"][i])
        # locusta adds the unrounded min and max (Locust rounds them to whole ms here)
        added = {k: ours_row.pop(k) for k in ROW_ADDITIONS}
        assert all(isinstance(v, (int, float)) for v in added.values()), added
        assert abs(added["exact_max_response_time"] - ours_row["max_response_time"]) <= 0.5
        assert kinds(ours_row) == kinds(theirs_stats["stats"][i])
    assert ours_stats["stats"][-1]["name"] == theirs_stats["stats"][-1]["name"] == "Aggregated"
    assert set(ours_stats["current_response_time_percentiles"]) == set(
        theirs_stats["current_response_time_percentiles"]
    )
    for ui_a, ui_b in [(ours, locust)]:
        for path in ["/exceptions", "/worker-count"]:
            assert kinds(ui_a.get(path).json()) == kinds(ui_b.get(path).json()), path
        a, b = ui_a.get("/tasks").json(), ui_b.get("/tasks").json()
        assert set(a) == set(b) == {"per_class", "total"}
        a, b = ui_a.get("/logs").json(), ui_b.get("/logs").json()
        assert set(a) == set(b) == {"master", "workers"}
        for path in ["/stats/requests/csv", "/stats/failures/csv", "/exceptions/csv"]:
            ra, rb = ui_a.get(path), ui_b.get(path)
            assert ra.status_code == rb.status_code == 200
            assert ra.text.splitlines()[0] == rb.text.splitlines()[0], path
            assert ra.headers["Content-Type"].startswith("text/csv")
            da, db = ra.headers["Content-Disposition"], rb.headers["Content-Disposition"]
            assert da.startswith("attachment;filename=Locust_") and db.startswith("attachment;filename=Locust_")
            assert da.split("_")[-1] == db.split("_")[-1], (da, db)
        ra, rb = ui_a.get("/stats/requests_full_history/csv"), ui_b.get("/stats/requests_full_history/csv")
        assert ra.status_code == rb.status_code == 404
        assert ra.text == rb.text
        # /stop is POST only in Locust 2.47.
        assert ui_a.get("/stop").status_code == ui_b.get("/stop").status_code == 405
        # A bad form: the same JSON body; locusta answers 400 where Locust answers 200.
        ra = ui_a.post("/swarm", data={"user_count": "many", "spawn_rate": "1"})
        rb = ui_b.post("/swarm", data={"user_count": "many", "spawn_rate": "1"})
        assert (ra.status_code, rb.status_code) == (400, 200)
        assert ra.json()["message"] == rb.json()["message"]
        assert set(ra.json()) == set(rb.json())
    for ui in both:
        r = ui.post("/stop")
        assert r.json() == {"success": True, "message": "Test stopped"}
    for ui in both:
        deadline = time.time() + 30
        while ui.get("/stats/requests").json()["state"] != "stopped":
            assert time.time() < deadline
            time.sleep(0.2)
        assert ui.post("/stats/reset").text == "ok"
        # Locust memoizes /stats/requests for a moment; wait out its cache.
        deadline = time.time() + 30
        while ui.get("/stats/requests").json()["stats"][-1]["num_requests"] != 0:
            assert time.time() < deadline
            time.sleep(0.3)
