"""examples/custom_wait_function.py: wait_time as a method and as a plain function."""
import random

from locust import HttpUser, task


def tiny_wait(user):
    return random.uniform(0.01, 0.05)


class MethodWait(HttpUser):
    @task
    def home(self):
        self.client.get("/", name="method-wait")

    def wait_time(self):
        return 0.02


class FunctionWait(HttpUser):
    wait_time = tiny_wait

    @task
    def home(self):
        self.client.get("/", name="function-wait")
