"""bench/websocket_bench.py: locusta's WebSocketUser. WS_BENCH=echo (default): request/response pairs
back to back on /ws/echo; WS_BENCH=idle: connect, then a ping a minute."""

import os

from locust import constant, task
from locust.contrib.websocket import WebSocketUser

IDLE = os.environ.get("WS_BENCH") == "idle"


class WsUser(WebSocketUser):
    wait_time = constant(60 if IDLE else 0)

    def on_start(self):
        self.connect("/ws/echo", name="echo", recv_timeout=10)

    @task
    def work(self):
        if IDLE:
            self.ws.ping()
        else:
            self.ws.request("hello", match=lambda m: m == "hello", name="echo pair")
