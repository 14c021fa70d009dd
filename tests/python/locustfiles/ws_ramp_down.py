"""WebSocket users parked in ``recv()`` without a time limit, removed by a load shape's
ramp-down: their connections must end when they stop (the demo target counts open WebSockets).
The shape prints CHECK lines that tests/python/test_cancel.py reads."""

import json
import time
import urllib.request

import gevent
from locust import LoadTestShape, constant, task
from locust.contrib.websocket import WebSocketUser

USERS = 3
host = []


def open_websockets():
    with urllib.request.urlopen(f"{host[0]}/_test/stats", timeout=5) as resp:
        return json.load(resp)["websockets_open"]


class Parked(WebSocketUser):
    wait_time = constant(1)

    def on_start(self):
        host[:] = [self.host]
        self.connect("/ws/echo", name="echo")

    @task
    def wait_for_ever(self):
        self.ws.recv()


class UpThenDown(LoadTestShape):
    """USERS users for 1.5 s, then none for 3 s; checks the open connections on the way (at the
    ticks after each change: a tick's answer is applied once it returns)."""

    checked = set()

    def tick(self):
        t = self.get_run_time()
        if t < 1.5:
            if t > 0.5 and host and "running" not in self.checked:
                self.checked.add("running")
                print(f"CHECK open_running={open_websockets()}", flush=True)
            return (USERS, 50)
        if t < 4.5:
            if t > 2.2 and "after" not in self.checked:
                self.checked.add("after")
                started = time.monotonic()
                while open_websockets() and time.monotonic() - started < 1.0:
                    gevent.sleep(0.01)
                print(f"CHECK open_after={open_websockets()}", flush=True)
            return (0, 50)
        return None
