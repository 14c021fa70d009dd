"""Master/worker mode with Python locustfiles, and mixed with the real Locust (both ways):
all processes on loopback, each test bounded by its run time and process timeouts."""

import csv
import os
import re
import subprocess

import pytest

from conftest import free_port, lf, locusta_cmd

LOCUSTFILE = lf("distributed.py")



def start(cmd, cwd, env=None):
    full_env = dict(os.environ)
    full_env.pop("LOCUST_HOST", None)
    full_env.update(env or {})
    return subprocess.Popen(
        cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=full_env
    )


def finish(proc, timeout=90):
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
    return proc.returncode, err


def aggregated(prefix):
    with open(f"{prefix}_stats.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    agg = [r for r in rows if r["Name"] == "Aggregated"]
    assert agg, rows
    return int(agg[0]["Request Count"]), {r["Name"] for r in rows if r["Name"] != "Aggregated"}


def master_cmd(base, port, workers, prefix, host):
    return base + [
        "-f", LOCUSTFILE, "--master", "--headless", "--master-bind-host", "127.0.0.1",
        "--master-bind-port", str(port), "--expect-workers", str(workers),
        "--expect-workers-max-wait", "60", "-u", "4", "-r", "4", "-t", "5s",
        "--csv", prefix, "--only-summary", "-H", host,
    ]


def worker_cmd(base, port):
    return base + ["-f", LOCUSTFILE, "--worker", "--master-host", "127.0.0.1", "--master-port", str(port)]


def reported(log):
    m = re.search(r"reported (\d+) requests in total", log)
    assert m, log
    return int(m.group(1))


def test_locusta_master_with_two_python_workers(target, tmp_path):
    port = free_port()
    prefix = str(tmp_path / "m")
    master = start(master_cmd(locusta_cmd(), port, 2, prefix, target), tmp_path)
    workers = [start(worker_cmd(locusta_cmd(), port), tmp_path) for _ in range(2)]
    code, mlog = finish(master)
    wlogs = [finish(w, 30) for w in workers]
    assert code == 0, mlog
    assert all(c == 0 for c, _ in wlogs), wlogs
    assert "All users spawned: {\"ShopUser\": 3, \"WebsiteUser\": 1} (4 total users)" in mlog, mlog
    total, names = aggregated(prefix)
    assert total > 0
    assert names == {"/api/products", "/about/"}
    assert total == sum(reported(log) for _, log in wlogs), (mlog, wlogs)


def test_real_locust_master_with_a_locusta_worker(target, tmp_path, real_locust):
    port = free_port()
    prefix = str(tmp_path / "m")
    master = start(master_cmd(real_locust, port, 1, prefix, target), tmp_path)
    worker = start(worker_cmd(locusta_cmd(), port), tmp_path)
    code, mlog = finish(master)
    wcode, wlog = finish(worker, 30)
    assert code == 0, mlog
    assert wcode == 0, wlog
    total, names = aggregated(prefix)
    assert total > 0, mlog
    assert names == {"/api/products", "/about/"}
    assert total == reported(wlog), (mlog, wlog)


def test_locusta_master_with_real_locust_workers(target, tmp_path, real_locust):
    port = free_port()
    prefix = str(tmp_path / "m")
    master = start(master_cmd(locusta_cmd(), port, 2, prefix, target), tmp_path)
    workers = [start(worker_cmd(real_locust, port), tmp_path) for _ in range(2)]
    code, mlog = finish(master)
    for w in workers:
        finish(w, 30)
    assert code == 0, mlog
    assert "2 workers connected" in mlog, mlog
    total, names = aggregated(prefix)
    assert total > 0, mlog
    assert names == {"/api/products", "/about/"}


def test_processes_with_a_python_locustfile(target, tmp_path):
    prefix = str(tmp_path / "p")
    proc = start(
        locusta_cmd() + [
            "-f", LOCUSTFILE, "--processes", "2", "--headless", "--master-bind-port", "0",
            "-u", "4", "-r", "4", "-t", "4s", "--csv", prefix, "--only-summary", "-H", target,
        ],
        tmp_path,
    )
    code, log = finish(proc)
    assert code == 0, log
    assert "2 workers connected" in log, log
    counts = [int(n) for n in re.findall(r"reported (\d+) requests in total", log)]
    assert len(counts) == 2, log
    total, names = aggregated(prefix)
    assert total > 0 and total == sum(counts), log
    assert names == {"/api/products", "/about/"}


@pytest.mark.parametrize("master_kind", ["locusta", "locust"])
def test_worker_downloads_the_locustfile_from_the_master(target, tmp_path, master_kind, request):
    if master_kind == "locust":
        base = request.getfixturevalue("real_locust")
    else:
        base = locusta_cmd()
    port = free_port()
    prefix = str(tmp_path / "m")
    master = start(master_cmd(base, port, 1, prefix, target), tmp_path)
    worker = start(locusta_cmd() + ["-f", "-", "--worker", "--master-host", "127.0.0.1", "--master-port", str(port)], tmp_path)
    code, mlog = finish(master)
    wcode, wlog = finish(worker, 30)
    assert code == 0, mlog
    assert wcode == 0, wlog
    total, names = aggregated(prefix)
    assert total > 0 and total == reported(wlog), (mlog, wlog)
    assert names == {"/api/products", "/about/"}


def exception_rows(prefix):
    with open(f"{prefix}_exceptions.csv", newline="") as f:
        return list(csv.DictReader(f))


def errors_cmd(base, port, prefix, host):
    cmd = master_cmd(base, port, 1, prefix, host)
    cmd[cmd.index(LOCUSTFILE)] = lf("dist_errors.py")
    return cmd


@pytest.mark.parametrize("master_kind,worker_kind", [("locusta", "locust"), ("locust", "locusta"), ("locusta", "locusta")])
def test_worker_exceptions_reach_the_masters_csv(target, tmp_path, master_kind, worker_kind, request):
    """A task raising on a worker: the master's _exceptions.csv has the message, the traceback
    and the worker's node id (Locust's `exception` message, both ways)."""
    real = request.getfixturevalue("real_locust") if "locust" in (master_kind, worker_kind) else None
    mbase = real if master_kind == "locust" else locusta_cmd()
    wbase = real if worker_kind == "locust" else locusta_cmd()
    port = free_port()
    prefix = str(tmp_path / "m")
    master = start(errors_cmd(mbase, port, prefix, target), tmp_path)
    worker = start(wbase + ["-f", lf("dist_errors.py"), "--worker", "--master-host", "127.0.0.1", "--master-port", str(port)], tmp_path)
    code, mlog = finish(master)
    wcode, wlog = finish(worker, 30)
    assert code == 1, mlog  # Locust's exit code when a user raised
    rows = exception_rows(prefix)
    boom = [r for r in rows if "boom from the worker" in r["Message"]]
    assert boom, (rows, mlog, wlog)
    assert int(boom[0]["Count"]) > 0
    assert "raise ValueError" in boom[0]["Traceback"], boom
    assert boom[0]["Nodes"] and boom[0]["Nodes"] != "local", boom


def test_locusta_web_master_with_two_python_workers(target, tmp_path):
    """The master with the web UI for a Python locustfile: /swarm dispatches to the workers,
    /stats/requests shows both, /stop stops them."""
    import json
    import time
    import urllib.parse
    import urllib.request

    port, web_port = free_port(), free_port()
    base = f"http://127.0.0.1:{web_port}"
    master = start(
        locusta_cmd() + [
            "-f", LOCUSTFILE, "--master", "--master-bind-host", "127.0.0.1", "--master-bind-port", str(port),
            "--web-host", "127.0.0.1", "--web-port", str(web_port), "-H", target,
        ],
        tmp_path,
    )
    workers = [start(worker_cmd(locusta_cmd(), port), tmp_path) for _ in range(2)]

    def stats():
        with urllib.request.urlopen(f"{base}/stats/requests", timeout=10) as r:
            return json.load(r)

    def post(path, form=None):
        data = urllib.parse.urlencode(form or {}).encode()
        with urllib.request.urlopen(urllib.request.Request(f"{base}{path}", data=data), timeout=10) as r:
            return r.read()

    def wait_for(what, pred):
        deadline = time.time() + 60
        last = None
        while time.time() < deadline:
            try:
                last = stats()
                if pred(last):
                    return last
            except OSError:
                pass
            time.sleep(0.2)
        raise AssertionError(f"timed out waiting for {what}: {last}")

    def total(s):
        return next(r["num_requests"] for r in s["stats"] if r["name"] == "Aggregated")

    try:
        wait_for("2 workers", lambda s: s["worker_count"] == 2 and len(s["workers"]) == 2)
        assert json.loads(post("/swarm", {"user_count": 4, "spawn_rate": 10, "host": target}))["success"]
        names = {"/api/products", "/about/", "Aggregated"}
        # Tasks are picked at random: wait until both have run rather than assume the first
        # requests hit both.
        s = wait_for(
            "4 users and requests to both endpoints",
            lambda s: s["user_count"] == 4 and total(s) > 0 and all(w["user_count"] == 2 for w in s["workers"])
            and {r["name"] for r in s["stats"]} >= names,
        )
        assert s["state"] == "running", s
        assert {r["name"] for r in s["stats"]} >= names, s
        # /metrics: the merged statistics and the workers' users (the gauge is set each second).
        deadline = time.time() + 30
        body = ""
        while time.time() < deadline and "locusta_users 4" not in body:
            with urllib.request.urlopen(f"{base}/metrics", timeout=10) as r:
                body = r.read().decode()
            time.sleep(0.3)
        assert "locusta_users 4" in body, body[-1000:]
        assert 'locusta_requests_total{method="GET",name="/about/"}' in body, body[:2000]
        post("/stop")
        wait_for("stopped", lambda s: s["state"] == "stopped" and s["worker_count"] == 2 and s["user_count"] == 0)
    finally:
        master.send_signal(2)
        code, mlog = finish(master, 60)
        wlogs = [finish(w, 30) for w in workers]
    assert code == 0, mlog
    assert all(c == 0 for c, _ in wlogs), wlogs


@pytest.mark.parametrize("master_kind,worker_kind", [("locust", "locusta"), ("locusta", "locusta"), ("locusta", "locust")])
def test_custom_messages_and_report_to_master_between_master_and_worker(target, tmp_path, master_kind, worker_kind, request):
    """register_message / send_message across processes, wire-compatible with Locust both
    ways: the worker's "ping" reaches the master's listener, whose "pong" (sent to that
    worker's id) reaches the worker's listener with the same data; a key added by the worker's
    report_to_master listener reaches the master's worker_report listener."""
    real = request.getfixturevalue("real_locust") if "locust" in (master_kind, worker_kind) else None
    mbase = real if master_kind == "locust" else locusta_cmd()
    wbase = real if worker_kind == "locust" else locusta_cmd()
    port = free_port()
    prefix = str(tmp_path / "m")
    cmd = master_cmd(mbase, port, 1, prefix, target)
    cmd[cmd.index(LOCUSTFILE)] = lf("custom_messages.py")
    master = start(cmd, tmp_path)
    worker = start(wbase + ["-f", lf("custom_messages.py"), "--worker", "--master-host", "127.0.0.1", "--master-port", str(port)], tmp_path)
    code, mlog = finish(master)
    wcode, wlog = finish(worker, 30)
    assert code == 0, mlog
    assert wcode == 0, wlog
    sent = "{'n': 1, 'items': ['a', 2, None, True, 1.5], 'raw': b'\\x00\\x01'}"
    assert f"master got ping {sent}" in mlog, (mlog, wlog)
    assert "worker got pong {'n': 2, 'items': ['a', 2, None, True, 1.5], 'raw': b'\\x00\\x01'}" in wlog, wlog
    assert "Unknown message type" not in wlog + mlog
    # report_to_master on the worker -> worker_report on the master, with the worker's id.
    m = re.search(r"master got custom_key from (\S+): \{'from': '(\S+)'\}", mlog)
    assert m, mlog
    assert m.group(1) == m.group(2), m.group(0)


@pytest.mark.parametrize("master_kind", ["locust", "locusta"])
def test_update_user_class_reaches_a_locusta_worker(target, tmp_path, master_kind, request):
    """Locust's update_user_class: the master's environment.update_user_class(...) (what the
    web UI's User settings call) sends the settings to the workers, and a locusta worker sets
    the attribute on its user class."""
    mbase = request.getfixturevalue("real_locust") if master_kind == "locust" else locusta_cmd()
    port = free_port()
    prefix = str(tmp_path / "m")
    cmd = master_cmd(mbase, port, 1, prefix, target)
    cmd[cmd.index(LOCUSTFILE)] = lf("update_user_class.py")
    master = start(cmd, tmp_path)
    worker = start(locusta_cmd() + ["-f", lf("update_user_class.py"), "--worker", "--master-host", "127.0.0.1", "--master-port", str(port)], tmp_path)
    code, mlog = finish(master)
    wcode, wlog = finish(worker, 30)
    assert code == 0, mlog
    assert wcode == 0, wlog
    assert "master got ready from the worker" in mlog, (mlog, wlog)
    assert "worker user sees marker updated" in wlog, (mlog, wlog)
    assert "Unknown message type" not in wlog + mlog
