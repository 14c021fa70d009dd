# Used by test_web_api.py: the real Locust's web UI is compared with locusta's on this file's
# shape of traffic (one class, a succeeding and a failing endpoint, a task error).
from locust import HttpUser, constant, task


class WebsiteUser(HttpUser):
    wait_time = constant(0.1)

    @task(3)
    def index(self):
        self.client.get("/")

    @task
    def maintenance(self):
        self.client.get("/_test/status/503", name="/maintenance")
