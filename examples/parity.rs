//! The lifecycle parity scenario in Rust (its Python twin is
//! `tests/python/locustfiles/parity.py`): one user class, a three-stage load shape, and test
//! hooks that say where they ran. `tests/python/test_lifecycle_parity.py` runs both in every
//! kind of run (headless and web UI, one process, `--processes 2`, `--master` with workers) and
//! expects the same behaviour.

use std::time::Duration;

use locusta::wait_time::constant;
use locusta::{task, Locustfile, Stages, TaskResult, User, UserClass};

async fn index(user: &mut User) -> TaskResult {
    user.client.get("/").send().await;
    Ok(())
}

fn main() {
    let users = UserClass::new("ParityUser")
        .wait_time(constant(0.2))
        .task(task!(index));
    let locustfile = Locustfile::new(vec![users])
        .shape(Stages::new([
            (Duration::from_secs(2), 1, 10.0),
            (Duration::from_secs(4), 3, 10.0),
            (Duration::from_secs(6), 2, 10.0),
        ]))
        .on_test_start(|event| {
            // One write per line: the workers of --processes share the master's stderr.
            let line = format!(
                "PARITY test_start on {:?} (worker_index {:?})\n",
                event.node, event.worker_index
            );
            eprint!("{line}");
        })
        .on_test_stop(|event| eprintln!("PARITY test_stop on {:?}", event.node));
    std::process::exit(locusta::run_locustfile(
        locustfile,
        std::env::args_os().collect(),
    ));
}
