//! Phase 2 as the Multi-Paxos leader runs it: batching queued commands
//! into slots (several in flight), the acceptor's answer to `Accept`, and
//! counting `Accepted` acks until a slot is chosen.
//!
//! `propose` is also the entry point for Basic Paxos (it starts a proposal,
//! see `basic`), and `on_accept` serves both modes; the Basic half of
//! `Accepted` is in `basic`.

use super::{InFlight, Replica, Role};
use crate::paxos::planted::PlantedBug;
use crate::paxos::types::{
    Ballot, Batch, Mode, Msg, NodeId, NodeSet, Output, ReadMode, Slot, Timer,
};

impl Replica {
    /// Proposes queued commands: as leader (Multi) or by starting a Basic
    /// Paxos proposal.
    pub(super) fn propose(&mut self, out: &mut Vec<Output>) {
        match self.cfg.mode {
            Mode::Multi => {
                // With `pipeline_slots` slots of commands in flight only
                // full slots open: a part batch waits for a slot to be
                // chosen, and fills. With room, it opens once it is as
                // large as the last batch, or when its wait is over.
                while self.role == Role::Leader
                    && !self.queue.is_empty()
                    && self.inflight.len() < self.cfg.inflight_max
                    && (self.queue.len() >= self.cfg.batch_max
                        || (self.pipeline_has_room() && self.part_batch_ready()))
                {
                    let take = self.queue.len().min(self.cfg.batch_max);
                    let batch =
                        Batch::from(self.queue.drain(..take).map(|(_, c)| c).collect::<Vec<_>>());
                    // A full slot says nothing of how many come back
                    // together: only part batches set the mark.
                    if take < self.cfg.batch_max {
                        self.batch.mark = take;
                    }
                    self.batch.due = false;
                    let slot = self.next_slot;
                    self.next_slot += 1;
                    self.send_accept(slot, batch, out);
                }
                if self.role == Role::Leader && self.holds_part_batch() && !self.batch.timer_set {
                    self.batch.timer_set = true;
                    out.push(Output::SetTimer {
                        timer: Timer::Batch,
                        min_ms: self.cfg.batch_wait_ms,
                        max_ms: self.cfg.batch_wait_ms,
                    });
                }
            }
            Mode::Basic => {
                if self.proposal.is_none() && !self.queue.is_empty() {
                    self.start_proposal(None, out);
                }
            }
        }
    }

    /// Whether queued commands wait although a slot could open for them
    /// (group commit): a timer must then end their wait.
    pub(super) fn holds_part_batch(&self) -> bool {
        !self.queue.is_empty()
            && self.inflight.len() < self.cfg.inflight_max
            && self.pipeline_has_room()
    }

    /// Whether a part batch may open now: it has grown to the last batch's
    /// size, its wait is over, or it never waits.
    fn part_batch_ready(&self) -> bool {
        self.cfg.batch_wait_ms == 0 || self.batch.due || self.queue.len() >= self.batch.mark
    }

    /// The group-commit wait is over: whatever is queued may open a slot.
    pub(super) fn on_batch_timeout(&mut self, out: &mut Vec<Output>) {
        self.batch.timer_set = false;
        if self.role == Role::Leader && !self.queue.is_empty() {
            self.batch.due = true;
            self.propose(out);
            // A wait that ends with the pipeline full ends for nothing: the
            // next chance to open is when a slot is chosen, and then the
            // batch waits afresh.
            self.batch.due = false;
        }
    }

    /// Whether fewer than `pipeline_slots` slots in flight carry commands
    /// (no-ops, a new leader's or a read's, carry none and hold nothing
    /// back).
    fn pipeline_has_room(&self) -> bool {
        let room = self.cfg.pipeline_slots.max(1);
        self.inflight
            .values()
            .filter(|f| !f.batch.0.is_empty())
            .take(room)
            .count()
            < room
    }

    pub(super) fn send_accept(&mut self, slot: Slot, batch: Batch, out: &mut Vec<Output>) {
        let ballot = self.ballot;
        // A leader proposes in a slot known chosen only that slot's value
        // (re-proposing after an election): its Accepts claim that every
        // slot below its first unchosen holds what it proposed there.
        if self.bug.is_none() {
            assert!(
                self.chosen.get(&slot).is_none_or(|c| *c == batch) && slot >= self.log_start,
                "slot {slot} proposed against its chosen value"
            );
        }
        match self.acceptor.accept(ballot, slot, &batch) {
            Ok(record) => out.push(Output::Persist(record)),
            Err(higher) => return self.step_down(higher, out),
        }
        self.inflight.insert(
            slot,
            InFlight {
                batch: batch.clone(),
                acks: NodeSet::of(self.cfg.id),
            },
        );
        self.broadcast(
            &Msg::Accept {
                ballot,
                slot,
                batch,
                chosen_upto: self.first_unchosen,
            },
            out,
        );
        self.check_chosen(slot, out);
    }

    pub(super) fn on_accept(
        &mut self,
        from: NodeId,
        ballot: Ballot,
        slot: Slot,
        batch: Batch,
        chosen_upto: Slot,
        out: &mut Vec<Output>,
    ) {
        if slot < self.first_unchosen && self.bug == Some(PlantedBug::IgnorePromise) {
            // The planted acceptor acks whatever it is asked.
            return out.push(Output::Send {
                to: from,
                msg: Msg::Accepted { ballot, slot },
            });
        }
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
            let msg = self.chosen_answer(slot);
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
                if from != self.cfg.id {
                    self.learn_from_leader(from, ballot, chosen_upto, out);
                    if self.first_unchosen < chosen_upto {
                        self.catch_up(from, false, out);
                    }
                    if self.role == Role::Leader {
                        // Slots learned here (only ever from a deposed
                        // leader's duplicate, with a planted bug) leave
                        // room in the pipeline like slots chosen.
                        self.propose(out);
                    }
                }
            }
            Err(promised) => out.push(Output::Send {
                to: from,
                msg: Msg::Nack { ballot, promised },
            }),
        }
    }

    /// An acceptor accepted `ballot` in `slot`.
    pub(super) fn on_accepted(
        &mut self,
        from: NodeId,
        ballot: Ballot,
        slot: Slot,
        out: &mut Vec<Output>,
    ) {
        if self.cfg.mode == Mode::Basic {
            return self.on_basic_accepted(from, ballot, slot, out);
        }
        if self.role == Role::Leader && ballot == self.ballot {
            if let Some(f) = self.inflight.get_mut(&slot) {
                f.acks.insert(from);
            }
            self.check_chosen(slot, out);
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
        // Followers learn this slot from our next Accept or heartbeat
        // (`learn_from_leader`): one message per slot and follower fewer.
        // Quorum reads wait on a follower's applied slot, so there it is
        // told at once.
        if self.cfg.reads == ReadMode::Quorum {
            self.broadcast(
                &Msg::Chosen {
                    slot,
                    batch: batch.clone(),
                },
                out,
            );
        }
        self.learn(slot, batch, out);
        self.propose(out);
    }
}
