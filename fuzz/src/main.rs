//! Runs the fuzz targets of `locusta-fuzz` on the stable toolchain: every corpus file first, then
//! random mutations of the corpus (bit flips, interesting bytes, insertions, deletions,
//! duplications, splices and dictionary tokens) until the time budget is spent. A panic saves the
//! input under `fuzz/artifacts/` and exits with status 1. Blind mutation finds less than
//! coverage-guided fuzzing, so the corpus holds a hand-written seed for each format feature.
//!
//! ```text
//! cargo run --release -p locusta-fuzz -- [--seconds 60] [--target NAME] [--seed N] [--save-new]
//! ```

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use locusta_fuzz::{Target, TARGETS};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

struct Args {
    seconds: f64,
    target: Option<String>,
    seed: u64,
    root: PathBuf,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        seconds: 10.0,
        target: None,
        seed: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64),
        root: PathBuf::from(env!("CARGO_MANIFEST_DIR")),
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let mut value = |name: &str| it.next().ok_or(format!("{name} needs a value"));
        match a.as_str() {
            "--seconds" => {
                args.seconds = value("--seconds")?
                    .parse()
                    .map_err(|e| format!("--seconds: {e}"))?
            }
            "--target" => args.target = Some(value("--target")?),
            "--seed" => {
                args.seed = value("--seed")?
                    .parse()
                    .map_err(|e| format!("--seed: {e}"))?
            }
            "--dir" => args.root = PathBuf::from(value("--dir")?),
            "-h" | "--help" => return Err(
                "usage: locusta-fuzz [--seconds TOTAL] [--target NAME] [--seed N] [--dir FUZZ_DIR]"
                    .into(),
            ),
            other => return Err(format!("unknown argument {other:?} (try --help)")),
        }
    }
    Ok(args)
}

fn load_corpus(dir: &Path) -> Vec<Vec<u8>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| rd.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    files.sort();
    let mut corpus: Vec<Vec<u8>> = files.iter().filter_map(|p| std::fs::read(p).ok()).collect();
    if corpus.is_empty() {
        corpus.push(Vec::new());
    }
    corpus
}

const INTERESTING: &[u8] = &[
    0, 1, 0x7f, 0x80, 0xff, b'\r', b'\n', b' ', b'0', b'9', b'-', b'"',
];

fn mutate(rng: &mut StdRng, input: &[u8], corpus: &[Vec<u8>], dict: &[&str]) -> Vec<u8> {
    let mut data = input.to_vec();
    let rounds = rng.random_range(1..=4);
    for _ in 0..rounds {
        let len = data.len();
        match rng.random_range(0..8) {
            0 if len > 0 => {
                let i = rng.random_range(0..len);
                data[i] ^= 1 << rng.random_range(0..8);
            }
            1 if len > 0 => {
                let i = rng.random_range(0..len);
                data[i] = INTERESTING[rng.random_range(0..INTERESTING.len())];
            }
            2 => {
                let i = rng.random_range(0..=len);
                let n = rng.random_range(1..=16);
                let bytes: Vec<u8> = (0..n).map(|_| rng.random()).collect();
                data.splice(i..i, bytes);
            }
            3 if len > 0 => {
                let a = rng.random_range(0..len);
                let b = rng.random_range(a..=len.min(a + 32));
                data.drain(a..b);
            }
            4 if len > 0 => {
                let a = rng.random_range(0..len);
                let b = rng.random_range(a..=len.min(a + 64));
                let piece = data[a..b].to_vec();
                let at = rng.random_range(0..=len);
                data.splice(at..at, piece);
            }
            5 => {
                let other = &corpus[rng.random_range(0..corpus.len())];
                if !other.is_empty() {
                    let a = rng.random_range(0..other.len());
                    let b = rng.random_range(a..=other.len());
                    let at = rng.random_range(0..=len);
                    data.truncate(at);
                    data.extend_from_slice(&other[a..b]);
                }
            }
            _ if !dict.is_empty() => {
                let token = dict[rng.random_range(0..dict.len())].as_bytes();
                let at = rng.random_range(0..=len);
                if rng.random_bool(0.5) || len == 0 {
                    data.splice(at..at, token.iter().copied());
                } else {
                    let end = (at + token.len()).min(len);
                    data.splice(at..end, token.iter().copied());
                }
            }
            _ => {}
        }
    }
    data.truncate(64 * 1024);
    data
}

/// Runs one input; on a panic saves it and returns the path.
fn run_one(target: &Target, input: &[u8], root: &Path) -> Result<(), PathBuf> {
    let outcome = std::panic::catch_unwind(|| (target.run)(input));
    if outcome.is_ok() {
        return Ok(());
    }
    let dir = root.join("artifacts");
    let _ = std::fs::create_dir_all(&dir);
    let hash = input.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
        (h ^ b as u64).wrapping_mul(0x100_0000_01b3)
    });
    let path = dir.join(format!("{}-{hash:016x}", target.name));
    let _ = std::fs::write(&path, input);
    Err(path)
}

fn main() {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    let targets: Vec<&Target> = TARGETS
        .iter()
        .filter(|t| args.target.as_deref().is_none_or(|n| n == t.name))
        .collect();
    if targets.is_empty() {
        let names: Vec<&str> = TARGETS.iter().map(|t| t.name).collect();
        eprintln!("no such target; targets: {}", names.join(", "));
        std::process::exit(2);
    }
    println!(
        "locusta-fuzz: seed {} (rerun with --seed to repeat)",
        args.seed
    );
    let budget = Duration::from_secs_f64(args.seconds.max(0.0) / targets.len() as f64);
    let mut failed = false;
    for (k, target) in targets.iter().enumerate() {
        let mut rng = StdRng::seed_from_u64(args.seed.wrapping_add(k as u64));
        let corpus = load_corpus(&args.root.join("corpus").join(target.name));
        let started = Instant::now();
        let mut execs = 0u64;
        let mut slowest = Duration::ZERO;
        let mut crash = None;
        for input in &corpus {
            execs += 1;
            if let Err(p) = run_one(target, input, &args.root) {
                crash = Some(p);
                break;
            }
        }
        while crash.is_none() && started.elapsed() < budget {
            let base = &corpus[rng.random_range(0..corpus.len())];
            let input = mutate(&mut rng, base, &corpus, target.dictionary);
            let t = Instant::now();
            let result = run_one(target, &input, &args.root);
            slowest = slowest.max(t.elapsed());
            execs += 1;
            if let Err(p) = result {
                crash = Some(p);
            }
        }
        match crash {
            Some(path) => {
                failed = true;
                println!(
                    "{}: CRASH after {execs} inputs; input saved to {}",
                    target.name,
                    path.display()
                );
            }
            None => println!(
                "{}: {execs} inputs ({} corpus files) in {:.1} s, slowest {:.1} ms, no crash",
                target.name,
                corpus.len(),
                started.elapsed().as_secs_f64(),
                slowest.as_secs_f64() * 1000.0
            ),
        }
    }
    std::process::exit(i32::from(failed));
}
