//! A witness's timeline: an inline SVG with one row per process (sorted by
//! process number) and one bar per operation, from its invocation to its
//! completion, with the failing window shaded behind.
//!
//! The horizontal axis is time (nanoseconds since the part's first
//! invocation) when every operation of the witness has a `call_time` (and a
//! `ret_time` if it completed), and record positions otherwise.
//!
//! What is written here is the whole part, laid out once: that is what a
//! reader without script sees, in a box that scrolls sideways. The page's
//! script ([`super::js`]) then makes the SVG as wide as its box, opens it on
//! the failing window (`data-view-lo`..`data-view-hi` on the `<svg>`) and
//! lets the reader zoom and pan out to the whole part. It re-lays-out every
//! x position from the axis values kept in `data-` attributes (`data-t0`
//! and `data-t1` on each operation, `data-a` and `data-b` on the window)
//! and redraws the ticks, instead of scaling the SVG: text keeps its size
//! at every zoom.

use super::css::{BLOCKED, LIN, OPEN, OTHER};
use crate::html::escape;
use checker::history::{is_final_read, process_label};
use checker::report::text;
use checker::verdict::{OpView, Witness};
use checker::Outcome;
use std::collections::{BTreeSet, HashMap};
use std::fmt::Write as _;

/// Top margin (the window's label), bottom margin (axis), right margin.
const TOP: f64 = 26.0;
const BOTTOM: f64 = 46.0;
const RIGHT: f64 = 24.0;

/// A generous average glyph width of the sans-serif fonts the page asks
/// for, as a fraction of the font size. Labels are measured in characters
/// with it; erring wide means a long label never runs under the plot.
const GLYPH_EM: f64 = 0.62;

/// Space left of the process labels, and between them and the plot.
const LABEL_PAD: f64 = 8.0;
const LABEL_GAP: f64 = 8.0;

/// The legend under every timeline.
const LEGEND: &str = "<div class=\"legend\">\
<span><i class=\"sw sw-lin\"></i>in the longest linearization (badge: its position)</span>\
<span><i class=\"sw sw-blocked\"></i>cannot come next</span>\
<span><i class=\"sw sw-other\"></i>other</span>\
<span><i class=\"sw sw-open\"></i>open-ended (no completion: may take effect any time later)</span>\
<span><i class=\"sw sw-window\"></i>failing window</span>\
</div>\n";

/// How operations are placed on the horizontal axis.
#[derive(Clone, Copy, Debug)]
struct Axis {
    /// By time (else by record position).
    by_time: bool,
    /// The earliest invocation time, which is 0 on a time axis: offsets
    /// from it keep full precision in an `f64` (and in the script's numbers)
    /// where absolute nanoseconds since the epoch would not.
    t0: i64,
}

impl Axis {
    /// A time axis when every op has its times, else a position axis.
    fn of(ops: &[OpView]) -> Axis {
        let by_time = drawn_by_time(ops);
        let t0 = if by_time {
            ops.iter().filter_map(|o| o.call_time).min().unwrap_or(0)
        } else {
            0
        };
        Axis { by_time, t0 }
    }

    /// A recorded time on this axis. Computed in `i128`: times come from a
    /// history file and may be anything.
    fn time(&self, t: i64) -> f64 {
        (i128::from(t) - i128::from(self.t0)) as f64
    }

    /// An op's start and (if it completed) end on the axis.
    fn span(&self, op: &OpView) -> (f64, Option<f64>) {
        if self.by_time {
            (
                op.call_time.map_or(0.0, |t| self.time(t)),
                op.ret.and(op.ret_time).map(|t| self.time(t)),
            )
        } else {
            (op.call as f64, op.ret.map(|r| r as f64))
        }
    }

    /// A tick label for axis value `v` when ticks are `step` apart and the
    /// largest value shown is `max`.
    fn label(&self, v: f64, step: f64, max: f64) -> String {
        if self.by_time {
            time_label(v, step, max)
        } else {
            format!("{}", v.round() as i64)
        }
    }
}

/// Maps axis values to pixels.
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

/// True when the witness can be drawn by time: every op has a call time,
/// and every completed op a completion time.
pub(super) fn drawn_by_time(ops: &[OpView]) -> bool {
    !ops.is_empty()
        && ops
            .iter()
            .all(|o| o.call_time.is_some() && (o.ret.is_none() || o.ret_time.is_some()))
}

/// The failing window on the axis. By position it is `w.window` itself;
/// by time each end is the time of the record at that position when one of
/// the witness's ops has it, else the earliest call / latest finite
/// completion among the blocked ops. The end is infinite when no finite
/// one is known.
fn window_span(w: &Witness, axis: Axis, ops: &HashMap<usize, &OpView>) -> Option<(f64, f64)> {
    let (a, b) = w.window;
    if !axis.by_time {
        return Some((a as f64, b as f64));
    }
    let mut at: HashMap<u64, f64> = HashMap::new();
    for o in &w.ops {
        if let Some(t) = o.call_time {
            at.insert(o.call, axis.time(t));
        }
        if let (Some(r), Some(t)) = (o.ret, o.ret_time) {
            at.insert(r, axis.time(t));
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
            .map(|t| axis.time(t))
    })?;
    let end = at.get(&b).copied().or_else(|| {
        blocked
            .iter()
            .filter(|o| o.ret.is_some())
            .filter_map(|o| o.ret_time)
            .max()
            .map(|t| axis.time(t))
    });
    Some((start, end.unwrap_or(f64::INFINITY)))
}

/// The view the script opens on: the failing window with half its width
/// either side (so it fills the middle half), within `lo..hi`; a window of
/// no width gets 0.2% of the whole either side. The whole when the window
/// is unknown or covers most of it anyway.
pub(super) fn initial_view(lo: f64, hi: f64, window: Option<(f64, f64)>) -> (f64, f64) {
    let Some((a, b)) = window else {
        return (lo, hi);
    };
    let b = if b.is_finite() { b } else { hi };
    let (a, b) = (a.min(b), a.max(b));
    let pad = ((b - a) * 0.5).max((hi - lo) * 0.002);
    let (from, to) = ((a - pad).max(lo), (b + pad).min(hi));
    // (Written so that NaN, from a history's odd times, gives the whole.)
    let zoomed_in = to > from && to - from < (hi - lo) * 0.9;
    if zoomed_in {
        (from, to)
    } else {
        (lo, hi)
    }
}

/// A step of 1, 2 or 5 times a power of ten giving about `target` ticks
/// over `span`. (The page's script has the same rule for its ticks.)
pub(super) fn nice_step(span: f64, target: f64) -> f64 {
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

/// Decimals that tell apart values `step` apart (`step` in the unit shown).
fn decimals(step: f64, most: usize) -> usize {
    if step >= 1.0 {
        0
    } else {
        // The small slack keeps 0.1 (which is a hair above or below a power
        // of ten in binary) at one decimal.
        ((-step.log10() - 1e-9).ceil().max(0.0) as usize).min(most)
    }
}

/// `12.5 ms` or `3.25 s` for a time offset in nanoseconds, with as many
/// decimals as ticks `step_ns` apart need. Seconds once the view reaches
/// `max_ns` of a second or more, so that labels late in a long run read
/// `12.35 s` rather than `12350 ms`. (The page's script has the same rule.)
pub(super) fn time_label(ns: f64, step_ns: f64, max_ns: f64) -> String {
    if max_ns >= 1e9 {
        format!("{:.*} s", decimals(step_ns / 1e9, 9), ns / 1e9)
    } else {
        format!("{:.*} ms", decimals(step_ns / 1e6, 6), ns / 1e6)
    }
}

/// Shortens `s` to at most `max` characters, ending in `…` if cut; `None`
/// when fewer than four would be left to show.
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

/// The width of the label column for these labels at `font` pixels:
/// enough for the longest, measured in characters.
pub(super) fn label_column(labels: &[String], font: f64) -> f64 {
    let chars = labels.iter().map(|l| l.chars().count()).max().unwrap_or(0);
    (LABEL_PAD + chars as f64 * font * GLYPH_EM + LABEL_GAP).ceil()
}

/// Writes the zoom controls, the timeline of witness `wi` and its legend.
pub(super) fn timeline(out: &mut String, wi: usize, w: &Witness) {
    if w.ops.is_empty() {
        out.push_str("<p class=\"note\">No operations to draw.</p>\n");
        return;
    }
    let ops = text::op_index(w);
    let axis = Axis::of(&w.ops);
    let procs: BTreeSet<u64> = w.ops.iter().map(|o| o.process).collect();
    let row_of: HashMap<u64, usize> = procs.iter().enumerate().map(|(i, p)| (*p, i)).collect();
    let rows = procs.len();
    let row_h = (560.0 / rows as f64).clamp(14.0, 30.0);
    let bar_h = (row_h * 0.62).round();
    let font = (bar_h * 0.85).clamp(8.0, 11.0);
    let label_font = (row_h * 0.6).clamp(9.0, 12.0);
    let labels: Vec<String> = procs.iter().map(|p| process_label(*p)).collect();
    let left = label_column(&labels, label_font);

    // The domain: from the first start to the last finite end or start,
    // plus room on the right for open-ended ops.
    let spans: Vec<(f64, Option<f64>)> = w.ops.iter().map(|o| axis.span(o)).collect();
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
        x0: left,
        width,
    };
    let plot_h = rows as f64 * row_h;
    let axis_y = TOP + plot_h;
    let svg_w = left + width + RIGHT;
    let svg_h = TOP + plot_h + BOTTOM;
    let window = window_span(w, axis, &ops);
    let (view_lo, view_hi) = initial_view(lo, hi, window);

    controls(out, w);
    out.push_str("<div class=\"timeline\">\n");
    let _ = writeln!(
        out,
        "<svg class=\"timeline-svg\" width=\"{svg_w:.0}\" height=\"{svg_h:.0}\" \
         viewBox=\"0 0 {svg_w:.0} {svg_h:.0}\" role=\"img\" aria-label=\"timeline of {} operations \
         by {} processes\" data-axis=\"{}\" data-lo=\"{lo}\" data-hi=\"{hi}\" \
         data-view-lo=\"{view_lo}\" data-view-hi=\"{view_hi}\" data-left=\"{left}\" \
         data-right=\"{RIGHT}\" data-top=\"{TOP}\" data-font=\"{font}\">",
        w.ops.len(),
        rows,
        if axis.by_time { "time" } else { "position" },
    );
    // Hatching for open-ended ops: stripes of the open colour over the
    // state colour. The clip keeps bars the script moves off the plot out
    // of the label column.
    out.push_str("<defs>\n");
    for (state, colour) in [("lin", LIN), ("blocked", BLOCKED), ("other", OTHER)] {
        let _ = writeln!(
            out,
            "<pattern id=\"hatch-{wi}-{state}\" width=\"8\" height=\"8\" patternUnits=\"userSpaceOnUse\" \
             patternTransform=\"rotate(45)\"><rect width=\"8\" height=\"8\" fill=\"{colour}\"/>\
             <rect width=\"3\" height=\"8\" fill=\"{OPEN}\"/></pattern>"
        );
    }
    let _ = writeln!(
        out,
        "<clipPath id=\"plot-{wi}\"><rect class=\"clip\" x=\"{left}\" y=\"0\" width=\"{width:.1}\" \
         height=\"{svg_h:.1}\"/></clipPath>"
    );
    out.push_str("</defs>\n");

    // Row stripes and process labels.
    for (i, (p, label)) in procs.iter().zip(&labels).enumerate() {
        let y = TOP + i as f64 * row_h;
        if i % 2 == 1 {
            let _ = writeln!(
                out,
                "<rect class=\"stripe\" x=\"{left}\" y=\"{y:.1}\" width=\"{width:.1}\" height=\"{row_h:.1}\"/>"
            );
        }
        let title = if is_final_read(*p) {
            format!("<title>a final read after healing (process {p})</title>")
        } else {
            String::new()
        };
        let _ = writeln!(
            out,
            "<text class=\"proc\" x=\"{:.1}\" y=\"{:.1}\" font-size=\"{label_font:.1}\">{}{title}</text>",
            left - LABEL_GAP,
            y + row_h / 2.0,
            escape(label)
        );
    }

    // Axis: the line, then grid lines, ticks and labels (which the script
    // redraws for each view), then the title.
    let _ = writeln!(
        out,
        "<line class=\"axis\" x1=\"{left}\" y1=\"{axis_y:.1}\" x2=\"{:.1}\" y2=\"{axis_y:.1}\"/>",
        left + width
    );
    out.push_str("<g class=\"ticks\">\n");
    let step = {
        let s = nice_step(hi - lo, width / 100.0);
        if axis.by_time {
            s
        } else {
            s.max(1.0).round()
        }
    };
    let mut k = (lo / step).ceil();
    while k * step <= hi + 1e-9 * step.abs() {
        let v = k * step;
        let x = scale.x(v);
        let _ = writeln!(
            out,
            "<line class=\"grid\" x1=\"{x:.1}\" y1=\"{TOP}\" x2=\"{x:.1}\" y2=\"{axis_y:.1}\"/>\
             <line class=\"tick\" x1=\"{x:.1}\" y1=\"{axis_y:.1}\" x2=\"{x:.1}\" y2=\"{:.1}\"/>\
             <text class=\"tick-label\" x=\"{x:.1}\" y=\"{:.1}\">{}</text>",
            axis_y + 5.0,
            axis_y + 17.0,
            axis.label(v, step, hi)
        );
        k += 1.0;
    }
    out.push_str("</g>\n");
    let _ = writeln!(
        out,
        "<text class=\"axis-title\" x=\"{:.1}\" y=\"{:.1}\">{}</text>",
        left + width / 2.0,
        axis_y + 36.0,
        if axis.by_time {
            "time since the first invocation"
        } else {
            "record position in the history"
        }
    );

    let _ = writeln!(out, "<g class=\"plot\" clip-path=\"url(#plot-{wi})\">");
    // The failing window, behind the bars.
    if let Some((a, b)) = window {
        let xa = scale.x(a);
        let xb = if b.is_finite() {
            scale.x(b)
        } else {
            left + width
        };
        let (xa, xb) = (xa.min(xb), xa.max(xb));
        let ww = (xb - xa).max(4.0);
        let b_attr = if b.is_finite() {
            format!(" data-b=\"{b}\"")
        } else {
            String::new()
        };
        let _ = writeln!(
            out,
            "<g class=\"window-group\"><rect class=\"window\" x=\"{xa:.1}\" y=\"{:.1}\" width=\"{ww:.1}\" \
             height=\"{:.1}\" data-a=\"{a}\"{b_attr}><title>failing window: records {} to {}</title></rect>\
             <text class=\"window-label\" x=\"{:.1}\" y=\"{:.1}\">failing window</text></g>",
            TOP - 20.0,
            plot_h + 20.0,
            w.window.0,
            w.window.1,
            xa + 4.0,
            TOP - 7.0
        );
    }
    let bars = Bars {
        wi,
        w,
        axis,
        scale: &scale,
        row_of: &row_of,
        row_h,
        bar_h,
        font,
    };
    for (o, span) in w.ops.iter().zip(&spans) {
        bars.bar(out, o, *span);
    }
    out.push_str("</g>\n</svg>\n</div>\n</div>\n");
    out.push_str(LEGEND);
}

/// The zoom controls, hidden until the script shows them (they do nothing
/// without it). They open the `timeline-view` that [`timeline`] closes.
fn controls(out: &mut String, w: &Witness) {
    let whole = escape(&text::part_name(w));
    out.push_str("<div class=\"timeline-view\">\n");
    let _ = writeln!(
        out,
        "<div class=\"zoom\" hidden>\
         <button type=\"button\" data-zoom=\"in\" title=\"zoom in around the middle\">Zoom in</button>\
         <button type=\"button\" data-zoom=\"out\" title=\"zoom out around the middle\">Zoom out</button>\
         <button type=\"button\" data-zoom=\"window\" title=\"back to the failing window\">Fit failing window</button>\
         <button type=\"button\" data-zoom=\"all\" title=\"every operation of {whole}\">Whole history</button>\
         <span class=\"shown\"></span>\
         <span class=\"hint\">wheel: zoom at the pointer · drag: pan</span></div>"
    );
}

/// What drawing one operation's bar needs.
struct Bars<'a> {
    wi: usize,
    w: &'a Witness,
    axis: Axis,
    scale: &'a Scale,
    row_of: &'a HashMap<u64, usize>,
    row_h: f64,
    bar_h: f64,
    font: f64,
}

impl Bars<'_> {
    /// One operation: a `<g class="op ...">` holding its tooltip, its bar
    /// (`op-bar`), its badge if it is in the longest linearization, and its
    /// words when they fit.
    fn bar(&self, out: &mut String, o: &OpView, (start, end): (f64, Option<f64>)) {
        let (w, scale, axis) = (self.w, self.scale, self.axis);
        let right = scale.x0 + scale.width;
        let row = self.row_of.get(&o.process).copied().unwrap_or(0);
        let y = TOP + row as f64 * self.row_h + (self.row_h - self.bar_h) / 2.0;
        let x = scale.x(start);
        let open = o.ret.is_none();
        let x_end = match end {
            Some(e) if !open => scale.x(e),
            _ => right,
        };
        let bw = (x_end - x).max(3.0);
        let pos = w
            .longest
            .iter()
            .position(|s| s.op == o.id)
            .map(|i| (i + 1, w.longest[i].state_after.as_str()));
        let reason = w
            .blocked
            .iter()
            .find(|b| b.op == o.id)
            .map(|b| b.reason.as_str());
        let state = match (pos, reason) {
            (Some(_), _) => "lin",
            (None, Some(_)) => "blocked",
            (None, None) => "other",
        };
        let words = text::op_words(o);

        let mut tip = format!(
            "#{} {}: {}\nline {}, outcome {}{}\nrecords {} to {}",
            o.id,
            process_label(o.process),
            words,
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
        if axis.by_time {
            let at = |t: i64| time_label(axis.time(t), 1e3, 0.0);
            if let Some(ct) = o.call_time {
                let _ = write!(tip, "; time {}", at(ct));
                if let Some(rt) = o.ret_time {
                    let _ = write!(tip, " to {}", at(rt));
                }
            }
        }
        if is_final_read(o.process) {
            let _ = write!(tip, "\na final read after healing (process {})", o.process);
        }
        match (pos, reason) {
            (Some((p, after)), _) => {
                let _ = write!(
                    tip,
                    "\nstep {p} of the longest linearization; state after: {after}"
                );
            }
            (None, Some(r)) => {
                let _ = write!(tip, "\ncannot come next: {r}");
            }
            (None, None) => tip.push_str("\nnot in the longest linearization"),
        }

        let _ = write!(
            out,
            "<g class=\"op {state}{}\" data-op=\"{}\"{} data-t0=\"{start}\"{} data-words=\"{}\">\
             <title>{}</title>",
            if open { " open" } else { "" },
            o.id,
            pos.map(|(p, _)| format!(" data-pos=\"{p}\""))
                .unwrap_or_default(),
            match end {
                Some(e) if !open => format!(" data-t1=\"{e}\""),
                _ => String::new(),
            },
            escape(words),
            escape(&tip)
        );
        let style = if open {
            format!(" style=\"fill:url(#hatch-{}-{state})\"", self.wi)
        } else {
            String::new()
        };
        let (bar_h, font) = (self.bar_h, self.font);
        let _ = write!(
            out,
            "<rect class=\"op-bar\" x=\"{x:.1}\" y=\"{y:.1}\" width=\"{bw:.1}\" height=\"{bar_h:.1}\" rx=\"2\"{style}/>"
        );
        let mut text_x = x + 3.0;
        if let Some((p, _)) = pos {
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
        // The op's words inside the bar when they fit (the script redoes
        // this at every zoom, from `data-words`).
        let room = x + bw - text_x - 3.0;
        let fits = (room / (font * 0.6)).floor();
        if fits >= 4.0 && bar_h >= 10.0 {
            if let Some(label) = truncate(words, fits as usize) {
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::counterexample::fixtures::{small, timed};

    #[test]
    fn times_map_the_window_exactly() {
        let w = timed();
        let axis = Axis::of(&w.ops);
        assert!(axis.by_time);
        // Record 3 is op 12's call at 7.5 ms after the start, record 4 its
        // completion at 10 ms.
        let ops = text::op_index(&w);
        assert_eq!(window_span(&w, axis, &ops), Some((7.5e6, 10e6)));
    }

    #[test]
    fn missing_times_fall_back_to_positions() {
        let mut w = timed();
        w.ops[1].call_time = None;
        let axis = Axis::of(&w.ops);
        assert!(!axis.by_time);
        let ops = text::op_index(&w);
        assert_eq!(window_span(&w, axis, &ops), Some((3.0, 4.0)));
    }

    #[test]
    fn unmapped_window_uses_blocked_ops() {
        let mut w = timed();
        w.window = (90, 91);
        let ops = text::op_index(&w);
        let axis = Axis::of(&w.ops);
        assert_eq!(window_span(&w, axis, &ops), Some((7.5e6, 10e6)));
        // A blocked op that never completed leaves the end open.
        w.ops[2].ret = None;
        w.ops[2].ret_time = None;
        let ops = text::op_index(&w);
        let (a, b) = window_span(&w, axis, &ops).unwrap();
        assert_eq!(a, 7.5e6);
        assert!(b.is_infinite());
    }

    #[test]
    fn times_far_from_zero_keep_their_precision() {
        // Nanoseconds since the epoch: as absolute f64s, 1 ns steps vanish.
        let mut w = small();
        let base = 1_780_000_000_000_000_001i64;
        for o in &mut w.ops {
            o.call_time = Some(base + o.call as i64);
            o.ret_time = o.ret.map(|r| base + r as i64);
        }
        let axis = Axis::of(&w.ops);
        assert_eq!(axis.span(&w.ops[2]), (3.0, Some(4.0)));
        // And times no i64 subtraction survives are no panic.
        w.ops[0].call_time = Some(i64::MIN);
        w.ops[2].ret_time = Some(i64::MAX);
        let axis = Axis::of(&w.ops);
        assert!(axis.span(&w.ops[2]).1.unwrap() > 1e19);
    }

    #[test]
    fn the_initial_view_is_the_window_with_a_margin() {
        // (whole, window, expected view)
        let cases = [
            // A window far right in a long part: half its width either side.
            ((0.0, 1000.0), Some((900.0, 910.0)), (895.0, 915.0)),
            ((0.0, 1000.0), Some((600.0, 800.0)), (500.0, 900.0)),
            // A window of no width: 0.2% of the whole either side.
            ((0.0, 1000.0), Some((500.0, 500.0)), (498.0, 502.0)),
            // At the start: clamped to the part.
            ((0.0, 1000.0), Some((0.0, 10.0)), (0.0, 15.0)),
            // No finite end: to the end of the part.
            ((0.0, 1000.0), Some((950.0, f64::INFINITY)), (925.0, 1000.0)),
            // Most of the part anyway: the whole.
            ((0.0, 1000.0), Some((50.0, 950.0)), (0.0, 1000.0)),
            ((0.0, 1000.0), None, (0.0, 1000.0)),
        ];
        for ((lo, hi), window, want) in cases {
            assert_eq!(initial_view(lo, hi, window), want, "window {window:?}");
        }
    }

    #[test]
    fn ticks_are_nice() {
        assert_eq!(nice_step(100.0, 10.0), 10.0);
        assert_eq!(nice_step(130.0, 10.0), 20.0);
        assert_eq!(nice_step(0.4, 10.0), 0.05);
        assert_eq!(nice_step(7e9, 10.0), 1e9);
        // (ns, step, largest value shown, label)
        let cases = [
            (2_500_000.0, 500_000.0, 9e6, "2.5 ms"),
            (20_000_000.0, 5_000_000.0, 9e7, "20 ms"),
            (7_500_000.0, 100_000.0, 9e6, "7.5 ms"),
            (7_500_000.0, 1_000.0, 9e6, "7.500 ms"),
            (0.0, 1e9, 30e9, "0 s"),
            (12_350_000_000.0, 50_000_000.0, 13e9, "12.35 s"),
            (12_300_010_000.0, 10_000.0, 13e9, "12.30001 s"),
            (12_000_000_001.0, 0.5, 13e9, "12.000000001 s"),
        ];
        for (ns, step, max, want) in cases {
            assert_eq!(time_label(ns, step, max), want, "{ns} by {step}");
        }
    }

    #[test]
    fn the_label_column_fits_the_longest_label() {
        let labels = vec!["process 7".to_string(), "final 14".to_string()];
        let at12 = label_column(&labels, 12.0);
        // Nine characters of at least half an em each, and the gaps.
        assert!(at12 >= 9.0 * 6.0 + LABEL_PAD + LABEL_GAP, "{at12}");
        let longer = vec!["process 999999999".to_string()];
        assert!(label_column(&longer, 12.0) > at12 + 8.0 * 6.0);
        assert_eq!(label_column(&[], 12.0), LABEL_PAD + LABEL_GAP);
    }
}
