"""Master/worker mode with Python locustfiles, and mixed with the real Locust (both ways):
all processes on loopback, each test bounded by its run time and process timeouts."""

import csv
import os
import re
import socket
import subprocess
import sys

import pytest

from conftest import lf, locusta_cmd

LOCUSTFILE = lf("distributed.py")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


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
