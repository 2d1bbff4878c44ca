//! A replica: proposer, leader and learner around an [`Acceptor`], and the
//! state machine it applies chosen slots to.
//!
//! Multi-Paxos: a follower that hears nothing from a leader for a random
//! election timeout runs phase 1 once for every slot past its chosen
//! prefix; with a majority of promises it re-proposes whatever it learned
//! (filling gaps with no-ops) and then runs phase 2 per batch of client
//! commands, several slots in flight. Followers forward requests to it.
//! Slots a promiser already knew chosen are not re-proposed: the leader
//! learns them by catching up from that promiser, batch after batch, and
//! asks again every heartbeat period until it has them all (as followers
//! do from the leader), since it cannot apply anything past a missing slot.
//!
//! Basic Paxos: the replica that receives a command runs both phases for
//! the next free slot itself; on a conflict it retries with a higher
//! ballot after a random backoff.

mod basic;
mod catch_up;
mod clients;
mod election;
mod proposing;
mod reads;

use super::acceptor::Acceptor;
use super::planted::PlantedBug;
use super::types::{
    Ballot, Batch, Config, Input, Mode, Msg, NodeId, NodeSet, Output, ReadMode, Record, RequestId,
    Slot, Snapshot, Timer, NODE_ID_MAX,
};
use crate::kv::{Command, KvStore};
use std::collections::{BTreeMap, VecDeque};

/// Most chosen slots sent in answer to one catch-up request.
const CATCH_UP_MAX: u64 = 256;

/// Ids this replica hands out (read probes; the node shell's request ids
/// follow the same scheme) are `incarnation << ID_COUNTER_BITS | counter`.
pub const ID_COUNTER_BITS: u32 = 40;

/// A promise a candidate collected: what the promiser accepted from the
/// election's first slot on, and the slot below which it knows all chosen.
type Promised = (Vec<(Slot, Ballot, Batch)>, Slot);

/// What a replica is doing as a proposer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Role {
    /// Follows a leader (or nobody yet).
    Follower,
    /// Ran phase 1; collecting promises.
    Candidate,
    /// Won phase 1; proposing.
    Leader,
}

/// Who waits for a command's result.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Waiter {
    /// A client of this replica.
    Local(RequestId),
    /// A client of another replica, forwarded here.
    Remote(NodeId, RequestId),
}

/// A slot this replica proposed and awaits a majority for.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct InFlight {
    batch: Batch,
    acks: NodeSet,
}

/// The leader's group commit (see `Config::batch_wait_ms`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
struct GroupCommit {
    /// Commands in the last slot opened: a part batch waits to be as large.
    mark: usize,
    /// The wait is over: a part batch of any size may open.
    due: bool,
    /// `Timer::Batch` is set and has not fired.
    timer_set: bool,
}

/// A Basic Paxos proposal for one slot.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct Proposal {
    slot: Slot,
    ballot: Ballot,
    /// Our own commands, proposed if no other value must be.
    ours: Vec<Command>,
    /// Phase 1: promises so far, with the highest accepted value seen.
    promises: NodeSet,
    highest: Option<(Ballot, Batch)>,
    /// Phase 2: the value proposed and its acks.
    value: Option<Batch>,
    acks: NodeSet,
    /// Whether an `Accept` carrying `ours` ever left, at any ballot of this
    /// proposal: from then on `ours` may be chosen in this slot.
    ours_sent: bool,
}

/// A quorum read waiting for probes, then for the log to catch up.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct QuorumRead {
    request: RequestId,
    command: Command,
    replies: NodeSet,
    /// Apply every slot below this before answering.
    wait_for: Slot,
    /// When the read began (it expires after the request ttl).
    started_ms: u64,
    /// Whether the leader was asked to get every slot below `wait_for`
    /// chosen (a follower's read may wait for a slot nobody proposes).
    fill_asked: bool,
}

/// One replica of the store.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Replica {
    cfg: Config,
    acceptor: Acceptor,
    /// Chosen values, kept (to help lagging replicas catch up) until a
    /// snapshot covers them.
    chosen: BTreeMap<Slot, Batch>,
    first_unchosen: Slot,
    applied: Slot,
    kv: KvStore,
    /// Slots below this were compacted into a snapshot.
    log_start: Slot,

    role: Role,
    ballot: Ballot,
    leader: Option<NodeId>,
    now_ms: u64,
    last_leader_contact_ms: Option<u64>,
    /// With lease reads: each leader this node acknowledged, with when it
    /// last heard from it. This node granted each of them a lease and must
    /// not help elect anyone else (itself included) until it ends. One entry
    /// per leader, not one for the latest: two leaders can both be heard
    /// from (a bridge partition), and the newer must not erase the lease
    /// granted to the older. Kept apart from `leader`, which an election of
    /// our own clears. At most one entry per member.
    granted: BTreeMap<NodeId, u64>,
    /// With lease reads, a node that had state before this start may have
    /// granted a lease it no longer remembers: it refuses every promise
    /// until `lease_ms` after it started (set by [`Input::Start`]).
    refuse_until_ms: Option<u64>,
    /// This life of the node (see [`Record::Incarnation`]).
    incarnation: u64,
    /// Whether the node had durable state when it started.
    restarted: bool,
    /// A planted bug (tests and the simulator only).
    bug: Option<PlantedBug>,

    // Catching up (any role).
    /// A peer known to have every slot below the given one chosen (the
    /// highest such report), to catch up from while behind it.
    ahead: Option<(NodeId, Slot)>,
    /// The slots below this were asked for: while `first_unchosen` is
    /// below it, a request is outstanding and no new one is sent on its
    /// account (periodic retries still go out, the request may be lost).
    catch_up_until: Slot,
    /// Round-robin position for a leader's periodic catch-up requests, so
    /// that a dead peer cannot stall it.
    catch_up_turn: usize,

    // Candidate.
    promises: BTreeMap<NodeId, Promised>,
    election_from: Slot,
    // Leader.
    next_slot: Slot,
    inflight: BTreeMap<Slot, InFlight>,
    batch: GroupCommit,
    /// The leader may serve lease reads once every slot of earlier leaders
    /// is chosen and applied: this is the slot it must reach.
    ready_at: Slot,
    lease_until_ms: u64,
    heartbeat_acks: BTreeMap<u64, NodeSet>,
    // Basic.
    proposal: Option<Proposal>,

    queue: VecDeque<(Waiter, Command)>,
    /// Who waits for each command, by (client, seq). Bounded: see
    /// [`Replica::expire`].
    waiters: BTreeMap<(u64, u64), (u64, Vec<Waiter>)>,
    /// When each `waiters` entry was made, oldest first (an entry whose
    /// command was answered is skipped when it comes up).
    waiter_ages: VecDeque<(u64, (u64, u64))>,
    /// Requests forwarded to the leader, with when they were sent.
    forwarded: BTreeMap<RequestId, u64>,
    reads: BTreeMap<u64, QuorumRead>,
    next_probe: u64,
}

impl Replica {
    /// A replica starting from its persisted records (none for a new one).
    pub fn new(cfg: Config, records: &[Record]) -> Replica {
        Replica::recover(cfg, None, records)
    }

    /// A replica starting from its last snapshot and the records written
    /// after it.
    pub fn recover(cfg: Config, snapshot: Option<Snapshot>, records: &[Record]) -> Replica {
        Replica::recover_with_bug(cfg, None, snapshot, records)
    }

    /// Like [`Replica::recover`], with a planted bug: for the model check,
    /// the simulator and tests, never for a node.
    pub fn recover_with_bug(
        cfg: Config,
        bug: Option<PlantedBug>,
        snapshot: Option<Snapshot>,
        records: &[Record],
    ) -> Replica {
        assert!(
            cfg.members.contains(&cfg.id),
            "a replica is a member of its cluster"
        );
        assert!(
            cfg.members.iter().all(|m| *m <= NODE_ID_MAX),
            "member ids fit a NodeSet (the node's flags are checked)"
        );
        let acceptor = Acceptor::recover(bug == Some(PlantedBug::IgnorePromise), records);
        let mut chosen = BTreeMap::new();
        let mut incarnation = 0;
        // Each slot's latest accepted value so far in the log, which a
        // `ChosenAccepted` names.
        let mut accepted: BTreeMap<Slot, (Ballot, &Batch)> = BTreeMap::new();
        for r in records {
            match r {
                Record::Accepted {
                    slot,
                    ballot,
                    batch,
                } => {
                    accepted.insert(*slot, (*ballot, batch));
                }
                Record::Chosen { slot, batch } => {
                    chosen.insert(*slot, batch.clone());
                }
                Record::ChosenAccepted { slot, ballot } => match accepted.get(slot) {
                    Some((b, batch)) if b == ballot => {
                        chosen.insert(*slot, (*batch).clone());
                    }
                    // Never written so (see `Record::ChosenAccepted`); not
                    // believed, and the slot is learned again.
                    _ => tracing::warn!(slot, "a learned slot names no accepted value: forgotten"),
                },
                Record::Incarnation(n) => incarnation = incarnation.max(*n),
                _ => {}
            }
        }
        let restarted = !records.is_empty() || snapshot.is_some();
        // Above every round this node promised, so a proposer never reuses
        // a ballot of an earlier life.
        let ballot = Ballot {
            round: acceptor.highest_round(),
            node: cfg.id,
        };
        let snapshot = snapshot.unwrap_or_default();
        chosen.retain(|slot, _| *slot >= snapshot.upto);
        let mut replica = Replica {
            cfg,
            acceptor,
            chosen,
            first_unchosen: snapshot.upto,
            applied: snapshot.upto,
            kv: snapshot.store,
            log_start: snapshot.upto,
            role: Role::Follower,
            ballot,
            leader: None,
            now_ms: 0,
            last_leader_contact_ms: None,
            granted: BTreeMap::new(),
            refuse_until_ms: None,
            incarnation: incarnation + 1,
            restarted,
            bug,
            ahead: None,
            catch_up_until: 0,
            catch_up_turn: 0,
            promises: BTreeMap::new(),
            election_from: 0,
            next_slot: 0,
            inflight: BTreeMap::new(),
            batch: GroupCommit::default(),
            ready_at: u64::MAX,
            lease_until_ms: 0,
            heartbeat_acks: BTreeMap::new(),
            proposal: None,
            queue: VecDeque::new(),
            waiters: BTreeMap::new(),
            waiter_ages: VecDeque::new(),
            forwarded: BTreeMap::new(),
            reads: BTreeMap::new(),
            next_probe: (incarnation + 1) << ID_COUNTER_BITS,
        };
        let mut ignored = Vec::new();
        replica.advance(&mut ignored);
        replica
    }

    /// This replica's id.
    pub fn id(&self) -> NodeId {
        self.cfg.id
    }
    /// Follower, candidate or leader.
    pub fn role(&self) -> &Role {
        &self.role
    }
    /// The leader this replica believes in.
    pub fn leader(&self) -> Option<NodeId> {
        if self.role == Role::Leader {
            Some(self.cfg.id)
        } else {
            self.leader
        }
    }
    /// This replica's proposer ballot.
    pub fn ballot(&self) -> Ballot {
        self.ballot
    }
    /// The acceptor's global promise.
    pub fn promised(&self) -> Ballot {
        self.acceptor.promised()
    }
    /// Every slot below this is chosen and known here.
    pub fn first_unchosen(&self) -> Slot {
        self.first_unchosen
    }
    /// Every slot below this is applied.
    pub fn applied(&self) -> Slot {
        self.applied
    }
    /// The state machine.
    pub fn store(&self) -> &KvStore {
        &self.kv
    }
    /// The chosen values this replica knows, by slot.
    pub fn chosen(&self) -> &BTreeMap<Slot, Batch> {
        &self.chosen
    }
    /// Slots below this live only in the snapshot.
    pub fn log_start(&self) -> Slot {
        self.log_start
    }
    /// The durable state after the last snapshot, as records: what the WAL
    /// is rewritten to once that snapshot is durable.
    pub fn durable_records(&self) -> Vec<Record> {
        let mut out = vec![Record::Incarnation(self.incarnation)];
        out.extend(self.acceptor.records());
        out.extend(
            self.chosen
                .range(self.log_start..)
                .map(|(slot, batch)| Record::Chosen {
                    slot: *slot,
                    batch: batch.clone(),
                }),
        );
        out
    }
    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.cfg
    }
    /// This life of the node: 1 on first boot, one more on each restart.
    pub fn incarnation(&self) -> u64 {
        self.incarnation
    }
    /// The planted bug, if any.
    pub fn planted_bug(&self) -> Option<PlantedBug> {
        self.bug
    }
    /// The acceptor.
    pub fn acceptor(&self) -> &Acceptor {
        &self.acceptor
    }
    /// Callers waiting for an answer here (local and forwarded requests,
    /// and quorum reads): bounded by the queue limit and the request ttl.
    pub fn waiting(&self) -> usize {
        self.waiters.len() + self.forwarded.len() + self.reads.len()
    }

    /// Checks what must hold of one replica between any two steps, and says
    /// which rule broke. Run after every step in debug builds and by the
    /// simulator; cross-replica rules (one value per slot) are the
    /// simulator's.
    pub fn check_invariants(&self) -> Result<(), String> {
        let fail = |what: String| Err(format!("node {}: {what}", self.cfg.id));
        if self.applied > self.first_unchosen {
            return fail(format!(
                "applied {} passed chosen {}",
                self.applied, self.first_unchosen
            ));
        }
        if self.log_start > self.applied {
            return fail(format!(
                "log starts at {} past applied {}",
                self.log_start, self.applied
            ));
        }
        // The slots past the gap (usually none: then the last key, at the
        // tree's right edge, is below it, and nothing is searched; this
        // runs after every step).
        let past_gap = if self
            .chosen
            .last_key_value()
            .is_some_and(|(last, _)| *last >= self.first_unchosen)
        {
            let mut past = self.chosen.range(self.first_unchosen..).map(|(s, _)| *s);
            if past.next() == Some(self.first_unchosen) {
                return fail(format!(
                    "slot {} chosen but not applied",
                    self.first_unchosen
                ));
            }
            1 + past.count()
        } else {
            0
        };
        if self
            .chosen
            .keys()
            .next()
            .is_some_and(|s| *s < self.log_start)
        {
            return fail("a chosen slot below the snapshot was kept".into());
        }
        // Every slot from the snapshot to `first_unchosen` is in the log:
        // the keys are distinct and none is below `log_start`, so it is
        // enough to count them (the slots past a gap are few).
        if (self.chosen.len() - past_gap) as u64 != self.first_unchosen - self.log_start {
            return fail(format!(
                "slots {}..{} applied but not all in the log",
                self.log_start, self.first_unchosen
            ));
        }
        if self.role == Role::Leader && self.cfg.mode == Mode::Multi {
            if self.ballot != self.acceptor.promised() {
                return fail(format!(
                    "leader at {:?} but promised {:?}",
                    self.ballot,
                    self.acceptor.promised()
                ));
            }
            if self.inflight.len() > self.cfg.inflight_max + 1 {
                return fail(format!("{} slots in flight", self.inflight.len()));
            }
            if let Some(slot) = self
                .inflight
                .keys()
                .next()
                .filter(|s| **s < self.first_unchosen)
            {
                return fail(format!(
                    "slot {slot} still in flight below the first unchosen {}",
                    self.first_unchosen
                ));
            }
            // A part batch may wait for company, never for nothing: with
            // room to open it, a timer ends its wait.
            if self.holds_part_batch() && !self.batch.timer_set {
                return fail(format!("{} commands held with no timer", self.queue.len()));
            }
        }
        // (Basic Paxos puts a lost proposal's commands back in front.)
        if self.queue.len() > self.cfg.queue_max + self.cfg.batch_max {
            return fail(format!("queue of {}", self.queue.len()));
        }
        if self.forwarded.len() > self.cfg.queue_max || self.reads.len() > self.cfg.queue_max {
            return fail("unbounded forwarded or read tables".into());
        }
        if self.waiters.len()
            > self.cfg.queue_max + (self.cfg.inflight_max + 1) * self.cfg.batch_max
        {
            return fail(format!("{} commands waited for", self.waiters.len()));
        }
        if self.waiter_ages.len() > 2 * self.waiters.len() + 65 {
            return fail(format!("{} waiter ages", self.waiter_ages.len()));
        }
        if self.granted.len() > self.cfg.members.len() {
            return fail("more lease grants than members".into());
        }
        Ok(())
    }

    /// Handles one input at time `now_ms` (the node's own clock, which
    /// leases read), appending what to do to `out`.
    pub fn step(&mut self, now_ms: u64, input: Input, out: &mut Vec<Output>) {
        if now_ms < self.now_ms {
            self.clock_went_back(now_ms);
        }
        self.now_ms = now_ms;
        match input {
            Input::Start => self.start(out),
            Input::Timeout(timer) => self.on_timeout(timer, out),
            Input::Message { from, msg } => self.on_message(from, msg, out),
            Input::Requests(requests) => {
                for (request, command) in requests {
                    self.on_request(request, command, out);
                }
                self.propose(out);
            }
        }
        self.expire(out);
        #[cfg(debug_assertions)]
        if let Err(e) = self.check_invariants() {
            panic!("{e}");
        }
    }

    /// The node's clock jumped back to `now_ms`. Readings taken before
    /// the jump are in this clock's future: left alone, a follower would
    /// count its last word from the leader as still to come (sitting out
    /// elections and refusing every other candidate until its clock caught
    /// up, as long as the jump), and a leader's lease would outlast the
    /// fault by as much. They are pulled back to the present: leases stay
    /// measured on this node's own clock (and are unsafe while it is
    /// wrong, as designed), but nothing outlasts the jump by more than one
    /// lease or election timeout.
    fn clock_went_back(&mut self, now_ms: u64) {
        if let Some(t) = self.last_leader_contact_ms.as_mut() {
            *t = (*t).min(now_ms);
        }
        for t in self.granted.values_mut() {
            *t = (*t).min(now_ms);
        }
        if let Some(t) = self.refuse_until_ms.as_mut() {
            *t = (*t).min(now_ms.saturating_add(self.cfg.lease_ms));
        }
        for (since, _) in self.waiter_ages.iter_mut() {
            *since = (*since).min(now_ms);
        }
        for since in self.forwarded.values_mut() {
            *since = (*since).min(now_ms);
        }
        for read in self.reads.values_mut() {
            read.started_ms = read.started_ms.min(now_ms);
        }
        // The lease moves back with the clock: it ends no later in real
        // time than it would have (clamping it to `now + lease` instead
        // could lengthen it).
        let jump_ms = self.now_ms - now_ms;
        self.lease_until_ms = self.lease_until_ms.saturating_sub(jump_ms);
        // Acks to heartbeats sent before the jump would grant a lease from
        // a reading in the future (and could be mistaken for acks to a new
        // heartbeat sent at the same reading).
        self.heartbeat_acks.clear();
    }

    fn start(&mut self, out: &mut Vec<Output>) {
        // Durable before anything this life sends: its ids carry it.
        out.push(Output::Persist(Record::Incarnation(self.incarnation)));
        if self.restarted && self.cfg.reads == ReadMode::Lease {
            // Whatever lease this node granted before it went down is
            // forgotten: wait out the longest one it could have granted.
            self.refuse_until_ms = Some(self.now_ms.saturating_add(self.cfg.lease_ms));
        }
        if self.cfg.mode == Mode::Multi {
            self.set_election_timer(out);
        }
    }

    fn others(&self) -> impl Iterator<Item = NodeId> + '_ {
        self.cfg
            .members
            .iter()
            .copied()
            .filter(move |&m| m != self.cfg.id)
    }

    fn broadcast(&self, msg: &Msg, out: &mut Vec<Output>) {
        for to in self.others() {
            out.push(Output::Send {
                to,
                msg: msg.clone(),
            });
        }
    }

    fn set_election_timer(&self, out: &mut Vec<Output>) {
        let (min_ms, max_ms) = self.cfg.election_timeout_ms;
        out.push(Output::SetTimer {
            timer: Timer::Election,
            min_ms,
            max_ms,
        });
    }

    fn set_heartbeat_timer(&self, out: &mut Vec<Output>) {
        out.push(Output::SetTimer {
            timer: Timer::Heartbeat,
            min_ms: self.cfg.heartbeat_ms,
            max_ms: self.cfg.heartbeat_ms,
        });
    }

    fn set_backoff_timer(&self, out: &mut Vec<Output>) {
        let (min_ms, max_ms) = self.cfg.backoff_ms;
        out.push(Output::SetTimer {
            timer: Timer::Backoff,
            min_ms,
            max_ms,
        });
    }

    // ---- timers ----

    fn on_timeout(&mut self, timer: Timer, out: &mut Vec<Output>) {
        match (timer, self.cfg.mode) {
            (Timer::Election, Mode::Multi) => {
                if self.role == Role::Leader {
                    return;
                }
                let quiet = self.last_leader_contact_ms.is_none_or(|t| {
                    self.now_ms.saturating_sub(t) >= self.cfg.election_timeout_ms.0
                });
                // Promising ourselves is a promise like any other: not
                // while a lease we granted another leader may still be
                // serving reads. (Without this, two followers of a cut-off
                // leader each started an election, dropped the leader they
                // knew, and promised each other at once: a new leader took
                // writes while the old one still answered lease reads.)
                if self.granted_lease_live(self.cfg.id) {
                    // Campaign as soon as the lease we granted ends (with
                    // a little jitter, so that its grantors do not duel):
                    // the cluster is unavailable for as short as it may be.
                    let end = self.granted_lease_end(self.cfg.id).unwrap_or(self.now_ms);
                    let wait = end.saturating_sub(self.now_ms);
                    out.push(Output::SetTimer {
                        timer: Timer::Election,
                        min_ms: wait,
                        max_ms: wait + self.cfg.heartbeat_ms,
                    });
                    return;
                }
                if quiet || self.role == Role::Candidate {
                    self.start_election(out);
                }
                self.set_election_timer(out);
            }
            (Timer::Heartbeat, Mode::Multi) if self.role == Role::Leader => {
                self.heartbeat(out);
                // Nobody sends a leader heartbeats: while it lags behind
                // what a promiser knew chosen, it asks again every period
                // (a request or its answer may have been lost), each time
                // of the next peer in turn: the promiser that was ahead may
                // have died, and every follower learns every chosen value
                // (from the leader's claims, or a catch-up of its own).
                if let Some((_, upto)) = self.ahead {
                    if self.first_unchosen < upto {
                        let others: Vec<NodeId> = self.others().collect();
                        if !others.is_empty() {
                            let peer = others[self.catch_up_turn % others.len()];
                            self.catch_up_turn = self.catch_up_turn.wrapping_add(1);
                            self.catch_up(peer, true, out);
                        }
                    }
                }
                self.set_heartbeat_timer(out);
            }
            (Timer::Backoff, Mode::Basic) => {
                // A conflicted or stalled proposal starts over higher up,
                // in the same slot: our value may already be accepted
                // there, even chosen, so it must not move to another slot
                // (an anonymous command would then be applied twice).
                match self.proposal.take() {
                    Some(p) => self.start_proposal(Some(p), out),
                    None => self.propose(out),
                }
            }
            (Timer::Batch, Mode::Multi) => self.on_batch_timeout(out),
            _ => {}
        }
    }

    // ---- messages ----

    /// Hands each message to its handler: elections and heartbeats in
    /// `election`, phase 2 in `proposing` (and `basic`), chosen values and
    /// snapshots in `catch_up`, forwarded requests in `clients`, read
    /// probes in `reads`.
    fn on_message(&mut self, from: NodeId, msg: Msg, out: &mut Vec<Output>) {
        match msg {
            Msg::Prepare {
                ballot,
                from: slot,
                single,
            } => self.on_prepare(from, ballot, slot, single, out),
            Msg::Promise {
                ballot,
                from: slot,
                accepted,
                chosen_upto,
            } => self.on_promise(from, ballot, slot, accepted, chosen_upto, out),
            Msg::Nack { ballot, promised } => self.on_nack(ballot, promised, out),
            Msg::Accept {
                ballot,
                slot,
                batch,
                chosen_upto,
            } => self.on_accept(from, ballot, slot, batch, chosen_upto, out),
            Msg::Accepted { ballot, slot } => self.on_accepted(from, ballot, slot, out),
            Msg::Chosen { slot, batch } => self.on_chosen(from, slot, batch, out),
            Msg::Heartbeat {
                ballot,
                first_unchosen,
                sent_ms,
            } => self.on_heartbeat(from, ballot, first_unchosen, sent_ms, out),
            Msg::HeartbeatAck { ballot, sent_ms } => self.on_heartbeat_ack(from, ballot, sent_ms),
            Msg::CatchUp { from: start } => self.on_catch_up(from, start, out),
            Msg::Forward { request, command } => self.on_forward(from, request, command, out),
            Msg::ForwardReply { request, reply } => self.on_forward_reply(request, reply, out),
            Msg::InstallSnapshot { snapshot } => self.on_install_snapshot(snapshot, out),
            Msg::ReadProbe { probe } => self.on_read_probe(from, probe, out),
            Msg::Fill { upto } => self.on_fill(upto, out),
            Msg::ReadProbeReply {
                probe,
                accepted_end,
                chosen_upto,
            } => self.on_read_probe_reply(from, probe, accepted_end, chosen_upto, out),
        }
    }
}
