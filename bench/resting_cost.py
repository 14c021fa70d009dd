#!/usr/bin/env python3
"""CPU cost of resting users (python/locusta/locust/user/resting.py): --users plain ``User``s
with ``constant(--wait)`` and an empty task, run with users resting between tasks (the default)
and with ``LOCUSTA_USERS_REST=0`` (every user sleeps in its greenlet), one after the other,
--rounds times, pinned to core 1. Reports CPU µs per task (process user+system time over tasks
run) and the peak RSS, median and range over the rounds.

Usage: bench/resting_cost.py [--users 2000] [--wait 0.1] [--duration 8] [--rounds 3] [--locusta-python PY]
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile

LOCUSTFILE = '''
import resource
from locust import User, constant, events, task

WAIT = float(__import__("os").environ["RESTING_COST_WAIT"])
TASKS = [0]


class Idle(User):
    wait_time = constant(WAIT)

    @task
    def nothing(self):
        TASKS[0] += 1


@events.test_stop.add_listener
def _report(**kw):
    r = resource.getrusage(resource.RUSAGE_SELF)
    print(f"RESULT {TASKS[0]} {r.ru_utime + r.ru_stime} {r.ru_maxrss}", flush=True)
'''


def run(args, path, rest):
    env = {**os.environ, "LOCUSTA_USERS_REST": "1" if rest else "0", "RESTING_COST_WAIT": str(args.wait)}
    cmd = ["taskset", "-c", "1", args.locusta_python, "-m", "locusta", "-f", path, "--headless",
           "-u", str(args.users), "-r", str(args.users), "-t", f"{args.duration}s", "--only-summary", "-L", "WARNING"]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=args.duration + 120)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
    if not lines:
        raise SystemExit(f"no result (exit {proc.returncode}): {proc.stderr[-2000:]}")
    tasks, cpu, rss_kb = lines[-1].split()[1:]
    return int(tasks), float(cpu), int(rss_kb)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--users", type=int, default=2000)
    ap.add_argument("--wait", type=float, default=0.1)
    ap.add_argument("--duration", type=int, default=8)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--locusta-python", default=sys.executable)
    args = ap.parse_args()
    results = {True: [], False: []}
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "locustfile.py")
        with open(path, "w") as f:
            f.write(LOCUSTFILE)
        for _ in range(args.rounds):
            for rest in (True, False):
                results[rest].append(run(args, path, rest))
    print(f"{args.users} users, constant({args.wait}), {args.duration} s, {args.rounds} rounds")
    print(f"{'mode':<22} {'tasks':>9} {'CPU µs/task':>22} {'peak RSS MB':>20}")
    for rest, label in ((True, "resting (default)"), (False, "LOCUSTA_USERS_REST=0")):
        rows = results[rest]
        per_task = [cpu / tasks * 1e6 for tasks, cpu, _ in rows]
        rss = [r / 1024 for _, _, r in rows]
        print(f"{label:<22} {statistics.median(t for t, _, _ in rows):>9.0f} "
              f"{statistics.median(per_task):>8.1f} ({min(per_task):.1f}-{max(per_task):.1f}) "
              f"{statistics.median(rss):>9.1f} ({min(rss):.0f}-{max(rss):.0f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
