//! Reading Locust configuration files: `locust.conf`-style files and `pyproject.toml`.
//!
//! Users keep their existing `~/.locust.conf`, `./locust.conf`, `pyproject.toml` and `--config`
//! files, so this module reads them the way Locust (through configargparse) does:
//!
//! * `.conf` files: one setting per line as `key = value`, `key: value`, `key value` or
//!   `--key value`; a bare `key` means `key = true`; blank lines and lines starting with `#`, `;`,
//!   `[` or `---` are skipped; a trailing ` # comment` / ` ; comment` (with a space before it) is
//!   dropped; one pair of matching quotes around the value is removed; a value written as
//!   `[a, b]` is a list (JSON, or else comma separated).
//! * files whose name ends in `.toml`: the `[tool.locust]` table; lists stay lists and every
//!   scalar becomes the text Python's `str()` would give (`True`, `5`, `1.5`).
//!
//! Interpreting the keys (which option, flag or not) is left to the caller.

use std::path::Path;

/// One value read from a configuration file (or a list-valued environment variable).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum ConfValue {
    /// A single textual value.
    Str(String),
    /// A list of values (`[a, b]` in a `.conf` file, an array in TOML).
    List(Vec<String>),
}

/// One `key = value` entry, with the 1-based line number it came from (0 when unknown, e.g. TOML).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ConfEntry {
    pub key: String,
    pub value: ConfValue,
    pub line: usize,
}

/// Read a configuration file, choosing the syntax from its name (`*.toml` or conf syntax).
pub(crate) fn read_config_file(path: &Path) -> Result<Vec<ConfEntry>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        format!(
            "cannot read config file {}: {e}; check that it exists and is readable",
            path.display()
        )
    })?;
    if path.to_string_lossy().ends_with(".toml") {
        parse_toml(&text).map_err(|e| format!("{}: {e}", path.display()))
    } else {
        parse_conf(&text).map_err(|e| format!("{}: {e}", path.display()))
    }
}

/// Parse the `[tool.locust]` table of a TOML document. A document without that table gives no
/// entries.
pub(crate) fn parse_toml(text: &str) -> Result<Vec<ConfEntry>, String> {
    let doc: toml::Table = text
        .parse()
        .map_err(|e: toml::de::Error| format!("could not parse the TOML file: {e}"))?;
    let Some(section) = doc
        .get("tool")
        .and_then(|t| t.as_table())
        .and_then(|t| t.get("locust"))
    else {
        return Ok(Vec::new());
    };
    let Some(table) = section.as_table() else {
        return Err("[tool.locust] must be a table of settings".to_string());
    };
    let mut out = Vec::new();
    for (key, value) in table {
        let value = match value {
            toml::Value::Array(items) => ConfValue::List(
                items
                    .iter()
                    .map(|v| toml_scalar_text(key, v))
                    .collect::<Result<_, _>>()?,
            ),
            other => ConfValue::Str(toml_scalar_text(key, other)?),
        };
        out.push(ConfEntry {
            key: key.clone(),
            value,
            line: 0,
        });
    }
    Ok(out)
}

/// Text of a TOML scalar as Python's `str()` renders the value `tomllib` gives.
fn toml_scalar_text(key: &str, v: &toml::Value) -> Result<String, String> {
    Ok(match v {
        toml::Value::String(s) => s.clone(),
        toml::Value::Integer(i) => i.to_string(),
        toml::Value::Float(f) => python_float_text(*f),
        toml::Value::Boolean(b) => if *b { "True" } else { "False" }.to_string(),
        toml::Value::Datetime(d) => d.to_string(),
        toml::Value::Array(_) | toml::Value::Table(_) => {
            return Err(format!(
                "[tool.locust] {key}: nested arrays and tables are not supported; use a plain value or a list of values"
            ))
        }
    })
}

/// Render a float the way Python's `str()` does for ordinary values (`1.0`, `2.5`, `inf`).
pub(crate) fn python_float_text(f: f64) -> String {
    if f.is_nan() {
        "nan".to_string()
    } else if f.is_infinite() {
        if f > 0.0 { "inf" } else { "-inf" }.to_string()
    } else if f.fract() == 0.0 && f.abs() < 1e16 {
        format!("{f:.1}")
    } else {
        format!("{f}")
    }
}

/// Parse a configargparse-style `.conf` document.
pub(crate) fn parse_conf(text: &str) -> Result<Vec<ConfEntry>, String> {
    let mut out = Vec::new();
    for (i, raw_line) in text.lines().enumerate() {
        let line = raw_line.trim();
        if line.is_empty()
            || line.starts_with('#')
            || line.starts_with(';')
            || line.starts_with('[')
            || line.starts_with("---")
        {
            continue;
        }
        let Some((key, value)) = parse_conf_line(line) else {
            return Err(format!(
                "line {}: cannot understand '{line}'; write settings as 'name = value'",
                i + 1
            ));
        };
        let value = if value.starts_with('[') && value.ends_with(']') {
            ConfValue::List(parse_list_text(&value))
        } else {
            ConfValue::Str(value)
        };
        out.push(ConfEntry {
            key,
            value,
            line: i + 1,
        });
    }
    Ok(out)
}

/// Turn `[a, b]` / `["a", "b"]` into a list the way configargparse does: JSON first, otherwise
/// split on commas and trim each element.
pub(crate) fn parse_list_text(value: &str) -> Vec<String> {
    match serde_json::from_str::<serde_json::Value>(value) {
        Ok(serde_json::Value::Array(items)) => items.iter().map(json_elem_text).collect(),
        _ => value[1..value.len() - 1]
            .split(',')
            .map(|s| s.trim().to_string())
            .collect(),
    }
}

/// Text of a JSON list element as Python's `str()` renders it.
fn json_elem_text(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Bool(b) => if *b { "True" } else { "False" }.to_string(),
        serde_json::Value::Null => "None".to_string(),
        serde_json::Value::Number(n) => match (n.as_i64(), n.as_u64(), n.as_f64()) {
            (Some(i), _, _) => i.to_string(),
            (_, Some(u), _) => u.to_string(),
            (_, _, Some(f)) => python_float_text(f),
            _ => n.to_string(),
        },
        other => other.to_string(),
    }
}

fn is_py_space(c: char) -> bool {
    c.is_whitespace()
}

/// Whether `tail` can end a line: only whitespace, or whitespace followed by a `#`/`;` comment.
fn tail_ok(tail: &str) -> bool {
    let trimmed = tail.trim_start_matches(is_py_space);
    trimmed.is_empty()
        || (tail.starts_with(is_py_space) && (trimmed.starts_with('#') || trimmed.starts_with(';')))
}

/// Split one stripped, non-comment line into key and value, choosing the same split as
/// configargparse's line pattern
/// `^(key)\s*(?:([:=\s])\s*(['"]?)(value.+?)?\3)?\s*(?:\s[;#]\s*(comment.*?)\s*)?$`
/// (tried in the same order a backtracking matcher would). Returns `None` when the line does not
/// match at all.
pub(crate) fn parse_conf_line(line: &str) -> Option<(String, String)> {
    let key_end = line
        .char_indices()
        .find(|&(_, c)| matches!(c, ':' | '=' | ';' | '#') || is_py_space(c))
        .map_or(line.len(), |(i, _)| i);
    if key_end == 0 {
        return None;
    }
    let key = &line[..key_end];
    let rest = &line[key_end..];

    // Positions (byte offsets into `rest`) of each leading whitespace prefix length, longest first.
    let lead_ws: Vec<usize> = ws_prefix_ends(rest);
    for &after_ws1 in lead_ws.iter().rev() {
        let r = &rest[after_ws1..];
        // The optional "separator + value" group, tried before skipping it.
        if let Some(sep) = r
            .chars()
            .next()
            .filter(|&c| matches!(c, ':' | '=') || is_py_space(c))
        {
            let after_sep = &r[sep.len_utf8()..];
            for &after_ws2 in ws_prefix_ends(after_sep).iter().rev() {
                let v = &after_sep[after_ws2..];
                let mut quotes: Vec<Option<char>> = Vec::new();
                if let Some(q) = v.chars().next().filter(|&c| c == '"' || c == '\'') {
                    quotes.push(Some(q));
                }
                quotes.push(None);
                for q in quotes {
                    let body = match q {
                        Some(q) => &v[q.len_utf8()..],
                        None => v,
                    };
                    if let Some(value) = match_value(body, q) {
                        let value = match value {
                            Some(s) => s.to_string(),
                            None if sep != ' ' => String::new(),
                            None => "true".to_string(),
                        };
                        return Some((key.to_string(), value));
                    }
                }
            }
        }
        if tail_ok(r) {
            return Some((key.to_string(), "true".to_string()));
        }
    }
    None
}

/// Byte offsets after 0, 1, 2, ... leading whitespace characters of `s`.
fn ws_prefix_ends(s: &str) -> Vec<usize> {
    let mut ends = vec![0];
    for (i, c) in s.char_indices() {
        if !is_py_space(c) {
            break;
        }
        ends.push(i + c.len_utf8());
    }
    ends
}

/// Match `(value.+?)?` followed by the closing quote `q` and an acceptable line tail. Returns
/// `Some(Some(value))` for the shortest non-empty value that works, `Some(None)` when only an
/// absent value works, `None` when nothing does.
fn match_value(body: &str, q: Option<char>) -> Option<Option<&str>> {
    let closes = |tail: &str| -> bool {
        match q {
            Some(q) => tail.strip_prefix(q).is_some_and(tail_ok),
            None => tail_ok(tail),
        }
    };
    for (i, c) in body.char_indices() {
        let end = i + c.len_utf8();
        if closes(&body[end..]) {
            return Some(Some(&body[..end]));
        }
    }
    if closes(body) {
        return Some(None);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(s: &str) -> Option<(String, String)> {
        parse_conf_line(s)
    }

    fn kv(k: &str, v: &str) -> Option<(String, String)> {
        Some((k.to_string(), v.to_string()))
    }

    #[test]
    fn separators() {
        assert_eq!(line("users = 4"), kv("users", "4"));
        assert_eq!(line("users=4"), kv("users", "4"));
        assert_eq!(line("users: 4"), kv("users", "4"));
        assert_eq!(line("users 4"), kv("users", "4"));
        assert_eq!(line("--users 4"), kv("--users", "4"));
        assert_eq!(line("spawn-rate =   2.5"), kv("spawn-rate", "2.5"));
    }

    #[test]
    fn flags_and_empty_values() {
        assert_eq!(line("headless"), kv("headless", "true"));
        assert_eq!(line("host ="), kv("host", ""));
        assert_eq!(line("host:"), kv("host", ""));
        assert_eq!(line("host\t"), kv("host", "true"));
        // configargparse quirk, kept: a comment right after a bare key becomes its value.
        assert_eq!(line("headless # no value"), kv("headless", "# no value"));
    }

    #[test]
    fn comments_and_quotes() {
        assert_eq!(line("users = 4 # comment"), kv("users", "4"));
        assert_eq!(line("users = 4 ; comment"), kv("users", "4"));
        // A comment marker needs a space before it, otherwise it is part of the value.
        assert_eq!(line("host = http://x/#frag"), kv("host", "http://x/#frag"));
        assert_eq!(line("users = \"4\""), kv("users", "4"));
        assert_eq!(line("host = 'http://q'"), kv("host", "http://q"));
        assert_eq!(line("host = \"http://x y\""), kv("host", "http://x y"));
        assert_eq!(line("host = \"\""), kv("host", ""));
        assert_eq!(line("host = \"a # b\" # c"), kv("host", "a # b"));
        assert_eq!(line("users=4#x"), kv("users", "4#x"));
        assert_eq!(line("a=b=c"), kv("a", "b=c"));
        assert_eq!(line("k :v"), kv("k", "v"));
        assert_eq!(line("k = 'a'b'"), kv("k", "a'b"));
        assert_eq!(line("key=  \"q\"  "), kv("key", "q"));
        // Mismatched quotes are kept.
        assert_eq!(line("host = \"abc"), kv("host", "\"abc"));
    }

    #[test]
    fn whole_documents() {
        let doc = "# a comment\n; another\n[locust]\n---\n\nusers = 5\ntags = [a, b]\nexclude-tags = [\"x\", \"y z\"]\nheadless\n";
        let entries = parse_conf(doc).unwrap();
        assert_eq!(entries.len(), 4);
        assert_eq!(entries[0].key, "users");
        assert_eq!(entries[0].value, ConfValue::Str("5".into()));
        assert_eq!(entries[0].line, 6);
        assert_eq!(
            entries[1].value,
            ConfValue::List(vec!["a".into(), "b".into()])
        );
        assert_eq!(
            entries[2].value,
            ConfValue::List(vec!["x".into(), "y z".into()])
        );
        assert_eq!(entries[3].value, ConfValue::Str("true".into()));
        assert!(parse_conf("= 5\n").unwrap_err().contains("line 1"));
    }

    #[test]
    fn list_text() {
        assert_eq!(parse_list_text("[1, 2]"), vec!["1", "2"]);
        assert_eq!(parse_list_text("[]"), Vec::<String>::new());
        assert_eq!(parse_list_text("[a,b , c]"), vec!["a", "b", "c"]);
        assert_eq!(parse_list_text("[true, 1.0]"), vec!["True", "1.0"]);
    }

    #[test]
    fn toml_section() {
        let doc = "[project]\nname='x'\n[tool.locust]\nhost = \"http://a\"\nusers = 3\nspawn-rate = 1.5\nheadless = true\ntags = [\"a\", \"b\"]\n";
        let entries = parse_toml(doc).unwrap();
        let get = |k: &str| entries.iter().find(|e| e.key == k).map(|e| e.value.clone());
        assert_eq!(get("host"), Some(ConfValue::Str("http://a".into())));
        assert_eq!(get("users"), Some(ConfValue::Str("3".into())));
        assert_eq!(get("spawn-rate"), Some(ConfValue::Str("1.5".into())));
        assert_eq!(get("headless"), Some(ConfValue::Str("True".into())));
        assert_eq!(
            get("tags"),
            Some(ConfValue::List(vec!["a".into(), "b".into()]))
        );
        assert!(parse_toml("[project]\nname='x'\n").unwrap().is_empty());
        assert!(parse_toml("[tool.locust\n").unwrap_err().contains("TOML"));
    }

    #[test]
    fn python_float_rendering() {
        assert_eq!(python_float_text(1.0), "1.0");
        assert_eq!(python_float_text(2.5), "2.5");
        assert_eq!(python_float_text(f64::INFINITY), "inf");
    }
}
