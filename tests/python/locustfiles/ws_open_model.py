"""A WebSocketUser whose iteration takes ~300 ms before a fast echo pair: under the open model
(--arrival-rate) with too few users, iterations start late and that delay counts in the pair's
response time, as it does for HTTP requests."""

import gevent
from locust import constant, task
from locust.contrib.websocket import WebSocketUser


class SlowIterations(WebSocketUser):
    wait_time = constant(0)

    def on_start(self):
        self.connect("/ws/echo", name="echo")

    @task
    def talk(self):
        gevent.sleep(0.3)
        self.ws.request("hi", name="pair")
