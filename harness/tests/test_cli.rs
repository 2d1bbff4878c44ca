//! `skeptic test` end to end: the real binary, real node processes on
//! loopback, real faults. Each test uses its own store directory.

use serde_json::Value as Json;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Each test runs a cluster of its own and the machine may have two cores:
/// one test at a time, so load from a neighbour does not turn into timeouts.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn exclusive() -> std::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner())
}

fn skeptic() -> Command {
    Command::new(env!("CARGO_BIN_EXE_skeptic"))
}

fn run_test(store: &Path, args: &[&str]) -> Output {
    skeptic()
        .arg("test")
        .arg("--store")
        .arg(store)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("skeptic runs")
}

fn text(o: &Output) -> String {
    format!(
        "stdout:\n{}\nstderr:\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn results(store: &Path) -> Json {
    let bytes = std::fs::read(store.join("latest/results.json")).expect("results.json");
    serde_json::from_slice(&bytes).expect("results.json parses")
}

fn recheck(store: &Path) -> i32 {
    let o = skeptic()
        .arg("check")
        .arg(store.join("latest"))
        .output()
        .expect("skeptic check runs");
    o.status.code().unwrap_or(-1)
}

#[test]
fn default_test_shortened_passes_with_every_fault_verified() {
    let _one = exclusive();
    let store = tempfile::tempdir().expect("tempdir");
    let o = run_test(
        store.path(),
        &[
            "--time-limit",
            "10",
            "--nemesis-interval",
            "1.5",
            "--seed",
            "11",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("VALID"), "{out}");
    assert!(out.contains("report: "), "{out}");
    let r = results(store.path());
    assert_eq!(r["verdict"], "valid");
    let faults = r["faults"].as_array().expect("faults");
    assert!(faults.len() >= 4, "the nemesis acted: {faults:?}");
    assert_eq!(r["faults_not_verified"], 0, "{faults:?}");
    assert!(r["stats"]["total"]["ok"].as_u64().expect("ok count") > 100);
    let latest = store.path().join("latest");
    for file in [
        "history.jsonl",
        "test.json",
        "report.html",
        "latency.svg",
        "throughput.svg",
        "logs/n1.log",
    ] {
        assert!(latest.join(file).is_file(), "{file} is written");
    }
    let config: Json =
        serde_json::from_slice(&std::fs::read(latest.join("test.json")).expect("test.json"))
            .expect("json");
    assert_eq!(config["seed"], 11);
    assert_eq!(
        config["nemesis"],
        serde_json::json!(["partition", "kill", "pause", "clock"])
    );
    assert_eq!(
        recheck(store.path()),
        0,
        "the stored history rechecks as valid"
    );
    assert!(no_process_mentions(store.path()), "every node was stopped");
}

/// Whether no running process has this path on its command line.
fn no_process_mentions(path: &Path) -> bool {
    processes_mentioning(path).is_empty()
}

fn processes_mentioning(path: &Path) -> Vec<u32> {
    let needle = path.to_string_lossy().into_owned();
    let mut pids = Vec::new();
    for entry in std::fs::read_dir("/proc").expect("/proc").flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        // A zombie has an empty command line; a live node names its data dir.
        if cmdline.contains(&needle) && !cmdline.contains(" test ") {
            pids.push(pid);
        }
    }
    pids
}

/// A finished run of `skeptic test`: its seed, store and output.
struct Run {
    seed: u64,
    store: tempfile::TempDir,
    output: Output,
}

impl Run {
    /// Whether it reported an anomaly (exit 1), checked to come with a
    /// not-linearizable verdict and a counterexample page; panics on an
    /// exit other than 0 or 1.
    fn caught(&self) -> bool {
        let seed = self.seed;
        match self.output.status.code() {
            Some(1) => {
                let r = results(self.store.path());
                let lin = &r["checkers"][0];
                assert_eq!(lin["verdict"], "not_linearizable", "seed {seed}: {lin}");
                let page =
                    std::fs::read_to_string(self.store.path().join("latest/linearizability.html"))
                        .unwrap_or_else(|e| panic!("seed {seed}: a counterexample page: {e}"));
                let title = page
                    .split("<title>")
                    .nth(1)
                    .and_then(|t| t.split("</title>").next())
                    .unwrap_or("");
                assert!(
                    title.contains("NOT linearizable"),
                    "seed {seed}: title {title:?}"
                );
                assert!(String::from_utf8_lossy(&self.output.stdout).contains("Not linearizable"));
                true
            }
            Some(0) => {
                eprintln!("seed {seed}: valid");
                false
            }
            other => panic!("seed {seed}: exit {other:?}\n{}", text(&self.output)),
        }
    }
}

/// Runs `skeptic test` once per (seed, flags), two at a time (the machine
/// has two cores), and returns the runs in order.
fn runs_in_pairs(runs: &[(u64, &[&str])]) -> Vec<Run> {
    let mut done = Vec::new();
    for pair in runs.chunks(2) {
        let started: Vec<_> = pair
            .iter()
            .map(|&(seed, args)| {
                let store = tempfile::tempdir().expect("tempdir");
                let child = skeptic()
                    .arg("test")
                    .arg("--store")
                    .arg(store.path())
                    .args(args)
                    .args(["--seed", &seed.to_string()])
                    .stdin(Stdio::null())
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped())
                    .spawn()
                    .expect("spawn");
                (seed, store, child)
            })
            .collect();
        for (seed, store, child) in started {
            let output = child.wait_with_output().expect("wait");
            done.push(Run {
                seed,
                store,
                output,
            });
        }
    }
    done
}

#[test]
fn local_reads_under_partitions_are_caught_in_nine_of_ten_seeds() {
    let _one = exclusive();
    let args: &[&str] = &[
        "--reads",
        "local",
        "--nemesis",
        "partition",
        "--time-limit",
        "30",
    ];
    let runs: Vec<(u64, &[&str])> = (1..=10).map(|seed| (seed, args)).collect();
    let caught: Vec<u64> = runs_in_pairs(&runs)
        .iter()
        .filter(|r| r.caught())
        .map(|r| r.seed)
        .collect();
    // As root with iproute2 and nftables this runs in network namespaces
    // (the kernel's partitions), else with the fault hooks.
    eprintln!("local reads caught in seeds {caught:?} of 1..=10");
    assert!(caught.len() >= 9, "caught only in seeds {caught:?}");
}

#[test]
fn sigint_tears_down_and_keeps_a_checkable_history() {
    let _one = exclusive();
    let store = tempfile::tempdir().expect("tempdir");
    let mut child = skeptic()
        .arg("test")
        .arg("--store")
        .arg(store.path())
        .args([
            "--time-limit",
            "120",
            "--seed",
            "5",
            "--nemesis-interval",
            "1",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    // Wait (bounded) until the clients have recorded a good number of
    // operations, so the interrupt lands mid-run.
    let history = store.path().join("latest/history.jsonl");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let lines = std::fs::read_to_string(&history)
            .map(|t| t.lines().count())
            .unwrap_or(0);
        if lines >= 2000 {
            break;
        }
        assert!(Instant::now() < deadline, "the test never got going");
        assert!(
            child.try_wait().expect("try_wait").is_none(),
            "exited early"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let nodes = processes_mentioning(store.path());
    // Two or three: the nemesis may have one killed right now.
    assert!(nodes.len() >= 2, "the nodes run: {nodes:?}");
    let pid = i32::try_from(child.id()).expect("pid");
    // SAFETY: kill(2) on our own child.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGINT) }, 0);
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(s) = child.try_wait().expect("try_wait") {
            break s;
        }
        assert!(
            Instant::now() < deadline,
            "skeptic did not stop after SIGINT"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    let o = child.wait_with_output().expect("output");
    assert_eq!(status.code(), Some(130), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("INTERRUPTED"),
        "{}",
        text(&o)
    );
    for n in nodes {
        assert!(
            !Path::new(&format!("/proc/{n}")).exists(),
            "node pid {n} is gone"
        );
    }
    assert!(no_process_mentions(store.path()));
    assert_eq!(results(store.path())["verdict"], "interrupted");
    let code = recheck(store.path());
    assert!(
        code == 0 || code == 1,
        "skeptic check reads the kept history (exit {code})"
    );
}

#[test]
fn etcd_passes_register_under_kill_and_pause() {
    let _one = exclusive();
    if harness::db::EtcdDb::find_binary().is_none() {
        eprintln!("skipped: etcd is not installed (apt-get install etcd-server)");
        return;
    }
    let store = tempfile::tempdir().expect("tempdir");
    let o = run_test(
        store.path(),
        &[
            "--target",
            "etcd",
            "--nemesis",
            "kill,pause",
            "--time-limit",
            "15",
            "--nemesis-interval",
            "2",
            "--seed",
            "3",
            "--op-timeout",
            "2000",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let r = results(store.path());
    assert_eq!(r["faults_not_verified"], 0, "{}", r["faults"]);
    assert!(r["faults"].as_array().expect("faults").len() >= 3);
    assert!(r["stats"]["total"]["ok"].as_u64().expect("ok") > 100);
    assert!(store.path().join("latest/logs/n1.log").is_file());
    assert!(no_process_mentions(store.path()));
}

#[test]
fn kv_and_set_workloads_pass_on_the_correct_store() {
    let _one = exclusive();
    for (workload, rate) in [("kv", "200"), ("set", "")] {
        let store = tempfile::tempdir().expect("tempdir");
        let mut args = vec![
            "--workload",
            workload,
            "--time-limit",
            "6",
            "--nemesis-interval",
            "1",
            "--seed",
            "2",
        ];
        if !rate.is_empty() {
            args.extend(["--rate", rate]);
        }
        let o = run_test(store.path(), &args);
        assert_eq!(o.status.code(), Some(0), "{workload}: {}", text(&o));
        let r = results(store.path());
        let checker = if workload == "set" {
            "set"
        } else {
            "linearizable"
        };
        assert_eq!(r["checkers"][0]["checker"], checker);
        assert_eq!(r["checkers"][0]["valid"], "valid");
        assert_eq!(recheck(store.path()), 0, "{workload}: recheck");
        if !rate.is_empty() {
            // Open loop: each thread keeps to its schedule, so the offered
            // load is bounded by rate x time, whatever the latency.
            // Count the workload's invocations, not the final reads.
            let history = std::fs::read_to_string(store.path().join("latest/history.jsonl"))
                .expect("history");
            let ops = history
                .lines()
                .filter_map(|l| serde_json::from_str::<Json>(l).ok())
                .filter(|r| {
                    r["type"] == "invoke"
                        && r["process"].as_u64().is_some_and(|p| p < 1_000_000_000)
                })
                .count();
            assert!(
                ops > 0 && ops <= 200 * 6 + 10,
                "{ops} operations at 200/s for 6 s"
            );
        }
    }
}

#[test]
fn bad_usage_exits_3_with_a_message() {
    let _one = exclusive();
    let store = tempfile::tempdir().expect("tempdir");
    let cases: &[(&[&str], &str)] = &[
        (&["--nodes", "0"], "--nodes"),
        (&["--target", "external"], "--addresses"),
        (&["--workload", "queue"], "unknown workload"),
        (&["--nemesis", "flood"], "unknown fault"),
        (
            &["--nemesis-targets", "followers"],
            "unknown nemesis target",
        ),
        (
            &["--target", "etcd", "--nemesis-targets", "leader"],
            "needs --target bundled",
        ),
        (&["--time-limit", "0"], "--time-limit"),
        (&["--rerun", "/nonexistent/run"], "cannot read"),
        (
            &[
                "--target",
                "external",
                "--addresses",
                "127.0.0.1:9",
                "--nemesis",
                "kill",
            ],
            "cannot take kill faults",
        ),
    ];
    for (args, message) in cases {
        let o = run_test(store.path(), args);
        assert_eq!(o.status.code(), Some(3), "{args:?}: {}", text(&o));
        assert!(
            String::from_utf8_lossy(&o.stderr).contains(message),
            "{args:?}: {}",
            text(&o)
        );
    }
    assert!(no_process_mentions(store.path()));
}

#[test]
fn a_refused_configuration_starts_nothing_and_writes_nothing() {
    let _one = exclusive();
    let store = tempfile::tempdir().expect("tempdir");
    let cases: &[(&[&str], &str)] = &[
        (
            &[
                "--target",
                "etcd",
                "--net",
                "local",
                "--nemesis",
                "partition",
            ],
            "cannot take partition faults",
        ),
        (
            &["--target", "etcd", "--nemesis", "clock"],
            "cannot take clock faults",
        ),
        (
            &[
                "--target",
                "external",
                "--addresses",
                "127.0.0.1:9",
                "--nemesis",
                "pause",
            ],
            "cannot take pause faults",
        ),
    ];
    for (args, message) in cases {
        let o = run_test(store.path(), args);
        assert_eq!(o.status.code(), Some(3), "{args:?}: {}", text(&o));
        assert!(
            String::from_utf8_lossy(&o.stderr).contains(message),
            "{args:?}: {}",
            text(&o)
        );
        let left: Vec<_> = std::fs::read_dir(store.path())
            .expect("the store directory")
            .flatten()
            .map(|e| e.file_name())
            .collect();
        assert!(left.is_empty(), "{args:?} wrote {left:?}");
        assert!(
            no_process_mentions(store.path()),
            "{args:?} started a process"
        );
    }
}

/// Polls (bounded) until `done` holds; false if it never did.
fn eventually(limit: Duration, mut done: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if done() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    done()
}

/// `kill -9` of the harness leaves no node behind: every child is tied
/// to it (PR_SET_PDEATHSIG), for `skeptic test` of the bundled store and
/// of etcd, and for `skeptic cluster`.
#[test]
fn a_harness_killed_with_sigkill_leaves_no_node_behind() {
    let _one = exclusive();
    let mut runs: Vec<(&str, Vec<String>)> = vec![
        (
            "test",
            vec![
                "--time-limit".into(),
                "60".into(),
                "--nemesis".into(),
                "none".into(),
            ],
        ),
        ("cluster", vec![]),
    ];
    if Path::new("/usr/bin/etcd").exists() || which("etcd") {
        runs.push((
            "test",
            [
                "--target",
                "etcd",
                "--time-limit",
                "60",
                "--nemesis",
                "none",
            ]
            .map(String::from)
            .to_vec(),
        ));
    } else {
        eprintln!("etcd is not installed: its part of this test is skipped");
    }
    for (command, args) in runs {
        let store = tempfile::tempdir().expect("tempdir");
        let mut harness = skeptic();
        harness.arg(command);
        if command == "test" {
            harness.arg("--store").arg(store.path());
        } else {
            harness.arg("--data-dir").arg(store.path());
        }
        let child = harness
            .args(&args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("starts");
        // Should an assertion fail, the harness still goes (and takes its
        // nodes with it).
        struct KillOnDrop(std::process::Child);
        impl Drop for KillOnDrop {
            fn drop(&mut self) {
                let _ = self.0.kill();
                let _ = self.0.wait();
            }
        }
        let mut child = KillOnDrop(child);
        let started = eventually(Duration::from_secs(30), || {
            // Three nodes (`processes_mentioning` leaves `skeptic test`
            // itself out; `skeptic cluster` counts too, so at least 3).
            processes_mentioning(store.path()).len() >= 3
        });
        assert!(started, "{command} {args:?}: its nodes never appeared");
        let history = store.path().join("latest/history.jsonl");
        if command == "test" {
            // Killed mid-run, once it has recorded a good part of a second.
            let recorded = eventually(Duration::from_secs(30), || {
                std::fs::metadata(&history).is_ok_and(|m| m.len() > 8 * 1024)
            });
            assert!(recorded, "{args:?}: no history reached the file");
        }
        child.0.kill().expect("SIGKILL");
        child.0.wait().expect("reaped");
        if command == "test" {
            // What the killed harness left is a history the checker reads.
            let check = skeptic()
                .arg("check")
                .arg(store.path().join("latest"))
                .output()
                .expect("checks");
            assert!(
                matches!(check.status.code(), Some(0..=2)),
                "{args:?}: the crashed run's history did not check: {}",
                text(&check)
            );
        }
        let gone = eventually(Duration::from_secs(10), || {
            no_process_mentions(store.path())
        });
        assert!(
            gone,
            "{command} {args:?}: left {:?} running",
            processes_mentioning(store.path())
        );
        // A killed harness cannot remove its network namespaces (when it
        // ran in them): that is `skeptic clean`'s job.
        let clean = skeptic().arg("clean").output().expect("clean runs");
        assert_eq!(clean.status.code(), Some(0), "{}", text(&clean));
    }
}

fn which(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|d| d.join(program).is_file()))
}

/// Lease reads under leader partitions and clock faults, aimed at the
/// leader: a leader whose clock runs slow keeps answering from its lease
/// after its followers have waited theirs out and elected another, which
/// takes writes. Short client timeouts keep the cut-off leader's clients
/// reading instead of waiting on writes that cannot commit.
const LEASE_UNDER_FAULTS: &[&str] = &[
    // The fault hooks' clock: it drifts from the moment it is told to and
    // is read by the node at once. (libfaketime's, in namespaces, counts a
    // rate from the process's start and is re-read every second: another
    // fault, whose catch rate is not this one.)
    "--net",
    "local",
    "--reads",
    "lease",
    "--nemesis-targets",
    "leader",
    "--nemesis-interval",
    "2",
    "--op-timeout",
    "300",
    "--time-limit",
    "30",
];

/// Lease reads with clock faults are caught in some seeds (the schedule is
/// the seed's; whether a slowed leader is cut off depends on it). Pairs of
/// seeds run until one is caught, at most five pairs.
#[test]
fn lease_reads_with_clock_faults_are_caught_in_some_seeds() {
    let _one = exclusive();
    let args: Vec<&str> = [LEASE_UNDER_FAULTS, &["--nemesis", "partition,clock"]].concat();
    let mut tried = Vec::new();
    for pair in (1..=10u64).collect::<Vec<_>>().chunks(2) {
        let runs: Vec<(u64, &[&str])> = pair.iter().map(|&s| (s, &args[..])).collect();
        let done = runs_in_pairs(&runs);
        tried.extend(done.iter().map(|r| r.seed));
        // Every run of the pair is judged (a bad exit panics in `caught`).
        let caught: Vec<&Run> = done.iter().filter(|r| r.caught()).collect();
        if let Some(run) = caught.first() {
            let page =
                std::fs::read_to_string(run.store.path().join("latest/linearizability.html"))
                    .expect("counterexample page");
            assert!(
                page.contains("read returned"),
                "seed {}: the anomaly is a stale read",
                run.seed
            );
            return;
        }
    }
    panic!("no seed of {tried:?} caught stale lease reads");
}

/// The same lease reads and the same partitions, with honest clocks, are
/// linearizable: aimed at the leader as above, and at random shapes.
#[test]
fn lease_reads_pass_without_clock_faults() {
    let _one = exclusive();
    let aimed: Vec<&str> = [LEASE_UNDER_FAULTS, &["--nemesis", "partition"]].concat();
    let random: &[&str] = &[
        "--reads",
        "lease",
        "--nemesis",
        "partition",
        "--nemesis-interval",
        "1",
        "--time-limit",
        "20",
        "--node-arg=--lease-ms=3000",
    ];
    for run in runs_in_pairs(&[(1, &aimed[..]), (2, random)]) {
        assert!(
            !run.caught(),
            "seed {}: lease reads with honest clocks must be linearizable",
            run.seed
        );
    }
}

/// Basic Paxos with quorum reads under every fault: once reported
/// ANOMALY in 3 of 3 runs of this seed (an acceptor acked `Accept` for
/// slots it knew chosen; proposals moved their commands to a new slot),
/// and its final reads waited out the 30 s recovery timeout (a lagging
/// replica's quorum read waited for slots nobody proposed or sent it).
#[test]
fn basic_paxos_with_quorum_reads_passes_and_recovers_under_every_fault() {
    let _one = exclusive();
    let store = tempfile::tempdir().expect("tempdir");
    let o = run_test(
        store.path(),
        &[
            "--consensus",
            "basic",
            "--reads",
            "quorum",
            "--time-limit",
            "12",
            "--nemesis-interval",
            "2",
            "--seed",
            "410035",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let r = results(store.path());
    assert_eq!(r["verdict"], "valid", "{r}");
    let notes = r["notes"].as_array().expect("notes");
    assert!(
        notes
            .iter()
            .all(|n| !n.as_str().unwrap_or("").contains("did not recover")),
        "the cluster recovered after healing: {notes:?}"
    );
    assert!(
        r["faults"].as_array().expect("faults").len() >= 4,
        "the nemesis acted"
    );
    assert!(no_process_mentions(store.path()), "every node was stopped");
}
