//! Client requests and who waits for them: a request is read without the
//! log (see `reads`), queued here for the next proposal, or forwarded to
//! the leader; each command remembers its waiters (local clients and
//! forwarding replicas) until it is applied, fails, or outlives the
//! request ttl.

use super::{Replica, Role, Waiter};
use crate::kv::Command;
use crate::paxos::types::{ErrorCode, Mode, Msg, NodeId, Output, Reply, RequestId};

impl Replica {
    /// A client's request: a read served without the log where the read
    /// mode allows, otherwise a command queued here or forwarded to the
    /// leader.
    pub(super) fn on_request(
        &mut self,
        request: RequestId,
        command: Command,
        out: &mut Vec<Output>,
    ) {
        let command = if command.op.is_read() {
            match self.serve_read(request, command, out) {
                Some(command) => command,
                None => return,
            }
        } else {
            command
        };
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

    /// The leader we forwarded to is no longer ours: its answers to our
    /// forwards may never come. Tell those callers now that the outcome is
    /// unknown (the command may still be chosen), so they can go on rather
    /// than wait out their timeouts.
    pub(super) fn forwards_lost(&mut self, out: &mut Vec<Output>) {
        for request in std::mem::take(&mut self.forwarded).into_keys() {
            out.push(Output::Reply {
                request,
                reply: ErrorCode::LeaderChanged.reply(),
            });
        }
    }

    /// Another replica forwarded its client's command to us as leader.
    pub(super) fn on_forward(
        &mut self,
        from: NodeId,
        request: RequestId,
        command: Command,
        out: &mut Vec<Output>,
    ) {
        // A duplicate of a forward (the network may deliver one twice, or
        // late to a later life of this node) may be queued again: the state
        // machine applies a command without a session at most once (see
        // `KvStore::apply`).
        if self.role == Role::Leader {
            self.enqueue(Waiter::Remote(from, request), command, out);
            self.propose(out);
        } else {
            // Not `NoLeader`: another copy of this forward may have reached
            // us while we led (or in an earlier life) and still be chosen,
            // so a refusal of this copy says nothing definite.
            out.push(Output::Send {
                to: from,
                msg: Msg::ForwardReply {
                    request,
                    reply: ErrorCode::LeaderChanged.reply(),
                },
            });
        }
    }

    /// The leader answered a request we forwarded.
    pub(super) fn on_forward_reply(
        &mut self,
        request: RequestId,
        reply: Reply,
        out: &mut Vec<Output>,
    ) {
        if self.forwarded.remove(&request).is_some() {
            out.push(Output::Reply { request, reply });
        }
    }

    pub(super) fn answer(&mut self, cmd: &Command, reply: Reply, out: &mut Vec<Output>) {
        if let Some((_, waiters)) = self.waiters.remove(&(cmd.client, cmd.seq)) {
            for w in waiters {
                self.send_reply(w, reply.clone(), out);
            }
        }
    }

    pub(super) fn send_reply(&mut self, waiter: Waiter, reply: Reply, out: &mut Vec<Output>) {
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

    pub(super) fn forget(&mut self, waiter: Waiter, cmd: &Command) {
        if let Some((_, ws)) = self.waiters.get_mut(&(cmd.client, cmd.seq)) {
            ws.retain(|w| *w != waiter);
            if ws.is_empty() {
                self.waiters.remove(&(cmd.client, cmd.seq));
            }
        }
    }

    /// Tells every caller that waited longer than the request ttl that the
    /// outcome is unknown, and forgets it: a reply lost on the way (a
    /// forward's answer, a probe's) must not keep an entry forever.
    pub(super) fn expire(&mut self, out: &mut Vec<Output>) {
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
}
