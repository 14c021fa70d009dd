#!/usr/bin/env python3
"""Master CPU under many workers: N simulated workers (pyzmq DEALERs in one process, as Locust's
own workers speak) each send a heartbeat every second and a realistic stats report every 3 s
(--entries stats entries with Locust's response_times buckets and per-second counts) to a
locusta master; the score is the master's CPU use (user + system from /proc) during the steady
state, in percent of one core. Goal: < 50% at 500 workers (Locust's master saturates near 1,000).

Needs pyzmq and msgpack (they come with `pip install locust`).
Usage: bench/dist_master.py [--workers 500] [--entries 10] [--duration 30] [--binary PATH]
"""

import argparse
import os
import random
import re
import socket
import subprocess
import sys
import tempfile
import time

import msgpack
import zmq

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def entry(name, t):
    rts = {random.choice([1, 2, 3, 5, 8, 13, 21, 40, 70, 110, 250]): random.randint(1, 50) for _ in range(12)}
    n = sum(rts.values())
    return {
        "name": name, "method": "GET", "last_request_timestamp": t, "start_time": t - 3,
        "num_requests": n, "num_none_requests": 0, "num_failures": 0,
        "total_response_time": float(sum(k * v for k, v in rts.items())),
        "max_response_time": float(max(rts)), "min_response_time": float(min(rts)),
        "total_content_length": n * 100, "response_times": rts,
        "num_reqs_per_sec": {int(t) - 2: n // 3, int(t) - 1: n // 3, int(t): n - 2 * (n // 3)},
        "num_fail_per_sec": {},
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--workers", type=int, default=500)
    ap.add_argument("--entries", type=int, default=10)
    ap.add_argument("--duration", type=float, default=30)
    ap.add_argument("--binary", default=os.path.join(ROOT, "target", "release", "locusta"))
    a = ap.parse_args()
    if not os.path.exists(a.binary):
        subprocess.run(["cargo", "build", "--release", "--locked", "-p", "locusta"], cwd=ROOT, check=True)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    log_path = os.path.join(tempfile.mkdtemp(prefix="locusta-bench-"), "master.log")
    master = subprocess.Popen(
        [a.binary, "demo", "--master", "--headless", "--master-bind-host", "127.0.0.1",
         "--master-bind-port", str(port), "--expect-workers", str(a.workers), "-u", str(a.workers),
         "-r", str(a.workers), "-t", f"{int(a.duration + 30)}s", "-H", "http://127.0.0.1:9", "--only-summary"],
        stdout=subprocess.DEVNULL, stderr=open(log_path, "w"),
    )
    ctx = zmq.Context()
    socks = []
    for i in range(a.workers):
        s = ctx.socket(zmq.DEALER)
        node = f"bench{i % 8}_{i:032x}"
        s.setsockopt(zmq.IDENTITY, node.encode())
        s.setsockopt(zmq.LINGER, 0)
        s.connect(f"tcp://127.0.0.1:{port}")
        s.send(msgpack.dumps(["client_ready", -1, node]))
        socks.append((s, node))
    poller = zmq.Poller()
    for s, _ in socks:
        poller.register(s, zmq.POLLIN)

    def drain():
        for s, _ in socks:
            while True:
                try:
                    s.recv(zmq.NOBLOCK)
                except zmq.Again:
                    break

    names = [f"/endpoint/{k}" for k in range(a.entries)]
    start = time.time()
    measured_from = start + 10
    cpu0 = None
    tick = 0
    while True:
        now = time.time()
        if cpu0 is None and now >= measured_from:
            cpu0, t0 = cpu_seconds(master.pid), now
        if now >= measured_from + a.duration:
            cpu1, t1 = cpu_seconds(master.pid), now
            break
        for i, (s, node) in enumerate(socks):
            s.send(msgpack.dumps(["heartbeat", {"state": "running", "current_cpu_usage": 10.0, "current_memory_usage": 50_000_000}, node]))
            if (tick + i) % 3 == 0:
                t = time.time()
                entries = [entry(n, t) for n in names]
                total = dict(entry("Aggregated", t), method="")
                report = {"stats": entries, "stats_total": total, "errors": {},
                          "user_classes_count": {"ShopUser": 1}, "user_count": 1}
                s.send(msgpack.dumps(["stats", report, node]))
        drain()
        tick += 1
        time.sleep(max(0.0, start + tick - time.time()))
    master.terminate()
    master.wait(timeout=30)
    pct = 100.0 * (cpu1 - cpu0) / (t1 - t0)
    log = open(log_path).read()
    ready = log.count("reported as ready")
    dropped = log.count("dropping")
    m = re.findall(r"Aggregated\s+(\d+)", log)
    print(f"master log: {ready} workers ready, {dropped} dropped messages, "
          f"{m[0] if m else '?'} requests merged from reports")
    print(f"{a.workers} simulated workers, {a.entries} entries per report, {t1 - t0:.0f} s measured: "
          f"master CPU {pct:.1f}% of one core (goal < 50%)")


if __name__ == "__main__":
    sys.exit(main())
