//! A program whose users also fail: one endpoint answers 503 and one task raises an error, so
//! the web UI's Failures and Exceptions tabs have something to show. It starts the built-in
//! demo target on a loopback port itself. The web UI's end-to-end test and screenshots use it.
//!
//! ```text
//! cargo run --example web_showcase -- --web-port 8089
//! ```

use locusta::wait_time::constant;
use locusta::{task, Locustfile, TaskError, TaskResult, User, UserClass};
use locusta_demo::{DemoConfig, DemoServer};

async fn home(user: &mut User) -> TaskResult {
    user.client.get("/").send().await;
    Ok(())
}

async fn products(user: &mut User) -> TaskResult {
    user.client
        .get("/api/products?page=1&limit=20")
        .name("/api/products")
        .send()
        .await;
    Ok(())
}

async fn maintenance(user: &mut User) -> TaskResult {
    user.client
        .get("/_test/status/503")
        .name("/maintenance")
        .send()
        .await;
    Ok(())
}

async fn price_check(_user: &mut User) -> TaskResult {
    Err(TaskError::failed("ValueError('price must be positive')"))
}

fn main() {
    let target = match DemoServer::start(([127, 0, 0, 1], 0).into(), DemoConfig::default()) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("web_showcase: {e}");
            std::process::exit(1);
        }
    };
    let users = UserClass::new("Shopper")
        .wait_time(constant(0.2))
        .task(task!(home).weight(3))
        .task(task!(products).weight(3))
        .task(task!(maintenance))
        .task(task!(price_check));
    let code = locusta::run_locustfile(
        Locustfile::new(vec![users]).default_host(target.base_url()),
        std::env::args_os().collect(),
    );
    target.shutdown();
    std::process::exit(code);
}
