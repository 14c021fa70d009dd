//! End to end: gRPC calls from locusta-grpc to the demo target's gRPC services over real
//! HTTP/2 on loopback, recorded into a StatsHub as a load test records them.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use locusta_grpc::{Code, GrpcClient, Schema};
use locusta_http::{ClientConfig, HttpClient};
use locusta_stats::{StatsHub, StatsLimits};
use serde_json::json;

const SHOP_PROTO: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../locusta-demo/proto/shop.proto"
);

/// The demo target's gRPC services over h2c on a free loopback port, for as long as the test's
/// runtime runs.
async fn grpc_server() -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind loopback");
    let addr = listener.local_addr().expect("local addr");
    tokio::spawn(locusta_demo::grpc::serve_h2c(listener));
    addr
}

fn shop_schema() -> Arc<Schema> {
    Arc::new(Schema::from_proto_files(&[SHOP_PROTO], &[] as &[&str]).expect("shop.proto compiles"))
}

fn client(addr: SocketAddr) -> (GrpcClient, Arc<StatsHub>) {
    let http = HttpClient::new(ClientConfig::default()).expect("http client");
    let mut client =
        GrpcClient::connect(&http, &addr.to_string(), Some(shop_schema())).expect("channel");
    let stats = StatsHub::new(StatsLimits::default());
    client.record_into(Arc::clone(&stats));
    (client, stats)
}

/// (requests, failures, total content length) of an entry, after merging the shards.
fn counts(stats: &StatsHub, name: &str) -> (u64, u64, u64) {
    stats.merge();
    stats.read(|agg| {
        agg.entry(name, "grpc").map_or((0, 0, 0), |e| {
            (e.num_requests(), e.num_failures(), e.total_content_length())
        })
    })
}

fn errors(stats: &StatsHub) -> Vec<String> {
    stats.merge();
    stats.read(|agg| agg.errors().iter().map(|e| e.error.clone()).collect())
}

#[tokio::test]
async fn unary_calls_answer_and_are_recorded_as_grpc_requests() {
    let addr = grpc_server().await;
    let (client, stats) = client(addr);
    for id in [7, 8, 9] {
        let product = client
            .call_json("locusta.demo.Shop/GetProduct", &json!({"id": id}))
            .await
            .expect("GetProduct answers");
        assert_eq!(product["id"], json!(id));
        assert_eq!(product["name"], json!(format!("Product {id}")));
    }
    let (requests, failures, length) = counts(&stats, "/locusta.demo.Shop/GetProduct");
    assert_eq!((requests, failures), (3, 0));
    assert!(
        length > 3 * 10,
        "content length is the messages' size: {length}"
    );
    // all calls shared one HTTP/2 connection
    assert_eq!(client.session().http2_connections(), 1);
}

#[tokio::test]
async fn a_non_ok_status_is_a_failure_with_the_grpc_message() {
    let addr = grpc_server().await;
    let (client, stats) = client(addr);
    let err = client
        .call_json(
            "locusta.demo.Shop/Checkout",
            &json!({"productId": 3, "quantity": 9}),
        )
        .await
        .expect_err("9 is more than in stock");
    assert_eq!(err.code, Code::FailedPrecondition);
    assert_eq!(err.message, "only 5 of product 3 in stock, 9 asked for");
    let ok = client
        .call_json(
            "locusta.demo.Shop/Checkout",
            &json!({"productId": 3, "quantity": 2}),
        )
        .await
        .expect("2 are in stock");
    assert_eq!(ok["order_id"], json!("order-3-2"));
    assert_eq!(counts(&stats, "/locusta.demo.Shop/Checkout").0, 2);
    assert_eq!(counts(&stats, "/locusta.demo.Shop/Checkout").1, 1);
    let errors = errors(&stats);
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].contains("StatusCode.FAILED_PRECONDITION")
            && errors[0].contains("only 5 of product 3 in stock"),
        "{errors:?}"
    );
}

#[tokio::test]
async fn server_streaming_reads_messages_as_they_arrive_and_counts_them() {
    let addr = grpc_server().await;
    let (client, stats) = client(addr);
    let all = client
        .call_json("locusta.demo.Shop/ListProducts", &json!({"limit": 25}))
        .await
        .expect("ListProducts streams");
    let items = all.as_array().cloned().unwrap_or_default();
    assert_eq!(items.len(), 25);
    assert_eq!(items[24]["id"], json!(25));
    assert_eq!(counts(&stats, "/locusta.demo.Shop/ListProducts").0, 1);

    // 4 messages 150 ms apart: the first is there long before the last
    let schema = shop_schema();
    let method = schema
        .method("locusta.demo.Shop/ListProducts")
        .expect("method");
    let request = method
        .encode_request(&json!({"limit": 4, "intervalMs": 150}))
        .expect("request");
    let started = Instant::now();
    let mut call = client
        .open("locusta.demo.Shop/ListProducts", &request)
        .await;
    let first = call.message().await.expect("first message");
    let first_after = started.elapsed();
    assert!(first.is_some());
    let rest = call.collect().await.expect("rest of the stream");
    assert_eq!(rest.len(), 3);
    assert_eq!(call.messages(), 4);
    assert!(
        first_after < Duration::from_millis(300) && call.elapsed() >= Duration::from_millis(450),
        "first after {first_after:?}, whole call {:?}",
        call.elapsed()
    );
}

#[tokio::test]
async fn a_deadline_ends_the_call_with_deadline_exceeded() {
    let addr = grpc_server().await;
    let (mut client, stats) = client(addr);
    client.set_timeout(Some(Duration::from_millis(100)));
    let started = Instant::now();
    let err = client
        .call_json(
            "locusta.demo.Shop/GetProduct",
            &json!({"id": 1, "delayMs": 2000}),
        )
        .await
        .expect_err("the server holds the answer for 2 s");
    assert_eq!(err.code, Code::DeadlineExceeded);
    assert!(
        started.elapsed() < Duration::from_millis(1000),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(counts(&stats, "/locusta.demo.Shop/GetProduct").1, 1);
    // the connection is still good for the next call
    client.set_timeout(Some(Duration::from_secs(5)));
    assert!(client
        .call_json("locusta.demo.Shop/GetProduct", &json!({"id": 1}))
        .await
        .is_ok());
}

#[tokio::test]
async fn unknown_methods_are_unimplemented_on_the_server_and_named_in_the_schema() {
    let addr = grpc_server().await;
    let (client, stats) = client(addr);
    let err = client
        .unary("locusta.demo.Shop/Refund", b"")
        .await
        .expect_err("no such method on the server");
    assert_eq!(err.code, Code::Unimplemented);
    assert!(err.message.contains("/locusta.demo.Shop/Refund"), "{err}");
    assert_eq!(counts(&stats, "/locusta.demo.Shop/Refund"), (1, 1, 0));

    let err = client
        .call_json("locusta.demo.Shop/Refund", &json!({}))
        .await
        .expect_err("no such method in the schema");
    assert!(
        err.message.contains("GetProduct, ListProducts, Checkout"),
        "{err}"
    );

    let err = client
        .call_json("locusta.demo.Shop/GetProduct", &json!({"id": "seven"}))
        .await
        .expect_err("not a ProductRequest");
    assert_eq!(err.code, Code::InvalidArgument);
    assert!(err.message.contains("locusta.demo.ProductRequest"), "{err}");
}

#[tokio::test]
async fn a_refused_connection_is_unavailable() {
    let free = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = free.local_addr().expect("addr");
    drop(free);
    let (client, stats) = client(addr);
    let err = client
        .call_json("locusta.demo.Shop/GetProduct", &json!({"id": 1}))
        .await
        .expect_err("nothing listens there");
    assert_eq!(err.code, Code::Unavailable);
    assert!(err.message.contains("onnection refused"), "{err}");
    assert_eq!(counts(&stats, "/locusta.demo.Shop/GetProduct"), (1, 1, 0));
}

#[tokio::test]
async fn an_http1_session_is_told_to_turn_http2_on() {
    // the demo target's HTTP/1.1 listener answers, but not with gRPC
    let server =
        locusta_demo::DemoServer::start("127.0.0.1:0".parse().expect("addr"), Default::default())
            .expect("demo target");
    let http = HttpClient::new(ClientConfig::default()).expect("http client");
    let session = http
        .session(Some(&format!("http://{}", server.addr())))
        .expect("session");
    let client = GrpcClient::from_session(session, Some(shop_schema()));
    let err = client
        .call_json("locusta.demo.Shop/GetProduct", &json!({"id": 1}))
        .await
        .expect_err("HTTP/1.1 is not gRPC");
    assert!(err.message.contains("gRPC needs HTTP/2"), "{err}");
    assert!(err.message.contains("PriorKnowledge"), "{err}");
}

#[tokio::test]
async fn a_descriptor_set_file_works_like_the_proto() {
    let addr = grpc_server().await;
    let set = protox::compile(
        [SHOP_PROTO],
        [concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../locusta-demo/proto"
        )],
    )
    .expect("compile");
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("shop.pb");
    std::fs::write(&path, prost::Message::encode_to_vec(&set)).expect("write set");
    let schema = Schema::from_descriptor_set_file(&path).expect("descriptor set loads");
    let http = HttpClient::new(ClientConfig::default()).expect("http client");
    let client = GrpcClient::connect(&http, &format!("http://{addr}"), Some(Arc::new(schema)))
        .expect("channel");
    let hello = client
        .unary(
            "locust.hello.HelloService/SayHello",
            &[10, 3, b'B', b'o', b'b'],
        )
        .await
        .expect("SayHello");
    // field 1 (message), length-delimited
    assert_eq!(&hello[2..], b"Hello from locusta, Bob!");
    let product = client
        .call_json("/locusta.demo.Shop/GetProduct", &json!({"id": 2}))
        .await
        .expect("GetProduct");
    assert_eq!(product["price_cents"], json!("150"));
}

#[tokio::test]
async fn the_demo_targets_own_port_answers_grpc_next_to_http() {
    // `locusta demo-target`: HTTP/1.1 and h2c on one port; gRPC calls reach the gRPC services
    let server =
        locusta_demo::DemoServer::start("127.0.0.1:0".parse().expect("addr"), Default::default())
            .expect("demo target");
    let (client, stats) = client(server.addr());
    let product = client
        .call_json("locusta.demo.Shop/GetProduct", &json!({"id": 42}))
        .await
        .expect("GetProduct on the demo target");
    assert_eq!(product["name"], json!("Product 42"));
    let listed = client
        .call_json("locusta.demo.Shop/ListProducts", &json!({"limit": 3}))
        .await
        .expect("ListProducts on the demo target");
    assert_eq!(listed.as_array().map(Vec::len), Some(3));
    assert_eq!(counts(&stats, "/locusta.demo.Shop/GetProduct").0, 1);
    // plain HTTP on the same HTTP/2 connection still gets the shop's routes
    let page = client
        .session()
        .send(locusta_http::RequestSpec::get("/api/products/7"))
        .await;
    assert_eq!(page.status(), 200);
    assert_eq!(client.session().http2_connections(), 1);
}

#[tokio::test]
async fn calls_run_over_tls_on_alpn_h2() {
    let server = locusta_demo::DemoServer::start(
        ([127, 0, 0, 1], 0).into(),
        locusta_demo::DemoConfig {
            tls: Some(locusta_demo::TlsConfig {
                addr: ([127, 0, 0, 1], 0).into(),
                cert: locusta_demo::TlsCert::SelfSigned,
            }),
            ..locusta_demo::DemoConfig::default()
        },
    )
    .expect("demo target with TLS");
    let https = server.tls_url().expect("TLS listener");
    // the certificate is self-signed: a verifying client refuses it...
    let verifying = HttpClient::new(ClientConfig::default()).expect("http client");
    let refused = GrpcClient::connect(&verifying, &https, Some(shop_schema()))
        .expect("channel")
        .call_json("locusta.demo.Shop/GetProduct", &json!({"id": 7}))
        .await
        .expect_err("an unknown issuer");
    assert_eq!(refused.code, Code::Unavailable, "{refused:?}");
    // ...one that skips verification (FastHttpUser's insecure) talks HTTP/2 over TLS
    let insecure = HttpClient::new(ClientConfig {
        verify_tls: false,
        ..ClientConfig::default()
    })
    .expect("http client");
    let client = GrpcClient::connect(&insecure, &https, Some(shop_schema())).expect("channel");
    let product = client
        .call_json("locusta.demo.Shop/GetProduct", &json!({"id": 7}))
        .await
        .expect("GetProduct over TLS");
    assert_eq!(product["name"], json!("Product 7"));
    let listed = client
        .call_json("locusta.demo.Shop/ListProducts", &json!({"limit": 3}))
        .await
        .expect("ListProducts over TLS");
    assert_eq!(listed.as_array().map(Vec::len), Some(3), "{listed}");
    assert_eq!(client.session().http2_connections(), 1);
}

#[tokio::test]
async fn client_streaming_and_bidirectional_calls_are_one_request_each() {
    let addr = grpc_server().await;
    let (client, stats) = client(addr);
    let sum = client
        .call_json(
            "locusta.demo.Shop/Sum",
            &json!([{"value": 5}, {"value": 6}, {"value": 7}]),
        )
        .await
        .expect("Sum answers");
    assert_eq!(sum["total"], json!("18")); // int64 is a JSON string
    assert_eq!(sum["count"], json!(3));
    // no request message at all is a stream too
    let empty = client
        .call_json("locusta.demo.Shop/Sum", &json!([]))
        .await
        .expect("Sum of nothing");
    assert_eq!(empty.get("count"), None, "0 is proto3's default: {empty}");
    assert_eq!(counts(&stats, "/locusta.demo.Shop/Sum").0, 2);

    let replies = client
        .call_json(
            "locusta.demo.Shop/Chat",
            &json!([{"text": "one"}, {"text": "two"}]),
        )
        .await
        .expect("Chat answers");
    assert_eq!(
        replies,
        json!([{"text": "echo: one"}, {"text": "echo: two"}])
    );
    // bytes in and out: ChatMessage { text: "x" } is field 1, length 1
    let raw = client
        .bidi_streaming("locusta.demo.Shop/Chat", &[b"\x0a\x01x".to_vec()])
        .await
        .expect("Chat answers bytes");
    assert_eq!(raw, vec![bytes::Bytes::from_static(b"\x0a\x07echo: x")]);
    let (requests, failures, length) = counts(&stats, "/locusta.demo.Shop/Chat");
    assert_eq!((requests, failures), (2, 0));
    assert_eq!(length, 11 + 11 + 9);

    let err = client
        .call_json("locusta.demo.Shop/Sum", &json!({"value": 1}))
        .await
        .expect_err("a stream of requests is a JSON array");
    assert_eq!(err.code, Code::InvalidArgument);
    assert!(err.message.contains("JSON array"), "{err}");
}

#[tokio::test]
async fn request_metadata_goes_out_and_the_servers_comes_back() {
    let addr = grpc_server().await;
    let (mut client, _stats) = client(addr);
    client.set_metadata(vec![
        ("x-echo-id".into(), "42".into()),
        ("x-echo-bin".into(), "AAH/".into()),
    ]);
    let mut call = client
        .open("locusta.demo.Shop/GetProduct", b"\x08\x07")
        .await;
    let expected = vec![
        ("x-echo-id".to_string(), bytes::Bytes::from_static(b"42")),
        ("x-echo-bin".to_string(), bytes::Bytes::from_static(b"AAH/")),
    ];
    // the echoed entries (hyper's server adds a `date`, which is metadata too, as in grpcio)
    let echoed = |entries: &[locusta_grpc::MetadataEntry]| -> Vec<locusta_grpc::MetadataEntry> {
        entries
            .iter()
            .filter(|(name, _)| name.starts_with("x-echo"))
            .cloned()
            .collect()
    };
    assert_eq!(echoed(call.initial_metadata()), expected);
    assert!(call.trailing_metadata().is_empty(), "not ended yet");
    call.single().await.expect("GetProduct answers");
    assert_eq!(echoed(call.trailing_metadata()), expected);

    // a trailers-only failure carries the metadata as trailing metadata
    let mut call = client
        .open("locusta.demo.Shop/GetProduct", b"\x08\xe7\x07")
        .await;
    let err = call.single().await.expect_err("id 999 is not found");
    assert_eq!(err.code, Code::NotFound);
    assert!(echoed(call.initial_metadata()).is_empty());
    assert_eq!(echoed(call.trailing_metadata()), expected);
}

#[tokio::test]
async fn gzip_compressed_responses_are_decompressed() {
    let addr = grpc_server().await;
    let (mut client, stats) = client(addr);
    // the demo target compresses when asked and the client accepts gzip (it says so)
    client.set_metadata(vec![("x-compress".into(), "gzip".into())]);
    let mut call = client
        .open("locusta.demo.Shop/ListProducts", b"\x08\x03")
        .await;
    let all = call.collect().await.expect("ListProducts answers");
    assert_eq!(all.len(), 3);
    let product = client
        .call_json("locusta.demo.Shop/GetProduct", &json!({"id": 7}))
        .await
        .expect("GetProduct answers");
    assert_eq!(product["name"], json!("Product 7"));
    // the recorded length is the messages' own size, not the compressed one
    let (requests, failures, length) = counts(&stats, "/locusta.demo.Shop/GetProduct");
    assert_eq!((requests, failures), (1, 0));
    assert_eq!(length, 2 + 2 + 9 + 3); // id 7, "Product 7", price 275
}
