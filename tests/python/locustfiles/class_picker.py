"""Two user classes that name their requests after themselves, for --class-picker (Alpha has two
tasks, so that the per-class settings endpoint ``/user`` can keep one)."""

from locust import HttpUser, constant, task


class Alpha(HttpUser):
    wait_time = constant(0.2)

    @task
    def hit(self):
        self.client.get("/", name="from Alpha")

    @task
    def other(self):
        self.client.get("/", name="from Alpha other")


class Beta(HttpUser):
    wait_time = constant(0.2)

    @task
    def hit(self):
        self.client.get("/", name="from Beta")
