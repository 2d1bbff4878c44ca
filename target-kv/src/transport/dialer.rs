//! The sending half: one task per peer that dials it, keeps the connection
//! up and writes queued messages in batches.

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, watch};
use tokio::time::{timeout, Instant};
use tracing::{debug, info, warn};

use super::frame::{self, FrameError, Hello};
use super::stats::Counters;
use super::{stopped, BlockList, NodeId, BATCH_MAX, IO_TIMEOUT, WRITE_BUF_KEEP_BYTES};

/// Why an outgoing connection could not be made or was given up.
#[derive(Debug, thiserror::Error)]
enum LinkError {
    #[error("connect failed: {0}")]
    Connect(#[source] std::io::Error),
    #[error("connect timed out after {0:?}")]
    ConnectTimeout(Duration),
    #[error("write failed: {0}")]
    Write(#[source] std::io::Error),
    #[error("write timed out after {0:?}")]
    WriteTimeout(Duration),
    #[error("could not encode the handshake: {0}")]
    Hello(#[source] FrameError),
    #[error("peer closed the connection")]
    PeerClosed,
    #[error("peer sent bytes on a send-only connection")]
    UnexpectedBytes,
    #[error("read failed: {0}")]
    Read(#[source] std::io::Error),
}

/// How a connected session ended.
enum SessionEnd {
    /// Shutdown was requested, or the transport is gone: stop dialing.
    Stop,
    /// The connection broke: dial again.
    Lost(LinkError),
}

/// Everything one peer's sender task owns.
pub(super) struct Dialer<M> {
    pub(super) me: NodeId,
    pub(super) peer: NodeId,
    pub(super) addr: SocketAddr,
    pub(super) cluster_id: u64,
    pub(super) connect_timeout: Duration,
    pub(super) backoff: Backoff,
    /// Read by [`Transport::reachable`](super::Transport::reachable).
    pub(super) connected: Arc<AtomicBool>,
    pub(super) blocked: BlockList,
    pub(super) counters: Arc<Counters>,
    pub(super) queue: mpsc::Receiver<M>,
    pub(super) stop: watch::Receiver<bool>,
}

impl<M: Serialize + Send + 'static> Dialer<M> {
    /// Dials, sends and redials until shutdown.
    #[tracing::instrument(name = "dialer", skip_all, fields(me = self.me, peer = self.peer, addr = %self.addr))]
    pub(super) async fn run(mut self) {
        // Reused across batches so the steady state allocates nothing.
        let mut batch: Vec<M> = Vec::with_capacity(BATCH_MAX);
        let mut wire: Vec<u8> = Vec::new();
        // A second handle on the signal, so waiting on it does not borrow
        // `self` while `connect` does.
        let mut stop = self.stop.clone();
        loop {
            let stream = tokio::select! {
                _ = stopped(&mut stop) => return,
                dialed = self.connect() => dialed,
            };
            match stream {
                Ok(stream) => {
                    self.counters.connects.inc();
                    self.connected.store(true, Ordering::Release);
                    info!("connected");
                    let since = Instant::now();
                    let end = self.session(stream, &mut batch, &mut wire).await;
                    self.connected.store(false, Ordering::Release);
                    match end {
                        SessionEnd::Stop => return,
                        SessionEnd::Lost(e) => info!(error = %e, "connection lost"),
                    }
                    // A connection that stayed up a while means the peer was
                    // healthy: start the next round of retries from the
                    // bottom. One that dies at once (say, the peer rejects our
                    // handshake) keeps growing the delay instead of looping.
                    if since.elapsed() >= self.backoff.max {
                        self.backoff.reset();
                    }
                }
                Err(e) => {
                    self.counters.connect_failures.inc();
                    // Debug, not warn: a peer that is down fails every
                    // attempt, and the status page shows reachability.
                    debug!(error = %e, "dial failed");
                }
            }
            let delay = self.backoff.next_delay();
            tokio::select! {
                _ = stopped(&mut stop) => return,
                _ = tokio::time::sleep(delay) => {}
            }
        }
    }

    /// Opens a connection and sends the handshake.
    async fn connect(&self) -> Result<TcpStream, LinkError> {
        let stream = timeout(self.connect_timeout, TcpStream::connect(self.addr))
            .await
            .map_err(|_| LinkError::ConnectTimeout(self.connect_timeout))?
            .map_err(LinkError::Connect)?;
        // Consensus messages are small and latency-bound; batching is done
        // here, explicitly, so Nagle's delay only hurts.
        stream.set_nodelay(true).map_err(LinkError::Connect)?;
        let mut hello = Vec::new();
        frame::encode(
            &Hello {
                cluster_id: self.cluster_id,
                from: self.me,
            },
            &mut hello,
        )
        .map_err(LinkError::Hello)?;
        let mut stream = stream;
        write_all_timed(&mut stream, &hello).await?;
        Ok(stream)
    }

    /// Pumps the queue into one connection until it breaks or shutdown.
    async fn session(
        &mut self,
        stream: TcpStream,
        batch: &mut Vec<M>,
        wire: &mut Vec<u8>,
    ) -> SessionEnd {
        let (mut rd, mut wr) = stream.into_split();
        // The acceptor never writes, so any readable event on our side is
        // either its close (end of stream) or a protocol violation. Watching
        // for it notices a restarted peer at once instead of at the next
        // failed write, which keeps `reachable` honest.
        let mut probe = [0u8; 1];
        loop {
            let first = tokio::select! {
                _ = stopped(&mut self.stop) => return SessionEnd::Stop,
                next = self.queue.recv() => match next {
                    Some(msg) => msg,
                    // Every sender is gone: the transport was dropped.
                    None => return SessionEnd::Stop,
                },
                read = rd.read(&mut probe) => {
                    return SessionEnd::Lost(match read {
                        Ok(0) => LinkError::PeerClosed,
                        Ok(_) => LinkError::UnexpectedBytes,
                        Err(e) => LinkError::Read(e),
                    });
                }
            };
            // Take whatever else is already queued: one write per batch
            // instead of one per message is most of the throughput.
            batch.clear();
            batch.push(first);
            while batch.len() < BATCH_MAX {
                match self.queue.try_recv() {
                    Ok(msg) => batch.push(msg),
                    Err(_) => break,
                }
            }
            // Checked again here, not only in `send`, so that a block also
            // catches what was queued before it.
            if self.blocked.is_blocked(self.peer) {
                self.counters.dropped_blocked.add(batch.len() as u64);
                continue;
            }
            let frames = self.encode_batch(batch, wire);
            if frames == 0 {
                continue;
            }
            let written = tokio::select! {
                _ = stopped(&mut self.stop) => return SessionEnd::Stop,
                written = write_all_timed(&mut wr, wire) => written,
            };
            if let Err(e) = written {
                // The bytes may be partly on the wire; the peer's reader
                // discards a torn frame with the connection, so the whole
                // batch counts as lost. Paxos retransmits what matters.
                self.counters.dropped_link_failed.add(frames);
                return SessionEnd::Lost(e);
            }
            self.counters.sent.add(frames);
            // One huge message should not pin its buffer for ever.
            if wire.capacity() > WRITE_BUF_KEEP_BYTES {
                wire.clear();
                wire.shrink_to(WRITE_BUF_KEEP_BYTES);
            }
        }
    }

    /// Encodes `batch` (emptying it) into `wire`; returns how many frames
    /// made it in.
    fn encode_batch(&self, batch: &mut Vec<M>, wire: &mut Vec<u8>) -> u64 {
        wire.clear();
        let mut frames = 0;
        for msg in batch.drain(..) {
            match frame::encode(&msg, wire) {
                Ok(()) => frames += 1,
                Err(e) => {
                    self.counters.dropped_unsendable.inc();
                    warn!(error = %e, "dropping a message that cannot be framed");
                }
            }
        }
        frames
    }
}

/// Writes and flushes `bytes` within [`IO_TIMEOUT`].
async fn write_all_timed<W: AsyncWriteExt + Unpin>(
    writer: &mut W,
    bytes: &[u8],
) -> Result<(), LinkError> {
    let write = async {
        writer.write_all(bytes).await?;
        writer.flush().await
    };
    timeout(IO_TIMEOUT, write)
        .await
        .map_err(|_| LinkError::WriteTimeout(IO_TIMEOUT))?
        .map_err(LinkError::Write)
}

/// Exponential redial delay with jitter.
#[derive(Debug)]
pub(super) struct Backoff {
    min: Duration,
    max: Duration,
    current: Duration,
    attempt: u64,
    /// Randomly keyed per process; hashing the attempt number gives jitter
    /// without a `rand` dependency.
    hasher: RandomState,
}

impl Backoff {
    /// Delays grow from `min` to `max`. A zero `min` is raised to 1 ms so
    /// that a dead peer cannot make the task spin, and a `max` below `min`
    /// is raised to `min`.
    pub(super) fn new(min: Duration, max: Duration) -> Self {
        let min = min.max(Duration::from_millis(1));
        let max = max.max(min);
        Self {
            min,
            max,
            current: min,
            attempt: 0,
            hasher: RandomState::new(),
        }
    }

    /// The delay before the next attempt: between half the current step
    /// and the full step (never below `min`), then the step doubles up to
    /// `max`. The random half keeps nodes that lost the same peer from
    /// redialing it in lockstep.
    pub(super) fn next_delay(&mut self) -> Duration {
        let step = self.current;
        self.current = step.saturating_mul(2).min(self.max);
        let half = step / 2;
        let spread_ns = u64::try_from(half.as_nanos()).unwrap_or(u64::MAX);
        let jitter_ns = match spread_ns {
            0 => 0,
            n => self.hasher.hash_one(self.attempt) % n.saturating_add(1),
        };
        self.attempt = self.attempt.wrapping_add(1);
        (half + Duration::from_nanos(jitter_ns)).max(self.min)
    }

    /// Starts again from `min`.
    pub(super) fn reset(&mut self) {
        self.current = self.min;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_stays_in_bounds_grows_and_resets() {
        let ms = Duration::from_millis;
        let cases = [
            // (min, max, effective min, effective max)
            (ms(10), ms(1_000), ms(10), ms(1_000)),
            (ms(0), ms(0), ms(1), ms(1)),
            (ms(50), ms(20), ms(50), ms(50)),
            (ms(1), Duration::MAX, ms(1), Duration::MAX),
        ];
        for (min, max, lo, hi) in cases {
            let mut b = Backoff::new(min, max);
            let mut steps = Vec::new();
            for _ in 0..80 {
                let d = b.next_delay();
                assert!(d >= lo && d <= hi, "{min:?}..{max:?}: {d:?}");
                steps.push(b.current);
            }
            assert!(steps.windows(2).all(|w| w[0] <= w[1]), "step never shrinks");
            // 80 doublings exceed even `Duration::MAX` / 1 ms.
            assert_eq!(b.current, hi);
            b.reset();
            assert_eq!(b.current, lo);
        }
    }

    #[test]
    fn backoff_delays_are_spread() {
        let mut b = Backoff::new(Duration::from_millis(1), Duration::from_secs(1));
        // Past the ramp the step is stuck at `max`; only jitter varies it.
        let delays: std::collections::BTreeSet<_> =
            (0..64).map(|_| b.next_delay()).skip(32).collect();
        assert!(delays.len() > 1, "jitter should vary the delay: {delays:?}");
    }
}
