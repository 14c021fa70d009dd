"""Locust's public API (``import locust``), running on the locusta engine.

Inside a locusta run, ``import locust`` resolves here through an import hook; the real Locust,
if installed, stays untouched and importable outside a run.
"""

import os

# As Locust: importing locust patches the standard library for gevent (scripts that use locust as
# a library, and pytest, rely on it), unless LOCUST_SKIP_MONKEY_PATCH is set.
if not os.getenv("LOCUST_SKIP_MONKEY_PATCH"):
    from gevent import monkey, queue

    monkey.patch_all()

    if not os.getenv("LOCUST_SKIP_URLLIB3_PATCH"):
        import urllib3

        urllib3.connectionpool.ConnectionPool.QueueCls = queue.LifoQueue

from .. import __version__  # noqa: E402,F401
from .event import Events
from .shape import LoadTestShape
from .user import wait_time
from .user.markov_taskset import MarkovTaskSet, transition, transitions
from .user.task import SequentialTaskSet, TaskSet, tag, task
from .user.users import HttpUser, User
from .user.wait_time import between, constant, constant_pacing, constant_throughput, poisson

events = Events()

from .contrib.fasthttp import FastHttpUser  # noqa: E402
from .debug import run_single_user  # noqa: E402
from .util.deprecation import DeprecatedHttpLocustClass as HttpLocust  # noqa: E402
from .util.deprecation import DeprecatedLocustClass as Locust  # noqa: E402

__all__ = (
    "FastHttpUser",
    "HttpLocust",
    "HttpUser",
    "LoadTestShape",
    "Locust",
    "MarkovTaskSet",
    "SequentialTaskSet",
    "TaskSet",
    "User",
    "__version__",
    "between",
    "constant",
    "constant_pacing",
    "constant_throughput",
    "events",
    "poisson",
    "run_single_user",
    "tag",
    "task",
    "transition",
    "transitions",
    "wait_time",
)
