"""--baseline with a Python locustfile: the same comparison as Rust user classes (it is made by
the run controller both front ends share), printed after Locust's tables, in JUnit, and gating
the exit code through a baseline term in --threshold."""

from conftest import lf


def _metric_line(section, endpoint, metric):
    """The console comparison's line for ``metric`` of ``endpoint``."""
    lines = section.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(endpoint + " "))
    for line in lines[start : start + 6]:
        if line[len(endpoint) :].split()[0] == metric:
            return line
    raise AssertionError(f"no {metric} line for {endpoint}:\n{section}")


def test_baseline_flags_the_slowed_endpoint(run_locustfile, target, tmp_path, monkeypatch):
    base = tmp_path / "base"
    monkeypatch.setenv("LOCUSTA_TEST_CHANGING_MS", "5")
    first = run_locustfile(lf("baseline_delay.py"), target, "--json-file", str(base), users=4, time_s="3s")
    assert first.code == 0, first.stderr

    monkeypatch.setenv("LOCUSTA_TEST_CHANGING_MS", "45")
    junit = tmp_path / "junit.xml"
    second = run_locustfile(
        lf("baseline_delay.py"),
        target,
        "--baseline",
        str(base),
        "--threshold",
        "GET /changing:p95<baseline*1.5",
        "--junit",
        str(junit),
        users=4,
        time_s="3s",
    )
    err = second.stderr
    assert second.code == 3, err
    assert "Comparing with the baseline" in err and "base.json (JSON, 2 endpoints" in err, err
    section = err[err.index("Compared with the baseline") :]
    assert err.index("Response time percentiles (approximated)") < err.index("Compared with the baseline")
    assert _metric_line(section, "GET /changing", "p50").rstrip().endswith("regressed"), section
    assert _metric_line(section, "GET /changing", "p95").rstrip().endswith("regressed"), section
    assert not _metric_line(section, "GET /steady", "p50").rstrip().endswith("regressed"), section
    summary = next(line for line in section.splitlines() if line.startswith("Regressed beyond noise:"))
    assert "GET /changing (" in summary, summary
    assert "FAIL   GET /changing:p95<baseline*1.5" in err, err
    xml = junit.read_text()
    assert '<testsuite name="locusta baseline"' in xml
    changing = xml[xml.index('classname="locusta.baseline" name="GET /changing"') :]
    assert 'type="BaselineRegression"' in changing[: changing.index("</testcase>")]


def test_baseline_errors_before_the_run(run_locustfile, target, tmp_path):
    run = run_locustfile(lf("baseline_delay.py"), target, "--baseline", str(tmp_path / "nothing"), time_s="1s")
    assert run.code == 2, run.stderr
    assert "does not exist" in run.stderr and "--json-file" in run.stderr
    assert "Ramping to" not in run.stderr
    run = run_locustfile(lf("baseline_delay.py"), target, "--threshold", "rps>baseline*0.9", time_s="1s")
    assert run.code == 2, run.stderr
    assert "add --baseline PATH" in run.stderr


def test_real_locusts_json_file_is_a_baseline(run_locustfile, real_locust, target, tmp_path, monkeypatch):
    """The file real Locust writes with --json-file is accepted as it is: the same endpoints are
    matched and compared (the verdicts are not asserted: the two tools run on one busy machine
    with different overheads)."""
    monkeypatch.setenv("LOCUSTA_TEST_CHANGING_MS", "5")
    base = tmp_path / "locust"
    locust = run_locustfile(lf("baseline_delay.py"), target, "--json-file", str(base), users=4,
                            time_s="3s", cmd=real_locust)
    assert locust.code == 0, locust.stderr
    run = run_locustfile(lf("baseline_delay.py"), target, "--baseline", str(base) + ".json",
                         "--threshold", "GET /steady:p50<baseline+20ms", users=4, time_s="3s")
    assert run.code == 0, run.stderr
    section = run.stderr[run.stderr.index("Compared with the baseline") :]
    assert "(2 endpoints matched)" in section.splitlines()[0], section
    for endpoint in ("GET /steady", "GET /changing"):
        line = _metric_line(section, endpoint, "p95")
        assert line.rstrip().endswith(("regressed", "improved", "within noise")), section
    assert "PASS   GET /steady:p50<baseline+20ms" in run.stderr, run.stderr
