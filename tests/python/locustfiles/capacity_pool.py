# The demo target's connection-pool cliff: 10 concurrent requests are served, from the 11th on
# requests wait 300 ms and fail with 503. A capacity search must stop between 10 and 15 users.
from locust import HttpUser, constant, task


class PoolUser(HttpUser):
    wait_time = constant(0.01)

    @task
    def pool(self):
        self.client.get("/_insight/pool?size=10&hold_ms=20&timeout_ms=300", name="/_insight/pool")
