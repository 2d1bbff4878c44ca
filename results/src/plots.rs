//! Latency and throughput over time, as SVG documents.
//!
//! Both plots share the same inputs: one [`OpSample`] per client operation
//! and the [`FaultSpan`]s in force, with times in seconds since the test
//! began. Faults are drawn first, as shaded bands labelled with their
//! names, so a reader sees at a glance whether latency rose or throughput
//! fell while a fault was in force.
//!
//! Text is written as SVG `<text>` elements for the viewer to lay out, so
//! no font files or font crates are needed.

mod faults;
mod latency;
mod lines;
mod prepare;
mod style;
mod throughput;

use serde::{Deserialize, Serialize};
use thiserror::Error;

pub use latency::latency_svg;
pub use lines::{lines_svg, Axes, Series};
pub use throughput::throughput_svg;

/// How an operation ended, as far as the client could tell.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum SampleOutcome {
    /// It completed and took effect.
    Ok,
    /// It completed and certainly did not take effect.
    Fail,
    /// The client cannot tell (a timeout, a crash): it may or may not have
    /// taken effect.
    Info,
}

impl SampleOutcome {
    /// Every outcome, in the order plots and legends list them.
    pub const ALL: [SampleOutcome; 3] =
        [SampleOutcome::Ok, SampleOutcome::Fail, SampleOutcome::Info];

    /// The lower-case word used in legends, tooltips and CSS classes.
    pub fn word(self) -> &'static str {
        match self {
            SampleOutcome::Ok => "ok",
            SampleOutcome::Fail => "fail",
            SampleOutcome::Info => "info",
        }
    }

    /// The colour this outcome is drawn in, as `#rrggbb`; the HTML report
    /// uses the same colours as the plots.
    pub fn colour_hex(self) -> &'static str {
        style::outcome_hex(self)
    }
}

/// One completed (or never-completed) client operation, for plots and the
/// timeline.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OpSample {
    /// The client process that ran it.
    pub process: u64,
    /// The operation's function, e.g. `read`, `write`, `cas`.
    pub f: String,
    /// When it was invoked, in seconds since the test began.
    pub start_s: f64,
    /// How long it took to complete, in milliseconds. For an operation that
    /// never completed this may be infinite or NaN; plots draw it at the
    /// top of the latency axis.
    pub latency_ms: f64,
    /// How it ended.
    pub outcome: SampleOutcome,
    /// A few words shown in tooltips, e.g. `write k3 4`.
    pub summary: String,
}

impl OpSample {
    /// When it completed, in seconds since the test began, if it did.
    pub fn end_s(&self) -> Option<f64> {
        let end = self.start_s + self.latency_ms / 1_000.0;
        end.is_finite().then_some(end)
    }
}

/// A fault in force between two times (seconds since the test began).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FaultSpan {
    /// What the fault was, e.g. `partition n1 | n2 n3`.
    pub name: String,
    /// When it began.
    pub start_s: f64,
    /// When it was healed. An end that is not finite, or before the start,
    /// means it was never healed: it lasts to the end of the test.
    pub end_s: f64,
}

impl FaultSpan {
    /// The part of this fault that falls within `[0, end_s]`, or `None` if
    /// it began after that.
    ///
    /// A start that is not a number counts as the test's start; an end that
    /// is not finite or comes before the start counts as never healed.
    pub fn clip(&self, end_s: f64) -> Option<(f64, f64)> {
        let start = if self.start_s.is_nan() {
            0.0
        } else {
            self.start_s.max(0.0)
        };
        if start > end_s {
            return None;
        }
        let end = if self.end_s.is_finite() && self.end_s >= start {
            self.end_s.min(end_s)
        } else {
            end_s
        };
        Some((start, end.max(start)))
    }
}

/// A plot could not be drawn.
#[derive(Debug, Error)]
pub enum PlotError {
    /// The drawing library reported an error.
    #[error("could not draw the {plot} plot: {message}")]
    Draw {
        /// Which plot: "latency" or "throughput".
        plot: &'static str,
        /// The drawing library's error, in words.
        message: String,
    },
}

impl PlotError {
    /// Wraps a drawing error for `plot`.
    fn draw(plot: &'static str, err: impl std::fmt::Display) -> PlotError {
        PlotError::Draw {
            plot,
            message: err.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fault(start_s: f64, end_s: f64) -> FaultSpan {
        FaultSpan {
            name: "f".into(),
            start_s,
            end_s,
        }
    }

    #[test]
    fn faults_clip_to_the_test() {
        let cases = [
            (fault(1.0, 2.0), Some((1.0, 2.0))),
            (fault(-1.0, 2.0), Some((0.0, 2.0))),
            (fault(5.0, 20.0), Some((5.0, 10.0))),
            (fault(5.0, f64::INFINITY), Some((5.0, 10.0))),
            (fault(5.0, f64::NAN), Some((5.0, 10.0))),
            (fault(5.0, 3.0), Some((5.0, 10.0))),
            (fault(f64::NAN, 3.0), Some((0.0, 3.0))),
            (fault(11.0, 12.0), None),
        ];
        for (f, want) in cases {
            assert_eq!(f.clip(10.0), want, "{f:?}");
        }
    }

    #[test]
    fn end_time_needs_a_finite_latency() {
        let mut s = OpSample {
            process: 0,
            f: "read".into(),
            start_s: 1.0,
            latency_ms: 500.0,
            outcome: SampleOutcome::Ok,
            summary: String::new(),
        };
        assert_eq!(s.end_s(), Some(1.5));
        s.latency_ms = f64::INFINITY;
        assert_eq!(s.end_s(), None);
    }
}

#[cfg(test)]
mod svg_tests {
    //! The public plotting functions, end to end.

    use super::*;

    /// The fill plotters writes for a fault band.
    const FAULT_FILL: &str = "fill=\"#E8A300\"";

    fn samples(n: usize, duration_s: f64) -> Vec<OpSample> {
        (0..n)
            .map(|i| {
                let outcome = match i % 97 {
                    0 => SampleOutcome::Fail,
                    1 => SampleOutcome::Info,
                    _ => SampleOutcome::Ok,
                };
                let f = ["read", "write", "cas"][i % 3];
                OpSample {
                    process: (i % 10) as u64,
                    f: f.into(),
                    start_s: duration_s * i as f64 / n as f64,
                    latency_ms: if outcome == SampleOutcome::Info {
                        1_000.0
                    } else {
                        1.0 + (i % 250) as f64
                    },
                    outcome,
                    summary: format!("{f} k{} {i}", i % 7),
                }
            })
            .collect()
    }

    fn faults() -> Vec<FaultSpan> {
        vec![
            FaultSpan {
                name: "partition n1 | n2 n3".into(),
                start_s: 10.0,
                end_s: 20.0,
            },
            FaultSpan {
                name: "kill n2".into(),
                start_s: 25.0,
                end_s: f64::INFINITY,
            },
            // Healed "before" it began: never healed, runs to the end.
            FaultSpan {
                name: "clock skew <&>".into(),
                start_s: 40.0,
                end_s: 1.0,
            },
        ]
    }

    /// Whether `svg` has a `<text>` element reading exactly `text`
    /// (plotters puts the text on a line of its own).
    fn has_text(svg: &str, text: &str) -> bool {
        svg.contains(&format!(">\n{text}\n</text>"))
    }

    /// A light structural check: one root element, tags balanced.
    fn assert_svg_document(svg: &str) {
        assert!(
            svg.starts_with("<svg "),
            "starts with {:?}",
            &svg[..svg.len().min(40)]
        );
        assert!(svg.contains("xmlns=\"http://www.w3.org/2000/svg\""));
        assert!(svg.trim_end().ends_with("</svg>"));
        assert_eq!(svg.matches("<svg").count(), 1);
        let opened = svg.matches("<text").count();
        assert_eq!(
            opened,
            svg.matches("</text>").count(),
            "text elements balanced"
        );
        assert!(
            !svg.contains("NaN") && !svg.contains("\"inf") && !svg.contains("-inf"),
            "no non-finite coordinates"
        );
    }

    #[test]
    fn latency_plot_has_axes_faults_and_points() {
        let svg = latency_svg(&samples(1_000, 60.0), &faults(), 60.0).expect("plot");
        assert_svg_document(&svg);
        assert_eq!(svg.matches(FAULT_FILL).count(), 3, "one band per fault");
        assert!(has_text(&svg, "time since start (s)"), "x axis label");
        assert!(has_text(&svg, "latency (ms, log scale)"), "y axis label");
        assert!(has_text(&svg, "partition n1 | n2 n3"), "fault label");
        assert!(
            has_text(&svg, "clock skew &lt;&amp;&gt;"),
            "escaped fault label"
        );
        assert!(
            has_text(&svg, "read ok") && has_text(&svg, "write fail"),
            "legend"
        );
        assert!(svg.contains("<circle"), "points");
        assert!(has_text(&svg, "Latency of 1000 operations"));
    }

    #[test]
    fn throughput_plot_has_axes_faults_and_lines() {
        let svg = throughput_svg(&samples(1_000, 60.0), &faults(), 60.0).expect("plot");
        assert_svg_document(&svg);
        assert_eq!(svg.matches(FAULT_FILL).count(), 3, "one band per fault");
        assert!(has_text(&svg, "time since start (s)"));
        assert!(has_text(&svg, "throughput (ops/s)"));
        assert!(svg.contains("<polyline"), "lines");
        assert!(has_text(&svg, "ok") && has_text(&svg, "info"), "legend");
    }

    #[test]
    fn empty_and_tiny_inputs_still_plot() {
        for (samples, faults, duration) in [
            (vec![], vec![], 0.0),
            (vec![], faults(), 60.0),
            (samples(1, 1.0), vec![], f64::NAN),
        ] {
            for svg in [
                latency_svg(&samples, &faults, duration).expect("latency"),
                throughput_svg(&samples, &faults, duration).expect("throughput"),
            ] {
                assert_svg_document(&svg);
                assert!(has_text(&svg, "time since start (s)"));
                assert_eq!(svg.matches(FAULT_FILL).count(), faults.len());
                if samples.is_empty() {
                    assert!(has_text(&svg, "no operations recorded"));
                }
            }
        }
    }

    #[test]
    fn never_completed_and_odd_values_are_drawn() {
        let mut s = samples(3, 10.0);
        s[0].latency_ms = f64::INFINITY;
        s[1].latency_ms = f64::NAN;
        s[2].latency_ms = 0.0;
        s.push(OpSample {
            start_s: f64::NAN,
            ..s[2].clone()
        });
        let svg = latency_svg(&s, &[], 10.0).expect("latency");
        assert_svg_document(&svg);
        assert!(svg.contains("<circle"));
        let svg = throughput_svg(&s, &[], 10.0).expect("throughput");
        assert_svg_document(&svg);
    }

    #[test]
    fn large_runs_stay_small() {
        let big = samples(200_000, 600.0);
        let latency = latency_svg(&big, &faults(), 600.0).expect("latency");
        let throughput = throughput_svg(&big, &faults(), 600.0).expect("throughput");
        assert_svg_document(&latency);
        assert_svg_document(&throughput);
        assert!(
            latency.len() < 3_000_000,
            "latency SVG is {} bytes",
            latency.len()
        );
        assert!(
            throughput.len() < 500_000,
            "throughput SVG is {} bytes",
            throughput.len()
        );
        assert!(
            latency.contains("plotted"),
            "the caption says it is a subset"
        );
    }
}
