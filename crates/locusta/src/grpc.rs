//! gRPC calls of Rust-native users: `user.client.grpc()` sends unary, server-streaming,
//! client-streaming and bidirectional calls on the user's own HTTP/2 session and records them
//! like its HTTP requests (request_type `grpc`, named by the method path
//! `/package.Service/Method`, one request per call).
//!
//! The user class must speak HTTP/2 to its host: `http2: Some(Http2Mode::PriorKnowledge)` in
//! its [`SessionOptions`](crate::SessionOptions) for a plain-text `http://host:port` gRPC
//! server, `Negotiate` for `https://`. Messages are JSON through a [`Schema`] compiled from the
//! `.proto` at run time, or bytes encoded by the caller (e.g. with prost).
//!
//! ```no_run
//! use std::sync::Arc;
//! use locusta::grpc::Schema;
//! use locusta::{Http2Mode, SessionOptions, Task, UserClass};
//!
//! let schema = Arc::new(Schema::from_proto_files(&["shop.proto"], &["proto"]).expect("proto"));
//! let class = UserClass::new("ShopGrpc")
//!     .host("http://127.0.0.1:50051")
//!     .client_options(SessionOptions { http2: Some(Http2Mode::PriorKnowledge), ..Default::default() })
//!     .task(Task::new("product", move |user| {
//!         let schema = Arc::clone(&schema);
//!         Box::pin(async move {
//!             let reply = user.client.grpc().schema(&schema)
//!                 .call_json("locusta.demo.Shop/GetProduct", &serde_json::json!({"id": 7}))
//!                 .await;
//!             reply.map(|_| ()).map_err(locusta::TaskError::failed)
//!         })
//!     }));
//! ```

use std::time::Duration;

use bytes::Bytes;
use locusta_grpc::calls::{self, Recorder};
pub use locusta_grpc::{
    CallOptions, Code, GrpcClient, Method, ResponseStream, Schema, SchemaError, Status,
};

use crate::client::Client;

/// The gRPC calls of one user, on its client's session; built by [`Client::grpc`].
pub struct GrpcCalls<'c> {
    client: &'c Client,
    schema: Option<&'c Schema>,
    options: CallOptions,
}

impl Client {
    /// gRPC calls on this user's session, recorded into the run's statistics.
    pub fn grpc(&self) -> GrpcCalls<'_> {
        GrpcCalls {
            client: self,
            schema: None,
            options: CallOptions::default(),
        }
    }
}

impl<'c> GrpcCalls<'c> {
    /// The schema JSON calls use.
    pub fn schema(mut self, schema: &'c Schema) -> Self {
        self.schema = Some(schema);
        self
    }

    /// The deadline of each call (sent as `grpc-timeout`; `DEADLINE_EXCEEDED` when it passes).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.options.timeout = Some(timeout);
        self
    }

    /// Adds request metadata (a lower-case header name and its value).
    pub fn metadata(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.options.metadata.push((name.into(), value.into()));
        self
    }

    fn recorder(&self) -> Option<Recorder<'c>> {
        Some(Recorder {
            stats: &self.client.stats,
            extra: self.client.schedule_lag(),
        })
    }

    /// A unary call with an encoded request; its encoded response.
    pub async fn unary(&self, method: &str, request: &[u8]) -> Result<Bytes, Status> {
        calls::unary(
            &self.client.session,
            method,
            request,
            &self.options,
            self.recorder(),
        )
        .await
    }

    /// A server-streaming call read to its end; its messages (recorded once, at the end).
    pub async fn server_streaming(
        &self,
        method: &str,
        request: &[u8],
    ) -> Result<Vec<Bytes>, Status> {
        let session = &self.client.session;
        calls::server_streaming(session, method, request, &self.options, self.recorder()).await
    }

    /// A client-streaming call: every encoded request message (all sent as the call starts),
    /// then its encoded response.
    pub async fn client_streaming<M: AsRef<[u8]>>(
        &self,
        method: &str,
        requests: &[M],
    ) -> Result<Bytes, Status> {
        let session = &self.client.session;
        calls::client_streaming(session, method, requests, &self.options, self.recorder()).await
    }

    /// A bidirectional call: every encoded request message (all sent as the call starts); every
    /// response message, read to the end (recorded once, at the end).
    pub async fn bidi_streaming<M: AsRef<[u8]>>(
        &self,
        method: &str,
        requests: &[M],
    ) -> Result<Vec<Bytes>, Status> {
        let session = &self.client.session;
        calls::bidi_streaming(session, method, requests, &self.options, self.recorder()).await
    }

    /// Starts a call whose messages the caller reads one by one as they arrive
    /// ([`ResponseStream::message`]); record it with [`GrpcCalls::record`] when done.
    pub async fn open(&self, method: &str, request: &[u8]) -> ResponseStream {
        ResponseStream::start(&self.client.session, method, request, &self.options).await
    }

    /// Records a call opened with [`GrpcCalls::open`] (as it stands: a success unless it ended
    /// with a status other than OK).
    pub fn record(&self, call: &ResponseStream) {
        call.record(&self.client.stats, self.client.schedule_lag());
    }

    /// A call with a JSON request, by the schema: a unary method's response as JSON, a
    /// server-streaming method's messages as a JSON array.
    pub async fn call_json(
        &self,
        method: &str,
        request: &serde_json::Value,
    ) -> Result<serde_json::Value, Status> {
        let Some(schema) = self.schema else {
            return Err(Status::new(
                Code::FailedPrecondition,
                "JSON calls need a schema: client.grpc().schema(&schema) with a Schema compiled \
                 from the .proto",
            ));
        };
        let session = &self.client.session;
        calls::call_json(
            session,
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
    use std::sync::Arc;

    use locusta_http::{ClientConfig, Http2Mode, HttpClient, SessionOptions};
    use locusta_stats::{StatsHub, StatsLimits};

    use super::*;

    #[tokio::test]
    async fn a_users_grpc_calls_are_recorded_on_its_session() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind loopback");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(locusta_demo::grpc::serve_h2c(listener));
        let http = HttpClient::new(ClientConfig::default()).expect("http client");
        let options = SessionOptions {
            http2: Some(Http2Mode::PriorKnowledge),
            ..SessionOptions::default()
        };
        let session = http
            .session_with(Some(&format!("http://{addr}")), options, None)
            .expect("session");
        let stats = StatsHub::new(StatsLimits::default());
        let mut client = Client::new(session, Arc::clone(&stats));
        client.set_schedule_lag(Duration::from_millis(50));
        let schema = Schema::from_proto_source("shop.proto", locusta_demo::grpc::SHOP_PROTO)
            .expect("shop.proto compiles");

        let product = client
            .grpc()
            .schema(&schema)
            .call_json(
                "locusta.demo.Shop/GetProduct",
                &serde_json::json!({"id": 3}),
            )
            .await
            .expect("GetProduct");
        assert_eq!(product["id"], serde_json::json!(3));
        let err = client
            .grpc()
            .timeout(Duration::from_millis(100))
            .schema(&schema)
            .call_json(
                "locusta.demo.Shop/GetProduct",
                &serde_json::json!({"id": 3, "delayMs": 1000}),
            )
            .await
            .expect_err("deadline");
        assert_eq!(err.code, Code::DeadlineExceeded);
        let stream = client
            .grpc()
            .server_streaming("locusta.demo.Shop/ListProducts", &[8, 4])
            .await
            .expect("ListProducts");
        assert_eq!(stream.len(), 4);
        let grpc = client.grpc();
        let mut call = grpc.open("locusta.demo.Shop/ListProducts", &[8, 2]).await;
        let mut read = 0;
        while let Ok(Some(_)) = call.message().await {
            read += 1;
        }
        assert_eq!(read, 2);
        grpc.record(&call);
        // client streaming (SumRequest { value }) and bidirectional (ChatMessage { text })
        let sum = grpc
            .client_streaming("locusta.demo.Shop/Sum", &[[8u8, 2], [8, 3]])
            .await
            .expect("Sum");
        assert_eq!(&sum[..], &[8, 5, 16, 2]); // total 5, count 2
        let chat = grpc
            .bidi_streaming("locusta.demo.Shop/Chat", &[b"\x0a\x01a".to_vec()])
            .await
            .expect("Chat");
        assert_eq!(chat, vec![Bytes::from_static(b"\x0a\x07echo: a")]);

        stats.merge();
        let streams = stats.read(|agg| {
            ["Sum", "Chat"].map(|m| {
                agg.entry(&format!("/locusta.demo.Shop/{m}"), "grpc")
                    .map(|e| e.num_requests())
            })
        });
        assert_eq!(streams, [Some(1), Some(1)]);
        let (get, list) = stats.read(|agg| {
            let get = agg
                .entry("/locusta.demo.Shop/GetProduct", "grpc")
                .map(|e| (e.num_requests(), e.num_failures(), e.min_response_time()));
            let list = agg
                .entry("/locusta.demo.Shop/ListProducts", "grpc")
                .map(|e| e.num_requests());
            (get, list)
        });
        let (requests, failures, fastest) = get.expect("GetProduct recorded");
        assert_eq!((requests, failures), (2, 1));
        // the open model's lag counts in the response time
        assert!(fastest.unwrap_or_default() >= 50.0, "{fastest:?}");
        assert_eq!(list, Some(2));
    }
}
