"""Insight features with Python locustfiles: thresholds and their exit code, JUnit XML, the
HTML report with the diagnosis, and clear refusals for what Python runs do not have yet."""

import csv
import json
import shutil
import socket
import subprocess
import time
import urllib.request

import pytest

from conftest import EXAMPLES, lf, locusta_cmd


def test_thresholds_junit_and_report(run_locustfile, target, tmp_path):
    junit = tmp_path / "junit.xml"
    report = tmp_path / "report_{u}.html"
    run = run_locustfile(
        lf("fast_codes.py"),
        target,
        "--threshold",
        "GET /_test/status/200:fail_ratio<1%",
        "--threshold",
        "GET /_test/status/404:fail_ratio<1%",
        "--junit",
        str(junit),
        "--html",
        str(report),
        users=2,
        time_s="2s",
    )
    # The 404s fail their threshold: exit code 3 (not --exit-code-on-error's 1).
    assert run.code == 3, run.stderr
    assert "Thresholds: 1 passed, 1 failed" in run.stderr
    assert "Diagnosis" in run.stderr
    xml = junit.read_text()
    assert 'tests="2" failures="1"' in xml
    html = (tmp_path / "report_2.html").read_text()
    start = html.index('id="locusta-diagnosis">') + len('id="locusta-diagnosis">')
    diagnosis = json.loads(html[start : html.index("</script>", start)])
    names = {e["name"] for e in diagnosis["endpoints"]}
    assert "/_test/status/404" in names
    assert "Request Statistics" in html and "<script src" not in html


def test_seed_shop_checkout_failing_at_every_load_is_not_healthy(run_locustfile, target, tmp_path):
    """The seed shop's checkout fails whenever the cart is empty, from the lowest load on: the
    diagnosis lists it as failing (console and report), not as a healthy "none", and blames no
    culprit for it."""
    import os

    report = tmp_path / "shop.html"
    # "failing" needs at least 3 failed checkouts in the per-second history: with the seed's
    # 1-5 s waits and checkout one task in ten, 40 users for 8 s made only ~5-8 checkouts and
    # sometimes fewer than 3 recorded; 60 users for 10 s make ~15
    run = run_locustfile(os.path.join(EXAMPLES, "seed_shop.py"), target, "--html", str(report),
                         users=60, rate=12, time_s="10s")
    assert "Failing at every load" in run.stderr, run.stderr
    assert "POST /api/orders: failing at every load" in run.stderr, run.stderr
    html = report.read_text()
    start = html.index('id="locusta-diagnosis">') + len('id="locusta-diagnosis">')
    diagnosis = json.loads(html[start : html.index("</script>", start)])
    orders = next(e for e in diagnosis["endpoints"] if e["name"] == "/api/orders")
    assert orders["pattern"] == "failing", orders
    culprits = [e["name"] for e in diagnosis["endpoints"][: diagnosis["culprit_count"]]]
    assert "/api/orders" not in culprits
    assert diagnosis["failing_count"] >= 1
    assert 'id="failing"' in html and "Failing at every load" in html


def test_malformed_threshold_and_unsupported_flags(run_locustfile, target):
    run = run_locustfile(lf("fast_codes.py"), target, "--threshold", "p95<<1", time_s="1s")
    assert run.code == 2, run.stderr
    assert "invalid threshold 'p95<<1'" in run.stderr
    run = run_locustfile(lf("fast_codes.py"), target, "--arrival-rate", "ten", time_s="1s")
    assert run.code == 2, run.stderr
    assert "invalid --arrival-rate 'ten'" in run.stderr
    proc = subprocess.run(
        locusta_cmd() + ["-f", lf("fast_codes.py"), "--headless", "-H", target, "--arrival-rate", "1:10"],
        capture_output=True, text=True, timeout=60,
    )
    assert proc.returncode == 1, proc.stderr
    assert "--arrival-rate FROM:TO ramps over the run time; add -t" in proc.stderr


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_metrics_port_serves_prometheus_text_during_the_run(target, tmp_path):
    port = _free_port()
    proc = subprocess.Popen(
        locusta_cmd()
        + ["-f", lf("fast_codes.py"), "--headless", "-u", "2", "-r", "10", "-t", "30s", "-H", target,
           "--metrics-port", str(port), "--only-summary"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=str(tmp_path),
    )
    body = ""
    try:
        deadline = time.monotonic() + 25
        # Scrape until the counters and the user gauge (set once a second) show the running load.
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
                    body = r.read().decode()
            except OSError:
                body = ""
            if 'locusta_requests_total{method="GET",name="/_test/status/404"}' in body and "locusta_users 2" in body:
                break
            time.sleep(0.3)
    finally:
        proc.terminate()
        proc.communicate(timeout=30)
    assert 'locusta_requests_total{method="GET",name="/_test/status/404"}' in body, body[:2000]
    assert 'locusta_failures_total{method="GET",name="/_test/status/404"}' in body, body[:2000]
    assert "locusta_response_time_seconds_bucket" in body
    assert "locusta_users 2" in body, body[-1000:]


def _metric_samples(text, openmetrics):
    """Every sample of a scrape, read by the reference Python client's parsers (the OpenMetrics
    one is strict: types, units, +Inf buckets, # EOF); {(name, labels): value}."""
    if openmetrics:
        from prometheus_client.openmetrics.parser import text_string_to_metric_families
    else:
        from prometheus_client.parser import text_string_to_metric_families
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def _scrape(url, openmetrics):
    headers = {"Accept": "application/openmetrics-text; version=1.0.0"} if openmetrics else {}
    with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=10) as r:
        ctype = r.headers["Content-Type"]
        text = r.read().decode()
    assert ctype.startswith("application/openmetrics-text" if openmetrics else "text/plain; version=0.0.4"), ctype
    return text


def _check_scrape(url):
    """Scrapes both formats, parses them, runs promtool on the classic one when it is installed,
    and checks the families; returns the OpenMetrics samples."""
    classic = _scrape(url, False)
    if shutil.which("promtool"):
        r = subprocess.run(["promtool", "check", "metrics"], input=classic, capture_output=True, text=True)
        assert r.returncode == 0, r.stdout + r.stderr
    classic_samples = _metric_samples(classic, False)
    samples = _metric_samples(_scrape(url, True), True)
    endpoint_families = ("locusta_requests_total", "locusta_failures_total", "locusta_response_bytes_total",
                         "locusta_response_time_seconds_bucket", "locusta_response_time_seconds_count",
                         "locusta_response_time_seconds_sum")
    for (name, labels), _ in samples.items():
        if name in endpoint_families:
            d = dict(labels)
            assert d["name"] != "Aggregated" and d["method"], (name, labels)
    for family in ("requests", "failures", "response_bytes"):
        total = samples[(f"locusta_aggregated_{family}_total", ())]
        parts = sum(v for (n, _), v in samples.items() if n == f"locusta_{family}_total")
        assert total == parts, (family, total, parts)
    buckets = {}
    for (name, labels), v in samples.items():
        if name == "locusta_response_time_seconds_bucket":
            d = dict(labels)
            buckets.setdefault((d["method"], d["name"]), []).append((float(d["le"]), v))
    per_le = {}
    for key, rows in buckets.items():
        rows.sort()
        counts = [v for _, v in rows]
        assert counts == sorted(counts), (key, rows)
        labels = tuple(sorted({"method": key[0], "name": key[1]}.items()))
        assert rows[-1] == (float("inf"), samples[("locusta_response_time_seconds_count", labels)])
        for le, v in rows:
            per_le[le] = per_le.get(le, 0) + v
    for (name, labels), v in samples.items():
        if name == "locusta_aggregated_response_time_seconds_bucket":
            assert v == per_le.get(float(dict(labels)["le"]), 0), (labels, v, per_le)
    # The classic text holds the same samples (its parser names them alike).
    assert {k for k in classic_samples if k[0].startswith("locusta_")} >= {
        k for k in samples if k[0].startswith("locusta_") and k[0] != "locusta_build_info"
    }
    return samples


def test_prometheus_scrapes_of_a_python_run_parse_and_match_the_csv(target, tmp_path):
    """A Python locustfile's /metrics (web UI, --autostart): both formats parse with
    prometheus_client, the endpoint families hold endpoints only, the aggregated metrics are
    their sums, and at the end the counts and sums equal the --csv _stats.csv."""
    pytest.importorskip("prometheus_client", reason="pip install prometheus-client (scripts/test.sh does)")
    port = _free_port()
    prefix = tmp_path / "run"
    proc = subprocess.Popen(
        locusta_cmd()
        + ["-f", lf("fast_codes.py"), "--autostart", "-u", "2", "-r", "10", "-t", "3s", "-H", target,
           "--web-host", "127.0.0.1", "--web-port", str(port), "--csv", str(prefix), "-L", "WARNING"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, cwd=str(tmp_path),
    )
    url = f"http://127.0.0.1:{port}/metrics"
    try:
        def wait_for(what, pred):
            deadline = time.monotonic() + 60
            while True:
                try:
                    samples = _check_scrape(url)
                    if pred(samples):
                        return samples
                except OSError:
                    pass
                assert time.monotonic() < deadline and proc.poll() is None, f"waiting for {what}"
                time.sleep(0.3)

        running = wait_for("2 users and requests", lambda s: s[("locusta_users", ())] == 2
                           and s[("locusta_aggregated_requests_total", ())] > 0)
        assert running[("locusta_run_state", (("state", "running"),))] == 1
        assert running[("locusta_users_by_class", (("user_class", "F"),))] == 2
        wait_for("stopped", lambda s: s[("locusta_run_state", (("state", "stopped"),))] == 1)
        time.sleep(1.5)
        last = _check_scrape(url)
    finally:
        proc.send_signal(2)
        _, err = proc.communicate(timeout=60)
    assert proc.returncode in (0, 1), err  # 1: the 404s and 500s failed
    with open(f"{prefix}_stats.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) > 2
    for row in rows:
        if row["Name"] == "Aggregated":
            prefix_, labels = "locusta_aggregated_", ()
        else:
            prefix_, labels = "locusta_", tuple(sorted({"method": row["Type"], "name": row["Name"]}.items()))
        count = int(row["Request Count"])
        assert last[(f"{prefix_}requests_total", labels)] == count, row
        assert last[(f"{prefix_}failures_total", labels)] == int(row["Failure Count"]), row
        assert last[(f"{prefix_}response_time_seconds_count", labels)] == count, row
        avg_ms = last[(f"{prefix_}response_time_seconds_sum", labels)] / max(count, 1) * 1000
        assert avg_ms == pytest.approx(float(row["Average Response Time"]), rel=1e-6, abs=1e-6), row


def test_find_capacity_steps_users_until_the_objective_breaks(run_locustfile, target, tmp_path):
    report = tmp_path / "report.html"
    started = time.monotonic()
    run = run_locustfile(
        lf("capacity_pool.py"), target,
        "--find-capacity", "--capacity-step", "5", "--capacity-step-time", "3s",
        "--slo", "p95<100ms,fail<1%", "--html", str(report),
        users=40, time_s="60s", timeout=90,
    )
    took = time.monotonic() - started
    assert run.code == 1, run.stderr[-3000:]  # 503s counted as failures: --exit-code-on-error
    assert "Capacity search: 5 users" in run.stderr and "Capacity search: 10 users" in run.stderr
    assert "Capacity search finished" in run.stderr, run.stderr[-3000:]
    # Steps of 3 s: 5, 10, 15 users, then the search stops (long before 40 users or -t 60s).
    assert took < 40, took
    html = report.read_text()
    start = html.index('id="locusta-diagnosis">') + len('id="locusta-diagnosis">')
    d = json.loads(html[start : html.index("</script>", start)])
    assert 5 <= d["capacity"]["sustained"]["users"] <= 10, d["capacity"]
    assert 11 <= d["capacity"]["broken_at"]["users"] <= 15, d["capacity"]


def test_find_capacity_refuses_a_load_shape(run_locustfile, target):
    run = run_locustfile(lf("shape_classes.py"), target, "--find-capacity", time_s="2s")
    assert run.code == 1, run.stderr[-2000:]
    assert "--find-capacity cannot be combined with a load shape" in run.stderr



def test_open_model_counts_from_the_intended_start(run_locustfile, target, tmp_path):
    report = tmp_path / "open.html"
    closed = run_locustfile(lf("open_model.py"), target, users=2, time_s="4s")
    opened = run_locustfile(lf("open_model.py"), target, "--arrival-rate", "20", "--html", str(report),
                            users=2, time_s="4s")
    assert closed.code == 0 and opened.code == 0, opened.stderr[-2000:]
    closed_p50 = float({r["Name"]: r for r in closed.csv_rows()}["slow"]["50%"])
    opened_p50 = float({r["Name"]: r for r in opened.csv_rows()}["slow"]["50%"])
    # Closed: the endpoint's 300 ms. Open: 2 users cannot start 20 iterations a second, so
    # iterations start ever later and their delay counts (the median is well above 600 ms).
    assert 250 <= closed_p50 < 500, closed_p50
    assert opened_p50 > 600, opened_p50
    assert "Open model: 20.00 iterations per second" in opened.stderr
    html = report.read_text()
    assert "open model:" in html and "late" in html
    # One arrival rate all along: said in iterations per second, as one level.
    assert "<p>Load held at 20 it/s (a single level); objective" in html, _section(html, "diagnosis")


def _section(html, id):
    """The report's ``<section id=...>``, or '' when it has none."""
    start = html.find(f'<section id="{id}">')
    return "" if start < 0 else html[start : html.index("</section>", start)]


def test_report_has_the_final_ratio_tree_and_names_the_locustfile(run_locustfile, target, tmp_path):
    report = tmp_path / "ratio.html"
    run = run_locustfile(lf("task_ratio.py"), target, "--html", str(report), users=4, time_s="2s")
    assert run.code == 0, run.stderr[-2000:]
    html = report.read_text()
    assert "<b>Script:</b> task_ratio.py</p>" in html
    ratio = _section(html, "ratio")
    # The --show-task-ratio trees: per class and total, with the nested TaskSet's own tasks.
    assert "<h3>Per user class</h3>" in ratio and "<h3>Total</h3>" in ratio, ratio
    assert "% Browse<ul><li>66.7% listing</li><li>33.3% stop</li></ul>" in ratio, ratio
    for name in ("Shopper", "Admin", "Reader", "home", "dashboard", "item"):
        assert f"% {name}" in ratio, (name, ratio)


def test_report_script_is_every_locustfile_given(run_locustfile, target, tmp_path):
    for name, path in (("one.py", "/"), ("two.py", "/about/")):
        (tmp_path / name).write_text(
            "from locust import HttpUser, constant, task\n"
            f"class {name[:-3].title()}(HttpUser):\n"
            "    wait_time = constant(0.1)\n"
            "    @task\n"
            "    def t(self):\n"
            f"        self.client.get({path!r})\n"
        )
    report = tmp_path / "two.html"
    run = run_locustfile(f"{tmp_path / 'one.py'},{tmp_path / 'two.py'}", target, "--html", str(report),
                         users=2, time_s="1s")
    assert run.code == 0, run.stderr[-2000:]
    assert "<b>Script:</b> one.py, two.py</p>" in report.read_text()


def test_demo_report_is_named_after_the_demo_not_the_interpreter(tmp_path):
    report = tmp_path / "demo.html"
    proc = subprocess.run(locusta_cmd() + ["demo", "-u", "2", "-t", "1s", "--only-summary", "--html", str(report)],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "<b>Script:</b> locusta-demo</p>" in report.read_text()


def test_report_of_a_run_without_requests_says_why_there_is_no_diagnosis(run_locustfile, tmp_path):
    report = tmp_path / "idle.html"
    run = run_locustfile(lf("sleepers.py"), None, "--html", str(report), users=2, time_s="1s")
    assert run.code == 0, run.stderr[-2000:]
    assert "Diagnosis: not judged, no load level was measured" in run.stderr
    diagnosis = _section(report.read_text(), "diagnosis")
    assert "Diagnosis: not judged, no load level was measured" in diagnosis, diagnosis
    assert "0 to 0" not in diagnosis and "<table>" not in diagnosis, diagnosis
