"""A shape that names user classes: two users of B only, then a third with no list (the
restriction stays, as in Locust), then the end. A, first by name, must never run."""

from locust import HttpUser, LoadTestShape, constant, task


class A(HttpUser):
    wait_time = constant(0.1)

    @task
    def about(self):
        self.client.get("/about/")


class B(HttpUser):
    wait_time = constant(0.1)

    @task
    def products(self):
        self.client.get("/products/")


class OnlyB(LoadTestShape):
    def tick(self):
        t = self.get_run_time()
        if t < 1:
            return (2, 50, [B])
        if t < 2.5:
            return (3, 50)
        return None
