"""examples/add_command_line_argument.py: an option declared by the locustfile, used in tasks."""
from locust import HttpUser, constant, events, task


@events.init_command_line_parser.add_listener
def _(parser):
    parser.add_argument("--product-id", type=int, default=1, help="which product to fetch")


@events.test_start.add_listener
def _(environment, **kw):
    print(f"EXAMPLE product-id {environment.parsed_options.product_id}", flush=True)


class WebsiteUser(HttpUser):
    wait_time = constant(0.05)

    @task
    def product(self):
        self.client.get(f"/api/products/{self.environment.parsed_options.product_id}", name="product")
