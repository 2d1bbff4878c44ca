//! The deterministic simulator: correct variants pass every seed, each
//! planted bug (and the unsafe local reads) is caught within its stated
//! bound, a seed always gives the same bytes, and the command line writes
//! what a person needs to see a failure.

use harness::nemesis::plan::Aim;
use harness::sim::{self, Sessions, SimConfig, SimFault};
use std::process::Command;
use target_kv::paxos::{Mode, PlantedBug, ReadMode};
use workloads::WorkloadKind;

fn failures(cfg: &SimConfig, seeds: std::ops::Range<u64>) -> Vec<(u64, String)> {
    seeds
        .map(|seed| sim::run_seed(cfg, seed))
        .filter(|o| o.failed())
        .map(|o| (o.seed, o.headline()))
        .collect()
}

#[test]
fn the_same_seed_gives_the_same_history_and_trace_byte_for_byte() {
    let mut cfg = SimConfig::new(Mode::Multi, ReadMode::Quorum);
    cfg.trace = true;
    let a = sim::run_seed(&cfg, 11);
    let b = sim::run_seed(&cfg, 11);
    let trace_a = a.trace.expect("traced");
    assert!(trace_a.lines().count() > 1_000, "a real run was traced");
    assert_eq!(
        sim::history_jsonl(&a.history),
        sim::history_jsonl(&b.history)
    );
    assert_eq!(trace_a, b.trace.expect("traced"));
    let other = sim::run_seed(&cfg, 12);
    assert_ne!(
        sim::history_jsonl(&a.history),
        sim::history_jsonl(&other.history),
        "another seed, another run"
    );
    // Tracing changes nothing but the trace.
    cfg.trace = false;
    cfg.keep_history = true;
    let untraced = sim::run_seed(&cfg, 11);
    assert_eq!(
        sim::history_jsonl(&a.history),
        sim::history_jsonl(&untraced.history)
    );
}

#[test]
fn runs_see_faults_crashes_and_indeterminate_operations() {
    let mut cfg = SimConfig::new(Mode::Multi, ReadMode::Log);
    cfg.keep_history = true;
    let mut faults = std::collections::BTreeSet::new();
    let (mut ok, mut info) = (0, 0);
    for seed in 0..10 {
        let o = sim::run_seed(&cfg, seed);
        for r in &o.history {
            match (&r.process, r.kind) {
                (checker::Process::Named(_), _) => {
                    faults.insert(r.f.clone());
                }
                (_, checker::RecordType::Ok) => ok += 1,
                (_, checker::RecordType::Info) => info += 1,
                _ => {}
            }
        }
    }
    for kind in SimFault::defaults(ReadMode::Log) {
        if kind.toggled() {
            assert!(
                faults.iter().any(|f| f.ends_with(kind.name())),
                "{kind} never happened in 10 seeds: {faults:?}"
            );
        }
    }
    assert!(ok > 2_000, "{ok} operations succeeded");
    assert!(info > 50, "{info} indeterminate operations");
}

#[test]
fn correct_variants_pass_every_seed() {
    let variants = [
        (Mode::Multi, ReadMode::Log),
        (Mode::Multi, ReadMode::Quorum),
        (Mode::Multi, ReadMode::Lease),
        (Mode::Basic, ReadMode::Log),
        (Mode::Basic, ReadMode::Quorum),
    ];
    for (mode, reads) in variants {
        let cfg = SimConfig::new(mode, reads);
        let bad = failures(&cfg, 0..60);
        assert!(bad.is_empty(), "{mode:?}/{reads:?}: {bad:?}");
    }
    // Other shapes: the kv workload, five nodes, sessions everywhere or
    // nowhere, and faults aimed at the leader.
    let mut kv = SimConfig::new(Mode::Basic, ReadMode::Quorum);
    kv.workload = WorkloadKind::Kv;
    let mut five = SimConfig::new(Mode::Multi, ReadMode::Lease);
    five.nodes = 5;
    let mut sessions = SimConfig::new(Mode::Basic, ReadMode::Log);
    sessions.sessions = Sessions::All;
    let mut anonymous = SimConfig::new(Mode::Multi, ReadMode::Quorum);
    anonymous.sessions = Sessions::None;
    let mut aimed = SimConfig::new(Mode::Multi, ReadMode::Lease);
    aimed.aim = Aim::Leader;
    aimed.faults = vec![SimFault::Partition, SimFault::Drift];
    for (name, cfg) in [
        ("kv", kv),
        ("five nodes", five),
        ("sessions", sessions),
        ("anonymous", anonymous),
        ("lease under drift at the leader", aimed),
    ] {
        let bad = failures(&cfg, 0..30);
        assert!(bad.is_empty(), "{name}: {bad:?}");
    }
}

/// Each planted bug, and the unsafe local reads, must be caught in the
/// first `bound` seeds (the README states these bounds; the runs are
/// deterministic, so this is a fact about these seeds, not a chance).
#[test]
fn planted_bugs_and_local_reads_are_caught_within_their_bounds() {
    struct Case {
        mode: Mode,
        reads: ReadMode,
        plant: Option<PlantedBug>,
        aim: Aim,
        faults: Option<Vec<SimFault>>,
        clients: usize,
        bound: u64,
    }
    let case = |mode, reads, plant, bound| Case {
        mode,
        reads,
        plant,
        aim: Aim::Random,
        faults: None,
        clients: 5,
        bound,
    };
    let cases = [
        case(
            Mode::Basic,
            ReadMode::Log,
            Some(PlantedBug::IgnorePromise),
            5,
        ),
        case(
            Mode::Multi,
            ReadMode::Log,
            Some(PlantedBug::IgnorePromise),
            20,
        ),
        case(Mode::Basic, ReadMode::Log, Some(PlantedBug::SkipPhase1), 5),
        Case {
            faults: Some(vec![SimFault::Crash, SimFault::Partition, SimFault::Loss]),
            ..case(Mode::Multi, ReadMode::Log, Some(PlantedBug::SkipPhase1), 40)
        },
        case(Mode::Multi, ReadMode::Local, None, 10),
        Case {
            aim: Aim::Leader,
            faults: Some(vec![SimFault::Partition, SimFault::Drift]),
            clients: 9,
            ..case(
                Mode::Multi,
                ReadMode::Lease,
                Some(PlantedBug::LeaseWithoutMargin),
                40,
            )
        },
    ];
    for c in cases {
        let mut cfg = SimConfig::new(c.mode, c.reads);
        cfg.plant = c.plant;
        cfg.aim = c.aim;
        cfg.clients = c.clients;
        if let Some(f) = c.faults {
            cfg.faults = f;
        }
        let caught = (0..c.bound).find(|&seed| sim::run_seed(&cfg, seed).failed());
        assert!(
            caught.is_some(),
            "{:?}/{:?} with {:?}: not caught in {} seeds",
            c.mode,
            c.reads,
            c.plant,
            c.bound
        );
    }
}

fn skeptic() -> Command {
    Command::new(env!("CARGO_BIN_EXE_skeptic"))
}

#[test]
fn the_command_prints_json_and_exits_zero_when_every_seed_passes() {
    let store = tempfile::tempdir().expect("tempdir");
    let o = skeptic()
        .args(["sim", "--seeds", "0..4", "--json", "--jobs", "1", "--store"])
        .arg(store.path())
        .output()
        .expect("runs");
    assert_eq!(o.status.code(), Some(0), "{o:?}");
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).expect("one JSON object");
    assert_eq!(j["seeds"], 4);
    assert_eq!(j["failed"], serde_json::json!([]));
    assert!(j["seeds_per_s"].as_f64().is_some_and(|r| r > 0.0), "{j}");
    assert!(
        std::fs::read_dir(store.path())
            .expect("store")
            .next()
            .is_none(),
        "nothing is written for passing seeds"
    );
}

/// A planted bug that trips one of the core's own assertions (here "one
/// value per ballot and slot", by Basic Paxos proposers that skip phase 1)
/// fails its seed with the assertion's words; it used to abort the whole
/// run, with no JSON and no report.
#[test]
fn a_failed_core_assertion_fails_its_seed_and_the_run_goes_on() {
    let mut cfg = SimConfig::new(Mode::Basic, ReadMode::Log);
    cfg.plant = Some(PlantedBug::SkipPhase1);
    cfg.clients = 7;
    cfg.trace = true;
    let o = sim::run_seed(&cfg, 19);
    assert!(o.failed(), "{}", o.headline());
    assert!(
        o.headline()
            .starts_with("assertion failed: one value per ballot and slot at "),
        "{}",
        o.headline()
    );
    assert!(!o.history.is_empty(), "the history so far is kept");
    let trace = o.trace.expect("traced");
    assert!(
        trace.contains("ASSERTION FAILED"),
        "the trace says where it stopped"
    );
    let store = tempfile::tempdir().expect("tempdir");
    let out = skeptic()
        .args([
            "sim",
            "--consensus",
            "basic",
            "--plant",
            "skip-phase1",
            "--clients",
            "7",
            "--seeds",
            "17..21",
            "--json",
            "--store",
        ])
        .arg(store.path())
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let j: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON object");
    assert_eq!(j["seeds"], 4, "every seed ran: {j}");
    assert!(
        j["failed"]
            .as_array()
            .is_some_and(|f| f.contains(&serde_json::json!(19))),
        "{j}"
    );
}

#[test]
fn a_failing_seed_is_printed_and_stored_with_history_trace_and_counterexample() {
    let store = tempfile::tempdir().expect("tempdir");
    let o = skeptic()
        .args(["sim", "--reads", "local", "--seeds", "0..6", "--store"])
        .arg(store.path())
        .output()
        .expect("runs");
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(1), "{out}");
    let failed: Vec<&str> = out.lines().filter(|l| l.contains("FAILED")).collect();
    assert!(!failed.is_empty(), "{out}");
    assert!(out.contains("rerun one: skeptic sim --seed"), "{out}");
    let seed: u64 = failed[0]
        .trim()
        .trim_start_matches("seed ")
        .split(':')
        .next()
        .and_then(|s| s.parse().ok())
        .expect("a seed number");
    let dir = store
        .path()
        .join("sim-multi-local/latest")
        .join(format!("seed-{seed}"));
    for f in [
        "history.jsonl",
        "trace.txt",
        "summary.txt",
        "counterexample.txt",
        "linearizability.html",
    ] {
        let bytes = std::fs::read(dir.join(f)).unwrap_or_else(|e| panic!("{f}: {e}"));
        assert!(!bytes.is_empty(), "{f} is empty");
    }
    let trace = std::fs::read_to_string(dir.join("trace.txt")).expect("trace");
    assert!(
        trace.contains(" -> ") && trace.contains("disk:") && trace.contains("FAULT"),
        "the trace shows messages, writes and faults"
    );
    // The stored history is an ordinary one: `skeptic check` finds the same.
    let check = skeptic()
        .arg("check")
        .arg(dir.join("history.jsonl"))
        .output()
        .expect("check runs");
    assert_eq!(check.status.code(), Some(1), "{check:?}");
}

#[test]
fn bad_flags_are_refused_with_a_message() {
    for args in [
        vec!["sim", "--seeds", "5..2"],
        vec!["sim", "--faults", "crash,gremlins"],
        vec!["sim", "--plant", "nonsense"],
        vec!["sim", "--workload", "set"],
    ] {
        let o = skeptic().args(&args).output().expect("runs");
        assert_eq!(o.status.code(), Some(3), "{args:?}");
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains("error"), "{args:?}: {err}");
    }
}

/// A new leader re-proposes the slots it already knows chosen past a gap.
/// When their acceptors had learned those slots too, they answered with
/// the chosen value instead of an ack, and the slot stayed in flight for
/// good: resent with every heartbeat, holding an in-flight place until the
/// next leader. `Replica::check_invariants` now refuses an in-flight slot
/// below the first unchosen one; these seeds of the default multi/log run
/// break it without the fix (slot 57 of seed 89, for one). A change to
/// what the simulator draws moves such schedules to other seeds: find them
/// again by disabling the fix in `Replica::advance`.
#[test]
fn a_slot_chosen_without_acks_leaves_the_leaders_flight() {
    let cfg = SimConfig::new(Mode::Multi, ReadMode::Log);
    let failed: Vec<_> = [89, 102, 519, 645]
        .into_iter()
        .map(|seed| sim::run_seed(&cfg, seed))
        .filter(|o| o.failed())
        .map(|o| (o.seed, o.headline()))
        .collect();
    assert!(failed.is_empty(), "{failed:?}");
}
