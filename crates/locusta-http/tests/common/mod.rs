//! Test servers on 127.0.0.1:0: a hyper echo/router server that counts connections, and raw TCP
//! servers that misbehave on purpose, and a forward proxy.
#![allow(dead_code)]

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

pub struct Server {
    pub addr: SocketAddr,
    pub connections: Arc<AtomicUsize>,
}

impl Server {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }
    pub fn base(&self) -> String {
        format!("http://{}", self.addr)
    }
    pub fn conns(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }
}

fn resp(status: u16, headers: &[(&str, &str)], body: impl Into<Bytes>) -> Response<Full<Bytes>> {
    let mut b = Response::builder().status(status);
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    b.body(Full::new(body.into())).unwrap()
}

async fn route(req: Request<Incoming>) -> Response<Full<Bytes>> {
    let method = req.method().to_string();
    let uri = req.uri().to_string();
    let path = req.uri().path().to_string();
    let mut headers = serde_json::Map::new();
    for (k, v) in req.headers() {
        headers.insert(
            k.as_str().to_string(),
            serde_json::Value::String(v.to_str().unwrap_or("").to_string()),
        );
    }
    let host_headers = req.headers().get_all("host").iter().count();
    let body = req.into_body().collect().await.unwrap().to_bytes();
    let echo = serde_json::json!({
        "method": method, "uri": uri, "headers": headers, "host_headers": host_headers,
        "body": String::from_utf8_lossy(&body),
    })
    .to_string();
    match path.as_str() {
        "/ok" => resp(200, &[], "ok"),
        "/set" => resp(
            200,
            &[
                ("set-cookie", "sid=abc123; Path=/"),
                ("set-cookie", "theme=dark"),
            ],
            "set",
        ),
        "/r302" => resp(302, &[("location", "/final")], ""),
        "/r301" => resp(301, &[("location", "/final")], ""),
        "/r303" => resp(303, &[("location", "/final")], ""),
        "/r307" => resp(307, &[("location", "/final")], ""),
        "/redir-set-cookie" => resp(302, &[("location", "/echo"), ("set-cookie", "hop=1")], ""),
        "/loop" => resp(302, &[("location", "/loop")], ""),
        "/final" => resp(200, &[], echo),
        "/gzip" => {
            use std::io::Write;
            let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            gz.write_all(b"compressed hello, compressed hello").unwrap();
            resp(200, &[("content-encoding", "gzip")], gz.finish().unwrap())
        }
        "/status500" => resp(500, &[], "boom"),
        "/slow" => {
            tokio::time::sleep(std::time::Duration::from_secs(3)).await;
            resp(200, &[], "late")
        }
        _ => resp(200, &[], echo),
    }
}

/// hyper HTTP/1.1 server with keep-alive; counts accepted connections.
pub async fn hyper_server() -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let connections = Arc::new(AtomicUsize::new(0));
    let c2 = connections.clone();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            c2.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                let svc = hyper::service::service_fn(|req| async move {
                    Ok::<_, Infallible>(route(req).await)
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), svc)
                    .await;
            });
        }
    });
    Server { addr, connections }
}

/// Reads one request head (up to the blank line).
pub async fn read_head(s: &mut TcpStream) -> Option<String> {
    let mut buf = Vec::new();
    let mut b = [0u8; 4096];
    loop {
        let n = s.read(&mut b).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&b[..n]);
        if buf.windows(4).any(|w| w == b"\r\n\r\n") {
            return Some(String::from_utf8_lossy(&buf).into_owned());
        }
    }
}

/// Raw TCP server: `handler` gets each accepted connection.
pub async fn raw_server<F, Fut>(handler: F) -> Server
where
    F: Fn(TcpStream) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let connections = Arc::new(AtomicUsize::new(0));
    let c2 = connections.clone();
    let handler = Arc::new(handler);
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            c2.fetch_add(1, Ordering::SeqCst);
            let h = handler.clone();
            tokio::spawn(async move { h(stream).await });
        }
    });
    Server { addr, connections }
}

/// Sends a minimal 200 response with body "ok".
pub async fn write_ok(s: &mut TcpStream) {
    let _ = s
        .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        .await;
}

/// Resets the connection (SO_LINGER 0 then close).
pub fn reset(s: TcpStream) {
    let _ = socket2::SockRef::from(&s).set_linger(Some(std::time::Duration::ZERO));
    drop(s);
}

/// The client configuration the tests use: the default, with the HTTP driver named by
/// `LOCUSTA_HTTP_DRIVER` (`hyper` or `lean`), so the whole suite runs against either driver.
pub fn config() -> locusta_http::ClientConfig {
    locusta_http::ClientConfig {
        driver: locusta_http::HttpDriver::from_env(),
        ..locusta_http::ClientConfig::default()
    }
}

/// A forward proxy for tests: plain requests (absolute-form target) are answered by the proxy
/// itself, echoing the request line; `CONNECT` is answered with `connect_status` and, on 200,
/// tunnelled to the target.
pub async fn test_proxy(connect_status: u16) -> (u16, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let lines = Arc::new(Mutex::new(Vec::new()));
    let seen = lines.clone();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            let seen = seen.clone();
            tokio::spawn(async move {
                while let Some(head) = read_head(&mut s).await {
                    let line = head.lines().next().unwrap_or_default().to_string();
                    seen.lock().unwrap().push(line.clone());
                    if let Some(authority) = line
                        .strip_prefix("CONNECT ")
                        .and_then(|r| r.split(' ').next())
                    {
                        let reply = format!("HTTP/1.1 {connect_status} Whatever\r\n\r\n");
                        let _ = s.write_all(reply.as_bytes()).await;
                        if connect_status == 200 {
                            if let Ok(mut up) = TcpStream::connect(authority).await {
                                let _ = tokio::io::copy_bidirectional(&mut s, &mut up).await;
                            }
                        }
                        return;
                    }
                    let body = line.clone();
                    let reply = format!(
                        "HTTP/1.1 200 OK\r\ncontent-length: {}\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = s.write_all(reply.as_bytes()).await;
                }
            });
        }
    });
    (port, lines)
}
