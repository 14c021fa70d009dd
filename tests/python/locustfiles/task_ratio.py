"""Classes with weights, a fixed count, weighted tasks and a nested TaskSet, for
--show-task-ratio, --show-task-ratio-json, --equal-weights, --config-users and --profile."""

from locust import HttpUser, TaskSet, constant, events, task


class Browse(TaskSet):
    @task(2)
    def listing(self):
        self.client.get("/products/")

    @task
    def stop(self):
        self.interrupt()


class Shopper(HttpUser):
    weight = 3
    wait_time = constant(0)
    tasks = {Browse: 1}

    @task(3)
    def home(self):
        self.client.get("/")

    @task
    def about(self):
        self.client.get("/about/")


class Admin(HttpUser):
    fixed_count = 1
    wait_time = constant(0)

    @task
    def dashboard(self):
        self.client.get("/admin/dashboard")


class Reader(HttpUser):
    weight = 1
    wait_time = constant(0)

    @task
    def item(self):
        self.client.get("/api/products/1", name="item")


@events.test_start.add_listener
def _(environment, **kw):
    print(f"PROFILE {environment.profile}", flush=True)
