//! Learning chosen values and catching up: recording a chosen slot and
//! applying the contiguous prefix, compacting it into a snapshot, asking a
//! peer that is ahead for the slots this replica misses (and answering
//! such requests), and installing a peer's snapshot when the slots it
//! needs were compacted away there.

use super::{Replica, Role, CATCH_UP_MAX};
use crate::paxos::types::{
    Ballot, Batch, ErrorCode, Mode, Msg, NodeId, Output, Record, Reply, Slot, Snapshot,
};

impl Replica {
    /// A Multi-Paxos leader at `ballot` says every slot below `upto` is
    /// chosen (its `Accept` and heartbeat carry its first unchosen slot):
    /// learns each of them, in order, whose value this acceptor accepted
    /// at that same ballot. (The callers ask the leader for the rest.)
    ///
    /// Why the accepted value is the chosen one: only one proposer ever
    /// sends `Accept` at a ballot, in one life (a restart promises above
    /// every round it promised, and a candidate's own promise is synced
    /// before its first `Accept`), and it proposes one value per slot. A
    /// leader whose proposal in a slot lost to a value chosen at a higher
    /// ballot learns that value from a message at that ballot, which
    /// deposes it first, or through `learn`, which steps it down; so while
    /// it leads at `ballot`, its chosen value in every slot where it
    /// proposed is its proposal. Chosen values never change, so the claim
    /// still holds when the message arrives late.
    pub(super) fn learn_from_leader(
        &mut self,
        leader: NodeId,
        ballot: Ballot,
        upto: Slot,
        out: &mut Vec<Output>,
    ) {
        if self.cfg.mode != Mode::Multi || ballot.node != leader {
            return;
        }
        while self.first_unchosen < upto {
            let slot = self.first_unchosen;
            let value = match self.acceptor.accepted(slot) {
                Some((b, v)) if *b == ballot => v.clone(),
                _ => break,
            };
            self.learn(slot, value, out);
            // `learn` applies the slot, unless a planted bug chose two.
            if self.first_unchosen == slot {
                break;
            }
        }
    }

    pub(super) fn learn(&mut self, slot: Slot, batch: Batch, out: &mut Vec<Output>) {
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
        // The value is in the log already when this node accepted it (the
        // acceptor's state is what the log's records rebuild): name it.
        let record = match self.acceptor.accepted(slot) {
            Some((ballot, accepted)) if *accepted == batch => Record::ChosenAccepted {
                slot,
                ballot: *ballot,
            },
            _ => Record::Chosen {
                slot,
                batch: batch.clone(),
            },
        };
        out.push(Output::Persist(record));
        if self.proposal.as_ref().is_some_and(|p| p.slot == slot) {
            let p = self.proposal.take().expect("checked above");
            // Our commands were proposed in this slot only: if another
            // value took it, they are certainly not chosen and go back to
            // the queue. (Comparing whole batches is enough: a proposer
            // that adopts our value adopts all of it.)
            if *batch.0 != p.ours {
                self.requeue(p.ours);
            }
        }
        if let Some(f) = self.inflight.remove(&slot) {
            if f.batch != batch {
                // A higher ballot chose this slot: we were deposed. Our
                // commands lost this slot, the only one they were in; say
                // so honestly (we cannot rule out a retry elsewhere).
                for cmd in f.batch.0.iter() {
                    self.answer(cmd, ErrorCode::LeaderChanged.reply(), out);
                }
                if self.role == Role::Leader {
                    let ballot = self.ballot;
                    self.step_down(ballot, out);
                }
            }
        }
        if self.cfg.mode == Mode::Multi && self.role == Role::Leader && slot >= self.next_slot {
            // Our phase 1 covered every slot from `next_slot` on, so a value
            // chosen there was chosen at a higher ballot: we were deposed.
            // Leading on, we would propose in this slot and our Accepts
            // would claim it holds our value (`learn_from_leader`).
            let ballot = self.ballot;
            self.step_down(ballot, out);
        }
        self.chosen.insert(slot, batch);
        self.advance(out);
    }

    /// Moves `first_unchosen` over contiguous chosen slots and applies them.
    pub(super) fn advance(&mut self, out: &mut Vec<Output>) {
        while let Some(batch) = self.chosen.get(&self.first_unchosen).cloned() {
            // A slot we re-proposed after an election, knowing its value,
            // may be chosen with no acks to count: its acceptors had
            // learned it and answered with the value. Nothing is left to
            // wait for there (left in flight, it would be resent with every
            // heartbeat and hold an in-flight place until the next leader).
            if let Some(f) = self.inflight.remove(&self.first_unchosen) {
                if f.batch != batch {
                    // Only with a planted bug (`send_accept` and `learn`
                    // keep them equal); then as `learn` does.
                    assert!(
                        self.bug.is_some(),
                        "an in-flight slot holds its chosen value (slot {})",
                        self.first_unchosen
                    );
                    for cmd in f.batch.0.iter() {
                        self.answer(cmd, ErrorCode::LeaderChanged.reply(), out);
                    }
                    if self.role == Role::Leader {
                        let ballot = self.ballot;
                        self.step_down(ballot, out);
                    }
                }
            }
            for cmd in batch.0.iter() {
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

    /// The value chosen in `slot`, if known here. (Not the acceptor's:
    /// an acceptor may hold a value that lost.)
    pub(super) fn chosen_value(&self, slot: Slot) -> Option<Batch> {
        self.chosen.get(&slot).cloned()
    }

    /// Remembers that `peer` has every slot below `upto` chosen.
    pub(super) fn note_ahead(&mut self, peer: NodeId, upto: Slot) {
        if peer != self.cfg.id && self.ahead.is_none_or(|(_, known)| upto > known) {
            self.ahead = Some((peer, upto));
        }
    }

    /// One past the highest slot this replica knows to be chosen, here or
    /// What to tell a proposer that asks about `slot`, already chosen
    /// here: its value, or the snapshot that holds it.
    pub(super) fn chosen_answer(&self, slot: Slot) -> Msg {
        match self.chosen_value(slot) {
            Some(batch) => Msg::Chosen { slot, batch },
            None => Msg::InstallSnapshot {
                snapshot: Snapshot {
                    upto: self.applied,
                    store: self.kv.clone(),
                },
            },
        }
    }

    /// at a peer.
    pub(super) fn known_chosen_end(&self) -> Slot {
        let here = self.chosen.keys().next_back().map_or(0, |s| s + 1);
        let there = self.ahead.map_or(0, |(_, upto)| upto);
        here.max(there).max(self.first_unchosen)
    }

    /// Asks `peer` for the chosen values from `first_unchosen` on (one
    /// batch), unless one was asked for and has not all arrived yet and
    /// `again` is false. Periodic callers pass `again`: a request or its
    /// answer may be lost, and nothing else would ask again.
    pub(super) fn catch_up(&mut self, peer: NodeId, again: bool, out: &mut Vec<Output>) {
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

    /// A peer asks for the chosen values from `start` on (one batch).
    pub(super) fn on_catch_up(&mut self, from: NodeId, start: Slot, out: &mut Vec<Output>) {
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

    /// A peer says what was chosen in `slot`.
    pub(super) fn on_chosen(
        &mut self,
        from: NodeId,
        slot: Slot,
        batch: Batch,
        out: &mut Vec<Output>,
    ) {
        self.learn(slot, batch, out);
        // Missing slots below one we know chosen (a gap, or the
        // end of a catch-up batch short of the target): ask the
        // sender for the next batch, unless a request is pending.
        if self.first_unchosen < self.known_chosen_end() {
            self.catch_up(from, false, out);
        }
        self.propose(out);
    }

    /// A peer sent its whole state.
    pub(super) fn on_install_snapshot(&mut self, snapshot: Snapshot, out: &mut Vec<Output>) {
        self.install(snapshot, out);
        self.propose(out);
    }

    /// Takes a peer's snapshot when it is ahead of this replica.
    fn install(&mut self, snapshot: Snapshot, out: &mut Vec<Output>) {
        if snapshot.upto <= self.first_unchosen {
            return;
        }
        if self.role == Role::Leader && self.inflight.range(..snapshot.upto).next().is_some() {
            // The snapshot covers slots we proposed in without saying what
            // was chosen there: another leader's values, perhaps. Our
            // Accepts and heartbeats would then claim those slots hold our
            // proposals (`learn_from_leader`), so we stop leading. (Safe
            // but conservative: when the values were ours after all, this
            // costs an election.)
            let ballot = self.ballot;
            self.step_down(ballot, out);
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
}
