//! The clap command: help layout (Locust's groups), command line parsing and argparse-style
//! error messages.
//!
//! clap does the tokenising (`-u5`, `--users=5`, unique prefixes like `--user`, `--` handling);
//! every value is kept as text and checked later together with config-file and environment
//! values. Errors are reworded to what Locust users know from argparse:
//! `locusta: error: unrecognized arguments: --bogus` and `Did you mean '--users'?`.

use std::collections::HashMap;

use clap::error::{ContextKind, ContextValue, ErrorKind};
use clap::parser::ValueSource;
use clap::{Arg, ArgAction, ColorChoice, Command};

use crate::difflib::closest;
use crate::extra::{ExtraOption, ExtraValue};
use crate::options::Raw;
use crate::spec::{self, all_long_options, all_option_strings, display_name, Kind, SPECS};
use crate::CliError;

const EXAMPLES: &str = "Examples:

    locusta -f my_test.py -H https://www.example.com

    locusta --headless -u 100 -t 20m --processes 4 MyHttpUser AnotherUser

    locusta --headless -u 100 -r 10 -t 50 --print-stats --html \"test_report_{u}_{r}_{t}.html\"
    (writes test_report_100_10_50.html)

Every option can also be set in ~/.locust.conf, ./locust.conf, pyproject.toml ([tool.locust]),
a --config file or a LOCUST_* environment variable (the command line wins). See
https://docs.locust.io/en/stable/configuration.html";

/// Help heading of the options a locustfile declares.
pub(crate) const CUSTOM: &str = "Custom options (from the locustfile)";

/// clap id of a declared option (kept apart from the built-in `dest` names).
fn extra_id(x: &ExtraOption) -> String {
    format!("extra:{}", x.dest)
}

/// Build the clap command. `version` is the full text printed by `-V/--version`; `extras` are
/// the options the locustfile declares (checked by `extra::validate` first).
pub(crate) fn command(version: String, extras: &[ExtraOption]) -> Command {
    let mut cmd = Command::new("locusta")
        .bin_name("locusta")
        .version(version)
        .disable_help_flag(true)
        .disable_version_flag(true)
        .infer_long_args(true)
        .args_override_self(true)
        .color(ColorChoice::Never)
        .override_usage("locusta [options] [UserClass ...]")
        .help_template("Usage: {usage}\n\n{all-args}{after-help}")
        .after_help(EXAMPLES)
        .arg(
            Arg::new("help")
                .short('h')
                .long("help")
                .action(ArgAction::Help)
                .help_heading(spec::COMMON)
                .help("Show this help and exit"),
        );
    for s in SPECS {
        let mut arg = Arg::new(s.dest)
            .long(s.long)
            .help(s.help)
            .help_heading(s.heading)
            .hide(s.hidden);
        if let Some(c) = s.short {
            arg = arg.short(c);
        }
        let metavar = s.metavar.trim_start_matches('<').trim_end_matches('>');
        arg = match s.kind {
            Kind::Flag
            | Kind::Removed {
                takes_value: false, ..
            } => arg.action(ArgAction::SetTrue),
            Kind::Value
            | Kind::Removed {
                takes_value: true, ..
            } => arg
                .action(ArgAction::Set)
                .num_args(1)
                .value_name(metavar)
                .allow_negative_numbers(true),
            Kind::Append => arg
                .action(ArgAction::Append)
                .num_args(1)
                .value_name(metavar)
                .allow_negative_numbers(true),
            Kind::List => arg
                .action(ArgAction::Set)
                .num_args(0..)
                .value_name(metavar)
                .allow_negative_numbers(true),
        };
        cmd = cmd.arg(arg);
        if s.long == "show-task-ratio-json" {
            cmd = cmd.arg(
                Arg::new("version")
                    .short('V')
                    .long("version")
                    .action(ArgAction::Version)
                    .help_heading(spec::OTHER)
                    .help("Print the version and exit"),
            );
        }
    }
    for x in extras {
        let mut arg = Arg::new(extra_id(x))
            .long(x.long.clone())
            .help(x.help.clone())
            .help_heading(CUSTOM)
            .hide(x.hidden);
        if let Some(c) = x.short {
            arg = arg.short(c);
        }
        arg = if x.takes_value {
            let metavar = x.metavar.clone().unwrap_or_else(|| x.dest.to_uppercase());
            arg.action(ArgAction::Set)
                .num_args(1)
                .value_name(metavar)
                .allow_negative_numbers(true)
        } else {
            arg.action(ArgAction::SetTrue)
        };
        cmd = cmd.arg(arg);
    }
    cmd.arg(
        Arg::new("user_classes")
            .num_args(0..)
            .action(ArgAction::Append)
            .value_name("UserClass")
            .help_heading(spec::USER_CLASSES)
            .help(
                "User classes to run (default: all; see --list). LOCUST_USER_CLASSES (space separated) works too",
            ),
    )
}

/// Values of built-in options keyed by `dest`, and of declared options keyed by their `dest`.
pub(crate) type ArgvValues = (HashMap<&'static str, Raw>, HashMap<String, ExtraValue>);

/// Parse argv (without environment or files) into raw values keyed by `dest`.
pub(crate) fn parse_argv(
    cmd: Command,
    argv: Vec<std::ffi::OsString>,
    extras: &[ExtraOption],
) -> Result<ArgvValues, CliError> {
    let matches = cmd.try_get_matches_from(argv).map_err(convert_error)?;
    let mut extra_values = HashMap::new();
    for x in extras {
        let id = extra_id(x);
        if matches.value_source(&id) != Some(ValueSource::CommandLine) {
            continue;
        }
        let v = if x.takes_value {
            match matches.get_one::<String>(&id) {
                Some(v) => ExtraValue::Text(v.clone()),
                None => continue,
            }
        } else {
            ExtraValue::Flag(matches.get_flag(&id))
        };
        extra_values.insert(x.dest.clone(), v);
    }
    let mut out = HashMap::new();
    for s in SPECS {
        if matches.value_source(s.dest) != Some(ValueSource::CommandLine) {
            continue;
        }
        if let Kind::Removed { message, .. } = s.kind {
            return Err(CliError::usage(format!(
                "argument {}: {message}",
                display_name(s)
            )));
        }
        let raw = match s.kind {
            Kind::Flag => Raw::Flag(matches.get_flag(s.dest)),
            Kind::List | Kind::Append => Raw::Many(
                matches
                    .get_many::<String>(s.dest)
                    .map(|v| v.cloned().collect())
                    .unwrap_or_default(),
            ),
            _ => match matches.get_one::<String>(s.dest) {
                Some(v) => Raw::One(v.clone()),
                None => continue,
            },
        };
        out.insert(s.dest, raw);
    }
    if let Some(classes) = matches.get_many::<String>("user_classes") {
        let classes: Vec<String> = classes.cloned().collect();
        if !classes.is_empty() {
            out.insert("user_classes", Raw::Many(classes));
        }
    }
    Ok((out, extra_values))
}

/// Hints for options that older Locust versions had (Locust itself only says "unrecognized").
fn removed_hint(token: &str) -> Option<&'static str> {
    let name = token.split('=').next().unwrap_or(token);
    Some(match name {
        "--hatch-rate" => "--hatch-rate was renamed --spawn-rate (-r) in Locust 1.0.",
        "--no-web" => "--no-web was replaced by --headless in Locust 1.0.",
        "-c" | "--clients" => {
            "-c/--clients was replaced by -u/--users in Locust 1.0 (a config file is read with --config <filename>)."
        }
        "--step-load" | "--step-users" | "--step-time" => {
            "step load (--step-load/--step-users/--step-time) was removed in Locust 2.0; use a load shape instead."
        }
        "-n" | "--num-request" => {
            "-n/--num-request was removed in Locust 1.0; limit the test with -t/--run-time instead."
        }
        _ => return None,
    })
}

/// Long options that `name` (with `--`, without `=value`) is a prefix of.
pub(crate) fn prefix_matches(name: &str) -> Vec<String> {
    all_long_options()
        .into_iter()
        .filter(|o| o.starts_with(name))
        .collect()
}

/// The message for an option token nobody knows (from the command line or a config file).
pub(crate) fn unknown_option_message(token: &str) -> String {
    let name = token.split('=').next().unwrap_or(token);
    if name.starts_with("--") {
        let matches = prefix_matches(name);
        if matches.len() > 1 {
            return format!(
                "ambiguous option: {token} could match {}",
                matches.join(", ")
            );
        }
    }
    let mut msg = format!("unrecognized arguments: {token}");
    if let Some(hint) = removed_hint(token) {
        msg.push('\n');
        msg.push_str(hint);
    } else {
        let candidates = all_option_strings();
        if let Some(best) = closest(token, candidates.iter().map(String::as_str)) {
            msg.push_str(&format!("\nDid you mean '{best}'?"));
        }
    }
    msg
}

fn context_str(err: &clap::Error, kind: ContextKind) -> Option<String> {
    match err.get(kind)? {
        ContextValue::String(s) => Some(s.clone()),
        ContextValue::Strings(v) => v.first().cloned(),
        other => Some(other.to_string()),
    }
}

/// Name of the option a clap error is about, as `-u/--users`.
fn arg_display(err: &clap::Error) -> Option<String> {
    let arg = context_str(err, ContextKind::InvalidArg)?;
    // clap renders the argument as e.g. "--users <int>" or "-u <int>".
    let flag = arg.split(' ').next().unwrap_or(&arg).to_string();
    let spec = SPECS.iter().find(|s| {
        flag == format!("--{}", s.long) || s.short.is_some_and(|c| flag == format!("-{c}"))
    });
    Some(spec.map_or(flag, display_name))
}

fn convert_error(err: clap::Error) -> CliError {
    match err.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => CliError {
            message: err.render().to_string(),
            exit_code: 0,
            use_stdout: true,
        },
        ErrorKind::UnknownArgument => {
            let token = context_str(&err, ContextKind::InvalidArg).unwrap_or_default();
            CliError::usage(unknown_option_message(&token))
        }
        ErrorKind::InvalidValue
            if context_str(&err, ContextKind::InvalidValue).as_deref() == Some("") =>
        {
            let name = arg_display(&err).unwrap_or_default();
            CliError::usage(format!("argument {name}: expected one argument"))
        }
        ErrorKind::TooManyValues => {
            let name = arg_display(&err).unwrap_or_default();
            let value = context_str(&err, ContextKind::InvalidValue).unwrap_or_default();
            CliError::usage(format!(
                "argument {name}: takes no value, but got '{value}'"
            ))
        }
        _ => {
            // Fall back to clap's own first line, without its "error: " prefix.
            let rendered = err.render().to_string();
            let first = rendered
                .lines()
                .next()
                .unwrap_or("invalid command line")
                .trim_start_matches("error: ")
                .to_string();
            CliError::usage(first)
        }
    }
}
