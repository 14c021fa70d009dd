//! The `/_test/` helpers used by end-to-end tests, including the socket-level failures.

mod common;

use std::io::ErrorKind;
use std::time::{Duration, Instant};

use common::{raw_connect, raw_read_response, raw_read_to_end, raw_send, start, Client};

#[tokio::test]
async fn status_helper_answers_with_the_requested_code() {
    let server = start();
    let mut client = Client::connect(server.addr()).await;
    for code in [200u16, 201, 302, 404, 418, 500, 503, 599] {
        let reply = client.get(&format!("/_test/status/{code}")).await;
        assert_eq!(reply.status, code);
        assert_eq!(reply.json()["status"], code);
    }
    let posted = client
        .send("POST", "/_test/status/500", &[], Some("x"))
        .await;
    assert_eq!(posted.status, 500);
    let no_content = client.get("/_test/status/204").await;
    assert_eq!(no_content.status, 204);
    assert!(no_content.body.is_empty());
    for bad in ["100", "600", "abc", "99999"] {
        let reply = client.get(&format!("/_test/status/{bad}")).await;
        assert_eq!(reply.status, 400, "{bad}");
    }
}

#[tokio::test]
async fn delay_sleeps_and_validates() {
    let server = start();
    let mut client = Client::connect(server.addr()).await;
    let started = Instant::now();
    let reply = client.get("/_test/delay?ms=150").await;
    let elapsed = started.elapsed();
    assert_eq!(reply.status, 200);
    assert_eq!(reply.json()["delayed_ms"], 150);
    assert!(elapsed >= Duration::from_millis(150), "{elapsed:?}");
    assert!(elapsed < Duration::from_secs(3), "{elapsed:?}");
    assert_eq!(client.get("/_test/delay").await.status, 400);
    assert_eq!(client.get("/_test/delay?ms=abc").await.status, 400);
    let zero = client.get("/_test/delay?ms=0").await;
    assert_eq!(zero.json()["delayed_ms"], 0);
}

#[tokio::test]
async fn delay_is_capped_at_ten_seconds() {
    let server = start();
    let mut client = Client::connect(server.addr()).await;
    let reply = tokio::time::timeout(
        Duration::from_secs(15),
        client.get("/_test/delay?ms=3600000"),
    )
    .await
    .expect("delay must be capped at 10 s");
    assert_eq!(reply.status, 200);
    assert_eq!(reply.json()["delayed_ms"], 10_000);
}

#[tokio::test]
async fn redirect_helper() {
    let server = start();
    let mut client = Client::connect(server.addr()).await;
    let reply = client.get("/_test/redirect?to=/about/").await;
    assert_eq!(reply.status, 302);
    assert_eq!(reply.header("location").as_deref(), Some("/about/"));
    let encoded = client
        .get("/_test/redirect?to=%2Fapi%2Fproducts%3Fpage%3D2&code=301")
        .await;
    assert_eq!(encoded.status, 301);
    assert_eq!(
        encoded.header("location").as_deref(),
        Some("/api/products?page=2")
    );
    assert_eq!(
        client.get("/_test/redirect?to=/&code=307").await.status,
        307
    );
    for bad in [
        "",
        "?to=http://example.com/",
        "?to=//example.com/",
        "?to=about",
        "?to=/&code=200",
        "?to=/&code=305",
    ] {
        let reply = client.get(&format!("/_test/redirect{bad}")).await;
        assert_eq!(reply.status, 400, "{bad}");
    }
}

#[tokio::test]
async fn bytes_helper_returns_exact_sizes_and_caps() {
    let server = start();
    let mut client = Client::connect(server.addr()).await;
    for n in [0usize, 1, 26, 1000, 65_537] {
        let reply = client.get(&format!("/_test/bytes?n={n}")).await;
        assert_eq!(reply.status, 200);
        assert_eq!(reply.body.len(), n);
        assert_eq!(reply.header("content-length"), Some(n.to_string()));
        assert_eq!(
            reply.header("content-type").as_deref(),
            Some("application/octet-stream")
        );
        if n > 26 {
            assert_eq!(&reply.body[..3], b"abc");
            assert_eq!(reply.body[26], b'a');
        }
    }
    let capped = client.get("/_test/bytes?n=999999999").await;
    assert_eq!(capped.body.len(), 10 * 1024 * 1024);
    assert_eq!(client.get("/_test/bytes").await.status, 400);
    assert_eq!(client.get("/_test/bytes?n=-5").await.status, 400);
}

#[tokio::test]
async fn echo_reflects_the_request() {
    let server = start();
    let mut client = Client::connect(server.addr()).await;
    let reply = client
        .send(
            "PUT",
            "/_test/echo?a=1&b=x%20y&a=2",
            &[
                ("x-custom", "hello"),
                ("cookie", "a=1"),
                ("content-type", "text/plain"),
            ],
            Some("payload ✓"),
        )
        .await;
    assert_eq!(reply.status, 200);
    let json = reply.json();
    assert_eq!(json["method"], "PUT");
    assert_eq!(json["path"], "/_test/echo");
    assert_eq!(json["query"], "a=1&b=x%20y&a=2");
    assert_eq!(json["args"]["a"], "1");
    assert_eq!(json["args"]["b"], "x y");
    assert_eq!(json["headers"]["x-custom"], "hello");
    assert_eq!(json["headers"]["cookie"], "a=1");
    assert_eq!(json["headers"]["host"], "127.0.0.1");
    assert_eq!(json["body"], "payload ✓");
    assert_eq!(json["body_length"], "payload ✓".len());
}

#[tokio::test]
async fn stats_count_requests_and_connections() {
    let server = start();
    for _ in 0..3 {
        let mut client = Client::connect(server.addr()).await;
        client.get("/").await;
        client.get("/about/").await;
    }
    let mut client = Client::connect(server.addr()).await;
    let stats = client.get("/_test/stats").await.json();
    // 6 page requests plus this stats request, on 4 connections.
    assert_eq!(stats["requests"], 7);
    assert_eq!(stats["connections_accepted"], 4);
}

#[test]
fn reset_sends_rst_without_a_response() {
    let server = start();
    let mut stream = raw_connect(server.addr());
    raw_send(&mut stream, "GET", "/_test/reset");
    let (bytes, err) = raw_read_to_end(&mut stream);
    assert!(bytes.is_empty(), "got {bytes:?}");
    let err = err.expect("a reset must surface as an error, not a clean EOF");
    assert_eq!(err.kind(), ErrorKind::ConnectionReset, "{err}");
}

#[test]
fn close_sends_fin_without_a_response() {
    let server = start();
    let mut stream = raw_connect(server.addr());
    raw_send(&mut stream, "GET", "/_test/close");
    let (bytes, err) = raw_read_to_end(&mut stream);
    assert!(bytes.is_empty(), "got {bytes:?}");
    assert!(err.is_none(), "expected a clean EOF, got {err:?}");
}

#[test]
fn garbage_writes_non_http_bytes_then_closes() {
    let server = start();
    let mut stream = raw_connect(server.addr());
    raw_send(&mut stream, "GET", "/_test/garbage");
    let (bytes, err) = raw_read_to_end(&mut stream);
    assert!(err.is_none(), "expected a clean EOF, got {err:?}");
    assert!(bytes.starts_with(b"THIS IS NOT HTTP"), "got {bytes:?}");
    assert!(!bytes.starts_with(b"HTTP/"));
}

#[test]
fn socket_helpers_work_mid_keep_alive_connection() {
    let server = start();
    for (path, expect_reset) in [("/_test/reset", true), ("/_test/close", false)] {
        let mut stream = raw_connect(server.addr());
        for _ in 0..3 {
            raw_send(&mut stream, "GET", "/");
            let (status, _, body) = raw_read_response(&mut stream);
            assert_eq!(status, 200);
            assert!(!body.is_empty());
        }
        raw_send(&mut stream, "POST", path);
        let (bytes, err) = raw_read_to_end(&mut stream);
        assert!(bytes.is_empty(), "{path}: got {bytes:?}");
        if expect_reset {
            assert_eq!(err.map(|e| e.kind()), Some(ErrorKind::ConnectionReset));
        } else {
            assert!(err.is_none(), "{path}: {err:?}");
        }
    }
    // The server is unaffected.
    let mut stream = raw_connect(server.addr());
    raw_send(&mut stream, "GET", "/");
    assert_eq!(raw_read_response(&mut stream).0, 200);
}

#[test]
fn pipelined_requests_are_answered_in_order() {
    let server = start();
    let mut stream = raw_connect(server.addr());
    use std::io::Write;
    stream
        .write_all(
            b"GET /api/products/1 HTTP/1.1\r\nHost: x\r\n\r\n\
              GET /api/products/2 HTTP/1.1\r\nHost: x\r\n\r\n\
              GET /nope HTTP/1.1\r\nHost: x\r\n\r\n",
        )
        .unwrap();
    let (s1, _, b1) = raw_read_response(&mut stream);
    let (s2, _, b2) = raw_read_response(&mut stream);
    let (s3, _, _) = raw_read_response(&mut stream);
    assert_eq!((s1, s2, s3), (200, 200, 404));
    let j1: serde_json::Value = serde_json::from_slice(&b1).unwrap();
    let j2: serde_json::Value = serde_json::from_slice(&b2).unwrap();
    assert_eq!((j1["id"].as_u64(), j2["id"].as_u64()), (Some(1), Some(2)));
}

#[test]
fn responses_pipelined_before_a_socket_helper_are_delivered() {
    use std::io::Write;
    let server = start();
    for (path, expect_reset) in [
        ("/_test/close", false),
        ("/_test/garbage", false),
        ("/_test/reset", true),
    ] {
        let mut stream = raw_connect(server.addr());
        stream
            .write_all(
                format!(
                    "GET /api/products/1 HTTP/1.1\r\nHost: x\r\n\r\n\
                     GET /api/products/2 HTTP/1.1\r\nHost: x\r\n\r\n\
                     GET {path} HTTP/1.1\r\nHost: x\r\n\r\n"
                )
                .as_bytes(),
            )
            .unwrap();
        // Give the server time to process all three before reading anything, so a reset
        // cannot overtake the earlier responses in our own receive buffer.
        std::thread::sleep(Duration::from_millis(100));
        if expect_reset {
            // An RST may discard data the client has not read yet; only the error is certain.
            let (_, err) = raw_read_to_end(&mut stream);
            assert_eq!(
                err.map(|e| e.kind()),
                Some(ErrorKind::ConnectionReset),
                "{path}"
            );
            continue;
        }
        let (s1, _, _) = raw_read_response(&mut stream);
        let (s2, _, _) = raw_read_response(&mut stream);
        assert_eq!((s1, s2), (200, 200), "{path}");
        let (rest, err) = raw_read_to_end(&mut stream);
        assert!(err.is_none(), "{path}: {err:?}");
        if path == "/_test/garbage" {
            assert!(rest.starts_with(b"THIS IS NOT HTTP"), "{rest:?}");
        } else {
            assert!(rest.is_empty(), "{path}: {rest:?}");
        }
    }
}
