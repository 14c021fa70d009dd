#!/usr/bin/env python3
"""Throughput and accuracy: locusta (Rust-native user, GET /, no wait) versus wrk, against the
same nginx (one worker), the load generator pinned to one core and nginx to the other.

Throughput: both tools run with --connections connections/users (default 50), alternating, for
--rounds rounds; the score is requests per CPU-second of the load generator (user + system time
of the child process, from getrusage), median over rounds. Goal: locusta >= 0.8x wrk.

Accuracy: at saturation each tool's latency is mostly its *own* queueing (a request waits in the
generator's event loop before it is written and after its response arrived), so the two tools'
numbers differ for reasons that say nothing about measurement accuracy. The accuracy table
therefore also compares the tools at loads where neither saturates its core: --levels (default
1, 2 and 4 connections, plus the throughput level; on the reference machine 8 connections
already saturate both tools). At each level both tools run for the same duration against the
same server, alternating, and the table shows p50 and p99 of each side by side (median over
rounds, plus the p99 range over rounds: the p99 of a few-second run is sensitive to scheduling
hiccups on a shared machine) with locusta's difference to wrk. Goal: within 10% where neither
tool is saturated (the cpu% columns tell whether a generator was).

Usage: bench/throughput.py [--duration 10] [--connections 50] [--rounds 3] [--levels 1,2,4]
"""

import argparse
import statistics
import sys
import tempfile

from common import build_example, nginx, parse_wrk, read_stats_csv, require, run_measured


def run_wrk(wrk, pin, url, connections, duration):
    proc, cpu, _, wall = run_measured(
        pin + [wrk, "-t1", f"-c{connections}", f"-d{duration}s", "--latency", url + "/"]
    )
    if proc.returncode != 0:
        print(proc.stderr, file=sys.stderr)
        raise SystemExit(f"wrk exited with {proc.returncode}")
    reqs, pct = parse_wrk(proc.stdout)
    return reqs, cpu, wall, pct[50], pct[99]


def run_locusta(hammer, pin, url, users, duration, driver="hyper"):
    with tempfile.TemporaryDirectory() as tmp:
        prefix = f"{tmp}/run"
        proc, cpu, _, wall = run_measured(
            ["env", f"LOCUSTA_HTTP_DRIVER={driver}"] + pin
            + [str(hammer), "--headless", "-u", str(users), "-r", "100000",
               "-t", f"{duration}s", "--threads", "1", "--only-summary",
               "--csv", prefix, "-H", url, "-L", "WARNING"]
        )
        if proc.returncode != 0:
            print(proc.stderr, file=sys.stderr)
            raise SystemExit(f"locusta exited with {proc.returncode}")
        agg = read_stats_csv(prefix)["Aggregated"]
        return int(agg["Request Count"]), cpu, wall, float(agg["50%"]), float(agg["99%"])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--duration", type=int, default=10, help="seconds per run (default 10)")
    ap.add_argument("--connections", type=int, default=50, help="connections / users for throughput (default 50)")
    ap.add_argument("--rounds", type=int, default=3, help="alternating rounds per level (default 3)")
    ap.add_argument("--levels", default="1,2,4", help="extra unsaturated levels for accuracy (default 1,2,4; '' for none)")
    ap.add_argument("--port", type=int, default=18089)
    ap.add_argument("--drivers", default="lean", help="locusta HTTP drivers to compare, e.g. lean,hyper (default lean)")
    ap.add_argument("--gen-core", type=int, default=1)
    ap.add_argument("--server-core", type=int, default=0)
    args = ap.parse_args()

    wrk = require("wrk", "apt-get install wrk")
    hammer = build_example("hammer")
    pin = ["taskset", "-c", str(args.gen_core)]
    levels = [int(x) for x in args.levels.split(",") if x.strip()]
    levels = sorted(set(levels + [args.connections]))
    # results[level][tool] = list of (requests, cpu s, wall s, p50 ms, p99 ms)
    drivers = [d.strip() for d in args.drivers.split(",") if d.strip()]
    tools = ["locusta" if d == "hyper" else f"loc-{d}" for d in drivers]
    results = {n: {t: [] for t in ["wrk"] + tools} for n in levels}
    with nginx(args.port, args.server_core) as url:
        for _ in range(args.rounds):
            for n in levels:
                results[n]["wrk"].append(run_wrk(wrk, pin, url, n, args.duration))
                for d, t in zip(drivers, tools):
                    results[n][t].append(run_locusta(hammer, pin, url, n, args.duration, d))

    print(f"\nall runs ({args.duration} s each; generator pinned to core {args.gen_core}, nginx to core {args.server_core})")
    print(f"{'conns':>5} {'tool':<8} {'round':>5} {'requests':>10} {'cpu s':>7} {'cpu %':>6} {'req/cpu-s':>10} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8}")
    for n in levels:
        for tool, rows in results[n].items():
            for i, (reqs, cpu, wall, p50, p99) in enumerate(rows):
                print(f"{n:>5} {tool:<8} {i:>5} {reqs:>10} {cpu:>7.2f} {100 * cpu / wall:>6.0f} {reqs / cpu:>10.0f} {reqs / wall:>9.0f} {p50:>8.3f} {p99:>8.3f}")

    def med(n, tool, f):
        return statistics.median(f(r) for r in results[n][tool])

    n = args.connections
    wrk_eff = med(n, "wrk", lambda r: r[0] / r[1])
    for t in tools:
        loc_eff = med(n, t, lambda r: r[0] / r[1])
        print(f"\nthroughput at {n} connections, median requests per CPU-second: "
              f"{t} {loc_eff:.0f}, wrk {wrk_eff:.0f}, ratio {loc_eff / wrk_eff:.2f}x (goal >= 0.8x)")

    print("\naccuracy (median over rounds; diff = locusta vs wrk; goal within 10% where neither is saturated)")
    print(f"{'conns':>5} {'tool':<10} {'wrk cpu%':>8} {'loc cpu%':>8} {'wrk p50':>8} {'loc p50':>8} {'diff':>7} {'wrk p99':>8} {'loc p99':>8} {'diff':>7}  {'wrk p99 range':>13}  {'loc p99 range':>13}")
    for n in levels:
        for t in tools:
            wc = med(n, "wrk", lambda r: 100 * r[1] / r[2])
            lc = med(n, t, lambda r: 100 * r[1] / r[2])
            w50, l50 = med(n, "wrk", lambda r: r[3]), med(n, t, lambda r: r[3])
            w99, l99 = med(n, "wrk", lambda r: r[4]), med(n, t, lambda r: r[4])
            d50 = 100 * (l50 - w50) / w50 if w50 else float("nan")
            d99 = 100 * (l99 - w99) / w99 if w99 else float("nan")
            wr = [r[4] for r in results[n]["wrk"]]
            lr = [r[4] for r in results[n][t]]
            print(f"{n:>5} {t:<10} {wc:>8.0f} {lc:>8.0f} {w50:>8.3f} {l50:>8.3f} {d50:>+6.1f}% {w99:>8.3f} {l99:>8.3f} {d99:>+6.1f}%"
                  f"  {min(wr):>6.3f}-{max(wr):<6.3f}  {min(lr):>6.3f}-{max(lr):<6.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
