//! Multi-Paxos leadership: running for leader (phase 1 for every slot past
//! the chosen prefix), winning and re-proposing what the promisers
//! accepted, stepping down before a higher ballot, and the heartbeats that
//! keep followers following and extend a leader's read lease.
//!
//! The acceptor's side of an election (answering `Prepare`, refusing it
//! while a lease this node granted may be live) lives here too, as does
//! the mode dispatch of `Promise` and `Nack`: their Basic Paxos halves are
//! in `basic`.

use super::{Replica, Role, Waiter};
use crate::paxos::planted::PlantedBug;
use crate::paxos::types::{
    Ballot, Batch, ErrorCode, Mode, Msg, NodeId, NodeSet, Output, ReadMode, Slot,
};
use std::collections::{BTreeMap, BTreeSet};

impl Replica {
    pub(super) fn start_election(&mut self, out: &mut Vec<Output>) {
        let round = self.ballot.round.max(self.acceptor.promised().round) + 1;
        self.ballot = Ballot {
            round,
            node: self.cfg.id,
        };
        self.role = Role::Candidate;
        self.leader = None;
        self.forwards_lost(out);
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

    pub(super) fn on_prepare(
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
            let msg = self.chosen_answer(slot);
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

    /// With lease reads: whether this node recently heard from a leader
    /// other than `candidate`, so the lease it granted that leader (by
    /// acknowledging its heartbeats) may still be live on this clock.
    pub(super) fn granted_lease_live(&self, candidate: NodeId) -> bool {
        self.granted_lease_end(candidate)
            .is_some_and(|end| self.now_ms < end)
    }

    /// With lease reads: when (on this clock) the last lease this node
    /// granted to a leader other than `candidate` ends, a restarted node's
    /// blanket refusal included.
    pub(super) fn granted_lease_end(&self, candidate: NodeId) -> Option<u64> {
        if self.cfg.reads != ReadMode::Lease {
            return None;
        }
        let grants = self
            .granted
            .iter()
            .filter(|(leader, _)| **leader != candidate)
            .map(|(_, t)| t.saturating_add(self.cfg.lease_ms));
        // A restarted node may have granted a lease it no longer remembers.
        grants.chain(self.refuse_until_ms).max()
    }

    /// A promise: for our election (Multi) or our proposal (Basic).
    pub(super) fn on_promise(
        &mut self,
        from: NodeId,
        ballot: Ballot,
        slot: Slot,
        accepted: Vec<(Slot, Ballot, Batch)>,
        chosen_upto: Slot,
        out: &mut Vec<Output>,
    ) {
        if self.cfg.mode == Mode::Basic {
            return self.on_basic_promise(from, ballot, slot, accepted, chosen_upto, out);
        }
        if self.role == Role::Candidate && ballot == self.ballot && slot == self.election_from {
            self.promises.insert(from, (accepted, chosen_upto));
            self.maybe_win(out);
        }
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
        if self.bug.is_none() && self.chosen.range(end..).next().is_some() {
            // A value chosen past every slot our promisers accepted in was
            // chosen at a higher ballot (a majority that accepted it at a
            // lower one would include a promiser): we are deposed, and
            // leading on we would propose over it.
            let ballot = self.ballot;
            return self.step_down(ballot, out);
        }
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

    /// An acceptor refused `ballot`, having promised `promised`.
    pub(super) fn on_nack(&mut self, ballot: Ballot, promised: Ballot, out: &mut Vec<Output>) {
        if self.cfg.mode == Mode::Basic {
            return self.on_basic_nack(ballot, promised, out);
        }
        if ballot == self.ballot && promised > self.ballot {
            self.step_down(promised, out);
        }
    }

    pub(super) fn step_down(&mut self, higher: Ballot, out: &mut Vec<Output>) {
        let was_leading = self.role != Role::Follower;
        self.ballot.round = self.ballot.round.max(higher.round);
        self.role = Role::Follower;
        self.leader = (higher.node != self.cfg.id && higher.node != 0).then_some(higher.node);
        self.promises.clear();
        // A later term starts its group commit afresh (a pending timer
        // still fires, and finds nothing to do).
        self.batch.mark = 0;
        self.batch.due = false;
        // Proposed but not chosen: may still be chosen by the next leader.
        for (_, f) in std::mem::take(&mut self.inflight) {
            for cmd in f.batch.0.iter() {
                self.answer(cmd, ErrorCode::LeaderChanged.reply(), out);
            }
        }
        // Never proposed here. A local caller's command is definitely not
        // done (a retry of one the client heard nothing definite of is the
        // client's to judge). A forwarded one may have another copy
        // elsewhere (the network may duplicate a forward, and a copy in a
        // slot of an earlier ballot may yet be chosen), so its sender hears
        // "leader changed", as `on_forward` tells it. Queued copies are
        // common: commands wait while a slot is out
        // (`Config::pipeline_slots`). A copy in a slot chosen but not yet
        // applied here answers its waiters when applied, and a waiter
        // already answered (its command's other copy was in flight) hears
        // nothing more.
        let queue = std::mem::take(&mut self.queue);
        let chosen_unapplied: BTreeSet<(u64, u64)> = if queue.is_empty() {
            BTreeSet::new()
        } else {
            self.chosen
                .range(self.first_unchosen..)
                .flat_map(|(_, b)| b.0.iter().map(|c| (c.client, c.seq)))
                .collect()
        };
        for (waiter, cmd) in queue {
            let key = (cmd.client, cmd.seq);
            let waiting = self
                .waiters
                .get(&key)
                .is_some_and(|(_, ws)| ws.contains(&waiter));
            if !waiting || chosen_unapplied.contains(&key) {
                continue;
            }
            self.forget(waiter, &cmd);
            let code = match waiter {
                Waiter::Remote(..) => ErrorCode::LeaderChanged,
                Waiter::Local(_) => ErrorCode::NoLeader,
            };
            self.send_reply(waiter, code.reply(), out);
        }
        self.lease_until_ms = 0;
        self.ready_at = u64::MAX;
        if was_leading {
            self.set_election_timer(out);
        }
    }

    pub(super) fn heartbeat(&mut self, out: &mut Vec<Output>) {
        let sent_ms = self.now_ms;
        // Acks count only toward a lease (see `on_heartbeat`).
        if self.cfg.reads == ReadMode::Lease {
            self.heartbeat_acks
                .insert(sent_ms, NodeSet::of(self.cfg.id));
            // Keep only recent rounds of acks: bounded.
            while self.heartbeat_acks.len() > 16 {
                self.heartbeat_acks.pop_first();
            }
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
                    chosen_upto: self.first_unchosen,
                },
                out,
            );
        }
    }

    /// A leader's heartbeat: follow it, catch up with it, and, with lease
    /// reads, ack it (which grants it a lease).
    pub(super) fn on_heartbeat(
        &mut self,
        from: NodeId,
        ballot: Ballot,
        first_unchosen: Slot,
        sent_ms: u64,
        out: &mut Vec<Output>,
    ) {
        // (The planted acceptor that ignores its promise follows any leader.)
        if ballot < self.acceptor.promised() && self.bug != Some(PlantedBug::IgnorePromise) {
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
        self.learn_from_leader(from, ballot, first_unchosen, out);
        if first_unchosen > self.first_unchosen {
            // Every heartbeat: requests and answers may be lost.
            self.catch_up(from, true, out);
        }
        // An ack only ever extends the leader's lease: without lease reads
        // it would be a message each way per heartbeat for nothing. (A
        // leader that lost its followers learns it from their Nacks or a
        // higher ballot, as before; the acks never told it.)
        if self.cfg.reads == ReadMode::Lease {
            out.push(Output::Send {
                to: from,
                msg: Msg::HeartbeatAck { ballot, sent_ms },
            });
        }
    }

    pub(super) fn follow(&mut self, leader: NodeId, ballot: Ballot, out: &mut Vec<Output>) {
        if ballot > self.ballot && self.role != Role::Follower {
            self.step_down(ballot, out);
        }
        if ballot.node == leader {
            if self.leader.is_some_and(|old| old != leader) {
                self.forwards_lost(out);
            }
            self.leader = Some(leader);
            self.last_leader_contact_ms = Some(self.now_ms);
            if self.cfg.reads == ReadMode::Lease {
                self.granted.insert(leader, self.now_ms);
            }
        }
    }

    /// A follower acked our heartbeat sent at `sent_ms`: a majority of acks
    /// extends the lease.
    pub(super) fn on_heartbeat_ack(&mut self, from: NodeId, ballot: Ballot, sent_ms: u64) {
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
                    // Two margins keep the lease inside every grant:
                    // it counts from when the heartbeat was sent (not
                    // when the acks came back: the messages, or a pause
                    // of this node, may have taken any time), and it is
                    // shorter than the grant by what clocks running at
                    // different rates can add. The planted bug drops both.
                    let until = if self.bug == Some(PlantedBug::LeaseWithoutMargin) {
                        self.now_ms.saturating_add(self.cfg.lease_ms)
                    } else {
                        sent_ms.saturating_add(self.cfg.lease_trusted_ms())
                    };
                    self.lease_until_ms = self.lease_until_ms.max(until);
                }
            }
        }
    }
}
