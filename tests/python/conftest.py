"""Fixtures for the Python compatibility suite: the installed ``locusta`` command, a demo target
on a free loopback port, and a helper that runs a locustfile headless as a subprocess."""

import csv
import os
import re
import shutil
import socket
import subprocess
import sys
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
LOCUSTFILES = os.path.join(HERE, "locustfiles")
EXAMPLES = os.path.join(HERE, "..", "..", "examples")
REAL_LOCUST = os.environ.get("REAL_LOCUST", "/opt/locust-venv/bin/locust")


def free_port():
    """A TCP port free on loopback right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def locusta_cmd():
    """``python -m locusta`` with the interpreter running the tests (where locusta is installed)."""
    return [sys.executable, "-m", "locusta"]


@pytest.fixture(scope="session")
def target():
    """The built-in demo target on a free port; yields its base URL."""
    proc = subprocess.Popen(
        locusta_cmd() + ["demo-target", "--port", "0"],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
    )
    line = proc.stderr.readline()
    m = re.search(r"http://[0-9.]+:\d+", line)
    assert m, f"demo-target did not start: {line!r}"
    yield m.group(0)
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()


class Run:
    """The result of one headless run: exit code, stdout, stderr, and the CSV files."""

    def __init__(self, proc, prefix):
        self.code = proc.returncode
        self.stdout = proc.stdout
        self.stderr = proc.stderr
        self.prefix = prefix

    def csv_rows(self, kind="stats"):
        with open(f"{self.prefix}_{kind}.csv", newline="") as f:
            return list(csv.DictReader(f))

    def csv_header(self, kind="stats"):
        with open(f"{self.prefix}_{kind}.csv", newline="") as f:
            return next(csv.reader(f))

    def counts(self):
        """{(method, name): (requests, failures)} from the stats CSV (without Aggregated)."""
        return {
            (r["Type"], r["Name"]): (int(r["Request Count"]), int(r["Failure Count"]))
            for r in self.csv_rows()
            if r["Name"] != "Aggregated"
        }


@pytest.fixture
def run_locustfile(tmp_path):
    """Runs ``locustfile`` headless with locusta (or ``cmd``) and returns a :class:`Run`."""

    def run(locustfile, host, *extra, users=5, rate=50, time_s="3s", cmd=None, timeout=60, cwd=None, env=None):
        prefix = str(tmp_path / f"out{time.monotonic_ns()}")
        args = (cmd or locusta_cmd()) + [
            "-f",
            locustfile,
            "--headless",
            "-u",
            str(users),
            "-r",
            str(rate),
            "-t",
            time_s,
            "--csv",
            prefix,
            "--only-summary",
        ]
        if host:
            args += ["-H", host]
        args += list(extra)
        proc = subprocess.run(
            args, capture_output=True, text=True, timeout=timeout, cwd=cwd or str(tmp_path),
            env=None if env is None else {**os.environ, **env},
        )
        return Run(proc, prefix)

    return run


def lf(name):
    """Path of a test locustfile."""
    return os.path.join(LOCUSTFILES, name)


@pytest.fixture
def real_locust():
    """The real Locust command, or skip."""
    if not (os.path.exists(REAL_LOCUST) or shutil.which(REAL_LOCUST)):
        pytest.skip("real Locust not installed (set REAL_LOCUST)")
    return [REAL_LOCUST]
