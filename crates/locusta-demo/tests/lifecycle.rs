//! Server lifecycle (start, shutdown, drop, `serve` on a caller's runtime, multi-threaded
//! runtime) and the checkout bottleneck.

mod common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use common::{start, start_with, Client};
use locusta_demo::{serve, DemoConfig, DemoServer};

/// Runs `n` checkouts (each user with one item in its cart) at once; returns the wall time
/// and every latency.
async fn concurrent_checkouts(addr: SocketAddr, n: usize) -> (Duration, Vec<Duration>) {
    let mut clients = Vec::new();
    for i in 0..n {
        let mut client = Client::connect(addr).await;
        client.login().await;
        let body = format!(r#"{{"product_id":{},"quantity":1}}"#, i + 1);
        assert_eq!(client.post_json("/api/cart/items", &body).await.status, 201);
        clients.push(client);
    }
    let started = Instant::now();
    let tasks: Vec<_> = clients
        .into_iter()
        .map(|mut client| {
            tokio::spawn(async move {
                let sent = Instant::now();
                let reply = client
                    .post_json("/api/orders", r#"{"payment_method":"test"}"#)
                    .await;
                assert_eq!(reply.status, 201, "{}", reply.text());
                sent.elapsed()
            })
        })
        .collect();
    let mut latencies = Vec::new();
    for task in tasks {
        latencies.push(task.await.unwrap());
    }
    (started.elapsed(), latencies)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checkout_serialises_on_the_inventory_lock_but_pages_do_not() {
    let hold = Duration::from_millis(50);
    let server = start_with(DemoConfig {
        checkout_hold: hold,
        threads: 1,
        ..DemoConfig::default()
    });
    let n = 20;
    let (total, latencies) = concurrent_checkouts(server.addr(), n).await;
    assert!(total >= hold * n as u32, "20 checkouts took only {total:?}");
    let slowest = latencies.iter().max().copied().unwrap();
    assert!(
        slowest >= hold * (n as u32 - 1),
        "slowest checkout {slowest:?}"
    );

    // The same concurrency on the home page is nowhere near that.
    let mut clients = Vec::new();
    for _ in 0..n {
        clients.push(Client::connect(server.addr()).await);
    }
    let started = Instant::now();
    let tasks: Vec<_> = clients
        .into_iter()
        .map(|mut client| tokio::spawn(async move { client.get("/").await.status }))
        .collect();
    for task in tasks {
        assert_eq!(task.await.unwrap(), 200);
    }
    let pages = started.elapsed();
    assert!(
        pages < hold * n as u32 / 2,
        "20 concurrent GET / took {pages:?}"
    );

    let stats = common::stats(server.addr()).await;
    assert_eq!(stats["orders_created"], n);
    assert!(
        stats["checkouts_max_in_flight"].as_u64().unwrap() >= 10,
        "{stats}"
    );
    assert_eq!(stats["checkouts_in_flight"], 0);
}

#[tokio::test]
async fn checkout_hold_is_configurable() {
    let server = start_with(DemoConfig {
        checkout_hold: Duration::from_millis(300),
        threads: 1,
        ..DemoConfig::default()
    });
    let (total, _) = concurrent_checkouts(server.addr(), 1).await;
    assert!(total >= Duration::from_millis(300), "{total:?}");

    let fast = start_with(DemoConfig {
        checkout_hold: Duration::ZERO,
        threads: 1,
        ..DemoConfig::default()
    });
    let (total, _) = concurrent_checkouts(fast.addr(), 5).await;
    assert!(total < Duration::from_millis(300), "{total:?}");
}

#[test]
fn shutdown_releases_the_port_and_closes_connections() {
    let server = start();
    let addr = server.addr();
    let mut idle = common::raw_connect(addr);
    common::raw_send(&mut idle, "GET", "/");
    assert_eq!(common::raw_read_response(&mut idle).0, 200);

    let started = Instant::now();
    server.shutdown();
    assert!(started.elapsed() < Duration::from_secs(3));
    // The idle keep-alive connection was closed by the server.
    let (rest, _) = common::raw_read_to_end(&mut idle);
    assert!(rest.is_empty());
    // Nothing listens any more, and the port can be bound again.
    assert!(std::net::TcpStream::connect(addr).is_err());
    let again = DemoServer::start(addr, DemoConfig::default()).unwrap();
    assert_eq!(again.addr(), addr);
    drop(again);
    std::net::TcpListener::bind(addr).unwrap();
}

#[test]
fn drop_stops_the_server() {
    let addr = {
        let server = start();
        server.addr()
    };
    assert!(std::net::TcpStream::connect(addr).is_err());
}

#[test]
fn shutdown_does_not_wait_for_slow_requests_forever() {
    let server = start();
    let mut stream = common::raw_connect(server.addr());
    common::raw_send(&mut stream, "GET", "/_test/delay?ms=10000");
    std::thread::sleep(Duration::from_millis(50));
    let started = Instant::now();
    server.shutdown();
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn multi_threaded_runtime_serves() {
    for threads in [0, 2] {
        let server = start_with(DemoConfig {
            checkout_hold: Duration::from_millis(1),
            threads,
            ..DemoConfig::default()
        });
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let mut handles = Vec::new();
            for _ in 0..8 {
                let addr = server.addr();
                handles.push(tokio::spawn(async move {
                    let mut client = Client::connect(addr).await;
                    for _ in 0..25 {
                        assert_eq!(client.get("/api/products/1").await.status, 200);
                    }
                }));
            }
            for handle in handles {
                handle.await.unwrap();
            }
            let stats = common::stats(server.addr()).await;
            assert_eq!(stats["requests"], 201);
        });
        server.shutdown();
    }
}

#[tokio::test]
async fn serve_runs_on_the_callers_runtime() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(serve(listener, DemoConfig::default()));
    let mut client = Client::connect(addr).await;
    assert_eq!(client.get("/").await.status, 200);
    client.login().await;
    assert_eq!(
        client
            .post_json("/api/orders", r#"{"payment_method":"test"}"#)
            .await
            .status,
        409
    );
    task.abort();
    assert!(task.await.unwrap_err().is_cancelled());
}

#[tokio::test]
async fn oversized_bodies_are_refused() {
    let server = start();
    let mut client = Client::connect(server.addr()).await;
    let big = "x".repeat(16 * 1024 * 1024 + 1);
    let reply = client.post_json("/_test/echo", &big).await;
    assert_eq!(reply.status, 413);
    assert!(reply.json()["error"].as_str().unwrap().contains("16 MiB"));
}

#[tokio::test]
async fn dropping_serve_closes_its_connections() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(serve(listener, DemoConfig::default()));
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(b"GET /_test/stats HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut buf = vec![0u8; 4096];
    let n = stream.read(&mut buf).await.unwrap();
    let head = String::from_utf8_lossy(&buf[..n]).into_owned();
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(head.contains("\"connections_open\":1"), "{head}");

    task.abort();
    assert!(task.await.unwrap_err().is_cancelled());
    // The idle keep-alive connection is closed together with the server future.
    let n = tokio::time::timeout(Duration::from_secs(3), stream.read(&mut buf))
        .await
        .expect("connection still open after the serve future was dropped")
        .unwrap_or(0);
    assert_eq!(n, 0);
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
}
