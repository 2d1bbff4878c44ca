//! The throughput plot: completed operations per second, one line per
//! outcome.

use plotters::prelude::*;

use super::faults::{draw_bands, draw_note};
use super::prepare;
use super::style::{self, outcome_colour, FONT, GRID, SIZE};
use super::{FaultSpan, OpSample, PlotError, SampleOutcome};

/// The most buckets on the time axis. One-second buckets are used up to
/// this; a longer run gets wider buckets so the line stays readable and the
/// document small.
const BUCKETS_MAX: usize = 2_000;

/// Throughput over time as an SVG document: operations completed per
/// second, bucketed by completion time (per second, or wider for runs
/// longer than 2 000 s), one line per outcome that occurred, faults shaded
/// behind. Operations that never completed are not counted.
pub fn throughput_svg(
    samples: &[OpSample],
    faults: &[FaultSpan],
    duration_s: f64,
) -> Result<String, PlotError> {
    let mut svg = String::new();
    draw(&mut svg, samples, faults, duration_s).map_err(|e| PlotError::draw("throughput", e))?;
    Ok(svg)
}

/// Draws the plot into `svg`.
fn draw(
    svg: &mut String,
    samples: &[OpSample],
    faults: &[FaultSpan],
    duration_s: f64,
) -> Result<(), Box<dyn std::error::Error>> {
    let end_s = prepare::time_end(samples, faults, duration_s, OpSample::end_s);
    let bands = prepare::fault_bands(faults, end_s);
    let rates = Rates::new(samples, end_s);
    let y_hi = (rates.max() * 1.1).max(1.0);

    let root = SVGBackend::with_string(svg, SIZE).into_drawing_area();
    root.fill(&WHITE)?;
    let caption = if rates.bucket_s > 1.0 {
        format!("Throughput ({} s buckets)", rates.bucket_s)
    } else {
        "Throughput".to_owned()
    };
    let mut chart = ChartBuilder::on(&root)
        .caption(caption, (FONT, 20))
        .margin(12)
        .x_label_area_size(44)
        .y_label_area_size(64)
        .build_cartesian_2d(0f64..end_s, 0f64..y_hi)?;
    chart
        .configure_mesh()
        .x_desc("time since start (s)")
        .y_desc("throughput (ops/s)")
        .x_label_formatter(&style::format_seconds)
        .y_label_formatter(&|v| style::trim_number(*v, 2))
        .label_style((FONT, 14))
        .axis_desc_style((FONT, 16))
        .light_line_style(WHITE)
        .bold_line_style(GRID)
        .draw()?;
    draw_bands(&mut chart, &bands, 0.0, y_hi)?;

    if rates.total() == 0 {
        let note = if samples.is_empty() {
            "no operations recorded"
        } else {
            "no operation completed"
        };
        draw_note(&chart.plotting_area().strip_coord_spec(), note)?;
        root.present()?;
        return Ok(());
    }

    for outcome in SampleOutcome::ALL {
        let Some(line) = rates.line(outcome) else {
            continue;
        };
        let colour = outcome_colour(outcome);
        chart
            .draw_series(LineSeries::new(line, colour.stroke_width(2)))?
            .label(outcome.word())
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 16, y)], colour.stroke_width(2)));
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

/// Completion rates per bucket, per outcome.
struct Rates {
    /// Bucket width in seconds (a whole number, at least 1).
    bucket_s: f64,
    /// Each bucket's middle, seconds.
    middles_s: Vec<f64>,
    /// Operations per second in each bucket, indexed like
    /// [`SampleOutcome::ALL`].
    per_s: [Vec<f64>; 3],
    /// How many operations completed within the axis, per outcome.
    completed: [usize; 3],
}

impl Rates {
    fn new(samples: &[OpSample], end_s: f64) -> Rates {
        // `end_s` is finite and positive (see `prepare::time_end`), so the
        // conversions below are in range; the casts saturate regardless.
        let bucket_s = (end_s / BUCKETS_MAX as f64).ceil().max(1.0);
        let buckets = ((end_s / bucket_s).ceil() as usize).max(1);
        let mut counts = [vec![0u64; buckets], vec![0; buckets], vec![0; buckets]];
        let mut completed = [0; 3];
        for s in samples {
            let Some(t) = s.end_s() else { continue };
            if !(0.0..=end_s).contains(&t) {
                continue;
            }
            let bucket = ((t / bucket_s) as usize).min(buckets - 1);
            counts[outcome_index(s.outcome)][bucket] += 1;
            completed[outcome_index(s.outcome)] += 1;
        }
        // The last bucket is usually cut short by the end of the axis;
        // dividing by its real width keeps the line from dropping there.
        // It counts as at least a quarter bucket, so a sliver holding one
        // late completion does not spike the scale.
        let widths_s: Vec<f64> = (0..buckets)
            .map(|i| {
                let from = i as f64 * bucket_s;
                (end_s.min(from + bucket_s) - from).max(bucket_s / 4.0)
            })
            .collect();
        let middles_s = (0..buckets)
            .map(|i| i as f64 * bucket_s + widths_s[i].min(bucket_s) / 2.0)
            .collect();
        let per_s = counts.map(|c| {
            c.iter()
                .zip(&widths_s)
                .map(|(&n, w)| n as f64 / w)
                .collect()
        });
        Rates {
            bucket_s,
            middles_s,
            per_s,
            completed,
        }
    }

    /// How many operations completed within the axis.
    fn total(&self) -> usize {
        self.completed.iter().sum()
    }

    /// The highest rate of any outcome in any bucket, ops/s.
    fn max(&self) -> f64 {
        self.per_s.iter().flatten().copied().fold(0.0, f64::max)
    }

    /// The line for `outcome` (the rate at each bucket's middle), or `None`
    /// if no operation ended that way.
    fn line(&self, outcome: SampleOutcome) -> Option<Vec<(f64, f64)>> {
        let i = outcome_index(outcome);
        if self.completed[i] == 0 {
            return None;
        }
        Some(
            self.middles_s
                .iter()
                .copied()
                .zip(self.per_s[i].iter().copied())
                .collect(),
        )
    }
}

/// The position of `outcome` in [`SampleOutcome::ALL`].
fn outcome_index(outcome: SampleOutcome) -> usize {
    match outcome {
        SampleOutcome::Ok => 0,
        SampleOutcome::Fail => 1,
        SampleOutcome::Info => 2,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(start_s: f64, latency_ms: f64, outcome: SampleOutcome) -> OpSample {
        OpSample {
            process: 0,
            f: "read".into(),
            start_s,
            latency_ms,
            outcome,
            summary: String::new(),
        }
    }

    #[test]
    fn counts_completions_per_second() {
        let samples = [
            sample(0.1, 100.0, SampleOutcome::Ok),           // ends 0.2 s
            sample(0.5, 100.0, SampleOutcome::Ok),           // ends 0.6 s
            sample(1.2, 10.0, SampleOutcome::Fail),          // ends 1.21 s
            sample(2.0, f64::INFINITY, SampleOutcome::Info), // never
        ];
        let rates = Rates::new(&samples, 3.0);
        assert_eq!(rates.bucket_s, 1.0);
        assert_eq!(rates.per_s[0], [2.0, 0.0, 0.0]);
        assert_eq!(rates.per_s[1], [0.0, 1.0, 0.0]);
        assert_eq!(rates.per_s[2], [0.0, 0.0, 0.0]);
        assert_eq!(rates.total(), 3);
        assert_eq!(rates.max(), 2.0);
        assert!(rates.line(SampleOutcome::Info).is_none());
        assert_eq!(
            rates.line(SampleOutcome::Ok),
            Some(vec![(0.5, 2.0), (1.5, 0.0), (2.5, 0.0)])
        );
    }

    #[test]
    fn a_short_last_bucket_is_scaled_by_its_width() {
        // Two completions in the last half second is 4 ops/s, not 2.
        let samples = [
            sample(2.6, 0.0, SampleOutcome::Ok),
            sample(2.7, 0.0, SampleOutcome::Ok),
        ];
        let rates = Rates::new(&samples, 2.5 + 0.5);
        assert_eq!(rates.per_s[0], [0.0, 0.0, 2.0]);
        let rates = Rates::new(&samples, 2.75);
        assert_eq!(rates.per_s[0], [0.0, 0.0, 2.0 / 0.75]);
        assert_eq!(rates.middles_s[2], 2.375);
        // A sliver counts as a quarter bucket.
        let rates = Rates::new(&[sample(2.001, 0.0, SampleOutcome::Ok)], 2.001);
        assert_eq!(rates.per_s[0], [0.0, 0.0, 4.0]);
    }

    #[test]
    fn long_runs_get_wider_buckets() {
        let samples = [sample(9_000.0, 0.0, SampleOutcome::Ok)];
        let rates = Rates::new(&samples, 10_000.0);
        assert_eq!(rates.bucket_s, 5.0);
        assert_eq!(rates.per_s[0].len(), 2_000);
        assert_eq!(rates.per_s[0][1_800], 0.2);
        assert_eq!(rates.max(), 0.2);
    }
}
