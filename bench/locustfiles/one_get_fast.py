# Twin of one_get.py for FastHttpUser (examples/perf_one_get_fast.py).
from locust import FastHttpUser, constant, task


class OneGet(FastHttpUser):
    wait_time = constant(0)

    @task
    def index(self):
        self.client.get("/")
