//! Users for the demo target's degradation patterns (`/_insight/*`): `locusta demo PoolUser`
//! and friends show what the diagnosis finds, and `StallUser` is the open-model benchmark's
//! user. They run only when named on the command line; plain `locusta demo` runs the shop.
//!
//! | class | endpoint | what the diagnosis should say |
//! |---|---|---|
//! | `LinearUser` | `/_insight/linear` (+4 ms per concurrent request) and `/_insight/fast` | linear, culprit `/_insight/linear` |
//! | `PoolUser` | `/_insight/pool` (pool of 10, then 200 ms and 503) and `/_insight/fast` | cliff above 10 concurrent requests |
//! | `SpikeUser` | `/_insight/spike` (flat up to 10, then quadratic) and `/_insight/fast` | flat-then-spike |
//! | `StallUser` | `/_insight/stall` (1 s stall every 10 s) | sawtooth |
//! | `DriftUser` | `/_insight/drift` (+5 ms per second since the first request) and `/_insight/fast` | drift, at a constant load too |
//! | `LimitUser` | `/_insight/limit` (rate limiter of 100 requests/s), 10 requests/s per user | cliff (429 failures) above 10 users |
//!
//! They wait 0 s between tasks (`LimitUser` paces itself to 10 tasks per second), so the load
//! is set by the number of users (closed model) or by `--arrival-rate` (open model).

use crate::wait_time::{constant, constant_throughput};
use crate::{task, TaskResult, User, UserClass};

async fn fast(user: &mut User) -> TaskResult {
    user.client.get("/_insight/fast").send().await;
    Ok(())
}

async fn linear(user: &mut User) -> TaskResult {
    user.client
        .get("/_insight/linear?base_ms=2&per_ms=4")
        .name("/_insight/linear")
        .send()
        .await;
    Ok(())
}

async fn pool(user: &mut User) -> TaskResult {
    user.client
        .get("/_insight/pool?size=10&hold_ms=5&timeout_ms=200")
        .name("/_insight/pool")
        .send()
        .await;
    Ok(())
}

async fn spike(user: &mut User) -> TaskResult {
    user.client
        .get("/_insight/spike?flat=10&base_ms=2&per_ms=1")
        .name("/_insight/spike")
        .send()
        .await;
    Ok(())
}

async fn stall(user: &mut User) -> TaskResult {
    user.client
        .get("/_insight/stall?period_s=10&stall_ms=1000&base_ms=1")
        .name("/_insight/stall")
        .send()
        .await;
    Ok(())
}

async fn drift(user: &mut User) -> TaskResult {
    user.client
        .get("/_insight/drift?base_ms=2&per_s_ms=5")
        .name("/_insight/drift")
        .send()
        .await;
    Ok(())
}

async fn limit(user: &mut User) -> TaskResult {
    user.client
        .get("/_insight/limit?rps=100")
        .name("/_insight/limit")
        .send()
        .await;
    Ok(())
}

/// The pattern users (see the module documentation).
pub fn pattern_user_classes() -> Vec<UserClass> {
    vec![
        UserClass::new("LinearUser")
            .wait_time(constant(0.0))
            .task(task!(linear))
            .task(task!(fast)),
        UserClass::new("PoolUser")
            .wait_time(constant(0.0))
            .task(task!(pool).weight(4))
            .task(task!(fast)),
        UserClass::new("SpikeUser")
            .wait_time(constant(0.0))
            .task(task!(spike).weight(4))
            .task(task!(fast)),
        UserClass::new("StallUser")
            .wait_time(constant(0.0))
            .task(task!(stall)),
        UserClass::new("DriftUser")
            .wait_time(constant(0.0))
            .task(task!(drift).weight(4))
            .task(task!(fast)),
        UserClass::new("LimitUser")
            .wait_time(constant_throughput(10.0))
            .task(task!(limit)),
    ]
}
