"""examples/nested_inline_tasksets.py: a TaskSet nested inline, left with interrupt()."""
from locust import HttpUser, TaskSet, constant, task


class WebsiteUser(HttpUser):
    wait_time = constant(0.05)

    @task(2)
    class Browse(TaskSet):
        @task(3)
        def products(self):
            self.client.get("/products/")

        @task(1)
        def leave(self):
            self.interrupt()

    @task(1)
    def home(self):
        self.client.get("/")
