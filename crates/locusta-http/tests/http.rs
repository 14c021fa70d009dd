//! End-to-end behaviour of sessions against local servers.

mod common;

use std::time::Duration;

use common::*;
use http::{HeaderName, HeaderValue, Method};
use locusta_http::{ClientConfig, HttpClient, HttpError, RequestSpec, Session};
use tokio::io::AsyncWriteExt;

fn client() -> HttpClient {
    HttpClient::new(config()).unwrap()
}

fn echo_json(ex: &locusta_http::Exchange) -> serde_json::Value {
    ex.result.as_ref().unwrap().json().unwrap()
}

#[test]
fn session_is_send_sync_and_send_future_is_send() {
    fn assert_send_sync<T: Send + Sync>() {}
    fn assert_send<T: Send>(_: &T) {}
    assert_send_sync::<Session>();
    assert_send_sync::<HttpClient>();
    let s = client().session(Some("http://127.0.0.1:1")).unwrap();
    let fut = s.send(RequestSpec::get("/"));
    assert_send(&fut);
}

#[tokio::test]
async fn keep_alive_reuses_one_connection() {
    let srv = hyper_server().await;
    let s = client().session(Some(&srv.base())).unwrap();
    for _ in 0..100 {
        let ex = s.send(RequestSpec::get("/ok")).await;
        let r = ex.result.unwrap();
        assert_eq!(r.status, 200);
        assert_eq!(&r.body[..], b"ok");
    }
    assert_eq!(srv.conns(), 1);
    assert_eq!(s.idle_connections(), 1);
    s.close_connections();
    assert_eq!(s.idle_connections(), 0);
    let ex = s.send(RequestSpec::get("/ok")).await;
    assert_eq!(ex.status(), 200);
    assert_eq!(srv.conns(), 2);
}

#[tokio::test]
async fn cookies_are_stored_sent_and_per_session() {
    let srv = hyper_server().await;
    let c = client();
    let s1 = c.session(Some(&srv.base())).unwrap();
    let s2 = c.session(Some(&srv.base())).unwrap();
    assert_eq!(s1.send(RequestSpec::get("/set")).await.status(), 200);
    let mut names = s1.cookies();
    names.sort();
    assert_eq!(
        names,
        vec![
            ("sid".into(), "abc123".into()),
            ("theme".into(), "dark".into())
        ]
    );
    let e1 = echo_json(&s1.send(RequestSpec::get("/echo")).await);
    let cookie = e1["headers"]["cookie"].as_str().unwrap();
    assert!(cookie.contains("sid=abc123"), "{cookie}");
    assert!(cookie.contains("theme=dark"), "{cookie}");
    let e2 = echo_json(&s2.send(RequestSpec::get("/echo")).await);
    assert!(e2["headers"].get("cookie").is_none());
    // manual cookie + per-request cookie override
    s2.set_cookie("manual", "1", None).unwrap();
    let e2 = echo_json(
        &s2.send(RequestSpec::get("/echo").cookie("extra", "2"))
            .await,
    );
    assert_eq!(e2["headers"]["cookie"], "manual=1; extra=2");
    // per-request cookies are not stored
    assert_eq!(s2.cookies(), vec![("manual".into(), "1".into())]);
    s1.clear_cookies();
    assert!(s1.cookies().is_empty());
}

#[tokio::test]
async fn redirect_302_downgrades_post_and_keeps_history() {
    let srv = hyper_server().await;
    let s = client().session(Some(&srv.base())).unwrap();
    let ex = s
        .send(
            RequestSpec::post("/r302")
                .query("x", "1")
                .json(serde_json::json!({"a": 1})),
        )
        .await;
    assert_eq!(ex.stats_path, "/r302?x=1");
    assert_eq!(ex.request_url.as_str(), srv.url("/r302?x=1"));
    assert_eq!(ex.history.len(), 1);
    assert_eq!(ex.history[0].status, 302);
    assert_eq!(ex.history[0].url.path(), "/r302");
    let r = ex.result.as_ref().unwrap();
    assert_eq!(r.url.path(), "/final");
    let e = r.json().unwrap();
    assert_eq!(e["method"], "GET");
    assert_eq!(e["body"], "");
    assert!(e["headers"].get("content-type").is_none());
    // without following
    let ex = s
        .send(RequestSpec::get("/r302").allow_redirects(false))
        .await;
    assert_eq!(ex.status(), 302);
    assert!(ex.history.is_empty());
}

#[tokio::test]
async fn redirect_303_and_307() {
    let srv = hyper_server().await;
    let s = client().session(Some(&srv.base())).unwrap();
    let ex = s
        .send(RequestSpec::new(Method::PUT, "/r303").bytes("data", None))
        .await;
    let e = echo_json(&ex);
    assert_eq!(e["method"], "GET");
    assert_eq!(e["body"], "");
    // 307 keeps method and body
    let ex = s.send(RequestSpec::post("/r307").bytes("keep", None)).await;
    let e = echo_json(&ex);
    assert_eq!(e["method"], "POST");
    assert_eq!(e["body"], "keep");
    assert_eq!(ex.history[0].status, 307);
}

#[tokio::test]
async fn cookies_set_on_a_redirect_are_sent_to_the_target() {
    let srv = hyper_server().await;
    let s = client().session(Some(&srv.base())).unwrap();
    let e = echo_json(&s.send(RequestSpec::get("/redir-set-cookie")).await);
    assert_eq!(e["headers"]["cookie"], "hop=1");
}

/// Locust's default stats name, end to end: the path and query of the first URL, whether
/// relative to the base or absolute, with query parameters, kept across a redirect.
#[tokio::test]
async fn stats_name_is_the_first_urls_path_and_query() {
    let srv = hyper_server().await;
    let s = client()
        .session(Some(&format!("{}/ignored-base", srv.base())))
        .unwrap();
    let ex = s.send(RequestSpec::get(srv.url("/ok?a=1"))).await;
    assert_eq!(ex.status(), 200);
    assert_eq!(ex.stats_name(None), "/ok?a=1", "absolute URL: its own path");
    s.set_base_url(Some(&srv.base()));
    let ex = s.send(RequestSpec::get("/r302").query("x", "1")).await;
    assert_eq!(ex.result.as_ref().unwrap().url.path(), "/final");
    assert_eq!(ex.stats_name(None), "/r302?x=1", "the first URL's name");
    assert_eq!(ex.stats_name(Some("grouped")), "grouped");
    let ex = s.send(RequestSpec::get("")).await;
    assert_eq!(ex.stats_name(None), "/", "an empty path is /");
}

#[tokio::test]
async fn too_many_redirects() {
    let srv = hyper_server().await;
    let c = HttpClient::new(ClientConfig {
        max_redirects: 3,
        ..config()
    })
    .unwrap();
    let s = c.session(Some(&srv.base())).unwrap();
    let ex = s.send(RequestSpec::get("/loop")).await;
    let err = ex.result.as_ref().unwrap_err();
    assert_eq!(err, &HttpError::TooManyRedirects { max: 3 });
    assert_eq!(err.to_string(), "TooManyRedirects('Exceeded 3 redirects.')");
    assert_eq!(ex.history.len(), 4);
    assert_eq!(ex.stats_path, "/loop");
}

#[tokio::test]
async fn query_json_and_form_bodies_arrive() {
    let srv = hyper_server().await;
    let s = client().session(Some(&srv.base())).unwrap();
    let e = echo_json(
        &s.send(
            RequestSpec::get("/q?a=1")
                .query("b", "x y")
                .query("c", "é&"),
        )
        .await,
    );
    assert_eq!(e["uri"], "/q?a=1&b=x+y&c=%C3%A9%26");
    let e = echo_json(
        &s.send(RequestSpec::post("/j").json(serde_json::json!({"k": [1, 2]})))
            .await,
    );
    assert_eq!(e["headers"]["content-type"], "application/json");
    assert_eq!(e["body"], r#"{"k":[1,2]}"#);
    assert_eq!(e["headers"]["content-length"], "11");
    let e = echo_json(
        &s.send(RequestSpec::post("/f").form(vec![
            ("user".into(), "a b".into()),
            ("pw".into(), "x=y".into()),
        ]))
        .await,
    );
    assert_eq!(
        e["headers"]["content-type"],
        "application/x-www-form-urlencoded"
    );
    assert_eq!(e["body"], "user=a+b&pw=x%3Dy");
    let e = echo_json(&s.send(RequestSpec::new(Method::DELETE, "/d")).await);
    assert_eq!(e["method"], "DELETE");
    assert_eq!(e["headers"]["content-length"], "0");
}

#[tokio::test]
async fn default_and_per_request_headers() {
    let srv = hyper_server().await;
    let s = client().session(Some(&srv.base())).unwrap();
    s.default_headers().insert(
        HeaderName::from_static("x-team"),
        HeaderValue::from_static("blue"),
    );
    s.default_headers()
        .insert(http::header::ACCEPT, HeaderValue::from_static("text/plain"));
    let e = echo_json(&s.send(RequestSpec::get("/h")).await);
    assert_eq!(e["headers"]["x-team"], "blue");
    assert_eq!(e["headers"]["accept"], "text/plain");
    assert_eq!(e["headers"]["accept-encoding"], "gzip, deflate");
    assert!(e["headers"]["user-agent"]
        .as_str()
        .unwrap()
        .starts_with("locusta/"));
    assert_eq!(e["headers"]["host"], srv.addr.to_string());
    let e = echo_json(
        &s.send(
            RequestSpec::get("/h")
                .try_header("X-Team", "red")
                .unwrap()
                .try_header("X-Only", "once")
                .unwrap(),
        )
        .await,
    );
    assert_eq!(e["headers"]["x-team"], "red");
    assert_eq!(e["headers"]["x-only"], "once");
}

#[tokio::test]
async fn a_host_header_of_the_users_replaces_the_urls() {
    let srv = hyper_server().await;
    let s = client().session(Some(&srv.base())).unwrap();
    let spec = RequestSpec::get("/h")
        .try_header("Host", "shop.example")
        .unwrap();
    let e = echo_json(&s.send(spec).await);
    assert_eq!(e["headers"]["host"], "shop.example");
    assert_eq!(e["host_headers"], 1);
    s.default_headers().insert(
        http::header::HOST,
        HeaderValue::from_static("default.example"),
    );
    for spec in [
        RequestSpec::get("/h"),
        RequestSpec::get("/h").try_header("X-Other", "1").unwrap(),
    ] {
        let e = echo_json(&s.send(spec).await);
        assert_eq!(e["headers"]["host"], "default.example");
        assert_eq!(e["host_headers"], 1);
    }
}

#[tokio::test]
async fn basic_auth_from_base_url_and_per_request() {
    let srv = hyper_server().await;
    let base = format!("http://al%40ice:s3cr%3At@{}", srv.addr);
    let s = client().session(Some(&base)).unwrap();
    assert_eq!(s.base_url().unwrap(), srv.base());
    let ex = s.send(RequestSpec::get("/a")).await;
    assert_eq!(ex.request_url.as_str(), srv.url("/a"));
    let e = echo_json(&ex);
    // base64("al@ice:s3cr:t")
    assert_eq!(e["headers"]["authorization"], "Basic YWxAaWNlOnMzY3I6dA==");
    let e = echo_json(&s.send(RequestSpec::get("/a").basic_auth("bob", "pw")).await);
    assert_eq!(e["headers"]["authorization"], "Basic Ym9iOnB3");
}

#[tokio::test]
async fn gzip_body_is_decoded() {
    let srv = hyper_server().await;
    let s = client().session(Some(&srv.base())).unwrap();
    let ex = s.send(RequestSpec::get("/gzip")).await;
    let r = ex.result.as_ref().unwrap();
    assert_eq!(&r.body[..], b"compressed hello, compressed hello");
    assert_eq!(ex.content_length(), 34);
}

#[tokio::test]
async fn status_500_gives_locust_failure_text() {
    let srv = hyper_server().await;
    let s = client().session(Some(&srv.base())).unwrap();
    let ex = s.send(RequestSpec::get("/status500?a=b")).await;
    assert_eq!(ex.status(), 500);
    assert_eq!(
        ex.failure_text(&ex.stats_path).unwrap(),
        "HTTPError('500 Server Error: Internal Server Error for url: /status500?a=b')"
    );
    assert_eq!(ex.result.as_ref().unwrap().reason, "Internal Server Error");
}

#[tokio::test]
async fn connection_refused() {
    // bind then drop to get a (very likely) closed port
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    drop(l);
    let s = client()
        .session(Some(&format!("http://127.0.0.1:{port}")))
        .unwrap();
    let ex = s.send(RequestSpec::get("/closed")).await;
    let err = ex.result.unwrap_err();
    assert_eq!(
        err.to_string(),
        "ConnectionRefusedError(111, 'Connection refused')"
    );
    assert!(err.is_connect());
    assert_eq!(ex.stats_path, "/closed");
}

#[tokio::test]
async fn reset_before_and_during_response() {
    let before = raw_server(|mut s| async move {
        let _ = read_head(&mut s).await;
        reset(s);
    })
    .await;
    let c = client();
    let s = c.session(Some(&before.base())).unwrap();
    let err = s.send(RequestSpec::get("/")).await.result.unwrap_err();
    assert_eq!(
        err.to_string(),
        "ConnectionResetError(104, 'Connection reset by peer')"
    );

    let mid = raw_server(|mut s| async move {
        let _ = read_head(&mut s).await;
        let _ = s
            .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nabc")
            .await;
        tokio::time::sleep(Duration::from_millis(50)).await;
        reset(s);
    })
    .await;
    let s = c.session(Some(&mid.base())).unwrap();
    let err = s.send(RequestSpec::get("/")).await.result.unwrap_err();
    assert_eq!(
        err.to_string(),
        "ChunkedEncodingError(ProtocolError(\"Connection broken: ConnectionResetError(104, 'Connection reset by peer')\", ConnectionResetError(104, 'Connection reset by peer')))"
    );

    let short = raw_server(|mut s| async move {
        let _ = read_head(&mut s).await;
        let _ = s
            .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nabc")
            .await;
    })
    .await;
    let s = c.session(Some(&short.base())).unwrap();
    let err = s.send(RequestSpec::get("/")).await.result.unwrap_err();
    assert_eq!(
        err.to_string(),
        "ChunkedEncodingError(ProtocolError('Connection broken: IncompleteRead(3 bytes read, 97 more expected)', IncompleteRead(3 bytes read, 97 more expected)))"
    );
}

#[tokio::test]
async fn close_without_response_is_remote_disconnected() {
    let srv = raw_server(|mut s| async move {
        let _ = read_head(&mut s).await;
        drop(s);
    })
    .await;
    let s = client().session(Some(&srv.base())).unwrap();
    let ex = s.send(RequestSpec::get("/")).await;
    assert_eq!(
        ex.result.unwrap_err().to_string(),
        "RemoteDisconnected('Remote end closed connection without response')"
    );
    // a fresh connection is never retried
    assert_eq!(srv.conns(), 1);
}

#[tokio::test]
async fn idle_connection_closed_by_server_is_replaced_transparently() {
    // serves exactly one request per connection, then closes it after a short idle time
    let srv = raw_server(|mut s| async move {
        if read_head(&mut s).await.is_some() {
            write_ok(&mut s).await;
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        drop(s);
    })
    .await;
    let s = client().session(Some(&srv.base())).unwrap();
    for i in 0..5 {
        let ex = s.send(RequestSpec::get("/")).await;
        assert_eq!(ex.status(), 200, "request {i}: {:?}", ex.result.err());
        tokio::time::sleep(Duration::from_millis(60)).await;
    }
    assert_eq!(srv.conns(), 5);
}

#[tokio::test]
async fn racing_idle_close_is_retried_for_idempotent_requests() {
    // answers one request, then closes as soon as the next request arrives (without answering):
    // the client cannot see the close in advance, and the server did not process the request
    let srv = raw_server(|mut s| async move {
        if read_head(&mut s).await.is_some() {
            write_ok(&mut s).await;
            let _ = read_head(&mut s).await;
        }
        drop(s);
    })
    .await;
    let s = client().session(Some(&srv.base())).unwrap();
    for i in 0..3 {
        let ex = s.send(RequestSpec::get("/")).await;
        assert_eq!(ex.status(), 200, "request {i}: {:?}", ex.result.err());
    }
    // a POST is not retried: it may have been processed
    let ex = s.send(RequestSpec::post("/")).await;
    assert!(ex.result.is_err());
}

#[tokio::test]
async fn timeout_is_reported() {
    let srv = hyper_server().await;
    let s = client().session(Some(&srv.base())).unwrap();
    let ex = s
        .send(RequestSpec::get("/slow").timeout(Duration::from_millis(300)))
        .await;
    let err = ex.result.unwrap_err();
    assert!(err.is_timeout());
    assert_eq!(
        err.to_string(),
        format!(
            "ReadTimeout(ReadTimeoutError(\"HTTPConnectionPool(host='127.0.0.1', port={}): Read timed out. (read timeout=0.3)\"))",
            srv.addr.port()
        )
    );
    assert!(ex.elapsed >= Duration::from_millis(300) && ex.elapsed < Duration::from_secs(2));
}

#[tokio::test]
async fn garbage_response_is_bad_status_line() {
    let srv = raw_server(|mut s| async move {
        let _ = read_head(&mut s).await;
        let _ = s.write_all(b"HELLO\r\n\r\n").await;
        tokio::time::sleep(Duration::from_millis(100)).await;
    })
    .await;
    let s = client().session(Some(&srv.base())).unwrap();
    let err = s.send(RequestSpec::get("/")).await.result.unwrap_err();
    assert_eq!(err.to_string(), "BadStatusLine('HELLO\\r\\n')");
    assert!(err.is_protocol());
}

#[tokio::test]
async fn invalid_urls_are_errors() {
    let s = client().session(None).unwrap();
    let ex = s.send(RequestSpec::get("/no-base")).await;
    assert!(ex.result.as_ref().unwrap_err().is_invalid_url());
    assert_eq!(ex.stats_path, "/no-base");
    let ex = s.send(RequestSpec::get("http://")).await;
    assert!(ex.result.as_ref().unwrap_err().is_invalid_url());
    let ex = s.send(RequestSpec::get("http://exa mple.com/")).await;
    assert!(ex.result.as_ref().unwrap_err().is_invalid_url());
}

#[tokio::test]
async fn many_concurrent_sessions() {
    let srv = hyper_server().await;
    let c = client();
    let mut tasks = Vec::new();
    for _ in 0..100 {
        let s = c.session(Some(&srv.base())).unwrap();
        tasks.push(tokio::spawn(async move {
            let mut ok = 0;
            for _ in 0..100 {
                let ex = s.send(RequestSpec::get("/ok")).await;
                if ex.status() == 200 && ex.result.as_ref().unwrap().body.as_ref() == b"ok" {
                    ok += 1;
                }
            }
            ok
        }));
    }
    let mut total = 0;
    for t in tasks {
        total += t.await.unwrap();
    }
    assert_eq!(total, 10_000);
    assert_eq!(srv.conns(), 100);
}

#[tokio::test]
async fn concurrent_requests_on_one_session_open_extra_connections() {
    let srv = hyper_server().await;
    let s = std::sync::Arc::new(client().session(Some(&srv.base())).unwrap());
    let a = s.send(RequestSpec::get("/ok"));
    let b = s.send(RequestSpec::get("/ok"));
    let (a, b) = tokio::join!(a, b);
    assert_eq!((a.status(), b.status()), (200, 200));
    assert_eq!(srv.conns(), 2);
    assert_eq!(s.idle_connections(), 2);
}

#[tokio::test]
async fn inline_connection_driving_behaves_the_same() {
    let c = HttpClient::new(ClientConfig {
        spawn_connections: false,
        ..config()
    })
    .unwrap();
    let srv = hyper_server().await;
    let s = c.session(Some(&srv.base())).unwrap();
    for _ in 0..100 {
        assert_eq!(s.send(RequestSpec::get("/ok")).await.status(), 200);
    }
    assert_eq!(srv.conns(), 1);
    let ex = s.send(RequestSpec::get("/gzip")).await;
    assert_eq!(ex.content_length(), 34);
    let e = echo_json(&s.send(RequestSpec::post("/r307").bytes("keep", None)).await);
    assert_eq!(e["body"], "keep");

    let racy = raw_server(|mut s| async move {
        if read_head(&mut s).await.is_some() {
            write_ok(&mut s).await;
            let _ = read_head(&mut s).await;
        }
        drop(s);
    })
    .await;
    let s = c.session(Some(&racy.base())).unwrap();
    for i in 0..3 {
        let ex = s.send(RequestSpec::get("/")).await;
        assert_eq!(ex.status(), 200, "request {i}: {:?}", ex.result.err());
    }

    let mid = raw_server(|mut s| async move {
        let _ = read_head(&mut s).await;
        let _ = s
            .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nabc")
            .await;
        tokio::time::sleep(Duration::from_millis(50)).await;
        reset(s);
    })
    .await;
    let s = c.session(Some(&mid.base())).unwrap();
    let err = s.send(RequestSpec::get("/")).await.result.unwrap_err();
    assert!(err.to_string().starts_with(
        "ChunkedEncodingError(ProtocolError(\"Connection broken: ConnectionResetError(104"
    ));
}

#[tokio::test]
async fn redirect_301_changes_only_post_and_drops_bodies() {
    let srv = hyper_server().await;
    let s = client().session(Some(&srv.base())).unwrap();
    let e = echo_json(&s.send(RequestSpec::post("/r301").bytes("x", None)).await);
    assert_eq!(e["method"], "GET");
    assert_eq!(e["body"], "");
    // requests keeps PUT on a 301 but does not resend the body
    let e = echo_json(
        &s.send(RequestSpec::new(Method::PUT, "/r301").bytes("x", None))
            .await,
    );
    assert_eq!(e["method"], "PUT");
    assert_eq!(e["body"], "");
}

#[tokio::test]
async fn host_names_are_resolved() {
    let srv = hyper_server().await;
    let s = client()
        .session(Some(&format!("http://localhost:{}", srv.addr.port())))
        .unwrap();
    let ex = s.send(RequestSpec::get("/ok")).await;
    // localhost may resolve to ::1 first; the server only listens on 127.0.0.1, so this also
    // checks that every resolved address is tried
    assert_eq!(ex.status(), 200, "{:?}", ex.result.err());
    assert_eq!(
        echo_json(&s.send(RequestSpec::get("/e")).await)["headers"]["host"],
        format!("localhost:{}", srv.addr.port())
    );
}

/// The cached header set and URL of plain requests must follow every change of the default
/// headers, the cookie jar and the base URL.
#[tokio::test]
async fn plain_request_caches_follow_session_changes() {
    let a = hyper_server().await;
    let b = hyper_server().await;
    let s = client().session(Some(&a.base())).unwrap();
    let e = echo_json(&s.send(RequestSpec::get("/same")).await);
    assert_eq!(e["headers"]["host"], a.addr.to_string());
    assert!(e["headers"].get("x-later").is_none());
    s.default_headers().insert(
        HeaderName::from_static("x-later"),
        HeaderValue::from_static("1"),
    );
    let e = echo_json(&s.send(RequestSpec::get("/same")).await);
    assert_eq!(e["headers"]["x-later"], "1");
    s.default_headers().remove("x-later");
    let e = echo_json(&s.send(RequestSpec::get("/same")).await);
    assert!(e["headers"].get("x-later").is_none());
    s.set_cookie("c", "v", None).unwrap();
    let e = echo_json(&s.send(RequestSpec::get("/same")).await);
    assert_eq!(e["headers"]["cookie"], "c=v");
    s.clear_cookies();
    s.set_base_url(Some(&b.base()));
    let ex = s.send(RequestSpec::get("/same")).await;
    assert_eq!(ex.request_url.as_str(), format!("{}/same", b.base()));
    let e = echo_json(&ex);
    assert_eq!(e["headers"]["host"], b.addr.to_string());
    assert!(e["headers"].get("cookie").is_none());
}

/// Sessions share the prebuilt headers of plain requests only while their defaults are
/// untouched: one session's change must not leak into another.
#[tokio::test]
async fn header_templates_are_not_shared_after_a_change() {
    let srv = hyper_server().await;
    let c = client();
    let s1 = c.session(Some(&srv.base())).unwrap();
    let s2 = c.session(Some(&srv.base())).unwrap();
    for s in [&s1, &s2] {
        let e = echo_json(&s.send(RequestSpec::get("/t")).await);
        assert!(e["headers"].get("x-only-s1").is_none());
    }
    s1.default_headers().insert(
        HeaderName::from_static("x-only-s1"),
        HeaderValue::from_static("yes"),
    );
    let e = echo_json(&s1.send(RequestSpec::get("/t")).await);
    assert_eq!(e["headers"]["x-only-s1"], "yes");
    let e = echo_json(&s2.send(RequestSpec::get("/t")).await);
    assert!(e["headers"].get("x-only-s1").is_none());
    let s3 = c.session(Some(&srv.base())).unwrap();
    let e = echo_json(&s3.send(RequestSpec::get("/t")).await);
    assert!(e["headers"].get("x-only-s1").is_none());
    assert_eq!(e["headers"]["host"], srv.addr.to_string());
}
