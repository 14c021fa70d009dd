"""bench/http2.py's Python user: GET / with no wait over HTTP/2 (h2c with prior knowledge)."""

from locust import FastHttpUser, task


class Http2Get(FastHttpUser):
    http2 = "prior-knowledge"

    @task
    def index(self):
        self.client.get("/")
