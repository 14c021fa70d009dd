import json

from locust import (HttpUser, SequentialTaskSet, TaskSet, between, constant, constant_pacing,
                    constant_throughput, events, poisson, tag, task)
from locust.exception import (CatchResponseError, InterruptTaskSet, LocustError, RescheduleTask,
                              RescheduleTaskImmediately, ResponseError, StopUser)

seen = {"events": [], "requests": 0}


@events.init.add_listener
def on_init(environment, **kw):
    seen["events"].append("init")


@events.test_start.add_listener
def on_start(environment, **kw):
    seen["events"].append("test_start")


@events.request.add_listener
def on_request(request_type, name, response_time, response_length, exception, **kw):
    seen["requests"] += 1


@events.test_stop.add_listener
def on_stop(environment, **kw):
    seen["events"].append("test_stop")


@events.quitting.add_listener
def on_quitting(environment, **kw):
    seen["events"].append("quitting")
    total = environment.stats.total
    report = {
        "events": seen["events"],
        "listener_requests": seen["requests"],
        "num_requests": total.num_requests,
        "num_failures": total.num_failures,
        "fail_ratio": round(total.fail_ratio, 3),
        "p50_positive": total.get_response_time_percentile(0.5) > 0,
        "avg_positive": total.avg_response_time > 0,
        "host": environment.host,
        "users_option": environment.parsed_options.num_users,
        "runner_user_count": environment.runner.user_count,
    }
    print("REPORT " + json.dumps(report))
    environment.process_exit_code = 3


class Seq(SequentialTaskSet):
    @task
    def first(self):
        self.client.get("/seq/1", name="seq1")

    @task
    def second(self):
        self.client.get("/seq/2", name="seq2")
        self.interrupt()


class Nested(TaskSet):
    @task
    def inner(self):
        self.client.get("/nested", name="nested")
        raise InterruptTaskSet(reschedule=False)


class ApiUser(HttpUser):
    wait_time = constant_pacing(0.05)
    tasks = {Seq: 1, Nested: 1}

    def on_start(self):
        self.client.headers.update({"X-Test": "yes"})
        r = self.client.post("/api/auth/login", json={"email": "a@b.c", "password": "x"})
        assert r.ok and r.status_code == 200 and "token" in r.json()
        assert r.headers["content-type"].startswith("application/json")
        assert r.elapsed.total_seconds() >= 0 and r.url.endswith("/api/auth/login")

    @tag("t")
    @task
    def crash(self):
        raise ValueError("boom in task")

    @task
    def raise_status(self):
        r = self.client.get("/_test/status/503", name="503")
        try:
            r.raise_for_status()
        except Exception as e:
            assert "503" in str(e)
        raise RescheduleTaskImmediately()

    @task
    def locust_error(self):
        try:
            self.client.get("/").success()
        except LocustError:
            pass
        with self.client.get("/", name="resp-error", catch_response=True) as r:
            raise ResponseError("bad")


class Waits(HttpUser):
    weight = 0
    fixed_count = 1
    wait_time = between(0.01, 0.02)

    @task
    def t(self):
        for wt in (constant(1), constant_throughput(10), poisson(5)):
            assert wt(self) >= 0
        self.client.get("/", name="waits")
        raise StopUser()
