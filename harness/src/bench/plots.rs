//! The bench's plots: a latency CDF per point (a line per target),
//! throughput against concurrency (a line per target, per mix), and
//! throughput over time in the leader-kill scenario.

use super::figures::{Point, ScenarioRun};
use super::load::Mix;
use results::plots::{lines_svg, Axes, PlotError, Series};

/// `(file name, SVG)` for every plot the figures allow.
pub fn all(
    points: &[Point],
    scenarios: &[ScenarioRun],
) -> Result<Vec<(String, String)>, PlotError> {
    let mut out = Vec::new();
    let targets = names(points.iter().map(|p| p.target.as_str()));
    let mut mixes: Vec<Mix> = points.iter().map(|p| p.mix).collect();
    mixes.sort();
    mixes.dedup();
    let mut concurrencies: Vec<usize> = points.iter().map(|p| p.concurrency).collect();
    concurrencies.sort_unstable();
    concurrencies.dedup();
    for &mix in &mixes {
        for &c in &concurrencies {
            let series = targets
                .iter()
                .map(|t| Series {
                    name: t.clone(),
                    points: cdf(points
                        .iter()
                        .filter(|p| p.target == *t && p.mix == mix && p.concurrency == c)),
                })
                .collect::<Vec<_>>();
            let axes = Axes {
                caption: format!("Latency CDF, {} at concurrency {c}", mix.name()),
                x_desc: "latency (ms)".into(),
                y_desc: "fraction of calls at or below".into(),
                log_x: true,
                marker: None,
            };
            out.push((
                format!("latency-cdf-{}-c{c}.svg", mix.name()),
                lines_svg(&axes, &series)?,
            ));
        }
        let series = targets
            .iter()
            .map(|t| Series {
                name: t.clone(),
                points: concurrencies
                    .iter()
                    .filter_map(|c| {
                        let tput: Vec<f64> = points
                            .iter()
                            .filter(|p| p.target == *t && p.mix == mix && p.concurrency == *c)
                            .map(Point::throughput)
                            .collect();
                        (!tput.is_empty()).then(|| (*c as f64, super::figures::median(tput)))
                    })
                    .collect(),
            })
            .collect::<Vec<_>>();
        let axes = Axes {
            caption: format!("Throughput against concurrency, {}", mix.name()),
            x_desc: "concurrent clients".into(),
            y_desc: "ops/s (median over rounds)".into(),
            log_x: true,
            marker: None,
        };
        out.push((
            format!("throughput-{}.svg", mix.name()),
            lines_svg(&axes, &series)?,
        ));
    }
    if let Some(first) = scenarios.first() {
        // The first round of each target: rounds differ only by noise.
        let series = names(scenarios.iter().map(|s| s.target.as_str()))
            .into_iter()
            .filter_map(|t| scenarios.iter().find(|s| s.target == t))
            .map(|s| Series {
                name: s.target.clone(),
                points: s.rate_over_time(),
            })
            .collect::<Vec<_>>();
        let axes = Axes {
            caption: "Writes per second, leader killed under load (first round)".into(),
            x_desc: "time (s)".into(),
            y_desc: "successful writes/s (100 ms buckets)".into(),
            log_x: false,
            marker: Some((first.kill_at_ms / 1000.0, "leader killed".into())),
        };
        out.push(("leader-kill.svg".into(), lines_svg(&axes, &series)?));
    }
    Ok(out)
}

fn names<'a>(it: impl Iterator<Item = &'a str>) -> Vec<String> {
    let mut v: Vec<String> = Vec::new();
    for n in it {
        if !v.iter().any(|x| x == n) {
            v.push(n.to_string());
        }
    }
    v
}

/// The points' latencies merged over rounds, as `(ms, fraction at or below)`.
fn cdf<'a>(points: impl Iterator<Item = &'a Point>) -> Vec<(f64, f64)> {
    let mut merged: Option<hdrhistogram::Histogram<u64>> = None;
    for p in points {
        match merged.as_mut() {
            None => merged = Some(p.measured.latency_us.clone()),
            Some(m) => {
                let _ = m.add(&p.measured.latency_us);
            }
        }
    }
    let Some(h) = merged.filter(|h| !h.is_empty()) else {
        return Vec::new();
    };
    let total = h.len() as f64;
    let mut seen = 0u64;
    h.iter_log(1, 1.1)
        .filter_map(|v| {
            seen += v.count_since_last_iteration();
            (v.count_since_last_iteration() > 0)
                .then(|| (v.value_iterated_to() as f64 / 1000.0, seen as f64 / total))
        })
        .collect()
}
