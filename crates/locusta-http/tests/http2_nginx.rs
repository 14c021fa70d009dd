//! HTTP/2 against a server we did not write: nginx with its `http2` listeners, h2c with prior
//! knowledge and TLS with ALPN (a self-signed certificate), next to an HTTP/1.1-only TLS
//! listener. Skipped, with a message, where nginx is not installed (`scripts/test.sh` installs
//! Debian's nginx on CI).

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use locusta_http::{ClientConfig, Http2Mode, HttpClient, RequestSpec};

fn nginx_binary() -> Option<PathBuf> {
    ["/usr/sbin/nginx", "/usr/bin/nginx", "/usr/local/sbin/nginx"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// nginx on three fresh ports: h2c, TLS offering h2 and http/1.1, TLS with http/1.1 only. One
/// process (`master_process off`), so killing it leaves no worker behind.
struct Nginx {
    child: Child,
    h2c: u16,
    tls_h2: u16,
    tls_http1: u16,
    _dir: tempfile::TempDir,
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_nginx(binary: &Path) -> Nginx {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let ck = rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()])
        .expect("certificate");
    std::fs::write(d.join("cert.pem"), ck.cert.pem()).expect("write cert");
    std::fs::write(d.join("key.pem"), ck.signing_key.serialize_pem()).expect("write key");
    let (h2c, tls_h2, tls_http1) = (free_port(), free_port(), free_port());
    let dp = d.display();
    // nginx 1.22 (Debian 12) names HTTP/2 in `listen`; 1.25+ still accepts it (with a warning).
    let conf = format!(
        r#"
worker_processes 1;
daemon off;
master_process off;
pid {dp}/nginx.pid;
error_log {dp}/error.log;
events {{ worker_connections 256; }}
http {{
    access_log off;
    client_body_temp_path {dp};
    proxy_temp_path {dp};
    fastcgi_temp_path {dp};
    uwsgi_temp_path {dp};
    scgi_temp_path {dp};
    ssl_certificate {dp}/cert.pem;
    ssl_certificate_key {dp}/key.pem;
    server {{
        listen 127.0.0.1:{h2c} http2;
        listen 127.0.0.1:{tls_h2} ssl http2;
        location / {{ return 200 "$server_protocol $request_method $uri\n"; }}
        location /big {{ return 200 "{big}"; }}
    }}
    server {{
        listen 127.0.0.1:{tls_http1} ssl;
        location / {{ return 200 "$server_protocol $request_method $uri\n"; }}
    }}
}}
"#,
        big = "x".repeat(3000)
    );
    std::fs::write(d.join("nginx.conf"), conf).expect("write conf");
    let child = Command::new(binary)
        .arg("-c")
        .arg(d.join("nginx.conf"))
        .arg("-p")
        .arg(d)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start nginx");
    let deadline = Instant::now() + Duration::from_secs(10);
    for port in [h2c, tls_h2, tls_http1] {
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "nginx did not start: {}",
                std::fs::read_to_string(d.join("error.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    Nginx {
        child,
        h2c,
        tls_h2,
        tls_http1,
        _dir: dir,
    }
}

#[tokio::test(flavor = "current_thread")]
async fn speaks_http2_to_nginx_over_h2c_and_tls_alpn() {
    let Some(binary) = nginx_binary() else {
        eprintln!("nginx not installed (apt-get install nginx): HTTP/2 interop test skipped");
        return;
    };
    let nginx = start_nginx(&binary);
    let client = HttpClient::new(ClientConfig {
        http2: Http2Mode::PriorKnowledge,
        verify_tls: false,
        timeout: Some(Duration::from_secs(10)),
        ..ClientConfig::default()
    })
    .expect("client");

    for base in [
        format!("http://127.0.0.1:{}", nginx.h2c),
        format!("https://127.0.0.1:{}", nginx.tls_h2),
    ] {
        let session = client.session(Some(&base)).expect("session");
        // concurrent requests of one session: streams of its one connection
        let specs: Vec<RequestSpec> = (0..20)
            .map(|i| RequestSpec::get(format!("/item/{i}")))
            .collect();
        let exchanges =
            futures_util::future::join_all(specs.iter().map(|s| session.send_ref(s))).await;
        for (i, ex) in exchanges.into_iter().enumerate() {
            let r = ex.result.unwrap_or_else(|e| panic!("{base}: {e}"));
            assert_eq!(r.status, 200);
            assert_eq!(r.http_version(), "HTTP/2", "{base}");
            assert_eq!(r.text(), format!("HTTP/2.0 GET /item/{i}\n"));
        }
        let post = session
            .send(RequestSpec::post("/form").bytes(
                &b"a=1"[..],
                Some("application/x-www-form-urlencoded".into()),
            ))
            .await
            .result
            .expect("POST");
        assert_eq!(post.text(), "HTTP/2.0 POST /form\n");
        let big = session
            .send(RequestSpec::get("/big"))
            .await
            .result
            .expect("big");
        assert_eq!(big.body.len(), 3000);
        assert_eq!(session.http2_connections(), 1, "{base}");
    }

    // a TLS server that does not offer h2 in ALPN keeps HTTP/1.1
    let session = client
        .session(Some(&format!("https://127.0.0.1:{}", nginx.tls_http1)))
        .expect("session");
    let r = session
        .send(RequestSpec::get("/plain"))
        .await
        .result
        .expect("GET");
    assert_eq!(r.http_version(), "HTTP/1.1");
    assert_eq!(r.text(), "HTTP/1.1 GET /plain\n");
    assert_eq!(session.http2_connections(), 0);
}
