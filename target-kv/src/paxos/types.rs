//! The vocabulary of the consensus core: ballots, slots, messages, the
//! records it persists, and its inputs and outputs.

use crate::kv::{Command, KvResult};
use serde::{Deserialize, Serialize};

/// A replica's id (1-based in configurations).
pub type NodeId = u64;
/// A position in the replicated log.
pub type Slot = u64;

/// The highest node id a cluster may use: [`NodeSet`] holds ids as bits.
pub const NODE_ID_MAX: NodeId = 63;

/// A set of node ids (at most [`NODE_ID_MAX`]) as the bits of one word.
///
/// Proposers count acks per slot, promises per election and replies per
/// read and heartbeat: a set is made and dropped for each, and as a word
/// that costs nothing, where a tree set allocates a node.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NodeSet(u64);

impl NodeSet {
    /// The set of one node.
    pub fn of(id: NodeId) -> NodeSet {
        let mut s = NodeSet::default();
        s.insert(id);
        s
    }

    /// Adds `id`; true if it was not there.
    pub fn insert(&mut self, id: NodeId) -> bool {
        assert!(id <= NODE_ID_MAX, "node id {id} above {NODE_ID_MAX}");
        let bit = 1u64 << id;
        let new = self.0 & bit == 0;
        self.0 |= bit;
        new
    }

    /// How many ids the set holds.
    pub fn len(&self) -> usize {
        self.0.count_ones() as usize
    }

    /// True when the set is empty.
    pub fn is_empty(&self) -> bool {
        self.0 == 0
    }
}

impl FromIterator<NodeId> for NodeSet {
    fn from_iter<I: IntoIterator<Item = NodeId>>(ids: I) -> NodeSet {
        let mut s = NodeSet::default();
        for id in ids {
            s.insert(id);
        }
        s
    }
}
/// The shell's handle for a client request, echoed in its reply.
pub type RequestId = u64;

/// A ballot: a round number and the node that owns it. Ordered by round,
/// then node, so two proposers never share a ballot.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
pub struct Ballot {
    /// The round.
    pub round: u64,
    /// The proposer.
    pub node: NodeId,
}

impl Ballot {
    /// The least ballot: nothing was ever promised.
    pub const ZERO: Ballot = Ballot { round: 0, node: 0 };
}

/// What a slot holds: a batch of commands (empty: a no-op that fills a gap).
///
/// Shared, not copied: a batch travels in every `Accept` and `Chosen` to
/// every peer, into the acceptor, the log and the WAL record, so a clone is
/// a reference count. (On the wire and on disk it is the plain list.)
#[derive(Clone, Debug, Default, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Batch(pub std::sync::Arc<Vec<Command>>);

impl PartialEq for Batch {
    /// Equal commands; a batch shared from the same proposal (the usual
    /// case: one value travels to every acceptor and learner) is equal
    /// without looking at them.
    fn eq(&self, other: &Batch) -> bool {
        std::sync::Arc::ptr_eq(&self.0, &other.0) || *self.0 == *other.0
    }
}

impl std::hash::Hash for Batch {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.0.hash(state)
    }
}

impl From<Vec<Command>> for Batch {
    fn from(commands: Vec<Command>) -> Batch {
        Batch(std::sync::Arc::new(commands))
    }
}

/// The state machine after applying every slot below `upto`: what a
/// replica keeps instead of those slots, and sends to one that lags
/// behind them.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Snapshot {
    /// Every slot below this is in `store`.
    pub upto: Slot,
    /// The state machine.
    pub store: crate::kv::KvStore,
}

/// Which consensus protocol the cluster runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Mode {
    /// Multi-Paxos: one leader runs phase 1 for all slots, then phase 2 per batch.
    Multi,
    /// Basic Paxos per slot: whoever receives a command runs both phases.
    Basic,
}

/// How reads are served.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum ReadMode {
    /// Through the log, like writes (linearizable).
    Log,
    /// Ask a majority for the highest slot each accepted, wait to apply it,
    /// answer locally (linearizable).
    Quorum,
    /// The leader answers locally while its lease, measured on its own
    /// clock, lasts (linearizable only while clocks drift within bounds).
    Lease,
    /// Any node answers from local state. UNSAFE: not linearizable.
    Local,
}

/// The core's configuration.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Config {
    /// This replica.
    pub id: NodeId,
    /// Every member, this one included.
    pub members: Vec<NodeId>,
    /// Multi or basic Paxos.
    pub mode: Mode,
    /// How reads are served.
    pub reads: ReadMode,
    /// Leader heartbeat period.
    pub heartbeat_ms: u64,
    /// A follower starts an election after hearing nothing for a random
    /// time in this range.
    pub election_timeout_ms: (u64, u64),
    /// Basic Paxos retries a conflicted proposal after a random delay in
    /// this range (and restarts a stalled one).
    pub backoff_ms: (u64, u64),
    /// How long a lease lasts, on the leader's clock.
    pub lease_ms: u64,
    /// Most slots a leader has in flight at once.
    pub inflight_max: usize,
    /// Slots of commands in flight (no-ops aside) below which a leader
    /// opens one for whatever new commands it has; at or above it, only a
    /// full slot (`batch_max` commands) opens, up to `inflight_max`.
    /// Commands that arrive while the slots are out wait and go together,
    /// so that each round trip and each sync carries more of them (fewer
    /// steps and syncs per command under load; see the README's bench
    /// figures), while an idle leader still proposes at once and a busy
    /// one is not held to a few slots.
    pub pipeline_slots: usize,
    /// Group commit: with room in the pipeline, a part batch smaller than
    /// the last batch opened waits up to this long for more commands
    /// (0: never waits). A closed loop of clients answered together comes
    /// back together; waiting for it to fill the slot again costs one
    /// round trip and one sync for all of them instead of several. An
    /// idle leader (one command at a time) never waits, and a timeout
    /// lowers the mark to what came, so a load that shrinks waits once.
    pub batch_wait_ms: u64,
    /// Most commands in one slot.
    pub batch_max: usize,
    /// Most requests waiting to be proposed; more are refused (busy).
    pub queue_max: usize,
    /// Snapshot and compact the log after this many applied slots (0: never).
    pub snapshot_every: u64,
    /// The most a clock may run fast or slow, in percent, that lease reads
    /// stay safe under: the leader trusts its lease for
    /// `lease_ms * (100 - d) / (100 + d)` of its own clock, so that it ends
    /// before any follower's refusal to elect another leader ends on the
    /// follower's clock.
    pub clock_drift_pct: u64,
    /// A caller still waiting for an answer after this long (on this
    /// node's clock) is told the outcome is unknown ([`ErrorCode::Expired`])
    /// and forgotten, so that replies lost on the way cannot grow the
    /// tables of waiting callers without bound.
    pub request_ttl_ms: u64,
}

impl Config {
    /// Defaults for a cluster of `members`, seen from `id`.
    pub fn new(id: NodeId, members: Vec<NodeId>) -> Config {
        Config {
            id,
            members,
            mode: Mode::Multi,
            reads: ReadMode::Log,
            heartbeat_ms: 50,
            election_timeout_ms: (300, 600),
            backoff_ms: (5, 50),
            lease_ms: 1000,
            inflight_max: 256,
            pipeline_slots: 1,
            batch_wait_ms: 1,
            batch_max: 64,
            queue_max: 4096,
            snapshot_every: 10_000,
            clock_drift_pct: 10,
            request_ttl_ms: 10_000,
        }
    }

    /// How many replicas make a majority.
    pub fn quorum(&self) -> usize {
        self.members.len() / 2 + 1
    }

    /// How long, on its own clock, a leader trusts a lease granted by acks
    /// to a heartbeat: `lease_ms` less the margin for clocks that run at
    /// different rates (see [`Config::clock_drift_pct`]).
    pub fn lease_trusted_ms(&self) -> u64 {
        let d = self.clock_drift_pct.min(99);
        self.lease_ms * (100 - d) / (100 + d)
    }
}

/// Messages between replicas.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Msg {
    /// Phase 1a: promise me `ballot` for every slot from `from` on (Multi),
    /// or for slot `from` only (`single`, Basic).
    Prepare {
        /// The proposer's ballot.
        ballot: Ballot,
        /// The first slot it covers.
        from: Slot,
        /// Basic Paxos: only this one slot.
        single: bool,
    },
    /// Phase 1b: promised, with what was accepted in the covered slots.
    Promise {
        /// The ballot promised.
        ballot: Ballot,
        /// The first slot covered (Basic Paxos: the one slot), as in the
        /// `Prepare`: a proposer that reuses a ballot after a restart must
        /// not count a promise made for another slot.
        from: Slot,
        /// (slot, ballot, value) accepted in the covered slots.
        accepted: Vec<(Slot, Ballot, Batch)>,
        /// Every slot below this is chosen and known to the promiser
        /// (its accepted values there may be compacted away).
        chosen_upto: Slot,
    },
    /// Refused: a higher ballot was promised.
    Nack {
        /// The refused ballot.
        ballot: Ballot,
        /// The promise that refused it.
        promised: Ballot,
    },
    /// Phase 2a: accept `batch` in `slot` at `ballot`.
    Accept {
        /// The leader's (or proposer's) ballot.
        ballot: Ballot,
        /// The slot.
        slot: Slot,
        /// The value.
        batch: Batch,
        /// Multi-Paxos: every slot below this is chosen, each with the
        /// value this leader proposed there at `ballot` if it proposed one
        /// (see `Replica::learn_from_leader`). Basic Paxos: 0, no claim.
        chosen_upto: Slot,
    },
    /// Phase 2b: accepted.
    Accepted {
        /// The ballot accepted.
        ballot: Ballot,
        /// The slot.
        slot: Slot,
    },
    /// A value was chosen (learned by a majority of acceptors).
    Chosen {
        /// The slot.
        slot: Slot,
        /// Its value, forever.
        batch: Batch,
    },
    /// The leader is alive; everything below `first_unchosen` is chosen.
    Heartbeat {
        /// The leader's ballot.
        ballot: Ballot,
        /// The leader's first slot not known chosen.
        first_unchosen: Slot,
        /// The leader's clock when sent (echoed for leases).
        sent_ms: u64,
    },
    /// A follower's answer to a heartbeat (with lease reads only: it
    /// grants the leader its lease).
    HeartbeatAck {
        /// The leader's ballot.
        ballot: Ballot,
        /// Echo of the heartbeat's `sent_ms`.
        sent_ms: u64,
    },
    /// Send me the chosen values from `from` on.
    CatchUp {
        /// The first slot wanted.
        from: Slot,
    },
    /// A follower hands a client request to the leader.
    Forward {
        /// The origin's request id.
        request: RequestId,
        /// The request.
        command: Command,
    },
    /// The leader's answer to a forwarded request.
    ForwardReply {
        /// The origin's request id.
        request: RequestId,
        /// The answer.
        reply: Reply,
    },
    /// Here is my state: every slot below `snapshot.upto` applied (the
    /// answer to a catch-up that asks for compacted slots).
    InstallSnapshot {
        /// The snapshot.
        snapshot: Snapshot,
    },
    /// A follower's quorum read waits for every slot below `upto`: as
    /// leader, get them chosen (no-ops where nothing is proposed).
    Fill {
        /// One past the last slot the read waits for.
        upto: Slot,
    },
    /// Quorum read: what is the highest slot you accepted?
    ReadProbe {
        /// The probe's id.
        probe: u64,
    },
    /// The answer to a probe.
    ReadProbeReply {
        /// The probe's id.
        probe: u64,
        /// One past the highest slot accepted (0: none).
        accepted_end: Slot,
        /// Every slot below this is chosen and known to the prober's peer:
        /// a prober behind it catches up from that peer.
        chosen_upto: Slot,
    },
}

/// A change to the acceptor's durable state, written to the WAL.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Record {
    /// Promised `ballot` for every slot from `from` on.
    Promise {
        /// The ballot.
        ballot: Ballot,
        /// The first slot covered.
        from: Slot,
    },
    /// Promised `ballot` for one slot (Basic Paxos).
    PromiseSlot {
        /// The slot.
        slot: Slot,
        /// The ballot.
        ballot: Ballot,
    },
    /// Accepted a value.
    Accepted {
        /// The slot.
        slot: Slot,
        /// The ballot.
        ballot: Ballot,
        /// The value.
        batch: Batch,
    },
    /// Learned that a value was chosen.
    Chosen {
        /// The slot.
        slot: Slot,
        /// The value.
        batch: Batch,
    },
    /// The node started for the `n`-th time (1: first boot). Ids a node
    /// hands out (requests, read probes) carry it, so that a reply meant
    /// for an earlier life of the node, still queued at a peer, never
    /// answers a request of this one.
    Incarnation(u64),
    /// Learned that the value this node accepted in `slot` at `ballot` was
    /// chosen: [`Record::Chosen`] without a second copy of the value, which
    /// is in this slot's latest [`Record::Accepted`] earlier in the log
    /// (the usual case: a node learns what it accepted, and a value is
    /// then written once, not twice). The log always holds that `Accepted`
    /// (it is synced in an earlier or the same step, a crash keeps a prefix,
    /// and a rewrite keeps every accepted value at or past the snapshot).
    /// Should recovery ever find none, it forgets that the slot was
    /// learned: no value is lost (the acceptors keep it), though a leader
    /// that counted on this node's promise to know the slot could wait.
    ChosenAccepted {
        /// The slot.
        slot: Slot,
        /// The ballot of the accepted value.
        ballot: Ballot,
    },
}

/// Why a request was refused, and whether it definitely did not happen.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// No leader is known (definite: nothing was proposed).
    NoLeader,
    /// Too many requests waiting (definite).
    Busy,
    /// The leader lost its leadership while the request was in flight
    /// (indeterminate: it may still be chosen).
    LeaderChanged,
    /// The answer did not come within [`Config::request_ttl_ms`] and the
    /// request was forgotten (indeterminate: it may still be chosen).
    Expired,
}

/// The answer to a client request.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Reply {
    /// Applied (or read), with its result.
    Ok(KvResult),
    /// Not done; `definite` says whether it certainly did not happen.
    Error {
        /// What went wrong.
        code: ErrorCode,
        /// True: it did not and will not take effect.
        definite: bool,
    },
}

impl ErrorCode {
    /// The reply for this code.
    pub fn reply(self) -> Reply {
        Reply::Error {
            code: self,
            definite: !matches!(self, ErrorCode::LeaderChanged | ErrorCode::Expired),
        }
    }
}

/// Timers the core asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Timer {
    /// Start an election if no leader was heard from.
    Election,
    /// Send heartbeats and retransmit (leader).
    Heartbeat,
    /// Retry or restart a Basic Paxos proposal.
    Backoff,
    /// Stop waiting for a part batch to fill (leader, see
    /// `Config::batch_wait_ms`).
    Batch,
}

/// What the core is fed.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Input {
    /// Start up (after boot or recovery): sets the first timers.
    Start,
    /// A timer fired.
    Timeout(Timer),
    /// A message from a peer.
    Message {
        /// The sender.
        from: NodeId,
        /// The message.
        msg: Msg,
    },
    /// Client requests (several at once become one batch where possible).
    Requests(Vec<(RequestId, Command)>),
}

/// What the core asks its driver to do, in order.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Output {
    /// Make this durable before anything after it leaves the node.
    Persist(Record),
    /// Send a message.
    Send {
        /// The recipient.
        to: NodeId,
        /// The message.
        msg: Msg,
    },
    /// Answer a client request.
    Reply {
        /// The request.
        request: RequestId,
        /// The answer.
        reply: Reply,
    },
    /// Make this snapshot durable; then the log below `upto` may go: the
    /// driver rewrites the WAL with [`crate::paxos::Replica::durable_records`].
    Snapshot(Snapshot),
    /// Fire `timer` after a random delay in `[min, max]` milliseconds
    /// (replacing any pending one of the same kind).
    SetTimer {
        /// Which timer.
        timer: Timer,
        /// Shortest delay.
        min_ms: u64,
        /// Longest delay.
        max_ms: u64,
    },
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kv::{Command, KvOp, KvResult};

    /// Every message and record must survive the peer and WAL codec
    /// (postcard cannot read some serde shapes, e.g. internally tagged enums).
    #[test]
    fn messages_and_records_round_trip_through_postcard() {
        let b = Ballot { round: 3, node: 2 };
        let batch = Batch::from(vec![
            Command {
                client: 1,
                seq: 2,
                op: KvOp::Cas {
                    key: "k".into(),
                    from: None,
                    to: "v".into(),
                },
            },
            Command {
                client: 1,
                seq: 3,
                op: KvOp::Get { key: "k".into() },
            },
        ]);
        let msgs = vec![
            Msg::Prepare {
                ballot: b,
                from: 4,
                single: true,
            },
            Msg::Promise {
                ballot: b,
                from: 4,
                accepted: vec![(4, b, batch.clone())],
                chosen_upto: 3,
            },
            Msg::InstallSnapshot {
                snapshot: Snapshot {
                    upto: 4,
                    store: crate::kv::KvStore::default(),
                },
            },
            Msg::Nack {
                ballot: b,
                promised: b,
            },
            Msg::Accept {
                ballot: b,
                slot: 4,
                batch: batch.clone(),
                chosen_upto: 3,
            },
            Msg::Accepted { ballot: b, slot: 4 },
            Msg::Chosen {
                slot: 4,
                batch: batch.clone(),
            },
            Msg::Heartbeat {
                ballot: b,
                first_unchosen: 5,
                sent_ms: 6,
            },
            Msg::HeartbeatAck {
                ballot: b,
                sent_ms: 6,
            },
            Msg::CatchUp { from: 1 },
            Msg::Forward {
                request: 9,
                command: batch.0[0].clone(),
            },
            Msg::ForwardReply {
                request: 9,
                reply: Reply::Ok(KvResult::CasMismatch {
                    current: Some("x".into()),
                }),
            },
            Msg::ForwardReply {
                request: 9,
                reply: ErrorCode::LeaderChanged.reply(),
            },
            Msg::ReadProbe { probe: 1 },
            Msg::Fill { upto: 9 },
            Msg::ReadProbeReply {
                probe: 1,
                accepted_end: 7,
                chosen_upto: 5,
            },
        ];
        for m in msgs {
            let bytes = postcard::to_stdvec(&m).expect("encodes");
            assert_eq!(postcard::from_bytes::<Msg>(&bytes).expect("decodes"), m);
        }
        let records = vec![
            Record::Promise { ballot: b, from: 0 },
            Record::PromiseSlot { slot: 1, ballot: b },
            Record::Accepted {
                slot: 1,
                ballot: b,
                batch: batch.clone(),
            },
            Record::Chosen { slot: 1, batch },
            Record::Incarnation(3),
            Record::ChosenAccepted { slot: 1, ballot: b },
        ];
        for r in records {
            let bytes = postcard::to_stdvec(&r).expect("encodes");
            assert_eq!(postcard::from_bytes::<Record>(&bytes).expect("decodes"), r);
        }
    }
}
