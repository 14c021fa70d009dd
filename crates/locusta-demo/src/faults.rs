//! The fault-injecting endpoints `/_fault/<kind>` of the demo target, and [`StallServer`].
//!
//! A load tester is pointed at failing systems, so locusta's own tests need a target that fails
//! on purpose, the same way every time: resets, early closes, lying Content-Length, invalid
//! HTTP, broken chunked framing, huge and endless bodies, a trickle, a server that never answers,
//! seeded random 5xx, redirect loops, a refused port and a TLS handshake that never completes.
//! Each behaviour is chosen by the path (and tuned by the query), so one running target serves
//! them all side by side. Faults below the HTTP layer take the raw socket back from hyper (see
//! [`crate::server`]) and write the bytes themselves, which hyper would never produce.
//!
//! | path | what the client gets |
//! | --- | --- |
//! | `/_fault/refused` | 307 to `http://127.0.0.1:<port>/` where nothing listens |
//! | `/_fault/reset` | TCP RST instead of a response |
//! | `/_fault/reset-mid?size=N&sent=M` | head announcing N body bytes, M of them, then RST |
//! | `/_fault/close-after-headers?size=N` | head announcing N body bytes, then FIN |
//! | `/_fault/length-short` | `Content-Length: 5` with 20 body bytes, then FIN |
//! | `/_fault/length-long` | `Content-Length: 100` with 20 body bytes, then FIN |
//! | `/_fault/invalid-status` | bytes that are not an HTTP status line, then FIN |
//! | `/_fault/invalid-header` | a valid status line, then a header line without a colon |
//! | `/_fault/chunked-bad-size` | chunked body whose size line is not hexadecimal |
//! | `/_fault/chunked-truncated` | chunked body that ends (FIN) inside a chunk |
//! | `/_fault/chunked-bad-end` | chunk data not followed by CRLF |
//! | `/_fault/big?mb=N` | a complete N MiB body (default 10, at most 10) |
//! | `/_fault/endless?framing=chunked\|close\|length` | a body that never ends |
//! | `/_fault/trickle?ms=T&size=N` | N body bytes (default 10), one every T ms (default 1000) |
//! | `/_fault/hang` | the request is read, the answer never comes |
//! | `/_fault/random-5xx?seed=S&percent=P` | 500/502/503/504 for P% of requests, 200 otherwise |
//! | `/_fault/redirect-loop` | 302 to itself, forever |
//!
//! `random-5xx` is deterministic: the server numbers these requests 0, 1, 2, ... and request
//! `i` fails exactly when [`random_5xx_status`]`(seed, percent, i)` says so, so a test that sends
//! N requests knows the exact number of failures whatever their order.
//!
//! A slow TLS handshake needs a listener that is not HTTP at all: [`StallServer`] accepts TCP
//! connections and sends nothing for a while (a TLS client waits for its ServerHello).

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use bytes::Bytes;
use http::header::{self, HeaderValue};
use http::StatusCode;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::oneshot;

use crate::server::Socket;
use crate::state::Shared;

/// Largest body `/_fault/big` sends, in MiB.
pub const MAX_BIG_MB: u64 = 10;
/// Longest pause between two bytes of `/_fault/trickle`, in milliseconds.
pub const MAX_TRICKLE_MS: u64 = 60_000;
/// How long `/_fault/hang` keeps a connection at most before closing it.
pub const HANG_LIMIT: Duration = Duration::from_secs(600);

/// A socket-level fault: the driver writes these bytes itself instead of hyper.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Fault {
    /// Head announcing `size` bytes, `sent` of them, then RST.
    ResetMid { size: u64, sent: u64 },
    /// Head announcing `size` bytes (with `sent` of them), then an orderly close.
    Truncated { size: u64, sent: u64 },
    /// `Content-Length: 5` but 20 bytes follow, then an orderly close.
    LengthShort,
    /// A valid status line and a header line without a colon.
    InvalidHeader,
    /// `Transfer-Encoding: chunked` with a size line `zz`.
    ChunkedBadSize,
    /// A chunk announcing 16 bytes, 4 of them, then an orderly close.
    ChunkedTruncated,
    /// A chunk whose data is not followed by CRLF.
    ChunkedBadEnd,
    /// A body that never ends.
    Endless(Framing),
    /// `size` body bytes, one every `every`.
    Trickle { every: Duration, size: u64 },
    /// Read and discard whatever comes, never answer.
    Hang,
}

/// How `/_fault/endless` frames its body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Framing {
    /// `Transfer-Encoding: chunked`, one chunk after another.
    Chunked,
    /// No length: the body runs until the connection closes (it never does).
    Close,
    /// `Content-Length` of 2^62 bytes.
    Length,
}

/// What a `/_fault/` path asks for.
pub(crate) enum Action {
    /// An ordinary HTTP response.
    Respond(crate::server::Resp),
    /// Take the raw socket and misbehave.
    Raw(crate::server::RawAction),
}

/// Whether the `i`-th `/_fault/random-5xx` request (counted from 0 on one server) fails for this
/// seed and percentage, and with which status (500, 502, 503 or 504). A pure function, so tests
/// compute the exact expected failures of any number of requests.
pub fn random_5xx_status(seed: u64, percent: u64, i: u64) -> Option<u16> {
    let h = splitmix64(seed ^ splitmix64(i));
    if h % 100 < percent.min(100) {
        Some([500, 502, 503, 504][((h >> 32) % 4) as usize])
    } else {
        None
    }
}

/// A 64-bit mixer (SplitMix64's finaliser): good spread, no state, no dependency.
fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A local TCP port on 127.0.0.1 where nothing listens (bound, then released).
pub fn closed_port() -> std::io::Result<u16> {
    let listener = std::net::TcpListener::bind(("127.0.0.1", 0))?;
    let port = listener.local_addr()?.port();
    drop(listener);
    Ok(port)
}

fn param(query: Option<&str>, name: &str, default: u64, max: u64) -> Result<u64, String> {
    let Some(query) = query else {
        return Ok(default);
    };
    match url::form_urlencoded::parse(query.as_bytes()).find(|(k, _)| k == name) {
        None => Ok(default),
        Some((_, v)) => match v.parse::<u64>() {
            Ok(n) if n <= max => Ok(n),
            _ => Err(format!(
                "query parameter '{name}' must be an integer between 0 and {max}"
            )),
        },
    }
}

fn json(status: StatusCode, value: &serde_json::Value) -> crate::server::Resp {
    let mut resp =
        crate::server::Resp::new(http_body_util::Full::new(Bytes::from(value.to_string())));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}

fn bad_request(message: &str) -> Action {
    Action::Respond(json(
        StatusCode::BAD_REQUEST,
        &serde_json::json!({ "error": message }),
    ))
}

/// Decides what `/_fault/<kind>` (the part after `/_fault/`) does.
pub(crate) fn action(shared: &Shared, kind: &str, query: Option<&str>) -> Action {
    use crate::server::RawAction;
    let result = (|| -> Result<Action, String> {
        Ok(match kind {
            "refused" => {
                let port = closed_port().map_err(|e| format!("cannot find a closed port: {e}"))?;
                let to = format!("http://127.0.0.1:{port}/");
                let mut resp = json(
                    StatusCode::TEMPORARY_REDIRECT,
                    &serde_json::json!({ "location": to }),
                );
                let value = HeaderValue::from_str(&to).map_err(|e| e.to_string())?;
                resp.headers_mut().insert(header::LOCATION, value);
                Action::Respond(resp)
            }
            "reset" => Action::Raw(RawAction::Reset),
            "reset-mid" => {
                let size = param(query, "size", 1000, u64::MAX >> 2)?;
                let sent = param(query, "sent", size / 2, size)?;
                Action::Raw(RawAction::Fault(Fault::ResetMid { size, sent }))
            }
            "close-after-headers" => {
                let size = param(query, "size", 100, u64::MAX >> 2)?;
                Action::Raw(RawAction::Fault(Fault::Truncated { size, sent: 0 }))
            }
            "length-short" => Action::Raw(RawAction::Fault(Fault::LengthShort)),
            "length-long" => Action::Raw(RawAction::Fault(Fault::Truncated {
                size: 100,
                sent: 20,
            })),
            "invalid-status" => Action::Raw(RawAction::Garbage),
            "invalid-header" => Action::Raw(RawAction::Fault(Fault::InvalidHeader)),
            "chunked-bad-size" => Action::Raw(RawAction::Fault(Fault::ChunkedBadSize)),
            "chunked-truncated" => Action::Raw(RawAction::Fault(Fault::ChunkedTruncated)),
            "chunked-bad-end" => Action::Raw(RawAction::Fault(Fault::ChunkedBadEnd)),
            "big" => {
                let mb = param(query, "mb", MAX_BIG_MB, MAX_BIG_MB)?;
                let n = usize::try_from(mb * 1024 * 1024).map_err(|e| e.to_string())?;
                let body = crate::routes::blob_slice(n);
                let mut resp = crate::server::Resp::new(http_body_util::Full::new(body));
                resp.headers_mut().insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/octet-stream"),
                );
                Action::Respond(resp)
            }
            "endless" => {
                let framing = match url::form_urlencoded::parse(query.unwrap_or("").as_bytes())
                    .find(|(k, _)| k == "framing")
                    .map(|(_, v)| v.into_owned())
                    .as_deref()
                {
                    None | Some("chunked") => Framing::Chunked,
                    Some("close") => Framing::Close,
                    Some("length") => Framing::Length,
                    Some(_) => return Err("'framing' must be one of chunked, close, length".into()),
                };
                Action::Raw(RawAction::Fault(Fault::Endless(framing)))
            }
            "trickle" => {
                let ms = param(query, "ms", 1000, MAX_TRICKLE_MS)?;
                let size = param(query, "size", 10, 1 << 20)?;
                Action::Raw(RawAction::Fault(Fault::Trickle {
                    every: Duration::from_millis(ms),
                    size,
                }))
            }
            "hang" => Action::Raw(RawAction::Fault(Fault::Hang)),
            "random-5xx" => {
                let seed = param(query, "seed", 0, u64::MAX)?;
                let percent = param(query, "percent", 10, 100)?;
                let i = shared
                    .counters
                    .random_5xx_seq
                    .fetch_add(1, Ordering::Relaxed);
                match random_5xx_status(seed, percent, i) {
                    Some(code) => {
                        let status = StatusCode::from_u16(code).map_err(|e| e.to_string())?;
                        Action::Respond(json(status, &serde_json::json!({ "request": i })))
                    }
                    None => {
                        Action::Respond(json(StatusCode::OK, &serde_json::json!({ "request": i })))
                    }
                }
            }
            "redirect-loop" => {
                let to = match query {
                    Some(q) => format!("/_fault/redirect-loop?{q}"),
                    None => "/_fault/redirect-loop".to_owned(),
                };
                let value = HeaderValue::from_str(&to).map_err(|e| e.to_string())?;
                let mut resp = json(StatusCode::FOUND, &serde_json::json!({ "location": to }));
                resp.headers_mut().insert(header::LOCATION, value);
                Action::Respond(resp)
            }
            other => {
                return Ok(Action::Respond(json(
                    StatusCode::NOT_FOUND,
                    &serde_json::json!({
                        "error": format!("unknown fault {other:?}: see the list in the locusta-demo documentation"),
                    }),
                )))
            }
        })
    })();
    result.unwrap_or_else(|message| bad_request(&message))
}

/// Body bytes: a repeating `a..z` pattern, `n` of them.
fn pattern(n: u64) -> Vec<u8> {
    (0..n).map(|i| b'a' + (i % 26) as u8).collect()
}

/// Writes the fault onto the raw socket; the caller closes it afterwards.
pub(crate) async fn perform<S: Socket>(stream: &mut S, fault: Fault) {
    // Write errors mean the client went away: that ends the fault, nothing to report.
    let _ = perform_inner(stream, fault).await;
}

async fn perform_inner<S: Socket>(stream: &mut S, fault: Fault) -> std::io::Result<()> {
    match fault {
        Fault::ResetMid { size, sent } => {
            let head = format!("HTTP/1.1 200 OK\r\nContent-Length: {size}\r\n\r\n");
            stream.write_all(head.as_bytes()).await?;
            write_pattern(stream, sent).await?;
            stream.flush().await?;
            // Let the bytes leave before the RST discards what is still queued.
            tokio::time::sleep(Duration::from_millis(20)).await;
            stream.tcp().set_zero_linger()?;
        }
        Fault::Truncated { size, sent } => {
            let head = format!("HTTP/1.1 200 OK\r\nContent-Length: {size}\r\n\r\n");
            stream.write_all(head.as_bytes()).await?;
            write_pattern(stream, sent).await?;
            stream.shutdown().await?;
        }
        Fault::LengthShort => {
            stream
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nabcdefghijklmnopqrst")
                .await?;
            stream.shutdown().await?;
        }
        Fault::InvalidHeader => {
            stream
                .write_all(
                    b"HTTP/1.1 200 OK\r\nThis header has no colon\r\nContent-Length: 0\r\n\r\n",
                )
                .await?;
            stream.shutdown().await?;
        }
        Fault::ChunkedBadSize => {
            stream
                .write_all(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n")
                .await?;
            stream.shutdown().await?;
        }
        Fault::ChunkedTruncated => {
            stream
                .write_all(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10\r\nabcd")
                .await?;
            stream.shutdown().await?;
        }
        Fault::ChunkedBadEnd => {
            stream
                .write_all(
                    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nabcdXY0\r\n\r\n",
                )
                .await?;
            stream.shutdown().await?;
        }
        Fault::Endless(framing) => {
            let head: &[u8] = match framing {
                Framing::Chunked => b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
                Framing::Close => b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n",
                Framing::Length => {
                    b"HTTP/1.1 200 OK\r\nContent-Length: 4611686018427387904\r\n\r\n"
                }
            };
            stream.write_all(head).await?;
            let data = pattern(64 * 1024);
            let mut chunk = format!("{:x}\r\n", data.len()).into_bytes();
            chunk.extend_from_slice(&data);
            chunk.extend_from_slice(b"\r\n");
            let piece: &[u8] = if framing == Framing::Chunked {
                &chunk
            } else {
                &data
            };
            // Ends when the client closes (the write fails) or the server shuts down.
            loop {
                stream.write_all(piece).await?;
            }
        }
        Fault::Trickle { every, size } => {
            let head = format!("HTTP/1.1 200 OK\r\nContent-Length: {size}\r\n\r\n");
            stream.write_all(head.as_bytes()).await?;
            for byte in pattern(size) {
                tokio::time::sleep(every).await;
                stream.write_all(&[byte]).await?;
            }
            stream.shutdown().await?;
        }
        Fault::Hang => {
            discard_until_closed(stream, HANG_LIMIT).await;
        }
    }
    Ok(())
}

async fn write_pattern<S: Socket>(stream: &mut S, n: u64) -> std::io::Result<()> {
    let block = pattern(64 * 1024);
    let mut left = n;
    while left > 0 {
        let take = left.min(block.len() as u64) as usize;
        stream.write_all(&block[..take]).await?;
        left -= take as u64;
    }
    Ok(())
}

/// Reads and drops whatever the peer sends until it closes, an error, or `limit` passes.
async fn discard_until_closed<S: Socket>(stream: &mut S, limit: Duration) {
    let mut buf = [0u8; 4096];
    let _ = tokio::time::timeout(limit, async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
        }
    })
    .await;
}

/// A TCP listener on 127.0.0.1 that accepts connections and sends nothing: to a TLS client,
/// a handshake that never completes (slow TLS); to an HTTP client, a request never answered.
/// Each connection is held for `hold` (or until the peer closes), then closed. Stops when
/// dropped.
pub struct StallServer {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl StallServer {
    /// Binds 127.0.0.1 on a free port and starts accepting on its own thread.
    pub fn start(hold: Duration) -> std::io::Result<StallServer> {
        let listener = std::net::TcpListener::bind(("127.0.0.1", 0))?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("locusta-stall".to_owned())
            .spawn(move || {
                runtime.block_on(async move {
                    let Ok(listener) = tokio::net::TcpListener::from_std(listener) else {
                        return;
                    };
                    let mut held = tokio::task::JoinSet::new();
                    tokio::pin!(stop_rx);
                    loop {
                        tokio::select! {
                            _ = &mut stop_rx => break,
                            Some(_) = held.join_next(), if !held.is_empty() => {}
                            accepted = listener.accept() => match accepted {
                                Ok((mut stream, _)) => {
                                    held.spawn(async move {
                                        discard_until_closed(&mut stream, hold).await;
                                    });
                                }
                                Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
                            },
                        }
                    }
                });
                runtime.shutdown_timeout(Duration::from_secs(1));
            })?;
        Ok(StallServer {
            addr,
            stop: Some(stop_tx),
            thread: Some(thread),
        })
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for StallServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Shared helper so that `Arc<Shared>` callers need not clone.
pub(crate) fn handle(shared: &Arc<Shared>, path: &str, query: Option<&str>) -> Option<Action> {
    path.strip_prefix("/_fault/")
        .map(|kind| action(shared, kind, query))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_5xx_is_deterministic_and_near_the_percentage() {
        let fails = (0..10_000)
            .filter(|&i| random_5xx_status(7, 30, i).is_some())
            .count();
        assert!((2_700..3_300).contains(&fails), "{fails}");
        let again = (0..10_000)
            .filter(|&i| random_5xx_status(7, 30, i).is_some())
            .count();
        assert_eq!(fails, again);
        assert!((0..1000).all(|i| random_5xx_status(1, 0, i).is_none()));
        assert!((0..1000).all(|i| random_5xx_status(1, 100, i).is_some()));
        assert!((0..1000)
            .filter_map(|i| random_5xx_status(3, 100, i))
            .all(|s| [500, 502, 503, 504].contains(&s)));
    }

    #[test]
    fn params_are_validated() {
        assert_eq!(param(Some("ms=5"), "ms", 1, 10), Ok(5));
        assert_eq!(param(None, "ms", 1, 10), Ok(1));
        assert!(param(Some("ms=11"), "ms", 1, 10).is_err());
        assert!(param(Some("ms=x"), "ms", 1, 10).is_err());
    }

    #[test]
    fn closed_port_refuses() {
        let port = closed_port().unwrap();
        let err = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::ConnectionRefused);
    }
}
