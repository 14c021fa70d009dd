# Locust's gRPC example (examples/grpc/locustfile.py in Locust's repository) ported to locusta:
# the only change is the import of GrpcUser (the example's own grpc_user module -> locusta's),
# and the example's in-process server is left out (the test starts one).
from locust import task

import hello_pb2
import hello_pb2_grpc
from locust.contrib.grpc import GrpcUser


class HelloGrpcUser(GrpcUser):
    host = "localhost:50051"
    stub_class = hello_pb2_grpc.HelloServiceStub

    @task
    def sayHello(self):
        self.stub.SayHello(hello_pb2.HelloRequest(name="Test"))
