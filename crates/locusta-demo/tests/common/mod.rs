//! Shared client helpers for the demo target's integration tests: a minimal hyper HTTP/1.1
//! client (one keep-alive connection per `Client`) and raw-socket helpers for the
//! socket-level test endpoints.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream as StdTcpStream};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use locusta_demo::{DemoConfig, DemoServer};

/// Starts a demo server on a random loopback port.
pub fn start() -> DemoServer {
    start_with(DemoConfig::default())
}

/// Starts a demo server on a random loopback port with `cfg`.
pub fn start_with(cfg: DemoConfig) -> DemoServer {
    DemoServer::start("127.0.0.1:0".parse().unwrap(), cfg).unwrap()
}

/// A response, fully read.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: hyper::HeaderMap,
    pub body: Bytes,
}

impl Reply {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("body is not JSON ({e}): {:?}", self.text()))
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .map(|v| v.to_str().unwrap().to_owned())
    }
}

/// One keep-alive HTTP/1.1 connection.
pub struct Client {
    sender: SendRequest<Full<Bytes>>,
    pub token: Option<String>,
}

impl Client {
    pub async fn connect(addr: SocketAddr) -> Client {
        let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        stream.set_nodelay(true).unwrap();
        let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .unwrap();
        tokio::spawn(async move {
            let _ = conn.await;
        });
        Client {
            sender,
            token: None,
        }
    }

    /// Sends a request; adds `Authorization: Bearer` when the client has logged in.
    pub async fn send(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<&str>,
    ) -> Reply {
        let mut builder = hyper::Request::builder()
            .method(method)
            .uri(path)
            .header("host", "127.0.0.1");
        if let Some(token) = &self.token {
            builder = builder.header("authorization", format!("Bearer {token}"));
        }
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        let body = body.map(|b| Bytes::from(b.to_owned())).unwrap_or_default();
        let req = builder.body(Full::new(body)).unwrap();
        self.sender.ready().await.unwrap();
        let resp = self.sender.send_request(req).await.unwrap();
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let body = resp.into_body().collect().await.unwrap().to_bytes();
        Reply {
            status,
            headers,
            body,
        }
    }

    pub async fn get(&mut self, path: &str) -> Reply {
        self.send("GET", path, &[], None).await
    }

    pub async fn post_json(&mut self, path: &str, body: &str) -> Reply {
        self.send(
            "POST",
            path,
            &[("content-type", "application/json")],
            Some(body),
        )
        .await
    }

    /// Logs in through `POST /api/auth/login` and remembers the token.
    pub async fn login(&mut self) -> String {
        let reply = self
            .post_json(
                "/api/auth/login",
                r#"{"email":"loadtest@example.com","password":"test-password-123"}"#,
            )
            .await;
        assert_eq!(reply.status, 200, "{}", reply.text());
        let token = reply.json()["token"].as_str().unwrap().to_owned();
        self.token = Some(token.clone());
        token
    }
}

/// A blocking raw socket with a read timeout, for socket-level checks.
pub fn raw_connect(addr: SocketAddr) -> StdTcpStream {
    let stream = StdTcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    stream
}

/// Sends a bodiless request by hand.
pub fn raw_send(stream: &mut StdTcpStream, method: &str, path: &str) {
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
    )
    .unwrap();
    stream.flush().unwrap();
}

/// Reads one response with a Content-Length body; returns (status, head, body).
pub fn raw_read_response(stream: &mut StdTcpStream) -> (u16, String, Vec<u8>) {
    let mut buf = Vec::new();
    let mut byte = [0u8; 1];
    while !buf.ends_with(b"\r\n\r\n") {
        let n = stream.read(&mut byte).unwrap();
        assert_eq!(n, 1, "connection closed inside the response head: {buf:?}");
        buf.push(byte[0]);
    }
    let head = String::from_utf8(buf).unwrap();
    let status: u16 = head[9..12].parse().unwrap();
    let length: usize = head
        .lines()
        .find_map(|l| {
            let (name, value) = l.split_once(':')?;
            name.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse().unwrap())
        })
        .unwrap_or(0);
    let mut body = vec![0u8; length];
    stream.read_exact(&mut body).unwrap();
    (status, head, body)
}

/// Reads until EOF or error; returns what was read and the error, if any.
pub fn raw_read_to_end(stream: &mut StdTcpStream) -> (Vec<u8>, Option<std::io::Error>) {
    let mut out = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        match stream.read(&mut chunk) {
            Ok(0) => return (out, None),
            Ok(n) => out.extend_from_slice(&chunk[..n]),
            Err(err) => return (out, Some(err)),
        }
    }
}

/// Fetches `/_test/stats` on a fresh connection.
pub async fn stats(addr: SocketAddr) -> serde_json::Value {
    Client::connect(addr).await.get("/_test/stats").await.json()
}
