"""``locust.user``: users, tasks and wait times."""

from .task import TaskSet, tag, task  # noqa: F401
from .users import HttpUser, User  # noqa: F401
