//! The node: the tokio shell around the consensus core. One task owns the
//! [`Replica`] and the WAL; it takes client calls, peer messages and timer
//! firings, feeds them to the core, and carries out what the core asks, in
//! order: records are made durable (with `--fsync batch`, one fsync per step) before any message
//! or reply of that step leaves the node.

use crate::clock::NodeClock;
use crate::kv::Command;
use crate::paxos::Snapshot;
use crate::paxos::{
    Config, Input, Mode, Msg, NodeId, Output, ReadMode, Record, Reply, RequestId, Role, Timer,
};
use crate::storage::{read_snapshot, write_snapshot, FsyncPolicy, Wal};
use crate::transport::{BlockList, Transport, TransportConfig};
use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::Instant;

/// Everything a node needs to start.
#[derive(Clone, Debug)]
pub struct NodeConfig {
    /// This node's id.
    pub id: NodeId,
    /// Every member's peer address (this node's included).
    pub peers: BTreeMap<NodeId, SocketAddr>,
    /// Where the WAL lives.
    pub data_dir: PathBuf,
    /// Multi or Basic Paxos.
    pub mode: Mode,
    /// How reads are served.
    pub reads: ReadMode,
    /// When the WAL syncs.
    pub fsync: FsyncPolicy,
    /// Frames from another cluster are refused.
    pub cluster_id: u64,
    /// Leader heartbeat period, ms.
    pub heartbeat_ms: u64,
    /// Election timeout range, ms.
    pub election_timeout_ms: (u64, u64),
    /// Lease length, ms.
    pub lease_ms: u64,
    /// Snapshot and compact the log every this many slots (0: never).
    pub snapshot_every: u64,
}

/// A client call waiting for the core.
#[derive(Debug)]
pub struct Call {
    /// The request.
    pub command: Command,
    /// Where the answer goes.
    pub reply: oneshot::Sender<Reply>,
}

/// What the status page shows, refreshed after every step.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct Status {
    /// Node id.
    pub id: NodeId,
    /// follower / candidate / leader.
    pub role: String,
    /// Proposer ballot (round, node).
    pub ballot: (u64, NodeId),
    /// Acceptor promise (round, node).
    pub promised: (u64, NodeId),
    /// The leader this node believes in.
    pub leader: Option<NodeId>,
    /// One past the last chosen slot of the contiguous prefix.
    pub first_unchosen: u64,
    /// One past the last applied slot.
    pub applied: u64,
    /// multi or basic.
    pub consensus: String,
    /// log, quorum, lease or local (unsafe).
    pub reads: String,
}

/// Errors starting a node.
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    /// The snapshot could not be read.
    #[error("snapshot: {0}")]
    Snapshot(#[from] crate::storage::SnapshotError),
    /// The WAL could not be opened or replayed.
    #[error("write-ahead log: {0}")]
    Wal(#[from] crate::storage::WalError),
    /// A WAL record did not decode.
    #[error("{path}: record {index} does not decode: {message}")]
    Decode {
        /// The WAL file.
        path: PathBuf,
        /// Which record.
        index: usize,
        /// What postcard said.
        message: String,
    },
    /// A socket or file problem.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The error.
        source: std::io::Error,
    },
}

/// Handles to a running node's core task.
pub struct NodeHandle {
    /// Client calls go here (bounded).
    pub calls: mpsc::Sender<Call>,
    /// The latest status.
    pub status: watch::Receiver<Status>,
    /// The fault hook's block list.
    pub blocked: BlockList,
    /// The fault hook's clock.
    pub clock: NodeClock,
    /// Peer reachability.
    pub reachable: watch::Receiver<BTreeMap<NodeId, bool>>,
    task: tokio::task::JoinHandle<()>,
    stop: watch::Sender<bool>,
}

impl NodeHandle {
    /// Stops the core task and the transport, and waits for them.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }
}

/// Opens the WAL, recovers the replica, starts the transport on
/// `peer_listener` and the core task.
pub async fn start(
    cfg: NodeConfig,
    peer_listener: tokio::net::TcpListener,
) -> Result<NodeHandle, NodeError> {
    std::fs::create_dir_all(&cfg.data_dir).map_err(|source| NodeError::Io {
        what: format!("cannot create {}", cfg.data_dir.display()),
        source,
    })?;
    let wal_path = cfg.data_dir.join("wal.log");
    let (wal, payloads) = Wal::open(&wal_path, cfg.fsync)?;
    let mut records = Vec::with_capacity(payloads.len());
    for (index, p) in payloads.iter().enumerate() {
        let r: Record = postcard::from_bytes(p).map_err(|e| NodeError::Decode {
            path: wal_path.clone(),
            index,
            message: e.to_string(),
        })?;
        records.push(r);
    }
    let mut core_cfg = Config::new(cfg.id, cfg.peers.keys().copied().collect());
    core_cfg.mode = cfg.mode;
    core_cfg.reads = cfg.reads;
    core_cfg.heartbeat_ms = cfg.heartbeat_ms;
    core_cfg.election_timeout_ms = cfg.election_timeout_ms;
    core_cfg.lease_ms = cfg.lease_ms;
    let snapshot_path = cfg.data_dir.join("snapshot.bin");
    let snapshot: Option<Snapshot> = match read_snapshot(&snapshot_path)? {
        None => None,
        Some(bytes) => Some(postcard::from_bytes(&bytes).map_err(|e| NodeError::Decode {
            path: snapshot_path.clone(),
            index: 0,
            message: e.to_string(),
        })?),
    };
    core_cfg.snapshot_every = cfg.snapshot_every;
    let replica = crate::paxos::Replica::recover(core_cfg, snapshot, &records);
    tracing::info!(
        id = cfg.id,
        records = records.len(),
        applied = replica.applied(),
        "recovered"
    );

    let (inbox_tx, inbox_rx) = mpsc::channel(8192);
    let blocked = BlockList::default();
    let transport = Transport::start(
        TransportConfig {
            me: cfg.id,
            cluster_id: cfg.cluster_id,
            peers: cfg
                .peers
                .iter()
                .filter(|(id, _)| **id != cfg.id)
                .map(|(k, v)| (*k, *v))
                .collect(),
            queue_max: 4096,
            connect_timeout: Duration::from_millis(500),
            backoff_min: Duration::from_millis(20),
            backoff_max: Duration::from_millis(500),
        },
        peer_listener,
        inbox_tx,
        blocked.clone(),
    );
    let (calls_tx, calls_rx) = mpsc::channel(4096);
    let (status_tx, status_rx) = watch::channel(Status::default());
    let (reach_tx, reach_rx) = watch::channel(BTreeMap::new());
    let (stop_tx, stop_rx) = watch::channel(false);
    let clock = NodeClock::new();
    let core = Core {
        replica,
        wal,
        fsync: cfg.fsync,
        snapshot_path,
        transport,
        clock: clock.clone(),
        pending: HashMap::new(),
        next_request: 0,
        timers: HashMap::new(),
        rng: cfg.id.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1,
        status: status_tx,
        reach: reach_tx,
    };
    let task = tokio::spawn(core.run(calls_rx, inbox_rx, stop_rx));
    Ok(NodeHandle {
        calls: calls_tx,
        status: status_rx,
        blocked,
        clock,
        reachable: reach_rx,
        task,
        stop: stop_tx,
    })
}

struct Core {
    replica: crate::paxos::Replica,
    wal: Wal,
    fsync: FsyncPolicy,
    snapshot_path: PathBuf,
    transport: Transport<Msg>,
    clock: NodeClock,
    pending: HashMap<RequestId, oneshot::Sender<Reply>>,
    next_request: RequestId,
    timers: HashMap<Timer, Instant>,
    rng: u64,
    status: watch::Sender<Status>,
    reach: watch::Sender<BTreeMap<NodeId, bool>>,
}

/// Most client calls folded into one step (one batch, one fsync).
const CALLS_PER_STEP: usize = 256;

impl Core {
    async fn run(
        mut self,
        mut calls: mpsc::Receiver<Call>,
        mut inbox: mpsc::Receiver<(NodeId, Msg)>,
        mut stop: watch::Receiver<bool>,
    ) {
        let mut alive = self.step(Input::Start);
        let mut reach_tick = tokio::time::interval(Duration::from_millis(100));
        while alive {
            let next_timer = self
                .timers
                .iter()
                .min_by_key(|(_, at)| **at)
                .map(|(t, at)| (*t, *at));
            let sleep_until =
                next_timer.map_or_else(|| Instant::now() + Duration::from_secs(3600), |(_, at)| at);
            tokio::select! {
                _ = stop.changed() => break,
                call = calls.recv() => {
                    let Some(call) = call else { break };
                    let mut batch = vec![self.register(call)];
                    while batch.len() < CALLS_PER_STEP {
                        match calls.try_recv() {
                            Ok(call) => batch.push(self.register(call)),
                            Err(_) => break,
                        }
                    }
                    alive = self.step(Input::Requests(batch));
                }
                msg = inbox.recv() => {
                    let Some((from, msg)) = msg else { break };
                    alive = self.step(Input::Message { from, msg });
                }
                _ = tokio::time::sleep_until(sleep_until), if next_timer.is_some() => {
                    if let Some((timer, _)) = next_timer {
                        self.timers.remove(&timer);
                        alive = self.step(Input::Timeout(timer));
                    }
                }
                _ = reach_tick.tick() => {
                    let _ = self.reach.send(self.transport.reachable());
                }
            }
        }
        self.transport.shutdown().await;
    }

    fn register(&mut self, call: Call) -> (RequestId, Command) {
        let id = self.next_request;
        self.next_request += 1;
        self.pending.insert(id, call.reply);
        (id, call.command)
    }

    fn random_between(&mut self, min: u64, max: u64) -> u64 {
        // xorshift: timers only need to differ between nodes and rounds.
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        if max <= min {
            min
        } else {
            min + self.rng % (max - min + 1)
        }
    }

    /// One step of the core; false when the node must stop.
    fn step(&mut self, input: Input) -> bool {
        let mut out = Vec::new();
        let role_before = *self.replica.role();
        self.replica.step(self.clock.now_ms(), input, &mut out);
        if *self.replica.role() != role_before {
            // Role changes are rare and are what an operator (or a failing
            // test's log) needs to follow an election.
            tracing::info!(
                role = ?self.replica.role(),
                ballot = ?self.replica.ballot(),
                leader = ?self.replica.leader(),
                "role changed"
            );
        }
        // Persist first: nothing this step produced may leave before its
        // records are durable.
        let records: Vec<Vec<u8>> = out
            .iter()
            .filter_map(|o| match o {
                Output::Persist(r) => {
                    Some(postcard::to_stdvec(r).expect("records always serialize"))
                }
                _ => None,
            })
            .collect();
        if !records.is_empty() {
            let slices: Vec<&[u8]> = records.iter().map(|r| r.as_slice()).collect();
            // `always` syncs each record; `batch` (and `never`) write the
            // step's records together (batch: one fsync for all of them).
            let written = if self.fsync == FsyncPolicy::Always {
                slices.iter().try_for_each(|r| self.wal.append(r))
            } else {
                self.wal.append_batch(&slices)
            };
            if let Err(e) = written {
                // A node that cannot persist must not answer anything: drop
                // every output of this step and stop.
                tracing::error!(error = %e, "cannot persist; stopping the node");
                return false;
            }
        }
        for o in out {
            match o {
                Output::Persist(_) => {}
                Output::Snapshot(snapshot) => {
                    // The snapshot is durable before the log below it goes.
                    let payload =
                        postcard::to_stdvec(&snapshot).expect("snapshots always serialize");
                    if let Err(e) = write_snapshot(&self.snapshot_path, &payload) {
                        tracing::error!(error = %e, "cannot write a snapshot; stopping the node");
                        return false;
                    }
                    let records: Vec<Vec<u8>> = self
                        .replica
                        .durable_records()
                        .iter()
                        .map(|r| postcard::to_stdvec(r).expect("records always serialize"))
                        .collect();
                    if let Err(e) = self.wal.rewrite(records.iter().map(|r| r.as_slice())) {
                        tracing::error!(error = %e, "cannot compact the log; stopping the node");
                        return false;
                    }
                    tracing::debug!(upto = snapshot.upto, "snapshot written, log compacted");
                }
                Output::Send { to, msg } => self.transport.send(to, msg),
                Output::Reply { request, reply } => {
                    if let Some(tx) = self.pending.remove(&request) {
                        let _ = tx.send(reply);
                    }
                }
                Output::SetTimer {
                    timer,
                    min_ms,
                    max_ms,
                } => {
                    let after = self.random_between(min_ms, max_ms);
                    self.timers
                        .insert(timer, Instant::now() + Duration::from_millis(after));
                }
            }
        }
        let r = &self.replica;
        let role = match r.role() {
            Role::Follower => "follower",
            Role::Candidate => "candidate",
            Role::Leader => "leader",
        };
        let cfg = r.config();
        let status = Status {
            id: r.id(),
            role: role.into(),
            ballot: (r.ballot().round, r.ballot().node),
            promised: (r.promised().round, r.promised().node),
            leader: r.leader(),
            first_unchosen: r.first_unchosen(),
            applied: r.applied(),
            consensus: match cfg.mode {
                Mode::Multi => "multi".into(),
                Mode::Basic => "basic".into(),
            },
            reads: match cfg.reads {
                ReadMode::Log => "log".into(),
                ReadMode::Quorum => "quorum".into(),
                ReadMode::Lease => "lease".into(),
                ReadMode::Local => "local (UNSAFE: not linearizable)".into(),
            },
        };
        let _ = self.status.send(status);
        true
    }
}
