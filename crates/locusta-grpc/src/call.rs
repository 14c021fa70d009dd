//! One gRPC call over a locusta-http [`Session`]: the request goes out as an HTTP/2 `POST` with
//! `content-type: application/grpc` on the session's HTTP/2 connection (so connection handling,
//! TLS/ALPN and transport errors are the HTTP client's), the response's messages are cut out of
//! its body as they arrive, and the status is read from the trailers (or from the head of a
//! trailers-only response).
//!
//! Every way a call can end is a [`Status`]: the server's, a deadline (`DEADLINE_EXCEEDED`), a
//! transport failure (`UNAVAILABLE`), or a response that is not gRPC (the spec's HTTP status
//! mapping), so a caller records one outcome per call, as a request is recorded for HTTP.
//!
//! Client-streaming and bidirectional calls ([`ResponseStream::start_streaming`]) send their
//! request messages as one request body, all of them framed one after the other, and half-close
//! the stream: the server sees the messages of a request stream, and the responses are read as
//! they arrive. A request cannot depend on a response of the same call (the request messages
//! are all known when the call starts).
//!
//! The server's metadata is kept: [`ResponseStream::initial_metadata`] (the response head's
//! custom fields) and [`ResponseStream::trailing_metadata`] (the trailers', or a trailers-only
//! head's, without `grpc-status` and `grpc-message`).

use std::time::{Duration, Instant};

use bytes::Bytes;
use locusta_http::{BodyStream, HttpError, RequestSpec, Session};
use locusta_stats::{Sample, StatsHub};

use crate::frame::{self, MessageReader, DEFAULT_MAX_MESSAGE_BYTES};
use crate::status::{Code, Status};

/// The `request_type` gRPC calls are recorded under (as Locust's gRPC example does).
pub const REQUEST_TYPE: &str = "grpc";

/// Settings of one call.
#[derive(Debug, Clone)]
pub struct CallOptions {
    /// The deadline, counted from the start of the call (grpcio's `timeout=`); sent to the
    /// server as `grpc-timeout`. `None`: the session's timeout, if any, limits each read.
    pub timeout: Option<Duration>,
    /// Extra request metadata (grpcio's `metadata=`): lower-case names; names ending in `-bin`
    /// carry base64 values, as the caller gives them.
    pub metadata: Vec<(String, String)>,
    /// Largest response message accepted.
    pub max_message_bytes: usize,
}

impl Default for CallOptions {
    fn default() -> CallOptions {
        CallOptions {
            timeout: None,
            metadata: Vec::new(),
            max_message_bytes: DEFAULT_MAX_MESSAGE_BYTES,
        }
    }
}

/// `pkg.Service/Method` or `/pkg.Service/Method` as the request path `/pkg.Service/Method`.
pub fn method_path(method: &str) -> Result<String, Status> {
    let trimmed = method.trim().trim_start_matches('/');
    match trimmed.split_once('/') {
        Some((service, name))
            if !service.is_empty()
                && !name.is_empty()
                && !name.contains('/')
                && trimmed.bytes().all(|b| b.is_ascii_graphic()) =>
        {
            Ok(format!("/{trimmed}"))
        }
        _ => Err(Status::new(
            Code::InvalidArgument,
            format!(
                "{method:?} is not a gRPC method name: write it as \"package.Service/Method\" \
                 (e.g. \"locusta.demo.Shop/GetProduct\")"
            ),
        )),
    }
}

/// One metadata entry as received: its (lower-case) name and raw value (base64 for `-bin`
/// names, as on the wire).
pub type MetadataEntry = (String, Bytes);

/// A call whose response messages are read one by one as they arrive (server streaming; a
/// unary call is one with exactly one message).
#[derive(Debug)]
pub struct ResponseStream {
    path: String,
    initial: Vec<MetadataEntry>,
    trailing: Vec<MetadataEntry>,
    started: Instant,
    deadline: Option<Duration>,
    body: Option<BodyStream>,
    reader: MessageReader,
    /// How the call ended, once it has.
    end: Option<Result<(), Status>>,
    ended_after: Option<Duration>,
    received: u64,
    messages: u64,
}

impl ResponseStream {
    /// Sends the request message (already encoded) for `method` and waits for the response
    /// head. Never fails here: a call that could not start is a stream that has ended with
    /// that status.
    pub async fn start(
        session: &Session,
        method: &str,
        request: &[u8],
        options: &CallOptions,
    ) -> ResponseStream {
        Self::start_body(session, method, frame::encode(request), options).await
    }

    /// Sends every request message (already encoded) of a client-streaming or bidirectional
    /// call for `method`, then the end of the request stream, and waits for the response head.
    /// The responses are read as for [`ResponseStream::start`].
    pub async fn start_streaming<M: AsRef<[u8]>>(
        session: &Session,
        method: &str,
        requests: &[M],
        options: &CallOptions,
    ) -> ResponseStream {
        let len = requests.iter().map(|m| 5 + m.as_ref().len()).sum();
        let mut body = bytes::BytesMut::with_capacity(len);
        for m in requests {
            body.extend_from_slice(&frame::encode(m.as_ref()));
        }
        Self::start_body(session, method, body.freeze(), options).await
    }

    async fn start_body(
        session: &Session,
        method: &str,
        body: Bytes,
        options: &CallOptions,
    ) -> ResponseStream {
        let started = Instant::now();
        let mut stream = ResponseStream {
            path: method.to_string(),
            initial: Vec::new(),
            trailing: Vec::new(),
            started,
            deadline: options.timeout,
            body: None,
            reader: MessageReader::new(options.max_message_bytes),
            end: None,
            ended_after: None,
            received: 0,
            messages: 0,
        };
        let path = match method_path(method) {
            Ok(p) => p,
            Err(status) => {
                stream.finish(Err(status));
                return stream;
            }
        };
        stream.path = path;
        let spec = match request_spec(&stream.path, body, options) {
            Ok(s) => s,
            Err(status) => {
                stream.finish(Err(status));
                return stream;
            }
        };
        let sent = match options.timeout {
            Some(limit) => match tokio::time::timeout(limit, session.send_streaming(&spec)).await {
                Ok(r) => r,
                Err(_) => {
                    stream.finish(Err(deadline_exceeded()));
                    return stream;
                }
            },
            None => session.send_streaming(&spec).await,
        };
        stream.on_head(sent, options.timeout.is_some());
        stream
    }

    fn on_head(
        &mut self,
        (exchange, body): (locusta_http::Exchange, Option<BodyStream>),
        has_deadline: bool,
    ) {
        let resp = match exchange.result {
            Ok(r) => r,
            Err(e) => return self.finish(Err(transport_status(&e, has_deadline))),
        };
        if resp.version != http::Version::HTTP_2 {
            return self.finish(Err(Status::new(
                Code::Unavailable,
                format!(
                    "gRPC needs HTTP/2 but the call went out as {:?} (status {}): give the \
                     session HTTP/2 (SessionOptions::http2 = Http2Mode::PriorKnowledge for \
                     http:// targets, Negotiate for https://)",
                    resp.version, resp.status
                ),
            )));
        }
        // a trailers-only response carries its status in the head
        if let Some(end) = Status::from_fields(resp.headers.map()) {
            self.trailing = metadata(resp.headers.map(), TRAILING_RESERVED);
            return self.finish(end);
        }
        self.initial = metadata(resp.headers.map(), INITIAL_RESERVED);
        let encoding = resp
            .headers
            .get("grpc-encoding")
            .and_then(|v| v.to_str().ok());
        self.reader.set_encoding(encoding);
        if resp.status != 200 {
            return self.finish(Err(Status::new(
                Code::from_http_status(resp.status),
                format!(
                    "the server answered HTTP {} {} instead of a gRPC response",
                    resp.status, resp.reason
                ),
            )));
        }
        let content_type = resp
            .headers
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        if !content_type.starts_with("application/grpc") {
            return self.finish(Err(Status::new(
                Code::Unknown,
                format!(
                    "the server's response is not gRPC (content-type {content_type:?}): is this \
                     the gRPC endpoint?"
                ),
            )));
        }
        match body {
            Some(b) => self.body = Some(b),
            None => self.finish(Err(missing_status())),
        }
    }

    fn finish(&mut self, end: Result<(), Status>) {
        if self.end.is_none() {
            self.end = Some(end);
            self.ended_after = Some(self.started.elapsed());
            self.body = None;
        }
    }

    /// The next response message; `Ok(None)` once the call has ended with `OK`; `Err` once it
    /// has ended otherwise (every later call returns the same).
    pub async fn message(&mut self) -> Result<Option<Bytes>, Status> {
        loop {
            match self.reader.next_message() {
                Ok(Some(m)) => {
                    self.messages += 1;
                    self.received += m.len() as u64;
                    return Ok(Some(m));
                }
                Ok(None) => {}
                Err(status) => self.finish(Err(status)),
            }
            if let Some(end) = &self.end {
                return end.clone().map(|()| None);
            }
            let Some(body) = self.body.as_mut() else {
                self.finish(Err(missing_status()));
                continue;
            };
            let next = match self.deadline {
                Some(limit) => {
                    let left = limit.saturating_sub(self.started.elapsed());
                    match tokio::time::timeout(left, body.next_chunk()).await {
                        Ok(r) => r,
                        Err(_) => {
                            self.finish(Err(deadline_exceeded()));
                            continue;
                        }
                    }
                }
                None => body.next_chunk().await,
            };
            match next {
                Ok(Some(data)) => self.reader.push(&data),
                Ok(None) => {
                    if let Some(fields) = body.trailers() {
                        self.trailing = metadata(fields, TRAILING_RESERVED);
                    }
                    let end = body
                        .trailers()
                        .and_then(Status::from_fields)
                        .unwrap_or_else(|| Err(missing_status()));
                    let end = match end {
                        Ok(()) if self.reader.pending() > 0 => Err(Status::new(
                            Code::Internal,
                            "the response ended in the middle of a message",
                        )),
                        other => other,
                    };
                    self.finish(end);
                }
                Err(e) => {
                    let status = transport_status(&e, self.deadline.is_some());
                    self.finish(Err(status));
                }
            }
        }
    }

    /// Reads the call to its end; the messages, or the status it ended with.
    pub async fn collect(&mut self) -> Result<Vec<Bytes>, Status> {
        let mut all = Vec::new();
        while let Some(m) = self.message().await? {
            all.push(m);
        }
        Ok(all)
    }

    /// Reads a unary call's one response message.
    pub async fn single(&mut self) -> Result<Bytes, Status> {
        let first = self.message().await?;
        let extra = self.message().await?;
        match (first, extra) {
            (Some(m), None) => Ok(m),
            (None, _) => Err(Status::new(
                Code::Internal,
                "the server ended a unary call without a response message",
            )),
            (Some(_), Some(_)) => {
                let status = Status::new(
                    Code::Internal,
                    "the server sent more than one response message to a unary call",
                );
                self.finish(Err(status.clone()));
                Err(status)
            }
        }
    }

    /// The server's initial metadata (the response head's fields but the protocol's own:
    /// `content-type`, `grpc-encoding`, `grpc-accept-encoding`); empty for a trailers-only
    /// response, whose fields are trailing metadata.
    pub fn initial_metadata(&self) -> &[MetadataEntry] {
        &self.initial
    }

    /// The server's trailing metadata (the trailers' fields but `grpc-status` and
    /// `grpc-message`), once the call has ended.
    pub fn trailing_metadata(&self) -> &[MetadataEntry] {
        &self.trailing
    }

    /// The request path, `/package.Service/Method`: the name the call is recorded under.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// From the start of the call until it ended (or until now, while it goes on).
    pub fn elapsed(&self) -> Duration {
        self.ended_after.unwrap_or_else(|| self.started.elapsed())
    }

    /// Bytes of response messages received (their encoded size, as protobuf's `ByteSize`).
    pub fn response_length(&self) -> u64 {
        self.received
    }

    /// Response messages received.
    pub fn messages(&self) -> u64 {
        self.messages
    }

    /// How the call ended, once it has.
    pub fn end(&self) -> Option<&Result<(), Status>> {
        self.end.as_ref()
    }

    /// Records the call into `stats` as request_type `grpc` named by its path, with its
    /// response time and length; a failure (with the status's text) unless it ended `OK`.
    /// A call still going on is recorded as it stands, as a success.
    pub fn record(&self, stats: &StatsHub, extra: Duration) {
        let error = match &self.end {
            Some(Err(status)) => Some(status.to_string()),
            _ => None,
        };
        stats.record(&Sample {
            method: REQUEST_TYPE,
            name: &self.path,
            response_time_us: Some((self.elapsed() + extra).as_micros() as u64),
            content_length: self.received,
            error: error.as_deref(),
        });
    }
}

/// Response head fields that are the protocol's, not initial metadata.
const INITIAL_RESERVED: &[&str] = &["content-type", "grpc-encoding", "grpc-accept-encoding"];
/// Trailer fields that are the status, not trailing metadata.
const TRAILING_RESERVED: &[&str] = &[
    "grpc-status",
    "grpc-message",
    "content-type",
    "grpc-encoding",
    "grpc-accept-encoding",
];

/// The metadata among `fields`: every field but the `reserved` ones, in received order.
fn metadata(fields: &http::HeaderMap, reserved: &[&str]) -> Vec<MetadataEntry> {
    fields
        .iter()
        .filter(|(name, _)| !reserved.contains(&name.as_str()))
        .map(|(name, value)| {
            (
                name.as_str().to_string(),
                Bytes::copy_from_slice(value.as_bytes()),
            )
        })
        .collect()
}

fn request_spec(path: &str, body: Bytes, options: &CallOptions) -> Result<RequestSpec, Status> {
    let mut spec = RequestSpec::post(path).bytes(body, Some("application/grpc".to_string()));
    let bad = |name: &str, e: http::Error| {
        Status::new(
            Code::InvalidArgument,
            format!("metadata {name:?} cannot be sent as an HTTP/2 header: {e}"),
        )
    };
    spec.insert_header("te", "trailers")
        .map_err(|e| bad("te", e))?;
    spec.insert_header("grpc-accept-encoding", frame::ACCEPT_ENCODING)
        .map_err(|e| bad("grpc-accept-encoding", e))?;
    if let Some(limit) = options.timeout {
        spec.insert_header("grpc-timeout", &grpc_timeout(limit))
            .map_err(|e| bad("grpc-timeout", e))?;
        spec.timeout = Some(limit);
    }
    for (name, value) in &options.metadata {
        let lower = name.to_ascii_lowercase();
        if lower.starts_with(':') || lower.starts_with("grpc-") {
            return Err(Status::new(
                Code::InvalidArgument,
                format!("metadata {name:?} is reserved for the gRPC protocol itself"),
            ));
        }
        spec.append_header(&lower, value)
            .map_err(|e| bad(name, e))?;
    }
    Ok(spec)
}

/// The `grpc-timeout` value for `limit` (at most 8 digits, in the finest unit that fits).
fn grpc_timeout(limit: Duration) -> String {
    let micros = limit.as_micros();
    if micros < 100_000_000 {
        format!("{}u", micros.max(1))
    } else if micros / 1000 < 100_000_000 {
        format!("{}m", micros.div_ceil(1000))
    } else {
        format!("{}S", limit.as_secs().clamp(1, 99_999_999))
    }
}

fn deadline_exceeded() -> Status {
    Status::new(Code::DeadlineExceeded, "Deadline Exceeded")
}

fn missing_status() -> Status {
    Status::new(
        Code::Internal,
        "the server ended the response without a grpc-status (no trailers): is this a gRPC \
         server?",
    )
}

/// The status for a transport failure: `DEADLINE_EXCEEDED` for a timeout when the call has a
/// deadline, `UNAVAILABLE` otherwise (as grpcio says for a server it cannot reach).
fn transport_status(e: &HttpError, has_deadline: bool) -> Status {
    match e {
        HttpError::ConnectTimeout { .. } | HttpError::ReadTimeout { .. } if has_deadline => {
            deadline_exceeded()
        }
        HttpError::BodyTooLarge { .. } => Status::new(Code::ResourceExhausted, e.to_string()),
        _ => Status::new(Code::Unavailable, e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn method_names_become_paths_and_bad_ones_say_how_to_write_them() {
        assert_eq!(
            method_path("locusta.demo.Shop/GetProduct").ok().as_deref(),
            Some("/locusta.demo.Shop/GetProduct")
        );
        assert_eq!(
            method_path("/hello.HelloService/SayHello").ok().as_deref(),
            Some("/hello.HelloService/SayHello")
        );
        for bad in ["", "GetProduct", "/a/b/c", "Shop/", "a b/c"] {
            let err = method_path(bad)
                .err()
                .map(|s| s.message)
                .unwrap_or_default();
            assert!(err.contains("package.Service/Method"), "{bad:?}: {err}");
        }
    }

    #[test]
    fn grpc_timeout_uses_at_most_eight_digits() {
        assert_eq!(grpc_timeout(Duration::from_millis(250)), "250000u");
        assert_eq!(grpc_timeout(Duration::from_secs(1000)), "1000000m");
        assert_eq!(grpc_timeout(Duration::from_secs(1_000_000)), "1000000S");
        assert_eq!(grpc_timeout(Duration::ZERO), "1u");
    }

    #[test]
    fn metadata_leaves_out_the_protocols_fields() {
        let mut fields = http::HeaderMap::new();
        fields.insert("grpc-status", http::HeaderValue::from_static("0"));
        fields.insert("grpc-message", http::HeaderValue::from_static("fine"));
        fields.insert("x-id", http::HeaderValue::from_static("7"));
        fields.insert("x-raw-bin", http::HeaderValue::from_static("AAE"));
        fields.insert(
            "content-type",
            http::HeaderValue::from_static("application/grpc"),
        );
        let got = metadata(&fields, TRAILING_RESERVED);
        assert_eq!(
            got,
            vec![
                ("x-id".to_string(), Bytes::from_static(b"7")),
                ("x-raw-bin".to_string(), Bytes::from_static(b"AAE")),
            ]
        );
        let got = metadata(&fields, INITIAL_RESERVED);
        assert_eq!(
            got.len(),
            4,
            "a head's grpc-status is left to the trailers-only rule"
        );
    }

    #[test]
    fn reserved_metadata_is_refused() {
        let opts = CallOptions {
            metadata: vec![("grpc-status".into(), "0".into())],
            ..CallOptions::default()
        };
        let err = request_spec("/a.B/C", Bytes::new(), &opts)
            .err()
            .map(|s| s.code);
        assert_eq!(err, Some(Code::InvalidArgument));
    }
}
