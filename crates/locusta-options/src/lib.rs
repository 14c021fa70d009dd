//! Locust-compatible command line and configuration layer for locusta.
//!
//! Users run locusta with the commands, config files and environment variables they already use
//! with Locust 2.x, so this crate reproduces Locust's options (names, `dest` field names,
//! defaults, types) and its configuration precedence, which is (later wins):
//!
//! `~/.locust.conf` < `./locust.conf` < `./pyproject.toml` `[tool.locust]` < `--config FILE`
//! < `LOCUST_*` environment variables < command line.
//!
//! (That is the order real Locust 2.47 applies: configargparse gives later files in its default
//! list — `~/.locust.conf`, `locust.conf`, `pyproject.toml` — higher priority.)
//!
//! Entry points: [`parse_from`] (everything injected, for tests and embedding) and
//! [`parse_env_args`] (the real process environment).

mod cli;
mod conffile;
mod difflib;
mod extra;
mod options;
mod spec;
mod timespan;

use std::collections::HashMap;
use std::ffi::OsString;
use std::fmt;
use std::path::{Path, PathBuf};

pub use extra::{locustfile_option, ExtraOption, ExtraValue};
pub use options::{default_threads, Options};
pub use timespan::parse_timespan;

use conffile::{read_config_file, ConfEntry, ConfValue};
use options::{apply, Raw};
use spec::{by_long, display_name, Kind, Spec, SPECS, USER_CLASSES_ENV};

/// Where an option's final value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// Locust's default (nothing set it).
    Default,
    /// `[tool.locust]` in `./pyproject.toml`.
    PyProject,
    /// A `.conf` file (`~/.locust.conf`, `./locust.conf` or the `--config` file).
    ConfFile(PathBuf),
    /// An environment variable (its name).
    Env(String),
    /// The command line.
    CommandLine,
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Default => write!(f, "default"),
            Source::PyProject => write!(f, "pyproject.toml"),
            Source::ConfFile(p) => write!(f, "{}", p.display()),
            Source::Env(name) => write!(f, "environment variable {name}"),
            Source::CommandLine => write!(f, "command line"),
        }
    }
}

/// The parsed options and, for every option `dest` (plus `user_classes`), where it came from.
#[derive(Debug, Clone)]
pub struct Parsed {
    /// The final options.
    pub options: Options,
    /// Source of each option's value, keyed by `dest` (e.g. `"host"`, `"num_users"`).
    pub sources: HashMap<&'static str, Source>,
    /// Values of the locustfile's declared options that were set, keyed by their `dest`, with
    /// their source (unset ones are absent: the declaring side applies its default).
    pub extras: HashMap<String, (ExtraValue, Source)>,
}

/// A reason to stop instead of running: a usage error, or help/version output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CliError {
    /// Full text to print (already prefixed with `locusta: error: ` for errors).
    pub message: String,
    /// Process exit code: 2 for usage errors (as argparse), 1 for the checks Locust does after
    /// parsing, 0 for `--help`/`--version`.
    pub exit_code: i32,
    /// Print on stdout (help, version) rather than stderr.
    pub use_stdout: bool,
}

impl CliError {
    fn with_code(message: impl fmt::Display, exit_code: i32) -> Self {
        CliError {
            message: format!("locusta: error: {message}"),
            exit_code,
            use_stdout: false,
        }
    }

    /// A usage error (exit code 2), worded like argparse's.
    pub(crate) fn usage(message: impl fmt::Display) -> Self {
        Self::with_code(message, 2)
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.message.trim_end())
    }
}

impl std::error::Error for CliError {}

/// `-V/--version` text: `locusta <version> from <exe path>`.
pub fn version_string(exe: &Path) -> String {
    format!(
        "locusta {} from {}",
        env!("CARGO_PKG_VERSION"),
        exe.display()
    )
}

/// One value with its source, before conversion.
type Layer = HashMap<&'static str, (Raw, Source)>;

fn bool_text(s: &str) -> Option<bool> {
    match s.to_ascii_lowercase().as_str() {
        "true" | "yes" | "on" | "1" => Some(true),
        "false" | "no" | "off" | "0" => Some(false),
        _ => None,
    }
}

/// Convert one config-file or environment value for `spec`. `None` means "no value" (an empty
/// list value, which Locust ignores). `what` names the key for messages.
fn raw_for(spec: &Spec, value: ConfValue, what: &str) -> Result<Option<Raw>, String> {
    if let Kind::Removed { message, .. } = spec.kind {
        return Err(format!("argument {}: {message}", display_name(spec)));
    }
    Ok(match (spec.kind, value) {
        (Kind::Flag, ConfValue::Str(s)) => Some(Raw::Flag(bool_text(&s).ok_or_else(|| {
            format!("{what} must be true or false (also yes/no, on/off, 1/0), got '{s}'")
        })?)),
        (Kind::List | Kind::Append, ConfValue::Str(s)) if s.is_empty() => None,
        (Kind::List | Kind::Append, ConfValue::Str(s)) => Some(Raw::Many(vec![s])),
        (Kind::List | Kind::Append, ConfValue::List(v)) => Some(Raw::Many(v)),
        (_, ConfValue::Str(s)) => Some(Raw::One(s)),
        (_, ConfValue::List(v)) => {
            return Err(format!(
                "{what} takes a single value, not a list ([{}])",
                v.join(", ")
            ))
        }
    })
}

/// Find the option a config-file key means: its long name with or without `--`, or (as argparse
/// does for `--key`) a unique prefix of one long name.
fn spec_for_conf_key(key: &str, value: &ConfValue) -> Result<&'static Spec, String> {
    let bare = key.strip_prefix("--").unwrap_or(key);
    if let Some(s) = by_long(bare) {
        return Ok(s);
    }
    let token_name = format!("--{}", key.trim_start_matches('-'));
    let candidates = cli::prefix_matches(&token_name);
    if candidates.len() == 1 {
        if let Some(s) = by_long(candidates[0].trim_start_matches('-')) {
            return Ok(s);
        }
    }
    let token = match value {
        ConfValue::Str(v) => format!("{token_name}={v}"),
        ConfValue::List(_) => token_name,
    };
    Err(cli::unknown_option_message(&token))
}

fn add_conf_file(
    layer: &mut Layer,
    extra_layer: &mut ExtraLayer,
    extras: &[ExtraOption],
    path: &Path,
    source: Source,
) -> Result<(), CliError> {
    let entries = read_config_file(path).map_err(CliError::usage)?;
    for ConfEntry { key, value, line } in entries {
        let place = if line > 0 {
            format!("{}, line {line}", path.display())
        } else {
            path.display().to_string()
        };
        let bare = key.strip_prefix("--").unwrap_or(&key);
        if by_long(bare).is_none() {
            if let Some(x) = extras.iter().find(|x| x.long == bare) {
                let v = extra_from_text(x, value, &format!("'{key}'"))
                    .map_err(|m| CliError::usage(format!("{m} (in {place})")))?;
                extra_layer.insert(x.dest.clone(), (v, source.clone()));
                continue;
            }
        }
        let spec = spec_for_conf_key(&key, &value)
            .map_err(|m| CliError::usage(format!("{m}\n(from {place})")))?;
        let raw = raw_for(spec, value, &format!("'{key}'"))
            .map_err(|m| CliError::usage(format!("{m} (in {place})")))?;
        if let Some(raw) = raw {
            layer.insert(spec.dest, (raw, source.clone()));
        }
    }
    Ok(())
}

/// Declared options' values with their sources, keyed by `dest`.
type ExtraLayer = HashMap<String, (ExtraValue, Source)>;

/// A config-file or environment value for a declared option.
fn extra_from_text(x: &ExtraOption, value: ConfValue, what: &str) -> Result<ExtraValue, String> {
    let text = match value {
        ConfValue::Str(s) => s,
        ConfValue::List(v) => {
            return Err(format!(
                "{what} takes a single value, not a list ([{}])",
                v.join(", ")
            ))
        }
    };
    if x.takes_value {
        return Ok(ExtraValue::Text(text));
    }
    bool_text(&text).map(ExtraValue::Flag).ok_or_else(|| {
        format!("{what} must be true or false (also yes/no, on/off, 1/0), got '{text}'")
    })
}

fn expand_home(p: &str, home: Option<&Path>) -> PathBuf {
    match (p.strip_prefix("~/"), home) {
        (Some(rest), Some(h)) => h.join(rest),
        _ if p == "~" && home.is_some() => home.map(Path::to_path_buf).unwrap_or_default(),
        _ => PathBuf::from(p),
    }
}

/// Parse argv (argv[0] is the program name) with the given environment, working directory (for
/// `locust.conf`, `pyproject.toml` and relative `--config` paths) and home directory (for
/// `~/.locust.conf`). Help and version come back as `Err` with `exit_code` 0 and `use_stdout`.
pub fn parse_from<I, T>(
    args: I,
    env: &HashMap<String, String>,
    cwd: &Path,
    home: Option<&Path>,
) -> Result<Parsed, CliError>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    parse_with_extras(args, env, cwd, home, &[])
}

/// [`parse_from`] with the options a locustfile declares (`extras`): they are accepted on the
/// command line, as config-file keys (their long name) and from their environment variable,
/// listed in `--help` under their own heading, and returned in [`Parsed::extras`]. A declared
/// name that clashes with a built-in option is an error (exit code 1).
pub fn parse_with_extras<I, T>(
    args: I,
    env: &HashMap<String, String>,
    cwd: &Path,
    home: Option<&Path>,
    extras: &[ExtraOption],
) -> Result<Parsed, CliError>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    extra::validate(extras).map_err(|m| CliError::with_code(m, 1))?;
    let argv: Vec<OsString> = args.into_iter().map(Into::into).collect();
    let exe = std::env::current_exe()
        .ok()
        .or_else(|| argv.first().map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from("locusta"));
    // clap prints "<name> <version>", so it gets the text after "locusta ".
    let version = version_string(&exe);
    let version = version
        .strip_prefix("locusta ")
        .unwrap_or(&version)
        .to_string();
    let (cli_values, cli_extras) = cli::parse_argv(cli::command(version, extras), argv, extras)?;

    let mut layer: Layer = HashMap::new();
    let mut extra_layer: ExtraLayer = HashMap::new();

    // Config files, lowest priority first.
    if let Some(home) = home {
        let p = home.join(".locust.conf");
        if p.is_file() {
            add_conf_file(
                &mut layer,
                &mut extra_layer,
                extras,
                &p,
                Source::ConfFile(p.clone()),
            )?;
        }
    }
    let p = cwd.join("locust.conf");
    if p.is_file() {
        add_conf_file(
            &mut layer,
            &mut extra_layer,
            extras,
            &p,
            Source::ConfFile(p.clone()),
        )?;
    }
    let p = cwd.join("pyproject.toml");
    if p.is_file() {
        add_conf_file(&mut layer, &mut extra_layer, extras, &p, Source::PyProject)?;
    }
    if let Some(Raw::One(config)) = cli_values.get("config") {
        let p = cwd.join(expand_home(config, home));
        if !p.is_file() {
            return Err(CliError::usage(format!(
                "cannot open config file {}: no such file; check the --config path",
                p.display()
            )));
        }
        add_conf_file(
            &mut layer,
            &mut extra_layer,
            extras,
            &p,
            Source::ConfFile(p.clone()),
        )?;
    }

    // Environment variables.
    for s in SPECS {
        let Some(name) = s.env else { continue };
        let Some(value) = env.get(name) else { continue };
        let value = match s.kind {
            Kind::List if value.starts_with('[') && value.ends_with(']') => {
                ConfValue::List(conffile::parse_list_text(value))
            }
            _ => ConfValue::Str(value.clone()),
        };
        let raw = raw_for(s, value, name)
            .map_err(|m| CliError::usage(format!("{m} (from environment variable {name})")))?;
        if let Some(raw) = raw {
            layer.insert(s.dest, (raw, Source::Env(name.to_string())));
        }
    }
    if let Some(value) = env.get(USER_CLASSES_ENV) {
        let classes: Vec<String> = value.split_whitespace().map(str::to_string).collect();
        if !classes.is_empty() {
            layer.insert(
                "user_classes",
                (
                    Raw::Many(classes),
                    Source::Env(USER_CLASSES_ENV.to_string()),
                ),
            );
        }
    }

    for x in extras {
        let Some(name) = x.env.as_deref() else {
            continue;
        };
        let Some(value) = env.get(name) else { continue };
        let v = extra_from_text(x, ConfValue::Str(value.clone()), name)
            .map_err(|m| CliError::usage(format!("{m} (from environment variable {name})")))?;
        extra_layer.insert(x.dest.clone(), (v, Source::Env(name.to_string())));
    }

    // Command line.
    for (dest, v) in cli_extras {
        extra_layer.insert(dest, (v, Source::CommandLine));
    }
    for (dest, raw) in cli_values {
        layer.insert(dest, (raw, Source::CommandLine));
    }

    // Convert, in table order so that the first bad option is reported.
    let mut options = Options::default();
    let mut sources: HashMap<&'static str, Source> = SPECS
        .iter()
        .filter(|s| !matches!(s.kind, Kind::Removed { .. }))
        .map(|s| (s.dest, Source::Default))
        .collect();
    sources.insert("user_classes", Source::Default);
    let dests = SPECS.iter().map(|s| s.dest).chain(["user_classes"]);
    for dest in dests {
        let Some((raw, source)) = layer.get(dest) else {
            continue;
        };
        apply(&mut options, dest, raw, cwd).map_err(|m| {
            let name = spec::by_dest(dest).map_or_else(|| dest.to_string(), display_name);
            let from = match source {
                Source::CommandLine => String::new(),
                other => format!(" (from {other})"),
            };
            CliError::usage(format!("argument {name}: {m}{from}"))
        })?;
        sources.insert(dest, source.clone());
    }

    check_combinations(&mut options)?;
    Ok(Parsed {
        options,
        sources,
        extras: extra_layer,
    })
}

/// Checks across options that Locust makes right after parsing (same exit codes).
fn check_combinations(o: &mut Options) -> Result<(), CliError> {
    if o.headful {
        o.headless = false;
    }
    if o.stats_history_enabled && o.csv_prefix.is_none() {
        return Err(CliError::usage(
            "--csv-full-history requires --csv <prefix> (the history goes to <prefix>_stats_history.csv)",
        ));
    }
    if o.autoquit != -1 && !o.autostart {
        return Err(CliError::with_code(
            "--autoquit only has an effect together with --autostart; add --autostart or drop --autoquit",
            1,
        ));
    }
    if let Some(p) = o.processes.filter(|&p| p != 0) {
        if p < -1 {
            return Err(CliError::with_code(
                format!(
                    "invalid --processes count {p}; use a positive number or -1 for one per CPU"
                ),
                1,
            ));
        }
        if o.master {
            return Err(CliError::with_code(
                "--master cannot be combined with --processes; remove --master (it is implied unless --worker is set)",
                1,
            ));
        }
    }
    if o.master && o.worker {
        // Locust exits with -1 (255) here.
        return Err(CliError::with_code(
            "--master cannot be combined with --worker; choose one role per process",
            255,
        ));
    }
    if !o.headless && !o.worker && !o.web_base_path.is_empty() && !o.web_base_path.starts_with('/')
    {
        return Err(CliError::with_code(
            format!(
                "invalid --web-base-path '{}': the URL path must start with a slash, e.g. '/{}'",
                o.web_base_path, o.web_base_path
            ),
            1,
        ));
    }
    Ok(())
}

/// Parse the real process arguments (`std::env::args_os`), environment, working directory and
/// `$HOME`.
pub fn parse_env_args() -> Result<Parsed, CliError> {
    let env: HashMap<String, String> = std::env::vars_os()
        .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
        .collect();
    let cwd = std::env::current_dir().map_err(|e| {
        CliError::with_code(
            format!("cannot determine the current directory ({e}); run locusta from an existing directory"),
            1,
        )
    })?;
    let home = env.get("HOME").filter(|h| !h.is_empty()).map(PathBuf::from);
    parse_from(std::env::args_os(), &env, &cwd, home.as_deref())
}
