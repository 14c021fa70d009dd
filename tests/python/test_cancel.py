"""A greenlet that stops waiting for its Rust job (killed, stopped, or a ``gevent.Timeout``)
ends the job at once, in both I/O modes: a WebSocket receive without a time limit lets go of
its connection (the demo target sees it close), and a timed-out request's half-used connection
closes instead of going back to the pool, the next request working on a fresh one; WebSocket
users removed by a ramp-down end their connections."""

import re

import pytest

from conftest import lf


def checks(run):
    out = run.stdout + run.stderr
    return dict(re.findall(r"^CHECK (\w+ \w+)=(\S+)", out, re.M)), out


@pytest.mark.parametrize("io", ["inline", "thread"])
def test_a_killed_websocket_receive_closes_its_connection(run_locustfile, target, io, monkeypatch):
    monkeypatch.setenv("LOCUSTA_PY_IO", io)
    run = run_locustfile(lf("cancelled_jobs.py"), target, "ParkedInRecv", users=1, rate=10, time_s="4s")
    got, out = checks(run)
    assert got.get("ws opened") == "True", out[-3000:]
    closed = got.get("ws closed_after")
    assert closed not in (None, "None"), out[-3000:]
    # the server sees the close within a moment (it stayed open for good before)
    assert float(closed) < 1.0, out[-3000:]


@pytest.mark.parametrize("io", ["inline", "thread"])
def test_a_gevent_timeout_frees_the_connection_and_the_next_request_works(run_locustfile, target, io, monkeypatch):
    monkeypatch.setenv("LOCUSTA_PY_IO", io)
    run = run_locustfile(lf("cancelled_jobs.py"), target, "TimedOutRequest", users=1, rate=10, time_s="4s")
    got, out = checks(run)
    assert float(got["timeout fired_after"]) < 1.0, out[-3000:]
    freed = got.get("socket freed_after")
    assert freed not in (None, "None") and float(freed) < 1.0, out[-3000:]
    assert re.search(r"^CHECK next status=200 new_connections=1$", out, re.M), out[-3000:]
    counts = run.counts()
    # the abandoned request is not recorded (as with Locust, where the timeout escapes requests)
    assert ("GET", "slow") not in counts, counts
    assert counts[("GET", "next")] == (1, 0), counts


@pytest.mark.parametrize("io", ["inline", "thread"])
def test_a_ramp_down_ends_the_websockets_of_the_users_it_stops(run_locustfile, target, io, monkeypatch):
    monkeypatch.setenv("LOCUSTA_PY_IO", io)
    run = run_locustfile(lf("ws_ramp_down.py"), target, users=3, rate=50, time_s="6s")
    out = run.stdout + run.stderr
    got = dict(re.findall(r"^CHECK (\w+)=(\S+)", out, re.M))
    assert got.get("open_running") == "3", out[-3000:]
    assert got.get("open_after") == "0", out[-3000:]
