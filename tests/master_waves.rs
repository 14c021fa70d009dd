//! Workers joining and leaving in waves (issue 19): 1,000 workers join a running master within
//! about a second, then 10% vanish (half stop sending, half close their connection). The
//! worker counts stay exact, no worker that keeps beating is marked missing, and with
//! `--enable-rebalancing` the users are dealt out again over the workers that are left: every
//! live worker's last `spawn` adds up to the run's user count and no two differ by more than
//! one user. A wave costs the master a few redistributions, not one per joining worker.

mod sim_worker;

use std::collections::HashMap;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use locusta_dist::rmpv::Value;
use sim_worker::{free_port, heartbeat, process_cpu, Worker};

const FIRST: usize = 100;
const WAVE: usize = 1000;
const USERS: u64 = 3000;

fn start_master(port: u16, dir: &Path) -> Child {
    let log = std::fs::File::create(dir.join("master.log")).expect("log");
    Command::new(env!("CARGO_BIN_EXE_locusta"))
        .args([
            "demo",
            "--master",
            "--headless",
            "--enable-rebalancing",
            "--master-bind-host",
            "127.0.0.1",
            "--master-bind-port",
            &port.to_string(),
            "--expect-workers",
            &FIRST.to_string(),
            "-u",
            &USERS.to_string(),
            "-r",
            &USERS.to_string(),
            "-t",
            "120s",
            "-H",
            "http://127.0.0.1:9",
            "--only-summary",
        ])
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("start the master")
}

/// The simulated workers and what the master last told each of them.
struct Fleet {
    workers: Vec<Option<Worker>>,
    /// Workers that no longer send heartbeats (vanished).
    silent: Vec<bool>,
    /// Users in the last `spawn` each worker received.
    assigned: Vec<Option<u64>>,
    /// `spawn` messages received in all.
    spawns: u64,
    buf: Vec<u8>,
    last_beat: Instant,
}

impl Fleet {
    fn new() -> Fleet {
        Fleet {
            workers: Vec::new(),
            silent: Vec::new(),
            assigned: Vec::new(),
            spawns: 0,
            buf: Vec::new(),
            last_beat: Instant::now(),
        }
    }

    /// Connects a worker and sends `client_ready`.
    fn join(&mut self, port: u16) {
        let i = self.workers.len();
        let id = format!("wave{i:05}_{i:032x}");
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut w = loop {
            match Worker::connect(port, id.clone()) {
                Ok(w) => break w,
                Err(e) if Instant::now() < deadline => {
                    let _ = e;
                    std::thread::sleep(Duration::from_millis(100));
                }
                Err(e) => panic!("cannot connect worker {i}: {e}"),
            }
        };
        w.send("client_ready", Value::from(-1), &mut self.buf);
        self.workers.push(Some(w));
        self.silent.push(false);
        self.assigned.push(None);
    }

    /// Reads what the master sent, and sends the heartbeats due (every second).
    fn pump(&mut self) {
        for (i, slot) in self.workers.iter_mut().enumerate() {
            let Some(w) = slot else { continue };
            for m in w.receive() {
                if m.kind == "spawn" {
                    self.spawns += 1;
                    self.assigned[i] = Some(spawned_users(&m.data));
                }
            }
        }
        if self.last_beat.elapsed() >= Duration::from_secs(1) {
            self.last_beat = Instant::now();
            for (i, slot) in self.workers.iter_mut().enumerate() {
                if let (Some(w), false) = (slot, self.silent[i]) {
                    w.send("heartbeat", heartbeat(), &mut self.buf);
                }
            }
        }
    }

    /// The users assigned to the workers that still beat, when every one of them has been
    /// told its share: (sum, fewest, most).
    fn live_assignment(&self) -> Option<(u64, u64, u64)> {
        let mut sum = 0;
        let (mut lo, mut hi) = (u64::MAX, 0);
        for (i, a) in self.assigned.iter().enumerate() {
            if self.silent[i] {
                continue;
            }
            let n = (*a)?;
            sum += n;
            lo = lo.min(n);
            hi = hi.max(n);
        }
        Some((sum, lo, hi))
    }

    /// Pumps until `done` holds (true) or `limit` passes (false).
    fn pump_until(&mut self, limit: Duration, mut done: impl FnMut(&Fleet) -> bool) -> bool {
        let start = Instant::now();
        while start.elapsed() < limit {
            self.pump();
            if done(self) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        false
    }
}

/// The users of every class in a `spawn` message's `user_classes_count`.
fn spawned_users(data: &Value) -> u64 {
    let Value::Map(pairs) = data else { return 0 };
    pairs
        .iter()
        .find(|(k, _)| k.as_str() == Some("user_classes_count"))
        .and_then(|(_, v)| match v {
            Value::Map(counts) => Some(counts.iter().filter_map(|(_, n)| n.as_u64()).sum()),
            _ => None,
        })
        .unwrap_or(0)
}

fn count(log: &Path, text: &str) -> usize {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .matches(text)
        .count()
}

/// Fails with the master's log.
fn fail(log: &Path, what: &str) -> ! {
    panic!(
        "{what}\nmaster log:\n{}",
        std::fs::read_to_string(log).unwrap_or_default()
    )
}

#[test]
fn workers_join_and_vanish_in_waves_and_the_users_are_rebalanced() {
    let dir = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let mut master = start_master(port, dir.path());
    let log = dir.path().join("master.log");
    let pid = master.id();
    let mut fleet = Fleet::new();

    // The first workers: the test starts once they are there.
    for _ in 0..FIRST {
        fleet.join(port);
    }
    let balanced = |f: &Fleet| matches!(f.live_assignment(), Some((sum, lo, hi)) if sum == USERS && hi - lo <= 1);
    if !fleet.pump_until(Duration::from_secs(30), balanced) {
        fail(&log, "the first workers were not given the users");
    }

    // A wave: 1,000 more join while the test runs.
    let cpu0 = process_cpu(pid);
    let spawns0 = fleet.spawns;
    let wave_start = Instant::now();
    let mut slowest = Duration::ZERO;
    for _ in 0..WAVE {
        let t = Instant::now();
        fleet.join(port);
        slowest = slowest.max(t.elapsed());
        if fleet.workers.len().is_multiple_of(100) {
            fleet.pump();
        }
    }
    let joined_in = wave_start.elapsed();
    // A dropped connection attempt is retried a second later: the master's accept queue must
    // hold a whole wave.
    if slowest >= Duration::from_millis(900) {
        fail(
            &log,
            &format!("a worker took {slowest:?} to connect: its connection attempt was dropped"),
        );
    }
    if !fleet.pump_until(Duration::from_secs(30), balanced) {
        fail(
            &log,
            &format!(
                "the users were not rebalanced over the joined workers: {:?}",
                fleet.live_assignment()
            ),
        );
    }
    let settled_in = wave_start.elapsed();
    let wave_cpu = process_cpu(pid) - cpu0;
    let wave_spawns = fleet.spawns - spawns0;
    let total = FIRST + WAVE;
    if count(&log, &format!("{total} workers connected")) != 1 {
        fail(&log, &format!("the master did not count {total} workers"));
    }
    // Each redistribution sends one spawn per worker: a wave must not cost one per joiner.
    let redistributions = wave_spawns as f64 / total as f64;
    assert!(
        redistributions <= 50.0,
        "{wave_spawns} spawn messages for a wave of {WAVE} workers ({redistributions:.0} redistributions)"
    );

    // 10% vanish: half fall silent with the connection open, half close it.
    let vanished: Vec<usize> = (0..total).filter(|i| i % 10 == 5).collect();
    for (k, &i) in vanished.iter().enumerate() {
        fleet.silent[i] = true;
        if k % 2 == 0 {
            if let Some(w) = fleet.workers[i].take() {
                w.close();
            }
        }
    }
    let vanish_start = Instant::now();
    let missing_line = "failed to send heartbeat";
    let all_missing = fleet.pump_until(Duration::from_secs(15), |f| {
        count(&log, missing_line) >= vanished.len() && balanced(f)
    });
    let missing_in = vanish_start.elapsed();
    if !all_missing {
        fail(
            &log,
            &format!(
                "{} of {} vanished workers marked missing, live assignment {:?}",
                count(&log, missing_line),
                vanished.len(),
                fleet.live_assignment()
            ),
        );
    }
    // The live workers keep beating for two more checks: none of them goes missing.
    fleet.pump_until(Duration::from_secs(2), |_| false);
    let missing = count(&log, missing_line);
    let alive = master.try_wait().expect("wait").is_none();
    let _ = master.kill();
    let _ = master.wait();
    assert!(alive, "the master exited");
    if missing != vanished.len() {
        fail(
            &log,
            &format!(
                "{missing} workers marked missing, {} vanished",
                vanished.len()
            ),
        );
    }
    let per_worker: HashMap<u64, usize> = fleet
        .assigned
        .iter()
        .enumerate()
        .filter(|(i, _)| !fleet.silent[*i])
        .fold(HashMap::new(), |mut m, (_, a)| {
            *m.entry(a.unwrap_or(0)).or_default() += 1;
            m
        });
    println!(
        "{WAVE} workers joined in {:.2} s (slowest {slowest:.0?}), users rebalanced over {total} after {:.2} s with \
         {wave_spawns} spawn messages ({redistributions:.1} redistributions), master CPU {wave_cpu:.2} s; \
         {} vanished, all missing and rebalanced after {:.2} s; users per live worker {per_worker:?}",
        joined_in.as_secs_f64(),
        settled_in.as_secs_f64(),
        vanished.len(),
        missing_in.as_secs_f64(),
    );
}
