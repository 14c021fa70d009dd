//! [`GrpcClient`]: one simulated user's gRPC channel — an HTTP/2 session to one target, an
//! optional [`Schema`] for JSON messages, and the statistics each call is recorded into.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use locusta_http::{Http2Mode, HttpClient, HttpError, Session, SessionOptions};
use locusta_stats::StatsHub;

use crate::call::{CallOptions, ResponseStream};
use crate::calls::{self, Recorder};
use crate::schema::Schema;
use crate::status::{Code, Status};

/// A user's gRPC channel to one server.
pub struct GrpcClient {
    session: Session,
    schema: Option<Arc<Schema>>,
    stats: Option<Arc<StatsHub>>,
    options: CallOptions,
}

/// `host:port` (grpcio's target form) or a URL, as the base URL of an HTTP/2 session.
pub fn target_url(target: &str) -> String {
    let t = target.trim().trim_end_matches('/');
    if t.starts_with("http://") || t.starts_with("https://") {
        t.to_string()
    } else {
        format!("http://{t}")
    }
}

impl GrpcClient {
    /// A channel to `target` (`host:port`, `http://host:port` for plain-text HTTP/2 or
    /// `https://host:port` for TLS) on a new session of `http`.
    pub fn connect(
        http: &HttpClient,
        target: &str,
        schema: Option<Arc<Schema>>,
    ) -> Result<GrpcClient, HttpError> {
        let options = SessionOptions {
            http2: Some(Http2Mode::PriorKnowledge),
            ..SessionOptions::default()
        };
        let session = http.session_with(Some(&target_url(target)), options, None)?;
        Ok(GrpcClient::from_session(session, schema))
    }

    /// A channel on an existing session (which must speak HTTP/2 to its host).
    pub fn from_session(session: Session, schema: Option<Arc<Schema>>) -> GrpcClient {
        GrpcClient {
            session,
            schema,
            stats: None,
            options: CallOptions::default(),
        }
    }

    /// Records every call into `stats` from now on.
    pub fn record_into(&mut self, stats: Arc<StatsHub>) {
        self.stats = Some(stats);
    }

    /// The deadline of each call (`None`: none).
    pub fn set_timeout(&mut self, timeout: Option<Duration>) {
        self.options.timeout = timeout;
    }

    /// Metadata sent with every call.
    pub fn set_metadata(&mut self, metadata: Vec<(String, String)>) {
        self.options.metadata = metadata;
    }

    /// The session the calls go through.
    pub fn session(&self) -> &Session {
        &self.session
    }

    /// Starts a call with an encoded request; the caller reads the messages (and may
    /// [`ResponseStream::record`] it). Not recorded by itself.
    pub async fn open(&self, method: &str, request: &[u8]) -> ResponseStream {
        ResponseStream::start(&self.session, method, request, &self.options).await
    }

    fn recorder(&self) -> Option<Recorder<'_>> {
        self.stats.as_deref().map(|stats| Recorder {
            stats,
            extra: Duration::ZERO,
        })
    }

    /// A unary call with an encoded request; its encoded response. Recorded.
    pub async fn unary(&self, method: &str, request: &[u8]) -> Result<Bytes, Status> {
        calls::unary(
            &self.session,
            method,
            request,
            &self.options,
            self.recorder(),
        )
        .await
    }

    /// A server-streaming call read to its end; every message. Recorded once, at its end.
    pub async fn server_streaming(
        &self,
        method: &str,
        request: &[u8],
    ) -> Result<Vec<Bytes>, Status> {
        calls::server_streaming(
            &self.session,
            method,
            request,
            &self.options,
            self.recorder(),
        )
        .await
    }

    /// A client-streaming call: every encoded request message, then its encoded response.
    /// Recorded once, at its end.
    pub async fn client_streaming<M: AsRef<[u8]>>(
        &self,
        method: &str,
        requests: &[M],
    ) -> Result<Bytes, Status> {
        let (session, options) = (&self.session, &self.options);
        calls::client_streaming(session, method, requests, options, self.recorder()).await
    }

    /// A bidirectional call: every encoded request message; every response message. Recorded
    /// once, at its end.
    pub async fn bidi_streaming<M: AsRef<[u8]>>(
        &self,
        method: &str,
        requests: &[M],
    ) -> Result<Vec<Bytes>, Status> {
        let (session, options) = (&self.session, &self.options);
        calls::bidi_streaming(session, method, requests, options, self.recorder()).await
    }

    /// A call with a JSON request, by the schema: a unary method's response as JSON, a
    /// server-streaming method's messages as a JSON array (a JSON array of requests for
    /// client-streaming and bidirectional methods). Recorded.
    pub async fn call_json(
        &self,
        method: &str,
        request: &serde_json::Value,
    ) -> Result<serde_json::Value, Status> {
        let Some(schema) = &self.schema else {
            return Err(Status::new(
                Code::FailedPrecondition,
                "JSON calls need a schema: give GrpcClient a Schema (from .proto files or a \
                 descriptor set)",
            ));
        };
        calls::call_json(
            &self.session,
            schema,
            method,
            request,
            &self.options,
            self.recorder(),
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_in_grpc_form_become_http_urls() {
        assert_eq!(target_url("localhost:50051"), "http://localhost:50051");
        assert_eq!(target_url("https://h:443/"), "https://h:443");
        assert_eq!(target_url(" http://127.0.0.1:1 "), "http://127.0.0.1:1");
    }
}
