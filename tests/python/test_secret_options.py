"""Options declared with ``is_secret=True`` are masked everywhere locusta echoes them: the web
UI's HTML and JSON, the HTML report, the log (console, ``--logfile``, the Logs tab), the CSV and
JSON outputs, and usage errors. Locust 2.47 only masks the start form's input field (its page
carries the value); locusta goes further, see docs/security.md."""

import glob
import os
import re
import signal
import subprocess
import time

import requests

from conftest import lf, locusta_cmd

CLI_SECRET = "cli-S3CRET-token"
FORM_SECRET = "typed-S3CRET-form"


def _wait_for(proc, path, pattern, timeout=60):
    deadline = time.time() + timeout
    while True:
        text = path.read_text() if path.exists() else ""
        m = re.search(pattern, text)
        if m:
            return m
        assert proc.poll() is None, text
        assert time.time() < deadline, f"no {pattern!r} in:\n{text}"
        time.sleep(0.1)


def _everything_written(tmp_path):
    """Every file the run wrote, as text."""
    out = {}
    for path in glob.glob(str(tmp_path / "**" / "*"), recursive=True):
        if os.path.isfile(path):
            with open(path, errors="replace") as f:
                out[path] = f.read()
    return out


def test_secret_option_is_masked_in_ui_logs_and_reports(tmp_path, target):
    err_path = tmp_path / "stderr.log"
    with open(err_path, "w") as err, open(tmp_path / "stdout.log", "w") as out:
        proc = subprocess.Popen(
            locusta_cmd()
            + ["-f", lf("secret_option.py"), "--web-port", "0", "--api-token", CLI_SECRET,
               "--csv", "out", "--html", "report.html", "--json-file", "result",
               "--logfile", "run.log", "-L", "INFO"],
            stdout=out, stderr=err, cwd=str(tmp_path), env={**os.environ, "LOCUST_HOST": ""},
        )
        try:
            base = _wait_for(proc, tmp_path / "run.log", r"Starting web interface at (\S+)").group(1).rstrip("/")
            get = lambda p: requests.get(base + p, timeout=20)  # noqa: E731
            info = get("/ui/info").json()
            opts = {o["name"]: o for o in info["extra_options"]}
            assert opts["api_token"]["is_secret"] and opts["api_token"]["has_value"], opts
            assert opts["api_token"]["default_value"] == ""
            # not a secret: its value is shown as in Locust
            assert opts["plain_opt"]["default_value"] == "visible-default"
            seen = {"/ui/info": get("/ui/info").text, "/": get("/").text}

            r = requests.post(base + "/swarm", timeout=20, data={
                "user_count": "2", "spawn_rate": "20", "host": target, "api_token": FORM_SECRET})
            assert r.status_code == 200, r.text
            # the form's value reached the locustfile (it logs whether the token came from it)
            _wait_for(proc, tmp_path / "run.log", r"token in use: \*\*\*\*\*\*\*\* \(from the form: True\)")
            deadline = time.time() + 60
            while get("/stats/requests").json()["stats"][-1]["num_requests"] < 5:
                assert time.time() < deadline
                time.sleep(0.2)
            for path in ["/ui/info", "/stats/requests", "/stats/report", "/logs", "/exceptions",
                         "/stats/requests/csv", "/stats/failures/csv", "/exceptions/csv", "/tasks"]:
                seen[path] = get(path).text
            assert "token in use: ********" in seen["/logs"]
            proc.send_signal(signal.SIGINT)
            assert proc.wait(timeout=60) == 0, err_path.read_text()
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=20)
    files = _everything_written(tmp_path)
    log = files[str(tmp_path / "run.log")]
    assert "refused token ********" in log, log
    assert "Traceback" in log
    for name in ["out_stats.csv", "out_failures.csv", "out_exceptions.csv", "report.html", "result.json"]:
        assert str(tmp_path / name) in files, sorted(files)
    for where, text in {**seen, **files}.items():
        for secret in (CLI_SECRET, FORM_SECRET):
            assert secret not in text, f"{secret} in {where}"


def test_secret_option_is_masked_headless_and_in_usage_errors(tmp_path, target):
    proc = subprocess.run(
        locusta_cmd()
        + ["-f", lf("secret_option.py"), "--headless", "-u", "1", "-r", "10", "-t", "2", "-H", target,
           "--api-token", CLI_SECRET, "--csv", "out", "--html", "report.html", "--json"],
        capture_output=True, text=True, cwd=str(tmp_path), timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert "token in use: ********" in proc.stderr, proc.stderr
    files = _everything_written(tmp_path)
    assert str(tmp_path / "report.html") in files
    for where, text in {"stdout": proc.stdout, "stderr": proc.stderr, **files}.items():
        assert CLI_SECRET not in text, f"the secret in {where}"


def test_secret_option_value_is_not_echoed_by_usage_errors(tmp_path):
    lf_path = tmp_path / "typed.py"
    lf_path.write_text(
        "from locust import User, events, task\n"
        "@events.init_command_line_parser.add_listener\n"
        "def _(parser):\n"
        "    parser.add_argument('--pin', type=int, is_secret=True, default=0)\n"
        "    parser.add_argument('--num', type=int, default=0)\n"
        "class U(User):\n"
        "    @task\n"
        "    def t(self):\n"
        "        pass\n"
    )
    for flag, shown in [("--pin", "'********'"), ("--num", "'not-a-pin-S3CRET'")]:
        proc = subprocess.run(
            locusta_cmd() + ["-f", str(lf_path), "--headless", "-t", "1", flag, "not-a-pin-S3CRET"],
            capture_output=True, text=True, cwd=str(tmp_path), timeout=60,
        )
        assert proc.returncode == 2, proc.stderr
        assert f"argument {flag}: invalid int value: {shown}" in proc.stderr, proc.stderr
