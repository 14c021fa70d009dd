#!/usr/bin/env python3
"""Memory of Python locustfiles: peak RSS of locusta running examples/idle_users.py (HttpUser,
``between(1, 5)``, one GET per task) with --users users (default 10,000) against nginx (one
worker on core 0, keep-alive on); locusta runs on core 1. Goal (issue 18): below 150 MB.

The peak is sampled from /proc/<pid>/status (VmRSS) during the run, after all users are spawned.
``--rest both`` runs it twice, with users resting between tasks without a greenlet (the
default) and with ``LOCUSTA_USERS_REST=0`` (every user keeps its greenlet), one after the other.
Usage: bench/python_memory.py [--users 10000] [--rate 2000] [--duration 30] [--rest on|off|both]
       [--locusta-python PY]
"""

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time

from common import ROOT, nginx, sample_rss

GOAL_MB = 150


def run_once(args, url, rest):
    """One run; returns (peak RSS KB, requests, failures, wall seconds)."""
    with tempfile.TemporaryDirectory() as tmp:
        cmd = ["taskset", "-c", "1", args.locusta_python, "-m", "locusta", "-f", str(ROOT / "examples" / "idle_users.py"),
               "--headless", "-u", str(args.users), "-r", str(args.rate), "-t", f"{args.duration}s",
               "--only-summary", "--csv", f"{tmp}/run", "-H", url, "-L", "WARNING"]
        env = {**os.environ, "LOCUSTA_USERS_REST": "1" if rest else "0"}
        start = time.time()
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, cwd=tmp, env=env)
        samples, stop = [], threading.Event()
        t = threading.Thread(target=sample_rss, args=(proc.pid, samples, stop))
        t.start()
        _, stderr = proc.communicate(timeout=args.duration + 120)
        stop.set()
        t.join()
        wall = time.time() - start
        if proc.returncode != 0:
            print(stderr[-3000:], file=sys.stderr)
            raise SystemExit(f"locusta exited with {proc.returncode}")
        with open(f"{tmp}/run_stats.csv") as f:
            agg = f.read().splitlines()[-1].split(",")
    return (samples[0] if samples else 0), agg[2], agg[3], wall


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--users", type=int, default=10_000)
    ap.add_argument("--rate", type=int, default=2_000)
    ap.add_argument("--duration", type=int, default=30)
    ap.add_argument("--port", type=int, default=18093)
    ap.add_argument("--rest", choices=["on", "off", "both"], default="on",
                    help="users rest between tasks without a greenlet (on, the default), keep it (off), or both runs")
    ap.add_argument("--locusta-python", default=sys.executable)
    args = ap.parse_args()

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    if hard < args.users + 1000:
        raise SystemExit(f"open-file limit {hard} is too low for {args.users} users; raise it (ulimit -n)")
    modes = {"on": [True], "off": [False], "both": [True, False]}[args.rest]
    print(f"{'users':>8} {'resting':>8} {'peak RSS MB':>12} {'KB/user':>8} {'requests':>9} {'failures':>9} {'wall s':>7}")
    met = None
    with nginx(args.port, 0, worker_connections=args.users + 1000) as url:
        for rest in modes:
            rss, requests, failures, wall = run_once(args, url, rest)
            print(f"{args.users:>8} {'on' if rest else 'off':>8} {rss / 1024:>12.1f} {rss / args.users:>8.2f} "
                  f"{requests:>9} {failures:>9} {wall:>7.1f}", flush=True)
            if rest:
                met = rss / 1024 < GOAL_MB
    if met is not None:
        print(f"goal: below {GOAL_MB} MB with resting users (the default) -> {'met' if met else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
