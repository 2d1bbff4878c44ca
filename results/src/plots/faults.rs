//! Drawing fault bands behind a plot's data.

use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::prepare::Band;
use super::style::{FAULT, FAULT_OPACITY, FAULT_TEXT, FONT};

/// Labels longer than this many characters are cut, so a long partition
/// description does not run across the whole plot.
const LABEL_CHARS_MAX: usize = 40;

/// Labels of overlapping faults are staggered over this many rows.
const LABEL_ROWS: i32 = 3;

/// Shades each band from `y_lo` to `y_hi` and writes its name at its top
/// left corner.
pub(super) fn draw_bands<DB, Y>(
    chart: &mut ChartContext<'_, DB, Cartesian2d<RangedCoordf64, Y>>,
    bands: &[Band<'_>],
    y_lo: f64,
    y_hi: f64,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>>
where
    DB: DrawingBackend,
    Y: Ranged<ValueType = f64>,
{
    let fill = FAULT.mix(FAULT_OPACITY).filled();
    chart.draw_series(
        bands
            .iter()
            .map(|b| Rectangle::new([(b.start_s, y_lo), (b.end_s, y_hi)], fill)),
    )?;
    let font = (FONT, 14).into_font().color(&FAULT_TEXT);
    chart.draw_series(bands.iter().zip((0..LABEL_ROWS).cycle()).map(|(b, row)| {
        EmptyElement::at((b.start_s, y_hi))
            + Text::new(short_label(b.name), (3, 3 + row * 14), font.clone())
    }))?;
    Ok(())
}

/// Writes `text` centred in `area`, for plots with nothing to show.
pub(super) fn draw_note<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    text: &str,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    let (w, h) = area.dim_in_pixel();
    let style = (FONT, 16)
        .into_font()
        .color(&RGBColor(0x66, 0x66, 0x66))
        .pos(Pos::new(HPos::Center, VPos::Center));
    let x = i32::try_from(w / 2).unwrap_or(0);
    let y = i32::try_from(h / 2).unwrap_or(0);
    area.draw(&Text::new(text.to_owned(), (x, y), style))
}

/// `name`, cut to [`LABEL_CHARS_MAX`] characters with an ellipsis.
fn short_label(name: &str) -> String {
    if name.chars().count() <= LABEL_CHARS_MAX {
        name.to_owned()
    } else {
        let mut cut: String = name.chars().take(LABEL_CHARS_MAX - 1).collect();
        cut.push('…');
        cut
    }
}

#[cfg(test)]
mod tests {
    use super::short_label;

    #[test]
    fn long_labels_are_cut() {
        assert_eq!(short_label("partition"), "partition");
        let long = "x".repeat(100);
        let cut = short_label(&long);
        assert_eq!(cut.chars().count(), 40);
        assert!(cut.ends_with('…'));
    }
}
