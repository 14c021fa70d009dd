//! Limits that keep one hostile response from hurting the whole load test: the response body cap
//! (raw, decompressed, chunked, until-close, announced length), endless chunk extensions, broken
//! chunked framing named the same by both drivers, and running out of file descriptors (counted
//! as failures, recovered from when descriptors are free again). Runs with the driver named by
//! `LOCUSTA_HTTP_DRIVER`.

mod common;

use std::io::Write;
use std::time::Duration;

use common::*;
use locusta_http::{ClientConfig, HttpClient, HttpError, RequestSpec};
use tokio::io::AsyncWriteExt;

fn capped(limit: u64) -> HttpClient {
    HttpClient::new(ClientConfig {
        max_body_bytes: limit,
        ..config()
    })
    .unwrap()
}

async fn endless(mut s: tokio::net::TcpStream, head: &'static [u8], chunked: bool) {
    let _ = read_head(&mut s).await;
    if s.write_all(head).await.is_err() {
        return;
    }
    let data = vec![b'x'; 8192];
    let mut piece = format!("{:x}\r\n", data.len()).into_bytes();
    piece.extend_from_slice(&data);
    piece.extend_from_slice(b"\r\n");
    let piece = if chunked { piece } else { data };
    // bounded: 64 MiB at most, far past the limits used here
    for _ in 0..8192 {
        if s.write_all(&piece).await.is_err() {
            return;
        }
    }
}

#[tokio::test]
async fn endless_bodies_stop_at_the_limit_in_every_framing() {
    let heads: [(&'static [u8], bool); 3] = [
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
            true,
        ),
        (b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n", false),
        (
            b"HTTP/1.1 200 OK\r\nContent-Length: 999999999999\r\n\r\n",
            false,
        ),
    ];
    for (head, chunked) in heads {
        let srv = raw_server(move |s| endless(s, head, chunked)).await;
        let s = capped(1_000_000).session(Some(&srv.base())).unwrap();
        for _ in 0..3 {
            let err = s.send(RequestSpec::get("/")).await.result.unwrap_err();
            assert_eq!(err, HttpError::BodyTooLarge { limit: 1_000_000 });
            assert_eq!(
                err.to_string(),
                "ContentTooLarge('Response body exceeded 1000000 bytes (locusta stops reading there)')"
            );
        }
        // a failed body never goes back to the pool
        assert_eq!(s.idle_connections(), 0);
    }
}

#[tokio::test]
async fn a_body_at_the_limit_is_fine() {
    let srv = raw_server(|mut s| async move {
        while read_head(&mut s).await.is_some() {
            let mut r = b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n".to_vec();
            r.extend_from_slice(&[b'y'; 1000]);
            if s.write_all(&r).await.is_err() {
                return;
            }
        }
    })
    .await;
    let s = capped(1000).session(Some(&srv.base())).unwrap();
    for _ in 0..3 {
        let r = s.send(RequestSpec::get("/")).await.result.unwrap();
        assert_eq!(r.body.len(), 1000);
    }
    assert_eq!(srv.conns(), 1);
}

#[tokio::test]
async fn a_gzip_bomb_is_cut_at_the_limit() {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gz.write_all(&vec![0u8; 20 * 1024 * 1024]).unwrap();
    let packed: &'static [u8] = Box::leak(gz.finish().unwrap().into_boxed_slice());
    assert!(packed.len() < 100_000);
    let srv = raw_server(move |mut s| async move {
        let _ = read_head(&mut s).await;
        let head = format!(
            "HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: {}\r\n\r\n",
            packed.len()
        );
        let _ = s.write_all(head.as_bytes()).await;
        let _ = s.write_all(packed).await;
        tokio::time::sleep(Duration::from_millis(200)).await;
    })
    .await;
    let s = capped(1_000_000).session(Some(&srv.base())).unwrap();
    let err = s.send(RequestSpec::get("/")).await.result.unwrap_err();
    assert_eq!(err, HttpError::BodyTooLarge { limit: 1_000_000 });
}

#[tokio::test]
async fn endless_chunk_extensions_do_not_grow_memory() {
    let srv = raw_server(|mut s| async move {
        let _ = read_head(&mut s).await;
        let _ = s
            .write_all(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=")
            .await;
        let junk = vec![b'a'; 8192];
        for _ in 0..1024 {
            if s.write_all(&junk).await.is_err() {
                return;
            }
        }
    })
    .await;
    let s = HttpClient::new(config())
        .unwrap()
        .session(Some(&srv.base()))
        .unwrap();
    let ex = tokio::time::timeout(Duration::from_secs(20), s.send(RequestSpec::get("/")))
        .await
        .expect("the client gives up by itself");
    let err = ex.result.unwrap_err();
    assert_eq!(
        err.to_string(),
        "ProtocolError('invalid chunk size line')",
        "{err:?}"
    );
}

#[tokio::test]
async fn broken_chunked_framing_reads_the_same_on_both_drivers() {
    let cases: [(&'static [u8], &str); 3] = [
        (
            b"zz\r\nhello\r\n0\r\n\r\n",
            "ProtocolError('invalid chunk size line')",
        ),
        (
            b"4\r\nabcdXY0\r\n\r\n",
            "ProtocolError('invalid chunk end')",
        ),
        (
            b"4\r\nabcd\r\n0\r\nbad trailer\r\n\r\n",
            "ProtocolError('invalid chunked trailers')",
        ),
    ];
    for (body, want) in cases {
        let srv = raw_server(move |mut s| async move {
            let _ = read_head(&mut s).await;
            let _ = s
                .write_all(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
                .await;
            let _ = s.write_all(body).await;
            tokio::time::sleep(Duration::from_millis(200)).await;
        })
        .await;
        let s = HttpClient::new(config())
            .unwrap()
            .session(Some(&srv.base()))
            .unwrap();
        let err = s.send(RequestSpec::get("/")).await.result.unwrap_err();
        assert_eq!(err.to_string(), want, "{:?}", String::from_utf8_lossy(body));
    }
}

/// Runs in a child process (this test binary again) because it lowers the process's own
/// descriptor limit.
#[test]
fn running_out_of_file_descriptors_fails_requests_and_recovers() {
    if std::env::var_os("LOCUSTA_FD_CHILD").is_some() {
        fd_child();
        return;
    }
    let exe = std::env::current_exe().unwrap();
    let out = std::process::Command::new(exe)
        .args([
            "--exact",
            "running_out_of_file_descriptors_fails_requests_and_recovers",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("LOCUSTA_FD_CHILD", "1")
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("FD CHILD OK"), "{text}");
}

fn fd_child() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let srv = raw_server(|mut s| async move {
            while read_head(&mut s).await.is_some() {
                write_ok(&mut s).await;
            }
        })
        .await;
        let client = HttpClient::new(config()).unwrap();
        // a first connection works
        let warm = client.session(Some(&srv.base())).unwrap();
        assert_eq!(warm.send(RequestSpec::get("/")).await.status(), 200);
        // Use up every descriptor under a low limit.
        let limit = libc::rlimit {
            rlim_cur: 64,
            rlim_max: 64,
        };
        // SAFETY: setrlimit only reads the struct.
        assert_eq!(
            unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &limit) },
            0,
            "setrlimit"
        );
        let mut hogs = Vec::new();
        while let Ok(f) = std::fs::File::open("/dev/null") {
            hogs.push(f);
        }
        let n = 5;
        for _ in 0..n {
            let s = client.session(Some(&srv.base())).unwrap();
            let err = s.send(RequestSpec::get("/")).await.result.unwrap_err();
            assert_eq!(err.to_string(), "OSError(24, 'Too many open files')");
            assert!(err.is_connect());
        }
        // Load drops: descriptors are free again and new connections work.
        drop(hogs);
        for _ in 0..n {
            let s = client.session(Some(&srv.base())).unwrap();
            assert_eq!(s.send(RequestSpec::get("/")).await.status(), 200);
        }
    });
    println!("FD CHILD OK");
}

/// Found by the `http_head` fuzz target: httparse accepts any three digits, so `000` reached the
/// statistics as status 0 ("no response") on the lean driver.
#[tokio::test]
async fn a_status_below_100_is_a_bad_status_line() {
    let srv = raw_server(|mut s| async move {
        let _ = read_head(&mut s).await;
        let _ = s
            .write_all(b"HTTP/1.1 000 OK\r\nContent-Length: 2\r\n\r\nok")
            .await;
        tokio::time::sleep(Duration::from_millis(200)).await;
    })
    .await;
    let s = HttpClient::new(config())
        .unwrap()
        .session(Some(&srv.base()))
        .unwrap();
    let err = s.send(RequestSpec::get("/")).await.result.unwrap_err();
    assert_eq!(err.to_string(), "BadStatusLine('HTTP/1.1 000 OK\\r\\n')");
}

/// A server that sends more body bytes than its Content-Length announces: each response is
/// read as announced, and the extra bytes never turn into (or spoil) the next response.
#[tokio::test]
async fn extra_bytes_after_the_body_never_reach_the_next_request() {
    let srv = raw_server(|mut s| async move {
        while read_head(&mut s).await.is_some() {
            let r: &[u8] =
                b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nabcdeHTTP/1.1 500 Nope\r\n\r\n";
            if s.write_all(r).await.is_err() {
                return;
            }
        }
    })
    .await;
    let s = HttpClient::new(config())
        .unwrap()
        .session(Some(&srv.base()))
        .unwrap();
    for i in 0..50 {
        let r = s.send(RequestSpec::get("/")).await.result;
        let r = r.unwrap_or_else(|e| panic!("request {i}: {e}"));
        assert_eq!((r.status, &r.body[..]), (200, &b"abcde"[..]), "request {i}");
    }
}

/// HEAD responses announce the length of a body they do not send: not a body over the limit.
#[tokio::test]
async fn a_head_response_announcing_a_large_body_is_fine() {
    let srv = raw_server(|mut s| async move {
        while read_head(&mut s).await.is_some() {
            let r: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 999999999\r\n\r\n";
            if s.write_all(r).await.is_err() {
                return;
            }
        }
    })
    .await;
    let s = capped(1000).session(Some(&srv.base())).unwrap();
    for _ in 0..3 {
        let r = s
            .send(RequestSpec::new(http::Method::HEAD, "/"))
            .await
            .result
            .unwrap();
        assert_eq!(r.status, 200);
        assert!(r.body.is_empty());
    }
}
