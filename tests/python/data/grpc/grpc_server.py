"""The demo target's gRPC services (hello.proto, shop.proto) served by grpcio, for the Python
end-to-end tests: ``python grpc_server.py PORT`` serves on 127.0.0.1:PORT (0: a free port) and
prints ``listening on PORT`` once it accepts calls. Stops on SIGTERM."""

import os
import signal
import sys
import threading
import time
from concurrent import futures

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import grpc  # noqa: E402
import hello_pb2  # noqa: E402
import hello_pb2_grpc  # noqa: E402
import shop_pb2  # noqa: E402
import shop_pb2_grpc  # noqa: E402


def echo(context):
    """Echoes the request metadata named x-echo* in the initial and trailing metadata, as the
    demo target does."""
    pairs = tuple((k, v) for k, v in context.invocation_metadata() if k.startswith("x-echo"))
    if pairs:
        context.send_initial_metadata(pairs)
        context.set_trailing_metadata(pairs)


def compress_if_asked(context):
    """Compresses the response with gzip when the call asks with x-compress: gzip, as the demo
    target does."""
    if ("x-compress", "gzip") in tuple(context.invocation_metadata()):
        context.set_compression(grpc.Compression.Gzip)


def product(i):
    return shop_pb2.Product(id=i, name=f"Product {i}", price_cents=100 + i * 25)


class Hello(hello_pb2_grpc.HelloServiceServicer):
    def SayHello(self, request, context):
        compress_if_asked(context)
        return hello_pb2.HelloResponse(message=f"Hello from locusta, {request.name}!")


class Shop(shop_pb2_grpc.ShopServicer):
    def GetProduct(self, request, context):
        echo(context)
        compress_if_asked(context)
        if request.delay_ms:
            time.sleep(min(request.delay_ms, 10_000) / 1000)
        if not 1 <= request.id <= 100:
            context.abort(grpc.StatusCode.NOT_FOUND, f"no product with id {request.id} (ids are 1 to 100)")
        return product(request.id)

    def ListProducts(self, request, context):
        echo(context)
        compress_if_asked(context)
        limit = min(request.limit or 10, 1000)
        for i in range(1, limit + 1):
            if i > 1 and request.interval_ms:
                time.sleep(min(request.interval_ms, 1000) / 1000)
            yield product((i - 1) % 100 + 1)

    def Checkout(self, request, context):
        echo(context)
        if request.quantity == 0:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "quantity must be at least 1")
        if request.quantity > 5:
            context.abort(
                grpc.StatusCode.FAILED_PRECONDITION,
                f"only 5 of product {request.product_id} in stock, {request.quantity} asked for",
            )
        return shop_pb2.Receipt(
            order_id=f"order-{request.product_id}-{request.quantity}",
            total_cents=product(request.product_id).price_cents * request.quantity,
        )

    def Sum(self, request_iterator, context):
        echo(context)
        total = count = 0
        for r in request_iterator:
            total += r.value
            count += 1
        return shop_pb2.SumReply(total=total, count=count)

    def Chat(self, request_iterator, context):
        echo(context)
        for m in request_iterator:
            yield shop_pb2.ChatMessage(text=f"echo: {m.text}")


def main():
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=32))
    hello_pb2_grpc.add_HelloServiceServicer_to_server(Hello(), server)
    shop_pb2_grpc.add_ShopServicer_to_server(Shop(), server)
    port = server.add_insecure_port(f"127.0.0.1:{int(sys.argv[1]) if len(sys.argv) > 1 else 0}")
    server.start()
    print(f"listening on {port}", flush=True)
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    done.wait()
    server.stop(0)


if __name__ == "__main__":
    main()
