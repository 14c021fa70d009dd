"""A headless run of a Python locustfile: what ``locust -f FILE --headless ...`` does, with the
same log lines, events, outputs and exit codes, on the Rust engine."""

import argparse
import importlib.util
import inspect
import logging
import os
import signal
import socket
import sys
import time
import traceback

import gevent

from . import _core, _importhook, _runtime, _web

logger = logging.getLogger("locusta.main")

_PKG_DIR = os.path.dirname(os.path.abspath(__file__))


class _Exit(Exception):
    def __init__(self, code):
        super().__init__(code)
        self.code = code


def _setup_logging(opts):
    if opts["skip_log_setup"]:
        return
    level = opts["loglevel"].upper()
    fmt = f"[%(asctime)s] {socket.gethostname()}/%(levelname)s/%(name)s: %(message)s"
    handler = logging.FileHandler(opts["logfile"]) if opts["logfile"] else logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(fmt))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    try:
        root.setLevel(level)
    except ValueError:
        root.setLevel(logging.INFO)
    try:
        _core.init_logging(level, opts["logfile"])
    except ValueError:
        pass


def _is_url(text):
    from urllib.parse import urlparse

    parsed = urlparse(text)
    return parsed.scheme in ("http", "https") and bool(parsed.netloc)


_URL_LOCUSTFILE_LIMIT = 16 * 1024 * 1024


def _download_locustfile(url):
    """``-f https://...``: fetches the locustfile (as Locust does), checks that it is Python,
    and saves it under its own name in a private temporary directory removed at exit."""
    import ast
    import atexit
    import shutil
    import tempfile
    import urllib.request
    from urllib.parse import urlparse

    try:
        with urllib.request.urlopen(url, timeout=60) as response:
            body = response.read(_URL_LOCUSTFILE_LIMIT + 1)
    except (OSError, ValueError) as e:
        sys.stderr.write(f"Failed to get locustfile from: {url}. Exception: {e}\n")
        raise _Exit(1)
    if len(body) > _URL_LOCUSTFILE_LIMIT:
        sys.stderr.write(f"Failed to get locustfile from: {url}. It is larger than {_URL_LOCUSTFILE_LIMIT} bytes\n")
        raise _Exit(1)
    text = body.decode("utf-8", errors="replace")
    try:
        ast.parse(text)
    except SyntaxError:
        sys.stderr.write(f"Failed to get locustfile from: {url}. Response was not valid python code: '{text[:100]}'\n")
        raise _Exit(1)
    name = os.path.basename(urlparse(url).path) or "locustfile.py"
    if not name.endswith(".py"):
        name += ".py"
    directory = tempfile.mkdtemp(prefix="locusta-url-")
    atexit.register(shutil.rmtree, directory, True)
    path = os.path.join(directory, name)
    with open(path, "w") as f:
        f.write(text)
    return path


def _locustfile_paths(spec):
    paths = []
    for part in [p.strip() for p in spec.split(",") if p.strip()]:
        if _is_url(part):
            paths.append(_download_locustfile(part))
        elif os.path.isdir(part):
            found = []
            for root, _dirs, files in os.walk(part):
                found += [os.path.abspath(os.path.join(root, f)) for f in sorted(files) if f.endswith(".py") and not f.startswith("_")]
            if not found:
                sys.stderr.write(f"Could not find any locustfiles in directory '{part}'")
                raise _Exit(1)
            paths += found
        elif os.path.exists(part) and part.endswith(".py"):
            paths.append(os.path.abspath(part))
        else:
            sys.stderr.write(
                f"Could not find '{part}'. Ensure your locustfile ends with '.py' or is a directory with "
                "locustfiles. See --help for available options.\n"
            )
            raise _Exit(1)
    return paths


def _master_address(argv):
    """--master-host / --master-port from the command line or LOCUST_MASTER_NODE_HOST/PORT,
    read before the full parse (which needs the locustfile's own options)."""
    host = os.environ.get("LOCUST_MASTER_NODE_HOST", "127.0.0.1")
    port = os.environ.get("LOCUST_MASTER_NODE_PORT", "5557")
    args = argv[1:]
    for i, a in enumerate(args):
        for flag in ("--master-host", "--master-port"):
            value = None
            if a == flag and i + 1 < len(args):
                value = args[i + 1]
            elif a.startswith(flag + "="):
                value = a.split("=", 1)[1]
            if value is not None:
                if flag == "--master-host":
                    host = value
                else:
                    port = value
    try:
        return host, int(port)
    except ValueError:
        sys.stderr.write(f"locusta: error: argument --master-port: invalid int value: '{port}'\n")
        raise _Exit(2)


def _download_locustfiles(argv):
    """``-f -`` on a worker: fetch the master's locustfiles into a temporary directory."""
    import atexit
    import shutil
    import tempfile

    if "--worker" not in argv[1:]:
        sys.stderr.write("locusta: error: -f - (download the locustfile from the master) needs --worker\n")
        raise _Exit(1)
    host, port = _master_address(argv)
    try:
        files = _core.fetch_locustfiles(host, port)
    except RuntimeError as e:
        sys.stderr.write(f"{e}\n")
        raise _Exit(1)
    d = tempfile.mkdtemp(prefix="locusta-locustfile-")
    atexit.register(shutil.rmtree, d, True)
    paths = []
    for name, text in files:
        path = os.path.join(d, name)
        with open(path, "w") as f:
            f.write(text)
        paths.append(path)
    if not paths:
        sys.stderr.write("The master sent no locustfile\n")
        raise _Exit(1)
    return paths


def _print_user_traceback(exc):
    """Prints the exception with locusta's and importlib's own frames left out, so the first
    frame shown is the locustfile's (a SyntaxError shows file, line and caret)."""
    tb = exc.__traceback__
    frames = []
    while tb is not None:
        fn = tb.tb_frame.f_code.co_filename
        if not (fn.startswith(_PKG_DIR) or fn.startswith("<frozen")):
            frames.append(tb)
        tb = tb.tb_next
    if frames:
        # Rebuild a chain of the kept frames.
        exc = exc.with_traceback(frames[0])
    else:
        exc = exc.with_traceback(None)
    lines = traceback.format_exception(type(exc), exc, exc.__traceback__)
    out = []
    for line in lines:
        if line.startswith('  File "') and any(line.startswith(f'  File "{d}') for d in (_PKG_DIR, "<frozen")):
            continue
        out.append(line)
    sys.stderr.write("".join(out))


def _load_locustfile(path):
    from .locust import LoadTestShape, User

    directory = os.path.dirname(path)
    for d in (os.getcwd(), directory):
        if d not in sys.path:
            sys.path.insert(0, d)
    name = os.path.splitext(os.path.basename(path))[0]
    if name == "locust":
        name = "locustfile"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as e:  # SyntaxError, ImportError (incl. HttpLocust), anything at import
        _print_user_traceback(e)
        raise _Exit(1)
    users = {
        n: v
        for n, v in vars(module).items()
        if inspect.isclass(v) and issubclass(v, User) and v.abstract is False
    }
    shapes = [
        v
        for v in vars(module).values()
        if inspect.isclass(v) and issubclass(v, LoadTestShape) and not getattr(v, "abstract", True)
    ]
    return users, shapes


def _refuse_unsupported(opts):
    missing = []
    if missing:
        logger.error(
            "%s %s not available in this version of locusta yet; run a single headless process (--headless) instead",
            ", ".join(missing),
            "is" if len(missing) == 1 else "are",
        )
        raise _Exit(1)
    if opts["master"] and opts["worker"]:
        logger.error("--master cannot be combined with --worker")
        raise _Exit(1)


def run(argv):
    try:
        return _run(argv)
    except _Exit as e:
        return e.code


_HELP_OR_VERSION = ("-h", "--help", "-V", "--version")


def _parse(argv, extras=None):
    try:
        return _core.parse_options(argv, extras)
    except _core.UsageError as e:
        message, code, use_stdout = e.args
        stream = sys.stdout if use_stdout else sys.stderr
        stream.write(message if message.endswith("\n") else message + "\n")
        raise _Exit(code)


def _run(argv):
    # Like Locust, help and version are answered before any locustfile is imported (so options
    # a locustfile declares are not listed there).
    if any(a in _HELP_OR_VERSION for a in argv[1:]):
        _parse(argv)

    # The locustfile is imported first: it may declare options (init_command_line_parser).
    spec = _core.locustfile_option(argv)
    if spec == "-":
        paths = _download_locustfiles(argv)
    else:
        paths = _locustfile_paths(spec)
    _importhook.install()

    from . import locust as api
    from .locust.argument_parser import LocustArgumentParser, UsageError
    from .locust.env import Environment

    user_classes = {}
    shape_classes = []
    for path in paths:
        users, shapes = _load_locustfile(path)
        for n, cls in users.items():
            if n in user_classes and user_classes[n] is not cls:
                sys.stderr.write(f"Duplicate user class names: {n} is defined in both {path} and another locustfile\n")
                return 1
            user_classes[n] = cls
        shape_classes += shapes

    parser = LocustArgumentParser()
    try:
        api.events.init_command_line_parser.fire(parser=parser)
        extras = parser.extras()
    except ValueError as e:
        sys.stderr.write(f"locusta: error: {e}\n")
        return 2
    opts, sources, given = _parse(argv, extras)
    try:
        custom = parser.values(given)
    except UsageError as e:
        sys.stderr.write(f"locusta: error: {e}\n")
        return 2
    from . import _secrets

    _secrets.register(parser, custom)
    _setup_logging(opts)

    if opts["list_commands"]:
        print("Available Users:")
        for n in user_classes:
            print("    " + n)
        return 0

    logger.info("Starting locusta %s", _core.__version__)
    _refuse_unsupported(opts)

    if not user_classes:
        logger.error("No User class found!")
        return 1
    if opts["user_classes"]:
        missing = [n for n in opts["user_classes"] if n not in user_classes]
        if missing:
            logger.error("Unknown User(s): %s\n", ", ".join(missing))
            return 1
        selected = [user_classes[n] for n in opts["user_classes"]]
    else:
        selected = list(user_classes.values())

    host = opts["host"]
    processes = opts["processes"]
    if processes == -1:
        processes = os.cpu_count() or 1
    # Worker processes are started as `sys.executable` + this command line (the interpreter's
    # own path would lose the virtualenv).
    os.environ["LOCUSTA_EXECUTABLE"] = sys.executable
    if processes and processes > 0 and opts["worker"]:
        return _core.run_worker_processes(processes, opts["master_host"], int(opts["master_port"]))
    if opts["master"] or (processes and processes > 0):
        # The master runs no users: it dispatches them by class name, weight and fixed count.
        classes = [(c.__name__, float(c.weight), int(c.fixed_count)) for c in selected]
        try:
            files = []
            for p in paths:
                with open(p) as f:
                    files.append((os.path.basename(p), f.read()))
            link = _core.MasterLink(argv, classes, extras, files)
        except _core.UsageError as e:
            sys.stderr.write(f"{e.args[0]}\n")
            return e.args[1]
        # Locust's master-side hooks (init with a MasterRunner, custom messages, worker_report).
        from . import _master

        env = Environment(
            user_classes=selected,
            locustfile=opts["locustfile"],
            events=api.events,
            host=host,
            reset_stats=opts["reset_stats"],
            stop_timeout=opts["stop_timeout"],
            parsed_options=argparse.Namespace(**opts, **custom),
            parsed_locustfiles=paths,
            available_user_classes=user_classes,
            available_user_tasks={n: list(c.tasks) for n, c in user_classes.items()},
        )
        return _master.run(link, env, api)
    if host is None and not opts["worker"] and opts["headless"]:
        from .locust.user.users import HttpUser
        from .locust.contrib.fasthttp import FastHttpUser

        for cls in selected:
            if issubclass(cls, (HttpUser, FastHttpUser)) and cls.host is None:
                logger.error(
                    "You must specify the base host. Either in the host attribute in the User class (%s), "
                    "or on the command line using the --host option.",
                    cls.__name__,
                )
                return 1
    elif host is not None:
        for cls in selected:
            cls.host = host

    # Thresholds, JUnit, diagnosis and HTML report (Rust, shared with the native engine).
    try:
        insight = _core.Insight(opts, host or "")
    except ValueError as e:
        logger.error("%s", e)
        return 2
    if insight.finds_capacity() and shape_classes:
        logger.error("--find-capacity cannot be combined with a load shape")
        return 1
    # --arrival-rate: the open model (headless runs).
    open_model = None
    if opts["arrival_rate"]:
        if shape_classes or insight.finds_capacity():
            logger.error("--arrival-rate cannot be combined with a load shape or --find-capacity")
            return 1
        try:
            open_model = _core.OpenModel(str(opts["arrival_rate"]), opts["run_time"] or None)
        except ValueError as e:
            logger.error("%s", e)
            return 2 if str(e).startswith("invalid --arrival-rate") else 1

    runtime = _runtime.install(_runtime.Runtime(threads=_io_threads(sources, opts), max_entries=opts["max_stats_entries"]))
    if opts["metrics_port"]:
        try:
            insight.start_metrics(int(opts["metrics_port"]), opts["web_host"] or "", runtime.stats)
        except OSError as e:
            logger.error("%s", e)
            return 1
    parsed = argparse.Namespace(**opts, **custom)
    shape = shape_classes[0]() if shape_classes else None
    env = Environment(
        user_classes=selected,
        shape_class=shape,
        tags=opts["tags"],
        exclude_tags=opts["exclude_tags"],
        locustfile=opts["locustfile"],
        events=api.events,
        host=host,
        reset_stats=opts["reset_stats"],
        stop_timeout=opts["stop_timeout"],
        parsed_options=parsed,
        parsed_locustfiles=paths,
        available_user_classes=user_classes,
        available_user_tasks={n: list(c.tasks) for n, c in user_classes.items()},
    )
    env._filter_tasks_by_tags()
    if opts["tags"] is not None or opts["exclude_tags"] is not None:
        env.user_classes = [c for c in env.user_classes if c.tasks]
        if not env.user_classes:
            logger.error("No tasks left to run after applying --tags/--exclude-tags; check the tag names.")
            return 1
    runner = env.create_worker_runner() if opts["worker"] else env.create_local_runner()
    if shape is not None:
        shape.runner = runner
    api.events.init.fire(environment=env, runner=runner, web_ui=None)

    stats = runtime.stats
    api.events.reset_stats.add_listener(insight.reset)
    if opts["worker"]:
        return _run_worker(opts, env, runner, runtime, api)
    if opts["csv_prefix"]:
        try:
            stats.csv_open(opts["csv_prefix"], opts["stats_history_enabled"])
        except OSError as e:
            logger.error("%s", e)
            return 1

    if not opts["headless"]:
        if open_model is not None:
            logger.warning("--arrival-rate applies to headless runs; the web UI runs the closed model")
        return _web.run(opts, sources, env, runner, runtime, insight, shape, parser, custom, _finish)

    stop_reason = []

    def on_signal(reason):
        if not stop_reason:
            stop_reason.append(reason)

    gevent.signal_handler(signal.SIGTERM, on_signal, "sigterm")
    gevent.signal_handler(signal.SIGINT, on_signal, "sigint")

    run_time = opts["run_time"]
    if run_time:
        logger.info("Run time limit set to %s seconds", run_time)
    print_stats = not opts["only_summary"]
    if print_stats:
        sys.stderr.write(stats.stats_table(True))
        sys.stderr.flush()

    users = opts["num_users"] if opts["num_users"] is not None else 1
    rate = opts["spawn_rate"] if opts["spawn_rate"] is not None else 1.0
    started = time.monotonic()
    shape_value = None
    from .locust.exception import StopTest

    def shape_tick():
        try:
            return shape.tick()
        except StopTest as e:
            logger.error("%s", e)
            logger.warning("Stopping Locust...")
            return None

    if open_model is not None:
        _runtime.open_model = open_model
        logger.info("Open model: %.2f iterations per second", open_model.rate)

    # --find-capacity: the search sets the users each second (a step ramp until the objective
    # breaks), at a spawn rate that reaches each step at once.
    capacity = insight.finds_capacity()
    capacity_users = 0
    capacity_rate = max(rate, float(insight.capacity_step())) if capacity else rate
    if shape is not None:
        shape.reset_time()
        tick = shape_tick()
        if tick is None:
            stop_reason.append("shape")
        else:
            shape_value = tuple(tick)
            runner.start(tick[0], tick[1], user_classes=tick[2] if len(tick) > 2 else None)
    elif capacity:
        capacity_users = insight.capacity_users(0.0) or 1
        logger.info("Capacity search: %d users at %.2f spawn rate", capacity_users, capacity_rate)
        runner.start(capacity_users, capacity_rate)
    else:
        runner.start(users, rate)

    last_csv = last_print = last_shape = time.monotonic()
    try:
        while not stop_reason:
            gevent.sleep(0.1)
            now = time.monotonic()
            if runner.quit_requested:
                stop_reason.append("quit")
                break
            if run_time and shape is None and now - started >= run_time:
                stop_reason.append("run_time")
                break
            if shape is not None and now - last_shape >= 1:
                last_shape = now
                tick = shape_tick()
                if tick is None:
                    logger.info("Shape test stopping")
                    stop_reason.append("shape")
                    break
                if tuple(tick) != shape_value:
                    shape_value = tuple(tick)
                    logger.info("Shape test updating to %d users at %.2f spawn rate", tick[0], tick[1])
                    runner.start(tick[0], tick[1], user_classes=tick[2] if len(tick) > 2 else None)
            if open_model is not None:
                open_model.tick(now - started)
            if now - last_csv >= 1:
                last_csv = now
                why = insight.after_merge(
                    stats, runner.user_count, now - started, open_model.rate if open_model is not None else None
                )
                if why:
                    logger.error("%s", why)
                    stop_reason.append("threshold")
                    break
                if capacity:
                    wanted = insight.capacity_users(now - started)
                    if wanted is None:
                        stop_reason.append("capacity")
                        break
                    if wanted != capacity_users:
                        capacity_users = wanted
                        logger.info("Capacity search: %d users", wanted)
                        runner.start(wanted, capacity_rate)
                try:
                    stats.csv_write(runner.user_count)
                except OSError as e:
                    logger.error("writing CSV files failed: %s", e)
            if print_stats and now - last_print >= 2:
                last_print = now
                sys.stderr.write(stats.stats_table(True))
                sys.stderr.flush()
    except KeyboardInterrupt:
        stop_reason.append("sigint")

    reason = stop_reason[0] if stop_reason else "quit"
    if open_model is not None:
        insight.set_open_model(open_model)
    return _finish(reason, opts, env, runner, runtime, insight)


def _finish(reason, opts, env, runner, runtime, insight):
    """The end of a run (headless or web UI): the `quitting` and `quit` events, the exit code,
    the final CSV, JSON, console tables and insight outputs."""
    from . import locust as api
    from .locust.event import state as event_state

    stats = runtime.stats
    if reason == "run_time":
        logger.info("--run-time limit reached, shutting down")
    elif reason == "sigterm":
        logger.info("Got SIGTERM signal")
    elif reason == "sigint":
        logger.info("Got Ctrl-C, shutting down")
    elif reason == "autoquit":
        logger.info("--autoquit time reached, shutting down")

    # A second signal while users finish their tasks stops at once.
    gevent.signal_handler(signal.SIGINT, lambda: runner.user_greenlets.kill(block=False))
    gevent.signal_handler(signal.SIGTERM, lambda: runner.user_greenlets.kill(block=False))
    # As Locust: a run that ends by itself (run time, shape, quit()) stops the runner first; on
    # SIGTERM or Ctrl-C the `quitting` listeners run and the exit code is decided while the users
    # are still running, then the runner quits.
    signalled = reason in ("sigterm", "sigint")
    if not signalled:
        runner.quit()

    api.events.quitting.fire(environment=env, reverse=True)
    if env.process_exit_code is not None:
        code = env.process_exit_code
    elif stats.has_errors():
        code = opts["exit_code_on_error"]
    elif event_state["unhandled_exception"]:
        code = 2
    else:
        code = 0
    code = insight.exit_code(stats, code, reason == "threshold")
    logger.info("Shutting down (exit code %s)", code)
    if signalled:
        runner.quit()

    try:
        stats.csv_write(0)
    except OSError as e:
        logger.error("writing CSV files failed: %s", e)
    if opts["json"]:
        sys.stdout.write(stats.json() + "\n")
        sys.stdout.flush()
    if opts["json_file"]:
        target = opts["json_file"] + ".json"
        d = os.path.dirname(target)
        if d:
            os.makedirs(d, exist_ok=True)
        with open(target, "w") as f:
            f.write(stats.json())
    else:
        sys.stderr.write(stats.stats_table(False))
        sys.stderr.write(stats.percentiles_table())
        report = stats.error_report()
        if report:
            sys.stderr.write(report)
        sys.stderr.flush()
    code = insight.finish(stats, code)
    api.events.quit.fire(exit_code=code)
    runtime.close()
    return code


def _run_worker(opts, env, runner, runtime, api):
    """``--worker``: the protocol runs on a Rust thread; this loop applies its commands to the
    greenlet runner and publishes the user counts back."""
    link = _core.WorkerLink(opts["master_host"], int(opts["master_port"]), runtime.stats)
    stop = []
    gevent.signal_handler(signal.SIGTERM, lambda: stop.append("sigterm"))
    gevent.signal_handler(signal.SIGINT, lambda: stop.append("sigint"))
    runner._attach(link)
    code = 0
    while True:
        while True:
            message = link.poll_message()
            if message is None:
                break
            runner._deliver(*message)
        if link.report_wanted():
            # Locust fires report_to_master before each stats report; here the keys the
            # listeners add travel with the next report (the Rust loop builds the reports).
            data = {}
            api.events.report_to_master.fire(client_id=runner.client_id, data=data)
            try:
                link.set_report_extras(data)
            except (TypeError, ValueError) as e:
                logger.error("report_to_master added data that cannot be sent: %s", e)
        cmd = link.poll()
        if cmd is None:
            if stop:
                # The Rust loop stops on the same signal; wait for its exit command.
                stop.clear()
            gevent.sleep(0.05)
            link.set_counts(runner.user_classes_count)
            continue
        if cmd[0] == "spawn":
            _, counts, host, stop_timeout = cmd
            if host:
                env.host = host
                for cls in env.user_classes:
                    cls.host = host
            env.stop_timeout = stop_timeout
            if runner.state == "stopped":
                runner._test_started = False
            link.set_counts(runner.spawn_counts(counts))
        elif cmd[0] == "stop":
            runner.stop()
            link.stopped()
        elif cmd[0] == "exit":
            code = cmd[1]
            break
    runner.quit_requested = True
    runner.stop()
    api.events.quitting.fire(environment=env, reverse=True)
    api.events.quit.fire(exit_code=code)
    runtime.close()
    return code


def _io_threads(sources, opts):
    """I/O threads: ``--threads`` when given, else one (the Python thread needs the other core)."""
    if sources.get("threads", "default") != "default":
        return max(1, int(opts["threads"]))
    return 1
