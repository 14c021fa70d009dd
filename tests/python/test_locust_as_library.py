"""``import locust`` outside a locusta run, as scripts that use Locust as a library do
(Locust's examples/debugging.py with ``run_single_user``): where no real Locust is installed,
the ``locusta-locust-fallback.pth`` file the package installs makes it resolve to locusta's
package; where one is, the real Locust stays what ``import locust`` gives.

The venv without Locust is simulated: the script runs without ``site`` on a copy of this
environment's site-packages (symbolic links) that leaves Locust out, added with
``site.addsitedir`` so its .pth files run as at start-up."""

import os
import subprocess
import sys
import sysconfig
import textwrap

import pytest

SITE = sysconfig.get_paths()["purelib"]


def without_locust(tmp_path):
    """A site directory with everything of this one but Locust and its plugin."""
    site_dir = tmp_path / "site"
    site_dir.mkdir()
    for name in os.listdir(SITE):
        if name == "locust" or name.startswith("locust-") or name == "pytest_locust":
            continue
        os.symlink(os.path.join(SITE, name), site_dir / name)
    return site_dir


def run_script(site_dir, body, tmp_path):
    script = tmp_path / "script.py"
    script.write_text(textwrap.dedent(body))
    boot = f"import site, sys; site.addsitedir({str(site_dir)!r}); sys.argv = [{str(script)!r}]; " \
           f"exec(compile(open({str(script)!r}).read(), {str(script)!r}, 'exec'), {{'__name__': '__main__'}})"
    return subprocess.run([sys.executable, "-S", "-c", boot], capture_output=True, text=True, timeout=60, cwd=tmp_path)


def test_import_locust_falls_back_to_locusta_without_locust(tmp_path):
    if not os.path.exists(os.path.join(SITE, "locusta-locust-fallback.pth")):
        pytest.skip("locusta is not installed as a wheel here (the .pth file comes with it)")
    proc = run_script(without_locust(tmp_path), """
        import sys
        import locust
        from locust.env import Environment
        from locust import HttpUser, run_single_user
        print(locust.__name__, sys.modules["locust.env"] is sys.modules["locusta.locust.env"])
    """, tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["locusta.locust", "True"]


def test_run_single_user_as_in_locusts_debugging_example(tmp_path, target):
    if not os.path.exists(os.path.join(SITE, "locusta-locust-fallback.pth")):
        pytest.skip("locusta is not installed as a wheel here (the .pth file comes with it)")
    proc = run_script(without_locust(tmp_path), f"""
        from locust import HttpUser, run_single_user, task


        class QuickstartUser(HttpUser):
            host = {target!r}

            @task
            def hello_world(self):
                with self.client.get("/hello", catch_response=True) as resp:
                    print("STATUS", resp.status_code, flush=True)
                    raise SystemExit(0)


        if __name__ == "__main__":
            run_single_user(QuickstartUser)
    """, tmp_path)
    assert "STATUS 200" in proc.stdout, proc.stdout + proc.stderr


def test_a_real_locust_wins_outside_runs():
    real = os.path.exists(os.path.join(SITE, "locust", "__init__.py"))
    proc = subprocess.run([sys.executable, "-c", "import locust; print(locust.__name__, locust.__file__)"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 or not real, proc.stderr
    if real:
        assert proc.stdout.split()[0] == "locust" and "locusta" not in proc.stdout, proc.stdout


USE_AS_LIB = """
    import gevent
    import locust.stats
    from locust import HttpUser, constant, events, task
    from locust.env import Environment
    from locust.log import setup_logging
    from locust.stats import stats_history, stats_printer

    setup_logging("INFO")
    locust.stats.HISTORY_STATS_INTERVAL_SEC = 0.5


    class MyUser(HttpUser):
        host = {target!r}
        wait_time = constant(0.01)

        @task
        def t(self):
            self.client.get("/")


    usage = []
    events.usage_monitor.add_listener(lambda environment, cpu_usage, memory_usage, **kw: usage.append(memory_usage))
    env = Environment(user_classes=[MyUser], events=events)
    runner = env.create_local_runner()
    env.events.init.fire(environment=env, runner=runner, web_ui=None)
    gevent.spawn(stats_printer(env.stats))
    gevent.spawn(stats_history, env.runner)
    runner.start(2, spawn_rate=10)
    gevent.spawn_later(3, runner.quit)
    runner.greenlet.join()
    print("REQUESTS", env.stats.total.num_requests > 0)
    print("HISTORY", len(env.stats.history) >= 2, sorted(env.stats.history[-1]))
"""


def use_as_lib_outcome(proc):
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = proc.stdout.splitlines()
    return {
        "requests": "REQUESTS True" in lines,
        "history": next(line for line in lines if line.startswith("HISTORY")),
        "table printed": "Aggregated" in proc.stdout + proc.stderr,
    }


def test_use_as_lib_as_in_locusts_example(tmp_path, target):
    """Locust's examples/use_as_lib.py (without its web UI): setup_logging, stats_printer,
    stats_history, and runner.greenlet.join() returning when the runner quits; the same script
    under the real Locust where it is installed."""
    if not os.path.exists(os.path.join(SITE, "locusta-locust-fallback.pth")):
        pytest.skip("locusta is not installed as a wheel here (the .pth file comes with it)")
    ours = use_as_lib_outcome(run_script(without_locust(tmp_path), USE_AS_LIB.format(target=target), tmp_path))
    assert ours["requests"] and ours["table printed"] and ours["history"].startswith("HISTORY True"), ours
    real = os.path.join(os.path.dirname(os.environ.get("REAL_LOCUST", "")), "python")
    if os.path.exists(real):
        script = tmp_path / "real.py"
        script.write_text(textwrap.dedent(USE_AS_LIB.format(target=target)))
        theirs = use_as_lib_outcome(subprocess.run([real, str(script)], capture_output=True, text=True, timeout=60))
        assert ours == theirs
