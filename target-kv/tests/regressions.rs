//! Regression tests for the bugs the safety review found (fixed in 5536b9f
//! and later; the code before the fixes is 29434a0). Each test drives the
//! schedule that exposed its bug through the public API only: the
//! hand-driven [`Sim`] (whose message queue is public, so a test can drop,
//! hold back, duplicate or deliver one message), a bare [`Replica`], or the
//! node [`Shell`] over a disk in memory. Each fails on the code without its
//! fix.

use target_kv::kv::{anonymous_seq, Command, KvOp, KvResult};
use target_kv::paxos::sim::Sim;
use target_kv::paxos::{
    Ballot, Batch, Config, ErrorCode, Input, Mode, Msg, NodeId, Output, ReadMode, Replica, Reply,
    RequestId, Role, Slot, Timer, ID_COUNTER_BITS,
};
use target_kv::shell::{Durable, Effects, Now, Shell};

// ---- commands and replies ----

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

/// A write without a session (client 0), numbered as node `node`'s shell
/// numbers its `counter`-th request of its first life.
fn anon(node: NodeId, counter: u64, key: &str, value: &str) -> Command {
    set(
        0,
        anonymous_seq(node, (1 << ID_COUNTER_BITS) | counter),
        key,
        value,
    )
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

fn done() -> Reply {
    Reply::Ok(KvResult::Done)
}

fn ballot(round: u64, node: NodeId) -> Ballot {
    Ballot { round, node }
}

// ---- driving the simulator by hand ----

/// A message in flight: (from, to, message).
type Net = (NodeId, NodeId, Msg);

/// Removes every message in flight that matches `pred` and returns them,
/// in queue order (to drop them, or to deliver them later).
fn take(sim: &mut Sim, pred: impl Fn(&Net) -> bool) -> Vec<Net> {
    let (taken, kept): (Vec<Net>, Vec<Net>) =
        std::mem::take(&mut sim.network).into_iter().partition(pred);
    sim.network = kept.into();
    taken
}

/// Delivers one message now, as [`Sim::deliver`] would (a cut link drops it).
fn send(sim: &mut Sim, (from, to, msg): Net) {
    if sim.cut.contains(&(from, to)) || sim.cut.contains(&(to, from)) {
        return;
    }
    sim.input(to, Input::Message { from, msg });
}

/// Delivers, in queue order, the messages that match `pred`, and those
/// they cause that match it too, until none in flight does; the others stay
/// queued, in order. (Bounded: a schedule that never quiesces fails.)
fn run(sim: &mut Sim, pred: impl Fn(&Net) -> bool) {
    for _ in 0..100_000 {
        let Some(i) = sim.network.iter().position(&pred) else {
            return;
        };
        let m = sim.network.remove(i).expect("found");
        send(sim, m);
    }
    panic!("messages never stop: {:?}", sim.network.front());
}

/// Delivers everything, losing on the way every message that matches `lost`.
fn deliver_losing(sim: &mut Sim, lost: impl Fn(&Net) -> bool) {
    while let Some(m) = sim.network.pop_front() {
        if !lost(&m) {
            send(sim, m);
        }
    }
}

fn elect(sim: &mut Sim, node: NodeId) {
    // Long enough without a leader's word for the timeout to count.
    sim.now_ms += 1_000;
    sim.fire(node, Timer::Election);
    sim.deliver(1_000_000);
    assert_eq!(
        sim.replicas[&node].role(),
        &Role::Leader,
        "node {node} wins the election"
    );
}

/// How many times `cmd` occurs in the chosen slots `r` knows (within a
/// batch too), and in which slots.
fn occurrences(r: &Replica, cmd: &Command) -> (usize, Vec<Slot>) {
    let mut n = 0;
    let mut slots = Vec::new();
    for (slot, batch) in r.chosen() {
        let here = batch.0.iter().filter(|c| *c == cmd).count();
        if here > 0 {
            n += here;
            slots.push(*slot);
        }
    }
    (n, slots)
}

/// `cmd` is chosen exactly once, in one slot, on every replica that is up.
fn assert_chosen_once(sim: &Sim, cmd: &Command, what: &str) {
    for (id, r) in &sim.replicas {
        let (n, slots) = occurrences(r, cmd);
        assert_eq!(
            n, 1,
            "{what}: node {id} has {cmd:?} chosen {n} times, in slots {slots:?}"
        );
    }
}

/// No two replicas know different values chosen in one slot.
fn assert_agree(sim: &Sim) {
    for (a, ra) in &sim.replicas {
        for (b, rb) in &sim.replicas {
            for (slot, va) in ra.chosen() {
                if let Some(vb) = rb.chosen().get(slot) {
                    assert_eq!(va, vb, "nodes {a} and {b} disagree on slot {slot}");
                }
            }
        }
    }
}

/// After the leader's next heartbeat (Multi-Paxos followers learn the
/// last chosen slots from it), every replica holds the same state.
fn assert_same_state(sim: &mut Sim) {
    sim.heartbeat_leaders();
    sim.deliver(1_000_000);
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

// ---- driving one replica by hand ----

fn step(r: &mut Replica, now_ms: u64, input: Input) -> Vec<Output> {
    let mut out = Vec::new();
    r.step(now_ms, input, &mut out);
    r.check_invariants().expect("invariants hold");
    out
}

fn msg(from: NodeId, msg: Msg) -> Input {
    Input::Message { from, msg }
}

/// The messages in `out` addressed to `to`.
fn sent_to(out: &[Output], to: NodeId) -> Vec<&Msg> {
    out.iter()
        .filter_map(|o| match o {
            Output::Send { to: t, msg } if *t == to => Some(msg),
            _ => None,
        })
        .collect()
}

// ---- a node shell over a disk in memory ----

/// A disk in memory (as the shell's own unit tests use).
#[derive(Clone, Default)]
struct MemDisk {
    wal: Vec<Vec<u8>>,
    snapshot: Option<Vec<u8>>,
}

impl Durable for MemDisk {
    type Error = String;
    fn append(&mut self, records: &[Vec<u8>], _sync: bool) -> Result<(), String> {
        self.wal.extend(records.iter().cloned());
        Ok(())
    }
    fn sync(&mut self) -> Result<(), String> {
        Ok(())
    }
    fn write_snapshot(&mut self, snapshot: &[u8]) -> Result<(), String> {
        self.snapshot = Some(snapshot.to_vec());
        Ok(())
    }
    fn rewrite(&mut self, records: &[Vec<u8>]) -> Result<(), String> {
        self.wal = records.to_vec();
        Ok(())
    }
}

fn at(ms: u64) -> Now {
    Now {
        mono_ms: ms,
        clock_ms: ms,
    }
}

/// Boots (or recovers) node `cfg.id`'s shell from `disk`.
fn boot(cfg: &Config, disk: &mut MemDisk, now_ms: u64) -> Shell<u32> {
    let mut shell: Shell<u32> =
        Shell::recover(cfg.clone(), None, disk.snapshot.as_deref(), &disk.wal, 7)
            .expect("recovers");
    shell.start(at(now_ms), disk).expect("no disk error");
    shell
}

/// A heartbeat from leader 1 at ballot (1, 1).
fn heartbeat_from_1(sent_ms: u64) -> Msg {
    Msg::Heartbeat {
        ballot: ballot(1, 1),
        first_unchosen: 0,
        sent_ms,
    }
}

/// The request id of the `Forward` among `fx`'s sends.
fn forwarded_id(fx: &Effects<u32>) -> RequestId {
    fx.sends
        .iter()
        .find_map(|(to, m)| match m {
            Msg::Forward { request, .. } if *to == 1 => Some(*request),
            _ => None,
        })
        .expect("the request is forwarded to the leader")
}

// ---- 1 ----

/// Bug 1: `Replica::on_accept` answered `Accepted` for any slot below its
/// `first_unchosen`, whatever the ballot or value, so a deposed leader
/// could count acks toward a majority for a value that conflicts with the
/// chosen one.
///
/// Schedule (one replica): node 2 accepts and learns slot 0 = X at ballot
/// (2, 3); then `Accept{(1, 1), 0, Y}` arrives from the deposed leader 1,
/// and `Accept{(5, 1), 0, Y}` from a leader above the promise. Neither
/// gets `Accepted`; both get `Chosen{0, X}`; the first also gets a `Nack`.
///
/// Schedule (cluster): leader 1 is cut off with its write in slot 0 in
/// flight; node 2 is elected and chooses slot 0 = "new" with node 3; the
/// partition heals, node 1's heartbeats are lost and its retransmitted
/// `Accept` for slot 0 reaches nodes 2 and 3. Node 1 must not choose its
/// value: every node agrees slot 0 = "new", and node 1's client hears
/// `LeaderChanged`, never "done".
#[test]
fn bug1_accept_for_a_chosen_slot_answers_the_chosen_value() {
    let mut cfg = Config::new(2, vec![1, 2, 3]);
    cfg.mode = Mode::Multi;
    let mut r = Replica::new(cfg, &[]);
    step(&mut r, 0, Input::Start);
    let x = Batch::from(vec![set(1, 1, "k", "x")]);
    let y = Batch::from(vec![set(2, 1, "k", "y")]);
    let accept_x = Msg::Accept {
        ballot: ballot(2, 3),
        slot: 0,
        batch: x.clone(),
        chosen_upto: 0,
    };
    step(&mut r, 1, msg(3, accept_x));
    step(
        &mut r,
        2,
        msg(
            3,
            Msg::Chosen {
                slot: 0,
                batch: x.clone(),
            },
        ),
    );
    assert_eq!(r.first_unchosen(), 1, "slot 0 chosen here");

    for (b, below_promise) in [(ballot(1, 1), true), (ballot(5, 1), false)] {
        let out = step(
            &mut r,
            3,
            msg(
                1,
                Msg::Accept {
                    ballot: b,
                    slot: 0,
                    batch: y.clone(),
                    chosen_upto: 0,
                },
            ),
        );
        let to_1 = sent_to(&out, 1);
        assert!(
            !to_1.iter().any(|m| matches!(m, Msg::Accepted { .. })),
            "ballot {b:?}: never `Accepted` for a chosen slot: {to_1:?}"
        );
        assert!(
            to_1.contains(&&Msg::Chosen {
                slot: 0,
                batch: x.clone()
            }),
            "ballot {b:?}: the chosen value is sent back: {to_1:?}"
        );
        assert_eq!(
            to_1.iter().any(|m| matches!(m, Msg::Nack { .. })),
            below_promise,
            "ballot {b:?}: a Nack exactly when below the promise: {to_1:?}"
        );
        assert_eq!(r.chosen().get(&0), Some(&x));
    }

    // End to end: the deposed leader's retransmission.
    let mut sim = Sim::new(3, Mode::Multi, ReadMode::Log);
    elect(&mut sim, 1);
    sim.isolate(1);
    sim.request(1, 1, set(1, 1, "k", "old"));
    sim.deliver(1_000_000);
    elect(&mut sim, 2);
    sim.request(2, 2, set(2, 1, "k", "new"));
    sim.deliver(1_000_000);
    assert_eq!(sim.reply(2, 2), Some(&done()));
    let new = Batch::from(vec![set(2, 1, "k", "new")]);
    // Node 3 learns it from node 2's next heartbeat.
    sim.fire(2, Timer::Heartbeat);
    sim.deliver(1_000_000);
    assert_eq!(sim.replicas[&3].chosen().get(&0), Some(&new));
    sim.heal();
    assert_eq!(
        sim.replicas[&1].role(),
        &Role::Leader,
        "node 1 knows nothing"
    );
    sim.fire(1, Timer::Heartbeat);
    // Its heartbeats are lost (their Nacks would depose it first); its
    // retransmitted Accepts for slot 0 arrive.
    deliver_losing(&mut sim, |(from, _, m)| {
        *from == 1 && matches!(m, Msg::Heartbeat { .. })
    });
    assert_agree(&sim);
    assert_eq!(
        sim.replicas[&1].chosen().get(&0),
        Some(&new),
        "node 1 learns the chosen value"
    );
    assert_ne!(sim.reply(1, 1), Some(&done()), "the old write never done");
    assert_eq!(sim.reply(1, 1), Some(&ErrorCode::LeaderChanged.reply()));
    assert_ne!(sim.replicas[&1].role(), &Role::Leader);
}

// ---- 2 ----

/// The Basic Paxos schedule of bug 2 up to the point where node 3's rival
/// proposal has chosen node 1's anonymous command `c` in slot 0; node 1
/// has not heard of it yet, and has anonymous command `e` queued behind
/// its proposal. With `nack`, node 1's Accept reaches node 3 after node 3
/// promised its own higher ballot, so node 1's proposal is refused
/// (stalls) first. Returns the sim and the commands c, d (node 3's), e.
fn basic_rival_adopts(nack: bool) -> (Sim, [Command; 3]) {
    let mut sim = Sim::new(3, Mode::Basic, ReadMode::Log);
    let c = anon(1, 1, "k", "c");
    let d = anon(3, 1, "j", "d");
    let e = anon(1, 2, "i", "e");
    // Node 1 proposes c for slot 0 at (1, 1); e waits for the next slot.
    sim.request(1, 1, c.clone());
    sim.request(1, 2, e.clone());
    // Phase 1 everywhere.
    run(&mut sim, |(_, _, m)| {
        matches!(m, Msg::Prepare { .. } | Msg::Promise { .. })
    });
    // Phase 2: its Accept reaches node 2 only, and node 2's answer is lost.
    let to_3 = take(&mut sim, |(f, t, m)| {
        (*f, *t) == (1, 3) && matches!(m, Msg::Accept { .. })
    });
    assert_eq!(to_3.len(), 1);
    run(&mut sim, |(f, t, m)| {
        (*f, *t) == (1, 2) && matches!(m, Msg::Accept { .. })
    });
    let lost = take(&mut sim, |(f, t, _)| (*f, *t) == (2, 1));
    assert!(
        matches!(lost[..], [(2, 1, Msg::Accepted { .. })]),
        "{lost:?}"
    );
    assert!(sim.network.is_empty(), "{:?}", sim.network);
    // Node 3 proposes d for slot 0 at a higher ballot (promising it itself).
    sim.request(3, 3, d.clone());
    if nack {
        // Node 1's Accept comes late: refused.
        for m in to_3 {
            send(&mut sim, m);
        }
        run(&mut sim, |(f, t, m)| {
            (*f, *t) == (3, 1) && matches!(m, Msg::Nack { .. })
        });
    }
    // Node 3's phase 1 and 2 with node 2 alone: it adopts c (accepted at
    // node 2) and chooses it. Nothing reaches node 1 yet.
    run(&mut sim, |(f, t, _)| *f != 1 && *t != 1 && *f != *t);
    let (n, slots) = occurrences(&sim.replicas[&3], &c);
    assert_eq!((n, &slots[..]), (1, &[0][..]), "node 3 chose c in slot 0");
    assert!(sim.replicas[&1].chosen().is_empty(), "node 1 knows nothing");
    (sim, [c, d, e])
}

/// Runs a Basic Paxos cluster until every request is answered and every
/// replica knows every slot, checking all along that no replica has any of
/// `once` chosen twice (a command chosen again and again must fail the
/// test, not spin it).
fn basic_settle(sim: &mut Sim, case: &str, requests: &[(NodeId, RequestId)], once: &[&Command]) {
    for round in 0.. {
        while !sim.network.is_empty() {
            sim.deliver(100);
            for (id, r) in &sim.replicas {
                for cmd in once {
                    let (n, slots) = occurrences(r, cmd);
                    assert!(
                        n <= 1,
                        "{case}: node {id} has {cmd:?} chosen {n} times, in slots {slots:?}"
                    );
                }
            }
        }
        let answered = requests.iter().all(|(n, r)| sim.reply(*n, *r).is_some());
        let ends: Vec<Slot> = sim.replicas.values().map(|r| r.first_unchosen()).collect();
        if answered && ends.windows(2).all(|w| w[0] == w[1]) {
            break;
        }
        assert!(round < 100, "{case}: Basic Paxos never settled");
        sim.now_ms += 50;
        for n in 1..=3 {
            sim.fire(n, Timer::Backoff);
        }
    }
}

/// Bug 2: Basic Paxos applied an anonymous command (client 0) twice. A
/// proposer's own command went back to its queue when another proposer
/// chose its slot, even when the value chosen was its own command (adopted
/// by the rival from an acceptor); and a refused proposal was dropped and
/// its commands re-queued, so that learning the slot later left them
/// queued for the next slot, and the backoff timer started a fresh
/// proposal with whatever was queued (a batch other than the one that may
/// already be chosen). Now a proposal keeps its slot and its commands
/// until that slot is learned, and nothing chosen is re-queued.
///
/// Schedule (Basic, 3 nodes): node 1 proposes anonymous command c for slot
/// 0 (anonymous e queued behind it); its Accept reaches node 2 only. Node
/// 3 proposes d for slot 0 at a higher ballot, finds c accepted at node 2,
/// adopts it and chooses it. Then node 1 learns slot 0 = c: (a) while its
/// proposal is in phase 2; (b) after its Accept to node 3 was refused
/// (Nack); (c) after the Nack and its Backoff timer firing. Every time c,
/// d and e are each chosen in exactly one slot on every replica (checked
/// all along), and answered "done".
#[test]
fn bug2_basic_paxos_never_chooses_an_adopted_command_twice() {
    for (case, nack, backoff) in [
        ("(a) learned in phase 2", false, false),
        ("(b) learned after a Nack", true, false),
        ("(c) Nack, Backoff, then learned", true, true),
    ] {
        let (mut sim, [c, d, e]) = basic_rival_adopts(nack);
        if backoff {
            sim.now_ms += 50;
            sim.fire(1, Timer::Backoff);
        }
        // Node 1 learns slot 0 (and everything else flows).
        basic_settle(&mut sim, case, &[(1, 1), (1, 2), (3, 3)], &[&c, &d, &e]);
        for (node, request) in [(1, 1), (1, 2), (3, 3)] {
            assert_eq!(sim.reply(node, request), Some(&done()), "{case}");
        }
        for cmd in [&c, &d, &e] {
            assert_chosen_once(&sim, cmd, case);
        }
        assert_agree(&sim);
        assert_same_state(&mut sim);
    }
}

// ---- 3 ----

/// Bug 3: a restarted follower forgot the lease it had granted and
/// promised a new leader at once, while the old leader still served lease
/// reads. Now a node with prior state refuses every promise (its own
/// election's too) for `lease_ms` after it starts.
///
/// Schedule (lease reads, 3 nodes): leader 1 holds a lease acked by 2 and
/// 3; 2 and 3 crash and restart from disk; 1 is cut off. Node 2's election
/// right after the restart, and 400 ms later, must not win (nor may a
/// write commit) while the old leader can still answer from its lease;
/// `lease_ms` after the restart node 2 is elected.
#[test]
fn bug3_a_restarted_follower_waits_out_the_lease_it_may_have_granted() {
    let mut sim = Sim::new(3, Mode::Multi, ReadMode::Lease);
    elect(&mut sim, 1);
    sim.request(1, 1, set(1, 1, "k", "old"));
    sim.deliver(1_000_000);
    assert_eq!(sim.reply(1, 1), Some(&done()));
    sim.now_ms += 50;
    sim.fire(1, Timer::Heartbeat);
    sim.deliver(1_000_000);
    sim.request(1, 2, get(9, 1, "k"));
    assert_eq!(sim.reply(1, 2), Some(&value("old")), "node 1 holds a lease");
    for n in [2, 3] {
        sim.crash(n);
        sim.restart(n);
    }
    let restarted_ms = sim.now_ms;
    sim.isolate(1);
    // Right after the restart, then past an election timeout.
    for wait in [0, 400] {
        sim.now_ms = restarted_ms + wait;
        sim.fire(2, Timer::Election);
        sim.deliver(1_000_000);
        assert_ne!(
            sim.replicas[&2].role(),
            &Role::Leader,
            "{wait} ms after its restart node 2 must not win"
        );
        sim.fire(3, Timer::Election);
        sim.deliver(1_000_000);
        assert_ne!(sim.replicas[&3].role(), &Role::Leader, "nor node 3");
    }
    sim.request(2, 3, set(2, 1, "k", "new"));
    sim.deliver(1_000_000);
    assert_ne!(sim.reply(2, 3), Some(&done()), "no write during the lease");
    // The old leader may still answer from its lease: nobody else wrote.
    sim.request(1, 4, get(9, 2, "k"));
    assert_eq!(sim.reply(1, 4), Some(&value("old")));
    // `lease_ms` after the restart: node 2 is elected and writes.
    sim.now_ms = restarted_ms + sim.replicas[&2].config().lease_ms;
    elect(&mut sim, 2);
    sim.request(2, 5, set(2, 2, "k", "new"));
    sim.deliver(1_000_000);
    assert_eq!(sim.reply(2, 5), Some(&done()));
    sim.request(1, 6, get(9, 3, "k"));
    assert_eq!(sim.reply(1, 6), None, "the old lease is over");
}

// ---- 4 ----

/// Bug 4 (request ids): ids started again at 0 after a restart, so a stale
/// `ForwardReply` queued for the node's previous life answered a request
/// of the new one. Now the shell's request ids carry the incarnation.
///
/// Schedule (one follower shell, node 2 of 3): it follows leader 1 and
/// forwards a read; it "crashes" (the shell is dropped) and recovers from
/// its disk; it follows leader 1 again and forwards a new read. The old
/// `ForwardReply{request: <old id>}` then arrives: the new caller must not
/// be answered by it, only by the reply to its own request.
#[test]
fn bug4_a_reply_for_an_earlier_life_never_answers_a_new_request() {
    let cfg = Config::new(2, vec![1, 2, 3]);
    let mut disk = MemDisk::default();
    let mut shell = boot(&cfg, &mut disk, 0);
    shell
        .deliver(at(10), 1, heartbeat_from_1(10), &mut disk)
        .expect("ok");
    let fx = shell
        .submit(at(20), vec![(get(0, 0, "k"), 100)], &mut disk)
        .expect("ok");
    let old_id = forwarded_id(&fx);
    assert!(fx.replies.is_empty());
    // Crash: the shell and everything it held in memory are gone.
    drop(shell);
    let mut shell = boot(&cfg, &mut disk, 30);
    assert_eq!(shell.replica().incarnation(), 2);
    shell
        .deliver(at(40), 1, heartbeat_from_1(40), &mut disk)
        .expect("ok");
    let fx = shell
        .submit(at(50), vec![(get(0, 0, "k"), 200)], &mut disk)
        .expect("ok");
    let new_id = forwarded_id(&fx);
    // The leader's answer to the earlier life's read arrives now.
    let stale = Msg::ForwardReply {
        request: old_id,
        reply: value("stale"),
    };
    let fx = shell.deliver(at(60), 1, stale, &mut disk).expect("ok");
    assert!(
        fx.replies.is_empty(),
        "a reply for request {old_id} of the earlier life answered request {new_id}: {:?}",
        fx.replies
    );
    assert_eq!(shell.pending(), 1, "the new caller still waits");
    let fresh = Msg::ForwardReply {
        request: new_id,
        reply: value("fresh"),
    };
    let fx = shell.deliver(at(70), 1, fresh, &mut disk).expect("ok");
    assert_eq!(fx.replies, vec![(200, value("fresh"))]);
    assert_eq!(shell.pending(), 0);
}

/// Bug 4 (read-probe ids): a quorum read's probe ids started again at 0
/// after a restart, so probe replies queued for the node's previous life
/// counted for a read of the new one, which could then answer from stale
/// state. Now probe ids carry the incarnation.
///
/// Schedule (quorum reads): node 2 probes 1 and 3 for a read; their
/// replies (accepted_end 0) are held in flight; node 2 crashes and
/// restarts; while it is cut off, leader 1 commits k = "new" with node 3;
/// healed, node 2 starts a new read of k and the held replies arrive
/// first. They must not count: the read is answered only after the fresh
/// replies, with "new".
#[test]
fn bug4_probe_replies_for_an_earlier_life_never_answer_a_new_read() {
    let mut sim = Sim::new(3, Mode::Multi, ReadMode::Quorum);
    elect(&mut sim, 1);
    sim.request(2, 10, get(9, 1, "k"));
    run(&mut sim, |(_, _, m)| matches!(m, Msg::ReadProbe { .. }));
    let held = take(&mut sim, |(_, _, m)| {
        matches!(m, Msg::ReadProbeReply { .. })
    });
    assert_eq!(held.len(), 2, "{held:?}");
    sim.crash(2);
    sim.restart(2);
    sim.isolate(2);
    sim.request(1, 11, set(1, 1, "k", "new"));
    sim.deliver(1_000_000);
    assert_eq!(sim.reply(1, 11), Some(&done()));
    sim.heal();
    sim.request(2, 12, get(9, 2, "k"));
    for m in held {
        send(&mut sim, m);
    }
    assert_eq!(
        sim.reply(2, 12),
        None,
        "answered from replies to a probe of the earlier life"
    );
    sim.deliver(1_000_000);
    sim.now_ms += 50;
    sim.fire(1, Timer::Heartbeat);
    sim.deliver(1_000_000);
    assert_eq!(sim.reply(2, 12), Some(&value("new")));
}

// ---- 5 ----

/// A heartbeat ack only grants a lease: without lease reads a follower
/// follows the heartbeat and sends nothing back, and a leader's lease never
/// grows (it is not used either).
#[test]
fn only_with_lease_reads_is_a_heartbeat_acked() {
    for reads in [ReadMode::Log, ReadMode::Quorum, ReadMode::Lease] {
        let mut cfg = Config::new(3, vec![1, 2, 3]);
        cfg.reads = reads;
        let mut r = Replica::new(cfg, &[]);
        step(&mut r, 0, Input::Start);
        let out = step(&mut r, 100, msg(1, heartbeat_from_1(100)));
        let acked = sent_to(&out, 1)
            .iter()
            .any(|m| matches!(m, Msg::HeartbeatAck { .. }));
        assert_eq!(acked, reads == ReadMode::Lease, "{reads:?}: {out:?}");
        assert_eq!(r.leader(), Some(1), "{reads:?}: it follows the leader");
    }
}

/// Bug 5: a follower kept a single `lease_holder`, which the heartbeat of
/// a second leader overwrote: it then promised that leader's candidate
/// while the lease it granted the first one was still live. Now grants are
/// kept per leader.
///
/// Schedule (lease reads, 5 nodes, at node 3): it acks a heartbeat from
/// leader 1 at (1, 1), then one from node 2 claiming leadership at (2, 2);
/// within `lease_ms` of the first, a `Prepare` from node 2 at (3, 2) (and
/// one from node 4) must not be promised; once the grant to node 1 has
/// run out, node 2's is.
#[test]
fn bug5_a_second_leaders_heartbeat_does_not_erase_the_first_ones_lease() {
    let mut cfg = Config::new(3, vec![1, 2, 3, 4, 5]);
    cfg.reads = ReadMode::Lease;
    let lease_ms = cfg.lease_ms;
    let mut r = Replica::new(cfg, &[]);
    step(&mut r, 0, Input::Start);
    let out = step(&mut r, 100, msg(1, heartbeat_from_1(100)));
    assert!(sent_to(&out, 1).contains(&&Msg::HeartbeatAck {
        ballot: ballot(1, 1),
        sent_ms: 100
    }));
    let out = step(
        &mut r,
        200,
        msg(
            2,
            Msg::Heartbeat {
                ballot: ballot(2, 2),
                first_unchosen: 0,
                sent_ms: 200,
            },
        ),
    );
    assert!(sent_to(&out, 2).contains(&&Msg::HeartbeatAck {
        ballot: ballot(2, 2),
        sent_ms: 200
    }));
    let prepare = |round| Msg::Prepare {
        ballot: ballot(round, 2),
        from: 0,
        single: false,
    };
    let promised = |out: &[Output], to| {
        sent_to(out, to)
            .iter()
            .any(|m| matches!(m, Msg::Promise { .. }))
    };
    let out = step(&mut r, 300, msg(2, prepare(3)));
    assert!(
        !promised(&out, 2),
        "node 3 promised node 2 while its grant to node 1 lives: {out:?}"
    );
    assert!(r.promised() < ballot(3, 2));
    let out = step(
        &mut r,
        400,
        msg(
            4,
            Msg::Prepare {
                ballot: ballot(4, 4),
                from: 0,
                single: false,
            },
        ),
    );
    assert!(!promised(&out, 4), "nor node 4: {out:?}");
    // The grant to node 1 (at 100) has run out; the one to node 2 is
    // node 2's own and does not hold it back.
    let out = step(&mut r, 100 + lease_ms, msg(2, prepare(5)));
    assert!(promised(&out, 2), "promised after the lease: {out:?}");
}

// ---- 6 ----

/// Bug 6 (liveness): a leader elected while behind caught up only from the
/// one promiser that was ahead; if that node died, the leader applied
/// nothing again. Now its periodic catch-up request rotates over its peers.
///
/// Schedule (Multi, 3 nodes): node 1 leads and commits 300 writes with
/// node 3 while node 2 is down; node 2 restarts and, with node 1 cut off,
/// is elected on node 3's promise (node 3 is "ahead"); node 3 crashes
/// before answering node 2's catch-up; the partition heals. A few of node
/// 2's Heartbeat timers later it has caught up (from node 1) and serves a
/// write.
#[test]
fn bug6_a_leader_behind_catches_up_from_any_peer() {
    let mut sim = Sim::new(3, Mode::Multi, ReadMode::Log);
    elect(&mut sim, 1);
    sim.crash(2);
    let writes = 300;
    for i in 0..writes {
        sim.request(1, i, set(1, i + 1, "k", &i.to_string()));
        sim.deliver(1_000_000);
        assert_eq!(sim.reply(1, i), Some(&done()));
    }
    // Node 3 learns the last write from node 1's next heartbeat.
    sim.fire(1, Timer::Heartbeat);
    sim.deliver(1_000_000);
    assert_eq!(sim.replicas[&3].first_unchosen(), writes);
    sim.restart(2);
    sim.isolate(1);
    sim.now_ms += 1_000;
    sim.fire(2, Timer::Election);
    while sim.replicas[&2].role() != &Role::Leader {
        assert_eq!(sim.deliver(1), 1, "node 2 never won");
    }
    assert_eq!(sim.replicas[&2].first_unchosen(), 0, "elected while behind");
    sim.crash(3);
    sim.heal();
    sim.deliver(1_000_000);
    assert_eq!(sim.replicas[&1].leader(), Some(2), "node 1 follows node 2");
    for _ in 0..5 {
        sim.now_ms += 50;
        sim.fire(2, Timer::Heartbeat);
        sim.deliver(1_000_000);
    }
    assert_eq!(
        sim.replicas[&2].applied(),
        writes,
        "node 2 caught up from node 1"
    );
    sim.request(2, 1_000, set(2, 1, "k", "after"));
    sim.deliver(1_000_000);
    assert_eq!(sim.reply(2, 1_000), Some(&done()), "and serves");
    assert_same_state(&mut sim);
    assert_agree(&sim);
}

// ---- 9 ----

/// Bug 9 (forwarded requests): a forwarded request whose `ForwardReply`
/// was lost stayed in the follower's `forwarded` table, and its caller in
/// the shell's pending table, forever. Now a caller older than
/// `Config::request_ttl_ms` is answered `Expired` (indeterminate) and
/// dropped.
///
/// Schedule (Sim): follower 2 forwards a write to leader 1, which commits
/// it; the `ForwardReply` is lost. Just before the ttl a heartbeat leaves
/// it waiting; past the ttl the next step (another heartbeat) answers it
/// `Expired` and `waiting()` is 0. The same at the shell: its caller is
/// answered `Expired` at the ttl (the shell's own backstop, at twice the
/// ttl, is not what answers it) and `pending()` is 0.
#[test]
fn bug9_a_forward_whose_reply_was_lost_expires() {
    let mut sim = Sim::new(3, Mode::Multi, ReadMode::Log);
    elect(&mut sim, 1);
    let ttl = sim.replicas[&2].config().request_ttl_ms;
    let sent_ms = sim.now_ms;
    sim.request(2, 5, set(2, 1, "k", "v"));
    deliver_losing(&mut sim, |(_, _, m)| matches!(m, Msg::ForwardReply { .. }));
    assert_eq!(sim.reply(1, 5), None);
    assert_eq!(sim.reply(2, 5), None, "the reply was lost");
    assert_eq!(sim.replicas[&2].waiting(), 1);
    sim.now_ms = sent_ms + ttl - 1;
    sim.fire(1, Timer::Heartbeat);
    sim.deliver(1_000_000);
    assert_eq!(sim.reply(2, 5), None, "within the ttl: still waiting");
    sim.now_ms = sent_ms + ttl;
    sim.fire(1, Timer::Heartbeat);
    sim.deliver(1_000_000);
    assert_eq!(sim.reply(2, 5), Some(&ErrorCode::Expired.reply()));
    assert_eq!(
        ErrorCode::Expired.reply(),
        Reply::Error {
            code: ErrorCode::Expired,
            definite: false
        },
        "indeterminate: the write was in fact applied"
    );
    for n in 1..=3 {
        assert_eq!(sim.replicas[&n].waiting(), 0, "node {n}");
    }

    // The same through the shell: its pending table empties at the ttl.
    let cfg = Config::new(2, vec![1, 2, 3]);
    let ttl = cfg.request_ttl_ms;
    let mut disk = MemDisk::default();
    let mut shell = boot(&cfg, &mut disk, 0);
    shell
        .deliver(at(10), 1, heartbeat_from_1(10), &mut disk)
        .expect("ok");
    let fx = shell
        .submit(at(20), vec![(set(0, 0, "k", "v"), 7)], &mut disk)
        .expect("ok");
    forwarded_id(&fx);
    assert_eq!(shell.pending(), 1);
    // The answer never comes; the leader's heartbeats do.
    let fx = shell
        .deliver(at(20 + ttl), 1, heartbeat_from_1(20 + ttl), &mut disk)
        .expect("ok");
    assert_eq!(fx.replies, vec![(7, ErrorCode::Expired.reply())]);
    assert_eq!(shell.pending(), 0);
    assert_eq!(shell.replica().waiting(), 0);
}

/// Bug 9 (quorum reads): a quorum read whose probe replies were lost
/// stayed in the `reads` table forever (and its caller unanswered). Now it
/// is answered `Expired` after the request ttl.
///
/// Schedule (quorum reads): follower 2 starts a read; every probe is lost;
/// past the ttl the next step (a heartbeat) answers it `Expired` and
/// `waiting()` is 0.
#[test]
fn bug9_a_quorum_read_whose_probes_were_lost_expires() {
    let mut sim = Sim::new(3, Mode::Multi, ReadMode::Quorum);
    elect(&mut sim, 1);
    let ttl = sim.replicas[&2].config().request_ttl_ms;
    let sent_ms = sim.now_ms;
    sim.request(2, 5, get(2, 1, "k"));
    deliver_losing(&mut sim, |(_, _, m)| matches!(m, Msg::ReadProbe { .. }));
    assert_eq!(sim.replicas[&2].waiting(), 1);
    sim.now_ms = sent_ms + ttl;
    sim.fire(1, Timer::Heartbeat);
    sim.deliver(1_000_000);
    assert_eq!(sim.reply(2, 5), Some(&ErrorCode::Expired.reply()));
    assert_eq!(sim.replicas[&2].waiting(), 0);
}

// ---- 10 ----

/// Bug 10 (found by the simulator): a duplicated `Forward` made the leader
/// queue its command twice, so an anonymous command was applied twice: a
/// write that came between the two copies was lost. (Fixed first by the
/// leader ignoring a forward it already took; now by the state machine,
/// which applies a command without a session at most once, however often
/// it reaches the log.)
///
/// Schedule (Multi, 3 nodes): follower 2 forwards anonymous write k = "c"
/// to leader 1; a client of the leader writes k = "x"; the network then
/// delivers the `Forward` again, (i) before anything was accepted, right
/// behind x in the leader's queue, (ii) after c and x were chosen, applied
/// and answered. Both times every replica ends with k = "x", and c's
/// caller is answered once, "done".
#[test]
fn bug10_a_duplicated_forward_is_applied_once() {
    for late in [false, true] {
        let case = if late { "(ii) late" } else { "(i) at once" };
        let mut sim = Sim::new(3, Mode::Multi, ReadMode::Log);
        elect(&mut sim, 1);
        let c = anon(2, 1, "k", "c");
        sim.request(2, 1, c.clone());
        let fwd = take(&mut sim, |(_, _, m)| matches!(m, Msg::Forward { .. }));
        assert_eq!(fwd.len(), 1, "{case}");
        send(&mut sim, fwd[0].clone());
        sim.request(1, 2, set(7, 1, "k", "x"));
        if late {
            sim.deliver(1_000_000);
            assert_eq!(sim.reply(2, 1), Some(&done()), "{case}");
            assert_eq!(sim.reply(1, 2), Some(&done()), "{case}");
        }
        // The duplicate.
        send(&mut sim, fwd[0].clone());
        sim.deliver(1_000_000);
        sim.now_ms += 50;
        sim.fire(1, Timer::Heartbeat);
        sim.deliver(1_000_000);
        assert_eq!(sim.reply(1, 2), Some(&done()), "{case}");
        let answers: Vec<_> = sim
            .replies
            .iter()
            .filter(|(n, r, _)| (*n, *r) == (2, 1))
            .collect();
        assert_eq!(answers, [&(2, 1, done())], "{case}: c answered once");
        for (id, r) in &sim.replicas {
            assert_eq!(
                r.store().read(&KvOp::Get { key: "k".into() }),
                Some(KvResult::Value {
                    value: Some("x".into())
                }),
                "{case}: node {id} applied c again after x (c chosen in slots {:?})",
                occurrences(r, &c).1
            );
        }
        assert_agree(&sim);
        assert_same_state(&mut sim);
    }
}

// ---- 11 ----

/// Bug 11 (new behaviour): a follower whose leader changes (it learns of a
/// new leader, or starts an election itself) answers the requests it had
/// forwarded to the old leader `LeaderChanged` (indeterminate) at once,
/// rather than leaving them to wait out the request ttl.
///
/// Schedule (a): leader 1 is cut off; follower 3 forwards a write to it
/// (lost); node 2 is elected with node 3's promise; on the new leader's
/// first word node 3 answers the write `LeaderChanged`. Schedule (b): the
/// same, but node 3 times out and starts an election itself: the write is
/// answered `LeaderChanged` in that very step.
#[test]
fn bug11_forwards_to_a_deposed_leader_are_released_at_once() {
    let changed = ErrorCode::LeaderChanged.reply();
    assert_eq!(
        changed,
        Reply::Error {
            code: ErrorCode::LeaderChanged,
            definite: false
        }
    );

    // (a) A new leader is heard of.
    let mut sim = Sim::new(3, Mode::Multi, ReadMode::Log);
    elect(&mut sim, 1);
    sim.isolate(1);
    sim.request(3, 7, set(3, 1, "k", "v"));
    sim.deliver(1_000_000);
    assert_eq!(sim.reply(3, 7), None, "forwarded, lost");
    assert_eq!(sim.replicas[&3].waiting(), 1);
    elect(&mut sim, 2);
    assert_eq!(sim.replicas[&3].leader(), Some(2));
    assert_eq!(
        sim.reply(3, 7),
        Some(&changed),
        "released on the new leader"
    );
    assert_eq!(sim.replicas[&3].waiting(), 0);

    // (b) The follower starts an election.
    let mut sim = Sim::new(3, Mode::Multi, ReadMode::Log);
    elect(&mut sim, 1);
    sim.isolate(1);
    sim.request(3, 8, set(3, 1, "k", "v"));
    sim.deliver(1_000_000);
    assert_eq!(sim.reply(3, 8), None, "forwarded, lost");
    sim.now_ms += 1_000;
    sim.fire(3, Timer::Election);
    assert_eq!(sim.replicas[&3].role(), &Role::Candidate);
    assert_eq!(sim.reply(3, 8), Some(&changed), "released by its election");
    assert_eq!(sim.replicas[&3].waiting(), 0);
}

// ---- 12 ----

/// Bug 12 (found in review, once leaders held commands back while a slot
/// is out, `Config::pipeline_slots`): a leader stepping down refused every
/// queued command as never proposed, "no leader", definite; but a queued
/// copy of a command (a duplicated `Forward`, a retry) may have another
/// copy in a slot chosen and not yet applied, which the next leader
/// applies: the caller was told "not done" of a write that was done.
///
/// Schedule (Multi, 3 nodes): leader 1 proposes x in slot a and its Accepts
/// are lost; follower 2 forwards anonymous write c, which waits (slot a is
/// out) until 63 more commands fill a slot b with it; the `Forward` is
/// delivered again and that copy waits; node 2 acks slot b alone, so b is
/// chosen and waits for a; node 3 is elected, leader 1 steps down, and the
/// new leader finishes both slots. c's caller is answered once: "done".
#[test]
fn bug12_a_queued_copy_of_a_chosen_command_is_not_refused() {
    let mut sim = Sim::new(3, Mode::Multi, ReadMode::Log);
    elect(&mut sim, 1);
    sim.request(1, 1, set(7, 1, "k", "x"));
    let lost = take(&mut sim, |(_, _, m)| matches!(m, Msg::Accept { .. }));
    let Some((_, _, Msg::Accept { slot: a, .. })) = lost.first() else {
        panic!("slot a proposed: {lost:?}");
    };
    let b = a + 1;
    let c = anon(2, 1, "k", "c");
    sim.request(2, 1, c.clone());
    let fwd = take(&mut sim, |(_, _, m)| matches!(m, Msg::Forward { .. }));
    assert_eq!(fwd.len(), 1);
    send(&mut sim, fwd[0].clone());
    for i in 0..63 {
        sim.request(1, 100 + i, set(8, i + 1, &format!("f{i}"), "v"));
    }
    let opened = sim
        .network
        .iter()
        .any(|(_, _, m)| matches!(m, Msg::Accept { slot, batch, .. } if *slot == b && batch.0.contains(&c)));
    assert!(opened, "a full slot b opens with c while a is out");
    // The duplicate, queued behind slot a.
    send(&mut sim, fwd[0].clone());
    run(&mut sim, |(_, to, m)| match m {
        Msg::Accept { slot, .. } => *slot == b && *to == 2,
        Msg::Accepted { slot, .. } => *slot == b,
        _ => false,
    });
    assert_eq!(
        sim.replicas[&1].first_unchosen(),
        *a,
        "b chosen, waiting for a"
    );
    assert!(sim.replicas[&1].chosen().contains_key(&b));
    // Node 3 stands; leader 1 hears of it first, and what it then tells
    // node 2 of c arrives before node 2 hears of the election (which
    // would release c as "leader changed", unknown).
    sim.now_ms += 1_000;
    sim.fire(3, Timer::Election);
    run(&mut sim, |(_, to, m)| {
        matches!(m, Msg::Prepare { .. }) && *to == 1
    });
    assert_eq!(sim.replicas[&1].role(), &Role::Follower);
    run(&mut sim, |(from, to, m)| {
        matches!(m, Msg::ForwardReply { .. }) && (*from, *to) == (1, 2)
    });
    sim.deliver(1_000_000);
    assert_eq!(sim.replicas[&3].role(), &Role::Leader);
    sim.now_ms += 50;
    sim.fire(3, Timer::Heartbeat);
    sim.deliver(1_000_000);
    let answers: Vec<_> = sim
        .replies
        .iter()
        .filter(|(n, r, _)| (*n, *r) == (2, 1))
        .collect();
    assert_eq!(answers.len(), 1, "c answered once: {answers:?}");
    assert!(
        !matches!(answers[0].2, Reply::Error { definite: true, .. }),
        "c was chosen, yet its caller heard {:?}",
        answers[0].2
    );
    for (id, r) in &sim.replicas {
        assert_eq!(occurrences(r, &c).0, 1, "node {id}: c chosen once");
    }
    assert_agree(&sim);
    assert_same_state(&mut sim);
}

/// Bug 12, the other copy in flight: leader 1 proposes a forwarded c alone
/// and its Accepts are lost; the `Forward` is delivered again and that copy
/// waits. When leader 1 steps down, c may still be chosen (node 3 may have
/// accepted it): every answer it sends node 2 about c says "unknown", none
/// "not done".
#[test]
fn bug12_a_queued_copy_of_a_command_in_flight_is_not_refused() {
    let mut sim = Sim::new(3, Mode::Multi, ReadMode::Log);
    elect(&mut sim, 1);
    sim.request(2, 1, anon(2, 1, "k", "c"));
    let fwd = take(&mut sim, |(_, _, m)| matches!(m, Msg::Forward { .. }));
    assert_eq!(fwd.len(), 1);
    send(&mut sim, fwd[0].clone());
    let lost = take(&mut sim, |(_, _, m)| matches!(m, Msg::Accept { .. }));
    assert!(!lost.is_empty(), "c proposed");
    send(&mut sim, fwd[0].clone());
    sim.now_ms += 1_000;
    sim.fire(3, Timer::Election);
    run(&mut sim, |(_, to, m)| {
        matches!(m, Msg::Prepare { .. }) && *to == 1
    });
    assert_eq!(sim.replicas[&1].role(), &Role::Follower);
    let said = take(&mut sim, |(from, to, m)| {
        matches!(m, Msg::ForwardReply { .. }) && (*from, *to) == (1, 2)
    });
    assert!(!said.is_empty(), "node 2 is told something of c");
    for (_, _, m) in &said {
        assert!(
            matches!(
                m,
                Msg::ForwardReply {
                    reply: Reply::Error {
                        definite: false,
                        ..
                    },
                    ..
                }
            ),
            "c may still be chosen, yet node 1 said {m:?}"
        );
    }
}

// ---- the Chosen piggyback ----

/// Multi-Paxos followers learn the slots below the leader's first unchosen
/// slot from its `Accept`s and heartbeats, taking the value they accepted
/// at the leader's ballot. So a leader must never propose in a slot already
/// chosen at a higher ballot: a leader that learns such a value in a slot
/// it has not proposed in yet (an eager `Chosen` from a newer leader, with
/// quorum reads) steps down. Found by review of the piggyback; without the
/// step-down, node 2 learns node 1's value over the chosen one.
#[test]
fn a_deposed_leader_that_learns_a_newer_value_never_proposes_over_it() {
    let mut sim = Sim::new(5, Mode::Multi, ReadMode::Quorum);
    elect(&mut sim, 1);
    sim.request(1, 1, set(1, 1, "k", "a"));
    sim.deliver(1_000_000);
    assert_eq!(sim.reply(1, 1), Some(&done()));
    // {1, 2} | {3, 4, 5}: messages across stay queued, undelivered.
    let side = |n: NodeId| n <= 2;
    let within = |(f, t, _): &Net| side(*f) == side(*t);
    sim.now_ms += 1_000;
    sim.fire(3, Timer::Election);
    run(&mut sim, within);
    assert_eq!(
        sim.replicas[&3].role(),
        &Role::Leader,
        "3 leads the majority"
    );
    sim.request(3, 2, set(2, 1, "k", "w"));
    run(&mut sim, within);
    assert_eq!(sim.reply(3, 2), Some(&done()), "w is chosen and acked");
    let slot = sim.replicas[&3].first_unchosen() - 1;
    // Only node 3's `Chosen` for that slot reaches node 1; its ballot does not.
    let chosen = take(&mut sim, |(f, t, m)| {
        (*f, *t) == (3, 1) && matches!(m, Msg::Chosen { slot: s, .. } if *s == slot)
    });
    assert_eq!(chosen.len(), 1, "3 told 1 what was chosen");
    take(&mut sim, |(f, t, _)| side(*f) != side(*t));
    for m in chosen {
        send(&mut sim, m);
    }
    let deposed = sim.replicas[&1].role() != &Role::Leader;
    sim.request(1, 3, set(3, 1, "k", "v"));
    run(&mut sim, within);
    assert_agree(&sim);
    assert!(deposed, "a value chosen past its next slot deposes node 1");
    assert!(
        sim.replicas[&2]
            .chosen()
            .get(&slot)
            .is_none_or(|b| b.0[0] == set(2, 1, "k", "w")),
        "node 2 never learns another value in slot {slot}"
    );
}

/// A follower learns from a leader's claim only the slots it accepted at
/// that leader's ballot, in order; the first slot it holds at another
/// ballot (or not at all) it asks the leader for.
#[test]
fn a_follower_learns_from_the_leaders_claim_only_what_it_accepted_at_its_ballot() {
    let cfg = Config::new(2, vec![1, 2, 3]);
    let mut r = Replica::new(cfg, &[]);
    step(&mut r, 0, Input::Start);
    let old = Batch::from(vec![set(1, 1, "k", "old")]);
    let x = Batch::from(vec![set(1, 2, "k", "x")]);
    let y = Batch::from(vec![set(1, 3, "k", "y")]);
    let accept = |b: Ballot, slot: Slot, batch: &Batch, chosen_upto: Slot| {
        msg(
            b.node,
            Msg::Accept {
                ballot: b,
                slot,
                batch: batch.clone(),
                chosen_upto,
            },
        )
    };
    // Slot 0 accepted from leader 3 at (1, 3); then leader 1 at (2, 1)
    // proposes slots 1 and 2.
    step(&mut r, 1, accept(ballot(1, 3), 0, &old, 0));
    step(&mut r, 2, accept(ballot(2, 1), 1, &x, 0));
    let out = step(&mut r, 3, accept(ballot(2, 1), 2, &y, 3));
    assert_eq!(
        r.first_unchosen(),
        0,
        "slot 0 was accepted at another ballot: not learned from leader 1's claim"
    );
    assert!(
        sent_to(&out, 1).contains(&&Msg::CatchUp { from: 0 }),
        "it asks leader 1 for slot 0: {out:?}"
    );
    // Once slot 0 is known, the claim covers 1 and 2, accepted at (2, 1).
    step(
        &mut r,
        4,
        msg(
            1,
            Msg::Chosen {
                slot: 0,
                batch: old,
            },
        ),
    );
    step(
        &mut r,
        5,
        msg(
            1,
            Msg::Heartbeat {
                ballot: ballot(2, 1),
                first_unchosen: 3,
                sent_ms: 5,
            },
        ),
    );
    assert_eq!(
        r.first_unchosen(),
        3,
        "slots 1 and 2 learned from the heartbeat"
    );
    assert_eq!(r.chosen().get(&2), Some(&y));
}
