//! The receiving half: accepts peer connections, checks each handshake and
//! pushes the frames that follow into the inbox.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use serde::de::DeserializeOwned;
use tokio::io::BufReader;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc::error::TrySendError;
use tokio::sync::{mpsc, watch, OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;
use tokio::time::timeout;
use tracing::{debug, error, warn};

use super::frame::{self, FrameError, Hello};
use super::stats::Counters;
use super::{stopped, BlockList, NodeId, HELLO_TIMEOUT, IO_TIMEOUT, READ_BUF_BYTES};

/// How long to pause after a failed `accept` (say, out of file
/// descriptors) so the loop does not spin while the condition lasts.
const ACCEPT_RETRY_PAUSE: Duration = Duration::from_millis(50);

/// Why an incoming connection was closed before its first message.
#[derive(Debug, thiserror::Error)]
enum Rejection {
    #[error("cluster id {found} is not ours ({expected})")]
    WrongCluster { expected: u64, found: u64 },
    #[error("node {from} is not a configured peer")]
    UnknownPeer { from: NodeId },
    #[error("node {from} is this node's own id")]
    OwnId { from: NodeId },
    #[error("malformed hello: {0}")]
    Malformed(#[from] FrameError),
    #[error("connection closed before the hello")]
    Closed,
    #[error("no hello within {0:?}")]
    Timeout(Duration),
}

impl Rejection {
    /// Whether the dialer spoke the protocol but is not one of ours, as
    /// opposed to not speaking the protocol at all.
    fn is_outsider(&self) -> bool {
        matches!(
            self,
            Self::WrongCluster { .. } | Self::UnknownPeer { .. } | Self::OwnId { .. }
        )
    }
}

/// What every reader shares.
pub(super) struct Acceptor<M> {
    pub(super) me: NodeId,
    pub(super) cluster_id: u64,
    pub(super) peers: BTreeSet<NodeId>,
    pub(super) inbox: mpsc::Sender<(NodeId, M)>,
    pub(super) blocked: BlockList,
    pub(super) counters: Arc<Counters>,
    /// Cap on concurrent incoming connections (one task each).
    pub(super) connections_max: usize,
}

impl<M: DeserializeOwned + Send + 'static> Acceptor<M> {
    /// Accepts connections until shutdown, then waits for every reader.
    #[tracing::instrument(name = "acceptor", skip_all, fields(me = self.me))]
    pub(super) async fn run(self, listener: TcpListener, mut stop: watch::Receiver<bool>) {
        let this = Arc::new(self);
        let slots = Arc::new(Semaphore::new(this.connections_max));
        let mut readers = JoinSet::new();
        loop {
            tokio::select! {
                _ = stopped(&mut stop) => break,
                // Reap finished readers so the set does not grow with every
                // reconnect over a long run.
                Some(done) = readers.join_next(), if !readers.is_empty() => log_panic(done),
                accepted = listener.accept() => match accepted {
                    Ok((stream, remote)) => {
                        // Refuse rather than wait for a slot: waiting would
                        // stall the accept loop behind whoever holds them.
                        let Ok(slot) = Arc::clone(&slots).try_acquire_owned() else {
                            warn!(%remote, limit = this.connections_max, "too many incoming connections; closing this one");
                            continue;
                        };
                        readers.spawn(Arc::clone(&this).serve(stream, remote, stop.clone(), slot));
                    }
                    Err(e) => {
                        warn!(error = %e, "accept failed");
                        tokio::select! {
                            _ = stopped(&mut stop) => break,
                            _ = tokio::time::sleep(ACCEPT_RETRY_PAUSE) => {}
                        }
                    }
                },
            }
        }
        // Stop taking connections before waiting for the readers, so a peer
        // that redials meanwhile is refused instead of left in the backlog.
        drop(listener);
        while let Some(done) = readers.join_next().await {
            log_panic(done);
        }
    }

    /// Reads one incoming connection: the hello, then messages.
    #[tracing::instrument(name = "reader", skip_all, fields(me = self.me, %remote))]
    async fn serve(
        self: Arc<Self>,
        stream: TcpStream,
        remote: SocketAddr,
        mut stop: watch::Receiver<bool>,
        _slot: OwnedSemaphorePermit,
    ) {
        // Frames are small and arrive in batches: buffering turns a batch
        // into a few large reads instead of two syscalls per frame.
        let mut reader = BufReader::with_capacity(READ_BUF_BYTES, stream);
        let mut payload = Vec::new();
        let hello = tokio::select! {
            _ = stopped(&mut stop) => return,
            hello = timeout(HELLO_TIMEOUT, self.handshake(&mut reader, &mut payload)) => {
                hello.unwrap_or(Err(Rejection::Timeout(HELLO_TIMEOUT)))
            }
        };
        let from = match hello {
            Ok(from) => from,
            Err(reason) => {
                self.counters.rejected_handshakes.inc();
                if reason.is_outsider() {
                    warn!(%reason, "frame from outside the cluster; closing the connection");
                } else {
                    warn!(%reason, "bad handshake; closing the connection");
                }
                return;
            }
        };
        debug!(from, "peer connected");
        let mut undecodable_seen = false;
        loop {
            // No timeout while waiting for the next frame: a healthy peer
            // with nothing to say sends nothing, and a dead one is noticed
            // by its own redial (its new connection replaces this one) or by
            // TCP. Once a frame has started, its payload must follow within
            // `IO_TIMEOUT`.
            let len = tokio::select! {
                _ = stopped(&mut stop) => return,
                len = frame::read_len(&mut reader) => len,
            };
            let len = match len {
                Ok(Some(len)) => len,
                Ok(None) => {
                    debug!(from, "peer closed the connection");
                    return;
                }
                Err(e) => return self.protocol_error(from, &e),
            };
            let read = tokio::select! {
                _ = stopped(&mut stop) => return,
                read = timeout(IO_TIMEOUT, frame::read_payload(&mut reader, len, &mut payload)) => read,
            };
            match read {
                Ok(Ok(())) => {}
                Ok(Err(e)) => return self.protocol_error(from, &e),
                Err(_) => {
                    self.counters.protocol_errors.inc();
                    warn!(
                        from,
                        len,
                        "frame payload not received within {IO_TIMEOUT:?}; closing the connection"
                    );
                    return;
                }
            }
            // Checked per frame, not per connection, so a block or unblock
            // applies to the very next frame without a reconnect.
            if self.blocked.is_blocked(from) {
                self.counters.dropped_blocked.inc();
                continue;
            }
            let msg: M = match frame::decode(&payload) {
                Ok(msg) => msg,
                Err(e) => {
                    // The length prefix keeps the stream in step, so only
                    // this frame is lost: closing would also cut the peer's
                    // other messages (heartbeats) and churn connections
                    // over what is most likely one unknown message kind.
                    self.counters.protocol_errors.inc();
                    if undecodable_seen {
                        debug!(from, error = %e, "dropping an undecodable frame");
                    } else {
                        // Once per connection: a peer that sends one such
                        // frame likely sends thousands.
                        warn!(from, error = %e, "dropping an undecodable frame (peers disagree on the message type?); further ones on this connection are logged at debug");
                        undecodable_seen = true;
                    }
                    continue;
                }
            };
            // Never wait on a slow consumer: holding this frame would stall
            // every later one from the peer, and Paxos copes with loss.
            match self.inbox.try_send((from, msg)) {
                Ok(()) => self.counters.received.inc(),
                Err(TrySendError::Full(_)) => self.counters.dropped_inbox_full.inc(),
                Err(TrySendError::Closed(_)) => {
                    debug!("inbox closed; the node is stopping");
                    return;
                }
            }
            if payload.capacity() > READ_BUF_BYTES {
                // Do not keep a buffer sized for one rare huge frame.
                payload = Vec::new();
            }
        }
    }

    /// Reads and checks the dialer's hello; returns the peer's id.
    async fn handshake(
        &self,
        reader: &mut BufReader<TcpStream>,
        payload: &mut Vec<u8>,
    ) -> Result<NodeId, Rejection> {
        let len = frame::read_len(reader).await?.ok_or(Rejection::Closed)?;
        frame::read_payload(reader, len, payload).await?;
        let Hello { cluster_id, from } = frame::decode(payload)?;
        if cluster_id != self.cluster_id {
            return Err(Rejection::WrongCluster {
                expected: self.cluster_id,
                found: cluster_id,
            });
        }
        if from == self.me {
            return Err(Rejection::OwnId { from });
        }
        if !self.peers.contains(&from) {
            return Err(Rejection::UnknownPeer { from });
        }
        Ok(from)
    }

    fn protocol_error(&self, from: NodeId, e: &FrameError) {
        self.counters.protocol_errors.inc();
        warn!(from, error = %e, "protocol error; closing the connection");
    }
}

/// A reader that panicked is a bug; say so instead of losing it silently.
fn log_panic(done: Result<(), tokio::task::JoinError>) {
    if let Err(e) = done {
        if e.is_panic() {
            error!(error = %e, "a connection reader panicked");
        }
    }
}
