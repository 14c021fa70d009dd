"""``--otel`` end to end: locusta exports to an OTLP receiver started by the test (gRPC and
HTTP/protobuf, built from the official protocol definitions in otlp_receiver.py), and the
exported numbers are checked against the run's own CSV files.

Locust 2.47's contract: the ``locust.client.duration`` histogram (seconds, ``name`` attribute,
``error.type`` on failures), the ``locust.users.count`` gauge per ``user_class`` (not from
workers), the resource (``service.name`` ``locust``, ``filename``, ``profile``...), a CLIENT span
per HTTP request whose ``traceparent`` reaches the system under test, and the log records."""

import os
import socket
import subprocess
import time

import pytest
from conftest import lf, locusta_cmd

grpc = pytest.importorskip("grpc")
pytest.importorskip("opentelemetry.proto")

from otlp_receiver import GrpcReceiver, HeaderTarget, HttpReceiver, attrs  # noqa: E402

SPAN_KIND_CLIENT = 3
STATUS_ERROR = 2


@pytest.fixture
def header_target():
    t = HeaderTarget()
    yield t
    t.stop()


@pytest.fixture
def grpc_receiver():
    r = GrpcReceiver()
    yield r
    r.stop()


@pytest.fixture
def http_receiver():
    r = HttpReceiver()
    yield r
    r.stop()


def run(tmp_path, program, host, env, users=2, time_s="2s", timeout=60, extra=()):
    """Runs locusta headless with --otel and the given OTEL_* variables; returns
    (process, elapsed seconds, CSV prefix)."""
    prefix = str(tmp_path / f"otel{time.monotonic_ns()}")
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    full_env.update({"OTEL_METRIC_EXPORT_INTERVAL": "300", "OTEL_BSP_SCHEDULE_DELAY": "200"})
    full_env.update(env)
    args = locusta_cmd() + program + [
        "--headless", "-u", str(users), "-r", "20", "-t", time_s, "-H", host, "--otel",
        "--csv", prefix, "--only-summary", *extra,
    ]
    started = time.monotonic()
    proc = subprocess.run(args, capture_output=True, text=True, timeout=timeout, env=full_env, cwd=str(tmp_path))
    return proc, time.monotonic() - started, prefix


def csv_by_name(prefix):
    """{name: (requests, total response time in ms)} from the stats CSV, summed over methods."""
    import csv

    out = {}
    with open(f"{prefix}_stats.csv", newline="") as f:
        for r in csv.DictReader(f):
            if r["Name"] == "Aggregated":
                continue
            n, total = out.get(r["Name"], (0, 0.0))
            count = int(r["Request Count"])
            out[r["Name"]] = (n + count, total + count * float(r["Average Response Time"]))
    return out


def final_histogram(collected):
    """{(name, error.type): (count, sum in s)} from the last export of each process (cumulative
    points; a process is told apart by its points' start time)."""
    last = {}
    for _res, metric in collected.metrics("locust.client.duration"):
        assert metric.unit == "s"
        assert metric.description == "Time to last byte for requests"
        for dp in metric.histogram.data_points:
            a = attrs(dp.attributes)
            last[(dp.start_time_unix_nano, a["name"], a.get("error.type"))] = (dp.count, dp.sum)
    out = {}
    for (_start, name, err), (count, total) in last.items():
        c, s = out.get((name, err), (0, 0.0))
        out[(name, err)] = (c + count, s + total)
    return out


def assert_histogram_matches_csv(collected, prefix):
    hist = final_histogram(collected)
    assert hist, "no locust.client.duration exported"
    by_name = {}
    for (name, _err), (count, total) in hist.items():
        c, s = by_name.get(name, (0, 0.0))
        by_name[name] = (c + count, s + total)
    expected = csv_by_name(prefix)
    assert set(by_name) == set(expected), (by_name, expected)
    for name, (count, total_ms) in expected.items():
        assert by_name[name][0] == count, (name, by_name[name], count)
        assert by_name[name][1] * 1000 == pytest.approx(total_ms, rel=1e-6, abs=1e-3), name
    return hist


def users_gauge(collected):
    """[(user_class, value)] of every exported locust.users.count point."""
    out = []
    for _res, metric in collected.metrics("locust.users.count"):
        assert metric.unit == "{user}"
        for dp in metric.gauge.data_points:
            out.append((attrs(dp.attributes)["user_class"], dp.as_int))
    return out


def test_python_locustfile_over_grpc(tmp_path, grpc_receiver, header_target):
    proc, _, prefix = run(
        tmp_path, ["-f", lf("otel_user.py")], header_target.url,
        {"OTEL_EXPORTER_OTLP_ENDPOINT": grpc_receiver.endpoint, "OTEL_SERVICE_NAME": ""},
        extra=["--profile", "nightly"],
    )
    assert proc.returncode == 1, proc.stderr  # /fail fails, as in Locust
    assert "OpenTelemetry enabled" in proc.stderr
    got = grpc_receiver.collected
    hist = assert_histogram_matches_csv(got, prefix)
    # failures carry the exception class; successes no error.type
    assert ("/fail", "HTTPError") in hist and ("/fail", None) not in hist
    assert ("/ok?x=1", None) in hist and ("/ok/[id]", None) in hist and ("full", None) in hist
    # the users gauge: the user count, per class
    gauge = users_gauge(got)
    assert gauge and max(v for c, v in gauge if c == "OtelUser") == 2, gauge
    # the resource, as Locust describes a run
    res = got.metrics("locust.client.duration")[0][0]
    assert res["service.name"] == "locust"
    assert res["filename"].endswith("otel_user.py")
    assert res["profile"] == "nightly"
    assert res["host.name"] == socket.gethostname()
    assert res["service.version"]
    # a CLIENT span per request, named as Locust's requests instrumentation names them
    spans = [s for _r, s in got.spans()]
    names = {s.name for s in spans}
    assert {"GET /ok", "GET /ok/[id]", "GET /fail", "GET full"} <= names, names
    assert all(s.kind == SPAN_KIND_CLIENT for s in spans)
    assert all(" " in s.name for s in spans), "a span without its path or name"
    fail = next(s for s in spans if s.name == "GET /fail")
    assert fail.status.code == STATUS_ERROR
    fa = attrs(fail.attributes)
    assert fa["http.method"] == "GET" and fa["http.status_code"] == 500
    assert fa["user_agent.original"], fa  # the User-Agent the request sent
    assert fa["http.url"] == header_target.url + "/fail"
    ok = next(s for s in spans if s.name == "GET /ok")
    assert ok.status.code != STATUS_ERROR
    assert ok.end_time_unix_nano > ok.start_time_unix_nano
    # log records: Python's logging and the Rust crates' lines, each under its logger's name
    logs = got.logs()
    assert ("root", "INFO", "otel user starting") in logs, logs[:5]
    assert any(scope == "locusta.runners" and body.startswith("All users spawned") for scope, _lvl, body in logs), logs
    # the traceparent of each span reached the target
    sent = {tp for tp in header_target.traceparents if tp}
    assert len(sent) == len(header_target.traceparents), "a request went out without traceparent"
    exported = {f"00-{s.trace_id.hex()}-{s.span_id.hex()}-01" for s in spans}
    assert len(sent & exported) >= csv_by_name(prefix)["full"][0], "spans and traceparents disagree"


def test_rust_users_over_http_protobuf(tmp_path, http_receiver, target):
    proc, _, prefix = run(
        tmp_path, ["demo"], target,
        {"OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf", "OTEL_EXPORTER_OTLP_ENDPOINT": http_receiver.endpoint},
        users=3,
    )
    assert proc.returncode in (0, 1), proc.stderr
    got = http_receiver.collected
    assert_histogram_matches_csv(got, prefix)
    gauge = users_gauge(got)
    assert gauge, "no users gauge"
    # the classes' counts add up to the users at the peak
    by_time = {}
    for _res, metric in got.metrics("locust.users.count"):
        total = sum(dp.as_int for dp in metric.gauge.data_points)
        by_time[metric.gauge.data_points[0].time_unix_nano] = total
    assert max(by_time.values()) == 3, by_time
    spans = [s for _r, s in got.spans()]
    assert spans, "no spans over http/protobuf"
    methods = {s.name.split(" ", 1)[0] for s in spans}
    assert methods <= {"GET", "POST", "PUT", "DELETE", "PATCH", "HEAD"}, methods


def test_sampling_and_per_signal_exporters(tmp_path, grpc_receiver, header_target):
    # spans sampled out: none exported, yet the traceparent still goes out (not sampled)
    proc, _, _ = run(
        tmp_path, ["-f", lf("otel_user.py")], header_target.url,
        {"OTEL_EXPORTER_OTLP_ENDPOINT": grpc_receiver.endpoint, "OTEL_TRACES_SAMPLER": "always_off",
         "OTEL_METRICS_EXPORTER": "none"},
        time_s="1s",
    )
    assert "OpenTelemetry enabled" in proc.stderr, proc.stderr
    assert grpc_receiver.collected.spans() == []
    assert grpc_receiver.collected.metric_requests == []
    sent = [tp for tp in header_target.traceparents]
    assert sent and all(tp and tp.endswith("-00") for tp in sent), sent[:3]


def test_all_exporters_none_is_not_enabled(tmp_path, grpc_receiver, header_target):
    proc, _, _ = run(
        tmp_path, ["-f", lf("otel_user.py")], header_target.url,
        {"OTEL_EXPORTER_OTLP_ENDPOINT": grpc_receiver.endpoint, "OTEL_TRACES_EXPORTER": "none",
         "OTEL_METRICS_EXPORTER": "none", "OTEL_LOGS_EXPORTER": "none"},
        time_s="1s",
    )
    assert "No OpenTelemetry exporters configured, opentelemetry not enabled" in proc.stderr, proc.stderr
    assert "OpenTelemetry enabled" not in proc.stderr
    assert all(tp is None for tp in header_target.traceparents)
    assert grpc_receiver.collected.metric_requests == [] and grpc_receiver.collected.trace_requests == []


def test_unreachable_collector_does_not_hang(tmp_path, header_target):
    # a port that accepts connections and never answers: the worst kind of collector
    with socket.socket() as hole:
        hole.bind(("127.0.0.1", 0))
        hole.listen(64)
        endpoint = f"http://127.0.0.1:{hole.getsockname()[1]}"
        proc, elapsed, prefix = run(
            tmp_path, ["-f", lf("otel_user.py")], header_target.url,
            {"OTEL_EXPORTER_OTLP_ENDPOINT": endpoint}, time_s="1s", timeout=60,
        )
    assert proc.returncode == 1, proc.stderr  # /fail's failures, not the collector
    assert elapsed < 20, elapsed
    assert "OpenTelemetry: the collector did not take the last data within 5 s" in proc.stderr, proc.stderr
    assert csv_by_name(prefix)["/ok?x=1"][0] > 0


def test_distributed_workers_export_requests_master_the_gauge(tmp_path, grpc_receiver, header_target):
    proc, _, prefix = run(
        tmp_path, ["-f", lf("otel_user.py"), "--processes", "2"], header_target.url,
        {"OTEL_EXPORTER_OTLP_ENDPOINT": grpc_receiver.endpoint},
        users=4, time_s="3s", timeout=90,
    )
    assert proc.returncode == 1, proc.stderr
    got = grpc_receiver.collected
    # each worker exports its own requests; together they are the master's CSV
    assert_histogram_matches_csv(got, prefix)
    starts = {dp.start_time_unix_nano for _r, m in got.metrics("locust.client.duration") for dp in m.histogram.data_points}
    assert len(starts) == 2, "one histogram per worker"
    # the gauge comes from the master alone, with the workers' reported users
    gauge = users_gauge(got)
    assert gauge and max(v for _c, v in gauge) == 4, gauge
    # a worker's exports (the ones with requests) never carry the gauge
    for req in got.metric_requests:
        names = {m.name for rm in req.resource_metrics for sm in rm.scope_metrics for m in sm.metrics}
        assert not {"locust.client.duration", "locust.users.count"} <= names, names
