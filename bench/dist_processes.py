#!/usr/bin/env python3
"""`--processes 2` versus one process: requests per CPU-second of the load generator.

Runs examples/hammer.rs (GET / with no wait) against nginx (one worker, pinned to core 0),
alternately as one process (`--threads 2`) and as `--processes 2` (a master plus two worker
processes of one thread each); CPU is user + system time of the whole process tree (getrusage
of waited-for children), requests come from the master's CSV. Goal: within 10%.

Usage: bench/dist_processes.py [--duration 10] [--users 50] [--rounds 3]
"""

import argparse
import statistics
import tempfile

from common import build_example, nginx, read_stats_csv, run_measured


def run(binary, url, users, duration, distributed):
    with tempfile.TemporaryDirectory() as d:
        prefix = f"{d}/r"
        cmd = [str(binary), "--headless", "-u", str(users), "-r", "1000", "-t", f"{duration}s",
               "-H", url, "--csv", prefix, "--only-summary"]
        cmd += ["--processes", "2", "--threads", "1", "--master-bind-port", "0"] if distributed else ["--threads", "2"]
        proc, cpu, _, _ = run_measured(cmd)
        if proc.returncode != 0:
            raise SystemExit(proc.stderr[-3000:])
        reqs = int(read_stats_csv(prefix)["Aggregated"]["Request Count"])
        return reqs, cpu


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--duration", type=int, default=10)
    ap.add_argument("--users", type=int, default=50)
    ap.add_argument("--rounds", type=int, default=3)
    a = ap.parse_args()
    binary = build_example("hammer")
    port = 18711
    scores = {False: [], True: []}
    with nginx(port, 0):
        url = f"http://127.0.0.1:{port}"
        for _ in range(a.rounds):
            for distributed in (False, True):
                reqs, cpu = run(binary, url, a.users, a.duration, distributed)
                scores[distributed].append(reqs / cpu)
                print(f"{'--processes 2' if distributed else 'one process  '}: {reqs} requests, "
                      f"{cpu:.2f} CPU-s, {reqs / cpu:,.0f} req/CPU-s")
    single, multi = statistics.median(scores[False]), statistics.median(scores[True])
    print(f"median req/CPU-s: one process {single:,.0f}, --processes 2 {multi:,.0f}, ratio {multi / single:.2f} (goal >= 0.90)")


if __name__ == "__main__":
    main()
