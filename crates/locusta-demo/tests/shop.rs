//! The shop API of the example locustfiles: login, catalogue, cart, checkout, and the
//! API-key / admin / mobile endpoints of the mixed-workload example.

mod common;

use common::{start, Client};

#[tokio::test]
async fn api_login_returns_a_token_and_validates_fields() {
    let server = start();
    let mut client = Client::connect(server.addr()).await;
    let token = client.login().await;
    assert_eq!(token.len(), 32);
    assert!(token.bytes().all(|b| b.is_ascii_hexdigit()));
    // Two logins give two different tokens.
    let other = Client::connect(server.addr()).await.login().await;
    assert_ne!(token, other);

    let mut anon = Client::connect(server.addr()).await;
    for body in [
        r#"{"email":"a@b.c"}"#,
        r#"{"password":"x"}"#,
        r#"{"email":"","password":"x"}"#,
        r#"{"email":5,"password":"x"}"#,
        r#"[1,2]"#,
        "not json",
        "",
    ] {
        let reply = anon.post_json("/api/auth/login", body).await;
        assert_eq!(reply.status, 400, "{body}");
        assert!(reply.json()["error"].is_string(), "{body}");
    }
}

#[tokio::test]
async fn form_login_sets_a_session_cookie_that_authenticates() {
    let server = start();
    let mut client = Client::connect(server.addr()).await;
    let reply = client
        .send(
            "POST",
            "/login",
            &[("content-type", "application/x-www-form-urlencoded")],
            Some("username=test_user&password="),
        )
        .await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.json()["username"], "test_user");
    let cookie = reply.header("set-cookie").unwrap();
    assert!(cookie.starts_with("session="), "{cookie}");
    assert!(cookie.contains("Path=/"), "{cookie}");
    let session = cookie.split(';').next().unwrap().to_owned();

    // The cookie works wherever a bearer token does.
    let cart = client
        .send("GET", "/api/cart", &[("cookie", session.as_str())], None)
        .await;
    assert_eq!(cart.status, 200, "{}", cart.text());
    assert_eq!(cart.json()["units"], 0);

    // JSON bodies are accepted too; bad JSON declared as JSON is a 400.
    let json = client
        .post_json("/login", r#"{"username":"foo","password":"bar"}"#)
        .await;
    assert_eq!(json.status, 200);
    assert_eq!(json.json()["username"], "foo");
    assert_eq!(client.post_json("/login", "{").await.status, 400);
}

#[tokio::test]
async fn products_are_paged_and_validated() {
    let server = start();
    let mut client = Client::connect(server.addr()).await;
    let page = client.get("/api/products?page=1&limit=20").await;
    assert_eq!(page.status, 200);
    let json = page.json();
    assert_eq!(json["total"], 1000);
    assert_eq!(json["page"], 1);
    assert_eq!(json["limit"], 20);
    let items = json["items"].as_array().unwrap();
    assert_eq!(items.len(), 20);
    assert_eq!(items[0]["id"], 1);
    assert_eq!(items[19]["id"], 20);
    assert!(items[0]["name"].is_string());
    assert!(items[0]["price"].as_f64().unwrap() > 0.0);

    let defaults = client.get("/api/products").await.json();
    assert_eq!(defaults["page"], 1);
    assert_eq!(defaults["limit"], 20);
    let p50 = client.get("/api/products?page=50&limit=20").await.json();
    assert_eq!(p50["items"][19]["id"], 1000);
    let beyond = client.get("/api/products?page=51&limit=20").await;
    assert_eq!(beyond.status, 200);
    assert_eq!(beyond.json()["items"].as_array().unwrap().len(), 0);

    for query in [
        "page=0",
        "page=-1",
        "page=abc",
        "page=",
        "limit=0",
        "limit=101",
        "limit=x",
    ] {
        let reply = client.get(&format!("/api/products?{query}")).await;
        assert_eq!(reply.status, 400, "{query}");
        assert!(reply.json()["error"].is_string());
    }
}

#[tokio::test]
async fn product_detail_and_404() {
    let server = start();
    let mut client = Client::connect(server.addr()).await;
    for id in [1, 500, 1000] {
        let reply = client.get(&format!("/api/products/{id}")).await;
        assert_eq!(reply.status, 200);
        assert_eq!(reply.json()["id"], id);
    }
    for id in ["0", "1001", "abc", "-1", "99999999999999999999999"] {
        let reply = client.get(&format!("/api/products/{id}")).await;
        assert_eq!(reply.status, 404, "{id}");
        assert_eq!(reply.json()["error"], "product not found");
    }
}

#[tokio::test]
async fn cart_requires_a_known_token_and_a_known_product() {
    let server = start();
    let mut anon = Client::connect(server.addr()).await;
    let body = r#"{"product_id":1,"quantity":1}"#;
    let missing = anon.post_json("/api/cart/items", body).await;
    assert_eq!(missing.status, 401);
    assert_eq!(
        missing.header("www-authenticate").as_deref(),
        Some("Bearer")
    );
    anon.token = Some("0".repeat(32));
    assert_eq!(anon.post_json("/api/cart/items", body).await.status, 401);
    anon.token = Some("not-a-token".to_owned());
    assert_eq!(anon.post_json("/api/cart/items", body).await.status, 401);

    let mut client = Client::connect(server.addr()).await;
    client.login().await;
    let added = client.post_json("/api/cart/items", body).await;
    assert_eq!(added.status, 201, "{}", added.text());
    assert_eq!(added.json()["cart_units"], 1);
    let again = client
        .post_json("/api/cart/items", r#"{"product_id":1,"quantity":2}"#)
        .await;
    assert_eq!(again.json()["cart_units"], 3);
    assert_eq!(again.json()["cart_lines"], 1);
    // Quantity defaults to 1.
    let default_qty = client
        .post_json("/api/cart/items", r#"{"product_id":7}"#)
        .await;
    assert_eq!(default_qty.status, 201);
    assert_eq!(default_qty.json()["quantity"], 1);

    for (body, status) in [
        (r#"{"product_id":1001,"quantity":1}"#, 404),
        (r#"{"product_id":0,"quantity":1}"#, 404),
        (r#"{"quantity":1}"#, 400),
        (r#"{"product_id":"1","quantity":1}"#, 400),
        (r#"{"product_id":1,"quantity":0}"#, 400),
        (r#"{"product_id":1,"quantity":-1}"#, 400),
        ("nope", 400),
    ] {
        let reply = client.post_json("/api/cart/items", body).await;
        assert_eq!(reply.status, status, "{body}: {}", reply.text());
    }

    let cart = client.get("/api/cart").await.json();
    assert_eq!(cart["units"], 4);
    assert_eq!(cart["items"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn carts_are_per_token() {
    let server = start();
    let mut alice = Client::connect(server.addr()).await;
    let mut bob = Client::connect(server.addr()).await;
    alice.login().await;
    bob.login().await;
    let add = alice
        .post_json("/api/cart/items", r#"{"product_id":3,"quantity":1}"#)
        .await;
    assert_eq!(add.status, 201);
    assert_eq!(bob.get("/api/cart").await.json()["units"], 0);
    let empty = bob
        .post_json("/api/orders", r#"{"payment_method":"test"}"#)
        .await;
    assert_eq!(empty.status, 409);
    let ok = alice
        .post_json("/api/orders", r#"{"payment_method":"test"}"#)
        .await;
    assert_eq!(ok.status, 201);
}

#[tokio::test]
async fn login_cart_order_flow() {
    let server = start();
    let mut client = Client::connect(server.addr()).await;
    client.login().await;
    let first = client
        .post_json("/api/cart/items", r#"{"product_id":10,"quantity":2}"#)
        .await;
    assert_eq!(first.status, 201);
    let second = client
        .post_json("/api/cart/items", r#"{"product_id":20,"quantity":1}"#)
        .await;
    assert_eq!(second.status, 201);
    let p10 = client.get("/api/products/10").await.json()["price"]
        .as_f64()
        .unwrap();
    let p20 = client.get("/api/products/20").await.json()["price"]
        .as_f64()
        .unwrap();

    let order = client
        .post_json("/api/orders", r#"{"payment_method":"test"}"#)
        .await;
    assert_eq!(order.status, 201, "{}", order.text());
    let json = order.json();
    assert!(json["order_id"].as_u64().unwrap() >= 1);
    assert_eq!(json["units"], 3);
    assert_eq!(json["payment_method"], "test");
    let total = json["total"].as_f64().unwrap();
    assert!((total - (2.0 * p10 + p20)).abs() < 0.005, "{total}");

    // The cart was emptied by the order.
    assert_eq!(client.get("/api/cart").await.json()["units"], 0);
    let empty = client
        .post_json("/api/orders", r#"{"payment_method":"test"}"#)
        .await;
    assert_eq!(empty.status, 409);
    assert_eq!(
        empty.json(),
        serde_json::json!({ "error": "cart is empty" })
    );

    // A second order gets a new id.
    client
        .post_json("/api/cart/items", r#"{"product_id":1}"#)
        .await;
    let next = client
        .post_json("/api/orders", r#"{"payment_method":"card"}"#)
        .await;
    assert_eq!(next.status, 201);
    assert!(next.json()["order_id"].as_u64() > json["order_id"].as_u64());

    let stats = common::stats(server.addr()).await;
    assert_eq!(stats["orders_created"], 2);
    assert_eq!(stats["logins"], 1);
}

#[tokio::test]
async fn orders_check_auth_then_body() {
    let server = start();
    let mut anon = Client::connect(server.addr()).await;
    let reply = anon
        .post_json("/api/orders", r#"{"payment_method":"test"}"#)
        .await;
    assert_eq!(reply.status, 401);
    assert!(reply.json()["error"].is_string());
    // Auth is checked before the body.
    assert_eq!(anon.post_json("/api/orders", "garbage").await.status, 401);

    let mut client = Client::connect(server.addr()).await;
    client.login().await;
    for body in [
        "{}",
        r#"{"payment_method":""}"#,
        r#"{"payment_method":1}"#,
        "x",
    ] {
        let reply = client.post_json("/api/orders", body).await;
        assert_eq!(reply.status, 400, "{body}");
    }
}

#[tokio::test]
async fn export_requires_an_api_key() {
    let server = start();
    let mut client = Client::connect(server.addr()).await;
    let denied = client.get("/api/v1/data/export").await;
    assert_eq!(denied.status, 401);
    assert!(denied.json()["error"]
        .as_str()
        .unwrap()
        .contains("X-API-Key"));
    let blank = client
        .send("GET", "/api/v1/data/export", &[("x-api-key", " ")], None)
        .await;
    assert_eq!(blank.status, 401);
    let ok = client
        .send(
            "GET",
            "/api/v1/data/export",
            &[("X-API-Key", "test-key")],
            None,
        )
        .await;
    assert_eq!(ok.status, 200);
    assert_eq!(ok.json()["count"], 50);
    assert_eq!(ok.json()["records"].as_array().unwrap().len(), 50);
}

#[tokio::test]
async fn admin_reports_are_accepted() {
    let server = start();
    let mut client = Client::connect(server.addr()).await;
    let reply = client
        .post_json(
            "/admin/reports/generate",
            r#"{"type":"monthly","format":"csv"}"#,
        )
        .await;
    assert_eq!(reply.status, 202);
    let json = reply.json();
    assert_eq!(json["status"], "queued");
    assert_eq!(json["type"], "monthly");
    assert_eq!(json["format"], "csv");
    let next = client.post_json("/admin/reports/generate", "{}").await;
    assert_eq!(next.status, 202);
    assert_eq!(
        next.json()["report_id"],
        json["report_id"].as_u64().unwrap() + 1
    );
    assert_eq!(
        client
            .post_json("/admin/reports/generate", "oops")
            .await
            .status,
        400
    );
}

#[tokio::test]
async fn mobile_feed_accepts_dates() {
    let server = start();
    let mut client = Client::connect(server.addr()).await;
    let reply = client
        .send(
            "GET",
            "/api/mobile/feed?since=2026-03-01",
            &[
                ("user-agent", "MyApp/2.1 (iOS 17.4)"),
                ("accept", "application/json"),
            ],
            None,
        )
        .await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.json()["since"], "2026-03-01");
    assert_eq!(reply.json()["items"].as_array().unwrap().len(), 10);
    let no_since = client.get("/api/mobile/feed").await;
    assert_eq!(no_since.status, 200);
    assert!(no_since.json()["since"].is_null());
    assert_eq!(
        client.get("/api/mobile/feed?since=yesterday").await.status,
        400
    );
}
