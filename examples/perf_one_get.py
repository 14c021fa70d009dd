# Throughput benchmark locustfile: one GET per task, no wait (HttpUser, constant(0)).
from locust import HttpUser, constant, task


class OneGet(HttpUser):
    wait_time = constant(0)

    @task
    def index(self):
        self.client.get("/")
