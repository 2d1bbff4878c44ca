//! The figures of a bench run: one [`Point`] per target, mix, concurrency
//! and round; [`Summary`] folds the rounds into medians with their spread;
//! and the JSON the run writes (and `--compare` reads back).

use super::load::{Measured, Mix, BUCKET_MS};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Latency percentiles, in ms.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Latency {
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 99th percentile.
    pub p99: f64,
    /// 99.9th percentile.
    pub p999: f64,
    /// The slowest call.
    pub max: f64,
}

impl Latency {
    fn of(m: &Measured) -> Latency {
        let h = &m.latency_us;
        if h.is_empty() {
            return Latency::default();
        }
        let ms = |q: f64| h.value_at_quantile(q) as f64 / 1000.0;
        Latency {
            p50: ms(0.5),
            p90: ms(0.9),
            p99: ms(0.99),
            p999: ms(0.999),
            max: h.max() as f64 / 1000.0,
        }
    }
}

/// One measured point of one round.
#[derive(Clone, Debug)]
pub struct Point {
    /// The target's name.
    pub target: String,
    /// The mix.
    pub mix: Mix,
    /// Workers.
    pub concurrency: usize,
    /// What was measured.
    pub measured: Measured,
    /// The measured interval, in s.
    pub duration_s: f64,
    /// CPU seconds the target's processes used in it.
    pub target_cpu_s: f64,
    /// CPU seconds the load generator used in it.
    pub loadgen_cpu_s: f64,
}

impl Point {
    /// Successful calls per second.
    pub fn throughput(&self) -> f64 {
        self.measured.ok as f64 / self.duration_s.max(1e-9)
    }
}

/// One row of the results: a point's median over rounds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Row {
    /// The target (`multi/log`, `etcd`).
    pub target: String,
    /// `write`, `read` or `mixed`.
    pub mix: String,
    /// Workers.
    pub concurrency: usize,
    /// Median successful calls per second.
    pub throughput_ops_s: f64,
    /// Median of each percentile over rounds.
    pub latency_ms: Latency,
    /// Failed calls by kind, summed over rounds.
    pub errors: BTreeMap<String, u64>,
    /// Rounds measured.
    pub rounds: usize,
    /// The lowest and highest round, for throughput and p99.
    pub spread: Spread,
    /// CPU seconds of the target's processes per 1,000 successful calls
    /// (median; `null` for a target whose processes are not ours).
    pub cpu_s_per_1k_ops: Option<f64>,
    /// The load generator's CPU, in percent of one core (median).
    pub loadgen_cpu_pct: f64,
}

/// The range of a figure over rounds.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Spread {
    /// `[lowest, highest]` throughput.
    pub throughput_ops_s: [f64; 2],
    /// `[lowest, highest]` p99 latency.
    pub p99_ms: [f64; 2],
}

/// A fault scenario's figures.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ScenarioRow {
    /// The target.
    pub target: String,
    /// `leader-kill`.
    pub scenario: String,
    /// The longest gap with no successful write after the kill (median).
    pub unavailable_ms: f64,
    /// From the kill until throughput was back to 90% of its level before
    /// (median; `null` if it never was within the run).
    pub recovered_ms: Option<f64>,
    /// Throughput before the kill (median).
    pub before_ops_s: f64,
    /// Rounds measured.
    pub rounds: usize,
    /// `[lowest, highest]` unavailability over rounds.
    pub unavailable_spread_ms: [f64; 2],
    /// Failed writes by kind, summed over rounds.
    #[serde(default)]
    pub errors: BTreeMap<String, u64>,
}

/// One round of a fault scenario.
#[derive(Clone, Debug)]
pub struct ScenarioRun {
    /// The target.
    pub target: String,
    /// What was measured (success times kept).
    pub measured: Measured,
    /// When the leader was killed, in ms since measuring began.
    pub kill_at_ms: f64,
    /// The measured interval, in ms.
    pub duration_ms: f64,
}

impl ScenarioRun {
    /// Successful writes per second before the kill.
    pub fn before_ops_s(&self) -> f64 {
        let n = self
            .measured
            .ok_at_ms
            .iter()
            .filter(|t| **t < self.kill_at_ms)
            .count();
        n as f64 / (self.kill_at_ms / 1000.0).max(1e-9)
    }

    /// The longest gap with no success from the kill to the end.
    pub fn unavailable_ms(&self) -> f64 {
        let mut last = self.kill_at_ms;
        let mut gap = 0f64;
        for t in self
            .measured
            .ok_at_ms
            .iter()
            .filter(|t| **t >= self.kill_at_ms)
        {
            gap = gap.max(t - last);
            last = *t;
        }
        gap.max(self.duration_ms - last)
    }

    /// From the kill until a window of [`RECOVERY_WINDOW_MS`] first holds
    /// 90% of the throughput before the kill.
    pub fn recovered_ms(&self) -> Option<f64> {
        let want = 0.9 * self.before_ops_s() * RECOVERY_WINDOW_MS / 1000.0;
        let times = &self.measured.ok_at_ms;
        let mut from = times.partition_point(|t| *t < self.kill_at_ms);
        let mut start = self.kill_at_ms;
        while start + RECOVERY_WINDOW_MS <= self.duration_ms {
            from += times[from..].partition_point(|t| *t < start);
            let n = times[from..].partition_point(|t| *t < start + RECOVERY_WINDOW_MS);
            if n as f64 >= want {
                return Some(start + RECOVERY_WINDOW_MS - self.kill_at_ms);
            }
            start += BUCKET_MS as f64;
        }
        None
    }

    /// Successful writes per second over time: `(s since start, ops/s)`
    /// in 100 ms steps.
    pub fn rate_over_time(&self) -> Vec<(f64, f64)> {
        let per = (100 / BUCKET_MS) as usize;
        self.measured
            .timeline
            .chunks(per)
            .enumerate()
            .map(|(i, c)| (i as f64 * 0.1, c.iter().sum::<u64>() as f64 * 10.0))
            .collect()
    }
}

/// The window recovery is judged over.
pub const RECOVERY_WINDOW_MS: f64 = 500.0;

/// The median of some figures (the mean of the middle two for an even
/// count); 0 for none.
pub fn median(mut v: Vec<f64>) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

fn range(v: &[f64]) -> [f64; 2] {
    let lo = v.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if v.is_empty() {
        [0.0, 0.0]
    } else {
        [lo, hi]
    }
}

/// Folds every round's points into rows, in the order targets, mixes and
/// concurrencies were first seen.
pub fn rows(points: &[Point], own_processes: &dyn Fn(&str) -> bool) -> Vec<Row> {
    let mut order: Vec<(String, Mix, usize)> = Vec::new();
    for p in points {
        let key = (p.target.clone(), p.mix, p.concurrency);
        if !order.contains(&key) {
            order.push(key);
        }
    }
    order
        .into_iter()
        .map(|(target, mix, concurrency)| {
            let rounds: Vec<&Point> = points
                .iter()
                .filter(|p| p.target == target && p.mix == mix && p.concurrency == concurrency)
                .collect();
            let lat: Vec<Latency> = rounds.iter().map(|p| Latency::of(&p.measured)).collect();
            let pick = |f: fn(&Latency) -> f64| median(lat.iter().map(f).collect());
            let tput: Vec<f64> = rounds.iter().map(|p| p.throughput()).collect();
            let p99: Vec<f64> = lat.iter().map(|l| l.p99).collect();
            let mut errors = BTreeMap::new();
            for p in &rounds {
                for (k, n) in &p.measured.errors {
                    *errors.entry(k.clone()).or_default() += n;
                }
            }
            let cpu = own_processes(&target).then(|| {
                median(
                    rounds
                        .iter()
                        .map(|p| p.target_cpu_s / (p.measured.ok.max(1) as f64 / 1000.0))
                        .collect(),
                )
            });
            Row {
                throughput_ops_s: median(tput.clone()),
                latency_ms: Latency {
                    p50: pick(|l| l.p50),
                    p90: pick(|l| l.p90),
                    p99: pick(|l| l.p99),
                    p999: pick(|l| l.p999),
                    max: pick(|l| l.max),
                },
                errors,
                rounds: rounds.len(),
                spread: Spread {
                    throughput_ops_s: range(&tput),
                    p99_ms: range(&p99),
                },
                cpu_s_per_1k_ops: cpu,
                loadgen_cpu_pct: median(
                    rounds
                        .iter()
                        .map(|p| 100.0 * p.loadgen_cpu_s / p.duration_s.max(1e-9))
                        .collect(),
                ),
                target,
                mix: mix.name().into(),
                concurrency,
            }
        })
        .collect()
}

/// Folds the scenario rounds into one row per target.
pub fn scenario_rows(runs: &[ScenarioRun]) -> Vec<ScenarioRow> {
    let mut targets: Vec<&str> = Vec::new();
    for r in runs {
        if !targets.contains(&r.target.as_str()) {
            targets.push(&r.target);
        }
    }
    targets
        .into_iter()
        .map(|t| {
            let mine: Vec<&ScenarioRun> = runs.iter().filter(|r| r.target == t).collect();
            let unavailable: Vec<f64> = mine.iter().map(|r| r.unavailable_ms()).collect();
            let recovered: Vec<Option<f64>> = mine.iter().map(|r| r.recovered_ms()).collect();
            ScenarioRow {
                target: t.to_string(),
                scenario: "leader-kill".into(),
                unavailable_ms: median(unavailable.clone()),
                // A round that never recovered makes the median unknown
                // rather than flattering.
                recovered_ms: recovered
                    .iter()
                    .all(Option::is_some)
                    .then(|| median(recovered.iter().flatten().copied().collect())),
                before_ops_s: median(mine.iter().map(|r| r.before_ops_s()).collect()),
                rounds: mine.len(),
                unavailable_spread_ms: range(&unavailable),
                errors: mine.iter().fold(BTreeMap::new(), |mut all, r| {
                    for (k, n) in &r.measured.errors {
                        *all.entry(k.clone()).or_default() += n;
                    }
                    all
                }),
            }
        })
        .collect()
}

/// The whole JSON document a run writes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BenchJson {
    /// One row per target, mix and concurrency.
    pub results: Vec<Row>,
    /// Fault scenarios.
    #[serde(default)]
    pub scenarios: Vec<ScenarioRow>,
    /// Open-loop rate sweeps.
    #[serde(default)]
    pub rate_sweeps: Vec<SweepRow>,
    /// Where it ran.
    pub machine: serde_json::Value,
    /// How it ran (flags, start time).
    #[serde(default)]
    pub config: serde_json::Value,
}

/// The outcome of an open-loop sweep for one target and mix.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SweepRow {
    /// The target.
    pub target: String,
    /// The mix.
    pub mix: String,
    /// The p99 bound, ms.
    pub p99_max_ms: f64,
    /// The highest rate tried whose p99 stayed under the bound (`null`:
    /// not even the lowest).
    pub best_rate_ops_s: Option<f64>,
    /// Every rate tried: `(offered ops/s, achieved ops/s, p99 ms)`.
    pub tried: Vec<(f64, f64, f64)>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run_with(ok_at_ms: Vec<f64>, kill_at_ms: f64, duration_ms: f64) -> ScenarioRun {
        let buckets = (duration_ms as u64 / BUCKET_MS + 1) as usize;
        let mut timeline = vec![0; buckets];
        for t in &ok_at_ms {
            timeline[*t as usize / BUCKET_MS as usize] += 1;
        }
        ScenarioRun {
            target: "multi/log".into(),
            measured: Measured {
                latency_us: hdrhistogram::Histogram::new(3).expect("histogram"),
                ok: ok_at_ms.len() as u64,
                errors: BTreeMap::new(),
                timeline,
                ok_at_ms,
            },
            kill_at_ms,
            duration_ms,
        }
    }

    #[test]
    fn a_kill_scenario_measures_the_gap_and_the_recovery() {
        // One write a ms for 1 s; the kill at 1000; nothing until 1800,
        // then one a ms again.
        let mut times: Vec<f64> = (0..1000).map(f64::from).collect();
        times.extend((1800..3000).map(f64::from));
        let r = run_with(times, 1000.0, 3000.0);
        assert!((r.before_ops_s() - 1000.0).abs() < 1.0);
        assert!((r.unavailable_ms() - 800.0).abs() < 1e-9);
        let rec = r.recovered_ms().expect("recovered");
        // A 500 ms window full from 1800: it ends at 2300 at the latest,
        // and not before the gap is over.
        assert!((1_250.0..=1_300.0).contains(&rec), "{rec}");
    }

    #[test]
    fn a_store_that_never_comes_back_never_recovers() {
        let r = run_with((0..1000).map(f64::from).collect(), 1000.0, 3000.0);
        assert_eq!(r.recovered_ms(), None);
        assert!((r.unavailable_ms() - 2000.0).abs() < 1e-9);
    }

    #[test]
    fn medians_and_ranges() {
        assert_eq!(median(vec![3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(vec![4.0, 1.0, 2.0, 3.0]), 2.5);
        assert_eq!(median(vec![]), 0.0);
        assert_eq!(range(&[2.0, 5.0, 1.0]), [1.0, 5.0]);
    }
}
