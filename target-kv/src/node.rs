//! The node: the tokio shell around the consensus core. One task owns the
//! [`Replica`] and the WAL; it takes client calls, peer messages and timer
//! firings, feeds them to the core, and carries out what the core asks, in
//! order: records are made durable (with `--fsync batch`, one fsync per step) before any message
//! or reply of that step leaves the node. Peer messages that arrive together
//! are one step; a step whose records only say what was learned writes them
//! without a sync (see [`crate::shell::Durable::append`]).

use crate::clock::NodeClock;
use crate::kv::Command;
use crate::paxos::{Config, Mode, Msg, NodeId, ReadMode, Reply};
use crate::shell::{Durable, Effects, Now, Shell};
use crate::storage::{read_snapshot, write_snapshot, FsyncPolicy, Wal};
use crate::transport::{BlockList, Transport, TransportConfig};
use std::collections::BTreeMap;
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

pub use crate::shell::Status;

/// Errors starting a node.
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    /// The snapshot could not be read.
    #[error("snapshot: {0}")]
    Snapshot(#[from] crate::storage::SnapshotError),
    /// The WAL could not be opened or replayed.
    #[error("write-ahead log: {0}")]
    Wal(#[from] crate::storage::WalError),
    /// The data directory's contents did not decode.
    #[error("{}: {source}", path.display())]
    Decode {
        /// The data directory.
        path: PathBuf,
        /// What did not decode.
        source: crate::shell::RecoverError,
    },
    /// The configuration cannot make a cluster.
    #[error("bad configuration: {0}")]
    Config(String),
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
    if let Some(id) = cfg.peers.keys().find(|id| **id > crate::paxos::NODE_ID_MAX) {
        return Err(NodeError::Config(format!(
            "node id {id}: ids go up to {}",
            crate::paxos::NODE_ID_MAX
        )));
    }
    if !cfg.peers.contains_key(&cfg.id) {
        return Err(NodeError::Config(format!(
            "the peers do not list this node's id {}",
            cfg.id
        )));
    }
    std::fs::create_dir_all(&cfg.data_dir).map_err(|source| NodeError::Io {
        what: format!("cannot create {}", cfg.data_dir.display()),
        source,
    })?;
    let wal_path = cfg.data_dir.join("wal.log");
    let (wal, payloads) = Wal::open(&wal_path, cfg.fsync)?;
    let mut core_cfg = Config::new(cfg.id, cfg.peers.keys().copied().collect());
    core_cfg.mode = cfg.mode;
    core_cfg.reads = cfg.reads;
    core_cfg.heartbeat_ms = cfg.heartbeat_ms;
    core_cfg.election_timeout_ms = cfg.election_timeout_ms;
    core_cfg.lease_ms = cfg.lease_ms;
    core_cfg.snapshot_every = cfg.snapshot_every;
    let snapshot_path = cfg.data_dir.join("snapshot.bin");
    let snapshot = read_snapshot(&snapshot_path)?;
    let seed = cfg.id.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    let shell =
        Shell::recover(core_cfg, None, snapshot.as_deref(), &payloads, seed).map_err(|source| {
            NodeError::Decode {
                path: cfg.data_dir.clone(),
                source,
            }
        })?;
    tracing::info!(
        id = cfg.id,
        records = payloads.len(),
        applied = shell.replica().applied(),
        incarnation = shell.replica().incarnation(),
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
        shell,
        disk: NodeDisk {
            wal,
            fsync: cfg.fsync,
            snapshot_path,
            transport,
        },
        clock: clock.clone(),
        booted: Instant::now(),
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

/// The node's disk: the WAL and the snapshot file; and the transport, so
/// that a proposer's requests can leave while the WAL syncs.
struct NodeDisk {
    wal: Wal,
    fsync: FsyncPolicy,
    snapshot_path: PathBuf,
    transport: Transport<Msg>,
}

/// A write that failed: the node stops.
#[derive(Debug, thiserror::Error)]
enum DiskError {
    #[error("write-ahead log: {0}")]
    Wal(#[from] crate::storage::WalError),
    #[error("snapshot: {0}")]
    Snapshot(#[from] crate::storage::SnapshotError),
}

impl Durable for NodeDisk {
    type Error = DiskError;

    fn append(&mut self, records: &[Vec<u8>], sync: bool) -> Result<(), DiskError> {
        // `always` syncs each record; `batch` (and `never`) write the
        // step's records together (batch: one fsync for all of them).
        // Records the shell does not need synced are written, not synced.
        if !sync {
            let slices: Vec<&[u8]> = records.iter().map(|r| r.as_slice()).collect();
            self.wal.append_batch_unsynced(&slices)?;
        } else if self.fsync == FsyncPolicy::Always {
            for r in records {
                self.wal.append(r)?;
            }
        } else {
            let slices: Vec<&[u8]> = records.iter().map(|r| r.as_slice()).collect();
            self.wal.append_batch(&slices)?;
        }
        Ok(())
    }

    fn sync(&mut self) -> Result<(), DiskError> {
        Ok(self.wal.sync()?)
    }

    fn send_early(&mut self, to: NodeId, msg: Msg) -> Option<(NodeId, Msg)> {
        self.transport.send(to, msg);
        None
    }

    fn write_snapshot(&mut self, snapshot: &[u8]) -> Result<(), DiskError> {
        Ok(write_snapshot(&self.snapshot_path, snapshot)?)
    }

    fn rewrite(&mut self, records: &[Vec<u8>]) -> Result<(), DiskError> {
        self.wal.rewrite(records.iter().map(|r| r.as_slice()))?;
        tracing::debug!(records = records.len(), "snapshot written, log compacted");
        Ok(())
    }
}

struct Core {
    shell: Shell<oneshot::Sender<Reply>>,
    disk: NodeDisk,
    clock: NodeClock,
    /// Monotonic time 0 for the shell's timers.
    booted: Instant,
    status: watch::Sender<Status>,
    reach: watch::Sender<BTreeMap<NodeId, bool>>,
}

/// Most client calls folded into one step (one batch, one fsync).
const CALLS_PER_STEP: usize = 256;

/// Most peer messages folded into one step (one fsync).
const MESSAGES_PER_STEP: usize = 256;

impl Core {
    async fn run(
        mut self,
        mut calls: mpsc::Receiver<Call>,
        mut inbox: mpsc::Receiver<(NodeId, Msg)>,
        mut stop: watch::Receiver<bool>,
    ) {
        let now = self.now();
        let mut alive = self.carry_out(|shell, disk| shell.start(now, disk));
        let mut reach_tick = tokio::time::interval(Duration::from_millis(100));
        while alive {
            let sleep_until = self.shell.next_deadline().map_or_else(
                || Instant::now() + Duration::from_secs(3600),
                |at| self.booted + Duration::from_millis(at),
            );
            tokio::select! {
                _ = stop.changed() => break,
                call = calls.recv() => {
                    let Some(call) = call else { break };
                    let mut batch = vec![(call.command, call.reply)];
                    while batch.len() < CALLS_PER_STEP {
                        match calls.try_recv() {
                            Ok(call) => batch.push((call.command, call.reply)),
                            Err(_) => break,
                        }
                    }
                    let now = self.now();
                    alive = self.carry_out(|shell, disk| shell.submit(now, batch, disk));
                }
                msg = inbox.recv() => {
                    let Some(first) = msg else { break };
                    // Whatever else has arrived joins this step: one fsync
                    // for all of it (a follower under load gets Accepts
                    // faster than it can sync them one by one).
                    let mut msgs = vec![first];
                    while msgs.len() < MESSAGES_PER_STEP {
                        match inbox.try_recv() {
                            Ok(m) => msgs.push(m),
                            Err(_) => break,
                        }
                    }
                    let now = self.now();
                    alive = self.carry_out(|shell, disk| shell.deliver_many(now, msgs, disk));
                }
                _ = tokio::time::sleep_until(sleep_until) => {
                    let now = self.now();
                    while alive {
                        let mut fired = false;
                        alive = self.carry_out(|shell, disk| match shell.fire_due(now, disk) {
                            Some(r) => {
                                fired = true;
                                r
                            }
                            None => Ok(Effects::default()),
                        });
                        if !fired {
                            break;
                        }
                    }
                }
                _ = reach_tick.tick() => {
                    let _ = self.reach.send(self.disk.transport.reachable());
                }
            }
        }
        self.disk.transport.shutdown().await;
    }

    fn now(&self) -> Now {
        Now {
            mono_ms: self.booted.elapsed().as_millis() as u64,
            clock_ms: self.clock.now_ms(),
        }
    }

    /// Runs one shell step and carries out its effects; false when the
    /// node must stop (its disk failed: nothing more of the step leaves;
    /// only its proposer requests may have gone ahead of the write).
    fn carry_out(
        &mut self,
        step: impl FnOnce(
            &mut Shell<oneshot::Sender<Reply>>,
            &mut NodeDisk,
        ) -> Result<Effects<oneshot::Sender<Reply>>, DiskError>,
    ) -> bool {
        let effects = match step(&mut self.shell, &mut self.disk) {
            Ok(effects) => effects,
            Err(e) => {
                tracing::error!(error = %e, "cannot persist; stopping the node");
                return false;
            }
        };
        for (to, msg) in effects.sends {
            self.disk.transport.send(to, msg);
        }
        for (tx, reply) in effects.replies {
            let _ = tx.send(reply);
        }
        let _ = self.status.send(self.shell.status());
        true
    }
}
