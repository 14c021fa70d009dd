//! The demo target's gRPC services by themselves, over h2c on loopback, for the benchmark
//! (bench/grpc.py): `cargo run --release -p locusta-grpc --example grpc_target -- PORT`.
//! Prints `listening on PORT` once it accepts calls; runs until killed.

fn main() {
    let port: u16 = match std::env::args().nth(1).map(|p| p.parse()) {
        None => 0,
        Some(Ok(p)) => p,
        Some(Err(e)) => {
            eprintln!("usage: grpc_target [PORT]: the port must be a number ({e})");
            std::process::exit(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("cannot start the runtime: {e}");
            std::process::exit(1);
        }
    };
    let served = runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
        println!("listening on {}", listener.local_addr()?.port());
        locusta_demo::grpc::serve_h2c(listener).await
    });
    if let Err(e) = served {
        eprintln!("grpc_target: {e}");
        std::process::exit(1);
    }
}
