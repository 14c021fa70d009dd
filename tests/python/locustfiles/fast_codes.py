from locust import FastHttpUser, constant, task


class F(FastHttpUser):
    wait_time = constant(0.05)

    @task
    def t(self):
        for code in (200, 205, 209, 304, 404, 500):
            self.client.get(f"/_test/status/{code}")
        self.client.get("/products/?x=1")
        with self.rest("POST", "/api/auth/login", json={"email": "u@example.com", "password": "p"}) as r:
            assert r.js is not None
