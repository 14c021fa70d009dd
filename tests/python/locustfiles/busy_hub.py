# One user keeps the gevent hub busy (a CPU-bound 100 ms without yielding) while the other
# waits for a response the target delays by 10 ms: that response arrives during the busy spell
# and is read only after it, yet its response time must stay near 10 ms (the kernel's receive
# time ends it, not the late read).
import time

from locust import HttpUser, constant, task


class Slow(HttpUser):
    wait_time = constant(0)

    @task
    def delayed(self):
        self.client.get("/_test/delay?ms=10", name="delayed")


class Busy(HttpUser):
    wait_time = constant(0)

    @task
    def hog(self):
        self.client.get("/_test/status/200", name="fast")
        end = time.perf_counter() + 0.1
        while time.perf_counter() < end:
            pass
