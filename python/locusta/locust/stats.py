"""``environment.stats`` (``locust.stats``): Locust's RequestStats / StatsEntry attribute names
over the Rust statistics store, read on demand."""

import logging
import time

import gevent

from .clients import os_error_from_text, parse_error

_FIELDS = (
    "num_requests",
    "num_none_requests",
    "num_failures",
    "fail_ratio",
    "total_response_time",
    "avg_response_time",
    "min_response_time",
    "max_response_time",
    "median_response_time",
    "current_rps",
    "current_fail_per_sec",
    "total_rps",
    "total_fail_per_sec",
    "avg_content_length",
    "total_content_length",
    "start_time",
    "last_request_timestamp",
)

_ZERO = dict.fromkeys(_FIELDS, 0)
_ZERO["min_response_time"] = None
_ZERO["last_request_timestamp"] = None


class StatsEntry:
    """One (name, method) row, or the "Aggregated" total; every attribute is read live."""

    def __init__(self, core, name, method, total=False):
        self._core = core
        self.name = name
        self.method = method
        self._total = total

    def _data(self):
        if self._total:
            return self._core.total()
        return self._core.entry(self.name, self.method) or _ZERO

    def __getattr__(self, attr):
        if attr in _FIELDS:
            return self._data()[attr]
        raise AttributeError(attr)

    def to_dict(self):
        d = dict(self._data())
        d["name"] = self.name
        d["method"] = self.method
        return d

    def get_response_time_percentile(self, percent):
        """Response time (ms) below which ``percent`` (0..1) of the requests fall."""
        if self._total:
            return self._core.percentile(percent)
        return self._core.percentile(percent, self.name, self.method)

    def get_current_response_time_percentile(self, percent):
        """The same over the last ~10 seconds (None before there is data)."""
        if self._total:
            return self._core.current_percentile(percent)
        return self._core.current_percentile(percent, self.name, self.method)

    def percentile(self):
        raise NotImplementedError("use environment.stats tables printed by locusta")

    def __repr__(self):
        return f"<StatsEntry {self.method} {self.name}>"


class StatsError:
    """One row of the failures table."""

    def __init__(self, method, name, error, occurrences):
        self.method = method
        self.name = name
        #: As in Locust, the exception where the text names an OS error (``isinstance`` checks
        #: work), else the failure text.
        self.error = os_error_from_text(error) or error
        self._text = error
        self.occurrences = occurrences

    def to_name(self):
        return f"{self.method} {self.name}: {self._text}"


class RequestStats:
    """All entries, the total and the errors of a run."""

    def __init__(self, core):
        self._core = core
        self.total = StatsEntry(core, "Aggregated", "", total=True)
        #: Entries ``stats_history`` appends (Locust's chart history).
        self.history = []

    @property
    def entries(self):
        return {(d["name"], d["method"]): StatsEntry(self._core, d["name"], d["method"]) for d in self._core.entries()}

    @property
    def errors(self):
        return {f"{m} {n} {e}": StatsError(m, n, e, c) for (m, n, e, c) in self._core.errors()}

    def get(self, name, method):
        return StatsEntry(self._core, name, method)

    def log_request(self, method, name, response_time, content_length):
        self._core.record(method, name, response_time, content_length, None)

    def log_error(self, method, name, error):
        """Records a failed request (locusta counts the request and its failure together)."""
        self._core.record(method, name, None, 0, parse_error(error))

    @property
    def num_requests(self):
        return self.total.num_requests

    @property
    def num_failures(self):
        return self.total.num_failures

    @property
    def num_none_requests(self):
        return self.total.num_none_requests

    @property
    def last_request_timestamp(self):
        return self.total.last_request_timestamp

    @property
    def start_time(self):
        return self.total.start_time

    def reset_all(self):
        self._core.reset()

    def clear_all(self):
        self._core.reset()


# Helpers for scripts that run a test themselves (Locust's examples/use_as_lib.py).

#: Seconds between two tables of ``stats_printer``.
CONSOLE_STATS_INTERVAL_SEC = 2
#: Seconds between two entries of ``stats_history``.
HISTORY_STATS_INTERVAL_SEC = 5
#: Percentiles ``stats_history`` records, as Locust's charts.
PERCENTILES_TO_CHART = [0.5, 0.95]

console_logger = logging.getLogger("locust.stats_logger")


def get_stats_summary(stats, current=True):
    """The statistics table's lines (the ``current`` percentiles column for the last 10 s)."""
    return stats._core.stats_table(current).rstrip("\n").split("\n")


def print_stats(stats, current=True):
    """Logs the statistics table to ``locust.stats_logger``, then an empty line."""
    for line in get_stats_summary(stats, current):
        console_logger.info(line)
    console_logger.info("")


def stats_printer(stats):
    """A function for ``gevent.spawn`` that prints the table every
    ``CONSOLE_STATS_INTERVAL_SEC`` seconds."""

    def stats_printer_func():
        while True:
            print_stats(stats)
            gevent.sleep(CONSOLE_STATS_INTERVAL_SEC)

    return stats_printer_func


def update_stats_history(runner, timestamp=None):
    """Appends one entry (Locust's keys: ``[timestamp, value]`` pairs) to
    ``runner.stats.history``."""
    stats = runner.stats
    timestamp = timestamp or time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    total = stats.total
    entry = {
        f"response_time_percentile_{p}": [timestamp, total.get_current_response_time_percentile(p) or 0]
        for p in PERCENTILES_TO_CHART
    }
    entry.update({
        "current_rps": [timestamp, total.current_rps or 0],
        "current_fail_per_sec": [timestamp, total.current_fail_per_sec or 0],
        "total_avg_response_time": [timestamp, round(total.avg_response_time, 2)],
        "user_count": [timestamp, runner.user_count or 0],
        "time": timestamp,
    })
    stats.history.append(entry)


def stats_history(runner):
    """Runs forever (in a greenlet): every ``HISTORY_STATS_INTERVAL_SEC`` seconds while a test
    runs, one entry in ``runner.stats.history``."""
    while True:
        if runner.state not in ("ready", "stopped"):
            update_stats_history(runner)
        gevent.sleep(HISTORY_STATS_INTERVAL_SEC)
