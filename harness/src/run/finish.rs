//! The last phases of a run: tear down, check the history, write the
//! report; or, after an interrupt, keep the history unchecked.

use super::setup::Prepared;
use super::Outcome;
use crate::config::TestConfig;
use crate::error::RunError;
use crate::nemesis::{lock_db, FaultEvent, SharedDb};
use crate::recorder::Recorder;
use crate::report;
use checker::{CheckOptions, History};
use results::store::RunDir;
use std::time::Duration;
use workloads::CheckerVerdict;

/// Tears the cluster down, judges the history with the workload's
/// checkers and writes the report. `recovered` says whether the cluster
/// served again after healing; a cluster that did not is reported.
pub(super) fn check_and_report(
    prepared: &Prepared,
    faults: Vec<FaultEvent>,
    recovered: Result<(), String>,
) -> Result<Outcome, RunError> {
    let Prepared {
        dir,
        recorder,
        db,
        shared,
        ..
    } = prepared;
    // The configuration as run (its network and packet settings resolved),
    // not as asked for.
    let config = &shared.config;
    lock_db(db).teardown();
    recorder
        .sync()
        .map_err(|e| RunError::Results(format!("history: {e}")))?;

    let records = recorder.records();
    let count = records.len();
    let lines: Vec<usize> = (1..=count).collect();
    let history = History::from_records(records.clone(), lines)
        .map_err(|e| RunError::Results(format!("the recorded history is malformed: {e}")))?;
    let options = CheckOptions {
        timeout: Some(Duration::from_secs_f64(config.check_timeout_s.max(0.001))),
        ..CheckOptions::default()
    };
    let workload = &shared.workload;
    let checkers = tokio::task::block_in_place(|| workload.check(&history, &options));
    let verdict = checkers
        .iter()
        .fold(CheckerVerdict::Valid, |v, c| v.worst(c.verdict));
    let mut extra = Vec::new();
    if let Err(e) = recovered {
        extra.push(format!("the cluster did not recover after healing: {e}"));
    }
    let summary = report::write(
        dir,
        config,
        &records,
        &checkers,
        &faults,
        Some(verdict),
        &extra,
    )?;
    Ok(Outcome {
        verdict: Some(verdict),
        dir: dir.path.clone(),
        checkers,
        faults,
        summary,
        records: count,
    })
}

/// After an interrupt: heal (if the nemesis ran), tear down, keep the
/// history, and say so in the results.
pub(super) async fn interrupted(
    dir: &RunDir,
    recorder: &Recorder,
    db: &SharedDb,
    faults: Option<Vec<FaultEvent>>,
) -> Result<Outcome, RunError> {
    lock_db(db).teardown();
    let synced = recorder.sync();
    let records = recorder.records();
    let faults = faults.unwrap_or_default();
    let config: TestConfig = std::fs::read(dir.path.join("test.json"))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default();
    let summary = report::write(dir, &config, &records, &[], &faults, None, &[])?;
    synced.map_err(|e| RunError::Results(format!("history: {e}")))?;
    Ok(Outcome {
        verdict: None,
        dir: dir.path.clone(),
        checkers: Vec::new(),
        faults,
        summary,
        records: records.len(),
    })
}
