//! The simulated world: nodes (the production [`Shell`] and [`Replica`]
//! over [`SimDisk`]s), a network, clocks, clients and the fault schedule,
//! driven by one event queue in simulated time. Everything random is drawn
//! from the seed, in one thread, so a seed always gives the same run.
//!
//! After every step of a node it checks what must always hold: the node's
//! own invariants ([`Replica::check_invariants`]), one value per slot
//! across all nodes, and that the node's state machine equals a replay of
//! the chosen log up to where the node has applied.

use super::clients::{call_result, CallResult, SimClient, Started};
use super::disk::SimDisk;
use super::faults::{NetFaults, SimFault};
use super::SimConfig;
use crate::nemesis::partition::{self, PartitionShape};
use crate::nemesis::plan::Aim;
use checker::generate::SplitMix;
use checker::{Process, Record, RecordType, Value};
use std::collections::{BTreeSet, BinaryHeap};
use std::fmt::Write as _;

use std::sync::Arc;
use target_kv::kv::{Command, KvStore};
use target_kv::paxos::{Batch, Config, Mode, Msg, NodeId, Role, Slot};
use target_kv::shell::{Effects, Now, Shell};
use workloads::store::StoreError;
use workloads::{Completion, Invocation, OpStream, Workload};

/// Bounds the slots the cross-node check tracks (a run fills a few
/// thousand).
const CHOSEN_SLOTS_MAX: usize = 1 << 22;

/// A client's one timer event in the queue, and the deadline of its latest
/// attempt (only the latest can still be answered). One event per client,
/// re-armed when it fires early, instead of one per attempt: most attempts
/// are answered long before their deadline, and their timeouts were a
/// tenth of all events.
#[derive(Clone, Copy, Debug, Default)]
struct ClientTimer {
    /// Whether its timer event is in the queue.
    queued: bool,
    /// The latest attempt's deadline and number.
    deadline: Option<(u64, u64)>,
}

/// Who a node answers: a client and its attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Caller {
    client: usize,
    attempt: u64,
}

/// Most messages kept for a node while it is down (the peers' send queues
/// that outlive a connection, bounded as the real transport's).
const HELD_MAX: usize = 1024;
/// The longest a simulated run may last, in microseconds (a safety net;
/// runs end long before).
const SIM_US_MAX: u64 = 600_000_000;
/// Most events one run may take.
const EVENTS_MAX: u64 = 5_000_000;
/// Attempts per final read (as the harness's final reads).
const FINAL_READ_ATTEMPTS: u32 = 10;

#[derive(Debug)]
enum Event {
    /// A peer message arrives.
    Deliver { from: NodeId, to: NodeId, msg: Msg },
    /// A client's call arrives at its node.
    Call {
        node: NodeId,
        caller: Caller,
        command: Command,
    },
    /// A node's answer (or the connection's fate) reaches a client.
    Answer { caller: Caller, result: CallResult },
    /// A client's timer: its attempt gives up if its deadline is due.
    Timeout { client: usize },
    /// A client starts its next operation.
    Wake { client: usize },
    /// A node's timers may be due (`life`: the node's start count).
    Timers { node: NodeId, life: u64 },
    /// The nemesis's next step.
    Nemesis,
    /// An armed crash that no write triggered happens now.
    CrashNow { node: NodeId, life: u64 },
    /// Faults healed: the final reads begin.
    FinalReads,
    /// A fault's time is up.
    StopFault(SimFault),
}

/// The event queue: the heap orders small keys (time, then the order of
/// scheduling, so ties break the same way every run); the events
/// themselves wait in a slab, so the heap moves 24 bytes, not a message.
#[derive(Default)]
struct Queue {
    heap: BinaryHeap<std::cmp::Reverse<(u64, u64, usize)>>,
    slab: Vec<Option<Event>>,
    free: Vec<usize>,
    next_seq: u64,
}

impl Queue {
    fn push(&mut self, at_us: u64, event: Event) {
        let slot = match self.free.pop() {
            Some(i) => {
                self.slab[i] = Some(event);
                i
            }
            None => {
                self.slab.push(Some(event));
                self.slab.len() - 1
            }
        };
        self.heap
            .push(std::cmp::Reverse((at_us, self.next_seq, slot)));
        self.next_seq += 1;
    }

    fn pop(&mut self) -> Option<(u64, Event)> {
        let std::cmp::Reverse((at_us, _, slot)) = self.heap.pop()?;
        let event = self.slab[slot].take().expect("a queued event");
        self.free.push(slot);
        Some((at_us, event))
    }
}

/// A node's clock: `base_ms` at `since_us`, running at `rate`.
#[derive(Clone, Copy, Debug)]
struct Clock {
    since_us: u64,
    base_ms: f64,
    rate: f64,
}

impl Clock {
    fn read_ms(&self, now_us: u64) -> u64 {
        (self.base_ms + (now_us - self.since_us) as f64 / 1000.0 * self.rate).max(0.0) as u64
    }
    fn reset_rate(&mut self, now_us: u64, rate: f64) {
        self.base_ms = self.read_ms(now_us) as f64;
        self.since_us = now_us;
        self.rate = rate;
    }
}

struct SimNode {
    id: NodeId,
    shell: Option<Shell<Caller>>,
    disk: SimDisk,
    paused: bool,
    backlog: Vec<Event>,
    clock: Clock,
    /// Messages for this node while it was down, delivered when it is up.
    held: Vec<(NodeId, Msg)>,
    /// Starts so far (stale timer events carry an older count).
    life: u64,
    /// The earliest timer event scheduled for this life.
    timer_at_us: Option<u64>,
    /// How far this node's chosen log was checked against the others'.
    checked_upto: Slot,
    /// Its applied slot when its state was last compared with the replay.
    compared_at: Slot,
    /// The role and ballot the trace last showed.
    traced_role: Option<(Role, target_kv::paxos::Ballot)>,
}

/// What stopped a run early, or was found at its end.
#[derive(Clone, Debug, PartialEq)]
pub enum Finding {
    /// An invariant broke (named, with the step that broke it).
    Invariant(String),
    /// The cluster did not serve the final reads after healing.
    Liveness(String),
    /// An assertion failed during the run (its message and place, which
    /// tells the core's own from the simulator's); the run stopped there.
    Assertion(String),
}

/// The outcome of running one seed (before the checker).
pub struct Run {
    /// The history, in real-time order.
    pub history: Vec<Record>,
    /// What went wrong during the run, if anything.
    pub finding: Option<Finding>,
    /// The event trace, when asked for.
    pub trace: Option<String>,
    /// Events handled.
    pub events: u64,
    /// Simulated time at the end, in ms.
    pub sim_ms: u64,
}

/// The world.
pub struct World {
    cfg: SimConfig,
    seed: u64,
    rng: SplitMix,
    now_us: u64,
    queue: Queue,
    next_attempt: u64,
    nodes: Vec<SimNode>,
    clients: Vec<SimClient>,
    /// Each client's timer, by client.
    timeouts: Vec<ClientTimer>,
    workload: Arc<dyn Workload>,
    history: Vec<Record>,
    trace: Option<String>,
    net: NetFaults,
    /// Directed links that drop everything: (from, to).
    cut: BTreeSet<(NodeId, NodeId)>,
    oneway: BTreeSet<(NodeId, NodeId)>,
    active: BTreeSet<SimFault>,
    crashed: BTreeSet<NodeId>,
    paused: BTreeSet<NodeId>,
    ops_started: usize,
    /// Final reads still to do: (operation, attempts left).
    finals: Vec<(Invocation, u32)>,
    final_phase: bool,
    healed_at_us: Option<u64>,
    /// Every value known chosen, by slot, across all nodes.
    chosen: Vec<Option<Batch>>,
    /// A replay of the chosen log, and its state's hash after each slot.
    replay: KvStore,
    replay_hashes: Vec<u64>,
    finding: Option<Finding>,
    events: u64,
    /// Whether the clients have started (once there was a leader).
    clients_started: bool,
}

fn hash_of(store: &KvStore) -> u64 {
    store.digest()
}

impl World {
    /// A world for `seed`.
    pub fn new(cfg: &SimConfig, seed: u64) -> World {
        let workload: Arc<dyn Workload> =
            Arc::from(workloads::make(cfg.workload, &cfg.workload_options()));
        let mut rng = SplitMix::new(seed ^ 0x5349_4D55_4C41_5445);
        let nodes = (1..=cfg.nodes as NodeId)
            .map(|id| SimNode {
                id,
                shell: None,
                disk: SimDisk::default(),
                paused: false,
                backlog: Vec::new(),
                clock: Clock {
                    since_us: 0,
                    // A per-node offset from the start: harmless, as
                    // nothing compares clocks across nodes.
                    base_ms: rng.below(10_000) as f64,
                    rate: 1.0,
                },
                held: Vec::new(),
                life: 0,
                timer_at_us: None,
                checked_upto: 0,
                compared_at: 0,
                traced_role: None,
            })
            .collect();
        let clients: Vec<SimClient> = (0..cfg.clients)
            .map(|i| {
                let session = if cfg.sessions.uses_session(i) {
                    i as u64 + 1
                } else {
                    0
                };
                SimClient::new(
                    i,
                    (i % cfg.nodes) as NodeId + 1,
                    session,
                    OpStream::new(seed, i),
                )
            })
            .collect();
        let mut w = World {
            cfg: cfg.clone(),
            seed,
            rng,
            now_us: 0,
            queue: Queue::default(),
            next_attempt: 0,
            nodes,
            timeouts: vec![ClientTimer::default(); clients.len()],
            clients,
            workload,
            // An invocation and a completion per operation, with room for
            // refused attempts and faults, so it seldom grows (a grown
            // history is copied whole).
            history: Vec::with_capacity(cfg.ops * 4),
            trace: cfg.trace.then(String::new),
            net: NetFaults::HEALTHY,
            cut: BTreeSet::new(),
            oneway: BTreeSet::new(),
            active: BTreeSet::new(),
            crashed: BTreeSet::new(),
            paused: BTreeSet::new(),
            ops_started: 0,
            finals: Vec::new(),
            final_phase: false,
            healed_at_us: None,
            chosen: Vec::new(),
            replay: KvStore::default(),
            replay_hashes: vec![hash_of(&KvStore::default())],
            finding: None,
            events: 0,
            clients_started: false,
        };
        for id in 1..=cfg.nodes as NodeId {
            w.boot(id);
        }
        if cfg.mode == Mode::Basic {
            // Every node proposes for itself: the cluster serves at once.
            w.start_clients();
        }
        if cfg.faults.iter().any(|f| f.toggled()) {
            let at = w.nemesis_gap_us();
            w.schedule(at, Event::Nemesis);
        }
        w
    }

    /// Runs to the end (or to a failed assertion, which is a finding).
    pub fn run(mut self) -> Run {
        if let Err(what) = super::assertions::catching(|| self.run_events()) {
            self.note(|| format!("ASSERTION FAILED: {what}"));
            self.finding = Some(Finding::Assertion(what));
        }
        Run {
            history: self.history,
            finding: self.finding,
            trace: self.trace,
            events: self.events,
            sim_ms: self.now_us / 1000,
        }
    }

    fn run_events(&mut self) {
        while let Some((at_us, event)) = self.queue.pop() {
            if self.finding.is_some() || at_us > SIM_US_MAX || self.events >= EVENTS_MAX {
                break;
            }
            self.now_us = at_us;
            self.events += 1;
            self.handle(event);
            if self.is_done() {
                break;
            }
        }
        if self.finding.is_none() && !self.is_done() {
            let left =
                self.finals.len() + self.clients.iter().filter(|c| c.inflight.is_some()).count();
            self.finding = Some(Finding::Liveness(format!(
                "{left} operations could not finish by {:.1} s of simulated time ({} events)",
                self.now_us as f64 / 1e6,
                self.events
            )));
        }
    }

    fn is_done(&self) -> bool {
        self.final_phase
            && self.finals.is_empty()
            && self.clients.iter().all(|c| c.inflight.is_none())
    }

    // ---- scheduling, randomness, tracing ----

    fn schedule(&mut self, after_us: u64, event: Event) {
        self.queue.push(self.now_us + after_us, event);
    }

    fn between(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.rng.below(hi.saturating_sub(lo) + 1)
    }

    fn tracing(&self) -> bool {
        self.trace.is_some()
    }

    fn note(&mut self, line: impl FnOnce() -> String) {
        if let Some(t) = self.trace.as_mut() {
            let _ = writeln!(t, "{:>12.3} ms  {}", self.now_us as f64 / 1000.0, line());
        }
    }

    fn nemesis_gap_us(&mut self) -> u64 {
        self.between(200_000, 800_000)
    }

    fn now_of(&self, node: NodeId) -> Now {
        Now {
            mono_ms: self.now_us / 1000,
            clock_ms: self.node(node).clock.read_ms(self.now_us),
        }
    }

    fn node(&self, id: NodeId) -> &SimNode {
        &self.nodes[(id - 1) as usize]
    }

    fn node_mut(&mut self, id: NodeId) -> &mut SimNode {
        &mut self.nodes[(id - 1) as usize]
    }

    // ---- history ----

    fn record(
        &mut self,
        process: Process,
        kind: RecordType,
        f: &str,
        key: Option<Value>,
        value: Option<Value>,
        error: Option<String>,
    ) {
        let index = self.history.len() as u64;
        self.history.push(Record {
            index,
            process,
            kind,
            f: f.to_string(),
            key,
            value,
            time: Some((self.now_us * 1000) as i64),
            error,
        });
    }

    fn record_fault(&mut self, phase: &str, kind: SimFault, description: String) {
        self.note(|| format!("FAULT {phase} {kind}: {description}"));
        self.record(
            Process::Named("nemesis".into()),
            RecordType::Info,
            &format!("{phase}-{kind}"),
            None,
            Some(Value::Str(description)),
            None,
        );
    }

    // ---- the event loop ----

    fn handle(&mut self, event: Event) {
        // A paused node handles nothing; what reaches it waits.
        let target = match &event {
            Event::Deliver { to, .. } => Some(*to),
            Event::Call { node, .. } | Event::Timers { node, .. } => Some(*node),
            _ => None,
        };
        if let Some(n) = target {
            if self.node(n).paused && !self.crashed.contains(&n) {
                self.node_mut(n).backlog.push(event);
                return;
            }
        }
        match event {
            Event::Deliver { from, to, msg } => self.deliver(from, to, msg),
            Event::Call {
                node,
                caller,
                command,
            } => self.call(node, caller, command),
            Event::Answer { caller, result } => self.answer(caller, result),
            Event::Timeout { client } => self.client_timer(client),
            Event::Wake { client } => self.wake(client),
            Event::Timers { node, life } => self.timers(node, life),
            Event::Nemesis => self.nemesis(),
            Event::CrashNow { node, life } => {
                if self.node(node).life == life && self.node(node).disk.is_armed() {
                    self.crash(node, "crashed (no write came to tear)");
                }
            }
            Event::FinalReads => self.start_final_reads(),
            Event::StopFault(kind) => self.stop_fault(kind),
        }
    }

    fn deliver(&mut self, from: NodeId, to: NodeId, msg: Msg) {
        if self.cut.contains(&(from, to)) || self.oneway.contains(&(from, to)) {
            self.note(|| format!("n{from} -> n{to} DROPPED (partition) {}", short(&msg)));
            return;
        }
        if self.crashed.contains(&to) {
            // The sender's queue keeps what it could not send, and sends
            // it once the node is back (to its next life), or loses it.
            let n = self.node_mut(to);
            if n.held.len() < HELD_MAX && self.rng.chance(0.5) {
                self.node_mut(to).held.push((from, msg));
            }
            return;
        }
        if self.tracing() {
            let m = short(&msg);
            self.note(|| format!("n{from} -> n{to} {m}"));
        }
        let now = self.now_of(to);
        let n = self.node_mut(to);
        let Some(shell) = n.shell.as_mut() else {
            return;
        };
        let r = shell.deliver(now, from, msg, &mut n.disk);
        self.after_step(to, r);
    }

    /// Messages that reached `to` together, as one step (those a
    /// partition now cuts are dropped).
    fn deliver_together(&mut self, to: NodeId, msgs: Vec<(NodeId, Msg)>) {
        if self.crashed.contains(&to) || self.finding.is_some() {
            return;
        }
        let msgs: Vec<(NodeId, Msg)> = msgs
            .into_iter()
            .filter(|(from, _)| {
                !self.cut.contains(&(*from, to)) && !self.oneway.contains(&(*from, to))
            })
            .collect();
        if msgs.is_empty() {
            return;
        }
        if self.tracing() {
            for (from, msg) in &msgs {
                let m = short(msg);
                self.note(|| format!("n{from} -> n{to} {m} (together)"));
            }
        }
        let now = self.now_of(to);
        let n = self.node_mut(to);
        let Some(shell) = n.shell.as_mut() else {
            return;
        };
        let r = shell.deliver_many(now, msgs, &mut n.disk);
        self.after_step(to, r);
    }

    fn call(&mut self, node: NodeId, caller: Caller, command: Command) {
        if self.crashed.contains(&node) {
            // Nobody listens: refused before anything was sent.
            let d = self.client_delay();
            return self.schedule(
                d,
                Event::Answer {
                    caller,
                    result: Err(StoreError::Definite("connection refused".into())),
                },
            );
        }
        if let Some(f) = self.clients[caller.client].inflight.as_mut() {
            if f.attempt == caller.attempt {
                f.delivered = true;
            }
        }
        self.note(|| {
            format!(
                "c{} -> n{node} call {:?} (attempt {})",
                caller.client, command.op, caller.attempt
            )
        });
        let now = self.now_of(node);
        let n = self.node_mut(node);
        let Some(shell) = n.shell.as_mut() else {
            return;
        };
        let r = shell.submit(now, [(command, caller)], &mut n.disk);
        self.after_step(node, r);
    }

    fn timers(&mut self, node: NodeId, life: u64) {
        if self.node(node).life != life || self.crashed.contains(&node) {
            return;
        }
        self.node_mut(node).timer_at_us = None;
        loop {
            let now = self.now_of(node);
            let n = self.node_mut(node);
            let Some(shell) = n.shell.as_mut() else {
                return;
            };
            let Some(r) = shell.fire_due(now, &mut n.disk) else {
                break;
            };
            self.after_step(node, r);
            if self.crashed.contains(&node) {
                return;
            }
        }
        self.arm_timers(node);
    }

    fn arm_timers(&mut self, node: NodeId) {
        let n = self.node(node);
        let Some(deadline_ms) = n.shell.as_ref().and_then(|s| s.next_deadline()) else {
            return;
        };
        let at_us = (deadline_ms * 1000).max(self.now_us);
        if n.timer_at_us.is_some_and(|t| t <= at_us) {
            return;
        }
        let life = n.life;
        self.node_mut(node).timer_at_us = Some(at_us);
        let after = at_us - self.now_us;
        self.schedule(after, Event::Timers { node, life });
    }

    /// Carries out a node's step: its messages onto the network, its
    /// answers back to the clients; then checks the invariants.
    fn after_step(&mut self, node: NodeId, r: Result<Effects<Caller>, super::disk::Crashed>) {
        // Sent before the step's write: they are out even if it crashed.
        let early = std::mem::take(&mut self.node_mut(node).disk.early);
        for (to, msg) in early {
            self.send(node, to, msg);
        }
        let effects = match r {
            Ok(e) => e,
            Err(crashed) => {
                let why = crashed.to_string();
                return self.crash(node, &why);
            }
        };
        if self.tracing() {
            if let Some(w) = self.node_mut(node).disk.last_write.take() {
                self.note(|| format!("n{node} disk: {w}"));
            }
        }
        if self.tracing() {
            if let Some(r) = self.node(node).shell.as_ref().map(|s| s.replica()) {
                let (role, ballot) = (*r.role(), r.ballot());
                let key = (role, ballot);
                if self.node(node).traced_role != Some(key) {
                    self.node_mut(node).traced_role = Some(key);
                    self.note(|| {
                        format!(
                            "n{node} is {role:?} at ballot {}.{}",
                            ballot.round, ballot.node
                        )
                    });
                }
            }
        }
        let mut effects = effects;
        for (to, msg) in effects.sends.drain(..) {
            self.send(node, to, msg);
        }
        for (caller, reply) in effects.replies.drain(..) {
            let result = call_result(reply);
            let d = self.client_delay();
            self.schedule(d, Event::Answer { caller, result });
        }
        if let Some(shell) = self.node_mut(node).shell.as_mut() {
            shell.recycle(effects);
        }
        self.arm_timers(node);
        self.check(node);
        if !self.clients_started {
            self.start_clients_once_led(node);
        }
    }

    /// With Multi-Paxos the clients start once the cluster has its first
    /// leader, as the harness's clients start once every node serves a
    /// read: calls into a cluster still electing are refused, and cost
    /// events without testing anything.
    fn start_clients_once_led(&mut self, node: NodeId) {
        let led = self
            .node(node)
            .shell
            .as_ref()
            .is_some_and(|s| *s.replica().role() == Role::Leader);
        if led {
            self.note(|| format!("n{node} leads: the clients start"));
            self.start_clients();
        }
    }

    /// Wakes every client, within 50 ms of one another.
    fn start_clients(&mut self) {
        self.clients_started = true;
        for c in 0..self.cfg.clients {
            let at = self.rng.below(50_000);
            self.schedule(at, Event::Wake { client: c });
        }
    }

    fn send(&mut self, from: NodeId, to: NodeId, msg: Msg) {
        if self.cut.contains(&(from, to)) || self.oneway.contains(&(from, to)) {
            return;
        }
        if self.net.loss > 0.0 && self.rng.chance(self.net.loss) {
            return;
        }
        let (lo, hi) = self.net.delay_us;
        let mut delay = self.between(lo, hi);
        if self.net.reorder > 0.0 && self.rng.chance(self.net.reorder) {
            delay += self.between(0, self.net.reorder_us_max);
        }
        if self.net.duplicate > 0.0 && self.rng.chance(self.net.duplicate) {
            let again = delay + self.between(0, 5_000);
            self.schedule(
                again,
                Event::Deliver {
                    from,
                    to,
                    msg: msg.clone(),
                },
            );
        }
        self.schedule(delay, Event::Deliver { from, to, msg });
    }

    fn client_delay(&mut self) -> u64 {
        self.between(30, 200)
    }

    // ---- clients ----

    fn wake(&mut self, client: usize) {
        if self.clients[client].inflight.is_some() {
            return;
        }
        let op = if self.final_phase {
            match self.finals.pop() {
                Some((op, left)) => {
                    self.finals_left_for(client, left);
                    op
                }
                None => return,
            }
        } else {
            if self.ops_started >= self.cfg.ops {
                return self.maybe_heal();
            }
            self.ops_started += 1;
            let c = &mut self.clients[client];
            self.workload.next_op(&mut c.stream)
        };
        self.invoke(client, op);
    }

    /// Remembers how many attempts the final read a client took has left.
    fn finals_left_for(&mut self, client: usize, left: u32) {
        self.clients[client].final_attempts_left = left;
    }

    fn invoke(&mut self, client: usize, op: Invocation) {
        let process = self.clients[client].process;
        self.record(
            Process::Client(process),
            RecordType::Invoke,
            &op.f,
            Some(Value::Str(op.key.clone())),
            Some(op.value.clone()),
            None,
        );
        let attempt = self.next_attempt;
        self.next_attempt += 1;
        let workload = self.workload.clone();
        let c = &mut self.clients[client];
        // Shared with the workload's future, not copied.
        let op = Arc::new(op);
        match c.begin(&workload, op.clone(), attempt) {
            Started::Done(done) => self.complete(client, &op, done),
            Started::Send(command) => self.send_call(client, attempt, command),
        }
    }

    fn send_call(&mut self, client: usize, attempt: u64, command: Command) {
        let node = self.clients[client].node;
        let caller = Caller { client, attempt };
        let d = self.client_delay();
        self.schedule(
            d,
            Event::Call {
                node,
                caller,
                command,
            },
        );
        let timeout = self.cfg.op_timeout_ms * 1000;
        let timer = &mut self.timeouts[client];
        timer.deadline = Some((self.now_us + timeout, attempt));
        if !timer.queued {
            timer.queued = true;
            self.schedule(timeout, Event::Timeout { client });
        }
    }

    /// A client's timer fires: its attempt times out if its deadline is
    /// due; a later deadline (a newer attempt's) re-arms the timer.
    fn client_timer(&mut self, client: usize) {
        let timer = &mut self.timeouts[client];
        timer.queued = false;
        let Some((at_us, attempt)) = timer.deadline else {
            return;
        };
        if at_us > self.now_us {
            timer.queued = true;
            let after = at_us - self.now_us;
            return self.schedule(after, Event::Timeout { client });
        }
        timer.deadline = None;
        let caller = Caller { client, attempt };
        self.answer(caller, Err(StoreError::Indeterminate("timeout".into())));
    }

    fn answer(&mut self, caller: Caller, result: CallResult) {
        let next = self.next_attempt;
        let c = &mut self.clients[caller.client];
        let op = match &c.inflight {
            Some(f) if f.attempt == caller.attempt => f.op.clone(),
            _ => return,
        };
        match c.answer(caller.attempt, result, next) {
            None => {}
            Some(Err(command)) => {
                self.next_attempt += 1;
                self.note(|| format!("c{} retries (attempt {next})", caller.client));
                self.send_call(caller.client, next, command);
            }
            Some(Ok(done)) => self.complete(caller.client, &op, done),
        }
    }

    fn complete(&mut self, client: usize, op: &Invocation, done: Completion) {
        let process = self.clients[client].process;
        self.note(|| {
            format!(
                "c{client} done {} {} -> {:?} {:?}",
                op.f, op.key, done.kind, done.value
            )
        });
        let kind = done.kind;
        self.record(
            Process::Client(process),
            kind,
            &op.f,
            Some(Value::Str(op.key.clone())),
            done.value.clone(),
            done.error.clone(),
        );
        if kind == RecordType::Info {
            // The operation may still happen: it stays open, and the client
            // carries on as a fresh process.
            self.clients[client].process += self.cfg.clients as u64;
        }
        if self.final_phase && kind != RecordType::Ok {
            let left = self.clients[client].final_attempts_left;
            if left > 1 {
                self.finals.push((op.clone(), left - 1));
            } else if self.finding.is_none() {
                // Every fault has been healed for a while: a healthy
                // cluster must answer.
                let node = self.clients[client].node;
                self.finding = Some(Finding::Liveness(format!(
                    "after healing, n{node} did not serve a final {} of {} in {FINAL_READ_ATTEMPTS} attempts (last: {:?} {})",
                    op.f,
                    op.key,
                    kind,
                    done.error.as_deref().unwrap_or("")
                )));
            }
        }
        if kind == RecordType::Fail && done.is_unavailable() && !self.final_phase {
            // A definite refusal (no leader, a node down) did nothing:
            // it does not use up the run's operations.
            self.ops_started -= 1;
        }
        let think = if self.final_phase && kind != RecordType::Ok {
            // Final reads are retried patiently: a healed cluster may still
            // be electing.
            self.between(50_000, 150_000)
        } else if done.is_unavailable() {
            // Do not spin against a node that is down (as the harness).
            self.between(5_000, 20_000)
        } else {
            self.between(0, self.cfg.think_us_max)
        };
        self.schedule(think, Event::Wake { client });
    }

    /// Once every operation has been started and answered: every fault
    /// stops, and after a while for the cluster to recover, final reads.
    fn maybe_heal(&mut self) {
        if self.healed_at_us.is_some() || self.clients.iter().any(|c| c.inflight.is_some()) {
            return;
        }
        self.healed_at_us = Some(self.now_us);
        self.heal();
        // Long enough for any lease to run out and an election to follow.
        let c = self.node_config(1);
        let settle_ms = 2 * c.lease_ms + c.election_timeout_ms.1;
        self.schedule(settle_ms * 1000, Event::FinalReads);
    }

    fn start_final_reads(&mut self) {
        // (Inserted one by one: a history names a few keys many times, and
        // collecting would sort every mention.)
        let mut keys: BTreeSet<&str> = BTreeSet::new();
        for r in &self.history {
            if let (Process::Client(_), Some(Value::Str(k))) = (&r.process, &r.key) {
                keys.insert(k.as_str());
            }
        }
        let keys: Vec<String> = keys.into_iter().map(str::to_string).collect();
        self.finals = self
            .workload
            .final_ops(&keys)
            .into_iter()
            .rev()
            .map(|op| (op, FINAL_READ_ATTEMPTS))
            .collect();
        self.final_phase = true;
        for c in 0..self.clients.len() {
            let d = self.between(0, 1_000);
            self.schedule(d, Event::Wake { client: c });
        }
    }

    // ---- nodes: boot, crash, restart, pause ----

    fn node_config(&self, id: NodeId) -> Config {
        let members: Vec<NodeId> = (1..=self.cfg.nodes as NodeId).collect();
        let mut c = Config::new(id, members);
        c.mode = self.cfg.mode;
        c.reads = self.cfg.reads;
        c.heartbeat_ms = 50;
        c.election_timeout_ms = (150, 300);
        c.lease_ms = 1_000;
        c.snapshot_every = self.cfg.snapshot_every;
        c.request_ttl_ms = 2_000;
        c
    }

    fn boot(&mut self, id: NodeId) {
        let cfg = self.node_config(id);
        let n = self.node_mut(id);
        let (snapshot, wal) = match n.disk.recover() {
            Ok(state) => state,
            Err(e) => {
                self.finding = Some(Finding::Invariant(format!(
                    "n{id}: the disk does not recover: {e}"
                )));
                return;
            }
        };
        n.life += 1;
        let life = n.life;
        let seed = self.seed ^ (id << 48) ^ life.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        let shell = match Shell::recover(cfg, self.cfg.plant, snapshot.as_deref(), &wal, seed) {
            Ok(s) => s,
            Err(e) => {
                self.finding = Some(Finding::Invariant(format!(
                    "n{id}: the disk does not decode: {e}"
                )));
                return;
            }
        };
        let now_us = self.now_us;
        let n = self.node_mut(id);
        // A fresh process reads a clock that starts anew (the node's clock
        // is monotonic time since it started), at the node's rate.
        let rate = n.clock.rate;
        n.clock = Clock {
            since_us: now_us,
            base_ms: 0.0,
            rate,
        };
        n.shell = Some(shell);
        n.timer_at_us = None;
        n.compared_at = u64::MAX;
        // It may have forgotten what it learned: cross-check it afresh.
        n.checked_upto = 0;
        let life = n.life;
        self.note(|| format!("n{id} starts (life {life})"));
        let now = self.now_of(id);
        let n = self.node_mut(id);
        let shell = n.shell.as_mut().expect("just set");
        let r = shell.start(now, &mut n.disk);
        self.after_step(id, r);
        // What the peers' queues kept for it arrives now, in order.
        let held = std::mem::take(&mut self.node_mut(id).held);
        for (i, (from, msg)) in held.into_iter().enumerate() {
            self.schedule(100 + i as u64, Event::Deliver { from, to: id, msg });
        }
    }

    fn crash(&mut self, id: NodeId, why: &str) {
        if self.crashed.contains(&id) {
            return;
        }
        self.note(|| format!("n{id} CRASH: {why}"));
        self.crashed.insert(id);
        self.paused.remove(&id);
        let n = self.node_mut(id);
        n.shell = None;
        n.paused = false;
        n.backlog.clear();
        n.disk.disarm();
        // The machine went down: what was not synced may be gone.
        let seed = self.rng.next_u64();
        self.node_mut(id).disk.crash(seed);
        let n = self.node_mut(id);
        n.timer_at_us = None;
        // Calls in flight there lose their connection: nobody knows
        // whether they took effect.
        let waiting: Vec<Caller> = self
            .clients
            .iter()
            .filter(|c| c.node == id)
            .filter_map(|c| {
                c.inflight.as_ref().filter(|f| f.delivered).map(|f| Caller {
                    client: c.index,
                    attempt: f.attempt,
                })
            })
            .collect();
        for caller in waiting {
            let d = self.client_delay();
            self.schedule(
                d,
                Event::Answer {
                    caller,
                    result: Err(StoreError::Indeterminate("connection reset".into())),
                },
            );
        }
    }

    fn restart(&mut self, id: NodeId) {
        if self.crashed.remove(&id) {
            self.boot(id);
        }
    }

    fn pause(&mut self, id: NodeId) {
        if !self.crashed.contains(&id) && self.paused.insert(id) {
            self.node_mut(id).paused = true;
        }
    }

    fn resume(&mut self, id: NodeId) {
        if !self.paused.remove(&id) {
            return;
        }
        let n = self.node_mut(id);
        n.paused = false;
        // What waited for it arrives at once, as a real node's inbox
        // after a pause: its messages are one step (the node folds up to
        // 256 messages that arrived together into one), the rest in turn.
        let backlog = std::mem::take(&mut n.backlog);
        let mut msgs = Vec::new();
        for event in backlog {
            match event {
                Event::Deliver { from, to, msg } if to == id => msgs.push((from, msg)),
                other => self.schedule(0, other),
            }
        }
        while !msgs.is_empty() {
            let rest = msgs.split_off(msgs.len().min(256));
            self.deliver_together(id, msgs);
            msgs = rest;
        }
        // Its timers are overdue.
        self.node_mut(id).timer_at_us = None;
        self.arm_timers(id);
    }

    // ---- invariants ----

    fn check(&mut self, id: NodeId) {
        if self.finding.is_some() {
            return;
        }
        let node = &self.nodes[(id - 1) as usize];
        let Some(replica) = node.shell.as_ref().map(|s| s.replica()) else {
            return;
        };
        if let Err(e) = replica.check_invariants() {
            self.finding = Some(Finding::Invariant(e));
            return;
        }
        let from = node.checked_upto.max(replica.log_start());
        let upto = replica.first_unchosen();
        if from > upto {
            self.finding = Some(Finding::Invariant(format!(
                "n{id}'s first unchosen slot went back from {from} to {upto}"
            )));
            return;
        }
        // Most steps learn nothing: no lookup for an empty range.
        let learned = if from < upto {
            replica.chosen().range(from..upto)
        } else {
            Default::default()
        };
        for (slot, batch) in learned {
            let at = *slot as usize;
            if at > CHOSEN_SLOTS_MAX {
                // Slots are dense from the first: a run never gets near.
                self.finding = Some(Finding::Invariant(format!(
                    "n{id} chose slot {slot}, past any this run can fill"
                )));
                return;
            }
            if self.chosen.len() <= at {
                self.chosen.resize(at + 1, None);
            }
            match &self.chosen[at] {
                Some(known) if known != batch => {
                    self.finding = Some(Finding::Invariant(format!(
                        "two values chosen in slot {slot}: n{id} has {}, another node had {}",
                        short_batch(batch),
                        short_batch(known)
                    )));
                    return;
                }
                Some(_) => {}
                None => {
                    self.chosen[at] = Some(batch.clone());
                }
            }
        }
        let applied = replica.applied();
        let compared = node.compared_at == applied;
        // The replay follows the chosen log as far as it is contiguous.
        while let Some(Some(batch)) = self.chosen.get(self.replay_hashes.len() - 1) {
            for cmd in batch.0.iter() {
                self.replay.apply(cmd);
            }
            self.replay_hashes.push(hash_of(&self.replay));
        }
        let mut now_compared = compared;
        if !compared {
            if let Some(want) = self.replay_hashes.get(applied as usize) {
                if hash_of(replica.store()) != *want {
                    self.finding = Some(Finding::Invariant(format!(
                        "n{id}'s state machine at slot {applied} differs from a replay of the chosen log"
                    )));
                    return;
                }
                now_compared = true;
            }
        }
        let node = &mut self.nodes[(id - 1) as usize];
        node.checked_upto = upto.max(from);
        if now_compared {
            node.compared_at = applied;
        }
    }

    // ---- the nemesis ----

    fn nemesis(&mut self) {
        if self.healed_at_us.is_some() {
            return;
        }
        let kinds: Vec<SimFault> = self
            .cfg
            .faults
            .iter()
            .copied()
            .filter(|f| f.toggled())
            .collect();
        if kinds.is_empty() {
            return;
        }
        // A kind not in force starts, and stops after a while by itself,
        // so that faults overlap but outages stay short enough for a run
        // to see many of them.
        let kind = kinds[self.rng.below(kinds.len() as u64) as usize];
        if kind == SimFault::Jump {
            self.jump();
        } else if !self.active.contains(&kind) {
            self.start_fault(kind);
            let lasts = self.between(300_000, 1_500_000);
            self.schedule(lasts, Event::StopFault(kind));
        }
        let gap = self.nemesis_gap_us();
        self.schedule(gap, Event::Nemesis);
    }

    fn shuffled(&mut self) -> Vec<usize> {
        let mut v: Vec<usize> = (0..self.cfg.nodes).collect();
        for i in (1..v.len()).rev() {
            let j = self.rng.below(i as u64 + 1) as usize;
            v.swap(i, j);
        }
        v
    }

    /// The node that most believes it leads: the leader with the highest
    /// ballot (0-based), if any.
    fn leader(&self) -> Option<usize> {
        self.nodes
            .iter()
            .filter_map(|n| n.shell.as_ref().map(|s| (n.id, s.replica())))
            .filter(|(_, r)| *r.role() == Role::Leader)
            .max_by_key(|(_, r)| r.ballot())
            .map(|(id, _)| (id - 1) as usize)
    }

    /// One node, a minority, the leader, or (for crashes) sometimes all.
    fn targets(&mut self, all_allowed: bool) -> Vec<NodeId> {
        let shuffled = self.shuffled();
        if self.cfg.aim == Aim::Leader {
            return vec![self.leader().unwrap_or(shuffled[0]) as NodeId + 1];
        }
        let minority = (self.cfg.nodes - 1) / 2;
        let picked: Vec<usize> = match self.rng.below(8) {
            0..=1 => vec![self.leader().unwrap_or(shuffled[0])],
            2..=3 if minority > 1 => shuffled[..minority].to_vec(),
            4 if all_allowed => shuffled.clone(),
            _ => vec![shuffled[0]],
        };
        picked.into_iter().map(|i| i as NodeId + 1).collect()
    }

    fn start_fault(&mut self, kind: SimFault) {
        self.active.insert(kind);
        match kind {
            SimFault::Partition => {
                let n = self.cfg.nodes;
                let shuffled = self.shuffled();
                let mut shape =
                    PartitionShape::ALL[self.rng.below(PartitionShape::ALL.len() as u64) as usize];
                if self.cfg.aim == Aim::Leader {
                    shape = PartitionShape::IsolateLeader;
                }
                if shape == PartitionShape::MajoritiesRing && n < 5 {
                    shape = PartitionShape::RandomHalves;
                }
                let grudge = match shape {
                    PartitionShape::IsolateOne => partition::isolate(n, shuffled[0]),
                    PartitionShape::Halves => partition::halves(&(0..n).collect::<Vec<_>>()),
                    PartitionShape::RandomHalves => partition::halves(&shuffled),
                    PartitionShape::MajoritiesRing => partition::majorities_ring(&shuffled),
                    PartitionShape::Bridge => partition::bridge(&shuffled),
                    PartitionShape::IsolateLeader => {
                        let l = self.leader().unwrap_or(shuffled[0]);
                        partition::isolate(n, l)
                    }
                    // Not among ALL: the simulator's one-way cuts are
                    // their own fault kind.
                    PartitionShape::OneWay => partition::one_way(n, shuffled[0]),
                };
                for (a, blocked) in grudge.iter().enumerate() {
                    for b in blocked {
                        let (a, b) = (a as NodeId + 1, *b as NodeId + 1);
                        self.cut.insert((a, b));
                        self.cut.insert((b, a));
                    }
                }
                let d = format!("{shape:?}: {}", partition::describe(&grudge));
                self.record_fault("start", kind, d);
            }
            SimFault::OneWay => {
                let shuffled = self.shuffled();
                let deaf = match self.cfg.aim {
                    Aim::Leader => self.leader().unwrap_or(shuffled[0]) as NodeId + 1,
                    Aim::Random => shuffled[0] as NodeId + 1,
                };
                let count = 1 + self.rng.below((self.cfg.nodes - 1).max(1) as u64) as usize;
                let mut unheard = Vec::new();
                for &b in shuffled[1..].iter().take(count) {
                    let b = b as NodeId + 1;
                    // `deaf`'s messages to b are lost; b's reach it.
                    self.oneway.insert((deaf, b));
                    unheard.push(format!("n{b}"));
                }
                let d = format!("n{deaf} is not heard by {}", unheard.join(" "));
                self.record_fault("start", kind, d);
            }
            SimFault::Crash => {
                let targets = self.targets(true);
                let torn = self.cfg.faults.contains(&SimFault::Torn);
                let d = format!("{:?}", targets);
                self.record_fault("start", kind, d);
                for id in targets {
                    if torn && self.rng.chance(0.5) {
                        // During its next write (if one comes soon).
                        let s = self.rng.next_u64();
                        let life = self.node(id).life;
                        self.node_mut(id).disk.arm_crash(s);
                        self.schedule(30_000, Event::CrashNow { node: id, life });
                    } else {
                        self.crash(id, "killed");
                    }
                }
            }
            SimFault::Pause => {
                let targets = self.targets(false);
                let d = format!("{:?}", targets);
                self.record_fault("start", kind, d);
                for id in targets {
                    self.pause(id);
                }
            }
            SimFault::Drift => {
                let d_pct = self.node_config(1).clock_drift_pct.min(50) as f64 * 0.9;
                let mut parts = Vec::new();
                // Every clock off by half the bound to all of it, fast or
                // slow: leases must hold anywhere inside the bound.
                let leader = self.leader().map(|l| l as NodeId + 1);
                for id in 1..=self.cfg.nodes as NodeId {
                    let size = (500 + self.rng.below(501)) as f64 / 1000.0 * d_pct / 100.0;
                    // Aimed at the leader: its clock slow, the others fast.
                    let slow = match self.cfg.aim {
                        Aim::Leader => leader == Some(id),
                        Aim::Random => self.rng.chance(0.5),
                    };
                    let r = if slow { 1.0 - size } else { 1.0 + size };
                    let now = self.now_us;
                    self.node_mut(id).clock.reset_rate(now, r);
                    parts.push(format!("n{id} x{r:.3}"));
                }
                self.record_fault("start", kind, parts.join(", "));
            }
            SimFault::Loss => {
                self.net.loss = self.between(2, 30) as f64 / 100.0;
                let d = format!("{:.0}% lost", self.net.loss * 100.0);
                self.record_fault("start", kind, d);
            }
            SimFault::Duplicate => {
                self.net.duplicate = self.between(2, 20) as f64 / 100.0;
                let d = format!("{:.0}% duplicated", self.net.duplicate * 100.0);
                self.record_fault("start", kind, d);
            }
            SimFault::Reorder => {
                self.net.reorder = self.between(5, 30) as f64 / 100.0;
                self.net.reorder_us_max = self.between(1_000, 30_000);
                let d = format!(
                    "{:.0}% held back up to {} ms",
                    self.net.reorder * 100.0,
                    self.net.reorder_us_max / 1000
                );
                self.record_fault("start", kind, d);
            }
            SimFault::Delay => {
                let lo = self.between(500, 5_000);
                let hi = lo + self.between(1_000, 20_000);
                self.net.delay_us = (lo, hi);
                self.record_fault("start", kind, format!("{} to {} ms", lo / 1000, hi / 1000));
            }
            SimFault::Jump | SimFault::Torn => {}
        }
    }

    fn stop_fault(&mut self, kind: SimFault) {
        if !self.active.remove(&kind) {
            return;
        }
        match kind {
            SimFault::Partition => self.cut.clear(),
            SimFault::OneWay => self.oneway.clear(),
            SimFault::Crash => {
                for id in self.crashed.clone() {
                    self.restart(id);
                }
                for n in &mut self.nodes {
                    n.disk.disarm();
                }
            }
            SimFault::Pause => {
                for id in self.paused.clone() {
                    self.resume(id);
                }
            }
            SimFault::Drift => {
                let now = self.now_us;
                for n in &mut self.nodes {
                    n.clock.reset_rate(now, 1.0);
                }
            }
            SimFault::Loss => self.net.loss = 0.0,
            SimFault::Duplicate => self.net.duplicate = 0.0,
            SimFault::Reorder => self.net.reorder = 0.0,
            SimFault::Delay => self.net.delay_us = NetFaults::HEALTHY.delay_us,
            SimFault::Jump | SimFault::Torn => {}
        }
        self.record_fault("stop", kind, String::new());
    }

    fn jump(&mut self) {
        let id = self.rng.below(self.cfg.nodes as u64) as NodeId + 1;
        let ms = self.between(100, 3_000) as f64;
        let back = self.rng.chance(0.5);
        let now = self.now_us;
        let c = &mut self.node_mut(id).clock;
        let reading = c.read_ms(now) as f64;
        c.base_ms = if back {
            (reading - ms).max(0.0)
        } else {
            reading + ms
        };
        c.since_us = now;
        let d = format!("n{id} {}{ms} ms", if back { "-" } else { "+" });
        self.record_fault("start", SimFault::Jump, d);
    }

    fn heal(&mut self) {
        for kind in self.active.clone() {
            self.stop_fault(kind);
        }
        for id in self.crashed.clone() {
            self.restart(id);
        }
        for id in self.paused.clone() {
            self.resume(id);
        }
    }
}

/// A message in a few words for the trace.
fn short(msg: &Msg) -> String {
    let mut s = format!("{msg:?}");
    if s.len() > 160 {
        let mut end = 157;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
        s.push_str("...");
    }
    s
}

fn short_batch(b: &Batch) -> String {
    let mut s = format!("{:?}", b.0);
    if s.len() > 200 {
        let mut end = 197;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
        s.push_str("...");
    }
    s
}
