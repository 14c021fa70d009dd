//! The demo target's gRPC services, so that gRPC users have a local target end to end:
//! `locusta.demo.Shop` (proto/shop.proto: a unary lookup, a server stream, a checkout that
//! fails on purpose, a client-streaming sum and a bidirectional echo; every method echoes
//! request metadata named `x-echo*` in its response head and trailers, and compresses its
//! response messages with gzip when asked with `x-compress: gzip` and the client accepts it) and `locust.hello.HelloService` (proto/hello.proto, the service of Locust's
//! gRPC example, answered at once).
//!
//! Messages are prost structs written by hand from the `.proto` files (no build step needing
//! `protoc`). [`handle`] answers one gRPC request; whatever serves HTTP/2 routes the requests
//! [`is_grpc`] accepts to it. The request stream is read whole before the answer (the
//! bidirectional `Chat` answers every message once the client has half-closed).

use std::collections::VecDeque;
use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::{Buf, BufMut, Bytes, BytesMut};
use http::{HeaderMap, HeaderValue, Request, Response};
use http_body_util::BodyExt;
use hyper::body::{Body, Frame, SizeHint};
use prost::Message;

/// The shop service's `.proto`, as shipped in `crates/locusta-demo/proto/shop.proto`.
pub const SHOP_PROTO: &str = include_str!("../proto/shop.proto");
/// The hello service's `.proto` (Locust's example), `crates/locusta-demo/proto/hello.proto`.
pub const HELLO_PROTO: &str = include_str!("../proto/hello.proto");

/// Products the shop knows: ids 1..=PRODUCTS.
const PRODUCTS: i32 = 100;
/// Stock of every product: a checkout of more fails.
const STOCK: u32 = 5;
/// Largest request body read (all its messages).
const MAX_REQUEST: usize = 1 << 20;
/// Most request messages of a streamed request.
const MAX_REQUEST_MESSAGES: usize = 10_000;

#[derive(Clone, PartialEq, Message)]
struct ProductRequest {
    #[prost(int32, tag = "1")]
    id: i32,
    #[prost(uint32, tag = "2")]
    delay_ms: u32,
}

#[derive(Clone, PartialEq, Message)]
struct Product {
    #[prost(int32, tag = "1")]
    id: i32,
    #[prost(string, tag = "2")]
    name: String,
    #[prost(int64, tag = "3")]
    price_cents: i64,
}

#[derive(Clone, PartialEq, Message)]
struct ListRequest {
    #[prost(uint32, tag = "1")]
    limit: u32,
    #[prost(uint32, tag = "2")]
    interval_ms: u32,
}

#[derive(Clone, PartialEq, Message)]
struct CheckoutRequest {
    #[prost(int32, tag = "1")]
    product_id: i32,
    #[prost(uint32, tag = "2")]
    quantity: u32,
}

#[derive(Clone, PartialEq, Message)]
struct Receipt {
    #[prost(string, tag = "1")]
    order_id: String,
    #[prost(int64, tag = "2")]
    total_cents: i64,
}

#[derive(Clone, PartialEq, Message)]
struct SumRequest {
    #[prost(int64, tag = "1")]
    value: i64,
}

#[derive(Clone, PartialEq, Message)]
struct SumReply {
    #[prost(int64, tag = "1")]
    total: i64,
    #[prost(uint32, tag = "2")]
    count: u32,
}

#[derive(Clone, PartialEq, Message)]
struct ChatMessage {
    #[prost(string, tag = "1")]
    text: String,
}

#[derive(Clone, PartialEq, Message)]
struct HelloRequest {
    #[prost(string, tag = "1")]
    name: String,
}

#[derive(Clone, PartialEq, Message)]
struct HelloResponse {
    #[prost(string, tag = "1")]
    message: String,
}

/// Whether `req` is a gRPC call (HTTP/2 `POST` with a gRPC content type).
pub fn is_grpc<B>(req: &Request<B>) -> bool {
    req.method() == http::Method::POST
        && req
            .headers()
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|ct| ct.starts_with("application/grpc"))
}

/// A gRPC response body: the messages (sent `interval` apart), then the trailers.
pub struct GrpcBody {
    frames: VecDeque<Frame<Bytes>>,
    interval: Duration,
    pause: Option<Pin<Box<tokio::time::Sleep>>>,
    sent_data: bool,
}

impl GrpcBody {
    fn new(messages: Vec<Bytes>, interval: Duration) -> GrpcBody {
        let mut frames: VecDeque<Frame<Bytes>> = messages.into_iter().map(Frame::data).collect();
        frames.push_back(Frame::trailers(status_fields(0, "")));
        GrpcBody {
            frames,
            interval,
            pause: None,
            sent_data: false,
        }
    }

    fn empty() -> GrpcBody {
        GrpcBody {
            frames: VecDeque::new(),
            interval: Duration::ZERO,
            pause: None,
            sent_data: false,
        }
    }
}

impl Body for GrpcBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        let next_is_data = self.frames.front().is_some_and(Frame::is_data);
        if next_is_data && self.sent_data && !self.interval.is_zero() {
            let interval = self.interval;
            let pause = self
                .pause
                .get_or_insert_with(|| Box::pin(tokio::time::sleep(interval)));
            if pause.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
            self.pause = None;
        }
        let frame = self.frames.pop_front();
        if frame.as_ref().is_some_and(Frame::is_data) {
            self.sent_data = true;
        }
        Poll::Ready(frame.map(Ok))
    }

    fn is_end_stream(&self) -> bool {
        self.frames.is_empty()
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::default()
    }
}

fn status_fields(code: u32, message: &str) -> HeaderMap {
    let mut fields = HeaderMap::new();
    fields.insert("grpc-status", HeaderValue::from(code));
    if !message.is_empty() {
        let encoded: String = message
            .bytes()
            .map(|b| {
                if (0x20..0x7f).contains(&b) && b != b'%' {
                    (b as char).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect();
        if let Ok(v) = HeaderValue::from_str(&encoded) {
            fields.insert("grpc-message", v);
        }
    }
    fields
}

fn head(body: GrpcBody) -> Response<GrpcBody> {
    let mut resp = Response::new(body);
    resp.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/grpc"),
    );
    resp
}

/// How a call failed: its status code and message.
struct Failure {
    code: u32,
    message: String,
}

fn failure(code: u32, message: &str) -> Failure {
    Failure {
        code,
        message: message.to_string(),
    }
}

/// A failed call, answered trailers-only: the status in the response head, no body.
fn trailers_only(f: &Failure) -> Response<GrpcBody> {
    let mut resp = head(GrpcBody::empty());
    resp.headers_mut().extend(status_fields(f.code, &f.message));
    resp
}

fn frame(msg: &impl Message) -> Bytes {
    let mut out = BytesMut::with_capacity(5 + msg.encoded_len());
    out.put_u8(0);
    out.put_u32(msg.encoded_len() as u32);
    msg.encode(&mut out)
        .unwrap_or_else(|_| unreachable!("BytesMut grows as needed"));
    out.freeze()
}

fn product(id: i32) -> Product {
    Product {
        id,
        name: format!("Product {id}"),
        price_cents: 100 + i64::from(id) * 25,
    }
}

const INVALID_ARGUMENT: u32 = 3;
const NOT_FOUND: u32 = 5;
const RESOURCE_EXHAUSTED: u32 = 8;
const FAILED_PRECONDITION: u32 = 9;
const UNIMPLEMENTED: u32 = 12;
const INTERNAL: u32 = 13;

/// Reads every request message of a call (a unary call's one, a streamed request's all).
async fn request_messages<B>(body: B) -> Result<Vec<Bytes>, Failure>
where
    B: Body,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let limited = http_body_util::Limited::new(body, MAX_REQUEST + 5);
    let mut data = match limited.collect().await {
        Ok(c) => c.to_bytes(),
        Err(e) => {
            return Err(failure(
                RESOURCE_EXHAUSTED,
                &format!("request not read: {e}"),
            ))
        }
    };
    let mut messages = Vec::new();
    while !data.is_empty() {
        if data.len() < 5 {
            return Err(failure(INTERNAL, "request without a whole message"));
        }
        let compressed = data[0];
        let len = u32::from_be_bytes([data[1], data[2], data[3], data[4]]) as usize;
        if compressed != 0 {
            return Err(failure(
                UNIMPLEMENTED,
                "compressed requests are not supported",
            ));
        }
        data.advance(5);
        if data.len() < len {
            return Err(failure(
                INTERNAL,
                "the request ends in the middle of a message",
            ));
        }
        if messages.len() == MAX_REQUEST_MESSAGES {
            return Err(failure(
                RESOURCE_EXHAUSTED,
                &format!("more than {MAX_REQUEST_MESSAGES} request messages"),
            ));
        }
        messages.push(data.split_to(len));
    }
    Ok(messages)
}

/// The one request message of a unary or server-streaming call.
fn single(messages: Vec<Bytes>) -> Result<Bytes, Failure> {
    let mut it = messages.into_iter();
    match (it.next(), it.next()) {
        (Some(m), None) => Ok(m),
        _ => Err(failure(
            INTERNAL,
            "the request body is not exactly one message",
        )),
    }
}

/// The request metadata the service echoes: fields named `x-echo*`.
fn echoed(headers: &HeaderMap) -> HeaderMap {
    let mut echo = HeaderMap::new();
    for (name, value) in headers {
        if name.as_str().starts_with("x-echo") {
            echo.append(name.clone(), value.clone());
        }
    }
    echo
}

/// Whether the request asks for gzip-compressed response messages (`x-compress: gzip`) and
/// accepts them (`grpc-accept-encoding` lists gzip).
fn wants_gzip(headers: &HeaderMap) -> bool {
    let has = |name: &str| {
        headers
            .get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .any(|e| e.trim().eq_ignore_ascii_case("gzip"))
    };
    has("x-compress") && has("grpc-accept-encoding")
}

/// Compresses every response message with gzip (a head with `grpc-encoding: gzip`); a
/// trailers-only response has none.
fn gzipped(mut resp: Response<GrpcBody>) -> Response<GrpcBody> {
    use std::io::Write;
    if resp.headers().contains_key("grpc-status") {
        return resp;
    }
    resp.headers_mut()
        .insert("grpc-encoding", HeaderValue::from_static("gzip"));
    for frame in resp.body_mut().frames.iter_mut() {
        let Some(data) = frame.data_mut() else {
            continue;
        };
        let mut z = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        // writing to memory cannot fail
        let packed = z
            .write_all(&data[5..])
            .and_then(|()| z.finish())
            .unwrap_or_default();
        let mut out = BytesMut::with_capacity(5 + packed.len());
        out.put_u8(1);
        out.put_u32(packed.len() as u32);
        out.put_slice(&packed);
        *data = out.freeze();
    }
    resp
}

/// Adds `echo` to the response head (initial metadata, or a trailers-only response's
/// trailing metadata) and to the trailers.
fn with_echo(mut resp: Response<GrpcBody>, echo: &HeaderMap) -> Response<GrpcBody> {
    if echo.is_empty() {
        return resp;
    }
    for (name, value) in echo {
        resp.headers_mut().append(name.clone(), value.clone());
    }
    if let Some(trailers) = resp
        .body_mut()
        .frames
        .back_mut()
        .and_then(Frame::trailers_mut)
    {
        for (name, value) in echo {
            trailers.append(name.clone(), value.clone());
        }
    }
    resp
}

fn decode<M: Message + Default>(data: Bytes) -> Result<M, Failure> {
    M::decode(data).map_err(|e| failure(INTERNAL, &format!("request not decoded: {e}")))
}

/// Answers one gRPC call (see [`is_grpc`]).
pub async fn handle<B>(req: Request<B>) -> Response<GrpcBody>
where
    B: Body,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let path = req.uri().path().to_string();
    let echo = echoed(req.headers());
    let gzip = wants_gzip(req.headers());
    let answered = match request_messages(req.into_body()).await {
        Ok(messages) => answer(&path, messages).await,
        Err(f) => Err(f),
    };
    let resp = with_echo(answered.unwrap_or_else(|f| trailers_only(&f)), &echo);
    if gzip {
        gzipped(resp)
    } else {
        resp
    }
}

async fn answer(path: &str, messages: Vec<Bytes>) -> Result<Response<GrpcBody>, Failure> {
    let unary = |msg: &dyn Fn() -> Bytes| Ok(head(GrpcBody::new(vec![msg()], Duration::ZERO)));
    match path {
        "/locusta.demo.Shop/Sum" => {
            let mut reply = SumReply::default();
            for m in messages {
                let req: SumRequest = decode(m)?;
                reply.total = reply.total.wrapping_add(req.value);
                reply.count += 1;
            }
            return unary(&|| frame(&reply));
        }
        "/locusta.demo.Shop/Chat" => {
            let replies = messages
                .into_iter()
                .map(|m| {
                    let req: ChatMessage = decode(m)?;
                    Ok(frame(&ChatMessage {
                        text: format!("echo: {}", req.text),
                    }))
                })
                .collect::<Result<Vec<_>, Failure>>()?;
            return Ok(head(GrpcBody::new(replies, Duration::ZERO)));
        }
        _ => {}
    }
    let data = single(messages)?;
    match path {
        "/locusta.demo.Shop/GetProduct" => {
            let req: ProductRequest = decode(data)?;
            if req.delay_ms > 0 {
                tokio::time::sleep(Duration::from_millis(u64::from(req.delay_ms.min(10_000))))
                    .await;
            }
            if !(1..=PRODUCTS).contains(&req.id) {
                return Err(failure(
                    NOT_FOUND,
                    &format!("no product with id {} (ids are 1 to {PRODUCTS})", req.id),
                ));
            }
            unary(&|| frame(&product(req.id)))
        }
        "/locusta.demo.Shop/ListProducts" => {
            let req: ListRequest = decode(data)?;
            let limit = match req.limit {
                0 => 10,
                n => n.min(1000),
            };
            let messages = (1..=limit as i32)
                .map(|id| frame(&product((id - 1) % PRODUCTS + 1)))
                .collect();
            let interval = Duration::from_millis(u64::from(req.interval_ms.min(1000)));
            Ok(head(GrpcBody::new(messages, interval)))
        }
        "/locusta.demo.Shop/Checkout" => {
            let req: CheckoutRequest = decode(data)?;
            if req.quantity == 0 {
                return Err(failure(INVALID_ARGUMENT, "quantity must be at least 1"));
            }
            if !(1..=PRODUCTS).contains(&req.product_id) {
                return Err(failure(
                    NOT_FOUND,
                    &format!("no product with id {}", req.product_id),
                ));
            }
            if req.quantity > STOCK {
                return Err(failure(
                    FAILED_PRECONDITION,
                    &format!(
                        "only {STOCK} of product {} in stock, {} asked for",
                        req.product_id, req.quantity
                    ),
                ));
            }
            let receipt = Receipt {
                order_id: format!("order-{}-{}", req.product_id, req.quantity),
                total_cents: product(req.product_id).price_cents * i64::from(req.quantity),
            };
            unary(&|| frame(&receipt))
        }
        "/locust.hello.HelloService/SayHello" => {
            let req: HelloRequest = decode(data)?;
            let reply = HelloResponse {
                message: format!("Hello from locusta, {}!", req.name),
            };
            unary(&|| frame(&reply))
        }
        other => Err(failure(UNIMPLEMENTED, &format!("unknown method {other}"))),
    }
}

/// Serves only the gRPC services over h2c (HTTP/2 with prior knowledge) on `listener` until
/// the returned future is dropped: for tests and benchmarks that need a gRPC target by itself.
pub async fn serve_h2c(listener: tokio::net::TcpListener) -> std::io::Result<()> {
    loop {
        let (tcp, _) = match listener.accept().await {
            Ok(c) => c,
            Err(e) => {
                log::debug!("gRPC accept: {e}");
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        let _ = tcp.set_nodelay(true);
        tokio::spawn(async move {
            let service =
                hyper::service::service_fn(
                    |req| async move { Ok::<_, Infallible>(handle(req).await) },
                );
            let served =
                hyper::server::conn::http2::Builder::new(hyper_util::rt::TokioExecutor::new())
                    .serve_connection(hyper_util::rt::TokioIo::new(tcp), service)
                    .await;
            if let Err(e) = served {
                log::debug!("gRPC connection: {e}");
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::Full;

    fn call(path: &str, msg: &impl Message) -> Request<Full<Bytes>> {
        let mut req = Request::new(Full::new(frame(msg)));
        *req.method_mut() = http::Method::POST;
        *req.uri_mut() = path.parse().unwrap_or_default();
        req.headers_mut().insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/grpc"),
        );
        req
    }

    async fn frames(resp: Response<GrpcBody>) -> (HeaderMap, Vec<Bytes>, Option<HeaderMap>) {
        let (parts, mut body) = resp.into_parts();
        let mut data = Vec::new();
        let mut trailers = None;
        while let Some(Ok(f)) = body.frame().await {
            match f.into_data() {
                Ok(d) => data.push(d),
                Err(f) => trailers = f.into_trailers().ok(),
            }
        }
        (parts.headers, data, trailers)
    }

    #[tokio::test]
    async fn shop_answers_lists_and_fails_as_its_proto_says() {
        let req = call(
            "/locusta.demo.Shop/GetProduct",
            &ProductRequest { id: 7, delay_ms: 0 },
        );
        assert!(is_grpc(&req));
        let (_, data, trailers) = frames(handle(req).await).await;
        assert_eq!(data, vec![frame(&product(7))]);
        assert_eq!(
            trailers.and_then(|t| t.get("grpc-status").cloned()),
            Some(HeaderValue::from_static("0"))
        );

        let req = call(
            "/locusta.demo.Shop/ListProducts",
            &ListRequest {
                limit: 3,
                interval_ms: 1,
            },
        );
        let (_, data, _) = frames(handle(req).await).await;
        assert_eq!(data.len(), 3);

        let req = call(
            "/locusta.demo.Shop/Checkout",
            &CheckoutRequest {
                product_id: 1,
                quantity: 9,
            },
        );
        let (head, data, _) = frames(handle(req).await).await;
        assert!(data.is_empty());
        assert_eq!(
            head.get("grpc-status"),
            Some(&HeaderValue::from_static("9"))
        );

        let req = call("/nope.X/Y", &HelloRequest { name: "a".into() });
        let (head, _, _) = frames(handle(req).await).await;
        assert_eq!(
            head.get("grpc-status"),
            Some(&HeaderValue::from_static("12"))
        );
    }

    fn streamed(path: &str, msgs: &[impl Message]) -> Request<Full<Bytes>> {
        let mut body = BytesMut::new();
        for m in msgs {
            body.extend_from_slice(&frame(m));
        }
        let mut req = call(path, &HelloRequest::default());
        *req.body_mut() = Full::new(body.freeze());
        req
    }

    #[tokio::test]
    async fn sum_and_chat_read_a_request_stream_and_metadata_is_echoed() {
        let values: Vec<SumRequest> = [3, 4, 5]
            .iter()
            .map(|&value| SumRequest { value })
            .collect();
        let mut req = streamed("/locusta.demo.Shop/Sum", &values);
        req.headers_mut()
            .insert("x-echo-id", HeaderValue::from_static("abc"));
        let (head, data, trailers) = frames(handle(req).await).await;
        assert_eq!(
            data,
            vec![frame(&SumReply {
                total: 12,
                count: 3
            })]
        );
        assert_eq!(
            head.get("x-echo-id"),
            Some(&HeaderValue::from_static("abc"))
        );
        let trailers = trailers.unwrap_or_default();
        assert_eq!(
            trailers.get("x-echo-id"),
            Some(&HeaderValue::from_static("abc"))
        );
        assert_eq!(
            trailers.get("grpc-status"),
            Some(&HeaderValue::from_static("0"))
        );

        let chat: Vec<ChatMessage> = ["a", "b"]
            .iter()
            .map(|t| ChatMessage {
                text: t.to_string(),
            })
            .collect();
        let (_, data, _) = frames(handle(streamed("/locusta.demo.Shop/Chat", &chat)).await).await;
        let replies: Vec<String> = data
            .into_iter()
            .map(|mut d| {
                d.advance(5);
                ChatMessage::decode(d).map(|m| m.text).unwrap_or_default()
            })
            .collect();
        assert_eq!(replies, vec!["echo: a", "echo: b"]);

        // a unary method refuses two messages; a trailers-only answer echoes in its head
        let two = [
            ProductRequest { id: 1, delay_ms: 0 },
            ProductRequest { id: 2, delay_ms: 0 },
        ];
        let mut req = streamed("/locusta.demo.Shop/GetProduct", &two);
        req.headers_mut()
            .insert("x-echo-bin", HeaderValue::from_static("AAE="));
        let (head, _, _) = frames(handle(req).await).await;
        assert_eq!(
            head.get("grpc-status"),
            Some(&HeaderValue::from_static("13"))
        );
        assert_eq!(
            head.get("x-echo-bin"),
            Some(&HeaderValue::from_static("AAE="))
        );
    }

    #[tokio::test]
    async fn responses_are_gzipped_when_asked_and_accepted() {
        let ask = |accept: &'static str| {
            let mut req = call(
                "/locusta.demo.Shop/GetProduct",
                &ProductRequest { id: 7, delay_ms: 0 },
            );
            req.headers_mut()
                .insert("x-compress", HeaderValue::from_static("gzip"));
            req.headers_mut()
                .insert("grpc-accept-encoding", HeaderValue::from_static(accept));
            req
        };
        let (head, data, _) = frames(handle(ask("identity,gzip")).await).await;
        assert_eq!(
            head.get("grpc-encoding"),
            Some(&HeaderValue::from_static("gzip"))
        );
        assert_eq!(data.len(), 1);
        assert_eq!(data[0][0], 1, "the compressed flag");
        let mut unpacked = Vec::new();
        std::io::Read::read_to_end(
            &mut flate2::read::GzDecoder::new(&data[0][5..]),
            &mut unpacked,
        )
        .expect("gzip");
        assert_eq!(Product::decode(&unpacked[..]).ok(), Some(product(7)));
        // a client that does not accept gzip gets plain messages
        let (head, data, _) = frames(handle(ask("identity")).await).await;
        assert_eq!(head.get("grpc-encoding"), None);
        assert_eq!(data, vec![frame(&product(7))]);
    }
}
