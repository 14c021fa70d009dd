#!/usr/bin/env python3
"""Two builds of locusta side by side on the realistic locustfiles (bench/locustfiles), with Locust
2.47 FastHttpUser and HttpUser in every round: build A, build B, Locust FastHttpUser (the
``*_fast.py`` twin), Locust HttpUser, one after another per locustfile, against
bench/realistic.py's shop nginx (core 0), every generator pinned to core 1. Prints each run and,
per locustfile, the medians and per-round ratios B/A, A and B against Locust: what a change
gains on a real locustfile, measured side by side (this machine is shared and noisy).

With --fast-twins, builds A and B run the ``*_fast.py`` twins (FastHttpUser) as well: what a
change to locusta's FastHttpSession gains.

Usage: bench/realistic_ab.py --a VENV_A/bin/python --b VENV_B/bin/python [--rounds 5]
       [--duration 10] [--users 50] [--only shop,shop_validated] [--locust PATH] [--fast-twins]
"""

import argparse
import statistics
import sys

from common import nginx
from realistic import LOCUSTFILES, run_one, shop_locations


def spread(values):
    return f"{statistics.median(values):.2f} ({min(values):.2f}-{max(values):.2f})"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--a", required=True, help="interpreter with build A (the baseline)")
    ap.add_argument("--b", required=True, help="interpreter with build B")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--duration", type=int, default=10, help="seconds per run")
    ap.add_argument("--users", type=int, default=50)
    ap.add_argument("--only", default="shop,shop_validated", help="comma-separated locustfiles of bench/locustfiles")
    ap.add_argument("--locust", default="/opt/locust-venv/bin/locust", help="Locust 2.47's command")
    ap.add_argument("--port", type=int, default=18125)
    ap.add_argument("--fast-twins", action="store_true", help="A and B run the FastHttpUser twins (*_fast.py)")
    args = ap.parse_args()

    files = args.only.split(",")
    twin = "_fast" if args.fast_twins else ""
    tools = [("A", [args.a, "-m", "locusta"], twin), ("B", [args.b, "-m", "locusta"], twin),
             ("LocustFast", [args.locust], "_fast"), ("LocustHttp", [args.locust], "")]
    pin = ["taskset", "-c", "1"]
    eff = {(name, tool): [] for name in files for tool, _, _ in tools}
    with nginx(args.port, 0, locations=shop_locations()) as url:
        for rnd in range(args.rounds):
            for name in files:
                for tool, cmd, suffix in tools:
                    r = run_one(cmd, LOCUSTFILES / f"{name}{suffix}.py", pin, url, args.users, args.duration)
                    per_cpu = r["requests"] / r["cpu"]
                    eff[(name, tool)].append(per_cpu)
                    print(f"round {rnd} {name:<15} {tool:<11} {r['requests']:>8} req {r['failures']:>4} fail "
                          f"{r['cpu']:6.2f} CPU-s {100 * r['cpu'] / r['wall']:4.0f}% {per_cpu:8.0f} req/CPU-s", flush=True)
    print()
    for name in files:
        e = {tool: eff[(name, tool)] for tool, _, _ in tools}
        print(f"{name}: req/CPU-s median A {statistics.median(e['A']):.0f} B {statistics.median(e['B']):.0f} "
              f"Locust FastHttpUser {statistics.median(e['LocustFast']):.0f} HttpUser {statistics.median(e['LocustHttp']):.0f}")
        for build in "AB":
            print(f"  {build}/FastHttpUser {spread([p / q for p, q in zip(e[build], e['LocustFast'])])}  "
                  f"{build}/HttpUser {spread([p / q for p, q in zip(e[build], e['LocustHttp'])])}")
        print(f"  B/A {spread([p / q for p, q in zip(e['B'], e['A'])])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
