"""A user whose task raises, for the tests of worker exceptions reaching the master (runs on
Locust and locusta alike)."""

from locust import HttpUser, between, task


class FailingUser(HttpUser):
    wait_time = between(0.1, 0.2)

    @task
    def fails(self):
        self.client.get("/about/")
        raise ValueError("boom from the worker")
