//! The data that goes in and out of a [`crate::Session`]: what to send ([`RequestSpec`], [`Body`])
//! and what happened ([`Exchange`], [`Response`]).
//!
//! Kept apart from the session logic so that the engine can build and inspect them without
//! knowing how connections work.

use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use http::header::{HeaderMap, HeaderName, HeaderValue};
use http::Method;

use crate::error::{status_error_text, HttpError};
use crate::header_case::Spellings;
use crate::headers::ResponseHeaders;

/// A request body, encoded like requests encodes `data=`/`json=`.
#[derive(Debug, Clone, Default, PartialEq)]
pub enum Body {
    /// No body.
    #[default]
    Empty,
    /// Raw bytes, with an optional Content-Type.
    Bytes {
        /// The body.
        data: Bytes,
        /// Content-Type header to send (unless the request sets one).
        content_type: Option<String>,
    },
    /// JSON, sent as `application/json`.
    Json(serde_json::Value),
    /// Form fields, sent as `application/x-www-form-urlencoded`.
    Form(Vec<(String, String)>),
}

impl Body {
    /// The encoded bytes and their default Content-Type; `None` for [`Body::Empty`].
    pub fn encode(&self) -> Option<(Bytes, Option<&'static str>)> {
        match self {
            Body::Empty => None,
            Body::Bytes { data, .. } => Some((data.clone(), None)),
            Body::Json(v) => Some((
                Bytes::from(serde_json::to_vec(v).unwrap_or_default()),
                Some("application/json"),
            )),
            Body::Form(pairs) => {
                let mut ser = url::form_urlencoded::Serializer::new(String::new());
                for (k, v) in pairs {
                    ser.append_pair(k, v);
                }
                Some((
                    Bytes::from(ser.finish()),
                    Some("application/x-www-form-urlencoded"),
                ))
            }
        }
    }
}

/// Everything that describes one request (like the keyword arguments of `session.request()`).
#[derive(Debug, Clone)]
pub struct RequestSpec {
    /// HTTP method.
    pub method: Method,
    /// Relative (appended to the base URL) or absolute http(s) URL.
    pub url: String,
    /// Query parameters appended to the URL (`params=`).
    pub query: Vec<(String, String)>,
    /// Headers; they replace session default headers of the same name. Names inserted here go
    /// out in Title-Case; [`RequestSpec::try_header`] keeps the spelling given.
    pub headers: HeaderMap,
    /// How the names given to [`RequestSpec::try_header`] were spelled.
    pub(crate) spellings: Spellings,
    /// Request body.
    pub body: Body,
    /// Basic auth for this request (overrides the session's).
    pub basic_auth: Option<(String, String)>,
    /// Timeout for this request (overrides the client's).
    pub timeout: Option<Duration>,
    /// Follow redirects (default true; false for HEAD like requests' `head()`).
    pub allow_redirects: bool,
    /// Verify TLS certificates for this request (overrides the client's).
    pub verify_tls: Option<bool>,
    /// Extra cookies sent with this request only (not stored in the session).
    pub cookies: Vec<(String, String)>,
    /// The `name=` given for this request, used only to name its trace span when requests are
    /// traced (`--otel`; Locust's `_explicit_name`). The statistics name is the caller's.
    pub span_name: Option<String>,
}

impl RequestSpec {
    /// A request with no body, no extra headers, redirects followed (except for HEAD).
    pub fn new(method: Method, url: impl Into<String>) -> Self {
        let allow_redirects = method != Method::HEAD;
        RequestSpec {
            method,
            url: url.into(),
            query: Vec::new(),
            headers: HeaderMap::new(),
            spellings: Spellings::default(),
            body: Body::Empty,
            basic_auth: None,
            timeout: None,
            allow_redirects,
            verify_tls: None,
            cookies: Vec::new(),
            span_name: None,
        }
    }

    /// `GET url`.
    pub fn get(url: impl Into<String>) -> Self {
        Self::new(Method::GET, url)
    }

    /// `POST url`.
    pub fn post(url: impl Into<String>) -> Self {
        Self::new(Method::POST, url)
    }

    /// Adds a query parameter.
    pub fn query(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.query.push((key.into(), value.into()));
        self
    }

    /// Sets a header (replacing earlier values of the same name).
    pub fn header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        self.headers.insert(name, value);
        self
    }

    /// Sets a header from strings, sent with its name spelled as given; an invalid name or
    /// value is an error.
    pub fn try_header(mut self, name: &str, value: &str) -> Result<Self, http::Error> {
        self.insert_header(name, value)?;
        Ok(self)
    }

    /// Adds a header (keeping earlier values of the name), sent with its name spelled as given.
    pub fn append_header(&mut self, name: &str, value: &str) -> Result<(), http::Error> {
        let n = HeaderName::from_bytes(name.as_bytes())?;
        let v = HeaderValue::from_str(value)?;
        self.headers.append(n, v);
        self.spellings.remember(name);
        Ok(())
    }

    /// [`RequestSpec::try_header`] in place: replaces earlier values of the name and keeps its
    /// spelling.
    pub fn insert_header(&mut self, name: &str, value: &str) -> Result<(), http::Error> {
        let n = HeaderName::from_bytes(name.as_bytes())?;
        let v = HeaderValue::from_str(value)?;
        self.headers.insert(n, v);
        self.spellings.remember(name);
        Ok(())
    }

    /// Sends `value` as JSON.
    pub fn json(mut self, value: serde_json::Value) -> Self {
        self.body = Body::Json(value);
        self
    }

    /// Sends form fields.
    pub fn form(mut self, fields: Vec<(String, String)>) -> Self {
        self.body = Body::Form(fields);
        self
    }

    /// Sends raw bytes.
    pub fn bytes(mut self, data: impl Into<Bytes>, content_type: Option<String>) -> Self {
        self.body = Body::Bytes {
            data: data.into(),
            content_type,
        };
        self
    }

    /// Uses basic auth for this request.
    pub fn basic_auth(mut self, user: impl Into<String>, password: impl Into<String>) -> Self {
        self.basic_auth = Some((user.into(), password.into()));
        self
    }

    /// Sets the request timeout.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Follows redirects or not.
    pub fn allow_redirects(mut self, allow: bool) -> Self {
        self.allow_redirects = allow;
        self
    }

    /// Overrides TLS verification.
    pub fn verify_tls(mut self, verify: bool) -> Self {
        self.verify_tls = Some(verify);
        self
    }

    /// Adds a cookie for this request only.
    pub fn cookie(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.cookies.push((name.into(), value.into()));
        self
    }
}

/// A received response with its (decompressed) body.
#[derive(Debug, Clone)]
pub struct Response {
    /// Status code.
    pub status: u16,
    /// Reason phrase as sent by the server (canonical phrase if hyper did not keep it).
    pub reason: String,
    /// Response headers.
    pub headers: ResponseHeaders,
    /// The body, decoded according to Content-Encoding (gzip/deflate).
    pub body: Bytes,
    /// The URL this response came from.
    pub url: url::Url,
    /// HTTP version of the response.
    pub version: http::Version,
    /// When the kernel received the last bytes of the response (the lean driver over plain
    /// TCP on Linux); `None` where the client cannot tell.
    pub received_at: Option<SystemTime>,
    /// When the response head had been read (before the body).
    pub head_at: Instant,
}

impl Response {
    /// The body as text (lossy UTF-8).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body parsed as JSON.
    pub fn json(&self) -> Result<serde_json::Value, serde_json::Error> {
        serde_json::from_slice(&self.body)
    }

    /// A header value as text, if present and valid.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The HTTP version the response came over, as text: `"HTTP/1.1"`, `"HTTP/2"`, ...
    pub fn http_version(&self) -> &'static str {
        match self.version {
            http::Version::HTTP_09 => "HTTP/0.9",
            http::Version::HTTP_10 => "HTTP/1.0",
            http::Version::HTTP_2 => "HTTP/2",
            http::Version::HTTP_3 => "HTTP/3",
            _ => "HTTP/1.1",
        }
    }
}

/// The outcome of [`crate::Session::send`]: timing, naming and the final response or error.
#[derive(Debug, Clone)]
pub struct Exchange {
    /// Wall-clock time the exchange started.
    pub started: SystemTime,
    /// Duration of the whole exchange (connect, send, headers, full body, all redirects).
    pub elapsed: Duration,
    /// The first request's URL, fully resolved (`about:invalid` if it could not be built).
    pub request_url: url::Url,
    /// Path and query of the first request's URL as requests' `path_url` (the raw URL when it
    /// could not be resolved): the default of [`Exchange::stats_name`].
    pub stats_path: String,
    /// The final response, or why there is none.
    pub result: Result<Response, HttpError>,
    /// Redirect responses followed to get to the result, oldest first.
    pub history: Vec<Response>,
    /// From the start until the final response's head had arrived (what Locust reports for a
    /// `stream=True` request); `None` without a response.
    pub time_to_head: Option<Duration>,
}

impl Exchange {
    /// Status code of the final response; 0 when there is none (as Locust reports).
    pub fn status(&self) -> u16 {
        self.result.as_ref().map_or(0, |r| r.status)
    }

    /// Locust's `response_length`: decoded body length of the final response, 0 on error.
    pub fn content_length(&self) -> usize {
        self.result.as_ref().map_or(0, |r| r.body.len())
    }

    /// The name Locust's `HttpSession` records this exchange under: `name` when one is given
    /// (`name=` or the session's `rename_request`/`request_name`), else the path and query of the
    /// first request's URL ([`Exchange::stats_path`]). So an absolute URL is named by its path,
    /// query parameters are part of the name, and a followed redirect keeps the first URL's
    /// name. An empty name counts as none (Locust's `if not name`).
    ///
    /// The one place this rule lives: the Rust client and the Python extension both ask here.
    pub fn stats_name<'a>(&'a self, name: Option<&'a str>) -> &'a str {
        match name {
            Some(n) if !n.is_empty() => n,
            _ => &self.stats_path,
        }
    }

    /// Locust's failure text for this exchange reported under stats name `name`: the error's text,
    /// the `HTTPError(...)` text for status >= 400, or `None` for a success.
    pub fn failure_text(&self, name: &str) -> Option<String> {
        match &self.result {
            Err(e) => Some(e.to_string()),
            Ok(r) => status_error_text(r.status, &r.reason, name),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_and_json_encoding() {
        let b = Body::Form(vec![("a b".into(), "x&y".into()), ("c".into(), "é".into())]);
        let (data, ct) = b.encode().unwrap();
        assert_eq!(&data[..], b"a+b=x%26y&c=%C3%A9");
        assert_eq!(ct, Some("application/x-www-form-urlencoded"));
        let (data, ct) = Body::Json(serde_json::json!({"k": 1})).encode().unwrap();
        assert_eq!(&data[..], br#"{"k":1}"#);
        assert_eq!(ct, Some("application/json"));
        assert!(Body::Empty.encode().is_none());
    }

    #[test]
    fn stats_name_defaults_to_the_first_urls_path_and_query() {
        let ex = Exchange {
            started: SystemTime::now(),
            elapsed: Duration::ZERO,
            request_url: url::Url::parse("http://h:1/api/items?page=2").unwrap(),
            stats_path: "/api/items?page=2".into(),
            result: Err(HttpError::Connect {
                errno: 111,
                message: "Connection refused".into(),
            }),
            history: Vec::new(),
            time_to_head: None,
        };
        assert_eq!(ex.stats_name(None), "/api/items?page=2");
        assert_eq!(
            ex.stats_name(Some("")),
            "/api/items?page=2",
            "Locust's `if not name`"
        );
        assert_eq!(
            ex.stats_name(Some("/api/items/[page]")),
            "/api/items/[page]"
        );
    }

    #[test]
    fn head_does_not_follow_redirects_by_default() {
        assert!(!RequestSpec::new(Method::HEAD, "/").allow_redirects);
        assert!(RequestSpec::get("/").allow_redirects);
        assert!(RequestSpec::get("/").try_header("bad name", "x").is_err());
    }
}
