//! The counterexample page: a self-contained HTML page for a checker's
//! verdict, with a summary, a zoomable timeline per witness, a stepper
//! through the longest linearization, and tables.
//!
//! The page needs nothing but itself: CSS and a little vanilla JS are
//! inline, timelines are inline SVG, and the witnesses are embedded as JSON
//! in a `<script type="application/json" id="witness-data">` tag that the JS
//! reads. Every piece of text that comes from the history (values, keys,
//! states, reasons) is escaped, and the JSON blob has every `<`, `>` and `&`
//! written as a `\u003c`-style escape, so that no value can close the
//! script tag (or open a comment or another script) early.
//!
//! Without script the page shows everything, each timeline whole; the
//! script adds the stepper and opens each timeline on its failing window,
//! with zoom and pan out to the whole part.
//!
//! Inside (private modules, one job each): `section` writes one witness's
//! heading, stepper and tables; `timeline` its SVG timeline and zoom
//! controls; `data` the JSON the script reads; `css` and `js` the style
//! sheet and the script.
//!
//! The explanation in words comes from the checker
//! ([`checker::report::text`]); processes are named by
//! [`checker::history::process_label`] (`process 7`, `final 3`).

mod css;
mod data;
mod js;
mod section;
mod timeline;

#[cfg(test)]
pub(crate) mod fixtures;

use crate::html::escape;
use checker::report::text;
use checker::verdict::Witness;
use std::fmt::Write as _;

/// The `id` of the `<script type="application/json">` tag holding the data.
pub const DATA_ID: &str = "witness-data";

/// A self-contained HTML page (inline CSS + a little inline JS + inline SVG;
/// opens from disk with no network).
///
/// `title`: page heading; `summary`: lines shown at the top (verdict, model,
/// counts, timings) as plain text (they are escaped); `witnesses`: zero or
/// more (zero → the page just shows the summary and says the history is
/// linearizable or that the check reached no answer, guessing which from
/// the summary lines).
///
/// Each witness gets a section with a timeline (class `op-bar` on exactly
/// one SVG element per operation, class `window` on the failing window;
/// the `<svg>` carries the view the script opens on as `data-view-lo` and
/// `data-view-hi`), zoom controls, a stepper (buttons, slider, and the
/// arrow, Home and End keys) through the longest linearization, a table of
/// the blocked operations and their reasons, a table of the whole
/// linearization, and the plain-text explanation of
/// [`checker::report::text::witness`].
pub fn page(title: &str, summary: &[String], witnesses: &[Witness]) -> String {
    let mut out = String::with_capacity(16 * 1024);
    out.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    out.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    let _ = writeln!(out, "<title>{}</title>", escape(title));
    out.push_str("<style>\n");
    out.push_str(css::CSS);
    out.push_str("</style>\n</head>\n<body>\n");
    let _ = writeln!(out, "<header>\n<h1>{}</h1>", escape(title));
    if !summary.is_empty() {
        out.push_str("<div class=\"summary\">\n");
        for line in summary {
            let _ = writeln!(out, "<div class=\"summary-line\">{}</div>", escape(line));
        }
        out.push_str("</div>\n");
    }
    out.push_str("</header>\n<main>\n");

    if witnesses.is_empty() {
        let _ = writeln!(
            out,
            "<p class=\"no-witness\">{}</p>",
            escape(no_witness_note(summary))
        );
    } else {
        if witnesses.len() > 1 {
            out.push_str("<nav class=\"toc\">Failing parts:");
            for (i, w) in witnesses.iter().enumerate() {
                let _ = write!(
                    out,
                    " <a href=\"#w{i}\">{}</a>",
                    escape(&text::part_name(w))
                );
            }
            out.push_str("</nav>\n");
        }
        for (i, w) in witnesses.iter().enumerate() {
            section::section(&mut out, i, w);
        }
    }
    out.push_str("</main>\n");

    let _ = writeln!(
        out,
        "<script type=\"application/json\" id=\"{DATA_ID}\">{}</script>",
        data::PageData::new(witnesses).script_json()
    );
    out.push_str("<script>\n");
    out.push_str(js::JS);
    out.push_str("</script>\n</body>\n</html>\n");
    out
}

/// What an empty page says, from the summary's wording.
fn no_witness_note(summary: &[String]) -> &'static str {
    let all = summary.join("\n").to_lowercase();
    if all.contains("unknown") {
        "The check reached no answer (unknown), so there is no counterexample to show."
    } else if all.contains("not linearizable") {
        "The history is not linearizable, but no counterexample was recorded."
    } else {
        "The history is linearizable: some order of its operations explains every \
         result, so there is no counterexample to show."
    }
}

#[cfg(test)]
mod tests {
    use super::fixtures::{late_failure, long, op, sample, small, timed};
    use super::*;
    use checker::history::FINAL_READ_PROCESS_BASE;
    use checker::value::Value;
    use checker::verdict::{Blocked, Step};

    /// The embedded JSON, parsed.
    fn data_of(page: &str) -> serde_json::Value {
        let open = format!("<script type=\"application/json\" id=\"{DATA_ID}\">");
        let start = page.find(&open).expect("data tag") + open.len();
        let len = page[start..].find("</script>").expect("end of data tag");
        serde_json::from_str(&page[start..start + len]).expect("data parses")
    }

    /// Every start tag `<name ...>` (or `<name .../>`) in `page`.
    fn tags<'a>(page: &'a str, name: &str) -> Vec<&'a str> {
        let open = format!("<{name} ");
        let mut out = Vec::new();
        let mut rest = page;
        while let Some(i) = rest.find(&open) {
            let end = rest[i..].find('>').expect("tag ends") + i;
            out.push(&rest[i..=end]);
            rest = &rest[end..];
        }
        out
    }

    /// An attribute of a start tag, as a number.
    fn num(tag: &str, name: &str) -> f64 {
        let key = format!(" {name}=\"");
        let start = tag.find(&key).unwrap_or_else(|| panic!("{name} in {tag}")) + key.len();
        let len = tag[start..].find('"').expect("closing quote");
        tag[start..start + len]
            .parse()
            .unwrap_or_else(|e| panic!("{name} in {tag}: {e}"))
    }

    fn summary() -> Vec<String> {
        vec!["verdict: not linearizable".into(), "model: register".into()]
    }

    #[test]
    fn page_has_timeline_bars_window_and_data() {
        let w = small();
        let p = page("Check of <x>", &summary(), std::slice::from_ref(&w));
        assert!(p.starts_with("<!DOCTYPE html>"));
        assert!(p.contains("<svg"), "no svg");
        assert_eq!(p.matches("class=\"op-bar\"").count(), w.ops.len());
        assert_eq!(p.matches("<rect class=\"window\"").count(), 1);
        assert!(p.contains(">failing window</text>"));
        assert!(p.contains("Check of &lt;x&gt;"));
        assert!(p.contains("verdict: not linearizable"));
        // Open-ended op: hatched and marked open; blocked op is red.
        assert_eq!(p.matches("class=\"op other open\"").count(), 1);
        assert_eq!(p.matches("class=\"op blocked\"").count(), 1);
        assert_eq!(p.matches("class=\"op lin\"").count(), 1);
        assert!(p.contains("url(#hatch-0-other)"));
        // Tables and stepper.
        assert!(p.contains("read returned 2, but the register held 1"));
        assert!(p.contains("◀ prev") && p.contains("next ▶"));
        assert!(p.contains(">first</button>") && p.contains(">last</button>"));
        assert!(p.contains("type=\"range\""));
        let d = data_of(&p);
        let ws = d["witnesses"].as_array().unwrap();
        assert_eq!(ws.len(), 1);
        assert_eq!(ws[0]["steps"].as_array().unwrap().len(), 1);
        assert_eq!(ws[0]["steps"][0]["state_after"], "1");
        assert_eq!(ws[0]["steps"][0]["who"], "process 0");
        assert_eq!(ws[0]["blocked"][0]["op"], 12);
        assert_eq!(ws[0]["blocked"][0]["who"], "process 1");
        assert_eq!(ws[0]["initial_state"], "0");
        // Position mode: record-index axis.
        assert!(p.contains("record position in the history"));
        assert!(tags(&p, "svg")[0].contains("data-axis=\"position\""));
        assert!(!p.contains(" ms</text>"));
    }

    #[test]
    fn many_steps_all_embedded_and_badged() {
        let w = long(30);
        let p = page("t", &[], std::slice::from_ref(&w));
        assert_eq!(p.matches("class=\"op-bar\"").count(), 31);
        assert_eq!(p.matches("<g class=\"badge\">").count(), 30);
        let d = data_of(&p);
        assert_eq!(d["witnesses"][0]["steps"].as_array().unwrap().len(), 30);
        assert!(p.contains("max=\"30\""));
        // One table row per step plus the initial state.
        assert_eq!(p.matches("<tr data-pos=").count(), 31);
    }

    #[test]
    fn hostile_values_are_escaped() {
        let evil = "</script><script>alert(1)</script>";
        let mut w = small();
        w.key = Some(Value::from(evil));
        w.ops[2].text = format!("read -> {evil}");
        w.longest[0].state_after = evil.to_string();
        w.final_state = evil.to_string();
        w.blocked[0].reason = format!("read returned {evil}, <!-- but & \"'");
        let p = page(evil, &[evil.to_string()], std::slice::from_ref(&w));
        assert!(!p.contains("<script>alert(1)"), "raw script in page");
        assert!(
            !p.contains("</script><script>alert"),
            "raw close tag in page"
        );
        assert!(!p.contains("<!-- but"), "raw comment opener in page");
        assert!(p.contains("&lt;/script&gt;&lt;script&gt;alert(1)&lt;/script&gt;"));
        // The words kept for the script are escaped too.
        assert!(p.contains("data-words=\"read -&gt; &lt;/script&gt;"));
        // Exactly the two script tags of the page itself.
        assert_eq!(p.matches("<script").count(), 2);
        assert_eq!(p.matches("</script>").count(), 2);
        // And the data still round-trips.
        let d = data_of(&p);
        assert_eq!(d["witnesses"][0]["steps"][0]["state_after"], evil);
        assert_eq!(
            d["witnesses"][0]["blocked"][0]["text"],
            format!("read -> {evil}")
        );
    }

    #[test]
    fn page_is_self_contained() {
        let p = page("t", &summary(), &[small(), timed(), long(12)]);
        assert!(!p.contains("http://"));
        assert!(!p.contains("https://"));
        assert!(!p.contains("src="));
        assert!(!p.contains("<link"));
        assert_eq!(p.matches("<svg").count(), 3);
        assert_eq!(p.matches("<section class=\"witness").count(), 3);
        // Pattern and clip ids are unique per witness.
        assert_eq!(p.matches("id=\"hatch-1-lin\"").count(), 1);
        assert_eq!(p.matches("id=\"plot-2\"").count(), 1);
        assert_eq!(data_of(&p)["witnesses"].as_array().unwrap().len(), 3);
    }

    #[test]
    fn times_give_a_millisecond_axis() {
        let w = timed();
        let p = page("t", &[], std::slice::from_ref(&w));
        assert!(p.contains("time since the first invocation"));
        assert!(p.contains(">0 ms</text>"), "{p}");
        assert!(!p.contains("record position in the history"));
        // The window maps exactly: record 3 is op 12's call at 7.5 ms after
        // the start, record 4 its completion at 10 ms.
        let win = tags(&p, "rect")
            .into_iter()
            .find(|t| t.starts_with("<rect class=\"window\""))
            .expect("window");
        assert_eq!((num(win, "data-a"), num(win, "data-b")), (7.5e6, 10e6));
        assert!(tags(&p, "svg")[0].contains("data-axis=\"time\""));
    }

    #[test]
    fn missing_times_fall_back_to_positions() {
        let mut w = timed();
        w.ops[1].call_time = None;
        let p = page("t", &[], std::slice::from_ref(&w));
        assert!(p.contains("record position in the history"));
        assert!(!p.contains(" ms</text>"));
    }

    #[test]
    fn no_witnesses_says_why() {
        let p = page("t", &["verdict: linearizable".into()], &[]);
        assert!(p.contains("The history is linearizable"));
        assert!(!p.contains("<svg"));
        assert_eq!(data_of(&p)["witnesses"].as_array().unwrap().len(), 0);
        let p = page("t", &["verdict: unknown (budget)".into()], &[]);
        assert!(p.contains("no answer (unknown)"));
    }

    #[test]
    fn rows_follow_process_numbers() {
        let mut w = small();
        w.ops.push(op(20, 42, "write 5", 5, Some(6)));
        w.ops.push(op(21, 7, "write 6", 7, Some(8)));
        w.ops.push(op(
            22,
            FINAL_READ_PROCESS_BASE + 2,
            "read -> 6",
            9,
            Some(10),
        ));
        w.longest.push(Step {
            op: 20,
            state_after: "5".into(),
        });
        w.blocked.push(Blocked {
            op: 21,
            reason: "no".into(),
        });
        let p = page("t", &[], std::slice::from_ref(&w));
        let order: Vec<usize> = [
            "process 0<",
            "process 1<",
            "process 2<",
            "process 7<",
            "process 42<",
            "final 2<",
        ]
        .iter()
        .map(|s| p.find(s).unwrap_or_else(|| panic!("{s}")))
        .collect();
        assert!(order.windows(2).all(|x| x[0] < x[1]), "{order:?}");
    }

    /// The page of the run the timeline was made readable for: a stale
    /// read at 20 s of a 31 s run, then final reads.
    fn late_page() -> (Witness, String) {
        let w = late_failure();
        let p = page("t", &summary(), std::slice::from_ref(&w));
        (w, p)
    }

    #[test]
    fn the_script_opens_on_the_failing_window_not_the_whole_run() {
        let (_, p) = late_page();
        let svg = tags(&p, "svg")[0];
        let (lo, hi) = (num(svg, "data-lo"), num(svg, "data-hi"));
        let (view_lo, view_hi) = (num(svg, "data-view-lo"), num(svg, "data-view-hi"));
        let win = tags(&p, "rect")
            .into_iter()
            .find(|t| t.starts_with("<rect class=\"window\""))
            .expect("window");
        let (a, b) = (num(win, "data-a"), num(win, "data-b"));
        // The stale read: 20.010 s to 20.040 s after the first invocation.
        assert_eq!((a, b), (20.010e9, 20.040e9));
        assert!(lo <= 0.0 && hi >= 31.0e9, "the whole run: {lo}..{hi}");
        assert!(
            view_lo <= a && b <= view_hi,
            "view {view_lo}..{view_hi} misses the window {a}..{b}"
        );
        assert!(
            view_hi - view_lo < (hi - lo) / 50.0,
            "view {view_lo}..{view_hi} is not zoomed in on the whole {lo}..{hi}"
        );
        assert!(view_lo > 19.5e9 && view_hi < 20.5e9, "{view_lo}..{view_hi}");
    }

    #[test]
    fn zoom_controls_are_there_for_the_script_to_show() {
        let (_, p) = late_page();
        for (zoom, words) in [
            ("in", "Zoom in"),
            ("out", "Zoom out"),
            ("window", "Fit failing window"),
            ("all", "Whole history"),
        ] {
            let button = tags(&p, "button")
                .into_iter()
                .find(|t| t.contains(&format!("data-zoom=\"{zoom}\"")))
                .unwrap_or_else(|| panic!("no {zoom} button"));
            let at = p.find(button).unwrap() + button.len();
            assert!(p[at..].starts_with(&format!("{words}</button>")), "{zoom}");
        }
        // Hidden without the script, which would be needed to work them.
        assert!(p.contains("<div class=\"zoom\" hidden>"));
    }

    #[test]
    fn final_reads_are_labelled_short_and_fit_their_column() {
        let (w, p) = late_page();
        let svg = tags(&p, "svg")[0];
        let labels: Vec<&str> = tags(&p, "text")
            .into_iter()
            .filter(|t| t.contains("class=\"proc\""))
            .map(|t| {
                let at = p.find(t).unwrap() + t.len();
                let len = p[at..].find('<').unwrap();
                &p[at..at + len]
            })
            .collect();
        assert_eq!(
            labels,
            [
                "process 0",
                "process 1",
                "process 2",
                "process 3",
                "process 4",
                "process 5",
                "final 6",
                "final 7",
                "final 8",
                "final 9"
            ]
        );
        // The raw number only in tooltips, never as a label.
        assert!(!p.contains(">process 1000000006"));
        assert!(p.contains("<title>a final read after healing (process 1000000006)</title>"));
        // Every label (right-aligned at its x) starts inside the picture,
        // with each character given at least half an em.
        let left = num(svg, "data-left");
        for t in tags(&p, "text")
            .into_iter()
            .filter(|t| t.contains("class=\"proc\""))
        {
            let (x, font) = (num(t, "x"), num(t, "font-size"));
            assert!(x < left && x - 9.0 * font * 0.5 >= 0.0, "{t}");
        }
        // The no-script picture is the whole part: every op has its bar,
        // inside the drawing.
        let width = num(svg, "width");
        let bars: Vec<&str> = tags(&p, "rect")
            .into_iter()
            .filter(|t| t.contains("class=\"op-bar\""))
            .collect();
        assert_eq!(bars.len(), w.ops.len());
        for b in bars {
            let (x, bw) = (num(b, "x"), num(b, "width"));
            assert!(x >= left && x + bw <= width, "{b}");
        }
    }

    #[test]
    fn tables_and_steps_name_final_reads_short() {
        let mut w = small();
        w.ops[2].process = FINAL_READ_PROCESS_BASE + 14;
        w.ops[0].process = FINAL_READ_PROCESS_BASE + 3;
        let p = page("t", &[], std::slice::from_ref(&w));
        assert!(p.contains("<td>#12</td><td>final 14</td>"), "blocked table");
        assert!(p.contains("<td>#10</td><td>final 3</td>"), "order table");
        assert!(p.contains("<div>#10 final 3: write 1</div>"), "panel");
        assert!(p.contains("<li>final 14: read -&gt; 2 (line 4): read returned 2"));
        let d = data_of(&p);
        assert_eq!(d["witnesses"][0]["steps"][0]["who"], "final 3");
        assert_eq!(d["witnesses"][0]["blocked"][0]["who"], "final 14");
        // Nowhere as a name, only in tooltips and the data's numbers.
        for (i, _) in p.match_indices("1000000014") {
            let before = &p[..i];
            let in_title = before.rfind("<title>") > before.rfind("</title>");
            let in_data = before.contains(&format!("id=\"{DATA_ID}\""));
            assert!(in_title || in_data, "{}", &p[i.saturating_sub(80)..i + 10]);
        }
    }

    /// Writes sample pages for looking at in a browser:
    /// `cargo test -p results --lib counterexample::tests::write_sample_page -- --ignored`.
    #[test]
    #[ignore]
    fn write_sample_page() {
        let dir = std::env::temp_dir();
        let summary = vec![
            "verdict: not linearizable".to_string(),
            "model: register; 1 of 3 keys fails".to_string(),
            "checked in 12 ms".to_string(),
        ];
        let mut untimed = sample(5, 4);
        for o in &mut untimed.ops {
            o.call_time = None;
        }
        untimed.key = Some(Value::from("y"));
        let p = page(
            "Skeptic: register check",
            &summary,
            &[late_failure(), sample(8, 6), untimed.clone(), small()],
        );
        std::fs::write(
            dir.join("witness-untimed.html"),
            page("untimed", &[], &[untimed, small()]),
        )
        .unwrap();
        std::fs::write(dir.join("witness.html"), &p).unwrap();
        let big = page("big", &summary, &[sample(50, 4)]);
        std::fs::write(dir.join("witness-big.html"), &big).unwrap();
    }

    #[test]
    fn sample_is_consistent() {
        let w = sample(8, 6);
        let p = page("t", &[], std::slice::from_ref(&w));
        assert_eq!(p.matches("class=\"op-bar\"").count(), 48);
        assert!(p.contains(" ms</text>"));
        assert!(!p.contains("<script>alert"));
        assert_eq!(
            data_of(&p)["witnesses"][0]["steps"]
                .as_array()
                .unwrap()
                .len(),
            w.longest.len()
        );
    }
}
