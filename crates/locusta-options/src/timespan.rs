//! Time span strings (`300s`, `20m`, `1h30m`, `10`) as accepted by Locust's `-t/--run-time` and
//! `-s/--stop-timeout`.
//!
//! This exists so that every value a Locust user already types for a duration means the same
//! number of seconds here. The rules follow Locust's `util/timespan.py`: either a bare whole number
//! of seconds, or any of `<n>h`, `<n>m`, `<n>s` in exactly that order (each at most once, at least
//! one present), with no whitespace and no fractions. Components are not range-limited
//! (`1h90m` is 9000 seconds).

/// The help shown whenever a time span cannot be understood.
pub(crate) const TIMESPAN_HINT: &str = "use e.g. 300s, 20m, 3h, 1h30m or a bare number of seconds";

/// Parse a Locust time span into whole seconds.
///
/// Accepts `20`, `20s`, `3m`, `2h`, `1h20m`, `3h30m10s` and so on; the units must appear in the
/// order h, m, s. Returns a message (without the option name) when the text is not a time span
/// or is too large to represent.
pub fn parse_timespan(s: &str) -> Result<u64, String> {
    if s.is_empty() {
        return Err("an empty value is not a valid time span; ".to_string() + TIMESPAN_HINT);
    }
    let invalid = || format!("'{s}' is not a valid time span; {TIMESPAN_HINT}");
    let too_large = || format!("'{s}' is too large a time span");

    // A bare number means seconds. Python's `^\d+$` also tolerates one trailing newline.
    let bare = s.strip_suffix('\n').unwrap_or(s);
    if !bare.is_empty() && bare.bytes().all(|b| b.is_ascii_digit()) {
        return bare.parse::<u64>().map_err(|_| too_large());
    }

    let mut rest = s;
    let mut total: u64 = 0;
    let mut seen_any = false;
    for (unit, factor) in [('h', 3600u64), ('m', 60), ('s', 1)] {
        let digits = rest.bytes().take_while(|b| b.is_ascii_digit()).count();
        if digits == 0 || !rest[digits..].starts_with(unit) {
            // This unit is absent; the next unit may still follow.
            continue;
        }
        let n: u64 = rest[..digits].parse().map_err(|_| too_large())?;
        let secs = n.checked_mul(factor).ok_or_else(too_large)?;
        total = total.checked_add(secs).ok_or_else(too_large)?;
        rest = &rest[digits + 1..];
        seen_any = true;
    }
    if !rest.is_empty() || !seen_any {
        return Err(invalid());
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::parse_timespan;

    #[test]
    fn locust_own_cases() {
        // The cases from Locust's test_util.py.
        assert_eq!(parse_timespan("7"), Ok(7));
        assert_eq!(parse_timespan("7s"), Ok(7));
        assert_eq!(parse_timespan("1m"), Ok(60));
        assert_eq!(parse_timespan("2h"), Ok(7200));
        assert_eq!(parse_timespan("1h3m7s"), Ok(3787));
        assert!(parse_timespan("").is_err());
        assert!(parse_timespan("q").is_err());
    }

    #[test]
    fn combinations_and_normalisation() {
        assert_eq!(parse_timespan("1h30m"), Ok(5400));
        assert_eq!(parse_timespan("20m"), Ok(1200));
        assert_eq!(parse_timespan("300s"), Ok(300));
        assert_eq!(parse_timespan("1h20m30s"), Ok(4830));
        assert_eq!(parse_timespan("1h30s"), Ok(3630));
        assert_eq!(parse_timespan("1h90m"), Ok(9000));
        assert_eq!(parse_timespan("0"), Ok(0));
        assert_eq!(parse_timespan("0s"), Ok(0));
        assert_eq!(parse_timespan("00012s"), Ok(12));
        assert_eq!(parse_timespan("10\n"), Ok(10));
    }

    #[test]
    fn rejects_what_locust_rejects() {
        for bad in [
            "1h1h", "30m1h", " 10", "10 ", "1H", "1h30", "h", "1.5", "-5", "1d", "3x", "1 h", "m",
            "1s2",
        ] {
            assert!(parse_timespan(bad).is_err(), "{bad:?} should be rejected");
        }
    }

    #[test]
    fn error_message_explains_format() {
        let err = parse_timespan("3x").unwrap_err();
        assert_eq!(
            err,
            "'3x' is not a valid time span; use e.g. 300s, 20m, 3h, 1h30m or a bare number of seconds"
        );
        assert!(parse_timespan("99999999999999999999h")
            .unwrap_err()
            .contains("too large"));
        assert!(parse_timespan("99999999999999999999")
            .unwrap_err()
            .contains("too large"));
    }
}
