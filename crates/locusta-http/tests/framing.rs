//! Response framing on the wire (Content-Length in pieces, chunked with trailers, until close,
//! bodiless HEAD/204/304, interim 1xx) and keep-alive after each, against raw servers. Runs with
//! the driver named by `LOCUSTA_HTTP_DRIVER`, so both drivers must agree.

mod common;

use std::time::Duration;

use common::*;
use http::Method;
use locusta_http::{HttpClient, RequestSpec};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

fn client() -> HttpClient {
    HttpClient::new(config()).unwrap()
}

/// Writes `parts` with a short pause between them, so the client sees partial data.
async fn write_parts(s: &mut TcpStream, parts: &[&[u8]]) {
    for p in parts {
        let _ = s.write_all(p).await;
        let _ = s.flush().await;
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// A server that answers every request on a connection with `parts`.
async fn serve_each(parts: &'static [&'static [u8]]) -> Server {
    raw_server(move |mut s| async move {
        while read_head(&mut s).await.is_some() {
            write_parts(&mut s, parts).await;
        }
    })
    .await
}

#[tokio::test]
async fn content_length_body_in_pieces_keeps_the_connection() {
    let srv = serve_each(&[
        b"HTTP/1.1 200 OK\r\nCont",
        b"ent-Length: 11\r\nX-Custom: v\r\n",
        b"\r\nhello",
        b" wor",
        b"ld",
    ])
    .await;
    let s = client().session(Some(&srv.base())).unwrap();
    for _ in 0..3 {
        let ex = s.send(RequestSpec::get("/")).await;
        let r = ex.result.unwrap();
        assert_eq!(r.text(), "hello world");
        assert_eq!(r.header("x-custom"), Some("v"));
        assert_eq!(r.version, http::Version::HTTP_11);
    }
    assert_eq!(srv.conns(), 1);
}

#[tokio::test]
async fn chunked_body_with_trailers() {
    let srv = serve_each(&[
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
        b"5\r\nhel",
        b"lo\r\n6;ext=1\r\n world\r\n",
        b"0\r\nX-Trailer: t\r\n",
        b"\r\n",
    ])
    .await;
    let s = client().session(Some(&srv.base())).unwrap();
    for _ in 0..3 {
        let ex = s.send(RequestSpec::get("/c")).await;
        let r = ex.result.unwrap();
        assert_eq!(r.text(), "hello world");
    }
    assert_eq!(srv.conns(), 1);
}

#[tokio::test]
async fn chunked_body_cut_short_is_incomplete_read() {
    let srv = raw_server(|mut s| async move {
        let _ = read_head(&mut s).await;
        write_parts(
            &mut s,
            &[b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nabc"],
        )
        .await;
    })
    .await;
    let s = client().session(Some(&srv.base())).unwrap();
    let err = s.send(RequestSpec::get("/")).await.result.unwrap_err();
    assert_eq!(
        err.to_string(),
        "ChunkedEncodingError(ProtocolError('Connection broken: IncompleteRead(3 bytes read)', IncompleteRead(3 bytes read)))"
    );
}

#[tokio::test]
async fn body_until_close_and_http_1_0() {
    let srv = raw_server(|mut s| async move {
        if read_head(&mut s).await.is_some() {
            write_parts(&mut s, &[b"HTTP/1.0 200 OK\r\n\r\nuntil", b" close"]).await;
        }
    })
    .await;
    let s = client().session(Some(&srv.base())).unwrap();
    for _ in 0..2 {
        let ex = s.send(RequestSpec::get("/")).await;
        let r = ex.result.unwrap();
        assert_eq!(r.text(), "until close");
        assert_eq!(r.version, http::Version::HTTP_10);
    }
    assert_eq!(srv.conns(), 2);
    assert_eq!(s.idle_connections(), 0);
}

#[tokio::test]
async fn bodiless_responses_keep_the_connection() {
    // HEAD announces a length but has no body; 204 and 304 have none either
    let srv = raw_server(|mut s| async move {
        while let Some(head) = read_head(&mut s).await {
            let resp: &[u8] = if head.starts_with("HEAD") {
                b"HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n"
            } else if head.starts_with("GET /204") {
                b"HTTP/1.1 204 No Content\r\n\r\n"
            } else if head.starts_with("GET /304") {
                b"HTTP/1.1 304 Not Modified\r\nContent-Length: 99\r\n\r\n"
            } else {
                b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
            };
            let _ = s.write_all(resp).await;
        }
    })
    .await;
    let s = client().session(Some(&srv.base())).unwrap();
    for _ in 0..2 {
        let ex = s.send(RequestSpec::new(Method::HEAD, "/h")).await;
        let r = ex.result.unwrap();
        assert_eq!(r.status, 200);
        assert!(r.body.is_empty());
        assert_eq!(s.send(RequestSpec::get("/204")).await.status(), 204);
        assert_eq!(s.send(RequestSpec::get("/304")).await.status(), 304);
        let ex = s.send(RequestSpec::get("/x")).await;
        assert_eq!(ex.result.unwrap().text(), "ok");
    }
    assert_eq!(srv.conns(), 1);
}

#[tokio::test]
async fn interim_responses_are_skipped() {
    let srv = serve_each(&[
        b"HTTP/1.1 100 Continue\r\n\r\n",
        b"HTTP/1.1 103 Early Hints\r\nLink: </s.css>\r\n\r\nHTTP/1.1 202 Accepted\r\nContent-Length: 4\r\n\r\ndone",
    ])
    .await;
    let s = client().session(Some(&srv.base())).unwrap();
    for _ in 0..2 {
        let ex = s.send(RequestSpec::get("/")).await;
        let r = ex.result.unwrap();
        assert_eq!((r.status, r.reason.as_str()), (202, "Accepted"));
        assert_eq!(r.text(), "done");
        assert!(r.header("link").is_none());
    }
    assert_eq!(srv.conns(), 1);
}

#[tokio::test]
async fn connection_close_header_is_honoured_and_reason_is_kept() {
    let srv = serve_each(&[
        b"HTTP/1.1 404 Nothing Here\r\nConnection: close\r\nContent-Length: 1\r\n\r\nx",
    ])
    .await;
    let s = client().session(Some(&srv.base())).unwrap();
    for _ in 0..2 {
        let ex = s.send(RequestSpec::get("/gone")).await;
        assert_eq!(
            ex.failure_text(&ex.stats_path).unwrap(),
            "HTTPError('404 Client Error: Nothing Here for url: /gone')"
        );
    }
    assert_eq!(srv.conns(), 2);
    assert_eq!(s.idle_connections(), 0);
}

#[tokio::test]
async fn large_body_and_large_request_body() {
    let srv = hyper_server().await;
    let s = client().session(Some(&srv.base())).unwrap();
    let big = "x".repeat(200_000);
    let ex = s
        .send(RequestSpec::post("/echo").bytes(big.clone(), None))
        .await;
    let e = ex.result.unwrap().json().unwrap();
    assert_eq!(e["body"].as_str().unwrap().len(), 200_000);
    assert_eq!(e["headers"]["content-length"], "200000");
    // and the connection is still good
    assert_eq!(s.send(RequestSpec::get("/ok")).await.status(), 200);
    assert_eq!(srv.conns(), 1);
}

/// The lean driver is covered even when the suite runs with the default driver.
#[tokio::test]
async fn lean_driver_explicitly() {
    let c = HttpClient::new(locusta_http::ClientConfig {
        driver: locusta_http::HttpDriver::Lean,
        ..config()
    })
    .unwrap();
    assert_eq!(c.config().driver, locusta_http::HttpDriver::Lean);
    let srv = hyper_server().await;
    let s = c.session(Some(&srv.base())).unwrap();
    for _ in 0..20 {
        assert_eq!(s.send(RequestSpec::get("/ok")).await.status(), 200);
    }
    let ex = s.send(RequestSpec::get("/gzip")).await;
    assert_eq!(ex.content_length(), 34);
    let e = s.send(RequestSpec::post("/r307").bytes("keep", None)).await;
    assert_eq!(e.result.unwrap().json().unwrap()["body"], "keep");
    assert_eq!(srv.conns(), 1);
    assert_eq!(s.idle_connections(), 1);
}
