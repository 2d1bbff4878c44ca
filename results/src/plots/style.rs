//! Sizes, colours and fonts shared by the plots.

use plotters::style::RGBColor;

use super::SampleOutcome;

/// Width and height of every plot, in pixels.
pub(super) const SIZE: (u32, u32) = (960, 420);

/// The font family; the viewer picks the actual font.
pub(super) const FONT: &str = "sans-serif";

/// The colour of fault bands (amber, so it reads as neither ok nor fail).
pub(super) const FAULT: RGBColor = RGBColor(0xE8, 0xA3, 0x00);

/// How opaque fault bands are: enough to see, light enough to see through.
pub(super) const FAULT_OPACITY: f64 = 0.2;

/// The colour of fault labels: a darker amber that reads on the band.
pub(super) const FAULT_TEXT: RGBColor = RGBColor(0x8A, 0x5A, 0x00);

/// Grid lines.
pub(super) const GRID: RGBColor = RGBColor(0xE4, 0xE4, 0xE4);

/// The colour of an outcome, shared with the HTML report through
/// [`SampleOutcome::colour_hex`].
pub(super) fn outcome_colour(outcome: SampleOutcome) -> RGBColor {
    match outcome {
        SampleOutcome::Ok => RGBColor(0x2C, 0xA0, 0x2C),
        SampleOutcome::Fail => RGBColor(0xD6, 0x27, 0x28),
        SampleOutcome::Info => RGBColor(0x4A, 0x6F, 0xA5),
    }
}

/// [`outcome_colour`] as `#rrggbb`.
pub(super) fn outcome_hex(outcome: SampleOutcome) -> &'static str {
    match outcome {
        SampleOutcome::Ok => "#2CA02C",
        SampleOutcome::Fail => "#D62728",
        SampleOutcome::Info => "#4A6FA5",
    }
}

/// Seconds on the time axis: whole numbers when the axis is long enough.
pub(super) fn format_seconds(v: &f64) -> String {
    trim_number(*v, 2)
}

/// `v` with at most `decimals` decimals and no trailing zeros.
pub(super) fn trim_number(v: f64, decimals: usize) -> String {
    crate::numbers::trim(v, decimals)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_matches_colour() {
        for outcome in SampleOutcome::ALL {
            let RGBColor(r, g, b) = outcome_colour(outcome);
            assert_eq!(outcome_hex(outcome), format!("#{r:02X}{g:02X}{b:02X}"));
        }
    }
}
