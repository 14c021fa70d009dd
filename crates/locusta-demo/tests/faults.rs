//! The `/_fault/` endpoints on the wire: the exact bytes of the socket-level faults, the
//! deterministic random 5xx, and validation of their parameters.

mod common;

use common::{raw_connect, raw_read_to_end, raw_send, start, Client};
use locusta_demo::faults::random_5xx_status;

fn raw_bytes(path: &str) -> Vec<u8> {
    let server = start();
    let mut s = raw_connect(server.addr());
    raw_send(&mut s, "GET", path);
    let (bytes, err) = raw_read_to_end(&mut s);
    assert!(err.is_none(), "{path}: {err:?}");
    bytes
}

#[test]
fn socket_faults_send_exactly_their_bytes_then_close() {
    assert_eq!(
        raw_bytes("/_fault/length-short"),
        b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nabcdefghijklmnopqrst"
    );
    assert_eq!(
        raw_bytes("/_fault/close-after-headers?size=7"),
        b"HTTP/1.1 200 OK\r\nContent-Length: 7\r\n\r\n"
    );
    let long = raw_bytes("/_fault/length-long");
    assert!(long.starts_with(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n"));
    assert_eq!(
        long.len(),
        38 + 20 + 2,
        "{}",
        String::from_utf8_lossy(&long)
    );
    assert!(raw_bytes("/_fault/chunked-bad-size").ends_with(b"\r\n\r\nzz\r\nhello\r\n0\r\n\r\n"));
    assert!(raw_bytes("/_fault/invalid-status").starts_with(b"THIS IS NOT HTTP"));
}

#[tokio::test]
async fn random_5xx_follows_the_seed_exactly() {
    let server = start();
    let mut client = Client::connect(server.addr()).await;
    for i in 0..60u64 {
        let reply = client.get("/_fault/random-5xx?seed=9&percent=40").await;
        let want = random_5xx_status(9, 40, i).unwrap_or(200);
        assert_eq!(reply.status, want, "request {i}");
        assert_eq!(reply.json()["request"], i);
    }
}

#[tokio::test]
async fn bad_parameters_and_unknown_faults_are_refused() {
    let server = start();
    let mut client = Client::connect(server.addr()).await;
    assert_eq!(client.get("/_fault/nope").await.status, 404);
    assert_eq!(client.get("/_fault/trickle?ms=x").await.status, 400);
    assert_eq!(client.get("/_fault/big?mb=11").await.status, 400);
    assert_eq!(client.get("/_fault/endless?framing=zip").await.status, 400);
    assert_eq!(
        client.get("/_fault/random-5xx?percent=101").await.status,
        400
    );
    let loop_reply = client.get("/_fault/redirect-loop?x=1").await;
    assert_eq!(loop_reply.status, 302);
    assert_eq!(
        loop_reply.header("location").as_deref(),
        Some("/_fault/redirect-loop?x=1")
    );
    let big = client.get("/_fault/big?mb=1").await;
    assert_eq!(big.body.len(), 1024 * 1024);
}
