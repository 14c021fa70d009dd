//! Integration tests for options declared by a locustfile (`parse_with_extras`): command line,
//! config file, environment variable, precedence, help and refused names.

use std::collections::HashMap;

use locusta_options::{parse_with_extras, ExtraOption, ExtraValue, Source};

fn extras() -> Vec<ExtraOption> {
    vec![
        ExtraOption {
            dest: "my_arg".into(),
            long: "my-arg".into(),
            short: None,
            env: Some("LOCUST_MY_ARG".into()),
            takes_value: true,
            help: "Custom value".into(),
            metavar: None,
            hidden: false,
        },
        ExtraOption {
            dest: "my_flag".into(),
            long: "my-flag".into(),
            short: None,
            env: None,
            takes_value: false,
            help: "Custom flag".into(),
            metavar: None,
            hidden: false,
        },
    ]
}

fn run(
    args: &[&str],
    env: &[(&str, &str)],
    conf: Option<&str>,
) -> Result<locusta_options::Parsed, locusta_options::CliError> {
    let dir = tempfile::tempdir().unwrap();
    if let Some(c) = conf {
        std::fs::write(dir.path().join("locust.conf"), c).unwrap();
    }
    let env: HashMap<String, String> = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let argv: Vec<String> = std::iter::once("locusta")
        .chain(args.iter().copied())
        .map(str::to_string)
        .collect();
    parse_with_extras(argv, &env, dir.path(), None, &extras())
}

#[test]
fn declared_options_come_from_every_layer() {
    let p = run(&["--my-arg", "7", "--my-flag", "-u", "3"], &[], None).unwrap();
    assert_eq!(p.options.num_users, Some(3));
    assert_eq!(
        p.extras["my_arg"],
        (ExtraValue::Text("7".into()), Source::CommandLine)
    );
    assert_eq!(p.extras["my_flag"].0, ExtraValue::Flag(true));

    let p = run(&[], &[], None).unwrap();
    assert!(
        p.extras.is_empty(),
        "unset options are absent: {:?}",
        p.extras
    );

    let p = run(
        &[],
        &[("LOCUST_MY_ARG", "env")],
        Some("my-arg = conf\nmy-flag = false\n"),
    )
    .unwrap();
    assert_eq!(
        p.extras["my_arg"],
        (
            ExtraValue::Text("env".into()),
            Source::Env("LOCUST_MY_ARG".into())
        )
    );
    assert_eq!(p.extras["my_flag"].0, ExtraValue::Flag(false));

    let p = run(&["--my-arg=cli"], &[("LOCUST_MY_ARG", "env")], None).unwrap();
    assert_eq!(p.extras["my_arg"].0, ExtraValue::Text("cli".into()));
}

#[test]
fn help_lists_declared_options_and_unknown_ones_still_fail() {
    let e = run(&["--help"], &[], None).unwrap_err();
    assert_eq!(e.exit_code, 0);
    assert!(e.message.contains("--my-arg <MY_ARG>"), "{}", e.message);
    assert!(e.message.contains("Custom flag"), "{}", e.message);

    let e = run(&["--not-declared"], &[], None).unwrap_err();
    assert_eq!(e.exit_code, 2);
    assert!(
        e.message.contains("unrecognized arguments: --not-declared"),
        "{}",
        e.message
    );

    let e = run(&[], &[], Some("my-flag = maybe\n")).unwrap_err();
    assert!(e.message.contains("must be true or false"), "{}", e.message);
}

#[test]
fn a_declared_name_may_not_shadow_a_built_in() {
    let dir = tempfile::tempdir().unwrap();
    let mut x = extras();
    x[0].long = "users".into();
    let e = parse_with_extras(["locusta"], &HashMap::new(), dir.path(), None, &x).unwrap_err();
    assert_eq!(e.exit_code, 1);
    assert!(
        e.message.contains("conflicting option string: --users"),
        "{}",
        e.message
    );
}
