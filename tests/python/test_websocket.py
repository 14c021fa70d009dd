"""WebSocketUser (a locusta addition, ``locust.contrib.websocket``) end to end: a locustfile
against ``locusta demo-target``'s /ws/echo and /ws/chat, checking what the users saw, the CSV
statistics and failures, and that ``events.request`` listeners get every WebSocket row."""

import re
import subprocess
import sys

import pytest

from conftest import lf


def test_websocket_users_against_the_demo_target(target, run_locustfile):
    run = run_locustfile(lf("websocket_users.py"), target, users=4, rate=50, time_s="3s")
    out = run.stdout + run.stderr
    assert "CHECK protocol=echo.v1" in out, out
    assert "CHECK refused status=404" in out, out
    assert 'CHECK closed closed by the server (code 1000, "close_after reached")' in out, out
    assert "CHECK timeout" in out, out
    assert "CHECK background=from the other greenlet" in out, out

    counts = run.counts()
    echo_users = counts[("WS", "echo")][0]
    assert echo_users >= 1 and counts[("WS", "echo")][1] == 0, counts
    iterations, failed = counts[("WS", "echo pair")]
    assert iterations >= 5 and failed == 0, counts
    assert counts[("WSS", "echo")][1] == 0 and counts[("WSS", "echo")][0] >= iterations, counts
    assert counts[("WSR", "echo")][1] == 0 and counts[("WSR", "echo")][0] >= iterations, counts
    assert counts[("WSP", "echo")][1] == 0 and counts[("WSP", "echo")][0] >= iterations, counts
    assert counts[("WS", "/ws/chat")][1] == 0, counts
    assert counts[("WS", "chat broadcast")][0] >= 5 and counts[("WS", "chat broadcast")][1] == 0, counts
    assert counts[("WS", "/ws/nope")] == (1, 1), counts
    assert counts[("WSR", "closing")] == (2, 1), counts
    assert counts[("WSR", "quiet")] == (2, 1), counts

    sizes = {(r["Type"], r["Name"]): float(r["Average Content Size"]) for r in run.csv_rows()}
    assert sizes[("WS", "echo pair")] == 100.0
    assert sizes[("WSR", "echo")] == 5.0

    failures = {(r["Method"], r["Name"]): r["Error"] for r in run.csv_rows("failures")}
    assert "WebSocketBadStatusException" in failures[("WS", "/ws/nope")], failures
    assert "404" in failures[("WS", "/ws/nope")], failures
    assert "WebSocketTimeoutException" in failures[("WSR", "quiet")], failures
    assert "WebSocketConnectionClosedException" in failures[("WSR", "closing")], failures

    listened = dict(re.findall(r"(\w+)=(\d+)", re.search(r"^LISTENER .*$", out, re.M).group(0)))
    assert int(listened["WSS"]) == counts[("WSS", "echo")][0] + counts[("WSS", "closing")][0] + counts[
        ("WSS", "quiet")
    ][0] + counts.get(("WSS", "/ws/chat"), (0, 0))[0], (listened, counts)
    assert int(listened["WSP"]) == counts[("WSP", "echo")][0]


@pytest.fixture
def socketio_server():
    proc = subprocess.Popen([sys.executable, lf("socketio_server.py")], stdout=subprocess.PIPE, text=True)
    url = proc.stdout.readline().strip()
    assert url.startswith("http://127.0.0.1:"), url
    yield url
    proc.kill()
    proc.wait()


def test_the_open_models_start_delay_counts_in_websocket_rows(target, run_locustfile):
    closed = run_locustfile(lf("ws_open_model.py"), target, users=2, time_s="4s")
    opened = run_locustfile(lf("ws_open_model.py"), target, "--arrival-rate", "20", users=2, time_s="4s")
    assert closed.code == 0 and opened.code == 0, opened.stderr[-2000:]
    closed_p50 = float({r["Name"]: r for r in closed.csv_rows()}["pair"]["50%"])
    opened_p50 = float({r["Name"]: r for r in opened.csv_rows()}["pair"]["50%"])
    # Closed: an echo on loopback. Open: 2 users cannot start 20 iterations a second, so
    # iterations start ever later and their delay is part of the pair's time.
    assert closed_p50 < 100, closed_p50
    assert opened_p50 > 600, opened_p50


def test_socketio_user_like_locust(socketio_server, run_locustfile, real_locust):
    """Locust's SocketIOUser example pattern, side by side with the real Locust 2.47: the same
    rows (request types and names), no failures, and what the users saw."""
    runs = {}
    for tool, cmd in (("locusta", None), ("locust", real_locust)):
        run = run_locustfile(lf("socketio_users.py"), "http://127.0.0.1:1", users=2, rate=10, time_s="3s", cmd=cmd,
                             env={"SIO_URL": socketio_server})
        out = run.stdout + run.stderr
        assert "EXAMPLE join reply: Joined room room1" in out, (tool, out[-3000:])
        assert "EXAMPLE broadcast seen: True" in out, (tool, out[-3000:])
        assert "EXAMPLE broadcast seen: False" not in out, (tool, out[-3000:])
        counts = run.counts()
        assert all(failed == 0 for _, failed in counts.values()), (tool, counts)
        runs[tool] = set(counts)
    assert runs["locusta"] == runs["locust"]
    assert {("WS", "connect"), ("WSC", "join_room"), ("WSE", "send_message"), ("WSR", "chat_message")} <= runs["locusta"]
