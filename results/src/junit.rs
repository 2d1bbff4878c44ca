//! JUnit XML, so CI dashboards can show each test's verdict.
//!
//! The format is the de-facto one read by Jenkins, GitLab and GitHub
//! actions: a `<testsuites>` root holding one `<testsuite>`, whose
//! `<testcase>`s pass, carry a `<failure>` (the store misbehaved: an
//! anomaly was found) or an `<error>` (no answer: the check was unknown or
//! the run was interrupted).

use std::fmt::Write;

use crate::html::escape;

/// One test's result, as a JUnit test case.
#[derive(Clone, Debug, PartialEq)]
pub struct JunitCase {
    /// The test's name, e.g. `register / bundled, seed 7`.
    pub name: String,
    /// `valid`, `anomaly`, `unknown` or `interrupted`.
    pub verdict: String,
    /// A sentence or a few lines explaining the verdict.
    pub message: String,
    /// How long the test took.
    pub seconds: f64,
}

/// What a verdict becomes in JUnit terms.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum CaseResult {
    Pass,
    Failure,
    Error,
}

impl CaseResult {
    /// `valid` passes and `anomaly` fails; anything else, including a
    /// verdict this code does not know, is an error, because it means the
    /// test gave no answer rather than a wrong one.
    fn of(verdict: &str) -> CaseResult {
        match verdict {
            "valid" => CaseResult::Pass,
            "anomaly" => CaseResult::Failure,
            _ => CaseResult::Error,
        }
    }
}

/// A JUnit XML document with one testsuite named `suite` and one testcase
/// per case: verdict `valid` passes, `anomaly` is a `<failure>`, and
/// `unknown`, `interrupted` (or anything else) is an `<error>`.
pub fn junit_xml(suite: &str, cases: &[JunitCase]) -> String {
    let count = |r| {
        cases
            .iter()
            .filter(|c| CaseResult::of(&c.verdict) == r)
            .count()
    };
    let failures = count(CaseResult::Failure);
    let errors = count(CaseResult::Error);
    let total_s: f64 = cases.iter().map(|c| seconds(c.seconds)).sum();
    let suite = escape(suite);

    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    // `write!` to a String cannot fail; the results are ignored for that
    // reason throughout.
    let _ = writeln!(
        out,
        "<testsuites name=\"{suite}\" tests=\"{}\" failures=\"{failures}\" errors=\"{errors}\" time=\"{total_s:.3}\">",
        cases.len()
    );
    let _ = writeln!(
        out,
        "  <testsuite name=\"{suite}\" tests=\"{}\" failures=\"{failures}\" errors=\"{errors}\" skipped=\"0\" time=\"{total_s:.3}\">",
        cases.len()
    );
    for case in cases {
        let _ = write!(
            out,
            "    <testcase name=\"{}\" classname=\"{suite}\" time=\"{:.3}\"",
            escape(&case.name),
            seconds(case.seconds)
        );
        let tag = match CaseResult::of(&case.verdict) {
            CaseResult::Pass => {
                out.push_str("/>\n");
                continue;
            }
            CaseResult::Failure => "failure",
            CaseResult::Error => "error",
        };
        let first_line = case.message.lines().next().unwrap_or("");
        let _ = writeln!(
            out,
            ">\n      <{tag} message=\"{}\" type=\"{}\">{}</{tag}>\n    </testcase>",
            escape(first_line),
            escape(&case.verdict),
            escape(&case.message)
        );
    }
    out.push_str("  </testsuite>\n</testsuites>\n");
    out
}

/// A duration fit for a `time` attribute: dashboards reject NaN and
/// negative times.
fn seconds(s: f64) -> f64 {
    if s.is_finite() && s > 0.0 {
        s
    } else {
        0.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn case(name: &str, verdict: &str, message: &str) -> JunitCase {
        JunitCase {
            name: name.into(),
            verdict: verdict.into(),
            message: message.into(),
            seconds: 1.5,
        }
    }

    #[test]
    fn counts_failures_and_errors() {
        let cases = [
            case("a", "valid", ""),
            case("b", "anomaly", "stale read\nsecond line"),
            case("c", "unknown", "timed out"),
            case("d", "interrupted", "ctrl-c"),
            case("e", "anomaly", "lost write"),
        ];
        let xml = junit_xml("skeptic", &cases);
        assert!(xml.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>"));
        assert!(xml.contains(
            "<testsuite name=\"skeptic\" tests=\"5\" failures=\"2\" errors=\"2\" skipped=\"0\" time=\"7.500\">"
        ), "{xml}");
        assert_eq!(xml.matches("<testcase ").count(), 5);
        assert_eq!(xml.matches("<failure ").count(), 2);
        assert_eq!(xml.matches("<error ").count(), 2);
        assert!(xml.contains("<testcase name=\"a\" classname=\"skeptic\" time=\"1.500\"/>"));
        // The message attribute holds the first line; the body all of it.
        assert!(xml
            .contains("message=\"stale read\" type=\"anomaly\">stale read\nsecond line</failure>"));
        assert!(xml.trim_end().ends_with("</testsuites>"));
    }

    #[test]
    fn escapes_names_and_messages() {
        let mut c = case("<\"bank\" & 'co'>", "anomaly", "read <script>\u{1}");
        c.seconds = f64::NAN;
        let xml = junit_xml("a&b", &[c]);
        assert!(
            xml.contains("name=\"&lt;&quot;bank&quot; &amp; &#39;co&#39;&gt;\""),
            "{xml}"
        );
        assert!(
            xml.contains("read &lt;script&gt;\u{FFFD}</failure>"),
            "{xml}"
        );
        assert!(xml.contains("<testsuite name=\"a&amp;b\""));
        assert!(xml.contains("time=\"0.000\""));
        assert!(!xml.contains("<script>"));
        assert!(!xml.contains('\u{1}'));
    }

    #[test]
    fn empty_suite_is_well_formed() {
        let xml = junit_xml("none", &[]);
        assert!(xml.contains("tests=\"0\" failures=\"0\" errors=\"0\""));
        assert_eq!(xml.matches("<testcase").count(), 0);
    }
}
