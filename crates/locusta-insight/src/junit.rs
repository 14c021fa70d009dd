//! JUnit XML for CI systems (`--junit FILE`): one test case per `--threshold`, and with
//! `--baseline` one per compared endpoint.
//!
//! Jenkins, GitLab, GitHub Actions reporters and most CI dashboards read this format, so a
//! failed threshold shows up as a failed test with the measured value as its message, and an
//! endpoint that regressed beyond noise against the baseline as a failed test naming the
//! metrics (the exit code changes only through `--threshold` terms).

use quick_xml::escape::escape;

use crate::compare::{show, show_change, Comparison};
use crate::threshold::Outcome;

/// Renders the outcomes (and the baseline comparison, if any) as a JUnit XML document.
/// `duration_s` is the run's length.
pub fn junit_xml(
    outcomes: &[Outcome],
    comparison: Option<&Comparison>,
    duration_s: f64,
    timestamp_utc: &str,
) -> String {
    let failures = outcomes.iter().filter(|o| !o.passed).count();
    let (compared, regressed) =
        comparison.map_or((0, 0), |c| (c.endpoints.len(), c.regressions().len()));
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    out.push_str(&format!(
        "<testsuites name=\"locusta\" tests=\"{all}\" failures=\"{all_failed}\" errors=\"0\" time=\"{duration_s:.3}\">\n\
         \x20 <testsuite name=\"locusta thresholds\" tests=\"{n}\" failures=\"{failures}\" errors=\"0\" skipped=\"0\" time=\"{duration_s:.3}\" timestamp=\"{ts}\">\n",
        all = outcomes.len() + compared,
        all_failed = failures + regressed,
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
    out.push_str("  </testsuite>\n");
    if let Some(c) = comparison {
        baseline_suite(&mut out, c, duration_s, timestamp_utc);
    }
    out.push_str("</testsuites>\n");
    out
}

/// One test case per compared endpoint (the aggregate included), failed when a metric
/// regressed beyond noise; every metric's figures in its output.
fn baseline_suite(out: &mut String, c: &Comparison, duration_s: f64, timestamp_utc: &str) {
    let failed = c.regressions().len();
    out.push_str(&format!(
        "  <testsuite name=\"locusta baseline\" tests=\"{}\" failures=\"{failed}\" errors=\"0\" skipped=\"0\" time=\"{duration_s:.3}\" timestamp=\"{}\">\n",
        c.endpoints.len(),
        escape(timestamp_utc)
    ));
    let mut props = format!(
        "    <properties>\n      <property name=\"baseline\" value=\"{}\"/>\n",
        escape(c.source.as_str())
    );
    if !c.only_in_run.is_empty() {
        props.push_str(&format!(
            "      <property name=\"only_in_this_run\" value=\"{}\"/>\n",
            escape(c.only_in_run.join(", ").as_str())
        ));
    }
    if !c.only_in_baseline.is_empty() {
        props.push_str(&format!(
            "      <property name=\"only_in_baseline\" value=\"{}\"/>\n",
            escape(c.only_in_baseline.join(", ").as_str())
        ));
    }
    props.push_str("    </properties>\n");
    out.push_str(&props);
    for e in &c.endpoints {
        let lines: Vec<String> = e
            .metrics
            .iter()
            .map(|m| {
                format!(
                    "{}: {} -> {} ({}), {}",
                    m.metric,
                    show(m.metric, m.baseline),
                    show(m.metric, m.current),
                    show_change(m),
                    m.verdict.text()
                )
            })
            .collect();
        out.push_str(&format!(
            "    <testcase classname=\"locusta.baseline\" name=\"{}\" time=\"{duration_s:.3}\">\n",
            escape(e.label().as_str())
        ));
        let regressed = e.regressed();
        if !regressed.is_empty() {
            let message: Vec<String> = regressed
                .iter()
                .map(|m| {
                    format!(
                        "{} {} -> {} ({})",
                        m.metric,
                        show(m.metric, m.baseline),
                        show(m.metric, m.current),
                        show_change(m)
                    )
                })
                .collect();
            let message = format!("regressed beyond noise: {}", message.join("; "));
            out.push_str(&format!(
                "      <failure message=\"{m}\" type=\"BaselineRegression\">{m}</failure>\n",
                m = escape(message.as_str())
            ));
        }
        out.push_str(&format!(
            "      <system-out>{}</system-out>\n    </testcase>\n",
            escape(lines.join("\n").as_str())
        ));
    }
    out.push_str("  </testsuite>\n");
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
            baseline: None,
        };
        let fail = Outcome {
            threshold: Threshold::parse("fail_ratio<1%").unwrap(),
            actual: Some(0.5),
            passed: false,
            note: None,
            baseline: None,
        };
        let xml = junit_xml(&[pass, fail], None, 12.5, "2026-01-01T00:00:00");
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

    #[test]
    fn one_case_per_compared_endpoint_failed_when_it_regressed() {
        use locusta_stats::{Sample, StatsHub, StatsLimits};
        let run = |ms: u64| {
            let hub = StatsHub::new_at(StatsLimits::default(), 1000.0);
            for i in 0..1000u64 {
                for (name, base) in [("/a?x=1&y=<2>", 20), ("/slowed", ms)] {
                    hub.record_at(
                        &Sample {
                            method: "GET",
                            name,
                            response_time_us: Some((base + i % 3) * 1000),
                            content_length: 0,
                            error: None,
                        },
                        1000.0 + i as f64 / 100.0,
                    );
                }
            }
            hub.merge();
            hub
        };
        let base = crate::baseline::parse_json(&run(10).read(locusta_stats::json::stats_json))
            .expect("baseline");
        let c = run(50).read(|agg| crate::compare::compare(&base, agg));
        let xml = junit_xml(&[], Some(&c), 10.0, "2026-01-01T00:00:00");
        assert!(
            xml.contains("<testsuites name=\"locusta\" tests=\"3\" failures=\"2\""),
            "{xml}"
        );
        assert!(
            xml.contains("<testsuite name=\"locusta baseline\" tests=\"3\" failures=\"2\""),
            "{xml}"
        );
        let steady = xml
            .find("name=\"GET /a?x=1&amp;y=&lt;2&gt;\"")
            .expect("escaped name");
        let end = steady + xml[steady..].find("</testcase>").expect("end");
        assert!(!xml[steady..end].contains("<failure"), "{xml}");
        assert!(
            xml[steady..end].contains("p50: 21 ms -&gt; 21 ms (+0.0%), within noise"),
            "{xml}"
        );
        let slowed = xml.find("name=\"GET /slowed\"").expect("slowed");
        assert!(
            xml[slowed..].contains(
                "<failure message=\"regressed beyond noise: p50 11 ms -&gt; 51 ms (+363.6%)"
            ),
            "{xml}"
        );
        assert!(!xml.contains("<2>"));
    }
}
