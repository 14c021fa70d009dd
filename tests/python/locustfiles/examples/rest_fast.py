"""examples/rest.py and fast_http_locust.py: FastHttpUser and its rest() helper."""
from locust import FastHttpUser, constant, task


class RestUser(FastHttpUser):
    wait_time = constant(0.05)

    @task
    def product(self):
        with self.rest("GET", "/api/products/3") as resp:
            if resp.js is None or resp.js.get("id") != 3:
                resp.failure("unexpected body")

    @task
    def echo(self):
        with self.rest("POST", "/_test/echo", json={"x": 1}, name="echo") as resp:
            if resp.js is None:
                resp.failure("no json")

    @task
    def missing(self):
        self.client.get("/_test/status/404")
