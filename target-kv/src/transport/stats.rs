//! Transport counters: lock-free to bump, copied out as a snapshot.

use std::sync::atomic::{AtomicU64, Ordering};

use serde::Serialize;

/// A snapshot of the transport's counters, for tests and the status page.
///
/// Every message handed to [`Transport::send`](super::Transport::send) ends
/// up in exactly one of `sent` or a `dropped_*` counter on the sending node
/// (or is still queued); every frame read from a handshaken peer ends up in
/// `received` or a `dropped_*` counter on the receiving node.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct TransportStats {
    /// Message frames written to a peer's socket (handshakes not included).
    pub sent: u64,
    /// Message frames read from a peer and pushed into the inbox.
    pub received: u64,
    /// Messages dropped because the peer is blocked: at `send`, when the
    /// sender task found the peer blocked while draining its queue, or on
    /// receipt from a blocked peer.
    pub dropped_blocked: u64,
    /// Messages passed to `send` for a node that is not a configured peer.
    pub dropped_unknown_peer: u64,
    /// Messages dropped at `send` because the peer's queue was full.
    pub dropped_queue_full: u64,
    /// Frames read from a peer but dropped because the inbox was full.
    pub dropped_inbox_full: u64,
    /// Messages that could not be encoded, or whose frame would exceed
    /// [`MAX_FRAME_BYTES`](super::MAX_FRAME_BYTES).
    pub dropped_unsendable: u64,
    /// Messages lost with a connection: in a batch whose write failed or
    /// timed out, or sent after the peer's sender task had stopped.
    pub dropped_link_failed: u64,
    /// Incoming connections closed before a valid handshake: wrong cluster
    /// id, unknown sender, malformed or missing hello.
    pub rejected_handshakes: u64,
    /// Framing or decoding errors on handshaken incoming connections. An
    /// oversized length, a truncated frame or a stalled payload closes the
    /// connection; an undecodable payload drops just that frame.
    pub protocol_errors: u64,
    /// Outgoing connections established (TCP connected and hello written).
    pub connects: u64,
    /// Outgoing connection attempts that failed or timed out.
    pub connect_failures: u64,
}

impl TransportStats {
    /// All messages dropped, whatever the reason.
    pub fn dropped(&self) -> u64 {
        self.dropped_blocked
            + self.dropped_unknown_peer
            + self.dropped_queue_full
            + self.dropped_inbox_full
            + self.dropped_unsendable
            + self.dropped_link_failed
    }
}

/// One monotonically increasing counter.
///
/// Relaxed ordering is enough: the counters are statistics, read on their
/// own, never used to order other memory accesses.
#[derive(Debug, Default)]
pub(super) struct Counter(AtomicU64);

impl Counter {
    pub(super) fn inc(&self) {
        self.add(1);
    }

    pub(super) fn add(&self, n: u64) {
        self.0.fetch_add(n, Ordering::Relaxed);
    }

    fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// The live counters behind [`TransportStats`], shared by every task.
#[derive(Debug, Default)]
pub(super) struct Counters {
    pub(super) sent: Counter,
    pub(super) received: Counter,
    pub(super) dropped_blocked: Counter,
    pub(super) dropped_unknown_peer: Counter,
    pub(super) dropped_queue_full: Counter,
    pub(super) dropped_inbox_full: Counter,
    pub(super) dropped_unsendable: Counter,
    pub(super) dropped_link_failed: Counter,
    pub(super) rejected_handshakes: Counter,
    pub(super) protocol_errors: Counter,
    pub(super) connects: Counter,
    pub(super) connect_failures: Counter,
}

impl Counters {
    pub(super) fn snapshot(&self) -> TransportStats {
        TransportStats {
            sent: self.sent.get(),
            received: self.received.get(),
            dropped_blocked: self.dropped_blocked.get(),
            dropped_unknown_peer: self.dropped_unknown_peer.get(),
            dropped_queue_full: self.dropped_queue_full.get(),
            dropped_inbox_full: self.dropped_inbox_full.get(),
            dropped_unsendable: self.dropped_unsendable.get(),
            dropped_link_failed: self.dropped_link_failed.get(),
            rejected_handshakes: self.rejected_handshakes.get(),
            protocol_errors: self.protocol_errors.get(),
            connects: self.connects.get(),
            connect_failures: self.connect_failures.get(),
        }
    }
}
