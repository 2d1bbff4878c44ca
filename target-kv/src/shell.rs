//! The node's own decisions around the consensus core, as a plain struct
//! that both the tokio node ([`crate::node`]) and the deterministic
//! simulator drive: recovery from the bytes on disk, request ids, the table
//! of callers waiting for an answer, timer deadlines, and the order in which
//! a step's effects happen (records durable, then the snapshot and the
//! rewritten log, and only then messages and replies).
//!
//! It does no I/O of its own. Storage is reached through [`Durable`]; time
//! is passed in ([`Now`]); messages and replies come back as [`Effects`]
//! for the driver to carry out.

use crate::kv::Command;
use crate::paxos::{
    Config, ErrorCode, Input, Mode, Msg, NodeId, Output, PlantedBug, ReadMode, Record, Replica,
    Reply, RequestId, Role, Snapshot, Timer,
};
use std::collections::BTreeMap;

/// Ids are `incarnation << ID_COUNTER_BITS | counter`, as the core's probes.
const ID_COUNTER_BITS: u32 = crate::paxos::ID_COUNTER_BITS;

/// Most callers waiting at once; past it the oldest is told the outcome is
/// unknown. The core bounds its own tables below this.
pub const PENDING_MAX: usize = 65_536;

/// The two clocks a step reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Now {
    /// Monotonic time, for timer deadlines and request ages (the OS's
    /// monotonic clock in a node; simulated time in the simulator).
    pub mono_ms: u64,
    /// The node's own clock, which leases read (skewed by clock faults).
    pub clock_ms: u64,
}

/// Where a node's durable state goes. Every call is durable when it
/// returns `Ok`; an `Err` means the node must stop at once, since what is
/// on disk is unknown (the simulator also uses it to crash a node between
/// two writes).
pub trait Durable {
    /// Why a write failed.
    type Error: std::fmt::Display;
    /// Appends the step's records to the log; with `sync`, they (and
    /// everything written before them) are durable when it returns.
    ///
    /// Without `sync` they only reach the file: a crash of the machine may
    /// lose them, as a suffix of the log (the next synced append makes
    /// them durable too). The shell asks for that only when every record
    /// of the step says what was learned ([`Record::Chosen`],
    /// [`Record::ChosenAccepted`]), which
    /// safety never rests on: the value is durable at a majority of
    /// acceptors, so a node that forgets it learns it again.
    fn append(&mut self, records: &[Vec<u8>], sync: bool) -> Result<(), Self::Error>;
    /// Offers a message that may leave before the step's records are
    /// synced: a proposer's request (`Prepare`, `Accept`) claims nothing
    /// about this node's durable state (an `Accept`'s `chosen_upto` speaks
    /// only of values already chosen, durable at a majority), so sending
    /// it while this node's
    /// own write is under way lets the peers' fsyncs overlap it. A driver
    /// that sends it now returns `None`; the default hands it back, and it
    /// leaves with the step's other messages.
    fn send_early(&mut self, to: NodeId, msg: Msg) -> Option<(NodeId, Msg)> {
        Some((to, msg))
    }
    /// Makes everything appended so far durable (after appends without
    /// `sync`).
    fn sync(&mut self) -> Result<(), Self::Error>;
    /// Replaces the snapshot, atomically.
    fn write_snapshot(&mut self, snapshot: &[u8]) -> Result<(), Self::Error>;
    /// Replaces the whole log with these records, atomically.
    fn rewrite(&mut self, records: &[Vec<u8>]) -> Result<(), Self::Error>;
}

/// What a step asks the driver to do once its state is durable.
#[derive(Debug)]
pub struct Effects<T> {
    /// Messages to peers, in order.
    pub sends: Vec<(NodeId, Msg)>,
    /// Answers to callers, in order.
    pub replies: Vec<(T, Reply)>,
}

impl<T> Default for Effects<T> {
    fn default() -> Self {
        Effects {
            sends: Vec::new(),
            replies: Vec::new(),
        }
    }
}

/// Why the state on disk could not be read back.
#[derive(Debug, thiserror::Error)]
pub enum RecoverError {
    /// A log record did not decode.
    #[error("log record {index} does not decode: {message}")]
    Record {
        /// Which record (0-based).
        index: usize,
        /// What the decoder said.
        message: String,
    },
    /// The snapshot did not decode.
    #[error("the snapshot does not decode: {0}")]
    Snapshot(String),
}

/// What the status page shows.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct Status {
    /// Node id.
    pub id: NodeId,
    /// follower / candidate / leader.
    pub role: String,
    /// Proposer ballot (round, node).
    pub ballot: (u64, NodeId),
    /// Acceptor promise (round, node).
    pub promised: (u64, NodeId),
    /// The leader this node believes in.
    pub leader: Option<NodeId>,
    /// One past the last chosen slot of the contiguous prefix.
    pub first_unchosen: u64,
    /// One past the last applied slot.
    pub applied: u64,
    /// multi or basic.
    pub consensus: String,
    /// log, quorum, lease or local (unsafe).
    pub reads: String,
    /// This life of the node (1: first boot).
    pub incarnation: u64,
}

/// The most bytes of learned values written without a sync.
const UNSYNCED_BYTES_MAX: usize = 64 * 1024;

/// How many record buffers a shell keeps between steps.
const ENCODED_BUFFERS_KEPT: usize = 64;

/// Encodes a record for the log.
pub fn encode_record(r: &Record) -> Vec<u8> {
    // Sized for a record of one small command, so most need no regrowth.
    postcard::to_extend(r, Vec::with_capacity(96)).expect("records always serialize")
}

/// Encodes a snapshot for its file.
pub fn encode_snapshot(s: &Snapshot) -> Vec<u8> {
    postcard::to_stdvec(s).expect("snapshots always serialize")
}

/// Decodes the log's records and the snapshot, as read from disk.
pub fn decode_state(
    snapshot: Option<&[u8]>,
    wal: &[Vec<u8>],
) -> Result<(Option<Snapshot>, Vec<Record>), RecoverError> {
    let snapshot = snapshot
        .map(|b| postcard::from_bytes(b).map_err(|e| RecoverError::Snapshot(e.to_string())))
        .transpose()?;
    let records = wal
        .iter()
        .enumerate()
        .map(|(index, p)| {
            postcard::from_bytes(p).map_err(|e| RecoverError::Record {
                index,
                message: e.to_string(),
            })
        })
        .collect::<Result<Vec<Record>, _>>()?;
    Ok((snapshot, records))
}

/// A node's decisions around its replica; `T` is how a caller is answered
/// (a oneshot sender in the node, a client id in the simulator).
#[derive(Debug)]
pub struct Shell<T> {
    replica: Replica,
    /// Callers waiting, by request id, with when they asked (mono ms).
    pending: BTreeMap<RequestId, (u64, T)>,
    next_id: u64,
    /// Timer deadlines (mono ms).
    timers: BTreeMap<Timer, u64>,
    rng: u64,
    /// Scratch for the core's outputs.
    out: Vec<Output>,
    /// Buffers the step's records are encoded into, kept between steps.
    encoded: Vec<Vec<u8>>,
    /// Bytes appended since the last sync.
    unsynced_bytes: usize,
    /// Effects handed back by the driver ([`Shell::recycle`]), whose
    /// buffers the next step fills instead of allocating new ones.
    spare: Option<Effects<T>>,
}

impl<T> Shell<T> {
    /// Recovers a node from the bytes its disk holds (`wal`: the log's
    /// payloads in order). `seed` drives its timers' random delays.
    pub fn recover(
        cfg: Config,
        bug: Option<PlantedBug>,
        snapshot: Option<&[u8]>,
        wal: &[Vec<u8>],
        seed: u64,
    ) -> Result<Shell<T>, RecoverError> {
        let (snapshot, records) = decode_state(snapshot, wal)?;
        let replica = Replica::recover_with_bug(cfg, bug, snapshot, &records);
        let next_id = replica.incarnation() << ID_COUNTER_BITS;
        Ok(Shell {
            replica,
            pending: BTreeMap::new(),
            next_id,
            timers: BTreeMap::new(),
            rng: seed | 1,
            out: Vec::new(),
            encoded: Vec::new(),
            unsynced_bytes: 0,
            spare: None,
        })
    }

    /// Offers the step's proposer requests to the driver before the sync
    /// ([`Durable::send_early`]); the rest keep their order.
    fn send_proposals_early<D: Durable>(&mut self, out: Vec<Output>, disk: &mut D) -> Vec<Output> {
        let is_proposal = |m: &Msg| matches!(m, Msg::Accept { .. } | Msg::Prepare { .. });
        if !out
            .iter()
            .any(|o| matches!(o, Output::Send { msg, .. } if is_proposal(msg)))
        {
            return out;
        }
        let mut kept = Vec::with_capacity(out.len());
        for o in out {
            match o {
                Output::Send { to, msg } if is_proposal(&msg) => {
                    if let Some((to, msg)) = disk.send_early(to, msg) {
                        kept.push(Output::Send { to, msg });
                    }
                }
                o => kept.push(o),
            }
        }
        kept
    }

    /// Hands back a step's effects once carried out, so that the next
    /// step reuses their buffers (a driver that steps thousands of times a
    /// second, like the simulator, then allocates none).
    pub fn recycle(&mut self, mut effects: Effects<T>) {
        effects.sends.clear();
        effects.replies.clear();
        self.spare = Some(effects);
    }

    /// The replica.
    pub fn replica(&self) -> &Replica {
        &self.replica
    }

    /// Callers waiting for an answer.
    pub fn pending(&self) -> usize {
        self.pending.len()
    }

    /// The earliest timer deadline (mono ms), if any timer is set.
    pub fn next_deadline(&self) -> Option<u64> {
        self.timers.values().copied().min()
    }

    /// Boots the replica (its first step).
    pub fn start<D: Durable>(&mut self, now: Now, disk: &mut D) -> Result<Effects<T>, D::Error> {
        self.step(now, Input::Start, Vec::new(), disk)
    }

    /// Client calls, folded into one step. A call without a session
    /// (client 0) gets a sequence number unique to this node and life, so
    /// that its answer finds it.
    pub fn submit<D: Durable>(
        &mut self,
        now: Now,
        calls: impl IntoIterator<Item = (Command, T)>,
        disk: &mut D,
    ) -> Result<Effects<T>, D::Error> {
        let calls = calls.into_iter();
        let mut requests = Vec::with_capacity(calls.size_hint().0);
        let mut callers = Vec::with_capacity(calls.size_hint().0);
        for (mut command, caller) in calls {
            let id = self.next_id;
            self.next_id += 1;
            if command.client == 0 {
                command.seq = crate::kv::anonymous_seq(self.replica.id(), id);
            }
            requests.push((id, command));
            callers.push((id, caller));
        }
        self.step(now, Input::Requests(requests), callers, disk)
    }

    /// A message from a peer.
    pub fn deliver<D: Durable>(
        &mut self,
        now: Now,
        from: NodeId,
        msg: Msg,
        disk: &mut D,
    ) -> Result<Effects<T>, D::Error> {
        self.step(now, Input::Message { from, msg }, Vec::new(), disk)
    }

    /// Messages from peers that arrived together, folded into one step:
    /// the core takes them in order, and their records share one write
    /// (one fsync) before any of their messages or replies leave, as if
    /// they were one message. A busy node thus syncs once for many.
    pub fn deliver_many<D: Durable>(
        &mut self,
        now: Now,
        msgs: Vec<(NodeId, Msg)>,
        disk: &mut D,
    ) -> Result<Effects<T>, D::Error> {
        let inputs = msgs
            .into_iter()
            .map(|(from, msg)| Input::Message { from, msg });
        self.step_all(now, inputs, Vec::new(), disk)
    }

    /// Fires the earliest timer if it is due (at most one per call, so a
    /// driver can interleave other inputs); `None` when none is due.
    pub fn fire_due<D: Durable>(
        &mut self,
        now: Now,
        disk: &mut D,
    ) -> Option<Result<Effects<T>, D::Error>> {
        let (timer, _) = self
            .timers
            .iter()
            .filter(|(_, at)| **at <= now.mono_ms)
            .min_by_key(|(t, at)| (**at, **t))
            .map(|(t, at)| (*t, *at))?;
        self.timers.remove(&timer);
        Some(self.step(now, Input::Timeout(timer), Vec::new(), disk))
    }

    fn random_between(&mut self, min: u64, max: u64) -> u64 {
        // xorshift: timers only need to differ between nodes and rounds.
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        if max <= min {
            min
        } else {
            min + self.rng % (max - min + 1)
        }
    }

    /// One step of the core, carried out in the only safe order: the
    /// step's records durable; then its last snapshot and the log rewritten
    /// to match it; only then its messages and replies.
    fn step<D: Durable>(
        &mut self,
        now: Now,
        input: Input,
        callers: Vec<(RequestId, T)>,
        disk: &mut D,
    ) -> Result<Effects<T>, D::Error> {
        self.step_all(now, std::iter::once(input), callers, disk)
    }

    /// [`Shell::step`] for several inputs taken in turn by the core, whose
    /// outputs are carried out together.
    fn step_all<D: Durable>(
        &mut self,
        now: Now,
        inputs: impl Iterator<Item = Input>,
        callers: Vec<(RequestId, T)>,
        disk: &mut D,
    ) -> Result<Effects<T>, D::Error> {
        for (id, caller) in callers {
            self.pending.insert(id, (now.mono_ms, caller));
        }
        // The outputs' buffer is kept between steps: a step allocates it
        // only when it outgrows every earlier one.
        let mut out = std::mem::take(&mut self.out);
        let role_before = *self.replica.role();
        for input in inputs {
            self.replica.step(now.clock_ms, input, &mut out);
        }
        if *self.replica.role() != role_before {
            // Role changes are rare and are what an operator (or a failing
            // test's log) needs to follow an election.
            tracing::info!(
                role = ?self.replica.role(),
                ballot = ?self.replica.ballot(),
                leader = ?self.replica.leader(),
                "role changed"
            );
        }
        let mut n = 0;
        let mut sync = false;
        let mut bytes = 0;
        for o in &out {
            if let Output::Persist(r) = o {
                sync |= !matches!(r, Record::Chosen { .. } | Record::ChosenAccepted { .. });
                if n == self.encoded.len() {
                    self.encoded.push(Vec::with_capacity(96));
                }
                let mut buf = std::mem::take(&mut self.encoded[n]);
                buf.clear();
                self.encoded[n] = postcard::to_extend(r, buf).expect("records always serialize");
                bytes += self.encoded[n].len();
                n += 1;
            }
        }
        // A promise leaves out the accepted values below what the promiser
        // has learned: what it learned must be durable first, or a machine
        // crash could leave a chosen value that nobody remembers nor
        // re-proposes. And the unsynced tail stays short, so that a power
        // loss tears a few pages at most, which recovery cuts off.
        let promises = out.iter().any(|o| {
            matches!(
                o,
                Output::Send {
                    msg: Msg::Promise { .. },
                    ..
                }
            )
        });
        sync |= promises || self.unsynced_bytes + bytes > UNSYNCED_BYTES_MAX;
        if n > 0 && sync {
            out = self.send_proposals_early(out, disk);
        }
        if n > 0 {
            disk.append(&self.encoded[..n], sync)?;
        } else if sync && self.unsynced_bytes > 0 {
            disk.sync()?;
        }
        self.unsynced_bytes = if sync { 0 } else { self.unsynced_bytes + bytes };
        // A rare huge step (a snapshot's worth) does not keep its buffers.
        self.encoded.truncate(ENCODED_BUFFERS_KEPT);
        // Only the step's last snapshot is written. The rewritten log holds
        // the state after the whole step, which only the last snapshot
        // matches: with two snapshots written in turn, a crash between them
        // would pair the first snapshot with a log that starts after the
        // second, and forget every slot in between.
        let snapshot = out.iter().rev().find_map(|o| match o {
            Output::Snapshot(s) => Some(s),
            _ => None,
        });
        if let Some(snapshot) = snapshot {
            assert_eq!(
                snapshot.upto,
                self.replica.log_start(),
                "the last snapshot is where the log now starts"
            );
            disk.write_snapshot(&encode_snapshot(snapshot))?;
            let records: Vec<Vec<u8>> = self
                .replica
                .durable_records()
                .iter()
                .map(encode_record)
                .collect();
            disk.rewrite(&records)?;
            self.unsynced_bytes = 0;
        }
        let mut effects = self.spare.take().unwrap_or_default();
        for o in out.drain(..) {
            match o {
                Output::Persist(_) | Output::Snapshot(_) => {}
                Output::Send { to, msg } => effects.sends.push((to, msg)),
                Output::Reply { request, reply } => {
                    if let Some((_, caller)) = self.pending.remove(&request) {
                        effects.replies.push((caller, reply));
                    }
                }
                Output::SetTimer {
                    timer,
                    min_ms,
                    max_ms,
                } => {
                    let after = self.random_between(min_ms, max_ms);
                    self.timers.insert(timer, now.mono_ms + after);
                }
            }
        }
        self.out = out;
        self.expire(now, &mut effects);
        Ok(effects)
    }

    /// The core answers or expires every request it takes; this is the
    /// backstop that keeps the table bounded whatever happens: callers
    /// older than twice the request ttl, or past [`PENDING_MAX`], are told
    /// the outcome is unknown.
    fn expire(&mut self, now: Now, effects: &mut Effects<T>) {
        let ttl = self.replica.config().request_ttl_ms.saturating_mul(2);
        while let Some((&id, &(since, _))) = self.pending.first_key_value() {
            if self.pending.len() <= PENDING_MAX && now.mono_ms < since.saturating_add(ttl) {
                break;
            }
            let (_, caller) = self.pending.remove(&id).expect("listed");
            effects.replies.push((caller, ErrorCode::Expired.reply()));
        }
    }

    /// The status page's view.
    pub fn status(&self) -> Status {
        let r = &self.replica;
        let cfg = r.config();
        Status {
            id: r.id(),
            role: match r.role() {
                Role::Follower => "follower",
                Role::Candidate => "candidate",
                Role::Leader => "leader",
            }
            .into(),
            ballot: (r.ballot().round, r.ballot().node),
            promised: (r.promised().round, r.promised().node),
            leader: r.leader(),
            first_unchosen: r.first_unchosen(),
            applied: r.applied(),
            consensus: match cfg.mode {
                Mode::Multi => "multi".into(),
                Mode::Basic => "basic".into(),
            },
            reads: match cfg.reads {
                ReadMode::Log => "log".into(),
                ReadMode::Quorum => "quorum".into(),
                ReadMode::Lease => "lease".into(),
                ReadMode::Local => "local (UNSAFE: not linearizable)".into(),
            },
            incarnation: r.incarnation(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kv::{KvOp, KvStore};
    use crate::paxos::{Ballot, Batch, Role};

    /// A disk in memory that can "crash" before its `fail_at`-th write:
    /// what was written before it stays, the rest never happens.
    #[derive(Clone, Default)]
    struct MemDisk {
        wal: Vec<Vec<u8>>,
        snapshot: Option<Vec<u8>>,
        writes: usize,
        fail_at: Option<usize>,
    }

    impl MemDisk {
        fn write(&mut self) -> Result<(), String> {
            if self.fail_at == Some(self.writes) {
                return Err("crash".into());
            }
            self.writes += 1;
            Ok(())
        }
    }

    impl Durable for MemDisk {
        type Error = String;
        fn append(&mut self, records: &[Vec<u8>], _sync: bool) -> Result<(), String> {
            self.write()?;
            self.wal.extend(records.iter().cloned());
            Ok(())
        }
        fn sync(&mut self) -> Result<(), String> {
            Ok(())
        }
        fn write_snapshot(&mut self, snapshot: &[u8]) -> Result<(), String> {
            self.write()?;
            self.snapshot = Some(snapshot.to_vec());
            Ok(())
        }
        fn rewrite(&mut self, records: &[Vec<u8>]) -> Result<(), String> {
            self.write()?;
            self.wal = records.to_vec();
            Ok(())
        }
    }

    fn now() -> Now {
        Now {
            mono_ms: 0,
            clock_ms: 0,
        }
    }

    fn batch(i: u64) -> Batch {
        Batch::from(vec![Command {
            client: 9,
            seq: i + 1,
            op: KvOp::Set {
                key: "k".into(),
                value: i.to_string(),
            },
        }])
    }

    /// Whether the state on `disk` still knows slot `s` (in the snapshot,
    /// accepted or chosen in the log).
    fn covers(disk: &MemDisk, s: u64) -> bool {
        let (snapshot, records) =
            decode_state(disk.snapshot.as_deref(), &disk.wal).expect("decodes");
        snapshot.is_some_and(|sn| sn.upto > s)
            || records.iter().any(|r| {
                matches!(r, Record::Accepted { slot, .. } | Record::Chosen { slot, .. }
                    | Record::ChosenAccepted { slot, .. } if *slot == s)
            })
    }

    /// Regression: a step that takes a snapshot and then compacts again
    /// (here: a snapshot install, then slots it already knew chosen) must
    /// not let a crash at any point forget a slot it had accepted before.
    #[test]
    fn two_snapshots_in_one_step_leave_no_gap_after_a_crash_anywhere() {
        let mut cfg = Config::new(3, vec![1, 2, 3]);
        cfg.snapshot_every = 5;
        let leader = Ballot { round: 1, node: 1 };
        // Node 3 accepted and learned slots 5..=10 but missed 0..5.
        let mut prepared: MemDisk = MemDisk::default();
        let mut shell: Shell<()> = Shell::recover(cfg.clone(), None, None, &[], 1).expect("fresh");
        shell.start(now(), &mut prepared).expect("no crash");
        for s in 5..=10 {
            let accept = Msg::Accept {
                ballot: leader,
                slot: s,
                batch: batch(s),
                chosen_upto: 0,
            };
            shell
                .deliver(now(), 1, accept, &mut prepared)
                .expect("no crash");
            let chosen = Msg::Chosen {
                slot: s,
                batch: batch(s),
            };
            shell
                .deliver(now(), 1, chosen, &mut prepared)
                .expect("no crash");
        }
        assert_eq!(shell.replica().applied(), 0, "a gap below 5");
        let install = Msg::InstallSnapshot {
            snapshot: Snapshot {
                upto: 5,
                store: KvStore::default(),
            },
        };
        for fail_at in 0..8 {
            let mut disk = MemDisk {
                fail_at: Some(prepared.writes + fail_at),
                ..prepared.clone()
            };
            let mut again: Shell<()> =
                Shell::recover(cfg.clone(), None, None, &prepared.wal, 1).expect("recovers");
            let crashed = again.deliver(now(), 1, install.clone(), &mut disk).is_err();
            if !crashed {
                assert_eq!(again.replica().applied(), 11, "installed and caught up");
            }
            for s in 5..=10 {
                assert!(
                    covers(&disk, s),
                    "crash before write {fail_at}: slot {s} forgotten"
                );
            }
            let (snapshot, records) =
                decode_state(disk.snapshot.as_deref(), &disk.wal).expect("decodes");
            let back = Replica::recover(cfg.clone(), snapshot, &records);
            back.check_invariants().expect("recovers whole");
        }
    }

    #[test]
    fn ids_carry_the_incarnation_and_anonymous_calls_get_unique_seqs() {
        let cfg = Config::new(1, vec![1, 2, 3]);
        let mut disk = MemDisk::default();
        let mut first: Shell<u32> = Shell::recover(cfg.clone(), None, None, &[], 1).expect("fresh");
        first.start(now(), &mut disk).expect("ok");
        assert_eq!(first.replica().incarnation(), 1);
        let get = Command {
            client: 0,
            seq: 0,
            op: KvOp::Get { key: "k".into() },
        };
        // No leader: answered at once, definitely refused.
        let fx = first
            .submit(now(), vec![(get.clone(), 7)], &mut disk)
            .expect("ok");
        assert_eq!(fx.replies, vec![(7, ErrorCode::NoLeader.reply())]);
        let mut second: Shell<u32> =
            Shell::recover(cfg, None, None, &disk.wal, 1).expect("recovers");
        second.start(now(), &mut disk).expect("ok");
        assert_eq!(second.replica().incarnation(), 2, "a restart is a new life");
        assert!(
            second.next_id > first.next_id,
            "ids never repeat across lives"
        );
    }

    /// A disk that knows what is synced, and logs each write and early
    /// message in order.
    #[derive(Default)]
    struct SyncDisk {
        wal: Vec<Vec<u8>>,
        durable: usize,
        log: Vec<String>,
    }

    impl Durable for SyncDisk {
        type Error = String;
        fn append(&mut self, records: &[Vec<u8>], sync: bool) -> Result<(), String> {
            self.wal.extend(records.iter().cloned());
            if sync {
                self.durable = self.wal.len();
            }
            self.log.push(format!("append sync={sync}"));
            Ok(())
        }
        fn sync(&mut self) -> Result<(), String> {
            self.durable = self.wal.len();
            self.log.push("sync".into());
            Ok(())
        }
        fn send_early(&mut self, to: NodeId, msg: Msg) -> Option<(NodeId, Msg)> {
            let kind = format!("{msg:?}");
            let kind = kind.split([' ', '{']).next().unwrap_or("").to_string();
            self.log.push(format!("early {kind} to {to}"));
            None
        }
        fn write_snapshot(&mut self, _: &[u8]) -> Result<(), String> {
            Ok(())
        }
        fn rewrite(&mut self, records: &[Vec<u8>]) -> Result<(), String> {
            self.wal = records.to_vec();
            self.durable = self.wal.len();
            Ok(())
        }
    }

    #[test]
    fn learned_values_wait_for_a_sync_but_never_behind_a_promise() {
        let cfg = Config::new(3, vec![1, 2, 3]);
        let b = Ballot { round: 1, node: 1 };
        let mut disk = SyncDisk::default();
        let mut shell: Shell<()> = Shell::recover(cfg, None, None, &[], 1).expect("fresh");
        shell.start(now(), &mut disk).expect("ok");
        let prepare = Msg::Prepare {
            ballot: b,
            from: 0,
            single: false,
        };
        shell
            .deliver(now(), 1, prepare.clone(), &mut disk)
            .expect("ok");
        let accept = Msg::Accept {
            ballot: b,
            slot: 0,
            batch: batch(0),
            chosen_upto: 0,
        };
        shell.deliver(now(), 1, accept, &mut disk).expect("ok");
        assert_eq!(
            disk.durable,
            disk.wal.len(),
            "promises and accepts are synced"
        );
        let chosen = Msg::Chosen {
            slot: 0,
            batch: batch(0),
        };
        shell.deliver(now(), 1, chosen, &mut disk).expect("ok");
        assert_eq!(shell.replica().applied(), 1);
        assert!(
            disk.durable < disk.wal.len(),
            "what was learned is written, not synced: {:?}",
            disk.log
        );
        // A duplicated Prepare: its promise writes nothing new, but it tells
        // the candidate that slot 0 is chosen (and leaves its value out), so
        // what was learned must be durable before it leaves.
        let fx = shell.deliver(now(), 1, prepare, &mut disk).expect("ok");
        let promise = fx.sends.iter().find_map(|(_, m)| match m {
            Msg::Promise { chosen_upto, .. } => Some(*chosen_upto),
            _ => None,
        });
        assert_eq!(promise, Some(1), "{:?}", fx.sends);
        assert_eq!(disk.durable, disk.wal.len(), "{:?}", disk.log);
    }

    #[test]
    fn a_leader_sends_its_accepts_before_its_own_write() {
        let cfg = Config::new(1, vec![1, 2, 3]);
        let mut disk = SyncDisk::default();
        let mut shell: Shell<u32> = Shell::recover(cfg, None, None, &[], 1).expect("fresh");
        shell.start(now(), &mut disk).expect("ok");
        let late = Now {
            mono_ms: 60_000,
            clock_ms: 60_000,
        };
        while let Some(r) = shell.fire_due(late, &mut disk) {
            r.expect("ok");
            if *shell.replica().role() != Role::Follower {
                break;
            }
        }
        let ballot = shell.replica().ballot();
        assert!(
            disk.log.iter().any(|l| l.starts_with("early Prepare")),
            "the candidate's prepares leave before its own promise is synced: {:?}",
            disk.log
        );
        let promise = Msg::Promise {
            ballot,
            from: 0,
            accepted: vec![],
            chosen_upto: 0,
        };
        shell.deliver(late, 2, promise, &mut disk).expect("ok");
        assert_eq!(shell.replica().role(), &Role::Leader);
        disk.log.clear();
        let set = Command {
            client: 9,
            seq: 1,
            op: KvOp::Set {
                key: "k".into(),
                value: "v".into(),
            },
        };
        let fx = shell.submit(late, vec![(set, 7)], &mut disk).expect("ok");
        assert!(
            !fx.sends
                .iter()
                .any(|(_, m)| matches!(m, Msg::Accept { .. })),
            "no Accept waits for the write"
        );
        let first_append = disk
            .log
            .iter()
            .position(|l| l.starts_with("append"))
            .expect("the leader's own accept is written");
        let accepts: Vec<usize> = disk
            .log
            .iter()
            .enumerate()
            .filter(|(_, l)| l.starts_with("early Accept"))
            .map(|(i, _)| i)
            .collect();
        assert_eq!(accepts.len(), 2, "one to each peer: {:?}", disk.log);
        assert!(accepts.iter().all(|i| *i < first_append), "{:?}", disk.log);
        assert_eq!(disk.log[first_append], "append sync=true");
    }
}
