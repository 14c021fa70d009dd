#!/usr/bin/env python3
"""Python locustfile throughput: locusta versus Locust 2.47 (FastHttpUser and HttpUser), side by
side in one run, against the same nginx (one worker) on one core, each load generator pinned to
the other core (the whole process, tokio thread included).

The locustfile is the issue's: one GET per task, ``constant(0)``. locusta runs
examples/perf_one_get.py (HttpUser); Locust runs examples/perf_one_get_fast.py (FastHttpUser)
and examples/perf_one_get.py (HttpUser). The three alternate for --rounds rounds; the score is
requests per CPU-second of the generator process (user + system time from getrusage), median
over rounds. Goals: locusta >= 10x Locust FastHttpUser and >= 50x Locust HttpUser.

locusta must be installed in the interpreter given by --locusta-python (build it with
``maturin develop --release`` or ``pip install .``: a debug build is several times slower).

Usage: bench/python_throughput.py [--duration 10] [--users 20] [--rounds 3] [--drivers lean,hyper] [--io inline,thread]
       [--locusta-python PY] [--locust /opt/locust-venv/bin/locust] [--locusta-only]
"""

import argparse
import os
import statistics
import sys
import tempfile

from common import ROOT, nginx, read_stats_csv, run_measured

EXAMPLES = ROOT / "examples"


def run_tool(cmd, locustfile, pin, url, users, duration):
    with tempfile.TemporaryDirectory() as tmp:
        prefix = f"{tmp}/run"
        proc, cpu, rss, wall = run_measured(
            pin
            + cmd
            + ["-f", str(locustfile), "--headless", "-u", str(users), "-r", "1000", "-t", f"{duration}s",
               "--only-summary", "--csv", prefix, "-H", url, "-L", "WARNING"],
            cwd=tmp,
        )
        if proc.returncode != 0:
            print(proc.stderr[-3000:], file=sys.stderr)
            raise SystemExit(f"{' '.join(cmd)} exited with {proc.returncode}")
        agg = read_stats_csv(prefix)["Aggregated"]
        return int(agg["Request Count"]), int(agg["Failure Count"]), cpu, wall, float(agg["50%"])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--duration", type=int, default=10, help="seconds per run (default 10)")
    ap.add_argument("--users", type=int, default=20, help="users per run (default 20)")
    ap.add_argument("--rounds", type=int, default=3, help="alternating rounds (default 3)")
    ap.add_argument("--locusta-python", default=sys.executable, help="interpreter with locusta installed")
    ap.add_argument("--locust", default=os.environ.get("REAL_LOCUST", "/opt/locust-venv/bin/locust"),
                    help="the real Locust command")
    ap.add_argument("--drivers", default="lean",
                    help="locusta HTTP drivers to measure, comma-separated (lean, hyper; default lean)")
    ap.add_argument("--io", default="inline",
                    help="I/O modes of the lean driver, comma-separated (inline: tokio turned by the "
                         "gevent hub on its thread, the default; thread: an I/O thread)")
    ap.add_argument("--locusta-only", action="store_true",
                    help="measure only locusta (for quick before/after checks; prints no ratios)")
    ap.add_argument("--port", type=int, default=18090)
    ap.add_argument("--gen-core", type=int, default=1)
    ap.add_argument("--server-core", type=int, default=0)
    args = ap.parse_args()

    pin = ["taskset", "-c", str(args.gen_core)]
    drivers = [d.strip() for d in args.drivers.split(",") if d.strip()]
    io_modes = [m.strip() for m in args.io.split(",") if m.strip()]
    tools = {}
    for d in drivers:
        # hyper spawns its own tasks, so it always runs on an I/O thread
        for m in (io_modes if d == "lean" else ["thread"]):
            tools[f"locusta HttpUser ({d}, {m} I/O)"] = (
                ["env", f"LOCUSTA_HTTP_DRIVER={d}", f"LOCUSTA_PY_IO={m}", args.locusta_python, "-m", "locusta"],
                EXAMPLES / "perf_one_get.py")
    if not args.locusta_only:
        tools.update({
            "Locust FastHttpUser": ([args.locust], EXAMPLES / "perf_one_get_fast.py"),
            "Locust HttpUser": ([args.locust], EXAMPLES / "perf_one_get.py"),
        })
    results = {name: [] for name in tools}
    with nginx(args.port, args.server_core) as url:
        for _ in range(args.rounds):
            for name, (cmd, lf) in tools.items():
                results[name].append(run_tool(cmd, lf, pin, url, args.users, args.duration))

    print(f"\nall runs ({args.duration} s, {args.users} users; generator pinned to core {args.gen_core}, "
          f"nginx to core {args.server_core})")
    print(f"{'tool':<36} {'round':>5} {'requests':>10} {'fails':>6} {'cpu s':>7} {'cpu %':>6} {'req/cpu-s':>10} "
          f"{'req/s':>9} {'p50 ms':>7}")
    for name, rows in results.items():
        for i, (reqs, fails, cpu, wall, p50) in enumerate(rows):
            print(f"{name:<36} {i:>5} {reqs:>10} {fails:>6} {cpu:>7.2f} {100 * cpu / wall:>6.0f} {reqs / cpu:>10.0f} "
                  f"{reqs / wall:>9.0f} {p50:>7.1f}")

    eff = {name: statistics.median(r[0] / r[2] for r in rows) for name, rows in results.items()}
    print("\nmedian requests per CPU-second: " + ", ".join(f"{k} {v:.0f}" for k, v in eff.items()))
    if args.locusta_only:
        return 0
    # Ratios within each round (runs minutes apart on a shared machine drift together): their
    # median is steadier than the ratio of the medians when the machine's load changes.
    for name, rows in results.items():
        if not name.startswith("locusta"):
            continue
        for other in ("Locust FastHttpUser", "Locust HttpUser"):
            per_round = [r[0] / r[2] / (o[0] / o[2]) for r, o in zip(rows, results[other])]
            print(f"{name} / {other} per round: " + ", ".join(f"{x:.1f}x" for x in per_round)
                  + f" (median {statistics.median(per_round):.1f}x)")
    fast, slow = eff["Locust FastHttpUser"], eff["Locust HttpUser"]
    for name, mine in eff.items():
        if name.startswith("locusta"):
            print(f"{name} / Locust FastHttpUser = {mine / fast:.1f}x (goal >= 10x)")
            print(f"{name} / Locust HttpUser     = {mine / slow:.1f}x (goal >= 50x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
