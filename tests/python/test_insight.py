"""Insight features with Python locustfiles: thresholds and their exit code, JUnit XML, the
HTML report with the diagnosis, and clear refusals for what Python runs do not have yet."""

import json
import socket
import subprocess
import time
import urllib.request

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
    run = run_locustfile(os.path.join(EXAMPLES, "seed_shop.py"), target, "--html", str(report),
                         users=40, rate=8, time_s="8s")
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
