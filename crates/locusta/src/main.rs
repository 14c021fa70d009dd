//! The `locusta` command.
//!
//! `locusta demo` and `locusta demo-target` are handled here; everything else is Locust's
//! command line (Python locustfiles arrive with the Python package).

use std::ffi::OsString;

fn main() {
    let args: Vec<OsString> = std::env::args_os().collect();
    let code = match args.get(1).and_then(|a| a.to_str()) {
        Some("demo") => {
            let mut rest = args.clone();
            rest.remove(1);
            locusta::demo::run_demo(rest)
        }
        Some("demo-target") => {
            let mut rest = args.clone();
            rest.remove(1);
            locusta::demo::run_demo_target(rest)
        }
        _ => locusta::run_locustfile(
            locusta::Locustfile {
                classes: Vec::new(),
                ..Default::default()
            },
            args,
        ),
    };
    std::process::exit(code);
}
