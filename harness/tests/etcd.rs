//! etcd end to end: a real 3-member cluster on loopback, driven through
//! `EtcdClient`, with members killed, restarted, paused and resumed, and
//! every process reaped at the end. Skips (with a message) when no etcd
//! binary is installed.

use harness::client::EtcdClient;
use harness::db::process::proc_state;
use harness::db::{Db, EtcdDb, EtcdOptions};
use std::time::{Duration, Instant};
use workloads::store::{KvClient, StoreError, StoreOp, StoreReply};

/// Per-operation timeout of the clients.
const OP_TIMEOUT: Duration = Duration::from_secs(2);
/// How long the cluster may take to elect a leader after a fault.
const RECOVERY: Duration = Duration::from_secs(10);

fn client(db: &EtcdDb, node: usize, timeout: Duration) -> EtcdClient {
    EtcdClient::new(&db.client_url(node), timeout).expect("an HTTP client")
}

fn get(key: &str) -> StoreOp {
    StoreOp::Get { key: key.into() }
}

fn set(key: &str, value: &str) -> StoreOp {
    StoreOp::Set {
        key: key.into(),
        value: value.into(),
    }
}

fn cas(key: &str, from: Option<&str>, to: &str) -> StoreOp {
    StoreOp::Cas {
        key: key.into(),
        from: from.map(String::from),
        to: to.into(),
    }
}

fn value(v: &str) -> StoreReply {
    StoreReply::Value(Some(v.into()))
}

/// Repeats `op` until etcd answers it (errors are expected for a while
/// after a fault: "no leader", timeouts), at most `within`. Only errors are
/// retried: a wrong answer fails the test at once.
async fn eventually(c: &EtcdClient, op: StoreOp, within: Duration) -> StoreReply {
    let deadline = Instant::now() + within;
    loop {
        match c.call(op.clone()).await {
            Ok(reply) => return reply,
            Err(e) if Instant::now() < deadline => {
                eprintln!("retrying {op:?}: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(e) => panic!("{op:?} still failing after {within:?}: {e}"),
        }
    }
}

/// Polls a process's scheduler state until `want` holds (bounded): signals
/// are delivered asynchronously.
async fn state_becomes(pid: u32, want: impl Fn(Option<char>) -> bool) -> bool {
    for _ in 0..400 {
        if want(proc_state(pid)) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    want(proc_state(pid))
}

#[tokio::test]
async fn a_three_member_cluster_serves_through_kills_restarts_and_pauses() {
    let Some(program) = EtcdDb::find_binary() else {
        eprintln!(
            "skipping: no etcd binary on PATH or at /usr/bin/etcd (apt-get install etcd-server)"
        );
        return;
    };
    let started = Instant::now();
    // Declared before the cluster so it is dropped after it: the members
    // are killed before their directories go.
    let dir = tempfile::tempdir().expect("tempdir");
    let options = EtcdOptions {
        program,
        nodes: 3,
        data_dir: dir.path().join("data"),
        logs_dir: dir.path().join("logs"),
    };
    let mut db = EtcdDb::setup(&options, harness::db::Placement::local()).expect("etcd starts");
    assert_eq!(db.name(), "etcd");
    assert!(db.controls_processes());
    assert_eq!(db.nodes(), 3);
    assert_eq!(db.log_paths().len(), 3);
    db.wait_ready(Duration::from_secs(20))
        .await
        .expect("etcd elects a leader");
    eprintln!("ready after {:?}", started.elapsed());
    let c: Vec<EtcdClient> = (0..3).map(|n| client(&db, n, OP_TIMEOUT)).collect();

    // The basic operations, each read through a member other than the one
    // that wrote (the reads are linearizable).
    assert_eq!(c[0].call(get("missing")).await, Ok(StoreReply::Value(None)));
    assert_eq!(c[0].call(set("k", "v1")).await, Ok(StoreReply::Done));
    assert_eq!(c[1].call(get("k")).await, Ok(value("v1")));
    assert_eq!(
        c[2].call(cas("k", Some("v1"), "v2")).await,
        Ok(StoreReply::Done)
    );
    assert_eq!(
        c[2].call(cas("k", Some("v1"), "v3")).await,
        Ok(StoreReply::CasMismatch)
    );
    assert_eq!(c[0].call(get("k")).await, Ok(value("v2")));
    assert_eq!(
        c[1].call(cas("fresh", None, "a")).await,
        Ok(StoreReply::Done)
    );
    assert_eq!(
        c[1].call(cas("fresh", None, "b")).await,
        Ok(StoreReply::CasMismatch)
    );
    assert_eq!(c[2].call(get("fresh")).await, Ok(value("a")));
    // Comparing a missing key's value fails, even against "".
    assert_eq!(
        c[0].call(cas("absent", Some(""), "x")).await,
        Ok(StoreReply::CasMismatch)
    );
    assert_eq!(c[0].call(set("empty", "")).await, Ok(StoreReply::Done));
    assert_eq!(c[1].call(get("empty")).await, Ok(value("")));
    assert_eq!(
        c[1].call(cas("empty", Some(""), "filled")).await,
        Ok(StoreReply::Done)
    );
    let contains = |k: &str| StoreOp::Contains { key: k.into() };
    let remove = |k: &str| StoreOp::Remove { key: k.into() };
    assert_eq!(
        c[0].call(contains("k")).await,
        Ok(StoreReply::Exists(Some(true)))
    );
    assert_eq!(
        c[0].call(contains("missing")).await,
        Ok(StoreReply::Exists(Some(false)))
    );
    assert_eq!(
        c[1].call(remove("k")).await,
        Ok(StoreReply::Exists(Some(true)))
    );
    assert_eq!(
        c[2].call(remove("k")).await,
        Ok(StoreReply::Exists(Some(false)))
    );
    assert_eq!(c[0].call(get("k")).await, Ok(StoreReply::Value(None)));
    eprintln!("basic operations done after {:?}", started.elapsed());

    // Kill member 1: the other two still form a majority and take writes.
    let pid0 = db.pid(0).expect("member 1 runs");
    db.kill(0).expect("kill");
    assert!(!db.is_running(0));
    assert_eq!(db.pid(0), None);
    assert_eq!(proc_state(pid0), None, "killed and reaped");
    assert_eq!(
        eventually(&c[1], set("down", "written-while-down"), RECOVERY).await,
        StoreReply::Done
    );
    assert_eq!(
        c[2].call(get("down")).await,
        Ok(value("written-while-down"))
    );
    // Nobody listens on the dead member's port: the connection is refused
    // before anything is sent.
    match c[0].call(set("down", "never")).await {
        Err(StoreError::Definite(e)) => eprintln!("dead member: {e}"),
        other => panic!("a dead member must refuse definitely, got {other:?}"),
    }
    eprintln!("kill checked after {:?}", started.elapsed());

    // Restart it: same ports and data; a linearizable read through it sees
    // the write it missed.
    db.start(0).expect("restart");
    assert!(db.is_running(0));
    assert_ne!(db.pid(0), Some(pid0));
    assert_eq!(
        eventually(&c[0], get("down"), RECOVERY).await,
        value("written-while-down")
    );
    eprintln!("restart checked after {:?}", started.elapsed());

    // Pause member 2: it is stopped, a call to it times out (unknown
    // outcome), and the others still take writes.
    let pid1 = db.pid(1).expect("member 2 runs");
    db.pause(1).expect("pause");
    assert!(
        state_becomes(pid1, |s| s == Some('T')).await,
        "stopped: {:?}",
        proc_state(pid1)
    );
    let impatient = client(&db, 1, Duration::from_millis(300));
    match impatient.call(get("down")).await {
        Err(StoreError::Indeterminate(e)) => eprintln!("paused member: {e}"),
        other => panic!("a paused member cannot answer, got {other:?}"),
    }
    assert_eq!(
        eventually(&c[2], set("paused", "yes"), RECOVERY).await,
        StoreReply::Done
    );
    db.resume(1).expect("resume");
    assert!(
        state_becomes(pid1, |s| s.is_some() && s != Some('T')).await,
        "continued"
    );
    assert_eq!(
        eventually(&c[1], get("paused"), RECOVERY).await,
        value("yes")
    );
    eprintln!("pause checked after {:?}", started.elapsed());

    // Pause a majority: once member 3 knows it has no leader it refuses
    // before proposing ("etcdserver: no leader"), which is definite. Until
    // then its answers are timeouts of unknown outcome, so the probe writes
    // go to a key nothing reads.
    let paused: Vec<u32> = (0..2).map(|n| db.pid(n).expect("runs")).collect();
    for n in 0..2 {
        db.pause(n).expect("pause");
    }
    for pid in &paused {
        assert!(state_becomes(*pid, |s| s == Some('T')).await, "stopped");
    }
    let lonely = client(&db, 2, Duration::from_millis(300));
    let deadline = Instant::now() + RECOVERY;
    let refusal = loop {
        match lonely.call(set("probe", "minority")).await {
            Err(StoreError::Definite(e)) => break e,
            Err(StoreError::Indeterminate(_)) if Instant::now() < deadline => {}
            other => panic!("a minority cannot write, got {other:?}"),
        }
    };
    assert!(refusal.contains("no leader"), "{refusal}");
    eprintln!("minority refused after {:?}: {refusal}", started.elapsed());
    for n in 0..2 {
        db.resume(n).expect("resume");
    }
    assert_eq!(
        eventually(&c[2], get("paused"), RECOVERY).await,
        value("yes")
    );
    eprintln!("majority pause checked after {:?}", started.elapsed());

    // Teardown kills and reaps every member.
    let pids: Vec<u32> = (0..3).filter_map(|n| db.pid(n)).collect();
    assert_eq!(pids.len(), 3, "all members run before teardown");
    db.teardown();
    for (n, pid) in pids.iter().enumerate() {
        assert!(!db.is_running(n));
        assert_eq!(
            proc_state(*pid),
            None,
            "member {} (pid {pid}) is gone",
            n + 1
        );
    }
    for log in db.log_paths() {
        assert!(log.exists(), "{} kept", log.display());
    }
    eprintln!("done after {:?}", started.elapsed());
}
