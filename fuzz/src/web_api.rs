//! The `web_api` fuzz target: whole HTTP requests (request line, query string, headers, form or
//! JSON body) sent in process to the web UI's router, as the server would after hyper parsed
//! them. No socket: the request is parsed with `httparse` (the parser hyper uses), built into an
//! `http::Request` and answered with `tower::ServiceExt::oneshot`.
//!
//! Every request goes to three routers: the plain one, one under `--web-base-path /ui`, and one
//! behind `--web-auth`. The contract checked for each: no panic, an answer of 2xx, 3xx (the base
//! path's redirect) or 4xx (never 5xx: bad input is the client's error), a body of bounded size
//! without the value of an `is_secret` option, at most one command queued for the control loop per request, and no statistics row created by
//! a request (a request can only read or reset them).

use std::cell::RefCell;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Method, Request};
use axum::Router;
use locusta_stats::{Sample, StatsHub, StatsLimits};
use locusta_web::{
    ClassInfo, ControlPort, ExtraOptionInfo, RunInfo, ServerConfig, TaskInfo, WebContext,
};
use tower::ServiceExt;

/// Largest response body any route may produce for this fixture (the statistics hold a few
/// rows; the biggest answers are the page's assets).
const MAX_RESPONSE_BYTES: usize = 8 << 20;
/// Largest request body passed on (hyper would stream more; axum's body limit is 2 MB).
const MAX_REQUEST_BYTES: usize = 4 << 20;

/// Request-line, query, form, JSON and header tokens for the mutator.
pub const WEB_TOKENS: &[&str] = &[
    "GET ",
    "POST ",
    "PUT ",
    "HEAD ",
    "OPTIONS ",
    " HTTP/1.1\r\n",
    "\r\n",
    "\r\n\r\n",
    "/swarm",
    "/stop",
    "/stats/reset",
    "/stats/requests",
    "/stats/requests/csv",
    "/stats/requests_full_history/csv",
    "/stats/failures/csv",
    "/stats/history",
    "/exceptions",
    "/exceptions/csv",
    "/tasks",
    "/logs",
    "/worker-count",
    "/ui/info",
    "/assets/",
    "/ui",
    "/ui/",
    "?",
    "&",
    "=",
    "%",
    "%00",
    "%ff",
    "%zz",
    "+",
    "user_count=",
    "spawn_rate=",
    "host=",
    "run_time=",
    "user_classes=",
    "shape_class=",
    "secret_token=",
    "level=",
    "sort=",
    "order=",
    "q=",
    "name=",
    "method=",
    "desc",
    "asc",
    "response_time_percentile_",
    "1e309",
    "-1",
    "NaN",
    "inf",
    "18446744073709551616",
    "1h30m",
    "Default",
    "Stepped",
    "Alpha",
    "Beta",
    "<script>",
    "Content-Type: application/x-www-form-urlencoded\r\n",
    "Content-Type: application/json\r\n",
    "Content-Type: multipart/form-data; boundary=x\r\n",
    "Content-Length: ",
    "Transfer-Encoding: chunked\r\n",
    "Authorization: Basic dXNlcjpwYXNz\r\n",
    "Authorization: Basic ",
    "Host: 127.0.0.1\r\n",
    "{\"user_count\": 5}",
    "[",
    "]",
    "{",
    "}",
    "\"",
    "\0",
];

/// The value of the fixture's `is_secret` option: no answer may contain it.
const SECRET: &str = "hunter2-fuzz-secret";

struct Fixture {
    runtime: tokio::runtime::Runtime,
    routers: Vec<Router>,
    ports: Vec<ControlPort>,
    stats: Arc<StatsHub>,
}

thread_local! {
    static FIXTURE: RefCell<Option<Fixture>> = const { RefCell::new(None) };
}

fn task(name: &str, weight: u64) -> TaskInfo {
    TaskInfo {
        name: name.into(),
        weight,
        tasks: vec![],
    }
}

fn run_info(shape: bool) -> RunInfo {
    RunInfo {
        locustfile: "locustfile.py".into(),
        num_users: Some(3),
        spawn_rate: Some(1.0),
        host: "http://127.0.0.1:1".into(),
        classes: vec![
            ClassInfo {
                name: "Alpha".into(),
                tasks: vec![task("one", 3), task("two", 1)],
            },
            ClassInfo {
                name: "Beta".into(),
                tasks: vec![TaskInfo {
                    name: "Nested".into(),
                    weight: 2,
                    tasks: vec![task("inner", 1)],
                }],
            },
        ],
        shape_class: shape.then(|| "Stepped".to_owned()),
        extra_options: vec![
            ExtraOptionInfo {
                name: "level".into(),
                default_value: "3".into(),
                help: "a custom option".into(),
                choices: Some(vec!["1".into(), "3".into()]),
                is_secret: false,
            },
            ExtraOptionInfo {
                name: "secret_token".into(),
                default_value: SECRET.into(),
                help: "a secret".into(),
                choices: None,
                is_secret: true,
            },
        ],
        stats_history_enabled: true,
        full_history_file: Some(std::env::temp_dir().join("locusta-fuzz-no-such-history.csv")),
        ..RunInfo::default()
    }
}

fn fixture() -> Fixture {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let stats = StatsHub::new(StatsLimits::default());
    for (name, error) in [("/a", None), ("/b<i>", Some("boom <b>")), ("/c", None)] {
        stats.record(&Sample {
            method: "GET",
            name,
            response_time_us: Some(12_000),
            content_length: 10,
            error,
        });
    }
    let mut routers = Vec::new();
    let mut ports = Vec::new();
    let configs = [
        (false, ServerConfig::default()),
        (
            true,
            ServerConfig {
                base_path: "/ui".into(),
                ..ServerConfig::default()
            },
        ),
        (
            false,
            ServerConfig {
                auth: Some("user:pass".into()),
                ..ServerConfig::default()
            },
        ),
    ];
    for (shape, cfg) in configs {
        let logs: Arc<dyn Fn() -> Vec<String> + Send + Sync> =
            Arc::new(|| vec!["[2026-01-01 00:00:00,000] h/INFO/locusta.main: hello".into()]);
        let (ctx, port) = WebContext::new(Arc::clone(&stats), run_info(shape), logs);
        let routes = locusta_web::router(ctx);
        routers.push(locusta_web::server::app(routes, &cfg).expect("web app"));
        ports.push(port);
    }
    Fixture {
        runtime,
        routers,
        ports,
        stats,
    }
}

/// Parses `data` as an HTTP/1.1 request head and body, as hyper would hand it to the router.
/// Input that is no request head (most mutations of one) becomes a request anyway, so that the
/// mutations reach the parameter parsers: by its first byte, the `/swarm` form body, or the
/// query string of `/stats/requests` or `/stats/history` (bytes a URI cannot hold
/// percent-encoded, `&`, `=` and `%` kept).
fn request(data: &[u8]) -> Option<Request<Body>> {
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut req = httparse::Request::new(&mut headers);
    let head_len = match req.parse(data) {
        Ok(httparse::Status::Complete(n)) => n,
        _ => return fallback_request(data),
    };
    let method = Method::from_bytes(req.method?.as_bytes()).ok()?;
    let mut builder = Request::builder().method(method).uri(req.path?);
    for h in req.headers.iter() {
        builder = builder.header(h.name, h.value);
    }
    let body = &data[head_len..data.len().min(head_len + MAX_REQUEST_BYTES)];
    builder.body(Body::from(body.to_vec())).ok()
}

fn fallback_request(data: &[u8]) -> Option<Request<Body>> {
    let data = &data[..data.len().min(MAX_REQUEST_BYTES)];
    let first = *data.first()?;
    if first % 3 == 0 {
        return Request::builder()
            .method(Method::POST)
            .uri("/swarm")
            .header("content-type", "application/x-www-form-urlencoded")
            .body(Body::from(data.to_vec()))
            .ok();
    }
    let mut query = String::with_capacity(data.len() * 3);
    for &b in &data[1..] {
        if b.is_ascii_alphanumeric() || b"&=%-._~+".contains(&b) {
            query.push(b as char);
        } else {
            query.push_str(&format!("%{b:02X}"));
        }
    }
    let path = if first % 3 == 1 {
        "/stats/requests"
    } else {
        "/stats/history"
    };
    Request::builder()
        .uri(format!("{path}?{query}"))
        .body(Body::empty())
        .ok()
}

/// What one router answered: status, body, and how many commands the request queued.
pub struct Answer {
    /// The HTTP status.
    pub status: axum::http::StatusCode,
    /// The whole body.
    pub body: Vec<u8>,
    /// Commands queued for the control loop.
    pub queued: usize,
}

/// Sends `data` to the plain, base-path and authenticated routers (in that order); `None` when
/// it is not a request hyper would route. Panics when a router breaks the contract.
pub fn answers(data: &[u8]) -> Option<Vec<Answer>> {
    FIXTURE.with(|cell| {
        let mut slot = cell.borrow_mut();
        let fx = slot.get_or_insert_with(fixture);
        let rows_before = fx.stats.read(|agg| agg.entries().len());
        let mut out = Vec::new();
        for (router, port) in fx.routers.iter().zip(fx.ports.iter_mut()) {
            let req = request(data)?;
            let described = format!("{} {}", req.method(), req.uri());
            let outcome = fx.runtime.block_on(async {
                tokio::time::timeout(Duration::from_secs(10), async {
                    let resp = router
                        .clone()
                        .oneshot(req)
                        .await
                        .unwrap_or_else(|e| match e {});
                    let status = resp.status();
                    let body = axum::body::to_bytes(resp.into_body(), MAX_RESPONSE_BYTES).await;
                    (status, body)
                })
                .await
            });
            let (status, body) =
                outcome.unwrap_or_else(|_| panic!("{described}: no answer within 10 s"));
            let body = body.unwrap_or_else(|e| {
                panic!("{described}: body over {MAX_RESPONSE_BYTES} bytes or broken: {e}")
            });
            assert!(
                status.is_success() || status.is_redirection() || status.is_client_error(),
                "{described}: answered {status}: {}",
                String::from_utf8_lossy(&body)
            );
            let mut queued = 0;
            while port.commands.try_recv().is_ok() {
                queued += 1;
            }
            assert!(queued <= 1, "{described}: {queued} commands queued");
            assert!(
                !body.windows(SECRET.len()).any(|w| w == SECRET.as_bytes()),
                "{described}: the answer holds the value of an is_secret option"
            );
            out.push(Answer {
                status,
                body: body.to_vec(),
                queued,
            });
        }
        let rows_after = fx.stats.read(|agg| agg.entries().len());
        assert!(
            rows_after <= rows_before,
            "a request created statistics rows ({rows_before} -> {rows_after})"
        );
        if rows_after < rows_before {
            // a /stats/reset dropped rows: start the next input from the full fixture
            *slot = None;
        }
        Some(out)
    })
}

/// The fuzz target: [`answers`], ignoring what they are.
pub fn web_api(data: &[u8]) {
    let _ = answers(data);
}

#[cfg(test)]
mod tests {
    use super::answers;

    fn corpus(name: &str) -> Vec<u8> {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("corpus/web_api")
            .join(name);
        std::fs::read(path).expect("corpus file")
    }

    fn statuses(name: &str) -> Vec<(u16, usize)> {
        answers(&corpus(name))
            .expect("a routable request")
            .iter()
            .map(|a| (a.status.as_u16(), a.queued))
            .collect()
    }

    /// The corpus reaches the handlers (not only the router's 404): a good form starts a test
    /// on the plain router, the base-path router (wrong path) says 404, auth says 401.
    #[test]
    fn the_seeds_reach_the_handlers() {
        assert_eq!(statuses("swarm_form"), [(200, 1), (404, 0), (401, 0)]);
        assert_eq!(statuses("swarm_json"), [(400, 0), (404, 0), (401, 0)]);
        assert_eq!(
            statuses("swarm_bad_numbers"),
            [(400, 0), (404, 0), (401, 0)]
        );
        assert_eq!(statuses("base_path"), [(404, 0), (200, 0), (401, 0)]);
        assert_eq!(statuses("index_auth"), [(200, 0), (404, 0), (200, 0)]);
        assert_eq!(statuses("stats_bad_sort"), [(400, 0), (404, 0), (401, 0)]);
        // not a request head: by the first byte, a /swarm form ('u' = 117, 117 % 3 == 0) ...
        let form = answers(b"user_count=2&spawn_rate=1").expect("a fallback request");
        assert_eq!((form[0].status.as_u16(), form[0].queued), (200, 1));
        // ... or the query string of /stats/requests ('a' = 97, 97 % 3 == 1)
        let query = answers(b"asort=nope").expect("a fallback request");
        assert_eq!(query[0].status.as_u16(), 400);
        assert!(String::from_utf8_lossy(&query[0].body).contains("cannot sort by"));
        assert!(answers(b"").is_none());
    }
}
