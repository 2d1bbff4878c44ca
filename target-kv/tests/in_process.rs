//! A 3-node cluster in one process, driven message by message: leaders,
//! forwarding, crashes, restarts, partitions, both consensus modes and the
//! read paths.

use target_kv::kv::{Command, KvOp, KvResult};
use target_kv::paxos::sim::Sim;
use target_kv::paxos::{ErrorCode, Mode, ReadMode, Reply, Role, Timer};

fn set(client: u64, seq: u64, key: &str, value: &str) -> Command {
    Command {
        client,
        seq,
        op: KvOp::Set {
            key: key.into(),
            value: value.into(),
        },
    }
}

fn get(client: u64, seq: u64, key: &str) -> Command {
    Command {
        client,
        seq,
        op: KvOp::Get { key: key.into() },
    }
}

fn value(v: &str) -> Reply {
    Reply::Ok(KvResult::Value {
        value: Some(v.into()),
    })
}

fn elect(sim: &mut Sim, node: u64) {
    // Long enough without a leader's word for the timeout to count.
    sim.now_ms += 1_000;
    sim.fire(node, Timer::Election);
    sim.deliver(10_000);
    assert_eq!(
        sim.replicas[&node].role(),
        &Role::Leader,
        "node {node} wins the election"
    );
}

fn assert_same_state(sim: &Sim) {
    let stores: Vec<_> = sim
        .replicas
        .values()
        .map(|r| (r.applied(), r.store().clone()))
        .collect();
    assert!(
        stores.windows(2).all(|w| w[0] == w[1]),
        "replicas diverged: {stores:?}"
    );
}

#[test]
fn multi_paxos_leader_serves_and_followers_forward() {
    let mut sim = Sim::new(3, Mode::Multi, ReadMode::Log);
    // No leader yet: a definite refusal.
    sim.request(2, 1, set(1, 1, "k", "v0"));
    assert_eq!(sim.reply(2, 1), Some(&ErrorCode::NoLeader.reply()));
    elect(&mut sim, 1);
    sim.request(1, 2, set(1, 2, "k", "a"));
    sim.request(3, 3, set(2, 1, "j", "b"));
    sim.deliver(10_000);
    assert_eq!(sim.reply(1, 2), Some(&Reply::Ok(KvResult::Done)));
    assert_eq!(
        sim.reply(3, 3),
        Some(&Reply::Ok(KvResult::Done)),
        "forwarded to the leader and back"
    );
    sim.request(2, 4, get(3, 1, "j"));
    sim.deliver(10_000);
    assert_eq!(sim.reply(2, 4), Some(&value("b")));
    assert_same_state(&sim);
}

#[test]
fn a_new_leader_keeps_every_acknowledged_write() {
    let mut sim = Sim::new(3, Mode::Multi, ReadMode::Log);
    elect(&mut sim, 1);
    for i in 0..20 {
        sim.request(1, i, set(1, i + 1, &format!("k{i}"), "x"));
    }
    sim.deliver(100_000);
    sim.crash(1);
    elect(&mut sim, 2);
    sim.request(2, 100, get(9, 1, "k19"));
    sim.request(3, 101, set(9, 2, "k20", "y"));
    sim.deliver(100_000);
    assert_eq!(sim.reply(2, 100), Some(&value("x")));
    assert_eq!(sim.reply(3, 101), Some(&Reply::Ok(KvResult::Done)));
    // The old leader comes back, learns what it missed, follows.
    sim.restart(1);
    sim.fire(2, Timer::Heartbeat);
    sim.deliver(100_000);
    assert_eq!(sim.replicas[&1].leader(), Some(2));
    assert_same_state(&sim);
}

#[test]
fn an_isolated_leader_cannot_commit_and_a_new_one_is_elected() {
    let mut sim = Sim::new(3, Mode::Multi, ReadMode::Log);
    elect(&mut sim, 1);
    sim.isolate(1);
    sim.request(1, 1, set(1, 1, "k", "lost"));
    sim.deliver(10_000);
    assert_eq!(sim.reply(1, 1), None, "no majority: not acknowledged");
    elect(&mut sim, 2);
    sim.request(2, 2, set(2, 1, "k", "kept"));
    sim.deliver(10_000);
    assert_eq!(sim.reply(2, 2), Some(&Reply::Ok(KvResult::Done)));
    sim.heal();
    sim.fire(2, Timer::Heartbeat);
    sim.deliver(10_000);
    assert_ne!(
        sim.replicas[&1].role(),
        &Role::Leader,
        "the old leader stepped down"
    );
    // Its unacknowledged write was told its fate is unknown, never "done".
    assert_eq!(sim.reply(1, 1), Some(&ErrorCode::LeaderChanged.reply()));
    sim.request(3, 3, get(3, 1, "k"));
    sim.deliver(10_000);
    assert_eq!(sim.reply(3, 3), Some(&value("kept")));
    assert_same_state(&sim);
}

#[test]
fn every_node_restarts_from_its_disk() {
    let mut sim = Sim::new(3, Mode::Multi, ReadMode::Log);
    elect(&mut sim, 3);
    for i in 0..10 {
        sim.request(3, i, set(1, i + 1, "k", &i.to_string()));
    }
    sim.deliver(100_000);
    for n in 1..=3 {
        sim.crash(n);
    }
    for n in 1..=3 {
        sim.restart(n);
    }
    elect(&mut sim, 1);
    sim.request(1, 50, get(2, 1, "k"));
    sim.deliver(100_000);
    assert_eq!(sim.reply(1, 50), Some(&value("9")));
    assert_same_state(&sim);
}

#[test]
fn basic_paxos_resolves_concurrent_proposers() {
    let mut sim = Sim::new(3, Mode::Basic, ReadMode::Log);
    for n in 1..=3u64 {
        sim.request(n, n, set(n, 1, "k", &format!("from {n}")));
    }
    for round in 0..50 {
        sim.deliver(100_000);
        if (1..=3).all(|n| sim.reply(n, n).is_some()) {
            break;
        }
        // Conflicts back off and retry.
        for n in 1..=3 {
            sim.fire(n, Timer::Backoff);
        }
        assert!(round < 49, "proposals never settled");
    }
    for n in 1..=3 {
        assert_eq!(
            sim.reply(n, n),
            Some(&Reply::Ok(KvResult::Done)),
            "node {n}"
        );
    }
    // Every node learns every slot (a read on each goes through the log).
    for n in 1..=3 {
        sim.request(n, 20 + n, get(20 + n, 1, "k"));
    }
    for _ in 0..50 {
        sim.deliver(100_000);
        if (1..=3).all(|n| sim.reply(n, 20 + n).is_some()) {
            break;
        }
        for n in 1..=3 {
            sim.fire(n, Timer::Backoff);
        }
    }
    let answers: Vec<_> = (1..=3).map(|n| sim.reply(n, 20 + n).cloned()).collect();
    assert!(
        matches!(
            answers[0],
            Some(Reply::Ok(KvResult::Value { value: Some(_) }))
        ),
        "{answers:?}"
    );
}

#[test]
fn read_paths() {
    // Quorum reads answer from local state after catching up.
    let mut sim = Sim::new(3, Mode::Multi, ReadMode::Quorum);
    elect(&mut sim, 1);
    sim.request(1, 1, set(1, 1, "k", "v"));
    sim.deliver(10_000);
    sim.request(3, 2, get(2, 1, "k"));
    sim.deliver(10_000);
    assert_eq!(sim.reply(3, 2), Some(&value("v")));

    // Lease reads: only with a lease (granted by heartbeat acks).
    let mut sim = Sim::new(3, Mode::Multi, ReadMode::Lease);
    elect(&mut sim, 1);
    sim.request(1, 1, set(1, 1, "k", "v"));
    sim.deliver(10_000);
    sim.request(1, 2, get(2, 1, "k"));
    assert_eq!(
        sim.reply(1, 2),
        Some(&value("v")),
        "answered at once, under the lease"
    );
    sim.now_ms += 10_000;
    sim.request(1, 3, get(2, 2, "k"));
    assert_eq!(sim.reply(1, 3), None, "lease expired: goes through the log");
    sim.deliver(10_000);
    assert_eq!(sim.reply(1, 3), Some(&value("v")));

    // Local reads are stale on a node cut off from the writes: unsafe.
    let mut sim = Sim::new(3, Mode::Multi, ReadMode::Local);
    elect(&mut sim, 1);
    sim.isolate(3);
    sim.request(1, 1, set(1, 1, "k", "new"));
    sim.deliver(10_000);
    sim.request(3, 2, get(2, 1, "k"));
    assert_eq!(
        sim.reply(3, 2),
        Some(&Reply::Ok(KvResult::Value { value: None }))
    );
}

#[test]
fn snapshots_compact_the_log_and_catch_up_a_lagging_node() {
    for mode in [Mode::Multi, Mode::Basic] {
        let mut sim = Sim::with(3, mode, ReadMode::Log, 5);
        if mode == Mode::Multi {
            elect(&mut sim, 1);
        }
        sim.crash(3);
        for i in 0..23 {
            sim.request(1, i, set(1, i + 1, &format!("k{}", i % 4), &i.to_string()));
            for _ in 0..20 {
                sim.deliver(100_000);
                if sim.reply(1, i).is_some() {
                    break;
                }
                sim.fire(1, Timer::Backoff);
            }
            assert_eq!(
                sim.reply(1, i),
                Some(&Reply::Ok(KvResult::Done)),
                "{mode:?} write {i}"
            );
        }
        let r1 = &sim.replicas[&1];
        assert!(
            r1.log_start() >= 20,
            "{mode:?}: compacted up to {}",
            r1.log_start()
        );
        assert!(r1.durable_records().len() < 20, "{mode:?}: the log shrank");
        // Node 3 was down for all of it; its catch-up needs the snapshot.
        sim.restart(3);
        if mode == Mode::Multi {
            // It learns the leader (and that it lags) from a heartbeat.
            sim.fire(1, Timer::Heartbeat);
            sim.deliver(100_000);
            assert!(sim.replicas[&3].applied() >= 20, "caught up by snapshot");
        }
        sim.request(3, 100, get(9, 1, "k2"));
        for _ in 0..50 {
            sim.deliver(100_000);
            if sim.reply(3, 100).is_some() {
                break;
            }
            if mode == Mode::Multi {
                sim.fire(1, Timer::Heartbeat);
            } else {
                sim.fire(3, Timer::Backoff);
            }
        }
        assert_eq!(sim.reply(3, 100), Some(&value("22")), "{mode:?}");
        // And a restart from snapshot + compacted log keeps everything.
        sim.crash(1);
        sim.restart(1);
        assert_eq!(
            sim.replicas[&1].store(),
            sim.replicas[&2].store(),
            "{mode:?}"
        );
    }
}
