//! Each fault of the nemesis, on a real 3-node cluster of the bundled
//! store: it takes effect (seen independently of the nemesis's own checks:
//! through the node's status, its process state, and what clients get) and
//! it is undone.

use checker::RecordType;
use harness::client::SkepticClient;
use harness::db::process::proc_state;
use harness::db::{BundledDb, BundledOptions, Db};
use harness::nemesis::partition::PartitionShape;
use harness::nemesis::plan::{ClockFault, FaultKind, FaultPlan, Targets};
use harness::nemesis::{lock_db, Nemesis, SharedDb};
use harness::recorder::Recorder;
use serde_json::Value as Json;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use workloads::store::{KvClient, StoreError, StoreOp, StoreReply};

struct Cluster {
    db: SharedDb,
    nemesis: Nemesis,
    recorder: Arc<Recorder>,
    _dir: tempfile::TempDir,
}

fn cluster() -> Cluster {
    cluster_with("log", &[])
}

fn cluster_with(reads: &str, extra: &[&str]) -> Cluster {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = BundledDb::setup(
        &BundledOptions {
            program: env!("CARGO_BIN_EXE_skeptic").into(),
            nodes: 3,
            consensus: "multi".into(),
            reads: reads.into(),
            fsync: "always".into(),
            node_op_timeout_ms: 1000,
            data_dir: dir.path().join("data"),
            logs_dir: dir.path().join("logs"),
            extra_args: extra.iter().map(|a| a.to_string()).collect(),
        },
        harness::db::Placement::local(),
    )
    .expect("cluster starts");
    let db: SharedDb = Arc::new(Mutex::new(Box::new(db) as Box<dyn Db>));
    let recorder = Arc::new(Recorder::create(&dir.path().join("history.jsonl")).expect("history"));
    let nemesis = Nemesis::new(db.clone(), recorder.clone()).expect("nemesis");
    Cluster {
        db,
        nemesis,
        recorder,
        _dir: dir,
    }
}

fn client(c: &Cluster, node: usize, timeout_ms: u64) -> SkepticClient {
    let url = lock_db(&c.db).client_url(node);
    SkepticClient::new(&url, Duration::from_millis(timeout_ms)).expect("client")
}

/// Retries a write through a node until it succeeds (bounded): the node is
/// part of a working majority.
async fn serves_writes(c: &Cluster, node: usize) -> bool {
    let cl = client(c, node, 2000);
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        let op = StoreOp::Set {
            key: "probe".into(),
            value: format!("n{node}"),
        };
        if cl.call(op).await == Ok(StoreReply::Done) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

/// Waits (bounded) until every node names the same leader: the strobe
/// before may have caused an election.
async fn agreed_leader(c: &Cluster) -> usize {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let mut named = Vec::new();
        for n in 0..3 {
            named.push(status(c, n).await["leader"].as_u64());
        }
        if let Some(Some(id)) = named.first().copied() {
            if named.iter().all(|&l| l == Some(id)) {
                return id as usize - 1;
            }
        }
        assert!(Instant::now() < deadline, "no agreed leader: {named:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn status(c: &Cluster, node: usize) -> Json {
    c.nemesis.status(node).await.expect("status")
}

fn pid(c: &Cluster, node: usize) -> u32 {
    lock_db(&c.db).pid(node).expect("running")
}

fn nemesis_records(c: &Cluster) -> Vec<String> {
    c.recorder
        .records()
        .into_iter()
        .filter(|r| r.kind == RecordType::Info)
        .map(|r| r.f)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partition_isolates_a_node_and_heals() {
    let mut c = cluster();
    for n in 0..3 {
        assert!(
            serves_writes(&c, n).await,
            "n{} serves before the fault",
            n + 1
        );
    }
    let ev = c
        .nemesis
        .start(&FaultPlan::Partition {
            shape: PartitionShape::IsolateOne,
            shuffled: vec![0, 1, 2],
        })
        .await;
    assert_eq!(ev.problem, None, "{ev:?}");
    let s = status(&c, 0).await;
    assert_eq!(s["blocked"], serde_json::json!([2, 3]));
    assert_eq!(s["reachable"]["2"], Json::Bool(false));
    assert_eq!(status(&c, 1).await["blocked"], serde_json::json!([1]));
    // The majority side still works; the isolated node cannot commit.
    assert!(serves_writes(&c, 1).await);
    let isolated = client(&c, 0, 1500);
    let lone = isolated
        .call(StoreOp::Set {
            key: "lone".into(),
            value: "x".into(),
        })
        .await;
    assert!(lone.is_err(), "an isolated node cannot commit a write");
    let ev = c
        .nemesis
        .stop(FaultKind::Partition)
        .await
        .expect("was active");
    assert_eq!(ev.problem, None, "{ev:?}");
    for n in 0..3 {
        assert_eq!(status(&c, n).await["blocked"], serde_json::json!([]));
    }
    assert!(serves_writes(&c, 0).await, "healed: the node commits again");
    assert_eq!(nemesis_records(&c), ["start-partition", "stop-partition"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_stops_the_process_and_restart_brings_it_back() {
    let mut c = cluster();
    assert!(serves_writes(&c, 2).await);
    let before = pid(&c, 2);
    let ev = c
        .nemesis
        .start(&FaultPlan::Kill(Targets::Nodes(vec![2])))
        .await;
    assert_eq!(ev.problem, None, "{ev:?}");
    assert_eq!(proc_state(before), None, "killed and reaped");
    let refused = client(&c, 2, 1000)
        .call(StoreOp::Get { key: "k".into() })
        .await;
    assert!(
        matches!(refused, Err(StoreError::Definite(_))),
        "{refused:?}"
    );
    assert!(serves_writes(&c, 0).await, "the majority carries on");
    let ev = c.nemesis.stop(FaultKind::Kill).await.expect("was active");
    assert_eq!(ev.problem, None, "{ev:?}");
    assert_ne!(pid(&c, 2), before, "a new process");
    assert!(serves_writes(&c, 2).await, "restarted node serves");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pause_stops_the_process_and_resume_continues_it() {
    let mut c = cluster();
    assert!(serves_writes(&c, 1).await);
    let p = pid(&c, 1);
    let ev = c
        .nemesis
        .start(&FaultPlan::Pause(Targets::Nodes(vec![1])))
        .await;
    assert_eq!(ev.problem, None, "{ev:?}");
    assert_eq!(proc_state(p), Some('T'));
    let stuck = client(&c, 1, 500)
        .call(StoreOp::Get { key: "k".into() })
        .await;
    assert!(
        matches!(stuck, Err(StoreError::Indeterminate(_))),
        "a paused node accepts the connection but never answers: {stuck:?}"
    );
    let ev = c.nemesis.stop(FaultKind::Pause).await.expect("was active");
    assert_eq!(ev.problem, None, "{ev:?}");
    assert_ne!(proc_state(p), Some('T'));
    assert_eq!(pid(&c, 1), p, "the same process carries on");
    assert!(serves_writes(&c, 1).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clock_faults_move_the_clock_and_reset_puts_it_back() {
    let mut c = cluster();
    for n in 0..3 {
        assert!(serves_writes(&c, n).await);
    }
    let offset = |s: &Json| s["clock"]["offset_ms"].as_i64().expect("offset");
    let bump = FaultPlan::Clock(vec![ClockFault::Bump {
        node: 0,
        offset_ms: 4000,
    }]);
    let ev = c.nemesis.start(&bump).await;
    assert_eq!(ev.problem, None, "{ev:?}");
    assert!((offset(&status(&c, 0).await) - 4000).abs() < 500);
    assert!(
        offset(&status(&c, 1).await).abs() < 100,
        "other nodes untouched"
    );
    let ev = c.nemesis.stop(FaultKind::Clock).await.expect("was active");
    assert_eq!(ev.problem, None, "{ev:?}");
    assert!(offset(&status(&c, 0).await).abs() < 100);

    // Several nodes at once, each its own way.
    let two = FaultPlan::Clock(vec![
        ClockFault::Bump {
            node: 0,
            offset_ms: 3000,
        },
        ClockFault::Drift {
            node: 1,
            rate: 0.25,
        },
    ]);
    assert_eq!(c.nemesis.start(&two).await.problem, None);
    assert!(offset(&status(&c, 0).await) > 2500);
    assert_eq!(status(&c, 1).await["clock"]["rate"].as_f64(), Some(0.25));
    assert_eq!(
        c.nemesis
            .stop(FaultKind::Clock)
            .await
            .expect("active")
            .problem,
        None
    );
    assert_eq!(status(&c, 1).await["clock"]["rate"].as_f64(), Some(1.0));
    assert!(offset(&status(&c, 0).await).abs() < 100);

    let drift = FaultPlan::Clock(vec![ClockFault::Drift { node: 2, rate: 4.0 }]);
    assert_eq!(c.nemesis.start(&drift).await.problem, None);
    assert_eq!(status(&c, 2).await["clock"]["rate"].as_f64(), Some(4.0));
    c.nemesis.stop(FaultKind::Clock).await;
    assert_eq!(status(&c, 2).await["clock"]["rate"].as_f64(), Some(1.0));

    let strobe = FaultPlan::Clock(vec![ClockFault::Strobe {
        node: 1,
        delta_ms: 2000,
        period_ms: 20,
    }]);
    assert_eq!(c.nemesis.start(&strobe).await.problem, None);
    // The clock flips between two offsets about 2 s apart.
    let mut seen = std::collections::BTreeSet::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    while seen.len() < 2 && Instant::now() < deadline {
        seen.insert(offset(&status(&c, 1).await) / 1000);
    }
    assert!(seen.len() >= 2, "strobing: offsets seen {seen:?}");
    c.nemesis.stop(FaultKind::Clock).await;
    let settled = offset(&status(&c, 1).await);
    assert!(settled.abs() < 100, "reset after strobe: {settled}");

    // Aimed at the leader: it lands on the node the cluster names leader,
    // not on the fallback, which is picked to be another node.
    let leader = agreed_leader(&c).await;
    let other = (leader + 1) % 3;
    let slow = FaultPlan::LeaderClock(ClockFault::Drift {
        node: other,
        rate: 0.25,
    });
    let ev = c.nemesis.start(&slow).await;
    assert_eq!(ev.problem, None, "{ev:?}");
    let rate = |s: &Json| s["clock"]["rate"].as_f64();
    assert_eq!(rate(&status(&c, leader).await), Some(0.25), "{ev:?}");
    assert_eq!(rate(&status(&c, other).await), Some(1.0), "{ev:?}");
    c.nemesis.stop(FaultKind::Clock).await;
    assert_eq!(rate(&status(&c, leader).await), Some(1.0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn heal_all_undoes_overlapping_faults() {
    let mut c = cluster();
    for n in 0..3 {
        assert!(serves_writes(&c, n).await);
    }
    let p = pid(&c, 2);
    c.nemesis
        .start(&FaultPlan::Partition {
            shape: PartitionShape::Bridge,
            shuffled: vec![0, 1, 2],
        })
        .await;
    assert_eq!(
        c.nemesis.partition_grudge().map(|g| g[0].clone()),
        Some([2].into_iter().collect())
    );
    c.nemesis
        .start(&FaultPlan::Pause(Targets::Nodes(vec![2])))
        .await;
    c.nemesis
        .start(&FaultPlan::Kill(Targets::Nodes(vec![1])))
        .await;
    c.nemesis
        .start(&FaultPlan::Clock(vec![ClockFault::Bump {
            node: 0,
            offset_ms: -1000,
        }]))
        .await;
    assert_eq!(c.nemesis.active_kinds().len(), 4);
    c.nemesis.heal_all().await;
    assert!(c.nemesis.active_kinds().is_empty());
    assert!(
        c.nemesis.events().iter().all(|e| e.problem.is_none()),
        "{:?}",
        c.nemesis.events()
    );
    assert_ne!(proc_state(p), Some('T'));
    for n in 0..3 {
        let s = status(&c, n).await;
        assert_eq!(s["blocked"], serde_json::json!([]), "n{}", n + 1);
        assert!(s["clock"]["offset_ms"].as_i64().expect("offset").abs() < 100);
        assert!(serves_writes(&c, n).await);
    }
}

/// What a read through the isolated old leader returns after the majority
/// has written a new value: `None` if it did not answer.
async fn read_after_isolating_the_leader(slow_leader_clock: bool) -> Option<String> {
    let mut c = cluster_with("lease", &["--lease-ms", "3000"]);
    for n in 0..3 {
        assert!(serves_writes(&c, n).await);
    }
    let leader = c.nemesis.leader().await.expect("a leader");
    let set = |v: &str| StoreOp::Set {
        key: "a".into(),
        value: v.into(),
    };
    assert_eq!(
        client(&c, leader, 2000).call(set("old")).await,
        Ok(StoreReply::Done)
    );
    if slow_leader_clock {
        let slow = FaultPlan::Clock(vec![ClockFault::Drift {
            node: leader,
            rate: 0.25,
        }]);
        assert_eq!(c.nemesis.start(&slow).await.problem, None);
    }
    let cut = FaultPlan::Partition {
        shape: PartitionShape::IsolateLeader,
        shuffled: vec![0, 1, 2],
    };
    let ev = c.nemesis.start(&cut).await;
    assert_eq!(ev.problem, None, "{ev:?}");
    let isolated: Vec<usize> = (0..3)
        .filter(|&n| {
            c.nemesis
                .partition_grudge()
                .is_some_and(|g| g[n].len() == 2)
        })
        .collect();
    assert_eq!(isolated, vec![leader], "the leader is the one cut off");
    // The majority elects a new leader and takes the write (bounded).
    let follower = (leader + 1) % 3;
    let deadline = Instant::now() + Duration::from_secs(20);
    let fc = client(&c, follower, 2000);
    while fc.call(set("new")).await != Ok(StoreReply::Done) {
        assert!(
            Instant::now() < deadline,
            "the majority never took the write"
        );
    }
    let read = client(&c, leader, 1000)
        .call(StoreOp::Get { key: "a".into() })
        .await;
    c.nemesis.heal_all().await;
    match read {
        Ok(StoreReply::Value(v)) => v,
        _ => None,
    }
}

/// The clock nemesis's effect on a store that trusts clocks: with the old
/// leader's clock slowed, its lease outlives the election of a new leader
/// and it serves a stale read; with honest clocks it does not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_leader_clock_makes_lease_reads_stale() {
    assert_eq!(
        read_after_isolating_the_leader(true).await.as_deref(),
        Some("old"),
        "a slowed clock keeps the old lease alive"
    );
    let honest = read_after_isolating_the_leader(false).await;
    assert_ne!(
        honest.as_deref(),
        Some("old"),
        "honest clocks: no stale read"
    );
}
