"""``locust.LoadTestShape``: a class whose ``tick()`` returns (users, spawn_rate) or None."""

import time


class LoadTestShapeMeta(type):
    def __new__(mcs, classname, bases, class_dict):
        class_dict["abstract"] = class_dict.get("abstract", False)
        return super().__new__(mcs, classname, bases, class_dict)


class LoadTestShape(metaclass=LoadTestShapeMeta):
    """Controls users and spawn rate over time; ``tick()`` is called about once a second."""

    runner = None
    abstract = True
    use_common_options = False

    def __init__(self):
        self._start_time = time.perf_counter()

    def reset_time(self):
        self._start_time = time.perf_counter()

    def get_run_time(self):
        return time.perf_counter() - self._start_time

    def get_current_user_count(self):
        return self.runner.user_count

    def tick(self):
        raise NotImplementedError()
