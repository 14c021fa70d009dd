"""The gevent driver of a Python run: the same run controller as for Rust user classes
(``_core.Controller``, from ``locusta-run``), ticked on the gevent hub.

Each tick hands the controller a snapshot of the runner (a ``LocalRunner``, or a
``MasterRunner`` whose users run on workers) and carries out what it returns: start or
retarget the users, set the host, apply the web form's options, stop the users, tell the
``reset_stats`` listeners, quit. Everything else (ramps of a load shape, run time, thresholds,
capacity search, CSV files, the console or live view, the web UI, the master's rules about
workers, the final outputs) is the controller's, so it behaves as in a Rust run."""

import logging
import signal
import traceback

import gevent

from . import _secrets, _usage
from .locust.event import state as event_state

logger = logging.getLogger("locusta.main")


def shape_tick(shape):
    """Asks a ``LoadTestShape`` for its next step, as Locust's shape worker does: ``None``
    ends the test (a ``StopTest`` is logged, any other error too, and counts as an unhandled
    exception); a step is ``(users, spawn rate, class names or None)``."""
    from .locust.exception import StopTest

    try:
        tick = shape.tick()
    except StopTest as e:
        logger.error("%s", e)
        logger.warning("Stopping Locust...")
        return None
    except Exception:
        logging.getLogger("locusta.runners").critical("Unhandled exception in the load shape:\n%s", traceback.format_exc())
        event_state["unhandled_exception"] = True
        return None
    if tick is None:
        return None
    classes = None
    if len(tick) > 2 and tick[2] is not None:
        classes = [c if isinstance(c, str) else c.__name__ for c in tick[2]]
    return int(tick[0]), float(tick[1]), classes


def drive(controller, env, runner, parser):
    """Runs the test to its end; returns the exit code."""
    signals = []
    gevent.signal_handler(signal.SIGTERM, signals.append, "sigterm")
    gevent.signal_handler(signal.SIGINT, signals.append, "sigint")
    runner._driven = True
    monitor = _usage.start(env)
    try:
        while True:
            while signals:
                controller.interrupt(signals.pop(0))
            actions = controller.tick(runner._snapshot())
            if any(a[0] == "quit" for a in actions):
                break
            for action in actions:
                _apply(action, env, runner, parser)
            gevent.sleep(controller.next_tick())
    except KeyboardInterrupt:
        controller.interrupt("sigint")
    finally:
        monitor.kill(block=False)
    return _finish(controller, env, runner)


def _apply(action, env, runner, parser):
    kind = action[0]
    if kind == "spawn":
        _, users, rate, classes = action
        runner.start(users, rate, user_classes=classes)
    elif kind == "set_host":
        host = action[1]
        env.host = host
        if host:
            for cls in env.user_classes:
                cls.host = host
    elif kind == "apply_options":
        _apply_options(env, parser, action[1])
    elif kind == "stop":
        # In a greenlet of its own, so the UI keeps seeing "stopping" while users finish.
        gevent.spawn(runner.stop)
    elif kind == "stats_reset":
        env.events.reset_stats.fire()


def _apply_options(env, parser, values):
    """Form values for options the locustfile declared, converted as on the command line."""
    declared = parser.args_included_in_web_ui
    for dest, text in values:
        d = declared.get(dest)
        if d is None:
            continue
        if d.is_secret:
            _secrets.add(text)
        if not d.takes_value:
            value = text.lower() in ("true", "on", "1")
        else:
            try:
                value = d._convert(text)
            except Exception as e:  # a UsageError or the type's own error
                logger.error("Ignoring the form's value for %s: %s", dest, e)
                continue
        setattr(env.parsed_options, dest, value)


def _finish(controller, env, runner):
    """Locust's shutdown: on a signal the ``quitting`` listeners run and the exit code is
    decided while the users still run, otherwise the runner quits first; then every output."""
    # A second signal while users finish their tasks stops them at once.
    gevent.signal_handler(signal.SIGINT, runner._kill_users)
    gevent.signal_handler(signal.SIGTERM, runner._kill_users)
    signalled = controller.stop_reason() in ("Interrupted", "Terminated")
    if not signalled:
        runner.quit()
    env.events.quitting.fire(environment=env, reverse=True)
    code = controller.conclude(env.process_exit_code, event_state["unhandled_exception"])
    if signalled:
        runner.quit()
    code = controller.finish(code)
    env.events.quit.fire(exit_code=code)
    return code
