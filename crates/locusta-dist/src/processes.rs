//! `--processes N`: the master's local worker processes, and `--worker --processes N`.
//!
//! Workers are fresh processes of the same command (not forks, so they work with a tokio
//! runtime and with Python users alike), each told `--worker` and where its master listens.

use std::time::Duration;

/// This process's command line for a worker: the same arguments without `--master`,
/// `--processes` and the master's bind options, plus `--worker --master-host/--master-port`
/// and `--processes 0` (so a `LOCUST_PROCESSES` in the environment does not recurse).
pub fn worker_args(master_host: &str, master_port: u16) -> Vec<std::ffi::OsString> {
    let mut out: Vec<std::ffi::OsString> = Vec::new();
    let mut args = std::env::args_os().skip(1);
    while let Some(a) = args.next() {
        let s = a.to_string_lossy();
        let takes_value = [
            "--processes",
            "--master-bind-host",
            "--master-bind-port",
            "--expect-workers",
            "--expect-workers-max-wait",
            "--master-host",
            "--master-port",
        ];
        if s == "--master" || s == "--enable-rebalancing" || s == "--worker" {
            continue;
        }
        if takes_value.contains(&s.as_ref()) {
            args.next();
            continue;
        }
        if takes_value.iter().any(|f| s.starts_with(&format!("{f}="))) {
            continue;
        }
        out.push(a);
    }
    out.extend(
        [
            "--worker",
            "--master-host",
            master_host,
            "--master-port",
            &master_port.to_string(),
            "--processes",
            "0",
        ]
        .iter()
        .map(std::ffi::OsString::from),
    );
    out
}

/// Starts one worker process: this executable with `args` (a fresh process, not a fork, so it
/// works with the tokio runtime and with Python users alike).
/// `LOCUSTA_EXECUTABLE` names the program when it is not this executable (the Python
/// package sets it to `sys.executable`, since the interpreter binary would lose the venv).
pub fn spawn_worker_process(args: &[std::ffi::OsString]) -> std::io::Result<std::process::Child> {
    let exe = match std::env::var_os("LOCUSTA_EXECUTABLE") {
        Some(e) if !e.is_empty() => std::path::PathBuf::from(e),
        _ => std::env::current_exe()?,
    };
    let mut cmd = std::process::Command::new(exe);
    cmd.args(args).stdin(std::process::Stdio::null());
    // A worker whose master process died (killed, crashed) gets SIGTERM instead of retrying to
    // connect for minutes. The signal follows the thread that started it, which lives as long
    // as the master's loop: both masters start their workers there and reap them there.
    // SAFETY: prctl is async-signal-safe and touches only this (child) process.
    unsafe {
        use std::os::unix::process::CommandExt;
        cmd.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    cmd.spawn()
}

/// Waits for child processes to exit, killing those still running after `limit`.
pub fn reap(mut kids: Vec<std::process::Child>, limit: Duration) {
    let deadline = std::time::Instant::now() + limit;
    while !kids.is_empty() {
        kids.retain_mut(|c| !matches!(c.try_wait(), Ok(Some(_)) | Err(_)));
        if std::time::Instant::now() >= deadline {
            for c in &mut kids {
                let _ = c.kill();
                let _ = c.wait();
            }
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// `--worker --processes N`: runs N worker processes and waits for them; returns the first
/// non-zero exit code, if any.
pub fn run_worker_processes(n: u64, master_host: &str, master_port: u16) -> i32 {
    let args = worker_args(master_host, master_port);
    let mut kids = Vec::new();
    for i in 0..n {
        match spawn_worker_process(&args) {
            Ok(c) => kids.push(c),
            Err(e) => {
                log::error!(target: "locusta.main", "cannot start worker process {i}: {e}");
                return 1;
            }
        }
    }
    let mut code = 0;
    for mut c in kids {
        if let Ok(status) = c.wait() {
            if code == 0 {
                code = status.code().unwrap_or(1);
            }
        }
    }
    code
}
