//! `stream=True` ([`Session::send_streaming`]): the head comes back first, the body piece by
//! piece as the server sends it, decompressed on the fly, and the connection is reused once the
//! body has been read to its end — with both HTTP/1.1 drivers.

mod common;

use std::time::{Duration, Instant};

use common::*;
use locusta_http::{ClientConfig, HttpClient, HttpDriver, RequestSpec};
use tokio::io::AsyncWriteExt;

fn client(driver: HttpDriver) -> HttpClient {
    HttpClient::new(ClientConfig { driver, ..config() }).unwrap()
}

/// Answers every request on a connection with a chunked body of five lines, 100 ms apart.
async fn slow_chunked_server() -> Server {
    raw_server(|mut s| async move {
        while read_head(&mut s).await.is_some() {
            let _ = s
                .write_all(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n")
                .await;
            for i in 0..5 {
                let line = format!("line {i}\n");
                let _ = s
                    .write_all(format!("{:x}\r\n{line}\r\n", line.len()).as_bytes())
                    .await;
                let _ = s.flush().await;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            let _ = s.write_all(b"0\r\n\r\n").await;
        }
    })
    .await
}

#[tokio::test]
async fn the_body_arrives_piece_by_piece_and_the_connection_is_reused() {
    for driver in [HttpDriver::Lean, HttpDriver::Hyper] {
        let srv = slow_chunked_server().await;
        let s = client(driver).session(Some(&srv.base())).unwrap();
        for round in 0..2 {
            let t0 = Instant::now();
            let (ex, stream) = s.send_streaming(&RequestSpec::get("/")).await;
            assert_eq!(ex.status(), 200);
            assert!(
                ex.elapsed < Duration::from_millis(90),
                "{driver:?}: head time {:?}",
                ex.elapsed
            );
            assert!(ex.time_to_head.is_some());
            let mut stream = stream.expect("a body to stream");
            let first = stream.next_chunk().await.unwrap().unwrap();
            let first_at = t0.elapsed();
            assert!(first.starts_with(b"line 0"), "{first:?}");
            assert!(
                first_at < Duration::from_millis(300),
                "{driver:?}: first piece at {first_at:?}"
            );
            let mut body = first.to_vec();
            while let Some(piece) = stream.next_chunk().await.unwrap() {
                body.extend_from_slice(&piece);
            }
            assert!(
                t0.elapsed() >= Duration::from_millis(400),
                "the whole body takes 500 ms"
            );
            assert_eq!(
                String::from_utf8(body).unwrap(),
                "line 0\nline 1\nline 2\nline 3\nline 4\n"
            );
            assert!(stream.is_finished());
            assert_eq!(stream.next_chunk().await.unwrap(), None);
            assert_eq!(
                srv.conns(),
                1,
                "{driver:?} round {round}: the connection was reused"
            );
        }
    }
}

#[tokio::test]
async fn gzip_and_plain_bodies_stream_decoded_and_redirects_are_followed_first() {
    for driver in [HttpDriver::Lean, HttpDriver::Hyper] {
        let srv = hyper_server().await;
        let s = client(driver).session(Some(&srv.base())).unwrap();
        let (ex, stream) = s.send_streaming(&RequestSpec::get("/gzip")).await;
        assert_eq!(ex.status(), 200);
        let mut stream = stream.unwrap();
        let mut body = Vec::new();
        while let Some(piece) = stream.next_chunk().await.unwrap() {
            body.extend_from_slice(&piece);
        }
        assert_eq!(
            &body[..],
            b"compressed hello, compressed hello",
            "{driver:?}"
        );

        // the redirect is followed; only the final response streams
        let (ex, stream) = s.send_streaming(&RequestSpec::get("/r302")).await;
        assert_eq!((ex.status(), ex.history.len()), (200, 1), "{driver:?}");
        let mut stream = stream.unwrap();
        let mut body = Vec::new();
        while let Some(piece) = stream.next_chunk().await.unwrap() {
            body.extend_from_slice(&piece);
        }
        assert!(
            String::from_utf8_lossy(&body).contains("\"uri\":\"/final\""),
            "{driver:?}"
        );
    }
}

#[tokio::test]
async fn a_stream_dropped_early_closes_its_connection_and_errors_are_reported() {
    let srv = slow_chunked_server().await;
    let s = client(HttpDriver::Lean).session(Some(&srv.base())).unwrap();
    let (_, stream) = s.send_streaming(&RequestSpec::get("/")).await;
    let mut stream = stream.unwrap();
    assert!(stream.next_chunk().await.unwrap().is_some());
    drop(stream);
    let (ex, _) = s.send_streaming(&RequestSpec::get("/")).await;
    assert_eq!(ex.status(), 200);
    assert_eq!(srv.conns(), 2, "a half-read connection is never reused");

    // a body cut short: the stream reports the incomplete read, then ends
    let short = raw_server(|mut s| async move {
        let _ = read_head(&mut s).await;
        let _ = s
            .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nabc")
            .await;
    })
    .await;
    let s = client(HttpDriver::Lean)
        .session(Some(&short.base()))
        .unwrap();
    let (_, stream) = s.send_streaming(&RequestSpec::get("/")).await;
    let mut stream = stream.unwrap();
    assert_eq!(&stream.next_chunk().await.unwrap().unwrap()[..], b"abc");
    assert!(stream.next_chunk().await.is_err());
    assert!(stream.is_finished());
}
