"""pytest-style locustfiles (Locust 2.40+): ``locusta -f file.py`` runs each ``test_*``
function as a user class when the file has no User classes, with the ``session`` /
``fastsession`` fixtures (and the file's own); the same file runs under plain ``pytest --host``.
Compared with the real Locust 2.47 on the same file."""

import csv
import os
import subprocess
import sys

import pytest

from conftest import LOCUSTFILES, REAL_LOCUST, locusta_cmd

LOCUSTFILE = os.path.join(LOCUSTFILES, "pytest_style.py")


def run(program, target, tmp_path, tag):
    prefix = str(tmp_path / tag)
    proc = subprocess.run(
        program + ["-f", LOCUSTFILE, "-H", target, "--headless", "-u", "3", "-r", "3", "-t", "3s",
                   "--csv", prefix, "--only-summary"],
        capture_output=True, text=True, timeout=90, cwd=tmp_path,
    )
    return proc, prefix


def read_csv_rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def summary(prefix):
    rows = read_csv_rows(prefix + "_stats.csv")
    failures = read_csv_rows(prefix + "_failures.csv")
    return (
        {(r["Type"], r["Name"]): int(r["Request Count"]) > 0 for r in rows if r["Name"] != "Aggregated"},
        {(r["Method"], r["Name"], r["Error"]) for r in failures},
        {(r["Type"], r["Name"]): int(r["Failure Count"]) == int(r["Request Count"]) for r in rows if r["Name"] != "Aggregated"},
    )


@pytest.mark.skipif(not os.path.exists(REAL_LOCUST), reason="real Locust is not installed")
def test_runs_test_functions_as_users_like_locust(target, tmp_path):
    ours, ours_prefix = run(locusta_cmd(), target, tmp_path, "ours")
    theirs, theirs_prefix = run([REAL_LOCUST], target, tmp_path, "theirs")
    assert ours.returncode == theirs.returncode == 1, (ours.stderr[-2000:], theirs.stderr[-2000:])
    got, want = summary(ours_prefix), summary(theirs_prefix)
    assert got == want
    assert got[0] == {("GET", "/"): True, ("GET", "/does-not-exist"): True, ("GET", "checked"): True}
    assert ("GET", "/does-not-exist", "LocustBadStatusCode(code=404)") in got[1]


def test_lists_one_class_per_test_function(target):
    proc = subprocess.run(locusta_cmd() + ["-f", LOCUSTFILE, "--list"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert sorted(proc.stdout.split()[2:]) == ["test_checked", "test_home", "test_missing"], proc.stdout


def test_the_same_file_runs_under_plain_pytest(target, tmp_path):
    lf = tmp_path / "pytest_style.py"
    with open(LOCUSTFILE) as f:
        lf.write_text(f.read())
    # The fixtures as the entry-point plugin gives them where Locust is not installed (where it
    # is, Locust's plugin gives its own and ours steps aside: see the next test).
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:locust", "-p", "no:locusta",
           "-p", "locusta._pytest_fixtures", "-p", "no:cacheprovider", str(lf)]
    cmd += ["-k", "not checked"]  # its own fixture is for load tests only
    proc = subprocess.run(cmd + ["--host", target], capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "2 passed" in proc.stdout
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert proc.returncode != 0 and "pass --host" in proc.stdout, proc.stdout


def test_the_plugin_is_registered_and_steps_aside_for_locusts():
    from importlib.metadata import entry_points
    from importlib.util import find_spec

    assert "locusta.pytest_plugin" in {e.value for e in entry_points(group="pytest11")}
    import locusta.pytest_plugin as plugin

    assert hasattr(plugin, "session") == (find_spec("pytest_locust") is None)


def test_a_test_function_that_cannot_be_a_user_is_refused(target, tmp_path):
    lf = tmp_path / "bad.py"
    lf.write_text("def test_two(session, fastsession):\n    pass\n")
    proc = subprocess.run(locusta_cmd() + ["-f", str(lf), "-H", target, "--headless", "-t", "1s"],
                          capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert proc.returncode == 1
    assert "takes exactly one fixture" in proc.stderr and "Traceback" not in proc.stderr, proc.stderr
