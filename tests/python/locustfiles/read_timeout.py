# A request whose response takes 2 s, with timeout=0.3: it must fail after ~0.3 s as a timeout
# (the I/O runtime's timers must fire even when no socket wakes the hub).
from locust import HttpUser, constant, task


class Impatient(HttpUser):
    wait_time = constant(0)

    @task
    def slow(self):
        self.client.get("/_test/delay?ms=2000", timeout=0.3, name="slow")
