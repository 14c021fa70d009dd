"""bench/grpc.py, Locust side: the GrpcUser pattern Locust documents (examples/grpc in Locust's
repository): grpcio patched for gevent, a grpc_interceptor client interceptor that times each
call and fires ``events.request`` (request_type "grpc", the method path as name, the response's
ByteSize as length). SayHello in a loop, no wait. Needs grpcio and grpc-interceptor."""

import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "python", "data", "grpc"))

import grpc  # noqa: E402
import grpc.experimental.gevent as grpc_gevent  # noqa: E402
import hello_pb2  # noqa: E402
import hello_pb2_grpc  # noqa: E402
from grpc_interceptor import ClientInterceptor  # noqa: E402
from locust import User, constant, task  # noqa: E402

grpc_gevent.init_gevent()


class RecordingInterceptor(ClientInterceptor):
    def __init__(self, environment):
        super().__init__()
        self.environment = environment

    def intercept(self, method, request_or_iterator, call_details):
        started = time.perf_counter()
        response, exception, length = None, None, 0
        try:
            response = method(request_or_iterator, call_details)
            length = response.result().ByteSize()
        except grpc.RpcError as e:
            exception = e
        self.environment.events.request.fire(
            request_type="grpc",
            name=call_details.method,
            response_time=(time.perf_counter() - started) * 1000,
            response_length=length,
            response=response,
            context=None,
            exception=exception,
        )
        return response


class HelloGrpcUser(User):
    wait_time = constant(0)

    def __init__(self, environment):
        super().__init__(environment)
        target = self.host.split("://", 1)[-1]
        channel = grpc.intercept_channel(grpc.insecure_channel(target), RecordingInterceptor(environment))
        self.stub = hello_pb2_grpc.HelloServiceStub(channel)

    @task
    def say_hello(self):
        self.stub.SayHello(hello_pb2.HelloRequest(name="Test"))
