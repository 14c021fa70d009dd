import time

from locust import User, constant, events, task

count = {"n": 0}


@events.quitting.add_listener
def report(environment, **kw):
    print(f"SLEEPS {count['n']}")


class Sleeper(User):
    wait_time = constant(0)

    @task
    def t(self):
        time.sleep(0.25)  # monkey-patched: yields to the other users
        count["n"] += 1
