//! HTTP/2 on the demo target's own port: a connection that opens with HTTP/2's client preface
//! (h2c "with prior knowledge", what `--http2 prior-knowledge`, `h2load` and gRPC clients send
//! to an `http://` address) is served by hyper's HTTP/2 server with the same routes; every other
//! connection stays HTTP/1.1. One port for both keeps `-H http://127.0.0.1:8080` valid whatever
//! protocol a test picks. On the TLS listener ([`crate::tls`]) ALPN decides instead: `h2` is
//! served here.
//!
//! The socket-level misbehaviours (`/_test/reset`, `/_test/close`, `/_test/garbage`,
//! `/_fault/...`) act on a whole connection, which on HTTP/2 carries other streams too: there
//! they close the connection (without the garbage or the reset).
//!
//! gRPC calls (`content-type: application/grpc`) are answered by the gRPC services
//! ([`crate::grpc`]) instead of the HTTP routes.

use std::convert::Infallible;
use std::io;
use std::sync::Arc;
use std::time::Duration;

use http_body_util::Either;
use hyper::body::Incoming;
use hyper::service::Service as _;
use hyper::Request;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpStream;

use crate::server::{ConnControl, ConnService, Socket};
use crate::state::{Counters, Shared};

/// The first bytes of every HTTP/2 connection (RFC 9113 §3.4).
const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// Bytes of the preface that tell it from any HTTP/1.1 request line (`PRI ` is no method).
const DECIDING: usize = 4;

/// Whether the connection opens with HTTP/2's preface, looking at the first bytes without
/// consuming them. Waits (briefly, bounded) only in the odd case that fewer than four bytes
/// arrived and they could still be the preface.
pub(crate) async fn opens_with_preface(stream: &TcpStream) -> io::Result<bool> {
    let mut head = [0u8; DECIDING];
    for _ in 0..200 {
        let n = stream.peek(&mut head).await?;
        if n == 0 || !PREFACE.starts_with(&head[..n]) {
            return Ok(false);
        }
        if n == DECIDING {
            return Ok(true);
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    Ok(false)
}

/// Serves one HTTP/2 connection (h2c, or TLS after ALPN chose `h2`) until the peer closes it
/// or a route asks for a raw action.
pub(crate) async fn serve_connection<S: Socket>(stream: S, shared: Arc<Shared>) {
    Counters::bump(&shared.counters.http2_connections);
    let control = Arc::new(ConnControl::default());
    let routes = Arc::new(ConnService::new(shared, Arc::clone(&control)));
    // gRPC calls go to the gRPC services, whose bodies stream and end with trailers
    let service = hyper::service::service_fn(move |req: Request<Incoming>| {
        let routes = Arc::clone(&routes);
        async move {
            if crate::grpc::is_grpc(&req) {
                Ok::<_, Infallible>(crate::grpc::handle(req).await.map(Either::Right))
            } else {
                routes.call(req).await.map(|resp| resp.map(Either::Left))
            }
        }
    });
    let conn = hyper::server::conn::http2::Builder::new(TokioExecutor::new())
        .serve_connection(TokioIo::new(stream), service);
    tokio::pin!(conn);
    tokio::select! {
        result = &mut conn => {
            if let Err(err) = result {
                log::debug!("demo target: HTTP/2 connection ended with error: {err}");
            }
        }
        // dropping the connection closes the socket, ending every stream on it
        () = control.notified() => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn tells_the_preface_from_http1_requests() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        for (sent, h2) in [
            (&b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"[..], true),
            (b"POST / HTTP/1.1\r\n\r\n", false),
            (b"PUT / HTTP/1.1\r\n\r\n", false),
            (b"GET / HTTP/1.1\r\n\r\n", false),
        ] {
            let mut client = TcpStream::connect(addr).await.unwrap();
            let (server, _) = listener.accept().await.unwrap();
            tokio::io::AsyncWriteExt::write_all(&mut client, sent)
                .await
                .unwrap();
            assert_eq!(opens_with_preface(&server).await.unwrap(), h2, "{sent:?}");
        }
        // a peer that closes at once is no HTTP/2 client
        let client = TcpStream::connect(addr).await.unwrap();
        let (server, _) = listener.accept().await.unwrap();
        drop(client);
        assert!(!opens_with_preface(&server).await.unwrap());
    }
}
