//! The WebSocket benchmark's Rust-native users (`bench/websocket_bench.py`), chosen by `WS_BENCH`:
//!
//! * `echo` (default): one connection per user to `/ws/echo`, then request/response pairs
//!   back to back (`WS echo pair` rows): requests per CPU-second.
//! * `idle`: one connection per user to `/ws/echo`, then nothing (a task that waits 60 s between
//!   pings): memory per idle connected user.
//!
//! ```text
//! locusta demo-target --port 8089 &
//! WS_BENCH=idle cargo run --release --example websocket_users -- --headless -u 2000 -r 500 -t 20s -H http://127.0.0.1:8089
//! ```

use std::time::Duration;

use locusta::wait_time::constant;
use locusta::{Task, TaskResult, User, UserClass, WebSocketConnection, WsMessage};

/// Connects on the user's first task and keeps the connection in its state.
async fn connection(user: &mut User) -> Result<&mut WebSocketConnection, locusta::TaskError> {
    if user.state::<WebSocketConnection>().is_none() {
        let ws = user
            .client
            .websocket("/ws/echo")
            .name("echo")
            .recv_timeout(Duration::from_secs(10))
            .connect()
            .await?;
        user.set_state(ws);
    }
    user.state::<WebSocketConnection>()
        .ok_or_else(|| locusta::TaskError::Failed("no connection".into()))
}

async fn echo(user: &mut User) -> TaskResult {
    let ws = connection(user).await?;
    ws.request("echo pair", WsMessage::Text("hello".into()), |m| {
        m.as_text() == Some("hello")
    })
    .await?;
    Ok(())
}

async fn idle(user: &mut User) -> TaskResult {
    let first = user.state::<WebSocketConnection>().is_none();
    let ws = connection(user).await?;
    if !first {
        ws.ping().await?;
    }
    Ok(())
}

fn main() {
    let class = match std::env::var("WS_BENCH").as_deref() {
        Ok("idle") => UserClass::new("WsIdleUser")
            .wait_time(constant(60.0))
            .task(Task::new("idle", |u: &mut User| Box::pin(idle(u)))),
        _ => UserClass::new("WsEchoUser")
            .wait_time(constant(0.0))
            .task(Task::new("echo", |u: &mut User| Box::pin(echo(u)))),
    };
    std::process::exit(locusta::run_cli(vec![class]));
}
