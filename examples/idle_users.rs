//! The memory benchmark's user: mostly idle (`between(1, 5)`), one `GET /` per task, spread
//! over several loopback targets so that many users do not exhaust one address's ports.
//!
//! The targets come from `BENCH_TARGETS` (comma-separated base URLs); without it, the `-H` host
//! is used.
//!
//! ```text
//! BENCH_TARGETS=http://127.0.0.1:8080,http://127.0.0.2:8080 \
//!   cargo run --release --example idle_users -- --headless -u 10000 -r 2000 -t 30s -H http://127.0.0.1:8080
//! ```

use std::sync::OnceLock;

use locusta::wait_time::between;
use locusta::{task, TaskResult, User, UserClass};

fn targets() -> &'static [String] {
    static TARGETS: OnceLock<Vec<String>> = OnceLock::new();
    TARGETS.get_or_init(|| {
        std::env::var("BENCH_TARGETS")
            .unwrap_or_default()
            .split(',')
            .map(|s| s.trim().trim_end_matches('/').to_owned())
            .filter(|s| !s.is_empty())
            .collect()
    })
}

async fn index(user: &mut User) -> TaskResult {
    let all = targets();
    if all.is_empty() {
        user.client.get("/").send().await;
    } else {
        let url = format!("{}/", all[user.id() as usize % all.len()]);
        user.client.get(&url).name("/").send().await;
    }
    Ok(())
}

fn main() {
    let users = UserClass::new("IdleUser")
        .wait_time(between(1.0, 5.0))
        .task(task!(index));
    std::process::exit(locusta::run_cli(vec![users]));
}
