"""One GrpcUser that checks the gRPC API once against the shop service and stops the run:
prints ``CHECK <name> ok`` for each check that held, ``CHECK <name> FAILED <why>`` otherwise."""

import time

import grpc
import hello_pb2
import hello_pb2_grpc
import shop_pb2
import shop_pb2_grpc
from locust import events, task
from locust.contrib.grpc import GrpcChannel, GrpcUser, RpcError

seen = []


@events.request.add_listener
def on_request(request_type, name, response_time, response_length, exception, **kwargs):
    seen.append((request_type, name, response_time, response_length, exception))


def check(name, cond, why=""):
    print(f"CHECK {name} {'ok' if cond else 'FAILED ' + str(why)}", flush=True)


class ShopUser(GrpcUser):
    stub_class = shop_pb2_grpc.ShopStub

    @task
    def checks(self):
        p = self.stub.GetProduct(shop_pb2.ProductRequest(id=7))
        check("unary", p.name == "Product 7" and p.id == 7, p)
        last = seen[-1]
        check(
            "listener",
            last[0] == "grpc" and last[1] == "/locusta.demo.Shop/GetProduct" and last[3] == p.ByteSize()
            and last[4] is None and last[2] > 0,
            last,
        )

        try:
            self.stub.GetProduct(shop_pb2.ProductRequest(id=999))
            check("not_found", False, "no error raised")
        except grpc.RpcError as e:
            check(
                "not_found",
                isinstance(e, RpcError) and e.code() == grpc.StatusCode.NOT_FOUND
                and "no product with id 999" in e.details() and seen[-1][4] is e,
                (e.code(), e.details()),
            )

        items = list(self.stub.ListProducts(shop_pb2.ListRequest(limit=5, interval_ms=10)))
        check("stream", [i.id for i in items] == [1, 2, 3, 4, 5], items)
        check("stream_length", seen[-1][3] == sum(i.ByteSize() for i in items), seen[-1])

        # messages are handed over as they arrive: 3 messages 300 ms apart
        started = time.monotonic()
        stream = self.stub.ListProducts(shop_pb2.ListRequest(limit=3, interval_ms=300))
        first = next(stream)
        first_after = time.monotonic() - started
        rest = list(stream)
        whole = time.monotonic() - started
        check(
            "stream_incremental",
            first.id == 1 and len(rest) == 2 and first_after < 0.25 and whole >= 0.55 and seen[-1][2] >= 550,
            (first_after, whole, seen[-1]),
        )

        # a stream the caller stops reading is recorded then, with what arrived
        before = len(seen)
        stream = self.stub.ListProducts(shop_pb2.ListRequest(limit=100, interval_ms=50))
        one = next(stream)
        stream.cancel()
        check(
            "stream_cancel",
            one.id == 1 and len(seen) == before + 1 and seen[-1][4] is None and seen[-1][3] == one.ByteSize()
            and stream.code() == grpc.StatusCode.CANCELLED and list(stream) == [],
            (seen[before:], stream.code()),
        )

        started = time.monotonic()
        try:
            self.stub.GetProduct(shop_pb2.ProductRequest(id=1, delay_ms=3000), timeout=0.2)
            check("deadline", False, "no error raised")
        except grpc.RpcError as e:
            took = time.monotonic() - started
            check("deadline", e.code() == grpc.StatusCode.DEADLINE_EXCEEDED and took < 2, (e.code(), took))

        response, call = self.stub.Checkout.with_call(shop_pb2.CheckoutRequest(product_id=2, quantity=2))
        check("with_call", response.order_id == "order-2-2" and call.code() == grpc.StatusCode.OK, response)

        # request metadata is sent; the server's initial and trailing metadata come back
        response, call = self.stub.Checkout.with_call(
            shop_pb2.CheckoutRequest(product_id=1, quantity=1),
            metadata=(("x-echo-id", "abc-1"), ("x-echo-bin", b"\x00\x01\xff")),
        )
        initial, trailing = dict(call.initial_metadata()), dict(call.trailing_metadata())
        check(
            "metadata",
            initial.get("x-echo-id") == "abc-1" and trailing.get("x-echo-id") == "abc-1"
            and "grpc-status" not in trailing and "content-type" not in initial,
            (call.initial_metadata(), call.trailing_metadata()),
        )
        check(
            "metadata_bin",
            initial.get("x-echo-bin") == b"\x00\x01\xff" and trailing.get("x-echo-bin") == b"\x00\x01\xff",
            (call.initial_metadata(), call.trailing_metadata()),
        )
        try:
            self.stub.Checkout(shop_pb2.CheckoutRequest(product_id=1, quantity=9), metadata=[("x-echo-id", "e")])
            check("error_metadata", False, "no error raised")
        except grpc.RpcError as e:
            got = dict(e.trailing_metadata())
            check("error_metadata", got.get("x-echo-id") == "e", (e.initial_metadata(), e.trailing_metadata()))
        stream = self.stub.ListProducts(shop_pb2.ListRequest(limit=2), metadata=[("x-echo-id", "s")])
        items = list(stream)
        check(
            "stream_metadata",
            len(items) == 2 and dict(stream.initial_metadata()).get("x-echo-id") == "s"
            and dict(stream.trailing_metadata()).get("x-echo-id") == "s",
            (stream.initial_metadata(), stream.trailing_metadata()),
        )

        # gzip-compressed responses are decompressed (both servers compress when asked)
        p = self.stub.GetProduct(shop_pb2.ProductRequest(id=9), metadata=[("x-compress", "gzip")])
        items = list(self.stub.ListProducts(shop_pb2.ListRequest(limit=3), metadata=[("x-compress", "gzip")]))
        check(
            "gzip",
            p.name == "Product 9" and [i.id for i in items] == [1, 2, 3]
            and seen[-1][3] == sum(i.ByteSize() for i in items) and seen[-1][4] is None,
            (p, items, seen[-1]),
        )
        # grpcio compresses only when that makes the message smaller: a large one
        hello = hello_pb2_grpc.HelloServiceStub(self._channel).SayHello(
            hello_pb2.HelloRequest(name="x" * 2000), metadata=[("x-compress", "gzip")]
        )
        check(
            "gzip_large",
            hello.message == f"Hello from locusta, {'x' * 2000}!" and seen[-1][3] == hello.ByteSize(),
            (len(hello.message), seen[-1]),
        )

        # grpcio's call arguments locusta's channel does not apply are named in a warning (once
        # each; the test counts it); wait_for_ready=False is what the channel does anyway
        for _ in range(2):
            p = self.stub.GetProduct(
                shop_pb2.ProductRequest(id=3), compression=grpc.Compression.Gzip, wait_for_ready=False
            )
        check("ignored_arguments", p.id == 3, p)

        # client streaming: an iterator of requests in, one response out; one row per call
        before = len(seen)
        reply = self.stub.Sum(shop_pb2.SumRequest(value=v) for v in (1, 2, 3, 4))
        check(
            "client_stream",
            reply.total == 10 and reply.count == 4 and len(seen) == before + 1
            and seen[-1][1] == "/locusta.demo.Shop/Sum" and seen[-1][3] == reply.ByteSize(),
            (reply, seen[before:]),
        )
        reply, call = self.stub.Sum.with_call(iter([]), metadata=[("x-echo-id", "z")])
        check(
            "client_stream_with_call",
            reply.total == 0 and reply.count == 0 and call.code() == grpc.StatusCode.OK
            and dict(call.trailing_metadata()).get("x-echo-id") == "z",
            (reply, call.trailing_metadata()),
        )

        # bidirectional: an iterator of requests in, an iterator of responses out
        before = len(seen)
        texts = [m.text for m in self.stub.Chat(shop_pb2.ChatMessage(text=t) for t in ("a", "bc", "d"))]
        check(
            "bidi",
            texts == ["echo: a", "echo: bc", "echo: d"] and len(seen) == before + 1
            and seen[-1][1] == "/locusta.demo.Shop/Chat" and seen[-1][4] is None,
            (texts, seen[before:]),
        )

        nope = self._channel.unary_unary(
            "/locusta.demo.Shop/Nope",
            request_serializer=shop_pb2.ProductRequest.SerializeToString,
            response_deserializer=shop_pb2.Product.FromString,
        )
        try:
            nope(shop_pb2.ProductRequest(id=1))
            check("unimplemented", False, "no error raised")
        except grpc.RpcError as e:
            check("unimplemented", e.code() == grpc.StatusCode.UNIMPLEMENTED, (e.code(), e.details()))

        dead = shop_pb2_grpc.ShopStub(GrpcChannel("127.0.0.1:1", request_event=self.environment.events.request))
        try:
            dead.GetProduct(shop_pb2.ProductRequest(id=1))
            check("unavailable", False, "no error raised")
        except grpc.RpcError as e:
            check("unavailable", e.code() == grpc.StatusCode.UNAVAILABLE and "refused" in e.details(), e.details())

        self.environment.runner.quit()
