//! Deterministic simulation of the bundled store (`skeptic sim`).
//!
//! N replicas of the production code (the [`target_kv::shell::Shell`] and
//! the Paxos core inside it, recovering from WAL bytes with the real WAL
//! code) run in one thread over a simulated network, simulated disks and
//! simulated clocks. Only sockets, files and the OS clock are replaced.
//! Faults are drawn from the seed ([`SimFault`]); simulated clients run the
//! `register` or `kv` workload's own operation code; the history they
//! record is judged by the checker, and invariants are checked after every
//! step ([`world`]). The same seed gives the same history and trace, byte
//! for byte.
//!
//! What it does not cover: the kernel, real sockets (TCP's ordering is
//! replaced by a network that may also lose, duplicate and reorder), real
//! disks (fsync is taken at its word), the HTTP layer and the tokio shell
//! around [`target_kv::shell::Shell`].

mod assertions;
mod clients;
mod disk;
mod faults;
mod world;

pub use faults::{NetFaults, SimFault};
pub use world::Finding;

use checker::{CheckOptions, History, Record, Verdict};
use std::fmt;
use std::str::FromStr;
use std::time::Duration;
use target_kv::paxos::{Mode, PlantedBug, ReadMode};
use workloads::{CheckerResult, CheckerVerdict, WorkloadKind};

/// Which simulated clients use `client`/`seq` sessions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sessions {
    /// None (as the harness's clients).
    None,
    /// All of them.
    All,
    /// Every other client.
    Mixed,
}

impl Sessions {
    /// Whether client `i` uses a session.
    pub fn uses_session(self, i: usize) -> bool {
        match self {
            Sessions::None => false,
            Sessions::All => true,
            Sessions::Mixed => i % 2 == 1,
        }
    }

    /// The name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Sessions::None => "none",
            Sessions::All => "all",
            Sessions::Mixed => "mixed",
        }
    }
}

impl FromStr for Sessions {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [Sessions::None, Sessions::All, Sessions::Mixed]
            .into_iter()
            .find(|x| x.name() == s)
            .ok_or_else(|| format!("unknown session mix {s:?} (expected none, all or mixed)"))
    }
}

impl fmt::Display for Sessions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What to simulate.
#[derive(Clone, Debug)]
pub struct SimConfig {
    /// Replicas.
    pub nodes: usize,
    /// Multi or Basic Paxos.
    pub mode: Mode,
    /// The read path.
    pub reads: ReadMode,
    /// `register` or `kv`.
    pub workload: WorkloadKind,
    /// Client operations before the final reads.
    pub ops: usize,
    /// Simulated clients.
    pub clients: usize,
    /// Keys in use at once.
    pub keys: usize,
    /// Operations per key before it is retired: few, so that a key's
    /// indeterminate operations stay few enough to check in milliseconds.
    pub ops_per_key: usize,
    /// Which clients use sessions.
    pub sessions: Sessions,
    /// The faults drawn on.
    pub faults: Vec<SimFault>,
    /// A planted bug.
    pub plant: Option<PlantedBug>,
    /// Where faults land: at random, or all at the current leader (its
    /// clock slowed and the others' sped up, within the drift bound).
    pub aim: crate::nemesis::plan::Aim,
    /// Snapshot every this many slots (0: never); small, so that snapshots
    /// and their installs happen within a run.
    pub snapshot_every: u64,
    /// Client timeout, simulated ms.
    pub op_timeout_ms: u64,
    /// Longest pause between a client's operations, simulated us.
    pub think_us_max: u64,
    /// Keep an event trace.
    pub trace: bool,
    /// Keep the history in the outcome even when untraced (the checker
    /// consumes its own copy; a copy per seed costs a few percent, and a
    /// failing seed is run again, traced, to write its files).
    pub keep_history: bool,
}

impl SimConfig {
    /// Simulated clients by default (`skeptic sim --clients`, the bench).
    pub const CLIENTS: usize = 5;

    /// The defaults for a variant: 3 nodes, 5 clients (mixed sessions),
    /// 500 register operations, the default fault mix.
    pub fn new(mode: Mode, reads: ReadMode) -> SimConfig {
        SimConfig {
            nodes: 3,
            mode,
            reads,
            workload: WorkloadKind::Register,
            ops: 500,
            clients: SimConfig::CLIENTS,
            keys: 2,
            ops_per_key: 50,
            sessions: Sessions::Mixed,
            faults: SimFault::defaults(reads),
            plant: None,
            aim: crate::nemesis::plan::Aim::Random,
            snapshot_every: 40,
            op_timeout_ms: 150,
            think_us_max: 100_000,
            trace: false,
            keep_history: false,
        }
    }
}

impl SimConfig {
    /// The workload's options.
    pub fn workload_options(&self) -> workloads::WorkloadOptions {
        workloads::WorkloadOptions {
            threads: self.clients,
            keys: self.keys,
            ops_per_key: Some(self.ops_per_key),
            ..workloads::WorkloadOptions::default()
        }
    }
}

/// What one seed gave.
pub struct SeedOutcome {
    /// The seed.
    pub seed: u64,
    /// The worst verdict (an invariant or liveness finding is an anomaly).
    pub verdict: CheckerVerdict,
    /// What went wrong during the run.
    pub finding: Option<Finding>,
    /// The checkers' results.
    pub checkers: Vec<CheckerResult>,
    /// The history (empty unless the run was traced or `keep_history`).
    pub history: Vec<Record>,
    /// The event trace, when asked for.
    pub trace: Option<String>,
    /// Events handled.
    pub events: u64,
    /// Simulated time, ms.
    pub sim_ms: u64,
}

impl SeedOutcome {
    /// Whether the seed failed.
    pub fn failed(&self) -> bool {
        self.verdict != CheckerVerdict::Valid
    }

    /// One line on what failed.
    pub fn headline(&self) -> String {
        if let Some(f) = &self.finding {
            return match f {
                Finding::Invariant(s) => format!("invariant: {s}"),
                Finding::Liveness(s) => format!("liveness: {s}"),
                Finding::Assertion(s) => format!("assertion failed: {s}"),
            };
        }
        self.checkers
            .iter()
            .find(|c| c.verdict != CheckerVerdict::Valid)
            .and_then(|c| c.lines.get(1).or(c.lines.first()))
            .map(|l| l.lines().next().unwrap_or("").to_string())
            .unwrap_or_else(|| "valid".into())
    }
}

/// Runs one seed and judges it.
pub fn run_seed(cfg: &SimConfig, seed: u64) -> SeedOutcome {
    let run = world::World::new(cfg, seed).run();
    let lines: Vec<usize> = (1..=run.history.len()).collect();
    let (records, history) = if cfg.trace || cfg.keep_history {
        (run.history.clone(), run.history)
    } else {
        (run.history, Vec::new())
    };
    let (checkers, mut verdict) = match History::from_records(records, lines) {
        Ok(history) => {
            let workload = workloads::make(cfg.workload, &cfg.workload_options());
            let options = CheckOptions {
                timeout: Some(Duration::from_secs(10)),
                memory_bytes_max: 1 << 30,
                ..CheckOptions::default()
            };
            let checkers = workload.check(&history, &options);
            let v = checkers
                .iter()
                .fold(CheckerVerdict::Valid, |v, c| v.worst(c.verdict));
            (checkers, v)
        }
        Err(e) => (
            Vec::new(),
            // The simulator wrote a malformed history: its own bug.
            {
                let _ = e;
                CheckerVerdict::Unknown
            },
        ),
    };
    if run.finding.is_some() {
        verdict = CheckerVerdict::Anomaly;
    }
    SeedOutcome {
        seed,
        verdict,
        finding: run.finding,
        checkers,
        history,
        trace: run.trace,
        events: run.events,
        sim_ms: run.sim_ms,
    }
}

/// The history as Skeptic's JSON Lines.
pub fn history_jsonl(records: &[Record]) -> Vec<u8> {
    let mut out = Vec::with_capacity(records.len() * 96);
    for r in records {
        checker::format::write_jsonl_record(&mut out, r).expect("writing to memory");
    }
    out
}

/// The checker's counterexample, in words and as a page, if there is one.
pub fn counterexample(outcome: &SeedOutcome, title: &str) -> Option<(String, String)> {
    outcome.checkers.iter().find_map(|c| {
        let report = c.report.as_ref()?;
        let Verdict::NotLinearizable { witnesses } = &report.verdict else {
            return None;
        };
        let text = c.lines.join("\n");
        let page =
            results::counterexample::page(title, &c.lines[..1.min(c.lines.len())], witnesses);
        Some((text, page))
    })
}
