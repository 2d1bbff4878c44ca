//! Line charts of named series: what `skeptic bench` draws (a latency CDF
//! per target, throughput against concurrency, throughput over time in a
//! fault scenario). One chart type serves all three: only the axes differ.

use plotters::prelude::*;

use super::style::{self, FONT, GRID, SIZE};
use super::PlotError;

/// One line: a name for the legend and its points, in x order.
#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    /// The legend's name (a target: `multi/log`, `etcd`).
    pub name: String,
    /// The points.
    pub points: Vec<(f64, f64)>,
}

/// What the axes show.
#[derive(Clone, Debug, PartialEq)]
pub struct Axes {
    /// The caption above the chart.
    pub caption: String,
    /// The x axis' description.
    pub x_desc: String,
    /// The y axis' description.
    pub y_desc: String,
    /// A logarithmic x axis (latencies spanning decades, concurrency 1 to 64).
    pub log_x: bool,
    /// A vertical marker (e.g. when the leader was killed), with its label.
    pub marker: Option<(f64, String)>,
}

/// Colours for up to eight series, then they repeat: distinct on white and
/// for the common colour blindnesses (Okabe and Ito's palette).
const PALETTE: [RGBColor; 8] = [
    RGBColor(0x00, 0x72, 0xB2),
    RGBColor(0xD5, 0x5E, 0x00),
    RGBColor(0x00, 0x9E, 0x73),
    RGBColor(0xCC, 0x79, 0xA7),
    RGBColor(0xE6, 0x9F, 0x00),
    RGBColor(0x56, 0xB4, 0xE9),
    RGBColor(0x00, 0x00, 0x00),
    RGBColor(0xF0, 0xE4, 0x42),
];

/// The series as an SVG line chart. Series with no points are listed in
/// the legend only if some other series has points; a chart with no points
/// at all says so.
pub fn lines_svg(axes: &Axes, series: &[Series]) -> Result<String, PlotError> {
    let mut svg = String::new();
    draw(&mut svg, axes, series).map_err(|e| PlotError::draw("lines", e))?;
    Ok(svg)
}

fn draw(
    svg: &mut String,
    axes: &Axes,
    series: &[Series],
) -> Result<(), Box<dyn std::error::Error>> {
    let root = SVGBackend::with_string(svg, SIZE).into_drawing_area();
    root.fill(&WHITE)?;
    // A log axis is drawn as a linear axis over log10(x), labelled with x.
    let to_x = |x: f64| if axes.log_x { x.log10() } else { x };
    let from_x = |v: f64| if axes.log_x { 10f64.powf(v) } else { v };
    let usable = |(x, y): &(f64, f64)| x.is_finite() && y.is_finite() && (!axes.log_x || *x > 0.0);
    let lines: Vec<Vec<(f64, f64)>> = series
        .iter()
        .map(|s| {
            s.points
                .iter()
                .filter(|p| usable(p))
                .map(|(x, y)| (to_x(*x), *y))
                .collect()
        })
        .collect();
    let all = lines.iter().flatten();
    let Some((x_lo, x_hi, y_hi)) = all.fold(None, |b: Option<(f64, f64, f64)>, (x, y)| {
        let (lo, hi, top) = b.unwrap_or((*x, *x, *y));
        Some((lo.min(*x), hi.max(*x), top.max(*y)))
    }) else {
        root.draw(&Text::new(
            "no data",
            (SIZE.0 as i32 / 2 - 30, SIZE.1 as i32 / 2),
            (FONT, 18),
        ))?;
        root.present()?;
        return Ok(());
    };
    // One x value: widen so the chart has an extent.
    let x_hi = if x_hi > x_lo { x_hi } else { x_lo + 1.0 };
    let y_hi = (y_hi * 1.1).max(1e-9);
    let mut chart = ChartBuilder::on(&root)
        .caption(&axes.caption, (FONT, 20))
        .margin(12)
        .x_label_area_size(44)
        .y_label_area_size(64)
        .build_cartesian_2d(x_lo..x_hi, 0f64..y_hi)?;
    chart
        .configure_mesh()
        .x_desc(axes.x_desc.as_str())
        .y_desc(axes.y_desc.as_str())
        .x_label_formatter(&|v| style::trim_number(from_x(*v), 3))
        .y_label_formatter(&|v| style::trim_number(*v, 3))
        .label_style((FONT, 14))
        .axis_desc_style((FONT, 16))
        .light_line_style(WHITE)
        .bold_line_style(GRID)
        .draw()?;
    if let Some((x, label)) = &axes.marker {
        let colour = RGBColor(0x80, 0x80, 0x80);
        let x = to_x(*x);
        chart.draw_series(LineSeries::new(
            vec![(x, 0.0), (x, y_hi)],
            colour.stroke_width(1),
        ))?;
        chart.draw_series(std::iter::once(Text::new(
            label.clone(),
            (x, y_hi * 0.95),
            (FONT, 14).into_font().color(&colour),
        )))?;
    }
    for (i, (s, points)) in series.iter().zip(lines).enumerate() {
        let colour = PALETTE[i % PALETTE.len()];
        chart
            .draw_series(LineSeries::new(points, colour.stroke_width(2)))?
            .label(s.name.clone())
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 18, y)], colour.stroke_width(2))
            });
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::LowerRight)
        .label_font((FONT, 14))
        .background_style(WHITE.mix(0.8))
        .border_style(GRID)
        .draw()?;
    root.present()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn axes(log_x: bool) -> Axes {
        Axes {
            caption: "Latency".into(),
            x_desc: "latency (ms)".into(),
            y_desc: "fraction".into(),
            log_x,
            marker: Some((2.0, "leader killed".into())),
        }
    }

    #[test]
    fn draws_every_series_with_its_name() {
        let series = vec![
            Series {
                name: "multi/log".into(),
                points: vec![(0.2, 0.1), (0.5, 0.5), (3.0, 1.0)],
            },
            Series {
                name: "etcd".into(),
                points: vec![(1.0, 0.1), (2.0, 0.5), (9.0, 1.0)],
            },
        ];
        for log_x in [false, true] {
            let svg = lines_svg(&axes(log_x), &series).expect("draws");
            assert!(svg.starts_with("<svg"), "{}", &svg[..40.min(svg.len())]);
            assert!(svg.contains("multi/log") && svg.contains("etcd"));
            assert!(svg.contains("leader killed"));
            assert!(svg.contains("<polyline"), "a line per series");
        }
    }

    #[test]
    fn says_so_when_there_is_nothing_to_draw() {
        let empty = vec![Series {
            name: "etcd".into(),
            points: vec![],
        }];
        let svg = lines_svg(&axes(true), &empty).expect("draws");
        assert!(svg.contains("no data"));
        // Zero is not on a log axis: it is dropped, not drawn at -inf.
        let zero = vec![Series {
            name: "etcd".into(),
            points: vec![(0.0, 1.0)],
        }];
        assert!(lines_svg(&axes(true), &zero)
            .expect("draws")
            .contains("no data"));
    }
}
