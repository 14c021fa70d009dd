//! The built-in demo "locustfile": shop users written with the Rust-native API.
//!
//! `locusta demo` runs these against the built-in demo target, so a fresh install shows a real
//! load test with nothing else to set up. They follow the seed documents' e-commerce example:
//! log in on start, browse a lot, view products, add to the cart now and then, and check out
//! (the endpoint that slows down under concurrency).
//!
//! Named on the command line only: `ChatUser` (WebSocket chat, [`websocket_user_classes`]) and
//! `GrpcShopUser` (the demo target's `locusta.demo.Shop` gRPC service, [`grpc_user_classes`]).
//!
//! Every demo user skips certificate verification, as Locust's FastHttpUser does by default
//! (`insecure = True`): the demo target's TLS listener (`locusta demo --tls`,
//! `locusta demo-target --tls-port`) presents a self-signed certificate.

use std::sync::Arc;

use rand::Rng;
use serde_json::json;

use crate::grpc::Schema;
use crate::wait_time::between;
use crate::{task, Http2Mode, SessionOptions, Task, TaskResult, User, UserClass};

/// The demo users' client settings: certificates are not verified (FastHttpUser's default).
fn demo_client_options() -> SessionOptions {
    SessionOptions {
        verify_tls: Some(false),
        ..SessionOptions::default()
    }
}

struct Token(String);

async fn login(user: &mut User) -> TaskResult {
    let response = user
        .client
        .post("/api/auth/login")
        .json(json!({"email": "loadtest@example.com", "password": "test-password-123"}))
        .send()
        .await;
    let token = response
        .json()
        .ok()
        .and_then(|v| v.get("token").and_then(|t| t.as_str()).map(str::to_owned))
        .unwrap_or_default();
    user.set_state(Token(token));
    Ok(())
}

fn bearer(user: &mut User) -> String {
    match user.state::<Token>() {
        Some(Token(t)) => format!("Bearer {t}"),
        None => String::new(),
    }
}

async fn browse_products(user: &mut User) -> TaskResult {
    user.client
        .get("/api/products?page=1&limit=20")
        .send()
        .await;
    Ok(())
}

async fn view_product_detail(user: &mut User) -> TaskResult {
    let id: u32 = rand::rng().random_range(1..=1000);
    user.client
        .get(&format!("/api/products/{id}"))
        .name("/api/products/[id]")
        .send()
        .await;
    Ok(())
}

async fn add_to_cart(user: &mut User) -> TaskResult {
    let id: u32 = rand::rng().random_range(1..=1000);
    let auth = bearer(user);
    user.client
        .post("/api/cart/items")
        .header("Authorization", &auth)
        .json(json!({"product_id": id, "quantity": 1}))
        .send()
        .await;
    Ok(())
}

async fn checkout(user: &mut User) -> TaskResult {
    // A shopper puts something in the cart before paying, so a healthy target answers 201.
    add_to_cart(user).await?;
    let auth = bearer(user);
    let mut response = user
        .client
        .post("/api/orders")
        .header("Authorization", &auth)
        .json(json!({"payment_method": "test"}))
        .catch_response()
        .await;
    match response.status() {
        201 => response.success(),
        409 => response.failure("Cart was empty"),
        other => response.failure(format!("Unexpected: {other}")),
    }
    Ok(())
}

async fn index(user: &mut User) -> TaskResult {
    user.client.get("/").send().await;
    Ok(())
}

async fn about(user: &mut User) -> TaskResult {
    user.client.get("/about/").send().await;
    Ok(())
}

async fn products_page(user: &mut User) -> TaskResult {
    user.client.get("/products/").send().await;
    Ok(())
}

/// The demo's user classes: `ShopUser` (an API shopper) and `WebsiteUser` (a page browser).
pub fn demo_user_classes() -> Vec<UserClass> {
    vec![
        UserClass::new("ShopUser")
            .client_options(demo_client_options())
            .weight(3.0)
            .wait_time(between(0.5, 2.0))
            .on_start(task!(login))
            .task(task!(browse_products).weight(5).tag("browse"))
            .task(task!(view_product_detail).weight(3).tag("browse"))
            .task(task!(add_to_cart).tag("purchase"))
            .task(task!(checkout).tag("purchase")),
        UserClass::new("WebsiteUser")
            .client_options(demo_client_options())
            .wait_time(between(1.0, 5.0))
            .task(task!(index))
            .task(task!(about).weight(3))
            .task(task!(products_page).weight(2)),
    ]
}

/// Joins the demo target's chat room (`/ws/chat`) on start and keeps the connection.
async fn join_chat(user: &mut User) -> TaskResult {
    let ws = user
        .client
        .websocket("/ws/chat")
        .recv_timeout(std::time::Duration::from_secs(10))
        .connect()
        .await?;
    user.set_state(ws);
    Ok(())
}

/// Says something in the room and waits for the room to send it back (one `WS chat message`
/// row with the round trip); what the others said meanwhile are `WSR /ws/chat` rows.
async fn chat(user: &mut User) -> TaskResult {
    let line = format!("hello from user {}", user.id());
    let Some(ws) = user.state::<crate::WebSocketConnection>() else {
        return Err(crate::TaskError::Failed("not connected to the chat".into()));
    };
    ws.request("chat message", crate::WsMessage::Text(line.clone()), |m| {
        m.as_text() == Some(line.as_str())
    })
    .await?;
    Ok(())
}

/// The WebSocket demo user, run by name (`locusta demo ChatUser`): `ChatUser` chats in
/// `/ws/chat`.
pub fn websocket_user_classes() -> Vec<UserClass> {
    vec![UserClass::new("ChatUser")
        .client_options(demo_client_options())
        .wait_time(between(0.5, 2.0))
        .on_start(task!(join_chat))
        .task(task!(chat))]
}

/// The demo target's gRPC shop, `locusta.demo.Shop` (`crates/locusta-demo/proto/shop.proto`),
/// compiled once per call of [`grpc_user_classes`].
fn shop_schema() -> Arc<Schema> {
    // the .proto is part of this program, and a test compiles it: it cannot fail at run time
    Arc::new(
        Schema::from_proto_source("shop.proto", locusta_demo::grpc::SHOP_PROTO)
            .expect("the demo target's shop.proto compiles"),
    )
}

/// A gRPC task calling `method` of the shop with the JSON request `request` makes; the call is
/// recorded (`grpc /locusta.demo.Shop/<Method>`), a status other than OK as a failure.
fn shop_call(
    name: &str,
    schema: &Arc<Schema>,
    method: &'static str,
    request: fn() -> serde_json::Value,
) -> Task {
    let schema = Arc::clone(schema);
    Task::new(name, move |user| {
        let schema = Arc::clone(&schema);
        Box::pin(async move {
            // recorded either way: the statistics show a failed call, the user goes on
            let _ = user
                .client
                .grpc()
                .schema(&schema)
                .call_json(method, &request())
                .await;
            Ok(())
        })
    })
}

/// The gRPC demo user, run by name (`locusta demo GrpcShopUser`): `GrpcShopUser` looks up
/// products (unary `GetProduct`, ids 1..=100), lists the first five (server-streaming
/// `ListProducts`) and buys one to three of a product (`Checkout`), on one HTTP/2 connection per
/// user: h2c with prior knowledge on `http://`, ALPN `h2` on `https://` (`locusta demo --tls`).
pub fn grpc_user_classes() -> Vec<UserClass> {
    let schema = shop_schema();
    vec![UserClass::new("GrpcShopUser")
        .client_options(SessionOptions {
            http2: Some(Http2Mode::PriorKnowledge),
            ..demo_client_options()
        })
        .wait_time(between(0.5, 2.0))
        .task(
            shop_call(
                "get_product",
                &schema,
                "locusta.demo.Shop/GetProduct",
                || json!({"id": rand::rng().random_range(1..=100)}),
            )
            .weight(5),
        )
        .task(
            shop_call(
                "list_products",
                &schema,
                "locusta.demo.Shop/ListProducts",
                || json!({"limit": 5}),
            )
            .weight(2),
        )
        .task(shop_call(
            "checkout",
            &schema,
            "locusta.demo.Shop/Checkout",
            || {
                json!({
                    "product_id": rand::rng().random_range(1..=100),
                    "quantity": rand::rng().random_range(1..=3),
                })
            },
        ))]
}

/// A user that requests `/` as fast as it can: the throughput benchmark's user (which also
/// runs against self-signed `https://` targets: certificates are not verified).
pub fn hammer_user_class() -> UserClass {
    UserClass::new("HammerUser")
        .client_options(demo_client_options())
        .task(task!(index))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_grpc_demo_user_knows_the_shop_methods() {
        let schema = shop_schema();
        for method in [
            "locusta.demo.Shop/GetProduct",
            "locusta.demo.Shop/ListProducts",
            "locusta.demo.Shop/Checkout",
        ] {
            assert!(schema.method(method).is_ok(), "{method}");
        }
        let classes = grpc_user_classes();
        assert_eq!(classes.len(), 1);
        assert_eq!(
            classes[0].client_options.http2,
            Some(Http2Mode::PriorKnowledge)
        );
        assert_eq!(classes[0].client_options.verify_tls, Some(false));
    }

    #[test]
    fn demo_users_accept_the_self_signed_certificate() {
        for class in demo_user_classes().iter().chain(&websocket_user_classes()) {
            assert_eq!(class.client_options.verify_tls, Some(false));
        }
    }
}
