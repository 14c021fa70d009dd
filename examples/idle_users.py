# Memory benchmark locustfile: mostly idle users, one GET per task, between(1, 5).
from locust import HttpUser, between, task


class Idle(HttpUser):
    wait_time = between(1, 5)

    @task
    def index(self):
        self.client.get("/")
