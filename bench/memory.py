#!/usr/bin/env python3
"""Memory: RSS of locusta with many mostly-idle users (`between(1, 5)`, one GET per task).

Two measurements, side by side in one run:

1. `keepalive`: as many users as this machine's open-file limit allows (each user keeps its own
   keep-alive connection, as in Locust), giving the memory per connected user.
2. `churn`: the full user count (default 100,000). The target closes each connection after the
   response (nginx `keepalive_timeout 0`), so users hold a socket only while a request is in
   flight; this is how 100,000 users fit under a 20,000 open-file limit.

The peak RSS of the locusta process is read from getrusage (ru_maxrss), and the steady-state RSS
is sampled from /proc during the run. Targets are nginx workers on several 127.0.0.x addresses
(one worker, pinned to core 0); locusta runs on core 1.
Usage: bench/memory.py [--users 100000] [--duration 30]
"""

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time

from common import build_example, nginx, sample_rss


def run(binary, users, rate, duration, targets, extra_env):
    env = dict(os.environ, BENCH_TARGETS=",".join(targets), **extra_env)
    with tempfile.TemporaryDirectory() as tmp:
        cmd = ["taskset", "-c", "1", str(binary), "--headless", "-u", str(users), "-r", str(rate),
               "-t", f"{duration}s", "--only-summary", "--csv", f"{tmp}/run", "-H", targets[0],
               "-L", "WARNING", "--exit-code-on-error", "0"]
        start = time.time()
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        samples, stop = [], threading.Event()
        t = threading.Thread(target=sample_rss, args=(proc.pid, samples, stop))
        t.start()
        _, stderr = proc.communicate(timeout=duration + 120)
        stop.set()
        t.join()
        wall = time.time() - start
        if proc.returncode != 0:
            print(stderr[-3000:], file=sys.stderr)
            raise SystemExit(f"locusta exited with {proc.returncode}")
        with open(f"{tmp}/run_stats.csv") as f:
            rows = f.read().splitlines()
        agg = rows[-1].split(",")
        with open(f"{tmp}/run_failures.csv") as f:
            failures = f.read().splitlines()[1:]
        if failures:
            print(f"most frequent failure ({users} users): {failures[0][:200]}")
        return samples[0] if samples else 0, int(agg[2]), int(agg[3]), wall


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--users", type=int, default=100_000)
    ap.add_argument("--rate", type=int, default=10_000)
    ap.add_argument("--duration", type=int, default=30)
    ap.add_argument("--port", type=int, default=18090)
    ap.add_argument("--addresses", type=int, default=4, help="loopback addresses to spread users over")
    ap.add_argument("--drivers", default="lean", help="locusta HTTP drivers to measure, e.g. lean,hyper (default lean)")
    ap.add_argument("--no-churn", action="store_true", help="skip the connection-closed (churn) measurement")
    args = ap.parse_args()

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    binary = build_example("idle_users")
    addrs = [f"127.0.0.{i}" for i in range(1, args.addresses + 1)]
    targets = [f"http://{a}:{args.port}" for a in addrs]
    extra = [f"{a}:{args.port}" for a in addrs[1:]]
    connected_users = max(1000, min(args.users, hard - 1000))

    drivers = [d.strip() for d in args.drivers.split(",") if d.strip()]
    results = []
    with nginx(args.port, 0, worker_connections=hard - 100, extra_listen=extra, keepalive=True):
        for d in drivers:
            env = {"LOCUSTA_HTTP_DRIVER": d}
            rss, reqs, fails, wall = run(binary, connected_users, args.rate, args.duration, targets, env)
            results.append((f"keep/{d}", connected_users, rss, reqs, fails, wall))
    if not args.no_churn:
        with nginx(args.port, 0, worker_connections=hard - 100, extra_listen=extra, keepalive=False):
            for d in drivers:
                env = {"LOCUSTA_HTTP_DRIVER": d}
                rss, reqs, fails, wall = run(binary, args.users, args.rate, args.duration, targets, env)
                results.append((f"churn/{d}", args.users, rss, reqs, fails, wall))

    print(f"\nopen-file limit: {hard}")
    print(f"{'mode':<12} {'users':>8} {'peak RSS MB':>12} {'KB/user':>8} {'requests':>9} {'failures':>9} {'wall s':>7}")
    for mode, users, rss, reqs, fails, wall in results:
        print(f"{mode:<12} {users:>8} {rss / 1024:>12.1f} {rss / users:>8.2f} {reqs:>9} {fails:>9} {wall:>7.1f}")
    for keep in results[: len(drivers)]:
        projected = keep[2] / keep[1] * args.users / 1024
        print(f"\n{keep[0]}: projected RSS for {args.users} keep-alive users at the measured per-user cost: {projected:.0f} MB (goal < 1024 MB)")


if __name__ == "__main__":
    main()
