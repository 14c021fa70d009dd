"""Distributed details (issue 14): the worker index from the master's ack, a user constructor
that raises, report_to_master keys in the first report, the heartbeat_sent /
heartbeat_received / usage_monitor events, and how often --processes imports the locustfile.
Every run is on loopback against the demo target and bounded by its run time and timeouts;
the locustfile (locustfiles/dist_details.py) records what it saw as JSON lines."""

import json
import os
import re
import subprocess
import time

from conftest import free_port, lf, locusta_cmd

LOCUSTFILE = lf("dist_details.py")



def start(cmd, cwd, out, **env):
    full_env = dict(os.environ)
    full_env.pop("LOCUST_HOST", None)
    full_env.update(DETAILS_OUT=str(out), **env)
    return subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=full_env)


def finish(proc, timeout=90):
    try:
        _out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        _out, err = proc.communicate()
    return proc.returncode, err


def records(out, kind=None):
    if not os.path.exists(out):
        return []
    with open(out) as f:
        rows = [json.loads(line) for line in f if line.strip()]
    return [r for r in rows if kind is None or r["kind"] == kind]


def headless(*extra, users=4, time_s="5s"):
    return ["--headless", "-u", str(users), "-r", "10", "-t", time_s, "--only-summary", *extra]


def processes_run(target, tmp_path, **env):
    out = tmp_path / "details.jsonl"
    cmd = locusta_cmd() + ["-f", LOCUSTFILE, "--processes", "2", "--master-bind-port", "0", "-H", target] + headless()
    code, log = finish(start(cmd, tmp_path, out, **env))
    return code, log, out


def check_events(out, master_pid):
    """heartbeat_sent on the master, heartbeat_received on each worker (its own id),
    usage_monitor on every process, and the report_to_master key in every worker_report."""
    reports = records(out, "worker_report")
    worker_ids = {r["client_id"] for r in reports}
    assert len(worker_ids) == 2, reports
    # Every report carries the key, the first of each worker included.
    assert reports and all(r["has_key"] for r in reports), reports
    sent = records(out, "heartbeat_sent")
    assert sent and {r["pid"] for r in sent} == {master_pid}, sent
    assert {r["client_id"] for r in sent} == worker_ids, sent
    received = records(out, "heartbeat_received")
    worker_pids = {r["pid"] for r in received}
    assert len(worker_pids) == 2 and master_pid not in worker_pids, received
    for pid in worker_pids:
        ids = {r["client_id"] for r in received if r["pid"] == pid}
        assert len(ids) == 1 and ids <= worker_ids, received
    for r in sent + received:
        assert isinstance(r["timestamp"], float) and abs(r["now"] - r["timestamp"]) < 2, r
    usage = records(out, "usage_monitor")
    assert {r["pid"] for r in usage} == worker_pids | {master_pid}, usage
    assert {r["runner"] for r in usage} == {"MasterRunner", "WorkerRunner"}, usage
    for r in usage:
        assert isinstance(r["cpu"], float) and r["cpu"] >= 0 and r["memory"] > 1_000_000, r
    return worker_pids


def test_processes_worker_index_events_and_first_report(target, tmp_path):
    code, log, out = processes_run(target, tmp_path)
    assert code == 0, log
    starts = records(out, "test_start")
    master = [r for r in starts if r["runner"] == "MasterRunner"]
    assert len(master) == 1 and master[0]["index"] is None, starts  # Locust's master has none
    workers = [r for r in starts if r["runner"] == "WorkerRunner"]
    assert sorted(r["index"] for r in workers) == [0, 1], starts
    on_start = records(out, "on_start")
    assert len(on_start) == 4 and {r["index"] for r in on_start} == {0, 1}, on_start
    by_pid = {r["pid"]: r["index"] for r in workers}
    assert all(by_pid[r["pid"]] == r["index"] for r in on_start), (workers, on_start)
    worker_pids = check_events(out, master[0]["pid"])
    assert worker_pids == set(by_pid), (worker_pids, by_pid)


def test_master_and_workers_get_indexes_in_connection_order(target, tmp_path):
    out = tmp_path / "details.jsonl"
    port = free_port()
    master = start(
        locusta_cmd() + ["-f", LOCUSTFILE, "--master", "--master-bind-host", "127.0.0.1",
                         "--master-bind-port", str(port), "--expect-workers", "2", "-H", target] + headless(),
        tmp_path, out,
    )
    worker_cmd = locusta_cmd() + ["-f", LOCUSTFILE, "--worker", "--master-host", "127.0.0.1", "--master-port", str(port)]
    first = start(worker_cmd, tmp_path, out)
    # The first worker is acknowledged before the second one starts.
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and first.poll() is None:
        if any(r["kind"] == "heartbeat_received" for r in records(out)):
            break
        time.sleep(0.2)
    second = start(worker_cmd, tmp_path, out)
    code, mlog = finish(master)
    results = [finish(w, 30) for w in (first, second)]
    assert code == 0, mlog
    assert all(c == 0 for c, _ in results), results
    index = {r["pid"]: r["index"] for r in records(out, "test_start") if r["runner"] == "WorkerRunner"}
    assert index == {first.pid: 0, second.pid: 1}, index
    assert "Connected to master as worker index 1" in results[1][1], results[1][1]


def test_a_user_constructor_that_raises_on_a_worker(target, tmp_path):
    code, log, out = processes_run(target, tmp_path, DETAILS_INIT_RAISE="1")
    # Each worker got 2 users; the second one's constructor raised: logged, and the worker
    # goes on with the first (as Locust's worker, whose exit code becomes 2).
    assert log.count("ValueError: constructor of user 2 refuses") >= 2, log
    assert "Unhandled exception in greenlet: ValueError" in log, log
    on_start = records(out, "on_start")
    assert len(on_start) == 2 and {r["index"] for r in on_start} == {0, 1}, on_start
    counts = [int(n) for n in re.findall(r"reported (\d+) requests in total", log)]
    assert len(counts) == 2 and all(n > 0 for n in counts), log
    # The workers kept reporting until the master quit them.
    assert len(records(out, "worker_report")) >= 4, log
    assert code == 0, log


def test_a_user_constructor_that_raises_in_one_process(target, tmp_path):
    out = tmp_path / "details.jsonl"
    cmd = locusta_cmd() + ["-f", LOCUSTFILE, "-H", target] + headless(time_s="3s")
    code, log = finish(start(cmd, tmp_path, out, DETAILS_INIT_RAISE="1"))
    # As Locust's local runner: the ramp ends at the failing user, the first user runs on,
    # the exception is logged and the exit code is 2.
    assert "ValueError: constructor of user 2 refuses" in log, log
    assert len(records(out, "on_start")) == 1, log
    assert re.search(r"GET\s+/api/products\s+[1-9]", log), log
    assert code == 2, log


def test_locust_master_with_locusta_workers(target, tmp_path, real_locust):
    out = tmp_path / "details.jsonl"
    port = free_port()
    master = start(
        real_locust + ["-f", LOCUSTFILE, "--master", "--master-bind-host", "127.0.0.1",
                       "--master-bind-port", str(port), "--expect-workers", "2", "-H", target] + headless(),
        tmp_path, out,
    )
    worker_cmd = locusta_cmd() + ["-f", LOCUSTFILE, "--worker", "--master-host", "127.0.0.1", "--master-port", str(port)]
    workers = [start(worker_cmd, tmp_path, out) for _ in range(2)]
    code, mlog = finish(master)
    results = [finish(w, 30) for w in workers]
    assert code == 0, mlog
    assert all(c == 0 for c, _ in results), results
    indexes = sorted(r["index"] for r in records(out, "test_start") if r["runner"] == "WorkerRunner")
    assert indexes == [0, 1], records(out)
    check_events(out, master.pid)


def test_rust_user_classes_worker_index(target, tmp_path):
    """Rust user classes: the test hooks' event carries the worker index (Locust's
    ``runner.worker_index``): 0 and 1 on the workers, None on the master."""
    from test_lifecycle_parity import PARITY_BIN

    if not os.path.exists(PARITY_BIN):
        import pytest

        pytest.fail(f"{PARITY_BIN} is missing: build it with `cargo build -p locusta --example parity`")
    cmd = [PARITY_BIN, "--processes", "2", "--master-bind-port", "0", "--headless", "--only-summary", "-H", target]
    code, log = finish(start(cmd, tmp_path, tmp_path / "unused.jsonl"))
    assert code == 0, log[-3000:]
    indexes = re.findall(r"PARITY test_start on (\w+) \(worker_index (None|Some\(\d+\))\)", log)
    assert sorted(indexes) == [("Master", "None"), ("Worker", "Some(0)"), ("Worker", "Some(1)")], log[-3000:]


def test_processes_import_count_against_locust(target, tmp_path, real_locust):
    """A documented difference (docs/compatibility.md, ``--processes N``): Locust 2.47 imports
    the locustfile once and forks its workers; locusta starts fresh worker processes, so the
    master and each worker import it (N + 1 imports)."""
    _code, log, out = processes_run(target, tmp_path)
    assert len(records(out, "import")) == 3, log
    locust_out = tmp_path / "locust.jsonl"
    port = str(free_port())
    # Locust's forked workers connect to --master-port, its master binds --master-bind-port.
    cmd = real_locust + ["-f", LOCUSTFILE, "--processes", "2", "--master-bind-port", port, "--master-port", port, "-H", target] + headless()
    code, llog = finish(start(cmd, tmp_path, locust_out))
    assert code == 0, llog
    assert len(records(locust_out, "import")) == 1, llog
    assert len(records(locust_out, "test_start")) == 3, llog
