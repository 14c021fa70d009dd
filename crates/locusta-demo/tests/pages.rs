//! Static pages, simple JSON endpoints, 404 and 405 handling, HEAD, keep-alive.

mod common;

use common::{start, Client};

#[tokio::test]
async fn html_pages_are_served() {
    let server = start();
    let mut client = Client::connect(server.addr()).await;
    for (path, needle) in [
        ("/", "Locusta Demo Shop"),
        ("/about/", "About"),
        ("/products/", "Products"),
        ("/admin/dashboard", "Admin dashboard"),
        ("/login", "<form"),
    ] {
        let reply = client.get(path).await;
        assert_eq!(reply.status, 200, "{path}");
        assert_eq!(
            reply.header("content-type").as_deref(),
            Some("text/html; charset=utf-8"),
            "{path}"
        );
        assert!(reply.text().contains(needle), "{path}: {}", reply.text());
        assert_eq!(
            reply.header("content-length"),
            Some(reply.body.len().to_string()),
            "{path}"
        );
    }
}

#[tokio::test]
async fn json_listings_are_served() {
    let server = start();
    let mut client = Client::connect(server.addr()).await;
    let users = client.get("/users").await;
    assert_eq!(users.status, 200);
    assert_eq!(
        users.header("content-type").as_deref(),
        Some("application/json")
    );
    assert_eq!(users.json()["users"].as_array().unwrap().len(), 20);
    assert_eq!(users.json()["users"][0]["email"], "user1@example.com");

    let products = client.get("/products").await;
    assert_eq!(products.status, 200);
    assert_eq!(products.json()["total"], 1000);
    assert_eq!(products.json()["items"][0]["id"], 1);
}

#[tokio::test]
async fn locust_quickstart_endpoints_exist() {
    let server = start();
    let mut client = Client::connect(server.addr()).await;
    assert_eq!(client.get("/hello").await.text(), "Hello");
    assert_eq!(client.get("/world").await.text(), "World");
    let item = client.get("/item?id=7").await;
    assert_eq!(item.status, 200);
    assert_eq!(item.json()["id"], 7);
    assert_eq!(client.get("/item?id=x").await.status, 400);
}

#[tokio::test]
async fn unknown_paths_get_json_404() {
    let server = start();
    let mut client = Client::connect(server.addr()).await;
    for path in [
        "/nope",
        "/about",
        "/api/products/",
        "/api/products/1/x",
        "/_test/nope",
    ] {
        let reply = client.get(path).await;
        assert_eq!(reply.status, 404, "{path}");
        assert_eq!(reply.json()["error"], "not found", "{path}");
        assert_eq!(reply.json()["path"], path, "{path}");
    }
    // Any method on an unknown path is a 404, not a 405.
    assert_eq!(client.send("DELETE", "/nope", &[], None).await.status, 404);
}

#[tokio::test]
async fn wrong_methods_get_405_with_allow() {
    let server = start();
    let mut client = Client::connect(server.addr()).await;
    let cases = [
        ("POST", "/", "GET, HEAD"),
        ("DELETE", "/api/products", "GET, HEAD"),
        ("PUT", "/api/products/5", "GET, HEAD"),
        ("GET", "/api/auth/login", "POST"),
        ("GET", "/api/orders", "POST"),
        ("GET", "/api/cart/items", "POST"),
        ("GET", "/admin/reports/generate", "POST"),
        ("POST", "/_test/stats", "GET, HEAD"),
        ("DELETE", "/login", "GET, HEAD, POST"),
    ];
    for (method, path, allow) in cases {
        let reply = client.send(method, path, &[], None).await;
        assert_eq!(reply.status, 405, "{method} {path}");
        assert_eq!(
            reply.header("allow").as_deref(),
            Some(allow),
            "{method} {path}"
        );
        assert!(reply.json()["error"].as_str().unwrap().contains(method));
    }
}

#[tokio::test]
async fn head_returns_headers_without_body() {
    let server = start();
    let mut client = Client::connect(server.addr()).await;
    let get = client.get("/").await;
    let head = client.send("HEAD", "/", &[], None).await;
    assert_eq!(head.status, 200);
    assert!(head.body.is_empty());
    assert_eq!(
        head.header("content-length"),
        Some(get.body.len().to_string())
    );
    // The connection is still usable after a HEAD.
    assert_eq!(client.get("/about/").await.status, 200);
}

#[tokio::test]
async fn keep_alive_reuses_one_connection() {
    let server = start();
    let mut client = Client::connect(server.addr()).await;
    for _ in 0..50 {
        assert_eq!(client.get("/").await.status, 200);
    }
    let stats = client.get("/_test/stats").await.json();
    assert_eq!(stats["connections_accepted"], 1);
    assert_eq!(stats["requests"], 51);
    assert_eq!(stats["connections_open"], 1);
}
