"""bench/http2.py --streams N, the Python user: each task sends N GETs at once from gevent
greenlets and waits for all of them; with HTTP/2 they are N streams of the user's one connection
(as `h2load -m N`). N from H2_STREAMS (default 10)."""

import os

import gevent
from locust import FastHttpUser, task

STREAMS = int(os.environ.get("H2_STREAMS", "10"))


class Http2Streams(FastHttpUser):
    http2 = "prior-knowledge"

    @task
    def fan_out(self):
        gevent.joinall([gevent.spawn(self.client.get, "/") for _ in range(STREAMS)])
