//! The latency plot: every operation's latency against its start time.

use std::collections::{HashMap, HashSet};

use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;

use super::faults::{draw_bands, draw_note};
use super::prepare::{self, Selection};
use super::style::{self, outcome_colour, FONT, GRID, SIZE};
use super::{FaultSpan, OpSample, PlotError, SampleOutcome};

/// The most points drawn before de-duplication. At about 100 bytes per
/// SVG marker this keeps the document near 2 MB even for huge runs.
const POINTS_MAX: usize = 20_000;

/// Functions that get a marker shape of their own; the rest share "other".
const MARKED_FS_MAX: usize = 4;

/// The smallest latency the axis shows, in ms (1 µs): anything quicker is
/// drawn on the axis rather than stretching it over empty decades.
const LATENCY_FLOOR_MS: f64 = 0.001;

/// Latency of every operation over time, as an SVG document.
///
/// The y axis is logarithmic (ms) so that both a 1 ms read and a 10 s
/// timeout are legible. Colour gives the outcome (ok green, fail red, info
/// blue) and marker shape the function (`read`, `write`, ...). An operation
/// that never completed is drawn at the top of the axis. Faults are shaded
/// behind. With more than 20 000 operations a subset is drawn (every
/// failed or indeterminate one, when they fit, and a uniform stride of the
/// ok ones) and the caption says so.
pub fn latency_svg(
    samples: &[OpSample],
    faults: &[FaultSpan],
    duration_s: f64,
) -> Result<String, PlotError> {
    let mut svg = String::new();
    draw(&mut svg, samples, faults, duration_s).map_err(|e| PlotError::draw("latency", e))?;
    Ok(svg)
}

/// Draws the plot into `svg`.
fn draw(
    svg: &mut String,
    samples: &[OpSample],
    faults: &[FaultSpan],
    duration_s: f64,
) -> Result<(), Box<dyn std::error::Error>> {
    let end_s = prepare::time_end(samples, faults, duration_s, |s| Some(s.start_s));
    let bands = prepare::fault_bands(faults, end_s);
    let selection = prepare::downsample(samples, POINTS_MAX);
    let (y_lo, y_hi) = latency_range(samples);
    let groups = FunctionGroups::new(samples);

    let root = SVGBackend::with_string(svg, SIZE).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(caption(&selection), (FONT, 20))
        .margin(12)
        .x_label_area_size(44)
        .y_label_area_size(64)
        .build_cartesian_2d(0f64..end_s, (y_lo..y_hi).log_scale())?;
    chart
        .configure_mesh()
        .x_desc("time since start (s)")
        .y_desc("latency (ms, log scale)")
        .x_label_formatter(&style::format_seconds)
        .y_label_formatter(&|v| style::trim_number(*v, 3))
        .label_style((FONT, 14))
        .axis_desc_style((FONT, 16))
        .light_line_style(WHITE)
        .bold_line_style(GRID)
        .draw()?;
    draw_bands(&mut chart, &bands, y_lo, y_hi)?;

    if samples.is_empty() {
        draw_note(
            &chart.plotting_area().strip_coord_spec(),
            "no operations recorded",
        )?;
        root.present()?;
        return Ok(());
    }

    // Points that land on the same pixel in the same series add nothing
    // but bytes, so only the first is kept.
    let mut series: HashMap<(SampleOutcome, usize), Vec<(f64, f64)>> = HashMap::new();
    let mut seen: HashSet<(SampleOutcome, usize, (i32, i32))> = HashSet::new();
    for &i in &selection.indices {
        let s = &samples[i];
        if !s.start_s.is_finite() {
            // No place on the time axis; the timeline notes such samples.
            continue;
        }
        let y = if s.latency_ms.is_finite() {
            s.latency_ms.clamp(y_lo, y_hi)
        } else {
            y_hi
        };
        let point = (s.start_s.clamp(0.0, end_s), y);
        let group = groups.index(&s.f);
        if seen.insert((s.outcome, group, chart.backend_coord(&point))) {
            series.entry((s.outcome, group)).or_default().push(point);
        }
    }

    // Ok first, so the rarer failures are drawn on top of it.
    for outcome in SampleOutcome::ALL {
        for (group, name) in groups.names.iter().enumerate() {
            if let Some(points) = series.get(&(outcome, group)) {
                let label = format!("{name} {}", outcome.word());
                draw_markers(&mut chart, points, group, outcome, label)?;
            }
        }
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .background_style(WHITE.mix(0.85))
        .border_style(GRID)
        .label_font((FONT, 14))
        .draw()?;
    root.present()?;
    Ok(())
}

/// The latency axis: whole decades around every finite latency.
fn latency_range(samples: &[OpSample]) -> (f64, f64) {
    let finite = samples
        .iter()
        .map(|s| s.latency_ms)
        .filter(|l| l.is_finite() && *l > 0.0);
    let (lo, hi) = finite.fold((f64::INFINITY, 0.0_f64), |(lo, hi), l| {
        (lo.min(l), hi.max(l))
    });
    if hi <= 0.0 {
        return (1.0, 1_000.0);
    }
    let lo = 10f64.powf(lo.max(LATENCY_FLOOR_MS).log10().floor());
    let hi = 10f64.powf(hi.max(LATENCY_FLOOR_MS).log10().ceil());
    if hi > lo {
        (lo, hi)
    } else {
        (lo, lo * 10.0)
    }
}

/// The caption, saying how much of the run is drawn.
fn caption(sel: &Selection) -> String {
    match sel.total {
        0 => "Latency: no operations recorded".to_owned(),
        _ if !sel.is_partial() => format!("Latency of {} operations", sel.total),
        _ => format!(
            "Latency of {} operations ({} plotted: {} of {} failed or indeterminate, {} of {} ok)",
            sel.total,
            sel.indices.len(),
            sel.non_ok.1,
            sel.non_ok.0,
            sel.ok.1,
            sel.ok.0
        ),
    }
}

/// The functions that get their own marker: the most frequent ones, then
/// "other" for the rest.
struct FunctionGroups {
    /// Legend names, in marker order.
    names: Vec<String>,
}

impl FunctionGroups {
    fn new(samples: &[OpSample]) -> FunctionGroups {
        let mut counts: HashMap<&str, usize> = HashMap::new();
        for s in samples {
            *counts.entry(&s.f).or_default() += 1;
        }
        let mut by_count: Vec<(&str, usize)> = counts.into_iter().collect();
        // Most frequent first; ties by name so the output is deterministic.
        by_count.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        let mut names: Vec<String> = by_count
            .iter()
            .take(MARKED_FS_MAX)
            .map(|(f, _)| (*f).to_owned())
            .collect();
        if by_count.len() > MARKED_FS_MAX {
            names.push("other".to_owned());
        }
        FunctionGroups { names }
    }

    /// The group of function `f`.
    fn index(&self, f: &str) -> usize {
        let marked = self.names.len().min(MARKED_FS_MAX);
        self.names[..marked]
            .iter()
            .position(|n| n == f)
            .unwrap_or(marked)
    }
}

/// Draws one series with the marker shape of `group` and adds it to the
/// legend.
fn draw_markers<DB: DrawingBackend, Y: Ranged<ValueType = f64>>(
    chart: &mut ChartContext<'_, DB, Cartesian2d<RangedCoordf64, Y>>,
    points: &[(f64, f64)],
    group: usize,
    outcome: SampleOutcome,
    label: String,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    let colour = outcome_colour(outcome);
    // Ok points are many: a little transparency shows where they pile up.
    let opacity = if outcome == SampleOutcome::Ok {
        0.55
    } else {
        0.9
    };
    let fill = colour.mix(opacity).filled();
    let line = colour.mix(opacity).stroke_width(1);
    match group % MARKED_FS_MAX {
        0 => chart
            .draw_series(points.iter().map(|&p| Circle::new(p, 2, fill)))?
            .label(label)
            .legend(move |(x, y)| Circle::new((x + 8, y), 3, fill)),
        1 => chart
            .draw_series(points.iter().map(|&p| TriangleMarker::new(p, 3, fill)))?
            .label(label)
            .legend(move |(x, y)| TriangleMarker::new((x + 8, y), 4, fill)),
        2 => chart
            .draw_series(points.iter().map(|&p| Cross::new(p, 2, line)))?
            .label(label)
            .legend(move |(x, y)| Cross::new((x + 8, y), 3, line)),
        _ => chart
            .draw_series(points.iter().map(|&p| Circle::new(p, 2, line)))?
            .label(label)
            .legend(move |(x, y)| Circle::new((x + 8, y), 3, line)),
    };
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(latency_ms: f64) -> OpSample {
        OpSample {
            process: 0,
            f: "read".into(),
            start_s: 0.0,
            latency_ms,
            outcome: SampleOutcome::Ok,
            summary: String::new(),
        }
    }

    #[test]
    fn latency_range_spans_whole_decades() {
        let cases: [(&[f64], (f64, f64)); 5] = [
            (&[], (1.0, 1_000.0)),
            (&[3.0, 250.0], (1.0, 1_000.0)),
            (&[10.0], (10.0, 100.0)),
            (&[0.0, f64::INFINITY, 0.02], (0.01, 0.1)),
            (&[1e-9, 5.0], (0.001, 10.0)),
        ];
        for (latencies, want) in cases {
            let samples: Vec<OpSample> = latencies.iter().map(|&l| sample(l)).collect();
            let (lo, hi) = latency_range(&samples);
            assert!(
                (lo / want.0 - 1.0).abs() < 1e-9 && (hi / want.1 - 1.0).abs() < 1e-9,
                "{latencies:?}: got {lo}..{hi}, want {want:?}"
            );
        }
    }

    #[test]
    fn rare_functions_share_a_group() {
        let fs = ["read", "read", "read", "write", "write", "cas", "a", "b"];
        let samples: Vec<OpSample> = fs
            .iter()
            .map(|f| OpSample {
                f: (*f).into(),
                ..sample(1.0)
            })
            .collect();
        let groups = FunctionGroups::new(&samples);
        assert_eq!(groups.names, ["read", "write", "a", "b", "other"]);
        assert_eq!(groups.index("read"), 0);
        assert_eq!(groups.index("cas"), 4);
    }
}
