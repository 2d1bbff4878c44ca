//! Client reads that do not go through the log: local reads, lease reads
//! (the leader answers alone while a majority's lease holds), and quorum
//! reads (probe a majority for what it accepted, wait until that much is
//! applied, then answer). Reads in `ReadMode::Log`, and lease reads without
//! a valid lease, are ordinary commands (see `clients`).

use super::{QuorumRead, Replica, Role};
use crate::kv::Command;
use crate::paxos::types::{
    Batch, ErrorCode, Mode, Msg, NodeId, NodeSet, Output, ReadMode, Reply, RequestId, Slot,
};

impl Replica {
    /// Answers a read without the log if the read mode allows it (or starts
    /// a quorum read); gives the command back if it must go through the log.
    pub(super) fn serve_read(
        &mut self,
        request: RequestId,
        command: Command,
        out: &mut Vec<Output>,
    ) -> Option<Command> {
        match self.cfg.reads {
            ReadMode::Local => {
                let result = self.kv.read(&command.op).expect("reads have local answers");
                out.push(Output::Reply {
                    request,
                    reply: Reply::Ok(result),
                });
                None
            }
            ReadMode::Lease if self.lease_valid() => {
                let result = self.kv.read(&command.op).expect("reads have local answers");
                out.push(Output::Reply {
                    request,
                    reply: Reply::Ok(result),
                });
                None
            }
            ReadMode::Quorum => {
                self.start_quorum_read(request, command, out);
                None
            }
            ReadMode::Log | ReadMode::Lease => Some(command),
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
                replies: NodeSet::of(self.cfg.id),
                wait_for: self.acceptor.accepted_end(),
                started_ms: self.now_ms,
                fill_asked: false,
            },
        );
        self.broadcast(&Msg::ReadProbe { probe }, out);
        self.finish_reads(out);
    }

    /// A peer's probe for a quorum read: say how far its log reaches here.
    pub(super) fn on_read_probe(&self, from: NodeId, probe: u64, out: &mut Vec<Output>) {
        out.push(Output::Send {
            to: from,
            msg: Msg::ReadProbeReply {
                probe,
                accepted_end: self.acceptor.accepted_end().max(self.first_unchosen),
                chosen_upto: self.first_unchosen,
            },
        })
    }

    /// A peer's answer to our probe.
    pub(super) fn on_read_probe_reply(
        &mut self,
        from: NodeId,
        probe: u64,
        accepted_end: Slot,
        chosen_upto: Slot,
        out: &mut Vec<Output>,
    ) {
        if let Some(r) = self.reads.get_mut(&probe) {
            r.replies.insert(from);
            r.wait_for = r.wait_for.max(accepted_end);
        }
        // The read may wait for slots this peer knows chosen: nothing else
        // would tell us (Basic Paxos has no heartbeats), so ask for them.
        if chosen_upto > self.first_unchosen && self.reads.contains_key(&probe) {
            self.note_ahead(from, chosen_upto);
            self.catch_up(from, false, out);
        }
        self.finish_reads(out);
    }

    pub(super) fn finish_reads(&mut self, out: &mut Vec<Output>) {
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
        // A read may wait for slots nobody is proposing (accepted by a
        // proposer or leader that died, say): in Basic Paxos, propose for
        // the first of them (a no-op, unless phase 1 finds a value to
        // finish); as leader, fill the gap with no-ops; as a follower, ask
        // the leader to, once a majority has answered and nobody is known
        // to have those slots chosen.
        if self.cfg.mode == Mode::Basic {
            let waiting = self
                .reads
                .values()
                .any(|r| r.wait_for > self.first_unchosen);
            if waiting && self.proposal.is_none() {
                self.start_proposal(None, out);
            }
            return;
        }
        let need = self.reads.values().map(|r| r.wait_for).max().unwrap_or(0);
        if self.role == Role::Leader {
            return self.fill(need, out);
        }
        let known = self.known_chosen_end();
        let Some(leader) = self.leader else { return };
        let mut ask = 0;
        for r in self.reads.values_mut() {
            if !r.fill_asked && r.replies.len() >= quorum && r.wait_for > known {
                r.fill_asked = true;
                ask = ask.max(r.wait_for);
            }
        }
        if ask > 0 {
            out.push(Output::Send {
                to: leader,
                msg: Msg::Fill { upto: ask },
            });
        }
    }
}

impl Replica {
    /// A follower's read waits for every slot below `upto`.
    pub(super) fn on_fill(&mut self, upto: Slot, out: &mut Vec<Output>) {
        if self.role == Role::Leader {
            self.fill(upto, out);
        }
    }

    /// As leader: proposes no-ops in fresh slots up to `upto` (as many as
    /// there is room for in flight), so that a read waiting for a slot
    /// accepted only by a deposed leader is not kept waiting forever. Our
    /// phase 1 covered every slot from `next_slot` on, so these are ours.
    fn fill(&mut self, upto: Slot, out: &mut Vec<Output>) {
        while self.role == Role::Leader
            && self.next_slot < upto
            && self.inflight.len() < self.cfg.inflight_max
        {
            let slot = self.next_slot;
            self.next_slot += 1;
            self.send_accept(slot, Batch::default(), out);
        }
    }
}
