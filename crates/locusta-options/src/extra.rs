//! Options declared by a locustfile (Locust's `init_command_line_parser` event), and the early
//! look-up of `-f/--locustfile` that has to happen before they are known.
//!
//! Locust imports the locustfile before it parses the whole command line, because the file may
//! add options of its own (`parser.add_argument("--my-arg", env_var=..., default=...)`). locusta
//! does the same: [`locustfile_option`] finds the file without judging any other argument, the
//! front end imports it and collects its [`ExtraOption`]s, and [`crate::parse_with_extras`]
//! then parses everything, reading those options from the command line, config files and their
//! environment variables like the built-in ones. Values stay text here; the declaring front end
//! applies `type=`, `choices=` and defaults.

use std::collections::HashMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

use crate::conffile::{read_config_file, ConfValue};
use crate::options::Options;

/// One option a locustfile declares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtraOption {
    /// Key of the parsed value (argparse's `dest`, e.g. `my_arg`).
    pub dest: String,
    /// Long name without the leading `--` (also the config file key).
    pub long: String,
    /// Short name, if any.
    pub short: Option<char>,
    /// Environment variable that sets it, if any.
    pub env: Option<String>,
    /// Whether it takes a value (`false`: a flag like `action="store_true"`).
    pub takes_value: bool,
    /// Help text.
    pub help: String,
    /// Placeholder shown in help for the value.
    pub metavar: Option<String>,
    /// Hidden from `--help` (`help=SUPPRESS`).
    pub hidden: bool,
}

/// The value given to an [`ExtraOption`], before the front end converts it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExtraValue {
    /// A flag: set (true) or, from a config file / variable, explicitly true or false.
    Flag(bool),
    /// The text of a value.
    Text(String),
}

fn value_after<'a>(token: &'a str, next: Option<&'a str>, long: &str) -> Option<Option<&'a str>> {
    if token == "-f" || token == long {
        return Some(next);
    }
    if let Some(v) = token.strip_prefix(&format!("{long}=")) {
        return Some(Some(v));
    }
    if let Some(v) = token.strip_prefix("-f") {
        if !v.is_empty() && !token.starts_with("--") {
            return Some(Some(v.strip_prefix('=').unwrap_or(v)));
        }
    }
    None
}

fn conf_locustfile(path: &Path) -> Option<String> {
    let entries = read_config_file(path).ok()?;
    entries
        .into_iter()
        .rev()
        .filter(|e| e.key.trim_start_matches("--") == "locustfile")
        .find_map(|e| match e.value {
            ConfValue::Str(s) => Some(s),
            ConfValue::List(v) => v.last().cloned(),
        })
}

/// The `-f/--locustfile` value with Locust's precedence (command line, `LOCUST_LOCUSTFILE`, a
/// `--config` file, `pyproject.toml`, `./locust.conf`, `~/.locust.conf`, default
/// `locustfile.py`), ignoring every other argument and unreadable config files (the full parse
/// reports those).
pub fn locustfile_option<I, T>(
    args: I,
    env: &HashMap<String, String>,
    cwd: &Path,
    home: Option<&Path>,
) -> String
where
    I: IntoIterator<Item = T>,
    T: Into<OsString>,
{
    let argv: Vec<String> = args
        .into_iter()
        .skip(1)
        .map(|a| a.into().to_string_lossy().into_owned())
        .collect();
    let mut from_cli = None;
    let mut config = None;
    let mut i = 0;
    while i < argv.len() {
        let token = argv[i].as_str();
        if token == "--" {
            break;
        }
        let next = argv.get(i + 1).map(String::as_str);
        if let Some(v) = value_after(token, next, "--locustfile") {
            from_cli = v.map(str::to_string).or(from_cli);
            i += 2;
            continue;
        }
        if token == "--config" {
            config = next.map(str::to_string);
            i += 2;
            continue;
        }
        if let Some(v) = token.strip_prefix("--config=") {
            config = Some(v.to_string());
        }
        i += 1;
    }
    if let Some(f) = from_cli {
        return f;
    }
    if let Some(f) = env.get("LOCUST_LOCUSTFILE").filter(|s| !s.is_empty()) {
        return f.clone();
    }
    let mut files: Vec<PathBuf> = Vec::new();
    if let Some(c) = config {
        files.push(cwd.join(c));
    }
    files.push(cwd.join("pyproject.toml"));
    files.push(cwd.join("locust.conf"));
    if let Some(h) = home {
        files.push(h.join(".locust.conf"));
    }
    files
        .iter()
        .filter(|p| p.is_file())
        .find_map(|p| conf_locustfile(p))
        .unwrap_or_else(|| Options::default().locustfile)
}

/// Checks that the declared options can be added: a long name, no clash with a built-in or
/// another declared option.
pub(crate) fn validate(extras: &[ExtraOption]) -> Result<(), String> {
    let builtin = crate::spec::all_option_strings();
    let mut seen: Vec<String> = Vec::new();
    for x in extras {
        if x.long.is_empty() || x.long.starts_with('-') || x.long.contains(['=', ' ']) {
            return Err(format!(
                "the locustfile declares an option with an invalid name '--{}'; use a name like --my-option",
                x.long
            ));
        }
        let mut names = vec![format!("--{}", x.long)];
        if let Some(c) = x.short {
            names.push(format!("-{c}"));
        }
        for n in names {
            if builtin.contains(&n) || seen.contains(&n) {
                return Err(format!(
                    "argument {n}: conflicting option string: {n} (declared by the locustfile's \
                     init_command_line_parser listener; pick another name)"
                ));
            }
            seen.push(n);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lf(args: &[&str], env: &[(&str, &str)], cwd: &Path) -> String {
        let env: HashMap<String, String> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        locustfile_option(args.iter().copied(), &env, cwd, None)
    }

    #[test]
    fn finds_the_locustfile_among_unknown_arguments() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path();
        assert_eq!(lf(&["x"], &[], p), "locustfile.py");
        assert_eq!(lf(&["x", "--my-arg", "1", "-f", "a.py"], &[], p), "a.py");
        assert_eq!(lf(&["x", "-fb.py", "--bogus"], &[], p), "b.py");
        assert_eq!(lf(&["x", "--locustfile=c.py"], &[], p), "c.py");
        assert_eq!(lf(&["x", "--locustfile", "d.py"], &[], p), "d.py");
        assert_eq!(lf(&["x", "--", "-f", "e.py"], &[], p), "locustfile.py");
        assert_eq!(lf(&["x"], &[("LOCUST_LOCUSTFILE", "env.py")], p), "env.py");
        assert_eq!(
            lf(
                &["x", "-f", "cli.py"],
                &[("LOCUST_LOCUSTFILE", "env.py")],
                p
            ),
            "cli.py"
        );
        std::fs::write(p.join("locust.conf"), "locustfile = conf.py\nmy-arg = 3\n").unwrap();
        assert_eq!(lf(&["x"], &[], p), "conf.py");
        std::fs::write(p.join("other.conf"), "locustfile = other.py\n").unwrap();
        assert_eq!(lf(&["x", "--config", "other.conf"], &[], p), "other.py");
    }

    #[test]
    fn clashing_names_are_refused() {
        let x = |long: &str, short: Option<char>| ExtraOption {
            dest: long.replace('-', "_"),
            long: long.into(),
            short,
            env: None,
            takes_value: true,
            help: String::new(),
            metavar: None,
            hidden: false,
        };
        assert!(validate(&[x("my-arg", None), x("other", Some('z'))]).is_ok());
        let e = validate(&[x("host", None)]).unwrap_err();
        assert!(e.contains("conflicting option string: --host"), "{e}");
        assert!(validate(&[x("mine", Some('u'))]).is_err());
        assert!(validate(&[x("a", None), x("a", None)]).is_err());
        assert!(validate(&[x("", None)]).is_err());
    }
}
