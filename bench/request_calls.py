#!/usr/bin/env python3
"""CPU per request of single `HttpSession` calls (the request path a locustfile's line takes):
one process pinned to core 1, 50 greenlets each with its own session, against bench/realistic.py's
shop nginx (core 0); per call, the best of 5 x 20,000 requests by `time.process_time()`. Run it
with two builds one after the other to see what a change to the request path costs or saves.

Usage: bench/request_calls.py [--python VENV/bin/python] [CALL ...]   (calls: see --help)
"""

import argparse
import subprocess
import sys
import textwrap

from common import nginx
from realistic import shop_locations

# Runs inside the measured interpreter: `python - URL CALL...`.
MEASURE = textwrap.dedent('''
    import sys, time
    import gevent
    from locusta import _importhook
    _importhook.install()
    from locust.clients import HttpSession
    from locust.env import Environment
    from locust.event import Events

    URL, NAMES = sys.argv[1], sys.argv[2:]
    USERS, PER_USER, ROUNDS = 50, 400, 5
    env = Environment(events=Events())
    env.create_local_runner()

    def get_name(c):
        c.get("/api/products/7", name="/api/products/[id]")

    def catch_get(c):
        with c.get("/api/products/7", name="/api/products/[id]", catch_response=True) as r:
            r.success()

    def catch_get_json(c):
        with c.get("/api/products/7", name="/api/products/[id]", catch_response=True) as r:
            if r.json().get("name"):
                r.success()

    def post_json(c):
        c.post("/api/cart/items", json={"product_id": 7, "quantity": 1})

    def catch_post_json(c):
        with c.post("/api/orders", json={"payment_method": "test"}, catch_response=True) as r:
            if r.status_code == 201:
                r.success()
            else:
                r.failure("unexpected status")

    def get_headers(c):
        c.get("/api/products/7", name="/api/products/[id]", headers={"Authorization": "Bearer x"})

    CALLS = {f.__name__: f for f in [get_name, catch_get, catch_get_json, post_json, catch_post_json, get_headers]}
    sessions = [HttpSession(URL, request_event=env.events.request, user=None) for _ in range(USERS)]

    def user(c, f, n):
        for _ in range(n):
            f(c)

    for name in NAMES or list(CALLS):
        f = CALLS[name]
        gevent.joinall([gevent.spawn(user, c, f, 20) for c in sessions])  # warm-up
        best = None
        for _ in range(ROUNDS):
            t = time.process_time()
            gevent.joinall([gevent.spawn(user, c, f, PER_USER) for c in sessions])
            us = (time.process_time() - t) / (USERS * PER_USER) * 1e6
            best = us if best is None else min(best, us)
        print(f"{name:<18} {best:6.1f} µs/request", flush=True)
    print("failures:", sum(e.num_failures for e in env.stats.entries.values()))
''')

CALLS = "get_name, catch_get, catch_get_json, post_json, catch_post_json, get_headers"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__ + f"\ncalls: {CALLS}",
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--python", default=sys.executable, help="interpreter with locusta installed")
    ap.add_argument("--port", type=int, default=18123)
    ap.add_argument("calls", nargs="*")
    args = ap.parse_args()
    with nginx(args.port, 0, locations=shop_locations()) as url:
        return subprocess.run(["taskset", "-c", "1", args.python, "-", url, *args.calls], input=MEASURE,
                              text=True).returncode


if __name__ == "__main__":
    sys.exit(main())
