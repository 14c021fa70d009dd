"""Insight features with Python locustfiles: thresholds and their exit code, JUnit XML, the
HTML report with the diagnosis, and clear refusals for what Python runs do not have yet."""

import json

from conftest import lf


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
    assert "Diagnosis (" in run.stderr
    xml = junit.read_text()
    assert 'tests="2" failures="1"' in xml
    html = (tmp_path / "report_2.html").read_text()
    start = html.index('id="locusta-diagnosis">') + len('id="locusta-diagnosis">')
    diagnosis = json.loads(html[start : html.index("</script>", start)])
    names = {e["name"] for e in diagnosis["endpoints"]}
    assert "/_test/status/404" in names
    assert "Request Statistics" in html and "<script src" not in html


def test_malformed_threshold_and_unsupported_flags(run_locustfile, target):
    run = run_locustfile(lf("fast_codes.py"), target, "--threshold", "p95<<1", time_s="1s")
    assert run.code == 2, run.stderr
    assert "invalid threshold 'p95<<1'" in run.stderr
    run = run_locustfile(lf("fast_codes.py"), target, "--arrival-rate", "10", time_s="1s")
    assert run.code == 1, run.stderr
    assert "--arrival-rate" in run.stderr and "not available" in run.stderr
