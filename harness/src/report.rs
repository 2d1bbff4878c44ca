//! Writes a run's results into its directory: `results.json` (every
//! checker's verdict, the numbers, the faults), the plots, the checker's
//! counterexample page and `report.html`. Returns the summary table.

use crate::config::TestConfig;
use crate::error::RunError;
use crate::nemesis::FaultEvent;
use crate::summary;
use checker::{Record, Verdict};
use results::report::{CheckerSection, ReportInput};
use results::store::RunDir;
use workloads::{CheckerResult, CheckerVerdict};

/// The checker's own page for a linearizability counterexample.
const CHECKER_PAGE: &str = "linearizability.html";

fn err(e: impl std::fmt::Display) -> RunError {
    RunError::Results(e.to_string())
}

/// Writes everything; `verdict` is `None` for an interrupted run.
pub fn write(
    dir: &RunDir,
    config: &TestConfig,
    records: &[Record],
    checkers: &[CheckerResult],
    faults: &[FaultEvent],
    verdict: Option<CheckerVerdict>,
    notes: &[String],
) -> Result<String, RunError> {
    let timeline = summary::timeline(records);
    let stats = summary::stats(&timeline);
    let rows = summary::rows(&stats);
    let verdict_word = verdict.map(CheckerVerdict::label).unwrap_or("interrupted");
    let unverified: Vec<&FaultEvent> = faults.iter().filter(|f| f.problem.is_some()).collect();
    let results = serde_json::json!({
        "verdict": verdict_word,
        "exit_code": verdict.map(CheckerVerdict::exit_code).unwrap_or(130),
        "checkers": checkers.iter().map(|c| c.json.clone()).collect::<Vec<_>>(),
        "stats": stats,
        "faults": faults,
        "faults_not_verified": unverified.len(),
        "records": records.len(),
        "notes": notes,
    });
    dir.write_json("results.json", &results).map_err(err)?;

    let mut sections = Vec::new();
    for c in checkers {
        let mut detail_page = None;
        if let Some(report) = &c.report {
            if let Verdict::NotLinearizable { witnesses } = &report.verdict {
                // The title states the verdict (the checker's name alone,
                // "linearizable", read as the opposite).
                let page = results::counterexample::page(
                    &format!("{}: NOT linearizable ({} checker)", config.name, c.name),
                    &c.lines[..1.min(c.lines.len())],
                    witnesses,
                );
                dir.write_file(CHECKER_PAGE, page.as_bytes()).map_err(err)?;
                detail_page = Some(CHECKER_PAGE.to_string());
            }
        }
        sections.push(CheckerSection {
            name: c.name.clone(),
            verdict: c.verdict.label().into(),
            // One list item per line of words (witnesses span several).
            lines: c
                .lines
                .iter()
                .flat_map(|l| l.lines())
                .map(str::to_string)
                .collect(),
            detail_page,
        });
    }
    // Plots are a convenience: a failure to draw one is noted, not fatal.
    let latency =
        results::plots::latency_svg(&timeline.samples, &timeline.faults, timeline.duration_s);
    let throughput =
        results::plots::throughput_svg(&timeline.samples, &timeline.faults, timeline.duration_s);
    let mut detail: Vec<String> = notes.to_vec();
    for (name, svg) in [("latency.svg", &latency), ("throughput.svg", &throughput)] {
        match svg {
            Ok(svg) => {
                dir.write_file(name, svg.as_bytes()).map_err(err)?;
            }
            Err(e) => detail.push(format!("{name} could not be drawn: {e}")),
        }
    }
    for f in &unverified {
        detail.push(format!(
            "{} {} at {} s did not take effect as planned: {}",
            f.phase,
            f.kind.name(),
            f.at_s,
            f.problem.as_deref().unwrap_or("")
        ));
    }
    if verdict.is_none() {
        detail.push(format!(
            "Interrupted: {} records kept; recheck with `skeptic check {}`",
            records.len(),
            dir.path.display()
        ));
    }
    let config_json = serde_json::to_value(config).map_err(err)?;
    let title = format!("{} (seed {})", config.name, config.seed);
    let page = results::report::render(&ReportInput {
        title: &title,
        verdict: verdict_word,
        verdict_detail: &detail,
        config: &config_json,
        summary: &rows,
        checkers: &sections,
        samples: &timeline.samples,
        faults: &timeline.faults,
        duration_s: timeline.duration_s,
        latency_svg: latency.as_deref().ok(),
        throughput_svg: throughput.as_deref().ok(),
    });
    dir.write_file("report.html", page.as_bytes())
        .map_err(err)?;
    let junit = results::junit::junit_xml(
        "skeptic",
        &checkers
            .iter()
            .map(|c| results::junit::JunitCase {
                name: format!("{}/{}", config.name, c.name),
                verdict: c.verdict.label().into(),
                message: c.lines.join("\n"),
                seconds: timeline.duration_s,
            })
            .collect::<Vec<_>>(),
    );
    dir.write_file("junit.xml", junit.as_bytes()).map_err(err)?;
    let mut text = summary::table(&rows);
    for c in checkers {
        text.push_str(&format!(
            "  {:<14}  {}\n",
            format!("{} checker", c.name),
            c.verdict.label().to_uppercase()
        ));
    }
    for d in &detail {
        text.push_str(&format!("  note: {d}\n"));
    }
    Ok(text)
}
