//! The test loop (Jepsen's `core/run!`), one phase per module:
//!
//! 1. [`setup`]: refuse what cannot work, make the run directory, the
//!    history file and the cluster, wait until every node serves;
//! 2. [`load`]: client threads ([`clients`]) and the nemesis ([`faults`])
//!    until the time limit, then heal;
//! 3. wait for recovery, then [`final_reads`] of every key;
//! 4. [`finish`]: tear down, check, report.
//!
//! Whatever happens (an error, a panic in a task, Ctrl-C) every fault is
//! undone, every process is reaped and the history recorded so far is
//! flushed to disk.

mod clients;
mod faults;
mod final_reads;
mod finish;
mod load;
mod setup;

pub use crate::error::RunError;
pub use setup::wait_ready;

use crate::config::TestConfig;
use crate::nemesis::FaultEvent;
use checker::history::FINAL_READ_PROCESS_BASE;
use std::path::PathBuf;
use std::time::{Duration, Instant};
use tokio::sync::watch;
use workloads::{CheckerResult, CheckerVerdict};

/// Where the nodes come from for the bundled target.
#[derive(Clone, Debug)]
pub struct Programs {
    /// `skeptic` (run as `skeptic node`) or `skeptic-kv`.
    pub bundled_node: PathBuf,
}

/// How a run ended.
#[derive(Clone, Debug)]
pub struct Outcome {
    /// Worst of the checkers' verdicts; `None` when interrupted.
    pub verdict: Option<CheckerVerdict>,
    /// The run's directory.
    pub dir: PathBuf,
    /// Every checker's result.
    pub checkers: Vec<CheckerResult>,
    /// Every fault started and stopped, with whether it took effect.
    pub faults: Vec<FaultEvent>,
    /// The summary table, formatted.
    pub summary: String,
    /// Records in the history.
    pub records: usize,
}

impl Outcome {
    /// 0 valid, 1 anomaly, 2 unknown, 130 interrupted.
    pub fn exit_code(&self) -> u8 {
        self.verdict.map(CheckerVerdict::exit_code).unwrap_or(130)
    }
}

/// Resolves when `interrupt` becomes true.
async fn interrupted(interrupt: &mut watch::Receiver<bool>) {
    if interrupt.wait_for(|i| *i).await.is_err() {
        // The sender is gone: no interrupt can come.
        std::future::pending::<()>().await;
    }
}

/// Tests of a crashing harness set `SKEPTIC_PLANT_HARNESS_PANIC=load` to
/// make it panic after the load phase, with its cluster up and its
/// history half written: they show that the nodes die with it and that
/// the history it leaves is read by `skeptic check`. Nothing else sets it.
fn planted_panic(phase: &str) {
    if std::env::var("SKEPTIC_PLANT_HARNESS_PANIC").is_ok_and(|p| p == phase) {
        panic!("planted harness panic after the {phase} phase (SKEPTIC_PLANT_HARNESS_PANIC)");
    }
}

/// Runs a test. `interrupt` turning true (Ctrl-C) stops it early: faults
/// are undone, the cluster torn down and the history kept, unchecked.
pub async fn run(
    config: &TestConfig,
    programs: &Programs,
    mut interrupt: watch::Receiver<bool>,
) -> Result<Outcome, RunError> {
    let prepared = setup::prepare(config, programs)?;
    let recovery = Duration::from_secs_f64(config.recovery_timeout_s);
    let cut_short = |faults: Option<Vec<FaultEvent>>| {
        finish::interrupted(&prepared.dir, &prepared.recorder, &prepared.db, faults)
    };
    tracing::info!(
        "waiting for {} nodes to serve reads",
        prepared.node_clients.len()
    );
    tokio::select! {
        r = wait_ready(&prepared.node_clients, recovery) => r.map_err(|e| {
            RunError::Setup(format!("{e}; node logs are in {}", prepared.dir.logs_dir().display()))
        })?,
        _ = interrupted(&mut interrupt) => return cut_short(None).await,
    }

    let loaded = load::run_load(&prepared, &mut interrupt).await?;
    planted_panic("load");
    let faults = loaded.faults;
    if loaded.interrupted {
        return cut_short(Some(faults)).await;
    }
    let recovered = tokio::select! {
        r = wait_ready(&prepared.node_clients, recovery) => r,
        _ = interrupted(&mut interrupt) => return cut_short(Some(faults)).await,
    };
    if let Err(e) = &recovered {
        tracing::warn!("the cluster did not recover: {e}");
    }
    let first_final = FINAL_READ_PROCESS_BASE + config.concurrency as u64;
    tokio::select! {
        _ = final_reads::final_reads(&prepared.shared, &prepared.node_clients, first_final, Instant::now() + recovery) => {}
        _ = interrupted(&mut interrupt) => return cut_short(Some(faults)).await,
    }
    drop(loaded.tasks);
    finish::check_and_report(&prepared, faults, recovered)
}
