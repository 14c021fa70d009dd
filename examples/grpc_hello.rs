//! A Rust-native gRPC user: `SayHello` of Locust's gRPC example (hello.proto) in a loop with no
//! wait, on the user's HTTP/2 session, recorded as `grpc /locust.hello.HelloService/SayHello`.
//! The gRPC benchmark's Rust-native side (bench/grpc.py).
//!
//! ```text
//! cargo run --release --example grpc_hello -- --headless -u 20 -r 1000 -t 10s -H http://127.0.0.1:50051
//! ```

use locusta::wait_time::constant;
use locusta::{Http2Mode, SessionOptions, Task, UserClass};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// `HelloRequest { name: "Test" }`, encoded (field 1, length-delimited).
const HELLO_TEST: &[u8] = &[10, 4, b'T', b'e', b's', b't'];

fn main() {
    let class = UserClass::new("HelloGrpcUser")
        .client_options(SessionOptions {
            // gRPC is HTTP/2; a plain-text target speaks it from the first byte
            http2: Some(Http2Mode::PriorKnowledge),
            ..SessionOptions::default()
        })
        .wait_time(constant(0.0))
        .task(Task::new("say_hello", |user| {
            Box::pin(async move {
                // recorded either way; a failed call is a failure in the statistics, as in
                // Locust's example (whose interceptor swallows the RpcError)
                let _reply = user
                    .client
                    .grpc()
                    .unary("locust.hello.HelloService/SayHello", HELLO_TEST)
                    .await;
                Ok(())
            })
        }));
    std::process::exit(locusta::run_cli(vec![class]));
}
