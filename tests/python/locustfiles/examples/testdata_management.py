"""examples/testdata_management.py: data made in test_start, per-user data in on_start."""
from locust import HttpUser, constant, events, task

DATA = []


@events.test_start.add_listener
def make_data(environment, **kw):
    DATA.extend(range(1, 6))
    print(f"EXAMPLE data {len(DATA)}", flush=True)


class DataUser(HttpUser):
    wait_time = constant(0.05)

    def on_start(self):
        self.product = DATA[0]

    @task
    def product(self):
        self.client.get(f"/api/products/{self.product}", name="product with data")
