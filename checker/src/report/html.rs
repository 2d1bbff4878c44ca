//! A self-contained HTML page for a verdict: summary, timelines, a stepper
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
//! Timelines put one row per process (sorted by process number) and draw
//! each operation as a bar from its invocation to its completion. The
//! horizontal axis is time (milliseconds since the first invocation) when
//! every operation of the witness has a `call_time` (and a `ret_time` if it
//! completed), and record positions otherwise.

use super::text;
use crate::history::Outcome;
use crate::verdict::{OpView, Witness};
use serde::Serialize;
use std::collections::{BTreeSet, HashMap};
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
/// one SVG element per operation, class `window` on the failing window), a
/// stepper (buttons, slider, and the arrow, Home and End keys) through the
/// longest linearization, a table of the blocked operations and their
/// reasons, a table of the whole linearization, and the plain-text
/// explanation of [`text::witness`].
pub fn page(title: &str, summary: &[String], witnesses: &[Witness]) -> String {
    let mut out = String::with_capacity(16 * 1024);
    out.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    out.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    let _ = writeln!(out, "<title>{}</title>", escape(title));
    out.push_str("<style>\n");
    out.push_str(CSS);
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
            section(&mut out, i, w);
        }
    }
    out.push_str("</main>\n");

    let data = PageData {
        witnesses: witnesses.iter().map(witness_data).collect(),
    };
    let _ = writeln!(
        out,
        "<script type=\"application/json\" id=\"{DATA_ID}\">{}</script>",
        script_json(&data)
    );
    out.push_str("<script>\n");
    out.push_str(JS);
    out.push_str("</script>\n</body>\n</html>\n");
    out
}

/// Escapes text for element content and quoted attribute values of HTML,
/// SVG and XML documents (the same five characters are special in all
/// three). Control characters other than tab, newline and carriage return
/// become U+FFFD: XML 1.0 forbids them outright (a JUnit parser in CI would
/// reject the whole file), and in HTML they are never meant.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if c.is_control() => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
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

/// Serializes for a `<script>` tag. Every `<`, `>` and `&` is written as
/// a `\u003c`-style escape (they only occur inside JSON strings, where that
/// is valid), so no `</script>`, `<!--` or `<script` from the data can
/// appear raw; this covers escaping `</` as `<\/` and more.
fn script_json<T: Serialize>(data: &T) -> String {
    let json = serde_json::to_string(data).unwrap_or_else(|_| "{\"witnesses\":[]}".into());
    let mut out = String::with_capacity(json.len());
    for c in json.chars() {
        match c {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            _ => out.push(c),
        }
    }
    out
}

// ---------------------------------------------------------------------------
// The embedded data.

#[derive(Serialize)]
struct PageData<'a> {
    witnesses: Vec<WitnessData<'a>>,
}

#[derive(Serialize)]
struct WitnessData<'a> {
    part: String,
    model: &'a str,
    initial_state: &'a str,
    final_state: &'a str,
    steps: Vec<StepData<'a>>,
    blocked: Vec<BlockedData<'a>>,
    window: (u64, u64),
}

#[derive(Serialize)]
struct StepData<'a> {
    op: usize,
    process: Option<u64>,
    text: &'a str,
    state_after: &'a str,
}

#[derive(Serialize)]
struct BlockedData<'a> {
    op: usize,
    process: Option<u64>,
    line: Option<usize>,
    text: &'a str,
    reason: &'a str,
}

fn witness_data(w: &Witness) -> WitnessData<'_> {
    let ops = text::op_index(w);
    WitnessData {
        part: text::part_name(w),
        model: &w.model,
        initial_state: &w.initial_state,
        final_state: &w.final_state,
        steps: w
            .longest
            .iter()
            .map(|s| {
                let op = ops.get(&s.op);
                StepData {
                    op: s.op,
                    process: op.map(|o| o.process),
                    text: op.map(|o| text::op_words(o)).unwrap_or(""),
                    state_after: &s.state_after,
                }
            })
            .collect(),
        blocked: w
            .blocked
            .iter()
            .map(|b| {
                let op = ops.get(&b.op);
                BlockedData {
                    op: b.op,
                    process: op.map(|o| o.process),
                    line: op.map(|o| o.line),
                    text: op.map(|o| text::op_words(o)).unwrap_or(""),
                    reason: &b.reason,
                }
            })
            .collect(),
        window: w.window,
    }
}

// ---------------------------------------------------------------------------
// One witness.

fn section(out: &mut String, wi: usize, w: &Witness) {
    let ops = text::op_index(w);
    let n = w.longest.len();
    let _ = writeln!(
        out,
        "<section class=\"witness at-end\" id=\"w{wi}\" data-w=\"{wi}\">"
    );
    let _ = writeln!(
        out,
        "<h2>Not linearizable: {} <span class=\"model\">model {}</span></h2>",
        escape(&text::part_name(w)),
        escape(&w.model)
    );
    let _ = writeln!(
        out,
        "<p class=\"lead\">{n} of its {} operations form the longest linearizable prefix; \
         after it the model is in state <code>{}</code> and {}. \
         Failing window: records {} to {}.</p>",
        w.ops.len(),
        escape(&w.final_state),
        match w.blocked.len() {
            0 => "no operation is listed as coming next".to_string(),
            1 => "the one operation that could come next cannot".to_string(),
            k => format!("none of the {k} operations that could come next can"),
        },
        w.window.0,
        w.window.1
    );

    timeline(out, wi, w);
    out.push_str(LEGEND);

    // The stepper.
    out.push_str("<div class=\"stepper\">\n");
    out.push_str("<button type=\"button\" class=\"first\" title=\"first (Home)\">first</button>\n");
    out.push_str("<button type=\"button\" class=\"prev\" title=\"previous (←)\">◀ prev</button>\n");
    let _ = writeln!(
        out,
        "<input type=\"range\" class=\"slider\" min=\"0\" max=\"{n}\" value=\"{n}\" step=\"1\" \
         aria-label=\"step through the longest linearization\">"
    );
    out.push_str("<button type=\"button\" class=\"next\" title=\"next (→)\">next ▶</button>\n");
    out.push_str("<button type=\"button\" class=\"last\" title=\"last (End)\">last</button>\n");
    let _ = writeln!(out, "<span class=\"pos\">step {n} of {n}</span>");
    out.push_str("</div>\n");
    out.push_str("<div class=\"panel\" aria-live=\"polite\">\n");
    static_panel(out, w, &ops);
    out.push_str("</div>\n");

    // Blocked operations.
    out.push_str("<h3>Operations that cannot come next</h3>\n");
    if w.blocked.is_empty() {
        out.push_str("<p>The witness lists none.</p>\n");
    } else {
        out.push_str(
            "<table class=\"blocked\">\n<thead><tr><th>op</th><th>process</th><th>operation</th>\
             <th>line</th><th>why it cannot come next</th></tr></thead>\n<tbody>\n",
        );
        for b in &w.blocked {
            let op = ops.get(&b.op);
            let _ = writeln!(
                out,
                "<tr><td>#{}</td><td>{}</td><td><code>{}</code></td><td>{}</td><td>{}</td></tr>",
                b.op,
                op.map(|o| o.process.to_string()).unwrap_or_default(),
                escape(op.map(|o| text::op_words(o)).unwrap_or("")),
                op.map(|o| o.line.to_string()).unwrap_or_default(),
                escape(&b.reason)
            );
        }
        out.push_str("</tbody>\n</table>\n");
    }

    // The whole linearization.
    out.push_str("<h3>Longest linearization</h3>\n");
    out.push_str(
        "<table class=\"order\">\n<thead><tr><th>step</th><th>op</th><th>process</th>\
         <th>operation</th><th>state after</th></tr></thead>\n<tbody>\n",
    );
    let _ = writeln!(
        out,
        "<tr data-pos=\"0\"><td>0</td><td></td><td></td><td><em>initial state</em></td>\
         <td><code>{}</code></td></tr>",
        escape(&w.initial_state)
    );
    for (i, s) in w.longest.iter().enumerate() {
        let op = ops.get(&s.op);
        let _ = writeln!(
            out,
            "<tr data-pos=\"{}\"><td>{}</td><td>#{}</td><td>{}</td><td><code>{}</code></td>\
             <td><code>{}</code></td></tr>",
            i + 1,
            i + 1,
            s.op,
            op.map(|o| o.process.to_string()).unwrap_or_default(),
            escape(op.map(|o| text::op_words(o)).unwrap_or("")),
            escape(&s.state_after)
        );
    }
    out.push_str("</tbody>\n</table>\n");

    let _ = writeln!(
        out,
        "<details><summary>Plain-text explanation</summary><pre>{}</pre></details>",
        escape(&text::witness(w))
    );
    out.push_str("</section>\n");
}

/// The panel as it is before the JS runs: the last step.
fn static_panel(out: &mut String, w: &Witness, ops: &HashMap<usize, &OpView>) {
    let n = w.longest.len();
    match w.longest.last() {
        None => {
            out.push_str("<div class=\"panel-head\">Start: nothing linearized yet</div>\n");
            let _ = writeln!(
                out,
                "<div>State: <code>{}</code></div>",
                escape(&w.initial_state)
            );
        }
        Some(s) => {
            let _ = writeln!(out, "<div class=\"panel-head\">Step {n} of {n}</div>");
            let _ = writeln!(
                out,
                "<div>#{} {}</div>",
                s.op,
                escape(&match ops.get(&s.op) {
                    Some(o) => format!("process {}: {}", o.process, text::op_words(o)),
                    None => String::new(),
                })
            );
            let _ = writeln!(
                out,
                "<div>State after: <code>{}</code></div>",
                escape(&s.state_after)
            );
        }
    }
    if !w.blocked.is_empty() {
        out.push_str(
            "<div class=\"panel-stuck\">None of these operations can come next:</div>\n<ul>\n",
        );
        for b in &w.blocked {
            let what = match ops.get(&b.op) {
                Some(o) => format!(
                    "process {}: {} (line {}): {}",
                    o.process,
                    text::op_words(o),
                    o.line,
                    b.reason
                ),
                None => format!("#{}: {}", b.op, b.reason),
            };
            let _ = writeln!(out, "<li>{}</li>", escape(&what));
        }
        out.push_str("</ul>\n");
    }
}

// ---------------------------------------------------------------------------
// The timeline.

/// Maps axis values (nanoseconds or record positions) to pixels.
struct Scale {
    lo: f64,
    hi: f64,
    x0: f64,
    width: f64,
}

impl Scale {
    fn x(&self, v: f64) -> f64 {
        let v = v.clamp(self.lo, self.hi);
        self.x0 + (v - self.lo) / (self.hi - self.lo) * self.width
    }
}

/// Left margin (process labels), top margin (window label), bottom margin
/// (axis), right margin.
const LEFT: f64 = 92.0;
const TOP: f64 = 26.0;
const BOTTOM: f64 = 46.0;
const RIGHT: f64 = 24.0;

/// True when the witness can be drawn by time: every op has a call time,
/// and every completed op a completion time.
fn drawn_by_time(ops: &[OpView]) -> bool {
    !ops.is_empty()
        && ops
            .iter()
            .all(|o| o.call_time.is_some() && (o.ret.is_none() || o.ret_time.is_some()))
}

/// An op's start and (if it completed) end on the axis.
fn span(op: &OpView, by_time: bool) -> (f64, Option<f64>) {
    if by_time {
        (
            op.call_time.unwrap_or(0) as f64,
            op.ret.and(op.ret_time).map(|t| t as f64),
        )
    } else {
        (op.call as f64, op.ret.map(|r| r as f64))
    }
}

/// The failing window on the axis. By position it is `w.window` itself;
/// by time each end is the time of the record at that position when one of
/// the witness's ops has it, else the earliest call / latest finite
/// completion among the blocked ops.
fn window_span(w: &Witness, by_time: bool, ops: &HashMap<usize, &OpView>) -> Option<(f64, f64)> {
    let (a, b) = w.window;
    if !by_time {
        return Some((a as f64, b as f64));
    }
    let mut at: HashMap<u64, f64> = HashMap::new();
    for o in &w.ops {
        if let Some(t) = o.call_time {
            at.insert(o.call, t as f64);
        }
        if let (Some(r), Some(t)) = (o.ret, o.ret_time) {
            at.insert(r, t as f64);
        }
    }
    let blocked: Vec<&OpView> = w
        .blocked
        .iter()
        .filter_map(|b| ops.get(&b.op).copied())
        .collect();
    let start = at.get(&a).copied().or_else(|| {
        blocked
            .iter()
            .filter_map(|o| o.call_time)
            .min()
            .map(|t| t as f64)
    })?;
    let end = at.get(&b).copied().or_else(|| {
        blocked
            .iter()
            .filter(|o| o.ret.is_some())
            .filter_map(|o| o.ret_time)
            .max()
            .map(|t| t as f64)
    });
    // With no finite end, the window runs to the right edge.
    Some((start, end.unwrap_or(f64::INFINITY)))
}

/// A step of 1, 2 or 5 times a power of ten giving about `target` ticks.
fn nice_step(span: f64, target: f64) -> f64 {
    let raw = (span / target.max(1.0)).max(f64::MIN_POSITIVE);
    let mag = 10f64.powf(raw.log10().floor());
    let norm = raw / mag;
    let m = if norm <= 1.0 {
        1.0
    } else if norm <= 2.0 {
        2.0
    } else if norm <= 5.0 {
        5.0
    } else {
        10.0
    };
    m * mag
}

/// `12.5 ms` for a time offset in nanoseconds, with as many decimals as the
/// tick step needs.
fn ms_label(ns: f64, step_ns: f64) -> String {
    let step_ms = step_ns / 1e6;
    let decimals = if step_ms >= 1.0 {
        0
    } else {
        ((-step_ms.log10()).ceil() as usize).min(6)
    };
    format!("{:.*} ms", decimals, ns / 1e6)
}

/// Shortens `s` to at most `max` characters, ending in `…` if cut.
fn truncate(s: &str, max: usize) -> Option<String> {
    let len = s.chars().count();
    if len <= max {
        Some(s.to_string())
    } else if max >= 4 {
        Some(
            s.chars()
                .take(max - 1)
                .chain(std::iter::once('…'))
                .collect(),
        )
    } else {
        None
    }
}

fn outcome_word(o: Outcome) -> &'static str {
    match o {
        Outcome::Ok => "ok",
        Outcome::Info => "info",
    }
}

fn timeline(out: &mut String, wi: usize, w: &Witness) {
    if w.ops.is_empty() {
        out.push_str("<p class=\"note\">No operations to draw.</p>\n");
        return;
    }
    let ops = text::op_index(w);
    let by_time = drawn_by_time(&w.ops);
    let procs: BTreeSet<u64> = w.ops.iter().map(|o| o.process).collect();
    let row_of: HashMap<u64, usize> = procs.iter().enumerate().map(|(i, p)| (*p, i)).collect();
    let rows = procs.len();
    let row_h = (560.0 / rows as f64).clamp(14.0, 30.0);
    let bar_h = (row_h * 0.62).round();
    let font = (bar_h * 0.85).clamp(8.0, 11.0);
    let label_font = (row_h * 0.6).clamp(9.0, 12.0);

    // The domain: from the first start to the last finite end or start,
    // plus room on the right for open-ended ops.
    let spans: Vec<(f64, Option<f64>)> = w.ops.iter().map(|o| span(o, by_time)).collect();
    let lo = spans.iter().map(|s| s.0).fold(f64::INFINITY, f64::min);
    let last = spans
        .iter()
        .map(|s| s.1.unwrap_or(s.0).max(s.0))
        .fold(f64::NEG_INFINITY, f64::max);
    let extent = if last > lo { last - lo } else { 1.0 };
    let hi = lo + extent * 1.06;
    let width = (w.ops.len() as f64 * 18.0).clamp(1000.0, 9000.0);
    let scale = Scale {
        lo,
        hi,
        x0: LEFT,
        width,
    };
    let plot_h = rows as f64 * row_h;
    let svg_w = LEFT + width + RIGHT;
    let svg_h = TOP + plot_h + BOTTOM;

    let pos_of: HashMap<usize, usize> = w
        .longest
        .iter()
        .enumerate()
        .map(|(i, s)| (s.op, i + 1))
        .collect();
    let state_of: HashMap<usize, &str> = w
        .longest
        .iter()
        .map(|s| (s.op, s.state_after.as_str()))
        .collect();
    let reason_of: HashMap<usize, &str> = w
        .blocked
        .iter()
        .map(|b| (b.op, b.reason.as_str()))
        .collect();

    out.push_str("<div class=\"timeline\">\n");
    let _ = writeln!(
        out,
        "<svg class=\"timeline-svg\" width=\"{svg_w:.0}\" height=\"{svg_h:.0}\" \
         viewBox=\"0 0 {svg_w:.0} {svg_h:.0}\" role=\"img\" aria-label=\"timeline of {} operations \
         by {} processes\">",
        w.ops.len(),
        rows
    );
    // Hatching for open-ended ops: stripes of the open colour over the
    // state colour.
    out.push_str("<defs>\n");
    for (state, colour) in [("lin", LIN), ("blocked", BLOCKED), ("other", OTHER)] {
        let _ = writeln!(
            out,
            "<pattern id=\"hatch-{wi}-{state}\" width=\"8\" height=\"8\" patternUnits=\"userSpaceOnUse\" \
             patternTransform=\"rotate(45)\"><rect width=\"8\" height=\"8\" fill=\"{colour}\"/>\
             <rect width=\"3\" height=\"8\" fill=\"{OPEN}\"/></pattern>"
        );
    }
    out.push_str("</defs>\n");

    // Row stripes and process labels.
    for (i, p) in procs.iter().enumerate() {
        let y = TOP + i as f64 * row_h;
        if i % 2 == 1 {
            let _ = writeln!(
                out,
                "<rect class=\"stripe\" x=\"{LEFT}\" y=\"{y:.1}\" width=\"{width:.1}\" height=\"{row_h:.1}\"/>"
            );
        }
        let _ = writeln!(
            out,
            "<text class=\"proc\" x=\"{:.1}\" y=\"{:.1}\" font-size=\"{label_font:.1}\">process {p}</text>",
            LEFT - 8.0,
            y + row_h / 2.0
        );
    }

    // Axis: grid lines, ticks and labels.
    let step = {
        let s = nice_step(hi - lo, width / 100.0);
        if by_time {
            s
        } else {
            s.max(1.0).round()
        }
    };
    let axis_y = TOP + plot_h;
    let _ = writeln!(
        out,
        "<line class=\"axis\" x1=\"{LEFT}\" y1=\"{axis_y:.1}\" x2=\"{:.1}\" y2=\"{axis_y:.1}\"/>",
        LEFT + width
    );
    let first_tick = if by_time { 0.0 } else { (lo / step).ceil() };
    let mut k = 0u32;
    loop {
        let v = if by_time {
            lo + f64::from(k) * step
        } else {
            (first_tick + f64::from(k)) * step
        };
        if v > hi + 1e-9 || k > 10_000 {
            break;
        }
        let x = scale.x(v);
        let label = if by_time {
            ms_label(v - lo, step)
        } else {
            format!("{}", v as u64)
        };
        let _ = writeln!(
            out,
            "<line class=\"grid\" x1=\"{x:.1}\" y1=\"{TOP}\" x2=\"{x:.1}\" y2=\"{axis_y:.1}\"/>\
             <line class=\"tick\" x1=\"{x:.1}\" y1=\"{axis_y:.1}\" x2=\"{x:.1}\" y2=\"{:.1}\"/>\
             <text class=\"tick-label\" x=\"{x:.1}\" y=\"{:.1}\">{label}</text>",
            axis_y + 5.0,
            axis_y + 17.0
        );
        k += 1;
    }
    let _ = writeln!(
        out,
        "<text class=\"axis-title\" x=\"{:.1}\" y=\"{:.1}\">{}</text>",
        LEFT + width / 2.0,
        axis_y + 36.0,
        if by_time {
            "time since the first invocation"
        } else {
            "record position in the history"
        }
    );

    // The failing window, behind the bars.
    if let Some((a, b)) = window_span(w, by_time, &ops) {
        let xa = scale.x(a);
        let xb = if b.is_finite() {
            scale.x(b)
        } else {
            LEFT + width
        };
        let (xa, xb) = (xa.min(xb), xa.max(xb));
        let ww = (xb - xa).max(4.0);
        let _ = writeln!(
            out,
            "<g class=\"window-group\"><rect class=\"window\" x=\"{xa:.1}\" y=\"{:.1}\" width=\"{ww:.1}\" \
             height=\"{:.1}\"><title>failing window: records {} to {}</title></rect>\
             <text class=\"window-label\" x=\"{:.1}\" y=\"{:.1}\">failing window</text></g>",
            TOP - 20.0,
            plot_h + 20.0,
            w.window.0,
            w.window.1,
            xa + 4.0,
            TOP - 7.0
        );
    }

    // The bars.
    for (o, (start, end)) in w.ops.iter().zip(&spans) {
        let row = row_of[&o.process];
        let y = TOP + row as f64 * row_h + (row_h - bar_h) / 2.0;
        let x = scale.x(*start);
        let open = o.ret.is_none();
        let x_end = match end {
            Some(e) if !open => scale.x(*e),
            _ => LEFT + width,
        };
        let bw = (x_end - x).max(3.0);
        let pos = pos_of.get(&o.id).copied();
        let state = if pos.is_some() {
            "lin"
        } else if reason_of.contains_key(&o.id) {
            "blocked"
        } else {
            "other"
        };

        let mut tip = format!(
            "#{} process {}: {}\nline {}, outcome {}{}\nrecords {} to {}",
            o.id,
            o.process,
            text::op_words(o),
            o.line,
            outcome_word(o.outcome),
            if open {
                " (open-ended: may take effect at any later point)"
            } else {
                ""
            },
            o.call,
            o.ret
                .map(|r| r.to_string())
                .unwrap_or_else(|| "(none)".into())
        );
        if let Some(ct) = o.call_time {
            let _ = write!(
                tip,
                "; time {}",
                ms_label((ct as f64) - if by_time { lo } else { 0.0 }, 1e3)
            );
            if let Some(rt) = o.ret_time {
                let _ = write!(
                    tip,
                    " to {}",
                    ms_label((rt as f64) - if by_time { lo } else { 0.0 }, 1e3)
                );
            }
        }
        match (pos, reason_of.get(&o.id)) {
            (Some(p), _) => {
                let _ = write!(
                    tip,
                    "\nstep {p} of the longest linearization; state after: {}",
                    state_of.get(&o.id).copied().unwrap_or("")
                );
            }
            (None, Some(r)) => {
                let _ = write!(tip, "\ncannot come next: {r}");
            }
            (None, None) => tip.push_str("\nnot in the longest linearization"),
        }

        let _ = write!(
            out,
            "<g class=\"op {state}{}\" data-op=\"{}\"{}><title>{}</title>",
            if open { " open" } else { "" },
            o.id,
            pos.map(|p| format!(" data-pos=\"{p}\""))
                .unwrap_or_default(),
            escape(&tip)
        );
        let style = if open {
            format!(" style=\"fill:url(#hatch-{wi}-{state})\"")
        } else {
            String::new()
        };
        let _ = write!(
            out,
            "<rect class=\"op-bar\" x=\"{x:.1}\" y=\"{y:.1}\" width=\"{bw:.1}\" height=\"{bar_h:.1}\" rx=\"2\"{style}/>"
        );
        let mut text_x = x + 3.0;
        if let Some(p) = pos {
            let digits = p.to_string().len() as f64;
            let badge_w = digits * font * 0.62 + 6.0;
            let badge_h = bar_h - 2.0;
            let _ = write!(
                out,
                "<g class=\"badge\"><rect x=\"{:.1}\" y=\"{:.1}\" width=\"{badge_w:.1}\" height=\"{badge_h:.1}\" rx=\"{:.1}\"/>\
                 <text x=\"{:.1}\" y=\"{:.1}\" font-size=\"{font:.1}\">{p}</text></g>",
                x + 1.0,
                y + 1.0,
                badge_h / 2.0,
                x + 1.0 + badge_w / 2.0,
                y + bar_h / 2.0
            );
            text_x += badge_w + 1.0;
        }
        // The op's words inside the bar when they fit.
        let room = x + bw - text_x - 3.0;
        let fits = (room / (font * 0.6)).floor();
        if fits >= 4.0 && bar_h >= 10.0 {
            if let Some(label) = truncate(text::op_words(o), fits as usize) {
                let _ = write!(
                    out,
                    "<text class=\"op-label\" x=\"{text_x:.1}\" y=\"{:.1}\" font-size=\"{font:.1}\">{}</text>",
                    y + bar_h / 2.0,
                    escape(&label)
                );
            }
        }
        out.push_str("</g>\n");
    }
    out.push_str("</svg>\n</div>\n");
}

// ---------------------------------------------------------------------------
// Styles and script.

const LIN: &str = "#7cc47f";
const BLOCKED: &str = "#ee6b65";
const OTHER: &str = "#cdd1d5";
const OPEN: &str = "#f0a020";

const LEGEND: &str = "<div class=\"legend\">\
<span><i class=\"sw sw-lin\"></i>in the longest linearization (badge: its position)</span>\
<span><i class=\"sw sw-blocked\"></i>cannot come next</span>\
<span><i class=\"sw sw-other\"></i>other</span>\
<span><i class=\"sw sw-open\"></i>open-ended (no completion: may take effect any time later)</span>\
<span><i class=\"sw sw-window\"></i>failing window</span>\
</div>\n";

const CSS: &str = r#"
:root { --lin: #7cc47f; --blocked: #ee6b65; --other: #cdd1d5; --open: #f0a020; --win: #6f42c1; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1b1f23;
  margin: 0; background: #f6f7f9; }
header { background: #fff; border-bottom: 1px solid #d8dce0; padding: 14px 24px; }
h1 { font-size: 20px; margin: 0 0 8px; }
h2 { font-size: 17px; margin: 0 0 6px; }
h2 .model { font-weight: normal; color: #57606a; font-size: 14px; margin-left: 8px; }
h3 { font-size: 14px; margin: 18px 0 6px; }
main { padding: 12px 24px 40px; }
.summary { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 13px; }
.summary-line { white-space: pre-wrap; }
.no-witness { font-size: 15px; background: #fff; border: 1px solid #d8dce0; border-radius: 6px;
  padding: 14px 18px; }
.toc a { margin-left: 8px; }
section.witness { background: #fff; border: 1px solid #d8dce0; border-radius: 6px; padding: 14px 18px;
  margin: 12px 0 20px; }
.lead { margin: 0 0 10px; color: #333; }
code { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 12.5px;
  background: #f1f3f5; padding: 0 3px; border-radius: 3px; word-break: break-all; }
.timeline { overflow-x: auto; border: 1px solid #e3e6e9; border-radius: 4px; background: #fff; }
.timeline-svg { display: block; font-family: system-ui, sans-serif; }
.stripe { fill: #f5f6f8; }
.proc { text-anchor: end; dominant-baseline: central; fill: #444; }
.axis, .tick { stroke: #666; stroke-width: 1; }
.grid { stroke: #e6e8eb; stroke-width: 1; }
.tick-label { text-anchor: middle; font-size: 11px; fill: #555; }
.axis-title { text-anchor: middle; font-size: 12px; fill: #333; }
.window { fill: var(--win); fill-opacity: 0.1; stroke: var(--win); stroke-opacity: 0.7;
  stroke-dasharray: 5 3; }
.window-label { font-size: 12px; fill: var(--win); font-weight: 600; }
.op { cursor: default; transition: opacity 0.15s; }
.op.lin { cursor: pointer; }
.op-bar { stroke: rgba(0,0,0,0.35); stroke-width: 1; }
.op.lin .op-bar { fill: var(--lin); }
.op.blocked .op-bar { fill: var(--blocked); }
.op.other .op-bar { fill: var(--other); }
.op.open .op-bar { stroke: #b36b00; stroke-width: 1.5; stroke-dasharray: 4 2; }
.op.future { opacity: 0.25; }
.op.future .badge { display: none; }
.op.current .op-bar { stroke: #111; stroke-width: 2.5; stroke-dasharray: none; }
.at-end .op.blocked .op-bar { stroke: #8b0000; stroke-width: 2; }
.op:hover .op-bar { stroke: #000; }
.badge rect { fill: #1b1f23; fill-opacity: 0.82; }
.badge text { fill: #fff; text-anchor: middle; dominant-baseline: central; font-weight: 600; }
.op-label { dominant-baseline: central; fill: #1b1f23; pointer-events: none; }
.legend { display: flex; flex-wrap: wrap; gap: 6px 16px; margin: 8px 0 12px; font-size: 12.5px; color: #444; }
.sw { display: inline-block; width: 22px; height: 11px; vertical-align: -1px; margin-right: 5px;
  border: 1px solid rgba(0,0,0,0.35); border-radius: 2px; }
.sw-lin { background: var(--lin); }
.sw-blocked { background: var(--blocked); }
.sw-other { background: var(--other); }
.sw-open { background: repeating-linear-gradient(45deg, var(--open) 0 3px, var(--other) 3px 8px);
  border: 1.5px dashed #b36b00; }
.sw-window { background: rgba(111,66,193,0.12); border: 1px dashed var(--win); }
.stepper { display: flex; align-items: center; gap: 8px; margin: 6px 0; flex-wrap: wrap; }
.stepper button { font: inherit; padding: 3px 10px; border: 1px solid #b8bfc6; border-radius: 4px;
  background: #f6f8fa; cursor: pointer; }
.stepper button:disabled { opacity: 0.45; cursor: default; }
.stepper .slider { flex: 1 1 260px; min-width: 160px; }
.stepper .pos { font-variant-numeric: tabular-nums; color: #444; min-width: 96px; }
.panel { border: 1px solid #d8dce0; border-left: 4px solid var(--lin); border-radius: 4px;
  padding: 8px 12px; background: #fbfcfd; min-height: 64px; }
.at-end .panel { border-left-color: var(--blocked); }
.panel-head { font-weight: 600; }
.panel-stuck { margin-top: 6px; font-weight: 600; color: #a11d18; }
.panel ul { margin: 4px 0 0; padding-left: 20px; }
table { border-collapse: collapse; font-size: 13px; margin: 4px 0; }
th, td { border: 1px solid #e1e4e8; padding: 3px 8px; text-align: left; vertical-align: top; }
th { background: #f3f5f7; font-weight: 600; }
table.blocked td:last-child { color: #a11d18; }
table.order tr[data-pos] { cursor: pointer; }
table.order tr.future { color: #9aa0a6; }
table.order tr.current { background: #e6f4e7; }
details { margin-top: 14px; }
details pre { background: #f6f8fa; border: 1px solid #e1e4e8; padding: 8px 10px; overflow-x: auto;
  font-size: 12.5px; }
.note { color: #57606a; }
"#;

const JS: &str = r##"(function () {
  "use strict";
  var blob = document.getElementById("witness-data");
  if (!blob) { return; }
  var data = JSON.parse(blob.textContent);
  var views = [];
  var active = 0;

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) { e.className = cls; }
    if (text !== undefined && text !== null) { e.textContent = text; }
    return e;
  }
  function withCode(label, value) {
    var d = el("div", null, label);
    d.appendChild(el("code", null, value));
    return d;
  }
  function opText(process, text) {
    return (process === null || process === undefined ? "" : "process " + process + ": ") + text;
  }

  function render(v) {
    var w = v.data, n = w.steps.length, k = v.step, i;
    for (i = 0; i < v.bars.length; i++) {
      var p = Number(v.bars[i].getAttribute("data-pos"));
      v.bars[i].classList.toggle("future", p > k);
      v.bars[i].classList.toggle("current", p === k);
    }
    for (i = 0; i < v.rows.length; i++) {
      var q = Number(v.rows[i].getAttribute("data-pos"));
      v.rows[i].classList.toggle("future", q > k);
      v.rows[i].classList.toggle("current", q === k);
    }
    v.sec.classList.toggle("at-end", k === n);
    v.slider.value = String(k);
    v.pos.textContent = "step " + k + " of " + n;
    v.first.disabled = v.prev.disabled = (k === 0);
    v.last.disabled = v.next.disabled = (k === n);

    var panel = v.panel;
    panel.textContent = "";
    if (k === 0) {
      panel.appendChild(el("div", "panel-head", "Start: nothing linearized yet"));
      panel.appendChild(withCode("State: ", w.initial_state));
    } else {
      var s = w.steps[k - 1];
      panel.appendChild(el("div", "panel-head", "Step " + k + " of " + n));
      panel.appendChild(el("div", null, "#" + s.op + " " + opText(s.process, s.text)));
      panel.appendChild(withCode("State after: ", s.state_after));
    }
    if (k === n && w.blocked.length > 0) {
      panel.appendChild(el("div", "panel-stuck", "None of these operations can come next:"));
      var ul = el("ul");
      for (i = 0; i < w.blocked.length; i++) {
        var b = w.blocked[i];
        var what = b.process === null || b.process === undefined
          ? "#" + b.op
          : opText(b.process, b.text) + " (line " + b.line + ")";
        ul.appendChild(el("li", null, what + ": " + b.reason));
      }
      panel.appendChild(ul);
    }
  }

  function go(v, k) {
    var n = v.data.steps.length;
    v.step = Math.max(0, Math.min(n, k));
    render(v);
  }

  var sections = document.querySelectorAll("section.witness");
  for (var si = 0; si < sections.length; si++) {
    (function (sec) {
      var wi = Number(sec.getAttribute("data-w"));
      var w = data.witnesses[wi];
      if (!w) { return; }
      var v = {
        sec: sec, data: w, step: w.steps.length,
        bars: sec.querySelectorAll("g.op[data-pos]"),
        rows: sec.querySelectorAll("table.order tr[data-pos]"),
        slider: sec.querySelector(".slider"),
        pos: sec.querySelector(".pos"),
        panel: sec.querySelector(".panel"),
        first: sec.querySelector("button.first"),
        prev: sec.querySelector("button.prev"),
        next: sec.querySelector("button.next"),
        last: sec.querySelector("button.last")
      };
      var index = views.length;
      views.push(v);
      v.first.addEventListener("click", function () { go(v, 0); });
      v.prev.addEventListener("click", function () { go(v, v.step - 1); });
      v.next.addEventListener("click", function () { go(v, v.step + 1); });
      v.last.addEventListener("click", function () { go(v, v.data.steps.length); });
      v.slider.addEventListener("input", function () { go(v, Number(v.slider.value)); });
      var j;
      for (j = 0; j < v.bars.length; j++) {
        v.bars[j].addEventListener("click", function (e) {
          go(v, Number(e.currentTarget.getAttribute("data-pos")));
        });
      }
      for (j = 0; j < v.rows.length; j++) {
        v.rows[j].addEventListener("click", function (e) {
          go(v, Number(e.currentTarget.getAttribute("data-pos")));
        });
      }
      sec.addEventListener("pointerdown", function () { active = index; });
      sec.addEventListener("focusin", function () { active = index; });
      render(v);
    })(sections[si]);
  }

  document.addEventListener("keydown", function (e) {
    if (e.altKey || e.ctrlKey || e.metaKey || views.length === 0) { return; }
    var t = e.target;
    var tag = t && t.tagName ? t.tagName.toLowerCase() : "";
    if (tag === "input" || tag === "textarea" || tag === "select") { return; }
    var v = views[active];
    if (e.key === "ArrowLeft") { go(v, v.step - 1); }
    else if (e.key === "ArrowRight") { go(v, v.step + 1); }
    else if (e.key === "Home") { go(v, 0); }
    else if (e.key === "End") { go(v, v.data.steps.length); }
    else { return; }
    e.preventDefault();
  });
})();
"##;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::text::tests::{long, op, small};
    use crate::value::Value;
    use crate::verdict::{Blocked, Step};

    #[test]
    fn escape_handles_the_special_and_control_characters() {
        let cases = [
            ("plain", "plain"),
            ("<script>", "&lt;script&gt;"),
            ("a & b", "a &amp; b"),
            ("\"q\" 'a'", "&quot;q&quot; &#39;a&#39;"),
            ("tab\tnl\n", "tab\tnl\n"),
            ("bell\u{7}", "bell\u{FFFD}"),
        ];
        for (input, want) in cases {
            assert_eq!(escape(input), want, "input {input:?}");
        }
    }

    /// The embedded JSON, parsed.
    fn data_of(page: &str) -> serde_json::Value {
        let open = format!("<script type=\"application/json\" id=\"{DATA_ID}\">");
        let start = page.find(&open).expect("data tag") + open.len();
        let len = page[start..].find("</script>").expect("end of data tag");
        serde_json::from_str(&page[start..start + len]).expect("data parses")
    }

    fn summary() -> Vec<String> {
        vec!["verdict: not linearizable".into(), "model: register".into()]
    }

    /// The `small` witness with times on every op.
    fn timed() -> Witness {
        let mut w = small();
        for o in &mut w.ops {
            o.call_time = Some(1_000_000_000 + o.call as i64 * 2_500_000);
            o.ret_time = o.ret.map(|r| 1_000_000_000 + r as i64 * 2_500_000);
        }
        w
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
        assert_eq!(ws[0]["blocked"][0]["op"], 12);
        assert_eq!(ws[0]["initial_state"], "0");
        // Position mode: record-index axis.
        assert!(p.contains("record position in the history"));
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
        // Pattern ids are unique per witness.
        assert_eq!(p.matches("id=\"hatch-1-lin\"").count(), 1);
        assert_eq!(data_of(&p)["witnesses"].as_array().unwrap().len(), 3);
    }

    #[test]
    fn times_give_a_millisecond_axis() {
        let w = timed();
        assert!(drawn_by_time(&w.ops));
        let p = page("t", &[], std::slice::from_ref(&w));
        assert!(p.contains("time since the first invocation"));
        assert!(p.contains(">0 ms</text>"), "{p}");
        assert!(p.contains(" ms</text>"));
        assert!(!p.contains("record position in the history"));
        // The window maps exactly: record 3 is op 12's call at 7.5 ms after
        // the start, record 4 its completion at 10 ms.
        let ops = text::op_index(&w);
        let (a, b) = window_span(&w, true, &ops).unwrap();
        assert_eq!(a - 1e9, 7.5e6);
        assert_eq!(b - 1e9, 10e6);
    }

    #[test]
    fn missing_times_fall_back_to_positions() {
        let mut w = timed();
        w.ops[1].call_time = None;
        assert!(!drawn_by_time(&w.ops));
        let p = page("t", &[], std::slice::from_ref(&w));
        assert!(p.contains("record position in the history"));
        assert!(!p.contains(" ms</text>"));
        let ops = text::op_index(&w);
        assert_eq!(window_span(&w, false, &ops), Some((3.0, 4.0)));
    }

    #[test]
    fn unmapped_window_uses_blocked_ops() {
        let mut w = timed();
        w.window = (90, 91);
        let ops = text::op_index(&w);
        let (a, b) = window_span(&w, true, &ops).unwrap();
        assert_eq!((a - 1e9, b - 1e9), (7.5e6, 10e6));
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
        ]
        .iter()
        .map(|s| p.find(s).unwrap_or_else(|| panic!("{s}")))
        .collect();
        assert!(order.windows(2).all(|x| x[0] < x[1]), "{order:?}");
    }

    /// A busier register history with times: `procs` processes, each
    /// writing or reading in turn, some never hearing back.
    fn sample(procs: u64, rounds: u64) -> Witness {
        let mut ops = Vec::new();
        let mut longest = Vec::new();
        let mut pos = 0u64;
        let mut id = 0usize;
        let mut reg = 0i64;
        for r in 0..rounds {
            for p in 0..procs {
                let call = pos;
                let open = (p + r) % 7 == 3 && r + 1 == rounds;
                let ret = if open { None } else { Some(pos + procs) };
                pos += 1;
                let write = (p + r) % 3 == 0;
                let text = if write {
                    format!("write {}", id)
                } else {
                    format!("read -> {reg}")
                };
                let mut o = op(id, p, &text, call, ret);
                o.call_time = Some(5_000_000_000 + call as i64 * 1_300_000 + (p as i64 * 170_000));
                o.ret_time = ret.map(|r| 5_000_000_000 + r as i64 * 1_300_000 + 400_000);
                o.line = call as usize * 2 + 1;
                if write {
                    reg = id as i64;
                }
                longest.push(Step {
                    op: id,
                    state_after: reg.to_string(),
                });
                ops.push(o);
                id += 1;
            }
            pos += procs;
        }
        // The last closed read is blocked instead.
        let bad = ops
            .iter()
            .rposition(|o| o.text.starts_with("read") && o.ret.is_some())
            .unwrap();
        ops[bad].text = "read -> </script><script>alert(1)</script>".into();
        let bad_id = ops[bad].id;
        longest.retain(|s| s.op < bad_id);
        let window = (ops[bad].call, ops[bad].ret.unwrap());
        Witness {
            key: Some(Value::from("x")),
            model: "register".into(),
            initial_state: "0".into(),
            final_state: longest.last().unwrap().state_after.clone(),
            longest,
            blocked: vec![Blocked {
                op: bad_id,
                reason: "read returned \"</script>\", but the register held 7".into(),
            }],
            ops,
            window,
        }
    }

    /// Writes sample pages for looking at in a browser:
    /// `cargo test -p checker --lib report::html::tests::write_sample_page -- --ignored`.
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
            &[sample(8, 6), untimed.clone(), small()],
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

    #[test]
    fn ticks_are_nice() {
        assert_eq!(nice_step(100.0, 10.0), 10.0);
        assert_eq!(nice_step(130.0, 10.0), 20.0);
        assert_eq!(nice_step(0.4, 10.0), 0.05);
        assert_eq!(ms_label(2_500_000.0, 500_000.0), "2.5 ms");
        assert_eq!(ms_label(20_000_000.0, 5_000_000.0), "20 ms");
    }
}
