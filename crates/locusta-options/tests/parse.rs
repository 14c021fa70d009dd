//! Integration tests: precedence of every configuration layer, validation messages, removed and
//! mistyped options, lists, flags and User classes, through the public `parse_from` API.

use std::collections::HashMap;
use std::path::Path;

use locusta_options::{parse_from, CliError, Parsed, Source};

fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn argv(args: &[&str]) -> Vec<String> {
    std::iter::once("locusta")
        .chain(args.iter().copied())
        .map(str::to_string)
        .collect()
}

/// Parse in an empty temporary directory with no home directory.
fn parse(args: &[&str], e: &[(&str, &str)]) -> Result<Parsed, CliError> {
    let dir = tempfile::tempdir().unwrap();
    parse_from(argv(args), &env(e), dir.path(), None)
}

fn parse_in(
    dir: &Path,
    home: Option<&Path>,
    args: &[&str],
    e: &[(&str, &str)],
) -> Result<Parsed, CliError> {
    parse_from(argv(args), &env(e), dir, home)
}

fn err(args: &[&str], e: &[(&str, &str)]) -> CliError {
    match parse(args, e) {
        Ok(p) => panic!("expected an error for {args:?}, got {:?}", p.options),
        Err(e) => e,
    }
}

#[test]
fn web_auth_is_kept_for_basic_auth() {
    // Locust 2.47 removed --web-auth; locusta keeps it for the web UI's basic auth.
    let p = parse(&["--web-auth", "a:b"], &[]).unwrap();
    assert_eq!(p.options.web_auth.as_deref(), Some("a:b"));
    let p = parse(&[], &[("LOCUST_WEB_AUTH", "u:p")]).unwrap();
    assert_eq!(p.options.web_auth.as_deref(), Some("u:p"));
    assert_eq!(parse(&[], &[]).unwrap().options.web_auth, None);
}

#[test]
fn defaults_match_locust() {
    let p = parse(&[], &[]).unwrap();
    let o = &p.options;
    assert_eq!(o.locustfile, "locustfile.py");
    assert_eq!(o.host, None);
    assert_eq!(o.num_users, None);
    assert_eq!(o.spawn_rate, None);
    assert_eq!(o.run_time, None);
    assert_eq!(o.web_port, 8089);
    assert_eq!(o.web_host, "");
    assert_eq!(o.master_bind_host, "*");
    assert_eq!(o.master_bind_port, 5557);
    assert_eq!(o.master_host, "127.0.0.1");
    assert_eq!(o.master_port, 5557);
    assert_eq!(o.expect_workers, 1);
    assert_eq!(o.expect_workers_max_wait, 0);
    assert_eq!(o.autoquit, -1);
    assert_eq!(o.loglevel, "INFO");
    assert_eq!(o.exit_code_on_error, 1);
    assert_eq!(o.stop_timeout, 0.0);
    assert_eq!(o.tags, None);
    assert_eq!(o.max_stats_entries, 1000);
    assert_eq!(o.threads, locusta_options::default_threads());
    assert!(o.user_classes.is_empty());
    assert_eq!(p.sources["host"], Source::Default);
    assert_eq!(p.sources["user_classes"], Source::Default);
}

#[test]
fn command_line_forms() {
    let p = parse(
        &[
            "-u5",
            "--spawn-rate=2.5",
            "-t",
            "1h30m",
            "-H",
            "https://x.test",
            "--headless",
            "-s",
            "10s",
        ],
        &[],
    )
    .unwrap();
    let o = &p.options;
    assert_eq!(o.num_users, Some(5));
    assert_eq!(o.spawn_rate, Some(2.5));
    assert_eq!(o.run_time, Some(5400));
    assert_eq!(o.host.as_deref(), Some("https://x.test"));
    assert!(o.headless);
    assert_eq!(o.stop_timeout, 10.0);
    assert_eq!(p.sources["num_users"], Source::CommandLine);
    // argparse accepts unique prefixes of long options, so does Locust: --user means --users.
    assert_eq!(
        parse(&["--user", "10"], &[]).unwrap().options.num_users,
        Some(10)
    );
    // An exact name wins over longer names it is a prefix of.
    let o = parse(&["--master"], &[]).unwrap().options;
    assert!(o.master);
    // The last occurrence wins.
    assert_eq!(
        parse(&["-u", "3", "-u", "4"], &[])
            .unwrap()
            .options
            .num_users,
        Some(4)
    );
    assert_eq!(parse(&["-P", "9000"], &[]).unwrap().options.web_port, 9000);
    assert_eq!(
        parse(&["-L", "debug"], &[]).unwrap().options.loglevel,
        "DEBUG"
    );
    assert_eq!(
        parse(&["--processes", "-1"], &[])
            .unwrap()
            .options
            .processes,
        Some(-1)
    );
}

#[test]
fn lists_and_user_classes() {
    assert_eq!(parse(&["-T"], &[]).unwrap().options.tags, Some(vec![]));
    assert_eq!(
        parse(&["-T", "a", "-T", "b"], &[]).unwrap().options.tags,
        Some(vec!["b".to_string()])
    );
    // As in argparse, a list option swallows the following words.
    let o = parse(&["-T", "a", "b", "MyUser"], &[]).unwrap().options;
    assert_eq!(o.tags, Some(vec!["a".into(), "b".into(), "MyUser".into()]));
    assert!(o.user_classes.is_empty());
    let o = parse(&["-E", "slow", "-u", "2", "MyUser", "Other"], &[])
        .unwrap()
        .options;
    assert_eq!(o.exclude_tags, Some(vec!["slow".into()]));
    assert_eq!(o.user_classes, vec!["MyUser", "Other"]);
    // LOCUST_USER_CLASSES is split on whitespace; positional names replace it.
    let p = parse(&[], &[("LOCUST_USER_CLASSES", "A  B")]).unwrap();
    assert_eq!(p.options.user_classes, vec!["A", "B"]);
    assert_eq!(
        p.sources["user_classes"],
        Source::Env("LOCUST_USER_CLASSES".into())
    );
    let p = parse(&["C"], &[("LOCUST_USER_CLASSES", "A B")]).unwrap();
    assert_eq!(p.options.user_classes, vec!["C"]);
    assert_eq!(p.sources["user_classes"], Source::CommandLine);
    // `--` ends options.
    assert_eq!(
        parse(&["--", "-u"], &[]).unwrap().options.user_classes,
        vec!["-u"]
    );
}

#[test]
fn environment_variables() {
    let p = parse(
        &[],
        &[
            ("LOCUST_HOST", "http://env.test"),
            ("LOCUST_USERS", "7"),
            ("LOCUST_HEADLESS", "true"),
            ("LOCUST_MODE_WORKER", "yes"),
            ("LOCUST_MASTER_NODE_HOST", "10.0.0.1"),
            ("LOCUST_MASTER_NODE_PORT", "6000"),
            ("LOCUST_USERCLASS_PICKER", "1"),
            ("LOCUST_ENABLE_OPENTELEMETRY", "On"),
            ("LOCUST_CSV", "out/run"),
            ("LOCUST_CSV_FULL_HISTORY", "true"),
            ("LOCUST_RUN_TIME", "20m"),
            ("LOCUSTA_THREADS", "3"),
        ],
    )
    .unwrap();
    let o = &p.options;
    assert_eq!(o.host.as_deref(), Some("http://env.test"));
    assert_eq!(o.num_users, Some(7));
    assert!(o.headless && o.worker && o.class_picker && o.otel && o.stats_history_enabled);
    assert_eq!(o.master_host, "10.0.0.1");
    assert_eq!(o.master_port, 6000);
    assert_eq!(o.csv_prefix.as_deref(), Some("out/run"));
    assert_eq!(o.run_time, Some(1200));
    assert_eq!(o.threads, 3);
    assert_eq!(
        p.sources["worker"],
        Source::Env("LOCUST_MODE_WORKER".into())
    );
    // False values leave flags off.
    assert!(
        !parse(&[], &[("LOCUST_HEADLESS", "false")])
            .unwrap()
            .options
            .headless
    );
    assert!(
        !parse(&[], &[("LOCUST_HEADLESS", "0")])
            .unwrap()
            .options
            .headless
    );
    let e = err(&[], &[("LOCUST_HEADLESS", "maybe")]);
    assert_eq!(e.exit_code, 2);
    assert!(
        e.message.contains("LOCUST_HEADLESS must be true or false"),
        "{}",
        e.message
    );
    // List variables: `[a, b]` is a list, anything else a single element (as configargparse).
    assert_eq!(
        parse(&[], &[("LOCUST_TAGS", "[a, b]")])
            .unwrap()
            .options
            .tags,
        Some(vec!["a".into(), "b".into()])
    );
    assert_eq!(
        parse(&[], &[("LOCUST_TAGS", "a b")]).unwrap().options.tags,
        Some(vec!["a b".into()])
    );
    assert_eq!(
        parse(&[], &[("LOCUST_TAGS", "")]).unwrap().options.tags,
        None
    );
    // Options without an environment variable ignore look-alikes.
    assert!(!parse(&[], &[("LOCUST_JSON", "true")]).unwrap().options.json);
    // Env errors name the variable.
    let e = err(&[], &[("LOCUST_USERS", "-5")]);
    assert!(
        e.message.contains("from environment variable LOCUST_USERS"),
        "{}",
        e.message
    );
}

#[test]
fn precedence_of_every_layer() {
    let dir = tempfile::tempdir().unwrap();
    let home = tempfile::tempdir().unwrap();
    std::fs::write(
        home.path().join(".locust.conf"),
        "host = http://home.test\nusers = 1\nspawn-rate = 1\nrun-time = 1\nstop-timeout = 1\nprofile = home\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("locust.conf"),
        "host = http://conf.test\nusers = 2\nspawn-rate = 2\nrun-time = 2\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("pyproject.toml"),
        "[tool.locust]\nhost = \"http://pyproject.test\"\nusers = 3\nspawn-rate = 3\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("extra.conf"), "users = 9\nheadless\n").unwrap();

    // Files only: pyproject.toml > ./locust.conf > ~/.locust.conf (checked against Locust 2.47).
    let p = parse_in(dir.path(), Some(home.path()), &[], &[]).unwrap();
    let o = &p.options;
    assert_eq!(o.host.as_deref(), Some("http://pyproject.test"));
    assert_eq!(o.num_users, Some(3));
    assert_eq!(o.spawn_rate, Some(3.0));
    assert_eq!(o.run_time, Some(2));
    assert_eq!(o.stop_timeout, 1.0);
    assert_eq!(p.sources["host"], Source::PyProject);
    assert_eq!(
        p.sources["run_time"],
        Source::ConfFile(dir.path().join("locust.conf"))
    );
    assert_eq!(
        p.sources["profile"],
        Source::ConfFile(home.path().join(".locust.conf"))
    );

    // --config beats files, env beats --config, command line beats env.
    let p = parse_in(
        dir.path(),
        Some(home.path()),
        &["--config", "extra.conf", "-H", "http://cli.test"],
        &[
            ("LOCUST_HOST", "http://env.test"),
            ("LOCUST_SPAWN_RATE", "5"),
        ],
    )
    .unwrap();
    let o = &p.options;
    assert_eq!(o.host.as_deref(), Some("http://cli.test"));
    assert_eq!(o.num_users, Some(9));
    assert!(o.headless);
    assert_eq!(o.spawn_rate, Some(5.0));
    assert_eq!(o.run_time, Some(2));
    assert_eq!(p.sources["host"], Source::CommandLine);
    assert_eq!(
        p.sources["spawn_rate"],
        Source::Env("LOCUST_SPAWN_RATE".into())
    );
    assert_eq!(
        p.sources["num_users"],
        Source::ConfFile(dir.path().join("extra.conf"))
    );
    assert_eq!(o.config.as_deref(), Some(Path::new("extra.conf")));

    // A false flag in a higher layer turns off a lower layer's true.
    let p = parse_in(
        dir.path(),
        None,
        &["--config", "extra.conf"],
        &[("LOCUST_HEADLESS", "false")],
    )
    .unwrap();
    assert!(!p.options.headless);
    // --headful overrides headless from a file.
    let p = parse_in(
        dir.path(),
        None,
        &["--config", "extra.conf", "--headful"],
        &[],
    )
    .unwrap();
    assert!(!p.options.headless);
}

#[test]
fn conf_file_syntax() {
    let dir = tempfile::tempdir().unwrap();
    let conf = |text: &str| {
        std::fs::write(dir.path().join("locust.conf"), text).unwrap();
        parse_in(dir.path(), None, &[], &[])
    };
    assert_eq!(conf("users: 4\n").unwrap().options.num_users, Some(4));
    assert_eq!(conf("users 4\n").unwrap().options.num_users, Some(4));
    assert_eq!(conf("--users 4\n").unwrap().options.num_users, Some(4));
    assert_eq!(conf("users=4 # note\n").unwrap().options.num_users, Some(4));
    assert_eq!(conf("users = \"4\"\n").unwrap().options.num_users, Some(4));
    assert_eq!(
        conf("[locust]\nusers = 5\nusers = 6\n")
            .unwrap()
            .options
            .num_users,
        Some(6)
    );
    assert!(conf("headless = True\n").unwrap().options.headless);
    assert!(conf("headless\n").unwrap().options.headless);
    assert!(!conf("headless = no\n").unwrap().options.headless);
    assert_eq!(
        conf("tags = [a, b]\n").unwrap().options.tags,
        Some(vec!["a".into(), "b".into()])
    );
    assert_eq!(
        conf("tags = [\"a\", \"b c\"]\n").unwrap().options.tags,
        Some(vec!["a".into(), "b c".into()])
    );
    assert_eq!(
        conf("tags = a b\n").unwrap().options.tags,
        Some(vec!["a b".into()])
    );
    assert_eq!(conf("tags =\n").unwrap().options.tags, None);
    // Unique prefixes work as they would on the command line (`--u=7`).
    assert_eq!(conf("u = 7\n").unwrap().options.num_users, Some(7));
    assert_eq!(conf("user = 7\n").unwrap().options.num_users, Some(7));

    let e = conf("headless = maybe\n").unwrap_err();
    assert_eq!(e.exit_code, 2);
    assert!(
        e.message.contains("'headless' must be true or false"),
        "{}",
        e.message
    );
    assert!(e.message.contains("locust.conf, line 1"), "{}", e.message);
    let e = conf("users = [1, 2]\n").unwrap_err();
    assert!(
        e.message.contains("takes a single value, not a list"),
        "{}",
        e.message
    );
    // Unknown keys are errors in Locust too (underscores are not dashes).
    let e = conf("spawn_rate = 2\n").unwrap_err();
    assert!(
        e.message
            .contains("unrecognized arguments: --spawn_rate=2\nDid you mean '--spawn-rate'?"),
        "{}",
        e.message
    );
    let e = conf("bogus = 2\n").unwrap_err();
    assert!(
        e.message.contains("unrecognized arguments: --bogus=2"),
        "{}",
        e.message
    );
    let e = conf("users = -1\n").unwrap_err();
    assert!(
        e.message
            .contains("must be a whole number >= 0, got '-1' (from "),
        "{}",
        e.message
    );
}

#[test]
fn toml_and_config_file_errors() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("pyproject.toml"),
        "[project]\nname = \"x\"\n[tool.locust]\nheadless = true\nusers = 3\nspawn-rate = 0.5\ntags = [\"a\", \"b\"]\n",
    )
    .unwrap();
    let p = parse_in(dir.path(), None, &[], &[]).unwrap();
    assert!(p.options.headless);
    assert_eq!(p.options.num_users, Some(3));
    assert_eq!(p.options.spawn_rate, Some(0.5));
    assert_eq!(p.options.tags, Some(vec!["a".into(), "b".into()]));
    assert_eq!(p.sources["headless"], Source::PyProject);
    // The command line still wins.
    let p = parse_in(dir.path(), None, &["-T", "c"], &[]).unwrap();
    assert_eq!(p.options.tags, Some(vec!["c".into()]));

    std::fs::write(dir.path().join("pyproject.toml"), "[tool.locust\n").unwrap();
    let e = parse_in(dir.path(), None, &[], &[]).unwrap_err();
    assert!(e.message.contains("TOML"), "{}", e.message);

    let e = parse(&["--config", "nope.conf"], &[]).unwrap_err();
    assert_eq!(e.exit_code, 2);
    assert!(e.message.contains("nope.conf"), "{}", e.message);
}

#[test]
fn validation_messages() {
    let cases: &[(&[&str], &str)] = &[
        (&["-u", "-5"], "locusta: error: argument -u/--users: must be a whole number >= 0, got '-5'"),
        (&["-u", "abc"], "locusta: error: argument -u/--users: must be a whole number >= 0, got 'abc'"),
        (&["-u", "1.5"], "locusta: error: argument -u/--users: must be a whole number >= 0, got '1.5'"),
        (&["-r", "0"], "locusta: error: argument -r/--spawn-rate: must be > 0, got '0'"),
        (&["-r", "-1"], "locusta: error: argument -r/--spawn-rate: must be > 0, got '-1'"),
        (&["-r", "nan"], "locusta: error: argument -r/--spawn-rate: must be a finite number, got 'nan'"),
        (
            &["-t", "3x"],
            "locusta: error: argument -t/--run-time: '3x' is not a valid time span; use e.g. 300s, 20m, 3h, 1h30m or a bare number of seconds",
        ),
        (&["-s", "1.5"], "locusta: error: argument -s/--stop-timeout: '1.5' is not a valid time span"),
        (&["--expect-workers", "0"], "locusta: error: argument --expect-workers: must be a positive whole number, got '0'"),
        (&["-L", "foo"], "locusta: error: argument --loglevel/-L: invalid choice: 'foo'"),
        (&["-u"], "locusta: error: argument -u/--users: expected one argument"),
        (&["--headless=true"], "locusta: error: argument --headless: takes no value, but got 'true'"),
        (&["--web-port", "99999"], "locusta: error: argument --web-port/-P: must be a port number from 0 to 65535"),
        (
            &["-H", "example.com"],
            "locusta: error: argument -H/--host: 'example.com' has no scheme; write the full base URL, e.g. 'https://example.com'",
        ),
        (&["--csv-full-history"], "locusta: error: --csv-full-history requires --csv"),
        (&["--config-users", "{\"a\": 1}"], "user_class_name"),
    ];
    for (args, expected) in cases {
        let e = err(args, &[]);
        assert_eq!(e.exit_code, 2, "{args:?}");
        assert!(!e.use_stdout);
        assert!(e.message.contains(expected), "{args:?}: {:?}", e.message);
    }
    assert!(
        parse(&["--csv", "x", "--csv-full-history"], &[])
            .unwrap()
            .options
            .stats_history_enabled
    );
}

#[test]
fn post_parse_checks_use_locusts_exit_codes() {
    let e = err(&["--autoquit", "5"], &[]);
    assert_eq!(e.exit_code, 1);
    assert!(e
        .message
        .contains("--autoquit only has an effect together with --autostart"));
    assert_eq!(
        parse(&["--autoquit", "5", "--autostart"], &[])
            .unwrap()
            .options
            .autoquit,
        5
    );
    let e = err(&["--processes", "-2"], &[]);
    assert_eq!(e.exit_code, 1);
    assert!(e.message.contains("invalid --processes count -2"));
    let e = err(&["--processes", "2", "--master"], &[]);
    assert_eq!(e.exit_code, 1);
    let e = err(&["--master", "--worker"], &[]);
    assert_eq!(e.exit_code, 255);
    let e = err(&["--web-base-path", "locust"], &[]);
    assert_eq!(e.exit_code, 1);
    assert!(e.message.contains("must start with a slash"));
    // Not checked when there is no web UI, as in Locust.
    assert!(parse(&["--web-base-path", "locust", "--headless"], &[]).is_ok());
}

#[test]
fn unknown_and_removed_options() {
    let e = err(&["--bogus"], &[]);
    assert_eq!(e.exit_code, 2);
    assert_eq!(
        e.message,
        "locusta: error: unrecognized arguments: --bogus\nDid you mean '--tags'?"
    );
    assert!(parse(&["--headles"], &[]).unwrap().options.headless);
    let e = err(&["--headlss"], &[]);
    assert!(
        e.message.ends_with("Did you mean '--headless'?"),
        "{}",
        e.message
    );
    let e = err(&["--usrs", "10"], &[]);
    assert!(
        e.message.contains("unrecognized arguments: --usrs"),
        "{}",
        e.message
    );
    assert!(
        e.message.ends_with("Did you mean '--users'?"),
        "{}",
        e.message
    );
    let e = err(&["--web", "1"], &[]);
    assert!(
        e.message
            .contains("ambiguous option: --web could match --web-host,"),
        "{}",
        e.message
    );

    let e = err(&["--hatch-rate", "3"], &[]);
    assert!(
        e.message.contains("unrecognized arguments: --hatch-rate"),
        "{}",
        e.message
    );
    assert!(e.message.contains("renamed --spawn-rate"), "{}", e.message);
    assert!(err(&["--no-web"], &[]).message.contains("--headless"));
    assert!(err(&["-c", "5"], &[]).message.contains("-u/--users"));
    assert!(err(&["--step-load"], &[]).message.contains("load shape"));

    let removed: &[(&[&str], &str)] = &[
        (
            &["--slave"],
            "argument --slave: --slave was renamed; use --worker",
        ),
        (
            &["--expect-slaves"],
            "argument --expect-slaves: --expect-slaves was renamed; use --expect-workers",
        ),
        (
            &["--legacy-ui"],
            "argument --legacy-ui: --legacy-ui is not supported any more",
        ),
    ];
    for (args, expected) in removed {
        let e = err(args, &[]);
        assert_eq!(e.exit_code, 2);
        assert!(e.message.contains(expected), "{args:?}: {}", e.message);
    }
    // Removed options are rejected from the environment too.
    assert!(err(&[], &[("LOCUST_LEGACY_UI", "true")])
        .message
        .contains("--legacy-ui is not supported any more"));
}

#[test]
fn help_and_version() {
    let e = err(&["--help"], &[]);
    assert_eq!(e.exit_code, 0);
    assert!(e.use_stdout);
    assert!(e
        .message
        .starts_with("Usage: locusta [options] [UserClass ...]"));
    for heading in [
        "Common options:",
        "Web UI options:",
        "Master options:",
        "Worker options:",
        "Tag options:",
        "Request statistics options:",
        "Logging options:",
        "Other options:",
        "locusta additions (not in Locust):",
    ] {
        assert!(e.message.contains(heading), "missing {heading}");
    }
    assert!(e.message.contains("--threads <int>"));
    assert!(e.message.contains("--max-stats-entries <int>"));
    // Hidden options stay hidden.
    assert!(!e.message.contains("--headful"));
    assert!(!e.message.contains("--hatch-rate"));
    let e = err(&["-h"], &[]);
    assert_eq!(e.exit_code, 0);

    let e = err(&["-V"], &[]);
    assert_eq!(e.exit_code, 0);
    assert!(e.use_stdout);
    assert!(
        e.message
            .starts_with(&format!("locusta {} from ", env!("CARGO_PKG_VERSION"))),
        "{}",
        e.message
    );
    assert_eq!(
        locusta_options::version_string(Path::new("/usr/bin/locusta")),
        format!(
            "locusta {} from /usr/bin/locusta",
            env!("CARGO_PKG_VERSION")
        )
    );
}

#[test]
fn config_users_from_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("users.json"),
        r#"[{"user_class_name": "A", "weight": 2}]"#,
    )
    .unwrap();
    let p = parse_in(dir.path(), None, &["--config-users", "users.json"], &[]).unwrap();
    let users = p.options.config_users.unwrap();
    assert_eq!(users.len(), 1);
    assert_eq!(users[0]["weight"], 2);
}

#[test]
fn baseline_from_every_layer() {
    let p = parse(&["--baseline", "runs/main.json"], &[]).unwrap();
    assert_eq!(p.options.baseline.as_deref(), Some("runs/main.json"));
    let p = parse(&[], &[("LOCUSTA_BASELINE", "from-env")]).unwrap();
    assert_eq!(p.options.baseline.as_deref(), Some("from-env"));
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("locust.conf"), "baseline = runs/good\n").unwrap();
    let p = parse_in(dir.path(), None, &[], &[]).unwrap();
    assert_eq!(p.options.baseline.as_deref(), Some("runs/good"));
    let p = parse_in(dir.path(), None, &["--baseline", "cli"], &[]).unwrap();
    assert_eq!(p.options.baseline.as_deref(), Some("cli"));
    assert_eq!(parse(&[], &[]).unwrap().options.baseline, None);
}
