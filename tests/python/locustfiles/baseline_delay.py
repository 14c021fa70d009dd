"""Two endpoints on the demo target's /_test/delay: /steady at 5 ms and /changing at
LOCUSTA_TEST_CHANGING_MS (default 5), so a second run can slow one endpoint down on purpose."""

import os

from locust import HttpUser, constant, task

CHANGING_MS = int(os.environ.get("LOCUSTA_TEST_CHANGING_MS", "5"))


class Client(HttpUser):
    wait_time = constant(0.01)

    @task
    def steady(self):
        self.client.get("/_test/delay?ms=5", name="/steady")

    @task
    def changing(self):
        self.client.get(f"/_test/delay?ms={CHANGING_MS}", name="/changing")
