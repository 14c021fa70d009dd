"""A small OTLP receiver for the ``--otel`` tests, built from the official protocol definitions
(PyPI ``opentelemetry-proto``): the collector's gRPC services on ``grpcio`` and the
HTTP/protobuf endpoints (``/v1/metrics``, ``/v1/traces``, ``/v1/logs``) on the standard library. It keeps
every export request it gets, decoded, and answers success. Loopback only.

Also a tiny target that answers ``/ok`` (200) and ``/fail`` (500) and remembers the
``traceparent`` header of every request, to see the propagation from the load generator.
"""

import gzip
import threading
from concurrent import futures
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from opentelemetry.proto.collector.logs.v1 import logs_service_pb2, logs_service_pb2_grpc
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2, metrics_service_pb2_grpc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc


class Collected:
    """Export requests received so far (thread-safe)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.metric_requests = []
        self.trace_requests = []
        self.log_requests = []

    def add_metrics(self, req):
        with self.lock:
            self.metric_requests.append(req)

    def add_traces(self, req):
        with self.lock:
            self.trace_requests.append(req)

    def add_logs(self, req):
        with self.lock:
            self.log_requests.append(req)

    # --- views -----------------------------------------------------------------------------

    def metrics(self, name):
        """[(resource attributes, metric)] for every exported metric called ``name``, in the
        order received."""
        out = []
        with self.lock:
            reqs = list(self.metric_requests)
        for req in reqs:
            for rm in req.resource_metrics:
                res = attrs(rm.resource.attributes)
                for sm in rm.scope_metrics:
                    for m in sm.metrics:
                        if m.name == name:
                            out.append((res, m))
        return out

    def logs(self):
        """[(scope name, severity text, body)] for every exported log record."""
        out = []
        with self.lock:
            reqs = list(self.log_requests)
        for req in reqs:
            for rl in req.resource_logs:
                for sl in rl.scope_logs:
                    for rec in sl.log_records:
                        out.append((sl.scope.name, rec.severity_text, value(rec.body)))
        return out

    def spans(self):
        """[(resource attributes, span)] for every exported span."""
        out = []
        with self.lock:
            reqs = list(self.trace_requests)
        for req in reqs:
            for rs in req.resource_spans:
                res = attrs(rs.resource.attributes)
                for ss in rs.scope_spans:
                    for s in ss.spans:
                        out.append((res, s))
        return out


def value(v):
    """A protobuf AnyValue as a Python value."""
    kind = v.WhichOneof("value")
    return getattr(v, kind) if kind else None


def attrs(kvs):
    """Protobuf KeyValues as a dict."""
    return {kv.key: value(kv.value) for kv in kvs}


class _Metrics(metrics_service_pb2_grpc.MetricsServiceServicer):
    def __init__(self, collected):
        self.collected = collected

    def Export(self, request, context):
        self.collected.add_metrics(request)
        return metrics_service_pb2.ExportMetricsServiceResponse()


class _Traces(trace_service_pb2_grpc.TraceServiceServicer):
    def __init__(self, collected):
        self.collected = collected

    def Export(self, request, context):
        self.collected.add_traces(request)
        return trace_service_pb2.ExportTraceServiceResponse()


class _Logs(logs_service_pb2_grpc.LogsServiceServicer):
    def __init__(self, collected):
        self.collected = collected

    def Export(self, request, context):
        self.collected.add_logs(request)
        return logs_service_pb2.ExportLogsServiceResponse()


class GrpcReceiver:
    """The collector's gRPC OTLP services on a free loopback port (``endpoint``)."""

    def __init__(self):
        self.collected = Collected()
        self.server = __import__("grpc").server(futures.ThreadPoolExecutor(max_workers=4))
        metrics_service_pb2_grpc.add_MetricsServiceServicer_to_server(_Metrics(self.collected), self.server)
        trace_service_pb2_grpc.add_TraceServiceServicer_to_server(_Traces(self.collected), self.server)
        logs_service_pb2_grpc.add_LogsServiceServicer_to_server(_Logs(self.collected), self.server)
        port = self.server.add_insecure_port("127.0.0.1:0")
        self.endpoint = f"http://127.0.0.1:{port}"
        self.server.start()

    def stop(self):
        self.server.stop(grace=None)


class HttpReceiver:
    """OTLP over HTTP/protobuf on a free loopback port (``endpoint``, the base URL)."""

    def __init__(self):
        collected = self.collected = Collected()

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                if self.path == "/v1/metrics":
                    req = metrics_service_pb2.ExportMetricsServiceRequest()
                    req.ParseFromString(body)
                    collected.add_metrics(req)
                    answer = metrics_service_pb2.ExportMetricsServiceResponse()
                elif self.path == "/v1/traces":
                    req = trace_service_pb2.ExportTraceServiceRequest()
                    req.ParseFromString(body)
                    collected.add_traces(req)
                    answer = trace_service_pb2.ExportTraceServiceResponse()
                elif self.path == "/v1/logs":
                    req = logs_service_pb2.ExportLogsServiceRequest()
                    req.ParseFromString(body)
                    collected.add_logs(req)
                    answer = logs_service_pb2.ExportLogsServiceResponse()
                else:
                    self.send_response(404)
                    self.end_headers()
                    return
                out = answer.SerializeToString()
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.endpoint = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


class HeaderTarget:
    """``/ok`` answers 200, ``/fail`` 500, anything else 404; ``traceparents`` lists the
    ``traceparent`` header of each request (``None`` when absent)."""

    def __init__(self):
        self.traceparents = []
        seen = self.traceparents

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # one write per response, no Nagle: no 40 ms delayed-ACK stalls on keep-alive
            wbufsize = 1 << 16
            disable_nagle_algorithm = True

            def log_message(self, *args):
                pass

            def do_GET(self):
                seen.append(self.headers.get("traceparent"))
                path = self.path.split("?")[0]
                status = 200 if path.startswith("/ok") else 500 if path.startswith("/fail") else 404
                body = b"hello"
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()
