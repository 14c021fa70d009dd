# The same benchmark with FastHttpUser (for comparing against Locust's fastest client).
from locust import FastHttpUser, constant, task


class OneGet(FastHttpUser):
    wait_time = constant(0)

    @task
    def index(self):
        self.client.get("/")
