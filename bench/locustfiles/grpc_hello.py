"""bench/grpc.py, locusta side: Locust's gRPC example user (SayHello in a loop, no wait) on
locusta's GrpcUser, the import being the only change from Locust's pattern."""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "python", "data", "grpc"))

import hello_pb2  # noqa: E402
import hello_pb2_grpc  # noqa: E402
from locust import constant, task  # noqa: E402
from locust.contrib.grpc import GrpcUser  # noqa: E402


class HelloGrpcUser(GrpcUser):
    wait_time = constant(0)
    stub_class = hello_pb2_grpc.HelloServiceStub

    @task
    def say_hello(self):
        self.stub.SayHello(hello_pb2.HelloRequest(name="Test"))
