//! Request routing and the handlers of every endpoint of the demo shop and of the `/_test/`
//! helpers used by end-to-end tests.
//!
//! Routing is a plain `match` on the path (no allocation, no locks): the path is first mapped to
//! a [`Route`], the method is checked against it (405 with `Allow` otherwise), then the handler
//! runs. Handlers that need no I/O answer synchronously; the rest are boxed futures.

use std::borrow::Cow;
use std::sync::atomic::Ordering;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderValue};
use http::{Method, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::Request;

use crate::pages;
use crate::server::{ConnControl, RawAction, Resp, RespFuture};
use crate::state::{self, Counters, Shared, MAX_LINE_QUANTITY};

/// Largest request body any handler reads; bigger bodies get 413.
pub(crate) const MAX_REQUEST_BODY: usize = 16 * 1024 * 1024;
/// Longest sleep `/_test/delay` performs, in milliseconds.
pub(crate) const MAX_DELAY_MS: u64 = 10_000;
/// Largest body `/_test/bytes` returns.
pub(crate) const MAX_BYTES: usize = 10 * 1024 * 1024;
/// Largest page size of `GET /api/products`.
pub(crate) const MAX_PAGE_LIMIT: u64 = 100;

const HTML: HeaderValue = HeaderValue::from_static("text/html; charset=utf-8");
const JSON: HeaderValue = HeaderValue::from_static("application/json");
const TEXT: HeaderValue = HeaderValue::from_static("text/plain; charset=utf-8");
const OCTETS: HeaderValue = HeaderValue::from_static("application/octet-stream");

/// Which methods a route accepts.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Allowed {
    Get,
    Post,
    GetPost,
    Any,
}

impl Allowed {
    fn permits(self, method: &Method) -> bool {
        let get = method == Method::GET || method == Method::HEAD;
        match self {
            Allowed::Get => get,
            Allowed::Post => method == Method::POST,
            Allowed::GetPost => get || method == Method::POST,
            Allowed::Any => true,
        }
    }

    fn header(self) -> &'static str {
        match self {
            Allowed::Get => "GET, HEAD",
            Allowed::Post => "POST",
            Allowed::GetPost => "GET, HEAD, POST",
            Allowed::Any => "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS",
        }
    }
}

/// Every endpoint, with the path parameters already extracted.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Route {
    Home,
    About,
    ProductsHtml,
    Hello,
    World,
    Item,
    Users,
    ProductsJson,
    Login,
    ApiLogin,
    ApiProducts,
    /// `None` when the id segment is not a number.
    ApiProduct(Option<u64>),
    Cart,
    CartItems,
    Orders,
    Export,
    AdminDashboard,
    AdminReports,
    MobileFeed,
    /// `None` when the code segment is not a number.
    TestStatus(Option<u16>),
    TestDelay,
    TestRedirect,
    TestBytes,
    TestEcho,
    TestReset,
    TestClose,
    TestGarbage,
    TestStats,
    /// `/_fault/<kind>`: see [`crate::faults`].
    Fault,
    NotFound,
}

impl Route {
    fn from_path(path: &str) -> Route {
        match path {
            "/" => Route::Home,
            "/about/" => Route::About,
            "/products/" => Route::ProductsHtml,
            "/hello" => Route::Hello,
            "/world" => Route::World,
            "/item" => Route::Item,
            "/users" => Route::Users,
            "/products" => Route::ProductsJson,
            "/login" => Route::Login,
            "/api/auth/login" => Route::ApiLogin,
            "/api/products" => Route::ApiProducts,
            "/api/cart" => Route::Cart,
            "/api/cart/items" => Route::CartItems,
            "/api/orders" => Route::Orders,
            "/api/v1/data/export" => Route::Export,
            "/admin/dashboard" => Route::AdminDashboard,
            "/admin/reports/generate" => Route::AdminReports,
            "/api/mobile/feed" => Route::MobileFeed,
            "/_test/delay" => Route::TestDelay,
            "/_test/redirect" => Route::TestRedirect,
            "/_test/bytes" => Route::TestBytes,
            "/_test/echo" => Route::TestEcho,
            "/_test/reset" => Route::TestReset,
            "/_test/close" => Route::TestClose,
            "/_test/garbage" => Route::TestGarbage,
            "/_test/stats" => Route::TestStats,
            _ => {
                if let Some(id) = path.strip_prefix("/api/products/") {
                    if id.is_empty() || id.contains('/') {
                        Route::NotFound
                    } else {
                        Route::ApiProduct(parse_decimal(id))
                    }
                } else if path.starts_with("/_fault/") {
                    Route::Fault
                } else if let Some(code) = path.strip_prefix("/_test/status/") {
                    Route::TestStatus(parse_decimal(code).and_then(|c| u16::try_from(c).ok()))
                } else {
                    Route::NotFound
                }
            }
        }
    }

    fn allowed(self) -> Allowed {
        match self {
            Route::ApiLogin | Route::CartItems | Route::Orders | Route::AdminReports => {
                Allowed::Post
            }
            Route::Login => Allowed::GetPost,
            Route::TestStatus(_)
            | Route::TestDelay
            | Route::TestRedirect
            | Route::TestEcho
            | Route::TestReset
            | Route::TestClose
            | Route::TestGarbage
            | Route::Fault
            | Route::NotFound => Allowed::Any,
            _ => Allowed::Get,
        }
    }
}

/// Parses a plain decimal number (digits only, no sign, no whitespace).
fn parse_decimal(text: &str) -> Option<u64> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// Routes one request to its handler.
pub(crate) fn dispatch(
    shared: &Arc<Shared>,
    control: &ConnControl,
    req: Request<Incoming>,
) -> RespFuture {
    if let Some(fut) = crate::patterns::route(&shared.patterns, req.uri().path(), req.uri().query())
    {
        return RespFuture::Boxed(fut);
    }
    let route = Route::from_path(req.uri().path());
    let allowed = route.allowed();
    if !allowed.permits(req.method()) {
        return ready(Ok(method_not_allowed(req.method(), allowed)));
    }
    match route {
        Route::Home => ready(Ok(html(pages::HOME))),
        Route::About => ready(Ok(html(pages::ABOUT))),
        Route::ProductsHtml => ready(Ok(html(pages::PRODUCTS))),
        Route::AdminDashboard => ready(Ok(html(pages::ADMIN_DASHBOARD))),
        Route::Hello => ready(Ok(text("Hello"))),
        Route::World => ready(Ok(text("World"))),
        Route::Item => ready(item(req.uri().query())),
        Route::Users => ready(Ok(json_bytes(StatusCode::OK, shared.users_json.clone()))),
        Route::ProductsJson => ready(Ok(json_bytes(StatusCode::OK, shared.products_json.clone()))),
        Route::ApiProducts => ready(product_page(shared, req.uri().query())),
        Route::ApiProduct(id) => ready(product(shared, id)),
        Route::Export => ready(export(shared, req.headers())),
        Route::MobileFeed => ready(mobile_feed(req.uri().query())),
        Route::Cart => ready(show_cart(shared, req.headers())),
        Route::TestStatus(code) => ready(status(code)),
        Route::TestRedirect => ready(redirect(req.uri().query())),
        Route::TestBytes => ready(bytes(req.uri().query())),
        Route::TestStats => ready(Ok(json_value(StatusCode::OK, &shared.counters.to_json()))),
        Route::NotFound => ready(Ok(not_found(req.uri().path()))),
        Route::Login if req.method() != Method::POST => ready(Ok(html(pages::LOGIN_FORM))),
        Route::Login => boxed(form_login(Arc::clone(shared), req)),
        Route::ApiLogin => boxed(api_login(Arc::clone(shared), req)),
        Route::CartItems => boxed(add_to_cart(Arc::clone(shared), req)),
        Route::Orders => boxed(create_order(Arc::clone(shared), req)),
        Route::AdminReports => boxed(generate_report(Arc::clone(shared), req)),
        Route::TestDelay => match delay_param(req.uri().query()) {
            Ok(ms) => boxed(async move {
                tokio::time::sleep(Duration::from_millis(ms)).await;
                Ok(json_value(
                    StatusCode::OK,
                    &serde_json::json!({ "delayed_ms": ms }),
                ))
            }),
            Err(reject) => ready(Err(reject)),
        },
        Route::TestEcho => boxed(echo(req)),
        Route::TestReset => raw(control, RawAction::Reset),
        Route::TestClose => raw(control, RawAction::Close),
        Route::TestGarbage => raw(control, RawAction::Garbage),
        Route::Fault => match crate::faults::handle(shared, req.uri().path(), req.uri().query()) {
            Some(crate::faults::Action::Respond(resp)) => ready(Ok(resp)),
            Some(crate::faults::Action::Raw(action)) => raw(control, action),
            None => ready(Ok(not_found(req.uri().path()))),
        },
    }
}

fn ready(handled: Handled) -> RespFuture {
    RespFuture::Ready(Some(finish(handled)))
}

fn boxed(fut: impl std::future::Future<Output = Handled> + Send + 'static) -> RespFuture {
    RespFuture::Boxed(Box::pin(async move { finish(fut.await) }))
}

fn raw(control: &ConnControl, action: RawAction) -> RespFuture {
    control.request(action);
    RespFuture::Never
}

// ----- response builders -----

fn respond(status: StatusCode, content_type: HeaderValue, body: Bytes) -> Resp {
    let mut resp = Resp::new(Full::new(body));
    *resp.status_mut() = status;
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, content_type);
    resp
}

fn html(page: &'static str) -> Resp {
    respond(StatusCode::OK, HTML, Bytes::from_static(page.as_bytes()))
}

fn text(body: &'static str) -> Resp {
    respond(StatusCode::OK, TEXT, Bytes::from_static(body.as_bytes()))
}

fn json_bytes(status: StatusCode, body: Bytes) -> Resp {
    respond(status, JSON, body)
}

fn json_value(status: StatusCode, value: &serde_json::Value) -> Resp {
    json_bytes(status, Bytes::from(value.to_string()))
}

/// A refused request, carrying its JSON error response. Boxed because the error path is rare
/// and small `Result`s keep the happy path cheap.
pub(crate) struct Reject(Box<Resp>);

/// What every handler returns: a response, or a refusal that is also sent as a response.
type Handled = Result<Resp, Reject>;

fn finish(handled: Handled) -> Resp {
    handled.unwrap_or_else(|reject| *reject.0)
}

/// A refusal with the JSON error document `{"error": message}`.
fn error(status: StatusCode, message: &str) -> Reject {
    Reject(Box::new(json_value(
        status,
        &serde_json::json!({ "error": message }),
    )))
}

fn not_found(path: &str) -> Resp {
    json_value(
        StatusCode::NOT_FOUND,
        &serde_json::json!({ "error": "not found", "path": path }),
    )
}

fn method_not_allowed(method: &Method, allowed: Allowed) -> Resp {
    let mut resp = json_value(
        StatusCode::METHOD_NOT_ALLOWED,
        &serde_json::json!({
            "error": format!("method {method} not allowed"),
            "allowed": allowed.header(),
        }),
    );
    resp.headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static(allowed.header()));
    resp
}

fn unauthorized(message: &str) -> Reject {
    let mut reject = error(StatusCode::UNAUTHORIZED, message);
    reject
        .0
        .headers_mut()
        .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    reject
}

// ----- request helpers -----

/// The first value of query parameter `name`, percent-decoded.
fn query_param<'a>(query: Option<&'a str>, name: &str) -> Option<Cow<'a, str>> {
    url::form_urlencoded::parse(query?.as_bytes())
        .find(|(key, _)| key == name)
        .map(|(_, value)| value)
}

/// A numeric query parameter: `default` when absent, 400 when not a number in `min..=max`.
fn numeric_param(
    query: Option<&str>,
    name: &str,
    default: Option<u64>,
    min: u64,
    max: u64,
) -> Result<u64, Reject> {
    let bad = || {
        error(
            StatusCode::BAD_REQUEST,
            &format!("query parameter '{name}' must be an integer between {min} and {max}"),
        )
    };
    match query_param(query, name) {
        None => default.ok_or_else(|| {
            error(
                StatusCode::BAD_REQUEST,
                &format!("missing query parameter '{name}'"),
            )
        }),
        Some(value) => match parse_decimal(&value) {
            Some(n) if (min..=max).contains(&n) => Ok(n),
            _ => Err(bad()),
        },
    }
}

/// Reads the whole request body, refusing more than [`MAX_REQUEST_BODY`] bytes.
async fn read_body(body: Incoming) -> Result<Bytes, Reject> {
    match Limited::new(body, MAX_REQUEST_BODY).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(err) => {
            if err.is::<http_body_util::LengthLimitError>() {
                Err(error(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "request body larger than 16 MiB",
                ))
            } else {
                Err(error(
                    StatusCode::BAD_REQUEST,
                    &format!("could not read request body: {err}"),
                ))
            }
        }
    }
}

/// Parses a body that must be a JSON object.
fn json_object(body: &[u8]) -> Result<serde_json::Map<String, serde_json::Value>, Reject> {
    match serde_json::from_slice::<serde_json::Value>(body) {
        Ok(serde_json::Value::Object(map)) => Ok(map),
        Ok(_) => Err(error(
            StatusCode::BAD_REQUEST,
            "request body must be a JSON object",
        )),
        Err(err) => Err(error(
            StatusCode::BAD_REQUEST,
            &format!("request body is not valid JSON: {err}"),
        )),
    }
}

/// A required, non-empty string field of a JSON object.
fn string_field<'a>(
    object: &'a serde_json::Map<String, serde_json::Value>,
    name: &str,
) -> Result<&'a str, Reject> {
    match object.get(name) {
        Some(serde_json::Value::String(s)) if !s.is_empty() => Ok(s),
        Some(_) => Err(error(
            StatusCode::BAD_REQUEST,
            &format!("field '{name}' must be a non-empty string"),
        )),
        None => Err(error(
            StatusCode::BAD_REQUEST,
            &format!("missing field '{name}'"),
        )),
    }
}

/// The session token of a request: `Authorization: Bearer <token>` or the `session` cookie
/// set by `POST /login`. Err carries the 401 response.
fn authenticate(shared: &Shared, headers: &HeaderMap) -> Result<u128, Reject> {
    let presented = bearer_token(headers).or_else(|| session_cookie(headers));
    let Some(presented) = presented else {
        return Err(unauthorized(
            "missing credentials: send 'Authorization: Bearer <token>' from POST /api/auth/login",
        ));
    };
    match state::parse_token(presented) {
        Some(token) if shared.sessions.contains(token) => Ok(token),
        _ => Err(unauthorized(EXPIRED)),
    }
}

fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?.trim();
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

fn session_cookie(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == "session")
        .map(|(_, value)| value.trim())
}

// ----- shop handlers -----

const EXPIRED: &str = "unknown or expired token: log in again with POST /api/auth/login";

fn item(query: Option<&str>) -> Handled {
    let id = numeric_param(query, "id", Some(0), 0, u64::from(u32::MAX))?;
    Ok(json_value(
        StatusCode::OK,
        &serde_json::json!({ "id": id, "name": format!("Item {id}") }),
    ))
}

fn product_page(shared: &Shared, query: Option<&str>) -> Handled {
    let page = numeric_param(query, "page", Some(1), 1, u64::from(u32::MAX))?;
    let limit = numeric_param(query, "limit", Some(20), 1, MAX_PAGE_LIMIT)?;
    Ok(json_bytes(
        StatusCode::OK,
        Bytes::from(state::render_product_page(&shared.catalog, page, limit)),
    ))
}

fn product(shared: &Shared, id: Option<u64>) -> Handled {
    let product = id
        .and_then(|id| shared.catalog.get(id))
        .ok_or_else(|| error(StatusCode::NOT_FOUND, "product not found"))?;
    Ok(json_bytes(StatusCode::OK, product.json.clone()))
}

fn export(shared: &Shared, headers: &HeaderMap) -> Handled {
    let has_key = headers
        .get("x-api-key")
        .is_some_and(|v| !v.as_bytes().iter().all(u8::is_ascii_whitespace));
    if !has_key {
        let mut reject = error(
            StatusCode::UNAUTHORIZED,
            "missing X-API-Key header (any non-empty key is accepted)",
        );
        reject
            .0
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("ApiKey"));
        return Err(reject);
    }
    Ok(json_bytes(StatusCode::OK, shared.export_json.clone()))
}

/// Whether `since` looks like an ISO-8601 date (`YYYY-MM-DD`, optionally followed by a time).
fn is_iso_date(since: &str) -> bool {
    let b = since.as_bytes();
    b.len() >= 10
        && b[..4].iter().all(u8::is_ascii_digit)
        && b[4] == b'-'
        && b[5..7].iter().all(u8::is_ascii_digit)
        && b[7] == b'-'
        && b[8..10].iter().all(u8::is_ascii_digit)
        && (b.len() == 10 || b[10] == b'T' || b[10] == b' ')
}

fn mobile_feed(query: Option<&str>) -> Handled {
    let since = query_param(query, "since");
    if since.as_deref().is_some_and(|s| !is_iso_date(s)) {
        return Err(error(
            StatusCode::BAD_REQUEST,
            "query parameter 'since' must be a date like 2026-03-01",
        ));
    }
    let items: Vec<serde_json::Value> = (1..=10)
        .map(|i| {
            serde_json::json!({
                "id": i,
                "type": if i % 3 == 0 { "promo" } else { "product" },
                "product_id": (i * 97) % 1000 + 1,
            })
        })
        .collect();
    Ok(json_value(
        StatusCode::OK,
        &serde_json::json!({ "since": since, "items": items, "next_cursor": null }),
    ))
}

fn show_cart(shared: &Shared, headers: &HeaderMap) -> Handled {
    let token = authenticate(shared, headers)?;
    let cart = shared
        .sessions
        .with_cart(token, |cart| cart.clone())
        .ok_or_else(|| unauthorized(EXPIRED))?;
    let (items, total_cents) = cart_lines(shared, &cart);
    Ok(json_value(
        StatusCode::OK,
        &serde_json::json!({
            "items": items,
            "units": cart.units(),
            "total": state::cents_to_number(total_cents),
        }),
    ))
}

fn cart_lines(shared: &Shared, cart: &state::Cart) -> (Vec<serde_json::Value>, u64) {
    let mut total_cents = 0u64;
    let items = cart
        .lines
        .iter()
        .map(|&(product_id, quantity)| {
            let price = shared.catalog.get(product_id).map_or(0, |p| p.price_cents);
            total_cents = total_cents.saturating_add(price.saturating_mul(quantity));
            serde_json::json!({ "product_id": product_id, "quantity": quantity })
        })
        .collect();
    (items, total_cents)
}

/// `POST /api/auth/login`: any non-empty email and password get a fresh bearer token.
async fn api_login(shared: Arc<Shared>, req: Request<Incoming>) -> Handled {
    let body = read_body(req.into_body()).await?;
    let object = json_object(&body)?;
    let email = string_field(&object, "email")?;
    string_field(&object, "password")?;
    let token = shared.sessions.create();
    Counters::bump(&shared.counters.logins);
    Ok(json_value(
        StatusCode::OK,
        &serde_json::json!({
            "token": state::format_token(token),
            "token_type": "Bearer",
            "email": email,
        }),
    ))
}

/// `POST /login` as used by old Locust examples: form-encoded or JSON, any credentials.
async fn form_login(shared: Arc<Shared>, req: Request<Incoming>) -> Handled {
    let is_json = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().contains("json"));
    let body = read_body(req.into_body()).await?;
    let username = if is_json {
        let object = json_object(&body)?;
        ["username", "email"]
            .iter()
            .find_map(|k| object.get(*k).and_then(|v| v.as_str()).map(str::to_owned))
    } else {
        url::form_urlencoded::parse(&body)
            .find(|(k, _)| k == "username" || k == "email")
            .map(|(_, v)| v.into_owned())
    };
    let username = username
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| "anonymous".to_owned());
    let token = state::format_token(shared.sessions.create());
    Counters::bump(&shared.counters.logins);
    // The token is hex, so the cookie is always a valid header value.
    let cookie = HeaderValue::from_str(&format!("session={token}; Path=/; HttpOnly; SameSite=Lax"))
        .map_err(|_| error(StatusCode::INTERNAL_SERVER_ERROR, "could not build cookie"))?;
    let mut resp = json_value(
        StatusCode::OK,
        &serde_json::json!({ "token": token, "username": username }),
    );
    resp.headers_mut().insert(header::SET_COOKIE, cookie);
    Ok(resp)
}

/// `POST /api/cart/items`: adds a product to the cart of the caller's session.
async fn add_to_cart(shared: Arc<Shared>, req: Request<Incoming>) -> Handled {
    let (parts, body) = req.into_parts();
    let body = read_body(body).await?;
    let token = authenticate(&shared, &parts.headers)?;
    let object = json_object(&body)?;
    let product_id = object
        .get("product_id")
        .and_then(serde_json::Value::as_u64)
        .ok_or_else(|| {
            error(
                StatusCode::BAD_REQUEST,
                "field 'product_id' must be a non-negative integer",
            )
        })?;
    let quantity = match object.get("quantity") {
        None => 1,
        Some(q) => q
            .as_u64()
            .filter(|q| (1..=MAX_LINE_QUANTITY).contains(q))
            .ok_or_else(|| {
                error(
                    StatusCode::BAD_REQUEST,
                    "field 'quantity' must be an integer between 1 and 1000000",
                )
            })?,
    };
    if shared.catalog.get(product_id).is_none() {
        return Err(error(StatusCode::NOT_FOUND, "product not found"));
    }
    let (lines, units) = shared
        .sessions
        .with_cart(token, |cart| {
            cart.add(product_id, quantity);
            (cart.lines.len(), cart.units())
        })
        .ok_or_else(|| unauthorized(EXPIRED))?;
    Counters::bump(&shared.counters.cart_adds);
    Ok(json_value(
        StatusCode::CREATED,
        &serde_json::json!({
            "product_id": product_id,
            "quantity": quantity,
            "cart_lines": lines,
            "cart_units": units,
        }),
    ))
}

/// Keeps `checkouts_in_flight` right even when the client goes away mid-checkout.
struct InFlight<'a>(&'a Counters);

impl<'a> InFlight<'a> {
    fn enter(counters: &'a Counters) -> InFlight<'a> {
        let now = counters.checkouts_in_flight.fetch_add(1, Ordering::Relaxed) + 1;
        counters
            .checkouts_max_in_flight
            .fetch_max(now, Ordering::Relaxed);
        InFlight(counters)
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.checkouts_in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

/// `POST /api/orders`: the deliberate bottleneck. Every authenticated, well-formed checkout
/// (even one that finds its cart empty) holds the global inventory lock for `checkout_hold`,
/// so N concurrent checkouts take about N × hold.
async fn create_order(shared: Arc<Shared>, req: Request<Incoming>) -> Handled {
    let (parts, body) = req.into_parts();
    let body = read_body(body).await?;
    let token = authenticate(&shared, &parts.headers)?;
    let object = json_object(&body)?;
    let payment_method = string_field(&object, "payment_method")?.to_owned();

    let in_flight = InFlight::enter(&shared.counters);
    let cart = {
        let _inventory = shared.inventory.lock().await;
        if !shared.checkout_hold.is_zero() {
            tokio::time::sleep(shared.checkout_hold).await;
        }
        shared.sessions.with_cart(token, std::mem::take)
    };
    drop(in_flight);

    let cart = cart.ok_or_else(|| unauthorized(EXPIRED))?;
    if cart.lines.is_empty() {
        return Err(error(StatusCode::CONFLICT, "cart is empty"));
    }
    let order_id = shared.next_order_id.fetch_add(1, Ordering::Relaxed);
    Counters::bump(&shared.counters.orders_created);
    let (items, total_cents) = cart_lines(&shared, &cart);
    Ok(json_value(
        StatusCode::CREATED,
        &serde_json::json!({
            "order_id": order_id,
            "status": "created",
            "payment_method": payment_method,
            "items": items,
            "units": cart.units(),
            "total": state::cents_to_number(total_cents),
        }),
    ))
}

/// `POST /admin/reports/generate`: accepts any JSON object and "queues" a report.
async fn generate_report(shared: Arc<Shared>, req: Request<Incoming>) -> Handled {
    let body = read_body(req.into_body()).await?;
    let object = json_object(&body)?;
    let field = |name: &str, default: &str| {
        object
            .get(name)
            .and_then(|v| v.as_str())
            .unwrap_or(default)
            .to_owned()
    };
    let report_id = shared.next_report_id.fetch_add(1, Ordering::Relaxed);
    Ok(json_value(
        StatusCode::ACCEPTED,
        &serde_json::json!({
            "report_id": report_id,
            "status": "queued",
            "type": field("type", "default"),
            "format": field("format", "json"),
        }),
    ))
}

// ----- /_test/ helpers -----

fn status(code: Option<u16>) -> Handled {
    let status = code
        .filter(|c| (200..=599).contains(c))
        .and_then(|c| StatusCode::from_u16(c).ok())
        .ok_or_else(|| {
            error(
                StatusCode::BAD_REQUEST,
                "use /_test/status/{code} with a code between 200 and 599",
            )
        })?;
    if status == StatusCode::NO_CONTENT
        || status == StatusCode::RESET_CONTENT
        || status == StatusCode::NOT_MODIFIED
    {
        let mut resp = Resp::new(Full::new(Bytes::new()));
        *resp.status_mut() = status;
        return Ok(resp);
    }
    Ok(json_value(
        status,
        &serde_json::json!({ "status": status.as_u16() }),
    ))
}

fn delay_param(query: Option<&str>) -> Result<u64, Reject> {
    // Larger values are capped rather than refused, so "sleep long" tests stay bounded.
    numeric_param(query, "ms", None, 0, u64::MAX).map(|ms| ms.min(MAX_DELAY_MS))
}

fn redirect(query: Option<&str>) -> Handled {
    let to = query_param(query, "to").ok_or_else(|| {
        error(
            StatusCode::BAD_REQUEST,
            "missing query parameter 'to' (a path such as /about/)",
        )
    })?;
    if !to.starts_with('/') || to.starts_with("//") {
        return Err(error(
            StatusCode::BAD_REQUEST,
            "'to' must be a path on this server starting with a single '/'",
        ));
    }
    let status = match numeric_param(query, "code", Some(302), 300, 308)? {
        301 => StatusCode::MOVED_PERMANENTLY,
        302 => StatusCode::FOUND,
        303 => StatusCode::SEE_OTHER,
        307 => StatusCode::TEMPORARY_REDIRECT,
        308 => StatusCode::PERMANENT_REDIRECT,
        _ => {
            return Err(error(
                StatusCode::BAD_REQUEST,
                "'code' must be one of 301, 302, 303, 307, 308",
            ))
        }
    };
    let location = HeaderValue::from_str(&to).map_err(|_| {
        error(
            StatusCode::BAD_REQUEST,
            "'to' contains characters not allowed in a header",
        )
    })?;
    let mut resp = json_value(status, &serde_json::json!({ "location": to }));
    resp.headers_mut().insert(header::LOCATION, location);
    Ok(resp)
}

/// The shared payload `/_test/bytes` slices from: `MAX_BYTES` of a repeating `a..z` pattern,
/// built on first use.
fn blob() -> &'static Bytes {
    static BLOB: OnceLock<Bytes> = OnceLock::new();
    BLOB.get_or_init(|| {
        Bytes::from(
            (0..MAX_BYTES)
                .map(|i| b'a' + (i % 26) as u8)
                .collect::<Vec<u8>>(),
        )
    })
}

/// The first `n` bytes (at most [`MAX_BYTES`]) of the shared `a..z` payload.
pub(crate) fn blob_slice(n: usize) -> Bytes {
    blob().slice(..n.min(MAX_BYTES))
}

fn bytes(query: Option<&str>) -> Handled {
    let n = numeric_param(query, "n", None, 0, u64::MAX)?;
    let n = usize::try_from(n).unwrap_or(MAX_BYTES).min(MAX_BYTES);
    Ok(respond(StatusCode::OK, OCTETS, blob().slice(..n)))
}

async fn echo(req: Request<Incoming>) -> Handled {
    let (parts, body) = req.into_parts();
    let body = read_body(body).await?;
    let mut headers = serde_json::Map::new();
    for name in parts.headers.keys() {
        let separator = if name == header::COOKIE { "; " } else { ", " };
        let joined = parts
            .headers
            .get_all(name)
            .iter()
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
            .collect::<Vec<_>>()
            .join(separator);
        headers.insert(name.as_str().to_owned(), serde_json::Value::String(joined));
    }
    let query = parts.uri.query().unwrap_or("");
    let mut args = serde_json::Map::new();
    for (key, value) in url::form_urlencoded::parse(query.as_bytes()) {
        args.entry(key.into_owned())
            .or_insert(serde_json::Value::String(value.into_owned()));
    }
    Ok(json_value(
        StatusCode::OK,
        &serde_json::json!({
            "method": parts.method.as_str(),
            "http_version": format!("{:?}", parts.version),
            "path": parts.uri.path(),
            "query": query,
            "args": args,
            "headers": headers,
            "body": String::from_utf8_lossy(&body),
            "body_length": body.len(),
        }),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_map_paths_and_parameters() {
        assert_eq!(Route::from_path("/"), Route::Home);
        assert_eq!(Route::from_path("/products/"), Route::ProductsHtml);
        assert_eq!(Route::from_path("/products"), Route::ProductsJson);
        assert_eq!(
            Route::from_path("/api/products/42"),
            Route::ApiProduct(Some(42))
        );
        assert_eq!(
            Route::from_path("/api/products/x1"),
            Route::ApiProduct(None)
        );
        assert_eq!(Route::from_path("/api/products/"), Route::NotFound);
        assert_eq!(Route::from_path("/api/products/1/2"), Route::NotFound);
        assert_eq!(
            Route::from_path("/_test/status/503"),
            Route::TestStatus(Some(503))
        );
        assert_eq!(
            Route::from_path("/_test/status/99999"),
            Route::TestStatus(None)
        );
        assert_eq!(Route::from_path("/nope"), Route::NotFound);
    }

    #[test]
    fn methods_are_checked_per_route() {
        assert!(Route::Home.allowed().permits(&Method::HEAD));
        assert!(!Route::Home.allowed().permits(&Method::POST));
        assert!(!Route::Orders.allowed().permits(&Method::GET));
        assert!(Route::TestEcho.allowed().permits(&Method::DELETE));
        assert_eq!(Route::Orders.allowed().header(), "POST");
    }

    #[test]
    fn decimal_parsing_is_strict() {
        assert_eq!(parse_decimal("17"), Some(17));
        assert_eq!(parse_decimal("+17"), None);
        assert_eq!(parse_decimal(" 1"), None);
        assert_eq!(parse_decimal(""), None);
        assert_eq!(parse_decimal("99999999999999999999999"), None);
    }

    #[test]
    fn numeric_params_default_validate_and_decode() {
        assert_eq!(numeric_param(None, "page", Some(1), 1, 10).ok(), Some(1));
        assert_eq!(
            numeric_param(Some("page=3"), "page", Some(1), 1, 10).ok(),
            Some(3)
        );
        assert_eq!(
            numeric_param(Some("page=%33"), "page", Some(1), 1, 10).ok(),
            Some(3)
        );
        let err = numeric_param(Some("page=0"), "page", Some(1), 1, 10).unwrap_err();
        assert_eq!(err.0.status(), StatusCode::BAD_REQUEST);
        let err = numeric_param(Some("page="), "page", Some(1), 1, 10).unwrap_err();
        assert_eq!(err.0.status(), StatusCode::BAD_REQUEST);
        let err = numeric_param(Some("x=1"), "ms", None, 0, 10).unwrap_err();
        assert_eq!(err.0.status(), StatusCode::BAD_REQUEST);
    }

    #[test]
    fn bearer_and_cookie_tokens_are_found() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("bearer  abc "),
        );
        assert_eq!(bearer_token(&headers), Some("abc"));
        headers.insert(header::AUTHORIZATION, HeaderValue::from_static("Basic abc"));
        assert_eq!(bearer_token(&headers), None);
        headers.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; session=xyz; b=2"),
        );
        assert_eq!(session_cookie(&headers), Some("xyz"));
    }

    #[test]
    fn iso_dates_are_recognised() {
        assert!(is_iso_date("2026-03-01"));
        assert!(is_iso_date("2026-03-01T10:00:00Z"));
        assert!(!is_iso_date("yesterday"));
        assert!(!is_iso_date("2026-3-1"));
        assert!(!is_iso_date("2026-03-01x"));
    }

    #[test]
    fn status_helper_refuses_informational_codes_and_empties_204() {
        assert_eq!(finish(status(Some(100))).status(), StatusCode::BAD_REQUEST);
        assert_eq!(finish(status(None)).status(), StatusCode::BAD_REQUEST);
        assert_eq!(
            finish(status(Some(503))).status(),
            StatusCode::SERVICE_UNAVAILABLE
        );
        assert_eq!(finish(status(Some(599))).status().as_u16(), 599);
        assert_eq!(finish(status(Some(204))).status(), StatusCode::NO_CONTENT);
    }

    #[test]
    fn blob_is_patterned() {
        let blob = blob();
        assert_eq!(blob.len(), MAX_BYTES);
        assert_eq!(&blob[..3], b"abc");
        assert_eq!(blob[26], b'a');
    }
}
