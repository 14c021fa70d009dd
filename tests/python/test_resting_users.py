"""Users that rest between tasks without a greenlet (locust/user/resting.py): they must behave
as Locust's users that sleep in their greenlet, in every way a locustfile can see: counts,
``on_stop``, stopping and ramping down, ``user.greenlet``, context variables and
``threading.local`` values, nested TaskSets and task exceptions."""

import json
import textwrap
import time

# A sampler that every locustfile below shares: it records what the runner reports while the
# users run and prints one JSON line at test_stop.
SAMPLER = """
import gc, json, threading, contextvars, time
import gevent, greenlet
from locust import LoadTestShape, User, TaskSet, task, constant, events
from locust.exception import StopUser

REPORT = {"user_count": [], "counted": [], "greenlets": [], "on_stop": 0, "violations": [],
          "tasks": {}, "distinct_greenlets": []}
_env = []
_sampling = []


@events.init.add_listener
def _init(environment, **kw):
    _env.append(environment)


@events.spawning_complete.add_listener
def _sample(user_count, **kw):
    if _sampling:
        return
    _sampling.append(True)

    def sample():
        runner = _env[0].runner
        while _sampling[0]:
            REPORT["user_count"].append(runner.user_count)
            REPORT["counted"].append(len(runner.user_greenlets))
            REPORT["greenlets"].append(len(runner.user_greenlets.greenlets))
            gevent.sleep(0.05)

    gevent.spawn(sample)


@events.test_stopping.add_listener
def _stop_sampling(**kw):
    if _sampling:
        _sampling[0] = False
    REPORT["live_greenlets"] = sum(
        1 for o in gc.get_objects() if isinstance(o, greenlet.greenlet) and o and not o.dead)


@events.test_stop.add_listener
def _report(**kw):
    print("REPORT " + json.dumps(REPORT), flush=True)


def count_task(user, name):
    REPORT["tasks"][name] = REPORT["tasks"].get(name, 0) + 1
"""


def write(tmp_path, body):
    path = tmp_path / "locustfile.py"
    path.write_text(SAMPLER + textwrap.dedent(body))
    return str(path)


def report(run):
    assert run.code == 0, run.stderr[-3000:]
    assert "Traceback" not in run.stderr, run.stderr[-3000:]
    lines = [line for line in run.stdout.splitlines() if line.startswith("REPORT ")]
    assert lines, run.stdout[-2000:] + run.stderr[-2000:]
    return json.loads(lines[-1][len("REPORT "):])


RESTING = """
class Rester(User):
    wait_time = constant(0.2)

    def on_start(self):
        self.seen = set()

    @task
    def work(self):
        self.seen.add(id(gevent.getcurrent()))
        count_task(self, "work")

    def on_stop(self):
        REPORT["on_stop"] += 1
        REPORT["distinct_greenlets"].append(len(self.seen))
"""


def test_waiting_users_hold_no_greenlet_and_still_count(tmp_path, run_locustfile):
    run = run_locustfile(write(tmp_path, RESTING), None, users=400, rate=2000, time_s="3s")
    rep = report(run)
    # every sample after the ramp counts all 400 users, in user_count and len(user_greenlets)
    assert set(rep["user_count"]) == {400}, rep["user_count"]
    assert set(rep["counted"]) == {400}, rep["counted"]
    # ...while almost none of them has a greenlet (they rest 0.2 s after an instant task)
    assert max(rep["greenlets"]) <= 20, rep["greenlets"]
    # the process holds fewer live greenlets than users: the users' first greenlets wait in
    # the pool (at most 256) for the users that wake
    assert rep["live_greenlets"] < 300, rep["live_greenlets"]
    # users ran their tasks in greenlets that other users had run in, and every on_stop ran
    assert rep["on_stop"] == 400
    assert max(rep["distinct_greenlets"]) >= 2, rep["distinct_greenlets"]
    assert rep["tasks"]["work"] >= 400 * 8, rep["tasks"]


def test_users_rest_turned_off_keep_one_greenlet_each(tmp_path, run_locustfile):
    run = run_locustfile(write(tmp_path, RESTING), None, users=400, rate=2000, time_s="3s",
                         env={"LOCUSTA_USERS_REST": "0"})
    rep = report(run)
    assert set(rep["counted"]) == {400}
    assert min(rep["greenlets"]) == 400
    assert rep["live_greenlets"] >= 400
    assert set(rep["distinct_greenlets"]) == {1}
    assert rep["on_stop"] == 400


COMPAT = """
cv = contextvars.ContextVar("cv", default=None)
local = threading.local()


class Pinned(User):
    # reads self.greenlet: it keeps that one greenlet for its life, as in Locust
    fixed_count = 5
    wait_time = constant(0.15)

    def on_start(self):
        self.g = self.greenlet

    @task
    def work(self):
        count_task(self, "pinned")
        if gevent.getcurrent() is not self.g or self.g.dead or self.greenlet is not self.g:
            REPORT["violations"].append("pinned greenlet changed")


class Context(User):
    fixed_count = 5
    wait_time = constant(0.15)

    def on_start(self):
        self.n = 0
        cv.set((id(self), 0))

    @task
    def work(self):
        count_task(self, "context")
        if cv.get() != (id(self), self.n):
            REPORT["violations"].append(f"context var lost: {cv.get()} after {self.n} tasks")
        self.n += 1
        cv.set((id(self), self.n))


class Local(User):
    fixed_count = 5
    wait_time = constant(0.15)

    def on_start(self):
        local.owner = id(self)

    @task
    def work(self):
        count_task(self, "local")
        if getattr(local, "owner", None) != id(self):
            REPORT["violations"].append("threading.local value lost")


class Later(User):
    # asks for its greenlet while resting (from another greenlet): wakes into it, on time
    fixed_count = 5
    wait_time = constant(0.5)

    def on_start(self):
        self.times = []
        gevent.spawn_later(0.3, self.peek)

    def peek(self):
        self.g = self.greenlet

    @task
    def work(self):
        count_task(self, "later")
        self.times.append(time.monotonic())
        if len(self.times) > 1:
            gap = self.times[-1] - self.times[-2]
            if not 0.45 < gap < 1.5:  # (a loaded machine may be late, never early)
                REPORT["violations"].append(f"wait of 0.5 s took {gap:.3f} s")
        if hasattr(self, "g") and gevent.getcurrent() is not self.g:
            REPORT["violations"].append("woke outside its pinned greenlet")
"""


def test_greenlet_context_vars_and_thread_locals_stay_with_the_user(tmp_path, run_locustfile):
    run = run_locustfile(write(tmp_path, COMPAT), None, users=20, rate=400, time_s="3s")
    rep = report(run)
    assert rep["violations"] == []
    for name in ("pinned", "context", "local", "later"):
        assert rep["tasks"][name] >= 5 * 4, rep["tasks"]


STOPPING = """
class Slow(User):
    wait_time = constant(1.5)

    @task
    def work(self):
        count_task(self, "work")

    def on_stop(self):
        REPORT["on_stop"] += 1
"""

SHAPE = """
class Shape(LoadTestShape):
    def tick(self):
        t = self.get_run_time()
        if t < 1.5:
            return (30, 300)
        if t < 3.5:
            return (10, 300)
        return None
"""


def test_ramp_down_and_stop_end_resting_users_with_on_stop(tmp_path, run_locustfile):
    started = time.monotonic()
    run = run_locustfile(write(tmp_path, STOPPING + SHAPE), None, users=0, rate=1, time_s="20s", timeout=60)
    elapsed = time.monotonic() - started
    rep = report(run)
    # 30 users, 20 stopped by the ramp-down (they rest: stopped at once), 10 at the end
    assert rep["on_stop"] == 30
    assert rep["user_count"][-1] == 10, rep["user_count"]
    assert 10 in rep["counted"] and max(rep["counted"]) <= 30
    assert elapsed < 12, elapsed


def test_stop_timeout_does_not_wait_for_resting_users(tmp_path, run_locustfile):
    started = time.monotonic()
    run = run_locustfile(write(tmp_path, STOPPING), None, "--stop-timeout", "10", users=20, rate=400, time_s="2s")
    elapsed = time.monotonic() - started
    rep = report(run)
    assert rep["on_stop"] == 20
    # the users rest 1.5 s between instant tasks: a waiting user is stopped at once, as in Locust
    assert elapsed < 9, elapsed


NESTED = """
class Browse(TaskSet):
    wait_time = constant(0.12)

    @task
    def page(self):
        count_task(self, "nested")
        self.pages = getattr(self, "pages", 0) + 1
        if self.pages >= 3:
            self.interrupt()


class Mixed(User):
    wait_time = constant(0.12)
    tasks = {Browse: 1}

    @task(3)
    def fail(self):
        self.rounds = getattr(self, "rounds", 0) + 1
        if self.rounds >= 5:
            count_task(self, "stopped")
            raise StopUser()
        count_task(self, "raised")
        raise ValueError("a task that fails")
"""


def test_nested_tasksets_task_exceptions_and_stop_user_across_rests(tmp_path, run_locustfile):
    run = run_locustfile(write(tmp_path, NESTED), None, users=10, rate=400, time_s="4s")
    assert run.code in (0, 1), run.stderr[-3000:]
    lines = [line for line in run.stdout.splitlines() if line.startswith("REPORT ")]
    rep = json.loads(lines[-1][len("REPORT "):])
    assert rep["tasks"]["nested"] >= 10, rep["tasks"]
    assert rep["tasks"]["raised"] >= 10, rep["tasks"]
    # StopUser after a rest ends the user: all ten are gone before the end
    assert rep["tasks"].get("stopped") == 10, rep["tasks"]
    assert rep["user_count"][-1] == 0, rep["user_count"]
    assert "a task that fails" in run.stderr


SEQUENCES = """
from locust import SequentialTaskSet

LOGS = {}


def log(user, what):
    LOGS.setdefault(user._n, []).append(what)


class Checkout(SequentialTaskSet):
    def on_start(self):
        log(self.user, "checkout.start")

    @task
    def cart(self):
        log(self.user, "cart")
        self.user.carts += 1
        if self.user.carts == FAIL_AT:
            raise ValueError("second cart fails")

    @task
    def pay(self):
        log(self.user, "pay")
        self.interrupt(reschedule=False)

    def on_stop(self):
        log(self.user, "checkout.stop")


class Browse(SequentialTaskSet):
    def on_start(self):
        log(self.user, "browse.start")

    def listing(self):
        log(self.user, "list")

    def leave(self):
        log(self.user, "leave")
        self.user.leaves += 1
        if self.user.leaves == LEAVES:
            raise StopUser()
        self.interrupt()

    tasks = [listing, Checkout, leave]

    def on_stop(self):
        log(self.user, "browse.stop")


COUNT = [0]


class Shopper(User):
    wait_time = constant(0.1)
    tasks = [Browse]

    def on_start(self):
        self._n = COUNT[0]
        COUNT[0] += 1
        self.carts = self.leaves = 0
        log(self, "user.start")

    def on_stop(self):
        log(self, "user.stop")


@events.test_stop.add_listener
def _print_logs(**kw):
    print("LOGS " + json.dumps(LOGS), flush=True)
"""


def sequences(run):
    # exit code 1: the task exception of each user's second cart
    assert run.code in (0, 1), run.stderr[-3000:]
    assert "Unhandled exception" not in run.stderr, run.stderr[-3000:]
    line = [line for line in run.stdout.splitlines() if line.startswith("LOGS ")][-1]
    return json.loads(line[len("LOGS "):])


def test_nested_tasksets_run_the_same_sequence_resting_or_not(tmp_path, run_locustfile):
    """Users that stop themselves after three rounds of nested SequentialTaskSets (interrupts,
    a task exception, StopUser) log the same calls whether they rest in their waits or not."""
    body = SEQUENCES.replace("LEAVES", "3").replace("FAIL_AT", "2")
    runs = {}
    for rest in ("1", "0"):
        run = run_locustfile(write(tmp_path, body), None, users=20, rate=400, time_s="5s",
                             env={"LOCUSTA_USERS_REST": rest})
        runs[rest] = sequences(run)
        assert "second cart fails" in run.stderr
    expected = (["user.start"] + ["browse.start", "list", "checkout.start", "cart", "pay", "checkout.stop", "leave",
                                  "browse.stop"] * 3)
    expected[-1:] = ["browse.stop", "user.stop"]
    for rest, logs in runs.items():
        assert len(logs) == 20
        for calls in logs.values():
            # the second cart raised: the checkout carried on with pay after its wait
            assert calls == expected, (rest, calls)


def test_users_stopped_while_resting_in_a_nested_taskset_unwind_it(tmp_path, run_locustfile):
    """Stopped by the end of the run wherever they rest, users leave their TaskSets in order:
    each on_stop of an open TaskSet, innermost first, then the user's."""
    # (no task exception here: see the next test for a stop in the wait that follows one)
    body = SEQUENCES.replace("LEAVES", "10**9").replace("FAIL_AT", "-1") + "\nfrom locust import between\nShopper.wait_time = between(0.1, 0.5)\n"
    run = run_locustfile(write(tmp_path, body), None, users=30, rate=400, time_s="2s")
    logs = sequences(run)
    assert len(logs) == 30
    inside_checkout = 0
    for calls in logs.values():
        stack = []
        for call in calls:
            if call.endswith(".start"):
                stack.append(call[: -len(".start")])
            elif call.endswith(".stop"):
                assert stack and stack[-1] == call[: -len(".stop")], calls
                stack.pop()
        assert stack == [], calls
        inside_checkout += calls[-3:] == ["checkout.stop", "browse.stop", "user.stop"]
    # the users were stopped at various points, some of them resting inside Checkout
    assert inside_checkout > 0


CRASH = """
LOGS = {}
COUNT = [0]


def log(user, what):
    LOGS.setdefault(user._n, []).append(what)


class Crash(TaskSet):
    def on_start(self):
        log(self.user, "crash.start")

    @task
    def boom(self):
        log(self.user, "crash.task")
        if self.user._n % 2 == 0:
            raise ValueError("boom")

    def on_stop(self):
        log(self.user, "crash.stop")


class Shopper(User):
    wait_time = constant(5)
    tasks = [Crash]

    def on_start(self):
        self._n = COUNT[0]
        COUNT[0] += 1
        log(self, "user.start")

    def on_stop(self):
        log(self, "user.stop")


@events.test_stop.add_listener
def _print_logs(**kw):
    print("LOGS " + json.dumps(LOGS), flush=True)
"""


def test_a_stop_in_the_wait_after_a_task_exception_skips_on_stop_as_in_locust(tmp_path, run_locustfile, real_locust):
    """Locust waits after a task's exception inside its exception handler, so a user killed in
    that wait leaves the TaskSet without its on_stop; resting users do the same."""
    locustfile = write(tmp_path, CRASH)
    logs = {}
    for name, cmd, env in (("locust", real_locust, None), ("resting", None, {"LOCUSTA_USERS_REST": "1"}),
                           ("greenlets", None, {"LOCUSTA_USERS_REST": "0"})):
        run = run_locustfile(locustfile, None, users=4, rate=100, time_s="1s", cmd=cmd, env=env)
        assert run.code in (0, 1), run.stderr[-3000:]
        logs[name] = json.loads([line for line in run.stdout.splitlines() if line.startswith("LOGS ")][-1][5:])
    assert logs["locust"]["0"] == ["user.start", "crash.start", "crash.task", "user.stop"]
    assert logs["locust"]["1"] == ["user.start", "crash.start", "crash.task", "crash.stop", "user.stop"]
    assert logs["resting"] == logs["locust"]
    assert logs["greenlets"] == logs["locust"]
