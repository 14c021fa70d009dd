"""WebSocketUser (a locusta addition, ``locust.contrib.websocket``) end to end: a locustfile
against ``locusta demo-target``'s /ws/echo and /ws/chat, checking what the users saw, the CSV
statistics and failures, and that ``events.request`` listeners get every WebSocket row."""

import re

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
