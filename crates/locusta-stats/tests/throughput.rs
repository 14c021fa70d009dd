//! Integration test: the public API under concurrent load (bounded in count), checking exact
//! totals and that a concurrent reader (like the CSV writer) can merge while threads record.

use locusta_stats::{csv, Sample, StatsHub, StatsLimits};
use std::time::Instant;

#[test]
fn concurrent_recording_with_concurrent_merges() {
    let hub = StatsHub::new(StatsLimits::default());
    let threads = 2u64;
    let per_thread = 200_000u64;
    let start = Instant::now();
    let reader = {
        let hub = hub.clone();
        std::thread::spawn(move || {
            let mut merges = 0;
            while hub.read(|a| a.total().num_requests()) < threads * per_thread && merges < 10_000 {
                let _ = hub.read(csv::stats_csv);
                merges += 1;
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
            merges
        })
    };
    let workers: Vec<_> = (0..threads)
        .map(|t| {
            let hub = hub.clone();
            std::thread::spawn(move || {
                let names = ["/", "/api/items", "/api/users", "/login"];
                for i in 0..per_thread {
                    hub.record(&Sample {
                        method: if i % 5 == 0 { "POST" } else { "GET" },
                        name: names[(i % 4) as usize],
                        response_time_us: Some(100 + (i * 7 + t) % 50_000),
                        content_length: 512,
                        error: (i % 100 == 0).then_some("HTTPError('500 Server Error')"),
                    });
                }
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
    let elapsed = start.elapsed();
    let merges = reader.join().unwrap();
    hub.read(|a| {
        assert_eq!(a.total().num_requests(), threads * per_thread);
        assert_eq!(a.total().num_failures(), threads * per_thread / 100);
        let sum: u64 = a.entries().iter().map(|e| e.num_requests()).sum();
        assert_eq!(sum, threads * per_thread);
        assert_eq!(a.entries().len(), 8);
        assert_eq!(a.total().total_content_length(), threads * per_thread * 512);
        assert_eq!(a.total().min_response_time(), Some(0.1));
    });
    eprintln!(
        "recorded {} samples in {:?} ({:.0}/s) with {} concurrent reads",
        threads * per_thread,
        elapsed,
        (threads * per_thread) as f64 / elapsed.as_secs_f64(),
        merges
    );
}
