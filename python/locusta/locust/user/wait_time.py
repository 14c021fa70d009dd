"""Wait time functions (``locust.wait_time``): seconds a user waits after each task."""

import random
from time import perf_counter


def between(min_wait, max_wait):
    """A uniformly random wait between ``min_wait`` and ``max_wait`` seconds."""
    return lambda instance: min_wait + random.random() * (max_wait - min_wait)


def constant(wait_time):
    """Always ``wait_time`` seconds."""
    return lambda instance: wait_time


def constant_pacing(wait_time):
    """Waits so that a task starts every ``wait_time`` seconds (0 when a task overruns)."""

    def wait_time_func(self):
        ran = perf_counter() - self._cp_last_run - self._cp_last_wait_time
        self._cp_last_wait_time = max(0, wait_time - ran)
        self._cp_last_run = perf_counter()
        return self._cp_last_wait_time

    return wait_time_func


def constant_throughput(task_runs_per_second):
    """At most ``task_runs_per_second`` task runs per second per user."""
    if task_runs_per_second <= 0:
        raise ValueError(f"constant_throughput() requires a positive rate, got: {task_runs_per_second}")
    return constant_pacing(1 / task_runs_per_second)


def poisson(rate):
    """Exponentially distributed waits with mean ``1/rate``: Poisson arrivals of tasks."""
    if rate <= 0:
        raise ValueError(f"poisson() requires a positive rate, got: {rate}")
    return lambda instance: random.expovariate(rate)
