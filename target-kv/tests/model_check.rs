//! The consensus core under stateright's model checker: 3 replicas and 2
//! clients over a lossy, reordering network, with a crash and recovery
//! from persisted records. Every reachable state (within bounds) must be
//! linearizable with at most one value chosen per slot, and some state
//! must have a value chosen. A planted bug (an acceptor that ignores its
//! promise) must be caught.

use stateright::actor::{Actor, ActorModel, Id, LossyNetwork, Network, Out};
use stateright::semantics::{ConsistencyTester, LinearizabilityTester, SequentialSpec};
use stateright::{Checker, Expectation, Model};
use std::borrow::Cow;
use std::time::Duration;
use target_kv::kv::{Command, KvOp, KvResult};
use target_kv::paxos::{
    Config, Input, Mode, Msg, Output, PlantedBug, ReadMode, Record, Replica, Reply, RequestId,
    Timer,
};

const SERVERS: usize = 3;

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum ModelMsg {
    Peer(Msg),
    Request(RequestId, Command),
    Reply(RequestId, Reply),
}

#[derive(Clone)]
enum Node {
    /// A replica; `heartbeats: false` drops its heartbeat timer (the bug
    /// hunt needs no heartbeats, and they multiply the states).
    Server {
        cfg: Config,
        bug: Option<PlantedBug>,
        heartbeats: bool,
    },
    Client {
        ops: Vec<KvOp>,
        server: usize,
    },
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum NodeState {
    Server {
        replica: Box<Replica>,
        disk: Vec<Record>,
    },
    Client {
        sent: usize,
        done: bool,
    },
}

fn run(
    replica: &mut Replica,
    disk: &mut Vec<Record>,
    heartbeats: bool,
    input: Input,
    o: &mut Out<Node>,
) {
    let mut out = Vec::new();
    // The model has no clock; timers fire whenever the checker likes.
    replica.step(0, input, &mut out);
    let mut persisted = false;
    for output in out {
        match output {
            Output::Persist(r) => {
                disk.push(r);
                persisted = true;
            }
            Output::Send { to, msg } => o.send(Id::from((to - 1) as usize), ModelMsg::Peer(msg)),
            Output::Reply { request, reply } => {
                o.send(Id::from(request as usize), ModelMsg::Reply(request, reply))
            }
            Output::Snapshot(_) => unreachable!("snapshots are off in the model"),
            Output::SetTimer {
                timer: Timer::Heartbeat,
                ..
            } if !heartbeats => {}
            Output::SetTimer { timer, .. } => {
                o.set_timer(timer, Duration::from_millis(1)..Duration::from_millis(2))
            }
        }
    }
    if persisted {
        o.save(disk.clone());
    }
}

impl Node {
    fn send_op(&self, me: Id, sent: usize, o: &mut Out<Node>) {
        if let Node::Client { ops, server } = self {
            let index = usize::from(me) as u64;
            let command = Command {
                client: index + 1,
                seq: sent as u64 + 1,
                op: ops[sent].clone(),
            };
            o.send(Id::from(*server), ModelMsg::Request(index, command));
        }
    }
}

impl Actor for Node {
    type Msg = ModelMsg;
    type State = NodeState;
    type Timer = Timer;
    type Random = ();
    type Storage = Vec<Record>;

    fn on_start(&self, id: Id, storage: &Option<Vec<Record>>, o: &mut Out<Self>) -> NodeState {
        match self {
            Node::Server {
                cfg,
                bug,
                heartbeats,
            } => {
                let mut disk = storage.clone().unwrap_or_default();
                let mut replica =
                    Box::new(Replica::recover_with_bug(cfg.clone(), *bug, None, &disk));
                run(&mut replica, &mut disk, *heartbeats, Input::Start, o);
                NodeState::Server { replica, disk }
            }
            Node::Client { ops, .. } => {
                // A client that crashed is retired: what it had in flight
                // stays indeterminate, and it sends nothing more.
                if storage.is_some() {
                    return NodeState::Client {
                        sent: ops.len(),
                        done: true,
                    };
                }
                o.save(Vec::new());
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

    fn on_msg(
        &self,
        id: Id,
        state: &mut Cow<NodeState>,
        src: Id,
        msg: ModelMsg,
        o: &mut Out<Self>,
    ) {
        let heartbeats = matches!(
            self,
            Node::Server {
                heartbeats: true,
                ..
            }
        );
        match (state.to_mut(), msg) {
            (NodeState::Server { replica, disk }, ModelMsg::Peer(msg)) => {
                let from = usize::from(src) as u64 + 1;
                run(replica, disk, heartbeats, Input::Message { from, msg }, o);
            }
            (NodeState::Server { replica, disk }, ModelMsg::Request(request, command)) => {
                run(
                    replica,
                    disk,
                    heartbeats,
                    Input::Requests(vec![(request, command)]),
                    o,
                );
            }
            (NodeState::Client { sent, done }, ModelMsg::Reply(_, reply)) => {
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
        let heartbeats = matches!(
            self,
            Node::Server {
                heartbeats: true,
                ..
            }
        );
        if let NodeState::Server { replica, disk } = state.to_mut() {
            run(replica, disk, heartbeats, Input::Timeout(*timer), o);
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

fn record_invocations(
    _: &ModelCfg,
    history: &History,
    env: stateright::actor::Envelope<&ModelMsg>,
) -> Option<History> {
    if let ModelMsg::Request(_, command) = env.msg {
        let mut h = history.clone();
        let _ = h.on_invoke(env.src, command.op.clone());
        return Some(h);
    }
    None
}

fn record_returns(
    _: &ModelCfg,
    history: &History,
    env: stateright::actor::Envelope<&ModelMsg>,
) -> Option<History> {
    let ModelMsg::Reply(_, reply) = env.msg else {
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

#[derive(Clone)]
struct ModelCfg {
    mode: Mode,
    planted_bug: bool,
    max_round: u64,
    max_messages: usize,
}

fn servers(
    state: &stateright::actor::ActorModelState<Node, History>,
) -> impl Iterator<Item = &Replica> {
    state.actor_states.iter().filter_map(|s| match &**s {
        NodeState::Server { replica, .. } => Some(&**replica),
        NodeState::Client { .. } => None,
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
        c.reads = ReadMode::Log;
        // No clock in the model: an election timer that fires may always
        // start an election.
        c.election_timeout_ms = (0, 0);
        // Snapshots are exercised by the in-process tests; the model keeps
        // every slot (its runs are far shorter than any snapshot interval).
        c.snapshot_every = 0;
        m = m.actor(Node::Server {
            cfg: c,
            bug: cfg.planted_bug.then_some(PlantedBug::IgnorePromise),
            heartbeats: !cfg.planted_bug,
        });
    }
    // The bug hunt needs only the two conflicting writes.
    let reads = if cfg.planted_bug { vec![] } else { vec![get()] };
    m.actor(Node::Client {
        ops: [vec![set("a")], reads.clone()].concat(),
        server: 0,
    })
    .actor(Node::Client {
        ops: [vec![set("b")], reads].concat(),
        server: 1,
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
            let all: Vec<&Replica> = servers(state).collect();
            all.iter().all(|a| {
                all.iter().all(|b| {
                    a.chosen()
                        .iter()
                        .all(|(slot, v)| b.chosen().get(slot).is_none_or(|w| w == v))
                })
            })
        },
    )
    .property(Expectation::Sometimes, "value chosen", |_, state| {
        servers(state).any(|r| r.chosen().values().any(|b| !b.0.is_empty()))
    })
    .record_msg_out(record_invocations)
    .record_msg_in(record_returns)
    .within_boundary(|cfg, state| {
        // Bounds: few ballots, and few messages in flight at once.
        // The bug hunt lets node 1 run one election and node 2 one
        // (a higher one), and node 3 none: two rival leaders.
        state.network.len() <= cfg.max_messages
            && servers(state).all(|r| {
                let max = match (cfg.planted_bug, r.id()) {
                    (true, 1) => 1,
                    (true, 2) => 2,
                    (true, _) => 0,
                    (false, _) => cfg.max_round,
                };
                r.ballot().round <= max
            })
    })
}

fn check(mode: Mode, states: usize) -> impl Checker<ActorModel<Node, ModelCfg, History>> {
    model(ModelCfg {
        mode,
        planted_bug: false,
        max_round: 2,
        max_messages: 8,
    })
    .bfs(states)
}

/// Breadth-first search of a bounded model, on two threads, up to `states`
/// states generated.
trait Bfs {
    fn bfs(self, states: usize) -> impl Checker<ActorModel<Node, ModelCfg, History>>;
}

impl Bfs for ActorModel<Node, ModelCfg, History> {
    fn bfs(self, states: usize) -> impl Checker<ActorModel<Node, ModelCfg, History>> {
        self.checker()
            .threads(2)
            .target_state_count(states)
            .spawn_bfs()
            .join()
    }
}

/// The model without message loss and crashes: it reaches deeper states
/// (a value chosen after an election) for the same number of states.
fn check_reliable(mode: Mode, states: usize) -> impl Checker<ActorModel<Node, ModelCfg, History>> {
    model(ModelCfg {
        mode,
        planted_bug: false,
        max_round: 2,
        max_messages: 8,
    })
    .lossy_network(LossyNetwork::No)
    .max_crashes(0)
    .bfs(states)
}

#[test]
fn multi_paxos_is_safe_and_live() {
    let checker = check(Mode::Multi, 1_000_000);
    eprintln!(
        "multi: {} states breadth first",
        checker.unique_state_count()
    );
    checker.assert_no_discovery("linearizable");
    checker.assert_no_discovery("at most one value chosen per slot");
    // A value gets chosen: found on the same model without drops and
    // crashes, whose paths are all paths of the lossy one too.
    let checker = check_reliable(Mode::Multi, 1_000_000);
    checker.assert_no_discovery("linearizable");
    checker.assert_any_discovery("value chosen");
}

#[test]
fn basic_paxos_is_safe_and_live() {
    let checker = check(Mode::Basic, 1_000_000);
    eprintln!("basic: {} states", checker.unique_state_count());
    checker.assert_no_discovery("linearizable");
    checker.assert_no_discovery("at most one value chosen per slot");
    checker.assert_any_discovery("value chosen");
}

/// Hunts for the planted bug (an acceptor that ignores its promise).
/// The violation needs two rival leaders (or proposers) and over a dozen
/// deliveries: a reliable network, no crashes, no heartbeats and one write
/// per client keep that depth within reach; Multi-Paxos also needs FIFO
/// links (fewer interleavings of the same messages).
fn hunt(mode: Mode, network: Network<ModelMsg>, states: usize) -> bool {
    let checker = model(ModelCfg {
        mode,
        planted_bug: true,
        max_round: 2,
        max_messages: 10,
    })
    .init_network(network)
    .lossy_network(LossyNetwork::No)
    .max_crashes(0)
    .bfs(states);
    eprintln!(
        "{mode:?} hunt: {} states, depth {}",
        checker.unique_state_count(),
        checker.max_depth()
    );
    checker.discovery("linearizable").is_some()
        || checker
            .discovery("at most one value chosen per slot")
            .is_some()
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
        hunt(Mode::Multi, Network::new_ordered([]), 3_500_000),
        "multi: the planted bug went unnoticed"
    );
}
