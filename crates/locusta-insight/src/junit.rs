//! JUnit XML for CI systems (`--junit FILE`): one test case per `--threshold`.
//!
//! Jenkins, GitLab, GitHub Actions reporters and most CI dashboards read this format, so a
//! failed threshold shows up as a failed test with the measured value as its message.

use quick_xml::escape::escape;

use crate::threshold::Outcome;

/// Renders the outcomes as a JUnit XML document. `duration_s` is the run's length.
pub fn junit_xml(outcomes: &[Outcome], duration_s: f64, timestamp_utc: &str) -> String {
    let failures = outcomes.iter().filter(|o| !o.passed).count();
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    out.push_str(&format!(
        "<testsuites name=\"locusta\" tests=\"{n}\" failures=\"{failures}\" errors=\"0\" time=\"{duration_s:.3}\">\n\
         \x20 <testsuite name=\"locusta thresholds\" tests=\"{n}\" failures=\"{failures}\" errors=\"0\" skipped=\"0\" time=\"{duration_s:.3}\" timestamp=\"{ts}\">\n",
        n = outcomes.len(),
        ts = escape(timestamp_utc),
    ));
    for o in outcomes {
        out.push_str(&format!(
            "    <testcase classname=\"locusta.thresholds\" name=\"{}\" time=\"{duration_s:.3}\"",
            escape(o.threshold.text.as_str())
        ));
        if o.passed {
            out.push_str(&format!(
                ">\n      <system-out>{}</system-out>\n    </testcase>\n",
                escape(o.actual_text().as_str())
            ));
        } else {
            let message = format!("{} (limit: {})", o.actual_text(), o.threshold.text);
            out.push_str(&format!(
                ">\n      <failure message=\"{m}\" type=\"ThresholdFailed\">{m}</failure>\n    </testcase>\n",
                m = escape(message.as_str())
            ));
        }
    }
    out.push_str("  </testsuite>\n</testsuites>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::threshold::Threshold;

    #[test]
    fn failures_and_escaping() {
        let pass = Outcome {
            threshold: Threshold::parse("GET /a?x=1&y=<2>:p95<500ms").unwrap(),
            actual: Some(12.0),
            passed: true,
            note: None,
        };
        let fail = Outcome {
            threshold: Threshold::parse("fail_ratio<1%").unwrap(),
            actual: Some(0.5),
            passed: false,
            note: None,
        };
        let xml = junit_xml(&[pass, fail], 12.5, "2026-01-01T00:00:00");
        assert!(xml.contains("tests=\"2\" failures=\"1\""), "{xml}");
        assert!(
            xml.contains("name=\"GET /a?x=1&amp;y=&lt;2&gt;:p95&lt;500ms\""),
            "{xml}"
        );
        assert!(
            xml.contains("<failure message=\"fail_ratio=50% (limit: fail_ratio&lt;1%)\""),
            "{xml}"
        );
        assert!(!xml.contains("<2>"));
    }
}
