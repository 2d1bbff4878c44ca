//! A 3-node cluster in one process, driven message by message: leaders,
//! forwarding, crashes, restarts, partitions, both consensus modes and the
//! read paths.

use target_kv::kv::{Command, KvOp, KvResult};
use target_kv::paxos::sim::Sim;
use target_kv::paxos::{ErrorCode, Input, Mode, Msg, ReadMode, Record, Reply, Role, Timer};

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

/// After the leader's next heartbeat (Multi-Paxos followers learn the
/// last chosen slots from it), every replica holds the same state.
fn assert_same_state(sim: &mut Sim) {
    sim.heartbeat_leaders();
    sim.deliver(10_000);
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
    assert_same_state(&mut sim);
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
    assert_same_state(&mut sim);
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
    assert_same_state(&mut sim);
}

/// Crashes nodes 1..=n, then restarts each from its disk.
fn restart_all(sim: &mut Sim, n: u64) {
    for node in 1..=n {
        sim.crash(node);
    }
    for node in 1..=n {
        sim.restart(node);
    }
}

#[test]
fn every_node_restarts_from_its_disk() {
    let mut sim = Sim::new(3, Mode::Multi, ReadMode::Log);
    elect(&mut sim, 3);
    for i in 0..10 {
        sim.request(3, i, set(1, i + 1, "k", &i.to_string()));
    }
    sim.deliver(100_000);
    restart_all(&mut sim, 3);
    elect(&mut sim, 1);
    sim.request(1, 50, get(2, 1, "k"));
    sim.deliver(100_000);
    assert_eq!(sim.reply(1, 50), Some(&value("9")));
    assert_same_state(&mut sim);
}

/// What a node learned it accepted is logged without a second copy of the
/// value (`Record::ChosenAccepted`), and a restart still knows it chosen:
/// every node comes back with the first unchosen slot it had, before any
/// leader speaks. A record naming no accepted value is forgotten, not
/// believed.
#[test]
fn a_restart_remembers_what_was_learned_from_the_accepted_values() {
    let mut sim = Sim::new(3, Mode::Multi, ReadMode::Log);
    elect(&mut sim, 2);
    // One at a time: each in a slot of its own (requests that arrive
    // together while a slot is out share the next one).
    for i in 0..10 {
        sim.request(2, i, set(1, i + 1, "k", &i.to_string()));
        sim.deliver(100_000);
    }
    sim.heartbeat_leaders();
    sim.deliver(100_000);
    let before: Vec<u64> = (1..=3).map(|n| sim.replicas[&n].first_unchosen()).collect();
    assert!(before.iter().all(|f| *f >= 10), "{before:?}");
    for n in 1..=3 {
        let disk = &sim.disks[&n];
        let named = disk
            .iter()
            .filter(|r| matches!(r, Record::ChosenAccepted { .. }))
            .count();
        let copied = disk
            .iter()
            .filter(|r| matches!(r, Record::Chosen { .. }))
            .count();
        assert!(named >= 10, "node {n}: {named} named, {copied} copied");
        assert_eq!(copied, 0, "node {n} learned only what it accepted");
    }
    restart_all(&mut sim, 3);
    let after: Vec<u64> = (1..=3).map(|n| sim.replicas[&n].first_unchosen()).collect();
    assert_eq!(after, before, "each node knows what it had learned");
    elect(&mut sim, 1);
    sim.request(1, 50, get(2, 1, "k"));
    sim.deliver(100_000);
    assert_eq!(sim.reply(1, 50), Some(&value("9")));
    assert_same_state(&mut sim);

    // A name without its accepted value (never written so) is not believed.
    let cfg = target_kv::paxos::Config::new(1, vec![1, 2, 3]);
    let ballot = target_kv::paxos::Ballot { round: 4, node: 2 };
    let other = target_kv::paxos::Ballot { round: 3, node: 2 };
    let batch = target_kv::paxos::Batch::from(vec![set(1, 1, "k", "v")]);
    let records = [
        Record::Accepted {
            slot: 0,
            ballot: other,
            batch,
        },
        Record::ChosenAccepted { slot: 0, ballot },
        Record::ChosenAccepted { slot: 1, ballot },
    ];
    let r = target_kv::paxos::Replica::new(cfg, &records);
    assert_eq!(r.first_unchosen(), 0, "nothing learned");
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
        // And a restart from snapshot + compacted log keeps everything
        // (once node 2 has heard the last slot, from a heartbeat).
        if mode == Mode::Multi {
            sim.fire(1, Timer::Heartbeat);
            sim.deliver(100_000);
        }
        sim.crash(1);
        sim.restart(1);
        assert_eq!(
            sim.replicas[&1].store(),
            sim.replicas[&2].store(),
            "{mode:?}"
        );
    }
}

/// Fires `node`'s heartbeat timer and delivers everything, `rounds` times,
/// 50 ms apart.
fn heartbeats(sim: &mut Sim, node: u64, rounds: usize) {
    for _ in 0..rounds {
        sim.now_ms += 50;
        sim.fire(node, Timer::Heartbeat);
        sim.deliver(1_000_000);
    }
}

/// The shape of a wedge seen under partitions and clock faults with lease
/// reads: a node cut off for a long time (thousands of slots behind, its
/// round climbing as it campaigns alone) comes back, makes the leader step
/// down, and wins the next election. It must learn every slot it missed
/// and serve again; before, it asked once for one batch of 256 slots and
/// then waited forever, while its heartbeats kept everyone else from
/// electing a leader that could make progress.
#[test]
fn a_leader_elected_far_behind_catches_up_and_serves() {
    let mut sim = Sim::new(3, Mode::Multi, ReadMode::Lease);
    elect(&mut sim, 1);
    sim.isolate(3);
    let writes = 1_000;
    for i in 0..writes {
        sim.request(1, i, set(1, i + 1, "k", &i.to_string()));
        sim.deliver(100);
        // A clock fault on the node that will be left behind, meanwhile.
        if i == writes / 2 {
            sim.skew_ms.insert(3, 4_000);
        }
    }
    assert_eq!(sim.reply(1, writes - 1), Some(&Reply::Ok(KvResult::Done)));
    // Alone, node 3 keeps campaigning: its round climbs past the leader's.
    for _ in 0..5 {
        sim.now_ms += 1_000;
        sim.fire(3, Timer::Election);
        sim.deliver(1_000_000);
    }
    sim.skew_ms.insert(3, -2_000);
    sim.heal();
    // The leader's heartbeat meets node 3's higher promise: it steps down
    // and takes node 3 for the leader, so it promises node 3 at once (node
    // 2 still honours the lease it granted node 1, and does not).
    sim.fire(1, Timer::Heartbeat);
    sim.deliver(1_000_000);
    assert_ne!(
        sim.replicas[&1].role(),
        &Role::Leader,
        "node 1 stepped down"
    );
    assert!(
        sim.replicas[&3].applied() + writes <= sim.replicas[&1].applied(),
        "node 3 campaigns {} slots behind",
        sim.replicas[&1].applied() - sim.replicas[&3].applied()
    );
    sim.fire(3, Timer::Election);
    sim.deliver(1_000_000);
    assert_eq!(sim.replicas[&3].role(), &Role::Leader, "node 3 won");
    sim.skew_ms.clear();
    // A few heartbeat periods later it has caught up and serves.
    heartbeats(&mut sim, 3, 10);
    assert!(
        sim.replicas[&3].applied() >= sim.replicas[&1].applied(),
        "the new leader caught up: applied {} of {}",
        sim.replicas[&3].applied(),
        sim.replicas[&1].applied()
    );
    sim.request(2, 5_000, set(2, 1, "k", "after"));
    sim.deliver(1_000_000);
    assert_eq!(sim.reply(2, 5_000), Some(&Reply::Ok(KvResult::Done)));
    heartbeats(&mut sim, 3, 2);
    sim.request(3, 5_001, get(3, 1, "k"));
    assert_eq!(
        sim.reply(3, 5_001),
        Some(&value("after")),
        "a lease read, answered at once"
    );
    sim.request(1, 5_002, get(4, 1, "k"));
    sim.deliver(1_000_000);
    assert_eq!(sim.reply(1, 5_002), Some(&value("after")));
    assert_same_state(&mut sim);
}

/// A clock that jumps back (a fault healed: the clock was ahead and is
/// reset) must not leave readings from before the jump in force: a
/// follower would refuse every other candidate, and sit out elections,
/// until its clock caught up with them (as long as the jump), and a
/// leader's lease would outlast the fault by as much. Lease reads are
/// unsafe *while* clocks are wrong; once they are right again, leases
/// last at most `lease_ms`.
#[test]
fn a_clock_that_jumps_back_neither_stalls_elections_nor_stretches_leases() {
    let mut sim = Sim::new(3, Mode::Multi, ReadMode::Lease);
    let jump_ms = 60_000;
    sim.skew_ms.insert(1, jump_ms);
    sim.skew_ms.insert(2, jump_ms);
    elect(&mut sim, 1);
    sim.request(1, 1, set(1, 1, "k", "old"));
    sim.deliver(10_000);
    heartbeats(&mut sim, 1, 1);
    sim.request(1, 2, get(2, 1, "k"));
    assert_eq!(sim.reply(1, 2), Some(&value("old")), "a lease read");
    // The leader is cut off; then both clocks are set right (a jump back).
    sim.isolate(1);
    sim.skew_ms.clear();
    // Their timers still fire on time: both see the clock go back.
    sim.fire(1, Timer::Heartbeat);
    sim.fire(2, Timer::Election);
    sim.deliver(10_000);
    // Well past the lease node 2 granted, by any clock that is right now.
    sim.now_ms += 2_000;
    elect(&mut sim, 3);
    sim.request(3, 3, set(3, 1, "k", "new"));
    sim.deliver(10_000);
    assert_eq!(sim.reply(3, 3), Some(&Reply::Ok(KvResult::Done)));
    // The old leader's lease ended with the fault: no stale local answer.
    sim.request(1, 4, get(4, 1, "k"));
    assert_eq!(sim.reply(1, 4), None, "goes through the log (cut off)");
    sim.heal();
    heartbeats(&mut sim, 3, 2);
    assert_eq!(
        sim.reply(1, 4),
        Some(&ErrorCode::LeaderChanged.reply()),
        "proposed, then abandoned when it stepped down; never answered stale"
    );
    assert_same_state(&mut sim);
}

/// Lease safety with honest clocks: when the leader is cut off, its two
/// followers both time out. Neither may promise the other (nor itself)
/// while the lease they granted may still be serving reads; once it has
/// run out, a new leader is elected and the old one no longer answers from
/// its lease. (`skeptic test` found the first version electing at once: a
/// node that started its own election forgot which leader it had granted a
/// lease to.)
#[test]
fn followers_of_a_cut_off_leader_wait_out_the_lease_they_granted() {
    let mut sim = Sim::new(3, Mode::Multi, ReadMode::Lease);
    elect(&mut sim, 1);
    sim.request(1, 1, set(1, 1, "k", "old"));
    sim.deliver(10_000);
    heartbeats(&mut sim, 1, 1);
    sim.isolate(1);
    // Past the election timeout, inside the lease: both campaign.
    sim.now_ms += 400;
    sim.fire(2, Timer::Election);
    sim.fire(3, Timer::Election);
    sim.deliver(10_000);
    for n in [2, 3] {
        assert_ne!(
            sim.replicas[&n].role(),
            &Role::Leader,
            "node {n} waits out the lease"
        );
    }
    sim.request(3, 2, set(3, 1, "k", "new"));
    sim.deliver(10_000);
    assert_ne!(
        sim.reply(3, 2),
        Some(&Reply::Ok(KvResult::Done)),
        "no write while the lease lives"
    );
    // The old leader may still answer from its lease: nobody else can write.
    sim.request(1, 3, get(4, 1, "k"));
    assert_eq!(sim.reply(1, 3), Some(&value("old")));
    // After the lease: a new leader takes the write, the old one stops.
    elect(&mut sim, 2);
    sim.request(2, 4, set(3, 2, "k", "new"));
    sim.deliver(10_000);
    assert_eq!(sim.reply(2, 4), Some(&Reply::Ok(KvResult::Done)));
    sim.request(1, 5, get(4, 2, "k"));
    assert_eq!(
        sim.reply(1, 5),
        None,
        "the old lease has run out: no local answer"
    );
}

/// The commands of the leader's Accepts in the network, one entry per
/// Accept (no-op slots aside).
fn accepted_batches(sim: &Sim, leader: u64) -> Vec<usize> {
    sim.network
        .iter()
        .filter_map(|(from, _, m)| match m {
            Msg::Accept { batch, .. } if *from == leader && !batch.0.is_empty() => {
                Some(batch.0.len())
            }
            _ => None,
        })
        .collect()
}

/// Group commit: with room in the pipeline, a part batch waits until it
/// is as large as the last part batch the leader opened, or until its
/// timer fires; one command at a time never waits.
#[test]
fn a_part_batch_waits_for_as_many_as_the_last_or_for_its_timer() {
    let mut sim = Sim::new(3, Mode::Multi, ReadMode::Log);
    elect(&mut sim, 1);
    let write = |seq: u64| (seq, set(1, seq, "k", &seq.to_string()));
    sim.input(1, Input::Requests(vec![write(1)]));
    assert_eq!(accepted_batches(&sim, 1), vec![1, 1], "alone: at once");
    sim.deliver(10_000);
    sim.input(1, Input::Requests((2..=5).map(write).collect()));
    assert_eq!(accepted_batches(&sim, 1), vec![4, 4], "four together");
    sim.deliver(10_000);
    assert!((1..=5).all(|r| sim.reply(1, r) == Some(&Reply::Ok(KvResult::Done))));

    // Four came together: a lone command waits for company...
    sim.input(1, Input::Requests(vec![write(6)]));
    assert!(accepted_batches(&sim, 1).is_empty(), "held for company");
    sim.input(1, Input::Requests((7..=9).map(write).collect()));
    assert_eq!(
        accepted_batches(&sim, 1),
        vec![4, 4],
        "one slot for all four"
    );
    sim.deliver(10_000);
    assert!((6..=9).all(|r| sim.reply(1, r) == Some(&Reply::Ok(KvResult::Done))));

    // ...or for its timer, which lowers the mark to what came.
    sim.input(1, Input::Requests(vec![write(10)]));
    assert!(accepted_batches(&sim, 1).is_empty(), "held for company");
    sim.fire(1, Timer::Batch);
    assert_eq!(accepted_batches(&sim, 1), vec![1, 1], "the wait is over");
    sim.deliver(10_000);
    assert_eq!(sim.reply(1, 10), Some(&Reply::Ok(KvResult::Done)));
    sim.input(1, Input::Requests(vec![write(11)]));
    assert_eq!(
        accepted_batches(&sim, 1),
        vec![1, 1],
        "alone again: at once"
    );
}
