//! Basic Paxos: the replica that receives a command runs both phases for
//! the first unchosen slot itself, one proposal at a time, and on a
//! conflict starts over in the same slot with a higher ballot after a
//! random backoff.
//!
//! Here are the proposal's life (phase 1, phase 2, stalling) and the Basic
//! halves of `Promise`, `Nack` and `Accepted`; the acceptor side and the
//! learning of the chosen value are shared with Multi-Paxos.

use super::{Proposal, Replica, Waiter};
use crate::kv::Command;
use crate::paxos::planted::PlantedBug;
use crate::paxos::types::{Ballot, Batch, Msg, NodeId, NodeSet, Output, Slot};

impl Replica {
    /// Runs phase 1 for the first unchosen slot: a fresh proposal with
    /// commands from the queue, or `restart`, an earlier proposal for that
    /// same slot, again with a higher ballot and the same commands.
    pub(super) fn start_proposal(&mut self, restart: Option<Proposal>, out: &mut Vec<Output>) {
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
            promises: NodeSet::default(),
            highest: None,
            value: None,
            acks: NodeSet::default(),
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

    pub(super) fn on_basic_promise(
        &mut self,
        from: NodeId,
        ballot: Ballot,
        slot: Slot,
        accepted: Vec<(Slot, Ballot, Batch)>,
        chosen_upto: Slot,
        out: &mut Vec<Output>,
    ) {
        if chosen_upto > self.first_unchosen {
            self.catch_up(from, true, out);
        }
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
                None => Batch::from(p.ours.clone()),
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
                p.ours_sent |= *value.0 == p.ours;
            }
            self.broadcast(
                &Msg::Accept {
                    ballot,
                    slot,
                    batch: value,
                    // Basic Paxos proposers claim nothing about other slots.
                    chosen_upto: 0,
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

    /// An acceptor accepted `ballot` in `slot`: an ack for our proposal.
    pub(super) fn on_basic_accepted(
        &mut self,
        from: NodeId,
        ballot: Ballot,
        slot: Slot,
        out: &mut Vec<Output>,
    ) {
        if let Some(p) = self.proposal.as_mut() {
            if p.ballot == ballot && p.slot == slot && p.value.is_some() {
                p.acks.insert(from);
            }
        }
        self.basic_progress(out);
    }

    /// An acceptor refused `ballot`, having promised `promised`.
    pub(super) fn on_basic_nack(
        &mut self,
        ballot: Ballot,
        promised: Ballot,
        out: &mut Vec<Output>,
    ) {
        self.ballot.round = self.ballot.round.max(promised.round);
        if self.proposal.as_ref().is_some_and(|p| p.ballot == ballot) {
            self.stall_proposal(out);
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
    pub(super) fn requeue(&mut self, commands: Vec<Command>) {
        for cmd in commands.into_iter().rev() {
            let waiter = self
                .waiters
                .get(&(cmd.client, cmd.seq))
                .and_then(|(_, w)| w.first().copied())
                .unwrap_or(Waiter::Local(u64::MAX));
            self.queue.push_front((waiter, cmd));
        }
    }
}
