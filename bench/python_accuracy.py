#!/usr/bin/env python3
"""Accuracy of Python locustfiles: the median response time locusta and Locust 2.47 report for
the same locustfile and target, next to wrk's, at the same number of connections, and next to the
ground truth: the median request-to-response time of the same run on the wire (tcpdump on
loopback; needs root and `apt-get install tcpdump`).

nginx (one worker) runs on core 0; wrk, locusta and Locust each run pinned to core 1 with the
same number of connections / users, one after the other for --rounds rounds. The locustfile is
the throughput benchmark's (``HttpUser``, ``constant(0)``, one GET; Locust also runs the
``FastHttpUser`` variant). A generator that saturates its core queues responses before it
reads them, and that waiting is reported as response time: wrk hardly ever saturates, so its
median is the target's. Goal (issue 3): locusta's median within 10% of wrk's; Locust's is
recorded beside it.

Usage: bench/python_accuracy.py [--levels 1,4,20] [--duration 8] [--rounds 3]
       [--locusta-python PY] [--locust /opt/locust-venv/bin/locust]
"""

import argparse
import os
import statistics
import sys
import tempfile

from common import ROOT, nginx, parse_wrk, read_stats_csv, require, run_measured, wire_capture

EXAMPLES = ROOT / "examples"


def wire_p50(latencies):
    return 1000 * statistics.median(latencies) if latencies else float("nan")


def run_wrk(wrk, pin, url, connections, duration, port, server_core):
    with wire_capture(port, server_core) as wire:
        proc, cpu, _rss, wall = run_measured(
            pin + [wrk, "-t1", f"-c{connections}", f"-d{duration}s", "--latency", url + "/"]
        )
    if proc.returncode != 0:
        raise SystemExit(f"wrk exited with {proc.returncode}: {proc.stderr}")
    reqs, pct = parse_wrk(proc.stdout)
    return reqs, cpu, wall, pct[50], wire_p50(wire)


def run_generator(cmd, locustfile, pin, url, users, duration, port, server_core):
    with tempfile.TemporaryDirectory() as tmp:
        prefix = f"{tmp}/run"
        with wire_capture(port, server_core) as wire:
            proc, cpu, _rss, wall = run_measured(
                pin + cmd
                + ["-f", str(locustfile), "--headless", "-u", str(users), "-r", "1000", "-t", f"{duration}s",
                   "--only-summary", "--csv", prefix, "-H", url, "-L", "WARNING"],
                cwd=tmp,
            )
        if proc.returncode != 0:
            print(proc.stderr[-3000:], file=sys.stderr)
            raise SystemExit(f"{' '.join(cmd)} exited with {proc.returncode}")
        agg = read_stats_csv(prefix)["Aggregated"]
        return int(agg["Request Count"]), cpu, wall, float(agg["50%"]), wire_p50(wire)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--levels", default="1,4,20", help="connections / users, comma-separated")
    ap.add_argument("--duration", type=int, default=8)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--locusta-python", default=sys.executable)
    ap.add_argument("--locust", default=os.environ.get("REAL_LOCUST", "/opt/locust-venv/bin/locust"))
    ap.add_argument("--port", type=int, default=18094)
    ap.add_argument("--gen-core", type=int, default=1)
    ap.add_argument("--server-core", type=int, default=0)
    args = ap.parse_args()

    wrk = require("wrk", "apt-get install wrk")
    pin = ["taskset", "-c", str(args.gen_core)]
    levels = [int(x) for x in args.levels.split(",")]
    tools = {
        "locusta HttpUser": ([args.locusta_python, "-m", "locusta"], EXAMPLES / "perf_one_get.py"),
        "Locust FastHttpUser": ([args.locust], EXAMPLES / "perf_one_get_fast.py"),
        "Locust HttpUser": ([args.locust], EXAMPLES / "perf_one_get.py"),
    }
    results = {n: {t: [] for t in ["wrk", *tools]} for n in levels}
    with nginx(args.port, args.server_core) as url:
        for _ in range(args.rounds):
            for n in levels:
                results[n]["wrk"].append(run_wrk(wrk, pin, url, n, args.duration, args.port, args.server_core))
                for name, (cmd, lf) in tools.items():
                    results[n][name].append(
                        run_generator(cmd, lf, pin, url, n, args.duration, args.port, args.server_core))

    print(f"\nmedian over {args.rounds} rounds of {args.duration} s; generators on core {args.gen_core}, "
          f"nginx on core {args.server_core}")
    print("wire p50: the same run's median request-to-response time on loopback (tcpdump, kernel "
          "timestamps): the ground truth without any generator's scheduling")
    print(f"{'conns':>5} {'tool':<20} {'req/s':>8} {'cpu %':>6} {'p50 ms':>8} {'vs wrk':>8} "
          f"{'wire p50':>9} {'vs wire':>8}")
    for n in levels:
        w50 = statistics.median(r[3] for r in results[n]["wrk"])
        for name, rows in results[n].items():
            p50 = statistics.median(r[3] for r in rows)
            rate = statistics.median(r[0] / r[2] for r in rows)
            cpu = statistics.median(100 * r[1] / r[2] for r in rows)
            truth = statistics.median(r[4] for r in rows)
            diff = "" if name == "wrk" else f"{100 * (p50 - w50) / w50:+.0f}%"
            vs_wire = f"{1000 * (p50 - truth):+.3f}" if truth == truth else "n/a"
            print(f"{n:>5} {name:<20} {rate:>8.0f} {cpu:>6.0f} {p50:>8.3f} {diff:>8} {truth:>9.3f} {vs_wire:>8}")
    print("(vs wire: reported p50 minus wire p50, in µs)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
