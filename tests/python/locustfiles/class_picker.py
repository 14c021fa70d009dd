"""Two user classes that name their requests after themselves, for --class-picker."""

from locust import HttpUser, constant, task


class Alpha(HttpUser):
    wait_time = constant(0.2)

    @task
    def hit(self):
        self.client.get("/", name="from Alpha")


class Beta(HttpUser):
    wait_time = constant(0.2)

    @task
    def hit(self):
        self.client.get("/", name="from Beta")
