"""bench/websocket_bench.py: the same user as ws_locusta.py the way Locust users write it today: a
plain Locust User with python `websocket-client` (its socket made cooperative by gevent's
monkey patching) and `events.request` fired by hand."""

import os
import time

import websocket
from locust import User, constant, task

IDLE = os.environ.get("WS_BENCH") == "idle"


class WsUser(User):
    wait_time = constant(60 if IDLE else 0)

    def on_start(self):
        url = self.host.replace("http://", "ws://", 1) + "/ws/echo"
        start = time.perf_counter()
        self.ws = websocket.create_connection(url, timeout=10)
        self.fire("WS", "echo", start, 0)

    def fire(self, kind, name, start, length, exception=None):
        self.environment.events.request.fire(
            request_type=kind,
            name=name,
            response_time=(time.perf_counter() - start) * 1000,
            response_length=length,
            exception=exception,
            context={},
        )

    @task
    def work(self):
        start = time.perf_counter()
        if IDLE:
            self.ws.ping()
            self.fire("WSP", "echo", start, 0)
            return
        self.ws.send("hello")
        while True:
            reply = self.ws.recv()
            if reply == "hello":
                break
        self.fire("WS", "echo pair", start, len(reply))
