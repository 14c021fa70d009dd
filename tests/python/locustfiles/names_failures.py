from locust import HttpUser, task, constant


class NamesUser(HttpUser):
    wait_time = constant(0.05)

    @task
    def plain(self):
        self.client.get("/products/")

    @task
    def named(self):
        self.client.get("/api/products/7", name="/api/products/[id]")

    @task
    def query(self):
        self.client.get("/api/products", params={"page": 2, "limit": 5})

    @task
    def not_found(self):
        self.client.get("/_test/status/404")

    @task
    def server_error(self):
        self.client.post("/_test/status/500", json={"a": 1})

    @task
    def caught_404_ok(self):
        with self.client.get("/_test/status/404", name="caught-404", catch_response=True) as r:
            if r.status_code == 404:
                r.success()

    @task
    def caught_200_fail(self):
        with self.client.get("/", name="caught-200", catch_response=True) as r:
            r.failure("wrong content")

    @task
    def renamed(self):
        with self.client.rename_request("grouped"):
            self.client.get("/about/")
