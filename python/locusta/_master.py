"""``--master`` with a Python locustfile: the master (dispatch, reports, outputs, web UI)
runs on a Rust thread (``_core.MasterLink``); this loop on the gevent hub gives the
locustfile Locust's master-side hooks: a :class:`MasterRunner` for ``init`` listeners,
custom messages both ways (``register_message`` / ``send_message``) and ``worker_report``
with each worker's stats report."""

import logging
import signal

import gevent

logger = logging.getLogger("locusta.main")


def run(link, env, api):
    """Runs the master behind ``link`` to its end; returns its exit code."""
    from .locust.runners import MasterRunner

    runner = MasterRunner(env)
    env.runner = runner
    runner._attach(link)
    api.events.init.fire(environment=env, runner=runner, web_ui=None)
    link.want_reports()
    # The Rust master handles Ctrl-C and SIGTERM itself (stop, collect the last reports,
    # write the outputs); Python's default SIGINT handler would raise KeyboardInterrupt here.
    previous = signal.signal(signal.SIGINT, lambda *_: None)
    try:
        link.start()
        while True:
            busy = _pump(link, runner, api)
            code = link.exit_code()
            if code is not None:
                _pump(link, runner, api)
                break
            gevent.sleep(0 if busy else 0.05)
    finally:
        signal.signal(signal.SIGINT, previous)
    api.events.quitting.fire(environment=env, reverse=True)
    api.events.quit.fire(exit_code=code)
    return code


def _pump(link, runner, api, limit=1000):
    """Delivers the queued custom messages and fires ``worker_report`` for the queued stats
    reports (at most ``limit`` of each per turn); returns whether more may be waiting."""
    n = 0
    while n < limit:
        message = link.poll_message()
        if message is None:
            break
        runner._deliver(*message)
        n += 1
    m = 0
    while m < limit:
        report = link.poll_report()
        if report is None:
            break
        client_id, data = report
        try:
            api.events.worker_report.fire(client_id=client_id, data=data)
        except Exception:
            logger.exception("worker_report listener failed")
        m += 1
    return n >= limit or m >= limit

