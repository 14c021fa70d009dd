//! Requests for paths the UI does not serve, handed to someone who may: a Python locustfile's
//! Flask app (`environment.web_ui.app`), as Locust lets `init` listeners add pages and API
//! routes to its web UI.
//!
//! The server stays ignorant of Python: it packs each such request into a [`ForwardedRequest`],
//! gives it to a [`Forwarder`], and waits for the answer on a one-shot channel. Authentication,
//! the base path and TLS apply as for every other route (the fallback is merged into the same
//! router), so a locustfile's routes are protected like the UI's own. The path forwarded is the
//! full one, base path included, as Locust's Flask app sees it.
//!
//! With `--web-login` the same channel asks the locustfile's login manager (Flask-Login) about
//! each request for the UI's own routes ([`require_login`]): its answer either lets the request
//! through or is sent back as it is (Flask-Login's redirect to the login page).

use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{OriginalUri, Request};
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Router;
use tokio::sync::oneshot;

/// How long a forwarded request may take before the client gets 504.
pub const FORWARD_TIMEOUT: Duration = Duration::from_secs(60);

/// The largest request body forwarded (larger ones get 413).
pub const MAX_FORWARDED_BODY: usize = 16 * 1024 * 1024;

/// One request for a path the UI does not serve.
#[derive(Debug)]
pub struct ForwardedRequest {
    /// `GET`, `POST`, ...
    pub method: String,
    /// The path below the UI's base path, percent-encoded as received.
    pub path: String,
    /// The query string without `?` (empty when none).
    pub query: String,
    /// Header names (lowercase) and values, in the order received.
    pub headers: Vec<(String, Vec<u8>)>,
    /// The request body.
    pub body: Bytes,
    /// True when only asked whether the request may see the UI (`--web-login`): answer 2xx to
    /// let it through, anything else is what the client gets instead.
    pub auth_check: bool,
    reply: oneshot::Sender<ForwardedResponse>,
}

impl ForwardedRequest {
    /// Answers the request. Returns false when the client is gone or timed out.
    pub fn respond(self, response: ForwardedResponse) -> bool {
        self.reply.send(response).is_ok()
    }
}

/// The answer to a [`ForwardedRequest`].
#[derive(Debug, Clone, PartialEq)]
pub struct ForwardedResponse {
    /// The HTTP status code.
    pub status: u16,
    /// Header names and values.
    pub headers: Vec<(String, String)>,
    /// The response body.
    pub body: Vec<u8>,
}

/// Whoever answers requests for unknown paths.
pub trait Forwarder: Send + Sync {
    /// Takes a request; answer it (from any thread) with [`ForwardedRequest::respond`].
    /// Dropping it unanswered gives the client 502.
    fn forward(&self, request: ForwardedRequest);
}

/// A router whose fallback forwards every request it gets to `forwarder`. Merge it last into
/// the UI's routes: the UI's own paths win.
pub fn forward_routes(forwarder: Arc<dyn Forwarder>) -> Router {
    Router::new().fallback(move |req: Request| {
        let forwarder = Arc::clone(&forwarder);
        async move { forward(forwarder.as_ref(), req).await }
    })
}

async fn forward(forwarder: &dyn Forwarder, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let uri = full_uri(&parts);
    let body = match axum::body::to_bytes(body, MAX_FORWARDED_BODY).await {
        Ok(b) => b,
        Err(_) => {
            return plain(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("request bodies above {MAX_FORWARDED_BODY} bytes are not forwarded to the locustfile's web routes"),
            )
        }
    };
    match ask(forwarder, &parts, &uri, body, false).await {
        Ok(answer) => into_response(answer),
        Err(response) => response,
    }
}

/// The URI as the client sent it (a router nested under the base path sees it shortened).
fn full_uri(parts: &axum::http::request::Parts) -> axum::http::Uri {
    parts
        .extensions
        .get::<OriginalUri>()
        .map_or_else(|| parts.uri.clone(), |o| o.0.clone())
}

/// Hands a request over and waits for the answer; the error is the response the client gets.
async fn ask(
    forwarder: &dyn Forwarder,
    parts: &axum::http::request::Parts,
    uri: &axum::http::Uri,
    body: Bytes,
    auth_check: bool,
) -> Result<ForwardedResponse, Response> {
    let (reply, answer) = oneshot::channel();
    forwarder.forward(ForwardedRequest {
        method: parts.method.as_str().to_owned(),
        path: uri.path().to_owned(),
        query: uri.query().unwrap_or("").to_owned(),
        headers: parts
            .headers
            .iter()
            .map(|(k, v)| (k.as_str().to_owned(), v.as_bytes().to_vec()))
            .collect(),
        body,
        auth_check,
        reply,
    });
    match tokio::time::timeout(FORWARD_TIMEOUT, answer).await {
        Ok(Ok(answer)) => Ok(answer),
        Ok(Err(_)) => Err(plain(
            StatusCode::BAD_GATEWAY,
            "the locustfile's web route gave no answer (see the log)".to_owned(),
        )),
        Err(_) => Err(plain(
            StatusCode::GATEWAY_TIMEOUT,
            format!(
                "the locustfile's web route did not answer within {} s",
                FORWARD_TIMEOUT.as_secs()
            ),
        )),
    }
}

/// `--web-login`: `routes` answer only requests the locustfile's login manager accepts (the
/// page's assets and `/metrics` stay open, as Locust's assets do); the others get its answer,
/// Flask-Login's redirect to the login page.
pub fn require_login(routes: Router, forwarder: Arc<dyn Forwarder>) -> Router {
    routes.layer(axum::middleware::from_fn(
        move |req: Request, next: Next| {
            let forwarder = Arc::clone(&forwarder);
            async move {
                let path = req.uri().path();
                if path.starts_with("/assets/") || path == "/metrics" {
                    return next.run(req).await;
                }
                let (parts, body) = req.into_parts();
                let uri = full_uri(&parts);
                match ask(forwarder.as_ref(), &parts, &uri, Bytes::new(), true).await {
                    Ok(answer) if (200..300).contains(&answer.status) => {
                        next.run(Request::from_parts(parts, body)).await
                    }
                    Ok(answer) => into_response(answer),
                    Err(response) => response,
                }
            }
        },
    ))
}

fn into_response(answer: ForwardedResponse) -> Response {
    let status = match StatusCode::from_u16(answer.status) {
        Ok(s) => s,
        Err(_) => {
            return plain(
                StatusCode::BAD_GATEWAY,
                format!(
                    "the locustfile's web route answered with an invalid status {}",
                    answer.status
                ),
            )
        }
    };
    let mut response = Response::new(Body::from(answer.body));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    for (name, value) in answer.headers {
        match (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(&value),
        ) {
            (Ok(n), Ok(v)) => {
                headers.append(n, v);
            }
            _ => log::warn!("dropping an invalid header from the locustfile's web route: {name:?}"),
        }
    }
    response
}

fn plain(status: StatusCode, message: String) -> Response {
    (status, message).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Answers every request with its method, path, query and body.
    struct Echo;

    impl Forwarder for Echo {
        fn forward(&self, request: ForwardedRequest) {
            let body = format!(
                "{} {} {} {}",
                request.method,
                request.path,
                request.query,
                String::from_utf8_lossy(&request.body)
            );
            request.respond(ForwardedResponse {
                status: 201,
                headers: vec![("x-from".into(), "echo".into())],
                body: body.into_bytes(),
            });
        }
    }

    async fn call(app: Router, req: Request) -> (StatusCode, Option<String>, String) {
        use tower::ServiceExt;
        let resp = app.oneshot(req).await.unwrap();
        let status = resp.status();
        let from = resp
            .headers()
            .get("x-from")
            .map(|v| v.to_str().unwrap().to_owned());
        let body = axum::body::to_bytes(resp.into_body(), 1 << 20)
            .await
            .unwrap();
        (status, from, String::from_utf8(body.to_vec()).unwrap())
    }

    #[tokio::test]
    async fn unknown_paths_are_forwarded_and_known_ones_are_not() {
        let app = Router::new()
            .route("/mine", axum::routing::get(|| async { "ours" }))
            .merge(forward_routes(Arc::new(Echo)));
        let req = Request::post("/added/page?x=1")
            .body(Body::from("hello"))
            .unwrap();
        let (status, from, body) = call(app.clone(), req).await;
        assert_eq!(status, StatusCode::CREATED);
        assert_eq!(from.as_deref(), Some("echo"));
        assert_eq!(body, "POST /added/page x=1 hello");
        let (status, from, body) =
            call(app, Request::get("/mine").body(Body::empty()).unwrap()).await;
        assert_eq!(
            (status, from, body.as_str()),
            (StatusCode::OK, None, "ours")
        );
    }

    #[tokio::test]
    async fn a_dropped_request_is_a_bad_gateway() {
        struct Drop;
        impl Forwarder for Drop {
            fn forward(&self, _request: ForwardedRequest) {}
        }
        let app = forward_routes(Arc::new(Drop));
        let (status, _, body) = call(app, Request::get("/x").body(Body::empty()).unwrap()).await;
        assert_eq!(status, StatusCode::BAD_GATEWAY);
        assert!(body.contains("no answer"), "{body}");
    }

    #[test]
    fn an_invalid_status_or_header_is_caught() {
        let r = into_response(ForwardedResponse {
            status: 42,
            headers: vec![],
            body: vec![],
        });
        assert_eq!(r.status(), StatusCode::BAD_GATEWAY);
        let r = into_response(ForwardedResponse {
            status: 200,
            headers: vec![("bad name".into(), "v".into()), ("ok".into(), "v".into())],
            body: vec![],
        });
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(r.headers().len(), 1);
    }
}
