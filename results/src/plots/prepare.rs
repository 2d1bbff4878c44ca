//! Turning raw samples and faults into what a plot draws: the time range,
//! the fault bands, and (for large runs) a subset of the points.

use super::{FaultSpan, OpSample, SampleOutcome};

/// The narrowest a fault band is drawn, as a share of the time axis, so a
/// momentary fault (a kill, a clock jump) is still visible.
const MIN_FAULT_WIDTH_SHARE: f64 = 0.002;

/// The right end of the time axis: the test's duration, stretched to cover
/// any sample time (from `time`) that falls after it, and 1 s when there is
/// nothing to go on.
pub(super) fn time_end(
    samples: &[OpSample],
    faults: &[FaultSpan],
    duration_s: f64,
    time: impl Fn(&OpSample) -> Option<f64>,
) -> f64 {
    let mut end = if duration_s.is_finite() && duration_s > 0.0 {
        duration_s
    } else {
        // Without a duration, finite fault bounds are the best guess.
        faults
            .iter()
            .flat_map(|f| [f.start_s, f.end_s])
            .filter(|t| t.is_finite())
            .fold(0.0, f64::max)
    };
    for t in samples.iter().filter_map(time) {
        if t.is_finite() && t > end {
            end = t;
        }
    }
    if end > 0.0 {
        end
    } else {
        1.0
    }
}

/// A fault band ready to draw: its name and its clipped, widened bounds.
pub(super) struct Band<'a> {
    /// The fault's name, for its label.
    pub name: &'a str,
    /// Where the band starts, seconds.
    pub start_s: f64,
    /// Where the band ends, seconds.
    pub end_s: f64,
}

/// The faults clipped to `[0, end_s]`, each at least a sliver wide.
pub(super) fn fault_bands(faults: &[FaultSpan], end_s: f64) -> Vec<Band<'_>> {
    let min_width = end_s * MIN_FAULT_WIDTH_SHARE;
    faults
        .iter()
        .filter_map(|f| {
            let (start, end) = f.clip(end_s)?;
            let end = end.max(start + min_width).min(end_s);
            let start = start.min(end - min_width).max(0.0);
            Some(Band {
                name: &f.name,
                start_s: start,
                end_s: end,
            })
        })
        .collect()
}

/// Which samples a scatter plot draws, and how that came about.
pub(super) struct Selection {
    /// Indices into the samples, in their original order.
    pub indices: Vec<usize>,
    /// How many samples there were.
    pub total: usize,
    /// How many non-ok samples there were, and how many were kept.
    pub non_ok: (usize, usize),
    /// How many ok samples there were, and how many were kept.
    pub ok: (usize, usize),
}

impl Selection {
    /// Whether some samples were left out.
    pub fn is_partial(&self) -> bool {
        self.indices.len() < self.total
    }
}

/// At most `budget` samples for a scatter plot.
///
/// Failed and indeterminate operations are the interesting ones, so they
/// are all kept when they fit in three quarters of the budget; ok
/// operations fill the rest at a uniform stride, which keeps the shape of
/// the latency distribution over time.
pub(super) fn downsample(samples: &[OpSample], budget: usize) -> Selection {
    let (ok, non_ok): (Vec<usize>, Vec<usize>) =
        (0..samples.len()).partition(|&i| samples[i].outcome == SampleOutcome::Ok);
    let non_ok_budget = if ok.is_empty() {
        budget
    } else {
        budget - budget / 4
    };
    let non_ok_kept = stride(&non_ok, non_ok_budget);
    let ok_kept = stride(&ok, budget - non_ok_kept.len());
    let mut indices: Vec<usize> = non_ok_kept.iter().chain(&ok_kept).copied().collect();
    indices.sort_unstable();
    Selection {
        indices,
        total: samples.len(),
        non_ok: (non_ok.len(), non_ok_kept.len()),
        ok: (ok.len(), ok_kept.len()),
    }
}

/// At most `k` of `items`, evenly spaced, first one included.
fn stride(items: &[usize], k: usize) -> Vec<usize> {
    let n = items.len();
    if n <= k {
        return items.to_vec();
    }
    // `i * n / k` for i < k is strictly increasing and below n.
    (0..k).map(|i| items[i * n / k]).collect()
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
    fn time_end_covers_duration_and_samples() {
        let s = [sample(12.0, 1.0, SampleOutcome::Ok)];
        let start = |s: &OpSample| Some(s.start_s);
        assert_eq!(time_end(&[], &[], 10.0, start), 10.0);
        assert_eq!(time_end(&s, &[], 10.0, start), 12.0);
        assert_eq!(time_end(&[], &[], 0.0, start), 1.0);
        assert_eq!(time_end(&[], &[], f64::NAN, start), 1.0);
        let f = [FaultSpan {
            name: "p".into(),
            start_s: 2.0,
            end_s: 4.0,
        }];
        assert_eq!(time_end(&[], &f, f64::NAN, start), 4.0);
    }

    #[test]
    fn downsample_keeps_every_non_ok_within_budget() {
        let samples: Vec<OpSample> = (0..1_000)
            .map(|i| {
                let outcome = if i % 100 == 7 {
                    SampleOutcome::Fail
                } else {
                    SampleOutcome::Ok
                };
                sample(i as f64, 1.0, outcome)
            })
            .collect();
        let sel = downsample(&samples, 100);
        assert_eq!(sel.indices.len(), 100);
        assert_eq!(sel.non_ok, (10, 10));
        assert_eq!(sel.ok, (990, 90));
        assert!(sel.is_partial());
        assert!(
            sel.indices.windows(2).all(|w| w[0] < w[1]),
            "sorted, distinct"
        );
        for i in (0..1_000).filter(|i| i % 100 == 7) {
            assert!(sel.indices.contains(&i), "fail {i} kept");
        }

        let all = downsample(&samples, 5_000);
        assert!(!all.is_partial());
        assert_eq!(all.indices, (0..1_000).collect::<Vec<_>>());
    }

    #[test]
    fn downsample_caps_non_ok_too() {
        let samples: Vec<OpSample> = (0..1_000)
            .map(|i| sample(i as f64, 1.0, SampleOutcome::Info))
            .chain((0..10).map(|i| sample(i as f64, 1.0, SampleOutcome::Ok)))
            .collect();
        let sel = downsample(&samples, 100);
        assert_eq!(sel.indices.len(), 85);
        assert_eq!(sel.non_ok, (1_000, 75));
        assert_eq!(sel.ok, (10, 10));
    }

    #[test]
    fn bands_are_clipped_and_visible() {
        let faults = [
            FaultSpan {
                name: "kill".into(),
                start_s: 5.0,
                end_s: 5.0,
            },
            FaultSpan {
                name: "late".into(),
                start_s: 20.0,
                end_s: 30.0,
            },
            FaultSpan {
                name: "open".into(),
                start_s: 9.999,
                end_s: f64::INFINITY,
            },
        ];
        let bands = fault_bands(&faults, 10.0);
        assert_eq!(bands.len(), 2);
        assert!(bands[0].end_s - bands[0].start_s >= 0.02 - 1e-9);
        assert!(bands[1].end_s <= 10.0 && bands[1].end_s - bands[1].start_s >= 0.02 - 1e-9);
    }
}
