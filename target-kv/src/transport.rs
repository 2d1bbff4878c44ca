//! Peer-to-peer TCP transport for consensus messages.
//!
//! Every node dials every peer once and uses that connection only to send;
//! it accepts connections from its peers and only reads from them. Two
//! nodes thus share two TCP connections, one per direction, which removes
//! any question of which one to keep when both dial at once.
//!
//! On the wire a frame is `len: u32` big-endian followed by `len` bytes of
//! postcard (at most [`MAX_FRAME_BYTES`]). A dialer's first frame is a hello
//! naming its cluster id and node id; the acceptor closes the connection
//! unless both match its configuration.
//!
//! Paxos tolerates lost messages and retransmits what matters, so this
//! layer never blocks: every queue is bounded, and a message that does not
//! fit (or is for a blocked peer) is dropped and counted in
//! [`TransportStats`].
//!
//! A frame whose length is over the cap, or that stops half-way, closes the
//! connection (the stream can no longer be trusted); a complete frame that
//! does not decode is dropped on its own, since the length prefix keeps the
//! stream in step.
//!
//! The transport is generic over the message type so it does not depend on
//! the consensus core; the node driver instantiates it with its own `Msg`.
//! Postcard is not self-describing, so that type (and everything inside it)
//! must use serde's default enum representation: an enum with
//! `#[serde(tag = ...)]` (internally or adjacently tagged) or
//! `#[serde(untagged)]` serializes but never deserializes, and every such
//! frame would be dropped as undecodable.

mod acceptor;
mod blocklist;
mod dialer;
mod frame;
mod stats;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::Serialize;
use tokio::net::TcpListener;
use tokio::sync::mpsc::error::TrySendError;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tracing::{trace, warn};

pub use blocklist::BlockList;
pub use frame::MAX_FRAME_BYTES;
pub use stats::TransportStats;

use acceptor::Acceptor;
use dialer::{Backoff, Dialer};
use stats::Counters;

/// A node's id; the same as `crate::paxos::NodeId`.
pub type NodeId = u64;

/// How long an acceptor waits for a new connection's hello.
const HELLO_TIMEOUT: Duration = Duration::from_secs(5);
/// Bound on one batch write (with flush), and on receiving the rest of a
/// frame once its length has arrived.
const IO_TIMEOUT: Duration = Duration::from_secs(5);
/// How long `shutdown` waits for the tasks before aborting them.
const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(5);
/// Most messages written in one `write_all`.
const BATCH_MAX: usize = 256;
/// Read buffer per incoming connection, and the payload buffer size a
/// reader keeps between frames.
const READ_BUF_BYTES: usize = 64 * 1024;
/// Write buffer size a sender keeps between batches.
const WRITE_BUF_KEEP_BYTES: usize = 1024 * 1024;
/// Incoming connections allowed beyond two per peer (two, because a
/// restarted peer's new connection can arrive before its old one is seen to
/// close). The spare room absorbs strays without letting them exhaust
/// file descriptors.
const INCOMING_SPARE: usize = 16;

/// Where the peers are and how hard to try reaching them.
#[derive(Clone, Debug)]
pub struct TransportConfig {
    /// This node's id.
    pub me: NodeId,
    /// Shared by every node of one cluster; connections from another
    /// cluster are refused.
    pub cluster_id: u64,
    /// Every peer's listening address. An entry for `me` is ignored.
    pub peers: BTreeMap<NodeId, SocketAddr>,
    /// Messages queued per peer before `send` starts dropping (at least 1).
    pub queue_max: usize,
    /// Bound on one TCP connect attempt.
    pub connect_timeout: Duration,
    /// First redial delay after a failed attempt or a lost connection
    /// (raised to 1 ms if zero).
    pub backoff_min: Duration,
    /// Largest redial delay; the delay doubles from `backoff_min` up to it.
    pub backoff_max: Duration,
}

impl TransportConfig {
    /// The default per-peer queue bound.
    pub const QUEUE_MAX_DEFAULT: usize = 4096;

    /// A configuration with default queue bound, connect timeout (1 s) and
    /// backoff (50 ms to 2 s).
    pub fn new(me: NodeId, cluster_id: u64, peers: BTreeMap<NodeId, SocketAddr>) -> Self {
        Self {
            me,
            cluster_id,
            peers,
            queue_max: Self::QUEUE_MAX_DEFAULT,
            connect_timeout: Duration::from_secs(1),
            backoff_min: Duration::from_millis(50),
            backoff_max: Duration::from_secs(2),
        }
    }
}

/// The sending side of one peer, as seen by [`Transport::send`].
struct PeerLink<M> {
    queue: mpsc::Sender<M>,
    connected: Arc<AtomicBool>,
}

/// A running transport: one sender task per peer plus an accept loop with
/// one reader task per incoming connection.
///
/// Dropping it signals every task to stop without waiting for them; call
/// [`shutdown`](Self::shutdown) to also wait until they are gone.
pub struct Transport<M> {
    links: BTreeMap<NodeId, PeerLink<M>>,
    blocked: BlockList,
    counters: Arc<Counters>,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl<M: Serialize + DeserializeOwned + Send + Sync + 'static> Transport<M> {
    /// Starts accepting peer connections on `listener` and dialing every
    /// peer.
    ///
    /// Messages received after a valid handshake are pushed as `(from, msg)`
    /// into `inbox` with `try_send`: when it is full the message is dropped
    /// and counted, so a slow consumer never stalls a connection.
    ///
    /// # Panics
    /// When called outside a tokio runtime (it spawns tasks).
    pub fn start(
        cfg: TransportConfig,
        listener: TcpListener,
        inbox: mpsc::Sender<(NodeId, M)>,
        blocked: BlockList,
    ) -> Transport<M> {
        let (stop, stop_rx) = watch::channel(false);
        let counters = Arc::new(Counters::default());
        let peers: BTreeMap<NodeId, SocketAddr> = cfg
            .peers
            .iter()
            .filter(|(id, _)| **id != cfg.me)
            .map(|(id, addr)| (*id, *addr))
            .collect();
        let mut links = BTreeMap::new();
        let mut tasks = Vec::with_capacity(peers.len() + 1);
        for (&peer, &addr) in &peers {
            let (queue_tx, queue_rx) = mpsc::channel(cfg.queue_max.max(1));
            let connected = Arc::new(AtomicBool::new(false));
            let dialer = Dialer {
                me: cfg.me,
                peer,
                addr,
                cluster_id: cfg.cluster_id,
                connect_timeout: cfg.connect_timeout,
                backoff: Backoff::new(cfg.backoff_min, cfg.backoff_max),
                connected: Arc::clone(&connected),
                blocked: blocked.clone(),
                counters: Arc::clone(&counters),
                queue: queue_rx,
                stop: stop_rx.clone(),
            };
            tasks.push(tokio::spawn(dialer.run()));
            links.insert(
                peer,
                PeerLink {
                    queue: queue_tx,
                    connected,
                },
            );
        }
        let acceptor = Acceptor {
            me: cfg.me,
            cluster_id: cfg.cluster_id,
            peers: peers.keys().copied().collect(),
            inbox,
            blocked: blocked.clone(),
            counters: Arc::clone(&counters),
            connections_max: 2 * peers.len() + INCOMING_SPARE,
        };
        tasks.push(tokio::spawn(acceptor.run(listener, stop_rx)));
        Transport {
            links,
            blocked,
            counters,
            stop,
            tasks,
        }
    }

    /// Queues a message for `to` without blocking. It is dropped (and
    /// counted) if `to` is blocked, is not a configured peer, or its queue
    /// is full.
    pub fn send(&self, to: NodeId, msg: M) {
        let Some(link) = self.links.get(&to) else {
            self.counters.dropped_unknown_peer.inc();
            trace!(to, "dropping a message for an unknown peer");
            return;
        };
        if self.blocked.is_blocked(to) {
            self.counters.dropped_blocked.inc();
            return;
        }
        match link.queue.try_send(msg) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => self.counters.dropped_queue_full.inc(),
            // Only if the peer's sender task has ended, which happens at
            // shutdown or if it panicked.
            Err(TrySendError::Closed(_)) => self.counters.dropped_link_failed.inc(),
        }
    }
}

impl<M> Transport<M> {
    /// For every configured peer, whether it currently has a live outgoing
    /// connection and is not blocked.
    pub fn reachable(&self) -> BTreeMap<NodeId, bool> {
        self.links
            .iter()
            .map(|(&id, link)| {
                let up = link.connected.load(Ordering::Acquire) && !self.blocked.is_blocked(id);
                (id, up)
            })
            .collect()
    }

    /// A snapshot of the counters.
    pub fn stats(&self) -> TransportStats {
        self.counters.snapshot()
    }

    /// Stops every task and closes every socket, including the listener;
    /// returns once all tasks have finished. Tasks still running after
    /// 5 s are aborted (and logged), so this always returns.
    pub async fn shutdown(mut self) {
        self.stop.send_replace(true);
        let deadline = tokio::time::Instant::now() + SHUTDOWN_TIMEOUT;
        for mut task in std::mem::take(&mut self.tasks) {
            match tokio::time::timeout_at(deadline, &mut task).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => {
                    if e.is_panic() {
                        warn!(error = %e, "a transport task had panicked");
                    }
                }
                Err(_) => {
                    warn!(
                        "a transport task ignored shutdown for {SHUTDOWN_TIMEOUT:?}; aborting it"
                    );
                    task.abort();
                    // Aborting is prompt; the result is a cancellation
                    // error, which is expected here.
                    let _ = task.await;
                }
            }
        }
    }
}

impl<M> Drop for Transport<M> {
    fn drop(&mut self) {
        // Without `shutdown`, at least tell the tasks to go: they close
        // their sockets and exit on their own shortly after.
        self.stop.send_replace(true);
    }
}

/// Resolves once shutdown has been requested (or the transport is gone).
async fn stopped(stop: &mut watch::Receiver<bool>) {
    // An error means the sender was dropped, which also means stop.
    let _ = stop.wait_for(|stop| *stop).await;
}
