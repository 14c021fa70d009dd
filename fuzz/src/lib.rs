//! Fuzz targets for the parsers of outside input: the CLI time span, `locust.conf` and
//! `pyproject.toml` files, command lines, HTTP response heads (the lean driver's parser) and whole
//! HTTP responses read by both client drivers over loopback.
//!
//! Each target is a plain `fn(&[u8])` that panics only on a bug (a panic inside the code under
//! test, a broken invariant, or a hang caught by a deadline), so the same functions can be wrapped
//! by cargo-fuzz/libFuzzer where a nightly toolchain exists. On the stable toolchain the
//! `locusta-fuzz` binary drives them: corpus files from `fuzz/corpus/<target>/`, then random
//! mutations of them for a bounded time (see `src/main.rs`). Wire messages of the master/worker
//! protocol and whole requests to the web API (`web_api`, in its own module) have targets too.

pub mod web_api;

use std::cell::RefCell;
use std::collections::HashMap;
use std::io::Write;
use std::path::Path;
use std::time::Duration;

/// One fuzz target: its name (also its corpus directory), the function, and tokens the mutator
/// splices in (keywords of the input format).
pub struct Target {
    /// Name, and directory under `fuzz/corpus/`.
    pub name: &'static str,
    /// The function under test.
    pub run: fn(&[u8]),
    /// Tokens of the input format.
    pub dictionary: &'static [&'static str],
}

const HTTP_TOKENS: &[&str] = &[
    "HTTP/1.1 ",
    "HTTP/1.0 ",
    "200 OK",
    "100 Continue",
    "\r\n",
    "\r\n\r\n",
    "Content-Length: ",
    "Transfer-Encoding: chunked",
    "Transfer-Encoding: gzip, chunked",
    "Content-Encoding: gzip",
    "Connection: close",
    "Connection: keep-alive",
    "0\r\n\r\n",
    "ffffffffffffffff",
    ";ext=1",
    "Set-Cookie: a=b; Path=/",
    "Location: /x",
    ":",
    " ",
    "\t",
    "\n",
    "\0",
];

const CONF_TOKENS: &[&str] = &[
    "=",
    ":",
    " ",
    "\n",
    "#",
    ";",
    "[",
    "]",
    "\"",
    "'",
    "--",
    "-",
    "[tool.locust]",
    "users",
    "spawn-rate",
    "run-time",
    "host",
    "headless",
    "tags",
    "csv",
    "locustfile",
    "loglevel",
    "true",
    "false",
    "1h30m",
    "-1",
    "1e999",
    "[\"a\", \"b\"]",
    "{",
    "}",
    ",",
    "\\",
    "~",
    "processes",
    "web-port",
    "expect-workers",
    "stop-timeout",
    "config",
];

const CLI_TOKENS: &[&str] = &[
    "\0",
    "-u",
    "-r",
    "-t",
    "-H",
    "--headless",
    "--users",
    "--run-time",
    "--spawn-rate",
    "--csv",
    "--tags",
    "--exclude-tags",
    "--config",
    "=",
    "10",
    "1h",
    "-1",
    "--",
    "-f",
    "http://",
    "--processes",
    "--stop-timeout",
    "--loglevel",
    "--help",
    "--version",
    "--print-stats",
];

const TIMESPAN_TOKENS: &[&str] = &[
    "h",
    "m",
    "s",
    "1",
    "0",
    "99999999999999999999",
    "-",
    " ",
    "1h30m",
    "10s",
    "ms",
    "d",
];

/// Every target, in the order the driver runs them.
pub const TARGETS: &[Target] = &[
    Target {
        name: "timespan",
        run: timespan,
        dictionary: TIMESPAN_TOKENS,
    },
    Target {
        name: "config_conf",
        run: config_conf,
        dictionary: CONF_TOKENS,
    },
    Target {
        name: "config_toml",
        run: config_toml,
        dictionary: CONF_TOKENS,
    },
    Target {
        name: "cli_args",
        run: cli_args,
        dictionary: CLI_TOKENS,
    },
    Target {
        name: "http_head",
        run: http_head,
        dictionary: HTTP_TOKENS,
    },
    Target {
        name: "http_response",
        run: http_response,
        dictionary: HTTP_TOKENS,
    },
    Target {
        name: "wire_message",
        run: wire_message,
        dictionary: WIRE_TOKENS,
    },
    Target {
        name: "web_api",
        run: web_api::web_api,
        dictionary: web_api::WEB_TOKENS,
    },
];

/// Locust message types and keys, for mutating wire messages (the byte-level mutations supply
/// msgpack markers and huge lengths).
const WIRE_TOKENS: &[&str] = &[
    "stats",
    "spawn",
    "heartbeat",
    "client_ready",
    "user_classes_count",
    "response_times",
];

/// A frame from the network as the master or a worker reads it (Locust's msgpack
/// `[type, data, node_id]`), then the parts the master interprets: a `stats` report and the
/// per-class counts of `spawn`/`spawning_complete`. Refused or parsed, never a panic, and a
/// message that parses re-encodes to something that parses again.
pub fn wire_message(data: &[u8]) {
    use locusta_dist::protocol::{class_counts, get, Message};
    use locusta_dist::wire::{Cursor, Envelope, Heartbeat, DATA_DEPTH};
    let Ok(msg) = Message::decode(data) else {
        assert!(
            Envelope::parse(data).is_err(),
            "the in-place reader accepts what decode refuses"
        );
        return;
    };
    let env = Envelope::parse(data).expect("the in-place reader refuses what decode accepts");
    match msg.kind.as_str() {
        "stats" => {
            // The master's in-place reader and the value path agree on every report.
            let slow = locusta_dist::report::report_from_value(&msg.data);
            let fast = locusta_dist::report::report_from_bytes(env.data);
            match (&fast, &slow) {
                (Ok(a), Ok(b)) => assert_eq!(a, b),
                (Err(_), Err(_)) => {}
                _ => panic!("report readers disagree: {fast:?} vs {slow:?}"),
            }
        }
        "heartbeat" => {
            let fast =
                Heartbeat::read(&mut Cursor::new(env.data), DATA_DEPTH).expect("checked data");
            let slow = Heartbeat::from_value(&msg.data);
            assert_eq!((fast.state, fast.memory), (slow.state, slow.memory));
            assert!(fast.cpu == slow.cpu);
        }
        "spawn" | "spawning_complete" => {
            if let Some(v) = get(&msg.data, "user_classes_count") {
                let _ = class_counts(v);
            }
        }
        _ => {}
    }
    let again = Message::decode(&msg.encode()).expect("a decoded message re-encodes");
    assert_eq!(again.kind, msg.kind);
}

/// `-t/--run-time` and `--stop-timeout` values: an error or a number of seconds, never a panic.
pub fn timespan(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let _ = locusta_options::parse_timespan(&text);
}

thread_local! {
    static DIR: tempfile::TempDir = tempfile::tempdir().expect("temporary directory for config fuzzing");
}

fn parse_with_file(file: &str, data: &[u8], args: &[&str]) {
    DIR.with(|dir| {
        let path = dir.path().join(file);
        let written = std::fs::File::create(&path).and_then(|mut f| f.write_all(data));
        if written.is_err() {
            return;
        }
        parse_args(args, dir.path());
        let _ = std::fs::remove_file(&path);
    });
}

fn parse_args(args: &[&str], cwd: &Path) {
    let env: HashMap<String, String> = HashMap::new();
    // Ok or a usage error; either way it returns
    let _ = locusta_options::parse_from(args.iter().copied(), &env, cwd, None);
}

/// `./locust.conf`, read as Locust reads it, then interpreted as options.
pub fn config_conf(data: &[u8]) {
    parse_with_file("locust.conf", data, &["locusta"]);
}

/// `./pyproject.toml`'s `[tool.locust]` table, then interpreted as options.
pub fn config_toml(data: &[u8]) {
    parse_with_file("pyproject.toml", data, &["locusta"]);
}

/// A whole command line: the input split at NUL bytes (or whitespace when there is none).
pub fn cli_args(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let mut args = vec!["locusta"];
    if text.contains('\0') {
        args.extend(text.split('\0'));
    } else {
        args.extend(text.split_whitespace());
    }
    DIR.with(|dir| parse_args(&args, dir.path()));
}

/// Response heads through the lean driver's parser (interim responses, framing, error text).
pub fn http_head(data: &[u8]) {
    let head_request = data.first().is_some_and(|b| b & 1 == 1);
    let _ = locusta_http::fuzzing::response_heads(data, head_request);
}

struct Loopback {
    runtime: tokio::runtime::Runtime,
    listener: tokio::net::TcpListener,
    base: String,
    clients: Vec<locusta_http::HttpClient>,
}

thread_local! {
    static LOOPBACK: RefCell<Option<Loopback>> = const { RefCell::new(None) };
}

/// Largest body the fuzzed clients accept (small, to keep runs fast).
const FUZZ_BODY_LIMIT: u64 = 1 << 20;

fn loopback() -> Loopback {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .expect("bind 127.0.0.1");
    let base = format!("http://{}", listener.local_addr().expect("local address"));
    let clients = [
        locusta_http::HttpDriver::Hyper,
        locusta_http::HttpDriver::Lean,
    ]
    .into_iter()
    .map(|driver| {
        locusta_http::HttpClient::new(locusta_http::ClientConfig {
            driver,
            // drive hyper's connection inline so that a panic in it reaches this target
            spawn_connections: false,
            max_body_bytes: FUZZ_BODY_LIMIT,
            max_redirects: 3,
            ..locusta_http::ClientConfig::default()
        })
        .expect("HTTP client")
    })
    .collect();
    Loopback {
        runtime,
        listener,
        base,
        clients,
    }
}

/// Reads one request head (bounded), then sends `data` and closes.
async fn serve_once(listener: &tokio::net::TcpListener, data: &[u8]) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let Ok((mut stream, _)) = listener.accept().await else {
        return;
    };
    let mut seen = Vec::new();
    let mut buf = [0u8; 2048];
    while !seen.windows(4).any(|w| w == b"\r\n\r\n") && seen.len() < 64 * 1024 {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => seen.extend_from_slice(&buf[..n]),
        }
    }
    let _ = stream.write_all(data).await;
    let _ = stream.shutdown().await;
}

/// A whole response (head and body, any framing, gzip) read by both client drivers from a
/// loopback server that sends `data` and closes. Each exchange must end within a deadline and
/// respect the body limit.
pub fn http_response(data: &[u8]) {
    LOOPBACK.with(|cell| {
        let mut slot = cell.borrow_mut();
        let lb = slot.get_or_insert_with(loopback);
        for client in &lb.clients {
            let session = client.session(Some(&lb.base)).expect("session");
            let outcome = lb.runtime.block_on(async {
                let serve = serve_once(&lb.listener, data);
                // one connection per input: a followed redirect would wait on a server that
                // answers only once
                let mut spec = locusta_http::RequestSpec::get("/");
                spec.allow_redirects = false;
                let send = session.send(spec);
                tokio::time::timeout(Duration::from_secs(10), async {
                    let (_, ex) = tokio::join!(serve, send);
                    ex
                })
                .await
            });
            let ex = outcome
                .unwrap_or_else(|_| panic!("the client did not finish within 10 s (a hang)"));
            match &ex.result {
                Ok(resp) => assert!(resp.body.len() as u64 <= FUZZ_BODY_LIMIT),
                Err(e) => {
                    let _ = e.to_string();
                }
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::TARGETS;

    /// Every corpus file (seeds, and inputs that once crashed) passes its target: a regression
    /// test that needs no fuzzing time.
    #[test]
    fn the_corpus_passes_every_target() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus");
        for target in TARGETS {
            let dir = root.join(target.name);
            let files: Vec<_> = std::fs::read_dir(&dir)
                .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
                .map(|e| e.expect("corpus entry").path())
                .collect();
            assert!(!files.is_empty(), "{} has no corpus", target.name);
            for file in files {
                let data = std::fs::read(&file).expect("corpus file");
                (target.run)(&data);
            }
        }
    }
}
