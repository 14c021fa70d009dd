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
import traceback

import gevent

from . import _core, _importhook, _runtime

logger = logging.getLogger("locusta.main")

_PKG_DIR = os.path.dirname(os.path.abspath(__file__))


class _Exit(Exception):
    def __init__(self, code):
        super().__init__(code)
        self.code = code


class _StderrHandler(logging.StreamHandler):
    """Logs to stderr and tells the live terminal view, which then draws below the line."""

    def emit(self, record):
        super().emit(record)
        _core.note_stderr_write()


class _UiLogHandler(logging.Handler):
    """Keeps the Python log lines for the web UI's Logs tab."""

    def emit(self, record):
        try:
            _core.remember_log_line(self.format(record))
        except Exception:  # never let the Logs tab break logging
            pass


class _OtelLogHandler(logging.Handler):
    """``--otel`` with a logs exporter: hands each logging record to the Rust exporter, as
    Locust adds OpenTelemetry's LoggingHandler to the root logger."""

    def emit(self, record):
        if record.name.startswith("locusta.otel"):
            return
        try:
            _core.otel_log(record.levelno, record.name, record.getMessage())
        except Exception:  # never let the export break logging
            pass


def _setup_logging(opts):
    if opts["skip_log_setup"]:
        return
    level = opts["loglevel"].upper()
    fmt = f"[%(asctime)s] {socket.gethostname()}/%(levelname)s/%(name)s: %(message)s"
    handler = logging.FileHandler(opts["logfile"]) if opts["logfile"] else _StderrHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(fmt))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    if not opts["headless"]:
        ui = _UiLogHandler()
        ui.setFormatter(handler.formatter)
        root.addHandler(ui)
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
    from .locust.user.task import filter_tasks_by_tags

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
    if not user_classes:
        # As Locust: files without User classes may be pytest-style (test_* functions as users).
        from .locust.user import pytest_user

        for path in paths:
            try:
                user_classes.update(pytest_user.load(path))
            except pytest_user.PytestLocustfileError as e:
                sys.stderr.write(f"{e}\n")
                return 1

    parser = LocustArgumentParser()
    try:
        api.events.init_command_line_parser.fire(parser=parser)
        extras = parser.extras()
    except ValueError as e:
        sys.stderr.write(f"locusta: error: {e}\n")
        return 2
    parsed = _parse(argv, extras)
    opts, sources = parsed.options(), parsed.sources()
    try:
        custom = parser.values(parsed.extras())
    except UsageError as e:
        sys.stderr.write(f"locusta: error: {e}\n")
        return 2
    from . import _secrets

    _secrets.register(parser, custom)
    _setup_logging(opts)

    if not _apply_class_settings(opts, user_classes):
        return 255  # Locust's sys.exit(-1)
    # Tags are applied before the plan, which drops the classes they leave without tasks.
    tags = set(opts["tags"]) if opts["tags"] is not None else None
    exclude = set(opts["exclude_tags"]) if opts["exclude_tags"] is not None else None
    if tags is not None or exclude is not None:
        for cls in user_classes.values():
            filter_tasks_by_tags(cls, tags, exclude)
    try:
        plan = _core.RunPlan(parsed, _facts(opts, user_classes, shape_classes, parser, custom, paths))
        if _core.otel_logs_enabled():
            logging.getLogger().addHandler(_OtelLogHandler())
    except _core.PlanExit as e:
        return e.args[0]

    # Worker processes are started as `sys.executable` + this command line (the interpreter's
    # own path would lose the virtualenv).
    os.environ["LOCUSTA_EXECUTABLE"] = sys.executable
    if plan.role == "worker_processes":
        return _core.run_worker_processes(plan.worker_processes, opts["master_host"], int(opts["master_port"]))
    selected = [user_classes[n] for n in plan.classes]
    host = plan.host
    if host:
        for cls in selected:
            cls.host = host

    runtime = _runtime.install(_runtime.Runtime(threads=_io_threads(sources, opts), max_entries=opts["max_stats_entries"], http2=opts["http2"]))
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
        parsed_options=argparse.Namespace(**opts, **custom),
        parsed_locustfiles=paths,
        available_user_classes=user_classes,
        available_user_tasks={n: list(c.tasks) for n, c in user_classes.items()},
    )
    env.profile = opts["profile"]
    if plan.role == "worker":
        runner = env.create_worker_runner()
        api.events.init.fire(environment=env, runner=runner, web_ui=None)
        return _run_worker(opts, env, runner, runtime, api)
    try:
        return _run_controlled(plan, env, shape, parser, runtime, api)
    finally:
        runtime.close()


def _run_controlled(plan, env, shape, parser, runtime, api):
    """A single process or a master: the run controller drives the runner."""
    from . import _driver
    from .locust.runners import LocalRunner, MasterRunner

    link = None
    if plan.role == "master":
        try:
            link = _core.MasterLink(plan, runtime.stats)
        except OSError as e:
            logger.error("%s", e)
            return 1
        runner = MasterRunner(env)
        runner._attach(link)
    else:
        runner = LocalRunner(env)
    env.runner = runner
    if shape is not None:
        shape.runner = runner
    web_ui = None
    try:
        web_ui = _web_ui(env, plan)
        api.events.init.fire(environment=env, runner=runner, web_ui=web_ui)
        try:
            controller = _core.Controller(
                plan, runtime.stats, shape, _driver.shape_tick if shape is not None else None, link,
                web_ui._routes if web_ui is not None else None,
            )
        except OSError as e:
            logger.error("%s", e)
            return 1
        _runtime.open_model = controller.open_model()
        if web_ui is not None:
            web_ui.start()
        return _driver.drive(controller, env, runner, parser)
    finally:
        if web_ui is not None:
            web_ui.stop()
        # Whatever happened, the workers are told to quit (a second quit does nothing).
        if link is not None:
            link.quit()


def _web_ui(env, plan):
    """``environment.web_ui`` for a run that serves the web UI (None for a headless one, as in
    Locust): where ``init`` listeners add their own routes."""
    if not plan.web_ui:
        return None
    from .locust.web import WebUI

    o = env.parsed_options
    try:
        env.web_ui = WebUI(
            env,
            host=o.web_host,
            port=o.web_port,
            web_base_path=o.web_base_path or "",
            tls_cert=o.tls_cert or None,
            tls_key=o.tls_key or None,
            web_login=bool(o.web_login),
        )
    except ImportError as e:
        logger.error("--web-login needs Flask and Flask-Login (%s): pip install flask flask-login", e)
        raise _Exit(1)
    return env.web_ui


def _apply_class_settings(opts, user_classes):
    """``--config-users`` (each entry sets attributes of its ``user_class_name``; ``tasks``
    keeps the class's tasks of those names, as Locust's ``update_user_class``) and
    ``--equal-weights`` (weight 1 and each distinct task once, nested TaskSets flattened, as
    Locust's ``assign_equal_weights``). Returns False after logging an error."""
    from .locust.env import apply_user_settings

    original_tasks = {name: list(cls.tasks) for name, cls in user_classes.items()}
    for config in opts["config_users"] or []:
        name = config.get("user_class_name") if isinstance(config, dict) else None
        cls = user_classes.get(name)
        if cls is None:
            logger.error(
                "Error applying user config, probably you tried to specify config for a User not present in "
                "your locustfile: %r", name
            )
            return False
        apply_user_settings(cls, config, original_tasks[name])
    if opts["equal_weights"]:
        for cls in user_classes.values():
            cls.weight = 1
            flat, frontier = [], list(cls.tasks)
            while frontier:
                t = frontier.pop()
                if inspect.isclass(t) and hasattr(t, "tasks"):
                    frontier.extend(t.tasks)
                elif callable(t) and t not in flat:
                    flat.append(t)
            cls.tasks = flat
    return True


def _task_facts(tasks, depth=0):
    """A class's tasks as the plan takes them: ``(name, weight, nested tasks)``."""
    counts = {}
    for t in tasks or []:
        counts[t] = counts.get(t, 0) + 1
    out = []
    for t, weight in counts.items():
        sub = getattr(t, "tasks", None) if inspect.isclass(t) and depth < 10 else None
        out.append((getattr(t, "__name__", str(t)), weight, _task_facts(sub, depth + 1) if sub else []))
    return out


def _facts(opts, user_classes, shape_classes, parser, custom, paths):
    """What the run plan needs to know about the locustfile."""
    from .locust.contrib.fasthttp import FastHttpUser
    from .locust.user.users import HttpUser, PytestUser

    classes = [
        {
            "name": name,
            "weight": float(cls.weight),
            "fixed_count": int(cls.fixed_count),
            "host": cls.host or None,
            "needs_host": issubclass(cls, (HttpUser, FastHttpUser, PytestUser)),
            "tasks": [(f.name, 1, []) for f in cls.functions] if issubclass(cls, PytestUser) else _task_facts(cls.tasks),
        }
        for name, cls in user_classes.items()
        if cls.weight != 0 or cls.fixed_count
    ]
    shape = shape_classes[0] if shape_classes else None
    extra_options = []
    for dest, d in parser.args_included_in_web_ui.items():
        value = custom.get(dest, d.default)
        choices = [str(c) for c in d.choices] if d.choices else None
        extra_options.append((dest, "" if value is None else str(value), d.help, choices, bool(d.is_secret)))
    files = []
    for p in paths:
        with open(p) as f:
            files.append((os.path.basename(p), f.read()))
    return {
        "classes": classes,
        "shape": (shape.__name__, bool(getattr(shape, "use_common_options", False))) if shape else None,
        "extra_options": extra_options,
        # The report's "Script": the locustfiles -f named (a directory's files), as Locust shows
        # its first one.
        "script": ", ".join(os.path.basename(p) for p in paths) or os.path.basename(opts["locustfile"] or "locustfile.py"),
        "locustfiles": files,
    }


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
        runner._fire_link_events()
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
    if code == 0 and runner.unhandled_exception:
        # As Locust's worker: an exception nothing handled (a user's constructor, a
        # listener) makes the exit code 2.
        code = 2
    api.events.quitting.fire(environment=env, reverse=True)
    api.events.quit.fire(exit_code=code)
    return code


def _io_threads(sources, opts):
    """I/O threads: ``--threads`` when given, else one (the Python thread needs the other core)."""
    if sources.get("threads", "default") != "default":
        return max(1, int(opts["threads"]))
    return 1
