# A 300 ms endpoint and a pool of 2 users: at 20 iterations per second most iterations start
# late, and the open model adds each start delay to the response time.
from locust import HttpUser, constant, task


class Slow(HttpUser):
    wait_time = constant(0)

    @task
    def slow(self):
        self.client.get("/_test/delay?ms=300", name="slow")
