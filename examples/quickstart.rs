//! A Rust-native locustfile: the same model as Locust's quickstart, compiled into a binary that
//! takes Locust's command line.
//!
//! Run it against the built-in demo target:
//!
//! ```text
//! locusta demo-target --port 8080 &
//! cargo run --release --example quickstart -- --headless -u 50 -r 10 -t 20s -H http://127.0.0.1:8080
//! ```

use locusta::wait_time::between;
use locusta::{task, TaskResult, User, UserClass};
use serde_json::json;

/// Stored per user between tasks.
struct Session {
    token: String,
}

async fn login(user: &mut User) -> TaskResult {
    let response = user
        .client
        .post("/api/auth/login")
        .json(json!({"email": "quickstart@example.com", "password": "secret"}))
        .send()
        .await;
    let token = response
        .json()
        .ok()
        .and_then(|v| v["token"].as_str().map(str::to_owned))
        .unwrap_or_default();
    user.set_state(Session { token });
    Ok(())
}

async fn hello_world(user: &mut User) -> TaskResult {
    user.client.get("/").send().await;
    user.client.get("/about/").send().await;
    Ok(())
}

async fn view_items(user: &mut User) -> TaskResult {
    for id in 1..=10 {
        // One stats row for all items, like Locust's `name=`.
        user.client
            .get(&format!("/api/products/{id}"))
            .name("/api/products/[id]")
            .send()
            .await;
    }
    Ok(())
}

async fn checkout(user: &mut User) -> TaskResult {
    let token = user
        .state::<Session>()
        .map(|s| s.token.clone())
        .unwrap_or_default();
    let auth = format!("Bearer {token}");
    user.client
        .post("/api/cart/items")
        .header("Authorization", &auth)
        .json(json!({"product_id": 7, "quantity": 1}))
        .send()
        .await;
    let mut response = user
        .client
        .post("/api/orders")
        .header("Authorization", &auth)
        .json(json!({"payment_method": "test"}))
        .catch_response()
        .await;
    if response.status() == 409 {
        response.failure("Cart was empty");
    }
    Ok(())
}

fn main() {
    let quickstart = UserClass::new("QuickstartUser")
        .wait_time(between(1.0, 2.0))
        .on_start(task!(login))
        .task(task!(hello_world))
        .task(task!(view_items).weight(3).tag("browse"))
        .task(task!(checkout).tag("purchase"));
    std::process::exit(locusta::run_cli(vec![quickstart]));
}
