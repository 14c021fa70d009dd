# A greenlet killed while it waits for a response, which catches the kill and sends another
# request: it must get the response to that second request, never the late one to the first.
import gevent
from gevent import GreenletExit
from locust import HttpUser, constant, task


class Survivor(HttpUser):
    wait_time = constant(0)

    def killed_then_retries(self, got):
        try:
            self.client.get("/_test/delay?ms=200")  # the fast path
            got.append("the first request was not interrupted")
        except GreenletExit:
            resp = self.client.get("/_test/delay?ms=400", name="second")
            got.append(resp.json().get("delayed_ms"))

    @task
    def kill_one(self):
        got = []
        g = gevent.spawn(self.killed_then_retries, got)
        gevent.sleep(0.05)
        g.kill(block=False)
        g.join(timeout=3)
        with self.client.get("/", catch_response=True) as resp:
            if got != [400]:
                resp.failure(f"the killed greenlet got {got}")
