# One user, several greenlets sharing self.client: each response must reach the greenlet that
# sent its request (checked through the delay the target echoes back), while other users'
# responses arrive in between.
import gevent
from locust import HttpUser, constant, task


class Fanout(HttpUser):
    wait_time = constant(0)

    def fetch(self, ms):
        with self.client.get(f"/_test/delay?ms={ms}", name="/delay", catch_response=True) as resp:
            if resp.json().get("delayed_ms") != ms:
                resp.failure(f"got the response for {resp.json()} instead of {ms} ms")

    @task
    def fan_out(self):
        gevent.joinall([gevent.spawn(self.fetch, ms) for ms in (1, 3, 5, 7)])
        self.client.get("/")
