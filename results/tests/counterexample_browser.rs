//! The counterexample page of a real check, run in a real browser: the
//! checker finds a stale read late in a long history, and headless
//! Chromium (when installed) runs the page's script and shows what a
//! reader would see first, and after the zoom buttons.
//!
//! Without Chromium the browser part is skipped with a message; the page
//! itself is still checked.

use checker::history::FINAL_READ_PROCESS_BASE;
use checker::{check_history, format, CheckOptions, History, ModelKind, Verdict, Witness};
use std::fmt::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};

const MS: i64 = 1_000_000;

/// Four clients write 0, 1, 2, ... to key `r` in turn, one every 100 ms
/// for 30 s; client 2 reads a long-gone value at 20 s; after healing,
/// three final-read processes read at 31 s. Times are nanoseconds since
/// the start, as the harness writes them.
fn history_text() -> String {
    // (time, process, type, f, value)
    let mut events: Vec<(i64, u64, &str, &str, Option<i64>)> = Vec::new();
    for k in 0..300i64 {
        let p = (k % 4) as u64;
        let call = k * 100 * MS + 10 * MS;
        events.push((call, p, "invoke", "write", Some(k)));
        events.push((call + 40 * MS, p, "ok", "write", Some(k)));
    }
    // Client 2 is between its writes 198 (at 19.81 s) and 202 (at 20.21 s).
    events.push((20_015 * MS, 2, "invoke", "read", None));
    events.push((20_045 * MS, 2, "ok", "read", Some(5)));
    for i in 0..3u64 {
        let call = 31_000 * MS + i as i64 * 7 * MS;
        let p = FINAL_READ_PROCESS_BASE + 4 + i;
        events.push((call, p, "invoke", "read", None));
        events.push((call + 20 * MS, p, "ok", "read", Some(299)));
    }
    events.sort_by_key(|e| e.0);
    let mut text = String::new();
    for (time, process, kind, f, value) in events {
        let value = value.map(|v| format!(",\"value\":{v}")).unwrap_or_default();
        let _ = writeln!(
            text,
            "{{\"process\":{process},\"type\":\"{kind}\",\"f\":\"{f}\",\"key\":\"r\"{value},\"time\":{time}}}"
        );
    }
    text
}

fn witness() -> Witness {
    let (records, lines) =
        format::parse(&history_text(), format::Format::Jsonl, "test").expect("parses");
    let history = History::from_records(records, lines).expect("a valid history");
    let report = check_history(
        &history,
        &CheckOptions {
            model: Some(ModelKind::Register),
            ..CheckOptions::default()
        },
    )
    .expect("checks");
    let Verdict::NotLinearizable { mut witnesses } = report.verdict else {
        panic!("the stale read is not caught: {:?}", report.verdict)
    };
    assert_eq!(witnesses.len(), 1);
    witnesses.remove(0)
}

fn chromium() -> Option<&'static str> {
    ["chromium", "chromium-browser"].into_iter().find(|b| {
        std::env::var_os("PATH")
            .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(b).is_file()))
    })
}

/// The DOM of `page` after its scripts ran (`then`, if any, is a script
/// run after the page's own).
fn dom(browser: &str, dir: &Path, name: &str, page: &str, then: &str) -> String {
    let file = dir.join(name);
    // After the test's script, two frames later (a wheel or a drag draws
    // at the next frame), the page says it is drawn. Until then a timer
    // keeps the page busy: Chromium dumps the DOM once nothing is pending
    // (a frame callback does not count), and on a loaded machine it did so
    // before any frame was drawn, five runs in a row.
    let page = page.replace(
        "</body>",
        &format!(
            "<script>{then}</script>\n<script>(function () {{ var frames = 0; \
             requestAnimationFrame(function () {{ frames += 1; \
             requestAnimationFrame(function () {{ frames += 1; \
             document.documentElement.setAttribute('data-frames-done', '1'); }}); }}); \
             (function wait() {{ if (frames < 2) {{ setTimeout(wait, 16); }} }})(); }})();</script>\n</body>"
        ),
    );
    std::fs::write(&file, page).expect("write page");
    // Chromium decides when it dumps the DOM: on a loaded machine it
    // sometimes dumps before those frames. The DOM counts only once the
    // page says it is drawn; a few attempts, then a clear failure.
    for _ in 0..DUMP_ATTEMPTS {
        let out = Command::new(browser)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--window-size=1200,900",
                // Lets the frames the script asks for be drawn before the
                // DOM is taken.
                "--virtual-time-budget=2000",
                "--run-all-compositor-stages-before-draw",
                "--dump-dom",
            ])
            .arg(format!("file://{}", file.display()))
            .stderr(Stdio::null())
            .output()
            .expect("chromium runs");
        let dom = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(dom.contains("</html>"), "no DOM from chromium: {dom}");
        if dom.contains("data-frames-done=\"1\"") {
            return dom;
        }
    }
    panic!("{name}: chromium never dumped the page after its frames were drawn ({DUMP_ATTEMPTS} attempts)")
}

/// Chromium runs per page before a test gives up on its frames.
const DUMP_ATTEMPTS: usize = 5;

/// The start tag `<name ...>` of the first element whose tag contains
/// `marker`.
fn tag<'a>(dom: &'a str, name: &str, marker: &str) -> &'a str {
    let open = format!("<{name} ");
    let mut rest = dom;
    while let Some(i) = rest.find(&open) {
        let end = rest[i..].find('>').expect("tag ends") + i;
        if rest[i..=end].contains(marker) {
            return &rest[i..=end];
        }
        rest = &rest[end..];
    }
    panic!("no <{name}> with {marker}")
}

fn attr<'a>(tag: &'a str, name: &str) -> Option<&'a str> {
    let key = format!(" {name}=\"");
    let start = tag.find(&key)? + key.len();
    let len = tag[start..].find('"')?;
    Some(&tag[start..start + len])
}

fn num(tag: &str, name: &str) -> f64 {
    attr(tag, name)
        .unwrap_or_else(|| panic!("{name} in {tag}"))
        .parse()
        .unwrap_or_else(|e| panic!("{name} in {tag}: {e}"))
}

/// The view the script shows, as the `<svg>` says.
fn shown(dom: &str) -> (f64, f64) {
    let svg = tag(dom, "svg", "timeline-svg");
    (num(svg, "data-shown-lo"), num(svg, "data-shown-hi"))
}

/// Each tick label: its x and the value it names, in nanoseconds.
fn ticks(dom: &str) -> Vec<(f64, f64)> {
    let mut out = Vec::new();
    let open = "<text class=\"tick-label\"";
    let mut rest = dom;
    while let Some(i) = rest.find(open) {
        let end = rest[i..].find('>').expect("tag ends") + i;
        let x = num(&rest[i..=end], "x");
        let close = rest[end..].find("</text>").expect("text ends") + end;
        let label = &rest[end + 1..close];
        let value = if let Some(s) = label.strip_suffix(" s") {
            s.parse::<f64>().expect("seconds") * 1e9
        } else if let Some(ms) = label.strip_suffix(" ms") {
            ms.parse::<f64>().expect("milliseconds") * 1e6
        } else {
            panic!("tick label {label:?}")
        };
        out.push((x, value));
        rest = &rest[close..];
    }
    out
}

/// Every tick label stands where its value is, to a pixel, in the view
/// shown; and there are a few of them.
fn assert_ticks_match_the_view(dom: &str) {
    let svg = tag(dom, "svg", "timeline-svg");
    let (lo, hi) = shown(dom);
    let left = num(svg, "data-left");
    let plot = num(svg, "width") - left - num(svg, "data-right");
    let ticks = ticks(dom);
    assert!(ticks.len() >= 4, "{ticks:?}");
    for (x, v) in ticks {
        assert!((lo..=hi).contains(&v), "tick {v} outside {lo}..{hi}");
        let want = left + (v - lo) / (hi - lo) * plot;
        // The label's rounding (1/100 of a step) plus the attribute's
        // one decimal.
        assert!((x - want).abs() < 1.5, "tick {v} at {x}, not {want}");
    }
}

/// The `<g class="op ...">` tags of the operations, drawn or not.
fn op_tags(dom: &str) -> Vec<&str> {
    dom.match_indices("<g class=\"op ")
        .map(|(i, _)| &dom[i..=dom[i..].find('>').unwrap() + i])
        .collect()
}

fn hidden(tag: &str) -> bool {
    attr(tag, "style").is_some_and(|s| s.contains("display: none"))
}

#[test]
fn the_page_opens_on_the_stale_read_and_zooms_out_to_the_whole_run() {
    let w = witness();
    let page = results::counterexample::page("stale read", &[], std::slice::from_ref(&w));
    // What the checker found, named for people.
    assert!(page.contains(">final 4<") && page.contains(">final 6<"));
    assert!(!page.contains(">process 1000000004<"));
    let view = tag(&page, "svg", "timeline-svg");
    let (view_lo, view_hi) = (num(view, "data-view-lo"), num(view, "data-view-hi"));
    assert!(
        view_lo < 20.015e9 && 20.045e9 < view_hi && view_hi - view_lo < 1e9,
        "{view_lo}..{view_hi}"
    );

    let Some(browser) = chromium() else {
        eprintln!("chromium is not installed: the real-browser part of this test is skipped");
        return;
    };
    let tmp = tempfile::tempdir().expect("tempdir");

    // As it opens: the failing window, with the controls shown.
    let first = dom(browser, tmp.path(), "open.html", &page, "");
    assert_eq!(shown(&first), (view_lo, view_hi));
    assert!(
        first.contains("<div class=\"zoom\">"),
        "controls still hidden"
    );
    assert_ticks_match_the_view(&first);
    // The bars are the page's own (none lost), and only those near the
    // window are drawn.
    let ops = op_tags(&first);
    assert_eq!(ops.len(), w.ops.len());
    let drawn = ops.iter().filter(|t| !hidden(t)).count();
    assert!((2..=20).contains(&drawn), "{drawn} of {} drawn", ops.len());
    assert!(!hidden(tag(&first, "rect", "class=\"window\"")));
    // The SVG fits its box instead of being thousands of pixels wide.
    let width = num(tag(&first, "svg", "timeline-svg"), "width");
    assert!((400.0..1200.0).contains(&width), "{width}");

    // The whole history: everything drawn, ticks to 30 s and beyond.
    let whole = dom(
        browser,
        tmp.path(),
        "whole.html",
        &page,
        "document.querySelector('button[data-zoom=\"all\"]').click();",
    );
    let (lo, hi) = shown(&whole);
    assert_eq!(
        (lo, hi),
        (num(view, "data-lo"), num(view, "data-hi")),
        "not the whole part"
    );
    assert_ticks_match_the_view(&whole);
    assert!(ticks(&whole).iter().any(|t| t.1 >= 30e9));
    assert!(op_tags(&whole).iter().all(|t| !hidden(t)), "ops hidden");

    // Zoom in twice from there, then back to the window.
    let zoomed = dom(
        browser,
        tmp.path(),
        "zoomed.html",
        &page,
        "var b = function (z) { document.querySelector('button[data-zoom=\"' + z + '\"]').click(); };\
         b('all'); b('in'); b('in');",
    );
    let (zlo, zhi) = shown(&zoomed);
    assert!(
        ((zhi - zlo) - (hi - lo) / 4.0).abs() < 1.0,
        "{zlo}..{zhi} is not a quarter of {lo}..{hi}"
    );
    assert!(
        ((zlo + zhi) / 2.0 - (lo + hi) / 2.0).abs() < 1.0,
        "not around the middle"
    );
    assert_ticks_match_the_view(&zoomed);
    let back = dom(
        browser,
        tmp.path(),
        "back.html",
        &page,
        "var b = function (z) { document.querySelector('button[data-zoom=\"' + z + '\"]').click(); };\
         b('all'); b('in'); b('window');",
    );
    assert_eq!(shown(&back), (view_lo, view_hi));

    // The wheel zooms around the pointer: from the whole, a turn towards
    // the reader at a quarter of the plot keeps the value there in place.
    // (`at(f)` shows the whole and puts `x`, `y` at fraction `f` of the
    // plot, in the page's coordinates.)
    let at = |f: f64| {
        format!(
            "var svg = document.querySelector('svg.timeline-svg');
             var r = svg.getBoundingClientRect();
             var width = Number(svg.getAttribute('width'));
             var left = Number(svg.getAttribute('data-left'));
             var plot = width - left - Number(svg.getAttribute('data-right'));
             var x = r.left + (left + {f} * plot) * r.width / width;
             var y = r.top + 60;
             document.querySelector('button[data-zoom=\"all\"]').click();\n"
        )
    };
    let wheel = dom(
        browser,
        tmp.path(),
        "wheel.html",
        &page,
        &(at(0.25)
            + "svg.dispatchEvent(new WheelEvent('wheel', {deltaY: -200, clientX: x, clientY: y,
                 bubbles: true, cancelable: true}));"),
    );
    let (wlo, whi) = shown(&wheel);
    let pinned = lo + 0.25 * (hi - lo);
    let span = (hi - lo) * (-0.4f64).exp();
    assert!(
        ((whi - wlo) - span).abs() < span * 1e-3,
        "{wlo}..{whi}: not zoomed in by the wheel"
    );
    assert!(
        (wlo + 0.25 * (whi - wlo) - pinned).abs() < span * 2e-3,
        "{wlo}..{whi} moved the value under the pointer ({pinned})"
    );
    assert_ticks_match_the_view(&wheel);

    // Dragging pans: zoomed in on the middle, 100 pixels to the left shows
    // later times.
    let drag = dom(
        browser,
        tmp.path(),
        "drag.html",
        &page,
        &(at(0.5)
            + "document.querySelector('button[data-zoom=\"in\"]').click();
               var p = function (type, x) {
                 svg.dispatchEvent(new PointerEvent(type, {pointerId: 7, button: 0, clientX: x,
                   clientY: y, bubbles: true, cancelable: true}));
               };
               p('pointerdown', x); p('pointermove', x - 50); p('pointermove', x - 100);
               p('pointerup', x - 100);"),
    );
    let (dlo, dhi) = shown(&drag);
    let svg = tag(&drag, "svg", "timeline-svg");
    let plot = num(svg, "width") - num(svg, "data-left") - num(svg, "data-right");
    let half = (hi - lo) / 2.0;
    let moved = 100.0 / plot * half;
    assert!(
        ((dhi - dlo) - half).abs() < 1.0,
        "{dlo}..{dhi}: the zoom changed"
    );
    assert!(
        (dlo - (lo + half / 2.0 + moved)).abs() < half * 1e-3,
        "{dlo}..{dhi}: not panned by {moved}"
    );
}
