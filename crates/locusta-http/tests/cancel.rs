//! A request whose future is dropped mid-flight (the Python front end cancels the job of a
//! greenlet that stopped waiting: killed, stopped, a `gevent.Timeout`) must close its
//! half-used connection, never put it back in the pool: the next request goes out on a fresh
//! connection and gets its own response.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::*;
use locusta_http::{HttpClient, RequestSpec};
use tokio::io::AsyncReadExt;

#[tokio::test]
async fn a_dropped_request_closes_its_connection_and_the_next_one_opens_another() {
    // "/slow" is never answered; its connection's end is counted. Others get "ok" (keep-alive).
    let ended = Arc::new(AtomicUsize::new(0));
    let seen = Arc::clone(&ended);
    let server = raw_server(move |mut s| {
        let ended = Arc::clone(&seen);
        async move {
            while let Some(head) = read_head(&mut s).await {
                if head.starts_with("GET /slow ") {
                    let mut rest = [0u8; 64];
                    // waits for the client's end of the connection (0 bytes: EOF)
                    while matches!(s.read(&mut rest).await, Ok(n) if n > 0) {}
                    ended.fetch_add(1, Ordering::SeqCst);
                    return;
                }
                write_ok(&mut s).await;
            }
        }
    })
    .await;
    let client = HttpClient::new(config()).expect("client");
    let session = client.session(Some(&server.base())).expect("session");

    let slow = RequestSpec::get("/slow");
    let gave_up = tokio::time::timeout(Duration::from_millis(100), session.send_ref(&slow)).await;
    assert!(gave_up.is_err(), "the slow request is not answered");

    // the dropped exchange's connection is closed, not kept
    let waited = tokio::time::Instant::now();
    while ended.load(Ordering::SeqCst) == 0 && waited.elapsed() < Duration::from_secs(5) {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(ended.load(Ordering::SeqCst), 1, "the server saw the end");

    let ex = session.send_ref(&RequestSpec::get("/fast")).await;
    let resp = ex.result.expect("the next request is answered");
    assert_eq!((resp.status, &resp.body[..]), (200, &b"ok"[..]));
    assert_eq!(server.conns(), 2, "it went out on a fresh connection");
}
