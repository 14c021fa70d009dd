//! In-memory state of the demo shop: product catalogue, login sessions with their carts, the
//! global "inventory lock" behind checkout, and the counters reported by `/_test/stats`.
//!
//! Everything that the hot path (`GET /`, product reads) touches is either immutable after start
//! or a relaxed atomic, so the server scales with cores. Only session/cart operations take a
//! (sharded, short-lived) `std::sync::Mutex`, and only checkout takes the deliberately slow,
//! global async lock.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use bytes::Bytes;

/// Number of products in the catalogue; ids are `1..=PRODUCT_COUNT`.
pub(crate) const PRODUCT_COUNT: u32 = 1000;

/// Number of independent session shards (a power of two).
const SESSION_SHARDS: usize = 16;

/// Sessions kept per shard generation before the older generation is dropped. Bounds memory
/// when a load test logs in on every iteration: at most `2 * SESSION_SHARDS * SHARD_CAPACITY`
/// sessions are alive at any time.
const SHARD_CAPACITY: usize = 64 * 1024;

/// Most units of one product a single cart line may hold.
pub(crate) const MAX_LINE_QUANTITY: u64 = 1_000_000;

/// Counters served as JSON by `/_test/stats`. All relaxed atomics: they are statistics, not
/// synchronisation.
#[derive(Default)]
pub(crate) struct Counters {
    pub requests: AtomicU64,
    pub connections_accepted: AtomicU64,
    pub connections_open: AtomicU64,
    /// Connections that spoke HTTP/2 (h2c with prior knowledge, or ALPN `h2` over TLS).
    pub http2_connections: AtomicU64,
    /// Connections of the TLS listener whose handshake completed.
    pub tls_connections: AtomicU64,
    /// WebSocket connections open now (after the handshake, until either side closes).
    pub websockets_open: AtomicU64,
    pub logins: AtomicU64,
    pub cart_adds: AtomicU64,
    pub orders_created: AtomicU64,
    pub checkouts_in_flight: AtomicU64,
    pub checkouts_max_in_flight: AtomicU64,
    /// Sequence number of the next `/_fault/random-5xx` request.
    pub random_5xx_seq: AtomicU64,
}

impl Counters {
    /// Adds one to a counter.
    pub fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// Renders the counters as the `/_test/stats` JSON document.
    pub fn to_json(&self) -> serde_json::Value {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        serde_json::json!({
            "requests": get(&self.requests),
            "connections_accepted": get(&self.connections_accepted),
            "connections_open": get(&self.connections_open),
            "http2_connections": get(&self.http2_connections),
            "tls_connections": get(&self.tls_connections),
            "websockets_open": get(&self.websockets_open),
            "logins": get(&self.logins),
            "cart_adds": get(&self.cart_adds),
            "orders_created": get(&self.orders_created),
            "checkouts_in_flight": get(&self.checkouts_in_flight),
            "checkouts_max_in_flight": get(&self.checkouts_max_in_flight),
        })
    }
}

/// One product of the catalogue.
pub(crate) struct Product {
    pub price_cents: u64,
    /// The product's JSON object, pre-rendered once at start.
    pub json: Bytes,
}

/// The fixed catalogue of [`PRODUCT_COUNT`] products, rendered once at start.
pub(crate) struct Catalog {
    products: Vec<Product>,
}

const ADJECTIVES: [&str; 10] = [
    "Classic", "Compact", "Deluxe", "Eco", "Handmade", "Portable", "Rugged", "Smart", "Vintage",
    "Wireless",
];
const NOUNS: [&str; 10] = [
    "Backpack",
    "Blender",
    "Chair",
    "Headphones",
    "Kettle",
    "Lamp",
    "Mug",
    "Notebook",
    "Speaker",
    "Watch",
];
const CATEGORIES: [&str; 5] = ["home", "kitchen", "office", "outdoor", "audio"];

impl Catalog {
    /// Builds the deterministic catalogue: the same ids, names and prices on every start.
    pub fn new() -> Catalog {
        let products = (1..=PRODUCT_COUNT)
            .map(|id| {
                let i = id as usize;
                let name = format!("{} {} {}", ADJECTIVES[i % 10], NOUNS[(i / 10) % 10], id);
                // A spread of prices between 1.99 and 500.98, fixed per id.
                let price_cents = 199 + (u64::from(id) * 7919) % 49_900;
                let json = serde_json::json!({
                    "id": id,
                    "name": name,
                    "price": cents_to_number(price_cents),
                    "category": CATEGORIES[i % CATEGORIES.len()],
                    "in_stock": id % 17 != 0,
                });
                Product {
                    price_cents,
                    json: Bytes::from(json.to_string()),
                }
            })
            .collect();
        Catalog { products }
    }

    /// The product with this id, if it exists.
    pub fn get(&self, id: u64) -> Option<&Product> {
        let index = usize::try_from(id.checked_sub(1)?).ok()?;
        self.products.get(index)
    }

    /// The products with ids `first..first + count` that exist.
    pub fn range(&self, first: u64, count: u64) -> &[Product] {
        let len = self.products.len() as u64;
        let start = first.saturating_sub(1).min(len);
        let end = start.saturating_add(count).min(len);
        // Both bounds are <= len, which came from a usize.
        &self.products[start as usize..end as usize]
    }
}

/// Converts an amount in cents to a JSON number with two decimals (e.g. 1229 → 12.29).
pub(crate) fn cents_to_number(cents: u64) -> serde_json::Value {
    // f64 division then shortest round-trip printing gives exactly two decimals for these sizes.
    serde_json::Value::from(cents as f64 / 100.0)
}

/// A cart: product id → quantity, in insertion order.
#[derive(Default, Debug, Clone, PartialEq, Eq)]
pub(crate) struct Cart {
    pub lines: Vec<(u64, u64)>,
}

impl Cart {
    /// Adds `quantity` units of `product_id`, merging with an existing line.
    pub fn add(&mut self, product_id: u64, quantity: u64) {
        if let Some(line) = self.lines.iter_mut().find(|(id, _)| *id == product_id) {
            line.1 = line.1.saturating_add(quantity).min(MAX_LINE_QUANTITY);
        } else {
            self.lines
                .push((product_id, quantity.min(MAX_LINE_QUANTITY)));
        }
    }

    /// Total number of units in the cart.
    pub fn units(&self) -> u64 {
        self.lines.iter().map(|(_, q)| *q).sum()
    }
}

/// One shard of the session table: two generations, so old sessions age out in bulk without
/// any per-entry bookkeeping.
#[derive(Default)]
struct Shard {
    current: HashMap<u128, Cart>,
    previous: HashMap<u128, Cart>,
}

impl Shard {
    fn insert(&mut self, token: u128) {
        if self.current.len() >= SHARD_CAPACITY {
            self.previous = std::mem::take(&mut self.current);
        }
        self.current.insert(token, Cart::default());
    }

    fn get_mut(&mut self, token: u128) -> Option<&mut Cart> {
        if !self.current.contains_key(&token) {
            // Promote a session of the previous generation that is still in use.
            let cart = self.previous.remove(&token)?;
            if self.current.len() >= SHARD_CAPACITY {
                self.previous = std::mem::take(&mut self.current);
            }
            self.current.insert(token, cart);
        }
        self.current.get_mut(&token)
    }
}

/// Login sessions (bearer tokens / session cookies) and their carts.
pub(crate) struct Sessions {
    shards: Vec<Mutex<Shard>>,
}

impl Sessions {
    fn new() -> Sessions {
        Sessions {
            shards: (0..SESSION_SHARDS)
                .map(|_| Mutex::new(Shard::default()))
                .collect(),
        }
    }

    fn shard(&self, token: u128) -> MutexGuard<'_, Shard> {
        let shard = &self.shards[(token as usize) & (SESSION_SHARDS - 1)];
        // A panic while holding a shard lock cannot leave a cart half-updated in a way that
        // matters for a demo server, so a poisoned lock is simply reused.
        shard
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Creates a new session with an empty cart and returns its token.
    pub fn create(&self) -> u128 {
        let token: u128 = rand::random();
        self.shard(token).insert(token);
        token
    }

    /// Runs `f` on the cart of `token`; `None` if the token is unknown (or aged out).
    pub fn with_cart<R>(&self, token: u128, f: impl FnOnce(&mut Cart) -> R) -> Option<R> {
        let mut shard = self.shard(token);
        shard.get_mut(token).map(f)
    }

    /// Whether `token` belongs to a live session.
    pub fn contains(&self, token: u128) -> bool {
        self.with_cart(token, |_| ()).is_some()
    }
}

/// Renders a token as the 32 lowercase hex digits handed to clients.
pub(crate) fn format_token(token: u128) -> String {
    format!("{token:032x}")
}

/// Parses a token produced by [`format_token`]; `None` for anything else.
pub(crate) fn parse_token(text: &str) -> Option<u128> {
    if text.len() != 32 || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u128::from_str_radix(text, 16).ok()
}

/// Everything the request handlers share; one per server.
pub(crate) struct Shared {
    pub checkout_hold: Duration,
    pub counters: Counters,
    pub catalog: Catalog,
    pub sessions: Sessions,
    /// The global "inventory lock" every checkout holds for `checkout_hold`. Fair (FIFO), so
    /// latency grows linearly with the number of concurrent checkouts.
    pub inventory: tokio::sync::Mutex<()>,
    pub next_order_id: AtomicU64,
    pub next_report_id: AtomicU64,
    /// Pre-rendered bodies of the static JSON endpoints.
    pub users_json: Bytes,
    pub products_json: Bytes,
    pub export_json: Bytes,
    /// In-flight counters and clock of the `/_insight/` degradation patterns.
    pub patterns: crate::patterns::Patterns,
    /// The `/ws/chat` room.
    pub chat: crate::websocket::ChatRoom,
}

impl Shared {
    /// Builds fresh state for a server whose checkouts hold the inventory lock for
    /// `checkout_hold`.
    pub fn new(checkout_hold: Duration) -> Shared {
        let catalog = Catalog::new();
        let users: Vec<serde_json::Value> = (1..=20)
            .map(|id| {
                serde_json::json!({
                    "id": id,
                    "name": format!("User {id}"),
                    "email": format!("user{id}@example.com"),
                })
            })
            .collect();
        let users_json =
            Bytes::from(serde_json::json!({ "users": users, "total": users.len() }).to_string());
        let products_json = Bytes::from(render_product_page(&catalog, 1, 20));
        let records: Vec<serde_json::Value> = (1..=50)
            .map(|id| {
                serde_json::json!({
                    "id": id,
                    "sku": format!("SKU-{id:05}"),
                    "quantity": (id * 37) % 500,
                    "updated_at": format!("2026-03-{:02}T12:00:00Z", 1 + id % 28),
                })
            })
            .collect();
        let export_json = Bytes::from(
            serde_json::json!({ "format": "json", "count": records.len(), "records": records })
                .to_string(),
        );
        Shared {
            checkout_hold,
            counters: Counters::default(),
            catalog,
            sessions: Sessions::new(),
            inventory: tokio::sync::Mutex::new(()),
            next_order_id: AtomicU64::new(1),
            next_report_id: AtomicU64::new(1),
            users_json,
            products_json,
            export_json,
            patterns: crate::patterns::Patterns::new(),
            chat: crate::websocket::ChatRoom::new(),
        }
    }
}

/// Renders one page of the catalogue as JSON, splicing the pre-rendered product objects.
pub(crate) fn render_product_page(catalog: &Catalog, page: u64, limit: u64) -> Vec<u8> {
    let first = page
        .saturating_sub(1)
        .saturating_mul(limit)
        .saturating_add(1);
    let items = catalog.range(first, limit);
    let total = u64::from(PRODUCT_COUNT);
    let pages = total.div_ceil(limit.max(1));
    let mut out = Vec::with_capacity(96 + items.len() * 96);
    out.extend_from_slice(
        format!(
            "{{\"page\":{page},\"limit\":{limit},\"total\":{total},\"pages\":{pages},\"items\":["
        )
        .as_bytes(),
    );
    for (i, product) in items.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(&product.json);
    }
    out.extend_from_slice(b"]}");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalog_has_1000_products_with_stable_ids() {
        let catalog = Catalog::new();
        assert!(catalog.get(0).is_none());
        assert!(catalog.get(1001).is_none());
        let first: serde_json::Value =
            serde_json::from_slice(&catalog.get(1).unwrap().json).unwrap();
        assert_eq!(first["id"], 1);
        let last: serde_json::Value =
            serde_json::from_slice(&catalog.get(1000).unwrap().json).unwrap();
        assert_eq!(last["id"], 1000);
        assert!(last["price"].as_f64().unwrap() >= 1.99);
    }

    #[test]
    fn product_page_is_valid_json_and_clipped_at_the_end() {
        let catalog = Catalog::new();
        let page: serde_json::Value =
            serde_json::from_slice(&render_product_page(&catalog, 2, 20)).unwrap();
        assert_eq!(page["items"].as_array().unwrap().len(), 20);
        assert_eq!(page["items"][0]["id"], 21);
        assert_eq!(page["pages"], 50);
        let last: serde_json::Value =
            serde_json::from_slice(&render_product_page(&catalog, 34, 30)).unwrap();
        assert_eq!(last["items"].as_array().unwrap().len(), 10);
        let beyond: serde_json::Value =
            serde_json::from_slice(&render_product_page(&catalog, 99, 30)).unwrap();
        assert_eq!(beyond["items"].as_array().unwrap().len(), 0);
    }

    #[test]
    fn cents_render_with_two_decimals() {
        assert_eq!(cents_to_number(1229).to_string(), "12.29");
        assert_eq!(cents_to_number(199).to_string(), "1.99");
    }

    #[test]
    fn tokens_round_trip_and_reject_garbage() {
        let token = 0x0123_4567_89ab_cdef_0011_2233_4455_6677_u128;
        assert_eq!(parse_token(&format_token(token)), Some(token));
        assert_eq!(parse_token(&format_token(5)), Some(5));
        assert_eq!(parse_token("+123"), None);
        assert_eq!(parse_token(&"z".repeat(32)), None);
        assert_eq!(parse_token(""), None);
    }

    #[test]
    fn cart_merges_lines() {
        let mut cart = Cart::default();
        cart.add(3, 1);
        cart.add(5, 2);
        cart.add(3, 4);
        assert_eq!(cart.lines, vec![(3, 5), (5, 2)]);
        assert_eq!(cart.units(), 7);
    }

    #[test]
    fn sessions_survive_one_generation_and_stay_bounded() {
        let mut shard = Shard::default();
        shard.insert(1);
        shard.get_mut(1).unwrap().add(9, 1);
        for token in 2..=(SHARD_CAPACITY as u128) {
            shard.insert(token);
        }
        // Current is full: the next insert moves everything to the previous generation.
        shard.insert(u128::MAX);
        assert_eq!(shard.current.len(), 1);
        // Token 1 is promoted back, with its cart intact.
        assert_eq!(shard.get_mut(1).unwrap().lines, vec![(9, 1)]);
        assert!(shard.get_mut(u128::MAX - 1).is_none());
    }

    #[test]
    fn sessions_create_and_find() {
        let sessions = Sessions::new();
        let token = sessions.create();
        assert!(sessions.contains(token));
        assert!(!sessions.contains(token ^ 1));
        sessions.with_cart(token, |cart| cart.add(1, 2));
        assert_eq!(sessions.with_cart(token, |cart| cart.units()), Some(2));
    }
}
