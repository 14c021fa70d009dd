"""One scenario, every kind of run: the same behaviour for Rust user classes and a Python
locustfile, headless and with the web UI (``--autostart``), in one process, with
``--processes 2`` and with ``--master`` and two workers.

The scenario (examples/parity.rs and locustfiles/parity.py) has a three-stage load shape
(1, 3, then 2 users, two seconds each) and test hooks that say where they ran. Each cell checks
that the shape is followed (each stage's user count is in ``_stats_history.csv``), that the
diagnosis is printed and in the HTML report, that a failed ``--threshold`` gives exit code 3,
that ``--baseline`` (here real Locust's ``--json-file`` of another test) is compared with, in the
console and the report, that ``--json-file`` creates its directory, that a refusal reads the same, that ``test_start``/``test_stop`` run where Locust
runs them (the master too), and that a CSV file that cannot be written is logged once."""

import csv
import json
import os
import pty
import re
import select
import subprocess
import time

import pytest

from conftest import LOCUSTFILES, free_port, locusta_cmd

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
PARITY_BIN = os.environ.get("LOCUSTA_PARITY_BIN", os.path.join(ROOT, "target", "debug", "examples", "parity"))
PARITY_PY = os.path.join(LOCUSTFILES, "parity.py")
LOCUST_JSON = os.path.join(ROOT, "crates", "locusta-insight", "testdata", "locust-2.47.json")

FRONTS = ["rust", "python"]
UIS = ["headless", "web"]
TOPOLOGIES = ["single", "processes", "master"]
CELLS = [(f, u, t) for f in FRONTS for u in UIS for t in TOPOLOGIES]
STAGE_USERS = [1, 3, 2]


def program(front):
    if front == "rust":
        if not os.path.exists(PARITY_BIN):
            pytest.fail(f"{PARITY_BIN} is missing: build it with `cargo build -p locusta --example parity`")
        return [PARITY_BIN]
    return locusta_cmd() + ["-f", PARITY_PY]



def command(front, ui, topology, target, extra=()):
    """The main process's command line of a cell (the master's, when distributed)."""
    args = program(front) + ["-H", target, "-L", "INFO"]
    if ui == "headless":
        args += ["--headless"]
    else:
        args += ["--autostart", "--autoquit", "1", "--web-port", str(free_port())]
    if topology == "processes":
        args += ["--processes", "2", "--master-bind-port", "0"]
    return args + list(extra)


class Cell:
    """One run of the scenario: the main process and, for ``--master``, two workers."""

    def __init__(self, front, ui, topology, target, tmp_path):
        self.dir = tmp_path
        self.csv = tmp_path / "csv" / "run"
        self.json = tmp_path / "new" / "json" / "stats"
        self.html = tmp_path / "new" / "report.html"
        extra = [
            "--csv", str(self.csv),
            "--json-file", str(self.json),
            "--html", str(self.html),
            "--threshold", "GET /nothing:p95<1s",
            "--baseline", LOCUST_JSON,
        ]
        worker_cmds = []
        if topology == "master":
            port = free_port()
            extra += ["--master", "--master-bind-host", "127.0.0.1", "--master-bind-port", str(port), "--expect-workers", "2"]
            worker = program(front) + ["--worker", "--master-port", str(port), "-H", target, "-L", "INFO"]
            worker_cmds = [worker, worker]
        self.main_err = tmp_path / "main.err"
        self.main = self._start(command(front, ui, topology, target, extra), self.main_err)
        self.workers = [self._start(cmd, tmp_path / f"worker{i}.err") for i, cmd in enumerate(worker_cmds)]

    def _start(self, cmd, err_path):
        return subprocess.Popen(cmd, cwd=self.dir, stdout=subprocess.DEVNULL, stderr=open(err_path, "w"))

    def break_a_csv_file(self):
        """Once the CSV files exist, puts a directory where the exceptions file goes, so every
        later write of it fails (the stats and history files go on)."""
        path = f"{self.csv}_exceptions.csv"
        deadline = time.monotonic() + 30
        while not os.path.exists(path):
            assert time.monotonic() < deadline, "the CSV files were never written"
            assert self.main.poll() is None, self.stderr()
            time.sleep(0.1)
        time.sleep(1.2)
        os.remove(path)
        os.makedirs(os.path.join(path, "blocker"))

    def wait(self):
        try:
            self.code = self.main.wait(timeout=90)
            for w in self.workers:
                w.wait(timeout=30)
        finally:
            for p in [self.main] + self.workers:
                if p.poll() is None:
                    p.kill()
        return self

    def stderr(self):
        return self.main_err.read_text()

    def worker_stderr(self):
        return "".join((self.dir / f"worker{i}.err").read_text() for i in range(len(self.workers)))

    def history_user_counts(self):
        with open(f"{self.csv}_stats_history.csv", newline="") as f:
            return [int(r["User Count"]) for r in csv.DictReader(f)]


@pytest.mark.parametrize("front,ui,topology", CELLS, ids=["-".join(c) for c in CELLS])
def test_every_kind_of_run_behaves_the_same(front, ui, topology, target, tmp_path):
    cell = Cell(front, ui, topology, target, tmp_path)
    cell.break_a_csv_file()
    cell.wait()
    err = cell.stderr()
    assert cell.code == 3, f"exit code {cell.code} (a threshold failed: 3)\n{err[-4000:]}"

    counts = cell.history_user_counts()
    for users in STAGE_USERS:
        assert users in counts, f"stage of {users} users missing from the history {counts}\n{err[-3000:]}"
    assert max(counts) == 3, counts

    assert "Diagnosis" in err, err[-3000:]
    assert 'id="diagnosis"' in cell.html.read_text()
    # The baseline has other endpoints: only the aggregate is compared, the rest listed.
    assert "Compared with the baseline" in err and "(0 endpoints matched)" in err, err[-3000:]
    assert "Only in the baseline: " in err and "GET /delay" in err, err[-3000:]
    assert 'id="baseline"' in cell.html.read_text()
    stats = json.loads((tmp_path / "new" / "json" / "stats.json").read_text())
    assert isinstance(stats, list) and any(e["num_requests"] > 0 for e in stats), stats

    here = "Master" if topology != "single" else "Local"
    assert f"PARITY test_start on {here}" in err and f"PARITY test_stop on {here}" in err, err[-3000:]
    if topology == "master":
        werr = cell.worker_stderr()
        assert werr.count("PARITY test_start on Worker") == 2, werr[-3000:]
        assert werr.count("PARITY test_stop on Worker") == 2, werr[-3000:]

    assert err.count("writing CSV files failed") == 1, err[-3000:]


@pytest.mark.parametrize("front,ui,topology", CELLS, ids=["-".join(c) for c in CELLS])
def test_refusals_are_alike(front, ui, topology, target, tmp_path):
    """The plan's checks refuse the same input with the same words everywhere (here an unknown
    user class given on the command line)."""
    extra = ["NoSuchUser"]
    if topology == "master":
        extra += ["--master", "--master-bind-port", str(free_port())]
    proc = subprocess.run(
        command(front, ui, topology, target, extra), cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 1, proc.stderr
    assert "Unknown User(s): NoSuchUser" in proc.stderr, proc.stderr[-2000:]


def live_output(cmd, cwd, seconds=30):
    """Runs `cmd` with its stderr on a terminal; returns what it wrote there."""
    leader, follower = pty.openpty()
    proc = subprocess.Popen(
        cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=follower, env={**os.environ, "TERM": "xterm"}
    )
    os.close(follower)
    out = b""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        ready, _, _ = select.select([leader], [], [], 0.2)
        if ready:
            try:
                chunk = os.read(leader, 65536)
            except OSError:
                break
            if not chunk:
                break
            out += chunk
        elif proc.poll() is not None:
            break
    proc.wait(timeout=10)
    os.close(leader)
    return proc.returncode, out.decode(errors="replace")


@pytest.mark.parametrize("front", FRONTS)
def test_the_live_view_in_a_terminal(front, target, tmp_path):
    code, out = live_output(program(front) + ["--headless", "-H", target, "-L", "WARNING"], tmp_path)
    assert code == 0, out[-3000:]
    status = re.findall(r"users (\d+)/(\d+) \| [\d.]+ RPS \| failures [\d.]+% \(\d+\) \| p95 \(10 s\)", out)
    assert len(status) >= 3, out[-3000:]
    assert ("3", "3") in status, status
    # Redrawn in place: the cursor goes back up over the previous block.
    assert re.search(r"\x1b\[\d+F\x1b\[J", out), out[-3000:]
