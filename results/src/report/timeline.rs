//! The timeline: one lane per client process, each operation a bar from
//! invocation to completion, faults shaded across the lanes.
//!
//! It is plain SVG written by hand rather than through the plotting
//! library because each bar needs a `<title>` tooltip and a CSS class,
//! which is what lets the page work without any script.

use std::collections::BTreeMap;
use std::fmt::Write;

use crate::html::escape;
use crate::numbers::{nice_step, trim};
use crate::plots::{FaultSpan, OpSample, SampleOutcome};
use checker::history::{is_final_read, process_label};

/// The most operations drawn. A browser stays responsive with a few
/// thousand SVG elements with tooltips, and a person cannot read more.
const OPS_MAX: usize = 3_000;
/// The SVG's width.
const WIDTH_PX: f64 = 1_100.0;
/// Room for lane labels on the left.
const LEFT_PX: f64 = 64.0;
/// A margin on the right so the last tick label fits.
const RIGHT_PX: f64 = 20.0;
/// Room above the lanes for three staggered rows of fault labels.
const TOP_PX: f64 = 44.0;
/// Room below the lanes for tick labels and the axis title.
const BOTTOM_PX: f64 = 40.0;
/// The lanes share at most this much height; with many processes each lane
/// gets thinner rather than the page growing without bound.
const LANES_PX_MAX: f64 = 1_200.0;
/// The thinnest and thickest a lane is drawn.
const LANE_PX: (f64, f64) = (4.0, 18.0);
/// Lanes thinner than this get no label (the text would overlap).
const LABELLED_LANE_PX_MIN: f64 = 9.0;
/// The narrowest bar, so an instant operation is still visible.
const BAR_PX_MIN: f64 = 1.5;
/// Roughly how many ticks the time axis gets.
const TICKS: f64 = 10.0;

/// The timeline as an HTML fragment: a legend, a note on what is shown,
/// and the SVG.
pub(super) fn render(samples: &[OpSample], faults: &[FaultSpan], duration_s: f64) -> String {
    let mut out = String::new();
    if samples.is_empty() {
        out.push_str("<p class=\"none\">No operations were recorded.</p>\n");
        if faults.is_empty() {
            return out;
        }
    }
    let window = Window::select(samples, faults, duration_s);
    out.push_str(
        "<div class=\"legend\"><span class=\"swatch ok\"></span>ok\
         <span class=\"swatch fail\"></span>failed\
         <span class=\"swatch info\"></span>indeterminate (info)\
         <span class=\"swatch fault\"></span>fault in force</div>\n",
    );
    if !window.note.is_empty() {
        // `write!` to a String cannot fail.
        let _ = writeln!(
            out,
            "<p class=\"timeline-note\">{}</p>",
            escape(&window.note)
        );
    }
    out.push_str("<div class=\"timeline-scroll\">\n");
    out.push_str(&svg(samples, faults, &window));
    out.push_str("</div>\n");
    out
}

/// Which operations the timeline shows and over what stretch of time.
struct Window {
    /// Indices into the samples, by start time.
    indices: Vec<usize>,
    /// The left end of the time axis, seconds.
    from_s: f64,
    /// The right end of the time axis, seconds.
    to_s: f64,
    /// What is shown, in words, when it is not simply everything.
    note: String,
}

impl Window {
    /// Everything when it fits; otherwise the [`OPS_MAX`] consecutive
    /// operations (by start time) with the most failed or indeterminate
    /// ones among them, since that is where a reader needs to look.
    fn select(samples: &[OpSample], faults: &[FaultSpan], duration_s: f64) -> Window {
        let mut order: Vec<usize> = (0..samples.len())
            .filter(|&i| samples[i].start_s.is_finite())
            .collect();
        let unplaceable = samples.len() - order.len();
        order.sort_by(|&a, &b| samples[a].start_s.total_cmp(&samples[b].start_s));

        let mut window = if order.len() <= OPS_MAX {
            let mut to_s = if duration_s.is_finite() {
                duration_s
            } else {
                0.0
            };
            for &i in &order {
                to_s = to_s.max(samples[i].end_s().unwrap_or(samples[i].start_s));
            }
            if samples.is_empty() {
                // Only faults to show: their finite bounds set the axis.
                for f in faults {
                    for t in [f.start_s, f.end_s] {
                        if t.is_finite() {
                            to_s = to_s.max(t);
                        }
                    }
                }
            }
            Window {
                indices: order,
                from_s: 0.0,
                to_s,
                note: String::new(),
            }
        } else {
            Self::busiest(samples, faults, &order)
        };
        if window.to_s <= window.from_s {
            window.to_s = window.from_s + 1.0;
        }
        if unplaceable > 0 {
            if !window.note.is_empty() {
                window.note.push(' ');
            }
            let _ = write!(
                window.note,
                "{unplaceable} operations without a valid start time are not shown."
            );
        }
        window
    }

    /// The [`OPS_MAX`] consecutive operations of `order` with the most
    /// non-ok ones; if none failed, those around the first fault (or the
    /// first ones, without faults).
    fn busiest(samples: &[OpSample], faults: &[FaultSpan], order: &[usize]) -> Window {
        let not_ok = |i: usize| u32::from(samples[i].outcome != SampleOutcome::Ok);
        let total_not_ok: usize = order.iter().map(|&i| not_ok(i) as usize).sum();
        let mut count: u32 = order[..OPS_MAX].iter().map(|&i| not_ok(i)).sum();
        let (mut best_first, mut best_count) = (0, count);
        for first in 1..=order.len() - OPS_MAX {
            count = count - not_ok(order[first - 1]) + not_ok(order[first + OPS_MAX - 1]);
            if count > best_count {
                (best_first, best_count) = (first, count);
            }
        }

        let reason = if best_count > 0 {
            format!(
                "the stretch with the most failed or indeterminate operations \
                 ({best_count} of the run's {total_not_ok})"
            )
        } else if let Some(fault_s) = faults
            .iter()
            .map(|f| f.start_s)
            .filter(|t| t.is_finite())
            .reduce(f64::min)
        {
            let at = order.partition_point(|&i| samples[i].start_s < fault_s);
            best_first = at.saturating_sub(OPS_MAX / 2).min(order.len() - OPS_MAX);
            "every operation succeeded; these are the ones around the first fault".to_owned()
        } else {
            "every operation succeeded; these are the first ones".to_owned()
        };

        let indices = order[best_first..best_first + OPS_MAX].to_vec();
        let from_s = samples[indices[0]].start_s;
        let last_start = samples[indices[OPS_MAX - 1]].start_s;
        let to_s = indices
            .iter()
            .filter_map(|&i| samples[i].end_s())
            .fold(last_start, f64::max);
        let note = format!(
            "Showing {OPS_MAX} of {} operations: those that started between {} s and {} s, {reason}.",
            samples.len(),
            trim(from_s, 3),
            trim(last_start, 3)
        );
        Window {
            indices,
            from_s,
            to_s,
            note,
        }
    }
}

/// The timeline's SVG document.
fn svg(samples: &[OpSample], faults: &[FaultSpan], window: &Window) -> String {
    let lanes: BTreeMap<u64, usize> = {
        let mut processes: Vec<u64> = window.indices.iter().map(|&i| samples[i].process).collect();
        processes.sort_unstable();
        processes.dedup();
        processes
            .into_iter()
            .enumerate()
            .map(|(lane, p)| (p, lane))
            .collect()
    };
    let lane_px = if lanes.is_empty() {
        LANE_PX.1
    } else {
        (LANES_PX_MAX / lanes.len() as f64).clamp(LANE_PX.0, LANE_PX.1)
    };
    let lanes_px = (lanes.len() as f64 * lane_px).max(LANE_PX.1);
    let height = TOP_PX + lanes_px + BOTTOM_PX;
    let span_s = window.to_s - window.from_s;
    let plot_px = WIDTH_PX - LEFT_PX - RIGHT_PX;
    let x =
        |t: f64| LEFT_PX + (t.clamp(window.from_s, window.to_s) - window.from_s) / span_s * plot_px;

    let mut out = String::with_capacity(256 * window.indices.len() + 4_096);
    let _ = writeln!(
        out,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"timeline\" width=\"{WIDTH_PX}\" height=\"{height}\" \
         viewBox=\"0 0 {WIDTH_PX} {height}\" role=\"img\" aria-label=\"Timeline of operations and faults\">"
    );

    // Alternate lane shading, so a bar's lane is easy to follow.
    for lane in (1..lanes.len()).step_by(2) {
        let _ = writeln!(
            out,
            "<rect class=\"lane-bg\" x=\"{LEFT_PX}\" y=\"{:.1}\" width=\"{plot_px}\" height=\"{lane_px:.1}\"/>",
            TOP_PX + lane as f64 * lane_px
        );
    }

    // Ticks and their labels.
    let step = nice_step(span_s / TICKS);
    let mut tick = (window.from_s / step).ceil() * step;
    while tick <= window.to_s + step * 1e-9 {
        let tx = x(tick);
        let _ = writeln!(
            out,
            "<line class=\"tick\" x1=\"{tx:.1}\" y1=\"{TOP_PX}\" x2=\"{tx:.1}\" y2=\"{:.1}\"/>\
             <text class=\"tick-label\" x=\"{tx:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
            TOP_PX + lanes_px,
            TOP_PX + lanes_px + 14.0,
            trim(tick, 3)
        );
        tick += step;
    }
    let _ = writeln!(
        out,
        "<text class=\"axis-title\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">time since start (s)</text>",
        LEFT_PX + plot_px / 2.0,
        height - 6.0
    );

    // Faults behind the operations.
    for (row, fault) in faults.iter().enumerate() {
        let Some((start, end)) = fault.clip(window.to_s) else {
            continue;
        };
        if end < window.from_s {
            continue;
        }
        let (x0, x1) = (x(start), x(end));
        let name = escape(&fault.name);
        let _ = writeln!(
            out,
            "<rect class=\"fault\" x=\"{x0:.1}\" y=\"{TOP_PX}\" width=\"{:.1}\" height=\"{lanes_px:.1}\">\
             <title>{name}: {} s to {} s</title></rect>\
             <text class=\"fault-label\" x=\"{:.1}\" y=\"{:.1}\">{name}</text>",
            (x1 - x0).max(BAR_PX_MIN),
            trim(start, 3),
            trim(end, 3),
            x0 + 2.0,
            12.0 + (row % 3) as f64 * 12.0
        );
    }

    // The operations.
    let bar_px = (lane_px - 2.0).max(2.0);
    for &i in &window.indices {
        let s = &samples[i];
        let lane = lanes.get(&s.process).copied().unwrap_or(0);
        let x0 = x(s.start_s);
        let (x1, open) = match s.end_s() {
            Some(end) => (x(end), ""),
            // Never completed: the bar runs off the end of the axis.
            None => (x(window.to_s), " open"),
        };
        let when = match s.end_s() {
            Some(_) => format!("{} ms", trim(s.latency_ms, 3)),
            None => "never completed".to_owned(),
        };
        let _ = writeln!(
            out,
            "<rect class=\"op {}{open}\" x=\"{x0:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{bar_px:.1}\">\
             <title>{} {}: {}, {when}, started at {} s</title></rect>",
            s.outcome.word(),
            TOP_PX + lane as f64 * lane_px + 1.0,
            (x1 - x0).max(BAR_PX_MIN),
            lane_label(s.process),
            escape(&s.summary),
            s.outcome.word(),
            trim(s.start_s, 3)
        );
    }

    if lane_px >= LABELLED_LANE_PX_MIN {
        for (process, lane) in &lanes {
            let _ = writeln!(
                out,
                "<text class=\"lane-label\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
                LEFT_PX - 6.0,
                TOP_PX + (*lane as f64 + 0.5) * lane_px + 4.0,
                lane_label(*process)
            );
        }
    }
    out.push_str("</svg>\n");
    out
}

/// `p7` for a client (lanes are narrow), `final 3` for one of the
/// harness's final reads, whose ten-digit number would not fit the
/// label column.
fn lane_label(process: u64) -> String {
    if is_final_read(process) {
        process_label(process)
    } else {
        format!("p{process}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use checker::history::FINAL_READ_PROCESS_BASE;

    fn sample(process: u64, start_s: f64, outcome: SampleOutcome) -> OpSample {
        OpSample {
            process,
            f: "read".into(),
            start_s,
            latency_ms: 5.0,
            outcome,
            summary: format!("read at {start_s}"),
        }
    }

    #[test]
    fn small_runs_show_everything() {
        let samples: Vec<OpSample> = (0..10)
            .map(|i| sample(i % 3, f64::from(i as u32), SampleOutcome::Ok))
            .collect();
        let w = Window::select(&samples, &[], 20.0);
        assert_eq!(w.indices.len(), 10);
        assert_eq!((w.from_s, w.to_s), (0.0, 20.0));
        assert!(w.note.is_empty());
        let html = render(&samples, &[], 20.0);
        assert_eq!(html.matches("class=\"op ok\"").count(), 10);
        assert_eq!(html.matches("class=\"lane-label\"").count(), 3);
        assert!(html.contains(">p2</text>"), "{html}");
    }

    #[test]
    fn final_reads_get_short_lane_labels() {
        let samples = [
            sample(3, 1.0, SampleOutcome::Ok),
            sample(FINAL_READ_PROCESS_BASE + 12, 9.0, SampleOutcome::Ok),
        ];
        let html = render(&samples, &[], 10.0);
        assert!(html.contains(">p3</text>"), "{html}");
        assert!(html.contains(">final 12</text>"), "{html}");
        assert!(html.contains("<title>final 12 read"), "{html}");
        assert!(!html.contains("1000000012"), "{html}");
    }

    #[test]
    fn large_runs_show_the_stretch_with_failures() {
        let n = 10_000;
        let samples: Vec<OpSample> = (0..n)
            .map(|i| {
                // Failures cluster between ops 7000 and 7100, plus a lone
                // one early on.
                let outcome = if (7_000..7_100).contains(&i) || i == 5 {
                    SampleOutcome::Fail
                } else {
                    SampleOutcome::Ok
                };
                sample(i as u64 % 5, i as f64 / 100.0, outcome)
            })
            .collect();
        let w = Window::select(&samples, &[], 100.0);
        assert_eq!(w.indices.len(), OPS_MAX);
        assert!(w.indices.contains(&7_000) && w.indices.contains(&7_099));
        assert!(w.note.contains("3000 of 10000"), "{}", w.note);
        assert!(w.note.contains("100 of the run's 101"), "{}", w.note);
        let html = render(&samples, &[], 100.0);
        assert_eq!(html.matches("<rect class=\"op ").count(), OPS_MAX);
    }

    #[test]
    fn without_failures_the_first_fault_is_centred() {
        let samples: Vec<OpSample> = (0..10_000)
            .map(|i| sample(0, f64::from(i as u32) / 100.0, SampleOutcome::Ok))
            .collect();
        let faults = [FaultSpan {
            name: "partition".into(),
            start_s: 60.0,
            end_s: 70.0,
        }];
        let w = Window::select(&samples, &faults, 100.0);
        assert_eq!(w.indices.first(), Some(&4_500));
        assert!(w.note.contains("around the first fault"), "{}", w.note);
        let html = render(&samples, &faults, 100.0);
        assert_eq!(html.matches("<rect class=\"fault\"").count(), 1);
    }

    #[test]
    fn never_completed_ops_run_to_the_end() {
        let mut s = sample(2, 1.0, SampleOutcome::Info);
        s.latency_ms = f64::INFINITY;
        let nan = OpSample {
            start_s: f64::NAN,
            ..sample(1, 0.0, SampleOutcome::Ok)
        };
        let html = render(&[s, nan], &[], 4.0);
        assert!(html.contains("class=\"op info open\""), "{html}");
        assert!(html.contains("never completed"));
        assert!(
            html.contains("1 operations without a valid start time"),
            "{html}"
        );
    }
}
