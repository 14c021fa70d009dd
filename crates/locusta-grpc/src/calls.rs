//! Whole calls on a session, recorded as they end: the shared body of [`crate::GrpcClient`] and
//! of the Rust-native user's `client.grpc()` in the `locusta` crate.

use std::time::Duration;

use bytes::Bytes;
use locusta_http::Session;
use locusta_stats::StatsHub;

use crate::call::{CallOptions, ResponseStream};
use crate::schema::Schema;
use crate::status::{Code, Status};

/// Where a call is recorded, and what is added to its response time (the open model's start
/// delay of the user's iteration).
#[derive(Clone, Copy)]
pub struct Recorder<'a> {
    /// The run's statistics.
    pub stats: &'a StatsHub,
    /// Added to the response time.
    pub extra: Duration,
}

fn record(call: &ResponseStream, recorder: Option<Recorder<'_>>) {
    if let Some(r) = recorder {
        call.record(r.stats, r.extra);
    }
}

/// A unary call with an encoded request; its encoded response.
pub async fn unary(
    session: &Session,
    method: &str,
    request: &[u8],
    options: &CallOptions,
    recorder: Option<Recorder<'_>>,
) -> Result<Bytes, Status> {
    let mut call = ResponseStream::start(session, method, request, options).await;
    let reply = call.single().await;
    record(&call, recorder);
    reply
}

/// A server-streaming call read to its end; every message, recorded once at the end.
pub async fn server_streaming(
    session: &Session,
    method: &str,
    request: &[u8],
    options: &CallOptions,
    recorder: Option<Recorder<'_>>,
) -> Result<Vec<Bytes>, Status> {
    let mut call = ResponseStream::start(session, method, request, options).await;
    let all = call.collect().await;
    record(&call, recorder);
    all
}

/// A client-streaming call: every encoded request message, then its one encoded response.
/// Recorded once, at its end.
pub async fn client_streaming<M: AsRef<[u8]>>(
    session: &Session,
    method: &str,
    requests: &[M],
    options: &CallOptions,
    recorder: Option<Recorder<'_>>,
) -> Result<Bytes, Status> {
    let mut call = ResponseStream::start_streaming(session, method, requests, options).await;
    let reply = call.single().await;
    record(&call, recorder);
    reply
}

/// A bidirectional call: every encoded request message; every response message, read to the
/// call's end. Recorded once, at its end.
pub async fn bidi_streaming<M: AsRef<[u8]>>(
    session: &Session,
    method: &str,
    requests: &[M],
    options: &CallOptions,
    recorder: Option<Recorder<'_>>,
) -> Result<Vec<Bytes>, Status> {
    let mut call = ResponseStream::start_streaming(session, method, requests, options).await;
    let all = call.collect().await;
    record(&call, recorder);
    all
}

/// A call with a JSON request, by `schema`: a unary method's response as JSON, a
/// server-streaming method's messages as a JSON array. A client-streaming or bidirectional
/// method takes a JSON array of request messages (and answers one message, or an array for
/// bidirectional ones).
pub async fn call_json(
    session: &Session,
    schema: &Schema,
    method: &str,
    request: &serde_json::Value,
    options: &CallOptions,
    recorder: Option<Recorder<'_>>,
) -> Result<serde_json::Value, Status> {
    let m = schema.method(method)?;
    if m.is_client_streaming() {
        let Some(items) = request.as_array() else {
            return Err(Status::new(
                Code::InvalidArgument,
                format!(
                    "{} streams requests from the client: give a JSON array of request messages",
                    m.path()
                ),
            ));
        };
        let bodies = items
            .iter()
            .map(|item| m.encode_request(item))
            .collect::<Result<Vec<_>, _>>()?;
        if m.is_server_streaming() {
            let all = bidi_streaming(session, &m.path(), &bodies, options, recorder).await?;
            return decode_all(&m, &all);
        }
        let reply = client_streaming(session, &m.path(), &bodies, options, recorder).await?;
        return m.decode_response(&reply);
    }
    let body = m.encode_request(request)?;
    if m.is_server_streaming() {
        let all = server_streaming(session, &m.path(), &body, options, recorder).await?;
        decode_all(&m, &all)
    } else {
        let reply = unary(session, &m.path(), &body, options, recorder).await?;
        m.decode_response(&reply)
    }
}

/// Response messages as a JSON array.
fn decode_all(m: &crate::schema::Method, all: &[Bytes]) -> Result<serde_json::Value, Status> {
    let items = all
        .iter()
        .map(|b| m.decode_response(b))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(serde_json::Value::Array(items))
}
