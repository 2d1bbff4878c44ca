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

use super::acceptor::Acceptor;
use super::planted::PlantedBug;
use super::types::{
    Ballot, Batch, Config, ErrorCode, Input, Mode, Msg, NodeId, Output, ReadMode, Record, Reply,
    RequestId, Slot, Snapshot, Timer,
};
use crate::kv::{Command, KvStore};
use std::collections::{BTreeMap, BTreeSet, VecDeque};

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
    acks: BTreeSet<NodeId>,
}

/// A Basic Paxos proposal for one slot.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct Proposal {
    slot: Slot,
    ballot: Ballot,
    /// Our own commands, proposed if no other value must be.
    ours: Vec<Command>,
    /// Phase 1: promises so far, with the highest accepted value seen.
    promises: BTreeSet<NodeId>,
    highest: Option<(Ballot, Batch)>,
    /// Phase 2: the value proposed and its acks.
    value: Option<Batch>,
    acks: BTreeSet<NodeId>,
    /// Whether an `Accept` carrying `ours` ever left, at any ballot of this
    /// proposal: from then on `ours` may be chosen in this slot.
    ours_sent: bool,
}

/// A quorum read waiting for probes, then for the log to catch up.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct QuorumRead {
    request: RequestId,
    command: Command,
    replies: BTreeSet<NodeId>,
    /// Apply every slot below this before answering.
    wait_for: Slot,
    /// When the read began (it expires after the request ttl).
    started_ms: u64,
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
    /// The leader may serve lease reads once every slot of earlier leaders
    /// is chosen and applied: this is the slot it must reach.
    ready_at: Slot,
    lease_until_ms: u64,
    heartbeat_acks: BTreeMap<u64, BTreeSet<NodeId>>,
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
        let acceptor = Acceptor::recover(bug == Some(PlantedBug::IgnorePromise), records);
        let mut chosen = BTreeMap::new();
        let mut incarnation = 0;
        for r in records {
            match r {
                Record::Chosen { slot, batch } => {
                    chosen.insert(*slot, batch.clone());
                }
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
        if self.chosen.contains_key(&self.first_unchosen) {
            return fail(format!(
                "slot {} chosen but not applied",
                self.first_unchosen
            ));
        }
        if let Some(s) =
            (self.log_start..self.first_unchosen).find(|s| !self.chosen.contains_key(s))
        {
            return fail(format!("slot {s} applied but missing from the log"));
        }
        if self
            .chosen
            .keys()
            .next()
            .is_some_and(|s| *s < self.log_start)
        {
            return fail("a chosen slot below the snapshot was kept".into());
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
        }
        if self.queue.len() > self.cfg.queue_max {
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
        self.lease_until_ms = self
            .lease_until_ms
            .min(now_ms.saturating_add(self.cfg.lease_ms));
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
                    self.set_election_timer(out);
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
                // have died, and every chosen value went to all.
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
            _ => {}
        }
    }

    // ---- Multi-Paxos: elections ----

    fn start_election(&mut self, out: &mut Vec<Output>) {
        let round = self.ballot.round.max(self.acceptor.promised().round) + 1;
        self.ballot = Ballot {
            round,
            node: self.cfg.id,
        };
        self.role = Role::Candidate;
        self.leader = None;
        self.promises.clear();
        self.election_from = self.first_unchosen;
        let from = self.election_from;
        // Promise ourselves first: the round is durable before it is used.
        match self.acceptor.prepare(self.ballot, from) {
            Ok((accepted, record)) => {
                out.extend(record.map(Output::Persist));
                self.promises
                    .insert(self.cfg.id, (accepted, self.first_unchosen));
            }
            Err(_) => unreachable!("our new round is above our own promise"),
        }
        self.broadcast(
            &Msg::Prepare {
                ballot: self.ballot,
                from,
                single: false,
            },
            out,
        );
        self.maybe_win(out);
    }

    fn maybe_win(&mut self, out: &mut Vec<Output>) {
        // The planted bug takes its own promise for a majority's.
        let enough = self.promises.len() >= self.cfg.quorum()
            || (self.bug == Some(PlantedBug::SkipPhase1) && !self.promises.is_empty());
        if self.role != Role::Candidate || !enough {
            return;
        }
        self.role = Role::Leader;
        self.leader = Some(self.cfg.id);
        // For each slot: the value accepted at the highest ballot, or a no-op.
        let mut values: BTreeMap<Slot, (Ballot, Batch)> = BTreeMap::new();
        for (slot, ballot, batch) in self.promises.values().flat_map(|(a, _)| a) {
            if values.get(slot).is_none_or(|(b, _)| ballot > b) {
                values.insert(*slot, (*ballot, batch.clone()));
            }
        }
        // Slots a promiser knows chosen are not ours to propose: their
        // accepted values may be compacted away, and a no-op there would
        // overwrite a chosen value. Learn them from that promiser instead.
        let (ahead, chosen_upto) = self
            .promises
            .iter()
            .map(|(n, (_, c))| (*n, *c))
            .max_by_key(|(_, c)| *c)
            .expect("a quorum of promises");
        self.promises.clear();
        // Learn them as a follower would, in batches, until caught up: the
        // leader cannot apply (answer clients, serve lease reads) anything
        // past the first slot it is missing.
        self.note_ahead(ahead, chosen_upto);
        if chosen_upto > self.first_unchosen {
            self.catch_up(ahead, true, out);
        }
        let start = self.first_unchosen.max(chosen_upto);
        let end = values
            .keys()
            .next_back()
            .map_or(self.election_from, |s| s + 1)
            .max(start);
        self.next_slot = end;
        self.ready_at = end;
        self.inflight.clear();
        for slot in start..end {
            let batch = match self.chosen.get(&slot) {
                Some(b) => b.clone(),
                None => values.remove(&slot).map(|(_, b)| b).unwrap_or_default(),
            };
            self.send_accept(slot, batch, out);
        }
        // A leader with nothing to re-propose still commits a no-op, so
        // that lease reads wait until everything before it is applied.
        if self.ready_at == self.first_unchosen && self.cfg.reads == ReadMode::Lease {
            self.ready_at = self.next_slot + 1;
            let slot = self.next_slot;
            self.next_slot += 1;
            self.send_accept(slot, Batch::default(), out);
        }
        self.heartbeat(out);
        self.set_heartbeat_timer(out);
        self.propose(out);
    }

    fn step_down(&mut self, higher: Ballot, out: &mut Vec<Output>) {
        let was_leading = self.role != Role::Follower;
        self.ballot.round = self.ballot.round.max(higher.round);
        self.role = Role::Follower;
        self.leader = (higher.node != self.cfg.id && higher.node != 0).then_some(higher.node);
        self.promises.clear();
        // Proposed but not chosen: may still be chosen by the next leader.
        for (_, f) in std::mem::take(&mut self.inflight) {
            for cmd in &f.batch.0 {
                self.answer(cmd, ErrorCode::LeaderChanged.reply(), out);
            }
        }
        // Never proposed: definitely not done.
        for (waiter, cmd) in std::mem::take(&mut self.queue) {
            self.forget(waiter, &cmd);
            self.send_reply(waiter, ErrorCode::NoLeader.reply(), out);
        }
        self.lease_until_ms = 0;
        self.ready_at = u64::MAX;
        if was_leading {
            self.set_election_timer(out);
        }
    }

    fn heartbeat(&mut self, out: &mut Vec<Output>) {
        let sent_ms = self.now_ms;
        self.heartbeat_acks
            .insert(sent_ms, BTreeSet::from([self.cfg.id]));
        // Keep only recent rounds of acks: bounded.
        while self.heartbeat_acks.len() > 16 {
            self.heartbeat_acks.pop_first();
        }
        self.broadcast(
            &Msg::Heartbeat {
                ballot: self.ballot,
                first_unchosen: self.first_unchosen,
                sent_ms,
            },
            out,
        );
        // Retransmit what is still unanswered: the network may drop it.
        let pending: Vec<(Slot, Batch)> = self
            .inflight
            .iter()
            .map(|(s, f)| (*s, f.batch.clone()))
            .collect();
        for (slot, batch) in pending {
            self.broadcast(
                &Msg::Accept {
                    ballot: self.ballot,
                    slot,
                    batch,
                },
                out,
            );
        }
    }

    // ---- proposing ----

    fn send_accept(&mut self, slot: Slot, batch: Batch, out: &mut Vec<Output>) {
        let ballot = self.ballot;
        match self.acceptor.accept(ballot, slot, &batch) {
            Ok(record) => out.push(Output::Persist(record)),
            Err(higher) => return self.step_down(higher, out),
        }
        self.inflight.insert(
            slot,
            InFlight {
                batch: batch.clone(),
                acks: BTreeSet::from([self.cfg.id]),
            },
        );
        self.broadcast(
            &Msg::Accept {
                ballot,
                slot,
                batch,
            },
            out,
        );
        self.check_chosen(slot, out);
    }

    /// Proposes queued commands: as leader (Multi) or by starting a Basic
    /// Paxos proposal.
    fn propose(&mut self, out: &mut Vec<Output>) {
        match self.cfg.mode {
            Mode::Multi => {
                while self.role == Role::Leader
                    && !self.queue.is_empty()
                    && self.inflight.len() < self.cfg.inflight_max
                {
                    let take = self.queue.len().min(self.cfg.batch_max);
                    let batch = Batch(self.queue.drain(..take).map(|(_, c)| c).collect());
                    let slot = self.next_slot;
                    self.next_slot += 1;
                    self.send_accept(slot, batch, out);
                }
            }
            Mode::Basic => {
                if self.proposal.is_none() && !self.queue.is_empty() {
                    self.start_proposal(None, out);
                }
            }
        }
    }

    fn check_chosen(&mut self, slot: Slot, out: &mut Vec<Output>) {
        let Some(f) = self.inflight.get(&slot) else {
            return;
        };
        if f.acks.len() < self.cfg.quorum() {
            return;
        }
        let batch = f.batch.clone();
        self.inflight.remove(&slot);
        self.broadcast(
            &Msg::Chosen {
                slot,
                batch: batch.clone(),
            },
            out,
        );
        self.learn(slot, batch, out);
        self.propose(out);
    }

    // ---- Basic Paxos ----

    /// Runs phase 1 for the first unchosen slot: a fresh proposal with
    /// commands from the queue, or `restart`, an earlier proposal for that
    /// same slot, again with a higher ballot and the same commands.
    fn start_proposal(&mut self, restart: Option<Proposal>, out: &mut Vec<Output>) {
        let slot = self.first_unchosen;
        let (ours, ours_sent) = match restart {
            Some(p) => {
                // `learn` and `install` end a proposal whose slot passed.
                debug_assert_eq!(p.slot, slot, "a proposal outlived its slot");
                (p.ours, p.ours_sent)
            }
            None => {
                let take = self.queue.len().min(self.cfg.batch_max);
                (self.queue.drain(..take).map(|(_, c)| c).collect(), false)
            }
        };
        let round = self.ballot.round.max(self.acceptor.promise_for(slot).round) + 1;
        self.ballot = Ballot {
            round,
            node: self.cfg.id,
        };
        let mut p = Proposal {
            slot,
            ballot: self.ballot,
            ours,
            promises: BTreeSet::new(),
            highest: None,
            value: None,
            acks: BTreeSet::new(),
            ours_sent,
        };
        match self.acceptor.prepare_slot(self.ballot, slot) {
            Ok((accepted, record)) => {
                out.extend(record.map(Output::Persist));
                p.promises.insert(self.cfg.id);
                p.highest = accepted.into_iter().map(|(_, b, v)| (b, v)).next();
            }
            Err(_) => unreachable!("our new round is above our own promise"),
        }
        if self.bug == Some(PlantedBug::SkipPhase1) {
            // Straight to phase 2 with our own value.
            p.promises = self.cfg.members.iter().copied().collect();
            p.highest = None;
        }
        self.proposal = Some(p);
        self.broadcast(
            &Msg::Prepare {
                ballot: self.ballot,
                from: slot,
                single: true,
            },
            out,
        );
        // Stalled proposals (lost messages) restart when this fires.
        self.set_backoff_timer(out);
        self.basic_progress(out);
    }

    fn on_basic_promise(
        &mut self,
        from: NodeId,
        ballot: Ballot,
        slot: Slot,
        accepted: Vec<(Slot, Ballot, Batch)>,
        out: &mut Vec<Output>,
    ) {
        if let Some(p) = self.proposal.as_mut() {
            if p.ballot == ballot && p.slot == slot && p.value.is_none() {
                p.promises.insert(from);
                for (s, b, v) in accepted {
                    debug_assert_eq!(s, slot, "a one-slot promise speaks of its slot");
                    if s == slot && p.highest.as_ref().is_none_or(|(hb, _)| b > *hb) {
                        p.highest = Some((b, v));
                    }
                }
            }
        }
        self.basic_progress(out);
    }

    fn basic_progress(&mut self, out: &mut Vec<Output>) {
        let quorum = self.cfg.quorum();
        let Some(p) = self.proposal.as_mut() else {
            return;
        };
        if p.value.is_none() && p.promises.len() >= quorum {
            let value = match p.highest.take() {
                Some((_, v)) => v,
                None => Batch(p.ours.clone()),
            };
            p.value = Some(value.clone());
            let (ballot, slot) = (p.ballot, p.slot);
            match self.acceptor.accept(ballot, slot, &value) {
                Ok(record) => out.push(Output::Persist(record)),
                // A higher ballot got here first: the backoff timer
                // restarts this proposal higher up.
                Err(_) => return self.stall_proposal(out),
            }
            if let Some(p) = self.proposal.as_mut() {
                p.acks.insert(self.cfg.id);
                p.ours_sent |= value.0 == p.ours;
            }
            self.broadcast(
                &Msg::Accept {
                    ballot,
                    slot,
                    batch: value,
                },
                out,
            );
        }
        let Some(p) = self.proposal.as_ref() else {
            return;
        };
        if let (Some(value), true) = (&p.value, p.acks.len() >= quorum) {
            let (slot, value) = (p.slot, value.clone());
            self.broadcast(
                &Msg::Chosen {
                    slot,
                    batch: value.clone(),
                },
                out,
            );
            // Ends the proposal (and re-queues our commands if the value
            // chosen was another's).
            self.learn(slot, value, out);
            self.propose(out);
        }
    }

    /// A proposal met a higher ballot. It keeps its slot and its commands
    /// (they may be accepted there already) and starts over, higher up,
    /// after a random delay, so that dueling proposers stop dueling.
    fn stall_proposal(&mut self, out: &mut Vec<Output>) {
        self.set_backoff_timer(out);
    }

    /// Puts commands back at the head of the queue, to be proposed again:
    /// only for commands known not to be chosen anywhere.
    fn requeue(&mut self, commands: Vec<Command>) {
        for cmd in commands.into_iter().rev() {
            let waiter = self
                .waiters
                .get(&(cmd.client, cmd.seq))
                .and_then(|(_, w)| w.first().copied())
                .unwrap_or(Waiter::Local(u64::MAX));
            self.queue.push_front((waiter, cmd));
        }
    }

    // ---- learning and applying ----

    fn learn(&mut self, slot: Slot, batch: Batch, out: &mut Vec<Output>) {
        if slot < self.first_unchosen {
            return;
        }
        if let Some(known) = self.chosen.get(&slot) {
            // With a planted bug two values can be chosen; keep the
            // first so the checkers see replicas disagree.
            if self.bug.is_none() {
                assert_eq!(known, &batch, "a chosen value never changes (slot {slot})");
            }
            return;
        }
        out.push(Output::Persist(Record::Chosen {
            slot,
            batch: batch.clone(),
        }));
        if self.proposal.as_ref().is_some_and(|p| p.slot == slot) {
            let p = self.proposal.take().expect("checked above");
            // Our commands were proposed in this slot only: if another
            // value took it, they are certainly not chosen and go back to
            // the queue. (Comparing whole batches is enough: a proposer
            // that adopts our value adopts all of it.)
            if batch.0 != p.ours {
                self.requeue(p.ours);
            }
        }
        if let Some(f) = self.inflight.remove(&slot) {
            if f.batch != batch {
                // A higher ballot chose this slot: we were deposed. Our
                // commands lost this slot, the only one they were in; say
                // so honestly (we cannot rule out a retry elsewhere).
                for cmd in &f.batch.0 {
                    self.answer(cmd, ErrorCode::LeaderChanged.reply(), out);
                }
                if self.role == Role::Leader {
                    let ballot = self.ballot;
                    self.step_down(ballot, out);
                }
            }
        }
        self.chosen.insert(slot, batch);
        self.advance(out);
    }

    /// Moves `first_unchosen` over contiguous chosen slots and applies them.
    fn advance(&mut self, out: &mut Vec<Output>) {
        while let Some(batch) = self.chosen.get(&self.first_unchosen).cloned() {
            for cmd in &batch.0 {
                let result = self.kv.apply(cmd);
                self.answer(cmd, Reply::Ok(result), out);
            }
            self.first_unchosen += 1;
            self.applied = self.first_unchosen;
        }
        let every = self.cfg.snapshot_every;
        if every > 0 && self.applied - self.log_start >= every {
            self.compact(out);
        }
        self.finish_reads(out);
    }

    /// Folds every applied slot into a snapshot and forgets them.
    fn compact(&mut self, out: &mut Vec<Output>) {
        let upto = self.applied;
        self.chosen = self.chosen.split_off(&upto);
        self.acceptor.compact(upto);
        self.log_start = upto;
        out.push(Output::Snapshot(Snapshot {
            upto,
            store: self.kv.clone(),
        }));
    }

    /// Takes a peer's snapshot when it is ahead of this replica.
    fn install(&mut self, snapshot: Snapshot, out: &mut Vec<Output>) {
        if snapshot.upto <= self.first_unchosen {
            return;
        }
        self.kv = snapshot.store;
        self.first_unchosen = snapshot.upto;
        self.applied = snapshot.upto;
        self.log_start = snapshot.upto;
        self.chosen = self.chosen.split_off(&snapshot.upto);
        self.acceptor.compact(snapshot.upto);
        out.push(Output::Snapshot(Snapshot {
            upto: self.applied,
            store: self.kv.clone(),
        }));
        if self
            .proposal
            .as_ref()
            .is_some_and(|p| p.slot < self.first_unchosen)
        {
            // The snapshot covers our slot without saying what was chosen
            // there. If our commands were ever sent for it they may be in
            // it: neither re-propose them (twice applied) nor call them
            // failed. If not, they are certainly not chosen: queue them.
            let p = self.proposal.take().expect("checked above");
            if p.ours_sent {
                for cmd in &p.ours {
                    self.answer(cmd, ErrorCode::LeaderChanged.reply(), out);
                }
            } else {
                self.requeue(p.ours);
            }
        }
        self.next_slot = self.next_slot.max(self.first_unchosen);
        self.advance(out);
    }

    fn answer(&mut self, cmd: &Command, reply: Reply, out: &mut Vec<Output>) {
        if let Some((_, waiters)) = self.waiters.remove(&(cmd.client, cmd.seq)) {
            for w in waiters {
                self.send_reply(w, reply.clone(), out);
            }
        }
    }

    fn forget(&mut self, waiter: Waiter, cmd: &Command) {
        if let Some((_, ws)) = self.waiters.get_mut(&(cmd.client, cmd.seq)) {
            ws.retain(|w| *w != waiter);
            if ws.is_empty() {
                self.waiters.remove(&(cmd.client, cmd.seq));
            }
        }
    }

    fn send_reply(&mut self, waiter: Waiter, reply: Reply, out: &mut Vec<Output>) {
        match waiter {
            Waiter::Local(request) if request != u64::MAX => {
                out.push(Output::Reply { request, reply })
            }
            Waiter::Local(_) => {}
            Waiter::Remote(to, request) => out.push(Output::Send {
                to,
                msg: Msg::ForwardReply { request, reply },
            }),
        }
    }

    // ---- client requests ----

    fn on_request(&mut self, request: RequestId, command: Command, out: &mut Vec<Output>) {
        if command.op.is_read() {
            match self.cfg.reads {
                ReadMode::Local => {
                    let result = self.kv.read(&command.op).expect("reads have local answers");
                    return out.push(Output::Reply {
                        request,
                        reply: Reply::Ok(result),
                    });
                }
                ReadMode::Lease if self.lease_valid() => {
                    let result = self.kv.read(&command.op).expect("reads have local answers");
                    return out.push(Output::Reply {
                        request,
                        reply: Reply::Ok(result),
                    });
                }
                ReadMode::Quorum => return self.start_quorum_read(request, command, out),
                ReadMode::Log | ReadMode::Lease => {}
            }
        }
        self.enqueue(Waiter::Local(request), command, out);
    }

    fn enqueue(&mut self, waiter: Waiter, command: Command, out: &mut Vec<Output>) {
        if self.cfg.mode == Mode::Multi && self.role != Role::Leader {
            return match (self.leader, waiter) {
                (Some(leader), Waiter::Local(request)) => {
                    if self.forwarded.len() >= self.cfg.queue_max {
                        // Bounded: the oldest forwarded request gives up.
                        if let Some((old, _)) = self.forwarded.pop_first() {
                            out.push(Output::Reply {
                                request: old,
                                reply: ErrorCode::Expired.reply(),
                            });
                        }
                    }
                    self.forwarded.insert(request, self.now_ms);
                    out.push(Output::Send {
                        to: leader,
                        msg: Msg::Forward { request, command },
                    });
                }
                _ => self.send_reply(waiter, ErrorCode::NoLeader.reply(), out),
            };
        }
        if self.queue.len() >= self.cfg.queue_max {
            return self.send_reply(waiter, ErrorCode::Busy.reply(), out);
        }
        let key = (command.client, command.seq);
        let now_ms = self.now_ms;
        let (_, ws) = self.waiters.entry(key).or_insert_with(|| {
            self.waiter_ages.push_back((now_ms, key));
            (now_ms, Vec::new())
        });
        ws.push(waiter);
        self.queue.push_back((waiter, command));
    }

    /// Tells every caller that waited longer than the request ttl that the
    /// outcome is unknown, and forgets it: a reply lost on the way (a
    /// forward's answer, a probe's) must not keep an entry forever.
    fn expire(&mut self, out: &mut Vec<Output>) {
        let ttl = self.cfg.request_ttl_ms;
        let now = self.now_ms;
        while let Some(&(since, key)) = self.waiter_ages.front() {
            let live = self.waiters.get(&key).is_some_and(|(s, _)| *s == since);
            if live && now < since.saturating_add(ttl) {
                break;
            }
            self.waiter_ages.pop_front();
            if live {
                let (_, ws) = self.waiters.remove(&key).expect("live");
                for w in ws {
                    self.send_reply(w, ErrorCode::Expired.reply(), out);
                }
            }
        }
        // Entries of answered commands behind a live one: drop them now
        // and then, so the list stays within twice the live entries.
        if self.waiter_ages.len() > 2 * self.waiters.len() + 64 {
            let waiters = &self.waiters;
            self.waiter_ages
                .retain(|(since, key)| waiters.get(key).is_some_and(|(s, _)| s == since));
        }
        while let Some((&request, &since)) = self.forwarded.first_key_value() {
            if now < since.saturating_add(ttl) {
                break;
            }
            self.forwarded.remove(&request);
            out.push(Output::Reply {
                request,
                reply: ErrorCode::Expired.reply(),
            });
        }
        while let Some((&probe, read)) = self.reads.first_key_value() {
            if now < read.started_ms.saturating_add(ttl) {
                break;
            }
            let read = self.reads.remove(&probe).expect("listed");
            out.push(Output::Reply {
                request: read.request,
                reply: ErrorCode::Expired.reply(),
            });
        }
    }

    fn lease_valid(&self) -> bool {
        self.role == Role::Leader
            && self.now_ms < self.lease_until_ms
            && self.applied >= self.ready_at
    }

    fn start_quorum_read(&mut self, request: RequestId, command: Command, out: &mut Vec<Output>) {
        let probe = self.next_probe;
        self.next_probe += 1;
        // Bounded: the oldest pending read gives up.
        if self.reads.len() >= self.cfg.queue_max {
            if let Some((_, old)) = self.reads.pop_first() {
                out.push(Output::Reply {
                    request: old.request,
                    reply: ErrorCode::Expired.reply(),
                });
            }
        }
        self.reads.insert(
            probe,
            QuorumRead {
                request,
                command,
                replies: BTreeSet::from([self.cfg.id]),
                wait_for: self.acceptor.accepted_end(),
                started_ms: self.now_ms,
            },
        );
        self.broadcast(&Msg::ReadProbe { probe }, out);
        self.finish_reads(out);
    }

    fn finish_reads(&mut self, out: &mut Vec<Output>) {
        let quorum = self.cfg.quorum();
        let applied = self.applied;
        let ready: Vec<u64> = self
            .reads
            .iter()
            .filter(|(_, r)| r.replies.len() >= quorum && applied >= r.wait_for)
            .map(|(p, _)| *p)
            .collect();
        for probe in ready {
            let r = self.reads.remove(&probe).expect("listed above");
            let result = self
                .kv
                .read(&r.command.op)
                .expect("reads have local answers");
            out.push(Output::Reply {
                request: r.request,
                reply: Reply::Ok(result),
            });
        }
        // A read may wait for slots nobody is proposing: as leader, fill
        // the gap with a no-op so it gets chosen.
        if self.role == Role::Leader {
            let need = self.reads.values().map(|r| r.wait_for).max().unwrap_or(0);
            if need > self.next_slot && self.inflight.is_empty() {
                let slot = self.next_slot;
                self.next_slot += 1;
                self.send_accept(slot, Batch::default(), out);
            }
        }
    }

    // ---- messages ----

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
            } => {
                if self.cfg.mode == Mode::Basic {
                    if chosen_upto > self.first_unchosen {
                        self.catch_up(from, true, out);
                    }
                    return self.on_basic_promise(from, ballot, slot, accepted, out);
                }
                if self.role == Role::Candidate
                    && ballot == self.ballot
                    && slot == self.election_from
                {
                    self.promises.insert(from, (accepted, chosen_upto));
                    self.maybe_win(out);
                }
            }
            Msg::Nack { ballot, promised } => {
                if self.cfg.mode == Mode::Basic {
                    self.ballot.round = self.ballot.round.max(promised.round);
                    if self.proposal.as_ref().is_some_and(|p| p.ballot == ballot) {
                        self.stall_proposal(out);
                    }
                } else if ballot == self.ballot && promised > self.ballot {
                    self.step_down(promised, out);
                }
            }
            Msg::Accept {
                ballot,
                slot,
                batch,
            } => self.on_accept(from, ballot, slot, batch, out),
            Msg::Accepted { ballot, slot } => {
                if self.cfg.mode == Mode::Basic {
                    if let Some(p) = self.proposal.as_mut() {
                        if p.ballot == ballot && p.slot == slot && p.value.is_some() {
                            p.acks.insert(from);
                        }
                    }
                    return self.basic_progress(out);
                }
                if self.role == Role::Leader && ballot == self.ballot {
                    if let Some(f) = self.inflight.get_mut(&slot) {
                        f.acks.insert(from);
                    }
                    self.check_chosen(slot, out);
                }
            }
            Msg::Chosen { slot, batch } => {
                self.learn(slot, batch, out);
                // Missing slots below one we know chosen (a gap, or the
                // end of a catch-up batch short of the target): ask the
                // sender for the next batch, unless a request is pending.
                if self.first_unchosen < self.known_chosen_end() {
                    self.catch_up(from, false, out);
                }
                self.propose(out);
            }
            Msg::Heartbeat {
                ballot,
                first_unchosen,
                sent_ms,
            } => {
                if ballot < self.acceptor.promised() {
                    return out.push(Output::Send {
                        to: from,
                        msg: Msg::Nack {
                            ballot,
                            promised: self.acceptor.promised(),
                        },
                    });
                }
                self.follow(from, ballot, out);
                self.note_ahead(from, first_unchosen);
                if first_unchosen > self.first_unchosen {
                    // Every heartbeat: requests and answers may be lost.
                    self.catch_up(from, true, out);
                }
                out.push(Output::Send {
                    to: from,
                    msg: Msg::HeartbeatAck { ballot, sent_ms },
                });
            }
            Msg::HeartbeatAck { ballot, sent_ms } => {
                if self.role == Role::Leader && ballot == self.ballot {
                    if let Some(acks) = self.heartbeat_acks.get_mut(&sent_ms) {
                        acks.insert(from);
                        if acks.len() >= self.cfg.quorum() {
                            // Followers will not elect anyone else until
                            // lease_ms after they acked, on their clocks.
                            // (`sent_ms` is no later than now: acks to
                            // heartbeats sent before the clock went back
                            // were dropped.)
                            debug_assert!(sent_ms <= self.now_ms, "acks from the clock's future");
                            // The margin (planted away by a bug) covers
                            // clocks that run at different rates.
                            let trusted_ms = if self.bug == Some(PlantedBug::LeaseWithoutMargin) {
                                self.cfg.lease_ms
                            } else {
                                self.cfg.lease_trusted_ms()
                            };
                            self.lease_until_ms =
                                self.lease_until_ms.max(sent_ms.saturating_add(trusted_ms));
                        }
                    }
                }
            }
            Msg::CatchUp { from: start } => {
                if start < self.log_start {
                    // Those slots are compacted: send the whole state.
                    return out.push(Output::Send {
                        to: from,
                        msg: Msg::InstallSnapshot {
                            snapshot: Snapshot {
                                upto: self.applied,
                                store: self.kv.clone(),
                            },
                        },
                    });
                }
                // Every value known chosen in the batch's range, also past
                // a gap of our own: a requester ahead of us may miss those.
                let end = start.saturating_add(CATCH_UP_MAX);
                for (slot, batch) in self.chosen.range(start..end) {
                    out.push(Output::Send {
                        to: from,
                        msg: Msg::Chosen {
                            slot: *slot,
                            batch: batch.clone(),
                        },
                    });
                }
            }
            Msg::Forward { request, command } => {
                if self.role == Role::Leader {
                    self.enqueue(Waiter::Remote(from, request), command, out);
                    self.propose(out);
                } else {
                    out.push(Output::Send {
                        to: from,
                        msg: Msg::ForwardReply {
                            request,
                            reply: ErrorCode::NoLeader.reply(),
                        },
                    });
                }
            }
            Msg::ForwardReply { request, reply } => {
                if self.forwarded.remove(&request).is_some() {
                    out.push(Output::Reply { request, reply });
                }
            }
            Msg::InstallSnapshot { snapshot } => {
                self.install(snapshot, out);
                self.propose(out);
            }
            Msg::ReadProbe { probe } => out.push(Output::Send {
                to: from,
                msg: Msg::ReadProbeReply {
                    probe,
                    accepted_end: self.acceptor.accepted_end().max(self.first_unchosen),
                },
            }),
            Msg::ReadProbeReply {
                probe,
                accepted_end,
            } => {
                if let Some(r) = self.reads.get_mut(&probe) {
                    r.replies.insert(from);
                    r.wait_for = r.wait_for.max(accepted_end);
                }
                self.finish_reads(out);
            }
        }
    }

    /// The value chosen in `slot`, if known here. (Not the acceptor's:
    /// an acceptor may hold a value that lost.)
    fn chosen_value(&self, slot: Slot) -> Option<Batch> {
        self.chosen.get(&slot).cloned()
    }

    /// Remembers that `peer` has every slot below `upto` chosen.
    fn note_ahead(&mut self, peer: NodeId, upto: Slot) {
        if peer != self.cfg.id && self.ahead.is_none_or(|(_, known)| upto > known) {
            self.ahead = Some((peer, upto));
        }
    }

    /// One past the highest slot this replica knows to be chosen, here or
    /// at a peer.
    fn known_chosen_end(&self) -> Slot {
        let here = self.chosen.keys().next_back().map_or(0, |s| s + 1);
        let there = self.ahead.map_or(0, |(_, upto)| upto);
        here.max(there).max(self.first_unchosen)
    }

    /// Asks `peer` for the chosen values from `first_unchosen` on (one
    /// batch), unless one was asked for and has not all arrived yet and
    /// `again` is false. Periodic callers pass `again`: a request or its
    /// answer may be lost, and nothing else would ask again.
    fn catch_up(&mut self, peer: NodeId, again: bool, out: &mut Vec<Output>) {
        if peer == self.cfg.id || (!again && self.first_unchosen < self.catch_up_until) {
            return;
        }
        self.catch_up_until = self.first_unchosen.saturating_add(CATCH_UP_MAX);
        out.push(Output::Send {
            to: peer,
            msg: Msg::CatchUp {
                from: self.first_unchosen,
            },
        });
    }

    fn follow(&mut self, leader: NodeId, ballot: Ballot, out: &mut Vec<Output>) {
        if ballot > self.ballot && self.role != Role::Follower {
            self.step_down(ballot, out);
        }
        if ballot.node == leader {
            self.leader = Some(leader);
            self.last_leader_contact_ms = Some(self.now_ms);
            if self.cfg.reads == ReadMode::Lease {
                self.granted.insert(leader, self.now_ms);
            }
        }
    }

    /// With lease reads: whether this node recently heard from a leader
    /// other than `candidate`, so the lease it granted that leader (by
    /// acknowledging its heartbeats) may still be live on this clock.
    fn granted_lease_live(&self, candidate: NodeId) -> bool {
        if self.cfg.reads != ReadMode::Lease {
            return false;
        }
        // A restarted node may have granted a lease it no longer remembers.
        if self.refuse_until_ms.is_some_and(|t| self.now_ms < t) {
            return true;
        }
        self.granted.iter().any(|(leader, t)| {
            *leader != candidate && self.now_ms < t.saturating_add(self.cfg.lease_ms)
        })
    }

    fn on_prepare(
        &mut self,
        from: NodeId,
        ballot: Ballot,
        slot: Slot,
        single: bool,
        out: &mut Vec<Output>,
    ) {
        // With leases, a follower that recently heard from a live leader
        // refuses to help elect another until the lease it granted ends.
        if !single && self.granted_lease_live(from) {
            return;
        }
        if single && slot < self.first_unchosen {
            // Already chosen: tell the proposer instead of promising.
            let msg = match self.chosen_value(slot) {
                Some(batch) => Msg::Chosen { slot, batch },
                None => Msg::InstallSnapshot {
                    snapshot: Snapshot {
                        upto: self.applied,
                        store: self.kv.clone(),
                    },
                },
            };
            return out.push(Output::Send { to: from, msg });
        }
        let result = if single {
            self.acceptor.prepare_slot(ballot, slot)
        } else {
            self.acceptor.prepare(ballot, slot)
        };
        match result {
            Ok((mut accepted, record)) => {
                out.extend(record.map(Output::Persist));
                if !single && ballot > self.ballot && self.role != Role::Follower {
                    self.step_down(ballot, out);
                }
                if !single {
                    // Below our chosen prefix the candidate re-proposes
                    // nothing (it starts at the highest `chosen_upto` it
                    // hears and learns those slots by catching up), so
                    // their accepted values need not travel: a promise
                    // from a replica far ahead stays small.
                    accepted.retain(|(s, _, _)| *s >= self.first_unchosen);
                }
                out.push(Output::Send {
                    to: from,
                    msg: Msg::Promise {
                        ballot,
                        from: slot,
                        accepted,
                        chosen_upto: self.first_unchosen,
                    },
                });
            }
            Err(promised) => out.push(Output::Send {
                to: from,
                msg: Msg::Nack { ballot, promised },
            }),
        }
    }

    fn on_accept(
        &mut self,
        from: NodeId,
        ballot: Ballot,
        slot: Slot,
        batch: Batch,
        out: &mut Vec<Output>,
    ) {
        if slot < self.first_unchosen {
            // Already chosen here. Never answer `Accepted`: this acceptor
            // may never have accepted this ballot's value, and a deposed
            // leader would count the ack toward a majority for a value that
            // conflicts with the chosen one. Tell the proposer what was
            // chosen instead (and refuse a ballot below the promise).
            let promised = self.acceptor.promise_for(slot);
            if ballot < promised {
                out.push(Output::Send {
                    to: from,
                    msg: Msg::Nack { ballot, promised },
                });
            }
            let msg = match self.chosen_value(slot) {
                Some(batch) => Msg::Chosen { slot, batch },
                None => Msg::InstallSnapshot {
                    snapshot: Snapshot {
                        upto: self.applied,
                        store: self.kv.clone(),
                    },
                },
            };
            return out.push(Output::Send { to: from, msg });
        }
        match self.acceptor.accept(ballot, slot, &batch) {
            Ok(record) => {
                out.push(Output::Persist(record));
                if self.cfg.mode == Mode::Multi && from != self.cfg.id {
                    self.follow(from, ballot, out);
                }
                out.push(Output::Send {
                    to: from,
                    msg: Msg::Accepted { ballot, slot },
                });
            }
            Err(promised) => out.push(Output::Send {
                to: from,
                msg: Msg::Nack { ballot, promised },
            }),
        }
    }
}
