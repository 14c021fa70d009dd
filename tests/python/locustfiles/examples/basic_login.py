"""Locust's examples/basic.py and locustfile.py: tasks with weights, on_start login, a wait."""
from locust import HttpUser, between, task


class WebsiteUser(HttpUser):
    wait_time = between(0.05, 0.1)

    def on_start(self):
        self.client.post("/login", {"username": "ann", "password": "secret"})

    @task(2)
    def index(self):
        self.client.get("/")

    @task(1)
    def about(self):
        self.client.get("/about/")
