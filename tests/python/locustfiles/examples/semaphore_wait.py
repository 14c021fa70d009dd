"""examples/semaphore_wait.py: every user waits in on_start until all users are spawned."""
from gevent.lock import Semaphore
from locust import HttpUser, constant, events, task

all_users_spawned = Semaphore()
all_users_spawned.acquire()


@events.spawning_complete.add_listener
def on_spawned(**kw):
    print("EXAMPLE released", flush=True)
    all_users_spawned.release()


class UserThatWaits(HttpUser):
    wait_time = constant(0.05)

    def on_start(self):
        all_users_spawned.wait()

    @task
    def index(self):
        self.client.get("/")
