"""Sequential TaskSets (``locust.user.sequential_taskset``)."""

from .task import SequentialTaskSet, SequentialTaskSetMeta  # noqa: F401
