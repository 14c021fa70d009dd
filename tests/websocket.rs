//! Rust-native WebSocket users against the demo target's `/ws/echo` and `/ws/chat` in a real
//! headless run: what the users see (echoes, broadcasts, the chosen subprotocol, the server's
//! close code, a receive timeout) and what the statistics record (`WS`, `WSS`, `WSR`, `WSP`
//! rows, failures with their texts in the CSV files).

use std::ffi::OsString;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use locusta::wait_time::constant;
use locusta::{Locustfile, Task, TaskError, TaskResult, User, UserClass, WsError, WsMessage};
use locusta_demo::{DemoConfig, DemoServer};

type Problems = Arc<Mutex<Vec<String>>>;

fn check(problems: &Problems, ok: bool, what: String) {
    if !ok {
        problems
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(what);
    }
}

async fn echo_scenario(user: &mut User, problems: Problems) -> TaskResult {
    let mut ws = user
        .client
        .websocket("/ws/echo")
        .name("echo")
        .subprotocol("nonsense")
        .subprotocol("echo.v1")
        .recv_timeout(Duration::from_secs(5))
        .connect()
        .await?;
    check(
        &problems,
        ws.protocol() == Some("echo.v1"),
        format!("subprotocol {:?}", ws.protocol()),
    );
    ws.send_text("hello").await?;
    let reply = ws.recv().await?;
    check(
        &problems,
        reply == WsMessage::Text("hello".into()),
        format!("echo {reply:?}"),
    );
    for i in 0..3 {
        let payload = vec![i as u8; 100];
        let expected = payload.clone();
        let reply = ws
            .request("echo pair", WsMessage::Binary(payload.into()), move |m| {
                m.as_bytes() == expected.as_slice()
            })
            .await?;
        check(
            &problems,
            reply.len() == 100,
            format!("pair reply {}", reply.len()),
        );
    }
    let rtt = ws.ping().await?;
    check(
        &problems,
        rtt < Duration::from_secs(5),
        format!("ping {rtt:?}"),
    );
    ws.close().await;
    check(&problems, ws.is_closed(), "closed after close()".into());
    Ok(())
}

async fn chat_scenario(user: &mut User, problems: Problems) -> TaskResult {
    let mut alice = user
        .client
        .websocket("/ws/chat")
        .name("chat alice")
        .recv_timeout(Duration::from_secs(5))
        .connect()
        .await?;
    let mut bob = user
        .client
        .websocket("/ws/chat")
        .name("chat bob")
        .recv_timeout(Duration::from_secs(5))
        .connect()
        .await?;
    // Both are in the room once the server has them; a request/response pair proves it for
    // alice, then bob must see the same broadcast.
    alice
        .request("chat broadcast", WsMessage::Text("hi all".into()), |m| {
            m.as_text() == Some("hi all")
        })
        .await?;
    let seen = bob.recv().await?;
    check(
        &problems,
        seen.as_text() == Some("hi all"),
        format!("bob saw {seen:?}"),
    );
    alice.close().await;
    bob.close().await;
    Ok(())
}

async fn failure_scenario(user: &mut User, problems: Problems) -> TaskResult {
    match user.client.websocket("/ws/nope").connect().await {
        Err(WsError::Handshake { status: 404, .. }) => {}
        other => check(&problems, false, format!("/ws/nope gave {other:?}")),
    }
    let mut closing = user
        .client
        .websocket("/ws/echo?close_after=1")
        .name("closing")
        .recv_timeout(Duration::from_secs(5))
        .connect()
        .await?;
    closing.send_text("one").await?;
    let first = closing.recv().await?;
    check(
        &problems,
        first.as_text() == Some("one"),
        format!("first {first:?}"),
    );
    match closing.recv().await {
        Err(WsError::Closed {
            code: Some(1000), ..
        }) => {}
        other => check(&problems, false, format!("after close_after: {other:?}")),
    }
    check(&problems, closing.is_closed(), "closing.is_closed()".into());
    let mut quiet = user
        .client
        .websocket("/ws/echo")
        .name("quiet")
        .recv_timeout(Duration::from_millis(200))
        .connect()
        .await?;
    let started = std::time::Instant::now();
    match quiet.recv().await {
        Err(WsError::Timeout(_)) => {}
        other => check(&problems, false, format!("quiet recv: {other:?}")),
    }
    check(
        &problems,
        started.elapsed() < Duration::from_secs(2),
        format!("timeout took {:?}", started.elapsed()),
    );
    // a timeout leaves the connection usable
    quiet.send_text("still there").await?;
    let again = quiet.recv().await?;
    check(
        &problems,
        again.as_text() == Some("still there"),
        format!("after timeout {again:?}"),
    );
    Ok(())
}

/// One user of `name` that runs `scenario` once; the last one to finish ends the run.
fn once<F>(name: &'static str, done: Arc<AtomicUsize>, total: usize, scenario: F) -> UserClass
where
    F: Fn(
            &mut User,
        ) -> std::pin::Pin<Box<dyn std::future::Future<Output = TaskResult> + Send + '_>>
        + Send
        + Sync
        + 'static,
{
    let scenario = Arc::new(scenario);
    let task = Task::new(name, move |user: &mut User| {
        let done = Arc::clone(&done);
        let scenario = Arc::clone(&scenario);
        Box::pin(async move {
            if let Err(e) = scenario(user).await {
                println!("{name}: {e}");
            }
            if done.fetch_add(1, Ordering::SeqCst) + 1 == total {
                Err(TaskError::StopTest)
            } else {
                Err(TaskError::StopUser)
            }
        })
    });
    UserClass::new(name)
        .fixed_count(1)
        .wait_time(constant(0.0))
        .task(task)
}

fn read_rows(path: &std::path::Path) -> Vec<Vec<String>> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    reader
        .records()
        .map(|r| r.expect("csv row").iter().map(str::to_owned).collect())
        .collect()
}

#[test]
fn websocket_users_talk_to_the_demo_target_and_are_recorded() {
    let server =
        DemoServer::start(([127, 0, 0, 1], 0).into(), DemoConfig::default()).expect("target");
    let base = server.base_url();
    let problems: Problems = Arc::default();
    let done = Arc::new(AtomicUsize::new(0));
    let (p1, p2, p3) = (problems.clone(), problems.clone(), problems.clone());
    let classes = vec![
        once("EchoUser", Arc::clone(&done), 3, move |u| {
            Box::pin(echo_scenario(u, p1.clone()))
        }),
        once("ChatUser", Arc::clone(&done), 3, move |u| {
            Box::pin(chat_scenario(u, p2.clone()))
        }),
        once("FailureUser", Arc::clone(&done), 3, move |u| {
            Box::pin(failure_scenario(u, p3.clone()))
        }),
    ];
    let dir = tempfile::tempdir().expect("tempdir");
    let prefix = dir.path().join("ws");
    let args: Vec<OsString> = [
        "locusta",
        "--headless",
        "-H",
        &base,
        "-u",
        "3",
        "-r",
        "100",
        "-t",
        "60s",
        "--only-summary",
        "--csv",
        prefix.to_str().expect("utf8"),
        "-L",
        "ERROR",
    ]
    .iter()
    .map(OsString::from)
    .collect();
    let code = locusta::run_locustfile(
        Locustfile {
            classes,
            ..Default::default()
        },
        args,
    );
    let problems = problems.lock().unwrap_or_else(|e| e.into_inner()).clone();
    assert!(problems.is_empty(), "scenario checks failed: {problems:?}");
    assert_eq!(
        code, 1,
        "the refused handshake and the failures fail the run"
    );

    // Type,Name,Request Count,Failure Count,...,Average Content Size (col 8)
    let stats = read_rows(&dir.path().join("ws_stats.csv"));
    let row = |kind: &str, name: &str| -> Vec<String> {
        stats
            .iter()
            .find(|r| r[0] == kind && r[1] == name)
            .unwrap_or_else(|| panic!("no row {kind} {name} in {stats:?}"))
            .clone()
    };
    let counts = |kind: &str, name: &str| {
        let r = row(kind, name);
        (r[2].clone(), r[3].clone())
    };
    assert_eq!(counts("WS", "echo"), ("1".into(), "0".into()));
    assert_eq!(counts("WSS", "echo"), ("1".into(), "0".into()));
    assert_eq!(counts("WSR", "echo"), ("1".into(), "0".into()));
    assert_eq!(counts("WS", "echo pair"), ("3".into(), "0".into()));
    assert_eq!(row("WS", "echo pair")[8], "100.0", "reply length recorded");
    assert_eq!(row("WSR", "echo")[8], "5.0", "'hello' is 5 bytes");
    assert_eq!(counts("WSP", "echo"), ("1".into(), "0".into()));
    assert_eq!(counts("WS", "chat alice"), ("1".into(), "0".into()));
    assert_eq!(counts("WS", "chat broadcast"), ("1".into(), "0".into()));
    assert_eq!(counts("WSR", "chat bob"), ("1".into(), "0".into()));
    assert_eq!(counts("WS", "/ws/nope"), ("1".into(), "1".into()));
    assert_eq!(counts("WSR", "closing"), ("2".into(), "1".into()));
    assert_eq!(counts("WSR", "quiet"), ("2".into(), "1".into()));

    // Method,Name,Error,Occurrences
    let failures = read_rows(&dir.path().join("ws_failures.csv"));
    let failure = |kind: &str, name: &str| -> String {
        failures
            .iter()
            .find(|r| r[0] == kind && r[1] == name)
            .unwrap_or_else(|| panic!("no failure {kind} {name} in {failures:?}"))[2]
            .clone()
    };
    assert_eq!(
        failure("WS", "/ws/nope"),
        "WebSocketBadStatus: handshake refused with HTTP 404 Not Found"
    );
    assert_eq!(
        failure("WSR", "closing"),
        "WebSocketClosed: closed by the server (code 1000, \"close_after reached\")"
    );
    assert_eq!(
        failure("WSR", "quiet"),
        "WebSocketTimeout: no message within 0.200 s"
    );
}

#[test]
fn the_demo_chat_user_chats_in_the_demo_targets_room() {
    let dir = tempfile::tempdir().expect("tempdir");
    let prefix = dir.path().join("chat");
    let args: Vec<OsString> = [
        "locusta",
        "ChatUser",
        "-u",
        "5",
        "-r",
        "50",
        "-t",
        "3s",
        "--only-summary",
        "--csv",
        prefix.to_str().expect("utf8"),
        "-L",
        "ERROR",
    ]
    .iter()
    .map(OsString::from)
    .collect();
    assert_eq!(locusta::demo::run_demo(args), 0);
    let stats = read_rows(&dir.path().join("chat_stats.csv"));
    let counts = |kind: &str, name: &str| -> (u64, u64) {
        let r = stats
            .iter()
            .find(|r| r[0] == kind && r[1] == name)
            .unwrap_or_else(|| panic!("no row {kind} {name} in {stats:?}"));
        (r[2].parse().expect("count"), r[3].parse().expect("count"))
    };
    assert_eq!(counts("WS", "/ws/chat"), (5, 0));
    let (said, failed) = counts("WS", "chat message");
    assert!(said >= 5 && failed == 0, "{said} {failed}");
    // five users in one room: each hears the others
    let (heard, failed) = counts("WSR", "/ws/chat");
    assert!(heard >= said && failed == 0, "{heard} {failed}");
}
