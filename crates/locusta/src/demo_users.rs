//! The built-in demo "locustfile": shop users written with the Rust-native API.
//!
//! `locusta demo` runs these against the built-in demo target, so a fresh install shows a real
//! load test with nothing else to set up. They follow the seed documents' e-commerce example:
//! log in on start, browse a lot, view products, add to the cart now and then, and check out
//! (the endpoint that slows down under concurrency).

use rand::Rng;
use serde_json::json;

use crate::wait_time::between;
use crate::{task, TaskResult, User, UserClass};

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
            .weight(3.0)
            .wait_time(between(0.5, 2.0))
            .on_start(task!(login))
            .task(task!(browse_products).weight(5).tag("browse"))
            .task(task!(view_product_detail).weight(3).tag("browse"))
            .task(task!(add_to_cart).tag("purchase"))
            .task(task!(checkout).tag("purchase")),
        UserClass::new("WebsiteUser")
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
        .wait_time(between(0.5, 2.0))
        .on_start(task!(join_chat))
        .task(task!(chat))]
}

/// A user that requests `/` as fast as it can: the throughput benchmark's user.
pub fn hammer_user_class() -> UserClass {
    UserClass::new("HammerUser").task(task!(index))
}
