"""examples/events.py: request, test_start, test_stop, init and spawning_complete listeners."""
from locust import HttpUser, constant, events, task

seen = set()


def mark(what):
    if what not in seen:
        seen.add(what)
        print(f"EXAMPLE {what}", flush=True)


@events.init.add_listener
def on_init(environment, **kw):
    mark("init")


@events.test_start.add_listener
def on_test_start(environment, **kw):
    mark("test_start")


@events.spawning_complete.add_listener
def on_spawned(user_count, **kw):
    mark(f"spawning_complete {user_count}")


@events.request.add_listener
def on_request(request_type, name, response_time, response_length, exception, context, **kw):
    mark(f"request {request_type} {name} {'fail' if exception else 'ok'}")


@events.test_stop.add_listener
def on_test_stop(environment, **kw):
    mark("test_stop")


@events.quitting.add_listener
def on_quitting(environment, **kw):
    mark("quitting")


class MyUser(HttpUser):
    wait_time = constant(0.1)

    @task
    def home(self):
        self.client.get("/")

    @task
    def missing(self):
        self.client.get("/_test/status/404")
