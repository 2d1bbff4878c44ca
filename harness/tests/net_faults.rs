//! `skeptic test --net netns` end to end: the bundled store (fault hooks
//! off) and etcd in network namespaces under nftables partitions, packet
//! faults, kills, pauses and libfaketime clocks; every fault checked to
//! have taken effect; nothing left behind after a run, or after `kill -9`
//! and `skeptic clean`. Skips (with a message) where namespaces cannot be
//! made: not root, or iproute2/nftables missing.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

fn skeptic() -> Command {
    Command::new(env!("CARGO_BIN_EXE_skeptic"))
}

/// Why namespaces cannot be tested here, if they cannot.
fn unavailable() -> Option<String> {
    harness::net::netns_available().err()
}

/// Tests that count the machine's namespaces hold this for writing, the
/// others for reading, so no other run of this binary comes and goes
/// while one counts.
static COUNTING: std::sync::RwLock<()> = std::sync::RwLock::new(());

macro_rules! need_netns {
    () => {
        if let Some(why) = unavailable() {
            eprintln!("skipped: network namespaces are not available here: {why}");
            return;
        }
        let _shared = COUNTING.read().unwrap_or_else(|e| e.into_inner());
    };
}

/// Whether etcd is absent (said, for a test that then skips).
fn etcd_missing() -> bool {
    let missing = harness::db::EtcdDb::find_binary().is_none();
    if missing {
        eprintln!("skipped: etcd is not installed (apt-get install etcd-server)");
    }
    missing
}

/// Run ids of our namespaces that exist now.
fn run_ids() -> BTreeSet<String> {
    harness::net::clean::leftovers()
        .into_iter()
        .map(|l| l.run_id)
        .collect()
}

/// Runs `skeptic test --net netns ARGS` into `store`.
fn test(store: &Path, args: &[&str]) -> Output {
    skeptic()
        .args([
            "test",
            "--net",
            "netns",
            "--concurrency",
            "4",
            "--seed",
            "7",
        ])
        .arg("--store")
        .arg(store)
        .args(args)
        .output()
        .expect("skeptic test runs")
}

fn results(store: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(store.join("latest/results.json")).expect("results.json");
    serde_json::from_str(&text).expect("json")
}

/// The faults a run started, each checked to have had no problem.
fn faults_started(store: &Path) -> Vec<String> {
    let r = results(store);
    let faults = r["faults"].as_array().expect("faults");
    for f in faults {
        assert!(f["problem"].is_null(), "a fault did not take effect: {f}");
    }
    faults
        .iter()
        .filter(|f| f["phase"] == "start")
        .map(|f| {
            format!(
                "{}: {}",
                f["kind"].as_str().unwrap_or("?"),
                f["description"]
            )
        })
        .collect()
}

fn assert_valid(out: &Output) {
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("network netns"));
}

#[test]
fn the_bundled_store_passes_kernel_partitions_packet_faults_kills_and_pauses() {
    need_netns!();
    for workload in ["register", "kv"] {
        let store = tempfile::tempdir().expect("tempdir");
        let out = test(
            store.path(),
            &[
                "--workload",
                workload,
                "--nemesis",
                "partition,packet,kill,pause",
                "--nemesis-interval",
                "1",
                "--time-limit",
                "10",
            ],
        );
        assert_valid(&out);
        let started = faults_started(store.path());
        for kind in ["partition", "packet"] {
            assert!(
                started.iter().any(|f| f.starts_with(kind)),
                "no {kind} fault in {started:?}"
            );
        }
        // The nodes ran with their hooks off, on the run's own addresses.
        let log = std::fs::read_to_string(store.path().join("latest/logs/n1.log")).expect("log");
        assert!(log.contains("http=198.1"), "{log}");
        let test_json: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(store.path().join("latest/test.json")).expect("test.json"),
        )
        .expect("json");
        assert_eq!(
            test_json["net"], "netns",
            "the stored run says which network"
        );
    }
}

#[test]
fn etcd_passes_kernel_partitions_and_packet_faults() {
    need_netns!();
    if etcd_missing() {
        return;
    }
    for workload in ["register", "kv"] {
        let store = tempfile::tempdir().expect("tempdir");
        let out = test(
            store.path(),
            &[
                "--target",
                "etcd",
                "--workload",
                workload,
                "--nemesis",
                "partition,packet,kill,pause",
                "--nemesis-interval",
                "1.5",
                "--time-limit",
                "10",
            ],
        );
        assert_valid(&out);
        let started = faults_started(store.path());
        assert!(
            started.iter().any(|f| f.starts_with("partition")),
            "{started:?}"
        );
    }
}

#[test]
fn etcd_clock_faults_are_refused_with_the_reason_and_offsets_fixed_at_start_run() {
    need_netns!();
    if etcd_missing() {
        return;
    }
    let store = tempfile::tempdir().expect("tempdir");
    let out = test(store.path(), &["--target", "etcd", "--nemesis", "clock"]);
    assert_eq!(out.status.code(), Some(3));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("without libc"), "{err}");
    assert!(
        !store.path().join("latest").exists(),
        "a refused run starts nothing"
    );
    // Monotonic clocks hours apart: a correct store does not mind.
    let out = test(
        store.path(),
        &[
            "--target",
            "etcd",
            "--monotonic-offsets",
            "--nemesis",
            "partition",
            "--time-limit",
            "5",
        ],
    );
    assert_valid(&out);
}

#[test]
fn libfaketime_skews_a_bundled_node_without_fault_hooks() {
    need_netns!();
    if harness::db::fake_clock::library().is_none() {
        eprintln!("skipped: libfaketime is not installed (apt-get install faketime)");
        return;
    }
    let store = tempfile::tempdir().expect("tempdir");
    let out = test(
        store.path(),
        &[
            "--nemesis",
            "clock",
            "--nemesis-interval",
            "1.5",
            "--time-limit",
            "10",
        ],
    );
    assert_valid(&out);
    // Each clock fault was seen on the node's own wall clock.
    let started = faults_started(store.path());
    assert!(
        started.iter().any(|f| f.contains("libfaketime")),
        "{started:?}"
    );
}

#[test]
fn local_reads_are_caught_under_kernel_partitions() {
    need_netns!();
    let mut caught = 0;
    for seed in ["1", "2"] {
        let store = tempfile::tempdir().expect("tempdir");
        let out = skeptic()
            .args(["test", "--net", "netns", "--reads", "local"])
            .args(["--nemesis", "partition", "--nemesis-interval", "2"])
            .args(["--time-limit", "12", "--seed", seed])
            .arg("--store")
            .arg(store.path())
            .output()
            .expect("runs");
        match out.status.code() {
            Some(1) => caught += 1,
            Some(0) => {}
            other => panic!("exit {other:?}: {}", String::from_utf8_lossy(&out.stderr)),
        }
    }
    assert!(caught >= 1, "local reads went unnoticed in 2 seeds");
}

#[test]
fn nothing_is_left_after_a_run_nor_after_kill_9_and_skeptic_clean() {
    if let Some(why) = unavailable() {
        eprintln!("skipped: network namespaces are not available here: {why}");
        return;
    }
    let _alone = COUNTING.write().unwrap_or_else(|e| e.into_inner());
    let before = run_ids();
    let store = tempfile::tempdir().expect("tempdir");
    // A finished run removes its network.
    let out = test(
        store.path(),
        &["--nemesis", "partition", "--time-limit", "2"],
    );
    assert_valid(&out);
    assert_eq!(run_ids(), before, "a finished run left its network");
    // A killed one leaves it, and its nodes die with it.
    let mut child = skeptic()
        .args([
            "test",
            "--net",
            "netns",
            "--nemesis",
            "partition",
            "--time-limit",
            "60",
        ])
        .arg("--store")
        .arg(store.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("starts");
    let deadline = Instant::now() + Duration::from_secs(30);
    let mine = loop {
        let new: BTreeSet<String> = run_ids().difference(&before).cloned().collect();
        // The namespaces exist and the nodes serve once history records
        // appear.
        let history = store.path().join("latest/history.jsonl");
        let recording = std::fs::metadata(&history).is_ok_and(|m| m.len() > 0);
        if !new.is_empty() && recording {
            break new;
        }
        assert!(Instant::now() < deadline, "the run did not start");
        std::thread::sleep(Duration::from_millis(100));
    };
    child.kill().expect("SIGKILL");
    child.wait().expect("reaped");
    assert!(
        mine.iter().all(|id| run_ids().contains(id)),
        "a SIGKILLed harness cannot tear down: its namespaces stay until cleaned"
    );
    let clean = skeptic().arg("clean").output().expect("clean runs");
    assert_eq!(
        clean.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&clean.stderr)
    );
    let left: Vec<String> = run_ids().intersection(&mine).cloned().collect();
    assert!(left.is_empty(), "left after skeptic clean: {left:?}");
}
