"""Compatibility suite: real locustfiles run headless by the installed ``locusta`` against the
demo target, checked on request names, failure classification, task weights, CSV headers, event
order, exit codes, error messages and the ``import locust`` hook; where the real Locust is
available, the same locustfile runs under it and the results are compared."""

import json
import os
import subprocess
import sys

import pytest

from conftest import EXAMPLES, lf, locusta_cmd

EXPECTED_NAMES = {
    ("GET", "/products/"): "ok",
    ("GET", "/api/products/[id]"): "ok",
    ("GET", "/api/products?page=2&limit=5"): "ok",
    ("GET", "/_test/status/404"): "fail",
    ("POST", "/_test/status/500"): "fail",
    ("GET", "caught-404"): "ok",
    ("GET", "caught-200"): "fail",
    ("GET", "grouped"): "ok",
}


def classify(counts):
    return {k: ("fail" if f == n and n > 0 else "ok" if f == 0 else "mixed") for k, (n, f) in counts.items()}


def test_request_names_and_failure_classification(run_locustfile, target):
    run = run_locustfile(lf("names_failures.py"), target, users=4, time_s="3s")
    assert run.code == 1, run.stderr  # failures -> --exit-code-on-error default 1
    assert classify(run.counts()) == EXPECTED_NAMES
    failures = {(r["Method"], r["Name"]): r["Error"] for r in run.csv_rows("failures")}
    assert failures[("GET", "/_test/status/404")].startswith("HTTPError('404 Client Error")
    assert failures[("GET", "/_test/status/404")].endswith("for url: /_test/status/404')")
    assert failures[("GET", "caught-200")] == "CatchResponseError('wrong content')"


def test_names_and_failures_match_real_locust(run_locustfile, target, real_locust):
    mine = run_locustfile(lf("names_failures.py"), target, users=4, time_s="3s")
    theirs = run_locustfile(lf("names_failures.py"), target, users=4, time_s="3s", cmd=real_locust)
    assert theirs.code == mine.code == 1, theirs.stderr[-2000:]
    assert classify(mine.counts()) == classify(theirs.counts())
    their_errors = {(r["Method"], r["Name"], r["Error"]) for r in theirs.csv_rows("failures")}
    my_errors = {(r["Method"], r["Name"], r["Error"]) for r in mine.csv_rows("failures")}
    assert my_errors == their_errors


def test_csv_headers_match_real_locust(run_locustfile, target, real_locust):
    mine = run_locustfile(lf("weights.py"), target, users=1, time_s="2s")
    theirs = run_locustfile(lf("weights.py"), target, users=1, time_s="2s", cmd=real_locust)
    for kind in ("stats", "failures", "exceptions", "stats_history"):
        assert mine.csv_header(kind) == theirs.csv_header(kind), kind


def test_task_weights(run_locustfile, target):
    run = run_locustfile(lf("weights.py"), target, users=2, time_s="3s")
    assert run.code == 0, run.stderr
    c = run.counts()
    heavy, light = c[("GET", "/about/")][0], c[("GET", "/products/")][0]
    assert heavy + light > 300
    assert 2.4 < heavy / light < 3.7, (heavy, light)


def test_api_surface_events_exceptions_exit_code(run_locustfile, target):
    run = run_locustfile(lf("api_surface.py"), target, users=3, time_s="3s")
    assert run.code == 3, run.stderr[-3000:]  # environment.process_exit_code wins
    line = next(x for x in run.stdout.splitlines() if x.startswith("REPORT "))
    report = json.loads(line[len("REPORT "):])
    assert report["events"] == ["init", "test_start", "test_stop", "quitting"]
    assert report["host"] == target
    assert report["users_option"] == 3
    assert report["runner_user_count"] == 0
    assert report["num_requests"] > 10 and report["num_failures"] > 0
    assert report["listener_requests"] == report["num_requests"]
    assert report["p50_positive"] and report["avg_positive"]
    names = {n for (_m, n) in run.counts()}
    assert {"seq1", "seq2", "nested", "503", "resp-error", "waits", "/api/auth/login"} <= names
    assert run.counts()[("GET", "waits")] == (1, 0)  # StopUser: the fixed user ran once
    exc = run.csv_rows("exceptions")
    assert any("boom in task" in r["Message"] and "ValueError" in r["Traceback"] for r in exc), exc
    assert "boom in task" in run.stderr and "Traceback" in run.stderr
    fails = {(r["Name"], r["Error"]) for r in run.csv_rows("failures")}
    assert ("resp-error", "ResponseError('bad')") in fails


def test_syntax_error_names_file_and_line(run_locustfile, target):
    run = run_locustfile(lf("broken_syntax.py"), target)
    assert run.code == 1
    assert 'broken_syntax.py", line 6' in run.stderr
    assert "SyntaxError" in run.stderr


def test_no_user_class(run_locustfile, target):
    run = run_locustfile(lf("no_users.py"), target)
    assert run.code == 1
    assert "No User class found!" in run.stderr


def test_locust_0x_names_get_migration_error(run_locustfile, target):
    run = run_locustfile(os.path.join(EXAMPLES, "seed_legacy_0x.py"), target)
    assert run.code == 1
    assert "ImportError: The HttpLocust class has been renamed to HttpUser in version 1.0." in run.stderr


def test_unknown_user_and_missing_host(run_locustfile, target):
    run = run_locustfile(lf("weights.py"), target, "Nope")
    assert run.code == 1 and "Unknown User(s): Nope" in run.stderr
    run = run_locustfile(lf("weights.py"), None)
    assert run.code == 1 and "You must specify the base host" in run.stderr


def test_missing_locustfile(run_locustfile, target):
    run = run_locustfile("does_not_exist.py", target)
    assert run.code == 1 and "Could not find 'does_not_exist.py'" in run.stderr


def test_json_output(run_locustfile, target):
    run = run_locustfile(lf("weights.py"), target, "--json", users=1, time_s="1s")
    assert run.code == 0
    doc = json.loads(run.stdout)
    assert {e["name"] for e in doc} == {"/about/", "/products/"}


@pytest.mark.parametrize(
    "example,expected",
    [
        ("seed_browse.py", ({"/about/"}, {"/", "/about/", "/products/"})),
        ("seed_shop.py", ({"/api/auth/login", "/api/products?page=1&limit=20"}, None)),
    ],
)
def test_seed_examples_run_unchanged(run_locustfile, target, example, expected):
    must, allowed = expected
    run = run_locustfile(os.path.join(EXAMPLES, example), target, users=20, rate=100, time_s="4s")
    names = {n for (_m, n) in run.counts()}
    assert must <= names, (names, run.stderr[-2000:])
    if allowed is not None:
        assert names <= allowed, names
    # only the checkout's catch_response failures are allowed
    for (m, n), (_req, fails) in run.counts().items():
        if n != "/api/orders":
            assert fails == 0, (m, n)


def test_tags_select_tasks(run_locustfile, target):
    run = run_locustfile(os.path.join(EXAMPLES, "seed_shop.py"), target, "-T", "purchase", users=5, time_s="4s")
    names = {n for (_m, n) in run.counts()}
    assert "/api/products?page=1&limit=20" not in names
    assert "/api/auth/login" in names


def test_demo_subcommand():
    proc = subprocess.run(
        locusta_cmd() + ["demo", "-u", "2", "-r", "2", "-t", "2s", "--only-summary"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "Aggregated" in proc.stderr


def _real_locust_in_this_env():
    out = subprocess.run(
        [sys.executable, "-c", "import locust, sys; sys.stdout.write(locust.__file__)"],
        capture_output=True,
        text=True,
    )
    return out.returncode == 0 and "locusta" not in out.stdout


def test_import_hook_with_real_locust_installed(run_locustfile, target):
    if not _real_locust_in_this_env():
        pytest.skip("the real Locust is not installed in this environment")
    run = run_locustfile(lf("import_check.py"), target, users=1, time_s="1s")
    assert run.code == 0, run.stderr[-2000:]
    line = next(x for x in run.stdout.splitlines() if x.startswith("LOCUST_MODULE"))
    assert "/locusta/locust/" in line and "locusta.locust.clients" in line


def test_import_hook_in_process():
    code = (
        "import sys\n"
        "from locusta import _importhook\n"
        "_importhook.install()\n"
        "import locust, locust.exception\n"
        "from locust.user.task import TaskSet\n"
        "import locusta.locust as api\n"
        "assert locust is api and locust.events is api.events, locust\n"
        "assert locust.__spec__.name == 'locusta.locust'\n"
        "assert TaskSet is api.TaskSet\n"
        "_importhook.uninstall()\n"
        "import importlib.util\n"
        "spec = importlib.util.find_spec('locust')\n"
        "assert 'locust' not in sys.modules\n"
        "assert spec is None or '/locusta/' not in spec.origin, spec\n"
        "print('ok')\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and proc.stdout.strip() == "ok", proc.stderr


@pytest.mark.parametrize("user_class", ["HostHttpUser", "HostFastHttpUser"])
def test_a_host_header_of_the_users_replaces_the_urls_as_in_locust(run_locustfile, target, real_locust, user_class):
    names = {("GET", n): (1, 0) for n in ("request host", "plain", "session host")}
    if user_class == "HostFastHttpUser":
        del names[("GET", "session host")]
    ours = run_locustfile(lf("host_header.py"), target, user_class, users=1, time_s="2s")
    assert ours.code == 0, ours.stderr
    assert ours.counts() == names, ours.stderr
    theirs = run_locustfile(lf("host_header.py"), target, user_class, users=1, time_s="2s", cmd=real_locust)
    assert theirs.counts() == names, theirs.stderr
