//! The run report: one self-contained HTML page per run.
//!
//! The page needs nothing but itself: CSS and SVG are inline and there is
//! no script, so it can be opened from a CI artifact, mailed, or archived
//! and still read the same. Every piece of text that comes from the run
//! (names, summaries, configuration, checker lines) is escaped; only the
//! plot SVGs, which [`crate::plots`] produced, are inserted as they are.

mod config;
mod css;
mod timeline;

use std::fmt::Write;

use crate::html::escape;
use crate::plots::{FaultSpan, OpSample};

/// Everything the run report shows.
#[derive(Clone, Copy, Debug)]
pub struct ReportInput<'a> {
    /// What was tested, e.g. `register / bundled, seed 7`.
    pub title: &'a str,
    /// `valid`, `anomaly`, `unknown` or `interrupted`.
    pub verdict: &'a str,
    /// Lines of words explaining the verdict.
    pub verdict_detail: &'a [String],
    /// The whole test configuration, shown as a table of settings.
    pub config: &'a serde_json::Value,
    /// Rows of the summary table: (label, value).
    pub summary: &'a [(String, String)],
    /// One section per checker.
    pub checkers: &'a [CheckerSection],
    /// Every client operation, for the timeline.
    pub samples: &'a [OpSample],
    /// The faults injected, for the timeline.
    pub faults: &'a [FaultSpan],
    /// How long the test ran, in seconds.
    pub duration_s: f64,
    /// The latency plot from [`crate::plots::latency_svg`], inlined.
    pub latency_svg: Option<&'a str>,
    /// The throughput plot from [`crate::plots::throughput_svg`], inlined.
    pub throughput_svg: Option<&'a str>,
}

/// What one checker concluded.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CheckerSection {
    /// The checker's name, e.g. `linearizable`.
    pub name: String,
    /// Its verdict, in the same words as the run's.
    pub verdict: String,
    /// Lines of words explaining it.
    pub lines: Vec<String>,
    /// The relative file name of a separate page with the checker's
    /// details (its counterexample), to link to.
    pub detail_page: Option<String>,
}

/// A self-contained HTML page for the run: a verdict banner coloured by
/// verdict, the summary table, one section per checker (linking to its
/// detail page), the latency and throughput plots, a timeline of
/// operations and faults, and the configuration.
///
/// The timeline has one lane per client process, each operation a bar from
/// its invocation to its completion, coloured by outcome, with a tooltip.
/// It shows at most 3 000 operations; past that it shows the stretch of the
/// run with the most failed or indeterminate ones, and says so.
pub fn render(input: &ReportInput) -> String {
    let verdict_class = verdict_class(input.verdict);
    let mut out = String::with_capacity(64 * 1024);
    out.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    out.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    // `write!` to a String cannot fail; the results are ignored for that
    // reason throughout.
    let _ = writeln!(
        out,
        "<title>{}: {}</title>",
        escape(input.verdict),
        escape(input.title)
    );
    let _ = writeln!(
        out,
        "<style>\n{}</style>\n</head>\n<body>",
        css::stylesheet()
    );

    let _ = writeln!(
        out,
        "<header class=\"banner verdict-{verdict_class}\">\n<div class=\"headline\">{}</div>\n<h1>{}</h1>",
        escape(&headline(input.verdict)),
        escape(input.title)
    );
    push_lines(&mut out, input.verdict_detail, "detail");
    out.push_str("</header>\n");

    out.push_str(
        "<nav><a href=\"#summary\">Summary</a> · <a href=\"#checkers\">Checkers</a> · \
         <a href=\"#plots\">Plots</a> · <a href=\"#timeline\">Timeline</a> · \
         <a href=\"#configuration\">Configuration</a></nav>\n<main>\n",
    );

    push_summary(&mut out, input.summary);
    push_checkers(&mut out, input.checkers);
    push_plots(&mut out, input.latency_svg, input.throughput_svg);

    out.push_str("<section id=\"timeline\">\n<h2>Timeline</h2>\n");
    out.push_str(&timeline::render(
        input.samples,
        input.faults,
        input.duration_s,
    ));
    out.push_str("</section>\n");

    out.push_str("<section id=\"configuration\">\n<h2>Configuration</h2>\n");
    out.push_str(&config::render(input.config));
    out.push_str("</section>\n</main>\n</body>\n</html>\n");
    out
}

/// The CSS class for a verdict; anything unexpected gets a neutral one, so
/// data never lands in a class attribute.
fn verdict_class(verdict: &str) -> &'static str {
    match verdict {
        "valid" => "valid",
        "anomaly" => "anomaly",
        "unknown" => "unknown",
        "interrupted" => "interrupted",
        _ => "other",
    }
}

/// The banner's headline: the verdict word and what it means.
fn headline(verdict: &str) -> String {
    match verdict {
        "valid" => "valid: no anomaly found".to_owned(),
        "anomaly" => "anomaly: the store misbehaved".to_owned(),
        "unknown" => "unknown: the check reached no answer".to_owned(),
        "interrupted" => "interrupted: the run did not finish".to_owned(),
        other => other.to_owned(),
    }
}

/// Appends `lines` as a list with CSS class `class`, if there are any.
fn push_lines(out: &mut String, lines: &[String], class: &str) {
    if lines.is_empty() {
        return;
    }
    let _ = writeln!(out, "<ul class=\"{class}\">");
    for line in lines {
        let _ = writeln!(out, "<li>{}</li>", escape(line));
    }
    out.push_str("</ul>\n");
}

/// Appends the summary table.
fn push_summary(out: &mut String, rows: &[(String, String)]) {
    out.push_str("<section id=\"summary\">\n<h2>Summary</h2>\n");
    if rows.is_empty() {
        out.push_str("<p class=\"none\">No summary was recorded.</p>\n");
    } else {
        out.push_str("<table class=\"summary\">\n");
        for (label, value) in rows {
            let _ = writeln!(
                out,
                "<tr><th>{}</th><td>{}</td></tr>",
                escape(label),
                escape(value)
            );
        }
        out.push_str("</table>\n");
    }
    out.push_str("</section>\n");
}

/// Appends one section per checker, with its verdict badge and a link to
/// its detail page.
fn push_checkers(out: &mut String, checkers: &[CheckerSection]) {
    out.push_str("<section id=\"checkers\">\n<h2>Checkers</h2>\n");
    if checkers.is_empty() {
        out.push_str("<p class=\"none\">No checker ran.</p>\n");
    }
    for checker in checkers {
        let _ = writeln!(
            out,
            "<div class=\"checker\">\n<h3>{} <span class=\"badge verdict-{}\">{}</span></h3>",
            escape(&checker.name),
            verdict_class(&checker.verdict),
            escape(&checker.verdict)
        );
        push_lines(out, &checker.lines, "lines");
        if let Some(page) = &checker.detail_page {
            if is_relative_link(page) {
                let _ = writeln!(
                    out,
                    "<p><a class=\"detail\" href=\"{0}\">Details and counterexample ({0})</a></p>",
                    escape(page)
                );
            } else {
                // A scheme or an absolute path could point anywhere; the
                // report only links to files beside it.
                let _ = writeln!(
                    out,
                    "<p>Details: {} (not linked: not a relative file name)</p>",
                    escape(page)
                );
            }
        }
        out.push_str("</div>\n");
    }
    out.push_str("</section>\n");
}

/// Whether `page` is a plain relative file name: no scheme
/// (`javascript:`, `https:`), not absolute, not protocol-relative.
fn is_relative_link(page: &str) -> bool {
    let before_path = page.split(['/', '?', '#']).next().unwrap_or("");
    !page.is_empty()
        && !before_path.contains(':')
        && !page.starts_with(['/', '\\'])
        && !page.chars().any(char::is_control)
}

/// Appends the two plots, inline.
fn push_plots(out: &mut String, latency: Option<&str>, throughput: Option<&str>) {
    out.push_str("<section id=\"plots\">\n<h2>Latency and throughput</h2>\n");
    for (name, svg) in [("Latency", latency), ("Throughput", throughput)] {
        match svg {
            Some(svg) => {
                let _ = writeln!(
                    out,
                    "<figure class=\"plot\">\n{}\n</figure>",
                    strip_xml_prolog(svg)
                );
            }
            None => {
                let _ = writeln!(out, "<p class=\"none\">{name} plot not available.</p>");
            }
        }
    }
    out.push_str("</section>\n");
}

/// `svg` without an `<?xml ...?>` declaration, which is not allowed
/// inside an HTML document.
fn strip_xml_prolog(svg: &str) -> &str {
    let trimmed = svg.trim_start();
    if trimmed.starts_with("<?xml") {
        if let Some(end) = trimmed.find("?>") {
            return trimmed[end + 2..].trim_start();
        }
    }
    trimmed
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plots::SampleOutcome;
    use serde_json::json;

    const EVIL: &str = "<script>alert(1)</script>";

    fn sample(process: u64, start_s: f64, outcome: SampleOutcome, summary: &str) -> OpSample {
        OpSample {
            process,
            f: "write".into(),
            start_s,
            latency_ms: 20.0,
            outcome,
            summary: summary.into(),
        }
    }

    #[test]
    fn renders_every_part_and_escapes_data() {
        let detail = vec![format!("stale read {EVIL}")];
        let config = json!({"workload": EVIL, "nodes": 3, "nemesis": {"kind": "partition"}});
        let summary = vec![("operations".to_owned(), EVIL.to_owned())];
        let checkers = vec![
            CheckerSection {
                name: "linearizable".into(),
                verdict: "anomaly".into(),
                lines: vec![EVIL.into()],
                detail_page: Some("linear.html".into()),
            },
            CheckerSection {
                name: "evil".into(),
                verdict: EVIL.into(),
                lines: vec![],
                detail_page: Some("javascript:alert(1)".into()),
            },
        ];
        let samples = vec![
            sample(0, 0.5, SampleOutcome::Ok, "write k1 1"),
            sample(1, 1.0, SampleOutcome::Info, "write k3 4"),
            sample(2, 1.5, SampleOutcome::Fail, EVIL),
        ];
        let faults = vec![FaultSpan {
            name: EVIL.into(),
            start_s: 0.8,
            end_s: 1.2,
        }];
        let svg =
            "<svg xmlns=\"http://www.w3.org/2000/svg\"><circle id=\"latency-plot-marker\"/></svg>";
        let input = ReportInput {
            title: EVIL,
            verdict: "anomaly",
            verdict_detail: &detail,
            config: &config,
            summary: &summary,
            checkers: &checkers,
            samples: &samples,
            faults: &faults,
            duration_s: 2.0,
            latency_svg: Some(svg),
            throughput_svg: None,
        };
        let html = render(&input);

        assert!(!html.contains("<script"), "unescaped data in the page");
        assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(html.contains("class=\"banner verdict-anomaly\""));
        assert!(html.contains("anomaly: the store misbehaved"));
        assert!(html.contains("<a class=\"detail\" href=\"linear.html\">"));
        assert!(!html.contains("href=\"javascript:"), "unsafe link");
        assert!(
            html.contains("<circle id=\"latency-plot-marker\"/>"),
            "inline SVG"
        );
        assert!(html.contains("Throughput plot not available."));
        // The info op is on the timeline, with its tooltip.
        let info = html.find("class=\"op info\"").expect("info op mark");
        let tooltip = &html[info..html[info..]
            .find("</rect>")
            .map_or(html.len(), |e| info + e)];
        assert!(tooltip.contains("write k3 4"), "{tooltip}");
        assert!(tooltip.contains("info"), "{tooltip}");
        assert!(html.contains("class=\"op ok\""));
        assert!(html.contains("class=\"op fail\""));
        assert!(html.contains("class=\"fault\""));
        assert!(html.contains("nemesis.kind"), "configuration table");
        assert!(html.trim_end().ends_with("</html>"));
    }

    #[test]
    fn empty_report_still_renders() {
        let input = ReportInput {
            title: "empty",
            verdict: "interrupted",
            verdict_detail: &[],
            config: &serde_json::Value::Null,
            summary: &[],
            checkers: &[],
            samples: &[],
            faults: &[],
            duration_s: 0.0,
            latency_svg: None,
            throughput_svg: None,
        };
        let html = render(&input);
        assert!(html.contains("verdict-interrupted"));
        assert!(html.contains("No checker ran."));
        assert!(html.contains("No operations were recorded."));
    }

    #[test]
    fn only_relative_links() {
        let cases = [
            ("linear.html", true),
            ("checkers/linear.html", true),
            ("page.html#op-3", true),
            ("", false),
            ("javascript:alert(1)", false),
            ("https://example.com/x", false),
            ("//example.com/x", false),
            ("/etc/passwd", false),
            ("a\nb", false),
        ];
        for (page, want) in cases {
            assert_eq!(is_relative_link(page), want, "{page:?}");
        }
    }

    #[test]
    fn xml_prolog_is_dropped() {
        assert_eq!(
            strip_xml_prolog("<?xml version=\"1.0\"?>\n<svg/>"),
            "<svg/>"
        );
        assert_eq!(strip_xml_prolog("<svg/>"), "<svg/>");
    }
}
