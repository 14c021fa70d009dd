//! Throughput benchmark: N sessions on one current-thread runtime hammering one URL.
//!
//! `cargo run --release -p locusta-http --example http_hammer -- URL SESSIONS SECONDS [spawn|inline]`
//! prints requests/s, process CPU seconds (getrusage) and requests per CPU-second, to compare with
//! `wrk -t1 -cSESSIONS` pinned to the same core.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use locusta_http::{ClientConfig, HttpClient, RequestSpec};

/// Counts heap allocations, to report allocations per request.
struct CountingAlloc;

static ALLOCS: AtomicU64 = AtomicU64::new(0);
/// Allocations of 4 KiB or more (read buffers, big futures).
static BIG_ALLOCS: AtomicU64 = AtomicU64::new(0);

// SAFETY: forwards to the system allocator unchanged; only counts calls.
unsafe impl std::alloc::GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: std::alloc::Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        if layout.size() >= 4096 {
            BIG_ALLOCS.fetch_add(1, Ordering::Relaxed);
        }
        unsafe { std::alloc::System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: std::alloc::Layout) {
        unsafe { std::alloc::System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: std::alloc::Layout, new: usize) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        if new >= 4096 {
            BIG_ALLOCS.fetch_add(1, Ordering::Relaxed);
        }
        unsafe { std::alloc::System.realloc(ptr, layout, new) }
    }
}

#[global_allocator]
static GLOBAL: CountingAlloc = CountingAlloc;

fn cpu_seconds() -> f64 {
    // SAFETY: getrusage only writes into the zeroed struct we pass.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let url = args
        .get(1)
        .cloned()
        .unwrap_or_else(|| "http://127.0.0.1:8080/".into());
    let sessions: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(50);
    let secs: u64 = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(5);
    let spawn = args.get(4).is_none_or(|m| m != "inline");
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("cannot build the tokio runtime: {e}");
            std::process::exit(1);
        }
    };
    let client = match HttpClient::new(ClientConfig {
        spawn_connections: spawn,
        ..Default::default()
    }) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("cannot build the client: {e}");
            std::process::exit(1);
        }
    };
    let ok = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let cpu0 = cpu_seconds();
    let allocs0 = ALLOCS.load(Ordering::Relaxed);
    let big0 = BIG_ALLOCS.load(Ordering::Relaxed);
    let t0 = Instant::now();
    rt.block_on(async {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
        let mut tasks = Vec::new();
        for _ in 0..sessions {
            let session = match client.session(None) {
                Ok(s) => s,
                Err(e) => {
                    eprintln!("cannot create a session: {e}");
                    return;
                }
            };
            let (ok, failed, url) = (ok.clone(), failed.clone(), url.clone());
            tasks.push(tokio::spawn(async move {
                while tokio::time::Instant::now() < deadline {
                    let ex = session.send(RequestSpec::get(url.clone())).await;
                    if ex.status() == 200 {
                        ok.fetch_add(1, Ordering::Relaxed);
                    } else {
                        failed.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }));
        }
        for t in tasks {
            let _ = t.await;
        }
    });
    let wall = t0.elapsed().as_secs_f64();
    let cpu = cpu_seconds() - cpu0;
    let n = ok.load(Ordering::Relaxed);
    let allocs = ALLOCS.load(Ordering::Relaxed) - allocs0;
    let big = BIG_ALLOCS.load(Ordering::Relaxed) - big0;
    println!(
        "mode={} sessions={sessions} ok={n} failed={} wall={wall:.2}s req/s={:.0} cpu={cpu:.2}s req/cpu-s={:.0} allocs/req={:.1} big-allocs/req={:.2}",
        if spawn { "spawn" } else { "inline" },
        failed.load(Ordering::Relaxed),
        n as f64 / wall,
        n as f64 / cpu,
        allocs as f64 / n.max(1) as f64,
        big as f64 / n.max(1) as f64
    );
}
