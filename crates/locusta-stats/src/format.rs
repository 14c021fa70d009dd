//! Number and time formatting shared by the output modules, reproducing what Locust prints
//! (Python `str(float)`, `round` half-to-even buckets, UTC timestamps) while keeping our
//! sub-millisecond precision where Locust would print an integer.

/// Percentiles shown in the console table and CSV files (Locust's `PERCENTILES_TO_REPORT`).
pub const PERCENTILES_TO_REPORT: [f64; 11] = [
    0.50, 0.66, 0.75, 0.80, 0.90, 0.95, 0.98, 0.99, 0.999, 0.9999, 1.0,
];

/// Formats milliseconds: values >= 100 as integers, smaller ones with up to 3 significant digits
/// (`12.3`, `1.23`, `0.123`, never more than 3 decimals), no scientific notation, never `-0`.
pub fn format_ms(ms: f64) -> String {
    if !ms.is_finite() || ms == 0.0 {
        return "0".to_owned();
    }
    let s = if ms.abs() >= 100.0 {
        format!("{:.0}", ms)
    } else {
        let mag = ms.abs().log10().floor() as i32;
        let decimals = (2 - mag).clamp(0, 3) as usize;
        let s = format!("{:.*}", decimals, ms);
        if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.').to_owned()
        } else {
            s
        }
    };
    if s == "-0" {
        "0".to_owned()
    } else {
        s
    }
}

/// Formats a float the way Python's `str(float)` does for the values we produce: integral
/// values get a trailing `.0`; others use the shortest round-trip representation. Unlike Python
/// it never switches to scientific notation (the result always parses as a float).
pub fn py_float(x: f64) -> String {
    if !x.is_finite() {
        return "0.0".to_owned();
    }
    if x == x.trunc() && x.abs() < 1e16 {
        let s = format!("{:.1}", x);
        if s == "-0.0" {
            return "0.0".to_owned();
        }
        return s;
    }
    format!("{}", x)
}

/// Python `round(x)` (half to even), then `int`.
fn round_even(x: f64) -> f64 {
    x.round_ties_even()
}

/// Locust's `bucket_response_time`: rounds a response time (ms) to about two significant digits
/// with Python's half-to-even rounding (`145 -> 140`, `147 -> 150`, `3432 -> 3400`).
pub fn bucket_response_time(ms: f64) -> u64 {
    let ms = if ms.is_finite() { ms.max(0.0) } else { 0.0 };
    let r = if ms < 100.0 {
        round_even(ms)
    } else if ms < 1000.0 {
        round_even(ms / 10.0) * 10.0
    } else if ms < 10000.0 {
        round_even(ms / 100.0) * 100.0
    } else {
        round_even(ms / 1000.0) * 1000.0
    };
    r as u64
}

/// Locust's `get_readable_percentiles`: `0.5 -> "50%"`, `0.999 -> "99.9%"`.
pub fn readable_percentile(p: f64) -> String {
    let pct = p * 100.0;
    if pct == pct.trunc() {
        format!("{}%", pct as i64)
    } else {
        // round to 6 decimals, then print like Python's str(float)
        let r = (pct * 1e6).round() / 1e6;
        format!("{}%", py_float(r))
    }
}

/// Locust's `format_utc_timestamp`: `int(t)` as `YYYY-MM-DDTHH:MM:SSZ` in UTC.
pub fn format_utc_timestamp(unix: f64) -> String {
    let secs = unix.trunc() as i64;
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        y,
        m,
        d,
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

/// Converts days since 1970-01-01 to a proleptic Gregorian (year, month, day).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_ms_rules() {
        assert_eq!(format_ms(0.0), "0");
        assert_eq!(format_ms(-0.0), "0");
        assert_eq!(format_ms(12.34), "12.3");
        assert_eq!(format_ms(1.234), "1.23");
        assert_eq!(format_ms(0.1234), "0.123");
        assert_eq!(format_ms(0.0004), "0");
        assert_eq!(format_ms(0.001), "0.001");
        assert_eq!(format_ms(5.0), "5");
        assert_eq!(format_ms(99.96), "100");
        assert_eq!(format_ms(100.4), "100");
        assert_eq!(format_ms(123456.7), "123457");
        assert_eq!(format_ms(1e12), "1000000000000");
        for v in [0.0005, 3.3, 77.7, 1e9] {
            assert!(format_ms(v).parse::<f64>().is_ok());
            assert!(!format_ms(v).contains('e'));
        }
    }

    #[test]
    fn py_float_rules() {
        assert_eq!(py_float(0.0), "0.0");
        assert_eq!(py_float(591.0), "591.0");
        assert_eq!(py_float(4.853429791707084), "4.853429791707084");
        assert_eq!(py_float(410.8493150684931), "410.8493150684931");
        assert_eq!(py_float(1e-7), "0.0000001");
    }

    #[test]
    fn buckets_half_to_even() {
        assert_eq!(bucket_response_time(0.5), 0);
        assert_eq!(bucket_response_time(1.5), 2);
        assert_eq!(bucket_response_time(2.5), 2);
        assert_eq!(bucket_response_time(99.4), 99);
        assert_eq!(bucket_response_time(145.0), 140);
        assert_eq!(bucket_response_time(147.0), 150);
        assert_eq!(bucket_response_time(155.0), 160);
        assert_eq!(bucket_response_time(3432.0), 3400);
        assert_eq!(bucket_response_time(58760.0), 59000);
    }

    #[test]
    fn readable_percentiles() {
        let got: Vec<String> = PERCENTILES_TO_REPORT
            .iter()
            .map(|&p| readable_percentile(p))
            .collect();
        assert_eq!(
            got.join(","),
            "50%,66%,75%,80%,90%,95%,98%,99%,99.9%,99.99%,100%"
        );
    }

    #[test]
    fn utc_timestamps() {
        assert_eq!(format_utc_timestamp(0.0), "1970-01-01T00:00:00Z");
        assert_eq!(format_utc_timestamp(1795431397.9), "2026-11-23T10:56:37Z");
        assert_eq!(format_utc_timestamp(951782400.0), "2000-02-29T00:00:00Z");
    }
}
