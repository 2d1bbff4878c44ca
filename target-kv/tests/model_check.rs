//! The consensus core under stateright's model checker: 3 replicas and 2
//! clients over a lossy, reordering network, with a crash and recovery
//! from persisted records. Every reachable state (within bounds) must be
//! linearizable with at most one value chosen per slot, and some state
//! must have a value chosen. A planted bug (an acceptor that ignores its
//! promise) must be caught, and the schedule that catches it must find
//! nothing wrong with the correct acceptor.
//!
//! Beyond reads through the log with the clock stuck at 0, the same checks
//! run with quorum and lease reads on moving clocks (a timer firing is a
//! tick of its node's clock), clients without a session, and snapshots
//! after every slot (see [`ModelCfg`]). Each of those searches must also
//! reach what it is there for (a read served under a lease, a command
//! without a session chosen, a restart from a snapshot...): a search that
//! never gets there would pass without checking it.
//!
//! The searches are breadth first and bounded (states, ballots, messages
//! in flight, ticks), so each covers every schedule up to some depth: a
//! lossy network with a crash stays shallow, reliable FIFO links with
//! fewer elections go deeper. The state counts, depths and times are
//! printed (`--nocapture`).

use stateright::actor::{
    Actor, ActorModel, ActorModelState, Envelope, Id, LossyNetwork, Network, Out,
};
use stateright::semantics::{ConsistencyTester, LinearizabilityTester, SequentialSpec};
use stateright::{Checker, Expectation, Model};
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};
use target_kv::kv::{Command, KvOp, KvResult};
use target_kv::paxos::{
    Batch, Config, Input, Mode, Msg, Output, PlantedBug, ReadMode, Record, Replica, Reply,
    RequestId, Slot, Snapshot, Timer,
};

const SERVERS: usize = 3;

/// How far one timer firing moves its node's clock, in the models with
/// moving clocks: every timer the core asks for (election, heartbeat,
/// backoff) is one tick there, so all clocks run at the same rate.
const TICK_MS: u64 = 100;

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum ModelMsg {
    Peer(Msg),
    Request(RequestId, Command),
    /// A reply, and whether it left in the step that took the request: a
    /// read answered so asked no other node (in the lease read mode, the
    /// leader served it under its lease). The flag is for the properties
    /// only; the client ignores it.
    Reply(RequestId, Reply, bool),
}

/// The request id of a client's `n`-th request (from 0): unique per
/// request, as the node shell's are (a leader drops a second `Forward` with
/// the same origin and id as a duplicate), and it names the client, so that
/// a reply finds its way back.
fn request_id(client: Id, n: usize) -> RequestId {
    ((usize::from(client) as u64) << 32) | n as u64
}

/// The client a request id belongs to.
fn requester(request: RequestId) -> Id {
    Id::from((request >> 32) as usize)
}

#[derive(Clone)]
enum Node {
    /// A replica; `heartbeats: false` drops its heartbeat timer (the bug
    /// hunt needs no heartbeats, and they multiply the states).
    Server {
        cfg: Config,
        bug: Option<PlantedBug>,
        heartbeats: bool,
        /// How far a timer firing moves the clock (0: it stays at 0).
        tick_ms: u64,
        /// The clocks stop here (the model's bound on time).
        max_clock_ms: u64,
    },
    Client {
        ops: Vec<KvOp>,
        server: usize,
        /// Without a session (`client: 0`): no deduplication by the store.
        anonymous: bool,
    },
}

/// What outlives a crash of a server process: its disk (the last snapshot
/// and the records written since), its machine's clock, and, for the
/// checker only, every value it ever learned chosen.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
struct Machine {
    snapshot: Option<Snapshot>,
    records: Vec<Record>,
    /// The machine's clock: it keeps running while the process is down,
    /// and never goes back.
    clock_ms: u64,
    /// Ghost state, kept only with snapshots on: a snapshot drops chosen
    /// slots from the replica (and their records from the disk), and the
    /// check that a slot has one value must still see them.
    learned: BTreeMap<Slot, Batch>,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum NodeState {
    Server {
        replica: Box<Replica>,
        machine: Machine,
    },
    /// A server restarting with a moving clock: it waits for the checker to
    /// pick how far its clock ran while it was down (`on_random`) before
    /// the core starts.
    Booting {
        machine: Machine,
    },
    Client {
        sent: usize,
        done: bool,
    },
}

/// One step of a replica, carried out as the node shell does it: the
/// step's records made durable; then its last snapshot, with the log
/// rewritten to the replica's durable records; then its messages, replies
/// and timers. `dirty`: the machine changed before the step (its clock).
fn run(
    replica: &mut Replica,
    machine: &mut Machine,
    heartbeats: bool,
    input: Input,
    o: &mut Out<Node>,
    mut dirty: bool,
) {
    // Requests in this step: a reply to one within the step was answered
    // without a round trip to any other node.
    let arrived: Vec<RequestId> = match &input {
        Input::Requests(requests) => requests.iter().map(|(r, _)| *r).collect(),
        _ => Vec::new(),
    };
    let ghost = replica.config().snapshot_every > 0;
    let mut out = Vec::new();
    replica.step(machine.clock_ms, input, &mut out);
    let mut snapshot = None;
    for output in &out {
        match output {
            Output::Persist(r) => {
                match (ghost, r) {
                    (true, Record::Chosen { slot, batch }) => {
                        machine.learned.insert(*slot, batch.clone());
                    }
                    (true, Record::ChosenAccepted { slot, ballot }) => {
                        // The value is the slot's latest accepted one.
                        let batch = machine.records.iter().rev().find_map(|r| match r {
                            Record::Accepted {
                                slot: s,
                                ballot: b,
                                batch,
                            } if s == slot && b == ballot => Some(batch.clone()),
                            _ => None,
                        });
                        let batch = batch.expect("a learned value names an accepted one");
                        machine.learned.insert(*slot, batch);
                    }
                    _ => {}
                }
                machine.records.push(r.clone());
                dirty = true;
            }
            Output::Snapshot(s) => snapshot = Some(s),
            _ => {}
        }
    }
    if let Some(s) = snapshot {
        assert_eq!(
            s.upto,
            replica.log_start(),
            "the last snapshot is where the log now starts"
        );
        machine.snapshot = Some(s.clone());
        machine.records = replica.durable_records();
        dirty = true;
    }
    if dirty {
        o.save(machine.clone());
    }
    for output in out {
        match output {
            Output::Persist(_) | Output::Snapshot(_) => {}
            Output::Send { to, msg } => o.send(Id::from((to - 1) as usize), ModelMsg::Peer(msg)),
            Output::Reply { request, reply } => o.send(
                requester(request),
                ModelMsg::Reply(request, reply, arrived.contains(&request)),
            ),
            Output::SetTimer {
                timer: Timer::Heartbeat,
                ..
            } if !heartbeats => {}
            // The delay is not modelled: a timer may fire at any time, and
            // when it does its node's clock moves on by one tick.
            Output::SetTimer { timer, .. } => {
                o.set_timer(timer, Duration::from_millis(1)..Duration::from_millis(2))
            }
        }
    }
}

impl Node {
    fn send_op(&self, me: Id, sent: usize, o: &mut Out<Node>) {
        if let Node::Client {
            ops,
            server,
            anonymous,
        } = self
        {
            let index = usize::from(me) as u64;
            let command = if *anonymous {
                // The node shell numbers commands without a session itself
                // (the core's table of waiters is keyed by client and seq);
                // any number unique per command does.
                Command {
                    client: 0,
                    seq: (index << 32) | (sent as u64 + 1),
                    op: ops[sent].clone(),
                }
            } else {
                Command {
                    client: index + 1,
                    seq: sent as u64 + 1,
                    op: ops[sent].clone(),
                }
            };
            o.send(
                Id::from(*server),
                ModelMsg::Request(request_id(me, sent), command),
            );
        }
    }

    fn heartbeats(&self) -> bool {
        matches!(
            self,
            Node::Server {
                heartbeats: true,
                ..
            }
        )
    }

    /// Starts the core on `machine` (its clock already set).
    fn boot(&self, mut machine: Machine, o: &mut Out<Node>) -> NodeState {
        let Node::Server {
            cfg,
            bug,
            heartbeats,
            ..
        } = self
        else {
            unreachable!("only servers boot");
        };
        let mut replica = Box::new(Replica::recover_with_bug(
            cfg.clone(),
            *bug,
            machine.snapshot.clone(),
            &machine.records,
        ));
        run(
            &mut replica,
            &mut machine,
            *heartbeats,
            Input::Start,
            o,
            true,
        );
        NodeState::Server { replica, machine }
    }
}

impl Actor for Node {
    type Msg = ModelMsg;
    type State = NodeState;
    type Timer = Timer;
    /// A restarting server's clock reading.
    type Random = u64;
    type Storage = Machine;

    fn on_start(&self, id: Id, storage: &Option<Machine>, o: &mut Out<Self>) -> NodeState {
        match self {
            Node::Server {
                tick_ms,
                max_clock_ms,
                ..
            } => match storage {
                // A restart with a moving clock: time went on while the
                // process was down, for as long as the checker likes (the
                // boundary keeps only the readings that agree with the
                // other clocks).
                Some(machine) if *tick_ms > 0 => {
                    let readings = (machine.clock_ms..=*max_clock_ms)
                        .step_by(*tick_ms as usize)
                        .collect();
                    o.choose_random("clock", readings);
                    NodeState::Booting {
                        machine: machine.clone(),
                    }
                }
                _ => self.boot(storage.clone().unwrap_or_default(), o),
            },
            Node::Client { ops, .. } => {
                // A client that crashed is retired: what it had in flight
                // stays indeterminate, and it sends nothing more.
                if storage.is_some() {
                    return NodeState::Client {
                        sent: ops.len(),
                        done: true,
                    };
                }
                o.save(Machine::default());
                if !ops.is_empty() {
                    self.send_op(id, 0, o);
                }
                NodeState::Client {
                    sent: 1,
                    done: ops.is_empty(),
                }
            }
        }
    }

    fn on_random(&self, _id: Id, state: &mut Cow<NodeState>, clock: &u64, o: &mut Out<Self>) {
        if let NodeState::Booting { machine } = &**state {
            let mut machine = machine.clone();
            machine.clock_ms = *clock;
            *state.to_mut() = self.boot(machine, o);
        }
    }

    fn on_msg(
        &self,
        id: Id,
        state: &mut Cow<NodeState>,
        src: Id,
        msg: ModelMsg,
        o: &mut Out<Self>,
    ) {
        let heartbeats = self.heartbeats();
        match (state.to_mut(), msg) {
            (NodeState::Server { replica, machine }, ModelMsg::Peer(msg)) => {
                let from = usize::from(src) as u64 + 1;
                let input = Input::Message { from, msg };
                run(replica, machine, heartbeats, input, o, false);
            }
            (NodeState::Server { replica, machine }, ModelMsg::Request(request, command)) => {
                let input = Input::Requests(vec![(request, command)]);
                run(replica, machine, heartbeats, input, o, false);
            }
            (NodeState::Client { sent, done }, ModelMsg::Reply(_, reply, _)) => {
                let Node::Client { ops, .. } = self else {
                    return;
                };
                let indeterminate = matches!(
                    reply,
                    Reply::Error {
                        definite: false,
                        ..
                    }
                );
                if indeterminate || *sent >= ops.len() {
                    *done = true;
                } else {
                    self.send_op(id, *sent, o);
                    *sent += 1;
                }
            }
            _ => {}
        }
    }

    fn on_timeout(&self, _id: Id, state: &mut Cow<NodeState>, timer: &Timer, o: &mut Out<Self>) {
        let heartbeats = self.heartbeats();
        let tick_ms = match self {
            Node::Server { tick_ms, .. } => *tick_ms,
            Node::Client { .. } => 0,
        };
        if let NodeState::Server { replica, machine } = state.to_mut() {
            machine.clock_ms += tick_ms;
            let input = Input::Timeout(*timer);
            run(replica, machine, heartbeats, input, o, tick_ms > 0);
        }
    }
}

/// A register on one key, for the linearizability tester: a definitely
/// failed operation is a no-op.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
struct KeySpec(Option<String>);

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Ret {
    Result(KvResult),
    Failed,
}

impl SequentialSpec for KeySpec {
    type Op = KvOp;
    type Ret = Ret;

    fn invoke(&mut self, op: &KvOp) -> Ret {
        match op {
            KvOp::Set { value, .. } => {
                self.0 = Some(value.clone());
                Ret::Result(KvResult::Done)
            }
            KvOp::Get { .. } => Ret::Result(KvResult::Value {
                value: self.0.clone(),
            }),
            other => unreachable!("the model's clients only set and get: {other:?}"),
        }
    }

    fn is_valid_step(&mut self, op: &KvOp, ret: &Ret) -> bool {
        *ret == Ret::Failed || self.invoke(op) == *ret
    }
}

type History = LinearizabilityTester<Id, KeySpec>;
type State = ActorModelState<Node, History>;

fn record_invocations(
    _: &ModelCfg,
    history: &History,
    env: Envelope<&ModelMsg>,
) -> Option<History> {
    if let ModelMsg::Request(_, command) = env.msg {
        let mut h = history.clone();
        let _ = h.on_invoke(env.src, command.op.clone());
        return Some(h);
    }
    None
}

fn record_returns(_: &ModelCfg, history: &History, env: Envelope<&ModelMsg>) -> Option<History> {
    let ModelMsg::Reply(_, reply, _) = env.msg else {
        return None;
    };
    let ret = match reply {
        Reply::Ok(result) => Ret::Result(result.clone()),
        Reply::Error { definite: true, .. } => Ret::Failed,
        // May or may not have happened: stays in flight forever.
        Reply::Error {
            definite: false, ..
        } => return None,
    };
    let mut h = history.clone();
    let _ = h.on_return(env.dst, ret);
    Some(h)
}

/// One model: the protocol and how it is configured, and its bounds.
#[derive(Clone)]
struct ModelCfg {
    mode: Mode,
    reads: ReadMode,
    /// 0: the clocks stay at 0, and every election timer that fires may
    /// start an election. Otherwise every timer firing moves its node's
    /// clock this far (see [`TICK_MS`]), and the core's timeouts and lease
    /// are a few ticks long: elections wait until a node heard nothing
    /// from the leader for a tick (and, with leases, until the lease it
    /// granted ran out), leases expire, and callers waiting too long are
    /// told the outcome is unknown.
    tick_ms: u64,
    /// How many ticks each clock may run (the bound on time).
    max_ticks: u64,
    /// Snapshot after this many applied slots (0: never).
    snapshot_every: u64,
    /// Which of the two clients have no session.
    anonymous: [bool; 2],
    bug: Option<PlantedBug>,
    /// The rival-leaders schedule of the bug hunt: no heartbeats, one
    /// write per client and no reads.
    rivals: bool,
    /// The highest ballot round each node may reach.
    max_rounds: [u64; SERVERS],
    /// Whether clients crash too (with `max_crashes`). A crashed client
    /// only leaves its operation in flight for good, as an indeterminate
    /// reply does; the models that explore deeper spend no states on it.
    clients_crash: bool,
    max_messages: usize,
}

impl ModelCfg {
    /// Reads through the log, the clock stuck at 0, sessions, no
    /// snapshots, no planted bug.
    fn log_reads(mode: Mode) -> ModelCfg {
        ModelCfg {
            mode,
            reads: ReadMode::Log,
            tick_ms: 0,
            max_ticks: 0,
            snapshot_every: 0,
            anonymous: [false, false],
            bug: None,
            rivals: false,
            max_rounds: [2; SERVERS],
            clients_crash: true,
            max_messages: 8,
        }
    }

    /// `reads` with moving clocks.
    fn clocked(mode: Mode, reads: ReadMode, max_ticks: u64) -> ModelCfg {
        ModelCfg {
            reads,
            tick_ms: TICK_MS,
            max_ticks,
            clients_crash: false,
            ..ModelCfg::log_reads(mode)
        }
    }

    /// The rival-leaders schedule, with `bug` planted (or not): node 1
    /// runs one election round, node 2 one higher, node 3 none.
    fn rivals(mode: Mode, bug: Option<PlantedBug>) -> ModelCfg {
        ModelCfg {
            bug,
            rivals: true,
            max_rounds: [1, 2, 0],
            max_messages: 10,
            ..ModelCfg::log_reads(mode)
        }
    }

    /// Whether the boundary keeps every two running clocks within a tick
    /// of each other. Lease reads are safe only while clocks run at the
    /// same rate, and per-node ticks alone do not ensure that: a follower
    /// whose timers fire ten times while the leader's fire once has a
    /// clock ten times as fast. A server that restarts may read any time
    /// from where its clock stopped on, and keeps only the readings within
    /// a tick of the others. Multi-Paxos only: there every running replica
    /// always has a timer set (election or heartbeat), so no clock can hold
    /// the others back for good; Basic Paxos sets one only while it
    /// proposes, and reads no clock for safety. (Quorum reads read none
    /// either: for them the bound only narrows the search.)
    fn synchronized(&self) -> bool {
        self.tick_ms > 0 && self.mode == Mode::Multi
    }
}

/// The running replicas (and crashed ones, as they were).
fn servers(state: &State) -> impl Iterator<Item = &Replica> {
    state.actor_states.iter().filter_map(|s| match &**s {
        NodeState::Server { replica, .. } => Some(&**replica),
        _ => None,
    })
}

/// Every (slot, value) each server knows chosen, or learned chosen before
/// a snapshot dropped it.
fn chosen_ever(state: &State) -> impl Iterator<Item = (&Slot, &Batch)> {
    state.actor_states.iter().flat_map(|s| {
        let (chosen, learned) = match &**s {
            NodeState::Server { replica, machine } => {
                (Some(replica.chosen()), Some(&machine.learned))
            }
            NodeState::Booting { machine } => (None, Some(&machine.learned)),
            NodeState::Client { .. } => (None, None),
        };
        chosen.into_iter().chain(learned).flatten()
    })
}

/// The clock of every running server (not crashed, not booting).
fn running_clocks(state: &State) -> impl Iterator<Item = u64> + '_ {
    state
        .actor_states
        .iter()
        .zip(&state.crashed)
        .filter_map(|(s, crashed)| match &**s {
            NodeState::Server { machine, .. } if !crashed => Some(machine.clock_ms),
            _ => None,
        })
}

/// Whether a reply to a read is in flight: answered (`on_arrival`: in the
/// step that took it, without a round trip to another node).
fn read_reply_in_flight(state: &State, on_arrival: bool) -> bool {
    state.network.iter_deliverable().any(|env| {
        matches!(
            env.msg,
            ModelMsg::Reply(_, Reply::Ok(KvResult::Value { .. }), now) if *now || !on_arrival
        )
    })
}

fn model(cfg: ModelCfg) -> ActorModel<Node, ModelCfg, History> {
    let members: Vec<u64> = (1..=SERVERS as u64).collect();
    let set = |v: &str| KvOp::Set {
        key: "k".into(),
        value: v.into(),
    };
    let get = || KvOp::Get { key: "k".into() };
    let mut m = ActorModel::new(cfg.clone(), LinearizabilityTester::new(KeySpec::default()));
    for id in &members {
        let mut c = Config::new(*id, members.clone());
        c.mode = cfg.mode;
        c.reads = cfg.reads;
        c.snapshot_every = cfg.snapshot_every;
        if cfg.tick_ms == 0 {
            // No clock: an election timer that fires may always start an
            // election.
            c.election_timeout_ms = (0, 0);
        } else {
            let tick = cfg.tick_ms;
            c.heartbeat_ms = tick;
            c.election_timeout_ms = (tick, tick);
            c.backoff_ms = (tick, tick);
            // Running clocks differ by up to a tick (see
            // `ModelCfg::synchronized`). The leader trusts its lease from
            // when its heartbeat left, and a follower grants it from when
            // the heartbeat arrived until the grant runs out on its own
            // clock: with the two clocks a tick apart at either end, the
            // trusted lease must be two ticks shorter than the grant. A
            // grant of three ticks, trusted for one (3 * 50 / 150), is the
            // shortest that leaves that and still serves reads.
            c.lease_ms = 3 * tick;
            c.clock_drift_pct = 50;
            assert!(c.lease_ms - 2 * tick >= c.lease_trusted_ms());
            assert!(c.lease_trusted_ms() > 0, "leases must serve reads");
            // Short enough that callers do expire within the clock bound.
            c.request_ttl_ms = 3 * tick;
        }
        m = m.actor(Node::Server {
            cfg: c,
            bug: cfg.bug,
            heartbeats: !cfg.rivals,
            tick_ms: cfg.tick_ms,
            max_clock_ms: cfg.max_ticks * cfg.tick_ms,
        });
    }
    // The rival-leaders schedule needs only the two conflicting writes.
    let reads = if cfg.rivals { vec![] } else { vec![get()] };
    let m = m
        .actor(Node::Client {
            ops: [vec![set("a")], reads.clone()].concat(),
            server: 0,
            anonymous: cfg.anonymous[0],
        })
        .actor(Node::Client {
            ops: [vec![set("b")], reads].concat(),
            server: 1,
            anonymous: cfg.anonymous[1],
        })
        .init_network(Network::new_unordered_nonduplicating([]))
        .lossy_network(LossyNetwork::Yes)
        .max_crashes(1)
        .property(Expectation::Always, "linearizable", |_, state| {
            state.history.serialized_history().is_some()
        })
        .property(
            Expectation::Always,
            "at most one value chosen per slot",
            |_, state| {
                let mut seen: BTreeMap<Slot, &Batch> = BTreeMap::new();
                chosen_ever(state).all(|(slot, v)| *seen.entry(*slot).or_insert(v) == v)
            },
        )
        .property(Expectation::Sometimes, "value chosen", |_, state| {
            chosen_ever(state).any(|(_, b)| !b.0.is_empty())
        })
        .record_msg_out(record_invocations)
        .record_msg_in(record_returns)
        .within_boundary(within_bounds);
    // What the searches must reach, registered where it can happen: each
    // is looked for in every state.
    let sometimes: [(bool, &'static str, Condition); 7] = [
        (cfg.reads != ReadMode::Log, "read answered", |_, state| {
            read_reply_in_flight(state, false)
        }),
        (
            cfg.reads == ReadMode::Lease,
            "read answered on arrival",
            |_, state| read_reply_in_flight(state, true),
        ),
        (
            cfg.anonymous.contains(&true),
            "anonymous command chosen",
            |_, state| chosen_ever(state).any(|(_, b)| b.0.iter().any(|c| c.client == 0)),
        ),
        (cfg.snapshot_every > 0, "snapshot taken", |_, state| {
            state.actor_states.iter().any(|s| match &**s {
                NodeState::Server { machine, .. } | NodeState::Booting { machine } => {
                    machine.snapshot.is_some()
                }
                NodeState::Client { .. } => false,
            })
        }),
        (cfg.snapshot_every > 0, "snapshot sent", |_, state| {
            state
                .network
                .iter_deliverable()
                .any(|env| matches!(env.msg, ModelMsg::Peer(Msg::InstallSnapshot { .. })))
        }),
        (
            cfg.snapshot_every > 0,
            "restarted from a snapshot",
            |_, state| servers(state).any(|r| r.incarnation() >= 2 && r.log_start() > 0),
        ),
        (
            cfg.mode == Mode::Multi && cfg.tick_ms > 0,
            "leader changed",
            |_, state| {
                // An acceptor holds values from two leaders (only a leader
                // sends `Accept`, and accepting one follows it: with lease
                // reads, grants it a lease).
                servers(state).any(|r| {
                    let a = r.acceptor();
                    let mut leaders = (r.log_start()..a.accepted_end())
                        .filter_map(|s| a.accepted(s).map(|(b, _)| b.node));
                    leaders
                        .next()
                        .is_some_and(|first| leaders.any(|n| n != first))
                })
            },
        ),
    ];
    sometimes
        .into_iter()
        .filter(|(applies, _, _)| *applies)
        .fold(m, |m, (_, name, condition)| {
            m.property(Expectation::Sometimes, name, condition)
        })
}

/// A property's condition.
type Condition = fn(&ActorModel<Node, ModelCfg, History>, &State) -> bool;

/// Bounds: few ballots, few messages in flight at once, and clocks that
/// run at most `max_ticks` (and together, see [`ModelCfg::synchronized`]).
fn within_bounds(cfg: &ModelCfg, state: &State) -> bool {
    let max_clock_ms = cfg.max_ticks * cfg.tick_ms;
    let mut clocks = running_clocks(state);
    let in_sync = !cfg.synchronized()
        || clocks.next().is_none_or(|first| {
            let (lo, hi) = clocks.fold((first, first), |(lo, hi), c| (lo.min(c), hi.max(c)));
            hi - lo <= cfg.tick_ms
        });
    state.network.len() <= cfg.max_messages
        && in_sync
        && (cfg.clients_crash || state.crashed[SERVERS..].iter().all(|c| !c))
        && state.actor_states.iter().all(|s| match &**s {
            NodeState::Server { machine, .. } => machine.clock_ms <= max_clock_ms,
            _ => true,
        })
        && servers(state).all(|r| {
            let max = cfg.max_rounds.get(r.id() as usize - 1).copied();
            max.is_some_and(|max| r.ballot().round <= max)
        })
}

/// A finished search.
struct Run<C> {
    checker: C,
}

impl<C: Checker<ActorModel<Node, ModelCfg, History>>> Run<C> {
    fn safe(&self) -> &Self {
        self.checker.assert_no_discovery("linearizable");
        self.checker
            .assert_no_discovery("at most one value chosen per slot");
        self
    }

    fn reaches(&self, property: &'static str) -> &Self {
        let _ = self.checker.assert_any_discovery(property);
        self
    }
}

/// Breadth-first search of a bounded model, on two threads, up to `states`
/// states generated; prints what it covered.
trait Bfs {
    fn bfs(
        self,
        name: &'static str,
        states: usize,
    ) -> Run<impl Checker<ActorModel<Node, ModelCfg, History>>>;
    /// The same on one thread: the whole bounded space, every run. (Two
    /// threads on a loaded machine sometimes end a search a few thousand
    /// states short, which a rare discovery at the boundary can miss.)
    fn bfs_whole(
        self,
        name: &'static str,
        states: usize,
    ) -> Run<impl Checker<ActorModel<Node, ModelCfg, History>>>;
}

impl Bfs for ActorModel<Node, ModelCfg, History> {
    fn bfs(
        self,
        name: &'static str,
        states: usize,
    ) -> Run<impl Checker<ActorModel<Node, ModelCfg, History>>> {
        search(self, name, states, 2)
    }

    fn bfs_whole(
        self,
        name: &'static str,
        states: usize,
    ) -> Run<impl Checker<ActorModel<Node, ModelCfg, History>>> {
        search(self, name, states, 1)
    }
}

fn search(
    model: ActorModel<Node, ModelCfg, History>,
    name: &'static str,
    states: usize,
    threads: usize,
) -> Run<impl Checker<ActorModel<Node, ModelCfg, History>>> {
    let started = Instant::now();
    let checker = model
        .checker()
        .threads(threads)
        .target_state_count(states)
        .spawn_bfs()
        .join();
    eprintln!(
        "{name}: {} states, depth {}, {:.1?}",
        checker.unique_state_count(),
        checker.max_depth(),
        started.elapsed()
    );
    Run { checker }
}

fn check(mode: Mode, states: usize) -> Run<impl Checker<ActorModel<Node, ModelCfg, History>>> {
    let name = match mode {
        Mode::Multi => "multi",
        Mode::Basic => "basic",
    };
    model(ModelCfg::log_reads(mode)).bfs(name, states)
}

/// The model without message loss and crashes: it reaches deeper states
/// (a value chosen after an election) for the same number of states.
fn reliable(cfg: ModelCfg) -> ActorModel<Node, ModelCfg, History> {
    model(cfg).lossy_network(LossyNetwork::No).max_crashes(0)
}

#[test]
fn multi_paxos_is_safe_and_live() {
    check(Mode::Multi, 1_000_000).safe();
    // A value gets chosen: found on the same model without drops and
    // crashes, whose paths are all paths of the lossy one too.
    reliable(ModelCfg::log_reads(Mode::Multi))
        .bfs("multi, reliable", 1_000_000)
        .safe()
        .reaches("value chosen");
}

#[test]
fn basic_paxos_is_safe_and_live() {
    check(Mode::Basic, 1_000_000).safe().reaches("value chosen");
}

/// Hunts for the planted bug (an acceptor that ignores its promise).
/// The violation needs two rival leaders (or proposers) and over a dozen
/// deliveries: a reliable network, no crashes, no heartbeats and one write
/// per client keep that depth within reach; Multi-Paxos also needs FIFO
/// links (fewer interleavings of the same messages).
fn hunt(mode: Mode, network: Network<ModelMsg>, states: usize) -> bool {
    let name = match mode {
        Mode::Multi => "multi hunt",
        Mode::Basic => "basic hunt",
    };
    let run = reliable(ModelCfg::rivals(mode, Some(PlantedBug::IgnorePromise)))
        .init_network(network)
        .bfs(name, states);
    let found = ["linearizable", "at most one value chosen per slot"]
        .into_iter()
        .find_map(|p| Some((p, run.checker.discovery(p)?)));
    if let Some((property, path)) = &found {
        eprintln!(
            "{name}: {property:?} violated after {} steps",
            path.clone().into_actions().len()
        );
    }
    found.is_some()
}

#[test]
fn an_acceptor_that_ignores_its_promise_is_caught() {
    assert!(
        hunt(
            Mode::Basic,
            Network::new_unordered_nonduplicating([]),
            1_000_000
        ),
        "basic: the planted bug went unnoticed"
    );
    assert!(
        hunt(Mode::Multi, Network::new_ordered([]), MULTI_HUNT_STATES),
        "multi: the planted bug went unnoticed"
    );
}

/// The bound of the Multi-Paxos bug hunt, which finds the planted bug
/// within it; the correct acceptor gets the same search.
const MULTI_HUNT_STATES: usize = 3_500_000;

/// How many steps the Multi-Paxos hunt's counterexample takes, at most
/// (it prints them: 19 or 20, as its two threads race to the first).
const MULTI_HUNT_VIOLATION_STEPS: usize = 20;

/// The bug hunt's schedule (FIFO links, no heartbeats, node 1 one election
/// round and node 2 two, one write per client) with the correct acceptor.
/// Two leaders race there, and a deposed leader's `Accept` reaches
/// acceptors that already know the slot chosen: a past bug acked it with
/// `Accepted` (the slot was below their chosen prefix), and the deposed
/// leader counted that ack toward a majority for a value that lost. The
/// same search with the planted bug (which acks such slots again) finds a
/// violation; this one must search past that depth, every schedule that
/// long included (breadth first, levels below the deepest are complete; a
/// level of slack for the two threads' ragged frontier).
#[test]
fn rival_leaders_with_a_correct_acceptor_choose_one_value() {
    let run = reliable(ModelCfg::rivals(Mode::Multi, None))
        .init_network(Network::new_ordered([]))
        .bfs("multi rivals, correct acceptor", MULTI_HUNT_STATES);
    run.safe().reaches("value chosen");
    // Depth counts states: the initial state is at depth 1.
    let depth = run.checker.max_depth();
    assert!(
        depth > MULTI_HUNT_VIOLATION_STEPS + 2,
        "searched to depth {depth} only: short of the planted bug's schedule"
    );
}

/// The first of the two searches each clocked model gets: the lossy,
/// reordering network with a server crash (every behaviour, shallow).
fn lossy(cfg: ModelCfg) -> ActorModel<Node, ModelCfg, History> {
    model(cfg)
}

/// The second: reliable FIFO links without crashes, node 1 campaigning at
/// most once, node 2 at most twice and node 3 never (deeper: a read after
/// a write, a second leader after the first).
fn fifo(mut cfg: ModelCfg) -> ActorModel<Node, ModelCfg, History> {
    cfg.max_rounds = [1, 2, 0];
    reliable(cfg).init_network(Network::new_ordered([]))
}

/// Multi-Paxos with quorum reads (a read asks a majority how far its log
/// reaches and answers once applied that far) and moving clocks: elections
/// wait for a quiet tick, callers expire. The second client has no
/// session.
#[test]
fn multi_paxos_quorum_reads_with_moving_clocks_are_linearizable() {
    let cfg = ModelCfg {
        anonymous: [false, true],
        ..ModelCfg::clocked(Mode::Multi, ReadMode::Quorum, 4)
    };
    lossy(cfg.clone())
        .bfs("multi quorum reads", QUORUM_LOSSY_STATES)
        .safe()
        .reaches("read answered")
        .reaches("anonymous command chosen");
    fifo(cfg)
        .bfs("multi quorum reads, fifo", QUORUM_FIFO_STATES)
        .safe()
        .reaches("read answered")
        .reaches("leader changed");
}

const QUORUM_LOSSY_STATES: usize = 1_000_000;
const QUORUM_FIFO_STATES: usize = 1_500_000;

/// Multi-Paxos with lease reads: the leader answers alone while a majority
/// acked a heartbeat it sent less than a trusted lease ago, and a node that
/// acked refuses to help elect anyone else until the lease it granted ends
/// (see `ModelCfg::synchronized` for the clocks this needs). Some reads
/// must be served under a lease. The first client has no session.
#[test]
fn multi_paxos_lease_reads_with_synchronized_clocks_are_linearizable() {
    let cfg = ModelCfg {
        anonymous: [true, false],
        // A new leader sends its no-op, a heartbeat and the no-op again:
        // with the clients' requests that is more than eight messages.
        max_messages: 12,
        ..ModelCfg::clocked(Mode::Multi, ReadMode::Lease, 4)
    };
    lossy(cfg.clone())
        .bfs("multi lease reads", LEASE_LOSSY_STATES)
        .safe()
        .reaches("value chosen");
    fifo(cfg)
        .bfs("multi lease reads, fifo", LEASE_FIFO_STATES)
        .safe()
        .reaches("read answered on arrival")
        .reaches("anonymous command chosen");
}

const LEASE_LOSSY_STATES: usize = 1_000_000;
const LEASE_FIFO_STATES: usize = 1_500_000;

/// Basic Paxos with quorum reads and moving clocks (backoffs are ticks),
/// both clients without a session: a command proposed twice (a retry in
/// another slot) would be applied twice.
#[test]
fn basic_paxos_quorum_reads_with_moving_clocks_are_linearizable() {
    let cfg = ModelCfg {
        anonymous: [true, true],
        ..ModelCfg::clocked(Mode::Basic, ReadMode::Quorum, 4)
    };
    lossy(cfg.clone())
        .bfs("basic quorum reads", 1_000_000)
        .safe()
        .reaches("anonymous command chosen");
    reliable(cfg)
        .bfs("basic quorum reads, reliable", 1_000_000)
        .safe()
        .reaches("read answered");
}

/// Snapshots after every applied slot: the log is compacted as it goes,
/// a restart recovers from the snapshot and the records rewritten after
/// it, and a replica behind the compacted prefix gets the leader's (Multi)
/// or an acceptor's (Basic) snapshot instead of the slots. One server may
/// crash; the network is reliable, and in Multi-Paxos node 1 campaigns at
/// most once, node 2 twice and node 3 never (a restart from a snapshot,
/// and a snapshot sent, lie deeper than the lossy search goes).
#[test]
fn snapshots_after_every_slot_keep_one_value_per_slot() {
    // Followers learn chosen slots from the leader's next Accept or
    // heartbeat, so a lagging follower asks for the snapshot later than
    // when every chosen value was broadcast, with a heartbeat round still
    // in flight: room for more messages, and a deeper search, on one
    // thread so that it reaches that depth every run.
    let multi = ModelCfg {
        snapshot_every: 1,
        clients_crash: false,
        max_rounds: [1, 2, 0],
        max_messages: 12,
        ..ModelCfg::log_reads(Mode::Multi)
    };
    reliable(multi)
        .max_crashes(1)
        .bfs_whole("multi snapshots", 2_500_000)
        .safe()
        .reaches("restarted from a snapshot")
        .reaches("snapshot sent");
    let basic = ModelCfg {
        snapshot_every: 1,
        anonymous: [true, false],
        clients_crash: false,
        ..ModelCfg::clocked(Mode::Basic, ReadMode::Quorum, 4)
    };
    reliable(basic)
        .max_crashes(1)
        .bfs("basic snapshots, quorum reads", 1_000_000)
        .safe()
        .reaches("restarted from a snapshot")
        .reaches("snapshot sent");
}
