"""gRPC users end to end: Locust's gRPC example (ported by changing the GrpcUser import) and the
shop service's unary, streaming and failing calls, through locusta's Rust HTTP/2 client, against
the demo target (its gRPC services on its own port, h2c) and against the same services written
with grpcio (tests/python/data/grpc/grpc_server.py), in both I/O modes."""

import os
import re
import subprocess
import sys

import pytest

pytest.importorskip("grpc", reason="the generated stubs need grpcio")
pytest.importorskip("google.protobuf", reason="the generated messages need protobuf")

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "grpc")


@pytest.fixture(scope="module")
def grpc_target():
    """grpcio serving hello.proto and shop.proto on a free loopback port; yields its URL (-H needs
    a scheme; a class's host may be host:port)."""
    proc = subprocess.Popen(
        [sys.executable, os.path.join(DATA, "grpc_server.py"), "0"],
        stdout=subprocess.PIPE,
        text=True,
    )
    line = proc.stdout.readline()
    m = re.search(r"listening on (\d+)", line)
    assert m, f"grpc_server.py did not start: {line!r}"
    yield f"http://127.0.0.1:{m.group(1)}"
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.fixture(params=["demo-target", "grpcio"])
def server(request):
    """The URL of a server of hello.proto and shop.proto: locusta's demo target, or grpcio's."""
    return request.getfixturevalue("target" if request.param == "demo-target" else "grpc_target")


@pytest.fixture(params=["inline", "thread"])
def io_mode(request, monkeypatch):
    if request.param == "thread":
        monkeypatch.setenv("LOCUSTA_PY_IO", "thread")
    else:
        monkeypatch.delenv("LOCUSTA_PY_IO", raising=False)
    return request.param


def test_locusts_grpc_example_runs_with_only_the_import_changed(run_locustfile, server, io_mode):
    run = run_locustfile(os.path.join(DATA, "locustfile.py"), server, users=4, rate=4, time_s="2s", cwd=DATA)
    assert run.code == 0, run.stderr
    counts = run.counts()
    requests, failures = counts.get(("grpc", "/locust.hello.HelloService/SayHello"), (0, 0))
    assert requests > 20 and failures == 0, (counts, run.stderr[-2000:])
    row = next(r for r in run.csv_rows() if r["Name"] == "/locust.hello.HelloService/SayHello")
    # HelloResponse(message="Hello from locusta, Test!") is 27 bytes
    assert float(row["Average Content Size"]) == 27.0, row


def test_unary_streaming_errors_deadlines_and_listeners(run_locustfile, server, io_mode):
    run = run_locustfile(os.path.join(DATA, "shop_checks.py"), server, users=1, rate=1, time_s="20s", cwd=DATA)
    checks = dict(re.findall(r"^CHECK (\S+) (.*)$", run.stdout, re.M))
    expected = ["unary", "listener", "not_found", "stream", "stream_length", "stream_incremental",
                "stream_cancel", "deadline", "with_call", "metadata", "metadata_bin", "error_metadata",
                "stream_metadata", "gzip", "gzip_large", "ignored_arguments", "client_stream", "client_stream_with_call", "bidi",
                "unimplemented", "unavailable"]
    assert {k: checks.get(k) for k in expected} == {k: "ok" for k in expected}, (run.stdout, run.stderr[-3000:])
    counts = run.counts()
    # id 7 ok, 999 NOT_FOUND, the deadline: 3 calls, 2 failures (+ the refused one on port 1),
    # and the two with arguments the channel ignores
    assert counts[("grpc", "/locusta.demo.Shop/GetProduct")] == (7, 3), counts
    assert run.stderr.count("gRPC channel ignores compression=") == 1, run.stderr[-3000:]
    assert "wait_for_ready" not in run.stderr, run.stderr[-3000:]
    assert counts[("grpc", "/locusta.demo.Shop/ListProducts")] == (5, 0), counts
    assert counts[("grpc", "/locusta.demo.Shop/Sum")] == (2, 0), counts
    assert counts[("grpc", "/locusta.demo.Shop/Chat")] == (1, 0), counts
    # with_call twice (the second with metadata), and the refused checkout
    assert counts[("grpc", "/locusta.demo.Shop/Checkout")] == (3, 1), counts
    assert counts[("grpc", "/locusta.demo.Shop/Nope")] == (1, 1), counts
    errors = {r["Error"] for r in run.csv_rows("failures")}
    assert any("StatusCode.NOT_FOUND" in e and "no product with id 999" in e for e in errors), errors
    assert any("StatusCode.DEADLINE_EXCEEDED" in e for e in errors), errors
