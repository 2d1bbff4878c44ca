//! The bench figures as text: a table for the terminal, the same in
//! markdown, and the change against an earlier run (`--compare`).

use super::figures::{BenchJson, Row, ScenarioRow};
use std::fmt::Write as _;

fn errors_cell(r: &Row) -> String {
    let n: u64 = r.errors.values().sum();
    if n == 0 {
        return "0".into();
    }
    let worst = r
        .errors
        .iter()
        .max_by_key(|(_, n)| **n)
        .map(|(k, _)| k.as_str())
        .unwrap_or("");
    format!("{n} ({worst})")
}

fn cells(r: &Row) -> Vec<String> {
    let l = &r.latency_ms;
    vec![
        r.target.clone(),
        r.mix.clone(),
        r.concurrency.to_string(),
        format!(
            "{:.0} ({:.0}-{:.0})",
            r.throughput_ops_s, r.spread.throughput_ops_s[0], r.spread.throughput_ops_s[1]
        ),
        format!("{:.2}", l.p50),
        format!("{:.2}", l.p90),
        format!("{:.2}", l.p99),
        format!("{:.2}", l.p999),
        format!("{:.1}", l.max),
        errors_cell(r),
        r.cpu_s_per_1k_ops.map_or("-".into(), |c| format!("{c:.3}")),
        format!("{:.0}%", r.loadgen_cpu_pct),
    ]
}

const HEADER: [&str; 12] = [
    "target",
    "mix",
    "c",
    "ops/s (range)",
    "p50 ms",
    "p90 ms",
    "p99 ms",
    "p99.9 ms",
    "max ms",
    "errors",
    "cpu s/1k ops",
    "loadgen cpu",
];

const SCENARIO_HEADER: [&str; 5] = [
    "target",
    "scenario",
    "writes/s before",
    "unavailable ms (range)",
    "back to 90% after ms",
];

fn scenario_cells(s: &ScenarioRow) -> Vec<String> {
    vec![
        s.target.clone(),
        s.scenario.clone(),
        format!("{:.0}", s.before_ops_s),
        format!(
            "{:.0} ({:.0}-{:.0})",
            s.unavailable_ms, s.unavailable_spread_ms[0], s.unavailable_spread_ms[1]
        ),
        s.recovered_ms.map_or("never".into(), |r| format!("{r:.0}")),
    ]
}

/// Columns padded to their widest cell.
fn aligned(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for r in rows {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let padded: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        padded.join("  ").trim_end().to_string()
    };
    let mut out = line(header.to_vec());
    out.push('\n');
    for r in rows {
        out.push_str(&line(r.iter().map(String::as_str).collect()));
        out.push('\n');
    }
    out
}

fn markdown(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut out = format!("| {} |\n", header.join(" | "));
    let _ = writeln!(out, "|{}", "---|".repeat(header.len()));
    for r in rows {
        let _ = writeln!(out, "| {} |", r.join(" | "));
    }
    out
}

/// The results for the terminal.
pub fn terminal(j: &BenchJson) -> String {
    let rows: Vec<Vec<String>> = j.results.iter().map(cells).collect();
    let mut out = aligned(&HEADER, &rows);
    if !j.scenarios.is_empty() {
        out.push('\n');
        let s: Vec<Vec<String>> = j.scenarios.iter().map(scenario_cells).collect();
        out.push_str(&aligned(&SCENARIO_HEADER, &s));
    }
    for sw in &j.rate_sweeps {
        let best = sw
            .best_rate_ops_s
            .map_or("none".into(), |r| format!("{r:.0} ops/s"));
        let _ = writeln!(
            out,
            "\nrate sweep {} {}: highest rate with p99 under {} ms: {best}",
            sw.target, sw.mix, sw.p99_max_ms
        );
    }
    out
}

/// The results as a markdown document.
pub fn markdown_doc(j: &BenchJson, command: &str) -> String {
    let mut out = String::from("# skeptic bench\n\n");
    let _ = writeln!(out, "Command: `{command}`\n");
    let _ = writeln!(out, "Machine: {}\n", j.machine);
    let rows: Vec<Vec<String>> = j.results.iter().map(cells).collect();
    out.push_str(&markdown(&HEADER, &rows));
    if !j.scenarios.is_empty() {
        out.push('\n');
        let s: Vec<Vec<String>> = j.scenarios.iter().map(scenario_cells).collect();
        out.push_str(&markdown(&SCENARIO_HEADER, &s));
    }
    out.push_str(
        "\nEach figure is the median over rounds; ranges are the lowest and highest round. \
         Targets ran interleaved in rounds, each on a fresh cluster.\n",
    );
    out
}

/// Whether two ranges do not overlap: a change beyond the run-to-run
/// spread of either run.
fn beyond(old: [f64; 2], new: [f64; 2]) -> bool {
    new[0] > old[1] || new[1] < old[0]
}

fn change(old: f64, new: f64) -> String {
    if old == 0.0 {
        return "n/a".into();
    }
    format!("{:+.1}%", 100.0 * (new - old) / old)
}

/// Whether two rows measured the same point.
fn same_point(a: &Row, b: &Row) -> bool {
    a.target == b.target && a.mix == b.mix && a.concurrency == b.concurrency
}

/// A compare row for a point only one run has.
fn one_sided(r: &Row, which: &str) -> Vec<String> {
    let mut row = vec![
        r.target.clone(),
        r.mix.clone(),
        r.concurrency.to_string(),
        format!("{which}: {:.0}", r.throughput_ops_s),
    ];
    row.resize(8, String::new());
    row
}

/// Each figure's change from `old` to `new`, marked `*` where the ranges
/// over rounds do not overlap (a change beyond the spread). Points in only
/// one run are listed as such.
pub fn compare(old: &BenchJson, new: &BenchJson) -> String {
    let header = [
        "target",
        "mix",
        "c",
        "ops/s old -> new",
        "change",
        "p50 ms old -> new",
        "p99 ms old -> new",
        "change",
    ];
    let mut rows = Vec::new();
    for n in &new.results {
        let Some(o) = old.results.iter().find(|o| same_point(o, n)) else {
            rows.push(one_sided(n, "new"));
            continue;
        };
        let mark = |b: bool| if b { " *" } else { "" };
        rows.push(vec![
            n.target.clone(),
            n.mix.clone(),
            n.concurrency.to_string(),
            format!("{:.0} -> {:.0}", o.throughput_ops_s, n.throughput_ops_s),
            format!(
                "{}{}",
                change(o.throughput_ops_s, n.throughput_ops_s),
                mark(beyond(o.spread.throughput_ops_s, n.spread.throughput_ops_s))
            ),
            format!("{:.2} -> {:.2}", o.latency_ms.p50, n.latency_ms.p50),
            format!("{:.2} -> {:.2}", o.latency_ms.p99, n.latency_ms.p99),
            format!(
                "{}{}",
                change(o.latency_ms.p99, n.latency_ms.p99),
                mark(beyond(o.spread.p99_ms, n.spread.p99_ms))
            ),
        ]);
    }
    for o in &old.results {
        if !new.results.iter().any(|n| same_point(o, n)) {
            rows.push(one_sided(o, "old only"));
        }
    }
    let mut out = aligned(&header, &rows);
    out.push_str("* beyond the run-to-run spread (the rounds' ranges do not overlap)\n");
    out
}

#[cfg(test)]
mod tests {
    use super::super::figures::{Latency, Spread};
    use super::*;
    use std::collections::BTreeMap;

    fn row(target: &str, tput: f64, range: [f64; 2], p99: f64) -> Row {
        Row {
            target: target.into(),
            mix: "write".into(),
            concurrency: 8,
            throughput_ops_s: tput,
            latency_ms: Latency {
                p50: 1.0,
                p90: 2.0,
                p99,
                p999: 9.0,
                max: 12.0,
            },
            errors: BTreeMap::from([("refused: no leader".to_string(), 3)]),
            rounds: 3,
            spread: Spread {
                throughput_ops_s: range,
                p99_ms: [p99 - 0.5, p99 + 0.5],
            },
            cpu_s_per_1k_ops: Some(0.25),
            loadgen_cpu_pct: 12.0,
        }
    }

    fn doc(rows: Vec<Row>) -> BenchJson {
        BenchJson {
            results: rows,
            scenarios: vec![],
            rate_sweeps: vec![],
            machine: serde_json::json!({"cpus": 2}),
            config: serde_json::Value::Null,
        }
    }

    #[test]
    fn tables_show_every_figure() {
        let j = doc(vec![row("multi/log", 1500.0, [1400.0, 1600.0], 4.0)]);
        let t = terminal(&j);
        for want in [
            "multi/log",
            "1500 (1400-1600)",
            "4.00",
            "3 (refused: no leader)",
            "0.250",
            "12%",
        ] {
            assert!(t.contains(want), "{want} in\n{t}");
        }
        let md = markdown_doc(&j, "skeptic bench");
        assert!(md.contains("| multi/log | write | 8 |"), "{md}");
    }

    #[test]
    fn compare_marks_only_changes_beyond_the_spread() {
        let old = doc(vec![
            row("multi/log", 1500.0, [1400.0, 1600.0], 4.0),
            row("etcd", 1000.0, [900.0, 1100.0], 9.0),
        ]);
        let new = doc(vec![
            // Within the spread: no mark.
            row("multi/log", 1550.0, [1450.0, 1650.0], 4.0),
            // Far beyond it: marked.
            row("etcd", 2000.0, [1900.0, 2100.0], 9.0),
        ]);
        let c = compare(&old, &new);
        let line = |t: &str| {
            c.lines()
                .find(|l| l.starts_with(t))
                .expect("a line")
                .to_string()
        };
        assert!(!line("multi/log").contains('*'), "{c}");
        assert!(line("etcd").contains("+100.0% *"), "{c}");
    }
}
