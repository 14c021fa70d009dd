//! The throughput benchmark's user: `GET /` in a loop with no wait, full statistics on.
//!
//! Uses mimalloc as the global allocator: the request path allocates a handful of small, short
//! lived objects, which mimalloc's per-thread free lists serve faster than glibc malloc.
//!
//! With `HAMMER_STREAMS=N` (N > 1) each task sends N requests at once and waits for all of them:
//! over HTTP/2 they are N streams of the user's one connection (`bench/http2.py --streams N`,
//! against `h2load -m N`).
//!
//! ```text
//! cargo run --release --example hammer -- --headless -u 50 -r 1000 -t 10s -H http://127.0.0.1:8080
//! HAMMER_STREAMS=10 cargo run --release --example hammer -- --http2 prior-knowledge ...
//! ```

use std::sync::OnceLock;

use locusta::{task, SessionOptions, TaskResult, User, UserClass};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Requests each task sends at once (`HAMMER_STREAMS`).
static STREAMS: OnceLock<usize> = OnceLock::new();

async fn fan_out(user: &mut User) -> TaskResult {
    let streams = STREAMS.get().copied().unwrap_or(1);
    let client = &user.client;
    futures_util::future::join_all((0..streams).map(|_| client.get("/").send())).await;
    Ok(())
}

fn main() {
    let streams = match std::env::var("HAMMER_STREAMS") {
        Err(_) => 1,
        Ok(value) => match value.parse::<usize>() {
            Ok(n) if n >= 1 => n,
            _ => {
                eprintln!("HAMMER_STREAMS must be a whole number >= 1, not {value:?}");
                std::process::exit(2);
            }
        },
    };
    let users = if streams == 1 {
        vec![locusta::demo_users::hammer_user_class()]
    } else {
        let _ = STREAMS.set(streams);
        vec![UserClass::new("HammerUser")
            .client_options(SessionOptions {
                verify_tls: Some(false),
                ..SessionOptions::default()
            })
            .task(task!(fan_out))]
    };
    std::process::exit(locusta::run_cli(users));
}
