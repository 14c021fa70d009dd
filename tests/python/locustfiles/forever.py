from locust import HttpUser, constant, events, task


@events.quitting.add_listener
def on_quitting(environment, **kw):
    runner = environment.runner
    print("QUITTING", runner.state, runner.user_count, flush=True)


class U(HttpUser):
    wait_time = constant(0.05)

    @task
    def t(self):
        self.client.get("/")
        # Tells the test (cwd) that users are running, so it signals a run that has started.
        open("running", "a").close()
