//! gRPC for locusta users: unary, server-streaming, client-streaming and bidirectional calls,
//! timed and recorded like HTTP requests (request_type `grpc`, named by the method path
//! `/package.Service/Method`, one request per call). Streamed requests are all sent when the
//! call starts (see [`ResponseStream::start_streaming`]).
//!
//! Calls run on locusta-http's HTTP/2 client ([`locusta_http::Session`] with HTTP/2 on): one
//! connection per user and origin, its streams multiplexed, TLS with ALPN `h2`, and the same
//! transport errors as HTTP. Messages are bytes on the wire ([`ResponseStream`]); with a
//! [`Schema`] compiled from a `.proto` at run time (or a descriptor set) they are JSON in and
//! out, with no generated code.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use locusta_grpc::{GrpcClient, Schema};
//! let http = locusta_http::HttpClient::new(locusta_http::ClientConfig::default())?;
//! let schema = Schema::from_proto_files(&["shop.proto"], &["proto/"])?;
//! let client = GrpcClient::connect(&http, "http://127.0.0.1:8080", Some(std::sync::Arc::new(schema)))?;
//! let product = client.call_json("locusta.demo.Shop/GetProduct", &serde_json::json!({"id": 7})).await?;
//! println!("{product}");
//! # Ok(()) }
//! ```

mod call;
pub mod calls;
mod client;
mod frame;
mod schema;
mod status;

pub use call::{method_path, CallOptions, MetadataEntry, ResponseStream, REQUEST_TYPE};
pub use client::{target_url, GrpcClient};
pub use frame::{encode as encode_frame, MessageReader, DEFAULT_MAX_MESSAGE_BYTES};
pub use schema::{Method, Schema, SchemaError};
pub use status::{percent_decode, percent_encode, Code, Status};
