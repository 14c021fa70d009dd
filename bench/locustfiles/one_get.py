# Realistic benchmark 5 (issue 18), the reference: one GET per task, no wait (examples/perf_one_get.py).
from locust import HttpUser, constant, task


class OneGet(HttpUser):
    wait_time = constant(0)

    @task
    def index(self):
        self.client.get("/")
