//! Per-session settings (FastHttpUser's class attributes) and header-name spelling, against
//! local servers that record what arrives.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;
use locusta_http::{
    ConnectionPool, HttpClient, HttpDriver, Proxy, RequestSpec, Session, SessionOptions,
};
use tokio::io::AsyncReadExt;
use tokio::net::TcpListener;

fn client() -> HttpClient {
    HttpClient::new(config()).unwrap()
}

/// A session of a new client with these options.
fn session(base: &str, options: SessionOptions) -> Session {
    client().session_with(Some(base), options, None).unwrap()
}

/// A server that answers every request with 200 and keeps each request head it saw.
async fn recording_server() -> (Server, Arc<Mutex<Vec<String>>>) {
    let heads = Arc::new(Mutex::new(Vec::new()));
    let seen = heads.clone();
    let srv = raw_server(move |mut s| {
        let seen = seen.clone();
        async move {
            while let Some(head) = read_head(&mut s).await {
                seen.lock().unwrap().push(head);
                write_ok(&mut s).await;
            }
        }
    })
    .await;
    (srv, heads)
}

#[tokio::test]
async fn header_names_go_out_as_written_on_both_drivers() {
    for driver in [HttpDriver::Lean, HttpDriver::Hyper] {
        let (srv, heads) = recording_server().await;
        let c = HttpClient::new(locusta_http::ClientConfig { driver, ..config() }).unwrap();
        let s = c.session(Some(&srv.base())).unwrap();
        s.default_headers()
            .insert_as_written("x-lower-default", "1")
            .unwrap();
        assert_eq!(s.send(RequestSpec::get("/plain")).await.status(), 200);
        let spec = RequestSpec::get("/custom")
            .try_header("X-API-KEY", "k")
            .unwrap()
            .try_header("content-type", "text/plain")
            .unwrap();
        assert_eq!(s.send(spec).await.status(), 200);
        let heads = heads.lock().unwrap().clone();
        let (plain, custom) = (&heads[0], &heads[1]);
        assert!(plain.contains("\r\nHost: "), "{driver:?}: {plain}");
        assert!(plain.contains("\r\nUser-Agent: "), "{driver:?}: {plain}");
        assert!(
            plain.contains("\r\nAccept-Encoding: "),
            "{driver:?}: {plain}"
        );
        if driver == HttpDriver::Lean {
            // hyper can only Title-Case every name; the lean driver keeps the user's spelling
            assert!(plain.contains("\r\nx-lower-default: 1"), "{plain}");
            assert!(custom.contains("\r\nX-API-KEY: k"), "{custom}");
            assert!(custom.contains("\r\ncontent-type: text/plain"), "{custom}");
            assert!(custom.contains("\r\nx-lower-default: 1"), "{custom}");
        } else {
            assert!(custom.contains("\r\nX-Api-Key: k"), "{custom}");
        }
    }
}

#[tokio::test]
async fn max_redirects_zero_returns_the_redirect_and_n_limits_the_chain() {
    let srv = hyper_server().await;
    let none = session(
        &srv.base(),
        SessionOptions {
            max_redirects: Some(0),
            ..Default::default()
        },
    );
    let ex = none.send(RequestSpec::get("/r302")).await;
    assert_eq!(ex.status(), 302, "{:?}", ex.result.as_ref().err());
    let one = session(
        &srv.base(),
        SessionOptions {
            max_redirects: Some(1),
            ..Default::default()
        },
    );
    assert_eq!(one.send(RequestSpec::get("/r302")).await.status(), 200);
}

#[tokio::test]
async fn max_retries_resends_idempotent_requests_after_no_answer() {
    // the first two connections close without answering, then the server answers
    let attempts = Arc::new(AtomicUsize::new(0));
    let seen = attempts.clone();
    let srv = raw_server(move |mut s| {
        let seen = seen.clone();
        async move {
            while read_head(&mut s).await.is_some() {
                if seen.fetch_add(1, Ordering::SeqCst) < 2 {
                    return;
                }
                write_ok(&mut s).await;
            }
        }
    })
    .await;
    let with_retries = |n| {
        session(
            &srv.base(),
            SessionOptions {
                max_retries: n,
                ..Default::default()
            },
        )
    };
    let s = with_retries(2);
    let ex = s.send(RequestSpec::get("/")).await;
    assert_eq!(ex.status(), 200, "{:?}", ex.result.err());
    assert_eq!(attempts.load(Ordering::SeqCst), 3);

    // a POST is never sent twice, and without retries the failure is reported at once
    attempts.store(0, Ordering::SeqCst);
    let ex = with_retries(2).send(RequestSpec::post("/")).await;
    assert!(ex.result.is_err());
    assert_eq!(attempts.load(Ordering::SeqCst), 1);
    attempts.store(0, Ordering::SeqCst);
    assert!(with_retries(0)
        .send(RequestSpec::get("/"))
        .await
        .result
        .is_err());
    assert_eq!(attempts.load(Ordering::SeqCst), 1);

    // closed_retries (geventhttpclient's pool) retries only a connection closed without answer
    attempts.store(0, Ordering::SeqCst);
    let s = session(
        &srv.base(),
        SessionOptions {
            closed_retries: 2,
            ..Default::default()
        },
    );
    assert_eq!(s.send(RequestSpec::get("/")).await.status(), 200);
    assert_eq!(attempts.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn timeouts_come_from_the_session_unless_the_request_has_one() {
    let srv = hyper_server().await;
    let s = session(
        &srv.base(),
        SessionOptions {
            timeout: Some(Duration::from_millis(200)),
            ..Default::default()
        },
    );
    let ex = s.send(RequestSpec::get("/slow")).await;
    assert!(ex.result.as_ref().is_err_and(|e| e.is_timeout()));
    assert!(ex.elapsed < Duration::from_secs(2));
}

/// Counts the server's connections open at the same time while each request takes a while.
async fn slow_counting_server() -> (Server, Arc<AtomicUsize>) {
    let peak = Arc::new(AtomicUsize::new(0));
    let now = Arc::new(AtomicUsize::new(0));
    let p = peak.clone();
    let srv = raw_server(move |mut s| {
        let (peak, now) = (p.clone(), now.clone());
        async move {
            while read_head(&mut s).await.is_some() {
                let n = now.fetch_add(1, Ordering::SeqCst) + 1;
                peak.fetch_max(n, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(30)).await;
                now.fetch_sub(1, Ordering::SeqCst);
                write_ok(&mut s).await;
            }
        }
    })
    .await;
    (srv, peak)
}

#[tokio::test]
async fn concurrency_limits_requests_in_flight_per_session_and_per_shared_pool() {
    let (srv, peak) = slow_counting_server().await;
    let s = session(
        &srv.base(),
        SessionOptions {
            max_concurrent: Some(3),
            ..Default::default()
        },
    );
    let all = (0..12).map(|_| s.send(RequestSpec::get("/")));
    for ex in futures_join(all).await {
        assert_eq!(ex.status(), 200);
    }
    assert_eq!(peak.load(Ordering::SeqCst), 3);

    // two sessions sharing a pool of 2 never have more than 2 requests out between them
    let (srv, peak) = slow_counting_server().await;
    let pool = ConnectionPool::new(Some(2));
    let c = client();
    let a = c
        .session_with(
            Some(&srv.base()),
            SessionOptions::default(),
            Some(pool.clone()),
        )
        .unwrap();
    let b = c
        .session_with(
            Some(&srv.base()),
            SessionOptions::default(),
            Some(pool.clone()),
        )
        .unwrap();
    let all = (0..6).flat_map(|_| [a.send(RequestSpec::get("/")), b.send(RequestSpec::get("/"))]);
    for ex in futures_join(all).await {
        assert_eq!(ex.status(), 200);
    }
    assert_eq!(peak.load(Ordering::SeqCst), 2);
    assert_eq!(
        pool.idle_connections(),
        2,
        "connections are shared and kept"
    );
}

/// Runs the futures concurrently on this task and returns their outputs in order.
async fn futures_join<F: std::future::Future>(all: impl Iterator<Item = F>) -> Vec<F::Output> {
    let set: Vec<_> = all.map(Box::pin).collect();
    let mut outputs: Vec<Option<F::Output>> = (0..set.len()).map(|_| None).collect();
    let mut set: Vec<_> = set.into_iter().map(Some).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (i, slot) in set.iter_mut().enumerate() {
            if let Some(f) = slot {
                match f.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => {
                        outputs[i] = Some(v);
                        *slot = None;
                    }
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
    outputs.into_iter().map(|o| o.unwrap()).collect()
}

#[tokio::test]
async fn plain_requests_go_through_the_proxy_in_absolute_form() {
    for driver in [HttpDriver::Lean, HttpDriver::Hyper] {
        let (port, lines) = test_proxy(200).await;
        let c = HttpClient::new(locusta_http::ClientConfig { driver, ..config() }).unwrap();
        let s = c
            .session_with(
                Some("http://target.invalid:8080"),
                SessionOptions {
                    proxy: Some(Proxy {
                        host: "127.0.0.1".into(),
                        port,
                    }),
                    ..Default::default()
                },
                None,
            )
            .unwrap();
        let ex = s.send(RequestSpec::get("/a?b=1")).await;
        let r = ex.result.unwrap();
        assert_eq!(
            String::from_utf8_lossy(&r.body),
            "GET http://target.invalid:8080/a?b=1 HTTP/1.1",
            "{driver:?}"
        );
        assert_eq!(lines.lock().unwrap().len(), 1);
    }
}

#[tokio::test]
async fn https_goes_through_a_connect_tunnel_and_a_refusal_is_a_proxy_error() {
    let (port, lines) = test_proxy(403).await;
    let s = session(
        "https://127.0.0.1:9",
        SessionOptions {
            proxy: Some(Proxy {
                host: "127.0.0.1".into(),
                port,
            }),
            ..Default::default()
        },
    );
    let err = s.send(RequestSpec::get("/")).await.result.unwrap_err();
    assert_eq!(
        err.to_string(),
        "ProxyError('Unable to connect to proxy', OSError('Tunnel connection failed: 403 Whatever'))"
    );
    assert_eq!(
        lines.lock().unwrap().as_slice(),
        ["CONNECT 127.0.0.1:9 HTTP/1.1"]
    );

    // through an accepting proxy, the tunnel reaches the target (plain TCP here: the TLS
    // handshake then fails against a non-TLS server, which proves the bytes got through)
    let (port, _) = test_proxy(200).await;
    let target = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let target_port = target.local_addr().unwrap().port();
    let got_hello = tokio::spawn(async move {
        let (mut s, _) = target.accept().await.unwrap();
        let mut first = [0u8; 1];
        let n = s.read(&mut first).await.unwrap_or(0);
        // a TLS record of type handshake (22) starts the ClientHello
        n == 1 && first[0] == 22
    });
    let s = session(
        &format!("https://127.0.0.1:{target_port}"),
        SessionOptions {
            proxy: Some(Proxy {
                host: "127.0.0.1".into(),
                port,
            }),
            connect_timeout: Some(Duration::from_secs(2)),
            ..Default::default()
        },
    );
    let _ = s.send(RequestSpec::get("/")).await;
    assert!(
        got_hello.await.unwrap(),
        "the ClientHello came through the tunnel"
    );
}
