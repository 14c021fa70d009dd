//! Builds the page in `web/` with npm (from its lockfile) and embeds the result.
//!
//! `npm ci` runs when `node_modules` is missing or older than `package-lock.json`; `npm run
//! build` writes into `OUT_DIR`, so the source tree only gains `web/node_modules`. Set
//! `LOCUSTA_WEB_DIST` to a directory holding an already built page to skip npm entirely.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("OUT_DIR"));
    println!("cargo:rerun-if-env-changed=LOCUSTA_WEB_DIST");
    let dist = match std::env::var_os("LOCUSTA_WEB_DIST") {
        Some(d) => PathBuf::from(d),
        None => {
            let web = manifest.join("../../web");
            let web = web.canonicalize().unwrap_or_else(|_| {
                fail(&format!(
                    "the web UI sources are missing (expected {}); build from a full checkout",
                    web.display()
                ))
            });
            for f in [
                "src",
                "index.html",
                "package.json",
                "package-lock.json",
                "vite.config.ts",
                "tsconfig.json",
            ] {
                println!("cargo:rerun-if-changed={}", web.join(f).display());
            }
            let dist = out.join("web-dist");
            npm_build(&web, &dist);
            dist
        }
    };
    embed(&dist, &out.join("assets.rs"));
}

fn fail(msg: &str) -> ! {
    eprintln!("\nerror: locusta-web: {msg}\n");
    panic!("locusta-web: {msg}");
}

fn npm() -> &'static str {
    if cfg!(windows) {
        "npm.cmd"
    } else {
        "npm"
    }
}

fn run(web: &Path, args: &[&str]) {
    let status = Command::new(npm())
        .args(args)
        .current_dir(web)
        .status()
        .unwrap_or_else(|e| {
            fail(&format!(
                "cannot run npm ({e}). Building locusta's web UI needs Node.js 18 or newer with \
                 npm (Debian/Ubuntu: apt-get install nodejs npm), or LOCUSTA_WEB_DIST pointing \
                 at an already built web/ directory"
            ))
        });
    if !status.success() {
        fail(&format!(
            "`npm {}` failed in {} ({status}); see its output above",
            args.join(" "),
            web.display()
        ));
    }
}

fn modified(p: &Path) -> Option<std::time::SystemTime> {
    std::fs::metadata(p).and_then(|m| m.modified()).ok()
}

fn npm_build(web: &Path, dist: &Path) {
    let marker = web.join("node_modules/.package-lock.json");
    let stale = match (modified(&marker), modified(&web.join("package-lock.json"))) {
        (Some(installed), Some(lock)) => installed < lock,
        _ => true,
    };
    if stale {
        run(web, &["ci", "--no-audit", "--no-fund", "--loglevel=error"]);
    }
    let dist_s = dist.to_string_lossy().into_owned();
    run(
        web,
        &[
            "run",
            "build",
            "--silent",
            "--",
            "--outDir",
            &dist_s,
            "--emptyOutDir",
        ],
    );
}

fn embed(dist: &Path, target: &Path) {
    let mut files = Vec::new();
    collect(dist, dist, &mut files);
    files.sort();
    if !files.iter().any(|(rel, _)| rel == "index.html") {
        fail(&format!(
            "no index.html in the built web UI at {}",
            dist.display()
        ));
    }
    let mut code = String::from("/// Built files: path relative to the page root, contents.\npub static FILES: &[(&str, &[u8])] = &[\n");
    for (rel, abs) in &files {
        let _ = writeln!(
            code,
            "    ({rel:?}, include_bytes!({:?})),",
            abs.display().to_string()
        );
    }
    code.push_str("];\n");
    std::fs::write(target, code)
        .unwrap_or_else(|e| fail(&format!("cannot write {}: {e}", target.display())));
}

fn collect(root: &Path, dir: &Path, files: &mut Vec<(String, PathBuf)>) {
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| {
        fail(&format!(
            "cannot read the built web UI at {}: {e}",
            dir.display()
        ))
    });
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect(root, &path, files);
        } else if let Ok(rel) = path.strip_prefix(root) {
            let rel = rel.to_string_lossy().replace('\\', "/");
            files.push((rel, path.clone()));
        }
    }
}
