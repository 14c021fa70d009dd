"""HTTP/2 for Python users: the ``http2`` class attribute of HttpUser / FastHttpUser and the
``--http2`` option, against the demo target's h2c (HTTP/2 with prior knowledge) on its own port.

The demo target counts the connections that spoke HTTP/2; a user's concurrent requests (gevent
greenlets) must share one connection as streams."""

import json
import os
import urllib.request

import pytest

from conftest import lf


def counters(target):
    with urllib.request.urlopen(f"{target}/_test/stats", timeout=10) as resp:
        return json.load(resp)


def run_users(run_locustfile, target, *classes_and_flags, expect="HTTP/2", users=3):
    os.environ["EXPECT_HTTP_VERSION"] = expect
    try:
        before = counters(target)["http2_connections"]
        run = run_locustfile(lf("http2_users.py"), target, *classes_and_flags, users=users, rate=50, time_s="3s")
        after = counters(target)["http2_connections"]
    finally:
        del os.environ["EXPECT_HTTP_VERSION"]
    assert run.code == 0, run.stderr
    counts = run.counts()
    assert counts[("GET", "echo")] == (users, 0), (counts, run.stderr)
    assert counts[("GET", "parallel")] == (10 * users, 0), (counts, run.stderr)
    return after - before, run


@pytest.mark.parametrize("user_class", ["H2cHttpUser", "H2cFastHttpUser"])
def test_the_http2_attribute_multiplexes_a_users_requests_on_one_connection(run_locustfile, target, user_class):
    opened, _ = run_users(run_locustfile, target, user_class)
    # one connection per user: the ten concurrent requests ran as streams of it
    assert opened == 3


def test_the_http2_option_applies_to_classes_without_the_attribute(run_locustfile, target):
    opened, _ = run_users(run_locustfile, target, "PlainHttpUser", "--http2", "prior-knowledge")
    assert opened == 3


def test_negotiate_keeps_http1_on_plain_http_and_off_is_the_default(run_locustfile, target):
    opened, _ = run_users(run_locustfile, target, "PlainHttpUser", "--http2", "negotiate", expect="HTTP/1.1")
    assert opened == 0
    opened, _ = run_users(run_locustfile, target, "PlainHttpUser", expect="HTTP/1.1")
    assert opened == 0


def test_a_wrong_mode_is_refused_with_the_choices(run_locustfile, target):
    run = run_locustfile(lf("http2_users.py"), target, "PlainHttpUser", "--http2", "h3")
    assert run.code != 0
    assert "choose from off, negotiate, prior-knowledge" in run.stderr, run.stderr
