//! Errors of the HTTP client, as values.
//!
//! Locust records a failed request with `repr()` of the (unwrapped) Python exception, so users know
//! error table rows such as `ConnectionRefusedError(111, 'Connection refused')`. [`HttpError`]'s
//! `Display` produces the same text for the equivalent failure, so locusta's failure tables, CSV and
//! JSON look like Locust's. The strings were taken from real Locust 2.47 (HttpUser, requests 2.34).

use std::fmt;
use std::time::Duration;

/// Why an HTTP exchange failed. `Display` gives Locust's failure text for the same situation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HttpError {
    /// The URL has no scheme (requests' `MissingSchema`). Locust raises this instead of recording it.
    MissingSchema {
        /// The URL as given.
        url: String,
    },
    /// The URL scheme is not http or https (requests' `InvalidSchema`).
    InvalidSchema {
        /// The URL as given.
        url: String,
    },
    /// The URL cannot be parsed or has no host (requests' `InvalidURL`).
    InvalidUrl {
        /// The URL as given.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Name resolution failed (Python's `socket.gaierror`).
    Dns {
        /// The host name that could not be resolved.
        host: String,
        /// getaddrinfo error code as Python reports it (e.g. -2 for EAI_NONAME).
        code: i32,
        /// Error message, e.g. `Name or service not known`.
        message: String,
    },
    /// An OS error while opening the TCP connection (refused, unreachable, ...).
    Connect {
        /// errno (111 for ECONNREFUSED).
        errno: i32,
        /// strerror text, e.g. `Connection refused`.
        message: String,
    },
    /// Connecting (TCP + TLS handshake) took longer than the connect timeout.
    ConnectTimeout {
        /// Target host.
        host: String,
        /// Target port.
        port: u16,
        /// Whether the URL was https.
        https: bool,
        /// The connect timeout that expired.
        timeout: Duration,
    },
    /// The response (headers and body) did not arrive within the request timeout.
    ReadTimeout {
        /// Target host.
        host: String,
        /// Target port.
        port: u16,
        /// Whether the URL was https.
        https: bool,
        /// The timeout that expired.
        timeout: Duration,
    },
    /// The TLS handshake failed.
    Tls {
        /// Description of the failure.
        message: String,
        /// True when the server certificate was rejected (as opposed to another handshake error).
        cert_verification: bool,
    },
    /// An OS error on an established connection before the response arrived (e.g. reset).
    Io {
        /// errno (104 for ECONNRESET).
        errno: i32,
        /// strerror text.
        message: String,
    },
    /// The server closed the connection without sending a response.
    RemoteDisconnected,
    /// The response did not start with a valid HTTP status line.
    BadStatusLine {
        /// The first line received (including its line ending, if any).
        line: String,
    },
    /// Another HTTP protocol violation by the server.
    Protocol {
        /// What hyper reported.
        message: String,
    },
    /// The connection ended before the whole response body arrived.
    BodyIncomplete {
        /// Body bytes received.
        read: u64,
        /// Bytes still expected, when the length was announced.
        expected: Option<u64>,
    },
    /// An OS error (e.g. reset) while the response body was being received.
    BodyIo {
        /// errno.
        errno: i32,
        /// strerror text.
        message: String,
    },
    /// The body could not be decompressed according to its Content-Encoding.
    ContentDecoding {
        /// The Content-Encoding of the response.
        encoding: String,
        /// Decoder error.
        message: String,
    },
    /// The response body (raw or decompressed) was larger than `max_body_bytes`; locusta stops
    /// reading (requests has no such limit and would keep buffering).
    BodyTooLarge {
        /// The limit that was exceeded, in bytes.
        limit: u64,
    },
    /// The proxy refused the `CONNECT` tunnel (or did not answer it like a proxy).
    Proxy {
        /// What went wrong, e.g. `Tunnel connection failed: 403 Forbidden`.
        message: String,
    },
    /// The redirect chain was longer than `max_redirects`.
    TooManyRedirects {
        /// The limit that was exceeded.
        max: usize,
    },
}

impl HttpError {
    /// True for connect and read timeouts.
    pub fn is_timeout(&self) -> bool {
        matches!(
            self,
            HttpError::ConnectTimeout { .. } | HttpError::ReadTimeout { .. }
        )
    }

    /// True when the URL itself is unusable (Locust raises these instead of recording a failure).
    pub fn is_invalid_url(&self) -> bool {
        matches!(
            self,
            HttpError::MissingSchema { .. }
                | HttpError::InvalidSchema { .. }
                | HttpError::InvalidUrl { .. }
        )
    }

    /// True when no connection could be established (DNS, refused, connect timeout, TLS).
    pub fn is_connect(&self) -> bool {
        matches!(
            self,
            HttpError::Dns { .. }
                | HttpError::Connect { .. }
                | HttpError::ConnectTimeout { .. }
                | HttpError::Tls { .. }
                | HttpError::Proxy { .. }
        )
    }

    /// True for TLS handshake failures.
    pub fn is_tls(&self) -> bool {
        matches!(self, HttpError::Tls { .. })
    }

    /// True for a malformed response (bad status line or other protocol error).
    pub fn is_protocol(&self) -> bool {
        matches!(
            self,
            HttpError::BadStatusLine { .. } | HttpError::Protocol { .. }
        )
    }

    /// Builds the error for an OS-level `std::io::Error` on an established connection.
    pub(crate) fn from_io(err: &std::io::Error, in_body: bool) -> HttpError {
        let (errno, message) = errno_and_message(err);
        if in_body {
            HttpError::BodyIo { errno, message }
        } else {
            HttpError::Io { errno, message }
        }
    }
}

/// errno and strerror-like text of an io::Error (Rust appends " (os error N)"; Python does not).
pub(crate) fn errno_and_message(err: &std::io::Error) -> (i32, String) {
    let errno = err.raw_os_error().unwrap_or_else(|| match err.kind() {
        std::io::ErrorKind::ConnectionRefused => 111,
        std::io::ErrorKind::ConnectionReset => 104,
        std::io::ErrorKind::ConnectionAborted => 103,
        std::io::ErrorKind::BrokenPipe => 32,
        std::io::ErrorKind::TimedOut => 110,
        _ => 0,
    });
    let text = err.to_string();
    let message = match text.rfind(" (os error ") {
        Some(i) if text.ends_with(')') => text[..i].to_string(),
        _ => text,
    };
    (errno, message)
}

/// Says once per process, as a warning, that the machine ran out of file descriptors (EMFILE,
/// ENFILE) or of ephemeral ports (EADDRNOTAVAIL) while connecting. Each such request is still
/// counted as a failure (`OSError(24, 'Too many open files')`, ...); once load drops, connecting
/// works again by itself. Returns true when this call printed the warning.
pub(crate) fn warn_resource_exhaustion(errno: i32) -> bool {
    use std::sync::atomic::{AtomicBool, Ordering};
    static FDS: AtomicBool = AtomicBool::new(false);
    static PORTS: AtomicBool = AtomicBool::new(false);
    match errno {
        libc_errno::EMFILE | libc_errno::ENFILE => {
            if FDS.swap(true, Ordering::Relaxed) {
                return false;
            }
            log::warn!(
                target: "locusta.http",
                "out of file descriptors ('Too many open files'): new connections fail and are \
                 counted as failures until some close. Raise the limit (ulimit -n), use fewer \
                 users per process, or spread them over more processes. (said once)"
            );
            true
        }
        libc_errno::EADDRNOTAVAIL => {
            if PORTS.swap(true, Ordering::Relaxed) {
                return false;
            }
            log::warn!(
                target: "locusta.http",
                "out of local ports ('Cannot assign requested address'): new connections fail and \
                 are counted as failures until ports are free again. Keep connections alive, use \
                 fewer users, widen net.ipv4.ip_local_port_range, or add source addresses. (said once)"
            );
            true
        }
        _ => false,
    }
}

/// The Linux errno values [`warn_resource_exhaustion`] looks for.
mod libc_errno {
    pub const ENFILE: i32 = 23;
    pub const EMFILE: i32 = 24;
    pub const EADDRNOTAVAIL: i32 = 99;
}

/// Python's exception class for an OSError with this errno (what `repr()` shows).
fn os_error_class(errno: i32) -> &'static str {
    match errno {
        111 => "ConnectionRefusedError",
        104 => "ConnectionResetError",
        103 => "ConnectionAbortedError",
        32 => "BrokenPipeError",
        110 => "TimeoutError",
        _ => "OSError",
    }
}

fn os_error_repr(errno: i32, message: &str) -> String {
    format!("{}({}, {})", os_error_class(errno), errno, py_str(message))
}

/// Formats seconds the way Python prints the timeout value a user typically passes (1, 1.5, 60).
fn py_seconds(d: Duration) -> String {
    if d.subsec_nanos() == 0 {
        d.as_secs().to_string()
    } else {
        format!("{}", d.as_secs_f64())
    }
}

fn pool_name(https: bool) -> &'static str {
    if https {
        "HTTPSConnectionPool"
    } else {
        "HTTPConnectionPool"
    }
}

/// Python `repr()` of a `str`: picks the quote like CPython and escapes control characters.
pub fn py_str(s: &str) -> String {
    let quote = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    let mut out = String::with_capacity(s.len() + 2);
    out.push(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c => out.push(c),
        }
    }
    out.push(quote);
    out
}

fn incomplete_read(read: u64, expected: Option<u64>) -> String {
    match expected {
        Some(more) => format!("IncompleteRead({read} bytes read, {more} more expected)"),
        None => format!("IncompleteRead({read} bytes read)"),
    }
}

impl fmt::Display for HttpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HttpError::MissingSchema { url } => write!(
                f,
                "MissingSchema({})",
                py_str(&format!(
                    "Invalid URL '{url}': No scheme supplied. Perhaps you meant https://{url}?"
                ))
            ),
            HttpError::InvalidSchema { url } => write!(
                f,
                "InvalidSchema({})",
                py_str(&format!("No connection adapters were found for '{url}'"))
            ),
            HttpError::InvalidUrl { url, reason } => write!(
                f,
                "InvalidURL({})",
                py_str(&format!("Invalid URL '{url}': {reason}"))
            ),
            HttpError::Dns { code, message, .. } => {
                write!(f, "gaierror({}, {})", code, py_str(message))
            }
            HttpError::Connect { errno, message } | HttpError::Io { errno, message } => {
                f.write_str(&os_error_repr(*errno, message))
            }
            HttpError::ConnectTimeout {
                host,
                https,
                timeout,
                ..
            } => {
                let class = if *https {
                    "HTTPSConnection"
                } else {
                    "HTTPConnection"
                };
                write!(
                    f,
                    "ConnectTimeoutError(<urllib3.connection.{class} object at 0x....>, {})",
                    py_str(&format!(
                        "Connection to {host} timed out. (connect timeout={})",
                        py_seconds(*timeout)
                    ))
                )
            }
            HttpError::ReadTimeout {
                host,
                port,
                https,
                timeout,
            } => write!(
                f,
                "ReadTimeout(ReadTimeoutError({}))",
                py_str(&format!(
                    "{}(host='{host}', port={port}): Read timed out. (read timeout={})",
                    pool_name(*https),
                    py_seconds(*timeout)
                ))
            ),
            HttpError::Tls {
                message,
                cert_verification: true,
            } => write!(
                f,
                "SSLError(SSLCertVerificationError(1, {}))",
                py_str(&format!(
                    "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: {message}"
                ))
            ),
            HttpError::Tls { message, .. } => {
                write!(f, "SSLError(SSLError(1, {}))", py_str(message))
            }
            HttpError::RemoteDisconnected => {
                f.write_str("RemoteDisconnected('Remote end closed connection without response')")
            }
            HttpError::BadStatusLine { line } => write!(f, "BadStatusLine({})", py_str(line)),
            HttpError::Protocol { message } => write!(f, "ProtocolError({})", py_str(message)),
            HttpError::Proxy { message } => write!(
                f,
                "ProxyError('Unable to connect to proxy', OSError({}))",
                py_str(message)
            ),
            HttpError::BodyIncomplete { read, expected } => {
                let inner = incomplete_read(*read, *expected);
                write!(
                    f,
                    "ChunkedEncodingError(ProtocolError({}, {inner}))",
                    py_str(&format!("Connection broken: {inner}"))
                )
            }
            HttpError::BodyIo { errno, message } => {
                let inner = os_error_repr(*errno, message);
                write!(
                    f,
                    "ChunkedEncodingError(ProtocolError({}, {inner}))",
                    py_str(&format!("Connection broken: {inner}"))
                )
            }
            HttpError::ContentDecoding { encoding, message } => write!(
                f,
                "ContentDecodingError(({}, error({})))",
                py_str(&format!(
                    "Received response with content-encoding: {encoding}, but failed to decode it."
                )),
                py_str(message)
            ),
            HttpError::TooManyRedirects { max } => {
                write!(f, "TooManyRedirects('Exceeded {max} redirects.')")
            }
            HttpError::BodyTooLarge { limit } => write!(
                f,
                "ContentTooLarge('Response body exceeded {limit} bytes (locusta stops reading there)')"
            ),
        }
    }
}

impl std::error::Error for HttpError {}

/// Locust's failure text for an HTTP error status, as requests' `raise_for_status` words it with the
/// stats name in place of the URL: `HTTPError('500 Server Error: Internal Server Error for url: /x')`.
/// Returns `None` when the status is not an error (below 400, or 600 and above as in requests).
pub fn status_error_text(status: u16, reason: &str, name: &str) -> Option<String> {
    let kind = match status {
        400..=499 => "Client Error",
        500..=599 => "Server Error",
        _ => return None,
    };
    Some(format!(
        "HTTPError({})",
        py_str(&format!("{status} {kind}: {reason} for url: {name}"))
    ))
}

#[cfg(test)]
mod tests {
    #[test]
    fn py_str_matches_python_repr() {
        use super::py_str;
        assert_eq!(py_str("Cart was empty"), "'Cart was empty'");
        assert_eq!(py_str("it's"), "\"it's\"");
        assert_eq!(py_str("a'b\"c"), "'a\\'b\"c'");
        assert_eq!(py_str("line\nnext"), "'line\\nnext'");
    }

    use super::*;

    #[test]
    fn resource_exhaustion_is_said_once_per_kind() {
        // EADDRNOTAVAIL is not produced by any other test of this binary
        assert!(warn_resource_exhaustion(99));
        assert!(!warn_resource_exhaustion(99));
        assert!(!warn_resource_exhaustion(111), "refused is not exhaustion");
        let e = HttpError::Connect {
            errno: 99,
            message: "Cannot assign requested address".into(),
        };
        assert_eq!(
            e.to_string(),
            "OSError(99, 'Cannot assign requested address')"
        );
    }

    #[test]
    fn status_text_matches_requests() {
        assert_eq!(
            status_error_text(500, "Internal Server Error", "/x500?a=b").as_deref(),
            Some("HTTPError('500 Server Error: Internal Server Error for url: /x500?a=b')")
        );
        assert_eq!(
            status_error_text(404, "Not Found", "notfound").as_deref(),
            Some("HTTPError('404 Client Error: Not Found for url: notfound')")
        );
        assert_eq!(status_error_text(302, "Found", "/"), None);
        assert_eq!(status_error_text(600, "Weird", "/"), None);
        // a quote in the name switches Python's repr to double quotes
        assert_eq!(
            status_error_text(400, "Bad Request", "/it's").as_deref(),
            Some("HTTPError(\"400 Client Error: Bad Request for url: /it's\")")
        );
    }

    #[test]
    fn display_matches_locust_failures_table() {
        let e = HttpError::Connect {
            errno: 111,
            message: "Connection refused".into(),
        };
        assert_eq!(
            e.to_string(),
            "ConnectionRefusedError(111, 'Connection refused')"
        );
        let e = HttpError::ReadTimeout {
            host: "127.0.0.1".into(),
            port: 18102,
            https: false,
            timeout: Duration::from_secs(1),
        };
        assert_eq!(
            e.to_string(),
            "ReadTimeout(ReadTimeoutError(\"HTTPConnectionPool(host='127.0.0.1', port=18102): Read timed out. (read timeout=1)\"))"
        );
        let e = HttpError::BodyIo {
            errno: 104,
            message: "Connection reset by peer".into(),
        };
        assert_eq!(
            e.to_string(),
            "ChunkedEncodingError(ProtocolError(\"Connection broken: ConnectionResetError(104, 'Connection reset by peer')\", ConnectionResetError(104, 'Connection reset by peer')))"
        );
        let e = HttpError::BodyIncomplete {
            read: 3,
            expected: Some(97),
        };
        assert_eq!(
            e.to_string(),
            "ChunkedEncodingError(ProtocolError('Connection broken: IncompleteRead(3 bytes read, 97 more expected)', IncompleteRead(3 bytes read, 97 more expected)))"
        );
        let e = HttpError::BadStatusLine {
            line: "HELLO\r\n".into(),
        };
        assert_eq!(e.to_string(), "BadStatusLine('HELLO\\r\\n')");
        let e = HttpError::Dns {
            host: "x.invalid".into(),
            code: -2,
            message: "Name or service not known".into(),
        };
        assert_eq!(e.to_string(), "gaierror(-2, 'Name or service not known')");
        assert_eq!(
            HttpError::TooManyRedirects { max: 30 }.to_string(),
            "TooManyRedirects('Exceeded 30 redirects.')"
        );
        assert!(HttpError::ReadTimeout {
            host: String::new(),
            port: 1,
            https: true,
            timeout: Duration::from_millis(1500)
        }
        .to_string()
        .contains("HTTPSConnectionPool(host='', port=1): Read timed out. (read timeout=1.5)"));
    }

    #[test]
    fn io_error_text_drops_rust_suffix() {
        let e = std::io::Error::from_raw_os_error(104);
        assert_eq!(
            errno_and_message(&e),
            (104, "Connection reset by peer".to_string())
        );
        assert_eq!(
            HttpError::from_io(&e, false).to_string(),
            "ConnectionResetError(104, 'Connection reset by peer')"
        );
    }
}
