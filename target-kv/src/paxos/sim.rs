//! An in-memory cluster that drives replicas by hand: messages go into one
//! queue, timers fire when a test says so (but for a leader's group-commit
//! wait, which ends whenever the network falls quiet), "disk" is a list of
//! records per node. Deterministic, for tests and the core's benchmark.

use super::replica::{Replica, Role};
use super::types::{
    Config, Input, Mode, Msg, NodeId, Output, ReadMode, Record, Reply, RequestId, Snapshot, Timer,
};
use crate::kv::Command;
use std::collections::{BTreeMap, BTreeSet, VecDeque};

/// A simulated cluster.
#[derive(Debug)]
pub struct Sim {
    /// The replicas that are up.
    pub replicas: BTreeMap<NodeId, Replica>,
    /// What each node persisted (survives crashes).
    pub disks: BTreeMap<NodeId, Vec<Record>>,
    /// Each node's last snapshot (survives crashes).
    pub snapshots: BTreeMap<NodeId, Snapshot>,
    /// Messages in flight: (from, to, message).
    pub network: VecDeque<(NodeId, NodeId, Msg)>,
    /// Replies to clients: (node, request, reply).
    pub replies: Vec<(NodeId, RequestId, Reply)>,
    /// Links that drop everything, both ways.
    pub cut: BTreeSet<(NodeId, NodeId)>,
    /// The simulated clock.
    pub now_ms: u64,
    /// Clock faults: node `n` reads `now_ms + skew_ms[n]` (never below 0).
    /// Changing a skew jumps that node's clock, either way.
    pub skew_ms: BTreeMap<NodeId, i64>,
    configs: BTreeMap<NodeId, Config>,
    /// Nodes whose `Timer::Batch` is set.
    batch_waits: BTreeSet<NodeId>,
}

impl Sim {
    /// A cluster of `n` replicas, started.
    pub fn new(n: u64, mode: Mode, reads: ReadMode) -> Sim {
        Sim::with(n, mode, reads, 10_000)
    }

    /// Like [`Sim::new`], snapshotting every `snapshot_every` slots.
    pub fn with(n: u64, mode: Mode, reads: ReadMode, snapshot_every: u64) -> Sim {
        let members: Vec<NodeId> = (1..=n).collect();
        let mut sim = Sim {
            replicas: BTreeMap::new(),
            disks: BTreeMap::new(),
            snapshots: BTreeMap::new(),
            network: VecDeque::new(),
            replies: Vec::new(),
            cut: BTreeSet::new(),
            now_ms: 0,
            skew_ms: BTreeMap::new(),
            configs: BTreeMap::new(),
            batch_waits: BTreeSet::new(),
        };
        for &id in &members {
            let mut cfg = Config::new(id, members.clone());
            cfg.mode = mode;
            cfg.reads = reads;
            cfg.snapshot_every = snapshot_every;
            sim.configs.insert(id, cfg.clone());
            sim.disks.insert(id, Vec::new());
            sim.replicas.insert(id, Replica::new(cfg, &[]));
            sim.input(id, Input::Start);
        }
        sim
    }

    /// What `node`'s clock reads now (the simulated clock, skewed).
    pub fn clock_ms(&self, node: NodeId) -> u64 {
        let skew = self.skew_ms.get(&node).copied().unwrap_or(0);
        self.now_ms.saturating_add_signed(skew)
    }

    /// Feeds one input to a node and carries out what it asks.
    pub fn input(&mut self, node: NodeId, input: Input) {
        let now_ms = self.clock_ms(node);
        let Some(replica) = self.replicas.get_mut(&node) else {
            return;
        };
        let mut out = Vec::new();
        replica.step(now_ms, input, &mut out);
        for o in out {
            match o {
                Output::Persist(r) => self.disks.entry(node).or_default().push(r),
                Output::Snapshot(snap) => {
                    // Snapshot durable first, then the log is rewritten.
                    self.snapshots.insert(node, snap);
                    let records = self.replicas[&node].durable_records();
                    self.disks.insert(node, records);
                }
                Output::Send { to, msg } => self.network.push_back((node, to, msg)),
                Output::Reply { request, reply } => self.replies.push((node, request, reply)),
                Output::SetTimer {
                    timer: Timer::Batch,
                    ..
                } => {
                    self.batch_waits.insert(node);
                }
                Output::SetTimer { .. } => {}
            }
        }
    }

    /// A client request at `node`.
    pub fn request(&mut self, node: NodeId, request: RequestId, command: Command) {
        self.input(node, Input::Requests(vec![(request, command)]));
    }

    /// Fires a timer at a node.
    pub fn fire(&mut self, node: NodeId, timer: Timer) {
        self.input(node, Input::Timeout(timer));
    }

    /// Fires the heartbeat timer of every replica that leads (Multi-Paxos
    /// followers learn the last chosen slots from the next heartbeat).
    pub fn heartbeat_leaders(&mut self) {
        let leaders: Vec<NodeId> = self
            .replicas
            .iter()
            .filter(|(_, r)| *r.role() == Role::Leader)
            .map(|(id, _)| *id)
            .collect();
        for id in leaders {
            self.fire(id, Timer::Heartbeat);
        }
    }

    /// Delivers messages in order until none are left or `max` were
    /// delivered; returns how many were. When the network falls quiet, the
    /// group-commit waits that are set end (commands held for company
    /// that is not coming are proposed), and delivery goes on.
    pub fn deliver(&mut self, max: usize) -> usize {
        let mut n = 0;
        while n < max {
            let Some((from, to, msg)) = self.network.pop_front() else {
                let Some(node) = self.batch_waits.pop_first() else {
                    break;
                };
                self.fire(node, Timer::Batch);
                continue;
            };
            n += 1;
            if self.cut.contains(&(from, to)) || self.cut.contains(&(to, from)) {
                continue;
            }
            self.input(to, Input::Message { from, msg });
        }
        n
    }

    /// Crashes a node: its volatile state and in-flight messages to it are lost.
    pub fn crash(&mut self, node: NodeId) {
        self.replicas.remove(&node);
        self.batch_waits.remove(&node);
        self.network.retain(|(_, to, _)| *to != node);
    }

    /// Restarts a crashed node from its disk.
    pub fn restart(&mut self, node: NodeId) {
        let cfg = self.configs[&node].clone();
        let replica = Replica::recover(cfg, self.snapshots.get(&node).cloned(), &self.disks[&node]);
        self.replicas.insert(node, replica);
        self.input(node, Input::Start);
    }

    /// Cuts every link between `node` and the others.
    pub fn isolate(&mut self, node: NodeId) {
        for &other in self.configs.keys() {
            if other != node {
                self.cut.insert((node, other));
            }
        }
    }

    /// Restores every link.
    pub fn heal(&mut self) {
        self.cut.clear();
    }

    /// The reply to `request` at `node`, if any.
    pub fn reply(&self, node: NodeId, request: RequestId) -> Option<&Reply> {
        self.replies
            .iter()
            .find(|(n, r, _)| *n == node && *r == request)
            .map(|(_, _, reply)| reply)
    }
}
