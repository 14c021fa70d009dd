//! The soak benchmark's two halves (driven by `bench/soak.py`):
//!
//! - `soak stats HOURS NAMES ERRORS RPS`: compressed time. Feeds a `StatsHub` with `RPS` samples
//!   per simulated second for `HOURS` hours, spread over `NAMES` distinct names and `ERRORS`
//!   distinct error texts, merging every simulated second and appending a CSV history snapshot
//!   every simulated minute, exactly as a run does. Prints one JSON line per simulated hour
//!   with the RSS, so a long run's memory curve takes seconds to draw.
//! - `soak [locust flags]`: real traffic. A `SoakUser` with no wait hits the demo target (run it
//!   with `locusta demo-target`) at thousands of distinct `/_test/` URLs, with seeded random 5xx,
//!   resets, and thousands of distinct failure messages; the script samples RSS meanwhile.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use locusta::{task, TaskResult, User, UserClass};
use locusta_stats::{csv::CsvWriter, Sample, StatsHub, StatsLimits};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

static NEXT: AtomicU64 = AtomicU64::new(0);

/// Distinct request names of the traffic half (more than the default 1000-entry cap).
const TRAFFIC_NAMES: u64 = 3000;
/// Distinct failure messages of the traffic half (more than the default 1000-error cap).
const TRAFFIC_ERRORS: u64 = 5000;

async fn soak(user: &mut User) -> TaskResult {
    let i = NEXT.fetch_add(1, Ordering::Relaxed);
    match i % 100 {
        // 1%: the connection is reset
        0 => {
            user.client.get("/_fault/reset").send().await;
        }
        // 9%: seeded random 5xx under a handful of names
        1..=9 => {
            user.client
                .get("/_fault/random-5xx?seed=7&percent=30")
                .name(format!("/random-5xx/{}", i % 10))
                .send()
                .await;
        }
        // 10%: a failure decided by the user, with many distinct messages
        10..=19 => {
            let mut r = user
                .client
                .get("/hello")
                .name("/checked")
                .catch_response()
                .await;
            // 10 of every 100 requests land here: number them densely so all texts occur
            let n = (i / 100) * 10 + (i % 100 - 10);
            r.failure(format!("unexpected value {}", n % TRAFFIC_ERRORS));
        }
        // 80%: successful requests to thousands of distinct URLs, each its own name (what a
        // locustfile that forgets `name=` does)
        _ => {
            // 80 of every 100 requests land here: number them densely so all URLs occur
            let page = ((i / 100) * 80 + (i % 100 - 20)) % TRAFFIC_NAMES;
            user.client
                .get(&format!("/_test/status/200?page={page}"))
                .send()
                .await;
        }
    }
    Ok(())
}

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

fn arg(args: &[String], i: usize, default: u64) -> u64 {
    args.get(i).and_then(|a| a.parse().ok()).unwrap_or(default)
}

/// Compressed-time soak of the statistics and CSV history: see the module comment.
fn stats_soak(args: &[String]) -> i32 {
    let hours = arg(args, 0, 24);
    let names = arg(args, 1, 2000);
    let errors = arg(args, 2, 5000);
    let rps = arg(args, 3, 200);
    let start = 1_800_000_000.0;
    let hub = StatsHub::new_at(StatsLimits::default(), start);
    let dir = std::env::temp_dir().join(format!("locusta-soak-{}", std::process::id()));
    let prefix = dir.join("soak");
    let mut csv = match CsvWriter::create(&prefix, false) {
        Ok(w) => w,
        Err(e) => {
            eprintln!("{e}");
            return 1;
        }
    };
    let names: Vec<String> = (0..names).map(|n| format!("/page/{n}")).collect();
    let errors: Vec<String> = (0..errors)
        .map(|n| format!("unexpected value {n}"))
        .collect();
    let began = Instant::now();
    let mut total: u64 = 0;
    let mut failures: u64 = 0;
    for hour in 0..hours {
        for s in 0..3600u64 {
            let sec = start + (hour * 3600 + s) as f64;
            for k in 0..rps {
                let i = total;
                total += 1;
                let error = if k % 5 == 0 {
                    failures += 1;
                    Some(errors[(i % errors.len() as u64) as usize].as_str())
                } else {
                    None
                };
                hub.record_at(
                    &Sample {
                        method: "GET",
                        name: &names[(i % names.len() as u64) as usize],
                        response_time_us: Some(500 + (i * 7919) % 200_000),
                        content_length: 120,
                        error,
                    },
                    sec + k as f64 / rps as f64,
                );
            }
            hub.merge();
            if s % 60 == 59 {
                if let Err(e) = hub.read(|agg| csv.write_snapshot(agg, 50, sec)) {
                    eprintln!("{e}");
                    return 1;
                }
            }
        }
        println!(
            "{{\"hour\": {}, \"requests\": {total}, \"failures\": {failures}, \"rss_kib\": {}, \"elapsed_s\": {:.1}}}",
            hour + 1,
            rss_kib(),
            began.elapsed().as_secs_f64()
        );
    }
    let (recorded, failed, entries, error_rows) = hub.read(|agg| {
        (
            agg.total().num_requests(),
            agg.total().num_failures(),
            agg.entries().len(),
            agg.errors().len(),
        )
    });
    println!(
        "{{\"done\": true, \"recorded\": {recorded}, \"recorded_failures\": {failed}, \"entries\": {entries}, \"error_rows\": {error_rows}}}"
    );
    let _ = std::fs::remove_dir_all(&dir);
    0
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("stats") {
        std::process::exit(stats_soak(&args[1..]));
    }
    let users = vec![UserClass::new("SoakUser").task(task!(soak))];
    std::process::exit(locusta::run_cli(users));
}
