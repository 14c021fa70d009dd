"""Locust's ``usage_monitor`` event: every ``locust.runners.CPU_MONITOR_INTERVAL`` seconds
each runner (single process, master, worker) samples its process's CPU and memory use and
fires the event. The sampling is Rust's (the numbers a worker's heartbeat carries); the loop
is one greenlet per process, so it costs nothing per request."""

import gevent

from . import _core


def _interval():
    from .locust import runners

    try:
        return max(0.01, float(runners.CPU_MONITOR_INTERVAL))
    except (TypeError, ValueError):
        return 10.0


def _monitor(environment):
    meter = _core.UsageMeter()
    while True:
        gevent.sleep(_interval())
        cpu, memory = meter.sample()
        environment.events.usage_monitor.fire(environment=environment, cpu_usage=cpu, memory_usage=memory)


def start(environment):
    """Starts the monitor; returns its greenlet (kill it when the run ends)."""
    return gevent.spawn(_monitor, environment)
