//! `locusta demo` and `locusta demo-target`: a real load test with nothing to set up.
//!
//! `demo` starts the built-in shop target on a free loopback port and runs the built-in shop
//! users against it headless, with every Locust flag available (`--csv`, `--json`, `-u`, ...).
//! By default it ramps to [`DEMO_USERS`] users at [`DEMO_SPAWN_RATE`] per second for
//! [`DEMO_SECONDS`] seconds, and its target's checkout holds the inventory lock for
//! [`DEMO_CHECKOUT_HOLD`]: far enough for the checkouts to queue, so the diagnosis printed at
//! the end names the lock's endpoint, its knee and the capacity. With `-H` it runs the same
//! users against another host. With `--tls` (a flag of `demo` alone, taken out before Locust's
//! options are read) the demo's own target also listens for TLS with a self-signed certificate
//! and the users run against its `https://` URL (`--http2 negotiate` then speaks HTTP/2 by
//! ALPN). `demo-target` serves the target alone, for trying locustfiles; `--tls-port` adds the
//! TLS listener, `--tls-cert`/`--tls-key` give it the user's certificate instead.

use std::ffi::OsString;
use std::net::SocketAddr;

use locusta_demo::{DemoConfig, DemoServer, TlsCert, TlsConfig};
use locusta_options::Source;

use crate::cli::{parse, run_parsed};
use crate::demo_users::demo_user_classes;
use crate::locustfile::Locustfile;

/// Users the demo ramps to by default.
pub const DEMO_USERS: u64 = 240;
/// Users started per second by default: the ramp takes the whole run.
pub const DEMO_SPAWN_RATE: f64 = 12.0;
/// Seconds the demo runs by default.
pub const DEMO_SECONDS: u64 = 20;
/// How long a checkout of the demo's own target holds the global inventory lock: a payment
/// call inside a transaction. The shop users check out about 0.06 times a second each, so the
/// lock is busy all the time from about 170 users on, and checkouts queue well before that.
pub const DEMO_CHECKOUT_HOLD: std::time::Duration = std::time::Duration::from_millis(100);

fn is_default(parsed: &locusta_options::Parsed, key: &str) -> bool {
    matches!(parsed.sources.get(key), None | Some(Source::Default))
}

/// What `locusta demo --help` says before Locust's options: the demo's own flag, its defaults
/// and the user classes it can run by name.
fn demo_usage() -> String {
    format!(
        "Usage: locusta demo [--tls] [UserClass ...] [options]\n\n\
         A real load test with nothing to set up: the built-in shop target on 127.0.0.1 (a free\n\
         port), {DEMO_USERS} users started {DEMO_SPAWN_RATE} a second, {DEMO_SECONDS} s, headless (--headful or\n\
         --autostart: the web UI). Every option below changes it; -H runs the demo users against\n\
         another host.\n\n\
         Demo flag:\n  \
         --tls    serve the demo's target over TLS (self-signed certificate; the demo users do not\n           \
         verify it); with --http2 negotiate, HTTP/2 by ALPN. Not with -H (give an https:// URL)\n\n\
         More user classes, run by name: ChatUser (WebSocket chat), GrpcShopUser (gRPC), and the\n\
         diagnosis's degradation patterns: {patterns}.\n\
         -l lists the default ones.\n\n",
        patterns = crate::demo_patterns::pattern_user_classes()
            .iter()
            .map(|c| c.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    )
}

/// `locusta demo [--tls] [flags]`: `args` excludes the word `demo`.
pub fn run_demo(mut args: Vec<OsString>) -> i32 {
    if args.iter().any(|a| a == "-h" || a == "--help") {
        locusta_util::print_stdout(&demo_usage());
    }
    // `--tls` is the demo's own flag: Locust's parser must not see it
    let tls = args.len();
    args.retain(|a| a != "--tls");
    let tls = args.len() != tls;
    let mut parsed = match parse(args) {
        Ok(p) => p,
        Err(code) => return code,
    };
    // Headless unless the web UI is asked for (`--headful` or `--autostart`).
    if is_default(&parsed, "headless") && !parsed.options.headful && !parsed.options.autostart {
        parsed.options.headless = true;
    }
    if is_default(&parsed, "num_users") {
        parsed.options.num_users = Some(DEMO_USERS);
    }
    if is_default(&parsed, "spawn_rate") {
        parsed.options.spawn_rate = Some(DEMO_SPAWN_RATE);
    }
    if is_default(&parsed, "run_time") && !parsed.options.find_capacity {
        parsed.options.run_time = Some(DEMO_SECONDS);
    }
    let mut server = None;
    let default_host = if parsed.options.host.is_some() {
        if tls {
            eprintln!(
                "locusta demo: --tls serves the demo's own target over TLS; with -H, give an https:// URL instead"
            );
            return 2;
        }
        None
    } else {
        let addr: SocketAddr = ([127, 0, 0, 1], 0).into();
        let config = DemoConfig {
            checkout_hold: DEMO_CHECKOUT_HOLD,
            tls: tls.then_some(TlsConfig {
                addr,
                cert: TlsCert::SelfSigned,
            }),
            ..DemoConfig::default()
        };
        match DemoServer::start(addr, config) {
            Ok(s) => {
                let url = match s.tls_url() {
                    Some(https) => https,
                    None => s.base_url(),
                };
                eprintln!("locusta demo: shop target listening on {url}");
                server = Some(s);
                Some(url)
            }
            Err(e) => {
                eprintln!("locusta demo: cannot start the demo target on 127.0.0.1: {e}");
                return 1;
            }
        }
    };
    let mut classes = demo_user_classes();
    if !parsed.options.user_classes.is_empty() {
        // Named classes may be the degradation-pattern users (`locusta demo PoolUser`), the
        // WebSocket chat user (`locusta demo ChatUser`) or the gRPC user (`GrpcShopUser`).
        classes.extend(crate::demo_patterns::pattern_user_classes());
        classes.extend(crate::demo_users::websocket_user_classes());
        classes.extend(crate::demo_users::grpc_user_classes());
    }
    let code = run_parsed(
        Locustfile {
            classes,
            default_host,
            // Not the executable's name: from the Python package that is the interpreter's.
            script: Some("locusta-demo".to_owned()),
            ..Locustfile::default()
        },
        parsed,
    );
    if let Some(s) = server {
        s.shutdown();
    }
    code
}

/// `locusta demo-target [--port N] [--bind ADDR] [--checkout-hold-ms N] [--tls-port N
/// [--tls-cert PEM --tls-key PEM]]`: serves until Ctrl-C.
pub fn run_demo_target(args: Vec<OsString>) -> i32 {
    let mut port: u16 = 8080;
    let mut bind = String::from("127.0.0.1");
    let mut cfg = DemoConfig::default();
    let mut tls_port: Option<u16> = None;
    let mut tls_cert: Option<std::path::PathBuf> = None;
    let mut tls_key: Option<std::path::PathBuf> = None;
    let mut it = args
        .into_iter()
        .skip(1)
        .map(|a| a.to_string_lossy().into_owned());
    while let Some(arg) = it.next() {
        let mut value = |name: &str| {
            it.next()
                .ok_or_else(|| format!("locusta demo-target: {name} needs a value"))
        };
        let result: Result<(), String> = match arg.as_str() {
            "--port" | "-p" => value("--port").and_then(|v| {
                v.parse()
                    .map(|p| port = p)
                    .map_err(|_| format!("locusta demo-target: invalid port '{v}'"))
            }),
            "--bind" => value("--bind").map(|v| bind = v),
            "--tls-port" => value("--tls-port").and_then(|v| {
                v.parse()
                    .map(|p| tls_port = Some(p))
                    .map_err(|_| format!("locusta demo-target: invalid TLS port '{v}'"))
            }),
            "--tls-cert" => value("--tls-cert").map(|v| tls_cert = Some(v.into())),
            "--tls-key" => value("--tls-key").map(|v| tls_key = Some(v.into())),
            "--threads" => value("--threads").and_then(|v| {
                v.parse()
                    .map(|t| cfg.threads = t)
                    .map_err(|_| format!("locusta demo-target: invalid thread count '{v}'"))
            }),
            "--checkout-hold-ms" => value("--checkout-hold-ms").and_then(|v| {
                v.parse()
                    .map(|ms| cfg.checkout_hold = std::time::Duration::from_millis(ms))
                    .map_err(|_| format!("locusta demo-target: invalid duration '{v}'"))
            }),
            "-h" | "--help" => {
                println!(
                    "Usage: locusta demo-target [--port 8080] [--bind 127.0.0.1] [--threads 1] [--checkout-hold-ms 2]\n\
                     \x20                          [--tls-port 8443 [--tls-cert cert.pem --tls-key key.pem]]\n\n\
                     Serves the built-in shop API (the target of `locusta demo`) until Ctrl-C: HTTP/1.1,\n\
                     h2c (HTTP/2 with prior knowledge), WebSocket and gRPC on --port; with --tls-port,\n\
                     the same over TLS on a second port (ALPN h2 and http/1.1), with a self-signed\n\
                     certificate for localhost, 127.0.0.1 and ::1 unless --tls-cert/--tls-key give one."
                );
                return 0;
            }
            other => Err(format!(
                "locusta demo-target: unknown argument '{other}' (see --help)"
            )),
        };
        if let Err(e) = result {
            eprintln!("{e}");
            return 2;
        }
    }
    let addr: SocketAddr = match format!("{bind}:{port}").parse() {
        Ok(a) => a,
        Err(_) => {
            eprintln!("locusta demo-target: '{bind}' is not an IP address");
            return 2;
        }
    };
    let cert = match (tls_cert, tls_key) {
        (None, None) => TlsCert::SelfSigned,
        (Some(cert), Some(key)) => TlsCert::Files { cert, key },
        (Some(_), None) | (None, Some(_)) => {
            eprintln!("locusta demo-target: --tls-cert and --tls-key go together (a PEM certificate chain and its private key)");
            return 2;
        }
    };
    match tls_port {
        Some(tls_port) => {
            cfg.tls = Some(TlsConfig {
                addr: SocketAddr::new(addr.ip(), tls_port),
                cert,
            })
        }
        None if cert != TlsCert::SelfSigned => {
            eprintln!("locusta demo-target: --tls-cert and --tls-key need --tls-port (the port of the TLS listener)");
            return 2;
        }
        None => {}
    }
    let server = match DemoServer::start(addr, cfg) {
        Ok(s) => s,
        Err(e) => {
            // the error names the address or file and what to do
            let e = e.to_string();
            eprintln!(
                "locusta demo-target: {}",
                e.trim_start_matches("demo target: ")
            );
            return 1;
        }
    };
    eprintln!(
        "locusta demo-target: serving the shop API on {} (Ctrl-C to stop)",
        server.base_url()
    );
    if let Some(url) = server.tls_url() {
        eprintln!("locusta demo-target: serving it over TLS on {url} (ALPN h2 and http/1.1)");
    }
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("locusta demo-target: {e}");
            return 1;
        }
    };
    rt.block_on(async {
        let mut term =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            Some(_) = async { match term.as_mut() { Some(t) => t.recv().await, None => std::future::pending().await } } => {}
        }
    });
    server.shutdown();
    0
}
