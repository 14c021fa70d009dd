"""The web UI for Python locustfiles (``locusta -f locustfile.py`` without ``--headless``).

The server is Rust (``_core.WebUi``, the same server as for Rust user classes) on its own
thread, reading the run's statistics directly. This gevent loop carries out what the UI asks:
``/swarm`` starts or retargets the test on the greenlet runner, ``/stop`` stops it,
``/stats/reset`` tells the ``reset_stats`` listeners; it publishes the runner's state, honours a
run time from the form, ``--autostart`` and ``--autoquit``, writes ``--csv`` files, answers
``/stats/report``, and on Ctrl-C or SIGTERM ends with the headless run's final outputs."""

import inspect
import json
import logging
import os
import signal
import sys
import time

import gevent

from . import _core, _secrets

logger = logging.getLogger("locusta.main")

_STATES = {"cleanup": "stopping", "missing": "stopped"}


class _UiLogHandler(logging.Handler):
    """Keeps the Python log lines for the UI's Logs tab."""

    def emit(self, record):
        try:
            _core.remember_log_line(self.format(record))
        except Exception:  # never let the Logs tab break logging
            pass


def _task_infos(tasks, depth=0):
    counts = {}
    for t in tasks or []:
        counts[t] = counts.get(t, 0) + 1
    out = []
    for t, weight in counts.items():
        sub = getattr(t, "tasks", None) if inspect.isclass(t) and depth < 10 else None
        out.append(
            {
                "name": getattr(t, "__name__", str(t)),
                "weight": weight,
                "tasks": _task_infos(sub, depth + 1) if sub else [],
            }
        )
    return out


def _report_name(opts, host):
    stamp = time.strftime("%Y-%m-%d-%Hh%M", time.localtime())
    locustfile = os.path.splitext(os.path.basename(opts["locustfile"] or "locustfile"))[0]
    return f"Locust_{stamp}_{locustfile}{'_' + host if host else ''}.html"


def _config(opts, sources, env, shape, parser, custom):
    classes = env.user_classes
    hosts = {c.host for c in classes}
    host = opts["host"] or (next(iter(hosts)) if len(hosts) == 1 and None not in hosts else "") or ""
    web_host = opts["web_host"] if sources.get("web_host", "default") != "default" else "127.0.0.1"
    full_history = None
    if opts["csv_prefix"] and opts["stats_history_enabled"]:
        full_history = opts["csv_prefix"] + "_stats_history.csv"
    extra = []
    for dest, d in parser.args_included_in_web_ui.items():
        value = custom.get(dest, d.default)
        extra.append(
            {
                "name": dest,
                "default_value": "" if value is None else str(value),
                "help": d.help,
                "choices": [str(c) for c in d.choices] if d.choices else None,
                "is_secret": bool(d.is_secret),
            }
        )
    return {
        "locustfile": os.path.basename(opts["locustfile"] or "locustfile.py"),
        "host": host,
        "host_optional": all(c.host for c in classes),
        "classes": [{"name": c.__name__, "tasks": _task_infos(c.tasks)} for c in classes],
        "shape_class": type(shape).__name__ if shape is not None else None,
        "num_users": opts["num_users"],
        "spawn_rate": opts["spawn_rate"],
        "run_time": opts["run_time"],
        "extra_options": extra,
        "full_history_file": full_history,
        "report_name": _report_name(opts, host),
        "web_host": web_host,
        "web_port": opts["web_port"],
        "web_base_path": opts["web_base_path"] or "",
        "web_auth": opts.get("web_auth") or None,
        "tls_cert": opts["tls_cert"] or None,
        "tls_key": opts["tls_key"] or None,
    }


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


def run(opts, sources, env, runner, runtime, insight, shape, parser, custom, finish):
    """Serves the UI and runs tests until Ctrl-C, SIGTERM or ``--autoquit``; returns the exit
    code (``finish`` is the headless run's end)."""
    from . import locust as api
    from .locust.exception import StopTest

    stats = runtime.stats
    cfg = _config(opts, sources, env, shape, parser, custom)
    try:
        ui = _core.WebUi(stats, json.dumps(cfg))
    except (ValueError, OSError) as e:
        logger.error("%s", e)
        runtime.close()
        return 1
    handler = _UiLogHandler()
    root = logging.getLogger()
    if root.handlers:
        handler.setFormatter(root.handlers[0].formatter)
    root.addHandler(handler)
    logger.info("Starting web interface at %s", ui.url())

    host = cfg["host"]
    stop_reason = []

    def on_signal(reason):
        if not stop_reason:
            stop_reason.append(reason)

    gevent.signal_handler(signal.SIGTERM, on_signal, "sigterm")
    gevent.signal_handler(signal.SIGINT, on_signal, "sigint")

    print_stats = opts["print_stats"] and not opts["only_summary"]
    state = {"started": None, "deadline": None, "shape_value": None, "quit_at": None, "seen_active": False}
    stopper = []  # the greenlet stopping the users, while it runs

    def shape_tick():
        try:
            return shape.tick()
        except StopTest as e:
            logger.error("%s", e)
            logger.warning("Stopping Locust...")
            return None

    def begin(users, rate, run_time):
        """Starts a test: the shape's first step, or a ramp to ``users`` at ``rate``."""
        state["started"] = time.monotonic()
        state["shape_value"] = None
        state["deadline"] = None
        state["seen_active"] = False
        if shape is not None:
            logger.info("Shape test starting.")
            shape.reset_time()
            tick = shape_tick()
            if tick is None:
                state["started"] = None
                return
            state["shape_value"] = tuple(tick)
            runner.start(tick[0], tick[1], user_classes=tick[2] if len(tick) > 2 else None)
        else:
            runner.start(users, rate)
            if run_time:
                state["deadline"] = state["started"] + run_time

    def stop_test(why=None):
        """Stops the users in a greenlet of its own, so the UI keeps seeing "stopping". A test
        that ended by itself (``why``) starts the ``--autoquit`` clock after ``--autostart``."""
        if why:
            logger.info("%s, stopping test", why)
        state["started"] = None
        state["deadline"] = None
        if runner.state != "stopped" and not stopper:
            g = gevent.spawn(runner.stop)
            stopper.append(g)
            if why and opts["autostart"]:
                g.link(lambda _g: schedule_autoquit())
        elif why and opts["autostart"]:
            schedule_autoquit()

    def schedule_autoquit():
        if opts["autoquit"] is not None and opts["autoquit"] >= 0:
            state["quit_at"] = time.monotonic() + opts["autoquit"]
        else:
            logger.info("--autoquit not specified, leaving web ui running indefinitely")

    def publish():
        counts = sorted(runner.user_classes_count.items())
        ui.publish(_STATES.get(runner.state, runner.state), runner.user_count, counts, host)

    def is_active():
        return runner.state in ("spawning", "running")

    def handle(cmd):
        nonlocal host
        if cmd[0] == "swarm":
            req = cmd[1]
            if req["host"] is not None:
                host = req["host"]
                env.host = host or None
                if host:
                    for cls in env.user_classes:
                        cls.host = host
            _apply_options(env, parser, req["extra_options"])
            if not is_active():
                missing = [c.__name__ for c in env.user_classes if _needs_host(c)]
                if missing:
                    logger.error(
                        "You must specify the base host. Either in the host attribute in the User class (%s), "
                        "or in the form's Host field.",
                        ", ".join(missing),
                    )
                    return
                # A new test: Locust clears the statistics, exceptions and chart history.
                ui.reset_for_new_test()
                begin(req["user_count"], req["spawn_rate"], req["run_time"])
            else:
                if shape is None:
                    runner.start(req["user_count"], req["spawn_rate"])
                # Locust restarts the run-time timer from each /swarm.
                rt = req["run_time"]
                state["deadline"] = time.monotonic() + rt if rt else None
            state["quit_at"] = None
        elif cmd[0] == "stop":
            stop_test()
        elif cmd[0] == "reset_stats":
            api.events.reset_stats.fire()

    if opts["autostart"]:
        users = opts["num_users"] if opts["num_users"] is not None else 1
        rate = opts["spawn_rate"] if opts["spawn_rate"] is not None else 1.0
        begin(users, rate, opts["run_time"])
        if opts["run_time"]:
            logger.info("Run time limit set to %s seconds", opts["run_time"])
    publish()

    last_csv = last_print = last_shape = time.monotonic()
    try:
        while not stop_reason:
            # Commands wait while users are being stopped (as the Rust loop, which stops in line).
            if stopper and stopper[0].dead:
                stopper.clear()
            while not stopper:
                cmd = ui.poll_command()
                if cmd is None:
                    break
                handle(cmd)
            if ui.report_wanted():
                ui.answer_report(insight.report_now(stats))
            now = time.monotonic()
            if runner.quit_requested:
                stop_reason.append("quit")
                break
            if is_active():
                state["seen_active"] = True
            elif state["started"] is not None and state["seen_active"] and runner.state == "stopped" and not stopper:
                # Stopped from inside (a user's StopTest or runner.stop()).
                stop_test("The users stopped the test")
            if state["deadline"] is not None and now >= state["deadline"]:
                stop_test("--run-time limit reached")
            if shape is not None and state["started"] is not None and now - last_shape >= 1:
                last_shape = now
                tick = shape_tick()
                if tick is None:
                    stop_test("Shape test completed")
                elif tuple(tick) != state["shape_value"]:
                    state["shape_value"] = tuple(tick)
                    logger.info("Shape test updating to %d users at %.2f spawn rate", tick[0], tick[1])
                    runner.start(tick[0], tick[1], user_classes=tick[2] if len(tick) > 2 else None)
            if state["quit_at"] is not None and now >= state["quit_at"]:
                stop_reason.append("autoquit")
                break
            if now - last_csv >= 1:
                last_csv = now
                elapsed = now - state["started"] if state["started"] is not None else 0.0
                # The history behind the diagnosis and the report; thresholds are judged at the end.
                insight.after_merge(stats, runner.user_count, elapsed)
                try:
                    stats.csv_write(runner.user_count)
                except OSError as e:
                    logger.error("writing CSV files failed: %s", e)
            if print_stats and now - last_print >= 2:
                last_print = now
                sys.stderr.write(stats.stats_table(True))
                sys.stderr.flush()
            publish()
            gevent.sleep(0.1 if not stopper else 0.05)
    except KeyboardInterrupt:
        stop_reason.append("sigint")

    ui.stop()
    root.removeHandler(handler)
    return finish(stop_reason[0] if stop_reason else "quit", opts, env, runner, runtime, insight)


def _needs_host(cls):
    from .locust.contrib.fasthttp import FastHttpUser
    from .locust.user.users import HttpUser

    return issubclass(cls, (HttpUser, FastHttpUser)) and not cls.host
