"""For test_otel.py: successes, a named request, a failing one, and one through the full
request path, against otlp_receiver.HeaderTarget."""

import logging

from locust import HttpUser, constant, task


class OtelUser(HttpUser):
    wait_time = constant(0.02)

    def on_start(self):
        logging.info("otel user starting")

    @task(3)
    def ok(self):
        self.client.get("/ok?x=1")

    @task(1)
    def named(self):
        self.client.get("/ok/123", name="/ok/[id]")

    @task(1)
    def fail(self):
        self.client.get("/fail")

    @task(1)
    def full_path(self):
        self.client.request("GET", "/ok/full", name="full", headers={"X-Test": "1"})
