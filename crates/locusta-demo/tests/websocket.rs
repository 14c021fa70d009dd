//! The WebSocket endpoints on the wire: the handshake (RFC 6455's sample key, the chosen
//! subprotocol), a frame sent in the same packet as the handshake (bytes hyper read ahead must
//! reach the WebSocket), the echo, the server-side close, and refusals of non-upgrade requests.

mod common;

use std::io::{Read, Write};

use common::{raw_connect, start, Client};

/// A masked client frame (FIN set) with a short payload.
fn client_frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
    assert!(payload.len() < 126);
    let mask = [0x12u8, 0x34, 0x56, 0x78];
    let mut frame = vec![0x80 | opcode, 0x80 | payload.len() as u8];
    frame.extend_from_slice(&mask);
    frame.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    frame
}

/// Reads exactly `n` bytes.
fn read_n(stream: &mut std::net::TcpStream, n: usize) -> Vec<u8> {
    let mut buf = vec![0u8; n];
    stream.read_exact(&mut buf).expect("read");
    buf
}

/// Reads the response head up to the empty line.
fn read_head(stream: &mut std::net::TcpStream) -> String {
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        head.extend(read_n(stream, 1));
    }
    String::from_utf8(head).expect("utf8 head")
}

fn handshake(path: &str, extra: &str) -> String {
    format!(
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n{extra}\r\n"
    )
}

#[test]
fn the_echo_answers_a_frame_sent_with_the_handshake_and_closes_when_asked() {
    let server = start();
    let mut s = raw_connect(server.addr());
    let mut bytes = handshake(
        "/ws/echo?close_after=1",
        "Sec-WebSocket-Protocol: other, echo.v1\r\n",
    )
    .into_bytes();
    bytes.extend(client_frame(0x1, b"hi"));
    s.write_all(&bytes).expect("write");
    let head = read_head(&mut s);
    assert!(
        head.starts_with("HTTP/1.1 101 Switching Protocols\r\n"),
        "{head}"
    );
    // RFC 6455 section 1.3's example key and answer
    assert!(
        head.contains("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"),
        "{head}"
    );
    assert!(
        head.contains("Sec-WebSocket-Protocol: echo.v1\r\n"),
        "{head}"
    );
    assert_eq!(
        read_n(&mut s, 4),
        [0x81, 2, b'h', b'i'],
        "the echo, unmasked"
    );
    // close_after=1: a close frame with code 1000 and a reason
    let close = read_n(&mut s, 2);
    assert_eq!(close[0], 0x88);
    let rest = read_n(&mut s, usize::from(close[1]));
    assert_eq!(&rest[..2], &1000u16.to_be_bytes());
    assert_eq!(&rest[2..], b"close_after reached");
}

#[tokio::test]
async fn requests_without_an_upgrade_are_refused_with_a_reason() {
    let server = start();
    let mut client = Client::connect(server.addr()).await;
    let reply = client.get("/ws/echo").await;
    assert_eq!(reply.status, 426);
    assert_eq!(reply.header("upgrade").as_deref(), Some("websocket"));
    assert!(
        reply.text().contains("Upgrade: websocket"),
        "{}",
        reply.text()
    );
    let reply = client.send("POST", "/ws/chat", &[], Some("x")).await;
    assert_eq!(reply.status, 405);
    // the connection stays usable for plain requests
    assert_eq!(client.get("/hello").await.status, 200);
}
