//! The throughput benchmark's user: `GET /` in a loop with no wait, full statistics on.
//!
//! Uses mimalloc as the global allocator: the request path allocates a handful of small, short
//! lived objects, which mimalloc's per-thread free lists serve faster than glibc malloc.
//!
//! ```text
//! cargo run --release --example hammer -- --headless -u 50 -r 1000 -t 10s -H http://127.0.0.1:8080
//! ```

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let users = vec![locusta::demo_users::hammer_user_class()];
    std::process::exit(locusta::run_cli(users));
}
