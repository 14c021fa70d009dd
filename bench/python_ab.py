#!/usr/bin/env python3
"""Two builds of locusta side by side: requests per CPU-second of the same Python locustfiles
(HttpUser: examples/perf_one_get.py, FastHttpUser: examples/perf_one_get_fast.py) under an
interpreter with build A and one with build B, alternating within each round against one nginx
(one worker, core 0), generator pinned to core 1. Prints each round and the per-round ratio
B / A: how much a change costs or saves on the request path.

Install each build in its own venv (``maturin develop --release`` from each checkout, each with
its own CARGO_TARGET_DIR: cargo reuses a path crate's artifacts across checkouts of the same
workspace in one target directory).

Usage: bench/python_ab.py --a VENV_A/bin/python --b VENV_B/bin/python [--rounds 5] [--duration 10] [--users 20]
"""

import argparse
import statistics
import sys

from common import nginx
from python_throughput import EXAMPLES, run_tool


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--a", required=True, help="interpreter with build A (the baseline)")
    ap.add_argument("--b", required=True, help="interpreter with build B")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--duration", type=int, default=10, help="seconds per run")
    ap.add_argument("--users", type=int, default=20)
    ap.add_argument("--port", type=int, default=18093)
    args = ap.parse_args()
    files = {"HttpUser": EXAMPLES / "perf_one_get.py", "FastHttpUser": EXAMPLES / "perf_one_get_fast.py"}
    runs = {(build, kind): [] for kind in files for build in ("A", "B")}
    with nginx(args.port, 0) as url:
        for _ in range(args.rounds):
            for (build, kind), rows in runs.items():
                python = args.a if build == "A" else args.b
                rows.append(run_tool([python, "-m", "locusta"], files[kind], ["taskset", "-c", "1"], url,
                                     args.users, args.duration))
    for (build, kind), rows in runs.items():
        per_cpu = [r[0] / r[2] for r in rows]
        print(f"{build} {kind:<13} req/CPU-s per round: {', '.join(f'{x:.0f}' for x in per_cpu)} "
              f"(median {statistics.median(per_cpu):.0f})")
    for kind in files:
        ratios = [b[0] / b[2] / (a[0] / a[2]) for a, b in zip(runs[("A", kind)], runs[("B", kind)])]
        print(f"{kind}: B / A per round {', '.join(f'{x:.3f}' for x in ratios)} (median {statistics.median(ratios):.3f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
