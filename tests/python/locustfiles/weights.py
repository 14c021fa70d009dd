from locust import HttpUser, task, constant


class WeightUser(HttpUser):
    wait_time = constant(0)

    @task(3)
    def heavy(self):
        self.client.get("/about/")

    @task(1)
    def light(self):
        self.client.get("/products/")
