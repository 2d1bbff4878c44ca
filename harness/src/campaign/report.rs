//! A campaign's results: `campaign.json` (what `merge` reads back), a
//! summary for the terminal and in markdown, and JUnit XML with one test
//! case per run.

use super::runner::{Outcome, RunResult};
use serde::{Deserialize, Serialize};
use std::fmt::Write as _;

/// What a campaign (or a shard of one) wrote.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CampaignJson {
    /// The campaign's name.
    pub name: String,
    /// `K/N` when it was a shard; shards merged: `merged`.
    pub shard: String,
    /// Every run's result, in the matrix's order.
    pub runs: Vec<RunResult>,
}

impl CampaignJson {
    /// Counts by outcome.
    pub fn count(&self, o: Outcome) -> usize {
        self.runs.iter().filter(|r| r.outcome == o).count()
    }

    /// Whether the campaign fails (`strict`: unknown verdicts and errors too).
    pub fn fails(&self, strict: bool) -> bool {
        self.runs.iter().any(|r| r.outcome.fails(strict))
    }

    /// Shards' results as one: runs by id (the first of a repeated id).
    pub fn merge(parts: Vec<CampaignJson>) -> Result<CampaignJson, String> {
        let name = parts
            .first()
            .map(|p| p.name.clone())
            .ok_or("nothing to merge")?;
        if let Some(other) = parts.iter().find(|p| p.name != name) {
            return Err(format!(
                "shards of different campaigns: {name:?} and {:?}",
                other.name
            ));
        }
        let mut runs: Vec<RunResult> = Vec::new();
        for p in parts {
            for r in p.runs {
                if !runs.iter().any(|x| x.run.id == r.run.id) {
                    runs.push(r);
                }
            }
        }
        runs.sort_by(|a, b| a.run.id.cmp(&b.run.id));
        Ok(CampaignJson {
            name,
            shard: "merged".into(),
            runs,
        })
    }
}

fn row(r: &RunResult) -> Vec<String> {
    let fig = |v: Option<f64>, f: &dyn Fn(f64) -> String| v.map_or("-".into(), f);
    vec![
        r.outcome.word().to_string(),
        r.run.label.clone(),
        format!("{:?}", r.run.expect).to_lowercase(),
        format!("{:.1}", r.seconds),
        fig(r.ok_per_s, &|v| format!("{v:.0}")),
        fig(r.p99_ms, &|v| format!("{v:.1}")),
        r.message.clone(),
    ]
}

const HEADER: [&str; 7] = [
    "outcome",
    "run",
    "expect",
    "s",
    "ok/s",
    "p99 ms",
    "what happened",
];

fn counts_line(j: &CampaignJson) -> String {
    format!(
        "{} runs: {} passed, {} anomalies, {} not caught, {} unknown, {} crashed, {} errors, {} not run",
        j.runs.len(),
        j.count(Outcome::Pass),
        j.count(Outcome::Anomaly),
        j.count(Outcome::NotCaught),
        j.count(Outcome::Unknown),
        j.count(Outcome::Crashed),
        j.count(Outcome::Error),
        j.count(Outcome::NotRun),
    )
}

/// The runs that failed the campaign, and those listed apart, with the
/// command that reruns each.
fn problems(j: &CampaignJson, out: &mut String) {
    let sections = [
        (
            "Failures (the campaign fails)",
            &[Outcome::Anomaly, Outcome::NotCaught][..],
        ),
        (
            "Listed apart (they fail the campaign only with --strict)",
            &[Outcome::Unknown, Outcome::Crashed, Outcome::Error][..],
        ),
    ];
    for (title, kinds) in sections {
        let rs: Vec<&RunResult> = j
            .runs
            .iter()
            .filter(|r| kinds.contains(&r.outcome))
            .collect();
        if rs.is_empty() {
            continue;
        }
        let _ = writeln!(out, "\n{title}:");
        for r in rs {
            let _ = writeln!(out, "- {} {}: {}", r.outcome.word(), r.run.label, r.message);
            if let Some(rep) = &r.report {
                let _ = writeln!(out, "  report: {rep}");
            }
            let _ = writeln!(out, "  rerun: {}", r.rerun);
        }
    }
}

/// The summary for the terminal.
pub fn terminal(j: &CampaignJson) -> String {
    let rows: Vec<Vec<String>> = j.runs.iter().map(row).collect();
    let mut widths: Vec<usize> = HEADER.iter().map(|h| h.len()).collect();
    for r in &rows {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect::<Vec<_>>()
            .join("  ")
            .trim_end()
            .to_string()
    };
    let mut out = format!("campaign {} ({})\n", j.name, j.shard);
    out.push_str(&line(HEADER.to_vec()));
    out.push('\n');
    for r in &rows {
        out.push_str(&line(r.iter().map(String::as_str).collect()));
        out.push('\n');
    }
    let _ = writeln!(out, "{}", counts_line(j));
    problems(j, &mut out);
    out
}

/// The summary in markdown.
pub fn markdown(j: &CampaignJson) -> String {
    let mut out = format!(
        "# Campaign {} ({})\n\n{}\n\n",
        j.name,
        j.shard,
        counts_line(j)
    );
    let _ = writeln!(out, "| {} |", HEADER.join(" | "));
    let _ = writeln!(out, "|{}", "---|".repeat(HEADER.len()));
    for r in &j.runs {
        let cells: Vec<String> = row(r).into_iter().map(|c| c.replace('|', "\\|")).collect();
        let _ = writeln!(out, "| {} |", cells.join(" | "));
    }
    problems(j, &mut out);
    out
}

/// JUnit XML: one test case per run. A failure's message is what happened
/// in one line and the path of its report; the rerun command follows.
pub fn junit(j: &CampaignJson) -> String {
    let cases: Vec<results::JunitCase> = j
        .runs
        .iter()
        .map(|r| {
            let verdict = match r.outcome {
                Outcome::Pass => "valid",
                Outcome::Anomaly | Outcome::NotCaught => "anomaly",
                Outcome::Unknown => "unknown",
                Outcome::Crashed | Outcome::Error | Outcome::NotRun => "interrupted",
            };
            let mut message = format!("{}: {}", r.outcome.word(), r.message);
            if let Some(rep) = &r.report {
                let _ = write!(message, " ({rep})");
            }
            let _ = write!(message, "\nrerun: {}", r.rerun);
            results::JunitCase {
                name: format!("{}/{}", j.name, r.run.label),
                verdict: verdict.into(),
                message,
                seconds: r.seconds,
            }
        })
        .collect();
    results::junit_xml(&format!("skeptic campaign {}", j.name), &cases)
}

#[cfg(test)]
mod tests {
    use super::super::spec::{Expect, Kind, Run};
    use super::*;

    fn result(id: &str, outcome: Outcome) -> RunResult {
        RunResult {
            run: Run {
                id: id.into(),
                kind: Kind::Test,
                args: vec![],
                expect: Expect::Valid,
                label: format!("test {id}"),
            },
            outcome,
            exit_code: Some(0),
            seconds: 1.5,
            message: "valid".into(),
            rerun: format!("skeptic test --seed {id}"),
            report: Some(format!("/store/{id}/report.html")),
            ok_per_s: Some(400.0),
            p99_ms: Some(12.5),
        }
    }

    fn campaign(shard: &str, runs: Vec<RunResult>) -> CampaignJson {
        CampaignJson {
            name: "nightly".into(),
            shard: shard.into(),
            runs,
        }
    }

    #[test]
    fn summaries_list_failures_with_their_rerun_and_report() {
        let j = campaign(
            "1/1",
            vec![
                result("1", Outcome::Pass),
                result("2", Outcome::Anomaly),
                result("3", Outcome::Unknown),
            ],
        );
        let t = terminal(&j);
        assert!(t.contains("3 runs: 1 passed, 1 anomalies"), "{t}");
        assert!(t.contains("rerun: skeptic test --seed 2"), "{t}");
        assert!(t.contains("report: /store/2/report.html"), "{t}");
        assert!(t.contains("Listed apart"), "{t}");
        assert!(j.fails(false));
        let x = junit(&j);
        assert!(x.contains("tests=\"3\""), "{x}");
        assert!(x.contains("failures=\"1\""), "{x}");
        assert!(markdown(&j).contains("| ANOMALY | test 2 |"));
        let clean = campaign(
            "1/1",
            vec![result("1", Outcome::Pass), result("3", Outcome::Unknown)],
        );
        assert!(!clean.fails(false) && clean.fails(true));
    }

    #[test]
    fn shards_merge_into_one_campaign() {
        let a = campaign(
            "1/2",
            vec![result("001", Outcome::Pass), result("003", Outcome::Pass)],
        );
        let b = campaign("2/2", vec![result("002", Outcome::NotCaught)]);
        let m = CampaignJson::merge(vec![b, a]).expect("merges");
        let ids: Vec<&str> = m.runs.iter().map(|r| r.run.id.as_str()).collect();
        assert_eq!(ids, ["001", "002", "003"]);
        assert_eq!(m.shard, "merged");
        assert!(m.fails(false));
        let other = CampaignJson {
            name: "smoke".into(),
            ..campaign("1/1", vec![])
        };
        assert!(CampaignJson::merge(vec![m, other]).is_err());
    }
}
